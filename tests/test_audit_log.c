/*
 * test_audit_log.c - the writer: round trip and replay, rotation, torn-tail repair,
 * fail closed on a full disk (RLIMIT_FSIZE) and recovery, group commit with threads.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include "aud_log.h" /* AUD_TORN_WINDOW */
#include "test_audit_util.h"

struct collect {
	uint64_t n;
	uint64_t signs, allowed, recoveries, checkpoints;
	uint64_t last_seq;
	int64_t refused_from, refused_to;
	uint64_t cut_bytes;
};

static int collect_cb(void *ctx, const struct aud_rec *r)
{
	struct collect *c = ctx;
	struct aud_field f;

	ck_assert_uint_eq(r->seq, c->n);
	c->n++;
	c->last_seq = r->seq;
	if (r->type == AUD_T_SIGN) {
		c->signs++;
		if (aud_body_find(r->body, r->body_len, AUD_F_DECISION, &f) && aud_field_uint(&f))
			c->allowed++;
	}
	if (r->type == AUD_T_CHECKPOINT)
		c->checkpoints++;
	if (r->type == AUD_T_RECOVERY) {
		c->recoveries++;
		if (aud_body_find(r->body, r->body_len, AUD_F_REFUSED_FROM, &f))
			c->refused_from = (int64_t)aud_field_uint(&f);
		if (aud_body_find(r->body, r->body_len, AUD_F_REFUSED_TO, &f))
			c->refused_to = (int64_t)aud_field_uint(&f);
		if (aud_body_find(r->body, r->body_len, AUD_F_CUT_BYTES, &f))
			c->cut_bytes = aud_field_uint(&f);
	}
	return 0;
}

static struct aud_log *open_log(const char *dir, struct aud_params *p, struct collect *c,
				struct aud_open_report *rep)
{
	static struct aud_record g;
	struct aud_log *log = NULL;
	char err[AUD_ERR_LEN];
	int rc;

	g = tu_genesis();
	p->dir = dir;
	p->genesis = &g;
	p->replay = collect_cb;
	p->replay_ctx = c;
	memset(c, 0, sizeof *c);
	c->refused_from = c->refused_to = -1;
	rc = aud_open(p, &log, rep, err, sizeof err);
	ck_assert_msg(rc == WARDEN_OK, "aud_open: %d %s", rc, err);
	return log;
}

START_TEST(test_round_trip_and_replay)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);

	ck_assert(rep.created);
	ck_assert_uint_eq(c.n, 1); /* the genesis record is replayed too */
	tu_append_signs(log, 1, 30);
	ck_assert_uint_eq(aud_num_records(log), 31);
	ck_assert_uint_eq(aud_num_durable(log), 31);
	aud_close(log);

	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 31);

	log = open_log(dir, &p, &c, &rep);
	ck_assert(!rep.created && !rep.repaired);
	ck_assert_uint_eq(c.n, 31);
	ck_assert_uint_eq(c.signs, 30);
	ck_assert_uint_eq(c.allowed, 20);
	tu_append_signs(log, 31, 5);
	ck_assert_uint_eq(aud_num_records(log), 36);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 36);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_second_writer_is_refused)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_log *log = open_log(dir, &p, &c, &rep), *log2 = NULL;
	char err[AUD_ERR_LEN];

	ck_assert_int_eq(aud_open(&p, &log2, &rep, err, sizeof err), WARDEN_E_BUSY);
	ck_assert_ptr_null(log2);
	aud_close(log);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_empty_dir_without_genesis_fails)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {.dir = dir};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	char err[AUD_ERR_LEN];

	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_ptr_nonnull(strstr(err, "no audit-*.log"));
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_rotation_keeps_the_chain)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {.rotate_bytes = 4096, .prealloc_bytes = 8192};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);

	tu_append_signs(log, 1, 200);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 201);
	ck_assert_uint_gt(res.num_files, 10);

	/* Reopen, replay across files, continue. */
	log = open_log(dir, &p, &c, &rep);
	ck_assert_uint_eq(c.n, 201);
	tu_append_signs(log, 201, 20);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 221);

	/* Deleting a middle file breaks the chain at the next file's header. */
	char path[AUD_MAX_PATH], name[300];
	struct dirent **nl;
	int n = scandir(dir, &nl, NULL, alphasort), victim = -1;

	for (int i = 0, k = 0; i < n; i++) {
		if (strncmp(nl[i]->d_name, "audit-", 6) == 0 && ++k == 4)
			victim = i;
	}
	ck_assert_int_ge(victim, 0);
	snprintf(name, sizeof name, "%s", nl[victim]->d_name);
	for (int i = 0; i < n; i++)
		free(nl[i]);
	free(nl);
	tu_path(path, sizeof path, dir, name);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_BAD_FILE);
	ck_assert_ptr_nonnull(strstr(res.what, "missing"));
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* The log's one file. */
static void first_file(const char *dir, char *path, size_t len)
{
	char name[AUD_FILE_NAME_LEN];

	aud_file_name(0, name);
	tu_path(path, len, dir, name);
}

