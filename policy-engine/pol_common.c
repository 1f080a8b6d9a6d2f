/*
 * pol_common.c - structures shared by certificates, CRLs and OCSP responses:
 * AlgorithmIdentifier, Name, SubjectPublicKeyInfo, GeneralName, Extensions.
 */
#include <string.h>

#include "pol_internal.h"

#define COUNTRY_LEN 2u
#define ED25519_KEY_LEN 32u
#define ED448_KEY_LEN 57u
#define NC_IPV4_LEN 8u
#define NC_IPV6_LEN 32u
#define SAN_IPV4_LEN 4u
#define SAN_IPV6_LEN 16u
#define PSS_DEFAULT_SALT 20u
#define PSS_TRAILER_BC 1u
#define BITS_PER_OCTET 8u

enum pol_hash pol_hash_from_oid(const struct der_cur *oid)
{
	if (oid_is(oid, OID_SHA256))
		return POL_HASH_SHA256;
	if (oid_is(oid, OID_SHA384))
		return POL_HASH_SHA384;
	if (oid_is(oid, OID_SHA512))
		return POL_HASH_SHA512;
	if (oid_is(oid, OID_SHA224))
		return POL_HASH_SHA224;
	if (oid_is(oid, OID_SHA1))
		return POL_HASH_SHA1;
	return POL_HASH_UNKNOWN;
}

const char *pol_sigalg_str(enum pol_sigalg alg)
{
	switch (alg) {
	case POL_SIG_RSA_PKCS1_SHA256: return "sha256WithRSAEncryption";
	case POL_SIG_RSA_PKCS1_SHA384: return "sha384WithRSAEncryption";
	case POL_SIG_RSA_PKCS1_SHA512: return "sha512WithRSAEncryption";
	case POL_SIG_RSA_PSS: return "RSASSA-PSS";
	case POL_SIG_ECDSA_SHA256: return "ecdsa-with-SHA256";
	case POL_SIG_ECDSA_SHA384: return "ecdsa-with-SHA384";
	case POL_SIG_ECDSA_SHA512: return "ecdsa-with-SHA512";
	case POL_SIG_ED25519: return "Ed25519";
	case POL_SIG_UNKNOWN: break;
	}
	return "unknown";
}

bool pol_parse_hash_algid(struct der_cur *c, struct der_cur *out_oid, enum pol_hash *out,
			  struct der_err *e)
{
	struct der_cur seq;
	*out = POL_HASH_UNKNOWN;
	if (!der_get(c, DER_SEQUENCE, &seq, e) || !der_get_oid(&seq, out_oid, e))
		return false;
	if (!der_cur_empty(&seq) && !der_get_null(&seq, e))
		return false;
	if (!der_done(&seq, e))
		return false;
	*out = pol_hash_from_oid(out_oid);
	return true;
}

