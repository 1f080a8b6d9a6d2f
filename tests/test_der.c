/*
 * test_der.c - the strict DER cursor (policy-engine/der.c).
 *
 * Every encoding violation the cursor refuses, each with its reason code and offset,
 * from hand-written hex vectors; and every accepted form.
 */
#include "policy.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VEC 512u

enum op {
	OP_ANY,      /* der_get_any then der_done */
	OP_SEQ,      /* der_get SEQUENCE then der_done */
	OP_OCTETS,   /* der_get_octet_string */
	OP_INT,      /* der_get_int_bytes */
	OP_U64,
	OP_BOOL,
	OP_NULL,
	OP_OID,
	OP_BITS,     /* der_get_bit_string */
	OP_BITS_OCT, /* der_get_bit_string_octets */
	OP_NAMED,    /* der_get_named_bits */
	OP_TIME,     /* der_get_time (RFC 5280) */
	OP_GENTIME,  /* der_get_generalized_time (any year) */
	OP_STRING,
	OP_VALIDATE, /* der_validate, single element */
};

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		unsigned v;
		ck_assert_msg(sscanf(hex, "%2x", &v) == 1, "bad hex in test vector");
		ck_assert_uint_lt(n, MAX_VEC);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Runs op over the vector; returns the reason, the offset and a value. */
static enum der_reason run(enum op op, const char *hex, size_t *out_offset, int64_t *out_value)
{
	static uint8_t buf[MAX_VEC];
	size_t len = unhex(hex, buf);
	struct der_cur c, v;
	struct der_err e;
	uint8_t tag;
	uint64_t u = 0;
	bool b = false, ok = false;
	unsigned unused;
	uint32_t bits = 0;
	int64_t t = 0;
	der_err_init(&e, buf);
	der_cur_init(&c, buf, len);
	switch (op) {
	case OP_ANY: ok = der_get_any(&c, &tag, &v, NULL, &e) && der_done(&c, &e); break;
	case OP_SEQ: ok = der_get(&c, DER_SEQUENCE, &v, &e) && der_done(&c, &e); break;
	case OP_OCTETS: ok = der_get_octet_string(&c, &v, &e) && der_done(&c, &e); break;
	case OP_INT: ok = der_get_int_bytes(&c, DER_INTEGER, &v, &e) && der_done(&c, &e); break;
	case OP_U64: ok = der_get_u64(&c, &u, &e) && der_done(&c, &e); t = (int64_t)u; break;
	case OP_BOOL: ok = der_get_bool(&c, &b, &e) && der_done(&c, &e); t = b; break;
	case OP_NULL: ok = der_get_null(&c, &e) && der_done(&c, &e); break;
	case OP_OID: ok = der_get_oid(&c, &v, &e) && der_done(&c, &e); break;
	case OP_BITS:
		ok = der_get_bit_string(&c, DER_BIT_STRING, &v, &unused, &e) && der_done(&c, &e);
		t = unused;
		break;
	case OP_BITS_OCT: ok = der_get_bit_string_octets(&c, &v, &e) && der_done(&c, &e); break;
	case OP_NAMED:
		ok = der_get_named_bits(&c, DER_BIT_STRING, &bits, &e) && der_done(&c, &e);
		t = bits;
		break;
	case OP_TIME: ok = der_get_time(&c, &t, &e) && der_done(&c, &e); break;
	case OP_GENTIME:
		ok = der_get_generalized_time(&c, DER_GENERALIZED_TIME, &t, &e) && der_done(&c, &e);
		break;
	case OP_STRING: ok = der_get_string(&c, &tag, &v, &e) && der_done(&c, &e); break;
	case OP_VALIDATE: ok = der_validate(buf, len, DER_MAX_DEPTH, true, &e); break;
	}
	ck_assert_int_eq(ok, e.reason == DER_OK);
	if (out_offset)
		*out_offset = e.offset;
	if (out_value)
		*out_value = t;
	return e.reason;
}

