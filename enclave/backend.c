/*
 * backend.c - the key backend over any PKCS#11 module.  See backend.h.
 *
 * Invariants:
 *  - ctx->login_session stays open for the life of the context, so the login state
 *    (shared by all sessions of this application) never lapses.
 *  - The idle pool holds sessions with no active operation.  A session whose sign
 *    failed is closed, never returned, so no half-finished operation is ever reused.
 *  - Object handles are found once (before the sandbox) and used from any session of
 *    the same application, which PKCS#11 allows for token and session objects.
 *  - A key is signed with through a session-object copy made in login_session when the
 *    backend allows it (sign_alias): same key, same attributes, still sensitive and
 *    never extractable, gone when login_session closes.
 */
#include "backend.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "wire.h"

/* Idle sessions kept for reuse; more may be open while many threads sign at once. */
#define BK_POOL_MAX 128u
#define BK_MAX_SLOTS 256u
#define BK_MAX_FOUND 16u
#define BK_MAX_ATTR_LEN 8192u
#define BK_TOKEN_LABEL_LEN 32u
#define BK_ED25519_LEN 32u

struct bk_ctx {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login_session;
	int initialized;
	pthread_mutex_t lock; /* guards idle[] and num_idle */
	CK_SESSION_HANDLE idle[BK_POOL_MAX];
	size_t num_idle;
};

struct bk_key {
	CK_OBJECT_HANDLE priv;
	/* What bk_sign_raw signs with: a session-object copy of priv (see sign_alias) or
	 * priv itself. */
	CK_OBJECT_HANDLE sign_with;
	CK_KEY_TYPE type;
	uint8_t *id;
	size_t id_len;
	uint8_t *ec_params;
	size_t ec_params_len;
	EVP_PKEY *pub;
	size_t sig_len;
	int always_sensitive;
	int never_extractable;
	int local;
};

