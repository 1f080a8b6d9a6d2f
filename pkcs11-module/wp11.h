/*
 * wp11.h - internals of libwarden-pkcs11.so shared between its files (and its unit tests
 * and fuzz target).  Not installed; the module's public interface is PKCS#11 itself.
 *
 * Locking: one global mutex (wp11_g.lock) guards the whole module state below.  Helpers
 * whose names end in _unlocked expect it held.  No socket I/O ever happens with it held:
 * a call copies what it needs, unlocks, does its round trip, locks again and looks its
 * session up afresh (it may have been closed meanwhile).  The connection pool has its own
 * small lock (conn.c), never held across I/O either.  Lock order: global, then pool.
 */
#ifndef WARDEN_WP11_H
#define WARDEN_WP11_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "pkcs11_3_0.h"
#include "wire.h"

#define WP11_WUR __attribute__((warn_unused_result))

/* The one slot.  Slot IDs are opaque to applications; 1 reads well in tool output. */
#define WP11_SLOT_ID 1UL
#define WP11_MAX_SESSIONS 4096u
#define WP11_MAX_COPIES 4096u
/* Handles of C_CopyObject session objects start above every token object handle. */
#define WP11_COPY_HANDLE_BASE 0x40000000UL
_Static_assert(4UL * WIRE_MAX_KEYS + 4 < WP11_COPY_HANDLE_BASE, "copy handles never collide");
#define WP11_SIGN_INITIAL_CAP 4096u
#define WP11_DEFAULT_SOCKET "/run/warden/enclave.sock"
#define WP11_DEFAULT_CONF "/etc/warden/module.conf"
#define WP11_DEFAULT_TIMEOUT_S 30
#define WP11_MAX_TIMEOUT_S 3600
#define WP11_CONF_MAX_LINE 4096u
#define WP11_SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
#define WP11_TOKEN_STR_MAX 64u /* longest token string kept (CK_TOKEN_INFO uses 32/16) */
#define WP11_LOG_PATH_MAX 4096u

/* --- logging and configuration (log.c) ------------------------------------------ */

enum wp11_log_level { WP11_LOG_ERROR = 0, WP11_LOG_WARNING, WP11_LOG_INFO, WP11_LOG_DEBUG };
enum wp11_log_dest { WP11_LOG_SYSLOG = 0, WP11_LOG_STDERR, WP11_LOG_FILE };

struct wp11_conf {
	char socket_path[WP11_SOCKET_PATH_MAX];
	enum wp11_log_dest log_dest;
	char log_path[WP11_LOG_PATH_MAX];
	enum wp11_log_level log_level;
	int timeout_s;
	/* enclave_uid: the uid the enclave must run as (SO_PEERCRED), checked before any
	 * byte is sent on a new connection.  WP11_ENCLAVE_UID_ANY: not checked;
	 * WP11_ENCLAVE_UID_BAD: the setting was malformed, so no enclave is trusted. */
	long enclave_uid;
};
#define WP11_ENCLAVE_UID_ANY (-1L)
#define WP11_ENCLAVE_UID_BAD (-2L)
#define WP11_MAX_UID 4294967294L /* (uid_t)-1 is "no uid" */

/* Fills conf with the defaults, then reads $WARDEN_CONF or WP11_DEFAULT_CONF when it
 * exists.  Bad lines are logged and skipped: a broken config never fails C_Initialize. */
