/*
 * test_audit_checkpoint.c - the audit key, signed checkpoint records and the C2SP
 * checkpoint file: signatures verify with the right key and not a wrong one, the note
 * parses back, truncation beyond the last checkpoint is detected against it.
 */
#include "test_audit_util.h"

struct keys {
	char dir[64];
	char priv[128], pub[128];
	uint8_t raw[AUD_ED25519_LEN];
	char name[AUD_ORIGIN_MAX];
};

static void make_keys(struct keys *k, const char *dir, const char *tag)
{
	char err[AUD_ERR_LEN];

	snprintf(k->priv, sizeof k->priv, "%s/%s.key", dir, tag);
	snprintf(k->pub, sizeof k->pub, "%s/%s.pub", dir, tag);
	ck_assert_msg(aud_keygen(k->priv, k->pub, err, sizeof err) == WARDEN_OK, "%s", err);
	ck_assert_int_eq(aud_pubkey_load(k->pub, k->name, k->raw, err, sizeof err), WARDEN_OK);
}

static struct aud_log *open_signed(const char *logdir, const struct keys *k, uint32_t every)
{
	static struct aud_record g;
	struct aud_params p = {.dir = logdir, .key_file = k->priv, .checkpoint_records = every};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	char err[AUD_ERR_LEN];

	g = tu_genesis();
	p.genesis = &g;
	ck_assert_msg(aud_open(&p, &log, &rep, err, sizeof err) == WARDEN_OK, "%s", err);
	return log;
}

static char *read_text(const char *path)
{
	size_t len;
	uint8_t *p = tu_read(path, &len);

	p[len] = '\0';
	return (char *)p;
}

