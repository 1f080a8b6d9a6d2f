/*
 * policy.h - the policy engine's public contract: a strict DER cursor (der_) and the
 * facts of what the enclave is asked to sign (pol_).
 *
 * One public header for the component (house rule): the enclave, warden-admin, the
 * tests and the fuzz targets include only this.  The cursor is public because the
 * fact extractors hand out views (struct der_cur) into the caller's input and the
 * CRL iterator is driven by the caller.
 *
 * Everything here is a pure function: no I/O, no allocation, no global state.  Facts
 * hold views into the input, so the input must outlive them.  On failure every output
 * is zeroed and the struct der_err says why (a reason code), where (a byte offset into
 * the input) and in which part (a static field name).
 *
 * DER only.  Refused everywhere: indefinite lengths, non-minimal lengths, high tag
 * numbers, constructed/primitive mismatches, non-minimal INTEGERs, BOOLEANs other than
 * 00/FF, DEFAULT values encoded explicitly, unsorted SET OF, trailing bytes, times that
 * break RFC 5280 §4.1.2.5, nesting deeper than DER_MAX_DEPTH, inputs longer than
 * DER_MAX_INPUT.
 */
#ifndef WARDEN_POLICY_H
#define WARDEN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POL_MUST_CHECK __attribute__((warn_unused_result))

/* ===== DER cursor ================================================================= */

/* Largest input any parser accepts (the wire protocol's data bound). */
#define DER_MAX_INPUT (64u * 1024u * 1024u)
/* Deepest nesting der_validate accepts.  X.509 needs about 10. */
#define DER_MAX_DEPTH 24u
/* Longest long-form length field: 4 octets (DER_MAX_INPUT fits). */
#define DER_MAX_LEN_OCTETS 4u
/* Longest OID accepted, in content octets. */
#define DER_MAX_OID_LEN 64u
_Static_assert(DER_MAX_INPUT <= 0xffffffffu, "lengths fit DER_MAX_LEN_OCTETS octets");

/* Tag octets.  Tag numbers >= 31 are refused everywhere (X.509 has none). */
#define DER_CONSTRUCTED 0x20u
#define DER_CONTEXT 0x80u
#define DER_BOOLEAN 0x01u
#define DER_INTEGER 0x02u
#define DER_BIT_STRING 0x03u
#define DER_OCTET_STRING 0x04u
#define DER_NULL 0x05u
#define DER_OID 0x06u
#define DER_ENUMERATED 0x0au
#define DER_UTF8_STRING 0x0cu
#define DER_NUMERIC_STRING 0x12u
#define DER_PRINTABLE_STRING 0x13u
#define DER_T61_STRING 0x14u
#define DER_IA5_STRING 0x16u
#define DER_UTC_TIME 0x17u
#define DER_GENERALIZED_TIME 0x18u
#define DER_VISIBLE_STRING 0x1au
#define DER_UNIVERSAL_STRING 0x1cu
#define DER_BMP_STRING 0x1eu
#define DER_SEQUENCE 0x30u
#define DER_SET 0x31u
/* [n] primitive (IMPLICIT of a primitive type) and [n] constructed (EXPLICIT, or
 * IMPLICIT of a constructed type). */
#define DER_CTX(n) ((uint8_t)(DER_CONTEXT | (n)))
#define DER_CTX_CONS(n) ((uint8_t)(DER_CONTEXT | DER_CONSTRUCTED | (n)))

/* A view of bytes, and a read cursor over them.  A get that fails leaves the cursor
 * where it was and its outputs zeroed. */
struct der_cur {
	const uint8_t *p;
	size_t len;
};

/* Why a parse failed.  Stable numbers: they go into audit records. */
enum der_reason {
	DER_OK = 0,
	DER_E_TRUNCATED = 1,       /* element runs past the end of its container */
	DER_E_INDEFINITE = 2,      /* indefinite length (0x80) */
	DER_E_LEN_NONMINIMAL = 3,  /* long form below 128, or leading zero octets */
	DER_E_LEN_TOO_LONG = 4,    /* length field longer than DER_MAX_LEN_OCTETS, or 0xFF */
	DER_E_HIGH_TAG = 5,        /* tag number 31 form */
	DER_E_TAG = 6,             /* not the element the grammar expects here */
	DER_E_CONSTRUCTED = 7,     /* constructed where primitive is required, or reverse */
	DER_E_TRAILING = 8,        /* bytes left after the last element */
	DER_E_DEPTH = 9,           /* nesting deeper than DER_MAX_DEPTH */
	DER_E_SIZE = 10,           /* input larger than DER_MAX_INPUT */
	DER_E_INT_NONMINIMAL = 11, /* INTEGER with a redundant leading 00 or FF */
	DER_E_INT_EMPTY = 12,      /* INTEGER with no content octets */
	DER_E_INT_NEGATIVE = 13,   /* negative where the grammar needs >= 0 */
	DER_E_INT_RANGE = 14,      /* INTEGER too large for its field */
	DER_E_BOOLEAN = 15,        /* BOOLEAN not exactly 00 or FF */
	DER_E_NULL = 16,           /* NULL with content */
	DER_E_OID = 17,            /* empty, too long, or non-minimal sub-identifier */
	DER_E_BIT_STRING = 18,     /* unused-bit count > 7, non-zero unused bits, or padding */
	DER_E_TIME = 19,           /* time not YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ, or no such date */
	DER_E_TIME_TYPE = 20,      /* GeneralizedTime before 2050 where RFC 5280 wants UTCTime */
	DER_E_STRING = 21,         /* character outside the string type's set, or bad UTF-8 */
	DER_E_DEFAULT = 22,        /* a DEFAULT value encoded explicitly */
	DER_E_SET_ORDER = 23,      /* SET OF elements not in DER order */
	DER_E_EMPTY = 24,          /* SEQUENCE/SET OF SIZE (1..MAX) with no element */
	DER_E_COUNT = 25,          /* more elements than a named bound (POL_MAX_*) */
	DER_E_DUPLICATE = 26,      /* the same extension twice */
	DER_E_VERSION = 27,        /* version unknown, or fields the version does not allow */
	DER_E_ALG_PARAMS = 28,     /* parameters wrong for a recognised algorithm */
	DER_E_KEY = 29,            /* public key malformed for its algorithm */
	DER_E_VALUE = 30,          /* a value outside the grammar (IP length, reason code...) */
	DER_E_CT_POISON = 31,      /* CT poison not critical, or not NULL */
	DER_E_ARG = 32,            /* caller error: NULL pointer */
};
#define DER_REASON_MAX DER_E_ARG

/* A failure: the first one wins.  field is a static string naming the part being
 * parsed ("validity", "extension subjectAltName", ...), or NULL. */
struct der_err {
	enum der_reason reason;
	size_t offset;      /* byte offset into the input of the element at fault */
	const char *field;
	const uint8_t *base; /* start of the input, set by der_err_init */
};

void der_err_init(struct der_err *e, const uint8_t *base);
/* Records a failure at `at` unless one is already recorded.  Returns false. */
bool der_fail(struct der_err *e, enum der_reason reason, const uint8_t *at);
/* A short sentence for an operator, e.g. "indefinite length (BER, not DER)". */
const char *der_reason_str(enum der_reason reason);

void der_cur_init(struct der_cur *c, const uint8_t *p, size_t len);
/* Nothing left. */
bool der_cur_empty(const struct der_cur *c);
/* The cursor must be empty; DER_E_TRAILING otherwise. */
POL_MUST_CHECK bool der_done(const struct der_cur *c, struct der_err *e);
bool der_cur_eq(const struct der_cur *a, const struct der_cur *b);
bool der_cur_eq_bytes(const struct der_cur *a, const uint8_t *p, size_t len);

/* The tag octet of the next element, if there is one and it is not a high tag. */
bool der_peek_tag(const struct der_cur *c, uint8_t *out_tag);
/* Any element: its tag octet, whole TLV and header length.  Header checks only. */
POL_MUST_CHECK bool der_get_any(struct der_cur *c, uint8_t *out_tag, struct der_cur *out_tlv,
				size_t *out_hdr_len, struct der_err *e);
