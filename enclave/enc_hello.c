/*
 * enc_hello.c - the HELLO answer: token facts and, per key, its mechanisms and the
 * attributes of its private key, public key and certificate objects
 * (docs/architecture.md "Objects").  Built once before the sandbox; the module serves
 * attribute reads from it without asking again.
 */
#include "enc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "sign.h"

#define HELLO_MAX_PUB 1100u   /* largest RSA modulus or EC point in bytes */
#define HELLO_CHECK_VALUE_LEN 3u
#define HELLO_DATE_LEN 8u
#define HELLO_NUM_OBJECTS_MAX 3u

_Static_assert(HELLO_NUM_OBJECTS_MAX <= WIRE_MAX_OBJECTS_PER_KEY, "object count fits");

/* Mechanisms in the order they are offered: full-data first, then raw. */
static const CK_MECHANISM_TYPE offered[] = {
	CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS,     CKM_SHA512_RSA_PKCS,
	CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
	CKM_ECDSA_SHA256,    CKM_ECDSA_SHA384,        CKM_ECDSA_SHA512,
	CKM_EDDSA,           CKM_RSA_PKCS,            CKM_RSA_PKCS_PSS,
	CKM_ECDSA,
};
_Static_assert(sizeof(offered) / sizeof(offered[0]) <= WIRE_MAX_MECHS, "mechanisms fit");

