/*
 * aud_tool_recon.h - what `warden-audit reconcile` (aud_tool_reconcile.c: certificates,
 * log matching) shares with its policy re-checks (aud_tool_recheck.c: certificates and
 * what both re-checks share; aud_tool_revcheck.c: CRLs and OCSP responses).
 * Tool-internal.
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
/* The CA certificate to judge a signature by key label against: a --ca with the key the
 * log records for the label and, when issuer is not NULL, whose subject is issuer; else
 * the log's ca_cert for the label.  With no issuer (an OCSP response) and no key in the
 * log, no --ca is taken: the key must decide. */
X509 *recon_pick_ca(const struct recon *r, const char *label, const X509_NAME *issuer);
/* The full-data mechanism a client would pick for a signature algorithm; 0 if none. */
unsigned long recon_mech_of_alg(const struct pol_algid *a);

/* The policy a re-check judges by: the file loaded, a fresh state, a decision buffer.
 * open: AUD_EXIT_OK, or AUD_EXIT_USAGE (message printed; close it still).  close: with
 * a zeroed or opened one. */
struct recon_judge {
	struct pol_policy *pol;
	struct pol_psl *psl;
	struct pol_state *st;
	struct pol_decision *d;
	char *json;
};
int recon_judge_open(struct recon_judge *j, const char *policy_path);
void recon_judge_close(struct recon_judge *j);

/* What the matching SIGN record asked, and when: struct recon_cert and struct recon_rev
 * note it in fields of the same names, and RECON_ASKED takes it from either. */
struct recon_asked {
	uint64_t seq;
	const char *key;
	int64_t time_ns;
	bool prehashed;
	const uint8_t *digest;
	unsigned digest_len;
	const char *prehash_alg;
	bool has_pss;
	uint64_t pss_hash, pss_mgf, pss_salt_len;
};
#define RECON_ASKED(x)                                                                     \
	((struct recon_asked){.seq = (x)->seq, .key = (x)->key, .time_ns = (x)->time_ns,       \
			      .prehashed = (x)->prehashed, .digest = (x)->digest,              \
			      .digest_len = (x)->digest_len, .prehash_alg = (x)->prehash_alg,  \
			      .has_pss = (x)->has_pss, .pss_hash = (x)->pss_hash,              \
			      .pss_mgf = (x)->pss_mgf, .pss_salt_len = (x)->pss_salt_len})

/* What a re-check judges: a certificate or a CRL / OCSP response (one of cert, rev), its
 * TBS, and what its record asked. */
struct recon_subject {
	const struct recon_cert *cert;
	const struct recon_rev *rev;
	const uint8_t *tbs;
	size_t tbs_len;
	struct recon_asked a;
};
/* "TAG file ...: record N key K: " then what (d NULL), the sentence (d allowed), or
 * "what: REASON (n): sentence". */
void recon_print_line(const char *tag, const struct recon_subject *s, const char *what,
		      const struct pol_decision *d);
/* The CA facts for s (recon_pick_ca with issuer) into v: false, with an UNCHECKED line,
 * when there is no CA certificate or its facts cannot be read.  Free v either way. */
bool recon_subject_ca(const struct recon *r, const struct recon_subject *s,
		      const X509_NAME *issuer, struct recon_ca_view *v);
/* Evaluates s under j at its record's time with the CA facts cv, req holding the
 * mechanism (the rest zero): a prehashed record first as asked (the raw digest), then for
 * its content (the TBS under the full-data mechanism of the same hash).  PSS parameters
 * are the record's, else those of tbs_sig when it is RSASSA-PSS (tbs_sig may be NULL).
 * Prints a REFUSED or UNCHECKED line; true when the content is allowed (j->d holds the
 * decision; nothing is committed). */
bool recon_judge_subject(const struct recon_judge *j, const struct recon_ca_view *cv,
			 const struct recon_subject *s, struct pol_request *req,
			 const struct pol_algid *tbs_sig);

/* A matched certificate or CRL / response by its record's seq: sorted, the re-check's
 * order (the log's; ties by index). */
struct recon_ord {
	uint64_t seq;
	size_t i;
};
void recon_ord_sort(struct recon_ord *o, size_t n);
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
