/*
 * test_policy_rate.c - GCRA arithmetic, evaluate-does-not-mutate, commit/replay
 * equivalence, per-dimension limits, prehashed keys, and the state's bounds; the
 * engine's digests (fetched once) against OpenSSL's.
 */
#include <p11-kit/pkcs11.h>
#include <pthread.h>

#include <openssl/evp.h>

#include "pol_policy_int.h"
#include "tests/policy/poltest.h"

#define NS 1000000000LL

_Static_assert(POL_CKM_SHA256_RSA_PKCS == CKM_SHA256_RSA_PKCS, "same numbers as pkcs11.h");
_Static_assert(POL_CKM_SHA256_RSA_PKCS_PSS == CKM_SHA256_RSA_PKCS_PSS, "pkcs11.h");
_Static_assert(POL_CKM_ECDSA_SHA384 == CKM_ECDSA_SHA384, "pkcs11.h");
_Static_assert(POL_CKM_EDDSA == CKM_EDDSA, "pkcs11.h");
_Static_assert(POL_CKM_RSA_PKCS_PSS == CKM_RSA_PKCS_PSS, "pkcs11.h");
_Static_assert(POL_CKM_ECDSA == CKM_ECDSA, "pkcs11.h");
_Static_assert(POL_CKM_SHA512 == CKM_SHA512, "pkcs11.h");
_Static_assert(POL_CKG_MGF1_SHA384 == CKG_MGF1_SHA384, "pkcs11.h");

/* One event in one bucket at t; true if it fit (and then it is applied). */
static bool hit(struct pol_state *st, const struct pol_rate *r, int64_t t)
{
	struct pol_summary s;
	memset(&s, 0, sizeof(s));
	s.allowed = true;
	s.time_ns = t;
	strcpy(s.key_label, "k");
	s.num_charges = 1;
	s.charges[0].dim = POL_RATE_KEY;
	s.charges[0].rate = *r;
	pol_bucket_id(POL_RATE_KEY, "k", "", 0, s.charges[0].bucket);
	if (!pol_state_charge_fits(st, &s.charges[0], t))
		return false;
	ck_assert(pol_state_apply(st, &s));
	return true;
}

START_TEST(test_rate_burst_then_refill)
{
	struct pol_state *st = NULL;
	struct pol_rate r = { .count = 10, .period_ns = 60 * NS, .burst = 3 }; /* one per 6 s */
	int64_t t = 1000 * NS;
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert(hit(st, &r, t) && hit(st, &r, t) && hit(st, &r, t));
	ck_assert(!hit(st, &r, t));                 /* burst of 3 spent */
	ck_assert(!hit(st, &r, t + 6 * NS - 1));    /* one slot refills after exactly 6 s */
	ck_assert(hit(st, &r, t + 6 * NS));
	ck_assert(!hit(st, &r, t + 6 * NS));
	ck_assert(hit(st, &r, t + 30 * NS) && hit(st, &r, t + 30 * NS)); /* refilled to 3 max */
	ck_assert(hit(st, &r, t + 30 * NS));
	ck_assert(!hit(st, &r, t + 30 * NS));
	pol_state_free(st);
}
END_TEST

START_TEST(test_rate_exact_over_long_periods)
{
	/* 7 per year, burst 1: the emission interval (year/7) is not a whole number of ns; no
	 * drift after many intervals */
	struct pol_state *st = NULL;
	const int64_t year = 365LL * 86400 * NS;
	struct pol_rate r = { .count = 7, .period_ns = year, .burst = 1 };
	int64_t t0 = 1700000000LL * NS;
	ck_assert(pol_state_new(NULL, NULL, &st));
	/* fits at t iff S <= 7t (S = TAT * 7, exact): the k-th event is due at ceil(S / 7) */
	__int128 S = (__int128)t0 * 7;
	int64_t due = t0;
	for (int64_t k = 0; k < 70; k++) {
		due = (int64_t)((S + 6) / 7);
		if (k > 0)
			ck_assert_msg(!hit(st, &r, due - 1), "event %lld fit 1 ns early", (long long)k);
		ck_assert_msg(hit(st, &r, due), "event %lld refused when due", (long long)k);
		S = ((__int128)due * 7 > S ? (__int128)due * 7 : S) + year;
	}
	/* 69 intervals of year/7: at most one ns of rounding per event, never accumulated */
	ck_assert_int_le(due - t0 - (int64_t)((__int128)69 * year / 7), 69);
	ck_assert_int_ge(due - t0 - (int64_t)((__int128)69 * year / 7), 0);
	pol_state_free(st);
}
END_TEST