static void reject_at(enum op op, const char *hex, enum der_reason want, size_t want_off)
{
	size_t off;
	enum der_reason r = run(op, hex, &off, NULL);
	ck_assert_msg(r == want, "%s: reason %d (%s), wanted %d (%s)", hex, r, der_reason_str(r),
		      want, der_reason_str(want));
	ck_assert_msg(off == want_off, "%s: offset %zu, wanted %zu", hex, off, want_off);
}

static void accept(enum op op, const char *hex, int64_t want_value)
{
	int64_t val;
	enum der_reason r = run(op, hex, NULL, &val);
	ck_assert_msg(r == DER_OK, "%s: refused: %s", hex, der_reason_str(r));
	ck_assert_msg(val == want_value, "%s: value %lld, wanted %lld", hex, (long long)val,
		      (long long)want_value);
}

#define REJECT(name, op, hex, reason, off) \
	START_TEST(name) { reject_at(op, hex, reason, off); } END_TEST
#define ACCEPT(name, op, hex, value) \
	START_TEST(name) { accept(op, hex, value); } END_TEST

/* --- lengths and tags ---------------------------------------------------------------- */
REJECT(test_der_rejects_indefinite_length, OP_SEQ, "30 80 05 00 00 00", DER_E_INDEFINITE, 0)
REJECT(test_der_rejects_long_form_below_128, OP_OCTETS, "04 81 01 aa", DER_E_LEN_NONMINIMAL, 0)
REJECT(test_der_rejects_length_with_leading_zero, OP_OCTETS, "04 82 00 80", DER_E_LEN_NONMINIMAL, 0)
REJECT(test_der_rejects_length_past_end, OP_OCTETS, "04 05 aa bb", DER_E_TRUNCATED, 0)
REJECT(test_der_rejects_long_length_past_end, OP_OCTETS, "04 82 01 00 aa", DER_E_TRUNCATED, 0)
REJECT(test_der_rejects_length_field_too_long, OP_OCTETS, "04 85 01 00 00 00 00", DER_E_LEN_TOO_LONG, 0)
REJECT(test_der_rejects_reserved_length_ff, OP_OCTETS, "04 ff", DER_E_LEN_TOO_LONG, 0)
REJECT(test_der_rejects_truncated_length_octets, OP_OCTETS, "04 82 01", DER_E_TRUNCATED, 0)
REJECT(test_der_rejects_header_only_tag, OP_ANY, "30", DER_E_TRUNCATED, 0)
REJECT(test_der_rejects_empty_input, OP_ANY, "", DER_E_TRUNCATED, 0)
REJECT(test_der_rejects_high_tag_number_universal, OP_ANY, "1f 81 01 00", DER_E_HIGH_TAG, 0)
REJECT(test_der_rejects_high_tag_number_context, OP_ANY, "bf 1f 00", DER_E_HIGH_TAG, 0)
REJECT(test_der_rejects_trailing_bytes, OP_ANY, "05 00 00", DER_E_TRAILING, 2)
REJECT(test_der_rejects_trailing_bytes_in_sequence_reader, OP_SEQ, "30 00 01", DER_E_TRAILING, 2)
REJECT(test_der_rejects_primitive_sequence, OP_SEQ, "10 00", DER_E_CONSTRUCTED, 0)
REJECT(test_der_rejects_constructed_octet_string, OP_OCTETS, "24 02 04 00", DER_E_CONSTRUCTED, 0)
REJECT(test_der_rejects_wrong_tag, OP_SEQ, "31 00", DER_E_TAG, 0)