/* The next element must carry `tag`; out gets its contents.  A tag that differs only in
 * the constructed bit is DER_E_CONSTRUCTED, any other DER_E_TAG. */
POL_MUST_CHECK bool der_get(struct der_cur *c, uint8_t tag, struct der_cur *out,
			    struct der_err *e);
/* As der_get, but out gets the whole TLV and out_hdr_len (may be NULL) its header. */
POL_MUST_CHECK bool der_get_tlv(struct der_cur *c, uint8_t tag, struct der_cur *out,
				size_t *out_hdr_len, struct der_err *e);
/* An OPTIONAL element: absent (next tag differs, or nothing left) is success with
 * *out_present false. */
POL_MUST_CHECK bool der_get_optional(struct der_cur *c, uint8_t tag, struct der_cur *out,
				     bool *out_present, struct der_err *e);
/* Skips one element, whatever it is. */
POL_MUST_CHECK bool der_skip_any(struct der_cur *c, struct der_err *e);

/* INTEGER contents as given (two's complement, minimal); implicit_tag lets [n] IMPLICIT
 * INTEGER use the same checks (pass DER_INTEGER otherwise). */
POL_MUST_CHECK bool der_get_int_bytes(struct der_cur *c, uint8_t tag, struct der_cur *out,
				      struct der_err *e);
/* A non-negative INTEGER that fits 64 bits. */
POL_MUST_CHECK bool der_get_u64(struct der_cur *c, uint64_t *out, struct der_err *e);
/* ENUMERATED, non-negative, fits 64 bits. */
POL_MUST_CHECK bool der_get_enum(struct der_cur *c, uint64_t *out, struct der_err *e);
/* Checks INTEGER contents for minimal two's complement encoding. */
bool der_int_is_minimal(const struct der_cur *contents);
/* Contents of a minimal INTEGER: > 0, == 0, < 0. */
bool der_int_is_positive(const struct der_cur *contents);
bool der_int_is_negative(const struct der_cur *contents);
/* Magnitude of a non-negative INTEGER without its sign octet. */
struct der_cur der_int_magnitude(const struct der_cur *contents);

POL_MUST_CHECK bool der_get_bool(struct der_cur *c, bool *out, struct der_err *e);
POL_MUST_CHECK bool der_get_null(struct der_cur *c, struct der_err *e);
/* OID contents, checked: non-empty, <= DER_MAX_OID_LEN, minimal sub-identifiers. */
POL_MUST_CHECK bool der_get_oid(struct der_cur *c, struct der_cur *out, struct der_err *e);
bool der_oid_is_valid(const struct der_cur *contents);
/* Dotted text of an OID's contents into buf (always terminated); false if it does not
 * fit or is not a valid OID. */
bool der_oid_to_text(const struct der_cur *oid, char *buf, size_t buf_len);
/* BIT STRING: out gets the bit octets (without the unused-bits octet). Refuses unused
 * > 7, unused > 0 with no octets, and non-zero unused bits. */
POL_MUST_CHECK bool der_get_bit_string(struct der_cur *c, uint8_t tag, struct der_cur *out,
				       unsigned *out_unused, struct der_err *e);
/* A BIT STRING that holds whole octets (keys, signatures). */
POL_MUST_CHECK bool der_get_bit_string_octets(struct der_cur *c, struct der_cur *out,
					      struct der_err *e);
/* A named bit list (KeyUsage, ReasonFlags): DER also forbids trailing zero bits.
 * Bit 0 is the first named bit; out_bits gets bits 0..31. */
POL_MUST_CHECK bool der_get_named_bits(struct der_cur *c, uint8_t tag, uint32_t *out_bits,
				       struct der_err *e);
POL_MUST_CHECK bool der_get_octet_string(struct der_cur *c, struct der_cur *out,
					 struct der_err *e);

/* Time per RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY >= 50 is 19YY, else 20YY) or
 * GeneralizedTime YYYYMMDDHHMMSSZ for years >= 2050 only.  Seconds since the epoch. */
POL_MUST_CHECK bool der_get_time(struct der_cur *c, int64_t *out, struct der_err *e);
/* GeneralizedTime YYYYMMDDHHMMSSZ of any year (OCSP, invalidityDate); tag lets
 * [n] IMPLICIT use it (pass DER_GENERALIZED_TIME otherwise). */
POL_MUST_CHECK bool der_get_generalized_time(struct der_cur *c, uint8_t tag, int64_t *out,
					     struct der_err *e);
/* Pure conversions of the contents, for tests: false if malformed. */
bool der_parse_utc_time(const uint8_t *s, size_t len, int64_t *out);
bool der_parse_generalized_time(const uint8_t *s, size_t len, int64_t *out);

/* A character string of any X.520 / X.509 type: tag and contents.  PrintableString,
 * IA5String, VisibleString and NumericString are checked against their character
 * sets, UTF8String for well-formed UTF-8, BMPString and UniversalString for length. */
bool der_is_string_tag(uint8_t tag);
POL_MUST_CHECK bool der_get_string(struct der_cur *c, uint8_t *out_tag, struct der_cur *out,
				   struct der_err *e);
bool der_string_is_valid(uint8_t tag, const struct der_cur *contents);
/* An IA5String carried under any tag (dNSName, rfc822Name, URI). */
POL_MUST_CHECK bool der_get_ia5(struct der_cur *c, uint8_t tag, struct der_cur *out,
				struct der_err *e);

/* Walks arbitrary DER: every header strict, universal types' constructed bits right,
 * nesting bounded by max_depth (<= DER_MAX_DEPTH), the input exactly one element when
 * single is true (else a sequence of elements). */
POL_MUST_CHECK bool der_validate(const uint8_t *data, size_t len, unsigned max_depth, bool single,
				 struct der_err *e);

/* ===== Facts ====================================================================== */

enum pol_kind {
	POL_KIND_OTHER = 0,
	POL_KIND_TBS_CERT = 1,
	POL_KIND_TBS_CRL = 2,
	POL_KIND_OCSP_RESPONSE = 3, /* OCSP ResponseData */
};
const char *pol_kind_str(enum pol_kind kind);
/* By structure only (the tags of the outer SEQUENCE's elements); never fails. */
enum pol_kind pol_classify(const uint8_t *data, size_t len);

/* Bounds on what one structure may hold.  Beyond them: DER_E_COUNT. */
#define POL_MAX_NAME_ATTRS 32u   /* attributes in one Name */
#define POL_MAX_EXTENSIONS 40u   /* extensions of one certificate / CRL / response */
#define POL_MAX_SAN 256u         /* GeneralNames in subjectAltName */
#define POL_MAX_EKU 32u
#define POL_MAX_POLICIES 32u
#define POL_MAX_URIS 16u         /* per CRL DP / AIA method */
#define POL_MAX_KV 32u           /* provisioner keyValuePairs */
#define POL_MAX_OCSP_RESPONSES 32u
#define POL_MAX_CRL_ENTRIES 4000000u
#define POL_MAX_SERIAL_LEN 64u   /* well above RFC 5280's 20: the policy enforces 20 */

enum pol_hash {
	POL_HASH_UNKNOWN = 0,
	POL_HASH_SHA1,
	POL_HASH_SHA224,
	POL_HASH_SHA256,
	POL_HASH_SHA384,
	POL_HASH_SHA512,
};

enum pol_sigalg {
	POL_SIG_UNKNOWN = 0,
	POL_SIG_RSA_PKCS1_SHA256,
	POL_SIG_RSA_PKCS1_SHA384,
	POL_SIG_RSA_PKCS1_SHA512,
	POL_SIG_RSA_PSS,
	POL_SIG_ECDSA_SHA256,
	POL_SIG_ECDSA_SHA384,
	POL_SIG_ECDSA_SHA512,
	POL_SIG_ED25519,
};
const char *pol_sigalg_str(enum pol_sigalg alg);

/* A signature AlgorithmIdentifier.  Recognised algorithms have their parameters
 * checked: PKCS#1 NULL or absent (RFC 4055), ECDSA and Ed25519 absent (RFC 5758,
 * RFC 8410), PSS parsed (RFC 4055 §3.1). */
