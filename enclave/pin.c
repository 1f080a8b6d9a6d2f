/*
 * pin.c - the user PIN's salted scrypt hash.  See pin.h for the file format.
 */
#include "pin.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define PIN_DEFAULT_LN 15u
#define PIN_DEFAULT_R 8u
#define PIN_DEFAULT_P 1u
#define PIN_SALT_LEN 16u
#define PIN_HASH_LEN 32u
/* Accepted parameter ranges when parsing. */
#define PIN_LN_MIN 10u
#define PIN_LN_MAX 18u
#define PIN_R_MIN 1u
#define PIN_R_MAX 16u
#define PIN_P_MIN 1u
#define PIN_P_MAX 16u
#define PIN_SALT_MIN 8u
#define PIN_SALT_MAX 32u
#define PIN_HASH_MIN 16u
#define PIN_HASH_MAX 64u
/* scrypt needs 128 * r * N bytes; allow the largest accepted parameters. */
#define PIN_SCRYPT_MAXMEM ((uint64_t)1 << 30)
#define PIN_PREFIX "$scrypt$"

_Static_assert(PIN_HASH_LINE_MAX >=
		       sizeof(PIN_PREFIX) + sizeof("ln=18,r=16,p=16$$\n") + 2 * PIN_SALT_MAX +
			       2 * PIN_HASH_MAX - 1,
	       "the longest accepted line fits");
_Static_assert((uint64_t)128 * PIN_R_MAX * ((uint64_t)1 << PIN_LN_MAX) <= PIN_SCRYPT_MAXMEM,
	       "scrypt memory bound covers the accepted parameters");

struct pin_params {
	unsigned ln, r, p;
	uint8_t salt[PIN_SALT_MAX];
	size_t salt_len;
	uint8_t hash[PIN_HASH_MAX];
	size_t hash_len;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower-case hex, up to '$' or end; returns the characters consumed or -1. */
static int hex_decode(const char *s, char stop, uint8_t *out, size_t max, size_t *out_len)
{
	size_t i = 0;
	*out_len = 0;
	while (s[i] != stop && s[i] != '\0') {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0 || *out_len >= max)
			return -1;
		out[(*out_len)++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return (int)i;
}

static int parse_uint(const char **s, const char *key, unsigned lo, unsigned hi,
		      unsigned *out)
{
	size_t kl = strlen(key);
	if (strncmp(*s, key, kl) != 0)
		return -1;
	const char *p = *s + kl;
	unsigned v = 0;
	size_t digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 3) {
		v = v * 10 + (unsigned)(*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || (digits > 1 && (*s)[kl] == '0') || v < lo || v > hi)
		return -1;
	*out = v;
	*s = p;
	return 0;
}

static int parse_line(const char *line, struct pin_params *pp)
{
	const char *s = line;
	memset(pp, 0, sizeof(*pp));
	if (strncmp(s, PIN_PREFIX, strlen(PIN_PREFIX)) != 0)
		return -1;
	s += strlen(PIN_PREFIX);
	if (parse_uint(&s, "ln=", PIN_LN_MIN, PIN_LN_MAX, &pp->ln) != 0 || *s++ != ',' ||
	    parse_uint(&s, "r=", PIN_R_MIN, PIN_R_MAX, &pp->r) != 0 || *s++ != ',' ||
	    parse_uint(&s, "p=", PIN_P_MIN, PIN_P_MAX, &pp->p) != 0 || *s++ != '$')
		return -1;
	int n = hex_decode(s, '$', pp->salt, PIN_SALT_MAX, &pp->salt_len);
	if (n < 0 || s[n] != '$' || pp->salt_len < PIN_SALT_MIN)
		return -1;
	s += n + 1;
	n = hex_decode(s, '\n', pp->hash, PIN_HASH_MAX, &pp->hash_len);
	if (n < 0 || pp->hash_len < PIN_HASH_MIN)
		return -1;
	s += n;
	/* One optional newline, then nothing. */
	if (*s == '\n')
		s++;
	return *s == '\0' ? 0 : -1;
}

static int scrypt(const char *pin, size_t pin_len, const struct pin_params *pp, uint8_t *out,
		  size_t out_len)
{
	return EVP_PBE_scrypt(pin, pin_len, pp->salt, pp->salt_len, (uint64_t)1 << pp->ln, pp->r,
			      pp->p, PIN_SCRYPT_MAXMEM, out, out_len) == 1
		       ? 0
		       : -1;
}

int pin_hash_make(const char *pin, size_t pin_len, char *out, size_t out_size)
{
	struct pin_params pp;
	int ret = -1;

	if (out_size > 0)
		out[0] = '\0';
	memset(&pp, 0, sizeof(pp));
	if (out_size < PIN_HASH_LINE_MAX || pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN)
		goto out;
	pp.ln = PIN_DEFAULT_LN;
	pp.r = PIN_DEFAULT_R;
	pp.p = PIN_DEFAULT_P;
	pp.salt_len = PIN_SALT_LEN;
	pp.hash_len = PIN_HASH_LEN;
	if (RAND_bytes(pp.salt, PIN_SALT_LEN) != 1 ||
	    scrypt(pin, pin_len, &pp, pp.hash, pp.hash_len) != 0)
		goto out;
	int n = snprintf(out, out_size, PIN_PREFIX "ln=%u,r=%u,p=%u$", pp.ln, pp.r, pp.p);
	if (n < 0 || (size_t)n >= out_size)
		goto out;
	size_t off = (size_t)n;
	for (size_t i = 0; i < pp.salt_len; i++, off += 2)
		snprintf(out + off, 3, "%02x", pp.salt[i]);
	out[off++] = '$';
	for (size_t i = 0; i < pp.hash_len; i++, off += 2)
		snprintf(out + off, 3, "%02x", pp.hash[i]);
	out[off++] = '\n';
	out[off] = '\0';
	ret = 0;
out:
	OPENSSL_cleanse(&pp, sizeof(pp));
	if (ret != 0 && out_size > 0)
		memset(out, 0, out_size);
	return ret;
}

int pin_hash_parse_check(const char *line)
{
	struct pin_params pp;
	int ret = parse_line(line, &pp);
	OPENSSL_cleanse(&pp, sizeof(pp));
	return ret;
}

int pin_hash_verify(const char *line, const char *pin, size_t pin_len)
{
	struct pin_params pp;
	uint8_t got[PIN_HASH_MAX];
	int ret = -1;

	if (parse_line(line, &pp) != 0)
		goto out;
	if (scrypt(pin, pin_len, &pp, got, pp.hash_len) != 0)
		goto out;
	ret = CRYPTO_memcmp(got, pp.hash, pp.hash_len) == 0 ? 1 : 0;
out:
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(&pp, sizeof(pp));
	return ret;
}