static void errf(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* --- attribute lists ---------------------------------------------------------------- */

struct alist {
	struct wire_buf b;
	uint32_t n;
	int bad; /* too many attributes or one too long */
};

static void a_head(struct alist *a, CK_ATTRIBUTE_TYPE t, uint8_t kind)
{
	if (++a->n > WIRE_MAX_ATTRS)
		a->bad = 1;
	wire_put_u64(&a->b, t);
	wire_put_u8(&a->b, kind);
}

static void a_bytes(struct alist *a, CK_ATTRIBUTE_TYPE t, const void *p, size_t len)
{
	if (len > WIRE_MAX_ATTR_LEN)
		a->bad = 1;
	a_head(a, t, WIRE_AK_BYTES);
	wire_put_bytes(&a->b, p, len);
}

static void a_bool(struct alist *a, CK_ATTRIBUTE_TYPE t, int v)
{
	a_head(a, t, WIRE_AK_BOOL);
	wire_put_u8(&a->b, v ? 1 : 0);
}

static void a_ulong(struct alist *a, CK_ATTRIBUTE_TYPE t, uint64_t v)
{
	a_head(a, t, WIRE_AK_ULONG);
	wire_put_u64(&a->b, v);
}

static void a_mechs(struct alist *a, CK_ATTRIBUTE_TYPE t, const struct enc_key *k)
{
	a_head(a, t, WIRE_AK_MECHS);
	wire_put_u32(&a->b, (uint32_t)k->num_mechs);
	for (size_t i = 0; i < k->num_mechs; i++)
		wire_put_u64(&a->b, k->mechs[i]);
}

/* Appends raw bytes (wire.h has no raw put; this runs once at start-up). */
static void buf_append(struct wire_buf *dst, const struct wire_buf *src)
{
	for (size_t i = 0; i < src->len; i++)
		wire_put_u8(dst, src->data[i]);
	if (src->failed)
		dst->failed = 1;
}

static int object_put(struct wire_buf *out, CK_OBJECT_CLASS cls, struct alist *a)
{
	if (a->bad || a->b.failed)
		return -1;
	wire_put_u64(out, cls);
	wire_put_u32(out, a->n);
	buf_append(out, &a->b);
	return 0;
}

/* --- public key facts ---------------------------------------------------------------- */

struct pubfacts {
	uint8_t *spki; /* DER SubjectPublicKeyInfo */
	int spki_len;
	uint8_t id[SHA_DIGEST_LENGTH > 64 ? SHA_DIGEST_LENGTH : 64];
	size_t id_len;
	uint8_t bits_sha1[SHA_DIGEST_LENGTH]; /* SHA-1 of the subjectPublicKey bits */
	uint8_t n[HELLO_MAX_PUB], e[16];
	size_t n_len, e_len;
	uint8_t point[HELLO_MAX_PUB]; /* EC_POINT: DER OCTET STRING of the point */
	size_t point_len;
};

static int pubfacts_get(const struct enc_key *k, struct pubfacts *pf)
{
	EVP_PKEY *pub = bk_key_public(k->bk);
	X509_PUBKEY *xpk = NULL;
	const unsigned char *bits;
	int bits_len;
	int ret = -1;

	memset(pf, 0, sizeof(*pf));
	pf->spki_len = i2d_PUBKEY(pub, &pf->spki);
	if (pf->spki_len <= 0 || X509_PUBKEY_set(&xpk, pub) != 1 ||
	    X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk) != 1)
		goto out;
	SHA1(bits, (size_t)bits_len, pf->bits_sha1);

	size_t id_len;
	const uint8_t *id = bk_key_id(k->bk, &id_len);
	if (id_len > 0 && id_len <= sizeof(pf->id)) {
		memcpy(pf->id, id, id_len);
		pf->id_len = id_len;
	} else {
		memcpy(pf->id, pf->bits_sha1, SHA_DIGEST_LENGTH);
		pf->id_len = SHA_DIGEST_LENGTH;
	}

	if (bk_key_type(k->bk) == CKK_RSA) {
		BIGNUM *n = NULL, *e = NULL;
		int ok = EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
			 EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
			 BN_num_bytes(n) <= (int)sizeof(pf->n) &&
			 BN_num_bytes(e) <= (int)sizeof(pf->e);
		if (ok) {
			pf->n_len = (size_t)BN_bn2bin(n, pf->n);
			pf->e_len = (size_t)BN_bn2bin(e, pf->e);
		}
		BN_free(n);
		BN_free(e);
		if (!ok)
			goto out;
	} else {
		uint8_t pt[HELLO_MAX_PUB];
		size_t pt_len = 0;
		if (bk_key_type(k->bk) == CKK_EC_EDWARDS) {
			pt_len = sizeof(pt);
			if (EVP_PKEY_get_raw_public_key(pub, pt, &pt_len) != 1)
				goto out;
		} else if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, pt,
							   sizeof(pt), &pt_len) != 1) {
			goto out;
		}
		if (pt_len >= 0x80) /* P-256, P-384 and Ed25519 points use the short form */
			goto out;
		pf->point[0] = 0x04;
		pf->point[1] = (uint8_t)pt_len;
		memcpy(pf->point + 2, pt, pt_len);
		pf->point_len = pt_len + 2;
	}
	ret = 0;
out:
	X509_PUBKEY_free(xpk);
	return ret;
}

static void pubfacts_free(struct pubfacts *pf)
{
	OPENSSL_free(pf->spki);
	pf->spki = NULL;
}

static CK_MECHANISM_TYPE keygen_mech(CK_KEY_TYPE t)
{
	return t == CKK_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN
	       : t == CKK_EC ? CKM_EC_KEY_PAIR_GEN
			     : CKM_EC_EDWARDS_KEY_PAIR_GEN;
}

