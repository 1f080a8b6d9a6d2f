/*
 * aud_tool_recheck.c - reconcile's policy re-check: would the policy given now refuse a
 * certificate that the log shows as signed?
 *
 * For each matched certificate, in log order:
 * - the CA facts (struct pol_ca_info) come from a --ca certificate whose subject is the
 *   certificate's issuer name (and whose key is the key the log records for the label,
 *   when it records one), else from the ca_cert the log records for the key label
 *   (AUD_F_CA_KEY { KEY, KEY_SPKI, CA_CERT }).  Neither: UNCHECKED (counted as a failure).
 * - the request is rebuilt from the matching record: key label, mechanism (inferred from
 *   the TBS's signature algorithm when the record has none), PSS parameters (recorded,
 *   else the TBS's), evaluated at the record's time (backdating and "not yet valid" rules
 *   are judged as at signing).
 * - a prehashed record is evaluated twice: as it was asked (the raw mechanism and the
 *   digest: does the policy still let this key sign raw digests?) and for its content
 *   (the TBS with the full-data mechanism of the same key type and hash), which is what
 *   "prehashed: audit" defers to reconciliation.
 * One policy state collects the allowed content decisions in log order, so serial reuse
 * and rate limits are seen across the certificates given - not across the rest of the
 * log, so rate limits are a lower bound of what the enclave saw.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "aud_tool_recon.h"

void recon_ca_view_free(struct recon_ca_view *v)
{
	OPENSSL_free(v->subject);
	OPENSSL_free(v->spki);
	memset(v, 0, sizeof *v);
}

static int64_t asn1_time_s(const ASN1_TIME *t, bool *ok)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
		*ok = false;
		return 0;
	}
	return (int64_t)timegm(&tm);
}

/* What the enclave knows about a key, from its CA certificate (as enclave/admin_policy.c
 * builds it for `warden-admin policy test`). */
bool recon_ca_view_make(X509 *ca, const char *label, struct recon_ca_view *v)
{
	EVP_PKEY *k = X509_get0_pubkey(ca);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	bool ok = true;
	int n;

	memset(v, 0, sizeof *v);
	if (k == NULL || (n = i2d_X509_NAME(X509_get_subject_name(ca), &v->subject)) <= 0)
		return false;
	v->info.subject_len = (size_t)n;
	if ((n = i2d_PUBKEY(k, &v->spki)) <= 0)
		return false;
	v->info.spki_len = (size_t)n;
	v->info.label = label;
	v->info.subject_der = v->subject;
	v->info.spki_der = v->spki;
	v->info.has_cert = true;
	if (ski != NULL) {
		v->info.ski = ASN1_STRING_get0_data(ski);
		v->info.ski_len = (size_t)ASN1_STRING_length(ski);
	}
	v->info.not_after = asn1_time_s(X509_get0_notAfter(ca), &ok);
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		v->info.key_type = POL_KEY_RSA;
		v->info.rsa_bits = (uint32_t)EVP_PKEY_get_bits(k);
		break;
	case EVP_PKEY_EC: {
		char g[64] = "";
		size_t gl = 0;

		v->info.key_type = POL_KEY_EC;
		(void)EVP_PKEY_get_utf8_string_param(k, "group", g, sizeof g, &gl);
		v->info.curve = strcmp(g, "prime256v1") == 0	? POL_CURVE_P256
				: strcmp(g, "secp384r1") == 0 ? POL_CURVE_P384
				: strcmp(g, "secp521r1") == 0 ? POL_CURVE_P521
							      : POL_CURVE_OTHER;
		break;
	}
	case EVP_PKEY_ED25519:
		v->info.key_type = POL_KEY_ED25519;
		break;
	default:
		v->info.key_type = POL_KEY_OTHER;
	}
	return ok;
}

X509 *recon_pick_ca(const struct recon *r, const char *label, const X509_NAME *issuer)
{
	const struct recon_key *rk = recon_key_find(r, label);

	for (size_t i = 0; i < r->num_cas; i++) {
		if (issuer != NULL && X509_NAME_cmp(X509_get_subject_name(r->cas[i]), issuer) != 0)
			continue;
		if (rk != NULL && rk->pub != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(r->cas[i]), rk->pub) != 1)
			continue;
		if (rk == NULL && issuer == NULL)
			continue;
		return r->cas[i];
	}
	return rk != NULL ? rk->ca : NULL;
}

