/*
 * enc_conn.c - one client connection: read a frame, dispatch, answer, repeat.
 *
 * One table drives dispatch: each request type has a maximum body length, checked
 * against the header BEFORE the body is allocated, and a handler.  A malformed
 * frame, a too-long body, a timeout inside a frame or a peer that goes away closes
 * this connection only.
 */
#include "enc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sign.h"

/* Fixed bodies: HELLO u32; LOGIN u32 + bytes(pin); LOGOUT bytes(ticket).  LOGIN allows
 * PINs up to twice the longest so that a too-long PIN gets WARDEN_E_PIN_LEN; longer
 * bodies close the connection. */
#define MAX_BODY_HELLO 4u
#define MAX_BODY_STATUS 0u
#define MAX_BODY_LOGIN (4u + 4u + 2u * WIRE_MAX_PIN)
#define MAX_BODY_LOGOUT (4u + WIRE_TICKET_LEN)
#define SIGN_MSG_LEN (POL_SENTENCE_MAX + 128u)
_Static_assert(SIGN_MSG_LEN <= WIRE_MAX_STR, "a refusal sentence fits a wire string");

struct dispatch {
	uint8_t type;
	size_t max_body; /* SIGN: computed from the configured data bound */
	enc_handler_fn handler;
};

static const struct dispatch table[] = {
	{WIRE_HELLO, MAX_BODY_HELLO, enc_handle_hello},
	{WIRE_STATUS, MAX_BODY_STATUS, enc_handle_status},
	{WIRE_LOGIN, MAX_BODY_LOGIN, enc_handle_login},
	{WIRE_LOGOUT, MAX_BODY_LOGOUT, enc_handle_logout},
	{WIRE_SIGN, 0, enc_handle_sign},
};
_Static_assert(sizeof(table) / sizeof(table[0]) == WIRE_TYPE_MAX, "every request type");

static const struct dispatch *dispatch_find(uint8_t type)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].type == type)
			return &table[i];
	return NULL;
}

size_t enc_max_body(const struct enc_state *st, uint8_t type)
{
	const struct dispatch *d = dispatch_find(type);
	if (d == NULL)
		return 0;
	if (type == WIRE_SIGN)
		return st->cfg.max_data_len + ENC_SIGN_BODY_EXTRA;
	return d->max_body;
}

/* --- SIGN ------------------------------------------------------------------------------ */

static int sign_answer(struct wire_buf *resp, uint32_t status, const char *msg,
		       const uint8_t *sig, size_t sig_len)
{
	enc_resp_begin(resp, WIRE_SIGN, status, msg);
	if (status == WARDEN_OK)
		wire_put_bytes(resp, sig, sig_len);
	return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
}

