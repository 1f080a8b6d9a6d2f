/*
 * aud_tool_revoc.c - `warden-audit reconcile --crls FILE|DIR --ocsp FILE|DIR`: CRLs and
 * OCSP responses against the log, as certificates are (aud_tool_reconcile.c).
 *
 * Matching: the SHA-256 of the TBSCertList / ResponseData equals an allowed SIGN record's
 * data_sha256, or (prehashed requests) its SHA-256/384/512 equals the record's prehash
 * (by length).  A CRL's signature is checked against the key the log records for the
 * label; an OCSP response's is not (it may be a delegated responder's).
 *
 * Policy re-check (--policy): a second pass over the log replays the pol_summary of
 * every allowed SIGN record outside a refused range into a fresh policy state, in log
 * order, exactly as the enclave does at start-up (pol_state_apply, or
 * pol_state_apply_revocations with the record's revocation fields for a CRL that brought
 * more than a summary holds).  When the pass reaches the record that signed a given CRL
 * or response, that CRL / response is evaluated against the state as it was just before
 * it (the record's own effects are applied after), at the record's time, with the
 * mechanism the record names: the revocation rules (no un-revocation, CRL number order,
 * OCSP "good" for a revoked serial...) are judged against what the log knew then.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aud_tool_recon.h"

#define REV_SHA384_LEN 48u
#define REV_SHA512_LEN 64u
#define REV_FILE_MAX (64u * 1024u * 1024u) /* DER_MAX_INPUT */
_Static_assert(REV_SHA512_LEN <= EVP_MAX_MD_SIZE, "digest fits");

/* The TLV at p: its tag octet, whole length and contents; -1 if malformed. */
static int tlv(const uint8_t *p, size_t len, size_t *tlv_len, const uint8_t **c, size_t *clen)
{
	const unsigned char *q = p;
	long l;
	int tag, cls, rc;

	if (len == 0 || len > REV_FILE_MAX)
		return -1;
	rc = ASN1_get_object(&q, &l, &tag, &cls, (long)len);
	if ((rc & 0x80) || rc == 0x21) /* error, or indefinite length */
		return -1;
	*c = q;
	*clen = (size_t)l;
	*tlv_len = (size_t)(q - p) + (size_t)l;
	if (*tlv_len > len)
		return -1;
	return p[0];
}

/* The first element of the SEQUENCE at der (a signed object's TBS); -1 if none. */
static int first_elem(const uint8_t *der, size_t len, size_t *off, size_t *tlen)
{
	const uint8_t *c, *c2;
	size_t n, cl, cl2;

	if (tlv(der, len, &n, &c, &cl) != 0x30 || tlv(c, cl, tlen, &c2, &cl2) != 0x30)
		return -1;
	*off = (size_t)(c - der);
	return 0;
}

/* OCSPResponse { status, [0] { type, OCTET STRING BasicOCSPResponse } } or a bare
 * BasicOCSPResponse: the ResponseData's offset and length. */
static int ocsp_tbs(const uint8_t *der, size_t len, size_t *off, size_t *tlen)
{
	const uint8_t *c, *e, *rb, *oid, *os, *tmp;
	size_t n, cl, el, rbl, rbn, oidl, oidn, osl, osn, tl;

	if (tlv(der, len, &n, &c, &cl) != 0x30 || n != len)
		return -1;
	if (cl > 0 && c[0] == 0x30)
		return first_elem(der, len, off, tlen);
	/* responseStatus ENUMERATED, then responseBytes [0] EXPLICIT */
	if (tlv(c, cl, &el, &e, &n) != 0x0a)
		return -1;
	if (el >= cl || tlv(c + el, cl - el, &rbn, &rb, &rbl) != 0xa0 ||
	    tlv(rb, rbl, &n, &tmp, &tl) != 0x30 || tlv(tmp, tl, &oidn, &oid, &oidl) != 0x06 ||
	    oidn >= tl || tlv(tmp + oidn, tl - oidn, &osn, &os, &osl) != 0x04)
		return -1;
	if (first_elem(os, osl, off, tlen) != 0)
		return -1;
	*off += (size_t)(os - der);
	return 0;
}

