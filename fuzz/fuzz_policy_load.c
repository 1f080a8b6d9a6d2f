/*
 * fuzz_policy_load.c - the policy loader on arbitrary bytes: no crash, no UB, no leak;
 * a refusal always carries a message (and a path inside POL_PATH_MAX); an accepted
 * policy has a hash and profile names, and loading the same bytes twice gives the same
 * hash.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pol_policy *p = NULL, *q = NULL;
	struct pol_load_error err;

	if (!pol_policy_load((const char *)data, len, &p, &err)) {
		assert(p == NULL);
		assert(err.msg[0] != '\0');
		assert(memchr(err.path, '\0', sizeof(err.path)) != NULL);
		return 0;
	}
	assert(strlen(pol_policy_hash_hex(p)) == 2 * POL_HASH_LEN);
	for (size_t i = 0; i < pol_policy_num_profiles(p); i++)
		assert(pol_policy_profile_name(p, i)[0] != '\0');
	assert(pol_policy_load((const char *)data, len, &q, &err));
	assert(memcmp(pol_policy_hash(p), pol_policy_hash(q), POL_HASH_LEN) == 0);
	pol_policy_free(q);
	pol_policy_free(p);
	return 0;
}
