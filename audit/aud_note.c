/*
 * aud_note.c - the audit key (Ed25519) and checkpoints in the C2SP signed-note /
 * tlog-checkpoint form (c2sp.org/signed-note, c2sp.org/tlog-checkpoint):
 *
 *   <origin>\n<size>\n<base64 head hash>\n\n— <key name> <base64(key id || signature)>\n
 *
 * Warden's log is a hash chain, not a Merkle tree: "size" is the number of records
 * covered (seq 0 .. size-1) and the third line carries the chain head, the hash of
 * record size-1.  The origin and key name are AUD_ORIGIN_PREFIX + 16 hex digits of
 * SHA-256(public key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "aud_internal.h"

#define NOTE_SIG_TYPE_ED25519 0x01u
#define EM_DASH "\xe2\x80\x94"
#define EM_DASH_LEN 3u
#define HEAD_B64_LEN 44u /* base64 of 32 bytes */
#define SIZE_DIGITS_MAX 20u
#define KEYID_HEX_LEN 8u

/* ===== base64 ===================================================================== */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t aud_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool aud_b64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t o = 0;

	*out_len = 0;
	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		bool last = i + 4 == len;

		for (size_t k = 0; k < 4; k++) {
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0) {
				if (!last || in[i + k] != '=' || k < 2)
					return false;
				pad++;
				v[k] = 0;
			} else if (pad > 0) {
				return false; /* data after padding */
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Canonical: the bits dropped by padding must be zero. */
		if ((pad == 1 && (w & 0xffu) != 0) || (pad == 2 && (w & 0xffffu) != 0))
			return false;
		if (out_cap - o < 3 - pad)
			return false;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return true;
}

/* ===== key names ================================================================== */

void aud_origin_for_key(const uint8_t pub[AUD_ED25519_LEN], char *out)
{
	uint8_t h[AUD_HASH_LEN];
	char hex[2 * 8 + 1];

	aud_sha256(pub, AUD_ED25519_LEN, h);
	aud_hex(h, 8, hex);
	snprintf(out, AUD_ORIGIN_MAX, "%s%s", AUD_ORIGIN_PREFIX, hex);
}

uint32_t aud_note_keyid(const char *name, const uint8_t pub[AUD_ED25519_LEN])
{
	uint8_t buf[AUD_ORIGIN_MAX + 2 + AUD_ED25519_LEN];
	uint8_t h[AUD_HASH_LEN];
	size_t n = strnlen(name, AUD_ORIGIN_MAX);

	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = NOTE_SIG_TYPE_ED25519;
	memcpy(buf + n + 2, pub, AUD_ED25519_LEN);
	aud_sha256(buf, n + 2 + AUD_ED25519_LEN, h);
	return aud_get32(h);
}

static bool name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= AUD_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '+' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* "<name>+<8 hex key id>+<base64(0x01 || key)>" (the Go note verifier-key form). */
bool aud_pubkey_parse(const char *line, size_t len, char *out_name,
		      uint8_t out_pub[AUD_ED25519_LEN])
{
	const char *p1, *p2;
	uint8_t raw[1 + AUD_ED25519_LEN + 2];
	size_t raw_len = 0, name_len;
	uint32_t id = 0;

	memset(out_name, 0, AUD_ORIGIN_MAX);
	memset(out_pub, 0, AUD_ED25519_LEN);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	p1 = memchr(line, '+', len);
	if (p1 == NULL)
		return false;
	name_len = (size_t)(p1 - line);
	p2 = memchr(p1 + 1, '+', len - name_len - 1);
	if (p2 == NULL || p2 - p1 - 1 != KEYID_HEX_LEN || !name_valid(line, name_len))
		return false;
	for (size_t i = 0; i < KEYID_HEX_LEN; i++) {
		char c = p1[1 + i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (d < 0)
			return false;
		id = id << 4 | (uint32_t)d;
	}
	if (!aud_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - line), raw, sizeof raw, &raw_len) ||
	    raw_len != 1 + AUD_ED25519_LEN || raw[0] != NOTE_SIG_TYPE_ED25519)
		return false;
	memcpy(out_name, line, name_len);
	if (aud_note_keyid(out_name, raw + 1) != id) {
		memset(out_name, 0, AUD_ORIGIN_MAX);
		return false;
	}
	memcpy(out_pub, raw + 1, AUD_ED25519_LEN);
	return true;
}