START_TEST(test_torn_tail_is_repaired_with_a_recovery_record)
{
	char *dir = tu_tmpdir(), path[AUD_MAX_PATH];
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	uint8_t junk[100];

	tu_append_signs(log, 1, 10);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	uint64_t end = res.good_end;

	/* A torn write: half a record (length field and some bytes) after the end. */
	first_file(dir, path, sizeof path);
	int fd = open(path, O_WRONLY);
	memset(junk, 0xab, sizeof junk);
	junk[0] = 0;
	junk[1] = 0;
	junk[2] = 1;
	junk[3] = 0; /* record_len 256, but only 100 bytes made it */
	ck_assert_int_eq(pwrite(fd, junk, sizeof junk, (off_t)end), (ssize_t)sizeof junk);
	close(fd);
	ck_assert_int_ne(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.offset, end);

	log = open_log(dir, &p, &c, &rep);
	ck_assert(rep.repaired);
	ck_assert_uint_eq(rep.offset, end);
	ck_assert_uint_eq(rep.cut_bytes, sizeof junk);
	ck_assert_ptr_nonnull(strstr(rep.message, "torn tail"));
	ck_assert_uint_eq(c.n, 12); /* 11 good + the recovery record */
	ck_assert_uint_eq(c.recoveries, 1);
	ck_assert_uint_eq(c.cut_bytes, sizeof junk);
	tu_append_signs(log, 11, 3);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 15);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_damage_near_the_end_is_cut_as_torn)
{
	char *dir = tu_tmpdir(), path[AUD_MAX_PATH], err[AUD_ERR_LEN];
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	size_t len;
	uint8_t *data;

	tu_append_signs(log, 1, 10);
	aud_close(log);
	/* Damage in record 0, with good records after it: never a torn write. */
	first_file(dir, path, sizeof path);
	data = tu_read(path, &len);
	data[AUD_FILE_HDR_LEN + AUD_REC_HDR_LEN - 1] ^= 1; /* genesis prev_hash */
	tu_write(path, data, len);
	free(data);
	p.dir = dir;
	p.replay = NULL;
	log = NULL;
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_ptr_nonnull(strstr(err, "audit-00000000000000000000.log"));
	ck_assert_ptr_null(log);
	/* Undo; now damage the middle of the file (record 5's body) with good records
	 * after it: within what a crash can leave unfinished (overlapping writes reach the
	 * disk in any order), so it is cut as a torn tail, and the cut is recorded. */
	data = tu_read(path, &len);
	data[AUD_FILE_HDR_LEN + AUD_REC_HDR_LEN - 1] ^= 1;
	tu_write(path, data, len);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	uint64_t end = res.good_end;
	data[res.good_end / 2] ^= 0x40;
	tu_write(path, data, len);
	free(data);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_BAD_HASH);
	uint64_t cut_at = res.good_end, kept = res.num_records;
	ck_assert_uint_lt(kept, 11);
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_OK);
	ck_assert(rep.repaired);
	ck_assert_uint_eq(rep.offset, cut_at);
	ck_assert_uint_eq(rep.cut_bytes, end - cut_at);
	ck_assert_uint_eq(rep.num_records, kept + 1); /* + the recovery record */
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* Damage with more written data after it than any crash leaves unfinished
 * (AUD_TORN_WINDOW): never a torn write; the open refuses. */
