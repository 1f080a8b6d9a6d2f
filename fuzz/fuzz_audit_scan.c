/*
 * fuzz_audit_scan.c - aud_scan, the reader of a whole log directory (file header, the
 * record loop, end-of-data zeros, gaps, checkpoint records, the given checkpoint text),
 * on one log file audit-00000000000000000000.log in a private temporary directory.
 * The input's layout (flags, optional parts, then the file) is in fuzz_audit_scan.h.
 *
 * Oracles:
 *  - a reference reader over the whole file in memory, restating docs/audit-format.md
 *    with the single-record parser (aud_record_parse, fuzzed on its own by
 *    fuzz_audit_record) and the gap rule (a record length of 0, zeros, the first non-zero
 *    byte 1..3 bytes past a multiple of 512 that lies after the zero length and less
 *    than 64 KiB from it: the records go on there), must agree with aud_scan's streaming
 *    reader on the verdict, the failing offset, the records and checkpoints counted, the
 *    head hash, good_end, and whether the given checkpoint was matched;
 *  - the callback sees records in order, each exactly the bytes at its offset in the
 *    file, with a correct hash, link and walkable body, at the previous record's end or
 *    at the end of a gap;
 *  - the result is consistent: a valid verdict, terminated strings, a failure sentence
 *    exactly when the verdict is not OK, good_end inside the file and only zeros after
 *    it when the verdict is OK;
 *  - no crash, leak or sanitizer report.
 * Every input is scanned without key or checkpoint; flags add a second scan with the
 * fixed public key, a checkpoint text and/or a callback that stops the scan.
 * The directory is removed at exit; a run that crashes leaves it behind
 * (/tmp/fuzz_audit_scan.XXXXXX).  Seeds: fuzz/make-corpus-audit.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "aud_internal.h"
#include "fuzz_audit_scan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE0 "audit-00000000000000000000.log"
#define EM_DASH "\xe2\x80\x94"
#define NO_STOP UINT64_MAX

static char dir[64];
static char path[sizeof dir + AUD_FILE_NAME_LEN + 1];
static int fd = -1;
static EVP_PKEY *key;
static uint8_t pub[AUD_ED25519_LEN];
static char origin[AUD_ORIGIN_MAX];
static struct aud_hasher *hasher;

static void cleanup(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
	(void)unlink(path);
	(void)rmdir(dir);
	EVP_PKEY_free(key);
	key = NULL;
	aud_hasher_free(hasher);
	hasher = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n = AUD_ED25519_LEN;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "/tmp/fuzz_audit_scan.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/%s", dir, FILE0);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	_Static_assert(sizeof FAS_KEY_SEED - 1 == AUD_ED25519_LEN, "an Ed25519 seed");
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (const uint8_t *)FAS_KEY_SEED,
					   AUD_ED25519_LEN);
	hasher = aud_hasher_new();
	if (fd < 0 || key == NULL || hasher == NULL ||
	    EVP_PKEY_get_raw_public_key(key, pub, &n) != 1 || n != AUD_ED25519_LEN)
		abort();
	aud_origin_for_key(pub, origin);
	atexit(cleanup);
	return 0;
}

/* ---- input ----------------------------------------------------------------------- */

struct in {
	const uint8_t *p;
	size_t n;
};

/* A big-endian number of `bytes` bytes; missing bytes read as 0. */
static uint64_t take(struct in *c, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (c->n > 0) {
			v |= *c->p++;
			c->n--;
		}
	}
	return v;
}