/* --- INTEGER ----------------------------------------------------------------------- */
REJECT(test_der_rejects_empty_integer, OP_INT, "02 00", DER_E_INT_EMPTY, 0)
REJECT(test_der_rejects_integer_leading_zero, OP_INT, "02 02 00 7f", DER_E_INT_NONMINIMAL, 0)
REJECT(test_der_rejects_integer_leading_ff, OP_INT, "02 02 ff 80", DER_E_INT_NONMINIMAL, 0)
REJECT(test_der_rejects_negative_u64, OP_U64, "02 01 80", DER_E_INT_NEGATIVE, 0)
REJECT(test_der_rejects_u64_overflow, OP_U64, "02 09 01 00 00 00 00 00 00 00 00", DER_E_INT_RANGE, 0)
REJECT(test_der_rejects_constructed_integer, OP_INT, "22 03 02 01 01", DER_E_CONSTRUCTED, 0)
ACCEPT(test_der_accepts_integer_zero, OP_U64, "02 01 00", 0)
ACCEPT(test_der_accepts_integer_128_with_sign_octet, OP_U64, "02 02 00 80", 128)
ACCEPT(test_der_accepts_u64_max, OP_U64, "02 09 00 ff ff ff ff ff ff ff ff", -1)
ACCEPT(test_der_accepts_negative_integer_bytes, OP_INT, "02 02 ff 7f", 0)

/* --- BOOLEAN, NULL, OID -------------------------------------------------------------- */
REJECT(test_der_rejects_boolean_01, OP_BOOL, "01 01 01", DER_E_BOOLEAN, 0)
REJECT(test_der_rejects_boolean_two_octets, OP_BOOL, "01 02 00 00", DER_E_BOOLEAN, 0)
REJECT(test_der_rejects_boolean_empty, OP_BOOL, "01 00", DER_E_BOOLEAN, 0)
ACCEPT(test_der_accepts_boolean_false, OP_BOOL, "01 01 00", 0)
ACCEPT(test_der_accepts_boolean_true, OP_BOOL, "01 01 ff", 1)
REJECT(test_der_rejects_null_with_content, OP_NULL, "05 01 00", DER_E_NULL, 0)
ACCEPT(test_der_accepts_null, OP_NULL, "05 00", 0)
REJECT(test_der_rejects_empty_oid, OP_OID, "06 00", DER_E_OID, 0)
REJECT(test_der_rejects_oid_ending_in_continuation, OP_OID, "06 02 2a 86", DER_E_OID, 0)
REJECT(test_der_rejects_oid_nonminimal_subidentifier, OP_OID, "06 03 2a 80 01", DER_E_OID, 0)
ACCEPT(test_der_accepts_oid, OP_OID, "06 03 55 1d 11", 0)

/* --- BIT STRING ---------------------------------------------------------------------- */
REJECT(test_der_rejects_empty_bit_string, OP_BITS, "03 00", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_unused_bits_over_7, OP_BITS, "03 02 08 00", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_unused_bits_without_octets, OP_BITS, "03 01 01", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_nonzero_unused_bits, OP_BITS, "03 02 01 01", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_key_bit_string_with_unused_bits, OP_BITS_OCT, "03 02 01 02", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_named_bits_trailing_zero, OP_NAMED, "03 02 00 80", DER_E_BIT_STRING, 0)
REJECT(test_der_rejects_constructed_bit_string, OP_BITS, "23 00", DER_E_CONSTRUCTED, 0)
ACCEPT(test_der_accepts_empty_bit_string_zero_unused, OP_BITS, "03 01 00", 0)
ACCEPT(test_der_accepts_bit_string_with_unused, OP_BITS, "03 02 07 80", 7)
ACCEPT(test_der_accepts_named_bits, OP_NAMED, "03 02 05 a0", 5)
ACCEPT(test_der_accepts_named_bits_second_octet, OP_NAMED, "03 03 07 00 80", 256)

