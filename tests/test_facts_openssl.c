/*
 * test_facts_openssl.c - the TBSCertificate facts agree with OpenSSL (issue 3 §1).
 *
 * Every certificate of Debian's ca-certificates bundle and a generated corpus is parsed
 * by pol_cert_facts and by OpenSSL (d2i_X509 and its accessors) and the facts compared
 * (tests/policy/testutil.c, tu_compare_cert).  Where the strict parser refuses a bundle
 * certificate, the refusal must be justified: an independent look at the bytes at the
 * reported offset must show the stated violation.  Refused certificates are listed in
 * the test log with their reason.
 */
#include "policy.h"
#include "tests/policy/testutil.h"

#include <check.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define MIN_BUNDLE_CERTS 100
#define WHY_LEN 256
#define RFC5280_GENERALIZED_FROM 2050

static int digits4(const uint8_t *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* An independent check of the refusal: what do the bytes at the offset show?
 * Returns a description when the refusal is justified, NULL otherwise. */
static const char *justify(const uint8_t *tbs, size_t len, const struct der_err *e)
{
	const uint8_t *p = tbs + e->offset;
	size_t left = len - e->offset;
	if (e->offset >= len)
		return NULL;
	switch (e->reason) {
	case DER_E_TIME_TYPE:
		if (left >= 17 && p[0] == 0x18 && p[1] == 15 &&
		    digits4(p + 2) >= 0 && digits4(p + 2) < RFC5280_GENERALIZED_FROM)
			return "GeneralizedTime before 2050 in validity";
		return NULL;
	case DER_E_STRING:
		/* a PrintableString with characters outside its set (OpenSSL's own
		 * classifier says it is not printable) */
		if (left >= 2 && p[0] == 0x13 && p[1] < 0x80 && (size_t)p[1] + 2 <= left &&
		    ASN1_PRINTABLE_type(p + 2, p[1]) != V_ASN1_PRINTABLESTRING)
			return "PrintableString with a character outside its set";
		return NULL;
	case DER_E_DEFAULT:
		if (left >= 3 && p[0] == 0x01 && p[1] == 0x01 && p[2] == 0x00)
			return "BOOLEAN DEFAULT FALSE encoded explicitly";
		if (left >= 5 && p[0] == 0xa0 && p[2] == 0x02 && p[3] == 0x01 && p[4] == 0x00)
			return "version v1 (the DEFAULT) encoded explicitly";
		return NULL;
	case DER_E_BIT_STRING:
		/* a named bit list whose last octet's lowest used bit is 0 */
		if (left >= 4 && p[0] == 0x03 && p[1] >= 2 && (size_t)p[1] + 2 <= left &&
		    (p[1 + p[1]] & (1u << p[2])) == 0)
			return "named bit list with trailing zero bits";
		return NULL;
	case DER_E_LEN_NONMINIMAL:
		if (left >= 3 && (p[1] == 0x81 && p[2] < 0x80))
			return "length in long form below 128";
		if (left >= 3 && p[1] > 0x81 && p[2] == 0)
			return "length with a leading zero octet";
		return NULL;
	case DER_E_INT_NONMINIMAL:
		if (left >= 4 && p[1] >= 2 &&
		    ((p[2] == 0 && !(p[3] & 0x80)) || (p[2] == 0xff && (p[3] & 0x80))))
			return "INTEGER with a redundant leading octet";
		return NULL;
	default:
		return NULL;
	}
}

static char *subject_of(X509 *x, char *buf, size_t len)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
	return buf;
}

START_TEST(test_bundle_facts_agree_with_openssl)
{
	FILE *fp = fopen(BUNDLE, "r");
	ck_assert_msg(fp != NULL, "%s missing: install ca-certificates", BUNDLE);
	int total = 0, agreed = 0, refused = 0, unjustified = 0, differ = 0;
	X509 *x;
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		char name[256], why[WHY_LEN] = "";
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		struct der_cur c = {der, (size_t)n}, cert, tbs;
		struct der_err e;
		struct pol_cert_facts *f = malloc(sizeof(*f));
		ck_assert(f != NULL);
		ck_assert(der_get(&c, DER_SEQUENCE, &cert, NULL));
		ck_assert(der_get_tlv(&cert, DER_SEQUENCE, &tbs, NULL, NULL));
		total++;
		ck_assert_int_eq(pol_classify(tbs.p, tbs.len), POL_KIND_TBS_CERT);
		if (pol_cert_facts(tbs.p, tbs.len, f, &e)) {
			if (tu_compare_cert(x, f, why, sizeof(why))) {
				agreed++;
			} else {
				differ++;
				fprintf(stderr, "DIFFERS: %s: %s\n", subject_of(x, name, sizeof(name)), why);
			}
		} else {
			refused++;
			const char *j = justify(tbs.p, tbs.len, &e);
			fprintf(stderr, "REFUSED%s: %s: %s in %s at offset %zu%s%s\n",
				j ? "" : " (UNJUSTIFIED)", subject_of(x, name, sizeof(name)),
				der_reason_str(e.reason), e.field ? e.field : "-", e.offset,
				j ? ": " : "", j ? j : "");
			if (j == NULL)
				unjustified++;
		}
		free(f);
		OPENSSL_free(der);
		X509_free(x);
	}
	fclose(fp);
	fprintf(stderr, "bundle: %d certificates, %d agree with OpenSSL, %d refused (%d unjustified), "
		"%d differ\n", total, agreed, refused, unjustified, differ);
	ck_assert_int_ge(total, MIN_BUNDLE_CERTS);
	ck_assert_int_eq(differ, 0);
	ck_assert_int_eq(unjustified, 0);
}
END_TEST

