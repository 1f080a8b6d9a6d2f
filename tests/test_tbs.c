/*
 * test_tbs.c - classification and TBSCertificate facts (policy-engine/pol_cert.c).
 *
 * Certificates are built with OpenSSL's X509 API (RSA, EC, Ed25519 keys; every
 * extension type) and their facts compared with OpenSSL's accessors; hand-built and
 * mutated TBSCertificates check every refusal with its reason.
 */
#include "policy.h"
#include "pol_internal.h"
#include "tests/policy/testutil.h"

#include <check.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define WHY_LEN 256

struct built {
	EVP_PKEY *ca_key, *key;
	X509 *ca, *x;
	uint8_t *tbs;
	size_t len;
};

static void built_free(struct built *b)
{
	OPENSSL_free(b->tbs);
	X509_free(b->x);
	X509_free(b->ca);
	EVP_PKEY_free(b->key);
	EVP_PKEY_free(b->ca_key);
}

static void build(struct built *b, const char *ca_kind, const char *kind, const EVP_MD *md,
		  int pss_salt, void (*add_exts)(X509 *x, X509 *ca))
{
	memset(b, 0, sizeof(*b));
	b->ca_key = tu_key(ca_kind);
	b->ca = tu_ca(b->ca_key);
	b->key = tu_key(kind);
	b->x = tu_leaf(b->ca, b->key, "leaf.example.com", 0x1234567890abcdefL);
	if (add_exts != NULL)
		add_exts(b->x, b->ca);
	b->tbs = tu_tbs(b->x, b->ca_key, md, pss_salt, &b->len);
}

static void facts_ok(const struct built *b, struct pol_cert_facts *f)
{
	struct der_err e;
	char why[WHY_LEN] = "";
	ck_assert_int_eq(pol_classify(b->tbs, b->len), POL_KIND_TBS_CERT);
	ck_assert_msg(pol_cert_facts(b->tbs, b->len, f, &e), "refused: %s at %zu in %s",
		      der_reason_str(e.reason), e.offset, e.field ? e.field : "-");
	ck_assert_msg(tu_compare_cert(b->x, f, why, sizeof(why)), "differs from OpenSSL: %s", why);
}

