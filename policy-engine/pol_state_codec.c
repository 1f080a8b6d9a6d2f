/*
 * pol_state_codec.c - the whole policy state as bytes, for the enclave's audit-log
 * snapshots (policy.h, pol_state_encode / pol_state_decode).
 *
 * Format version 1, every integer big-endian:
 *   "WPOLSTAT" | u32 version (1) | u8 flags (bit 0: expired serials were dropped once)
 *   u32 num_serials, each: 16 id | i64 not_after                     ascending id
 *   u32 num_buckets, each: 16 id | i64 tat_ns | u64 rem | u64 count   ascending id,
 *                                                                     count >= 1, rem < count
 *   u64 rev_seq (CRL / OCSP summaries applied)
 *   u8 num_scopes (<= POL_STATE_MAX_CRL_SCOPES), each, in scope index order:
 *      16 key | u8 full | 16 scope (zeros when full) | u8 last_len (1..20) | last |
 *      u8 num_bases (<= POL_CRL_BASES_KEPT), each: u8 len (1..20) | num | u64 seq
 *      (1 <= seq <= rev_seq, strictly increasing)
 *   u16 num_responders (<= POL_STATE_MAX_RESPONDERS), each, in table order:
 *      20 key_sha1 | u8 label_len (< POL_NAME_MAX) | label (no NUL) | i64 not_after |
 *      20 name_sha1 | 20 key_sha1 | 32 name_sha256 | 32 key_sha256      key_sha1 unique
 *   u32 num_revocations, each, in dense-table order (evaluation indexes it):
 *      16 key | pol_revocation_encode() (its first octet gives its length) |
 *      u8 sources (1..3, holding the revocation's own source) | u8 has_not_after |
 *      i64 not_after (0 without) | u64 scopes (bits below num_scopes) |
 *      u64 created_seq | u64 bound_seq   (1 <= created <= bound <= rev_seq);
 *      (key, serial) unique
 *   32 SHA-256 of every byte before it
 * Nothing follows.  The digest is not a security measure (the audit log's chain and
 * signed checkpoints cover the blob): it turns any damage between encode and decode into
 * a clean refusal instead of a state that parses but is not the one encoded.  The index seed of the revocation table is not state (lookups compare
 * bytes) and is drawn afresh; the public suffix list is the caller's.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "pol_policy_int.h"
#include "policy.h"

#define CODEC_MAGIC "WPOLSTAT"
#define CODEC_MAGIC_LEN 8u
#define CODEC_FLAG_PURGED 0x01u
#define SERIAL_ROW_LEN (POL_BUCKET_ID_LEN + 8u)
#define BUCKET_ROW_LEN (POL_BUCKET_ID_LEN + 24u)
#define SCOPE_ROW_MAX                                                                        \
	(2u * POL_SCOPE_ID_LEN + 2u + POL_CRL_NUMBER_MAX_LEN + 1u +                           \
	 POL_CRL_BASES_KEPT * (1u + POL_CRL_NUMBER_MAX_LEN + 8u))
#define RESPONDER_ROW_MAX                                                                    \
	(3u * POL_OCSP_KEY_HASH_LEN + 1u + POL_NAME_MAX + 8u + 2u * POL_SHA256_LEN)
#define REV_ROW_MAX (POL_SCOPE_ID_LEN + POL_REVOCATION_WIRE_MAX + 2u + 32u)
#define HEADER_LEN (CODEC_MAGIC_LEN + 4u + 1u)
#define DIGEST_LEN SHA256_DIGEST_LENGTH
_Static_assert(POL_STATE_MAX_CRL_SCOPES <= 255u, "scope count fits a u8");
_Static_assert(POL_STATE_MAX_RESPONDERS <= 65535u, "responder count fits a u16");
_Static_assert(POL_STATE_MAX_ENTRIES <= UINT32_MAX, "table counts fit a u32");
_Static_assert(POL_NAME_MAX <= 256u, "a label length fits a u8");

/* ===== writing ======================================================================== */

struct cw {
	uint8_t *p;
	size_t len;
};