/* Attributes the private key and the public key share. */
static void key_common(struct alist *a, const struct enc_key *k, const struct pubfacts *pf,
		       const uint8_t *subj, size_t subj_len)
{
	CK_KEY_TYPE t = bk_key_type(k->bk);
	a_ulong(a, CKA_KEY_TYPE, t);
	a_bytes(a, CKA_ID, pf->id, pf->id_len);
	a_bytes(a, CKA_LABEL, k->cfg->label, strlen(k->cfg->label));
	a_bool(a, CKA_TOKEN, 1);
	a_bool(a, CKA_MODIFIABLE, 0);
	a_bool(a, CKA_COPYABLE, 1);
	a_bool(a, CKA_DESTROYABLE, 0);
	a_bool(a, CKA_DERIVE, 0);
	a_bool(a, CKA_LOCAL, 1);
	a_ulong(a, CKA_KEY_GEN_MECHANISM, keygen_mech(t));
	a_bytes(a, CKA_START_DATE, NULL, 0);
	a_bytes(a, CKA_END_DATE, NULL, 0);
	a_bytes(a, CKA_SUBJECT, subj, subj_len);
	a_mechs(a, CKA_ALLOWED_MECHANISMS, k);
	a_bytes(a, CKA_PUBLIC_KEY_INFO, pf->spki, (size_t)pf->spki_len);
	if (t == CKK_RSA) {
		a_bytes(a, CKA_MODULUS, pf->n, pf->n_len);
		a_bytes(a, CKA_PUBLIC_EXPONENT, pf->e, pf->e_len);
	} else {
		size_t pl;
		const uint8_t *params = bk_key_ec_params(k->bk, &pl);
		a_bytes(a, CKA_EC_PARAMS, params, pl);
		a_bytes(a, CKA_EC_POINT, pf->point, pf->point_len);
	}
}

static int put_private(struct wire_buf *out, const struct enc_key *k,
		       const struct pubfacts *pf, const uint8_t *subj, size_t subj_len)
{
	struct alist a = {0};
	wire_buf_init(&a.b);
	a_ulong(&a, CKA_CLASS, CKO_PRIVATE_KEY);
	key_common(&a, k, pf, subj, subj_len);
	a_bool(&a, CKA_PRIVATE, 1);
	a_bool(&a, CKA_SIGN, 1);
	a_bool(&a, CKA_SIGN_RECOVER, 0);
	a_bool(&a, CKA_DECRYPT, 0);
	a_bool(&a, CKA_UNWRAP, 0);
	a_bool(&a, CKA_SENSITIVE, 1);
	a_bool(&a, CKA_EXTRACTABLE, 0);
	a_bool(&a, CKA_ALWAYS_SENSITIVE, bk_key_bool(k->bk, CKA_ALWAYS_SENSITIVE));
	a_bool(&a, CKA_NEVER_EXTRACTABLE, bk_key_bool(k->bk, CKA_NEVER_EXTRACTABLE));
	a_bool(&a, CKA_ALWAYS_AUTHENTICATE, 0);
	a_bool(&a, CKA_WRAP_WITH_TRUSTED, 0);
	int ret = object_put(out, CKO_PRIVATE_KEY, &a);
	wire_buf_free(&a.b);
	return ret;
}

static int put_public(struct wire_buf *out, const struct enc_key *k, const struct pubfacts *pf,
		      const uint8_t *subj, size_t subj_len)
{
	struct alist a = {0};
	wire_buf_init(&a.b);
	a_ulong(&a, CKA_CLASS, CKO_PUBLIC_KEY);
	key_common(&a, k, pf, subj, subj_len);
	a_bool(&a, CKA_PRIVATE, 0);
	a_bool(&a, CKA_VERIFY, 1);
	a_bool(&a, CKA_VERIFY_RECOVER, 0);
	a_bool(&a, CKA_ENCRYPT, 0);
	a_bool(&a, CKA_WRAP, 0);
	a_bool(&a, CKA_TRUSTED, 0);
	if (bk_key_type(k->bk) == CKK_RSA)
		a_ulong(&a, CKA_MODULUS_BITS, (uint64_t)EVP_PKEY_get_bits(bk_key_public(k->bk)));
	int ret = object_put(out, CKO_PUBLIC_KEY, &a);
	wire_buf_free(&a.b);
	return ret;
}

static int date_of(const ASN1_TIME *t, char out[HELLO_DATE_LEN + 1])
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year < 0 || tm.tm_year + 1900 > 9999 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	unsigned y = (unsigned)tm.tm_year + 1900, m = (unsigned)tm.tm_mon + 1,
		 d = (unsigned)tm.tm_mday;
	const unsigned digits[HELLO_DATE_LEN] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10,
						 m / 10,   m % 10,       d / 10,      d % 10};
	for (size_t i = 0; i < HELLO_DATE_LEN; i++)
		out[i] = (char)('0' + digits[i]);
	out[HELLO_DATE_LEN] = '\0';
	return 0;
}

