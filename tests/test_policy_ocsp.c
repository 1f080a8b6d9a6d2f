/*
 * test_policy_ocsp.c - the rules for an OCSP ResponseData (issue 5 §2): ResponderID, CertID
 * hashes, "good" only for issued, unexpired, unrevoked serials, "revoked" consistent with
 * the record (and then binding CRLs), "unknown" always, thisUpdate / nextUpdate /
 * producedAt, nonce, and delegated responders certified by a Warden key.
 */
#include "tests/policy/revtest.h"

static struct pt_ca ca;
static struct pol_policy *pol;
static struct pol_state *st;
static struct pol_decision d;

#define A 0x1001L
#define B 0x1002L /* expires at RT_NOW + 1 day */
#define X 0x7777L /* never issued */
#define GOOD V_OCSP_CERTSTATUS_GOOD
#define REVOKED V_OCSP_CERTSTATUS_REVOKED
#define UNKNOWN V_OCSP_CERTSTATUS_UNKNOWN

#define EXPECT(r, want) do { \
		enum pol_reason got_ = (r); \
		ck_assert_msg(got_ == (want), "got %s (%u), want %s: %s", pol_reason_name(got_), \
			      (unsigned)got_, pol_reason_name(want), d.sentence); \
	} while (0)

static void setup(void)
{
	pt_ca_init(&ca, "p256");
	pol = pt_policy(RT_POLICY);
	ck_assert(pol_state_new(NULL, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, NULL);
	rt_issue(st, "ca", B, RT_NOW + RT_DAY, NULL);
}

static void teardown(void)
{
	pol_state_free(st);
	pol_policy_free(pol);
	pt_ca_free(&ca);
}

static enum pol_reason eval_rd(struct pt_ca *signer, uint8_t *rd, size_t len, int64_t now_s)
{
	static struct rt_journal j;
	enum pol_reason r = rt_eval(pol, st, signer, rd, len, now_s, &d, &j);
	rt_journal_free(&j);
	OPENSSL_free(rd);
	return r;
}

static enum pol_reason ocsp(const struct rt_single *s, size_t n)
{
	size_t len;
	uint8_t *rd = rt_ocsp(&ca, s, n, &len);
	return eval_rd(&ca, rd, len, RT_NOW);
}

static enum pol_reason one(long serial, int status, int64_t rev_time, int reason)
{
	struct rt_single s = rt_single(serial, status, rev_time, reason);
	return ocsp(&s, 1);
}

static enum pol_reason crl(const struct rt_entry *e, size_t n, long number)
{
	static struct rt_journal j;
	struct rt_crl o = rt_crl_default(number);
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, n, &o, &len);
	enum pol_reason r = rt_eval(pol, st, &ca, tbs, len, RT_NOW, &d, &j);
	rt_journal_free(&j);
	OPENSSL_free(tbs);
	return r;
}

START_TEST(test_ocsp_good_for_issued_serial_is_allowed)
{
	EXPECT(one(A, GOOD, 0, -1), POL_R_OK);
	ck_assert_uint_eq(d.summary.kind, POL_KIND_OCSP_RESPONSE);
	ck_assert_uint_eq(d.summary.num_entries, 1);
	ck_assert_uint_eq(d.summary.num_revocations, 0);
	ck_assert_int_eq(d.summary.this_update, RT_NOW);
}
END_TEST

START_TEST(test_ocsp_good_for_never_issued_serial_is_refused)
{
	EXPECT(one(X, GOOD, 0, -1), POL_R_OCSP_GOOD_NOT_ISSUED);
	ck_assert_str_eq(d.summary.serial_hex, "7777");
}
END_TEST

START_TEST(test_ocsp_good_for_expired_serial_is_refused)
{
	struct rt_single s = rt_single(B, GOOD, 0, -1);
	int64_t later = RT_NOW + 2 * RT_DAY;
	s.this_update = later;
	s.next_update = later + RT_DAY;
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 0, later, &len);
	EXPECT(eval_rd(&ca, rd, len, later), POL_R_OCSP_GOOD_EXPIRED);
}
END_TEST

START_TEST(test_ocsp_good_for_revoked_serial_is_refused)
{
	struct rt_entry e[] = { { A, RT_NOW - 3600, 1 } };
	EXPECT(crl(e, 1, 1), POL_R_OK);
	EXPECT(one(A, GOOD, 0, -1), POL_R_OCSP_GOOD_REVOKED);
}
END_TEST

