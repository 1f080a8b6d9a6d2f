/*
 * make-corpus.c - writes the seed corpora in fuzz/corpus/<target>/ with the real
 * encoders of enclave/wire.c, so the seeds follow the format as the code defines it.
 *
 * usage: make-corpus DIR        (`make fuzz-corpus` runs it on fuzz/corpus)
 * Each seed is a small named file; rerunning overwrites them with identical bytes.
 */
#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_MAX_LEN 4096
/* fuzz_wire_fields op codes: op % 6 is the kind, op / 6 the argument (see the target). */
#define OP_U8 0u
#define OP_U32 1u
#define OP_U64 2u
#define OP_BYTES(i) (3u + 6u * (i)) /* i indexes bytes_max[] in the target */
#define OP_STR(i) (4u + 6u * (i))   /* i indexes str_size[] in the target */
#define OP_DONE 5u
#define BYTES_MAX_TICKET 3u /* bytes_max[3] == WIRE_TICKET_LEN */
#define BYTES_MAX_ATTR 5u   /* bytes_max[5] == WIRE_MAX_ATTR_LEN */
#define STR_SIZE_MAX 6u     /* str_size[6] == WIRE_MAX_STR + 1 */

/* PKCS#11 constants used in the seeds (pkcs11t.h values). */
#define CKM_SHA256_RSA_PKCS 0x40u
#define CKM_SHA256_RSA_PKCS_PSS 0x43u
#define CKM_ECDSA_SHA384 0x1045u
#define CKM_EDDSA 0x1057u
#define CKM_SHA256 0x250u
#define CKG_MGF1_SHA256 0x2u
#define CKO_CERTIFICATE 1u
#define CKO_PUBLIC_KEY 2u
#define CKO_PRIVATE_KEY 3u
#define CKK_RSA 0u
#define CKK_EC 3u
#define CKA_CLASS 0x0u
#define CKA_TOKEN 0x1u
#define CKA_PRIVATE 0x2u
#define CKA_LABEL 0x3u
#define CKA_KEY_TYPE 0x100u
#define CKA_ID 0x102u
#define CKA_SIGN 0x108u
#define CKA_MODULUS 0x120u
#define CKA_EC_PARAMS 0x180u
#define CKA_ALLOWED_MECHANISMS 0x40000600u

static const char *out_dir;
static int failures;

static void write_seed(const char *target, const char *name, const uint8_t *p, size_t len)
{
	char path[PATH_MAX_LEN];
	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		failures++;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || (len > 0 && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		failures++;
	}
}

/* The body of a finished frame in b, as a seed. */
static void write_body(const char *target, const char *name, struct wire_buf *b)
{
	if (wire_frame_end(b) != 0) {
		fprintf(stderr, "%s/%s: encoding failed\n", target, name);
		failures++;
		return;
	}
	write_seed(target, name, b->data + WIRE_HEADER_LEN, b->len - WIRE_HEADER_LEN);
}

static void seed_headers(void)
{
	/* One real header per type and direction, and one at the body bound. */
	struct wire_buf all;
	wire_buf_init(&all);
	for (unsigned t = WIRE_HELLO; t <= WIRE_TYPE_MAX; t++) {
		for (unsigned dir = 0; dir <= WIRE_RESPONSE; dir += WIRE_RESPONSE) {
			struct wire_buf b;
			wire_buf_init(&b);
			wire_frame_begin(&b, (uint8_t)(t | dir));
			wire_put_u32(&b, t);
			if (wire_frame_end(&b) == 0) {
				char name[32];
				snprintf(name, sizeof(name), "type-%u%s", t, dir ? "-resp" : "");
				write_seed("fuzz_wire_header", name, b.data, WIRE_HEADER_LEN);
				for (unsigned i = 0; i < WIRE_HEADER_LEN; i++)
					wire_put_u8(&all, b.data[i]);
			} else {
				failures++;
			}
			wire_buf_free(&b);
		}
	}
	if (all.failed)
		failures++;
	else
		write_seed("fuzz_wire_header", "all-types", all.data, all.len);
	wire_buf_free(&all);

	uint8_t h[WIRE_HEADER_LEN] = {0, 0, 0, 0, WIRE_VERSION, WIRE_SIGN, 0, 0};
	uint32_t max = WIRE_MAX_BODY;
	h[0] = (uint8_t)(max >> 24);
	h[1] = (uint8_t)(max >> 16);
	h[2] = (uint8_t)(max >> 8);
	h[3] = (uint8_t)max;
	write_seed("fuzz_wire_header", "max-body", h, sizeof(h));
}

