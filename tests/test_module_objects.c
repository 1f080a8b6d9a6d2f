/*
 * test_module_objects.c - libwarden-pkcs11: object visibility, C_GetAttributeValue
 * conventions, C_FindObjects templates, the C_CopyObject alias and what may be destroyed.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "test_module_fake.h"
#include "wp11.h"

#define H_RSA_PRIV 1
#define H_RSA_PUB 2
#define H_RSA_CERT 3
#define H_EC_PRIV 5
#define H_EC_PUB 6

static CK_SESSION_HANDLE sess;

static void setup(void)
{
	fake_start();
	ck_assert_int_eq(C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
				       NULL, &sess),
			 CKR_OK);
}

static void teardown(void)
{
	(void)C_Finalize(NULL);
	fake_stop();
}

static void do_login(void)
{
	ck_assert_int_eq(C_Login(sess, CKU_USER, (CK_UTF8CHAR_PTR)FAKE_PIN, strlen(FAKE_PIN)),
			 CKR_OK);
}

/* Runs a find with the template; returns the count, handles in out. */
static CK_ULONG find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ULONG count = 0;
	ck_assert_int_eq(C_FindObjectsInit(sess, tmpl, n), CKR_OK);
	ck_assert_int_eq(C_FindObjects(sess, out, max, &count), CKR_OK);
	ck_assert_int_eq(C_FindObjectsFinal(sess), CKR_OK);
	return count;
}

START_TEST(test_private_objects_visible_only_after_login)
{
	CK_OBJECT_HANDLE h[16];
	CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};

	ck_assert_uint_eq(find(NULL, 0, h, 16), 3);
	ck_assert_uint_eq(h[0], H_RSA_PUB);
	ck_assert_uint_eq(h[1], H_RSA_CERT);
	ck_assert_uint_eq(h[2], H_EC_PUB);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	do_login();
	ck_assert_uint_eq(find(NULL, 0, h, 16), 5);
	ck_assert_uint_eq(h[0], H_RSA_PRIV);
	ck_assert_uint_eq(h[3], H_EC_PRIV);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, &a, 1), CKR_OK);
	ck_assert_uint_eq(a.ulValueLen, 2);
	ck_assert_int_eq(C_GetAttributeValue(sess, 4, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, 7, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, 0, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, 4000, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess + 9, H_RSA_PUB, &a, 1),
			 CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PUB, NULL, 1), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(test_attribute_conventions)
{
	CK_BYTE label[8], small[1], modulus[512];
	CK_ATTRIBUTE t[5] = {
		{CKA_LABEL, label, sizeof(label)},
		{CKA_MODULUS, NULL, 0},
		{CKA_WRAP_TEMPLATE, label, sizeof(label)}, /* not an attribute of this object */
		{CKA_PUBLIC_EXPONENT, small, sizeof(small)},
		{CKA_PRIVATE_EXPONENT, modulus, sizeof(modulus)},
	};

	do_login();
	/* all three kinds of trouble in one template: every attribute is still processed */
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, t, 5), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, 2);
	ck_assert(memcmp(label, "ca", 2) == 0);
	ck_assert_uint_eq(t[1].ulValueLen, FAKE_RSA_SIG_LEN);
	ck_assert_uint_eq(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_uint_eq(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_uint_eq(t[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* without the sensitive one: type invalid wins over buffer too small */
	t[3].ulValueLen = sizeof(small);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, t, 4), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	t[3].ulValueLen = sizeof(small);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, &t[3], 1), CKR_BUFFER_TOO_SMALL);
	CK_ATTRIBUTE v = {CKA_VALUE, NULL, 0};
	ck_assert_int_eq(C_GetAttributeValue(sess, H_EC_PRIV, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* but a certificate's CKA_VALUE is just its DER */
	CK_BYTE der[64];
	CK_ATTRIBUTE cv = {CKA_VALUE, der, sizeof(der)};
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_CERT, &cv, 1), CKR_OK);
	ck_assert_uint_eq(cv.ulValueLen, strlen(FAKE_CERT_VALUE));
	ck_assert(memcmp(der, FAKE_CERT_VALUE, cv.ulValueLen) == 0);
	/* exact size is fine */
	CK_BYTE e[3];
	CK_ATTRIBUTE ea = {CKA_PUBLIC_EXPONENT, e, 3};
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PUB, &ea, 1), CKR_OK);
	ck_assert_uint_eq(ea.ulValueLen, 3);
}
END_TEST

