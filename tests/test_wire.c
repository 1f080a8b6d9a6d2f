/*
 * test_wire.c - unit tests of the frame and field codec (enclave/wire.c).
 *
 * Every primitive in both directions, every bound, every reject path of the decoder,
 * and the SIGN request round trip.  The frame format is docs/protocol.md.
 */
#include "wire.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Seconds a test that moves 64 MiB may take (ASan makes it slower). */
#define BIG_TEST_TIMEOUT 60
/* Offsets of the SIGN body's fields when param_kind is NONE. */
#define SIGN_OFF_TICKET_LEN 0u
#define SIGN_OFF_PARAM_KIND (4u + WIRE_TICKET_LEN + 4u + 8u)
#define SIGN_FIXED_LEN (SIGN_OFF_PARAM_KIND + 1u)
#define PSS_PARAMS_LEN 24u

static const uint8_t test_ticket[WIRE_TICKET_LEN] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
	0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
	0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};

static const uint8_t test_data[] = "a TBSCertificate would go here";

static void fill_sign_req(struct wire_sign_req *r, uint8_t param_kind)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->ticket, test_ticket, sizeof(test_ticket));
	r->key_id = 7;
	r->mechanism = 0x40; /* CKM_SHA256_RSA_PKCS */
	r->param_kind = param_kind;
	if (param_kind == WIRE_PK_PSS) {
		r->mechanism = 0x43; /* CKM_SHA256_RSA_PKCS_PSS */
		r->pss_hash_alg = 0x250;
		r->pss_mgf = 0x2;
		r->pss_salt_len = 32;
	}
	r->data = test_data;
	r->data_len = sizeof(test_data) - 1;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Encodes r and checks the frame header; the body starts at b->data + WIRE_HEADER_LEN. */
static void encode_sign(struct wire_buf *b, const struct wire_sign_req *r)
{
	wire_buf_init(b);
	ck_assert_int_eq(wire_enc_sign_req(b, r), 0);
	ck_assert_uint_ge(b->len, WIRE_HEADER_LEN);
	struct wire_header h;
	ck_assert_int_eq(wire_header_parse(b->data, &h), WARDEN_OK);
	ck_assert_uint_eq(h.type, WIRE_SIGN);
	ck_assert_uint_eq(h.body_len, b->len - WIRE_HEADER_LEN);
}

/* --- integers ----------------------------------------------------------------- */

START_TEST(test_ints_encode_big_endian)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_put_u8(&b, 0xab);
	wire_put_u32(&b, 0x01020304u);
	wire_put_u64(&b, 0x1112131415161718ull);
	ck_assert_int_eq(b.failed, 0);
	static const uint8_t want[] = {0xab, 0x01, 0x02, 0x03, 0x04, 0x11, 0x12,
				       0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.data, want, sizeof(want));
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_ints_round_trip_extremes)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_put_u8(&b, 0);
	wire_put_u8(&b, UINT8_MAX);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, UINT32_MAX);
	wire_put_u64(&b, 0);
	wire_put_u64(&b, UINT64_MAX);
	ck_assert_int_eq(b.failed, 0);

	struct wire_cur c = {b.data, b.len};
	uint8_t v8;
	uint32_t v32;
	uint64_t v64;
	ck_assert_int_eq(wire_get_u8(&c, &v8), 0);
	ck_assert_uint_eq(v8, 0);
	ck_assert_int_eq(wire_get_u8(&c, &v8), 0);
	ck_assert_uint_eq(v8, UINT8_MAX);
	ck_assert_int_eq(wire_get_u32(&c, &v32), 0);
	ck_assert_uint_eq(v32, 0);
	ck_assert_int_eq(wire_get_u32(&c, &v32), 0);
	ck_assert_uint_eq(v32, UINT32_MAX);
	ck_assert_int_eq(wire_get_u64(&c, &v64), 0);
	ck_assert_uint_eq(v64, 0);
	ck_assert_int_eq(wire_get_u64(&c, &v64), 0);
	ck_assert(v64 == UINT64_MAX);
	ck_assert_int_eq(wire_cur_done(&c), 1);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_ints_reject_short_input_and_leave_cursor)
{
	static const uint8_t in[7] = {1, 2, 3, 4, 5, 6, 7};
	uint8_t v8 = 0xff;
	uint32_t v32 = 0xffffffffu;
	uint64_t v64 = UINT64_MAX;

	struct wire_cur c = {in, 0};
	ck_assert_int_eq(wire_get_u8(&c, &v8), -1);
	ck_assert_uint_eq(v8, 0);

	c = (struct wire_cur){in, 3};
	ck_assert_int_eq(wire_get_u32(&c, &v32), -1);
	ck_assert_uint_eq(v32, 0);
	ck_assert_ptr_eq(c.p, in);
	ck_assert_uint_eq(c.len, 3);

	c = (struct wire_cur){in, 7};
	ck_assert_int_eq(wire_get_u64(&c, &v64), -1);
	ck_assert(v64 == 0);
	ck_assert_ptr_eq(c.p, in);
	ck_assert_uint_eq(c.len, 7);
	ck_assert_int_eq(wire_cur_done(&c), 0);
}
END_TEST

