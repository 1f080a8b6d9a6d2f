/*
 * audit.h - the Warden audit log: write-ahead, hash-chained, group-committed, signed
 * checkpoints; and the reader every consumer shares (enclave start-up, warden-audit).
 *
 * docs/audit-format.md is the reference for the bytes on disk; this header is the
 * contract in C.  In short:
 *
 *   LOGDIR/audit-<first seq, 20 decimal digits>.log   records, rotated by size
 *   LOGDIR/checkpoint.txt                              newest signed checkpoint (C2SP note)
 *   LOGDIR/audit.pub                                   the audit public key (note verifier key)
 *   LOGDIR/lock                                        held (flock) by the one writer
 *
 * A record: u32 record_len | u16 type | u16 flags | u64 seq | i64 time_ns | prev_hash[32]
 * | body | hash[32], big-endian, hash = SHA-256(every byte before it).  The body is a
 * self-describing TLV set (u16 tag whose top 4 bits give the value kind, u32 length,
 * value): new fields need no format change, readers skip tags they do not know.
 *
 * ---- Wiring into the enclave (the intended use) -------------------------------------
 *
 * Start-up, before the sandbox (needs opendir, flock, and the key file):
 *     struct aud_params p = { .dir = cfg.audit_dir, .key_file = ".../audit.key",
 *                             .replay = enc_state_replay, .replay_ctx = &state,
 *                             .genesis = &genesis_record_or_NULL };
 *     struct aud_open_report rep;
 *     rc = aud_open(&p, &log, &rep, err, sizeof err);
 *   - rc != WARDEN_OK: the log failed verification (err names file and offset) or
 *     could not be opened: log err and exit; the operator decides.
 *   - rep.repaired: a torn tail was cut and a RECOVERY record appended; log rep.message
 *     at warning level.
 *   - enc_state_replay() sees every record in order (seq 0 first) and rebuilds rate
 *     buckets, issued serials + notAfter, revocations, last CRL number per key, PIN
 *     failures (LOGIN_FAIL increments, LOGIN_OK resets, LOCKOUT).  Allowed SIGN
 *     records inside a RECOVERY record's [AUD_F_REFUSED_FROM, AUD_F_REFUSED_TO] range
 *     were refused to their caller (see "fail closed") and produced no signature.
 *   Then append CONFIG and POLICY records with their SHA-256 (aud_append + aud_sync).
 *   The CONFIG record must carry, per key served, one AUD_F_CA_KEY list:
 *       { AUD_F_KEY label, AUD_F_KEY_SPKI SubjectPublicKeyInfo DER,
 *         AUD_F_CA_CERT the CA certificate DER as configured (when the key has one) }
 *   `warden-audit reconcile --policy` builds its struct pol_ca_info (subject, SKI,
 *   notAfter, key type) from AUD_F_CA_CERT exactly as the enclave does from the file.
 *   A SIGN record with an RSA-PSS mechanism also carries AUD_F_PSS_HASH, AUD_F_PSS_MGF
 *   and AUD_F_PSS_SALT_LEN (the CK_RSA_PKCS_PSS_PARAMS it was asked with).
 *
 * Snapshots (optional; docs/audit-format.md "State snapshots"): to keep start-up short
 * on long logs, every N records (e.g. 100,000) the enclave serialises its replayed
 * state, holding the decision lock so that the blob reflects exactly the records
 * appended so far, and calls aud_snapshot_append(log, version, blob, len, &seq).  At
 * start-up it sets p.snapshot (receives the newest complete blob; the state covers
 * records [0, seq)) and p.replay then sees only records after the snapshot.
 * p.fast_start = true verifies only from the snapshot on (it must be followed by a
 * checkpoint signed with the audit key); otherwise the whole chain is verified and only
 * the replay is shortened.  rep.snapshot_seq / rep.fast_start / rep.snapshot_message
 * say what was used and why not: log the message at notice level.  A snapshot may
 * count the effect of records that a later RECOVERY record declares refused (their
 * sync failed after the snapshot was taken): the state then over-counts, which errs
 * on the strict side (a serial held as used, a bucket charged).
 *
 * One signature (any thread; decisions and appends must be made in one order, so hold
 * the enclave's decision lock across "decide + aud_append", not across aud_sync):
 *     lock(decide); decision = policy(state); aud_append(log, &rec, &seq);
 *     apply decision to state; unlock(decide);
 *     rc = aud_sync(log, seq);              // group commit: shares one fdatasync
 *     if (rc != WARDEN_OK) -> refuse with WARDEN_E_AUDIT, log aud_error(log)
 *     else if allowed -> sign
 *   Build the body with struct aud_body (AUD_F_* tags below); docs/audit-format.md
 *   lists the fields a SIGN record carries.
 *
 * Periodically (e.g. from the main loop's poll timeout): aud_tick(log) writes a
 * checkpoint when T seconds passed and records were added.  At SIGTERM:
 * aud_shutdown(log, "SIGTERM") (SHUTDOWN record + checkpoint, synced), then aud_close.
 *
 * ---- Fail closed --------------------------------------------------------------------
 * A failed write, rotation or fdatasync (ENOSPC, EIO, EDQUOT,
 * EFBIG) puts the log in a failed state: aud_sync returns WARDEN_E_AUDIT for every
 * record not yet durable, aud_append refuses new records, aud_error() says why.  Every
 * later aud_append (at most once per retry_ms) and aud_retry() try again: the records
 * kept in memory are re-written from the last durable offset (nothing lost, nothing
 * duplicated) followed by a RECOVERY record naming the refused seq range, and appends
 * work again.  Records in that range stay refused for their callers even after the
 * retry (their aud_sync already failed or will fail): they were never signed.
 *
 * ---- System calls after start-up (for the enclave's seccomp list) ---------------------
 * aud_append/aud_sync/aud_tick/aud_retry/aud_shutdown/aud_close use only:
 *   pwrite64, fdatasync, fsync (of the directory fd, after a rename), ftruncate,
 *   openat (O_CREAT|O_EXCL of the next file and of checkpoint.txt.tmp, relative to
 *   the directory fd), renameat, unlinkat (a stale .tmp), close, clock_gettime,
 *   futex (mutex/condvar), brk/mmap/munmap/madvise (malloc).  No fallocate: space is
 *   preallocated by writing zeros (see aud_log.c).  Ed25519 signing is
 *   deterministic (no getrandom).
 * Landlock: the audit directory needs read/write/create/remove/truncate of files.
 * aud_open additionally uses openat(O_DIRECTORY), getdents64, flock, read, pread64, fstat and
 * reads the key file: call it before the sandbox.
 *
 * Threads: every function taking a struct aud_log is thread-safe except aud_open and
 * aud_close.  The replay callback runs in aud_open's thread.
 */
