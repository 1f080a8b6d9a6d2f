/*
 * fuzz_pol_summary.c - the decoders of what the enclave replays from its audit log at
 * start-up: a policy decision summary (pol_summary_decode) and one encoded revocation
 * (pol_revocation_decode).  A decoded summary re-encodes to exactly the input bytes
 * (the encoding is canonical), and a refused input leaves the output zeroed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pol_summary *s = malloc(sizeof(*s));
	uint8_t *again = malloc(POL_SUMMARY_WIRE_MAX);
	if (s == NULL || again == NULL)
		abort();
	if (pol_summary_decode(data, len, s)) {
		size_t n = pol_summary_encode(s, again, POL_SUMMARY_WIRE_MAX);
		if (n != len || memcmp(again, data, len) != 0)
			abort(); /* not canonical: two encodings of one summary */
	} else if (!all_zero(s, sizeof(*s))) {
		abort();
	}
	struct pol_revocation r;
	if (!pol_revocation_decode(data, len, &r) && !all_zero(&r, sizeof(r)))
		abort();
	free(again);
	free(s);
	return 0;
}