/* --- bytes and strings --------------------------------------------------------- */

START_TEST(test_bytes_round_trip_and_empty)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_put_bytes(&b, "xyz", 3);
	wire_put_bytes(&b, NULL, 0);
	ck_assert_int_eq(b.failed, 0);
	static const uint8_t want[] = {0, 0, 0, 3, 'x', 'y', 'z', 0, 0, 0, 0};
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.data, want, sizeof(want));

	struct wire_cur c = {b.data, b.len};
	const uint8_t *p;
	size_t n;
	ck_assert_int_eq(wire_get_bytes(&c, 3, &p, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(p, b.data + 4); /* a view, not a copy */
	ck_assert_int_eq(wire_get_bytes(&c, 0, &p, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(wire_cur_done(&c), 1);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_bytes_rejects_length_over_max)
{
	static const uint8_t in[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
	struct wire_cur c = {in, sizeof(in)};
	const uint8_t *p = in;
	size_t n = 99;
	ck_assert_int_eq(wire_get_bytes(&c, 3, &p, &n), -1);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_eq(c.p, in);
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert_int_eq(wire_get_bytes(&c, 4, &p, &n), 0);
}
END_TEST

START_TEST(test_bytes_rejects_length_past_end)
{
	/* Every truncation of a 4-byte field, and a length far beyond the input. */
	static const uint8_t in[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
	const uint8_t *p;
	size_t n;
	for (size_t cut = 0; cut < sizeof(in); cut++) {
		struct wire_cur c = {in, cut};
		ck_assert_int_eq(wire_get_bytes(&c, 1024, &p, &n), -1);
		ck_assert_uint_eq(c.len, cut);
	}
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a'};
	struct wire_cur c = {huge, sizeof(huge)};
	ck_assert_int_eq(wire_get_bytes(&c, SIZE_MAX, &p, &n), -1);
	ck_assert_ptr_eq(c.p, huge);
}
END_TEST

START_TEST(test_str_round_trip)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_put_str(&b, "warden");
	wire_put_str(&b, "");
	wire_put_str(&b, NULL);
	ck_assert_int_eq(b.failed, 0);
	ck_assert_uint_eq(b.len, 4 + 6 + 4 + 4);

	struct wire_cur c = {b.data, b.len};
	char s[16];
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "warden");
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(wire_cur_done(&c), 1);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_str_rejects_embedded_nul)
{
	static const uint8_t in[] = {0, 0, 0, 3, 'a', 0, 'b'};
	struct wire_cur c = {in, sizeof(in)};
	char s[16] = "junk";
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), -1);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_eq(c.p, in);
	ck_assert_uint_eq(c.len, sizeof(in));

	static const uint8_t trailing[] = {0, 0, 0, 2, 'a', 0};
	c = (struct wire_cur){trailing, sizeof(trailing)};
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), -1);
	ck_assert_uint_eq(c.len, sizeof(trailing));
}
END_TEST

START_TEST(test_str_rejects_longer_than_output)
{
	static const uint8_t in[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
	struct wire_cur c = {in, sizeof(in)};
	char s[5];
	ck_assert_int_eq(wire_get_str(&c, s, 4), -1); /* room for 3 + NUL */
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert_int_eq(wire_get_str(&c, s, 0), -1);
	ck_assert_uint_eq(c.len, sizeof(in));
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0); /* exactly fits */
	ck_assert_str_eq(s, "abcd");
}
END_TEST

