/*
 * pol_policy_names.c - the loader's helpers (JSON paths, strict objects) and the
 * step-ca compatible name block: {"allow": {...}, "deny": {...}, "allowWildcardNames"}.
 *
 * Both spellings step-ca uses are read: ca.json's ("dns", "ip", "email", "uri", "cn")
 * and the admin API's ("dns", "ips", "emails", "uris", "commonNames"), so either can be
 * pasted; giving both spellings of one type in the same block is refused.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pol_policy_int.h"

size_t pol_ld_push(struct pol_ld *ld, const char *key)
{
	size_t saved = ld->plen;
	int n = snprintf(ld->path + ld->plen, sizeof(ld->path) - ld->plen, "%s%s",
			 ld->plen > 0 ? "." : "", key);
	if (n > 0)
		ld->plen += (size_t)n < sizeof(ld->path) - ld->plen ? (size_t)n
								    : sizeof(ld->path) - ld->plen - 1;
	return saved;
}

size_t pol_ld_push_idx(struct pol_ld *ld, size_t i)
{
	size_t saved = ld->plen;
	int n = snprintf(ld->path + ld->plen, sizeof(ld->path) - ld->plen, "[%zu]", i);
	if (n > 0)
		ld->plen += (size_t)n < sizeof(ld->path) - ld->plen ? (size_t)n
								    : sizeof(ld->path) - ld->plen - 1;
	return saved;
}

void pol_ld_pop(struct pol_ld *ld, size_t saved)
{
	ld->plen = saved;
	ld->path[saved] = '\0';
}

bool pol_ld_fail(struct pol_ld *ld, const char *fmt, ...)
{
	va_list ap;
	if (ld->failed)
		return false;
	ld->failed = true;
	snprintf(ld->err->path, sizeof(ld->err->path), "%s", ld->path);
	va_start(ap, fmt);
	vsnprintf(ld->err->msg, sizeof(ld->err->msg), fmt, ap);
	va_end(ap);
	return false;
}

bool pol_ld_object(struct pol_ld *ld, const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return pol_ld_fail(ld, "must be an object");
	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] != NULL && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok) {
			char list[256] = "";
			size_t n = 0;
			for (size_t i = 0; allowed[i] != NULL && n < sizeof(list); i++) {
				int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
						 allowed[i]);
				if (w < 0)
					break;
				n += (size_t)w;
			}
			char shown[64];
			pn_text((const uint8_t *)key, strlen(key), shown, sizeof(shown));
			(void)pol_ld_push(ld, shown);
			return pol_ld_fail(ld, "unknown key (allowed here: %s)", list);
		}
	}
	return true;
}

bool pol_oid_from_text(const char *s, uint8_t *out, size_t *out_len)
{
	uint64_t arcs[DER_MAX_OID_LEN];
	size_t n = 0, len = 0;
	const char *p = s;

	while (*p) {
		uint64_t v = 0;
		if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
			return false;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (UINT64_MAX - 9) / 10)
				return false;
			v = v * 10 + (uint64_t)(*p - '0');
		}
		if (n >= DER_MAX_OID_LEN)
			return false;
		arcs[n++] = v;
		if (*p == '.' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			return false;
	}
	if (n < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) || arcs[1] > UINT64_MAX - 80)
		return false;
	arcs[1] += arcs[0] * 40;
	for (size_t i = 1; i < n; i++) {
		uint8_t tmp[10];
		size_t k = 0;
		uint64_t v = arcs[i];
		do {
			tmp[k++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v != 0);
		if (len + k > DER_MAX_OID_LEN)
			return false;
		while (k > 0) {
			k--;
			out[len++] = (uint8_t)(tmp[k] | (k > 0 ? 0x80 : 0));
		}
	}
	*out_len = len;
	return true;
}

enum ntype { NT_DNS, NT_IP, NT_EMAIL, NT_URI, NT_CN, NT_NUM };

static const struct {
	const char *a, *b; /* ca.json spelling, admin-API spelling */
} ntype_keys[NT_NUM] = {
	[NT_DNS] = { "dns", NULL },
	[NT_IP] = { "ip", "ips" },
	[NT_EMAIL] = { "email", "emails" },
	[NT_URI] = { "uri", "uris" },
	[NT_CN] = { "cn", "commonNames" },
};

