/*
 * test_policy_summary.c - struct pol_summary as bytes (pol_summary_encode/decode): round
 * trips of real decisions (a leaf with rate charges, a CRL with inline revocations),
 * replay from decoded summaries gives the committed state, and the decoder refuses every
 * truncation, trailing bytes, bad versions and out-of-range fields without crashing on
 * any single-byte change.  Also pol_policy_key_prehashed.
 */
#include "tests/policy/revtest.h"

#define LEAF_POLICY                                                                          \
	"{\"version\":1,\"authority\":{\"rateLimits\":{\"perKey\":{\"count\":100,"         \
	"\"period\":\"1h\",\"burst\":10},\"perSANSet\":{\"count\":5,\"period\":\"1d\","   \
	"\"burst\":2}}},\"profiles\":{\"web\":{\"match\":{},\"names\":{\"allow\":"          \
	"{\"dns\":[\"*.example.com\"]}}}}}"

static struct pol_decision d;
static uint8_t buf[POL_SUMMARY_WIRE_MAX];
static uint8_t buf2[POL_SUMMARY_WIRE_MAX];

static void roundtrip(const struct pol_summary *s, size_t *out_len)
{
	static struct pol_summary back;
	size_t n = pol_summary_encode(s, buf, sizeof buf);
	ck_assert_uint_gt(n, 0);
	ck_assert(pol_summary_decode(buf, n, &back));
	/* canonical: the decoded summary encodes to the same bytes */
	ck_assert_uint_eq(pol_summary_encode(&back, buf2, sizeof buf2), n);
	ck_assert(memcmp(buf, buf2, n) == 0);
	ck_assert_uint_eq(back.kind, s->kind);
	ck_assert_uint_eq(back.allowed, s->allowed);
	ck_assert_uint_eq(back.reason, s->reason);
	ck_assert_int_eq(back.time_ns, s->time_ns);
	ck_assert_str_eq(back.key_label, s->key_label);
	ck_assert_str_eq(back.subject, s->subject);
	ck_assert_str_eq(back.sans, s->sans);
	ck_assert_uint_eq(back.serial_len, s->serial_len);
	ck_assert(memcmp(back.serial, s->serial, s->serial_len) == 0);
	ck_assert_int_eq(back.not_after, s->not_after);
	ck_assert_uint_eq(back.num_charges, s->num_charges);
	ck_assert(memcmp(back.charges, s->charges, s->num_charges * sizeof s->charges[0]) == 0);
	ck_assert_uint_eq(back.num_revocations, s->num_revocations);
	for (uint32_t i = 0; i < s->num_revocations && i < POL_SUMMARY_MAX_REVOCATIONS; i++)
		ck_assert(memcmp(&back.revocations[i], &s->revocations[i],
				 sizeof s->revocations[i]) == 0);
	*out_len = n;
}

START_TEST(test_summary_leaf_round_trips_and_replays)
{
	struct pt_ca ca;
	struct pol_policy *pol;
	struct pol_state *st = NULL, *st2 = NULL;
	static struct pol_summary back;
	size_t n;

	pt_ca_init(&ca, "rsa2048");
	pol = pt_policy(LEAF_POLICY);
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert(pol_state_new(NULL, NULL, &st2));
	EVP_PKEY *leaf_key = tu_key("p256");
	X509 *x = pt_leaf(&ca, leaf_key, "a.example.com", "DNS:a.example.com");
	ck_assert_int_eq(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA256_RSA_PKCS, &d), POL_R_OK);
	ck_assert_uint_gt(d.summary.num_charges, 1);
	roundtrip(&d.summary, &n);
	ck_assert(pol_state_commit(st, &d));
	/* replay of the decoded summary gives the committed state */
	ck_assert(pol_summary_decode(buf, n, &back));
	ck_assert(pol_state_apply(st2, &back));
	ck_assert_uint_eq(pol_state_num_serials(st2), pol_state_num_serials(st));
	ck_assert_uint_eq(pol_state_num_buckets(st2), pol_state_num_buckets(st));
	ck_assert(pol_state_has_serial(st2, "ca", back.serial, back.serial_len));
	for (uint32_t i = 0; i < back.num_charges; i++) {
		int64_t t1, t2;
		ck_assert(pol_state_bucket_tat(st, back.charges[i].bucket, &t1));
		ck_assert(pol_state_bucket_tat(st2, back.charges[i].bucket, &t2));
		ck_assert_int_eq(t1, t2);
	}
	/* the same leaf again is refused on the replayed state: the serial is used */
	ck_assert_int_eq(pt_eval_on(pol, st2, &ca, x, POL_CKM_SHA256_RSA_PKCS, &d),
			 POL_R_SERIAL_REUSED);
	roundtrip(&d.summary, &n);
	X509_free(x);
	EVP_PKEY_free(leaf_key);
	pol_state_free(st);
	pol_state_free(st2);
	pol_policy_free(pol);
	pt_ca_free(&ca);
}
END_TEST