static int put_cert(struct wire_buf *out, const struct enc_key *k, const struct pubfacts *pf)
{
	struct alist a = {0};
	uint8_t *value = NULL, *subj = NULL, *iss = NULL, *serial = NULL;
	int value_len, subj_len, iss_len, serial_len;
	uint8_t sha[SHA_DIGEST_LENGTH];
	char start[HELLO_DATE_LEN + 1], end[HELLO_DATE_LEN + 1];
	int ret = -1;

	wire_buf_init(&a.b);
	value_len = i2d_X509(k->cert, &value);
	subj_len = i2d_X509_NAME(X509_get_subject_name(k->cert), &subj);
	iss_len = i2d_X509_NAME(X509_get_issuer_name(k->cert), &iss);
	serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(k->cert), &serial);
	if (value_len <= 0 || subj_len <= 0 || iss_len <= 0 || serial_len <= 0 ||
	    date_of(X509_get0_notBefore(k->cert), start) != 0 ||
	    date_of(X509_get0_notAfter(k->cert), end) != 0)
		goto out;
	SHA1(value, (size_t)value_len, sha);

	a_ulong(&a, CKA_CLASS, CKO_CERTIFICATE);
	a_ulong(&a, CKA_CERTIFICATE_TYPE, CKC_X_509);
	a_ulong(&a, CKA_CERTIFICATE_CATEGORY, 2); /* authority */
	a_bytes(&a, CKA_ID, pf->id, pf->id_len);
	a_bytes(&a, CKA_LABEL, k->cfg->label, strlen(k->cfg->label));
	a_bool(&a, CKA_TOKEN, 1);
	a_bool(&a, CKA_PRIVATE, 0);
	a_bool(&a, CKA_MODIFIABLE, 0);
	a_bool(&a, CKA_COPYABLE, 1);
	a_bool(&a, CKA_DESTROYABLE, 0);
	a_bool(&a, CKA_TRUSTED, 0);
	a_bytes(&a, CKA_VALUE, value, (size_t)value_len);
	a_bytes(&a, CKA_SUBJECT, subj, (size_t)subj_len);
	a_bytes(&a, CKA_ISSUER, iss, (size_t)iss_len);
	a_bytes(&a, CKA_SERIAL_NUMBER, serial, (size_t)serial_len);
	a_bytes(&a, CKA_START_DATE, start, HELLO_DATE_LEN);
	a_bytes(&a, CKA_END_DATE, end, HELLO_DATE_LEN);
	a_bytes(&a, CKA_CHECK_VALUE, sha, HELLO_CHECK_VALUE_LEN);
	a_bytes(&a, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, pf->bits_sha1, SHA_DIGEST_LENGTH);
	if (X509_check_issued(k->cert, k->cert) == X509_V_OK)
		a_bytes(&a, CKA_HASH_OF_ISSUER_PUBLIC_KEY, pf->bits_sha1, SHA_DIGEST_LENGTH);
	a_ulong(&a, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
	a_bytes(&a, CKA_PUBLIC_KEY_INFO, pf->spki, (size_t)pf->spki_len);
	ret = object_put(out, CKO_CERTIFICATE, &a);
out:
	OPENSSL_free(value);
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(serial);
	wire_buf_free(&a.b);
	return ret;
}

/* --- per key --------------------------------------------------------------------------- */

