/*
 * pb_opts.c - p11bench's command line, its mechanism and hash tables, and the data it signs.
 */
#include "p11bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const struct pb_hash pb_hashes[PB_NUM_PREHASH] = {
	[PB_PREHASH_NONE] = { "none", NULL, 0, { 0 }, 0 },
	[PB_PREHASH_SHA256] = { "sha256", "SHA256", 32,
				{ 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 }, 19 },
	[PB_PREHASH_SHA384] = { "sha384", "SHA384", 48,
				{ 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 }, 19 },
	[PB_PREHASH_SHA512] = { "sha512", "SHA512", 64,
				{ 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 }, 19 },
};

const struct pb_mech pb_mechs[] = {
	{ "CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA384_RSA_PKCS", CKM_SHA384_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA512_RSA_PKCS", CKM_SHA512_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA256_RSA_PKCS_PSS", CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32 },
	{ "CKM_SHA384_RSA_PKCS_PSS", CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48 },
	{ "CKM_SHA512_RSA_PKCS_PSS", CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64 },
	{ "CKM_ECDSA_SHA256", CKM_ECDSA_SHA256, 0, 0, 0 },
	{ "CKM_ECDSA_SHA384", CKM_ECDSA_SHA384, 0, 0, 0 },
	{ "CKM_ECDSA_SHA512", CKM_ECDSA_SHA512, 0, 0, 0 },
	{ "CKM_EDDSA", CKM_EDDSA, 0, 0, 0 },
	{ "CKM_RSA_PKCS", CKM_RSA_PKCS, 0, 0, 0 },
	{ "CKM_ECDSA", CKM_ECDSA, 0, 0, 0 },
};

_Static_assert(sizeof(pb_mechs) / sizeof(pb_mechs[0]) == PB_NUM_MECHS, "mechanism count");

const char *pb_rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "CKR_OK";
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
	case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
	case CKR_FUNCTION_REJECTED: return "CKR_FUNCTION_REJECTED";
	case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
	case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
	case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
	case CKR_DATA_INVALID: return "CKR_DATA_INVALID";
	case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
	case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
	case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
	default: return "CKR_other";
	}
}

void pb_usage(FILE *f)
{
	fprintf(f,
		"usage: p11bench --module PATH (--token LABEL | --slot ID) (--pin PIN | --pin-file F)\n"
		"                (--key-label L | --key-id HEX) --mech CKM_... [--prehash sha256]\n"
		"                [--threads N] [--seconds S | --count N] [--warmup S]\n"
		"                [--data-size N | --data-file F] [--tag TEXT] [--peer-pid PID]\n"
		"Measures C_SignInit+C_Sign throughput and latency; one key=value line per run.\n"
		"--peer-pid P: also report the CPU time process P (the enclave) spent per signature.\n"
		"--unique-at OFF: write a distinct 8-byte number at byte OFF of the data for every\n"
		"  signature (e.g. the low bytes of a TBS serial, for signers that refuse reuse).\n"
		"--prehash H: hash the data in the client (timed) and pass the digest\n"
		"             (a DigestInfo for CKM_RSA_PKCS): for modules without CKM_ECDSA_SHA*.\n"
		"defaults: --threads 1 --seconds %.0f --warmup %.1f --data-size %u\n",
		PB_DEFAULT_SECONDS, PB_DEFAULT_WARMUP, PB_DEFAULT_DATA_LEN);
}

__attribute__((warn_unused_result)) static int pb_parse_hex(const char *s, uint8_t *out,
							    size_t cap, size_t *out_len)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*out_len = n / 2;
	return 0;
}

