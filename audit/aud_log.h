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

struct aud_log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *dir;
	int dirfd, fd, lockfd;
	char cur_name[AUD_FILE_NAME_LEN];
	uint64_t durable_off; /* end of durable data in the current file (leader) */
	uint64_t alloc_end;   /* preallocated end of the current file (leader) */
	uint64_t rotate_bytes, prealloc_bytes;
	uint32_t ckpt_records, ckpt_ms, retry_ms;
	bool retry_every_call;
	struct aud_hasher *h;

	/* The chain. */
	uint64_t next_seq;
	uint8_t head[AUD_HASH_LEN];
	/* Appended, waiting for a leader. */
	struct aud_bytes pend;
	uint64_t pend_first_seq;
	size_t last_rec_off; /* offset in pend of the newest record */
	/* Taken by the leader (or kept after a failure). */
	struct aud_bytes fly;
	uint64_t fly_first_seq, fly_end_seq;
	uint8_t fly_head[AUD_HASH_LEN];
	/* Durable. */
	uint64_t durable;
	uint8_t durable_head[AUD_HASH_LEN];
	uint64_t num_syncs;
	bool syncing;

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
 * current.  Leader or open only. */
int aud_new_file(struct aud_log *log, uint64_t first_seq, const uint8_t prev[AUD_HASH_LEN],
		 int *out_errno, char *msg, size_t msg_len);

#endif
