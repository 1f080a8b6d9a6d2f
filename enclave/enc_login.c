/*
 * enc_login.c - the user PIN, its durable failure counter, login tickets, and the
 * HELLO, STATUS, LOGIN and LOGOUT handlers.
 *
 * Invariants:
 *  - LOGINs are serialised by st->login_lock, held from the check of the counter to its
 *    reset, so parallel wrong PINs on many connections get exactly pin_max_failures
 *    tries between them and no increment is lost.
 *  - Every attempt is a durable audit record (LOGIN_FAIL, failures = the count with
 *    this attempt) BEFORE the PIN is compared, so killing the enclave mid-check never
 *    loses an attempt; a good PIN then writes LOGIN_OK (count back to 0) before the
 *    ticket is issued, and the attempt that reaches the limit writes LOCKOUT.  Replay
 *    (enc_login_replay) rebuilds the count.  A locked token computes nothing.
 *  - Tickets (st->ticket_lock, never held across scrypt or I/O) are the index of their
 *    slot (2 bytes, public) and 30 random bytes, bound to the uid that logged in; a
 *    lookup compares that one slot with CRYPTO_memcmp (O(1) per SIGN).  When the table
 *    is full the oldest ticket is dropped.
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

void enc_login_replay(struct enc_state *st, uint16_t type, const uint8_t *body, size_t len)
{
	st->pin_failures = enc_pin_failures_next(st->pin_failures, type, body, len);
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

/* Index of a live ticket of uid, or -1.  The ticket names its slot in its first
 * ENC_TICKET_INDEX_LEN bytes (public: which slot holds a ticket is no secret); only that
 * slot is compared, in constant time, over all WIRE_TICKET_LEN bytes.  So the check is
 * O(1) under ticket_lock (every SIGN makes it) and the secret part stays 30 random
 * bytes. */
static long ticket_find_locked(struct enc_state *st, const uint8_t t[WIRE_TICKET_LEN],
			       uid_t uid)
{
	size_t i = ((size_t)t[0] << 8) | t[1];
	if (i >= ENC_MAX_TICKETS)
		return -1;
	const struct enc_ticket *e = &st->tickets[i];
	int eq = CRYPTO_memcmp(e->value, t, WIRE_TICKET_LEN) == 0;
	return eq && e->seq != 0 && e->uid == uid ? (long)i : -1;
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
	if (RAND_priv_bytes(out + ENC_TICKET_INDEX_LEN,
			    WIRE_TICKET_LEN - ENC_TICKET_INDEX_LEN) != 1)
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
	out[0] = (uint8_t)(slot >> 8);
	out[1] = (uint8_t)slot;
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
	pthread_mutex_lock(&st->hello_lock);
	resp->data = malloc(st->hello.len);
	if (resp->data != NULL) {
		memcpy(resp->data, st->hello.data, st->hello.len);
		resp->len = resp->cap = st->hello.len;
	}
	size_t flags_off = st->hello_flags_off;
	pthread_mutex_unlock(&st->hello_lock);
	if (resp->data == NULL) {
		enc_resp_begin(resp, WIRE_HELLO, WARDEN_E_NOMEM, "out of memory");
		return wire_frame_end(resp) == 0 ? WARDEN_OK : WARDEN_E_NOMEM;
	}
	uint32_t f = enc_token_flags(st);
	uint8_t *p = resp->data + flags_off;
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
	if (enc_audit_login(st, AUD_T_LOGIN_FAIL, peer, st->pin_failures + 1) != WARDEN_OK) {
		ret = login_answer(resp, WARDEN_E_AUDIT, "cannot record the attempt in the audit log",
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
		if (st->pin_failures >= st->cfg.pin_max_failures &&
		    enc_audit_login(st, AUD_T_LOCKOUT, peer, st->pin_failures) != WARDEN_OK)
			enc_log(ENC_LOG_ERR, "the lockout record could not be written (the count "
					     "that locks is recorded)");
		ret = login_answer(resp, match == 0 ? WARDEN_E_PIN_INCORRECT : WARDEN_E_INTERNAL,
				   match == 0 ? "" : "the PIN could not be checked",
				   flags_locked(st), NULL);
		goto out;
	}
	if (enc_audit_login(st, AUD_T_LOGIN_OK, peer, 0) != WARDEN_OK) {
		ret = login_answer(resp, WARDEN_E_AUDIT, "cannot record the login in the audit log",
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