void wp11_conf_load(struct wp11_conf *conf);
/* Parses one config text (for tests); returns the number of lines rejected. */
int wp11_conf_parse(struct wp11_conf *conf, const char *text);
/* Applies the logging settings (opens the log file). */
void wp11_log_setup(const struct wp11_conf *conf);
void wp11_log_close(void);
void wp11_log(enum wp11_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --- the token as HELLO describes it (hello.c) ----------------------------------- */

/* An attribute in native form: CK_BBOOL, CK_ULONG or a CK_MECHANISM_TYPE array, or bytes. */
struct wp11_attr {
	CK_ATTRIBUTE_TYPE type;
	void *value;
	CK_ULONG value_len;
};

struct wp11_object {
	int present;
	CK_OBJECT_CLASS klass;
	int is_private; /* CKA_PRIVATE: visible only when logged in */
	uint32_t num_attrs;
	struct wp11_attr *attrs;
};

enum wp11_obj_slot { WP11_OBJ_PRIVATE = 0, WP11_OBJ_PUBLIC = 1, WP11_OBJ_CERT = 2 };

struct wp11_key {
	uint32_t key_id;
	CK_KEY_TYPE key_type;
	uint32_t key_flags;
	uint32_t sig_len;
	CK_ULONG key_bits; /* RSA modulus bits, EC field bits, 256/456 for EdDSA (as SoftHSMv2) */
	uint32_t num_mechs;
	CK_MECHANISM_TYPE mechs[WIRE_MAX_MECHS];
	struct wp11_object objects[WIRE_MAX_OBJECTS_PER_KEY];
};

struct wp11_token {
	uint64_t boot_id;
	char label[WP11_TOKEN_STR_MAX + 1];
	char manufacturer[WP11_TOKEN_STR_MAX + 1];
	char model[WP11_TOKEN_STR_MAX + 1];
	char serial[WP11_TOKEN_STR_MAX + 1];
	uint32_t token_flags;
	uint32_t min_pin;
	uint32_t max_pin;
	uint64_t max_data;
	uint32_t num_keys;
	struct wp11_key *keys;
};

/* Parses a whole HELLO response body (status, message, then the token).  Returns
 * WARDEN_OK, the enclave's own status when it is not OK, or WARDEN_E_PROTOCOL for any
 * malformed input; on failure *out is empty and nothing is left allocated. */
WP11_WUR int wp11_hello_parse(const uint8_t *body, size_t len, struct wp11_token *out);
void wp11_token_free(struct wp11_token *t);
/* Attribute of an object, or NULL. */
const struct wp11_attr *wp11_object_attr(const struct wp11_object *o, CK_ATTRIBUTE_TYPE type);
/* 1 when the attribute is secret key material the module never has. */
int wp11_attr_is_sensitive(CK_OBJECT_CLASS klass, CK_ATTRIBUTE_TYPE type);

/* The one translation from the enclave's status to CK_RV.  message is the enclave's text
 * (may be NULL); a DENIED is logged with it at warning level. */
CK_RV wp11_rv_from_status(uint32_t status, const char *message);

/* --- connections (conn.c) -------------------------------------------------------- */

struct wp11_conn {
	int fd;
	int slot;
	unsigned gen;
};

/* A response: status, message, and a cursor on the fields after them. */
struct wp11_resp {
	uint8_t *body;
	size_t body_len;
	uint32_t status;
	char message[WIRE_MAX_STR + 1];
	struct wire_cur rest;
};

void wp11_pool_setup(const struct wp11_conf *conf);
/* Closes idle connections; busy ones close when given back.  after_fork: closes every
 * inherited descriptor without a word on it (the parent still owns the connections). */
void wp11_pool_shutdown(int after_fork);
void wp11_pool_atfork_prepare(void);
void wp11_pool_atfork_parent(void);
void wp11_pool_atfork_child(void);
/* One request/response on a pooled connection.  req is a whole frame.  A new connection
 * starts with HELLO, whose answer goes to wp11_hello_seen.  Returns CKR_OK (resp filled;
 * its status may be an error), CKR_TOKEN_NOT_PRESENT when no connection could be made, or
 * CKR_DEVICE_ERROR when the connection failed mid-way or the answer was malformed. */
WP11_WUR CK_RV wp11_call(uint8_t type, const struct wire_buf *req, struct wp11_resp *resp);
void wp11_resp_free(struct wp11_resp *resp);

/* --- module state (module.c) ------------------------------------------------------ */

enum wp11_sign_mode { WP11_SIGN_NONE = 0, WP11_SIGN_ONESHOT, WP11_SIGN_MULTI };

struct wp11_sign_op {
	int active;
	int busy; /* a round trip is in flight for it */
	uint64_t op_id;
	enum wp11_sign_mode mode;
	uint32_t key_id;
	uint32_t sig_len;
	CK_MECHANISM_TYPE mechanism;
	uint8_t param_kind;
	uint64_t pss_hash_alg, pss_mgf, pss_salt_len;
	uint8_t *data;
	size_t data_len, data_cap;
};

struct wp11_find_op {
	int active;
	CK_OBJECT_HANDLE *handles;
	CK_ULONG num, pos;
};

struct wp11_session {
	CK_SESSION_HANDLE handle;
	CK_FLAGS flags;
	struct wp11_sign_op sign;
	struct wp11_find_op find;
	struct wp11_session *next;
};

struct wp11_copy {
	CK_OBJECT_HANDLE handle;
	CK_SESSION_HANDLE session;
	uint32_t key_id;
};

struct wp11_state {
	pthread_mutex_t lock;
	int initialized;
	unsigned long fork_gen;
	struct wp11_conf conf;
	struct wp11_token *token; /* NULL: the enclave never answered HELLO */
	int absent_logged;
	int logged_in;
	uint8_t ticket[WIRE_TICKET_LEN];
	struct wp11_session *sessions;
	CK_ULONG num_sessions, num_rw_sessions;
	CK_SESSION_HANDLE next_session;
	struct wp11_copy *copies;
	CK_ULONG num_copies;
	CK_OBJECT_HANDLE next_copy;
	uint64_t next_op_id;
};

extern struct wp11_state wp11_g;

void wp11_lock(void);
void wp11_unlock(void);
/* CKR_OK when initialized (the lock held), else CKR_CRYPTOKI_NOT_INITIALIZED (not held). */
WP11_WUR CK_RV wp11_enter(void);
/* For a call whose answer does not depend on its arguments: CKR_CRYPTOKI_NOT_INITIALIZED
 * before C_Initialize, else rv. */
CK_RV wp11_answer(CK_RV rv);
/* A slot call's first checks, in this order and unlocked: initialized, args_ok (its
 * required pointers are there), the slot ID.  CKR_OK or the error. */
WP11_WUR CK_RV wp11_slot_check(CK_SLOT_ID slot, int args_ok);
/* wp11_token_ensure then wp11_enter: CKR_OK with the lock held, or the error (not held). */
WP11_WUR CK_RV wp11_token_enter(void);
/* The list convention (PKCS#11 2.40 §5.2): with dst NULL, *count gets n; with *count
 * below n, *count gets n and CKR_BUFFER_TOO_SMALL; else the n elements of src (size
 * octets each) are copied to dst.  count is not NULL. */
CK_RV wp11_list_answer(void *dst, CK_ULONG_PTR count, const void *src, CK_ULONG n, size_t size);
struct wp11_session *wp11_session_find_unlocked(CK_SESSION_HANDLE h);
/* Session lookup shared by every session call: CKR_OK with the lock held (and *out set
 * unless out is NULL), or an error with the lock released. */
WP11_WUR CK_RV wp11_session_enter(CK_SESSION_HANDLE h, struct wp11_session **out);
/* HELLO answered on a new connection: keeps the token facts; a new boot_id drops login. */
void wp11_hello_seen(struct wp11_token *t);
/* Makes sure HELLO has been answered once: CKR_OK or CKR_TOKEN_NOT_PRESENT. */
WP11_WUR CK_RV wp11_token_ensure(void);
/* Forgets the login (wipes the ticket), ends sign operations and destroys key copies. */
void wp11_login_drop_unlocked(void);
struct wp11_key *wp11_key_by_id_unlocked(uint32_t key_id);
/* Best effort: asks the enclave to revoke a ticket.  Called unlocked. */
void wp11_logout_send(const uint8_t ticket[WIRE_TICKET_LEN]);
/* C_GetInfo for the list of version major.minor. */
CK_RV wp11_get_info(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor);
/* C_Login (session.c); C_LoginUser shares it. */
CK_RV wp11_login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
		 CK_ULONG ulPinLen);
/* C_SessionCancel (sign.c): ends an active sign operation when flags has CKF_SIGN. */
CK_RV wp11_session_cancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
/* Pads src into a fixed-size CK string field with spaces. */
void wp11_pad(CK_UTF8CHAR *dst, size_t dst_len, const char *src);

/* --- objects (objects.c) ----------------------------------------------------------- */

/* The key behind a handle usable for signing (a visible private key or a copy of one). */
struct wp11_key *wp11_signing_key_unlocked(CK_OBJECT_HANDLE h);
void wp11_copies_drop_session_unlocked(CK_SESSION_HANDLE s);
void wp11_copies_drop_all_unlocked(void);
void wp11_find_op_end(struct wp11_find_op *op);

/* --- signing (sign.c) ---------------------------------------------------------------- */

void wp11_sign_op_end(struct wp11_sign_op *op);

#endif
