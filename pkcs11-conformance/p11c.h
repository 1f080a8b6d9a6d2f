/*
 * p11c.h - internal header of the PKCS#11 conformance suite (p11-conformance).
 *
 * The suite dlopens any PKCS#11 module named by $P11C_MODULE and checks it against
 * PKCS#11 2.40 / 3.0.  Every test runs in its own forked process (Check's CK_FORK), so
 * each test starts from an uninitialised module and calls C_Initialize itself.
 */
#ifndef P11C_H
#define P11C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <p11-kit/pkcs11.h>

#define P11C_WUR __attribute__((warn_unused_result))

/* Bounds. */
#define P11C_MAX_SLOTS 64
#define P11C_MAX_MECHS 512
#define P11C_MAX_OBJECTS 8192
#define P11C_MAX_ATTR_LEN 16384
#define P11C_MAX_SIG_LEN 2048
#define P11C_DATA_LEN 3000       /* default message: > 2 KiB so 1 KiB chunking is exercised */
#define P11C_MAX_DATA_LEN (16 * 1024 * 1024)
#define P11C_CHUNK_LEN 1024
#define P11C_THREADS 4
#define P11C_SIGS_PER_THREAD 25
#define P11C_TEST_TIMEOUT 120    /* seconds per test case */
#define P11C_MAX_NAME 128

/* PKCS#11 3.0 definitions missing from p11-kit's 2.40 header. */
typedef struct {
	CK_CHAR *pInterfaceName;
	void *pFunctionList;
	CK_FLAGS flags;
} P11C_INTERFACE;
#define P11C_CKF_INTERFACE_FORK_SAFE 0x00000001UL
typedef CK_RV (*P11C_GetInterfaceList)(P11C_INTERFACE *list, CK_ULONG *count);
typedef CK_RV (*P11C_GetInterface)(CK_UTF8CHAR *name, CK_VERSION *version,
	P11C_INTERFACE **iface, CK_FLAGS flags);

/* Configuration, read from the environment once in main() and inherited by each test. */
struct p11c_config {
	const char *module_path;
	void *dl;
	CK_FUNCTION_LIST *fl;             /* from C_GetFunctionList */
	P11C_GetInterface get_interface;  /* dlsym, may be NULL */
	P11C_GetInterfaceList get_interface_list;
	bool slot_set;
	CK_SLOT_ID slot;
	const char *pin;                  /* may be NULL: login tests skip */
	const char *so_pin;               /* may be NULL */
	const char *key_label;            /* may be NULL: first private key */
	bool wrong_pin_ok;
	unsigned char *data;              /* message to sign */
	size_t data_len;
	const char *skip_dir;             /* where tests record SKIP reasons */
};
extern struct p11c_config p11c;

/* One candidate signature mechanism. */
struct p11c_mech {
	CK_MECHANISM_TYPE type;
	const char *name;
	CK_KEY_TYPE key_type;     /* CKK_RSA, CKK_EC or CKK_EC_EDWARDS */
	int md_nid;               /* hash of combined mechanisms, NID_undef for raw ones */
	bool pss;
	bool raw;                 /* input is a digest / DigestInfo (single-part only) */
	bool multipart;           /* C_SignUpdate/Final defined for it */
};
#define P11C_NUM_MECHS 12
extern const struct p11c_mech p11c_mechs[P11C_NUM_MECHS];
extern const size_t p11c_num_mechs;

/* A key the sign tests use, resolved after login. */
struct p11c_key {
	CK_OBJECT_HANDLE priv;
	CK_KEY_TYPE key_type;
	void *pkey;               /* EVP_PKEY * */
	unsigned char id[256];
	CK_ULONG id_len;
	char label[256];
};

