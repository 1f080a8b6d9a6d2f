/*
 * make-corpus-audit.c - writes the seeds of fuzz_audit_scan (fuzz/corpus/fuzz_audit_scan/):
 * small logs written by the audit library's writer (aud_open, aud_append, aud_shutdown,
 * the torn-tail repair), with the fixed key of fuzz_audit_scan.h, then altered the ways
 * the format allows or a crash leaves them: gaps made by hand, a torn tail, a
 * zero-preallocated tail, checkpoint texts, a header-only file.
 *
 * usage: make-corpus-audit DIR        (`make fuzz-corpus` runs it on fuzz/corpus)
 *
 * The writer stamps records with the clock; to keep the seeds deterministic (an unchanged
 * format gives no diff) every record is re-stamped with a fixed time and the chain and
 * the checkpoint records are rebuilt with the library's own encoders
 * (aud_record_encode, aud_checkpoint_make).  Logs are written buffered, so whether the
 * file system offers O_DIRECT does not change them.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "aud_internal.h"
#include "fuzz_audit_scan.h"

#define PATH_LEN 4096
#define TARGET "fuzz_audit_scan"
#define T0_NS 1767225600000000000ll /* 2026-01-01T00:00:00Z */
#define PREALLOC 1024u

static const char *out_dir;
static char work[64];
static char key_path[PATH_LEN];
static EVP_PKEY *key;
static uint8_t pub[AUD_ED25519_LEN];
static char origin[AUD_ORIGIN_MAX];
static struct aud_hasher *hasher;

static void die(const char *what)
{
	fprintf(stderr, "make-corpus-audit: %s\n", what);
	exit(1);
}

/* ---- bytes ----------------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *q = realloc(b->p, b->len + n + 1);

	if (q == NULL)
		die("out of memory");
	b->p = q;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_zeros(struct buf *b, size_t n)
{
	uint8_t *q = realloc(b->p, b->len + n + 1);

	if (q == NULL)
		die("out of memory");
	b->p = q;
	memset(b->p + b->len, 0, n);
	b->len += n;
}

static void buf_u8(struct buf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	buf_put(b, &c, 1);
}

static void buf_be(struct buf *b, uint64_t v, unsigned bytes)
{
	for (unsigned i = bytes; i-- > 0;)
		buf_u8(b, (unsigned)(v >> (8 * i)) & 0xffu);
}

static struct buf buf_copy(const uint8_t *p, size_t n)
{
	struct buf b = {0};

	buf_put(&b, p, n);
	return b;
}

/* n zero bytes inserted at `at`. */
static void buf_insert_zeros(struct buf *b, size_t at, size_t n)
{
	size_t old = b->len;

	buf_zeros(b, n);
	memmove(b->p + at + n, b->p + at, old - at);
	memset(b->p + at, 0, n);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	uint8_t chunk[65536];
	size_t n;

	if (f == NULL)
		die(path);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_put(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0)
		die(path);
}

/* A seed: the flags byte and its parts (pre), then the file. */
static void seed(const char *name, const struct buf *pre, const uint8_t *file, size_t len)
{
	char path[PATH_LEN];
	struct buf s = {0};

	buf_put(&s, pre->p, pre->len);
	buf_put(&s, file, len);
	snprintf(path, sizeof path, "%s/%s/%s", out_dir, TARGET, name);
	write_file(path, s.p, s.len);
	free(s.p);
}

static void seed_flags(const char *name, unsigned flags, const uint8_t *file, size_t len)
{
	struct buf pre = {0};

	buf_u8(&pre, flags);
	seed(name, &pre, file, len);
	free(pre.p);
}

/* ---- logs ------------------------------------------------------------------------ */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void fresh_dir(char *out, const char *name)
{
	snprintf(out, PATH_LEN, "%s/%s", work, name);
	(void)nftw(out, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(out, 0700) != 0)
		die(out);
}

