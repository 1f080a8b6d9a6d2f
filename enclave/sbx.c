/*
 * sbx.c - the enclave's sandbox.  See sbx.h.
 *
 * Order: drop privileges (needs the old rights), PR_SET_DUMPABLE 0 (a second process
 * of the same uid could otherwise ptrace us), PR_SET_NO_NEW_PRIVS, Landlock (needs
 * NNP), then seccomp last (it forbids the Landlock syscalls).
 */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "enc.h"

#define SBX_PWBUF_LEN 16384

static void errf(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* --- user ---------------------------------------------------------------------- */

int sbx_user_lookup(const char *user, uid_t *out_uid, gid_t *out_gid, char *err,
		    size_t err_len)
{
	struct passwd pw, *res = NULL;
	static char buf[SBX_PWBUF_LEN];

	*out_uid = (uid_t)-1;
	*out_gid = (gid_t)-1;
	if (user == NULL || geteuid() != 0)
		return 0;
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		errf(err, err_len, "user \"%s\" not found", user);
		return -1;
	}
	*out_uid = pw.pw_uid;
	*out_gid = pw.pw_gid;
	return 0;
}

static int drop_privileges(const char *user, char *err, size_t err_len)
{
	uid_t uid, ru, eu, su;
	gid_t gid, rg, eg, sg;

	if (sbx_user_lookup(user, &uid, &gid, err, err_len) != 0)
		return -1;
	if (uid == (uid_t)-1) {
		if (geteuid() == 0)
			enc_log(ENC_LOG_WARNING, "running as root: set \"user\" in the config");
		return 0;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		errf(err, err_len, "cannot become user \"%s\": %s", user, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid ||
	    (uid != 0 && setuid(0) == 0)) {
		errf(err, err_len, "privileges were not dropped to user \"%s\"", user);
		return -1;
	}
	enc_log(ENC_LOG_INFO, "running as user %s (uid %u, gid %u)", user, (unsigned)uid,
		(unsigned)gid);
	return 0;
}

/* --- Landlock ---------------------------------------------------------------------- */

#define LL_ABI1_FS ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_RW_FS                                                                          \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |                     \
	 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                     \
	 LANDLOCK_ACCESS_FS_MAKE_REG)

/* The file-system rights this program knows for a kernel ABI. */
static uint64_t ll_handled(int abi)
{
	uint64_t h = LL_ABI1_FS;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
#ifdef LANDLOCK_ACCESS_FS_IOCTL_DEV
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
#endif
	(void)abi;
	return h;
}

static int landlock_enter(const struct sbx_config *cfg, char *err, size_t err_len)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
			       LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		enc_log(ENC_LOG_WARNING,
			"Landlock not available (%s): file access is limited by seccomp only",
			strerror(errno));
		return 0;
	}
	struct landlock_ruleset_attr attr = {.handled_access_fs = ll_handled(abi)};
	uint64_t rw = LL_RW_FS;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	rw |= attr.handled_access_fs & LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	int ret = -1;
	if (rfd < 0) {
		errf(err, err_len, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < cfg->num_rw_paths; i++) {
		struct landlock_path_beneath_attr pb = {.allowed_access = rw};
		pb.parent_fd = open(cfg->rw_paths[i], O_PATH | O_CLOEXEC | O_DIRECTORY);
		if (pb.parent_fd < 0) {
			errf(err, err_len, "%s: %s", cfg->rw_paths[i], strerror(errno));
			goto out;
		}
		int rc = (int)syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb,
				      0);
		close(pb.parent_fd);
		if (rc != 0) {
			errf(err, err_len, "landlock_add_rule %s: %s", cfg->rw_paths[i],
			     strerror(errno));
			goto out;
		}
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
		errf(err, err_len, "landlock_restrict_self: %s", strerror(errno));
		goto out;
	}
	enc_log(ENC_LOG_INFO, "Landlock ABI %d: files limited to %zu directories", abi,
		cfg->num_rw_paths);
	ret = 0;
out:
	close(rfd);
	return ret;
}

/* --- seccomp ------------------------------------------------------------------------- */

/* The allowlist.  Everything else kills the process (SCMP_ACT_KILL_PROCESS).  clone is
 * added separately (threads only) and clone3 fails with ENOSYS so that glibc falls
 * back to clone, whose flags a filter can inspect. */
