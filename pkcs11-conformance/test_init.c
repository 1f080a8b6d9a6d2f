/*
 * test_init.c - C_Initialize / C_Finalize rules, CKR_CRYPTOKI_NOT_INITIALIZED from every
 * function before initialisation, and the 3.0 C_GetInterface / C_GetInterfaceList.
 */
#include "p11c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- application mutex callbacks --- */
static int num_mutex_created;

static CK_RV mx_create(void **m)
{
	pthread_mutex_t *p = malloc(sizeof(*p));

	if (p == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(p, NULL);
	__atomic_add_fetch(&num_mutex_created, 1, __ATOMIC_SEQ_CST);
	*m = p;
	return CKR_OK;
}

static CK_RV mx_destroy(void *m)
{
	pthread_mutex_destroy(m);
	free(m);
	return CKR_OK;
}

static CK_RV mx_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV mx_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
}

/* After a successful C_Initialize: the module works (info, slot list, a session). */
static void exercise(void)
{
	CK_INFO info;
	CK_SLOT_ID slots[P11C_MAX_SLOTS];
	CK_ULONG n = P11C_MAX_SLOTS;
	CK_SESSION_HANDLE s;

	ck_ok(p11c.fl->C_GetInfo(&info));
	ck_ok(p11c.fl->C_GetSlotList(CK_FALSE, slots, &n));
	s = p11c_open(false);
	ck_ok(p11c.fl->C_CloseSession(s));
}

