/*
 * test_module_fake.h - a tiny in-process enclave for the module's unit tests.
 *
 * It listens on a socket in a temporary directory, writes a module.conf pointing at it,
 * sets WARDEN_CONF, and answers HELLO/STATUS/LOGIN/LOGOUT/SIGN with hand-built frames
 * (wire.h).  Two keys: key id 7, RSA-2048 (handles 1 private, 2 public, 3 certificate)
 * and key id 9, P-256 (handles 5 private, 6 public, no certificate).  The "signature" is
 * sig_len bytes derived from the data so tests can tell what was signed.
 * The real enclave is exercised by the integration tests.
 */
#ifndef WARDEN_TEST_MODULE_FAKE_H
#define WARDEN_TEST_MODULE_FAKE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define FAKE_PIN "1234"
#define FAKE_RSA_KEY_ID 7u
#define FAKE_EC_KEY_ID 9u
#define FAKE_RSA_SIG_LEN 256u
#define FAKE_EC_SIG_LEN 64u
#define FAKE_MAX_FAILURES 3u
#define FAKE_LABEL "warden-test"
#define FAKE_CERT_VALUE "not really DER, but bytes"

/* Variations of the HELLO body for the parser's negative tests. */
struct fake_hello_opts {
	int dup_key_id;
	int dup_attr;
	int sensitive_attr;
	int bad_bool;
	int bad_kind;
	int no_private;
	int zero_sig_len;
	int bad_class;
	int token_false;
	int trailing_byte;
	int wrong_class_attr;
	uint32_t status; /* non-zero: an error answer */
	int num_keys_override; /* >0: claimed key count */
};

/* Builds a whole HELLO response frame (header included) into b. */
void fake_hello_build(struct wire_buf *b, const struct fake_hello_opts *o, uint64_t boot_id,
		      uint64_t max_data);

struct fake_state {
	pthread_mutex_t lock;
	uint64_t boot_id;
	uint64_t max_data;
	unsigned failures;
	int hellos, statuses, logins, logouts, signs;
	uint32_t sign_status;  /* non-zero: answer every SIGN with it */
	char sign_message[128];
	int drop_next_sign;    /* close the connection instead of answering one SIGN */
	int ticket_valid;
	uint8_t ticket[WIRE_TICKET_LEN];
	uint64_t last_mechanism;
	uint32_t last_key_id;
	uint8_t last_param_kind;
	uint8_t *last_data;
	size_t last_data_len;
};

extern struct fake_state fake;

/* Starts the fake (and sets WARDEN_CONF); fake_stop tears it down. */
void fake_start(void);
void fake_stop(void);
/* Simulates an enclave restart: new boot_id, tickets forgotten, connections closed. */
void fake_restart(void);
/* A module.conf pointing at a socket nobody listens on (token absent). */
void fake_conf_absent(void);
/* The signature the fake returns for data. */
void fake_signature(const uint8_t *data, size_t len, size_t sig_len, uint8_t *out);

#endif
