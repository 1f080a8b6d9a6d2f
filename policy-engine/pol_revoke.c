/*
 * pol_revoke.c - the revocation part of the policy state (issue 5 §3): every revocation a
 * key signed (CRL entry or OCSP "revoked"), the CRL numbering per (key, scope), and the
 * delegated OCSP responders the keys certified.  Reached through struct pol_state
 * (pol_rate.c); evaluation reads it, pol_rev_apply is the only writer.
 *
 * Revocations live in a dense array (append-only between compactions, so "every
 * revocation of key K" is a linear walk and evaluation can keep seen-sets by index) with
 * an open-addressing index of dense positions keyed by (key id, serial).  The index hash
 * is seeded per state so CRL contents cannot aim collisions at it; lookups compare the
 * stored bytes, so the seed never changes a result.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

#define REV_MIN_DENSE 64u

struct rev_entry {
	uint8_t key[POL_SCOPE_ID_LEN];
	struct pol_revocation rev;
	uint8_t sources;
	bool has_not_after;
	int64_t not_after;
	uint64_t scopes;
	uint64_t created_seq, bound_seq;
};

struct rev_scope {
	uint8_t key[POL_SCOPE_ID_LEN];
	uint8_t scope[POL_SCOPE_ID_LEN];
	bool full;
	struct pol_rev_scope_info info;
};
_Static_assert(POL_STATE_MAX_CRL_SCOPES <= 64u, "scope bits fit a uint64_t");

struct rev_responder {
	uint8_t key_sha1[POL_OCSP_KEY_HASH_LEN];
	struct pol_rev_responder_info info;
};

struct pol_rev_state {
	uint32_t max;
	size_t num, cap;            /* dense entries used / allocated */
	struct rev_entry *e;
	size_t idx_cap;             /* power of two >= 2 * max */
	uint32_t *idx;              /* dense position + 1; 0 empty */
	uint64_t seed;
	uint64_t seq;               /* CRL / OCSP summaries applied */
	size_t num_scopes;
	struct rev_scope scopes[POL_STATE_MAX_CRL_SCOPES];
	size_t num_resp;
	struct rev_responder resp[POL_STATE_MAX_RESPONDERS];
};
_Static_assert(POL_STATE_MAX_ENTRIES < UINT32_MAX, "dense positions fit the index");

