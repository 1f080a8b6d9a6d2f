/*
 * fuzz_wire_header - libFuzzer target for wire_header_parse.
 *
 * Oracle: an independent restatement of the header rules (docs/protocol.md, "Frame
 * header") must agree with the parser on every input, and a rejected header must leave
 * the output zeroed.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int header_valid(const uint8_t h[WIRE_HEADER_LEN])
{
	uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	unsigned type = h[5] & 0x7fu;
	return h[4] == WIRE_VERSION && h[6] == 0 && h[7] == 0 && type >= WIRE_HELLO &&
	       type <= WIRE_TYPE_MAX && len <= WIRE_MAX_BODY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Every 8-byte window, so one input exercises several headers. */
	for (size_t off = 0; off + WIRE_HEADER_LEN <= size; off += WIRE_HEADER_LEN) {
		uint8_t h[WIRE_HEADER_LEN];
		memcpy(h, data + off, sizeof(h)); /* exact-size copy: ASan sees any overread */
		struct wire_header out;
		memset(&out, 0xa5, sizeof(out));
		int rc = wire_header_parse(h, &out);
		if (rc != WARDEN_OK && rc != WARDEN_E_PROTOCOL)
			abort();
		if ((rc == WARDEN_OK) != header_valid(h))
			abort();
		if (rc == WARDEN_OK) {
			uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
				       (uint32_t)h[2] << 8 | h[3];
			if (out.body_len != len || out.version != h[4] || out.type != h[5])
				abort();
		} else if (out.body_len != 0 || out.version != 0 || out.type != 0) {
			abort();
		}
	}
	return 0;
}
