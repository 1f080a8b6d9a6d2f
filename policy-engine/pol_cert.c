/*
 * pol_cert.c - classification of what is to be signed, and the facts of a
 * TBSCertificate (RFC 5280 §4.1) with its extensions (§4.2, RFC 6962, step-ca).
 */
#include <string.h>

#include "pol_internal.h"

#define CLASSIFY_TAGS 7u
#define KU_MAX_BIT 8u
#define X509_V3 2u

const char *pol_kind_str(enum pol_kind kind)
{
	switch (kind) {
	case POL_KIND_TBS_CERT: return "TBSCertificate";
	case POL_KIND_TBS_CRL: return "TBSCertList";
	case POL_KIND_OCSP_RESPONSE: return "OCSP ResponseData";
	case POL_KIND_OTHER: break;
	}
	return "other";
}

static bool is_time_tag(uint8_t t)
{
	return t == DER_UTC_TIME || t == DER_GENERALIZED_TIME;
}

enum pol_kind pol_classify(const uint8_t *data, size_t len)
{
	struct der_cur c, seq;
	uint8_t t[CLASSIFY_TAGS] = {0};
	size_t i;
	if (data == NULL || len > DER_MAX_INPUT)
		return POL_KIND_OTHER;
	der_cur_init(&c, data, len);
	if (!der_get(&c, DER_SEQUENCE, &seq, NULL) || !der_cur_empty(&c))
		return POL_KIND_OTHER;
	for (i = 0; i < CLASSIFY_TAGS && !der_cur_empty(&seq); i++)
		if (!der_get_any(&seq, &t[i], NULL, NULL, NULL))
			return POL_KIND_OTHER;

	/* TBSCertificate: [0] version?, serial, signature, issuer, validity, subject, spki */
	i = t[0] == DER_CTX_CONS(0) ? 1 : 0;
	if (t[i] == DER_INTEGER && t[i + 1] == DER_SEQUENCE && t[i + 2] == DER_SEQUENCE &&
	    t[i + 3] == DER_SEQUENCE && t[i + 4] == DER_SEQUENCE && t[i + 5] == DER_SEQUENCE)
		return POL_KIND_TBS_CERT;
	/* TBSCertList: version?, signature, issuer, thisUpdate */
	i = t[0] == DER_INTEGER ? 1 : 0;
	if (t[i] == DER_SEQUENCE && t[i + 1] == DER_SEQUENCE && is_time_tag(t[i + 2]))
		return POL_KIND_TBS_CRL;
	/* ResponseData: [0] version?, responderID [1]/[2], producedAt, responses */
	i = t[0] == DER_CTX_CONS(0) ? 1 : 0;
	if ((t[i] == DER_CTX_CONS(1) || t[i] == DER_CTX_CONS(2)) &&
	    t[i + 1] == DER_GENERALIZED_TIME && t[i + 2] == DER_SEQUENCE)
		return POL_KIND_OCSP_RESPONSE;
	return POL_KIND_OTHER;
}

/* --- extensions -------------------------------------------------------------------- */

static bool san_add(void *ctx, const struct pol_gn *gn, struct der_err *e)
{
	struct pol_cert_facts *f = ctx;
	if (f->num_san >= POL_MAX_SAN)
		return der_fail(e, DER_E_COUNT, gn->value.p);
	f->san[f->num_san++] = *gn;
	if (gn->type == POL_GN_OTHER_NAME)
		f->san_has_other_name = true;
	else if (gn->type == POL_GN_DIRNAME)
		f->san_has_dirname = true;
	else if (gn->type != POL_GN_DNS && gn->type != POL_GN_IP && gn->type != POL_GN_RFC822 &&
		 gn->type != POL_GN_URI)
		f->san_has_other_type = true;
	return true;
}

static bool ext_san(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	if (!pol_ext_general_names(x, san_add, f, e))
		return false;
	f->has_san = true;
	f->san_critical = x->critical;
	return true;
}

