/*
 * test_sign.c - the sign state machine on the chosen key, for every suite mechanism the
 * token lists; every signature is verified with OpenSSL.
 */
#include "p11c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define BOGUS_MECH ((CK_MECHANISM_TYPE)0x8fffff01UL)
#define BOGUS_KEY ((CK_OBJECT_HANDLE)0x7ffffff5UL)

/* Per-mechanism test names: "base(CKM_...)". */
static void mech_test_name(const char *base, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "%s(%s)", base, p11c_mechs[i].name);
}

/* Set-up for a per-mechanism test; records a SKIP and returns false when the key type
 * differs or the token does not list the mechanism. */
static bool mech_setup(const char *base, size_t i, CK_SESSION_HANDLE *s, struct p11c_key *k)
{
	char name[P11C_MAX_NAME];
	const struct p11c_mech *m = &p11c_mechs[i];

	mech_test_name(base, i, name, sizeof(name));
	if (!p11c_key_setup(name, s, k))
		return false;
	if (k->key_type != m->key_type) {
		p11c_skip_record(name, "key '%s' has key type 0x%lx, %s needs 0x%lx", k->label,
			(unsigned long)k->key_type, m->name, (unsigned long)m->key_type);
		goto skip;
	}
	if (!p11c_mech_listed(m->type)) {
		p11c_skip_record(name, "token does not list %s", m->name);
		goto skip;
	}
	return true;
skip:
	p11c_key_clear(k);
	p11c_finalize();
	return false;
}

static void sign_init(CK_SESSION_HANDLE s, const struct p11c_key *k, const struct p11c_mech *m)
{
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;

	p11c_mech_fill(m, &mech, &pss);
	ck_ok(p11c.fl->C_SignInit(s, &mech, k->priv));
}

/* One-shot sign with the length conventions; returns the signature length. */
static CK_ULONG sign_oneshot(CK_SESSION_HANDLE s, const struct p11c_key *k,
	const struct p11c_mech *m, unsigned char *sig)
{
	unsigned char inbuf[128], small[1];
	const unsigned char *in;
	size_t in_len;
	CK_ULONG len = 0, need, tiny = sizeof(small);

	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	sign_init(s, k, m);
	/* Length query: signs nothing, keeps the operation. */
	ck_ok(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, NULL, &len));
	ck_assert_msg(len > 0 && len <= P11C_MAX_SIG_LEN, "length query gave %lu", (unsigned long)len);
	need = len;
	/* Too small: CKR_BUFFER_TOO_SMALL with the length, keeps the operation. */
	ck_rv(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, small, &tiny), CKR_BUFFER_TOO_SMALL);
	ck_assert_msg(tiny == need, "after CKR_BUFFER_TOO_SMALL length %lu, expected %lu",
		(unsigned long)tiny, (unsigned long)need);
	len = P11C_MAX_SIG_LEN;
	ck_ok(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, &len));
	ck_assert_msg(len > 0 && len <= need, "signature length %lu, length query said %lu",
		(unsigned long)len, (unsigned long)need);
	/* The operation is over. */
	ck_rv(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, NULL, &tiny), CKR_OPERATION_NOT_INITIALIZED);
	return len;
}

/* Multi-part sign in pieces of `piece` bytes, with the length conventions on SignFinal. */
static CK_ULONG sign_multipart(CK_SESSION_HANDLE s, const struct p11c_key *k,
	const struct p11c_mech *m, size_t piece, unsigned char *sig)
{
	unsigned char small[1];
	CK_ULONG len = 0, need, tiny = sizeof(small);
	size_t off, n;

	sign_init(s, k, m);
	for (off = 0; off < p11c.data_len; off += n) {
		n = p11c.data_len - off < piece ? p11c.data_len - off : piece;
		ck_ok(p11c.fl->C_SignUpdate(s, p11c.data + off, n));
	}
	ck_ok(p11c.fl->C_SignFinal(s, NULL, &len));
	ck_assert_msg(len > 0 && len <= P11C_MAX_SIG_LEN, "length query gave %lu", (unsigned long)len);
	need = len;
	ck_rv(p11c.fl->C_SignFinal(s, small, &tiny), CKR_BUFFER_TOO_SMALL);
	ck_assert_msg(tiny == need, "after CKR_BUFFER_TOO_SMALL length %lu, expected %lu",
		(unsigned long)tiny, (unsigned long)need);
	len = P11C_MAX_SIG_LEN;
	ck_ok(p11c.fl->C_SignFinal(s, sig, &len));
	ck_assert_msg(len > 0 && len <= need, "signature length %lu, length query said %lu",
		(unsigned long)len, (unsigned long)need);
	ck_rv(p11c.fl->C_SignUpdate(s, p11c.data, 1), CKR_OPERATION_NOT_INITIALIZED);
	ck_rv(p11c.fl->C_SignFinal(s, NULL, &tiny), CKR_OPERATION_NOT_INITIALIZED);
	return len;
}

