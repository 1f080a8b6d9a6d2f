/*
 * pol_ocsp.c - the facts of an OCSP ResponseData (RFC 6960 §4.2.1).
 */
#include <string.h>

#include "pol_internal.h"

#define OCSP_V1 0u
#define OCSP_KEY_HASH_LEN 20u /* SHA-1 of the responder's key */

static bool parse_single(struct der_cur *c, struct pol_ocsp_single *s, struct der_err *e)
{
	struct der_cur seq, id, st, f;
	bool present;
	uint8_t tag;
	memset(s, 0, sizeof(*s));
	s->reason = -1;
	if (!der_get(c, DER_SEQUENCE, &seq, e))
		return false;
	e->field = "certID";
	if (!der_get(&seq, DER_SEQUENCE, &id, e) ||
	    !pol_parse_hash_algid(&id, &s->hash_oid, &s->hash, e) ||
	    !der_get_octet_string(&id, &s->issuer_name_hash, e) ||
	    !der_get_octet_string(&id, &s->issuer_key_hash, e) ||
	    !pol_get_serial(&id, &s->serial, e) || !der_done(&id, e))
		return false;
	e->field = "certStatus";
	if (!der_peek_tag(&seq, &tag)) {
		if (!der_skip_any(&seq, e))
			return false;
		return der_fail(e, DER_E_TAG, seq.p);
	}
	const uint8_t *at = seq.p;
	if (tag == DER_CTX(0) || tag == DER_CTX(2)) { /* good, unknown: IMPLICIT NULL */
		if (!der_get(&seq, tag, &st, e))
			return false;
		if (st.len != 0)
			return der_fail(e, DER_E_NULL, at);
		s->status = tag == DER_CTX(0) ? POL_OCSP_GOOD : POL_OCSP_UNKNOWN;
	} else if (tag == DER_CTX_CONS(1)) { /* revoked: IMPLICIT RevokedInfo */
		if (!der_get(&seq, tag, &st, e) ||
		    !der_get_generalized_time(&st, DER_GENERALIZED_TIME, &s->revocation_time, e) ||
		    !der_get_optional(&st, DER_CTX_CONS(0), &f, &present, e))
			return false;
		if (present && (!pol_get_crl_reason(&f, &s->reason, e) || !der_done(&f, e)))
			return false;
		if (!der_done(&st, e))
			return false;
		s->status = POL_OCSP_REVOKED;
	} else {
		/* let the header checks report first */
		struct der_cur probe = seq;
		if (!der_skip_any(&probe, e))
			return false;
		return der_fail(e, (tag ^ DER_CONSTRUCTED) == DER_CTX(0) ||
					   (tag ^ DER_CONSTRUCTED) == DER_CTX(2) ||
					   (tag ^ DER_CONSTRUCTED) == DER_CTX_CONS(1)
				       ? DER_E_CONSTRUCTED : DER_E_TAG, at);
	}
	e->field = "thisUpdate";
	if (!der_get_generalized_time(&seq, DER_GENERALIZED_TIME, &s->this_update, e))
		return false;
	e->field = "nextUpdate";
	if (!der_get_optional(&seq, DER_CTX_CONS(0), &f, &present, e))
		return false;
	if (present) {
		if (!der_get_generalized_time(&f, DER_GENERALIZED_TIME, &s->next_update, e) ||
		    !der_done(&f, e))
			return false;
		s->has_next_update = true;
	}
	e->field = "singleExtensions";
	struct pol_exts exts;
	if (!pol_parse_exts_opt(&seq, 1, true, &exts, e))
		return false;
	s->num_single_ext = exts.num;
	for (size_t i = 0; i < exts.num; i++)
		s->single_ext_critical |= exts.ext[i].critical;
	e->field = "SingleResponse";
	return der_done(&seq, e);
}

static bool ocsp_ext(void *ctx, const struct pol_ext *x, struct der_err *e)
{
	struct pol_ocsp_facts *f = ctx;
	(void)e;
	if (x->id == POL_EXT_OCSP_NONCE) {
		f->has_nonce = true;
		f->nonce = x->value;
	} else {
		pol_ext_count_unknown(x, &f->num_unknown_ext, &f->num_unknown_critical);
	}
	return true;
}

bool pol_ocsp_facts(const uint8_t *data, size_t len, struct pol_ocsp_facts *out,
		    struct der_err *err)
{
	struct der_cur rd, f, list;
	uint8_t tag;
	if (!pol_facts_begin(data, len, out, sizeof(*out), "ResponseData", &rd, err))
		return false;
	err->field = "version";
	/* v1 is the DEFAULT and the only version */
	if (!pol_get_version(&rd, OCSP_V1, &out->version, err))
		goto out;
	err->field = "responderID";
	if (der_peek_tag(&rd, &tag) && tag == DER_CTX_CONS(2)) {
		if (!der_get(&rd, tag, &f, err) ||
		    !der_get_octet_string(&f, &out->responder_key_hash, err) || !der_done(&f, err))
			goto out;
		if (out->responder_key_hash.len != OCSP_KEY_HASH_LEN) {
			der_fail(err, DER_E_VALUE, out->responder_key_hash.p);
			goto out;
		}
		out->responder_by_key = true;
	} else {
		struct der_cur name;
		if (!der_get(&rd, DER_CTX_CONS(1), &f, err))
			goto out;
		name = f;
		if (!pol_parse_name(&name, NULL, err) || !der_done(&name, err))
			goto out;
		out->responder_name = f;
	}
	err->field = "producedAt";
	if (!der_get_generalized_time(&rd, DER_GENERALIZED_TIME, &out->produced_at, err))
		goto out;
	err->field = "responses";
	if (!der_get(&rd, DER_SEQUENCE, &list, err))
		goto out;
	while (!der_cur_empty(&list)) {
		if (out->num_responses >= POL_MAX_OCSP_RESPONSES) {
			der_fail(err, DER_E_COUNT, list.p);
			goto out;
		}
		if (!parse_single(&list, &out->responses[out->num_responses], err))
			goto out;
		out->num_responses++;
	}
	err->field = "responseExtensions";
	if (!pol_parse_exts_opt(&rd, 1, true, &out->exts, err) ||
	    !pol_facts_finish(&rd, "ResponseData", &out->exts, ocsp_ext, out, err))
		goto out;
	return true;
out:
	return pol_facts_fail(out, sizeof(*out), err);
}
