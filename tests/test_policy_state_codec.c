/*
 * test_policy_state_codec.c - the whole policy state as bytes (pol_state_encode /
 * pol_state_decode, for the enclave's audit-log snapshots): encode -> decode -> encode
 * gives the same bytes whatever the table capacities; a decoded state decides exactly as
 * the original (serial reuse, rate buckets, revocations, CRL numbering, delegated
 * responders); truncations, bit flips and every structural defect are refused with the
 * output NULL and a reason.
 */
#include <openssl/sha.h>

#include "pol_policy_int.h"
#include "tests/policy/revtest.h"

#define A 0x1001L
#define B 0x1002L
#define C 0x1003L
#define IDP1 "critical,fullname:URI:http://crl.example.com/1.crl"
#define LEAF(i) (0x1000000000000000L + (i))
#define HDR 13u     /* magic, version, flags */
#define DIGEST 32u

static struct pt_ca ca;
static EVP_PKEY *leaf_key;
static struct pol_policy *pol_rev, *pol_cert;
static struct pol_decision d, d2;

static char *J(const char *s)
{
	static char buf[4096];
	size_t n = strlen(s);
	for (size_t i = 0; i <= n; i++)
		buf[i] = s[i] == '\'' ? '"' : s[i];
	return buf;
}

static void setup(void)
{
	pt_ca_init(&ca, "p256");
	leaf_key = tu_key("p256");
	pol_rev = pt_policy(RT_POLICY);
	pol_cert = pt_policy(J("{'version':1,'authority':{'rateLimits':{'perKey':{'count':3,"
			       "'period':'1h','burst':3}}},'profiles':{'w':{'match':{}}}}"));
}

static void teardown(void)
{
	pol_policy_free(pol_cert);
	pol_policy_free(pol_rev);
	EVP_PKEY_free(leaf_key);
	pt_ca_free(&ca);
}

/* A certificate with this serial for name, evaluated (and committed when allowed). */
static enum pol_reason cert(struct pol_state *st, long serial, const char *name, bool commit,
			    struct pol_decision *out)
{
	char san[128];
	snprintf(san, sizeof(san), "DNS:%s", name);
	X509 *x = pt_leaf(&ca, leaf_key, name, san);
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	enum pol_reason r = pt_eval_on(pol_cert, st, &ca, x, POL_CKM_ECDSA_SHA256, out);
	X509_free(x);
	if (commit && out->allowed)
		ck_assert(pol_state_commit(st, out));
	return r;
}

static enum pol_reason crl(struct pol_state *st, const struct rt_entry *e, size_t n,
			   struct rt_crl o, bool commit, struct pol_decision *out)
{
	size_t len;
	uint8_t *tbs = rt_crl_tbs(&ca, e, n, &o, &len);
	enum pol_reason r = rt_eval(pol_rev, st, &ca, tbs, len, o.this_update, out, NULL);
	if (commit && out->allowed)
		ck_assert(pol_state_commit(st, out));
	OPENSSL_free(tbs);
	return r;
}

static enum pol_reason ocsp(struct pol_state *st, struct rt_single s, bool commit,
			    struct pol_decision *out)
{
	size_t len;
	uint8_t *rd = rt_ocsp(&ca, &s, 1, &len);
	enum pol_reason r = rt_eval(pol_rev, st, &ca, rd, len, RT_NOW, out, NULL);
	if (commit && out->allowed)
		ck_assert(pol_state_commit(st, out));
	OPENSSL_free(rd);
	return r;
}

#define EXPECT(r, want) do { \
		enum pol_reason got_ = (r); \
		ck_assert_msg(got_ == (want), "got %s (%u), want %s: %s", pol_reason_name(got_), \
			      (unsigned)got_, pol_reason_name(want), d.sentence); \
	} while (0)
#define E(s, secs_ago, reason) { (s), RT_NOW - (secs_ago), (reason) }

