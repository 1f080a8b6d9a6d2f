/*
 * test_audit_snapshot.c - state snapshots inside the log (aud_snapshot_append, and
 * aud_open with a snapshot callback, with and without fast start).
 *
 * The "state" here is what a replay derives from SIGN records (a count and a sum of
 * seqs of the allowed ones); its snapshot blob is that struct followed by filler, so a
 * multi-chunk blob can be checked byte for byte.
 */
#include <pthread.h>

#include "test_audit_util.h"

#define FILLER_LEN (AUD_SNAPSHOT_CHUNK * 2u + 12345u) /* three chunks */

struct state {
	uint64_t allowed, seq_sum, records, snapshots_seen;
	uint64_t from_snapshot; /* seq the snapshot covered up to, 0 if none */
	bool filler_ok;
};

static char *dir, priv[512], pub[512];

static void setup(void)
{
	char err[AUD_ERR_LEN];

	dir = tu_tmpdir();
	snprintf(priv, sizeof priv, "%s/audit.key", dir);
	snprintf(pub, sizeof pub, "%s/log/audit.pub", dir);
	char logdir[512];
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	ck_assert_int_eq(mkdir(logdir, 0700), 0);
	ck_assert_msg(aud_keygen(priv, pub, err, sizeof err) == WARDEN_OK, "%s", err);
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

static int replay(void *ctx, const struct aud_rec *r)
{
	struct state *s = ctx;
	struct aud_field f;

	s->records++;
	if (r->type == AUD_T_SNAPSHOT)
		s->snapshots_seen++;
	if (r->type == AUD_T_SIGN && aud_body_find(r->body, r->body_len, AUD_F_DECISION, &f) &&
	    aud_field_uint(&f) == 1) {
		s->allowed++;
		s->seq_sum += r->seq;
	}
	return 0;
}

static uint8_t filler_byte(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 9));
}

static int on_snapshot(void *ctx, uint32_t version, const uint8_t *blob, size_t len,
		       uint64_t seq)
{
	struct state *s = ctx;

	ck_assert_uint_eq(version, 7);
	ck_assert_uint_ge(len, 2 * sizeof(uint64_t));
	memcpy(&s->allowed, blob, sizeof s->allowed);
	memcpy(&s->seq_sum, blob + 8, sizeof s->seq_sum);
	s->filler_ok = true;
	for (size_t i = 16; i < len; i++)
		if (blob[i] != filler_byte(i))
			s->filler_ok = false;
	s->from_snapshot = seq;
	return 0;
}

static char *logdir(void)
{
	static char d[512];

	snprintf(d, sizeof d, "%s/log", dir);
	return d;
}

/* Opens the log: with_key (checkpoints), snapshots used when snap, fast start. */
static int open_log(struct aud_log **log, struct state *s, bool with_key, bool snap, bool fast,
		    struct aud_open_report *rep, char *err)
{
	struct aud_record g = tu_genesis();
	struct aud_params p = {.dir = logdir(), .key_file = with_key ? priv : NULL, .genesis = &g,
			       .replay = replay, .replay_ctx = s, .fast_start = fast,
			       .checkpoint_records = 100000, .rotate_bytes = 64u * 1024u};

	if (snap) {
		p.snapshot = on_snapshot;
		p.snapshot_ctx = s;
	}
	memset(s, 0, sizeof *s);
	return aud_open(&p, log, rep, err, AUD_ERR_LEN);
}

/* Takes a snapshot of s (blob = allowed, seq_sum, then filler up to len). */
static uint64_t snapshot(struct aud_log *log, const struct state *s, size_t len)
{
	uint8_t *blob = malloc(len);
	uint64_t seq;

	ck_assert_ptr_nonnull(blob);
	memcpy(blob, &s->allowed, 8);
	memcpy(blob + 8, &s->seq_sum, 8);
	for (size_t i = 16; i < len; i++)
		blob[i] = filler_byte(i);
	ck_assert_int_eq(aud_snapshot_append(log, 7, blob, len, &seq), WARDEN_OK);
	free(blob);
	return seq;
}

/* A log: 300 signs, snapshot (of the replayed state), tail_signs more.  Returns the
 * snapshot's seq; *full gets the state a full replay gives. */
