/*
 * test_sign.c - the backend (enclave/backend.c) and one signature (enclave/sign.c)
 * against a real, temporary SoftHSMv2 token.  Every signature is checked again here
 * with OpenSSL on the data as the client sent it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "backend.h"
#include "sign.h"
#include "wire.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN "wtest"
#define USER_PIN "5678"

/* SoftHSMv2 2.6.1 leaks an ASN1 string per EdDSA signature; not ours to fix.  The
 * suppression needs whole stacks (libcrypto has no frame pointers). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libsofthsm2.so\n";
}
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static char tmpdir[] = "/tmp/warden-test-sign.XXXXXX";
static struct bk_ctx *bk;

/* Runs a shell command; $D is the suite's temporary directory. */
static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		exit(1);
	}
}

/* One token for the whole suite (runs once, in the parent). */
static void token_setup(void)
{
	char conf[256];
	if (mkdtemp(tmpdir) == NULL)
		exit(1);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", tmpdir);
	setenv("D", tmpdir, 1);
	sh("mkdir -p $D/tokens && printf 'directories.tokendir = %s/tokens\\nobjectstore.backend "
	   "= file\\nlog.level = ERROR\\n' $D > $D/softhsm2.conf");
	setenv("SOFTHSM2_CONF", conf, 1);
	sh("softhsm2-util --init-token --free --label " TOKEN
	   " --so-pin 1111 --pin " USER_PIN " >/dev/null");
#define GEN(args) \
	sh("pkcs11-tool --module " SOFTHSM " --token-label " TOKEN " -l -p " USER_PIN \
	   " --keypairgen " args " >/dev/null 2>&1")
	GEN("--key-type rsa:2048 --label rsa --usage-sign");
	GEN("--key-type EC:prime256v1 --label p256 --id 0256 --usage-sign");
	GEN("--key-type EC:secp384r1 --label p384 --id 0384 --usage-sign");
	GEN("--key-type EC:edwards25519 --label ed --id 0ed0 --usage-sign");
	GEN("--key-type EC:prime256v1 --label ext --id 0e0e --usage-sign --extractable");
#undef GEN
	/* pkcs11-tool always sets CKA_SIGN; PyKCS11 can clear it. */
	sh("/usr/bin/python3 -c 'import PyKCS11 as P\n"
	   "l=P.PyKCS11Lib(); l.load(\"" SOFTHSM "\")\n"
	   "s=l.openSession(l.getSlotList(tokenPresent=True)[0], P.CKF_RW_SESSION)\n"
	   "s.login(\"" USER_PIN "\")\n"
	   "s.generateKeyPair([(P.CKA_TOKEN,True),(P.CKA_EC_PARAMS,bytes.fromhex(\"06082a8648ce3d030107\")),(P.CKA_LABEL,\"nosign\")],"
	   "[(P.CKA_TOKEN,True),(P.CKA_PRIVATE,True),(P.CKA_SENSITIVE,True),(P.CKA_SIGN,False),(P.CKA_DERIVE,True),(P.CKA_LABEL,\"nosign\")],"
	   "P.MechanismECGENERATEKEYPAIR)\n' >/dev/null");
}

static void token_teardown(void)
{
	sh("rm -rf $D");
}

static void bk_setup(void)
{
	struct bk_config cfg = {SOFTHSM, TOKEN, USER_PIN};
	char err[256];
	ck_assert_int_eq(sign_init(), WARDEN_OK);
	int rc = bk_open(&cfg, &bk, err, sizeof(err));
	ck_assert_msg(rc == WARDEN_OK, "bk_open: %s", err);
}

static void bk_teardown(void)
{
	bk_close(bk);
	bk = NULL;
}

static struct bk_key *key_get(const char *label)
{
	struct bk_key *k = NULL;
	char err[256];
	int rc = bk_key_find(bk, label, &k, err, sizeof(err));
	ck_assert_msg(rc == WARDEN_OK, "bk_key_find %s: %s", label, err);
	return k;
}

static const uint8_t tbs[] = "a TBSCertificate would go here; any bytes will do";

