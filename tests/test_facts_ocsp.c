/*
 * test_facts_ocsp.c - OCSP ResponseData facts (policy-engine/pol_ocsp.c) on responses
 * made with OpenSSL's OCSP_basic API, compared with OpenSSL's accessors, and hostile
 * variants.
 */
#include "policy.h"
#include "tests/policy/testutil.h"

#include <check.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#define NUM_LEAVES 3
#define THIS_UPDATE 1735689600L

struct ocsp_built {
	EVP_PKEY *ca_key, *leaf_key;
	X509 *ca, *leaf[NUM_LEAVES];
	OCSP_BASICRESP *bs;
	uint8_t *rd;
	size_t len;
};

static void ocsp_build(struct ocsp_built *b, unsigned long flags, int nonce)
{
	memset(b, 0, sizeof(*b));
	b->ca_key = tu_key("p256");
	b->ca = tu_ca(b->ca_key);
	b->leaf_key = tu_key("p256");
	b->bs = OCSP_BASICRESP_new();
	ASN1_TIME *thisupd = ASN1_TIME_set(NULL, THIS_UPDATE);
	ASN1_TIME *nextupd = ASN1_TIME_set(NULL, THIS_UPDATE + 86400);
	ASN1_TIME *revtime = ASN1_TIME_set(NULL, THIS_UPDATE - 7200);
	static const int status[NUM_LEAVES] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
					       V_OCSP_CERTSTATUS_UNKNOWN};
	for (int i = 0; i < NUM_LEAVES; i++) {
		b->leaf[i] = tu_leaf(b->ca, b->leaf_key, "leaf", 0x500 + i);
		ck_assert(X509_sign(b->leaf[i], b->ca_key, EVP_sha256()) > 0);
		OCSP_CERTID *id = OCSP_cert_to_id(i == 2 ? EVP_sha256() : NULL, b->leaf[i], b->ca);
		ck_assert(id != NULL);
		ck_assert(OCSP_basic_add1_status(b->bs, id, status[i], OCSP_REVOKED_STATUS_KEYCOMPROMISE,
						 revtime, thisupd, i == 0 ? nextupd : NULL) != NULL);
		OCSP_CERTID_free(id);
	}
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	ASN1_TIME_free(revtime);
	if (nonce)
		ck_assert(OCSP_basic_add1_nonce(b->bs, NULL, 16));
	ck_assert(OCSP_basic_sign(b->bs, b->ca, b->ca_key, EVP_sha256(), NULL, flags | OCSP_NOCERTS));
	int n = i2d_OCSP_RESPDATA((OCSP_RESPDATA *)OCSP_resp_get0_respdata(b->bs), &b->rd);
	ck_assert_int_gt(n, 0);
	b->len = (size_t)n;
}

static void ocsp_free(struct ocsp_built *b)
{
	OPENSSL_free(b->rd);
	OCSP_BASICRESP_free(b->bs);
	for (int i = 0; i < NUM_LEAVES; i++)
		X509_free(b->leaf[i]);
	X509_free(b->ca);
	EVP_PKEY_free(b->ca_key);
	EVP_PKEY_free(b->leaf_key);
}