static bool ext_basic_constraints(struct pol_cert_facts *f, const struct pol_ext *x,
				  struct der_err *e)
{
	struct der_cur seq;
	uint8_t tag;
	if (!pol_ext_seq(x, &seq, e) || !pol_get_default_false(&seq, DER_BOOLEAN, &f->bc_ca, e))
		return false;
	if (der_peek_tag(&seq, &tag) && tag == DER_INTEGER) {
		if (!der_get_u64(&seq, &f->bc_path_len, e))
			return false;
		f->bc_has_path_len = true;
	}
	if (!der_done(&seq, e))
		return false;
	f->has_basic_constraints = true;
	f->bc_critical = x->critical;
	return true;
}

static bool ext_key_usage(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur v = x->value;
	if (!der_get_named_bits(&v, DER_BIT_STRING, &f->key_usage, e) || !der_done(&v, e))
		return false;
	/* RFC 5280 §4.2.1.3: at least one bit set; none beyond decipherOnly */
	if (f->key_usage == 0 || f->key_usage >= (1u << (KU_MAX_BIT + 1)))
		return der_fail(e, DER_E_VALUE, x->value.p);
	f->has_key_usage = true;
	f->ku_critical = x->critical;
	return true;
}

static uint32_t eku_flag(const struct der_cur *oid)
{
	if (oid_is(oid, OID_KP_SERVER_AUTH))
		return POL_EKU_SERVER_AUTH;
	if (oid_is(oid, OID_KP_CLIENT_AUTH))
		return POL_EKU_CLIENT_AUTH;
	if (oid_is(oid, OID_KP_CODE_SIGNING))
		return POL_EKU_CODE_SIGNING;
	if (oid_is(oid, OID_KP_EMAIL))
		return POL_EKU_EMAIL;
	if (oid_is(oid, OID_KP_TIME_STAMPING))
		return POL_EKU_TIME_STAMPING;
	if (oid_is(oid, OID_KP_OCSP_SIGNING))
		return POL_EKU_OCSP_SIGNING;
	if (oid_is(oid, OID_ANY_EKU))
		return POL_EKU_ANY;
	return POL_EKU_OTHER;
}

static bool ext_eku(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur seq;
	if (!pol_ext_seq_of(x, &seq, e))
		return false;
	while (!der_cur_empty(&seq)) {
		struct der_cur oid;
		const uint8_t *at = seq.p;
		if (!der_get_oid(&seq, &oid, e))
			return false;
		if (f->num_eku >= POL_MAX_EKU)
			return der_fail(e, DER_E_COUNT, at);
		f->eku[f->num_eku++] = oid;
		f->eku_flags |= eku_flag(&oid);
	}
	f->has_eku = true;
	f->eku_critical = x->critical;
	return true;
}

static bool ext_ski(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur v = x->value;
	if (!der_get_octet_string(&v, &f->ski, e) || !der_done(&v, e))
		return false;
	f->has_ski = true;
	return true;
}

/* GeneralSubtrees: RFC 5280 §4.2.1.10 says minimum MUST be zero (so, in DER, absent)
 * and maximum MUST be absent. */
static bool nc_subtrees(struct der_cur c, struct der_err *e)
{
	if (der_cur_empty(&c))
		return der_fail(e, DER_E_EMPTY, c.p - 2);
	while (!der_cur_empty(&c)) {
		struct der_cur st, f;
		struct pol_gn gn;
		bool present;
		if (!der_get(&c, DER_SEQUENCE, &st, e) || !pol_parse_general_name(&st, true, &gn, e))
			return false;
		const uint8_t *at = st.p;
		if (!der_get_optional(&st, DER_CTX(0), &f, &present, e))
			return false;
		if (present) {
			bool zero = f.len == 1 && f.p[0] == 0;
			return der_fail(e, zero ? DER_E_DEFAULT : DER_E_VALUE, at);
		}
		if (!der_cur_empty(&st))
			return der_fail(e, DER_E_VALUE, st.p);
	}
	return true;
}

