/*
 * log.c - module.conf and logging.
 *
 * The module runs inside someone else's process: it never writes to stdout, never calls
 * openlog (the host's syslog ident stays the host's), and prefixes every message with
 * "warden-pkcs11: ".
 */
#include "wp11.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define WP11_LOG_PREFIX "warden-pkcs11: "
#define WP11_LOG_MSG_MAX 1024u
#define WP11_CONF_MAX_SIZE (64u * 1024u)

/* Logging settings are read without the global lock (logging happens everywhere); they
 * change only in C_Initialize/C_Finalize, and a torn read costs at most one message. */
static struct {
	enum wp11_log_dest dest;
	enum wp11_log_level level;
	int fd;
} log_state = {WP11_LOG_SYSLOG, WP11_LOG_WARNING, -1};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void wp11_log(enum wp11_log_level level, const char *fmt, ...)
{
	char msg[WP11_LOG_MSG_MAX];
	va_list ap;
	int saved = errno;

	if (level > log_state.level)
		goto out;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	switch (log_state.dest) {
	case WP11_LOG_SYSLOG: {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(LOG_USER | prio[level], WP11_LOG_PREFIX "%s", msg);
		break;
	}
	case WP11_LOG_STDERR:
		dprintf(STDERR_FILENO, WP11_LOG_PREFIX "%s: %s\n", level_names[level], msg);
		break;
	case WP11_LOG_FILE:
		if (log_state.fd >= 0)
			dprintf(log_state.fd, WP11_LOG_PREFIX "[%ld] %s: %s\n", (long)getpid(),
				level_names[level], msg);
		break;
	}
out:
	errno = saved;
}

void wp11_log_setup(const struct wp11_conf *conf)
{
	wp11_log_close();
	log_state.level = conf->log_level;
	log_state.dest = conf->log_dest;
	if (conf->log_dest == WP11_LOG_FILE) {
		log_state.fd = open(conf->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_state.fd < 0) {
			log_state.dest = WP11_LOG_SYSLOG;
			wp11_log(WP11_LOG_ERROR, "cannot open log file %s: %s; using syslog",
				 conf->log_path, strerror(errno));
		}
	}
}

void wp11_log_close(void)
{
	if (log_state.fd >= 0)
		close(log_state.fd);
	log_state.fd = -1;
	log_state.dest = WP11_LOG_SYSLOG;
}

/* --- module.conf --------------------------------------------------------------- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Applies one `key = value`; returns 0, or -1 when the line is rejected. */
static int conf_apply(struct wp11_conf *conf, const char *key, const char *value)
{
	if (strcmp(key, "socket") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(conf->socket_path))
			return -1;
		strcpy(conf->socket_path, value);
		return 0;
	}
	if (strcmp(key, "log") == 0) {
		if (strcmp(value, "syslog") == 0) {
			conf->log_dest = WP11_LOG_SYSLOG;
		} else if (strcmp(value, "stderr") == 0) {
			conf->log_dest = WP11_LOG_STDERR;
		} else if (value[0] == '/' && strlen(value) < sizeof(conf->log_path)) {
			conf->log_dest = WP11_LOG_FILE;
			strcpy(conf->log_path, value);
		} else {
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "log_level") == 0) {
		for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
			if (strcmp(value, level_names[i]) == 0) {
				conf->log_level = (enum wp11_log_level)i;
				return 0;
			}
		}
		return -1;
	}
	if (strcmp(key, "timeout") == 0) {
		char *end;
		errno = 0;
		long t = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || t < 1 || t > WP11_MAX_TIMEOUT_S)
			return -1;
		conf->timeout_s = (int)t;
		return 0;
	}
	if (strcmp(key, "enclave_uid") == 0) {
		char *end;
		errno = 0;
		long u = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || u < 0 || u > WP11_MAX_UID) {
			/* Fail closed: a mistyped check must not become no check. */
			conf->enclave_uid = WP11_ENCLAVE_UID_BAD;
			return -1;
		}
		conf->enclave_uid = u;
		return 0;
	}
	return -1;
}

static void conf_defaults(struct wp11_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	strcpy(conf->socket_path, WP11_DEFAULT_SOCKET);
	conf->log_dest = WP11_LOG_SYSLOG;
	conf->log_level = WP11_LOG_WARNING;
	conf->timeout_s = WP11_DEFAULT_TIMEOUT_S;
	conf->enclave_uid = WP11_ENCLAVE_UID_ANY;
}

int wp11_conf_parse(struct wp11_conf *conf, const char *text)
{
	int bad = 0;
	unsigned lineno = 0;
	const char *p = text;

	while (*p != '\0') {
		char line[WP11_CONF_MAX_LINE];
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (n >= sizeof(line)) {
			wp11_log(WP11_LOG_WARNING, "module.conf line %u: too long, ignored", lineno);
			bad++;
			goto next;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			goto next;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			wp11_log(WP11_LOG_WARNING, "module.conf line %u: no '=', ignored", lineno);
			bad++;
			goto next;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (conf_apply(conf, key, value) != 0) {
			wp11_log(WP11_LOG_WARNING, "module.conf line %u: bad setting '%s', ignored",
				 lineno, key);
			bad++;
		}
next:
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return bad;
}

void wp11_conf_load(struct wp11_conf *conf)
{
	const char *env = secure_getenv("WARDEN_CONF");
	const char *path = env != NULL && env[0] != '\0' ? env : WP11_DEFAULT_CONF;
	char *text = NULL;
	int fd = -1;

	conf_defaults(conf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (env != NULL || errno != ENOENT)
			wp11_log(WP11_LOG_WARNING, "cannot open %s: %s; using defaults", path,
				 strerror(errno));
		goto out;
	}
	text = malloc(WP11_CONF_MAX_SIZE + 1);
	if (text == NULL)
		goto out;
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, text + len, WP11_CONF_MAX_SIZE - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			wp11_log(WP11_LOG_WARNING, "cannot read %s: %s; using defaults", path,
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == WP11_CONF_MAX_SIZE) {
			wp11_log(WP11_LOG_WARNING, "%s is too large; using defaults", path);
			goto out;
		}
	}
	text[len] = '\0';
	/* Complaints about bad lines go to the logging in force before this file. */
	wp11_conf_parse(conf, text);
out:
	free(text);
	if (fd >= 0)
		close(fd);
}