START_TEST(test_damage_far_before_the_end_is_not_repaired)
{
	char *dir = tu_tmpdir(), path[AUD_MAX_PATH], err[AUD_ERR_LEN];
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	size_t big = 3u * 1024u * 1024u, len;
	uint8_t *blob = calloc(1, big), *data;
	uint64_t seq, damage;

	ck_assert_ptr_nonnull(blob);
	tu_append_signs(log, 1, 2);
	ck_assert_int_eq(aud_sync(log, aud_num_records(log) - 1), WARDEN_OK);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	damage = res.good_end - 100; /* inside the last SIGN record */
	for (unsigned i = 0; i < 4; i++) {
		struct aud_body b;
		struct aud_record r = {.type = AUD_T_SIGN};

		aud_body_init(&b);
		memset(blob, (int)(0x11 * (i + 1)), big);
		aud_put_bytes(&b, AUD_F_PREHASH, blob, big);
		ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
		r.body = b.data;
		r.body_len = b.len;
		ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_OK);
		ck_assert_int_eq(aud_sync(log, seq), WARDEN_OK);
		aud_body_free(&b);
	}
	aud_close(log);
	free(blob);
	first_file(dir, path, sizeof path);
	data = tu_read(path, &len);
	ck_assert_uint_gt(len - damage, AUD_TORN_WINDOW);
	data[damage] ^= 0x40;
	tu_write(path, data, len);
	free(data);
	p.dir = dir;
	p.replay = NULL;
	log = NULL;
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_ptr_nonnull(strstr(err, "not a torn tail"));
	ck_assert_ptr_null(log);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* ---- disk full ------------------------------------------------------------------- */

START_TEST(test_disk_full_fails_closed_and_recovers)
{
	char *dir = tu_tmpdir(), why[AUD_ERR_LEN];
	struct aud_params p = {.prealloc_bytes = 4096, .rotate_bytes = 1u << 30,
			       .retry_every_call = true};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log;
	struct rlimit rl;
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq = 0, seq2 = 0, before;
	int rc = WARDEN_OK;

	signal(SIGXFSZ, SIG_IGN);
	log = open_log(dir, &p, &c, &rep);
	tu_append_signs(log, 1, 5);
	before = aud_num_durable(log);

	/* The file may not grow any more. */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	struct rlimit small = {.rlim_cur = 8192, .rlim_max = rl.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);

	tu_sign_body(&b, 100, 1);
	r.body = b.data;
	r.body_len = b.len;
	for (unsigned i = 0; i < 100 && rc == WARDEN_OK; i++) {
		rc = aud_append(log, &r, &seq);
		if (rc == WARDEN_OK)
			rc = aud_sync(log, seq);
	}
	ck_assert_int_eq(rc, WARDEN_E_AUDIT);
	ck_assert(aud_failed(log, why, sizeof why));
	ck_assert_ptr_nonnull(strstr(why, "File too large"));
	/* The record stays refused, and new ones are refused while space is short. */
	ck_assert_int_eq(aud_sync(log, seq), WARDEN_E_AUDIT);
	ck_assert_int_eq(aud_append(log, &r, &seq2), WARDEN_E_AUDIT);
	uint64_t durable_at_failure = aud_num_durable(log);
	ck_assert_uint_gt(durable_at_failure, before);
	ck_assert_uint_eq(aud_num_records(log), seq + 1);

	/* Space returns: the next append retries, rewrites what was kept, adds a
	 * recovery record, and works. */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ck_assert_int_eq(aud_append(log, &r, &seq2), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log, seq2), WARDEN_OK);
	ck_assert(!aud_failed(log, why, sizeof why));
	ck_assert_int_eq(aud_sync(log, seq), WARDEN_E_AUDIT); /* still refused to its caller */
	ck_assert_uint_eq(seq2, seq + 2);                     /* seq + 1 is the recovery */
	aud_body_free(&b);
	aud_close(log);

	/* Nothing lost, nothing duplicated: every seq once, and the recovery names the
	 * refused range. */
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, seq2 + 1);
	log = open_log(dir, &p, &c, &rep);
	ck_assert_uint_eq(c.recoveries, 1);
	ck_assert_int_eq(c.refused_from, (int64_t)durable_at_failure);
	ck_assert_int_eq(c.refused_to, (int64_t)seq);
	aud_close(log);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* ---- group commit ------------------------------------------------------------------ */

