/*
 * aud_format.c - the bytes of the audit log: body TLV (build, walk, check), record and
 * file-header encoding, record parsing, names, and small helpers.  No I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "aud_internal.h"

#define AUD_FIELD_HDR_LEN 6u /* u16 tag, u32 length */
#define AUD_INT_LEN 8u
#define AUD_BODY_MIN_CAP 256u

/* ===== names ===================================================================== */

static const char *const type_names[AUD_T_MAX + 1] = {
	[AUD_T_GENESIS] = "genesis",	   [AUD_T_CONFIG] = "config",
	[AUD_T_POLICY] = "policy",	   [AUD_T_SIGN] = "sign",
	[AUD_T_LOGIN_FAIL] = "login_fail", [AUD_T_LOCKOUT] = "lockout",
	[AUD_T_LOGIN_OK] = "login_ok",	   [AUD_T_CHECKPOINT] = "checkpoint",
	[AUD_T_RECOVERY] = "recovery",	   [AUD_T_SHUTDOWN] = "shutdown",
	[AUD_T_SNAPSHOT] = "snapshot",
};

const char *aud_type_str(uint16_t type)
{
	return type <= AUD_T_MAX ? type_names[type] : NULL;
}

static const struct {
	uint16_t tag;
	const char *name;
} tag_names[] = {
	{AUD_F_DECISION, "decision"},	      {AUD_F_REASON_CODE, "reason_code"},
	{AUD_F_REASON, "reason"},	      {AUD_F_KEY, "key"},
	{AUD_F_MECHANISM, "mechanism"},	      {AUD_F_DATA_KIND, "data_kind"},
	{AUD_F_DATA_SHA256, "data_sha256"},   {AUD_F_PREHASH, "prehash"},
	{AUD_F_PREHASH_ALG, "prehash_alg"},   {AUD_F_CALLER_UID, "caller_uid"},
	{AUD_F_CALLER_PID, "caller_pid"},     {AUD_F_POLICY_SHA256, "policy_sha256"},
	{AUD_F_CONFIG_SHA256, "config_sha256"}, {AUD_F_SERIAL, "serial"},
	{AUD_F_SUBJECT, "subject"},	      {AUD_F_SAN, "san"},
	{AUD_F_NOT_BEFORE, "not_before"},     {AUD_F_NOT_AFTER, "not_after"},
	{AUD_F_PROFILE, "profile"},	      {AUD_F_PROVISIONER, "provisioner"},
	{AUD_F_CRL_NUMBER, "crl_number"},     {AUD_F_REVOKED, "revoked"},
	{AUD_F_OCSP, "ocsp"},		      {AUD_F_OCSP_STATUS, "ocsp_status"},
	{AUD_F_FAILURES, "failures"},	      {AUD_F_AUDIT_PUBKEY, "audit_pubkey"},
	{AUD_F_ORIGIN, "origin"},	      {AUD_F_CA_KEY, "ca_key"},
	{AUD_F_KEY_SPKI, "key_spki"},	      {AUD_F_TREE_SIZE, "tree_size"},
	{AUD_F_HEAD_HASH, "head_hash"},	      {AUD_F_NOTE_SIG, "note_sig"},
	{AUD_F_FILE, "file"},		      {AUD_F_OFFSET, "offset"},
	{AUD_F_CUT_BYTES, "cut_bytes"},	      {AUD_F_CUT_SHA256, "cut_sha256"},
	{AUD_F_REFUSED_FROM, "refused_from"}, {AUD_F_REFUSED_TO, "refused_to"},
	{AUD_F_ERRNO, "errno"},		      {AUD_F_SOFTWARE, "software"},
	{AUD_F_TEXT, "text"},		      {AUD_F_TOKEN, "token"},
	{AUD_F_ISSUER, "issuer"},	      {AUD_F_STATE, "state"},
	{AUD_F_CA_CERT, "ca_cert"},	      {AUD_F_PSS_HASH, "pss_hash"},
	{AUD_F_PSS_MGF, "pss_mgf"},	      {AUD_F_PSS_SALT_LEN, "pss_salt_len"},
	{AUD_F_SNAP_VERSION, "snap_version"}, {AUD_F_SNAP_INDEX, "snap_index"},
	{AUD_F_SNAP_COUNT, "snap_count"},     {AUD_F_SNAP_LEN, "snap_len"},
	{AUD_F_POL_SUMMARY, "pol_summary"},   {AUD_F_REVOCATION, "revocation"},
	{AUD_F_REASON_NAME, "reason_name"},   {AUD_F_DATA_LEN, "data_len"},
	{AUD_F_KEY_ID, "key_id"},
};
_Static_assert(sizeof tag_names / sizeof tag_names[0] == AUD_F_MAX_NUM, "every tag named");

