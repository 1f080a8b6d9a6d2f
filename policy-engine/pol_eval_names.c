/*
 * pol_eval_names.c - a certificate's names against one step-ca style rules block:
 * every SAN checked for syntax, deny rules first (deny wins), then allow rules (when any
 * allow rule exists, a name type with none is denied), then the subject commonName.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pol_policy_int.h"

#define SHOWN_MAX 160u

static void show_dns(const struct pn_dns *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%.253s", r->wildcard ? "*." : "", r->name);
}

static bool check_dns(const struct pn_rules *r, const char *who, const struct pn_dns *n,
		      const char *shown, struct pol_decision *d)
{
	char rule[POL_DNS_MAX + 3];
	for (size_t i = 0; i < r->deny.num_dns; i++)
		if (pn_dns_match(&r->deny.dns[i], n, true)) {
			show_dns(&r->deny.dns[i], rule, sizeof(rule));
			return pol_refuse(d, POL_R_DNS_DENIED, "dNSName %s is denied by %s: deny rule "
					  "'%.200s' matches", shown, who, rule);
		}
	if (!pn_list_any(&r->allow))
		return true;
	for (size_t i = 0; i < r->allow.num_dns; i++)
		if (pn_dns_match(&r->allow.dns[i], n, false))
			return true;
	return pol_refuse(d, POL_R_DNS_NOT_ALLOWED, "dNSName %s is not allowed by %s: %s", shown,
			  who, r->allow.num_dns ? "no allow rule matches"
						: "it allows no dNSName (other types have allow rules)");
}

static bool check_ip(const struct pn_rules *r, const char *who, const uint8_t *a, size_t len,
		     struct pol_decision *d)
{
	char shown[64];
	pn_ip_text(a, len, shown, sizeof(shown));
	for (size_t i = 0; i < r->deny.num_ip; i++)
		if (pn_ip_match(&r->deny.ip[i], a, len))
			return pol_refuse(d, POL_R_IP_DENIED, "iPAddress %s is denied by %s", shown, who);
	if (!pn_list_any(&r->allow))
		return true;
	for (size_t i = 0; i < r->allow.num_ip; i++)
		if (pn_ip_match(&r->allow.ip[i], a, len))
			return true;
	return pol_refuse(d, POL_R_IP_NOT_ALLOWED, "iPAddress %s is not allowed by %s: %s", shown,
			  who, r->allow.num_ip ? "no allow rule matches"
					       : "it allows no iPAddress (other types have allow rules)");
}

static bool check_email(const struct pn_rules *r, const char *who, const struct pn_email *e,
			const char *shown, struct pol_decision *d)
{
	for (size_t i = 0; i < r->deny.num_email; i++)
		if (pn_email_match(&r->deny.email[i], e, true))
			return pol_refuse(d, POL_R_EMAIL_DENIED, "rfc822Name %s is denied by %s", shown,
					  who);
	if (!pn_list_any(&r->allow))
		return true;
	for (size_t i = 0; i < r->allow.num_email; i++)
		if (pn_email_match(&r->allow.email[i], e, false))
			return true;
	return pol_refuse(d, POL_R_EMAIL_NOT_ALLOWED, "rfc822Name %s is not allowed by %s: %s",
			  shown, who, r->allow.num_email ? "no allow rule matches"
							 : "it allows no rfc822Name (other types "
							   "have allow rules)");
}

static bool check_uri(const struct pn_rules *r, const char *who, const struct pn_dns *host,
		      const char *shown, struct pol_decision *d)
{
	for (size_t i = 0; i < r->deny.num_uri; i++)
		if (pn_dns_match(&r->deny.uri[i], host, true))
			return pol_refuse(d, POL_R_URI_DENIED, "URI %s is denied by %s", shown, who);
	if (!pn_list_any(&r->allow))
		return true;
	for (size_t i = 0; i < r->allow.num_uri; i++)
		if (pn_dns_match(&r->allow.uri[i], host, false))
			return true;
	return pol_refuse(d, POL_R_URI_NOT_ALLOWED, "URI %s is not allowed by %s: %s", shown, who,
			  r->allow.num_uri ? "no allow rule matches"
					   : "it allows no URI (other types have allow rules)");
}

/* The commonName: its own rules when there are any, else by what it looks like. */
static bool check_cn(const struct pn_rules *r, bool wildcard_ok, const char *who,
		     const struct pol_cert_facts *f, struct pol_decision *d)
{
	const struct pol_name *s = &f->subject;
	char cn[POL_CN_MAX + 1], shown[SHOWN_MAX];
	const char *why;

	if (s->num_cn == 0)
		return true;
	pn_text(s->cn.p, s->cn.len, shown, sizeof(shown));
	if (s->cn.len > POL_CN_MAX || memchr(s->cn.p, '\0', s->cn.len) != NULL)
		return pol_refuse(d, POL_R_CN_INVALID, "the commonName %s is too long or has a NUL "
				  "byte", shown);
	memcpy(cn, s->cn.p, s->cn.len);
	cn[s->cn.len] = '\0';
	for (size_t i = 0; i < r->deny.num_cn; i++)
		if (strcmp(r->deny.cn[i], cn) == 0)
			return pol_refuse(d, POL_R_CN_DENIED, "commonName %s is denied by %s", shown, who);
	if (r->allow.num_cn > 0) {
		for (size_t i = 0; i < r->allow.num_cn; i++)
			if (strcmp(r->allow.cn[i], cn) == 0)
				return true;
		return pol_refuse(d, POL_R_CN_NOT_ALLOWED, "commonName %s is not allowed by %s: no "
				  "commonNames rule matches", shown, who);
	}
	/* no commonNames allow rule: judged as the name type it is (step-ca) */
	uint8_t ip[16];
	struct pn_email e;
	struct pn_dns n;
	if (inet_pton(AF_INET, cn, ip) == 1)
		return check_ip(r, who, ip, 4, d);
	if (inet_pton(AF_INET6, cn, ip) == 1)
		return check_ip(r, who, ip, 16, d);
	if (strchr(cn, '@') != NULL && pn_email_parse((const uint8_t *)cn, s->cn.len, &e, &why))
		return check_email(r, who, &e, shown, d);
	if (pn_dns_parse((const uint8_t *)cn, s->cn.len, wildcard_ok, &n, &why))
		return check_dns(r, who, &n, shown, d);
	if (pn_list_any(&r->allow))
		return pol_refuse(d, POL_R_CN_NOT_ALLOWED, "commonName %s is not allowed by %s: it is "
				  "not a host name, IP or e-mail address and no commonNames rule "
				  "allows it", shown, who);
	return true;
}

