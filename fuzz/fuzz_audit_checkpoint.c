/*
 * fuzz_audit_checkpoint.c - the C2SP checkpoint (signed note) parser and the
 * audit.pub line parser.  Invariants: an accepted note's body re-encodes from its
 * parsed origin, size and head to the same text when it has no extension lines;
 * signature views lie inside the parsed structure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aud_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct aud_note n;
	char name[AUD_ORIGIN_MAX], body[AUD_NOTE_MAX];
	uint8_t pub[AUD_ED25519_LEN];

	if (aud_note_parse((const char *)data, size, &n)) {
		if (n.num_sigs == 0 || n.num_sigs > AUD_NOTE_MAX_SIGS || n.text_len >= size)
			abort();
		if (n.num_ext == 0 && n.origin_len < sizeof name) {
			memcpy(name, n.origin, n.origin_len);
			name[n.origin_len] = '\0';
			size_t len = aud_note_body(name, n.size, n.head, body, sizeof body);

			if (len != n.text_len || memcmp(body, n.text, len) != 0)
				abort();
		}
		for (size_t i = 0; i < n.num_sigs; i++)
			if (n.sigs[i].sig < n.sig_buf ||
			    n.sigs[i].sig + n.sigs[i].sig_len > n.sig_buf + sizeof n.sig_buf)
				abort();
	}
	(void)aud_pubkey_parse((const char *)data, size, name, pub);
	return 0;
}
