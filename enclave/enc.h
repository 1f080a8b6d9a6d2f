/*
 * enc.h - internals of the warden-enclave daemon (not a public interface).
 *
 * Start-up (enc_main.c) fills one struct enc_state before the sandbox; after it the
 * state is read-only except where a field says which lock guards it.
 */
#ifndef WARDEN_ENC_H
#define WARDEN_ENC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "audit.h"
#include "backend.h"
#include "pin.h"
#include "policy.h"
#include "wire.h"

#define ENC_MAX_UIDS 64u
#define ENC_MAX_ENV 32u
#define ENC_MAX_PATHS 16u
#define ENC_MAX_CLIENTS_LIMIT 1024u
#define ENC_DEFAULT_MAX_CLIENTS 64u
#define ENC_DEFAULT_MAX_DATA (16u * 1024u * 1024u)
#define ENC_DEFAULT_PIN_FAILURES 5u
#define ENC_MAX_PIN_FAILURES 100u
#define ENC_MAX_CONFIG_LEN (1024u * 1024u)
#define ENC_MAX_FILE_LEN (256u * 1024u) /* certificates, PIN files */
#define ENC_MAX_TICKETS 1024u
/* A ticket starts with its slot's index (big-endian, public); the rest is random. */
#define ENC_TICKET_INDEX_LEN 2u
#define ENC_ERR_LEN 512u
#define ENC_LISTEN_BACKLOG 64
/* A frame, once its first byte has arrived, must arrive whole within frame_timeout_ms
 * (one deadline for the whole frame, not per read: a peer trickling a byte at a time
 * cannot hold a thread); an answer must be taken by the peer within the same time. */
#define ENC_FRAME_TIMEOUT_MS 30000
#define ENC_MIN_FRAME_TIMEOUT_MS 100u
#define ENC_MAX_FRAME_TIMEOUT_MS 600000u
#define ENC_SIGN_BODY_EXTRA 4096u  /* SIGN body = data + at most this much */
/* The main loop wakes at least this often for aud_tick (periodic checkpoints). */
#define ENC_TICK_MS 1000
/* Replay holds back this many allowed SIGN records (and at most this many bytes of
 * them) before applying them, so that a RECOVERY record's refused range, which follows
 * the records it names, can still cancel them (enc_audit.c). */
#define ENC_REPLAY_WINDOW 4096u
#define ENC_REPLAY_WINDOW_BYTES (64u * 1024u * 1024u)
/* audit.snapshot_records when enclave.json does not say (docs/architecture.md). */
#define ENC_DEFAULT_SNAPSHOT_RECORDS 100000u
#define ENC_SOFTWARE "warden 0.1"
#define ENC_TOKEN_MANUFACTURER "Warden"
#define ENC_TOKEN_MODEL "warden-enclave"

_Static_assert(ENC_DEFAULT_MAX_DATA <= WIRE_MAX_DATA, "default data bound within the wire's");
_Static_assert(ENC_MAX_TICKETS <= 65536u, "a slot index fits ENC_TICKET_INDEX_LEN bytes");
_Static_assert(WIRE_TICKET_LEN - ENC_TICKET_INDEX_LEN >= 30u, "at least 240 secret bits");
_Static_assert(ENC_SIGN_BODY_EXTRA <= WIRE_MAX_BODY - WIRE_MAX_DATA, "SIGN bound fits");

/* --- configuration (enc_config.c) -------------------------------------------- */

/* Per-key "prehashed" moved to the policy (signingKeys.<label>.prehashed): enclave.json
 * refuses it with a message that says so. */
struct enc_key_config {
	const char *label;
	const char *certificate; /* NULL: none */
	int verify_signatures;
};

/* Strings point into `root`, which enc_config_free releases. */
struct enc_config {
	json_t *root;
	const char *socket;
	mode_t socket_mode;
	uid_t allowed_uids[ENC_MAX_UIDS];
	size_t num_uids;
	const char *user; /* NULL: stay as started */
	unsigned max_clients;
	size_t max_data_len;
	unsigned frame_timeout_ms;
	const char *state_dir;
	const char *audit_dir;
	const char *audit_key;     /* Ed25519 private key (PEM) for checkpoints */
	const char *policy;        /* the policy file (policy.json) */
	uint64_t audit_rotate_bytes;       /* 0: the library's defaults */
	uint32_t audit_checkpoint_records;
	uint32_t audit_checkpoint_ms;
	/* A state snapshot after this many records since the last one (0: never), and
	 * whether start-up verifies only from the newest signed snapshot (enc_snapshot.c). */
	uint32_t audit_snapshot_records;
	bool audit_fast_start;
	bool audit_direct_io; /* O_DIRECT|O_DSYNC overlapping writes where possible */
	/* "state": the policy state's bounds (issued serials, rate-limit buckets,
	 * revocations); the engine's defaults unless enclave.json says. */
	struct pol_state_limits state_limits;
	uint8_t sha256[32];        /* of the enclave.json bytes (enc_config_load) */
	const char *log;
	const char *token_label;
	const char *token_serial;
	const char *user_pin_file;
	unsigned pin_max_failures;
	const char *backend_module;
	const char *backend_token_label;
	const char *backend_pin_file;
	const char *env_names[ENC_MAX_ENV];
	const char *env_values[ENC_MAX_ENV];
	size_t num_env;
	const char *paths[ENC_MAX_PATHS];
	size_t num_paths;
	struct enc_key_config keys[WIRE_MAX_KEYS];
	size_t num_keys;
};

