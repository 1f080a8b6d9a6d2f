/*
 * test_session.c - session flags and states, handles, C_CloseAllSessions, and login:
 * login applies to every session of the application, double login / logout, wrong PIN.
 */
#include "p11c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD_SESSION ((CK_SESSION_HANDLE)0x7ffffff1UL)
#define BOGUS_USER_TYPE ((CK_USER_TYPE)0x1234UL)

static void assert_state(CK_SESSION_HANDLE s, CK_STATE want, CK_FLAGS flags)
{
	CK_SESSION_INFO si;

	memset(&si, 0xa5, sizeof(si));
	ck_ok(p11c.fl->C_GetSessionInfo(s, &si));
	ck_assert_msg(si.state == want, "session state %lu, expected %lu",
		(unsigned long)si.state, (unsigned long)want);
	ck_assert_msg(si.flags == flags, "session flags 0x%lx, expected 0x%lx",
		(unsigned long)si.flags, (unsigned long)flags);
	ck_assert_msg(si.slotID == p11c_slot(), "session slotID %lu, expected %lu",
		(unsigned long)si.slotID, (unsigned long)p11c_slot());
}

#define RO_FLAGS CKF_SERIAL_SESSION
#define RW_FLAGS (CKF_SERIAL_SESSION | CKF_RW_SESSION)

/* RW sessions on a write-protected token fail with CKR_TOKEN_WRITE_PROTECTED. */
static bool write_protected(void)
{
	CK_TOKEN_INFO ti;

	ck_ok(p11c.fl->C_GetTokenInfo(p11c_slot(), &ti));
	return (ti.flags & CKF_WRITE_PROTECTED) != 0;
}

