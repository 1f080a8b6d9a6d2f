/*
 * test_module_session.c - libwarden-pkcs11: initialisation, interfaces, slot and token,
 * sessions, login, random, fork and enclave restarts (against the in-process fake).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_module_fake.h"
#include "wp11.h"

static void setup(void)
{
	fake_start();
}

static void teardown(void)
{
	(void)C_Finalize(NULL);
	fake_stop();
}

static CK_SESSION_HANDLE open_session(CK_FLAGS extra)
{
	CK_SESSION_HANDLE h = 0;
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION | extra, NULL, NULL, &h),
			 CKR_OK);
	ck_assert_uint_ne(h, CK_INVALID_HANDLE);
	return h;
}

static CK_RV login(CK_SESSION_HANDLE h, const char *pin)
{
	return C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static int padded(const CK_UTF8CHAR *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	if (n > len || memcmp(p, s, n) != 0)
		return 0;
	for (size_t i = n; i < len; i++)
		if (p[i] != ' ')
			return 0;
	return 1;
}

START_TEST(test_every_call_before_initialize_is_not_initialized)
{
	CK_INFO info;
	CK_SLOT_ID slots[2];
	CK_ULONG n = 2;
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_BYTE buf[16];
	CK_ULONG len = sizeof(buf);
	CK_OBJECT_HANDLE o;
	CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};

	ck_assert_int_eq(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_GetSlotList(CK_FALSE, slots, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &h),
			 CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_GetSessionInfo(1, &si), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_Login(1, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4),
			 CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_Logout(1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_FindObjectsInit(1, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_GetAttributeValue(1, 1, &a, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignInit(1, &m, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_Sign(1, buf, 1, buf, &len), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignUpdate(1, buf, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignFinal(1, buf, &len), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_GenerateRandom(1, buf, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_CopyObject(1, 1, NULL, 0, &o), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_CreateObject(1, NULL, 0, &o), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_VerifyInit(1, &m, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_CloseAllSessions(WP11_SLOT_ID), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_SessionCancel(1, CKF_SIGN), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

static CK_RV dummy_create(CK_VOID_PTR_PTR m)
{
	(void)m;
	return CKR_OK;
}

static CK_RV dummy_mutex(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

START_TEST(test_initialize_arguments)
{
	CK_C_INITIALIZE_ARGS a;
	int reserved;

	memset(&a, 0, sizeof(a));
	a.pReserved = &reserved;
	ck_assert_int_eq(C_Initialize(&a), CKR_ARGUMENTS_BAD);
	memset(&a, 0, sizeof(a));
	a.CreateMutex = dummy_create;
	ck_assert_int_eq(C_Initialize(&a), CKR_ARGUMENTS_BAD); /* some callbacks, not all */
	a.DestroyMutex = dummy_mutex;
	a.LockMutex = dummy_mutex;
	a.UnlockMutex = dummy_mutex;
	ck_assert_int_eq(C_Initialize(&a), CKR_CANT_LOCK);
	a.flags = CKF_OS_LOCKING_OK;
	ck_assert_int_eq(C_Initialize(&a), CKR_OK);
	ck_assert_int_eq(C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	ck_assert_int_eq(C_Finalize(&reserved), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	ck_assert_int_eq(C_Initialize(&a), CKR_OK);
	ck_assert_int_eq(C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
}
END_TEST

START_TEST(test_interfaces_match_what_clients_ask)
{
	CK_INTERFACE_PTR it = NULL;
	CK_VERSION v32 = {3, 2}, v30 = {3, 0}, v240 = {2, 40};
	CK_INTERFACE list[2];
	CK_ULONG n = 0;
	CK_FUNCTION_LIST_PTR fl = NULL;

	/* NULL name and version: the default, 3.0 */
	ck_assert_int_eq(C_GetInterface(NULL, NULL, &it, 0), CKR_OK);
	ck_assert_str_eq((char *)it->pInterfaceName, "PKCS 11");
	ck_assert_int_eq(((CK_VERSION *)it->pFunctionList)->major, 3);
	ck_assert_int_eq(((CK_VERSION *)it->pFunctionList)->minor, 0);
	CK_FUNCTION_LIST_3_0 *f3 = it->pFunctionList;
	ck_assert_ptr_eq(f3->C_GetInterface, C_GetInterface);
	ck_assert_ptr_eq(f3->C_SessionCancel, C_SessionCancel);
	ck_assert_ptr_eq(f3->C_MessageVerifyFinal, C_MessageVerifyFinal);
	ck_assert_ptr_eq(f3->C_WaitForSlotEvent, C_WaitForSlotEvent);
	/* pkcs11-provider asks for 3.2 first, NSS for FORK_SAFE: both must fall back */
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v32, &it, 0),
			 CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &it,
					CKF_INTERFACE_FORK_SAFE),
			 CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor", NULL, &it, 0),
			 CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &it, 0), CKR_OK);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &it, 0), CKR_OK);
	ck_assert_int_eq(((CK_VERSION *)it->pFunctionList)->minor, 40);
	ck_assert_int_eq(C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	/* list length conventions */
	ck_assert_int_eq(C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterfaceList(NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 2);
	n = 1;
	ck_assert_int_eq(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(C_GetInterfaceList(list, &n), CKR_OK);
	ck_assert_int_eq(C_GetFunctionList(&fl), CKR_OK);
	ck_assert_int_eq(fl->version.major, 2);
	ck_assert_int_eq(fl->version.minor, 40);
	ck_assert_ptr_eq(list[1].pFunctionList, fl);
	ck_assert_int_eq(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(test_info_slot_and_token_are_padded)
{
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slots[2];
	CK_ULONG n;

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(C_GetInfo(&info), CKR_OK);
	ck_assert(padded(info.manufacturerID, sizeof(info.manufacturerID), "Warden"));
	ck_assert_int_eq(info.cryptokiVersion.major, 2);
	ck_assert_int_eq(C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	n = 0;
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 1);
	n = 2;
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(slots[0], WP11_SLOT_ID);
	ck_assert_int_eq(C_GetSlotInfo(WP11_SLOT_ID + 1, &si), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(C_GetSlotInfo(WP11_SLOT_ID, &si), CKR_OK);
	ck_assert(si.flags & CKF_TOKEN_PRESENT);
	ck_assert(si.flags & CKF_REMOVABLE_DEVICE);
	ck_assert(!(si.flags & CKF_HW_SLOT));
	ck_assert(padded(si.slotDescription, sizeof(si.slotDescription), "Warden enclave"));
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	ck_assert(padded(ti.label, sizeof(ti.label), FAKE_LABEL));
	ck_assert(padded(ti.serialNumber, sizeof(ti.serialNumber), "0000000000000001"));
	ck_assert(padded(ti.model, sizeof(ti.model), "enclave"));
	ck_assert_uint_eq(ti.flags, CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED |
					    CKF_USER_PIN_INITIALIZED | CKF_RNG);
	ck_assert_uint_eq(ti.ulMinPinLen, 4);
	ck_assert_uint_eq(ti.ulMaxPinLen, 64);
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetTokenInfo(7, &ti), CKR_SLOT_ID_INVALID);
	ck_assert_int_ge(fake.hellos, 1);
	ck_assert_int_ge(fake.statuses, 1);
}
END_TEST

START_TEST(test_token_absent_when_enclave_is_down)
{
	CK_SLOT_ID slots[1];
	CK_ULONG n = 1;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE h;

	fake_conf_absent();
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	n = 1;
	ck_assert_int_eq(C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(C_GetSlotInfo(WP11_SLOT_ID, &si), CKR_OK);
	ck_assert(!(si.flags & CKF_TOKEN_PRESENT));
	/* no token: the slot must say it is removable (PKCS#11 2.40 §3.2) */
	ck_assert(si.flags & CKF_REMOVABLE_DEVICE);
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_TOKEN_NOT_PRESENT);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &h),
			 CKR_TOKEN_NOT_PRESENT);
}
END_TEST

START_TEST(test_session_states_follow_login)
{
	CK_SESSION_INFO si;
	CK_SESSION_HANDLE h;

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, 0, NULL, NULL, &h),
			 CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, NULL),
			 CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_OpenSession(9, CKF_SERIAL_SESSION, NULL, NULL, &h),
			 CKR_SLOT_ID_INVALID);
	CK_SESSION_HANDLE ro = open_session(0), rw = open_session(CKF_RW_SESSION);
	ck_assert_int_eq(C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(si.slotID, WP11_SLOT_ID);
	ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION);
	ck_assert_int_eq(C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
	ck_assert_int_eq(C_GetSessionInfo(rw, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetSessionInfo(12345, &si), CKR_SESSION_HANDLE_INVALID);

	/* login is the token's: it shows in every session */
	ck_assert_int_eq(login(ro, FAKE_PIN), CKR_OK);
	ck_assert_int_eq(C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_USER_FUNCTIONS);
	ck_assert_int_eq(C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_USER_FUNCTIONS);
	ck_assert_int_eq(login(rw, FAKE_PIN), CKR_USER_ALREADY_LOGGED_IN);
	ck_assert_int_eq(C_Logout(rw), CKR_OK);
	ck_assert_int_eq(C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_int_eq(C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(fake.logouts, 1);

	ck_assert_int_eq(C_CloseSession(ro), CKR_OK);
	ck_assert_int_eq(C_CloseSession(ro), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(C_CloseAllSessions(WP11_SLOT_ID + 1), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(C_CloseAllSessions(WP11_SLOT_ID), CKR_OK);
	ck_assert_int_eq(C_GetSessionInfo(rw, &si), CKR_SESSION_HANDLE_INVALID);
}
END_TEST

START_TEST(test_closing_the_last_session_logs_out)
{
	CK_SESSION_INFO si;

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE a = open_session(0), b = open_session(0);
	ck_assert_int_eq(login(a, FAKE_PIN), CKR_OK);
	ck_assert_int_eq(C_CloseSession(a), CKR_OK);
	ck_assert_int_eq(C_GetSessionInfo(b, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_USER_FUNCTIONS);
	ck_assert_int_eq(C_CloseSession(b), CKR_OK);
	ck_assert_int_eq(fake.logouts, 1);
	CK_SESSION_HANDLE c = open_session(0);
	ck_assert_int_eq(C_GetSessionInfo(c, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
}
END_TEST

START_TEST(test_login_user_types_and_pins)
{
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
	ck_assert_int_eq(C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR) "1234", 4), CKR_USER_TYPE_INVALID);
	ck_assert_int_eq(C_Login(h, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR) "1234", 4),
			 CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_Login(h, 77, (CK_UTF8CHAR_PTR) "1234", 4), CKR_USER_TYPE_INVALID);
	ck_assert_int_eq(C_Login(h, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_Login(999, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4),
			 CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(login(h, "12"), CKR_PIN_LEN_RANGE); /* below min_pin: not sent */
	ck_assert_int_eq(fake.logins, 0);
	ck_assert_int_eq(fake.logouts, 0);
	ck_assert_int_eq(login(h, "9999"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	ck_assert(ti.flags & CKF_USER_PIN_COUNT_LOW);
	ck_assert(!(ti.flags & CKF_USER_PIN_LOCKED));
	ck_assert_int_eq(login(h, "9998"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	ck_assert(ti.flags & CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(h, "9997"), CKR_PIN_LOCKED);
	ck_assert_int_eq(login(h, FAKE_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	ck_assert(ti.flags & CKF_USER_PIN_LOCKED);
}
END_TEST

START_TEST(test_login_user_with_empty_name_is_login)
{
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(0);
	ck_assert_int_eq(C_LoginUser(h, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4,
				     (CK_UTF8CHAR_PTR) "bob", 3),
			 CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_LoginUser(h, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4, NULL, 0), CKR_OK);
	ck_assert_int_eq(C_Logout(h), CKR_OK);
}
END_TEST

START_TEST(test_random)
{
	CK_BYTE a[64], b[64];

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(0);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(C_GenerateRandom(h, a, sizeof(a)), CKR_OK);
	ck_assert_int_eq(C_GenerateRandom(h, b, sizeof(b)), CKR_OK);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	ck_assert_int_eq(C_GenerateRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GenerateRandom(h + 100, a, 4), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(C_SeedRandom(h, a, 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
	ck_assert_int_eq(C_SeedRandom(h, NULL, 4), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(test_unsupported_functions_say_so)
{
	CK_OBJECT_HANDLE o;
	CK_BYTE st[8];
	CK_ULONG st_len = sizeof(st);
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
	ck_assert_int_eq(C_CreateObject(h, NULL, 0, &o), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_GenerateKeyPair(h, &m, NULL, 0, NULL, 0, &o, &o),
			 CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_GetOperationState(h, st, &st_len), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_InitToken(WP11_SLOT_ID, NULL, 0, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_SetPIN(h, NULL, 0, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_WaitForSlotEvent(0, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(C_GetFunctionStatus(h), CKR_FUNCTION_NOT_PARALLEL);
	ck_assert_int_eq(C_MessageSignInit(h, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
}
END_TEST

START_TEST(test_fork_child_must_initialize_again)
{
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(0);
	ck_assert_int_eq(login(h, FAKE_PIN), CKR_OK);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		CK_SESSION_INFO si;
		CK_SESSION_HANDLE h2;
		int bad = 0;
		if (C_GetSessionInfo(h, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
			bad |= 1;
		if (C_Initialize(NULL) != CKR_OK)
			bad |= 2;
		if (C_GetSessionInfo(h, &si) != CKR_SESSION_HANDLE_INVALID)
			bad |= 4;
		if (C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &h2) != CKR_OK)
			bad |= 8;
		else if (C_GetSessionInfo(h2, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
			bad |= 16;
		if (C_Login(h2, CKU_USER, (CK_UTF8CHAR_PTR)FAKE_PIN, 4) != CKR_OK)
			bad |= 32;
		if (C_Finalize(NULL) != CKR_OK)
			bad |= 64;
		_exit(bad);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent's session and login are untouched */
	CK_SESSION_INFO si;
	ck_assert_int_eq(C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_USER_FUNCTIONS);
}
END_TEST

START_TEST(test_enclave_restart_drops_login)
{
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	CK_SESSION_HANDLE h = open_session(0);
	ck_assert_int_eq(login(h, FAKE_PIN), CKR_OK);
	fake_restart();
	/* the next call reconnects; HELLO shows a new boot_id */
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK);
	ck_assert_int_eq(C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_int_eq(login(h, FAKE_PIN), CKR_OK);
}
END_TEST

START_TEST(test_config_parser)
{
	struct wp11_conf c;
	memset(&c, 0, sizeof(c));
	c.timeout_s = 30;
	ck_assert_int_eq(wp11_conf_parse(&c, "socket = /tmp/x.sock # c\n\n# only\n"
					     "log = stderr\nlog_level = debug\ntimeout = 7\n"),
			 0);
	ck_assert_str_eq(c.socket_path, "/tmp/x.sock");
	ck_assert_int_eq(c.log_dest, WP11_LOG_STDERR);
	ck_assert_int_eq(c.log_level, WP11_LOG_DEBUG);
	ck_assert_int_eq(c.timeout_s, 7);
	ck_assert_int_eq(wp11_conf_parse(&c, "socket = relative\ntimeout = 0\ntimeout = x\n"
					     "nokey\ncolor = red\nlog = /var/log/w.log"),
			 5);
	ck_assert_str_eq(c.socket_path, "/tmp/x.sock");
	ck_assert_int_eq(c.timeout_s, 7);
	ck_assert_int_eq(c.log_dest, WP11_LOG_FILE);
	ck_assert_str_eq(c.log_path, "/var/log/w.log");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("module_session");
	TCase *tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_every_call_before_initialize_is_not_initialized);
	tcase_add_test(tc, test_initialize_arguments);
	tcase_add_test(tc, test_interfaces_match_what_clients_ask);
	tcase_add_test(tc, test_info_slot_and_token_are_padded);
	tcase_add_test(tc, test_token_absent_when_enclave_is_down);
	tcase_add_test(tc, test_session_states_follow_login);
	tcase_add_test(tc, test_closing_the_last_session_logs_out);
	tcase_add_test(tc, test_login_user_types_and_pins);
	tcase_add_test(tc, test_login_user_with_empty_name_is_login);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_unsupported_functions_say_so);
	tcase_add_test(tc, test_fork_child_must_initialize_again);
	tcase_add_test(tc, test_enclave_restart_drops_login);
	tcase_add_test(tc, test_config_parser);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