/* A delegated OCSP responder certified by "ca", as replay of its SIGN record applies it. */
static void responder(struct pol_state *st, uint8_t fill)
{
	struct pol_summary *s = calloc(1, sizeof(*s));
	ck_assert(s != NULL);
	s->kind = POL_KIND_TBS_CERT;
	s->allowed = true;
	s->time_ns = RT_NS(RT_NOW - 600);
	strcpy(s->key_label, "ca");
	s->serial_len = (uint32_t)rt_serial(0x2000 + fill, s->serial);
	s->not_after = RT_NOW + 30 * RT_DAY;
	s->ocsp_signer = true;
	memset(s->ocsp_signer_key_sha1, fill, POL_OCSP_KEY_HASH_LEN);
	memset(s->ocsp_issuer_name_sha1, 0x11, POL_OCSP_KEY_HASH_LEN);
	memset(s->ocsp_issuer_key_sha1, 0x22, POL_OCSP_KEY_HASH_LEN);
	memset(s->ocsp_issuer_name_sha256, 0x33, POL_SHA256_LEN);
	memset(s->ocsp_issuer_key_sha256, 0x44, POL_SHA256_LEN);
	ck_assert(pol_state_apply(st, s));
	free(s);
}

/* Every part of the state filled: issued serials (one expiring soon), rate buckets, a
 * full CRL, an OCSP revocation, a partitioned CRL, a delta, delegated responders. */
static struct pol_state *build(const struct pol_state_limits *lim)
{
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(lim, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, NULL);
	rt_issue(st, "ca", B, RT_NOW + 90 * RT_DAY, NULL);
	rt_issue(st, "ca", C, RT_NOW + 1000, NULL);
	EXPECT(cert(st, LEAF(1), "a.example.com", true, &d), POL_R_OK);
	EXPECT(cert(st, LEAF(2), "b.example.com", true, &d), POL_R_OK);
	struct rt_entry e1[] = { E(A, 3600, 1) };
	EXPECT(crl(st, e1, 1, rt_crl_default(1), true, &d), POL_R_OK);
	EXPECT(ocsp(st, rt_single(B, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 60, 4), true, &d),
	       POL_R_OK);
	struct rt_crl o = rt_crl_default(1);
	o.idp = IDP1;
	struct rt_entry e2[] = { E(C, 30, -1) };
	EXPECT(crl(st, e2, 1, o, true, &d), POL_R_OK);
	o = rt_crl_default(2);
	o.delta_base = 1;
	struct rt_entry e3[] = { E(B, 60, 4), E(C, 30, -1) };
	EXPECT(crl(st, e3, 2, o, true, &d), POL_R_OK);
	responder(st, 0xa1);
	responder(st, 0xa2);
	return st;
}

static uint8_t *enc(const struct pol_state *st, size_t *len)
{
	uint8_t *p = NULL;
	ck_assert(pol_state_encode(st, &p, len));
	ck_assert(p != NULL && *len > HDR + DIGEST);
	return p;
}

/* Decodes with the default limits; the state, or NULL with what set. */
static struct pol_state *dec(const uint8_t *p, size_t len, const struct pol_state_limits *lim,
			     const char **what)
{
	struct pol_state *st = (struct pol_state *)1;
	size_t off = 12345;
	*what = NULL;
	bool ok = pol_state_decode(p, len, lim, NULL, &st, what, &off);
	ck_assert_int_eq(ok, st != NULL);
	if (ok) {
		ck_assert(*what == NULL);
		ck_assert_uint_eq(off, 0);
	} else {
		ck_assert(*what != NULL && (*what)[0] != '\0');
		ck_assert_uint_le(off, len);
	}
	return st;
}

/* The digest over the bytes before it, after an edit. */
static void reseal(uint8_t *p, size_t len)
{
	SHA256(p, len - DIGEST, p + len - DIGEST);
}

