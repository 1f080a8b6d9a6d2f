/*
 * test_module_hello.c - libwarden-pkcs11: the HELLO response parser (every malformed input
 * rejected, nothing leaked: run under ASan/valgrind) and wp11_rv_from_status.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_module_fake.h"
#include "wp11.h"

#define BOOT_ID 42u
#define MAX_DATA (16u * 1024 * 1024)

/* Builds a HELLO response with the variation o; *body points past the frame header. */
static void build(struct wire_buf *b, const struct fake_hello_opts *o, const uint8_t **body,
		  size_t *len)
{
	wire_buf_init(b);
	fake_hello_build(b, o, BOOT_ID, MAX_DATA);
	ck_assert(!b->failed);
	*body = b->data + WIRE_HEADER_LEN;
	*len = b->len - WIRE_HEADER_LEN;
}

static int parse_with(const struct fake_hello_opts *o)
{
	struct wire_buf b;
	const uint8_t *body;
	size_t len;
	struct wp11_token t;
	build(&b, o, &body, &len);
	int rv = wp11_hello_parse(body, len, &t);
	if (rv == WARDEN_OK)
		wp11_token_free(&t);
	else
		ck_assert_uint_eq(t.num_keys, 0);
	wire_buf_free(&b);
	return rv;
}

START_TEST(test_hello_parses_the_token)
{
	struct wire_buf b;
	const uint8_t *body;
	size_t len;
	struct wp11_token t;

	build(&b, NULL, &body, &len);
	ck_assert_int_eq(wp11_hello_parse(body, len, &t), WARDEN_OK);
	ck_assert_uint_eq(t.boot_id, BOOT_ID);
	ck_assert_str_eq(t.label, FAKE_LABEL);
	ck_assert_str_eq(t.serial, "0000000000000001");
	ck_assert_uint_eq(t.min_pin, 4);
	ck_assert_uint_eq(t.max_pin, 64);
	ck_assert_uint_eq(t.max_data, MAX_DATA);
	ck_assert_uint_eq(t.num_keys, 2);
	ck_assert_uint_eq(t.keys[0].key_id, FAKE_RSA_KEY_ID);
	ck_assert_uint_eq(t.keys[0].key_type, CKK_RSA);
	ck_assert_uint_eq(t.keys[0].sig_len, FAKE_RSA_SIG_LEN);
	ck_assert_uint_eq(t.keys[0].key_bits, 2048);
	ck_assert_uint_eq(t.keys[0].num_mechs, 3);
	ck_assert(t.keys[0].objects[WP11_OBJ_PRIVATE].present);
	ck_assert(t.keys[0].objects[WP11_OBJ_PRIVATE].is_private);
	ck_assert(t.keys[0].objects[WP11_OBJ_CERT].present);
	ck_assert(!t.keys[0].objects[WP11_OBJ_CERT].is_private);
	ck_assert_uint_eq(t.keys[1].key_bits, 256);
	ck_assert(!t.keys[1].objects[WP11_OBJ_CERT].present);
	const struct wp11_attr *a =
		wp11_object_attr(&t.keys[1].objects[WP11_OBJ_PRIVATE], CKA_CLASS);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->value_len, sizeof(CK_ULONG));
	ck_assert_uint_eq(*(CK_ULONG *)a->value, CKO_PRIVATE_KEY);
	wp11_token_free(&t);
	ck_assert_uint_eq(t.num_keys, 0);
	wp11_token_free(&t); /* twice is harmless */
	wp11_token_free(NULL);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_hello_rejects_every_truncation)
{
	struct wire_buf b;
	const uint8_t *body;
	size_t len;
	struct wp11_token t;

	build(&b, NULL, &body, &len);
	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so ASan sees any read past the end */
		uint8_t *copy = malloc(n > 0 ? n : 1);
		memcpy(copy, body, n);
		ck_assert_int_eq(wp11_hello_parse(copy, n, &t), WARDEN_E_PROTOCOL);
		ck_assert_uint_eq(t.num_keys, 0);
		ck_assert_ptr_null(t.keys);
		free(copy);
	}
	ck_assert_int_eq(wp11_hello_parse(NULL, 5, &t), WARDEN_E_PROTOCOL);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_hello_survives_every_bit_flip)
{
	struct wire_buf b;
	const uint8_t *body;
	size_t len;
	struct wp11_token t;

	build(&b, NULL, &body, &len);
	uint8_t *copy = malloc(len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(copy, body, len);
			copy[i] ^= (uint8_t)(1u << bit);
			if (wp11_hello_parse(copy, len, &t) == WARDEN_OK)
				wp11_token_free(&t);
			else
				ck_assert_ptr_null(t.keys);
		}
	}
	free(copy);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_hello_rejects_malformed_tokens)
{
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){0}), WARDEN_OK);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.dup_key_id = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.dup_attr = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.sensitive_attr = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.bad_bool = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.bad_kind = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.no_private = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.zero_sig_len = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.bad_class = 1}), WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.token_false = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.trailing_byte = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.wrong_class_attr = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.num_keys_override = 3}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.num_keys_override = 1}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.num_keys_override = 100000}),
			 WARDEN_E_PROTOCOL);
	ck_assert_int_eq(parse_with(&(struct fake_hello_opts){.status = WARDEN_E_BUSY}),
			 WARDEN_E_BUSY);
}
END_TEST