static struct recon_rev *rev_new(struct recon *r)
{
	if (r->num_rv == r->cap_rv) {
		size_t cap = r->cap_rv ? 2 * r->cap_rv : 16;
		struct recon_rev *n = cap <= RECON_MAX_REVS ? realloc(r->rv, cap * sizeof *n) : NULL;

		if (n == NULL)
			return NULL;
		r->rv = n;
		r->cap_rv = cap;
	}
	memset(&r->rv[r->num_rv], 0, sizeof r->rv[0]);
	return &r->rv[r->num_rv];
}

/* Takes der (OPENSSL_malloc'd) and crl (may be NULL) in all cases. */
static int rev_add(struct recon *r, uint32_t kind, uint8_t *der, size_t len, X509_CRL *crl,
		   const char *file, int idx)
{
	struct recon_rev *v = rev_new(r);
	char where[AUD_MAX_PATH + 16];

	if (v == NULL)
		goto bad;
	if (kind == POL_KIND_TBS_CRL) {
		if (first_elem(der, len, &v->tbs_off, &v->tbs_len) != 0)
			goto bad;
	} else if (ocsp_tbs(der, len, &v->tbs_off, &v->tbs_len) != 0) {
		goto bad;
	}
	snprintf(where, sizeof where, idx > 0 ? "%s#%d" : "%s", file, idx + 1);
	if ((v->where = strdup(where)) == NULL)
		goto bad;
	v->kind = kind;
	v->der = der;
	v->der_len = len;
	v->crl = crl;
	v->seq = UINT64_MAX;
	aud_sha256(der + v->tbs_off, v->tbs_len, v->tbs_sha256);
	(void)EVP_Digest(der + v->tbs_off, v->tbs_len, v->tbs_sha384, NULL, EVP_sha384(), NULL);
	(void)EVP_Digest(der + v->tbs_off, v->tbs_len, v->tbs_sha512, NULL, EVP_sha512(), NULL);
	r->num_rv++;
	return 0;
bad:
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return -1;
}

/* The whole file (OPENSSL_free it), NULL if unreadable or larger than REV_FILE_MAX. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;

	*len = 0;
	if (f == NULL)
		return NULL;
	buf = OPENSSL_malloc(REV_FILE_MAX + 1);
	if (buf != NULL) {
		*len = fread(buf, 1, REV_FILE_MAX + 1, f);
		if (ferror(f) || *len == 0 || *len > REV_FILE_MAX) {
			OPENSSL_free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* PEM (one or many) or DER CRLs. */
static int load_crl_file(struct recon *r, const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509_CRL *crl;
	uint8_t *der;
	int n = 0, len;

	if (b == NULL)
		return -1;
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		der = NULL;
		if ((len = i2d_X509_CRL(crl, &der)) <= 0 ||
		    rev_add(r, POL_KIND_TBS_CRL, der, (size_t)len, crl, path, n++) != 0) {
			BIO_free(b);
			return -1;
		}
	}
	BIO_free(b);
	if (n > 0)
		return 0;
	size_t dl;
	const unsigned char *p;

	if ((der = read_all(path, &dl)) == NULL)
		return -1;
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)dl);
	if (crl == NULL || (size_t)(p - der) != dl) {
		X509_CRL_free(crl);
		OPENSSL_free(der);
		return -1;
	}
	return rev_add(r, POL_KIND_TBS_CRL, der, dl, crl, path, 0);
}

static int load_ocsp_file(struct recon *r, const char *path)
{
	size_t dl;
	uint8_t *der = read_all(path, &dl);

	if (der == NULL)
		return -1;
	return rev_add(r, POL_KIND_OCSP_RESPONSE, der, dl, NULL, path, 0);
}

