/*
 * aud_log.c - the writer: append in memory (ordered, chained), make durable in groups,
 * rotate by size, write signed checkpoints, fail closed.
 *
 * Appends are ordered under mu.  A thread that needs its record durable takes every
 * record not yet handed to a write (a batch) and writes it itself ("leads"); threads
 * whose records are in someone's batch wait on cv.  On a file opened with O_DIRECT |
 * O_DSYNC a write is durable when pwrite returns, so several writes may be in flight at
 * once (up to AUD_MAX_WRITES, AUD_MAX_INFLIGHT bytes): a batch that starts while the one
 * before is still in flight begins at the next multiple of the file's alignment, and
 * the bytes between are a zero gap (docs/audit-format.md) - two writes in flight never
 * share a block.  A batch that follows a finished write rewrites the partial block they
 * share (kept in tail_blk).  Durability is acknowledged in order: `durable` advances
 * over the prefix of finished writes.  Where O_DIRECT is not available (tmpfs) the file
 * is buffered: one write at a time, pwrite + fdatasync, no gaps.
 *
 * Invariants (under mu):
 *   records [0, durable) are durable; [durable, taken_seq) are in writes in flight
 *   (wr[], oldest first) or kept after a failure; [taken_seq, next_seq) wait for a
 *   leader; all of [durable, next_seq) are in pend from pend_start, taken ones first;
 *   `failed` refuses appends until a retry rewrote [durable, next_seq) from durable_off;
 *   io_excl: a rotation or preallocation runs and no write starts meanwhile (both also
 *   wait until nothing is in flight).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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

/* ===== file I/O ==================================================================== */

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

static uint64_t align_down(uint64_t v, uint32_t a)
{
	return a != 0 ? v / a * a : v;
}

static uint64_t align_up(uint64_t v, uint32_t a)
{
	return a != 0 ? (v + a - 1) / a * a : v;
}

/* Direct-I/O buffers: aligned for any device (the file's alignment is <= 64 KiB, the
 * memory alignment O_DIRECT asks is at most a page here; 4 KiB covers both). */
#define AUD_MEM_ALIGN 4096u

static uint8_t *aligned_buf(size_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, AUD_MEM_ALIGN, n < AUD_MEM_ALIGN ? AUD_MEM_ALIGN : n) != 0)
		return NULL;
	return p;
}

/* The alignment of direct writes to fd: the offset alignment the file system needs for
 * O_DIRECT (statx STATX_DIOALIGN, at least AUD_GAP_UNIT), or 0 when it offers none
 * (tmpfs), needs more than gaps may span, or buffered writes were asked for. */
static uint32_t dio_align(const struct aud_log *log, int fd)
{
	struct statx st;
	uint32_t a;

	if (log->force_buffered ||
	    statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) != 0 ||
	    !(st.stx_mask & STATX_DIOALIGN) || st.stx_dio_offset_align == 0 ||
	    st.stx_dio_mem_align > AUD_MEM_ALIGN)
		return 0;
	a = st.stx_dio_offset_align < AUD_GAP_UNIT ? AUD_GAP_UNIT : st.stx_dio_offset_align;
	return a <= AUD_MAX_GAP / 2 && (a & (a - 1)) == 0 ? a : 0;
}

/* Zero-fills [from, to) through the buffered descriptor and syncs, so that a record's
 * write meets neither a size change nor an unwritten extent (fallocate alone leaves
 * unwritten extents; on ext4 the first write into one costs a metadata commit).
 * Nothing may be in flight (a partial block is read, modified and written back). */
static int zero_fill(int fd, uint64_t from, uint64_t to)
{
	static const uint8_t zeros[AUD_ZERO_CHUNK];

	for (uint64_t off = from; off < to;) {
		size_t n = to - off < sizeof zeros ? (size_t)(to - off) : sizeof zeros;
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (uint64_t)w;
	}
	return fdatasync(fd);
}

void aud_file_close(struct aud_log *log)
{
	if (log->dfd >= 0)
		close(log->dfd);
	if (log->fd >= 0)
		close(log->fd);
	log->fd = log->dfd = -1;
}

/* Makes fd (the file `name`, records ending at `end`) the current file: opens the
 * direct descriptor when the file system allows one, loads the partial block at `end`.
 * Takes fd over, also on failure. */