const char *aud_tag_name(uint16_t tag)
{
	for (size_t i = 0; i < sizeof tag_names / sizeof tag_names[0]; i++)
		if (tag_names[i].tag == tag)
			return tag_names[i].name;
	return NULL;
}

uint16_t aud_tag_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof tag_names / sizeof tag_names[0]; i++)
		if (strcmp(tag_names[i].name, name) == 0)
			return tag_names[i].tag;
	return 0;
}

const char *aud_verdict_str(enum aud_verdict v)
{
	static const char *const s[] = {
		[AUD_V_OK] = "ok",
		[AUD_V_END] = "end of data",
		[AUD_V_SHORT] = "record runs past the end of the file (torn or truncated)",
		[AUD_V_BAD_LEN] = "bad record length",
		[AUD_V_BAD_HASH] = "record hash does not match its bytes",
		[AUD_V_BAD_LINK] = "previous-hash link broken",
		[AUD_V_BAD_SEQ] = "sequence number out of order",
		[AUD_V_BAD_FIELD] = "malformed record field",
		[AUD_V_BAD_GENESIS] = "genesis record misplaced",
		[AUD_V_BAD_CHECKPOINT] = "bad checkpoint",
		[AUD_V_BAD_FILE] = "bad file",
		[AUD_V_TRAILING] = "non-zero bytes after the end of data",
		[AUD_V_TRUNCATED] = "log truncated",
		[AUD_V_IO] = "I/O error",
		[AUD_V_STOPPED] = "stopped by the caller",
		[AUD_V_EMPTY] = "no log files",
		[AUD_V_NOMEM] = "out of memory",
	};
	return (unsigned)v < sizeof s / sizeof s[0] ? s[v] : "unknown";
}

/* ===== helpers ===================================================================== */

void aud_errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

void aud_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int64_t aud_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Eight bytes of printable ASCII (0x20..0x7e), tested at once. */
static inline bool plain_ascii8(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	uint64_t w, x;

	memcpy(&w, p, sizeof w);
	if ((w & hi) != 0 || ((w - 0x20 * ones) & ~w & hi) != 0)
		return false;
	x = w ^ (0x7f * ones);
	return ((x - ones) & ~x & hi) == 0;
}

/* Well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF), no NUL and
 * no C0 control other than tab (and newline when allowed), no DEL. */
bool aud_utf8_valid(const uint8_t *p, size_t len, bool allow_newline)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t n;

		if (len - i >= 8 && plain_ascii8(p + i)) {
			i += 8;
			continue;
		}
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && !(allow_newline && c == '\n')) || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* ===== SHA-256 =================================================================== */

struct aud_hasher {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
};

struct aud_hasher *aud_hasher_new(void)
{
	struct aud_hasher *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (h->ctx == NULL || h->md == NULL) {
		aud_hasher_free(h);
		return NULL;
	}
	return h;
}

void aud_hasher_free(struct aud_hasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

void aud_hasher_digest(struct aud_hasher *h, const void *p, size_t len,
		       uint8_t out[AUD_HASH_LEN])
{
	unsigned int n = 0;

	/* These cannot fail for SHA-256 with a fetched implementation; a failure would
	 * leave a zero hash that no stored hash matches (fail closed). */
	memset(out, 0, AUD_HASH_LEN);
	if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, p, len) != 1 || EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		memset(out, 0, AUD_HASH_LEN);
}

void aud_sha256(const void *p, size_t len, uint8_t out[AUD_HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, AUD_HASH_LEN);
}

/* ===== body: building ============================================================= */

