/*
 * pol_eval_crl.c - the rules for a TBSCertList (issue 5 §1), and the walk over the new
 * revocations of an allowed CRL / OCSP decision (pol_revocations_begin/next).
 *
 * Scope: a CRL with an IssuingDistributionPoint belongs to the scope named by the IDP's
 * DER (SHA-256 of the extnValue, truncated to POL_SCOPE_ID_LEN); without one it is the
 * "full" CRL.  CRL numbers increase per (key, scope); complete and delta CRLs of one scope
 * share the sequence (RFC 5280 §5.2.3).
 *
 * No un-revocation: a complete CRL of the full scope must list every revocation the key
 * ever signed (any scope, or OCSP "revoked"); one of a partitioned scope every revocation
 * that appeared on an earlier CRL of that scope.  A revocation may be left out once the
 * certificate's notAfter (from the issuance state) is before the CRL's thisUpdate; with
 * an unknown notAfter (not issued through Warden, or forgotten) never.  Date and reason of
 * a listed revocation never change.
 *
 * Delta CRLs: the base must be one of the last POL_CRL_BASES_KEPT complete CRLs this key
 * signed in the same scope, and the delta must list every revocation recorded (full
 * scope) or first seen in the scope (partitioned) after that base was signed, under the
 * same expiry rule.  removeFromCRL is refused everywhere: it is an un-revocation.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

#define REASON_REMOVE_FROM_CRL 8
#define NUM_HEX_MAX (2u * POL_CRL_NUMBER_MAX_LEN + 1u)

struct new_set {              /* serials new to the state seen so far (duplicates) */
	struct der_cur *slot;
	size_t cap;
	uint64_t seed;
};

struct crl_ctx {
	const struct pol_state *st;
	const struct pol_rev_state *rev;
	const struct pol_ca_info *ca;
	const struct pol_key_rules *kr;
	const struct pol_crl_facts *f;
	struct pol_decision *d;
	uint8_t key[POL_SCOPE_ID_LEN];
	bool full;
	uint8_t scope[POL_SCOPE_ID_LEN];
	struct pol_rev_scope_info sc;
	uint64_t base_seq;
	uint8_t *seen;                /* bit per dense revocation position */
	struct new_set news;
};

static void hex(char *out, size_t cap, const uint8_t *p, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < len && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02X", p[i]);
	if (len == 0)
		snprintf(out, cap, "00");
}

static void date_text(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%lld", (long long)t);
}

static const char *source_text(uint8_t sources)
{
	return (sources & POL_REV_SRC_CRL) && (sources & POL_REV_SRC_OCSP) ? "a CRL and OCSP"
	       : (sources & POL_REV_SRC_OCSP) ? "OCSP" : "a CRL";
}

static void scope_id(const struct pol_crl_facts *f, bool *full, uint8_t out[POL_SCOPE_ID_LEN])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	memset(out, 0, POL_SCOPE_ID_LEN);
	*full = !f->has_idp;
	if (*full)
		return;
	pol_sha256(f->idp.p, f->idp.len, md);
	memcpy(out, md, POL_SCOPE_ID_LEN);
}

static bool bound_here(const struct crl_ctx *c, uint64_t scopes)
{
	return c->sc.index >= 0 && (scopes & (1ull << c->sc.index)) != 0;
}

static bool new_set_add(struct new_set *s, const struct der_cur *serial, size_t max_entries,
			bool *out_dup)
{
	uint64_t h = s->seed;
	*out_dup = false;
	if (s->slot == NULL) {
		s->cap = 16;
		while (s->cap < 2 * max_entries)
			s->cap <<= 1;
		s->slot = calloc(s->cap, sizeof(*s->slot));
		if (s->slot == NULL)
			return false;
		s->seed = (uint64_t)(uintptr_t)s->slot * 0x9e3779b97f4a7c15ull;
		h = s->seed;
	}
	for (size_t i = 0; i < serial->len; i++)
		h = (h ^ serial->p[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i].p == NULL) {
			s->slot[i] = *serial;
			return true;
		}
		if (der_cur_eq(&s->slot[i], serial)) {
			*out_dup = true;
			return true;
		}
	}
}

