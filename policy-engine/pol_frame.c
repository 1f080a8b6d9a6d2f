/*
 * pol_frame.c - the frame the three fact extractors (pol_cert_facts, pol_crl_facts,
 * pol_ocsp_facts) follow: the one outer SEQUENCE, the fields their structures share
 * (version, serialNumber, signature and issuer, [n] Extensions), the extensions handed
 * out one by one, and the failure path that zeroes the facts.
 */
#include <string.h>

#include "pol_internal.h"

bool pol_facts_fail(void *out, size_t out_size, struct der_err *err)
{
	memset(out, 0, out_size);
	if (err->reason == DER_OK)
		der_fail(err, DER_E_VALUE, NULL);
	return false;
}

bool pol_facts_begin(const uint8_t *data, size_t len, void *out, size_t out_size,
		     const char *what, struct der_cur *out_contents, struct der_err *err)
{
	struct der_cur c;
	der_err_init(err, data);
	if (data == NULL || out == NULL)
		return der_fail(err, DER_E_ARG, NULL);
	memset(out, 0, out_size);
	if (len > DER_MAX_INPUT)
		return der_fail(err, DER_E_SIZE, data);
	der_cur_init(&c, data, len);
	err->field = what;
	if (!der_get(&c, DER_SEQUENCE, out_contents, err) || !der_done(&c, err))
		return pol_facts_fail(out, out_size, err);
	return true;
}

bool pol_facts_finish(struct der_cur *contents, const char *what, const struct pol_exts *exts,
		      pol_ext_fn fn, void *ctx, struct der_err *err)
{
	err->field = what;
	if (!der_done(contents, err))
		return false;
	for (size_t i = 0; i < exts->num; i++) {
		err->field = pol_ext_name(exts->ext[i].id);
		if (!fn(ctx, &exts->ext[i], err))
			return false;
	}
	err->field = NULL;
	return true;
}

bool pol_get_serial(struct der_cur *c, struct der_cur *out, struct der_err *e)
{
	if (!der_get_int_bytes(c, DER_INTEGER, out, e))
		return false;
	if (out->len > POL_MAX_SERIAL_LEN)
		return der_fail(e, DER_E_INT_RANGE, out->p);
	return true;
}

bool pol_parse_sig_issuer(struct der_cur *c, struct pol_algid *out_sig,
			  struct pol_name *out_issuer, struct der_err *e)
{
	e->field = "signature";
	if (!pol_parse_algid(c, out_sig, e))
		return false;
	e->field = "issuer";
	return pol_parse_name(c, out_issuer, e);
}

bool pol_get_version(struct der_cur *c, uint64_t max_value, uint32_t *out_version,
		     struct der_err *e)
{
	struct der_cur f;
	bool present;
	uint64_t v;
	*out_version = 1;
	if (!der_get_optional(c, DER_CTX_CONS(0), &f, &present, e))
		return false;
	if (!present)
		return true;
	if (!der_get_u64(&f, &v, e) || !der_done(&f, e))
		return false;
	if (v == 0)
		return der_fail(e, DER_E_DEFAULT, f.p);
	if (v > max_value)
		return der_fail(e, DER_E_VERSION, f.p);
	*out_version = (uint32_t)v + 1;
	return true;
}

bool pol_parse_exts_opt(struct der_cur *c, unsigned n, bool allowed, struct pol_exts *out,
			struct der_err *e)
{
	struct der_cur f;
	bool present;
	POL_ZERO(out);
	if (!der_get_optional(c, DER_CTX_CONS(n), &f, &present, e))
		return false;
	if (!present)
		return true;
	if (!allowed)
		return der_fail(e, DER_E_VERSION, f.p);
	return pol_parse_exts(&f, out, e) && der_done(&f, e);
}