static void file0(char *out, const char *logdir)
{
	char name[AUD_FILE_NAME_LEN];

	aud_file_name(0, name);
	snprintf(out, PATH_LEN, "%s/%s", logdir, name);
}

static void sign_body(struct aud_body *b, unsigned i, int allowed)
{
	uint8_t h[AUD_HASH_LEN] = {0}, serial[8];
	char subj[64], san[64];

	h[0] = (uint8_t)i;
	h[31] = 0x5a;
	for (unsigned k = 0; k < sizeof serial; k++)
		serial[k] = (uint8_t)(0x10 + i + k);
	snprintf(subj, sizeof subj, "CN=host%u.example.com", i);
	snprintf(san, sizeof san, "DNS:host%u.example.com", i);
	aud_body_init(b);
	aud_put_uint(b, AUD_F_DECISION, (uint64_t)allowed);
	aud_put_uint(b, AUD_F_REASON_CODE, allowed ? 0 : 7);
	aud_put_str(b, AUD_F_REASON_NAME, allowed ? "ok" : "name.dns.not_allowed");
	aud_put_str(b, AUD_F_REASON, allowed ? "allowed by profile web" : "name not allowed");
	aud_put_str(b, AUD_F_KEY, "ca");
	aud_put_uint(b, AUD_F_MECHANISM, 0x1041); /* CKM_ECDSA_SHA256 */
	aud_put_uint(b, AUD_F_DATA_KIND, 1);
	aud_put_bytes(b, AUD_F_DATA_SHA256, h, sizeof h);
	aud_put_bytes(b, AUD_F_SERIAL, serial, sizeof serial);
	aud_put_str(b, AUD_F_SUBJECT, subj);
	aud_put_str(b, AUD_F_SAN, san);
	aud_put_int(b, AUD_F_NOT_BEFORE, 1767225600);
	aud_put_int(b, AUD_F_NOT_AFTER, 1767225600 + 86400 * 90);
	aud_put_str(b, AUD_F_PROFILE, "web");
	aud_put_uint(b, AUD_F_CALLER_UID, 998);
	aud_put_uint(b, AUD_F_CALLER_PID, 4242);
	aud_put_bytes(b, AUD_F_POLICY_SHA256, h, sizeof h);
	if (aud_body_finish(b) != WARDEN_OK)
		die("sign body");
}

static void append(struct aud_log *log, uint16_t type, const struct aud_body *b)
{
	struct aud_record r = {.type = type, .body = b->data, .body_len = b->len};
	uint64_t seq;

	if (aud_append(log, &r, &seq) != WARDEN_OK || aud_sync(log, seq) != WARDEN_OK)
		die("append");
}

static void append_signs(struct aud_log *log, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		struct aud_body b;

		sign_body(&b, i, i % 3 != 0);
		append(log, AUD_T_SIGN, &b);
		aud_body_free(&b);
	}
}

static void append_login(struct aud_log *log, uint16_t type, uint64_t failures)
{
	struct aud_body b;

	aud_body_init(&b);
	if (type == AUD_T_LOGIN_FAIL)
		aud_put_uint(&b, AUD_F_FAILURES, failures);
	aud_put_uint(&b, AUD_F_CALLER_UID, 998);
	aud_put_uint(&b, AUD_F_CALLER_PID, 4242);
	if (aud_body_finish(&b) != WARDEN_OK)
		die("login body");
	append(log, type, &b);
	aud_body_free(&b);
}

static struct aud_log *open_log(const char *logdir, bool with_key, uint32_t ckpt_records)
{
	static const char text[] = "fuzz_audit_scan seed log";
	struct aud_body g;
	struct aud_record gen = {.type = AUD_T_GENESIS, .time_ns = T0_NS};
	struct aud_params p = {.dir = logdir, .key_file = with_key ? key_path : NULL,
			       .prealloc_bytes = PREALLOC, .buffered = true,
			       .checkpoint_records = ckpt_records, .genesis = &gen};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	char err[AUD_ERR_LEN];

