/*
 * enc_decide.c - the decision of one SIGN request, and its audit record.
 *
 *   lock(decide_lock)
 *     pol_evaluate(policy, state, key's pol_ca_info, request)   (state untouched)
 *     build the SIGN record; aud_append (assigns seq, orders the chain)
 *     if allowed: pol_state_commit                              (serial, buckets, revocations)
 *     every audit.snapshot_records records: a state snapshot    (enc_snapshot.c)
 *   unlock
 *   if allowed: sign_begin (the backend's C_SignInit: no signature yet), while
 *   aud_sync(seq)        outside the lock: concurrent requests share one write
 *   -> WARDEN_OK only when allowed AND durable; the caller then finishes the signature
 *      (sign_end); on any refusal the begun operation is cancelled here.
 *
 * So no signature exists without a durable allowed record, and decisions are made in
 * the order of the log (replay sees what the enclave saw).  A record that fails to
 * become durable is refused to its caller (WARDEN_E_AUDIT); the library later names it
 * in a RECOVERY record's refused range, and replay ignores it.  Its effect on the live
 * state was committed (strict side: a serial held as used) until the next restart.
 */
#include "enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "sign.h"

#define DIGEST_INFO_PREFIX_LEN 19u
/* Room kept in a SIGN record for what follows the revoked serials (summary blob...). */
#define ENC_AUDIT_BODY_MARGIN (64u * 1024u)
_Static_assert(POL_SUMMARY_WIRE_MAX + 4096u < ENC_AUDIT_BODY_MARGIN, "the summary fits the margin");

/* DigestInfo prefixes (RFC 8017 §9.2 note 1) of the hashes a raw CKM_RSA_PKCS may carry. */
static const struct {
	const char *name;
	uint8_t prefix[DIGEST_INFO_PREFIX_LEN];
	size_t digest_len;
} digest_infos[] = {
	{"sha256",
	 {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	  0x05, 0x00, 0x04, 0x20},
	 32},
	{"sha384",
	 {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
	  0x05, 0x00, 0x04, 0x30},
	 48},
	{"sha512",
	 {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
	  0x05, 0x00, 0x04, 0x40},
	 64},
};

/* The digest a raw mechanism received, and its algorithm name ("" if unknown). */
static void prehash_of(const struct wire_sign_req *r, const uint8_t **out, size_t *out_len,
		       const char **alg)
{
	*out = r->data;
	*out_len = r->data_len;
	*alg = r->data_len == 32 ? "sha256" : r->data_len == 48 ? "sha384"
					    : r->data_len == 64 ? "sha512" : "";
	if (r->mechanism == CKM_RSA_PKCS) {
		*alg = "";
		for (size_t i = 0; i < sizeof(digest_infos) / sizeof(digest_infos[0]); i++) {
			if (r->data_len == DIGEST_INFO_PREFIX_LEN + digest_infos[i].digest_len &&
			    memcmp(r->data, digest_infos[i].prefix, DIGEST_INFO_PREFIX_LEN) == 0) {
				*out = r->data + DIGEST_INFO_PREFIX_LEN;
				*out_len = digest_infos[i].digest_len;
				*alg = digest_infos[i].name;
			}
		}
	} else if (r->mechanism == CKM_RSA_PKCS_PSS) {
		*alg = r->pss_hash_alg == CKM_SHA256 ? "sha256" : r->pss_hash_alg == CKM_SHA384
			? "sha384" : r->pss_hash_alg == CKM_SHA512 ? "sha512" : "";
	}
}

/* The policy file's word for a data kind (the decision log line). */
static const char *kind_word(uint32_t kind)
{
	switch (kind) {
	case POL_KIND_TBS_CERT:
		return "certificate";
	case POL_KIND_TBS_CRL:
		return "crl";
	case POL_KIND_OCSP_RESPONSE:
		return "ocsp";
	default:
		return "other";
	}
}

/* A copy of text safe for an audit STR field: printable ASCII, others as '?'. */
static void put_text(struct aud_body *b, uint16_t tag, const char *s, size_t len)
{
	char buf[POL_SENTENCE_MAX > POL_SUMMARY_TEXT_MAX ? POL_SENTENCE_MAX : POL_SUMMARY_TEXT_MAX];
	size_t n = len < sizeof(buf) ? len : sizeof(buf);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	aud_put_strn(b, tag, buf, n);
}