START_TEST(test_str_rejects_longer_than_max_str)
{
	struct wire_buf b;
	wire_buf_init(&b);
	static uint8_t big[WIRE_MAX_STR + 1];
	memset(big, 'm', sizeof(big));
	wire_put_bytes(&b, big, sizeof(big)); /* a peer that ignores the bound */
	ck_assert_int_eq(b.failed, 0);

	static char s[2 * WIRE_MAX_STR];
	struct wire_cur c = {b.data, b.len};
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), -1);
	ck_assert_uint_eq(c.len, b.len);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_str_message_truncated_at_max_str)
{
	static char msg[3 * WIRE_MAX_STR];
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';

	struct wire_buf b;
	wire_buf_init(&b);
	wire_put_str(&b, msg);
	msg[WIRE_MAX_STR] = '\0';
	wire_put_str(&b, msg); /* exactly WIRE_MAX_STR: not truncated */
	ck_assert_int_eq(b.failed, 0);
	ck_assert_uint_eq(b.len, 2 * (4 + WIRE_MAX_STR));

	static char s[WIRE_MAX_STR + 1];
	struct wire_cur c = {b.data, b.len};
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0);
	ck_assert_uint_eq(strlen(s), WIRE_MAX_STR);
	ck_assert_str_eq(s, msg);
	ck_assert_int_eq(wire_get_str(&c, s, sizeof(s)), 0);
	ck_assert_str_eq(s, msg);
	ck_assert_int_eq(wire_cur_done(&c), 1);
	wire_buf_free(&b);
}
END_TEST

/* --- wire_buf ------------------------------------------------------------------- */

START_TEST(test_buf_grows_across_many_puts)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_frame_begin(&b, WIRE_STATUS);
	for (uint32_t i = 0; i < 10000; i++)
		wire_put_u32(&b, i);
	ck_assert_int_eq(wire_frame_end(&b), 0);
	ck_assert_uint_eq(b.len, WIRE_HEADER_LEN + 4 * 10000);
	struct wire_cur c = {b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN};
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t v;
		ck_assert_int_eq(wire_get_u32(&c, &v), 0);
		ck_assert_uint_eq(v, i);
	}
	ck_assert_int_eq(wire_cur_done(&c), 1);
	wire_buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_buf_failure_latches)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_frame_begin(&b, WIRE_SIGN);
	wire_put_u32(&b, 1);
	size_t len = b.len;
	/* Larger than any body: refused before a byte is read or allocated. */
	wire_put_bytes(&b, (const void *)test_data, (size_t)WIRE_MAX_BODY + 1);
	ck_assert_int_eq(b.failed, 1);
	ck_assert_uint_eq(b.len, len);
	/* Every later put is a no-op, and the frame cannot be finished. */
	wire_put_u8(&b, 1);
	wire_put_u32(&b, 1);
	wire_put_u64(&b, 1);
	wire_put_str(&b, "x");
	wire_put_bytes(&b, "x", 1);
	ck_assert_uint_eq(b.len, len);
	ck_assert_int_eq(wire_frame_end(&b), -1);
	/* Not even a new frame clears it: only wire_buf_free/wire_buf_init do. */
	wire_frame_begin(&b, WIRE_STATUS);
	ck_assert_int_eq(wire_frame_end(&b), -1);
	wire_buf_free(&b);
	ck_assert_int_eq(b.failed, 0);
	wire_frame_begin(&b, WIRE_STATUS);
	ck_assert_int_eq(wire_frame_end(&b), 0);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_buf_refuses_body_over_max)
{
	/* Passes put_bytes' own check but would take the frame past WIRE_MAX_BODY. */
	struct wire_buf b;
	wire_buf_init(&b);
	wire_frame_begin(&b, WIRE_SIGN);
	wire_put_bytes(&b, (const void *)test_data, WIRE_MAX_BODY);
	ck_assert_int_eq(b.failed, 1);
	ck_assert_int_eq(wire_frame_end(&b), -1);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_frame_end_without_begin_fails)
{
	struct wire_buf b;
	wire_buf_init(&b);
	ck_assert_int_eq(wire_frame_end(&b), -1);
	wire_put_u8(&b, 1);
	ck_assert_int_eq(wire_frame_end(&b), -1); /* shorter than a header */
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_frame_begin_resets_and_writes_header)
{
	struct wire_buf b;
	wire_buf_init(&b);
	wire_frame_begin(&b, WIRE_HELLO);
	wire_put_u32(&b, 1234);
	ck_assert_int_eq(wire_frame_end(&b), 0);
	static const uint8_t want[] = {0, 0, 0, 4, WIRE_VERSION, WIRE_HELLO, 0, 0, 0, 0, 4, 0xd2};
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.data, want, sizeof(want));

	wire_frame_begin(&b, WIRE_STATUS | WIRE_RESPONSE); /* reuses the buffer */
	ck_assert_int_eq(wire_frame_end(&b), 0);
	static const uint8_t empty[] = {0, 0, 0, 0, WIRE_VERSION, WIRE_STATUS | WIRE_RESPONSE, 0, 0};
	ck_assert_uint_eq(b.len, sizeof(empty));
	ck_assert_mem_eq(b.data, empty, sizeof(empty));
	wire_buf_free(&b);
}
END_TEST

