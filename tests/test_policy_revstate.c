/*
 * test_policy_revstate.c - the revocation state (issue 5 §3): commit/apply equivalence
 * (replaying the summaries of a sequence into a fresh state gives identical decisions),
 * a restart in the middle of a revocation sequence, CRLs with more new revocations than a
 * summary holds inline, bounds and their refusals, and the replay input checks.
 */
#include "tests/policy/revtest.h"

static struct pt_ca ca;
static struct pol_policy *pol;
static struct pol_decision d, d2;

#define A 0x1001L
#define B 0x1002L
#define C 0x1003L
#define IDP1 "critical,fullname:URI:http://crl.example.com/1.crl"

static void setup(void)
{
	pt_ca_init(&ca, "p256");
	pol = pt_policy(RT_POLICY);
}

static void teardown(void)
{
	pol_policy_free(pol);
	pt_ca_free(&ca);
}

/* Same decision on both states: reason, sentence, new revocations. */
static enum pol_reason same_on(struct pol_state *s1, struct pol_state *s2, const uint8_t *p,
			       size_t len, int64_t now_s)
{
	enum pol_reason r1 = rt_eval(pol, s1, &ca, p, len, now_s, &d, NULL);
	enum pol_reason r2 = rt_eval(pol, s2, &ca, p, len, now_s, &d2, NULL);
	ck_assert_msg(r1 == r2, "%s vs %s", d.sentence, d2.sentence);
	ck_assert_str_eq(d.sentence, d2.sentence);
	ck_assert_uint_eq(d.summary.num_revocations, d2.summary.num_revocations);
	return r1;
}

static enum pol_reason crl_same(struct pol_state *s1, struct pol_state *s2,
				const struct rt_entry *e, size_t n, struct rt_crl o)
{
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, n, &o, &len);
	enum pol_reason r = same_on(s1, s2, tbs, len, o.this_update);
	OPENSSL_free(tbs);
	return r;
}

static enum pol_reason ocsp_same(struct pol_state *s1, struct pol_state *s2,
				 struct rt_single s)
{
	size_t len;
	uint8_t *rd = rt_ocsp(&ca, &s, 1, &len);
	enum pol_reason r = same_on(s1, s2, rd, len, RT_NOW);
	OPENSSL_free(rd);
	return r;
}

static enum pol_reason crl_commit(struct pol_state *st, struct rt_journal *j,
				  const struct rt_entry *e, size_t n, struct rt_crl o)
{
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, n, &o, &len);
	enum pol_reason r = rt_eval(pol, st, &ca, tbs, len, o.this_update, &d, j);
	OPENSSL_free(tbs);
	return r;
}

static enum pol_reason ocsp_commit(struct pol_state *st, struct rt_journal *j, struct rt_single s)
{
	size_t len;
	uint8_t *rd = rt_ocsp(&ca, &s, 1, &len);
	enum pol_reason r = rt_eval(pol, st, &ca, rd, len, RT_NOW, &d, j);
	OPENSSL_free(rd);
	return r;
}

#define EXPECT(r, want) do { \
		enum pol_reason got_ = (r); \
		ck_assert_msg(got_ == (want), "got %s (%u), want %s: %s", pol_reason_name(got_), \
			      (unsigned)got_, pol_reason_name(want), d.sentence); \
	} while (0)
#define E(s, secs_ago, reason) { (s), RT_NOW - (secs_ago), (reason) }

/* A sequence: issuance, a CRL, an OCSP revocation, a partitioned CRL, a delta. */
static void run_sequence(struct pol_state *st, struct rt_journal *j)
{
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, j);
	rt_issue(st, "ca", B, RT_NOW + 90 * RT_DAY, j);
	rt_issue(st, "ca", C, RT_NOW + 1000, j);
	struct rt_entry e1[] = { E(A, 3600, 1) };
	EXPECT(crl_commit(st, j, e1, 1, rt_crl_default(1)), POL_R_OK);
	EXPECT(ocsp_commit(st, j, rt_single(B, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 60, 4)), POL_R_OK);
	struct rt_crl o = rt_crl_default(1);
	o.idp = IDP1;
	struct rt_entry e2[] = { E(C, 30, -1) };
	EXPECT(crl_commit(st, j, e2, 1, o), POL_R_OK);
	o = rt_crl_default(2);
	o.delta_base = 1;
	struct rt_entry e3[] = { E(B, 60, 4), E(C, 30, -1) };
	EXPECT(crl_commit(st, j, e3, 2, o), POL_R_OK);
}