START_TEST(test_hello_rejects_bad_token_facts)
{
	struct wire_buf b;
	struct wp11_token t;

	/* min_pin > max_pin */
	wire_buf_init(&b);
	wire_frame_begin(&b, WIRE_HELLO | WIRE_RESPONSE);
	wire_put_u32(&b, WARDEN_OK);
	wire_put_str(&b, "");
	wire_put_u64(&b, 1);
	for (int i = 0; i < 4; i++)
		wire_put_str(&b, "x");
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 9);
	wire_put_u32(&b, 4);
	wire_put_u64(&b, 100);
	wire_put_u32(&b, 0);
	ck_assert_int_eq(wire_frame_end(&b), 0);
	ck_assert_int_eq(wp11_hello_parse(b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN, &t),
			 WARDEN_E_PROTOCOL);
	/* the same with sane PIN bounds and no keys is fine */
	b.data[WIRE_HEADER_LEN + 4 + 4 + 8 + 4 * 5 + 4 + 3] = 4;      /* min_pin = 4 */
	b.data[WIRE_HEADER_LEN + 4 + 4 + 8 + 4 * 5 + 4 + 4 + 3] = 9;  /* max_pin = 9 */
	ck_assert_int_eq(wp11_hello_parse(b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN, &t),
			 WARDEN_OK);
	ck_assert_uint_eq(t.min_pin, 4);
	ck_assert_uint_eq(t.num_keys, 0);
	wp11_token_free(&t);
	/* max_data 0 */
	b.data[b.len - 4 - 1] = 0;
	ck_assert_int_eq(wp11_hello_parse(b.data + WIRE_HEADER_LEN, b.len - WIRE_HEADER_LEN, &t),
			 WARDEN_E_PROTOCOL);
	wire_buf_free(&b);
}
END_TEST

START_TEST(test_rv_from_status)
{
	static const struct {
		uint32_t st;
		CK_RV rv;
	} map[] = {
		{WARDEN_OK, CKR_OK},
		{WARDEN_E_PROTOCOL, CKR_DEVICE_ERROR},
		{WARDEN_E_INTERNAL, CKR_DEVICE_ERROR},
		{WARDEN_E_NOMEM, CKR_DEVICE_MEMORY},
		{WARDEN_E_DENIED, CKR_FUNCTION_REJECTED},
		{WARDEN_E_PIN_INCORRECT, CKR_PIN_INCORRECT},
		{WARDEN_E_PIN_LOCKED, CKR_PIN_LOCKED},
		{WARDEN_E_PIN_LEN, CKR_PIN_LEN_RANGE},
		{WARDEN_E_NOT_LOGGED_IN, CKR_USER_NOT_LOGGED_IN},
		{WARDEN_E_KEY, CKR_KEY_HANDLE_INVALID},
		{WARDEN_E_MECHANISM, CKR_MECHANISM_INVALID},
		{WARDEN_E_MECH_PARAM, CKR_MECHANISM_PARAM_INVALID},
		{WARDEN_E_DATA_LEN, CKR_DATA_LEN_RANGE},
		{WARDEN_E_DATA_INVALID, CKR_DATA_INVALID},
		{WARDEN_E_BACKEND, CKR_DEVICE_ERROR},
		{WARDEN_E_AUDIT, CKR_DEVICE_ERROR},
		{WARDEN_E_BUSY, CKR_DEVICE_ERROR},
		{WARDEN_E_USER_TYPE, CKR_USER_TYPE_INVALID},
		{WARDEN_E_STATUS_MAX + 1, CKR_DEVICE_ERROR},
		{0xffffffffu, CKR_DEVICE_ERROR},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		ck_assert_uint_eq(wp11_rv_from_status(map[i].st, "why"), map[i].rv);
	ck_assert_uint_eq(wp11_rv_from_status(WARDEN_E_DENIED, NULL), CKR_FUNCTION_REJECTED);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("module_hello");
	TCase *tc = tcase_create("hello");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hello_parses_the_token);
	tcase_add_test(tc, test_hello_rejects_every_truncation);
	tcase_add_test(tc, test_hello_survives_every_bit_flip);
	tcase_add_test(tc, test_hello_rejects_malformed_tokens);
	tcase_add_test(tc, test_hello_rejects_bad_token_facts);
	tcase_add_test(tc, test_rv_from_status);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
