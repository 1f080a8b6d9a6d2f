/*
 * admin.h - warden-admin internals: `init DIR` makes a complete working setup (SoftHSM
 * token, CA key generated inside it, self-signed CA certificate or CSR signed through
 * the backend, enclave.json, module.conf, PIN files).
 *
 * admin.c       command line, PIN prompt
 * admin_init.c  the directory, its files and the configuration
 * admin_token.c the SoftHSM token and the key pair, through the PKCS#11 API
 * admin_cert.c  the CA certificate / CSR, signed with sign_compute
 * admin_pin.c   pin unlock: an operator's LOGIN_OK record in the audit log
 *
 * Fallible functions return WARDEN_OK or a WARDEN_E_* code (wire.h) and write one
 * sentence into err (err_len bytes).
 */
#ifndef WARDEN_ADMIN_H
#define WARDEN_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "backend.h"

#define ADMIN_ERR_LEN 512u
#define ADMIN_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define ADMIN_DEFAULT_SUBJECT "/CN=Warden CA"
#define ADMIN_DEFAULT_KEY_LABEL "ca"
#define ADMIN_DEFAULT_TOKEN_LABEL "warden"
#define ADMIN_DEFAULT_DAYS 3650u
#define ADMIN_MAX_DAYS 36500u
/* PKCS#11 labels are 32 bytes, blank padded. */
#define ADMIN_TOKEN_LABEL_MAX 32u
#define ADMIN_KEY_LABEL_MAX 64u
/* Random backend PINs: this many random bytes, written as hex. */
#define ADMIN_BACKEND_PIN_BYTES 24u
#define ADMIN_BACKEND_PIN_LEN (2u * ADMIN_BACKEND_PIN_BYTES)
/* CKA_ID and SKI: SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 4.2.1.2 (1)). */
#define ADMIN_KEY_ID_LEN 20u
#define ADMIN_SERIAL_BYTES 16u
/* The Warden token serial: 16 hex digits. */
#define ADMIN_TOKEN_SERIAL_BYTES 8u

_Static_assert(ADMIN_BACKEND_PIN_LEN < 255u, "SoftHSM takes PINs up to 255 bytes");

/* One supported key type. */
struct admin_key_spec {
	const char *name;             /* rsa2048 ... ed25519 */
	CK_KEY_TYPE key_type;         /* CKK_RSA, CKK_EC, CKK_EC_EDWARDS */
	CK_ULONG bits;                /* RSA modulus bits, else 0 */
	const char *curve;            /* OpenSSL group name (EC), else NULL */
	int curve_nid;                /* NID of the curve or of ED25519, else 0 */
	CK_MECHANISM_TYPE sign_mech;  /* full-data mechanism used for the CA signature */
	int sig_nid;                  /* the matching signature AlgorithmIdentifier */
};

const struct admin_key_spec *admin_key_spec_find(const char *name);
/* "rsa2048|rsa3072|..." for messages. */
const char *admin_key_spec_names(void);

struct admin_init_opts {
	const char *dir;
	const struct admin_key_spec *key;
	const char *subject;
	const char *key_label;
	const char *token_label;
	unsigned days;
	const char *user;   /* NULL: the enclave runs as whoever starts it */
	const char *socket; /* NULL: DIR/enclave.sock */
	const char *module; /* backend PKCS#11 module */
	int csr;
	int force;
	const char *pin; /* the Warden user PIN, pin_len bytes; the caller wipes it */
	size_t pin_len;
};

__attribute__((warn_unused_result)) int admin_init_run(const struct admin_init_opts *o,
						       char *err, size_t err_len);

/* Prints how to start the enclave for dir and how a client finds the module (admin.c). */
void admin_print_next_steps(const char *dir);

/* --- admin_token.c ----------------------------------------------------------- */

struct admin_token_req {
	const char *module;      /* PKCS#11 module; SOFTHSM2_CONF already set */
	const char *token_label;
	const char *key_label;
	const char *so_pin;      /* new SO PIN */
	const char *user_pin;    /* new (backend) user PIN */
	const struct admin_key_spec *key;
};

/* Initialises a free token, sets its user PIN, generates the key pair inside it and
 * sets CKA_ID on both halves to the SHA-1 of the public key.  Gives the CKA_ID. */
__attribute__((warn_unused_result)) int admin_token_create(const struct admin_token_req *r,
							   uint8_t out_id[ADMIN_KEY_ID_LEN],
							   char *err, size_t err_len);

/* SHA-1 of the subjectPublicKey BIT STRING of pkey (the CKA_ID and the SKI). */
__attribute__((warn_unused_result)) int admin_key_id(EVP_PKEY *pkey,
						     uint8_t out[ADMIN_KEY_ID_LEN]);

/* --- admin_cert.c ------------------------------------------------------------ */

struct admin_cert_req {
	struct bk_ctx *bk;
	const struct bk_key *key;
	const struct admin_key_spec *spec;
	const char *subject; /* "/CN=.../O=..." */
	unsigned days;
	int csr; /* 1: a PKCS#10 request instead of a certificate */
};

/* Builds the self-signed CA certificate (or the CSR), signs it through the backend,
 * checks it with OpenSSL, and gives it as PEM (malloc'd, NUL-terminated). */
__attribute__((warn_unused_result)) int admin_cert_make(const struct admin_cert_req *r,
							char **out_pem, char *err,
							size_t err_len);

/* Checks that a subject string parses ("/CN=x/O=y", backslash escapes). */
__attribute__((warn_unused_result)) int admin_subject_check(const char *subject, char *err,
							    size_t err_len);

/* `warden-admin policy check|test ...` (admin_policy.c); argv[0] is "policy". */
int admin_policy_main(int argc, char **argv);

/* `warden-admin pin unlock CONFIG [--reason TEXT]` (admin_pin.c); argv[0] is "pin". */
int admin_pin_main(int argc, char **argv);

#endif
