/*
 * admin_policy.c - `warden-admin policy check|test`: validate a policy file and dry-run
 * a certificate or TBSCertificate against it, signing nothing.
 *
 *   warden-admin policy check FILE
 *       exit 0 valid (prints the policy hash), 1 invalid (prints the JSON path and why)
 *   warden-admin policy test FILE CERT.pem|CERT.der|TBS.der --ca CA.pem [--key LABEL]
 *                            [--mechanism NAME] [--now EPOCH]
 *       exit 0 allowed, 2 refused, 1 error
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "policy.h"

#define ADMIN_POLICY_EXIT_OK 0
#define ADMIN_POLICY_EXIT_ERROR 1
#define ADMIN_POLICY_EXIT_REFUSED 2
#define ADMIN_POLICY_MAX_INPUT (1024u * 1024u) /* a certificate or TBS file */

/* Reads a whole file of at most max bytes; NULL (with a message) otherwise. */
static uint8_t *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "warden-admin: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	if (buf == NULL)
		goto out;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		fprintf(stderr, "warden-admin: %s: %s\n", path,
			ferror(f) ? "read error" : "file too large");
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = n;
out:
	fclose(f);
	return buf;
}

static struct pol_policy *load_policy(const char *path)
{
	size_t len;
	uint8_t *buf = read_file(path, POL_POLICY_MAX_BYTES, &len);
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	if (buf == NULL)
		return NULL;
	if (!pol_policy_load((const char *)buf, len, &p, &err)) {
		if (err.line > 0)
			fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.column, err.msg);
		else
			fprintf(stderr, "%s: %s%s%s\n", path, err.path, err.path[0] ? ": " : "",
				err.msg);
	}
	free(buf);
	return p;
}

static int cmd_check(int argc, char **argv)
{
	struct pol_policy *p;
	if (argc != 2) {
		fprintf(stderr, "warden-admin: usage: warden-admin policy check FILE\n");
		return ADMIN_POLICY_EXIT_ERROR;
	}
	p = load_policy(argv[1]);
	if (p == NULL)
		return ADMIN_POLICY_EXIT_ERROR;
	printf("%s: valid\npolicy sha256: %s\nprofiles (first match wins):", argv[1],
	       pol_policy_hash_hex(p));
	for (size_t i = 0; i < pol_policy_num_profiles(p); i++)
		printf(" %s", pol_policy_profile_name(p, i));
	printf("%s\n", pol_policy_num_profiles(p) == 0 ? " none: every certificate is refused" : "");
	pol_policy_free(p);
	return ADMIN_POLICY_EXIT_OK;
}

/* The TBSCertificate inside a certificate (PEM or DER), or the input itself if it is a
 * TBS (its first element is the [0] version, not a SEQUENCE). */
static bool extract_tbs(uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t *der = in;
	long dlen = (long)len;
	struct der_cur c, outer, tbs;
	struct der_err e;
	uint8_t tag;

	if (len > 0 && in[0] == '-') {
		BIO *b = BIO_new_mem_buf(in, (int)len);
		char *name = NULL, *hdr = NULL;
		unsigned char *data = NULL;
		if (b == NULL || !PEM_read_bio(b, &name, &hdr, &data, &dlen) ||
		    strcmp(name, "CERTIFICATE") != 0) {
			BIO_free(b);
			OPENSSL_free(name);
			OPENSSL_free(hdr);
			OPENSSL_free(data);
			return false;
		}
		BIO_free(b);
		OPENSSL_free(name);
		OPENSSL_free(hdr);
		der = data;
	}
	der_cur_init(&c, der, (size_t)dlen);
	der_err_init(&e, der);
	if (!der_get(&c, DER_SEQUENCE, &outer, &e) || !der_peek_tag(&outer, &tag))
		goto fail;
	if (tag == DER_SEQUENCE) { /* a certificate: its first element is the TBS */
		if (!der_get_tlv(&outer, DER_SEQUENCE, &tbs, NULL, &e))
			goto fail;
	} else {
		tbs.p = der;
		tbs.len = (size_t)dlen;
	}
	*out = malloc(tbs.len);
	if (*out == NULL)
		goto fail;
	memcpy(*out, tbs.p, tbs.len);
	*out_len = tbs.len;
	if (der != in)
		OPENSSL_free(der);
	return true;
fail:
	if (der != in)
		OPENSSL_free(der);
	return false;
}

