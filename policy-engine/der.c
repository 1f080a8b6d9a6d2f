/*
 * der.c - the strict DER cursor (policy.h).  BoringSSL CBS in spirit: every read
 * checks the remaining length first, sub-cursors are outputs, a failed get leaves the
 * cursor where it was and its outputs zeroed, and nothing is allocated.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"

/* The three numbers of a DER header. */
struct hdr {
	uint8_t tag;
	size_t hdr_len;
	size_t body_len;
};

void der_err_init(struct der_err *e, const uint8_t *base)
{
	e->reason = DER_OK;
	e->offset = 0;
	e->field = NULL;
	e->base = base;
}

bool der_fail(struct der_err *e, enum der_reason reason, const uint8_t *at)
{
	if (e == NULL || e->reason != DER_OK)
		return false;
	e->reason = reason;
	if (e->base != NULL && at != NULL && at >= e->base)
		e->offset = (size_t)(at - e->base);
	return false;
}

static const char *const reason_str[DER_REASON_MAX + 1] = {
	[DER_OK] = "no error",
	[DER_E_TRUNCATED] = "element runs past the end of its container",
	[DER_E_INDEFINITE] = "indefinite length (BER, not DER)",
	[DER_E_LEN_NONMINIMAL] = "length not in its shortest form (BER, not DER)",
	[DER_E_LEN_TOO_LONG] = "length field too long",
	[DER_E_HIGH_TAG] = "high tag number where the grammar has none",
	[DER_E_TAG] = "unexpected element",
	[DER_E_CONSTRUCTED] = "constructed and primitive encodings confused",
	[DER_E_TRAILING] = "trailing bytes after the last element",
	[DER_E_DEPTH] = "elements nested too deeply",
	[DER_E_SIZE] = "input too large",
	[DER_E_INT_NONMINIMAL] = "INTEGER not in its shortest form",
	[DER_E_INT_EMPTY] = "INTEGER with no content",
	[DER_E_INT_NEGATIVE] = "negative INTEGER where a non-negative one is required",
	[DER_E_INT_RANGE] = "INTEGER too large for its field",
	[DER_E_BOOLEAN] = "BOOLEAN other than 00 or FF",
	[DER_E_NULL] = "NULL with content",
	[DER_E_OID] = "malformed OBJECT IDENTIFIER",
	[DER_E_BIT_STRING] = "malformed BIT STRING (unused bits)",
	[DER_E_TIME] = "time not in the RFC 5280 form (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)",
	[DER_E_TIME_TYPE] = "GeneralizedTime before 2050 (RFC 5280 requires UTCTime)",
	[DER_E_STRING] = "character not allowed in its string type",
	[DER_E_DEFAULT] = "DEFAULT value encoded explicitly (BER, not DER)",
	[DER_E_SET_ORDER] = "SET OF elements not in DER order",
	[DER_E_EMPTY] = "empty list where at least one element is required",
	[DER_E_COUNT] = "more elements than Warden accepts",
	[DER_E_DUPLICATE] = "the same extension appears twice",
	[DER_E_VERSION] = "version unknown or not allowing these fields",
	[DER_E_ALG_PARAMS] = "algorithm parameters wrong for the algorithm",
	[DER_E_KEY] = "public key malformed for its algorithm",
	[DER_E_VALUE] = "value outside the grammar",
	[DER_E_CT_POISON] = "CT poison extension not critical or not NULL",
	[DER_E_ARG] = "invalid argument",
};

const char *der_reason_str(enum der_reason reason)
{
	if ((unsigned)reason > DER_REASON_MAX || reason_str[reason] == NULL)
		return "unknown reason";
	return reason_str[reason];
}

void der_cur_init(struct der_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = len;
}

bool der_cur_empty(const struct der_cur *c)
{
	return c->len == 0;
}

bool der_done(const struct der_cur *c, struct der_err *e)
{
	if (c->len != 0)
		return der_fail(e, DER_E_TRAILING, c->p);
	return true;
}