START_TEST(test_native_ulong_bool_and_mechanism_arrays)
{
	CK_OBJECT_CLASS klass = 0;
	CK_KEY_TYPE kt = 0;
	CK_BBOOL sign = 0, token = 0, priv = 0, extractable = 1;
	CK_MECHANISM_TYPE mechs[8];
	CK_ATTRIBUTE t[] = {
		{CKA_CLASS, &klass, sizeof(klass)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_SIGN, &sign, sizeof(sign)},
		{CKA_TOKEN, &token, sizeof(token)},
		{CKA_PRIVATE, &priv, sizeof(priv)},
		{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
		{CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs)},
	};

	do_login();
	ck_assert_int_eq(C_GetAttributeValue(sess, H_RSA_PRIV, t, 7), CKR_OK);
	ck_assert_uint_eq(klass, CKO_PRIVATE_KEY);
	ck_assert_uint_eq(kt, CKK_RSA);
	ck_assert_uint_eq(t[0].ulValueLen, sizeof(CK_ULONG));
	ck_assert_uint_eq(sign, CK_TRUE);
	ck_assert_uint_eq(t[2].ulValueLen, sizeof(CK_BBOOL));
	ck_assert_uint_eq(token, CK_TRUE);
	ck_assert_uint_eq(priv, CK_TRUE);
	ck_assert_uint_eq(extractable, CK_FALSE);
	ck_assert_uint_eq(t[6].ulValueLen, 3 * sizeof(CK_MECHANISM_TYPE));
	ck_assert_uint_eq(mechs[0], CKM_SHA256_RSA_PKCS);
	ck_assert_uint_eq(mechs[2], CKM_RSA_PKCS);
	/* what the enclave left out of the EC key, the module fills in */
	t[6].ulValueLen = sizeof(mechs);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_EC_PRIV, t, 5), CKR_OK);
	ck_assert_uint_eq(klass, CKO_PRIVATE_KEY);
	ck_assert_uint_eq(kt, CKK_EC);
	ck_assert_uint_eq(token, CK_TRUE);
	ck_assert_uint_eq(priv, CK_TRUE);
	ck_assert_int_eq(C_GetAttributeValue(sess, H_EC_PRIV, &t[6], 1), CKR_OK);
	ck_assert_uint_eq(t[6].ulValueLen, 2 * sizeof(CK_MECHANISM_TYPE));
	ck_assert_uint_eq(mechs[0], CKM_ECDSA_SHA256);
	/* public objects are not private */
	ck_assert_int_eq(C_GetAttributeValue(sess, H_EC_PUB, &t[4], 1), CKR_OK);
	ck_assert_uint_eq(priv, CK_FALSE);
}
END_TEST

