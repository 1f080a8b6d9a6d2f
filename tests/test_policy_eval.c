/*
 * test_policy_eval.c - every rule of the evaluation, allowed and refused, on certificates
 * built with OpenSSL and signed by a test CA (tests/policy/poltest.h).
 */
#include <openssl/bn.h>
#include <stdio.h>

#include "tests/policy/poltest.h"

static struct pt_ca ca;
static EVP_PKEY *leaf_key;

static void setup(void)
{
	pt_ca_init(&ca, "rsa2048");
	leaf_key = tu_key("p256");
}

static void teardown(void)
{
	EVP_PKEY_free(leaf_key);
	pt_ca_free(&ca);
}

/* Policies are written with ' for " to stay readable. */
static char *J(const char *s)
{
	static char buf[8192];
	size_t n = strlen(s);
	ck_assert_uint_lt(n, sizeof(buf));
	for (size_t i = 0; i <= n; i++)
		buf[i] = s[i] == '\'' ? '"' : s[i];
	return buf;
}

#define WEB_NAMES "'names':{'allow':{'dns':['*.example.com','example.com'],'ips':['10.0.0.0/8']," \
		  "'emails':['@example.com']},'deny':{'dns':['admin.example.com'],'ips':['10.9.9.9']}}"
#define WEB(extra) "{'version':1,'profiles':{'web':{'match':{}," WEB_NAMES extra "}}}"

static enum pol_reason eval_san(const char *policy, const char *cn, const char *san,
				struct pol_decision *d)
{
	X509 *x = pt_leaf(&ca, leaf_key, cn, san);
	enum pol_reason r = pt_eval(J(policy), &ca, x, d);
	X509_free(x);
	return r;
}

static struct pol_decision dec;

#define EXPECT(r, want) ck_assert_msg((r) == (want), "got %s (%s), want %s", pol_reason_name(r), \
				      dec.sentence, pol_reason_name(want))

START_TEST(test_eval_allows_matching_leaf)
{
	enum pol_reason r = eval_san(WEB(""), "www.example.com",
				     "DNS:www.example.com,DNS:example.com,IP:10.1.2.3", &dec);
	EXPECT(r, POL_R_OK);
	ck_assert_str_eq(dec.profile, "web");
	ck_assert_str_eq(dec.summary.serial_hex, "7A3B9C1D2E4F5061");
	ck_assert_str_eq(dec.summary.sans, "DNS:www.example.com, DNS:example.com, IP:10.1.2.3");
	ck_assert_str_eq(dec.summary.subject, "C=DE, O=Warden Tests, CN=www.example.com");
	ck_assert_int_eq(dec.summary.peer_pid, 42);
	ck_assert(dec.summary.allowed);
}
END_TEST

START_TEST(test_eval_refuses_dns_not_allowed)
{
	EXPECT(eval_san(WEB(""), "evil.example", "DNS:evil.example", &dec), POL_R_DNS_NOT_ALLOWED);
	ck_assert_str_eq(pol_reason_name(dec.reason), "name.dns.not_allowed");
	ck_assert_str_eq(dec.sentence, "dNSName evil.example is not allowed by profile web: no allow "
				       "rule matches");
}
END_TEST

START_TEST(test_eval_deny_wins)
{
	EXPECT(eval_san(WEB(""), "admin.example.com", "DNS:admin.example.com", &dec), POL_R_DNS_DENIED);
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,IP:10.9.9.9", &dec), POL_R_IP_DENIED);
}
END_TEST

START_TEST(test_eval_wildcard_san_needs_allow_wildcard_names)
{
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,DNS:*.example.com", &dec),
	       POL_R_DNS_WILDCARD);
	EXPECT(eval_san("{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'dns':"
			"['*.example.com']},'allowWildcardNames':true}}}}",
			"x.example.com", "DNS:x.example.com,DNS:*.example.com", &dec), POL_R_OK);
	/* a wildcard covering a denied name is denied */
	EXPECT(eval_san("{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'dns':"
			"['*.example.com']},'deny':{'dns':['admin.example.com']},"
			"'allowWildcardNames':true}}}}",
			"x.example.com", "DNS:x.example.com,DNS:*.example.com", &dec), POL_R_DNS_DENIED);
}
END_TEST

