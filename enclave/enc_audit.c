/*
 * enc_audit.c - the enclave's audit log: opening it (verify, repair, replay), the
 * records the enclave writes besides SIGN decisions (genesis, config, policy, login).
 *
 * Replay rebuilds, from the log alone: the policy state (issued serials with notAfter,
 * rate-limit buckets, revocations, CRL numbers: pol_state_apply on the pol_summary of
 * every allowed SIGN record, pol_state_apply_revocations when a CRL brought more than a
 * summary holds inline) and the PIN failure count (enc_login_replay).
 *
 * Refused ranges: after a write failure the writer re-writes the records it kept and
 * then appends a RECOVERY record naming [refused_from, refused_to]; their callers were
 * refused, nothing was signed.  Because that record FOLLOWS the records it names, replay
 * holds back the last ENC_REPLAY_WINDOW allowed SIGN records (ENC_REPLAY_WINDOW_BYTES at
 * most) before applying them, and a RECOVERY record drops those in its range.  A range
 * reaching further back than the window (it cannot in practice: the range is what was in
 * flight, bounded by the writer's batch) is over-counted - the strict side: a serial held
 * as used, a bucket charged - and logged.
 *
 * Snapshots (enc_snapshot.c): the newest one the library finds usable is decoded into the
 * state (snapshot_cb) and only the records after it are replayed.  A blob that does not
 * decode stops that open; the log is then opened again without snapshots (every record
 * verified and replayed from genesis), and if that fails too the enclave does not start.
 * It never starts on a state it could not rebuild.
 */
#include "enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
	uint64_t seq;
	uint8_t *body;
	size_t len;
};

struct replay {
	struct enc_state *st;
	struct pending *q; /* ring of ENC_REPLAY_WINDOW */
	size_t head, num, bytes;
	uint64_t last_applied_seq; /* UINT64_MAX: none yet */
	uint64_t applied, no_summary, failed;
	uint64_t state_full; /* of failed: a summary that decoded but did not fit the state */
	uint64_t seen; /* records handed to replay_cb */
	struct pol_summary *sum;
};

/* Applies one allowed SIGN record's effects to the state. */
static void replay_apply(struct replay *r, uint64_t seq, const uint8_t *body, size_t len)
{
	struct aud_field f;
	struct pol_revocation *all = NULL;

	r->last_applied_seq = seq;
	if (!aud_body_find(body, len, AUD_F_POL_SUMMARY, &f)) {
		r->no_summary++;
		return;
	}
	if (!pol_summary_decode(f.val, f.len, r->sum)) {
		enc_log(ENC_LOG_WARNING, "audit replay: record %llu: pol_summary does not decode",
			(unsigned long long)seq);
		r->failed++;
		return;
	}
	bool ok;
	if (r->sum->num_revocations <= POL_SUMMARY_MAX_REVOCATIONS) {
		ok = pol_state_apply(r->st->pstate, r->sum);
	} else {
		size_t n = 0;
		struct aud_cur c = {body, len};
		all = calloc(r->sum->num_revocations, sizeof(*all));
		ok = all != NULL;
		while (ok && aud_field_next(&c, &f) == 1) {
			if (f.tag != AUD_F_REVOCATION)
				continue;
			ok = n < r->sum->num_revocations &&
			     pol_revocation_decode(f.val, f.len, &all[n]);
			n++;
		}
		ok = ok && pol_state_apply_revocations(r->st->pstate, r->sum, all, n);
	}
	if (ok) {
		r->applied++;
	} else {
		r->failed++;
		r->state_full++;
		enc_log(ENC_LOG_WARNING, "audit replay: record %llu could not be applied (state "
					 "full or revocations malformed)",
			(unsigned long long)seq);
	}
	free(all);
}

