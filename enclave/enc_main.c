/*
 * enc_main.c - warden-enclave: start-up, sandbox, serve.
 *
 *   warden-enclave --config FILE                      run in the foreground
 *   warden-enclave --config FILE --sandbox-selftest A  start up, enter the sandbox, try
 *                                                      A: execve | socket | ptrace | fork |
 *                                                      open:PATH | sign; exit 0 if it
 *                                                      worked, 3 if it failed (a forbidden
 *                                                      syscall kills with SIGSYS instead)
 *   warden-enclave --hash-pin                         PIN on stdin -> pin.h hash line
 *
 * Everything that needs broader rights happens before sbx_enter: config, PIN files,
 * backend C_Initialize/C_Login, key lookup, OpenSSL algorithm fetches (a self-test
 * signature per mechanism), the socket and the signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#ifdef WARDEN_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#include "enc.h"
#include "sbx.h"
#include "sign.h"

#define EXIT_SELFTEST_FAILED 3
#define MAX_BACKEND_PIN 256u

static struct enc_state st;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	char msg[ENC_ERR_LEN + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	enc_log(ENC_LOG_ERR, "%s", msg);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: warden-enclave --config FILE [--sandbox-selftest ACTION]\n"
		   "       warden-enclave --hash-pin < pin\n");
}

/* Reads a secret file, strips trailing newlines; the caller wipes *out_size bytes (the
 * whole buffer: the secret may hold a NUL) and frees. */
