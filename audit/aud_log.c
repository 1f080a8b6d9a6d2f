/*
 * aud_log.c - the writer: append in memory (ordered, chained), make durable in groups
 * (one leader writes and fdatasyncs what everyone appended, the others wait on a
 * condition variable), rotate by size, write signed checkpoints, fail closed.
 *
 * Invariants (under mu):
 *   records [0, durable) are on disk and fdatasync'd; [durable, next_seq) are in `fly`
 *   (handed to the leader, or kept after a failure) followed by `pend`;
 *   at most one leader (`syncing`) does file I/O at a time, so at most one batch
 *   (<= AUD_MAX_BATCH bytes) is ever written but not yet durable;
 *   `failed` refuses appends until a retry rewrote fly+pend from durable_off.
 * The leader owns fd, cur_name, durable_off and alloc_end while `syncing` is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aud_log.h"

#define AUD_ZERO_CHUNK (64u * 1024u)

static void bytes_free(struct aud_bytes *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

static int bytes_reserve(struct aud_bytes *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64u * 1024u;
	uint8_t *d;

	while (cap < b->len + more)
		cap *= 2;
	d = realloc(b->data, cap);
	if (d == NULL)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

static int64_t ms_to_ns(uint32_t ms)
{
	return (int64_t)ms * 1000000;
}

static void set_failed_unlocked(struct aud_log *log, int err, const char *msg)
{
	struct aud_range *r;

	if (!log->failed) {
		r = &log->refused[log->num_refused++ % AUD_REFUSED_RANGES];
		r->from = log->durable;
		r->to = log->next_seq;
	} else if (log->num_refused > 0) {
		/* A failed retry: anything appended since (nothing: appends are refused) */
		r = &log->refused[(log->num_refused - 1) % AUD_REFUSED_RANGES];
		r->to = log->next_seq;
	}
	log->failed = true;
	log->fail_errno = err;
	snprintf(log->fail_msg, sizeof log->fail_msg, "%s", msg);
}

static bool is_refused_unlocked(const struct aud_log *log, uint64_t seq)
{
	size_t n = log->num_refused < AUD_REFUSED_RANGES ? log->num_refused : AUD_REFUSED_RANGES;

	for (size_t i = 0; i < n; i++)
		if (seq >= log->refused[i].from && seq < log->refused[i].to)
			return true;
	return false;
}

/* ===== file I/O (leader only) ====================================================== */

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Preallocates by writing zeros ahead (and syncing them once), so that a record's
 * fdatasync has neither a size change nor an unwritten-extent conversion to commit:
 * fallocate alone leaves unwritten extents, and on ext4 the first write into one costs
 * a journal commit.  Not fatal: the write that follows reports real trouble. */
static void prealloc(struct aud_log *log, uint64_t need)
{
	static const uint8_t zeros[AUD_ZERO_CHUNK];
	uint64_t to, off;

	if (need <= log->alloc_end)
		return;
	/* Only past the batch about to be written: bytes below `need` are records. */
	to = need + log->prealloc_bytes;
	for (off = need; off < to;) {
		size_t n = to - off < sizeof zeros ? (size_t)(to - off) : sizeof zeros;
		ssize_t w = pwrite(log->fd, zeros, n, (off_t)off);

		if (w <= 0)
			return;
		off += (uint64_t)w;
	}
	if (fdatasync(log->fd) == 0)
		log->alloc_end = to;
}

/* A new file whose first record will be first_seq: written as a temporary, synced,
 * renamed, directory synced.  Then the current file. */