static bool add_rule(struct pol_ld *ld, struct pn_list *l, enum ntype t, const char *s, size_t slen)
{
	const char *why = NULL;
	char shown[128];
	pn_text((const uint8_t *)s, slen, shown, sizeof(shown));
	if (slen != strlen(s))
		return pol_ld_fail(ld, "'%s' contains a NUL byte", shown);
	switch (t) {
	case NT_DNS:
		if (!pn_dns_parse((const uint8_t *)s, slen, true, &l->dns[l->num_dns], &why))
			return pol_ld_fail(ld, "'%s' %s", shown, why);
		l->num_dns++;
		return true;
	case NT_IP:
		if (!pn_ip_parse_rule(s, &l->ip[l->num_ip], &why))
			return pol_ld_fail(ld, "'%s' %s", shown, why);
		l->num_ip++;
		return true;
	case NT_EMAIL:
		if (!pn_email_parse_rule(s, &l->email[l->num_email], &why))
			return pol_ld_fail(ld, "'%s' %s", shown, why);
		l->num_email++;
		return true;
	case NT_URI:
		if (strstr(s, "://") != NULL)
			return pol_ld_fail(ld, "'%s' is a URI: URI rules are host names "
					       "(\"host.example.com\" or \"*.example.com\")", shown);
		if (!pn_dns_parse((const uint8_t *)s, slen, true, &l->uri[l->num_uri], &why))
			return pol_ld_fail(ld, "'%s' %s", shown, why);
		l->num_uri++;
		return true;
	case NT_CN:
		if (slen == 0 || slen > POL_CN_MAX)
			return pol_ld_fail(ld, "a common name must be 1 to %u bytes", POL_CN_MAX);
		l->cn[l->num_cn] = strdup(s);
		if (l->cn[l->num_cn] == NULL)
			return pol_ld_fail(ld, "out of memory");
		l->num_cn++;
		return true;
	default:
		return pol_ld_fail(ld, "internal error");
	}
}

static bool load_list(struct pol_ld *ld, const json_t *obj, struct pn_list *l)
{
	static const char *const keys[] = { "dns", "ip", "ips", "email", "emails", "uri", "uris",
					    "cn", "commonNames", NULL };
	if (!pol_ld_object(ld, obj, keys))
		return false;
	for (int t = 0; t < NT_NUM; t++) {
		json_t *a = json_object_get(obj, ntype_keys[t].a);
		json_t *b = ntype_keys[t].b != NULL ? json_object_get(obj, ntype_keys[t].b) : NULL;
		const char *key = a != NULL ? ntype_keys[t].a : ntype_keys[t].b;
		if (a != NULL && b != NULL) {
			(void)pol_ld_push(ld, ntype_keys[t].b);
			return pol_ld_fail(ld, "both \"%s\" and \"%s\" given: use one",
					   ntype_keys[t].a, ntype_keys[t].b);
		}
		json_t *arr = a != NULL ? a : b;
		if (arr == NULL)
			continue;
		size_t saved = pol_ld_push(ld, key), n = json_array_size(arr), i;
		json_t *v;
		if (!json_is_array(arr))
			return pol_ld_fail(ld, "must be an array of strings");
		if (n > POL_MAX_RULES)
			return pol_ld_fail(ld, "has more than %u entries", POL_MAX_RULES);
		void *mem = calloc(n > 0 ? n : 1, t == NT_DNS || t == NT_URI ? sizeof(struct pn_dns)
						  : t == NT_IP		     ? sizeof(struct pn_ip)
						  : t == NT_EMAIL	     ? sizeof(struct pn_email)
									     : sizeof(char *));
		if (mem == NULL)
			return pol_ld_fail(ld, "out of memory");
		switch (t) {
		case NT_DNS: l->dns = mem; break;
		case NT_IP: l->ip = mem; break;
		case NT_EMAIL: l->email = mem; break;
		case NT_URI: l->uri = mem; break;
		default: l->cn = mem; break;
		}
		json_array_foreach(arr, i, v) {
			size_t s2 = pol_ld_push_idx(ld, i);
			if (!json_is_string(v))
				return pol_ld_fail(ld, "must be a string");
			if (!add_rule(ld, l, (enum ntype)t, json_string_value(v), json_string_length(v)))
				return false;
			pol_ld_pop(ld, s2);
		}
		pol_ld_pop(ld, saved);
	}
	return true;
}

bool pol_ld_names(struct pol_ld *ld, const json_t *obj, struct pn_rules *r)
{
	static const char *const keys[] = { "allow", "deny", "allowWildcardNames", NULL };
	json_t *v;
	size_t saved;
	if (!pol_ld_object(ld, obj, keys))
		return false;
	r->present = true;
	if ((v = json_object_get(obj, "allow")) != NULL) {
		saved = pol_ld_push(ld, "allow");
		if (!load_list(ld, v, &r->allow))
			return false;
		pol_ld_pop(ld, saved);
	}
	if ((v = json_object_get(obj, "deny")) != NULL) {
		saved = pol_ld_push(ld, "deny");
		if (!load_list(ld, v, &r->deny))
			return false;
		pol_ld_pop(ld, saved);
	}
	if ((v = json_object_get(obj, "allowWildcardNames")) != NULL) {
		saved = pol_ld_push(ld, "allowWildcardNames");
		if (!json_is_boolean(v))
			return pol_ld_fail(ld, "must be true or false");
		r->allow_wildcard = json_is_true(v);
		pol_ld_pop(ld, saved);
	}
	return true;
}

static void list_free(struct pn_list *l)
{
	for (size_t i = 0; i < l->num_cn; i++)
		free(l->cn[i]);
	free(l->cn);
	free(l->dns);
	free(l->ip);
	free(l->email);
	free(l->uri);
	memset(l, 0, sizeof(*l));
}

void pn_rules_free(struct pn_rules *r)
{
	list_free(&r->allow);
	list_free(&r->deny);
}
