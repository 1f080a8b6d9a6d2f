/*
 * test_audit_format.c - the body TLV (build, walk, strict check), base64, UTF-8, names.
 */
#include "test_audit_util.h"

START_TEST(test_body_round_trip)
{
	struct aud_body b;
	struct aud_cur c;
	struct aud_field f;

	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, 1);
	aud_put_int(&b, AUD_F_NOT_AFTER, -5);
	aud_put_str(&b, AUD_F_SUBJECT, "CN=r\xc3\xa9sum\xc3\xa9");
	aud_put_bytes(&b, AUD_F_SERIAL, "\x00\x01", 2);
	aud_list_begin(&b, AUD_F_OCSP);
	aud_put_bytes(&b, AUD_F_SERIAL, "\x05", 1);
	aud_put_uint(&b, AUD_F_OCSP_STATUS, 1);
	aud_list_end(&b);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	ck_assert(aud_body_check(b.data, b.len, NULL, NULL));
	c = (struct aud_cur){b.data, b.len};
	ck_assert_int_eq(aud_field_next(&c, &f), 1);
	ck_assert_uint_eq(aud_field_uint(&f), 1);
	ck_assert_int_eq(aud_field_next(&c, &f), 1);
	ck_assert_int_eq(aud_field_int(&f), -5);
	ck_assert(aud_body_find(b.data, b.len, AUD_F_OCSP, &f));
	ck_assert(aud_body_find(f.val, f.len, AUD_F_OCSP_STATUS, &f));
	ck_assert_uint_eq(aud_field_uint(&f), 1);
	aud_body_free(&b);
}
END_TEST

START_TEST(test_body_builder_refuses_misuse)
{
	struct aud_body b;

	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_SUBJECT, 1); /* a STR tag given a UINT */
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_E_INTERNAL);
	aud_body_free(&b);
	aud_body_init(&b);
	aud_put_str(&b, AUD_F_SUBJECT, "bad\xc0\xaf"); /* overlong */
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_E_INTERNAL);
	aud_body_free(&b);
	aud_body_init(&b);
	aud_list_begin(&b, AUD_F_OCSP); /* unbalanced */
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_E_INTERNAL);
	aud_body_free(&b);
	aud_body_init(&b);
	for (unsigned i = 0; i <= AUD_MAX_DEPTH; i++)
		aud_list_begin(&b, AUD_F_OCSP);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_E_INTERNAL);
	aud_body_free(&b);
}
END_TEST

START_TEST(test_body_check_rejects_malformed)
{
	static const struct {
		const char *why;
		uint8_t b[16];
		size_t len;
	} bad[] = {
		{"uint of 3 bytes", {0x10, 1, 0, 0, 0, 3, 1, 2, 3}, 9},
		{"kind 0", {0x00, 1, 0, 0, 0, 0}, 6},
		{"kind 6", {0x60, 1, 0, 0, 0, 0}, 6},
		{"number 0", {0x30, 0, 0, 0, 0, 0}, 6},
		{"length past end", {0x30, 3, 0, 0, 0, 9, 'a'}, 7},
		{"short header", {0x30, 3, 0}, 3},
		{"NUL in string", {0x30, 3, 0, 0, 0, 2, 'a', 0}, 8},
		{"newline in string", {0x30, 3, 0, 0, 0, 2, 'a', '\n'}, 8},
		{"surrogate", {0x30, 3, 0, 0, 0, 3, 0xed, 0xa0, 0x80}, 9},
		{"bad list inside", {0x50, 23, 0, 0, 0, 3, 0x10, 1, 0}, 9},
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!aud_body_check(bad[i].b, bad[i].len, NULL, NULL), "accepted: %s",
			      bad[i].why);
	ck_assert(aud_body_check(NULL, 0, NULL, NULL));
}
END_TEST

START_TEST(test_base64_strict)
{
	uint8_t in[40] = {0}, out[40];
	char enc[64];
	size_t n;

	for (size_t len = 0; len < sizeof in; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i * 37 + len);
		aud_b64_encode(in, len, enc);
		if (len == 0)
			continue;
		ck_assert(aud_b64_decode(enc, strlen(enc), out, sizeof out, &n));
		ck_assert_uint_eq(n, len);
		ck_assert_int_eq(memcmp(in, out, len), 0);
	}
	ck_assert(!aud_b64_decode("QQ", 2, out, sizeof out, &n));      /* no padding */
	ck_assert(!aud_b64_decode("QR==", 4, out, sizeof out, &n));    /* non-zero pad bits */
	ck_assert(!aud_b64_decode("Q===", 4, out, sizeof out, &n));
	ck_assert(!aud_b64_decode("QQ==QQ==", 8, out, sizeof out, &n)); /* padding inside */
	ck_assert(!aud_b64_decode("QQ\n=", 4, out, sizeof out, &n));
	ck_assert(aud_b64_decode("QQ==", 4, out, sizeof out, &n) && n == 1 && out[0] == 'A');
}
END_TEST

START_TEST(test_names_are_unique_and_kinds_match)
{
	for (unsigned num = 1; num <= AUD_F_MAX_NUM; num++) {
		unsigned found = 0;

		for (unsigned kind = AUD_K_UINT; kind <= AUD_K_LIST; kind++) {
			const char *n = aud_tag_name(AUD_TAG(kind, num));

			if (n != NULL) {
				found++;
				ck_assert_uint_eq(aud_tag_by_name(n), AUD_TAG(kind, num));
			}
		}
		ck_assert_msg(found == 1, "field %u named %u times", num, found);
	}
	ck_assert_str_eq(aud_type_str(AUD_T_SIGN), "sign");
	ck_assert_ptr_null(aud_type_str(999));
	char name[AUD_FILE_NAME_LEN];
	aud_file_name(42, name);
	ck_assert_str_eq(name, "audit-00000000000000000042.log");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_format");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, test_body_round_trip);
	tcase_add_test(tc, test_body_builder_refuses_misuse);
	tcase_add_test(tc, test_body_check_rejects_malformed);
	tcase_add_test(tc, test_base64_strict);
	tcase_add_test(tc, test_names_are_unique_and_kinds_match);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
