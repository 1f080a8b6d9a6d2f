/*
 * test_enc_audit.c - the enclave's start-up replay (enclave/enc_audit.c), in process: a log
 * written through the audit library with allowed SIGN records (their pol_summary), a
 * RECOVERY record whose refused range names one of them, and login records; then
 * enc_audit_start rebuilds the policy state and the PIN count from it, and appends its
 * config and policy records.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc.h"

#define TEMPLATE "/tmp/warden-test-encaudit.XXXXXX"
#define POLICY "{\"version\":1,\"profiles\":{}}"

static char dir[sizeof(TEMPLATE)];

static void append(struct aud_log *log, uint16_t type, struct aud_body *b)
{
	uint64_t seq;
	ck_assert_int_eq(aud_body_finish(b), WARDEN_OK);
	struct aud_record rec = {.type = type, .body = b->data, .body_len = b->len};
	ck_assert_int_eq(aud_append(log, &rec, &seq), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log, seq), WARDEN_OK);
	aud_body_free(b);
	aud_body_init(b);
}

/* An allowed SIGN record for a certificate with a one-octet serial. */
static void sign_record(struct aud_log *log, uint8_t serial, int allowed)
{
	static struct pol_summary s;
	static uint8_t blob[POL_SUMMARY_WIRE_MAX];
	struct aud_body b;

	memset(&s, 0, sizeof(s));
	s.kind = POL_KIND_TBS_CERT;
	s.allowed = allowed;
	s.time_ns = 1700000000LL * 1000000000LL;
	snprintf(s.key_label, sizeof(s.key_label), "ca");
	s.serial[0] = serial;
	s.serial_len = 1;
	s.not_after = 4000000000LL;
	size_t n = pol_summary_encode(&s, blob, sizeof(blob));
	ck_assert_uint_gt(n, 0);
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, (uint64_t)allowed);
	aud_put_str(&b, AUD_F_KEY, "ca");
	aud_put_bytes(&b, AUD_F_POL_SUMMARY, blob, n);
	append(log, AUD_T_SIGN, &b);
}

