/*
 * pol_eval.c - one decision: the signing key's rules, the mechanism, the kind of data,
 * the inner signature algorithm, and the rate limits (pol_evaluate in policy.h).  The
 * certificate rules are in pol_eval_cert.c, the names in pol_eval_names.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

static const struct pol_mech mechs[] = {
	{ POL_CKM_RSA_PKCS, "CKM_RSA_PKCS", POL_KEY_RSA, POL_SIG_UNKNOWN, POL_HASH_UNKNOWN, true, false },
	{ POL_CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", POL_KEY_RSA, POL_SIG_UNKNOWN, POL_HASH_UNKNOWN, true, true },
	{ POL_CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", POL_KEY_RSA, POL_SIG_RSA_PKCS1_SHA256, POL_HASH_SHA256, false, false },
	{ POL_CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", POL_KEY_RSA, POL_SIG_RSA_PKCS1_SHA384, POL_HASH_SHA384, false, false },
	{ POL_CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", POL_KEY_RSA, POL_SIG_RSA_PKCS1_SHA512, POL_HASH_SHA512, false, false },
	{ POL_CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS", POL_KEY_RSA, POL_SIG_RSA_PSS, POL_HASH_SHA256, false, true },
	{ POL_CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS", POL_KEY_RSA, POL_SIG_RSA_PSS, POL_HASH_SHA384, false, true },
	{ POL_CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS", POL_KEY_RSA, POL_SIG_RSA_PSS, POL_HASH_SHA512, false, true },
	{ POL_CKM_ECDSA, "CKM_ECDSA", POL_KEY_EC, POL_SIG_UNKNOWN, POL_HASH_UNKNOWN, true, false },
	{ POL_CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", POL_KEY_EC, POL_SIG_ECDSA_SHA256, POL_HASH_SHA256, false, false },
	{ POL_CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", POL_KEY_EC, POL_SIG_ECDSA_SHA384, POL_HASH_SHA384, false, false },
	{ POL_CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", POL_KEY_EC, POL_SIG_ECDSA_SHA512, POL_HASH_SHA512, false, false },
	{ POL_CKM_EDDSA, "CKM_EDDSA", POL_KEY_ED25519, POL_SIG_ED25519, POL_HASH_UNKNOWN, false, false },
};

static const struct pol_mech *mech_find(unsigned long mech)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].mech == mech)
			return &mechs[i];
	return NULL;
}

bool pol_mechanism_from_name(const char *name, unsigned long *out)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strcasecmp(name, mechs[i].name) == 0 || strcasecmp(name, mechs[i].name + 4) == 0) {
			*out = mechs[i].mech;
			return true;
		}
	return false;
}

const char *pol_mechanism_name(unsigned long mech)
{
	const struct pol_mech *m = mech_find(mech);
	return m != NULL ? m->name : "an unknown mechanism";
}

static const char *const reason_names[POL_R_MAX + 1] = {
	[POL_R_OK] = "ok",
	[POL_R_PREHASHED_AUDIT] = "prehashed.audit",
	[POL_R_INTERNAL] = "internal",
	[POL_R_KEY_UNKNOWN] = "key.unknown",
	[POL_R_KIND_NOT_ALLOWED] = "key.kind_not_allowed",
	[POL_R_PREHASHED_DENIED] = "prehashed.denied",
	[POL_R_MECHANISM] = "signature.mechanism",
	[POL_R_MECH_PARAMS] = "signature.mechanism_params",
	[POL_R_PARSE] = "parse.malformed",
	[POL_R_SIG_ALG_MISMATCH] = "signature.algorithm_mismatch",
	[POL_R_SIG_PSS_PARAMS] = "signature.pss_params",
	[POL_R_ISSUER_MISMATCH] = "issuer.mismatch",
	[POL_R_CA_NO_CERT] = "issuer.no_ca_certificate",
	[POL_R_NO_PROFILE] = "profile.none",
	[POL_R_VERSION] = "cert.version",
	[POL_R_DNS_INVALID] = "name.dns.invalid",
	[POL_R_DNS_WILDCARD] = "name.dns.wildcard",
	[POL_R_DNS_DENIED] = "name.dns.denied",
	[POL_R_DNS_NOT_ALLOWED] = "name.dns.not_allowed",
	[POL_R_IP_DENIED] = "name.ip.denied",
	[POL_R_IP_NOT_ALLOWED] = "name.ip.not_allowed",
	[POL_R_EMAIL_INVALID] = "name.email.invalid",
	[POL_R_EMAIL_DENIED] = "name.email.denied",
	[POL_R_EMAIL_NOT_ALLOWED] = "name.email.not_allowed",
	[POL_R_URI_INVALID] = "name.uri.invalid",
	[POL_R_URI_DENIED] = "name.uri.denied",
	[POL_R_URI_NOT_ALLOWED] = "name.uri.not_allowed",
	[POL_R_CN_DENIED] = "name.cn.denied",
	[POL_R_CN_NOT_ALLOWED] = "name.cn.not_allowed",
	[POL_R_CN_NOT_IN_SAN] = "name.cn.not_in_san",
	[POL_R_CN_INVALID] = "name.cn.invalid",
	[POL_R_SAN_MISSING] = "name.san.missing",
	[POL_R_SAN_UNSUPPORTED] = "name.san.unsupported",
	[POL_R_VALIDITY_FUTURE] = "validity.not_before_future",
	[POL_R_VALIDITY_BACKDATED] = "validity.backdated",
	[POL_R_VALIDITY_TOO_LONG] = "validity.too_long",
	[POL_R_VALIDITY_INVERTED] = "validity.inverted",
	[POL_R_VALIDITY_BEYOND_CA] = "validity.beyond_ca",
	[POL_R_KEY_ALGORITHM] = "key.algorithm",
	[POL_R_KEY_RSA_SIZE] = "key.rsa_size",
	[POL_R_KEY_RSA_EXPONENT] = "key.rsa_exponent",
	[POL_R_KEY_CURVE] = "key.curve",
	[POL_R_KEY_IS_CA_KEY] = "key.is_ca_key",
	[POL_R_EXT_CA] = "ext.basic_constraints.ca",
	[POL_R_EXT_PATH_LEN] = "ext.basic_constraints.path_len",
	[POL_R_EXT_KU_NOT_ALLOWED] = "ext.key_usage.not_allowed",
	[POL_R_EXT_KU_MISSING] = "ext.key_usage.missing",
	[POL_R_EXT_EKU_NOT_ALLOWED] = "ext.ext_key_usage.not_allowed",
	[POL_R_EXT_EKU_MISSING] = "ext.ext_key_usage.missing",
	[POL_R_EXT_CRITICAL] = "ext.critical_not_allowed",
	[POL_R_EXT_SKI_MISSING] = "ext.ski.missing",
	[POL_R_EXT_AKI_MISMATCH] = "ext.aki.mismatch",
	[POL_R_SERIAL_NOT_POSITIVE] = "serial.not_positive",
	[POL_R_SERIAL_TOO_LONG] = "serial.too_long",
	[POL_R_SERIAL_TOO_SHORT] = "serial.too_short",
	[POL_R_SERIAL_REUSED] = "serial.reused",
	[POL_R_RATE_KEY] = "rate.key",
	[POL_R_RATE_PROFILE] = "rate.profile",
	[POL_R_RATE_PROVISIONER] = "rate.provisioner",
	[POL_R_RATE_DOMAIN] = "rate.registered_domain",
	[POL_R_RATE_SAN_SET] = "rate.san_set",
	[POL_R_RATE_PREHASHED] = "rate.prehashed",
	[POL_R_RATE_TOO_MANY] = "rate.too_many_buckets",
	[POL_R_STATE_FULL] = "state.full",
	[POL_R_CRL_NUMBER_MISSING] = "crl.number_missing",
	[POL_R_CRL_NUMBER_NOT_INCREASING] = "crl.number_not_increasing",
	[POL_R_CRL_THIS_UPDATE] = "crl.this_update",
	[POL_R_CRL_NEXT_UPDATE] = "crl.next_update",
	[POL_R_CRL_UNREVOKED] = "crl.unrevoked",
	[POL_R_REVOCATION_CHANGED] = "revocation.changed",
	[POL_R_REVOCATION_DATE] = "revocation.date_after_this_update",
	[POL_R_CRL_NOT_ISSUED] = "crl.serial_not_issued",
	[POL_R_CRL_DELTA_BASE] = "crl.delta_base",
	[POL_R_CRL_DELTA_INCOMPLETE] = "crl.delta_incomplete",
	[POL_R_CRL_DELTA_DENIED] = "crl.delta_not_allowed",
	[POL_R_CRL_IDP] = "crl.idp",
	[POL_R_CRL_INDIRECT] = "crl.indirect",
	[POL_R_CRL_ENTRY] = "crl.entry",
	[POL_R_CRL_EXT_CRITICAL] = "crl.critical_extension",
	[POL_R_REVOCATION_TOO_MANY] = "revocation.too_many_new",
	[POL_R_REVOCATION_STATE_FULL] = "revocation.state_full",
	[POL_R_OCSP_RESPONDER] = "ocsp.responder",
	[POL_R_OCSP_CERT_ID] = "ocsp.cert_id",
	[POL_R_OCSP_GOOD_NOT_ISSUED] = "ocsp.good_not_issued",
	[POL_R_OCSP_GOOD_EXPIRED] = "ocsp.good_expired",
	[POL_R_OCSP_GOOD_REVOKED] = "ocsp.good_revoked",
	[POL_R_OCSP_THIS_UPDATE] = "ocsp.this_update",
	[POL_R_OCSP_VALIDITY] = "ocsp.validity",
	[POL_R_OCSP_PRODUCED_AT] = "ocsp.produced_at",
	[POL_R_OCSP_NONCE] = "ocsp.nonce",
	[POL_R_OCSP_EXTENSION] = "ocsp.extension",
	[POL_R_OCSP_SERIAL] = "ocsp.serial",
	[POL_R_OCSP_EMPTY] = "ocsp.empty",
	[POL_R_NOT_LOGGED_IN] = "request.not_logged_in",
	[POL_R_DATA_TOO_LONG] = "request.data_too_long",
};

const char *pol_reason_name(enum pol_reason r)
{
	if ((unsigned)r > POL_R_MAX || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

static const char *const dim_names[POL_RATE_NUM] = {
	"per key", "per profile", "per provisioner", "per registered domain", "per SAN set",
	"prehashed per key",
};
static const enum pol_reason dim_reasons[POL_RATE_NUM] = {
	POL_R_RATE_KEY, POL_R_RATE_PROFILE, POL_R_RATE_PROVISIONER, POL_R_RATE_DOMAIN,
	POL_R_RATE_SAN_SET, POL_R_RATE_PREHASHED,
};

const char *pol_rate_dim_name(enum pol_rate_dim d)
{
	return (unsigned)d < POL_RATE_NUM ? dim_names[d] : "unknown";
}

bool pol_refuse(struct pol_decision *d, enum pol_reason r, const char *fmt, ...)
{
	va_list ap;
	if (d->reason != POL_R_OK)
		return false; /* the first refusal wins */
	d->allowed = false;
	d->reason = r;
	va_start(ap, fmt);
	vsnprintf(d->sentence, sizeof(d->sentence), fmt, ap);
	va_end(ap);
	return false;
}