__attribute__((warn_unused_result)) int enc_config_parse(const char *text, size_t len,
							 struct enc_config *out, char *err,
							 size_t err_len);
__attribute__((warn_unused_result)) int enc_config_load(const char *path,
							struct enc_config *out, char *err,
							size_t err_len);
void enc_config_free(struct enc_config *c);

/* Reads a whole small file (at most max bytes) into a NUL-terminated buffer. */
__attribute__((warn_unused_result)) int enc_file_read(const char *path, size_t max,
						      char **out, size_t *out_len);

/* --- logging (enc_log.c) ---------------------------------------------------------- */

enum enc_log_level {
	ENC_LOG_ERR = 3,
	ENC_LOG_WARNING = 4,
	ENC_LOG_NOTICE = 5,
	ENC_LOG_INFO = 6,
	ENC_LOG_DEBUG = 7
};

/* "stderr" (the default until called), "syslog", or a file path (appended). */
__attribute__((warn_unused_result)) int enc_log_open(const char *spec, char *err,
						     size_t err_len);
void enc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- state ------------------------------------------------------------------------ */

struct enc_key {
	struct bk_key *bk;
	const struct enc_key_config *cfg;
	/* Every mechanism that fits the key (self-tested before the sandbox; what SIGN
	 * accepts: the policy decides the rest, so a raw mechanism under prehashed "deny"
	 * is refused AND recorded). */
	CK_MECHANISM_TYPE all_mechs[WIRE_MAX_MECHS];
	size_t num_all_mechs;
	/* What HELLO advertises: all_mechs less the raw ones unless the policy in force
	 * says prehashed "audit" for the key.  Written by the main thread only (start-up,
	 * SIGHUP), under hello_lock. */
	CK_MECHANISM_TYPE mechs[WIRE_MAX_MECHS];
	size_t num_mechs;
	uint32_t flags; /* WIRE_KF_* */
	X509 *cert;     /* NULL: none */
	/* What the policy engine knows about the key, built once at start-up. */
	struct pol_ca_info ca;
	uint8_t *ca_spki, *ca_subject; /* DER, OPENSSL_free */
	uint8_t *cert_der;             /* NULL without a certificate */
	size_t cert_der_len;
};

/* A login ticket is bound to the uid (SO_PEERCRED) of the connection that logged in:
 * presented on a connection of another uid it is unknown.  Not to the pid: a module's
 * connections may be opened by any thread, and a ticket never crosses a fork (the child
 * logs in again). */
struct enc_ticket {
	uint8_t value[WIRE_TICKET_LEN];
	uint64_t seq; /* 0: free slot */
	uid_t uid;
};

struct enc_state {
	struct enc_config cfg;
	struct bk_ctx *bk;
	struct enc_key keys[WIRE_MAX_KEYS];
	size_t num_keys;
	uint64_t boot_id;
	/* The whole HELLO response frame (enc_hello.c), rebuilt at SIGHUP under hello_lock;
	 * each answer is a copy with the current token flags written at hello_flags_off. */
	pthread_mutex_t hello_lock;
	struct wire_buf hello;
	size_t hello_flags_off;

	/* Decisions: the policy in force, the state derived from the log, and the audit
	 * log.  decide_lock is held over evaluate + aud_append + commit (never over
	 * aud_sync or a signature), so decisions and records are in one order; and over
	 * the append of a login record with the count it implies (pin_failures_logged), so
	 * a snapshot sees records and state alike.
	 * Lock order: login_lock, then decide_lock, then ticket_lock. */
	pthread_mutex_t decide_lock;
	struct pol_policy *policy;
	struct pol_state *pstate;
	struct pol_psl *psl;
	struct aud_log *log;
	uint64_t replay_overcounted; /* allowed records applied and later declared refused */
	/* First record of the newest snapshot (or where start-up began counting): the next
	 * one is due audit_snapshot_records later.  Under decide_lock. */
	uint64_t snap_last_seq;
	/* The PIN failure count the login records appended so far imply (what replay of
	 * them gives); set with each login record's append.  Under decide_lock. */
	unsigned pin_failures_logged;
	char pin_line[PIN_HASH_LINE_MAX];

