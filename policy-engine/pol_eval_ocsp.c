/*
 * pol_eval_ocsp.c - the rules for an OCSP ResponseData (issue 5 §2), and the delegated
 * responders certificates create.
 *
 * The ResponderID must name the signing key itself: byName its certificate's subject,
 * byKey the SHA-1 of its subjectPublicKey.  The signing key is then either a CA (the
 * CertIDs must name it, and its own issuance / revocation state decides), or a delegated
 * responder: a key whose certificate with id-kp-OCSPSigning a Warden key K issued (the
 * state remembers the responder key's SHA-1, K's label and K's CertID hashes); then the
 * CertIDs must name K, K's state decides, and the responder certificate must be unexpired.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

#define REASON_REMOVE_FROM_CRL 8
#define HASH_MAX SHA512_DIGEST_LENGTH

static size_t digest(enum pol_hash h, const uint8_t *p, size_t n, uint8_t out[HASH_MAX])
{
	return pol_digest(h, p, n, out);
}

bool pol_ca_key_bits(const struct pol_ca_info *ca, struct der_cur *out)
{
	struct der_cur c;
	struct pol_spki spki;
	struct der_err e;
	memset(out, 0, sizeof(*out));
	if (ca->spki_der == NULL || ca->spki_len == 0)
		return false;
	der_cur_init(&c, ca->spki_der, ca->spki_len);
	der_err_init(&e, ca->spki_der);
	if (!pol_parse_spki(&c, &spki, &e) || !der_done(&c, &e))
		return false;
	*out = spki.key;
	return true;
}

bool pol_ocsp_signer_summary(const struct pol_state *st, const struct pol_ca_info *ca,
			     int64_t now_ns, struct pol_decision *d)
{
	const struct pol_cert_facts *f = &d->facts.cert;
	struct pol_summary *s = &d->summary;
	struct pol_rev_responder_info ri;
	struct der_cur bits;
	if (!f->has_eku || (f->eku_flags & POL_EKU_OCSP_SIGNING) == 0)
		return true;
	if (!pol_ca_key_bits(ca, &bits))
		return pol_refuse(d, POL_R_INTERNAL, "the public key of key %s cannot be parsed",
				  ca->label);
	s->ocsp_signer = true;
	(void)pol_digest(POL_HASH_SHA1, f->spki.key.p, f->spki.key.len, s->ocsp_signer_key_sha1);
	(void)pol_digest(POL_HASH_SHA1, ca->subject_der, ca->subject_len, s->ocsp_issuer_name_sha1);
	(void)pol_digest(POL_HASH_SHA1, bits.p, bits.len, s->ocsp_issuer_key_sha1);
	pol_sha256(ca->subject_der, ca->subject_len, s->ocsp_issuer_name_sha256);
	pol_sha256(bits.p, bits.len, s->ocsp_issuer_key_sha256);
	if (!pol_rev_responder(pol_state_rev(st), s->ocsp_signer_key_sha1, &ri) &&
	    !pol_rev_has_room(pol_state_rev(st), 0, false, true, now_ns / 1000000000LL))
		return pol_refuse(d, POL_R_REVOCATION_STATE_FULL, "the table of delegated OCSP "
				  "responders is full (%u unexpired)", POL_STATE_MAX_RESPONDERS);
	return true;
}

/* Who the CertIDs must name, and whose state decides. */
struct issuer {
	const char *label;
	uint8_t key_id[POL_SCOPE_ID_LEN];
	bool delegated;
	struct pol_rev_responder_info ri;
	const struct pol_ca_info *ca;
	struct der_cur key_bits;
	/* CertID hashes of a CA signing for itself, computed once per algorithm */
	bool have[POL_HASH_SHA512 + 1];
	size_t hash_len[POL_HASH_SHA512 + 1];
	uint8_t name_hash[POL_HASH_SHA512 + 1][HASH_MAX], key_hash[POL_HASH_SHA512 + 1][HASH_MAX];
};

static bool cert_id_ok(struct issuer *is, const struct pol_ocsp_single *s,
		       struct pol_decision *d, size_t i)
{
	uint8_t nh[HASH_MAX], kh[HASH_MAX];
	size_t n = 0;
	if (is->delegated) {
		if (s->hash == POL_HASH_SHA1) {
			memcpy(nh, is->ri.name_sha1, POL_OCSP_KEY_HASH_LEN);
			memcpy(kh, is->ri.key_sha1, POL_OCSP_KEY_HASH_LEN);
			n = POL_OCSP_KEY_HASH_LEN;
		} else if (s->hash == POL_HASH_SHA256) {
			memcpy(nh, is->ri.name_sha256, POL_SHA256_LEN);
			memcpy(kh, is->ri.key_sha256, POL_SHA256_LEN);
			n = POL_SHA256_LEN;
		}
	} else if ((unsigned)s->hash <= POL_HASH_SHA512) {
		unsigned h = (unsigned)s->hash;
		if (!is->have[h]) {
			is->hash_len[h] = digest(s->hash, is->ca->subject_der, is->ca->subject_len,
						 is->name_hash[h]);
			(void)digest(s->hash, is->key_bits.p, is->key_bits.len, is->key_hash[h]);
			is->have[h] = true;
		}
		n = is->hash_len[h];
		memcpy(nh, is->name_hash[h], n);
		memcpy(kh, is->key_hash[h], n);
	}
	if (n == 0)
		return pol_refuse(d, POL_R_OCSP_CERT_ID, "response %zu: the CertID hash algorithm is "
				  "not SHA-1, SHA-256%s", i, is->delegated ? " (delegated responder)"
				  : ", SHA-384 or SHA-512");
	if (!der_cur_eq_bytes(&s->issuer_name_hash, nh, n) ||
	    !der_cur_eq_bytes(&s->issuer_key_hash, kh, n))
		return pol_refuse(d, POL_R_OCSP_CERT_ID, "response %zu: the CertID's issuer name or "
				  "key hash is not key %s's", i, is->label);
	return true;
}

