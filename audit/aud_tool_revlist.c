/*
 * aud_tool_revlist.c - `warden-audit show LOGDIR --revocations [--key LABEL]
 * [--serial HEX]`: every revocation the log knows, as JSON lines in log order.
 *
 * The revocations are the revocation fields (AUD_F_REVOCATION, pol_revocation_encode) of
 * allowed SIGN records outside a refused range: exactly what the enclave's replay feeds
 * its policy state.  The enclave records a revocation only when it is new to the state,
 * so each (key, serial) appears once; a later record of the same pair (a CRL scope that
 * lists a known revocation for the first time) is folded into the first.  Lines:
 *   {"key":"ca","serial":"05","revocation_time":"...Z","revocation_time_s":N,
 *    "reason":1,"reason_name":"keyCompromise","source":"crl","seq":12,
 *    "recorded":"...Z","also_seq":[...]}
 * reason is null for "none or unspecified".
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aud_tool.h"
#include "policy.h"

#define REVLIST_MAX_ENTRIES (64u * 1024u * 1024u)
#define REVLIST_MAX_REFUSED 1024u
#define REVLIST_MAX_ALSO 8u

struct rl_entry {
	char key[POL_NAME_MAX];
	struct pol_revocation rev;
	uint64_t seq;
	int64_t time_ns;
	uint64_t also[REVLIST_MAX_ALSO];
	uint32_t num_also;
	bool dup;
};

struct revlist {
	const char *key;
	const uint8_t *serial;
	size_t serial_len;
	struct rl_entry *e;
	size_t num, cap;
	struct {
		uint64_t from, to;
	} refused[REVLIST_MAX_REFUSED];
	size_t num_refused;
	bool oom;
};

static const char *const reason_names[] = {
	"unspecified",	"keyCompromise",	"cACompromise",	  "affiliationChanged",
	"superseded",	"cessationOfOperation", "certificateHold", "unused7",
	"removeFromCRL", "privilegeWithdrawn",	"aACompromise",
};

static bool serial_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	while (al > 1 && a[0] == 0)
		a++, al--;
	while (bl > 1 && b[0] == 0)
		b++, bl--;
	return al == bl && memcmp(a, b, al) == 0;
}

static int rl_cb(void *ctx, const struct aud_rec *rec)
{
	struct revlist *l = ctx;
	struct aud_field f, key;
	struct aud_cur c;

	if (rec->type == AUD_T_RECOVERY &&
	    aud_body_find(rec->body, rec->body_len, AUD_F_REFUSED_FROM, &f) &&
	    l->num_refused < REVLIST_MAX_REFUSED) {
		l->refused[l->num_refused].from = aud_field_uint(&f);
		l->refused[l->num_refused].to =
			aud_body_find(rec->body, rec->body_len, AUD_F_REFUSED_TO, &f)
				? aud_field_uint(&f) : rec->seq;
		l->num_refused++;
		return 0;
	}
	if (rec->type != AUD_T_SIGN || !aud_body_find(rec->body, rec->body_len, AUD_F_DECISION, &f) ||
	    aud_field_uint(&f) != 1 || !aud_body_find(rec->body, rec->body_len, AUD_F_KEY, &key) ||
	    key.len >= POL_NAME_MAX)
		return 0;
	if (l->key != NULL && (key.len != strlen(l->key) || memcmp(key.val, l->key, key.len) != 0))
		return 0;
	c = (struct aud_cur){rec->body, rec->body_len};
	while (aud_field_next(&c, &f) == 1) {
		struct rl_entry *e;

		if (f.tag != AUD_F_REVOCATION)
			continue;
		if (l->num == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 256;
			struct rl_entry *n = cap <= REVLIST_MAX_ENTRIES ? realloc(l->e, cap * sizeof *n)
									: NULL;

			if (n == NULL) {
				l->oom = true;
				return 1;
			}
			l->e = n;
			l->cap = cap;
		}
		e = &l->e[l->num];
		memset(e, 0, sizeof *e);
		if (!pol_revocation_decode(f.val, f.len, &e->rev)) {
			fprintf(stderr, "warden-audit: record %llu: a revocation field does not "
					"decode (skipped)\n", (unsigned long long)rec->seq);
			continue;
		}
		if (l->serial != NULL &&
		    !serial_eq(e->rev.serial, e->rev.serial_len, l->serial, l->serial_len))
			continue;
		memcpy(e->key, key.val, key.len);
		e->seq = rec->seq;
		e->time_ns = rec->time_ns;
		l->num++;
	}
	return 0;
}

static bool refused(const struct revlist *l, uint64_t seq)
{
	for (size_t i = 0; i < l->num_refused; i++)
		if (seq >= l->refused[i].from && seq <= l->refused[i].to)
			return true;
	return false;
}

static int by_pair(const void *a, const void *b)
{
	const struct rl_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	if (x->rev.serial_len != y->rev.serial_len)
		return x->rev.serial_len < y->rev.serial_len ? -1 : 1;
	c = memcmp(x->rev.serial, y->rev.serial, x->rev.serial_len);
	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_seq(const void *a, const void *b)
{
	const struct rl_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return by_pair(a, b);
}

static void print_iso(int64_t s, long ns)
{
	time_t t = (time_t)s;
	struct tm tm;
	char buf[32];

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, sizeof buf, "%lld", (long long)s);
	if (ns >= 0)
		printf("\"%s.%09ldZ\"", buf, ns);
	else
		printf("\"%sZ\"", buf);
}

static void print_entry(const struct rl_entry *e)
{
	printf("{\"key\":");
	tool_json_str(stdout, (const uint8_t *)e->key, strlen(e->key));
	printf(",\"serial\":\"");
	tool_hex(stdout, e->rev.serial, e->rev.serial_len);
	printf("\",\"revocation_time\":");
	print_iso(e->rev.time, -1);
	printf(",\"revocation_time_s\":%lld,\"reason\":", (long long)e->rev.time);
	if (e->rev.reason < 0)
		printf("null,\"reason_name\":null");
	else
		printf("%d,\"reason_name\":\"%s\"", e->rev.reason,
		       (size_t)e->rev.reason < sizeof reason_names / sizeof reason_names[0]
			       ? reason_names[e->rev.reason] : "unknown");
	printf(",\"source\":\"%s\",\"seq\":%llu,\"recorded\":",
	       e->rev.source == POL_REV_SRC_CRL ? "crl" : e->rev.source == POL_REV_SRC_OCSP ? "ocsp"
											    : "?",
	       (unsigned long long)e->seq);
	print_iso(e->time_ns / 1000000000, (long)(e->time_ns % 1000000000));
	if (e->num_also > 0) {
		printf(",\"also_seq\":[");
		for (uint32_t i = 0; i < e->num_also; i++)
			printf("%s%llu", i ? "," : "", (unsigned long long)e->also[i]);
		printf("]");
	}
	printf("}\n");
}

int tool_show_revocations(const char *dir, const char *key, const uint8_t *serial,
			  size_t serial_len)
{
	struct revlist *l = calloc(1, sizeof *l);
	struct aud_scan_opts o = {0};
	struct aud_scan_result *res = malloc(sizeof *res);
	int ret = AUD_EXIT_USAGE;
	size_t n = 0;

	if (l == NULL || res == NULL)
		goto out;
	l->key = key;
	l->serial = serial;
	l->serial_len = serial_len;
	o.dir = dir;
	o.cb = rl_cb;
	o.cb_ctx = l;
	if (aud_scan(&o, res) != AUD_V_OK) {
		if (l->oom) {
			fprintf(stderr, "warden-audit: out of memory\n");
			goto out;
		}
		tool_print_failure(stderr, dir, res);
		ret = AUD_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < l->num; i++)
		if (!refused(l, l->e[i].seq))
			l->e[n++] = l->e[i];
	if (n > 1) /* qsort's array must not be NULL, even for 0 entries */
		qsort(l->e, n, sizeof *l->e, by_pair);
	for (size_t i = 1, first = 0; i < n; i++) {
		struct rl_entry *a = &l->e[first], *b = &l->e[i];

		if (strcmp(a->key, b->key) == 0 && a->rev.serial_len == b->rev.serial_len &&
		    memcmp(a->rev.serial, b->rev.serial, a->rev.serial_len) == 0) {
			b->dup = true;
			if (a->num_also < REVLIST_MAX_ALSO)
				a->also[a->num_also++] = b->seq;
		} else {
			first = i;
		}
	}
	if (n > 1)
		qsort(l->e, n, sizeof *l->e, by_seq);
	for (size_t i = 0; i < n; i++)
		if (!l->e[i].dup)
			print_entry(&l->e[i]);
	ret = AUD_EXIT_OK;
out:
	if (l != NULL)
		free(l->e);
	free(l);
	free(res);
	return ret;
}
