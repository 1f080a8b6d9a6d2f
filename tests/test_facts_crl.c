/*
 * test_facts_crl.c - TBSCertList facts (policy-engine/pol_crl.c) on CRLs made with
 * OpenSSL's X509_CRL API, a 100k-entry list, and hand-made hostile variants.
 */
#include "policy.h"
#include "tests/policy/testutil.h"

#include <check.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define NUM_ENTRIES 5
#define BIG_CRL_ENTRIES 100000u
#define THIS_UPDATE 1735689600L
#define NEXT_UPDATE (THIS_UPDATE + 7L * 86400L)

struct crl_built {
	EVP_PKEY *ca_key;
	X509 *ca;
	X509_CRL *crl;
	uint8_t *tbs;
	size_t len;
};

static void crl_build(struct crl_built *b)
{
	memset(b, 0, sizeof(*b));
	b->ca_key = tu_key("p256");
	b->ca = tu_ca(b->ca_key);
	b->crl = X509_CRL_new();
	ck_assert(X509_CRL_set_version(b->crl, X509_CRL_VERSION_2));
	ck_assert(X509_CRL_set_issuer_name(b->crl, X509_get_subject_name(b->ca)));
	ASN1_TIME *t = ASN1_TIME_set(NULL, THIS_UPDATE);
	ck_assert(X509_CRL_set1_lastUpdate(b->crl, t));
	ck_assert(ASN1_TIME_set(t, NEXT_UPDATE) != NULL);
	ck_assert(X509_CRL_set1_nextUpdate(b->crl, t));
	for (int i = 0; i < NUM_ENTRIES; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ck_assert(ASN1_INTEGER_set(sn, 0x1000 + i));
		ck_assert(X509_REVOKED_set_serialNumber(r, sn));
		ck_assert(ASN1_TIME_set(t, THIS_UPDATE - 3600 * (i + 1)) != NULL);
		ck_assert(X509_REVOKED_set_revocationDate(r, t));
		if (i % 2 == 0) { /* reason keyCompromise (1) or superseded (4) */
			ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
			ck_assert(ASN1_ENUMERATED_set(reason, i == 0 ? 1 : 4));
			ck_assert(X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0));
			ASN1_ENUMERATED_free(reason);
		}
		if (i == 1) {
			ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, THIS_UPDATE - 86400);
			ck_assert(X509_REVOKED_add1_ext_i2d(r, NID_invalidity_date, gt, 0, 0));
			ASN1_GENERALIZEDTIME_free(gt);
		}
		ck_assert(X509_CRL_add0_revoked(b->crl, r));
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ck_assert(ASN1_INTEGER_set(num, 42));
	ck_assert(X509_CRL_add1_ext_i2d(b->crl, NID_crl_number, num, 0, 0));
	ASN1_INTEGER_free(num);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, b->ca, NULL, NULL, b->crl, 0);
	X509_EXTENSION *aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	ck_assert(aki != NULL);
	ck_assert(X509_CRL_add_ext(b->crl, aki, -1));
	X509_EXTENSION_free(aki);
	ck_assert(X509_CRL_sort(b->crl));
	ck_assert(X509_CRL_sign(b->crl, b->ca_key, EVP_sha256()) > 0);
	int n = i2d_re_X509_CRL_tbs(b->crl, &b->tbs);
	ck_assert_int_gt(n, 0);
	b->len = (size_t)n;
}

static void crl_free(struct crl_built *b)
{
	OPENSSL_free(b->tbs);
	X509_CRL_free(b->crl);
	X509_free(b->ca);
	EVP_PKEY_free(b->ca_key);
}