static bool responder_ok(const struct pol_state *st, const struct pol_ca_info *ca,
			 const struct pol_key_rules *kr, int64_t now_s, struct issuer *is,
			 struct pol_decision *d)
{
	const struct pol_ocsp_facts *f = &d->facts.ocsp;
	uint8_t self[SHA_DIGEST_LENGTH];
	if (!ca->has_cert)
		return pol_refuse(d, POL_R_CA_NO_CERT, "key %s has no certificate, so it signs no "
				  "OCSP response", ca->label);
	if (!pol_ca_key_bits(ca, &is->key_bits))
		return pol_refuse(d, POL_R_INTERNAL, "the public key of key %s cannot be parsed",
				  ca->label);
	(void)pol_digest(POL_HASH_SHA1, is->key_bits.p, is->key_bits.len, self);
	if (f->responder_by_key ? !der_cur_eq_bytes(&f->responder_key_hash, self, sizeof(self))
				: !der_cur_eq_bytes(&f->responder_name, ca->subject_der, ca->subject_len))
		return pol_refuse(d, POL_R_OCSP_RESPONDER, "the ResponderID (%s) does not name key %s, "
				  "which signs it", f->responder_by_key ? "byKey" : "byName", ca->label);
	is->ca = ca;
	is->label = ca->label;
	if (pol_rev_responder(pol_state_rev(st), self, &is->ri)) {
		if (!kr->ocsp.allow_delegated)
			return pol_refuse(d, POL_R_OCSP_RESPONDER, "key %s is a delegated OCSP responder "
					  "and ocsp.allowDelegatedResponders is false", ca->label);
		if (is->ri.not_after < now_s)
			return pol_refuse(d, POL_R_OCSP_RESPONDER, "the OCSP-signing certificate of key "
					  "%s has expired", ca->label);
		is->delegated = true;
		is->label = is->ri.issuer_label;
		memcpy(d->summary.ocsp_issuer_label, is->ri.issuer_label, POL_NAME_MAX);
	}
	pol_rev_key_id(is->label, is->key_id);
	return true;
}

static bool check_single(const struct pol_state *st, const struct pol_key_rules *kr,
			 struct issuer *is, int64_t now_s, size_t i, struct pol_decision *d)
{
	const struct pol_ocsp_facts *f = &d->facts.ocsp;
	const struct pol_ocsp_single *s = &f->responses[i];
	const struct pol_ocsp_rules *r = &kr->ocsp;
	struct pol_summary *sum = &d->summary;
	struct pol_rev_info in;
	int64_t na;
	const char *sh = sum->serial_hex;