START_TEST(test_replay_rebuilds_state_skipping_refused_range)
{
	static struct enc_state st;
	struct aud_log *log = NULL;
	struct aud_open_report rep;
	struct aud_body b;
	char err[AUD_ERR_LEN];
	struct pol_load_error le;

	memcpy(dir, TEMPLATE, sizeof(TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	aud_body_init(&b);
	aud_put_str(&b, AUD_F_TEXT, "test genesis");
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	struct aud_record genesis = {.type = AUD_T_GENESIS, .body = b.data, .body_len = b.len};
	struct aud_params p = {.dir = dir, .genesis = &genesis};
	ck_assert_msg(aud_open(&p, &log, &rep, err, sizeof(err)) == WARDEN_OK, "%s", err);
	aud_body_free(&b);
	aud_body_init(&b);

	sign_record(log, 0x11, 1);                 /* seq 1: allowed, kept */
	sign_record(log, 0x22, 1);                 /* seq 2: allowed, then declared refused */
	sign_record(log, 0x33, 0);                 /* seq 3: refused: no effect */
	aud_put_uint(&b, AUD_F_REFUSED_FROM, 2);
	aud_put_uint(&b, AUD_F_REFUSED_TO, 2);
	aud_put_str(&b, AUD_F_TEXT, "test: write failure overcome");
	append(log, AUD_T_RECOVERY, &b);           /* seq 4 */
	aud_put_uint(&b, AUD_F_FAILURES, 1);
	append(log, AUD_T_LOGIN_FAIL, &b);
	append(log, AUD_T_LOGIN_OK, &b);           /* back to 0 */
	aud_put_uint(&b, AUD_F_FAILURES, 1);
	append(log, AUD_T_LOGIN_FAIL, &b);
	aud_put_uint(&b, AUD_F_FAILURES, 2);
	append(log, AUD_T_LOGIN_FAIL, &b);
	aud_body_free(&b);
	aud_close(log);

	memset(&st, 0, sizeof(st));
	st.cfg.audit_dir = dir;
	st.cfg.policy = "/test/policy.json";
	st.cfg.token_label = "warden";
	ck_assert(pol_policy_load(POLICY, strlen(POLICY), &st.policy, &le));
	ck_assert(pol_state_new(NULL, NULL, &st.pstate));
	ck_assert_msg(enc_audit_start(&st, err, sizeof(err)) == WARDEN_OK, "%s", err);

	uint8_t a = 0x11, bb = 0x22, c = 0x33;
	ck_assert(pol_state_has_serial(st.pstate, "ca", &a, 1));
	ck_assert(!pol_state_has_serial(st.pstate, "ca", &bb, 1)); /* in the refused range */
	ck_assert(!pol_state_has_serial(st.pstate, "ca", &c, 1));  /* refused decision */
	ck_assert_uint_eq(pol_state_num_serials(st.pstate), 1);
	ck_assert_uint_eq(st.pin_failures, 2);
	ck_assert_uint_eq(st.replay_overcounted, 0);
	/* then a config and a policy record were appended */
	uint64_t n = aud_num_records(st.log);
	ck_assert_uint_eq(n, 11);
	aud_close(st.log);
	pol_state_free(st.pstate);
	pol_policy_free(st.policy);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_login_replay_counts)
{
	static struct enc_state st;
	struct aud_body b;

	memset(&st, 0, sizeof(st));
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_FAILURES, 3);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	enc_login_replay(&st, AUD_T_LOGIN_FAIL, b.data, b.len);
	ck_assert_uint_eq(st.pin_failures, 3);
	enc_login_replay(&st, AUD_T_SIGN, b.data, b.len); /* not a login record */
	ck_assert_uint_eq(st.pin_failures, 3);
	enc_login_replay(&st, AUD_T_LOGIN_OK, NULL, 0);
	ck_assert_uint_eq(st.pin_failures, 0);
	enc_login_replay(&st, AUD_T_LOGIN_FAIL, NULL, 0); /* no count field: one more */
	ck_assert_uint_eq(st.pin_failures, 1);
	aud_body_free(&b);
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_FAILURES, 1000000); /* bounded */
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	enc_login_replay(&st, AUD_T_LOCKOUT, b.data, b.len);
	ck_assert_uint_eq(st.pin_failures, ENC_MAX_PIN_FAILURES);
	aud_body_free(&b);
}
END_TEST

/* `warden-admin pin unlock` writes a LOGIN_OK with the operator's fields: a lockout is
 * cleared by it, and the admin tool's count (enc_pin_failures_next) is the enclave's. */
START_TEST(test_login_replay_operator_unlock_resets_lockout)
{
	static struct enc_state st;
	struct aud_body b;

	memset(&st, 0, sizeof(st));
	st.pin_failures = ENC_DEFAULT_PIN_FAILURES; /* locked, e.g. from a snapshot */
	aud_body_init(&b);
	aud_put_str(&b, AUD_F_TEXT, "PIN unlocked by the operator (warden-admin pin unlock)");
	aud_put_str(&b, AUD_F_REASON, "ticket 42");
	aud_put_uint(&b, AUD_F_CALLER_UID, 0);
	aud_put_uint(&b, AUD_F_CALLER_PID, 4242);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	ck_assert_uint_eq(enc_pin_failures_next(ENC_DEFAULT_PIN_FAILURES, AUD_T_LOGIN_OK,
						b.data, b.len),
			  0);
	enc_login_replay(&st, AUD_T_LOGIN_OK, b.data, b.len);
	ck_assert_uint_eq(st.pin_failures, 0);
	ck_assert_uint_eq(enc_pin_failures_next(2, AUD_T_CHECKPOINT, b.data, b.len), 2);
	aud_body_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("enc_audit");
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_replay_rebuilds_state_skipping_refused_range);
	tcase_add_test(tc, test_login_replay_counts);
	tcase_add_test(tc, test_login_replay_operator_unlock_resets_lockout);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