struct pol_algid {
	enum pol_sigalg alg;
	struct der_cur raw;    /* whole AlgorithmIdentifier TLV */
	struct der_cur oid;
	struct der_cur params; /* parameters TLV, empty when absent */
	bool params_null;      /* parameters present and NULL */
	enum pol_hash pss_hash;      /* PSS only */
	enum pol_hash pss_mgf1_hash;
	uint64_t pss_salt_len;
	uint64_t pss_trailer;
};

enum pol_attr_type {
	POL_ATTR_OTHER = 0,
	POL_ATTR_CN,
	POL_ATTR_C,
	POL_ATTR_O,
	POL_ATTR_OU,
	POL_ATTR_L,
	POL_ATTR_ST,
	POL_ATTR_SERIAL_NUMBER,
	POL_ATTR_EMAIL,
	POL_ATTR_DC,
	POL_ATTR_STREET,
};

struct pol_attr {
	enum pol_attr_type type;
	struct der_cur oid;
	uint8_t value_tag;     /* the string type (DER_UTF8_STRING, ...) or other tag */
	struct der_cur value;  /* contents */
	uint32_t rdn_index;    /* which RDN (multi-valued RDNs share one) */
};

struct pol_name {
	struct der_cur raw; /* whole Name TLV: compare byte for byte */
	size_t num_rdns;
	size_t num_attrs;
	struct pol_attr attrs[POL_MAX_NAME_ATTRS];
	size_t num_cn;      /* how many commonName attributes */
	struct der_cur cn;  /* the first commonName's contents, empty if none */
	uint8_t cn_tag;
};

enum pol_key_type {
	POL_KEY_OTHER = 0,
	POL_KEY_RSA,
	POL_KEY_EC,
	POL_KEY_ED25519,
	POL_KEY_ED448,
};

enum pol_curve {
	POL_CURVE_NONE = 0,
	POL_CURVE_P256,
	POL_CURVE_P384,
	POL_CURVE_P521,
	POL_CURVE_OTHER, /* another named curve (curve_oid), or explicit parameters */
};

struct pol_spki {
	struct der_cur raw;        /* whole SubjectPublicKeyInfo TLV */
	enum pol_key_type type;
	struct der_cur alg_oid;
	struct der_cur alg_params; /* parameters TLV, empty when absent */
	struct der_cur key;        /* subjectPublicKey bit-string octets */
	/* RSA (RFC 8017 RSAPublicKey) */
	struct der_cur rsa_modulus; /* magnitude, no leading zero */
	uint32_t rsa_bits;
	uint64_t rsa_exponent;      /* 0 when it does not fit 64 bits */
	struct der_cur rsa_exponent_bytes;
	/* EC */
	enum pol_curve curve;
	struct der_cur curve_oid;   /* empty for explicit parameters */
	bool ec_explicit_params;
	bool ec_compressed;
};

enum pol_gn_type {
	POL_GN_OTHER_NAME = 0,
	POL_GN_RFC822 = 1,
	POL_GN_DNS = 2,
	POL_GN_X400 = 3,
	POL_GN_DIRNAME = 4,
	POL_GN_EDI_PARTY = 5,
	POL_GN_URI = 6,
	POL_GN_IP = 7,
	POL_GN_RID = 8,
};

/* One GeneralName: value is the IA5 contents (rfc822Name, dNSName, URI), the 4 or 16
 * address octets (iPAddress), the OID contents (registeredID), or the whole TLV
 * (otherName, x400Address, directoryName, ediPartyName). */
struct pol_gn {
	enum pol_gn_type type;
	struct der_cur value;
};

enum pol_ext_id {
	POL_EXT_OTHER = 0,
	POL_EXT_SAN,
	POL_EXT_IAN,
	POL_EXT_BASIC_CONSTRAINTS,
	POL_EXT_KEY_USAGE,
	POL_EXT_EKU,
	POL_EXT_SKI,
	POL_EXT_AKI,
	POL_EXT_NAME_CONSTRAINTS,
	POL_EXT_CRL_DP,
	POL_EXT_AIA,
	POL_EXT_CERT_POLICIES,
	POL_EXT_CT_POISON,
	POL_EXT_SCT_LIST,
	POL_EXT_PROVISIONER,
	POL_EXT_CRL_NUMBER,
	POL_EXT_DELTA_CRL,
	POL_EXT_IDP,
	POL_EXT_FRESHEST_CRL,
	POL_EXT_REASON_CODE,
	POL_EXT_INVALIDITY_DATE,
	POL_EXT_CERT_ISSUER,
	POL_EXT_OCSP_NONCE,
	POL_EXT_POLICY_CONSTRAINTS,
	POL_EXT_POLICY_MAPPINGS,
	POL_EXT_INHIBIT_ANY_POLICY,
};

/* Every extension as it appears: known or not, with its criticality. */
struct pol_ext {
	enum pol_ext_id id;
	struct der_cur oid;
	bool critical;
	struct der_cur value; /* extnValue contents */
};

struct pol_exts {
	size_t num;
	struct pol_ext ext[POL_MAX_EXTENSIONS];
};

/* keyUsage bits (RFC 5280 §4.2.1.3 order). */
#define POL_KU_DIGITAL_SIGNATURE (1u << 0)
#define POL_KU_NON_REPUDIATION (1u << 1)
#define POL_KU_KEY_ENCIPHERMENT (1u << 2)
#define POL_KU_DATA_ENCIPHERMENT (1u << 3)
#define POL_KU_KEY_AGREEMENT (1u << 4)
#define POL_KU_KEY_CERT_SIGN (1u << 5)
#define POL_KU_CRL_SIGN (1u << 6)
#define POL_KU_ENCIPHER_ONLY (1u << 7)
#define POL_KU_DECIPHER_ONLY (1u << 8)

/* extKeyUsage purposes recognised (others are in eku[] only). */
#define POL_EKU_SERVER_AUTH (1u << 0)
#define POL_EKU_CLIENT_AUTH (1u << 1)
#define POL_EKU_CODE_SIGNING (1u << 2)
#define POL_EKU_EMAIL (1u << 3)
#define POL_EKU_TIME_STAMPING (1u << 4)
#define POL_EKU_OCSP_SIGNING (1u << 5)
#define POL_EKU_ANY (1u << 6)
#define POL_EKU_OTHER (1u << 7)

/* The step-ca provisioner extension (1.3.6.1.4.1.37476.9000.64.1). */
struct pol_provisioner {
	uint64_t type;
	struct der_cur name;          /* OCTET STRING contents */
	struct der_cur credential_id; /* OCTET STRING contents */
	size_t num_kv;
	struct {
		uint8_t tag;
		struct der_cur value;
	} kv[POL_MAX_KV];
};

struct pol_cert_facts {
	uint32_t version;             /* 1, 2 or 3 */
	struct der_cur serial;        /* INTEGER contents (two's complement, minimal) */
	bool serial_negative;
	bool serial_zero;
	struct pol_algid sig;
	struct pol_name issuer;
	int64_t not_before;
	int64_t not_after;
	struct pol_name subject;
	struct pol_spki spki;
	bool has_issuer_uid;          /* tolerated, flagged */
	bool has_subject_uid;

	struct pol_exts exts;         /* all extensions, in order */

	bool has_san;
	bool san_critical;
	size_t num_san;
	struct pol_gn san[POL_MAX_SAN];
	bool san_has_other_name;
	bool san_has_dirname;
	bool san_has_other_type;      /* x400Address, ediPartyName, registeredID */

	bool has_basic_constraints;
	bool bc_critical;
	bool bc_ca;
	bool bc_has_path_len;
	uint64_t bc_path_len;

	bool has_key_usage;
	bool ku_critical;
	uint32_t key_usage;           /* POL_KU_* */

	bool has_eku;
	bool eku_critical;
	uint32_t eku_flags;           /* POL_EKU_* */
	size_t num_eku;
	struct der_cur eku[POL_MAX_EKU];

	bool has_ski;
	struct der_cur ski;
	bool has_aki;
	struct der_cur aki_key_id;    /* empty when the AKI has no keyIdentifier */
	bool aki_has_issuer_serial;   /* authorityCertIssuer / SerialNumber present */

