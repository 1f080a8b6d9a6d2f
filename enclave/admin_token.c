/*
 * admin_token.c - the key ceremony on the backend, through its PKCS#11 API: initialise a
 * free SoftHSM token, set its user PIN, generate the CA key pair inside it (sensitive,
 * never extractable) and give both halves CKA_ID = SHA-1 of the public key.
 *
 * The module is loaded, used and finalised here; the backend (backend.h) opens it again
 * afterwards for the signature, so the two never hold it initialised at the same time.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "admin.h"
#include "wire.h"

/* Upper bounds on what the module may hand back. */
#define TOK_MAX_SLOTS 1024u
#define TOK_MAX_ATTR_LEN 4096u

/* CKA_EC_PARAMS values: DER OIDs of the named curves. */
static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* PKCS#11 3.0 also allows the curve name as a PrintableString; older modules may only
 * know that form. */
static const CK_BYTE name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
					'2',  '5',  '5', '1', '9' };
static const CK_BYTE rsa_exponent[] = { 0x01, 0x00, 0x01 }; /* 65537 */

/*
 * The CA signature uses SHA-256 with every RSA size (SHA-256 matches RSA-3072's
 * strength and every verifier accepts it), SHA-256/SHA-384 with P-256/P-384, and
 * pure Ed25519.
 */
static const struct admin_key_spec key_specs[] = {
	{ "rsa2048", CKK_RSA, 2048, NULL, 0, CKM_SHA256_RSA_PKCS, NID_sha256WithRSAEncryption },
	{ "rsa3072", CKK_RSA, 3072, NULL, 0, CKM_SHA256_RSA_PKCS, NID_sha256WithRSAEncryption },
	{ "rsa4096", CKK_RSA, 4096, NULL, 0, CKM_SHA256_RSA_PKCS, NID_sha256WithRSAEncryption },
	{ "p256", CKK_EC, 0, "P-256", NID_X9_62_prime256v1, CKM_ECDSA_SHA256,
	  NID_ecdsa_with_SHA256 },
	{ "p384", CKK_EC, 0, "P-384", NID_secp384r1, CKM_ECDSA_SHA384, NID_ecdsa_with_SHA384 },
	{ "ed25519", CKK_EC_EDWARDS, 0, NULL, NID_ED25519, CKM_EDDSA, NID_ED25519 },
};
#define NUM_KEY_SPECS (sizeof(key_specs) / sizeof(key_specs[0]))

const struct admin_key_spec *admin_key_spec_find(const char *name)
{
	size_t i;

	for (i = 0; i < NUM_KEY_SPECS; i++)
		if (strcmp(key_specs[i].name, name) == 0)
			return &key_specs[i];
	return NULL;
}

const char *admin_key_spec_names(void)
{
	return "rsa2048|rsa3072|rsa4096|p256|p384|ed25519";
}

static const char *rv_str(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "CKR_OK";
	case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
	case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
	case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
	case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
	case CKR_CURVE_NOT_SUPPORTED: return "CKR_CURVE_NOT_SUPPORTED";
	case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
	case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
	case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
	case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
	case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
	default: return "CKR_?";
	}
}

struct tok {
	void *dl;
	CK_FUNCTION_LIST *f;
	int initialized;
	CK_SESSION_HANDLE session;
	int has_session;
	int logged_in;
};

static void tok_close(struct tok *t)
{
	if (t->logged_in)
		(void)t->f->C_Logout(t->session);
	if (t->has_session)
		(void)t->f->C_CloseSession(t->session);
	if (t->initialized)
		(void)t->f->C_Finalize(NULL);
	if (t->dl != NULL)
		dlclose(t->dl);
	memset(t, 0, sizeof(*t));
}

#define TOK_FAIL(fn, rv)                                                                  \
	do {                                                                              \
		snprintf(err, err_len, "backend %s failed: %s (0x%lx)", (fn), rv_str(rv), \
			 (unsigned long)(rv));                                            \
		ret = WARDEN_E_BACKEND;                                                   \
		goto out;                                                                 \
	} while (0)

