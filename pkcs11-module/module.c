/*
 * module.c - the module's global state: C_Initialize/C_Finalize, fork handling, the slot
 * and the token.
 *
 * Fork: a pthread_atfork child handler re-initialises the mutexes, bumps fork_gen and marks
 * the module uninitialised, so every call in the child answers CKR_CRYPTOKI_NOT_INITIALIZED
 * until it calls C_Initialize, which closes the inherited descriptors without using them
 * (the parent still owns those connections) and starts afresh.  The prepare handler takes
 * both locks so that the child inherits consistent state.
 */
#include "wp11.h"

#include <stdlib.h>
#include <string.h>

#define WP11_MANUFACTURER "Warden"
#define WP11_LIBRARY_DESC "Warden PKCS#11 module"
#define WP11_SLOT_DESC "Warden enclave"
#define WP11_LIB_VERSION_MAJOR 0
#define WP11_LIB_VERSION_MINOR 1

struct wp11_state wp11_g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.next_session = 1,
	.next_copy = WP11_COPY_HANDLE_BASE,
};

/* Set in a forked child: the state describes the parent's sessions and connections. */
static int wp11_stale;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

void wp11_lock(void)
{
	pthread_mutex_lock(&wp11_g.lock);
}

void wp11_unlock(void)
{
	pthread_mutex_unlock(&wp11_g.lock);
}