static void seed_sign(void)
{
	static const uint8_t tbs[] = {0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01, 0xa0, 0x03};
	struct wire_sign_req r;
	struct wire_buf b;

	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < WIRE_TICKET_LEN; i++)
		r.ticket[i] = (uint8_t)(0x40 + i);
	r.key_id = 1;
	r.mechanism = CKM_SHA256_RSA_PKCS;
	r.param_kind = WIRE_PK_NONE;
	r.data = tbs;
	r.data_len = sizeof(tbs);
	wire_buf_init(&b);
	if (wire_enc_sign_req(&b, &r) != 0)
		failures++;
	else
		write_seed("fuzz_wire_sign", "rsa-pkcs1", b.data + WIRE_HEADER_LEN,
			   b.len - WIRE_HEADER_LEN);

	r.mechanism = CKM_SHA256_RSA_PKCS_PSS;
	r.param_kind = WIRE_PK_PSS;
	r.pss_hash_alg = CKM_SHA256;
	r.pss_mgf = CKG_MGF1_SHA256;
	r.pss_salt_len = 32;
	if (wire_enc_sign_req(&b, &r) != 0)
		failures++;
	else
		write_seed("fuzz_wire_sign", "rsa-pss", b.data + WIRE_HEADER_LEN,
			   b.len - WIRE_HEADER_LEN);

	memset(&r, 0, sizeof(r));
	r.key_id = 2;
	r.mechanism = CKM_EDDSA;
	if (wire_enc_sign_req(&b, &r) != 0)
		failures++;
	else
		write_seed("fuzz_wire_sign", "eddsa-empty-data", b.data + WIRE_HEADER_LEN,
			   b.len - WIRE_HEADER_LEN);

	/* An empty ticket: the form a module with no login may send. */
	wire_frame_begin(&b, WIRE_SIGN);
	wire_put_bytes(&b, NULL, 0);
	wire_put_u32(&b, 3);
	wire_put_u64(&b, CKM_ECDSA_SHA384);
	wire_put_u8(&b, WIRE_PK_NONE);
	wire_put_bytes(&b, tbs, sizeof(tbs));
	write_body("fuzz_wire_sign", "empty-ticket", &b);
	wire_buf_free(&b);
}

/* A fields seed: the op program, then the body the puts built. */
static void write_fields(const char *name, const uint8_t *ops, size_t num_ops, struct wire_buf *body)
{
	struct wire_buf s;
	wire_buf_init(&s);
	wire_put_u8(&s, (uint8_t)num_ops);
	for (size_t i = 0; i < num_ops; i++)
		wire_put_u8(&s, ops[i]);
	for (size_t i = 0; i < body->len; i++)
		wire_put_u8(&s, body->data[i]);
	if (s.failed || body->failed)
		failures++;
	else
		write_seed("fuzz_wire_fields", name, s.data, s.len);
	wire_buf_free(&s);
}

