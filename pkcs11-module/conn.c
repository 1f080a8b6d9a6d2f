/*
 * conn.c - the pool of connections to the enclave, and one request/response on it.
 *
 * A call takes an idle connection (a zero-timeout poll first: an idle connection has
 * nothing to read, so readability means the enclave closed it) or opens a new one, which
 * starts with HELLO.  It sends one frame, reads one, and gives the connection back; on any
 * I/O or framing error the connection is closed instead, so a restarted enclave costs only
 * the call in flight.  At most WP11_POOL_MAX connections exist; a caller beyond that waits
 * (up to the configured timeout) for one to come back.
 *
 * Every descriptor the pool opened is in pool.fds, busy or idle, so that a forked child
 * can close them all without touching the parent's connections (close only: no shutdown,
 * no bytes sent).
 */
#include "wp11.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WP11_POOL_MAX 32
#define WP11_MS_PER_S 1000
/* The largest answer but HELLO's: status, message, token flags, and a signature or a
 * ticket.  Checked before anything is allocated: a hostile or broken enclave cannot make
 * every calling thread allocate WIRE_MAX_BODY. */
#define WP11_MAX_SMALL_RESP (4u + 4u + WIRE_MAX_STR + 4u + 4u + WIRE_MAX_SIG)
_Static_assert(WIRE_TICKET_LEN <= WIRE_MAX_SIG, "a LOGIN answer fits the small bound");

enum slot_state { SLOT_FREE = 0, SLOT_IDLE, SLOT_BUSY };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned gen; /* bumped by shutdown: busy connections of an older one are closed */
	char path[WP11_SOCKET_PATH_MAX];
	int timeout_s;
	long enclave_uid;
	int fds[WP11_POOL_MAX];
	enum slot_state state[WP11_POOL_MAX];
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.path = WP11_DEFAULT_SOCKET,
	.timeout_s = WP11_DEFAULT_TIMEOUT_S,
	.enclave_uid = WP11_ENCLAVE_UID_ANY,
};

static void pool_lock(void)
{
	pthread_mutex_lock(&pool.lock);
}

static void pool_unlock(void)
{
	pthread_mutex_unlock(&pool.lock);
}

void wp11_pool_setup(const struct wp11_conf *conf)
{
	pool_lock();
	strcpy(pool.path, conf->socket_path);
	pool.timeout_s = conf->timeout_s;
	pool.enclave_uid = conf->enclave_uid;
	pool_unlock();
}

void wp11_pool_shutdown(int after_fork)
{
	pool_lock();
	pool.gen++;
	for (int i = 0; i < WP11_POOL_MAX; i++) {
		if (pool.state[i] == SLOT_IDLE || (after_fork && pool.state[i] == SLOT_BUSY)) {
			if (pool.fds[i] >= 0)
				close(pool.fds[i]);
			pool.state[i] = SLOT_FREE;
			pool.fds[i] = -1;
		}
	}
	pthread_cond_broadcast(&pool.cond);
	pool_unlock();
}

void wp11_pool_atfork_prepare(void)
{
	pool_lock();
}

void wp11_pool_atfork_parent(void)
{
	pool_unlock();
}

void wp11_pool_atfork_child(void)
{
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.cond, NULL);
	/* The descriptors stay open until the child's C_Initialize closes them. */
}

/* --- raw I/O ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * WP11_MS_PER_S + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			errno = ECONNRESET;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The first read of an answer: one blocking recv (the socket's SO_RCVTIMEO, set to the
 * call timeout at connect, bounds the wait) into a buffer that holds any answer but
 * HELLO's whole, so an answer normally costs one system call.  The rare rest (a HELLO,
 * an answer that arrives in pieces) goes through recv_all by the deadline.  Returns the
 * number of bytes read (>= 1) or -1. */
static ssize_t recv_first(int fd, uint8_t *p, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, p, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			errno = ETIMEDOUT;
		if (n == 0)
			errno = ECONNRESET;
		return n > 0 ? n : -1;
	}
}

/* Sends req and reads the response to `type` into resp.  CKR_OK or CKR_DEVICE_ERROR. */
static CK_RV exchange(int fd, uint8_t type, const struct wire_buf *req, int timeout_s,
		      struct wp11_resp *resp)
{
	uint8_t first[WIRE_HEADER_LEN + WP11_MAX_SMALL_RESP];
	struct wire_header h;
	int64_t deadline = now_ms() + (int64_t)timeout_s * WP11_MS_PER_S;

