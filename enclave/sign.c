/*
 * sign.c - one signature: check the request against the key, hash in the enclave,
 * sign raw through the backend, verify with OpenSSL.  See sign.h.
 *
 * The backend only ever sees raw mechanisms (CKM_RSA_PKCS on a DigestInfo,
 * CKM_RSA_PKCS_PSS on a digest, CKM_ECDSA on a digest, CKM_EDDSA on the message), so
 * any PKCS#11 backend that can sign raw works.
 */
#include "sign.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "wire.h"

#define SIGN_MAX_EC_FIELD 48u

enum sign_kind { SK_PKCS1, SK_PSS, SK_ECDSA, SK_EDDSA };
enum sign_hash { SH_NONE = -1, SH_SHA256 = 0, SH_SHA384 = 1, SH_SHA512 = 2, SH_NUM = 3 };

struct hash_info {
	CK_MECHANISM_TYPE ck; /* CKM_SHA256 ... */
	CK_RSA_PKCS_MGF_TYPE mgf;
	const char *name;
	size_t len;
	uint8_t prefix[SIGN_DIGESTINFO_PREFIX_LEN]; /* DER DigestInfo up to the digest */
};

static const struct hash_info hashes[SH_NUM] = {
	[SH_SHA256] = {CKM_SHA256, CKG_MGF1_SHA256, "SHA2-256", 32,
		       {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
			0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}},
	[SH_SHA384] = {CKM_SHA384, CKG_MGF1_SHA384, "SHA2-384", 48,
		       {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
			0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}},
	[SH_SHA512] = {CKM_SHA512, CKG_MGF1_SHA512, "SHA2-512", 64,
		       {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
			0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}},
};
_Static_assert(SIGN_MAX_DIGEST >= 64, "largest digest fits");

struct mech_info {
	CK_MECHANISM_TYPE mech;
	int raw;
	enum sign_kind kind;
	enum sign_hash hash; /* SH_NONE for raw mechanisms and EdDSA */
};

static const struct mech_info mechs[] = {
	{CKM_SHA256_RSA_PKCS, 0, SK_PKCS1, SH_SHA256},
	{CKM_SHA384_RSA_PKCS, 0, SK_PKCS1, SH_SHA384},
	{CKM_SHA512_RSA_PKCS, 0, SK_PKCS1, SH_SHA512},
	{CKM_SHA256_RSA_PKCS_PSS, 0, SK_PSS, SH_SHA256},
	{CKM_SHA384_RSA_PKCS_PSS, 0, SK_PSS, SH_SHA384},
	{CKM_SHA512_RSA_PKCS_PSS, 0, SK_PSS, SH_SHA512},
	{CKM_ECDSA_SHA256, 0, SK_ECDSA, SH_SHA256},
	{CKM_ECDSA_SHA384, 0, SK_ECDSA, SH_SHA384},
	{CKM_ECDSA_SHA512, 0, SK_ECDSA, SH_SHA512},
	{CKM_EDDSA, 0, SK_EDDSA, SH_NONE},
	{CKM_RSA_PKCS, 1, SK_PKCS1, SH_NONE},
	{CKM_RSA_PKCS_PSS, 1, SK_PSS, SH_NONE},
	{CKM_ECDSA, 1, SK_ECDSA, SH_NONE},
};

static EVP_MD *md[SH_NUM];

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

static const struct mech_info *mech_lookup(CK_MECHANISM_TYPE m)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == m)
			return &mechs[i];
	return NULL;
}

static enum sign_hash hash_by_ck(CK_MECHANISM_TYPE ck)
{
	for (int i = 0; i < SH_NUM; i++)
		if (hashes[i].ck == ck)
			return (enum sign_hash)i;
	return SH_NONE;
}

int sign_mech_is_raw(CK_MECHANISM_TYPE m)
{
	const struct mech_info *mi = mech_lookup(m);
	return mi != NULL && mi->raw;
}

