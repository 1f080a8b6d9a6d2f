/*
 * test_audit_reconcile_rev.c - `warden-audit show --revocations` and `reconcile --crls /
 * --ocsp [--policy]`, end to end: CRLs and OCSP responses built with OpenSSL by a test CA
 * (tests/policy/revtest.h) and signed here, a log written through the audit library with
 * SIGN records as the enclave writes them (pol_summary, revocation fields), and the real
 * warden-audit binary (AUD_TEST_TOOL) run on them.
 */
#include <openssl/pem.h>

#include "test_audit_tool.h"
#include "tests/policy/revtest.h"

#define CKM_ECDSA_SHA256_ 0x1044u
#define OUT_MAX (64u * 1024u)
#define SER_A 0x1001L
#define SER_B 0x1002L

static struct pt_ca ca;
static struct pol_policy *pol;
static struct pol_state *st;
static struct pol_decision d;
static char *dir, logdir[256], crldir[256], ocspdir[256], policy[256], outpath[256];
static struct aud_log *log_;
static char out[OUT_MAX];

static void put_len(uint8_t *o, size_t *n, size_t len)
{
	if (len < 0x80) {
		o[(*n)++] = (uint8_t)len;
	} else if (len < 0x100) {
		o[(*n)++] = 0x81;
		o[(*n)++] = (uint8_t)len;
	} else {
		ck_assert_uint_lt(len, 0x10000);
		o[(*n)++] = 0x82;
		o[(*n)++] = (uint8_t)(len >> 8);
		o[(*n)++] = (uint8_t)len;
	}
}

/* SEQUENCE { tbs, ecdsa-with-SHA256, BIT STRING sig }: a CertificateList or a
 * BasicOCSPResponse, signed with key.  malloc'd. */
static uint8_t *wrap_signed(EVP_PKEY *key, const uint8_t *tbs, size_t tbs_len, size_t *len)
{
	static const uint8_t alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
				      0xce, 0x3d, 0x04, 0x03, 0x02};
	uint8_t sig[256], hdr[8], bit[8];
	size_t sl = sizeof sig, hn = 0, bn = 0;
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	ck_assert(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) == 1);
	ck_assert(EVP_DigestSign(m, sig, &sl, tbs, tbs_len) == 1);
	EVP_MD_CTX_free(m);
	bit[bn++] = 0x03;
	put_len(bit, &bn, sl + 1);
	bit[bn++] = 0;
	size_t body = tbs_len + sizeof alg + bn + sl;
	hdr[hn++] = 0x30;
	put_len(hdr, &hn, body);
	uint8_t *o = malloc(hn + body), *p = o;
	ck_assert_ptr_nonnull(o);
	memcpy(p, hdr, hn), p += hn;
	memcpy(p, tbs, tbs_len), p += tbs_len;
	memcpy(p, alg, sizeof alg), p += sizeof alg;
	memcpy(p, bit, bn), p += bn;
	memcpy(p, sig, sl);
	*len = hn + body;
	return o;
}

/* An allowed SIGN record with the summary and, when rev_d, the new revocations of that
 * decision (walked against the current state, as the enclave does). */
static uint64_t append_allowed(const uint8_t *data, size_t len, const struct pol_summary *sum,
			       const struct pol_decision *rev_d)
{
	static uint8_t blob[POL_SUMMARY_WIRE_MAX];
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN, .time_ns = RT_NS(RT_NOW)};
	uint8_t h[AUD_HASH_LEN];
	uint64_t seq;
	size_t n;

	aud_sha256(data, len, h);
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, 1);
	aud_put_uint(&b, AUD_F_REASON_CODE, POL_R_OK);
	aud_put_str(&b, AUD_F_KEY, "ca");
	aud_put_uint(&b, AUD_F_MECHANISM, CKM_ECDSA_SHA256_);
	aud_put_uint(&b, AUD_F_DATA_KIND, sum->kind);
	aud_put_bytes(&b, AUD_F_DATA_SHA256, h, sizeof h);
	if (rev_d != NULL) {
		struct pol_rev_iter it;
		struct pol_revocation rev;
		uint8_t w[POL_REVOCATION_WIRE_MAX];

		pol_revocations_begin(&it, rev_d, st);
		while (pol_revocations_next(&it, &rev))
			aud_put_bytes(&b, AUD_F_REVOCATION, w, pol_revocation_encode(&rev, w));
	}
	n = pol_summary_encode(sum, blob, sizeof blob);
	ck_assert_uint_gt(n, 0);
	aud_put_bytes(&b, AUD_F_POL_SUMMARY, blob, n);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	r.body = b.data;
	r.body_len = b.len;
	ck_assert_int_eq(aud_append(log_, &r, &seq), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log_, seq), WARDEN_OK);
	aud_body_free(&b);
	return seq;
}