int aud_use_file(struct aud_log *log, int fd, const char *name, uint64_t end, char *err,
		 size_t err_len)
{
	struct stat st;
	uint32_t a;
	ssize_t n;

	aud_file_close(log);
	log->fd = fd;
	if (fstat(fd, &st) != 0) {
		aud_errf(err, err_len, "%s/%s: %s", log->dir, name, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	a = dio_align(log, fd);
	snprintf(log->cur_name, sizeof log->cur_name, "%s", name);
	log->align = a;
	log->direct = false;
	log->durable_off = log->write_off = log->max_written = end;
	log->alloc_end = (uint64_t)st.st_size;
	if (a != 0) {
		if (log->tail_blk_len != a) {
			free(log->tail_blk);
			log->tail_blk = aligned_buf(a);
			log->tail_blk_len = log->tail_blk != NULL ? a : 0;
		}
		log->dfd = openat(log->dirfd, name, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
		if (log->tail_blk != NULL && log->dfd >= 0) {
			uint64_t blk = align_down(end, a);

			memset(log->tail_blk, 0, a);
			n = pread(fd, log->tail_blk, (size_t)(end - blk), (off_t)blk);
			if (n == (ssize_t)(end - blk))
				log->direct = true;
		}
		if (!log->direct && log->dfd >= 0) {
			close(log->dfd);
			log->dfd = -1;
		}
	}
	return WARDEN_OK;
}

/* A new file whose first record will be first_seq: written as a temporary, synced,
 * renamed, directory synced.  Then the current file.  Nothing may be in flight. */
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
	if (aud_use_file(log, fd, name, AUD_FILE_HDR_LEN, msg, msg_len) != WARDEN_OK) {
		*out_errno = EIO;
		return -1;
	}
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

/* Some write is still in flight. */
static bool any_flying_unlocked(const struct aud_log *log)
{
	for (unsigned i = 0; i < log->wr_num; i++)
		if (log->wr[(log->wr_first + i) % AUD_MAX_WRITES].state == AUD_W_FLYING)
			return true;
	return false;
}

/* The newest write is still in flight (the next one must not share its last block;
 * older writes never share a block with the next one: see step_unlocked). */
static bool last_flying_unlocked(const struct aud_log *log)
{
	return log->wr_num > 0 &&
	       log->wr[(log->wr_first + log->wr_num - 1) % AUD_MAX_WRITES].state == AUD_W_FLYING;
}

/* Drops durable bytes from the front of pend when that is cheap or worthwhile. */
static void pend_compact(struct aud_log *log)
{
	if (log->pend_start == log->pend.len) {
		log->abs_base += log->pend.len;
		log->pend.len = log->pend_start = log->taken = log->last_rec_off = 0;
	} else if (log->pend_start >= 1024u * 1024u && log->pend_start >= log->pend.len / 2) {
		memmove(log->pend.data, log->pend.data + log->pend_start,
			log->pend.len - log->pend_start);
		log->abs_base += log->pend_start;
		log->pend.len -= log->pend_start;
		log->taken -= log->pend_start;
		log->last_rec_off = log->last_rec_off >= log->pend_start
					    ? log->last_rec_off - log->pend_start : 0;
		log->pend_start = 0;
	}
}

/* Writes the newest checkpoint text once its record is durable (one writer at a time;
 * it loops while a newer one became due meanwhile). */
static void flush_note_unlocked(struct aud_log *log)
{
	while (!log->note_writing && log->note != NULL && log->note_seq < log->durable) {
		char *note = log->note;
		size_t len = log->note_len;

		log->note = NULL;
		log->note_len = 0;
		log->note_writing = true;
		pthread_mutex_unlock(&log->mu);
		write_checkpoint_file(log, note, len);
		free(note);
		pthread_mutex_lock(&log->mu);
		log->note_writing = false;
		pthread_cond_broadcast(&log->cv);
	}
}

/* Advances `durable` over the finished prefix of the writes. */
static void complete_unlocked(struct aud_log *log)
{
	while (log->wr_num > 0) {
		struct aud_write *w = &log->wr[log->wr_first];

		if (w->state != AUD_W_DONE)
			break;
		log->durable = w->end_seq;
		memcpy(log->durable_head, w->head, AUD_HASH_LEN);
		log->durable_off = w->file_end;
		log->pend_start = (size_t)(w->abs_end - log->abs_base);
		log->inflight_bytes -= w->bytes;
		log->num_syncs++;
		log->wr_first = (log->wr_first + 1) % AUD_MAX_WRITES;
		log->wr_num--;
	}
	pend_compact(log);
}

/* Hands the records pend[taken, taken + len) (seqs up to end_seq) to a new write whose
 * records begin at file offset `start`, and performs it (mu released meanwhile).  The
 * write covers whole blocks on a direct file (the partial block before `start` comes
 * from tail_blk), and reaches at least min_end (zeros past the records). */
static void issue_write_unlocked(struct aud_log *log, uint64_t start, size_t len,
				 uint64_t end_seq, uint64_t min_end)
{
	struct aud_write *w = &log->wr[(log->wr_first + log->wr_num) % AUD_MAX_WRITES];
	uint32_t a = log->direct ? log->align : 0;
	uint64_t blk0 = align_down(start, a), end = start + len;
	uint64_t stop = align_up(end > min_end ? end : min_end, a);
	size_t total = (size_t)(stop - blk0), prefix = (size_t)(start - blk0);
	char msg[AUD_ERR_LEN];
	bool direct = log->direct; /* stable while writes are in flight */
	int rc, err = 0, wfd = direct ? log->dfd : log->fd;

	if (w->cap < total) {
		size_t cap = w->cap ? w->cap : 64u * 1024u;

		while (cap < total)
			cap *= 2;
		free(w->buf);
		w->buf = aligned_buf(cap);
		w->cap = w->buf != NULL ? cap : 0;
		if (w->buf == NULL) {
			set_failed_unlocked(log, ENOMEM, "out of memory for an audit write");
			pthread_cond_broadcast(&log->cv);
			return;
		}
	}
	if (prefix > 0)
		memcpy(w->buf, log->tail_blk, prefix);
	memcpy(w->buf + prefix, log->pend.data + log->taken, len);
	memset(w->buf + prefix + len, 0, total - prefix - len);
	if (a != 0) {
		memset(log->tail_blk, 0, a);
		if (end % a != 0)
			memcpy(log->tail_blk, w->buf + (align_down(end, a) - blk0),
			       (size_t)(end % a));
	}
	w->state = AUD_W_FLYING;
	w->end_seq = end_seq;
	w->abs_end = log->abs_base + log->taken + len;
	w->file_end = end;
	w->bytes = total;
	memcpy(w->head, log->pend.data + log->taken + len - AUD_HASH_LEN, AUD_HASH_LEN);
	log->taken += len;
	log->taken_seq = end_seq;
	log->write_off = end;
	log->inflight_bytes += total;
	log->wr_num++;
	pthread_mutex_unlock(&log->mu);

	rc = pwrite_all(wfd, w->buf, total, blk0);
	if (rc != 0) {
		err = errno;
		aud_errf(msg, sizeof msg, "write %s/%s at offset %llu: %s%s", log->dir,
			 log->cur_name, (unsigned long long)blk0, strerror(err),
			 direct && err == EINVAL ? " (direct I/O refused: writes go buffered from "
						   "the retry on)" : "");
	} else if (!direct && fdatasync(log->fd) != 0) {
		rc = -1;
		err = errno;
		aud_errf(msg, sizeof msg, "fdatasync %s/%s at offset %llu: %s", log->dir,
			 log->cur_name, (unsigned long long)blk0, strerror(err));
	}

	pthread_mutex_lock(&log->mu);
	if (stop > log->max_written)
		log->max_written = stop;
	if (rc == 0) {
		w->state = AUD_W_DONE;
	} else {
		w->state = AUD_W_FAILED;
		/* A file system that announced direct I/O and then refuses an aligned write:
		 * never again for this log (the retry and new files are buffered). */
		if (direct && err == EINVAL)
			log->force_buffered = true;
		set_failed_unlocked(log, err, msg);
	}
	complete_unlocked(log);
	pthread_cond_broadcast(&log->cv);
	flush_note_unlocked(log);
}

/* File work with mu released and every other writer held off (io_excl). */
static void exclusive_begin(struct aud_log *log)
{
	log->io_excl = true;
	pthread_mutex_unlock(&log->mu);
}

static void exclusive_end(struct aud_log *log)
{
	pthread_mutex_lock(&log->mu);
	log->io_excl = false;
	pthread_cond_broadcast(&log->cv);
}

/* Finishes the current file (drops the preallocated zeros so that it ends with its
 * last record) and continues the chain in a new one.  Nothing is in flight. */
static void rotate_unlocked(struct aud_log *log)
{
	char msg[AUD_ERR_LEN];
	uint64_t first = log->durable, off = log->durable_off;
	uint8_t prev[AUD_HASH_LEN];
	int err = 0, rc;

	memcpy(prev, log->durable_head, AUD_HASH_LEN);
	exclusive_begin(log);
	rc = ftruncate(log->fd, (off_t)off) == 0 && fdatasync(log->fd) == 0 ? 0 : -1;
	if (rc != 0) {
		err = errno;
		aud_errf(msg, sizeof msg, "ftruncate %s/%s at offset %llu: %s", log->dir,
			 log->cur_name, (unsigned long long)off, strerror(err));
	} else {
		rc = aud_new_file(log, first, prev, &err, msg, sizeof msg);
	}
	exclusive_end(log);
	if (rc == 0)
		log->force_rotate = false;
	else
		set_failed_unlocked(log, err, msg);
}

/* Extends the zero-filled area past `need`.  Nothing is in flight.  A failure is not
 * fatal: the write that follows extends the file itself and reports real trouble. */
static void prealloc_unlocked(struct aud_log *log, uint64_t need)
{
	uint64_t from = log->alloc_end, to = need + log->prealloc_bytes;
	int rc;

	exclusive_begin(log);
	rc = zero_fill(log->fd, from, to);
	exclusive_end(log);
	log->alloc_end = rc == 0 ? to : need;
}

/* One step towards writing what waits for a leader.  false: the caller must wait for
 * another thread's write (or rotation, or preallocation) first. */
static bool step_unlocked(struct aud_log *log)
{
	uint32_t a = log->direct ? log->align : 0;
	uint64_t start, end_seq = log->taken_seq, stop;
	size_t len = 0;

	if (log->io_excl || log->wr_num == AUD_MAX_WRITES || (!log->direct && log->wr_num > 0))
		return false;
	if ((log->write_off >= log->rotate_bytes || log->force_rotate) &&
	    log->write_off > AUD_FILE_HDR_LEN) {
		if (log->wr_num > 0)
			return false;
		rotate_unlocked(log);
		return true;
	}
	log->force_rotate = false; /* an empty file: the batch starts it anyway */
	/* Whole records, up to a batch (at least one record). */
	while (log->taken + len < log->pend.len) {
		uint32_t n = aud_get32(log->pend.data + log->taken + len);

		if (len > 0 && len + n > AUD_MAX_BATCH)
			break;
		len += n;
		end_seq++;
	}
	if (log->wr_num > 0 && log->inflight_bytes + len + a > AUD_MAX_INFLIGHT)
		return false;
	/* Overlapping the write before (still in flight): start at the next block, leaving
	 * a zero gap; after a finished one, rewrite the block they share.  A gap begins
	 * with a zero record_len, so it is at least AUD_LEN_FIELD bytes: with fewer left
	 * before the boundary the next record's first bytes would sit where the verifier
	 * reads that record_len, and this batch waits for the write in flight instead. */
	start = log->write_off;
	if (a != 0 && start % a != 0 && last_flying_unlocked(log)) {
		if (a - start % a < AUD_LEN_FIELD)
			return false;
		start = align_up(start, a);
	}
	stop = align_up(start + len, a);
	if (stop > log->alloc_end) {
		if (log->wr_num > 0)
			return false;
		prealloc_unlocked(log, stop);
		return true;
	}
	issue_write_unlocked(log, start, len, end_seq, 0);
	return true;
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
		if (seq < log->taken_seq || !step_unlocked(log))
			pthread_cond_wait(&log->cv, &log->mu);
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

/* Failed state, nothing in flight: writes every record kept, [durable, next_seq), again
 * from durable_off in one write, and zeros over whatever later writes left past it. */
static int rewrite_unlocked(struct aud_log *log)
{
	uint64_t blk;

	log->wr_num = 0;
	log->wr_first = 0;
	log->inflight_bytes = 0;
	log->taken = log->pend_start;
	log->taken_seq = log->durable;
	log->write_off = log->durable_off;
	if (log->direct && log->force_buffered) {
		close(log->dfd);
		log->dfd = -1;
		log->direct = false;
	}
	if (log->direct) {
		blk = align_down(log->durable_off, log->align);
		memset(log->tail_blk, 0, log->align);
		if (pread(log->fd, log->tail_blk, (size_t)(log->durable_off - blk), (off_t)blk) !=
		    (ssize_t)(log->durable_off - blk)) {
			char msg[AUD_ERR_LEN];
			int err = errno;

			aud_errf(msg, sizeof msg, "re-reading %s/%s at offset %llu: %s", log->dir,
				 log->cur_name, (unsigned long long)blk, strerror(err));
			set_failed_unlocked(log, err, msg);
			return WARDEN_E_AUDIT;
		}
	}
	if (log->pend.len > log->taken)
		issue_write_unlocked(log, log->durable_off, log->pend.len - log->taken,
				     log->next_seq, log->max_written);
	return log->durable == log->next_seq ? WARDEN_OK : WARDEN_E_AUDIT;
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
		/* Keep what waits for a leader within AUD_MAX_BATCH: flush it first. */
		if (log->pend.len > log->taken && log->pend.len - log->taken + n > AUD_MAX_BATCH / 2) {
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

	while (log->io_excl || any_flying_unlocked(log))
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
	rc = rewrite_unlocked(log);
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
	/* checkpoint.txt is written by whichever thread finished the write: wait for it. */
	while (rc == WARDEN_OK && (log->note_writing || (log->note != NULL && log->note_seq < log->durable))) {
		if (log->note_writing)
			pthread_cond_wait(&log->cv, &log->mu);
		else
			flush_note_unlocked(log);
	}
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
	aud_file_close(log);
	if (log->dirfd >= 0)
		close(log->dirfd);
	if (log->lockfd >= 0)
		close(log->lockfd); /* releases the flock */
	bytes_free(&log->pend);
	for (unsigned i = 0; i < AUD_MAX_WRITES; i++)
		free(log->wr[i].buf);
	free(log->tail_blk);
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