static int cert_load(struct enc_key *k, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len;
	if (k->cfg->certificate == NULL)
		return 0;
	if (enc_file_read(k->cfg->certificate, ENC_MAX_FILE_LEN, &text, &len) != 0) {
		errf(err, err_len, "key \"%s\": cannot read certificate %s: %s", k->cfg->label,
		     k->cfg->certificate, strerror(errno));
		return -1;
	}
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	k->cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (k->cert == NULL) {
		const unsigned char *p = (const unsigned char *)text;
		k->cert = d2i_X509(NULL, &p, (long)len);
	}
	BIO_free(bio);
	free(text);
	if (k->cert == NULL) {
		errf(err, err_len, "key \"%s\": %s is not a PEM or DER certificate",
		     k->cfg->label, k->cfg->certificate);
		return -1;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(k->cert), bk_key_public(k->bk)) != 1) {
		errf(err, err_len, "key \"%s\": certificate %s is for another key", k->cfg->label,
		     k->cfg->certificate);
		return -1;
	}
	return 0;
}

static int key_put(struct wire_buf *out, uint32_t key_id, struct enc_key *k, char *err,
		   size_t err_len)
{
	struct pubfacts pf;
	uint8_t *subj = NULL;
	int subj_len = 0;
	int ret = -1;

	if (pubfacts_get(k, &pf) != 0) {
		errf(err, err_len, "key \"%s\": cannot encode its public key", k->cfg->label);
		goto out;
	}
	if (k->cert != NULL &&
	    (subj_len = i2d_X509_NAME(X509_get_subject_name(k->cert), &subj)) <= 0)
		goto out;
	wire_put_u32(out, key_id);
	wire_put_u64(out, bk_key_type(k->bk));
	wire_put_u32(out, k->flags);
	wire_put_u32(out, (uint32_t)bk_key_sig_len(k->bk));
	wire_put_u32(out, (uint32_t)k->num_mechs);
	for (size_t i = 0; i < k->num_mechs; i++)
		wire_put_u64(out, k->mechs[i]);
	wire_put_u32(out, k->cert != NULL ? 3 : 2);
	if (put_private(out, k, &pf, subj, (size_t)subj_len) != 0 ||
	    put_public(out, k, &pf, subj, (size_t)subj_len) != 0 ||
	    (k->cert != NULL && put_cert(out, k, &pf) != 0)) {
		errf(err, err_len, "key \"%s\": its attributes exceed the protocol's bounds",
		     k->cfg->label);
		goto out;
	}
	ret = 0;
out:
	OPENSSL_free(subj);
	pubfacts_free(&pf);
	return ret;
}

int enc_key_has_mech(const struct enc_key *k, CK_MECHANISM_TYPE m)
{
	for (size_t i = 0; i < k->num_all_mechs; i++)
		if (k->all_mechs[i] == m)
			return 1;
	return 0;
}

int enc_keys_load(struct enc_state *st, char *err, size_t err_len)
{
	for (size_t i = 0; i < st->num_keys; i++) {
		struct enc_key *k = &st->keys[i];
		k->num_all_mechs = 0;
		for (size_t j = 0; j < sizeof(offered) / sizeof(offered[0]); j++)
			if (sign_mech_fits_key(offered[j], k->bk))
				k->all_mechs[k->num_all_mechs++] = offered[j];
		if (k->num_all_mechs == 0) {
			errf(err, err_len, "key \"%s\": no mechanism fits it", k->cfg->label);
			return -1;
		}
		if (cert_load(k, err, err_len) != 0)
			return -1;
	}
	return 0;
}

