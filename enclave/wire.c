/*
 * wire.c - frame and field codec shared by the module and the enclave.
 * See wire.h for the contract and docs/protocol.md for the reference.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
	[WARDEN_OK] = "ok",
	[WARDEN_E_PROTOCOL] = "protocol error",
	[WARDEN_E_INTERNAL] = "internal error in the enclave",
	[WARDEN_E_NOMEM] = "out of memory",
	[WARDEN_E_DENIED] = "refused by policy",
	[WARDEN_E_PIN_INCORRECT] = "PIN incorrect",
	[WARDEN_E_PIN_LOCKED] = "PIN locked",
	[WARDEN_E_PIN_LEN] = "PIN length out of range",
	[WARDEN_E_NOT_LOGGED_IN] = "not logged in",
	[WARDEN_E_KEY] = "unknown key",
	[WARDEN_E_MECHANISM] = "mechanism not allowed for this key",
	[WARDEN_E_MECH_PARAM] = "mechanism parameters invalid",
	[WARDEN_E_DATA_LEN] = "data length out of range",
	[WARDEN_E_DATA_INVALID] = "data invalid for this mechanism",
	[WARDEN_E_BACKEND] = "key backend failed",
	[WARDEN_E_AUDIT] = "audit record could not be written",
	[WARDEN_E_BUSY] = "enclave busy",
	[WARDEN_E_USER_TYPE] = "user type not supported",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == WARDEN_E_STATUS_MAX + 1,
	       "every status has a name");

const char *wire_status_str(uint32_t status)
{
	if (status > WARDEN_E_STATUS_MAX)
		return "unknown status";
	return status_names[status];
}

/* --- encoding ---------------------------------------------------------------- */