	aud_body_init(&g);
	aud_put_str(&g, AUD_F_TEXT, text);
	aud_put_str(&g, AUD_F_SOFTWARE, "warden 0.1");
	aud_put_str(&g, AUD_F_TOKEN, "warden");
	if (aud_body_finish(&g) != WARDEN_OK)
		die("genesis body");
	gen.body = g.data;
	gen.body_len = g.len;
	if (aud_open(&p, &log, &rep, err, sizeof err) != WARDEN_OK)
		die(err);
	aud_body_free(&g);
	return log;
}

/* Re-stamps every record of the file's data (no gaps yet) with a fixed time, rebuilding
 * the chain and the checkpoint records; note gets the text of the last checkpoint (its
 * length in *note_len, 0 when none).  Returns the end of the data. */
static size_t restamp(uint8_t *f, size_t len, char *note, size_t *note_len)
{
	uint8_t prev[AUD_HASH_LEN] = {0};
	size_t off = AUD_FILE_HDR_LEN;

	*note_len = 0;
	while (off + 4 <= len) {
		uint32_t n = aud_get32(f + off);
		uint16_t type;
		uint64_t seq;
		struct aud_body b;
		struct buf body;

		if (n == 0)
			break;
		if (n < AUD_REC_MIN_LEN || n > len - off)
			die("restamp: not a record");
		type = aud_get16(f + off + AUD_OFF_TYPE);
		seq = aud_get64(f + off + AUD_OFF_SEQ);
		body = buf_copy(f + off + AUD_REC_HDR_LEN, n - AUD_REC_MIN_LEN);
		aud_body_init(&b);
		if (type == AUD_T_CHECKPOINT) {
			if (key == NULL ||
			    aud_checkpoint_make(key, origin, pub, seq, prev, &b, note, AUD_NOTE_MAX,
						note_len) != WARDEN_OK ||
			    b.len != body.len)
				die("restamp: checkpoint");
			memcpy(body.p, b.data, b.len);
		}
		aud_record_encode(hasher, f + off, type, seq, T0_NS + (int64_t)seq * 1000000000,
				  prev, body.p, body.len);
		memcpy(prev, f + off + n - AUD_HASH_LEN, AUD_HASH_LEN);
		aud_body_free(&b);
		free(body.p);
		off += n;
	}
	return off;
}

/* The log file of logdir, re-stamped. */
static uint8_t *take_log(const char *logdir, size_t *len, size_t *data_end, char *note,
			 size_t *note_len)
{
	char path[PATH_LEN];
	uint8_t *f;

	file0(path, logdir);
	f = read_file(path, len);
	*data_end = restamp(f, *len, note, note_len);
	return f;
}

/* Offset of the end of record k (0 = genesis) in f. */
static size_t rec_end(const uint8_t *f, size_t k)
{
	size_t off = AUD_FILE_HDR_LEN;

	for (size_t i = 0; i <= k; i++)
		off += aud_get32(f + off);
	return off;
}

static size_t to_unit(size_t at)
{
	return (AUD_GAP_UNIT - at % AUD_GAP_UNIT) % AUD_GAP_UNIT;
}

/* The scan must agree with what we meant: a plain reader's verdict. */
static void expect(const uint8_t *f, size_t len, const uint8_t *key_pub, enum aud_verdict want,
		   const char *name)
{
	char logdir[PATH_LEN], path[PATH_LEN];
	struct aud_scan_opts o = {.pubkey = key_pub};
	struct aud_scan_result res;

	fresh_dir(logdir, "check");
	file0(path, logdir);
	write_file(path, f, len);
	o.dir = logdir;
	if (aud_scan(&o, &res) != want) {
		fprintf(stderr, "make-corpus-audit: %s: %s at %llu: %s\n", name,
			aud_verdict_str(res.verdict), (unsigned long long)res.offset, res.what);
		die("seed does not scan as intended");
	}
}