START_TEST(test_rate_count_change_keeps_time)
{
	struct pol_state *st = NULL;
	struct pol_rate r = { .count = 2, .period_ns = 10 * NS, .burst = 1 };
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert(hit(st, &r, 100 * NS));
	r.count = 5; /* the policy changed: TAT (105 s) is kept in time units */
	ck_assert(!hit(st, &r, 104 * NS));
	ck_assert(hit(st, &r, 105 * NS));
	pol_state_free(st);
}
END_TEST

static struct pt_ca ca;
static EVP_PKEY *leaf_key;

static void setup(void)
{
	pt_ca_init(&ca, "p256");
	leaf_key = tu_key("p256");
}

static void teardown(void)
{
	EVP_PKEY_free(leaf_key);
	pt_ca_free(&ca);
}

static char *J(const char *s)
{
	static char buf[4096];
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++)
		buf[i] = s[i] == '\'' ? '"' : s[i];
	return buf;
}

static X509 *leaf(long serial, const char *cn, const char *san)
{
	X509 *x = pt_leaf(&ca, leaf_key, cn, san);
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	return x;
}

static struct pol_decision dec;

static enum pol_reason ev(struct pol_policy *p, struct pol_state *st, long serial, const char *cn,
			  const char *san, bool commit)
{
	X509 *x = leaf(serial, cn, san);
	enum pol_reason r = pt_eval_on(p, st, &ca, x, POL_CKM_ECDSA_SHA256, &dec);
	X509_free(x);
	if (commit && dec.allowed)
		ck_assert(pol_state_commit(st, &dec));
	return r;
}

#define S(i) (0x1000000000000000L + (i))