START_TEST(test_ocsp_revoked_must_match_the_crl)
{
	struct rt_entry e[] = { { A, RT_NOW - 3600, 1 } };
	EXPECT(crl(e, 1, 1), POL_R_OK);
	EXPECT(one(A, REVOKED, RT_NOW - 3600, 1), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 0);
	EXPECT(one(A, REVOKED, RT_NOW - 3599, 1), POL_R_REVOCATION_CHANGED);
	EXPECT(one(A, REVOKED, RT_NOW - 3600, 4), POL_R_REVOCATION_CHANGED);
	EXPECT(one(A, REVOKED, RT_NOW - 3600, -1), POL_R_REVOCATION_CHANGED);
}
END_TEST

START_TEST(test_ocsp_first_revocation_binds_later_crls)
{
	EXPECT(one(A, REVOKED, RT_NOW - 60, 1), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 1);
	ck_assert_int_eq(d.summary.revocations[0].source, POL_REV_SRC_OCSP);
	ck_assert_uint_eq(pol_state_num_revocations(st), 1);
	EXPECT(one(A, GOOD, 0, -1), POL_R_OCSP_GOOD_REVOKED);
	EXPECT(one(A, REVOKED, RT_NOW - 61, 1), POL_R_REVOCATION_CHANGED);
	EXPECT(crl(NULL, 0, 1), POL_R_CRL_UNREVOKED);
	ck_assert_msg(strstr(d.sentence, "OCSP") != NULL, "%s", d.sentence);
	struct rt_entry wrong[] = { { A, RT_NOW - 60, 4 } };
	EXPECT(crl(wrong, 1, 1), POL_R_REVOCATION_CHANGED);
	struct rt_entry e[] = { { A, RT_NOW - 60, 1 } };
	EXPECT(crl(e, 1, 1), POL_R_OK);
	ck_assert_uint_eq(d.summary.num_revocations, 0);
}
END_TEST

START_TEST(test_ocsp_unknown_is_always_allowed)
{
	EXPECT(one(X, UNKNOWN, 0, -1), POL_R_OK);
	EXPECT(one(A, UNKNOWN, 0, -1), POL_R_OK);
}
END_TEST

START_TEST(test_ocsp_revoked_rules)
{
	EXPECT(one(X, REVOKED, RT_NOW + 60, 1), POL_R_REVOCATION_DATE);
	EXPECT(one(X, REVOKED, RT_NOW - 60, 8), POL_R_OCSP_SERIAL);
	struct rt_single twice[] = { rt_single(A, GOOD, 0, -1), rt_single(A, REVOKED, RT_NOW, 1) };
	EXPECT(ocsp(twice, 2), POL_R_OCSP_SERIAL);
	EXPECT(one(X, REVOKED, RT_NOW - 60, -1), POL_R_OK); /* never issued: still recorded */
	EXPECT(one(X, GOOD, 0, -1), POL_R_OCSP_GOOD_REVOKED);
}
END_TEST

START_TEST(test_ocsp_responder_id_must_name_the_signing_key)
{
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OK); /* byKey */
	struct pt_ca other;
	pt_ca_init(&other, "p256");
	rd = rt_ocsp_rd(&ca, other.cert, other.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_RESPONDER);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(other.cert), "O", MBSTRING_ASC,
				   (const unsigned char *)"Elsewhere", -1, -1, 0);
	rd = rt_ocsp_rd(&ca, other.cert, other.key, &s, 1, 0, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_RESPONDER); /* byName */
	/* CertIDs naming another CA */
	rd = rt_ocsp_rd(&other, ca.cert, ca.key, &s, 1, 0, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_CERT_ID);
	pt_ca_free(&other);
}
END_TEST

START_TEST(test_ocsp_cert_id_hash_algorithms)
{
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	s.md = EVP_sha256();
	EXPECT(ocsp(&s, 1), POL_R_OK);
	s.md = EVP_sha384();
	EXPECT(ocsp(&s, 1), POL_R_OK);
	s.md = EVP_sha512();
	EXPECT(ocsp(&s, 1), POL_R_OK);
	s.md = EVP_sha224();
	EXPECT(ocsp(&s, 1), POL_R_OCSP_CERT_ID);
}
END_TEST

