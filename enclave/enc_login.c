/*
 * enc_login.c - the user PIN, its durable failure counter, login tickets, and the
 * HELLO, STATUS, LOGIN and LOGOUT handlers.
 *
 * Invariants:
 *  - LOGINs are serialised by st->login_lock, held from the check of the counter to its
 *    reset, so parallel wrong PINs on many connections get exactly pin_max_failures
 *    tries between them and no increment is lost.
 *  - A failure is counted on disk BEFORE the PIN is compared, so killing the enclave
 *    mid-check never loses an attempt.  A locked token computes nothing.
 *  - Tickets (st->ticket_lock, never held across scrypt or I/O) are 32 random bytes
 *    bound to the uid that logged in; a lookup compares every slot with CRYPTO_memcmp
 *    whatever it finds.  When the table is full the oldest ticket is dropped.
 */
#include "enc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define PIN_STATE_FILE "pin-state"
#define PIN_STATE_TMP "pin-state.tmp"
#define PIN_STATE_MAX 64u

static int path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int enc_pin_state_load(struct enc_state *st, char *err, size_t err_len)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	unsigned v = 0;
	int consumed = 0;

	st->pin_failures = 0;
	if (path_join(path, sizeof(path), st->cfg.state_dir, PIN_STATE_FILE) != 0) {
		snprintf(err, err_len, "state_dir path too long");
		return -1;
	}
	if (enc_file_read(path, PIN_STATE_MAX, &text, &len) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	int ok = sscanf(text, "failures=%u\n%n", &v, &consumed) == 1 &&
		 (size_t)consumed == len && v <= ENC_MAX_PIN_FAILURES;
	free(text);
	if (!ok) {
		snprintf(err, err_len, "%s: malformed (want \"failures=N\")", path);
		return -1;
	}
	st->pin_failures = v;
	return 0;
}