START_TEST(test_eval_ip_and_type_without_allow_rule)
{
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,IP:192.0.2.1", &dec),
	       POL_R_IP_NOT_ALLOWED);
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,URI:https://x.example.com/", &dec),
	       POL_R_URI_NOT_ALLOWED);
	ck_assert(strstr(dec.sentence, "allows no URI") != NULL);
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,email:a@example.com", &dec), POL_R_OK);
	EXPECT(eval_san(WEB(""), "x.example.com", "DNS:x.example.com,email:a@evil.com", &dec),
	       POL_R_EMAIL_NOT_ALLOWED);
	/* deny-only rules leave other types allowed (step-ca) */
	EXPECT(eval_san("{'version':1,'profiles':{'p':{'match':{},'names':{'deny':{'dns':"
			"['bad.example.com']}}}}}", "ok.other.org", "DNS:ok.other.org", &dec), POL_R_OK);
}
END_TEST

START_TEST(test_eval_cn_must_be_a_san)
{
	EXPECT(eval_san(WEB(""), "other.example.com", "DNS:www.example.com", &dec), POL_R_CN_NOT_IN_SAN);
	EXPECT(eval_san(WEB(""), "WWW.example.com", "DNS:www.example.com", &dec), POL_R_OK);
	EXPECT(eval_san(WEB(""), "10.1.1.1", "DNS:www.example.com,IP:10.1.1.1", &dec), POL_R_OK);
	EXPECT(eval_san(WEB(",'subject':{'commonNameInSAN':false}"), "Some Service",
			"DNS:www.example.com", &dec), POL_R_CN_NOT_ALLOWED);
	EXPECT(eval_san("{'version':1,'profiles':{'p':{'match':{},'subject':{'commonNameInSAN':false},"
			"'names':{'allow':{'dns':['*.example.com'],'cn':['Some Service']}}}}}",
			"Some Service", "DNS:www.example.com", &dec), POL_R_OK);
	EXPECT(eval_san("{'version':1,'profiles':{'p':{'match':{},'subject':{'commonNameInSAN':false},"
			"'names':{'allow':{'dns':['*.example.com']},'deny':{'cn':['Some Service']}}}}}",
			"Some Service", "DNS:www.example.com", &dec), POL_R_CN_DENIED);
}
END_TEST

START_TEST(test_eval_leaf_needs_san)
{
	EXPECT(eval_san(WEB(""), "www.example.com", NULL, &dec), POL_R_SAN_MISSING);
	EXPECT(eval_san(WEB(",'subject':{'requireSAN':false}"), "www.example.com", NULL, &dec), POL_R_OK);
}
END_TEST

START_TEST(test_eval_unsupported_san_type)
{
	EXPECT(eval_san(WEB(""), "www.example.com", "DNS:www.example.com,otherName:1.2.3.4;UTF8:x", &dec),
	       POL_R_SAN_UNSUPPORTED);
}
END_TEST

START_TEST(test_eval_default_deny_without_profile)
{
	EXPECT(eval_san("{'version':1,'profiles':{}}", "www.example.com", "DNS:www.example.com", &dec),
	       POL_R_NO_PROFILE);
	EXPECT(eval_san("{'version':1,'profiles':{'mtls':{'match':{'provisioner':{'type':'ACME'}}}}}",
			"www.example.com", "DNS:www.example.com", &dec), POL_R_NO_PROFILE);
}
END_TEST

/* step-ca's provisioner extension: SEQUENCE { INTEGER type, OCTET STRING name, OCTET STRING cred } */
static void add_provisioner(X509 *x, int type, const char *name)
{
	struct tu_buf in = { 0 }, seq = { 0 };
	uint8_t t = (uint8_t)type;
	tu_tlv_raw(&in, 0x02, &t, 1);
	tu_tlv_raw(&in, 0x04, name, strlen(name));
	tu_tlv_raw(&in, 0x04, "cred", 4);
	tu_tlv(&seq, 0x30, &in);
	ck_assert(tu_ext_raw(x, "1.3.6.1.4.1.37476.9000.64.1", 0, seq.p, seq.len));
}

