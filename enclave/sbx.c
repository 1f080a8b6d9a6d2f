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

/* The uapi header this is built against may be older than the running kernel (Debian
 * 12's stops at ABI 2: no TRUNCATE, no network, no scopes); the kernel's ABI decides
 * what is handled, so the later constants are spelt out here, values from the kernel's
 * include/uapi/linux/landlock.h. */
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RW_FS (LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_READ_DIR | LL_FS_REMOVE_FILE | \
		  LL_FS_MAKE_REG | LL_FS_TRUNCATE)

_Static_assert(LANDLOCK_ACCESS_FS_EXECUTE == LL_FS_EXECUTE &&
		       LANDLOCK_ACCESS_FS_MAKE_SYM == 1ULL << 12 &&
		       LANDLOCK_ACCESS_FS_REFER == LL_FS_REFER,
	       "the header agrees with the constants spelt out here");

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix of it. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};
#define LL_ATTR_SIZE_ABI1 8u
#define LL_ATTR_SIZE_ABI4 16u
#define LL_ATTR_SIZE_ABI6 24u
_Static_assert(sizeof(struct ll_ruleset_attr) == LL_ATTR_SIZE_ABI6, "no padding");

/* What the ruleset handles for a kernel ABI: every right the kernel knows, so that
 * anything not granted below is denied across the whole file system (read, write,
 * execute, truncate, rename/link across directories, device ioctls), TCP bind/connect
 * are denied, and signals and abstract UNIX sockets stay inside the enclave. */
static size_t ll_attr(int abi, struct ll_ruleset_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		a->handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		a->handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a->handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4)
		a->handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi >= 6)
		a->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	return abi >= 6 ? LL_ATTR_SIZE_ABI6 : abi >= 4 ? LL_ATTR_SIZE_ABI4 : LL_ATTR_SIZE_ABI1;
}

int sbx_landlock_restrict(const struct sbx_config *cfg, int *out_abi, char *err,
			  size_t err_len)
{
	*out_abi = 0;
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
			       LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		enc_log(ENC_LOG_WARNING,
			"Landlock not available (%s): file access is limited by seccomp only",
			strerror(errno));
		return 0;
	}
	struct ll_ruleset_attr attr;
	size_t attr_size = ll_attr(abi, &attr);
	uint64_t rw = LL_RW_FS & attr.handled_access_fs;
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	int ret = -1;
	if (rfd < 0) {
		errf(err, err_len, "landlock_create_ruleset (ABI %d): %s", abi, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < cfg->num_rw_paths + cfg->num_ro_paths; i++) {
		int ro = i >= cfg->num_rw_paths;
		const char *path = ro ? cfg->ro_paths[i - cfg->num_rw_paths] : cfg->rw_paths[i];
		struct landlock_path_beneath_attr pb = {.allowed_access = ro ? LL_FS_READ_FILE : rw};
		pb.parent_fd = open(path, O_PATH | O_CLOEXEC | (ro ? 0 : O_DIRECTORY));
		if (pb.parent_fd < 0) {
			errf(err, err_len, "%s: %s", path, strerror(errno));
			goto out;
		}
		int rc = (int)syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb,
				      0);
		close(pb.parent_fd);
		if (rc != 0) {
			errf(err, err_len, "landlock_add_rule %s: %s", path, strerror(errno));
			goto out;
		}
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
		errf(err, err_len, "landlock_restrict_self: %s", strerror(errno));
		goto out;
	}
	enc_log(ENC_LOG_INFO,
		"Landlock ABI %d: files limited to %zu directories (and %zu read-only)%s%s", abi,
		cfg->num_rw_paths, cfg->num_ro_paths, abi >= 4 ? ", no TCP" : "",
		abi >= 6 ? ", signals and abstract sockets scoped" : "");
	*out_abi = abi;
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
	{SCMP_SYS(write), "sockets, log file"},
	{SCMP_SYS(pread64), "SoftHSM token files"},
	{SCMP_SYS(pwrite64), "SoftHSM token files, audit log"},
	{SCMP_SYS(readv), "stdio"},
	{SCMP_SYS(writev), "stdio"},
	{SCMP_SYS(lseek), "SoftHSM token files"},
	{SCMP_SYS(openat), "SoftHSM reopens token files per C_SignInit; audit files; policy at SIGHUP (Landlock limits paths)"},
	{SCMP_SYS(close), "everything"},
	{SCMP_SYS(fstat), "stdio, SoftHSM"},
	{SCMP_SYS(newfstatat), "SoftHSM stats token files"},
	{SCMP_SYS(statx), "stat() on newer libcs"},
	{SCMP_SYS(fcntl), "SoftHSM locks token files with F_SETLKW"},
	{SCMP_SYS(flock), "file locking in backends"},
	{SCMP_SYS(getdents64), "SoftHSM lists its token directory"},
	{SCMP_SYS(fsync), "audit directory after a rename"},
	{SCMP_SYS(fdatasync), "audit log"},
	{SCMP_SYS(ftruncate), "SoftHSM token files, audit file at rotation"},
	{SCMP_SYS(rename), "audit checkpoint.txt, new log files"},
	{SCMP_SYS(renameat), "audit checkpoint.txt, new log files"},
	{SCMP_SYS(renameat2), "renameat on newer libcs"},
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
	{SCMP_SYS(rt_sigprocmask), "thread creation masks signals"},
	{SCMP_SYS(rt_sigreturn), "return from a signal handler"},
	{SCMP_SYS(restart_syscall), "a stopped and continued process (SIGSTOP/SIGCONT) resumes its sleep"},
	{SCMP_SYS(sched_yield), "spin locks"},
	{SCMP_SYS(sched_getaffinity), "glibc malloc counts CPUs when a 9th thread needs an arena"},
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
	SCMP_SYS(sigaltstack), SCMP_SYS(prlimit64),
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
	/* tgkill only to our own threads (abort(), pthread_kill, glibc's setxid): no
	 * signal to another process of the same uid. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0_64(SCMP_CMP_EQ, (uint64_t)getpid()));
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
	int abi;
	if (sbx_landlock_restrict(cfg, &abi, err, err_len) != 0 ||
	    seccomp_enter(err, err_len) != 0)
		return -1;
	enc_log(ENC_LOG_INFO, "sandbox entered: seccomp allowlist of %zu system calls",
		sizeof(allowed) / sizeof(allowed[0]) + 2);
	return 0;
}