/* The human-readable fields of the summary, and the replay blob. */
static void put_summary(struct aud_body *b, const struct enc_state *st,
			const struct pol_decision *d, uint8_t *blob)
{
	const struct pol_summary *s = &d->summary;

	if (s->serial_len > 0)
		aud_put_bytes(b, AUD_F_SERIAL, s->serial, s->serial_len);
	if (s->subject[0] != '\0')
		put_text(b, AUD_F_SUBJECT, s->subject, strlen(s->subject));
	for (const char *p = s->sans; *p != '\0';) {
		const char *end = strstr(p, ", ");
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > 0)
			put_text(b, AUD_F_SAN, p, n);
		p += n + (end != NULL ? 2 : 0);
	}
	if (s->kind == POL_KIND_TBS_CERT && (s->not_before != 0 || s->not_after != 0)) {
		aud_put_int(b, AUD_F_NOT_BEFORE, s->not_before);
		aud_put_int(b, AUD_F_NOT_AFTER, s->not_after);
	}
	if (s->profile[0] != '\0')
		put_text(b, AUD_F_PROFILE, s->profile, strlen(s->profile));
	if (s->provisioner[0] != '\0')
		put_text(b, AUD_F_PROVISIONER, s->provisioner, strlen(s->provisioner));
	if (s->crl_number_len > 0)
		aud_put_bytes(b, AUD_F_CRL_NUMBER, s->crl_number, s->crl_number_len);
	if (s->kind == POL_KIND_OCSP_RESPONSE && d->reason != POL_R_PARSE) {
		for (size_t i = 0; i < d->facts.ocsp.num_responses; i++) {
			const struct pol_ocsp_single *r = &d->facts.ocsp.responses[i];
			aud_list_begin(b, AUD_F_OCSP);
			aud_put_bytes(b, AUD_F_SERIAL, r->serial.p, r->serial.len);
			aud_put_uint(b, AUD_F_OCSP_STATUS, (uint64_t)r->status);
			aud_list_end(b);
		}
	}
	/* Every new revocation (allowed CRL / OCSP decisions), in the iterator's order:
	 * what replay needs. */
	if (d->allowed && s->num_revocations > 0) {
		struct pol_rev_iter it;
		struct pol_revocation rev;
		uint8_t w[POL_REVOCATION_WIRE_MAX];
		pol_revocations_begin(&it, d, st->pstate);
		while (pol_revocations_next(&it, &rev))
			aud_put_bytes(b, AUD_F_REVOCATION, w, pol_revocation_encode(&rev, w));
	}
	/* Every serial the CRL lists (for people and reconcile), as long as the record has
	 * room; a cut list says so. */
	if (s->kind == POL_KIND_TBS_CRL && d->reason != POL_R_PARSE && d->facts.crl.num_revoked > 0) {
		struct der_err e;
		struct pol_crl_iter it;
		struct pol_crl_entry ent;
		size_t listed = 0;
		der_err_init(&e, d->facts.crl.revoked.p);
		pol_crl_iter_init(&it, &d->facts.crl, &e);
		while (pol_crl_iter_next(&it, &ent)) {
			if (b->len + ENC_AUDIT_BODY_MARGIN + ent.serial.len > AUD_MAX_BODY)
				break;
			aud_put_bytes(b, AUD_F_REVOKED, ent.serial.p, ent.serial.len);
			listed++;
		}
		if (listed < d->facts.crl.num_revoked) {
			char t[128];
			snprintf(t, sizeof(t), "revoked list cut after %zu of %zu entries (record size)",
				 listed, d->facts.crl.num_revoked);
			aud_put_str(b, AUD_F_TEXT, t);
		}
	}
	size_t n = pol_summary_encode(s, blob, POL_SUMMARY_WIRE_MAX);
	if (n == 0)
		b->failed = 1; /* a summary that does not encode is an internal error */
	aud_put_bytes(b, AUD_F_POL_SUMMARY, blob, n);
}