static bool ext_name_constraints(struct pol_cert_facts *f, const struct pol_ext *x,
				 struct der_err *e)
{
	struct der_cur seq, sub;
	bool present, any = false;
	if (!pol_ext_seq(x, &seq, e))
		return false;
	for (unsigned n = 0; n < 2; n++) {
		if (!der_get_optional(&seq, DER_CTX_CONS(n), &sub, &present, e))
			return false;
		if (present && !nc_subtrees(sub, e))
			return false;
		any |= present;
	}
	if (!der_done(&seq, e))
		return false;
	if (!any) /* RFC 5280 §4.2.1.10: at least one of them */
		return der_fail(e, DER_E_EMPTY, x->value.p);
	f->has_name_constraints = true;
	f->nc_critical = x->critical;
	f->name_constraints = x->value;
	return true;
}

struct uri_sink {
	size_t *num;
	struct der_cur *uris;
};

static bool uri_add(void *ctx, const struct pol_gn *gn, struct der_err *e)
{
	struct uri_sink *s = ctx;
	if (gn->type != POL_GN_URI || s == NULL)
		return true;
	if (*s->num >= POL_MAX_URIS)
		return der_fail(e, DER_E_COUNT, gn->value.p);
	s->uris[(*s->num)++] = gn->value;
	return true;
}

/* CRLDistributionPoints and FreshestCRL share one syntax; f == NULL only checks. */
static bool ext_crl_dp(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur seq;
	struct uri_sink sink = {NULL, NULL};
	if (f != NULL) {
		sink.num = &f->num_crl_dp_uris;
		sink.uris = f->crl_dp_uris;
	}
	if (!pol_ext_seq_of(x, &seq, e))
		return false;
	while (!der_cur_empty(&seq)) {
		struct der_cur dp, g;
		bool has_name, has_reasons, has_issuer;
		uint32_t reasons;
		const uint8_t *at = seq.p;
		if (!der_get(&seq, DER_SEQUENCE, &dp, e) ||
		    !der_get_optional(&dp, DER_CTX_CONS(0), &g, &has_name, e))
			return false;
		if (has_name && !pol_parse_dp_name(g, uri_add, f ? &sink : NULL, e))
			return false;
		uint8_t tag;
		has_reasons = der_peek_tag(&dp, &tag) && tag == DER_CTX(1);
		if (has_reasons && !der_get_named_bits(&dp, DER_CTX(1), &reasons, e))
			return false;
		if (!der_get_optional(&dp, DER_CTX_CONS(2), &g, &has_issuer, e))
			return false;
		if (has_issuer && !pol_parse_general_names(g, NULL, NULL, e))
			return false;
		if (!der_done(&dp, e))
			return false;
		if (!has_name && !has_issuer) /* RFC 5280 §4.2.1.13 */
			return der_fail(e, DER_E_VALUE, at);
	}
	if (f != NULL) {
		f->has_crl_dp = true;
		f->crl_dp = x->value;
	}
	return true;
}

static bool ext_aia(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur seq;
	if (!pol_ext_seq_of(x, &seq, e))
		return false;
	while (!der_cur_empty(&seq)) {
		struct der_cur ad, oid;
		struct pol_gn gn;
		if (!der_get(&seq, DER_SEQUENCE, &ad, e) || !der_get_oid(&ad, &oid, e) ||
		    !pol_parse_general_name(&ad, false, &gn, e) || !der_done(&ad, e))
			return false;
		struct uri_sink sink = {NULL, NULL};
		if (oid_is(&oid, OID_AD_OCSP)) {
			sink.num = &f->num_ocsp_uris;
			sink.uris = f->ocsp_uris;
		} else if (oid_is(&oid, OID_AD_CA_ISSUERS)) {
			sink.num = &f->num_ca_issuers_uris;
			sink.uris = f->ca_issuers_uris;
		}
		if (sink.num != NULL && !uri_add(&sink, &gn, e))
			return false;
	}
	f->has_aia = true;
	f->aia = x->value;
	return true;
}