__attribute__((warn_unused_result)) static int tok_load(struct tok *t, const char *module,
							char *err, size_t err_len)
{
	CK_C_GetFunctionList get_list;
	CK_RV rv;
	int ret = WARDEN_E_BACKEND;

	t->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (t->dl == NULL) {
		snprintf(err, err_len, "cannot load the backend module %s: %s", module,
			 dlerror());
		goto out;
	}
	*(void **)(&get_list) = dlsym(t->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		snprintf(err, err_len, "%s is not a PKCS#11 module", module);
		goto out;
	}
	rv = get_list(&t->f);
	if (rv != CKR_OK)
		TOK_FAIL("C_GetFunctionList", rv);
	rv = t->f->C_Initialize(NULL);
	if (rv != CKR_OK)
		TOK_FAIL("C_Initialize", rv);
	t->initialized = 1;
	ret = WARDEN_OK;
out:
	return ret;
}

/* 1 when a blank-padded PKCS#11 label equals s. */
static int label_eq(const CK_UTF8CHAR padded[ADMIN_TOKEN_LABEL_MAX], const char *s)
{
	size_t n = strlen(s), i;

	if (n > ADMIN_TOKEN_LABEL_MAX || memcmp(padded, s, n) != 0)
		return 0;
	for (i = n; i < ADMIN_TOKEN_LABEL_MAX; i++)
		if (padded[i] != ' ')
			return 0;
	return 1;
}

/*
 * Finds the slot whose token carries `label`, or with label NULL the first slot with a
 * token that is not initialised yet.  Sets *found to 0 or 1.
 */
__attribute__((warn_unused_result)) static int tok_find_slot(struct tok *t, const char *label,
							     CK_SLOT_ID *out, int *found,
							     char *err, size_t err_len)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int ret = WARDEN_E_BACKEND;

	*found = 0;
	rv = t->f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		TOK_FAIL("C_GetSlotList", rv);
	if (n > TOK_MAX_SLOTS) {
		snprintf(err, err_len, "the backend lists %lu slots", (unsigned long)n);
		goto out;
	}
	slots = calloc(n + 1, sizeof(*slots));
	if (slots == NULL) {
		snprintf(err, err_len, "out of memory");
		ret = WARDEN_E_NOMEM;
		goto out;
	}
	rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		TOK_FAIL("C_GetSlotList", rv);
	for (i = 0; i < n; i++) {
		rv = t->f->C_GetTokenInfo(slots[i], &ti);
		if (rv != CKR_OK)
			continue;
		if (label == NULL ? !(ti.flags & CKF_TOKEN_INITIALIZED)
				  : ((ti.flags & CKF_TOKEN_INITIALIZED) && label_eq(ti.label, label))) {
			*out = slots[i];
			*found = 1;
			break;
		}
	}
	ret = WARDEN_OK;
out:
	free(slots);
	return ret;
}

/* Reads one attribute of an object into a malloc'd buffer. */
__attribute__((warn_unused_result)) static int tok_attr_get(struct tok *t, CK_OBJECT_HANDLE obj,
							    CK_ATTRIBUTE_TYPE type,
							    uint8_t **out, size_t *out_len,
							    char *err, size_t err_len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	uint8_t *buf = NULL;
	CK_RV rv;
	int ret = WARDEN_E_BACKEND;

	*out = NULL;
	*out_len = 0;
	rv = t->f->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK)
		TOK_FAIL("C_GetAttributeValue", rv);
	if (a.ulValueLen == 0 || a.ulValueLen > TOK_MAX_ATTR_LEN) {
		snprintf(err, err_len, "the backend gave a public attribute of %lu bytes",
			 (unsigned long)a.ulValueLen);
		goto out;
	}
	buf = malloc(a.ulValueLen);
	if (buf == NULL) {
		snprintf(err, err_len, "out of memory");
		ret = WARDEN_E_NOMEM;
		goto out;
	}
	a.pValue = buf;
	rv = t->f->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK)
		TOK_FAIL("C_GetAttributeValue", rv);
	*out = buf;
	*out_len = a.ulValueLen;
	buf = NULL;
	ret = WARDEN_OK;
