/*
 * pol_rate.c - the policy state: issued serials per key and GCRA rate-limit buckets,
 * in two open-addressing hash tables of fixed capacity (policy.h, struct pol_state).
 *
 * GCRA, exactly: a bucket keeps its theoretical arrival time TAT as the rational
 * tat_ns + rem / count.  With S = TAT * count, one event at t gives
 * S' = max(S, t * count) + period, and fits iff S' - t * count <= burst * period: all
 * integer arithmetic (128-bit), no drift however long the period.
 */
#include <openssl/sha.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "pol_policy_int.h"

typedef __int128 pol_i128;

struct serial_slot {
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t not_after;
	bool used;
};

struct bucket_slot {
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t tat_ns;
	uint64_t rem;
	uint64_t count;
	bool used;
};

struct pol_state {
	const struct pol_psl *psl;
	uint32_t max_serials, max_buckets;
	size_t ser_cap, bkt_cap; /* powers of two, >= 2 * max */
	size_t num_ser, num_bkt;
	struct serial_slot *ser;
	struct bucket_slot *bkt;
	bool ever_purged;            /* some expired serial was dropped */
	struct pol_rev_state *rev;   /* revocations, CRL numbers, responders (pol_revoke.c) */
};

struct pol_psl {
	psl_ctx_t *ctx;
};

_Static_assert(POL_STATE_DEFAULT_MAX_SERIALS <= POL_STATE_MAX_ENTRIES, "default in bounds");
_Static_assert(POL_STATE_DEFAULT_MAX_BUCKETS <= POL_STATE_MAX_ENTRIES, "default in bounds");

bool pol_psl_load(const char *path, struct pol_psl **out)
{
	struct pol_psl *p;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return false;
	if (path != NULL)
		p->ctx = psl_load_file(path);
	else if ((p->ctx = psl_load_file(POL_PSL_DAFSA)) == NULL)
		p->ctx = psl_load_file(POL_PSL_DAT);
	if (p->ctx == NULL) {
		free(p);
		return false;
	}
	*out = p;
	return true;
}

void pol_psl_free(struct pol_psl *psl)
{
	if (psl == NULL)
		return;
	psl_free(psl->ctx);
	free(psl);
}

bool pol_registered_domain(const struct pol_psl *psl, const char *host, char *out, size_t cap)
{
	const char *r = NULL;
	size_t len;

	if (psl != NULL) {
		r = psl_registrable_domain(psl->ctx, host);
	} else {
		const char *last = strrchr(host, '.');
		r = host;
		if (last != NULL) {
			for (const char *q = last - 1; q >= host; q--)
				if (*q == '.') {
					r = q + 1;
					break;
				}
		}
	}
	if (r == NULL || (len = strlen(r)) >= cap || len == 0)
		return false;
	memcpy(out, r, len + 1);
	return true;
}

/* SHA-256(tag octet, label, NUL, key) truncated; keys longer than POL_ID_INLINE_KEY are
 * replaced by their own SHA-256 first (with a distinct marker octet).  One call per id
 * (pol_sha256: the digest fetched once), as this is on the signing path. */
#define POL_ID_INLINE_KEY 256u
static void id_of(uint8_t tag, const char *label, const void *key, size_t key_len,
		  uint8_t out[POL_BUCKET_ID_LEN])
{
	uint8_t buf[2 + POL_NAME_MAX + POL_ID_INLINE_KEY], md[SHA256_DIGEST_LENGTH];
	size_t ll = strnlen(label, POL_NAME_MAX - 1), n = 0;

	buf[n++] = tag;
	memcpy(buf + n, label, ll);
	n += ll;
	buf[n++] = 0;
	if (key_len <= POL_ID_INLINE_KEY) {
		buf[n++] = 0;
		memcpy(buf + n, key, key_len);
		n += key_len;
	} else {
		buf[n++] = 1;
		pol_sha256(key, key_len, buf + n);
		n += SHA256_DIGEST_LENGTH;
	}
	pol_sha256(buf, n, md);
	memcpy(out, md, POL_BUCKET_ID_LEN);
}

