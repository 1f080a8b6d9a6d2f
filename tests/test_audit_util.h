/*
 * test_audit_util.h - helpers shared by the audit tests (header only, static).
 */
#ifndef WARDEN_TEST_AUDIT_UTIL_H
#define WARDEN_TEST_AUDIT_UTIL_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

static __attribute__((unused)) int tu_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static __attribute__((unused)) void tu_rmrf(const char *dir)
{
	(void)nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static __attribute__((unused)) char *tu_tmpdir(void)
{
	char *d = strdup("/tmp/warden-audit-test-XXXXXX");

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

/* A SIGN record body like the enclave's, numbered by i. */
static __attribute__((unused)) void tu_sign_body(struct aud_body *b, unsigned i, int allowed)
{
	uint8_t h[AUD_HASH_LEN], serial[8];
	char subj[64], san[64];

	memset(h, 0, sizeof h);
	h[0] = (uint8_t)i;
	h[1] = (uint8_t)(i >> 8);
	h[2] = (uint8_t)(i >> 16);
	for (unsigned k = 0; k < sizeof serial; k++)
		serial[k] = (uint8_t)(0x10 + i + k);
	snprintf(subj, sizeof subj, "CN=host%u.example.com", i);
	snprintf(san, sizeof san, "DNS:host%u.example.com", i);
	aud_body_init(b);
	aud_put_uint(b, AUD_F_DECISION, (uint64_t)allowed);
	aud_put_uint(b, AUD_F_REASON_CODE, allowed ? 0 : 7);
	aud_put_str(b, AUD_F_REASON, allowed ? "allowed by profile web" : "name not allowed");
	aud_put_str(b, AUD_F_KEY, "ca");
	aud_put_uint(b, AUD_F_MECHANISM, 0x1041); /* CKM_ECDSA_SHA256 */
	aud_put_uint(b, AUD_F_DATA_KIND, 1);
	aud_put_bytes(b, AUD_F_DATA_SHA256, h, sizeof h);
	aud_put_bytes(b, AUD_F_SERIAL, serial, sizeof serial);
	aud_put_str(b, AUD_F_SUBJECT, subj);
	aud_put_str(b, AUD_F_SAN, san);
	aud_put_int(b, AUD_F_NOT_BEFORE, 1700000000);
	aud_put_int(b, AUD_F_NOT_AFTER, 1700000000 + 86400 * 90);
	aud_put_str(b, AUD_F_PROFILE, "web");
	aud_put_uint(b, AUD_F_CALLER_UID, 998);
	aud_put_uint(b, AUD_F_CALLER_PID, 4242);
	aud_put_bytes(b, AUD_F_POLICY_SHA256, h, sizeof h);
	ck_assert_int_eq(aud_body_finish(b), WARDEN_OK);
}

static const uint8_t tu_genesis_body[] = {0x30, 0x2a, 0, 0, 0, 4, 'c', 'e', 'r', 'e'};

static __attribute__((unused)) struct aud_record tu_genesis(void)
{
	struct aud_record r = {.type = AUD_T_GENESIS, .body = tu_genesis_body,
			       .body_len = sizeof tu_genesis_body};
	/* AUD_F_TEXT "cere" */
	return r;
}

/* Appends n SIGN records and syncs them. */
static __attribute__((unused)) void tu_append_signs(struct aud_log *log, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		struct aud_body b;
		struct aud_record r = {.type = AUD_T_SIGN};
		uint64_t seq;

		tu_sign_body(&b, i, (int)(i % 3 != 0));
		r.body = b.data;
		r.body_len = b.len;
		ck_assert_int_eq(aud_append(log, &r, &seq), WARDEN_OK);
		ck_assert_int_eq(aud_sync(log, seq), WARDEN_OK);
		aud_body_free(&b);
	}
}

static __attribute__((unused)) void tu_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/", dir);

	ck_assert(n > 0 && (size_t)n + strlen(name) < len);
	memcpy(out + n, name, strlen(name) + 1);
}

static __attribute__((unused)) size_t tu_file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (size_t)st.st_size;
}

static __attribute__((unused)) uint8_t *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;

	ck_assert_ptr_nonnull(f);
	*len = tu_file_size(path);
	p = malloc(*len + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

/* Rewrites a file in place (no O_TRUNC: ext4 flushes a file truncated to 0 on close,
 * which makes the bit-flip loop crawl). */
static __attribute__((unused)) void tu_write(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, p, len, 0), (ssize_t)len);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	ck_assert_int_eq(close(fd), 0);
}

static __attribute__((unused)) enum aud_verdict tu_verify(const char *dir, const uint8_t *pub, const char *ckpt,
				  struct aud_scan_result *res)
{
	struct aud_scan_opts o = {.dir = dir, .pubkey = pub, .checkpoint_text = ckpt,
				  .checkpoint_len = ckpt ? strlen(ckpt) : 0};

	return aud_scan(&o, res);
}

#endif