#ifndef WARDEN_AUDIT_H
#define WARDEN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h" /* enum warden_status */

#define AUD_MUST_CHECK __attribute__((warn_unused_result))

/* ===== Format constants (docs/audit-format.md) ===================================== */

#define AUD_HASH_LEN 32u
#define AUD_FILE_MAGIC "WRDNAUD1"
#define AUD_FILE_MAGIC_LEN 8u
#define AUD_FORMAT_VERSION 1u
#define AUD_FILE_HDR_LEN 64u  /* magic, version, header length, first seq, prev hash, 0s */
#define AUD_REC_HDR_LEN 56u   /* len, type, flags, seq, time, prev hash */
#define AUD_REC_MIN_LEN (AUD_REC_HDR_LEN + AUD_HASH_LEN)
/* Largest record (a CRL summary with its revoked serials must fit; ~150k serials). */
#define AUD_MAX_RECORD (4u * 1024u * 1024u)
#define AUD_MAX_BODY (AUD_MAX_RECORD - AUD_REC_MIN_LEN)
/* Largest batch the writer has in flight (written, not yet durable): one pwrite and
 * one fdatasync at a time, so only the last batch can be torn. */
#define AUD_MAX_BATCH (8u * 1024u * 1024u)
#define AUD_MAX_DEPTH 4u      /* LIST nesting */
#define AUD_MAX_FILES 1000000u
#define AUD_FILE_NAME_LEN 31u /* "audit-" 20 digits ".log" + NUL */
#define AUD_MAX_PATH 4096u
#define AUD_ERR_LEN 512u
/* Snapshots: the blob is cut into records of this size, and may be this large. */
#define AUD_SNAPSHOT_CHUNK (1024u * 1024u)
#define AUD_MAX_SNAPSHOT (256u * 1024u * 1024u)
#define AUD_MAX_SNAPSHOT_CHUNKS (AUD_MAX_SNAPSHOT / AUD_SNAPSHOT_CHUNK)

_Static_assert(AUD_MAX_BATCH >= 2u * AUD_MAX_RECORD, "a batch holds the largest record");
_Static_assert(AUD_SNAPSHOT_CHUNK + 256u <= AUD_MAX_BODY, "a chunk and its fields fit a record");
_Static_assert(AUD_MAX_RECORD < UINT32_MAX, "record_len is a u32");
_Static_assert(AUD_FILE_HDR_LEN >= AUD_FILE_MAGIC_LEN + 8u + 8u + AUD_HASH_LEN,
	       "file header fields fit");