static const struct {
	int nr;
	const char *why;
} allowed[] = {
	{SCMP_SYS(read), "sockets, token files, signalfd"},
	{SCMP_SYS(write), "sockets, log file, PIN state file"},
	{SCMP_SYS(pread64), "SoftHSM token files"},
	{SCMP_SYS(pwrite64), "SoftHSM token files"},
	{SCMP_SYS(readv), "stdio"},
	{SCMP_SYS(writev), "stdio"},
	{SCMP_SYS(lseek), "SoftHSM token files"},
	{SCMP_SYS(openat), "SoftHSM reopens token files per C_SignInit; PIN state (Landlock limits paths)"},
	{SCMP_SYS(close), "everything"},
	{SCMP_SYS(fstat), "stdio, SoftHSM"},
	{SCMP_SYS(newfstatat), "SoftHSM stats token files"},
	{SCMP_SYS(statx), "stat() on newer libcs"},
	{SCMP_SYS(fcntl), "SoftHSM locks token files with F_SETLKW"},
	{SCMP_SYS(flock), "file locking in backends"},
	{SCMP_SYS(getdents64), "SoftHSM lists its token directory"},
	{SCMP_SYS(fsync), "PIN state file"},
	{SCMP_SYS(fdatasync), "audit log"},
	{SCMP_SYS(ftruncate), "SoftHSM token files"},
	{SCMP_SYS(rename), "PIN state temp file"},
	{SCMP_SYS(renameat), "PIN state temp file"},
	{SCMP_SYS(renameat2), "PIN state temp file"},
	{SCMP_SYS(unlink), "SoftHSM lock files"},
	{SCMP_SYS(unlinkat), "SoftHSM lock files"},
	{SCMP_SYS(faccessat), "access() in backends"},
	{SCMP_SYS(faccessat2), "access() in backends"},
	{SCMP_SYS(brk), "malloc"},
	{SCMP_SYS(mmap), "malloc, thread stacks, scrypt"},
	{SCMP_SYS(munmap), "free"},
	{SCMP_SYS(mprotect), "thread stack guard pages"},
	{SCMP_SYS(madvise), "malloc trimming, thread exit"},
	{SCMP_SYS(mremap), "realloc of large blocks"},
	{SCMP_SYS(futex), "mutexes, condition variables, pthread_join"},
	{SCMP_SYS(set_robust_list), "new threads"},
	{SCMP_SYS(rseq), "new threads (glibc 2.35+)"},
	{SCMP_SYS(gettid), "threads"},
	{SCMP_SYS(tgkill), "abort(), pthread_kill"},
	{SCMP_SYS(rt_sigprocmask), "thread creation masks signals"},
	{SCMP_SYS(rt_sigreturn), "return from a signal handler"},
	{SCMP_SYS(sched_yield), "spin locks"},
	{SCMP_SYS(exit), "thread exit"},
	{SCMP_SYS(exit_group), "process exit"},
	{SCMP_SYS(getrandom), "OpenSSL DRBG reseeding, login tickets"},
	{SCMP_SYS(getpid), "OpenSSL fork detection (ECDSA breaks without it), log lines"},
	{SCMP_SYS(clock_gettime), "log time stamps"},
	{SCMP_SYS(clock_getres), "timers"},
	{SCMP_SYS(gettimeofday), "time"},
	{SCMP_SYS(nanosleep), "back-off"},
	{SCMP_SYS(clock_nanosleep), "back-off"},
	{SCMP_SYS(accept4), "new client connections"},
	{SCMP_SYS(poll), "main loop, frame timeouts"},
	{SCMP_SYS(ppoll), "poll() on some libcs"},
	{SCMP_SYS(recvfrom), "client requests"},
	{SCMP_SYS(sendto), "answers, syslog"},
	{SCMP_SYS(recvmsg), "client requests"},
	{SCMP_SYS(sendmsg), "answers"},
	{SCMP_SYS(shutdown), "ending connections at SIGTERM"},
	{SCMP_SYS(getsockopt), "SO_PEERCRED of new clients"},
};

#ifdef WARDEN_SANITIZED
/* ASan/UBSan builds only: what the sanitizer runtime does in new threads and reports. */
static const int sanitizer_extra[] = {
	SCMP_SYS(sched_getaffinity), SCMP_SYS(sigaltstack), SCMP_SYS(prlimit64),
	SCMP_SYS(readlink), SCMP_SYS(getrlimit), SCMP_SYS(prctl), SCMP_SYS(rt_sigaction),
	SCMP_SYS(getppid), SCMP_SYS(open),
};
#endif

static int seccomp_enter(char *err, size_t err_len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = ctx == NULL ? -ENOMEM : 0;

	for (size_t i = 0; rc == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i].nr, 0);
#ifdef WARDEN_SANITIZED
	for (size_t i = 0; rc == 0 && i < sizeof(sanitizer_extra) / sizeof(int); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_extra[i], 0);
#endif
	/* clone only with CLONE_THREAD set: threads yes, processes no. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		errf(err, err_len, "seccomp: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

int sbx_enter(const struct sbx_config *cfg, char *err, size_t err_len)
{
	if (drop_privileges(cfg->user, err, err_len) != 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		errf(err, err_len, "prctl: %s", strerror(errno));
		return -1;
	}
	if (landlock_enter(cfg, err, err_len) != 0 || seccomp_enter(err, err_len) != 0)
		return -1;
	enc_log(ENC_LOG_INFO, "sandbox entered: seccomp allowlist of %zu system calls",
		sizeof(allowed) / sizeof(allowed[0]) + 1);
	return 0;
}