	bool has_name_constraints;
	bool nc_critical;
	struct der_cur name_constraints; /* extnValue contents */

	bool has_crl_dp;
	struct der_cur crl_dp;
	size_t num_crl_dp_uris;
	struct der_cur crl_dp_uris[POL_MAX_URIS];

	bool has_aia;
	struct der_cur aia;
	size_t num_ocsp_uris;
	struct der_cur ocsp_uris[POL_MAX_URIS];
	size_t num_ca_issuers_uris;
	struct der_cur ca_issuers_uris[POL_MAX_URIS];

	bool has_policies;
	size_t num_policies;
	struct der_cur policies[POL_MAX_POLICIES];

	bool has_ct_poison;
	bool has_sct_list;
	struct der_cur sct_list;      /* the TLS-encoded SignedCertificateTimestampList */

	bool has_provisioner;
	struct pol_provisioner provisioner;

	size_t num_unknown_ext;       /* extensions with id POL_EXT_OTHER */
	size_t num_unknown_critical;
};

/* TBSCertificate (RFC 5280 §4.1) -> facts.  Extensions are checked against their own
 * grammars; unknown ones are kept (policy decides), duplicates refused. */
POL_MUST_CHECK bool pol_cert_facts(const uint8_t *data, size_t len, struct pol_cert_facts *out,
				   struct der_err *err);

/* --- TBSCertList (RFC 5280 §5.1) ---------------------------------------------------- */

enum pol_crl_reason {
	POL_CRL_REASON_NONE = -1, /* no reasonCode entry extension */
	/* otherwise the CRLReason value 0..10 (7 is unused and refused) */
};

/* IssuingDistributionPoint flags. */
#define POL_IDP_DIST_POINT (1u << 0)
#define POL_IDP_ONLY_USER (1u << 1)
#define POL_IDP_ONLY_CA (1u << 2)
#define POL_IDP_ONLY_SOME_REASONS (1u << 3)
#define POL_IDP_INDIRECT (1u << 4)
#define POL_IDP_ONLY_ATTR (1u << 5)

struct pol_crl_facts {
	uint32_t version;         /* 1 (absent) or 2 */
	struct pol_algid sig;
	struct pol_name issuer;
	int64_t this_update;
	bool has_next_update;
	int64_t next_update;
	size_t num_revoked;
	struct der_cur revoked;   /* contents of revokedCertificates, for pol_crl_iter */
	bool any_cert_issuer;     /* some entry has certificateIssuer (indirect CRL) */
	struct pol_exts exts;
	bool has_crl_number;
	struct der_cur crl_number; /* INTEGER contents; checked 0 <= n < 2^159 */
	bool has_delta;
	struct der_cur delta_base; /* deltaCRLIndicator BaseCRLNumber contents */
	bool has_idp;
	bool idp_critical;
	struct der_cur idp;       /* extnValue contents */
	uint32_t idp_flags;       /* POL_IDP_* */
	bool has_aki;
	struct der_cur aki_key_id;
	size_t num_unknown_ext;
	size_t num_unknown_critical;
};

struct pol_crl_entry {
	struct der_cur serial;    /* INTEGER contents */
	int64_t revocation_date;
	int reason;               /* enum pol_crl_reason or 0..10 */
	bool has_invalidity_date;
	int64_t invalidity_date;
	bool has_cert_issuer;     /* flagged: indirect CRL */
	size_t num_other_ext;
	bool other_critical;
};

/* Revoked entries are not stored in the facts (CRLs of 100k entries exist): the facts
 * validate them all and count them; an iterator walks them again on demand. */
struct pol_crl_iter {
	struct der_cur rest;
	struct der_err *err;
};

POL_MUST_CHECK bool pol_crl_facts(const uint8_t *data, size_t len, struct pol_crl_facts *out,
				  struct der_err *err);
void pol_crl_iter_init(struct pol_crl_iter *it, const struct pol_crl_facts *facts,
		       struct der_err *err);
/* Next entry: true with *out filled, false at the end (err->reason DER_OK) or on a
 * malformed entry (err set; cannot happen after pol_crl_facts succeeded). */
POL_MUST_CHECK bool pol_crl_iter_next(struct pol_crl_iter *it, struct pol_crl_entry *out);

/* --- OCSP ResponseData (RFC 6960 §4.2.1) --------------------------------------------- */

enum pol_ocsp_status {
	POL_OCSP_GOOD = 0,
	POL_OCSP_REVOKED = 1,
	POL_OCSP_UNKNOWN = 2,
};

struct pol_ocsp_single {
	enum pol_hash hash;        /* CertID hashAlgorithm */
	struct der_cur hash_oid;
	struct der_cur issuer_name_hash;
	struct der_cur issuer_key_hash;
	struct der_cur serial;     /* INTEGER contents */
	enum pol_ocsp_status status;
	int64_t revocation_time;
	int reason;                /* -1 when absent, else 0..10 */
	int64_t this_update;
	bool has_next_update;
	int64_t next_update;
	size_t num_single_ext;
	bool single_ext_critical;
};

struct pol_ocsp_facts {
	uint32_t version;          /* 1 */
	bool responder_by_key;
	struct der_cur responder_name; /* byName: whole Name TLV */
	struct der_cur responder_key_hash; /* byKey: the SHA-1 of the responder key */
	int64_t produced_at;
	size_t num_responses;
	struct pol_ocsp_single responses[POL_MAX_OCSP_RESPONSES];
	struct pol_exts exts;
	bool has_nonce;
	struct der_cur nonce;      /* extnValue contents (an OCTET STRING TLV per RFC 8954) */
	size_t num_unknown_ext;
	size_t num_unknown_critical;
};

POL_MUST_CHECK bool pol_ocsp_facts(const uint8_t *data, size_t len, struct pol_ocsp_facts *out,
				   struct der_err *err);


/* ===== Policy: the file, the decision, the state ==================================== *
 *
 * How the enclave uses it (one lock held over evaluate + audit + commit):
 *
 *   before the sandbox:  pol_psl_load(NULL, &psl);              (I/O: reads the PSL)
 *                        pol_policy_load(bytes, len, &pol, &err); (pure; hash = SHA-256)
 *                        pol_state_new(NULL, psl, &state);
 *                        for each allowed record of the audit log: pol_state_apply(state, &s);
 *   for every SIGN:      pol_evaluate(pol, state, &ca, &req, now_ns, dec);  (state untouched)
 *                        append the audit record (dec->summary, reason, sentence), make it
 *                        durable;  if (dec->allowed) pol_state_commit(state, dec);  sign.
 *   SIGHUP:              pol_policy_load the new file; on success swap and free the old one
 *                        (the state is kept: buckets and serials outlive policies).
 *
 * A policy is immutable after loading and may be shared by threads.  The state is not
 * thread-safe: the caller serialises evaluate/commit/apply on one state.  Nothing here does
 * I/O except pol_psl_load.  See docs/policy.md for the file format. */

/* Bounds of a policy file; beyond them the loader refuses it. */
#define POL_POLICY_MAX_BYTES (1024u * 1024u)
#define POL_MAX_PROFILES 64u
#define POL_MAX_SIGNING_KEYS 64u
#define POL_MAX_RULES 1024u     /* entries in one allow or deny list */
#define POL_MAX_OIDS 32u        /* entries in an OID/EKU/critical-extension list */
#define POL_NAME_MAX 65u        /* profile names and key labels: 1..64 bytes + NUL */
#define POL_PATH_MAX 256u       /* JSON path in a load error */
#define POL_MSG_MAX 384u        /* load error message */
#define POL_SENTENCE_MAX 640u   /* the operator sentence of a decision */
#define POL_HASH_LEN 32u        /* SHA-256 of the policy bytes */
#define POL_HASH_HEX_LEN (2u * POL_HASH_LEN + 1u)
#define POL_RFC_SERIAL_MAX 20u  /* RFC 5280 §4.1.2.2 */
#define POL_MAX_CHARGES 32u     /* rate-limit buckets one decision may charge */
#define POL_BUCKET_ID_LEN 16u   /* truncated SHA-256 of (dimension, key) */
#define POL_SUMMARY_TEXT_MAX 512u /* subject / SAN text in a summary (truncated "...") */
#define POL_MAX_DURATION_S (100LL * 366LL * 86400LL) /* longest duration in a policy */
#define POL_MAX_RATE_COUNT 1000000000ull