	/* Serialises LOGINs (counter store, scrypt, reset): held for ~100 ms per LOGIN. */
	pthread_mutex_t login_lock;
	unsigned pin_failures; /* written under login_lock; read atomically without it */
	/* Guards the tickets; never held across scrypt or I/O, so SIGN, HELLO and STATUS
	 * never wait for a LOGIN.  Lock order: login_lock, then ticket_lock. */
	pthread_mutex_t ticket_lock;
	struct enc_ticket tickets[ENC_MAX_TICKETS];
	uint64_t ticket_seq;
};

/* --- HELLO (enc_hello.c) ------------------------------------------------------------ */

/* Once at start-up: loads certificates and lists the mechanisms that fit each key. */
__attribute__((warn_unused_result)) int enc_keys_load(struct enc_state *st, char *err,
						      size_t err_len);
/* Derives each key's advertised mechanisms from pol and (re)builds the HELLO answer
 * under hello_lock.  Main thread only (start-up, SIGHUP). */
__attribute__((warn_unused_result)) int enc_hello_build(struct enc_state *st,
							const struct pol_policy *pol, char *err,
							size_t err_len);
/* 1 if m fits key k (the SIGN check; the policy decides the rest). */
int enc_key_has_mech(const struct enc_key *k, CK_MECHANISM_TYPE m);

struct enc_peer;

/* --- policy (enc_policy.c) ------------------------------------------------------------ */

/* Reads and compiles a policy file; err names the file, the JSON path and why. */
__attribute__((warn_unused_result)) int enc_policy_read(const char *path,
							struct pol_policy **out, char *err,
							size_t err_len);
/* Builds k->ca (struct pol_ca_info) from the key and its certificate. */
__attribute__((warn_unused_result)) int enc_key_ca_info(struct enc_key *k, char *err,
							size_t err_len);
/* SIGHUP: re-reads st->cfg.policy; on success swaps it in (under decide_lock), appends
 * a POLICY record and rebuilds HELLO; on failure keeps the old one and logs why. */
void enc_policy_reload(struct enc_state *st);

/* --- audit (enc_audit.c) ------------------------------------------------------------ */

/* Opens the log (verify, repair, replay into st->pstate and the PIN count; a genesis
 * record when the directory is empty), then appends CONFIG and POLICY records. */
__attribute__((warn_unused_result)) int enc_audit_start(struct enc_state *st, char *err,
							size_t err_len);
/* A POLICY record for the policy now in force (caller holds decide_lock); its seq. */
__attribute__((warn_unused_result)) int enc_audit_policy_record(struct enc_state *st,
								 uint64_t *out_seq);
/* A login record (AUD_T_LOGIN_FAIL / _OK / LOCKOUT), durable on WARDEN_OK. */
__attribute__((warn_unused_result)) int enc_audit_login(struct enc_state *st, uint16_t type,
							 const struct enc_peer *peer,
							 unsigned failures);
/* The decision of one SIGN: evaluate, record, make durable.  WARDEN_OK (allowed and
 * durable: sign now), WARDEN_E_DENIED (msg: the sentence), WARDEN_E_AUDIT or
 * WARDEN_E_INTERNAL/NOMEM (msg says why).  See enc_decide.c.  sreq->data_sha256 is
 * used while the operation is begun and is NULL again on return. */
struct sign_op;
struct sign_req;
__attribute__((warn_unused_result)) int enc_decide(struct enc_state *st,
						   const struct enc_peer *peer,
						   const struct enc_key *k,
						   const struct wire_sign_req *r, char *msg,
						   size_t msg_len, struct sign_req *sreq,
						   struct sign_op *op);
/* A SIGN refused before the policy is consulted (enc_handle_sign: no valid ticket
 * POL_R_NOT_LOGGED_IN, a key id that names no key POL_R_KEY_UNKNOWN with k NULL, a
 * mechanism that does not fit the key POL_R_MECHANISM, data over max_data_len
 * POL_R_DATA_TOO_LONG) is recorded like any refusal: a refused SIGN record (reason,
 * sentence, key label or the id as given, mechanism, data_len, data_sha256 when there
 * is data, caller, policy hash; no pol_summary, and replay applies only allowed
 * records), appended under decide_lock and synced.  WARDEN_OK when durable, else
 * WARDEN_E_AUDIT (logged); the request is refused either way, with the answer it
 * would get without a record. */
__attribute__((warn_unused_result)) int enc_decide_refuse(struct enc_state *st,
							  const struct enc_peer *peer,
							  const struct enc_key *k,
							  const struct wire_sign_req *r,
							  enum pol_reason reason,
							  const char *sentence);