static void rev_from_entry(const struct pol_crl_entry *e, struct pol_revocation *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->serial, e->serial.p, e->serial.len);
	out->serial_len = (uint8_t)e->serial.len;
	out->reason = (int8_t)pol_rev_norm_reason(e->reason);
	out->source = POL_REV_SRC_CRL;
	out->time = e->revocation_date;
}

static bool add_new(struct crl_ctx *c, const struct pol_crl_entry *e)
{
	struct pol_summary *s = &c->d->summary;
	if (s->num_revocations >= POL_MAX_NEW_REVOCATIONS) {
		pol_summary_serial(s, e->serial.p, e->serial.len);
		return pol_refuse(c->d, POL_R_REVOCATION_TOO_MANY,
				  "the CRL adds more than %u revocations key %s has not signed "
				  "before; the audit record cannot hold them", POL_MAX_NEW_REVOCATIONS,
				  c->ca->label);
	}
	if (s->num_revocations < POL_SUMMARY_MAX_REVOCATIONS)
		rev_from_entry(e, &s->revocations[s->num_revocations]);
	s->num_revocations++;
	return true;
}

static bool check_entry(struct crl_ctx *c, const struct pol_crl_entry *e)
{
	struct pol_decision *d = c->d;
	struct pol_rev_info in;
	char sh[NUM_HEX_MAX + 2 * POL_MAX_SERIAL_LEN], a[32], b[32];
	bool dup;

	/* SH: the serial's hex, formatted only on a refusal (this runs per entry) */
#define SH() (hex(sh, sizeof(sh), e->serial.p, e->serial.len), \
	      pol_summary_serial(&d->summary, e->serial.p, e->serial.len), sh)
	if (e->has_cert_issuer)
		return pol_refuse(d, POL_R_CRL_INDIRECT, "CRL entry %s carries certificateIssuer: "
				  "key %s signs no indirect CRL", SH(), c->ca->label);
	if (!der_int_is_positive(&e->serial) || e->serial.len > POL_RFC_SERIAL_MAX)
		return pol_refuse(d, POL_R_CRL_ENTRY, "CRL entry %s: the serial is not a positive "
				  "INTEGER of at most %u octets", SH(), POL_RFC_SERIAL_MAX);
	if (e->other_critical)
		return pol_refuse(d, POL_R_CRL_ENTRY, "CRL entry %s has an unknown critical "
				  "extension", SH());
	if (e->reason == REASON_REMOVE_FROM_CRL)
		return pol_refuse(d, POL_R_CRL_ENTRY, "CRL entry %s says removeFromCRL: Warden "
				  "never signs an un-revocation", SH());
	if (e->revocation_date > c->f->this_update) {
		date_text(e->revocation_date, a, sizeof(a));
		date_text(c->f->this_update, b, sizeof(b));
		return pol_refuse(d, POL_R_REVOCATION_DATE, "CRL entry %s is revoked at %s, after "
				  "the CRL's thisUpdate %s", SH(), a, b);
	}
	if (pol_rev_find(c->rev, c->key, e->serial.p, e->serial.len, &in)) {
		if (c->seen[in.index / 8] & (1u << (in.index % 8)))
			return pol_refuse(d, POL_R_CRL_ENTRY, "serial %s is listed twice", SH());
		c->seen[in.index / 8] |= (uint8_t)(1u << (in.index % 8));
		if (in.rev.time != e->revocation_date ||
		    in.rev.reason != pol_rev_norm_reason(e->reason)) {
			date_text(in.rev.time, a, sizeof(a));
			date_text(e->revocation_date, b, sizeof(b));
			return pol_refuse(d, POL_R_REVOCATION_CHANGED,
					  "serial %s was revoked by key %s through %s at %s with "
					  "reason %d; this CRL says %s with reason %d (-1: none)", SH(),
					  c->ca->label, source_text(in.sources), a, in.rev.reason, b,
					  pol_rev_norm_reason(e->reason));
		}
		return c->full || bound_here(c, in.scopes) || add_new(c, e);
	}
	if (c->kr->crl.require_issued &&
	    !pol_state_has_serial(c->st, c->ca->label, e->serial.p, e->serial.len))
		return pol_refuse(d, POL_R_CRL_NOT_ISSUED, "CRL entry %s is not a serial key %s "
				  "issued%s (requireIssuedSerials)", SH(), c->ca->label,
				  pol_state_ever_purged(c->st) ? " (or its certificate expired and "
				  "was dropped from the state)" : "");
	if (!new_set_add(&c->news, &e->serial, c->f->num_revoked, &dup))
		return pol_refuse(d, POL_R_INTERNAL, "out of memory checking the CRL");
	if (dup)
		return pol_refuse(d, POL_R_CRL_ENTRY, "serial %s is listed twice", SH());
	return add_new(c, e);
}
#undef SH