static void w_bytes(struct cw *w, const void *p, size_t n)
{
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void w_uint(struct cw *w, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w->p[w->len++] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* In-place heapsort of n rows of `size` bytes by their leading id: no allocation and no
 * system call (glibc's qsort may call sysinfo, which the enclave's seccomp list kills),
 * O(n log n) worst case.  tmp holds one row. */
static bool row_less(const uint8_t *rows, size_t size, size_t i, size_t j)
{
	return memcmp(rows + i * size, rows + j * size, POL_BUCKET_ID_LEN) < 0;
}

static void row_swap(uint8_t *rows, size_t size, size_t i, size_t j, uint8_t *tmp)
{
	memcpy(tmp, rows + i * size, size);
	memcpy(rows + i * size, rows + j * size, size);
	memcpy(rows + j * size, tmp, size);
}

static void sift_down(uint8_t *rows, size_t size, size_t i, size_t n, uint8_t *tmp)
{
	for (;;) {
		size_t big = i, l = 2 * i + 1, r = l + 1;
		if (l < n && row_less(rows, size, big, l))
			big = l;
		if (r < n && row_less(rows, size, big, r))
			big = r;
		if (big == i)
			return;
		row_swap(rows, size, i, big, tmp);
		i = big;
	}
}

static void rows_sort(void *base, size_t n, size_t size, uint8_t *tmp)
{
	uint8_t *rows = base;
	for (size_t i = n / 2; i-- > 0;)
		sift_down(rows, size, i, n, tmp);
	for (size_t end = n; end-- > 1;) {
		row_swap(rows, size, 0, end, tmp);
		sift_down(rows, size, 0, end, tmp);
	}
}

bool pol_state_encode(const struct pol_state *s, uint8_t **out, size_t *out_len)
{
	const struct pol_rev_state *r = pol_state_rev(s);
	size_t ns = pol_state_num_serials(s), nb = pol_state_num_buckets(s);
	size_t nsc = pol_rev_num_scopes(r), nr = pol_rev_num_responders(r);
	size_t nrev = pol_rev_count(r);
	struct pol_state_serial_row *ser = malloc((ns ? ns : 1) * sizeof(*ser));
	struct pol_state_bucket_row *bkt = malloc((nb ? nb : 1) * sizeof(*bkt));
	size_t cap = HEADER_LEN + 4 + ns * SERIAL_ROW_LEN + 4 + nb * BUCKET_ROW_LEN + 8 + 1 +
		     nsc * SCOPE_ROW_MAX + 2 + nr * RESPONDER_ROW_MAX + 4 + nrev * REV_ROW_MAX +
		     DIGEST_LEN;
	struct cw w = {malloc(cap), 0};
	bool ok = false;

	*out = NULL;
	*out_len = 0;
	if (ser == NULL || bkt == NULL || w.p == NULL)
		goto out;
	w_bytes(&w, CODEC_MAGIC, CODEC_MAGIC_LEN);
	w_uint(&w, POL_STATE_CODEC_VERSION, 4);
	w_uint(&w, pol_state_ever_purged(s) ? CODEC_FLAG_PURGED : 0, 1);

	/* Hash tables: slot order depends on capacity and history, so sort by id. */
	union {
		struct pol_state_serial_row s;
		struct pol_state_bucket_row b;
	} tmp;
	ns = pol_state_serial_rows(s, ser);
	rows_sort(ser, ns, sizeof(*ser), (uint8_t *)&tmp);
	w_uint(&w, ns, 4);
	for (size_t i = 0; i < ns; i++) {
		w_bytes(&w, ser[i].id, POL_BUCKET_ID_LEN);
		w_uint(&w, (uint64_t)ser[i].not_after, 8);
	}
	nb = pol_state_bucket_rows(s, bkt);
	rows_sort(bkt, nb, sizeof(*bkt), (uint8_t *)&tmp);
	w_uint(&w, nb, 4);
	for (size_t i = 0; i < nb; i++) {
		w_bytes(&w, bkt[i].id, POL_BUCKET_ID_LEN);
		w_uint(&w, (uint64_t)bkt[i].tat_ns, 8);
		w_uint(&w, bkt[i].rem, 8);
		w_uint(&w, bkt[i].count, 8);
	}

	w_uint(&w, pol_rev_seq(r), 8);
	w_uint(&w, nsc, 1);
	for (size_t i = 0; i < nsc; i++) {
		struct pol_rev_scope_row sc;
		pol_rev_scope_at(r, i, &sc);
		w_bytes(&w, sc.key, POL_SCOPE_ID_LEN);
		w_uint(&w, sc.full, 1);
		w_bytes(&w, sc.scope, POL_SCOPE_ID_LEN);
		w_uint(&w, sc.info.last_len, 1);
		w_bytes(&w, sc.info.last, sc.info.last_len);
		w_uint(&w, sc.info.num_bases, 1);
		for (uint32_t k = 0; k < sc.info.num_bases; k++) {
			w_uint(&w, sc.info.bases[k].len, 1);
			w_bytes(&w, sc.info.bases[k].num, sc.info.bases[k].len);
			w_uint(&w, sc.info.bases[k].seq, 8);
		}
	}
	w_uint(&w, nr, 2);
	for (size_t i = 0; i < nr; i++) {
		struct pol_rev_responder_row rr;
		pol_rev_responder_at(r, i, &rr);
		size_t ll = strnlen(rr.info.issuer_label, POL_NAME_MAX - 1);
		w_bytes(&w, rr.key_sha1, POL_OCSP_KEY_HASH_LEN);
		w_uint(&w, ll, 1);
		w_bytes(&w, rr.info.issuer_label, ll);
		w_uint(&w, (uint64_t)rr.info.not_after, 8);
		w_bytes(&w, rr.info.name_sha1, POL_OCSP_KEY_HASH_LEN);
		w_bytes(&w, rr.info.key_sha1, POL_OCSP_KEY_HASH_LEN);
		w_bytes(&w, rr.info.name_sha256, POL_SHA256_LEN);
		w_bytes(&w, rr.info.key_sha256, POL_SHA256_LEN);
	}
	w_uint(&w, nrev, 4);
	for (size_t i = 0; i < nrev; i++) {
		uint8_t key[POL_SCOPE_ID_LEN];
		struct pol_rev_info in;
		pol_rev_entry_at(r, i, key, &in);
		w_bytes(&w, key, POL_SCOPE_ID_LEN);
		w.len += pol_revocation_encode(&in.rev, w.p + w.len);
		w_uint(&w, in.sources, 1);
		w_uint(&w, in.has_not_after, 1);
		w_uint(&w, in.has_not_after ? (uint64_t)in.not_after : 0, 8);
		w_uint(&w, in.scopes, 8);
		w_uint(&w, in.created_seq, 8);
		w_uint(&w, in.bound_seq, 8);
	}
	pol_sha256(w.p, w.len, w.p + w.len);
	w.len += DIGEST_LEN;
	*out = w.p;
	*out_len = w.len;
	w.p = NULL;
	ok = true;
out:
	free(w.p);
	free(ser);
	free(bkt);
	return ok;
}

/* ===== reading ======================================================================== */

/* A cursor: a read that does not fit fails and leaves `what` set (the first failure). */
struct cr {
	const uint8_t *p;
	size_t len, off;
	const char *what;
	size_t what_off;
};

static bool r_fail(struct cr *c, const char *what)
{
	if (c->what == NULL) {
		c->what = what;
		c->what_off = c->off;
	}
	return false;
}

static bool r_bytes(struct cr *c, void *out, size_t n)
{
	if (c->what != NULL)
		return false;
	if (c->len - c->off < n)
		return r_fail(c, "truncated");
	memcpy(out, c->p + c->off, n);
	c->off += n;
	return true;
}

static bool r_uint(struct cr *c, unsigned n, uint64_t *out)
{
	uint8_t b[8];
	*out = 0;
	if (!r_bytes(c, b, n))
		return false;
	for (unsigned i = 0; i < n; i++)
		*out = (*out << 8) | b[i];
	return true;
}

/* An unsigned field no larger than max. */
static bool r_max(struct cr *c, unsigned n, uint64_t max, const char *what, uint64_t *out)
{
	size_t at = c->off;
	if (!r_uint(c, n, out))
		return false;
	if (*out > max) {
		c->off = at;
		return r_fail(c, what);
	}
	return true;
}

static bool r_bool(struct cr *c, bool *out)
{
	uint64_t v;
	if (!r_max(c, 1, 1, "a boolean other than 0 or 1", &v))
		return false;
	*out = v != 0;
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static bool read_serials(struct cr *c, struct pol_state *s, uint32_t max)
{
	uint64_t n, v;
	struct pol_state_serial_row row, prev;
	if (!r_max(c, 4, max, "more serials than the state holds", &n))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		size_t at = c->off;
		if (!r_bytes(c, row.id, POL_BUCKET_ID_LEN) || !r_uint(c, 8, &v))
			return false;
		row.not_after = (int64_t)v;
		if (i > 0 && memcmp(prev.id, row.id, POL_BUCKET_ID_LEN) >= 0) {
			c->off = at;
			return r_fail(c, "serials not in ascending order (or repeated)");
		}
		if (!pol_state_serial_restore(s, &row)) {
			c->off = at;
			return r_fail(c, "serial does not fit the state");
		}
		prev = row;
	}
	return true;
}

static bool read_buckets(struct cr *c, struct pol_state *s, uint32_t max)
{
	uint64_t n, v;
	struct pol_state_bucket_row row, prev;
	if (!r_max(c, 4, max, "more rate buckets than the state holds", &n))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		size_t at = c->off;
		if (!r_bytes(c, row.id, POL_BUCKET_ID_LEN) || !r_uint(c, 8, &v) ||
		    !r_uint(c, 8, &row.rem) || !r_uint(c, 8, &row.count))
			return false;
		row.tat_ns = (int64_t)v;
		if (i > 0 && memcmp(prev.id, row.id, POL_BUCKET_ID_LEN) >= 0) {
			c->off = at;
			return r_fail(c, "rate buckets not in ascending order (or repeated)");
		}
		if (row.count == 0 || row.rem >= row.count) {
			c->off = at;
			return r_fail(c, "rate bucket with count 0 or remainder >= count");
		}
		if (!pol_state_bucket_restore(s, &row)) {
			c->off = at;
			return r_fail(c, "rate bucket does not fit the state");
		}
		prev = row;
	}
	return true;
}

/* A CRL number: u8 length 1..20, then its octets. */
static bool read_number(struct cr *c, uint8_t out[POL_CRL_NUMBER_MAX_LEN], size_t *out_len)
{
	uint64_t n;
	size_t at = c->off;
	if (!r_max(c, 1, POL_CRL_NUMBER_MAX_LEN, "CRL number longer than 20 octets", &n))
		return false;
	if (n == 0) {
		c->off = at;
		return r_fail(c, "empty CRL number");
	}
	*out_len = (size_t)n;
	return r_bytes(c, out, (size_t)n);
}

static bool read_scopes(struct cr *c, uint64_t seq, struct pol_rev_scope_row *sc, size_t *out_n)
{
	uint64_t n, nb;
	if (!r_max(c, 1, POL_STATE_MAX_CRL_SCOPES, "more CRL scopes than the state holds", &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		struct pol_rev_scope_row *e = &sc[i];
		size_t at = c->off;
		memset(e, 0, sizeof(*e));
		e->info.index = (int)i;
		if (!r_bytes(c, e->key, POL_SCOPE_ID_LEN) || !r_bool(c, &e->full) ||
		    !r_bytes(c, e->scope, POL_SCOPE_ID_LEN))
			return false;
		if (e->full && !all_zero(e->scope, POL_SCOPE_ID_LEN)) {
			c->off = at;
			return r_fail(c, "a full CRL's scope id is not zero");
		}
		for (size_t k = 0; k < i; k++)
			if (memcmp(sc[k].key, e->key, POL_SCOPE_ID_LEN) == 0 && sc[k].full == e->full &&
			    memcmp(sc[k].scope, e->scope, POL_SCOPE_ID_LEN) == 0) {
				c->off = at;
				return r_fail(c, "CRL scope repeated");
			}
		if (!read_number(c, e->info.last, &e->info.last_len) ||
		    !r_max(c, 1, POL_CRL_BASES_KEPT, "more CRL bases than kept", &nb))
			return false;
		e->info.num_bases = (uint32_t)nb;
		for (size_t k = 0; k < nb; k++) {
			size_t bat;
			if (!read_number(c, e->info.bases[k].num, &e->info.bases[k].len))
				return false;
			bat = c->off;
			if (!r_uint(c, 8, &e->info.bases[k].seq))
				return false;
			if (e->info.bases[k].seq == 0 || e->info.bases[k].seq > seq ||
			    (k > 0 && e->info.bases[k].seq <= e->info.bases[k - 1].seq)) {
				c->off = bat;
				return r_fail(c, "CRL base sequence out of range or order");
			}
		}
	}
	*out_n = (size_t)n;
	return true;
}

static bool read_responders(struct cr *c, struct pol_rev_responder_row *rr, size_t *out_n)
{
	uint64_t n, ll, v;
	if (!r_max(c, 2, POL_STATE_MAX_RESPONDERS, "more OCSP responders than the state holds", &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		struct pol_rev_responder_row *e = &rr[i];
		size_t at = c->off;
		memset(e, 0, sizeof(*e));
		if (!r_bytes(c, e->key_sha1, POL_OCSP_KEY_HASH_LEN))
			return false;
		for (size_t k = 0; k < i; k++)
			if (memcmp(rr[k].key_sha1, e->key_sha1, POL_OCSP_KEY_HASH_LEN) == 0) {
				c->off = at;
				return r_fail(c, "OCSP responder repeated");
			}
		if (!r_max(c, 1, POL_NAME_MAX - 1, "responder issuer label too long", &ll))
			return false;
		at = c->off;
		if (!r_bytes(c, e->info.issuer_label, (size_t)ll))
			return false;
		if (memchr(e->info.issuer_label, '\0', (size_t)ll) != NULL) {
			c->off = at;
			return r_fail(c, "responder issuer label holds a NUL");
		}
		if (!r_uint(c, 8, &v) || !r_bytes(c, e->info.name_sha1, POL_OCSP_KEY_HASH_LEN) ||
		    !r_bytes(c, e->info.key_sha1, POL_OCSP_KEY_HASH_LEN) ||
		    !r_bytes(c, e->info.name_sha256, POL_SHA256_LEN) ||
		    !r_bytes(c, e->info.key_sha256, POL_SHA256_LEN))
			return false;
		e->info.not_after = (int64_t)v;
	}
	*out_n = (size_t)n;
	return true;
}

static bool read_revocations(struct cr *c, struct pol_rev_state *r, uint64_t seq,
			     size_t num_scopes)
{
	uint64_t n, v;
	uint64_t scope_mask = num_scopes >= 64 ? UINT64_MAX : (1ull << num_scopes) - 1;
	if (!r_max(c, 4, pol_rev_max(r), "more revocations than the state holds", &n))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t key[POL_SCOPE_ID_LEN], w[POL_REVOCATION_WIRE_MAX];
		struct pol_rev_info in;
		uint64_t sl;
		size_t at = c->off, wat;
		memset(&in, 0, sizeof(in));
		if (!r_bytes(c, key, POL_SCOPE_ID_LEN))
			return false;
		wat = c->off;
		if (!r_max(c, 1, POL_RFC_SERIAL_MAX, "revoked serial longer than 20 octets", &sl))
			return false;
		c->off = wat;
		w[0] = (uint8_t)sl;
		if (!r_bytes(c, w, 1u + (size_t)sl + 10u))
			return false;
		if (!pol_revocation_decode(w, 1u + (size_t)sl + 10u, &in.rev)) {
			c->off = wat;
			return r_fail(c, "malformed revocation");
		}
		wat = c->off;
		if (!r_max(c, 1, POL_REV_SRC_CRL | POL_REV_SRC_OCSP, "unknown revocation source", &v))
			return false;
		in.sources = (uint8_t)v;
		if ((in.sources & in.rev.source) == 0) {
			c->off = wat;
			return r_fail(c, "revocation sources miss its own source");
		}
		wat = c->off;
		if (!r_bool(c, &in.has_not_after) || !r_uint(c, 8, &v))
			return false;
		in.not_after = (int64_t)v;
		if (!in.has_not_after && v != 0) {
			c->off = wat;
			return r_fail(c, "notAfter given for a revocation without one");
		}
		wat = c->off;
		if (!r_uint(c, 8, &in.scopes) || !r_uint(c, 8, &in.created_seq) ||
		    !r_uint(c, 8, &in.bound_seq))
			return false;
		if ((in.scopes & ~scope_mask) != 0 || in.created_seq == 0 ||
		    in.created_seq > in.bound_seq || in.bound_seq > seq) {
			c->off = wat;
			return r_fail(c, "revocation scopes or sequence numbers out of range");
		}
		if (!pol_rev_restore_entry(r, key, &in)) {
			c->off = at;
			return r_fail(c, "revocation repeated or beyond the state's room");
		}
	}
	return true;
}

bool pol_state_decode(const uint8_t *p, size_t len, const struct pol_state_limits *lim,
		      const struct pol_psl *psl, struct pol_state **out, const char **out_what,
		      size_t *out_offset)
{
	struct cr c = {p, p != NULL && len >= DIGEST_LEN ? len - DIGEST_LEN : 0, 0, NULL, 0};
	uint8_t md[DIGEST_LEN];
	struct pol_state *s = NULL;
	struct pol_state_limits have;
	struct pol_rev_scope_row *scopes = malloc(POL_STATE_MAX_CRL_SCOPES * sizeof(*scopes));
	struct pol_rev_responder_row *resp = malloc(POL_STATE_MAX_RESPONDERS * sizeof(*resp));
	uint8_t magic[CODEC_MAGIC_LEN];
	uint64_t version, flags, seq;
	size_t nsc = 0, nr = 0;
	bool ok = false;

	*out = NULL;
	if (p == NULL || len < HEADER_LEN + DIGEST_LEN) {
		r_fail(&c, "truncated");
		goto out;
	}
	pol_sha256(p, c.len, md);
	if (memcmp(md, p + c.len, DIGEST_LEN) != 0) {
		c.off = c.len;
		r_fail(&c, "SHA-256 does not match: the bytes are damaged or truncated");
		goto out;
	}
	if (scopes == NULL || resp == NULL || !pol_state_new(lim, psl, &s)) {
		r_fail(&c, "out of memory (or limits out of range)");
		goto out;
	}
	pol_state_limits_get(s, &have);
	if (!r_bytes(&c, magic, CODEC_MAGIC_LEN))
		goto out;
	if (memcmp(magic, CODEC_MAGIC, CODEC_MAGIC_LEN) != 0) {
		c.off = 0;
		r_fail(&c, "not a policy state (magic)");
		goto out;
	}
	if (!r_uint(&c, 4, &version))
		goto out;
	if (version != POL_STATE_CODEC_VERSION) {
		c.off -= 4;
		r_fail(&c, "unknown policy state version");
		goto out;
	}
	if (!r_max(&c, 1, CODEC_FLAG_PURGED, "unknown flags", &flags))
		goto out;
	if (flags & CODEC_FLAG_PURGED)
		pol_state_purged_restore(s);
	if (!read_serials(&c, s, have.max_serials) || !read_buckets(&c, s, have.max_buckets) ||
	    !r_uint(&c, 8, &seq) || !read_scopes(&c, seq, scopes, &nsc) ||
	    !read_responders(&c, resp, &nr))
		goto out;
	if (!pol_rev_restore(pol_state_rev_mut(s), seq, scopes, nsc, resp, nr)) {
		r_fail(&c, "revocation state does not fit");
		goto out;
	}
	if (!read_revocations(&c, pol_state_rev_mut(s), seq, nsc))
		goto out;
	if (c.off != c.len) {
		r_fail(&c, "trailing bytes");
		goto out;
	}
	*out = s;
	s = NULL;
	ok = true;
out:
	if (out_what != NULL)
		*out_what = ok ? NULL : c.what;
	if (out_offset != NULL)
		*out_offset = ok ? 0 : c.what_off;
	pol_state_free(s);
	free(scopes);
	free(resp);
	return ok;
}
