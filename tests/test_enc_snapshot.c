/*
 * test_enc_snapshot.c - the enclave's state snapshots (enclave/enc_snapshot.c and the
 * start-up in enc_audit.c), in process: the blob round-trips and refuses what is not
 * one; enc_snapshot_maybe writes one only when due, with the PIN count the login records
 * imply even while a LOGIN has not yet updated the live count; enc_audit_start takes its state from the newest snapshot (a serial that only
 * the snapshot knows is there) plus the records after it, and from a full replay when the
 * blob does not decode.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc.h"

#define TEMPLATE "/tmp/warden-test-encsnap.XXXXXX"
#define POLICY "{\"version\":1,\"profiles\":{}}"
#define T_NS (1700000000LL * 1000000000LL)

static char dir[sizeof(TEMPLATE)];

static void append(struct aud_log *log, uint16_t type, struct aud_body *b, uint64_t *out_seq)
{
	uint64_t seq;
	ck_assert_int_eq(aud_body_finish(b), WARDEN_OK);
	struct aud_record rec = {.type = type, .body = b->data, .body_len = b->len};
	ck_assert_int_eq(aud_append(log, &rec, &seq), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log, seq), WARDEN_OK);
	aud_body_free(b);
	aud_body_init(b);
	if (out_seq != NULL)
		*out_seq = seq;
}

static void summary(struct pol_summary *s, uint8_t serial)
{
	memset(s, 0, sizeof(*s));
	s->kind = POL_KIND_TBS_CERT;
	s->allowed = true;
	s->time_ns = T_NS;
	snprintf(s->key_label, sizeof(s->key_label), "ca");
	s->serial[0] = serial;
	s->serial_len = 1;
	s->not_after = 4000000000LL;
}

/* An allowed SIGN record for serial, applied to st when given (as enc_decide commits). */
static uint64_t sign_record(struct aud_log *log, struct pol_state *st, uint8_t serial)
{
	static struct pol_summary s;
	static uint8_t blob[POL_SUMMARY_WIRE_MAX];
	struct aud_body b;
	uint64_t seq;

	summary(&s, serial);
	size_t n = pol_summary_encode(&s, blob, sizeof(blob));
	ck_assert_uint_gt(n, 0);
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, 1);
	aud_put_str(&b, AUD_F_KEY, "ca");
	aud_put_bytes(&b, AUD_F_POL_SUMMARY, blob, n);
	append(log, AUD_T_SIGN, &b, &seq);
	if (st != NULL)
		ck_assert(pol_state_apply(st, &s));
	return seq;
}

static void login_fail(struct aud_log *log, unsigned failures)
{
	struct aud_body b;
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_FAILURES, failures);
	append(log, AUD_T_LOGIN_FAIL, &b, NULL);
	aud_body_free(&b);
}

static struct aud_log *log_create(void)
{
	struct aud_log *log = NULL;
	struct aud_open_report rep;
	struct aud_body b;
	char err[AUD_ERR_LEN];