/* The hash of a record's prehash_alg ("" : by digest length). */
static enum pol_hash hash_by_name(const char *name, unsigned digest_len)
{
	if (strcmp(name, "sha256") == 0)
		return POL_HASH_SHA256;
	if (strcmp(name, "sha384") == 0)
		return POL_HASH_SHA384;
	if (strcmp(name, "sha512") == 0)
		return POL_HASH_SHA512;
	if (name[0] != '\0')
		return POL_HASH_UNKNOWN;
	return digest_len == 32 ? POL_HASH_SHA256 : digest_len == 48 ? POL_HASH_SHA384
		: digest_len == 64 ? POL_HASH_SHA512 : POL_HASH_UNKNOWN;
}

static unsigned long ckm_of_hash(enum pol_hash h)
{
	return h == POL_HASH_SHA256 ? POL_CKM_SHA256 : h == POL_HASH_SHA384 ? POL_CKM_SHA384
	       : h == POL_HASH_SHA512 ? POL_CKM_SHA512 : h == POL_HASH_SHA1 ? POL_CKM_SHA_1 : 0;
}

static unsigned long mgf_of_hash(enum pol_hash h)
{
	return h == POL_HASH_SHA256 ? POL_CKG_MGF1_SHA256 : h == POL_HASH_SHA384 ? POL_CKG_MGF1_SHA384
	       : h == POL_HASH_SHA512 ? POL_CKG_MGF1_SHA512 : h == POL_HASH_SHA1 ? POL_CKG_MGF1_SHA1
	       : 0;
}

static bool is_raw(unsigned long m)
{
	return m == POL_CKM_RSA_PKCS || m == POL_CKM_RSA_PKCS_PSS || m == POL_CKM_ECDSA;
}

/* The full-data mechanism for a raw one and a digest hash; 0 if none. */
static unsigned long full_of_raw(unsigned long raw, enum pol_hash h)
{
	static const struct {
		unsigned long raw;
		enum pol_hash h;
		unsigned long full;
	} map[] = {
		{POL_CKM_RSA_PKCS, POL_HASH_SHA256, POL_CKM_SHA256_RSA_PKCS},
		{POL_CKM_RSA_PKCS, POL_HASH_SHA384, POL_CKM_SHA384_RSA_PKCS},
		{POL_CKM_RSA_PKCS, POL_HASH_SHA512, POL_CKM_SHA512_RSA_PKCS},
		{POL_CKM_RSA_PKCS_PSS, POL_HASH_SHA256, POL_CKM_SHA256_RSA_PKCS_PSS},
		{POL_CKM_RSA_PKCS_PSS, POL_HASH_SHA384, POL_CKM_SHA384_RSA_PKCS_PSS},
		{POL_CKM_RSA_PKCS_PSS, POL_HASH_SHA512, POL_CKM_SHA512_RSA_PKCS_PSS},
		{POL_CKM_ECDSA, POL_HASH_SHA256, POL_CKM_ECDSA_SHA256},
		{POL_CKM_ECDSA, POL_HASH_SHA384, POL_CKM_ECDSA_SHA384},
		{POL_CKM_ECDSA, POL_HASH_SHA512, POL_CKM_ECDSA_SHA512},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].raw == raw && map[i].h == h)
			return map[i].full;
	return 0;
}

/* The full-data mechanism a client would pick for a signature algorithm. */
unsigned long recon_mech_of_alg(const struct pol_algid *f)
{
	static const struct {
		enum pol_sigalg alg;
		unsigned long mech;
	} map[] = {
		{POL_SIG_RSA_PKCS1_SHA256, POL_CKM_SHA256_RSA_PKCS},
		{POL_SIG_RSA_PKCS1_SHA384, POL_CKM_SHA384_RSA_PKCS},
		{POL_SIG_RSA_PKCS1_SHA512, POL_CKM_SHA512_RSA_PKCS},
		{POL_SIG_ECDSA_SHA256, POL_CKM_ECDSA_SHA256},
		{POL_SIG_ECDSA_SHA384, POL_CKM_ECDSA_SHA384},
		{POL_SIG_ECDSA_SHA512, POL_CKM_ECDSA_SHA512},
		{POL_SIG_ED25519, POL_CKM_EDDSA},
	};

	if (f->alg == POL_SIG_RSA_PSS)
		return f->pss_hash == POL_HASH_SHA384   ? POL_CKM_SHA384_RSA_PKCS_PSS
		       : f->pss_hash == POL_HASH_SHA512 ? POL_CKM_SHA512_RSA_PKCS_PSS
							    : POL_CKM_SHA256_RSA_PKCS_PSS;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].alg == f->alg)
			return map[i].mech;
	return 0;
}

