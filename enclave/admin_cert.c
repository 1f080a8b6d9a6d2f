/*
 * admin_cert.c - the CA's self-signed certificate (or its PKCS#10 request), built with
 * OpenSSL and signed through the backend: the TBS DER goes to sign_compute with the
 * full-data mechanism of the key, exactly as a CA client's request would, and the
 * signed structure is assembled here and checked with OpenSSL before it is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admin.h"
#include "sign.h"
#include "wire.h"

/* Bounds on the subject string and on one of its attribute types / values. */
#define CERT_SUBJECT_MAX 4096u
#define CERT_RDN_TYPE_MAX 64u
#define CERT_BACKDATE_SECONDS 3600L
/* A DER length of up to four bytes covers anything signed here. */
#define CERT_DER_LEN_MAX 0xffffffu

/*
 * Parses "/T1=v1/T2=v2" (OpenSSL's -subj form; '\' escapes the next character) into
 * name.  name NULL only checks the syntax.
 */
__attribute__((warn_unused_result)) static int subject_parse(const char *s, X509_NAME *name,
							     char *err, size_t err_len)
{
	char type[CERT_RDN_TYPE_MAX];
	char *value = NULL;
	size_t tn, vn, len = strlen(s);
	int ret = WARDEN_E_INTERNAL;

	if (len == 0 || len > CERT_SUBJECT_MAX || s[0] != '/') {
		snprintf(err, err_len, "the subject must look like \"/CN=Warden CA/O=Example\"");
		goto out;
	}
	value = malloc(len + 1);
	if (value == NULL) {
		snprintf(err, err_len, "out of memory");
		ret = WARDEN_E_NOMEM;
		goto out;
	}
	while (*s == '/') {
		s++;
		for (tn = 0; *s != '\0' && *s != '=' && *s != '/'; s++) {
			if (tn + 1 >= sizeof(type))
				goto bad;
			type[tn++] = *s;
		}
		type[tn] = '\0';
		if (tn == 0 || *s != '=')
			goto bad;
		s++;
		for (vn = 0; *s != '\0' && *s != '/'; s++) {
			if (*s == '\\') {
				if (s[1] == '\0')
					goto bad;
				s++;
			}
			value[vn++] = *s;
		}
		value[vn] = '\0';
		if (vn == 0)
			goto bad;
		if (OBJ_txt2nid(type) == NID_undef) {
			snprintf(err, err_len, "unknown attribute type \"%s\" in the subject", type);
			goto out;
		}
		if (name != NULL && !X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
								(const unsigned char *)value,
								-1, -1, 0)) {
			snprintf(err, err_len, "OpenSSL refused \"%s=%s\" in the subject", type,
				 value);
			goto out;
		}
	}
	if (*s != '\0')
		goto bad;
	ret = WARDEN_OK;
	goto out;
bad:
	snprintf(err, err_len, "the subject must look like \"/CN=Warden CA/O=Example\"");
out:
	free(value);
	return ret;
}

int admin_subject_check(const char *subject, char *err, size_t err_len)
{
	return subject_parse(subject, NULL, err, err_len);
}

/* The signature AlgorithmIdentifier for the key: RSA with NULL parameters, ECDSA and
 * Ed25519 with none (RFC 4055, RFC 5758, RFC 8410). */
static X509_ALGOR *sig_algor_new(const struct admin_key_spec *spec)
{
	X509_ALGOR *a = X509_ALGOR_new();

	if (a != NULL &&
	    !X509_ALGOR_set0(a, OBJ_nid2obj(spec->sig_nid),
			     spec->key_type == CKK_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL)) {
		X509_ALGOR_free(a);
		a = NULL;
	}
	return a;
}

/* Signs tbs through the backend; gives the signature in X.509 form (ECDSA as DER
 * ECDSA-Sig-Value, RSA and Ed25519 as they are), malloc'd. */
__attribute__((warn_unused_result)) static int cert_sign(const struct admin_cert_req *r,
							 const uint8_t *tbs, size_t tbs_len,
							 uint8_t **out, size_t *out_len,
							 char *err, size_t err_len)
{
	struct sign_req req;
	uint8_t sig[WIRE_MAX_SIG];
	size_t sig_len = sizeof(sig), half;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int der_len, ret;

	*out = NULL;
	*out_len = 0;
	memset(&req, 0, sizeof(req));
	req.mechanism = r->spec->sign_mech;
	req.data = tbs;
	req.data_len = tbs_len;
	ret = sign_compute(r->bk, r->key, &req, 1, sig, &sig_len, NULL, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (r->spec->key_type != CKK_EC) {
		der = malloc(sig_len);
		if (der == NULL)
			goto oom;
		memcpy(der, sig, sig_len);
		*out = der;
		*out_len = sig_len;
		der = NULL;
		ret = WARDEN_OK;
		goto out;
	}
	if (sig_len == 0 || sig_len % 2 != 0) {
		snprintf(err, err_len, "the backend gave an ECDSA signature of %zu bytes", sig_len);
		goto out;
	}
	half = sig_len / 2;
	br = BN_bin2bn(sig, (int)half, NULL);
	bs = BN_bin2bn(sig + half, (int)half, NULL);
	es = ECDSA_SIG_new();
	if (br == NULL || bs == NULL || es == NULL || !ECDSA_SIG_set0(es, br, bs))
		goto oom;
	br = bs = NULL;
	der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len <= 0)
		goto oom;
	*out = der;
	*out_len = (size_t)der_len;
	der = NULL;
	ret = WARDEN_OK;
	goto out;
oom:
	snprintf(err, err_len, "out of memory encoding the signature");
	ret = WARDEN_E_NOMEM;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	return ret;
}