/* Defaults of struct aud_params (0 there means these). */
#define AUD_DEFAULT_ROTATE_BYTES (64ull * 1024u * 1024u)
#define AUD_DEFAULT_PREALLOC_BYTES (4ull * 1024u * 1024u)
#define AUD_DEFAULT_CKPT_RECORDS 1000u
#define AUD_DEFAULT_CKPT_MS 60000u
#define AUD_DEFAULT_RETRY_MS 1000u
#define AUD_MIN_ROTATE_BYTES (AUD_FILE_HDR_LEN + AUD_REC_MIN_LEN)

/* Record types.  Stable numbers; readers accept types they do not know. */
enum aud_type {
	AUD_T_GENESIS = 1,    /* seq 0 only: key ceremony facts, audit public key */
	AUD_T_CONFIG = 2,     /* enclave.json loaded: AUD_F_CONFIG_SHA256 */
	AUD_T_POLICY = 3,     /* policy loaded: AUD_F_POLICY_SHA256 */
	AUD_T_SIGN = 4,       /* a sign decision, allowed or refused */
	AUD_T_LOGIN_FAIL = 5, /* a wrong PIN (counted before the comparison) */
	AUD_T_LOCKOUT = 6,    /* the PIN is locked */
	AUD_T_LOGIN_OK = 7,   /* a good PIN: resets the failure count */
	AUD_T_CHECKPOINT = 8, /* signed (size = this seq, head = prev hash) */
	AUD_T_RECOVERY = 9,   /* torn tail cut, or a write failure overcome */
	AUD_T_SHUTDOWN = 10,  /* orderly stop */
	AUD_T_SNAPSHOT = 11,  /* optional: replay state, hash-covered like any record */
};
#define AUD_T_MAX AUD_T_SNAPSHOT
const char *aud_type_str(uint16_t type); /* "sign", ... or NULL if unknown */

/* Value kinds: the top 4 bits of a tag. */
enum aud_kind {
	AUD_K_UINT = 1,  /* 8 bytes, unsigned big-endian */
	AUD_K_INT = 2,   /* 8 bytes, two's complement big-endian */
	AUD_K_STR = 3,   /* UTF-8, no NUL, no C0 controls but tab */
	AUD_K_BYTES = 4, /* opaque, shown as hex */
	AUD_K_LIST = 5,  /* a nested field set */
};
#define AUD_TAG(kind, num) ((uint16_t)(((unsigned)(kind) << 12) | (unsigned)(num)))
#define AUD_TAG_KIND(tag) ((unsigned)(tag) >> 12)
#define AUD_TAG_NUM(tag) ((unsigned)(tag)&0x0fffu)

