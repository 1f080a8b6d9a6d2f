/*
 * testutil.c - builders for the policy-engine tests (see testutil.h).
 */
#include "testutil.h"

#include <check.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TU_NOT_BEFORE 1735689600L /* 2025-01-01T00:00:00Z */
#define TU_VALIDITY (90L * 86400L)

EVP_PKEY *tu_key(const char *kind)
{
	EVP_PKEY *k = NULL;
	if (strncmp(kind, "rsa", 3) == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(kind + 3));
	else if (strcmp(kind, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "p521") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_msg(k != NULL, "key generation failed: %s", kind);
	return k;
}

static void set_name(X509_NAME *n, const char *cn)
{
	ck_assert(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"DE", -1,
					     -1, 0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
					     (const unsigned char *)"Warden Tests", -1, -1, 0));
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
					     -1, -1, 0));
}

static X509 *base_cert(EVP_PKEY *key, long serial, const char *cn)
{
	X509 *x = X509_new();
	ck_assert(x != NULL);
	ck_assert(X509_set_version(x, X509_VERSION_3));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	ck_assert(ASN1_TIME_set(X509_getm_notBefore(x), TU_NOT_BEFORE) != NULL);
	ck_assert(ASN1_TIME_set(X509_getm_notAfter(x), TU_NOT_BEFORE + TU_VALIDITY) != NULL);
	set_name(X509_get_subject_name(x), cn);
	ck_assert(X509_set_pubkey(x, key));
	return x;
}

X509 *tu_ca(EVP_PKEY *ca_key)
{
	X509 *x = base_cert(ca_key, 1, "Warden Test CA");
	ck_assert(X509_set_issuer_name(x, X509_get_subject_name(x)));
	ck_assert(tu_ext_conf(x, x, NID_basic_constraints, "critical,CA:TRUE"));
	ck_assert(tu_ext_conf(x, x, NID_key_usage, "critical,keyCertSign,cRLSign"));
	ck_assert(tu_ext_conf(x, x, NID_subject_key_identifier, "hash"));
	int id = EVP_PKEY_get_base_id(ca_key);
	ck_assert(X509_sign(x, ca_key, id == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	return x;
}

X509 *tu_leaf(X509 *ca, EVP_PKEY *key, const char *cn, long serial)
{
	X509 *x = base_cert(key, serial, cn);
	ck_assert(X509_set_issuer_name(x, X509_get_subject_name(ca)));
	return x;
}

int tu_ext_conf(X509 *x, X509 *ca, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return 0;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int tu_ext_raw(X509 *x, const char *oid, int critical, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	int ok = 0;
	if (obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, der, (int)len)) {
		X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os);
		if (ext != NULL) {
			ok = X509_add_ext(x, ext, -1);
			X509_EXTENSION_free(ext);
		}
	}
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return ok;
}

uint8_t *tu_tbs(X509 *x, EVP_PKEY *key, const EVP_MD *md, int pss_salt, size_t *len)
{
	if (pss_salt >= 0) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		ck_assert(EVP_DigestSignInit(mctx, &pctx, md, NULL, key) > 0);
		ck_assert(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
		ck_assert(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt) > 0);
		ck_assert(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0);
		ck_assert(X509_sign_ctx(x, mctx) > 0);
		EVP_MD_CTX_free(mctx);
	} else {
		ck_assert(X509_sign(x, key, md) > 0);
	}
	uint8_t *der = NULL;
	int n = i2d_re_X509_tbs(x, &der);
	ck_assert(n > 0);
	*len = (size_t)n;
	return der;
}

int64_t tu_time(const ASN1_TIME *t)
{
	struct tm tm;
	ck_assert(ASN1_TIME_to_tm(t, &tm));
	return (int64_t)timegm(&tm);
}

void tu_put(struct tu_buf *b, const void *p, size_t len)
{
	ck_assert_uint_le(len, TU_MAX_DER - b->len);
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

void tu_hex(struct tu_buf *b, const char *hex)
{
	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		unsigned v;
		ck_assert(sscanf(hex, "%2x", &v) == 1);
		uint8_t o = (uint8_t)v;
		tu_put(b, &o, 1);
		hex += 2;
	}
}

void tu_tlv_raw(struct tu_buf *b, uint8_t tag, const void *p, size_t len)
{
	uint8_t h[6];
	size_t n = 0;
	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (uint8_t)len;
	} else if (len <= 0xff) {
		h[n++] = 0x81;
		h[n++] = (uint8_t)len;
	} else if (len <= 0xffff) {
		h[n++] = 0x82;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[n++] = 0x83;
		h[n++] = (uint8_t)(len >> 16);
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	}
	tu_put(b, h, n);
	tu_put(b, p, len);
}

void tu_tlv(struct tu_buf *b, uint8_t tag, const struct tu_buf *contents)
{
	tu_tlv_raw(b, tag, contents->p, contents->len);
}