bool pol_eval_names(const struct pn_rules *r, bool wildcard_ok, const char *who,
		    const struct pol_cert_facts *f, struct pol_decision *d)
{
	char shown[SHOWN_MAX];
	const char *why = NULL;

	for (size_t i = 0; i < f->num_san; i++) {
		const struct pol_gn *g = &f->san[i];
		pn_text(g->value.p, g->value.len, shown, sizeof(shown));
		switch (g->type) {
		case POL_GN_DNS: {
			struct pn_dns n;
			if (!pn_dns_parse(g->value.p, g->value.len, wildcard_ok, &n, &why)) {
				bool wc = g->value.len > 1 && g->value.p[0] == '*' && g->value.p[1] == '.';
				if (wc && strcmp(why, "is a wildcard name") == 0)
					return pol_refuse(d, POL_R_DNS_WILDCARD, "dNSName %s is a wildcard "
							  "and %s does not set allowWildcardNames", shown, who);
				return pol_refuse(d, POL_R_DNS_INVALID, "dNSName %s %s", shown, why);
			}
			if (!check_dns(r, who, &n, shown, d))
				return false;
			break;
		}
		case POL_GN_IP:
			if (!check_ip(r, who, g->value.p, g->value.len, d))
				return false;
			break;
		case POL_GN_RFC822: {
			struct pn_email e;
			if (!pn_email_parse(g->value.p, g->value.len, &e, &why))
				return pol_refuse(d, POL_R_EMAIL_INVALID, "rfc822Name %s %s", shown, why);
			if (!check_email(r, who, &e, shown, d))
				return false;
			break;
		}
		case POL_GN_URI: {
			struct pn_dns host;
			if (!pn_uri_host(g->value.p, g->value.len, &host, &why))
				return pol_refuse(d, POL_R_URI_INVALID, "URI %s %s", shown, why);
			if (!check_uri(r, who, &host, shown, d))
				return false;
			break;
		}
		default:
			return pol_refuse(d, POL_R_SAN_UNSUPPORTED, "the subjectAltName holds a %s, which "
					  "the policy cannot check",
					  g->type == POL_GN_OTHER_NAME ? "otherName"
					  : g->type == POL_GN_DIRNAME ? "directoryName"
								      : "x400Address, ediPartyName or "
									"registeredID");
		}
	}
	return check_cn(r, wildcard_ok, who, f, d);
}