void aud_body_init(struct aud_body *b)
{
	memset(b, 0, sizeof *b);
}

void aud_body_free(struct aud_body *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

static uint8_t *body_room(struct aud_body *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (n > AUD_MAX_BODY - b->len) {
		b->failed = 1;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : AUD_BODY_MIN_CAP;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL) {
			b->failed = 2;
			return NULL;
		}
		b->data = d;
		b->cap = cap;
	}
	b->len += n;
	return b->data + b->len - n;
}

static void put_field(struct aud_body *b, uint16_t tag, unsigned kind, const void *v,
		      size_t len)
{
	uint8_t *p;

	if (AUD_TAG_KIND(tag) != kind || AUD_TAG_NUM(tag) == 0 || len > AUD_MAX_BODY) {
		b->failed = 1;
		return;
	}
	p = body_room(b, AUD_FIELD_HDR_LEN + len);
	if (p == NULL)
		return;
	aud_put16(p, tag);
	aud_put32(p + 2, (uint32_t)len);
	if (len > 0)
		memcpy(p + AUD_FIELD_HDR_LEN, v, len);
}

void aud_put_uint(struct aud_body *b, uint16_t tag, uint64_t v)
{
	uint8_t x[AUD_INT_LEN];

	aud_put64(x, v);
	put_field(b, tag, AUD_K_UINT, x, sizeof x);
}

void aud_put_int(struct aud_body *b, uint16_t tag, int64_t v)
{
	uint8_t x[AUD_INT_LEN];

	aud_put64(x, (uint64_t)v);
	put_field(b, tag, AUD_K_INT, x, sizeof x);
}

void aud_put_strn(struct aud_body *b, uint16_t tag, const char *s, size_t len)
{
	if (s == NULL || !aud_utf8_valid((const uint8_t *)s, len, false)) {
		b->failed = 1;
		return;
	}
	put_field(b, tag, AUD_K_STR, s, len);
}

void aud_put_str(struct aud_body *b, uint16_t tag, const char *s)
{
	aud_put_strn(b, tag, s, s != NULL ? strlen(s) : 0);
}

void aud_put_bytes(struct aud_body *b, uint16_t tag, const void *p, size_t len)
{
	if (p == NULL && len > 0) {
		b->failed = 1;
		return;
	}
	put_field(b, tag, AUD_K_BYTES, p, len);
}

void aud_list_begin(struct aud_body *b, uint16_t tag)
{
	if (b->depth >= AUD_MAX_DEPTH) {
		b->failed = 1;
		return;
	}
	put_field(b, tag, AUD_K_LIST, NULL, 0);
	if (!b->failed)
		b->open[b->depth++] = b->len - AUD_FIELD_HDR_LEN;
}

void aud_list_end(struct aud_body *b)
{
	size_t at;

	if (b->failed)
		return;
	if (b->depth == 0) {
		b->failed = 1;
		return;
	}
	at = b->open[--b->depth];
	aud_put32(b->data + at + 2, (uint32_t)(b->len - at - AUD_FIELD_HDR_LEN));
}

int aud_body_finish(const struct aud_body *b)
{
	if (b->failed == 2)
		return WARDEN_E_NOMEM;
	if (b->failed || b->depth != 0)
		return WARDEN_E_INTERNAL;
	return WARDEN_OK;
}

/* ===== body: reading ============================================================== */

int aud_field_next(struct aud_cur *c, struct aud_field *out)
{
	uint16_t tag;
	uint32_t len;
	unsigned kind;

	memset(out, 0, sizeof *out);
	if (c->len == 0)
		return 0;
	if (c->len < AUD_FIELD_HDR_LEN)
		return -1;
	tag = aud_get16(c->p);
	len = aud_get32(c->p + 2);
	if (len > c->len - AUD_FIELD_HDR_LEN)
		return -1;
	kind = AUD_TAG_KIND(tag);
	if (kind < AUD_K_UINT || kind > AUD_K_LIST || AUD_TAG_NUM(tag) == 0)
		return -1;
	if ((kind == AUD_K_UINT || kind == AUD_K_INT) && len != AUD_INT_LEN)
		return -1;
	out->tag = tag;
	out->val = c->p + AUD_FIELD_HDR_LEN;
	out->len = len;
	c->p += AUD_FIELD_HDR_LEN + len;
	c->len -= AUD_FIELD_HDR_LEN + len;
	return 1;
}