#define POL_SERIAL_ID_TAG 0xffu
_Static_assert(POL_RATE_NUM < POL_SERIAL_ID_TAG, "serial ids never collide with buckets");

void pol_bucket_id(enum pol_rate_dim dim, const char *label, const void *key, size_t key_len,
		   uint8_t out[POL_BUCKET_ID_LEN])
{
	id_of((uint8_t)dim, label, key, key_len, out);
}

static void serial_id(const char *label, const uint8_t *serial, size_t len,
		      uint8_t out[POL_BUCKET_ID_LEN])
{
	id_of(POL_SERIAL_ID_TAG, label, serial, len, out);
}

static size_t slot_of(const uint8_t *id, size_t cap)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (cap - 1));
}

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;
	while (c < n)
		c <<= 1;
	return c;
}

bool pol_state_new(const struct pol_state_limits *lim, const struct pol_psl *psl,
		   struct pol_state **out)
{
	struct pol_state *s;
	uint32_t ms = lim != NULL && lim->max_serials != 0 ? lim->max_serials
							   : POL_STATE_DEFAULT_MAX_SERIALS;
	uint32_t mb = lim != NULL && lim->max_buckets != 0 ? lim->max_buckets
							   : POL_STATE_DEFAULT_MAX_BUCKETS;

	*out = NULL;
	if (ms > POL_STATE_MAX_ENTRIES || mb > POL_STATE_MAX_ENTRIES)
		return false;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return false;
	s->psl = psl;
	s->max_serials = ms;
	s->max_buckets = mb;
	s->ser_cap = pow2_at_least(2 * (size_t)ms);
	s->bkt_cap = pow2_at_least(2 * (size_t)mb);
	s->ser = calloc(s->ser_cap, sizeof(*s->ser));
	s->bkt = calloc(s->bkt_cap, sizeof(*s->bkt));
	if (s->ser == NULL || s->bkt == NULL ||
	    !pol_rev_new(lim != NULL ? lim->max_revocations : 0, &s->rev)) {
		pol_state_free(s);
		return false;
	}
	*out = s;
	return true;
}

void pol_state_free(struct pol_state *s)
{
	if (s == NULL)
		return;
	free(s->ser);
	free(s->bkt);
	pol_rev_free(s->rev);
	free(s);
}

const struct pol_rev_state *pol_state_rev(const struct pol_state *s)
{
	return s->rev;
}

bool pol_state_ever_purged(const struct pol_state *s)
{
	return s->ever_purged;
}

size_t pol_state_num_serials(const struct pol_state *s)
{
	return s->num_ser;
}

size_t pol_state_num_buckets(const struct pol_state *s)
{
	return s->num_bkt;
}

const struct pol_psl *pol_state_psl(const struct pol_state *s)
{
	return s->psl;
}

static struct serial_slot *ser_find(const struct pol_state *s, const uint8_t *id)
{
	for (size_t i = slot_of(id, s->ser_cap);; i = (i + 1) & (s->ser_cap - 1)) {
		struct serial_slot *e = &s->ser[i];
		if (!e->used || memcmp(e->id, id, POL_BUCKET_ID_LEN) == 0)
			return e;
	}
}

static struct bucket_slot *bkt_find(const struct pol_state *s, const uint8_t *id)
{
	for (size_t i = slot_of(id, s->bkt_cap);; i = (i + 1) & (s->bkt_cap - 1)) {
		struct bucket_slot *e = &s->bkt[i];
		if (!e->used || memcmp(e->id, id, POL_BUCKET_ID_LEN) == 0)
			return e;
	}
}

bool pol_state_has_serial(const struct pol_state *s, const char *key_label, const uint8_t *serial,
			  size_t serial_len)
{
	uint8_t id[POL_BUCKET_ID_LEN];
	serial_id(key_label, serial, serial_len, id);
	return ser_find(s, id)->used;
}

