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

#include "backend.h"
#include "pin.h"
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
#define ENC_ERR_LEN 512u
#define ENC_LISTEN_BACKLOG 64
/* A frame, once its first byte has arrived, must arrive whole within frame_timeout_ms
 * (one deadline for the whole frame, not per read: a peer trickling a byte at a time
 * cannot hold a thread); an answer must be taken by the peer within the same time. */
#define ENC_FRAME_TIMEOUT_MS 30000
#define ENC_MIN_FRAME_TIMEOUT_MS 100u
#define ENC_MAX_FRAME_TIMEOUT_MS 600000u
#define ENC_SIGN_BODY_EXTRA 4096u  /* SIGN body = data + at most this much */
#define ENC_TOKEN_MANUFACTURER "Warden"
#define ENC_TOKEN_MODEL "warden-enclave"

_Static_assert(ENC_DEFAULT_MAX_DATA <= WIRE_MAX_DATA, "default data bound within the wire's");
_Static_assert(ENC_SIGN_BODY_EXTRA <= WIRE_MAX_BODY - WIRE_MAX_DATA, "SIGN bound fits");

/* --- configuration (enc_config.c) -------------------------------------------- */

enum enc_prehashed { ENC_PREHASHED_DENY = 0, ENC_PREHASHED_AUDIT = 1 };

struct enc_key_config {
	const char *label;
	const char *certificate; /* NULL: none */
	enum enc_prehashed prehashed;
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
	const char *audit_dir; /* NULL: none */
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

enum enc_log_level { ENC_LOG_ERR = 3, ENC_LOG_WARNING = 4, ENC_LOG_INFO = 6, ENC_LOG_DEBUG = 7 };

/* "stderr" (the default until called), "syslog", or a file path (appended). */
__attribute__((warn_unused_result)) int enc_log_open(const char *spec, char *err,
						     size_t err_len);
void enc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- state ------------------------------------------------------------------------ */

struct enc_key {
	struct bk_key *bk;
	const struct enc_key_config *cfg;
	CK_MECHANISM_TYPE mechs[WIRE_MAX_MECHS];
	size_t num_mechs;
	uint32_t flags; /* WIRE_KF_* */
	X509 *cert;     /* NULL: none */
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
	/* The whole HELLO response frame, built once (enc_hello.c); each answer is a copy
	 * with the current token flags written at hello_flags_off. */
	struct wire_buf hello;
	size_t hello_flags_off;
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

/* Loads certificates, chooses mechanisms, and builds the HELLO body parts. */
__attribute__((warn_unused_result)) int enc_hello_build(struct enc_state *st, char *err,
							size_t err_len);
/* The mechanism list of a key, for the dispatch check. */
int enc_key_has_mech(const struct enc_key *k, CK_MECHANISM_TYPE m);
/* Signs a fixed message with every mechanism of key k (verifying each), before the
 * sandbox to load every algorithm, and as the sandbox self-test.  WARDEN_OK or the
 * first failure. */
__attribute__((warn_unused_result)) int enc_key_selftest(struct enc_state *st,
							 const struct enc_key *k, char *err,
							 size_t err_len);

/* --- login (enc_login.c) ------------------------------------------------------------ */

__attribute__((warn_unused_result)) int enc_pin_state_load(struct enc_state *st, char *err,
							   size_t err_len);
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