/* --- header ---------------------------------------------------------------------- */

START_TEST(test_header_accepts_every_type_both_directions)
{
	for (unsigned t = WIRE_HELLO; t <= WIRE_TYPE_MAX; t++) {
		for (unsigned dir = 0; dir <= WIRE_RESPONSE; dir += WIRE_RESPONSE) {
			uint8_t h[WIRE_HEADER_LEN] = {0, 0, 1, 0, WIRE_VERSION, (uint8_t)(t | dir), 0, 0};
			struct wire_header out;
			ck_assert_int_eq(wire_header_parse(h, &out), WARDEN_OK);
			ck_assert_uint_eq(out.body_len, 256);
			ck_assert_uint_eq(out.version, WIRE_VERSION);
			ck_assert_uint_eq(out.type, t | dir);
		}
	}
}
END_TEST

static void assert_header_rejected(const uint8_t h[WIRE_HEADER_LEN])
{
	struct wire_header out;
	memset(&out, 0xa5, sizeof(out));
	ck_assert_int_eq(wire_header_parse(h, &out), WARDEN_E_PROTOCOL);
	ck_assert_uint_eq(out.body_len, 0);
	ck_assert_uint_eq(out.version, 0);
	ck_assert_uint_eq(out.type, 0);
}

START_TEST(test_header_rejects_bad_version)
{
	static const uint8_t versions[] = {0, WIRE_VERSION + 1, 0xff};
	for (size_t i = 0; i < sizeof(versions); i++) {
		uint8_t h[WIRE_HEADER_LEN] = {0, 0, 0, 0, versions[i], WIRE_HELLO, 0, 0};
		assert_header_rejected(h);
	}
}
END_TEST

START_TEST(test_header_rejects_reserved_bits)
{
	for (unsigned bit = 0; bit < 16; bit++) {
		uint8_t h[WIRE_HEADER_LEN] = {0, 0, 0, 0, WIRE_VERSION, WIRE_HELLO, 0, 0};
		h[6 + bit / 8] = (uint8_t)(1u << (bit % 8));
		assert_header_rejected(h);
	}
}
END_TEST

START_TEST(test_header_rejects_unknown_type)
{
	static const uint8_t types[] = {
		0, WIRE_TYPE_MAX + 1, 0x7f, WIRE_RESPONSE, WIRE_RESPONSE | (WIRE_TYPE_MAX + 1), 0xff,
	};
	for (size_t i = 0; i < sizeof(types); i++) {
		uint8_t h[WIRE_HEADER_LEN] = {0, 0, 0, 0, WIRE_VERSION, types[i], 0, 0};
		assert_header_rejected(h);
	}
}
END_TEST

START_TEST(test_header_rejects_oversize_length)
{
	uint8_t h[WIRE_HEADER_LEN] = {0, 0, 0, 0, WIRE_VERSION, WIRE_SIGN, 0, 0};
	struct wire_header out;
	put_be32(h, WIRE_MAX_BODY);
	ck_assert_int_eq(wire_header_parse(h, &out), WARDEN_OK);
	ck_assert_uint_eq(out.body_len, WIRE_MAX_BODY);
	put_be32(h, WIRE_MAX_BODY + 1);
	assert_header_rejected(h);
	put_be32(h, UINT32_MAX);
	assert_header_rejected(h);
}
END_TEST