/* Probes whose answers depend on every part of the state. */
static void probe(struct pol_state *s1, struct pol_state *s2)
{
	struct rt_entry all[] = { E(A, 3600, 1), E(B, 60, 4), E(C, 30, -1) };
	struct rt_entry no_b[] = { E(A, 3600, 1), E(C, 30, -1) };
	struct rt_entry moved[] = { E(A, 3599, 1), E(B, 60, 4), E(C, 30, -1) };
	EXPECT(crl_same(s1, s2, all, 3, rt_crl_default(3)), POL_R_OK);
	EXPECT(crl_same(s1, s2, no_b, 2, rt_crl_default(3)), POL_R_CRL_UNREVOKED);
	EXPECT(crl_same(s1, s2, moved, 3, rt_crl_default(3)), POL_R_REVOCATION_CHANGED);
	EXPECT(crl_same(s1, s2, all, 3, rt_crl_default(2)), POL_R_CRL_NUMBER_NOT_INCREASING);
	struct rt_crl o = rt_crl_default(3);
	o.delta_base = 1;
	EXPECT(crl_same(s1, s2, NULL, 0, o), POL_R_CRL_DELTA_INCOMPLETE);
	o.idp = IDP1;
	o.delta_base = -1;
	EXPECT(crl_same(s1, s2, NULL, 0, o), POL_R_CRL_UNREVOKED);
	o.number = 1;
	EXPECT(crl_same(s1, s2, all + 2, 1, o), POL_R_CRL_NUMBER_NOT_INCREASING);
	/* C expires at RT_NOW + 1000: a full CRL after that may drop it */
	struct rt_crl late = rt_crl_default(3);
	late.this_update = RT_NOW + 2000;
	late.next_update = late.this_update + RT_DAY;
	EXPECT(crl_same(s1, s2, all, 2, late), POL_R_OK);
	EXPECT(ocsp_same(s1, s2, rt_single(B, V_OCSP_CERTSTATUS_GOOD, 0, -1)),
	       POL_R_OCSP_GOOD_REVOKED);
	EXPECT(ocsp_same(s1, s2, rt_single(A, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 3600, 1)),
	       POL_R_OK);
	EXPECT(ocsp_same(s1, s2, rt_single(B, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 60, 1)),
	       POL_R_REVOCATION_CHANGED);
}

START_TEST(test_revstate_replay_gives_identical_decisions)
{
	struct pol_state *st = NULL;
	static struct rt_journal j;
	ck_assert(pol_state_new(NULL, NULL, &st));
	run_sequence(st, &j);
	struct pol_state *re = rt_replay(&j);
	ck_assert_uint_eq(pol_state_num_revocations(re), pol_state_num_revocations(st));
	ck_assert_uint_eq(pol_state_num_revocations(st), 3);
	ck_assert_uint_eq(pol_state_num_serials(re), pol_state_num_serials(st));
	probe(st, re);
	rt_journal_free(&j);
	pol_state_free(re);
	pol_state_free(st);
}
END_TEST

