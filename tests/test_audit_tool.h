/*
 * test_audit_tool.h - helpers shared by the tests that run the real warden-audit binary
 * (AUD_TEST_TOOL) on a log they write (test_audit_reconcile.c, test_audit_reconcile_rev.c).
 * Header only, static.
 */
#ifndef WARDEN_TEST_AUDIT_TOOL_H
#define WARDEN_TEST_AUDIT_TOOL_H

#include <sys/wait.h>

#include "test_audit_util.h"
#include "tests/policy/poltest.h"

#ifndef AUD_TEST_TOOL
#error "AUD_TEST_TOOL (the warden-audit binary) must be defined by the build"
#endif

static __attribute__((unused)) void at_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Opens a new log in logdir whose genesis records the key "ca" with ca's SPKI and, when
 * with_cert, its certificate (as the enclave records each key), after an AUD_F_TEXT when
 * text is not NULL. */
static __attribute__((unused)) struct aud_log *at_open_log(const char *logdir,
							    const struct pt_ca *ca,
							    bool with_cert, const char *text)
{
	struct aud_body b;
	struct aud_record g = {.type = AUD_T_GENESIS};
	struct aud_params p = {.dir = logdir, .genesis = &g};
	struct aud_open_report rep;
	struct aud_log *log;
	unsigned char *cert = NULL;
	char err[AUD_ERR_LEN];
	int n = i2d_X509(ca->cert, &cert);

	ck_assert_int_gt(n, 0);
	aud_body_init(&b);
	if (text != NULL)
		aud_put_str(&b, AUD_F_TEXT, text);
	aud_list_begin(&b, AUD_F_CA_KEY);
	aud_put_str(&b, AUD_F_KEY, "ca");
	aud_put_bytes(&b, AUD_F_KEY_SPKI, ca->spki, ca->spki_len);
	if (with_cert)
		aud_put_bytes(&b, AUD_F_CA_CERT, cert, (size_t)n);
	aud_list_end(&b);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	g.body = b.data;
	g.body_len = b.len;
	ck_assert_int_eq(aud_open(&p, &log, &rep, err, sizeof err), WARDEN_OK);
	aud_body_free(&b);
	OPENSSL_free(cert);
	return log;
}

/* Runs AUD_TEST_TOOL with argv (argv[0] first, NULL-terminated; the first NULL ends it),
 * its stdout through the file outpath into out (NUL-terminated, shorter than out_len).
 * Returns the exit status.  AUD_TEST_SHOW=1 prints the report while debugging. */
static __attribute__((unused)) int at_run(const char *outpath, char *const argv[], char *out,
					  size_t out_len)
{
	pid_t pid = fork();
	int st, fd;
	size_t len;
	uint8_t *p;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(100);
		execv(AUD_TEST_TOOL, argv);
		_exit(101);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	p = tu_read(outpath, &len);
	ck_assert_uint_lt(len, out_len);
	memcpy(out, p, len);
	out[len] = '\0';
	free(p);
	if (getenv("AUD_TEST_SHOW") != NULL)
		fprintf(stderr, "--- exit %d\n%s", WEXITSTATUS(st), out);
	return WEXITSTATUS(st);
}

/* How many times needle stands in out, not overlapping. */
static __attribute__((unused)) unsigned at_count(const char *out, const char *needle)
{
	unsigned n = 0;

	for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

#endif