/* --- SIGN request ------------------------------------------------------------------ */

static void assert_sign_req_eq(const struct wire_sign_req *a, const struct wire_sign_req *b)
{
	ck_assert_mem_eq(a->ticket, b->ticket, WIRE_TICKET_LEN);
	ck_assert_uint_eq(a->key_id, b->key_id);
	ck_assert(a->mechanism == b->mechanism);
	ck_assert_uint_eq(a->param_kind, b->param_kind);
	ck_assert(a->pss_hash_alg == b->pss_hash_alg);
	ck_assert(a->pss_mgf == b->pss_mgf);
	ck_assert(a->pss_salt_len == b->pss_salt_len);
	ck_assert_uint_eq(a->data_len, b->data_len);
	if (a->data_len > 0)
		ck_assert_mem_eq(a->data, b->data, a->data_len);
}

static void assert_sign_round_trip(uint8_t param_kind)
{
	struct wire_sign_req in, out;
	struct wire_buf b;
	fill_sign_req(&in, param_kind);
	encode_sign(&b, &in);
	size_t want = SIGN_FIXED_LEN + 4 + in.data_len;
	if (param_kind == WIRE_PK_PSS)
		want += PSS_PARAMS_LEN;
	ck_assert_uint_eq(b.len - WIRE_HEADER_LEN, want);

	const uint8_t *body = b.data + WIRE_HEADER_LEN;
	ck_assert_int_eq(wire_dec_sign_req(body, b.len - WIRE_HEADER_LEN, &out), WARDEN_OK);
	assert_sign_req_eq(&in, &out);
	/* The data is a view into the frame, not a copy. */
	ck_assert_ptr_eq(out.data, body + want - in.data_len);
	wire_buf_free(&b);
}

START_TEST(test_sign_round_trip_without_params)
{
	assert_sign_round_trip(WIRE_PK_NONE);
}
END_TEST

START_TEST(test_sign_round_trip_with_pss_params)
{
	assert_sign_round_trip(WIRE_PK_PSS);
}
END_TEST

START_TEST(test_sign_round_trip_empty_data)
{
	struct wire_sign_req in, out;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_NONE);
	in.data = NULL;
	in.data_len = 0;
	encode_sign(&b, &in);
	ck_assert_int_eq(wire_dec_sign_req(b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN, &out),
			 WARDEN_OK);
	ck_assert_uint_eq(out.data_len, 0);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_sign_accepts_empty_ticket)
{
	/* A module with no login sends an empty ticket; it decodes as all zeros. */
	static const uint8_t body[] = {
		0, 0, 0, 0,                     /* ticket: empty */
		0, 0, 0, 3,                     /* key_id */
		0, 0, 0, 0, 0, 0, 0x10, 0x57,   /* mechanism CKM_EDDSA */
		WIRE_PK_NONE, 0, 0, 0, 2, 'h', 'i',
	};
	static const uint8_t zero[WIRE_TICKET_LEN];
	struct wire_sign_req out;
	ck_assert_int_eq(wire_dec_sign_req(body, sizeof(body), &out), WARDEN_OK);
	ck_assert_mem_eq(out.ticket, zero, WIRE_TICKET_LEN);
	ck_assert_uint_eq(out.key_id, 3);
	ck_assert(out.mechanism == 0x1057);
	ck_assert_uint_eq(out.data_len, 2);
	ck_assert_mem_eq(out.data, "hi", 2);
}
END_TEST

static void assert_sign_body_rejected(const uint8_t *body, size_t len)
{
	static const uint8_t zero[sizeof(struct wire_sign_req)];
	struct wire_sign_req out;
	memset(&out, 0x5a, sizeof(out));
	ck_assert_int_eq(wire_dec_sign_req(body, len, &out), WARDEN_E_PROTOCOL);
	ck_assert_mem_eq(&out, zero, sizeof(out)); /* outputs zeroed on failure */
}