/* --- times ----------------------------------------------------------------------------- */
/* "250101000000Z" */
ACCEPT(test_der_accepts_utctime, OP_TIME, "17 0d 32 35 30 31 30 31 30 30 30 30 30 30 5a", 1735689600)
/* "500101000000Z" is 1950 */
ACCEPT(test_der_accepts_utctime_1950, OP_TIME, "17 0d 35 30 30 31 30 31 30 30 30 30 30 30 5a", -631152000)
/* "491231235959Z" is 2049 */
ACCEPT(test_der_accepts_utctime_2049, OP_TIME, "17 0d 34 39 31 32 33 31 32 33 35 39 35 39 5a", 2524607999)
/* "240229000000Z" leap day */
ACCEPT(test_der_accepts_leap_day, OP_TIME, "17 0d 32 34 30 32 32 39 30 30 30 30 30 30 5a", 1709164800)
/* GeneralizedTime "20500101000000Z" */
ACCEPT(test_der_accepts_generalized_time_2050, OP_TIME, "18 0f 32 30 35 30 30 31 30 31 30 30 30 30 30 30 5a", 2524608000)
/* GeneralizedTime "20491231235959Z": RFC 5280 wants UTCTime */
REJECT(test_der_rejects_generalized_time_before_2050, OP_TIME, "18 0f 32 30 34 39 31 32 33 31 32 33 35 39 35 39 5a", DER_E_TIME_TYPE, 0)
/* OCSP: GeneralizedTime "19990101000000Z" of any year */
ACCEPT(test_der_accepts_ocsp_generalized_time_any_year, OP_GENTIME, "18 0f 31 39 39 39 30 31 30 31 30 30 30 30 30 30 5a", 915148800)
/* "2501010000Z": no seconds */
REJECT(test_der_rejects_utctime_without_seconds, OP_TIME, "17 0b 32 35 30 31 30 31 30 30 30 30 5a", DER_E_TIME, 0)
/* "250101000000+": no Z */
REJECT(test_der_rejects_utctime_without_z, OP_TIME, "17 0d 32 35 30 31 30 31 30 30 30 30 30 30 2b", DER_E_TIME, 0)
/* "250101000000+0100": offset */
REJECT(test_der_rejects_utctime_with_offset, OP_TIME, "17 11 32 35 30 31 30 31 30 30 30 30 30 30 2b 30 31 30 30", DER_E_TIME, 0)
/* "20500101000000.5Z": fractional seconds */
REJECT(test_der_rejects_fractional_seconds, OP_TIME, "18 11 32 30 35 30 30 31 30 31 30 30 30 30 30 30 2e 35 5a", DER_E_TIME, 0)
/* "230229000000Z": no such day */
REJECT(test_der_rejects_feb_29_outside_leap_year, OP_TIME, "17 0d 32 33 30 32 32 39 30 30 30 30 30 30 5a", DER_E_TIME, 0)
/* "251301000000Z": month 13 */
REJECT(test_der_rejects_month_13, OP_TIME, "17 0d 32 35 31 33 30 31 30 30 30 30 30 30 5a", DER_E_TIME, 0)
/* "250101240000Z": hour 24 */
REJECT(test_der_rejects_hour_24, OP_TIME, "17 0d 32 35 30 31 30 31 32 34 30 30 30 30 5a", DER_E_TIME, 0)
/* "250101000060Z": leap second */
REJECT(test_der_rejects_second_60, OP_TIME, "17 0d 32 35 30 31 30 31 30 30 30 30 36 30 5a", DER_E_TIME, 0)
/* "2501010000 0Z": non-digit */
REJECT(test_der_rejects_non_digit_in_time, OP_TIME, "17 0d 32 35 30 31 30 31 30 30 30 30 20 30 5a", DER_E_TIME, 0)
REJECT(test_der_rejects_constructed_utctime, OP_TIME, "37 00", DER_E_CONSTRUCTED, 0)
REJECT(test_der_rejects_time_of_wrong_type, OP_TIME, "04 00", DER_E_TAG, 0)