out:
	free(buf);
	return ret;
}

/*
 * CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40); some modules
 * give the bare point.  Accepts both, and gives a view of the point of `want` bytes.
 */
static int ec_point_unwrap(const uint8_t *p, size_t len, size_t want, const uint8_t **out)
{
	if (len == want + 2 && p[0] == 0x04 && p[1] == want && want < 0x80) {
		*out = p + 2;
		return 0;
	}
	if (len == want + 3 && p[0] == 0x04 && p[1] == 0x81 && p[2] == want && want >= 0x80) {
		*out = p + 3;
		return 0;
	}
	if (len == want) {
		*out = p;
		return 0;
	}
	return -1;
}

/* Builds the public key from the public object's attributes. */
__attribute__((warn_unused_result)) static int tok_public_key(struct tok *t,
							      const struct admin_key_spec *spec,
							      CK_OBJECT_HANDLE pub, EVP_PKEY **out,
							      char *err, size_t err_len)
{
	uint8_t *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0, want;
	const uint8_t *point;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int ret;

	*out = NULL;
	if (spec->key_type == CKK_RSA) {
		ret = tok_attr_get(t, pub, CKA_MODULUS, &a, &a_len, err, err_len);
		if (ret == WARDEN_OK)
			ret = tok_attr_get(t, pub, CKA_PUBLIC_EXPONENT, &b, &b_len, err, err_len);
		if (ret != WARDEN_OK)
			goto out;
	} else {
		ret = tok_attr_get(t, pub, CKA_EC_POINT, &a, &a_len, err, err_len);
		if (ret != WARDEN_OK)
			goto out;
	}
	ret = WARDEN_E_INTERNAL;
	if (spec->key_type == CKK_EC_EDWARDS) {
		if (ec_point_unwrap(a, a_len, 32, &point) != 0) {
			snprintf(err, err_len, "the backend gave a malformed Ed25519 point");
			goto out;
		}
		*out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, point, 32);
		if (*out == NULL) {
			snprintf(err, err_len, "OpenSSL refused the Ed25519 public key");
			goto out;
		}
		ret = WARDEN_OK;
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL)
		goto oom;
	if (spec->key_type == CKK_RSA) {
		n = BN_bin2bn(a, (int)a_len, NULL);
		e = BN_bin2bn(b, (int)b_len, NULL);
		if (n == NULL || e == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto oom;
	} else {
		want = spec->curve_nid == NID_secp384r1 ? 97 : 65;
		if (ec_point_unwrap(a, a_len, want, &point) != 0) {
			snprintf(err, err_len, "the backend gave a malformed EC point");
			goto out;
		}
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     spec->curve, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, want))
			goto oom;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, spec->key_type == CKK_RSA ? "RSA" : "EC", NULL);
	if (params == NULL || pctx == NULL)
		goto oom;
	if (EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		snprintf(err, err_len, "OpenSSL refused the backend's public key");
		goto out;
	}
	ret = WARDEN_OK;
	goto out;
oom:
	snprintf(err, err_len, "out of memory building the public key");
	ret = WARDEN_E_NOMEM;
out:
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pctx);
	free(a);
	free(b);
	return ret;
}

int admin_key_id(EVP_PKEY *pkey, uint8_t out[ADMIN_KEY_ID_LEN])
{
	X509_PUBKEY *xpk = NULL;
	const unsigned char *pk = NULL;
	int pk_len = 0;
	unsigned int md_len = 0;
	int ret = -1;

	if (!X509_PUBKEY_set(&xpk, pkey) ||
	    !X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, xpk) || pk_len <= 0)
		goto out;
	if (!EVP_Digest(pk, (size_t)pk_len, out, &md_len, EVP_sha1(), NULL) ||
	    md_len != ADMIN_KEY_ID_LEN)
		goto out;
	ret = 0;