/* --- agreement with OpenSSL ------------------------------------------------------ */

#include <openssl/core_names.h>
#include <stdarg.h>
#include <stdio.h>

#include "policy.h"

static int differ(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return 0;
}

static int same_bytes(const struct der_cur *c, const unsigned char *p, int len)
{
	return len >= 0 && c->len == (size_t)len && (len == 0 || memcmp(c->p, p, (size_t)len) == 0);
}

static int same_name(X509_NAME *n, const struct pol_name *pn)
{
	unsigned char *der = NULL;
	int len = i2d_X509_NAME(n, &der);
	int ok = same_bytes(&pn->raw, der, len);
	OPENSSL_free(der);
	if (!ok || X509_NAME_entry_count(n) != (int)pn->num_attrs)
		return 0;
	for (size_t i = 0; i < pn->num_attrs; i++) {
		X509_NAME_ENTRY *ne = X509_NAME_get_entry(n, (int)i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(ne);
		const ASN1_OBJECT *o = X509_NAME_ENTRY_get_object(ne);
		if (!same_bytes(&pn->attrs[i].oid, OBJ_get0_data(o), (int)OBJ_length(o)) ||
		    !same_bytes(&pn->attrs[i].value, ASN1_STRING_get0_data(v), ASN1_STRING_length(v)) ||
		    X509_NAME_ENTRY_set(ne) != (int)pn->attrs[i].rdn_index)
			return 0;
	}
	return 1;
}

static int same_gn(const GENERAL_NAME *g, const struct pol_gn *p)
{
	if (g->type != (int)p->type)
		return 0;
	switch (g->type) {
	case GEN_DNS:
	case GEN_EMAIL:
	case GEN_URI:
	case GEN_IPADD: {
		const ASN1_STRING *s = g->d.ia5;
		return same_bytes(&p->value, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	}
	case GEN_RID:
		return same_bytes(&p->value, OBJ_get0_data(g->d.rid), (int)OBJ_length(g->d.rid));
	default: {
		/* the whole GeneralName TLV */
		unsigned char *der = NULL;
		int len = i2d_GENERAL_NAME((GENERAL_NAME *)g, &der);
		int ok = same_bytes(&p->value, der, len);
		OPENSSL_free(der);
		return ok;
	}
	}
}

static int compare_key(X509 *x, const struct pol_spki *k, char *why, size_t why_len)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (pk == NULL)
		return k->type == POL_KEY_OTHER ? 1 : differ(why, why_len, "OpenSSL has no key");
	int id = EVP_PKEY_get_base_id(pk);
	if (id == EVP_PKEY_RSA) {
		BIGNUM *e = NULL;
		if (k->type != POL_KEY_RSA)
			return differ(why, why_len, "key type: OpenSSL RSA");
		if (EVP_PKEY_get_bits(pk) != (int)k->rsa_bits)
			return differ(why, why_len, "RSA bits %d vs %u", EVP_PKEY_get_bits(pk),
				      k->rsa_bits);
		if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e))
			return differ(why, why_len, "no RSA e");
		int ok = BN_num_bytes(e) <= 8 && BN_get_word(e) == k->rsa_exponent;
		BN_free(e);
		return ok ? 1 : differ(why, why_len, "RSA exponent");
	}
	if (id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t glen;
		if (k->type != POL_KEY_EC)
			return differ(why, why_len, "key type: OpenSSL EC");
		if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &glen))
			group[0] = '\0';
		enum pol_curve want = strcmp(group, "prime256v1") == 0 ? POL_CURVE_P256
				      : strcmp(group, "secp384r1") == 0 ? POL_CURVE_P384
				      : strcmp(group, "secp521r1") == 0 ? POL_CURVE_P521
									 : POL_CURVE_OTHER;
		return want == k->curve ? 1 : differ(why, why_len, "curve %s vs %d", group, k->curve);
	}
	if (id == EVP_PKEY_ED25519)
		return k->type == POL_KEY_ED25519 ? 1 : differ(why, why_len, "key type: Ed25519");
	if (id == EVP_PKEY_ED448)
		return k->type == POL_KEY_ED448 ? 1 : differ(why, why_len, "key type: Ed448");
	return k->type == POL_KEY_OTHER ? 1 : differ(why, why_len, "key type: other (%d)", id);
}