static void pending_pop(struct replay *r, bool apply)
{
	struct pending *p = &r->q[r->head];
	if (apply)
		replay_apply(r, p->seq, p->body, p->len);
	r->bytes -= p->len;
	free(p->body);
	p->body = NULL;
	r->head = (r->head + 1) % ENC_REPLAY_WINDOW;
	r->num--;
}

static int replay_cb(void *ctx, const struct aud_rec *rec)
{
	struct replay *r = ctx;
	struct aud_field f;

	r->seen++;
	switch (rec->type) {
	case AUD_T_SIGN:
		if (!aud_body_find(rec->body, rec->body_len, AUD_F_DECISION, &f) ||
		    aud_field_uint(&f) != 1)
			return 0;
		while (r->num > 0 && (r->num == ENC_REPLAY_WINDOW ||
				      r->bytes + rec->body_len > ENC_REPLAY_WINDOW_BYTES))
			pending_pop(r, true);
		struct pending *p = &r->q[(r->head + r->num) % ENC_REPLAY_WINDOW];
		p->body = malloc(rec->body_len);
		if (p->body == NULL) {
			enc_log(ENC_LOG_ERR, "audit replay: out of memory");
			return 1;
		}
		memcpy(p->body, rec->body, rec->body_len);
		p->len = rec->body_len;
		p->seq = rec->seq;
		r->bytes += p->len;
		r->num++;
		return 0;
	case AUD_T_RECOVERY: {
		if (!aud_body_find(rec->body, rec->body_len, AUD_F_REFUSED_FROM, &f))
			return 0;
		uint64_t from = aud_field_uint(&f);
		uint64_t to = aud_body_find(rec->body, rec->body_len, AUD_F_REFUSED_TO, &f)
				      ? aud_field_uint(&f)
				      : rec->seq;
		if (r->last_applied_seq != UINT64_MAX && from <= r->last_applied_seq) {
			r->st->replay_overcounted++;
			enc_log(ENC_LOG_WARNING,
				"audit replay: records %llu..%llu were refused but some were already "
				"applied (the state errs on the strict side)",
				(unsigned long long)from, (unsigned long long)to);
		}
		/* Drop the held-back records in the range; keep the others in order. */
		size_t n = r->num;
		for (size_t i = 0; i < n; i++) {
			struct pending cur = r->q[r->head];
			r->q[r->head].body = NULL;
			r->head = (r->head + 1) % ENC_REPLAY_WINDOW;
			r->num--;
			r->bytes -= cur.len;
			if (cur.seq >= from && cur.seq <= to) {
				free(cur.body);
				continue;
			}
			r->q[(r->head + r->num) % ENC_REPLAY_WINDOW] = cur;
			r->num++;
			r->bytes += cur.len;
		}
		return 0;
	}
	case AUD_T_LOGIN_FAIL:
	case AUD_T_LOGIN_OK:
	case AUD_T_LOCKOUT:
		enc_login_replay(r->st, rec->type, rec->body, rec->body_len);
		return 0;
	default:
		return 0;
	}
}

/* One { key, key_spki, ca_cert } list per key. */
static void put_ca_keys(struct aud_body *b, const struct enc_state *st)
{
	for (size_t i = 0; i < st->num_keys; i++) {
		const struct enc_key *k = &st->keys[i];
		aud_list_begin(b, AUD_F_CA_KEY);
		aud_put_str(b, AUD_F_KEY, k->cfg->label);
		aud_put_bytes(b, AUD_F_KEY_SPKI, k->ca.spki_der, k->ca.spki_len);
		if (k->cert_der != NULL)
			aud_put_bytes(b, AUD_F_CA_CERT, k->cert_der, k->cert_der_len);
		aud_list_end(b);
	}
}

static int append_sync(struct enc_state *st, uint16_t type, const struct aud_body *b)
{
	uint64_t seq;
	int rc = aud_body_finish(b);
	if (rc != WARDEN_OK)
		return rc;
	struct aud_record rec = {.type = type, .body = b->data, .body_len = b->len};
	rc = aud_append(st->log, &rec, &seq);
	return rc == WARDEN_OK ? aud_sync(st->log, seq) : rc;
}

