/*
 * aud_bench.c - `make bench-audit`: replay speed (verify + callback, as at enclave
 * start-up) and group-commit throughput at 1, 2, 8 and 32 concurrent appenders, each
 * appending a typical SIGN record and waiting for it to be durable.
 *
 * Then start-up time (aud_open: verify + replay) of a log of 1M and 10M records with
 * signed checkpoints every 1000 records and an 8 MiB state snapshot 50,000 records
 * before the end: full verification without snapshots, full verification replaying
 * only after the snapshot, and fast start from the snapshot.
 *
 * usage: bench_audit [DIR [SIZES]]  DIR: a scratch directory on the disk to measure
 *                                   (default a new one under /var/tmp, removed after);
 *                                   SIZES: start-up log sizes, e.g. "1000000,10000000"
 *                                   (default; "0" skips; BENCH_AUDIT_STARTUP in make)
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

#define REPLAY_RECORDS 500000u
#define REPLAY_BATCH 2000u
#define COMMIT_SECONDS 2.0
#define MAX_THREADS 32

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st, (void)f, (void)w;
	return remove(p);
}

/* A SIGN body of the size the enclave writes for a leaf certificate (~420 bytes). */
static int sign_body(struct aud_body *b, unsigned i)
{
	uint8_t h[32] = {0}, serial[16];
	char name[64];

	memcpy(h, &i, sizeof i);
	for (unsigned k = 0; k < sizeof serial; k++)
		serial[k] = (uint8_t)(i * 7 + k);
	aud_body_init(b);
	aud_put_uint(b, AUD_F_DECISION, 1);
	aud_put_uint(b, AUD_F_REASON_CODE, 0);
	aud_put_str(b, AUD_F_REASON, "allowed by profile web-server");
	aud_put_str(b, AUD_F_KEY, "issuing-ca-2024");
	aud_put_uint(b, AUD_F_MECHANISM, 0x1044);
	aud_put_uint(b, AUD_F_DATA_KIND, 1);
	aud_put_bytes(b, AUD_F_DATA_SHA256, h, sizeof h);
	aud_put_bytes(b, AUD_F_SERIAL, serial, sizeof serial);
	snprintf(name, sizeof name, "CN=host%u.internal.example.com", i);
	aud_put_str(b, AUD_F_SUBJECT, name);
	snprintf(name, sizeof name, "DNS:host%u.internal.example.com", i);
	aud_put_str(b, AUD_F_SAN, name);
	aud_put_int(b, AUD_F_NOT_BEFORE, 1700000000);
	aud_put_int(b, AUD_F_NOT_AFTER, 1700000000 + 90 * 86400);
	aud_put_str(b, AUD_F_PROFILE, "web-server");
	aud_put_str(b, AUD_F_PROVISIONER, "acme/prod");
	aud_put_uint(b, AUD_F_CALLER_UID, 998);
	aud_put_uint(b, AUD_F_CALLER_PID, 31337);
	aud_put_bytes(b, AUD_F_POLICY_SHA256, h, sizeof h);
	return aud_body_finish(b);
}

static const uint8_t genesis_body[] = {0x30, 0x29, 0, 0, 0, 5, 'b', 'e', 'n', 'c', 'h'};

static struct aud_log *open_log(const char *dir, aud_record_fn cb, void *ctx)
{
	static const struct aud_record g = {.type = AUD_T_GENESIS, .body = genesis_body,
					    .body_len = sizeof genesis_body};
	struct aud_params p = {.dir = dir, .genesis = &g, .replay = cb, .replay_ctx = ctx,
			       .prealloc_bytes = 16u << 20};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	char err[AUD_ERR_LEN];

	if (aud_open(&p, &log, &rep, err, sizeof err) != WARDEN_OK) {
		fprintf(stderr, "bench_audit: %s\n", err);
		exit(1);
	}
	return log;
}

static int count_cb(void *ctx, const struct aud_rec *r)
{
	struct aud_field f;

	/* What a replay does per record: look at the type and a field or two. */
	if (r->type == AUD_T_SIGN && aud_body_find(r->body, r->body_len, AUD_F_NOT_AFTER, &f))
		*(uint64_t *)ctx += (uint64_t)aud_field_int(&f) & 1u;
	return 0;
}

