/*
 * bench_policy_eval.c - the whole evaluation of a typical leaf (classification, facts,
 * profile selection, every rule, rate-limit checks with a registered-domain lookup):
 * p50/p90/p99 of pol_evaluate over BENCH_RUNS runs.  Target: < 50 us at p50 (issue 3 §5).
 * usage: bench_policy_eval [runs]
 */
#include <stdio.h>
#include <time.h>

#include "tests/policy/poltest.h"

#define BENCH_RUNS 100000

static int runs = BENCH_RUNS;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char policy[] =
	"{\"version\":1,\"authority\":{\"rateLimits\":{\"perKey\":{\"count\":100000,\"period\":\"1h\"},"
	"\"perRegisteredDomain\":{\"count\":1000,\"period\":\"1h\"},"
	"\"perSANSet\":{\"count\":100,\"period\":\"1d\"}}},"
	"\"profiles\":{\"acme\":{\"match\":{\"provisioner\":{\"type\":\"ACME\"}}},"
	"\"web\":{\"match\":{\"extKeyUsage\":[\"serverAuth\"]},\"names\":{\"allow\":{\"dns\":"
	"[\"*.example.com\",\"example.com\",\"*.example.org\"],\"ips\":[\"10.0.0.0/8\"]},"
	"\"deny\":{\"dns\":[\"admin.example.com\"]}},\"validity\":{\"maxLifetime\":\"90d\"},"
	"\"extensions\":{\"keyUsage\":{\"allowed\":[\"digitalSignature\"]},"
	"\"allowedCritical\":[\"basicConstraints\",\"keyUsage\"]},"
	"\"rateLimits\":{\"perProfile\":{\"count\":10000,\"period\":\"1h\"}}}}}";

START_TEST(bench_leaf_evaluate)
{
	struct pt_ca ca;
	pt_ca_init(&ca, "rsa2048");
	EVP_PKEY *key = tu_key("p256");
	X509 *x = tu_leaf(ca.cert, key, "www.example.com", PT_SERIAL);
	tu_ext_conf(x, ca.cert, NID_basic_constraints, "critical,CA:FALSE");
	tu_ext_conf(x, ca.cert, NID_key_usage, "critical,digitalSignature");
	tu_ext_conf(x, ca.cert, NID_ext_key_usage, "serverAuth,clientAuth");
	tu_ext_conf(x, ca.cert, NID_subject_key_identifier, "hash");
	tu_ext_conf(x, ca.cert, NID_authority_key_identifier, "keyid:always");
	tu_ext_conf(x, ca.cert, NID_subject_alt_name,
		    "DNS:www.example.com,DNS:example.com,DNS:api.example.com");
	tu_ext_conf(x, ca.cert, NID_crl_distribution_points, "URI:http://crl.example.com/ca.crl");
	tu_ext_conf(x, ca.cert, NID_info_access, "OCSP;URI:http://ocsp.example.com");
	size_t len;
	uint8_t *tbs = tu_tbs(x, ca.key, EVP_sha256(), -1, &len);
	struct pol_policy *pol = pt_policy(policy);
	struct pol_psl *psl = NULL;
	struct pol_state *st = NULL;
	ck_assert(pol_psl_load(NULL, &psl));
	ck_assert(pol_state_new(NULL, psl, &st));
	static struct pol_decision d;
	struct pol_request req = { .mechanism = POL_CKM_SHA256_RSA_PKCS, .data = tbs, .len = len };
	uint64_t *ns = malloc(sizeof(*ns) * (size_t)runs);
	ck_assert(ns != NULL);
	for (int i = 0; i < runs; i++) {
		uint64_t t0 = now_ns();
		if (!pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &d) || !d.allowed)
			ck_abort_msg("the leaf was refused: %s", d.sentence);
		ns[i] = now_ns() - t0;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
	printf("policy evaluate: leaf TBS of %zu bytes, %u charges, %d runs: p50 %.2f us, "
	       "p90 %.2f us, p99 %.2f us (target < 50 us at p50)\n",
	       len, d.summary.num_charges, runs, ns[runs / 2] / 1000.0, ns[runs * 9 / 10] / 1000.0,
	       ns[(size_t)runs * 99 / 100] / 1000.0);
	free(ns);
	pol_state_free(st);
	pol_psl_free(psl);
	pol_policy_free(pol);
	OPENSSL_free(tbs);
	X509_free(x);
	EVP_PKEY_free(key);
	pt_ca_free(&ca);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 1)
		runs = atoi(argv[1]);
	if (runs <= 0)
		return 2;
	Suite *s = suite_create("bench_policy_eval");
	TCase *tc = tcase_create("bench");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, bench_leaf_evaluate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
