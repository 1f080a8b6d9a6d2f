/*
 * test_policy_crl.c - the rules for a TBSCertList (issue 5 §1): numbering per scope,
 * thisUpdate / nextUpdate, no un-revocation (until notAfter), unchanged date and reason,
 * revocation dates, requireIssuedSerials, IDP scopes, delta CRLs.  CRLs are built with
 * OpenSSL's X509_CRL API (tests/policy/revtest.h).
 */
#include "tests/policy/revtest.h"

static struct pt_ca ca;
static struct pol_policy *pol;
static struct pol_state *st;
static struct pol_decision d;

#define A 0x1001L
#define B 0x1002L
#define C 0x1003L
#define X 0x7777L /* never issued through Warden */
#define IDP1 "critical,fullname:URI:http://crl.example.com/1.crl"
#define IDP2 "critical,fullname:URI:http://crl.example.com/2.crl"

static void setup(void)
{
	pt_ca_init(&ca, "p256");
	pol = pt_policy(RT_POLICY);
	ck_assert(pol_state_new(NULL, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, NULL);
	rt_issue(st, "ca", B, RT_NOW + RT_DAY, NULL);
	rt_issue(st, "ca", C, RT_NOW + 90 * RT_DAY, NULL);
}

static void teardown(void)
{
	pol_state_free(st);
	pol_policy_free(pol);
	pt_ca_free(&ca);
}

/* Evaluates a CRL (at now_s = its thisUpdate) and commits it when allowed. */
static enum pol_reason crl_at(const struct rt_entry *e, size_t n, struct rt_crl o, int64_t now_s,
			      bool commit)
{
	static struct rt_journal j;
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, n, &o, &len);
	enum pol_reason r = rt_eval(pol, st, &ca, tbs, len, now_s, &d, commit ? &j : NULL);
	rt_journal_free(&j);
	OPENSSL_free(tbs);
	return r;
}

static enum pol_reason crl(const struct rt_entry *e, size_t n, struct rt_crl o)
{
	return crl_at(e, n, o, o.this_update, true);
}

#define EXPECT(r, want) do { \
		enum pol_reason got_ = (r); \
		ck_assert_msg(got_ == (want), "got %s (%u), want %s: %s", pol_reason_name(got_), \
			      (unsigned)got_, pol_reason_name(want), d.sentence); \
	} while (0)
#define E(s, days_ago, reason) { (s), RT_NOW - (days_ago) * RT_DAY, (reason) }

START_TEST(test_crl_first_is_allowed_and_records_revocations)
{
	struct rt_entry e[] = { E(A, 1, 1), E(X, 2, -1) };
	struct pol_revocation rv;
	uint8_t sn[POL_RFC_SERIAL_MAX];
	EXPECT(crl(e, 2, rt_crl_default(1)), POL_R_OK);
	ck_assert_uint_eq(d.summary.kind, POL_KIND_TBS_CRL);
	ck_assert_uint_eq(d.summary.num_revocations, 2);
	ck_assert_uint_eq(d.summary.num_entries, 2);
	ck_assert(d.summary.crl_scope_full);
	ck_assert_uint_eq(d.summary.crl_number_len, 1);
	ck_assert_uint_eq(d.summary.crl_number[0], 1);
	ck_assert_uint_eq(d.summary.serial_len, 0);
	ck_assert_uint_eq(pol_state_num_revocations(st), 2);
	size_t l = rt_serial(A, sn);
	ck_assert(pol_state_revocation(st, "ca", sn, l, &rv));
	ck_assert_int_eq(rv.time, RT_NOW - RT_DAY);
	ck_assert_int_eq(rv.reason, 1);
	ck_assert_int_eq(rv.source, POL_REV_SRC_CRL);
	uint8_t num[POL_CRL_NUMBER_MAX_LEN];
	size_t nl;
	ck_assert(pol_state_crl_number(st, "ca", NULL, num, &nl));
	ck_assert(nl == 1 && num[0] == 1);
	/* the same CRL content again: nothing new */
	EXPECT(crl(e, 2, rt_crl_default(2)), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 0);
}
END_TEST

START_TEST(test_crl_evaluate_does_not_mutate)
{
	struct rt_entry e[] = { E(A, 1, 1) };
	EXPECT(crl_at(e, 1, rt_crl_default(1), RT_NOW, false), POL_R_OK);
	EXPECT(crl_at(e, 1, rt_crl_default(1), RT_NOW, false), POL_R_OK);
	ck_assert_uint_eq(pol_state_num_revocations(st), 0);
	EXPECT(crl(NULL, 0, rt_crl_default(1)), POL_R_OK); /* nothing was recorded */
}
END_TEST

