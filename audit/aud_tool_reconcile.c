/*
 * aud_tool_reconcile.c - `warden-audit reconcile LOGDIR --certs FILE|DIR [--policy FILE
 * [--ca CA.pem]...]`: every certificate must have an allowed SIGN record in the log whose
 * data hash is the SHA-256 of its TBSCertificate (full data), or whose prehash is the
 * digest of its TBS under the certificate's signature hash (prehashed requests).  When
 * the log names the key's public key (AUD_F_CA_KEY { KEY, KEY_SPKI } in a genesis or
 * config record), the certificate's signature is also checked against it.  With
 * --policy, each matched certificate is evaluated again against that policy
 * (aud_tool_recheck.c).  One pass over the log; memory is the certificate list.
 * Allowed records that a RECOVERY record lists as refused to their caller do not count.
 * --crls / --ocsp take CRLs and OCSP responses the same way (aud_tool_revoc.c).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aud_tool_recon.h"

static int add_cert(struct recon *r, X509 *x, const char *file, int idx)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der), mdnid = NID_undef;
	long tlen;
	int tag, cls;
	const EVP_MD *md;
	struct recon_cert *c;
	char where[AUD_MAX_PATH + 16];

	if (len <= 0)
		return -1;
	if (r->num == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct recon_cert *n = cap <= RECON_MAX_CERTS ? realloc(r->c, cap * sizeof *n) : NULL;

		if (n == NULL) {
			OPENSSL_free(der);
			return -1;
		}
		r->c = n;
		r->cap = cap;
	}
	c = &r->c[r->num];
	memset(c, 0, sizeof *c);
	/* Certificate ::= SEQUENCE { tbsCertificate, ... }: the TBS is the first element,
	 * exactly as encoded (i2d_X509 of a parsed certificate gives its original bytes). */
	p = der;
	if (ASN1_get_object(&p, &tlen, &tag, &cls, len) & 0x80)
		goto bad;
	const unsigned char *tbs = p;
	if (ASN1_get_object(&p, &tlen, &tag, &cls, len - (long)(p - der)) & 0x80)
		goto bad;
	size_t tbs_len = (size_t)(p - tbs) + (size_t)tlen;
	if (tbs_len > (size_t)len - (size_t)(tbs - der))
		goto bad;
	aud_sha256(tbs, tbs_len, c->tbs_sha256);
	if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) == 1 && mdnid != NID_undef &&
	    (md = EVP_get_digestbynid(mdnid)) != NULL)
		(void)EVP_Digest(tbs, tbs_len, c->digest, &c->digest_len, md, NULL);
	snprintf(where, sizeof where, idx > 0 ? "%s#%d" : "%s", file, idx + 1);
	c->where = strdup(where);
	if (c->where == NULL)
		goto bad;
	c->der = der;
	c->tbs_off = (size_t)(tbs - der);
	c->tbs_len = tbs_len;
	c->x = x;
	c->seq = UINT64_MAX;
	r->num++;
	return 0;
bad:
	OPENSSL_free(der);
	return -1;
}

/* PEM (one or many) or DER. */
static int load_file(struct recon *r, const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x;
	int n = 0;

	if (b == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (add_cert(r, x, path, n++) != 0) {
			X509_free(x);
			BIO_free(b);
			return -1;
		}
	}
	if (n == 0) {
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
		if (x != NULL && add_cert(r, x, path, 0) == 0)
			n = 1;
		else
			X509_free(x);
	}
	BIO_free(b);
	return n > 0 ? 0 : -1;
}

static int load_certs(struct recon *r, const char *path)
{
	struct stat st;
	struct dirent **nl = NULL;
	int n, ret = 0;

	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return load_file(r, path);
	n = scandir(path, &nl, NULL, alphasort);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char p[AUD_MAX_PATH];
		struct stat fs;

		snprintf(p, sizeof p, "%s/%s", path, nl[i]->d_name);
		if (nl[i]->d_name[0] != '.' && stat(p, &fs) == 0 && S_ISREG(fs.st_mode) &&
		    load_file(r, p) != 0) {
			fprintf(stderr, "warden-audit: %s: no certificate (PEM or DER)\n", p);
			ret = -1;
		}
		free(nl[i]);
	}
	free(nl);
	return ret;
}