START_TEST(test_rate_dimensions)
{
	struct pol_policy *p = pt_policy(J(
		"{'version':1,'authority':{'rateLimits':{'perRegisteredDomain':{'count':2,'period':'1h'},"
		"'perSANSet':{'count':1,'period':'1d'}}},'profiles':{'w':{'match':{}}}}"));
	struct pol_psl *psl = NULL;
	struct pol_state *st = NULL;
	ck_assert(pol_psl_load(NULL, &psl));
	ck_assert(pol_state_new(NULL, psl, &st));
	ck_assert_int_eq(ev(p, st, S(1), "a.example.co.uk", "DNS:a.example.co.uk", true), POL_R_OK);
	/* same SAN set again: refused even with a new serial */
	ck_assert_int_eq(ev(p, st, S(2), "a.example.co.uk", "DNS:A.example.co.uk", true),
			 POL_R_RATE_SAN_SET);
	ck_assert_int_eq(ev(p, st, S(3), "b.example.co.uk", "DNS:b.example.co.uk", true), POL_R_OK);
	/* a third name under example.co.uk: the registered-domain limit (2 per hour) */
	ck_assert_int_eq(ev(p, st, S(4), "c.example.co.uk", "DNS:c.example.co.uk", true),
			 POL_R_RATE_DOMAIN);
	ck_assert_str_eq(pol_reason_name(dec.reason), "rate.registered_domain");
	/* another registered domain under the same public suffix is its own bucket */
	ck_assert_int_eq(ev(p, st, S(5), "c.other.co.uk", "DNS:c.other.co.uk", true), POL_R_OK);
	pol_state_free(st);
	pol_psl_free(psl);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_rate_per_profile_and_key)
{
	struct pol_policy *p = pt_policy(J(
		"{'version':1,'signingKeys':{'ca':{'rateLimit':{'count':3,'period':'1h','burst':3}}},"
		"'profiles':{'w':{'match':{},'rateLimits':{'perProfile':{'count':2,'period':'1h'}}}}}"));
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert_int_eq(ev(p, st, S(1), "a.example.com", "DNS:a.example.com", true), POL_R_OK);
	ck_assert_int_eq(ev(p, st, S(2), "b.example.com", "DNS:b.example.com", true), POL_R_OK);
	ck_assert_int_eq(ev(p, st, S(3), "c.example.com", "DNS:c.example.com", true), POL_R_RATE_PROFILE);
	pol_state_free(st);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_rate_evaluate_does_not_mutate)
{
	struct pol_policy *p = pt_policy(J(
		"{'version':1,'authority':{'rateLimits':{'perKey':{'count':5,'period':'1h'},"
		"'perSANSet':{'count':5,'period':'1h'}}},'profiles':{'w':{'match':{}}}}"));
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert_int_eq(ev(p, st, S(1), "a.example.com", "DNS:a.example.com", true), POL_R_OK);
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t tat0, tat1;
	pol_bucket_id(POL_RATE_KEY, "ca", "", 0, id);
	ck_assert(pol_state_bucket_tat(st, id, &tat0));
	size_t ns = pol_state_num_serials(st), nb = pol_state_num_buckets(st);
	for (int i = 0; i < 10; i++) /* evaluated, never committed */
		ck_assert_int_eq(ev(p, st, S(2), "b.example.com", "DNS:b.example.com", false), POL_R_OK);
	ck_assert(pol_state_bucket_tat(st, id, &tat1));
	ck_assert_int_eq(tat0, tat1);
	ck_assert_uint_eq(pol_state_num_serials(st), ns);
	ck_assert_uint_eq(pol_state_num_buckets(st), nb);
	ck_assert(!pol_state_has_serial(st, "ca", (const uint8_t *)"\x10\0\0\0\0\0\0\x02", 8));
	pol_state_free(st);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_rate_commit_replay_equivalence)
{
	struct pol_policy *p = pt_policy(J(
		"{'version':1,'authority':{'rateLimits':{'perKey':{'count':3,'period':'1h','burst':2},"
		"'perRegisteredDomain':{'count':10,'period':'1d'},'perSANSet':{'count':1,'period':'1d'}}},"
		"'profiles':{'w':{'match':{}}}}"));
	struct pol_state *live = NULL, *replayed = NULL;
	struct pol_summary log[8];
	size_t n = 0;
	ck_assert(pol_state_new(NULL, NULL, &live));
	ck_assert(pol_state_new(NULL, NULL, &replayed));
	for (int i = 0; i < 6; i++) {
		char name[64], san[80];
		snprintf(name, sizeof(name), "h%d.example.com", i % 3);
		snprintf(san, sizeof(san), "DNS:%s", name);
		(void)ev(p, live, S(i), name, san, true);
		log[n++] = dec.summary; /* the audit log keeps refusals too */
	}
	for (size_t i = 0; i < n; i++)
		ck_assert(pol_state_apply(replayed, &log[i]));
	ck_assert_uint_eq(pol_state_num_serials(live), pol_state_num_serials(replayed));
	ck_assert_uint_eq(pol_state_num_buckets(live), pol_state_num_buckets(replayed));
	for (size_t i = 0; i < n; i++) {
		for (uint32_t c = 0; c < log[i].num_charges; c++) {
			int64_t a, b;
			ck_assert(pol_state_bucket_tat(live, log[i].charges[c].bucket, &a) ==
				  pol_state_bucket_tat(replayed, log[i].charges[c].bucket, &b));
			if (log[i].allowed)
				ck_assert_int_eq(a, b);
		}
		if (log[i].serial_len > 0)
			ck_assert_int_eq(pol_state_has_serial(live, "ca", log[i].serial, log[i].serial_len),
					 pol_state_has_serial(replayed, "ca", log[i].serial,
							      log[i].serial_len));
	}
	/* the next decision is the same on both */
	enum pol_reason a = ev(p, live, S(10), "z.example.com", "DNS:z.example.com", false);
	enum pol_reason b = ev(p, replayed, S(10), "z.example.com", "DNS:z.example.com", false);
	ck_assert_int_eq(a, b);
	pol_state_free(live);
	pol_state_free(replayed);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_rate_prehashed_deny_and_audit)
{
	static const uint8_t digest[32] = { 1, 2, 3 };
	struct pol_request req = { .mechanism = POL_CKM_ECDSA, .prehashed = true, .data = digest,
				   .len = sizeof(digest) };
	struct pol_state *st = NULL;
	struct pol_policy *p = pt_policy(J("{'version':1,'profiles':{}}"));
	ck_assert(pol_state_new(NULL, NULL, &st));
	ck_assert(pol_evaluate(p, st, &ca.info, &req, PT_NOW_S * NS, &dec));
	ck_assert_int_eq(dec.reason, POL_R_PREHASHED_DENIED);
	ck_assert(!dec.allowed);
	pol_policy_free(p);
	p = pt_policy(J("{'version':1,'signingKeys':{'ca':{'prehashed':'audit',"
			"'prehashedRateLimit':{'count':2,'period':'1h','burst':2}}},'profiles':{}}"));
	for (int i = 0; i < 2; i++) {
		ck_assert(pol_evaluate(p, st, &ca.info, &req, PT_NOW_S * NS, &dec));
		ck_assert_int_eq(dec.reason, POL_R_PREHASHED_AUDIT);
		ck_assert(dec.allowed && dec.summary.prehashed);
		ck_assert(pol_state_commit(st, &dec));
	}
	ck_assert(pol_evaluate(p, st, &ca.info, &req, PT_NOW_S * NS, &dec));
	ck_assert_int_eq(dec.reason, POL_R_RATE_PREHASHED);
	/* a raw mechanism flagged as full data (or the reverse) is refused */
	req.prehashed = false;
	ck_assert(pol_evaluate(p, st, &ca.info, &req, PT_NOW_S * NS, &dec));
	ck_assert_int_eq(dec.reason, POL_R_MECHANISM);
	pol_state_free(st);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_rate_state_bounds)
{
	struct pol_state_limits lim = { .max_serials = 2, .max_buckets = 8 };
	struct pol_policy *p = pt_policy(J("{'version':1,'profiles':{'w':{'match':{}}}}"));
	struct pol_state *st = NULL;
	/* 0 means the default; over the engine's maximum is refused */
	ck_assert(pol_state_new(&(struct pol_state_limits){ 0, 1 }, NULL, &st));
	ck_assert_uint_eq(pol_state_num_serials(st), 0);
	pol_state_free(st);
	ck_assert(!pol_state_new(&(struct pol_state_limits){ POL_STATE_MAX_ENTRIES + 1, 1 }, NULL,
				 &st));
	ck_assert(!pol_state_new(&(struct pol_state_limits){ 1, POL_STATE_MAX_ENTRIES + 1 }, NULL,
				 &st));
	ck_assert(pol_state_new(&lim, NULL, &st));
	ck_assert_int_eq(ev(p, st, S(1), "a.example.com", "DNS:a.example.com", true), POL_R_OK);
	ck_assert_int_eq(ev(p, st, S(2), "a.example.com", "DNS:a.example.com", true), POL_R_OK);
	/* both serials are still valid (notAfter in the future): full, fail closed */
	ck_assert_int_eq(ev(p, st, S(3), "a.example.com", "DNS:a.example.com", true), POL_R_STATE_FULL);
	pol_state_free(st);
	pol_policy_free(p);
}
END_TEST