/* --- what both re-checks share ------------------------------------------------------- */

void recon_print_line(const char *tag, const struct recon_subject *s, const char *what,
		      const struct pol_decision *d)
{
	printf("%s", tag);
	if (s->cert != NULL)
		recon_print_cert(s->cert);
	else
		recon_print_rev(s->rev);
	printf(": record %llu key %s: ", (unsigned long long)s->a.seq, s->a.key);
	if (d == NULL) {
		printf("%s\n", what);
		return;
	}
	if (d->allowed) {
		printf("%s\n", d->sentence);
		return;
	}
	printf("%s%s%s (%u): %s\n", what, what[0] ? ": " : "", pol_reason_name(d->reason),
	       (unsigned)d->reason, d->sentence);
}

bool recon_subject_ca(const struct recon *r, const struct recon_subject *s,
		      const X509_NAME *issuer, struct recon_ca_view *v)
{
	X509 *ca = recon_pick_ca(r, s->a.key, issuer);

	memset(v, 0, sizeof *v);
	if (ca == NULL) {
		recon_print_line("UNCHECKED", s, "no CA certificate for this key (give --ca CA.pem, "
				 "or record ca_cert in the log's ca_key entry)", NULL);
		return false;
	}
	if (!recon_ca_view_make(ca, s->a.key, v)) {
		recon_print_line("UNCHECKED", s, "the CA certificate's facts cannot be read", NULL);
		return false;
	}
	return true;
}

bool recon_judge_subject(const struct recon_judge *j, const struct recon_ca_view *cv,
			 const struct recon_subject *s, struct pol_request *req,
			 const struct pol_algid *tbs_sig)
{
	const struct recon_asked *a = &s->a;

	if (a->prehashed) {
		/* As asked: a raw digest.  Not committed (the content decision below is). */
		req->prehashed = true;
		req->data = a->digest;
		req->len = a->digest_len;
		if (!pol_evaluate(j->pol, j->st, &cv->info, req, a->time_ns, j->d))
			goto internal;
		if (!j->d->allowed) {
			recon_print_line("REFUSED", s, "raw-digest request", j->d);
			return false;
		}
		enum pol_hash h = hash_by_name(a->prehash_alg, a->digest_len);

		req->mechanism = is_raw(req->mechanism) ? full_of_raw(req->mechanism, h) : 0;
		if (req->mechanism == 0) {
			recon_print_line("UNCHECKED", s, "no full-data mechanism matches the raw "
					 "mechanism and digest of the record", NULL);
			return false;
		}
		req->prehashed = false;
	}
	if (a->has_pss) {
		req->has_pss = true;
		req->pss_hash = (unsigned long)a->pss_hash;
		req->pss_mgf = (unsigned long)a->pss_mgf;
		req->pss_salt_len = (unsigned long)a->pss_salt_len;
	} else if (tbs_sig != NULL && tbs_sig->alg == POL_SIG_RSA_PSS) {
		req->has_pss = true;
		req->pss_hash = ckm_of_hash(tbs_sig->pss_hash);
		req->pss_mgf = mgf_of_hash(tbs_sig->pss_mgf1_hash);
		req->pss_salt_len = (unsigned long)tbs_sig->pss_salt_len;
	}
	req->data = s->tbs;
	req->len = s->tbs_len;
	if (!pol_evaluate(j->pol, j->st, &cv->info, req, a->time_ns, j->d))
		goto internal;
	if (!j->d->allowed) {
		recon_print_line("REFUSED", s, a->prehashed ? "content" : "", j->d);
		return false;
	}
	return true;
internal:
	recon_print_line("UNCHECKED", s, "the policy engine refused the call", NULL);
	return false;
}