int aud_new_file(struct aud_log *log, uint64_t first_seq, const uint8_t prev[AUD_HASH_LEN],
		    int *out_errno, char *msg, size_t msg_len)
{
	char name[AUD_FILE_NAME_LEN], tmp[AUD_FILE_NAME_LEN + 8];
	uint8_t hdr[AUD_FILE_HDR_LEN];
	int fd;

	aud_file_name(first_seq, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	(void)unlinkat(log->dirfd, tmp, 0);
	fd = openat(log->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		goto fail;
	aud_file_hdr_encode(hdr, first_seq, prev);
	if (pwrite_all(fd, hdr, sizeof hdr, 0) != 0 || fdatasync(fd) != 0 ||
	    renameat(log->dirfd, tmp, log->dirfd, name) != 0 || fsync(log->dirfd) != 0)
		goto fail;
	if (log->fd >= 0)
		close(log->fd);
	log->fd = fd;
	snprintf(log->cur_name, sizeof log->cur_name, "%s", name);
	log->durable_off = AUD_FILE_HDR_LEN;
	log->alloc_end = AUD_FILE_HDR_LEN;
	return 0;
fail:
	*out_errno = errno;
	aud_errf(msg, msg_len, "creating %s in %s: %s", name, log->dir, strerror(errno));
	if (fd >= 0) {
		close(fd);
		(void)unlinkat(log->dirfd, tmp, 0);
	}
	return -1;
}

/* Writes fly at durable_off (rotating first when the file is full) and fdatasyncs. */
static int write_batch(struct aud_log *log, int *out_errno, char *msg, size_t msg_len)
{
	const char *what = "pwrite";

	if (log->force_rotate && log->durable_off <= AUD_FILE_HDR_LEN)
		log->force_rotate = false; /* the file is empty: the batch starts it anyway */
	if (log->durable_off >= log->rotate_bytes || log->force_rotate) {
		/* Drop the preallocated tail so that a finished file ends with its last
		 * record, then continue the chain in a new file. */
		if (ftruncate(log->fd, (off_t)log->durable_off) != 0 || fdatasync(log->fd) != 0) {
			what = "ftruncate";
			goto fail;
		}
		if (aud_new_file(log, log->fly_first_seq, log->durable_head, out_errno, msg,
			     msg_len) != 0)
			return -1;
		log->force_rotate = false;
	}
	prealloc(log, log->durable_off + log->fly.len);
	if (pwrite_all(log->fd, log->fly.data, log->fly.len, log->durable_off) != 0)
		goto fail;
	what = "fdatasync";
	if (fdatasync(log->fd) != 0)
		goto fail;
	return 0;
fail:
	*out_errno = errno;
	aud_errf(msg, msg_len, "%s %s/%s at offset %llu: %s", what, log->dir, log->cur_name,
		 (unsigned long long)log->durable_off, strerror(errno));
	return -1;
}

static void write_checkpoint_file(struct aud_log *log, const char *text, size_t len)
{
	static const char tmp[] = AUD_CHECKPOINT_FILE ".tmp";
	int fd;

	(void)unlinkat(log->dirfd, tmp, 0);
	fd = openat(log->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* Not fatal: the checkpoint record is in the log; the next one rewrites this. */
	if (pwrite_all(fd, (const uint8_t *)text, len, 0) != 0 || fdatasync(fd) != 0) {
		close(fd);
		(void)unlinkat(log->dirfd, tmp, 0);
		return;
	}
	close(fd);
	if (renameat(log->dirfd, tmp, log->dirfd, AUD_CHECKPOINT_FILE) == 0)
		(void)fsync(log->dirfd);
}

/* ===== group commit ================================================================ */

/* Becomes the leader for everything pending.  Called with mu held, !syncing, !failed
 * or retrying.  Returns with mu held. */
static int lead_unlocked(struct aud_log *log)
{
	char msg[AUD_ERR_LEN], *note = NULL;
	size_t note_len = 0;
	int err = 0, rc;

	if (log->fly.len == 0) {
		struct aud_bytes t = log->fly;

		log->fly = log->pend;
		log->pend = t;
		log->fly_first_seq = log->pend_first_seq;
	} else {
		/* A retry: what failed is still in fly; what was appended after follows. */
		if (bytes_reserve(&log->fly, log->pend.len) != 0) {
			set_failed_unlocked(log, ENOMEM, "out of memory retrying the audit write");
			return WARDEN_E_AUDIT;
		}
		memcpy(log->fly.data + log->fly.len, log->pend.data, log->pend.len);
		log->fly.len += log->pend.len;
	}
	log->pend.len = 0;
	log->pend_first_seq = log->next_seq;
	log->fly_end_seq = log->next_seq;
	memcpy(log->fly_head, log->head, AUD_HASH_LEN);
	if (log->note_len > 0 && log->note_seq < log->fly_end_seq) {
		note = log->note;
		note_len = log->note_len;
		log->note = NULL;
		log->note_len = 0;
	}
	log->syncing = true;
	pthread_mutex_unlock(&log->mu);

	rc = write_batch(log, &err, msg, sizeof msg);
	if (rc == 0 && note != NULL)
		write_checkpoint_file(log, note, note_len);

	pthread_mutex_lock(&log->mu);
	free(note);
	log->syncing = false;
	if (rc == 0) {
		log->durable = log->fly_end_seq;
		log->durable_off += log->fly.len;
		memcpy(log->durable_head, log->fly_head, AUD_HASH_LEN);
		log->fly.len = 0;
		log->num_syncs++;
	} else {
		set_failed_unlocked(log, err, msg);
	}
	pthread_cond_broadcast(&log->cv);
	return rc == 0 ? WARDEN_OK : WARDEN_E_AUDIT;
}

int aud_sync_unlocked(struct aud_log *log, uint64_t seq)
{
	for (;;) {
		if (seq >= log->next_seq)
			return WARDEN_E_INTERNAL;
		if (is_refused_unlocked(log, seq))
			return WARDEN_E_AUDIT;
		if (seq < log->durable)
			return WARDEN_OK;
		if (log->failed)
			return WARDEN_E_AUDIT;
		if (log->syncing) {
			pthread_cond_wait(&log->cv, &log->mu);
			continue;
		}
		(void)lead_unlocked(log);
	}
}

int aud_sync(struct aud_log *log, uint64_t seq)
{
	int rc;

	pthread_mutex_lock(&log->mu);
	rc = aud_sync_unlocked(log, seq);
	pthread_mutex_unlock(&log->mu);
	return rc;
}

/* ===== appending =================================================================== */

/* Waits until a record of n bytes can be appended without mu being released: no other
 * thread's snapshot in progress, and room in the pending batch (flushing it if not).
 * Callers that build a body from the chain state (checkpoints) call it first. */
int aud_append_room_unlocked(struct aud_log *log, size_t n)
{
	for (;;) {
		/* A snapshot's records stay together: others wait until it is in. */
		if (log->snapshotting && !pthread_equal(log->snap_owner, pthread_self())) {
			pthread_cond_wait(&log->cv, &log->mu);
			if (log->failed)
				return WARDEN_E_AUDIT;
			continue;
		}
		/* Keep a batch within AUD_MAX_BATCH: flush what is pending first. */
		if (log->pend.len > 0 && log->pend.len + n > AUD_MAX_BATCH / 2) {
			int rc = aud_sync_unlocked(log, log->next_seq - 1);

			if (rc == WARDEN_E_AUDIT || log->failed)
				return WARDEN_E_AUDIT;
			continue;
		}
		break;
	}
	return WARDEN_OK;
}

int aud_append_unlocked(struct aud_log *log, uint16_t type, int64_t time_ns,
			const uint8_t *body, size_t body_len, uint64_t *out_seq)
{
	size_t n = AUD_REC_MIN_LEN + body_len;
	int rc;

	*out_seq = 0;
	if (type == 0 || body_len > AUD_MAX_BODY || (type == AUD_T_GENESIS) != (log->next_seq == 0) ||
	    !aud_body_check(body, body_len, NULL, NULL))
		return WARDEN_E_INTERNAL;
	rc = aud_append_room_unlocked(log, n);
	if (rc != WARDEN_OK)
		return rc;
	if (bytes_reserve(&log->pend, n) != 0)
		return WARDEN_E_NOMEM;
	if (log->pend.len == 0)
		log->pend_first_seq = log->next_seq;
	log->last_rec_off = log->pend.len;
	aud_record_encode(log->h, log->pend.data + log->pend.len, type, log->next_seq,
			  time_ns != 0 ? time_ns : aud_now_ns(), log->head, body, body_len);
	memcpy(log->head, log->pend.data + log->pend.len + n - AUD_HASH_LEN, AUD_HASH_LEN);
	log->pend.len += n;
	*out_seq = log->next_seq++;
	return WARDEN_OK;
}

static uint64_t since_checkpoint(const struct aud_log *log)
{
	return log->have_ckpt ? log->next_seq - log->last_ckpt_seq - 1 : log->next_seq;
}

/* Appends a checkpoint covering every record so far. */
int aud_checkpoint_unlocked(struct aud_log *log)
{
	struct aud_body b;
	char *note = malloc(AUD_NOTE_MAX);
	size_t note_len = 0;
	uint64_t seq;
	int rc = WARDEN_E_NOMEM;

	aud_body_init(&b);
	if (note == NULL)
		goto out;
	/* The body names the chain head: nothing may be appended between making it and
	 * appending it, so wait for room first. */
	rc = aud_append_room_unlocked(log, AUD_CKPT_RECORD_MAX);
	if (rc != WARDEN_OK)
		goto out;
	rc = aud_checkpoint_make(log->key, log->origin, log->pub, log->next_seq, log->head, &b,
				 note, AUD_NOTE_MAX, &note_len);
	if (rc != WARDEN_OK)
		goto out;
	rc = aud_append_unlocked(log, AUD_T_CHECKPOINT, 0, b.data, b.len, &seq);
	if (rc != WARDEN_OK)
		goto out;
	free(log->note);
	log->note = note;
	log->note_len = note_len;
	log->note_seq = seq;
	note = NULL;
	log->have_ckpt = true;
	log->last_ckpt_seq = seq;
	log->last_ckpt_ns = aud_now_ns();
out:
	free(note);
	aud_body_free(&b);
	return rc;
}

static bool checkpoint_due_unlocked(const struct aud_log *log, bool by_time_only)
{
	uint64_t since = since_checkpoint(log);

	if (log->key == NULL || since == 0)
		return false;
	if (!by_time_only && since >= log->ckpt_records)
		return true;
	return aud_now_ns() - log->last_ckpt_ns >= ms_to_ns(log->ckpt_ms);
}

/* Failed state: rewrite everything kept from durable_off, then a RECOVERY record. */
static int retry_unlocked(struct aud_log *log)
{
	struct aud_range r;
	struct aud_body b;
	char reason[AUD_ERR_LEN + 128];
	uint64_t seq;
	int rc, err;

	while (log->syncing)
		pthread_cond_wait(&log->cv, &log->mu);
	if (!log->failed)
		return WARDEN_OK;
	log->last_retry_ns = aud_now_ns();
	r = log->refused[(log->num_refused - 1) % AUD_REFUSED_RANGES];
	err = log->fail_errno;
	snprintf(reason, sizeof reason,
		 "audit write failed (%s); records %llu..%llu were written late and refused "
		 "to their callers: nothing was signed for them",
		 log->fail_msg, (unsigned long long)r.from, (unsigned long long)(r.to - 1));
	rc = lead_unlocked(log);
	if (rc != WARDEN_OK)
		return rc;
	log->failed = false;
	log->fail_msg[0] = '\0';
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_REFUSED_FROM, r.from);
	aud_put_uint(&b, AUD_F_REFUSED_TO, r.to - 1);
	aud_put_uint(&b, AUD_F_ERRNO, (uint64_t)err);
	aud_put_str(&b, AUD_F_REASON, reason);
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK)
		rc = aud_append_unlocked(log, AUD_T_RECOVERY, 0, b.data, b.len, &seq);
	aud_body_free(&b);
	if (rc == WARDEN_OK)
		rc = aud_sync_unlocked(log, seq);
	return rc;
}

int aud_retry(struct aud_log *log)
{
	int rc;

	pthread_mutex_lock(&log->mu);
	rc = retry_unlocked(log);
	pthread_mutex_unlock(&log->mu);
	return rc;
}

int aud_append(struct aud_log *log, const struct aud_record *rec, uint64_t *out_seq)
{
	int rc;

	*out_seq = 0;
	if (rec == NULL || (rec->body == NULL && rec->body_len > 0) || rec->type == AUD_T_GENESIS ||
	    rec->type == AUD_T_CHECKPOINT)
		return WARDEN_E_INTERNAL;
	pthread_mutex_lock(&log->mu);
	if (log->failed) {
		if (!log->retry_every_call &&
		    aud_now_ns() - log->last_retry_ns < ms_to_ns(log->retry_ms)) {
			rc = WARDEN_E_AUDIT;
			goto out;
		}
		rc = retry_unlocked(log);
		if (rc != WARDEN_OK)
			goto out;
	}
	rc = aud_append_unlocked(log, rec->type, rec->time_ns, rec->body, rec->body_len, out_seq);
	if (rc == WARDEN_OK && checkpoint_due_unlocked(log, false) &&
	    aud_checkpoint_unlocked(log) != WARDEN_OK) {
		/* The record is in; a checkpoint that could not be made is tried again at the
		 * next append (only a signing or memory failure gets here). */
	}
out:
	pthread_mutex_unlock(&log->mu);
	return rc;
}

static int checkpoint_and_sync(struct aud_log *log, bool force)
{
	int rc = WARDEN_OK;

	pthread_mutex_lock(&log->mu);
	if (log->failed) {
		rc = WARDEN_E_AUDIT;
		goto out;
	}
	if (log->key != NULL && since_checkpoint(log) > 0 &&
	    (force || checkpoint_due_unlocked(log, true)))
		rc = aud_checkpoint_unlocked(log);
	if (rc == WARDEN_OK && log->next_seq > 0)
		rc = aud_sync_unlocked(log, log->next_seq - 1);
out:
	pthread_mutex_unlock(&log->mu);
	return rc;
}

int aud_tick(struct aud_log *log)
{
	return checkpoint_and_sync(log, false);
}

int aud_checkpoint(struct aud_log *log)
{
	return checkpoint_and_sync(log, true);
}

int aud_shutdown(struct aud_log *log, const char *reason)
{
	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SHUTDOWN};
	uint64_t seq;
	int rc;

	aud_body_init(&b);
	aud_put_str(&b, AUD_F_TEXT, reason != NULL ? reason : "shutdown");
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK) {
		r.body = b.data;
		r.body_len = b.len;
		rc = aud_append(log, &r, &seq);
	}
	aud_body_free(&b);
	if (rc == WARDEN_OK)
		rc = aud_checkpoint(log);
	return rc;
}