static void errf(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* --- opening ------------------------------------------------------------------ */

static int label_matches(const CK_UTF8CHAR padded[BK_TOKEN_LABEL_LEN], const char *label)
{
	size_t n = strlen(label);
	if (n > BK_TOKEN_LABEL_LEN)
		return 0;
	if (memcmp(padded, label, n) != 0)
		return 0;
	for (size_t i = n; i < BK_TOKEN_LABEL_LEN; i++)
		if (padded[i] != ' ')
			return 0;
	return 1;
}

static int find_slot(struct bk_ctx *ctx, const char *label, char *err, size_t err_len)
{
	CK_SLOT_ID slots[BK_MAX_SLOTS];
	CK_ULONG n = BK_MAX_SLOTS;
	CK_RV rv = ctx->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		errf(err, err_len, "C_GetSlotList failed (0x%lx)", (unsigned long)rv);
		return WARDEN_E_BACKEND;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (ctx->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (label_matches(ti.label, label)) {
			ctx->slot = slots[i];
			return WARDEN_OK;
		}
	}
	errf(err, err_len, "no backend token labelled \"%s\"", label);
	return WARDEN_E_BACKEND;
}

int bk_open(const struct bk_config *cfg, struct bk_ctx **out, char *err, size_t err_len)
{
	struct bk_ctx *ctx = NULL;
	int ret = WARDEN_E_BACKEND;
	CK_RV rv;

	*out = NULL;
	if (cfg == NULL || cfg->module_path == NULL || cfg->token_label == NULL ||
	    cfg->pin == NULL) {
		errf(err, err_len, "backend configuration incomplete");
		return WARDEN_E_INTERNAL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		errf(err, err_len, "out of memory");
		return WARDEN_E_NOMEM;
	}
	ctx->login_session = CK_INVALID_HANDLE;
	if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
		free(ctx);
		errf(err, err_len, "mutex init failed");
		return WARDEN_E_INTERNAL;
	}
	ctx->dl = dlopen(cfg->module_path, RTLD_NOW | RTLD_LOCAL);
	if (ctx->dl == NULL) {
		errf(err, err_len, "cannot load backend module %s: %s", cfg->module_path,
		     dlerror());
		goto out;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(ctx->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&ctx->f) != CKR_OK || ctx->f == NULL) {
		errf(err, err_len, "%s has no usable C_GetFunctionList", cfg->module_path);
		goto out;
	}
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = ctx->f->C_Initialize(&args);
	if (rv != CKR_OK) {
		errf(err, err_len, "backend C_Initialize failed (0x%lx)", (unsigned long)rv);
		goto out;
	}
	ctx->initialized = 1;
	ret = find_slot(ctx, cfg->token_label, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_BACKEND;
	rv = ctx->f->C_OpenSession(ctx->slot, CKF_SERIAL_SESSION, NULL, NULL,
				   &ctx->login_session);
	if (rv != CKR_OK) {
		errf(err, err_len, "backend C_OpenSession failed (0x%lx)", (unsigned long)rv);
		goto out;
	}
	rv = ctx->f->C_Login(ctx->login_session, CKU_USER, (CK_UTF8CHAR_PTR)cfg->pin,
			     (CK_ULONG)strlen(cfg->pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		errf(err, err_len, "backend C_Login failed (0x%lx)%s", (unsigned long)rv,
		     rv == CKR_PIN_INCORRECT ? ": wrong backend PIN" : "");
		goto out;
	}
	ret = WARDEN_OK;
	*out = ctx;
	ctx = NULL;
out:
	bk_close(ctx);
	return ret;
}

void bk_close(struct bk_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->initialized) {
		for (size_t i = 0; i < ctx->num_idle; i++)
			ctx->f->C_CloseSession(ctx->idle[i]);
		if (ctx->login_session != CK_INVALID_HANDLE) {
			ctx->f->C_Logout(ctx->login_session);
			ctx->f->C_CloseSession(ctx->login_session);
		}
		ctx->f->C_Finalize(NULL);
	}
#ifndef WARDEN_SANITIZED
	/* Sanitized builds keep the module mapped so leak reports can name it. */
	if (ctx->dl != NULL)
		dlclose(ctx->dl);
#endif
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

/* --- attributes ---------------------------------------------------------------- */

/* Reads one variable-length attribute into a fresh buffer (NULL, 0 when empty). */
static int attr_get(struct bk_ctx *ctx, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
		    uint8_t **out, size_t *out_len)
{
	CK_ATTRIBUTE a = {t, NULL, 0};
	*out = NULL;
	*out_len = 0;
	if (ctx->f->C_GetAttributeValue(ctx->login_session, o, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > BK_MAX_ATTR_LEN)
		return -1;
	if (a.ulValueLen == 0)
		return 0;
	a.pValue = malloc(a.ulValueLen);
	if (a.pValue == NULL)
		return -1;
	if (ctx->f->C_GetAttributeValue(ctx->login_session, o, &a, 1) != CKR_OK) {
		free(a.pValue);
		return -1;
	}
	*out = a.pValue;
	*out_len = a.ulValueLen;
	return 0;
}

/* 1 true, 0 false, -1 unreadable. */
static int attr_bool(struct bk_ctx *ctx, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = {t, &v, sizeof(v)};
	if (ctx->f->C_GetAttributeValue(ctx->login_session, o, &a, 1) != CKR_OK)
		return -1;
	return v == CK_TRUE;
}

static int attr_ulong(struct bk_ctx *ctx, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
		      CK_ULONG *out)
{
	CK_ATTRIBUTE a = {t, out, sizeof(*out)};
	return ctx->f->C_GetAttributeValue(ctx->login_session, o, &a, 1) == CKR_OK ? 0 : -1;
}

/* Finds objects matching tmpl; returns the count (at most max), -1 on error. */
static int find_objects(struct bk_ctx *ctx, CK_ATTRIBUTE *tmpl, CK_ULONG n,
			CK_OBJECT_HANDLE *found, CK_ULONG max)
{
	CK_ULONG count = 0;
	if (ctx->f->C_FindObjectsInit(ctx->login_session, tmpl, n) != CKR_OK)
		return -1;
	CK_RV rv = ctx->f->C_FindObjects(ctx->login_session, found, max, &count);
	ctx->f->C_FindObjectsFinal(ctx->login_session);
	return rv == CKR_OK ? (int)count : -1;
}

/* --- public keys ------------------------------------------------------------------ */

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len)
{
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
	BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto out;
	pkey = pkey_from_params("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

/* The point inside a CKA_EC_POINT: a DER OCTET STRING, or (some tokens) the raw
 * point.  Returns a view into p. */
static const uint8_t *ec_point_unwrap(const uint8_t *p, size_t len, size_t *out_len)
{
	*out_len = 0;
	if (len >= 2 && p[0] == 0x04) {
		size_t hdr, n;
		if (p[1] < 0x80) {
			hdr = 2;
			n = p[1];
		} else if (p[1] == 0x81 && len >= 3 && p[2] >= 0x80) {
			hdr = 3;
			n = p[2];
		} else {
			n = 0;
			hdr = 0;
		}
		if (hdr != 0 && hdr + n == len) {
			*out_len = n;
			return p + hdr;
		}
	}
	*out_len = len; /* raw form */
	return p;
}

/* Curve of a CKA_EC_PARAMS: NID_X9_62_prime256v1, NID_secp384r1, NID_ED25519, or
 * NID_undef.  Edwards curves come as an OID or as PrintableString "edwards25519". */
static int ec_params_nid(const uint8_t *p, size_t len)
{
	static const uint8_t ed_str[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
					 's', '2', '5', '5', '1', '9'};
	if (len == sizeof(ed_str) && memcmp(p, ed_str, len) == 0)
		return NID_ED25519;
	const unsigned char *q = p;
	ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &q, (long)len);
	if (obj == NULL)
		return NID_undef;
	int nid = q == p + len ? OBJ_obj2nid(obj) : NID_undef;
	ASN1_OBJECT_free(obj);
	if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_ED25519)
		return nid;
	return NID_undef;
}

static EVP_PKEY *ec_public(int nid, const uint8_t *point, size_t point_len)
{
	if (nid == NID_ED25519) {
		if (point_len != BK_ED25519_LEN)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, point, point_len);
	}
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (bld != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    OBJ_nid2sn(nid), 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len))
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* Builds key->pub from object o (the public key or the private key itself). */
static int public_from_object(struct bk_ctx *ctx, struct bk_key *key, CK_OBJECT_HANDLE o)
{
	uint8_t *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	int ret = -1;

	if (key->type == CKK_RSA) {
		if (attr_get(ctx, o, CKA_MODULUS, &a, &a_len) != 0 ||
		    attr_get(ctx, o, CKA_PUBLIC_EXPONENT, &b, &b_len) != 0 || a_len == 0 ||
		    b_len == 0)
			goto out;
		key->pub = rsa_public(a, a_len, b, b_len);
	} else {
		int nid = ec_params_nid(key->ec_params, key->ec_params_len);
		size_t pt_len;
		if (nid == NID_undef || attr_get(ctx, o, CKA_EC_POINT, &a, &a_len) != 0 ||
		    a_len == 0)
			goto out;
		const uint8_t *pt = ec_point_unwrap(a, a_len, &pt_len);
		key->pub = ec_public(nid, pt, pt_len);
	}
	ret = key->pub != NULL ? 0 : -1;
out:
	free(a);
	free(b);
	return ret;
}

static int find_public(struct bk_ctx *ctx, struct bk_key *key, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_OBJECT_HANDLE found[BK_MAX_FOUND];
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &key->type, sizeof(key->type)},
		{CKA_ID, key->id, key->id_len},
	};
	/* By CKA_ID when the key has one, else by label. */
	if (key->id_len == 0) {
		tmpl[2].type = CKA_LABEL;
		tmpl[2].pValue = (void *)label;
		tmpl[2].ulValueLen = strlen(label);
	}
	int n = find_objects(ctx, tmpl, 3, found, BK_MAX_FOUND);
	for (int i = 0; i < n; i++)
		if (public_from_object(ctx, key, found[i]) == 0)
			return 0;
	/* RSA private keys carry the modulus and exponent themselves. */
	return public_from_object(ctx, key, key->priv);
}

