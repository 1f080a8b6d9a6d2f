/*
 * pin.h - the Warden user PIN: a salted scrypt hash on disk, checked in constant time.
 *
 * File format (one line, written 0600 by warden-admin):
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, hex>$<hash, hex>\n
 * Defaults: ln=15, r=8, p=1, a 16-byte salt and a 32-byte hash.
 */
#ifndef WARDEN_PIN_H
#define WARDEN_PIN_H

#include <stddef.h>

#define PIN_MIN_LEN 4u
#define PIN_MAX_LEN 256u
#define PIN_HASH_LINE_MAX 256u

/* Makes a hash line for pin into out (out_size >= PIN_HASH_LINE_MAX).  0 or -1. */
__attribute__((warn_unused_result)) int pin_hash_make(const char *pin, size_t pin_len,
						      char *out, size_t out_size);
/* Checks that a hash line is well formed (parameters within bounds).  0 or -1. */
__attribute__((warn_unused_result)) int pin_hash_parse_check(const char *line);
/* 1 if pin matches the hash line, 0 if it does not, -1 on a malformed line or an
 * internal failure. */
__attribute__((warn_unused_result)) int pin_hash_verify(const char *line, const char *pin,
							size_t pin_len);

#endif