static enum pol_hash ck_hash(unsigned long ck)
{
	switch (ck) {
	case POL_CKM_SHA_1: case POL_CKG_MGF1_SHA1: return POL_HASH_SHA1;
	case POL_CKM_SHA224: case POL_CKG_MGF1_SHA224: return POL_HASH_SHA224;
	case POL_CKM_SHA256: case POL_CKG_MGF1_SHA256: return POL_HASH_SHA256;
	case POL_CKM_SHA384: case POL_CKG_MGF1_SHA384: return POL_HASH_SHA384;
	case POL_CKM_SHA512: case POL_CKG_MGF1_SHA512: return POL_HASH_SHA512;
	default: return POL_HASH_UNKNOWN;
	}
}

bool pol_check_algid(const struct pol_algid *a, const struct pol_mech *m,
		     const struct pol_request *req, struct pol_decision *d)
{
	if (a->alg != m->alg)
		return pol_refuse(d, POL_R_SIG_ALG_MISMATCH,
				  "the signature algorithm inside the data (%s) does not match the "
				  "mechanism %s", pol_sigalg_str(a->alg), m->name);
	if (m->pss && (a->pss_hash != m->hash || a->pss_mgf1_hash != ck_hash(req->pss_mgf) ||
		       a->pss_salt_len != req->pss_salt_len || a->pss_trailer != 1))
		return pol_refuse(d, POL_R_SIG_PSS_PARAMS,
				  "the RSASSA-PSS parameters inside the data (salt %llu) differ from "
				  "the mechanism's (%s, salt %lu)", (unsigned long long)a->pss_salt_len,
				  m->name, req->pss_salt_len);
	return true;
}

