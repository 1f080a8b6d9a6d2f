/*
 * enc_loggen.c - appends N allowed certificate SIGN records, as warden-enclave writes them
 * (the same fields, a real pol_summary), to the audit log of a `warden-admin init`
 * directory, so that tests/bench/enclave_startup.sh can time the real enclave's start-up
 * on a log of millions of records.  Checkpoints every 1,000 records, signed with the
 * directory's audit key, as the enclave's defaults write them.
 *
 * The records are one every STEP_S seconds ending a day ago, each a certificate valid
 * for LIFETIME_S with its own serial, a perKey and a perSANSet charge: so about
 * LIFETIME_S / STEP_S (~192,000) certificates are live at any point, within the
 * enclave's default state limits (262,144 serials, 65,536 buckets), and replay does
 * what it does in production: decode every summary, record serials, charge buckets,
 * drop expired serials and idle buckets when the tables fill.
 *
 *   enc_loggen LOGDIR AUDIT.key N
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "policy.h"

#define STEP_S 3LL
#define LIFETIME_S (7LL * 86400LL)
#define NS 1000000000LL
#define SYNC_EVERY 4096u
#define MECH_ECDSA_SHA256 0x1044u

static void id16(const char *what, uint64_t i, uint8_t out[POL_BUCKET_ID_LEN])
{
	char buf[96];
	uint8_t md[SHA256_DIGEST_LENGTH];
	int n = snprintf(buf, sizeof(buf), "%s/%llu", what, (unsigned long long)i);
	SHA256((const uint8_t *)buf, (size_t)n, md);
	memcpy(out, md, POL_BUCKET_ID_LEN);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int main(int argc, char **argv)
{
	static struct pol_summary s;
	static uint8_t blob[POL_SUMMARY_WIRE_MAX];
	struct aud_log *log = NULL;
	struct aud_open_report rep;
	char err[AUD_ERR_LEN], name[80];
	uint8_t policy_sha[32], data_sha[32];
	uint64_t seq = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s LOGDIR AUDIT.key N\n", argv[0]);
		return 2;
	}
	uint64_t n = strtoull(argv[3], NULL, 10);
	struct aud_params p = {.dir = argv[1], .key_file = argv[2]};
	if (aud_open(&p, &log, &rep, err, sizeof(err)) != WARDEN_OK) {
		fprintf(stderr, "enc_loggen: %s\n", err);
		return 1;
	}
	memset(policy_sha, 0x5a, sizeof(policy_sha));
	int64_t t0 = ((int64_t)time(NULL) - 86400LL - (int64_t)n * STEP_S) * NS;
	for (uint64_t i = 0; i < n; i++) {
		struct aud_body b;
		int64_t t = t0 + (int64_t)i * STEP_S * NS;

		memset(&s, 0, sizeof(s));
		s.kind = POL_KIND_TBS_CERT;
		s.allowed = true;
		s.reason = POL_R_OK;
		s.time_ns = t;
		strcpy(s.key_label, "ca");
		strcpy(s.profile, "servers");
		s.serial[0] = 0x40;
		for (unsigned k = 1; k < 16; k++)
			s.serial[k] = (uint8_t)((i * 0x9e3779b97f4a7c15ull) >> (8 * (k % 8)) ^ k ^ (i >> 20));
		s.serial[15] = (uint8_t)i;
		s.serial[14] = (uint8_t)(i >> 8);
		s.serial[13] = (uint8_t)(i >> 16);
		s.serial[12] = (uint8_t)(i >> 24);
		s.serial_len = 16;
		hex(s.serial, 16, s.serial_hex);
		s.not_before = t / NS - 60;
		s.not_after = t / NS + LIFETIME_S;
		snprintf(name, sizeof(name), "host%llu.example.internal", (unsigned long long)i);
		snprintf(s.subject, sizeof(s.subject), "CN=%s", name);
		snprintf(s.sans, sizeof(s.sans), "DNS:%s", name);
		s.peer_uid = 998;
		s.peer_pid = 4242;
		s.num_charges = 2;
		s.charges[0].dim = POL_RATE_KEY;
		id16("key/ca", 0, s.charges[0].bucket);
		s.charges[0].rate = (struct pol_rate){1000000, 3600 * NS, 1000000};
		s.charges[1].dim = POL_RATE_SAN_SET;
		id16("san", i, s.charges[1].bucket);
		s.charges[1].rate = (struct pol_rate){1, 86400 * NS, 1};
		size_t bl = pol_summary_encode(&s, blob, sizeof(blob));
		if (bl == 0) {
			fprintf(stderr, "enc_loggen: summary does not encode\n");
			return 1;
		}
		SHA256((const uint8_t *)&i, sizeof(i), data_sha);

		aud_body_init(&b);
		aud_put_uint(&b, AUD_F_DECISION, 1);
		aud_put_uint(&b, AUD_F_REASON_CODE, POL_R_OK);
		aud_put_str(&b, AUD_F_REASON_NAME, pol_reason_name(POL_R_OK));
		aud_put_str(&b, AUD_F_REASON, "allowed by profile \"servers\"");
		aud_put_str(&b, AUD_F_KEY, "ca");
		aud_put_uint(&b, AUD_F_MECHANISM, MECH_ECDSA_SHA256);
		aud_put_uint(&b, AUD_F_DATA_KIND, POL_KIND_TBS_CERT);
		aud_put_bytes(&b, AUD_F_DATA_SHA256, data_sha, sizeof(data_sha));
		aud_put_uint(&b, AUD_F_CALLER_UID, s.peer_uid);
		aud_put_uint(&b, AUD_F_CALLER_PID, (uint64_t)s.peer_pid);
		aud_put_bytes(&b, AUD_F_POLICY_SHA256, policy_sha, sizeof(policy_sha));
		aud_put_bytes(&b, AUD_F_SERIAL, s.serial, s.serial_len);
		aud_put_str(&b, AUD_F_SUBJECT, s.subject);
		aud_put_str(&b, AUD_F_SAN, name);
		aud_put_int(&b, AUD_F_NOT_BEFORE, s.not_before);
		aud_put_int(&b, AUD_F_NOT_AFTER, s.not_after);
		aud_put_str(&b, AUD_F_PROFILE, s.profile);
		aud_put_bytes(&b, AUD_F_POL_SUMMARY, blob, bl);
		if (aud_body_finish(&b) != WARDEN_OK) {
			fprintf(stderr, "enc_loggen: body\n");
			return 1;
		}
		struct aud_record rec = {.type = AUD_T_SIGN, .time_ns = t, .body = b.data,
					 .body_len = b.len};
		int rc = aud_append(log, &rec, &seq);
		aud_body_free(&b);
		if (rc == WARDEN_OK && (i + 1) % SYNC_EVERY == 0)
			rc = aud_sync(log, seq);
		if (rc != WARDEN_OK) {
			(void)aud_failed(log, err, sizeof(err));
			fprintf(stderr, "enc_loggen: append %llu: %s\n", (unsigned long long)i, err);
			return 1;
		}
	}
	int rc = aud_shutdown(log, "enc_loggen");
	printf("%llu\n", (unsigned long long)aud_num_records(log));
	aud_close(log);
	return rc == WARDEN_OK ? 0 : 1;
}
