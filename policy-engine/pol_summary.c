/*
 * pol_summary.c - struct pol_summary as bytes (for the audit record's "pol_summary" field,
 * read back at replay), and what the enclave asks of a policy about a key.
 *
 * Format version 1, every integer big-endian, strings and byte strings length-prefixed:
 *   u8 version (1)
 *   u8 kind | u8 allowed | u8 prehashed | u16 reason | i64 time_ns
 *   str8 key_label | str8 profile | bytes8 serial (<= 20) | str8 serial_hex
 *   i64 not_before | i64 not_after | str16 subject | str16 sans | str8 provisioner
 *   u32 peer_uid | i32 peer_pid
 *   u8 num_charges (<= POL_MAX_CHARGES), each: u8 dim | 16 bucket | u64 count |
 *      i64 period_ns | u64 burst
 *   u8 ocsp_signer | 20 key_sha1 | 20 name_sha1 | 20 issuer_key_sha1 | 32 name_sha256 |
 *      32 key_sha256 | str8 ocsp_issuer_label
 *   bytes8 crl_number (<= 20) | u8 crl_delta | bytes8 crl_base (<= 20) |
 *      u8 crl_scope_full | 16 crl_scope
 *   i64 this_update | i64 next_update | u32 num_entries | u32 num_revocations
 *   u8 num_inline (= min(num_revocations, POL_SUMMARY_MAX_REVOCATIONS)), each:
 *      bytes8 pol_revocation_encode()
 * str8/bytes8: u8 length then bytes; str16: u16 length.  Strings hold no NUL and fit
 * their field with its terminator.  Decode refuses anything else, including trailing
 * bytes, booleans other than 0/1 and an unknown version.
 */
#include <string.h>

#include "pol_policy_int.h"
#include "policy.h"