/* Every revocation the CRL must carry is on it (the seen bits). */
static bool check_required(struct crl_ctx *c)
{
	struct pol_rev_info in;
	size_t n = pol_rev_count(c->rev);
	for (size_t i = 0; i < n; i++) {
		if (!pol_rev_at(c->rev, i, c->key, &in) || (c->seen[i / 8] & (1u << (i % 8))))
			continue;
		if (!c->full && !bound_here(c, in.scopes))
			continue;
		if (in.has_not_after && in.not_after < c->f->this_update)
			continue;
		if (c->f->has_delta && (c->full ? in.created_seq : in.bound_seq) <= c->base_seq)
			continue;
		char sh[NUM_HEX_MAX], a[32], na[64];
		hex(sh, sizeof(sh), in.rev.serial, in.rev.serial_len);
		date_text(in.rev.time, a, sizeof(a));
		if (in.has_not_after) {
			char t[32];
			date_text(in.not_after, t, sizeof(t));
			snprintf(na, sizeof(na), "until its notAfter %s", t);
		} else {
			snprintf(na, sizeof(na), "forever (its notAfter is unknown)");
		}
		pol_summary_serial(&c->d->summary, in.rev.serial, in.rev.serial_len);
		return pol_refuse(c->d, c->f->has_delta ? POL_R_CRL_DELTA_INCOMPLETE : POL_R_CRL_UNREVOKED,
				  "serial %s, revoked by key %s through %s at %s (reason %d), is "
				  "missing from this %sCRL; it must stay listed %s", sh, c->ca->label,
				  source_text(in.sources), a, in.rev.reason,
				  c->f->has_delta ? "delta " : "", na);
	}
	return true;
}

