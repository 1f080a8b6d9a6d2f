/*
 * test_object.c - C_GetAttributeValue conventions on the signing key and C_FindObjects.
 */
#include "p11c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOGUS_ATTR ((CK_ATTRIBUTE_TYPE)0x8abcdef0UL)
#define BOGUS_OBJECT ((CK_OBJECT_HANDLE)0x7ffffff3UL)
#define NO_SUCH_LABEL "p11c: no object has this label"

/* A public attribute of the private key that is never empty. */
static CK_ATTRIBUTE_TYPE public_attr(const struct p11c_key *k)
{
	return k->key_type == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS;
}

static CK_ATTRIBUTE_TYPE sensitive_attr(const struct p11c_key *k)
{
	return k->key_type == CKK_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE;
}

START_TEST(attr_length_query)
{
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ATTRIBUTE a[3] = {
		{ CKA_CLASS, NULL, 0 }, { CKA_KEY_TYPE, NULL, 0 }, { CKA_ID, NULL, 0 },
	};

	P11C_KEY_SETUP(&s, &k);
	a[2].type = public_attr(&k);
	ck_ok(p11c.fl->C_GetAttributeValue(s, k.priv, a, 3));
	ck_assert_uint_eq(a[0].ulValueLen, sizeof(CK_OBJECT_CLASS));
	ck_assert_uint_eq(a[1].ulValueLen, sizeof(CK_KEY_TYPE));
	ck_assert_msg(a[2].ulValueLen > 0 && a[2].ulValueLen != CK_UNAVAILABLE_INFORMATION,
		"public attribute length %lu", (unsigned long)a[2].ulValueLen);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(attr_buffer_too_small)
{
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_OBJECT_CLASS cls = 0;
	CK_ATTRIBUTE a[2] = { { 0, NULL, 0 }, { CKA_CLASS, &cls, sizeof(cls) } };
	unsigned char *buf;

	P11C_KEY_SETUP(&s, &k);
	a[0].type = public_attr(&k);
	ck_ok(p11c.fl->C_GetAttributeValue(s, k.priv, a, 1));
	ck_assert_uint_gt(a[0].ulValueLen, 1);
	buf = malloc(a[0].ulValueLen);
	ck_assert_ptr_nonnull(buf);
	a[0].pValue = buf;
	a[0].ulValueLen -= 1;
	ck_rv(p11c.fl->C_GetAttributeValue(s, k.priv, a, 2), CKR_BUFFER_TOO_SMALL);
	ck_assert_msg(a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
		"too-small entry's ulValueLen %lu, expected CK_UNAVAILABLE_INFORMATION",
		(unsigned long)a[0].ulValueLen);
	ck_assert_msg(a[1].ulValueLen == sizeof(cls) && cls == CKO_PRIVATE_KEY,
		"the other entry was not filled (len %lu class %lu)",
		(unsigned long)a[1].ulValueLen, (unsigned long)cls);
	free(buf);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(attr_type_invalid)
{
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_OBJECT_CLASS cls = 0;
	CK_KEY_TYPE kt = 0xffff;
	unsigned char junk[16];
	CK_ATTRIBUTE a[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ BOGUS_ATTR, junk, sizeof(junk) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
	};

	P11C_KEY_SETUP(&s, &k);
	ck_rv(p11c.fl->C_GetAttributeValue(s, k.priv, a, 3), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_msg(a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION,
		"invalid entry's ulValueLen %lu", (unsigned long)a[1].ulValueLen);
	ck_assert_msg(a[0].ulValueLen == sizeof(cls) && cls == CKO_PRIVATE_KEY,
		"CKA_CLASS before the invalid entry not filled");
	ck_assert_msg(a[2].ulValueLen == sizeof(kt) && kt == k.key_type,
		"CKA_KEY_TYPE after the invalid entry not filled");
	/* Same for a length query. */
	a[1].pValue = NULL;
	a[1].ulValueLen = 0;
	ck_rv(p11c.fl->C_GetAttributeValue(s, k.priv, &a[1], 1), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(a[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(attr_sensitive)
{
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_OBJECT_CLASS cls = 0;
	unsigned char buf[P11C_MAX_ATTR_LEN];
	CK_ATTRIBUTE a[2] = { { 0, buf, sizeof(buf) }, { CKA_CLASS, &cls, sizeof(cls) } };

	P11C_KEY_SETUP(&s, &k);
	a[0].type = sensitive_attr(&k);
	ck_rv(p11c.fl->C_GetAttributeValue(s, k.priv, a, 2), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_msg(a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
		"sensitive entry's ulValueLen %lu", (unsigned long)a[0].ulValueLen);
	ck_assert_msg(a[1].ulValueLen == sizeof(cls) && cls == CKO_PRIVATE_KEY,
		"the other entry was not filled");
	/* A length query of a sensitive attribute says the same. */
	a[0].pValue = NULL;
	a[0].ulValueLen = 0;
	ck_rv(p11c.fl->C_GetAttributeValue(s, k.priv, a, 1), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(private_key_sensitive_not_extractable)
{
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, sign = CK_FALSE, priv = CK_FALSE;
	CK_ATTRIBUTE a[4] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_PRIVATE, &priv, sizeof(priv) },
	};

	P11C_KEY_SETUP(&s, &k);
	ck_ok(p11c.fl->C_GetAttributeValue(s, k.priv, a, 4));
	ck_assert_msg(sens == CK_TRUE, "CKA_SENSITIVE is false");
	ck_assert_msg(extr == CK_FALSE, "CKA_EXTRACTABLE is true");
	ck_assert_msg(sign == CK_TRUE, "CKA_SIGN is false");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(attr_object_handle_invalid)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_GetAttributeValue(s, BOGUS_OBJECT, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_rv(p11c.fl->C_GetAttributeValue(s, CK_INVALID_HANDLE, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	p11c_finalize();
}
END_TEST

static bool contains(const CK_OBJECT_HANDLE *h, CK_ULONG n, CK_OBJECT_HANDLE x)
{
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (h[i] == x)
			return true;
	return false;
}

START_TEST(find_empty_template_finds_all)
{
	static CK_OBJECT_HANDLE all[P11C_MAX_OBJECTS], cls_h[P11C_MAX_OBJECTS];
	static const CK_OBJECT_CLASS classes[] = {
		CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY,
	};
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG n, m, i, j, sum = 0;

	P11C_KEY_SETUP(&s, &k);
	n = p11c_find(s, NULL, 0, all, P11C_MAX_OBJECTS);
	ck_assert_msg(contains(all, n, k.priv), "empty template misses the private key");
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		CK_OBJECT_CLASS c = classes[i];
		CK_ATTRIBUTE t = { CKA_CLASS, &c, sizeof(c) };

		m = p11c_find(s, &t, 1, cls_h, P11C_MAX_OBJECTS);
		for (j = 0; j < m; j++)
			ck_assert_msg(contains(all, n, cls_h[j]),
				"object %lu of class %lu missing from the empty-template search",
				(unsigned long)cls_h[j], (unsigned long)c);
		sum += m;
	}
	ck_assert_msg(sum <= n, "class searches found %lu objects, empty template %lu",
		(unsigned long)sum, (unsigned long)n);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(find_by_class)
{
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_OBJECT_CLASS c = CKO_PRIVATE_KEY, got;
	CK_ATTRIBUTE t = { CKA_CLASS, &c, sizeof(c) };
	CK_ATTRIBUTE r = { CKA_CLASS, &got, sizeof(got) };
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG n, i;

	P11C_KEY_SETUP(&s, &k);
	n = p11c_find(s, &t, 1, h, P11C_MAX_OBJECTS);
	ck_assert(contains(h, n, k.priv));
	for (i = 0; i < n; i++) {
		ck_ok(p11c.fl->C_GetAttributeValue(s, h[i], &r, 1));
		ck_assert_uint_eq(got, CKO_PRIVATE_KEY);
	}
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(find_by_label)
{
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_ATTRIBUTE t = { CKA_LABEL, NULL, 0 };
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG n, i, len;
	unsigned char *lab;

	P11C_KEY_SETUP(&s, &k);
	if (k.label[0] == '\0') {
		p11c_key_clear(&k);
		P11C_SKIP("the key has an empty label");
	}
	t.pValue = k.label;
	t.ulValueLen = strlen(k.label);
	n = p11c_find(s, &t, 1, h, P11C_MAX_OBJECTS);
	ck_assert(contains(h, n, k.priv));
	for (i = 0; i < n; i++) {
		ck_ok(p11c_attr(s, h[i], CKA_LABEL, &lab, &len));
		ck_assert_msg(len == t.ulValueLen && memcmp(lab, k.label, len) == 0,
			"object %lu found by label has another label", (unsigned long)h[i]);
		free(lab);
	}
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(find_by_id)
{
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_ATTRIBUTE t = { CKA_ID, NULL, 0 };
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG n, i, len;
	unsigned char *id;

	P11C_KEY_SETUP(&s, &k);
	if (k.id_len == 0) {
		p11c_key_clear(&k);
		P11C_SKIP("the key has an empty CKA_ID");
	}
	t.pValue = k.id;
	t.ulValueLen = k.id_len;
	n = p11c_find(s, &t, 1, h, P11C_MAX_OBJECTS);
	ck_assert(contains(h, n, k.priv));
	for (i = 0; i < n; i++) {
		ck_ok(p11c_attr(s, h[i], CKA_ID, &id, &len));
		ck_assert_msg(len == k.id_len && memcmp(id, k.id, len) == 0,
			"object %lu found by id has another CKA_ID", (unsigned long)h[i]);
		free(id);
	}
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(find_no_match)
{
	CK_OBJECT_HANDLE h[4];
	CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = 0x7fffff00UL;
	CK_ATTRIBUTE lab = { CKA_LABEL, (void *)NO_SUCH_LABEL, sizeof(NO_SUCH_LABEL) - 1 };
	CK_ATTRIBUTE two[2] = { { CKA_CLASS, &c, sizeof(c) }, { CKA_KEY_TYPE, &kt, sizeof(kt) } };
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	if (p11c_has_pin())
		p11c_login(s);
	ck_assert_uint_eq(p11c_find(s, &lab, 1, h, 4), 0);
	ck_assert_uint_eq(p11c_find(s, two, 2, h, 4), 0);
	p11c_finalize();
}
END_TEST

START_TEST(find_unknown_attribute_type)
{
	/* No object has an unknown attribute: nothing matches, or the template is refused. */
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 0;
	unsigned char v[4] = { 1, 2, 3, 4 };
	CK_ATTRIBUTE t = { BOGUS_ATTR, v, sizeof(v) };
	CK_SESSION_HANDLE s;
	CK_RV rv;

	p11c_init();
	s = p11c_open(false);
	rv = p11c.fl->C_FindObjectsInit(s, &t, 1);
	ck_assert_msg(rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID,
		"C_FindObjectsInit(unknown attribute) returned %s", p11c_rv_name(rv));
	if (rv == CKR_OK) {
		ck_ok(p11c.fl->C_FindObjects(s, h, 4, &n));
		ck_assert_uint_eq(n, 0);
		ck_ok(p11c.fl->C_FindObjectsFinal(s));
	}
	p11c_finalize();
}
END_TEST

START_TEST(find_private_invisible_before_login)
{
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = { CKA_CLASS, &c, sizeof(c) };
	CK_BBOOL priv = CK_FALSE;
	CK_ATTRIBUTE pa = { CKA_PRIVATE, &priv, sizeof(priv) };
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	CK_ULONG n;

	P11C_KEY_SETUP(&s, &k);
	ck_ok(p11c.fl->C_GetAttributeValue(s, k.priv, &pa, 1));
	if (priv != CK_TRUE) {
		p11c_key_clear(&k);
		P11C_SKIP("the key has CKA_PRIVATE false");
	}
	ck_ok(p11c.fl->C_Logout(s));
	n = p11c_find(s, &t, 1, h, P11C_MAX_OBJECTS);
	ck_assert_msg(!contains(h, n, k.priv), "private key found by class before login");
	n = p11c_find(s, NULL, 0, h, P11C_MAX_OBJECTS);
	ck_assert_msg(!contains(h, n, k.priv), "private key found by empty template before login");
	p11c_login(s);
	/* Found again, by CKA_ID: 2.40 §5.6 C_Logout makes the application's handles to
	 * private objects invalid, even after a later login. */
	{
		CK_ATTRIBUTE byid[2] = { { CKA_CLASS, &c, sizeof(c) }, { CKA_ID, k.id, k.id_len } };

		n = p11c_find(s, byid, 2, h, P11C_MAX_OBJECTS);
		ck_assert_msg(n >= 1, "private key not found by CKA_ID after login");
	}
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(find_without_init)
{
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	ck_rv(p11c.fl->C_FindObjects(s, h, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_rv(p11c.fl->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	/* And after a finished search. */
	ck_assert_uint_le(p11c_find(s, NULL, 0, h, 4), 4);
	ck_rv(p11c.fl->C_FindObjects(s, h, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	p11c_finalize();
}
END_TEST

START_TEST(find_init_twice)
{
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s;

	p11c_init();
	s = p11c_open(false);
	ck_ok(p11c.fl->C_FindObjectsInit(s, NULL, 0));
	ck_rv(p11c.fl->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
	/* The first search is still usable. */
	ck_ok(p11c.fl->C_FindObjects(s, h, P11C_MAX_OBJECTS, &n));
	ck_ok(p11c.fl->C_FindObjectsFinal(s));
	p11c_finalize();
}
END_TEST

START_TEST(find_pages_of_one)
{
	static CK_OBJECT_HANDLE all[P11C_MAX_OBJECTS], paged[P11C_MAX_OBJECTS];
	CK_SESSION_HANDLE s;
	CK_ULONG n, m = 0, got, i;

	p11c_init();
	s = p11c_open(false);
	if (p11c_has_pin())
		p11c_login(s);
	n = p11c_find(s, NULL, 0, all, P11C_MAX_OBJECTS);
	if (n == P11C_MAX_OBJECTS) {
		p11c_finalize();
		P11C_SKIP("%d or more objects on the token", P11C_MAX_OBJECTS);
	}
	ck_ok(p11c.fl->C_FindObjectsInit(s, NULL, 0));
	for (;;) {
		got = 99;
		ck_ok(p11c.fl->C_FindObjects(s, &paged[m], 1, &got));
		ck_assert_msg(got <= 1, "C_FindObjects(max 1) returned %lu", (unsigned long)got);
		if (got == 0)
			break;
		ck_assert_msg(!contains(paged, m, paged[m]), "object %lu returned twice",
			(unsigned long)paged[m]);
		m++;
		ck_assert_uint_le(m, n);
	}
	ck_ok(p11c.fl->C_FindObjectsFinal(s));
	ck_assert_uint_eq(m, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(contains(paged, m, all[i]), "object %lu missing when paging",
			(unsigned long)all[i]);
	p11c_finalize();
}
END_TEST

void p11c_add_object_tests(Suite *s)
{
	P11C_ADD(s, attr_length_query);
	P11C_ADD(s, attr_buffer_too_small);
	P11C_ADD(s, attr_type_invalid);
	P11C_ADD(s, attr_sensitive);
	P11C_ADD(s, private_key_sensitive_not_extractable);
	P11C_ADD(s, attr_object_handle_invalid);
	P11C_ADD(s, find_empty_template_finds_all);
	P11C_ADD(s, find_by_class);
	P11C_ADD(s, find_by_label);
	P11C_ADD(s, find_by_id);
	P11C_ADD(s, find_no_match);
	P11C_ADD(s, find_unknown_attribute_type);
	P11C_ADD(s, find_private_invisible_before_login);
	P11C_ADD(s, find_without_init);
	P11C_ADD(s, find_init_twice);
	P11C_ADD(s, find_pages_of_one);
}