START_TEST(test_crl_dropping_revoked_unexpired_serial_is_refused)
{
	struct rt_entry e[] = { E(A, 1, 1), E(C, 1, 4) };
	uint8_t sn[POL_RFC_SERIAL_MAX];
	EXPECT(crl(e, 2, rt_crl_default(1)), POL_R_OK);
	EXPECT(crl(e, 1, rt_crl_default(2)), POL_R_CRL_UNREVOKED);
	size_t l = rt_serial(C, sn);
	ck_assert(d.summary.serial_len == l && memcmp(d.summary.serial, sn, l) == 0);
	ck_assert_msg(strstr(d.sentence, "1003") != NULL, "%s", d.sentence);
	EXPECT(crl(NULL, 0, rt_crl_default(2)), POL_R_CRL_UNREVOKED);
	EXPECT(crl(e, 2, rt_crl_default(2)), POL_R_OK);
}
END_TEST

START_TEST(test_crl_dropping_serial_after_not_after_is_allowed)
{
	struct rt_entry e[] = { E(B, 1, 1) }; /* B expires at RT_NOW + 1 day */
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_OK);
	struct rt_crl o = rt_crl_default(2);
	o.this_update = RT_NOW + RT_DAY / 2;
	o.next_update = o.this_update + RT_DAY;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_UNREVOKED); /* not yet expired */
	o.this_update = RT_NOW + 2 * RT_DAY;
	o.next_update = o.this_update + RT_DAY;
	EXPECT(crl(NULL, 0, o), POL_R_OK);
}
END_TEST

START_TEST(test_crl_never_issued_serial_stays_forever)
{
	struct rt_entry e[] = { E(X, 1, -1) };
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_OK);
	struct rt_crl o = rt_crl_default(2);
	o.this_update = RT_NOW + 3000 * RT_DAY;
	o.next_update = o.this_update + RT_DAY;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_UNREVOKED);
	ck_assert_msg(strstr(d.sentence, "forever") != NULL, "%s", d.sentence);
}
END_TEST

START_TEST(test_crl_number_lower_equal_or_missing_is_refused)
{
	EXPECT(crl(NULL, 0, rt_crl_default(5)), POL_R_OK);
	EXPECT(crl(NULL, 0, rt_crl_default(5)), POL_R_CRL_NUMBER_NOT_INCREASING);
	EXPECT(crl(NULL, 0, rt_crl_default(4)), POL_R_CRL_NUMBER_NOT_INCREASING);
	EXPECT(crl(NULL, 0, rt_crl_default(-1)), POL_R_CRL_NUMBER_MISSING);
	EXPECT(crl(NULL, 0, rt_crl_default(0x100)), POL_R_OK); /* compared as numbers */
	EXPECT(crl(NULL, 0, rt_crl_default(0xff)), POL_R_CRL_NUMBER_NOT_INCREASING);
}
END_TEST

START_TEST(test_crl_numbering_is_per_idp_scope)
{
	struct rt_crl o = rt_crl_default(5);
	EXPECT(crl(NULL, 0, o), POL_R_OK);
	o.number = 1;
	o.idp = IDP1;
	EXPECT(crl(NULL, 0, o), POL_R_OK); /* its own sequence */
	EXPECT(crl(NULL, 0, o), POL_R_CRL_NUMBER_NOT_INCREASING);
	o.idp = IDP2;
	EXPECT(crl(NULL, 0, o), POL_R_OK);
	o.idp = NULL;
	o.number = 5;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_NUMBER_NOT_INCREASING);
	uint8_t num[POL_CRL_NUMBER_MAX_LEN];
	size_t nl;
	ck_assert(pol_state_crl_number(st, "ca", NULL, num, &nl) && num[0] == 5);
}
END_TEST

START_TEST(test_crl_changed_date_or_reason_is_refused)
{
	struct rt_entry e[] = { E(A, 1, 1) };
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_OK);
	struct rt_entry later[] = { E(A, 0, 1) };
	EXPECT(crl(later, 1, rt_crl_default(2)), POL_R_REVOCATION_CHANGED);
	struct rt_entry other[] = { E(A, 1, 4) };
	EXPECT(crl(other, 1, rt_crl_default(2)), POL_R_REVOCATION_CHANGED);
	struct rt_entry none[] = { E(A, 1, -1) };
	EXPECT(crl(none, 1, rt_crl_default(2)), POL_R_REVOCATION_CHANGED);
	EXPECT(crl(e, 1, rt_crl_default(2)), POL_R_OK);
}
END_TEST

