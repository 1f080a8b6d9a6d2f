/*
 * poltest.h - shared fixture of the policy evaluation tests: a CA (key, certificate and
 * the struct pol_ca_info the enclave would build), leaves built with OpenSSL, and a
 * one-call evaluation against a policy text.
 */
#ifndef WARDEN_TESTS_POLICY_POLTEST_H
#define WARDEN_TESTS_POLICY_POLTEST_H

#include <check.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "tests/policy/testutil.h"

#define PT_NOW_S (1735689600LL + 60) /* a minute after the test certificates' notBefore */
#define PT_SERIAL 0x7a3b9c1d2e4f5061L

struct pt_ca {
	EVP_PKEY *key;
	X509 *cert;
	uint8_t *subject, *spki;
	size_t subject_len, spki_len;
	uint8_t ski[64];
	size_t ski_len;
	struct pol_ca_info info;
};

static inline void pt_ca_init(struct pt_ca *c, const char *kind)
{
	memset(c, 0, sizeof(*c));
	c->key = tu_key(kind);
	c->cert = tu_ca(c->key);
	int n = i2d_X509_NAME(X509_get_subject_name(c->cert), &c->subject);
	ck_assert(n > 0);
	c->subject_len = (size_t)n;
	n = i2d_PUBKEY(c->key, &c->spki);
	ck_assert(n > 0);
	c->spki_len = (size_t)n;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(c->cert);
	ck_assert(ski != NULL);
	c->ski_len = (size_t)ASN1_STRING_length(ski);
	memcpy(c->ski, ASN1_STRING_get0_data(ski), c->ski_len);
	c->info.label = "ca";
	int id = EVP_PKEY_get_base_id(c->key);
	c->info.key_type = id == EVP_PKEY_RSA ? POL_KEY_RSA : id == EVP_PKEY_EC ? POL_KEY_EC
							   : POL_KEY_ED25519;
	c->info.curve = strcmp(kind, "p256") == 0 ? POL_CURVE_P256
			: strcmp(kind, "p384") == 0 ? POL_CURVE_P384 : POL_CURVE_NONE;
	c->info.rsa_bits = id == EVP_PKEY_RSA ? (uint32_t)EVP_PKEY_get_bits(c->key) : 0;
	c->info.spki_der = c->spki;
	c->info.spki_len = c->spki_len;
	c->info.has_cert = true;
	c->info.subject_der = c->subject;
	c->info.subject_len = c->subject_len;
	c->info.ski = c->ski;
	c->info.ski_len = c->ski_len;
	c->info.not_after = tu_time(X509_get0_notAfter(c->cert));
}

static inline void pt_ca_free(struct pt_ca *c)
{
	OPENSSL_free(c->subject);
	OPENSSL_free(c->spki);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

/* A leaf with the usual extensions: bc CA:FALSE, KU digitalSignature, EKU serverAuth,
 * AKI keyid, and san (OpenSSL syntax, NULL for none). */
static inline X509 *pt_leaf(struct pt_ca *c, EVP_PKEY *key, const char *cn, const char *san)
{
	X509 *x = tu_leaf(c->cert, key, cn, PT_SERIAL);
	ck_assert(tu_ext_conf(x, c->cert, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert(tu_ext_conf(x, c->cert, NID_key_usage, "critical,digitalSignature"));
	ck_assert(tu_ext_conf(x, c->cert, NID_ext_key_usage, "serverAuth"));
	ck_assert(tu_ext_conf(x, c->cert, NID_authority_key_identifier, "keyid:always"));
	if (san != NULL)
		ck_assert_msg(tu_ext_conf(x, c->cert, NID_subject_alt_name, san), "SAN %s", san);
	return x;
}

static inline struct pol_policy *pt_policy(const char *json)
{
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	ck_assert_msg(pol_policy_load(json, strlen(json), &p, &err), "policy refused: %s: %s",
		      err.path, err.msg);
	return p;
}

/* Signs x with the CA (SHA-256), evaluates its TBS with mech against pol and st. */
static inline enum pol_reason pt_eval_on(struct pol_policy *pol, struct pol_state *st,
					 struct pt_ca *c, X509 *x, unsigned long mech,
					 struct pol_decision *d)
{
	size_t len;
	int id = EVP_PKEY_get_base_id(c->key);
	uint8_t *tbs = tu_tbs(x, c->key, id == EVP_PKEY_ED25519 ? NULL : EVP_sha256(), -1, &len);
	struct pol_request req;
	memset(&req, 0, sizeof(req));
	req.mechanism = mech;
	req.data = tbs;
	req.len = len;
	req.peer_uid = 1000;
	req.peer_pid = 42;
	ck_assert(pol_evaluate(pol, st, &c->info, &req, PT_NOW_S * 1000000000LL, d));
	OPENSSL_free(tbs); /* the facts' views die here: tests read only the summary */
	memset(&d->facts, 0, sizeof(d->facts));
	ck_assert_uint_eq(d->allowed, d->reason == POL_R_OK || d->reason == POL_R_PREHASHED_AUDIT);
	ck_assert(d->sentence[0] != '\0');
	return d->reason;
}

static inline enum pol_reason pt_eval(const char *json, struct pt_ca *c, X509 *x,
				      struct pol_decision *d)
{
	struct pol_policy *pol = pt_policy(json);
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	enum pol_reason r = pt_eval_on(pol, st, c, x, POL_CKM_SHA256_RSA_PKCS, d);
	pol_state_free(st);
	pol_policy_free(pol);
	return r;
}

#endif
