/*
 * pol_policy_int.h - the compiled policy and the name matchers, shared by the loader
 * (pol_policy*.c), the evaluator (pol_eval*.c), the name code (pol_names.c) and the
 * state (pol_rate.c).  Not part of the public contract (policy.h).
 */
#ifndef WARDEN_POL_POLICY_INT_H
#define WARDEN_POL_POLICY_INT_H

#include "policy.h"

#define POL_DNS_MAX 253u        /* RFC 1035 name length, without a trailing dot */
#define POL_LABEL_MAX_LEN 63u
#define POL_EMAIL_MAX 320u      /* RFC 3696 errata: 64 + 1 + 255 */
#define POL_URI_MAX 2048u
#define POL_CN_MAX 256u
#define POL_NS_PER_S 1000000000LL

/* --- names ------------------------------------------------------------------------ */

/* A DNS rule or a checked, lower-cased host name: "*.example.com" has wildcard set and
 * name "example.com" (the part after "*."); nlabels counts the labels of the whole. */
struct pn_dns {
	char name[POL_DNS_MAX + 1];
	bool wildcard;
	uint8_t nlabels;
};

struct pn_ip {
	uint8_t addr[16];
	uint8_t len;    /* 4 or 16 */
	uint8_t prefix; /* bits */
};

struct pn_email {
	char local[65];          /* as written ("" for an @domain rule) */
	char canon[65];          /* quotes and backslash escapes removed */
	bool has_local;
	bool quoted;
	struct pn_dns domain;
};

/* Checks a host name; wildcard_ok lets "*." stand as the whole leftmost label.  why gets
 * a static phrase on failure ("has a trailing dot", ...). */
bool pn_dns_parse(const uint8_t *p, size_t len, bool wildcard_ok, struct pn_dns *out,
		  const char **why);
/* A rule matches a (non-wildcard or wildcard) name.  For a wildcard name, a rule matches
 * when it could match some name the wildcard covers (so deny rules catch it). */
bool pn_dns_match(const struct pn_dns *rule, const struct pn_dns *name, bool deny);
/* "10.0.0.0/8", "::1", "2001:db8::/32"; IPv4-mapped IPv6 rules with prefix >= 96 become
 * IPv4.  Host bits set under the prefix are refused. */
bool pn_ip_parse_rule(const char *s, struct pn_ip *out, const char **why);
/* An address (4 or 16 octets) against a rule; mapped IPv6 also tried as IPv4. */
bool pn_ip_match(const struct pn_ip *rule, const uint8_t *addr, size_t len);
/* Text of an address (4 or 16 octets) into buf. */
void pn_ip_text(const uint8_t *addr, size_t len, char *buf, size_t cap);
/* A rule "jdoe@example.com" or "@example.com". */
bool pn_email_parse_rule(const char *s, struct pn_email *out, const char **why);
/* An rfc822Name: dot-atom or strictly quoted local part, '@', a host name. */
bool pn_email_parse(const uint8_t *p, size_t len, struct pn_email *out, const char **why);
/* Allow: the domain equal and the local part, if any, byte-identical.  Deny: the local
 * part compared unquoted and case-insensitively, so quoting cannot dodge a deny rule. */
bool pn_email_match(const struct pn_email *rule, const struct pn_email *name, bool deny);
/* A URI's host: scheme "://" [userinfo "@"] host [":" port] [path...]; IP hosts,
 * percent-encoding in the host and bad ports refused. */
bool pn_uri_host(const uint8_t *p, size_t len, struct pn_dns *out, const char **why);
/* Copies printable ASCII, escaping others as \xNN, truncating with "..." at cap. */
void pn_text(const uint8_t *p, size_t len, char *buf, size_t cap);

/* One allow or deny side of a step-ca x509 block. */
struct pn_list {
	size_t num_dns, num_ip, num_email, num_uri, num_cn;
	struct pn_dns *dns;
	struct pn_ip *ip;
	struct pn_email *email;
	struct pn_dns *uri;
	char **cn;
};

struct pn_rules {
	bool present;            /* a names block was given */
	struct pn_list allow, deny;
	bool allow_wildcard;     /* allowWildcardNames */
};

static inline bool pn_list_any(const struct pn_list *l)
{
	return l->num_dns + l->num_ip + l->num_email + l->num_uri + l->num_cn > 0;
}

/* --- the compiled policy ------------------------------------------------------------ */

enum pol_prehashed { POL_PREHASHED_DENY = 0, POL_PREHASHED_AUDIT = 1 };