/* Fetches what enc_decide needs, before the sandbox.  WARDEN_OK or WARDEN_E_INTERNAL. */
__attribute__((warn_unused_result)) int enc_decide_init(void);
/* Frees the calling thread's decision buffers (at the end of a connection). */
void enc_decide_thread_end(void);
/* Signs a fixed message with every mechanism of key k (verifying each), before the
 * sandbox to load every algorithm, and as the sandbox self-test.  WARDEN_OK or the
 * first failure. */
__attribute__((warn_unused_result)) int enc_key_selftest(struct enc_state *st,
							 const struct enc_key *k, char *err,
							 size_t err_len);

/* --- snapshots (enc_snapshot.c) ---------------------------------------------------- */

/* snap_version of the enclave's blob (docs/audit-format.md "State snapshots"). */
#define ENC_SNAPSHOT_VERSION 1u
/* The blob for the current state and PIN count; *out malloc'd.  WARDEN_OK or NOMEM. */
__attribute__((warn_unused_result)) int enc_snapshot_blob(const struct enc_state *st,
							   unsigned pin_failures,
							   uint8_t **out, size_t *out_len);
/* Decodes a blob into a new policy state (st's public suffix list, default limits) and
 * a PIN count.  WARDEN_OK, or WARDEN_E_AUDIT with why set and *out_state NULL. */
__attribute__((warn_unused_result)) int enc_snapshot_load(const struct enc_state *st,
							   uint32_t version,
							   const uint8_t *blob, size_t len,
							   struct pol_state **out_state,
							   unsigned *out_pin, char *why,
							   size_t why_len);
/* After the append of record seq, decide_lock held: a snapshot when one is due
 * (audit.snapshot_records).  A failure is logged, never fatal. */
void enc_snapshot_maybe(struct enc_state *st, uint64_t seq);

/* --- login (enc_login.c) ------------------------------------------------------------ */

/* The PIN failure count after one audit record, given the count before it: LOGIN_FAIL and
 * LOCKOUT set it (their failures field), LOGIN_OK resets it (a good PIN or `warden-admin
 * pin unlock`), other types leave it (enc_pincount.c; warden-admin links it too). */
unsigned enc_pin_failures_next(unsigned count, uint16_t type, const uint8_t *body,
			       size_t len);

/* The PIN failure count after a login record (replay; enc_audit.c calls it). */
void enc_login_replay(struct enc_state *st, uint16_t type, const uint8_t *body, size_t len);
uint32_t enc_token_flags(struct enc_state *st);
/* 1 if the ticket is live and was issued to uid. */
int enc_ticket_valid(struct enc_state *st, const uint8_t ticket[WIRE_TICKET_LEN], uid_t uid);

struct enc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Request handlers: decode body, write a whole response frame into resp.  They return
 * WARDEN_OK, or WARDEN_E_PROTOCOL when the request is malformed (the connection is
 * then closed without an answer). */
typedef int (*enc_handler_fn)(struct enc_state *st, const struct enc_peer *peer,
			      const uint8_t *body, size_t len, struct wire_buf *resp);
int enc_handle_hello(struct enc_state *, const struct enc_peer *, const uint8_t *, size_t,
		     struct wire_buf *);
int enc_handle_status(struct enc_state *, const struct enc_peer *, const uint8_t *, size_t,
		      struct wire_buf *);
int enc_handle_login(struct enc_state *, const struct enc_peer *, const uint8_t *, size_t,
		     struct wire_buf *);
int enc_handle_logout(struct enc_state *, const struct enc_peer *, const uint8_t *, size_t,
		      struct wire_buf *);
int enc_handle_sign(struct enc_state *, const struct enc_peer *, const uint8_t *, size_t,
		    struct wire_buf *);

/* Starts a response: type | WIRE_RESPONSE, status, message. */
void enc_resp_begin(struct wire_buf *b, uint8_t type, uint32_t status, const char *msg);

/* --- serving (enc_conn.c, enc_serve.c) ------------------------------------------------ */

/* Serves one connection until EOF or a protocol error; closes nothing. */
void enc_conn_serve(struct enc_state *st, int fd, const struct enc_peer *peer);
/* Largest body accepted for a request type (0: unknown type). */
size_t enc_max_body(const struct enc_state *st, uint8_t type);

/* Binds the socket (before the sandbox). */
__attribute__((warn_unused_result)) int enc_listen(const struct enc_config *cfg, int *out_fd,
						   char *err, size_t err_len);
/* Accepts and serves until SIGTERM/SIGINT on sigfd; returns the exit status. */
int enc_serve(struct enc_state *st, int listen_fd, int sigfd);

#endif