/* What the enclave would know about the CA key, from its certificate. */
struct ca_buf {
	X509 *x;
	unsigned char *subject, *spki;
	struct pol_ca_info info;
};

static bool load_ca(const char *path, const char *label, struct ca_buf *ca)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;
	int n;
	memset(ca, 0, sizeof(*ca));
	if (f == NULL || (ca->x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		fprintf(stderr, "warden-admin: %s: not a PEM certificate\n", path);
		return false;
	}
	fclose(f);
	k = X509_get0_pubkey(ca->x);
	if (k == NULL || (n = i2d_X509_NAME(X509_get_subject_name(ca->x), &ca->subject)) <= 0)
		return false;
	ca->info.subject_len = (size_t)n;
	if ((n = i2d_PUBKEY(k, &ca->spki)) <= 0)
		return false;
	ca->info.spki_len = (size_t)n;
	ca->info.label = label;
	ca->info.subject_der = ca->subject;
	ca->info.spki_der = ca->spki;
	ca->info.has_cert = true;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->x);
	if (ski != NULL) {
		ca->info.ski = ASN1_STRING_get0_data(ski);
		ca->info.ski_len = (size_t)ASN1_STRING_length(ski);
	}
	struct tm tm;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(ca->x), &tm))
		return false;
	ca->info.not_after = (int64_t)timegm(&tm);
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		ca->info.key_type = POL_KEY_RSA;
		ca->info.rsa_bits = (uint32_t)EVP_PKEY_get_bits(k);
		break;
	case EVP_PKEY_EC: {
		char g[64] = "";
		size_t gl;
		ca->info.key_type = POL_KEY_EC;
		(void)EVP_PKEY_get_utf8_string_param(k, "group", g, sizeof(g), &gl);
		ca->info.curve = strcmp(g, "prime256v1") == 0 ? POL_CURVE_P256
				 : strcmp(g, "secp384r1") == 0 ? POL_CURVE_P384
				 : strcmp(g, "secp521r1") == 0 ? POL_CURVE_P521 : POL_CURVE_OTHER;
		break;
	}
	case EVP_PKEY_ED25519:
		ca->info.key_type = POL_KEY_ED25519;
		break;
	default:
		ca->info.key_type = POL_KEY_OTHER;
	}
	return true;
}

static void free_ca(struct ca_buf *ca)
{
	OPENSSL_free(ca->subject);
	OPENSSL_free(ca->spki);
	X509_free(ca->x);
}

static unsigned long mgf_of(enum pol_hash h)
{
	return h == POL_HASH_SHA256 ? POL_CKG_MGF1_SHA256 : h == POL_HASH_SHA384 ? POL_CKG_MGF1_SHA384
	       : h == POL_HASH_SHA512 ? POL_CKG_MGF1_SHA512 : h == POL_HASH_SHA1 ? POL_CKG_MGF1_SHA1
	       : 0;
}

static unsigned long ckm_hash_of(enum pol_hash h)
{
	return h == POL_HASH_SHA256 ? POL_CKM_SHA256 : h == POL_HASH_SHA384 ? POL_CKM_SHA384
	       : h == POL_HASH_SHA512 ? POL_CKM_SHA512 : h == POL_HASH_SHA1 ? POL_CKM_SHA_1 : 0;
}

/* The mechanism a client would use for this TBS's signature algorithm, with PSS
 * parameters taken from it. */