static void bench_replay(const char *dir)
{
	struct aud_log *log = open_log(dir, NULL, NULL);
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq = 0, sink = 0;
	double t0;

	for (unsigned i = 0; i < REPLAY_RECORDS; i++) {
		if (sign_body(&b, i) != WARDEN_OK)
			exit(1);
		r.body = b.data;
		r.body_len = b.len;
		if (aud_append(log, &r, &seq) != WARDEN_OK ||
		    ((i + 1) % REPLAY_BATCH == 0 && aud_sync(log, seq) != WARDEN_OK))
			exit(1);
		aud_body_free(&b);
	}
	if (aud_sync(log, seq) != WARDEN_OK)
		exit(1);
	aud_close(log);

	/* Twice: the first pass may read from disk; the second measures the code (the
	 * enclave usually starts with the log in the page cache).  CPU time too, since
	 * this machine is shared and wall time is noisy. */
	for (int pass = 1; pass <= 2; pass++) {
		struct timespec c0, c1;

		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		t0 = now_s();
		log = open_log(dir, count_cb, &sink);
		double dt = now_s() - t0;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
		uint64_t n = aud_num_records(log);
		aud_close(log);
		printf("replay pass %d (aud_open: verify + callback): %llu records, %.3f s wall = "
		       "%.0f records/s, %.3f s CPU = %.0f records/s\n",
		       pass, (unsigned long long)n, dt, (double)n / dt, cpu, (double)n / cpu);
	}
}

struct worker {
	struct aud_log *log;
	volatile int *stop;
	uint64_t done;
	int failed;
};

static void *commit_worker(void *arg)
{
	struct worker *w = arg;
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq;

	if (sign_body(&b, 42) != WARDEN_OK) {
		w->failed = 1;
		return NULL;
	}
	r.body = b.data;
	r.body_len = b.len;
	while (!*w->stop) {
		if (aud_append(w->log, &r, &seq) != WARDEN_OK || aud_sync(w->log, seq) != WARDEN_OK) {
			w->failed = 1;
			break;
		}
		w->done++;
	}
	aud_body_free(&b);
	return NULL;
}

static void bench_commit(const char *base, int threads)
{
	char dir[4200];
	struct worker w[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	volatile int stop = 0;
	struct aud_log *log;
	uint64_t total = 0, syncs0;
	double t0, dt;

	snprintf(dir, sizeof dir, "%s/commit-%d", base, threads);
	if (mkdir(dir, 0700) != 0)
		exit(1);
	log = open_log(dir, NULL, NULL);
	/* Warm-up: the first write zero-fills the preallocation (16 MiB, synced once). */
	{
		struct aud_body b;
		struct aud_record r = {.type = AUD_T_SIGN};
		uint64_t seq;

		if (sign_body(&b, 1) != WARDEN_OK)
			exit(1);
		r.body = b.data;
		r.body_len = b.len;
		if (aud_append(log, &r, &seq) != WARDEN_OK || aud_sync(log, seq) != WARDEN_OK)
			exit(1);
		aud_body_free(&b);
	}
	syncs0 = aud_num_syncs(log);
	t0 = now_s();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){.log = log, .stop = &stop};
		pthread_create(&t[i], NULL, commit_worker, &w[i]);
	}
	while (now_s() - t0 < COMMIT_SECONDS)
		usleep(10000);
	stop = 1;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += w[i].done;
		if (w[i].failed)
			fprintf(stderr, "bench_audit: a worker failed\n");
	}
	dt = now_s() - t0;
	uint64_t syncs = aud_num_syncs(log) - syncs0;
	printf("group commit, %2d appenders: %8.0f durable records/s, %6.1f records per "
	       "fdatasync, %.0f us per fdatasync\n",
	       threads, (double)total / dt, syncs ? (double)total / (double)syncs : 0.0,
	       syncs ? dt * 1e6 / (double)syncs : 0.0);
	aud_close(log);
}

/* ===== start-up with and without a snapshot ========================================= */

#define STARTUP_TAIL 50000u               /* records after the snapshot */
#define STARTUP_BLOB (8u * 1024u * 1024u) /* ~200k serials with notAfter */
#define STARTUP_SYNC_EVERY 4096u

static int snap_cb(void *ctx, uint32_t version, const uint8_t *state, size_t len, uint64_t seq)
{
	(void)version, (void)seq;
	*(uint64_t *)ctx += len + state[len / 2];
	return 0;
}

static void startup_append(struct aud_log *log, uint64_t from, uint64_t n)
{
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN};
	uint64_t seq = 0;

	if (sign_body(&b, 42) != WARDEN_OK)
		exit(1);
	r.body = b.data;
	r.body_len = b.len;
	/* The same body every time (the chain still differs): cheap to make. */
	for (uint64_t i = from; i < from + n; i++) {
		if (aud_append(log, &r, &seq) != WARDEN_OK ||
		    ((i + 1) % STARTUP_SYNC_EVERY == 0 && aud_sync(log, seq) != WARDEN_OK))
			exit(1);
	}
	if (n > 0 && aud_sync(log, seq) != WARDEN_OK)
		exit(1);
	aud_body_free(&b);
}

