/*
 * aud_tool_reconcile.c - `warden-audit reconcile LOGDIR --certs FILE|DIR`: every
 * certificate must have an allowed SIGN record in the log whose data hash is the
 * SHA-256 of its TBSCertificate (full data), or whose prehash is the digest of its TBS
 * under the certificate's signature hash (prehashed requests).  When the log names the
 * key's public key (AUD_F_CA_KEY { KEY, KEY_SPKI } in a genesis or config record), the
 * certificate's signature is also checked against it.  One pass over the log; memory
 * is the certificate list.  Allowed records that a RECOVERY record lists as refused to
 * their caller do not count.
 *
 * Not done: "would the current policy refuse it" (--policy): the policy engine has no
 * evaluate function yet; the option is refused with a message.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aud_tool.h"

#define MAX_CERTS 10000000u
#define MAX_KEYS 64u
#define MAX_LABEL 128u
#define MAX_REFUSED 1024u
#define MAX_CERT_FILE (64u * 1024u * 1024u)

struct cert {
	char *where;           /* file[#n] */
	X509 *x;
	uint8_t tbs_sha256[AUD_HASH_LEN];
	uint8_t digest[EVP_MAX_MD_SIZE]; /* TBS under the signature's hash */
	unsigned digest_len;
	uint64_t seq;          /* matching allowed record, UINT64_MAX if none */
	bool matched, prehashed, refused_seen;
	char key[MAX_LABEL];
};

struct keyent {
	char label[MAX_LABEL];
	EVP_PKEY *pub;
};

struct recon {
	struct cert *c;
	size_t num, cap;
	struct keyent keys[MAX_KEYS];
	size_t num_keys;
	struct { uint64_t from, to; } refused[MAX_REFUSED];
	size_t num_refused;
};

static int add_cert(struct recon *r, X509 *x, const char *file, int idx)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der), mdnid = NID_undef;
	long tlen;
	int tag, cls;
	const EVP_MD *md;
	struct cert *c;
	char where[AUD_MAX_PATH + 16];

	if (len <= 0)
		return -1;
	if (r->num == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct cert *n = cap <= MAX_CERTS ? realloc(r->c, cap * sizeof *n) : NULL;

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
	aud_sha256(tbs, tbs_len, c->tbs_sha256);
	if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) == 1 && mdnid != NID_undef &&
	    (md = EVP_get_digestbynid(mdnid)) != NULL)
		(void)EVP_Digest(tbs, tbs_len, c->digest, &c->digest_len, md, NULL);
	OPENSSL_free(der);
	snprintf(where, sizeof where, idx > 0 ? "%s#%d" : "%s", file, idx + 1);
	c->where = strdup(where);
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

static void note_key(struct recon *r, const uint8_t *list, size_t len)
{
	struct aud_field lab, spki;
	const unsigned char *p;
	EVP_PKEY *k;
	size_t i;

	if (!aud_body_find(list, len, AUD_F_KEY, &lab) || lab.len >= MAX_LABEL ||
	    !aud_body_find(list, len, AUD_F_KEY_SPKI, &spki))
		return;
	p = spki.val;
	k = d2i_PUBKEY(NULL, &p, (long)spki.len);
	if (k == NULL)
		return;
	for (i = 0; i < r->num_keys; i++)
		if (strlen(r->keys[i].label) == lab.len && memcmp(r->keys[i].label, lab.val, lab.len) == 0)
			break;
	if (i == MAX_KEYS) {
		EVP_PKEY_free(k);
		return;
	}
	if (i == r->num_keys) {
		memcpy(r->keys[i].label, lab.val, lab.len);
		r->keys[i].label[lab.len] = '\0';
		r->num_keys++;
	}
	EVP_PKEY_free(r->keys[i].pub);
	r->keys[i].pub = k;
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
	    r->num_refused < MAX_REFUSED) {
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
	bool has_key = aud_body_find(rec->body, rec->body_len, AUD_F_KEY, &key) && key.len < MAX_LABEL;

	/* A linear pass over the certificates per sign record would be slow for big sets;
	 * certificates are few next to records in practice, and each check is a memcmp. */
	for (size_t i = 0; i < r->num; i++) {
		struct cert *c = &r->c[i];
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
	}
	return 0;
}