CK_RV wp11_enter(void)
{
	wp11_lock();
	if (!wp11_g.initialized) {
		wp11_unlock();
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	return CKR_OK;
}

CK_RV wp11_answer(CK_RV rv)
{
	CK_RV init = wp11_enter();
	if (init != CKR_OK)
		return init;
	wp11_unlock();
	return rv;
}

CK_RV wp11_slot_check(CK_SLOT_ID slot, int args_ok)
{
	CK_RV rv = wp11_answer(CKR_OK);
	if (rv != CKR_OK)
		return rv;
	if (!args_ok)
		return CKR_ARGUMENTS_BAD;
	if (slot != WP11_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	return CKR_OK;
}

CK_RV wp11_list_answer(void *dst, CK_ULONG_PTR count, const void *src, CK_ULONG n, size_t size)
{
	if (dst == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (n > 0)
		memcpy(dst, src, n * size);
	*count = n;
	return CKR_OK;
}

static void atfork_prepare(void)
{
	wp11_lock();
	wp11_pool_atfork_prepare();
}

static void atfork_parent(void)
{
	wp11_pool_atfork_parent();
	wp11_unlock();
}

static void atfork_child(void)
{
	wp11_pool_atfork_child();
	pthread_mutex_init(&wp11_g.lock, NULL);
	wp11_g.fork_gen++;
	if (wp11_g.initialized) {
		wp11_g.initialized = 0;
		wp11_stale = 1;
	}
}

static void atfork_register(void)
{
	if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
		wp11_log(WP11_LOG_ERROR, "pthread_atfork failed: a forked child must not use "
					 "this module");
}

void wp11_pad(CK_UTF8CHAR *dst, size_t dst_len, const char *src)
{
	size_t n = strnlen(src, dst_len);
	memset(dst, ' ', dst_len);
	memcpy(dst, src, n);
}

/* Frees sessions, copies and the token; forgets the login.  Returns the ticket to log
 * out with in *out_ticket (when out_had is set), so the caller can do it unlocked. */
static void state_clear_unlocked(uint8_t out_ticket[WIRE_TICKET_LEN], int *out_had)
{
	*out_had = wp11_g.logged_in;
	memcpy(out_ticket, wp11_g.ticket, WIRE_TICKET_LEN);
	wp11_g.logged_in = 0;
	explicit_bzero(wp11_g.ticket, sizeof(wp11_g.ticket));
	while (wp11_g.sessions != NULL) {
		struct wp11_session *s = wp11_g.sessions;
		wp11_g.sessions = s->next;
		wp11_sign_op_end(&s->sign);
		wp11_find_op_end(&s->find);
		free(s);
	}
	wp11_g.num_sessions = 0;
	wp11_g.num_rw_sessions = 0;
	wp11_copies_drop_all_unlocked();
	free(wp11_g.copies);
	wp11_g.copies = NULL;
	wp11_g.num_copies = 0;
	if (wp11_g.token != NULL) {
		wp11_token_free(wp11_g.token);
		free(wp11_g.token);
		wp11_g.token = NULL;
	}
	wp11_g.absent_logged = 0;
}

static void logout_send(const uint8_t ticket[WIRE_TICKET_LEN])
{
	struct wire_buf req;
	struct wp11_resp resp;

	wire_buf_init(&req);
	wire_frame_begin(&req, WIRE_LOGOUT);
	wire_put_bytes(&req, ticket, WIRE_TICKET_LEN);
	if (wire_frame_end(&req) == 0 && wp11_call(WIRE_LOGOUT, &req, &resp) == CKR_OK) {
		if (resp.status != WARDEN_OK)
			wp11_log(WP11_LOG_INFO, "LOGOUT: %s", wire_status_str(resp.status));
		wp11_resp_free(&resp);
	}
	wire_buf_free(&req);
}

void wp11_logout_send(const uint8_t ticket[WIRE_TICKET_LEN])
{
	logout_send(ticket);
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	CK_RV rv = CKR_OK;

	if (pInitArgs != NULL) {
		CK_C_INITIALIZE_ARGS *a = pInitArgs;
		int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
			(a->LockMutex != NULL) + (a->UnlockMutex != NULL);
		if (a->pReserved != NULL || (n != 0 && n != 4))
			return CKR_ARGUMENTS_BAD;
		/* Only the OS's locking is used; application callbacks alone cannot be. */
		if (n == 4 && !(a->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
	}
	pthread_once(&atfork_once, atfork_register);
	wp11_lock();
	if (wp11_g.initialized) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if (wp11_stale) {
		/* A forked child: the parent's connections are closed here, never used. */
		uint8_t ticket[WIRE_TICKET_LEN];
		int had;
		wp11_pool_shutdown(1);
		state_clear_unlocked(ticket, &had);
		explicit_bzero(ticket, sizeof(ticket));
		wp11_stale = 0;
	}
	wp11_conf_load(&wp11_g.conf);
	wp11_log_setup(&wp11_g.conf);
	wp11_pool_setup(&wp11_g.conf);
	wp11_g.initialized = 1;
out:
	wp11_unlock();
	if (rv == CKR_OK && wp11_token_ensure() != CKR_OK)
		wp11_log(WP11_LOG_INFO, "no token yet: the enclave at %s did not answer",
			 wp11_g.conf.socket_path);
	return rv;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	uint8_t ticket[WIRE_TICKET_LEN];
	int had = 0;
	CK_RV rv;

	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	state_clear_unlocked(ticket, &had);
	wp11_g.initialized = 0;
	wp11_unlock();
	if (had)
		logout_send(ticket);
	explicit_bzero(ticket, sizeof(ticket));
	wp11_pool_shutdown(0);
	wp11_log_close();
	return CKR_OK;
}

CK_RV wp11_get_info(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor)
{
	CK_RV rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = major;
	pInfo->cryptokiVersion.minor = minor;
	wp11_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), WP11_MANUFACTURER);
	wp11_pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
		 WP11_LIBRARY_DESC);
	pInfo->libraryVersion.major = WP11_LIB_VERSION_MAJOR;
	pInfo->libraryVersion.minor = WP11_LIB_VERSION_MINOR;
out:
	wp11_unlock();
	return rv;
}

/* --- the token as the enclave describes it ------------------------------------------ */

void wp11_hello_seen(struct wp11_token *t)
{
	wp11_lock();
	if (!wp11_g.initialized) {
		wp11_unlock();
		wp11_token_free(t);
		free(t);
		return;
	}
	if (wp11_g.token != NULL) {
		if (wp11_g.token->boot_id != t->boot_id) {
			wp11_log(WP11_LOG_INFO, "the enclave restarted: login state dropped");
			wp11_login_drop_unlocked();
		}
		wp11_token_free(wp11_g.token);
		free(wp11_g.token);
	}
	wp11_g.token = t;
	wp11_g.absent_logged = 0;
	wp11_unlock();
}

struct wp11_key *wp11_key_by_id_unlocked(uint32_t key_id)
{
	if (wp11_g.token == NULL)
		return NULL;
	for (uint32_t i = 0; i < wp11_g.token->num_keys; i++)
		if (wp11_g.token->keys[i].key_id == key_id)
			return &wp11_g.token->keys[i];
	return NULL;
}

/* One STATUS round trip; updates the cached token flags.  Called unlocked. */
static CK_RV status_fetch(void)
{
	struct wire_buf req;
	struct wp11_resp resp;
	uint32_t flags;
	CK_RV rv;

	wire_buf_init(&req);
	wire_frame_begin(&req, WIRE_STATUS);
	if (wire_frame_end(&req) != 0) {
		wire_buf_free(&req);
		return CKR_HOST_MEMORY;
	}
	rv = wp11_call(WIRE_STATUS, &req, &resp);
	wire_buf_free(&req);
	if (rv != CKR_OK)
		return rv;
	if (resp.status != WARDEN_OK) {
		rv = wp11_rv_from_status(resp.status, resp.message);
	} else if (wire_get_u32(&resp.rest, &flags) != 0 || !wire_cur_done(&resp.rest)) {
		wp11_log(WP11_LOG_ERROR, "malformed STATUS answer");
		rv = CKR_DEVICE_ERROR;
	} else {
		wp11_lock();
		if (wp11_g.token != NULL)
			wp11_g.token->token_flags = flags;
		wp11_unlock();
	}
	wp11_resp_free(&resp);
	return rv;
}

CK_RV wp11_token_ensure(void)
{
	CK_RV rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	int present = wp11_g.token != NULL;
	wp11_unlock();
	if (present)
		return CKR_OK;
	/* A new connection starts with HELLO, which sets the token. */
	(void)status_fetch();
	rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	present = wp11_g.token != NULL;
	if (!present && !wp11_g.absent_logged) {
		wp11_g.absent_logged = 1;
		wp11_log(WP11_LOG_WARNING, "token not present: no HELLO from the enclave at %s",
			 wp11_g.conf.socket_path);
	}
	wp11_unlock();
	return present ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

CK_RV wp11_token_enter(void)
{
	CK_RV rv = wp11_token_ensure();
	if (rv != CKR_OK)
		return rv;
	return wp11_enter();
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	static const CK_SLOT_ID slot = WP11_SLOT_ID;
	CK_ULONG count = 1;
	CK_RV rv = wp11_token_ensure();

	if (rv == CKR_CRYPTOKI_NOT_INITIALIZED)
		return rv;
	if (tokenPresent && rv != CKR_OK)
		count = 0;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	return wp11_list_answer(pSlotList, pulCount, &slot, count, sizeof(slot));
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	CK_RV rv = wp11_token_ensure();

	if (rv == CKR_CRYPTOKI_NOT_INITIALIZED)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	if (slotID != WP11_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	memset(pInfo, 0, sizeof(*pInfo));
	wp11_pad(pInfo->slotDescription, sizeof(pInfo->slotDescription), WP11_SLOT_DESC);
	wp11_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), WP11_MANUFACTURER);
	/* The token comes and goes with the enclave, so the slot is removable: a slot
	 * without CKF_REMOVABLE_DEVICE must always have CKF_TOKEN_PRESENT (PKCS#11 2.40
	 * §3.2, CK_SLOT_INFO). */
	pInfo->flags = CKF_REMOVABLE_DEVICE | (rv == CKR_OK ? CKF_TOKEN_PRESENT : 0);
	pInfo->hardwareVersion.major = WP11_LIB_VERSION_MAJOR;
	pInfo->hardwareVersion.minor = WP11_LIB_VERSION_MINOR;
	pInfo->firmwareVersion = pInfo->hardwareVersion;
	return CKR_OK;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	CK_RV rv = wp11_slot_check(slotID, pInfo != NULL);
	if (rv != CKR_OK)
		return rv;
	rv = wp11_token_ensure();
	if (rv != CKR_OK)
		return rv;
	/* The PIN counters change with every failure: ask.  If the enclave is unreachable
	 * now, the facts from HELLO are still the best answer. */
	if (status_fetch() != CKR_OK)
		wp11_log(WP11_LOG_INFO, "STATUS failed; token flags from the last answer");
	rv = wp11_enter();
	if (rv != CKR_OK)
		return rv;
	const struct wp11_token *t = wp11_g.token;
	if (t == NULL) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	wp11_pad(pInfo->label, sizeof(pInfo->label), t->label);
	wp11_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID),
		 t->manufacturer[0] ? t->manufacturer : WP11_MANUFACTURER);
	wp11_pad(pInfo->model, sizeof(pInfo->model), t->model);
	wp11_pad(pInfo->serialNumber, sizeof(pInfo->serialNumber), t->serial);
	pInfo->flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED |
		       CKF_RNG;
	if (t->token_flags & WIRE_TF_PIN_COUNT_LOW)
		pInfo->flags |= CKF_USER_PIN_COUNT_LOW;
	if (t->token_flags & WIRE_TF_PIN_FINAL_TRY)
		pInfo->flags |= CKF_USER_PIN_FINAL_TRY;
	if (t->token_flags & WIRE_TF_PIN_LOCKED)
		pInfo->flags |= CKF_USER_PIN_LOCKED;
	pInfo->ulMaxSessionCount = WP11_MAX_SESSIONS;
	pInfo->ulSessionCount = wp11_g.num_sessions;
	pInfo->ulMaxRwSessionCount = WP11_MAX_SESSIONS;
	pInfo->ulRwSessionCount = wp11_g.num_rw_sessions;
	pInfo->ulMaxPinLen = t->max_pin;
	pInfo->ulMinPinLen = t->min_pin;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->hardwareVersion.major = WP11_LIB_VERSION_MAJOR;
	pInfo->hardwareVersion.minor = WP11_LIB_VERSION_MINOR;
	pInfo->firmwareVersion = pInfo->hardwareVersion;
	memset(pInfo->utcTime, ' ', sizeof(pInfo->utcTime));
out:
	wp11_unlock();
	return rv;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	(void)flags;
	(void)pSlot;
	(void)pReserved;
	return wp11_answer(CKR_FUNCTION_NOT_SUPPORTED);
}