/* Writes a DER tag and length (len <= CERT_DER_LEN_MAX) at p; gives the bytes used. */
static size_t der_head(uint8_t *p, uint8_t tag, size_t len)
{
	size_t n = 0, i, bytes = len < 0x80 ? 0 : len <= 0xff ? 1 : len <= 0xffff ? 2 : 3;

	p[n++] = tag;
	if (bytes == 0) {
		p[n++] = (uint8_t)len;
		return n;
	}
	p[n++] = (uint8_t)(0x80u | bytes);
	for (i = bytes; i > 0; i--)
		p[n++] = (uint8_t)(len >> (8 * (i - 1)));
	return n;
}

/* SEQUENCE { tbs, algorithm, BIT STRING signature }: a Certificate or a
 * CertificationRequest.  malloc'd. */
__attribute__((warn_unused_result)) static int signed_der(const uint8_t *tbs, size_t tbs_len,
							  const X509_ALGOR *alg,
							  const uint8_t *sig, size_t sig_len,
							  uint8_t **out, size_t *out_len)
{
	unsigned char *alg_der = NULL;
	uint8_t head[8], bit_head[8], *buf = NULL;
	size_t head_len, bit_head_len, body_len, n = 0;
	int alg_len, ret = -1;

	*out = NULL;
	*out_len = 0;
	alg_len = i2d_X509_ALGOR(alg, &alg_der);
	if (alg_len <= 0 || tbs_len > CERT_DER_LEN_MAX || sig_len > CERT_DER_LEN_MAX / 2)
		goto out;
	bit_head_len = der_head(bit_head, V_ASN1_BIT_STRING, sig_len + 1);
	body_len = tbs_len + (size_t)alg_len + bit_head_len + 1 + sig_len;
	if (body_len > CERT_DER_LEN_MAX)
		goto out;
	head_len = der_head(head, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body_len);
	buf = malloc(head_len + body_len);
	if (buf == NULL)
		goto out;
	memcpy(buf + n, head, head_len), n += head_len;
	memcpy(buf + n, tbs, tbs_len), n += tbs_len;
	memcpy(buf + n, alg_der, (size_t)alg_len), n += (size_t)alg_len;
	memcpy(buf + n, bit_head, bit_head_len), n += bit_head_len;
	buf[n++] = 0; /* no unused bits */
	memcpy(buf + n, sig, sig_len), n += sig_len;
	*out = buf;
	*out_len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	OPENSSL_free(alg_der);
	return ret;
}

/* Adds an extension given in OpenSSL's configuration syntax. */
static int ext_add_conf(STACK_OF(X509_EXTENSION) *sk, X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	if (sk != NULL ? !sk_X509_EXTENSION_push(sk, ext) : !X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		return -1;
	}
	if (sk == NULL)
		X509_EXTENSION_free(ext);
	return 0;
}

static const char *const ca_basic_constraints = "critical,CA:TRUE";
static const char *const ca_key_usage = "critical,keyCertSign,cRLSign,digitalSignature";

