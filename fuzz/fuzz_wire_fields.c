/*
 * fuzz_wire_fields - libFuzzer target for the field primitives (wire_get_* on a cursor),
 * the building blocks of every message parser on both sides.
 *
 * Input: u8 n, then n op bytes (n <= MAX_OPS), then the body the ops walk.  Each op reads
 * one field (u8, u32, u64, bytes with a bound, str into a buffer of a chosen size) or
 * checks wire_cur_done.  Oracles:
 *   - an independent restatement of each field rule must agree on success or failure;
 *   - a failed get leaves the cursor unchanged and its output zeroed;
 *   - a successful get advances the cursor by exactly the field's length, and what it
 *     read, re-encoded with the matching wire_put_*, reproduces the bytes consumed.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 64u
#define NUM_OP_KINDS 6u

/* Bounds a bytes op may pass, and output sizes a str op may use. */
static const size_t bytes_max[] = {0, 1, 4, WIRE_TICKET_LEN, WIRE_MAX_STR, WIRE_MAX_ATTR_LEN,
				   WIRE_MAX_DATA, SIZE_MAX};
static const size_t str_size[] = {0, 1, 2, 8, 33, 64, WIRE_MAX_STR + 1, 2 * WIRE_MAX_STR};
#define NUM_BYTES_MAX (sizeof(bytes_max) / sizeof(bytes_max[0]))
#define NUM_STR_SIZE (sizeof(str_size) / sizeof(str_size[0]))

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check(int cond)
{
	if (!cond)
		abort();
}

/* The cursor did not move, or moved by exactly n. */
static void check_moved(const struct wire_cur *before, const struct wire_cur *after, size_t n)
{
	check(after->p == before->p + n && after->len == before->len - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t num_ops = data[0] % (MAX_OPS + 1);
	if (size < 1 + num_ops)
		return 0;
	const uint8_t *ops = data + 1;
	size_t body_len = size - 1 - num_ops;
	uint8_t *body = malloc(body_len ? body_len : 1); /* exact size: ASan sees overreads */
	static char str[2 * WIRE_MAX_STR];
	if (body == NULL)
		return 0;
	memcpy(body, data + 1 + num_ops, body_len);

	struct wire_cur c = {body, body_len};
	struct wire_buf re;
	wire_buf_init(&re);
	for (size_t i = 0; i < num_ops; i++) {
		struct wire_cur before = c;
		unsigned kind = ops[i] % NUM_OP_KINDS;
		unsigned arg = ops[i] / NUM_OP_KINDS;
		switch (kind) {
		case 0: {
			uint8_t v = 0xa5;
			int ok = wire_get_u8(&c, &v) == 0;
			check(ok == (before.len >= 1));
			if (!ok) {
				check(v == 0);
				check_moved(&before, &c, 0);
				break;
			}
			check(v == before.p[0]);
			check_moved(&before, &c, 1);
			wire_put_u8(&re, v);
			break;
		}
		case 1: {
			uint32_t v = 0xa5a5a5a5u;
			int ok = wire_get_u32(&c, &v) == 0;
			check(ok == (before.len >= 4));
			if (!ok) {
				check(v == 0);
				check_moved(&before, &c, 0);
				break;
			}
			check(v == be32(before.p));
			check_moved(&before, &c, 4);
			wire_put_u32(&re, v);
			break;
		}
		case 2: {
			uint64_t v = 0xa5a5a5a5a5a5a5a5ull;
			int ok = wire_get_u64(&c, &v) == 0;
			check(ok == (before.len >= 8));
			if (!ok) {
				check(v == 0);
				check_moved(&before, &c, 0);
				break;
			}
			check(v == ((uint64_t)be32(before.p) << 32 | be32(before.p + 4)));
			check_moved(&before, &c, 8);
			wire_put_u64(&re, v);
			break;
		}
		case 3: {
			size_t max = bytes_max[arg % NUM_BYTES_MAX];
			const uint8_t *p = body;
			size_t n = 1;
			int ok = wire_get_bytes(&c, max, &p, &n) == 0;
			int want = before.len >= 4 && be32(before.p) <= max &&
				   be32(before.p) <= before.len - 4;
			check(ok == want);
			if (!ok) {
				check(p == NULL && n == 0);
				check_moved(&before, &c, 0);
				break;
			}
			check(n == be32(before.p) && p == before.p + 4);
			check_moved(&before, &c, 4 + n);
			wire_put_bytes(&re, p, n);
			break;
		}
		case 4: {
			size_t out_size = str_size[arg % NUM_STR_SIZE];
			memset(str, 'Z', sizeof(str));
			int ok = wire_get_str(&c, str, out_size) == 0;
			size_t limit = out_size == 0 ? 0 : out_size - 1;
			if (limit > WIRE_MAX_STR)
				limit = WIRE_MAX_STR;
			int want = out_size > 0 && before.len >= 4 && be32(before.p) <= limit &&
				   be32(before.p) <= before.len - 4 &&
				   memchr(before.p + 4, '\0', be32(before.p)) == NULL;
			check(ok == want);
			if (!ok) {
				check(out_size == 0 ? str[0] == 'Z' : str[0] == '\0');
				check_moved(&before, &c, 0);
				break;
			}
			size_t n = be32(before.p);
			check(strlen(str) == n && memcmp(str, before.p + 4, n) == 0);
			check_moved(&before, &c, 4 + n);
			wire_put_str(&re, str);
			break;
		}
		default:
			check(wire_cur_done(&c) == (c.len == 0));
			break;
		}
	}
	/* Everything consumed, re-encoded, is the consumed prefix of the body. */
	size_t consumed = body_len - c.len;
	check(c.p == body + consumed);
	check(!re.failed && re.len == consumed);
	if (consumed > 0)
		check(memcmp(re.data, body, consumed) == 0);
	wire_buf_free(&re);
	free(body);
	return 0;
}
