/*
 * pol_eval_cert.c - the rules for a TBSCertificate: signature algorithm and issuer,
 * serial, profile selection, validity, public key, extensions, names, rate-limit
 * charges, and the audit summary.
 */
#include <arpa/inet.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pol_internal.h"
#include "pol_policy_int.h"

/* --- summary ----------------------------------------------------------------------- */

static const char *attr_short(enum pol_attr_type t)
{
	switch (t) {
	case POL_ATTR_CN: return "CN";
	case POL_ATTR_C: return "C";
	case POL_ATTR_O: return "O";
	case POL_ATTR_OU: return "OU";
	case POL_ATTR_L: return "L";
	case POL_ATTR_ST: return "ST";
	case POL_ATTR_SERIAL_NUMBER: return "serialNumber";
	case POL_ATTR_EMAIL: return "emailAddress";
	case POL_ATTR_DC: return "DC";
	case POL_ATTR_STREET: return "street";
	default: return "OID";
	}
}

/* Appends to a summary text, ending it in "..." when it no longer fits. */
static void append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf), l = strlen(s);
	if (n + 3 >= cap || (n >= 3 && strcmp(buf + n - 3, "...") == 0))
		return;
	if (n + l + 4 > cap) {
		memcpy(buf + n, "...", 4);
		return;
	}
	memcpy(buf + n, s, l + 1);
}

static void summarise(const struct pol_cert_facts *f, struct pol_summary *s)
{
	char item[300], val[260];
	if (f->serial.len <= POL_RFC_SERIAL_MAX) {
		memcpy(s->serial, f->serial.p, f->serial.len);
		s->serial_len = (uint32_t)f->serial.len;
		for (size_t i = 0; i < f->serial.len; i++)
			snprintf(s->serial_hex + 2 * i, 3, "%02X", f->serial.p[i]);
	} else {
		snprintf(s->serial_hex, sizeof(s->serial_hex), "(longer than 20 octets)");
	}
	s->not_before = f->not_before;
	s->not_after = f->not_after;
	for (size_t i = 0; i < f->subject.num_attrs; i++) {
		const struct pol_attr *a = &f->subject.attrs[i];
		pn_text(a->value.p, a->value.len, val, sizeof(val));
		snprintf(item, sizeof(item), "%s%s=%s", i ? ", " : "", attr_short(a->type), val);
		append(s->subject, sizeof(s->subject), item);
	}
	for (size_t i = 0; i < f->num_san; i++) {
		const struct pol_gn *g = &f->san[i];
		const char *t = g->type == POL_GN_DNS ? "DNS" : g->type == POL_GN_IP ? "IP"
				: g->type == POL_GN_RFC822 ? "email" : g->type == POL_GN_URI ? "URI"
				: g->type == POL_GN_OTHER_NAME ? "otherName"
				: g->type == POL_GN_DIRNAME ? "dirName" : "other";
		if (g->type == POL_GN_IP)
			pn_ip_text(g->value.p, g->value.len, val, sizeof(val));
		else if (g->type == POL_GN_DNS || g->type == POL_GN_RFC822 || g->type == POL_GN_URI)
			pn_text(g->value.p, g->value.len, val, sizeof(val));
		else
			val[0] = '\0';
		snprintf(item, sizeof(item), "%s%s%s%s", i ? ", " : "", t, val[0] ? ":" : "", val);
		append(s->sans, sizeof(s->sans), item);
	}
	if (f->has_provisioner) {
		pn_text(f->provisioner.name.p, f->provisioner.name.len, val, POL_NAME_MAX);
		snprintf(s->provisioner, sizeof(s->provisioner), "%llu/%.64s",
			 (unsigned long long)f->provisioner.type, val);
	}
}

/* --- profile selection --------------------------------------------------------------- */