START_TEST(test_eval_profile_selection_first_match_in_file_order)
{
	const char *pol = "{'version':1,'profiles':{"
			  "'acme':{'match':{'provisioner':{'type':'ACME','name':'acme'}},"
			  "'names':{'allow':{'dns':['*.acme.test']}}},"
			  "'jwk':{'match':{'provisioner':{'type':1}},'names':{'allow':{'dns':['*.jwk.test']}}},"
			  "'client':{'match':{'extKeyUsage':['clientAuth']}},"
			  "'rest':{'match':{},'names':{'allow':{'dns':['*.example.com']}}}}}";
	X509 *x = pt_leaf(&ca, leaf_key, "a.acme.test", "DNS:a.acme.test");
	add_provisioner(x, 6, "acme");
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_OK);
	ck_assert_str_eq(dec.profile, "acme");
	ck_assert_str_eq(dec.summary.provisioner, "6/acme");
	X509_free(x);
	x = pt_leaf(&ca, leaf_key, "a.acme.test", "DNS:a.acme.test");
	add_provisioner(x, 1, "acme"); /* JWK provisioner: the jwk profile, whose names refuse it */
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_DNS_NOT_ALLOWED);
	ck_assert_str_eq(dec.profile, "jwk");
	X509_free(x);
	x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_OK);
	ck_assert_str_eq(dec.profile, "rest");
	X509_free(x);
}
END_TEST

static X509 *leaf_times(long nb_off, long na_off)
{
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	ck_assert(ASN1_TIME_set(X509_getm_notBefore(x), PT_NOW_S + nb_off) != NULL);
	ck_assert(ASN1_TIME_set(X509_getm_notAfter(x), PT_NOW_S + na_off) != NULL);
	return x;
}

START_TEST(test_eval_validity)
{
	const char *pol = WEB(",'validity':{'maxLifetime':'30d','maxBackdate':'1h','clockSkew':'5m'}");
	X509 *x = leaf_times(-60, 30 * 86400 - 60);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_OK);
	X509_free(x);
	x = leaf_times(-60, 30 * 86400);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_VALIDITY_TOO_LONG);
	X509_free(x);
	x = leaf_times(-3601, 86400);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_VALIDITY_BACKDATED);
	X509_free(x);
	x = leaf_times(301, 86400);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_VALIDITY_FUTURE);
	X509_free(x);
	x = leaf_times(299, 86400);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_OK);
	X509_free(x);
	x = leaf_times(0, -10);
	EXPECT(pt_eval(J(pol), &ca, x, &dec), POL_R_VALIDITY_INVERTED);
	X509_free(x);
	/* the CA certificate ends 90 days after 2025-01-01 */
	x = leaf_times(0, 100 * 86400);
	EXPECT(pt_eval(J(WEB("")), &ca, x, &dec), POL_R_VALIDITY_BEYOND_CA);
	X509_free(x);
	EXPECT(pt_eval(J(WEB(",'validity':{'withinCA':false}")), &ca, (x = leaf_times(0, 100 * 86400)),
		       &dec), POL_R_OK);
	X509_free(x);
}
END_TEST

static enum pol_reason eval_key(const char *pol, EVP_PKEY *k)
{
	X509 *x = pt_leaf(&ca, k, "w.example.com", "DNS:w.example.com");
	enum pol_reason r = pt_eval(J(pol), &ca, x, &dec);
	X509_free(x);
	return r;
}