bool aud_failed(struct aud_log *log, char *buf, size_t buf_len)
{
	bool f;

	pthread_mutex_lock(&log->mu);
	f = log->failed;
	if (buf != NULL && buf_len > 0)
		snprintf(buf, buf_len, "%s", f ? log->fail_msg : "");
	pthread_mutex_unlock(&log->mu);
	return f;
}

uint64_t aud_num_records(struct aud_log *log)
{
	uint64_t n;

	pthread_mutex_lock(&log->mu);
	n = log->next_seq;
	pthread_mutex_unlock(&log->mu);
	return n;
}

uint64_t aud_num_durable(struct aud_log *log)
{
	uint64_t n;

	pthread_mutex_lock(&log->mu);
	n = log->durable;
	pthread_mutex_unlock(&log->mu);
	return n;
}

uint64_t aud_num_syncs(struct aud_log *log)
{
	uint64_t n;

	pthread_mutex_lock(&log->mu);
	n = log->num_syncs;
	pthread_mutex_unlock(&log->mu);
	return n;
}

const char *aud_origin(const struct aud_log *log)
{
	return log->origin;
}

void aud_log_free(struct aud_log *log)
{
	if (log == NULL)
		return;
	if (log->fd >= 0)
		close(log->fd);
	if (log->dirfd >= 0)
		close(log->dirfd);
	if (log->lockfd >= 0)
		close(log->lockfd); /* releases the flock */
	bytes_free(&log->pend);
	bytes_free(&log->fly);
	free(log->note);
	free(log->dir);
	EVP_PKEY_free(log->key);
	aud_hasher_free(log->h);
	pthread_cond_destroy(&log->cv);
	pthread_mutex_destroy(&log->mu);
	free(log);
}

void aud_close(struct aud_log *log)
{
	if (log == NULL)
		return;
	/* Whatever was appended and never synced gets one last chance. */
	pthread_mutex_lock(&log->mu);
	if (!log->failed && log->next_seq > log->durable)
		(void)aud_sync_unlocked(log, log->next_seq - 1);
	pthread_mutex_unlock(&log->mu);
	aud_log_free(log);
}