/* Writes the counter durably: temp file, fsync, rename, fsync of the directory. */
static int pin_state_store_locked(struct enc_state *st, unsigned failures)
{
	char tmp[PATH_MAX], path[PATH_MAX], line[PIN_STATE_MAX];
	int fd = -1, dfd = -1, ret = -1;
	int n = snprintf(line, sizeof(line), "failures=%u\n", failures);

	if (path_join(tmp, sizeof(tmp), st->cfg.state_dir, PIN_STATE_TMP) != 0 ||
	    path_join(path, sizeof(path), st->cfg.state_dir, PIN_STATE_FILE) != 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	dfd = open(st->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		enc_log(ENC_LOG_ERR, "cannot store the PIN failure count in %s: %s",
			st->cfg.state_dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

static uint32_t flags_of(const struct enc_state *st, unsigned failures)
{
	uint32_t f = 0;
	if (failures > 0)
		f |= WIRE_TF_PIN_COUNT_LOW;
	if (failures + 1 == st->cfg.pin_max_failures)
		f |= WIRE_TF_PIN_FINAL_TRY;
	if (failures >= st->cfg.pin_max_failures)
		f |= WIRE_TF_PIN_LOCKED;
	return f;
}

static uint32_t flags_locked(const struct enc_state *st)
{
	return flags_of(st, st->pin_failures);
}

static void failures_set_locked(struct enc_state *st, unsigned v)
{
	__atomic_store_n(&st->pin_failures, v, __ATOMIC_RELEASE);
}

/* Without login_lock: a HELLO or STATUS must not wait for a LOGIN's scrypt. */
uint32_t enc_token_flags(struct enc_state *st)
{
	return flags_of(st, __atomic_load_n(&st->pin_failures, __ATOMIC_ACQUIRE));
}

/* Index of a live ticket of uid, or -1.  Compares every slot, whatever it finds. */
static long ticket_find_locked(struct enc_state *st, const uint8_t t[WIRE_TICKET_LEN],
			       uid_t uid)
{
	long found = -1;
	for (size_t i = 0; i < ENC_MAX_TICKETS; i++) {
		int eq = CRYPTO_memcmp(st->tickets[i].value, t, WIRE_TICKET_LEN) == 0;
		if (eq && st->tickets[i].seq != 0 && st->tickets[i].uid == uid)
			found = (long)i;
	}
	return found;
}

int enc_ticket_valid(struct enc_state *st, const uint8_t ticket[WIRE_TICKET_LEN], uid_t uid)
{
	pthread_mutex_lock(&st->ticket_lock);
	int ok = ticket_find_locked(st, ticket, uid) >= 0;
	pthread_mutex_unlock(&st->ticket_lock);
	return ok;
}

static int ticket_issue(struct enc_state *st, uid_t uid, uint8_t out[WIRE_TICKET_LEN])
{
	size_t slot = 0;
	if (RAND_priv_bytes(out, WIRE_TICKET_LEN) != 1)
		return -1;
	pthread_mutex_lock(&st->ticket_lock);
	for (size_t i = 0; i < ENC_MAX_TICKETS; i++) {
		if (st->tickets[i].seq == 0) {
			slot = i;
			break;
		}
		if (st->tickets[i].seq < st->tickets[slot].seq)
			slot = i;
	}
	memcpy(st->tickets[slot].value, out, WIRE_TICKET_LEN);
	st->tickets[slot].seq = ++st->ticket_seq;
	st->tickets[slot].uid = uid;
	pthread_mutex_unlock(&st->ticket_lock);
	return 0;
}

void enc_resp_begin(struct wire_buf *b, uint8_t type, uint32_t status, const char *msg)
{
	wire_frame_begin(b, (uint8_t)(type | WIRE_RESPONSE));
	wire_put_u32(b, status);
	wire_put_str(b, msg);
}

/* --- handlers ------------------------------------------------------------------------ */

int enc_handle_hello(struct enc_state *st, const struct enc_peer *peer, const uint8_t *body,
		     size_t len, struct wire_buf *resp)
{
	struct wire_cur c = {body, len};
	uint32_t client_pid;
	if (wire_get_u32(&c, &client_pid) != 0 || !wire_cur_done(&c))
		return WARDEN_E_PROTOCOL;
	enc_log(ENC_LOG_DEBUG, "HELLO from uid %u pid %d (says pid %u)", (unsigned)peer->uid,
		(int)peer->pid, client_pid);
	wire_buf_free(resp);
	resp->data = malloc(st->hello.len);
	if (resp->data == NULL) {
		enc_resp_begin(resp, WIRE_HELLO, WARDEN_E_NOMEM, "out of memory");
		return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
	}
	memcpy(resp->data, st->hello.data, st->hello.len);
	resp->len = resp->cap = st->hello.len;
	uint32_t f = enc_token_flags(st);
	uint8_t *p = resp->data + st->hello_flags_off;
	p[0] = (uint8_t)(f >> 24);
	p[1] = (uint8_t)(f >> 16);
	p[2] = (uint8_t)(f >> 8);
	p[3] = (uint8_t)f;
	return WARDEN_OK;
}

int enc_handle_status(struct enc_state *st, const struct enc_peer *peer, const uint8_t *body,
		      size_t len, struct wire_buf *resp)
{
	(void)peer;
	(void)body;
	if (len != 0)
		return WARDEN_E_PROTOCOL;
	enc_resp_begin(resp, WIRE_STATUS, WARDEN_OK, "");
	wire_put_u32(resp, enc_token_flags(st));
	return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
}

static int login_answer(struct wire_buf *resp, uint32_t status, const char *msg, uint32_t flags,
			const uint8_t *ticket)
{
	enc_resp_begin(resp, WIRE_LOGIN, status, msg);
	wire_put_u32(resp, flags);
	wire_put_bytes(resp, ticket, ticket != NULL ? WIRE_TICKET_LEN : 0);
	return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
}

int enc_handle_login(struct enc_state *st, const struct enc_peer *peer, const uint8_t *body,
		     size_t len, struct wire_buf *resp)
{
	struct wire_cur c = {body, len};
	uint32_t user_type;
	const uint8_t *pin;
	size_t pin_len;
	uint8_t ticket[WIRE_TICKET_LEN];
	int ret;

	if (wire_get_u32(&c, &user_type) != 0 ||
	    wire_get_bytes(&c, WIRE_MAX_BODY, &pin, &pin_len) != 0 || !wire_cur_done(&c))
		return WARDEN_E_PROTOCOL;
	if (user_type != CKU_USER)
		return login_answer(resp, WARDEN_E_USER_TYPE, "only the user logs in",
				    enc_token_flags(st), NULL);
	if (pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN)
		return login_answer(resp, WARDEN_E_PIN_LEN, "PIN length out of range",
				    enc_token_flags(st), NULL);

	pthread_mutex_lock(&st->login_lock);
	if (st->pin_failures >= st->cfg.pin_max_failures) {
		enc_log(ENC_LOG_WARNING, "login by uid %u pid %d refused: PIN locked",
			(unsigned)peer->uid, (int)peer->pid);
		ret = login_answer(resp, WARDEN_E_PIN_LOCKED, "the PIN is locked",
				   flags_locked(st), NULL);
		goto out;
	}
	if (pin_state_store_locked(st, st->pin_failures + 1) != 0) {
		ret = login_answer(resp, WARDEN_E_INTERNAL, "cannot record the attempt",
				   flags_locked(st), NULL);
		goto out;
	}
	failures_set_locked(st, st->pin_failures + 1);
	int match = pin_hash_verify(st->pin_line, (const char *)pin, pin_len);
	if (match != 1) {
		enc_log(ENC_LOG_WARNING, "login by uid %u pid %d: %s (%u of %u failures)",
			(unsigned)peer->uid, (int)peer->pid,
			match == 0 ? "wrong PIN" : "PIN check failed", st->pin_failures,
			st->cfg.pin_max_failures);
		ret = login_answer(resp, match == 0 ? WARDEN_E_PIN_INCORRECT : WARDEN_E_INTERNAL,
				   match == 0 ? "" : "the PIN could not be checked",
				   flags_locked(st), NULL);
		goto out;
	}
	if (pin_state_store_locked(st, 0) != 0) {
		ret = login_answer(resp, WARDEN_E_INTERNAL, "cannot record the login",
				   flags_locked(st), NULL);
		goto out;
	}
	failures_set_locked(st, 0);
	if (ticket_issue(st, peer->uid, ticket) != 0) {
		ret = login_answer(resp, WARDEN_E_INTERNAL, "no randomness for a ticket",
				   flags_locked(st), NULL);
		goto out;
	}
	enc_log(ENC_LOG_INFO, "login by uid %u pid %d", (unsigned)peer->uid, (int)peer->pid);
	ret = login_answer(resp, WARDEN_OK, "", flags_locked(st), ticket);
out:
	pthread_mutex_unlock(&st->login_lock);
	explicit_bzero(ticket, sizeof(ticket));
	return ret;
}

int enc_handle_logout(struct enc_state *st, const struct enc_peer *peer, const uint8_t *body,
		      size_t len, struct wire_buf *resp)
{
	struct wire_cur c = {body, len};
	const uint8_t *t;
	size_t t_len;
	uint32_t status = WARDEN_E_NOT_LOGGED_IN;

	if (wire_get_bytes(&c, WIRE_TICKET_LEN, &t, &t_len) != 0 || !wire_cur_done(&c) ||
	    (t_len != 0 && t_len != WIRE_TICKET_LEN))
		return WARDEN_E_PROTOCOL;
	if (t_len == WIRE_TICKET_LEN) {
		pthread_mutex_lock(&st->ticket_lock);
		long i = ticket_find_locked(st, t, peer->uid);
		if (i >= 0) {
			explicit_bzero(&st->tickets[i], sizeof(st->tickets[i]));
			status = WARDEN_OK;
		}
		pthread_mutex_unlock(&st->ticket_lock);
	}
	if (status == WARDEN_OK)
		enc_log(ENC_LOG_INFO, "logout by uid %u pid %d", (unsigned)peer->uid,
			(int)peer->pid);
	enc_resp_begin(resp, WIRE_LOGOUT, status, "");
	return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
}