	memcpy(dir, TEMPLATE, sizeof(TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	aud_body_init(&b);
	aud_put_str(&b, AUD_F_TEXT, "test genesis");
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	struct aud_record genesis = {.type = AUD_T_GENESIS, .body = b.data, .body_len = b.len};
	struct aud_params p = {.dir = dir, .genesis = &genesis};
	ck_assert_msg(aud_open(&p, &log, &rep, err, sizeof(err)) == WARDEN_OK, "%s", err);
	aud_body_free(&b);
	return log;
}

static void log_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* An enclave state over log (the writer), snapshots every `every` records. */
static void writer_init(struct enc_state *st, struct aud_log *log, uint32_t every)
{
	memset(st, 0, sizeof(*st));
	st->cfg.audit_snapshot_records = every;
	st->log = log;
	ck_assert_int_eq(pthread_mutex_init(&st->login_lock, NULL), 0);
	ck_assert_int_eq(pthread_mutex_init(&st->decide_lock, NULL), 0);
	ck_assert(pol_state_new(NULL, NULL, &st->pstate));
}

/* A fresh enclave state that starts on dir. */
static void reader_start(struct enc_state *st, char *err, size_t err_len, int *rc)
{
	struct pol_load_error le;
	memset(st, 0, sizeof(*st));
	st->cfg.audit_dir = dir;
	st->cfg.policy = "/test/policy.json";
	st->cfg.token_label = "warden";
	st->cfg.audit_snapshot_records = ENC_DEFAULT_SNAPSHOT_RECORDS;
	ck_assert(pol_policy_load(POLICY, strlen(POLICY), &st->policy, &le));
	ck_assert(pol_state_new(NULL, NULL, &st->pstate));
	*rc = enc_audit_start(st, err, err_len);
}

static void reader_free(struct enc_state *st)
{
	if (st->log != NULL)
		aud_close(st->log);
	pol_state_free(st->pstate);
	pol_policy_free(st->policy);
}

static bool has(const struct enc_state *st, uint8_t serial)
{
	return pol_state_has_serial(st->pstate, "ca", &serial, 1);
}

START_TEST(test_snapshot_blob_round_trip_and_refusals)
{
	static struct enc_state st, back;
	uint8_t *blob = NULL, *m;
	size_t len;
	char why[256];
	unsigned pin = 99;
	struct pol_state *ps = NULL;
	struct pol_summary s;

	memset(&st, 0, sizeof(st));
	ck_assert(pol_state_new(NULL, NULL, &st.pstate));
	summary(&s, 0x42);
	ck_assert(pol_state_apply(st.pstate, &s));
	ck_assert_int_eq(enc_snapshot_blob(&st, 3, &blob, &len), WARDEN_OK);
	ck_assert_int_eq(enc_snapshot_load(&st, ENC_SNAPSHOT_VERSION, blob, len, &ps, &pin, why,
					   sizeof(why)),
			 WARDEN_OK);
	ck_assert_uint_eq(pin, 3);
	uint8_t ser = 0x42;
	ck_assert(pol_state_has_serial(ps, "ca", &ser, 1));
	pol_state_free(ps);

	/* each defect refused, the state NULL and the reason said */
	m = malloc(len + 1);
	struct {
		uint32_t version;
		size_t at;  /* byte to change (SIZE_MAX: none) */
		uint8_t to;
		size_t len; /* bytes given */
		const char *want;
	} bad[] = {
		{ENC_SNAPSHOT_VERSION + 1, SIZE_MAX, 0, len, "snapshot version"},
		{ENC_SNAPSHOT_VERSION, 0, 'X', len, "not an enclave snapshot"},
		{ENC_SNAPSHOT_VERSION, 11, 2, len, "not an enclave snapshot"},   /* blob version */
		{ENC_SNAPSHOT_VERSION, 15, 101, len, "PIN failure count"},
		{ENC_SNAPSHOT_VERSION, 23, 0, len, "policy state length"},
		{ENC_SNAPSHOT_VERSION, SIZE_MAX, 0, len - 1, "policy state length"},
		{ENC_SNAPSHOT_VERSION, SIZE_MAX, 0, 10, "not an enclave snapshot"},
		{ENC_SNAPSHOT_VERSION, len - 1, 0, len, "SHA-256"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(m, blob, len);
		if (bad[i].at != SIZE_MAX)
			m[bad[i].at] = bad[i].at == len - 1 ? (uint8_t)(m[len - 1] ^ 1) : bad[i].to;
		why[0] = '\0';
		ps = (struct pol_state *)1;
		pin = 77;
		ck_assert_int_eq(enc_snapshot_load(&st, bad[i].version, m, bad[i].len, &ps, &pin,
						   why, sizeof(why)),
				 WARDEN_E_AUDIT);
		ck_assert_ptr_null(ps);
		ck_assert_uint_eq(pin, 0);
		ck_assert_msg(strstr(why, bad[i].want) != NULL, "case %zu: \"%s\", want \"%s\"", i,
			      why, bad[i].want);
	}
	free(m);
	free(blob);
	pol_state_free(st.pstate);
	(void)back;
}
END_TEST

START_TEST(test_snapshot_written_when_due_with_logged_pin_count)
{
	static struct enc_state w, r;
	struct enc_peer peer = {.pid = 42, .uid = 1000, .gid = 1000};
	char err[AUD_ERR_LEN];
	int rc;
	struct aud_log *log = log_create();
	writer_init(&w, log, 5);
	uint64_t seq = sign_record(log, w.pstate, 0x11); /* seq 1: 2 records < 5 */
	enc_snapshot_maybe(&w, seq);
	ck_assert_uint_eq(w.snap_last_seq, 0);
	for (uint8_t i = 0; i < 2; i++)
		seq = sign_record(log, w.pstate, (uint8_t)(0x20 + i)); /* seq 3 */
	/* A LOGIN has written its attempt (count 3) and not yet updated the live count:
	 * the snapshot takes what the records say, as replay will. */
	ck_assert_int_eq(enc_audit_login(&w, AUD_T_LOGIN_FAIL, &peer, 3), WARDEN_OK); /* seq 4 */
	ck_assert_uint_eq(w.pin_failures, 0);
	ck_assert_uint_eq(w.pin_failures_logged, 3);
	ck_assert_uint_eq(aud_num_records(log), 5);
	enc_snapshot_maybe(&w, 4); /* due: records 0..4 */
	ck_assert_uint_eq(w.snap_last_seq, 5);
	ck_assert_uint_gt(aud_num_records(log), 5);
	/* the next one only 5 records after that */
	uint64_t n = aud_num_records(log);
	seq = sign_record(log, w.pstate, 0x30);
	enc_snapshot_maybe(&w, seq);
	ck_assert_uint_eq(aud_num_records(log), n + 1);
	/* snapshot_records 0: never */
	w.cfg.audit_snapshot_records = 0;
	for (uint8_t i = 0; i < 6; i++)
		seq = sign_record(log, w.pstate, (uint8_t)(0x40 + i));
	enc_snapshot_maybe(&w, seq);
	ck_assert_uint_eq(w.snap_last_seq, 5);
	aud_close(log);
	pol_state_free(w.pstate);
	/* started from that snapshot: the logged count, and a LOGIN_OK resets it */
	reader_start(&r, err, sizeof(err), &rc);
	ck_assert_msg(rc == WARDEN_OK, "%s", err);
	ck_assert_uint_eq(r.snap_last_seq, 5);
	ck_assert_uint_eq(r.pin_failures, 3);
	ck_assert_uint_eq(r.pin_failures_logged, 3);
	ck_assert_int_eq(pthread_mutex_init(&r.decide_lock, NULL), 0);
	ck_assert_int_eq(enc_audit_login(&r, AUD_T_LOGIN_OK, &peer, 0), WARDEN_OK);
	ck_assert_uint_eq(r.pin_failures_logged, 0);
	reader_free(&r);
	log_remove();
}
END_TEST

/* The snapshot holds a serial no record has (0x99): seeing it proves the state came from
 * the snapshot; 0x55 after the snapshot comes from replay; 0x11 before it from neither
 * replay nor anything but the snapshot. */
static uint64_t log_with_snapshot(bool bad_blob)
{
	static struct enc_state w;
	struct aud_log *log = log_create();
	writer_init(&w, log, 1);
	sign_record(log, w.pstate, 0x11);
	login_fail(log, 1);
	login_fail(log, 2);
	w.pin_failures_logged = 2;
	struct pol_summary s;
	summary(&s, 0x99);
	ck_assert(pol_state_apply(w.pstate, &s));
	uint64_t snap = 0;
	if (bad_blob) {
		static const uint8_t junk[] = "WENCSNAP\0\0\0\1\0\0\0\0\0\0\0\0\0\0\0\4abcd";
		ck_assert_int_eq(aud_snapshot_append(log, ENC_SNAPSHOT_VERSION, junk,
						     sizeof(junk) - 1, &snap),
				 WARDEN_OK);
	} else {
		enc_snapshot_maybe(&w, aud_num_records(log) - 1);
		snap = w.snap_last_seq;
		ck_assert_uint_gt(snap, 0);
	}
	sign_record(log, NULL, 0x55);
	aud_close(log);
	pol_state_free(w.pstate);
	return snap;
}

START_TEST(test_start_from_snapshot_then_replay)
{
	static struct enc_state st;
	char err[AUD_ERR_LEN];
	int rc;
	uint64_t snap = log_with_snapshot(false);
	reader_start(&st, err, sizeof(err), &rc);
	ck_assert_msg(rc == WARDEN_OK, "%s", err);
	ck_assert(has(&st, 0x99)); /* only the snapshot has it */
	ck_assert(has(&st, 0x11));
	ck_assert(has(&st, 0x55)); /* replayed after it */
	ck_assert_uint_eq(st.pin_failures, 2);
	ck_assert_uint_eq(st.snap_last_seq, snap);
	reader_free(&st);
	log_remove();
}
END_TEST

START_TEST(test_start_replays_everything_when_blob_does_not_decode)
{
	static struct enc_state st;
	char err[AUD_ERR_LEN];
	int rc;
	(void)log_with_snapshot(true);
	reader_start(&st, err, sizeof(err), &rc);
	ck_assert_msg(rc == WARDEN_OK, "%s", err);
	ck_assert(!has(&st, 0x99)); /* the snapshot was not used */
	ck_assert(has(&st, 0x11));  /* every record replayed instead */
	ck_assert(has(&st, 0x55));
	ck_assert_uint_eq(st.pin_failures, 2);
	ck_assert_uint_eq(st.snap_last_seq, 0); /* a fresh snapshot is due */
	reader_free(&st);

	/* with the genesis file gone nothing verifies from genesis: refused, never a start
	 * on an empty state (the fast-start case, which reaches the blob first, is in
	 * tests/integration/enclave_snapshot.sh) */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -f %s/audit-00000000000000000000.log", dir);
	ck_assert_int_eq(system(cmd), 0);
	reader_start(&st, err, sizeof(err), &rc);
	ck_assert_int_ne(rc, WARDEN_OK);
	ck_assert_msg(strstr(err, "missing") != NULL, "%s", err);
	ck_assert_ptr_null(st.log);
	reader_free(&st);
	log_remove();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("enc_snapshot");
	TCase *tc = tcase_create("snapshot");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_snapshot_blob_round_trip_and_refusals);
	tcase_add_test(tc, test_snapshot_written_when_due_with_logged_pin_count);
	tcase_add_test(tc, test_start_from_snapshot_then_replay);
	tcase_add_test(tc, test_start_replays_everything_when_blob_does_not_decode);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