/* Why the loader refused a file: path like "profiles.web.names.allow.dns[2]" ("" for the
 * document itself), a sentence, and for JSON syntax errors the line and column. */
struct pol_load_error {
	char path[POL_PATH_MAX];
	char msg[POL_MSG_MAX];
	int line;   /* 0 unless a JSON syntax error */
	int column;
};

struct pol_policy;
/* Fetches the digests the engine uses, so that later calls need no algorithm lookup
 * (and none happens inside a sandbox).  Optional and idempotent: the first use does it
 * otherwise.  False if OpenSSL offers none of them (the engine then falls back to the
 * one-shot functions). */
bool pol_crypto_init(void);
/* Validates and compiles a policy file (json: len bytes, need not be NUL-terminated).
 * Unknown keys, wrong types, duplicate keys, bad names/CIDRs/durations are all refused
 * with their JSON path.  *out NULL on failure.  Pure: no I/O. */
POL_MUST_CHECK bool pol_policy_load(const char *json, size_t len, struct pol_policy **out,
				    struct pol_load_error *err);
void pol_policy_free(struct pol_policy *p);
/* SHA-256 of the exact bytes loaded (POL_HASH_LEN bytes), and its lower-case hex. */
const uint8_t *pol_policy_hash(const struct pol_policy *p);
const char *pol_policy_hash_hex(const struct pol_policy *p);
/* A key's signingKeys entry (or "*"): 1 prehashed "audit", 0 "deny", -1 no entry (every
 * request by that key is refused key.unknown).  The enclave derives the mechanisms a key
 * advertises from it. */
int pol_policy_key_prehashed(const struct pol_policy *p, const char *label);
size_t pol_policy_num_profiles(const struct pol_policy *p);
const char *pol_policy_profile_name(const struct pol_policy *p, size_t i);

/* The public suffix list, for registered domains (eTLD+1).  path NULL tries
 * POL_PSL_DAFSA then POL_PSL_DAT.  I/O: call before the sandbox. */
#define POL_PSL_DAFSA "/usr/share/publicsuffix/public_suffix_list.dafsa"
#define POL_PSL_DAT "/usr/share/publicsuffix/public_suffix_list.dat"
struct pol_psl;
POL_MUST_CHECK bool pol_psl_load(const char *path, struct pol_psl **out);
void pol_psl_free(struct pol_psl *psl);
/* The registered domain of a lower-case host name into out (cap bytes): with no list
 * (psl NULL) the last two labels.  False if host is itself a public suffix or too long. */
bool pol_registered_domain(const struct pol_psl *psl, const char *host, char *out, size_t cap);

/* PKCS#11 mechanism and MGF numbers the engine knows (same values as pkcs11.h; the
 * tests assert it), so the engine needs no PKCS#11 header. */
#define POL_CKM_RSA_PKCS 0x00000001ul
#define POL_CKM_RSA_PKCS_PSS 0x0000000dul
#define POL_CKM_SHA256_RSA_PKCS 0x00000040ul
#define POL_CKM_SHA384_RSA_PKCS 0x00000041ul
#define POL_CKM_SHA512_RSA_PKCS 0x00000042ul
#define POL_CKM_SHA256_RSA_PKCS_PSS 0x00000043ul
#define POL_CKM_SHA384_RSA_PKCS_PSS 0x00000044ul
#define POL_CKM_SHA512_RSA_PKCS_PSS 0x00000045ul
#define POL_CKM_SHA_1 0x00000220ul
#define POL_CKM_SHA224 0x00000255ul
#define POL_CKM_SHA256 0x00000250ul
#define POL_CKM_SHA384 0x00000260ul
#define POL_CKM_SHA512 0x00000270ul
#define POL_CKM_ECDSA 0x00001041ul
#define POL_CKM_ECDSA_SHA256 0x00001044ul
#define POL_CKM_ECDSA_SHA384 0x00001045ul
#define POL_CKM_ECDSA_SHA512 0x00001046ul
#define POL_CKM_EDDSA 0x00001057ul
#define POL_CKG_MGF1_SHA1 0x1ul
#define POL_CKG_MGF1_SHA256 0x2ul
#define POL_CKG_MGF1_SHA384 0x3ul
#define POL_CKG_MGF1_SHA512 0x4ul
#define POL_CKG_MGF1_SHA224 0x5ul
/* Parses "CKM_SHA256_RSA_PKCS" (or without the prefix, any case); false if unknown. */
bool pol_mechanism_from_name(const char *name, unsigned long *out);
const char *pol_mechanism_name(unsigned long mech);

/* What the enclave knows about the signing key.  Views must outlive the call. */
struct pol_ca_info {
	const char *label;          /* the key label (signingKeys entry) */
	enum pol_key_type key_type;
	enum pol_curve curve;       /* EC only */
	uint32_t rsa_bits;          /* RSA only */
	const uint8_t *spki_der;    /* the key's SubjectPublicKeyInfo */
	size_t spki_len;
	bool has_cert;              /* false: no CA certificate (then no TBS is signed) */
	const uint8_t *subject_der; /* the CA certificate's subject Name TLV */
	size_t subject_len;
	const uint8_t *ski;         /* its subjectKeyIdentifier, NULL/0 when absent */
	size_t ski_len;
	int64_t not_after;          /* its notAfter, seconds since the epoch */
};

/* Whether pol_evaluate can ever allow mechanism with this key: it fits the key type, a
 * full-data ECDSA names the hash that pairs with the curve (P-256/SHA-256, P-384/SHA-384,
 * P-521/SHA-512), and a raw mechanism only under prehashed "audit".  The enclave
 * advertises exactly these (HELLO), so clients choose from what can be signed. */
bool pol_mechanism_usable(const struct pol_ca_info *ca, unsigned long mechanism,
			  bool prehashed_audit);

/* One SIGN request. */
struct pol_request {
	const char *key_label;      /* must equal ca->label (NULL: take ca->label) */
	unsigned long mechanism;    /* CK_MECHANISM_TYPE */
	bool has_pss;
	unsigned long pss_hash;     /* CK_RSA_PKCS_PSS_PARAMS: hashAlg, mgf, sLen */
	unsigned long pss_mgf;
	unsigned long pss_salt_len;
	const uint8_t *data;
	size_t len;
	bool prehashed;             /* a raw mechanism: data is a digest / DigestInfo */
	uint32_t peer_uid;
	int32_t peer_pid;
};