static void refused(const uint8_t *p, size_t len, const char *want)
{
	const char *what;
	struct pol_state *st = dec(p, len, NULL, &what);
	ck_assert_msg(st == NULL, "accepted, want refusal: %s", want);
	ck_assert_msg(strstr(what, want) != NULL, "refused with \"%s\", want \"%s\"", what, want);
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* With POL_STATE_CORPUS_DIR set, writes blob (and blob without its digest: the fuzz
 * target appends one) as fuzz seeds NAME and NAME-body. */
static void seed(const char *name, const uint8_t *p, size_t len)
{
	const char *dir = getenv("POL_STATE_CORPUS_DIR");
	char path[4096];
	if (dir == NULL)
		return;
	for (int body = 0; body < 2; body++) {
		snprintf(path, sizeof(path), "%s/%s%s", dir, name, body ? "-body" : "");
		FILE *f = fopen(path, "wb");
		ck_assert_msg(f != NULL, "%s", path);
		ck_assert_uint_eq(fwrite(p, 1, len - (body ? DIGEST : 0), f), len - (body ? DIGEST : 0));
		ck_assert_int_eq(fclose(f), 0);
	}
}

START_TEST(test_state_codec_round_trip_identical_bytes)
{
	struct pol_state *st = build(NULL), *back, *back2;
	size_t n1, n2, n3;
	const char *what;
	uint8_t *b1 = enc(st, &n1);
	seed("full", b1, n1);
	ck_assert(pol_state_num_serials(st) == 7 && pol_state_num_revocations(st) == 3);
	ck_assert(pol_state_num_buckets(st) >= 1);
	back = dec(b1, n1, NULL, &what);
	ck_assert_msg(back != NULL, "%s", what);
	uint8_t *b2 = enc(back, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(b1, b2, n1) == 0);
	/* other capacities lay the hash tables out differently: same bytes */
	struct pol_state_limits big = { .max_serials = 100000, .max_buckets = 5000,
					.max_revocations = 70000 };
	back2 = dec(b1, n1, &big, &what);
	ck_assert_msg(back2 != NULL, "%s", what);
	uint8_t *b3 = enc(back2, &n3);
	ck_assert_uint_eq(n1, n3);
	ck_assert(memcmp(b1, b3, n1) == 0);
	/* an empty state, too */
	struct pol_state *empty = NULL, *eback;
	ck_assert(pol_state_new(NULL, NULL, &empty));
	free(b2);
	b2 = enc(empty, &n2);
	seed("empty", b2, n2);
	eback = dec(b2, n2, NULL, &what);
	ck_assert(eback != NULL && pol_state_num_serials(eback) == 0);
	free(b3);
	b3 = enc(eback, &n3);
	ck_assert(n2 == n3 && memcmp(b2, b3, n2) == 0);
	pol_state_free(eback);
	pol_state_free(empty);
	free(b1);
	free(b2);
	free(b3);
	pol_state_free(back2);
	pol_state_free(back);
	pol_state_free(st);
}
END_TEST

/* Same decision on both states: reason, sentence, new revocations. */
static enum pol_reason both_crl(struct pol_state *s1, struct pol_state *s2,
				const struct rt_entry *e, size_t n, struct rt_crl o)
{
	enum pol_reason r1 = crl(s1, e, n, o, false, &d), r2 = crl(s2, e, n, o, false, &d2);
	ck_assert_msg(r1 == r2, "%s vs %s", d.sentence, d2.sentence);
	ck_assert_str_eq(d.sentence, d2.sentence);
	ck_assert_uint_eq(d.summary.num_revocations, d2.summary.num_revocations);
	return r1;
}

static enum pol_reason both_ocsp(struct pol_state *s1, struct pol_state *s2, struct rt_single s)
{
	enum pol_reason r1 = ocsp(s1, s, false, &d), r2 = ocsp(s2, s, false, &d2);
	ck_assert_msg(r1 == r2, "%s vs %s", d.sentence, d2.sentence);
	ck_assert_str_eq(d.sentence, d2.sentence);
	return r1;
}

static enum pol_reason both_cert(struct pol_state *s1, struct pol_state *s2, long serial,
				 const char *name, bool commit)
{
	enum pol_reason r1 = cert(s1, serial, name, commit, &d);
	enum pol_reason r2 = cert(s2, serial, name, commit, &d2);
	ck_assert_msg(r1 == r2, "%s vs %s", d.sentence, d2.sentence);
	ck_assert_str_eq(d.sentence, d2.sentence);
	return r1;
}

START_TEST(test_state_codec_decoded_state_decides_the_same)
{
	struct pol_state *st = build(NULL), *back;
	size_t n;
	const char *what;
	uint8_t *b = enc(st, &n);
	back = dec(b, n, NULL, &what);
	ck_assert_msg(back != NULL, "%s", what);

	/* what the tools read */
	ck_assert_uint_eq(pol_state_num_serials(back), pol_state_num_serials(st));
	ck_assert_uint_eq(pol_state_num_buckets(back), pol_state_num_buckets(st));
	ck_assert_uint_eq(pol_state_num_revocations(back), pol_state_num_revocations(st));
	uint8_t ser[POL_RFC_SERIAL_MAX], n1[POL_CRL_NUMBER_MAX_LEN], n2[POL_CRL_NUMBER_MAX_LEN];
	size_t sl, l1, l2;
	long all[] = { A, B, C };
	for (size_t i = 0; i < 3; i++) {
		struct pol_revocation r1, r2;
		sl = rt_serial(all[i], ser);
		ck_assert(pol_state_has_serial(back, "ca", ser, sl));
		ck_assert(pol_state_revocation(st, "ca", ser, sl, &r1));
		ck_assert(pol_state_revocation(back, "ca", ser, sl, &r2));
		ck_assert(memcmp(&r1, &r2, sizeof(r1)) == 0);
	}
	ck_assert(pol_state_crl_number(back, "ca", NULL, n2, &l2));
	ck_assert(pol_state_crl_number(st, "ca", NULL, n1, &l1));
	ck_assert(l1 == l2 && memcmp(n1, n2, l1) == 0);
	uint8_t id[POL_BUCKET_ID_LEN];
	int64_t t1, t2;
	pol_bucket_id(POL_RATE_KEY, "ca", "", 0, id);
	ck_assert(pol_state_bucket_tat(st, id, &t1) && pol_state_bucket_tat(back, id, &t2));
	ck_assert_int_eq(t1, t2);

	/* serial reuse: still refused */
	EXPECT(both_cert(st, back, LEAF(1), "c.example.com", false), POL_R_SERIAL_REUSED);
	/* buckets still charged: burst 3, two used; the third fits, the fourth does not */
	EXPECT(both_cert(st, back, LEAF(3), "c.example.com", true), POL_R_OK);
	EXPECT(both_cert(st, back, LEAF(4), "d.example.com", false), POL_R_RATE_KEY);
	/* revocations and CRL numbers kept */
	struct rt_entry e_all[] = { E(A, 3600, 1), E(B, 60, 4), E(C, 30, -1) };
	struct rt_entry no_b[] = { E(A, 3600, 1), E(C, 30, -1) };
	struct rt_entry moved[] = { E(A, 3599, 1), E(B, 60, 4), E(C, 30, -1) };
	EXPECT(both_crl(st, back, e_all, 3, rt_crl_default(3)), POL_R_OK);
	EXPECT(both_crl(st, back, no_b, 2, rt_crl_default(3)), POL_R_CRL_UNREVOKED);
	EXPECT(both_crl(st, back, moved, 3, rt_crl_default(3)), POL_R_REVOCATION_CHANGED);
	EXPECT(both_crl(st, back, e_all, 3, rt_crl_default(2)), POL_R_CRL_NUMBER_NOT_INCREASING);
	struct rt_crl o = rt_crl_default(3);
	o.delta_base = 1;
	EXPECT(both_crl(st, back, NULL, 0, o), POL_R_CRL_DELTA_INCOMPLETE);
	o.idp = IDP1;
	o.delta_base = -1;
	EXPECT(both_crl(st, back, NULL, 0, o), POL_R_CRL_UNREVOKED);
	o.number = 1;
	EXPECT(both_crl(st, back, e_all + 2, 1, o), POL_R_CRL_NUMBER_NOT_INCREASING);
	EXPECT(both_ocsp(st, back, rt_single(B, V_OCSP_CERTSTATUS_GOOD, 0, -1)),
	       POL_R_OCSP_GOOD_REVOKED);
	EXPECT(both_ocsp(st, back, rt_single(B, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 60, 1)),
	       POL_R_REVOCATION_CHANGED);
	EXPECT(both_ocsp(st, back, rt_single(A, V_OCSP_CERTSTATUS_REVOKED, RT_NOW - 3600, 1)),
	       POL_R_OK);
	/* after the same commits, the states still encode alike */
	size_t m1, m2;
	uint8_t *c1 = enc(st, &m1), *c2 = enc(back, &m2);
	ck_assert(m1 == m2 && memcmp(c1, c2, m1) == 0);
	free(c1);
	free(c2);
	free(b);
	pol_state_free(back);
	pol_state_free(st);
}
END_TEST

START_TEST(test_state_codec_refuses_every_truncation)
{
	struct pol_state *st = build(NULL);
	size_t n;
	const char *what;
	uint8_t *b = enc(st, &n);
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k + 1);
		memcpy(cut, b, k);
		ck_assert_msg(dec(cut, k, NULL, &what) == NULL, "prefix of %zu accepted", k);
		free(cut);
	}
	/* a truncation resealed (digest recomputed) is refused by the structure */
	for (size_t k = HDR; k + DIGEST < n; k += 7) {
		uint8_t *cut = malloc(k + DIGEST);
		memcpy(cut, b, k);
		reseal(cut, k + DIGEST);
		ck_assert_msg(dec(cut, k + DIGEST, NULL, &what) == NULL, "resealed prefix %zu", k);
		free(cut);
	}
	ck_assert(dec(NULL, 0, NULL, &what) == NULL);
	free(b);
	pol_state_free(st);
}
END_TEST