static uint64_t build(bool with_key, unsigned tail_signs, size_t blob_len, struct state *full)
{
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	struct state s;
	uint64_t seq;

	ck_assert_msg(open_log(&log, &s, with_key, false, false, &rep, err) == WARDEN_OK, "%s", err);
	tu_append_signs(log, 0, 300);
	aud_close(log);
	/* The state to snapshot = what replay derives now. */
	ck_assert_msg(open_log(&log, &s, with_key, false, false, &rep, err) == WARDEN_OK, "%s", err);
	seq = snapshot(log, &s, blob_len);
	ck_assert_uint_eq(seq, aud_num_records(log) - (blob_len + AUD_SNAPSHOT_CHUNK - 1) /
							  AUD_SNAPSHOT_CHUNK - (with_key ? 1 : 0));
	tu_append_signs(log, 300, tail_signs);
	aud_close(log);
	ck_assert_msg(open_log(&log, full, with_key, false, false, &rep, err) == WARDEN_OK, "%s", err);
	aud_close(log);
	return seq;
}

static void assert_same(const struct state *a, const struct state *full)
{
	ck_assert_uint_eq(a->allowed, full->allowed);
	ck_assert_uint_eq(a->seq_sum, full->seq_sum);
	ck_assert(a->filler_ok);
	ck_assert_uint_eq(a->snapshots_seen, 0); /* SNAPSHOT records never reach replay */
}

START_TEST(test_snapshot_fast_start_equals_full_replay)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint64_t seq = build(true, 200, FILLER_LEN, &full);

	ck_assert_uint_gt(full.snapshots_seen, 1); /* without a callback they are replayed */
	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert_msg(rep.fast_start, "%s", rep.snapshot_message);
	ck_assert_uint_eq(rep.snapshot_seq, seq);
	ck_assert_uint_eq(rep.verified_from, seq);
	ck_assert_uint_eq(s.from_snapshot, seq);
	assert_same(&s, &full);
	/* Only what follows the snapshot was replayed: 200 signs, the checkpoint after the
	 * snapshot, and whatever checkpoints the signs brought. */
	ck_assert_uint_lt(s.records, 220);
	ck_assert_uint_ge(s.records, 201);
	/* The log goes on as usual after a fast start. */
	tu_append_signs(log, 500, 10);
	aud_close(log);
	ck_assert_msg(open_log(&log, &full, true, false, false, &rep, err) == WARDEN_OK, "%s", err);
	aud_close(log);
	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(rep.fast_start);
	assert_same(&s, &full);
	aud_close(log);
}
END_TEST

START_TEST(test_snapshot_full_verification_replays_only_after_it)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint64_t seq = build(true, 50, 100, &full);

	ck_assert_msg(open_log(&log, &s, true, true, false, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(!rep.fast_start);
	ck_assert_uint_eq(rep.snapshot_seq, seq);
	ck_assert_uint_eq(rep.verified_from, 0);
	assert_same(&s, &full);
	aud_close(log);
}
END_TEST

START_TEST(test_snapshot_at_the_tail)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint64_t seq = build(true, 0, 64, &full);

	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(rep.fast_start);
	ck_assert_uint_eq(rep.snapshot_seq, seq);
	assert_same(&s, &full);
	ck_assert_uint_eq(s.records, 1); /* the checkpoint that signs the snapshot */
	aud_close(log);
}
END_TEST