START_TEST(test_find_matches_templates)
{
	CK_OBJECT_HANDLE h[16];
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY, cert = CKO_CERTIFICATE, pub = CKO_PUBLIC_KEY;
	CK_BYTE rsa_id[] = {0xca, 0xfe, 0x01};
	CK_KEY_TYPE ec = CKK_EC;
	CK_BBOOL yes = CK_TRUE;
	int wrong_size = CKO_PRIVATE_KEY;

	do_login();
	CK_ATTRIBUTE by_class[] = {{CKA_CLASS, &priv, sizeof(priv)}};
	ck_assert_uint_eq(find(by_class, 1, h, 16), 2);
	ck_assert_uint_eq(h[0], H_RSA_PRIV);
	ck_assert_uint_eq(h[1], H_EC_PRIV);
	CK_ATTRIBUTE by_label[] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_LABEL, "ca", 2}};
	ck_assert_uint_eq(find(by_label, 2, h, 16), 1);
	ck_assert_uint_eq(h[0], H_RSA_PRIV);
	CK_ATTRIBUTE by_id[] = {{CKA_ID, rsa_id, sizeof(rsa_id)}};
	ck_assert_uint_eq(find(by_id, 1, h, 16), 3);
	CK_ATTRIBUTE cert_by_id[] = {{CKA_CLASS, &cert, sizeof(cert)}, {CKA_ID, rsa_id, 3}};
	ck_assert_uint_eq(find(cert_by_id, 2, h, 16), 1);
	ck_assert_uint_eq(h[0], H_RSA_CERT);
	CK_ATTRIBUTE by_value[] = {{CKA_VALUE, FAKE_CERT_VALUE, strlen(FAKE_CERT_VALUE)}};
	ck_assert_uint_eq(find(by_value, 1, h, 16), 1);
	CK_ATTRIBUTE ec_pub[] = {{CKA_CLASS, &pub, sizeof(pub)}, {CKA_KEY_TYPE, &ec, sizeof(ec)}};
	ck_assert_uint_eq(find(ec_pub, 2, h, 16), 1);
	ck_assert_uint_eq(h[0], H_EC_PUB);
	CK_ATTRIBUTE signers[] = {{CKA_SIGN, &yes, sizeof(yes)}};
	ck_assert_uint_eq(find(signers, 1, h, 16), 2);
	CK_ATTRIBUTE nss_trust[] = {{CKA_CLASS, &(CK_OBJECT_CLASS){0xCE534353UL} /* CKO_NSS_TRUST */,
				     sizeof(CK_OBJECT_CLASS)}};
	ck_assert_uint_eq(find(nss_trust, 1, h, 16), 0);
	CK_ATTRIBUTE short_class[] = {{CKA_CLASS, &wrong_size, sizeof(wrong_size)}};
	ck_assert_uint_eq(find(short_class, 1, h, 16), 0);
	CK_ATTRIBUTE unknown[] = {{CKA_WRAP_TEMPLATE, "x", 1}};
	ck_assert_uint_eq(find(unknown, 1, h, 16), 0);

	/* one at a time */
	CK_ULONG n;
	ck_assert_int_eq(C_FindObjectsInit(sess, NULL, 0), CKR_OK);
	ck_assert_int_eq(C_FindObjectsInit(sess, NULL, 0), CKR_OPERATION_ACTIVE);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(C_FindObjects(sess, h, 1, &n), CKR_OK);
		ck_assert_uint_eq(n, 1);
	}
	ck_assert_int_eq(C_FindObjects(sess, h, 1, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(C_FindObjects(sess, h, 1, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_FindObjectsFinal(sess), CKR_OK);
	ck_assert_int_eq(C_FindObjectsFinal(sess), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_FindObjects(sess, h, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(C_FindObjectsInit(sess, NULL, 2), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(test_find_drops_private_objects_after_logout)
{
	CK_OBJECT_HANDLE h[16];
	CK_ULONG n;

	do_login();
	ck_assert_int_eq(C_FindObjectsInit(sess, NULL, 0), CKR_OK);
	ck_assert_int_eq(C_Logout(sess), CKR_OK);
	ck_assert_int_eq(C_FindObjects(sess, h, 16, &n), CKR_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(C_FindObjectsFinal(sess), CKR_OK);
}
END_TEST

START_TEST(test_copy_object_aliases_the_key)
{
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE, token = 1;
	CK_OBJECT_HANDLE copy, copy2, h[16];
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}, {CKA_LABEL, "ca", 2}};
	CK_BYTE id[8];
	CK_ATTRIBUTE read[] = {{CKA_TOKEN, &token, sizeof(token)}, {CKA_ID, id, sizeof(id)}};

	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, tmpl, 1, &copy), CKR_OBJECT_HANDLE_INVALID);
	do_login();
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, tmpl, 2, &copy), CKR_OK);
	ck_assert_uint_ge(copy, WP11_COPY_HANDLE_BASE);
	ck_assert_int_eq(C_GetAttributeValue(sess, copy, read, 2), CKR_OK);
	ck_assert_uint_eq(token, CK_FALSE);
	ck_assert_uint_eq(read[1].ulValueLen, 3);
	/* the copy is found like any object */
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE session_objs[] = {{CKA_TOKEN, &f, sizeof(f)}};
	ck_assert_uint_eq(find(session_objs, 1, h, 16), 1);
	ck_assert_uint_eq(h[0], copy);
	ck_assert_uint_eq(find(NULL, 0, h, 16), 6);

	/* anything else is refused */
	CK_ATTRIBUTE relabel[] = {{CKA_TOKEN, &no, sizeof(no)}, {CKA_LABEL, "xx", 2}};
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, relabel, 2, &copy2),
			 CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE to_token[] = {{CKA_TOKEN, &yes, sizeof(yes)}};
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, to_token, 1, &copy2),
			 CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, NULL, 0, &copy2),
			 CKR_TEMPLATE_INCONSISTENT);
	CK_ATTRIBUTE unknown[] = {{CKA_TOKEN, &no, sizeof(no)}, {CKA_WRAP_TEMPLATE, "x", 1}};
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, unknown, 2, &copy2),
			 CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PUB, tmpl, 1, &copy2), CKR_ACTION_PROHIBITED);
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_CERT, tmpl, 1, &copy2), CKR_ACTION_PROHIBITED);
	ck_assert_int_eq(C_CopyObject(sess, H_RSA_PRIV, tmpl, 1, NULL), CKR_ARGUMENTS_BAD);

	/* destroy: copies only */
	ck_assert_int_eq(C_DestroyObject(sess, H_RSA_PRIV), CKR_ACTION_PROHIBITED);
	ck_assert_int_eq(C_DestroyObject(sess, H_RSA_CERT), CKR_ACTION_PROHIBITED);
	ck_assert_int_eq(C_DestroyObject(sess, 99), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_DestroyObject(sess, copy), CKR_OK);
	ck_assert_int_eq(C_DestroyObject(sess, copy), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, copy, read, 1), CKR_OBJECT_HANDLE_INVALID);
}
END_TEST