START_TEST(test_state_codec_refuses_every_bit_flip)
{
	struct pol_state *st = build(NULL);
	size_t n;
	const char *what;
	uint8_t *b = enc(st, &n);
	for (size_t i = 0; i < n; i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			ck_assert_msg(dec(b, n, NULL, &what) == NULL, "flip at %zu.%u accepted", i, bit);
			b[i] ^= (uint8_t)(1u << bit);
		}
	struct pol_state *ok = dec(b, n, NULL, &what);
	ck_assert(ok != NULL);
	pol_state_free(ok);
	free(b);
	pol_state_free(st);
}
END_TEST

/* Structural defects with a correct digest: each is refused for its own reason. */
START_TEST(test_state_codec_refuses_malformed_structure)
{
	struct pol_state *st = build(NULL);
	size_t n;
	uint8_t *b = enc(st, &n), *m = malloc(n + 64);
	size_t ns = (size_t)be(b + HDR, 4);
	const size_t ser0 = HDR + 4, srow = POL_BUCKET_ID_LEN + 8;
	ck_assert_uint_eq(ns, 7);
	const size_t bkt_count = ser0 + ns * srow, bkt0 = bkt_count + 4;
	size_t nb = (size_t)be(b + bkt_count, 4);
	const size_t brow = POL_BUCKET_ID_LEN + 24, seq_at = bkt0 + nb * brow;

#define EDIT(len_, stmt, want) do { \
		memcpy(m, b, n); \
		size_t len = (len_); \
		stmt; \
		reseal(m, len); \
		refused(m, len, want); \
	} while (0)

	EDIT(n, m[0] ^= 1, "magic");
	EDIT(n, put_be(m + 8, 2, 4), "version");
	EDIT(n, m[12] = 0x02, "flags");
	/* a serial repeated (the second row a copy of the first) or out of order */
	EDIT(n, memcpy(m + ser0 + srow, m + ser0, srow), "ascending");
	EDIT(n, (memcpy(m + n, m + ser0, srow), memcpy(m + ser0, m + ser0 + srow, srow),
		 memcpy(m + ser0 + srow, m + n, srow)), "ascending");
	/* a count that claims more rows than there are, or more than the limit */
	EDIT(n, put_be(m + HDR, ns + 1, 4), "");
	EDIT(n, put_be(m + HDR, 0xffffffffu, 4), "more serials than the state holds");
	/* bucket: count 0, remainder >= count */
	EDIT(n, put_be(m + bkt0 + POL_BUCKET_ID_LEN + 16, 0, 8), "count 0");
	EDIT(n, put_be(m + bkt0 + POL_BUCKET_ID_LEN + 8, be(m + bkt0 + POL_BUCKET_ID_LEN + 16, 8), 8),
	     "remainder");
	/* scopes: the first is the full CRL scope (full = 1); a non-zero scope id with it,
	 * a boolean 2, more than the table holds */
	const size_t sc0 = seq_at + 8 + 1;
	ck_assert_uint_eq(m[seq_at + 8], 2); /* two scopes */
	ck_assert_uint_eq(b[sc0 + POL_SCOPE_ID_LEN], 1);
	EDIT(n, m[sc0 + POL_SCOPE_ID_LEN + 1] = 1, "scope id is not zero");
	EDIT(n, m[sc0 + POL_SCOPE_ID_LEN] = 2, "boolean");
	EDIT(n, m[seq_at + 8] = POL_STATE_MAX_CRL_SCOPES + 1, "more CRL scopes");
	/* the revocation counter below the scope bases' sequence numbers */
	EDIT(n, put_be(m + seq_at, 0, 8), "out of range");
	/* one byte too many before the digest */
	EDIT(n + 1, (memcpy(m + n + 1 - DIGEST, b + n - DIGEST, DIGEST), m[n - DIGEST] = 0),
	     "trailing");

	/* the last revocation (fixed tail: sources, has_not_after, not_after, scopes, created,
	 * bound): sources 0 / 4, has_not_after 0 with a notAfter, seqs out of order */
	const size_t tail = n - DIGEST - (1 + 1 + 8 + 8 + 8 + 8);
	EDIT(n, m[tail] = 0, "source");
	EDIT(n, m[tail] = 4, "source");
	EDIT(n, (m[tail + 1] = 0, m[tail + 9] |= 1), "notAfter");
	EDIT(n, put_be(m + tail + 10, 1ull << 40, 8), "scopes");
	EDIT(n, put_be(m + tail + 18, 0, 8), "sequence");
	EDIT(n, put_be(m + tail + 26, be(m + tail + 18, 8) - 1, 8), "sequence");