/* An independent check: OpenSSL on what the client sent. */
static int ossl_verify(EVP_PKEY *pub, CK_MECHANISM_TYPE m, const EVP_MD *md, int salt,
		       const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len)
{
	uint8_t der[256];
	const uint8_t *s = sig;
	size_t s_len = sig_len;
	int ok = 0;
	int raw = m == CKM_RSA_PKCS || m == CKM_RSA_PKCS_PSS || m == CKM_ECDSA;
	int pss = m == CKM_RSA_PKCS_PSS || m == CKM_SHA256_RSA_PKCS_PSS ||
		  m == CKM_SHA384_RSA_PKCS_PSS || m == CKM_SHA512_RSA_PKCS_PSS;
	int ecdsa = EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC;

	if (ecdsa) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sig_len / 2, NULL),
			       BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL));
		uint8_t *p = der;
		s_len = (size_t)i2d_ECDSA_SIG(es, &p);
		s = der;
		ECDSA_SIG_free(es);
	}
	if (!raw) {
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;
		if (EVP_DigestVerifyInit(mc, &pc, md, NULL, pub) == 1 &&
		    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
			      EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) == 1)))
			ok = EVP_DigestVerify(mc, s, s_len, data, len) == 1;
		EVP_MD_CTX_free(mc);
	} else {
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(pub, NULL);
		if (EVP_PKEY_verify_init(pc) == 1) {
			if (m == CKM_RSA_PKCS)
				EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING);
			if (pss)
				if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
				    EVP_PKEY_CTX_set_signature_md(pc, md) != 1 ||
				    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) != 1)
					goto done;
			if (m == CKM_RSA_PKCS) {
				/* verify_recover gives back the DigestInfo. */
				uint8_t rec[512];
				size_t rec_len = sizeof(rec);
				EVP_PKEY_CTX_free(pc);
				pc = EVP_PKEY_CTX_new(pub, NULL);
				EVP_PKEY_verify_recover_init(pc);
				EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING);
				ok = EVP_PKEY_verify_recover(pc, rec, &rec_len, sig, sig_len) == 1 &&
				     rec_len == len && memcmp(rec, data, len) == 0;
			} else {
				ok = EVP_PKEY_verify(pc, s, s_len, data, len) == 1;
			}
		}
done:
		EVP_PKEY_CTX_free(pc);
	}
	return ok;
}

static int do_sign(struct bk_key *k, CK_MECHANISM_TYPE m, int has_pss, CK_ULONG hash,
		   CK_ULONG mgf, CK_ULONG salt, const uint8_t *data, size_t len, uint8_t *sig,
		   size_t *sig_len)
{
	struct sign_req req = {m, has_pss, hash, mgf, salt, data, len};
	uint8_t sha[32];
	char err[256] = "";
	*sig_len = WIRE_MAX_SIG;
	int rc = sign_compute(bk, k, &req, 1, sig, sig_len, sha, err, sizeof(err));
	if (rc != WARDEN_OK)
		ck_assert_str_ne(err, "");
	return rc;
}

struct full_case {
	const char *label;
	CK_MECHANISM_TYPE mech;
	const char *md;
	int pss; /* salt length, or -1 */
};

static const struct full_case full_cases[] = {
	{"rsa", CKM_SHA256_RSA_PKCS, "SHA256", -1},
	{"rsa", CKM_SHA384_RSA_PKCS, "SHA384", -1},
	{"rsa", CKM_SHA512_RSA_PKCS, "SHA512", -1},
	{"rsa", CKM_SHA256_RSA_PKCS_PSS, "SHA256", 32},
	{"rsa", CKM_SHA384_RSA_PKCS_PSS, "SHA384", 48},
	{"rsa", CKM_SHA512_RSA_PKCS_PSS, "SHA512", 64},
	{"rsa", CKM_SHA256_RSA_PKCS_PSS, "SHA256", 0},
	{"p256", CKM_ECDSA_SHA256, "SHA256", -1},
	{"p256", CKM_ECDSA_SHA384, "SHA384", -1},
	{"p256", CKM_ECDSA_SHA512, "SHA512", -1},
	{"p384", CKM_ECDSA_SHA256, "SHA256", -1},
	{"p384", CKM_ECDSA_SHA384, "SHA384", -1},
	{"p384", CKM_ECDSA_SHA512, "SHA512", -1},
	{"ed", CKM_EDDSA, NULL, -1},
};