START_TEST(test_sign_rejects_wrong_ticket_length)
{
	static const size_t lens[] = {1, WIRE_TICKET_LEN - 1, WIRE_TICKET_LEN + 1};
	uint8_t body[SIGN_FIXED_LEN + 64 + 4];
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* ticket of lens[i] bytes, then well-formed fields after it */
		size_t n = 0;
		memset(body, 0, sizeof(body));
		put_be32(body, (uint32_t)lens[i]);
		n = 4 + lens[i];
		n += 4 + 8; /* key_id, mechanism */
		body[n++] = WIRE_PK_NONE;
		n += 4; /* empty data */
		ck_assert_uint_le(n, sizeof(body));
		assert_sign_body_rejected(body, n);
	}
}
END_TEST

START_TEST(test_sign_rejects_every_truncation)
{
	for (unsigned kind = WIRE_PK_NONE; kind <= WIRE_PK_PSS; kind++) {
		struct wire_sign_req in;
		struct wire_buf b;
		fill_sign_req(&in, (uint8_t)kind);
		encode_sign(&b, &in);
		const uint8_t *body = b.data + WIRE_HEADER_LEN;
		size_t len = b.len - WIRE_HEADER_LEN;
		for (size_t cut = 0; cut < len; cut++)
			assert_sign_body_rejected(body, cut);
		wire_buf_free(&b);
	}
}
END_TEST

START_TEST(test_sign_rejects_leftover_bytes)
{
	struct wire_sign_req in;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_PSS);
	encode_sign(&b, &in);
	wire_put_u8(&b, 0); /* one byte past the data */
	ck_assert_int_eq(b.failed, 0);
	assert_sign_body_rejected(b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_sign_rejects_unknown_param_kind)
{
	struct wire_sign_req in;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_NONE);
	encode_sign(&b, &in);
	uint8_t *body = b.data + WIRE_HEADER_LEN;
	static const uint8_t kinds[] = {WIRE_PK_PSS + 1, 0x80, 0xff};
	for (size_t i = 0; i < sizeof(kinds); i++) {
		body[SIGN_OFF_PARAM_KIND] = kinds[i];
		assert_sign_body_rejected(body, b.len - WIRE_HEADER_LEN);
	}
	/* PSS without its parameters: the data length is read as hash_alg. */
	body[SIGN_OFF_PARAM_KIND] = WIRE_PK_PSS;
	assert_sign_body_rejected(body, b.len - WIRE_HEADER_LEN);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_sign_rejects_data_length_past_end)
{
	struct wire_sign_req in;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_NONE);
	encode_sign(&b, &in);
	uint8_t *body = b.data + WIRE_HEADER_LEN;
	put_be32(body + SIGN_FIXED_LEN, (uint32_t)in.data_len + 1);
	assert_sign_body_rejected(body, b.len - WIRE_HEADER_LEN);
	wire_buf_free(&b);
}
END_TEST

/* A body with a real data field of data_len bytes. */
static uint8_t *make_sign_body(size_t data_len, size_t *out_len)
{
	size_t len = SIGN_FIXED_LEN + 4 + data_len;
	uint8_t *body = calloc(1, len);
	ck_assert_ptr_nonnull(body);
	put_be32(body + SIGN_OFF_TICKET_LEN, WIRE_TICKET_LEN);
	memcpy(body + 4, test_ticket, WIRE_TICKET_LEN);
	body[SIGN_OFF_PARAM_KIND] = WIRE_PK_NONE;
	put_be32(body + SIGN_FIXED_LEN, (uint32_t)data_len);
	*out_len = len;
	return body;
}

START_TEST(test_sign_accepts_max_data)
{
	size_t len;
	uint8_t *body = make_sign_body(WIRE_MAX_DATA, &len);
	ck_assert_uint_le(len, WIRE_MAX_BODY);
	struct wire_sign_req out;
	ck_assert_int_eq(wire_dec_sign_req(body, len, &out), WARDEN_OK);
	ck_assert_uint_eq(out.data_len, WIRE_MAX_DATA);
	ck_assert_ptr_eq(out.data, body + SIGN_FIXED_LEN + 4);
	free(body);
}
END_TEST

