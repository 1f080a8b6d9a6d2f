/* test_pin.c - the user PIN's scrypt hash line (enclave/pin.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pin.h"

/* A fast line (ln=10) so that tests stay quick; made once per test. */
static const char *const known_line =
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n";

START_TEST(test_pin_make_then_verify)
{
	char line[PIN_HASH_LINE_MAX];
	ck_assert_int_eq(pin_hash_make("1234", 4, line, sizeof(line)), 0);
	ck_assert_int_eq(strncmp(line, "$scrypt$ln=15,r=8,p=1$", 22), 0);
	ck_assert_int_eq(line[strlen(line) - 1], '\n');
	ck_assert_int_eq(pin_hash_parse_check(line), 0);
	ck_assert_int_eq(pin_hash_verify(line, "1234", 4), 1);
	ck_assert_int_eq(pin_hash_verify(line, "1235", 4), 0);
	ck_assert_int_eq(pin_hash_verify(line, "12345", 5), 0);
	ck_assert_int_eq(pin_hash_verify(line, "123", 3), 0);
}
END_TEST

START_TEST(test_pin_salt_differs_between_hashes)
{
	char a[PIN_HASH_LINE_MAX], b[PIN_HASH_LINE_MAX];
	ck_assert_int_eq(pin_hash_make("secret-pin", 10, a, sizeof(a)), 0);
	ck_assert_int_eq(pin_hash_make("secret-pin", 10, b, sizeof(b)), 0);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_pin_make_rejects_bad_lengths)
{
	char line[PIN_HASH_LINE_MAX];
	char big[PIN_MAX_LEN + 2];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(pin_hash_make("123", 3, line, sizeof(line)), -1);
	ck_assert_int_eq(line[0], '\0');
	ck_assert_int_eq(pin_hash_make(big, PIN_MAX_LEN + 1, line, sizeof(line)), -1);
	ck_assert_int_eq(pin_hash_make("1234", 4, line, PIN_HASH_LINE_MAX - 1), -1);
}
END_TEST

START_TEST(test_pin_verify_pin_with_nul_bytes)
{
	char line[PIN_HASH_LINE_MAX];
	ck_assert_int_eq(pin_hash_make("ab\0cd", 5, line, sizeof(line)), 0);
	ck_assert_int_eq(pin_hash_verify(line, "ab\0cd", 5), 1);
	ck_assert_int_eq(pin_hash_verify(line, "ab", 2), 0);
}
END_TEST

START_TEST(test_pin_known_line_parses)
{
	ck_assert_int_eq(pin_hash_parse_check(known_line), 0);
	/* The hash is all zeros: no PIN matches it. */
	ck_assert_int_eq(pin_hash_verify(known_line, "1234", 4), 0);
}
END_TEST

static const char *const bad_lines[] = {
	"",
	"\n",
	"$scrypt$",
	"$bcrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	/* ln out of range, leading zero, missing fields */
	"$scrypt$ln=9,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=40,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=010,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=0,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=8$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=8,p=0$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	/* salt too short, odd hex, upper-case hex, not hex */
	"$scrypt$ln=10,r=8,p=1$0001$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090A0B0C0D0E0F$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0g$"
	"0000000000000000000000000000000000000000000000000000000000000000\n",
	/* hash too short, trailing data, two newlines */
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$00\n",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\nx",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000\n\n",
	"$scrypt$ln=10,r=8,p=1$000102030405060708090a0b0c0d0e0f$"
	"0000000000000000000000000000000000000000000000000000000000000000$\n",
};

START_TEST(test_pin_rejects_malformed_line)
{
	const char *line = bad_lines[_i];
	ck_assert_msg(pin_hash_parse_check(line) == -1, "accepted: %s", line);
	ck_assert_int_eq(pin_hash_verify(line, "1234", 4), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pin");
	TCase *tc = tcase_create("pin");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pin_make_then_verify);
	tcase_add_test(tc, test_pin_salt_differs_between_hashes);
	tcase_add_test(tc, test_pin_make_rejects_bad_lengths);
	tcase_add_test(tc, test_pin_verify_pin_with_nul_bytes);
	tcase_add_test(tc, test_pin_known_line_parses);
	tcase_add_loop_test(tc, test_pin_rejects_malformed_line, 0,
			    (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