/* SoftHSMv2 re-opens, locks and re-reads a token object's files on every C_SignInit
 * (openat 2, fcntl 6, read 2, close 2, newfstatat 2 per signature); a session object
 * lives in memory.  So the enclave signs with a session-object copy of the key
 * (C_CopyObject with CKA_TOKEN false, in login_session, which stays open for the life
 * of the context), as long as the copy is still sensitive, not extractable and can
 * sign.  A backend that refuses the copy (CKA_COPYABLE false, an HSM without session
 * key copies) is used through the token object, as before. */
static CK_OBJECT_HANDLE sign_alias(struct bk_ctx *ctx, CK_OBJECT_HANDLE priv)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}};
	CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;

	if (ctx->f->C_CopyObject(ctx->login_session, priv, tmpl, 1, &copy) != CKR_OK)
		return priv;
	if (attr_bool(ctx, copy, CKA_EXTRACTABLE) != 0 || attr_bool(ctx, copy, CKA_SENSITIVE) != 1 ||
	    attr_bool(ctx, copy, CKA_SIGN) != 1 || attr_bool(ctx, copy, CKA_TOKEN) != 0) {
		(void)ctx->f->C_DestroyObject(ctx->login_session, copy);
		return priv;
	}
	return copy;
}

int bk_key_find(struct bk_ctx *ctx, const char *label, struct bk_key **out, char *err,
		size_t err_len)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE found[2];
	/* Token objects only: the session copies sign_alias made are not keys of their own
	 * (a second lookup of the same label would otherwise find two). */
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_TOKEN, &yes, sizeof(yes)},
	};
	struct bk_key *key = NULL;
	int ret = WARDEN_E_BACKEND;

	*out = NULL;
	int n = find_objects(ctx, tmpl, 3, found, 2);
	if (n < 0) {
		errf(err, err_len, "searching the backend for key \"%s\" failed", label);
		goto out;
	}
	if (n != 1) {
		errf(err, err_len, n == 0 ? "no private key labelled \"%s\" in the backend"
					  : "more than one private key labelled \"%s\"",
		     label);
		goto out;
	}
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		ret = WARDEN_E_NOMEM;
		goto out;
	}
	key->priv = found[0];
	if (attr_bool(ctx, key->priv, CKA_EXTRACTABLE) != 0 ||
	    attr_bool(ctx, key->priv, CKA_SENSITIVE) != 1) {
		errf(err, err_len,
		     "key \"%s\" is extractable or not sensitive: refusing to serve it", label);
		goto out;
	}
	if (attr_bool(ctx, key->priv, CKA_SIGN) != 1) {
		errf(err, err_len, "key \"%s\" cannot sign (CKA_SIGN is false)", label);
		goto out;
	}
	key->always_sensitive = attr_bool(ctx, key->priv, CKA_ALWAYS_SENSITIVE) == 1;
	key->never_extractable = attr_bool(ctx, key->priv, CKA_NEVER_EXTRACTABLE) == 1;
	key->local = attr_bool(ctx, key->priv, CKA_LOCAL) == 1;
	if (attr_ulong(ctx, key->priv, CKA_KEY_TYPE, &key->type) != 0 ||
	    attr_get(ctx, key->priv, CKA_ID, &key->id, &key->id_len) != 0) {
		errf(err, err_len, "cannot read the attributes of key \"%s\"", label);
		goto out;
	}
	if (key->type == CKK_EC || key->type == CKK_EC_EDWARDS) {
		if (attr_get(ctx, key->priv, CKA_EC_PARAMS, &key->ec_params,
			     &key->ec_params_len) != 0 ||
		    ec_params_nid(key->ec_params, key->ec_params_len) == NID_undef) {
			errf(err, err_len, "key \"%s\": curve not supported (P-256, P-384, Ed25519)",
			     label);
			goto out;
		}
	} else if (key->type != CKK_RSA) {
		errf(err, err_len, "key \"%s\": key type 0x%lx not supported", label,
		     (unsigned long)key->type);
		goto out;
	}
	if (find_public(ctx, key, label) != 0) {
		errf(err, err_len, "key \"%s\": no public key could be built", label);
		goto out;
	}
	if (key->type == CKK_RSA)
		key->sig_len = (size_t)EVP_PKEY_get_size(key->pub);
	else if (key->type == CKK_EC_EDWARDS)
		key->sig_len = 2 * BK_ED25519_LEN;
	else
		key->sig_len = 2 * (size_t)((EVP_PKEY_get_bits(key->pub) + 7) / 8);
	if (key->sig_len == 0 || key->sig_len > WIRE_MAX_SIG) {
		errf(err, err_len, "key \"%s\": signature length out of range", label);
		goto out;
	}
	key->sign_with = sign_alias(ctx, key->priv);
	ret = WARDEN_OK;
	*out = key;
	key = NULL;
