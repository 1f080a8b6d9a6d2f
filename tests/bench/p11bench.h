/*
 * p11bench.h - shared by p11bench.c (the measuring threads) and pb_opts.c (options,
 * mechanism and hash tables, data loading).
 */
#ifndef WARDEN_P11BENCH_H
#define WARDEN_P11BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <p11-kit/pkcs11.h>

#define PB_MAX_THREADS 256
#define PB_MAX_DATA_LEN (64u * 1024u * 1024u)
#define PB_MAX_SIG_LEN 1024u /* RSA-8192 */
#define PB_MAX_PIN_LEN 256u
#define PB_MAX_ID_LEN 256u
#define PB_MAX_SECONDS 3600.0
#define PB_DEFAULT_SECONDS 5.0
#define PB_DEFAULT_WARMUP 0.5
#define PB_DEFAULT_DATA_LEN 1024u
#define PB_LAT_INITIAL 4096u       /* latency slots per thread before the first growth */
#define PB_MAX_ERRORS_PER_THREAD 100 /* a thread stops after this many failed signatures */
#define PB_LABEL_LEN 32u             /* CK_TOKEN_INFO.label */
#define PB_MAX_SLOTS 256u
#define PB_NS_PER_S 1000000000ull

_Static_assert(PB_MAX_DATA_LEN <= ULONG_MAX, "data length fits a CK_ULONG");
_Static_assert(PB_LAT_INITIAL > 0, "latency arrays start non-empty");

/* --prehash: the client hashes the data itself (as OpenSSL's libp11 engine, GnuTLS
 * and NSS do) and passes the digest, or a DigestInfo for CKM_RSA_PKCS. */
enum pb_prehash {
	PB_PREHASH_NONE,
	PB_PREHASH_SHA256,
	PB_PREHASH_SHA384,
	PB_PREHASH_SHA512,
	PB_NUM_PREHASH
};

#define PB_MAX_PREFIX_LEN 19u
#define PB_MAX_DIGEST_LEN 64u

struct pb_hash {
	const char *name;
	const char *ossl_name;
	size_t digest_len;
	/* DER DigestInfo prefix for CKM_RSA_PKCS (RFC 8017 section 9.2, note 1) */
	uint8_t prefix[PB_MAX_PREFIX_LEN];
	size_t prefix_len;
};

extern const struct pb_hash pb_hashes[PB_NUM_PREHASH];

/* Mechanisms by name.  PSS ones carry the parameters that match their hash. */
struct pb_mech {
	const char *name;
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_TYPE pss_hash; /* 0: not PSS */
	CK_RSA_PKCS_MGF_TYPE pss_mgf;
	CK_ULONG pss_salt_len;
};

#define PB_NUM_MECHS 12u
extern const struct pb_mech pb_mechs[]; /* PB_NUM_MECHS entries */

struct pb_opts {
	const char *module;
	const char *token_label; /* or slot_id */
	CK_SLOT_ID slot_id;
	int have_slot;
	char pin[PB_MAX_PIN_LEN + 1];
	size_t pin_len;
	const char *key_label; /* or key_id */
	uint8_t key_id[PB_MAX_ID_LEN];
	size_t key_id_len;
	const struct pb_mech *mech;
	enum pb_prehash prehash;
	int threads;
	double seconds;
	unsigned long count; /* 0: run for `seconds` */
	double warmup;
	size_t data_len;
	const char *data_file;
	const char *tag;
	long peer_pid; /* --peer-pid: also report this process's CPU per signature */
	/* --unique-at OFF: every signature writes a distinct 8-byte number at data[OFF]
	 * (a certificate serial: a signer that refuses serial reuse signs each); -1: none. */
	long unique_at;
};

/* The name of a PKCS#11 return value (a few common ones; else "CKR_other"). */
const char *pb_rv_name(CK_RV rv);
void pb_usage(FILE *f);
/* Parses the command line into o (zeroed by the caller).  Returns 0, or -1 after a
 * message on stderr. */
__attribute__((warn_unused_result)) int pb_parse_args(int argc, char **argv, struct pb_opts *o);
/* The data to sign: the --data-file contents, or --data-size bytes of a fixed pattern.
 * NULL on failure.  The caller frees it. */
__attribute__((warn_unused_result)) uint8_t *pb_load_data(const struct pb_opts *o, size_t *out_len);

#endif