static int load_one(struct recon *r, const char *path, uint32_t kind)
{
	if ((kind == POL_KIND_TBS_CRL ? load_crl_file(r, path) : load_ocsp_file(r, path)) == 0)
		return 0;
	fprintf(stderr, "warden-audit: %s: %s\n", path,
		kind == POL_KIND_TBS_CRL ? "no CRL (PEM or DER)"
					 : "no OCSP response (DER OCSPResponse or BasicOCSPResponse)");
	return -1;
}

int recon_revs_load(struct recon *r, const char *path, uint32_t kind)
{
	struct stat st;
	struct dirent **nl = NULL;
	int n, ret = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "warden-audit: %s: cannot read\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return load_one(r, path, kind);
	n = scandir(path, &nl, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "warden-audit: %s: cannot read the directory\n", path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char p[AUD_MAX_PATH];
		struct stat fs;

		snprintf(p, sizeof p, "%s/%s", path, nl[i]->d_name);
		if (ret == 0 && nl[i]->d_name[0] != '.' && stat(p, &fs) == 0 && S_ISREG(fs.st_mode) &&
		    load_one(r, p, kind) != 0)
			ret = -1;
		free(nl[i]);
	}
	free(nl);
	return ret;
}

void recon_revs_free(struct recon *r)
{
	for (size_t i = 0; i < r->num_rv; i++) {
		OPENSSL_free(r->rv[i].der);
		X509_CRL_free(r->rv[i].crl);
		free(r->rv[i].where);
	}
	free(r->rv);
	r->rv = NULL;
	r->num_rv = r->cap_rv = 0;
}

static void note_request(struct recon_rev *v, const struct aud_rec *rec)
{
	struct aud_field f;
	const uint8_t *b = rec->body;
	size_t n = rec->body_len;

	v->time_ns = rec->time_ns;
	if ((v->has_mech = aud_body_find(b, n, AUD_F_MECHANISM, &f)))
		v->mech = aud_field_uint(&f);
	if ((v->has_pss = aud_body_find(b, n, AUD_F_PSS_HASH, &f))) {
		v->pss_hash = aud_field_uint(&f);
		v->pss_mgf = aud_body_find(b, n, AUD_F_PSS_MGF, &f) ? aud_field_uint(&f) : 0;
		v->pss_salt_len = aud_body_find(b, n, AUD_F_PSS_SALT_LEN, &f) ? aud_field_uint(&f)
									     : 0;
	}
	if (aud_body_find(b, n, AUD_F_PREHASH_ALG, &f) && f.len < sizeof v->prehash_alg) {
		memcpy(v->prehash_alg, f.val, f.len);
		v->prehash_alg[f.len] = '\0';
	}
}

/* The TBS digest of v that a prehash of pre->len bytes would be, NULL if none. */
static const uint8_t *digest_of_len(const struct recon_rev *v, size_t len)
{
	return len == AUD_HASH_LEN ? v->tbs_sha256 : len == REV_SHA384_LEN ? v->tbs_sha384
		: len == REV_SHA512_LEN ? v->tbs_sha512 : NULL;
}

void recon_revs_match(struct recon *r, const struct aud_rec *rec, bool allowed,
		      const struct aud_field *h, const struct aud_field *pre,
		      const struct aud_field *key)
{
	for (size_t i = 0; i < r->num_rv; i++) {
		struct recon_rev *v = &r->rv[i];
		const uint8_t *dg = pre != NULL ? digest_of_len(v, pre->len) : NULL;
		bool full = h != NULL && h->len == AUD_HASH_LEN &&
			    memcmp(h->val, v->tbs_sha256, AUD_HASH_LEN) == 0;
		bool prehashed = !full && dg != NULL && memcmp(pre->val, dg, pre->len) == 0;

		if (!full && !prehashed)
			continue;
		if (!allowed) {
			v->refused_seen = true;
			continue;
		}
		if (v->matched)
			continue;
		v->matched = true;
		v->prehashed = prehashed;
		v->seq = rec->seq;
		if (prehashed) {
			memcpy(v->digest, dg, pre->len);
			v->digest_len = (unsigned)pre->len;
		}
		if (key != NULL) {
			memcpy(v->key, key->val, key->len);
			v->key[key->len] = '\0';
		}
		note_request(v, rec);
	}
}