int enc_handle_sign(struct enc_state *st, const struct enc_peer *peer, const uint8_t *body,
		    size_t len, struct wire_buf *resp)
{
	static const uint8_t no_ticket[WIRE_TICKET_LEN];
	struct wire_sign_req r;
	const struct enc_key *k = NULL;
	uint8_t sig[WIRE_MAX_SIG];
	size_t sig_len = sizeof(sig);
	char msg[SIGN_MSG_LEN] = "", why[SIGN_MSG_LEN] = "";
	/* A request refused before the policy is consulted: what the client is told, and
	 * the reason and sentence of its record. */
	uint32_t status = WARDEN_OK;
	enum pol_reason reason = POL_R_OK;
	const char *answer = msg;
	int ret;

	if (wire_dec_sign_req(body, len, &r) != WARDEN_OK)
		return WARDEN_E_PROTOCOL;
	if (r.key_id < st->num_keys)
		k = &st->keys[r.key_id]; /* the record names it, even without a login */
	if (CRYPTO_memcmp(r.ticket, no_ticket, WIRE_TICKET_LEN) == 0) {
		status = WARDEN_E_NOT_LOGGED_IN;
		reason = POL_R_NOT_LOGGED_IN;
		answer = "log in first";
		snprintf(why, sizeof(why), "no login ticket: log in first");
		goto refused;
	}
	if (!enc_ticket_valid(st, r.ticket, peer->uid)) {
		status = WARDEN_E_NOT_LOGGED_IN;
		reason = POL_R_NOT_LOGGED_IN;
		answer = "log in first";
		snprintf(why, sizeof(why), "a login ticket this enclave does not hold for uid %u "
			 "(logged out, from before a restart, or never issued): log in first",
			 (unsigned)peer->uid);
		goto refused;
	}
	if (k == NULL) {
		status = WARDEN_E_KEY;
		reason = POL_R_KEY_UNKNOWN;
		answer = "no such key";
		snprintf(why, sizeof(why), "no such key: key id %lu (the enclave serves %zu)",
			 (unsigned long)r.key_id, st->num_keys);
		goto refused;
	}
	if (!enc_key_has_mech(k, r.mechanism)) {
		status = WARDEN_E_MECHANISM;
		reason = POL_R_MECHANISM;
		snprintf(msg, sizeof(msg), "mechanism 0x%lx is not allowed for key \"%s\"",
			 (unsigned long)r.mechanism, k->cfg->label);
		goto refused;
	}
	if (r.data_len > st->cfg.max_data_len) {
		status = WARDEN_E_DATA_LEN;
		reason = POL_R_DATA_TOO_LONG;
		snprintf(msg, sizeof(msg), "data of %zu bytes exceeds the enclave's bound of %zu",
			 r.data_len, st->cfg.max_data_len);
		goto refused;
	}
	struct sign_req req = {
		.mechanism = r.mechanism,
		.has_pss = r.param_kind == WIRE_PK_PSS,
		.pss_hash_alg = r.pss_hash_alg,
		.pss_mgf = r.pss_mgf,
		.pss_salt_len = r.pss_salt_len,
		.data = r.data,
		.data_len = r.data_len,
	};
	struct sign_op op;
	/* The policy decides and the record is durable before anything is signed (the
	 * backend operation is begun meanwhile; enc_decide cancels it on a refusal). */
	int rc = enc_decide(st, peer, k, &r, msg, sizeof(msg), &req, &op);
	if (rc != WARDEN_OK) {
		ret = sign_answer(resp, (uint32_t)rc, msg, NULL, 0);
		goto out;
	}
	/* The decision line (enc_decide) and the audit record (with the data's SHA-256)
	 * already describe this signature: no second log line, no second hash. */
	rc = sign_end(&op, k->cfg->verify_signatures, sig, &sig_len, msg, sizeof(msg));
	if (rc != WARDEN_OK)
		enc_log(ENC_LOG_ERR, "key \"%s\" mechanism 0x%lx: allowed but not signed: %s",
			k->cfg->label, (unsigned long)r.mechanism, msg);
	ret = sign_answer(resp, (uint32_t)rc, rc == WARDEN_OK ? "" : msg, sig, sig_len);
	goto out;
refused:
	/* Recorded like any refusal (issue 4: every decision).  A record that cannot be made
	 * durable is logged there and changes nothing here: refused either way, as before. */
	if (enc_decide_refuse(st, peer, k, &r, reason, why[0] != '\0' ? why : answer) !=
	    WARDEN_OK) {
		/* WARDEN_E_AUDIT: the client is told what it is told without a record */
	}
	ret = sign_answer(resp, status, answer, NULL, 0);
out:
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(sig, sizeof(sig));
	return ret;
}

/* --- the connection ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev, or until the deadline (CLOCK_MONOTONIC ms; -1: none).
 * 0 when ready (or closed: the read or write then says so), -1 on timeout or error. */
static int wait_ready(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int timeout = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -1;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd pfd = {fd, ev, 0};
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 0 : -1;
	}
}

/* The connection's receive buffer.  A request usually arrives whole in one segment
 * (the module sends header and body with one send), so a frame normally costs one
 * recv: blocking while the connection idles between frames (no poll), MSG_DONTWAIT
 * inside a frame, with a poll only when that would block.  Bytes [start, end) are
 * received and not yet consumed. */
#define ENC_CONN_BUF (WIRE_HEADER_LEN + 16u * 1024u)

struct conn_in {
	int fd;
	uint8_t *buf; /* ENC_CONN_BUF bytes */
	size_t start, end;
};

/* Makes at least need (<= ENC_CONN_BUF) bytes available at in->start, reading by the
 * deadline (-1: none, block).  Returns 0, 1 on EOF with nothing buffered, -1 on error,
 * EOF mid-way or timeout. */
static int in_fill(struct conn_in *in, size_t need, int64_t deadline)
{
	if (in->start + need > ENC_CONN_BUF) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	while (in->end - in->start < need) {
		ssize_t r = recv(in->fd, in->buf + in->end, ENC_CONN_BUF - in->end,
				 deadline < 0 ? 0 : MSG_DONTWAIT);
		if (r > 0) {
			in->end += (size_t)r;
			continue;
		}
		if (r == 0)
			return in->end == in->start ? 1 : -1;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) && deadline >= 0 &&
		    wait_ready(in->fd, POLLIN, deadline) == 0)
			continue;
		return -1;
	}
	return 0;
}

/* Reads exactly len bytes into p by the deadline: first what the buffer holds, then
 * straight from the socket (bodies larger than the buffer). */
