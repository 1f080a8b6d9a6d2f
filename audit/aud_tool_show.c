/*
 * aud_tool_show.c - `warden-audit show`: records as JSON lines, filtered.  Every
 * record shown has been verified (the scan verifies as it goes); a failure stops the
 * output with the verify message on stderr and exit 1.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aud_tool.h"

#define TAG_NUMS 4096u
#define SERIAL_MAX 64u

struct show {
	bool has_since, has_until;
	int64_t since_ns, until_ns;
	uint8_t serial[SERIAL_MAX];
	size_t serial_len;
	bool has_serial;
	const char *name;
	const char *key;
	int decision; /* -1 any */
	int type;     /* -1 any */
	uint64_t shown;
};

static void print_fields(const uint8_t *p, size_t len);

static void print_value(const struct aud_field *f)
{
	switch (AUD_TAG_KIND(f->tag)) {
	case AUD_K_UINT:
		printf("%llu", (unsigned long long)aud_field_uint(f));
		break;
	case AUD_K_INT:
		printf("%lld", (long long)aud_field_int(f));
		break;
	case AUD_K_STR:
		tool_json_str(stdout, f->val, f->len);
		break;
	case AUD_K_BYTES:
		putchar('"');
		tool_hex(stdout, f->val, f->len);
		putchar('"');
		break;
	default:
		print_fields(f->val, f->len);
		break;
	}
}

static void print_name(uint16_t tag)
{
	const char *n = aud_tag_name(tag);

	if (n != NULL)
		printf("\"%s\":", n);
	else
		printf("\"f%u_%u\":", AUD_TAG_KIND(tag), AUD_TAG_NUM(tag));
}

static bool multi_tag(uint16_t tag)
{
	return tag == AUD_F_SAN || tag == AUD_F_REVOKED || tag == AUD_F_OCSP || tag == AUD_F_CA_KEY ||
	       tag == AUD_F_REVOCATION;
}

/* One JSON object; a tag that repeats (or is a list kind by nature) becomes an array. */
static void print_fields(const uint8_t *p, size_t len)
{
	static const size_t words = TAG_NUMS / 64;
	uint64_t *done = calloc(words, sizeof *done);
	struct aud_cur c = {p, len};
	struct aud_field f;
	bool first = true;

	putchar('{');
	while (aud_field_next(&c, &f) == 1) {
		unsigned n = AUD_TAG_NUM(f.tag);
		struct aud_cur rest = c;
		struct aud_field g;
		bool repeats = multi_tag(f.tag);

		if (done != NULL && (done[n / 64] >> (n % 64) & 1))
			continue;
		if (done != NULL)
			done[n / 64] |= 1ull << (n % 64);
		if (!repeats)
			while (aud_field_next(&rest, &g) == 1)
				if (g.tag == f.tag) {
					repeats = true;
					break;
				}
		if (!first)
			putchar(',');
		first = false;
		print_name(f.tag);
		if (!repeats) {
			print_value(&f);
			continue;
		}
		putchar('[');
		print_value(&f);
		rest = c;
		while (aud_field_next(&rest, &g) == 1)
			if (g.tag == f.tag) {
				putchar(',');
				print_value(&g);
			}
		putchar(']');
	}
	putchar('}');
	free(done);
}

static bool str_field_contains(const uint8_t *body, size_t len, uint16_t tag, const char *s)
{
	struct aud_cur c = {body, len};
	struct aud_field f;
	size_t sl = strlen(s);

	while (aud_field_next(&c, &f) == 1) {
		if (f.tag != tag || f.len < sl)
			continue;
		for (size_t i = 0; i + sl <= f.len; i++)
			if (strncasecmp((const char *)f.val + i, s, sl) == 0)
				return true;
	}
	return false;
}

static bool serial_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	while (al > 1 && a[0] == 0)
		a++, al--;
	while (bl > 1 && b[0] == 0)
		b++, bl--;
	return al == bl && memcmp(a, b, al) == 0;
}

static bool has_serial(const struct show *s, const uint8_t *body, size_t len)
{
	struct aud_cur c = {body, len};
	struct aud_field f, g;

	while (aud_field_next(&c, &f) == 1) {
		if ((f.tag == AUD_F_SERIAL || f.tag == AUD_F_REVOKED) &&
		    serial_eq(f.val, f.len, s->serial, s->serial_len))
			return true;
		if (f.tag == AUD_F_OCSP && aud_body_find(f.val, f.len, AUD_F_SERIAL, &g) &&
		    serial_eq(g.val, g.len, s->serial, s->serial_len))
			return true;
	}
	return false;
}