/* --- p11c_util.c --- */
const char *p11c_rv_name(CK_RV rv);
/* Records that the running test is skipped; the test then returns (passing for Check). */
void p11c_skip_record(const char *test, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Test name from __func__ of a START_TEST function ("name_fn" -> "name"). */
const char *p11c_test_name(const char *func, char *buf, size_t len);
#define P11C_SKIP(...)                                                                  \
	do {                                                                            \
		char p11c_nb_[P11C_MAX_NAME];                                           \
		p11c_skip_record(p11c_test_name(__func__, p11c_nb_, sizeof(p11c_nb_)),   \
			__VA_ARGS__);                                                   \
		return;                                                                 \
	} while (0)

/* Asserts rv == expected, printing names. */
#define ck_rv(call, expected)                                                           \
	do {                                                                            \
		CK_RV p11c_rv_ = (call);                                                \
		ck_assert_msg(p11c_rv_ == (CK_RV)(expected), "%s returned %s, expected %s", \
			#call, p11c_rv_name(p11c_rv_), p11c_rv_name(expected));         \
	} while (0)
#define ck_ok(call) ck_rv(call, CKR_OK)

/* Standard set-up: C_Initialize(NULL) must succeed. */
void p11c_init(void);
void p11c_finalize(void);
CK_SLOT_ID p11c_slot(void);
CK_SESSION_HANDLE p11c_open(bool rw);
void p11c_login(CK_SESSION_HANDLE s);
bool p11c_has_pin(void);
/* Finds all objects matching a template (asserts success). */
CK_ULONG p11c_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
	CK_OBJECT_HANDLE *out, CK_ULONG max);
/* Reads one attribute into a malloc'd buffer; returns the rv, *out NULL on failure. */
CK_RV p11c_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
	unsigned char **out, CK_ULONG *out_len) P11C_WUR;
/* Resolves the signing key (P11C_KEY_LABEL or the first private key) and its public
 * key; the session must be logged in.  Returns false with *why set when not found. */
bool p11c_key_get(CK_SESSION_HANDLE s, struct p11c_key *k, const char **why) P11C_WUR;
void p11c_key_clear(struct p11c_key *k);
/* C_Initialize, a logged-in RO session and the signing key; records a SKIP for `test`
 * and returns false without a PIN or a usable key. */
bool p11c_key_setup(const char *test, CK_SESSION_HANDLE *s, struct p11c_key *k) P11C_WUR;
#define P11C_KEY_SETUP(s, k)                                                            \
	do {                                                                            \
		char p11c_nb_[P11C_MAX_NAME];                                           \
		if (!p11c_key_setup(p11c_test_name(__func__, p11c_nb_, sizeof(p11c_nb_)), \
				    (s), (k)))                                          \
			return;                                                         \
	} while (0)
bool p11c_mech_listed(CK_MECHANISM_TYPE m);
/* Fills a CK_MECHANISM (PSS parameters in *pss) for mechanism m. */
void p11c_mech_fill(const struct p11c_mech *m, CK_MECHANISM *mech, CK_RSA_PKCS_PSS_PARAMS *pss);
/* The bytes passed to C_Sign for m: the message, or its SHA-256 digest / DigestInfo. */
void p11c_mech_input(const struct p11c_mech *m, const unsigned char **in, size_t *in_len,
	unsigned char *buf, size_t buf_len);
/* Verifies sig over the message (as signed with m) with OpenSSL; returns an error text
 * or NULL when it verifies. */
const char *p11c_verify(const struct p11c_key *k, const struct p11c_mech *m,
	const unsigned char *sig, size_t sig_len) P11C_WUR;
/* First mechanism in p11c_mechs the token lists and the key can use, or NULL. */
const struct p11c_mech *p11c_mech_for_key(const struct p11c_key *k);
/* Checks a blank-padded string field: printable ASCII, no NUL. */
const char *p11c_padded_ok(const unsigned char *s, size_t len);

/* --- per-area suites --- */
void p11c_add_init_tests(Suite *s);
void p11c_add_info_tests(Suite *s);
void p11c_add_session_tests(Suite *s);
void p11c_add_object_tests(Suite *s);
/* key_type: the signing key's type (from a probe), CK_UNAVAILABLE_INFORMATION if unknown. */
void p11c_add_sign_tests(Suite *s, CK_KEY_TYPE key_type);
void p11c_add_thread_tests(Suite *s);

/* Adds a test case named after the test (one test per case, so results carry its name). */
void p11c_add(Suite *s, const TTest *t);
#define P11C_ADD(s, t) p11c_add((s), (t))

#endif
