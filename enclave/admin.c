/*
 * admin.c - warden-admin: the command line.
 *
 *   warden-admin init DIR [--key TYPE] [--subject DN] [--pin PIN] [--csr] [--label L]
 *                         [--token-label L] [--days N] [--user NAME] [--socket PATH]
 *                         [--module PATH] [--force]
 *   warden-admin policy check|test ...                       (admin_policy.c)
 *   warden-admin pin unlock CONFIG [--reason TEXT]           (admin_pin.c)
 *
 * Exit status 0 on success, 1 with one line on stderr on any failure.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "pin.h"
#include "wire.h"

#define ADMIN_EXIT_FAIL 1
/* Room for a PIN, its newline and one byte to detect a longer line. */
#define ADMIN_PIN_BUF (PIN_MAX_LEN + 3u)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: warden-admin init DIR [options]\n"
		"  Makes a complete Warden setup in DIR: a SoftHSM token holding a new CA key,\n"
		"  a self-signed CA certificate (or a CSR), PIN files and the configuration.\n"
		"options:\n"
		"  --key TYPE          %s (default rsa2048)\n"
		"  --subject DN        CA subject, e.g. \"/CN=Example CA/O=Example\" "
		"(default \"%s\")\n"
		"  --pin PIN           Warden user PIN (else asked on the terminal, or one line "
		"on stdin)\n"
		"  --csr               write DIR/ca.csr for a parent CA instead of a certificate\n"
		"  --label LABEL       key label (default %s)\n"
		"  --token-label L     token label (default %s)\n"
		"  --days N            certificate validity in days (default %u)\n"
		"  --user NAME         the user the enclave drops to (owns tokens/, state/, "
		"audit/)\n"
		"  --socket PATH       enclave socket (default DIR/enclave.sock)\n"
		"  --module PATH       backend PKCS#11 module (default %s)\n"
		"  --force             replace an existing setup in DIR (audit/ is kept)\n"
		"\nusage: warden-admin policy check FILE\n"
		"       warden-admin policy test FILE CERT.pem|TBS.der --ca CA.pem [--key LABEL]\n"
		"                                [--mechanism NAME] [--now EPOCH]\n"
		"  Validates a policy file / dry-runs a certificate against it (docs/policy.md).\n"
		"\nusage: warden-admin pin unlock CONFIG [--reason TEXT]\n"
		"  With the enclave stopped, clears the user PIN's failure count (a lockout)\n"
		"  with an operator unlock record in the audit log of CONFIG (enclave.json).\n",
		admin_key_spec_names(), ADMIN_DEFAULT_SUBJECT, ADMIN_DEFAULT_KEY_LABEL,
		ADMIN_DEFAULT_TOKEN_LABEL, ADMIN_DEFAULT_DAYS, ADMIN_DEFAULT_MODULE);
}

static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

/* Puts the terminal back when interrupted at the PIN prompt. */
static void tty_restore_signal(int sig)
{
	if (tty_saved)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from stdin into buf (ADMIN_PIN_BUF); echo off when it is a terminal.
 * Gives the length without the newline, or -1. */
static ssize_t pin_read_line(const char *prompt, char *buf)
{
	struct termios t;
	struct sigaction sa, old_int, old_term;
	int tty = isatty(STDIN_FILENO);
	size_t n;
	ssize_t ret = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_restore_signal;
	if (tty) {
		if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
			return -1;
		tty_saved = 1;
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		t = saved_tty;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0)
			goto out;
		fputs(prompt, stderr);
		fflush(stderr);
	}
	if (fgets(buf, (int)ADMIN_PIN_BUF, stdin) == NULL)
		goto out;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n >= ADMIN_PIN_BUF - 1)
		goto out; /* longer than any PIN */
	ret = (ssize_t)n;
out:
	if (tty) {
		fputc('\n', stderr);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
		tty_saved = 0;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	return ret;
}