	pol_summary_serial(sum, s->serial.p, s->serial.len);
	if (!cert_id_ok(is, s, d, i))
		return false;
	if (s->single_ext_critical)
		return pol_refuse(d, POL_R_OCSP_EXTENSION, "response %zu has a critical "
				  "singleExtension", i);
	if (s->this_update > now_s + r->clock_skew_s || s->this_update < now_s - r->clock_skew_s)
		return pol_refuse(d, POL_R_OCSP_THIS_UPDATE, "response %zu: thisUpdate is %+llds from "
				  "now (allowed: within %llds)", i, (long long)(s->this_update - now_s),
				  (long long)r->clock_skew_s);
	if (!s->has_next_update)
		return pol_refuse(d, POL_R_OCSP_VALIDITY, "response %zu has no nextUpdate", i);
	if (s->next_update - s->this_update < r->min_validity_s ||
	    s->next_update - s->this_update > r->max_validity_s || s->next_update <= s->this_update)
		return pol_refuse(d, POL_R_OCSP_VALIDITY, "response %zu: nextUpdate - thisUpdate is "
				  "%llds, allowed %llds to %llds", i,
				  (long long)(s->next_update - s->this_update),
				  (long long)r->min_validity_s, (long long)r->max_validity_s);
	for (size_t j = 0; j < i; j++)
		if (der_cur_eq(&f->responses[j].serial, &s->serial))
			return pol_refuse(d, POL_R_OCSP_SERIAL, "serial %s is answered twice", sh);
	bool known = pol_rev_find(pol_state_rev(st), is->key_id, s->serial.p, s->serial.len, &in);
	switch (s->status) {
	case POL_OCSP_GOOD:
		if (known)
			return pol_refuse(d, POL_R_OCSP_GOOD_REVOKED, "\"good\" for serial %s, which key "
					  "%s revoked at %lld (reason %d)", sh, is->label,
					  (long long)in.rev.time, in.rev.reason);
		if (!pol_state_serial_not_after(st, is->label, s->serial.p, s->serial.len, &na))
			return pol_refuse(d, POL_R_OCSP_GOOD_NOT_ISSUED, "\"good\" for serial %s, which "
					  "key %s never issued%s", sh, is->label,
					  pol_state_ever_purged(st) ? " (or whose certificate expired "
					  "and was dropped from the state)" : "");
		if (na < now_s)
			return pol_refuse(d, POL_R_OCSP_GOOD_EXPIRED, "\"good\" for serial %s, whose "
					  "certificate expired %llds ago", sh, (long long)(now_s - na));
		return true;
	case POL_OCSP_REVOKED:
		if (!der_int_is_positive(&s->serial) || s->serial.len > POL_RFC_SERIAL_MAX)
			return pol_refuse(d, POL_R_OCSP_SERIAL, "\"revoked\" for serial %s, which is "
					  "not a positive INTEGER of at most %u octets", sh,
					  POL_RFC_SERIAL_MAX);
		if (s->reason == REASON_REMOVE_FROM_CRL)
			return pol_refuse(d, POL_R_OCSP_SERIAL, "\"revoked\" with reason removeFromCRL "
					  "for serial %s", sh);
		if (s->revocation_time > s->this_update)
			return pol_refuse(d, POL_R_REVOCATION_DATE, "serial %s is revoked at %lld, after "
					  "thisUpdate %lld", sh, (long long)s->revocation_time,
					  (long long)s->this_update);
		if (known) {
			if (in.rev.time != s->revocation_time ||
			    in.rev.reason != pol_rev_norm_reason(s->reason))
				return pol_refuse(d, POL_R_REVOCATION_CHANGED, "serial %s was revoked "
						  "by key %s at %lld with reason %d; this response says "
						  "%lld with reason %d (-1: none)", sh, is->label,
						  (long long)in.rev.time, in.rev.reason,
						  (long long)s->revocation_time,
						  pol_rev_norm_reason(s->reason));
			return true;
		}
		struct pol_revocation *v = &sum->revocations[sum->num_revocations++];
		memset(v, 0, sizeof(*v));
		memcpy(v->serial, s->serial.p, s->serial.len);
		v->serial_len = (uint8_t)s->serial.len;
		v->reason = (int8_t)pol_rev_norm_reason(s->reason);
		v->source = POL_REV_SRC_OCSP;
		v->time = s->revocation_time;
		return true;
	default:
		return true; /* "unknown" is always allowed */
	}
}

bool pol_eval_ocsp(const struct pol_state *st, const struct pol_ca_info *ca,
		   const struct pol_key_rules *kr, int64_t now_ns, struct pol_decision *d)
{
	const struct pol_ocsp_facts *f = &d->facts.ocsp;
	const struct pol_ocsp_rules *r = &kr->ocsp;
	struct pol_summary *sum = &d->summary;
	struct issuer is;
	int64_t now_s = now_ns / 1000000000LL;

	memset(&is, 0, sizeof(is));
	sum->num_entries = (uint32_t)f->num_responses;
	if (f->num_responses > 0) {
		sum->this_update = f->responses[0].this_update;
		sum->next_update = f->responses[0].has_next_update ? f->responses[0].next_update : 0;
	}
	if (!responder_ok(st, ca, kr, now_s, &is, d))
		return false;
	if (f->produced_at > now_s + r->clock_skew_s || f->produced_at < now_s - r->clock_skew_s)
		return pol_refuse(d, POL_R_OCSP_PRODUCED_AT, "producedAt is %+llds from now (allowed: "
				  "within %llds)", (long long)(f->produced_at - now_s),
				  (long long)r->clock_skew_s);
	if (r->nonce == POL_NONCE_REQUIRE && !f->has_nonce)
		return pol_refuse(d, POL_R_OCSP_NONCE, "key %s requires a nonce in OCSP responses",
				  ca->label);
	if (r->nonce == POL_NONCE_FORBID && f->has_nonce)
		return pol_refuse(d, POL_R_OCSP_NONCE, "key %s signs no OCSP response with a nonce",
				  ca->label);
	if (f->num_unknown_critical > 0)
		return pol_refuse(d, POL_R_OCSP_EXTENSION, "the response has an unknown critical "
				  "extension");
	if (f->num_responses == 0)
		return pol_refuse(d, POL_R_OCSP_EMPTY, "the response answers for no certificate");
	for (size_t i = 0; i < f->num_responses; i++)
		if (!check_single(st, kr, &is, now_s, i, d))
			return false;
	if (!pol_rev_has_room(pol_state_rev(st), sum->num_revocations, false, false, now_s))
		return pol_refuse(d, POL_R_REVOCATION_STATE_FULL, "the revocation state is full");
	sum->serial_len = 0;
	memset(sum->serial_hex, 0, sizeof(sum->serial_hex));
	return true;
}