/* A CA_KEY list { KEY, KEY_SPKI, CA_CERT? }: a later record replaces an earlier one. */
static void note_key(struct recon *r, const uint8_t *list, size_t len)
{
	struct aud_field lab, spki, cert;
	const unsigned char *p;
	EVP_PKEY *k;
	X509 *ca = NULL;
	size_t i;

	if (!aud_body_find(list, len, AUD_F_KEY, &lab) || lab.len >= RECON_MAX_LABEL ||
	    !aud_body_find(list, len, AUD_F_KEY_SPKI, &spki))
		return;
	p = spki.val;
	k = d2i_PUBKEY(NULL, &p, (long)spki.len);
	if (k == NULL)
		return;
	if (aud_body_find(list, len, AUD_F_CA_CERT, &cert)) {
		p = cert.val;
		ca = d2i_X509(NULL, &p, (long)cert.len);
	}
	for (i = 0; i < r->num_keys; i++)
		if (strlen(r->keys[i].label) == lab.len && memcmp(r->keys[i].label, lab.val, lab.len) == 0)
			break;
	if (i == RECON_MAX_KEYS) {
		EVP_PKEY_free(k);
		X509_free(ca);
		return;
	}
	if (i == r->num_keys) {
		memcpy(r->keys[i].label, lab.val, lab.len);
		r->keys[i].label[lab.len] = '\0';
		r->num_keys++;
	}
	EVP_PKEY_free(r->keys[i].pub);
	X509_free(r->keys[i].ca);
	r->keys[i].pub = k;
	r->keys[i].ca = ca;
}

const struct recon_key *recon_key_find(const struct recon *r, const char *label)
{
	for (size_t j = 0; j < r->num_keys; j++)
		if (strcmp(r->keys[j].label, label) == 0)
			return &r->keys[j];
	return NULL;
}

/* What the enclave was asked (mechanism, PSS parameters, digest algorithm) and when. */
static void note_request(struct recon_cert *c, const struct aud_rec *rec)
{
	struct aud_field f;
	const uint8_t *b = rec->body;
	size_t n = rec->body_len;

	c->time_ns = rec->time_ns;
	if ((c->has_mech = aud_body_find(b, n, AUD_F_MECHANISM, &f)))
		c->mech = aud_field_uint(&f);
	if ((c->has_pss = aud_body_find(b, n, AUD_F_PSS_HASH, &f))) {
		c->pss_hash = aud_field_uint(&f);
		c->pss_mgf = aud_body_find(b, n, AUD_F_PSS_MGF, &f) ? aud_field_uint(&f) : 0;
		c->pss_salt_len = aud_body_find(b, n, AUD_F_PSS_SALT_LEN, &f) ? aud_field_uint(&f)
									     : 0;
	}
	if (aud_body_find(b, n, AUD_F_PREHASH_ALG, &f) && f.len < sizeof c->prehash_alg) {
		memcpy(c->prehash_alg, f.val, f.len);
		c->prehash_alg[f.len] = '\0';
	}
}