	memset(resp, 0, sizeof(*resp));
	if (send_all(fd, req->data, req->len) != 0) {
		wp11_log(WP11_LOG_ERROR, "sending to the enclave failed: %s", strerror(errno));
		return CKR_DEVICE_ERROR;
	}
	ssize_t got = recv_first(fd, first, sizeof(first));
	if (got < 0 || ((size_t)got < WIRE_HEADER_LEN &&
			recv_all(fd, first + got, WIRE_HEADER_LEN - (size_t)got, deadline) != 0)) {
		wp11_log(WP11_LOG_ERROR, "no answer from the enclave: %s", strerror(errno));
		return CKR_DEVICE_ERROR;
	}
	size_t have = (size_t)got < WIRE_HEADER_LEN ? WIRE_HEADER_LEN : (size_t)got;
	if (wire_header_parse(first, &h) != WARDEN_OK || h.type != (type | WIRE_RESPONSE)) {
		wp11_log(WP11_LOG_ERROR, "malformed frame header from the enclave");
		return CKR_DEVICE_ERROR;
	}
	if (type != WIRE_HELLO && h.body_len > WP11_MAX_SMALL_RESP) {
		wp11_log(WP11_LOG_ERROR, "the enclave announced a %u-byte answer to a type %u "
					 "request; closing",
			 h.body_len, type);
		return CKR_DEVICE_ERROR;
	}
	if (have - WIRE_HEADER_LEN > h.body_len) {
		/* One request, one answer: bytes beyond it are a broken stream. */
		explicit_bzero(first, sizeof(first));
		wp11_log(WP11_LOG_ERROR, "the enclave sent more than one answer; closing");
		return CKR_DEVICE_ERROR;
	}
	resp->body = malloc(h.body_len > 0 ? h.body_len : 1);
	if (resp->body == NULL) {
		explicit_bzero(first, sizeof(first));
		return CKR_HOST_MEMORY;
	}
	resp->body_len = h.body_len;
	size_t in_first = have - WIRE_HEADER_LEN;
	memcpy(resp->body, first + WIRE_HEADER_LEN, in_first);
	explicit_bzero(first, have); /* a LOGIN answer holds a ticket */
	if (recv_all(fd, resp->body + in_first, h.body_len - in_first, deadline) != 0) {
		wp11_log(WP11_LOG_ERROR, "truncated answer from the enclave: %s", strerror(errno));
		goto bad;
	}
	resp->rest.p = resp->body;
	resp->rest.len = resp->body_len;
	if (wire_get_u32(&resp->rest, &resp->status) != 0 ||
	    wire_get_str(&resp->rest, resp->message, sizeof(resp->message)) != 0) {
		wp11_log(WP11_LOG_ERROR, "malformed answer from the enclave");
		goto bad;
	}
	return CKR_OK;
bad:
	wp11_resp_free(resp);
	return CKR_DEVICE_ERROR;
}

void wp11_resp_free(struct wp11_resp *resp)
{
	if (resp->body != NULL) {
		explicit_bzero(resp->body, resp->body_len); /* a LOGIN answer holds a ticket */
		free(resp->body);
	}
	memset(resp, 0, sizeof(*resp));
}

/* 0 when the peer runs as want_uid (or want_uid is WP11_ENCLAVE_UID_ANY). */
static int peer_check(int fd, long want_uid, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (want_uid == WP11_ENCLAVE_UID_ANY)
		return 0;
	if (want_uid == WP11_ENCLAVE_UID_BAD) {
		wp11_log(WP11_LOG_ERROR, "module.conf has a malformed enclave_uid: no enclave "
					 "is trusted until it is fixed");
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
		wp11_log(WP11_LOG_ERROR, "cannot read the credentials of %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if ((long)cred.uid != want_uid) {
		wp11_log(WP11_LOG_ERROR, "%s is served by uid %u pid %d, not the enclave's uid %ld: "
					 "not using it",
			 path, (unsigned)cred.uid, (int)cred.pid, want_uid);
		return -1;
	}
	return 0;
}

/* Opens a connection, checks who serves it and does HELLO on it.  Returns the descriptor
 * or -1. */
static int conn_open(const char *path, int timeout_s, long enclave_uid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_s};
	struct wire_buf req;
	struct wp11_resp resp;
	struct wp11_token *t = NULL;
	int fd, ok = 0, st;

	wire_buf_init(&req);
	memset(&resp, 0, sizeof(resp));
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		wp11_log(WP11_LOG_ERROR, "socket: %s", strerror(errno));
		goto out;
	}
	/* Bounds connect and send (AF_UNIX connect waits on a full backlog), and the wait
	 * for an answer's first bytes (exchange reads them with one blocking recv). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		wp11_log(WP11_LOG_ERROR, "setsockopt: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		wp11_log(WP11_LOG_DEBUG, "connect %s: %s", path, strerror(errno));
		goto out;
	}
	if (peer_check(fd, enclave_uid, path) != 0) {
		errno = EPERM;
		goto out;
	}
	wire_frame_begin(&req, WIRE_HELLO);
	wire_put_u32(&req, (uint32_t)getpid());
	if (wire_frame_end(&req) != 0)
		goto out;
	if (exchange(fd, WIRE_HELLO, &req, timeout_s, &resp) != CKR_OK)
		goto out;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto out;
	st = wp11_hello_parse(resp.body, resp.body_len, t);
	if (st != WARDEN_OK) {
		wp11_log(WP11_LOG_ERROR, "enclave at %s refused HELLO: %s%s%s", path,
			 wire_status_str((uint32_t)st), resp.message[0] ? ": " : "", resp.message);
		goto out;
	}
	wp11_hello_seen(t); /* takes t */
	t = NULL;
	ok = 1;
