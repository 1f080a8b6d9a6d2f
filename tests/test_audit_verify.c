/*
 * test_audit_verify.c - the verifier finds every kind of damage and names the right
 * offset: every bit of a small log flipped, every byte of a record changed, records
 * deleted, reordered, duplicated, truncated, a file header altered.
 */
#include "test_audit_util.h"

#define NUM_SIGNS 4u

struct fixture {
	char *dir;
	char path[AUD_MAX_PATH];
	uint8_t *orig;
	size_t len;
	uint64_t rec_off[NUM_SIGNS + 2]; /* record starts, then the end of data */
	size_t num_rec;
	uint64_t data_end;
};

static void build(struct fixture *f)
{
	static struct aud_record g;
	struct aud_params p = {.prealloc_bytes = 8};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	struct aud_scan_result res;
	char err[AUD_ERR_LEN], name[AUD_FILE_NAME_LEN];

	memset(f, 0, sizeof *f);
	f->dir = tu_tmpdir();
	g = tu_genesis();
	p.dir = f->dir;
	p.genesis = &g;
	ck_assert_msg(aud_open(&p, &log, &rep, err, sizeof err) == WARDEN_OK, "%s", err);
	tu_append_signs(log, 1, NUM_SIGNS);
	aud_close(log);
	aud_file_name(0, name);
	tu_path(f->path, sizeof f->path, f->dir, name);
	f->orig = tu_read(f->path, &f->len);
	ck_assert_int_eq(tu_verify(f->dir, NULL, NULL, &res), AUD_V_OK);
	f->data_end = res.good_end;
	for (uint64_t off = AUD_FILE_HDR_LEN; off < f->data_end;) {
		f->rec_off[f->num_rec++] = off;
		off += (uint64_t)f->orig[off] << 24 | (uint64_t)f->orig[off + 1] << 16 |
		       (uint64_t)f->orig[off + 2] << 8 | f->orig[off + 3];
	}
	f->rec_off[f->num_rec] = f->data_end;
	ck_assert_uint_eq(f->num_rec, NUM_SIGNS + 1);
}

static void done(struct fixture *f)
{
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->orig);
}

/* Where the verifier must point for damage at byte i. */
static uint64_t expected_offset(const struct fixture *f, uint64_t i)
{
	if (i < AUD_FILE_HDR_LEN)
		return 0;
	if (i >= f->data_end)
		return i < f->data_end + 4 ? f->data_end : i;
	for (size_t k = f->num_rec; k-- > 0;)
		if (i >= f->rec_off[k])
			return f->rec_off[k];
	return 0;
}

START_TEST(test_flip_every_bit_of_a_small_log)
{
	struct fixture f;
	struct aud_scan_result res;
	uint8_t *d;

	build(&f);
	d = malloc(f.len);
	for (size_t i = 0; i < f.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(d, f.orig, f.len);
			d[i] ^= (uint8_t)(1u << bit);
			tu_write(f.path, d, f.len);
			enum aud_verdict v = tu_verify(f.dir, NULL, NULL, &res);

			ck_assert_msg(v != AUD_V_OK, "flip of byte %zu bit %u not detected", i, bit);
			ck_assert_msg(res.offset == expected_offset(&f, i),
				      "byte %zu bit %u: reported offset %llu (%s), expected %llu", i,
				      bit, (unsigned long long)res.offset, res.what,
				      (unsigned long long)expected_offset(&f, i));
			/* What verified is exactly what precedes the damaged record. */
			if (i >= AUD_FILE_HDR_LEN && i < f.data_end)
				ck_assert_uint_eq(res.good_end, expected_offset(&f, i));
		}
	}
	free(d);
	done(&f);
}
END_TEST

START_TEST(test_change_every_byte_of_a_record)
{
	struct fixture f;
	struct aud_scan_result res;
	uint8_t *d;
	const size_t k = 2; /* a sign record in the middle */

	build(&f);
	d = malloc(f.len);
	for (uint64_t i = f.rec_off[k]; i < f.rec_off[k + 1]; i++) {
		memcpy(d, f.orig, f.len);
		d[i] ^= 0xff;
		tu_write(f.path, d, f.len);
		ck_assert_int_ne(tu_verify(f.dir, NULL, NULL, &res), AUD_V_OK);
		ck_assert_uint_eq(res.offset, f.rec_off[k]);
		ck_assert_uint_eq(res.num_records, k);
		ck_assert_str_eq(res.file, "audit-00000000000000000000.log");
	}
	free(d);
	done(&f);
}
END_TEST

