/*
 * enc_policy.c - the policy file: reading it (start-up and SIGHUP), the facts the engine
 * needs about each key (struct pol_ca_info), and the reload.
 *
 * SIGHUP re-reads the file inside the sandbox: Landlock grants read access to that one
 * file (its inode, sbx_config.ro_paths), not to its directory, which also holds
 * enclave.json, the PIN hash, the backend PIN and the audit key.  So the policy must be
 * rewritten in place (cp onto it, an editor that writes in place): a file replaced by
 * rename is a new inode the sandbox does not cover, and the reload says so and keeps the
 * policy in force (restart to pick it up).  A reload that reads a half-written file
 * fails to parse and keeps the old policy too.
 */
#include "enc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

int enc_policy_read(const char *path, struct pol_policy **out, char *err, size_t err_len)
{
	struct pol_load_error le;
	char *text = NULL;
	size_t len;

	*out = NULL;
	if (enc_file_read(path, POL_POLICY_MAX_BYTES, &text, &len) != 0) {
		snprintf(err, err_len, "policy %s: cannot read: %s", path,
			 errno == EFBIG	   ? "not a regular file of at most 1 MiB"
			 : errno == EACCES ? "access denied by the sandbox: the file was replaced "
					     "(a new inode); write the policy in place, or restart"
					   : strerror(errno));
		return -1;
	}
	memset(&le, 0, sizeof(le));
	bool ok = pol_policy_load(text, len, out, &le);
	free(text);
	if (!ok) {
		if (le.line > 0)
			snprintf(err, err_len, "policy %s: line %d, column %d: %s", path, le.line,
				 le.column, le.msg);
		else
			snprintf(err, err_len, "policy %s: at %s: %s", path,
				 le.path[0] != '\0' ? le.path : "(the document)", le.msg);
		return -1;
	}
	return 0;
}

int enc_key_ca_info(struct enc_key *k, char *err, size_t err_len)
{
	EVP_PKEY *pub = bk_key_public(k->bk);
	struct pol_ca_info *ci = &k->ca;
	int n;

	memset(ci, 0, sizeof(*ci));
	ci->label = k->cfg->label;
	n = i2d_PUBKEY(pub, &k->ca_spki);
	if (n <= 0)
		goto bad;
	ci->spki_der = k->ca_spki;
	ci->spki_len = (size_t)n;
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_RSA:
		ci->key_type = POL_KEY_RSA;
		ci->rsa_bits = (uint32_t)EVP_PKEY_get_bits(pub);
		break;
	case EVP_PKEY_EC: {
		char g[64] = "";
		size_t gl = 0;
		ci->key_type = POL_KEY_EC;
		(void)EVP_PKEY_get_utf8_string_param(pub, "group", g, sizeof(g), &gl);
		ci->curve = strcmp(g, "prime256v1") == 0 ? POL_CURVE_P256
			    : strcmp(g, "secp384r1") == 0 ? POL_CURVE_P384
			    : strcmp(g, "secp521r1") == 0 ? POL_CURVE_P521
							  : POL_CURVE_OTHER;
		break;
	}
	case EVP_PKEY_ED25519:
		ci->key_type = POL_KEY_ED25519;
		break;
	default:
		ci->key_type = POL_KEY_OTHER;
	}
	if (k->cert == NULL)
		return 0;
	n = i2d_X509_NAME(X509_get_subject_name(k->cert), &k->ca_subject);
	if (n <= 0)
		goto bad;
	ci->has_cert = true;
	ci->subject_der = k->ca_subject;
	ci->subject_len = (size_t)n;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(k->cert);
	if (ski != NULL) {
		ci->ski = ASN1_STRING_get0_data(ski);
		ci->ski_len = (size_t)ASN1_STRING_length(ski);
	}
	struct tm tm;
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(k->cert), &tm))
		goto bad;
	ci->not_after = (int64_t)timegm(&tm);
	n = i2d_X509(k->cert, &k->cert_der);
	if (n <= 0)
		goto bad;
	k->cert_der_len = (size_t)n;
	return 0;
bad:
	snprintf(err, err_len, "key \"%s\": cannot encode its public key or certificate",
		 k->cfg->label);
	return -1;
}

void enc_policy_reload(struct enc_state *st)
{
	struct pol_policy *fresh = NULL, *old;
	char err[ENC_ERR_LEN];
	uint64_t seq = 0;

	if (enc_policy_read(st->cfg.policy, &fresh, err, sizeof(err)) != 0) {
		enc_log(ENC_LOG_ERR, "SIGHUP: %s; keeping the policy in force", err);
		return;
	}
	pthread_mutex_lock(&st->decide_lock);
	old = st->policy;
	st->policy = fresh;
	int rc = enc_audit_policy_record(st, &seq);
	if (rc != WARDEN_OK) {
		/* No record of the new policy, no decisions under it. */
		st->policy = old;
		old = fresh;
	}
	pthread_mutex_unlock(&st->decide_lock);
	if (rc == WARDEN_OK)
		rc = aud_sync(st->log, seq);
	if (rc != WARDEN_OK) {
		char why[AUD_ERR_LEN] = "";
		(void)aud_failed(st->log, why, sizeof(why));
		enc_log(ENC_LOG_ERR, "SIGHUP: the policy_loaded record could not be written (%s)%s",
			why[0] != '\0' ? why : "audit error",
			old == fresh ? "; keeping the policy in force" : "");
		if (old == fresh) {
			pol_policy_free(fresh);
			return;
		}
	}
	pol_policy_free(old);
	for (size_t i = 0; i < st->num_keys; i++)
		if (pol_policy_key_prehashed(st->policy, st->keys[i].cfg->label) < 0)
			enc_log(ENC_LOG_WARNING,
				"key \"%s\" has no signingKeys entry in the policy: every request "
				"for it is refused (key.unknown)",
				st->keys[i].cfg->label);
	if (enc_hello_build(st, st->policy, err, sizeof(err)) != 0)
		enc_log(ENC_LOG_ERR, "SIGHUP: %s; new connections get the old key list", err);
	enc_log(ENC_LOG_INFO, "SIGHUP: policy %s reloaded, sha256 %s", st->cfg.policy,
		pol_policy_hash_hex(st->policy));
}