/* ---- the seeds ------------------------------------------------------------------- */

static void seeds_plain(void)
{
	char logdir[PATH_LEN], note[AUD_NOTE_MAX];
	size_t len, end, note_len, at, at2;
	struct aud_log *log;
	uint8_t *f;
	struct buf b, pre = {0};

	/* No key: genesis, SIGNs, LOGIN records; a zero-preallocated tail. */
	fresh_dir(logdir, "plain");
	log = open_log(logdir, false, 0);
	append_signs(log, 1, 3);
	append_login(log, AUD_T_LOGIN_FAIL, 1);
	append_login(log, AUD_T_LOGIN_OK, 0);
	append_signs(log, 4, 2);
	aud_close(log);
	f = take_log(logdir, &len, &end, note, &note_len);
	if (end == len)
		die("no preallocated tail");
	expect(f, len, NULL, AUD_V_OK, "prealloc-tail");
	seed_flags("prealloc-tail", 0, f, len);
	seed_flags("clean-end", 0, f, end);
	seed_flags("header-only", 0, f, AUD_FILE_HDR_LEN);

	/* Stops at record 2. */
	pre = (struct buf){0};
	buf_u8(&pre, FAS_STOP);
	buf_u8(&pre, 2);
	seed("stop-at-2", &pre, f, len);
	free(pre.p);

	/* A gap: zeros after record 3 to the next multiple of 512. */
	at = rec_end(f, 3);
	if (to_unit(at) == 0)
		die("record 3 ends on a gap unit");
	b = buf_copy(f, len);
	buf_insert_zeros(&b, at, to_unit(at));
	expect(b.p, b.len, NULL, AUD_V_OK, "gap");
	seed_flags("gap", 0, b.p, b.len);
	/* The same without the preallocated tail. */
	expect(b.p, end + to_unit(at), NULL, AUD_V_OK, "gap-clean-end");
	seed_flags("gap-clean-end", 0, b.p, end + to_unit(at));
	/* The record after the gap never written: data after the end of data. */
	memset(b.p + at + to_unit(at), 0, aud_get32(f + at));
	buf_insert_zeros(&b, at + to_unit(at) + aud_get32(f + at),
			 to_unit(at + to_unit(at) + aud_get32(f + at)));
	expect(b.p, b.len, NULL, AUD_V_TRAILING, "gap-record-missing");
	seed_flags("gap-record-missing", 0, b.p, b.len);
	free(b.p);

	/* A gap of one whole unit more (still < 64 KiB); and a gap right after the header. */
	b = buf_copy(f, len);
	buf_insert_zeros(&b, at, to_unit(at) + AUD_GAP_UNIT);
	expect(b.p, b.len, NULL, AUD_V_OK, "gap-long");
	seed_flags("gap-long", 0, b.p, b.len);
	free(b.p);
	b = buf_copy(f, len);
	buf_insert_zeros(&b, AUD_FILE_HDR_LEN, to_unit(AUD_FILE_HDR_LEN));
	expect(b.p, b.len, NULL, AUD_V_OK, "gap-after-header");
	seed_flags("gap-after-header", 0, b.p, b.len);
	free(b.p);

	/* Two gaps (after records 1 and 4). */
	b = buf_copy(f, len);
	at = rec_end(f, 1);
	buf_insert_zeros(&b, at, to_unit(at));
	at2 = rec_end(f, 4) + to_unit(at);
	buf_insert_zeros(&b, at2, to_unit(at2));
	expect(b.p, b.len, NULL, AUD_V_OK, "two-gaps");
	seed_flags("two-gaps", 0, b.p, b.len);
	free(b.p);

	/* Zeros to a multiple of 512 plus 8: not a gap. */
	at = rec_end(f, 3);
	b = buf_copy(f, len);
	buf_insert_zeros(&b, at, to_unit(at) + 8);
	expect(b.p, b.len, NULL, AUD_V_TRAILING, "not-a-gap");
	seed_flags("not-a-gap", 0, b.p, b.len);
	free(b.p);

	/* Torn tails: the last record half written (zeros after), or cut short by the
	 * end of the file; a stray byte in the preallocated zeros. */
	at = rec_end(f, 7);
	if (at != end)
		die("record count");
	at2 = rec_end(f, 6);
	b = buf_copy(f, len);
	memset(b.p + at2 + (end - at2) / 2, 0, end - at2 - (end - at2) / 2);
	expect(b.p, b.len, NULL, AUD_V_BAD_HASH, "torn-zeros");
	seed_flags("torn-zeros", 0, b.p, b.len);
	expect(b.p, at2 + (end - at2) / 2, NULL, AUD_V_SHORT, "torn-short");
	seed_flags("torn-short", 0, b.p, at2 + (end - at2) / 2);
	free(b.p);
	b = buf_copy(f, len);
	b.p[end + (len - end) / 2] = 0x01;
	expect(b.p, b.len, NULL, AUD_V_TRAILING, "stray-byte");
	seed_flags("stray-byte", 0, b.p, b.len);
	free(b.p);

	/* Stretched: the preallocated zeros grown past the reader's 1 MiB buffer; once
	 * ending cleanly, once with a stray byte at the end. */
	pre = (struct buf){0};
	buf_u8(&pre, FAS_STRETCH);
	buf_be(&pre, end, 3);
	buf_be(&pre, 1024u * 1024u + 3000u, 3);
	seed("stretch-tail", &pre, f, len);
	b = buf_copy(f, len);
	b.p[len - 1] = 0x80;
	seed("stretch-stray-byte", &pre, b.p, b.len);
	free(pre.p);
	/* Longer than the reader's buffer holds: it must drop zeros before the end. */
	pre = (struct buf){0};
	buf_u8(&pre, FAS_STRETCH);
	buf_be(&pre, end, 3);
	buf_be(&pre, FAS_STRETCH_MAX, 3);
	seed("stretch-max-tail", &pre, f, len);
	seed("stretch-max-stray-byte", &pre, b.p, b.len);
	free(b.p);
	free(pre.p);

	/* The target recomputes hashes (and links): mutations reach the record checks. */
	seed_flags("rehash-relink", FAS_REHASH | FAS_RELINK, f, len);
	b = buf_copy(f, len);
	at = rec_end(f, 3);
	buf_insert_zeros(&b, at, to_unit(at));
	seed_flags("rehash-gap", FAS_REHASH, b.p, b.len);
	free(b.p);
	free(f);
}