static void assert_verifies(const struct p11c_key *k, const struct p11c_mech *m,
	const unsigned char *sig, CK_ULONG len, const char *how)
{
	const char *err = p11c_verify(k, m, sig, len);

	ck_assert_msg(err == NULL, "%s %s: %s", m->name, how, err ? err : "");
}

START_TEST(sign_oneshot_test)
{
	const struct p11c_mech *m = &p11c_mechs[_i];
	unsigned char sig[P11C_MAX_SIG_LEN], sig2[P11C_MAX_SIG_LEN];
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG len, len2;

	if (!mech_setup("sign_oneshot", (size_t)_i, &s, &k))
		return;
	len = sign_oneshot(s, &k, m, sig);
	assert_verifies(&k, m, sig, len, "one-shot");
	len2 = sign_oneshot(s, &k, m, sig2);
	assert_verifies(&k, m, sig2, len2, "second one-shot");
	if (m->key_type == CKK_RSA && !m->pss)   /* PKCS#1 v1.5 is deterministic */
		ck_assert_msg(len == len2 && memcmp(sig, sig2, len) == 0,
			"two PKCS#1 v1.5 signatures of the same data differ");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_multipart_test)
{
	const struct p11c_mech *m = &p11c_mechs[_i];
	unsigned char one[P11C_MAX_SIG_LEN], bytes[P11C_MAX_SIG_LEN], chunks[P11C_MAX_SIG_LEN];
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG len1, len_b, len_c;

	if (!mech_setup("sign_multipart", (size_t)_i, &s, &k))
		return;
	len1 = sign_oneshot(s, &k, m, one);
	assert_verifies(&k, m, one, len1, "one-shot");
	len_b = sign_multipart(s, &k, m, 1, bytes);
	assert_verifies(&k, m, bytes, len_b, "in 1-byte pieces");
	len_c = sign_multipart(s, &k, m, P11C_CHUNK_LEN, chunks);
	assert_verifies(&k, m, chunks, len_c, "in 1 KiB chunks");
	if (m->key_type == CKK_RSA && !m->pss) {
		ck_assert_msg(len_b == len1 && memcmp(bytes, one, len1) == 0,
			"1-byte multi-part signature differs from one-shot");
		ck_assert_msg(len_c == len1 && memcmp(chunks, one, len1) == 0,
			"1 KiB multi-part signature differs from one-shot");
	}
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

/* Set-up for the generic tests: the key and the first suite mechanism it can use. */
static const struct p11c_mech *any_setup(const char *func, CK_SESSION_HANDLE *s,
	struct p11c_key *k)
{
	char name[P11C_MAX_NAME];
	const struct p11c_mech *m;

	p11c_test_name(func, name, sizeof(name));
	if (!p11c_key_setup(name, s, k))
		return NULL;
	m = p11c_mech_for_key(k);
	if (m == NULL) {
		p11c_skip_record(name, "the token lists no suite mechanism for key type 0x%lx",
			(unsigned long)k->key_type);
		p11c_key_clear(k);
		p11c_finalize();
	}
	return m;
}

START_TEST(sign_without_init)
{
	unsigned char sig[P11C_MAX_SIG_LEN];
	CK_ULONG len = sizeof(sig);
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_Sign(s, p11c.data, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_rv(p11c.fl->C_SignUpdate(s, p11c.data, 32), CKR_OPERATION_NOT_INITIALIZED);
	len = sizeof(sig);
	ck_rv(p11c.fl->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	p11c_finalize();
}
END_TEST

START_TEST(sign_init_twice)
{
	unsigned char sig[P11C_MAX_SIG_LEN], inbuf[128];
	const unsigned char *in;
	size_t in_len;
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_ULONG len = sizeof(sig);
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	p11c_mech_fill(m, &mech, &pss);
	ck_ok(p11c.fl->C_SignInit(s, &mech, k.priv));
	ck_rv(p11c.fl->C_SignInit(s, &mech, k.priv), CKR_OPERATION_ACTIVE);
	/* The first operation is still active and works. */
	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	ck_ok(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, &len));
	assert_verifies(&k, m, sig, len, "after a refused second C_SignInit");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_before_login)
{
	unsigned char sig[P11C_MAX_SIG_LEN];
	CK_ULONG len;
	CK_RV rv;
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	ck_ok(p11c.fl->C_Logout(s));
	p11c_mech_fill(m, &mech, &pss);
	/* CKR_USER_NOT_LOGGED_IN; or the handle is gone: 2.40 §5.6 C_Logout makes the
	 * application's handles to private objects invalid. */
	rv = p11c.fl->C_SignInit(s, &mech, k.priv);
	ck_assert_msg(rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID ||
		      rv == CKR_OBJECT_HANDLE_INVALID,
		"C_SignInit after C_Logout returned %s, expected CKR_USER_NOT_LOGGED_IN",
		p11c_rv_name(rv));
	len = sizeof(sig);
	ck_rv(p11c.fl->C_Sign(s, p11c.data, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_bad_mechanism)
{
	unsigned char sig[P11C_MAX_SIG_LEN];
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM mech = { BOGUS_MECH, NULL, 0 };
	CK_SESSION_HANDLE s;
	struct p11c_key k;

	P11C_KEY_SETUP(&s, &k);
	ck_rv(p11c.fl->C_SignInit(s, &mech, k.priv), CKR_MECHANISM_INVALID);
	ck_rv(p11c.fl->C_Sign(s, p11c.data, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_rv(p11c.fl->C_SignInit(s, NULL, k.priv), CKR_ARGUMENTS_BAD);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_invalid_key_handle)
{
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);
	CK_RV rv;

	if (m == NULL)
		return;
	p11c_mech_fill(m, &mech, &pss);
	rv = p11c.fl->C_SignInit(s, &mech, BOGUS_KEY);
	ck_assert_msg(rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID,
		"C_SignInit(bogus key) returned %s", p11c_rv_name(rv));
	rv = p11c.fl->C_SignInit(s, &mech, CK_INVALID_HANDLE);
	ck_assert_msg(rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID,
		"C_SignInit(CK_INVALID_HANDLE) returned %s", p11c_rv_name(rv));
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_sessions_independent)
{
	/* Operations on two sessions interleave without interfering. */
	unsigned char sig1[P11C_MAX_SIG_LEN], sig2[P11C_MAX_SIG_LEN], inbuf[128];
	const unsigned char *in;
	size_t in_len;
	CK_ULONG len1 = sizeof(sig1), len2 = sizeof(sig2);
	CK_SESSION_HANDLE s, t;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	t = p11c_open(false);
	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	sign_init(s, &k, m);
	sign_init(t, &k, m);
	ck_ok(p11c.fl->C_Sign(t, (CK_BYTE *)in, in_len, sig2, &len2));
	ck_ok(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig1, &len1));
	assert_verifies(&k, m, sig1, len1, "session 1");
	assert_verifies(&k, m, sig2, len2, "session 2");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(sign_error_ends_operation)
{
	/* "A call to C_Sign always terminates the active signing operation unless it returns
	 * CKR_BUFFER_TOO_SMALL or is a successful call ... to determine the length" (2.40
	 * §5.12); the same holds for C_SignUpdate and C_SignFinal. */
	unsigned char sig[P11C_MAX_SIG_LEN], inbuf[128];
	const unsigned char *in;
	size_t in_len;
	CK_ULONG len = sizeof(sig);
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	sign_init(s, &k, m);
	ck_rv(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, NULL), CKR_ARGUMENTS_BAD);
	ck_rv(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	if (m->multipart) {
		sign_init(s, &k, m);
		ck_ok(p11c.fl->C_SignUpdate(s, p11c.data, 1));
		ck_rv(p11c.fl->C_SignFinal(s, sig, NULL), CKR_ARGUMENTS_BAD);
		len = sizeof(sig);
		ck_rv(p11c.fl->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	}
	/* And a new operation starts cleanly. */
	sign_init(s, &k, m);
	len = sizeof(sig);
	ck_ok(p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, &len));
	assert_verifies(&k, m, sig, len, "after a failed operation");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

/* Test-case names: Check keeps the pointer, so they live as long as the process. */
#define NUM_MECH_TESTS 2
static char mech_case_names[NUM_MECH_TESTS][P11C_NUM_MECHS][P11C_MAX_NAME];

/* Adds base(M) for each suite mechanism M that can apply: multi-part tests only for
 * multi-part mechanisms, and only mechanisms of the key's type when it is known. */
static void add_mech_tests(Suite *s, const TTest *t, const char *base, size_t which,
	CK_KEY_TYPE key_type)
{
	size_t i;

	for (i = 0; i < P11C_NUM_MECHS; i++) {
		char *name = mech_case_names[which][i];
		TCase *tc;

		if (which == 1 && !p11c_mechs[i].multipart)
			continue;
		if (key_type != CK_UNAVAILABLE_INFORMATION && p11c_mechs[i].key_type != key_type)
			continue;

		mech_test_name(base, i, name, P11C_MAX_NAME);
		tc = tcase_create(name);
		tcase_set_timeout(tc, P11C_TEST_TIMEOUT);
		tcase_add_loop_test(tc, t, (int)i, (int)i + 1);
		suite_add_tcase(s, tc);
	}
}

void p11c_add_sign_tests(Suite *s, CK_KEY_TYPE key_type)
{
	add_mech_tests(s, sign_oneshot_test, "sign_oneshot", 0, key_type);
	add_mech_tests(s, sign_multipart_test, "sign_multipart", 1, key_type);
	P11C_ADD(s, sign_without_init);
	P11C_ADD(s, sign_init_twice);
	P11C_ADD(s, sign_before_login);
	P11C_ADD(s, sign_bad_mechanism);
	P11C_ADD(s, sign_invalid_key_handle);
	P11C_ADD(s, sign_sessions_independent);
	P11C_ADD(s, sign_error_ends_operation);
}