static void write_file(const uint8_t *p, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = pwrite(fd, p + off, len - off, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	if (ftruncate(fd, (off_t)len) != 0)
		abort();
}

/* FAS_REHASH / FAS_RELINK: walks the records as the framing finds them (lengths, end of
 * data, gaps) and recomputes each one's hash (and prev_hash) in place. */
static void rehash(uint8_t *f, size_t len, bool relink)
{
	uint8_t prev[AUD_HASH_LEN] = {0};
	size_t off = AUD_FILE_HDR_LEN;

	while (len >= off + 4) {
		uint32_t n = aud_get32(f + off);

		if (n == 0) {
			size_t y = off, z;

			while (y < len && f[y] == 0)
				y++;
			z = y / AUD_GAP_UNIT * AUD_GAP_UNIT;
			if (y == len || z <= off || z - off >= AUD_MAX_GAP || y - z > 3)
				return;
			off = z;
			continue;
		}
		if (n < AUD_REC_MIN_LEN || n > len - off)
			return;
		if (relink)
			memcpy(f + off + AUD_OFF_PREV, prev, AUD_HASH_LEN);
		aud_sha256(f + off, n - AUD_HASH_LEN, prev);
		memcpy(f + off + n - AUD_HASH_LEN, prev, AUD_HASH_LEN);
		off += n;
	}
}

/* ---- the reference reader -------------------------------------------------------- */

struct ref {
	enum aud_verdict v;
	uint64_t offset; /* of the failure */
	bool header_ok;
	uint64_t num, good_end, ncp, last_cp;
	bool checked;
	uint8_t head[AUD_HASH_LEN];
};

static bool header_ok(const uint8_t *f, size_t len)
{
	static const uint8_t zero[AUD_FILE_HDR_LEN];

	return len >= AUD_FILE_HDR_LEN && memcmp(f, AUD_FILE_MAGIC, AUD_FILE_MAGIC_LEN) == 0 &&
	       aud_get32(f + AUD_FOFF_VERSION) == AUD_FORMAT_VERSION &&
	       aud_get32(f + AUD_FOFF_HDR_LEN) == AUD_FILE_HDR_LEN &&
	       aud_get64(f + AUD_FOFF_FIRST_SEQ) == 0 &&
	       memcmp(f + AUD_FOFF_PREV, zero, AUD_FILE_HDR_LEN - AUD_FOFF_PREV) == 0;
}

/* The whole file in memory: what aud_scan must find.  hashes (may be NULL) gets the
 * hash of every good record. */
static void ref_scan(const uint8_t *f, size_t len, const uint8_t *key_pub,
		     const struct aud_note *note, uint64_t stop, struct ref *r,
		     uint8_t (*hashes)[AUD_HASH_LEN])
{
	char what[AUD_ERR_LEN];
	uint64_t off = AUD_FILE_HDR_LEN, gap_to = 0;
	bool gap = false;

	memset(r, 0, sizeof *r);
	r->v = AUD_V_OK;
	r->checked = note != NULL && note->size == 0; /* covers no record */
	if (!header_ok(f, len)) {
		r->v = AUD_V_BAD_FILE;
		return;
	}
	r->header_ok = true;
	r->good_end = AUD_FILE_HDR_LEN;
	for (;;) {
		struct aud_rec rec;
		enum aud_verdict v = aud_record_parse(hasher, f + off, len - off, r->num, r->head,
						      &rec, what, sizeof what);

		if (v == AUD_V_END) {
			uint64_t y = off, z;

			while (y < len && f[y] == 0)
				y++;
			if (y == len)
				break; /* zeros to the end of the file */
			z = y / AUD_GAP_UNIT * AUD_GAP_UNIT;
			if (z <= off || z - off >= AUD_MAX_GAP || y - z > 3) {
				r->v = AUD_V_TRAILING;
				r->offset = y;
				return;
			}
			gap = true;
			gap_to = y;
			off = z;
			continue;
		}
		if (v != AUD_V_OK) {
			r->v = gap ? AUD_V_TRAILING : v;
			r->offset = gap ? gap_to : off;
			return;
		}
		gap = false;
		if (rec.type == AUD_T_CHECKPOINT) {
			v = aud_checkpoint_check(&rec, key_pub, what, sizeof what);
			if (v != AUD_V_OK) {
				r->v = v;
				r->offset = off;
				return;
			}
		}
		if (note != NULL && rec.seq + 1 == note->size) {
			if (memcmp(rec.hash, note->head, AUD_HASH_LEN) != 0) {
				r->v = AUD_V_TRUNCATED;
				r->offset = off;
				return;
			}
			r->checked = true;
		}
		if (rec.type == AUD_T_CHECKPOINT) { /* counted once the record is good */
			r->ncp++;
			r->last_cp = rec.seq;
		}
		if (rec.seq == stop) {
			r->v = AUD_V_STOPPED;
			r->offset = off;
			return;
		}
		if (hashes != NULL)
			memcpy(hashes[r->num], rec.hash, AUD_HASH_LEN);
		memcpy(r->head, rec.hash, AUD_HASH_LEN);
		r->num++;
		off += rec.raw_len;
		r->good_end = off;
	}
	if (note != NULL && r->num < note->size) {
		r->v = AUD_V_TRUNCATED;
		r->offset = r->good_end;
	}
}

/* ---- the callback ---------------------------------------------------------------- */

struct cbx {
	const uint8_t *f;
	size_t len;
	uint64_t stop;
	uint64_t n, end, ncp;
	uint8_t head[AUD_HASH_LEN];
};

static int stop_rc(uint64_t k)
{
	return (int)(k % 1000u) + 1;
}

static int cb(void *v, const struct aud_rec *rec)
{
	struct cbx *c = v;
	uint8_t h[AUD_HASH_LEN];
	struct aud_cur cur;
	struct aud_field fld;
	int k;

	if (rec->seq != c->n || rec->file == NULL || strcmp(rec->file, FILE0) != 0 ||
	    rec->offset < c->end || rec->offset > c->len || rec->raw_len < AUD_REC_MIN_LEN ||
	    rec->raw_len > c->len - rec->offset)
		abort();
	/* At the previous record's end, or where a gap that began there ends. */
	if (rec->offset != c->end &&
	    (rec->offset % AUD_GAP_UNIT != 0 || rec->offset - c->end >= AUD_MAX_GAP))
		abort();
	/* Exactly the file's bytes, and the views into them. */
	if (memcmp(rec->raw, c->f + rec->offset, rec->raw_len) != 0 ||
	    aud_get32(rec->raw) != rec->raw_len || aud_get16(rec->raw + AUD_OFF_TYPE) != rec->type ||
	    aud_get64(rec->raw + AUD_OFF_SEQ) != rec->seq ||
	    (int64_t)aud_get64(rec->raw + AUD_OFF_TIME) != rec->time_ns ||
	    rec->prev_hash != rec->raw + AUD_OFF_PREV ||
	    rec->hash != rec->raw + rec->raw_len - AUD_HASH_LEN ||
	    rec->body != rec->raw + AUD_REC_HDR_LEN || rec->body_len != rec->raw_len - AUD_REC_MIN_LEN)
		abort();
	aud_sha256(rec->raw, rec->raw_len - AUD_HASH_LEN, h);
	if (memcmp(h, rec->hash, AUD_HASH_LEN) != 0 ||
	    memcmp(rec->prev_hash, c->head, AUD_HASH_LEN) != 0 ||
	    (rec->seq == 0) != (rec->type == AUD_T_GENESIS) || rec->type == 0 ||
	    aud_get16(rec->raw + AUD_OFF_FLAGS) != 0)
		abort();
	cur = (struct aud_cur){rec->body, rec->body_len};
	while ((k = aud_field_next(&cur, &fld)) == 1)
		(void)aud_tag_name(fld.tag);
	if (k != 0 || cur.len != 0)
		abort();
	if (rec->type == AUD_T_CHECKPOINT)
		c->ncp++;
	if (rec->seq == c->stop)
		return stop_rc(rec->seq);
	memcpy(c->head, rec->hash, AUD_HASH_LEN);
	c->n++;
	c->end = rec->offset + rec->raw_len;
	return 0;
}

/* ---- one scan, checked ----------------------------------------------------------- */

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool valid_verdict(enum aud_verdict v)
{
	switch (v) {
	case AUD_V_OK:
	case AUD_V_SHORT:
	case AUD_V_BAD_LEN:
	case AUD_V_BAD_HASH:
	case AUD_V_BAD_LINK:
	case AUD_V_BAD_SEQ:
	case AUD_V_BAD_FIELD:
	case AUD_V_BAD_GENESIS:
	case AUD_V_BAD_CHECKPOINT:
	case AUD_V_BAD_FILE:
	case AUD_V_TRAILING:
	case AUD_V_TRUNCATED:
	case AUD_V_STOPPED:
		return true;
	case AUD_V_END:   /* internal to the record loop */
	case AUD_V_EMPTY: /* the file is there */
	case AUD_V_IO:
	case AUD_V_NOMEM:
		return false;
	}
	return false;
}

/* Scans with key_pub / text / stop and checks the result; *out gets it. */
static void scan_one(const uint8_t *f, size_t len, const uint8_t *key_pub, const char *text,
		     size_t text_len, uint64_t stop, struct aud_scan_result *res,
		     uint8_t (*hashes)[AUD_HASH_LEN])
{
	struct cbx c = {.f = f, .len = len, .stop = stop, .end = AUD_FILE_HDR_LEN};
	struct aud_scan_opts o = {.dir = dir, .pubkey = key_pub, .checkpoint_text = text,
				  .checkpoint_len = text_len, .cb = cb, .cb_ctx = &c};
	struct aud_note *note = NULL;
	struct ref r;
	enum aud_verdict v = aud_scan(&o, res);

	if (v != res->verdict || !valid_verdict(v) || !terminated(res->what, sizeof res->what) ||
	    !terminated(res->file, sizeof res->file) ||
	    !terminated(res->good_file, sizeof res->good_file) ||
	    (v == AUD_V_OK) != (res->what[0] == '\0'))
		abort();
	if (text != NULL) {
		char name[AUD_ORIGIN_MAX];

		note = malloc(sizeof *note);
		if (note == NULL)
			abort();
		bool ok = aud_note_parse(text, text_len, note) && note->origin_len < sizeof name;

		if (ok) {
			memcpy(name, note->origin, note->origin_len);
			name[note->origin_len] = '\0';
			ok = key_pub != NULL && aud_note_verify(note, name, key_pub) == 1;
		}
		if (!ok) {
			/* Refused before any file is read. */
			if (v != AUD_V_BAD_CHECKPOINT || res->file[0] != '\0' || res->offset != 0 ||
			    res->num_files != 0 || res->num_records != 0 || res->good_end != 0 ||
			    res->in_last_file || c.n != 0)
				abort();
			free(note);
			return;
		}
	}
	ref_scan(f, len, key_pub, note, stop, &r, hashes);
	free(note);
	if (v != r.v || (v != AUD_V_OK && res->offset != r.offset) || res->num_records != r.num ||
	    res->good_end != (r.header_ok ? r.good_end : 0) ||
	    memcmp(res->head, r.head, AUD_HASH_LEN) != 0 || res->num_checkpoints != r.ncp ||
	    res->last_checkpoint_size != r.last_cp || res->checkpoint_checked != r.checked)
		abort();
	/* Consistency on its own. */
	if (res->num_files != 1 || res->good_file_first_seq != 0 ||
	    res->in_last_file != (v != AUD_V_OK) ||
	    strcmp(res->file, v == AUD_V_OK ? "" : FILE0) != 0 ||
	    strcmp(res->good_file, r.header_ok ? FILE0 : "") != 0 ||
	    res->cb_rc != (v == AUD_V_STOPPED ? stop_rc(stop) : 0) || res->good_end > len ||
	    (v != AUD_V_OK && res->offset > len) ||
	    (res->num_records > 0 &&
	     res->good_end < AUD_FILE_HDR_LEN + res->num_records * AUD_REC_MIN_LEN))
		abort();
	/* What the callback saw is what was counted. */
	if (c.n != res->num_records || (c.n > 0 && c.end != res->good_end) ||
	    memcmp(c.head, res->head, AUD_HASH_LEN) != 0 || c.ncp != res->num_checkpoints)
		abort();
	/* A failure in a record is at the end of the last good one; data after the end
	 * lies beyond it. */
	if (v == AUD_V_TRAILING && res->offset <= res->good_end)
		abort();
	if (v != AUD_V_OK && v != AUD_V_TRAILING && v != AUD_V_BAD_FILE &&
	    res->offset != res->good_end)
		abort();
	/* A good log has nothing but zeros after its last record. */
	if (v == AUD_V_OK)
		for (size_t i = res->good_end; i < len; i++)
			if (f[i] != 0)
				abort();
}

/* ---- checkpoint texts -------------------------------------------------------------- */

/* text (len bytes) followed by a signature line by the fixed key, named after the
 * text's first line when that is a plausible key name. */
static char *sign_text(const uint8_t *body, size_t len, size_t *out_len)
{
	char name[AUD_ORIGIN_MAX], b64[2 * (AUD_KEYID_LEN + AUD_SIG_LEN)];
	uint8_t sig[AUD_KEYID_LEN + AUD_SIG_LEN];
	size_t sig_len = AUD_SIG_LEN, nl = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *t = malloc(len + sizeof name + sizeof b64 + 16);

	if (ctx == NULL || t == NULL)
		abort();
	while (nl < len && body[nl] != '\n')
		nl++;
	if (nl > 0 && nl < sizeof name && memchr(body, '\0', nl) == NULL) {
		memcpy(name, body, nl);
		name[nl] = '\0';
	} else {
		snprintf(name, sizeof name, "%s", origin);
	}
	aud_put32(sig, aud_note_keyid(name, pub));
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig + AUD_KEYID_LEN, &sig_len, body, len) != 1 ||
	    sig_len != AUD_SIG_LEN)
		abort();
	EVP_MD_CTX_free(ctx);
	aud_b64_encode(sig, sizeof sig, b64);
	memcpy(t, body, len);
	*out_len = len + (size_t)sprintf(t + len, "\n" EM_DASH " %s %s\n", name, b64);
	return t;
}