static CK_ULONG ck_hash(const char *md)
{
	return strcmp(md, "SHA256") == 0 ? CKM_SHA256
	       : strcmp(md, "SHA384") == 0 ? CKM_SHA384
					   : CKM_SHA512;
}

static CK_ULONG ck_mgf(const char *md)
{
	return strcmp(md, "SHA256") == 0 ? CKG_MGF1_SHA256
	       : strcmp(md, "SHA384") == 0 ? CKG_MGF1_SHA384
					   : CKG_MGF1_SHA512;
}

START_TEST(test_sign_full_data_mechanism_verifies)
{
	const struct full_case *c = &full_cases[_i];
	struct bk_key *k = key_get(c->label);
	uint8_t sig[WIRE_MAX_SIG];
	size_t sig_len;
	const EVP_MD *md = c->md ? EVP_get_digestbyname(c->md) : NULL;
	int rc = do_sign(k, c->mech, c->pss >= 0, c->md ? ck_hash(c->md) : 0,
			 c->md ? ck_mgf(c->md) : 0, c->pss >= 0 ? (CK_ULONG)c->pss : 0, tbs,
			 sizeof(tbs), sig, &sig_len);
	ck_assert_int_eq(rc, WARDEN_OK);
	ck_assert_uint_eq(sig_len, bk_key_sig_len(k));
	ck_assert(ossl_verify(bk_key_public(k), c->mech, md, c->pss, tbs, sizeof(tbs), sig,
			      sig_len));
	/* A changed message does not verify. */
	ck_assert(!ossl_verify(bk_key_public(k), c->mech, md, c->pss, tbs, sizeof(tbs) - 1, sig,
			       sig_len));
	bk_key_free(k);
}
END_TEST

/* sign_begin runs C_SignInit only; sign_cancel ends that operation (enc_decide does so
 * when the audit record does not become durable).  A cancelled operation must not leave
 * a session with an active operation in the pool: the signatures after it still work,
 * and nothing can be finished after a cancel. */
START_TEST(test_sign_cancel_leaves_backend_usable)
{
	struct bk_key *k = key_get("p256");
	struct sign_req req = {CKM_ECDSA_SHA256, 0, 0, 0, 0, tbs, sizeof(tbs)};
	uint8_t sig[WIRE_MAX_SIG];
	size_t sig_len;
	char err[256] = "";
	struct sign_op op;

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(sign_begin(bk, k, &req, &op, NULL, err, sizeof(err)), WARDEN_OK);
		sign_cancel(&op);
		sig_len = sizeof(sig);
		ck_assert_int_eq(sign_end(&op, 0, sig, &sig_len, err, sizeof(err)),
				 WARDEN_E_INTERNAL);
		ck_assert_uint_eq(sig_len, 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(do_sign(k, CKM_ECDSA_SHA256, 0, 0, 0, 0, tbs, sizeof(tbs), sig,
					 &sig_len),
				 WARDEN_OK);
		ck_assert(ossl_verify(bk_key_public(k), CKM_ECDSA_SHA256, EVP_sha256(), -1, tbs,
				      sizeof(tbs), sig, sig_len));
	}
	/* A mechanism the key cannot use begins nothing. */
	req.mechanism = CKM_SHA256_RSA_PKCS;
	ck_assert_int_eq(sign_begin(bk, k, &req, &op, NULL, err, sizeof(err)), WARDEN_E_MECHANISM);
	sign_cancel(&op); /* harmless when nothing was begun */
	bk_key_free(k);
}
END_TEST

/* A thread keeps its verification contexts (a few slots, by key, padding, hash and
 * salt): signatures that alternate between more configurations than slots, over and
 * over, all come out right, and a context reused after another key's still verifies. */
START_TEST(test_sign_verify_contexts_reused)
{
	static const size_t order[] = {0, 3, 1, 4, 2, 5, 6, 7, 0, 6, 3, 10};
	uint8_t sig[WIRE_MAX_SIG];
	size_t sig_len;

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			const struct full_case *c = &full_cases[order[i]];
			struct bk_key *k = key_get(c->label);
			const EVP_MD *md = EVP_get_digestbyname(c->md);
			ck_assert_int_eq(do_sign(k, c->mech, c->pss >= 0, ck_hash(c->md),
						 ck_mgf(c->md), c->pss >= 0 ? (CK_ULONG)c->pss : 0,
						 tbs, sizeof(tbs), sig, &sig_len),
					 WARDEN_OK);
			ck_assert(ossl_verify(bk_key_public(k), c->mech, md, c->pss, tbs, sizeof(tbs),
					      sig, sig_len));
			bk_key_free(k);
		}
	sign_thread_end();
	sign_thread_end(); /* twice: harmless */
}
END_TEST