#define POL_SIGN_CERT (1u << 0)
#define POL_SIGN_CRL (1u << 1)
#define POL_SIGN_OCSP (1u << 2)
#define POL_SIGN_OTHER (1u << 3)

/* Revocation settings (issue 5): "crl" and "ocsp" blocks of authority (defaults) and
 * of each signingKeys entry (overriding field by field). */
enum pol_nonce { POL_NONCE_ALLOW = 0, POL_NONCE_REQUIRE = 1, POL_NONCE_FORBID = 2 };
struct pol_crl_rules {
	int64_t max_validity_s;     /* nextUpdate - thisUpdate */
	int64_t clock_skew_s;       /* |thisUpdate - now| */
	bool require_issued;        /* revoked serials must be serials this key issued */
	bool allow_delta;
};
struct pol_ocsp_rules {
	int64_t min_validity_s, max_validity_s;
	int64_t clock_skew_s;       /* |thisUpdate - now|, |producedAt - now| */
	enum pol_nonce nonce;
	bool allow_delegated;       /* a responder key this enclave certified may sign */
};

struct pol_key_rules {
	char label[POL_NAME_MAX];   /* "*" is the default entry */
	struct pol_crl_rules crl;
	struct pol_ocsp_rules ocsp;
	enum pol_prehashed prehashed;
	uint32_t sign;              /* POL_SIGN_* */
	struct pol_rate rate;       /* per key (overrides authority perKey when count > 0) */
	struct pol_rate prehashed_rate;
};

struct pol_oid_list {
	size_t num;
	struct {
		uint8_t der[DER_MAX_OID_LEN];
		uint8_t len;
	} oid[POL_MAX_OIDS];
};

#define POL_KEYALG_RSA (1u << 0)
#define POL_KEYALG_EC (1u << 1)
#define POL_KEYALG_ED25519 (1u << 2)
#define POL_KEYALG_ED448 (1u << 3)
#define POL_CURVE_BIT(c) (1u << (c))

/* Fields a profile inherits from the authority block, field by field. */
struct pol_constraints {
	int64_t max_lifetime_s;
	int64_t max_backdate_s;
	int64_t clock_skew_s;
	bool within_ca;             /* notAfter <= CA notAfter */
	uint32_t key_algs;          /* POL_KEYALG_* */
	uint32_t rsa_min_bits, rsa_max_bits;
	size_t num_exponents;
	uint64_t exponents[8];
	uint32_t curves;            /* POL_CURVE_BIT(POL_CURVE_P256) ... */
	bool allow_ca;
	bool has_max_path_len;
	uint64_t max_path_len;
	uint32_t ku_allowed, ku_required;          /* POL_KU_* */
	uint32_t eku_allowed, eku_required;        /* POL_EKU_* (OTHER via lists below) */
	struct pol_oid_list eku_allowed_oids;      /* other EKU OIDs allowed */
	struct pol_oid_list eku_required_oids;
	uint32_t critical_allowed;                 /* bit (1 << pol_ext_id) */
	struct pol_oid_list critical_allowed_oids; /* unknown extensions allowed critical */
	bool require_ski;
	bool require_aki;
	bool require_san;           /* leaves only */
	bool cn_in_san;             /* leaves only */
	uint32_t serial_min_octets;
	struct pol_rate rates[POL_RATE_NUM]; /* PROFILE, PROVISIONER, DOMAIN, SAN_SET */
};

struct pol_match {
	bool any;                   /* no criteria: matches everything */
	bool has_prov_type;
	uint64_t prov_type;
	bool has_prov_name;
	char prov_name[POL_NAME_MAX * 2];
	uint32_t eku;               /* any of these purposes (0: not a criterion) */
	bool has_ca;
	bool ca;
};

struct pol_profile {
	char name[POL_NAME_MAX];
	struct pol_match match;
	struct pn_rules names;
	struct pol_constraints c;
};

struct pol_policy {
	uint8_t hash[POL_HASH_LEN];
	char hash_hex[POL_HASH_HEX_LEN];
	struct pn_rules names;      /* authority-wide name rules (evaluated for every cert) */
	struct pol_constraints defaults;
	struct pol_crl_rules crl;   /* authority defaults for signingKeys entries */
	struct pol_ocsp_rules ocsp;
	size_t num_keys;
	struct pol_key_rules keys[POL_MAX_SIGNING_KEYS];
	size_t num_profiles;
	struct pol_profile *profiles;
};

/* Parses a duration "90d", "2160h", "1h30m", "45s" into seconds (bounded by
 * POL_MAX_DURATION_S); false if malformed. */