static void seeds_keyed(void)
{
	char logdir[PATH_LEN], path[PATH_LEN], note[AUD_NOTE_MAX], err[AUD_ERR_LEN];
	size_t len, end, note_len, at;
	struct aud_log *log;
	uint8_t *f, *g;
	struct buf b, pre = {0};
	struct aud_open_report rep;
	struct aud_params p = {.key_file = key_path, .prealloc_bytes = PREALLOC,
			       .buffered = true, .checkpoint_records = 3};
	uint64_t nrec = 0;

	/* With the key: a checkpoint every 3 records, a shutdown (record + checkpoint). */
	fresh_dir(logdir, "keyed");
	log = open_log(logdir, true, 3);
	append_signs(log, 1, 4);
	append_login(log, AUD_T_LOGIN_FAIL, 1);
	if (aud_shutdown(log, "fuzz seed") != WARDEN_OK)
		die("shutdown");
	nrec = aud_num_records(log);
	aud_close(log);
	f = take_log(logdir, &len, &end, note, &note_len);
	if (note_len == 0)
		die("no checkpoint");
	expect(f, len, pub, AUD_V_OK, "checkpoints");
	seed_flags("checkpoints", FAS_PUBKEY, f, len);
	seed_flags("checkpoints-nokey", 0, f, end);

	/* The newest checkpoint text as given, as a body to sign, and as the target
	 * derives it (all records, and the first 3). */
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_NOTE);
	buf_be(&pre, note_len, 2);
	buf_put(&pre, note, note_len);
	seed("checkpoint-text", &pre, f, len);
	free(pre.p);
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_NOTE | FAS_SIGN);
	{
		struct aud_note *n = malloc(sizeof *n);

		if (n == NULL || !aud_note_parse(note, note_len, n))
			die("note");
		buf_be(&pre, n->text_len, 2);
		buf_put(&pre, n->text, n->text_len);
		free(n);
	}
	seed("checkpoint-body-signed", &pre, f, len);
	free(pre.p);
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE);
	buf_be(&pre, nrec, 2);
	buf_u8(&pre, 0);
	seed("checkpoint-derived", &pre, f, len);
	free(pre.p);
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE | FAS_STOP);
	buf_be(&pre, 3, 2);
	buf_u8(&pre, 0);
	buf_u8(&pre, 5);
	seed("checkpoint-derived-3-stop-5", &pre, f, len);
	free(pre.p);
	/* Derived checkpoints that do not match: a head that differs at the last record (a
	 * checkpoint record) and at record 4, and a size beyond the log. */
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE);
	buf_be(&pre, nrec, 2);
	buf_u8(&pre, 0x41);
	seed("checkpoint-derived-other-head", &pre, f, len);
	free(pre.p);
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE);
	buf_be(&pre, 5, 2);
	buf_u8(&pre, 0x01);
	seed("checkpoint-derived-5-other-head", &pre, f, len);
	free(pre.p);
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE);
	buf_be(&pre, nrec + 1, 2);
	buf_u8(&pre, 0);
	seed("checkpoint-derived-beyond", &pre, f, len);
	free(pre.p);
	seed_flags("rehash-relink-checkpoints", FAS_PUBKEY | FAS_REHASH | FAS_RELINK, f, len);

	/* A gap before the first checkpoint record, with the derived checkpoint. */
	at = rec_end(f, 2);
	b = buf_copy(f, len);
	buf_insert_zeros(&b, at, to_unit(at));
	expect(b.p, b.len, pub, AUD_V_OK, "checkpoints-gap");
	pre = (struct buf){0};
	buf_u8(&pre, FAS_PUBKEY | FAS_DERIVE);
	buf_be(&pre, nrec, 2);
	buf_u8(&pre, 0);
	seed("checkpoints-gap-derived", &pre, b.p, b.len);
	free(pre.p);
	free(b.p);

	/* Torn in the last record (the shutdown's checkpoint), then opened by the writer:
	 * the tail is cut and a RECOVERY record appended. */
	b = buf_copy(f, len);
	at = rec_end(f, nrec - 2);
	memset(b.p + at + 10, 0, end - at - 10);
	expect(b.p, b.len, pub, AUD_V_BAD_HASH, "torn-checkpoint");
	seed_flags("torn-checkpoint", FAS_PUBKEY, b.p, b.len);
	fresh_dir(logdir, "recovered");
	file0(path, logdir);
	write_file(path, b.p, b.len);
	free(b.p);
	p.dir = logdir;
	if (aud_open(&p, &log, &rep, err, sizeof err) != WARDEN_OK)
		die(err);
	if (!rep.repaired)
		die("not repaired");
	append_signs(log, 5, 1);
	aud_close(log);
	g = take_log(logdir, &len, &end, note, &note_len);
	expect(g, len, pub, AUD_V_OK, "recovered");
	seed_flags("recovered", FAS_PUBKEY, g, len);
	free(g);
	free(f);
}