out:
	X509_PUBKEY_free(xpk);
	return ret;
}

/* Generates the key pair in the logged-in RW session. */
__attribute__((warn_unused_result)) static int tok_generate(struct tok *t,
							    const struct admin_token_req *r,
							    CK_OBJECT_HANDLE *pub,
							    CK_OBJECT_HANDLE *priv, char *err,
							    size_t err_len)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = r->key->bits;
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	const CK_BYTE *params = NULL;
	CK_ULONG params_len = 0;
	CK_ULONG label_len = (CK_ULONG)strlen(r->key_label);
	CK_ATTRIBUTE pub_t[9], priv_t[10];
	CK_ULONG np = 0, nk = 0;
	CK_RV rv;
	int ret = WARDEN_E_BACKEND;

#define PUT(arr, n, ty, p, l) (arr[(n)++] = (CK_ATTRIBUTE){ (ty), (void *)(p), (l) })
	PUT(pub_t, np, CKA_TOKEN, &yes, sizeof(yes));
	PUT(pub_t, np, CKA_PRIVATE, &no, sizeof(no));
	PUT(pub_t, np, CKA_VERIFY, &yes, sizeof(yes));
	PUT(pub_t, np, CKA_ENCRYPT, &no, sizeof(no));
	PUT(pub_t, np, CKA_WRAP, &no, sizeof(no));
	PUT(pub_t, np, CKA_LABEL, r->key_label, label_len);
	PUT(priv_t, nk, CKA_TOKEN, &yes, sizeof(yes));
	PUT(priv_t, nk, CKA_PRIVATE, &yes, sizeof(yes));
	PUT(priv_t, nk, CKA_SENSITIVE, &yes, sizeof(yes));
	PUT(priv_t, nk, CKA_EXTRACTABLE, &no, sizeof(no));
	PUT(priv_t, nk, CKA_SIGN, &yes, sizeof(yes));
	PUT(priv_t, nk, CKA_DECRYPT, &no, sizeof(no));
	PUT(priv_t, nk, CKA_DERIVE, &no, sizeof(no));
	PUT(priv_t, nk, CKA_UNWRAP, &no, sizeof(no));
	PUT(priv_t, nk, CKA_LABEL, r->key_label, label_len);
	switch (r->key->key_type) {
	case CKK_RSA:
		PUT(pub_t, np, CKA_MODULUS_BITS, &bits, sizeof(bits));
		PUT(pub_t, np, CKA_PUBLIC_EXPONENT, rsa_exponent, sizeof(rsa_exponent));
		break;
	case CKK_EC:
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		params = r->key->curve_nid == NID_secp384r1 ? oid_p384 : oid_p256;
		params_len = r->key->curve_nid == NID_secp384r1 ? sizeof(oid_p384)
								 : sizeof(oid_p256);
		PUT(pub_t, np, CKA_EC_PARAMS, params, params_len);
		break;
	default:
		mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		PUT(pub_t, np, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519));
		break;
	}
#undef PUT
	_Static_assert(sizeof(pub_t) / sizeof(pub_t[0]) >= 8, "public template fits");
	_Static_assert(sizeof(priv_t) / sizeof(priv_t[0]) >= 9, "private template fits");

	rv = t->f->C_GenerateKeyPair(t->session, &mech, pub_t, np, priv_t, nk, pub, priv);
	if (rv != CKR_OK && r->key->key_type == CKK_EC_EDWARDS &&
	    (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_CURVE_NOT_SUPPORTED)) {
		/* A module that knows the curve only by name. */
		pub_t[np - 1].pValue = (void *)name_ed25519;
		pub_t[np - 1].ulValueLen = sizeof(name_ed25519);
		rv = t->f->C_GenerateKeyPair(t->session, &mech, pub_t, np, priv_t, nk, pub,
					     priv);
	}
	if (rv != CKR_OK)
		TOK_FAIL("C_GenerateKeyPair", rv);
	ret = WARDEN_OK;
out:
	return ret;
}