uint64_t aud_field_uint(const struct aud_field *f)
{
	return f->len == AUD_INT_LEN ? aud_get64(f->val) : 0;
}

int64_t aud_field_int(const struct aud_field *f)
{
	return f->len == AUD_INT_LEN ? (int64_t)aud_get64(f->val) : 0;
}

static bool check_level(const uint8_t *base, const uint8_t *p, size_t len, unsigned depth,
			size_t *err_off, const char **what)
{
	struct aud_cur c = {p, len};
	struct aud_field f;
	int r;

	while ((r = aud_field_next(&c, &f)) == 1) {
		size_t off = (size_t)(f.val - AUD_FIELD_HDR_LEN - base);
		unsigned kind = AUD_TAG_KIND(f.tag);

		if (kind == AUD_K_STR && !aud_utf8_valid(f.val, f.len, false)) {
			*err_off = off;
			*what = "string field is not valid UTF-8 text";
			return false;
		}
		if (kind == AUD_K_LIST) {
			if (depth + 1 >= AUD_MAX_DEPTH) {
				*err_off = off;
				*what = "lists nested too deeply";
				return false;
			}
			if (!check_level(base, f.val, f.len, depth + 1, err_off, what))
				return false;
		}
	}
	if (r < 0) {
		*err_off = (size_t)(c.p - base);
		*what = "malformed field header (length, kind or integer size)";
		return false;
	}
	return true;
}

bool aud_body_check(const uint8_t *body, size_t len, size_t *err_off, const char **what)
{
	size_t off = 0;
	const char *w = NULL;
	bool ok = len <= AUD_MAX_BODY;

	if (!ok)
		w = "body too long";
	else
		ok = check_level(body, body, len, 0, &off, &w);
	if (err_off != NULL)
		*err_off = ok ? 0 : off;
	if (what != NULL)
		*what = ok ? NULL : w;
	return ok;
}

bool aud_body_find(const uint8_t *body, size_t len, uint16_t tag, struct aud_field *out)
{
	struct aud_cur c = {body, len};

	while (aud_field_next(&c, out) == 1)
		if (out->tag == tag)
			return true;
	memset(out, 0, sizeof *out);
	return false;
}

/* ===== records ==================================================================== */

void aud_record_encode(struct aud_hasher *h, uint8_t *out, uint16_t type, uint64_t seq,
		       int64_t time_ns, const uint8_t prev[AUD_HASH_LEN], const uint8_t *body,
		       size_t body_len)
{
	size_t n = AUD_REC_MIN_LEN + body_len;

	aud_put32(out + AUD_OFF_LEN, (uint32_t)n);
	aud_put16(out + AUD_OFF_TYPE, type);
	aud_put16(out + AUD_OFF_FLAGS, 0);
	aud_put64(out + AUD_OFF_SEQ, seq);
	aud_put64(out + AUD_OFF_TIME, (uint64_t)time_ns);
	memcpy(out + AUD_OFF_PREV, prev, AUD_HASH_LEN);
	if (body_len > 0)
		memcpy(out + AUD_REC_HDR_LEN, body, body_len);
	aud_hasher_digest(h, out, n - AUD_HASH_LEN, out + n - AUD_HASH_LEN);
}

enum aud_verdict aud_record_parse(struct aud_hasher *h, const uint8_t *buf, size_t avail,
				  uint64_t expect_seq, const uint8_t prev[AUD_HASH_LEN],
				  struct aud_rec *out, char *what, size_t what_len)
{
	uint8_t hash[AUD_HASH_LEN];
	uint32_t n;
	size_t off = 0;
	const char *w = NULL;