#undef EDIT

	/* limits: a state that does not fit smaller limits is refused */
	const char *what;
	struct pol_state_limits small = { .max_serials = 5, .max_buckets = 64,
					  .max_revocations = 64 };
	ck_assert(dec(b, n, &small, &what) == NULL);
	ck_assert(strstr(what, "more serials") != NULL);
	small.max_serials = 64;
	small.max_revocations = 2;
	ck_assert(dec(b, n, &small, &what) == NULL);
	ck_assert(strstr(what, "revocations") != NULL);
	small.max_revocations = 3;
	struct pol_state *fits = dec(b, n, &small, &what);
	ck_assert_msg(fits != NULL, "%s", what);
	pol_state_free(fits);
	free(m);
	free(b);
	pol_state_free(st);
}
END_TEST

/* A revocation row repeated (same key and serial) is a duplicate, not a second entry. */
START_TEST(test_state_codec_refuses_duplicate_revocation)
{
	struct pol_state *st = NULL;
	ck_assert(pol_state_new(NULL, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW + 90 * RT_DAY, NULL);
	struct rt_entry e1[] = { E(A, 3600, 1) };
	EXPECT(crl(st, e1, 1, rt_crl_default(1), true, &d), POL_R_OK);
	size_t n;
	const char *what;
	uint8_t *b = enc(st, &n);
	seed("one-revocation", b, n);
	/* the one revocation row is the last thing before the digest */
	uint8_t ser[POL_RFC_SERIAL_MAX];
	size_t sl = rt_serial(A, ser);
	size_t row = POL_SCOPE_ID_LEN + (1 + sl + 10) + 1 + 1 + 8 + 8 + 8 + 8;
	size_t count_at = n - DIGEST - row - 4;
	ck_assert_uint_eq(be(b + count_at, 4), 1);
	uint8_t *m = malloc(n + row);
	memcpy(m, b, n - DIGEST);
	memcpy(m + n - DIGEST, b + n - DIGEST - row, row);
	put_be(m + count_at, 2, 4);
	reseal(m, n + row);
	ck_assert(dec(m, n + row, NULL, &what) == NULL);
	ck_assert_msg(strstr(what, "repeated") != NULL, "%s", what);
	/* a malformed revocation inside the row (serial with a redundant leading zero) */
	memcpy(m, b, n);
	size_t r0 = count_at + 4 + POL_SCOPE_ID_LEN;
	ck_assert_uint_eq(m[r0], sl);
	m[r0 + 1] = 0x00; /* 0x00 0x.. is not minimal when the next octet < 0x80 */
	reseal(m, n);
	ck_assert(dec(m, n, NULL, &what) == NULL);
	ck_assert_msg(strstr(what, "malformed revocation") != NULL, "%s", what);
	free(m);
	free(b);
	pol_state_free(st);
}
END_TEST

/* An issued-serials table that was purged once keeps saying so (a decision's sentence
 * depends on it), and the flag survives the round trip. */
START_TEST(test_state_codec_keeps_purged_flag)
{
	struct pol_state_limits lim = { .max_serials = 1, .max_buckets = 8, .max_revocations = 8 };
	struct pol_state *st = NULL, *back;
	ck_assert(pol_state_new(&lim, NULL, &st));
	rt_issue(st, "ca", A, RT_NOW - 7200, NULL); /* already expired at RT_NOW - 3600 */
	rt_issue(st, "ca", B, RT_NOW + RT_DAY, NULL); /* full: A is dropped */
	ck_assert(pol_state_ever_purged(st));
	size_t n;
	const char *what;
	uint8_t *b = enc(st, &n);
	seed("purged", b, n);
	ck_assert_uint_eq(b[12], 1);
	back = dec(b, n, &lim, &what);
	ck_assert_msg(back != NULL, "%s", what);
	ck_assert(pol_state_ever_purged(back));
	pol_state_free(back);
	free(b);
	pol_state_free(st);
}
END_TEST

/* Thousands of serials and buckets, inserted in hash order: the encoding sorts them
 * (decode checks the order), and capacity changes nothing. */
START_TEST(test_state_codec_many_rows_sorted)
{
	struct pol_state *st = NULL, *back;
	struct pol_summary *s = calloc(1, sizeof(*s));
	ck_assert(s != NULL && pol_state_new(NULL, NULL, &st));
	for (long i = 0; i < 5000; i++) {
		memset(s, 0, sizeof(*s));
		s->kind = POL_KIND_TBS_CERT;
		s->allowed = true;
		s->time_ns = RT_NS(RT_NOW) + i;
		strcpy(s->key_label, "ca");
		s->serial_len = (uint32_t)rt_serial(0x100000 + i * 7919, s->serial);
		s->not_after = RT_NOW + RT_DAY + i;
		s->num_charges = 1;
		s->charges[0].dim = POL_RATE_SAN_SET;
		s->charges[0].rate = (struct pol_rate){ .count = 3, .period_ns = RT_NS(3600), .burst = 5 };
		pol_bucket_id(POL_RATE_SAN_SET, "ca", &i, sizeof(i), s->charges[0].bucket);
		ck_assert(pol_state_apply(st, s));
	}
	ck_assert_uint_eq(pol_state_num_serials(st), 5000);
	ck_assert_uint_eq(pol_state_num_buckets(st), 5000);
	size_t n1, n2;
	const char *what;
	uint8_t *b1 = enc(st, &n1);
	struct pol_state_limits lim = { .max_serials = 5000, .max_buckets = 5000 };
	back = dec(b1, n1, &lim, &what);
	ck_assert_msg(back != NULL, "%s", what);
	uint8_t *b2 = enc(back, &n2);
	ck_assert(n1 == n2 && memcmp(b1, b2, n1) == 0);
	lim.max_buckets = 4999;
	ck_assert(dec(b1, n1, &lim, &what) == NULL);
	free(b1);
	free(b2);
	free(s);
	pol_state_free(back);
	pol_state_free(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_state_codec");
	TCase *tc = tcase_create("codec");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_state_codec_round_trip_identical_bytes);
	tcase_add_test(tc, test_state_codec_decoded_state_decides_the_same);
	tcase_add_test(tc, test_state_codec_refuses_every_truncation);
	tcase_add_test(tc, test_state_codec_refuses_every_bit_flip);
	tcase_add_test(tc, test_state_codec_refuses_malformed_structure);
	tcase_add_test(tc, test_state_codec_refuses_duplicate_revocation);
	tcase_add_test(tc, test_state_codec_keeps_purged_flag);
	tcase_add_test(tc, test_state_codec_many_rows_sorted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