static bool seq_refused(const struct recon *r, uint64_t seq)
{
	for (size_t i = 0; i < r->num_refused; i++)
		if (seq >= r->refused[i].from && seq <= r->refused[i].to)
			return true;
	return false;
}

static void print_cert(const struct cert *c)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(c->x);
	char subj[512];

	X509_NAME_oneline(X509_get_subject_name(c->x), subj, sizeof subj);
	printf(" %s serial ", c->where);
	tool_hex(stdout, sn->data, (size_t)sn->length);
	printf(" subject %s", subj);
}

int tool_reconcile(int argc, char **argv)
{
	static const struct option opts[] = {
		{"certs", required_argument, NULL, 'c'},
		{"pubkey", required_argument, NULL, 'p'},
		{"policy", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct recon r = {0};
	const char *certs = NULL, *pubfile = NULL;
	struct aud_scan_opts o = {0};
	struct aud_scan_result *res = malloc(sizeof *res);
	uint8_t pub[AUD_ED25519_LEN];
	char name[AUD_ORIGIN_MAX];
	size_t bad = 0;
	int c, have_key, ret = AUD_EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			certs = optarg;
		else if (c == 'p')
			pubfile = optarg;
		else if (c == 'P') {
			fprintf(stderr, "warden-audit: --policy is not implemented yet (the policy "
					"engine has no evaluate function)\n");
			goto out;
		} else
			goto usage;
	}
	if (optind + 1 != argc || certs == NULL || res == NULL)
		goto usage;
	o.dir = argv[optind];
	if ((have_key = tool_load_pubkey(o.dir, pubfile, pub, name, 1)) < 0)
		goto out;
	if (load_certs(&r, certs) != 0 || r.num == 0) {
		fprintf(stderr, "warden-audit: %s: could not read certificates\n", certs);
		goto out;
	}
	o.pubkey = have_key ? pub : NULL;
	o.cb = recon_cb;
	o.cb_ctx = &r;
	if (aud_scan(&o, res) != AUD_V_OK) {
		tool_print_failure(stdout, o.dir, res);
		ret = AUD_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < r.num; i++) {
		struct cert *ce = &r.c[i];
		EVP_PKEY *k = NULL;

		if (ce->matched && seq_refused(&r, ce->seq))
			ce->matched = false;
		for (size_t j = 0; ce->matched && j < r.num_keys; j++)
			if (strcmp(r.keys[j].label, ce->key) == 0)
				k = r.keys[j].pub;
		if (!ce->matched) {
			printf("UNSEEN");
			print_cert(ce);
			printf(": no allowed record signs its TBS%s\n",
			       ce->refused_seen ? " (the log holds a refusal for it)" : "");
			bad++;
		} else if (k != NULL && X509_verify(ce->x, k) != 1) {
			printf("KEY-MISMATCH");
			print_cert(ce);
			printf(": record %llu (key %s) but the signature is not by that key\n",
			       (unsigned long long)ce->seq, ce->key);
			bad++;
		} else {
			printf("OK");
			print_cert(ce);
			printf(": record %llu key %s%s%s\n", (unsigned long long)ce->seq, ce->key,
			       ce->prehashed ? " (prehashed)" : "",
			       k != NULL ? ", signature checked" : ", key not in the log");
		}
	}
	printf("%zu certificates, %zu not accounted for; policy re-check: not done (no "
	       "policy evaluate function yet)\n", r.num, bad);
	ret = bad == 0 ? AUD_EXIT_OK : AUD_EXIT_FAIL;
	goto out;
usage:
	fprintf(stderr, "usage: warden-audit reconcile LOGDIR --certs FILE|DIR [--pubkey FILE]\n");
out:
	for (size_t i = 0; i < r.num; i++) {
		X509_free(r.c[i].x);
		free(r.c[i].where);
	}
	for (size_t i = 0; i < r.num_keys; i++)
		EVP_PKEY_free(r.keys[i].pub);
	free(r.c);
	free(res);
	return ret;
}