static int recon_cb(void *ctx, const struct aud_rec *rec)
{
	struct recon *r = ctx;
	struct aud_field dec, h, pre, key;
	struct aud_cur cur;
	struct aud_field f;

	if (rec->type == AUD_T_GENESIS || rec->type == AUD_T_CONFIG) {
		cur = (struct aud_cur){rec->body, rec->body_len};
		while (aud_field_next(&cur, &f) == 1)
			if (f.tag == AUD_F_CA_KEY)
				note_key(r, f.val, f.len);
		return 0;
	}
	if (rec->type == AUD_T_RECOVERY && aud_body_find(rec->body, rec->body_len, AUD_F_REFUSED_FROM, &f) &&
	    r->num_refused < RECON_MAX_REFUSED) {
		r->refused[r->num_refused].from = aud_field_uint(&f);
		r->refused[r->num_refused].to = aud_body_find(rec->body, rec->body_len,
							      AUD_F_REFUSED_TO, &f)
							? aud_field_uint(&f) : UINT64_MAX;
		r->num_refused++;
		return 0;
	}
	if (rec->type != AUD_T_SIGN || !aud_body_find(rec->body, rec->body_len, AUD_F_DECISION, &dec))
		return 0;
	bool has_h = aud_body_find(rec->body, rec->body_len, AUD_F_DATA_SHA256, &h) &&
		     h.len == AUD_HASH_LEN;
	bool has_pre = aud_body_find(rec->body, rec->body_len, AUD_F_PREHASH, &pre);
	bool has_key = aud_body_find(rec->body, rec->body_len, AUD_F_KEY, &key) &&
		       key.len < RECON_MAX_LABEL;

	recon_revs_match(r, rec, aud_field_uint(&dec) == 1, has_h ? &h : NULL,
			 has_pre ? &pre : NULL, has_key ? &key : NULL);

	/* A linear pass over the certificates per sign record would be slow for big sets;
	 * certificates are few next to records in practice, and each check is a memcmp. */
	for (size_t i = 0; i < r->num; i++) {
		struct recon_cert *c = &r->c[i];
		bool full = has_h && memcmp(h.val, c->tbs_sha256, AUD_HASH_LEN) == 0;
		bool prehashed = !full && has_pre && c->digest_len == pre.len &&
				 memcmp(pre.val, c->digest, pre.len) == 0;

		if (!full && !prehashed)
			continue;
		if (aud_field_uint(&dec) != 1) {
			c->refused_seen = true;
			continue;
		}
		if (c->matched)
			continue;
		c->matched = true;
		c->prehashed = prehashed;
		c->seq = rec->seq;
		if (has_key) {
			memcpy(c->key, key.val, key.len);
			c->key[key.len] = '\0';
		}
		note_request(c, rec);
	}
	return 0;
}

bool recon_seq_refused(const struct recon *r, uint64_t seq)
{
	for (size_t i = 0; i < r->num_refused; i++)
		if (seq >= r->refused[i].from && seq <= r->refused[i].to)
			return true;
	return false;
}

void recon_print_cert(const struct recon_cert *c)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(c->x);
	char subj[512];

	X509_NAME_oneline(X509_get_subject_name(c->x), subj, sizeof subj);
	printf(" %s serial ", c->where);
	tool_hex(stdout, sn->data, (size_t)sn->length);
	printf(" subject %s", subj);
}

static int load_ca_opt(struct recon *r, const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;

	if (b != NULL) {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (x == NULL && BIO_reset(b) == 0)
			x = d2i_X509_bio(b, NULL);
		BIO_free(b);
	}
	if (x == NULL || r->num_cas == RECON_MAX_CAS) {
		fprintf(stderr, "warden-audit: --ca %s: %s\n", path,
			x == NULL ? "not a certificate (PEM or DER)" : "too many --ca options");
		X509_free(x);
		return -1;
	}
	r->cas[r->num_cas++] = x;
	return 0;
}