/* The PIN from the terminal (asked twice) or from one line of stdin. */
static int pin_prompt(char *pin, size_t *pin_len)
{
	char again[ADMIN_PIN_BUF];
	ssize_t n, m;
	int ret = -1;

	n = pin_read_line("New Warden user PIN: ", pin);
	if (n < 0) {
		fprintf(stderr, "warden-admin: no PIN given (use --pin or type it)\n");
		goto out;
	}
	if (isatty(STDIN_FILENO)) {
		m = pin_read_line("Repeat the PIN: ", again);
		if (m != n || memcmp(pin, again, (size_t)n) != 0) {
			fprintf(stderr, "warden-admin: the PINs differ\n");
			goto out;
		}
	}
	*pin_len = (size_t)n;
	ret = 0;
out:
	explicit_bzero(again, sizeof(again));
	return ret;
}

/* An executable or library next to ours, by relative path; NULL when absent. */
static const char *sibling(const char *exe_dir, const char *rel, char out[PATH_MAX])
{
	char joined[PATH_MAX];
	int n = snprintf(joined, sizeof(joined), "%s/%s", exe_dir, rel);

	if (n < 0 || (size_t)n >= sizeof(joined) || realpath(joined, out) == NULL)
		return NULL;
	return out;
}

void admin_print_next_steps(const char *dir)
{
	static const char *const enclaves[] = { "warden-enclave", "../sbin/warden-enclave" };
	static const char *const modules[] = {
		"../lib/libwarden-pkcs11.so", "../lib/pkcs11/libwarden-pkcs11.so",
		"../lib/x86_64-linux-gnu/pkcs11/libwarden-pkcs11.so",
		"../lib/x86_64-linux-gnu/libwarden-pkcs11.so",
	};
	char exe[PATH_MAX], buf[PATH_MAX];
	const char *enclave = NULL, *module = NULL, *exe_dir = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n > 0) {
		exe[n] = '\0';
		exe_dir = dirname(exe);
	}
	for (i = 0; exe_dir != NULL && enclave == NULL && i < sizeof(enclaves) / sizeof(enclaves[0]); i++)
		enclave = sibling(exe_dir, enclaves[i], buf);
	printf("\nStart the enclave:\n  %s --config %s/enclave.json\n",
	       enclave != NULL ? enclave : "warden-enclave", dir);
	for (i = 0; exe_dir != NULL && module == NULL && i < sizeof(modules) / sizeof(modules[0]); i++)
		module = sibling(exe_dir, modules[i], buf);
	printf("Point a client at it:\n  export WARDEN_CONF=%s/module.conf\n"
	       "  and load the PKCS#11 module %s (user PIN: the one just set)\n",
	       dir, module != NULL ? module : "libwarden-pkcs11.so");
}