static bool profile_matches(const struct pol_match *m, const struct pol_cert_facts *f)
{
	if (m->any)
		return true;
	if ((m->has_prov_type || m->has_prov_name) && !f->has_provisioner)
		return false;
	if (m->has_prov_type && f->provisioner.type != m->prov_type)
		return false;
	if (m->has_prov_name && !der_cur_eq_bytes(&f->provisioner.name, (const uint8_t *)m->prov_name,
						  strlen(m->prov_name)))
		return false;
	if (m->eku != 0 && (f->eku_flags & m->eku) == 0)
		return false;
	if (m->has_ca && (f->has_basic_constraints && f->bc_ca) != m->ca)
		return false;
	return true;
}

/* --- rules ------------------------------------------------------------------------- */

static bool check_validity(const struct pol_constraints *c, const struct pol_cert_facts *f,
			   const struct pol_ca_info *ca, int64_t now_ns, const char *prof,
			   struct pol_decision *d)
{
	int64_t now = now_ns / POL_NS_PER_S;
	if (f->not_after < f->not_before)
		return pol_refuse(d, POL_R_VALIDITY_INVERTED, "notAfter is before notBefore");
	if (f->not_before > now + c->clock_skew_s)
		return pol_refuse(d, POL_R_VALIDITY_FUTURE, "notBefore is %llds in the future, beyond "
				  "the clock skew of %llds allowed by profile %s",
				  (long long)(f->not_before - now), (long long)c->clock_skew_s, prof);
	if (f->not_before < now - c->max_backdate_s)
		return pol_refuse(d, POL_R_VALIDITY_BACKDATED, "notBefore is backdated by %llds, more "
				  "than the %llds allowed by profile %s",
				  (long long)(now - f->not_before), (long long)c->max_backdate_s, prof);
	if (f->not_after - f->not_before > c->max_lifetime_s)
		return pol_refuse(d, POL_R_VALIDITY_TOO_LONG, "the validity of %lld days is longer than "
				  "the %lld days allowed by profile %s",
				  (long long)((f->not_after - f->not_before) / 86400),
				  (long long)(c->max_lifetime_s / 86400), prof);
	if (c->within_ca && ca->has_cert && f->not_after > ca->not_after)
		return pol_refuse(d, POL_R_VALIDITY_BEYOND_CA, "notAfter is after the CA certificate's "
				  "notAfter");
	return true;
}

static bool check_key(const struct pol_constraints *c, const struct pol_cert_facts *f,
		      const struct pol_ca_info *ca, const char *prof, struct pol_decision *d)
{
	const struct pol_spki *k = &f->spki;
	uint32_t alg = k->type == POL_KEY_RSA ? POL_KEYALG_RSA : k->type == POL_KEY_EC ? POL_KEYALG_EC
		       : k->type == POL_KEY_ED25519 ? POL_KEYALG_ED25519
		       : k->type == POL_KEY_ED448 ? POL_KEYALG_ED448 : 0;
	static const char *const names[] = { "an unrecognised", "RSA", "EC", "Ed25519", "Ed448" };
	struct pol_spki cak;
	struct der_cur cc;
	struct der_err e;

	der_cur_init(&cc, ca->spki_der, ca->spki_len);
	der_err_init(&e, ca->spki_der);
	if (ca->spki_len > 0 && (der_cur_eq_bytes(&k->raw, ca->spki_der, ca->spki_len) ||
				 (pol_parse_spki(&cc, &cak, &e) && der_cur_eq(&cak.key, &k->key))))
		return pol_refuse(d, POL_R_KEY_IS_CA_KEY, "the certificate's public key is the CA's "
				  "own key (%s)", ca->label);
	if ((c->key_algs & alg) == 0)
		return pol_refuse(d, POL_R_KEY_ALGORITHM, "%s public key is not allowed by profile %s",
				  names[(unsigned)k->type < 5 ? k->type : 0], prof);
	if (k->type == POL_KEY_RSA) {
		if (k->rsa_bits < c->rsa_min_bits || k->rsa_bits > c->rsa_max_bits)
			return pol_refuse(d, POL_R_KEY_RSA_SIZE, "an RSA key of %u bits is outside "
					  "%u..%u bits allowed by profile %s", k->rsa_bits,
					  c->rsa_min_bits, c->rsa_max_bits, prof);
		bool ok = false;
		for (size_t i = 0; i < c->num_exponents && !ok; i++)
			ok = k->rsa_exponent != 0 && k->rsa_exponent == c->exponents[i];
		if (!ok)
			return pol_refuse(d, POL_R_KEY_RSA_EXPONENT, "RSA exponent %llu is not allowed "
					  "by profile %s", (unsigned long long)k->rsa_exponent, prof);
	}
	if (k->type == POL_KEY_EC && (k->curve == POL_CURVE_NONE || k->curve == POL_CURVE_OTHER ||
				      (c->curves & POL_CURVE_BIT(k->curve)) == 0))
		return pol_refuse(d, POL_R_KEY_CURVE, "the EC key's curve (%s) is not allowed by "
				  "profile %s", k->curve == POL_CURVE_P256 ? "P-256"
				  : k->curve == POL_CURVE_P384 ? "P-384" : k->curve == POL_CURVE_P521
				  ? "P-521" : "other or explicit", prof);
	return true;
}

