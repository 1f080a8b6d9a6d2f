/*
 * p11c_util.c - shared helpers of the conformance suite: sessions, login, object search,
 * the signing key and its public key, and OpenSSL verification of signatures.
 */
#include "p11c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

struct p11c_config p11c;

const struct p11c_mech p11c_mechs[P11C_NUM_MECHS] = {
	{ CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", CKK_RSA, NID_sha256, false, false, true },
	{ CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", CKK_RSA, NID_sha384, false, false, true },
	{ CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", CKK_RSA, NID_sha512, false, false, true },
	{ CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS", CKK_RSA, NID_sha256, true, false, true },
	{ CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS", CKK_RSA, NID_sha384, true, false, true },
	{ CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS", CKK_RSA, NID_sha512, true, false, true },
	{ CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", CKK_EC, NID_sha256, false, false, true },
	{ CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", CKK_EC, NID_sha384, false, false, true },
	{ CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", CKK_EC, NID_sha512, false, false, true },
	{ CKM_ECDSA, "CKM_ECDSA", CKK_EC, NID_undef, false, true, false },
	{ CKM_RSA_PKCS, "CKM_RSA_PKCS", CKK_RSA, NID_undef, false, true, false },
	{ CKM_EDDSA, "CKM_EDDSA", CKK_EC_EDWARDS, NID_undef, false, false, false },
};
const size_t p11c_num_mechs = sizeof(p11c_mechs) / sizeof(p11c_mechs[0]);
_Static_assert(sizeof(p11c_mechs) / sizeof(p11c_mechs[0]) == P11C_NUM_MECHS, "mechanism table");

/* DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1). */
static const unsigned char sha256_digestinfo_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};
#define P11C_SHA256_LEN 32
_Static_assert(sizeof(sha256_digestinfo_prefix) == 19, "DigestInfo prefix");

#define P11C_RV(x) { x, #x }
static const struct { CK_RV rv; const char *name; } rv_names[] = {
#include "p11c_rv.inc"
};

const char *p11c_rv_name(CK_RV rv)
{
	static __thread char buf[32];
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(buf, sizeof(buf), "0x%08lx", (unsigned long)rv);
	return buf;
}

const char *p11c_test_name(const char *func, char *buf, size_t len)
{
	size_t n = strlen(func);

	if (n > 3 && strcmp(func + n - 3, "_fn") == 0)
		n -= 3;
	if (n >= len)
		n = len - 1;
	memcpy(buf, func, n);
	buf[n] = '\0';
	return buf;
}

void p11c_skip_record(const char *test, const char *fmt, ...)
{
	char path[4096], why[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p11c.skip_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", p11c.skip_dir, test);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fputs(why, f);
	fclose(f);
}

void p11c_init(void)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };

	ck_ok(p11c.fl->C_Initialize(&args));
}

void p11c_finalize(void)
{
	ck_ok(p11c.fl->C_Finalize(NULL));
}

CK_SLOT_ID p11c_slot(void)
{
	CK_SLOT_ID slots[P11C_MAX_SLOTS];
	CK_ULONG n = P11C_MAX_SLOTS;

	if (p11c.slot_set)
		return p11c.slot;
	ck_ok(p11c.fl->C_GetSlotList(CK_TRUE, slots, &n));
	ck_assert_msg(n > 0, "no slot with a token (set P11C_SLOT)");
	return slots[0];
}

CK_SESSION_HANDLE p11c_open(bool rw)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_FLAGS fl = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);

	ck_ok(p11c.fl->C_OpenSession(p11c_slot(), fl, NULL, NULL, &s));
	ck_assert_msg(s != CK_INVALID_HANDLE, "C_OpenSession returned CK_INVALID_HANDLE");
	return s;
}

bool p11c_has_pin(void)
{
	return p11c.pin != NULL;
}

void p11c_login(CK_SESSION_HANDLE s)
{
	ck_assert_msg(p11c.pin != NULL, "P11C_PIN not set");
	ck_ok(p11c.fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin)));
}

CK_ULONG p11c_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
	CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ULONG got = 0;

	ck_ok(p11c.fl->C_FindObjectsInit(s, tmpl, n));
	ck_ok(p11c.fl->C_FindObjects(s, out, max, &got));
	ck_assert_msg(got <= max, "C_FindObjects returned %lu > max %lu",
		(unsigned long)got, (unsigned long)max);
	ck_ok(p11c.fl->C_FindObjectsFinal(s));
	return got;
}

CK_RV p11c_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
	unsigned char **out, CK_ULONG *out_len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	unsigned char *buf = NULL;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	rv = p11c.fl->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK)
		goto out;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > P11C_MAX_ATTR_LEN) {
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	buf = malloc(a.ulValueLen + 1);
	ck_assert_ptr_nonnull(buf);
	a.pValue = buf;
	rv = p11c.fl->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK)
		goto out;
	*out = buf;
	*out_len = a.ulValueLen;
	buf = NULL;
