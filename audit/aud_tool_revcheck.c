/*
 * aud_tool_revcheck.c - reconcile's policy re-check of CRLs and OCSP responses
 * (--crls / --ocsp with --policy): would the policy given now refuse a CRL or response
 * the log shows as signed, judged against the revocation state the log had just before?
 *
 * A second pass over the log replays every allowed SIGN record outside a refused range
 * (pol_summary; a CRL's full revocation list from its revocation fields when it brought
 * more than a summary holds) into a fresh policy state, in order - what the enclave does
 * at start-up.  At the record that signed a given CRL / response, that CRL / response is
 * evaluated first (pol_evaluate at the record's time, the record's mechanism and PSS
 * parameters, the CA facts from a --ca certificate or the log's ca_cert for the key),
 * then the record's own effects are applied.  Nothing is committed from the re-check:
 * the state is the log's.  A prehashed record is evaluated as asked (the raw digest) and
 * for its content (the TBS under the full-data mechanism of the same hash).
 */
#include <stdlib.h>
#include <string.h>

#include "aud_tool_recon.h"

struct revcheck {
	struct recon *r;
	const struct pol_policy *pol;
	struct pol_state *st;
	struct pol_decision *d;
	struct pol_summary *sum;
	size_t *order, num, next;
	size_t bad;
	uint64_t applied, no_summary, failed;
};

/* The CA certificate to judge v against: a --ca with the key the log records for the
 * label (and, for a CRL, whose subject is the CRL's issuer), else the log's ca_cert. */
static X509 *pick_ca(const struct recon *r, const struct recon_rev *v)
{
	const struct recon_key *rk = recon_key_find(r, v->key);

	for (size_t i = 0; i < r->num_cas; i++) {
		if (v->crl != NULL && X509_NAME_cmp(X509_get_subject_name(r->cas[i]),
						    X509_CRL_get_issuer(v->crl)) != 0)
			continue;
		if (rk != NULL && rk->pub != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(r->cas[i]), rk->pub) != 1)
			continue;
		if (rk == NULL && v->crl == NULL)
			continue; /* an OCSP response names no issuer: the key must decide */
		return r->cas[i];
	}
	return rk != NULL ? rk->ca : NULL;
}