static uint32_t eku_flag(const struct der_cur *oid)
{
	if (oid_is(oid, OID_KP_SERVER_AUTH)) return POL_EKU_SERVER_AUTH;
	if (oid_is(oid, OID_KP_CLIENT_AUTH)) return POL_EKU_CLIENT_AUTH;
	if (oid_is(oid, OID_KP_CODE_SIGNING)) return POL_EKU_CODE_SIGNING;
	if (oid_is(oid, OID_KP_EMAIL)) return POL_EKU_EMAIL;
	if (oid_is(oid, OID_KP_TIME_STAMPING)) return POL_EKU_TIME_STAMPING;
	if (oid_is(oid, OID_KP_OCSP_SIGNING)) return POL_EKU_OCSP_SIGNING;
	if (oid_is(oid, OID_ANY_EKU)) return POL_EKU_ANY;
	return POL_EKU_OTHER;
}

static bool in_oids(const struct pol_oid_list *l, const struct der_cur *oid)
{
	for (size_t i = 0; i < l->num; i++)
		if (der_cur_eq_bytes(oid, l->oid[i].der, l->oid[i].len))
			return true;
	return false;
}

static bool check_exts(const struct pol_constraints *c, const struct pol_cert_facts *f,
		       const struct pol_ca_info *ca, const char *prof, struct pol_decision *d)
{
	char oid[96];
	bool is_ca = f->has_basic_constraints && f->bc_ca;
	if (is_ca && !c->allow_ca)
		return pol_refuse(d, POL_R_EXT_CA, "basicConstraints cA is true but profile %s does "
				  "not allow sub-CAs", prof);
	if (is_ca && c->has_max_path_len && (!f->bc_has_path_len || f->bc_path_len > c->max_path_len))
		return pol_refuse(d, POL_R_EXT_PATH_LEN, "the sub-CA's pathLenConstraint (%s) exceeds "
				  "the maximum %llu of profile %s",
				  f->bc_has_path_len ? "set" : "absent: unlimited",
				  (unsigned long long)c->max_path_len, prof);
	uint32_t ku = f->has_key_usage ? f->key_usage : 0;
	if ((ku & ~c->ku_allowed) != 0)
		return pol_refuse(d, POL_R_EXT_KU_NOT_ALLOWED, "keyUsage bits 0x%x are not allowed by "
				  "profile %s", ku & ~c->ku_allowed, prof);
	if ((c->ku_required & ~ku) != 0)
		return pol_refuse(d, POL_R_EXT_KU_MISSING, "keyUsage bits 0x%x required by profile %s "
				  "are missing", c->ku_required & ~ku, prof);
	uint32_t have = 0;
	for (size_t i = 0; i < f->num_eku; i++) {
		uint32_t fl = eku_flag(&f->eku[i]);
		have |= fl;
		if (fl == POL_EKU_OTHER ? !in_oids(&c->eku_allowed_oids, &f->eku[i])
					: (c->eku_allowed & fl) == 0) {
			if (!der_oid_to_text(&f->eku[i], oid, sizeof(oid)))
				snprintf(oid, sizeof(oid), "?");
			return pol_refuse(d, POL_R_EXT_EKU_NOT_ALLOWED, "extKeyUsage %s is not allowed "
					  "by profile %s", oid, prof);
		}
	}
	if ((c->eku_required & ~have) != 0)
		return pol_refuse(d, POL_R_EXT_EKU_MISSING, "an extKeyUsage purpose required by "
				  "profile %s is missing", prof);
	for (size_t i = 0; i < c->eku_required_oids.num; i++) {
		bool found = false;
		for (size_t j = 0; j < f->num_eku && !found; j++)
			found = der_cur_eq_bytes(&f->eku[j], c->eku_required_oids.oid[i].der,
						 c->eku_required_oids.oid[i].len);
		if (!found)
			return pol_refuse(d, POL_R_EXT_EKU_MISSING, "an extKeyUsage OID required by "
					  "profile %s is missing", prof);
	}
	for (size_t i = 0; i < f->exts.num; i++) {
		const struct pol_ext *x = &f->exts.ext[i];
		if (!x->critical)
			continue;
		if (x->id == POL_EXT_OTHER ? in_oids(&c->critical_allowed_oids, &x->oid)
					   : (c->critical_allowed & (1u << x->id)) != 0)
			continue;
		if (!der_oid_to_text(&x->oid, oid, sizeof(oid)))
			snprintf(oid, sizeof(oid), "?");
		return pol_refuse(d, POL_R_EXT_CRITICAL, "the critical extension %s (%s) is not "
				  "allowed critical by profile %s", pol_ext_name(x->id), oid, prof);
	}
	if (c->require_ski && !f->has_ski)
		return pol_refuse(d, POL_R_EXT_SKI_MISSING, "there is no subjectKeyIdentifier "
				  "(required by profile %s)", prof);
	if (f->aki_key_id.len > 0 || c->require_aki) {
		if (f->aki_key_id.len == 0)
			return pol_refuse(d, POL_R_EXT_AKI_MISMATCH, "there is no authorityKeyIdentifier "
					  "keyIdentifier (required by profile %s)", prof);
		if (ca->ski_len == 0 || !der_cur_eq_bytes(&f->aki_key_id, ca->ski, ca->ski_len))
			return pol_refuse(d, POL_R_EXT_AKI_MISMATCH, "the authorityKeyIdentifier is not "
					  "the subjectKeyIdentifier of the CA certificate of key %s",
					  ca->label);
	}
	return true;
}