START_TEST(test_crl_unspecified_reason_equals_no_reason)
{
	struct rt_entry e[] = { E(A, 1, 0) };
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_OK);
	struct rt_entry none[] = { E(A, 1, -1) };
	EXPECT(crl(none, 1, rt_crl_default(2)), POL_R_OK);
}
END_TEST

START_TEST(test_crl_revocation_date_after_this_update_is_refused)
{
	struct rt_entry e[] = { { A, RT_NOW + 60, 1 } };
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_REVOCATION_DATE);
	struct rt_entry ok[] = { { A, RT_NOW, 1 } };
	EXPECT(crl(ok, 1, rt_crl_default(1)), POL_R_OK);
}
END_TEST

START_TEST(test_crl_remove_from_crl_and_duplicates_are_refused)
{
	struct rt_entry rm[] = { E(A, 1, 8) };
	EXPECT(crl(rm, 1, rt_crl_default(1)), POL_R_CRL_ENTRY);
	struct rt_entry dup[] = { E(X, 1, 1), E(X, 1, 1) };
	EXPECT(crl(dup, 2, rt_crl_default(1)), POL_R_CRL_ENTRY);
	struct rt_entry one[] = { E(A, 1, 1) };
	EXPECT(crl(one, 1, rt_crl_default(1)), POL_R_OK);
	struct rt_entry dup2[] = { E(A, 1, 1), E(A, 1, 1) }; /* a known one twice */
	EXPECT(crl(dup2, 2, rt_crl_default(2)), POL_R_CRL_ENTRY);
}
END_TEST

START_TEST(test_crl_this_update_and_next_update_rules)
{
	struct rt_crl o = rt_crl_default(1);
	EXPECT(crl_at(NULL, 0, o, RT_NOW + 301, false), POL_R_CRL_THIS_UPDATE);
	EXPECT(crl_at(NULL, 0, o, RT_NOW - 301, false), POL_R_CRL_THIS_UPDATE);
	EXPECT(crl_at(NULL, 0, o, RT_NOW + 299, false), POL_R_OK);
	o.next_update = 0;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_NEXT_UPDATE);
	o.next_update = RT_NOW + 10 * RT_DAY + 1;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_NEXT_UPDATE);
	o.next_update = RT_NOW + 10 * RT_DAY;
	EXPECT(crl(NULL, 0, o), POL_R_OK);
	/* a CA key with a one-year CRL */
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"authority\":{\"crl\":{\"clockSkew\":\"1h\"}},"
			"\"signingKeys\":{\"ca\":{\"crl\":{\"maxValidity\":\"366d\"}}},"
			"\"profiles\":{}}");
	o.number = 2;
	o.next_update = RT_NOW + 365 * RT_DAY;
	EXPECT(crl_at(NULL, 0, o, RT_NOW + 3000, true), POL_R_OK);
}
END_TEST

START_TEST(test_crl_require_issued_serials)
{
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"signingKeys\":{\"*\":{\"crl\":"
			"{\"requireIssuedSerials\":true}}},\"profiles\":{}}");
	struct rt_entry bad[] = { E(A, 1, 1), E(X, 1, 1) };
	EXPECT(crl(bad, 2, rt_crl_default(1)), POL_R_CRL_NOT_ISSUED);
	EXPECT(crl(bad, 1, rt_crl_default(1)), POL_R_OK);
}
END_TEST

START_TEST(test_crl_idp_scopes_keep_their_own_revocations)
{
	struct rt_crl o = rt_crl_default(1);
	struct rt_entry e[] = { E(A, 1, 1) };
	o.idp = IDP1;
	EXPECT(crl(e, 1, o), POL_R_OK);
	o.number = 2;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_UNREVOKED);
	o.idp = IDP2; /* another partition: A is not its business */
	EXPECT(crl(NULL, 0, o), POL_R_OK);
	EXPECT(crl(NULL, 0, rt_crl_default(1)), POL_R_CRL_UNREVOKED); /* the full CRL has all */
	EXPECT(crl(e, 1, rt_crl_default(1)), POL_R_OK);
	/* A appears in partition 2 too: from then on it stays there */
	o.number = 3;
	EXPECT(crl(e, 1, o), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 1); /* a binding, not a new revocation */
	ck_assert_uint_eq(pol_state_num_revocations(st), 1);
	o.number = 4;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_UNREVOKED);
}
END_TEST