/* --- strings ----------------------------------------------------------------------------- */
REJECT(test_der_rejects_at_sign_in_printable_string, OP_STRING, "13 03 61 40 62", DER_E_STRING, 0)
REJECT(test_der_rejects_star_in_printable_string, OP_STRING, "13 01 2a", DER_E_STRING, 0)
REJECT(test_der_rejects_8bit_in_ia5_string, OP_STRING, "16 01 80", DER_E_STRING, 0)
REJECT(test_der_rejects_overlong_utf8, OP_STRING, "0c 02 c0 80", DER_E_STRING, 0)
REJECT(test_der_rejects_utf8_surrogate, OP_STRING, "0c 03 ed a0 80", DER_E_STRING, 0)
REJECT(test_der_rejects_truncated_utf8, OP_STRING, "0c 02 e2 82", DER_E_STRING, 0)
REJECT(test_der_rejects_odd_bmp_string, OP_STRING, "1e 03 00 41 00", DER_E_STRING, 0)
REJECT(test_der_rejects_constructed_string, OP_STRING, "2c 00", DER_E_CONSTRUCTED, 0)
REJECT(test_der_rejects_non_string_as_string, OP_STRING, "02 01 00", DER_E_TAG, 0)
ACCEPT(test_der_accepts_printable_string_full_set, OP_STRING, "13 0f 41 62 20 31 27 28 29 2b 2c 2d 2e 2f 3a 3d 3f", 0)
ACCEPT(test_der_accepts_utf8, OP_STRING, "0c 03 c3 a9 41", 0)
ACCEPT(test_der_accepts_ia5_with_at, OP_STRING, "16 03 61 40 62", 0)

/* --- generic walk ---------------------------------------------------------------------- */
REJECT(test_validate_reports_nested_indefinite_offset, OP_VALIDATE, "30 06 04 00 30 80 00 00", DER_E_INDEFINITE, 4)
REJECT(test_validate_rejects_constructed_octet_string_inside, OP_VALIDATE, "30 02 24 00", DER_E_CONSTRUCTED, 2)
REJECT(test_validate_rejects_primitive_set, OP_VALIDATE, "30 02 11 00", DER_E_CONSTRUCTED, 2)
REJECT(test_validate_rejects_end_of_contents_tag, OP_VALIDATE, "30 02 00 00", DER_E_TAG, 2)
REJECT(test_validate_rejects_nonminimal_integer_inside, OP_VALIDATE, "30 04 02 02 00 01", DER_E_INT_NONMINIMAL, 2)
REJECT(test_validate_rejects_bad_boolean_inside, OP_VALIDATE, "a0 03 01 01 01", DER_E_BOOLEAN, 2)
REJECT(test_validate_rejects_two_elements_when_single, OP_VALIDATE, "05 00 05 00", DER_E_TRAILING, 2)
ACCEPT(test_validate_accepts_nested, OP_VALIDATE, "30 0c 02 01 01 a0 03 01 01 ff 31 02 05 00", 0)

START_TEST(test_validate_rejects_depth_beyond_bound)
{
	uint8_t buf[2 * (DER_MAX_DEPTH + 2)];
	size_t levels = DER_MAX_DEPTH + 2;
	for (size_t i = 0; i < levels; i++) {
		buf[2 * i] = DER_SEQUENCE;
		buf[2 * i + 1] = (uint8_t)(2 * (levels - i - 1));
	}
	struct der_err e;
	der_err_init(&e, buf);
	ck_assert(!der_validate(buf, sizeof(buf), DER_MAX_DEPTH, true, &e));
	ck_assert_int_eq(e.reason, DER_E_DEPTH);
	/* exactly at the bound is fine */
	der_err_init(&e, buf + 4);
	ck_assert(der_validate(buf + 4, sizeof(buf) - 4, DER_MAX_DEPTH, true, &e));
}
END_TEST

START_TEST(test_validate_rejects_input_beyond_size_bound)
{
	static const uint8_t one[2] = {0x05, 0x00};
	struct der_err e;
	der_err_init(&e, one);
	/* The length alone is refused; nothing past the buffer is read. */
	ck_assert(!der_validate(one, (size_t)DER_MAX_INPUT + 1, DER_MAX_DEPTH, false, &e));
	ck_assert_int_eq(e.reason, DER_E_SIZE);
}
END_TEST

