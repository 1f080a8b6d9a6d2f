/*
 * fuzz_wire_sign - libFuzzer target for wire_dec_sign_req (the enclave's parser of the
 * one request that carries attacker-chosen bulk data).  The input is a SIGN body.
 *
 * Oracles: a decoded request re-encodes with wire_enc_sign_req to exactly the input
 * bytes (the one canonicalisation: an empty ticket decodes to 32 zero bytes, which the
 * encoder writes out in full); the data view lies inside the input; a rejected body
 * leaves the output zeroed.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t zero_ticket[WIRE_TICKET_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly `size` bytes, so ASan catches any overread. */
	uint8_t *body = malloc(size ? size : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data, size);

	struct wire_sign_req r;
	memset(&r, 0xa5, sizeof(r));
	int rc = wire_dec_sign_req(body, size, &r);
	if (rc == WARDEN_E_PROTOCOL) {
		static const uint8_t zero[sizeof(r)];
		if (memcmp(&r, zero, sizeof(r)) != 0)
			abort();
		goto out;
	}
	if (rc != WARDEN_OK)
		abort();
	if (r.data_len > WIRE_MAX_DATA || r.data < body || r.data > body + size ||
	    r.data_len > (size_t)(body + size - r.data))
		abort();
	if (r.param_kind != WIRE_PK_NONE && r.param_kind != WIRE_PK_PSS)
		abort();

	struct wire_buf b;
	wire_buf_init(&b);
	if (wire_enc_sign_req(&b, &r) != 0)
		abort(); /* everything the decoder accepts must encode */
	const uint8_t *enc = b.data + WIRE_HEADER_LEN;
	size_t enc_len = b.len - WIRE_HEADER_LEN;
	/* The input's ticket field is 4 + 0 or 4 + 32 bytes. */
	int empty_ticket = size >= 4 && memcmp(body, "\0\0\0\0", 4) == 0;
	if (empty_ticket) {
		if (memcmp(r.ticket, zero_ticket, WIRE_TICKET_LEN) != 0)
			abort();
		/* enc = 00000020 || 32 zero bytes || the rest of the input */
		if (enc_len != size + WIRE_TICKET_LEN || enc[3] != WIRE_TICKET_LEN ||
		    memcmp(enc, "\0\0\0", 3) != 0 ||
		    memcmp(enc + 4, zero_ticket, WIRE_TICKET_LEN) != 0 ||
		    memcmp(enc + 4 + WIRE_TICKET_LEN, body + 4, size - 4) != 0)
			abort();
	} else if (enc_len != size || memcmp(enc, body, size) != 0) {
		abort();
	}
	struct wire_header h;
	if (wire_header_parse(b.data, &h) != WARDEN_OK || h.type != WIRE_SIGN ||
	    h.body_len != enc_len)
		abort();
	wire_buf_free(&b);
out:
	free(body);
	return 0;
}
