/*
 * aud_log.h - the writer's state, shared by aud_log.c (append, group commit) and
 * aud_open.c (open, verify, repair).  Internal to the audit library.
 */
#ifndef WARDEN_AUD_LOG_H
#define WARDEN_AUD_LOG_H

#include <pthread.h>

#include "aud_internal.h"

/* Seq ranges refused after write failures, kept so a late aud_sync still refuses. */
#define AUD_REFUSED_RANGES 16u

struct aud_bytes {
	uint8_t *data;
	size_t len, cap;
};

struct aud_range {
	uint64_t from, to; /* [from, to) */
};

/* Writes in flight at once (direct I/O only; buffered files have one). */
#define AUD_MAX_WRITES 2u
/* Bytes of records handed to writes and not yet durable, at most (a single batch may
 * be alone above it, up to AUD_MAX_BATCH).  Bounds what a crash can tear. */
#define AUD_MAX_INFLIGHT AUD_MAX_BATCH
/* How far past the last good record a torn tail may still hold written data: what can
 * be in flight, plus the zero gaps between overlapping writes. */
#define AUD_TORN_WINDOW (AUD_MAX_INFLIGHT + AUD_MAX_WRITES * AUD_MAX_GAP)

enum aud_write_state { AUD_W_FLYING, AUD_W_DONE, AUD_W_FAILED };

/* One write: records [first_seq, end_seq), stream bytes [.., abs_end), placed in the
 * current file so that its records end at file_end. */
struct aud_write {
	enum aud_write_state state;
	uint64_t end_seq;
	uint64_t abs_end;
	uint64_t file_end;
	uint64_t bytes; /* padded length written */
	uint8_t head[AUD_HASH_LEN];
	uint8_t *buf; /* aligned, owned by the slot */
	size_t cap;
};

struct aud_log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *dir;
	int dirfd, lockfd;
	int fd;  /* the current file, buffered (header, preallocation, truncation) */
	int dfd; /* the same with O_DIRECT | O_DSYNC, or -1 */
	bool force_buffered; /* aud_params.buffered */
	char cur_name[AUD_FILE_NAME_LEN];
	/* The current file: direct (O_DIRECT|O_DSYNC, writes at multiples of `align`,
	 * overlapping) or buffered (pwrite + fdatasync, one at a time).  align is the
	 * header's gap alignment (0: records back to back, no gaps). */
	bool direct;
	uint32_t align;
	uint64_t durable_off; /* end of durable records in the current file */
	uint64_t write_off;   /* end of the records handed to writes in the current file */
	uint64_t alloc_end;   /* preallocated end of the current file */
	uint64_t max_written; /* end of the furthest write into the current file */
	uint8_t *tail_blk;    /* direct: the align-sized block holding write_off's bytes */
	uint32_t tail_blk_len;
	uint64_t rotate_bytes, prealloc_bytes;
	uint32_t ckpt_records, ckpt_ms, retry_ms;
	bool retry_every_call;
	struct aud_hasher *h;

	/* The chain. */
	uint64_t next_seq;
	uint8_t head[AUD_HASH_LEN];
	/* Records not yet durable, [durable, next_seq), back to back in pend from
	 * pend_start; those before `taken` were handed to writes.  abs_base is the stream
	 * offset of pend.data[0] (grows when durable bytes are dropped). */
	struct aud_bytes pend;
	size_t pend_start, taken;
	uint64_t abs_base;
	uint64_t taken_seq;
	size_t last_rec_off; /* offset in pend of the newest record */
	/* Writes in flight, oldest first (a ring); durable advances over the done prefix. */
	struct aud_write wr[AUD_MAX_WRITES];
	unsigned wr_first, wr_num;
	uint64_t inflight_bytes;
	bool io_excl; /* a rotation or preallocation runs: no new write starts */
	/* Durable. */
	uint64_t durable;
	uint8_t durable_head[AUD_HASH_LEN];
	uint64_t num_syncs;
	bool note_writing;

	/* Fail closed. */
	bool failed;
	int fail_errno;
	char fail_msg[AUD_ERR_LEN];
	int64_t last_retry_ns;
	struct aud_range refused[AUD_REFUSED_RANGES];
	size_t num_refused;

	/* Checkpoints. */
	struct evp_pkey_st *key;
	uint8_t pub[AUD_ED25519_LEN];
	char origin[AUD_ORIGIN_MAX];
	bool have_ckpt;
	uint64_t last_ckpt_seq;
	int64_t last_ckpt_ns;
	char *note; /* newest checkpoint text not yet in checkpoint.txt */
	size_t note_len;
	uint64_t note_seq;

	/* Snapshots (aud_snapshot.c). */
	bool snapshotting; /* an aud_snapshot_append is running: other appends wait */
	pthread_t snap_owner; /* the thread running it */
	bool force_rotate; /* the next batch starts a new file (snapshot first in it) */
};

/* Waits (on cv) while a snapshot is being appended.  mu held. */
void aud_snapshot_wait_unlocked(struct aud_log *log);

/* Open-time use of snapshots (aud_snapshot.c). */
#define AUD_SNAP_UNUSABLE 0x534e4150 /* reader stop code: fall back to a fuller pass */
#define AUD_SNAP_NONE UINT64_MAX
enum aud_snap_phase { AUD_SNAP_COLLECT, AUD_SNAP_NEED_CKPT, AUD_SNAP_DONE };
struct aud_snap_reader {
	const struct aud_params *p;
	aud_record_fn track;   /* the library's own bookkeeping (every record seen) */
	aud_record_fn replay;  /* bookkeeping + the caller's replay */
	void *ctx;             /* for both */
	uint64_t seq;          /* first record of the snapshot in use, or AUD_SNAP_NONE */
	bool need_ckpt;        /* fast start: a signed checkpoint must follow the last chunk */
	enum aud_snap_phase phase;
	uint64_t version, count, total, next;
	uint8_t *buf;
	size_t have;
	char why[AUD_ERR_LEN]; /* why the snapshot could not be used */
	bool gave_up; /* the scan stopped because the snapshot is unusable (not the caller) */
};
/* The scan callback: routes records around the snapshot (see aud_snapshot.c). */
int aud_snap_replay(void *ctx, const struct aud_rec *r);
/* The newest file whose first record is the first chunk of a snapshot: its first seq
 * and its header's prev hash.  Unverified: a locator only.  false when none. */
bool aud_snapshot_locate(const char *dir, uint64_t *out_seq, uint8_t out_prev[AUD_HASH_LEN]);

/* Bound of a checkpoint record (origin, size, head, signature, headers). */
#define AUD_CKPT_RECORD_MAX (AUD_REC_MIN_LEN + 512u)
int aud_append_room_unlocked(struct aud_log *log, size_t n);
int aud_append_unlocked(struct aud_log *log, uint16_t type, int64_t time_ns,
			const uint8_t *body, size_t body_len, uint64_t *out_seq);
int aud_sync_unlocked(struct aud_log *log, uint64_t seq);
int aud_checkpoint_unlocked(struct aud_log *log);
void aud_log_free(struct aud_log *log);
/* Creates the next file (temporary, synced, renamed, directory synced) and makes it
 * current.  Nothing may be in flight. */
int aud_new_file(struct aud_log *log, uint64_t first_seq, const uint8_t prev[AUD_HASH_LEN],
		 int *out_errno, char *msg, size_t msg_len);
/* Makes fd (file `name`, records ending at `end`) the current file; takes fd over. */
int aud_use_file(struct aud_log *log, int fd, const char *name, uint64_t end, char *err,
		 size_t err_len);
void aud_file_close(struct aud_log *log);

#endif