START_TEST(test_sign_rejects_data_over_64mib)
{
	/* The bytes are really there, so only the bound can reject it. */
	size_t len;
	uint8_t *body = make_sign_body((size_t)WIRE_MAX_DATA + 1, &len);
	ck_assert_uint_le(len, WIRE_MAX_BODY);
	assert_sign_body_rejected(body, len);
	free(body);
}
END_TEST

START_TEST(test_sign_encoder_refuses_data_over_64mib)
{
	/* The encoder must not build a frame the decoder would reject. */
	struct wire_sign_req in;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_NONE);
	in.data_len = (size_t)WIRE_MAX_DATA + 1; /* never read: refused first */
	wire_buf_init(&b);
	ck_assert_int_eq(wire_enc_sign_req(&b, &in), -1);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_sign_encoder_refuses_unknown_param_kind)
{
	struct wire_sign_req in;
	struct wire_buf b;
	fill_sign_req(&in, WIRE_PK_PSS + 1);
	wire_buf_init(&b);
	ck_assert_int_eq(wire_enc_sign_req(&b, &in), -1);
	wire_buf_free(&b);
}
END_TEST

/* --- status strings ---------------------------------------------------------------- */

START_TEST(test_status_str_names_every_status)
{
	for (uint32_t s = 0; s <= WARDEN_E_STATUS_MAX; s++) {
		const char *name = wire_status_str(s);
		ck_assert_ptr_nonnull(name);
		ck_assert_uint_gt(strlen(name), 0);
		ck_assert_str_ne(name, "unknown status");
	}
	ck_assert_str_eq(wire_status_str(WARDEN_E_STATUS_MAX + 1), "unknown status");
	ck_assert_str_eq(wire_status_str(UINT32_MAX), "unknown status");
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("fields");
	tcase_add_test(tc, test_ints_encode_big_endian);
	tcase_add_test(tc, test_ints_round_trip_extremes);
	tcase_add_test(tc, test_ints_reject_short_input_and_leave_cursor);
	tcase_add_test(tc, test_bytes_round_trip_and_empty);
	tcase_add_test(tc, test_bytes_rejects_length_over_max);
	tcase_add_test(tc, test_bytes_rejects_length_past_end);
	tcase_add_test(tc, test_str_round_trip);
	tcase_add_test(tc, test_str_rejects_embedded_nul);
	tcase_add_test(tc, test_str_rejects_longer_than_output);
	tcase_add_test(tc, test_str_rejects_longer_than_max_str);
	tcase_add_test(tc, test_str_message_truncated_at_max_str);
	tcase_add_test(tc, test_status_str_names_every_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_grows_across_many_puts);
	tcase_add_test(tc, test_buf_failure_latches);
	tcase_add_test(tc, test_buf_refuses_body_over_max);
	tcase_add_test(tc, test_frame_end_without_begin_fails);
	tcase_add_test(tc, test_frame_begin_resets_and_writes_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_add_test(tc, test_header_accepts_every_type_both_directions);
	tcase_add_test(tc, test_header_rejects_bad_version);
	tcase_add_test(tc, test_header_rejects_reserved_bits);
	tcase_add_test(tc, test_header_rejects_unknown_type);
	tcase_add_test(tc, test_header_rejects_oversize_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign");
	tcase_add_test(tc, test_sign_round_trip_without_params);
	tcase_add_test(tc, test_sign_round_trip_with_pss_params);
	tcase_add_test(tc, test_sign_round_trip_empty_data);
	tcase_add_test(tc, test_sign_accepts_empty_ticket);
	tcase_add_test(tc, test_sign_rejects_wrong_ticket_length);
	tcase_add_test(tc, test_sign_rejects_every_truncation);
	tcase_add_test(tc, test_sign_rejects_leftover_bytes);
	tcase_add_test(tc, test_sign_rejects_unknown_param_kind);
	tcase_add_test(tc, test_sign_rejects_data_length_past_end);
	tcase_add_test(tc, test_sign_encoder_refuses_data_over_64mib);
	tcase_add_test(tc, test_sign_encoder_refuses_unknown_param_kind);
	suite_add_tcase(s, tc);

	tc = tcase_create("sign_big");
	tcase_set_timeout(tc, BIG_TEST_TIMEOUT);
	tcase_add_test(tc, test_sign_accepts_max_data);
	tcase_add_test(tc, test_sign_rejects_data_over_64mib);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