/* The certificate's TBS with every field set, including the inner signature algorithm. */
__attribute__((warn_unused_result)) static int cert_fill(const struct admin_cert_req *r,
							 X509 *x, X509_NAME *name,
							 char *err, size_t err_len)
{
	EVP_PKEY *pub = bk_key_public(r->key);
	uint8_t serial[ADMIN_SERIAL_BYTES], id[ADMIN_KEY_ID_LEN];
	ASN1_OCTET_STRING *ski = NULL;
	AUTHORITY_KEYID *aki = NULL;
	X509_ALGOR *tbs_alg;
	BIGNUM *bn = NULL;
	int ret = WARDEN_E_INTERNAL;

	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		snprintf(err, err_len, "no randomness for the serial number");
		goto out;
	}
	/* Positive, and exactly ADMIN_SERIAL_BYTES long in DER. */
	serial[0] = (uint8_t)((serial[0] & 0x7fu) | 0x40u);
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (admin_key_id(pub, id) != 0 || bn == NULL ||
	    !X509_set_version(x, 2) || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    !X509_set_issuer_name(x, name) || !X509_set_subject_name(x, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -CERT_BACKDATE_SECONDS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)r->days, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, pub))
		goto fail;
	ski = ASN1_OCTET_STRING_new();
	aki = AUTHORITY_KEYID_new();
	if (ski == NULL || aki == NULL || !ASN1_OCTET_STRING_set(ski, id, sizeof(id)))
		goto fail;
	aki->keyid = ASN1_OCTET_STRING_dup(ski);
	if (aki->keyid == NULL ||
	    ext_add_conf(NULL, x, NID_basic_constraints, ca_basic_constraints) != 0 ||
	    ext_add_conf(NULL, x, NID_key_usage, ca_key_usage) != 0 ||
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_DEFAULT) != 1 ||
	    X509_add1_ext_i2d(x, NID_authority_key_identifier, aki, 0, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	/*
	 * OpenSSL 3.0 offers no setter for the TBS signature algorithm of a certificate
	 * (X509_REQ has one): it is set in place, as X509_sign would.  The outer one is
	 * written by signed_der.
	 */
	tbs_alg = (X509_ALGOR *)X509_get0_tbs_sigalg(x);
	if (!X509_ALGOR_set0(tbs_alg, OBJ_nid2obj(r->spec->sig_nid),
			     r->spec->key_type == CKK_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
		goto fail;
	ret = WARDEN_OK;
	goto out;
fail:
	snprintf(err, err_len, "cannot build the certificate");
out:
	BN_free(bn);
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(aki);
	return ret;
}

/* The request's CertificationRequestInfo, asking for a CA certificate. */
__attribute__((warn_unused_result)) static int req_fill(const struct admin_cert_req *r,
							X509_REQ *req, X509_NAME *name,
							char *err, size_t err_len)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	int ret = WARDEN_E_INTERNAL;

	if (exts == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, bk_key_public(r->key)) ||
	    ext_add_conf(exts, NULL, NID_basic_constraints, ca_basic_constraints) != 0 ||
	    ext_add_conf(exts, NULL, NID_key_usage, ca_key_usage) != 0 ||
	    !X509_REQ_add_extensions(req, exts)) {
		snprintf(err, err_len, "cannot build the certificate request");
		goto out;
	}
	ret = WARDEN_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ret;
}

/* PEM of a memory BIO as a NUL-terminated malloc'd string. */
static char *bio_to_str(BIO *bio)
{
	char *data = NULL, *s;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

int admin_cert_make(const struct admin_cert_req *r, char **out_pem, char *err, size_t err_len)
{
	X509_NAME *name = X509_NAME_new();
	X509 *x = NULL, *done_x = NULL;
	X509_REQ *req = NULL, *done_req = NULL;
	X509_ALGOR *alg = sig_algor_new(r->spec);
	unsigned char *tbs = NULL;
	uint8_t *sig = NULL, *der = NULL;
	const unsigned char *p;
	size_t sig_len = 0, der_len = 0;
	BIO *bio = NULL;
	int tbs_len, ret = WARDEN_E_NOMEM;

	*out_pem = NULL;
	snprintf(err, err_len, "out of memory");
	if (name == NULL || alg == NULL)
		goto out;
	ret = subject_parse(r->subject, name, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (r->csr) {
		req = X509_REQ_new();
		if (req == NULL || req_fill(r, req, name, err, err_len) != WARDEN_OK)
			goto out;
		tbs_len = i2d_re_X509_REQ_tbs(req, &tbs);
	} else {
		x = X509_new();
		if (x == NULL || cert_fill(r, x, name, err, err_len) != WARDEN_OK)
			goto out;
		tbs_len = i2d_re_X509_tbs(x, &tbs);
	}
	if (tbs_len <= 0) {
		snprintf(err, err_len, "cannot encode the data to be signed");
		goto out;
	}
	ret = cert_sign(r, tbs, (size_t)tbs_len, &sig, &sig_len, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (signed_der(tbs, (size_t)tbs_len, alg, sig, sig_len, &der, &der_len) != 0) {
		snprintf(err, err_len, "cannot assemble the signed structure");
		goto out;
	}
	/* Parse what was made and check its signature, as any verifier will. */
	p = der;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		goto out;
	if (r->csr) {
		done_req = d2i_X509_REQ(NULL, &p, (long)der_len);
		if (done_req == NULL || p != der + der_len ||
		    X509_REQ_verify(done_req, bk_key_public(r->key)) != 1) {
			snprintf(err, err_len, "the signed request does not verify");
			goto out;
		}
		if (!PEM_write_bio_X509_REQ(bio, done_req))
			goto out;
	} else {
		done_x = d2i_X509(NULL, &p, (long)der_len);
		if (done_x == NULL || p != der + der_len ||
		    X509_verify(done_x, bk_key_public(r->key)) != 1) {
			snprintf(err, err_len, "the signed certificate does not verify");
			goto out;
		}
		if (!PEM_write_bio_X509(bio, done_x))
			goto out;
	}
	*out_pem = bio_to_str(bio);
	if (*out_pem == NULL) {
		snprintf(err, err_len, "out of memory");
		ret = WARDEN_E_NOMEM;
		goto out;
	}
	ret = WARDEN_OK;
out:
	BIO_free(bio);
	X509_free(x);
	X509_free(done_x);
	X509_REQ_free(req);
	X509_REQ_free(done_req);
	X509_NAME_free(name);
	X509_ALGOR_free(alg);
	OPENSSL_free(tbs);
	free(sig);
	free(der);
	return ret;
}