out:
	if (t != NULL) {
		wp11_token_free(t);
		free(t);
	}
	wp11_resp_free(&resp);
	wire_buf_free(&req);
	if (!ok && fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		fd = -1;
	}
	return fd;
}

/* Takes a live connection: CKR_OK, CKR_TOKEN_NOT_PRESENT or CKR_DEVICE_ERROR. */
static CK_RV conn_get(struct wp11_conn *c, char *path, int *timeout_s)
{
	int64_t deadline = 0;
	long enclave_uid;

	pool_lock();
	for (;;) {
		int free_slot = -1, idle = -1;
		for (int i = 0; i < WP11_POOL_MAX; i++) {
			if (pool.state[i] == SLOT_IDLE && idle < 0)
				idle = i;
			if (pool.state[i] == SLOT_FREE && free_slot < 0)
				free_slot = i;
		}
		strcpy(path, pool.path);
		*timeout_s = pool.timeout_s;
		enclave_uid = pool.enclave_uid;
		if (idle >= 0) {
			struct pollfd pfd = {.fd = pool.fds[idle], .events = POLLIN};
			if (poll(&pfd, 1, 0) == 0) {
				pool.state[idle] = SLOT_BUSY;
				c->fd = pool.fds[idle];
				c->slot = idle;
				c->gen = pool.gen;
				pool_unlock();
				return CKR_OK;
			}
			/* Closed by the enclave (or unexpected bytes): drop it, try the next. */
			close(pool.fds[idle]);
			pool.fds[idle] = -1;
			pool.state[idle] = SLOT_FREE;
			continue;
		}
		if (free_slot >= 0) {
			pool.state[free_slot] = SLOT_BUSY;
			pool.fds[free_slot] = -1;
			unsigned gen = pool.gen;
			pool_unlock();
			int fd = conn_open(path, *timeout_s, enclave_uid);
			int err = errno;
			pool_lock();
			if (fd < 0 || gen != pool.gen) {
				if (pool.state[free_slot] == SLOT_BUSY && pool.fds[free_slot] < 0)
					pool.state[free_slot] = SLOT_FREE;
				pthread_cond_signal(&pool.cond);
				pool_unlock();
				if (fd >= 0) {
					close(fd);
					return CKR_DEVICE_ERROR;
				}
				errno = err;
				return CKR_TOKEN_NOT_PRESENT;
			}
			pool.fds[free_slot] = fd;
			c->fd = fd;
			c->slot = free_slot;
			c->gen = gen;
			pool_unlock();
			return CKR_OK;
		}
		/* All WP11_POOL_MAX connections are busy: wait for one. */
		if (deadline == 0)
			deadline = now_ms() + (int64_t)pool.timeout_s * WP11_MS_PER_S;
		int64_t at = deadline;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t left = at - now_ms();
		if (left <= 0) {
			pool_unlock();
			wp11_log(WP11_LOG_ERROR, "no connection to the enclave became free");
			return CKR_DEVICE_ERROR;
		}
		ts.tv_sec += left / WP11_MS_PER_S;
		ts.tv_nsec += (left % WP11_MS_PER_S) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pool.cond, &pool.lock, &ts);
	}
}

/* Gives a connection back (ok) or closes it (!ok, or the pool was shut down since). */
static void conn_put(struct wp11_conn *c, int ok)
{
	pool_lock();
	if (c->gen != pool.gen) {
		/* Shut down meanwhile: the descriptor is closed, and its slot freed unless a
		 * forked child's shutdown already did. */
		if (pool.state[c->slot] == SLOT_BUSY && pool.fds[c->slot] == c->fd) {
			pool.fds[c->slot] = -1;
			pool.state[c->slot] = SLOT_FREE;
		}
		close(c->fd);
	} else if (ok) {
		pool.state[c->slot] = SLOT_IDLE;
	} else {
		close(c->fd);
		pool.fds[c->slot] = -1;
		pool.state[c->slot] = SLOT_FREE;
	}
	pthread_cond_signal(&pool.cond);
	pool_unlock();
}

CK_RV wp11_call(uint8_t type, const struct wire_buf *req, struct wp11_resp *resp)
{
	struct wp11_conn c;
	char path[WP11_SOCKET_PATH_MAX];
	int timeout_s;
	CK_RV rv;

	memset(resp, 0, sizeof(*resp));
	rv = conn_get(&c, path, &timeout_s);
	if (rv != CKR_OK) {
		if (rv == CKR_TOKEN_NOT_PRESENT)
			wp11_log(WP11_LOG_WARNING, "cannot reach the enclave at %s: %s", path,
				 strerror(errno));
		return rv;
	}
	rv = exchange(c.fd, type, req, timeout_s, resp);
	conn_put(&c, rv == CKR_OK);
	return rv;
}