#define GC_THREADS 8
#define GC_PER_THREAD 200

static void *gc_worker(void *arg)
{
	struct aud_log *log = arg;
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq;

	tu_sign_body(&b, 7, 1);
	r.body = b.data;
	r.body_len = b.len;
	for (int i = 0; i < GC_PER_THREAD; i++) {
		if (aud_append(log, &r, &seq) != WARDEN_OK || aud_sync(log, seq) != WARDEN_OK)
			return (void *)1;
		if (aud_num_durable(log) <= seq)
			return (void *)2; /* aud_sync returned before the record was durable */
	}
	aud_body_free(&b);
	return NULL;
}

/* Gaps in the log files of dir (record length 0 followed by more records). */
static unsigned count_gaps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned gaps = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[AUD_MAX_PATH];
		size_t len, off = AUD_FILE_HDR_LEN;
		uint8_t *data;

		if (strncmp(e->d_name, "audit-", 6) != 0 || strstr(e->d_name, ".tmp") != NULL)
			continue;
		tu_path(path, sizeof path, dir, e->d_name);
		data = tu_read(path, &len);
		while (off + 4 <= len) {
			uint32_t n = aud_get32(data + off);
			size_t y = off;

			if (n != 0) {
				off += n;
				continue;
			}
			while (y < len && data[y] == 0)
				y++;
			if (y == len)
				break;
			gaps++;
			off = y / AUD_GAP_UNIT * AUD_GAP_UNIT;
		}
		free(data);
	}
	closedir(d);
	return gaps;
}

/* Loop 0: the default (overlapping O_DIRECT writes where the file system has them,
 * leaving gaps); loop 1: buffered writes, one at a time. */
START_TEST(test_group_commit_with_threads)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {.rotate_bytes = 64 * 1024, .buffered = _i == 1};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	pthread_t t[GC_THREADS];
	void *ret;

	for (int i = 0; i < GC_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, gc_worker, log), 0);
	for (int i = 0; i < GC_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(aud_num_records(log), 1 + GC_THREADS * GC_PER_THREAD);
	ck_assert_uint_lt(aud_num_syncs(log), 1 + GC_THREADS * GC_PER_THREAD);
	bool direct = log->direct;
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 1 + GC_THREADS * GC_PER_THREAD);
	if (_i == 1 || !direct)
		ck_assert_uint_eq(count_gaps(dir), 0);
	else /* writes overlapped: some started at a block boundary */
		ck_assert_uint_gt(count_gaps(dir), 0);
	/* And the log opens again and goes on. */
	log = open_log(dir, &p, &c, &rep);
	ck_assert(!rep.repaired);
	tu_append_signs(log, 1, 3);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* A SIGN record of exactly `total` bytes (a padding field sized to fit). */
static void exact_record(struct aud_body *b, size_t total)
{
	static uint8_t pad[4096];
	size_t n = 0;

	for (int round = 0; round < 2; round++) {
		tu_sign_body(b, 9, 1);
		aud_put_bytes(b, AUD_F_PREHASH, pad, n);
		ck_assert_int_eq(aud_body_finish(b), WARDEN_OK);
		if (AUD_REC_MIN_LEN + b->len == total)
			return;
		ck_assert_uint_lt(AUD_REC_MIN_LEN + b->len - n, total);
		n = total - (AUD_REC_MIN_LEN + b->len - n);
		aud_body_free(b);
	}
	ck_assert_uint_eq(AUD_REC_MIN_LEN + b->len, total);
}

struct short_gap_run {
	struct aud_log *log;
	struct aud_body body;
};

static void *short_gap_worker(void *arg)
{
	struct short_gap_run *run = arg;
	struct aud_record r = {.type = AUD_T_SIGN, .body = run->body.data,
			       .body_len = run->body.len};
	uint64_t seq;

	for (int i = 0; i < GC_PER_THREAD; i++)
		if (aud_append(run->log, &r, &seq) != WARDEN_OK || aud_sync(run->log, seq) != WARDEN_OK)
			return (void *)1;
	return NULL;
}

