/*
 * pol_names.c - host names, IP ranges, e-mail addresses and URI hosts: checking and
 * matching, with step-ca's x509.allow/deny semantics (docs/policy.md "Names").
 *
 * Everything is ASCII: raw UTF-8 is refused (IDNA A-labels are compared as given),
 * host names are folded to lower case, a wildcard is only ever the whole leftmost label.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pol_policy_int.h"

static bool fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return false;
}

static bool is_ldh(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool pn_dns_parse(const uint8_t *p, size_t len, bool wildcard_ok, struct pn_dns *out,
		  const char **why)
{
	size_t i = 0, n = 0, label_len = 0, label_start = 0;
	bool last_digits = true;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(why, "is empty");
	if (p[len - 1] == '.')
		return fail(why, "has a trailing dot");
	if (len > POL_DNS_MAX)
		return fail(why, "is longer than 253 bytes");
	if (len == 1 && p[0] == '*')
		return fail(why, "is only a wildcard");
	if (len >= 2 && p[0] == '*' && p[1] == '.') {
		if (!wildcard_ok)
			return fail(why, "is a wildcard name");
		out->wildcard = true;
		out->nlabels = 1;
		i = 2;
	}
	label_start = i;
	for (; i <= len; i++) {
		if (i == len || p[i] == '.') {
			label_len = i - label_start;
			if (label_len == 0)
				return fail(why, "has an empty label");
			if (label_len > POL_LABEL_MAX_LEN)
				return fail(why, "has a label longer than 63 bytes");
			if (p[label_start] == '-' || p[i - 1] == '-')
				return fail(why, "has a label that starts or ends with a hyphen");
			out->nlabels++;
			if (i < len) {
				out->name[n++] = '.';
				label_start = i + 1;
				last_digits = true;
			}
			continue;
		}
		uint8_t c = p[i];
		if (c == '*')
			return fail(why, "has a wildcard that is not the whole leftmost label");
		if (c == '\0')
			return fail(why, "contains a NUL byte");
		if (c >= 0x80)
			return fail(why, "contains raw UTF-8 (write the IDNA A-label, xn--...)");
		if (!is_ldh(c))
			return fail(why, "has a byte outside letters, digits and hyphen");
		if (c < '0' || c > '9')
			last_digits = false;
		out->name[n++] = (char)lower(c);
	}
	if (last_digits)
		return fail(why, "looks like an IP address (use an iPAddress name)");
	out->name[n] = '\0';
	return true;
}

bool pn_dns_match(const struct pn_dns *rule, const struct pn_dns *name, bool deny)
{
	if (rule->nlabels != name->nlabels)
		return false;
	if (!rule->wildcard && !name->wildcard)
		return strcmp(rule->name, name->name) == 0;
	if (rule->wildcard && name->wildcard)
		return strcmp(rule->name, name->name) == 0;
	if (rule->wildcard) { /* "*.example.com" against "www.example.com" */
		const char *dot = strchr(name->name, '.');
		return dot != NULL && strcmp(dot + 1, rule->name) == 0;
	}
	/* a wildcard name against an exact rule: denied when it covers the rule's name */
	if (!deny)
		return false;
	const char *dot = strchr(rule->name, '.');
	return dot != NULL && strcmp(dot + 1, name->name) == 0;
}

static bool parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static bool is_mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

bool pn_ip_parse_rule(const char *s, struct pn_ip *out, const char **why)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned prefix;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		return fail(why, "is not an IP address or CIDR range");
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1)
		out->len = 4;
	else if (inet_pton(AF_INET6, addr, out->addr) == 1)
		out->len = 16;
	else
		return fail(why, "is not an IP address or CIDR range");
	prefix = out->len * 8u;
	if (slash != NULL && !parse_prefix(slash + 1, out->len * 8u, &prefix))
		return fail(why, "has a bad prefix length");
	if (out->len == 16 && is_mapped(out->addr) && prefix >= 96) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->len = 4;
		prefix -= 96;
	}
	out->prefix = (uint8_t)prefix;
	for (unsigned b = prefix; b < out->len * 8u; b++)
		if (out->addr[b / 8] & (0x80u >> (b % 8)))
			return fail(why, "has host bits set below the prefix");
	return true;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool pn_ip_match(const struct pn_ip *rule, const uint8_t *addr, size_t len)
{
	if (len == 16 && is_mapped(addr) && rule->len == 4 &&
	    prefix_eq(rule->addr, addr + 12, rule->prefix))
		return true;
	return rule->len == len && prefix_eq(rule->addr, addr, rule->prefix);
}

void pn_ip_text(const uint8_t *addr, size_t len, char *buf, size_t cap)
{
	if (cap == 0)
		return;
	if ((len != 4 && len != 16) ||
	    inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)cap) == NULL)
		snprintf(buf, cap, "(bad address)");
}

