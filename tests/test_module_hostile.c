/*
 * test_module_hostile.c - the module against something that is not a well-behaved
 * enclave: a socket served by the wrong uid (module.conf enclave_uid), and an enclave
 * that announces an oversized answer.  The server here is a thread of the test; its
 * HELLO is the fake enclave's (tests/test_module_fake.c).
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test_module_fake.h"
#include "wp11.h"

#define DIR_TEMPLATE "/tmp/warden-test-hostile.XXXXXX"
#define HOSTILE_TIMEOUT_S 3
#define HUGE_BODY (50u * 1024u * 1024u)

enum hostile_mode { MODE_GOOD, MODE_HUGE_STATUS };

static struct {
	char dir[sizeof(DIR_TEMPLATE)];
	char sock[256];
	char conf[256];
	int lfd;
	pthread_t thread;
	enum hostile_mode mode;
	int stop_pipe[2];
	int requests; /* frames received, all connections */
} srv;

static int read_exact(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Serves one connection: HELLO properly, then per mode. */
static void serve(int fd)
{
	for (;;) {
		uint8_t hdr[WIRE_HEADER_LEN], body[4096];
		struct wire_header h;
		struct wire_buf b;
		if (read_exact(fd, hdr, sizeof(hdr)) != 0 || wire_header_parse(hdr, &h) != 0 ||
		    h.body_len > sizeof(body) || read_exact(fd, body, h.body_len) != 0)
			return;
		__atomic_add_fetch(&srv.requests, 1, __ATOMIC_SEQ_CST);
		wire_buf_init(&b);
		if (h.type == WIRE_HELLO) {
			struct fake_hello_opts o = {0};
			fake_hello_build(&b, &o, 42, 1024 * 1024);
		} else if (srv.mode == MODE_HUGE_STATUS) {
			/* A header promising 50 MiB, then nothing. */
			wire_frame_begin(&b, (uint8_t)(h.type | WIRE_RESPONSE));
			b.data[0] = (uint8_t)(HUGE_BODY >> 24);
			b.data[1] = (uint8_t)(HUGE_BODY >> 16);
			b.data[2] = (uint8_t)(HUGE_BODY >> 8);
			b.data[3] = (uint8_t)HUGE_BODY;
		} else {
			wire_frame_begin(&b, (uint8_t)(h.type | WIRE_RESPONSE));
			wire_put_u32(&b, WARDEN_OK);
			wire_put_str(&b, "");
			wire_put_u32(&b, 0);
			(void)!wire_frame_end(&b);
		}
		(void)!send(fd, b.data, b.len, MSG_NOSIGNAL);
		wire_buf_free(&b);
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{srv.lfd, POLLIN, 0}, {srv.stop_pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 || (p[1].revents & POLLIN))
			return NULL;
		int fd = accept(srv.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd); /* one at a time is enough here */
		close(fd);
	}
}

static void write_conf(const char *extra)
{
	FILE *f = fopen(srv.conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "socket = %s\nlog = stderr\nlog_level = error\ntimeout = %d\n%s", srv.sock,
		HOSTILE_TIMEOUT_S, extra);
	fclose(f);
	setenv("WARDEN_CONF", srv.conf, 1);
}

static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memset(&srv, 0, sizeof(srv));
	memcpy(srv.dir, DIR_TEMPLATE, sizeof(DIR_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(srv.dir));
	snprintf(srv.sock, sizeof(srv.sock), "%s/enclave.sock", srv.dir);
	snprintf(srv.conf, sizeof(srv.conf), "%s/module.conf", srv.dir);
	strcpy(sa.sun_path, srv.sock);
	srv.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(srv.lfd, 0);
	ck_assert_int_eq(bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(srv.lfd, 8), 0);
	ck_assert_int_eq(pipe(srv.stop_pipe), 0);
	ck_assert_int_eq(pthread_create(&srv.thread, NULL, server_main, NULL), 0);
}

static void teardown(void)
{
	(void)!write(srv.stop_pipe[1], "x", 1);
	pthread_join(srv.thread, NULL);
	close(srv.lfd);
	close(srv.stop_pipe[0]);
	close(srv.stop_pipe[1]);
	unlink(srv.sock);
	unlink(srv.conf);
	rmdir(srv.dir);
}

static CK_ULONG present_slots(void)
{
	CK_ULONG n = 99;
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	return n;
}

START_TEST(test_enclave_uid_matching_is_used)
{
	char extra[64];
	snprintf(extra, sizeof(extra), "enclave_uid = %u\n", (unsigned)getuid());
	write_conf(extra);
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_uint_eq(present_slots(), 1);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(test_enclave_served_by_another_uid_gets_nothing)
{
	char extra[64];
	snprintf(extra, sizeof(extra), "enclave_uid = %u\n", (unsigned)getuid() + 4242u);
	write_conf(extra);
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_uint_eq(present_slots(), 0);
	/* Not one byte (no HELLO, so never a PIN) went to the impostor. */
	ck_assert_int_eq(__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST), 0);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(test_malformed_enclave_uid_trusts_no_enclave)
{
	write_conf("enclave_uid = warden\n");
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_uint_eq(present_slots(), 0);
	ck_assert_int_eq(__atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST), 0);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(test_conf_parses_enclave_uid)
{
	struct wp11_conf c;
	memset(&c, 0, sizeof(c));
	c.enclave_uid = WP11_ENCLAVE_UID_ANY;
	ck_assert_int_eq(wp11_conf_parse(&c, "enclave_uid = 998\n"), 0);
	ck_assert_int_eq(c.enclave_uid, 998);
	ck_assert_int_eq(wp11_conf_parse(&c, "enclave_uid = -3\n"), 1);
	ck_assert_int_eq(c.enclave_uid, WP11_ENCLAVE_UID_BAD);
	ck_assert_int_eq(wp11_conf_parse(&c, "enclave_uid = 4294967295\n"), 1);
	ck_assert_int_eq(c.enclave_uid, WP11_ENCLAVE_UID_BAD);
}
END_TEST

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(test_oversized_answer_refused_before_allocation)
{
	CK_TOKEN_INFO ti;
	srv.mode = MODE_HUGE_STATUS;
	write_conf("");
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK); /* HELLO: fine */
	int64_t t0 = now_ms();
	/* C_GetTokenInfo asks STATUS; the answer announces 50 MiB and never sends them.
	 * The module must refuse the header at once (not allocate and wait out its
	 * timeout), and still answer from HELLO's facts. */
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	int64_t ms = now_ms() - t0;
	ck_assert_msg(ms < HOSTILE_TIMEOUT_S * 1000 / 2, "took %lld ms", (long long)ms);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("module_hostile");
	TCase *tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_enclave_uid_matching_is_used);
	tcase_add_test(tc, test_enclave_served_by_another_uid_gets_nothing);
	tcase_add_test(tc, test_malformed_enclave_uid_trusts_no_enclave);
	tcase_add_test(tc, test_conf_parses_enclave_uid);
	tcase_add_test(tc, test_oversized_answer_refused_before_allocation);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
