/*
 * test_admin_cert.c - warden-admin's key ceremony and CA certificate (enclave/admin_*.c)
 * against a real SoftHSMv2 token in a temporary directory: the key is generated inside
 * the token with the right attributes, CKA_ID is the SKI, and the certificate and CSR
 * signed through the backend have the fields the design asks for.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admin.h"
#include "sign.h"
#include "wire.h"

#define SO_PIN "so-pin-for-tests"
#define USER_PIN "user-pin-for-tests"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static const char *const key_names[] = { "rsa2048", "p256", "p384", "ed25519" };
#define NUM_KEYS (sizeof(key_names) / sizeof(key_names[0]))

static char tmpdir[] = "/tmp/test_admin_cert.XXXXXX";

/* A fresh SoftHSM token directory per test (CK_FORK runs each test in a child). */
static void token_dir_setup(void)
{
	char conf[256], tokens[256];
	FILE *f;

	strcpy(tmpdir, "/tmp/test_admin_cert.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpdir);
	ck_assert_int_eq(mkdir(tokens, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tmpdir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
		tokens);
	fclose(f);
	ck_assert_int_eq(setenv("SOFTHSM2_CONF", conf, 1), 0);
}

static void token_dir_teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

struct made {
	struct bk_ctx *bk;
	struct bk_key *key;
	uint8_t id[ADMIN_KEY_ID_LEN];
	char *pem;
};

/* Token + key + certificate (or CSR) for key type `name`. */
static void make(const char *name, int csr, struct made *m)
{
	const struct admin_key_spec *spec = admin_key_spec_find(name);
	struct admin_token_req tr = { SOFTHSM, "warden", "ca", SO_PIN, USER_PIN, spec };
	struct bk_config cfg = { SOFTHSM, "warden", USER_PIN };
	struct admin_cert_req cr;
	char err[ADMIN_ERR_LEN];
	const uint8_t *id;
	size_t id_len = 0;

	memset(m, 0, sizeof(*m));
	ck_assert_ptr_nonnull(spec);
	ck_assert_msg(admin_token_create(&tr, m->id, err, sizeof(err)) == WARDEN_OK, "%s", err);
	ck_assert_msg(bk_open(&cfg, &m->bk, err, sizeof(err)) == WARDEN_OK, "%s", err);
	ck_assert_msg(bk_key_find(m->bk, "ca", &m->key, err, sizeof(err)) == WARDEN_OK, "%s",
		      err);
	id = bk_key_id(m->key, &id_len);
	ck_assert_uint_eq(id_len, ADMIN_KEY_ID_LEN);
	ck_assert_mem_eq(id, m->id, ADMIN_KEY_ID_LEN);
	ck_assert_int_eq(bk_key_bool(m->key, CKA_NEVER_EXTRACTABLE), 1);
	ck_assert_int_eq(bk_key_bool(m->key, CKA_ALWAYS_SENSITIVE), 1);
	ck_assert_int_eq(bk_key_bool(m->key, CKA_LOCAL), 1);
	ck_assert_int_eq(sign_init(), WARDEN_OK);
	cr = (struct admin_cert_req){ m->bk, m->key, spec, "/CN=Test CA/O=Warden\\/Tests",
				      30, csr };
	ck_assert_msg(admin_cert_make(&cr, &m->pem, err, sizeof(err)) == WARDEN_OK, "%s", err);
}

static void made_free(struct made *m)
{
	free(m->pem);
	bk_key_free(m->key);
	bk_close(m->bk);
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	ck_assert_ptr_nonnull(x);
	return x;
}

START_TEST(test_admin_cert_is_a_valid_self_signed_ca)
{
	struct made m;
	X509 *x;
	const ASN1_OCTET_STRING *ski, *akid;
	const ASN1_INTEGER *serial;
	BIGNUM *bn;
	X509_NAME *subj;
	char cn[64];
	int crit = -1, sig_nid = 0;
	time_t now = time(NULL), nb_lo = now - 3700, nb_hi = now - 3500, na = now + 29 * 86400;
	BASIC_CONSTRAINTS *bc;

	token_dir_setup();
	make(key_names[_i], 0, &m);
	x = pem_cert(m.pem);
	ck_assert_int_eq(X509_verify(x, bk_key_public(m.key)), 1);
	ck_assert_int_eq(X509_get_version(x), 2);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	subj = X509_get_subject_name(x);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(subj, NID_organizationName, cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, "Warden/Tests");
	/* Both signature AlgorithmIdentifiers name the mechanism's algorithm. */
	ck_assert_int_eq(X509_get_signature_nid(x), admin_key_spec_find(key_names[_i])->sig_nid);
	sig_nid = OBJ_obj2nid(X509_get0_tbs_sigalg(x)->algorithm);
	ck_assert_int_eq(sig_nid, X509_get_signature_nid(x));
	/* A positive 16-byte serial. */
	serial = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	ck_assert_int_eq(BN_is_negative(bn), 0);
	ck_assert_int_eq(BN_num_bytes(bn), ADMIN_SERIAL_BYTES);
	BN_free(bn);
	/* Backdated about an hour; valid for the requested days. */
	ck_assert_int_lt(X509_cmp_time(X509_get0_notBefore(x), &nb_hi), 0);
	ck_assert_int_gt(X509_cmp_time(X509_get0_notBefore(x), &nb_lo), 0);
	ck_assert_int_gt(X509_cmp_time(X509_get0_notAfter(x), &na), 0);
	/* CA:TRUE and keyUsage, both critical; SKI = AKI = CKA_ID. */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	ck_assert_ptr_nonnull(bc);
	ck_assert_int_eq(crit, 1);
	ck_assert_int_ne(bc->ca, 0);
	BASIC_CONSTRAINTS_free(bc);
	ck_assert_int_eq(X509_EXTENSION_get_critical(
				 X509_get_ext(x, X509_get_ext_by_NID(x, NID_key_usage, -1))),
			 1);
	ck_assert_int_eq(X509_get_extension_flags(x) & EXFLAG_CRITICAL, 0); /* all understood */
	ck_assert_uint_eq(X509_get_key_usage(x),
			  KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE);
	ski = X509_get0_subject_key_id(x);
	akid = X509_get0_authority_key_id(x);
	ck_assert_ptr_nonnull(ski);
	ck_assert_ptr_nonnull(akid);
	ck_assert_int_eq(ASN1_STRING_length(ski), ADMIN_KEY_ID_LEN);
	ck_assert_mem_eq(ASN1_STRING_get0_data(ski), m.id, ADMIN_KEY_ID_LEN);
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(ski, akid), 0);
	ck_assert_int_eq(X509_check_ca(x), 1);
	X509_free(x);
	made_free(&m);
	token_dir_teardown();
}
END_TEST

START_TEST(test_admin_csr_verifies_and_asks_for_a_ca)
{
	struct made m;
	BIO *b;
	X509_REQ *req;
	STACK_OF(X509_EXTENSION) *exts;

	token_dir_setup();
	make(key_names[_i], 1, &m);
	ck_assert_ptr_nonnull(strstr(m.pem, "BEGIN CERTIFICATE REQUEST"));
	b = BIO_new_mem_buf(m.pem, -1);
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(X509_REQ_verify(req, bk_key_public(m.key)), 1);
	exts = X509_REQ_get_extensions(req);
	ck_assert_ptr_nonnull(exts);
	ck_assert_int_ge(X509v3_get_ext_by_NID(exts, NID_basic_constraints, -1), 0);
	ck_assert_int_ge(X509v3_get_ext_by_NID(exts, NID_key_usage, -1), 0);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	BIO_free(b);
	made_free(&m);
	token_dir_teardown();
}
END_TEST

START_TEST(test_admin_token_refuses_a_second_token_with_the_label)
{
	const struct admin_key_spec *spec = admin_key_spec_find("p256");
	struct admin_token_req tr = { SOFTHSM, "warden", "ca", SO_PIN, USER_PIN, spec };
	uint8_t id[ADMIN_KEY_ID_LEN];
	char err[ADMIN_ERR_LEN];

	token_dir_setup();
	ck_assert_int_eq(admin_token_create(&tr, id, err, sizeof(err)), WARDEN_OK);
	ck_assert_int_eq(admin_token_create(&tr, id, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_nonnull(strstr(err, "already has a token"));
	token_dir_teardown();
}
END_TEST

START_TEST(test_admin_token_refuses_a_missing_module)
{
	struct admin_token_req tr = { "/nonexistent/module.so", "warden", "ca", SO_PIN,
				      USER_PIN, admin_key_spec_find("p256") };
	uint8_t id[ADMIN_KEY_ID_LEN];
	char err[ADMIN_ERR_LEN];

	ck_assert_int_eq(admin_token_create(&tr, id, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_nonnull(strstr(err, "cannot load"));
}
END_TEST

static const char *const good_subjects[] = {
	"/CN=Warden CA", "/CN=a/O=b/OU=c/C=DE", "/CN=slash\\/inside", "/CN=Ünïcødé",
};
static const char *const bad_subjects[] = {
	"", "CN=x", "/", "/CN", "/CN=", "/=x", "/CN=x/", "/NOSUCHTYPE=x", "/CN=x\\",
	"/CN=x//O=y",
};

START_TEST(test_admin_subject_accepts_openssl_form)
{
	char err[ADMIN_ERR_LEN];

	ck_assert_msg(admin_subject_check(good_subjects[_i], err, sizeof(err)) == WARDEN_OK,
		      "%s: %s", good_subjects[_i], err);
}
END_TEST

START_TEST(test_admin_subject_rejects_malformed)
{
	char err[ADMIN_ERR_LEN];

	ck_assert_msg(admin_subject_check(bad_subjects[_i], err, sizeof(err)) != WARDEN_OK,
		      "accepted \"%s\"", bad_subjects[_i]);
}
END_TEST

START_TEST(test_admin_key_specs)
{
	ck_assert_ptr_null(admin_key_spec_find("rsa1024"));
	ck_assert_ptr_null(admin_key_spec_find(""));
	ck_assert_uint_eq(admin_key_spec_find("rsa4096")->bits, 4096);
	ck_assert_uint_eq(admin_key_spec_find("p384")->sign_mech, CKM_ECDSA_SHA384);
	ck_assert_uint_eq(admin_key_spec_find("ed25519")->key_type, CKK_EC_EDWARDS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("admin_cert");
	TCase *tc = tcase_create("admin_cert");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_admin_cert_is_a_valid_self_signed_ca, 0, (int)NUM_KEYS);
	tcase_add_loop_test(tc, test_admin_csr_verifies_and_asks_for_a_ca, 0, (int)NUM_KEYS);
	tcase_add_test(tc, test_admin_token_refuses_a_second_token_with_the_label);
	tcase_add_test(tc, test_admin_token_refuses_a_missing_module);
	tcase_add_loop_test(tc, test_admin_subject_accepts_openssl_form, 0,
			    (int)(sizeof(good_subjects) / sizeof(good_subjects[0])));
	tcase_add_loop_test(tc, test_admin_subject_rejects_malformed, 0,
			    (int)(sizeof(bad_subjects) / sizeof(bad_subjects[0])));
	tcase_add_test(tc, test_admin_key_specs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