static void print_time(int64_t t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char buf[32];

	if (gmtime_r(&s, &tm) == NULL || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		printf("%lld", (long long)t);
	else
		printf("%s", buf);
}

/* " crl FILE number HEX issuer TEXT" / " ocsp FILE producedAt T responses N". */
void recon_print_rev(const struct recon_rev *v)
{
	if (v->kind == POL_KIND_TBS_CRL) {
		ASN1_INTEGER *num = v->crl != NULL ? X509_CRL_get_ext_d2i(v->crl, NID_crl_number,
									  NULL, NULL)
						   : NULL;
		char issuer[512] = "?";

		if (v->crl != NULL)
			X509_NAME_oneline(X509_CRL_get_issuer(v->crl), issuer, sizeof issuer);
		printf(" crl %s number ", v->where);
		if (num != NULL)
			tool_hex(stdout, num->data, (size_t)num->length);
		else
			printf("none");
		printf(" issuer %s", issuer);
		ASN1_INTEGER_free(num);
		return;
	}
	struct pol_ocsp_facts *f = malloc(sizeof *f);
	struct der_err e;

	printf(" ocsp %s", v->where);
	if (f != NULL && pol_ocsp_facts(v->der + v->tbs_off, v->tbs_len, f, &e)) {
		printf(" producedAt ");
		print_time(f->produced_at);
		printf(" responses %zu", f->num_responses);
		for (size_t i = 0; i < f->num_responses; i++) {
			printf(i == 0 ? " (" : ", ");
			tool_hex(stdout, f->responses[i].serial.p, f->responses[i].serial.len);
			printf(" %s", f->responses[i].status == POL_OCSP_GOOD	   ? "good"
				      : f->responses[i].status == POL_OCSP_REVOKED ? "revoked"
										   : "unknown");
		}
		if (f->num_responses > 0)
			printf(")");
	}
	free(f);
}

size_t recon_revs_report(struct recon *r)
{
	size_t bad = 0;

	for (size_t i = 0; i < r->num_rv; i++) {
		struct recon_rev *v = &r->rv[i];
		const struct recon_key *rk;
		EVP_PKEY *k = NULL;

		if (v->matched && recon_seq_refused(r, v->seq))
			v->matched = false;
		if (v->matched && v->kind == POL_KIND_TBS_CRL && v->crl != NULL &&
		    (rk = recon_key_find(r, v->key)) != NULL)
			k = rk->pub;
		if (!v->matched) {
			printf("UNSEEN");
			recon_print_rev(v);
			printf(": no allowed record signs its %s%s\n",
			       v->kind == POL_KIND_TBS_CRL ? "TBSCertList" : "ResponseData",
			       v->refused_seen ? " (the log holds a refusal for it)" : "");
			bad++;
		} else if (k != NULL && X509_CRL_verify(v->crl, k) != 1) {
			printf("KEY-MISMATCH");
			recon_print_rev(v);
			printf(": record %llu (key %s) but the signature is not by that key\n",
			       (unsigned long long)v->seq, v->key);
			v->matched = false;
			bad++;
		} else {
			printf("OK");
			recon_print_rev(v);
			printf(": record %llu key %s%s%s\n", (unsigned long long)v->seq, v->key,
			       v->prehashed ? " (prehashed)" : "",
			       v->kind != POL_KIND_TBS_CRL ? ", signature not checked (OCSP)"
			       : k != NULL		    ? ", signature checked"
							    : ", key not in the log");
		}
	}
	return bad;
}