out:
	bk_key_free(key);
	return ret;
}

void bk_key_free(struct bk_key *key)
{
	if (key == NULL)
		return;
	free(key->id);
	free(key->ec_params);
	EVP_PKEY_free(key->pub);
	free(key);
}

EVP_PKEY *bk_key_public(const struct bk_key *key)
{
	return key->pub;
}

CK_KEY_TYPE bk_key_type(const struct bk_key *key)
{
	return key->type;
}

const uint8_t *bk_key_id(const struct bk_key *key, size_t *out_len)
{
	*out_len = key->id_len;
	return key->id;
}

const uint8_t *bk_key_ec_params(const struct bk_key *key, size_t *out_len)
{
	*out_len = key->ec_params_len;
	return key->ec_params;
}

size_t bk_key_sig_len(const struct bk_key *key)
{
	return key->sig_len;
}

int bk_key_curve_nid(const struct bk_key *key)
{
	if (key->type == CKK_RSA)
		return NID_undef;
	return ec_params_nid(key->ec_params, key->ec_params_len);
}

int bk_key_bool(const struct bk_key *key, CK_ATTRIBUTE_TYPE t)
{
	switch (t) {
	case CKA_ALWAYS_SENSITIVE:
		return key->always_sensitive;
	case CKA_NEVER_EXTRACTABLE:
		return key->never_extractable;
	case CKA_LOCAL:
		return key->local;
	default:
		return 0;
	}
}