/* Stable reason codes: numbers and names go into audit records; never renumber. */
enum pol_reason {
	POL_R_OK = 0,
	POL_R_PREHASHED_AUDIT = 1,   /* allowed: raw digest under prehashed "audit" */
	POL_R_INTERNAL = 2,
	POL_R_KEY_UNKNOWN = 3,
	POL_R_KIND_NOT_ALLOWED = 4,
	POL_R_PREHASHED_DENIED = 5,
	POL_R_MECHANISM = 6,
	POL_R_MECH_PARAMS = 7,
	POL_R_PARSE = 8,
	POL_R_SIG_ALG_MISMATCH = 9,
	POL_R_SIG_PSS_PARAMS = 10,
	POL_R_ISSUER_MISMATCH = 11,
	POL_R_CA_NO_CERT = 12,
	POL_R_NO_PROFILE = 13,
	POL_R_VERSION = 14,
	POL_R_DNS_INVALID = 20,
	POL_R_DNS_WILDCARD = 21,
	POL_R_DNS_DENIED = 22,
	POL_R_DNS_NOT_ALLOWED = 23,
	POL_R_IP_DENIED = 24,
	POL_R_IP_NOT_ALLOWED = 25,
	POL_R_EMAIL_INVALID = 26,
	POL_R_EMAIL_DENIED = 27,
	POL_R_EMAIL_NOT_ALLOWED = 28,
	POL_R_URI_INVALID = 29,
	POL_R_URI_DENIED = 30,
	POL_R_URI_NOT_ALLOWED = 31,
	POL_R_CN_DENIED = 32,
	POL_R_CN_NOT_ALLOWED = 33,
	POL_R_CN_NOT_IN_SAN = 34,
	POL_R_CN_INVALID = 35,
	POL_R_SAN_MISSING = 36,
	POL_R_SAN_UNSUPPORTED = 37,
	POL_R_VALIDITY_FUTURE = 40,
	POL_R_VALIDITY_BACKDATED = 41,
	POL_R_VALIDITY_TOO_LONG = 42,
	POL_R_VALIDITY_INVERTED = 43,
	POL_R_VALIDITY_BEYOND_CA = 44,
	POL_R_KEY_ALGORITHM = 50,
	POL_R_KEY_RSA_SIZE = 51,
	POL_R_KEY_RSA_EXPONENT = 52,
	POL_R_KEY_CURVE = 53,
	POL_R_KEY_IS_CA_KEY = 54,
	POL_R_EXT_CA = 60,
	POL_R_EXT_PATH_LEN = 61,
	POL_R_EXT_KU_NOT_ALLOWED = 62,
	POL_R_EXT_KU_MISSING = 63,
	POL_R_EXT_EKU_NOT_ALLOWED = 64,
	POL_R_EXT_EKU_MISSING = 65,
	POL_R_EXT_CRITICAL = 66,
	POL_R_EXT_SKI_MISSING = 67,
	POL_R_EXT_AKI_MISMATCH = 68,
	POL_R_SERIAL_NOT_POSITIVE = 70,
	POL_R_SERIAL_TOO_LONG = 71,
	POL_R_SERIAL_TOO_SHORT = 72,
	POL_R_SERIAL_REUSED = 73,
	POL_R_RATE_KEY = 80,
	POL_R_RATE_PROFILE = 81,
	POL_R_RATE_PROVISIONER = 82,
	POL_R_RATE_DOMAIN = 83,
	POL_R_RATE_SAN_SET = 84,
	POL_R_RATE_PREHASHED = 85,
	POL_R_RATE_TOO_MANY = 86,
	POL_R_STATE_FULL = 87,
	/* CRLs (TBSCertList) */
	POL_R_CRL_NUMBER_MISSING = 100,   /* no cRLNumber, or a v1 list */
	POL_R_CRL_NUMBER_NOT_INCREASING = 101, /* <= the last number this key signed in the scope */
	POL_R_CRL_THIS_UPDATE = 102,      /* thisUpdate not within clockSkew of now */
	POL_R_CRL_NEXT_UPDATE = 103,      /* nextUpdate absent, not after thisUpdate, or too far */
	POL_R_CRL_UNREVOKED = 104,        /* a revocation the key signed before is missing */
	POL_R_REVOCATION_CHANGED = 105,   /* revocation date or reason differs from the record */
	POL_R_REVOCATION_DATE = 106,      /* revocation date after thisUpdate */
	POL_R_CRL_NOT_ISSUED = 107,       /* requireIssuedSerials: a serial this key never issued */
	POL_R_CRL_DELTA_BASE = 108,       /* delta: base is not a complete CRL of the scope */
	POL_R_CRL_DELTA_INCOMPLETE = 109, /* delta: misses a revocation newer than its base */
	POL_R_CRL_DELTA_DENIED = 110,     /* delta CRLs not allowed for this key */
	POL_R_CRL_IDP = 111,              /* IDP not critical, indirect, or attribute-only */
	POL_R_CRL_INDIRECT = 112,         /* an entry with certificateIssuer */
	POL_R_CRL_ENTRY = 113,            /* entry serial, removeFromCRL, duplicate, critical ext */
	POL_R_CRL_EXT_CRITICAL = 114,     /* an unknown critical CRL extension */
	POL_R_REVOCATION_TOO_MANY = 115,  /* more than POL_MAX_NEW_REVOCATIONS new revocations */
	POL_R_REVOCATION_STATE_FULL = 116,/* revocation / scope / responder tables full */
	/* OCSP (ResponseData) */
	POL_R_OCSP_RESPONDER = 120,       /* ResponderID is not the signing key */
	POL_R_OCSP_CERT_ID = 121,         /* CertID hash algorithm or issuer hashes wrong */
	POL_R_OCSP_GOOD_NOT_ISSUED = 122, /* "good" for a serial this key never issued */
	POL_R_OCSP_GOOD_EXPIRED = 123,    /* "good" for an expired certificate */
	POL_R_OCSP_GOOD_REVOKED = 124,    /* "good" for a revoked serial */
	POL_R_OCSP_THIS_UPDATE = 125,     /* thisUpdate not within clockSkew of now */
	POL_R_OCSP_VALIDITY = 126,        /* nextUpdate absent or nextUpdate - thisUpdate out of range */
	POL_R_OCSP_PRODUCED_AT = 127,     /* producedAt not within clockSkew of now */
	POL_R_OCSP_NONCE = 128,           /* nonce required and absent, or forbidden and present */
	POL_R_OCSP_EXTENSION = 129,       /* an unknown critical response or single extension */
	POL_R_OCSP_SERIAL = 130,          /* a revoked serial that is not a positive <= 20-octet INTEGER */
	POL_R_OCSP_EMPTY = 131,           /* no SingleResponse */
	/* Refused by the enclave before the policy is consulted (never by pol_evaluate);
	 * recorded like any refusal.  So are POL_R_KEY_UNKNOWN (a key id that names no
	 * key) and POL_R_MECHANISM (a mechanism that does not fit the key). */
	POL_R_NOT_LOGGED_IN = 140,        /* no ticket, or one this enclave never issued */
	POL_R_DATA_TOO_LONG = 141,        /* data longer than the enclave's max_data_len */
};
#define POL_R_MAX POL_R_DATA_TOO_LONG
/* "name.dns.not_allowed", ...; "unknown" for a number not in the enum. */
const char *pol_reason_name(enum pol_reason r);

/* Rate-limit dimensions (stable numbers, in summaries). */
enum pol_rate_dim {
	POL_RATE_KEY = 0,
	POL_RATE_PROFILE = 1,
	POL_RATE_PROVISIONER = 2,
	POL_RATE_DOMAIN = 3,      /* per registered domain (eTLD+1) */
	POL_RATE_SAN_SET = 4,     /* per exact set of SANs */
	POL_RATE_PREHASHED = 5,   /* raw-digest signatures per key */
	POL_RATE_NUM = 6,
};
const char *pol_rate_dim_name(enum pol_rate_dim d);

/* A GCRA limit: `count` per `period_ns` on average, at most `burst` at once.  count 0 is
 * "no limit". */
struct pol_rate {
	uint64_t count;
	int64_t period_ns;
	uint64_t burst;
};

/* One bucket a decision charges. */
struct pol_charge {
	uint32_t dim;                        /* enum pol_rate_dim */
	uint8_t bucket[POL_BUCKET_ID_LEN];   /* SHA-256(dim, key label, bucket key)[0..16) */
	struct pol_rate rate;
};

/* ----- Revocation facts carried by summaries (issue 5) --------------------------------
 * A CRL or OCSP decision records the revocations that are NEW to the state: a serial the
 * key never revoked before, or (partitioned CRL scopes) a known revocation seen for the
 * first time on a CRL of this scope.  A CRL of 100k entries whose entries are all known
 * records none.  The first POL_SUMMARY_MAX_REVOCATIONS of them are inline in the summary;
 * all of them (num_revocations, at most POL_MAX_NEW_REVOCATIONS, else the CRL is refused
 * with revocation.too_many_new) are walked with pol_revocations_begin/next. */
#define POL_SCOPE_ID_LEN 16u             /* SHA-256(IDP extnValue)[0..16) */
#define POL_CRL_NUMBER_MAX_LEN 20u        /* 0 <= n < 2^159: at most 20 content octets */
#define POL_SUMMARY_MAX_REVOCATIONS 64u   /* inline in a summary (>= POL_MAX_OCSP_RESPONSES) */
#define POL_MAX_NEW_REVOCATIONS 100000u   /* per CRL; each is <= 38 bytes in an audit record */
#define POL_OCSP_KEY_HASH_LEN 20u         /* SHA-1 of a subjectPublicKey */
#define POL_SHA256_LEN 32u
_Static_assert(POL_SUMMARY_MAX_REVOCATIONS >= POL_MAX_OCSP_RESPONSES,
	       "an OCSP response's revocations always fit inline");