/* data_sha256, when given, is what a SHA-256 mechanism signs (the enclave passes the
 * digest it computed for the audit record); other hashes ignore it. */
START_TEST(test_sign_uses_given_sha256)
{
	static const uint8_t other[] = "not the data";
	uint8_t given[32], sig[WIRE_MAX_SIG];
	size_t sig_len = sizeof(sig);
	char err[256] = "";
	struct bk_key *k = key_get("rsa");
	struct sign_req req = {CKM_SHA256_RSA_PKCS, 0, 0, 0, 0, tbs, sizeof(tbs)};

	ck_assert(EVP_Digest(other, sizeof(other), given, NULL, EVP_sha256(), NULL) == 1);
	req.data_sha256 = given;
	ck_assert_int_eq(sign_compute(bk, k, &req, 1, sig, &sig_len, NULL, err, sizeof(err)),
			 WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(k), CKM_SHA256_RSA_PKCS, EVP_sha256(), -1, other,
			      sizeof(other), sig, sig_len));
	ck_assert(!ossl_verify(bk_key_public(k), CKM_SHA256_RSA_PKCS, EVP_sha256(), -1, tbs,
			       sizeof(tbs), sig, sig_len));
	req.mechanism = CKM_SHA384_RSA_PKCS;
	sig_len = sizeof(sig);
	ck_assert_int_eq(sign_compute(bk, k, &req, 1, sig, &sig_len, NULL, err, sizeof(err)),
			 WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(k), CKM_SHA384_RSA_PKCS, EVP_sha384(), -1, tbs,
			      sizeof(tbs), sig, sig_len));
	bk_key_free(k);
}
END_TEST

/* The data's SHA-256 for the audit record: refused before sign_init fetched the digest
 * (this test case has no fixture, and Check runs it in a fresh child), right after. */
START_TEST(test_sign_sha256_needs_init)
{
	static const uint8_t abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t out[32];

	ck_assert_int_eq(sign_sha256((const uint8_t *)"abc", 3, out), WARDEN_E_INTERNAL);
	ck_assert_int_eq(sign_init(), WARDEN_OK);
	ck_assert_int_eq(sign_sha256((const uint8_t *)"abc", 3, out), WARDEN_OK);
	ck_assert_mem_eq(out, abc_sha256, sizeof(out));
}
END_TEST

