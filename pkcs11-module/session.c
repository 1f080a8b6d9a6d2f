/*
 * session.c - sessions, login and logout, random numbers.
 *
 * Login state belongs to the token, not to a session (PKCS#11): one ticket for the whole
 * application, dropped by C_Logout, by closing the last session, by a new enclave boot_id,
 * or by an enclave answering "not logged in".  The PIN is wiped as soon as LOGIN is sent.
 */
#include "wp11.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct wp11_session *wp11_session_find_unlocked(CK_SESSION_HANDLE h)
{
	for (struct wp11_session *s = wp11_g.sessions; s != NULL; s = s->next)
		if (s->handle == h)
			return s;
	return NULL;
}

CK_RV wp11_session_enter(CK_SESSION_HANDLE h, struct wp11_session **out)
{
	CK_RV rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	struct wp11_session *s = wp11_session_find_unlocked(h);
	if (s == NULL) {
		wp11_unlock();
		return CKR_SESSION_HANDLE_INVALID;
	}
	if (out != NULL)
		*out = s;
	return CKR_OK;
}

void wp11_login_drop_unlocked(void)
{
	wp11_g.logged_in = 0;
	explicit_bzero(wp11_g.ticket, sizeof(wp11_g.ticket));
	for (struct wp11_session *s = wp11_g.sessions; s != NULL; s = s->next)
		if (s->sign.active && !s->sign.busy)
			wp11_sign_op_end(&s->sign);
	/* Copies of the private key are private session objects: they go with the login. */
	wp11_copies_drop_all_unlocked();
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
		    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	struct wp11_session *s;
	CK_RV rv = wp11_slot_check(slotID, phSession != NULL);

	(void)pApplication;
	(void)Notify;
	if (rv != CKR_OK)
		return rv;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	rv = wp11_token_enter();
	if (rv != CKR_OK)
		return rv;
	if (wp11_g.num_sessions >= WP11_MAX_SESSIONS) {
		rv = CKR_SESSION_COUNT;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	do {
		s->handle = wp11_g.next_session++;
	} while (s->handle == CK_INVALID_HANDLE || wp11_session_find_unlocked(s->handle) != NULL);
	s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	s->next = wp11_g.sessions;
	wp11_g.sessions = s;
	wp11_g.num_sessions++;
	if (flags & CKF_RW_SESSION)
		wp11_g.num_rw_sessions++;
	*phSession = s->handle;
out:
	wp11_unlock();
	return rv;
}

/* Unlinks and frees a session.  When it was the last one, the login ends too: *out_had
 * is set and the ticket copied out for the caller to revoke unlocked. */
static void session_close_unlocked(struct wp11_session *s, uint8_t ticket[WIRE_TICKET_LEN],
				   int *out_had)
{
	for (struct wp11_session **pp = &wp11_g.sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	wp11_g.num_sessions--;
	if (s->flags & CKF_RW_SESSION)
		wp11_g.num_rw_sessions--;
	wp11_copies_drop_session_unlocked(s->handle);
	wp11_sign_op_end(&s->sign);
	wp11_find_op_end(&s->find);
	free(s);
	if (wp11_g.num_sessions == 0 && wp11_g.logged_in) {
		memcpy(ticket, wp11_g.ticket, WIRE_TICKET_LEN);
		*out_had = 1;
		wp11_login_drop_unlocked();
	}
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	uint8_t ticket[WIRE_TICKET_LEN];
	int had = 0;
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	session_close_unlocked(s, ticket, &had);
	wp11_unlock();
	if (had)
		wp11_logout_send(ticket);
	explicit_bzero(ticket, sizeof(ticket));
	return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	uint8_t ticket[WIRE_TICKET_LEN];
	int had = 0;
	CK_RV rv = wp11_enter();

	if (rv != CKR_OK)
		return rv;
	if (slotID != WP11_SLOT_ID) {
		rv = CKR_SLOT_ID_INVALID;
		goto out;
	}
	while (wp11_g.sessions != NULL)
		session_close_unlocked(wp11_g.sessions, ticket, &had);
out:
	wp11_unlock();
	if (had)
		wp11_logout_send(ticket);
	explicit_bzero(ticket, sizeof(ticket));
	return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	struct wp11_session *s;
	CK_RV rv = wp11_session_enter(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	int rw = (s->flags & CKF_RW_SESSION) != 0;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->slotID = WP11_SLOT_ID;
	pInfo->flags = s->flags;
	if (wp11_g.logged_in)
		pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	else
		pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	pInfo->ulDeviceError = 0;
out:
	wp11_unlock();
	return rv;
}

/* --- login ------------------------------------------------------------------------ */

CK_RV wp11_login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
		 CK_ULONG ulPinLen)
{
	struct wire_buf req;
	struct wp11_resp resp;
	uint8_t extra[WIRE_TICKET_LEN];
	int extra_ticket = 0;
	CK_RV rv = wp11_session_enter(hSession, NULL);

	wire_buf_init(&req);
	memset(&resp, 0, sizeof(resp));
	if (rv != CKR_OK)
		return rv;
	if (userType == CKU_CONTEXT_SPECIFIC) {
		/* No key is CKA_ALWAYS_AUTHENTICATE: no operation ever needs it. */
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out_locked;
	}
	if (userType != CKU_USER) {
		rv = CKR_USER_TYPE_INVALID; /* the token has no SO */
		goto out_locked;
	}
	if (wp11_g.logged_in) {
		rv = CKR_USER_ALREADY_LOGGED_IN;
		goto out_locked;
	}
	if (pPin == NULL) {
		rv = CKR_ARGUMENTS_BAD; /* no protected authentication path */
		goto out_locked;
	}
	if (ulPinLen > WIRE_MAX_PIN ||
	    (wp11_g.token != NULL &&
	     (ulPinLen < wp11_g.token->min_pin || ulPinLen > wp11_g.token->max_pin))) {
		rv = CKR_PIN_LEN_RANGE;
		goto out_locked;
	}
	wp11_unlock();

	wire_frame_begin(&req, WIRE_LOGIN);
	wire_put_u32(&req, (uint32_t)CKU_USER);
	wire_put_bytes(&req, pPin, ulPinLen);
	if (wire_frame_end(&req) != 0) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = wp11_call(WIRE_LOGIN, &req, &resp);
	wire_buf_free(&req); /* wipes the PIN */
	if (rv == CKR_TOKEN_NOT_PRESENT)
		rv = CKR_DEVICE_ERROR;
	if (rv != CKR_OK)
		goto out;
	uint32_t flags;
	const uint8_t *ticket = NULL;
	size_t ticket_len = 0;
	int have_flags = wire_get_u32(&resp.rest, &flags) == 0;
	if (resp.status == WARDEN_OK &&
	    (!have_flags || wire_get_bytes(&resp.rest, WIRE_TICKET_LEN, &ticket, &ticket_len) != 0 ||
	     ticket_len != WIRE_TICKET_LEN || !wire_cur_done(&resp.rest))) {
		wp11_log(WP11_LOG_ERROR, "malformed LOGIN answer");
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = wp11_enter();
	if (rv != CKR_OK)
		goto out;
	if (have_flags && wp11_g.token != NULL)
		wp11_g.token->token_flags = flags;
	if (resp.status != WARDEN_OK) {
		rv = wp11_rv_from_status(resp.status, resp.message);
	} else if (wp11_g.logged_in) {
		/* Another thread logged in meanwhile: keep its ticket, revoke ours. */
		memcpy(extra, ticket, WIRE_TICKET_LEN);
		extra_ticket = 1;
		rv = CKR_USER_ALREADY_LOGGED_IN;
	} else {
		memcpy(wp11_g.ticket, ticket, WIRE_TICKET_LEN);
		wp11_g.logged_in = 1;
	}
out_locked:
	wp11_unlock();
out:
	wp11_resp_free(&resp);
	wire_buf_free(&req);
	if (extra_ticket)
		wp11_logout_send(extra);
	explicit_bzero(extra, sizeof(extra));
	return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
	      CK_ULONG ulPinLen)
{
	return wp11_login(hSession, userType, pPin, ulPinLen);
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	uint8_t ticket[WIRE_TICKET_LEN];
	int had = 0;
	CK_RV rv = wp11_session_enter(hSession, NULL);

	if (rv != CKR_OK)
		return rv;
	if (!wp11_g.logged_in) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else {
		memcpy(ticket, wp11_g.ticket, WIRE_TICKET_LEN);
		had = 1;
		wp11_login_drop_unlocked();
	}
	wp11_unlock();
	if (had)
		wp11_logout_send(ticket);
	explicit_bzero(ticket, sizeof(ticket));
	return rv;
}

/* --- random ------------------------------------------------------------------------- */

static CK_RV session_check(CK_SESSION_HANDLE hSession)
{
	CK_RV rv = wp11_session_enter(hSession, NULL);
	if (rv == CKR_OK)
		wp11_unlock();
	return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	CK_RV rv = session_check(hSession);
	if (rv != CKR_OK)
		return rv;
	if (pSeed == NULL && ulSeedLen > 0)
		return CKR_ARGUMENTS_BAD;
	return CKR_RANDOM_SEED_NOT_SUPPORTED;
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
		       CK_ULONG ulRandomLen)
{
	CK_RV rv = session_check(hSession);
	if (rv != CKR_OK)
		return rv;
	if (pRandomData == NULL && ulRandomLen > 0)
		return CKR_ARGUMENTS_BAD;
	while (ulRandomLen > 0) {
		ssize_t n = getrandom(pRandomData, ulRandomLen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CKR_FUNCTION_FAILED;
		pRandomData += n;
		ulRandomLen -= (CK_ULONG)n;
	}
	return CKR_OK;
}