bool pol_state_serial_not_after(const struct pol_state *s, const char *key_label,
				const uint8_t *serial, size_t len, int64_t *out)
{
	uint8_t id[POL_BUCKET_ID_LEN];
	const struct serial_slot *e;
	if (len == 0 || len > POL_RFC_SERIAL_MAX)
		return false;
	serial_id(key_label, serial, len, id);
	e = ser_find(s, id);
	if (!e->used)
		return false;
	*out = e->not_after;
	return true;
}

static bool not_after_cb(const void *ctx, const char *label, const uint8_t *serial, size_t len,
			 int64_t *out)
{
	return pol_state_serial_not_after(ctx, label, serial, len, out);
}

bool pol_state_bucket_tat(const struct pol_state *s, const uint8_t id[POL_BUCKET_ID_LEN],
			  int64_t *out_tat_ns)
{
	const struct bucket_slot *b = bkt_find(s, id);
	if (!b->used)
		return false;
	*out_tat_ns = b->tat_ns;
	return true;
}

/* S of a bucket in units of 1/count ns, rescaled if the limit's count changed. */
static pol_i128 bucket_s(const struct bucket_slot *b, uint64_t count)
{
	pol_i128 s = (pol_i128)b->tat_ns * (pol_i128)b->count + (pol_i128)b->rem;
	if (b->count != count)
		s = s * (pol_i128)count / (pol_i128)b->count;
	return s;
}

static pol_i128 gcra_next(const struct bucket_slot *b, const struct pol_rate *r, int64_t now_ns)
{
	pol_i128 t = (pol_i128)now_ns * (pol_i128)r->count;
	pol_i128 s = b->used ? bucket_s(b, r->count) : t;
	if (s < t)
		s = t;
	return s + (pol_i128)r->period_ns;
}

bool pol_state_charge_fits(const struct pol_state *s, const struct pol_charge *c, int64_t now_ns)
{
	if (c->rate.count == 0)
		return true;
	const struct bucket_slot *b = bkt_find(s, c->bucket);
	pol_i128 next = gcra_next(b, &c->rate, now_ns);
	pol_i128 t = (pol_i128)now_ns * (pol_i128)c->rate.count;
	return next - t <= (pol_i128)c->rate.burst * (pol_i128)c->rate.period_ns;
}

/* Rebuilds both tables without expired serials and idle buckets (TAT <= now). */
static void purge(struct pol_state *s, int64_t now_ns)
{
	int64_t now_s = now_ns / POL_NS_PER_S;
	struct serial_slot *old_ser = s->ser;
	struct bucket_slot *old_bkt = s->bkt;
	struct serial_slot *ns = calloc(s->ser_cap, sizeof(*ns));
	struct bucket_slot *nb = calloc(s->bkt_cap, sizeof(*nb));

	if (ns == NULL || nb == NULL) {
		free(ns);
		free(nb);
		return; /* nothing dropped: the caller sees the table still full */
	}
	s->ser = ns;
	s->bkt = nb;
	s->num_ser = s->num_bkt = 0;
	for (size_t i = 0; i < s->ser_cap; i++) {
		if (old_ser[i].used && old_ser[i].not_after < now_s)
			s->ever_purged = true;
		if (!old_ser[i].used || old_ser[i].not_after < now_s)
			continue;
		*ser_find(s, old_ser[i].id) = old_ser[i];
		s->num_ser++;
	}
	for (size_t i = 0; i < s->bkt_cap; i++) {
		if (!old_bkt[i].used || old_bkt[i].tat_ns <= now_ns)
			continue;
		*bkt_find(s, old_bkt[i].id) = old_bkt[i];
		s->num_bkt++;
	}
	free(old_ser);
	free(old_bkt);
}

static size_t new_entries(const struct pol_state *s, const struct pol_summary *sum,
			  size_t *out_new_buckets)
{
	size_t nb = 0, nser = 0;
	for (uint32_t i = 0; i < sum->num_charges && i < POL_MAX_CHARGES; i++)
		if (sum->charges[i].rate.count > 0 && !bkt_find(s, sum->charges[i].bucket)->used)
			nb++;
	if (sum->kind == POL_KIND_TBS_CERT && sum->serial_len > 0 &&
	    sum->serial_len <= POL_RFC_SERIAL_MAX &&
	    !pol_state_has_serial(s, sum->key_label, sum->serial, sum->serial_len))
		nser = 1;
	*out_new_buckets = nb;
	return nser;
}