/* RSASSA-PSS-params (RFC 4055 §3.1); DER forbids encoding the defaults. */
static bool parse_pss_params(struct der_cur params, struct pol_algid *a, struct der_err *e)
{
	struct der_cur seq, f, hash_oid;
	bool present;
	a->pss_hash = POL_HASH_SHA1;
	a->pss_mgf1_hash = POL_HASH_SHA1;
	a->pss_salt_len = PSS_DEFAULT_SALT;
	a->pss_trailer = PSS_TRAILER_BC;
	if (!der_get(&params, DER_SEQUENCE, &seq, e) || !der_done(&params, e))
		return false;
	if (!der_get_optional(&seq, DER_CTX_CONS(0), &f, &present, e))
		return false;
	if (present) {
		if (!pol_parse_hash_algid(&f, &hash_oid, &a->pss_hash, e) || !der_done(&f, e))
			return false;
		if (a->pss_hash == POL_HASH_SHA1)
			return der_fail(e, DER_E_DEFAULT, f.p);
	}
	if (!der_get_optional(&seq, DER_CTX_CONS(1), &f, &present, e))
		return false;
	if (present) {
		struct der_cur mgf, oid;
		if (!der_get(&f, DER_SEQUENCE, &mgf, e) || !der_done(&f, e) ||
		    !der_get_oid(&mgf, &oid, e))
			return false;
		if (!oid_is(&oid, OID_MGF1))
			return der_fail(e, DER_E_ALG_PARAMS, oid.p);
		if (!pol_parse_hash_algid(&mgf, &hash_oid, &a->pss_mgf1_hash, e) ||
		    !der_done(&mgf, e))
			return false;
		if (a->pss_mgf1_hash == POL_HASH_SHA1)
			return der_fail(e, DER_E_DEFAULT, oid.p);
	}
	if (!der_get_optional(&seq, DER_CTX_CONS(2), &f, &present, e))
		return false;
	if (present) {
		if (!der_get_u64(&f, &a->pss_salt_len, e) || !der_done(&f, e))
			return false;
		if (a->pss_salt_len == PSS_DEFAULT_SALT)
			return der_fail(e, DER_E_DEFAULT, f.p);
	}
	if (!der_get_optional(&seq, DER_CTX_CONS(3), &f, &present, e))
		return false;
	if (present) {
		if (!der_get_u64(&f, &a->pss_trailer, e) || !der_done(&f, e))
			return false;
		return der_fail(e, a->pss_trailer == PSS_TRAILER_BC ? DER_E_DEFAULT
								     : DER_E_ALG_PARAMS, f.p);
	}
	return der_done(&seq, e);
}

bool pol_parse_algid(struct der_cur *c, struct pol_algid *out, struct der_err *e)
{
	struct der_cur save = *c, seq, oid, params = {NULL, 0};
	POL_ZERO(out);
	if (!der_get_tlv(c, DER_SEQUENCE, &out->raw, NULL, e))
		goto out;
	struct der_cur whole = out->raw;
	if (!der_get(&whole, DER_SEQUENCE, &seq, e) || !der_get_oid(&seq, &oid, e))
		goto out;
	if (!der_cur_empty(&seq)) {
		uint8_t tag;
		if (!der_get_any(&seq, &tag, &params, NULL, e) || !der_done(&seq, e))
			goto out;
	}
	out->oid = oid;
	out->params = params;
	out->params_null = params.len == 2 && params.p[0] == DER_NULL && params.p[1] == 0;
	if (params.len > 0 && params.p[0] == DER_NULL && !out->params_null) {
		der_fail(e, DER_E_NULL, params.p);
		goto out;
	}
	bool pkcs1 = true;
	if (oid_is(&oid, OID_SHA256_RSA))
		out->alg = POL_SIG_RSA_PKCS1_SHA256;
	else if (oid_is(&oid, OID_SHA384_RSA))
		out->alg = POL_SIG_RSA_PKCS1_SHA384;
	else if (oid_is(&oid, OID_SHA512_RSA))
		out->alg = POL_SIG_RSA_PKCS1_SHA512;
	else
		pkcs1 = false;
	if (pkcs1) {
		if (params.len != 0 && !out->params_null) {
			der_fail(e, DER_E_ALG_PARAMS, params.p);
			goto out;
		}
	} else if (oid_is(&oid, OID_RSASSA_PSS)) {
		out->alg = POL_SIG_RSA_PSS;
		if (params.len == 0) {
			der_fail(e, DER_E_ALG_PARAMS, oid.p);
			goto out;
		}
		if (!parse_pss_params(params, out, e))
			goto out;
	} else if (oid_is(&oid, OID_ECDSA_SHA256) || oid_is(&oid, OID_ECDSA_SHA384) ||
		   oid_is(&oid, OID_ECDSA_SHA512) || oid_is(&oid, OID_ED25519)) {
		out->alg = oid_is(&oid, OID_ECDSA_SHA256)   ? POL_SIG_ECDSA_SHA256
			   : oid_is(&oid, OID_ECDSA_SHA384) ? POL_SIG_ECDSA_SHA384
			   : oid_is(&oid, OID_ECDSA_SHA512) ? POL_SIG_ECDSA_SHA512
							    : POL_SIG_ED25519;
		if (params.len != 0) {
			der_fail(e, DER_E_ALG_PARAMS, params.p);
			goto out;
		}
	}
	return true;
out:
	*c = save;
	POL_ZERO(out);
	return false;
}