START_TEST(test_get_optional_absent_and_present)
{
	static const uint8_t buf[] = {0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x05};
	struct der_cur c, v;
	struct der_err e;
	bool present;
	der_err_init(&e, buf);
	der_cur_init(&c, buf, sizeof(buf));
	ck_assert(der_get_optional(&c, DER_CTX_CONS(1), &v, &present, &e));
	ck_assert(!present);
	ck_assert_uint_eq(c.len, sizeof(buf));
	ck_assert(der_get_optional(&c, DER_CTX_CONS(0), &v, &present, &e));
	ck_assert(present);
	ck_assert_uint_eq(v.len, 3);
	uint64_t x;
	ck_assert(der_get_u64(&c, &x, &e));
	ck_assert_uint_eq(x, 5);
	ck_assert(der_done(&c, &e));
	/* optional at the end: absent */
	ck_assert(der_get_optional(&c, DER_INTEGER, &v, &present, &e));
	ck_assert(!present);
}
END_TEST

START_TEST(test_failed_get_leaves_cursor_and_zeroes_output)
{
	static const uint8_t buf[] = {0x02, 0x02, 0x00, 0x01};
	struct der_cur c, v = {buf, 1};
	struct der_err e;
	der_err_init(&e, buf);
	der_cur_init(&c, buf, sizeof(buf));
	ck_assert(!der_get_int_bytes(&c, DER_INTEGER, &v, &e));
	ck_assert_ptr_eq(c.p, buf);
	ck_assert_uint_eq(c.len, sizeof(buf));
	ck_assert_ptr_null(v.p);
	ck_assert_uint_eq(v.len, 0);
}
END_TEST

START_TEST(test_tlv_reports_header_length)
{
	uint8_t buf[3 + 200];
	memset(buf, 0, sizeof(buf));
	buf[0] = DER_OCTET_STRING;
	buf[1] = 0x81;
	buf[2] = 200;
	struct der_cur c, v;
	size_t hl;
	struct der_err e;
	der_err_init(&e, buf);
	der_cur_init(&c, buf, sizeof(buf));
	ck_assert(der_get_tlv(&c, DER_OCTET_STRING, &v, &hl, &e));
	ck_assert_uint_eq(hl, 3);
	ck_assert_uint_eq(v.len, sizeof(buf));
	ck_assert(der_cur_empty(&c));
}
END_TEST

