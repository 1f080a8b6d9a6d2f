/*
 * fuzz_pol_state.c - pol_state_decode, the decoder of the policy state the enclave reads
 * back from an audit-log snapshot at start-up.  The input is tried twice: as given
 * (mostly refused by the SHA-256 trailer) and with its SHA-256 appended (so mutations
 * reach the structure).  Oracles: a refused input leaves *out NULL with a reason and an
 * offset inside the input; an accepted one re-encodes (pol_state_encode) to exactly the
 * bytes decoded (the encoding is canonical) and respects the small limits used here.
 * Seeds: fuzz/corpus/fuzz_pol_state/, written by the unit test
 * (POL_STATE_CORPUS_DIR=fuzz/corpus/fuzz_pol_state build/tests/test_policy_state_codec).
 */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Small tables: a decode allocates them, and the count bounds are reachable. */
static const struct pol_state_limits lim = {
	.max_serials = 64, .max_buckets = 64, .max_revocations = 64,
};

static void one(const uint8_t *p, size_t len)
{
	struct pol_state *st = (struct pol_state *)&lim; /* must be overwritten */
	const char *what = NULL;
	size_t off = SIZE_MAX;
	uint8_t *again = NULL;
	size_t n = 0;

	if (!pol_state_decode(p, len, &lim, NULL, &st, &what, &off)) {
		if (st != NULL || what == NULL || what[0] == '\0' || off > len)
			abort();
		return;
	}
	if (st == NULL || what != NULL || off != 0)
		abort();
	if (pol_state_num_serials(st) > lim.max_serials ||
	    pol_state_num_buckets(st) > lim.max_buckets ||
	    pol_state_num_revocations(st) > lim.max_revocations)
		abort();
	if (!pol_state_encode(st, &again, &n))
		abort();
	if (n != len || memcmp(again, p, len) != 0)
		abort(); /* not canonical: two encodings of one state */
	free(again);
	pol_state_free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t *sealed = malloc(len + SHA256_DIGEST_LENGTH);
	if (sealed == NULL)
		abort();
	one(data, len);
	if (len > 0)
		memcpy(sealed, data, len);
	SHA256(data, len, sealed + len);
	one(sealed, len + SHA256_DIGEST_LENGTH);
	free(sealed);
	return 0;
}