bool pol_state_has_room(const struct pol_state *s, const struct pol_summary *sum, int64_t now_ns)
{
	size_t nb, nser = new_entries(s, sum, &nb);
	size_t idle_ser = 0, idle_bkt = 0;
	int64_t now_s = now_ns / POL_NS_PER_S;

	if (s->num_ser + nser <= s->max_serials && s->num_bkt + nb <= s->max_buckets)
		return true;
	/* near full: count what a purge would free (rare, O(capacity)) */
	for (size_t i = 0; i < s->ser_cap; i++)
		if (s->ser[i].used && s->ser[i].not_after < now_s)
			idle_ser++;
	for (size_t i = 0; i < s->bkt_cap; i++)
		if (s->bkt[i].used && s->bkt[i].tat_ns <= now_ns)
			idle_bkt++;
	return s->num_ser - idle_ser + nser <= s->max_serials &&
	       s->num_bkt - idle_bkt + nb <= s->max_buckets;
}

static bool apply(struct pol_state *s, const struct pol_summary *sum,
		  const struct pol_revocation *all, size_t n)
{
	int64_t now_s;
	if (s == NULL || sum == NULL || sum->num_charges > POL_MAX_CHARGES ||
	    sum->serial_len > POL_RFC_SERIAL_MAX || memchr(sum->key_label, '\0', POL_NAME_MAX) == NULL)
		return false;
	if (!sum->allowed)
		return true;
	if (!pol_state_has_room(s, sum, sum->time_ns))
		return false;
	now_s = sum->time_ns / POL_NS_PER_S;
	size_t nb, nser = new_entries(s, sum, &nb);
	if (s->num_ser + nser > s->max_serials || s->num_bkt + nb > s->max_buckets)
		purge(s, sum->time_ns);
	if (s->num_ser + nser > s->max_serials || s->num_bkt + nb > s->max_buckets)
		return false;
	if (sum->kind == POL_KIND_TBS_CRL || sum->kind == POL_KIND_OCSP_RESPONSE) {
		/* every revocation table is checked before anything changes */
		uint8_t key[POL_SCOPE_ID_LEN];
		struct pol_rev_scope_info sc;
		if (!pol_rev_summary_ok(sum, all, n))
			return false;
		pol_rev_key_id(sum->key_label, key);
		pol_rev_scope(s->rev, key, sum->crl_scope_full, sum->crl_scope, &sc);
		if (!pol_rev_has_room(s->rev, n, sum->kind == POL_KIND_TBS_CRL && sc.index < 0, false,
				      now_s) ||
		    !pol_rev_apply(s->rev, sum, all, n, not_after_cb, s))
			return false;
	} else if (sum->kind == POL_KIND_TBS_CERT && sum->ocsp_signer) {
		if (!pol_rev_has_room(s->rev, 0, false, true, now_s) ||
		    !pol_rev_apply(s->rev, sum, NULL, 0, not_after_cb, s))
			return false;
	}
	if (nser) {
		uint8_t id[POL_BUCKET_ID_LEN];
		serial_id(sum->key_label, sum->serial, sum->serial_len, id);
		struct serial_slot *e = ser_find(s, id);
		memcpy(e->id, id, sizeof(id));
		e->not_after = sum->not_after;
		e->used = true;
		s->num_ser++;
	}
	for (uint32_t i = 0; i < sum->num_charges; i++) {
		const struct pol_charge *c = &sum->charges[i];
		if (c->rate.count == 0 || c->rate.period_ns <= 0)
			continue;
		struct bucket_slot *b = bkt_find(s, c->bucket);
		pol_i128 next = gcra_next(b, &c->rate, sum->time_ns);
		if (!b->used) {
			memcpy(b->id, c->bucket, POL_BUCKET_ID_LEN);
			b->used = true;
			s->num_bkt++;
		}
		b->count = c->rate.count;
		b->tat_ns = (int64_t)(next / (pol_i128)c->rate.count);
		b->rem = (uint64_t)(next % (pol_i128)c->rate.count);
	}
	return true;
}