static int in_read(struct conn_in *in, uint8_t *p, size_t len, int64_t deadline)
{
	size_t got = in->end - in->start < len ? in->end - in->start : len;
	memcpy(p, in->buf + in->start, got);
	explicit_bzero(in->buf + in->start, got);
	in->start += got;
	while (got < len) {
		ssize_t r = recv(in->fd, p + got, len - got, MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_ready(in->fd, POLLIN, deadline) == 0)
			continue;
		return -1;
	}
	return 0;
}

/* Writes all of p by the deadline: a client that does not take its answer in time is
 * dropped (so it cannot hold a thread, or a shutdown, for ever). */
static int write_full(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_ready(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void enc_conn_serve(struct enc_state *st, int fd, const struct enc_peer *peer)
{
	struct conn_in in = {fd, malloc(ENC_CONN_BUF), 0, 0};
	struct wire_header h;
	struct wire_buf resp;

	wire_buf_init(&resp);
	if (in.buf == NULL) {
		enc_log(ENC_LOG_ERR, "out of memory for a connection");
		return;
	}
	for (;;) {
		/* Between frames a client may idle (the module pools connections); from
		 * the first byte on, the whole frame has one deadline. */
		int rc = in_fill(&in, 1, -1);
		int64_t deadline = now_ms() + (int64_t)st->cfg.frame_timeout_ms;
		if (rc == 0)
			rc = in_fill(&in, WIRE_HEADER_LEN, deadline);
		if (rc == 1)
			break; /* the client closed between frames */
		if (rc != 0) {
			enc_log(ENC_LOG_WARNING, "uid %u pid %d: connection lost in a frame header",
				(unsigned)peer->uid, (int)peer->pid);
			break;
		}
		if (wire_header_parse(in.buf + in.start, &h) != WARDEN_OK ||
		    (h.type & WIRE_RESPONSE) != 0) {
			enc_log(ENC_LOG_WARNING, "uid %u pid %d: malformed frame header; closing",
				(unsigned)peer->uid, (int)peer->pid);
			break;
		}
		const struct dispatch *d = dispatch_find(h.type);
		if (d == NULL || h.body_len > enc_max_body(st, h.type)) {
			enc_log(ENC_LOG_WARNING,
				"uid %u pid %d: request type %u with a %u-byte body refused; closing",
				(unsigned)peer->uid, (int)peer->pid, h.type, h.body_len);
			break;
		}
		/* A body that fits the buffer is handled in place; a larger one is read
		 * into its own allocation (its length was checked above). */
		uint8_t *body = NULL, *own = NULL;
		if ((size_t)h.body_len <= ENC_CONN_BUF - WIRE_HEADER_LEN) {
			rc = in_fill(&in, WIRE_HEADER_LEN + (size_t)h.body_len, deadline);
			body = in.buf + in.start + WIRE_HEADER_LEN;
		} else {
			own = malloc(h.body_len);
			if (own == NULL) {
				enc_log(ENC_LOG_ERR, "out of memory for a %u-byte request",
					h.body_len);
				break;
			}
			in.start += WIRE_HEADER_LEN;
			rc = in_read(&in, own, h.body_len, deadline);
			body = own;
		}
		if (rc != 0) {
			enc_log(ENC_LOG_WARNING, "uid %u pid %d: connection lost in a frame body",
				(unsigned)peer->uid, (int)peer->pid);
			free(own);
			break;
		}
		rc = d->handler(st, peer, h.body_len > 0 ? body : NULL, h.body_len, &resp);
		/* The body may hold a PIN or a ticket. */
		if (own != NULL) {
			explicit_bzero(own, h.body_len);
			free(own);
		} else {
			explicit_bzero(in.buf + in.start, WIRE_HEADER_LEN + (size_t)h.body_len);
			in.start += WIRE_HEADER_LEN + (size_t)h.body_len;
		}
		if (in.start == in.end)
			in.start = in.end = 0;
		if (rc != WARDEN_OK) {
			enc_log(ENC_LOG_WARNING, "uid %u pid %d: malformed type %u request; closing",
				(unsigned)peer->uid, (int)peer->pid, h.type);
			break;
		}
		rc = write_full(fd, resp.data, resp.len,
				now_ms() + (int64_t)st->cfg.frame_timeout_ms);
		wire_buf_free(&resp);
		if (rc != 0) {
			enc_log(ENC_LOG_WARNING, "uid %u pid %d: gone before the answer",
				(unsigned)peer->uid, (int)peer->pid);
			break;
		}
	}
	wire_buf_free(&resp);
	explicit_bzero(in.buf, ENC_CONN_BUF);
	free(in.buf);
	enc_decide_thread_end();
	sign_thread_end();
}
