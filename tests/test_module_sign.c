/*
 * test_module_sign.c - libwarden-pkcs11: mechanisms and the sign state machine (length
 * queries, too-small buffers, multi-part, mixing, the data bound, errors ending the
 * operation, refusals, lost connections, threads).
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "test_module_fake.h"
#include "wp11.h"

#define H_RSA_PRIV 1
#define H_RSA_PUB 2
#define H_EC_PRIV 5
#define NUM_THREADS 4
#define SIGNS_PER_THREAD 50

static CK_SESSION_HANDLE sess;
static CK_MECHANISM rsa_mech = {CKM_SHA256_RSA_PKCS, NULL, 0};
static CK_MECHANISM ec_mech = {CKM_ECDSA_SHA256, NULL, 0};

static void setup(void)
{
	fake_start();
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &sess),
			 CKR_OK);
	ck_assert_int_eq(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)FAKE_PIN, strlen(FAKE_PIN)),
			 CKR_OK);
}

static void teardown(void)
{
	(void)C_Finalize(NULL);
	fake_stop();
}

static int signs(void)
{
	pthread_mutex_lock(&fake.lock);
	int n = fake.signs;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

static void expect_sig(const CK_BYTE *data, size_t len, const CK_BYTE *sig, CK_ULONG sig_len,
		       size_t want_len)
{
	CK_BYTE want[WIRE_MAX_SIG];
	ck_assert_uint_eq(sig_len, want_len);
	fake_signature(data, len, want_len, want);
	ck_assert(memcmp(sig, want, want_len) == 0);
}

START_TEST(test_mechanism_list_is_the_union_of_the_keys)
{
	CK_MECHANISM_TYPE m[8];
	CK_ULONG n = 0;

	ck_assert_int_eq(C_GetMechanismList(WP11_SLOT_ID, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 5);
	n = 2;
	ck_assert_int_eq(C_GetMechanismList(WP11_SLOT_ID, m, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 5);
	n = 8;
	ck_assert_int_eq(C_GetMechanismList(WP11_SLOT_ID, m, &n), CKR_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(m[0], CKM_SHA256_RSA_PKCS);
	ck_assert_uint_eq(m[1], CKM_SHA256_RSA_PKCS_PSS);
	ck_assert_uint_eq(m[2], CKM_RSA_PKCS);
	ck_assert_uint_eq(m[3], CKM_ECDSA_SHA256);
	ck_assert_uint_eq(m[4], CKM_ECDSA_SHA384);
	ck_assert_int_eq(C_GetMechanismList(WP11_SLOT_ID, m, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetMechanismList(3, m, &n), CKR_SLOT_ID_INVALID);
}
END_TEST

START_TEST(test_mechanism_info_is_set_not_ored)
{
	CK_MECHANISM_INFO info;

	memset(&info, 0xff, sizeof(info));
	ck_assert_int_eq(C_GetMechanismInfo(WP11_SLOT_ID, CKM_SHA256_RSA_PKCS, &info), CKR_OK);
	ck_assert_uint_eq(info.flags, CKF_SIGN);
	ck_assert_uint_eq(info.ulMinKeySize, 2048);
	ck_assert_uint_eq(info.ulMaxKeySize, 2048);
	memset(&info, 0xff, sizeof(info));
	ck_assert_int_eq(C_GetMechanismInfo(WP11_SLOT_ID, CKM_ECDSA_SHA256, &info), CKR_OK);
	ck_assert_uint_eq(info.flags,
			  CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS);
	ck_assert_uint_eq(info.ulMinKeySize, 256);
	ck_assert_uint_eq(info.ulMaxKeySize, 256);
	ck_assert(!(info.flags & CKF_HW));
	ck_assert_int_eq(C_GetMechanismInfo(WP11_SLOT_ID, CKM_ECDSA, &info), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(C_GetMechanismInfo(WP11_SLOT_ID, CKM_SHA256_RSA_PKCS, NULL),
			 CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(test_sign_init_checks)
{
	CK_MECHANISM pss = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
	CK_RSA_PKCS_PSS_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_SESSION_HANDLE other;

	ck_assert_int_eq(C_SignInit(sess, NULL, H_RSA_PRIV), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_SignInit(sess + 50, &rsa_mech, H_RSA_PRIV), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PUB), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, 77), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(C_SignInit(sess, &ec_mech, H_RSA_PRIV), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_EC_PRIV), CKR_MECHANISM_INVALID);
	/* PSS parameters */
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	pss.pParameter = &p;
	pss.ulParameterLen = sizeof(p) - 1;
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	pss.ulParameterLen = sizeof(p);
	p.hashAlg = CKM_SHA384; /* must be the mechanism's hash */
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	p.hashAlg = CKM_SHA256;
	p.mgf = 0x77;
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	p.mgf = CKG_MGF1_SHA256;
	p.sLen = FAKE_RSA_SIG_LEN; /* longer than the modulus allows */
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	p.sLen = 32;
	CK_MECHANISM with_params = {CKM_SHA256_RSA_PKCS, &p, sizeof(p)};
	ck_assert_int_eq(C_SignInit(sess, &with_params, H_RSA_PRIV), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OPERATION_ACTIVE);
	/* login is needed (and shared: another session is logged in too) */
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &other),
			 CKR_OK);
	ck_assert_int_eq(C_SignInit(other, &ec_mech, H_EC_PRIV), CKR_OK);
	ck_assert_int_eq(C_Logout(sess), CKR_OK);
	CK_BYTE sig[64];
	CK_ULONG sig_len = sizeof(sig);
	ck_assert_int_eq(C_Sign(other, (CK_BYTE_PTR) "x", 1, sig, &sig_len),
			 CKR_OPERATION_NOT_INITIALIZED); /* logout ended it */
	ck_assert_int_eq(C_SignInit(other, &ec_mech, H_EC_PRIV), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

START_TEST(test_length_query_and_too_small_keep_the_operation)
{
	CK_BYTE data[] = "tbs", sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = 0;

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, data, 3, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, FAKE_RSA_SIG_LEN);
	len = 10;
	ck_assert_int_eq(C_Sign(sess, data, 3, sig, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, FAKE_RSA_SIG_LEN);
	ck_assert_int_eq(signs(), 0); /* nothing was asked of the enclave */
	ck_assert_int_eq(C_Sign(sess, data, 3, sig, &len), CKR_OK);
	ck_assert_int_eq(signs(), 1);
	expect_sig(data, 3, sig, len, FAKE_RSA_SIG_LEN);
	ck_assert_uint_eq(fake.last_mechanism, CKM_SHA256_RSA_PKCS);
	ck_assert_uint_eq(fake.last_key_id, FAKE_RSA_KEY_ID);
	/* the operation ended */
	ck_assert_int_eq(C_Sign(sess, data, 3, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* the same through C_SignFinal */
	ck_assert_int_eq(C_SignInit(sess, &ec_mech, H_EC_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, data, 3), CKR_OK);
	len = 0;
	ck_assert_int_eq(C_SignFinal(sess, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, FAKE_EC_SIG_LEN);
	len = 63;
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, FAKE_EC_SIG_LEN);
	len = sizeof(sig);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OK);
	ck_assert_int_eq(signs(), 2);
	expect_sig(data, 3, sig, len, FAKE_EC_SIG_LEN);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(test_multi_part_in_one_byte_pieces)
{
	CK_BYTE data[3000], sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);
	CK_RSA_PKCS_PSS_PARAMS p = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM pss = {CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p)};

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (CK_BYTE)(i * 7);
	ck_assert_int_eq(C_SignInit(sess, &pss, H_RSA_PRIV), CKR_OK);
	for (size_t i = 0; i < sizeof(data); i++)
		ck_assert_int_eq(C_SignUpdate(sess, &data[i], 1), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, NULL, 0), CKR_OK);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OK);
	expect_sig(data, sizeof(data), sig, len, FAKE_RSA_SIG_LEN);
	ck_assert_uint_eq(fake.last_data_len, sizeof(data));
	ck_assert(memcmp(fake.last_data, data, sizeof(data)) == 0);
	ck_assert_uint_eq(fake.last_param_kind, WIRE_PK_PSS);
	/* no update at all signs empty data */
	ck_assert_int_eq(C_SignInit(sess, &ec_mech, H_EC_PRIV), CKR_OK);
	len = sizeof(sig);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OK);
	ck_assert_uint_eq(fake.last_data_len, 0);
}
END_TEST