static bool ext_policies(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct der_cur seq;
	if (!pol_ext_seq_of(x, &seq, e))
		return false;
	while (!der_cur_empty(&seq)) {
		struct der_cur pi, oid, quals;
		bool present;
		const uint8_t *at = seq.p;
		if (!der_get(&seq, DER_SEQUENCE, &pi, e) || !der_get_oid(&pi, &oid, e) ||
		    !der_get_optional(&pi, DER_SEQUENCE, &quals, &present, e) || !der_done(&pi, e))
			return false;
		if (present && der_cur_empty(&quals))
			return der_fail(e, DER_E_EMPTY, at);
		while (present && !der_cur_empty(&quals)) {
			struct der_cur q, qid;
			if (!der_get(&quals, DER_SEQUENCE, &q, e) || !der_get_oid(&q, &qid, e) ||
			    !der_skip_any(&q, e) || !der_done(&q, e))
				return false;
		}
		for (size_t i = 0; i < f->num_policies; i++)
			if (der_cur_eq(&f->policies[i], &oid)) /* RFC 5280 §4.2.1.4 */
				return der_fail(e, DER_E_DUPLICATE, at);
		if (f->num_policies >= POL_MAX_POLICIES)
			return der_fail(e, DER_E_COUNT, at);
		f->policies[f->num_policies++] = oid;
	}
	f->has_policies = true;
	return true;
}

static bool ext_provisioner(struct pol_cert_facts *f, const struct pol_ext *x, struct der_err *e)
{
	struct pol_provisioner *p = &f->provisioner;
	struct der_cur seq, kv;
	bool present;
	if (!pol_ext_seq(x, &seq, e) || !der_get_u64(&seq, &p->type, e) || !der_get_octet_string(&seq, &p->name, e) ||
	    !der_get_octet_string(&seq, &p->credential_id, e) ||
	    !der_get_optional(&seq, DER_SEQUENCE, &kv, &present, e) || !der_done(&seq, e))
		return false;
	while (present && !der_cur_empty(&kv)) {
		uint8_t tag;
		struct der_cur s;
		const uint8_t *at = kv.p;
		if (!der_get_string(&kv, &tag, &s, e))
			return false;
		if (tag != DER_PRINTABLE_STRING && tag != DER_UTF8_STRING)
			return der_fail(e, DER_E_TAG, at);
		if (p->num_kv >= POL_MAX_KV)
			return der_fail(e, DER_E_COUNT, at);
		p->kv[p->num_kv].tag = tag;
		p->kv[p->num_kv].value = s;
		p->num_kv++;
	}
	f->has_provisioner = true;
	return true;
}