/* A gap begins with a zero record_len (4 bytes), so a write that would start 1 to 3
 * bytes before a block boundary while the write before is in flight must not leave a
 * gap that short (the next record's first bytes would sit where the verifier reads
 * that record_len).  Every record here is 512 bytes and the data ends _i + 1 bytes
 * before a boundary, so every overlapping write meets that case. */
START_TEST(test_no_gap_shorter_than_a_record_len)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {.rotate_bytes = 64u * 1024u * 1024u};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	struct short_gap_run run = {.log = log};
	struct aud_body pad;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq, end = log->write_off, want = (uint64_t)AUD_GAP_UNIT - 1u - (uint64_t)_i;
	size_t fill = (size_t)((want - end % AUD_GAP_UNIT + AUD_GAP_UNIT) % AUD_GAP_UNIT);
	pthread_t t[GC_THREADS];
	void *ret;

	fill += AUD_GAP_UNIT; /* a SIGN record is some 400 bytes at least */
	exact_record(&pad, fill);
	r.body = pad.data;
	r.body_len = pad.len;
	ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log, seq), WARDEN_OK);
	ck_assert_uint_eq(log->write_off % AUD_GAP_UNIT, want);
	exact_record(&run.body, AUD_GAP_UNIT);
	for (int i = 0; i < GC_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, short_gap_worker, &run), 0);
	for (int i = 0; i < GC_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 2 + GC_THREADS * GC_PER_THREAD);
	aud_body_free(&pad);
	aud_body_free(&run.body);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* The format's gaps, made by hand in a buffered log: zeros after a record up to a
 * multiple of 512 are skipped; zeros to anywhere else, or over 64 KiB, are not. */
static void insert_zeros(const char *path, size_t at, size_t n)
{
	size_t len;
	uint8_t *data = tu_read(path, &len), *out = calloc(1, len + n);

	ck_assert_ptr_nonnull(out);
	memcpy(out, data, at);
	memcpy(out + at + n, data + at, len - at);
	tu_write(path, out, len + n);
	free(out);
	free(data);
}

START_TEST(test_gaps_in_the_format)
{
	char *dir = tu_tmpdir(), path[AUD_MAX_PATH], copy[AUD_MAX_PATH];
	struct aud_params p = {.buffered = true};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	size_t len, at;
	uint8_t *orig;

	tu_append_signs(log, 1, 6);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	first_file(dir, path, sizeof path);
	snprintf(copy, sizeof copy, "%s.orig", dir);
	orig = tu_read(path, &len);
	tu_write(copy, orig, len);
	/* After record 3 (genesis is 0): where it ends. */
	at = AUD_FILE_HDR_LEN;
	for (int i = 0; i < 4; i++)
		at += aud_get32(orig + at);
	ck_assert_uint_ne(at % AUD_GAP_UNIT, 0);

	/* To the next multiple of 512: a gap. */
	insert_zeros(path, at, AUD_GAP_UNIT - at % AUD_GAP_UNIT);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 7);
	ck_assert_uint_eq(count_gaps(dir), 1);
	log = open_log(dir, &p, &c, &rep);
	ck_assert(!rep.repaired);
	ck_assert_uint_eq(c.n, 7);
	tu_append_signs(log, 7, 2);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 9);

	/* To a multiple of 512 plus 8: not a gap. */
	tu_write(path, orig, len);
	insert_zeros(path, at, AUD_GAP_UNIT - at % AUD_GAP_UNIT + 8);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_TRAILING);
	ck_assert_uint_eq(res.num_records, 4);
	ck_assert_uint_eq(res.good_end, at);

	/* 64 KiB or more of zeros: not a gap either. */
	tu_write(path, orig, len);
	insert_zeros(path, at, AUD_GAP_UNIT - at % AUD_GAP_UNIT + AUD_MAX_GAP);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_TRAILING);
	ck_assert_uint_eq(res.num_records, 4);

	/* A gap leading to a record that does not continue the chain (record 4 missing,
	 * as when the write before the gap never reached the disk): data after the end;
	 * the enclave cuts it as a torn tail. */
	tu_write(path, orig, len);
	{
		size_t r4 = aud_get32(orig + at);
		uint8_t *data = tu_read(path, &len);

		memset(data + at, 0, r4); /* record 4 never written */
		tu_write(path, data, len);
		free(data);
		insert_zeros(path, at + r4, AUD_GAP_UNIT - (at + r4) % AUD_GAP_UNIT);
	}
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_TRAILING);
	ck_assert_uint_eq(res.num_records, 4);
	log = open_log(dir, &p, &c, &rep);
	ck_assert(rep.repaired);
	ck_assert_uint_eq(rep.offset, at);
	ck_assert_uint_eq(c.n, 5); /* 4 + the recovery record */
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);

	free(orig);
	unlink(copy);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