	memset(out, 0, sizeof *out);
	if (avail < 4) {
		for (size_t i = 0; i < avail; i++)
			if (buf[i] != 0) {
				aud_errf(what, what_len, "%zu stray bytes at the end", avail);
				return AUD_V_SHORT;
			}
		return AUD_V_END;
	}
	n = aud_get32(buf + AUD_OFF_LEN);
	if (n == 0)
		return AUD_V_END;
	if (n < AUD_REC_MIN_LEN || n > AUD_MAX_RECORD) {
		aud_errf(what, what_len, "record length %u outside [%u, %u]", n, AUD_REC_MIN_LEN,
			 AUD_MAX_RECORD);
		return AUD_V_BAD_LEN;
	}
	if (n > avail) {
		aud_errf(what, what_len, "record of %u bytes but only %zu left in the file", n,
			 avail);
		return AUD_V_SHORT;
	}
	aud_hasher_digest(h, buf, n - AUD_HASH_LEN, hash);
	if (memcmp(hash, buf + n - AUD_HASH_LEN, AUD_HASH_LEN) != 0) {
		aud_errf(what, what_len, "stored hash does not match SHA-256 of the record");
		return AUD_V_BAD_HASH;
	}
	out->raw = buf;
	out->raw_len = n;
	out->type = aud_get16(buf + AUD_OFF_TYPE);
	out->seq = aud_get64(buf + AUD_OFF_SEQ);
	out->time_ns = (int64_t)aud_get64(buf + AUD_OFF_TIME);
	out->prev_hash = buf + AUD_OFF_PREV;
	out->hash = buf + n - AUD_HASH_LEN;
	out->body = buf + AUD_REC_HDR_LEN;
	out->body_len = n - AUD_REC_MIN_LEN;
	if (out->seq != expect_seq) {
		aud_errf(what, what_len, "sequence number %llu where %llu was expected",
			 (unsigned long long)out->seq, (unsigned long long)expect_seq);
		return AUD_V_BAD_SEQ;
	}
	if (memcmp(out->prev_hash, prev, AUD_HASH_LEN) != 0) {
		aud_errf(what, what_len, "previous hash does not match the hash of record %llu",
			 (unsigned long long)(expect_seq - 1));
		return expect_seq == 0 ? AUD_V_BAD_GENESIS : AUD_V_BAD_LINK;
	}
	if (aud_get16(buf + AUD_OFF_FLAGS) != 0 || out->type == 0) {
		aud_errf(what, what_len, "flags must be 0 and type non-zero");
		return AUD_V_BAD_FIELD;
	}
	if ((out->seq == 0) != (out->type == AUD_T_GENESIS)) {
		aud_errf(what, what_len, "record 0 must be the one genesis record");
		return AUD_V_BAD_GENESIS;
	}
	if (!aud_body_check(out->body, out->body_len, &off, &w)) {
		aud_errf(what, what_len, "body byte %zu: %s", off, w);
		return AUD_V_BAD_FIELD;
	}
	return AUD_V_OK;
}

/* ===== files ====================================================================== */

void aud_file_name(uint64_t first_seq, char out[AUD_FILE_NAME_LEN])
{
	snprintf(out, AUD_FILE_NAME_LEN, "audit-%020llu.log", (unsigned long long)first_seq);
}

bool aud_file_name_parse(const char *name, uint64_t *out_first_seq)
{
	static const size_t digits = 20;
	uint64_t v = 0;

	*out_first_seq = 0;
	if (strlen(name) != AUD_FILE_NAME_LEN - 1 || strncmp(name, "audit-", 6) != 0 ||
	    strcmp(name + 6 + digits, ".log") != 0)
		return false;
	for (size_t i = 0; i < digits; i++) {
		char c = name[6 + i];

		if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*out_first_seq = v;
	return true;
}

void aud_file_hdr_encode(uint8_t out[AUD_FILE_HDR_LEN], uint64_t first_seq,
			 const uint8_t prev[AUD_HASH_LEN])
{
	memset(out, 0, AUD_FILE_HDR_LEN);
	memcpy(out, AUD_FILE_MAGIC, AUD_FILE_MAGIC_LEN);
	aud_put32(out + AUD_FOFF_VERSION, AUD_FORMAT_VERSION);
	aud_put32(out + AUD_FOFF_HDR_LEN, AUD_FILE_HDR_LEN);
	aud_put64(out + AUD_FOFF_FIRST_SEQ, first_seq);
	memcpy(out + AUD_FOFF_PREV, prev, AUD_HASH_LEN);
}