/* A log past the reader's 1 MiB buffer: a record of about 1.1 MB (a BYTES field that is
 * zero but for its ends) straddles it, records and a gap follow.  The seed holds the file
 * without the field's zeros; FAS_STRETCH puts them back, so the seed stays small. */
#define BIG_FIELD (1100u * 1000u)

static void seeds_big(void)
{
	char logdir[PATH_LEN], note[AUD_NOTE_MAX];
	size_t len, end, note_len, at, hole;
	struct aud_log *log;
	struct aud_body b;
	uint8_t *f, *v = calloc(1, BIG_FIELD);
	struct buf g, pre = {0};

	if (v == NULL)
		die("out of memory");
	memset(v, 0xa5, 8);
	memset(v + BIG_FIELD - 8, 0x5a, 8);
	fresh_dir(logdir, "big");
	log = open_log(logdir, false, 0);
	append_signs(log, 1, 2);
	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, 1);
	aud_put_str(&b, AUD_F_KEY, "ca");
	aud_put_bytes(&b, AUD_F_REVOKED, v, BIG_FIELD);
	if (aud_body_finish(&b) != WARDEN_OK)
		die("big body");
	append(log, AUD_T_SIGN, &b);
	aud_body_free(&b);
	free(v);
	append_signs(log, 3, 3);
	aud_close(log);
	f = take_log(logdir, &len, &end, note, &note_len);
	/* A gap after record 4, the first after the big one. */
	g = buf_copy(f, len);
	at = rec_end(f, 4);
	buf_insert_zeros(&g, at, to_unit(at));
	if (rec_end(f, 2) >= 1024u * 1024u || at <= 1024u * 1024u)
		die("the big record does not straddle 1 MiB");
	expect(g.p, g.len, NULL, AUD_V_OK, "big-record");
	/* Cut the field's zeros out. */
	for (hole = rec_end(f, 2); g.p[hole] != 0xa5; hole++)
		;
	hole += 8;
	memmove(g.p + hole, g.p + hole + BIG_FIELD - 16, g.len - hole - (BIG_FIELD - 16));
	g.len -= BIG_FIELD - 16;
	buf_u8(&pre, FAS_STRETCH);
	buf_be(&pre, hole, 3);
	buf_be(&pre, BIG_FIELD - 16, 3);
	seed("big-record-stretched", &pre, g.p, g.len);
	free(pre.p);
	free(g.p);
	free(f);
}

