/*
 * aud_scan.c - one pass over a log directory: every file in name order, every record
 * verified (framing, hash, chain, sequence, body), checkpoints checked, and the good
 * records handed to a callback.  Memory is bounded by the largest record (the read
 * buffer) plus the list of file names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aud_internal.h"

#define AUD_READ_CHUNK (1024u * 1024u)
_Static_assert(AUD_READ_CHUNK >= AUD_FILE_HDR_LEN, "a header fits one read");

struct rd {
	int fd;
	uint8_t *buf;
	size_t cap, start, have;
	uint64_t off; /* file offset of buf[start] */
	bool eof;
};

/* Makes at least `want` bytes available (fewer only at the end of the file). */
static int rd_fill(struct rd *r, size_t want)
{
	if (r->have >= want || r->eof)
		return 0;
	if (r->start + want > r->cap) {
		memmove(r->buf, r->buf + r->start, r->have);
		r->start = 0;
		if (want > r->cap) {
			size_t cap = want + AUD_READ_CHUNK;
			uint8_t *b = realloc(r->buf, cap);

			if (b == NULL)
				return -2;
			r->buf = b;
			r->cap = cap;
		}
	}
	while (r->have < want && !r->eof) {
		ssize_t n = read(r->fd, r->buf + r->start + r->have, r->cap - r->start - r->have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = true;
		r->have += (size_t)n;
	}
	return 0;
}

static void rd_consume(struct rd *r, size_t n)
{
	r->start += n;
	r->have -= n;
	r->off += n;
	if (r->have == 0)
		r->start = 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The log files of dir, sorted.  *out NULL and 0 files when there are none. */
static enum aud_verdict list_files(const char *dir, char ***out, size_t *num, char *what,
				   size_t what_len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;
	uint64_t seq;

	*out = NULL;
	*num = 0;
	if (d == NULL) {
		aud_errf(what, what_len, "%s: %s", dir, strerror(errno));
		return AUD_V_IO;
	}
	while ((e = readdir(d)) != NULL) {
		if (!aud_file_name_parse(e->d_name, &seq))
			continue;
		if (n == cap) {
			char **nv;

			cap = cap ? 2 * cap : 16;
			nv = cap <= AUD_MAX_FILES ? realloc(v, cap * sizeof *v) : NULL;
			if (nv == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n] = strdup(e->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, name_cmp);
	*out = v;
	*num = n;
	return AUD_V_OK;
nomem:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	aud_errf(what, what_len, "too many log files or out of memory");
	return AUD_V_NOMEM;
}

struct scan {
	const struct aud_scan_opts *o;
	struct aud_scan_result *res;
	struct aud_hasher *h;
	struct aud_note *note; /* the given checkpoint, or NULL */
	struct rd rd;
	uint64_t next_seq;
	uint8_t head[AUD_HASH_LEN];
	uint64_t gap_from; /* the last gap began here (UINT64_MAX: the record before is
			    * adjacent), its first non-zero byte is at gap_to */
	uint64_t gap_to;
};

static enum aud_verdict fail(struct scan *s, enum aud_verdict v, const char *file,
			     uint64_t off)
{
	s->res->verdict = v;
	snprintf(s->res->file, sizeof s->res->file, "%s", file);
	s->res->offset = off;
	if (s->res->what[0] == '\0')
		snprintf(s->res->what, sizeof s->res->what, "%s", aud_verdict_str(v));
	return v;
}

static enum aud_verdict check_header(struct scan *s, const char *name)
{
	const uint8_t *p = s->rd.buf + s->rd.start;
	uint64_t name_seq = 0;
	char *w = s->res->what;
	size_t wl = sizeof s->res->what;

	if (!aud_file_name_parse(name, &name_seq))
		return AUD_V_BAD_FILE;
	if (s->rd.have < AUD_FILE_HDR_LEN) {
		aud_errf(w, wl, "file shorter than its %u-byte header", AUD_FILE_HDR_LEN);
		return AUD_V_BAD_FILE;
	}
	if (memcmp(p, AUD_FILE_MAGIC, AUD_FILE_MAGIC_LEN) != 0 ||
	    aud_get32(p + AUD_FOFF_VERSION) != AUD_FORMAT_VERSION ||
	    aud_get32(p + AUD_FOFF_HDR_LEN) != AUD_FILE_HDR_LEN) {
		aud_errf(w, wl, "file header: bad magic, version or header length");
		return AUD_V_BAD_FILE;
	}
	for (size_t i = AUD_FOFF_RESERVED; i < AUD_FILE_HDR_LEN; i++)
		if (p[i] != 0) {
			aud_errf(w, wl, "file header: reserved bytes not zero");
			return AUD_V_BAD_FILE;
		}
	if (aud_get64(p + AUD_FOFF_FIRST_SEQ) != name_seq) {
		aud_errf(w, wl, "file header names first record %llu, file name %llu",
			 (unsigned long long)aud_get64(p + AUD_FOFF_FIRST_SEQ),
			 (unsigned long long)name_seq);
		return AUD_V_BAD_FILE;
	}
	if (name_seq != s->next_seq) {
		aud_errf(w, wl, "file starts at record %llu but the log continues at %llu "
				"(a file is missing, extra, or out of place)",
			 (unsigned long long)name_seq, (unsigned long long)s->next_seq);
		return AUD_V_BAD_FILE;
	}
	if (memcmp(p + AUD_FOFF_PREV, s->head, AUD_HASH_LEN) != 0) {
		aud_errf(w, wl, "file header's previous hash differs from the chain head");
		return AUD_V_BAD_FILE;
	}
	return AUD_V_OK;
}

/* At a record length of 0 (offset x): the data ends there when only zeros follow to
 * the end of the file; or it is a gap, when the first non-zero byte y lies in a record
 * length field that starts at a multiple of AUD_GAP_UNIT (z = y rounded down) with
 * x < z < x + AUD_MAX_GAP: the records go on at z.  Anything else is data after the end.
 * (A record length is big-endian and 88 to 4 MiB: its first byte is 0, one of the
 * other three is not, so y is z + 1, 2 or 3.) */
static enum aud_verdict skip_zeros(struct scan *s, const char *name, uint64_t x, bool *end)
{
	for (;;) {
		/* Zeros are consumed only up to multiples of AUD_GAP_UNIT, so that the
		 * record a gap leads to is still in the buffer. */
		int rc = rd_fill(&s->rd, s->rd.have + AUD_READ_CHUNK);

		if (rc != 0)
			return fail(s, rc == -2 ? AUD_V_NOMEM : AUD_V_IO, name, s->rd.off);
		const uint8_t *p = s->rd.buf + s->rd.start;
		size_t i = 0;

		while (i < s->rd.have && p[i] == 0)
			i++;
		if (i == s->rd.have) {
			uint64_t m = (s->rd.off + i) / AUD_GAP_UNIT * AUD_GAP_UNIT;

			if (s->rd.eof) {
				rd_consume(&s->rd, i);
				*end = true;
				return AUD_V_OK;
			}
			if (m > s->rd.off)
				rd_consume(&s->rd, (size_t)(m - s->rd.off));
			continue;
		}
		uint64_t y = s->rd.off + i, z = y / AUD_GAP_UNIT * AUD_GAP_UNIT;

		if (z <= x || z - x >= AUD_MAX_GAP || y - z > 3) {
			aud_errf(s->res->what, sizeof s->res->what,
				 "non-zero byte after the end of data at offset %llu (torn write or "
				 "tampering)", (unsigned long long)x);
			return fail(s, AUD_V_TRAILING, name, y);
		}
		rd_consume(&s->rd, (size_t)(z - s->rd.off));
		s->gap_from = x;
		s->gap_to = y;
		return AUD_V_OK;
	}
}

static enum aud_verdict one_record(struct scan *s, const char *name, bool *end)
{
	struct aud_rec rec;
	enum aud_verdict v;
	uint64_t off = s->rd.off;
	char *w = s->res->what;
	size_t wl = sizeof s->res->what;
	int rc;

	*end = false;
	rc = rd_fill(&s->rd, 4);
	if (rc == 0 && s->rd.have >= 4) {
		uint32_t n = aud_get32(s->rd.buf + s->rd.start);

		if (n >= AUD_REC_MIN_LEN && n <= AUD_MAX_RECORD)
			rc = rd_fill(&s->rd, n);
	}
	if (rc != 0)
		return fail(s, rc == -2 ? AUD_V_NOMEM : AUD_V_IO, name, off);
	v = aud_record_parse(s->h, s->rd.buf + s->rd.start, s->rd.have, s->next_seq, s->head,
			     &rec, w, wl);
	if (v == AUD_V_END)
		return skip_zeros(s, name, off, end);
	if (v != AUD_V_OK && s->gap_from != UINT64_MAX) {
		/* What follows a gap must continue the chain; if it does not, it is data
		 * after the end of the data (as a crash can leave: see aud_open.c). */
		char why[AUD_ERR_LEN];

		snprintf(why, sizeof why, "%s", w);
		aud_errf(w, wl, "data after the end of data at offset %llu does not continue the "
				"chain (%s): torn write or tampering",
			 (unsigned long long)s->gap_from, why);
		return fail(s, AUD_V_TRAILING, name, s->gap_to);
	}
	if (v != AUD_V_OK)
		return fail(s, v, name, off);
	s->gap_from = UINT64_MAX;
	rec.file = name;
	rec.offset = off;
	if (rec.type == AUD_T_CHECKPOINT) {
		v = aud_checkpoint_check(&rec, s->o->pubkey, w, wl);
		if (v != AUD_V_OK)
			return fail(s, v, name, off);
	}
	if (s->note != NULL && rec.seq + 1 == s->note->size) {
		if (memcmp(rec.hash, s->note->head, AUD_HASH_LEN) != 0) {
			aud_errf(w, wl, "record %llu's hash differs from the head hash of the "
					"given checkpoint (log rewritten or a different log)",
				 (unsigned long long)rec.seq);
			return fail(s, AUD_V_TRUNCATED, name, off);
		}
		s->res->checkpoint_checked = true;
	}
	if (rec.type == AUD_T_CHECKPOINT) { /* counted once the record is good */
		s->res->num_checkpoints++;
		s->res->last_checkpoint_size = rec.seq;
	}
	if (s->o->cb != NULL && (rc = s->o->cb(s->o->cb_ctx, &rec)) != 0) {
		s->res->cb_rc = rc;
		aud_errf(w, wl, "stopped by the reader at record %llu", (unsigned long long)rec.seq);
		return fail(s, AUD_V_STOPPED, name, off);
	}
	memcpy(s->head, rec.hash, AUD_HASH_LEN);
	s->next_seq++;
	s->res->num_records = s->next_seq;
	memcpy(s->res->head, s->head, AUD_HASH_LEN);
	s->res->good_end = off + rec.raw_len;
	rd_consume(&s->rd, rec.raw_len);
	return AUD_V_OK;
}

static enum aud_verdict scan_file(struct scan *s, const char *dir, const char *name)
{
	char path[AUD_MAX_PATH];
	enum aud_verdict v;
	bool end = false;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	s->rd.fd = open(path, O_RDONLY | O_CLOEXEC);
	s->rd.start = s->rd.have = 0;
	s->rd.off = 0;
	s->rd.eof = false;
	if (s->rd.fd < 0) {
		aud_errf(s->res->what, sizeof s->res->what, "%s: %s", path, strerror(errno));
		return fail(s, AUD_V_IO, name, 0);
	}
	if (rd_fill(&s->rd, AUD_FILE_HDR_LEN) != 0)
		v = fail(s, AUD_V_IO, name, 0);
	else if ((v = check_header(s, name)) != AUD_V_OK)
		v = fail(s, v, name, 0);
	if (v != AUD_V_OK)
		goto out;
	rd_consume(&s->rd, AUD_FILE_HDR_LEN);
	s->gap_from = UINT64_MAX;
	snprintf(s->res->good_file, sizeof s->res->good_file, "%s", name);
	s->res->good_file_first_seq = s->next_seq;
	s->res->good_end = AUD_FILE_HDR_LEN;
	while (!end && (v = one_record(s, name, &end)) == AUD_V_OK)
		;
out:
	close(s->rd.fd);
	s->rd.fd = -1;
	return v;
}

enum aud_verdict aud_scan(const struct aud_scan_opts *o, struct aud_scan_result *res)
{
	struct scan s = {.o = o, .res = res, .rd = {.fd = -1}};
	char **files = NULL;
	size_t num = 0;
	enum aud_verdict v;

	memset(res, 0, sizeof *res);
	s.h = aud_hasher_new();
	s.rd.buf = malloc(AUD_READ_CHUNK);
	s.rd.cap = AUD_READ_CHUNK;
	if (s.h == NULL || s.rd.buf == NULL) {
		v = fail(&s, AUD_V_NOMEM, "", 0);
		goto out;
	}
	if (o->checkpoint_text != NULL) {
		char name[AUD_ORIGIN_MAX];

		s.note = malloc(sizeof *s.note);
		if (s.note == NULL) {
			v = fail(&s, AUD_V_NOMEM, "", 0);
			goto out;
		}
		if (!aud_note_parse(o->checkpoint_text, o->checkpoint_len, s.note) ||
		    s.note->origin_len >= sizeof name) {
			aud_errf(res->what, sizeof res->what, "the given checkpoint is not a "
							      "well-formed C2SP checkpoint");
			v = fail(&s, AUD_V_BAD_CHECKPOINT, "", 0);
			goto out;
		}
		memcpy(name, s.note->origin, s.note->origin_len);
		name[s.note->origin_len] = '\0';
		if (o->pubkey == NULL || aud_note_verify(s.note, name, o->pubkey) != 1) {
			aud_errf(res->what, sizeof res->what,
				 "the given checkpoint carries no valid signature by the audit key");
			v = fail(&s, AUD_V_BAD_CHECKPOINT, "", 0);
			goto out;
		}
		/* A checkpoint of size 0 covers no record: every log extends it (the writer
		 * never makes one; only the key holder could). */
		if (s.note->size == 0)
			res->checkpoint_checked = true;
	}
	v = list_files(o->dir, &files, &num, res->what, sizeof res->what);
	if (v != AUD_V_OK) {
		v = fail(&s, v, "", 0);
		goto out;
	}
	if (num == 0) {
		aud_errf(res->what, sizeof res->what, "%s holds no audit-*.log file", o->dir);
		v = fail(&s, AUD_V_EMPTY, "", 0);
		goto out;
	}
	size_t first = 0;
	if (o->start_prev != NULL) {
		/* Start at the file whose first record is start_seq, trusting start_prev as
		 * the hash before it (the caller authenticates what follows otherwise). */
		uint64_t fs = 0;

		while (first < num && aud_file_name_parse(files[first], &fs) && fs < o->start_seq)
			first++;
		if (first == num || fs != o->start_seq) {
			aud_errf(res->what, sizeof res->what, "no file starts at record %llu",
				 (unsigned long long)o->start_seq);
			v = fail(&s, AUD_V_BAD_FILE, "", 0);
			goto out;
		}
		s.next_seq = o->start_seq;
		memcpy(s.head, o->start_prev, AUD_HASH_LEN);
		res->num_records = s.next_seq;
		memcpy(res->head, s.head, AUD_HASH_LEN);
	}
	res->num_files = num - first;
	for (size_t i = first; i < num; i++) {
		res->in_last_file = i + 1 == num;
		v = scan_file(&s, o->dir, files[i]);
		if (v != AUD_V_OK)
			goto out;
	}
	res->in_last_file = false;
	if (s.note != NULL && res->num_records < s.note->size) {
		aud_errf(res->what, sizeof res->what,
			 "log truncated: it holds %llu records, the checkpoint covers %llu",
			 (unsigned long long)res->num_records, (unsigned long long)s.note->size);
		res->in_last_file = true;
		v = fail(&s, AUD_V_TRUNCATED, res->good_file, res->good_end);
		goto out;
	}
	res->verdict = AUD_V_OK;
out:
	for (size_t i = 0; i < num; i++)
		free(files[i]);
	free(files);
	free(s.note);
	free(s.rd.buf);
	aud_hasher_free(s.h);
	return v;
}