bool pol_rev_new(uint32_t max_revocations, struct pol_rev_state **out)
{
	struct pol_rev_state *r;
	uint32_t max = max_revocations != 0 ? max_revocations : POL_STATE_DEFAULT_MAX_REVOCATIONS;
	*out = NULL;
	if (max > POL_STATE_MAX_ENTRIES)
		return false;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return false;
	r->max = max;
	r->idx_cap = 16;
	while (r->idx_cap < 2 * (size_t)max)
		r->idx_cap <<= 1;
	r->idx = calloc(r->idx_cap, sizeof(*r->idx));
	if (r->idx == NULL) {
		free(r);
		return false;
	}
	if (getrandom(&r->seed, sizeof(r->seed), GRND_NONBLOCK) != (ssize_t)sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r ^ 0x9e3779b97f4a7c15ull;
	*out = r;
	return true;
}

void pol_rev_free(struct pol_rev_state *r)
{
	if (r == NULL)
		return;
	free(r->e);
	free(r->idx);
	free(r);
}

void pol_rev_key_id(const char *label, uint8_t out[POL_SCOPE_ID_LEN])
{
	uint8_t md[SHA256_DIGEST_LENGTH], buf[8 + POL_NAME_MAX];
	size_t n = strnlen(label, POL_NAME_MAX - 1);
	memcpy(buf, "revokey", 8); /* domain separation from scope ids */
	memcpy(buf + 8, label, n);
	pol_sha256(buf, 8 + n, md);
	memcpy(out, md, POL_SCOPE_ID_LEN);
}

static uint64_t rev_hash(const struct pol_rev_state *r, const uint8_t *key, const uint8_t *s,
			 size_t n)
{
	uint64_t h = r->seed ^ 0xcbf29ce484222325ull;
	for (size_t i = 0; i < POL_SCOPE_ID_LEN; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	h ^= h >> 31; /* splitmix64 finaliser */
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static bool entry_is(const struct rev_entry *e, const uint8_t *key, const uint8_t *s, size_t n)
{
	return e->rev.serial_len == n && memcmp(e->key, key, POL_SCOPE_ID_LEN) == 0 &&
	       memcmp(e->rev.serial, s, n) == 0;
}

/* The index slot of (key, serial): holding it, or the empty slot where it would go. */
static size_t idx_slot(const struct pol_rev_state *r, const uint8_t *key, const uint8_t *s,
		       size_t n)
{
	size_t i = (size_t)rev_hash(r, key, s, n) & (r->idx_cap - 1);
	for (;; i = (i + 1) & (r->idx_cap - 1))
		if (r->idx[i] == 0 || entry_is(&r->e[r->idx[i] - 1], key, s, n))
			return i;
}

static void info_of(const struct rev_entry *e, size_t i, struct pol_rev_info *out)
{
	out->index = i;
	out->rev = e->rev;
	out->sources = e->sources;
	out->has_not_after = e->has_not_after;
	out->not_after = e->not_after;
	out->scopes = e->scopes;
	out->created_seq = e->created_seq;
	out->bound_seq = e->bound_seq;
}

bool pol_rev_find(const struct pol_rev_state *r, const uint8_t key_id[POL_SCOPE_ID_LEN],
		  const uint8_t *serial, size_t len, struct pol_rev_info *out)
{
	if (len == 0 || len > POL_RFC_SERIAL_MAX)
		return false;
	size_t i = idx_slot(r, key_id, serial, len);
	if (r->idx[i] == 0)
		return false;
	info_of(&r->e[r->idx[i] - 1], r->idx[i] - 1, out);
	return true;
}

size_t pol_rev_count(const struct pol_rev_state *r)
{
	return r->num;
}

bool pol_rev_at(const struct pol_rev_state *r, size_t i, const uint8_t key_id[POL_SCOPE_ID_LEN],
		struct pol_rev_info *out)
{
	if (i >= r->num || memcmp(r->e[i].key, key_id, POL_SCOPE_ID_LEN) != 0)
		return false;
	info_of(&r->e[i], i, out);
	return true;
}

static struct rev_scope *scope_find(const struct pol_rev_state *r, const uint8_t *key, bool full,
				    const uint8_t *scope)
{
	for (size_t i = 0; i < r->num_scopes; i++) {
		const struct rev_scope *sc = &r->scopes[i];
		if (memcmp(sc->key, key, POL_SCOPE_ID_LEN) == 0 && sc->full == full &&
		    (full || memcmp(sc->scope, scope, POL_SCOPE_ID_LEN) == 0))
			return (struct rev_scope *)sc;
	}
	return NULL;
}

void pol_rev_scope(const struct pol_rev_state *r, const uint8_t key_id[POL_SCOPE_ID_LEN], bool full,
		   const uint8_t scope[POL_SCOPE_ID_LEN], struct pol_rev_scope_info *out)
{
	const struct rev_scope *sc = scope_find(r, key_id, full, scope);
	memset(out, 0, sizeof(*out));
	out->index = -1;
	if (sc != NULL)
		*out = sc->info;
}

bool pol_rev_responder(const struct pol_rev_state *r, const uint8_t key_sha1[POL_OCSP_KEY_HASH_LEN],
		       struct pol_rev_responder_info *out)
{
	for (size_t i = 0; i < r->num_resp; i++)
		if (memcmp(r->resp[i].key_sha1, key_sha1, POL_OCSP_KEY_HASH_LEN) == 0) {
			*out = r->resp[i].info;
			return true;
		}
	return false;
}

static size_t droppable(const struct pol_rev_state *r, int64_t now_s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->num; i++)
		if (r->e[i].has_not_after && r->e[i].not_after < now_s)
			n++;
	return n;
}

static size_t responders_droppable(const struct pol_rev_state *r, int64_t now_s)
{
	size_t n = 0;
	for (size_t i = 0; i < r->num_resp; i++)
		if (r->resp[i].info.not_after < now_s)
			n++;
	return n;
}

bool pol_rev_has_room(const struct pol_rev_state *r, size_t n_new, bool new_scope,
		      bool new_responder, int64_t now_s)
{
	if (new_scope && r->num_scopes >= POL_STATE_MAX_CRL_SCOPES)
		return false;
	if (new_responder && r->num_resp >= POL_STATE_MAX_RESPONDERS &&
	    responders_droppable(r, now_s) == 0)
		return false;
	if (n_new > r->max)
		return false;
	if (r->num + n_new <= r->max)
		return true;
	return r->num - droppable(r, now_s) + n_new <= r->max; /* rare: O(n) */
}

/* Drops revocations of certificates expired before now_s and rebuilds the index. */
static void compact(struct pol_rev_state *r, int64_t now_s)
{
	size_t w = 0;
	for (size_t i = 0; i < r->num; i++)
		if (!(r->e[i].has_not_after && r->e[i].not_after < now_s))
			r->e[w++] = r->e[i];
	r->num = w;
	memset(r->idx, 0, r->idx_cap * sizeof(*r->idx));
	for (size_t i = 0; i < r->num; i++) {
		const struct rev_entry *e = &r->e[i];
		r->idx[idx_slot(r, e->key, e->rev.serial, e->rev.serial_len)] = (uint32_t)(i + 1);
	}
}

static void responders_compact(struct pol_rev_state *r, int64_t now_s)
{
	size_t w = 0;
	for (size_t i = 0; i < r->num_resp; i++)
		if (r->resp[i].info.not_after >= now_s)
			r->resp[w++] = r->resp[i];
	r->num_resp = w;
}

static bool reserve(struct pol_rev_state *r, size_t n)
{
	size_t cap = r->cap != 0 ? r->cap : REV_MIN_DENSE;
	if (r->num + n <= r->cap)
		return true;
	while (cap < r->num + n)
		cap *= 2;
	if (cap > r->max)
		cap = r->max;
	struct rev_entry *e = realloc(r->e, cap * sizeof(*e));
	if (e == NULL)
		return false;
	r->e = e;
	r->cap = cap;
	return true;
}

static bool revocation_ok(const struct pol_revocation *v)
{
	return v->serial_len >= 1 && v->serial_len <= POL_RFC_SERIAL_MAX && v->reserved == 0 &&
	       (v->source == POL_REV_SRC_CRL || v->source == POL_REV_SRC_OCSP) &&
	       (v->reason == -1 || (v->reason >= 1 && v->reason <= 10 && v->reason != 7 &&
				    v->reason != 8)) &&
	       der_int_is_positive(&(struct der_cur){ v->serial, v->serial_len }) &&
	       der_int_is_minimal(&(struct der_cur){ v->serial, v->serial_len });
}

bool pol_rev_summary_ok(const struct pol_summary *sum, const struct pol_revocation *all, size_t n)
{
	if (sum->crl_number_len > POL_CRL_NUMBER_MAX_LEN || sum->crl_base_len > POL_CRL_NUMBER_MAX_LEN ||
	    sum->num_revocations > POL_MAX_NEW_REVOCATIONS || n != sum->num_revocations ||
	    memchr(sum->ocsp_issuer_label, '\0', POL_NAME_MAX) == NULL ||
	    (sum->kind != POL_KIND_OCSP_RESPONSE && sum->ocsp_issuer_label[0] != '\0'))
		return false;
	if (sum->kind == POL_KIND_TBS_CRL && (sum->crl_number_len == 0 ||
					      (sum->crl_delta && sum->crl_base_len == 0)))
		return false;
	if (sum->kind == POL_KIND_OCSP_RESPONSE && n > POL_MAX_OCSP_RESPONSES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!revocation_ok(&all[i]) ||
		    all[i].source != (sum->kind == POL_KIND_TBS_CRL ? POL_REV_SRC_CRL : POL_REV_SRC_OCSP))
			return false;
	return true;
}

static bool apply_responder(struct pol_rev_state *r, const struct pol_summary *sum)
{
	struct rev_responder *slot = NULL;
	int64_t now_s = sum->time_ns / 1000000000LL;
	for (size_t i = 0; i < r->num_resp && slot == NULL; i++)
		if (memcmp(r->resp[i].key_sha1, sum->ocsp_signer_key_sha1, POL_OCSP_KEY_HASH_LEN) == 0)
			slot = &r->resp[i];
	if (slot == NULL) {
		if (r->num_resp >= POL_STATE_MAX_RESPONDERS)
			responders_compact(r, now_s);
		if (r->num_resp >= POL_STATE_MAX_RESPONDERS)
			return false;
		slot = &r->resp[r->num_resp++];
	}
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->key_sha1, sum->ocsp_signer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	memcpy(slot->info.issuer_label, sum->key_label, POL_NAME_MAX);
	slot->info.not_after = sum->not_after;
	memcpy(slot->info.name_sha1, sum->ocsp_issuer_name_sha1, POL_OCSP_KEY_HASH_LEN);
	memcpy(slot->info.key_sha1, sum->ocsp_issuer_key_sha1, POL_OCSP_KEY_HASH_LEN);
	memcpy(slot->info.name_sha256, sum->ocsp_issuer_name_sha256, POL_SHA256_LEN);
	memcpy(slot->info.key_sha256, sum->ocsp_issuer_key_sha256, POL_SHA256_LEN);
	return true;
}

static void scope_record(struct rev_scope *sc, const struct pol_summary *sum, uint64_t seq)
{
	struct pol_rev_scope_info *in = &sc->info;
	memcpy(in->last, sum->crl_number, sum->crl_number_len);
	in->last_len = sum->crl_number_len;
	if (sum->crl_delta)
		return;
	if (in->num_bases == POL_CRL_BASES_KEPT) {
		memmove(&in->bases[0], &in->bases[1], sizeof(in->bases[0]) * (POL_CRL_BASES_KEPT - 1));
		in->num_bases--;
	}
	memcpy(in->bases[in->num_bases].num, sum->crl_number, sum->crl_number_len);
	in->bases[in->num_bases].len = sum->crl_number_len;
	in->bases[in->num_bases].seq = seq;
	in->num_bases++;
}

bool pol_rev_apply(struct pol_rev_state *r, const struct pol_summary *sum,
		   const struct pol_revocation *all, size_t n, pol_not_after_fn fn, const void *ctx)
{
	uint8_t key[POL_SCOPE_ID_LEN];
	struct rev_scope *sc = NULL;
	int64_t now_s = sum->time_ns / 1000000000LL;

	if (sum->kind == POL_KIND_TBS_CERT)
		return !sum->ocsp_signer || apply_responder(r, sum);
	if (sum->kind != POL_KIND_TBS_CRL && sum->kind != POL_KIND_OCSP_RESPONSE)
		return true;
	if (!pol_rev_summary_ok(sum, all, n))
		return false;
	const char *label = sum->ocsp_issuer_label[0] != '\0' ? sum->ocsp_issuer_label
							       : sum->key_label;
	pol_rev_key_id(label, key);
	if (sum->kind == POL_KIND_TBS_CRL) {
		sc = scope_find(r, key, sum->crl_scope_full, sum->crl_scope);
		if (sc == NULL && r->num_scopes >= POL_STATE_MAX_CRL_SCOPES)
			return false;
	}
	/* room first: nothing changes unless everything fits */
	if (r->num + n > r->max)
		compact(r, now_s);
	if (r->num + n > r->max || !reserve(r, n))
		return false;
	uint64_t seq = ++r->seq;
	if (sum->kind == POL_KIND_TBS_CRL) {
		if (sc == NULL) {
			sc = &r->scopes[r->num_scopes];
			memset(sc, 0, sizeof(*sc));
			memcpy(sc->key, key, POL_SCOPE_ID_LEN);
			sc->full = sum->crl_scope_full;
			if (!sc->full)
				memcpy(sc->scope, sum->crl_scope, POL_SCOPE_ID_LEN);
			sc->info.index = (int)r->num_scopes++;
		}
		scope_record(sc, sum, seq);
	}
	for (size_t i = 0; i < n; i++) {
		const struct pol_revocation *v = &all[i];
		size_t slot = idx_slot(r, key, v->serial, v->serial_len);
		struct rev_entry *e;
		if (r->idx[slot] == 0) {
			e = &r->e[r->num];
			memset(e, 0, sizeof(*e));
			memcpy(e->key, key, POL_SCOPE_ID_LEN);
			e->rev = *v;
			e->has_not_after = fn(ctx, label, v->serial, v->serial_len, &e->not_after);
			e->created_seq = e->bound_seq = seq;
			r->idx[slot] = (uint32_t)(++r->num);
		} else {
			e = &r->e[r->idx[slot] - 1];
		}
		e->sources |= v->source;
		if (sc != NULL && (e->scopes & (1ull << sc->info.index)) == 0) {
			e->scopes |= 1ull << sc->info.index;
			e->bound_seq = seq;
		}
	}
	return true;
}

size_t pol_revocation_encode(const struct pol_revocation *r, uint8_t out[POL_REVOCATION_WIRE_MAX])
{
	size_t n = 0;
	uint64_t t = (uint64_t)r->time;
	out[n++] = r->serial_len;
	memcpy(out + n, r->serial, r->serial_len);
	n += r->serial_len;
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(t >> (8 * i));
	out[n++] = (uint8_t)r->reason;
	out[n++] = r->source;
	return n;
}

bool pol_revocation_decode(const uint8_t *p, size_t len, struct pol_revocation *out)
{
	uint64_t t = 0;
	memset(out, 0, sizeof(*out));
	if (p == NULL || len < 1 || p[0] == 0 || p[0] > POL_RFC_SERIAL_MAX ||
	    len != 1u + p[0] + 8u + 1u + 1u)
		return false;
	out->serial_len = p[0];
	memcpy(out->serial, p + 1, p[0]);
	for (size_t i = 0; i < 8; i++)
		t = (t << 8) | p[1 + p[0] + i];
	out->time = (int64_t)t;
	out->reason = (int8_t)p[1 + p[0] + 8];
	out->source = p[1 + p[0] + 9];
	if (!revocation_ok(out)) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}

int pol_int_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	while (alen > 0 && a[0] == 0) {
		a++;
		alen--;
	}
	while (blen > 0 && b[0] == 0) {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	int c = alen ? memcmp(a, b, alen) : 0;
	return c < 0 ? -1 : c > 0;
}

bool pol_state_revocation(const struct pol_state *s, const char *key_label, const uint8_t *serial,
			  size_t serial_len, struct pol_revocation *out)
{
	uint8_t key[POL_SCOPE_ID_LEN];
	struct pol_rev_info in;
	pol_rev_key_id(key_label, key);
	if (!pol_rev_find(pol_state_rev(s), key, serial, serial_len, &in))
		return false;
	*out = in.rev;
	return true;
}

size_t pol_state_num_revocations(const struct pol_state *s)
{
	return pol_state_rev(s)->num;
}

bool pol_state_crl_number(const struct pol_state *s, const char *key_label,
			  const uint8_t scope[POL_SCOPE_ID_LEN], uint8_t out[POL_CRL_NUMBER_MAX_LEN],
			  size_t *out_len)
{
	uint8_t key[POL_SCOPE_ID_LEN];
	struct pol_rev_scope_info in;
	pol_rev_key_id(key_label, key);
	pol_rev_scope(pol_state_rev(s), key, scope == NULL, scope, &in);
	if (in.index < 0)
		return false;
	memcpy(out, in.last, in.last_len);
	*out_len = in.last_len;
	return true;
}

/* ----- raw access for the snapshot codec (pol_state_codec.c) ------------------------- */

uint32_t pol_rev_max(const struct pol_rev_state *r)
{
	return r->max;
}

uint64_t pol_rev_seq(const struct pol_rev_state *r)
{
	return r->seq;
}

size_t pol_rev_num_scopes(const struct pol_rev_state *r)
{
	return r->num_scopes;
}

size_t pol_rev_num_responders(const struct pol_rev_state *r)
{
	return r->num_resp;
}

void pol_rev_entry_at(const struct pol_rev_state *r, size_t i, uint8_t out_key[POL_SCOPE_ID_LEN],
		      struct pol_rev_info *out)
{
	memcpy(out_key, r->e[i].key, POL_SCOPE_ID_LEN);
	info_of(&r->e[i], i, out);
}

void pol_rev_scope_at(const struct pol_rev_state *r, size_t i, struct pol_rev_scope_row *out)
{
	const struct rev_scope *sc = &r->scopes[i];
	memset(out, 0, sizeof(*out));
	memcpy(out->key, sc->key, POL_SCOPE_ID_LEN);
	memcpy(out->scope, sc->scope, POL_SCOPE_ID_LEN);
	out->full = sc->full;
	out->info = sc->info;
}

void pol_rev_responder_at(const struct pol_rev_state *r, size_t i, struct pol_rev_responder_row *out)
{
	memcpy(out->key_sha1, r->resp[i].key_sha1, POL_OCSP_KEY_HASH_LEN);
	out->info = r->resp[i].info;
}

bool pol_rev_restore(struct pol_rev_state *r, uint64_t seq, const struct pol_rev_scope_row *scopes,
		     size_t num_scopes, const struct pol_rev_responder_row *resp, size_t num_resp)
{
	if (r->num != 0 || r->num_scopes != 0 || r->num_resp != 0 ||
	    num_scopes > POL_STATE_MAX_CRL_SCOPES || num_resp > POL_STATE_MAX_RESPONDERS)
		return false;
	for (size_t i = 0; i < num_scopes; i++) {
		struct rev_scope *sc = &r->scopes[i];
		memset(sc, 0, sizeof(*sc));
		memcpy(sc->key, scopes[i].key, POL_SCOPE_ID_LEN);
		memcpy(sc->scope, scopes[i].scope, POL_SCOPE_ID_LEN);
		sc->full = scopes[i].full;
		sc->info = scopes[i].info;
	}
	for (size_t i = 0; i < num_resp; i++) {
		memcpy(r->resp[i].key_sha1, resp[i].key_sha1, POL_OCSP_KEY_HASH_LEN);
		r->resp[i].info = resp[i].info;
	}
	r->num_scopes = num_scopes;
	r->num_resp = num_resp;
	r->seq = seq;
	return true;
}

bool pol_rev_restore_entry(struct pol_rev_state *r, const uint8_t key[POL_SCOPE_ID_LEN],
			   const struct pol_rev_info *in)
{
	const struct pol_revocation *v = &in->rev;
	if (!revocation_ok(v) || r->num >= r->max || !reserve(r, 1))
		return false;
	size_t slot = idx_slot(r, key, v->serial, v->serial_len);
	if (r->idx[slot] != 0)
		return false;
	struct rev_entry *e = &r->e[r->num];
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, POL_SCOPE_ID_LEN);
	e->rev = *v;
	e->sources = in->sources;
	e->has_not_after = in->has_not_after;
	e->not_after = in->not_after;
	e->scopes = in->scopes;
	e->created_seq = in->created_seq;
	e->bound_seq = in->bound_seq;
	r->idx[slot] = (uint32_t)(++r->num);
	return true;
}