START_TEST(test_keygen_files_and_pubkey_form)
{
	char *dir = tu_tmpdir();
	struct keys k;
	struct stat st;
	char err[AUD_ERR_LEN], *line;

	make_keys(&k, dir, "audit");
	ck_assert_int_eq(stat(k.priv, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	line = read_text(k.pub);
	ck_assert_ptr_nonnull(strstr(line, AUD_ORIGIN_PREFIX));
	ck_assert_int_eq(strncmp(line, k.name, strlen(k.name)), 0);
	/* Wrong key id, or one changed character of the key: refused. */
	char *plus = strchr(line, '+');
	plus[1] = plus[1] == '0' ? '1' : '0';
	ck_assert(!aud_pubkey_parse(line, strlen(line), k.name, k.raw));
	free(line);
	/* An existing file is never overwritten. */
	ck_assert_int_eq(aud_keygen(k.priv, k.pub, err, sizeof err), WARDEN_E_INTERNAL);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_checkpoints_signed_and_verified)
{
	char *dir = tu_tmpdir(), logdir[128], ck[256];
	struct keys good, bad;
	struct aud_scan_result res;
	struct aud_log *log;
	struct aud_note *n = malloc(sizeof *n);
	char *text;

	make_keys(&good, dir, "good");
	make_keys(&bad, dir, "bad");
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	ck_assert_int_eq(mkdir(logdir, 0700), 0);
	log = open_signed(logdir, &good, 10);
	ck_assert_str_eq(aud_origin(log), good.name);
	tu_append_signs(log, 1, 35);
	ck_assert_int_eq(aud_shutdown(log, "test"), WARDEN_OK);
	aud_close(log);

	/* Right key: every checkpoint record verifies, the file matches. */
	tu_path(ck, sizeof ck, logdir, AUD_CHECKPOINT_FILE);
	text = read_text(ck);
	ck_assert_int_eq(tu_verify(logdir, good.raw, text, &res), AUD_V_OK);
	ck_assert_uint_ge(res.num_checkpoints, 4);
	ck_assert(res.checkpoint_checked);

	/* The note parses back: origin, size (all records before the last checkpoint),
	 * head, one signature by the key. */
	ck_assert(aud_note_parse(text, strlen(text), n));
	ck_assert_uint_eq(n->origin_len, strlen(good.name));
	ck_assert_int_eq(memcmp(n->origin, good.name, n->origin_len), 0);
	ck_assert_uint_eq(n->size, res.num_records - 1);
	ck_assert_uint_eq(n->num_sigs, 1);
	ck_assert_uint_eq(n->sigs[0].keyid, aud_note_keyid(good.name, good.raw));
	ck_assert_int_eq(aud_note_verify(n, good.name, good.raw), 1);
	ck_assert_int_eq(aud_note_verify(n, good.name, bad.raw), -1); /* other key id */
	ck_assert_int_eq(aud_note_verify(n, bad.name, bad.raw), -1);

	/* Wrong key: the first checkpoint record fails. */
	ck_assert_int_eq(tu_verify(logdir, bad.raw, NULL, &res), AUD_V_BAD_CHECKPOINT);
	ck_assert_ptr_nonnull(strstr(res.what, "signature"));
	ck_assert_uint_eq(res.num_records, 10); /* genesis + 9 signs verified before it */
	/* A checkpoint file checked with the wrong key is refused outright. */
	ck_assert_int_eq(tu_verify(logdir, bad.raw, text, &res), AUD_V_BAD_CHECKPOINT);

	/* A forged note (size changed) no longer verifies. */
	char *nl = strchr(text, '\n');
	nl[1] = nl[1] == '9' ? '8' : '9';
	ck_assert_int_eq(tu_verify(logdir, good.raw, text, &res), AUD_V_BAD_CHECKPOINT);
	free(text);

	/* Reopening with the other key: refused (the genesis names the audit key). */
	struct aud_params p = {.dir = logdir, .key_file = bad.priv};
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_msg(strstr(err, "signature") != NULL, "%s", err);
	/* Without checkpoint.txt, the genesis record's key is what refuses it. */
	tu_path(ck, sizeof ck, logdir, AUD_CHECKPOINT_FILE);
	ck_assert_int_eq(unlink(ck), 0);
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_msg(strstr(err, "genesis") != NULL, "%s", err);
	free(n);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_truncation_beyond_checkpoint_detected)
{
	char *dir = tu_tmpdir(), logdir[128], ck[256], path[AUD_MAX_PATH], name[AUD_FILE_NAME_LEN];
	struct keys k;
	struct aud_scan_result res;
	struct aud_log *log;
	char *text, err[AUD_ERR_LEN];

	make_keys(&k, dir, "audit");
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	ck_assert_int_eq(mkdir(logdir, 0700), 0);
	log = open_signed(logdir, &k, 1000);
	tu_append_signs(log, 1, 20);
	ck_assert_int_eq(aud_checkpoint(log), WARDEN_OK);
	aud_close(log);
	tu_path(ck, sizeof ck, logdir, AUD_CHECKPOINT_FILE);
	text = read_text(ck);
	ck_assert_int_eq(tu_verify(logdir, k.raw, text, &res), AUD_V_OK);
	uint64_t ck_end = res.good_end;

	/* Cut the checkpoint record and the last sign record, and zero their bytes: the
	 * log alone still verifies (a clean end), but not against the checkpoint. */
	aud_file_name(0, name);
	tu_path(path, sizeof path, logdir, name);
	size_t len;
	uint8_t *data = tu_read(path, &len);
	ck_assert_int_eq(tu_verify(logdir, k.raw, NULL, &res), AUD_V_OK);
	uint64_t cut_at = ck_end - 1;
	/* Walk to the start of the second-to-last record. */
	uint64_t off = AUD_FILE_HDR_LEN, prev = 0, prev2 = 0;
	while (off < ck_end) {
		uint32_t n = (uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16 |
			     (uint32_t)data[off + 2] << 8 | data[off + 3];
		prev2 = prev;
		prev = off;
		off += n;
	}
	cut_at = prev2;
	memset(data + cut_at, 0, len - cut_at);
	tu_write(path, data, len);
	free(data);
	ck_assert_int_eq(tu_verify(logdir, k.raw, NULL, &res), AUD_V_OK);
	ck_assert_int_eq(tu_verify(logdir, k.raw, text, &res), AUD_V_TRUNCATED);
	ck_assert_ptr_nonnull(strstr(res.what, "truncated"));

	/* The writer refuses to open it too (checkpoint.txt is beside the log). */
	struct aud_params p = {.dir = logdir, .key_file = k.priv};
	struct aud_open_report rep;
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_E_AUDIT);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	free(text);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_note_parser_rejects_malformed)
{
	static const char *const bad[] = {
		"",
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",           /* no sigs */
		"origin\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k AAAAAAA=\n",
		"origin\n1\nAAAA\n\n\xe2\x80\x94 k AAAAAAA=\n",                       /* short hash */
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n- k AAAAAAA=\n",
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k+x AAAAAAA=\n",
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k AAAAAAA=",
		"orig\tin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k AAAAAAA=\n",
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n\xe2\x80\x94 k AAAAAAA=\n",
		"origin\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	};
	static const char good[] =
		"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n\n\xe2\x80\x94 k AAAAAAA=\n";
	struct aud_note *n = malloc(sizeof *n);

	ck_assert(aud_note_parse(good, strlen(good), n));
	ck_assert_uint_eq(n->num_ext, 1);
	ck_assert_uint_eq(n->size, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!aud_note_parse(bad[i], strlen(bad[i]), n), "accepted case %zu", i);
	free(n);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_checkpoint");
	TCase *tc = tcase_create("checkpoint");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keygen_files_and_pubkey_form);
	tcase_add_test(tc, test_checkpoints_signed_and_verified);
	tcase_add_test(tc, test_truncation_beyond_checkpoint_detected);
	tcase_add_test(tc, test_note_parser_rejects_malformed);
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