int sign_mech_fits_key(CK_MECHANISM_TYPE m, const struct bk_key *key)
{
	const struct mech_info *mi = mech_lookup(m);
	if (mi == NULL)
		return 0;
	int nid = bk_key_curve_nid(key);
	switch (mi->kind) {
	case SK_PKCS1:
	case SK_PSS:
		return bk_key_type(key) == CKK_RSA;
	case SK_ECDSA:
		return bk_key_type(key) == CKK_EC &&
		       (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1);
	case SK_EDDSA:
		return bk_key_type(key) == CKK_EC_EDWARDS && nid == NID_ED25519;
	}
	return 0;
}

int sign_init(void)
{
	for (int i = 0; i < SH_NUM; i++) {
		if (md[i] != NULL)
			continue;
		md[i] = EVP_MD_fetch(NULL, hashes[i].name, NULL);
		if (md[i] == NULL)
			return WARDEN_E_INTERNAL;
	}
	return WARDEN_OK;
}

static int digest(enum sign_hash h, const uint8_t *data, size_t len, uint8_t *out)
{
	unsigned int n = 0;
	if (md[h] == NULL || EVP_Digest(data, len, out, &n, md[h], NULL) != 1 ||
	    n != hashes[h].len)
		return -1;
	return 0;
}

int sign_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	return digest(SH_SHA256, data, len, out) == 0 ? WARDEN_OK : WARDEN_E_INTERNAL;
}

/* --- verification ------------------------------------------------------------------ */

static EVP_PKEY_CTX *verify_ctx_new(EVP_PKEY *pub, const struct mech_info *mi,
				    enum sign_hash h, CK_ULONG salt_len)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (pctx == NULL || EVP_PKEY_verify_init(pctx) <= 0)
		goto bad;
	if (mi->kind == SK_PKCS1) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, md[h]) <= 0)
			goto bad;
	} else if (mi->kind == SK_PSS) {
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, md[h]) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md[h]) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt_len) <= 0)
			goto bad;
	}
	return pctx;
bad:
	EVP_PKEY_CTX_free(pctx);
	return NULL;
}

/* Each thread keeps the verification contexts it made, per (key, padding, hash, salt):
 * making one (provider lookup, init, parameters) costs about a third of an RSA-2048
 * verification, and EVP_PKEY_verify may be called again on a context whose parameters
 * stay the same.  A context holds a reference to its key.  sign_thread_end frees them. */
#define VERIFY_CACHE_SLOTS 4u
static _Thread_local struct verify_slot {
	const EVP_PKEY *pub;
	int kind, h;
	CK_ULONG salt_len;
	EVP_PKEY_CTX *ctx;
} tl_verify[VERIFY_CACHE_SLOTS];
static _Thread_local unsigned tl_verify_next;

void sign_thread_end(void)
{
	for (unsigned i = 0; i < VERIFY_CACHE_SLOTS; i++) {
		EVP_PKEY_CTX_free(tl_verify[i].ctx);
		memset(&tl_verify[i], 0, sizeof(tl_verify[i]));
	}
	tl_verify_next = 0;
}

static int verify_pkey(EVP_PKEY *pub, const struct mech_info *mi, enum sign_hash h,
		       CK_ULONG salt_len, const uint8_t *tbs, size_t tbs_len,
		       const uint8_t *sig, size_t sig_len)
{
	struct verify_slot *s = NULL;
	salt_len = mi->kind == SK_PSS ? salt_len : 0;
	for (unsigned i = 0; i < VERIFY_CACHE_SLOTS && s == NULL; i++)
		if (tl_verify[i].ctx != NULL && tl_verify[i].pub == pub &&
		    tl_verify[i].kind == (int)mi->kind && tl_verify[i].h == (int)h &&
		    tl_verify[i].salt_len == salt_len)
			s = &tl_verify[i];
	if (s == NULL) {
		EVP_PKEY_CTX *pctx = verify_ctx_new(pub, mi, h, salt_len);
		if (pctx == NULL)
			return 0;
		s = &tl_verify[tl_verify_next++ % VERIFY_CACHE_SLOTS];
		EVP_PKEY_CTX_free(s->ctx);
		*s = (struct verify_slot){pub, (int)mi->kind, (int)h, salt_len, pctx};
	}
	if (EVP_PKEY_verify(s->ctx, sig, sig_len, tbs, tbs_len) == 1)
		return 1;
	/* A failure is rare (a faulty backend): the next verification starts afresh. */
	EVP_PKEY_CTX_free(s->ctx);
	memset(s, 0, sizeof(*s));
	return 0;
}