/* The checkpoint of (size, head) as the writer makes it. */
static char *derive_text(uint64_t size, const uint8_t head[AUD_HASH_LEN], size_t *out_len)
{
	struct aud_body b;
	char *t = malloc(AUD_NOTE_MAX);

	if (t == NULL)
		abort();
	aud_body_init(&b);
	if (aud_checkpoint_make(key, origin, pub, size, head, &b, t, AUD_NOTE_MAX, out_len) !=
	    WARDEN_OK)
		abort();
	aud_body_free(&b);
	return t;
}

/* ---- the target -------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in c = {data, size};
	unsigned flags = (unsigned)take(&c, 1);
	const uint8_t *note_in = NULL;
	size_t note_len = 0, len;
	uint64_t d_size = 0, pos = 0, count = 0, stop = NO_STOP;
	uint8_t tweak = 0, *f, (*hashes)[AUD_HASH_LEN];
	struct aud_scan_result *res = malloc(sizeof *res);
	char *text = NULL;
	size_t text_len = 0;

	if (res == NULL)
		abort();
	if (flags & FAS_NOTE) {
		note_len = (size_t)take(&c, 2);
		if (note_len > c.n)
			note_len = c.n;
		note_in = c.p;
		c.p += note_len;
		c.n -= note_len;
	}
	if (flags & FAS_DERIVE) {
		d_size = take(&c, 2);
		tweak = (uint8_t)take(&c, 1);
	}
	if (flags & FAS_STRETCH) {
		pos = take(&c, 3);
		count = take(&c, 3) % (FAS_STRETCH_MAX + 1u);
	}
	if (flags & FAS_STOP)
		stop = take(&c, 1);
	/* The file, in an exact-size buffer (stretched if asked). */
	pos %= c.n + 1;
	len = c.n + (size_t)count;
	f = malloc(len > 0 ? len : 1);
	hashes = malloc((len / AUD_REC_MIN_LEN + 1) * sizeof *hashes);
	if (f == NULL || hashes == NULL)
		abort();
	memcpy(f, c.p, (size_t)pos);
	memset(f + pos, 0, (size_t)count);
	memcpy(f + pos + count, c.p + pos, c.n - (size_t)pos);
	if (flags & (FAS_REHASH | FAS_RELINK))
		rehash(f, len, (flags & FAS_RELINK) != 0);
	write_file(f, len);

	/* Without key, checkpoint or stop. */
	scan_one(f, len, NULL, NULL, 0, NO_STOP, res, hashes);
	uint64_t base_num = res->num_records;

	if (flags & (FAS_PUBKEY | FAS_NOTE | FAS_DERIVE | FAS_STOP)) {
		if (flags & FAS_DERIVE) {
			uint8_t head[AUD_HASH_LEN] = {0};

			if (d_size >= 1 && d_size - 1 < base_num)
				memcpy(head, hashes[d_size - 1], AUD_HASH_LEN);
			head[0] ^= tweak;
			text = derive_text(d_size, head, &text_len);
		} else if ((flags & FAS_NOTE) && (flags & FAS_SIGN)) {
			text = sign_text(note_in, note_len, &text_len);
		} else if (flags & FAS_NOTE) {
			text = malloc(note_len > 0 ? note_len : 1);
			if (text == NULL)
				abort();
			memcpy(text, note_in, note_len);
			text_len = note_len;
		}
		scan_one(f, len, (flags & FAS_PUBKEY) ? pub : NULL, text, text_len, stop, res,
			 NULL);
		/* A key, a checkpoint or a stop only ever end the scan sooner. */
		if (res->num_records > base_num)
			abort();
	}
	free(text);
	free(hashes);
	free(f);
	free(res);
	return 0;
}