bool pol_add_charge(struct pol_decision *d, enum pol_rate_dim dim, const char *label,
		    const void *key, size_t key_len, const struct pol_rate *rate)
{
	struct pol_summary *s = &d->summary;
	struct pol_charge c;
	if (rate->count == 0)
		return true;
	memset(&c, 0, sizeof(c));
	c.dim = dim;
	c.rate = *rate;
	pol_bucket_id(dim, label, key, key_len, c.bucket);
	for (uint32_t i = 0; i < s->num_charges; i++)
		if (memcmp(s->charges[i].bucket, c.bucket, POL_BUCKET_ID_LEN) == 0)
			return true;
	if (s->num_charges >= POL_MAX_CHARGES)
		return pol_refuse(d, POL_R_RATE_TOO_MANY,
				  "the request would charge more than %u rate-limit buckets (too many "
				  "registered domains)", POL_MAX_CHARGES);
	s->charges[s->num_charges++] = c;
	return true;
}

static bool check_rates(const struct pol_state *st, int64_t now_ns, struct pol_decision *d)
{
	const struct pol_summary *s = &d->summary;
	for (uint32_t i = 0; i < s->num_charges; i++) {
		const struct pol_charge *c = &s->charges[i];
		if (!pol_state_charge_fits(st, c, now_ns))
			return pol_refuse(d, dim_reasons[c->dim < POL_RATE_NUM ? c->dim : 0],
					  "rate limit %s exceeded for key %s: %llu per %llds, burst %llu",
					  pol_rate_dim_name((enum pol_rate_dim)c->dim), s->key_label,
					  (unsigned long long)c->rate.count,
					  (long long)(c->rate.period_ns / POL_NS_PER_S),
					  (unsigned long long)c->rate.burst);
	}
	if (!pol_state_has_room(st, s, now_ns))
		return pol_refuse(d, POL_R_STATE_FULL,
				  "the policy state is full (issued serials or rate-limit buckets)");
	return true;
}