enum pol_rev_source {
	POL_REV_SRC_CRL = 1,
	POL_REV_SRC_OCSP = 2,
};

/* One revocation: plain data.  reason is -1 for "none or unspecified" (a CRL entry without
 * reasonCode, reasonCode unspecified(0), or an OCSP revocationReason absent or 0 all compare
 * equal), else the CRLReason 1..10 (never 7 or 8: removeFromCRL is refused). */
struct pol_revocation {
	uint8_t serial[POL_RFC_SERIAL_MAX]; /* INTEGER contents as in the CRL / CertID */
	uint8_t serial_len;                 /* 1..20 */
	int8_t reason;
	uint8_t source;                     /* enum pol_rev_source */
	uint8_t reserved;                   /* 0 */
	int64_t time;                       /* revocation date, seconds since the epoch */
};

/* A revocation as bytes for the audit record (one BYTES field each, POL_REVOCATION_WIRE_MAX
 * bytes at most): serial_len(1) | serial | time (8, big-endian two's complement) |
 * reason (1, two's complement) | source (1).  decode refuses anything else. */
#define POL_REVOCATION_WIRE_MAX (1u + POL_RFC_SERIAL_MAX + 8u + 1u + 1u)
size_t pol_revocation_encode(const struct pol_revocation *r, uint8_t out[POL_REVOCATION_WIRE_MAX]);
POL_MUST_CHECK bool pol_revocation_decode(const uint8_t *p, size_t len, struct pol_revocation *out);

/* What a decision records and what replay needs: plain data (no pointers), so the audit
 * record can carry it and pol_state_apply can rebuild the state from it.  Strings are
 * NUL-terminated UTF-8/ASCII; texts longer than their field end in "...". */
struct pol_summary {
	uint32_t kind;                       /* enum pol_kind */
	bool allowed;
	uint32_t reason;                     /* enum pol_reason */
	bool prehashed;
	int64_t time_ns;                     /* the `now` of the evaluation */
	char key_label[POL_NAME_MAX];
	char profile[POL_NAME_MAX];          /* "" when no profile applied */
	uint8_t serial[POL_RFC_SERIAL_MAX];  /* certificate serial INTEGER contents */
	uint32_t serial_len;                 /* 0: none (not a certificate, or > 20 octets) */
	char serial_hex[2 * POL_RFC_SERIAL_MAX + 1];
	int64_t not_before;                  /* certificate validity (0 when none) */
	int64_t not_after;
	char subject[POL_SUMMARY_TEXT_MAX];
	char sans[POL_SUMMARY_TEXT_MAX];     /* "DNS:a.example, IP:10.0.0.1, ..." */
	char provisioner[POL_NAME_MAX + 16]; /* "6/acme" (type/name), "" if none */
	uint32_t peer_uid;
	int32_t peer_pid;
	uint32_t num_charges;
	struct pol_charge charges[POL_MAX_CHARGES];

	/* --- issue 5.  For a CRL / OCSP refusal, serial / serial_hex above name the entry at
	 * fault (when there is one); for an allowed CRL / OCSP decision serial_len is 0. --- */
	/* A certificate that carries id-kp-OCSPSigning: the delegated responder it makes.
	 * The key hash is SHA-1 of the certified subjectPublicKey (the ResponderID byKey);
	 * the issuer hashes are the issuing CA's CertID hashes (name, key) in SHA-1 and
	 * SHA-256, so responses signed by that responder key can be checked. */
	bool ocsp_signer;
	uint8_t ocsp_signer_key_sha1[POL_OCSP_KEY_HASH_LEN];
	uint8_t ocsp_issuer_name_sha1[POL_OCSP_KEY_HASH_LEN];
	uint8_t ocsp_issuer_key_sha1[POL_OCSP_KEY_HASH_LEN];
	uint8_t ocsp_issuer_name_sha256[POL_SHA256_LEN];
	uint8_t ocsp_issuer_key_sha256[POL_SHA256_LEN];
	/* OCSP signed by a delegated responder key: the label of the key that certified it,
	 * whose revocations the response speaks for ("" otherwise: key_label's own) */
	char ocsp_issuer_label[POL_NAME_MAX];
	/* CRL */
	uint8_t crl_number[POL_CRL_NUMBER_MAX_LEN]; /* INTEGER contents */
	uint32_t crl_number_len;                    /* 0: none */
	bool crl_delta;
	uint8_t crl_base[POL_CRL_NUMBER_MAX_LEN];   /* delta: BaseCRLNumber contents */
	uint32_t crl_base_len;
	bool crl_scope_full;                        /* no IDP: the full CRL */
	uint8_t crl_scope[POL_SCOPE_ID_LEN];        /* IDP scope id (zero when full) */
	/* CRL or OCSP: validity (OCSP: of the first SingleResponse) and entry count */
	int64_t this_update;
	int64_t next_update;
	uint32_t num_entries;                       /* CRL entries / SingleResponses */
	/* the revocations new to the state (see above) */
	uint32_t num_revocations;
	struct pol_revocation revocations[POL_SUMMARY_MAX_REVOCATIONS];
};

/* A summary as bytes, for the audit record (field pol_summary) and replay: versioned,
 * bounded, self-contained (the inline revocations included; a CRL's further ones are in
 * the record's revocation fields).  encode: the length written, 0 if it does not fit cap
 * or the summary breaks its own bounds.  decode: strict (unknown version, lengths beyond
 * a field, booleans other than 0/1, trailing bytes all refused); *out zeroed on failure.
 * The format is in pol_summary.c. */
#define POL_SUMMARY_VERSION 1u
#define POL_SUMMARY_WIRE_MAX                                                                 \
	(16u + 2u * (1u + POL_NAME_MAX) + (1u + POL_RFC_SERIAL_MAX) +                        \
	 (1u + 2u * POL_RFC_SERIAL_MAX + 1u) + 16u + 2u * (2u + POL_SUMMARY_TEXT_MAX) +      \
	 (1u + POL_NAME_MAX + 16u) + 8u + 1u + POL_MAX_CHARGES * (1u + POL_BUCKET_ID_LEN + 24u) + \
	 1u + 3u * POL_OCSP_KEY_HASH_LEN + 2u * POL_SHA256_LEN + (1u + POL_NAME_MAX) +        \
	 2u * (1u + POL_CRL_NUMBER_MAX_LEN) + 2u + POL_SCOPE_ID_LEN + 24u + 1u +             \
	 POL_SUMMARY_MAX_REVOCATIONS * (1u + POL_REVOCATION_WIRE_MAX))
size_t pol_summary_encode(const struct pol_summary *s, uint8_t *out, size_t cap);
POL_MUST_CHECK bool pol_summary_decode(const uint8_t *p, size_t len, struct pol_summary *out);

/* The outcome.  facts hold views into req->data: valid while that lives. */
struct pol_decision {
	bool allowed;
	enum pol_reason reason;
	char sentence[POL_SENTENCE_MAX];
	char profile[POL_NAME_MAX];
	struct pol_summary summary;
	struct der_err der_err;              /* when reason == POL_R_PARSE */
	union {
		struct pol_cert_facts cert;
		struct pol_crl_facts crl;
		struct pol_ocsp_facts ocsp;
	} facts;
};

/* In-memory state: issued serials per key (with notAfter) and GCRA buckets.  Memory is
 * bounded by the limits: about 48 bytes per serial slot and 64 per bucket slot, with
 * twice as many slots as entries.  When full, expired serials (notAfter < now) and idle
 * buckets are dropped; if that frees nothing, decisions are refused (POL_R_STATE_FULL). */
#define POL_STATE_DEFAULT_MAX_SERIALS (256u * 1024u)
#define POL_STATE_DEFAULT_MAX_BUCKETS (64u * 1024u)
#define POL_STATE_MAX_ENTRIES (16u * 1024u * 1024u)
/* Revocations (issue 5): ~88 bytes each plus an 8-byte index slot pair.  Expired ones
 * (notAfter known and passed) are dropped when full; unknown notAfter is kept forever. */