/* The policy file's bytes (free them), NULL if unreadable or too big. */
static char *read_policy(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;

	*len = 0;
	if (f == NULL)
		return NULL;
	buf = malloc(POL_POLICY_MAX_BYTES + 1);
	if (buf != NULL) {
		*len = fread(buf, 1, POL_POLICY_MAX_BYTES + 1, f);
		if (ferror(f) || *len > POL_POLICY_MAX_BYTES) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

int recon_judge_open(struct recon_judge *j, const char *policy_path)
{
	struct pol_load_error le;
	size_t len;

	memset(j, 0, sizeof *j);
	j->json = read_policy(policy_path, &len);
	if (j->json == NULL) {
		fprintf(stderr, "warden-audit: %s: unreadable or larger than %u bytes\n",
			policy_path, POL_POLICY_MAX_BYTES);
		return AUD_EXIT_USAGE;
	}
	if (!pol_policy_load(j->json, len, &j->pol, &le)) {
		fprintf(stderr, "warden-audit: %s: %s%s%s\n", policy_path, le.path,
			le.path[0] ? ": " : "", le.msg);
		return AUD_EXIT_USAGE;
	}
	if (!pol_psl_load(NULL, &j->psl))
		j->psl = NULL; /* registered domains fall back to the last two labels */
	j->d = malloc(sizeof *j->d);
	if (j->d == NULL || !pol_state_new(NULL, j->psl, &j->st)) {
		fprintf(stderr, "warden-audit: out of memory\n");
		return AUD_EXIT_USAGE;
	}
	return AUD_EXIT_OK;
}

void recon_judge_close(struct recon_judge *j)
{
	pol_state_free(j->st);
	free(j->d);
	pol_psl_free(j->psl);
	pol_policy_free(j->pol);
	free(j->json);
	memset(j, 0, sizeof *j);
}

static int ord_cmp(const void *a, const void *b)
{
	const struct recon_ord *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void recon_ord_sort(struct recon_ord *o, size_t n)
{
	qsort(o, n, sizeof *o, ord_cmp);
}

/* --- certificates ------------------------------------------------------------------ */

struct recheck {
	const struct recon *r;
	struct recon_judge j;
	struct pol_cert_facts *facts;
};

/* One certificate: true when the policy allows it (and its effects were committed). */
static bool recheck_one(struct recheck *k, const struct recon_cert *c)
{
	const struct recon_subject s = {.cert = c, .tbs = c->der + c->tbs_off,
					.tbs_len = c->tbs_len, .a = RECON_ASKED(c)};
	struct recon_ca_view v;
	struct pol_request req;
	struct der_err e;
	bool have_facts, ok = false;

	if (!recon_subject_ca(k->r, &s, X509_get_issuer_name(c->x), &v))
		goto out;
	memset(&req, 0, sizeof req);
	have_facts = pol_cert_facts(s.tbs, s.tbs_len, k->facts, &e);
	req.mechanism = c->has_mech ? (unsigned long)c->mech
				    : have_facts ? recon_mech_of_alg(&k->facts->sig) : 0;
	if (c->prehashed && !c->has_mech && have_facts) {
		/* An old record without a mechanism: the raw form of the TBS's algorithm. */
		unsigned long m = req.mechanism;

		req.mechanism = v.info.key_type == POL_KEY_EC ? POL_CKM_ECDSA
				: m >= POL_CKM_SHA256_RSA_PKCS_PSS && m <= POL_CKM_SHA512_RSA_PKCS_PSS
				    ? POL_CKM_RSA_PKCS_PSS
				    : POL_CKM_RSA_PKCS;
	}
	if (req.mechanism == 0) {
		recon_print_line("UNCHECKED", &s, "the record names no mechanism and the TBS's "
				 "signature algorithm implies none", NULL);
		goto out;
	}
	if (!recon_judge_subject(&k->j, &v, &s, &req, have_facts ? &k->facts->sig : NULL))
		goto out;
	if (!pol_state_commit(k->j.st, k->j.d))
		fprintf(stderr, "warden-audit: policy state full: later rate limits and serial "
				"checks see fewer certificates\n");
	recon_print_line("POLICY-OK", &s, "", k->j.d);
	ok = true;
out:
	recon_ca_view_free(&v);
	return ok;
}

int recon_recheck(struct recon *r, const char *policy_path, size_t *out_bad)
{
	struct recheck k = {.r = r};
	struct recon_ord *order = NULL;
	size_t n = 0;
	int ret;

	*out_bad = 0;
	ret = recon_judge_open(&k.j, policy_path);
	if (ret != AUD_EXIT_OK)
		goto out;
	ret = AUD_EXIT_USAGE;
	k.facts = malloc(sizeof *k.facts);
	order = malloc((r->num > 0 ? r->num : 1) * sizeof *order);
	if (k.facts == NULL || order == NULL) {
		fprintf(stderr, "warden-audit: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < r->num; i++)
		if (r->c[i].matched)
			order[n++] = (struct recon_ord){r->c[i].seq, i};
	recon_ord_sort(order, n);
	printf("policy %s sha256 %s\n", policy_path, pol_policy_hash_hex(k.j.pol));
	for (size_t i = 0; i < n; i++)
		if (!recheck_one(&k, &r->c[order[i].i]))
			(*out_bad)++;
	ret = AUD_EXIT_OK;
out:
	recon_judge_close(&k.j);
	free(k.facts);
	free(order);
	return ret;
}