bool der_cur_eq(const struct der_cur *a, const struct der_cur *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

bool der_cur_eq_bytes(const struct der_cur *a, const uint8_t *p, size_t len)
{
	return a->len == len && (len == 0 || memcmp(a->p, p, len) == 0);
}

/* Parses the header at c (the cursor does not move). */
static bool parse_header(const struct der_cur *c, struct hdr *h, struct der_err *e)
{
	memset(h, 0, sizeof(*h));
	if (c->len < 2)
		return der_fail(e, DER_E_TRUNCATED, c->p);
	uint8_t tag = c->p[0];
	if ((tag & 0x1fu) == 0x1fu)
		return der_fail(e, DER_E_HIGH_TAG, c->p);
	uint8_t l0 = c->p[1];
	size_t hdr_len = 2;
	size_t body_len;
	if (l0 < 0x80u) {
		body_len = l0;
	} else if (l0 == 0x80u) {
		return der_fail(e, DER_E_INDEFINITE, c->p);
	} else {
		size_t n = l0 & 0x7fu;
		if (n > DER_MAX_LEN_OCTETS)
			return der_fail(e, DER_E_LEN_TOO_LONG, c->p);
		if (c->len - 2 < n)
			return der_fail(e, DER_E_TRUNCATED, c->p);
		if (c->p[2] == 0)
			return der_fail(e, DER_E_LEN_NONMINIMAL, c->p);
		body_len = 0;
		for (size_t i = 0; i < n; i++)
			body_len = (body_len << 8) | c->p[2 + i];
		if (body_len < 0x80u)
			return der_fail(e, DER_E_LEN_NONMINIMAL, c->p);
		hdr_len += n;
	}
	if (body_len > c->len - hdr_len)
		return der_fail(e, DER_E_TRUNCATED, c->p);
	h->tag = tag;
	h->hdr_len = hdr_len;
	h->body_len = body_len;
	return true;
}

bool der_peek_tag(const struct der_cur *c, uint8_t *out_tag)
{
	*out_tag = 0;
	if (c->len < 1 || (c->p[0] & 0x1fu) == 0x1fu)
		return false;
	*out_tag = c->p[0];
	return true;
}

bool der_get_any(struct der_cur *c, uint8_t *out_tag, struct der_cur *out_tlv,
		 size_t *out_hdr_len, struct der_err *e)
{
	struct hdr h;
	if (out_tag != NULL)
		*out_tag = 0;
	if (out_tlv != NULL)
		der_cur_init(out_tlv, NULL, 0);
	if (out_hdr_len != NULL)
		*out_hdr_len = 0;
	if (!parse_header(c, &h, e))
		return false;
	if (out_tag != NULL)
		*out_tag = h.tag;
	if (out_tlv != NULL)
		der_cur_init(out_tlv, c->p, h.hdr_len + h.body_len);
	if (out_hdr_len != NULL)
		*out_hdr_len = h.hdr_len;
	c->p += h.hdr_len + h.body_len;
	c->len -= h.hdr_len + h.body_len;
	return true;
}

bool der_get_tlv(struct der_cur *c, uint8_t tag, struct der_cur *out, size_t *out_hdr_len,
		 struct der_err *e)
{
	/* out may alias c: compute first, write last. */
	struct hdr h;
	struct der_cur res = {NULL, 0};
	bool ok = parse_header(c, &h, e);
	if (ok && h.tag != tag) {
		ok = der_fail(e, (h.tag ^ tag) == DER_CONSTRUCTED ? DER_E_CONSTRUCTED : DER_E_TAG,
			      c->p);
	}
	if (ok) {
		der_cur_init(&res, c->p, h.hdr_len + h.body_len);
		c->p += res.len;
		c->len -= res.len;
	}
	if (out_hdr_len != NULL)
		*out_hdr_len = ok ? h.hdr_len : 0;
	*out = res;
	return ok;
}

bool der_get(struct der_cur *c, uint8_t tag, struct der_cur *out, struct der_err *e)
{
	size_t hdr_len;
	struct der_cur tlv;
	bool ok = der_get_tlv(c, tag, &tlv, &hdr_len, e);
	if (ok) {
		tlv.p += hdr_len;
		tlv.len -= hdr_len;
	}
	*out = tlv;
	return ok;
}

bool der_get_optional(struct der_cur *c, uint8_t tag, struct der_cur *out, bool *out_present,
		      struct der_err *e)
{
	uint8_t t;
	*out_present = false;
	der_cur_init(out, NULL, 0);
	if (!der_peek_tag(c, &t) || t != tag)
		return true;
	if (!der_get(c, tag, out, e))
		return false;
	*out_present = true;
	return true;
}

bool der_skip_any(struct der_cur *c, struct der_err *e)
{
	return der_get_any(c, NULL, NULL, NULL, e);
}

/* --- INTEGER, BOOLEAN, NULL, OID ------------------------------------------------- */

bool der_int_is_minimal(const struct der_cur *v)
{
	if (v->len == 0)
		return false;
	if (v->len >= 2) {
		if (v->p[0] == 0x00 && (v->p[1] & 0x80u) == 0)
			return false;
		if (v->p[0] == 0xff && (v->p[1] & 0x80u) != 0)
			return false;
	}
	return true;
}

bool der_int_is_negative(const struct der_cur *v)
{
	return v->len > 0 && (v->p[0] & 0x80u) != 0;
}

bool der_int_is_positive(const struct der_cur *v)
{
	if (v->len == 0 || der_int_is_negative(v))
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (v->p[i] != 0)
			return true;
	return false;
}

struct der_cur der_int_magnitude(const struct der_cur *v)
{
	struct der_cur m = *v;
	if (m.len > 1 && m.p[0] == 0) {
		m.p++;
		m.len--;
	}
	return m;
}

bool der_get_int_bytes(struct der_cur *c, uint8_t tag, struct der_cur *out, struct der_err *e)
{
	struct der_cur save = *c;
	if (!der_get(c, tag, out, e))
		return false;
	if (out->len == 0 || !der_int_is_minimal(out)) {
		enum der_reason r = out->len == 0 ? DER_E_INT_EMPTY : DER_E_INT_NONMINIMAL;
		*c = save;
		der_cur_init(out, NULL, 0);
		return der_fail(e, r, save.p);
	}
	return true;
}

static bool get_u64_tagged(struct der_cur *c, uint8_t tag, uint64_t *out, struct der_err *e)
{
	struct der_cur save = *c, v;
	*out = 0;
	if (!der_get_int_bytes(c, tag, &v, e))
		return false;
	if (der_int_is_negative(&v)) {
		*c = save;
		return der_fail(e, DER_E_INT_NEGATIVE, save.p);
	}
	struct der_cur m = der_int_magnitude(&v);
	if (m.len > sizeof(uint64_t)) {
		*c = save;
		return der_fail(e, DER_E_INT_RANGE, save.p);
	}
	uint64_t x = 0;
	for (size_t i = 0; i < m.len; i++)
		x = (x << 8) | m.p[i];
	*out = x;
	return true;
}

bool der_get_u64(struct der_cur *c, uint64_t *out, struct der_err *e)
{
	return get_u64_tagged(c, DER_INTEGER, out, e);
}

bool der_get_enum(struct der_cur *c, uint64_t *out, struct der_err *e)
{
	return get_u64_tagged(c, DER_ENUMERATED, out, e);
}

bool der_get_bool(struct der_cur *c, bool *out, struct der_err *e)
{
	struct der_cur save = *c, v;
	*out = false;
	if (!der_get(c, DER_BOOLEAN, &v, e))
		return false;
	if (v.len != 1 || (v.p[0] != 0x00 && v.p[0] != 0xff)) {
		*c = save;
		return der_fail(e, DER_E_BOOLEAN, save.p);
	}
	*out = v.p[0] == 0xff;
	return true;
}

bool der_get_null(struct der_cur *c, struct der_err *e)
{
	struct der_cur save = *c, v;
	if (!der_get(c, DER_NULL, &v, e))
		return false;
	if (v.len != 0) {
		*c = save;
		return der_fail(e, DER_E_NULL, save.p);
	}
	return true;
}

bool der_oid_is_valid(const struct der_cur *v)
{
	if (v->len == 0 || v->len > DER_MAX_OID_LEN)
		return false;
	bool start = true;
	for (size_t i = 0; i < v->len; i++) {
		if (start && v->p[i] == 0x80u)
			return false; /* leading 0x80: non-minimal sub-identifier */
		start = (v->p[i] & 0x80u) == 0;
	}
	return start; /* the last octet ends a sub-identifier */
}

bool der_get_oid(struct der_cur *c, struct der_cur *out, struct der_err *e)
{
	struct der_cur save = *c;
	if (!der_get(c, DER_OID, out, e))
		return false;
	if (!der_oid_is_valid(out)) {
		*c = save;
		der_cur_init(out, NULL, 0);
		return der_fail(e, DER_E_OID, save.p);
	}
	return true;
}

bool der_oid_to_text(const struct der_cur *oid, char *buf, size_t buf_len)
{
	if (buf_len == 0)
		return false;
	buf[0] = '\0';
	if (!der_oid_is_valid(oid))
		return false;
	size_t pos = 0;
	uint64_t v = 0;
	bool first = true;
	for (size_t i = 0; i < oid->len; i++) {
		if (v > (UINT64_MAX >> 7))
			return false;
		v = (v << 7) | (oid->p[i] & 0x7fu);
		if (oid->p[i] & 0x80u)
			continue;
		int n;
		if (first) {
			unsigned arc = v < 40 ? 0 : v < 80 ? 1 : 2;
			n = snprintf(buf + pos, buf_len - pos, "%u.%llu", arc,
				     (unsigned long long)(v - 40u * arc));
			first = false;
		} else {
			n = snprintf(buf + pos, buf_len - pos, ".%llu", (unsigned long long)v);
		}
		if (n < 0 || (size_t)n >= buf_len - pos) {
			buf[0] = '\0';
			return false;
		}
		pos += (size_t)n;
		v = 0;
	}
	return true;
}

/* --- BIT STRING, OCTET STRING ------------------------------------------------------ */

bool der_get_bit_string(struct der_cur *c, uint8_t tag, struct der_cur *out, unsigned *out_unused,
			struct der_err *e)
{
	struct der_cur save = *c, v;
	der_cur_init(out, NULL, 0);
	*out_unused = 0;
	if (!der_get(c, tag, &v, e))
		return false;
	if (v.len == 0 || v.p[0] > 7 || (v.len == 1 && v.p[0] != 0) ||
	    (v.len > 1 && (v.p[v.len - 1] & ((1u << v.p[0]) - 1u)) != 0)) {
		*c = save;
		return der_fail(e, DER_E_BIT_STRING, save.p);
	}
	*out_unused = v.p[0];
	der_cur_init(out, v.p + 1, v.len - 1);
	return true;
}

bool der_get_bit_string_octets(struct der_cur *c, struct der_cur *out, struct der_err *e)
{
	struct der_cur save = *c;
	unsigned unused;
	if (!der_get_bit_string(c, DER_BIT_STRING, out, &unused, e))
		return false;
	if (unused != 0) {
		*c = save;
		der_cur_init(out, NULL, 0);
		return der_fail(e, DER_E_BIT_STRING, save.p);
	}
	return true;
}

bool der_get_named_bits(struct der_cur *c, uint8_t tag, uint32_t *out_bits, struct der_err *e)
{
	struct der_cur save = *c, v;
	unsigned unused;
	*out_bits = 0;
	if (!der_get_bit_string(c, tag, &v, &unused, e))
		return false;
	/* X.690 11.2.2: a named bit list has no trailing zero bits. */
	if (v.len > 0 && (v.p[v.len - 1] & (1u << unused)) == 0) {
		*c = save;
		return der_fail(e, DER_E_BIT_STRING, save.p);
	}
	if (v.len > sizeof(uint32_t)) {
		*c = save;
		return der_fail(e, DER_E_VALUE, save.p);
	}
	uint32_t bits = 0;
	for (size_t i = 0; i < v.len * 8; i++)
		if (v.p[i / 8] & (0x80u >> (i % 8)))
			bits |= 1u << i;
	*out_bits = bits;
	return true;
}

bool der_get_octet_string(struct der_cur *c, struct der_cur *out, struct der_err *e)
{
	return der_get(c, DER_OCTET_STRING, out, e);
}

/* --- times ----------------------------------------------------------------------- */

static bool digits(const uint8_t *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* MMDDHHMMSSZ after the year. */
static bool finish_time(unsigned year, const uint8_t *s, int64_t *out)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned mon, day, hh, mm, ss;
	if (!digits(s, 2, &mon) || !digits(s + 2, 2, &day) || !digits(s + 4, 2, &hh) ||
	    !digits(s + 6, 2, &mm) || !digits(s + 8, 2, &ss) || s[10] != 'Z')
		return false;
	if (mon < 1 || mon > 12 || day < 1 || hh > 23 || mm > 59 || ss > 59)
		return false;
	unsigned dim = mdays[mon - 1] + (mon == 2 && is_leap(year) ? 1u : 0u);
	if (day > dim)
		return false;
	*out = days_from_civil(year, mon, day) * 86400 + (int64_t)hh * 3600 + mm * 60 + ss;
	return true;
}

#define UTC_TIME_LEN 13u
#define GENERALIZED_TIME_LEN 15u
#define RFC5280_GENERALIZED_FROM 2050u

bool der_parse_utc_time(const uint8_t *s, size_t len, int64_t *out)
{
	unsigned yy;
	*out = 0;
	if (len != UTC_TIME_LEN || !digits(s, 2, &yy))
		return false;
	return finish_time(yy >= 50 ? 1900 + yy : 2000 + yy, s + 2, out);
}

bool der_parse_generalized_time(const uint8_t *s, size_t len, int64_t *out)
{
	unsigned yyyy;
	*out = 0;
	if (len != GENERALIZED_TIME_LEN || !digits(s, 4, &yyyy))
		return false;
	return finish_time(yyyy, s + 4, out);
}

bool der_get_generalized_time(struct der_cur *c, uint8_t tag, int64_t *out, struct der_err *e)
{
	struct der_cur save = *c, v;
	*out = 0;
	if (!der_get(c, tag, &v, e))
		return false;
	if (!der_parse_generalized_time(v.p, v.len, out)) {
		*c = save;
		return der_fail(e, DER_E_TIME, save.p);
	}
	return true;
}

bool der_get_time(struct der_cur *c, int64_t *out, struct der_err *e)
{
	struct der_cur save = *c, v;
	uint8_t tag;
	*out = 0;
	if (!der_peek_tag(c, &tag) || (tag != DER_UTC_TIME && tag != DER_GENERALIZED_TIME)) {
		if (tag == (DER_UTC_TIME | DER_CONSTRUCTED) ||
		    tag == (DER_GENERALIZED_TIME | DER_CONSTRUCTED))
			return der_fail(e, DER_E_CONSTRUCTED, c->p);
		/* Let the header checks speak first (high tag, truncation...). */
		struct der_cur probe = *c;
		if (!der_skip_any(&probe, e))
			return false;
		return der_fail(e, DER_E_TAG, c->p);
	}
	if (!der_get(c, tag, &v, e))
		return false;
	bool ok;
	if (tag == DER_UTC_TIME) {
		ok = der_parse_utc_time(v.p, v.len, out);
	} else {
		unsigned yyyy;
		ok = der_parse_generalized_time(v.p, v.len, out);
		if (ok && digits(v.p, 4, &yyyy) && yyyy < RFC5280_GENERALIZED_FROM) {
			*c = save;
			*out = 0;
			return der_fail(e, DER_E_TIME_TYPE, save.p);
		}
	}
	if (!ok) {
		*c = save;
		return der_fail(e, DER_E_TIME, save.p);
	}
	return true;
}

/* --- strings --------------------------------------------------------------------- */

bool der_is_string_tag(uint8_t tag)
{
	switch (tag) {
	case DER_UTF8_STRING:
	case DER_NUMERIC_STRING:
	case DER_PRINTABLE_STRING:
	case DER_T61_STRING:
	case DER_IA5_STRING:
	case DER_VISIBLE_STRING:
	case DER_UNIVERSAL_STRING:
	case DER_BMP_STRING:
		return true;
	default:
		return false;
	}
}

static bool printable_char(uint8_t ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr(" '()+,-./:=?", ch) != NULL;
}

static bool utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0u) == 0xc0u) {
			n = 1;
			cp = b & 0x1fu;
		} else if ((b & 0xf0u) == 0xe0u) {
			n = 2;
			cp = b & 0x0fu;
		} else if ((b & 0xf8u) == 0xf0u) {
			n = 3;
			cp = b & 0x07u;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0u) != 0x80u)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < min_cp[n] || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu))
			return false;
		i += n + 1;
	}
	return true;
}

