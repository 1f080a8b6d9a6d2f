/*
 * hello.c - the HELLO response parser (the module's view of the token) and the one
 * translation from the enclave's status to CK_RV.
 *
 * The parser is a fuzz target: every field is bounded by a named wire.h maximum before
 * anything is allocated, the result is built in a local and handed over only when the
 * whole body parsed with nothing left over, and every failure frees what it built.
 */
#include "wp11.h"

#include <stdlib.h>
#include <string.h>

/* Attributes the module may add to an object when the enclave left them out. */
#define WP11_SYNTH_ATTRS 4u
#define WP11_ED25519_SIG_LEN 64u
#define WP11_ED448_SIG_LEN 114u
#define WP11_ED25519_BITS 256u /* what SoftHSMv2 reports for CKM_EDDSA */
#define WP11_ED448_BITS 456u

_Static_assert(WIRE_MAX_OBJECTS_PER_KEY == 3, "private, public, certificate");
_Static_assert(sizeof(CK_ULONG) == sizeof(uint64_t), "CK_ULONG carries a wire u64");

CK_RV wp11_rv_from_status(uint32_t status, const char *message)
{
	const char *msg = message != NULL ? message : "";

	switch (status) {
	case WARDEN_OK:
		return CKR_OK;
	case WARDEN_E_DENIED:
		wp11_log(WP11_LOG_WARNING, "the enclave refused the request: %s",
			 msg[0] != '\0' ? msg : "(no reason given)");
		return CKR_FUNCTION_REJECTED;
	case WARDEN_E_PIN_INCORRECT:
		return CKR_PIN_INCORRECT;
	case WARDEN_E_PIN_LOCKED:
		return CKR_PIN_LOCKED;
	case WARDEN_E_PIN_LEN:
		return CKR_PIN_LEN_RANGE;
	case WARDEN_E_NOT_LOGGED_IN:
		return CKR_USER_NOT_LOGGED_IN;
	case WARDEN_E_KEY:
		return CKR_KEY_HANDLE_INVALID;
	case WARDEN_E_MECHANISM:
		return CKR_MECHANISM_INVALID;
	case WARDEN_E_MECH_PARAM:
		return CKR_MECHANISM_PARAM_INVALID;
	case WARDEN_E_DATA_LEN:
		return CKR_DATA_LEN_RANGE;
	case WARDEN_E_DATA_INVALID:
		return CKR_DATA_INVALID;
	case WARDEN_E_NOMEM:
		return CKR_DEVICE_MEMORY;
	case WARDEN_E_USER_TYPE:
		return CKR_USER_TYPE_INVALID;
	default:
		wp11_log(WP11_LOG_ERROR, "enclave error: %s%s%s", wire_status_str(status),
			 msg[0] != '\0' ? ": " : "", msg);
		return CKR_DEVICE_ERROR;
	}
}

int wp11_attr_is_sensitive(CK_OBJECT_CLASS klass, CK_ATTRIBUTE_TYPE type)
{
	if (klass != CKO_PRIVATE_KEY)
		return 0;
	switch (type) {
	case CKA_VALUE:
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		return 1;
	default:
		return 0;
	}
}