static bool check_header(struct crl_ctx *c, const struct pol_request *req, const struct pol_mech *m,
			 int64_t now_s)
{
	const struct pol_crl_facts *f = c->f;
	struct pol_decision *d = c->d;
	struct pol_summary *s = &d->summary;
	const struct pol_crl_rules *r = &c->kr->crl;
	char a[NUM_HEX_MAX], b[NUM_HEX_MAX];

	if (!pol_check_algid(&f->sig, m, req, d) || !pol_check_issuer(&f->issuer.raw, c->ca, d, "CRL"))
		return false;
	if (f->has_aki && f->aki_key_id.len > 0 && c->ca->ski_len > 0 &&
	    !der_cur_eq_bytes(&f->aki_key_id, c->ca->ski, c->ca->ski_len))
		return pol_refuse(d, POL_R_EXT_AKI_MISMATCH,
				  "the CRL's authorityKeyIdentifier is not the CA's subjectKeyIdentifier");
	if (!f->has_crl_number)
		return pol_refuse(d, POL_R_CRL_NUMBER_MISSING, "the CRL has no cRLNumber: key %s "
				  "signs only numbered (v2) CRLs", c->ca->label);
	memcpy(s->crl_number, f->crl_number.p, f->crl_number.len);
	s->crl_number_len = (uint32_t)f->crl_number.len;
	s->crl_delta = f->has_delta;
	if (f->has_delta) {
		memcpy(s->crl_base, f->delta_base.p, f->delta_base.len);
		s->crl_base_len = (uint32_t)f->delta_base.len;
	}
	scope_id(f, &c->full, c->scope);
	s->crl_scope_full = c->full;
	memcpy(s->crl_scope, c->scope, POL_SCOPE_ID_LEN);
	s->this_update = f->this_update;
	s->next_update = f->has_next_update ? f->next_update : 0;
	s->num_entries = (uint32_t)f->num_revoked;
	if (f->num_unknown_critical > 0)
		return pol_refuse(d, POL_R_CRL_EXT_CRITICAL, "the CRL has an unknown critical "
				  "extension");
	if (f->has_idp && !f->idp_critical)
		return pol_refuse(d, POL_R_CRL_IDP, "the issuingDistributionPoint extension must be "
				  "critical (RFC 5280 5.2.5)");
	if (f->idp_flags & (POL_IDP_INDIRECT | POL_IDP_ONLY_ATTR))
		return pol_refuse(d, POL_R_CRL_IDP, "the issuingDistributionPoint says %s: key %s "
				  "signs neither indirect nor attribute-certificate CRLs",
				  (f->idp_flags & POL_IDP_INDIRECT) ? "indirectCRL"
				  : "onlyContainsAttributeCerts", c->ca->label);
	if (f->any_cert_issuer)
		return pol_refuse(d, POL_R_CRL_INDIRECT, "a CRL entry carries certificateIssuer: key "
				  "%s signs no indirect CRL", c->ca->label);
	if (f->this_update > now_s + r->clock_skew_s || f->this_update < now_s - r->clock_skew_s)
		return pol_refuse(d, POL_R_CRL_THIS_UPDATE, "the CRL's thisUpdate is %+llds from now "
				  "(allowed: within %llds)", (long long)(f->this_update - now_s),
				  (long long)r->clock_skew_s);
	if (!f->has_next_update)
		return pol_refuse(d, POL_R_CRL_NEXT_UPDATE, "the CRL has no nextUpdate");
	if (f->next_update <= f->this_update || f->next_update - f->this_update > r->max_validity_s)
		return pol_refuse(d, POL_R_CRL_NEXT_UPDATE, "nextUpdate - thisUpdate is %llds; key %s "
				  "allows more than 0 and at most %llds (crl.maxValidity)",
				  (long long)(f->next_update - f->this_update), c->ca->label,
				  (long long)r->max_validity_s);
	pol_rev_scope(c->rev, c->key, c->full, c->scope, &c->sc);
	if (c->sc.index >= 0 &&
	    pol_int_cmp(f->crl_number.p, f->crl_number.len, c->sc.last, c->sc.last_len) <= 0) {
		hex(a, sizeof(a), f->crl_number.p, f->crl_number.len);
		hex(b, sizeof(b), c->sc.last, c->sc.last_len);
		return pol_refuse(d, POL_R_CRL_NUMBER_NOT_INCREASING, "CRL number 0x%s is not greater "
				  "than 0x%s, the last one key %s signed for this %s", a, b,
				  c->ca->label, c->full ? "full CRL" : "distribution point");
	}
	if (!f->has_delta)
		return true;
	hex(a, sizeof(a), f->delta_base.p, f->delta_base.len);
	if (!r->allow_delta)
		return pol_refuse(d, POL_R_CRL_DELTA_DENIED, "key %s signs no delta CRLs "
				  "(crl.allowDelta)", c->ca->label);
	for (uint32_t i = 0; c->sc.index >= 0 && i < c->sc.num_bases; i++)
		if (pol_int_cmp(f->delta_base.p, f->delta_base.len, c->sc.bases[i].num,
				c->sc.bases[i].len) == 0) {
			c->base_seq = c->sc.bases[i].seq;
			return true;
		}
	return pol_refuse(d, POL_R_CRL_DELTA_BASE, "the delta CRL's base 0x%s is not one of the "
			  "last %u complete CRLs key %s signed for this scope", a, POL_CRL_BASES_KEPT,
			  c->ca->label);
}

