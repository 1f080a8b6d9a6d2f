/*
 * pol_policy.c - the policy file loader: strict JSON (jansson) into struct pol_policy.
 * Every refusal names its JSON path; docs/policy.md is the reference for every key.
 */
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

#define POL_FILE_VERSION 1
#define DEFAULT_MAX_LIFETIME_S (398LL * 86400LL)
#define DEFAULT_MAX_BACKDATE_S 3600LL
#define DEFAULT_CLOCK_SKEW_S 300LL
#define DEFAULT_RSA_MIN 2048u
#define DEFAULT_RSA_MAX 8192u
#define POL_RSA_MAX_BITS 16384u
#define DEFAULT_SERIAL_MIN 8u
#define DEFAULT_PREHASHED_COUNT 60u
#define DEFAULT_PREHASHED_PERIOD_S 3600LL
#define DEFAULT_PREHASHED_BURST 10u
#define POL_MAX_PATH_LEN_LIMIT 16u

bool pol_duration_parse(const char *s, int64_t *out_s)
{
	int64_t total = 0;
	*out_s = 0;
	if (*s == '\0')
		return false;
	while (*s) {
		int64_t v = 0, unit;
		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (*s - '0');
			if (v > POL_MAX_DURATION_S)
				return false;
		}
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return false;
		}
		if (v > (POL_MAX_DURATION_S - total) / unit)
			return false;
		total += v * unit;
	}
	*out_s = total;
	return true;
}

/* --- small typed getters: absent keys leave *out alone ----------------------------- */

static bool get_bool(struct pol_ld *ld, const json_t *o, const char *k, bool *out)
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