START_TEST(test_eval_public_key)
{
	EVP_PKEY *rsa1024 = tu_key("rsa1024"), *rsa2048 = tu_key("rsa2048"), *p521 = tu_key("p521"),
		 *ed = tu_key("ed25519");
	EXPECT(eval_key(WEB(""), rsa1024), POL_R_KEY_RSA_SIZE);
	EXPECT(eval_key(WEB(""), rsa2048), POL_R_OK);
	EXPECT(eval_key(WEB(",'publicKey':{'rsaMinBits':3072}"), rsa2048), POL_R_KEY_RSA_SIZE);
	EXPECT(eval_key(WEB(",'publicKey':{'rsaExponents':[3]}"), rsa2048), POL_R_KEY_RSA_EXPONENT);
	EXPECT(eval_key(WEB(""), p521), POL_R_KEY_CURVE);
	EXPECT(eval_key(WEB(",'publicKey':{'curves':['P-521']}"), p521), POL_R_OK);
	EXPECT(eval_key(WEB(""), ed), POL_R_OK);
	EXPECT(eval_key(WEB(",'publicKey':{'algorithms':['EC']}"), ed), POL_R_KEY_ALGORITHM);
	EXPECT(eval_key(WEB(""), ca.key), POL_R_KEY_IS_CA_KEY);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(ed);
}
END_TEST

static enum pol_reason eval_ext(const char *pol, int nid, const char *value)
{
	X509 *x = tu_leaf(ca.cert, leaf_key, "w.example.com", PT_SERIAL);
	ck_assert(tu_ext_conf(x, ca.cert, NID_authority_key_identifier, "keyid:always"));
	ck_assert(tu_ext_conf(x, ca.cert, NID_subject_alt_name, "DNS:w.example.com"));
	if (nid != 0)
		ck_assert(tu_ext_conf(x, ca.cert, nid, value));
	enum pol_reason r = pt_eval(J(pol), &ca, x, &dec);
	X509_free(x);
	return r;
}

START_TEST(test_eval_basic_constraints)
{
	EXPECT(eval_ext(WEB(""), NID_basic_constraints, "critical,CA:TRUE"), POL_R_EXT_CA);
	EXPECT(eval_ext(WEB(",'extensions':{'allowCA':true,'maxPathLen':0}"), NID_basic_constraints,
			"critical,CA:TRUE"), POL_R_EXT_PATH_LEN);
	EXPECT(eval_ext(WEB(",'extensions':{'allowCA':true,'maxPathLen':0}"), NID_basic_constraints,
			"critical,CA:TRUE,pathlen:1"), POL_R_EXT_PATH_LEN);
	EXPECT(eval_ext(WEB(",'extensions':{'allowCA':true,'maxPathLen':0}"), NID_basic_constraints,
			"critical,CA:TRUE,pathlen:0"), POL_R_OK);
	EXPECT(eval_ext(WEB(""), NID_basic_constraints, "critical,CA:FALSE"), POL_R_OK);
}
END_TEST

START_TEST(test_eval_key_usage)
{
	EXPECT(eval_ext(WEB(""), NID_key_usage, "critical,digitalSignature,keyCertSign"),
	       POL_R_EXT_KU_NOT_ALLOWED);
	EXPECT(eval_ext(WEB(",'extensions':{'keyUsage':{'allowed':['digitalSignature',"
			    "'keyEncipherment'],'required':['keyEncipherment']}}"),
			NID_key_usage, "critical,digitalSignature"), POL_R_EXT_KU_MISSING);
	EXPECT(eval_ext(WEB(",'extensions':{'keyUsage':{'allowed':['digitalSignature',"
			    "'keyEncipherment'],'required':['keyEncipherment']}}"),
			NID_key_usage, "critical,keyEncipherment"), POL_R_OK);
}
END_TEST

START_TEST(test_eval_ext_key_usage)
{
	EXPECT(eval_ext(WEB(""), NID_ext_key_usage, "codeSigning"), POL_R_EXT_EKU_NOT_ALLOWED);
	EXPECT(eval_ext(WEB(""), NID_ext_key_usage, "serverAuth,1.2.3.4.5"), POL_R_EXT_EKU_NOT_ALLOWED);
	EXPECT(eval_ext(WEB(",'extensions':{'extKeyUsage':{'allowed':['serverAuth','1.2.3.4.5']}}"),
			NID_ext_key_usage, "serverAuth,1.2.3.4.5"), POL_R_OK);
	EXPECT(eval_ext(WEB(",'extensions':{'extKeyUsage':{'allowed':['serverAuth','clientAuth'],"
			    "'required':['clientAuth']}}"), NID_ext_key_usage, "serverAuth"),
	       POL_R_EXT_EKU_MISSING);
}
END_TEST