int admin_token_create(const struct admin_token_req *r, uint8_t out_id[ADMIN_KEY_ID_LEN],
		       char *err, size_t err_len)
{
	struct tok t;
	CK_SLOT_ID slot = 0;
	CK_UTF8CHAR label[ADMIN_TOKEN_LABEL_MAX];
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_ATTRIBUTE id_attr;
	EVP_PKEY *pkey = NULL;
	uint8_t id[ADMIN_KEY_ID_LEN];
	size_t n = strlen(r->token_label);
	int found = 0, ret;
	CK_RV rv;

	memset(&t, 0, sizeof(t));
	memset(out_id, 0, ADMIN_KEY_ID_LEN);
	if (n == 0 || n > ADMIN_TOKEN_LABEL_MAX) {
		snprintf(err, err_len, "the token label must be 1 to %u bytes",
			 ADMIN_TOKEN_LABEL_MAX);
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	ret = tok_load(&t, r->module, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = tok_find_slot(&t, r->token_label, &slot, &found, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	if (found) {
		snprintf(err, err_len, "the backend already has a token labelled \"%s\"",
			 r->token_label);
		ret = WARDEN_E_BACKEND;
		goto out;
	}
	ret = tok_find_slot(&t, NULL, &slot, &found, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_BACKEND;
	if (!found) {
		snprintf(err, err_len, "the backend has no free slot for a new token");
		goto out;
	}
	memset(label, ' ', sizeof(label));
	memcpy(label, r->token_label, n);
	rv = t.f->C_InitToken(slot, (CK_UTF8CHAR_PTR)r->so_pin, strlen(r->so_pin), label);
	if (rv != CKR_OK)
		TOK_FAIL("C_InitToken", rv);
	/* SoftHSM renumbers its slots after C_InitToken: find the token again. */
	ret = tok_find_slot(&t, r->token_label, &slot, &found, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_BACKEND;
	if (!found) {
		snprintf(err, err_len, "the new token \"%s\" cannot be found", r->token_label);
		goto out;
	}
	rv = t.f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				&t.session);
	if (rv != CKR_OK)
		TOK_FAIL("C_OpenSession", rv);
	t.has_session = 1;
	rv = t.f->C_Login(t.session, CKU_SO, (CK_UTF8CHAR_PTR)r->so_pin, strlen(r->so_pin));
	if (rv != CKR_OK)
		TOK_FAIL("C_Login(SO)", rv);
	t.logged_in = 1;
	rv = t.f->C_InitPIN(t.session, (CK_UTF8CHAR_PTR)r->user_pin, strlen(r->user_pin));
	if (rv != CKR_OK)
		TOK_FAIL("C_InitPIN", rv);
	rv = t.f->C_Logout(t.session);
	t.logged_in = 0;
	if (rv != CKR_OK)
		TOK_FAIL("C_Logout", rv);
	rv = t.f->C_Login(t.session, CKU_USER, (CK_UTF8CHAR_PTR)r->user_pin,
			  strlen(r->user_pin));
	if (rv != CKR_OK)
		TOK_FAIL("C_Login(user)", rv);
	t.logged_in = 1;

	ret = tok_generate(&t, r, &pub, &priv, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = tok_public_key(&t, r->key, pub, &pkey, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	if (admin_key_id(pkey, id) != 0) {
		snprintf(err, err_len, "cannot hash the public key");
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	id_attr = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
	rv = t.f->C_SetAttributeValue(t.session, priv, &id_attr, 1);
	if (rv != CKR_OK)
		TOK_FAIL("C_SetAttributeValue(private CKA_ID)", rv);
	rv = t.f->C_SetAttributeValue(t.session, pub, &id_attr, 1);
	if (rv != CKR_OK)
		TOK_FAIL("C_SetAttributeValue(public CKA_ID)", rv);
	memcpy(out_id, id, sizeof(id));
	ret = WARDEN_OK;
out:
	EVP_PKEY_free(pkey);
	tok_close(&t);
	return ret;
}