START_TEST(test_crl_idp_must_be_critical_and_direct)
{
	struct rt_crl o = rt_crl_default(1);
	o.idp = "fullname:URI:http://crl.example.com/1.crl";
	EXPECT(crl(NULL, 0, o), POL_R_CRL_IDP);
	o.idp = "critical,fullname:URI:http://crl.example.com/1.crl,indirectCRL:TRUE";
	EXPECT(crl(NULL, 0, o), POL_R_CRL_IDP);
	o.idp = "critical,onlyuser:TRUE";
	EXPECT(crl(NULL, 0, o), POL_R_OK);
}
END_TEST

START_TEST(test_crl_delta_must_match_its_base)
{
	struct rt_entry a[] = { E(A, 2, 1) };
	struct rt_entry ab[] = { E(A, 2, 1), E(C, 1, 1) };
	struct rt_crl o = rt_crl_default(1);
	o.delta_base = 1;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_DELTA_BASE); /* no complete CRL yet */
	EXPECT(crl(a, 1, rt_crl_default(1)), POL_R_OK);
	o.number = 2;
	struct rt_entry c[] = { E(C, 1, 1) };
	EXPECT(crl(c, 1, o), POL_R_OK); /* a delta on 1 adding C */
	o.number = 3;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_DELTA_INCOMPLETE); /* C is newer than base 1 */
	o.delta_base = 2; /* 2 was a delta, not a complete CRL */
	EXPECT(crl(c, 1, o), POL_R_CRL_DELTA_BASE);
	o.delta_base = 1;
	EXPECT(crl(c, 1, o), POL_R_OK); /* A is on the base, C on the delta */
	EXPECT(crl(a, 1, rt_crl_default(4)), POL_R_CRL_UNREVOKED); /* complete: needs C */
	EXPECT(crl(ab, 2, rt_crl_default(4)), POL_R_OK);
	o.number = 5;
	o.delta_base = 4;
	EXPECT(crl(NULL, 0, o), POL_R_OK); /* nothing newer than base 4 */
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"authority\":{\"crl\":{\"allowDelta\":false}},"
			"\"profiles\":{}}");
	o.number = 6;
	EXPECT(crl(NULL, 0, o), POL_R_CRL_DELTA_DENIED);
}
END_TEST

START_TEST(test_crl_issuer_and_kind_checks_still_apply)
{
	struct pt_ca other;
	pt_ca_init(&other, "p256");
	X509_NAME_add_entry_by_txt(X509_get_subject_name(other.cert), "O", MBSTRING_ASC,
				   (const unsigned char *)"Elsewhere", -1, -1, 0);
	struct rt_crl o = rt_crl_default(1);
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&other, NULL, 0, &o, &len);
	EXPECT(rt_eval(pol, st, &ca, tbs, len, RT_NOW, &d, NULL), POL_R_ISSUER_MISMATCH);
	OPENSSL_free(tbs);
	pt_ca_free(&other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy_crl");
	TCase *tc = tcase_create("crl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crl_first_is_allowed_and_records_revocations);
	tcase_add_test(tc, test_crl_evaluate_does_not_mutate);
	tcase_add_test(tc, test_crl_dropping_revoked_unexpired_serial_is_refused);
	tcase_add_test(tc, test_crl_dropping_serial_after_not_after_is_allowed);
	tcase_add_test(tc, test_crl_never_issued_serial_stays_forever);
	tcase_add_test(tc, test_crl_number_lower_equal_or_missing_is_refused);
	tcase_add_test(tc, test_crl_numbering_is_per_idp_scope);
	tcase_add_test(tc, test_crl_changed_date_or_reason_is_refused);
	tcase_add_test(tc, test_crl_unspecified_reason_equals_no_reason);
	tcase_add_test(tc, test_crl_revocation_date_after_this_update_is_refused);
	tcase_add_test(tc, test_crl_remove_from_crl_and_duplicates_are_refused);
	tcase_add_test(tc, test_crl_this_update_and_next_update_rules);
	tcase_add_test(tc, test_crl_require_issued_serials);
	tcase_add_test(tc, test_crl_idp_scopes_keep_their_own_revocations);
	tcase_add_test(tc, test_crl_idp_must_be_critical_and_direct);
	tcase_add_test(tc, test_crl_delta_must_match_its_base);
	tcase_add_test(tc, test_crl_issuer_and_kind_checks_still_apply);
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