START_TEST(test_copies_go_with_their_session_and_the_login)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}};
	CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};
	CK_OBJECT_HANDLE c1, c2;
	CK_SESSION_HANDLE other;

	do_login();
	ck_assert_int_eq(C_OpenSession(WP11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &other),
			 CKR_OK);
	ck_assert_int_eq(C_CopyObject(other, H_EC_PRIV, tmpl, 1, &c1), CKR_OK);
	ck_assert_int_eq(C_CopyObject(sess, H_EC_PRIV, tmpl, 1, &c2), CKR_OK);
	ck_assert_uint_ne(c1, c2);
	/* session objects are visible from every session of the application */
	ck_assert_int_eq(C_GetAttributeValue(sess, c1, &a, 1), CKR_OK);
	ck_assert_int_eq(C_CloseSession(other), CKR_OK);
	ck_assert_int_eq(C_GetAttributeValue(sess, c1, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetAttributeValue(sess, c2, &a, 1), CKR_OK);
	ck_assert_int_eq(C_Logout(sess), CKR_OK);
	do_login();
	ck_assert_int_eq(C_GetAttributeValue(sess, c2, &a, 1), CKR_OBJECT_HANDLE_INVALID);
}
END_TEST

START_TEST(test_object_size_and_set_attribute)
{
	CK_ULONG size = 0;
	CK_ATTRIBUTE a = {CKA_LABEL, "new", 3};

	ck_assert_int_eq(C_GetObjectSize(sess, H_RSA_CERT, &size), CKR_OK);
	ck_assert_uint_gt(size, strlen(FAKE_CERT_VALUE));
	ck_assert_int_eq(C_GetObjectSize(sess, H_RSA_PRIV, &size), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(C_GetObjectSize(sess, H_RSA_CERT, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_SetAttributeValue(sess, H_RSA_CERT, &a, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(C_SetAttributeValue(sess, 99, &a, 1), CKR_OBJECT_HANDLE_INVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("module_objects");
	TCase *tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_private_objects_visible_only_after_login);
	tcase_add_test(tc, test_attribute_conventions);
	tcase_add_test(tc, test_native_ulong_bool_and_mechanism_arrays);
	tcase_add_test(tc, test_find_matches_templates);
	tcase_add_test(tc, test_find_drops_private_objects_after_logout);
	tcase_add_test(tc, test_copy_object_aliases_the_key);
	tcase_add_test(tc, test_copies_go_with_their_session_and_the_login);
	tcase_add_test(tc, test_object_size_and_set_attribute);
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