START_TEST(test_one_shot_and_multi_part_do_not_mix)
{
	CK_BYTE sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, (CK_BYTE_PTR) "ab", 2), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "ab", 2, sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "ab", 2, NULL, &len), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, (CK_BYTE_PTR) "ab", 2), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "ab", 2, sig, &len),
			 CKR_OPERATION_NOT_INITIALIZED);

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "ab", 2, NULL, &len), CKR_OK);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(signs(), 0);
}
END_TEST

START_TEST(test_argument_errors_end_the_operation)
{
	CK_BYTE sig[FAKE_RSA_SIG_LEN];

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "ab", 2, sig, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, NULL, 5), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_SignUpdate(sess, (CK_BYTE_PTR) "a", 1), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignFinal(sess, sig, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SessionCancel(sess, CKF_SIGN), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, (CK_BYTE_PTR) "a", 1), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(signs(), 0);
}
END_TEST

START_TEST(test_data_bound)
{
	size_t max = 1024;
	CK_BYTE *big = calloc(1, max + 1), sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	/* a fresh connection brings a HELLO with the smaller bound */
	CK_TOKEN_INFO ti;
	fake.max_data = max;
	fake_restart();
	ck_assert_int_eq(C_GetTokenInfo(WP11_SLOT_ID, &ti), CKR_OK); /* reconnects: logged out */
	ck_assert_int_eq(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)FAKE_PIN, 4), CKR_OK);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, big, max + 1, NULL, &len), CKR_DATA_LEN_RANGE);
	ck_assert_int_eq(C_Sign(sess, big, 1, NULL, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, big, max), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, big, 1), CKR_DATA_LEN_RANGE);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	len = sizeof(sig);
	ck_assert_int_eq(C_Sign(sess, big, max, sig, &len), CKR_OK);
	ck_assert_uint_eq(fake.last_data_len, max);
	ck_assert_int_eq(signs(), 1);
	free(big);
}
END_TEST