static int same(const struct der_cur *c, const ASN1_STRING *s)
{
	return der_cur_eq_bytes(c, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

static void check_against_openssl(struct ocsp_built *b, const struct pol_ocsp_facts *f)
{
	const ASN1_OCTET_STRING *keyhash = NULL;
	const X509_NAME *name = NULL;
	ck_assert(OCSP_resp_get0_id(b->bs, &keyhash, &name));
	ck_assert_int_eq(f->responder_by_key, keyhash != NULL);
	if (keyhash != NULL) {
		ck_assert(same(&f->responder_key_hash, keyhash));
	} else {
		unsigned char *der = NULL;
		int n = i2d_X509_NAME((X509_NAME *)name, &der);
		ck_assert(der_cur_eq_bytes(&f->responder_name, der, (size_t)n));
		OPENSSL_free(der);
	}
	ck_assert_int_eq(f->produced_at, tu_time(OCSP_resp_get0_produced_at(b->bs)));
	ck_assert_int_eq((int)f->num_responses, OCSP_resp_count(b->bs));
	for (size_t i = 0; i < f->num_responses; i++) {
		const struct pol_ocsp_single *s = &f->responses[i];
		OCSP_SINGLERESP *single = OCSP_resp_get0(b->bs, (int)i);
		int reason = -1;
		ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
		int st = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
		ck_assert_int_eq((int)s->status, st);
		ck_assert_int_eq(s->reason, reason);
		if (rev)
			ck_assert_int_eq(s->revocation_time, tu_time(rev));
		ck_assert_int_eq(s->this_update, tu_time(thisupd));
		ck_assert_int_eq(s->has_next_update, nextupd != NULL);
		if (nextupd)
			ck_assert_int_eq(s->next_update, tu_time(nextupd));
		ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
		ASN1_OBJECT *md = NULL;
		ASN1_INTEGER *sn = NULL;
		ck_assert(OCSP_id_get0_info(&nh, &md, &kh, &sn, (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(single)));
		ck_assert(same(&s->issuer_name_hash, nh));
		ck_assert(same(&s->issuer_key_hash, kh));
		ck_assert(der_cur_eq_bytes(&s->hash_oid, OBJ_get0_data(md), OBJ_length(md)));
		ck_assert_int_eq(s->hash, OBJ_obj2nid(md) == NID_sha1 ? POL_HASH_SHA1 : POL_HASH_SHA256);
		ck_assert_uint_eq(s->serial.len, 2);
		ck_assert_int_eq((s->serial.p[0] << 8) | s->serial.p[1], ASN1_INTEGER_get(sn));
	}
}

START_TEST(test_ocsp_facts_by_name_agree_with_openssl)
{
	struct ocsp_built b;
	struct pol_ocsp_facts f;
	struct der_err e;
	ocsp_build(&b, 0, 1);
	ck_assert_int_eq(pol_classify(b.rd, b.len), POL_KIND_OCSP_RESPONSE);
	ck_assert_msg(pol_ocsp_facts(b.rd, b.len, &f, &e), "refused: %s in %s",
		      der_reason_str(e.reason), e.field ? e.field : "-");
	ck_assert_uint_eq(f.version, 1);
	ck_assert(!f.responder_by_key);
	ck_assert_uint_eq(f.num_responses, NUM_LEAVES);
	ck_assert_int_eq(f.responses[0].status, POL_OCSP_GOOD);
	ck_assert_int_eq(f.responses[1].status, POL_OCSP_REVOKED);
	ck_assert_int_eq(f.responses[1].reason, 1);
	ck_assert_int_eq(f.responses[2].status, POL_OCSP_UNKNOWN);
	ck_assert(f.has_nonce);
	ck_assert_uint_eq(f.num_unknown_ext, 0);
	check_against_openssl(&b, &f);
	ocsp_free(&b);
}
END_TEST

START_TEST(test_ocsp_facts_by_key_agree_with_openssl)
{
	struct ocsp_built b;
	struct pol_ocsp_facts f;
	struct der_err e;
	ocsp_build(&b, OCSP_RESPID_KEY, 0);
	ck_assert_int_eq(pol_classify(b.rd, b.len), POL_KIND_OCSP_RESPONSE);
	ck_assert(pol_ocsp_facts(b.rd, b.len, &f, &e));
	ck_assert(f.responder_by_key);
	ck_assert(!f.has_nonce);
	check_against_openssl(&b, &f);
	ocsp_free(&b);
}
END_TEST

START_TEST(test_ocsp_rejects_every_truncation)
{
	struct ocsp_built b;
	struct pol_ocsp_facts f;
	struct der_err e;
	ocsp_build(&b, 0, 1);
	for (size_t n = 0; n < b.len; n++)
		ck_assert_msg(!pol_ocsp_facts(b.rd, n, &f, &e), "prefix %zu accepted", n);
	ocsp_free(&b);
}
END_TEST

/* byKey responder, producedAt 20250101000000Z, then responses as given */
#define O_HEAD "a2 16 04 14 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 " \
	"18 0f 32 30 32 35 30 31 30 31 30 30 30 30 30 30 5a"
#define O_CERTID "30 10 30 07 06 05 2b 0e 03 02 1a 04 00 04 00 02 01 05"
#define O_GT "18 0f 32 30 32 35 30 31 30 31 30 30 30 30 30 30 5a"

static void ocsp_reject(const char *head, const char *rest, enum der_reason want)
{
	static struct tu_buf body, out;
	struct pol_ocsp_facts f;
	struct der_err e;
	body.len = out.len = 0;
	tu_hex(&body, head);
	tu_hex(&body, rest);
	tu_tlv(&out, DER_SEQUENCE, &body);
	ck_assert(!pol_ocsp_facts(out.p, out.len, &f, &e));
	ck_assert_msg(e.reason == want, "reason %s in %s", der_reason_str(e.reason),
		      e.field ? e.field : "-");
}

START_TEST(test_ocsp_rejects_hostile_variants)
{
	/* baseline: one good response is accepted */
	static struct tu_buf body, out;
	struct pol_ocsp_facts f;
	struct der_err e;
	tu_hex(&body, O_HEAD "30 27 30 25 " O_CERTID " 80 00 " O_GT);
	tu_tlv(&out, DER_SEQUENCE, &body);
	ck_assert_msg(pol_ocsp_facts(out.p, out.len, &f, &e), "%s", der_reason_str(e.reason));
	ck_assert_int_eq(f.responses[0].status, POL_OCSP_GOOD);
	/* version v1 written out (DEFAULT) */
	ocsp_reject("a0 03 02 01 00 " O_HEAD, "30 00", DER_E_DEFAULT);
	/* good with content */
	ocsp_reject(O_HEAD, "30 28 30 26 " O_CERTID " 80 01 00 " O_GT, DER_E_NULL);
	/* constructed good */
	ocsp_reject(O_HEAD, "30 27 30 25 " O_CERTID " a0 00 " O_GT, DER_E_CONSTRUCTED);
	/* thisUpdate with fractional seconds */
	ocsp_reject(O_HEAD, "30 29 30 27 " O_CERTID " 80 00 18 11 32 30 32 35 30 31 30 31 30 30 30 30 30 30 2e 35 5a",
		    DER_E_TIME);
	/* revoked with reason 7 */
	ocsp_reject(O_HEAD, "30 3d 30 3b " O_CERTID " a1 16 " O_GT " a0 03 0a 01 07 " O_GT, DER_E_VALUE);
	/* key hash of 3 octets */
	ocsp_reject("a2 05 04 03 00 01 02 " O_GT, "30 00", DER_E_VALUE);
	/* duplicate response extensions */
	ocsp_reject(O_HEAD, "30 00 a1 20 30 1e 30 0d 06 09 2b 06 01 05 05 07 30 01 02 04 00 "
		    "30 0d 06 09 2b 06 01 05 05 07 30 01 02 04 00", DER_E_DUPLICATE);
}
END_TEST

static Suite *ocsp_suite(void)
{
	Suite *s = suite_create("facts_ocsp");
	TCase *tc = tcase_create("ocsp");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ocsp_facts_by_name_agree_with_openssl);
	tcase_add_test(tc, test_ocsp_facts_by_key_agree_with_openssl);
	tcase_add_test(tc, test_ocsp_rejects_every_truncation);
	tcase_add_test(tc, test_ocsp_rejects_hostile_variants);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ocsp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