/* Field tags.  Numbers are unique across kinds so a name maps to one tag. */
#define AUD_F_DECISION AUD_TAG(AUD_K_UINT, 1)      /* 1 allowed, 0 refused */
#define AUD_F_REASON_CODE AUD_TAG(AUD_K_UINT, 2)   /* stable reason number */
#define AUD_F_REASON AUD_TAG(AUD_K_STR, 3)         /* one sentence */
#define AUD_F_KEY AUD_TAG(AUD_K_STR, 4)            /* key label */
#define AUD_F_MECHANISM AUD_TAG(AUD_K_UINT, 5)     /* CKM_* */
#define AUD_F_DATA_KIND AUD_TAG(AUD_K_UINT, 6)     /* enum pol_kind */
#define AUD_F_DATA_SHA256 AUD_TAG(AUD_K_BYTES, 7)  /* of the exact bytes to be signed */
#define AUD_F_PREHASH AUD_TAG(AUD_K_BYTES, 8)      /* the digest received (raw mechs) */
#define AUD_F_PREHASH_ALG AUD_TAG(AUD_K_STR, 9)    /* "sha256"..., for AUD_F_PREHASH */
#define AUD_F_CALLER_UID AUD_TAG(AUD_K_UINT, 10)
#define AUD_F_CALLER_PID AUD_TAG(AUD_K_UINT, 11)
#define AUD_F_POLICY_SHA256 AUD_TAG(AUD_K_BYTES, 12)
#define AUD_F_CONFIG_SHA256 AUD_TAG(AUD_K_BYTES, 13)
#define AUD_F_SERIAL AUD_TAG(AUD_K_BYTES, 14)      /* INTEGER contents, as in the TBS */
#define AUD_F_SUBJECT AUD_TAG(AUD_K_STR, 15)       /* RFC 4514 text */
#define AUD_F_SAN AUD_TAG(AUD_K_STR, 16)           /* repeated: "DNS:x" "IP:x" "email:x" "URI:x" */
#define AUD_F_NOT_BEFORE AUD_TAG(AUD_K_INT, 17)    /* seconds since the epoch */
#define AUD_F_NOT_AFTER AUD_TAG(AUD_K_INT, 18)
#define AUD_F_PROFILE AUD_TAG(AUD_K_STR, 19)
#define AUD_F_PROVISIONER AUD_TAG(AUD_K_STR, 20)
#define AUD_F_CRL_NUMBER AUD_TAG(AUD_K_BYTES, 21)  /* INTEGER contents */
#define AUD_F_REVOKED AUD_TAG(AUD_K_BYTES, 22)     /* repeated: revoked serial */
#define AUD_F_OCSP AUD_TAG(AUD_K_LIST, 23)         /* repeated: { SERIAL, OCSP_STATUS } */
#define AUD_F_OCSP_STATUS AUD_TAG(AUD_K_UINT, 24)  /* 0 good, 1 revoked, 2 unknown */
#define AUD_F_FAILURES AUD_TAG(AUD_K_UINT, 25)     /* PIN failure count after this */
#define AUD_F_AUDIT_PUBKEY AUD_TAG(AUD_K_BYTES, 26) /* 32-byte Ed25519 (genesis) */
#define AUD_F_ORIGIN AUD_TAG(AUD_K_STR, 27)        /* checkpoint origin = key name */
#define AUD_F_CA_KEY AUD_TAG(AUD_K_LIST, 28)       /* genesis/config: { KEY, KEY_SPKI, ... } */
#define AUD_F_KEY_SPKI AUD_TAG(AUD_K_BYTES, 29)    /* SubjectPublicKeyInfo DER */
#define AUD_F_TREE_SIZE AUD_TAG(AUD_K_UINT, 30)    /* checkpoint: records covered */
#define AUD_F_HEAD_HASH AUD_TAG(AUD_K_BYTES, 31)   /* checkpoint: hash of record size-1 */
#define AUD_F_NOTE_SIG AUD_TAG(AUD_K_BYTES, 32)    /* checkpoint: key id (4) || Ed25519 sig */
#define AUD_F_FILE AUD_TAG(AUD_K_STR, 33)          /* recovery: file name */
#define AUD_F_OFFSET AUD_TAG(AUD_K_UINT, 34)       /* recovery: where the cut began */
#define AUD_F_CUT_BYTES AUD_TAG(AUD_K_UINT, 35)    /* recovery: non-zero bytes removed */
#define AUD_F_CUT_SHA256 AUD_TAG(AUD_K_BYTES, 36)  /* recovery: SHA-256 of those bytes */
#define AUD_F_REFUSED_FROM AUD_TAG(AUD_K_UINT, 37) /* recovery: first refused seq */
#define AUD_F_REFUSED_TO AUD_TAG(AUD_K_UINT, 38)   /* recovery: last refused seq */
#define AUD_F_ERRNO AUD_TAG(AUD_K_UINT, 39)
#define AUD_F_SOFTWARE AUD_TAG(AUD_K_STR, 40)      /* "warden 0.1" */
#define AUD_F_TEXT AUD_TAG(AUD_K_STR, 41)          /* free text (shutdown reason...) */
#define AUD_F_TOKEN AUD_TAG(AUD_K_STR, 42)         /* token label / serial */
#define AUD_F_ISSUER AUD_TAG(AUD_K_STR, 43)        /* RFC 4514 issuer text */
#define AUD_F_STATE AUD_TAG(AUD_K_BYTES, 44)       /* snapshot: one chunk of the state blob */
#define AUD_F_CA_CERT AUD_TAG(AUD_K_BYTES, 45)     /* in ca_key: the CA certificate DER */
#define AUD_F_PSS_HASH AUD_TAG(AUD_K_UINT, 46)     /* sign, PSS: CK_RSA_PKCS_PSS_PARAMS.hashAlg */
#define AUD_F_PSS_MGF AUD_TAG(AUD_K_UINT, 47)      /* sign, PSS: .mgf (CKG_MGF1_*) */
#define AUD_F_PSS_SALT_LEN AUD_TAG(AUD_K_UINT, 48) /* sign, PSS: .sLen */
#define AUD_F_SNAP_VERSION AUD_TAG(AUD_K_UINT, 49) /* snapshot: the blob's format version */
#define AUD_F_SNAP_INDEX AUD_TAG(AUD_K_UINT, 50)   /* snapshot: this chunk, 0.. */
#define AUD_F_SNAP_COUNT AUD_TAG(AUD_K_UINT, 51)   /* snapshot: chunks in all */
#define AUD_F_SNAP_LEN AUD_TAG(AUD_K_UINT, 52)     /* snapshot: blob length in bytes */
#define AUD_F_POL_SUMMARY AUD_TAG(AUD_K_BYTES, 53) /* sign: pol_summary_encode() (replay) */
#define AUD_F_REVOCATION AUD_TAG(AUD_K_BYTES, 54)  /* sign, repeated: pol_revocation_encode() */
#define AUD_F_REASON_NAME AUD_TAG(AUD_K_STR, 55)   /* sign: "name.dns.not_allowed", ... */
#define AUD_F_DATA_LEN AUD_TAG(AUD_K_UINT, 56)     /* sign, refused before the policy: data bytes */
#define AUD_F_KEY_ID AUD_TAG(AUD_K_UINT, 57)       /* sign: a key id that names no key */
#define AUD_F_MAX_NUM 57u