START_TEST(test_eval_critical_extensions)
{
	static const uint8_t null_der[] = { 0x05, 0x00 };
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	ck_assert(tu_ext_raw(x, "1.2.3.4.99", 1, null_der, sizeof(null_der)));
	EXPECT(pt_eval(J(WEB("")), &ca, x, &dec), POL_R_EXT_CRITICAL);
	EXPECT(pt_eval(J(WEB(",'extensions':{'allowedCritical':['basicConstraints','keyUsage',"
			     "'1.2.3.4.99']}")), &ca, x, &dec), POL_R_OK);
	X509_free(x);
	x = pt_leaf(&ca, leaf_key, "w.example.com", NULL);
	ck_assert(tu_ext_conf(x, ca.cert, NID_subject_alt_name, "critical,DNS:w.example.com"));
	EXPECT(pt_eval(J(WEB(",'extensions':{'allowedCritical':['basicConstraints','keyUsage']}")),
		       &ca, x, &dec), POL_R_EXT_CRITICAL);
	X509_free(x);
}
END_TEST

START_TEST(test_eval_ski_and_aki)
{
	EXPECT(eval_ext(WEB(",'extensions':{'requireSKI':true}"), 0, NULL), POL_R_EXT_SKI_MISSING);
	EXPECT(eval_ext(WEB(",'extensions':{'requireSKI':true}"), NID_subject_key_identifier, "hash"),
	       POL_R_OK);
	/* no AKI */
	X509 *x = tu_leaf(ca.cert, leaf_key, "w.example.com", PT_SERIAL);
	ck_assert(tu_ext_conf(x, ca.cert, NID_subject_alt_name, "DNS:w.example.com"));
	EXPECT(pt_eval(J(WEB("")), &ca, x, &dec), POL_R_EXT_AKI_MISMATCH);
	EXPECT(pt_eval(J(WEB(",'extensions':{'requireAKI':false}")), &ca, x, &dec), POL_R_OK);
	X509_free(x);
	/* an AKI naming another CA's key */
	struct pt_ca other;
	pt_ca_init(&other, "p256");
	x = tu_leaf(ca.cert, leaf_key, "w.example.com", PT_SERIAL);
	ck_assert(tu_ext_conf(x, ca.cert, NID_subject_alt_name, "DNS:w.example.com"));
	ck_assert(tu_ext_conf(x, other.cert, NID_authority_key_identifier, "keyid:always"));
	EXPECT(pt_eval(J(WEB("")), &ca, x, &dec), POL_R_EXT_AKI_MISMATCH);
	X509_free(x);
	pt_ca_free(&other);
}
END_TEST

static enum pol_reason eval_serial(const char *pol, const char *hex)
{
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	BIGNUM *bn = NULL;
	ck_assert(BN_hex2bn(&bn, hex) > 0);
	ck_assert(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL);
	BN_free(bn);
	enum pol_reason r = pt_eval(J(pol), &ca, x, &dec);
	X509_free(x);
	return r;
}

START_TEST(test_eval_serial)
{
	EXPECT(eval_serial(WEB(""), "0102030405060708"), POL_R_OK);
	EXPECT(eval_serial(WEB(""), "01020304050607"), POL_R_SERIAL_TOO_SHORT);
	EXPECT(eval_serial(WEB(",'serial':{'minOctets':4}"), "01020304050607"), POL_R_OK);
	EXPECT(eval_serial(WEB(""), "0"), POL_R_SERIAL_NOT_POSITIVE);
	EXPECT(eval_serial(WEB(""), "-0102030405060708"), POL_R_SERIAL_NOT_POSITIVE);
	EXPECT(eval_serial(WEB(""), "7F0102030405060708090A0B0C0D0E0F10111213"), POL_R_OK);
	EXPECT(eval_serial(WEB(""), "FF0102030405060708090A0B0C0D0E0F10111213"), POL_R_SERIAL_TOO_LONG);
}
END_TEST

