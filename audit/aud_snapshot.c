/*
 * aud_snapshot.c - state snapshots inside the log: writing one (aud_snapshot_append),
 * finding the newest at open (aud_snapshot_locate), and routing records around it
 * during the open's scan (aud_snap_replay).
 *
 * On disk a snapshot is SNAPSHOT records i = 0..n-1 with consecutive seqs, each
 * { snap_version, snap_index i, snap_count n, snap_len L, state: chunk i }, the first
 * one the first record of its file, then (when the log has a key) a checkpoint whose
 * head is the last chunk's hash.  The blob is the chunks concatenated (L bytes); it
 * stands for the effect of records [0, seq of chunk 0).
 *
 * Why it can be trusted without verifying what precedes it (fast start): the chain
 * from chunk 0's prev_hash on is verified record by record, and the checkpoint right
 * after the last chunk carries an Ed25519 signature by the audit key over the head hash,
 * which commits to every chunk.  So the blob is exactly what the key holder (the
 * enclave) wrote; forging one needs the audit key, and with the key an attacker could
 * re-sign a rewritten log from genesis too, so full verification adds no protection
 * against that attacker.  What fast start gives up: damage or tampering in records
 * before the snapshot goes unnoticed at start-up (the state does not depend on them;
 * the evidence does): `warden-audit verify` finds it, and should run periodically.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aud_log.h"

_Static_assert(AUD_MAX_SNAPSHOT % AUD_SNAPSHOT_CHUNK == 0, "whole chunks");

void aud_snapshot_wait_unlocked(struct aud_log *log)
{
	while (log->snapshotting && !pthread_equal(log->snap_owner, pthread_self()))
		pthread_cond_wait(&log->cv, &log->mu);
}

static int put_chunk(struct aud_log *log, uint32_t version, const uint8_t *p, size_t len,
		     uint64_t index, uint64_t count, uint64_t total, uint64_t *out_seq)
{
	struct aud_body b;
	int rc;

	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_SNAP_VERSION, version);
	aud_put_uint(&b, AUD_F_SNAP_INDEX, index);
	aud_put_uint(&b, AUD_F_SNAP_COUNT, count);
	aud_put_uint(&b, AUD_F_SNAP_LEN, total);
	aud_put_bytes(&b, AUD_F_STATE, p, len);
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK)
		rc = aud_append_unlocked(log, AUD_T_SNAPSHOT, 0, b.data, b.len, out_seq);
	aud_body_free(&b);
	return rc;
}

int aud_snapshot_append(struct aud_log *log, uint32_t version, const void *state, size_t len,
			uint64_t *out_seq)
{
	const uint8_t *p = state;
	uint64_t count = len == 0 ? 1 : (len + AUD_SNAPSHOT_CHUNK - 1) / AUD_SNAPSHOT_CHUNK;
	uint64_t seq = 0, last = 0;
	int rc;

	*out_seq = 0;
	if (log == NULL || (state == NULL && len > 0) || len > AUD_MAX_SNAPSHOT)
		return WARDEN_E_INTERNAL;
	pthread_mutex_lock(&log->mu);
	aud_snapshot_wait_unlocked(log);
	if (log->failed || log->next_seq == 0) {
		rc = WARDEN_E_AUDIT;
		goto out;
	}
	log->snapshotting = true;
	log->snap_owner = pthread_self();
	/* Everything before the snapshot is durable first, so the next batch starts with
	 * chunk 0 and goes into a new file. */
	rc = aud_sync_unlocked(log, log->next_seq - 1);
	if (rc != WARDEN_OK)
		goto done;
	log->force_rotate = true;
	for (uint64_t i = 0; i < count && rc == WARDEN_OK; i++) {
		size_t off = (size_t)i * AUD_SNAPSHOT_CHUNK;
		size_t n = len - off < AUD_SNAPSHOT_CHUNK ? len - off : AUD_SNAPSHOT_CHUNK;

		rc = put_chunk(log, version, p + off, n, i, count, len, &last);
		if (i == 0)
			seq = last;
	}
	if (rc == WARDEN_OK && log->key != NULL)
		rc = aud_checkpoint_unlocked(log);
	if (rc == WARDEN_OK)
		rc = aud_sync_unlocked(log, log->next_seq - 1);
done:
	log->snapshotting = false;
	pthread_cond_broadcast(&log->cv);
out:
	pthread_mutex_unlock(&log->mu);
	if (rc == WARDEN_OK)
		*out_seq = seq;
	return rc;
}

/* ===== open ======================================================================== */

/* Is the first record of this file chunk 0 of a snapshot?  Unverified reads. */
static bool file_starts_snapshot(int dirfd, const char *name, uint64_t first_seq,
				 uint8_t prev[AUD_HASH_LEN])
{
	uint8_t hdr[AUD_FILE_HDR_LEN + AUD_REC_HDR_LEN], *rec = NULL;
	struct aud_field f;
	uint32_t len;
	bool ok = false;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
		goto out;
	const uint8_t *r = hdr + AUD_FILE_HDR_LEN;
	len = aud_get32(r);
	if (memcmp(hdr, AUD_FILE_MAGIC, AUD_FILE_MAGIC_LEN) != 0 ||
	    aud_get16(r + 4) != AUD_T_SNAPSHOT || aud_get64(r + 8) != first_seq ||
	    len < AUD_REC_MIN_LEN || len > AUD_MAX_RECORD || (rec = malloc(len)) == NULL ||
	    pread(fd, rec, len, AUD_FILE_HDR_LEN) != (ssize_t)len)
		goto out;
	if (aud_body_find(rec + AUD_REC_HDR_LEN, len - AUD_REC_MIN_LEN, AUD_F_SNAP_INDEX, &f) &&
	    f.len == 8 && aud_field_uint(&f) == 0) {
		memcpy(prev, hdr + 24, AUD_HASH_LEN);
		ok = true;
	}
out:
	free(rec);
	close(fd);
	return ok;
}

