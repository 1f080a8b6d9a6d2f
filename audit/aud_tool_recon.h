/*
 * aud_tool_recon.h - what `warden-audit reconcile` (aud_tool_reconcile.c: certificates,
 * log matching) shares with its policy re-check (aud_tool_recheck.c).  Tool-internal.
 */
#ifndef WARDEN_AUD_TOOL_RECON_H
#define WARDEN_AUD_TOOL_RECON_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "aud_tool.h"
#include "policy.h"

#define RECON_MAX_CERTS 10000000u
#define RECON_MAX_KEYS 64u
#define RECON_MAX_LABEL 128u
#define RECON_MAX_CAS 64u       /* --ca options */
#define RECON_MAX_REFUSED 1024u /* RECOVERY refused ranges kept */
#define RECON_PREHASH_ALG_MAX 16u
#define RECON_MAX_REVS 100000u  /* CRLs plus OCSP responses given */

struct recon_cert {
	char *where;           /* file[#n] */
	X509 *x;
	uint8_t *der;          /* the certificate as read (OpenSSL's copy) */
	size_t tbs_off, tbs_len;
	uint8_t tbs_sha256[AUD_HASH_LEN];
	uint8_t digest[EVP_MAX_MD_SIZE]; /* TBS under the signature's hash */
	unsigned digest_len;
	uint64_t seq;          /* matching allowed record, UINT64_MAX if none */
	bool matched, prehashed, refused_seen;
	char key[RECON_MAX_LABEL];
	/* From the matching record: what the enclave was asked, and when. */
	int64_t time_ns;
	bool has_mech;
	uint64_t mech;
	bool has_pss;
	uint64_t pss_hash, pss_mgf, pss_salt_len;
	char prehash_alg[RECON_PREHASH_ALG_MAX];
};

struct recon_key {
	char label[RECON_MAX_LABEL];
	EVP_PKEY *pub;      /* from key_spki */
	X509 *ca;           /* from ca_cert, when the log records it */
};

/* A CRL or an OCSP response given with --crls / --ocsp (aud_tool_revoc.c). */
struct recon_rev {
	char *where;           /* file[#n] */
	uint32_t kind;         /* POL_KIND_TBS_CRL or POL_KIND_OCSP_RESPONSE */
	uint8_t *der;          /* the CRL / OCSPResponse / BasicOCSPResponse as read */
	size_t der_len;
	size_t tbs_off, tbs_len; /* TBSCertList / ResponseData */
	X509_CRL *crl;         /* CRLs: OpenSSL's view (issuer, number, signature) */
	uint8_t tbs_sha256[AUD_HASH_LEN];
	uint8_t tbs_sha384[48], tbs_sha512[64];
	uint8_t digest[EVP_MAX_MD_SIZE]; /* the matching record's prehash */
	unsigned digest_len;
	uint64_t seq;          /* matching allowed record, UINT64_MAX if none */
	bool matched, prehashed, refused_seen;
	char key[RECON_MAX_LABEL];
	int64_t time_ns;
	bool has_mech;
	uint64_t mech;
	bool has_pss;
	uint64_t pss_hash, pss_mgf, pss_salt_len;
	char prehash_alg[RECON_PREHASH_ALG_MAX];
};

struct recon {
	struct recon_cert *c;
	size_t num, cap;
	struct recon_rev *rv;
	size_t num_rv, cap_rv;
	struct recon_key keys[RECON_MAX_KEYS];
	size_t num_keys;
	struct {
		uint64_t from, to;
	} refused[RECON_MAX_REFUSED];
	size_t num_refused;
	X509 *cas[RECON_MAX_CAS]; /* --ca */
	size_t num_cas;
};

/* What the policy engine knows about a key, from its CA certificate. */
struct recon_ca_view {
	uint8_t *subject, *spki;
	struct pol_ca_info info;
};
bool recon_ca_view_make(X509 *ca, const char *label, struct recon_ca_view *v);
void recon_ca_view_free(struct recon_ca_view *v);
/* The policy file's bytes (free them), NULL (message printed) if unreadable or too big. */
char *recon_read_policy(const char *path, size_t *len);
/* The hash of a record's prehash_alg ("" : by digest length). */
enum pol_hash recon_hash_by_name(const char *name, unsigned digest_len);
/* The full-data mechanism for a raw one and a digest hash; 0 if none. */
unsigned long recon_full_of_raw(unsigned long raw, enum pol_hash h);
bool recon_is_raw(unsigned long m);
/* The full-data mechanism a client would pick for a signature algorithm; 0 if none. */
unsigned long recon_mech_of_alg(const struct pol_algid *a);
/* Whether a RECOVERY record of the log lists seq as refused to its caller. */
bool recon_seq_refused(const struct recon *r, uint64_t seq);

/* --crls / --ocsp (aud_tool_revoc.c).  load: a file (PEM or DER CRLs; DER OCSPResponse
 * or BasicOCSPResponse) or a directory of them; -1 (message printed) on an unreadable
 * one.  match: one SIGN record (allowed or not) against every CRL / response.  report:
 * OK / UNSEEN / KEY-MISMATCH lines, the number of failures.  recheck: the policy
 * re-check against the revocation state replayed from the log (second pass over the
 * log, opts as for the first). */
int recon_revs_load(struct recon *r, const char *path, uint32_t kind);
void recon_revs_match(struct recon *r, const struct aud_rec *rec, bool allowed,
		      const struct aud_field *h, const struct aud_field *pre,
		      const struct aud_field *key);
size_t recon_revs_report(struct recon *r);
int recon_revs_recheck(struct recon *r, const struct aud_scan_opts *o, const char *policy_path,
		       size_t *out_bad);
void recon_revs_free(struct recon *r);
/* " crl FILE number HEX issuer TEXT" / " ocsp FILE producedAt T responses N (...)". */
void recon_print_rev(const struct recon_rev *v);

/* Evaluates every matched certificate's TBS against the policy file in log order (see
 * aud_tool_recheck.c), printing a REFUSED or UNCHECKED line for each it cannot vouch
 * for; *out_bad gets their number.  AUD_EXIT_OK, or AUD_EXIT_USAGE when the policy file
 * cannot be read or loaded (message printed). */
int recon_recheck(struct recon *r, const char *policy_path, size_t *out_bad);
/* " file serial HEX subject TEXT" for a report line. */
void recon_print_cert(const struct recon_cert *c);
/* The key entry of a label, or NULL. */
const struct recon_key *recon_key_find(const struct recon *r, const char *label);

#endif
