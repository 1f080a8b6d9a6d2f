/*
 * wire.h - the framed protocol between libwarden-pkcs11.so and warden-enclave.
 *
 * Shared by both sides (the module compiles wire.c too).  docs/protocol.md is the
 * reference; this header is its contract in C.
 *
 * A frame is an 8-byte header followed by a body:
 *
 *   u32 body_len   big-endian, <= WIRE_MAX_BODY, checked before anything is allocated
 *   u8  version    WIRE_VERSION
 *   u8  type       enum wire_type
 *   u16 reserved   must be 0
 *
 * Bodies are sequences of fields in a fixed order per message type:
 *   u8, u32, u64    big-endian integers
 *   bytes           u32 length, then that many bytes (bounded by the body)
 *   str             bytes with no NUL, at most WIRE_MAX_STR
 * A decoder that finishes with bytes left over rejects the frame.
 *
 * No message carries private key material in either direction.  The user PIN travels
 * once, in LOGIN; the enclave answers with a random login ticket that later requests
 * present.  Both are wiped by whoever held them once used.
 */
#ifndef WARDEN_WIRE_H
#define WARDEN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1u
#define WIRE_HEADER_LEN 8u
/* Largest data a SIGN may carry, and so the largest body: 64 MiB of data plus room
 * for the fixed fields.  The enclave's configured bound (default 16 MiB) is lower. */
#define WIRE_MAX_DATA (64u * 1024u * 1024u)
#define WIRE_MAX_BODY (WIRE_MAX_DATA + 4096u)
#define WIRE_MAX_STR 1024u
#define WIRE_MAX_PIN 256u
#define WIRE_TICKET_LEN 32u
#define WIRE_MAX_KEYS 64u
#define WIRE_MAX_OBJECTS_PER_KEY 3u
#define WIRE_MAX_ATTRS 64u
#define WIRE_MAX_ATTR_LEN (64u * 1024u)
#define WIRE_MAX_MECHS 32u
#define WIRE_MAX_SIG 1024u

_Static_assert(WIRE_MAX_BODY < UINT32_MAX, "body length fits the u32 header field");

/* Message types.  A response has the request's type with WIRE_RESPONSE set. */
enum wire_type {
	WIRE_HELLO = 1,  /* -> token description and the objects of every key */
	WIRE_STATUS = 2, /* -> current token flags (PIN counters) */
	WIRE_LOGIN = 3,  /* user PIN -> login ticket */
	WIRE_LOGOUT = 4, /* ticket -> nothing */
	WIRE_SIGN = 5,   /* ticket, key, mechanism, data -> signature */
};
#define WIRE_RESPONSE 0x80u
#define WIRE_TYPE_MAX WIRE_SIGN

/*
 * The project's one error enum outside the PKCS#11 boundary.  It travels in every
 * response; the module translates it to CK_RV in exactly one place (wp11_rv_from_status).
 */
enum warden_status {
	WARDEN_OK = 0,
	WARDEN_E_PROTOCOL = 1,      /* malformed frame or field */
	WARDEN_E_INTERNAL = 2,      /* the enclave failed; see its log */
	WARDEN_E_NOMEM = 3,
	WARDEN_E_DENIED = 4,        /* policy refused; message says why */
	WARDEN_E_PIN_INCORRECT = 5,
	WARDEN_E_PIN_LOCKED = 6,
	WARDEN_E_PIN_LEN = 7,
	WARDEN_E_NOT_LOGGED_IN = 8, /* no ticket, or a ticket this enclave never issued */
	WARDEN_E_KEY = 9,           /* unknown key id */
	WARDEN_E_MECHANISM = 10,    /* mechanism not allowed for this key */
	WARDEN_E_MECH_PARAM = 11,   /* mechanism parameters wrong */
	WARDEN_E_DATA_LEN = 12,     /* data too long, or a raw input of the wrong size */
	WARDEN_E_DATA_INVALID = 13, /* a raw input that is not what the mechanism takes */
	WARDEN_E_BACKEND = 14,      /* the key backend failed */
	WARDEN_E_AUDIT = 15,        /* the audit record could not be made durable */
	WARDEN_E_BUSY = 16,         /* too many clients */
	WARDEN_E_USER_TYPE = 17,    /* only CKU_USER logs in */
	WARDEN_E_STATUS_MAX = WARDEN_E_USER_TYPE
};

const char *wire_status_str(uint32_t status);

/* Token flags carried in HELLO, STATUS and LOGIN responses. */
#define WIRE_TF_PIN_COUNT_LOW 0x1u
#define WIRE_TF_PIN_FINAL_TRY 0x2u
#define WIRE_TF_PIN_LOCKED 0x4u

/* Key flags in HELLO. */
#define WIRE_KF_PREHASHED 0x1u /* raw-digest mechanisms allowed (prehashed: "audit") */

/* Attribute value kinds, so that CK_ULONG and CK_BBOOL cross in a portable form. */
enum wire_attr_kind {
	WIRE_AK_BYTES = 0, /* as is */
	WIRE_AK_BOOL = 1,  /* one byte, 0 or 1 */
	WIRE_AK_ULONG = 2, /* u64 */
	WIRE_AK_MECHS = 3, /* a list of u64 mechanism types */
};