static bool cert_ext(void *ctx, const struct pol_ext *x, struct der_err *e)
{
	struct pol_cert_facts *f = ctx;
	struct der_cur v = x->value, inner;
	switch (x->id) {
	case POL_EXT_SAN:
		return ext_san(f, x, e);
	case POL_EXT_IAN:
		return pol_ext_general_names(x, NULL, NULL, e);
	case POL_EXT_BASIC_CONSTRAINTS:
		return ext_basic_constraints(f, x, e);
	case POL_EXT_KEY_USAGE:
		return ext_key_usage(f, x, e);
	case POL_EXT_EKU:
		return ext_eku(f, x, e);
	case POL_EXT_SKI:
		return ext_ski(f, x, e);
	case POL_EXT_AKI:
		f->has_aki = true;
		return pol_parse_aki(x->value, &f->aki_key_id, &f->aki_has_issuer_serial, e);
	case POL_EXT_NAME_CONSTRAINTS:
		return ext_name_constraints(f, x, e);
	case POL_EXT_CRL_DP:
		return ext_crl_dp(f, x, e);
	case POL_EXT_FRESHEST_CRL:
		return ext_crl_dp(NULL, x, e);
	case POL_EXT_AIA:
		return ext_aia(f, x, e);
	case POL_EXT_CERT_POLICIES:
		return ext_policies(f, x, e);
	case POL_EXT_CT_POISON:
		/* RFC 6962 §3.1: critical, extnValue ASN.1 NULL */
		if (!x->critical || !der_get_null(&v, NULL) || !der_cur_empty(&v))
			return der_fail(e, DER_E_CT_POISON, x->value.p);
		f->has_ct_poison = true;
		return true;
	case POL_EXT_SCT_LIST:
		if (!der_get_octet_string(&v, &f->sct_list, e) || !der_done(&v, e))
			return false;
		f->has_sct_list = true;
		return true;
	case POL_EXT_PROVISIONER:
		return ext_provisioner(f, x, e);
	case POL_EXT_POLICY_CONSTRAINTS:
	case POL_EXT_POLICY_MAPPINGS:
	case POL_EXT_INHIBIT_ANY_POLICY:
		return pol_ext_single(x->value, &inner, e);
	default:
		/* unknown here (including CRL/OCSP-only extensions): kept, policy decides */
		pol_ext_count_unknown(x, &f->num_unknown_ext, &f->num_unknown_critical);
		return true;
	}
}

/* --- TBSCertificate ------------------------------------------------------------------ */

static bool unique_id(struct der_cur *c, unsigned n, uint32_t version, bool *out,
		      struct der_err *e)
{
	uint8_t tag;
	struct der_cur bits;
	unsigned unused;
	if (!der_peek_tag(c, &tag) || (tag & ~DER_CONSTRUCTED) != DER_CTX(n))
		return true;
	if (!der_get_bit_string(c, DER_CTX(n), &bits, &unused, e))
		return false;
	if (version < 2)
		return der_fail(e, DER_E_VERSION, bits.p);
	*out = true;
	return true;
}

bool pol_cert_facts(const uint8_t *data, size_t len, struct pol_cert_facts *out,
		    struct der_err *err)
{
	struct der_cur tbs, validity;
	if (!pol_facts_begin(data, len, out, sizeof(*out), "TBSCertificate", &tbs, err))
		return false;
	err->field = "version";
	if (!pol_get_version(&tbs, X509_V3, &out->version, err))
		goto out;
	err->field = "serialNumber";
	if (!pol_get_serial(&tbs, &out->serial, err))
		goto out;
	out->serial_negative = der_int_is_negative(&out->serial);
	out->serial_zero = !out->serial_negative && !der_int_is_positive(&out->serial);
	if (!pol_parse_sig_issuer(&tbs, &out->sig, &out->issuer, err))
		goto out;
	err->field = "validity";
	if (!der_get(&tbs, DER_SEQUENCE, &validity, err) ||
	    !der_get_time(&validity, &out->not_before, err) ||
	    !der_get_time(&validity, &out->not_after, err) || !der_done(&validity, err))
		goto out;
	err->field = "subject";
	if (!pol_parse_name(&tbs, &out->subject, err))
		goto out;
	err->field = "subjectPublicKeyInfo";
	if (!pol_parse_spki(&tbs, &out->spki, err))
		goto out;
	err->field = "issuerUniqueID";
	if (!unique_id(&tbs, 1, out->version, &out->has_issuer_uid, err))
		goto out;
	err->field = "subjectUniqueID";
	if (!unique_id(&tbs, 2, out->version, &out->has_subject_uid, err))
		goto out;
	err->field = "extensions";
	if (!pol_parse_exts_opt(&tbs, 3, out->version == 3, &out->exts, err) ||
	    !pol_facts_finish(&tbs, "TBSCertificate", &out->exts, cert_ext, out, err))
		goto out;
	return true;
out:
	return pol_facts_fail(out, sizeof(*out), err);
}