/* The CN must be one of the SANs (by type and value). */
static bool cn_in_san(const struct pol_cert_facts *f)
{
	const struct der_cur *cn = &f->subject.cn;
	char text[POL_CN_MAX + 1];
	uint8_t ip[16];
	if (cn->len > POL_CN_MAX)
		return false;
	memcpy(text, cn->p, cn->len);
	text[cn->len] = '\0';
	int ipl = inet_pton(AF_INET, text, ip) == 1 ? 4 : inet_pton(AF_INET6, text, ip) == 1 ? 16 : 0;
	for (size_t i = 0; i < f->num_san; i++) {
		const struct pol_gn *g = &f->san[i];
		if (g->type == POL_GN_IP && ipl > 0 && g->value.len == (size_t)ipl &&
		    memcmp(g->value.p, ip, (size_t)ipl) == 0)
			return true;
		if (g->type == POL_GN_DNS && g->value.len == cn->len &&
		    strncasecmp((const char *)g->value.p, text, cn->len) == 0)
			return true;
		if ((g->type == POL_GN_RFC822 || g->type == POL_GN_URI) && der_cur_eq(&g->value, cn))
			return true;
	}
	return false;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, SHA256_DIGEST_LENGTH);
}

static bool check_charges(const struct pol_constraints *c, const struct pol_cert_facts *f,
			  const struct pol_state *st, const char *label, const char *prof,
			  struct pol_decision *d)
{
	const struct pol_psl *psl = pol_state_psl(st);
	if (!pol_add_charge(d, POL_RATE_PROFILE, label, prof, strlen(prof), &c->rates[POL_RATE_PROFILE]))
		return false;
	if (f->has_provisioner) {
		char key[POL_NAME_MAX + 32];
		int n = snprintf(key, sizeof(key), "%llu/", (unsigned long long)f->provisioner.type);
		size_t nl = f->provisioner.name.len < sizeof(key) - (size_t)n - 1
				    ? f->provisioner.name.len : sizeof(key) - (size_t)n - 1;
		memcpy(key + n, f->provisioner.name.p, nl);
		if (!pol_add_charge(d, POL_RATE_PROVISIONER, label, key, (size_t)n + nl,
				    &c->rates[POL_RATE_PROVISIONER]))
			return false;
	}
	if (c->rates[POL_RATE_DOMAIN].count > 0) {
		for (size_t i = 0; i < f->num_san; i++) {
			const struct pol_gn *g = &f->san[i];
			struct pn_dns host;
			struct pn_email e;
			char reg[POL_DNS_MAX + 1];
			const char *why, *h = NULL;
			if (g->type == POL_GN_DNS && pn_dns_parse(g->value.p, g->value.len, true, &host, &why))
				h = host.name; /* the part after "*." for a wildcard */
			else if (g->type == POL_GN_URI && pn_uri_host(g->value.p, g->value.len, &host, &why))
				h = host.name;
			else if (g->type == POL_GN_RFC822 && pn_email_parse(g->value.p, g->value.len, &e, &why))
				h = e.domain.name;
			if (h == NULL)
				continue;
			if (!pol_registered_domain(psl, h, reg, sizeof(reg)))
				snprintf(reg, sizeof(reg), "%s", h);
			if (!pol_add_charge(d, POL_RATE_DOMAIN, label, reg, strlen(reg),
					    &c->rates[POL_RATE_DOMAIN]))
				return false;
		}
	}
	if (c->rates[POL_RATE_SAN_SET].count > 0 && f->num_san > 0) {
		/* the set: each SAN hashed with its type (host names folded), sorted, hashed */
		static const size_t L = SHA256_DIGEST_LENGTH;
		uint8_t digests[POL_MAX_SAN][SHA256_DIGEST_LENGTH], set[SHA256_DIGEST_LENGTH];
		uint8_t buf[1 + 1024];
		size_t n = 0;
		for (size_t i = 0; i < f->num_san; i++) {
			const struct pol_gn *g = &f->san[i];
			size_t vl = g->value.len < sizeof(buf) - 1 ? g->value.len : sizeof(buf) - 1;
			buf[0] = (uint8_t)g->type;
			for (size_t j = 0; j < vl; j++)
				buf[1 + j] = (g->type == POL_GN_DNS && g->value.p[j] >= 'A' &&
					      g->value.p[j] <= 'Z') ? (uint8_t)(g->value.p[j] + 32)
								    : g->value.p[j];
			pol_sha256(buf, 1 + vl, digests[n++]);
		}
		qsort(digests, n, L, cmp_digest);
		size_t u = 0;
		for (size_t i = 0; i < n; i++) /* a set: duplicates count once */
			if (u == 0 || memcmp(digests[u - 1], digests[i], L) != 0)
				memmove(digests[u++], digests[i], L);
		pol_sha256(&digests[0][0], u * L, set);
		if (!pol_add_charge(d, POL_RATE_SAN_SET, label, set, sizeof(set),
				    &c->rates[POL_RATE_SAN_SET]))
			return false;
	}
	return true;
}