static void make_key(void)
{
	FILE *k;

	_Static_assert(sizeof FAS_KEY_SEED - 1 == AUD_ED25519_LEN, "an Ed25519 seed");
	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (const uint8_t *)FAS_KEY_SEED,
					   AUD_ED25519_LEN);
	snprintf(key_path, sizeof key_path, "%s/audit.key", work);
	k = fopen(key_path, "wx");
	if (key == NULL || k == NULL || PEM_write_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(k) != 0)
		die("writing the key");
	EVP_PKEY_free(key);
	key = NULL;
	{
		char err[AUD_ERR_LEN];

		if (aud_key_load(key_path, &key, pub, err, sizeof err) != WARDEN_OK)
			die(err);
	}
	aud_origin_for_key(pub, origin);
}

int main(int argc, char **argv)
{
	char path[PATH_LEN];

	if (argc != 2) {
		fprintf(stderr, "usage: make-corpus-audit DIR\n");
		return 2;
	}
	out_dir = argv[1];
	snprintf(path, sizeof path, "%s/%s", out_dir, TARGET);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path);
	snprintf(work, sizeof work, "/tmp/make-corpus-audit.XXXXXX");
	if (mkdtemp(work) == NULL)
		die("mkdtemp");
	hasher = aud_hasher_new();
	if (hasher == NULL)
		die("hasher");
	make_key();
	seeds_plain();
	seeds_keyed();
	seeds_big();
	EVP_PKEY_free(key);
	aud_hasher_free(hasher);
	(void)nftw(work, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