static bool matches(const struct show *s, const struct aud_rec *r)
{
	struct aud_field f;

	if (s->has_since && r->time_ns < s->since_ns)
		return false;
	if (s->has_until && r->time_ns > s->until_ns)
		return false;
	if (s->type >= 0 && r->type != s->type)
		return false;
	if (s->decision >= 0 &&
	    (r->type != AUD_T_SIGN || !aud_body_find(r->body, r->body_len, AUD_F_DECISION, &f) ||
	     aud_field_uint(&f) != (uint64_t)s->decision))
		return false;
	if (s->key != NULL &&
	    (!aud_body_find(r->body, r->body_len, AUD_F_KEY, &f) || f.len != strlen(s->key) ||
	     memcmp(f.val, s->key, f.len) != 0))
		return false;
	if (s->name != NULL && !str_field_contains(r->body, r->body_len, AUD_F_SUBJECT, s->name) &&
	    !str_field_contains(r->body, r->body_len, AUD_F_SAN, s->name))
		return false;
	if (s->has_serial && !has_serial(s, r->body, r->body_len))
		return false;
	return true;
}

static int show_cb(void *ctx, const struct aud_rec *r)
{
	struct show *s = ctx;
	const char *t = aud_type_str(r->type);
	time_t sec = (time_t)(r->time_ns / 1000000000);
	struct tm tm;
	char ts[32];

	if (!matches(s, r))
		return 0;
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	printf("{\"seq\":%llu,\"time\":\"%s.%09lldZ\",\"type\":", (unsigned long long)r->seq, ts,
	       (long long)(r->time_ns % 1000000000));
	if (t != NULL)
		printf("\"%s\"", t);
	else
		printf("%u", r->type);
	printf(",\"file\":\"%s\",\"offset\":%llu,\"hash\":\"", r->file,
	       (unsigned long long)r->offset);
	tool_hex(stdout, r->hash, AUD_HASH_LEN);
	printf("\",\"body\":");
	print_fields(r->body, r->body_len);
	printf("}\n");
	s->shown++;
	return 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2, n -= 2;
	if (n == 0 || n > 2 * cap)
		return -1;
	*len = (n + 1) / 2;
	memset(out, 0, cap);
	for (size_t i = 0; i < n; i++) {
		char c = s[n - 1 - i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		out[*len - 1 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
	}
	return 0;
}

int tool_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
		{"serial", required_argument, NULL, 'n'}, {"name", required_argument, NULL, 'N'},
		{"key", required_argument, NULL, 'k'},	  {"decision", required_argument, NULL, 'd'},
		{"type", required_argument, NULL, 't'},	  {"revocations", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	bool revocations = false;
	struct show s = {.decision = -1, .type = -1};
	struct aud_scan_opts o = {0};
	struct aud_scan_result *res = malloc(sizeof *res);
	int c, ret = AUD_EXIT_USAGE;
	int64_t t;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'u':
			if (tool_parse_time(optarg, &t) != 0)
				goto usage;
			if (c == 's')
				s.has_since = true, s.since_ns = t * 1000000000;
			else
				s.has_until = true, s.until_ns = t * 1000000000 + 999999999;
			break;
		case 'n':
			if (parse_hex(optarg, s.serial, sizeof s.serial, &s.serial_len) != 0)
				goto usage;
			s.has_serial = true;
			break;
		case 'N':
			s.name = optarg;
			break;
		case 'r':
			revocations = true;
			break;
		case 'k':
			s.key = optarg;
			break;
		case 'd':
			if (strcmp(optarg, "allowed") == 0)
				s.decision = 1;
			else if (strcmp(optarg, "refused") == 0)
				s.decision = 0;
			else
				goto usage;
			break;
		case 't':
			for (int i = 1; i <= AUD_T_MAX; i++)
				if (strcmp(optarg, aud_type_str((uint16_t)i)) == 0)
					s.type = i;
			if (s.type < 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || res == NULL)
		goto usage;
	o.dir = argv[optind];
	if (revocations) {
		/* Revocations have their own filters: --key and --serial only. */
		if (s.has_since || s.has_until || s.name != NULL || s.decision >= 0 || s.type >= 0)
			goto usage;
		free(res);
		return tool_show_revocations(o.dir, s.key, s.has_serial ? s.serial : NULL,
					     s.serial_len);
	}
	o.cb = show_cb;
	o.cb_ctx = &s;
	if (aud_scan(&o, res) != AUD_V_OK) {
		fflush(stdout);
		tool_print_failure(stderr, o.dir, res);
		ret = AUD_EXIT_FAIL;
	} else {
		ret = AUD_EXIT_OK;
	}
	free(res);
	return ret;
usage:
	free(res);
	fprintf(stderr, "usage: warden-audit show LOGDIR [--since T] [--until T] [--serial HEX] "
			"[--name SUBSTR] [--key LABEL] [--decision allowed|refused] [--type TYPE]\n"
			"       warden-audit show LOGDIR --revocations [--key LABEL] [--serial HEX]\n");
	return AUD_EXIT_USAGE;
}
