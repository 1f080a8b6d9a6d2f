/*
 * backend.h - the key backend: any PKCS#11 module (SoftHSMv2 by default, an HSM in
 * production).  Used by warden-enclave, and by warden-admin for the key ceremony.
 *
 * The backend is opened before the sandbox (dlopen, C_Initialize, C_Login with the
 * backend PIN).  bk_sign_raw is safe to call from many threads at once: each call takes
 * a backend session from a pool (opening one when none is idle).
 */
#ifndef WARDEN_BACKEND_H
#define WARDEN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

struct bk_ctx;
struct bk_key;

struct bk_config {
	const char *module_path; /* e.g. /usr/lib/softhsm/libsofthsm2.so */
	const char *token_label; /* backend token, by label */
	const char *pin;         /* backend user PIN; the caller wipes it after bk_open */
};

/* Opens the backend.  On failure writes a sentence into err (err_len bytes) and returns
 * a WARDEN_E_* code (WARDEN_E_BACKEND mostly). */
__attribute__((warn_unused_result)) int bk_open(const struct bk_config *cfg,
						struct bk_ctx **out, char *err, size_t err_len);
/* Logs out, closes sessions, C_Finalize, dlclose.  NULL is a no-op. */
void bk_close(struct bk_ctx *ctx);

/* Finds a private key by CKA_LABEL.  Refuses a key that is extractable or not sensitive
 * (or whose CKA_SIGN is false), and one for which no public key can be built (from a
 * public-key object with the same CKA_ID, or the private key's own attributes). */
__attribute__((warn_unused_result)) int bk_key_find(struct bk_ctx *ctx, const char *label,
						    struct bk_key **out, char *err,
						    size_t err_len);
void bk_key_free(struct bk_key *key);

/* The key's public half (owned by the key; do not free) and facts about it. */
EVP_PKEY *bk_key_public(const struct bk_key *key);
CK_KEY_TYPE bk_key_type(const struct bk_key *key); /* CKK_RSA, CKK_EC, CKK_EC_EDWARDS */
/* CKA_ID of the backend key (may be empty). */
const uint8_t *bk_key_id(const struct bk_key *key, size_t *out_len);
/* CKA_EC_PARAMS as the backend stores it (EC and Edwards keys), else NULL. */
const uint8_t *bk_key_ec_params(const struct bk_key *key, size_t *out_len);
/* Signature length in bytes: modulus length, 2 x field length, or 64. */
size_t bk_key_sig_len(const struct bk_key *key);
/* The curve as an OpenSSL NID (NID_X9_62_prime256v1, NID_secp384r1, NID_ED25519);
 * NID_undef for RSA. */
int bk_key_curve_nid(const struct bk_key *key);
/* Boolean facts read from the backend key at bk_key_find: CKA_ALWAYS_SENSITIVE,
 * CKA_NEVER_EXTRACTABLE, CKA_LOCAL (1 or 0; 0 for any other attribute). */
int bk_key_bool(const struct bk_key *key, CK_ATTRIBUTE_TYPE t);

/* A signing operation begun on a backend session (C_SignInit done) and not finished. */
struct bk_op {
	CK_SESSION_HANDLE s;
	int active;
};
/* Takes a session and runs C_SignInit with the raw mechanism: no signature yet.  Then
 * exactly one of bk_sign_finish or bk_sign_cancel.  WARDEN_OK or WARDEN_E_BACKEND. */
__attribute__((warn_unused_result)) int bk_sign_begin(struct bk_ctx *ctx,
						      const struct bk_key *key,
						      const CK_MECHANISM *mech, struct bk_op *op);
/* C_Sign on the begun operation; gives the session back.  *sig_len as bk_sign_raw. */
__attribute__((warn_unused_result)) int bk_sign_finish(struct bk_ctx *ctx,
						       const struct bk_key *key,
						       struct bk_op *op, const uint8_t *in,
						       size_t in_len, uint8_t *sig, size_t *sig_len);
/* Ends a begun operation without signing: PKCS#11 2.40 has no cancel, so the session is
 * closed (the key's session copy lives in the login session and stays). */
void bk_sign_cancel(struct bk_ctx *ctx, struct bk_op *op);

/* Signs `in` with a raw mechanism (CKM_RSA_PKCS on a DigestInfo, CKM_RSA_PKCS_PSS with
 * params, CKM_ECDSA on a digest, CKM_EDDSA on the message).  *sig_len is the capacity
 * on input and the length on output.  Returns WARDEN_OK or WARDEN_E_BACKEND. */
__attribute__((warn_unused_result)) int bk_sign_raw(struct bk_ctx *ctx,
						    const struct bk_key *key,
						    const CK_MECHANISM *mech, const uint8_t *in,
						    size_t in_len, uint8_t *sig, size_t *sig_len);

#endif