START_TEST(test_ocsp_validity_rules)
{
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	s.this_update = RT_NOW - 301;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_THIS_UPDATE);
	s.this_update = RT_NOW + 301;
	s.next_update = s.this_update + RT_DAY;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_THIS_UPDATE);
	s = rt_single(A, GOOD, 0, -1);
	s.next_update = 0;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_VALIDITY);
	s.next_update = RT_NOW + 8 * 3600 - 1;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_VALIDITY);
	s.next_update = RT_NOW + 8 * 3600;
	EXPECT(ocsp(&s, 1), POL_R_OK);
	s.next_update = RT_NOW + 10 * RT_DAY + 1;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_VALIDITY);
	s.next_update = RT_NOW + 10 * RT_DAY;
	EXPECT(ocsp(&s, 1), POL_R_OK);
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"authority\":{\"ocsp\":{\"minValidity\":\"1h\","
			"\"maxValidity\":\"1d\"}},\"profiles\":{}}");
	s.next_update = RT_NOW + 2 * 3600;
	EXPECT(ocsp(&s, 1), POL_R_OK);
	s.next_update = RT_NOW + 2 * RT_DAY;
	EXPECT(ocsp(&s, 1), POL_R_OCSP_VALIDITY);
}
END_TEST

START_TEST(test_ocsp_produced_at_and_empty)
{
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 0, RT_NOW - 3600, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_PRODUCED_AT);
	rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 0, 0, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_EMPTY);
}
END_TEST

START_TEST(test_ocsp_nonce_per_policy)
{
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 1, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OK);
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"signingKeys\":{\"ca\":{\"ocsp\":{\"nonce\":\"forbid\"}}},"
			"\"profiles\":{}}");
	rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 1, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_NONCE);
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"signingKeys\":{\"ca\":{\"ocsp\":{\"nonce\":\"require\"}}},"
			"\"profiles\":{}}");
	rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 0, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OCSP_NONCE);
	rd = rt_ocsp_rd(&ca, ca.cert, ca.key, &s, 1, 0, 1, RT_NOW, &len);
	EXPECT(eval_rd(&ca, rd, len, RT_NOW), POL_R_OK);
}
END_TEST

/* A responder key with a certificate the CA issued through the policy engine. */
struct responder {
	struct pt_ca r;
	X509 *cert;
};