bool pol_eval_crl(const struct pol_state *st, const struct pol_ca_info *ca,
		  const struct pol_request *req, const struct pol_key_rules *kr,
		  const struct pol_mech *m, int64_t now_ns, struct pol_decision *d)
{
	struct crl_ctx c;
	struct pol_crl_iter it;
	struct pol_crl_entry e;
	struct der_err err;
	bool ok = false;
	int64_t now_s = now_ns / 1000000000LL;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.rev = pol_state_rev(st);
	c.ca = ca;
	c.kr = kr;
	c.f = &d->facts.crl;
	c.d = d;
	pol_rev_key_id(ca->label, c.key);
	if (!check_header(&c, req, m, now_s))
		return false;
	c.seen = calloc(pol_rev_count(c.rev) / 8 + 1, 1);
	if (c.seen == NULL)
		return pol_refuse(d, POL_R_INTERNAL, "out of memory checking the CRL");
	der_err_init(&err, req->data);
	pol_crl_iter_init(&it, c.f, &err);
	while (pol_crl_iter_next(&it, &e))
		if (!check_entry(&c, &e))
			goto out;
	if (err.reason != DER_OK) {
		d->der_err = err;
		(void)pol_refuse(d, POL_R_PARSE, "a CRL entry is malformed: %s",
				 der_reason_str(err.reason));
		goto out;
	}
	if (!check_required(&c))
		goto out;
	if (!pol_rev_has_room(c.rev, d->summary.num_revocations, c.sc.index < 0, false, now_s)) {
		(void)pol_refuse(d, POL_R_REVOCATION_STATE_FULL, "the revocation state is full (%zu "
				 "revocations, or %u CRL scopes)", pol_rev_count(c.rev),
				 POL_STATE_MAX_CRL_SCOPES);
		goto out;
	}
	d->summary.serial_len = 0;
	memset(d->summary.serial_hex, 0, sizeof(d->summary.serial_hex));
	ok = true;
out:
	free(c.seen);
	free(c.news.slot);
	return ok;
}

/* --- the new revocations of an allowed decision, again ------------------------------ */

void pol_revocations_begin(struct pol_rev_iter *it, const struct pol_decision *d,
			   const struct pol_state *st)
{
	struct pol_rev_scope_info sc;
	bool full;
	uint8_t scope[POL_SCOPE_ID_LEN];
	memset(it, 0, sizeof(*it));
	it->d = d;
	it->st = st;
	it->scope_index = -1;
	if (d == NULL || st == NULL || !d->allowed || d->summary.kind != POL_KIND_TBS_CRL)
		return;
	der_err_init(&it->err, NULL);
	pol_crl_iter_init(&it->crl, &d->facts.crl, &it->err);
	pol_rev_key_id(d->summary.key_label, it->key_id);
	scope_id(&d->facts.crl, &full, scope);
	pol_rev_scope(pol_state_rev(st), it->key_id, full, scope, &sc);
	it->scope_index = sc.index;
}

bool pol_revocations_next(struct pol_rev_iter *it, struct pol_revocation *out)
{
	const struct pol_decision *d = it->d;
	struct pol_crl_entry e;
	struct pol_rev_info in;
	memset(out, 0, sizeof(*out));
	if (d == NULL || it->st == NULL || !d->allowed || it->done >= d->summary.num_revocations)
		return false;
	if (d->summary.kind == POL_KIND_OCSP_RESPONSE) {
		*out = d->summary.revocations[it->done++];
		return true;
	}
	if (d->summary.kind != POL_KIND_TBS_CRL)
		return false;
	while (pol_crl_iter_next(&it->crl, &e)) {
		if (pol_rev_find(pol_state_rev(it->st), it->key_id, e.serial.p, e.serial.len, &in) &&
		    (d->summary.crl_scope_full ||
		     (it->scope_index >= 0 && (in.scopes & (1ull << it->scope_index)))))
			continue;
		rev_from_entry(&e, out);
		it->done++;
		return true;
	}
	return false;
}
