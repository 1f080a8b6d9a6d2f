/*
 * pol_policy_rev.c - the "crl" and "ocsp" blocks of a policy file (issue 5): in
 * "authority" they set the defaults of every signing key, in a "signingKeys" entry they
 * override those field by field.  docs/policy.md ("Revocation") is the reference.
 */
#include <jansson.h>
#include <string.h>

#include "pol_policy_int.h"

#define DEFAULT_CRL_MAX_VALIDITY_S (10LL * 86400LL)   /* BR: subscriber CRLs */
#define DEFAULT_REV_CLOCK_SKEW_S 300LL
#define DEFAULT_OCSP_MIN_VALIDITY_S (8LL * 3600LL)    /* BR 4.9.10 */
#define DEFAULT_OCSP_MAX_VALIDITY_S (10LL * 86400LL)

void pol_rev_rules_default(struct pol_crl_rules *crl, struct pol_ocsp_rules *ocsp)
{
	memset(crl, 0, sizeof(*crl));
	crl->max_validity_s = DEFAULT_CRL_MAX_VALIDITY_S;
	crl->clock_skew_s = DEFAULT_REV_CLOCK_SKEW_S;
	crl->require_issued = false;
	crl->allow_delta = true;
	memset(ocsp, 0, sizeof(*ocsp));
	ocsp->min_validity_s = DEFAULT_OCSP_MIN_VALIDITY_S;
	ocsp->max_validity_s = DEFAULT_OCSP_MAX_VALIDITY_S;
	ocsp->clock_skew_s = DEFAULT_REV_CLOCK_SKEW_S;
	ocsp->nonce = POL_NONCE_ALLOW;
	ocsp->allow_delegated = true;
}

static bool ld_dur(struct pol_ld *ld, const json_t *o, const char *k, bool nonzero, int64_t *out)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!json_is_string(v) || !pol_duration_parse(json_string_value(v), out))
		return pol_ld_fail(ld, "must be a duration such as \"10d\", \"8h\" or \"5m\" (at "
				       "most 100 years)");
	if (nonzero && *out == 0)
		return pol_ld_fail(ld, "must be longer than zero");
	pol_ld_pop(ld, s);
	return true;
}

static bool ld_flag(struct pol_ld *ld, const json_t *o, const char *k, bool *out)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!json_is_boolean(v))
		return pol_ld_fail(ld, "must be true or false");
	*out = json_is_true(v);
	pol_ld_pop(ld, s);
	return true;
}

bool pol_ld_crl(struct pol_ld *ld, const json_t *o, struct pol_crl_rules *r)
{
	static const char *const keys[] = { "maxValidity", "clockSkew", "requireIssuedSerials",
					    "allowDelta", NULL };
	return pol_ld_object(ld, o, keys) && ld_dur(ld, o, "maxValidity", true, &r->max_validity_s) &&
	       ld_dur(ld, o, "clockSkew", false, &r->clock_skew_s) &&
	       ld_flag(ld, o, "requireIssuedSerials", &r->require_issued) &&
	       ld_flag(ld, o, "allowDelta", &r->allow_delta);
}

bool pol_ld_ocsp(struct pol_ld *ld, const json_t *o, struct pol_ocsp_rules *r)
{
	static const char *const keys[] = { "minValidity", "maxValidity", "clockSkew", "nonce",
					    "allowDelegatedResponders", NULL };
	json_t *v;
	if (!pol_ld_object(ld, o, keys) || !ld_dur(ld, o, "minValidity", false, &r->min_validity_s) ||
	    !ld_dur(ld, o, "maxValidity", true, &r->max_validity_s) ||
	    !ld_dur(ld, o, "clockSkew", false, &r->clock_skew_s) ||
	    !ld_flag(ld, o, "allowDelegatedResponders", &r->allow_delegated))
		return false;
	if ((v = json_object_get(o, "nonce")) != NULL) {
		size_t s = pol_ld_push(ld, "nonce");
		const char *str = json_string_value(v);
		if (str != NULL && strcmp(str, "allow") == 0)
			r->nonce = POL_NONCE_ALLOW;
		else if (str != NULL && strcmp(str, "require") == 0)
			r->nonce = POL_NONCE_REQUIRE;
		else if (str != NULL && strcmp(str, "forbid") == 0)
			r->nonce = POL_NONCE_FORBID;
		else
			return pol_ld_fail(ld, "must be \"allow\", \"require\" or \"forbid\"");
		pol_ld_pop(ld, s);
	}
	if (r->min_validity_s > r->max_validity_s) {
		(void)pol_ld_push(ld, "minValidity");
		return pol_ld_fail(ld, "is longer than maxValidity");
	}
	return true;
}