static void startup_open(const char *dir, const char *key, const char *what, bool snap,
			 bool fast)
{
	static const struct aud_record g = {.type = AUD_T_GENESIS, .body = genesis_body,
					    .body_len = sizeof genesis_body};
	uint64_t sink = 0, snap_sink = 0;
	struct aud_params p = {.dir = dir, .key_file = key, .genesis = &g, .replay = count_cb,
			       .replay_ctx = &sink, .fast_start = fast,
			       .snapshot = snap ? snap_cb : NULL, .snapshot_ctx = &snap_sink};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	struct timespec c0, c1;
	char err[AUD_ERR_LEN];

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	double t0 = now_s();
	if (aud_open(&p, &log, &rep, err, sizeof err) != WARDEN_OK) {
		fprintf(stderr, "bench_audit: %s\n", err);
		exit(1);
	}
	double dt = now_s() - t0;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	uint64_t n = aud_num_records(log);
	aud_close(log);
	if (snap && rep.snapshot_seq == UINT64_MAX) {
		fprintf(stderr, "bench_audit: snapshot not used: %s\n", rep.snapshot_message);
		exit(1);
	}
	printf("start-up %-36s %9llu records: %7.3f s wall, %7.3f s CPU, verified from record "
	       "%llu%s\n", what, (unsigned long long)n, dt, cpu,
	       (unsigned long long)rep.verified_from, fast && !rep.fast_start ? " (NOT fast)" : "");
}

static void bench_startup(const char *base, uint64_t n)
{
	char dir[4200], key[4300], pub[4300], err[AUD_ERR_LEN];
	static const struct aud_record g = {.type = AUD_T_GENESIS, .body = genesis_body,
					    .body_len = sizeof genesis_body};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	uint8_t *blob = malloc(STARTUP_BLOB);
	uint64_t seq, tail = n > 2 * STARTUP_TAIL ? STARTUP_TAIL : n / 2;

	snprintf(dir, sizeof dir, "%s/startup-%llu", base, (unsigned long long)n);
	snprintf(key, sizeof key, "%s.key", dir);
	snprintf(pub, sizeof pub, "%s/%s", dir, AUD_PUBKEY_FILE);
	if (blob == NULL || mkdir(dir, 0700) != 0 || aud_keygen(key, pub, err, sizeof err) != 0)
		exit(1);
	struct aud_params p = {.dir = dir, .key_file = key, .genesis = &g,
			       .prealloc_bytes = 16u << 20};
	if (aud_open(&p, &log, &rep, err, sizeof err) != WARDEN_OK) {
		fprintf(stderr, "bench_audit: %s\n", err);
		exit(1);
	}
	double t0 = now_s();
	startup_append(log, 1, n - 1 - tail);
	for (size_t i = 0; i < STARTUP_BLOB; i++)
		blob[i] = (uint8_t)(i * 2654435761u >> 13);
	if (aud_snapshot_append(log, 1, blob, STARTUP_BLOB, &seq) != WARDEN_OK)
		exit(1);
	startup_append(log, n, tail);
	printf("start-up log: %llu records written in %.1f s (snapshot of %u MiB at record "
	       "%llu)\n", (unsigned long long)aud_num_records(log), now_s() - t0,
	       STARTUP_BLOB >> 20, (unsigned long long)seq);
	aud_close(log);
	free(blob);
	for (int pass = 1; pass <= 2; pass++) {
		startup_open(dir, key, "full verify, no snapshot", false, false);
		startup_open(dir, key, "full verify, replay from snapshot", true, false);
		startup_open(dir, key, "fast start from snapshot", true, true);
	}
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	(void)unlink(key);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/var/tmp/warden-bench-audit-XXXXXX", dir[4200];
	const char *base = argc > 1 && argv[1][0] ? argv[1] : NULL;
	static const int threads[] = {1, 2, 8, 32};

	if (base == NULL && (base = mkdtemp(tmpl)) == NULL)
		return 1;
	snprintf(dir, sizeof dir, "%s/replay", base);
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		return 1;
	}
	bench_replay(dir);
	for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++)
		bench_commit(base, threads[i]);
	const char *sizes = argc > 2 && argv[2][0] ? argv[2] : "1000000,10000000";
	for (const char *q = sizes; *q != '\0';) {
		char *end;
		unsigned long long n = strtoull(q, &end, 10);

		if (end == q)
			break;
		if (n >= 4 * STARTUP_SYNC_EVERY)
			bench_startup(base, n);
		q = *end == ',' ? end + 1 : end;
	}
	if (argc < 2 || !argv[1][0])
		nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