out:
	free(buf);
	return rv;
}

static EVP_PKEY *pkey_from_spki(const unsigned char *der, CK_ULONG len)
{
	const unsigned char *p = der;
	EVP_PKEY *k;

	if (len == 0)
		return NULL;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (k != NULL && p != der + len) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return k;
}

static EVP_PKEY *pkey_rsa(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	unsigned char *n = NULL, *e = NULL;
	CK_ULONG n_len, e_len;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *k = NULL;

	if (p11c_attr(s, o, CKA_MODULUS, &n, &n_len) != CKR_OK ||
	    p11c_attr(s, o, CKA_PUBLIC_EXPONENT, &e, &e_len) != CKR_OK)
		goto out;
	bn = BN_bin2bn(n, (int)n_len, NULL);
	be = BN_bin2bn(e, (int)e_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn == NULL || be == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	k = pkey_from_params("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return k;
}

/* CKA_EC_POINT is a DER OCTET STRING (2.40); some tokens return the raw point. */
static void ec_point_unwrap(const unsigned char **pt, CK_ULONG *len)
{
	const unsigned char *p = *pt;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)*len);

	if (os != NULL && p == *pt + *len) {
		*pt = *pt + (*len - (CK_ULONG)ASN1_STRING_length(os));
		*len = (CK_ULONG)ASN1_STRING_length(os);
	}
	ASN1_OCTET_STRING_free(os);
}

static EVP_PKEY *pkey_ec(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_KEY_TYPE kt)
{
	unsigned char *params = NULL, *point = NULL;
	CK_ULONG params_len, point_len;
	const unsigned char *p, *pt;
	ASN1_OBJECT *oid = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *k = NULL;
	const char *group;

	if (p11c_attr(s, o, CKA_EC_POINT, &point, &point_len) != CKR_OK)
		goto out;
	pt = point;
	ec_point_unwrap(&pt, &point_len);
	if (kt == CKK_EC_EDWARDS) {
		if (point_len == 32)
			k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, 32);
		else if (point_len == 57)
			k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, pt, 57);
		goto out;
	}
	if (p11c_attr(s, o, CKA_EC_PARAMS, &params, &params_len) != CKR_OK)
		goto out;
	p = params;
	oid = d2i_ASN1_OBJECT(NULL, &p, (long)params_len);
	if (oid == NULL || (group = OBJ_nid2sn(OBJ_obj2nid(oid))) == NULL)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, point_len))
		goto out;
	k = pkey_from_params("EC", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	ASN1_OBJECT_free(oid);
	free(params);
	free(point);
	return k;
}

/* Public key of the private key: CKA_PUBLIC_KEY_INFO on it, else the public-key object
 * with the same CKA_ID (PUBLIC_KEY_INFO, then MODULUS/EC_POINT), else the private key's
 * own MODULUS / EC_POINT. */