/* Parameter kinds of a SIGN request. */
enum wire_param_kind {
	WIRE_PK_NONE = 0,
	WIRE_PK_PSS = 1, /* u64 hash_alg, u64 mgf, u64 salt_len (CK_RSA_PKCS_PSS_PARAMS) */
};

/* --- encoding ---------------------------------------------------------------- */

/* A growing output buffer.  On allocation failure `failed` is set and every later put
 * is a no-op, so an encoder checks once at the end. */
struct wire_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;
};

void wire_buf_init(struct wire_buf *b);
/* Wipes the contents (they may include a PIN or a ticket) and frees. */
void wire_buf_free(struct wire_buf *b);
/* Starts a frame: reserves the header.  wire_frame_end fills in the length. */
void wire_frame_begin(struct wire_buf *b, uint8_t type);
__attribute__((warn_unused_result)) int wire_frame_end(struct wire_buf *b);
void wire_put_u8(struct wire_buf *b, uint8_t v);
void wire_put_u32(struct wire_buf *b, uint32_t v);
void wire_put_u64(struct wire_buf *b, uint64_t v);
void wire_put_bytes(struct wire_buf *b, const void *p, size_t len);
void wire_put_str(struct wire_buf *b, const char *s);

/* --- decoding ---------------------------------------------------------------- */

/* A read cursor over a body.  Every get checks the remaining length first; a failed
 * get leaves its output zeroed and the cursor unchanged. */
struct wire_cur {
	const uint8_t *p;
	size_t len;
};

struct wire_header {
	uint32_t body_len;
	uint8_t version;
	uint8_t type;
};

/* Parses and validates a header: version, reserved bits, type, and body_len against
 * WIRE_MAX_BODY.  Returns WARDEN_OK or WARDEN_E_PROTOCOL. */
__attribute__((warn_unused_result)) int wire_header_parse(const uint8_t hdr[WIRE_HEADER_LEN],
							  struct wire_header *out);

__attribute__((warn_unused_result)) int wire_get_u8(struct wire_cur *c, uint8_t *out);
__attribute__((warn_unused_result)) int wire_get_u32(struct wire_cur *c, uint32_t *out);
__attribute__((warn_unused_result)) int wire_get_u64(struct wire_cur *c, uint64_t *out);
/* A view into the body, not a copy; max bounds the length. */
__attribute__((warn_unused_result)) int wire_get_bytes(struct wire_cur *c, size_t max,
						       const uint8_t **out, size_t *out_len);
/* Copies into out (out_size bytes, NUL-terminated); refuses an embedded NUL. */
__attribute__((warn_unused_result)) int wire_get_str(struct wire_cur *c, char *out,
						     size_t out_size);
/* 1 when nothing is left. */
int wire_cur_done(const struct wire_cur *c);

/* --- messages ------------------------------------------------------------------
 *
 * Requests (module -> enclave), bodies:
 *   HELLO   u32 client_pid
 *   STATUS  (empty)
 *   LOGIN   u32 user_type, bytes pin
 *   LOGOUT  bytes ticket
 *   SIGN    bytes ticket, u32 key_id, u64 mechanism, u8 param_kind,
 *           [u64 hash_alg, u64 mgf, u64 salt_len when param_kind == PSS], bytes data
 *
 * Every response starts with u32 status and str message (empty or a sentence for the
 * operator).  Then, only when status == WARDEN_OK unless noted:
 *   HELLO   u64 boot_id, str token_label, str manufacturer, str model, str serial,
 *           u32 token_flags, u32 min_pin, u32 max_pin, u64 max_data, u32 num_keys,
 *           num_keys x key
 *   STATUS  u32 token_flags
 *   LOGIN   u32 token_flags (also on failure), bytes ticket (empty on failure)
 *   LOGOUT  -
 *   SIGN    bytes signature
 *
 * key:    u32 key_id, u64 key_type (CKK_*), u32 key_flags, u32 sig_len,
 *         u32 num_mechs, num_mechs x u64 mechanism, u32 num_objects, num_objects x object
 * object: u64 class (CKO_*), u32 num_attrs, num_attrs x attr
 * attr:   u64 type (CKA_*), u8 kind, then by kind: BYTES bytes; BOOL u8; ULONG u64;
 *         MECHS u32 n, n x u64
 */

struct wire_sign_req {
	uint8_t ticket[WIRE_TICKET_LEN];
	uint32_t key_id;
	uint64_t mechanism;
	uint8_t param_kind;
	uint64_t pss_hash_alg;
	uint64_t pss_mgf;
	uint64_t pss_salt_len;
	const uint8_t *data; /* view into the frame */
	size_t data_len;
};

/* Encoders write a whole frame into b; they return 0, or -1 when out of memory. */
__attribute__((warn_unused_result)) int wire_enc_sign_req(struct wire_buf *b,
							  const struct wire_sign_req *r);
__attribute__((warn_unused_result)) int wire_dec_sign_req(const uint8_t *body, size_t len,
							  struct wire_sign_req *out);

#endif