/* pol_digest gives what OpenSSL gives, for every hash it knows, and nothing for others. */
START_TEST(test_digest_matches_openssl)
{
	static const struct {
		enum pol_hash h;
		const char *name;
	} hs[] = {{POL_HASH_SHA1, "SHA1"}, {POL_HASH_SHA256, "SHA256"},
		  {POL_HASH_SHA384, "SHA384"}, {POL_HASH_SHA512, "SHA512"}};
	uint8_t data[1000], got[POL_DIGEST_MAX], want[EVP_MAX_MD_SIZE];
	static const size_t lens[] = {0, 3, 55, 56, 64, 1000};

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (int round = 0; round < 2; round++) { /* before and after pol_crypto_init */
		for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
			for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
				size_t wl = 0;
				ck_assert(EVP_Q_digest(NULL, hs[i].name, NULL, data, lens[j], want,
						       &wl) == 1);
				memset(got, 0, sizeof(got));
				ck_assert_uint_eq(pol_digest(hs[i].h, data, lens[j], got), wl);
				ck_assert_mem_eq(got, want, wl);
			}
		ck_assert_uint_eq(pol_digest(POL_HASH_SHA224, data, 3, got), 0);
		ck_assert_uint_eq(pol_digest(POL_HASH_UNKNOWN, data, 3, got), 0);
		ck_assert_uint_eq(pol_digest((enum pol_hash)99, data, 3, got), 0);
		ck_assert(pol_crypto_init());
	}
}
END_TEST

/* Threads that all make the first use at once (each Check test runs in a fresh child,
 * so nothing is fetched yet) all get the right digest. */
static void *digest_thread(void *arg)
{
	uint8_t *out = arg;
	for (int i = 0; i < 100; i++)
		pol_sha256("abc", 3, out);
	return NULL;
}

START_TEST(test_digest_first_use_concurrent)
{
	static const uint8_t abc[POL_SHA256_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	enum { N = 8 };
	pthread_t t[N];
	uint8_t out[N][POL_SHA256_LEN];

	memset(out, 0, sizeof(out));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, digest_thread, out[i]), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_mem_eq(out[i], abc, sizeof(abc));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_rate");
	TCase *tc = tcase_create("gcra");
	tcase_add_test(tc, test_rate_burst_then_refill);
	tcase_add_test(tc, test_rate_exact_over_long_periods);
	tcase_add_test(tc, test_rate_count_change_keeps_time);
	suite_add_tcase(s, tc);
	tc = tcase_create("digest");
	tcase_add_test(tc, test_digest_matches_openssl);
	tcase_add_test(tc, test_digest_first_use_concurrent);
	suite_add_tcase(s, tc);
	tc = tcase_create("state");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rate_dimensions);
	tcase_add_test(tc, test_rate_per_profile_and_key);
	tcase_add_test(tc, test_rate_evaluate_does_not_mutate);
	tcase_add_test(tc, test_rate_commit_replay_equivalence);
	tcase_add_test(tc, test_rate_prehashed_deny_and_audit);
	tcase_add_test(tc, test_rate_state_bounds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