START_TEST(test_snapshot_without_key_is_used_but_verified_from_genesis)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint64_t seq = build(false, 20, 100, &full);

	ck_assert_msg(open_log(&log, &s, false, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(!rep.fast_start);
	ck_assert_msg(strstr(rep.snapshot_message, "needs the audit key") != NULL, "%s",
		      rep.snapshot_message);
	ck_assert_uint_eq(rep.snapshot_seq, seq);
	assert_same(&s, &full);
	aud_close(log);
}
END_TEST

/* The file that starts with the snapshot. */
static void snapshot_file(uint64_t seq, char *path, size_t len)
{
	char name[AUD_FILE_NAME_LEN];

	aud_file_name(seq, name);
	tu_path(path, len, logdir(), name);
}

START_TEST(test_snapshot_corrupted_record_is_detected)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	struct aud_scan_result res;
	char err[AUD_ERR_LEN], path[1024], name[AUD_FILE_NAME_LEN];
	uint64_t seq = build(true, 20, 5000, &full);
	size_t len;
	uint8_t *p;

	snapshot_file(seq, path, sizeof path);
	p = tu_read(path, &len);
	/* A byte of the state inside chunk 0, well after its header and fields. */
	p[AUD_FILE_HDR_LEN + AUD_REC_HDR_LEN + 200] ^= 0x01;
	tu_write(path, p, len);
	free(p);
	for (int fast = 0; fast <= 1; fast++) {
		ck_assert_int_eq(open_log(&log, &s, true, true, fast, &rep, err), WARDEN_E_AUDIT);
		aud_file_name(seq, name);
		ck_assert_msg(strstr(err, name) != NULL, "%s", err);
		ck_assert_uint_eq(s.from_snapshot, 0);
	}
	ck_assert_int_eq(tu_verify(logdir(), NULL, NULL, &res), AUD_V_BAD_HASH);
	ck_assert_str_eq(res.file, name);
	ck_assert_uint_eq(res.offset, AUD_FILE_HDR_LEN);
}
END_TEST

START_TEST(test_snapshot_fast_start_skips_damage_before_it_verify_finds_it)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	struct aud_scan_result res;
	char err[AUD_ERR_LEN], path[1024], first[AUD_FILE_NAME_LEN];
	size_t len;
	uint8_t *p;

	(void)build(true, 20, 100, &full);
	aud_file_name(0, first);
	tu_path(path, sizeof path, logdir(), first);
	p = tu_read(path, &len);
	p[len / 2] ^= 0x40; /* a record well before the snapshot */
	tu_write(path, p, len);
	free(p);
	/* The documented trade-off: fast start trusts the signed snapshot ... */
	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(rep.fast_start);
	assert_same(&s, &full);
	aud_close(log);
	/* ... full verification (the default, and warden-audit verify) catches it. */
	ck_assert_int_eq(open_log(&log, &s, true, true, false, &rep, err), WARDEN_E_AUDIT);
	ck_assert_msg(strstr(err, first) != NULL, "%s", err);
	ck_assert_int_ne(tu_verify(logdir(), NULL, NULL, &res), AUD_V_OK);
	ck_assert_str_eq(res.file, first);
}
END_TEST

START_TEST(test_snapshot_cut_short_falls_back_to_full_replay)
{
	struct state full, s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN], path[1024];
	uint64_t seq = build(true, 0, FILLER_LEN, &full);
	size_t len;
	uint8_t *p;

	/* Keep only chunk 0 (a crash between two batches of a snapshot): cut the file right
	 * after that record, at a record boundary, so the log ends cleanly. */
	snapshot_file(seq, path, sizeof path);
	p = tu_read(path, &len);
	uint32_t rec0 = (uint32_t)p[AUD_FILE_HDR_LEN] << 24 | (uint32_t)p[AUD_FILE_HDR_LEN + 1] << 16 |
			(uint32_t)p[AUD_FILE_HDR_LEN + 2] << 8 | p[AUD_FILE_HDR_LEN + 3];
	tu_write(path, p, AUD_FILE_HDR_LEN + rec0);
	free(p);
	/* checkpoint.txt now runs past the log (a truncation): drop it for this test. */
	tu_path(path, sizeof path, logdir(), AUD_CHECKPOINT_FILE);
	ck_assert_int_eq(unlink(path), 0);
	/* Full replay of the same log, without snapshots, for comparison. */
	ck_assert_msg(open_log(&log, &full, true, false, false, &rep, err) == WARDEN_OK, "%s", err);
	aud_close(log);
	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert(!rep.fast_start);
	ck_assert_uint_eq(rep.snapshot_seq, UINT64_MAX);
	ck_assert_msg(strstr(rep.snapshot_message, "not used") != NULL ||
			      strstr(rep.snapshot_message, "ends inside") != NULL,
		      "%s", rep.snapshot_message);
	ck_assert_uint_eq(s.allowed, full.allowed);
	ck_assert_uint_eq(s.seq_sum, full.seq_sum);
	ck_assert_uint_eq(s.from_snapshot, 0);
	aud_close(log);
}
END_TEST