bool der_string_is_valid(uint8_t tag, const struct der_cur *v)
{
	switch (tag) {
	case DER_PRINTABLE_STRING:
		for (size_t i = 0; i < v->len; i++)
			if (!printable_char(v->p[i]))
				return false;
		return true;
	case DER_IA5_STRING:
		for (size_t i = 0; i < v->len; i++)
			if (v->p[i] >= 0x80u)
				return false;
		return true;
	case DER_VISIBLE_STRING:
		for (size_t i = 0; i < v->len; i++)
			if (v->p[i] < 0x20u || v->p[i] > 0x7eu)
				return false;
		return true;
	case DER_NUMERIC_STRING:
		for (size_t i = 0; i < v->len; i++)
			if (v->p[i] != ' ' && (v->p[i] < '0' || v->p[i] > '9'))
				return false;
		return true;
	case DER_UTF8_STRING:
		return utf8_valid(v->p, v->len);
	case DER_BMP_STRING:
		return v->len % 2 == 0;
	case DER_UNIVERSAL_STRING:
		return v->len % 4 == 0;
	case DER_T61_STRING:
		return true;
	default:
		return false;
	}
}

bool der_get_string(struct der_cur *c, uint8_t *out_tag, struct der_cur *out, struct der_err *e)
{
	uint8_t tag = 0;
	struct der_cur save = *c;
	*out_tag = 0;
	der_cur_init(out, NULL, 0);
	(void)der_peek_tag(c, &tag);
	if (!der_is_string_tag(tag & (uint8_t)~DER_CONSTRUCTED)) {
		struct der_cur probe = *c;
		if (!der_skip_any(&probe, e))
			return false;
		return der_fail(e, DER_E_TAG, c->p);
	}
	if (!der_get(c, tag & (uint8_t)~DER_CONSTRUCTED, out, e))
		return false;
	if (!der_string_is_valid(tag, out)) {
		*c = save;
		der_cur_init(out, NULL, 0);
		return der_fail(e, DER_E_STRING, save.p);
	}
	*out_tag = tag;
	return true;
}

