/*
 * pol_crl.c - the facts of a TBSCertList (RFC 5280 §5.1) and an iterator over its
 * revoked entries (§5.3 entry extensions).
 */
#include <string.h>

#include "pol_internal.h"

#define CRL_V2 1u
#define CRL_NUMBER_MAX_OCTETS 20u /* 0 <= n < 2^159 (RFC 5280 §5.2.3) */
#define CRL_REASON_MAX 10u
#define CRL_REASON_UNUSED 7u

static bool get_crl_number(struct der_cur value, struct der_cur *out, struct der_err *e)
{
	struct der_cur v = value;
	if (!der_get_int_bytes(&v, DER_INTEGER, out, e) || !der_done(&v, e))
		return false;
	if (der_int_is_negative(out))
		return der_fail(e, DER_E_INT_NEGATIVE, value.p);
	if (out->len > CRL_NUMBER_MAX_OCTETS)
		return der_fail(e, DER_E_INT_RANGE, value.p);
	return true;
}

/* CRLReason ENUMERATED: 0..10 without 7. */
bool pol_get_crl_reason(struct der_cur *c, int *out, struct der_err *e)
{
	uint64_t r;
	const uint8_t *at = c->p;
	if (!der_get_enum(c, &r, e))
		return false;
	if (r > CRL_REASON_MAX || r == CRL_REASON_UNUSED)
		return der_fail(e, DER_E_VALUE, at);
	*out = (int)r;
	return true;
}

static bool parse_entry(struct der_cur *c, bool v2, struct pol_crl_entry *out, struct der_err *e)
{
	struct der_cur seq;
	struct pol_exts exts;
	memset(out, 0, sizeof(*out));
	out->reason = POL_CRL_REASON_NONE;
	if (!der_get(c, DER_SEQUENCE, &seq, e) || !pol_get_serial(&seq, &out->serial, e) ||
	    !der_get_time(&seq, &out->revocation_date, e))
		return false;
	if (der_cur_empty(&seq))
		return true;
	const uint8_t *at = seq.p;
	if (!pol_parse_exts(&seq, &exts, e) || !der_done(&seq, e))
		return false;
	if (!v2)
		return der_fail(e, DER_E_VERSION, at);
	for (size_t i = 0; i < exts.num; i++) {
		const struct pol_ext *x = &exts.ext[i];
		struct der_cur v = x->value;
		switch (x->id) {
		case POL_EXT_REASON_CODE:
			if (!pol_get_crl_reason(&v, &out->reason, e) || !der_done(&v, e))
				return false;
			break;
		case POL_EXT_INVALIDITY_DATE:
			if (!der_get_generalized_time(&v, DER_GENERALIZED_TIME,
						      &out->invalidity_date, e) ||
			    !der_done(&v, e))
				return false;
			out->has_invalidity_date = true;
			break;
		case POL_EXT_CERT_ISSUER:
			if (!pol_ext_general_names(x, NULL, NULL, e))
				return false;
			out->has_cert_issuer = true;
			break;
		default:
			out->num_other_ext++;
			out->other_critical |= x->critical;
			break;
		}
	}
	return true;
}

static bool parse_idp(struct pol_crl_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur seq, g;
	bool present;
	uint8_t tag;
	uint32_t reasons;
	if (!pol_ext_seq(x, &seq, e) || !der_get_optional(&seq, DER_CTX_CONS(0), &g, &present, e))
		return false;
	if (present) {
		if (!pol_parse_dp_name(g, NULL, NULL, e))
			return false;
		f->idp_flags |= POL_IDP_DIST_POINT;
	}
	/* [1] [2] BOOLEAN DEFAULT FALSE, [3] ReasonFlags, [4] [5] BOOLEAN DEFAULT FALSE */
	static const uint32_t flag[6] = {0, POL_IDP_ONLY_USER, POL_IDP_ONLY_CA,
					 POL_IDP_ONLY_SOME_REASONS, POL_IDP_INDIRECT,
					 POL_IDP_ONLY_ATTR};
	for (unsigned n = 1; n <= 5; n++) {
		if (n == 3) {
			present = der_peek_tag(&seq, &tag) && tag == DER_CTX(3);
			if (present && !der_get_named_bits(&seq, DER_CTX(3), &reasons, e))
				return false;
		} else if (!pol_get_default_false(&seq, DER_CTX(n), &present, e)) {
			return false;
		}
		if (present)
			f->idp_flags |= flag[n];
	}
	if (!der_done(&seq, e))
		return false;
	f->has_idp = true;
	f->idp_critical = x->critical;
	f->idp = x->value;
	return true;
}