/* A file system that announces direct I/O and then refuses a write (EINVAL): the
 * records in flight are refused, the retry writes them buffered, and the log goes on
 * buffered, whole.  Provoked by making the writer align to 256 bytes, which O_DIRECT
 * refuses on a 512-byte device. */
START_TEST(test_direct_io_refused_falls_back_to_buffered)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {.retry_every_call = true};
	struct aud_open_report rep;
	struct collect c;
	struct aud_scan_result res;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	unsigned refused = 0, ok = 0;

	if (!log->direct) { /* no direct I/O here (tmpfs): nothing to refuse */
		aud_close(log);
		tu_rmrf(dir);
		free(dir);
		return;
	}
	pthread_mutex_lock(&log->mu);
	log->align = 256;
	pthread_mutex_unlock(&log->mu);
	for (unsigned i = 1; i <= 20; i++) {
		struct aud_body b;
		struct aud_record r = {.type = AUD_T_SIGN};
		uint64_t seq;
		int rc;

		tu_sign_body(&b, i, 1);
		r.body = b.data;
		r.body_len = b.len;
		rc = aud_append(log, &r, &seq);
		if (rc == WARDEN_OK)
			rc = aud_sync(log, seq);
		if (rc == WARDEN_OK)
			ok++;
		else
			refused++;
		aud_body_free(&b);
	}
	ck_assert_uint_gt(refused, 0);
	ck_assert_uint_gt(ok, 10);
	ck_assert(!log->direct);
	aud_close(log);
	ck_assert_int_eq(tu_verify(dir, NULL, NULL, &res), AUD_V_OK);
	log = open_log(dir, &p, &c, &rep);
	ck_assert_uint_ge(c.recoveries, 1);
	aud_close(log);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_append_rejects_bad_records)
{
	char *dir = tu_tmpdir();
	struct aud_params p = {0};
	struct aud_open_report rep;
	struct collect c;
	struct aud_log *log = open_log(dir, &p, &c, &rep);
	static const uint8_t bad_body[] = {0x10, 0x01, 0, 0, 0, 3, 1, 2, 3}; /* UINT of 3 bytes */
	struct aud_record r = {.type = AUD_T_SIGN, .body = bad_body, .body_len = sizeof bad_body};
	uint64_t seq;

	ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_E_INTERNAL);
	r.type = AUD_T_GENESIS;
	r.body_len = 0;
	ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_E_INTERNAL);
	r.type = AUD_T_CHECKPOINT;
	ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_E_INTERNAL);
	ck_assert_int_eq(aud_sync(log, 99), WARDEN_E_INTERNAL);
	ck_assert_uint_eq(aud_num_records(log), 1);
	aud_close(log);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip_and_replay);
	tcase_add_test(tc, test_second_writer_is_refused);
	tcase_add_test(tc, test_empty_dir_without_genesis_fails);
	tcase_add_test(tc, test_rotation_keeps_the_chain);
	tcase_add_test(tc, test_torn_tail_is_repaired_with_a_recovery_record);
	tcase_add_test(tc, test_damage_near_the_end_is_cut_as_torn);
	tcase_add_test(tc, test_damage_far_before_the_end_is_not_repaired);
	tcase_add_test(tc, test_disk_full_fails_closed_and_recovers);
	tcase_add_loop_test(tc, test_group_commit_with_threads, 0, 2);
	tcase_add_loop_test(tc, test_no_gap_shorter_than_a_record_len, 0, 3);
	tcase_add_test(tc, test_gaps_in_the_format);
	tcase_add_test(tc, test_direct_io_refused_falls_back_to_buffered);
	tcase_add_test(tc, test_append_rejects_bad_records);
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
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