bool der_get_ia5(struct der_cur *c, uint8_t tag, struct der_cur *out, struct der_err *e)
{
	struct der_cur save = *c;
	if (!der_get(c, tag, out, e))
		return false;
	if (!der_string_is_valid(DER_IA5_STRING, out)) {
		*c = save;
		der_cur_init(out, NULL, 0);
		return der_fail(e, DER_E_STRING, save.p);
	}
	return true;
}

/* --- generic walk ------------------------------------------------------------------ */

static bool validate_elements(struct der_cur c, unsigned depth, unsigned max_depth,
			      struct der_err *e)
{
	while (!der_cur_empty(&c)) {
		const uint8_t *at = c.p;
		uint8_t tag;
		struct der_cur tlv;
		size_t hl;
		if (!der_get_any(&c, &tag, &tlv, &hl, e))
			return false;
		struct der_cur body = {tlv.p + hl, tlv.len - hl};
		bool cons = (tag & DER_CONSTRUCTED) != 0;
		if ((tag & 0xc0u) == 0) { /* universal class */
			unsigned num = tag & 0x1fu;
			if (num == 0)
				return der_fail(e, DER_E_TAG, at);
			bool must_cons = num == 0x10 || num == 0x11;
			if (cons != must_cons)
				return der_fail(e, DER_E_CONSTRUCTED, at);
			struct der_cur one = tlv;
			bool ok = true;
			bool b;
			struct der_cur v;
			unsigned unused;
			switch (tag) {
			case DER_BOOLEAN:
				ok = der_get_bool(&one, &b, e);
				break;
			case DER_INTEGER:
			case DER_ENUMERATED:
				ok = der_get_int_bytes(&one, tag, &v, e);
				break;
			case DER_NULL:
				ok = der_get_null(&one, e);
				break;
			case DER_OID:
				ok = der_get_oid(&one, &v, e);
				break;
			case DER_BIT_STRING:
				ok = der_get_bit_string(&one, tag, &v, &unused, e);
				break;
			default:
				break;
			}
			if (!ok)
				return false;
		}
		if (cons) {
			if (depth + 1 > max_depth)
				return der_fail(e, DER_E_DEPTH, at);
			if (!validate_elements(body, depth + 1, max_depth, e))
				return false;
		}
	}
	return true;
}

bool der_validate(const uint8_t *data, size_t len, unsigned max_depth, bool single,
		  struct der_err *e)
{
	struct der_cur c;
	if (data == NULL && len != 0)
		return der_fail(e, DER_E_ARG, NULL);
	if (len > DER_MAX_INPUT)
		return der_fail(e, DER_E_SIZE, data);
	if (max_depth > DER_MAX_DEPTH)
		max_depth = DER_MAX_DEPTH;
	der_cur_init(&c, data, len);
	if (single) {
		struct der_cur one = c;
		if (!der_skip_any(&one, e) || !der_done(&one, e))
			return false;
	}
	return validate_elements(c, 0, max_depth, e);
}