START_TEST(test_snapshot_append_refuses_oversized_blob)
{
	struct state s;
	struct aud_log *log;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	uint64_t seq;
	static uint8_t one;

	ck_assert_msg(open_log(&log, &s, true, false, false, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert_int_eq(aud_snapshot_append(log, 1, &one, (size_t)AUD_MAX_SNAPSHOT + 1, &seq),
			 WARDEN_E_INTERNAL);
	ck_assert_int_eq(aud_snapshot_append(log, 1, NULL, 1, &seq), WARDEN_E_INTERNAL);
	/* An empty blob is a valid snapshot (one chunk, no bytes). */
	ck_assert_int_eq(aud_snapshot_append(log, 1, NULL, 0, &seq), WARDEN_OK);
	aud_close(log);
}
END_TEST

struct appender {
	struct aud_log *log;
	volatile int *stop;
	unsigned n;
};

static void *append_loop(void *arg)
{
	struct appender *a = arg;

	while (!*a->stop) {
		struct aud_body b;
		struct aud_record r = {.type = AUD_T_SIGN};
		uint64_t seq;

		tu_sign_body(&b, a->n, 1);
		r.body = b.data;
		r.body_len = b.len;
		ck_assert_int_eq(aud_append(a->log, &r, &seq), WARDEN_OK);
		ck_assert_int_eq(aud_sync(a->log, seq), WARDEN_OK);
		aud_body_free(&b);
		a->n++;
	}
	return NULL;
}

/* Snapshots taken while other threads append (and checkpoints fall due every few
 * records) stay contiguous, keep the chain valid, and the newest one fast-starts. */
START_TEST(test_snapshot_with_concurrent_appenders)
{
	struct aud_record g = tu_genesis();
	struct aud_params p = {.dir = logdir(), .key_file = priv, .genesis = &g,
			       .checkpoint_records = 7, .rotate_bytes = 64u * 1024u};
	struct aud_open_report rep;
	struct aud_scan_result res;
	struct aud_log *log;
	struct state s;
	char err[AUD_ERR_LEN];
	pthread_t t[3];
	struct appender a[3];
	volatile int stop = 0;
	uint64_t seq = 0;
	uint8_t pk[AUD_ED25519_LEN];
	char name[AUD_ORIGIN_MAX];

	ck_assert_msg(aud_open(&p, &log, &rep, err, sizeof err) == WARDEN_OK, "%s", err);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct appender){.log = log, .stop = &stop, .n = (unsigned)i * 100000u};
		ck_assert_int_eq(pthread_create(&t[i], NULL, append_loop, &a[i]), 0);
	}
	memset(&s, 0, sizeof s);
	for (int k = 0; k < 4; k++) {
		usleep(20000);
		seq = snapshot(log, &s, FILLER_LEN);
	}
	usleep(20000);
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	aud_close(log);
	ck_assert_int_eq(aud_pubkey_load(pub, name, pk, err, sizeof err), WARDEN_OK);
	ck_assert_msg(tu_verify(logdir(), pk, NULL, &res) == AUD_V_OK, "%s at %s:%llu", res.what,
		      res.file, (unsigned long long)res.offset);
	ck_assert_msg(open_log(&log, &s, true, true, true, &rep, err) == WARDEN_OK, "%s", err);
	ck_assert_msg(rep.fast_start, "%s", rep.snapshot_message);
	ck_assert_uint_eq(rep.snapshot_seq, seq);
	ck_assert(s.filler_ok);
	aud_close(log);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_snapshot");
	TCase *tc = tcase_create("snapshot");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_snapshot_fast_start_equals_full_replay);
	tcase_add_test(tc, test_snapshot_full_verification_replays_only_after_it);
	tcase_add_test(tc, test_snapshot_at_the_tail);
	tcase_add_test(tc, test_snapshot_without_key_is_used_but_verified_from_genesis);
	tcase_add_test(tc, test_snapshot_corrupted_record_is_detected);
	tcase_add_test(tc, test_snapshot_fast_start_skips_damage_before_it_verify_finds_it);
	tcase_add_test(tc, test_snapshot_cut_short_falls_back_to_full_replay);
	tcase_add_test(tc, test_snapshot_append_refuses_oversized_blob);
	tcase_add_test(tc, test_snapshot_with_concurrent_appenders);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
