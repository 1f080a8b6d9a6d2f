/*
 * aud_open.c - opening the log: lock, verify and replay in one pass, check against
 * checkpoint.txt, repair a torn tail (never silently), or create a new log with its
 * genesis record.
 *
 * What counts as a torn tail: the first defect is in the newest file, is one a partial
 * write produces (short record, bad length, bad hash), and nothing but zeros follows
 * the damaged record (a write that stopped part-way leaves a prefix).  Anything else
 * (a broken link, a bad checkpoint, valid-looking data after the damage, damage in an
 * older file) stops the open: the operator decides.  A torn tail found below what
 * checkpoint.txt covers is refused too (that is truncation, not a torn write).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aud_log.h"

#define AUD_TAIL_CHUNK (256u * 1024u)

struct open_ctx {
	struct aud_log *log;
	const struct aud_params *p;
	bool genesis_key_mismatch;
};

/* Tracks the last checkpoint and checks the genesis key. */
static int open_track(void *vctx, const struct aud_rec *r)
{
	struct open_ctx *c = vctx;
	struct aud_field f;

	if (r->type == AUD_T_CHECKPOINT) {
		c->log->have_ckpt = true;
		c->log->last_ckpt_seq = r->seq;
		c->log->last_ckpt_ns = r->time_ns;
	}
	if (r->type == AUD_T_GENESIS && c->log->key != NULL &&
	    aud_body_find(r->body, r->body_len, AUD_F_AUDIT_PUBKEY, &f) &&
	    (f.len != AUD_ED25519_LEN || memcmp(f.val, c->log->pub, AUD_ED25519_LEN) != 0)) {
		c->genesis_key_mismatch = true;
		return 1;
	}
	return 0;
}

/* Tracks, then hands on to the caller. */
static int open_replay(void *vctx, const struct aud_rec *r)
{
	struct open_ctx *c = vctx;
	int rc = open_track(vctx, r);

	if (rc != 0)
		return rc;
	return c->p->replay != NULL ? c->p->replay(c->p->replay_ctx, r) : 0;
}

/* Hands the newest appended record to the replay callback (genesis, recovery). */
static int replay_own(struct aud_log *log, const struct aud_params *p)
{
	struct aud_rec r;
	char what[AUD_ERR_LEN];
	const uint8_t *rec = log->pend.data + log->last_rec_off;
	uint64_t seq = log->next_seq - 1;
	uint8_t prev[AUD_HASH_LEN];

	if (p->replay == NULL)
		return 0;
	memcpy(prev, rec + AUD_REC_HDR_LEN - AUD_HASH_LEN, AUD_HASH_LEN);
	if (aud_record_parse(log->h, rec, log->pend.len - log->last_rec_off, seq, prev, &r, what,
			     sizeof what) != AUD_V_OK)
		return -1;
	r.file = log->cur_name;
	r.offset = log->write_off + (log->last_rec_off - log->taken);
	return p->replay(p->replay_ctx, &r);
}

static void remove_temporaries(struct aud_log *log)
{
	DIR *d = opendir(log->dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		uint64_t seq;
		char base[AUD_FILE_NAME_LEN];

		if (n < 4 || strcmp(e->d_name + n - 4, ".tmp") != 0)
			continue;
		if (strcmp(e->d_name, AUD_CHECKPOINT_FILE ".tmp") == 0 ||
		    (n - 4 < sizeof base && (memcpy(base, e->d_name, n - 4), base[n - 4] = '\0',
					     aud_file_name_parse(base, &seq))))
			(void)unlinkat(log->dirfd, e->d_name, 0);
	}
	closedir(d);
}