START_TEST(test_large_data_in_chunks)
{
	size_t total = 3u * 1024 * 1024 + 17, chunk = 1025;
	CK_BYTE *data = malloc(total), sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	for (size_t i = 0; i < total; i++)
		data[i] = (CK_BYTE)(i ^ (i >> 9));
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		ck_assert_int_eq(C_SignUpdate(sess, data + off, n), CKR_OK);
	}
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_OK);
	expect_sig(data, total, sig, len, FAKE_RSA_SIG_LEN);
	free(data);
}
END_TEST

START_TEST(test_refusal_is_function_rejected_and_ends_the_operation)
{
	CK_BYTE sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	fake.sign_status = WARDEN_E_DENIED;
	strcpy(fake.sign_message, "issuer name does not match the CA");
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_FUNCTION_REJECTED);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len),
			 CKR_OPERATION_NOT_INITIALIZED);
	/* pkcs11-tool then retries multi-part: a fresh operation, refused again */
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_SignUpdate(sess, (CK_BYTE_PTR) "x", 1), CKR_OK);
	ck_assert_int_eq(C_SignFinal(sess, sig, &len), CKR_FUNCTION_REJECTED);
	ck_assert_int_eq(signs(), 2);
	fake.sign_status = WARDEN_E_DATA_INVALID;
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_DATA_INVALID);
}
END_TEST