const struct wp11_attr *wp11_object_attr(const struct wp11_object *o, CK_ATTRIBUTE_TYPE type)
{
	for (uint32_t i = 0; i < o->num_attrs; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

static void object_free(struct wp11_object *o)
{
	for (uint32_t i = 0; i < o->num_attrs; i++)
		free(o->attrs[i].value);
	free(o->attrs);
	memset(o, 0, sizeof(*o));
}

void wp11_token_free(struct wp11_token *t)
{
	if (t == NULL)
		return;
	/* keys may be NULL with num_keys set: a HELLO rejected before the allocation. */
	for (uint32_t k = 0; t->keys != NULL && k < t->num_keys; k++)
		for (unsigned i = 0; i < WIRE_MAX_OBJECTS_PER_KEY; i++)
			object_free(&t->keys[k].objects[i]);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}

/* Appends an attribute whose value is copied from p (len bytes). */
static int attr_add(struct wp11_object *o, CK_ATTRIBUTE_TYPE type, const void *p, size_t len)
{
	void *v = malloc(len > 0 ? len : 1);
	if (v == NULL)
		return -1;
	if (len > 0)
		memcpy(v, p, len);
	o->attrs[o->num_attrs].type = type;
	o->attrs[o->num_attrs].value = v;
	o->attrs[o->num_attrs].value_len = len;
	o->num_attrs++;
	return 0;
}

static int parse_attr(struct wire_cur *c, struct wp11_object *o)
{
	uint64_t type;
	uint8_t kind;
	CK_ULONG ul;
	CK_BBOOL bb;
	const uint8_t *p;
	size_t n;

	if (wire_get_u64(c, &type) != 0 || wire_get_u8(c, &kind) != 0)
		return -1;
	if (wp11_object_attr(o, type) != NULL || wp11_attr_is_sensitive(o->klass, type))
		return -1;
	switch (kind) {
	case WIRE_AK_BYTES:
		if (wire_get_bytes(c, WIRE_MAX_ATTR_LEN, &p, &n) != 0)
			return -1;
		return attr_add(o, type, p, n);
	case WIRE_AK_BOOL: {
		uint8_t b;
		if (wire_get_u8(c, &b) != 0 || b > 1)
			return -1;
		bb = b ? CK_TRUE : CK_FALSE;
		return attr_add(o, type, &bb, sizeof(bb));
	}
	case WIRE_AK_ULONG: {
		uint64_t v;
		if (wire_get_u64(c, &v) != 0)
			return -1;
		ul = (CK_ULONG)v;
		return attr_add(o, type, &ul, sizeof(ul));
	}
	case WIRE_AK_MECHS: {
		uint32_t num;
		CK_MECHANISM_TYPE mechs[WIRE_MAX_MECHS];
		if (wire_get_u32(c, &num) != 0 || num > WIRE_MAX_MECHS)
			return -1;
		for (uint32_t i = 0; i < num; i++) {
			uint64_t m;
			if (wire_get_u64(c, &m) != 0)
				return -1;
			mechs[i] = (CK_MECHANISM_TYPE)m;
		}
		return attr_add(o, type, mechs, num * sizeof(CK_MECHANISM_TYPE));
	}
	default:
		return -1;
	}
}

static int bool_attr(const struct wp11_object *o, CK_ATTRIBUTE_TYPE type, int *out)
{
	const struct wp11_attr *a = wp11_object_attr(o, type);
	if (a == NULL)
		return 0;
	if (a->value_len != sizeof(CK_BBOOL))
		return -1;
	*out = *(const CK_BBOOL *)a->value != CK_FALSE;
	return 1;
}

/* Adds what the enclave may leave out (CLASS, TOKEN, PRIVATE, and ALLOWED_MECHANISMS on
 * the private key) and checks the ones it sent against the object. */
static int object_complete(struct wp11_object *o, const struct wp11_key *key)
{
	const struct wp11_attr *a = wp11_object_attr(o, CKA_CLASS);
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	int priv = o->klass == CKO_PRIVATE_KEY, tok = 1;

	if (a != NULL) {
		if (a->value_len != sizeof(CK_ULONG) || *(const CK_ULONG *)a->value != o->klass)
			return -1;
	} else if (attr_add(o, CKA_CLASS, &o->klass, sizeof(o->klass)) != 0) {
		return -1;
	}
	switch (bool_attr(o, CKA_TOKEN, &tok)) {
	case 0:
		if (attr_add(o, CKA_TOKEN, &yes, sizeof(yes)) != 0)
			return -1;
		break;
	case 1:
		if (!tok)
			return -1; /* every object HELLO describes is a token object */
		break;
	default:
		return -1;
	}
	switch (bool_attr(o, CKA_PRIVATE, &priv)) {
	case 0:
		if (attr_add(o, CKA_PRIVATE, priv ? &yes : &no, sizeof(yes)) != 0)
			return -1;
		break;
	case 1:
		break;
	default:
		return -1;
	}
	o->is_private = priv;
	if (o->klass == CKO_PRIVATE_KEY && wp11_object_attr(o, CKA_ALLOWED_MECHANISMS) == NULL &&
	    attr_add(o, CKA_ALLOWED_MECHANISMS, key->mechs,
		     key->num_mechs * sizeof(CK_MECHANISM_TYPE)) != 0)
		return -1;
	return 0;
}

static int parse_object(struct wire_cur *c, struct wp11_key *key)
{
	uint64_t klass;
	uint32_t num_attrs;
	struct wp11_object *o;

	if (wire_get_u64(c, &klass) != 0 || wire_get_u32(c, &num_attrs) != 0 ||
	    num_attrs > WIRE_MAX_ATTRS)
		return -1;
	switch (klass) {
	case CKO_PRIVATE_KEY:
		o = &key->objects[WP11_OBJ_PRIVATE];
		break;
	case CKO_PUBLIC_KEY:
		o = &key->objects[WP11_OBJ_PUBLIC];
		break;
	case CKO_CERTIFICATE:
		o = &key->objects[WP11_OBJ_CERT];
		break;
	default:
		return -1;
	}
	if (o->present)
		return -1;
	o->present = 1;
	o->klass = klass;
	o->attrs = calloc(num_attrs + WP11_SYNTH_ATTRS, sizeof(*o->attrs));
	if (o->attrs == NULL)
		return -1;
	for (uint32_t i = 0; i < num_attrs; i++)
		if (parse_attr(c, o) != 0)
			return -1;
	return object_complete(o, key);
}

static CK_ULONG key_bits(const struct wp11_key *key)
{
	switch (key->key_type) {
	case CKK_RSA:
		for (unsigned i = 0; i < 2; i++) {
			const struct wp11_attr *m = wp11_object_attr(&key->objects[i], CKA_MODULUS);
			if (m == NULL || m->value_len == 0)
				continue;
			const uint8_t *p = m->value;
			size_t n = m->value_len;
			while (n > 0 && *p == 0) {
				p++;
				n--;
			}
			CK_ULONG bits = n * 8;
			for (uint8_t top = n > 0 ? p[0] : 0x80; !(top & 0x80); top <<= 1)
				bits--;
			return bits;
		}
		return (CK_ULONG)key->sig_len * 8;
	case CKK_EC:
		return (CK_ULONG)key->sig_len * 4;
	default: /* CKK_EC_EDWARDS */
		if (key->sig_len == WP11_ED25519_SIG_LEN)
			return WP11_ED25519_BITS;
		if (key->sig_len == WP11_ED448_SIG_LEN)
			return WP11_ED448_BITS;
		return (CK_ULONG)key->sig_len * 4;
	}
}

static int parse_key(struct wire_cur *c, struct wp11_key *key)
{
	uint64_t key_type;
	uint32_t num_objects;

	if (wire_get_u32(c, &key->key_id) != 0 || wire_get_u64(c, &key_type) != 0 ||
	    wire_get_u32(c, &key->key_flags) != 0 || wire_get_u32(c, &key->sig_len) != 0 ||
	    wire_get_u32(c, &key->num_mechs) != 0)
		return -1;
	if (key_type != CKK_RSA && key_type != CKK_EC && key_type != CKK_EC_EDWARDS)
		return -1;
	key->key_type = key_type;
	if (key->sig_len == 0 || key->sig_len > WIRE_MAX_SIG || key->num_mechs > WIRE_MAX_MECHS)
		return -1;
	for (uint32_t i = 0; i < key->num_mechs; i++) {
		uint64_t m;
		if (wire_get_u64(c, &m) != 0)
			return -1;
		key->mechs[i] = m;
	}
	if (wire_get_u32(c, &num_objects) != 0 || num_objects > WIRE_MAX_OBJECTS_PER_KEY)
		return -1;
	for (uint32_t i = 0; i < num_objects; i++)
		if (parse_object(c, key) != 0)
			return -1;
	/* A key the module cannot sign with is of no use: the private key must be there. */
	if (!key->objects[WP11_OBJ_PRIVATE].present)
		return -1;
	key->key_bits = key_bits(key);
	return 0;
}

static int get_token_str(struct wire_cur *c, char *dst)
{
	char tmp[WIRE_MAX_STR + 1];
	if (wire_get_str(c, tmp, sizeof(tmp)) != 0)
		return -1;
	size_t n = strnlen(tmp, WP11_TOKEN_STR_MAX);
	memcpy(dst, tmp, n);
	dst[n] = '\0';
	return 0;
}

int wp11_hello_parse(const uint8_t *body, size_t len, struct wp11_token *out)
{
	struct wire_cur c = {body, len};
	struct wp11_token t;
	uint32_t status;
	char message[WIRE_MAX_STR + 1];
	int rv = WARDEN_E_PROTOCOL;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	if (body == NULL && len != 0)
		goto out;
	if (wire_get_u32(&c, &status) != 0 || wire_get_str(&c, message, sizeof(message)) != 0)
		goto out;
	if (status != WARDEN_OK) {
		rv = (int)status;
		goto out;
	}
	if (wire_get_u64(&c, &t.boot_id) != 0 || get_token_str(&c, t.label) != 0 ||
	    get_token_str(&c, t.manufacturer) != 0 || get_token_str(&c, t.model) != 0 ||
	    get_token_str(&c, t.serial) != 0 || wire_get_u32(&c, &t.token_flags) != 0 ||
	    wire_get_u32(&c, &t.min_pin) != 0 || wire_get_u32(&c, &t.max_pin) != 0 ||
	    wire_get_u64(&c, &t.max_data) != 0 || wire_get_u32(&c, &t.num_keys) != 0)
		goto out;
	if (t.min_pin > t.max_pin || t.max_pin > WIRE_MAX_PIN || t.max_data == 0 ||
	    t.max_data > WIRE_MAX_DATA || t.num_keys > WIRE_MAX_KEYS)
		goto out;
	/* Every key takes more than 20 bytes; refuse a count the body cannot hold before
	 * allocating for it. */
	if (t.num_keys > c.len / 20)
		goto out;
	t.keys = calloc(t.num_keys > 0 ? t.num_keys : 1, sizeof(*t.keys));
	if (t.keys == NULL) {
		rv = WARDEN_E_NOMEM;
		goto out;
	}
	uint32_t want = t.num_keys;
	for (t.num_keys = 0; t.num_keys < want;) {
		/* Counted before parsing so that a half-parsed key is freed too. */
		struct wp11_key *key = &t.keys[t.num_keys++];
		if (parse_key(&c, key) != 0)
			goto out;
		for (uint32_t j = 0; j + 1 < t.num_keys; j++)
			if (t.keys[j].key_id == key->key_id)
				goto out;
	}
	if (!wire_cur_done(&c))
		goto out;
	*out = t;
	memset(&t, 0, sizeof(t));
	rv = WARDEN_OK;
out:
	wp11_token_free(&t);
	return rv;
}