START_TEST(test_summary_crl_with_revocations_round_trips)
{
	struct pt_ca ca;
	struct pol_policy *pol;
	struct pol_state *st = NULL;
	struct rt_entry e[3] = {{0x1001, RT_NOW - 100, 1}, {0x1002, RT_NOW - 50, -1},
				{0x1003, RT_NOW - 10, 4}};
	size_t len, n;

	pt_ca_init(&ca, "p256");
	pol = pt_policy(RT_POLICY);
	ck_assert(pol_state_new(NULL, NULL, &st));
	struct rt_crl o = rt_crl_default(7);
	uint8_t *tbs = rt_crl_tbs(&ca, e, 3, &o, &len);
	ck_assert_int_eq(rt_eval(pol, st, &ca, tbs, len, o.this_update, &d, NULL), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 3);
	ck_assert_uint_gt(d.summary.crl_number_len, 0);
	roundtrip(&d.summary, &n);
	OPENSSL_free(tbs);
	pol_state_free(st);
	pol_policy_free(pol);
	pt_ca_free(&ca);
}
END_TEST

START_TEST(test_summary_decode_refuses_truncation_trailing_and_bad_fields)
{
	static struct pol_summary s, back;
	size_t n;

	memset(&s, 0, sizeof s);
	s.kind = POL_KIND_TBS_CERT;
	s.allowed = true;
	s.time_ns = 1234567890123LL;
	snprintf(s.key_label, sizeof s.key_label, "ca");
	snprintf(s.subject, sizeof s.subject, "CN=x");
	s.serial_len = 9;
	memset(s.serial, 0x42, 9);
	s.num_charges = 1;
	s.charges[0].dim = POL_RATE_KEY;
	s.charges[0].rate.count = 10;
	s.charges[0].rate.period_ns = 1000000000LL;
	s.charges[0].rate.burst = 2;
	n = pol_summary_encode(&s, buf, sizeof buf);
	ck_assert_uint_gt(n, 0);
	/* too small an output buffer: nothing */
	ck_assert_uint_eq(pol_summary_encode(&s, buf2, n - 1), 0);
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_msg(!pol_summary_decode(buf, cut, &back), "prefix of %zu decoded", cut);
	memcpy(buf2, buf, n);
	buf2[n] = 0;
	ck_assert(!pol_summary_decode(buf2, n + 1, &back));
	/* every single-byte change either fails or decodes to a summary within bounds */
	for (size_t i = 0; i < n; i++) {
		for (unsigned v = 0; v < 256; v += 37) {
			memcpy(buf2, buf, n);
			buf2[i] ^= (uint8_t)(v | 1);
			if (pol_summary_decode(buf2, n, &back)) {
				ck_assert_uint_le(back.num_charges, POL_MAX_CHARGES);
				ck_assert_uint_le(back.serial_len, POL_RFC_SERIAL_MAX);
				ck_assert_uint_lt(strlen(back.subject), sizeof back.subject);
			} else {
				ck_assert_uint_eq(back.kind, 0); /* zeroed on failure */
			}
		}
	}
	memcpy(buf2, buf, n);
	buf2[0] = 2; /* unknown version */
	ck_assert(!pol_summary_decode(buf2, n, &back));
	memcpy(buf2, buf, n);
	buf2[2] = 2; /* allowed not a boolean */
	ck_assert(!pol_summary_decode(buf2, n, &back));
	ck_assert(!pol_summary_decode(NULL, 0, &back));
	/* a summary beyond its own bounds is not encoded */
	s.num_charges = POL_MAX_CHARGES + 1;
	ck_assert_uint_eq(pol_summary_encode(&s, buf, sizeof buf), 0);
}
END_TEST

START_TEST(test_policy_key_prehashed)
{
	struct pol_policy *p = pt_policy(
		"{\"version\":1,\"signingKeys\":{\"legacy\":{\"prehashed\":\"audit\"},"
		"\"ca\":{\"prehashed\":\"deny\"}},\"profiles\":{}}");
	ck_assert_int_eq(pol_policy_key_prehashed(p, "legacy"), 1);
	ck_assert_int_eq(pol_policy_key_prehashed(p, "ca"), 0);
	ck_assert_int_eq(pol_policy_key_prehashed(p, "other"), -1);
	pol_policy_free(p);
	p = pt_policy("{\"version\":1,\"profiles\":{}}");
	ck_assert_int_eq(pol_policy_key_prehashed(p, "anything"), 0);
	pol_policy_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_summary");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_summary_leaf_round_trips_and_replays);
	tcase_add_test(tc, test_summary_crl_with_revocations_round_trips);
	tcase_add_test(tc, test_summary_decode_refuses_truncation_trailing_and_bad_fields);
	tcase_add_test(tc, test_policy_key_prehashed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