static void print_line(const char *tag, const struct recon_rev *v, const char *what,
		       const struct pol_decision *d)
{
	printf("%s", tag);
	recon_print_rev(v);
	printf(": record %llu key %s: ", (unsigned long long)v->seq, v->key);
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

/* One CRL / response against the state as it is now: true when allowed. */
static bool recheck_one(struct revcheck *k, const struct recon_rev *v)
{
	X509 *ca = pick_ca(k->r, v);
	const uint8_t *tbs = v->der + v->tbs_off;
	struct recon_ca_view cv;
	struct pol_request req;
	bool ok = false;

	memset(&cv, 0, sizeof cv);
	if (ca == NULL) {
		print_line("UNCHECKED", v, "no CA certificate for this key (give --ca CA.pem, or "
					   "record ca_cert in the log's ca_key entry)", NULL);
		return false;
	}
	if (!recon_ca_view_make(ca, v->key, &cv)) {
		print_line("UNCHECKED", v, "the CA certificate's facts cannot be read", NULL);
		goto out;
	}
	memset(&req, 0, sizeof req);
	req.mechanism = v->has_mech ? (unsigned long)v->mech : 0;
	if (req.mechanism == 0 && v->kind == POL_KIND_TBS_CRL && !v->prehashed) {
		struct pol_crl_facts *f = &k->d->facts.crl;
		struct der_err e;

		/* An old record without a mechanism: the one the CRL's algorithm implies. */
		if (pol_crl_facts(tbs, v->tbs_len, f, &e))
			req.mechanism = recon_mech_of_alg(&f->sig);
	}
	if (req.mechanism == 0) {
		print_line("UNCHECKED", v, "the record names no mechanism", NULL);
		goto out;
	}
	if (v->prehashed) {
		req.prehashed = true;
		req.data = v->digest;
		req.len = v->digest_len;
		if (!pol_evaluate(k->pol, k->st, &cv.info, &req, v->time_ns, k->d))
			goto internal;
		if (!k->d->allowed) {
			print_line("REFUSED", v, "raw-digest request", k->d);
			goto out;
		}
		enum pol_hash h = recon_hash_by_name(v->prehash_alg, v->digest_len);

		req.mechanism = recon_is_raw(req.mechanism) ? recon_full_of_raw(req.mechanism, h)
							    : 0;
		if (req.mechanism == 0) {
			print_line("UNCHECKED", v, "no full-data mechanism matches the raw "
						   "mechanism and digest of the record", NULL);
			goto out;
		}
		req.prehashed = false;
	}
	if (v->has_pss) {
		req.has_pss = true;
		req.pss_hash = (unsigned long)v->pss_hash;
		req.pss_mgf = (unsigned long)v->pss_mgf;
		req.pss_salt_len = (unsigned long)v->pss_salt_len;
	}
	req.data = tbs;
	req.len = v->tbs_len;
	if (!pol_evaluate(k->pol, k->st, &cv.info, &req, v->time_ns, k->d))
		goto internal;
	if (!k->d->allowed) {
		print_line("REFUSED", v, v->prehashed ? "content" : "", k->d);
		goto out;
	}
	print_line("POLICY-OK", v, "", k->d);
	ok = true;
	goto out;
internal:
	print_line("UNCHECKED", v, "the policy engine refused the call", NULL);
out:
	recon_ca_view_free(&cv);
	return ok;
}

/* One allowed record's effects, as the enclave's replay applies them. */
static void apply(struct revcheck *k, const struct aud_rec *rec)
{
	struct aud_field f;
	struct pol_revocation *all = NULL;
	bool ok;

	if (!aud_body_find(rec->body, rec->body_len, AUD_F_POL_SUMMARY, &f)) {
		k->no_summary++;
		return;
	}
	if (!pol_summary_decode(f.val, f.len, k->sum)) {
		k->failed++;
		return;
	}
	if (k->sum->num_revocations <= POL_SUMMARY_MAX_REVOCATIONS) {
		ok = pol_state_apply(k->st, k->sum);
	} else {
		struct aud_cur c = {rec->body, rec->body_len};
		size_t n = 0;

		all = calloc(k->sum->num_revocations, sizeof *all);
		ok = all != NULL;
		while (ok && aud_field_next(&c, &f) == 1) {
			if (f.tag != AUD_F_REVOCATION)
				continue;
			ok = n < k->sum->num_revocations &&
			     pol_revocation_decode(f.val, f.len, &all[n]);
			n++;
		}
		ok = ok && pol_state_apply_revocations(k->st, k->sum, all, n);
	}
	if (ok)
		k->applied++;
	else
		k->failed++;
	free(all);
}

static int replay_cb(void *ctx, const struct aud_rec *rec)
{
	struct revcheck *k = ctx;
	struct aud_field f;

	if (rec->type != AUD_T_SIGN)
		return 0;
	while (k->next < k->num && k->r->rv[k->order[k->next]].seq <= rec->seq) {
		const struct recon_rev *v = &k->r->rv[k->order[k->next++]];

		if (v->seq == rec->seq && !recheck_one(k, v))
			k->bad++;
	}
	if (aud_body_find(rec->body, rec->body_len, AUD_F_DECISION, &f) && aud_field_uint(&f) == 1 &&
	    !recon_seq_refused(k->r, rec->seq))
		apply(k, rec);
	return 0;
}

static const struct recon *sort_ctx;

static int by_seq(const void *a, const void *b)
{
	const struct recon_rev *x = &sort_ctx->rv[*(const size_t *)a];
	const struct recon_rev *y = &sort_ctx->rv[*(const size_t *)b];

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

int recon_revs_recheck(struct recon *r, const struct aud_scan_opts *o, const char *policy_path,
		       size_t *out_bad)
{
	struct revcheck k = {.r = r};
	struct aud_scan_opts o2 = *o;
	struct aud_scan_result *res = malloc(sizeof *res);
	struct pol_load_error le;
	struct pol_psl *psl = NULL;
	struct pol_policy *pol = NULL;
	size_t len;
	char *json = recon_read_policy(policy_path, &len);
	int ret = AUD_EXIT_USAGE;

	*out_bad = 0;
	if (json == NULL) {
		fprintf(stderr, "warden-audit: %s: unreadable or larger than %u bytes\n",
			policy_path, POL_POLICY_MAX_BYTES);
		goto out;
	}
	if (!pol_policy_load(json, len, &pol, &le)) {
		fprintf(stderr, "warden-audit: %s: %s%s%s\n", policy_path, le.path,
			le.path[0] ? ": " : "", le.msg);
		goto out;
	}
	if (!pol_psl_load(NULL, &psl))
		psl = NULL;
	k.pol = pol;
	k.d = malloc(sizeof *k.d);
	k.sum = malloc(sizeof *k.sum);
	k.order = malloc((r->num_rv > 0 ? r->num_rv : 1) * sizeof *k.order);
	if (res == NULL || k.d == NULL || k.sum == NULL || k.order == NULL ||
	    !pol_state_new(NULL, psl, &k.st)) {
		fprintf(stderr, "warden-audit: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < r->num_rv; i++)
		if (r->rv[i].matched)
			k.order[k.num++] = i;
	sort_ctx = r;
	qsort(k.order, k.num, sizeof *k.order, by_seq);
	printf("policy %s sha256 %s (CRLs and OCSP responses, against the revocation state "
	       "replayed from the log)\n", policy_path, pol_policy_hash_hex(pol));
	o2.cb = replay_cb;
	o2.cb_ctx = &k;
	if (aud_scan(&o2, res) != AUD_V_OK) {
		tool_print_failure(stdout, o2.dir, res);
		ret = AUD_EXIT_FAIL;
		goto out;
	}
	if (k.no_summary > 0 || k.failed > 0)
		printf("note: %llu allowed records carry no pol_summary and %llu could not be "
		       "applied: the replayed state may miss what they recorded\n",
		       (unsigned long long)k.no_summary, (unsigned long long)k.failed);
	*out_bad = k.bad;
	ret = AUD_EXIT_OK;
out:
	pol_state_free(k.st);
	free(k.d);
	free(k.sum);
	free(k.order);
	free(res);
	pol_psl_free(psl);
	pol_policy_free(pol);
	free(json);
	return ret;
}
