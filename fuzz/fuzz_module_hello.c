/*
 * fuzz_module_hello - libFuzzer target for the module's HELLO-response parser
 * (wp11_hello_parse, pkcs11-module/hello.c): the largest structure the module reads
 * from the enclave, and the one that sizes its allocations.  The input is a HELLO
 * response body.
 *
 * Oracles: the return value is WARDEN_OK, WARDEN_E_PROTOCOL, WARDEN_E_NOMEM or the
 * status the body itself carries; on failure the output is empty; on success every
 * bound of docs/protocol.md holds and each key has its private key object; nothing
 * leaks (LeakSanitizer) on either path.
 */
#include "wp11.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *body = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	if (body == NULL)
		return 0;
	memcpy(body, data, size);

	struct wp11_token t;
	memset(&t, 0xa5, sizeof(t));
	int rc = wp11_hello_parse(body, size, &t);
	uint32_t body_status = size >= 4 ? (uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
						   (uint32_t)body[2] << 8 | body[3]
					 : WARDEN_E_PROTOCOL;
	if (rc != WARDEN_OK) {
		static const uint8_t zero[sizeof(t)];
		check(rc == WARDEN_E_PROTOCOL || rc == WARDEN_E_NOMEM || (uint32_t)rc == body_status);
		check(memcmp(&t, zero, sizeof(t)) == 0);
		free(body);
		return 0;
	}
	check(body_status == WARDEN_OK);
	check(t.num_keys <= WIRE_MAX_KEYS && (t.num_keys == 0 || t.keys != NULL));
	check(t.min_pin <= t.max_pin && t.max_pin <= WIRE_MAX_PIN);
	check(t.max_data > 0 && t.max_data <= WIRE_MAX_DATA);
	check(strlen(t.label) <= WP11_TOKEN_STR_MAX && strlen(t.serial) <= WP11_TOKEN_STR_MAX);
	for (uint32_t k = 0; k < t.num_keys; k++) {
		const struct wp11_key *key = &t.keys[k];
		check(key->sig_len > 0 && key->sig_len <= WIRE_MAX_SIG);
		check(key->num_mechs <= WIRE_MAX_MECHS);
		check(key->objects[WP11_OBJ_PRIVATE].present);
		for (unsigned i = 0; i < WIRE_MAX_OBJECTS_PER_KEY; i++) {
			const struct wp11_object *o = &key->objects[i];
			if (!o->present)
				continue;
			check(o->num_attrs <= WIRE_MAX_ATTRS + 4);
			for (uint32_t a = 0; a < o->num_attrs; a++) {
				/* No private key material is ever accepted from the wire. */
				check(!wp11_attr_is_sensitive(o->klass, o->attrs[a].type));
				check(o->attrs[a].value_len <= WIRE_MAX_ATTR_LEN);
				/* Touch every byte so ASan checks the stored lengths. */
				volatile uint8_t sink = 0;
				for (CK_ULONG j = 0; j < o->attrs[a].value_len; j++)
					sink ^= ((const uint8_t *)o->attrs[a].value)[j];
				(void)sink;
			}
		}
	}
	wp11_token_free(&t);
	free(body);
	return 0;
}