START_TEST(test_eval_serial_never_reused)
{
	struct pol_policy *pol = pt_policy(J(WEB("")));
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA256_RSA_PKCS, &dec), POL_R_OK);
	ck_assert(pol_state_commit(st, &dec));
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA256_RSA_PKCS, &dec), POL_R_SERIAL_REUSED);
	X509_free(x);
	pol_state_free(st);
	pol_policy_free(pol);
}
END_TEST

START_TEST(test_eval_signature_and_issuer)
{
	struct pol_policy *pol = pt_policy(J(WEB("")));
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA384_RSA_PKCS, &dec), POL_R_SIG_ALG_MISMATCH);
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_ECDSA_SHA256, &dec), POL_R_MECHANISM);
	EXPECT(pt_eval_on(pol, st, &ca, x, 0x9999, &dec), POL_R_MECHANISM);
	X509_free(x);
	/* issuer not byte-identical to the CA subject */
	x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	X509_NAME *n = X509_NAME_new();
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Other CA",
					     -1, -1, 0));
	ck_assert(X509_set_issuer_name(x, n));
	X509_NAME_free(n);
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA256_RSA_PKCS, &dec), POL_R_ISSUER_MISMATCH);
	ca.info.has_cert = false;
	EXPECT(pt_eval_on(pol, st, &ca, x, POL_CKM_SHA256_RSA_PKCS, &dec), POL_R_CA_NO_CERT);
	ca.info.has_cert = true;
	X509_free(x);
	pol_state_free(st);
	pol_policy_free(pol);
}
END_TEST

START_TEST(test_eval_pss_parameters)
{
	struct pol_policy *pol = pt_policy(J(WEB("")));
	struct pol_state *st = NULL;
	size_t len;
	ck_assert(pol_state_new(NULL, NULL, &st));
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	uint8_t *tbs = tu_tbs(x, ca.key, EVP_sha256(), 32, &len);
	struct pol_request req = { .mechanism = POL_CKM_SHA256_RSA_PKCS_PSS, .has_pss = true,
				   .pss_hash = POL_CKM_SHA256, .pss_mgf = POL_CKG_MGF1_SHA256,
				   .pss_salt_len = 32, .data = tbs, .len = len };
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_OK);
	req.pss_salt_len = 20;
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_SIG_PSS_PARAMS);
	req.pss_salt_len = 32;
	req.pss_hash = POL_CKM_SHA384;
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_MECH_PARAMS);
	req.pss_hash = POL_CKM_SHA256;
	req.mechanism = POL_CKM_SHA256_RSA_PKCS;
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_SIG_ALG_MISMATCH);
	OPENSSL_free(tbs);
	X509_free(x);
	pol_state_free(st);
	pol_policy_free(pol);
}
END_TEST

START_TEST(test_eval_signing_keys_and_kinds)
{
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	EXPECT(pt_eval(J("{'version':1,'signingKeys':{'other':{}},'profiles':{'p':{'match':{}}}}"),
		       &ca, x, &dec), POL_R_KEY_UNKNOWN);
	EXPECT(pt_eval(J("{'version':1,'signingKeys':{'ca':{'sign':['crl']}},'profiles':{'p':{"
			 "'match':{}}}}"), &ca, x, &dec), POL_R_KIND_NOT_ALLOWED);
	EXPECT(pt_eval(J("{'version':1,'signingKeys':{'*':{'sign':['certificate']}},'profiles':{'p':{"
			 "'match':{}}}}"), &ca, x, &dec), POL_R_OK);
	X509_free(x);
}
END_TEST