/* The fields every SIGN record starts with: the decision, its reason and the request's
 * key and mechanism (k NULL: r->key_id names no key, and is recorded as given). */
static void put_request(struct aud_body *b, bool allowed, enum pol_reason reason,
			const char *sentence, const struct enc_key *k,
			const struct wire_sign_req *r)
{
	aud_put_uint(b, AUD_F_DECISION, allowed ? 1 : 0);
	aud_put_uint(b, AUD_F_REASON_CODE, (uint64_t)reason);
	aud_put_str(b, AUD_F_REASON_NAME, pol_reason_name(reason));
	put_text(b, AUD_F_REASON, sentence, strlen(sentence));
	if (k != NULL)
		aud_put_str(b, AUD_F_KEY, k->cfg->label);
	else
		aud_put_uint(b, AUD_F_KEY_ID, r->key_id);
	aud_put_uint(b, AUD_F_MECHANISM, r->mechanism);
	if (r->param_kind == WIRE_PK_PSS) {
		aud_put_uint(b, AUD_F_PSS_HASH, r->pss_hash_alg);
		aud_put_uint(b, AUD_F_PSS_MGF, r->pss_mgf);
		aud_put_uint(b, AUD_F_PSS_SALT_LEN, r->pss_salt_len);
	}
}

/* Who asked, and under which policy (the caller holds decide_lock: SIGHUP swaps it). */
static void put_caller(struct aud_body *b, const struct enc_state *st,
		       const struct enc_peer *peer)
{
	aud_put_uint(b, AUD_F_CALLER_UID, peer->uid);
	aud_put_uint(b, AUD_F_CALLER_PID, (uint64_t)(uint32_t)peer->pid);
	if (st->policy != NULL) /* always in the enclave; unit tests may run without one */
		aud_put_bytes(b, AUD_F_POLICY_SHA256, pol_policy_hash(st->policy), POL_HASH_LEN);
}

static void sign_body(struct aud_body *b, const struct enc_state *st,
		      const struct enc_peer *peer, const struct enc_key *k,
		      const struct wire_sign_req *r, const struct pol_decision *d,
		      const uint8_t sha[32], uint8_t *blob)
{
	put_request(b, d->allowed, d->reason, d->sentence, k, r);
	aud_put_uint(b, AUD_F_DATA_KIND, d->summary.kind);
	aud_put_bytes(b, AUD_F_DATA_SHA256, sha, 32);
	if (sign_mech_is_raw(r->mechanism)) {
		const uint8_t *pre;
		size_t pre_len;
		const char *alg;
		prehash_of(r, &pre, &pre_len, &alg);
		aud_put_bytes(b, AUD_F_PREHASH, pre, pre_len);
		if (alg[0] != '\0')
			aud_put_str(b, AUD_F_PREHASH_ALG, alg);
	}
	put_caller(b, st, peer);
	put_summary(b, st, d, blob);
}

/* The digests a decision uses, fetched once before the sandbox (enc_main): the data's
 * SHA-256 through sign.c's, the policy engine's ids through its own. */
int enc_decide_init(void)
{
	int rc = sign_init();
	(void)pol_crypto_init();
	return rc;
}

/* Each connection thread keeps its decision (tens of KiB) and summary buffer from one
 * request to the next; enc_decide_thread_end frees them when the connection ends. */
static _Thread_local struct pol_decision *tl_decision;
static _Thread_local uint8_t *tl_blob;