/* --- signing ----------------------------------------------------------------------- */

static int session_take(struct bk_ctx *ctx, CK_SESSION_HANDLE *out)
{
	pthread_mutex_lock(&ctx->lock);
	if (ctx->num_idle > 0) {
		*out = ctx->idle[--ctx->num_idle];
		pthread_mutex_unlock(&ctx->lock);
		return 0;
	}
	pthread_mutex_unlock(&ctx->lock);
	return ctx->f->C_OpenSession(ctx->slot, CKF_SERIAL_SESSION, NULL, NULL, out) == CKR_OK
		       ? 0
		       : -1;
}

static void session_give(struct bk_ctx *ctx, CK_SESSION_HANDLE s, int healthy)
{
	if (healthy) {
		pthread_mutex_lock(&ctx->lock);
		if (ctx->num_idle < BK_POOL_MAX) {
			ctx->idle[ctx->num_idle++] = s;
			s = CK_INVALID_HANDLE;
		}
		pthread_mutex_unlock(&ctx->lock);
	}
	if (s != CK_INVALID_HANDLE)
		ctx->f->C_CloseSession(s);
}

int bk_sign_begin(struct bk_ctx *ctx, const struct bk_key *key, const CK_MECHANISM *mech,
		  struct bk_op *op)
{
	op->active = 0;
	if (session_take(ctx, &op->s) != 0)
		return WARDEN_E_BACKEND;
	if (ctx->f->C_SignInit(op->s, (CK_MECHANISM_PTR)mech, key->sign_with) != CKR_OK) {
		session_give(ctx, op->s, 1); /* no operation became active */
		return WARDEN_E_BACKEND;
	}
	op->active = 1;
	return WARDEN_OK;
}

void bk_sign_cancel(struct bk_ctx *ctx, struct bk_op *op)
{
	if (op->active)
		session_give(ctx, op->s, 0);
	op->active = 0;
}

int bk_sign_finish(struct bk_ctx *ctx, const struct bk_key *key, struct bk_op *op,
		   const uint8_t *in, size_t in_len, uint8_t *sig, size_t *sig_len)
{
	CK_ULONG out_len = *sig_len;
	CK_RV rv;

	if (!op->active || *sig_len < key->sig_len) {
		bk_sign_cancel(ctx, op);
		*sig_len = 0;
		return WARDEN_E_BACKEND;
	}
	rv = ctx->f->C_Sign(op->s, (CK_BYTE_PTR)in, (CK_ULONG)in_len, sig, &out_len);
	/* C_Sign ends the operation unless it asks for a bigger buffer (it cannot here). */
	session_give(ctx, op->s, rv == CKR_OK);
	op->active = 0;
	if (rv != CKR_OK || out_len > *sig_len) {
		memset(sig, 0, *sig_len);
		*sig_len = 0;
		return WARDEN_E_BACKEND;
	}
	*sig_len = out_len;
	return WARDEN_OK;
}

int bk_sign_raw(struct bk_ctx *ctx, const struct bk_key *key, const CK_MECHANISM *mech,
		const uint8_t *in, size_t in_len, uint8_t *sig, size_t *sig_len)
{
	struct bk_op op;

	if (*sig_len < key->sig_len) {
		*sig_len = 0;
		return WARDEN_E_BACKEND;
	}
	if (bk_sign_begin(ctx, key, mech, &op) != WARDEN_OK) {
		*sig_len = 0;
		return WARDEN_E_BACKEND;
	}
	return bk_sign_finish(ctx, key, &op, in, in_len, sig, sig_len);
}
