/*
 * revtest.h - shared fixture of the revocation tests (test_policy_crl.c, test_policy_ocsp.c,
 * test_policy_revstate.c, bench_policy_rev.c): CRLs built with OpenSSL's X509_CRL API and
 * OCSP ResponseData with OCSP_BASICRESP (signed by a P-256 test CA, then the TBS taken),
 * issuance recorded in a state the way audit replay would, and a journal of every
 * committed decision so a fresh state can replay it.
 */
#ifndef WARDEN_TESTS_POLICY_REVTEST_H
#define WARDEN_TESTS_POLICY_REVTEST_H

#include <openssl/ocsp.h>

#include "tests/policy/poltest.h"

#define RT_NOW PT_NOW_S
#define RT_NS(s) ((int64_t)(s) * 1000000000LL)
#define RT_DAY 86400LL
#define RT_MAX_JOURNAL 64

struct rt_entry {
	long serial;
	int64_t date;
	int reason;                /* -1: no reasonCode */
};

struct rt_crl {
	long number;               /* < 0: no cRLNumber */
	int64_t this_update, next_update; /* next 0: none */
	const char *idp;           /* OpenSSL v3 conf, e.g. "critical,fullname:URI:http://x/1.crl" */
	long delta_base;           /* >= 0: a delta CRL on that base */
};

static inline struct rt_crl rt_crl_default(long number)
{
	struct rt_crl c = { number, RT_NOW, RT_NOW + 7 * RT_DAY, NULL, -1 };
	return c;
}

/* TBSCertList DER (OPENSSL_free it). */
static inline uint8_t *rt_crl_tbs(struct pt_ca *ca, const struct rt_entry *e, size_t n,
				  const struct rt_crl *o, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)o->this_update);
	uint8_t *der = NULL;
	ck_assert(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
	ck_assert(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)));
	ck_assert(X509_CRL_set1_lastUpdate(crl, t));
	if (o->next_update != 0) {
		ck_assert(ASN1_TIME_set(t, (time_t)o->next_update) != NULL);
		ck_assert(X509_CRL_set1_nextUpdate(crl, t));
	}
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ck_assert(ASN1_INTEGER_set(sn, e[i].serial));
		ck_assert(X509_REVOKED_set_serialNumber(r, sn));
		ck_assert(ASN1_TIME_set(t, (time_t)e[i].date) != NULL);
		ck_assert(X509_REVOKED_set_revocationDate(r, t));
		if (e[i].reason >= 0) {
			ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
			ck_assert(ASN1_ENUMERATED_set(reason, e[i].reason));
			ck_assert(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0));
			ASN1_ENUMERATED_free(reason);
		}
		ck_assert(X509_CRL_add0_revoked(crl, r));
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	if (o->number >= 0) {
		ASN1_INTEGER *num = ASN1_INTEGER_new();
		ck_assert(ASN1_INTEGER_set(num, o->number));
		ck_assert(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0));
		ASN1_INTEGER_free(num);
	}
	if (o->delta_base >= 0) {
		ASN1_INTEGER *num = ASN1_INTEGER_new();
		ck_assert(ASN1_INTEGER_set(num, o->delta_base));
		ck_assert(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, 0));
		ASN1_INTEGER_free(num);
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	X509_EXTENSION *x = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
						"keyid:always");
	ck_assert(x != NULL && X509_CRL_add_ext(crl, x, -1));
	X509_EXTENSION_free(x);
	if (o->idp != NULL) {
		x = X509V3_EXT_conf_nid(NULL, &ctx, NID_issuing_distribution_point, o->idp);
		ck_assert_msg(x != NULL, "IDP %s", o->idp);
		ck_assert(X509_CRL_add_ext(crl, x, -1));
		X509_EXTENSION_free(x);
	}
	ck_assert(X509_CRL_sort(crl));
	ck_assert(X509_CRL_sign(crl, ca->key, EVP_sha256()) > 0);
	int k = i2d_re_X509_CRL_tbs(crl, &der);
	ck_assert_int_gt(k, 0);
	*len = (size_t)k;
	X509_CRL_free(crl);
	return der;
}