int enc_audit_policy_record(struct enc_state *st, uint64_t *out_seq)
{
	struct aud_body b;
	aud_body_init(&b);
	aud_put_bytes(&b, AUD_F_POLICY_SHA256, pol_policy_hash(st->policy), POL_HASH_LEN);
	aud_put_str(&b, AUD_F_FILE, st->cfg.policy);
	int rc = aud_body_finish(&b);
	if (rc == WARDEN_OK) {
		struct aud_record rec = {.type = AUD_T_POLICY, .body = b.data, .body_len = b.len};
		rc = aud_append(st->log, &rec, out_seq);
	}
	aud_body_free(&b);
	return rc;
}

int enc_audit_login(struct enc_state *st, uint16_t type, const struct enc_peer *peer,
		    unsigned failures)
{
	struct aud_body b;
	aud_body_init(&b);
	if (type != AUD_T_LOGIN_OK)
		aud_put_uint(&b, AUD_F_FAILURES, failures);
	aud_put_uint(&b, AUD_F_CALLER_UID, peer->uid);
	aud_put_uint(&b, AUD_F_CALLER_PID, (uint64_t)(uint32_t)peer->pid);
	if (type == AUD_T_LOGIN_FAIL)
		aud_put_str(&b, AUD_F_TEXT, "login attempt, counted before the PIN is compared");
	/* Appended under decide_lock, with the count this record implies (what replay will
	 * rebuild from it): a snapshot, taken under decide_lock, then holds exactly the count
	 * of the records before it, whatever the LOGIN is doing meanwhile. */
	uint64_t seq = 0;
	int rc = aud_body_finish(&b);
	if (rc == WARDEN_OK) {
		struct aud_record rec = {.type = type, .body = b.data, .body_len = b.len};
		pthread_mutex_lock(&st->decide_lock);
		rc = aud_append(st->log, &rec, &seq);
		if (rc == WARDEN_OK)
			st->pin_failures_logged = type == AUD_T_LOGIN_OK ? 0
						  : failures > ENC_MAX_PIN_FAILURES
						      ? ENC_MAX_PIN_FAILURES
						      : failures;
		pthread_mutex_unlock(&st->decide_lock);
	}
	if (rc == WARDEN_OK)
		rc = aud_sync(st->log, seq);
	aud_body_free(&b);
	if (rc != WARDEN_OK) {
		char why[AUD_ERR_LEN] = "";
		(void)aud_failed(st->log, why, sizeof(why));
		enc_log(ENC_LOG_ERR, "audit: a %s record could not be written: %s",
			aud_type_str(type), why[0] != '\0' ? why : "error");
	}
	return rc;
}

/* The snapshot the library found: decoded into the state, or the open is stopped. */
struct snap_ctx {
	struct enc_state *st;
	struct replay *r;
	bool refused;
	uint64_t seq;
	char why[ENC_ERR_LEN];
};

static int snapshot_cb(void *ctx, uint32_t version, const uint8_t *blob, size_t len,
		       uint64_t seq)
{
	struct snap_ctx *c = ctx;
	struct pol_state *ps = NULL;
	unsigned pin = 0;

	if (enc_snapshot_load(c->st, version, blob, len, &ps, &pin, c->why, sizeof(c->why)) !=
	    WARDEN_OK) {
		c->refused = true;
		c->seq = seq;
		return 1;
	}
	pol_state_free(c->st->pstate);
	c->st->pstate = ps;
	c->st->pin_failures = pin;
	/* Records before the snapshot count as applied (a refused range reaching back
	 * there is over-counted, the strict side, and logged). */
	c->r->last_applied_seq = seq - 1;
	return 0;
}