START_TEST(test_lost_connection_is_device_error_then_reconnects)
{
	CK_BYTE sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	fake.drop_next_sign = 1;
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_DEVICE_ERROR);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	len = sizeof(sig);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_OK);
}
END_TEST

START_TEST(test_restarted_enclave_forgets_the_login)
{
	CK_BYTE sig[FAKE_RSA_SIG_LEN];
	CK_ULONG len = sizeof(sig);
	CK_SESSION_INFO si;

	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	fake_restart();
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(C_GetSessionInfo(sess, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_int_eq(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)FAKE_PIN, 4), CKR_OK);
	ck_assert_int_eq(C_SignInit(sess, &rsa_mech, H_RSA_PRIV), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_OK);
}
END_TEST

START_TEST(test_sign_with_a_copy_of_the_key)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}};
	CK_OBJECT_HANDLE copy;
	CK_BYTE sig[FAKE_EC_SIG_LEN];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(C_CopyObject(sess, H_EC_PRIV, tmpl, 1, &copy), CKR_OK);
	ck_assert_int_eq(C_SignInit(sess, &ec_mech, copy), CKR_OK);
	ck_assert_int_eq(C_Sign(sess, (CK_BYTE_PTR) "tbs", 3, sig, &len), CKR_OK);
	ck_assert_uint_eq(fake.last_key_id, FAKE_EC_KEY_ID);
	ck_assert_int_eq(C_DestroyObject(sess, copy), CKR_OK);
	ck_assert_int_eq(C_SignInit(sess, &ec_mech, copy), CKR_KEY_HANDLE_INVALID);
}
END_TEST

static void *signer(void *arg)
{
	(void)arg;
	CK_SESSION_HANDLE h;
	long bad = 0;
	if (C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
		return (void *)1;
	for (int i = 0; i < SIGNS_PER_THREAD; i++) {
		CK_BYTE data[32], sig[FAKE_EC_SIG_LEN], want[FAKE_EC_SIG_LEN];
		CK_ULONG len = sizeof(sig);
		memset(data, i, sizeof(data));
		if (C_SignInit(h, &ec_mech, H_EC_PRIV) != CKR_OK ||
		    C_Sign(h, data, sizeof(data), sig, &len) != CKR_OK) {
			bad++;
			continue;
		}
		fake_signature(data, sizeof(data), FAKE_EC_SIG_LEN, want);
		if (len != FAKE_EC_SIG_LEN || memcmp(sig, want, len) != 0)
			bad++;
	}
	C_CloseSession(h);
	return (void *)bad;
}

START_TEST(test_many_threads_sign_at_once)
{
	pthread_t t[NUM_THREADS];
	for (int i = 0; i < NUM_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, NULL), 0);
	for (int i = 0; i < NUM_THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		ck_assert_ptr_null(r);
	}
	ck_assert_int_eq(signs(), NUM_THREADS * SIGNS_PER_THREAD);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("module_sign");
	TCase *tc = tcase_create("sign");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mechanism_list_is_the_union_of_the_keys);
	tcase_add_test(tc, test_mechanism_info_is_set_not_ored);
	tcase_add_test(tc, test_sign_init_checks);
	tcase_add_test(tc, test_length_query_and_too_small_keep_the_operation);
	tcase_add_test(tc, test_multi_part_in_one_byte_pieces);
	tcase_add_test(tc, test_one_shot_and_multi_part_do_not_mix);
	tcase_add_test(tc, test_argument_errors_end_the_operation);
	tcase_add_test(tc, test_data_bound);
	tcase_add_test(tc, test_large_data_in_chunks);
	tcase_add_test(tc, test_refusal_is_function_rejected_and_ends_the_operation);
	tcase_add_test(tc, test_lost_connection_is_device_error_then_reconnects);
	tcase_add_test(tc, test_restarted_enclave_forgets_the_login);
	tcase_add_test(tc, test_sign_with_a_copy_of_the_key);
	tcase_add_test(tc, test_many_threads_sign_at_once);
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
