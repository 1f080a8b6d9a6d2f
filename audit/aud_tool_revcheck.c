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
	struct recon_judge j;
	struct pol_summary *sum;
	struct recon_ord *order;
	size_t num, next;
	size_t bad;
	uint64_t applied, no_summary, failed;
};

/* One CRL / response against the state as it is now: true when allowed.  The CA is a
 * --ca with the key the log records for the label (and, for a CRL, whose subject is the
 * CRL's issuer), else the log's ca_cert. */
static bool recheck_one(struct revcheck *k, const struct recon_rev *v)
{
	const struct recon_subject s = {.rev = v, .tbs = v->der + v->tbs_off,
					.tbs_len = v->tbs_len, .a = RECON_ASKED(v)};
	struct recon_ca_view cv;
	struct pol_request req;
	bool ok = false;

	if (!recon_subject_ca(k->r, &s, v->crl != NULL ? X509_CRL_get_issuer(v->crl) : NULL, &cv))
		goto out;
	memset(&req, 0, sizeof req);
	req.mechanism = v->has_mech ? (unsigned long)v->mech : 0;
	if (req.mechanism == 0 && v->kind == POL_KIND_TBS_CRL && !v->prehashed) {
		struct pol_crl_facts *f = &k->j.d->facts.crl;
		struct der_err e;

		/* An old record without a mechanism: the one the CRL's algorithm implies. */
		if (pol_crl_facts(s.tbs, s.tbs_len, f, &e))
			req.mechanism = recon_mech_of_alg(&f->sig);
	}
	if (req.mechanism == 0) {
		recon_print_line("UNCHECKED", &s, "the record names no mechanism", NULL);
		goto out;
	}
	if (!recon_judge_subject(&k->j, &cv, &s, &req, NULL))
		goto out;
	recon_print_line("POLICY-OK", &s, "", k->j.d);
	ok = true;
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
		ok = pol_state_apply(k->j.st, k->sum);
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
		ok = ok && pol_state_apply_revocations(k->j.st, k->sum, all, n);
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
	while (k->next < k->num && k->order[k->next].seq <= rec->seq) {
		const struct recon_rev *v = &k->r->rv[k->order[k->next++].i];

		if (v->seq == rec->seq && !recheck_one(k, v))
			k->bad++;
	}
	if (aud_body_find(rec->body, rec->body_len, AUD_F_DECISION, &f) && aud_field_uint(&f) == 1 &&
	    !recon_seq_refused(k->r, rec->seq))
		apply(k, rec);
	return 0;
}

int recon_revs_recheck(struct recon *r, const struct aud_scan_opts *o, const char *policy_path,
		       size_t *out_bad)
{
	struct revcheck k = {.r = r};
	struct aud_scan_opts o2 = *o;
	struct aud_scan_result *res = malloc(sizeof *res);
	int ret;

	*out_bad = 0;
	ret = recon_judge_open(&k.j, policy_path);
	if (ret != AUD_EXIT_OK)
		goto out;
	ret = AUD_EXIT_USAGE;
	k.sum = malloc(sizeof *k.sum);
	k.order = malloc((r->num_rv > 0 ? r->num_rv : 1) * sizeof *k.order);
	if (res == NULL || k.sum == NULL || k.order == NULL) {
		fprintf(stderr, "warden-audit: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < r->num_rv; i++)
		if (r->rv[i].matched)
			k.order[k.num++] = (struct recon_ord){r->rv[i].seq, i};
	recon_ord_sort(k.order, k.num);
	printf("policy %s sha256 %s (CRLs and OCSP responses, against the revocation state "
	       "replayed from the log)\n", policy_path, pol_policy_hash_hex(k.j.pol));
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
	recon_judge_close(&k.j);
	free(k.sum);
	free(k.order);
	free(res);
	return ret;
}