struct sw {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

static void w_bytes(struct sw *w, const void *p, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void w_uint(struct sw *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	w_bytes(w, b, n);
}

static void w_str(struct sw *w, const char *s, size_t cap, unsigned len_octets)
{
	size_t n = strnlen(s, cap);
	if (n >= cap) {
		w->bad = true;
		return;
	}
	w_uint(w, n, len_octets);
	w_bytes(w, s, n);
}

static void w_blob(struct sw *w, const uint8_t *p, size_t n, size_t max)
{
	if (n > max) {
		w->bad = true;
		return;
	}
	w_uint(w, n, 1);
	w_bytes(w, p, n);
}

size_t pol_summary_encode(const struct pol_summary *s, uint8_t *out, size_t cap)
{
	struct sw w = {out, 0, cap, false};
	uint8_t rev[POL_REVOCATION_WIRE_MAX];

	if (s == NULL || out == NULL || s->num_charges > POL_MAX_CHARGES)
		return 0;
	w_uint(&w, POL_SUMMARY_VERSION, 1);
	w_uint(&w, s->kind, 1);
	w_uint(&w, s->allowed, 1);
	w_uint(&w, s->prehashed, 1);
	w_uint(&w, s->reason, 2);
	w_uint(&w, (uint64_t)s->time_ns, 8);
	w_str(&w, s->key_label, sizeof s->key_label, 1);
	w_str(&w, s->profile, sizeof s->profile, 1);
	w_blob(&w, s->serial, s->serial_len, POL_RFC_SERIAL_MAX);
	w_str(&w, s->serial_hex, sizeof s->serial_hex, 1);
	w_uint(&w, (uint64_t)s->not_before, 8);
	w_uint(&w, (uint64_t)s->not_after, 8);
	w_str(&w, s->subject, sizeof s->subject, 2);
	w_str(&w, s->sans, sizeof s->sans, 2);
	w_str(&w, s->provisioner, sizeof s->provisioner, 1);
	w_uint(&w, s->peer_uid, 4);
	w_uint(&w, (uint32_t)s->peer_pid, 4);
	w_uint(&w, s->num_charges, 1);
	for (uint32_t i = 0; i < s->num_charges; i++) {
		const struct pol_charge *c = &s->charges[i];
		w_uint(&w, c->dim, 1);
		w_bytes(&w, c->bucket, POL_BUCKET_ID_LEN);
		w_uint(&w, c->rate.count, 8);
		w_uint(&w, (uint64_t)c->rate.period_ns, 8);
		w_uint(&w, c->rate.burst, 8);
	}
	w_uint(&w, s->ocsp_signer, 1);
	w_bytes(&w, s->ocsp_signer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	w_bytes(&w, s->ocsp_issuer_name_sha1, POL_OCSP_KEY_HASH_LEN);
	w_bytes(&w, s->ocsp_issuer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	w_bytes(&w, s->ocsp_issuer_name_sha256, POL_SHA256_LEN);
	w_bytes(&w, s->ocsp_issuer_key_sha256, POL_SHA256_LEN);
	w_str(&w, s->ocsp_issuer_label, sizeof s->ocsp_issuer_label, 1);
	w_blob(&w, s->crl_number, s->crl_number_len, POL_CRL_NUMBER_MAX_LEN);
	w_uint(&w, s->crl_delta, 1);
	w_blob(&w, s->crl_base, s->crl_base_len, POL_CRL_NUMBER_MAX_LEN);
	w_uint(&w, s->crl_scope_full, 1);
	w_bytes(&w, s->crl_scope, POL_SCOPE_ID_LEN);
	w_uint(&w, (uint64_t)s->this_update, 8);
	w_uint(&w, (uint64_t)s->next_update, 8);
	w_uint(&w, s->num_entries, 4);
	w_uint(&w, s->num_revocations, 4);
	uint32_t inl = s->num_revocations < POL_SUMMARY_MAX_REVOCATIONS ? s->num_revocations
									: POL_SUMMARY_MAX_REVOCATIONS;
	w_uint(&w, inl, 1);
	for (uint32_t i = 0; i < inl; i++) {
		size_t n = pol_revocation_encode(&s->revocations[i], rev);
		w_blob(&w, rev, n, POL_REVOCATION_WIRE_MAX);
	}
	return w.bad ? 0 : w.len;
}

struct sr {
	const uint8_t *p;
	size_t len;
	bool bad;
};

static uint64_t r_uint(struct sr *r, unsigned n)
{
	uint64_t v = 0;
	if (r->bad || r->len < n) {
		r->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->len -= n;
	return v;
}

static bool r_bool(struct sr *r)
{
	uint64_t v = r_uint(r, 1);
	if (v > 1)
		r->bad = true;
	return v == 1;
}

static void r_bytes(struct sr *r, void *out, size_t n)
{
	if (r->bad || r->len < n) {
		r->bad = true;
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->len -= n;
}

static void r_str(struct sr *r, char *out, size_t cap, unsigned len_octets)
{
	size_t n = (size_t)r_uint(r, len_octets);
	if (r->bad || n >= cap || n > r->len || memchr(r->p, 0, n) != NULL) {
		r->bad = true;
		return;
	}
	r_bytes(r, out, n);
	out[n] = '\0';
}

static uint32_t r_blob(struct sr *r, uint8_t *out, size_t max)
{
	size_t n = (size_t)r_uint(r, 1);
	if (n > max) {
		r->bad = true;
		return 0;
	}
	r_bytes(r, out, n);
	return (uint32_t)n;
}

bool pol_summary_decode(const uint8_t *p, size_t len, struct pol_summary *out)
{
	struct sr r = {p, len, false};
	uint8_t rev[POL_REVOCATION_WIRE_MAX];

	if (out == NULL)
		return false;
	memset(out, 0, sizeof *out);
	if (p == NULL || len > POL_SUMMARY_WIRE_MAX || r_uint(&r, 1) != POL_SUMMARY_VERSION)
		goto bad;
	out->kind = (uint32_t)r_uint(&r, 1);
	out->allowed = r_bool(&r);
	out->prehashed = r_bool(&r);
	out->reason = (uint32_t)r_uint(&r, 2);
	out->time_ns = (int64_t)r_uint(&r, 8);
	r_str(&r, out->key_label, sizeof out->key_label, 1);
	r_str(&r, out->profile, sizeof out->profile, 1);
	out->serial_len = r_blob(&r, out->serial, POL_RFC_SERIAL_MAX);
	r_str(&r, out->serial_hex, sizeof out->serial_hex, 1);
	out->not_before = (int64_t)r_uint(&r, 8);
	out->not_after = (int64_t)r_uint(&r, 8);
	r_str(&r, out->subject, sizeof out->subject, 2);
	r_str(&r, out->sans, sizeof out->sans, 2);
	r_str(&r, out->provisioner, sizeof out->provisioner, 1);
	out->peer_uid = (uint32_t)r_uint(&r, 4);
	out->peer_pid = (int32_t)(uint32_t)r_uint(&r, 4);
	out->num_charges = (uint32_t)r_uint(&r, 1);
	if (out->kind > POL_KIND_OCSP_RESPONSE || out->reason > POL_R_MAX ||
	    out->num_charges > POL_MAX_CHARGES)
		goto bad;
	for (uint32_t i = 0; i < out->num_charges && !r.bad; i++) {
		struct pol_charge *c = &out->charges[i];
		c->dim = (uint32_t)r_uint(&r, 1);
		r_bytes(&r, c->bucket, POL_BUCKET_ID_LEN);
		c->rate.count = r_uint(&r, 8);
		c->rate.period_ns = (int64_t)r_uint(&r, 8);
		c->rate.burst = r_uint(&r, 8);
		if (c->dim >= POL_RATE_NUM || c->rate.period_ns < 0)
			goto bad;
	}
	out->ocsp_signer = r_bool(&r);
	r_bytes(&r, out->ocsp_signer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	r_bytes(&r, out->ocsp_issuer_name_sha1, POL_OCSP_KEY_HASH_LEN);
	r_bytes(&r, out->ocsp_issuer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	r_bytes(&r, out->ocsp_issuer_name_sha256, POL_SHA256_LEN);
	r_bytes(&r, out->ocsp_issuer_key_sha256, POL_SHA256_LEN);
	r_str(&r, out->ocsp_issuer_label, sizeof out->ocsp_issuer_label, 1);
	out->crl_number_len = r_blob(&r, out->crl_number, POL_CRL_NUMBER_MAX_LEN);
	out->crl_delta = r_bool(&r);
	out->crl_base_len = r_blob(&r, out->crl_base, POL_CRL_NUMBER_MAX_LEN);
	out->crl_scope_full = r_bool(&r);
	r_bytes(&r, out->crl_scope, POL_SCOPE_ID_LEN);
	out->this_update = (int64_t)r_uint(&r, 8);
	out->next_update = (int64_t)r_uint(&r, 8);
	out->num_entries = (uint32_t)r_uint(&r, 4);
	out->num_revocations = (uint32_t)r_uint(&r, 4);
	uint32_t inl = (uint32_t)r_uint(&r, 1);
	if (r.bad || out->num_revocations > POL_MAX_NEW_REVOCATIONS ||
	    inl != (out->num_revocations < POL_SUMMARY_MAX_REVOCATIONS
			    ? out->num_revocations
			    : POL_SUMMARY_MAX_REVOCATIONS))
		goto bad;
	for (uint32_t i = 0; i < inl && !r.bad; i++) {
		uint32_t n = r_blob(&r, rev, POL_REVOCATION_WIRE_MAX);
		if (r.bad || !pol_revocation_decode(rev, n, &out->revocations[i]))
			goto bad;
	}
	if (r.bad || r.len != 0)
		goto bad;
	return true;
bad:
	memset(out, 0, sizeof *out);
	return false;
}

int pol_policy_key_prehashed(const struct pol_policy *p, const char *label)
{
	const struct pol_key_rules *kr = p != NULL && label != NULL ? pol_policy_key(p, label)
								  : NULL;
	if (kr == NULL)
		return -1;
	return kr->prehashed == POL_PREHASHED_AUDIT ? 1 : 0;
}