bool pol_state_apply(struct pol_state *s, const struct pol_summary *sum)
{
	if (sum != NULL && sum->num_revocations > POL_SUMMARY_MAX_REVOCATIONS)
		return false; /* the inline array holds only the first ones */
	return apply(s, sum, sum != NULL ? sum->revocations : NULL,
		     sum != NULL ? sum->num_revocations : 0);
}

bool pol_state_apply_revocations(struct pol_state *s, const struct pol_summary *sum,
				 const struct pol_revocation *all, size_t n)
{
	if (sum == NULL || (n > 0 && all == NULL))
		return false;
	return apply(s, sum, all, n);
}

bool pol_state_commit(struct pol_state *s, const struct pol_decision *d)
{
	struct pol_revocation *all = NULL;
	struct pol_rev_iter it;
	size_t n = 0;
	bool ok = false;
	if (d == NULL || !d->allowed)
		return d != NULL;
	if (d->summary.num_revocations <= POL_SUMMARY_MAX_REVOCATIONS)
		return pol_state_apply(s, &d->summary);
	all = malloc(sizeof(*all) * d->summary.num_revocations);
	if (all == NULL)
		goto out;
	pol_revocations_begin(&it, d, s);
	while (n < d->summary.num_revocations && pol_revocations_next(&it, &all[n]))
		n++;
	ok = n == d->summary.num_revocations && pol_state_apply_revocations(s, &d->summary, all, n);
out:
	free(all);
	return ok;
}

/* ----- raw access for the snapshot codec (pol_state_codec.c) ------------------------- */

void pol_state_limits_get(const struct pol_state *s, struct pol_state_limits *out)
{
	out->max_serials = s->max_serials;
	out->max_buckets = s->max_buckets;
	out->max_revocations = pol_rev_max(s->rev);
}

size_t pol_state_serial_rows(const struct pol_state *s, struct pol_state_serial_row *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->ser_cap; i++)
		if (s->ser[i].used) {
			memcpy(out[n].id, s->ser[i].id, POL_BUCKET_ID_LEN);
			out[n++].not_after = s->ser[i].not_after;
		}
	return n;
}

size_t pol_state_bucket_rows(const struct pol_state *s, struct pol_state_bucket_row *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->bkt_cap; i++)
		if (s->bkt[i].used) {
			memcpy(out[n].id, s->bkt[i].id, POL_BUCKET_ID_LEN);
			out[n].tat_ns = s->bkt[i].tat_ns;
			out[n].rem = s->bkt[i].rem;
			out[n++].count = s->bkt[i].count;
		}
	return n;
}

bool pol_state_serial_restore(struct pol_state *s, const struct pol_state_serial_row *r)
{
	struct serial_slot *e = ser_find(s, r->id);
	if (e->used || s->num_ser >= s->max_serials)
		return false;
	memcpy(e->id, r->id, POL_BUCKET_ID_LEN);
	e->not_after = r->not_after;
	e->used = true;
	s->num_ser++;
	return true;
}

bool pol_state_bucket_restore(struct pol_state *s, const struct pol_state_bucket_row *r)
{
	struct bucket_slot *b = bkt_find(s, r->id);
	if (b->used || s->num_bkt >= s->max_buckets || r->count == 0 || r->rem >= r->count)
		return false;
	memcpy(b->id, r->id, POL_BUCKET_ID_LEN);
	b->tat_ns = r->tat_ns;
	b->rem = r->rem;
	b->count = r->count;
	b->used = true;
	s->num_bkt++;
	return true;
}

void pol_state_purged_restore(struct pol_state *s)
{
	s->ever_purged = true;
}

struct pol_rev_state *pol_state_rev_mut(struct pol_state *s)
{
	return s->rev;
}