#define POL_STATE_DEFAULT_MAX_REVOCATIONS (1024u * 1024u)
#define POL_STATE_MAX_CRL_SCOPES 64u        /* (key, CRL scope) pairs, never dropped */
#define POL_STATE_MAX_RESPONDERS 256u       /* delegated OCSP responders; expired dropped */
#define POL_CRL_BASES_KEPT 4u               /* complete CRLs a delta may name, per scope */
struct pol_state_limits { /* each 0: its default */
	uint32_t max_serials;       /* 0: POL_STATE_DEFAULT_MAX_SERIALS */
	uint32_t max_buckets;       /* 0: POL_STATE_DEFAULT_MAX_BUCKETS */
	uint32_t max_revocations;   /* 0: POL_STATE_DEFAULT_MAX_REVOCATIONS */
};
struct pol_state;
/* lim NULL: the defaults.  psl may be NULL (registered domain = last two labels). */
POL_MUST_CHECK bool pol_state_new(const struct pol_state_limits *lim, const struct pol_psl *psl,
				  struct pol_state **out);
void pol_state_free(struct pol_state *s);
size_t pol_state_num_serials(const struct pol_state *s);
size_t pol_state_num_buckets(const struct pol_state *s);
/* The theoretical arrival time of a bucket (ns), false if the state has no such bucket. */
bool pol_state_bucket_tat(const struct pol_state *s, const uint8_t id[POL_BUCKET_ID_LEN],
			  int64_t *out_tat_ns);
bool pol_state_has_serial(const struct pol_state *s, const char *key_label, const uint8_t *serial,
			  size_t serial_len);

/* Decides one request.  Never mutates the state.  Returns false only on caller error
 * (NULL arguments): the decision is then a refusal with POL_R_INTERNAL.  now_ns: wall
 * clock, nanoseconds since the epoch. */
POL_MUST_CHECK bool pol_evaluate(const struct pol_policy *pol, const struct pol_state *st,
				 const struct pol_ca_info *ca, const struct pol_request *req,
				 int64_t now_ns, struct pol_decision *out);
/* Applies an allowed decision's effects (serial recorded, buckets charged).  Call once
 * the audit record is durable.  False if the state is full (nothing applied). */
POL_MUST_CHECK bool pol_state_commit(struct pol_state *s, const struct pol_decision *d);
/* The same from a summary (audit replay at start-up); refused summaries are ignored.
 * A CRL summary with num_revocations > POL_SUMMARY_MAX_REVOCATIONS is refused here (false,
 * nothing applied): replay it with pol_state_apply_revocations. */
POL_MUST_CHECK bool pol_state_apply(struct pol_state *s, const struct pol_summary *sum);
/* Replay of a CRL / OCSP summary with its full revocation list (all num_revocations
 * entries, in the order pol_revocations_next gave them; the inline ones included).
 * False (nothing applied) if n != sum->num_revocations, an entry is malformed, or the
 * state is full. */
POL_MUST_CHECK bool pol_state_apply_revocations(struct pol_state *s, const struct pol_summary *sum,
						const struct pol_revocation *all, size_t n);

/* Walks every new revocation of an allowed CRL / OCSP decision, in order (the inline
 * ones first).  Call between pol_evaluate and pol_state_commit, with the same state and
 * while req->data lives (a CRL is walked again).  next returns false at the end. */
struct pol_rev_iter {
	const struct pol_decision *d;
	const struct pol_state *st;
	uint32_t done;
	struct pol_crl_iter crl;
	struct der_err err;
	uint8_t key_id[POL_SCOPE_ID_LEN];
	int scope_index;
};
void pol_revocations_begin(struct pol_rev_iter *it, const struct pol_decision *d,
			   const struct pol_state *st);
POL_MUST_CHECK bool pol_revocations_next(struct pol_rev_iter *it, struct pol_revocation *out);

/* Read access for tools and tests.  A revocation this key recorded: false if none. */
bool pol_state_revocation(const struct pol_state *s, const char *key_label, const uint8_t *serial,
			  size_t serial_len, struct pol_revocation *out);
size_t pol_state_num_revocations(const struct pol_state *s);
/* The last CRL number (INTEGER contents) this key signed in a scope (scope NULL: the
 * full CRL); false if none. */
bool pol_state_crl_number(const struct pol_state *s, const char *key_label,
			  const uint8_t scope[POL_SCOPE_ID_LEN], uint8_t out[POL_CRL_NUMBER_MAX_LEN],
			  size_t *out_len);

/* ----- The whole state as bytes (audit snapshots; pol_state_codec.c) -------------------
 * A deterministic, versioned encoding of everything decisions depend on: issued serials
 * with notAfter, rate buckets, revocations, CRL numbering per scope, delegated OCSP
 * responders.  Encoding the state a decode produced gives the same bytes again; a
 * decoded state decides exactly as the encoded one.  decode is strict (every length
 * checked, counts bounded by lim, tables in canonical order with no duplicates, no
 * trailing bytes) and makes a new state with pol_state_new(lim, psl); on failure *out is
 * NULL and *out_what / *out_offset (may be NULL) say what is wrong and where.  The
 * format is in pol_state_codec.c. */
#define POL_STATE_CODEC_VERSION 1u
/* *out is malloc'd (free()).  False only when out of memory. */
POL_MUST_CHECK bool pol_state_encode(const struct pol_state *s, uint8_t **out, size_t *out_len);
POL_MUST_CHECK bool pol_state_decode(const uint8_t *p, size_t len, const struct pol_state_limits *lim,
				     const struct pol_psl *psl, struct pol_state **out,
				     const char **out_what, size_t *out_offset);

/* ----- Wiring the revocation state into the enclave and the audit log (issue 5 §3) ----
 *
 * Every fact the revocation rules depend on is in the summary of an ALLOWED SIGN record;
 * nothing else is state.  For each allowed decision the SIGN record must carry, besides
 * what it carries today (decision, reason_code, key, data_kind, serial, not_after...):
 *
 *   kind 1 (certificate): not_after, serial (as today); and when summary.ocsp_signer:
 *       ocsp_signer_key_sha1, ocsp_issuer_name_sha1, ocsp_issuer_key_sha1,
 *       ocsp_issuer_name_sha256, ocsp_issuer_key_sha256 (BYTES each).
 *   kind 2 (CRL): crl_number (AUD_F_CRL_NUMBER), crl_delta + crl_base, crl_scope_full +
 *       crl_scope, this_update, next_update, num_entries, and EVERY new revocation:
 *       pol_revocations_begin/next, one BYTES field per entry holding
 *       pol_revocation_encode() (<= 32 bytes; 100000 entries < 3.8 MB < AUD_MAX_RECORD).
 *   kind 3 (OCSP): this_update, next_update, num_entries, ocsp_issuer_label (when not
 *       empty) and every new revocation as for a CRL (at most 32, all inline).
 *   time_ns (the record time or a field): pol_state_apply uses sum->time_ns.
 *   The rate-limit charges (as for certificates).
 * Field numbers for these are the audit log's to assign (audit/audit.h; today it has
 * crl_number = 21 and revoked = 22 (serial only): revoked cannot carry date and reason, so
 * a new BYTES field "revocation" holding the encoded entry is needed).
 *
 * Start-up: for each allowed SIGN record outside a refused range, rebuild the struct
 * pol_summary from those fields (kind, allowed, key_label, time_ns, serial/not_after,
 * charges, the fields above) and call pol_state_apply; for a CRL record with more than
 * POL_SUMMARY_MAX_REVOCATIONS revocations decode them all into an array and call
 * pol_state_apply_revocations instead.  The result is the state commit produced
 * (tests/test_policy_revstate.c checks commit/apply equivalence).
 *
 * A refused decision changes nothing; its record proves itself with reason_code, the
 * sentence (it names the serial, the recorded date/reason and the CRL number at fault),
 * data_sha256, crl_number / crl_scope, and summary.serial (the entry at fault): together
 * with the earlier allowed records that created the revocation, an auditor can replay the
 * decision. */

#endif /* WARDEN_POLICY_H */