struct rt_single {
	long serial;
	int status;                /* V_OCSP_CERTSTATUS_* */
	int64_t rev_time;
	int reason;                /* -1: none */
	int64_t this_update, next_update; /* next 0: none */
	const EVP_MD *md;          /* CertID hash; NULL: SHA-1 */
};

static inline struct rt_single rt_single(long serial, int status, int64_t rev_time, int reason)
{
	struct rt_single s = { serial, status, rev_time, reason, RT_NOW, RT_NOW + RT_DAY, NULL };
	return s;
}

/* OCSP ResponseData DER signed by `signer` (key and certificate), CertIDs naming
 * `issuer`; by_key selects the ResponderID form; producedAt is set to produced_at. */
static inline uint8_t *rt_ocsp_rd(struct pt_ca *issuer, X509 *signer_cert, EVP_PKEY *signer_key,
				  const struct rt_single *s, size_t n, int by_key, int nonce,
				  int64_t produced_at, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	uint8_t *der = NULL;
	for (size_t i = 0; i < n; i++) {
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ck_assert(ASN1_INTEGER_set(sn, s[i].serial));
		OCSP_CERTID *id = OCSP_cert_id_new(s[i].md != NULL ? s[i].md : EVP_sha1(),
						   X509_get_subject_name(issuer->cert),
						   X509_get0_pubkey_bitstr(issuer->cert), sn);
		ck_assert(id != NULL);
		ASN1_TIME *tu = ASN1_GENERALIZEDTIME_set(NULL, (time_t)s[i].this_update);
		ASN1_TIME *nu = s[i].next_update ? ASN1_GENERALIZEDTIME_set(NULL,
									   (time_t)s[i].next_update)
						 : NULL;
		ASN1_TIME *rt = ASN1_GENERALIZEDTIME_set(NULL, (time_t)s[i].rev_time);
		ck_assert(OCSP_basic_add1_status(bs, id, s[i].status, s[i].reason, rt, tu, nu) != NULL);
		ASN1_TIME_free(tu);
		ASN1_TIME_free(nu);
		ASN1_TIME_free(rt);
		OCSP_CERTID_free(id);
		ASN1_INTEGER_free(sn);
	}
	if (nonce)
		ck_assert(OCSP_basic_add1_nonce(bs, NULL, 16));
	ck_assert(OCSP_basic_sign(bs, signer_cert, signer_key, EVP_sha256(), NULL,
				  OCSP_NOCERTS | (by_key ? OCSP_RESPID_KEY : 0)));
	ASN1_GENERALIZEDTIME *pa = (ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(bs);
	ck_assert(ASN1_GENERALIZEDTIME_set(pa, (time_t)produced_at) != NULL);
	int k = i2d_OCSP_RESPDATA((OCSP_RESPDATA *)OCSP_resp_get0_respdata(bs), &der);
	ck_assert_int_gt(k, 0);
	*len = (size_t)k;
	OCSP_BASICRESP_free(bs);
	return der;
}

static inline uint8_t *rt_ocsp(struct pt_ca *ca, const struct rt_single *s, size_t n, size_t *len)
{
	return rt_ocsp_rd(ca, ca->cert, ca->key, s, n, 0, 0, RT_NOW, len);
}

static inline size_t rt_serial(long v, uint8_t out[POL_RFC_SERIAL_MAX])
{
	ASN1_INTEGER *a = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	ck_assert(ASN1_INTEGER_set(a, v));
	int k = i2d_ASN1_INTEGER(a, &der);
	ck_assert(k > 2 && der[1] < 0x80);
	memcpy(out, der + 2, (size_t)k - 2);
	OPENSSL_free(der);
	ASN1_INTEGER_free(a);
	return (size_t)k - 2;
}

/* Every summary (with its full revocation list) committed, for replay. */
struct rt_journal {
	size_t num;
	struct pol_summary sum[RT_MAX_JOURNAL];
	struct pol_revocation *revs[RT_MAX_JOURNAL];
};

static inline void rt_journal_free(struct rt_journal *j)
{
	for (size_t i = 0; i < j->num; i++)
		free(j->revs[i]);
	j->num = 0;
}

static inline void rt_journal_add(struct rt_journal *j, const struct pol_decision *d,
				  const struct pol_state *st)
{
	struct pol_rev_iter it;
	ck_assert(j->num < RT_MAX_JOURNAL);
	j->sum[j->num] = d->summary;
	j->revs[j->num] = calloc(d->summary.num_revocations + 1, sizeof(struct pol_revocation));
	ck_assert(j->revs[j->num] != NULL);
	size_t n = 0;
	pol_revocations_begin(&it, d, st);
	while (pol_revocations_next(&it, &j->revs[j->num][n]))
		n++;
	ck_assert_uint_eq(n, d->summary.allowed ? d->summary.num_revocations : 0);
	/* the wire form round-trips */
	for (size_t i = 0; i < n; i++) {
		uint8_t w[POL_REVOCATION_WIRE_MAX];
		struct pol_revocation back;
		size_t wl = pol_revocation_encode(&j->revs[j->num][i], w);
		ck_assert(pol_revocation_decode(w, wl, &back));
		ck_assert(memcmp(&back, &j->revs[j->num][i], sizeof(back)) == 0);
	}
	j->num++;
}

/* Records an issued certificate (serial, notAfter) the way replay of its SIGN record does. */
static inline void rt_issue(struct pol_state *st, const char *label, long serial, int64_t not_after,
			    struct rt_journal *j)
{
	struct pol_summary *s = calloc(1, sizeof(*s));
	ck_assert(s != NULL);
	s->kind = POL_KIND_TBS_CERT;
	s->allowed = true;
	s->time_ns = RT_NS(RT_NOW - 3600);
	snprintf(s->key_label, sizeof(s->key_label), "%s", label);
	s->serial_len = (uint32_t)rt_serial(serial, s->serial);
	s->not_after = not_after;
	ck_assert(pol_state_apply(st, s));
	if (j != NULL) {
		ck_assert(j->num < RT_MAX_JOURNAL);
		j->sum[j->num] = *s;
		j->revs[j->num] = NULL;
		j->num++;
	}
	free(s);
}

/* Evaluates data with key ca at now_s; commits (and journals) when allowed and j given. */
static inline enum pol_reason rt_eval(const struct pol_policy *pol, struct pol_state *st,
				      struct pt_ca *ca, const uint8_t *data, size_t len,
				      int64_t now_s, struct pol_decision *d, struct rt_journal *j)
{
	struct pol_request req;
	memset(&req, 0, sizeof(req));
	req.mechanism = POL_CKM_ECDSA_SHA256;
	req.data = data;
	req.len = len;
	ck_assert(pol_evaluate(pol, st, &ca->info, &req, RT_NS(now_s), d));
	ck_assert(d->sentence[0] != '\0');
	ck_assert_uint_eq(d->allowed, d->reason == POL_R_OK);
	if (d->allowed && j != NULL) {
		rt_journal_add(j, d, st);
		ck_assert(pol_state_commit(st, d));
	}
	return d->reason;
}

/* Replays a journal into a fresh state. */
static inline struct pol_state *rt_replay(const struct rt_journal *j)
{
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	for (size_t i = 0; i < j->num; i++) {
		if (j->revs[i] == NULL || j->sum[i].num_revocations <= POL_SUMMARY_MAX_REVOCATIONS)
			ck_assert(pol_state_apply(st, &j->sum[i]));
		else
			ck_assert(pol_state_apply_revocations(st, &j->sum[i], j->revs[i],
							      j->sum[i].num_revocations));
	}
	return st;
}

#define RT_POLICY "{\"version\":1,\"profiles\":{}}"

#endif
