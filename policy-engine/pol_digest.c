/*
 * pol_digest.c - the digests of the rules layer (ids of rate-limit buckets, serials,
 * revocation scopes, SAN sets; the policy and state hashes), with the algorithms
 * fetched once.  The facts layer (der.c, pol_common.c, pol_cert.c...) needs none.
 */
#include <stdatomic.h>
#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "pol_policy_int.h"

/* The digests, fetched once; a slot stays NULL when the fetch failed (the one-shot
 * functions are used then).  Concurrent first uses may both fetch: one keeps its
 * algorithm, the other frees its own. */
static const char *const digest_name[] = {
	[POL_HASH_SHA1] = "SHA1",
	[POL_HASH_SHA256] = "SHA2-256",
	[POL_HASH_SHA384] = "SHA2-384",
	[POL_HASH_SHA512] = "SHA2-512",
};
#define DIGEST_SLOTS (sizeof(digest_name) / sizeof(digest_name[0]))
static _Atomic(EVP_MD *) digest_md[DIGEST_SLOTS];
static atomic_bool digest_tried[DIGEST_SLOTS];

static EVP_MD *digest_get(enum pol_hash h)
{
	EVP_MD *md = atomic_load_explicit(&digest_md[h], memory_order_acquire), *none = NULL;

	if (md != NULL || atomic_load_explicit(&digest_tried[h], memory_order_acquire))
		return md;
	md = EVP_MD_fetch(NULL, digest_name[h], NULL);
	if (md != NULL && !atomic_compare_exchange_strong(&digest_md[h], &none, md)) {
		EVP_MD_free(md);
		md = none;
	}
	atomic_store_explicit(&digest_tried[h], true, memory_order_release);
	return md;
}

bool pol_crypto_init(void)
{
	bool any = false;

	for (size_t h = 0; h < DIGEST_SLOTS; h++)
		if (digest_name[h] != NULL && digest_get((enum pol_hash)h) != NULL)
			any = true;
	return any;
}

size_t pol_digest(enum pol_hash h, const void *p, size_t n, uint8_t *out)
{
	EVP_MD *md;
	unsigned int len = 0;

	if ((size_t)h >= DIGEST_SLOTS || digest_name[h] == NULL)
		return 0;
	md = digest_get(h);
	if (md != NULL && EVP_Digest(p, n, out, &len, md, NULL) == 1)
		return len;
	switch (h) {
	case POL_HASH_SHA1: SHA1(p, n, out); return SHA_DIGEST_LENGTH;
	case POL_HASH_SHA256: SHA256(p, n, out); return SHA256_DIGEST_LENGTH;
	case POL_HASH_SHA384: SHA384(p, n, out); return SHA384_DIGEST_LENGTH;
	default: SHA512(p, n, out); return SHA512_DIGEST_LENGTH;
	}
}

