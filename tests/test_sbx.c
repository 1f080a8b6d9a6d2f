/*
 * test_sbx.c - the enclave's sandbox (enclave/sbx.c), in forked children:
 *  - Landlock alone (sbx_landlock_restrict): outside the allowed directory nothing can
 *    be read, written, created, truncated, renamed or linked in or out, or executed;
 *    with the kernel's ABI, TCP connect and signals to other processes are refused too;
 *    inside, the files the enclave keeps (PIN state, token files) work.
 *  - the whole sandbox (sbx_enter): a signal to another process is refused.
 * Landlock applies to root too, so running as root (as CI does) proves the rules.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/sysinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enc.h"
#include "sbx.h"

#define DIR_TEMPLATE "/tmp/warden-test-sbx.XXXXXX"
#define CHILD_FAILED 90 /* + the number of the failed check */

static char top[sizeof(DIR_TEMPLATE)];
static char in_dir[sizeof(DIR_TEMPLATE) + 8];
static char out_dir[sizeof(DIR_TEMPLATE) + 8];

static void path(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void write_file(const char *dir, const char *name)
{
	char p[256];
	path(p, sizeof(p), dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("contents\n", f);
	fclose(f);
}

static void setup(void)
{
	memcpy(top, DIR_TEMPLATE, sizeof(DIR_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(in_dir, sizeof(in_dir), "%s/in", top);
	snprintf(out_dir, sizeof(out_dir), "%s/out", top);
	ck_assert_int_eq(mkdir(in_dir, 0700), 0);
	ck_assert_int_eq(mkdir(out_dir, 0700), 0);
	write_file(in_dir, "state");
	write_file(in_dir, "moveme");
	write_file(out_dir, "secret");
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	ck_assert_int_eq(system(cmd), 0);
}

/* Runs fn in a child; returns its wait status. */
static int in_child(int (*fn)(void))
{
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p == 0)
		_exit(fn());
	int status;
	ck_assert_int_eq(waitpid(p, &status, 0), p);
	return status;
}

/* Each check: the call must fail with one of the errnos given (0 ends the list). */
#define DENIED(n, call, ...)                                                              \
	do {                                                                              \
		errno = 0;                                                                \
		long r_ = (long)(call);                                                   \
		int e_ = errno, ok_ = 0;                                                  \
		const int want_[] = {__VA_ARGS__, 0};                                     \
		for (size_t i_ = 0; want_[i_] != 0; i_++)                                 \
			ok_ |= r_ < 0 && e_ == want_[i_];                                 \
		if (!ok_) {                                                               \
			fprintf(stderr, "check %d: %s gave %ld (%s)\n", n, #call, r_,     \
				strerror(e_));                                            \
			return CHILD_FAILED + (n);                                        \
		}                                                                         \
	} while (0)
#define ALLOWED(n, call)                                                                  \
	do {                                                                              \
		errno = 0;                                                                \
		if ((long)(call) < 0) {                                                   \
			fprintf(stderr, "check %d: %s failed: %s\n", n, #call,            \
				strerror(errno));                                         \
			return CHILD_FAILED + (n);                                        \
		}                                                                         \
	} while (0)

static int landlock_child(void)
{
	struct sbx_config sc = {.rw_paths = {in_dir}, .num_rw_paths = 1};
	char err[ENC_ERR_LEN], a[256], b[256], c[256];
	int abi;
	pid_t parent = getppid();

	if (sbx_landlock_restrict(&sc, &abi, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (abi == 0)
		return 77; /* no Landlock: the caller skips */
	path(a, sizeof(a), out_dir, "secret");
	DENIED(1, open(a, O_RDONLY | O_CLOEXEC), EACCES);
	DENIED(2, open(a, O_WRONLY | O_CLOEXEC), EACCES);
	DENIED(3, open(a, O_RDWR | O_APPEND | O_CLOEXEC), EACCES);
	path(b, sizeof(b), out_dir, "new");
	DENIED(4, open(b, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), EACCES);
	DENIED(5, open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), EACCES);
	DENIED(6, open("/etc/passwd", O_RDONLY | O_CLOEXEC), EACCES);
	if (abi >= 3) /* before ABI 3 the kernel cannot refuse truncate(2) */
		DENIED(7, truncate(a, 0), EACCES);
	path(b, sizeof(b), in_dir, "moveme");
	path(c, sizeof(c), out_dir, "moved");
	DENIED(8, rename(b, c), EACCES, EXDEV);
	path(c, sizeof(c), in_dir, "stolen");
	DENIED(9, rename(a, c), EACCES, EXDEV);
	DENIED(10, link(a, c), EACCES, EXDEV);
	DENIED(11, unlink(a), EACCES);
	DENIED(12, mkdir(c, 0700), EACCES);
	DENIED(13, symlink(a, c), EACCES);
	char *argv[] = {"/bin/true", NULL};
	DENIED(14, execve(argv[0], argv, environ), EACCES);
	if (abi >= 4) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		DENIED(15, connect(s, (struct sockaddr *)&sin, sizeof(sin)), EACCES);
		close(s);
	}
	if (abi >= 6)
		DENIED(16, kill(parent, 0), EPERM);

	/* Inside: what the enclave does with its state and token files. */
	path(a, sizeof(a), in_dir, "state");
	path(b, sizeof(b), in_dir, "state.tmp");
	int fd = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ALLOWED(20, fd);
	ALLOWED(21, write(fd, "x\n", 2));
	ALLOWED(22, fsync(fd));
	close(fd);
	ALLOWED(23, rename(b, a));
	ALLOWED(24, truncate(a, 1));
	fd = open(a, O_RDONLY | O_CLOEXEC);
	ALLOWED(25, fd);
	close(fd);
	ALLOWED(26, unlink(a));
	return 0;
}

START_TEST(test_landlock_confines_files_network_and_signals)
{
	int status = in_child(landlock_child);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		return; /* kernel without Landlock */
	ck_assert_msg(WEXITSTATUS(status) == 0, "check %d failed (see stderr)",
		      WEXITSTATUS(status) - CHILD_FAILED);
}
END_TEST

static pid_t victim;

static int sandboxed_signal_child(void)
{
	struct sbx_config sc = {.rw_paths = {in_dir}, .num_rw_paths = 1};
	char err[ENC_ERR_LEN];
	if (sbx_enter(&sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* Another process of the same uid: refused (EPERM) or the sandbox kills us. */
	long r = syscall(SYS_tgkill, (long)victim, (long)victim, 0L);
	return r == 0 ? 1 : 0;
}

START_TEST(test_sandbox_cannot_signal_another_process)
{
	victim = fork();
	ck_assert_int_ge(victim, 0);
	if (victim == 0) {
		pause();
		_exit(0);
	}
	int status = in_child(sandboxed_signal_child);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	ck_assert_msg((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
			      (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS),
		      "the sandboxed child signalled another process (status 0x%x)", status);
}
END_TEST

static int sandboxed_own_thread_signal_child(void)
{
	struct sbx_config sc = {.rw_paths = {in_dir}, .num_rw_paths = 1};
	char err[ENC_ERR_LEN];
	if (sbx_enter(&sc, err, sizeof(err)) != 0)
		return 2;
	/* Our own thread group: allowed (abort() and pthread_kill need it). */
	pid_t me = getpid();
	return syscall(SYS_tgkill, (long)me, (long)syscall(SYS_gettid), 0L) == 0 ? 0 : 1;
}

START_TEST(test_sandbox_can_signal_its_own_threads)
{
	int status = in_child(sandboxed_own_thread_signal_child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
}
END_TEST

/* glibc's malloc calls get_nprocs() (sched_getaffinity, after /sys and /proc, which
 * Landlock hides) when it is about to create its 9th arena: an enclave serving ~10
 * connections at once did that inside the sandbox and seccomp killed it (found by
 * tests/integration/review_stress.sh).  The call itself, sandboxed: */
static int sandboxed_nprocs_child(void)
{
	struct sbx_config sc = {.rw_paths = {in_dir}, .num_rw_paths = 1};
	char err[ENC_ERR_LEN];
	if (sbx_enter(&sc, err, sizeof(err)) != 0)
		return 3;
	return get_nprocs() >= 1 ? 0 : 1;
}

START_TEST(test_sandbox_allows_get_nprocs_for_malloc_arenas)
{
	int status = in_child(sandboxed_nprocs_child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status 0x%x (signal %d)", status, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sbx");
	TCase *tc = tcase_create("sandbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_landlock_confines_files_network_and_signals);
	tcase_add_test(tc, test_sandbox_cannot_signal_another_process);
	tcase_add_test(tc, test_sandbox_can_signal_its_own_threads);
	tcase_add_test(tc, test_sandbox_allows_get_nprocs_for_malloc_arenas);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