static void responder_init(struct responder *rs, bool ocsp_eku)
{
	memset(rs, 0, sizeof(*rs));
	rs->r.key = tu_key("p256");
	rs->cert = tu_leaf(ca.cert, rs->r.key, "Test OCSP Responder", PT_SERIAL + 7);
	ck_assert(tu_ext_conf(rs->cert, ca.cert, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert(tu_ext_conf(rs->cert, ca.cert, NID_key_usage, "critical,digitalSignature"));
	ck_assert(tu_ext_conf(rs->cert, ca.cert, NID_ext_key_usage,
			      ocsp_eku ? "OCSPSigning" : "clientAuth"));
	ck_assert(tu_ext_conf(rs->cert, ca.cert, NID_authority_key_identifier, "keyid:always"));
	size_t len;
	uint8_t *tbs = tu_tbs(rs->cert, ca.key, EVP_sha256(), -1, &len);
	struct pol_policy *cp = pt_policy(
		"{\"version\":1,\"profiles\":{\"ocsp\":{\"match\":{},\"subject\":{\"requireSAN\":"
		"false},\"extensions\":{\"extKeyUsage\":{\"allowed\":[\"OCSPSigning\","
		"\"clientAuth\"]}}}}}");
	struct rt_journal *j = calloc(1, sizeof(*j));
	EXPECT(rt_eval(cp, st, &ca, tbs, len, RT_NOW, &d, j), POL_R_OK);
	ck_assert_uint_eq(d.summary.ocsp_signer, ocsp_eku);
	rt_journal_free(j);
	free(j);
	pol_policy_free(cp);
	OPENSSL_free(tbs);
	rs->r.cert = rs->cert;
	int n = i2d_X509_NAME(X509_get_subject_name(rs->cert), &rs->r.subject);
	rs->r.subject_len = (size_t)n;
	n = i2d_PUBKEY(rs->r.key, &rs->r.spki);
	rs->r.spki_len = (size_t)n;
	rs->r.info = ca.info;
	rs->r.info.label = "responder";
	rs->r.info.spki_der = rs->r.spki;
	rs->r.info.spki_len = rs->r.spki_len;
	rs->r.info.subject_der = rs->r.subject;
	rs->r.info.subject_len = rs->r.subject_len;
	rs->r.info.ski = NULL;
	rs->r.info.ski_len = 0;
}

START_TEST(test_ocsp_delegated_responder_certified_by_this_ca)
{
	struct responder rs;
	responder_init(&rs, true);
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OK);
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 0, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OK); /* byName */
	s = rt_single(X, GOOD, 0, -1);
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OCSP_GOOD_NOT_ISSUED);
	/* a revocation it answers first is the CA's: the CA's next CRL must carry it */
	s = rt_single(A, REVOKED, RT_NOW - 60, 1);
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OK);
	ck_assert_str_eq(d.summary.ocsp_issuer_label, "ca");
	EXPECT(crl(NULL, 0, 1), POL_R_CRL_UNREVOKED);
	EXPECT(one(A, GOOD, 0, -1), POL_R_OCSP_GOOD_REVOKED);
	/* SHA-384 CertIDs are not kept for delegated responders */
	s = rt_single(A, REVOKED, RT_NOW - 60, 1);
	s.md = EVP_sha384();
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OCSP_CERT_ID);
	/* expired responder certificate */
	s = rt_single(A, REVOKED, RT_NOW + 200 * RT_DAY - 60, 1);
	s.this_update = RT_NOW + 200 * RT_DAY;
	s.next_update = s.this_update + RT_DAY;
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, s.this_update, &len);
	EXPECT(eval_rd(&rs.r, rd, len, s.this_update), POL_R_OCSP_RESPONDER);
	/* delegation switched off */
	pol_policy_free(pol);
	pol = pt_policy("{\"version\":1,\"authority\":{\"ocsp\":{\"allowDelegatedResponders\":"
			"false}},\"profiles\":{}}");
	s = rt_single(A, REVOKED, RT_NOW - 60, 1);
	rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OCSP_RESPONDER);
	OPENSSL_free(rs.r.subject);
	OPENSSL_free(rs.r.spki);
	X509_free(rs.cert);
	EVP_PKEY_free(rs.r.key);
}
END_TEST

START_TEST(test_ocsp_key_without_ocsp_signing_cert_is_not_a_responder)
{
	struct responder rs;
	responder_init(&rs, false);
	struct rt_single s = rt_single(A, GOOD, 0, -1);
	size_t len;
	uint8_t *rd = rt_ocsp_rd(&ca, rs.cert, rs.r.key, &s, 1, 1, 0, RT_NOW, &len);
	EXPECT(eval_rd(&rs.r, rd, len, RT_NOW), POL_R_OCSP_CERT_ID);
	OPENSSL_free(rs.r.subject);
	OPENSSL_free(rs.r.spki);
	X509_free(rs.cert);
	EVP_PKEY_free(rs.r.key);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy_ocsp");
	TCase *tc = tcase_create("ocsp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ocsp_good_for_issued_serial_is_allowed);
	tcase_add_test(tc, test_ocsp_good_for_never_issued_serial_is_refused);
	tcase_add_test(tc, test_ocsp_good_for_expired_serial_is_refused);
	tcase_add_test(tc, test_ocsp_good_for_revoked_serial_is_refused);
	tcase_add_test(tc, test_ocsp_revoked_must_match_the_crl);
	tcase_add_test(tc, test_ocsp_first_revocation_binds_later_crls);
	tcase_add_test(tc, test_ocsp_unknown_is_always_allowed);
	tcase_add_test(tc, test_ocsp_revoked_rules);
	tcase_add_test(tc, test_ocsp_responder_id_must_name_the_signing_key);
	tcase_add_test(tc, test_ocsp_cert_id_hash_algorithms);
	tcase_add_test(tc, test_ocsp_validity_rules);
	tcase_add_test(tc, test_ocsp_produced_at_and_empty);
	tcase_add_test(tc, test_ocsp_nonce_per_policy);
	tcase_add_test(tc, test_ocsp_delegated_responder_certified_by_this_ca);
	tcase_add_test(tc, test_ocsp_key_without_ocsp_signing_cert_is_not_a_responder);
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
