/*
 * enc_snapshot.c - the enclave's state snapshots in its audit log (docs/audit-format.md
 * "State snapshots"): the blob, taking one, and reading one back.
 *
 * Blob, snap_version ENC_SNAPSHOT_VERSION (1), every integer big-endian:
 *   "WENCSNAP" | u32 version (1) | u32 pin_failures (<= ENC_MAX_PIN_FAILURES) |
 *   u64 policy_len | policy_len bytes: pol_state_encode() (its own magic, version and
 *   SHA-256)
 * and nothing after.  It stands for the effect of every record before the snapshot's
 * first record: the policy state (serials, buckets, revocations, CRL numbers, OCSP
 * responders) and the PIN failure count that replay would have rebuilt.
 *
 * Taking one (enc_snapshot_maybe): from enc_decide, right after an append, with
 * decide_lock held, so no decision is between its record and its commit.  The PIN count
 * it takes is pin_failures_logged, which enc_audit_login sets under decide_lock together
 * with the append of each login record (the count that record implies, as replay reads
 * it), not the live count a LOGIN updates only after its record is durable: so the blob
 * is exactly the effect of the records appended so far, and a LOGIN in progress neither
 * blocks nor postpones a snapshot.  aud_snapshot_append makes everything durable and
 * then writes the snapshot; other threads' aud_sync calls (outside decide_lock) lead
 * their own writes and share those syncs, and appends from other threads wait until it
 * is in (here, on decide_lock; in the library for the others).
 */
#include "enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAP_MAGIC "WENCSNAP"
#define SNAP_MAGIC_LEN 8u
#define SNAP_HDR_LEN (SNAP_MAGIC_LEN + 4u + 4u + 8u)
_Static_assert(ENC_MAX_PIN_FAILURES <= UINT32_MAX, "the PIN count fits its field");

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int enc_snapshot_blob(const struct enc_state *st, unsigned pin_failures, uint8_t **out,
		      size_t *out_len)
{
	uint8_t *pol = NULL, *b;
	size_t pol_len = 0;

	*out = NULL;
	*out_len = 0;
	if (!pol_state_encode(st->pstate, &pol, &pol_len))
		return WARDEN_E_NOMEM;
	b = malloc(SNAP_HDR_LEN + pol_len);
	if (b == NULL) {
		free(pol);
		return WARDEN_E_NOMEM;
	}
	memcpy(b, SNAP_MAGIC, SNAP_MAGIC_LEN);
	put_be(b + SNAP_MAGIC_LEN, ENC_SNAPSHOT_VERSION, 4);
	put_be(b + SNAP_MAGIC_LEN + 4, pin_failures, 4);
	put_be(b + SNAP_MAGIC_LEN + 8, pol_len, 8);
	memcpy(b + SNAP_HDR_LEN, pol, pol_len);
	free(pol);
	*out = b;
	*out_len = SNAP_HDR_LEN + pol_len;
	return WARDEN_OK;
}

int enc_snapshot_load(const struct enc_state *st, uint32_t version, const uint8_t *blob,
		      size_t len, struct pol_state **out_state, unsigned *out_pin, char *why,
		      size_t why_len)
{
	const char *what = NULL;
	size_t off = 0;
	uint64_t pin, pol_len;

	*out_state = NULL;
	*out_pin = 0;
	if (version != ENC_SNAPSHOT_VERSION) {
		snprintf(why, why_len, "snapshot version %u, this enclave reads %u", version,
			 ENC_SNAPSHOT_VERSION);
		return WARDEN_E_AUDIT;
	}
	if (len < SNAP_HDR_LEN || memcmp(blob, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0 ||
	    get_be(blob + SNAP_MAGIC_LEN, 4) != ENC_SNAPSHOT_VERSION) {
		snprintf(why, why_len, "not an enclave snapshot (%zu bytes; magic or version)", len);
		return WARDEN_E_AUDIT;
	}
	pin = get_be(blob + SNAP_MAGIC_LEN + 4, 4);
	pol_len = get_be(blob + SNAP_MAGIC_LEN + 8, 8);
	if (pin > ENC_MAX_PIN_FAILURES) {
		snprintf(why, why_len, "PIN failure count %llu above %u", (unsigned long long)pin,
			 ENC_MAX_PIN_FAILURES);
		return WARDEN_E_AUDIT;
	}
	if (pol_len != len - SNAP_HDR_LEN) {
		snprintf(why, why_len, "policy state length %llu, %zu bytes follow",
			 (unsigned long long)pol_len, len - SNAP_HDR_LEN);
		return WARDEN_E_AUDIT;
	}
	if (!pol_state_decode(blob + SNAP_HDR_LEN, (size_t)pol_len, &st->cfg.state_limits, st->psl,
			      out_state, &what,
			      &off)) {
		snprintf(why, why_len, "policy state refused at byte %zu of the blob: %s",
			 SNAP_HDR_LEN + off, what != NULL ? what : "?");
		return WARDEN_E_AUDIT;
	}
	*out_pin = (unsigned)pin;
	return WARDEN_OK;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void enc_snapshot_maybe(struct enc_state *st, uint64_t seq)
{
	uint32_t every = st->cfg.audit_snapshot_records;
	uint8_t *blob = NULL;
	size_t len = 0;
	uint64_t snap_seq = 0;
	struct timespec t0;

	if (every == 0 || seq + 1 < st->snap_last_seq + every)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = enc_snapshot_blob(st, st->pin_failures_logged, &blob, &len);
	if (rc == WARDEN_OK)
		rc = aud_snapshot_append(st->log, ENC_SNAPSHOT_VERSION, blob, len, &snap_seq);
	free(blob);
	if (rc == WARDEN_OK) {
		st->snap_last_seq = snap_seq;
		enc_log(ENC_LOG_NOTICE,
			"audit: state snapshot at record %llu (%zu bytes: %zu serials, %zu buckets, "
			"%zu revocations, PIN failures %u) written in %.1f ms",
			(unsigned long long)snap_seq, len, pol_state_num_serials(st->pstate),
			pol_state_num_buckets(st->pstate), pol_state_num_revocations(st->pstate),
			st->pin_failures_logged, ms_since(&t0));
		return;
	}
	/* Not fatal: start-up replays more.  Try again after another interval. */
	st->snap_last_seq = seq + 1;
	char why[AUD_ERR_LEN] = "";
	(void)aud_failed(st->log, why, sizeof(why));
	enc_log(ENC_LOG_WARNING, "audit: no state snapshot at record %llu: %s",
		(unsigned long long)seq + 1,
		rc == WARDEN_E_NOMEM      ? "out of memory"
		: rc == WARDEN_E_INTERNAL ? "the state is larger than a snapshot may be"
		: why[0] != '\0'          ? why
					  : "the audit log refused it");
}