static bool get_uint(struct pol_ld *ld, const json_t *o, const char *k, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
		return pol_ld_fail(ld, "must be an integer from %llu to %llu",
				   (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	pol_ld_pop(ld, s);
	return true;
}

static bool get_u32(struct pol_ld *ld, const json_t *o, const char *k, uint32_t min, uint32_t max,
		    uint32_t *out)
{
	uint64_t v = *out;
	if (!get_uint(ld, o, k, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool get_duration(struct pol_ld *ld, const json_t *o, const char *k, int64_t *out_s)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!json_is_string(v) || !pol_duration_parse(json_string_value(v), out_s))
		return pol_ld_fail(ld, "must be a duration such as \"90d\", \"2160h\", \"1h30m\" "
				       "or \"45s\" (at most 100 years)");
	pol_ld_pop(ld, s);
	return true;
}

/* A string array whose entries map through a table of names to bits. */
struct name_bit {
	const char *name;
	uint32_t bit;
};

static bool get_bits(struct pol_ld *ld, const json_t *o, const char *k, const struct name_bit *tab,
		     struct pol_oid_list *oids, uint32_t *out)
{
	json_t *arr = json_object_get(o, k), *v;
	size_t i;
	if (arr == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!json_is_array(arr) || json_array_size(arr) > POL_MAX_OIDS)
		return pol_ld_fail(ld, "must be an array of at most %u strings", POL_MAX_OIDS);
	*out = 0;
	if (oids != NULL)
		oids->num = 0;
	json_array_foreach(arr, i, v) {
		size_t s2 = pol_ld_push_idx(ld, i);
		const char *str = json_string_value(v);
		bool found = false;
		if (str == NULL)
			return pol_ld_fail(ld, "must be a string");
		for (size_t j = 0; tab[j].name != NULL && !found; j++)
			if (strcasecmp(str, tab[j].name) == 0) {
				*out |= tab[j].bit;
				found = true;
			}
		if (!found && oids != NULL) {
			size_t len;
			if (pol_oid_from_text(str, oids->oid[oids->num].der, &len)) {
				oids->oid[oids->num].len = (uint8_t)len;
				oids->num++;
				found = true;
			}
		}
		if (!found) {
			char shown[64];
			pn_text((const uint8_t *)str, strlen(str), shown, sizeof(shown));
			return pol_ld_fail(ld, "'%s' is not a known name%s", shown,
					   oids != NULL ? " or a dotted OID" : "");
		}
		pol_ld_pop(ld, s2);
	}
	pol_ld_pop(ld, s);
	return true;
}

static const struct name_bit ku_names[] = {
	{ "digitalSignature", POL_KU_DIGITAL_SIGNATURE }, { "nonRepudiation", POL_KU_NON_REPUDIATION },
	{ "contentCommitment", POL_KU_NON_REPUDIATION }, { "keyEncipherment", POL_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", POL_KU_DATA_ENCIPHERMENT }, { "keyAgreement", POL_KU_KEY_AGREEMENT },
	{ "keyCertSign", POL_KU_KEY_CERT_SIGN }, { "cRLSign", POL_KU_CRL_SIGN },
	{ "encipherOnly", POL_KU_ENCIPHER_ONLY }, { "decipherOnly", POL_KU_DECIPHER_ONLY },
	{ NULL, 0 },
};

static const struct name_bit eku_names[] = {
	{ "serverAuth", POL_EKU_SERVER_AUTH }, { "clientAuth", POL_EKU_CLIENT_AUTH },
	{ "codeSigning", POL_EKU_CODE_SIGNING }, { "emailProtection", POL_EKU_EMAIL },
	{ "timeStamping", POL_EKU_TIME_STAMPING }, { "OCSPSigning", POL_EKU_OCSP_SIGNING },
	{ "anyExtendedKeyUsage", POL_EKU_ANY }, { NULL, 0 },
};

#define EXT_BIT(id) (1u << (id))
_Static_assert(POL_EXT_INHIBIT_ANY_POLICY < 32, "extension ids fit a 32-bit mask");
static const struct name_bit ext_names[] = {
	{ "subjectAltName", EXT_BIT(POL_EXT_SAN) }, { "issuerAltName", EXT_BIT(POL_EXT_IAN) },
	{ "basicConstraints", EXT_BIT(POL_EXT_BASIC_CONSTRAINTS) },
	{ "keyUsage", EXT_BIT(POL_EXT_KEY_USAGE) }, { "extKeyUsage", EXT_BIT(POL_EXT_EKU) },
	{ "subjectKeyIdentifier", EXT_BIT(POL_EXT_SKI) },
	{ "authorityKeyIdentifier", EXT_BIT(POL_EXT_AKI) },
	{ "nameConstraints", EXT_BIT(POL_EXT_NAME_CONSTRAINTS) },
	{ "crlDistributionPoints", EXT_BIT(POL_EXT_CRL_DP) },
	{ "authorityInfoAccess", EXT_BIT(POL_EXT_AIA) },
	{ "certificatePolicies", EXT_BIT(POL_EXT_CERT_POLICIES) },
	{ "ctPoison", EXT_BIT(POL_EXT_CT_POISON) }, { "ctSCTList", EXT_BIT(POL_EXT_SCT_LIST) },
	{ "stepProvisioner", EXT_BIT(POL_EXT_PROVISIONER) },
	{ "policyConstraints", EXT_BIT(POL_EXT_POLICY_CONSTRAINTS) },
	{ "policyMappings", EXT_BIT(POL_EXT_POLICY_MAPPINGS) },
	{ "inhibitAnyPolicy", EXT_BIT(POL_EXT_INHIBIT_ANY_POLICY) }, { NULL, 0 },
};

static const struct name_bit alg_names[] = {
	{ "RSA", POL_KEYALG_RSA }, { "EC", POL_KEYALG_EC }, { "Ed25519", POL_KEYALG_ED25519 },
	{ "Ed448", POL_KEYALG_ED448 }, { NULL, 0 },
};

static const struct name_bit curve_names[] = {
	{ "P-256", POL_CURVE_BIT(POL_CURVE_P256) }, { "P-384", POL_CURVE_BIT(POL_CURVE_P384) },
	{ "P-521", POL_CURVE_BIT(POL_CURVE_P521) }, { NULL, 0 },
};

static const struct name_bit kind_names[] = {
	{ "certificate", POL_SIGN_CERT }, { "crl", POL_SIGN_CRL }, { "ocsp", POL_SIGN_OCSP },
	{ "other", POL_SIGN_OTHER }, { NULL, 0 },
};

static bool get_rate(struct pol_ld *ld, const json_t *o, const char *k, struct pol_rate *out)
{
	static const char *const keys[] = { "count", "period", "burst", NULL };
	json_t *v = json_object_get(o, k);
	int64_t period_s = 0;
	uint64_t count = 0, burst = 0;
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!pol_ld_object(ld, v, keys))
		return false;
	if (json_object_get(v, "count") == NULL || json_object_get(v, "period") == NULL)
		return pol_ld_fail(ld, "needs \"count\" and \"period\"");
	if (!get_uint(ld, v, "count", 1, POL_MAX_RATE_COUNT, &count) ||
	    !get_duration(ld, v, "period", &period_s))
		return false;
	burst = count;
	if (!get_uint(ld, v, "burst", 1, POL_MAX_RATE_COUNT, &burst))
		return false;
	if (period_s == 0) {
		(void)pol_ld_push(ld, "period");
		return pol_ld_fail(ld, "must be longer than zero");
	}
	out->count = count;
	out->period_ns = period_s * POL_NS_PER_S;
	out->burst = burst;
	pol_ld_pop(ld, s);
	return true;
}

/* --- constraint sections, field by field over the inherited values ----------------- */

static bool ld_validity(struct pol_ld *ld, const json_t *o, struct pol_constraints *c)
{
	static const char *const keys[] = { "maxLifetime", "maxBackdate", "clockSkew", "withinCA",
					    NULL };
	return pol_ld_object(ld, o, keys) && get_duration(ld, o, "maxLifetime", &c->max_lifetime_s) &&
	       get_duration(ld, o, "maxBackdate", &c->max_backdate_s) &&
	       get_duration(ld, o, "clockSkew", &c->clock_skew_s) &&
	       get_bool(ld, o, "withinCA", &c->within_ca);
}

static bool ld_public_key(struct pol_ld *ld, const json_t *o, struct pol_constraints *c)
{
	static const char *const keys[] = { "algorithms", "rsaMinBits", "rsaMaxBits", "rsaExponents",
					    "curves", NULL };
	json_t *arr;
	if (!pol_ld_object(ld, o, keys) || !get_bits(ld, o, "algorithms", alg_names, NULL, &c->key_algs) ||
	    !get_u32(ld, o, "rsaMinBits", 1024, POL_RSA_MAX_BITS, &c->rsa_min_bits) ||
	    !get_u32(ld, o, "rsaMaxBits", 1024, POL_RSA_MAX_BITS, &c->rsa_max_bits) ||
	    !get_bits(ld, o, "curves", curve_names, NULL, &c->curves))
		return false;
	if (c->rsa_min_bits > c->rsa_max_bits) {
		(void)pol_ld_push(ld, "rsaMinBits");
		return pol_ld_fail(ld, "is larger than rsaMaxBits (%u)", c->rsa_max_bits);
	}
	if ((arr = json_object_get(o, "rsaExponents")) != NULL) {
		size_t s = pol_ld_push(ld, "rsaExponents"), i;
		json_t *v;
		if (!json_is_array(arr) || json_array_size(arr) == 0 ||
		    json_array_size(arr) > sizeof(c->exponents) / sizeof(c->exponents[0]))
			return pol_ld_fail(ld, "must be an array of 1 to 8 odd integers >= 3");
		c->num_exponents = 0;
		json_array_foreach(arr, i, v) {
			size_t s2 = pol_ld_push_idx(ld, i);
			if (!json_is_integer(v) || json_integer_value(v) < 3 ||
			    (json_integer_value(v) & 1) == 0)
				return pol_ld_fail(ld, "must be an odd integer >= 3");
			c->exponents[c->num_exponents++] = (uint64_t)json_integer_value(v);
			pol_ld_pop(ld, s2);
		}
		pol_ld_pop(ld, s);
	}
	return true;
}

static bool ld_usage(struct pol_ld *ld, const json_t *o, const char *k, const struct name_bit *tab,
		     uint32_t *allowed, uint32_t *required, struct pol_oid_list *aoids,
		     struct pol_oid_list *roids)
{
	static const char *const keys[] = { "allowed", "required", NULL };
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!pol_ld_object(ld, v, keys) || !get_bits(ld, v, "allowed", tab, aoids, allowed) ||
	    !get_bits(ld, v, "required", tab, roids, required))
		return false;
	if ((*required & ~*allowed) != 0) {
		(void)pol_ld_push(ld, "required");
		return pol_ld_fail(ld, "names a usage that \"allowed\" does not allow");
	}
	pol_ld_pop(ld, s);
	return true;
}

static bool ld_extensions(struct pol_ld *ld, const json_t *o, struct pol_constraints *c)
{
	static const char *const keys[] = { "allowCA", "maxPathLen", "keyUsage", "extKeyUsage",
					    "allowedCritical", "requireSKI", "requireAKI", NULL };
	uint64_t pl = c->max_path_len;
	if (!pol_ld_object(ld, o, keys) || !get_bool(ld, o, "allowCA", &c->allow_ca) ||
	    !get_uint(ld, o, "maxPathLen", 0, POL_MAX_PATH_LEN_LIMIT, &pl) ||
	    !ld_usage(ld, o, "keyUsage", ku_names, &c->ku_allowed, &c->ku_required, NULL, NULL) ||
	    !ld_usage(ld, o, "extKeyUsage", eku_names, &c->eku_allowed, &c->eku_required,
		      &c->eku_allowed_oids, &c->eku_required_oids) ||
	    !get_bits(ld, o, "allowedCritical", ext_names, &c->critical_allowed_oids,
		      &c->critical_allowed) ||
	    !get_bool(ld, o, "requireSKI", &c->require_ski) ||
	    !get_bool(ld, o, "requireAKI", &c->require_aki))
		return false;
	if (json_object_get(o, "maxPathLen") != NULL) {
		c->has_max_path_len = true;
		c->max_path_len = pl;
	}
	return true;
}

static bool ld_rates(struct pol_ld *ld, const json_t *o, struct pol_constraints *c, bool authority)
{
	static const char *const akeys[] = { "perKey", "perProfile", "perProvisioner",
					     "perRegisteredDomain", "perSANSet", NULL };
	return pol_ld_object(ld, o, authority ? akeys : akeys + 1) &&
	       (!authority || get_rate(ld, o, "perKey", &c->rates[POL_RATE_KEY])) &&
	       get_rate(ld, o, "perProfile", &c->rates[POL_RATE_PROFILE]) &&
	       get_rate(ld, o, "perProvisioner", &c->rates[POL_RATE_PROVISIONER]) &&
	       get_rate(ld, o, "perRegisteredDomain", &c->rates[POL_RATE_DOMAIN]) &&
	       get_rate(ld, o, "perSANSet", &c->rates[POL_RATE_SAN_SET]);
}

typedef bool (*section_fn)(struct pol_ld *, const json_t *, struct pol_constraints *);

static bool section(struct pol_ld *ld, const json_t *o, const char *k, section_fn fn,
		    struct pol_constraints *c)
{
	json_t *v = json_object_get(o, k);
	if (v == NULL)
		return true;
	size_t s = pol_ld_push(ld, k);
	if (!fn(ld, v, c))
		return false;
	pol_ld_pop(ld, s);
	return true;
}

static bool ld_subject(struct pol_ld *ld, const json_t *o, struct pol_constraints *c)
{
	static const char *const keys[] = { "requireSAN", "commonNameInSAN", NULL };
	return pol_ld_object(ld, o, keys) && get_bool(ld, o, "requireSAN", &c->require_san) &&
	       get_bool(ld, o, "commonNameInSAN", &c->cn_in_san);
}

static bool ld_serial(struct pol_ld *ld, const json_t *o, struct pol_constraints *c)
{
	static const char *const keys[] = { "minOctets", NULL };
	return pol_ld_object(ld, o, keys) &&
	       get_u32(ld, o, "minOctets", 1, POL_RFC_SERIAL_MAX, &c->serial_min_octets);
}

static bool ld_constraints(struct pol_ld *ld, const json_t *o, struct pol_constraints *c,
			   bool authority)
{
	json_t *r;
	if (!section(ld, o, "validity", ld_validity, c) ||
	    !section(ld, o, "publicKey", ld_public_key, c) ||
	    !section(ld, o, "extensions", ld_extensions, c) ||
	    !section(ld, o, "subject", ld_subject, c) || !section(ld, o, "serial", ld_serial, c))
		return false;
	if ((r = json_object_get(o, "rateLimits")) != NULL) {
		size_t s = pol_ld_push(ld, "rateLimits");
		if (!ld_rates(ld, r, c, authority))
			return false;
		pol_ld_pop(ld, s);
	}
	return true;
}

static void default_constraints(struct pol_constraints *c)
{
	memset(c, 0, sizeof(*c));
	c->max_lifetime_s = DEFAULT_MAX_LIFETIME_S;
	c->max_backdate_s = DEFAULT_MAX_BACKDATE_S;
	c->clock_skew_s = DEFAULT_CLOCK_SKEW_S;
	c->within_ca = true;
	c->key_algs = POL_KEYALG_RSA | POL_KEYALG_EC | POL_KEYALG_ED25519;
	c->rsa_min_bits = DEFAULT_RSA_MIN;
	c->rsa_max_bits = DEFAULT_RSA_MAX;
	c->num_exponents = 1;
	c->exponents[0] = 65537;
	c->curves = POL_CURVE_BIT(POL_CURVE_P256) | POL_CURVE_BIT(POL_CURVE_P384);
	c->ku_allowed = POL_KU_DIGITAL_SIGNATURE | POL_KU_NON_REPUDIATION |
			POL_KU_KEY_ENCIPHERMENT | POL_KU_DATA_ENCIPHERMENT | POL_KU_KEY_AGREEMENT;
	c->eku_allowed = POL_EKU_SERVER_AUTH | POL_EKU_CLIENT_AUTH | POL_EKU_EMAIL;
	c->critical_allowed = EXT_BIT(POL_EXT_SAN) | EXT_BIT(POL_EXT_BASIC_CONSTRAINTS) |
			      EXT_BIT(POL_EXT_KEY_USAGE) | EXT_BIT(POL_EXT_EKU) |
			      EXT_BIT(POL_EXT_NAME_CONSTRAINTS) | EXT_BIT(POL_EXT_CT_POISON);
	c->require_aki = true;
	c->require_san = true;
	c->cn_in_san = true;
	c->serial_min_octets = DEFAULT_SERIAL_MIN;
}

/* --- profiles and keys ------------------------------------------------------------- */

static const struct {
	const char *name;
	uint64_t type;
} prov_types[] = {
	{ "JWK", 1 }, { "OIDC", 2 }, { "GCP", 3 }, { "AWS", 4 }, { "Azure", 5 }, { "ACME", 6 },
	{ "X5C", 7 }, { "K8sSA", 8 }, { "SSHPOP", 9 }, { "SCEP", 10 }, { "Nebula", 11 },
};

static bool ld_match(struct pol_ld *ld, const json_t *o, struct pol_match *m)
{
	static const char *const keys[] = { "provisioner", "extKeyUsage", "ca", NULL };
	static const char *const pkeys[] = { "type", "name", NULL };
	json_t *p;
	if (!pol_ld_object(ld, o, keys))
		return false;
	m->any = json_object_size(o) == 0;
	if ((p = json_object_get(o, "provisioner")) != NULL) {
		size_t s = pol_ld_push(ld, "provisioner");
		json_t *t, *n;
		if (!pol_ld_object(ld, p, pkeys))
			return false;
		if ((t = json_object_get(p, "type")) != NULL) {
			size_t s2 = pol_ld_push(ld, "type");
			m->has_prov_type = true;
			if (json_is_integer(t) && json_integer_value(t) >= 0) {
				m->prov_type = (uint64_t)json_integer_value(t);
			} else if (json_is_string(t)) {
				bool found = false;
				for (size_t i = 0; i < sizeof(prov_types) / sizeof(prov_types[0]); i++)
					if (strcasecmp(json_string_value(t), prov_types[i].name) == 0) {
						m->prov_type = prov_types[i].type;
						found = true;
					}
				if (!found)
					return pol_ld_fail(ld, "must be a step-ca provisioner type (JWK, "
							       "OIDC, GCP, AWS, Azure, ACME, X5C, K8sSA, "
							       "SSHPOP, SCEP, Nebula) or its number");
			} else {
				return pol_ld_fail(ld, "must be a provisioner type name or number");
			}
			pol_ld_pop(ld, s2);
		}
		if ((n = json_object_get(p, "name")) != NULL) {
			size_t s2 = pol_ld_push(ld, "name");
			if (!json_is_string(n) || json_string_length(n) == 0 ||
			    json_string_length(n) >= sizeof(m->prov_name) ||
			    strlen(json_string_value(n)) != json_string_length(n))
				return pol_ld_fail(ld, "must be a string of 1 to %zu bytes",
						   sizeof(m->prov_name) - 1);
			strcpy(m->prov_name, json_string_value(n));
			m->has_prov_name = true;
			pol_ld_pop(ld, s2);
		}
		if (t == NULL && n == NULL)
			return pol_ld_fail(ld, "needs \"type\", \"name\" or both");
		pol_ld_pop(ld, s);
	}
	if (!get_bits(ld, o, "extKeyUsage", eku_names, NULL, &m->eku))
		return false;
	if (json_object_get(o, "ca") != NULL) {
		m->has_ca = true;
		if (!get_bool(ld, o, "ca", &m->ca))
			return false;
	}
	return true;
}

static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || len >= POL_NAME_MAX || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

static bool ld_profile(struct pol_ld *ld, const char *name, const json_t *o,
		       const struct pol_constraints *defaults, struct pol_profile *p)
{
	static const char *const keys[] = { "match", "names", "validity", "publicKey", "extensions",
					    "subject", "serial", "rateLimits", NULL };
	json_t *v;
	if (!valid_name(name, strlen(name)))
		return pol_ld_fail(ld, "a profile name must be 1 to %u printable bytes",
				   POL_NAME_MAX - 1);
	strcpy(p->name, name);
	p->c = *defaults;
	if (!pol_ld_object(ld, o, keys))
		return false;
	if ((v = json_object_get(o, "match")) == NULL)
		return pol_ld_fail(ld, "needs a \"match\" block ({} matches every certificate)");
	size_t s = pol_ld_push(ld, "match");
	if (!ld_match(ld, v, &p->match))
		return false;
	pol_ld_pop(ld, s);
	if ((v = json_object_get(o, "names")) != NULL) {
		s = pol_ld_push(ld, "names");
		if (!pol_ld_names(ld, v, &p->names))
			return false;
		pol_ld_pop(ld, s);
	}
	return ld_constraints(ld, o, &p->c, false);
}

static bool rev_blocks(struct pol_ld *ld, const json_t *o, struct pol_crl_rules *crl,
		       struct pol_ocsp_rules *ocsp)
{
	json_t *v;
	size_t s;
	if ((v = json_object_get(o, "crl")) != NULL) {
		s = pol_ld_push(ld, "crl");
		if (!pol_ld_crl(ld, v, crl))
			return false;
		pol_ld_pop(ld, s);
	}
	if ((v = json_object_get(o, "ocsp")) != NULL) {
		s = pol_ld_push(ld, "ocsp");
		if (!pol_ld_ocsp(ld, v, ocsp))
			return false;
		pol_ld_pop(ld, s);
	}
	return true;
}

static bool ld_keys(struct pol_ld *ld, const json_t *o, struct pol_policy *pol,
		    const struct pol_constraints *auth)
{
	static const char *const keys[] = { "prehashed", "sign", "rateLimit", "prehashedRateLimit",
					    "crl", "ocsp", NULL };
	const char *label;
	json_t *k;
	if (!json_is_object(o))
		return pol_ld_fail(ld, "must be an object of key labels");
	if (json_object_size(o) > POL_MAX_SIGNING_KEYS)
		return pol_ld_fail(ld, "has more than %u keys", POL_MAX_SIGNING_KEYS);
	json_object_foreach((json_t *)o, label, k) {
		struct pol_key_rules *kr = &pol->keys[pol->num_keys];
		char shown[POL_NAME_MAX];
		pn_text((const uint8_t *)label, strlen(label), shown, sizeof(shown));
		size_t s = pol_ld_push(ld, shown);
		json_t *v;
		if (!valid_name(label, strlen(label)))
			return pol_ld_fail(ld, "a key label must be 1 to %u printable bytes",
					   POL_NAME_MAX - 1);
		strcpy(kr->label, label);
		kr->crl = pol->crl;
		kr->ocsp = pol->ocsp;
		kr->sign = POL_SIGN_CERT | POL_SIGN_CRL | POL_SIGN_OCSP;
		kr->rate = auth->rates[POL_RATE_KEY];
		kr->prehashed_rate.count = DEFAULT_PREHASHED_COUNT;
		kr->prehashed_rate.period_ns = DEFAULT_PREHASHED_PERIOD_S * POL_NS_PER_S;
		kr->prehashed_rate.burst = DEFAULT_PREHASHED_BURST;
		if (!pol_ld_object(ld, k, keys))
			return false;
		if ((v = json_object_get(k, "prehashed")) != NULL) {
			size_t s2 = pol_ld_push(ld, "prehashed");
			const char *str = json_string_value(v);
			if (str != NULL && strcmp(str, "deny") == 0)
				kr->prehashed = POL_PREHASHED_DENY;
			else if (str != NULL && strcmp(str, "audit") == 0)
				kr->prehashed = POL_PREHASHED_AUDIT;
			else
				return pol_ld_fail(ld, "must be \"deny\" or \"audit\"");
			pol_ld_pop(ld, s2);
		}
		if (!get_bits(ld, k, "sign", kind_names, NULL, &kr->sign) ||
		    !get_rate(ld, k, "rateLimit", &kr->rate) ||
		    !get_rate(ld, k, "prehashedRateLimit", &kr->prehashed_rate) ||
		    !rev_blocks(ld, k, &kr->crl, &kr->ocsp))
			return false;
		pol->num_keys++;
		pol_ld_pop(ld, s);
	}
	return true;
}

const struct pol_key_rules *pol_policy_key(const struct pol_policy *p, const char *label)
{
	const struct pol_key_rules *star = NULL;
	for (size_t i = 0; i < p->num_keys; i++) {
		if (strcmp(p->keys[i].label, label) == 0)
			return &p->keys[i];
		if (strcmp(p->keys[i].label, "*") == 0)
			star = &p->keys[i];
	}
	return star;
}

static bool ld_document(struct pol_ld *ld, const json_t *root, struct pol_policy *pol)
{
	static const char *const keys[] = { "version", "authority", "signingKeys", "profiles", NULL };
	static const char *const akeys[] = { "names", "validity", "publicKey", "extensions",
					     "subject", "serial", "rateLimits", "crl", "ocsp", NULL };
	json_t *v, *a;
	const char *name;
	if (!pol_ld_object(ld, root, keys))
		return false;
	v = json_object_get(root, "version");
	if (v == NULL || !json_is_integer(v) || json_integer_value(v) != POL_FILE_VERSION) {
		(void)pol_ld_push(ld, "version");
		return pol_ld_fail(ld, "must be %d", POL_FILE_VERSION);
	}
	default_constraints(&pol->defaults);
	pol_rev_rules_default(&pol->crl, &pol->ocsp);
	if ((a = json_object_get(root, "authority")) != NULL) {
		size_t s = pol_ld_push(ld, "authority");
		if (!pol_ld_object(ld, a, akeys))
			return false;
		if ((v = json_object_get(a, "names")) != NULL) {
			size_t s2 = pol_ld_push(ld, "names");
			if (!pol_ld_names(ld, v, &pol->names))
				return false;
			pol_ld_pop(ld, s2);
		}
		if (!ld_constraints(ld, a, &pol->defaults, true) ||
		    !rev_blocks(ld, a, &pol->crl, &pol->ocsp))
			return false;
		pol_ld_pop(ld, s);
	}
	if ((v = json_object_get(root, "signingKeys")) != NULL) {
		size_t s = pol_ld_push(ld, "signingKeys");
		if (!ld_keys(ld, v, pol, &pol->defaults))
			return false;
		pol_ld_pop(ld, s);
	} else {
		struct pol_key_rules *kr = &pol->keys[pol->num_keys++];
		strcpy(kr->label, "*");
		kr->crl = pol->crl;
		kr->ocsp = pol->ocsp;
		kr->sign = POL_SIGN_CERT | POL_SIGN_CRL | POL_SIGN_OCSP;
		kr->rate = pol->defaults.rates[POL_RATE_KEY];
		kr->prehashed_rate.count = DEFAULT_PREHASHED_COUNT;
		kr->prehashed_rate.period_ns = DEFAULT_PREHASHED_PERIOD_S * POL_NS_PER_S;
		kr->prehashed_rate.burst = DEFAULT_PREHASHED_BURST;
	}
	if ((v = json_object_get(root, "profiles")) == NULL) {
		(void)pol_ld_push(ld, "profiles");
		return pol_ld_fail(ld, "is required (an empty object refuses every certificate)");
	}
	size_t s = pol_ld_push(ld, "profiles");
	if (!json_is_object(v))
		return pol_ld_fail(ld, "must be an object of named profiles");
	if (json_object_size(v) > POL_MAX_PROFILES)
		return pol_ld_fail(ld, "has more than %u profiles", POL_MAX_PROFILES);
	pol->profiles = calloc(json_object_size(v) + 1, sizeof(*pol->profiles));
	if (pol->profiles == NULL)
		return pol_ld_fail(ld, "out of memory");
	json_object_foreach(v, name, a) {
		char shown[POL_NAME_MAX];
		pn_text((const uint8_t *)name, strlen(name), shown, sizeof(shown));
		size_t s2 = pol_ld_push(ld, shown);
		struct pol_profile *p = &pol->profiles[pol->num_profiles++];
		if (!ld_profile(ld, name, a, &pol->defaults, p))
			return false;
		pol_ld_pop(ld, s2);
	}
	pol_ld_pop(ld, s);
	return true;
}

bool pol_policy_load(const char *json, size_t len, struct pol_policy **out,
		     struct pol_load_error *err)
{
	struct pol_load_error dummy;
	struct pol_ld ld;
	struct pol_policy *pol = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	bool ok = false;

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	memset(&ld, 0, sizeof(ld));
	ld.err = err;
	if (out == NULL || json == NULL) {
		snprintf(err->msg, sizeof(err->msg), "no policy given");
		return false;
	}
	*out = NULL;
	if (len > POL_POLICY_MAX_BYTES) {
		snprintf(err->msg, sizeof(err->msg), "the file is larger than %u bytes",
			 POL_POLICY_MAX_BYTES);
		return false;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err->msg, sizeof(err->msg), "not valid JSON: %s", jerr.text);
		err->line = jerr.line;
		err->column = jerr.column;
		return false;
	}
	pol = calloc(1, sizeof(*pol));
	if (pol == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	if (!ld_document(&ld, root, pol))
		goto out;
	pol_sha256(json, len, pol->hash);
	for (size_t i = 0; i < POL_HASH_LEN; i++)
		snprintf(pol->hash_hex + 2 * i, 3, "%02x", pol->hash[i]);
	*out = pol;
	pol = NULL;
	ok = true;
out:
	pol_policy_free(pol);
	json_decref(root);
	return ok;
}

void pol_policy_free(struct pol_policy *p)
{
	if (p == NULL)
		return;
	pn_rules_free(&p->names);
	for (size_t i = 0; i < p->num_profiles; i++)
		pn_rules_free(&p->profiles[i].names);
	free(p->profiles);
	free(p);
}

const uint8_t *pol_policy_hash(const struct pol_policy *p)
{
	return p->hash;
}

const char *pol_policy_hash_hex(const struct pol_policy *p)
{
	return p->hash_hex;
}

size_t pol_policy_num_profiles(const struct pol_policy *p)
{
	return p->num_profiles;
}

const char *pol_policy_profile_name(const struct pol_policy *p, size_t i)
{
	return i < p->num_profiles ? p->profiles[i].name : NULL;
}