bool pol_check_issuer(const struct der_cur *name, const struct pol_ca_info *ca,
		      struct pol_decision *d, const char *what)
{
	if (!ca->has_cert)
		return pol_refuse(d, POL_R_CA_NO_CERT,
				  "key %s has no CA certificate, so it signs no %s", ca->label, what);
	if (!der_cur_eq_bytes(name, ca->subject_der, ca->subject_len))
		return pol_refuse(d, POL_R_ISSUER_MISMATCH,
				  "the issuer name of the %s is not byte-identical to the subject of "
				  "the CA certificate of key %s", what, ca->label);
	return true;
}

void pol_summary_serial(struct pol_summary *s, const uint8_t *p, size_t len)
{
	memset(s->serial_hex, 0, sizeof(s->serial_hex));
	if (len == 0 || len > POL_RFC_SERIAL_MAX) {
		s->serial_len = 0;
		snprintf(s->serial_hex, sizeof(s->serial_hex), "(%zu octets)", len);
		return;
	}
	memcpy(s->serial, p, len);
	s->serial_len = (uint32_t)len;
	for (size_t i = 0; i < len; i++)
		snprintf(s->serial_hex + 2 * i, 3, "%02X", p[i]);
}

static void summary_start(struct pol_decision *d, const struct pol_ca_info *ca,
			  const struct pol_request *req, int64_t now_ns)
{
	struct pol_summary *s = &d->summary;
	s->time_ns = now_ns;
	s->peer_uid = req->peer_uid;
	s->peer_pid = req->peer_pid;
	s->prehashed = req->prehashed;
	snprintf(s->key_label, sizeof(s->key_label), "%s", ca->label);
}