bool aud_snapshot_locate(const char *dir, uint64_t *out_seq, uint8_t out_prev[AUD_HASH_LEN])
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t seq;
	bool found = false;
	uint8_t prev[AUD_HASH_LEN];

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL) {
		if (!aud_file_name_parse(e->d_name, &seq) || (found && seq <= *out_seq))
			continue;
		if (file_starts_snapshot(dirfd(d), e->d_name, seq, prev)) {
			*out_seq = seq;
			memcpy(out_prev, prev, AUD_HASH_LEN);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static int unusable(struct aud_snap_reader *s, const struct aud_rec *r, const char *why)
{
	aud_errf(s->why, sizeof s->why, "snapshot at record %llu not used: %s (record %llu, %s "
		 "offset %llu)", (unsigned long long)s->seq, why, (unsigned long long)r->seq,
		 r->file, (unsigned long long)r->offset);
	s->gave_up = true;
	return AUD_SNAP_UNUSABLE;
}

static int deliver(struct aud_snap_reader *s)
{
	int rc = s->p->snapshot(s->p->snapshot_ctx, (uint32_t)s->version, s->buf, s->have,
				s->seq);

	free(s->buf);
	s->buf = NULL;
	s->phase = AUD_SNAP_DONE;
	return rc;
}

static int collect(struct aud_snap_reader *s, const struct aud_rec *r)
{
	struct aud_field fv, fi, fc, fl, st;
	const uint8_t *b = r->body;
	size_t n = r->body_len;

	if (r->type != AUD_T_SNAPSHOT)
		return unusable(s, r, "the snapshot's records are interrupted");
	if (!aud_body_find(b, n, AUD_F_SNAP_VERSION, &fv) ||
	    !aud_body_find(b, n, AUD_F_SNAP_INDEX, &fi) ||
	    !aud_body_find(b, n, AUD_F_SNAP_COUNT, &fc) ||
	    !aud_body_find(b, n, AUD_F_SNAP_LEN, &fl) || !aud_body_find(b, n, AUD_F_STATE, &st))
		return unusable(s, r, "a snapshot field is missing");
	if (aud_field_uint(&fi) != s->next)
		return unusable(s, r, "snapshot chunk out of order");
	if (s->next == 0) {
		s->version = aud_field_uint(&fv);
		s->count = aud_field_uint(&fc);
		s->total = aud_field_uint(&fl);
		if (s->version > UINT32_MAX || s->count == 0 || s->count > AUD_MAX_SNAPSHOT_CHUNKS ||
		    s->total > AUD_MAX_SNAPSHOT || s->total > s->count * AUD_SNAPSHOT_CHUNK)
			return unusable(s, r, "snapshot sizes out of range");
		s->buf = malloc(s->total > 0 ? s->total : 1);
		if (s->buf == NULL)
			return unusable(s, r, "out of memory for the snapshot");
	} else if (aud_field_uint(&fv) != s->version || aud_field_uint(&fc) != s->count ||
		   aud_field_uint(&fl) != s->total) {
		return unusable(s, r, "snapshot chunks disagree");
	}
	if (st.len > s->total - s->have)
		return unusable(s, r, "snapshot longer than it says");
	memcpy(s->buf + s->have, st.val, st.len);
	s->have += st.len;
	if (++s->next < s->count)
		return s->track(s->ctx, r);
	if (s->have != s->total)
		return unusable(s, r, "snapshot shorter than it says");
	if (s->need_ckpt) {
		s->phase = AUD_SNAP_NEED_CKPT;
		return s->track(s->ctx, r);
	}
	int rc = s->track(s->ctx, r);
	return rc != 0 ? rc : deliver(s);
}

/*
 * Records before the snapshot: bookkeeping only.  The snapshot's chunks: collected (no
 * caller callback yet, so the open can still fall back to a fuller pass).  Then the
 * blob goes to the snapshot callback - at fast start only once the signed checkpoint
 * after it is verified - and every later record to replay.
 */
int aud_snap_replay(void *ctx, const struct aud_rec *r)
{
	struct aud_snap_reader *s = ctx;

	if (s->seq == AUD_SNAP_NONE || s->phase == AUD_SNAP_DONE)
		return r->type == AUD_T_SNAPSHOT && s->p->snapshot != NULL ? s->track(s->ctx, r)
									   : s->replay(s->ctx, r);
	if (r->seq < s->seq)
		return s->track(s->ctx, r);
	if (s->phase == AUD_SNAP_COLLECT)
		return collect(s, r);
	/* AUD_SNAP_NEED_CKPT: the scan verified this checkpoint's signature already. */
	if (r->type != AUD_T_CHECKPOINT)
		return unusable(s, r, "no signed checkpoint follows the snapshot");
	int rc = deliver(s);
	return rc != 0 ? rc : s->replay(s->ctx, r);
}