/* --- Name ------------------------------------------------------------------------- */

static enum pol_attr_type attr_type(const struct der_cur *oid)
{
	static const struct {
		const uint8_t *oid;
		size_t len;
		enum pol_attr_type type;
	} table[] = {
		{OID_AT_CN, sizeof(OID_AT_CN), POL_ATTR_CN},
		{OID_AT_C, sizeof(OID_AT_C), POL_ATTR_C},
		{OID_AT_O, sizeof(OID_AT_O), POL_ATTR_O},
		{OID_AT_OU, sizeof(OID_AT_OU), POL_ATTR_OU},
		{OID_AT_L, sizeof(OID_AT_L), POL_ATTR_L},
		{OID_AT_ST, sizeof(OID_AT_ST), POL_ATTR_ST},
		{OID_AT_SERIAL_NUMBER, sizeof(OID_AT_SERIAL_NUMBER), POL_ATTR_SERIAL_NUMBER},
		{OID_AT_EMAIL, sizeof(OID_AT_EMAIL), POL_ATTR_EMAIL},
		{OID_AT_DC, sizeof(OID_AT_DC), POL_ATTR_DC},
		{OID_AT_STREET, sizeof(OID_AT_STREET), POL_ATTR_STREET},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (der_cur_eq_bytes(oid, table[i].oid, table[i].len))
			return table[i].type;
	return POL_ATTR_OTHER;
}

/* X.690 11.6: SET OF components in ascending order of their encodings, the shorter
 * padded with trailing zero octets. */
static int set_order_cmp(const struct der_cur *a, const struct der_cur *b)
{
	size_t n = a->len > b->len ? a->len : b->len;
	for (size_t i = 0; i < n; i++) {
		uint8_t x = i < a->len ? a->p[i] : 0;
		uint8_t y = i < b->len ? b->p[i] : 0;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* One AttributeTypeAndValue. */
static bool parse_atv(struct der_cur *c, struct pol_attr *a, struct der_err *e)
{
	struct der_cur seq, oid, v;
	uint8_t tag;
	if (!der_get(c, DER_SEQUENCE, &seq, e) || !der_get_oid(&seq, &oid, e))
		return false;
	enum pol_attr_type type = attr_type(&oid);
	if (!der_peek_tag(&seq, &tag)) {
		if (!der_skip_any(&seq, e))
			return false;
		return der_fail(e, DER_E_TAG, seq.p);
	}
	if (der_is_string_tag(tag)) {
		if (!der_get_string(&seq, &tag, &v, e))
			return false;
	} else {
		size_t hl;
		if (!der_get_any(&seq, &tag, &v, &hl, e))
			return false;
		if (type != POL_ATTR_OTHER) /* the known attributes are all strings */
			return der_fail(e, DER_E_TAG, v.p);
		v.p += hl;
		v.len -= hl;
	}
	if (!der_done(&seq, e))
		return false;
	/* RFC 5280 App. A: countryName is PrintableString (SIZE (2)); emailAddress and
	 * domainComponent are IA5String. */
	if ((type == POL_ATTR_C && (tag != DER_PRINTABLE_STRING || v.len != COUNTRY_LEN)) ||
	    ((type == POL_ATTR_EMAIL || type == POL_ATTR_DC) && tag != DER_IA5_STRING))
		return der_fail(e, DER_E_STRING, v.p - 2);
	a->type = type;
	a->oid = oid;
	a->value_tag = tag;
	a->value = v;
	return true;
}

bool pol_parse_name(struct der_cur *c, struct pol_name *out, struct der_err *e)
{
	struct der_cur save = *c, raw, rdns;
	size_t hl;
	if (out != NULL)
		POL_ZERO(out);
	if (!der_get_tlv(c, DER_SEQUENCE, &raw, &hl, e))
		goto out;
	der_cur_init(&rdns, raw.p + hl, raw.len - hl);
	size_t num_rdns = 0, num_attrs = 0;
	while (!der_cur_empty(&rdns)) {
		struct der_cur set, prev = {NULL, 0};
		if (!der_get(&rdns, DER_SET, &set, e))
			goto out;
		if (der_cur_empty(&set)) {
			der_fail(e, DER_E_EMPTY, set.p - 2);
			goto out;
		}
		while (!der_cur_empty(&set)) {
			struct pol_attr a;
			struct der_cur tlv = set;
			memset(&a, 0, sizeof(a));
			if (!parse_atv(&set, &a, e))
				goto out;
			tlv.len -= set.len;
			if (prev.p != NULL && set_order_cmp(&prev, &tlv) > 0) {
				der_fail(e, DER_E_SET_ORDER, tlv.p);
				goto out;
			}
			prev = tlv;
			if (num_attrs >= POL_MAX_NAME_ATTRS) {
				der_fail(e, DER_E_COUNT, tlv.p);
				goto out;
			}
			if (out != NULL) {
				a.rdn_index = (uint32_t)num_rdns;
				out->attrs[num_attrs] = a;
				if (a.type == POL_ATTR_CN && out->num_cn++ == 0) {
					out->cn = a.value;
					out->cn_tag = a.value_tag;
				}
			}
			num_attrs++;
		}
		num_rdns++;
	}
	if (out != NULL) {
		out->raw = raw;
		out->num_rdns = num_rdns;
		out->num_attrs = num_attrs;
	}
	return true;
out:
	*c = save;
	if (out != NULL)
		POL_ZERO(out);
	return false;
}

/* --- SubjectPublicKeyInfo ----------------------------------------------------------- */

static bool parse_rsa_key(struct pol_spki *k, struct der_err *e)
{
	struct der_cur key = k->key, seq, n, x;
	if (!der_get(&key, DER_SEQUENCE, &seq, e) || !der_done(&key, e) ||
	    !der_get_int_bytes(&seq, DER_INTEGER, &n, e) ||
	    !der_get_int_bytes(&seq, DER_INTEGER, &x, e) || !der_done(&seq, e))
		return false;
	if (!der_int_is_positive(&n) || !der_int_is_positive(&x))
		return der_fail(e, DER_E_KEY, k->key.p);
	k->rsa_modulus = der_int_magnitude(&n);
	k->rsa_exponent_bytes = der_int_magnitude(&x);
	uint8_t top = k->rsa_modulus.p[0];
	unsigned topbits = 0;
	while (top != 0) {
		topbits++;
		top >>= 1;
	}
	if (k->rsa_modulus.len > UINT32_MAX / BITS_PER_OCTET)
		return der_fail(e, DER_E_KEY, k->key.p);
	k->rsa_bits = (uint32_t)((k->rsa_modulus.len - 1) * BITS_PER_OCTET + topbits);
	if (k->rsa_exponent_bytes.len <= sizeof(uint64_t))
		for (size_t i = 0; i < k->rsa_exponent_bytes.len; i++)
			k->rsa_exponent = (k->rsa_exponent << 8) | k->rsa_exponent_bytes.p[i];
	return true;
}

static bool parse_ec_key(struct pol_spki *k, struct der_err *e)
{
	struct der_cur params = k->alg_params;
	uint8_t tag;
	size_t field_len = 0;
	if (params.len == 0 || !der_peek_tag(&params, &tag))
		return der_fail(e, DER_E_ALG_PARAMS, k->alg_oid.p);
	if (tag == DER_OID) {
		if (!der_get_oid(&params, &k->curve_oid, e))
			return false;
		if (oid_is(&k->curve_oid, OID_P256)) {
			k->curve = POL_CURVE_P256;
			field_len = 32;
		} else if (oid_is(&k->curve_oid, OID_P384)) {
			k->curve = POL_CURVE_P384;
			field_len = 48;
		} else if (oid_is(&k->curve_oid, OID_P521)) {
			k->curve = POL_CURVE_P521;
			field_len = 66;
		} else {
			k->curve = POL_CURVE_OTHER;
		}
	} else if (tag == DER_SEQUENCE) {
		struct der_cur spec;
		if (!der_get(&params, DER_SEQUENCE, &spec, e))
			return false;
		k->curve = POL_CURVE_OTHER;
		k->ec_explicit_params = true;
	} else {
		/* implicitCA (NULL) is forbidden by RFC 5480 */
		return der_fail(e, DER_E_ALG_PARAMS, params.p);
	}
	if (k->key.len == 0)
		return der_fail(e, DER_E_KEY, k->key.p);
	uint8_t form = k->key.p[0];
	if (form == 0x02 || form == 0x03)
		k->ec_compressed = true;
	else if (form != 0x04)
		return der_fail(e, DER_E_KEY, k->key.p);
	if (field_len != 0 &&
	    k->key.len != 1 + (k->ec_compressed ? field_len : 2 * field_len))
		return der_fail(e, DER_E_KEY, k->key.p);
	return true;
}

bool pol_parse_spki(struct der_cur *c, struct pol_spki *out, struct der_err *e)
{
	struct der_cur save = *c, seq, alg, oid, params = {NULL, 0};
	POL_ZERO(out);
	if (!der_get_tlv(c, DER_SEQUENCE, &out->raw, NULL, e))
		goto out;
	struct der_cur whole = out->raw;
	if (!der_get(&whole, DER_SEQUENCE, &seq, e) || !der_get(&seq, DER_SEQUENCE, &alg, e) ||
	    !der_get_oid(&alg, &oid, e))
		goto out;
	if (!der_cur_empty(&alg) && !der_get_any(&alg, NULL, &params, NULL, e))
		goto out;
	if (!der_done(&alg, e) || !der_get_bit_string_octets(&seq, &out->key, e) ||
	    !der_done(&seq, e))
		goto out;
	out->alg_oid = oid;
	out->alg_params = params;
	bool null_params = params.len == 2 && params.p[0] == DER_NULL && params.p[1] == 0;
	if (oid_is(&oid, OID_RSA_ENCRYPTION)) {
		out->type = POL_KEY_RSA;
		if (!null_params) { /* RFC 3279 §2.3.1: parameters MUST be NULL */
			der_fail(e, DER_E_ALG_PARAMS, params.len ? params.p : oid.p);
			goto out;
		}
		if (!parse_rsa_key(out, e))
			goto out;
	} else if (oid_is(&oid, OID_EC_PUBLIC_KEY)) {
		out->type = POL_KEY_EC;
		if (!parse_ec_key(out, e))
			goto out;
	} else if (oid_is(&oid, OID_ED25519) || oid_is(&oid, OID_ED448)) {
		bool ed25519 = oid_is(&oid, OID_ED25519);
		out->type = ed25519 ? POL_KEY_ED25519 : POL_KEY_ED448;
		if (params.len != 0) {
			der_fail(e, DER_E_ALG_PARAMS, params.p);
			goto out;
		}
		if (out->key.len != (ed25519 ? ED25519_KEY_LEN : ED448_KEY_LEN)) {
			der_fail(e, DER_E_KEY, out->key.p);
			goto out;
		}
	} else {
		out->type = POL_KEY_OTHER;
	}
	return true;
out:
	*c = save;
	POL_ZERO(out);
	return false;
}

/* --- GeneralName -------------------------------------------------------------------- */

bool pol_parse_general_name(struct der_cur *c, bool in_nc, struct pol_gn *out, struct der_err *e)
{
	struct der_cur save = *c, v, tlv;
	uint8_t tag;
	memset(out, 0, sizeof(*out));
	if (!der_peek_tag(c, &tag))
		return der_skip_any(c, e) && der_fail(e, DER_E_TAG, save.p);
	unsigned num = tag & 0x1fu;
	if ((tag & 0xc0u) != DER_CONTEXT || num > POL_GN_RID) {
		struct der_cur probe = *c;
		return der_skip_any(&probe, e) && der_fail(e, DER_E_TAG, save.p);
	}
	out->type = (enum pol_gn_type)num;
	switch (out->type) {
	case POL_GN_RFC822:
	case POL_GN_DNS:
	case POL_GN_URI:
		if (!der_get_ia5(c, DER_CTX(num), &out->value, e))
			goto out;
		break;
	case POL_GN_IP:
		if (!der_get(c, DER_CTX(num), &v, e))
			goto out;
		if (in_nc ? (v.len != NC_IPV4_LEN && v.len != NC_IPV6_LEN)
			  : (v.len != SAN_IPV4_LEN && v.len != SAN_IPV6_LEN)) {
			der_fail(e, DER_E_VALUE, save.p);
			goto out;
		}
		out->value = v;
		break;
	case POL_GN_RID:
		if (!der_get(c, DER_CTX(num), &v, e))
			goto out;
		if (!der_oid_is_valid(&v)) {
			der_fail(e, DER_E_OID, save.p);
			goto out;
		}
		out->value = v;
		break;
	case POL_GN_OTHER_NAME: {
		struct der_cur oid, val;
		if (!der_get_tlv(c, DER_CTX_CONS(0), &tlv, NULL, e))
			goto out;
		struct der_cur in = tlv;
		if (!der_get(&in, DER_CTX_CONS(0), &in, e) || !der_get_oid(&in, &oid, e) ||
		    !der_get(&in, DER_CTX_CONS(0), &val, e) || !der_done(&in, e) ||
		    !der_skip_any(&val, e) || !der_done(&val, e))
			goto out;
		out->value = tlv;
		break;
	}
	case POL_GN_DIRNAME: {
		if (!der_get_tlv(c, DER_CTX_CONS(4), &tlv, NULL, e))
			goto out;
		struct der_cur in = tlv;
		if (!der_get(&in, DER_CTX_CONS(4), &in, e) || !pol_parse_name(&in, NULL, e) ||
		    !der_done(&in, e))
			goto out;
		out->value = tlv;
		break;
	}
	case POL_GN_X400:
	case POL_GN_EDI_PARTY:
		if (!der_get_tlv(c, DER_CTX_CONS(num), &tlv, NULL, e))
			goto out;
		out->value = tlv;
		break;
	}
	return true;
out:
	*c = save;
	memset(out, 0, sizeof(*out));
	return false;
}

bool pol_parse_general_names(struct der_cur contents, pol_gn_cb cb, void *ctx, struct der_err *e)
{
	if (der_cur_empty(&contents)) /* an empty element's header is 2 octets */
		return der_fail(e, DER_E_EMPTY, contents.p - 2);
	while (!der_cur_empty(&contents)) {
		struct pol_gn gn;
		if (!pol_parse_general_name(&contents, false, &gn, e))
			return false;
		if (cb != NULL && !cb(ctx, &gn, e))
			return false;
	}
	return true;
}

bool pol_parse_dp_name(struct der_cur contents, pol_gn_cb cb, void *ctx, struct der_err *e)
{
	struct der_cur f;
	uint8_t tag;
	if (!der_peek_tag(&contents, &tag)) {
		if (!der_skip_any(&contents, e))
			return false;
		return der_fail(e, DER_E_TAG, contents.p);
	}
	if (tag == DER_CTX_CONS(0)) {
		if (!der_get(&contents, DER_CTX_CONS(0), &f, e) ||
		    !pol_parse_general_names(f, cb, ctx, e))
			return false;
	} else {
		/* nameRelativeToCRLIssuer: one RDN as [1] IMPLICIT SET OF */
		if (!der_get(&contents, DER_CTX_CONS(1), &f, e))
			return false;
		if (der_cur_empty(&f))
			return der_fail(e, DER_E_EMPTY, f.p - 2);
	}
	return der_done(&contents, e);
}

/* --- Extensions --------------------------------------------------------------------- */

static const struct {
	const uint8_t *oid;
	size_t len;
	enum pol_ext_id id;
	const char *name;
} ext_table[] = {
#define EXT(o, i, n) {o, sizeof(o), i, n}
	EXT(OID_CE_SAN, POL_EXT_SAN, "subjectAltName"),
	EXT(OID_CE_IAN, POL_EXT_IAN, "issuerAltName"),
	EXT(OID_CE_BC, POL_EXT_BASIC_CONSTRAINTS, "basicConstraints"),
	EXT(OID_CE_KU, POL_EXT_KEY_USAGE, "keyUsage"),
	EXT(OID_CE_EKU, POL_EXT_EKU, "extKeyUsage"),
	EXT(OID_CE_SKI, POL_EXT_SKI, "subjectKeyIdentifier"),
	EXT(OID_CE_AKI, POL_EXT_AKI, "authorityKeyIdentifier"),
	EXT(OID_CE_NAME_CONSTRAINTS, POL_EXT_NAME_CONSTRAINTS, "nameConstraints"),
	EXT(OID_CE_CRL_DP, POL_EXT_CRL_DP, "cRLDistributionPoints"),
	EXT(OID_PE_AIA, POL_EXT_AIA, "authorityInfoAccess"),
	EXT(OID_CE_CERT_POLICIES, POL_EXT_CERT_POLICIES, "certificatePolicies"),
	EXT(OID_CT_POISON, POL_EXT_CT_POISON, "CT precertificate poison"),
	EXT(OID_CT_SCT_LIST, POL_EXT_SCT_LIST, "CT SCT list"),
	EXT(OID_STEP_PROVISIONER, POL_EXT_PROVISIONER, "step-ca provisioner"),
	EXT(OID_CE_CRL_NUMBER, POL_EXT_CRL_NUMBER, "cRLNumber"),
	EXT(OID_CE_DELTA_CRL, POL_EXT_DELTA_CRL, "deltaCRLIndicator"),
	EXT(OID_CE_IDP, POL_EXT_IDP, "issuingDistributionPoint"),
	EXT(OID_CE_FRESHEST_CRL, POL_EXT_FRESHEST_CRL, "freshestCRL"),
	EXT(OID_CE_REASON_CODE, POL_EXT_REASON_CODE, "reasonCode"),
	EXT(OID_CE_INVALIDITY_DATE, POL_EXT_INVALIDITY_DATE, "invalidityDate"),
	EXT(OID_CE_CERT_ISSUER, POL_EXT_CERT_ISSUER, "certificateIssuer"),
	EXT(OID_OCSP_NONCE, POL_EXT_OCSP_NONCE, "OCSP nonce"),
	EXT(OID_CE_POLICY_CONSTRAINTS, POL_EXT_POLICY_CONSTRAINTS, "policyConstraints"),
	EXT(OID_CE_POLICY_MAPPINGS, POL_EXT_POLICY_MAPPINGS, "policyMappings"),
	EXT(OID_CE_INHIBIT_ANY_POLICY, POL_EXT_INHIBIT_ANY_POLICY, "inhibitAnyPolicy"),
#undef EXT
};

const char *pol_ext_name(enum pol_ext_id id)
{
	for (size_t i = 0; i < sizeof(ext_table) / sizeof(ext_table[0]); i++)
		if (ext_table[i].id == id)
			return ext_table[i].name;
	return "extension";
}

bool pol_parse_exts(struct der_cur *c, struct pol_exts *out, struct der_err *e)
{
	struct der_cur save = *c, seq;
	POL_ZERO(out);
	if (!der_get(c, DER_SEQUENCE, &seq, e))
		goto out;
	if (der_cur_empty(&seq)) {
		der_fail(e, DER_E_EMPTY, save.p);
		goto out;
	}
	while (!der_cur_empty(&seq)) {
		struct der_cur ext, oid, value;
		const uint8_t *at = seq.p;
		bool critical;
		if (!der_get(&seq, DER_SEQUENCE, &ext, e) || !der_get_oid(&ext, &oid, e) ||
		    !pol_get_default_false(&ext, DER_BOOLEAN, &critical, e) ||
		    !der_get_octet_string(&ext, &value, e) || !der_done(&ext, e))
			goto out;
		for (size_t i = 0; i < out->num; i++) {
			if (der_cur_eq(&out->ext[i].oid, &oid)) {
				der_fail(e, DER_E_DUPLICATE, at);
				goto out;
			}
		}
		if (out->num >= POL_MAX_EXTENSIONS) {
			der_fail(e, DER_E_COUNT, at);
			goto out;
		}
		struct pol_ext *x = &out->ext[out->num++];
		x->oid = oid;
		x->critical = critical;
		x->value = value;
		x->id = POL_EXT_OTHER;
		for (size_t i = 0; i < sizeof(ext_table) / sizeof(ext_table[0]); i++)
			if (der_cur_eq_bytes(&oid, ext_table[i].oid, ext_table[i].len))
				x->id = ext_table[i].id;
	}
	return true;
out:
	*c = save;
	POL_ZERO(out);
	return false;
}

bool pol_ext_single(struct der_cur value, struct der_cur *out, struct der_err *e)
{
	struct der_cur probe = value;
	*out = value;
	return der_skip_any(&probe, e) && der_done(&probe, e);
}

bool pol_parse_aki(struct der_cur value, struct der_cur *out_key_id, bool *out_issuer_serial,
		   struct der_err *e)
{
	struct der_cur seq, f;
	bool present, has_issuer, has_serial;
	der_cur_init(out_key_id, NULL, 0);
	*out_issuer_serial = false;
	if (!der_get(&value, DER_SEQUENCE, &seq, e) || !der_done(&value, e) ||
	    !der_get_optional(&seq, DER_CTX(0), out_key_id, &present, e) ||
	    !der_get_optional(&seq, DER_CTX_CONS(1), &f, &has_issuer, e))
		return false;
	if (has_issuer && !pol_parse_general_names(f, NULL, NULL, e))
		return false;
	if (!der_get_optional(&seq, DER_CTX(2), &f, &has_serial, e))
		return false;
	if (has_serial && (f.len == 0 || !der_int_is_minimal(&f)))
		return der_fail(e, DER_E_INT_NONMINIMAL, f.p);
	/* RFC 5280 §4.2.1.1: issuer and serial come together or not at all */
	if (has_issuer != has_serial)
		return der_fail(e, DER_E_VALUE, seq.p);
	*out_issuer_serial = has_issuer;
	return der_done(&seq, e);
}

bool pol_ext_seq(const struct pol_ext *x, struct der_cur *out_contents, struct der_err *e)
{
	struct der_cur v = x->value;
	return der_get(&v, DER_SEQUENCE, out_contents, e) && der_done(&v, e);
}

bool pol_ext_seq_of(const struct pol_ext *x, struct der_cur *out_contents, struct der_err *e)
{
	if (!pol_ext_seq(x, out_contents, e))
		return false;
	if (der_cur_empty(out_contents))
		return der_fail(e, DER_E_EMPTY, x->value.p);
	return true;
}

bool pol_ext_general_names(const struct pol_ext *x, pol_gn_cb cb, void *ctx, struct der_err *e)
{
	struct der_cur seq;
	return pol_ext_seq(x, &seq, e) && pol_parse_general_names(seq, cb, ctx, e);
}

void pol_ext_count_unknown(const struct pol_ext *x, size_t *num, size_t *num_critical)
{
	(*num)++;
	if (x->critical)
		(*num_critical)++;
}

bool pol_get_default_false(struct der_cur *c, uint8_t tag, bool *out_present, struct der_err *e)
{
	struct der_cur v;
	const uint8_t *at = c->p;
	if (!der_get_optional(c, tag, &v, out_present, e))
		return false;
	if (!*out_present)
		return true;
	*out_present = false;
	if (v.len != 1 || (v.p[0] != 0x00 && v.p[0] != 0xff))
		return der_fail(e, DER_E_BOOLEAN, at);
	if (v.p[0] != 0xff)
		return der_fail(e, DER_E_DEFAULT, at);
	*out_present = true;
	return true;
}
