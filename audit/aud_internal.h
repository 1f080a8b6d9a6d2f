/*
 * aud_internal.h - what the audit library's files share and nothing outside uses.
 */
#ifndef WARDEN_AUD_INTERNAL_H
#define WARDEN_AUD_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "audit.h"

/* Big-endian helpers. */
static inline uint16_t aud_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t aud_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t aud_get64(const uint8_t *p)
{
	return (uint64_t)aud_get32(p) << 32 | aud_get32(p + 4);
}
static inline void aud_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void aud_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void aud_put64(uint8_t *p, uint64_t v)
{
	aud_put32(p, (uint32_t)(v >> 32));
	aud_put32(p + 4, (uint32_t)v);
}

/* Record header offsets. */
#define AUD_OFF_LEN 0u
#define AUD_OFF_TYPE 4u
#define AUD_OFF_FLAGS 6u
#define AUD_OFF_SEQ 8u
#define AUD_OFF_TIME 16u
#define AUD_OFF_PREV 24u
_Static_assert(AUD_OFF_PREV + AUD_HASH_LEN == AUD_REC_HDR_LEN, "header layout");

/* File header offsets. */
#define AUD_FOFF_VERSION 8u
#define AUD_FOFF_HDR_LEN 12u
#define AUD_FOFF_FIRST_SEQ 16u
#define AUD_FOFF_PREV 24u
#define AUD_FOFF_RESERVED 56u
_Static_assert(AUD_FOFF_PREV + AUD_HASH_LEN == AUD_FOFF_RESERVED, "file header layout");
/* Gaps (docs/audit-format.md "End of data and gaps"): a gap ends at a multiple of
 * AUD_GAP_UNIT, less than AUD_MAX_GAP bytes after it began.  The writer's alignment is
 * a power of two from AUD_GAP_UNIT to AUD_MAX_GAP. */
#define AUD_GAP_UNIT 512u
#define AUD_LEN_FIELD 4u /* record_len; a gap begins with one that is zero */
#define AUD_MAX_GAP 65536u

/* A SHA-256 context reused across records (the EVP fetch is done once). */
struct aud_hasher;
struct aud_hasher *aud_hasher_new(void);
void aud_hasher_free(struct aud_hasher *h);
void aud_hasher_digest(struct aud_hasher *h, const void *p, size_t len,
		       uint8_t out[AUD_HASH_LEN]);

/* Encodes a record (header, body, hash) into out (len AUD_REC_MIN_LEN + body_len). */
void aud_record_encode(struct aud_hasher *h, uint8_t *out, uint16_t type, uint64_t seq,
		       int64_t time_ns, const uint8_t prev[AUD_HASH_LEN], const uint8_t *body,
		       size_t body_len);
/* Parses and checks one record at buf (avail bytes): framing, hash, link, seq, body
 * and type rules (not checkpoint signatures).  what gets a sentence on failure. */
enum aud_verdict aud_record_parse(struct aud_hasher *h, const uint8_t *buf, size_t avail,
				  uint64_t expect_seq, const uint8_t prev[AUD_HASH_LEN],
				  struct aud_rec *out, char *what, size_t what_len);
/* Checkpoint record contents against (seq, prev hash) and, with pub, its signature. */
enum aud_verdict aud_checkpoint_check(const struct aud_rec *r, const uint8_t *pub,
				      char *what, size_t what_len);
/* Builds the body of a checkpoint record (signed with key) covering `size` records
 * ending with head; note gets the full C2SP text (<= AUD_NOTE_MAX). */
struct evp_pkey_st;
AUD_MUST_CHECK int aud_checkpoint_make(struct evp_pkey_st *key, const char *origin,
				       const uint8_t pub[AUD_ED25519_LEN], uint64_t size,
				       const uint8_t head[AUD_HASH_LEN], struct aud_body *body,
				       char *note, size_t note_cap, size_t *note_len);
/* Loads an Ed25519 private key (PEM) and its public half. */
AUD_MUST_CHECK int aud_key_load(const char *path, struct evp_pkey_st **out,
				uint8_t pub[AUD_ED25519_LEN], char *err, size_t err_len);

/* File names. */
bool aud_file_name_parse(const char *name, uint64_t *out_first_seq);
/* Encodes a file header. */
void aud_file_hdr_encode(uint8_t out[AUD_FILE_HDR_LEN], uint64_t first_seq,
			 const uint8_t prev[AUD_HASH_LEN]);

bool aud_utf8_valid(const uint8_t *p, size_t len, bool allow_newline);
void aud_hex(const uint8_t *p, size_t len, char *out); /* out: 2*len+1 */
void aud_errf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int64_t aud_now_ns(void);

#endif