static bool infer_mechanism(const struct pol_cert_facts *f, struct pol_request *req)
{
	static const struct {
		enum pol_sigalg alg;
		unsigned long mech;
	} map[] = {
		{ POL_SIG_RSA_PKCS1_SHA256, POL_CKM_SHA256_RSA_PKCS },
		{ POL_SIG_RSA_PKCS1_SHA384, POL_CKM_SHA384_RSA_PKCS },
		{ POL_SIG_RSA_PKCS1_SHA512, POL_CKM_SHA512_RSA_PKCS },
		{ POL_SIG_ECDSA_SHA256, POL_CKM_ECDSA_SHA256 },
		{ POL_SIG_ECDSA_SHA384, POL_CKM_ECDSA_SHA384 },
		{ POL_SIG_ECDSA_SHA512, POL_CKM_ECDSA_SHA512 },
		{ POL_SIG_ED25519, POL_CKM_EDDSA },
	};
	if (f->sig.alg == POL_SIG_RSA_PSS) {
		req->mechanism = f->sig.pss_hash == POL_HASH_SHA384 ? POL_CKM_SHA384_RSA_PKCS_PSS
				 : f->sig.pss_hash == POL_HASH_SHA512 ? POL_CKM_SHA512_RSA_PKCS_PSS
								       : POL_CKM_SHA256_RSA_PKCS_PSS;
		return true;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].alg == f->sig.alg) {
			req->mechanism = map[i].mech;
			return true;
		}
	return false;
}

static void print_time(const char *what, int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)t);
	printf("%s: %s\n", what, buf);
}