START_TEST(test_revstate_restart_in_the_middle_keeps_the_state)
{
	struct pol_state *st = NULL;
	static struct rt_journal j;
	ck_assert(pol_state_new(NULL, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, &j);
	struct rt_entry e1[] = { E(A, 3600, 1) };
	EXPECT(crl_commit(st, &j, e1, 1, rt_crl_default(1)), POL_R_OK);
	EXPECT(ocsp_commit(st, &j, rt_single(C, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 60, -1)),
	       POL_R_OK);
	pol_state_free(st); /* the enclave stops */
	st = rt_replay(&j);
	EXPECT(crl_commit(st, &j, e1, 1, rt_crl_default(2)), POL_R_CRL_UNREVOKED); /* C missing */
	struct rt_entry e2[] = { E(A, 3600, 1), E(C, 60, -1) };
	EXPECT(crl_commit(st, &j, e2, 2, rt_crl_default(1)), POL_R_CRL_NUMBER_NOT_INCREASING);
	EXPECT(crl_commit(st, &j, e2, 2, rt_crl_default(2)), POL_R_OK);
	EXPECT(ocsp_commit(st, &j, rt_single(A, V_OCSP_CERTSTATUS_GOOD, 0, -1)),
	       POL_R_OCSP_GOOD_REVOKED);
	rt_journal_free(&j);
	pol_state_free(st);
}
END_TEST

#define MANY 300

START_TEST(test_revstate_crl_with_more_new_revocations_than_inline)
{
	struct pol_state *st = NULL;
	static struct rt_journal j;
	static struct rt_entry e[MANY];
	ck_assert(pol_state_new(NULL, NULL, &st));
	for (int i = 0; i < MANY; i++)
		e[i] = (struct rt_entry){ 0x100000L + i, RT_NOW - 3600 - i, i % 3 == 0 ? 1 : -1 };
	EXPECT(crl_commit(st, &j, e, MANY, rt_crl_default(1)), POL_R_OK);
	ck_assert_uint_eq(j.sum[0].num_revocations, MANY);
	ck_assert_uint_eq(pol_state_num_revocations(st), MANY);
	/* the inline array holds only the first ones: plain apply refuses, the full list works */
	struct pol_state *re = NULL;
	ck_assert(pol_state_new(NULL, NULL, &re));
	ck_assert(!pol_state_apply(re, &j.sum[0]));
	ck_assert_uint_eq(pol_state_num_revocations(re), 0);
	ck_assert(!pol_state_apply_revocations(re, &j.sum[0], j.revs[0], MANY - 1));
	ck_assert(pol_state_apply_revocations(re, &j.sum[0], j.revs[0], MANY));
	ck_assert_uint_eq(pol_state_num_revocations(re), MANY);
	EXPECT(crl_same(st, re, e, MANY - 1, rt_crl_default(2)), POL_R_CRL_UNREVOKED);
	EXPECT(crl_same(st, re, e, MANY, rt_crl_default(2)), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 0);
	pol_state_free(re);
	rt_journal_free(&j);
	pol_state_free(st);
}
END_TEST

START_TEST(test_revstate_full_table_refuses_and_drops_expired)
{
	struct pol_state *st = NULL;
	static struct rt_journal j;
	struct pol_state_limits lim = { .max_serials = 16, .max_buckets = 16, .max_revocations = 3 };
	ck_assert(pol_state_new(&lim, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 1000, NULL);
	rt_issue(st, "ca", B, RT_NOW + 1000, NULL);
	struct rt_entry e[] = { E(A, 60, 1), E(B, 60, 1), E(0x2001, 60, 1), E(0x2002, 60, 1) };
	EXPECT(crl_commit(st, &j, e, 4, rt_crl_default(1)), POL_R_REVOCATION_STATE_FULL);
	EXPECT(crl_commit(st, &j, e, 3, rt_crl_default(1)), POL_R_OK);
	/* after A and B expired, their revocations may go; the table makes room */
	struct rt_crl o = rt_crl_default(2);
	o.this_update = RT_NOW + 2000;
	o.next_update = o.this_update + RT_DAY;
	struct rt_entry later[] = { E(0x2001, 60, 1), E(0x2002, 60 - 2000, 1) };
	EXPECT(crl_commit(st, &j, later, 2, o), POL_R_OK);
	ck_assert_uint_eq(pol_state_num_revocations(st), 2);
	/* unknown notAfter: never dropped */
	o.number = 3;
	struct rt_entry more[] = { E(0x2001, 60, 1), E(0x2002, 60 - 2000, 1), E(0x2003, -1000, 1),
				   E(0x2004, -1000, 1) };
	EXPECT(crl_commit(st, &j, more, 4, o), POL_R_REVOCATION_STATE_FULL);
	rt_journal_free(&j);
	pol_state_free(st);
}
END_TEST

START_TEST(test_revstate_scope_table_is_bounded)
{
	struct pol_state *st = NULL;
	char idp[128];
	ck_assert(pol_state_new(NULL, NULL, &st));
	for (unsigned i = 0; i <= POL_STATE_MAX_CRL_SCOPES; i++) {
		struct rt_crl o = rt_crl_default(1);
		snprintf(idp, sizeof(idp), "critical,fullname:URI:http://crl.example.com/%u.crl", i);
		o.idp = idp;
		EXPECT(crl_commit(st, NULL, NULL, 0, o),
		       i < POL_STATE_MAX_CRL_SCOPES ? POL_R_OK : POL_R_REVOCATION_STATE_FULL);
		if (d.allowed)
			ck_assert(pol_state_commit(st, &d));
	}
	pol_state_free(st);
}
END_TEST

START_TEST(test_revstate_apply_refuses_malformed_summaries)
{
	struct pol_state *st = NULL;
	static struct pol_summary s;
	ck_assert(pol_state_new(NULL, NULL, &st));
	memset(&s, 0, sizeof(s));
	s.kind = POL_KIND_OCSP_RESPONSE;
	s.allowed = true;
	s.time_ns = RT_NS(RT_NOW);
	strcpy(s.key_label, "ca");
	s.num_revocations = 1;
	s.revocations[0].serial_len = (uint8_t)rt_serial(A, s.revocations[0].serial);
	s.revocations[0].source = POL_REV_SRC_OCSP;
	s.revocations[0].reason = -1;
	s.revocations[0].time = RT_NOW - 60;
	struct pol_summary bad = s;
	bad.revocations[0].reason = 8;
	ck_assert(!pol_state_apply(st, &bad));
	bad = s;
	bad.revocations[0].source = POL_REV_SRC_CRL;
	ck_assert(!pol_state_apply(st, &bad));
	bad = s;
	bad.revocations[0].serial_len = 0;
	ck_assert(!pol_state_apply(st, &bad));
	bad = s;
	bad.revocations[0].serial[0] = 0x80; /* negative */
	ck_assert(!pol_state_apply(st, &bad));
	bad = s;
	bad.kind = POL_KIND_TBS_CRL; /* no CRL number */
	bad.revocations[0].source = POL_REV_SRC_CRL;
	ck_assert(!pol_state_apply(st, &bad));
	bad = s;
	bad.num_revocations = POL_SUMMARY_MAX_REVOCATIONS + 1;
	ck_assert(!pol_state_apply(st, &bad));
	ck_assert(!pol_state_apply_revocations(st, &s, s.revocations, 2));
	ck_assert_uint_eq(pol_state_num_revocations(st), 0);
	bad = s;
	bad.allowed = false; /* refused decisions change nothing */
	ck_assert(pol_state_apply(st, &bad));
	ck_assert_uint_eq(pol_state_num_revocations(st), 0);
	ck_assert(pol_state_apply(st, &s));
	ck_assert_uint_eq(pol_state_num_revocations(st), 1);
	pol_state_free(st);
}
END_TEST

START_TEST(test_revstate_wire_form_round_trips_and_rejects)
{
	struct pol_revocation r, back;
	uint8_t w[POL_REVOCATION_WIRE_MAX];
	memset(&r, 0, sizeof(r));
	r.serial_len = (uint8_t)rt_serial(0x7a3b9c1d2e4f5061L, r.serial);
	r.reason = 1;
	r.source = POL_REV_SRC_CRL;
	r.time = -12345; /* before 1970 still encodes */
	size_t n = pol_revocation_encode(&r, w);
	ck_assert_uint_eq(n, 1u + r.serial_len + 10u);
	ck_assert(pol_revocation_decode(w, n, &back));
	ck_assert(memcmp(&r, &back, sizeof(r)) == 0);
	ck_assert(!pol_revocation_decode(w, n - 1, &back));
	ck_assert(!pol_revocation_decode(NULL, 0, &back));
	w[n - 2] = 7; /* reason 7 does not exist */
	ck_assert(!pol_revocation_decode(w, n, &back));
	w[n - 2] = 1;
	w[n - 1] = 3; /* no such source */
	ck_assert(!pol_revocation_decode(w, n, &back));
	w[0] = POL_RFC_SERIAL_MAX + 1;
	ck_assert(!pol_revocation_decode(w, n, &back));
}
END_TEST

START_TEST(test_revstate_policy_loader_checks_revocation_blocks)
{
	static const char *const bad[] = {
		"{\"version\":1,\"authority\":{\"crl\":{\"maxValidity\":\"0s\"}},\"profiles\":{}}",
		"{\"version\":1,\"authority\":{\"crl\":{\"bogus\":true}},\"profiles\":{}}",
		"{\"version\":1,\"authority\":{\"ocsp\":{\"nonce\":\"sometimes\"}},\"profiles\":{}}",
		"{\"version\":1,\"authority\":{\"ocsp\":{\"minValidity\":\"2d\",\"maxValidity\":\"1d\"}},"
		"\"profiles\":{}}",
		"{\"version\":1,\"signingKeys\":{\"ca\":{\"crl\":{\"requireIssuedSerials\":1}}},"
		"\"profiles\":{}}",
	};
	static const char *const paths[] = { "authority.crl.maxValidity", "authority.crl",
					     "authority.ocsp.nonce", "authority.ocsp.minValidity",
					     "signingKeys.ca.crl.requireIssuedSerials" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pol_policy *p = NULL;
		struct pol_load_error err;
		ck_assert_msg(!pol_policy_load(bad[i], strlen(bad[i]), &p, &err), "%s", bad[i]);
		ck_assert_msg(strncmp(err.path, paths[i], strlen(paths[i])) == 0, "%s: %s", err.path,
			      err.msg);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy_revstate");
	TCase *tc = tcase_create("revstate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_revstate_replay_gives_identical_decisions);
	tcase_add_test(tc, test_revstate_restart_in_the_middle_keeps_the_state);
	tcase_add_test(tc, test_revstate_crl_with_more_new_revocations_than_inline);
	tcase_add_test(tc, test_revstate_full_table_refuses_and_drops_expired);
	tcase_add_test(tc, test_revstate_scope_table_is_bounded);
	tcase_add_test(tc, test_revstate_apply_refuses_malformed_summaries);
	tcase_add_test(tc, test_revstate_wire_form_round_trips_and_rejects);
	tcase_add_test(tc, test_revstate_policy_loader_checks_revocation_blocks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