/* Writes a log made of the header and the given records (by index), then zeros. */
static void rewrite(struct fixture *f, const size_t *order, size_t n)
{
	uint8_t *d = calloc(1, f->len + f->data_end);
	size_t o = AUD_FILE_HDR_LEN;

	memcpy(d, f->orig, AUD_FILE_HDR_LEN);
	for (size_t i = 0; i < n; i++) {
		size_t k = order[i], l = (size_t)(f->rec_off[k + 1] - f->rec_off[k]);

		memcpy(d + o, f->orig + f->rec_off[k], l);
		o += l;
	}
	tu_write(f->path, d, o > f->len ? o : f->len);
	free(d);
}

START_TEST(test_deleted_record_detected)
{
	struct fixture f;
	struct aud_scan_result res;
	static const size_t order[] = {0, 1, 3, 4};

	build(&f);
	rewrite(&f, order, 4);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_BAD_SEQ);
	ck_assert_uint_eq(res.offset, f.rec_off[2]);
	ck_assert_uint_eq(res.num_records, 2);
	done(&f);
}
END_TEST

START_TEST(test_reordered_records_detected)
{
	struct fixture f;
	struct aud_scan_result res;
	static const size_t order[] = {0, 1, 3, 2, 4};

	build(&f);
	rewrite(&f, order, 5);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_BAD_SEQ);
	ck_assert_uint_eq(res.offset, f.rec_off[2]);
	done(&f);
}
END_TEST

START_TEST(test_duplicated_record_detected)
{
	struct fixture f;
	struct aud_scan_result res;
	static const size_t order[] = {0, 1, 2, 2, 3, 4};

	build(&f);
	rewrite(&f, order, 6);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_BAD_SEQ);
	ck_assert_uint_eq(res.offset, f.rec_off[3]);
	ck_assert_uint_eq(res.num_records, 3);
	done(&f);
}
END_TEST

START_TEST(test_truncated_record_detected)
{
	struct fixture f;
	struct aud_scan_result res;

	build(&f);
	/* The file ends inside the last record. */
	tu_write(f.path, f.orig, (size_t)f.rec_off[4] + 10);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_SHORT);
	ck_assert_uint_eq(res.offset, f.rec_off[4]);
	ck_assert(res.in_last_file);
	/* A whole-record cut at a boundary is only visible against a checkpoint
	 * (test_audit_checkpoint): the log itself ends cleanly. */
	tu_write(f.path, f.orig, (size_t)f.rec_off[4]);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_OK);
	ck_assert_uint_eq(res.num_records, 4);
	done(&f);
}
END_TEST

START_TEST(test_first_file_must_start_the_log)
{
	struct fixture f;
	struct aud_scan_result res;
	char other[AUD_MAX_PATH], name[AUD_FILE_NAME_LEN];

	build(&f);
	aud_file_name(5, name);
	tu_path(other, sizeof other, f.dir, name);
	ck_assert_int_eq(rename(f.path, other), 0);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_BAD_FILE);
	ck_assert_str_eq(res.file, name);
	ck_assert_int_eq(unlink(other), 0);
	ck_assert_int_eq(tu_verify(f.dir, NULL, NULL, &res), AUD_V_EMPTY);
	done(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_verify");
	TCase *tc = tcase_create("verify");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_flip_every_bit_of_a_small_log);
	tcase_add_test(tc, test_change_every_byte_of_a_record);
	tcase_add_test(tc, test_deleted_record_detected);
	tcase_add_test(tc, test_reordered_records_detected);
	tcase_add_test(tc, test_duplicated_record_detected);
	tcase_add_test(tc, test_truncated_record_detected);
	tcase_add_test(tc, test_first_file_must_start_the_log);
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