static bool is_atext(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool pn_email_parse(const uint8_t *p, size_t len, struct pn_email *out, const char **why)
{
	size_t i = 0, c = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(why, "is empty");
	if (memchr(p, '\0', len) != NULL)
		return fail(why, "contains a NUL byte");
	if (p[0] == '"') {
		out->quoted = true;
		for (i = 1; i < len && p[i] != '"'; i++) {
			uint8_t b = p[i];
			if (b == '\\') {
				if (i + 1 >= len || p[i + 1] < 32 || p[i + 1] > 126)
					return fail(why, "has a bad escape in its quoted local part");
				b = p[++i];
			} else if (b < 32 || b > 126 || b == '\\') {
				return fail(why, "has a byte not allowed in a quoted local part");
			}
			if (c >= 64)
				return fail(why, "has a local part longer than 64 bytes");
			out->canon[c++] = (char)b;
		}
		if (i >= len)
			return fail(why, "has an unterminated quoted local part");
		i++;
		if (i >= len || p[i] != '@')
			return fail(why, "has bytes after its quoted local part");
	} else {
		for (; i < len && p[i] != '@'; i++) {
			if (p[i] >= 0x80)
				return fail(why, "contains raw UTF-8");
			if (p[i] == '.' ? (i == 0 || p[i - 1] == '.' || i + 1 >= len || p[i + 1] == '@')
					: !is_atext(p[i]))
				return fail(why, "has a local part that is not a dot-atom");
			if (c >= 64)
				return fail(why, "has a local part longer than 64 bytes");
			out->canon[c++] = (char)p[i];
		}
		if (i == 0)
			return fail(why, "has an empty local part");
		if (i >= len)
			return fail(why, "has no '@'");
	}
	if (i > 64)
		return fail(why, "has a local part longer than 64 bytes");
	memcpy(out->local, p, i);
	out->local[i] = '\0';
	out->has_local = true;
	const char *dwhy = NULL;
	if (!pn_dns_parse(p + i + 1, len - i - 1, false, &out->domain, &dwhy)) {
		if (why != NULL)
			*why = "has a domain that is not a valid host name";
		return false;
	}
	return true;
}

bool pn_email_parse_rule(const char *s, struct pn_email *out, const char **why)
{
	size_t len = strlen(s);
	if (len > 0 && s[0] == '@') {
		memset(out, 0, sizeof(*out));
		const char *dwhy = NULL;
		if (!pn_dns_parse((const uint8_t *)s + 1, len - 1, false, &out->domain, &dwhy))
			return fail(why, dwhy);
		return true;
	}
	if (strchr(s, '@') == NULL)
		return fail(why, "is neither a mailbox (name@example.com) nor a domain (@example.com)");
	return pn_email_parse((const uint8_t *)s, len, out, why);
}

bool pn_email_match(const struct pn_email *rule, const struct pn_email *name, bool deny)
{
	if (strcmp(rule->domain.name, name->domain.name) != 0)
		return false;
	if (!rule->has_local)
		return true;
	if (deny)
		return strcasecmp(rule->canon, name->canon) == 0;
	return !name->quoted && strcmp(rule->local, name->local) == 0;
}

bool pn_uri_host(const uint8_t *p, size_t len, struct pn_dns *out, const char **why)
{
	size_t i = 0, a, end, host, host_end;

	memset(out, 0, sizeof(*out));
	for (size_t k = 0; k < len; k++)
		if (p[k] <= 0x20 || p[k] >= 0x7f)
			return fail(why, "contains a control byte, a space or raw UTF-8");
	if (len == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return fail(why, "has no scheme");
	while (i < len && p[i] != ':') {
		uint8_t c = p[i];
		if (!(is_ldh(c) || c == '+' || c == '.'))
			return fail(why, "has a bad scheme");
		i++;
	}
	if (i >= len)
		return fail(why, "has no scheme");
	if (len - i < 3 || p[i + 1] != '/' || p[i + 2] != '/')
		return fail(why, "has no authority (host)");
	a = i + 3;
	for (end = a; end < len && p[end] != '/' && p[end] != '?' && p[end] != '#'; end++)
		;
	host = a;
	for (size_t k = a; k < end; k++)
		if (p[k] == '@')
			host = k + 1; /* userinfo ends at the last '@' of the authority */
	if (host < end && p[host] == '[')
		return fail(why, "has an IP-literal host");
	host_end = end;
	for (size_t k = host; k < end; k++) {
		if (p[k] == ':') {
			size_t port_len = end - k - 1;
			unsigned long port = 0;
			if (port_len == 0 || port_len > 5)
				return fail(why, "has an empty or bad port");
			for (size_t j = k + 1; j < end; j++) {
				if (p[j] < '0' || p[j] > '9')
					return fail(why, "has an empty or bad port");
				port = port * 10 + (unsigned long)(p[j] - '0');
			}
			if (port > 65535)
				return fail(why, "has an empty or bad port");
			host_end = k;
			break;
		}
	}
	if (host_end == host)
		return fail(why, "has an empty host");
	return pn_dns_parse(p + host, host_end - host, false, out, why);
}

void pn_text(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	size_t n = 0;
	static const char hex[] = "0123456789abcdef";

	if (cap == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		size_t need = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') ? 1 : 4;
		if (n + need + 4 > cap) { /* room for "..." and the NUL */
			if (n + 3 < cap)
				memcpy(buf + n, "...", 3), n += 3;
			break;
		}
		if (need == 1) {
			buf[n++] = (char)p[i];
		} else {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[p[i] >> 4];
			buf[n++] = hex[p[i] & 15];
		}
	}
	buf[n] = '\0';
}