void enc_decide_thread_end(void)
{
	free(tl_decision);
	free(tl_blob);
	tl_decision = NULL;
	tl_blob = NULL;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int enc_decide(struct enc_state *st, const struct enc_peer *peer, const struct enc_key *k,
	       const struct wire_sign_req *r, char *msg, size_t msg_len,
	       struct sign_req *sreq, struct sign_op *op)
{
	char prep_err[256] = "";
	int prep_rc = WARDEN_E_INTERNAL, begun = 0;
	if (tl_decision == NULL)
		tl_decision = malloc(sizeof(*tl_decision));
	if (tl_blob == NULL)
		tl_blob = malloc(POL_SUMMARY_WIRE_MAX);
	struct pol_decision *d = tl_decision;
	uint8_t *blob = tl_blob;
	uint8_t sha[SHA256_DIGEST_LENGTH];
	struct aud_body b;
	uint64_t seq = 0;
	int rc = WARDEN_E_NOMEM;

	aud_body_init(&b);
	if (d == NULL || blob == NULL) {
		snprintf(msg, msg_len, "out of memory");
		goto out;
	}
	if (sign_sha256(r->data, r->data_len, sha) != WARDEN_OK) {
		rc = WARDEN_E_INTERNAL;
		snprintf(msg, msg_len, "hashing failed");
		goto out;
	}
	struct pol_request req = {
		.key_label = k->cfg->label,
		.mechanism = (unsigned long)r->mechanism,
		.has_pss = r->param_kind == WIRE_PK_PSS,
		.pss_hash = (unsigned long)r->pss_hash_alg,
		.pss_mgf = (unsigned long)r->pss_mgf,
		.pss_salt_len = (unsigned long)r->pss_salt_len,
		.data = r->data,
		.len = r->data_len,
		.prehashed = sign_mech_is_raw(r->mechanism) != 0,
		.peer_uid = (uint32_t)peer->uid,
		.peer_pid = (int32_t)peer->pid,
	};

	pthread_mutex_lock(&st->decide_lock);
	if (!pol_evaluate(st->policy, st->pstate, &k->ca, &req, now_ns(), d)) {
		pthread_mutex_unlock(&st->decide_lock);
		rc = WARDEN_E_INTERNAL;
		snprintf(msg, msg_len, "the policy engine failed: %s", d->sentence);
		goto out;
	}
	sign_body(&b, st, peer, k, r, d, sha, blob);
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK) {
		struct aud_record rec = {.type = AUD_T_SIGN, .time_ns = d->summary.time_ns,
					 .body = b.data, .body_len = b.len};
		rc = aud_append(st->log, &rec, &seq);
	}
	int committed = rc == WARDEN_OK && d->allowed ? pol_state_commit(st->pstate, d) : 1;
	if (rc == WARDEN_OK)
		enc_snapshot_maybe(st, seq); /* when due; the state is that of records [0, seq] */
	pthread_mutex_unlock(&st->decide_lock);

	/* Begin the backend operation while the record is written (it only prepares:
	 * C_SignInit; the signature itself waits for durability). */
	if (rc == WARDEN_OK && d->allowed && committed && op != NULL) {
		sreq->data_sha256 = sha; /* hashed above: not again for SHA-256 mechanisms */
		prep_rc = sign_begin(st->bk, k->bk, sreq, op, NULL, prep_err, sizeof(prep_err));
		sreq->data_sha256 = NULL;
		begun = prep_rc == WARDEN_OK;
	}
	if (rc == WARDEN_OK)
		rc = aud_sync(st->log, seq);
	enc_log(ENC_LOG_INFO, "decision key=%s mech=%s kind=%s %s reason=%s serial=%s: %s",
		k->cfg->label, pol_mechanism_name((unsigned long)r->mechanism),
		kind_word(d->summary.kind), d->allowed ? "allowed" : "refused",
		pol_reason_name(d->reason),
		d->summary.serial_hex[0] != '\0' ? d->summary.serial_hex : "-", d->sentence);
	if (rc != WARDEN_OK) {
		char why[AUD_ERR_LEN] = "";
		(void)aud_failed(st->log, why, sizeof(why));
		snprintf(msg, msg_len, "the audit record could not be made durable: %s",
			 why[0] != '\0' ? why : "record not written");
		enc_log(ENC_LOG_ERR, "uid %u pid %d: %s; nothing signed", (unsigned)peer->uid,
			(int)peer->pid, msg);
		rc = WARDEN_E_AUDIT;
		goto out;
	}
	if (!d->allowed) {
		/* Recorded as any refusal; told as what PKCS#11 calls it when the request
		 * itself is malformed (a mechanism or its parameters the key cannot use). */
		snprintf(msg, msg_len, "%s", d->sentence);
		rc = d->reason == POL_R_MECH_PARAMS ? WARDEN_E_MECH_PARAM
		     : d->reason == POL_R_MECHANISM ? WARDEN_E_MECHANISM
						    : WARDEN_E_DENIED;
		goto out;
	}
	if (!committed) {
		snprintf(msg, msg_len, "the policy state is full; nothing signed");
		enc_log(ENC_LOG_ERR, "%s", msg);
		rc = WARDEN_E_INTERNAL;
		goto out;
	}
	if (op != NULL && !begun) {
		/* Allowed and recorded, but the backend would not begin (the record stays: an
		 * allowed decision whose signature was never made). */
		snprintf(msg, msg_len, "%s", prep_err[0] != '\0' ? prep_err : "the key backend refused to sign");
		enc_log(ENC_LOG_ERR, "key \"%s\" mechanism 0x%lx: allowed but not signed: %s",
			k->cfg->label, (unsigned long)r->mechanism, msg);
		rc = prep_rc;
		goto out;
	}
	rc = WARDEN_OK;
out:
	if (rc != WARDEN_OK && begun)
		sign_cancel(op);
	aud_body_free(&b);
	return rc;
}

