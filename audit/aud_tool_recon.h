/*
 * aud_tool_recon.h - what `warden-audit reconcile` (aud_tool_reconcile.c: certificates,
 * log matching) shares with its policy re-check (aud_tool_recheck.c).  Tool-internal.
 */
#ifndef WARDEN_AUD_TOOL_RECON_H
#define WARDEN_AUD_TOOL_RECON_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "aud_tool.h"

#define RECON_MAX_CERTS 10000000u
#define RECON_MAX_KEYS 64u
#define RECON_MAX_LABEL 128u
#define RECON_MAX_CAS 64u       /* --ca options */
#define RECON_MAX_REFUSED 1024u /* RECOVERY refused ranges kept */
#define RECON_PREHASH_ALG_MAX 16u

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

struct recon {
	struct recon_cert *c;
	size_t num, cap;
	struct recon_key keys[RECON_MAX_KEYS];
	size_t num_keys;
	struct {
		uint64_t from, to;
	} refused[RECON_MAX_REFUSED];
	size_t num_refused;
	X509 *cas[RECON_MAX_CAS]; /* --ca */
	size_t num_cas;
};

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
