/*
 * enc_log.c - the enclave's log: stderr, a file, or syslog.
 *
 * Every destination is opened before the sandbox and written with one write()/send()
 * per line, so logging needs no syscall the seccomp filter forbids.  syslog does not
 * use libc's syslog(): that reconnects with socket() when the log daemon restarts,
 * which the sandbox kills.  Here a lost syslog connection just drops messages.
 */
#include "enc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_SYSLOG_PATH "/dev/log"
#define LOG_FACILITY_DAEMON (3 << 3)
#define LOG_IDENT "warden-enclave"

enum log_dest { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static enum log_dest dest = DEST_STDERR;
static int log_fd = STDERR_FILENO;
/* The enclave never forks after start-up: its pid, read once (getpid is a system call
 * on every line otherwise). */
static pid_t log_pid;

int enc_log_open(const char *spec, char *err, size_t err_len)
{
	if (spec == NULL || strcmp(spec, "stderr") == 0) {
		dest = DEST_STDERR;
		log_fd = STDERR_FILENO;
		return 0;
	}
	if (strcmp(spec, "syslog") == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, LOG_SYSLOG_PATH, sizeof(LOG_SYSLOG_PATH));
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			snprintf(err, err_len, "cannot connect to %s: %s", LOG_SYSLOG_PATH,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		dest = DEST_SYSLOG;
		log_fd = fd;
		return 0;
	}
	int fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open log file %s: %s", spec, strerror(errno));
		return -1;
	}
	dest = DEST_FILE;
	log_fd = fd;
	return 0;
}

static const char *level_name(int level)
{
	switch (level) {
	case ENC_LOG_ERR:
		return "error";
	case ENC_LOG_WARNING:
		return "warning";
	case ENC_LOG_NOTICE:
		return "notice";
	case ENC_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void enc_log(int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;
	va_list ap;

	pid_t pid = __atomic_load_n(&log_pid, __ATOMIC_RELAXED);
	if (pid == 0) {
		pid = getpid();
		__atomic_store_n(&log_pid, pid, __ATOMIC_RELAXED);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	if (dest == DEST_SYSLOG) {
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "<%d>%s %s[%d]: ", LOG_FACILITY_DAEMON | level,
			     stamp, LOG_IDENT, (int)pid);
	} else {
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ld %s[%d] %s: ", stamp,
			     ts.tv_nsec / 1000000, LOG_IDENT, (int)pid, level_name(level));
	}
	if (n < 0 || n >= (int)sizeof(line) - 1)
		return;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* No control characters from callers' strings reach the log. */
	for (size_t i = (size_t)n; i < len; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	if (dest != DEST_SYSLOG)
		line[len++] = '\n';
	if (dest == DEST_SYSLOG)
		(void)!send(log_fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		(void)!write(log_fd, line, len);
}