/* Name of a known tag ("decision", "data_sha256"...), NULL if unknown. */
const char *aud_tag_name(uint16_t tag);
/* Tag of a known name, 0 if unknown. */
uint16_t aud_tag_by_name(const char *name);

/* ===== Building a body ============================================================= */

/* A growing body.  On allocation failure or misuse (a kind that does not match the
 * tag, a body above AUD_MAX_BODY, unbalanced lists) `failed` is set and later puts are
 * no-ops: check once with aud_body_finish. */
struct aud_body {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;
	unsigned depth;
	size_t open[AUD_MAX_DEPTH]; /* offsets of open LIST headers */
};

void aud_body_init(struct aud_body *b);
void aud_body_free(struct aud_body *b);
void aud_put_uint(struct aud_body *b, uint16_t tag, uint64_t v);
void aud_put_int(struct aud_body *b, uint16_t tag, int64_t v);
void aud_put_str(struct aud_body *b, uint16_t tag, const char *s);
void aud_put_strn(struct aud_body *b, uint16_t tag, const char *s, size_t len);
void aud_put_bytes(struct aud_body *b, uint16_t tag, const void *p, size_t len);
void aud_list_begin(struct aud_body *b, uint16_t tag);
void aud_list_end(struct aud_body *b);
/* WARDEN_OK, WARDEN_E_NOMEM, or WARDEN_E_INTERNAL (misuse, invalid UTF-8, too big). */
AUD_MUST_CHECK int aud_body_finish(const struct aud_body *b);

/* ===== Reading a body ============================================================== */

struct aud_cur {
	const uint8_t *p;
	size_t len;
};

struct aud_field {
	uint16_t tag;
	const uint8_t *val;
	size_t len;
};

/* Next field: 1 and *out filled, 0 at the end, -1 if malformed (header past the end,
 * unknown kind, UINT/INT not 8 bytes).  Values are not checked here; a body that
 * passed aud_body_check is well formed throughout. */
AUD_MUST_CHECK int aud_field_next(struct aud_cur *c, struct aud_field *out);
uint64_t aud_field_uint(const struct aud_field *f);
int64_t aud_field_int(const struct aud_field *f);
/* Strict check of a whole body: structure, kinds, lengths, UTF-8, depth.
 * On failure *err_off (may be NULL) gets the offset of the bad field in the body. */
AUD_MUST_CHECK bool aud_body_check(const uint8_t *body, size_t len, size_t *err_off,
				   const char **what);
/* First top-level field with this tag. */
bool aud_body_find(const uint8_t *body, size_t len, uint16_t tag, struct aud_field *out);

/* ===== Records ===================================================================== */

/* A record to append.  time_ns 0 means now (CLOCK_REALTIME). */
struct aud_record {
	uint16_t type;
	int64_t time_ns;
	const uint8_t *body;
	size_t body_len;
};

/* A record as read: views into the reader's buffer, valid during the callback only. */
struct aud_rec {
	uint64_t seq;
	uint16_t type;
	int64_t time_ns;
	const uint8_t *prev_hash;
	const uint8_t *hash;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *raw; /* the whole record, raw_len bytes */
	size_t raw_len;
	const char *file;   /* file name (no directory) */
	uint64_t offset;    /* byte offset of the record in that file */
};

/* Replay / scan callback: return 0 to go on, non-zero to stop (the scan then fails
 * with AUD_V_STOPPED and that value in result.cb_rc). */
typedef int (*aud_record_fn)(void *ctx, const struct aud_rec *rec);

/* Parses one record at the start of buf (len bytes available).  prev_hash: what the
 * record must link to.  Returns AUD_V_OK with *out filled, or the failure. */