int tool_reconcile(int argc, char **argv)
{
	static const struct option opts[] = {
		{"certs", required_argument, NULL, 'c'},
		{"pubkey", required_argument, NULL, 'p'},
		{"policy", required_argument, NULL, 'P'},
		{"ca", required_argument, NULL, 'C'},
		{"crls", required_argument, NULL, 'R'},
		{"ocsp", required_argument, NULL, 'O'},
		{NULL, 0, NULL, 0},
	};
	struct recon r = {0};
	const char *certs = NULL, *pubfile = NULL, *policy = NULL, *crls = NULL, *ocsp = NULL;
	struct aud_scan_opts o = {0};
	struct aud_scan_result *res = malloc(sizeof *res);
	uint8_t pub[AUD_ED25519_LEN];
	char name[AUD_ORIGIN_MAX];
	size_t bad = 0, refused = 0, rv_bad = 0, rv_refused = 0;
	int c, have_key, ret = AUD_EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			certs = optarg;
		else if (c == 'p')
			pubfile = optarg;
		else if (c == 'P')
			policy = optarg;
		else if (c == 'R')
			crls = optarg;
		else if (c == 'O')
			ocsp = optarg;
		else if (c == 'C') {
			if (load_ca_opt(&r, optarg) != 0)
				goto out;
		} else
			goto usage;
	}
	if (optind + 1 != argc || (certs == NULL && crls == NULL && ocsp == NULL) || res == NULL ||
	    (r.num_cas > 0 && policy == NULL))
		goto usage;
	o.dir = argv[optind];
	if ((have_key = tool_load_pubkey(o.dir, pubfile, pub, name, 1)) < 0)
		goto out;
	if (certs != NULL && (load_certs(&r, certs) != 0 || r.num == 0)) {
		fprintf(stderr, "warden-audit: %s: could not read certificates\n", certs);
		goto out;
	}
	if ((crls != NULL && recon_revs_load(&r, crls, POL_KIND_TBS_CRL) != 0) ||
	    (ocsp != NULL && recon_revs_load(&r, ocsp, POL_KIND_OCSP_RESPONSE) != 0))
		goto out;
	o.pubkey = have_key ? pub : NULL;
	o.cb = recon_cb;
	o.cb_ctx = &r;
	if (aud_scan(&o, res) != AUD_V_OK) {
		tool_print_failure(stdout, o.dir, res);
		ret = AUD_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < r.num; i++) {
		struct recon_cert *ce = &r.c[i];
		const struct recon_key *rk;
		EVP_PKEY *k = NULL;

		if (ce->matched && recon_seq_refused(&r, ce->seq))
			ce->matched = false;
		if (ce->matched && (rk = recon_key_find(&r, ce->key)) != NULL)
			k = rk->pub;
		if (!ce->matched) {
			printf("UNSEEN");
			recon_print_cert(ce);
			printf(": no allowed record signs its TBS%s\n",
			       ce->refused_seen ? " (the log holds a refusal for it)" : "");
			bad++;
		} else if (k != NULL && X509_verify(ce->x, k) != 1) {
			printf("KEY-MISMATCH");
			recon_print_cert(ce);
			printf(": record %llu (key %s) but the signature is not by that key\n",
			       (unsigned long long)ce->seq, ce->key);
			ce->matched = false; /* not re-checked: it is not the key's certificate */
			bad++;
		} else {
			printf("OK");
			recon_print_cert(ce);
			printf(": record %llu key %s%s%s\n", (unsigned long long)ce->seq, ce->key,
			       ce->prehashed ? " (prehashed)" : "",
			       k != NULL ? ", signature checked" : ", key not in the log");
		}
	}
	rv_bad = recon_revs_report(&r);
	if (policy != NULL && r.num > 0) {
		ret = recon_recheck(&r, policy, &refused);
		if (ret != AUD_EXIT_OK)
			goto out;
	}
	if (policy != NULL && r.num_rv > 0) {
		ret = recon_revs_recheck(&r, &o, policy, &rv_refused);
		if (ret != AUD_EXIT_OK)
			goto out;
	}
	if (certs != NULL) {
		printf("%zu certificates, %zu not accounted for", r.num, bad);
		if (policy != NULL)
			printf(", %zu refused or not checkable under %s\n", refused, policy);
		else
			printf("; policy re-check: not asked (--policy FILE)\n");
	}
	if (r.num_rv > 0) {
		printf("%zu CRLs and OCSP responses, %zu not accounted for", r.num_rv, rv_bad);
		if (policy != NULL)
			printf(", %zu refused or not checkable under %s\n", rv_refused, policy);
		else
			printf("; policy re-check: not asked (--policy FILE)\n");
	}
	ret = bad == 0 && refused == 0 && rv_bad == 0 && rv_refused == 0 ? AUD_EXIT_OK
									 : AUD_EXIT_FAIL;
	goto out;
usage:
	fprintf(stderr, "usage: warden-audit reconcile LOGDIR [--certs FILE|DIR] [--crls FILE|DIR]\n"
			"                 [--ocsp FILE|DIR] [--pubkey FILE]\n"
			"                 [--policy POLICY.json [--ca CA.pem]...]\n"
			"(at least one of --certs, --crls, --ocsp)\n");
out:
	for (size_t i = 0; i < r.num; i++) {
		X509_free(r.c[i].x);
		OPENSSL_free(r.c[i].der);
		free(r.c[i].where);
	}
	for (size_t i = 0; i < r.num_keys; i++) {
		EVP_PKEY_free(r.keys[i].pub);
		X509_free(r.keys[i].ca);
	}
	for (size_t i = 0; i < r.num_cas; i++)
		X509_free(r.cas[i]);
	recon_revs_free(&r);
	free(r.c);
	free(res);
	return ret;
}