START_TEST(test_crl_facts_agree_with_openssl)
{
	struct crl_built b;
	struct pol_crl_facts f;
	struct der_err e;
	crl_build(&b);
	ck_assert_int_eq(pol_classify(b.tbs, b.len), POL_KIND_TBS_CRL);
	ck_assert_msg(pol_crl_facts(b.tbs, b.len, &f, &e), "refused: %s in %s",
		      der_reason_str(e.reason), e.field ? e.field : "-");
	ck_assert_uint_eq(f.version, 2);
	ck_assert_int_eq(f.sig.alg, POL_SIG_ECDSA_SHA256);
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(b.ca), &der);
	ck_assert(der_cur_eq_bytes(&f.issuer.raw, der, (size_t)n));
	OPENSSL_free(der);
	ck_assert_int_eq(f.this_update, tu_time(X509_CRL_get0_lastUpdate(b.crl)));
	ck_assert(f.has_next_update);
	ck_assert_int_eq(f.next_update, NEXT_UPDATE);
	ck_assert(f.has_crl_number && f.crl_number.len == 1 && f.crl_number.p[0] == 42);
	ck_assert(f.has_aki);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(b.ca);
	ck_assert(der_cur_eq_bytes(&f.aki_key_id, ASN1_STRING_get0_data(ski),
				   (size_t)ASN1_STRING_length(ski)));
	ck_assert_uint_eq(f.num_revoked, NUM_ENTRIES);
	ck_assert_uint_eq(f.num_unknown_ext, 0);

	/* every entry, in OpenSSL's (sorted) order */
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(b.crl);
	struct pol_crl_iter it;
	struct pol_crl_entry ent;
	int i = 0;
	pol_crl_iter_init(&it, &f, &e);
	while (pol_crl_iter_next(&it, &ent)) {
		X509_REVOKED *r = sk_X509_REVOKED_value(rev, i++);
		long sn = ASN1_INTEGER_get(X509_REVOKED_get0_serialNumber(r));
		ck_assert_uint_eq(ent.serial.len, 2);
		ck_assert_int_eq((ent.serial.p[0] << 8) | ent.serial.p[1], sn);
		ck_assert_int_eq(ent.revocation_date, tu_time(X509_REVOKED_get0_revocationDate(r)));
		int crit;
		ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
		ck_assert_int_eq(ent.reason, reason ? (int)ASN1_ENUMERATED_get(reason) : -1);
		ASN1_ENUMERATED_free(reason);
		ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, &crit, NULL);
		ck_assert_int_eq(ent.has_invalidity_date, inv != NULL);
		if (inv)
			ck_assert_int_eq(ent.invalidity_date, tu_time(inv));
		ASN1_GENERALIZEDTIME_free(inv);
		ck_assert(!ent.has_cert_issuer);
	}
	ck_assert_int_eq(e.reason, DER_OK);
	ck_assert_int_eq(i, NUM_ENTRIES);
	crl_free(&b);
}
END_TEST

START_TEST(test_crl_rejects_every_truncation)
{
	struct crl_built b;
	struct pol_crl_facts f;
	struct der_err e;
	crl_build(&b);
	for (size_t n = 0; n < b.len; n++)
		ck_assert_msg(!pol_crl_facts(b.tbs, n, &f, &e), "prefix %zu accepted", n);
	crl_free(&b);
}
END_TEST

/* A v2 TBSCertList by hand: alg, issuer, thisUpdate, then revoked and extensions. */
#define C_HEAD "02 01 01 30 0a 06 08 2a 86 48 ce 3d 04 03 02 " \
	"30 12 31 10 30 0e 06 03 55 04 03 0c 07 54 65 73 74 20 43 41 " \
	"17 0d 32 35 30 31 30 31 30 30 30 30 30 30 5a"
#define C_ENTRY_TIME "17 0d 32 34 31 32 33 31 30 30 30 30 30 30 5a"

static void crl_reject(const char *head, const char *rest, enum der_reason want)
{
	static struct tu_buf body, out;
	struct pol_crl_facts f;
	struct der_err e;
	body.len = out.len = 0;
	tu_hex(&body, head);
	tu_hex(&body, rest);
	tu_tlv(&out, DER_SEQUENCE, &body);
	ck_assert(!pol_crl_facts(out.p, out.len, &f, &e));
	ck_assert_msg(e.reason == want, "reason %s in %s", der_reason_str(e.reason),
		      e.field ? e.field : "-");
}

START_TEST(test_crl_rejects_hostile_variants)
{
	/* version v1 written out: "if present, MUST be v2" */
	crl_reject("02 01 00 30 0a 06 08 2a 86 48 ce 3d 04 03 02 "
		   "30 12 31 10 30 0e 06 03 55 04 03 0c 07 54 65 73 74 20 43 41 "
		   "17 0d 32 35 30 31 30 31 30 30 30 30 30 30 5a", "", DER_E_VERSION);
	/* an empty revokedCertificates must be absent */
	crl_reject(C_HEAD, "30 00", DER_E_EMPTY);
	/* negative and oversized CRL numbers */
	crl_reject(C_HEAD, "a0 0e 30 0c 30 0a 06 03 55 1d 14 04 03 02 01 ff", DER_E_INT_NEGATIVE);
	crl_reject(C_HEAD, "a0 23 30 21 30 1f 06 03 55 1d 14 04 18 02 16 "
		   "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16", DER_E_INT_RANGE);
	/* reason code 7 does not exist */
	crl_reject(C_HEAD, "30 22 30 20 02 01 01 " C_ENTRY_TIME " 30 0c 30 0a 06 03 55 1d 15 04 03 0a 01 07",
		   DER_E_VALUE);
	/* entry extensions in a v1 list */
	crl_reject("30 0a 06 08 2a 86 48 ce 3d 04 03 02 "
		   "30 12 31 10 30 0e 06 03 55 04 03 0c 07 54 65 73 74 20 43 41 "
		   "17 0d 32 35 30 31 30 31 30 30 30 30 30 30 5a",
		   "30 22 30 20 02 01 01 " C_ENTRY_TIME " 30 0c 30 0a 06 03 55 1d 15 04 03 0a 01 01",
		   DER_E_VERSION);
	/* duplicate crlExtensions */
	crl_reject(C_HEAD, "a0 1a 30 18 30 0a 06 03 55 1d 14 04 03 02 01 01 30 0a 06 03 55 1d 14 04 03 02 01 02",
		   DER_E_DUPLICATE);
	/* nextUpdate GeneralizedTime before 2050 */
	crl_reject(C_HEAD, "18 0f 32 30 32 35 30 32 30 31 30 30 30 30 30 30 5a", DER_E_TIME_TYPE);
	/* IDP onlyContainsUserCerts FALSE written out */
	crl_reject(C_HEAD, "a0 13 30 11 30 0f 06 03 55 1d 1c 01 01 ff 04 05 30 03 81 01 00", DER_E_DEFAULT);
	/* IDP onlyContainsUserCerts not a DER BOOLEAN */
	crl_reject(C_HEAD, "a0 13 30 11 30 0f 06 03 55 1d 1c 01 01 ff 04 05 30 03 81 01 01", DER_E_BOOLEAN);
}
END_TEST