static void seed_fields(void)
{
	struct wire_buf b;
	wire_buf_init(&b);

	/* A failed LOGIN response: u32 status, str message, u32 token_flags, bytes ticket. */
	wire_put_u32(&b, WARDEN_E_PIN_INCORRECT);
	wire_put_str(&b, wire_status_str(WARDEN_E_PIN_INCORRECT));
	wire_put_u32(&b, WIRE_TF_PIN_COUNT_LOW);
	wire_put_bytes(&b, NULL, 0);
	static const uint8_t login_ops[] = {OP_U32, OP_STR(STR_SIZE_MAX), OP_U32,
					    OP_BYTES(BYTES_MAX_TICKET), OP_DONE};
	write_fields("login-response", login_ops, sizeof(login_ops), &b);
	wire_buf_free(&b);

	/* One HELLO key record: key, then an object with a few attributes. */
	wire_buf_init(&b);
	static const uint8_t modulus[] = {0xc3, 0x5a, 0x01, 0x77};
	wire_put_u32(&b, 0);                        /* key_id */
	wire_put_u64(&b, CKK_RSA);                  /* key_type */
	wire_put_u32(&b, 0);                        /* key_flags */
	wire_put_u32(&b, 256);                      /* sig_len */
	wire_put_u32(&b, 1);                        /* num_mechs */
	wire_put_u64(&b, CKM_SHA256_RSA_PKCS);
	wire_put_u32(&b, 1);                        /* num_objects */
	wire_put_u64(&b, CKO_PRIVATE_KEY);          /* class */
	wire_put_u32(&b, 2);                        /* num_attrs */
	wire_put_u64(&b, CKA_SIGN);
	wire_put_u8(&b, WIRE_AK_BOOL);
	wire_put_u8(&b, 1);
	wire_put_u64(&b, CKA_MODULUS);
	wire_put_u8(&b, WIRE_AK_BYTES);
	wire_put_bytes(&b, modulus, sizeof(modulus));
	static const uint8_t key_ops[] = {
		OP_U32, OP_U64, OP_U32, OP_U32, OP_U32, OP_U64, OP_U32, OP_U64, OP_U32,
		OP_U64, OP_U8,  OP_U8,  OP_U64, OP_U8,  OP_BYTES(BYTES_MAX_ATTR), OP_DONE,
	};
	write_fields("hello-key", key_ops, sizeof(key_ops), &b);
	wire_buf_free(&b);

	/* A string with an embedded NUL, read as str (rejected) then as bytes. */
	wire_buf_init(&b);
	wire_put_bytes(&b, "a\0b", 3);
	static const uint8_t nul_ops[] = {OP_STR(STR_SIZE_MAX), OP_BYTES(BYTES_MAX_TICKET),
					  OP_DONE};
	write_fields("str-nul", nul_ops, sizeof(nul_ops), &b);
	wire_buf_free(&b);
}

/*
 * HELLO response bodies for fuzz_module_hello (the module's wp11_hello_parse): one
 * RSA key with its three objects, one EC key with prehashed mechanisms allowed.
 */
static void put_attr_bool(struct wire_buf *b, uint64_t type, uint8_t v)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_BOOL);
	wire_put_u8(b, v);
}

static void put_attr_ulong(struct wire_buf *b, uint64_t type, uint64_t v)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_ULONG);
	wire_put_u64(b, v);
}

static void put_attr_bytes(struct wire_buf *b, uint64_t type, const void *p, size_t len)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_BYTES);
	wire_put_bytes(b, p, len);
}

