/*
 * fuzz_audit_record.c - the audit record parser (aud_record_parse: framing, hash,
 * link, sequence, body TLV) and the body walker.  The input is one record as read
 * from a log; the link it must carry is taken from its own prev_hash field so that
 * the fuzzer can reach the body checks.  Invariants: a record that parses re-encodes
 * to the same bytes; every field of an accepted body walks without error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aud_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct aud_hasher *h;
	uint8_t prev[AUD_HASH_LEN] = {0};
	struct aud_rec r;
	char what[AUD_ERR_LEN];
	uint64_t seq = 0;

	if (h == NULL && (h = aud_hasher_new()) == NULL)
		abort();
	if (size >= AUD_REC_HDR_LEN) {
		memcpy(prev, data + AUD_OFF_PREV, AUD_HASH_LEN);
		seq = aud_get64(data + AUD_OFF_SEQ);
	}
	if (aud_record_parse(h, data, size, seq, prev, &r, what, sizeof what) == AUD_V_OK) {
		uint8_t *again = malloc(r.raw_len);
		struct aud_cur c = {r.body, r.body_len};
		struct aud_field f;

		if (again == NULL)
			abort();
		aud_record_encode(h, again, r.type, r.seq, r.time_ns, r.prev_hash, r.body,
				  r.body_len);
		if (memcmp(again, data, r.raw_len) != 0)
			abort();
		free(again);
		while (aud_field_next(&c, &f) == 1)
			(void)aud_tag_name(f.tag);
		if (c.len != 0)
			abort(); /* aud_body_check accepted a body the walker cannot finish */
	}
	/* The body checker on raw input too (no hash in the way). */
	size_t off = 0;
	const char *w = NULL;
	(void)aud_body_check(data, size, &off, &w);
	return 0;
}