static int compare_exts(X509 *x, const struct pol_cert_facts *f, char *why, size_t why_len)
{
	if (X509_get_ext_count(x) != (int)f->exts.num)
		return differ(why, why_len, "extension count %d vs %zu", X509_get_ext_count(x),
			      f->exts.num);
	for (size_t i = 0; i < f->exts.num; i++) {
		X509_EXTENSION *e = X509_get_ext(x, (int)i);
		const ASN1_OBJECT *o = X509_EXTENSION_get_object(e);
		if (!same_bytes(&f->exts.ext[i].oid, OBJ_get0_data(o), (int)OBJ_length(o)) ||
		    (X509_EXTENSION_get_critical(e) != 0) != f->exts.ext[i].critical)
			return differ(why, why_len, "extension %zu OID or criticality", i);
	}
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if ((gens != NULL) != f->has_san) {
		GENERAL_NAMES_free(gens);
		return differ(why, why_len, "SAN presence");
	}
	if (gens != NULL) {
		int ok = sk_GENERAL_NAME_num(gens) == (int)f->num_san;
		for (int i = 0; ok && i < sk_GENERAL_NAME_num(gens); i++)
			ok = same_gn(sk_GENERAL_NAME_value(gens, i), &f->san[i]);
		GENERAL_NAMES_free(gens);
		if (!ok)
			return differ(why, why_len, "SAN entries");
	}
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	if ((bc != NULL) != f->has_basic_constraints) {
		BASIC_CONSTRAINTS_free(bc);
		return differ(why, why_len, "basicConstraints presence");
	}
	if (bc != NULL) {
		int ok = (bc->ca != 0) == f->bc_ca && (bc->pathlen != NULL) == f->bc_has_path_len &&
			 (bc->pathlen == NULL ||
			  (uint64_t)ASN1_INTEGER_get(bc->pathlen) == f->bc_path_len);
		BASIC_CONSTRAINTS_free(bc);
		if (!ok)
			return differ(why, why_len, "basicConstraints values");
	}
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	if ((ku != NULL) != f->has_key_usage) {
		ASN1_BIT_STRING_free(ku);
		return differ(why, why_len, "keyUsage presence");
	}
	if (ku != NULL) {
		uint32_t bits = 0;
		for (int i = 0; i < 9; i++)
			if (ASN1_BIT_STRING_get_bit(ku, i))
				bits |= 1u << i;
		ASN1_BIT_STRING_free(ku);
		if (bits != f->key_usage)
			return differ(why, why_len, "keyUsage %#x vs %#x", bits, f->key_usage);
	}
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	if ((eku != NULL) != f->has_eku) {
		EXTENDED_KEY_USAGE_free(eku);
		return differ(why, why_len, "EKU presence");
	}
	if (eku != NULL) {
		int ok = sk_ASN1_OBJECT_num(eku) == (int)f->num_eku;
		for (int i = 0; ok && i < sk_ASN1_OBJECT_num(eku); i++) {
			ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
			ok = same_bytes(&f->eku[i], OBJ_get0_data(o), (int)OBJ_length(o));
		}
		EXTENDED_KEY_USAGE_free(eku);
		if (!ok)
			return differ(why, why_len, "EKU OIDs");
	}
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
	if ((ski != NULL) != f->has_ski ||
	    (ski != NULL && !same_bytes(&f->ski, ASN1_STRING_get0_data(ski), ASN1_STRING_length(ski))))
		return differ(why, why_len, "SKI");
	const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(x);
	if ((akid != NULL) != (f->aki_key_id.len > 0) ||
	    (akid != NULL &&
	     !same_bytes(&f->aki_key_id, ASN1_STRING_get0_data(akid), ASN1_STRING_length(akid))))
		return differ(why, why_len, "AKI keyIdentifier");
	return 1;
}

int tu_compare_cert(X509 *x, const struct pol_cert_facts *f, char *why, size_t why_len)
{
	if (X509_get_version(x) + 1 != (long)f->version)
		return differ(why, why_len, "version %ld vs %u", X509_get_version(x) + 1, f->version);
	unsigned char *der = NULL;
	int len = i2d_ASN1_INTEGER((ASN1_INTEGER *)X509_get0_serialNumber(x), &der);
	int ok = len > 2 && der[1] < 0x80 && same_bytes(&f->serial, der + 2, len - 2);
	if (len > 2 && der[1] >= 0x80) { /* long form: skip the length octets */
		int hl = 2 + (der[1] & 0x7f);
		ok = same_bytes(&f->serial, der + hl, len - hl);
	}
	OPENSSL_free(der);
	if (!ok)
		return differ(why, why_len, "serial");
	if (!same_name(X509_get_issuer_name(x), &f->issuer))
		return differ(why, why_len, "issuer");
	if (!same_name(X509_get_subject_name(x), &f->subject))
		return differ(why, why_len, "subject");
	if (tu_time(X509_get0_notBefore(x)) != f->not_before)
		return differ(why, why_len, "notBefore");
	if (tu_time(X509_get0_notAfter(x)) != f->not_after)
		return differ(why, why_len, "notAfter");
	const X509_ALGOR *alg = X509_get0_tbs_sigalg(x);
	const ASN1_OBJECT *aobj;
	X509_ALGOR_get0(&aobj, NULL, NULL, alg);
	if (!same_bytes(&f->sig.oid, OBJ_get0_data(aobj), (int)OBJ_length(aobj)))
		return differ(why, why_len, "signature OID");
	if (!compare_key(x, &f->spki, why, why_len))
		return 0;
	return compare_exts(x, f, why, why_len);
}