/* Issuance of serial s (what replay of a certificate record gives). */
static void issue(long s)
{
	struct pol_summary *sum = calloc(1, sizeof *sum);
	uint8_t fake[8] = {(uint8_t)s};

	ck_assert_ptr_nonnull(sum);
	sum->kind = POL_KIND_TBS_CERT;
	sum->allowed = true;
	sum->time_ns = RT_NS(RT_NOW - 3600);
	snprintf(sum->key_label, sizeof sum->key_label, "ca");
	sum->serial_len = (uint32_t)rt_serial(s, sum->serial);
	sum->not_after = RT_NOW + 90 * RT_DAY;
	ck_assert(pol_state_apply(st, sum));
	append_allowed(fake, sizeof fake, sum, NULL);
	free(sum);
}

/* Evaluates tbs; writes the record as allowed whatever the policy says today (force:
 * what a laxer or subverted signer would have done); commits when really allowed. */
static uint64_t sign_tbs(const uint8_t *tbs, size_t len, bool expect_allowed)
{
	struct pol_request req = {.mechanism = POL_CKM_ECDSA_SHA256, .data = tbs, .len = len};
	uint64_t seq;

	ck_assert(pol_evaluate(pol, st, &ca.info, &req, RT_NS(RT_NOW), &d));
	ck_assert_msg(d.allowed == expect_allowed, "%s", d.sentence);
	if (d.allowed) {
		seq = append_allowed(tbs, len, &d.summary, &d);
		ck_assert(pol_state_commit(st, &d));
	} else {
		struct pol_summary sum = d.summary;

		sum.allowed = true;
		sum.reason = POL_R_OK;
		sum.num_revocations = 0;
		seq = append_allowed(tbs, len, &sum, NULL);
	}
	return seq;
}

static void write_crl(const char *name, const uint8_t *tbs, size_t len, EVP_PKEY *key)
{
	char path[512];
	size_t n;
	uint8_t *der = wrap_signed(key, tbs, len, &n);

	snprintf(path, sizeof path, "%s/%s", crldir, name);
	at_write_file(path, der, n);
	free(der);
}

static void write_ocsp(const char *name, const uint8_t *tbs, size_t len)
{
	char path[512];
	size_t n;
	uint8_t *der = wrap_signed(ca.key, tbs, len, &n);

	snprintf(path, sizeof path, "%s/%s", ocspdir, name);
	at_write_file(path, der, n);
	free(der);
}

static void setup(void)
{
	dir = tu_tmpdir();
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	snprintf(crldir, sizeof crldir, "%s/crls", dir);
	snprintf(ocspdir, sizeof ocspdir, "%s/ocsp", dir);
	snprintf(policy, sizeof policy, "%s/policy.json", dir);
	snprintf(outpath, sizeof outpath, "%s/out.txt", dir);
	ck_assert_int_eq(mkdir(logdir, 0700), 0);
	ck_assert_int_eq(mkdir(crldir, 0700), 0);
	ck_assert_int_eq(mkdir(ocspdir, 0700), 0);
	at_write_file(policy, RT_POLICY, strlen(RT_POLICY));
	pt_ca_init(&ca, "p256");
	pol = pt_policy(RT_POLICY);
	ck_assert(pol_state_new(NULL, NULL, &st));
	log_ = at_open_log(logdir, &ca, true, NULL); /* key "ca": SPKI and certificate */
	issue(SER_A);
	issue(SER_B);
}

static void teardown(void)
{
	aud_close(log_);
	pol_state_free(st);
	pol_policy_free(pol);
	pt_ca_free(&ca);
	tu_rmrf(dir);
	free(dir);
}

/* Runs warden-audit a0 LOGDIR a1... (up to a6; the first NULL ends them); exit status,
 * stdout in out[]. */
static int run(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4,
	       const char *a5, const char *a6)
{
	char *argv[] = {"warden-audit", (char *)a0, logdir, (char *)a1, (char *)a2, (char *)a3,
			(char *)a4, (char *)a5, (char *)a6, NULL};

	return at_run(outpath, argv, out, sizeof out);
}

static unsigned count(const char *needle)
{
	return at_count(out, needle);
}

/* CRL 1 revokes A (keyCompromise); OCSP says B revoked (superseded). */
static uint64_t crl1_seq, ocsp_seq;

static void revoke_a_and_b(void)
{
	struct rt_entry e[] = {{SER_A, RT_NOW - RT_DAY, 1}};
	struct rt_crl o = rt_crl_default(1);
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, 1, &o, &len);

	crl1_seq = sign_tbs(tbs, len, true);
	write_crl("1.crl", tbs, len, ca.key);
	OPENSSL_free(tbs);

	struct rt_single s = rt_single(SER_B, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - RT_DAY, 4);
	tbs = rt_ocsp(&ca, &s, 1, &len);
	ocsp_seq = sign_tbs(tbs, len, true);
	write_ocsp("revoked-b.der", tbs, len);
	OPENSSL_free(tbs);
}