/* The log's word for a mechanism: its name, or its number when it has none. */
static const char *mech_word(unsigned long mech, char *buf, size_t len)
{
	const char *name = pol_mechanism_name(mech);
	if (strncmp(name, "CKM_", 4) == 0)
		return name;
	snprintf(buf, len, "0x%lx", mech);
	return buf;
}

int enc_decide_refuse(struct enc_state *st, const struct enc_peer *peer,
		      const struct enc_key *k, const struct wire_sign_req *r,
		      enum pol_reason reason, const char *sentence)
{
	uint8_t sha[SHA256_DIGEST_LENGTH];
	bool hashed = false;
	struct aud_body b;
	uint64_t seq = 0;
	char key_word[32], mech_buf[32];
	int rc;

	/* The data was received whole (its length was bounded by the frame's): hash it
	 * outside the lock, as a decision does. */
	if (r->data_len > 0)
		hashed = sign_sha256(r->data, r->data_len, sha) == WARDEN_OK;
	aud_body_init(&b);
	pthread_mutex_lock(&st->decide_lock);
	put_request(&b, false, reason, sentence, k, r);
	aud_put_uint(&b, AUD_F_DATA_LEN, r->data_len);
	if (hashed)
		aud_put_bytes(&b, AUD_F_DATA_SHA256, sha, sizeof(sha));
	else if (r->data_len > 0)
		aud_put_str(&b, AUD_F_TEXT, "the data could not be hashed");
	put_caller(&b, st, peer);
	rc = aud_body_finish(&b);
	if (rc == WARDEN_OK) {
		struct aud_record rec = {.type = AUD_T_SIGN, .time_ns = now_ns(),
					 .body = b.data, .body_len = b.len};
		rc = aud_append(st->log, &rec, &seq);
	}
	if (rc == WARDEN_OK)
		enc_snapshot_maybe(st, seq); /* a refusal leaves the state as it was */
	pthread_mutex_unlock(&st->decide_lock);
	if (rc == WARDEN_OK)
		rc = aud_sync(st->log, seq);

	if (k == NULL)
		snprintf(key_word, sizeof(key_word), "#%lu", (unsigned long)r->key_id);
	enc_log(ENC_LOG_INFO, "decision key=%s mech=%s kind=- refused reason=%s serial=-: %s",
		k != NULL ? k->cfg->label : key_word,
		mech_word((unsigned long)r->mechanism, mech_buf, sizeof(mech_buf)),
		pol_reason_name(reason), sentence);
	if (rc != WARDEN_OK) {
		char why[AUD_ERR_LEN] = "";
		(void)aud_failed(st->log, why, sizeof(why));
		enc_log(ENC_LOG_ERR, "uid %u pid %d: the record of a refused request could not be "
				     "made durable: %s", (unsigned)peer->uid, (int)peer->pid,
			why[0] != '\0' ? why : "record not written");
		rc = WARDEN_E_AUDIT;
	}
	aud_body_free(&b);
	return rc;
}
