/*
 * pol_internal.h - shared between the fact extractors of the policy engine; not part
 * of its public contract (policy.h).
 */
#ifndef WARDEN_POL_INTERNAL_H
#define WARDEN_POL_INTERNAL_H

#include "policy.h"

/* OID contents (DER, without tag and length). */
#define POL_OID(name, ...) static const uint8_t name[] = {__VA_ARGS__}
#define oid_is(cur, name) der_cur_eq_bytes((cur), (name), sizeof(name))

/* PKCS#1 1.2.840.113549.1.1.x */
POL_OID(OID_RSA_ENCRYPTION, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
POL_OID(OID_MGF1, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08);
POL_OID(OID_RSASSA_PSS, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a);
POL_OID(OID_SHA256_RSA, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b);
POL_OID(OID_SHA384_RSA, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c);
POL_OID(OID_SHA512_RSA, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d);
/* X9.62 */
POL_OID(OID_EC_PUBLIC_KEY, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
POL_OID(OID_ECDSA_SHA256, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);
POL_OID(OID_ECDSA_SHA384, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03);
POL_OID(OID_ECDSA_SHA512, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04);
POL_OID(OID_P256, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
POL_OID(OID_P384, 0x2b, 0x81, 0x04, 0x00, 0x22);
POL_OID(OID_P521, 0x2b, 0x81, 0x04, 0x00, 0x23);
/* RFC 8410 */
POL_OID(OID_ED25519, 0x2b, 0x65, 0x70);
POL_OID(OID_ED448, 0x2b, 0x65, 0x71);
/* hashes */
POL_OID(OID_SHA1, 0x2b, 0x0e, 0x03, 0x02, 0x1a);
POL_OID(OID_SHA256, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01);
POL_OID(OID_SHA384, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02);
POL_OID(OID_SHA512, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03);
POL_OID(OID_SHA224, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04);
/* X.520 attributes 2.5.4.x, PKCS#9 email, RFC 4519 DC */
POL_OID(OID_AT_CN, 0x55, 0x04, 0x03);
POL_OID(OID_AT_SERIAL_NUMBER, 0x55, 0x04, 0x05);
POL_OID(OID_AT_C, 0x55, 0x04, 0x06);
POL_OID(OID_AT_L, 0x55, 0x04, 0x07);
POL_OID(OID_AT_ST, 0x55, 0x04, 0x08);
POL_OID(OID_AT_STREET, 0x55, 0x04, 0x09);
POL_OID(OID_AT_O, 0x55, 0x04, 0x0a);
POL_OID(OID_AT_OU, 0x55, 0x04, 0x0b);
POL_OID(OID_AT_EMAIL, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01);
POL_OID(OID_AT_DC, 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19);
/* id-ce 2.5.29.x */
POL_OID(OID_CE_SKI, 0x55, 0x1d, 0x0e);
POL_OID(OID_CE_KU, 0x55, 0x1d, 0x0f);
POL_OID(OID_CE_SAN, 0x55, 0x1d, 0x11);
POL_OID(OID_CE_IAN, 0x55, 0x1d, 0x12);
POL_OID(OID_CE_BC, 0x55, 0x1d, 0x13);
POL_OID(OID_CE_CRL_NUMBER, 0x55, 0x1d, 0x14);
POL_OID(OID_CE_REASON_CODE, 0x55, 0x1d, 0x15);
POL_OID(OID_CE_INVALIDITY_DATE, 0x55, 0x1d, 0x18);
POL_OID(OID_CE_DELTA_CRL, 0x55, 0x1d, 0x1b);
POL_OID(OID_CE_IDP, 0x55, 0x1d, 0x1c);
POL_OID(OID_CE_CERT_ISSUER, 0x55, 0x1d, 0x1d);
POL_OID(OID_CE_NAME_CONSTRAINTS, 0x55, 0x1d, 0x1e);
POL_OID(OID_CE_CRL_DP, 0x55, 0x1d, 0x1f);
POL_OID(OID_CE_CERT_POLICIES, 0x55, 0x1d, 0x20);
POL_OID(OID_CE_POLICY_MAPPINGS, 0x55, 0x1d, 0x21);
POL_OID(OID_CE_AKI, 0x55, 0x1d, 0x23);
POL_OID(OID_CE_POLICY_CONSTRAINTS, 0x55, 0x1d, 0x24);
POL_OID(OID_CE_EKU, 0x55, 0x1d, 0x25);
POL_OID(OID_CE_FRESHEST_CRL, 0x55, 0x1d, 0x2e);
POL_OID(OID_CE_INHIBIT_ANY_POLICY, 0x55, 0x1d, 0x36);
POL_OID(OID_ANY_EKU, 0x55, 0x1d, 0x25, 0x00);
/* PKIX 1.3.6.1.5.5.7 */
POL_OID(OID_PE_AIA, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01);
POL_OID(OID_KP_SERVER_AUTH, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01);
POL_OID(OID_KP_CLIENT_AUTH, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02);
POL_OID(OID_KP_CODE_SIGNING, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03);
POL_OID(OID_KP_EMAIL, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04);
POL_OID(OID_KP_TIME_STAMPING, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08);
POL_OID(OID_KP_OCSP_SIGNING, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x09);
POL_OID(OID_AD_OCSP, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01);
POL_OID(OID_AD_CA_ISSUERS, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02);
POL_OID(OID_OCSP_NONCE, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);
/* Certificate Transparency (RFC 6962) */
POL_OID(OID_CT_SCT_LIST, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02);
POL_OID(OID_CT_POISON, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03);
/* step-ca provisioner 1.3.6.1.4.1.37476.9000.64.1 */
POL_OID(OID_STEP_PROVISIONER, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xa4, 0x64, 0xc6, 0x28, 0x40,
	0x01);

/* Shared structure parsers.  Each reads one element from c. */
POL_MUST_CHECK bool pol_parse_algid(struct der_cur *c, struct pol_algid *out, struct der_err *e);
/* out may be NULL: the Name is checked, not recorded. */
POL_MUST_CHECK bool pol_parse_name(struct der_cur *c, struct pol_name *out, struct der_err *e);
POL_MUST_CHECK bool pol_parse_spki(struct der_cur *c, struct pol_spki *out, struct der_err *e);
/* One GeneralName.  in_nc: iPAddress is address+mask (8 or 32 octets). */
POL_MUST_CHECK bool pol_parse_general_name(struct der_cur *c, bool in_nc, struct pol_gn *out,
					   struct der_err *e);
/* GeneralNames contents (SIZE 1..MAX); each name goes to cb (which may be NULL). */
typedef bool (*pol_gn_cb)(void *ctx, const struct pol_gn *gn, struct der_err *e);
POL_MUST_CHECK bool pol_parse_general_names(struct der_cur contents, pol_gn_cb cb, void *ctx,
					    struct der_err *e);
/* Extensions SEQUENCE (whole element) into out: ids, criticality, duplicates refused. */
POL_MUST_CHECK bool pol_parse_exts(struct der_cur *c, struct pol_exts *out, struct der_err *e);
/* AuthorityKeyIdentifier extnValue. */
POL_MUST_CHECK bool pol_parse_aki(struct der_cur value, struct der_cur *out_key_id,
				  bool *out_issuer_serial, struct der_err *e);
/* An extnValue that must hold exactly one element. */
POL_MUST_CHECK bool pol_ext_single(struct der_cur value, struct der_cur *out_inner_cursor,
				   struct der_err *e);
/* DistributionPointName (the contents of its [0] wrapper): fullName URIs go to cb. */
POL_MUST_CHECK bool pol_parse_dp_name(struct der_cur contents, pol_gn_cb cb, void *ctx,
				      struct der_err *e);
/* CRLReason ENUMERATED: 0..10 without 7. */
POL_MUST_CHECK bool pol_get_crl_reason(struct der_cur *c, int *out, struct der_err *e);
/* AlgorithmIdentifier of a hash (PSS parameters, OCSP CertID): parameters NULL or absent. */
POL_MUST_CHECK bool pol_parse_hash_algid(struct der_cur *c, struct der_cur *out_oid,
					 enum pol_hash *out, struct der_err *e);
/* signature AlgorithmIdentifier then issuer Name, as both TBSCertificate and TBSCertList
 * have them; err->field names the one at fault. */
POL_MUST_CHECK bool pol_parse_sig_issuer(struct der_cur *c, struct pol_algid *out_sig,
					 struct pol_name *out_issuer, struct der_err *e);
/* A CertificateSerialNumber: an INTEGER of at most POL_MAX_SERIAL_LEN octets. */
POL_MUST_CHECK bool pol_get_serial(struct der_cur *c, struct der_cur *out, struct der_err *e);
/* [0] EXPLICIT Version DEFAULT v1, as in certificates and OCSP: *out_version is 1 when
 * absent, else the encoded value + 1; DER forbids encoding v1, and values above max_value
 * are refused. */
POL_MUST_CHECK bool pol_get_version(struct der_cur *c, uint64_t max_value, uint32_t *out_version,
				    struct der_err *e);
/* A BOOLEAN DEFAULT FALSE with the given tag (universal or IMPLICIT): DER encodes it only
 * when TRUE, so a present FALSE is refused.  *out_present says whether it was there. */
POL_MUST_CHECK bool pol_get_default_false(struct der_cur *c, uint8_t tag, bool *out_present,
					  struct der_err *e);
/* [n] EXPLICIT Extensions OPTIONAL into out (zeroed when absent); when allowed is false
 * (an older version) a present one is refused. */
POL_MUST_CHECK bool pol_parse_exts_opt(struct der_cur *c, unsigned n, bool allowed,
				       struct pol_exts *out, struct der_err *e);
/* An extnValue that holds exactly one SEQUENCE: its contents to out_contents. */
POL_MUST_CHECK bool pol_ext_seq(const struct pol_ext *x, struct der_cur *out_contents,
				struct der_err *e);
/* As pol_ext_seq, for a SEQUENCE SIZE (1..MAX) OF: an empty one is refused. */
POL_MUST_CHECK bool pol_ext_seq_of(const struct pol_ext *x, struct der_cur *out_contents,
				   struct der_err *e);
/* An extnValue that is GeneralNames (SAN, IAN, certificateIssuer): each name to cb. */
POL_MUST_CHECK bool pol_ext_general_names(const struct pol_ext *x, pol_gn_cb cb, void *ctx,
					  struct der_err *e);
/* Counts an extension the extractor does not know (policy decides about it). */
void pol_ext_count_unknown(const struct pol_ext *x, size_t *num, size_t *num_critical);

/* The frame shared by the extractors (pol_cert_facts, pol_crl_facts, pol_ocsp_facts;
 * pol_frame.c with pol_get_version, pol_get_serial, pol_parse_sig_issuer and
 * pol_parse_exts_opt).
 * pol_facts_begin checks the arguments, zeroes out (out_size octets) and takes the one
 * outer SEQUENCE, named what, of which nothing may follow, into *out_contents; on failure
 * out is zeroed (unless NULL) and err says why.  pol_facts_finish checks that nothing is
 * left in contents and hands each extension to fn with err->field set to its name.
 * pol_facts_fail zeroes out, makes sure err has a reason, and returns false. */
typedef bool (*pol_ext_fn)(void *ctx, const struct pol_ext *x, struct der_err *e);
POL_MUST_CHECK bool pol_facts_begin(const uint8_t *data, size_t len, void *out, size_t out_size,
				    const char *what, struct der_cur *out_contents,
				    struct der_err *err);
POL_MUST_CHECK bool pol_facts_finish(struct der_cur *contents, const char *what,
				     const struct pol_exts *exts, pol_ext_fn fn, void *ctx,
				     struct der_err *err);
bool pol_facts_fail(void *out, size_t out_size, struct der_err *err);
enum pol_hash pol_hash_from_oid(const struct der_cur *oid);
const char *pol_ext_name(enum pol_ext_id id);
/* True if the facts are all-zero-able: zero a struct and fail, as every extractor must. */
#define POL_ZERO(p) memset((p), 0, sizeof(*(p)))

#endif /* WARDEN_POL_INTERNAL_H */