START_TEST(test_show_revocations_lists_crl_and_ocsp_revocations)
{
	char want[128];

	revoke_a_and_b();
	ck_assert_int_eq(run("show", "--revocations", NULL, NULL, NULL, NULL, NULL), 0);
	ck_assert_msg(count("\n") == 2, "%s", out);
	snprintf(want, sizeof want, "\"serial\":\"1001\"");
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"reason\":1,\"reason_name\":\"keyCompromise\",\"source\":\"crl\"")
		      != NULL, "%s", out);
	snprintf(want, sizeof want, "\"source\":\"crl\",\"seq\":%llu,", (unsigned long long)crl1_seq);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	snprintf(want, sizeof want, "\"source\":\"ocsp\",\"seq\":%llu,", (unsigned long long)ocsp_seq);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"reason_name\":\"superseded\"") != NULL, "%s", out);
	/* filters */
	ck_assert_int_eq(run("show", "--revocations", "--serial", "1002", NULL, NULL, NULL), 0);
	ck_assert_msg(count("\n") == 1 && strstr(out, "\"serial\":\"1002\"") != NULL, "%s", out);
	ck_assert_int_eq(run("show", "--revocations", "--key", "other", NULL, NULL, NULL), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_reconcile_signed_crl_and_ocsp_are_ok)
{
	revoke_a_and_b();
	ck_assert_msg(run("reconcile", "--crls", crldir, "--ocsp", ocspdir, "--policy", policy) == 0,
		      "%s", out);
	ck_assert_msg(strstr(out, "OK crl ") != NULL && strstr(out, "signature checked") != NULL,
		      "%s", out);
	ck_assert_msg(strstr(out, "OK ocsp ") != NULL, "%s", out);
	ck_assert_uint_eq(count("POLICY-OK "), 2);
	ck_assert_msg(strstr(out, "2 CRLs and OCSP responses, 0 not accounted for, 0 refused") !=
		      NULL, "%s", out);
}
END_TEST

START_TEST(test_reconcile_lists_an_unseen_crl)
{
	struct rt_crl o = rt_crl_default(5);
	EVP_PKEY *other = tu_key("p256");
	size_t len;
	uint8_t *tbs;

	revoke_a_and_b();
	tbs = rt_crl_tbs(&ca, NULL, 0, &o, &len);
	write_crl("unseen.crl", tbs, len, other);
	OPENSSL_free(tbs);
	EVP_PKEY_free(other);
	ck_assert_int_eq(run("reconcile", "--crls", crldir, NULL, NULL, NULL, NULL), 1);
	ck_assert_uint_eq(count("UNSEEN crl "), 1);
	ck_assert_msg(strstr(out, "unseen.crl number 05") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "2 CRLs and OCSP responses, 1 not accounted for") != NULL, "%s",
		      out);
}
END_TEST

START_TEST(test_reconcile_policy_refuses_an_unrevoking_crl)
{
	struct rt_crl o = rt_crl_default(2);
	size_t len;
	uint8_t *tbs;

	revoke_a_and_b();
	/* CRL 2 drops A: refused by the policy, but in the log as allowed. */
	tbs = rt_crl_tbs(&ca, NULL, 0, &o, &len);
	sign_tbs(tbs, len, false);
	write_crl("2.crl", tbs, len, ca.key);
	OPENSSL_free(tbs);
	/* Without --policy both are accounted for. */
	ck_assert_msg(run("reconcile", "--crls", crldir, NULL, NULL, NULL, NULL) == 0, "%s", out);
	ck_assert_int_eq(run("reconcile", "--crls", crldir, "--policy", policy, NULL, NULL), 1);
	ck_assert_uint_eq(count("POLICY-OK crl "), 1);
	ck_assert_uint_eq(count("REFUSED crl "), 1);
	ck_assert_msg(strstr(out, "2.crl number 02") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "1 refused or not checkable") != NULL, "%s", out);
}
END_TEST

START_TEST(test_reconcile_policy_refuses_ocsp_good_for_a_revoked_serial)
{
	struct rt_single s = rt_single(SER_A, V_OCSP_CERTSTATUS_GOOD, 0, -1);
	size_t len;
	uint8_t *tbs;

	revoke_a_and_b();
	tbs = rt_ocsp(&ca, &s, 1, &len);
	sign_tbs(tbs, len, false);
	write_ocsp("good-a.der", tbs, len);
	OPENSSL_free(tbs);
	ck_assert_int_eq(run("reconcile", "--ocsp", ocspdir, "--policy", policy, NULL, NULL), 1);
	ck_assert_uint_eq(count("POLICY-OK ocsp "), 1);
	ck_assert_uint_eq(count("REFUSED ocsp "), 1);
	ck_assert_msg(strstr(out, "good-a.der producedAt") != NULL, "%s", out);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_reconcile_rev");
	TCase *tc = tcase_create("reconcile_rev");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_show_revocations_lists_crl_and_ocsp_revocations);
	tcase_add_test(tc, test_reconcile_signed_crl_and_ocsp_are_ok);
	tcase_add_test(tc, test_reconcile_lists_an_unseen_crl);
	tcase_add_test(tc, test_reconcile_policy_refuses_an_unrevoking_crl);
	tcase_add_test(tc, test_reconcile_policy_refuses_ocsp_good_for_a_revoked_serial);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