static char *secret_read(const char *path, size_t max, const char *what, size_t *out_size)
{
	char *s;
	size_t len;
	if (enc_file_read(path, max, &s, &len) != 0)
		die("cannot read the %s file %s: %s", what, path, strerror(errno));
	*out_size = len;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

static int hash_pin(void)
{
	char pin[PIN_MAX_LEN + 2];
	char line[PIN_HASH_LINE_MAX];
	size_t len = fread(pin, 1, sizeof(pin), stdin);
	while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
		len--;
	int rc = pin_hash_make(pin, len, line, sizeof(line));
	explicit_bzero(pin, sizeof(pin));
	if (rc != 0) {
		fprintf(stderr, "warden-enclave: the PIN must be %u to %u bytes\n", PIN_MIN_LEN,
			PIN_MAX_LEN);
		return 1;
	}
	fputs(line, stdout);
	return 0;
}

static void startup(const char *config_path)
{
	char err[ENC_ERR_LEN];

	if (enc_config_load(config_path, &st.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "warden-enclave: %s\n", err);
		exit(1);
	}
	if (enc_log_open(st.cfg.log, err, sizeof(err)) != 0) {
		enc_log(ENC_LOG_WARNING, "%s; logging to stderr", err);
		if (enc_log_open("stderr", err, sizeof(err)) != 0)
			exit(1);
	}
	tzset(); /* load the time zone before the sandbox */
	if (pthread_mutex_init(&st.login_lock, NULL) != 0 ||
	    pthread_mutex_init(&st.ticket_lock, NULL) != 0 ||
	    pthread_mutex_init(&st.decide_lock, NULL) != 0 ||
	    pthread_mutex_init(&st.hello_lock, NULL) != 0)
		die("mutex init failed");
	for (size_t i = 0; i < st.cfg.num_env; i++)
		if (setenv(st.cfg.env_names[i], st.cfg.env_values[i], 1) != 0)
			die("setenv %s failed", st.cfg.env_names[i]);

	size_t secret_size;
	char *line = secret_read(st.cfg.user_pin_file, PIN_HASH_LINE_MAX, "user PIN hash",
				 &secret_size);
	if (pin_hash_parse_check(line) != 0 || strlen(line) + 2 > sizeof(st.pin_line))
		die("%s is not a PIN hash line (make one with warden-enclave --hash-pin)",
		    st.cfg.user_pin_file);
	snprintf(st.pin_line, sizeof(st.pin_line), "%s\n", line);
	explicit_bzero(line, secret_size);
	free(line);
	/* The policy and the public suffix list (I/O: before the sandbox). */
	if (enc_policy_read(st.cfg.policy, &st.policy, err, sizeof(err)) != 0)
		die("%s", err);
	if (!pol_psl_load(NULL, &st.psl))
		enc_log(ENC_LOG_WARNING, "no public suffix list (%s): per-domain rate limits use "
					 "the last two labels",
			POL_PSL_DAT);
	if (!pol_state_new(&st.cfg.state_limits, st.psl, &st.pstate))
		die("out of memory for the policy state (state.max_serials %u, max_buckets %u, "
		    "max_revocations %u)",
		    st.cfg.state_limits.max_serials, st.cfg.state_limits.max_buckets,
		    st.cfg.state_limits.max_revocations);

	if (sign_init() != WARDEN_OK || enc_decide_init() != WARDEN_OK)
		die("OpenSSL digests unavailable");
	char *pin = secret_read(st.cfg.backend_pin_file, MAX_BACKEND_PIN, "backend PIN",
				&secret_size);
	struct bk_config bc = {st.cfg.backend_module, st.cfg.backend_token_label, pin};
	int rc = bk_open(&bc, &st.bk, err, sizeof(err));
	explicit_bzero(pin, secret_size);
	free(pin);
	if (rc != WARDEN_OK)
		die("backend: %s", err);
	for (size_t i = 0; i < st.cfg.num_keys; i++) {
		st.keys[i].cfg = &st.cfg.keys[i];
		if (bk_key_find(st.bk, st.cfg.keys[i].label, &st.keys[i].bk, err, sizeof(err)) !=
		    WARDEN_OK)
			die("%s", err);
		st.num_keys++;
	}
	if (RAND_bytes((unsigned char *)&st.boot_id, sizeof(st.boot_id)) != 1)
		die("no randomness");
	if (enc_keys_load(&st, err, sizeof(err)) != 0)
		die("%s", err);
	for (size_t i = 0; i < st.num_keys; i++)
		if (enc_key_ca_info(&st.keys[i], err, sizeof(err)) != 0)
			die("%s", err);
	if (enc_hello_build(&st, st.policy, err, sizeof(err)) != 0)
		die("%s", err);
	for (size_t i = 0; i < st.num_keys; i++) {
		struct enc_key *k = &st.keys[i];
		if (enc_key_selftest(&st, k, err, sizeof(err)) != WARDEN_OK)
			die("%s", err);
		int pre = pol_policy_key_prehashed(st.policy, k->cfg->label);
		if (pre < 0)
			enc_log(ENC_LOG_WARNING,
				"key \"%s\" has no signingKeys entry in the policy: every request "
				"for it is refused (key.unknown)",
				k->cfg->label);
		enc_log(ENC_LOG_INFO,
			"key \"%s\": %zu mechanisms advertised (prehashed %s), self-test passed",
			k->cfg->label, k->num_mechs, pre == 1 ? "audit" : "deny");
	}
	/* The log: verified, repaired, replayed into the state; then CONFIG and POLICY. */
	if (enc_audit_start(&st, err, sizeof(err)) != WARDEN_OK)
		die("%s", err);
	enc_log(ENC_LOG_INFO, "policy %s loaded, sha256 %s", st.cfg.policy,
		pol_policy_hash_hex(st.policy));
}

static void *noop_thread(void *arg)
{
	return arg;
}

static void sandbox(void)
{
	struct sbx_config sc = {.user = st.cfg.user};
	char err[ENC_ERR_LEN];

	for (size_t i = 0; i < st.cfg.num_paths; i++)
		sc.rw_paths[sc.num_rw_paths++] = st.cfg.paths[i];
	sc.rw_paths[sc.num_rw_paths++] = st.cfg.state_dir;
	sc.rw_paths[sc.num_rw_paths++] = st.cfg.audit_dir;
	_Static_assert(ENC_MAX_PATHS + 2 <= SBX_MAX_PATHS, "sandbox paths fit");
	/* The policy file itself stays readable (SIGHUP); nothing else beside it. */
	sc.ro_paths[sc.num_ro_paths++] = st.cfg.policy;
	/* glibc installs its SIGCANCEL/SIGSETXID handlers (rt_sigaction) at the first
	 * pthread_create: do that now, so the sandbox need not allow rt_sigaction. */
	pthread_t t;
	if (pthread_create(&t, NULL, noop_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
		die("cannot start a thread");
#ifdef WARDEN_SANITIZED
	/* LeakSanitizer's exit-time check forks a tracer, which the sandbox kills: check
	 * start-up now; this also turns the exit-time check off. */
	__lsan_do_leak_check();
#endif
	if (sbx_enter(&sc, err, sizeof(err)) != 0)
		die("sandbox: %s", err);
}

static void *selftest_sign_thread(void *arg)
{
	char err[ENC_ERR_LEN];
	int rc = enc_key_selftest(&st, &st.keys[0], err, sizeof(err));
	if (rc != WARDEN_OK)
		enc_log(ENC_LOG_ERR, "%s", err);
	*(int *)arg = rc;
	return NULL;
}

/* Runs inside the sandbox; returns the exit status (or is killed). */
static int selftest(const char *action)
{
	int ok;
	enc_log(ENC_LOG_INFO, "sandbox self-test: %s", action);
	if (strcmp(action, "execve") == 0) {
		char *argv[] = {"/bin/true", NULL};
		execve(argv[0], argv, environ);
		ok = 0;
	} else if (strcmp(action, "socket") == 0) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ok = fd >= 0;
	} else if (strcmp(action, "ptrace") == 0) {
		ok = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) == 0;
	} else if (strcmp(action, "fork") == 0) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		ok = p > 0;
	} else if (strncmp(action, "open:", 5) == 0) {
		int fd = open(action + 5, O_RDONLY | O_CLOEXEC);
		ok = fd >= 0;
		if (fd >= 0)
			close(fd);
	} else if (strcmp(action, "sign") == 0) {
		/* In a new thread: proves clone(CLONE_THREAD) and signing work sandboxed. */
		pthread_t t;
		int rc = WARDEN_E_INTERNAL;
		ok = pthread_create(&t, NULL, selftest_sign_thread, &rc) == 0 &&
		     pthread_join(t, NULL) == 0 && rc == WARDEN_OK;
	} else {
		enc_log(ENC_LOG_ERR, "unknown self-test action %s", action);
		return 2;
	}
	enc_log(ENC_LOG_INFO, "sandbox self-test %s: %s%s%s", action, ok ? "succeeded" : "failed",
		ok ? "" : ": ", ok ? "" : strerror(errno));
	return ok ? 0 : EXIT_SELFTEST_FAILED;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"sandbox-selftest", required_argument, NULL, 's'},
		{"hash-pin", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *action = NULL;
	int c, want_hash = 0;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			action = optarg;
			break;
		case 'p':
			want_hash = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (want_hash)
		return hash_pin();
	if (config == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}

	startup(config);

	char err[ENC_ERR_LEN];
	int lfd = -1;
	if (action == NULL) {
		uid_t uid;
		gid_t gid;
		if (enc_listen(&st.cfg, &lfd, err, sizeof(err)) != 0 ||
		    sbx_user_lookup(st.cfg.user, &uid, &gid, err, sizeof(err)) != 0)
			die("%s", err);
		if (uid != (uid_t)-1 && chown(st.cfg.socket, uid, gid) != 0)
			die("chown %s: %s", st.cfg.socket, strerror(errno));
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		die("sigprocmask: %s", strerror(errno));
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0)
		die("signalfd: %s", strerror(errno));

	sandbox();
	if (action != NULL)
		return selftest(action);

	int status = enc_serve(&st, lfd, sigfd);
	close(sigfd);
	if (aud_shutdown(st.log, "SIGTERM") != WARDEN_OK) {
		char why[AUD_ERR_LEN] = "";
		(void)aud_failed(st.log, why, sizeof(why));
		enc_log(ENC_LOG_ERR, "audit: the shutdown record could not be written: %s", why);
		status = 1;
	}
	aud_close(st.log);
	pol_state_free(st.pstate);
	pol_policy_free(st.policy);
	pol_psl_free(st.psl);
	for (size_t i = 0; i < st.num_keys; i++) {
		OPENSSL_free(st.keys[i].ca_spki);
		OPENSSL_free(st.keys[i].ca_subject);
		OPENSSL_free(st.keys[i].cert_der);
	}
	for (size_t i = 0; i < st.num_keys; i++)
		bk_key_free(st.keys[i].bk);
	bk_close(st.bk);
	wire_buf_free(&st.hello);
	for (size_t i = 0; i < st.num_keys; i++)
		X509_free(st.keys[i].cert);
	enc_config_free(&st.cfg);
	explicit_bzero(&st, sizeof(st));
	return status;
}