/* r||s (each half the signature) -> DER ECDSA-Sig-Value, then verify on the digest. */
static int verify_ecdsa(EVP_PKEY *pub, const uint8_t *dgst, size_t dgst_len,
			const uint8_t *sig, size_t sig_len)
{
	static const struct mech_info ecdsa = {CKM_ECDSA, 1, SK_ECDSA, SH_NONE};
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(sig_len / 2), NULL);
	BIGNUM *s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL);
	unsigned char *der = NULL;
	int ok = 0;
	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	int der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len <= 0)
		goto out;
	ok = verify_pkey(pub, &ecdsa, SH_NONE, 0, dgst, dgst_len, der, (size_t)der_len);
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ok;
}

static int verify_eddsa(EVP_PKEY *pub, const uint8_t *msg, size_t msg_len,
			const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok = mctx != NULL &&
		 EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pub, NULL) == 1 &&
		 EVP_DigestVerify(mctx, sig, sig_len, msg, msg_len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* --- checks ------------------------------------------------------------------------- */

/* emLen - hLen - 2 for the key (RFC 8017 9.1.1), the largest PSS salt. */
static size_t pss_max_salt(const struct bk_key *key, enum sign_hash h)
{
	size_t bits = (size_t)EVP_PKEY_get_bits(bk_key_public(key));
	size_t em_len = (bits - 1 + 7) / 8;
	if (em_len < hashes[h].len + 2)
		return 0;
	return em_len - hashes[h].len - 2;
}

/* Resolves the PSS hash and checks the parameters.  For a combined mechanism the
 * hash is the mechanism's and the parameters must name it; for CKM_RSA_PKCS_PSS the
 * parameters choose it. */
static int check_pss(const struct bk_key *key, const struct mech_info *mi,
		     const struct sign_req *req, enum sign_hash *out_h, char *err,
		     size_t err_len)
{
	*out_h = SH_NONE;
	if (!req->has_pss) {
		errf(err, err_len, "RSA-PSS needs CK_RSA_PKCS_PSS_PARAMS");
		return WARDEN_E_MECH_PARAM;
	}
	enum sign_hash h = hash_by_ck(req->pss_hash_alg);
	if (h == SH_NONE || (mi->hash != SH_NONE && h != mi->hash)) {
		errf(err, err_len, "PSS hashAlg 0x%lx does not match the mechanism",
		     (unsigned long)req->pss_hash_alg);
		return WARDEN_E_MECH_PARAM;
	}
	if (req->pss_mgf != hashes[h].mgf) {
		errf(err, err_len, "PSS mgf 0x%lx must be MGF1 with the same hash",
		     (unsigned long)req->pss_mgf);
		return WARDEN_E_MECH_PARAM;
	}
	if (req->pss_salt_len > pss_max_salt(key, h)) {
		errf(err, err_len, "PSS salt length %lu too long for this key",
		     (unsigned long)req->pss_salt_len);
		return WARDEN_E_MECH_PARAM;
	}
	*out_h = h;
	return WARDEN_OK;
}

/* A raw CKM_RSA_PKCS input: exactly a DER DigestInfo for SHA-256/384/512. */
static int digestinfo_hash(const uint8_t *in, size_t len, enum sign_hash *out_h)
{
	for (int i = 0; i < SH_NUM; i++) {
		if (len == SIGN_DIGESTINFO_PREFIX_LEN + hashes[i].len &&
		    memcmp(in, hashes[i].prefix, SIGN_DIGESTINFO_PREFIX_LEN) == 0) {
			*out_h = (enum sign_hash)i;
			return 0;
		}
	}
	*out_h = SH_NONE;
	return -1;
}

static enum sign_hash hash_by_len(size_t len)
{
	for (int i = 0; i < SH_NUM; i++)
		if (hashes[i].len == len)
			return (enum sign_hash)i;
	return SH_NONE;
}

/* --- the signature ------------------------------------------------------------------ */

int sign_begin(struct bk_ctx *ctx, const struct bk_key *key, const struct sign_req *req,
	       struct sign_op *op, uint8_t out_sha256[32], char *err, size_t err_len)
{
	const struct mech_info *mi = mech_lookup(req->mechanism);
	uint8_t *buf = op->buf;
	enum sign_hash h = SH_NONE;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM raw = {0, NULL, 0};
	int ret;

	memset(op, 0, sizeof(*op));
	op->ctx = ctx;
	op->key = key;
	op->req = req;
	op->in = buf;
	if (out_sha256 != NULL)
		memset(out_sha256, 0, 32);
	if (mi == NULL || !sign_mech_fits_key(req->mechanism, key)) {
		errf(err, err_len, "mechanism 0x%lx cannot be used with this key",
		     (unsigned long)req->mechanism);
		ret = WARDEN_E_MECHANISM;
		goto out;
	}
	if (mi->kind == SK_PSS) {
		ret = check_pss(key, mi, req, &h, err, err_len);
		if (ret != WARDEN_OK)
			goto out;
	} else if (req->has_pss) {
		errf(err, err_len, "mechanism 0x%lx takes no parameters",
		     (unsigned long)req->mechanism);
		ret = WARDEN_E_MECH_PARAM;
		goto out;
	} else {
		h = mi->hash;
	}

	/* The raw input: the enclave's own digest, or a checked client digest. */
	ret = WARDEN_E_DATA_LEN;
	if (mi->kind == SK_EDDSA) {
		op->in = req->data;
		op->in_len = req->data_len;
	} else if (!mi->raw) {
		uint8_t *d = buf + (mi->kind == SK_PKCS1 ? SIGN_DIGESTINFO_PREFIX_LEN : 0);
		if (h == SH_SHA256 && req->data_sha256 != NULL)
			memcpy(d, req->data_sha256, hashes[h].len);
		else if (digest(h, req->data, req->data_len, d) != 0) {
			errf(err, err_len, "hashing failed");
			ret = WARDEN_E_INTERNAL;
			goto out;
		}
		op->dg = d;
		op->dg_len = hashes[h].len;
		if (mi->kind == SK_PKCS1) {
			memcpy(buf, hashes[h].prefix, SIGN_DIGESTINFO_PREFIX_LEN);
			op->in_len = SIGN_DIGESTINFO_PREFIX_LEN + op->dg_len;
		} else {
			op->in_len = op->dg_len;
		}
	} else if (mi->kind == SK_PKCS1) {
		if (digestinfo_hash(req->data, req->data_len, &h) != 0) {
			errf(err, err_len, "CKM_RSA_PKCS input must be a DigestInfo for "
					   "SHA-256, SHA-384 or SHA-512");
			ret = WARDEN_E_DATA_INVALID;
			goto out;
		}
		op->in = req->data;
		op->in_len = req->data_len;
		op->dg = req->data + SIGN_DIGESTINFO_PREFIX_LEN;
		op->dg_len = hashes[h].len;
	} else if (mi->kind == SK_PSS) {
		if (req->data_len != hashes[h].len) {
			errf(err, err_len, "CKM_RSA_PKCS_PSS input must be the %zu-byte digest",
			     hashes[h].len);
			goto out;
		}
		op->in = op->dg = req->data;
		op->in_len = op->dg_len = req->data_len;
	} else { /* CKM_ECDSA */
		if (hash_by_len(req->data_len) == SH_NONE) {
			errf(err, err_len, "CKM_ECDSA input must be a 32, 48 or 64-byte digest");
			goto out;
		}
		op->in = op->dg = req->data;
		op->in_len = op->dg_len = req->data_len;
	}

	raw.mechanism = mi->kind == SK_PKCS1   ? CKM_RSA_PKCS
			: mi->kind == SK_PSS   ? CKM_RSA_PKCS_PSS
			: mi->kind == SK_ECDSA ? CKM_ECDSA
					       : CKM_EDDSA;
	if (mi->kind == SK_PSS) {
		pss.hashAlg = hashes[h].ck;
		pss.mgf = hashes[h].mgf;
		pss.sLen = req->pss_salt_len;
		raw.pParameter = &pss;
		raw.ulParameterLen = sizeof(pss);
	}
	if (out_sha256 != NULL &&
	    EVP_Digest(req->data, req->data_len, out_sha256, NULL, md[SH_SHA256], NULL) != 1) {
		errf(err, err_len, "hashing failed");
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	ret = bk_sign_begin(ctx, key, &raw, &op->bop);
	if (ret != WARDEN_OK) {
		errf(err, err_len, "the key backend refused to sign");
		goto out;
	}
	op->mi = mi;
	op->h = (int)h;
	ret = WARDEN_OK;
out:
	if (ret != WARDEN_OK)
		OPENSSL_cleanse(op->buf, sizeof(op->buf));
	return ret;
}

void sign_cancel(struct sign_op *op)
{
	if (op->mi != NULL)
		bk_sign_cancel(op->ctx, &op->bop);
	OPENSSL_cleanse(op->buf, sizeof(op->buf));
	op->mi = NULL;
}

int sign_end(struct sign_op *op, int verify, uint8_t *sig, size_t *sig_len, char *err,
	     size_t err_len)
{
	const struct mech_info *mi = op->mi;
	const struct sign_req *req = op->req;
	const struct bk_key *key = op->key;
	size_t cap = *sig_len;
	int ret;

	if (mi == NULL) {
		errf(err, err_len, "no signing operation was begun");
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	if (cap < bk_key_sig_len(key)) {
		errf(err, err_len, "signature buffer too small");
		bk_sign_cancel(op->ctx, &op->bop);
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	ret = bk_sign_finish(op->ctx, key, &op->bop, op->in, op->in_len, sig, sig_len);
	if (ret != WARDEN_OK) {
		errf(err, err_len, "the key backend refused to sign");
		goto out;
	}
	if (*sig_len != bk_key_sig_len(key)) {
		errf(err, err_len, "the key backend returned a signature of the wrong length");
		ret = WARDEN_E_BACKEND;
		goto out;
	}
	if (mi->kind == SK_PKCS1 || mi->kind == SK_PSS || verify) {
		EVP_PKEY *pub = bk_key_public(key);
		int ok;
		if (mi->kind == SK_EDDSA)
			ok = verify_eddsa(pub, req->data, req->data_len, sig, *sig_len);
		else if (mi->kind == SK_ECDSA)
			ok = verify_ecdsa(pub, op->dg, op->dg_len, sig, *sig_len);
		else
			ok = verify_pkey(pub, mi, (enum sign_hash)op->h, req->pss_salt_len,
					 op->dg, op->dg_len, sig, *sig_len);
		if (!ok) {
			errf(err, err_len, "the backend's signature did not verify");
			ret = WARDEN_E_BACKEND;
			goto out;
		}
	}
	ret = WARDEN_OK;
out:
	OPENSSL_cleanse(op->buf, sizeof(op->buf));
	op->mi = NULL;
	if (ret != WARDEN_OK) {
		memset(sig, 0, cap);
		*sig_len = 0;
	}
	return ret;
}

int sign_compute(struct bk_ctx *ctx, const struct bk_key *key, const struct sign_req *req,
		 int verify, uint8_t *sig, size_t *sig_len, uint8_t out_sha256[32], char *err,
		 size_t err_len)
{
	struct sign_op op;
	int ret;

	if (*sig_len < bk_key_sig_len(key)) {
		errf(err, err_len, "signature buffer too small");
		memset(sig, 0, *sig_len);
		*sig_len = 0;
		return WARDEN_E_INTERNAL;
	}
	ret = sign_begin(ctx, key, req, &op, out_sha256, err, err_len);
	if (ret != WARDEN_OK) {
		memset(sig, 0, *sig_len);
		*sig_len = 0;
		return ret;
	}
	return sign_end(&op, verify, sig, sig_len, err, err_len);
}