/* Reads a PIN file: its first line, without the newline. */
__attribute__((warn_unused_result)) static int pb_read_pin(const char *path, struct pb_opts *o)
{
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (f == NULL) {
		fprintf(stderr, "p11bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(o->pin, sizeof(o->pin), f) == NULL) {
		fprintf(stderr, "p11bench: %s: empty\n", path);
		goto out;
	}
	o->pin_len = strcspn(o->pin, "\r\n");
	o->pin[o->pin_len] = '\0';
	ret = 0;
out:
	fclose(f);
	return ret;
}

__attribute__((warn_unused_result)) static int pb_parse_double(const char *s, double lo,
							       double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

__attribute__((warn_unused_result)) static int pb_parse_ulong(const char *s, unsigned long lo,
							      unsigned long hi,
							      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int pb_parse_args(int argc, char **argv,
							     struct pb_opts *o)
{
	static const struct option longopts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "slot", required_argument, NULL, 's' },
		{ "pin", required_argument, NULL, 'p' },
		{ "pin-file", required_argument, NULL, 'P' },
		{ "key-label", required_argument, NULL, 'k' },
		{ "key-id", required_argument, NULL, 'K' },
		{ "mech", required_argument, NULL, 'M' },
		{ "prehash", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "data-size", required_argument, NULL, 'z' },
		{ "data-file", required_argument, NULL, 'f' },
		{ "tag", required_argument, NULL, 'T' },
		{ "peer-pid", required_argument, NULL, 'R' },
		{ "unique-at", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	size_t i;
	int c;

	o->threads = 1;
	o->seconds = PB_DEFAULT_SECONDS;
	o->warmup = PB_DEFAULT_WARMUP;
	o->data_len = PB_DEFAULT_DATA_LEN;
	o->tag = "-";
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->module = optarg; break;
		case 't': o->token_label = optarg; break;
		case 's':
			if (pb_parse_ulong(optarg, 0, ULONG_MAX, &v) != 0)
				goto bad;
			o->slot_id = v;
			o->have_slot = 1;
			break;
		case 'p':
			o->pin_len = strlen(optarg);
			if (o->pin_len > PB_MAX_PIN_LEN)
				goto bad;
			memcpy(o->pin, optarg, o->pin_len + 1);
			break;
		case 'P':
			if (pb_read_pin(optarg, o) != 0)
				return -1;
			break;
		case 'k': o->key_label = optarg; break;
		case 'K':
			if (pb_parse_hex(optarg, o->key_id, sizeof(o->key_id), &o->key_id_len) != 0)
				goto bad;
			break;
		case 'M':
			o->mech = NULL;
			for (i = 0; i < PB_NUM_MECHS; i++)
				if (strcmp(optarg, pb_mechs[i].name) == 0)
					o->mech = &pb_mechs[i];
			if (o->mech == NULL)
				goto bad;
			break;
		case 'H':
			o->prehash = PB_PREHASH_NONE;
			for (i = 1; i < PB_NUM_PREHASH; i++)
				if (strcmp(optarg, pb_hashes[i].name) == 0)
					o->prehash = (enum pb_prehash)i;
			if (o->prehash == PB_PREHASH_NONE && strcmp(optarg, "none") != 0)
				goto bad;
			break;
		case 'n':
			if (pb_parse_ulong(optarg, 1, PB_MAX_THREADS, &v) != 0)
				goto bad;
			o->threads = (int)v;
			break;
		case 'd':
			if (pb_parse_double(optarg, 0.01, PB_MAX_SECONDS, &o->seconds) != 0)
				goto bad;
			break;
		case 'c':
			if (pb_parse_ulong(optarg, 1, ULONG_MAX / 2, &o->count) != 0)
				goto bad;
			break;
		case 'w':
			if (pb_parse_double(optarg, 0.0, PB_MAX_SECONDS, &o->warmup) != 0)
				goto bad;
			break;
		case 'z':
			if (pb_parse_ulong(optarg, 1, PB_MAX_DATA_LEN, &v) != 0)
				goto bad;
			o->data_len = v;
			break;
		case 'f': o->data_file = optarg; break;
		case 'T': o->tag = optarg; break;
		case 'R':
			if (pb_parse_ulong(optarg, 1, LONG_MAX, &v) != 0)
				goto bad;
			o->peer_pid = (long)v;
			break;
		case 'U':
			if (pb_parse_ulong(optarg, 0, PB_MAX_DATA_LEN, &v) != 0)
				goto bad;
			o->unique_at = (long)v;
			break;
		case 'h': pb_usage(stdout); exit(0);
		default: goto bad;
		}
	}
	if (optind != argc || o->module == NULL || o->mech == NULL ||
	    (o->token_label == NULL && !o->have_slot) ||
	    (o->key_label == NULL && o->key_id_len == 0))
		goto bad;
	if (o->prehash != PB_PREHASH_NONE && o->mech->type != CKM_ECDSA &&
	    o->mech->type != CKM_RSA_PKCS) {
		fprintf(stderr, "p11bench: --prehash goes with CKM_ECDSA or CKM_RSA_PKCS\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "p11bench: bad or missing argument%s%s\n", optarg ? ": " : "",
		optarg ? optarg : "");
	pb_usage(stderr);
	return -1;
}

/* The data to sign: a file's contents, or data_len bytes of a fixed pattern. */
uint8_t *pb_load_data(const struct pb_opts *o,
								size_t *out_len)
{
	uint8_t *buf = NULL;
	FILE *f = NULL;
	long n;
	size_t i;

	*out_len = 0;
	if (o->data_file == NULL) {
		buf = malloc(o->data_len);
		if (buf == NULL)
			return NULL;
		for (i = 0; i < o->data_len; i++)
			buf[i] = (uint8_t)(i * 131u + 7u);
		*out_len = o->data_len;
		return buf;
	}
	f = fopen(o->data_file, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    (unsigned long)n > PB_MAX_DATA_LEN || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "p11bench: %s: cannot read, empty or too large\n", o->data_file);
		goto out;
	}
	buf = malloc((size_t)n);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "p11bench: %s: read failed\n", o->data_file);
		free(buf);
		buf = NULL;
		goto out;
	}
	*out_len = (size_t)n;
out:
	if (f != NULL)
		fclose(f);
	return buf;
}