static int cmd_init(int argc, char **argv)
{
	enum { O_KEY = 256, O_SUBJECT, O_PIN, O_CSR, O_LABEL, O_TOKEN_LABEL, O_DAYS, O_USER,
	       O_SOCKET, O_MODULE, O_FORCE, O_HELP };
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "subject", required_argument, NULL, O_SUBJECT },
		{ "pin", required_argument, NULL, O_PIN },
		{ "csr", no_argument, NULL, O_CSR },
		{ "label", required_argument, NULL, O_LABEL },
		{ "token-label", required_argument, NULL, O_TOKEN_LABEL },
		{ "days", required_argument, NULL, O_DAYS },
		{ "user", required_argument, NULL, O_USER },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "module", required_argument, NULL, O_MODULE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct admin_init_opts o;
	char pin[ADMIN_PIN_BUF], err[ADMIN_ERR_LEN], *end;
	const char *key_name = "rsa2048";
	size_t pin_len = 0;
	int have_pin = 0, c, ret = ADMIN_EXIT_FAIL;
	unsigned long days;

	memset(&o, 0, sizeof(o));
	memset(pin, 0, sizeof(pin));
	o.subject = ADMIN_DEFAULT_SUBJECT;
	o.key_label = ADMIN_DEFAULT_KEY_LABEL;
	o.token_label = ADMIN_DEFAULT_TOKEN_LABEL;
	o.days = ADMIN_DEFAULT_DAYS;
	o.module = ADMIN_DEFAULT_MODULE;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_KEY: key_name = optarg; break;
		case O_SUBJECT: o.subject = optarg; break;
		case O_PIN:
			pin_len = strlen(optarg);
			if (pin_len >= sizeof(pin)) {
				fprintf(stderr, "warden-admin: the PIN is longer than %u bytes\n",
					PIN_MAX_LEN);
				goto out;
			}
			memcpy(pin, optarg, pin_len);
			explicit_bzero(optarg, pin_len); /* out of /proc/PID/cmdline */
			have_pin = 1;
			break;
		case O_CSR: o.csr = 1; break;
		case O_LABEL: o.key_label = optarg; break;
		case O_TOKEN_LABEL: o.token_label = optarg; break;
		case O_DAYS:
			errno = 0;
			days = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] == '-' || days == 0 ||
			    days > ADMIN_MAX_DAYS) {
				fprintf(stderr, "warden-admin: --days must be 1 to %u\n",
					ADMIN_MAX_DAYS);
				goto out;
			}
			o.days = (unsigned)days;
			break;
		case O_USER: o.user = optarg; break;
		case O_SOCKET: o.socket = optarg; break;
		case O_MODULE: o.module = optarg; break;
		case O_FORCE: o.force = 1; break;
		case O_HELP: usage(stdout); ret = 0; goto out;
		default:
			fprintf(stderr, "warden-admin: bad option %s (see warden-admin --help)\n",
				argv[optind - 1]);
			goto out;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "warden-admin: usage: warden-admin init DIR [options] "
				"(see warden-admin --help)\n");
		goto out;
	}
	o.dir = argv[optind];
	o.key = admin_key_spec_find(key_name);
	if (o.key == NULL) {
		fprintf(stderr, "warden-admin: unknown key type \"%s\" (use %s)\n", key_name,
			admin_key_spec_names());
		goto out;
	}
	if (o.key_label[0] == '\0' || strlen(o.key_label) > ADMIN_KEY_LABEL_MAX) {
		fprintf(stderr, "warden-admin: --label must be 1 to %u bytes\n",
			ADMIN_KEY_LABEL_MAX);
		goto out;
	}
	if (o.token_label[0] == '\0' || strlen(o.token_label) > ADMIN_TOKEN_LABEL_MAX) {
		fprintf(stderr, "warden-admin: --token-label must be 1 to %u bytes\n",
			ADMIN_TOKEN_LABEL_MAX);
		goto out;
	}
	if (admin_subject_check(o.subject, err, sizeof(err)) != WARDEN_OK) {
		fprintf(stderr, "warden-admin: %s\n", err);
		goto out;
	}
	if (!have_pin && pin_prompt(pin, &pin_len) != 0)
		goto out;
	if (pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN || memchr(pin, '\0', pin_len)) {
		fprintf(stderr, "warden-admin: the PIN must be %u to %u characters\n",
			PIN_MIN_LEN, PIN_MAX_LEN);
		goto out;
	}
	o.pin = pin;
	o.pin_len = pin_len;
	if (admin_init_run(&o, err, sizeof(err)) != WARDEN_OK) {
		fprintf(stderr, "warden-admin: %s\n", err);
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(pin, sizeof(pin));
	return ret;
}

int main(int argc, char **argv)
{
	umask(077);
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "policy") == 0)
		return admin_policy_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "pin") == 0)
		return admin_pin_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "warden-admin: usage: warden-admin init DIR [options] "
			"(see warden-admin --help)\n");
	return ADMIN_EXIT_FAIL;
}