int enc_hello_build(struct enc_state *st, const struct pol_policy *pol, char *err,
		    size_t err_len)
{
	struct wire_buf b;
	size_t flags_off;

	for (size_t i = 0; i < st->num_keys; i++) {
		struct enc_key *k = &st->keys[i];
		int audit = pol_policy_key_prehashed(pol, k->cfg->label) == 1;
		k->flags = audit ? WIRE_KF_PREHASHED : 0;
		k->num_mechs = 0;
		for (size_t j = 0; j < k->num_all_mechs; j++)
			if (pol_mechanism_usable(&k->ca, k->all_mechs[j], audit))
				k->mechs[k->num_mechs++] = k->all_mechs[j];
		if (k->num_mechs == 0) {
			errf(err, err_len, "key \"%s\": the policy leaves it no mechanism",
			     k->cfg->label);
			return -1;
		}
	}

	wire_buf_init(&b);
	enc_resp_begin(&b, WIRE_HELLO, WARDEN_OK, "");
	wire_put_u64(&b, st->boot_id);
	wire_put_str(&b, st->cfg.token_label);
	wire_put_str(&b, ENC_TOKEN_MANUFACTURER);
	wire_put_str(&b, ENC_TOKEN_MODEL);
	wire_put_str(&b, st->cfg.token_serial);
	flags_off = b.len;
	wire_put_u32(&b, 0); /* token flags, written per answer */
	wire_put_u32(&b, PIN_MIN_LEN);
	wire_put_u32(&b, PIN_MAX_LEN);
	wire_put_u64(&b, st->cfg.max_data_len);
	wire_put_u32(&b, (uint32_t)st->num_keys);
	for (size_t i = 0; i < st->num_keys; i++) {
		if (key_put(&b, (uint32_t)i, &st->keys[i], err, err_len) != 0) {
			wire_buf_free(&b);
			return -1;
		}
	}
	if (wire_frame_end(&b) != 0) {
		errf(err, err_len, "the HELLO answer could not be built (out of memory)");
		wire_buf_free(&b);
		return -1;
	}
	pthread_mutex_lock(&st->hello_lock);
	struct wire_buf old = st->hello;
	st->hello = b;
	st->hello_flags_off = flags_off;
	pthread_mutex_unlock(&st->hello_lock);
	wire_buf_free(&old);
	return 0;
}

/* --- self-test signatures ----------------------------------------------------------------- */

int enc_key_selftest(struct enc_state *st, const struct enc_key *k, char *err, size_t err_len)
{
	static const uint8_t msg[] = "warden-enclave self-test";
	static const uint8_t di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					0x01, 0x05, 0x00, 0x04, 0x20};
	uint8_t raw[sizeof(di256) + SHA256_DIGEST_LENGTH];
	uint8_t sig[WIRE_MAX_SIG];

	memcpy(raw, di256, sizeof(di256));
	SHA256(msg, sizeof(msg), raw + sizeof(di256));
	for (size_t i = 0; i < k->num_all_mechs; i++) {
		CK_MECHANISM_TYPE m = k->all_mechs[i];
		struct sign_req req = {.mechanism = m, .data = msg, .data_len = sizeof(msg)};
		size_t sig_len = sizeof(sig);
		if (m == CKM_RSA_PKCS) {
			req.data = raw;
			req.data_len = sizeof(raw);
		} else if (m == CKM_RSA_PKCS_PSS || m == CKM_ECDSA) {
			req.data = raw + sizeof(di256);
			req.data_len = SHA256_DIGEST_LENGTH;
		}
		if (m == CKM_RSA_PKCS_PSS || m == CKM_SHA256_RSA_PKCS_PSS) {
			req.has_pss = 1;
			req.pss_hash_alg = CKM_SHA256;
			req.pss_mgf = CKG_MGF1_SHA256;
			req.pss_salt_len = SHA256_DIGEST_LENGTH;
		} else if (m == CKM_SHA384_RSA_PKCS_PSS) {
			req.has_pss = 1;
			req.pss_hash_alg = CKM_SHA384;
			req.pss_mgf = CKG_MGF1_SHA384;
			req.pss_salt_len = SHA384_DIGEST_LENGTH;
		} else if (m == CKM_SHA512_RSA_PKCS_PSS) {
			req.has_pss = 1;
			req.pss_hash_alg = CKM_SHA512;
			req.pss_mgf = CKG_MGF1_SHA512;
			req.pss_salt_len = SHA512_DIGEST_LENGTH;
		}
		char why[256] = "";
		int rc = sign_compute(st->bk, k->bk, &req, 1, sig, &sig_len, NULL, why,
				      sizeof(why));
		if (rc != WARDEN_OK) {
			errf(err, err_len, "key \"%s\": self-test signature with mechanism 0x%lx "
					   "failed: %s",
			     k->cfg->label, (unsigned long)m, why);
			return rc;
		}
	}
	return WARDEN_OK;
}
