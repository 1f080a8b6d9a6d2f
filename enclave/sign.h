/*
 * sign.h - one signature as the enclave makes it: hash the data itself, build the raw
 * input (DigestInfo for PKCS#1 v1.5), sign through the backend with the raw mechanism,
 * and verify the result with the public key before it leaves (always for RSA: a faulty
 * RSA-CRT signature leaks the key; for ECDSA and EdDSA when `verify` is set).
 */
#ifndef WARDEN_SIGN_H
#define WARDEN_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct sign_req {
	CK_MECHANISM_TYPE mechanism; /* the mechanism the client asked for */
	/* CKM_*_RSA_PKCS_PSS parameters (has_pss set), as CK_RSA_PKCS_PSS_PARAMS */
	int has_pss;
	CK_MECHANISM_TYPE pss_hash_alg;
	CK_RSA_PKCS_MGF_TYPE pss_mgf;
	CK_ULONG pss_salt_len;
	const uint8_t *data;
	size_t data_len;
	/* SHA-256 of data when the caller already has it (read by sign_begin only), or
	 * NULL: a full-data SHA-256 mechanism then skips hashing the data again. */
	const uint8_t *data_sha256;
};

/* Mechanisms the enclave serves.  Full-data ones take the data to be signed; raw ones
 * a digest (CKM_ECDSA, CKM_RSA_PKCS_PSS) or a DigestInfo (CKM_RSA_PKCS). */
int sign_mech_is_raw(CK_MECHANISM_TYPE m);
/* 1 when mechanism m can be used with a key of type kt (and, for ECDSA, its curve). */
int sign_mech_fits_key(CK_MECHANISM_TYPE m, const struct bk_key *key);

/* Fetches the digests and other algorithms once, before the sandbox.  Returns
 * WARDEN_OK or WARDEN_E_INTERNAL. */
__attribute__((warn_unused_result)) int sign_init(void);
/* SHA-256 of data with the digest sign_init fetched (the audit record's data_sha256).
 * WARDEN_OK, or WARDEN_E_INTERNAL (also before sign_init). */
__attribute__((warn_unused_result)) int sign_sha256(const uint8_t *data, size_t len,
						    uint8_t out[32]);

#define SIGN_MAX_DIGEST 64u
#define SIGN_DIGESTINFO_PREFIX_LEN 19u

/* A signature in two steps, so that the backend's C_SignInit can run while the audit
 * record is being made durable (no signature exists before sign_end):
 *   sign_begin   checks the request against the key (as sign_compute), hashes, and
 *                begins the backend operation;
 *   sign_end     signs and verifies (as sign_compute), or sign_cancel.
 * req must stay valid until sign_end / sign_cancel. */
struct mech_info;
struct sign_op {
	struct bk_ctx *ctx;
	const struct bk_key *key;
	const struct sign_req *req;
	const struct mech_info *mi; /* NULL: nothing begun */
	int h;
	uint8_t buf[SIGN_DIGESTINFO_PREFIX_LEN + SIGN_MAX_DIGEST];
	const uint8_t *in, *dg;
	size_t in_len, dg_len;
	struct bk_op bop;
};
__attribute__((warn_unused_result)) int sign_begin(struct bk_ctx *ctx, const struct bk_key *key,
						   const struct sign_req *req, struct sign_op *op,
						   uint8_t out_sha256[32], char *err,
						   size_t err_len);
__attribute__((warn_unused_result)) int sign_end(struct sign_op *op, int verify, uint8_t *sig,
						 size_t *sig_len, char *err, size_t err_len);
void sign_cancel(struct sign_op *op);
/* Frees what this thread keeps between signatures (its verification contexts); call
 * when a thread that signed ends. */
void sign_thread_end(void);

/* Checks the request against the key (mechanism fits, PSS parameters match the
 * mechanism and key, raw input sizes), then hashes, signs and verifies.
 * `verify` asks for verification of ECDSA/EdDSA signatures (RSA is always verified).
 * *sig_len is the capacity on input.  On failure writes a sentence into err and
 * returns a WARDEN_E_* code: MECHANISM, MECH_PARAM, DATA_LEN, DATA_INVALID, BACKEND,
 * INTERNAL.  Also gives the SHA-256 of the exact data signed in out_sha256 (for the
 * audit record), or NULL to skip. */
__attribute__((warn_unused_result)) int sign_compute(struct bk_ctx *ctx,
						     const struct bk_key *key,
						     const struct sign_req *req, int verify,
						     uint8_t *sig, size_t *sig_len,
						     uint8_t out_sha256[32], char *err,
						     size_t err_len);

#endif