START_TEST(test_sign_key_facts)
{
	struct bk_key *k = key_get("rsa");
	size_t n;
	ck_assert_uint_eq(bk_key_type(k), CKK_RSA);
	ck_assert_uint_eq(bk_key_sig_len(k), 256);
	ck_assert_ptr_null(bk_key_ec_params(k, &n));
	bk_key_id(k, &n);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(bk_key_bool(k, CKA_NEVER_EXTRACTABLE), 1);
	bk_key_free(k);
	k = key_get("p384");
	ck_assert_uint_eq(bk_key_type(k), CKK_EC);
	ck_assert_uint_eq(bk_key_sig_len(k), 96);
	ck_assert_ptr_nonnull(bk_key_ec_params(k, &n));
	const uint8_t *id = bk_key_id(k, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(id[0], 0x03);
	bk_key_free(k);
	k = key_get("ed");
	ck_assert_uint_eq(bk_key_type(k), CKK_EC_EDWARDS);
	ck_assert_uint_eq(bk_key_sig_len(k), 64);
	ck_assert_int_eq(EVP_PKEY_get_base_id(bk_key_public(k)), EVP_PKEY_ED25519);
	bk_key_free(k);
}
END_TEST

static void digest(const char *name, const uint8_t *d, size_t len, uint8_t *out,
		   unsigned *out_len)
{
	EVP_Digest(d, len, out, out_len, EVP_get_digestbyname(name), NULL);
}

START_TEST(test_sign_raw_mechanisms_verify)
{
	static const uint8_t di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					0x01, 0x05, 0x00, 0x04, 0x20};
	uint8_t buf[128], sig[WIRE_MAX_SIG];
	unsigned dl;
	size_t sig_len;
	struct bk_key *rsa = key_get("rsa"), *p256 = key_get("p256"), *p384 = key_get("p384");

	memcpy(buf, di256, sizeof(di256));
	digest("SHA256", tbs, sizeof(tbs), buf + sizeof(di256), &dl);
	ck_assert_int_eq(do_sign(rsa, CKM_RSA_PKCS, 0, 0, 0, 0, buf, sizeof(di256) + dl, sig,
				 &sig_len),
			 WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(rsa), CKM_RSA_PKCS, NULL, -1, buf,
			      sizeof(di256) + dl, sig, sig_len));

	digest("SHA384", tbs, sizeof(tbs), buf, &dl);
	ck_assert_int_eq(do_sign(rsa, CKM_RSA_PKCS_PSS, 1, CKM_SHA384, CKG_MGF1_SHA384, 48, buf,
				 dl, sig, &sig_len),
			 WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(rsa), CKM_RSA_PKCS_PSS, EVP_sha384(), 48, buf, dl,
			      sig, sig_len));

	digest("SHA256", tbs, sizeof(tbs), buf, &dl);
	ck_assert_int_eq(do_sign(p256, CKM_ECDSA, 0, 0, 0, 0, buf, dl, sig, &sig_len), WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(p256), CKM_ECDSA, NULL, -1, buf, dl, sig, sig_len));
	digest("SHA512", tbs, sizeof(tbs), buf, &dl);
	ck_assert_int_eq(do_sign(p384, CKM_ECDSA, 0, 0, 0, 0, buf, dl, sig, &sig_len), WARDEN_OK);
	ck_assert(ossl_verify(bk_key_public(p384), CKM_ECDSA, NULL, -1, buf, dl, sig, sig_len));
	bk_key_free(rsa);
	bk_key_free(p256);
	bk_key_free(p384);
}
END_TEST

START_TEST(test_sign_gives_sha256_of_data)
{
	struct bk_key *k = key_get("p256");
	struct sign_req req = {CKM_ECDSA_SHA256, 0, 0, 0, 0, tbs, sizeof(tbs)};
	uint8_t sig[WIRE_MAX_SIG], sha[32], want[32];
	size_t sig_len = sizeof(sig);
	unsigned dl;
	char err[128];
	ck_assert_int_eq(sign_compute(bk, k, &req, 0, sig, &sig_len, sha, err, sizeof(err)),
			 WARDEN_OK);
	digest("SHA256", tbs, sizeof(tbs), want, &dl);
	ck_assert_mem_eq(sha, want, 32);
	bk_key_free(k);
}
END_TEST

struct neg_case {
	const char *name;
	const char *label;
	CK_MECHANISM_TYPE mech;
	int has_pss;
	CK_ULONG hash, mgf, salt;
	size_t data_len; /* 0: the whole tbs */
	int want;
};