/* The generated corpus: every key type under every signing algorithm, with plain,
 * leaf and CA extension sets. */
static void exts_leaf(X509 *x, X509 *ca)
{
	ck_assert(tu_ext_conf(x, ca, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert(tu_ext_conf(x, ca, NID_key_usage, "critical,digitalSignature"));
	ck_assert(tu_ext_conf(x, ca, NID_ext_key_usage, "serverAuth"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_key_identifier, "hash"));
	ck_assert(tu_ext_conf(x, ca, NID_authority_key_identifier, "keyid"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_alt_name,
			      "DNS:www.example.org,DNS:example.org,IP:198.51.100.7,IP:::1,"
			      "email:ops@example.org,URI:spiffe://example.org/svc"));
}

static void exts_ca(X509 *x, X509 *ca)
{
	ck_assert(tu_ext_conf(x, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
	ck_assert(tu_ext_conf(x, ca, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
	ck_assert(tu_ext_conf(x, ca, NID_subject_key_identifier, "hash"));
	ck_assert(tu_ext_conf(x, ca, NID_authority_key_identifier, "keyid:always"));
	ck_assert(tu_ext_conf(x, ca, NID_ext_key_usage, "OCSPSigning,1.3.6.1.4.1.311.10.3.12"));
}

START_TEST(test_generated_corpus_facts_agree_with_openssl)
{
	static const char *keys[] = {"rsa2048", "rsa4096", "p256", "p384", "p521", "ed25519"};
	static const char *signers[] = {"rsa2048", "p256", "p384", "ed25519"};
	void (*sets[])(X509 *, X509 *) = {NULL, exts_leaf, exts_ca};
	int n = 0;
	for (size_t s = 0; s < sizeof(signers) / sizeof(signers[0]); s++) {
		EVP_PKEY *ca_key = tu_key(signers[s]);
		X509 *ca = tu_ca(ca_key);
		const EVP_MD *md = strcmp(signers[s], "ed25519") == 0 ? NULL
				   : strcmp(signers[s], "p384") == 0   ? EVP_sha384()
								       : EVP_sha256();
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			EVP_PKEY *key = tu_key(keys[k]);
			for (size_t e = 0; e < sizeof(sets) / sizeof(sets[0]); e++) {
				X509 *x = tu_leaf(ca, key, "corpus.example.org", (long)(1000 + n));
				if (sets[e])
					sets[e](x, ca);
				size_t len;
				uint8_t *tbs = tu_tbs(x, ca_key, md, -1, &len);
				struct pol_cert_facts f;
				struct der_err err;
				char why[WHY_LEN] = "";
				ck_assert_msg(pol_cert_facts(tbs, len, &f, &err), "%s/%s/%zu: %s",
					      signers[s], keys[k], e, der_reason_str(err.reason));
				ck_assert_msg(tu_compare_cert(x, &f, why, sizeof(why)), "%s/%s/%zu: %s",
					      signers[s], keys[k], e, why);
				OPENSSL_free(tbs);
				X509_free(x);
				n++;
			}
			EVP_PKEY_free(key);
		}
		X509_free(ca);
		EVP_PKEY_free(ca_key);
	}
	ck_assert_int_eq(n, 72);
}
END_TEST

static Suite *facts_openssl_suite(void)
{
	Suite *s = suite_create("facts_openssl");
	TCase *tc = tcase_create("agreement");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bundle_facts_agree_with_openssl);
	tcase_add_test(tc, test_generated_corpus_facts_agree_with_openssl);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(facts_openssl_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