bool pol_eval_cert(const struct pol_policy *pol, const struct pol_state *st,
		   const struct pol_ca_info *ca, const struct pol_request *req,
		   const struct pol_key_rules *kr, const struct pol_mech *m, int64_t now_ns,
		   struct pol_decision *d)
{
	const struct pol_cert_facts *f = &d->facts.cert;
	const struct pol_profile *p = NULL;
	char who[POL_NAME_MAX + 16];
	(void)kr;

	summarise(f, &d->summary);
	if (f->version != 3)
		return pol_refuse(d, POL_R_VERSION, "the certificate is version %u; only v3 is signed",
				  f->version);
	if (!pol_check_algid(&f->sig, m, req, d))
		return false;
	if (!ca->has_cert)
		return pol_refuse(d, POL_R_CA_NO_CERT, "key %s has no CA certificate, so it signs no "
				  "certificate", ca->label);
	if (!der_cur_eq_bytes(&f->issuer.raw, ca->subject_der, ca->subject_len))
		return pol_refuse(d, POL_R_ISSUER_MISMATCH, "the issuer name is not byte-identical to "
				  "the subject of the CA certificate of key %s", ca->label);
	if (f->serial_negative || f->serial_zero)
		return pol_refuse(d, POL_R_SERIAL_NOT_POSITIVE, "the serial number is %s",
				  f->serial_zero ? "zero" : "negative");
	if (f->serial.len > POL_RFC_SERIAL_MAX)
		return pol_refuse(d, POL_R_SERIAL_TOO_LONG, "the serial number has %zu octets, more "
				  "than RFC 5280's 20", f->serial.len);
	for (size_t i = 0; i < pol->num_profiles && p == NULL; i++)
		if (profile_matches(&pol->profiles[i].match, f))
			p = &pol->profiles[i];
	if (p == NULL)
		return pol_refuse(d, POL_R_NO_PROFILE, "no profile matches this certificate "
				  "(provisioner %s, CA %s): refused by default",
				  d->summary.provisioner[0] ? d->summary.provisioner : "none",
				  f->has_basic_constraints && f->bc_ca ? "true" : "false");
	snprintf(d->profile, sizeof(d->profile), "%s", p->name);
	const struct pol_constraints *c = &p->c;
	struct der_cur mag = der_int_magnitude(&f->serial);
	if (mag.len < c->serial_min_octets)
		return pol_refuse(d, POL_R_SERIAL_TOO_SHORT, "the serial number has %zu octets, fewer "
				  "than the %u required by profile %s", mag.len, c->serial_min_octets,
				  p->name);
	if (pol_state_has_serial(st, ca->label, f->serial.p, f->serial.len))
		return pol_refuse(d, POL_R_SERIAL_REUSED, "serial %s was already issued under key %s",
				  d->summary.serial_hex, ca->label);
	if (!check_validity(c, f, ca, now_ns, p->name, d) || !check_key(c, f, ca, p->name, d) ||
	    !check_exts(c, f, ca, p->name, d))
		return false;
	bool is_ca = f->has_basic_constraints && f->bc_ca;
	if (!is_ca && c->require_san && f->num_san == 0)
		return pol_refuse(d, POL_R_SAN_MISSING, "the certificate has no subjectAltName "
				  "(required for leaves by profile %s)", p->name);
	if (f->subject.num_cn > 1)
		return pol_refuse(d, POL_R_CN_INVALID, "the subject has more than one commonName");
	if (!is_ca && c->cn_in_san && f->subject.num_cn == 1 && f->num_san > 0 && !cn_in_san(f)) {
		char cn[96];
		pn_text(f->subject.cn.p, f->subject.cn.len, cn, sizeof(cn));
		return pol_refuse(d, POL_R_CN_NOT_IN_SAN, "the commonName %s is not one of the "
				  "subjectAltNames (profile %s)", cn, p->name);
	}
	bool wc = p->names.allow_wildcard && (!pol->names.present || pol->names.allow_wildcard);
	snprintf(who, sizeof(who), "profile %s", p->name);
	if (!pol_eval_names(&p->names, wc, who, f, d) ||
	    !pol_eval_names(&pol->names, wc, "the authority", f, d))
		return false;
	return check_charges(c, f, st, ca->label, p->name, d);
}