START_TEST(test_oid_to_text)
{
	static const uint8_t rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
	static const uint8_t san[] = {0x55, 0x1d, 0x11};
	static const uint8_t big[] = {0x88, 0x37}; /* 2.999 */
	char buf[64];
	struct der_cur c;
	der_cur_init(&c, rsa, sizeof(rsa));
	ck_assert(der_oid_to_text(&c, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "1.2.840.113549.1.1.11");
	der_cur_init(&c, san, sizeof(san));
	ck_assert(der_oid_to_text(&c, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "2.5.29.17");
	der_cur_init(&c, big, sizeof(big));
	ck_assert(der_oid_to_text(&c, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "2.999");
	der_cur_init(&c, rsa, sizeof(rsa));
	ck_assert(!der_oid_to_text(&c, buf, 8)); /* too small */
}
END_TEST

START_TEST(test_every_reason_has_a_sentence)
{
	for (int r = 0; r <= DER_REASON_MAX; r++)
		ck_assert_str_ne(der_reason_str((enum der_reason)r), "unknown reason");
	ck_assert_str_eq(der_reason_str((enum der_reason)(DER_REASON_MAX + 1)), "unknown reason");
}
END_TEST

START_TEST(test_first_failure_wins)
{
	static const uint8_t buf[4] = {0};
	struct der_err e;
	der_err_init(&e, buf);
	ck_assert(!der_fail(&e, DER_E_TAG, buf + 1));
	ck_assert(!der_fail(&e, DER_E_TRAILING, buf + 3));
	ck_assert_int_eq(e.reason, DER_E_TAG);
	ck_assert_uint_eq(e.offset, 1);
}
END_TEST

START_TEST(test_time_conversion_matches_known_epochs)
{
	int64_t t;
	ck_assert(der_parse_utc_time((const uint8_t *)"700101000000Z", 13, &t));
	ck_assert_int_eq(t, 0);
	ck_assert(der_parse_generalized_time((const uint8_t *)"99991231235959Z", 15, &t));
	ck_assert_int_eq(t, 253402300799LL);
	ck_assert(der_parse_generalized_time((const uint8_t *)"20000229120000Z", 15, &t));
	ck_assert_int_eq(t, 951825600);
	ck_assert(!der_parse_generalized_time((const uint8_t *)"21000229120000Z", 15, &t));
}
END_TEST

static Suite *der_suite(void)
{
	Suite *s = suite_create("der");
	TCase *tc = tcase_create("lengths_tags");
	tcase_add_test(tc, test_der_rejects_indefinite_length);
	tcase_add_test(tc, test_der_rejects_long_form_below_128);
	tcase_add_test(tc, test_der_rejects_length_with_leading_zero);
	tcase_add_test(tc, test_der_rejects_length_past_end);
	tcase_add_test(tc, test_der_rejects_long_length_past_end);
	tcase_add_test(tc, test_der_rejects_length_field_too_long);
	tcase_add_test(tc, test_der_rejects_reserved_length_ff);
	tcase_add_test(tc, test_der_rejects_truncated_length_octets);
	tcase_add_test(tc, test_der_rejects_header_only_tag);
	tcase_add_test(tc, test_der_rejects_empty_input);
	tcase_add_test(tc, test_der_rejects_high_tag_number_universal);
	tcase_add_test(tc, test_der_rejects_high_tag_number_context);
	tcase_add_test(tc, test_der_rejects_trailing_bytes);
	tcase_add_test(tc, test_der_rejects_trailing_bytes_in_sequence_reader);
	tcase_add_test(tc, test_der_rejects_primitive_sequence);
	tcase_add_test(tc, test_der_rejects_constructed_octet_string);
	tcase_add_test(tc, test_der_rejects_wrong_tag);
	tcase_add_test(tc, test_get_optional_absent_and_present);
	tcase_add_test(tc, test_failed_get_leaves_cursor_and_zeroes_output);
	tcase_add_test(tc, test_tlv_reports_header_length);
	tcase_add_test(tc, test_every_reason_has_a_sentence);
	tcase_add_test(tc, test_first_failure_wins);
	suite_add_tcase(s, tc);

	tc = tcase_create("primitives");
	tcase_add_test(tc, test_der_rejects_empty_integer);
	tcase_add_test(tc, test_der_rejects_integer_leading_zero);
	tcase_add_test(tc, test_der_rejects_integer_leading_ff);
	tcase_add_test(tc, test_der_rejects_negative_u64);
	tcase_add_test(tc, test_der_rejects_u64_overflow);
	tcase_add_test(tc, test_der_rejects_constructed_integer);
	tcase_add_test(tc, test_der_accepts_integer_zero);
	tcase_add_test(tc, test_der_accepts_integer_128_with_sign_octet);
	tcase_add_test(tc, test_der_accepts_u64_max);
	tcase_add_test(tc, test_der_accepts_negative_integer_bytes);
	tcase_add_test(tc, test_der_rejects_boolean_01);
	tcase_add_test(tc, test_der_rejects_boolean_two_octets);
	tcase_add_test(tc, test_der_rejects_boolean_empty);
	tcase_add_test(tc, test_der_accepts_boolean_false);
	tcase_add_test(tc, test_der_accepts_boolean_true);
	tcase_add_test(tc, test_der_rejects_null_with_content);
	tcase_add_test(tc, test_der_accepts_null);
	tcase_add_test(tc, test_der_rejects_empty_oid);
	tcase_add_test(tc, test_der_rejects_oid_ending_in_continuation);
	tcase_add_test(tc, test_der_rejects_oid_nonminimal_subidentifier);
	tcase_add_test(tc, test_der_accepts_oid);
	tcase_add_test(tc, test_oid_to_text);
	tcase_add_test(tc, test_der_rejects_empty_bit_string);
	tcase_add_test(tc, test_der_rejects_unused_bits_over_7);
	tcase_add_test(tc, test_der_rejects_unused_bits_without_octets);
	tcase_add_test(tc, test_der_rejects_nonzero_unused_bits);
	tcase_add_test(tc, test_der_rejects_key_bit_string_with_unused_bits);
	tcase_add_test(tc, test_der_rejects_named_bits_trailing_zero);
	tcase_add_test(tc, test_der_rejects_constructed_bit_string);
	tcase_add_test(tc, test_der_accepts_empty_bit_string_zero_unused);
	tcase_add_test(tc, test_der_accepts_bit_string_with_unused);
	tcase_add_test(tc, test_der_accepts_named_bits);
	tcase_add_test(tc, test_der_accepts_named_bits_second_octet);
	suite_add_tcase(s, tc);

	tc = tcase_create("times");
	tcase_add_test(tc, test_der_accepts_utctime);
	tcase_add_test(tc, test_der_accepts_utctime_1950);
	tcase_add_test(tc, test_der_accepts_utctime_2049);
	tcase_add_test(tc, test_der_accepts_leap_day);
	tcase_add_test(tc, test_der_accepts_generalized_time_2050);
	tcase_add_test(tc, test_der_rejects_generalized_time_before_2050);
	tcase_add_test(tc, test_der_accepts_ocsp_generalized_time_any_year);
	tcase_add_test(tc, test_der_rejects_utctime_without_seconds);
	tcase_add_test(tc, test_der_rejects_utctime_without_z);
	tcase_add_test(tc, test_der_rejects_utctime_with_offset);
	tcase_add_test(tc, test_der_rejects_fractional_seconds);
	tcase_add_test(tc, test_der_rejects_feb_29_outside_leap_year);
	tcase_add_test(tc, test_der_rejects_month_13);
	tcase_add_test(tc, test_der_rejects_hour_24);
	tcase_add_test(tc, test_der_rejects_second_60);
	tcase_add_test(tc, test_der_rejects_non_digit_in_time);
	tcase_add_test(tc, test_der_rejects_constructed_utctime);
	tcase_add_test(tc, test_der_rejects_time_of_wrong_type);
	tcase_add_test(tc, test_time_conversion_matches_known_epochs);
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_test(tc, test_der_rejects_at_sign_in_printable_string);
	tcase_add_test(tc, test_der_rejects_star_in_printable_string);
	tcase_add_test(tc, test_der_rejects_8bit_in_ia5_string);
	tcase_add_test(tc, test_der_rejects_overlong_utf8);
	tcase_add_test(tc, test_der_rejects_utf8_surrogate);
	tcase_add_test(tc, test_der_rejects_truncated_utf8);
	tcase_add_test(tc, test_der_rejects_odd_bmp_string);
	tcase_add_test(tc, test_der_rejects_constructed_string);
	tcase_add_test(tc, test_der_rejects_non_string_as_string);
	tcase_add_test(tc, test_der_accepts_printable_string_full_set);
	tcase_add_test(tc, test_der_accepts_utf8);
	tcase_add_test(tc, test_der_accepts_ia5_with_at);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_test(tc, test_validate_reports_nested_indefinite_offset);
	tcase_add_test(tc, test_validate_rejects_constructed_octet_string_inside);
	tcase_add_test(tc, test_validate_rejects_primitive_set);
	tcase_add_test(tc, test_validate_rejects_end_of_contents_tag);
	tcase_add_test(tc, test_validate_rejects_nonminimal_integer_inside);
	tcase_add_test(tc, test_validate_rejects_bad_boolean_inside);
	tcase_add_test(tc, test_validate_rejects_two_elements_when_single);
	tcase_add_test(tc, test_validate_accepts_nested);
	tcase_add_test(tc, test_validate_rejects_depth_beyond_bound);
	tcase_add_test(tc, test_validate_rejects_input_beyond_size_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(der_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