bool pol_evaluate(const struct pol_policy *pol, const struct pol_state *st,
		  const struct pol_ca_info *ca, const struct pol_request *req, int64_t now_ns,
		  struct pol_decision *d)
{
	const struct pol_key_rules *kr;
	const struct pol_mech *m;
	enum pol_kind kind;
	bool ok = false;

	if (d == NULL)
		return false;
	memset(d, 0, offsetof(struct pol_decision, facts));
	if (pol == NULL || st == NULL || ca == NULL || req == NULL || ca->label == NULL ||
	    strlen(ca->label) >= POL_NAME_MAX ||
	    (req->key_label != NULL && strcmp(req->key_label, ca->label) != 0) ||
	    (req->data == NULL && req->len > 0)) {
		(void)pol_refuse(d, POL_R_INTERNAL, "the policy engine was called without a "
						    "policy, state, key or request");
		d->summary.reason = d->reason;
		return false;
	}
	summary_start(d, ca, req, now_ns);
	der_err_init(&d->der_err, req->data);
	kr = pol_policy_key(pol, ca->label);
	m = mech_find(req->mechanism);
	if (kr == NULL) {
		(void)pol_refuse(d, POL_R_KEY_UNKNOWN, "key %s is not listed in signingKeys and "
						       "there is no \"*\" entry", ca->label);
		goto out;
	}
	if (m == NULL || m->key != ca->key_type || m->raw != req->prehashed) {
		(void)pol_refuse(d, POL_R_MECHANISM, "%s cannot be used with key %s",
				 pol_mechanism_name(req->mechanism), ca->label);
		goto out;
	}
	if (m->key == POL_KEY_EC && !m->raw &&
	    !((ca->curve == POL_CURVE_P256 && m->hash == POL_HASH_SHA256) ||
	      (ca->curve == POL_CURVE_P384 && m->hash == POL_HASH_SHA384) ||
	      (ca->curve == POL_CURVE_P521 && m->hash == POL_HASH_SHA512))) {
		(void)pol_refuse(d, POL_R_MECHANISM, "%s does not pair with the curve of key %s "
						     "(P-256/SHA-256, P-384/SHA-384, P-521/SHA-512)",
				 m->name, ca->label);
		goto out;
	}
	if (m->pss && !m->raw &&
	    (!req->has_pss || ck_hash(req->pss_hash) != m->hash || ck_hash(req->pss_mgf) != m->hash)) {
		(void)pol_refuse(d, POL_R_MECH_PARAMS, "the PSS parameters of %s must name its own "
						       "hash for the digest and MGF1", m->name);
		goto out;
	}
	if (m->raw) {
		d->summary.kind = POL_KIND_OTHER;
		if (kr->prehashed != POL_PREHASHED_AUDIT) {
			(void)pol_refuse(d, POL_R_PREHASHED_DENIED,
					 "key %s refuses raw-digest signatures (%s): its policy says "
					 "prehashed \"deny\", and the content cannot be checked",
					 ca->label, m->name);
			goto out;
		}
		if (!pol_add_charge(d, POL_RATE_KEY, ca->label, "", 0, &kr->rate) ||
		    !pol_add_charge(d, POL_RATE_PREHASHED, ca->label, "", 0, &kr->prehashed_rate) ||
		    !check_rates(st, now_ns, d))
			goto out;
		d->allowed = true;
		d->reason = POL_R_PREHASHED_AUDIT;
		snprintf(d->sentence, sizeof(d->sentence),
			 "raw-digest signature (%s) with key %s allowed under prehashed \"audit\": "
			 "the content was not visible and is left to reconciliation",
			 m->name, ca->label);
		ok = true;
		goto out;
	}
	kind = pol_classify(req->data, req->len);
	d->summary.kind = kind;
	uint32_t bit = kind == POL_KIND_TBS_CERT ? POL_SIGN_CERT
		       : kind == POL_KIND_TBS_CRL ? POL_SIGN_CRL
		       : kind == POL_KIND_OCSP_RESPONSE ? POL_SIGN_OCSP
							 : POL_SIGN_OTHER;
	if ((kr->sign & bit) == 0) {
		(void)pol_refuse(d, POL_R_KIND_NOT_ALLOWED, "key %s may not sign %s", ca->label,
				 pol_kind_str(kind));
		goto out;
	}
	switch (kind) {
	case POL_KIND_TBS_CERT:
		if (!pol_cert_facts(req->data, req->len, &d->facts.cert, &d->der_err))
			break;
		if (!pol_eval_cert(pol, st, ca, req, kr, m, now_ns, d) ||
		    !pol_ocsp_signer_summary(st, ca, now_ns, d))
			goto out;
		break;
	case POL_KIND_TBS_CRL:
		if (!pol_crl_facts(req->data, req->len, &d->facts.crl, &d->der_err))
			break;
		if (!pol_eval_crl(st, ca, req, kr, m, now_ns, d))
			goto out;
		break;
	case POL_KIND_OCSP_RESPONSE:
		if (!pol_ocsp_facts(req->data, req->len, &d->facts.ocsp, &d->der_err))
			break;
		if (!pol_eval_ocsp(st, ca, kr, now_ns, d))
			goto out;
		break;
	default:
		break;
	}
	if (d->der_err.reason != DER_OK) {
		(void)pol_refuse(d, POL_R_PARSE, "the %s is malformed: %s at byte %zu (%s)",
				 pol_kind_str(kind), der_reason_str(d->der_err.reason),
				 d->der_err.offset, d->der_err.field != NULL ? d->der_err.field : "-");
		goto out;
	}
	if (!pol_add_charge(d, POL_RATE_KEY, ca->label, "", 0, &kr->rate) ||
	    !check_rates(st, now_ns, d))
		goto out;
	d->allowed = true;
	d->reason = POL_R_OK;
	if (kind == POL_KIND_TBS_CERT)
		snprintf(d->sentence, sizeof(d->sentence),
			 "certificate %.300s (serial %s) allowed by profile %s", d->summary.sans,
			 d->summary.serial_hex, d->profile);
	else if (kind == POL_KIND_TBS_CRL || kind == POL_KIND_OCSP_RESPONSE)
		snprintf(d->sentence, sizeof(d->sentence), "%s allowed for key %s: %u entries, %u "
			 "new revocations", pol_kind_str(kind), ca->label, d->summary.num_entries,
			 d->summary.num_revocations);
	else
		snprintf(d->sentence, sizeof(d->sentence), "%s allowed for key %s",
			 pol_kind_str(kind), ca->label);
	ok = true;
out:
	if (!ok)
		d->allowed = false;
	d->summary.allowed = d->allowed;
	d->summary.reason = d->reason;
	snprintf(d->summary.profile, sizeof(d->summary.profile), "%s", d->profile);
	return true;
}

bool pol_mechanism_usable(const struct pol_ca_info *ca, unsigned long mechanism,
			  bool prehashed_audit)
{
	const struct pol_mech *m = mech_find(mechanism);

	if (ca == NULL || m == NULL || m->key != ca->key_type || (m->raw && !prehashed_audit))
		return false;
	if (m->key == POL_KEY_EC && !m->raw)
		return (ca->curve == POL_CURVE_P256 && m->hash == POL_HASH_SHA256) ||
		       (ca->curve == POL_CURVE_P384 && m->hash == POL_HASH_SHA384) ||
		       (ca->curve == POL_CURVE_P521 && m->hash == POL_HASH_SHA512);
	return true;
}