enum aud_verdict {
	AUD_V_OK = 0,
	AUD_V_END = 1,           /* a zero length: end of data in this file */
	AUD_V_SHORT = 2,         /* the record runs past the end of the file */
	AUD_V_BAD_LEN = 3,       /* length below the minimum or above AUD_MAX_RECORD */
	AUD_V_BAD_HASH = 4,      /* stored hash differs from SHA-256 of the bytes */
	AUD_V_BAD_LINK = 5,      /* prev_hash differs from the previous record's hash */
	AUD_V_BAD_SEQ = 6,       /* not the next sequence number */
	AUD_V_BAD_FIELD = 7,     /* flags, type or body malformed */
	AUD_V_BAD_GENESIS = 8,   /* seq 0 not a genesis, or a genesis elsewhere */
	AUD_V_BAD_CHECKPOINT = 9, /* checkpoint fields or signature wrong */
	AUD_V_BAD_FILE = 10,     /* file header, name, or file sequence wrong */
	AUD_V_TRAILING = 11,     /* non-zero bytes after the end of data */
	AUD_V_TRUNCATED = 12,    /* shorter than a checkpoint says, or head differs */
	AUD_V_IO = 13,           /* could not read */
	AUD_V_STOPPED = 14,      /* the callback asked to stop */
	AUD_V_EMPTY = 15,        /* no log files */
	AUD_V_NOMEM = 16,
};
const char *aud_verdict_str(enum aud_verdict v);

/* ===== Verifying and scanning a log directory ====================================== */

struct aud_scan_opts {
	const char *dir;
	/* Checkpoint records' signatures are verified against this key when set (32 bytes
	 * Ed25519); without it they are checked for form and consistency only. */
	const uint8_t *pubkey;
	/* A C2SP checkpoint (text) the log must reach: size and head hash.  Its signature
	 * must verify with pubkey (required with it). */
	const char *checkpoint_text;
	size_t checkpoint_len;
	aud_record_fn cb; /* every good record in order, or NULL */
	void *cb_ctx;
	/* Start part-way (snapshot fast start): at the file whose first record is
	 * start_seq, taking start_prev (32 bytes) as the hash of record start_seq-1.
	 * NULL: from the first file.  Records before are not read at all. */
	uint64_t start_seq;
	const uint8_t *start_prev;
};

struct aud_scan_result {
	enum aud_verdict verdict;
	char what[AUD_ERR_LEN];       /* a sentence on the failure */
	char file[AUD_FILE_NAME_LEN]; /* where the failure is ("" when none) */
	uint64_t offset;              /* byte offset in that file */
	bool in_last_file;            /* the failure is in the newest file */
	int cb_rc;
	/* What did verify: records [0, num_records), ending at good_file:good_end. */
	uint64_t num_records;
	uint8_t head[AUD_HASH_LEN];   /* hash of record num_records-1 (zeros if none) */
	char good_file[AUD_FILE_NAME_LEN];
	uint64_t good_end;            /* end offset of the last good record in good_file */
	uint64_t good_file_first_seq;
	uint64_t num_files;
	uint64_t num_checkpoints;     /* checkpoint records seen (signatures verified if key) */
	uint64_t last_checkpoint_size;
	bool checkpoint_checked;      /* the given checkpoint's size was reached and matched */
};

/* Reads every file of dir in order, verifying framing, hashes, the chain, sequence,
 * file headers and checkpoints, in one pass with memory bounded by AUD_MAX_RECORD.
 * Returns the verdict (also in res->verdict). */
AUD_MUST_CHECK enum aud_verdict aud_scan(const struct aud_scan_opts *o,
					 struct aud_scan_result *res);

/* ===== The writer ================================================================== */

struct aud_log;

/* A snapshot at open: the blob given to aud_snapshot_append, its version, and the seq of
 * its first SNAPSHOT record: the state covers exactly records [0, seq).  Return 0 to go
 * on, non-zero to fail the open (as a replay callback does). */
typedef int (*aud_snapshot_fn)(void *ctx, uint32_t version, const uint8_t *state,
			       size_t len, uint64_t seq);

struct aud_params {
	const char *dir;
	/* Ed25519 private key (PEM PKCS#8, from aud_keygen).  NULL: no checkpoints are
	 * written (tests, tools); the enclave always sets it. */
	const char *key_file;
	uint64_t rotate_bytes;     /* start a new file past this size; 0: default */
	uint64_t prealloc_bytes;   /* zero-fill ahead by this much; 0: default */
	uint32_t checkpoint_records; /* a checkpoint after this many records; 0: default */
	uint32_t checkpoint_ms;    /* or after this long (checked at append and aud_tick) */
	uint32_t retry_ms;         /* failed state: retry at most this often; 0: default */
	bool retry_every_call;     /* failed state: retry on every append (tests) */
	/* Write through the page cache + fdatasync, one write at a time, even where the
	 * file system offers O_DIRECT (then: overlapping O_DIRECT|O_DSYNC writes). */
	bool buffered;
	/* Written as seq 0 when dir holds no log (the audit public key and origin are
	 * added to its body).  NULL: an empty dir is an error. */
	const struct aud_record *genesis;
	aud_record_fn replay;      /* every record at open, in order; may be NULL */
	void *replay_ctx;
	/* State snapshots (see "Snapshots" below).  With snapshot set, the newest complete
	 * snapshot is handed to it and replay sees only the records after it; SNAPSHOT
	 * records never reach replay.  NULL: replay sees every record, snapshots included. */
	aud_snapshot_fn snapshot;
	void *snapshot_ctx;
	/* Verify only from the newest snapshot that a signed checkpoint covers (needs
	 * key_file).  false (default): verify every record from genesis. */
	bool fast_start;
};

