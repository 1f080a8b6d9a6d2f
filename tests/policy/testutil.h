/*
 * testutil.h - certificate, CRL and OCSP builders for the policy-engine tests, on
 * OpenSSL's own APIs (so the structures are what real CA software produces), and a
 * small DER writer for hand-made hostile variants.
 */
#ifndef WARDEN_TESTS_POLICY_TESTUTIL_H
#define WARDEN_TESTS_POLICY_TESTUTIL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define TU_MAX_DER (64u * 1024u)

/* "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519" */
EVP_PKEY *tu_key(const char *kind);
/* A self-signed CA certificate (CN=Warden Test CA) with SKI, for AKI and issuer names. */
X509 *tu_ca(EVP_PKEY *ca_key);
/* A v3 leaf for key, issued by ca: serial, 90-day validity from 2025-01-01, CN. */
X509 *tu_leaf(X509 *ca, EVP_PKEY *key, const char *cn, long serial);
/* Adds an extension from OpenSSL config syntax ("critical,CA:TRUE"); 1 on success. */
int tu_ext_conf(X509 *x, X509 *ca, int nid, const char *value);
/* Adds an extension with a raw extnValue; oid in dotted text. */
int tu_ext_raw(X509 *x, const char *oid, int critical, const uint8_t *der, size_t len);
/* Signs x with key (md NULL for Ed25519; pss_salt >= 0 for RSASSA-PSS with that salt)
 * and returns the TBSCertificate DER (malloc'd, *len set). */
uint8_t *tu_tbs(X509 *x, EVP_PKEY *key, const EVP_MD *md, int pss_salt, size_t *len);
/* Seconds since the epoch of an ASN1_TIME. */
int64_t tu_time(const ASN1_TIME *t);

/* A tiny DER writer: tu_tlv appends tag, length (minimal) and contents to b. */
struct tu_buf {
	uint8_t p[TU_MAX_DER];
	size_t len;
};
void tu_put(struct tu_buf *b, const void *p, size_t len);
void tu_hex(struct tu_buf *b, const char *hex);
void tu_tlv(struct tu_buf *b, uint8_t tag, const struct tu_buf *contents);
void tu_tlv_raw(struct tu_buf *b, uint8_t tag, const void *p, size_t len);

#endif

/* Compares the facts with what OpenSSL's d2i_X509 and its accessors say about x:
 * serial, issuer/subject DER, validity, key type/bits/curve/exponent, signature
 * algorithm, SAN entries, basicConstraints, keyUsage, extKeyUsage, SKI, AKI, and every
 * extension's OID and criticality.  Returns 1 when they agree, else 0 with the first
 * difference in why. */
struct pol_cert_facts;
int tu_compare_cert(X509 *x, const struct pol_cert_facts *f, char *why, size_t why_len);