START_TEST(init_null_args)
{
	ck_ok(p11c.fl->C_Initialize(NULL));
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(init_os_locking_ok)
{
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };

	ck_ok(p11c.fl->C_Initialize(&a));
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(init_no_locking_args)
{
	CK_C_INITIALIZE_ARGS a = { .flags = 0 };

	ck_ok(p11c.fl->C_Initialize(&a));
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(init_cant_create_threads)
{
	/* What GnuTLS and NSS pass.  A module that must create threads may refuse with
	 * CKR_NEED_TO_CREATE_THREADS (PKCS#11 2.40 §5.4). */
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS };
	CK_RV rv = p11c.fl->C_Initialize(&a);

	ck_assert_msg(rv == CKR_OK || rv == CKR_NEED_TO_CREATE_THREADS,
		"C_Initialize(OS_LOCKING_OK|CANT_CREATE_OS_THREADS) returned %s", p11c_rv_name(rv));
	if (rv == CKR_OK) {
		exercise();
		ck_ok(p11c.fl->C_Finalize(NULL));
	}
}
END_TEST

START_TEST(init_app_mutex_callbacks)
{
	/* Callbacks without CKF_OS_LOCKING_OK: the library must use them or answer
	 * CKR_CANT_LOCK (2.40 §5.4, case 3). */
	CK_C_INITIALIZE_ARGS a = { mx_create, mx_destroy, mx_lock, mx_unlock, 0, NULL };
	CK_RV rv = p11c.fl->C_Initialize(&a);

	ck_assert_msg(rv == CKR_OK || rv == CKR_CANT_LOCK,
		"C_Initialize(app mutex callbacks) returned %s", p11c_rv_name(rv));
	if (rv == CKR_OK) {
		exercise();
		ck_ok(p11c.fl->C_Finalize(NULL));
	}
}
END_TEST

START_TEST(init_app_mutex_and_os_locking)
{
	CK_C_INITIALIZE_ARGS a = { mx_create, mx_destroy, mx_lock, mx_unlock,
				   CKF_OS_LOCKING_OK, NULL };

	ck_ok(p11c.fl->C_Initialize(&a));
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(init_partial_mutex_callbacks)
{
	/* "If some, but not all, of the supplied function pointers ... are non-NULL_PTR,
	 * then C_Initialize should return with the value CKR_ARGUMENTS_BAD." */
	CK_C_INITIALIZE_ARGS a = { mx_create, NULL, mx_lock, NULL, CKF_OS_LOCKING_OK, NULL };

	ck_rv(p11c.fl->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* Not initialised afterwards. */
	ck_rv(p11c.fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(init_reserved_not_null)
{
	static int junk;
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK, .pReserved = &junk };

	ck_rv(p11c.fl->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	ck_rv(p11c.fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(init_twice)
{
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };

	ck_ok(p11c.fl->C_Initialize(&a));
	ck_rv(p11c.fl->C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	ck_rv(p11c.fl->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(finalize_reserved_not_null)
{
	static int junk;

	p11c_init();
	ck_rv(p11c.fl->C_Finalize(&junk), CKR_ARGUMENTS_BAD);
	exercise();     /* still initialised */
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(finalize_before_init)
{
	ck_rv(p11c.fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(finalize_twice)
{
	p11c_init();
	ck_ok(p11c.fl->C_Finalize(NULL));
	ck_rv(p11c.fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(reinit_after_finalize)
{
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;

	p11c_init();
	s = p11c_open(false);
	ck_ok(p11c.fl->C_Finalize(NULL));
	p11c_init();
	/* The old session is gone. */
	ck_rv(p11c.fl->C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
	exercise();
	ck_ok(p11c.fl->C_Finalize(NULL));
}
END_TEST

START_TEST(function_list_complete)
{
	void *const *fp = (void *const *)&p11c.fl->C_Initialize;
	size_t n = (sizeof(*p11c.fl) - offsetof(CK_FUNCTION_LIST, C_Initialize)) / sizeof(void *);
	size_t i;

	ck_assert_msg(p11c.fl->version.major == 2 || p11c.fl->version.major == 3,
		"C_GetFunctionList version %u.%u", p11c.fl->version.major, p11c.fl->version.minor);
	for (i = 0; i < n; i++)
		ck_assert_msg(fp[i] != NULL, "function list entry %zu is NULL (must be a stub)", i);
}
END_TEST

/* --- every function before C_Initialize --- */
static CK_BYTE buf[64];
static CK_ULONG len;
static CK_ULONG num;
static CK_OBJECT_HANDLE oh;
static CK_SESSION_HANDLE sh;
static CK_SLOT_ID slot_id;
static CK_INFO info;
static CK_SLOT_INFO slot_info;
static CK_TOKEN_INFO token_info;
static CK_MECHANISM_INFO mech_info;
static CK_SESSION_INFO session_info;
static CK_MECHANISM mech = { CKM_SHA256_RSA_PKCS, NULL, 0 };
static CK_ATTRIBUTE attr = { CKA_LABEL, buf, sizeof(buf) };
static CK_FUNCTION_LIST *fl_out;

/* A slot that exists nowhere, for the destructive C_InitToken. */
#define BOGUS_SLOT ((CK_SLOT_ID)0x7ffffff0UL)
#define BAD_H ((CK_ULONG)0x7ffffff1UL)

#define F(n, args) { #n, call_##n },
#define W(n, args) static CK_RV call_##n(void) { len = sizeof(buf); return p11c.fl->n args; }
#define FUNCS(X) \
	X(C_Finalize, (NULL)) \
	X(C_GetInfo, (&info)) \
	X(C_GetSlotList, (CK_FALSE, NULL, &num)) \
	X(C_GetSlotInfo, (0, &slot_info)) \
	X(C_GetTokenInfo, (0, &token_info)) \
	X(C_GetMechanismList, (0, NULL, &num)) \
	X(C_GetMechanismInfo, (0, CKM_SHA256_RSA_PKCS, &mech_info)) \
	X(C_InitToken, (BOGUS_SLOT, buf, 8, buf)) \
	X(C_InitPIN, (BAD_H, buf, 8)) \
	X(C_SetPIN, (BAD_H, buf, 8, buf, 8)) \
	X(C_OpenSession, (0, CKF_SERIAL_SESSION, NULL, NULL, &sh)) \
	X(C_CloseSession, (BAD_H)) \
	X(C_CloseAllSessions, (0)) \
	X(C_GetSessionInfo, (BAD_H, &session_info)) \
	X(C_GetOperationState, (BAD_H, NULL, &len)) \
	X(C_SetOperationState, (BAD_H, buf, len, 0, 0)) \
	X(C_Login, (BAD_H, CKU_USER, buf, 8)) \
	X(C_Logout, (BAD_H)) \
	X(C_CreateObject, (BAD_H, &attr, 1, &oh)) \
	X(C_CopyObject, (BAD_H, BAD_H, &attr, 1, &oh)) \
	X(C_DestroyObject, (BAD_H, BAD_H)) \
	X(C_GetObjectSize, (BAD_H, BAD_H, &num)) \
	X(C_GetAttributeValue, (BAD_H, BAD_H, &attr, 1)) \
	X(C_SetAttributeValue, (BAD_H, BAD_H, &attr, 1)) \
	X(C_FindObjectsInit, (BAD_H, &attr, 1)) \
	X(C_FindObjects, (BAD_H, &oh, 1, &num)) \
	X(C_FindObjectsFinal, (BAD_H)) \
	X(C_EncryptInit, (BAD_H, &mech, BAD_H)) \
	X(C_Encrypt, (BAD_H, buf, 8, buf, &len)) \
	X(C_EncryptUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_EncryptFinal, (BAD_H, buf, &len)) \
	X(C_DecryptInit, (BAD_H, &mech, BAD_H)) \
	X(C_Decrypt, (BAD_H, buf, 8, buf, &len)) \
	X(C_DecryptUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_DecryptFinal, (BAD_H, buf, &len)) \
	X(C_DigestInit, (BAD_H, &mech)) \
	X(C_Digest, (BAD_H, buf, 8, buf, &len)) \
	X(C_DigestUpdate, (BAD_H, buf, 8)) \
	X(C_DigestKey, (BAD_H, BAD_H)) \
	X(C_DigestFinal, (BAD_H, buf, &len)) \
	X(C_SignInit, (BAD_H, &mech, BAD_H)) \
	X(C_Sign, (BAD_H, buf, 8, buf, &len)) \
	X(C_SignUpdate, (BAD_H, buf, 8)) \
	X(C_SignFinal, (BAD_H, buf, &len)) \
	X(C_SignRecoverInit, (BAD_H, &mech, BAD_H)) \
	X(C_SignRecover, (BAD_H, buf, 8, buf, &len)) \
	X(C_VerifyInit, (BAD_H, &mech, BAD_H)) \
	X(C_Verify, (BAD_H, buf, 8, buf, 8)) \
	X(C_VerifyUpdate, (BAD_H, buf, 8)) \
	X(C_VerifyFinal, (BAD_H, buf, 8)) \
	X(C_VerifyRecoverInit, (BAD_H, &mech, BAD_H)) \
	X(C_VerifyRecover, (BAD_H, buf, 8, buf, &len)) \
	X(C_DigestEncryptUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_DecryptDigestUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_SignEncryptUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_DecryptVerifyUpdate, (BAD_H, buf, 8, buf, &len)) \
	X(C_GenerateKey, (BAD_H, &mech, &attr, 1, &oh)) \
	X(C_GenerateKeyPair, (BAD_H, &mech, &attr, 1, &attr, 1, &oh, &oh)) \
	X(C_WrapKey, (BAD_H, &mech, BAD_H, BAD_H, NULL, &len)) \
	X(C_UnwrapKey, (BAD_H, &mech, BAD_H, buf, 8, &attr, 1, &oh)) \
	X(C_DeriveKey, (BAD_H, &mech, BAD_H, &attr, 1, &oh)) \
	X(C_SeedRandom, (BAD_H, buf, 8)) \
	X(C_GenerateRandom, (BAD_H, buf, 8)) \
	X(C_GetFunctionStatus, (BAD_H)) \
	X(C_CancelFunction, (BAD_H)) \
	X(C_WaitForSlotEvent, (CKF_DONT_BLOCK, &slot_id, NULL))

FUNCS(W)
static const struct { const char *name; CK_RV (*call)(void); } funcs[] = { FUNCS(F) };
#define NUM_FUNCS (sizeof(funcs) / sizeof(funcs[0]))
_Static_assert(NUM_FUNCS == 66, "2.40 has 68 functions: all but C_Initialize, C_GetFunctionList");

START_TEST(not_initialized_all_functions)
{
	/* Every function but C_Initialize and C_GetFunctionList answers
	 * CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize.  A stub that answers
	 * CKR_FUNCTION_NOT_SUPPORTED regardless of state also conforms (2.40 §11.1), which
	 * is checked by calling it again once initialised.  The legacy C_GetFunctionStatus
	 * and C_CancelFunction may answer CKR_FUNCTION_NOT_PARALLEL (§5.17). */
	char bad[4096] = "";
	size_t used = 0, i;
	CK_RV pre[NUM_FUNCS];

	for (i = 0; i < NUM_FUNCS; i++) {
		pre[i] = funcs[i].call();
		if (pre[i] == CKR_CRYPTOKI_NOT_INITIALIZED || pre[i] == CKR_FUNCTION_NOT_SUPPORTED)
			continue;
		if (pre[i] == CKR_FUNCTION_NOT_PARALLEL &&
		    (strcmp(funcs[i].name, "C_GetFunctionStatus") == 0 ||
		     strcmp(funcs[i].name, "C_CancelFunction") == 0))
			continue;
		used += (size_t)snprintf(bad + used, sizeof(bad) - used, "%s→%s ", funcs[i].name,
			p11c_rv_name(pre[i]));
		if (used >= sizeof(bad))
			break;
	}
	ck_ok(p11c.fl->C_GetFunctionList(&fl_out));
	ck_assert_ptr_nonnull(fl_out);
	p11c_init();
	for (i = 0; i < NUM_FUNCS && used < sizeof(bad); i++) {
		CK_RV post;

		if (pre[i] != CKR_FUNCTION_NOT_SUPPORTED || strcmp(funcs[i].name, "C_Finalize") == 0)
			continue;
		post = funcs[i].call();
		if (post != CKR_FUNCTION_NOT_SUPPORTED)
			used += (size_t)snprintf(bad + used, sizeof(bad) - used,
				"%s→CKR_FUNCTION_NOT_SUPPORTED before init but %s after ",
				funcs[i].name, p11c_rv_name(post));
	}
	p11c_finalize();
	ck_assert_msg(used == 0, "not CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize: %s", bad);
}
END_TEST

/* --- PKCS#11 3.0 interfaces --- */
START_TEST(get_interface_default)
{
	P11C_INTERFACE *iface = NULL;
	CK_VERSION *v;

	if (p11c.get_interface == NULL)
		P11C_SKIP("module does not export C_GetInterface (PKCS#11 2.40 module)");
	ck_ok(p11c.get_interface(NULL, NULL, &iface, 0));
	ck_assert_ptr_nonnull(iface);
	ck_assert_ptr_nonnull(iface->pInterfaceName);
	ck_assert_ptr_nonnull(iface->pFunctionList);
	ck_assert_msg(strcmp((char *)iface->pInterfaceName, "PKCS 11") == 0 ||
		      strncmp((char *)iface->pInterfaceName, "Vendor ", 7) == 0,
		"default interface named '%s'", (char *)iface->pInterfaceName);
	v = iface->pFunctionList;
	ck_assert_msg(v->major == 2 || v->major == 3, "interface version %u.%u", v->major, v->minor);
	/* The interface's functions work like the function list's. */
	{
		CK_FUNCTION_LIST *f = iface->pFunctionList;
		CK_INFO ci;

		ck_ok(f->C_Initialize(NULL));
		ck_ok(f->C_GetInfo(&ci));
		ck_ok(f->C_Finalize(NULL));
	}
}
END_TEST

START_TEST(get_interface_by_name)
{
	P11C_INTERFACE *iface = NULL;
	CK_VERSION v30 = { 3, 0 };
	CK_VERSION *v;
	CK_RV rv;

	if (p11c.get_interface == NULL)
		P11C_SKIP("module does not export C_GetInterface");
	ck_ok(p11c.get_interface((CK_UTF8CHAR *)"PKCS 11", NULL, &iface, 0));
	ck_assert_ptr_nonnull(iface);
	ck_assert_str_eq((char *)iface->pInterfaceName, "PKCS 11");
	iface = NULL;
	rv = p11c.get_interface((CK_UTF8CHAR *)"PKCS 11", &v30, &iface, 0);
	if (rv == CKR_OK) {
		ck_assert_ptr_nonnull(iface);
		v = iface->pFunctionList;
		ck_assert_msg(v->major == 3 && v->minor == 0, "asked for 3.0, got %u.%u",
			v->major, v->minor);
	}
	/* An unknown name finds nothing. */
	iface = NULL;
	rv = p11c.get_interface((CK_UTF8CHAR *)"No Such Interface", NULL, &iface, 0);
	ck_assert_msg(rv != CKR_OK, "C_GetInterface(unknown name) returned CKR_OK");
	/* ppInterface NULL. */
	ck_rv(p11c.get_interface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(get_interface_list_lengths)
{
	P11C_INTERFACE list[16];
	CK_ULONG n = 0, n2, i;

	if (p11c.get_interface_list == NULL)
		P11C_SKIP("module does not export C_GetInterfaceList");
	ck_ok(p11c.get_interface_list(NULL, &n));
	ck_assert_msg(n >= 1 && n <= 16, "C_GetInterfaceList count %lu", (unsigned long)n);
	if (n > 1) {
		n2 = n - 1;
		ck_rv(p11c.get_interface_list(list, &n2), CKR_BUFFER_TOO_SMALL);
		ck_assert_uint_eq(n2, n);
	}
	n2 = n;
	ck_ok(p11c.get_interface_list(list, &n2));
	ck_assert_uint_eq(n2, n);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(list[i].pInterfaceName);
		ck_assert_ptr_nonnull(list[i].pFunctionList);
	}
	ck_rv(p11c.get_interface_list(list, NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

void p11c_add_init_tests(Suite *s)
{
	P11C_ADD(s, init_null_args);
	P11C_ADD(s, init_os_locking_ok);
	P11C_ADD(s, init_no_locking_args);
	P11C_ADD(s, init_cant_create_threads);
	P11C_ADD(s, init_app_mutex_callbacks);
	P11C_ADD(s, init_app_mutex_and_os_locking);
	P11C_ADD(s, init_partial_mutex_callbacks);
	P11C_ADD(s, init_reserved_not_null);
	P11C_ADD(s, init_twice);
	P11C_ADD(s, finalize_reserved_not_null);
	P11C_ADD(s, finalize_before_init);
	P11C_ADD(s, finalize_twice);
	P11C_ADD(s, reinit_after_finalize);
	P11C_ADD(s, function_list_complete);
	P11C_ADD(s, not_initialized_all_functions);
	P11C_ADD(s, get_interface_default);
	P11C_ADD(s, get_interface_by_name);
	P11C_ADD(s, get_interface_list_lengths);
}