START_TEST(test_crl_idp_flags_and_delta)
{
	static struct tu_buf body, out;
	struct pol_crl_facts f;
	struct der_err e;
	body.len = out.len = 0;
	tu_hex(&body, C_HEAD);
	/* IDP { onlyContainsUserCerts TRUE } critical; deltaCRLIndicator 7 */
	tu_hex(&body, "a0 20 30 1e 30 0f 06 03 55 1d 1c 01 01 ff 04 05 30 03 81 01 ff "
		      "30 0b 06 03 55 1d 1b 04 04 02 02 00 ff");
	tu_tlv(&out, DER_SEQUENCE, &body);
	ck_assert_int_eq(pol_classify(out.p, out.len), POL_KIND_TBS_CRL);
	ck_assert_msg(pol_crl_facts(out.p, out.len, &f, &e), "%s", der_reason_str(e.reason));
	ck_assert(f.has_idp && f.idp_critical);
	ck_assert_uint_eq(f.idp_flags, POL_IDP_ONLY_USER);
	ck_assert(f.has_delta && f.delta_base.len == 2);
	ck_assert_uint_eq(f.num_revoked, 0);
}
END_TEST

START_TEST(test_crl_with_100k_entries_iterates)
{
	/* entry: 30 15 02 04 ss ss ss ss 17 0d <time> = 23 octets */
	enum { ENTRY_LEN = 23 };
	static struct tu_buf head;
	head.len = 0;
	tu_hex(&head, C_HEAD);
	size_t rev_len = (size_t)BIG_CRL_ENTRIES * ENTRY_LEN;
	size_t body_len = head.len + 5 + rev_len;
	ck_assert_uint_lt(body_len, 1u << 24);
	uint8_t *buf = malloc(5 + body_len);
	ck_assert(buf != NULL);
	size_t n = 0;
	const uint8_t outer[5] = {0x30, 0x83, (uint8_t)(body_len >> 16), (uint8_t)(body_len >> 8),
				  (uint8_t)body_len};
	memcpy(buf + n, outer, 5);
	n += 5;
	memcpy(buf + n, head.p, head.len);
	n += head.len;
	const uint8_t rev[5] = {0x30, 0x83, (uint8_t)(rev_len >> 16), (uint8_t)(rev_len >> 8),
				(uint8_t)rev_len};
	memcpy(buf + n, rev, 5);
	n += 5;
	static const uint8_t t[] = "241231000000Z";
	for (uint32_t i = 0; i < BIG_CRL_ENTRIES; i++) {
		uint32_t sn = 0x10000000u + i;
		uint8_t ent[ENTRY_LEN] = {0x30, 0x15, 0x02, 0x04, (uint8_t)(sn >> 24), (uint8_t)(sn >> 16),
					  (uint8_t)(sn >> 8), (uint8_t)sn, 0x17, 0x0d};
		memcpy(ent + 10, t, 13);
		memcpy(buf + n, ent, sizeof(ent));
		n += sizeof(ent);
	}
	ck_assert_uint_eq(n, 5 + body_len);
	struct pol_crl_facts f;
	struct der_err e;
	ck_assert_int_eq(pol_classify(buf, n), POL_KIND_TBS_CRL);
	ck_assert_msg(pol_crl_facts(buf, n, &f, &e), "%s at %zu", der_reason_str(e.reason), e.offset);
	ck_assert_uint_eq(f.num_revoked, BIG_CRL_ENTRIES);
	struct pol_crl_iter it;
	struct pol_crl_entry ent;
	uint32_t count = 0;
	pol_crl_iter_init(&it, &f, &e);
	while (pol_crl_iter_next(&it, &ent)) {
		ck_assert_uint_eq(ent.serial.p[3], (uint8_t)count);
		count++;
	}
	ck_assert_uint_eq(count, BIG_CRL_ENTRIES);
	free(buf);
}
END_TEST

static Suite *crl_suite(void)
{
	Suite *s = suite_create("facts_crl");
	TCase *tc = tcase_create("crl");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crl_facts_agree_with_openssl);
	tcase_add_test(tc, test_crl_rejects_every_truncation);
	tcase_add_test(tc, test_crl_rejects_hostile_variants);
	tcase_add_test(tc, test_crl_idp_flags_and_delta);
	tcase_add_test(tc, test_crl_with_100k_entries_iterates);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crl_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
