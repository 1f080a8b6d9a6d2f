/*
 * test_info.c - C_GetInfo / C_GetSlotInfo / C_GetTokenInfo contents, the length
 * conventions of the list calls, and C_GetMechanismInfo.
 */
#include "p11c.h"

#include <stdio.h>
#include <string.h>

#define BOGUS_SLOT ((CK_SLOT_ID)0x7ffffff0UL)
#define BOGUS_MECH ((CK_MECHANISM_TYPE)0x8fffff01UL)

#define assert_padded(field)                                                            \
	do {                                                                            \
		const char *why_ = p11c_padded_ok((field), sizeof(field));               \
		ck_assert_msg(why_ == NULL, "%s %s", #field, why_ ? why_ : "");          \
	} while (0)

static void assert_cryptoki_version(CK_VERSION v)
{
	ck_assert_msg((v.major == 2 && v.minor >= 1 && v.minor <= 40) ||
		      (v.major == 3 && v.minor <= 2),
		"cryptokiVersion %u.%u is not a PKCS#11 version", v.major, v.minor);
}

START_TEST(info_strings_padded)
{
	CK_INFO info;

	memset(&info, 0, sizeof(info));
	p11c_init();
	ck_ok(p11c.fl->C_GetInfo(&info));
	assert_padded(info.manufacturerID);
	assert_padded(info.libraryDescription);
	assert_cryptoki_version(info.cryptokiVersion);
	ck_assert_msg(info.flags == 0, "CK_INFO.flags 0x%lx, must be zero", (unsigned long)info.flags);
	ck_rv(p11c.fl->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	p11c_finalize();
}
END_TEST

START_TEST(slot_info_padded)
{
	CK_SLOT_INFO si;

	memset(&si, 0, sizeof(si));
	p11c_init();
	ck_ok(p11c.fl->C_GetSlotInfo(p11c_slot(), &si));
	assert_padded(si.slotDescription);
	assert_padded(si.manufacturerID);
	ck_assert_msg(si.flags & CKF_TOKEN_PRESENT, "slot flags 0x%lx lack CKF_TOKEN_PRESENT",
		(unsigned long)si.flags);
	ck_assert_msg((si.flags & ~(CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT)) == 0,
		"slot flags 0x%lx has undefined bits", (unsigned long)si.flags);
	p11c_finalize();
}
END_TEST

START_TEST(token_info_padded)
{
	CK_TOKEN_INFO ti;

	memset(&ti, 0, sizeof(ti));
	p11c_init();
	ck_ok(p11c.fl->C_GetTokenInfo(p11c_slot(), &ti));
	assert_padded(ti.label);
	assert_padded(ti.manufacturerID);
	assert_padded(ti.model);
	assert_padded(ti.serialNumber);
	ck_assert_msg(ti.flags & CKF_TOKEN_INITIALIZED, "token flags 0x%lx lack TOKEN_INITIALIZED",
		(unsigned long)ti.flags);
	if (p11c_has_pin())
		ck_assert_msg(ti.flags & CKF_USER_PIN_INITIALIZED,
			"token flags 0x%lx lack USER_PIN_INITIALIZED", (unsigned long)ti.flags);
	ck_assert_msg(ti.ulMinPinLen <= ti.ulMaxPinLen, "ulMinPinLen %lu > ulMaxPinLen %lu",
		(unsigned long)ti.ulMinPinLen, (unsigned long)ti.ulMaxPinLen);
	if (ti.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION &&
	    ti.ulMaxSessionCount != CK_EFFECTIVELY_INFINITE &&
	    ti.ulSessionCount != CK_UNAVAILABLE_INFORMATION)
		ck_assert_msg(ti.ulSessionCount <= ti.ulMaxSessionCount, "session count %lu > max %lu",
			(unsigned long)ti.ulSessionCount, (unsigned long)ti.ulMaxSessionCount);
	if (ti.flags & CKF_CLOCK_ON_TOKEN) {
		for (size_t i = 0; i < 14; i++)
			ck_assert_msg(ti.utcTime[i] >= '0' && ti.utcTime[i] <= '9',
				"utcTime is not YYYYMMDDhhmmss");
	}
	p11c_finalize();
}
END_TEST

START_TEST(session_count_tracks_sessions)
{
	CK_TOKEN_INFO a, b;
	CK_SESSION_HANDLE s;

	p11c_init();
	ck_ok(p11c.fl->C_GetTokenInfo(p11c_slot(), &a));
	if (a.ulSessionCount == CK_UNAVAILABLE_INFORMATION) {
		p11c_finalize();
		P11C_SKIP("token reports ulSessionCount as CK_UNAVAILABLE_INFORMATION");
	}
	s = p11c_open(false);
	ck_ok(p11c.fl->C_GetTokenInfo(p11c_slot(), &b));
	ck_assert_uint_eq(b.ulSessionCount, a.ulSessionCount + 1);
	ck_ok(p11c.fl->C_CloseSession(s));
	p11c_finalize();
}
END_TEST

START_TEST(bogus_slot_invalid)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0;
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE s;

	p11c_init();
	ck_rv(p11c.fl->C_GetSlotInfo(BOGUS_SLOT, &si), CKR_SLOT_ID_INVALID);
	ck_rv(p11c.fl->C_GetTokenInfo(BOGUS_SLOT, &ti), CKR_SLOT_ID_INVALID);
	ck_rv(p11c.fl->C_GetMechanismList(BOGUS_SLOT, NULL, &n), CKR_SLOT_ID_INVALID);
	ck_rv(p11c.fl->C_GetMechanismInfo(BOGUS_SLOT, CKM_SHA256_RSA_PKCS, &mi), CKR_SLOT_ID_INVALID);
	ck_rv(p11c.fl->C_OpenSession(BOGUS_SLOT, CKF_SERIAL_SESSION, NULL, NULL, &s),
		CKR_SLOT_ID_INVALID);
	p11c_finalize();
}
END_TEST

static void slot_list_lengths(CK_BBOOL present)
{
	CK_SLOT_ID a[P11C_MAX_SLOTS], b[P11C_MAX_SLOTS];
	CK_ULONG n = 0, m;

	ck_ok(p11c.fl->C_GetSlotList(present, NULL, &n));
	ck_assert_msg(n >= 1 && n <= P11C_MAX_SLOTS, "slot count %lu", (unsigned long)n);
	m = n;
	ck_ok(p11c.fl->C_GetSlotList(present, a, &m));
	ck_assert_uint_eq(m, n);
	m = P11C_MAX_SLOTS;                   /* larger buffer: count set to the real one */
	ck_ok(p11c.fl->C_GetSlotList(present, b, &m));
	ck_assert_uint_eq(m, n);
	ck_assert(memcmp(a, b, n * sizeof(a[0])) == 0);
	m = n - 1;
	ck_rv(p11c.fl->C_GetSlotList(present, a, &m), CKR_BUFFER_TOO_SMALL);
	ck_assert_msg(m == n, "after CKR_BUFFER_TOO_SMALL count is %lu, expected %lu",
		(unsigned long)m, (unsigned long)n);
	ck_rv(p11c.fl->C_GetSlotList(present, a, NULL), CKR_ARGUMENTS_BAD);
}

START_TEST(slot_list_lengths_all)
{
	p11c_init();
	slot_list_lengths(CK_FALSE);
	p11c_finalize();
}
END_TEST

START_TEST(slot_list_lengths_token_present)
{
	CK_SLOT_ID all[P11C_MAX_SLOTS], with[P11C_MAX_SLOTS];
	CK_ULONG na = P11C_MAX_SLOTS, nw = P11C_MAX_SLOTS, i, j;

	p11c_init();
	slot_list_lengths(CK_TRUE);
	/* Slots with a token are a subset of all slots. */
	ck_ok(p11c.fl->C_GetSlotList(CK_FALSE, all, &na));
	ck_ok(p11c.fl->C_GetSlotList(CK_TRUE, with, &nw));
	for (i = 0; i < nw; i++) {
		for (j = 0; j < na && all[j] != with[i]; j++)
			;
		ck_assert_msg(j < na, "slot %lu has a token but is not in the full list",
			(unsigned long)with[i]);
	}
	p11c_finalize();
}
END_TEST

START_TEST(mechanism_list_lengths)
{
	CK_MECHANISM_TYPE a[P11C_MAX_MECHS];
	CK_ULONG n = 0, m;

	p11c_init();
	ck_ok(p11c.fl->C_GetMechanismList(p11c_slot(), NULL, &n));
	ck_assert_msg(n <= P11C_MAX_MECHS, "mechanism count %lu", (unsigned long)n);
	if (n == 0) {
		p11c_finalize();
		P11C_SKIP("the token lists no mechanisms");
	}
	m = n;
	ck_ok(p11c.fl->C_GetMechanismList(p11c_slot(), a, &m));
	ck_assert_uint_eq(m, n);
	m = P11C_MAX_MECHS;
	ck_ok(p11c.fl->C_GetMechanismList(p11c_slot(), a, &m));
	ck_assert_uint_eq(m, n);
	m = n - 1;
	ck_rv(p11c.fl->C_GetMechanismList(p11c_slot(), a, &m), CKR_BUFFER_TOO_SMALL);
	ck_assert_msg(m == n, "after CKR_BUFFER_TOO_SMALL count is %lu, expected %lu",
		(unsigned long)m, (unsigned long)n);
	m = 0;
	ck_rv(p11c.fl->C_GetMechanismList(p11c_slot(), a, &m), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(m, n);
	ck_rv(p11c.fl->C_GetMechanismList(p11c_slot(), a, NULL), CKR_ARGUMENTS_BAD);
	p11c_finalize();
}
END_TEST

START_TEST(mechanism_info_flags_set_not_ored)
{
	/* C_GetMechanismInfo sets the structure; garbage in the caller's memory must not
	 * leak into the answer (SoftHSMv2 ORs flags in). */
	CK_MECHANISM_TYPE list[P11C_MAX_MECHS];
	CK_MECHANISM_INFO garbage, clean;
	CK_ULONG n = P11C_MAX_MECHS, i;

	p11c_init();
	ck_ok(p11c.fl->C_GetMechanismList(p11c_slot(), list, &n));
	for (i = 0; i < n; i++) {
		memset(&garbage, 0xa5, sizeof(garbage));
		memset(&clean, 0, sizeof(clean));
		ck_ok(p11c.fl->C_GetMechanismInfo(p11c_slot(), list[i], &garbage));
		ck_ok(p11c.fl->C_GetMechanismInfo(p11c_slot(), list[i], &clean));
		ck_assert_msg(garbage.flags == clean.flags &&
			      garbage.ulMinKeySize == clean.ulMinKeySize &&
			      garbage.ulMaxKeySize == clean.ulMaxKeySize,
			"mechanism 0x%lx: prefilled answer flags 0x%lx min %lu max %lu, clean 0x%lx %lu %lu",
			(unsigned long)list[i], (unsigned long)garbage.flags,
			(unsigned long)garbage.ulMinKeySize, (unsigned long)garbage.ulMaxKeySize,
			(unsigned long)clean.flags, (unsigned long)clean.ulMinKeySize,
			(unsigned long)clean.ulMaxKeySize);
	}
	p11c_finalize();
}
END_TEST

START_TEST(mechanism_info_sign_mechanisms)
{
	/* Every listed signature mechanism of the suite says CKF_SIGN, min <= max. */
	CK_MECHANISM_INFO mi;
	size_t i, num_listed = 0;

	p11c_init();
	for (i = 0; i < p11c_num_mechs; i++) {
		if (!p11c_mech_listed(p11c_mechs[i].type))
			continue;
		num_listed++;
		memset(&mi, 0, sizeof(mi));
		ck_ok(p11c.fl->C_GetMechanismInfo(p11c_slot(), p11c_mechs[i].type, &mi));
		ck_assert_msg(mi.flags & CKF_SIGN, "%s listed without CKF_SIGN (flags 0x%lx)",
			p11c_mechs[i].name, (unsigned long)mi.flags);
		ck_assert_msg(mi.ulMinKeySize <= mi.ulMaxKeySize, "%s min key size %lu > max %lu",
			p11c_mechs[i].name, (unsigned long)mi.ulMinKeySize,
			(unsigned long)mi.ulMaxKeySize);
	}
	p11c_finalize();
	if (num_listed == 0)
		P11C_SKIP("the token lists none of the suite's signature mechanisms");
}
END_TEST

START_TEST(mechanism_info_invalid)
{
	CK_MECHANISM_INFO mi;

	p11c_init();
	ck_rv(p11c.fl->C_GetMechanismInfo(p11c_slot(), BOGUS_MECH, &mi), CKR_MECHANISM_INVALID);
	p11c_finalize();
}
END_TEST

void p11c_add_info_tests(Suite *s)
{
	P11C_ADD(s, info_strings_padded);
	P11C_ADD(s, slot_info_padded);
	P11C_ADD(s, token_info_padded);
	P11C_ADD(s, session_count_tracks_sessions);
	P11C_ADD(s, bogus_slot_invalid);
	P11C_ADD(s, slot_list_lengths_all);
	P11C_ADD(s, slot_list_lengths_token_present);
	P11C_ADD(s, mechanism_list_lengths);
	P11C_ADD(s, mechanism_info_flags_set_not_ored);
	P11C_ADD(s, mechanism_info_sign_mechanisms);
	P11C_ADD(s, mechanism_info_invalid);
}