static EVP_PKEY *pkey_get(CK_SESSION_HANDLE s, struct p11c_key *k)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, k->id, k->id_len },
	};
	CK_OBJECT_HANDLE pub[2], cand[3];
	unsigned char *spki = NULL;
	CK_ULONG spki_len, num_cand = 0, i;
	EVP_PKEY *pk = NULL;

	cand[num_cand++] = k->priv;
	if (p11c_find(s, tmpl, 2, pub, 2) >= 1) {
		cand[num_cand++] = pub[0];
	}
	for (i = 0; i < num_cand && pk == NULL; i++) {
		if (p11c_attr(s, cand[i], CKA_PUBLIC_KEY_INFO, &spki, &spki_len) == CKR_OK)
			pk = pkey_from_spki(spki, spki_len);
		free(spki);
		spki = NULL;
	}
	for (i = num_cand; i > 0 && pk == NULL; i--) {
		if (k->key_type == CKK_RSA)
			pk = pkey_rsa(s, cand[i - 1]);
		else
			pk = pkey_ec(s, cand[i - 1], k->key_type);
	}
	return pk;
}

bool p11c_key_get(CK_SESSION_HANDLE s, struct p11c_key *k, const char **why)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ATTRIBUTE attrs[3];
	CK_OBJECT_HANDLE h[P11C_MAX_OBJECTS];
	CK_ULONG n = 1;

	memset(k, 0, sizeof(*k));
	if (p11c.key_label != NULL) {
		tmpl[1].type = CKA_LABEL;
		tmpl[1].pValue = (void *)p11c.key_label;
		tmpl[1].ulValueLen = strlen(p11c.key_label);
		n = 2;
	}
	if (p11c_find(s, tmpl, n, h, P11C_MAX_OBJECTS) == 0) {
		*why = p11c.key_label ? "no private key with label P11C_KEY_LABEL" :
					"no private key on the token";
		return false;
	}
	k->priv = h[0];
	attrs[0] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &k->key_type, sizeof(k->key_type) };
	attrs[1] = (CK_ATTRIBUTE){ CKA_ID, k->id, sizeof(k->id) };
	attrs[2] = (CK_ATTRIBUTE){ CKA_LABEL, k->label, sizeof(k->label) - 1 };
	ck_ok(p11c.fl->C_GetAttributeValue(s, k->priv, attrs, 3));
	k->id_len = attrs[1].ulValueLen;
	k->label[attrs[2].ulValueLen] = '\0';
	k->pkey = pkey_get(s, k);
	if (k->pkey == NULL) {
		*why = "cannot read the key's public key (PUBLIC_KEY_INFO, MODULUS or EC_POINT)";
		return false;
	}
	return true;
}

bool p11c_key_setup(const char *test, CK_SESSION_HANDLE *s, struct p11c_key *k)
{
	const char *why = NULL;

	memset(k, 0, sizeof(*k));
	if (!p11c_has_pin()) {
		p11c_skip_record(test, "P11C_PIN not set");
		return false;
	}
	p11c_init();
	*s = p11c_open(false);
	p11c_login(*s);
	if (!p11c_key_get(*s, k, &why)) {
		p11c_skip_record(test, "%s", why);
		return false;
	}
	return true;
}

void p11c_key_clear(struct p11c_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

bool p11c_mech_listed(CK_MECHANISM_TYPE m)
{
	static CK_MECHANISM_TYPE list[P11C_MAX_MECHS];
	static CK_ULONG n;
	static bool loaded;
	CK_ULONG i;

	if (!loaded) {
		n = P11C_MAX_MECHS;
		ck_ok(p11c.fl->C_GetMechanismList(p11c_slot(), list, &n));
		loaded = true;
	}
	for (i = 0; i < n; i++)
		if (list[i] == m)
			return true;
	return false;
}

const struct p11c_mech *p11c_mech_for_key(const struct p11c_key *k)
{
	size_t i;

	for (i = 0; i < p11c_num_mechs; i++)
		if (p11c_mechs[i].key_type == k->key_type && p11c_mech_listed(p11c_mechs[i].type))
			return &p11c_mechs[i];
	return NULL;
}

void p11c_mech_fill(const struct p11c_mech *m, CK_MECHANISM *mech, CK_RSA_PKCS_PSS_PARAMS *pss)
{
	mech->mechanism = m->type;
	mech->pParameter = NULL;
	mech->ulParameterLen = 0;
	if (!m->pss)
		return;
	switch (m->md_nid) {
	case NID_sha256: *pss = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA256, CKG_MGF1_SHA256, 32 }; break;
	case NID_sha384: *pss = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA384, CKG_MGF1_SHA384, 48 }; break;
	default:         *pss = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA512, CKG_MGF1_SHA512, 64 }; break;
	}
	mech->pParameter = pss;
	mech->ulParameterLen = sizeof(*pss);
}