START_TEST(test_eval_other_data_and_malformed)
{
	struct pol_policy *pol = pt_policy(J("{'version':1,'signingKeys':{'ca':{'sign':['other']}},"
					     "'profiles':{}}"));
	struct pol_state *st = NULL;
	static const uint8_t blob[] = "hello";
	ck_assert(pol_state_new(NULL, NULL, &st));
	struct pol_request req = { .mechanism = POL_CKM_SHA256_RSA_PKCS, .data = blob, .len = 5 };
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_OK);
	pol_policy_free(pol);
	/* a TBSCertificate with a non-minimal length is refused with the DER reason */
	pol = pt_policy(J(WEB("")));
	X509 *x = pt_leaf(&ca, leaf_key, "w.example.com", "DNS:w.example.com");
	size_t len;
	uint8_t *tbs = tu_tbs(x, ca.key, EVP_sha256(), -1, &len);
	uint8_t *bad = malloc(len);
	memcpy(bad, tbs, len);
	/* notBefore 250101000000Z with a letter in its seconds: still a TBSCertificate by
	 * structure, refused by the strict parser */
	uint8_t *t = memmem(bad, len, "250101000000Z", 13);
	ck_assert(t != NULL);
	t[11] = 'X';
	req.data = bad;
	req.len = len;
	ck_assert(pol_evaluate(pol, st, &ca.info, &req, PT_NOW_S * 1000000000LL, &dec));
	EXPECT(dec.reason, POL_R_PARSE);
	ck_assert(strstr(dec.sentence, "malformed") != NULL);
	free(bad);
	OPENSSL_free(tbs);
	X509_free(x);
	pol_state_free(st);
	pol_policy_free(pol);
}
END_TEST

START_TEST(test_eval_authority_names_apply_to_every_profile)
{
	const char *pol = "{'version':1,'authority':{'names':{'deny':{'dns':['*.internal.example.com']}}},"
			  "'profiles':{'p':{'match':{},'names':{'allow':{'dns':['*.example.com',"
			  "'*.internal.example.com']}}}}}";
	EXPECT(eval_san(pol, "a.internal.example.com", "DNS:a.internal.example.com", &dec),
	       POL_R_DNS_DENIED);
	ck_assert(strstr(dec.sentence, "the authority") != NULL);
	EXPECT(eval_san(pol, "a.example.com", "DNS:a.example.com", &dec), POL_R_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_eval");
	TCase *tc = tcase_create("eval");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_eval_allows_matching_leaf);
	tcase_add_test(tc, test_eval_refuses_dns_not_allowed);
	tcase_add_test(tc, test_eval_deny_wins);
	tcase_add_test(tc, test_eval_wildcard_san_needs_allow_wildcard_names);
	tcase_add_test(tc, test_eval_ip_and_type_without_allow_rule);
	tcase_add_test(tc, test_eval_cn_must_be_a_san);
	tcase_add_test(tc, test_eval_leaf_needs_san);
	tcase_add_test(tc, test_eval_unsupported_san_type);
	tcase_add_test(tc, test_eval_default_deny_without_profile);
	tcase_add_test(tc, test_eval_profile_selection_first_match_in_file_order);
	tcase_add_test(tc, test_eval_validity);
	tcase_add_test(tc, test_eval_public_key);
	tcase_add_test(tc, test_eval_basic_constraints);
	tcase_add_test(tc, test_eval_key_usage);
	tcase_add_test(tc, test_eval_ext_key_usage);
	tcase_add_test(tc, test_eval_critical_extensions);
	tcase_add_test(tc, test_eval_ski_and_aki);
	tcase_add_test(tc, test_eval_serial);
	tcase_add_test(tc, test_eval_serial_never_reused);
	tcase_add_test(tc, test_eval_signature_and_issuer);
	tcase_add_test(tc, test_eval_pss_parameters);
	tcase_add_test(tc, test_eval_signing_keys_and_kinds);
	tcase_add_test(tc, test_eval_other_data_and_malformed);
	tcase_add_test(tc, test_eval_authority_names_apply_to_every_profile);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