static int cmd_test(int argc, char **argv)
{
	enum { O_CA = 256, O_KEY, O_MECH, O_NOW };
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, O_CA },
		{ "key", required_argument, NULL, O_KEY },
		{ "mechanism", required_argument, NULL, O_MECH },
		{ "now", required_argument, NULL, O_NOW },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca_path = NULL, *label = ADMIN_DEFAULT_KEY_LABEL, *mech_name = NULL;
	struct pol_policy *pol = NULL;
	struct pol_state *st = NULL;
	struct pol_psl *psl = NULL;
	struct pol_decision *d = NULL;
	struct pol_request req;
	struct ca_buf ca;
	uint8_t *in = NULL, *tbs = NULL;
	size_t in_len, tbs_len;
	int64_t now = (int64_t)time(NULL);
	int c, ret = ADMIN_POLICY_EXIT_ERROR;
	char *end;

	memset(&ca, 0, sizeof(ca));
	memset(&req, 0, sizeof(req));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_CA: ca_path = optarg; break;
		case O_KEY: label = optarg; break;
		case O_MECH: mech_name = optarg; break;
		case O_NOW:
			errno = 0;
			now = (int64_t)strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || now <= 0) {
				fprintf(stderr, "warden-admin: --now takes seconds since the epoch\n");
				return ADMIN_POLICY_EXIT_ERROR;
			}
			break;
		default:
			fprintf(stderr, "warden-admin: bad option %s\n", argv[optind - 1]);
			return ADMIN_POLICY_EXIT_ERROR;
		}
	}
	if (optind + 2 != argc || ca_path == NULL) {
		fprintf(stderr, "warden-admin: usage: warden-admin policy test FILE CERT.pem|TBS.der "
				"--ca CA.pem [--key LABEL] [--mechanism NAME] [--now EPOCH]\n");
		return ADMIN_POLICY_EXIT_ERROR;
	}
	if (strlen(label) >= POL_NAME_MAX) {
		fprintf(stderr, "warden-admin: --key label too long\n");
		return ADMIN_POLICY_EXIT_ERROR;
	}
	if ((pol = load_policy(argv[optind])) == NULL || !load_ca(ca_path, label, &ca))
		goto out;
	if ((in = read_file(argv[optind + 1], ADMIN_POLICY_MAX_INPUT, &in_len)) == NULL)
		goto out;
	if (!extract_tbs(in, in_len, &tbs, &tbs_len)) {
		fprintf(stderr, "warden-admin: %s: not a certificate (PEM or DER) or a DER "
				"TBSCertificate\n", argv[optind + 1]);
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL || !pol_state_new(NULL, NULL, &st))
		goto out;
	if (pol_psl_load(NULL, &psl)) {
		pol_state_free(st);
		st = NULL;
		if (!pol_state_new(NULL, psl, &st))
			goto out;
	}
	req.data = tbs;
	req.len = tbs_len;
	req.key_label = label;
	/* the mechanism and PSS parameters: named, or what the TBS's algorithm implies */
	struct der_err e;
	bool have_facts = pol_cert_facts(tbs, tbs_len, &d->facts.cert, &e);
	if (mech_name != NULL) {
		if (!pol_mechanism_from_name(mech_name, &req.mechanism)) {
			fprintf(stderr, "warden-admin: unknown mechanism %s\n", mech_name);
			goto out;
		}
	} else if (!have_facts || !infer_mechanism(&d->facts.cert, &req)) {
		fprintf(stderr, "warden-admin: cannot infer the mechanism from the TBS: use "
				"--mechanism\n");
		goto out;
	}
	if (have_facts && d->facts.cert.sig.alg == POL_SIG_RSA_PSS) {
		req.has_pss = true;
		req.pss_hash = ckm_hash_of(d->facts.cert.sig.pss_hash);
		req.pss_mgf = mgf_of(d->facts.cert.sig.pss_mgf1_hash);
		req.pss_salt_len = (unsigned long)d->facts.cert.sig.pss_salt_len;
	}
	req.prehashed = req.mechanism == POL_CKM_RSA_PKCS || req.mechanism == POL_CKM_RSA_PKCS_PSS ||
			req.mechanism == POL_CKM_ECDSA;
	if (!pol_evaluate(pol, st, &ca.info, &req, now * 1000000000LL, d))
		goto out;
	printf("decision: %s\nreason: %s (%d)\nprofile: %s\n%s\n",
	       d->allowed ? "allowed" : "refused", pol_reason_name(d->reason), (int)d->reason,
	       d->profile[0] ? d->profile : "(none)", d->sentence);
	printf("key: %s\nmechanism: %s\nkind: %s\n", label, pol_mechanism_name(req.mechanism),
	       pol_kind_str((enum pol_kind)d->summary.kind));
	if (d->summary.kind == POL_KIND_TBS_CERT && d->reason != POL_R_PARSE) {
		printf("serial: %s\nsubject: %s\nsubjectAltName: %s\n", d->summary.serial_hex,
		       d->summary.subject, d->summary.sans[0] ? d->summary.sans : "(none)");
		print_time("notBefore", d->summary.not_before);
		print_time("notAfter", d->summary.not_after);
		if (d->summary.provisioner[0])
			printf("provisioner: %s\n", d->summary.provisioner);
	}
	printf("policy sha256: %s\n(dry run: nothing was signed)\n", pol_policy_hash_hex(pol));
	ret = d->allowed ? ADMIN_POLICY_EXIT_OK : ADMIN_POLICY_EXIT_REFUSED;
out:
	free(d);
	pol_state_free(st);
	pol_psl_free(psl);
	free(tbs);
	free(in);
	free_ca(&ca);
	pol_policy_free(pol);
	return ret;
}

int admin_policy_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return cmd_test(argc - 1, argv + 1);
	fprintf(stderr, "warden-admin: usage: warden-admin policy check FILE\n"
			"       warden-admin policy test FILE CERT.pem|TBS.der --ca CA.pem "
			"[--key LABEL] [--mechanism NAME] [--now EPOCH]\n");
	return ADMIN_POLICY_EXIT_ERROR;
}