bool pol_duration_parse(const char *s, int64_t *out_s);
const struct pol_key_rules *pol_policy_key(const struct pol_policy *p, const char *label);
/* Frees the lists of one rules block. */
void pn_rules_free(struct pn_rules *r);

/* Bucket id of (dim, key label, bucket key). */
void pol_bucket_id(enum pol_rate_dim dim, const char *label, const void *key, size_t key_len,
		   uint8_t out[POL_BUCKET_ID_LEN]);
/* The GCRA test for one more event at now_ns: allowed iff it fits. */
bool pol_state_charge_fits(const struct pol_state *s, const struct pol_charge *c, int64_t now_ns);
/* Room for the serial and the buckets a decision would add. */
bool pol_state_has_room(const struct pol_state *s, const struct pol_summary *sum, int64_t now_ns);
const struct pol_psl *pol_state_psl(const struct pol_state *s);

/* --- loader helpers (pol_policy.c, pol_policy_names.c) ----------------------------- */

typedef struct json_t json_t;
/* The loader's cursor: the JSON path of the value being read, and the first error. */
struct pol_ld {
	struct pol_load_error *err;
	char path[POL_PATH_MAX];
	size_t plen;
	bool failed;
};
size_t pol_ld_push(struct pol_ld *ld, const char *key);
size_t pol_ld_push_idx(struct pol_ld *ld, size_t i);
void pol_ld_pop(struct pol_ld *ld, size_t saved);
bool pol_ld_fail(struct pol_ld *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* obj must be an object whose keys are all in allowed (NULL-terminated). */
bool pol_ld_object(struct pol_ld *ld, const json_t *obj, const char *const *allowed);
/* A step-ca x509 block {allow, deny, allowWildcardNames} into r. */
bool pol_ld_names(struct pol_ld *ld, const json_t *obj, struct pn_rules *r);
/* Dotted OID text to DER contents; false if malformed or longer than DER_MAX_OID_LEN. */
bool pol_oid_from_text(const char *s, uint8_t *out, size_t *out_len);

/* The "crl" / "ocsp" blocks (pol_policy_rev.c). */
void pol_rev_rules_default(struct pol_crl_rules *crl, struct pol_ocsp_rules *ocsp);
bool pol_ld_crl(struct pol_ld *ld, const json_t *o, struct pol_crl_rules *r);
bool pol_ld_ocsp(struct pol_ld *ld, const json_t *o, struct pol_ocsp_rules *r);

/* --- revocation state (pol_revoke.c), reached through struct pol_state -------------- */

struct pol_rev_state;
/* What the state knows of one revocation. */
struct pol_rev_info {
	size_t index;               /* in the dense table (for the seen-sets of evaluation) */
	struct pol_revocation rev;  /* source: the first one seen */
	uint8_t sources;            /* POL_REV_SRC_* bits */
	bool has_not_after;         /* the certificate's notAfter, if issued through Warden */
	int64_t not_after;
	uint64_t scopes;            /* bit i: on a CRL of scope i */
	uint64_t created_seq, bound_seq;
};
struct pol_rev_scope_info {
	int index;                  /* -1: the scope has no CRL yet */
	uint8_t last[POL_CRL_NUMBER_MAX_LEN];
	size_t last_len;
	uint32_t num_bases;
	struct {
		uint8_t num[POL_CRL_NUMBER_MAX_LEN];
		size_t len;
		uint64_t seq;
	} bases[POL_CRL_BASES_KEPT];
};
struct pol_rev_responder_info {
	char issuer_label[POL_NAME_MAX];
	int64_t not_after;
	uint8_t name_sha1[POL_OCSP_KEY_HASH_LEN], key_sha1[POL_OCSP_KEY_HASH_LEN];
	uint8_t name_sha256[POL_SHA256_LEN], key_sha256[POL_SHA256_LEN];
};

POL_MUST_CHECK bool pol_rev_new(uint32_t max_revocations, struct pol_rev_state **out);
void pol_rev_free(struct pol_rev_state *r);
const struct pol_rev_state *pol_state_rev(const struct pol_state *s);
void pol_rev_key_id(const char *label, uint8_t out[POL_SCOPE_ID_LEN]);
bool pol_rev_find(const struct pol_rev_state *r, const uint8_t key_id[POL_SCOPE_ID_LEN],
		  const uint8_t *serial, size_t len, struct pol_rev_info *out);
size_t pol_rev_count(const struct pol_rev_state *r);
/* Entry i of the dense table if it belongs to key_id (false otherwise or if dropped). */
bool pol_rev_at(const struct pol_rev_state *r, size_t i, const uint8_t key_id[POL_SCOPE_ID_LEN],
		struct pol_rev_info *out);
void pol_rev_scope(const struct pol_rev_state *r, const uint8_t key_id[POL_SCOPE_ID_LEN], bool full,
		   const uint8_t scope[POL_SCOPE_ID_LEN], struct pol_rev_scope_info *out);
bool pol_rev_responder(const struct pol_rev_state *r, const uint8_t key_sha1[POL_OCSP_KEY_HASH_LEN],
		       struct pol_rev_responder_info *out);
/* Room for n_new revocations (after dropping expired ones at now_s), a new scope and a
 * new responder. */
bool pol_rev_has_room(const struct pol_rev_state *r, size_t n_new, bool new_scope,
		      bool new_responder, int64_t now_s);
/* Applies an allowed summary's revocation part (checked by the caller for room).
 * not_after_of looks up an issued serial's notAfter. */
typedef bool (*pol_not_after_fn)(const void *ctx, const char *label, const uint8_t *serial,
				 size_t len, int64_t *out);
POL_MUST_CHECK bool pol_rev_apply(struct pol_rev_state *r, const struct pol_summary *sum,
				  const struct pol_revocation *all, size_t n, pol_not_after_fn fn,
				  const void *ctx);
/* Structural checks of a summary's revocation part (replay input). */
bool pol_rev_summary_ok(const struct pol_summary *sum, const struct pol_revocation *all, size_t n);

/* Issued serials (pol_rate.c): the notAfter of a serial this key issued; whether the
 * state ever dropped expired serials (then an unknown serial may be an expired one). */
bool pol_state_serial_not_after(const struct pol_state *s, const char *key_label,
				const uint8_t *serial, size_t len, int64_t *out);
bool pol_state_ever_purged(const struct pol_state *s);

/* --- raw access for the snapshot codec (pol_state_codec.c) ---------------------------
 * Rows are the tables' entries as they are; the *_restore functions fill a state fresh
 * from pol_state_new and refuse a duplicate or a row beyond the state's limits. */
struct pol_state_serial_row {
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t not_after;
};
struct pol_state_bucket_row {
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t tat_ns;
	uint64_t rem, count; /* TAT = tat_ns + rem / count; count >= 1, rem < count */
};
struct pol_rev_scope_row {
	uint8_t key[POL_SCOPE_ID_LEN];
	uint8_t scope[POL_SCOPE_ID_LEN];
	bool full;
	struct pol_rev_scope_info info;
};
struct pol_rev_responder_row {
	uint8_t key_sha1[POL_OCSP_KEY_HASH_LEN];
	struct pol_rev_responder_info info;
};
void pol_state_limits_get(const struct pol_state *s, struct pol_state_limits *out);
/* Every used slot into out (room for pol_state_num_serials / _buckets rows), slot order. */
size_t pol_state_serial_rows(const struct pol_state *s, struct pol_state_serial_row *out);
size_t pol_state_bucket_rows(const struct pol_state *s, struct pol_state_bucket_row *out);
POL_MUST_CHECK bool pol_state_serial_restore(struct pol_state *s,
					     const struct pol_state_serial_row *r);
POL_MUST_CHECK bool pol_state_bucket_restore(struct pol_state *s,
					     const struct pol_state_bucket_row *r);
void pol_state_purged_restore(struct pol_state *s);
struct pol_rev_state *pol_state_rev_mut(struct pol_state *s);
uint32_t pol_rev_max(const struct pol_rev_state *r);
uint64_t pol_rev_seq(const struct pol_rev_state *r);
size_t pol_rev_num_scopes(const struct pol_rev_state *r);
size_t pol_rev_num_responders(const struct pol_rev_state *r);
/* Entry / scope / responder i (i below its count). */
void pol_rev_entry_at(const struct pol_rev_state *r, size_t i, uint8_t out_key[POL_SCOPE_ID_LEN],
		      struct pol_rev_info *out);
void pol_rev_scope_at(const struct pol_rev_state *r, size_t i, struct pol_rev_scope_row *out);
void pol_rev_responder_at(const struct pol_rev_state *r, size_t i, struct pol_rev_responder_row *out);
/* The counter, scopes and responders of a fresh revocation state, then its entries in
 * dense order (in->index is ignored).  False on a duplicate or beyond the bounds. */
POL_MUST_CHECK bool pol_rev_restore(struct pol_rev_state *r, uint64_t seq,
				    const struct pol_rev_scope_row *scopes, size_t num_scopes,
				    const struct pol_rev_responder_row *resp, size_t num_resp);
POL_MUST_CHECK bool pol_rev_restore_entry(struct pol_rev_state *r,
					  const uint8_t key[POL_SCOPE_ID_LEN],
					  const struct pol_rev_info *in);

/* --- evaluation (pol_eval.c, pol_eval_cert.c) -------------------------------------- */

/* What a mechanism means. */
struct pol_mech {
	unsigned long mech;
	const char *name;
	enum pol_key_type key;
	enum pol_sigalg alg;   /* POL_SIG_UNKNOWN for raw mechanisms */
	enum pol_hash hash;
	bool raw;
	bool pss;
};

/* Sets a refusal (reason, sentence); returns false so checks chain with &&. */
bool pol_refuse(struct pol_decision *d, enum pol_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The inner AlgorithmIdentifier against the mechanism, its PSS parameters and key. */
bool pol_check_algid(const struct pol_algid *a, const struct pol_mech *m,
		     const struct pol_request *req, struct pol_decision *d);
/* Appends a charge (deduplicated); false with POL_R_RATE_TOO_MANY past the bound. */
bool pol_add_charge(struct pol_decision *d, enum pol_rate_dim dim, const char *label,
		    const void *key, size_t key_len, const struct pol_rate *rate);
/* A TBSCertificate: facts already in d->facts.cert. */
bool pol_eval_cert(const struct pol_policy *pol, const struct pol_state *st,
		   const struct pol_ca_info *ca, const struct pol_request *req,
		   const struct pol_key_rules *kr, const struct pol_mech *m, int64_t now_ns,
		   struct pol_decision *d);
/* Issuer name byte-identical to the CA certificate's subject (what: "CRL", ...). */
bool pol_check_issuer(const struct der_cur *name, const struct pol_ca_info *ca,
		      struct pol_decision *d, const char *what);
/* CRL and OCSP rules (pol_eval_crl.c, pol_eval_ocsp.c): facts already in d->facts. */
bool pol_eval_crl(const struct pol_state *st, const struct pol_ca_info *ca,
		  const struct pol_request *req, const struct pol_key_rules *kr,
		  const struct pol_mech *m, int64_t now_ns, struct pol_decision *d);
bool pol_eval_ocsp(const struct pol_state *st, const struct pol_ca_info *ca,
		   const struct pol_key_rules *kr, int64_t now_ns, struct pol_decision *d);
/* A certificate with id-kp-OCSPSigning: fills the summary's delegated-responder fields
 * (refusing when the responder table is full).  True for any other certificate. */
bool pol_ocsp_signer_summary(const struct pol_state *st, const struct pol_ca_info *ca,
			     int64_t now_ns, struct pol_decision *d);
/* The subjectPublicKey bit-string contents of the CA key (ca->spki_der). */
bool pol_ca_key_bits(const struct pol_ca_info *ca, struct der_cur *out);
/* Hex of serial bytes into the summary's serial fields (the entry at fault). */
void pol_summary_serial(struct pol_summary *s, const uint8_t *p, size_t len);
/* Reason as compared: 0 (unspecified) and absent are both -1. */
static inline int pol_rev_norm_reason(int reason)
{
	return reason <= 0 ? -1 : reason;
}
/* An unsigned big-endian magnitude comparison of INTEGER contents (both >= 0). */
int pol_int_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Name checks of one rules block ("profile web" / "the authority"). */
bool pol_eval_names(const struct pn_rules *r, bool wildcard_ok, const char *who,
		    const struct pol_cert_facts *f, struct pol_decision *d);

/* Hashes p with h (SHA-1, SHA-256, SHA-384 or SHA-512) into out, which holds
 * POL_DIGEST_MAX bytes; returns the digest length, 0 for another h.  The algorithms are
 * fetched once (pol_crypto_init): OpenSSL 3's one-shot SHA256() fetches on every call,
 * which costs more than hashing the short ids the signing path hashes, a dozen per
 * request. */
#define POL_DIGEST_MAX 64u
size_t pol_digest(enum pol_hash h, const void *p, size_t n, uint8_t *out);
static inline void pol_sha256(const void *p, size_t n, uint8_t out[POL_SHA256_LEN])
{
	(void)pol_digest(POL_HASH_SHA256, p, n, out);
}

#endif /* WARDEN_POL_POLICY_INT_H */