static void put_key(struct wire_buf *b, uint32_t key_id, uint64_t key_type, uint32_t flags,
		    uint32_t sig_len, const uint64_t *mechs, uint32_t num_mechs, int with_cert)
{
	static const uint8_t id[] = {0x01, 0x02, 0x03, 0x04};
	static const uint8_t ec_params_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
	static const uint8_t modulus[] = {0xb1, 0x7e, 0x55, 0x01};
	static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};

	wire_put_u32(b, key_id);
	wire_put_u64(b, key_type);
	wire_put_u32(b, flags);
	wire_put_u32(b, sig_len);
	wire_put_u32(b, num_mechs);
	for (uint32_t i = 0; i < num_mechs; i++)
		wire_put_u64(b, mechs[i]);
	wire_put_u32(b, with_cert ? 3 : 2);

	wire_put_u64(b, CKO_PRIVATE_KEY);
	wire_put_u32(b, 7);
	put_attr_ulong(b, CKA_CLASS, CKO_PRIVATE_KEY);
	put_attr_ulong(b, CKA_KEY_TYPE, key_type);
	put_attr_bytes(b, CKA_ID, id, sizeof(id));
	put_attr_bytes(b, CKA_LABEL, "ca", 2);
	put_attr_bool(b, CKA_PRIVATE, 1);
	put_attr_bool(b, CKA_SIGN, 1);
	wire_put_u64(b, CKA_ALLOWED_MECHANISMS);
	wire_put_u8(b, WIRE_AK_MECHS);
	wire_put_u32(b, num_mechs);
	for (uint32_t i = 0; i < num_mechs; i++)
		wire_put_u64(b, mechs[i]);

	wire_put_u64(b, CKO_PUBLIC_KEY);
	wire_put_u32(b, 4);
	put_attr_ulong(b, CKA_CLASS, CKO_PUBLIC_KEY);
	put_attr_bytes(b, CKA_ID, id, sizeof(id));
	put_attr_bool(b, CKA_TOKEN, 1);
	if (key_type == CKK_RSA)
		put_attr_bytes(b, CKA_MODULUS, modulus, sizeof(modulus));
	else
		put_attr_bytes(b, CKA_EC_PARAMS, ec_params_p384, sizeof(ec_params_p384));

	if (with_cert) {
		wire_put_u64(b, CKO_CERTIFICATE);
		wire_put_u32(b, 2);
		put_attr_ulong(b, CKA_CLASS, CKO_CERTIFICATE);
		put_attr_bytes(b, 0x11 /* CKA_VALUE */, cert, sizeof(cert));
	}
}

static void put_hello_head(struct wire_buf *b, uint32_t num_keys)
{
	wire_frame_begin(b, WIRE_HELLO | WIRE_RESPONSE);
	wire_put_u32(b, WARDEN_OK);
	wire_put_str(b, "");
	wire_put_u64(b, 0x1122334455667788ull); /* boot_id */
	wire_put_str(b, "warden");
	wire_put_str(b, "Warden");
	wire_put_str(b, "enclave");
	wire_put_str(b, "0000000000000001");
	wire_put_u32(b, 0);        /* token_flags */
	wire_put_u32(b, 4);        /* min_pin */
	wire_put_u32(b, WIRE_MAX_PIN);
	wire_put_u64(b, 16u << 20); /* max_data */
	wire_put_u32(b, num_keys);
}

static void seed_hello(void)
{
	static const uint64_t rsa_mechs[] = {CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS};
	static const uint64_t ec_mechs[] = {CKM_ECDSA_SHA384, 0x1041 /* CKM_ECDSA */};
	struct wire_buf b;
	wire_buf_init(&b);

	put_hello_head(&b, 1);
	put_key(&b, 0, CKK_RSA, 0, 256, rsa_mechs, 2, 1);
	write_body("fuzz_module_hello", "rsa-with-cert", &b);

	put_hello_head(&b, 2);
	put_key(&b, 0, CKK_RSA, 0, 384, rsa_mechs, 2, 0);
	put_key(&b, 1, CKK_EC, WIRE_KF_PREHASHED, 96, ec_mechs, 2, 1);
	write_body("fuzz_module_hello", "rsa-and-ec-prehashed", &b);

	wire_frame_begin(&b, WIRE_HELLO | WIRE_RESPONSE);
	wire_put_u32(&b, WARDEN_E_BUSY);
	wire_put_str(&b, "too many clients");
	write_body("fuzz_module_hello", "busy", &b);
	wire_buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	seed_headers();
	seed_sign();
	seed_fields();
	seed_hello();
	if (failures != 0) {
		fprintf(stderr, "make-corpus: %d seed(s) failed\n", failures);
		return 1;
	}
	return 0;
}
