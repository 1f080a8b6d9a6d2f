/*
 * bench_policy.c - time to classify a typical leaf TBSCertificate and extract its facts
 * (p50, p90, p99 over BENCH_RUNS runs).  The policy target is < 50 us for the whole
 * evaluation (issue 3 §5); this measures the parsing part.
 * usage: bench_policy [runs]
 */
#include "policy.h"
#include "tests/policy/testutil.h"

#include <check.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_RUNS 100000

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

static int runs = BENCH_RUNS;

/* A Check test only because the builders (testutil.c) assert with Check. */
START_TEST(bench_leaf_facts)
{
	/* a typical web leaf: P-256 key, RSA-2048 issuer, SAN of 3 names, the usual set */
	EVP_PKEY *ca_key = tu_key("rsa2048");
	X509 *ca = tu_ca(ca_key);
	EVP_PKEY *key = tu_key("p256");
	X509 *x = tu_leaf(ca, key, "www.example.com", 0x7a3b9c1d2e4f5061L);
	tu_ext_conf(x, ca, NID_basic_constraints, "critical,CA:FALSE");
	tu_ext_conf(x, ca, NID_key_usage, "critical,digitalSignature");
	tu_ext_conf(x, ca, NID_ext_key_usage, "serverAuth,clientAuth");
	tu_ext_conf(x, ca, NID_subject_key_identifier, "hash");
	tu_ext_conf(x, ca, NID_authority_key_identifier, "keyid:always");
	tu_ext_conf(x, ca, NID_subject_alt_name,
		    "DNS:www.example.com,DNS:example.com,DNS:api.example.com");
	tu_ext_conf(x, ca, NID_crl_distribution_points, "URI:http://crl.example.com/ca.crl");
	tu_ext_conf(x, ca, NID_info_access, "OCSP;URI:http://ocsp.example.com");
	size_t len;
	uint8_t *tbs = tu_tbs(x, ca_key, EVP_sha256(), -1, &len);
	uint64_t *ns = malloc(sizeof(*ns) * (size_t)runs);
	static struct pol_cert_facts f;
	struct der_err e;
	ck_assert(ns != NULL);
	for (int i = 0; i < runs; i++) {
		uint64_t t0 = now_ns();
		bool ok = pol_classify(tbs, len) == POL_KIND_TBS_CERT && pol_cert_facts(tbs, len, &f, &e);
		if (!ok)
			ck_abort_msg("the leaf TBS was refused");
		ns[i] = now_ns() - t0;
	}
	qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
	printf("policy facts: leaf TBS of %zu bytes, %d runs: p50 %.2f us, p90 %.2f us, p99 %.2f us "
	       "(target < 50 us for the whole evaluation)\n",
	       len, runs, ns[runs / 2] / 1000.0, ns[runs * 9 / 10] / 1000.0,
	       ns[(size_t)runs * 99 / 100] / 1000.0);
	free(ns);
	OPENSSL_free(tbs);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 1)
		runs = atoi(argv[1]);
	if (runs <= 0)
		return 2;
	Suite *s = suite_create("bench_policy");
	TCase *tc = tcase_create("bench");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, bench_leaf_facts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