/* Reads checkpoint.txt into a malloc'd buffer; NULL (and *len 0) when absent. */
static char *read_checkpoint(struct aud_log *log, size_t *len, char *err, size_t err_len,
			     int *rc)
{
	int fd = openat(log->dirfd, AUD_CHECKPOINT_FILE, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;

	*len = 0;
	*rc = WARDEN_OK;
	if (fd < 0) {
		if (errno != ENOENT) {
			aud_errf(err, err_len, "%s/%s: %s", log->dir, AUD_CHECKPOINT_FILE,
				 strerror(errno));
			*rc = WARDEN_E_INTERNAL;
		}
		return NULL;
	}
	buf = malloc(AUD_NOTE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		*rc = WARDEN_E_NOMEM;
		return NULL;
	}
	n = read(fd, buf, AUD_NOTE_MAX + 1);
	close(fd);
	if (n < 0 || n > (ssize_t)AUD_NOTE_MAX) {
		aud_errf(err, err_len, "%s/%s: unreadable or too long", log->dir, AUD_CHECKPOINT_FILE);
		free(buf);
		*rc = WARDEN_E_AUDIT;
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

/* A torn tail is what writes in flight at a crash leave: the writer acknowledges
 * records in order and never has more than AUD_MAX_INFLIGHT bytes (plus the zero gaps
 * between overlapping writes) written but not durable, and a write may reach the disk
 * in any order of its blocks.  So the bad record is followed by zeros or by written
 * data that ends within AUD_TORN_WINDOW of it (never acknowledged: a record after a
 * damaged one was not durable when the crash came); the cut is [from, last non-zero
 * byte].  Data further on is damage inside the log.  Hashes the bytes cut. */
static int examine_tail(struct aud_log *log, const char *name, uint64_t from,
			uint64_t *out_cut, uint8_t cut_hash[AUD_HASH_LEN], char *err, size_t err_len)
{
	uint8_t *buf = malloc(AUD_TAIL_CHUNK);
	int fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
	uint64_t off = from, last = from, zero_from; /* last: one past the last non-zero */
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t lenb[4] = {0};
	uint32_t rec_len;
	int ret = -1;

	*out_cut = 0;
	if (buf == NULL || fd < 0 || ctx == NULL || pread(fd, lenb, sizeof lenb, (off_t)from) < 0)
		goto out;
	rec_len = aud_get32(lenb);
	zero_from = from + (rec_len >= AUD_REC_MIN_LEN && rec_len <= AUD_MAX_RECORD ? rec_len
									       : sizeof lenb);
	for (;;) {
		ssize_t n = pread(fd, buf, AUD_TAIL_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		for (ssize_t i = n - 1; i >= 0; i--)
			if (buf[i] != 0) {
				last = off + (uint64_t)i + 1;
				break;
			}
		off += (uint64_t)n;
	}
	if (last > zero_from && last - from > AUD_TORN_WINDOW) {
		aud_errf(err, err_len,
			 "%s: data continues past the damaged record at offset %llu (up to byte "
			 "%llu, more than the %u bytes a crash can leave unfinished): damage "
			 "inside the log, not a torn tail",
			 name, (unsigned long long)from, (unsigned long long)last,
			 (unsigned)AUD_TORN_WINDOW);
		goto out;
	}
	/* Hash exactly the bytes cut. */
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (off = from; off < last;) {
		size_t want = last - off < AUD_TAIL_CHUNK ? (size_t)(last - off) : AUD_TAIL_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n <= 0 || EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, cut_hash, NULL) != 1)
		goto out;
	*out_cut = last - from;
	ret = 0;
out:
	if (ret != 0 && err[0] == '\0')
		aud_errf(err, err_len, "%s: cannot read the damaged tail: %s", name, strerror(errno));
	EVP_MD_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static bool torn_kind(enum aud_verdict v)
{
	return v == AUD_V_SHORT || v == AUD_V_BAD_LEN || v == AUD_V_BAD_HASH ||
	       v == AUD_V_TRAILING;
}

static int open_current(struct aud_log *log, const char *name, uint64_t end, char *err,
			size_t err_len)
{
	int fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		aud_errf(err, err_len, "%s/%s: %s", log->dir, name, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	return aud_use_file(log, fd, name, end, err, err_len);
}

static int make_genesis(struct aud_log *log, const struct aud_params *p, char *err,
			size_t err_len)
{
	struct aud_body b;
	uint64_t seq;
	int rc, e = 0;
	static const uint8_t zero[AUD_HASH_LEN];

	if (aud_new_file(log, 0, zero, &e, err, err_len) != 0)
		return WARDEN_E_INTERNAL;
	aud_body_init(&b);
	if (p->genesis->body_len > 0 &&
	    (b.data = malloc(p->genesis->body_len)) != NULL) {
		memcpy(b.data, p->genesis->body, p->genesis->body_len);
		b.len = b.cap = p->genesis->body_len;
	} else if (p->genesis->body_len > 0) {
		return WARDEN_E_NOMEM;
	}
	if (log->key != NULL) {
		aud_put_bytes(&b, AUD_F_AUDIT_PUBKEY, log->pub, AUD_ED25519_LEN);
		aud_put_str(&b, AUD_F_ORIGIN, log->origin);
	}
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK)
		rc = aud_append_unlocked(log, AUD_T_GENESIS, p->genesis->time_ns, b.data, b.len, &seq);
	aud_body_free(&b);
	if (rc == WARDEN_OK && replay_own(log, p) != 0)
		rc = WARDEN_E_INTERNAL;
	if (rc == WARDEN_OK)
		rc = aud_sync_unlocked(log, seq);
	if (rc != WARDEN_OK)
		aud_errf(err, err_len, "writing the genesis record: %s",
			 log->failed ? log->fail_msg : "invalid genesis body");
	return rc;
}

static int repair(struct aud_log *log, const struct aud_params *p,
		  const struct aud_scan_result *res, struct aud_open_report *rep, char *err,
		  size_t err_len)
{
	uint8_t cut_hash[AUD_HASH_LEN];
	uint64_t cut = 0, seq;
	struct aud_body b;
	int rc;

	if (examine_tail(log, res->good_file, res->good_end, &cut, cut_hash, err, err_len) != 0)
		return WARDEN_E_AUDIT;
	rc = open_current(log, res->good_file, res->good_end, err, err_len);
	if (rc != WARDEN_OK)
		return rc;
	if (ftruncate(log->fd, (off_t)res->good_end) != 0 || fdatasync(log->fd) != 0) {
		aud_errf(err, err_len, "truncating %s: %s", res->good_file, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	log->alloc_end = res->good_end;
	rep->repaired = true;
	snprintf(rep->file, sizeof rep->file, "%s", res->good_file);
	rep->offset = res->good_end;
	rep->cut_bytes = cut;
	aud_errf(rep->message, sizeof rep->message,
		 "audit log %s: torn tail cut at offset %llu (%llu bytes after record %llu: %s); "
		 "a recovery record was appended",
		 res->good_file, (unsigned long long)res->good_end, (unsigned long long)cut,
		 (unsigned long long)(res->num_records - 1), res->what);
	aud_body_init(&b);
	aud_put_str(&b, AUD_F_FILE, res->good_file);
	aud_put_uint(&b, AUD_F_OFFSET, res->good_end);
	aud_put_uint(&b, AUD_F_CUT_BYTES, cut);
	aud_put_bytes(&b, AUD_F_CUT_SHA256, cut_hash, AUD_HASH_LEN);
	aud_put_str(&b, AUD_F_REASON, res->what);
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK)
		rc = aud_append_unlocked(log, AUD_T_RECOVERY, 0, b.data, b.len, &seq);
	aud_body_free(&b);
	if (rc == WARDEN_OK && replay_own(log, p) != 0)
		rc = WARDEN_E_INTERNAL;
	if (rc == WARDEN_OK)
		rc = aud_sync_unlocked(log, seq);
	if (rc != WARDEN_OK)
		aud_errf(err, err_len, "writing the recovery record: %s", log->fail_msg);
	return rc;
}

static int setup(struct aud_log *log, const struct aud_params *p, char *err, size_t err_len)
{
	if (pthread_mutex_init(&log->mu, NULL) != 0 || pthread_cond_init(&log->cv, NULL) != 0)
		return WARDEN_E_INTERNAL;
	log->fd = log->dfd = log->dirfd = log->lockfd = -1;
	log->force_buffered = p->buffered;
	log->rotate_bytes = p->rotate_bytes ? p->rotate_bytes : AUD_DEFAULT_ROTATE_BYTES;
	if (log->rotate_bytes < AUD_MIN_ROTATE_BYTES)
		log->rotate_bytes = AUD_MIN_ROTATE_BYTES;
	log->prealloc_bytes = p->prealloc_bytes ? p->prealloc_bytes : AUD_DEFAULT_PREALLOC_BYTES;
	log->ckpt_records = p->checkpoint_records ? p->checkpoint_records : AUD_DEFAULT_CKPT_RECORDS;
	log->ckpt_ms = p->checkpoint_ms ? p->checkpoint_ms : AUD_DEFAULT_CKPT_MS;
	log->retry_ms = p->retry_ms ? p->retry_ms : AUD_DEFAULT_RETRY_MS;
	log->retry_every_call = p->retry_every_call;
	log->dir = strdup(p->dir);
	log->h = aud_hasher_new();
	if (log->dir == NULL || log->h == NULL)
		return WARDEN_E_NOMEM;
	log->dirfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (log->dirfd < 0) {
		aud_errf(err, err_len, "audit directory %s: %s", p->dir, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	log->lockfd = openat(log->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (log->lockfd < 0) {
		aud_errf(err, err_len, "%s/lock: %s", p->dir, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	if (flock(log->lockfd, LOCK_EX | LOCK_NB) != 0) {
		aud_errf(err, err_len, "%s is in use by another writer", p->dir);
		return WARDEN_E_BUSY;
	}
	if (p->key_file != NULL) {
		int rc = aud_key_load(p->key_file, &log->key, log->pub, err, err_len);

		if (rc != WARDEN_OK)
			return rc;
		aud_origin_for_key(log->pub, log->origin);
	}
	log->last_ckpt_ns = aud_now_ns();
	return WARDEN_OK;
}

enum start_try { TRY_FAST, TRY_FULL_SNAPSHOT, TRY_FULL, TRY_DONE };

/* checkpoint.txt's tree size, 0 if unreadable (its check then happens in the scan). */
static uint64_t note_size(const struct aud_scan_opts *so)
{
	struct aud_note *n = so->checkpoint_text != NULL ? malloc(sizeof *n) : NULL;
	uint64_t size = 0;

	if (n != NULL && aud_note_parse(so->checkpoint_text, so->checkpoint_len, n))
		size = n->size;
	free(n);
	return size;
}

/*
 * The verifying scan, using the newest snapshot when the caller takes snapshots:
 *   fast start   - from the snapshot's file on; needs the audit key, a signed checkpoint
 *                  right after the snapshot, and checkpoint.txt (if any) beyond it;
 *   full         - from genesis, replay only after the snapshot;
 *   full, plain  - from genesis, every record replayed (no usable snapshot).
 * Each falls back to the next when the snapshot proves unusable; that is always found
 * before any caller callback ran (the reader collects the chunks first), so no state
 * is half-built.  rep says what was used and why not.
 */
static void scan_with_snapshot(struct aud_log *log, const struct aud_params *p,
			       struct aud_scan_opts *so, struct open_ctx *oc,
			       struct aud_scan_result *res, struct aud_open_report *rep)
{
	struct aud_snap_reader rd = {.p = p, .track = open_track, .replay = open_replay,
				     .ctx = oc, .seq = AUD_SNAP_NONE};
	uint8_t prev[AUD_HASH_LEN];
	uint64_t snap = AUD_SNAP_NONE;
	enum start_try t = TRY_FULL;

	rep->snapshot_seq = AUD_SNAP_NONE;
	if (p->snapshot != NULL && aud_snapshot_locate(p->dir, &snap, prev)) {
		t = TRY_FULL_SNAPSHOT;
		if (p->fast_start && log->key == NULL)
			aud_errf(rep->snapshot_message, sizeof rep->snapshot_message,
				 "fast start needs the audit key: verifying from genesis");
		else if (p->fast_start && so->checkpoint_text != NULL && note_size(so) <= snap)
			aud_errf(rep->snapshot_message, sizeof rep->snapshot_message,
				 "%s predates the snapshot at record %llu: verifying from genesis",
				 AUD_CHECKPOINT_FILE, (unsigned long long)snap);
		else if (p->fast_start)
			t = TRY_FAST;
	} else if (p->snapshot != NULL && p->fast_start) {
		aud_errf(rep->snapshot_message, sizeof rep->snapshot_message,
			 "no snapshot in the log: verifying from genesis");
	}
	for (; t != TRY_DONE; t++) {
		log->have_ckpt = false;
		log->last_ckpt_seq = 0;
		log->last_ckpt_ns = aud_now_ns();
		oc->genesis_key_mismatch = false;
		free(rd.buf);
		rd = (struct aud_snap_reader){.p = p, .track = open_track, .replay = open_replay,
					      .ctx = oc, .seq = t == TRY_FULL ? AUD_SNAP_NONE : snap,
					      .need_ckpt = t == TRY_FAST};
		so->start_prev = t == TRY_FAST ? prev : NULL;
		so->start_seq = t == TRY_FAST ? snap : 0;
		so->cb = aud_snap_replay;
		so->cb_ctx = &rd;
		if (aud_scan(so, res) != AUD_V_OK) {
			/* res->verdict says what; the caller handles it */
		}
		bool unused = rd.seq != AUD_SNAP_NONE && rd.phase != AUD_SNAP_DONE;

		if (res->verdict == AUD_V_STOPPED) {
			unused = rd.gave_up; /* else the caller's own stop, whatever its code */
		} else if (unused && res->verdict != AUD_V_OK && !res->in_last_file) {
			unused = false; /* a real defect: report it, whatever the start */
		} else if (unused) {
			aud_errf(rd.why, sizeof rd.why, "the log ends inside the snapshot at record "
				 "%llu or before its checkpoint", (unsigned long long)snap);
		}
		if (!unused)
			break;
		aud_errf(rep->snapshot_message, sizeof rep->snapshot_message, "%s", rd.why);
	}
	free(rd.buf);
	if (t != TRY_DONE && rd.seq != AUD_SNAP_NONE) {
		rep->snapshot_seq = rd.seq;
		rep->fast_start = t == TRY_FAST;
		rep->verified_from = t == TRY_FAST ? rd.seq : 0;
	}
}

int aud_open(const struct aud_params *p, struct aud_log **out, struct aud_open_report *rep,
	     char *err, size_t err_len)
{
	struct aud_log *log = calloc(1, sizeof *log);
	struct aud_scan_result *res = malloc(sizeof *res);
	struct open_ctx oc = {.log = log, .p = p};
	struct aud_scan_opts so = {.dir = p != NULL ? p->dir : NULL};
	char *ckpt = NULL;
	size_t ckpt_len = 0;
	bool had_ckpt = false;
	int rc = WARDEN_E_NOMEM;

	*out = NULL;
	memset(rep, 0, sizeof *rep);
	if (err_len > 0)
		err[0] = '\0';
	if (p == NULL || p->dir == NULL) {
		rc = WARDEN_E_INTERNAL;
		goto out_free;
	}
	if (log == NULL || res == NULL)
		goto out_free;
	rc = setup(log, p, err, err_len);
	if (rc != WARDEN_OK)
		goto out;
	remove_temporaries(log);
	ckpt = read_checkpoint(log, &ckpt_len, err, err_len, &rc);
	if (rc != WARDEN_OK)
		goto out;
	had_ckpt = ckpt != NULL;
	if (ckpt != NULL && log->key == NULL) {
		free(ckpt); /* no key: the checkpoint cannot be verified; tools use aud_scan */
		ckpt = NULL;
	}
	so.pubkey = log->key != NULL ? log->pub : NULL;
	so.checkpoint_text = ckpt;
	so.checkpoint_len = ckpt_len;
	pthread_mutex_lock(&log->mu);
	scan_with_snapshot(log, p, &so, &oc, res, rep);
	if (oc.genesis_key_mismatch) {
		aud_errf(err, err_len, "the audit key %s does not match the key in the log's "
				       "genesis record", p->key_file);
		rc = WARDEN_E_AUDIT;
	} else if (res->verdict == AUD_V_STOPPED) {
		aud_errf(err, err_len, "replay stopped at %s offset %llu (callback returned %d)",
			 res->file, (unsigned long long)res->offset, res->cb_rc);
		rc = WARDEN_E_AUDIT;
	} else if (res->verdict == AUD_V_EMPTY && p->genesis != NULL && !had_ckpt) {
		rc = make_genesis(log, p, err, err_len);
		rep->created = rc == WARDEN_OK;
	} else if (res->verdict == AUD_V_OK ||
		   (torn_kind(res->verdict) && res->in_last_file && res->num_records > 0 &&
		    strcmp(res->file, res->good_file) == 0)) {
		if (ckpt != NULL && !res->checkpoint_checked) {
			aud_errf(err, err_len, "%s/%s: log truncated: %s holds %llu good records, "
					       "fewer than %s covers",
				 p->dir, res->good_file, p->dir,
				 (unsigned long long)res->num_records, AUD_CHECKPOINT_FILE);
			rc = WARDEN_E_AUDIT;
			goto unlock;
		}
		log->next_seq = log->durable = res->num_records;
		memcpy(log->head, res->head, AUD_HASH_LEN);
		memcpy(log->durable_head, res->head, AUD_HASH_LEN);
		log->taken_seq = log->next_seq;
		if (res->verdict == AUD_V_OK)
			rc = open_current(log, res->good_file, res->good_end, err, err_len);
		else
			rc = repair(log, p, res, rep, err, err_len);
	} else {
		aud_errf(err, err_len,
			 "audit log %s: %s at byte %llu: %s; verified: records 0..%lld (through "
			 "%s byte %llu)",
			 p->dir, res->file[0] ? res->file : "-", (unsigned long long)res->offset,
			 res->what, (long long)res->num_records - 1,
			 res->good_file[0] ? res->good_file : "-", (unsigned long long)res->good_end);
		rc = WARDEN_E_AUDIT;
	}
unlock:
	pthread_mutex_unlock(&log->mu);
out:
	if (rc == WARDEN_OK) {
		rep->num_records = log->next_seq;
		*out = log;
		log = NULL;
	}
out_free:
	free(ckpt);
	free(res);
	aud_log_free(log);
	return rc;
}