void p11c_mech_input(const struct p11c_mech *m, const unsigned char **in, size_t *in_len,
	unsigned char *buf, size_t buf_len)
{
	unsigned int dl = 0;

	ck_assert(buf_len >= sizeof(sha256_digestinfo_prefix) + P11C_SHA256_LEN);
	if (!m->raw) {
		*in = p11c.data;
		*in_len = p11c.data_len;
		return;
	}
	if (m->type == CKM_RSA_PKCS) {
		memcpy(buf, sha256_digestinfo_prefix, sizeof(sha256_digestinfo_prefix));
		ck_assert(EVP_Digest(p11c.data, p11c.data_len, buf + sizeof(sha256_digestinfo_prefix),
			&dl, EVP_sha256(), NULL) == 1);
		*in_len = sizeof(sha256_digestinfo_prefix) + dl;
	} else {
		ck_assert(EVP_Digest(p11c.data, p11c.data_len, buf, &dl, EVP_sha256(), NULL) == 1);
		*in_len = dl;
	}
	*in = buf;
}

/* r||s (each half the length) to a DER ECDSA-Sig-Value; returns its length, 0 on error. */
static int ecdsa_der(const unsigned char *sig, size_t sig_len, unsigned char **der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r, *s;
	int len = 0;

	if (es == NULL || sig_len == 0 || sig_len % 2 != 0)
		goto out;
	r = BN_bin2bn(sig, (int)(sig_len / 2), NULL);
	s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	len = i2d_ECDSA_SIG(es, der);
	if (len < 0)
		len = 0;
out:
	ECDSA_SIG_free(es);
	return len;
}

const char *p11c_verify(const struct p11c_key *k, const struct p11c_mech *m,
	const unsigned char *sig, size_t sig_len)
{
	unsigned char inbuf[128], *der = NULL;
	const unsigned char *in, *vsig = sig;
	size_t in_len, vsig_len = sig_len;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	const char *err = NULL;
	int ok = 0;

	if (m->key_type == CKK_EC) {
		int dl = ecdsa_der(sig, sig_len, &der);

		if (dl == 0 || sig_len != 2 * (((size_t)EVP_PKEY_get_bits(k->pkey) + 7) / 8)) {
			err = "ECDSA signature is not r||s of the key's size";
			goto out;
		}
		vsig = der;
		vsig_len = (size_t)dl;
	}
	if (m->key_type == CKK_RSA && sig_len != (size_t)EVP_PKEY_get_size(k->pkey)) {
		err = "RSA signature length is not the modulus length";
		goto out;
	}
	if (m->md_nid != NID_undef)
		md = EVP_get_digestbynid(m->md_nid);
	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	if (m->raw) {
		pctx = EVP_PKEY_CTX_new(k->pkey, NULL);
		if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1 ||
		    (m->type == CKM_RSA_PKCS &&
		     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
			err = "OpenSSL verify set-up failed";
			goto out;
		}
		ok = EVP_PKEY_verify(pctx, vsig, vsig_len, in, in_len);
	} else {
		EVP_PKEY_CTX *vctx = NULL;

		mctx = EVP_MD_CTX_new();
		if (mctx == NULL || EVP_DigestVerifyInit(mctx, &vctx, md, NULL, k->pkey) != 1) {
			err = "OpenSSL verify set-up failed";
			goto out;
		}
		if (m->pss && (EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			       EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx, EVP_MD_get_size(md)) != 1 ||
			       EVP_PKEY_CTX_set_rsa_mgf1_md(vctx, md) != 1)) {
			err = "OpenSSL PSS set-up failed";
			goto out;
		}
		ok = EVP_DigestVerify(mctx, vsig, vsig_len, in, in_len);
	}
	if (ok != 1)
		err = "signature does not verify with OpenSSL";
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	OPENSSL_free(der);
	return err;
}

const char *p11c_padded_ok(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0')
			return "contains a NUL byte (must be blank-padded)";
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "contains a control character";
	}
	return NULL;
}
