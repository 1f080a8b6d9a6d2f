/*
 * fuzz_der.c - the strict DER cursor (policy-engine/der.c) on arbitrary input: the
 * generic walk, and every typed getter on every element it finds.  Invariants: a
 * failed get leaves the cursor unchanged; a successful one stays inside the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

static void inside(const struct der_cur *v, const uint8_t *data, size_t len)
{
	if (v->len == 0)
		return;
	assert(v->p >= data && v->p + v->len <= data + len);
}

static void try_getters(struct der_cur elem, const uint8_t *data, size_t len)
{
	struct der_err e;
	struct der_cur c, v;
	uint64_t u;
	bool b;
	unsigned unused;
	uint32_t bits;
	int64_t t;
	uint8_t tag;
	char text[128];
	der_err_init(&e, data);
#define TRY(call)                                                 \
	do {                                                      \
		c = elem;                                         \
		der_err_init(&e, data);                           \
		if (!(call))                                      \
			assert(c.p == elem.p && c.len == elem.len && e.reason != DER_OK); \
	} while (0)
	TRY(der_get_u64(&c, &u, &e));
	TRY(der_get_enum(&c, &u, &e));
	TRY(der_get_int_bytes(&c, DER_INTEGER, &v, &e) && (inside(&v, data, len), true));
	TRY(der_get_bool(&c, &b, &e));
	TRY(der_get_null(&c, &e));
	TRY(der_get_oid(&c, &v, &e) && (inside(&v, data, len), der_oid_to_text(&v, text, sizeof(text)), true));
	TRY(der_get_bit_string(&c, DER_BIT_STRING, &v, &unused, &e) && (inside(&v, data, len), true));
	TRY(der_get_named_bits(&c, DER_BIT_STRING, &bits, &e));
	TRY(der_get_bit_string_octets(&c, &v, &e));
	TRY(der_get_time(&c, &t, &e));
	TRY(der_get_generalized_time(&c, DER_GENERALIZED_TIME, &t, &e));
	TRY(der_get_string(&c, &tag, &v, &e) && (inside(&v, data, len), true));
	TRY(der_get_ia5(&c, DER_IA5_STRING, &v, &e));
#undef TRY
}

static void walk(struct der_cur c, const uint8_t *data, size_t len, unsigned depth)
{
	while (!der_cur_empty(&c)) {
		struct der_err e;
		struct der_cur tlv, before = c;
		size_t hl;
		uint8_t tag;
		der_err_init(&e, data);
		if (!der_get_any(&c, &tag, &tlv, &hl, &e)) {
			assert(c.p == before.p && e.reason != DER_OK && e.offset <= len);
			return;
		}
		inside(&tlv, data, len);
		try_getters(tlv, data, len);
		if ((tag & DER_CONSTRUCTED) && depth < DER_MAX_DEPTH) {
			struct der_cur body = {tlv.p + hl, tlv.len - hl};
			walk(body, data, len, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct der_err e;
	struct der_cur c = {data, len};
	der_err_init(&e, data);
	if (!der_validate(data, len, DER_MAX_DEPTH, false, &e))
		assert(e.reason != DER_OK && e.offset <= len);
	walk(c, data, len, 0);
	return 0;
}
