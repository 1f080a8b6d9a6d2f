/*
 * test_audit_reconcile.c - `warden-audit reconcile --policy`, end to end: certificates
 * made and signed with OpenSSL by a test CA (tests/policy/poltest.h), a log written
 * through the audit library with SIGN records like the enclave's, and the real
 * warden-audit binary (AUD_TEST_TOOL) run on them; exit status and report lines checked.
 */
#include <openssl/pem.h>

#include "test_audit_tool.h"

#define CKM_ECDSA_ 0x1041u
#define CKM_ECDSA_SHA256_ 0x1044u
#define OUT_MAX (64u * 1024u)

static const char policy_json[] =
	"{\"version\":1,"
	"\"signingKeys\":{\"ca\":{\"prehashed\":\"audit\"}},"
	"\"profiles\":{\"web\":{\"match\":{},"
	"\"names\":{\"allow\":{\"dns\":[\"*.example.com\"]}}}}}";

/* The same policy, but raw digests are no longer accepted. */
static const char policy_no_prehash_json[] =
	"{\"version\":1,"
	"\"signingKeys\":{\"ca\":{\"prehashed\":\"deny\"}},"
	"\"profiles\":{\"web\":{\"match\":{},"
	"\"names\":{\"allow\":{\"dns\":[\"*.example.com\"]}}}}}";

static struct pt_ca ca;
static EVP_PKEY *leaf_key;
static char *dir, logdir[256], certdir[256], policy[256], policy2[256], ca_pem[256];
static struct aud_log *log_;
static char out[OUT_MAX];

/* The log's genesis: the key "ca" with its SPKI and, when with_cert, the CA certificate
 * (what the enclave records per key in its genesis/config records). */
static void open_log(bool with_cert)
{
	log_ = at_open_log(logdir, &ca, with_cert, "reconcile test");
}

static void setup(void)
{
	dir = tu_tmpdir();
	snprintf(logdir, sizeof logdir, "%s/log", dir);
	snprintf(certdir, sizeof certdir, "%s/certs", dir);
	snprintf(policy, sizeof policy, "%s/policy.json", dir);
	snprintf(policy2, sizeof policy2, "%s/policy-no-prehash.json", dir);
	snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", dir);
	ck_assert_int_eq(mkdir(logdir, 0700), 0);
	ck_assert_int_eq(mkdir(certdir, 0700), 0);
	at_write_file(policy, policy_json, strlen(policy_json));
	at_write_file(policy2, policy_no_prehash_json, strlen(policy_no_prehash_json));
	pt_ca_init(&ca, "p256");
	leaf_key = tu_key("p256");
	FILE *f = fopen(ca_pem, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_X509(f, ca.cert));
	ck_assert_int_eq(fclose(f), 0);
	log_ = NULL;
}

static void teardown(void)
{
	aud_close(log_);
	EVP_PKEY_free(leaf_key);
	pt_ca_free(&ca);
	tu_rmrf(dir);
	free(dir);
}

enum how { FULL, PREHASHED, NOT_LOGGED };

/* A leaf for dns, signed by the CA with ECDSA-SHA256, written to certs/name.pem, and
 * (unless NOT_LOGGED) an allowed SIGN record for it, as the enclave writes it at
 * PT_NOW_S. */