int aud_pubkey_load(const char *path, char *out_name, uint8_t out_pub[AUD_ED25519_LEN],
		    char *err, size_t err_len)
{
	char line[AUD_PUBKEY_LINE_MAX];
	FILE *f = fopen(path, "re");
	int ret = WARDEN_E_INTERNAL;

	if (f == NULL) {
		aud_errf(err, err_len, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fgets(line, sizeof line, f) == NULL ||
	    !aud_pubkey_parse(line, strlen(line), out_name, out_pub)) {
		aud_errf(err, err_len, "%s: not an audit public key line", path);
		goto out;
	}
	ret = WARDEN_OK;
out:
	fclose(f);
	return ret;
}

/* ===== keys ======================================================================= */

static int raw_public(EVP_PKEY *k, uint8_t pub[AUD_ED25519_LEN])
{
	size_t n = AUD_ED25519_LEN;

	if (EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != AUD_ED25519_LEN)
		return -1;
	return 0;
}

int aud_key_load(const char *path, EVP_PKEY **out, uint8_t pub[AUD_ED25519_LEN], char *err,
		 size_t err_len)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = NULL;

	*out = NULL;
	if (f == NULL) {
		aud_errf(err, err_len, "audit key %s: %s", path, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519 || raw_public(k, pub) != 0) {
		EVP_PKEY_free(k);
		aud_errf(err, err_len, "audit key %s: not an Ed25519 private key", path);
		return WARDEN_E_INTERNAL;
	}
	*out = k;
	return WARDEN_OK;
}

static int write_pub_line(const char *path, const uint8_t pub[AUD_ED25519_LEN], char *err,
			  size_t err_len)
{
	char name[AUD_ORIGIN_MAX], b64[64];
	uint8_t raw[1 + AUD_ED25519_LEN];
	FILE *f;
	int fd, ok;

	aud_origin_for_key(pub, name);
	raw[0] = NOTE_SIG_TYPE_ED25519;
	memcpy(raw + 1, pub, AUD_ED25519_LEN);
	aud_b64_encode(raw, sizeof raw, b64);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		aud_errf(err, err_len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return WARDEN_E_INTERNAL;
	}
	ok = fprintf(f, "%s+%08x+%s\n", name, aud_note_keyid(name, pub), b64) > 0;
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (!ok) {
		aud_errf(err, err_len, "%s: write failed", path);
		return WARDEN_E_INTERNAL;
	}
	return WARDEN_OK;
}

int aud_keygen(const char *priv_path, const char *pub_path, char *err, size_t err_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	uint8_t pub[AUD_ED25519_LEN];
	FILE *f = NULL;
	int fd = -1, ret = WARDEN_E_INTERNAL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1 ||
	    raw_public(k, pub) != 0) {
		aud_errf(err, err_len, "Ed25519 key generation failed");
		goto out;
	}
	fd = open(priv_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		aud_errf(err, err_len, "%s: %s", priv_path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		aud_errf(err, err_len, "%s: write failed", priv_path);
		goto out;
	}
	ret = write_pub_line(pub_path, pub, err, err_len);
out:
	if (f != NULL && fclose(f) != 0 && ret == WARDEN_OK) {
		aud_errf(err, err_len, "%s: close failed", priv_path);
		ret = WARDEN_E_INTERNAL;
	}
	if (fd >= 0)
		close(fd);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

/* ===== notes ====================================================================== */

size_t aud_note_body(const char *origin, uint64_t size, const uint8_t head[AUD_HASH_LEN],
		     char *out, size_t out_len)
{
	char b64[HEAD_B64_LEN + 1];
	int n;

	aud_b64_encode(head, AUD_HASH_LEN, b64);
	n = snprintf(out, out_len, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
	return n > 0 && (size_t)n < out_len ? (size_t)n : 0;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl;
}

bool aud_note_parse(const char *text, size_t len, struct aud_note *out)
{
	const char *p = text, *end = text + len, *nl, *sep = NULL;
	size_t sig_used = 0, nlines = 0;

	memset(out, 0, sizeof *out);
	if (len == 0 || len > AUD_NOTE_MAX || text[len - 1] != '\n' ||
	    !aud_utf8_valid((const uint8_t *)text, len, true) || memchr(text, '\t', len) != NULL)
		goto bad;
	/* The text ends at the last blank line: find "\n\n" from the end. */
	for (const char *q = end - 1; q > text; q--)
		if (q[0] == '\n' && q[-1] == '\n') {
			sep = q;
			break;
		}
	if (sep == NULL)
		goto bad;
	out->text = text;
	out->text_len = (size_t)(sep - text);
	/* Body lines. */
	for (p = text; p < sep; p = nl + 1, nlines++) {
		nl = line_end(p, sep);
		if (nl == NULL || nl == p) /* empty lines are not allowed in a checkpoint body */
			goto bad;
		size_t n = (size_t)(nl - p);

		if (nlines == 0) {
			out->origin = p;
			out->origin_len = n;
		} else if (nlines == 1) {
			uint64_t v = 0;

			if (n > SIZE_DIGITS_MAX || (n > 1 && p[0] == '0'))
				goto bad;
			for (size_t i = 0; i < n; i++) {
				if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
					goto bad;
				v = v * 10 + (uint64_t)(p[i] - '0');
			}
			out->size = v;
		} else if (nlines == 2) {
			size_t hl = 0;

			if (n != HEAD_B64_LEN || !aud_b64_decode(p, n, out->head, AUD_HASH_LEN, &hl) ||
			    hl != AUD_HASH_LEN)
				goto bad;
		} else {
			out->num_ext++;
		}
	}
	if (nlines < 3)
		goto bad;
	/* Signature lines. */
	for (p = sep + 1; p < end; p = nl + 1) {
		struct aud_note_sig *s;
		const char *sp;
		uint8_t raw[AUD_KEYID_LEN + AUD_NOTE_MAX_SIG_LEN];
		size_t raw_len = 0;

		nl = line_end(p, end);
		if (out->num_sigs == AUD_NOTE_MAX_SIGS || (size_t)(nl - p) < EM_DASH_LEN + 2 ||
		    memcmp(p, EM_DASH " ", EM_DASH_LEN + 1) != 0)
			goto bad;
		p += EM_DASH_LEN + 1;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp == NULL || !name_valid(p, (size_t)(sp - p)) ||
		    !aud_b64_decode(sp + 1, (size_t)(nl - sp - 1), raw, sizeof raw, &raw_len) ||
		    raw_len < AUD_KEYID_LEN + 1)
			goto bad;
		s = &out->sigs[out->num_sigs++];
		s->name = p;
		s->name_len = (size_t)(sp - p);
		s->keyid = aud_get32(raw);
		s->sig_len = raw_len - AUD_KEYID_LEN;
		memcpy(out->sig_buf + sig_used, raw + AUD_KEYID_LEN, s->sig_len);
		s->sig = out->sig_buf + sig_used;
		sig_used += s->sig_len;
	}
	if (out->num_sigs == 0)
		goto bad;
	return true;
bad:
	memset(out, 0, sizeof *out);
	return false;
}

static int ed25519_verify(const uint8_t pub[AUD_ED25519_LEN], const void *msg, size_t len,
			  const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, AUD_ED25519_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (k != NULL && ctx != NULL && sig_len == AUD_SIG_LEN &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

int aud_note_verify(const struct aud_note *n, const char *name,
		    const uint8_t pub[AUD_ED25519_LEN])
{
	uint32_t id = aud_note_keyid(name, pub);
	size_t name_len = strlen(name);
	int found = -1;

	for (size_t i = 0; i < n->num_sigs; i++) {
		const struct aud_note_sig *s = &n->sigs[i];

		if (s->keyid != id || s->name_len != name_len || memcmp(s->name, name, name_len) != 0)
			continue;
		if (!ed25519_verify(pub, n->text, n->text_len, s->sig, s->sig_len))
			return 0;
		found = 1;
	}
	return found;
}

/* ===== checkpoint records ========================================================== */

int aud_checkpoint_make(EVP_PKEY *key, const char *origin, const uint8_t pub[AUD_ED25519_LEN],
			uint64_t size, const uint8_t head[AUD_HASH_LEN], struct aud_body *body,
			char *note, size_t note_cap, size_t *note_len)
{
	uint8_t sig[AUD_KEYID_LEN + AUD_SIG_LEN];
	char b64[2 * sizeof sig];
	size_t sig_len = AUD_SIG_LEN, n;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = WARDEN_E_INTERNAL, m;

	*note_len = 0;
	n = aud_note_body(origin, size, head, note, note_cap);
	aud_put32(sig, aud_note_keyid(origin, pub));
	if (n == 0 || ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig + AUD_KEYID_LEN, &sig_len, (const uint8_t *)note, n) != 1 ||
	    sig_len != AUD_SIG_LEN)
		goto out;
	aud_b64_encode(sig, sizeof sig, b64);
	m = snprintf(note + n, note_cap - n, "\n" EM_DASH " %s %s\n", origin, b64);
	if (m <= 0 || (size_t)m >= note_cap - n)
		goto out;
	*note_len = n + (size_t)m;
	aud_put_str(body, AUD_F_ORIGIN, origin);
	aud_put_uint(body, AUD_F_TREE_SIZE, size);
	aud_put_bytes(body, AUD_F_HEAD_HASH, head, AUD_HASH_LEN);
	aud_put_bytes(body, AUD_F_NOTE_SIG, sig, sizeof sig);
	ret = aud_body_finish(body);
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

enum aud_verdict aud_checkpoint_check(const struct aud_rec *r, const uint8_t *pub, char *what,
				      size_t what_len)
{
	struct aud_field origin, size, head, sig;
	char name[AUD_ORIGIN_MAX], note[AUD_NOTE_MAX];
	size_t n;

	if (!aud_body_find(r->body, r->body_len, AUD_F_ORIGIN, &origin) ||
	    !aud_body_find(r->body, r->body_len, AUD_F_TREE_SIZE, &size) ||
	    !aud_body_find(r->body, r->body_len, AUD_F_HEAD_HASH, &head) ||
	    !aud_body_find(r->body, r->body_len, AUD_F_NOTE_SIG, &sig) ||
	    !name_valid((const char *)origin.val, origin.len) || head.len != AUD_HASH_LEN ||
	    sig.len != AUD_KEYID_LEN + AUD_SIG_LEN) {
		aud_errf(what, what_len, "checkpoint record lacks origin, size, head or signature");
		return AUD_V_BAD_CHECKPOINT;
	}
	if (aud_field_uint(&size) != r->seq || memcmp(head.val, r->prev_hash, AUD_HASH_LEN) != 0) {
		aud_errf(what, what_len, "checkpoint size/head do not describe the records before it");
		return AUD_V_BAD_CHECKPOINT;
	}
	if (pub == NULL)
		return AUD_V_OK;
	memcpy(name, origin.val, origin.len);
	name[origin.len] = '\0';
	n = aud_note_body(name, r->seq, r->prev_hash, note, sizeof note);
	if (aud_get32(sig.val) != aud_note_keyid(name, pub) ||
	    !ed25519_verify(pub, note, n, sig.val + AUD_KEYID_LEN, AUD_SIG_LEN)) {
		aud_errf(what, what_len, "checkpoint signature does not verify with the audit key");
		return AUD_V_BAD_CHECKPOINT;
	}
	return AUD_V_OK;
}