START_TEST(session_public_states)
{
	CK_SESSION_HANDLE ro, rw;

	p11c_init();
	if (write_protected()) {
		p11c_finalize();
		P11C_SKIP("token is write-protected: no RW sessions");
	}
	ro = p11c_open(false);
	rw = p11c_open(true);
	ck_assert_msg(ro != rw, "two sessions share a handle");
	assert_state(ro, CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	assert_state(rw, CKS_RW_PUBLIC_SESSION, RW_FLAGS);
	ck_rv(p11c.fl->C_GetSessionInfo(ro, NULL), CKR_ARGUMENTS_BAD);
	ck_ok(p11c.fl->C_CloseSession(ro));
	ck_ok(p11c.fl->C_CloseSession(rw));
	p11c_finalize();
}
END_TEST

START_TEST(session_parallel_not_supported)
{
	CK_SESSION_HANDLE s;

	p11c_init();
	ck_rv(p11c.fl->C_OpenSession(p11c_slot(), 0, NULL, NULL, &s),
		CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	ck_rv(p11c.fl->C_OpenSession(p11c_slot(), CKF_RW_SESSION, NULL, NULL, &s),
		CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	ck_rv(p11c.fl->C_OpenSession(p11c_slot(), CKF_SERIAL_SESSION, NULL, NULL, NULL),
		CKR_ARGUMENTS_BAD);
	p11c_finalize();
}
END_TEST

START_TEST(session_handle_invalid)
{
	CK_SESSION_INFO si;
	CK_SESSION_HANDLE s;

	p11c_init();
	ck_rv(p11c.fl->C_GetSessionInfo(BAD_SESSION, &si), CKR_SESSION_HANDLE_INVALID);
	ck_rv(p11c.fl->C_CloseSession(BAD_SESSION), CKR_SESSION_HANDLE_INVALID);
	ck_rv(p11c.fl->C_GetSessionInfo(CK_INVALID_HANDLE, &si), CKR_SESSION_HANDLE_INVALID);
	ck_rv(p11c.fl->C_Logout(BAD_SESSION), CKR_SESSION_HANDLE_INVALID);
	s = p11c_open(false);
	ck_ok(p11c.fl->C_CloseSession(s));
	ck_rv(p11c.fl->C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
	ck_rv(p11c.fl->C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
	p11c_finalize();
}
END_TEST

START_TEST(close_all_sessions)
{
	CK_SESSION_HANDLE s[3];
	CK_SESSION_INFO si;
	size_t i;

	p11c_init();
	s[0] = p11c_open(false);
	s[1] = p11c_open(!write_protected());
	s[2] = p11c_open(false);
	ck_ok(p11c.fl->C_CloseAllSessions(p11c_slot()));
	for (i = 0; i < 3; i++)
		ck_rv(p11c.fl->C_GetSessionInfo(s[i], &si), CKR_SESSION_HANDLE_INVALID);
	/* A new session still opens. */
	s[0] = p11c_open(false);
	assert_state(s[0], CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	p11c_finalize();
}
END_TEST

START_TEST(login_applies_to_all_sessions)
{
	CK_SESSION_HANDLE ro, rw, later;

	if (!p11c_has_pin())
		P11C_SKIP("P11C_PIN not set");
	p11c_init();
	if (write_protected()) {
		p11c_finalize();
		P11C_SKIP("token is write-protected: no RW sessions");
	}
	ro = p11c_open(false);
	rw = p11c_open(true);
	p11c_login(ro);
	assert_state(ro, CKS_RO_USER_FUNCTIONS, RO_FLAGS);
	assert_state(rw, CKS_RW_USER_FUNCTIONS, RW_FLAGS);
	later = p11c_open(false);
	assert_state(later, CKS_RO_USER_FUNCTIONS, RO_FLAGS);
	later = p11c_open(true);
	assert_state(later, CKS_RW_USER_FUNCTIONS, RW_FLAGS);
	/* Logout on another session logs every session out. */
	ck_ok(p11c.fl->C_Logout(rw));
	assert_state(ro, CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	assert_state(rw, CKS_RW_PUBLIC_SESSION, RW_FLAGS);
	assert_state(later, CKS_RW_PUBLIC_SESSION, RW_FLAGS);
	p11c_finalize();
}
END_TEST

START_TEST(logout_twice)
{
	CK_SESSION_HANDLE s;

	if (!p11c_has_pin())
		P11C_SKIP("P11C_PIN not set");
	p11c_init();
	s = p11c_open(false);
	p11c_login(s);
	ck_ok(p11c.fl->C_Logout(s));
	ck_rv(p11c.fl->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	p11c_finalize();
}
END_TEST

START_TEST(logout_without_login)
{
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	p11c_finalize();
}
END_TEST

START_TEST(login_twice)
{
	CK_SESSION_HANDLE s, t;

	if (!p11c_has_pin())
		P11C_SKIP("P11C_PIN not set");
	p11c_init();
	s = p11c_open(false);
	t = p11c_open(false);
	p11c_login(s);
	ck_rv(p11c.fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin)),
		CKR_USER_ALREADY_LOGGED_IN);
	ck_rv(p11c.fl->C_Login(t, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin)),
		CKR_USER_ALREADY_LOGGED_IN);
	assert_state(s, CKS_RO_USER_FUNCTIONS, RO_FLAGS);
	ck_ok(p11c.fl->C_Logout(s));
	p11c_finalize();
}
END_TEST

START_TEST(login_wrong_pin_once)
{
	/* One wrong PIN (never more: a token may lock), then the right one. */
	CK_SESSION_HANDLE s;
	char *wrong;
	size_t n;

	if (!p11c_has_pin())
		P11C_SKIP("P11C_PIN not set");
	if (!p11c.wrong_pin_ok)
		P11C_SKIP("set P11C_WRONG_PIN_OK=1 to try one wrong PIN (tokens may lock)");
	n = strlen(p11c.pin);
	ck_assert_msg(n > 0, "empty P11C_PIN");
	wrong = strdup(p11c.pin);
	ck_assert_ptr_nonnull(wrong);
	wrong[n - 1] = wrong[n - 1] == '0' ? '1' : '0';
	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)wrong, n), CKR_PIN_INCORRECT);
	free(wrong);
	assert_state(s, CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	p11c_login(s);
	assert_state(s, CKS_RO_USER_FUNCTIONS, RO_FLAGS);
	ck_ok(p11c.fl->C_Logout(s));
	p11c_finalize();
}
END_TEST

START_TEST(login_user_type_invalid)
{
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_Login(s, BOGUS_USER_TYPE, (CK_UTF8CHAR *)"0000", 4), CKR_USER_TYPE_INVALID);
	p11c_finalize();
}
END_TEST

START_TEST(login_ends_with_last_session)
{
	/* "When the last session an application has with a token is closed, the token's
	 * user is logged out" (2.40 §5.6 C_CloseSession). */
	CK_SESSION_HANDLE s;

	if (!p11c_has_pin())
		P11C_SKIP("P11C_PIN not set");
	p11c_init();
	s = p11c_open(false);
	p11c_login(s);
	ck_ok(p11c.fl->C_CloseSession(s));
	s = p11c_open(false);
	assert_state(s, CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	p11c_login(s);
	ck_ok(p11c.fl->C_CloseAllSessions(p11c_slot()));
	s = p11c_open(false);
	assert_state(s, CKS_RO_PUBLIC_SESSION, RO_FLAGS);
	p11c_finalize();
}
END_TEST

START_TEST(so_login_states)
{
	CK_SESSION_HANDLE ro, rw, s;

	if (p11c.so_pin == NULL)
		P11C_SKIP("P11C_SO_PIN not set");
	p11c_init();
	ro = p11c_open(false);
	rw = p11c_open(true);
	ck_rv(p11c.fl->C_Login(rw, CKU_SO, (CK_UTF8CHAR *)p11c.so_pin, strlen(p11c.so_pin)),
		CKR_SESSION_READ_ONLY_EXISTS);
	ck_ok(p11c.fl->C_CloseSession(ro));
	ck_ok(p11c.fl->C_Login(rw, CKU_SO, (CK_UTF8CHAR *)p11c.so_pin, strlen(p11c.so_pin)));
	assert_state(rw, CKS_RW_SO_FUNCTIONS, RW_FLAGS);
	ck_rv(p11c.fl->C_OpenSession(p11c_slot(), CKF_SERIAL_SESSION, NULL, NULL, &s),
		CKR_SESSION_READ_WRITE_SO_EXISTS);
	if (p11c_has_pin())
		ck_rv(p11c.fl->C_Login(rw, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin)),
			CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	ck_ok(p11c.fl->C_Logout(rw));
	assert_state(rw, CKS_RW_PUBLIC_SESSION, RW_FLAGS);
	p11c_finalize();
}
END_TEST

void p11c_add_session_tests(Suite *s)
{
	P11C_ADD(s, session_public_states);
	P11C_ADD(s, session_parallel_not_supported);
	P11C_ADD(s, session_handle_invalid);
	P11C_ADD(s, close_all_sessions);
	P11C_ADD(s, login_applies_to_all_sessions);
	P11C_ADD(s, logout_twice);
	P11C_ADD(s, logout_without_login);
	P11C_ADD(s, login_twice);
	P11C_ADD(s, login_wrong_pin_once);
	P11C_ADD(s, login_user_type_invalid);
	P11C_ADD(s, login_ends_with_last_session);
	P11C_ADD(s, so_login_states);
}