static void issue(const char *name, const char *dns, long serial, enum how how)
{
	X509 *x = tu_leaf(ca.cert, leaf_key, dns, serial);
	char san[128], path[512];
	uint8_t h[AUD_HASH_LEN], *tbs;
	size_t tbs_len;

	snprintf(san, sizeof san, "DNS:%s", dns);
	ck_assert(tu_ext_conf(x, ca.cert, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert(tu_ext_conf(x, ca.cert, NID_key_usage, "critical,digitalSignature"));
	ck_assert(tu_ext_conf(x, ca.cert, NID_ext_key_usage, "serverAuth"));
	ck_assert(tu_ext_conf(x, ca.cert, NID_authority_key_identifier, "keyid:always"));
	ck_assert(tu_ext_conf(x, ca.cert, NID_subject_alt_name, san));
	tbs = tu_tbs(x, ca.key, EVP_sha256(), -1, &tbs_len);
	aud_sha256(tbs, tbs_len, h);
	OPENSSL_free(tbs);
	snprintf(path, sizeof path, "%s/%s.pem", certdir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_X509(f, x));
	ck_assert_int_eq(fclose(f), 0);
	X509_free(x);
	if (how == NOT_LOGGED)
		return;

	struct aud_body b;
	struct aud_record r = {.type = AUD_T_SIGN, .time_ns = PT_NOW_S * 1000000000LL};
	uint64_t seq;

	aud_body_init(&b);
	aud_put_uint(&b, AUD_F_DECISION, 1);
	aud_put_uint(&b, AUD_F_REASON_CODE, how == PREHASHED ? POL_R_PREHASHED_AUDIT : POL_R_OK);
	aud_put_str(&b, AUD_F_REASON, "allowed (by the policy of the day)");
	aud_put_str(&b, AUD_F_KEY, "ca");
	if (how == PREHASHED) {
		/* CKM_ECDSA over the digest the client computed: no data hash, the digest. */
		aud_put_uint(&b, AUD_F_MECHANISM, CKM_ECDSA_);
		aud_put_uint(&b, AUD_F_DATA_KIND, POL_KIND_OTHER);
		aud_put_bytes(&b, AUD_F_PREHASH, h, sizeof h);
		aud_put_str(&b, AUD_F_PREHASH_ALG, "sha256");
	} else {
		aud_put_uint(&b, AUD_F_MECHANISM, CKM_ECDSA_SHA256_);
		aud_put_uint(&b, AUD_F_DATA_KIND, POL_KIND_TBS_CERT);
		aud_put_bytes(&b, AUD_F_DATA_SHA256, h, sizeof h);
	}
	aud_put_uint(&b, AUD_F_CALLER_UID, 998);
	aud_put_uint(&b, AUD_F_CALLER_PID, 4242);
	ck_assert_int_eq(aud_body_finish(&b), WARDEN_OK);
	r.body = b.data;
	r.body_len = b.len;
	ck_assert_int_eq(aud_append(log_, &r, &seq), WARDEN_OK);
	ck_assert_int_eq(aud_sync(log_, seq), WARDEN_OK);
	aud_body_free(&b);
}

/* Runs warden-audit reconcile LOGDIR --certs certdir --policy pol [--ca ca_pem]; the
 * exit status, stdout in out[]. */
static int run(const char *pol, bool with_ca)
{
	char outpath[512];
	char *argv[] = {"warden-audit", "reconcile", logdir, "--certs", certdir, "--policy",
			(char *)pol, with_ca ? "--ca" : NULL, ca_pem, NULL};

	snprintf(outpath, sizeof outpath, "%s/out.txt", dir);
	return at_run(outpath, argv, out, sizeof out);
}

static unsigned count(const char *needle)
{
	return at_count(out, needle);
}

START_TEST(test_reconcile_all_allowed_exits_zero)
{
	open_log(true);
	issue("a", "a.example.com", 0x1011121314151617L, FULL);
	issue("b", "b.example.com", 0x2011121314151617L, FULL);
	issue("c", "c.example.com", 0x3011121314151617L, PREHASHED);
	ck_assert_msg(run(policy, false) == 0, "%s", out);
	ck_assert_uint_eq(count("OK "), 6); /* 3 matched + 3 POLICY-OK */
	ck_assert_uint_eq(count("POLICY-OK "), 3);
	ck_assert_uint_eq(count("(prehashed)"), 1);
	ck_assert_msg(strstr(out, "3 certificates, 0 not accounted for, 0 refused") != NULL, "%s",
		      out);
}
END_TEST

START_TEST(test_reconcile_reports_a_certificate_the_log_never_saw)
{
	open_log(true);
	issue("a", "a.example.com", 0x1011121314151617L, FULL);
	issue("rogue", "rogue.example.com", 0x4011121314151617L, NOT_LOGGED);
	ck_assert_int_eq(run(policy, false), 1);
	ck_assert_uint_eq(count("UNSEEN "), 1);
	ck_assert_msg(strstr(out, "UNSEEN ") != NULL && strstr(strstr(out, "UNSEEN "), "rogue.pem"),
		      "%s", out);
	ck_assert_uint_eq(count("POLICY-OK "), 1);
	ck_assert_msg(strstr(out, "2 certificates, 1 not accounted for, 0 refused") != NULL, "%s",
		      out);
}
END_TEST

START_TEST(test_reconcile_reports_a_tbs_the_policy_refuses)
{
	open_log(true);
	issue("a", "a.example.com", 0x1011121314151617L, FULL);
	/* Logged as allowed (an older, looser policy), refused by the current one. */
	issue("evil", "www.evil.test", 0x5011121314151617L, FULL);
	ck_assert_int_eq(run(policy, false), 1);
	ck_assert_uint_eq(count("REFUSED "), 1);
	const char *l = strstr(out, "REFUSED ");
	ck_assert_ptr_nonnull(l);
	ck_assert_msg(strstr(l, "evil.pem") != NULL, "%s", out);
	ck_assert_msg(strstr(l, "name.dns.not_allowed (23): ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "2 certificates, 0 not accounted for, 1 refused") != NULL, "%s",
		      out);
}
END_TEST

START_TEST(test_reconcile_matches_prehashed_record_by_digest_and_checks_content)
{
	open_log(true);
	issue("p", "p.example.com", 0x6011121314151617L, PREHASHED);
	issue("q", "q.evil.test", 0x7011121314151617L, PREHASHED);
	ck_assert_int_eq(run(policy, false), 1);
	/* Both matched through their digest ... */
	ck_assert_uint_eq(count("(prehashed)"), 2);
	ck_assert_uint_eq(count("UNSEEN "), 0);
	/* ... p's content is allowed, q's is not. */
	ck_assert_uint_eq(count("POLICY-OK "), 1);
	const char *l = strstr(out, "REFUSED ");
	ck_assert_msg(l != NULL && strstr(l, "q.pem") != NULL, "%s", out);
	ck_assert_msg(strstr(l, ": content: name.dns.not_allowed") != NULL, "%s", out);
	/* A policy that no longer allows raw digests refuses both as asked. */
	ck_assert_int_eq(run(policy2, false), 1);
	ck_assert_uint_eq(count("raw-digest request: prehashed.denied (5)"), 2);
}
END_TEST

START_TEST(test_reconcile_takes_the_ca_from_the_command_line)
{
	open_log(false); /* the log has the key's SPKI but not its certificate */
	issue("a", "a.example.com", 0x1011121314151617L, FULL);
	ck_assert_int_eq(run(policy, false), 1);
	ck_assert_msg(strstr(out, "UNCHECKED ") != NULL && strstr(out, "no CA certificate"),
		      "%s", out);
	ck_assert_msg(run(policy, true) == 0, "%s", out);
	ck_assert_uint_eq(count("POLICY-OK "), 1);
}
END_TEST

START_TEST(test_reconcile_rejects_a_bad_policy_file)
{
	open_log(true);
	issue("a", "a.example.com", 0x1011121314151617L, FULL);
	at_write_file(policy, "{\"version\":1,\"bogus\":true}", 26);
	ck_assert_int_eq(run(policy, false), 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit_reconcile");
	TCase *tc = tcase_create("reconcile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reconcile_all_allowed_exits_zero);
	tcase_add_test(tc, test_reconcile_reports_a_certificate_the_log_never_saw);
	tcase_add_test(tc, test_reconcile_reports_a_tbs_the_policy_refuses);
	tcase_add_test(tc, test_reconcile_matches_prehashed_record_by_digest_and_checks_content);
	tcase_add_test(tc, test_reconcile_takes_the_ca_from_the_command_line);
	tcase_add_test(tc, test_reconcile_rejects_a_bad_policy_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