struct aud_open_report {
	bool created;             /* an empty directory got a genesis record */
	bool repaired;            /* a torn tail was cut (see message) */
	char file[AUD_FILE_NAME_LEN];
	uint64_t offset;          /* where the cut began */
	uint64_t cut_bytes;       /* non-zero bytes removed */
	uint64_t num_records;     /* records in the log after open */
	char message[AUD_ERR_LEN];
	/* Snapshots: the one used (seq of its first record, UINT64_MAX when none), whether
	 * verification started there (fast start), the first record verified, and why a
	 * fast start or a snapshot was not used ("" when it was, or was not asked for). */
	uint64_t snapshot_seq;
	bool fast_start;
	uint64_t verified_from;
	char snapshot_message[AUD_ERR_LEN];
};

/* Opens (or creates) the log in dir: takes the lock, verifies every record (one pass,
 * replaying each through p->replay), checks checkpoint records against the key and
 * the log against checkpoint.txt, repairs a torn tail (truncate + RECOVERY record,
 * reported in rep), and makes ready to append.  Fails on any other defect with err
 * naming the file and offset.  WARDEN_OK, WARDEN_E_AUDIT (the log is bad: err says
 * where), WARDEN_E_INTERNAL (I/O, key), WARDEN_E_NOMEM, WARDEN_E_BUSY (locked). */
AUD_MUST_CHECK int aud_open(const struct aud_params *p, struct aud_log **out,
			    struct aud_open_report *rep, char *err, size_t err_len);

/* Appends a record in memory, ordered: assigns its seq (out_seq) and chains it.  May
 * append a checkpoint record after it (every N records / T seconds).  Does not wait for
 * the disk: call aud_sync.  WARDEN_OK, WARDEN_E_AUDIT (failed state; aud_error says
 * why), WARDEN_E_INTERNAL (bad record), WARDEN_E_NOMEM. */
AUD_MUST_CHECK int aud_append(struct aud_log *log, const struct aud_record *rec,
			      uint64_t *out_seq);
/* Returns once record seq is durable (written and fdatasync'd).  Callers that arrive
 * while a sync runs wait and share the next one (group commit).  WARDEN_OK or
 * WARDEN_E_AUDIT (the write failed; the record is refused for good). */
AUD_MUST_CHECK int aud_sync(struct aud_log *log, uint64_t seq);
/* Appends a checkpoint when checkpoint_ms passed and records were added since the
 * last one, and syncs it.  WARDEN_OK, WARDEN_E_AUDIT. */
AUD_MUST_CHECK int aud_tick(struct aud_log *log);
/* Appends a checkpoint now (if any record follows the last one) and syncs. */
AUD_MUST_CHECK int aud_checkpoint(struct aud_log *log);
/* Failed state: try to write again now.  WARDEN_OK when the log works again. */
AUD_MUST_CHECK int aud_retry(struct aud_log *log);
/* Appends a state snapshot: the blob (len bytes, <= AUD_MAX_SNAPSHOT) in SNAPSHOT
 * records of at most AUD_SNAPSHOT_CHUNK bytes each, starting a new file, with no other
 * record between them, followed by a checkpoint (when the log has a key), and waits
 * until all are durable.  The blob must describe exactly the effect of records
 * [0, *out_seq) (the seq of the first SNAPSHOT record): call it under the lock that
 * orders decisions and appends.  WARDEN_OK, WARDEN_E_AUDIT, WARDEN_E_INTERNAL (too
 * big), WARDEN_E_NOMEM. */
AUD_MUST_CHECK int aud_snapshot_append(struct aud_log *log, uint32_t version,
				       const void *state, size_t len, uint64_t *out_seq);
/* SHUTDOWN record (reason in AUD_F_TEXT) and a checkpoint, synced. */
AUD_MUST_CHECK int aud_shutdown(struct aud_log *log, const char *reason);
void aud_close(struct aud_log *log);

/* Why the log is in the failed state ("" when it is not).  Copies into buf. */
bool aud_failed(struct aud_log *log, char *buf, size_t buf_len);
/* Records appended so far (next seq), and how many are durable. */
uint64_t aud_num_records(struct aud_log *log);
uint64_t aud_num_durable(struct aud_log *log);
/* fdatasync calls made for records so far (records per sync shows group commit). */
uint64_t aud_num_syncs(struct aud_log *log);
/* The name of the file whose first record is first_seq ("audit-%020llu.log"). */
void aud_file_name(uint64_t first_seq, char out[AUD_FILE_NAME_LEN]);
/* The origin (= key name) of this log's checkpoints, or "" without a key. */
const char *aud_origin(const struct aud_log *log);

