/*
 * bench_policy_rev.c - p50/p90 of pol_evaluate for the revocation rules (issue 5): a CRL of
 * 1,000 and of 100,000 entries in the steady state (every entry already known, the next
 * CRL number), the same CRLs the first time (every entry new: the bootstrap), and OCSP
 * responses of 1 and 20 SingleResponses ("good" for issued serials).
 * usage: bench_policy_rev
 */
#include <stdio.h>
#include <time.h>

#include "tests/policy/revtest.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct pol_decision d;

static void run(const char *what, struct pol_policy *pol, struct pol_state *st, struct pt_ca *ca,
		const uint8_t *p, size_t len, int runs)
{
	uint64_t *ns = malloc(sizeof(*ns) * (size_t)runs);
	ck_assert(ns != NULL);
	for (int i = 0; i < runs; i++) {
		uint64_t t0 = mono_ns();
		enum pol_reason r = rt_eval(pol, st, ca, p, len, RT_NOW, &d, NULL);
		ns[i] = mono_ns() - t0;
		ck_assert_msg(r == POL_R_OK, "%s refused: %s", what, d.sentence);
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
	printf("policy evaluate: %-44s %8zu bytes, %6d runs: p50 %10.1f us, p90 %10.1f us\n",
	       what, len, runs, ns[runs / 2] / 1000.0, ns[runs * 9 / 10] / 1000.0);
	free(ns);
}

static void bench_crl(struct pt_ca *ca, struct pol_policy *pol, size_t n, int runs)
{
	struct rt_entry *e = calloc(n, sizeof(*e));
	struct pol_state *st = NULL;
	struct pol_state_limits lim = { POL_STATE_DEFAULT_MAX_SERIALS, POL_STATE_DEFAULT_MAX_BUCKETS, 0 };
	char what[96];
	size_t len1, len2;
	ck_assert(e != NULL && pol_state_new(&lim, NULL, &st));
	for (size_t i = 0; i < n; i++)
		e[i] = (struct rt_entry){ 0x10000000L + (long)i * 7919, RT_NOW - 3600 - (int64_t)i,
					  i % 4 == 0 ? 1 : -1 };
	struct rt_crl o1 = rt_crl_default(1), o2 = rt_crl_default(2);
	uint8_t *first = rt_crl_tbs(ca, e, n, &o1, &len1);
	uint8_t *next = rt_crl_tbs(ca, e, n, &o2, &len2);
	snprintf(what, sizeof(what), "CRL, %zu entries, all new (bootstrap)", n);
	run(what, pol, st, ca, first, len1, runs > 5 ? 5 : runs);
	ck_assert(pol_state_commit(st, &d));
	snprintf(what, sizeof(what), "CRL, %zu entries, all known (steady)", n);
	run(what, pol, st, ca, next, len2, runs);
	OPENSSL_free(first);
	OPENSSL_free(next);
	pol_state_free(st);
	free(e);
}

static void bench_ocsp(struct pt_ca *ca, struct pol_policy *pol, size_t n, int runs)
{
	struct rt_single s[POL_MAX_OCSP_RESPONSES];
	struct pol_state *st = NULL;
	char what[96];
	size_t len;
	ck_assert(n <= POL_MAX_OCSP_RESPONSES && pol_state_new(NULL, NULL, &st));
	for (size_t i = 0; i < n; i++) {
		rt_issue(st, "ca", 0x5000L + (long)i, RT_NOW + 90 * RT_DAY, NULL);
		s[i] = rt_single(0x5000L + (long)i, V_OCSP_CERTSTATUS_GOOD, 0, -1);
	}
	uint8_t *rd = rt_ocsp(ca, s, n, &len);
	snprintf(what, sizeof(what), "OCSP, %zu SingleResponse%s (good)", n, n == 1 ? "" : "s");
	run(what, pol, st, ca, rd, len, runs);
	OPENSSL_free(rd);
	pol_state_free(st);
}

START_TEST(bench_revocation_evaluate)
{
	struct pt_ca ca;
	pt_ca_init(&ca, "p256");
	struct pol_policy *pol = pt_policy(RT_POLICY);
	bench_crl(&ca, pol, 1000, 1000);
	bench_crl(&ca, pol, 100000, 21);
	bench_ocsp(&ca, pol, 1, 20000);
	bench_ocsp(&ca, pol, 20, 5000);
	pol_policy_free(pol);
	pt_ca_free(&ca);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_policy_rev");
	TCase *tc = tcase_create("bench");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, bench_revocation_evaluate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