static bool crl_ext(void *ctx, const struct pol_ext *x, struct der_err *e)
{
	struct pol_crl_facts *f = ctx;
	struct der_cur inner;
	bool issuer_serial;
	switch (x->id) {
	case POL_EXT_CRL_NUMBER:
		f->has_crl_number = true;
		return get_crl_number(x->value, &f->crl_number, e);
	case POL_EXT_DELTA_CRL:
		f->has_delta = true;
		return get_crl_number(x->value, &f->delta_base, e);
	case POL_EXT_IDP:
		return parse_idp(f, x, e);
	case POL_EXT_AKI:
		f->has_aki = true;
		return pol_parse_aki(x->value, &f->aki_key_id, &issuer_serial, e);
	case POL_EXT_IAN:
		return pol_ext_general_names(x, NULL, NULL, e);
	case POL_EXT_FRESHEST_CRL:
		return pol_ext_single(x->value, &inner, e);
	default:
		pol_ext_count_unknown(x, &f->num_unknown_ext, &f->num_unknown_critical);
		return true;
	}
}

bool pol_crl_facts(const uint8_t *data, size_t len, struct pol_crl_facts *out,
		   struct der_err *err)
{
	struct der_cur tbs;
	bool present;
	uint8_t tag;
	if (!pol_facts_begin(data, len, out, sizeof(*out), "TBSCertList", &tbs, err))
		return false;
	err->field = "version";
	out->version = 1;
	if (der_peek_tag(&tbs, &tag) && tag == DER_INTEGER) {
		uint64_t v;
		const uint8_t *at = tbs.p;
		if (!der_get_u64(&tbs, &v, err))
			goto out;
		if (v != CRL_V2) { /* "if present, MUST be v2" */
			der_fail(err, DER_E_VERSION, at);
			goto out;
		}
		out->version = 2;
	}
	if (!pol_parse_sig_issuer(&tbs, &out->sig, &out->issuer, err))
		goto out;
	err->field = "thisUpdate";
	if (!der_get_time(&tbs, &out->this_update, err))
		goto out;
	err->field = "nextUpdate";
	if (der_peek_tag(&tbs, &tag) && (tag == DER_UTC_TIME || tag == DER_GENERALIZED_TIME)) {
		if (!der_get_time(&tbs, &out->next_update, err))
			goto out;
		out->has_next_update = true;
	}
	err->field = "revokedCertificates";
	if (!der_get_optional(&tbs, DER_SEQUENCE, &out->revoked, &present, err))
		goto out;
	if (present) {
		if (der_cur_empty(&out->revoked)) { /* §5.1.2.6: absent when empty */
			der_fail(err, DER_E_EMPTY, out->revoked.p - 2);
			goto out;
		}
		struct der_cur r = out->revoked;
		while (!der_cur_empty(&r)) {
			struct pol_crl_entry ent;
			const uint8_t *at = r.p;
			if (!parse_entry(&r, out->version == 2, &ent, err))
				goto out;
			if (out->num_revoked >= POL_MAX_CRL_ENTRIES) {
				der_fail(err, DER_E_COUNT, at);
				goto out;
			}
			out->num_revoked++;
			out->any_cert_issuer |= ent.has_cert_issuer;
		}
	}
	err->field = "crlExtensions";
	if (!pol_parse_exts_opt(&tbs, 0, out->version == 2, &out->exts, err) ||
	    !pol_facts_finish(&tbs, "TBSCertList", &out->exts, crl_ext, out, err))
		goto out;
	return true;
out:
	return pol_facts_fail(out, sizeof(*out), err);
}

void pol_crl_iter_init(struct pol_crl_iter *it, const struct pol_crl_facts *facts,
		       struct der_err *err)
{
	it->rest = facts->revoked;
	it->err = err;
}

bool pol_crl_iter_next(struct pol_crl_iter *it, struct pol_crl_entry *out)
{
	memset(out, 0, sizeof(*out));
	if (der_cur_empty(&it->rest))
		return false;
	/* pol_crl_facts already checked the version rule; entries with extensions exist
	 * only in a v2 list. */
	if (!parse_entry(&it->rest, true, out, it->err)) {
		der_cur_init(&it->rest, NULL, 0);
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}