/* ===== Keys and checkpoints (C2SP signed note) ====================================== */

#define AUD_ED25519_LEN 32u
#define AUD_SIG_LEN 64u
#define AUD_KEYID_LEN 4u
#define AUD_ORIGIN_PREFIX "warden.audit/"
#define AUD_ORIGIN_MAX 64u
#define AUD_NOTE_MAX 4096u     /* largest checkpoint text accepted */
#define AUD_NOTE_MAX_SIGS 16u  /* the signed-note spec asks to accept at least 16 */
#define AUD_NOTE_MAX_SIG_LEN 1024u
#define AUD_PUBKEY_LINE_MAX 256u
#define AUD_CHECKPOINT_FILE "checkpoint.txt"
#define AUD_PUBKEY_FILE "audit.pub"

/* Makes an Ed25519 key pair: priv_path (PEM PKCS#8, 0600, must not exist) and pub_path
 * (one line: <name>+<key id hex>+<base64(0x01 || key)>, 0644).  WARDEN_OK or
 * WARDEN_E_INTERNAL with err set. */
AUD_MUST_CHECK int aud_keygen(const char *priv_path, const char *pub_path, char *err,
			      size_t err_len);
/* The origin / key name for a public key: AUD_ORIGIN_PREFIX + 16 hex digits of
 * SHA-256(key).  out must hold AUD_ORIGIN_MAX. */
void aud_origin_for_key(const uint8_t pub[AUD_ED25519_LEN], char *out);
/* signed-note key id: SHA-256(name || 0x0A || 0x01 || key)[:4], big-endian. */
uint32_t aud_note_keyid(const char *name, const uint8_t pub[AUD_ED25519_LEN]);
/* Parses an audit.pub line.  out_name must hold AUD_ORIGIN_MAX. */
AUD_MUST_CHECK bool aud_pubkey_parse(const char *line, size_t len, char *out_name,
				     uint8_t out_pub[AUD_ED25519_LEN]);
/* Reads an audit.pub file.  WARDEN_OK or WARDEN_E_INTERNAL with err. */
AUD_MUST_CHECK int aud_pubkey_load(const char *path, char *out_name,
				   uint8_t out_pub[AUD_ED25519_LEN], char *err, size_t err_len);

struct aud_note_sig {
	const char *name;   /* view into the text, not terminated */
	size_t name_len;
	uint32_t keyid;
	const uint8_t *sig; /* into out->sig_buf */
	size_t sig_len;
};

/* A parsed checkpoint note.  Views point into the text given to aud_note_parse. */
struct aud_note {
	const char *text;     /* the signed part: origin..last body line, with its \n */
	size_t text_len;
	const char *origin;
	size_t origin_len;
	uint64_t size;
	uint8_t head[AUD_HASH_LEN];
	size_t num_ext;       /* extension lines (kept in text, otherwise ignored) */
	size_t num_sigs;
	struct aud_note_sig sigs[AUD_NOTE_MAX_SIGS];
	uint8_t sig_buf[AUD_NOTE_MAX_SIGS * AUD_NOTE_MAX_SIG_LEN];
};

/* Strict parse of a C2SP checkpoint: UTF-8, no control characters but \n, origin,
 * decimal size without leading zeros, base64 of exactly 32 bytes, optional extension
 * lines, one blank line, 1..AUD_NOTE_MAX_SIGS signature lines "— name base64".
 * false on anything else (*out zeroed). */
AUD_MUST_CHECK bool aud_note_parse(const char *text, size_t len, struct aud_note *out);
/* The note body for (origin, size, head) into out (>= AUD_NOTE_MAX); its length. */
size_t aud_note_body(const char *origin, uint64_t size, const uint8_t head[AUD_HASH_LEN],
		     char *out, size_t out_len);
/* 1 if a signature by (name, pub) is present and verifies, 0 if present and does
 * not verify, -1 if no signature of that key is present. */
int aud_note_verify(const struct aud_note *n, const char *name,
		    const uint8_t pub[AUD_ED25519_LEN]);

/* ===== Small shared helpers ======================================================== */

/* Standard base64 (RFC 4648 §4) with padding.  encode: out needs 4*ceil(n/3)+1.
 * decode: strict (canonical padding, no whitespace); false on error. */
size_t aud_b64_encode(const uint8_t *in, size_t len, char *out);
AUD_MUST_CHECK bool aud_b64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap,
				   size_t *out_len);
/* SHA-256 of a buffer (OpenSSL). */
void aud_sha256(const void *p, size_t len, uint8_t out[AUD_HASH_LEN]);

#endif /* WARDEN_AUDIT_H */