void wire_buf_init(struct wire_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void wire_buf_free(struct wire_buf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

static uint8_t *buf_reserve(struct wire_buf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (n > WIRE_MAX_BODY + WIRE_HEADER_LEN - b->len) {
		b->failed = 1;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		/* Grow by copy so that nothing secret is left behind by realloc. */
		uint8_t *p = malloc(cap);
		if (p == NULL) {
			b->failed = 1;
			return NULL;
		}
		if (b->data != NULL) {
			memcpy(p, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = p;
		b->cap = cap;
	}
	uint8_t *out = b->data + b->len;
	b->len += n;
	return out;
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void wire_frame_begin(struct wire_buf *b, uint8_t type)
{
	b->len = 0;
	uint8_t *h = buf_reserve(b, WIRE_HEADER_LEN);
	if (h == NULL)
		return;
	be32_put(h, 0);
	h[4] = WIRE_VERSION;
	h[5] = type;
	h[6] = 0;
	h[7] = 0;
}

int wire_frame_end(struct wire_buf *b)
{
	if (b->failed || b->len < WIRE_HEADER_LEN)
		return -1;
	size_t body = b->len - WIRE_HEADER_LEN;
	if (body > WIRE_MAX_BODY)
		return -1;
	be32_put(b->data, (uint32_t)body);
	return 0;
}

void wire_put_u8(struct wire_buf *b, uint8_t v)
{
	uint8_t *p = buf_reserve(b, 1);
	if (p != NULL)
		*p = v;
}

void wire_put_u32(struct wire_buf *b, uint32_t v)
{
	uint8_t *p = buf_reserve(b, 4);
	if (p != NULL)
		be32_put(p, v);
}

void wire_put_u64(struct wire_buf *b, uint64_t v)
{
	uint8_t *p = buf_reserve(b, 8);
	if (p != NULL) {
		be32_put(p, (uint32_t)(v >> 32));
		be32_put(p + 4, (uint32_t)v);
	}
}

void wire_put_bytes(struct wire_buf *b, const void *data, size_t len)
{
	if (len > WIRE_MAX_BODY) {
		b->failed = 1;
		return;
	}
	wire_put_u32(b, (uint32_t)len);
	if (len == 0)
		return;
	uint8_t *p = buf_reserve(b, len);
	if (p != NULL)
		memcpy(p, data, len);
}

void wire_put_str(struct wire_buf *b, const char *s)
{
	size_t len = s != NULL ? strnlen(s, WIRE_MAX_STR + 1) : 0;
	if (len > WIRE_MAX_STR)
		len = WIRE_MAX_STR; /* messages are truncated, never refused */
	wire_put_bytes(b, s, len);
}

/* --- decoding ---------------------------------------------------------------- */

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int wire_header_parse(const uint8_t hdr[WIRE_HEADER_LEN], struct wire_header *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t len = be32_get(hdr);
	uint8_t type = hdr[5] & (uint8_t)~WIRE_RESPONSE;
	if (hdr[4] != WIRE_VERSION || hdr[6] != 0 || hdr[7] != 0)
		return WARDEN_E_PROTOCOL;
	if (type < WIRE_HELLO || type > WIRE_TYPE_MAX)
		return WARDEN_E_PROTOCOL;
	if (len > WIRE_MAX_BODY)
		return WARDEN_E_PROTOCOL;
	out->body_len = len;
	out->version = hdr[4];
	out->type = hdr[5];
	return WARDEN_OK;
}

int wire_get_u8(struct wire_cur *c, uint8_t *out)
{
	*out = 0;
	if (c->len < 1)
		return -1;
	*out = c->p[0];
	c->p++;
	c->len--;
	return 0;
}

int wire_get_u32(struct wire_cur *c, uint32_t *out)
{
	*out = 0;
	if (c->len < 4)
		return -1;
	*out = be32_get(c->p);
	c->p += 4;
	c->len -= 4;
	return 0;
}

int wire_get_u64(struct wire_cur *c, uint64_t *out)
{
	*out = 0;
	if (c->len < 8)
		return -1;
	*out = (uint64_t)be32_get(c->p) << 32 | be32_get(c->p + 4);
	c->p += 8;
	c->len -= 8;
	return 0;
}

int wire_get_bytes(struct wire_cur *c, size_t max, const uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (c->len < 4)
		return -1;
	uint32_t n = be32_get(c->p);
	if (n > max || n > c->len - 4)
		return -1;
	*out = c->p + 4;
	*out_len = n;
	c->p += 4 + (size_t)n;
	c->len -= 4 + (size_t)n;
	return 0;
}

int wire_get_str(struct wire_cur *c, char *out, size_t out_size)
{
	if (out_size == 0)
		return -1;
	out[0] = '\0';
	struct wire_cur save = *c;
	const uint8_t *p;
	size_t n;
	size_t max = out_size - 1 < WIRE_MAX_STR ? out_size - 1 : WIRE_MAX_STR;
	if (wire_get_bytes(c, max, &p, &n) != 0)
		return -1;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		*c = save;
		return -1;
	}
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int wire_cur_done(const struct wire_cur *c)
{
	return c->len == 0;
}

/* --- SIGN request -------------------------------------------------------------- */

int wire_enc_sign_req(struct wire_buf *b, const struct wire_sign_req *r)
{
	/* Never build a frame that wire_dec_sign_req would reject. */
	if (r->data_len > WIRE_MAX_DATA ||
	    (r->param_kind != WIRE_PK_NONE && r->param_kind != WIRE_PK_PSS))
		return -1;
	wire_frame_begin(b, WIRE_SIGN);
	wire_put_bytes(b, r->ticket, WIRE_TICKET_LEN);
	wire_put_u32(b, r->key_id);
	wire_put_u64(b, r->mechanism);
	wire_put_u8(b, r->param_kind);
	if (r->param_kind == WIRE_PK_PSS) {
		wire_put_u64(b, r->pss_hash_alg);
		wire_put_u64(b, r->pss_mgf);
		wire_put_u64(b, r->pss_salt_len);
	}
	wire_put_bytes(b, r->data, r->data_len);
	return wire_frame_end(b);
}

int wire_dec_sign_req(const uint8_t *body, size_t len, struct wire_sign_req *out)
{
	struct wire_cur c = {body, len};
	const uint8_t *ticket;
	size_t ticket_len;

	memset(out, 0, sizeof(*out));
	if (wire_get_bytes(&c, WIRE_TICKET_LEN, &ticket, &ticket_len) != 0 ||
	    wire_get_u32(&c, &out->key_id) != 0 || wire_get_u64(&c, &out->mechanism) != 0 ||
	    wire_get_u8(&c, &out->param_kind) != 0)
		goto bad;
	/* An empty ticket is allowed on the wire (the enclave answers NOT_LOGGED_IN);
	 * any other length is malformed. */
	if (ticket_len != 0 && ticket_len != WIRE_TICKET_LEN)
		goto bad;
	if (ticket_len != 0)
		memcpy(out->ticket, ticket, WIRE_TICKET_LEN);
	switch (out->param_kind) {
	case WIRE_PK_NONE:
		break;
	case WIRE_PK_PSS:
		if (wire_get_u64(&c, &out->pss_hash_alg) != 0 ||
		    wire_get_u64(&c, &out->pss_mgf) != 0 || wire_get_u64(&c, &out->pss_salt_len) != 0)
			goto bad;
		break;
	default:
		goto bad;
	}
	if (wire_get_bytes(&c, WIRE_MAX_DATA, &out->data, &out->data_len) != 0 ||
	    !wire_cur_done(&c))
		goto bad;
	return WARDEN_OK;
bad:
	explicit_bzero(out, sizeof(*out));
	return WARDEN_E_PROTOCOL;
}