static const struct neg_case neg_cases[] = {
	{"pss without params", "rsa", CKM_SHA256_RSA_PKCS_PSS, 0, 0, 0, 0, 0, WARDEN_E_MECH_PARAM},
	{"pss hash differs from mech", "rsa", CKM_SHA256_RSA_PKCS_PSS, 1, CKM_SHA384,
	 CKG_MGF1_SHA384, 32, 0, WARDEN_E_MECH_PARAM},
	{"pss mgf differs", "rsa", CKM_SHA256_RSA_PKCS_PSS, 1, CKM_SHA256, CKG_MGF1_SHA1, 32, 0,
	 WARDEN_E_MECH_PARAM},
	{"pss sha1", "rsa", CKM_RSA_PKCS_PSS, 1, CKM_SHA_1, CKG_MGF1_SHA1, 20, 20,
	 WARDEN_E_MECH_PARAM},
	{"pss salt too long", "rsa", CKM_SHA512_RSA_PKCS_PSS, 1, CKM_SHA512, CKG_MGF1_SHA512,
	 256 - 64 - 1, 0, WARDEN_E_MECH_PARAM},
	{"params on pkcs1", "rsa", CKM_SHA256_RSA_PKCS, 1, CKM_SHA256, CKG_MGF1_SHA256, 32, 0,
	 WARDEN_E_MECH_PARAM},
	{"raw pss wrong size", "rsa", CKM_RSA_PKCS_PSS, 1, CKM_SHA256, CKG_MGF1_SHA256, 32, 48,
	 WARDEN_E_DATA_LEN},
	{"raw ecdsa 20 bytes", "p256", CKM_ECDSA, 0, 0, 0, 0, 20, WARDEN_E_DATA_LEN},
	{"raw ecdsa 33 bytes", "p256", CKM_ECDSA, 0, 0, 0, 0, 33, WARDEN_E_DATA_LEN},
	{"raw pkcs1 not a digestinfo", "rsa", CKM_RSA_PKCS, 0, 0, 0, 0, 51, WARDEN_E_DATA_INVALID},
	{"ecdsa on rsa key", "rsa", CKM_ECDSA_SHA256, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
	{"rsa on ec key", "p256", CKM_SHA256_RSA_PKCS, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
	{"eddsa on ec key", "p256", CKM_EDDSA, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
	{"ecdsa on ed key", "ed", CKM_ECDSA_SHA256, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
	{"rsa pss on ed key", "ed", CKM_RSA_PKCS_PSS, 1, CKM_SHA256, CKG_MGF1_SHA256, 32, 32,
	 WARDEN_E_MECHANISM},
	{"sha1 rsa", "rsa", CKM_SHA1_RSA_PKCS, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
	{"unknown mech", "rsa", 0x80001234ul, 0, 0, 0, 0, 0, WARDEN_E_MECHANISM},
};

START_TEST(test_sign_rejects_bad_request)
{
	const struct neg_case *c = &neg_cases[_i];
	struct bk_key *k = key_get(c->label);
	uint8_t data[128], sig[WIRE_MAX_SIG];
	size_t sig_len;
	memset(data, 0x5a, sizeof(data));
	const uint8_t *d = c->data_len ? data : tbs;
	size_t len = c->data_len ? c->data_len : sizeof(tbs);
	int rc = do_sign(k, c->mech, c->has_pss, c->hash, c->mgf, c->salt, d, len, sig,
			 &sig_len);
	ck_assert_msg(rc == c->want, "%s: got %d want %d", c->name, rc, c->want);
	ck_assert_uint_eq(sig_len, 0);
	bk_key_free(k);
}
END_TEST

START_TEST(test_sign_rejects_digestinfo_variants)
{
	/* SHA-256 DigestInfo with the length byte of the digest changed, a SHA-1 one, and
	 * a well-formed one with a trailing byte. */
	static const uint8_t sha1_di[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
					  0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
	static const uint8_t di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
					0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					0x01, 0x05, 0x00, 0x04, 0x20};
	uint8_t buf[80], sig[WIRE_MAX_SIG];
	size_t sig_len;
	struct bk_key *k = key_get("rsa");
	memset(buf, 0x11, sizeof(buf));
	memcpy(buf, sha1_di, sizeof(sha1_di));
	ck_assert_int_eq(do_sign(k, CKM_RSA_PKCS, 0, 0, 0, 0, buf, sizeof(sha1_di) + 20, sig,
				 &sig_len),
			 WARDEN_E_DATA_INVALID);
	memcpy(buf, di256, sizeof(di256));
	ck_assert_int_eq(do_sign(k, CKM_RSA_PKCS, 0, 0, 0, 0, buf, sizeof(di256) + 33, sig,
				 &sig_len),
			 WARDEN_E_DATA_INVALID);
	ck_assert_int_eq(do_sign(k, CKM_RSA_PKCS, 0, 0, 0, 0, buf, sizeof(di256) + 31, sig,
				 &sig_len),
			 WARDEN_E_DATA_INVALID);
	buf[18] = 0x21;
	ck_assert_int_eq(do_sign(k, CKM_RSA_PKCS, 0, 0, 0, 0, buf, sizeof(di256) + 32, sig,
				 &sig_len),
			 WARDEN_E_DATA_INVALID);
	bk_key_free(k);
}
END_TEST

START_TEST(test_backend_refuses_extractable_key)
{
	struct bk_key *k = NULL;
	char err[256] = "";
	ck_assert_int_eq(bk_key_find(bk, "ext", &k, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_null(k);
	ck_assert_ptr_nonnull(strstr(err, "extractable"));
}
END_TEST

START_TEST(test_backend_refuses_non_signing_key)
{
	struct bk_key *k = NULL;
	char err[256] = "";
	ck_assert_int_eq(bk_key_find(bk, "nosign", &k, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(err, "CKA_SIGN") != NULL, "%s", err);
}
END_TEST

START_TEST(test_backend_missing_key)
{
	struct bk_key *k = NULL;
	char err[256] = "";
	ck_assert_int_eq(bk_key_find(bk, "nope", &k, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_nonnull(strstr(err, "nope"));
}
END_TEST

START_TEST(test_backend_open_failures)
{
	struct bk_ctx *c = NULL;
	char err[256] = "";
	struct bk_config wrong_pin = {SOFTHSM, TOKEN, "0000"};
	struct bk_config wrong_label = {SOFTHSM, "nosuchtoken", USER_PIN};
	struct bk_config wrong_module = {"/nonexistent/lib.so", TOKEN, USER_PIN};
	/* One backend context per module per process: close the fixture's first. */
	bk_close(bk);
	bk = NULL;
	ck_assert_int_eq(bk_open(&wrong_pin, &c, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "PIN") != NULL, "%s", err);
	ck_assert_int_eq(bk_open(&wrong_label, &c, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_nonnull(strstr(err, "nosuchtoken"));
	ck_assert_int_eq(bk_open(&wrong_module, &c, err, sizeof(err)), WARDEN_E_BACKEND);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_sign_mech_tables)
{
	struct bk_key *rsa = key_get("rsa"), *ed = key_get("ed"), *p256 = key_get("p256");
	ck_assert(sign_mech_is_raw(CKM_RSA_PKCS));
	ck_assert(sign_mech_is_raw(CKM_ECDSA));
	ck_assert(sign_mech_is_raw(CKM_RSA_PKCS_PSS));
	ck_assert(!sign_mech_is_raw(CKM_EDDSA));
	ck_assert(!sign_mech_is_raw(CKM_SHA256_RSA_PKCS));
	ck_assert(sign_mech_fits_key(CKM_SHA512_RSA_PKCS_PSS, rsa));
	ck_assert(!sign_mech_fits_key(CKM_EDDSA, rsa));
	ck_assert(sign_mech_fits_key(CKM_EDDSA, ed));
	ck_assert(sign_mech_fits_key(CKM_ECDSA_SHA384, p256));
	ck_assert(!sign_mech_fits_key(CKM_SHA1_RSA_PKCS, rsa));
	bk_key_free(rsa);
	bk_key_free(ed);
	bk_key_free(p256);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sign");
	TCase *tc = tcase_create("sign");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, token_setup, token_teardown);
	tcase_add_checked_fixture(tc, bk_setup, bk_teardown);
	tcase_add_loop_test(tc, test_sign_full_data_mechanism_verifies, 0,
			    (int)(sizeof(full_cases) / sizeof(full_cases[0])));
	tcase_add_test(tc, test_sign_key_facts);
	tcase_add_test(tc, test_sign_verify_contexts_reused);
	tcase_add_test(tc, test_sign_uses_given_sha256);
	tcase_add_test(tc, test_sign_raw_mechanisms_verify);
	tcase_add_test(tc, test_sign_gives_sha256_of_data);
	tcase_add_test(tc, test_sign_cancel_leaves_backend_usable);
	tcase_add_loop_test(tc, test_sign_rejects_bad_request, 0,
			    (int)(sizeof(neg_cases) / sizeof(neg_cases[0])));
	tcase_add_test(tc, test_sign_rejects_digestinfo_variants);
	tcase_add_test(tc, test_backend_refuses_extractable_key);
	tcase_add_test(tc, test_backend_refuses_non_signing_key);
	tcase_add_test(tc, test_backend_missing_key);
	tcase_add_test(tc, test_backend_open_failures);
	tcase_add_test(tc, test_sign_mech_tables);
	suite_add_tcase(s, tc);
	tc = tcase_create("digest");
	tcase_add_test(tc, test_sign_sha256_needs_init);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