static void leaf_exts(X509 *x, X509 *ca)
{
	ck_assert(tu_ext_conf(x, ca, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert(tu_ext_conf(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
	ck_assert(tu_ext_conf(x, ca, NID_ext_key_usage, "serverAuth,clientAuth"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_key_identifier, "hash"));
	ck_assert(tu_ext_conf(x, ca, NID_authority_key_identifier, "keyid:always"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_alt_name, "DNS:leaf.example.com"));
}

START_TEST(test_tbs_rsa_leaf_facts_agree_with_openssl)
{
	struct built b;
	struct pol_cert_facts f;
	build(&b, "rsa2048", "rsa2048", EVP_sha256(), -1, leaf_exts);
	facts_ok(&b, &f);
	ck_assert_uint_eq(f.version, 3);
	ck_assert_int_eq(f.sig.alg, POL_SIG_RSA_PKCS1_SHA256);
	ck_assert(f.sig.params_null);
	ck_assert_int_eq(f.spki.type, POL_KEY_RSA);
	ck_assert_uint_eq(f.spki.rsa_bits, 2048);
	ck_assert_uint_eq(f.spki.rsa_exponent, 65537);
	ck_assert_uint_eq(f.subject.num_cn, 1);
	ck_assert(der_cur_eq_bytes(&f.subject.cn, (const uint8_t *)"leaf.example.com", 16));
	ck_assert(der_cur_eq(&f.issuer.raw, &f.issuer.raw));
	ck_assert_int_eq(f.not_before, 1735689600);
	ck_assert_int_eq(f.not_after, 1735689600 + 90 * 86400);
	ck_assert(f.has_basic_constraints && f.bc_critical && !f.bc_ca);
	ck_assert_uint_eq(f.key_usage, POL_KU_DIGITAL_SIGNATURE | POL_KU_KEY_ENCIPHERMENT);
	ck_assert_uint_eq(f.eku_flags, POL_EKU_SERVER_AUTH | POL_EKU_CLIENT_AUTH);
	ck_assert(f.has_aki && f.aki_key_id.len == 20 && !f.aki_has_issuer_serial);
	ck_assert(f.serial.len == 8 && f.serial.p[0] == 0x12 && !f.serial_negative);
	built_free(&b);
}
END_TEST

START_TEST(test_tbs_ec_and_ed25519_keys_and_signatures)
{
	static const struct {
		const char *ca, *key;
		const EVP_MD *(*md)(void);
		enum pol_sigalg sig;
		enum pol_key_type type;
		enum pol_curve curve;
	} v[] = {
		{"p256", "p256", EVP_sha256, POL_SIG_ECDSA_SHA256, POL_KEY_EC, POL_CURVE_P256},
		{"p384", "p384", EVP_sha384, POL_SIG_ECDSA_SHA384, POL_KEY_EC, POL_CURVE_P384},
		{"p384", "p521", EVP_sha512, POL_SIG_ECDSA_SHA512, POL_KEY_EC, POL_CURVE_P521},
		{"ed25519", "ed25519", NULL, POL_SIG_ED25519, POL_KEY_ED25519, POL_CURVE_NONE},
		{"rsa2048", "p256", EVP_sha384, POL_SIG_RSA_PKCS1_SHA384, POL_KEY_EC, POL_CURVE_P256},
		{"rsa2048", "rsa3072", EVP_sha512, POL_SIG_RSA_PKCS1_SHA512, POL_KEY_RSA, POL_CURVE_NONE},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct built b;
		struct pol_cert_facts f;
		build(&b, v[i].ca, v[i].key, v[i].md ? v[i].md() : NULL, -1, leaf_exts);
		facts_ok(&b, &f);
		ck_assert_int_eq(f.sig.alg, v[i].sig);
		ck_assert_int_eq(f.sig.params.len, v[i].sig >= POL_SIG_ECDSA_SHA256 ? 0 : 2);
		ck_assert_int_eq(f.spki.type, v[i].type);
		ck_assert_int_eq(f.spki.curve, v[i].curve);
		if (v[i].type == POL_KEY_RSA)
			ck_assert_uint_eq(f.spki.rsa_bits, 3072);
		built_free(&b);
	}
}
END_TEST

START_TEST(test_tbs_pss_parameters_parsed)
{
	struct built b;
	struct pol_cert_facts f;
	build(&b, "rsa2048", "p256", EVP_sha256(), 32, leaf_exts);
	facts_ok(&b, &f);
	ck_assert_int_eq(f.sig.alg, POL_SIG_RSA_PSS);
	ck_assert_int_eq(f.sig.pss_hash, POL_HASH_SHA256);
	ck_assert_int_eq(f.sig.pss_mgf1_hash, POL_HASH_SHA256);
	ck_assert_uint_eq(f.sig.pss_salt_len, 32);
	ck_assert_uint_eq(f.sig.pss_trailer, 1);
	built_free(&b);
	build(&b, "rsa2048", "p256", EVP_sha384(), 48, NULL);
	facts_ok(&b, &f);
	ck_assert_int_eq(f.sig.pss_hash, POL_HASH_SHA384);
	ck_assert_int_eq(f.sig.pss_mgf1_hash, POL_HASH_SHA384);
	ck_assert_uint_eq(f.sig.pss_salt_len, 48);
	built_free(&b);
}
END_TEST

/* step-ca provisioner: type 1, name "admin", credentialID "cid", ["k=v", UTF8 "é"] */
static const char provisioner_hex[] =
	"30 1b 02 01 01 04 05 61 64 6d 69 6e 04 03 63 69 64 30 0a 13 03 6b 3d 76 0c 03 c3 a9 21";
static const char sct_hex[] = "04 06 00 04 01 02 03 04";

static void all_exts(X509 *x, X509 *ca)
{
	struct tu_buf b = {.len = 0};
	ck_assert(tu_ext_conf(x, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:2"));
	ck_assert(tu_ext_conf(x, ca, NID_key_usage, "critical,keyCertSign,cRLSign,decipherOnly"));
	ck_assert(tu_ext_conf(x, ca, NID_ext_key_usage,
			      "serverAuth,clientAuth,codeSigning,emailProtection,timeStamping,"
			      "OCSPSigning,anyExtendedKeyUsage,1.2.3.4.5"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_key_identifier, "hash"));
	ck_assert(tu_ext_conf(x, ca, NID_authority_key_identifier, "keyid:always,issuer:always"));
	ck_assert(tu_ext_conf(x, ca, NID_name_constraints,
			      "critical,permitted;DNS:.example.com,excluded;IP:10.0.0.0/255.0.0.0"));
	ck_assert(tu_ext_conf(x, ca, NID_crl_distribution_points,
			      "URI:http://crl.example/ca.crl,URI:ldap://crl.example/x"));
	ck_assert(tu_ext_conf(x, ca, NID_info_access,
			      "OCSP;URI:http://ocsp.example,caIssuers;URI:http://ca.example/ca.crt"));
	/* certificatePolicies 2.23.140.1.2.1 and 1.3.6.1.4.1.99999.1 (conf syntax needs a db) */
	tu_hex(&b, "30 17 30 08 06 06 67 81 0c 01 02 01 30 0b 06 09 2b 06 01 04 01 86 8d 1f 01");
	ck_assert(tu_ext_raw(x, "2.5.29.32", 0, b.p, b.len));
	b.len = 0;
	/* SAN with every type, directoryName through the GENERAL_NAME API */
	GENERAL_NAMES *gens = NULL;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	STACK_OF(CONF_VALUE) *list = X509V3_parse_list(
		"DNS:a.example.com,DNS:*.b.example,IP:192.0.2.1,IP:2001:db8::1,"
		"email:x@example.com,URI:https://example.com/p,"
		"otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.com,RID:1.2.3.4");
	gens = v2i_GENERAL_NAMES(NULL, &ctx, list);
	sk_CONF_VALUE_pop_free(list, X509V3_conf_free);
	ck_assert(gens != NULL);
	GENERAL_NAME *dn = GENERAL_NAME_new();
	dn->type = GEN_DIRNAME;
	dn->d.directoryName = X509_NAME_dup(X509_get_subject_name(ca));
	ck_assert(sk_GENERAL_NAME_push(gens, dn));
	ck_assert(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1);
	GENERAL_NAMES_free(gens);
	tu_hex(&b, provisioner_hex);
	ck_assert(tu_ext_raw(x, "1.3.6.1.4.1.37476.9000.64.1", 0, b.p, b.len));
	b.len = 0;
	tu_hex(&b, sct_hex);
	ck_assert(tu_ext_raw(x, "1.3.6.1.4.1.11129.2.4.2", 0, b.p, b.len));
	static const uint8_t unknown[] = {0x04, 0x01, 0x42};
	ck_assert(tu_ext_raw(x, "1.2.3.4.5.6", 0, unknown, sizeof(unknown)));
	ck_assert(tu_ext_raw(x, "1.2.3.4.5.7", 1, unknown, sizeof(unknown)));
}

START_TEST(test_tbs_every_extension_parsed)
{
	struct built b;
	struct pol_cert_facts f;
	build(&b, "p256", "p256", EVP_sha256(), -1, all_exts);
	facts_ok(&b, &f);
	ck_assert(f.bc_ca && f.bc_has_path_len && f.bc_path_len == 2);
	ck_assert_uint_eq(f.key_usage, POL_KU_KEY_CERT_SIGN | POL_KU_CRL_SIGN | POL_KU_DECIPHER_ONLY);
	ck_assert_uint_eq(f.num_eku, 8);
	ck_assert_uint_eq(f.eku_flags, 0xff);
	ck_assert(f.has_aki && f.aki_has_issuer_serial);
	ck_assert(f.has_name_constraints && f.nc_critical);
	ck_assert_uint_eq(f.num_crl_dp_uris, 2);
	ck_assert(der_cur_eq_bytes(&f.crl_dp_uris[0], (const uint8_t *)"http://crl.example/ca.crl", 25));
	ck_assert_uint_eq(f.num_ocsp_uris, 1);
	ck_assert(der_cur_eq_bytes(&f.ocsp_uris[0], (const uint8_t *)"http://ocsp.example", 19));
	ck_assert_uint_eq(f.num_ca_issuers_uris, 1);
	ck_assert_uint_eq(f.num_policies, 2);
	ck_assert_uint_eq(f.num_san, 9);
	ck_assert_int_eq(f.san[0].type, POL_GN_DNS);
	ck_assert_int_eq(f.san[2].type, POL_GN_IP);
	ck_assert_uint_eq(f.san[2].value.len, 4);
	ck_assert_uint_eq(f.san[3].value.len, 16);
	ck_assert_int_eq(f.san[4].type, POL_GN_RFC822);
	ck_assert_int_eq(f.san[5].type, POL_GN_URI);
	ck_assert(f.san_has_other_name && f.san_has_dirname && f.san_has_other_type);
	ck_assert(f.has_provisioner);
	ck_assert_uint_eq(f.provisioner.type, 1);
	ck_assert(der_cur_eq_bytes(&f.provisioner.name, (const uint8_t *)"admin", 5));
	ck_assert(der_cur_eq_bytes(&f.provisioner.credential_id, (const uint8_t *)"cid", 3));
	ck_assert_uint_eq(f.provisioner.num_kv, 2);
	ck_assert_uint_eq(f.provisioner.kv[1].tag, DER_UTF8_STRING);
	ck_assert(f.has_sct_list && f.sct_list.len == 6);
	ck_assert_uint_eq(f.num_unknown_ext, 2);
	ck_assert_uint_eq(f.num_unknown_critical, 1);
	built_free(&b);
}
END_TEST

static void poison(X509 *x, X509 *ca)
{
	static const uint8_t null_der[] = {0x05, 0x00};
	leaf_exts(x, ca);
	ck_assert(tu_ext_raw(x, "1.3.6.1.4.1.11129.2.4.3", 1, null_der, sizeof(null_der)));
}

START_TEST(test_tbs_ct_poison_precertificate)
{
	struct built b;
	struct pol_cert_facts f;
	build(&b, "p256", "p256", EVP_sha256(), -1, poison);
	facts_ok(&b, &f);
	ck_assert(f.has_ct_poison);
	ck_assert_uint_eq(f.num_unknown_ext, 0);
	built_free(&b);
}
END_TEST

START_TEST(test_classify_kinds)
{
	struct built b;
	build(&b, "p256", "p256", EVP_sha256(), -1, NULL);
	ck_assert_int_eq(pol_classify(b.tbs, b.len), POL_KIND_TBS_CERT);
	/* a whole Certificate is not what is signed */
	uint8_t *der = NULL;
	int n = i2d_X509(b.x, &der);
	ck_assert_int_eq(pol_classify(der, (size_t)n), POL_KIND_OTHER);
	OPENSSL_free(der);
	/* a v1 TBSCertificate (no version) */
	ck_assert(X509_set_version(b.x, X509_VERSION_1));
	size_t len;
	uint8_t *v1 = tu_tbs(b.x, b.ca_key, EVP_sha256(), -1, &len);
	ck_assert_int_eq(pol_classify(v1, len), POL_KIND_TBS_CERT);
	struct pol_cert_facts f;
	struct der_err e;
	ck_assert(pol_cert_facts(v1, len, &f, &e));
	ck_assert_uint_eq(f.version, 1);
	OPENSSL_free(v1);
	/* a CSR's CertificationRequestInfo, a digest, garbage, trailing bytes */
	X509_REQ *req = X509_to_X509_REQ(b.x, b.key, EVP_sha256());
	ck_assert(req != NULL);
	der = NULL;
	n = i2d_re_X509_REQ_tbs(req, &der);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(pol_classify(der, (size_t)n), POL_KIND_OTHER);
	OPENSSL_free(der);
	X509_REQ_free(req);
	static const uint8_t digest[32] = {0x30, 0x1e};
	ck_assert_int_eq(pol_classify(digest, sizeof(digest)), POL_KIND_OTHER);
	ck_assert_int_eq(pol_classify(NULL, 0), POL_KIND_OTHER);
	uint8_t *longer = malloc(b.len + 1);
	memcpy(longer, b.tbs, b.len);
	longer[b.len] = 0;
	ck_assert_int_eq(pol_classify(longer, b.len + 1), POL_KIND_OTHER);
	free(longer);
	built_free(&b);
}
END_TEST

START_TEST(test_oid_constants_match_openssl)
{
	static const struct {
		const uint8_t *der;
		size_t len;
		const char *text;
	} v[] = {
#define O(c, t) {c, sizeof(c), t}
		O(OID_RSA_ENCRYPTION, "1.2.840.113549.1.1.1"), O(OID_MGF1, "1.2.840.113549.1.1.8"),
		O(OID_RSASSA_PSS, "1.2.840.113549.1.1.10"), O(OID_SHA256_RSA, "1.2.840.113549.1.1.11"),
		O(OID_SHA384_RSA, "1.2.840.113549.1.1.12"), O(OID_SHA512_RSA, "1.2.840.113549.1.1.13"),
		O(OID_EC_PUBLIC_KEY, "1.2.840.10045.2.1"), O(OID_ECDSA_SHA256, "1.2.840.10045.4.3.2"),
		O(OID_ECDSA_SHA384, "1.2.840.10045.4.3.3"), O(OID_ECDSA_SHA512, "1.2.840.10045.4.3.4"),
		O(OID_P256, "1.2.840.10045.3.1.7"), O(OID_P384, "1.3.132.0.34"),
		O(OID_P521, "1.3.132.0.35"), O(OID_ED25519, "1.3.101.112"), O(OID_ED448, "1.3.101.113"),
		O(OID_SHA1, "1.3.14.3.2.26"), O(OID_SHA256, "2.16.840.1.101.3.4.2.1"),
		O(OID_SHA384, "2.16.840.1.101.3.4.2.2"), O(OID_SHA512, "2.16.840.1.101.3.4.2.3"),
		O(OID_SHA224, "2.16.840.1.101.3.4.2.4"), O(OID_AT_CN, "2.5.4.3"),
		O(OID_AT_EMAIL, "1.2.840.113549.1.9.1"), O(OID_AT_DC, "0.9.2342.19200300.100.1.25"),
		O(OID_CE_AKI, "2.5.29.35"), O(OID_CE_INHIBIT_ANY_POLICY, "2.5.29.54"),
		O(OID_ANY_EKU, "2.5.29.37.0"), O(OID_PE_AIA, "1.3.6.1.5.5.7.1.1"),
		O(OID_KP_OCSP_SIGNING, "1.3.6.1.5.5.7.3.9"), O(OID_AD_CA_ISSUERS, "1.3.6.1.5.5.7.48.2"),
		O(OID_OCSP_NONCE, "1.3.6.1.5.5.7.48.1.2"), O(OID_CT_SCT_LIST, "1.3.6.1.4.1.11129.2.4.2"),
		O(OID_CT_POISON, "1.3.6.1.4.1.11129.2.4.3"),
		O(OID_STEP_PROVISIONER, "1.3.6.1.4.1.37476.9000.64.1"),
#undef O
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(v[i].text, 1);
		ck_assert(o != NULL);
		ck_assert_msg(OBJ_length(o) == v[i].len && memcmp(OBJ_get0_data(o), v[i].der, v[i].len) == 0,
			      "OID constant for %s is wrong", v[i].text);
		ASN1_OBJECT_free(o);
		char text[80];
		struct der_cur c = {v[i].der, v[i].len};
		ck_assert(der_oid_to_text(&c, text, sizeof(text)));
		ck_assert_str_eq(text, v[i].text);
	}
}
END_TEST

START_TEST(test_tbs_rejects_every_truncation)
{
	struct built b;
	struct pol_cert_facts f;
	struct der_err e;
	build(&b, "p256", "p256", EVP_sha256(), -1, all_exts);
	for (size_t n = 0; n < b.len; n++) {
		ck_assert_msg(!pol_cert_facts(b.tbs, n, &f, &e), "prefix %zu accepted", n);
		ck_assert_int_ne(e.reason, DER_OK);
	}
	built_free(&b);
}
END_TEST

START_TEST(test_tbs_bit_flips_never_crash)
{
	struct built b;
	struct pol_cert_facts f;
	struct der_err e;
	size_t refused = 0;
	build(&b, "p256", "p256", EVP_sha256(), -1, all_exts);
	for (size_t i = 0; i < b.len * 8; i++) {
		b.tbs[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (!pol_cert_facts(b.tbs, b.len, &f, &e)) {
			refused++;
			ck_assert_int_ne(e.reason, DER_OK);
			ck_assert_uint_le(e.offset, b.len);
		}
		b.tbs[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	ck_assert_uint_gt(refused, b.len); /* most flips break the structure */
	built_free(&b);
}
END_TEST

/* Re-encodes the outer SEQUENCE header of a real TBS as given. */
static void reframe(const struct built *b, const char *hdr_hex, const char *tail_hex,
		    enum der_reason want)
{
	struct der_cur c = {b->tbs, b->len}, tlv;
	size_t hl;
	struct der_err e;
	struct pol_cert_facts f;
	ck_assert(der_get_tlv(&c, DER_SEQUENCE, &tlv, &hl, &e));
	static struct tu_buf out;
	out.len = 0;
	tu_hex(&out, hdr_hex);
	tu_put(&out, b->tbs + hl, b->len - hl);
	tu_hex(&out, tail_hex);
	ck_assert(!pol_cert_facts(out.p, out.len, &f, &e));
	ck_assert_msg(e.reason == want, "reason %s", der_reason_str(e.reason));
}

START_TEST(test_tbs_rejects_ber_outer_encodings)
{
	struct built b;
	char hdr[32];
	build(&b, "p256", "p256", EVP_sha256(), -1, leaf_exts);
	size_t body = b.len - 4; /* OpenSSL wrote 30 82 xx xx */
	ck_assert_uint_eq(b.tbs[1], 0x82);
	reframe(&b, "30 80", "00 00", DER_E_INDEFINITE);
	snprintf(hdr, sizeof(hdr), "30 83 00 %02zx %02zx", body >> 8, body & 0xff);
	reframe(&b, hdr, "", DER_E_LEN_NONMINIMAL);
	snprintf(hdr, sizeof(hdr), "30 82 %02zx %02zx", body >> 8, body & 0xff);
	reframe(&b, hdr, "00", DER_E_TRAILING);
	snprintf(hdr, sizeof(hdr), "10 82 %02zx %02zx", body >> 8, body & 0xff);
	reframe(&b, hdr, "", DER_E_CONSTRUCTED);
	built_free(&b);
}
END_TEST

static void dup_ext(X509 *x, X509 *ca)
{
	static const uint8_t v[] = {0x04, 0x01, 0x42};
	leaf_exts(x, ca);
	ck_assert(tu_ext_raw(x, "1.2.3.4.5.6", 0, v, sizeof(v)));
	ck_assert(tu_ext_raw(x, "1.2.3.4.5.6", 0, v, sizeof(v)));
}

START_TEST(test_tbs_rejects_duplicate_extension)
{
	struct built b;
	struct pol_cert_facts f;
	struct der_err e;
	build(&b, "p256", "p256", EVP_sha256(), -1, dup_ext);
	ck_assert(!pol_cert_facts(b.tbs, b.len, &f, &e));
	ck_assert_int_eq(e.reason, DER_E_DUPLICATE);
	ck_assert_str_eq(e.field, "extensions");
	built_free(&b);
}
END_TEST

#include "tests/policy/tbs_hostile.inc"

static Suite *tbs_suite(void)
{
	Suite *s = suite_create("tbs");
	TCase *tc = tcase_create("openssl_built");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tbs_rsa_leaf_facts_agree_with_openssl);
	tcase_add_test(tc, test_tbs_ec_and_ed25519_keys_and_signatures);
	tcase_add_test(tc, test_tbs_pss_parameters_parsed);
	tcase_add_test(tc, test_tbs_every_extension_parsed);
	tcase_add_test(tc, test_tbs_ct_poison_precertificate);
	tcase_add_test(tc, test_classify_kinds);
	tcase_add_test(tc, test_oid_constants_match_openssl);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tbs_rejects_every_truncation);
	tcase_add_test(tc, test_tbs_bit_flips_never_crash);
	tcase_add_test(tc, test_tbs_rejects_ber_outer_encodings);
	tcase_add_test(tc, test_tbs_rejects_duplicate_extension);
	add_hostile_tests(tc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tbs_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
