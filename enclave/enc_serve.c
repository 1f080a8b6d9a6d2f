/*
 * enc_serve.c - the listening socket and the main loop.
 *
 * The main thread polls the listening socket and a signalfd.  Each accepted client
 * whose uid is allowed gets a thread (at most max_clients); one more is answered
 * BUSY and closed.  At SIGTERM/SIGINT the main thread stops accepting, shuts down the
 * read side of every connection (a thread finishes the request in flight, answers,
 * then sees EOF), joins every thread and returns.
 *
 * Slots: FREE -> RUNNING (main, at accept) -> DONE (the thread, at its end) -> FREE
 * (main, after join; main closes the fd, so a shutdown() never hits a reused fd).
 */
#include "enc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BUSY_PEEK_MS 100

enum slot_state { SLOT_FREE = 0, SLOT_RUNNING, SLOT_DONE };

struct slot {
	pthread_t thread;
	int fd;
	enum slot_state state; /* guarded by slots_lock */
	struct enc_peer peer;
	struct enc_state *st;
};

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

int enc_listen(const struct enc_config *cfg, int *out_fd, char *err, size_t err_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd = -1;

	*out_fd = -1;
	if (strlen(cfg->socket) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, cfg->socket, strlen(cfg->socket) + 1);
	if (lstat(cfg->socket, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, err_len, "%s exists and is not a socket", cfg->socket);
			return -1;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			snprintf(err, err_len, "another enclave is serving on %s", cfg->socket);
			return -1;
		}
		if (unlink(cfg->socket) != 0) {
			snprintf(err, err_len, "cannot remove stale socket %s: %s", cfg->socket,
				 strerror(errno));
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177); /* no window in which the socket is open to all */
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(cfg->socket, cfg->socket_mode) != 0 ||
	    listen(fd, ENC_LISTEN_BACKLOG) != 0) {
		snprintf(err, err_len, "cannot listen on %s: %s", cfg->socket, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*out_fd = fd;
	return 0;
}

static void *conn_thread(void *arg)
{
	struct slot *s = arg;
	enc_conn_serve(s->st, s->fd, &s->peer);
	shutdown(s->fd, SHUT_RDWR); /* the peer sees EOF now; main closes the fd at reap */
	pthread_mutex_lock(&slots_lock);
	s->state = SLOT_DONE;
	pthread_mutex_unlock(&slots_lock);
	return NULL;
}

/* Joins finished threads; returns the number still running. */
static size_t reap(struct slot *slots, size_t n)
{
	size_t running = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&slots_lock);
		enum slot_state state = slots[i].state;
		pthread_mutex_unlock(&slots_lock);
		if (state == SLOT_DONE) {
			pthread_join(slots[i].thread, NULL);
			close(slots[i].fd);
			slots[i].state = SLOT_FREE;
		} else if (state == SLOT_RUNNING) {
			running++;
		}
	}
	return running;
}

/* Answers BUSY to a client over the limit: with its request's type when the header
 * arrives quickly, else as a HELLO answer (every answer starts with the status). */
static void answer_busy(int fd)
{
	uint8_t hdr[WIRE_HEADER_LEN];
	struct wire_header h;
	struct wire_buf b;
	uint8_t type = WIRE_HELLO;
	struct pollfd pfd = {fd, POLLIN, 0};

	if (poll(&pfd, 1, BUSY_PEEK_MS) == 1 &&
	    recv(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT) == (ssize_t)sizeof(hdr) &&
	    wire_header_parse(hdr, &h) == WARDEN_OK && !(h.type & WIRE_RESPONSE))
		type = h.type;
	wire_buf_init(&b);
	enc_resp_begin(&b, type, WARDEN_E_BUSY, "too many clients; try again");
	if (wire_frame_end(&b) == 0)
		(void)!send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	wire_buf_free(&b);
}

static int uid_allowed(const struct enc_config *cfg, uid_t uid)
{
	for (size_t i = 0; i < cfg->num_uids; i++)
		if (cfg->allowed_uids[i] == uid)
			return 1;
	return 0;
}

static void accept_one(struct enc_state *st, int lfd, struct slot *slots)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			enc_log(ENC_LOG_WARNING, "accept: %s", strerror(errno));
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || cl != sizeof(cred)) {
		enc_log(ENC_LOG_WARNING, "cannot read peer credentials; closing");
		close(fd);
		return;
	}
	if (!uid_allowed(&st->cfg, cred.uid)) {
		enc_log(ENC_LOG_WARNING, "uid %u pid %d is not an allowed client; closing",
			(unsigned)cred.uid, (int)cred.pid);
		close(fd);
		return;
	}
	reap(slots, st->cfg.max_clients);
	struct slot *s = NULL;
	for (size_t i = 0; i < st->cfg.max_clients && s == NULL; i++)
		if (slots[i].state == SLOT_FREE)
			s = &slots[i];
	if (s != NULL) {
		s->fd = fd;
		s->st = st;
		s->peer = (struct enc_peer){cred.pid, cred.uid, cred.gid};
		s->state = SLOT_RUNNING;
		if (pthread_create(&s->thread, NULL, conn_thread, s) == 0)
			return;
		s->state = SLOT_FREE;
		enc_log(ENC_LOG_ERR, "cannot start a thread: %s", strerror(errno));
	} else {
		enc_log(ENC_LOG_WARNING, "%u clients connected; uid %u pid %d told busy",
			st->cfg.max_clients, (unsigned)cred.uid, (int)cred.pid);
	}
	answer_busy(fd);
	close(fd);
}

int enc_serve(struct enc_state *st, int lfd, int sigfd)
{
	size_t n = st->cfg.max_clients;
	struct slot *slots = calloc(n, sizeof(*slots));
	if (slots == NULL) {
		enc_log(ENC_LOG_ERR, "out of memory");
		return 1;
	}
	enc_log(ENC_LOG_INFO, "serving %zu key(s) on %s", st->num_keys, st->cfg.socket);
	for (;;) {
		struct pollfd pfd[2] = {{lfd, POLLIN, 0}, {sigfd, POLLIN, 0}};
		int rc = poll(pfd, 2, ENC_TICK_MS);
		if (aud_tick(st->log) != WARDEN_OK) {
			char why[AUD_ERR_LEN] = "";
			(void)aud_failed(st->log, why, sizeof(why));
			enc_log(ENC_LOG_ERR, "audit: periodic checkpoint failed: %s", why);
			if (aud_retry(st->log) == WARDEN_OK)
				enc_log(ENC_LOG_INFO, "audit: writing works again");
		}
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			enc_log(ENC_LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					enc_log(ENC_LOG_INFO, "SIGHUP: reloading the policy %s "
							      "(enclave.json changes need a restart)",
						st->cfg.policy);
					enc_policy_reload(st);
					continue;
				}
				enc_log(ENC_LOG_INFO, "signal %u: finishing requests in flight",
					si.ssi_signo);
				break;
			}
		}
		if (pfd[0].revents & POLLIN)
			accept_one(st, lfd, slots);
	}
	close(lfd);
	pthread_mutex_lock(&slots_lock);
	for (size_t i = 0; i < n; i++)
		if (slots[i].state == SLOT_RUNNING)
			shutdown(slots[i].fd, SHUT_RD);
	pthread_mutex_unlock(&slots_lock);
	for (size_t i = 0; i < n; i++) {
		if (slots[i].state != SLOT_FREE) {
			pthread_join(slots[i].thread, NULL);
			close(slots[i].fd);
		}
	}
	free(slots);
	enc_log(ENC_LOG_INFO, "stopped");
	return 0;
}