/* Back to an empty state before a second open. */
static int replay_reset(struct enc_state *st, struct replay *r)
{
	struct pol_state *fresh = NULL;
	while (r->num > 0)
		pending_pop(r, false);
	r->head = r->bytes = 0;
	r->last_applied_seq = UINT64_MAX;
	r->applied = r->no_summary = r->failed = r->state_full = r->seen = 0;
	if (!pol_state_new(&st->cfg.state_limits, st->psl, &fresh))
		return WARDEN_E_NOMEM;
	pol_state_free(st->pstate);
	st->pstate = fresh;
	st->pin_failures = 0;
	st->replay_overcounted = 0;
	return WARDEN_OK;
}

int enc_audit_start(struct enc_state *st, char *err, size_t err_len)
{
	struct replay r = {.st = st, .last_applied_seq = UINT64_MAX};
	struct snap_ctx sc = {.st = st, .r = &r};
	struct aud_body gen, b;
	struct aud_open_report rep;
	char aerr[AUD_ERR_LEN];
	int ret = WARDEN_E_NOMEM;

	aud_body_init(&gen);
	aud_body_init(&b);
	r.q = calloc(ENC_REPLAY_WINDOW, sizeof(*r.q));
	r.sum = malloc(sizeof(*r.sum));
	if (r.q == NULL || r.sum == NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	/* The genesis record, when the directory is still empty (warden-admin init writes
	 * the key ceremony's own; this one says it was not there). */
	put_ca_keys(&gen, st);
	aud_put_str(&gen, AUD_F_TOKEN, st->cfg.token_label);
	aud_put_str(&gen, AUD_F_SOFTWARE, ENC_SOFTWARE);
	aud_put_str(&gen, AUD_F_TEXT, "log started by warden-enclave: no genesis from the key "
				      "ceremony (warden-admin init) was found");
	ret = aud_body_finish(&gen);
	if (ret != WARDEN_OK) {
		snprintf(err, err_len, "the genesis record could not be built");
		goto out;
	}
	struct aud_record genesis = {.type = AUD_T_GENESIS, .body = gen.data,
				     .body_len = gen.len};
	struct aud_params p = {
		.dir = st->cfg.audit_dir,
		.key_file = st->cfg.audit_key,
		.rotate_bytes = st->cfg.audit_rotate_bytes,
		.checkpoint_records = st->cfg.audit_checkpoint_records,
		.checkpoint_ms = st->cfg.audit_checkpoint_ms,
		.genesis = &genesis,
		.replay = replay_cb,
		.replay_ctx = &r,
		.snapshot = snapshot_cb,
		.snapshot_ctx = &sc,
		.fast_start = st->cfg.audit_fast_start,
		.buffered = !st->cfg.audit_direct_io,
	};
	ret = aud_open(&p, &st->log, &rep, aerr, sizeof(aerr));
	if (ret != WARDEN_OK && sc.refused) {
		enc_log(ENC_LOG_WARNING,
			"audit log %s: the state snapshot at record %llu does not decode (%s): "
			"not used; verifying and replaying every record from genesis instead",
			st->cfg.audit_dir, (unsigned long long)sc.seq, sc.why);
		ret = replay_reset(st, &r);
		if (ret != WARDEN_OK) {
			snprintf(err, err_len, "out of memory");
			goto out;
		}
		p.snapshot = NULL;
		p.snapshot_ctx = NULL;
		p.fast_start = false;
		ret = aud_open(&p, &st->log, &rep, aerr, sizeof(aerr));
		if (ret != WARDEN_OK) {
			snprintf(err, err_len,
				 "audit log %s: the state snapshot at record %llu does not decode "
				 "(%s), and the full replay that replaces it failed: %s",
				 st->cfg.audit_dir, (unsigned long long)sc.seq, sc.why, aerr);
			goto out;
		}
	} else if (ret != WARDEN_OK) {
		snprintf(err, err_len, "audit log %s: %s", st->cfg.audit_dir, aerr);
		goto out;
	}
	while (r.num > 0)
		pending_pop(&r, true);
	/* A decision the state cannot hold (more unexpired serials, buckets or revocations
	 * than its bounds) would be forgotten, and with it serial uniqueness or a rate
	 * limit: refuse to start rather than serve with less than the log says. */
	if (r.state_full > 0) {
		snprintf(err, err_len,
			 "audit log %s: %llu allowed decisions do not fit the policy state "
			 "(state.max_serials %u, max_buckets %u, max_revocations %u): the log "
			 "holds more unexpired serials, rate-limit buckets or revocations; raise "
			 "\"state\" in the enclave configuration",
			 st->cfg.audit_dir, (unsigned long long)r.state_full,
			 st->cfg.state_limits.max_serials, st->cfg.state_limits.max_buckets,
			 st->cfg.state_limits.max_revocations);
		ret = WARDEN_E_AUDIT;
		goto out;
	}
	if (rep.repaired)
		enc_log(ENC_LOG_WARNING, "audit log repaired: %s", rep.message);
	if (rep.created)
		enc_log(ENC_LOG_WARNING, "audit log %s was empty: started with a genesis record",
			st->cfg.audit_dir);
	if (rep.snapshot_seq != UINT64_MAX)
		enc_log(ENC_LOG_NOTICE,
			"audit log %s: state from the snapshot at record %llu, %s; %llu records "
			"after it replayed",
			st->cfg.audit_dir, (unsigned long long)rep.snapshot_seq,
			rep.fast_start ? "fast start: records verified from the snapshot on"
				       : "every record verified from genesis",
			(unsigned long long)r.seen);
	else if (!sc.refused)
		enc_log(ENC_LOG_NOTICE, "audit log %s: no state snapshot used%s%s",
			st->cfg.audit_dir, rep.snapshot_message[0] != '\0' ? ": " : "",
			rep.snapshot_message);
	if (rep.snapshot_seq != UINT64_MAX && rep.snapshot_message[0] != '\0')
		enc_log(ENC_LOG_NOTICE, "audit log %s: %s", st->cfg.audit_dir,
			rep.snapshot_message);
	st->snap_last_seq = rep.snapshot_seq != UINT64_MAX ? rep.snapshot_seq : 0;
	st->pin_failures_logged = st->pin_failures;
	enc_log(ENC_LOG_INFO,
		"audit log %s: %llu records, verified from record %llu, %llu replayed (%llu "
		"decisions applied, %llu without a summary, %llu not applicable); %zu serials, "
		"%zu buckets, %zu revocations; PIN failures %u",
		st->cfg.audit_dir, (unsigned long long)rep.num_records,
		(unsigned long long)rep.verified_from, (unsigned long long)r.seen,
		(unsigned long long)r.applied, (unsigned long long)r.no_summary,
		(unsigned long long)r.failed, pol_state_num_serials(st->pstate),
		pol_state_num_buckets(st->pstate), pol_state_num_revocations(st->pstate),
		st->pin_failures);

	aud_put_bytes(&b, AUD_F_CONFIG_SHA256, st->cfg.sha256, sizeof(st->cfg.sha256));
	put_ca_keys(&b, st);
	aud_put_str(&b, AUD_F_SOFTWARE, ENC_SOFTWARE);
	ret = append_sync(st, AUD_T_CONFIG, &b);
	uint64_t seq = 0;
	if (ret == WARDEN_OK)
		ret = enc_audit_policy_record(st, &seq);
	if (ret == WARDEN_OK)
		ret = aud_sync(st->log, seq);
	if (ret != WARDEN_OK) {
		(void)aud_failed(st->log, aerr, sizeof(aerr));
		snprintf(err, err_len, "audit log %s: cannot write the config/policy records: %s",
			 st->cfg.audit_dir, aerr);
	}
out:
	if (r.q != NULL)
		while (r.num > 0)
			pending_pop(&r, false);
	free(r.q);
	free(r.sum);
	aud_body_free(&gen);
	aud_body_free(&b);
	return ret;
}
