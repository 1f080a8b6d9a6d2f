/*
 * p11bench - C_Sign throughput and latency of any PKCS#11 module.
 *
 * Loads the module with dlopen, logs in once, then runs N threads, each on its own
 * session, that sign the same data again and again: a warm-up, then a measured run of
 * a fixed duration or a fixed number of signatures.  Every C_SignInit + C_Sign pair
 * (plus the client-side hash with --prehash) is timed with CLOCK_MONOTONIC.
 *
 * Prints one line of key=value pairs per run on stdout, e.g.
 *   p11bench status=ok tag=warden mech=CKM_SHA256_RSA_PKCS threads=2 ... sig_per_s=3980.5
 *     p50_us=497.2 p99_us=780.0 ...
 * status is "ok", "failed" (a signing call did not return CKR_OK: the run counts as
 * failed, exit 1) or "error" (setup failed, exit 2).  Diagnostics go to stderr.
 *
 * The signatures are not verified: this measures speed; correctness is the test
 * suite's job.  Each C_Sign result is checked (CKR_OK and a non-empty signature).
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#define PB_MAX_THREADS 256
#define PB_MAX_DATA_LEN (64u * 1024u * 1024u)
#define PB_MAX_SIG_LEN 1024u /* RSA-8192 */
#define PB_MAX_PIN_LEN 256u
#define PB_MAX_ID_LEN 256u
#define PB_MAX_SECONDS 3600.0
#define PB_DEFAULT_SECONDS 5.0
#define PB_DEFAULT_WARMUP 0.5
#define PB_DEFAULT_DATA_LEN 1024u
#define PB_LAT_INITIAL 4096u       /* latency slots per thread before the first growth */
#define PB_MAX_ERRORS_PER_THREAD 100 /* a thread stops after this many failed signatures */
#define PB_LABEL_LEN 32u             /* CK_TOKEN_INFO.label */
#define PB_MAX_SLOTS 256u
#define PB_NS_PER_S 1000000000ull

_Static_assert(PB_MAX_DATA_LEN <= ULONG_MAX, "data length fits a CK_ULONG");
_Static_assert(PB_LAT_INITIAL > 0, "latency arrays start non-empty");

/* --prehash: the client hashes the data itself (as OpenSSL's libp11 engine, GnuTLS
 * and NSS do) and passes the digest, or a DigestInfo for CKM_RSA_PKCS. */
enum pb_prehash { PB_PREHASH_NONE, PB_PREHASH_SHA256, PB_PREHASH_SHA384, PB_PREHASH_SHA512 };

#define PB_MAX_PREFIX_LEN 19u
#define PB_MAX_DIGEST_LEN 64u

struct pb_hash {
	const char *name;
	const char *ossl_name;
	size_t digest_len;
	/* DER DigestInfo prefix for CKM_RSA_PKCS (RFC 8017 section 9.2, note 1) */
	uint8_t prefix[PB_MAX_PREFIX_LEN];
	size_t prefix_len;
};

static const struct pb_hash pb_hashes[] = {
	[PB_PREHASH_NONE] = { "none", NULL, 0, { 0 }, 0 },
	[PB_PREHASH_SHA256] = { "sha256", "SHA256", 32,
				{ 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 }, 19 },
	[PB_PREHASH_SHA384] = { "sha384", "SHA384", 48,
				{ 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 }, 19 },
	[PB_PREHASH_SHA512] = { "sha512", "SHA512", 64,
				{ 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				  0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 }, 19 },
};

/* Mechanisms by name.  PSS ones carry the parameters that match their hash. */
struct pb_mech {
	const char *name;
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_TYPE pss_hash; /* 0: not PSS */
	CK_RSA_PKCS_MGF_TYPE pss_mgf;
	CK_ULONG pss_salt_len;
};

static const struct pb_mech pb_mechs[] = {
	{ "CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA384_RSA_PKCS", CKM_SHA384_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA512_RSA_PKCS", CKM_SHA512_RSA_PKCS, 0, 0, 0 },
	{ "CKM_SHA256_RSA_PKCS_PSS", CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32 },
	{ "CKM_SHA384_RSA_PKCS_PSS", CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48 },
	{ "CKM_SHA512_RSA_PKCS_PSS", CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 64 },
	{ "CKM_ECDSA_SHA256", CKM_ECDSA_SHA256, 0, 0, 0 },
	{ "CKM_ECDSA_SHA384", CKM_ECDSA_SHA384, 0, 0, 0 },
	{ "CKM_ECDSA_SHA512", CKM_ECDSA_SHA512, 0, 0, 0 },
	{ "CKM_EDDSA", CKM_EDDSA, 0, 0, 0 },
	{ "CKM_RSA_PKCS", CKM_RSA_PKCS, 0, 0, 0 },
	{ "CKM_ECDSA", CKM_ECDSA, 0, 0, 0 },
};

struct pb_opts {
	const char *module;
	const char *token_label; /* or slot_id */
	CK_SLOT_ID slot_id;
	int have_slot;
	char pin[PB_MAX_PIN_LEN + 1];
	size_t pin_len;
	const char *key_label; /* or key_id */
	uint8_t key_id[PB_MAX_ID_LEN];
	size_t key_id_len;
	const struct pb_mech *mech;
	enum pb_prehash prehash;
	int threads;
	double seconds;
	unsigned long count; /* 0: run for `seconds` */
	double warmup;
	size_t data_len;
	const char *data_file;
	const char *tag;
	long peer_pid; /* --peer-pid: also report this process's CPU per signature */
};

/* State shared by all threads of one run. */
struct pb_run {
	const struct pb_opts *o;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	const uint8_t *data;
	size_t data_len;
	const EVP_MD *md; /* --prehash, else NULL */
	pthread_barrier_t barrier;
	atomic_int setup_failed;
	uint64_t warm_end_ns; /* written by main between barriers */
	uint64_t start_ns;
	uint64_t deadline_ns; /* 0 in count mode */
};

struct pb_thread {
	struct pb_run *run;
	pthread_t tid;
	unsigned long quota; /* count mode */
	uint64_t *lat_ns;
	size_t num_lat, cap_lat;
	unsigned long errors;
	CK_RV first_error;
	CK_ULONG sig_len;
	uint64_t end_ns;
	int setup_ok;
};

static uint64_t pb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * PB_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static const char *pb_rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "CKR_OK";
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
	case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
	case CKR_FUNCTION_REJECTED: return "CKR_FUNCTION_REJECTED";
	case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
	case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
	case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
	case CKR_DATA_INVALID: return "CKR_DATA_INVALID";
	case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
	case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
	case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
	default: return "CKR_other";
	}
}

/* User + system CPU time of the whole process so far, in microseconds. */
static uint64_t pb_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* CPU time (user + system, all threads, in microseconds) of another process, from
 * /proc/PID/stat: for the enclave, to see where the time of a signature goes.
 * Returns 0 when unknown. */
#define PB_STAT_LEN 1024u
#define PB_STAT_UTIME_FIELD 14 /* proc(5): utime, then stime, in clock ticks */

static uint64_t pb_peer_cpu_us(long pid)
{
	char path[64], buf[PB_STAT_LEN], *p;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;
	int field;

	if (pid <= 0 || hz <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields count from after its ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	for (field = 2; field < PB_STAT_UTIME_FIELD && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu", &ut, &st) != 2)
		return 0;
	return (uint64_t)(ut + st) * 1000000u / (uint64_t)hz;
}

static void pb_usage(FILE *f)
{
	fprintf(f,
		"usage: p11bench --module PATH (--token LABEL | --slot ID) (--pin PIN | --pin-file F)\n"
		"                (--key-label L | --key-id HEX) --mech CKM_... [--prehash sha256]\n"
		"                [--threads N] [--seconds S | --count N] [--warmup S]\n"
		"                [--data-size N | --data-file F] [--tag TEXT] [--peer-pid PID]\n"
		"Measures C_SignInit+C_Sign throughput and latency; one key=value line per run.\n"
		"--peer-pid P: also report the CPU time process P (the enclave) spent per signature.\n"
		"--prehash H: hash the data in the client (timed) and pass the digest\n"
		"             (a DigestInfo for CKM_RSA_PKCS): for modules without CKM_ECDSA_SHA*.\n"
		"defaults: --threads 1 --seconds %.0f --warmup %.1f --data-size %u\n",
		PB_DEFAULT_SECONDS, PB_DEFAULT_WARMUP, PB_DEFAULT_DATA_LEN);
}

/* Trims the blank padding of a fixed-size PKCS#11 string into out (NUL-terminated). */
static void pb_unpad(const CK_UTF8CHAR *s, size_t len, char *out)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
		len--;
	memcpy(out, s, len);
	out[len] = '\0';
}

__attribute__((warn_unused_result)) static int pb_parse_hex(const char *s, uint8_t *out,
							    size_t cap, size_t *out_len)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*out_len = n / 2;
	return 0;
}

/* Reads a PIN file: its first line, without the newline. */
__attribute__((warn_unused_result)) static int pb_read_pin(const char *path, struct pb_opts *o)
{
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (f == NULL) {
		fprintf(stderr, "p11bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(o->pin, sizeof(o->pin), f) == NULL) {
		fprintf(stderr, "p11bench: %s: empty\n", path);
		goto out;
	}
	o->pin_len = strcspn(o->pin, "\r\n");
	o->pin[o->pin_len] = '\0';
	ret = 0;
out:
	fclose(f);
	return ret;
}

__attribute__((warn_unused_result)) static int pb_parse_double(const char *s, double lo,
							       double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

__attribute__((warn_unused_result)) static int pb_parse_ulong(const char *s, unsigned long lo,
							      unsigned long hi,
							      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

__attribute__((warn_unused_result)) static int pb_parse_args(int argc, char **argv,
							     struct pb_opts *o)
{
	static const struct option longopts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "slot", required_argument, NULL, 's' },
		{ "pin", required_argument, NULL, 'p' },
		{ "pin-file", required_argument, NULL, 'P' },
		{ "key-label", required_argument, NULL, 'k' },
		{ "key-id", required_argument, NULL, 'K' },
		{ "mech", required_argument, NULL, 'M' },
		{ "prehash", required_argument, NULL, 'H' },
		{ "threads", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "data-size", required_argument, NULL, 'z' },
		{ "data-file", required_argument, NULL, 'f' },
		{ "tag", required_argument, NULL, 'T' },
		{ "peer-pid", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	size_t i;
	int c;

	o->threads = 1;
	o->seconds = PB_DEFAULT_SECONDS;
	o->warmup = PB_DEFAULT_WARMUP;
	o->data_len = PB_DEFAULT_DATA_LEN;
	o->tag = "-";
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->module = optarg; break;
		case 't': o->token_label = optarg; break;
		case 's':
			if (pb_parse_ulong(optarg, 0, ULONG_MAX, &v) != 0)
				goto bad;
			o->slot_id = v;
			o->have_slot = 1;
			break;
		case 'p':
			o->pin_len = strlen(optarg);
			if (o->pin_len > PB_MAX_PIN_LEN)
				goto bad;
			memcpy(o->pin, optarg, o->pin_len + 1);
			break;
		case 'P':
			if (pb_read_pin(optarg, o) != 0)
				return -1;
			break;
		case 'k': o->key_label = optarg; break;
		case 'K':
			if (pb_parse_hex(optarg, o->key_id, sizeof(o->key_id), &o->key_id_len) != 0)
				goto bad;
			break;
		case 'M':
			o->mech = NULL;
			for (i = 0; i < sizeof(pb_mechs) / sizeof(pb_mechs[0]); i++)
				if (strcmp(optarg, pb_mechs[i].name) == 0)
					o->mech = &pb_mechs[i];
			if (o->mech == NULL)
				goto bad;
			break;
		case 'H':
			o->prehash = PB_PREHASH_NONE;
			for (i = 1; i < sizeof(pb_hashes) / sizeof(pb_hashes[0]); i++)
				if (strcmp(optarg, pb_hashes[i].name) == 0)
					o->prehash = (enum pb_prehash)i;
			if (o->prehash == PB_PREHASH_NONE && strcmp(optarg, "none") != 0)
				goto bad;
			break;
		case 'n':
			if (pb_parse_ulong(optarg, 1, PB_MAX_THREADS, &v) != 0)
				goto bad;
			o->threads = (int)v;
			break;
		case 'd':
			if (pb_parse_double(optarg, 0.01, PB_MAX_SECONDS, &o->seconds) != 0)
				goto bad;
			break;
		case 'c':
			if (pb_parse_ulong(optarg, 1, ULONG_MAX / 2, &o->count) != 0)
				goto bad;
			break;
		case 'w':
			if (pb_parse_double(optarg, 0.0, PB_MAX_SECONDS, &o->warmup) != 0)
				goto bad;
			break;
		case 'z':
			if (pb_parse_ulong(optarg, 1, PB_MAX_DATA_LEN, &v) != 0)
				goto bad;
			o->data_len = v;
			break;
		case 'f': o->data_file = optarg; break;
		case 'T': o->tag = optarg; break;
		case 'R':
			if (pb_parse_ulong(optarg, 1, LONG_MAX, &v) != 0)
				goto bad;
			o->peer_pid = (long)v;
			break;
		case 'h': pb_usage(stdout); exit(0);
		default: goto bad;
		}
	}
	if (optind != argc || o->module == NULL || o->mech == NULL ||
	    (o->token_label == NULL && !o->have_slot) ||
	    (o->key_label == NULL && o->key_id_len == 0))
		goto bad;
	if (o->prehash != PB_PREHASH_NONE && o->mech->type != CKM_ECDSA &&
	    o->mech->type != CKM_RSA_PKCS) {
		fprintf(stderr, "p11bench: --prehash goes with CKM_ECDSA or CKM_RSA_PKCS\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "p11bench: bad or missing argument%s%s\n", optarg ? ": " : "",
		optarg ? optarg : "");
	pb_usage(stderr);
	return -1;
}

/* The data to sign: a file's contents, or data_len bytes of a fixed pattern. */
__attribute__((warn_unused_result)) static uint8_t *pb_load_data(const struct pb_opts *o,
								size_t *out_len)
{
	uint8_t *buf = NULL;
	FILE *f = NULL;
	long n;
	size_t i;

	*out_len = 0;
	if (o->data_file == NULL) {
		buf = malloc(o->data_len);
		if (buf == NULL)
			return NULL;
		for (i = 0; i < o->data_len; i++)
			buf[i] = (uint8_t)(i * 131u + 7u);
		*out_len = o->data_len;
		return buf;
	}
	f = fopen(o->data_file, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    (unsigned long)n > PB_MAX_DATA_LEN || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "p11bench: %s: cannot read, empty or too large\n", o->data_file);
		goto out;
	}
	buf = malloc((size_t)n);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "p11bench: %s: read failed\n", o->data_file);
		free(buf);
		buf = NULL;
		goto out;
	}
	*out_len = (size_t)n;
out:
	if (f != NULL)
		fclose(f);
	return buf;
}

__attribute__((warn_unused_result)) static CK_RV pb_find_slot(const struct pb_opts *o,
							      CK_FUNCTION_LIST_PTR f,
							      CK_SLOT_ID *out)
{
	CK_SLOT_ID slots[PB_MAX_SLOTS];
	CK_ULONG n = PB_MAX_SLOTS, i;
	CK_TOKEN_INFO ti;
	char label[PB_LABEL_LEN + 1];
	CK_RV rv;

	if (o->have_slot) {
		*out = o->slot_id;
		return CKR_OK;
	}
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return rv;
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		pb_unpad(ti.label, sizeof(ti.label), label);
		if (strcmp(label, o->token_label) == 0) {
			*out = slots[i];
			return CKR_OK;
		}
	}
	return CKR_TOKEN_NOT_PRESENT;
}

__attribute__((warn_unused_result)) static CK_RV pb_find_key(const struct pb_opts *o,
							     CK_FUNCTION_LIST_PTR f,
							     CK_SESSION_HANDLE s,
							     CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ULONG n = 0;
	CK_RV rv, rv2;

	if (o->key_id_len > 0) {
		tmpl[1].type = CKA_ID;
		tmpl[1].pValue = (void *)o->key_id;
		tmpl[1].ulValueLen = o->key_id_len;
	} else {
		tmpl[1].type = CKA_LABEL;
		tmpl[1].pValue = (void *)o->key_label;
		tmpl[1].ulValueLen = strlen(o->key_label);
	}
	rv = f->C_FindObjectsInit(s, tmpl, 2);
	if (rv != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, out, 1, &n);
	rv2 = f->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK && n != 1)
		rv = CKR_KEY_HANDLE_INVALID;
	return rv;
}

__attribute__((warn_unused_result)) static int pb_lat_push(struct pb_thread *t, uint64_t ns)
{
	if (t->num_lat == t->cap_lat) {
		size_t cap = t->cap_lat ? t->cap_lat * 2 : PB_LAT_INITIAL;
		uint64_t *p = realloc(t->lat_ns, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		t->lat_ns = p;
		t->cap_lat = cap;
	}
	t->lat_ns[t->num_lat++] = ns;
	return 0;
}

/* One signature: the client-side hash (with --prehash), C_SignInit, C_Sign.  Returns
 * CKR_OK with a non-empty signature, or the failing call's code. */
__attribute__((warn_unused_result)) static CK_RV pb_sign_once(struct pb_run *r,
							      CK_SESSION_HANDLE s,
							      CK_OBJECT_HANDLE key,
							      EVP_MD_CTX *mdctx,
							      CK_ULONG *out_sig_len)
{
	const struct pb_mech *m = r->o->mech;
	CK_RSA_PKCS_PSS_PARAMS pss = { m->pss_hash, m->pss_mgf, m->pss_salt_len };
	CK_MECHANISM mech = { m->type, NULL, 0 };
	uint8_t in[PB_MAX_PREFIX_LEN + PB_MAX_DIGEST_LEN];
	uint8_t sig[PB_MAX_SIG_LEN];
	CK_BYTE_PTR data = (CK_BYTE_PTR)r->data;
	CK_ULONG data_len = r->data_len, sig_len = sizeof(sig);
	CK_RV rv;

	if (m->pss_hash != 0) {
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}
	if (r->md != NULL) {
		const struct pb_hash *h = &pb_hashes[r->o->prehash];
		size_t off = m->type == CKM_RSA_PKCS ? h->prefix_len : 0;
		unsigned int dlen = 0;

		memcpy(in, h->prefix, off);
		if (EVP_DigestInit_ex2(mdctx, r->md, NULL) != 1 ||
		    EVP_DigestUpdate(mdctx, r->data, r->data_len) != 1 ||
		    EVP_DigestFinal_ex(mdctx, in + off, &dlen) != 1)
			return CKR_GENERAL_ERROR;
		data = in;
		data_len = off + dlen;
	}
	rv = r->f->C_SignInit(s, &mech, key);
	if (rv != CKR_OK)
		return rv;
	rv = r->f->C_Sign(s, data, data_len, sig, &sig_len);
	if (rv == CKR_OK && sig_len == 0)
		rv = CKR_GENERAL_ERROR;
	*out_sig_len = sig_len;
	return rv;
}

static void *pb_thread_main(void *arg)
{
	struct pb_thread *t = arg;
	struct pb_run *r = t->run;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	EVP_MD_CTX *mdctx = NULL;
	unsigned long done = 0;
	CK_ULONG sig_len = 0;
	CK_RV rv;

	rv = r->f->C_OpenSession(r->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = pb_find_key(r->o, r->f, s, &key);
	mdctx = EVP_MD_CTX_new();
	t->lat_ns = malloc(PB_LAT_INITIAL * sizeof(*t->lat_ns));
	t->cap_lat = t->lat_ns != NULL ? PB_LAT_INITIAL : 0;
	if (rv != CKR_OK || mdctx == NULL || t->lat_ns == NULL) {
		fprintf(stderr, "p11bench: thread setup (session, key) failed: %s (0x%lx)\n",
			pb_rv_name(rv), (unsigned long)rv);
		atomic_store(&r->setup_failed, 1);
	} else {
		t->setup_ok = 1;
	}
	pthread_barrier_wait(&r->barrier); /* A: setup done */
	pthread_barrier_wait(&r->barrier); /* B: main set the warm-up end */
	if (!t->setup_ok || atomic_load(&r->setup_failed))
		goto wait_start;
	while (pb_now_ns() < r->warm_end_ns) {
		rv = pb_sign_once(r, s, key, mdctx, &sig_len);
		if (rv != CKR_OK) {
			t->errors++;
			if (t->first_error == CKR_OK)
				t->first_error = rv;
			if (t->errors >= PB_MAX_ERRORS_PER_THREAD)
				break;
		}
	}
wait_start:
	pthread_barrier_wait(&r->barrier); /* C: warm-up over */
	pthread_barrier_wait(&r->barrier); /* D: main set start and deadline */
	if (!t->setup_ok || atomic_load(&r->setup_failed) || t->errors > 0)
		goto out;
	for (;;) {
		uint64_t t0, t1;

		if (r->deadline_ns == 0 ? done >= t->quota : pb_now_ns() >= r->deadline_ns)
			break;
		t0 = pb_now_ns();
		rv = pb_sign_once(r, s, key, mdctx, &sig_len);
		t1 = pb_now_ns();
		done++;
		if (rv != CKR_OK) {
			t->errors++;
			if (t->first_error == CKR_OK)
				t->first_error = rv;
			if (t->errors >= PB_MAX_ERRORS_PER_THREAD)
				break;
			continue;
		}
		t->sig_len = sig_len;
		if (pb_lat_push(t, t1 - t0) != 0) {
			t->errors++;
			t->first_error = CKR_HOST_MEMORY;
			break;
		}
	}
out:
	t->end_ns = pb_now_ns();
	EVP_MD_CTX_free(mdctx);
	if (s != CK_INVALID_HANDLE)
		(void)r->f->C_CloseSession(s);
	return NULL;
}

static int pb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double pb_pct_us(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0.0;
	/* ceil(p% of n), with slack for p/100*n landing a hair above an integer */
	rank = (size_t)ceil(p / 100.0 * (double)n - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

/* Runs the threads and prints the result line.  Returns 0 (ok), 1 (signing errors)
 * or 2 (setup failed). */
__attribute__((warn_unused_result)) static int pb_run_threads(struct pb_run *r)
{
	const struct pb_opts *o = r->o;
	struct pb_thread *th = calloc((size_t)o->threads, sizeof(*th));
	uint64_t *all = NULL, end_ns = 0, cpu0, cpu1, peer0, peer1;
	unsigned long errors = 0, sigs = 0;
	CK_RV first_error = CKR_OK;
	CK_ULONG sig_len = 0;
	size_t num_all = 0, k;
	int i, started = 0, ret = 2;
	double elapsed, mean = 0.0;

	if (th == NULL || pthread_barrier_init(&r->barrier, NULL, (unsigned)o->threads + 1) != 0) {
		free(th);
		return 2;
	}
	for (i = 0; i < o->threads; i++) {
		th[i].run = r;
		th[i].quota = o->count / (unsigned long)o->threads +
			      ((unsigned long)i < o->count % (unsigned long)o->threads);
		if (pthread_create(&th[i].tid, NULL, pb_thread_main, &th[i]) != 0) {
			/* The barrier counts every thread: without them all, nobody passes. */
			fprintf(stderr, "p11bench: pthread_create failed\n");
			exit(2);
		}
		started++;
	}
	pthread_barrier_wait(&r->barrier); /* A */
	r->warm_end_ns = pb_now_ns() + (uint64_t)(o->warmup * (double)PB_NS_PER_S);
	pthread_barrier_wait(&r->barrier); /* B */
	pthread_barrier_wait(&r->barrier); /* C */
	r->start_ns = pb_now_ns();
	r->deadline_ns = o->count ? 0 : r->start_ns + (uint64_t)(o->seconds * (double)PB_NS_PER_S);
	cpu0 = pb_cpu_us();
	peer0 = pb_peer_cpu_us(o->peer_pid);
	pthread_barrier_wait(&r->barrier); /* D */
	for (i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	cpu1 = pb_cpu_us();
	peer1 = pb_peer_cpu_us(o->peer_pid);
	pthread_barrier_destroy(&r->barrier);

	for (i = 0; i < o->threads; i++) {
		errors += th[i].errors;
		if (first_error == CKR_OK)
			first_error = th[i].first_error;
		if (th[i].sig_len != 0)
			sig_len = th[i].sig_len;
		if (th[i].end_ns > end_ns)
			end_ns = th[i].end_ns;
		num_all += th[i].num_lat;
	}
	if (atomic_load(&r->setup_failed))
		goto out;
	all = malloc((num_all ? num_all : 1) * sizeof(*all));
	if (all == NULL)
		goto out;
	for (i = 0, k = 0; i < o->threads; i++) {
		memcpy(all + k, th[i].lat_ns, th[i].num_lat * sizeof(*all));
		k += th[i].num_lat;
	}
	sigs = (unsigned long)num_all;
	qsort(all, num_all, sizeof(*all), pb_cmp_u64);
	for (k = 0; k < num_all; k++)
		mean += (double)all[k];
	mean = num_all ? mean / (double)num_all / 1000.0 : 0.0;
	elapsed = (double)(end_ns - r->start_ns) / (double)PB_NS_PER_S;
	ret = errors ? 1 : 0;
	printf("p11bench status=%s tag=%s module=%s mech=%s prehash=%s threads=%d data_len=%zu "
	       "warmup_s=%.2f elapsed_s=%.3f sigs=%lu errors=%lu first_error=%s "
	       "first_error_rv=0x%lx sig_len=%lu sig_per_s=%.1f mean_us=%.1f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f cpu_us_per_sig=%.1f "
	       "peer_cpu_us_per_sig=%.1f\n",
	       errors ? "failed" : "ok", o->tag, o->module, o->mech->name,
	       pb_hashes[o->prehash].name, o->threads, r->data_len, o->warmup, elapsed, sigs,
	       errors, pb_rv_name(first_error), (unsigned long)first_error,
	       (unsigned long)sig_len, elapsed > 0 ? (double)sigs / elapsed : 0.0, mean,
	       pb_pct_us(all, num_all, 50.0), pb_pct_us(all, num_all, 90.0),
	       pb_pct_us(all, num_all, 99.0), pb_pct_us(all, num_all, 99.9),
	       num_all ? (double)all[num_all - 1] / 1000.0 : 0.0,
	       sigs ? (double)(cpu1 - cpu0) / (double)sigs : 0.0,
	       sigs && peer1 >= peer0 ? (double)(peer1 - peer0) / (double)sigs : 0.0);
out:
	for (i = 0; i < o->threads; i++)
		free(th[i].lat_ns);
	free(th);
	free(all);
	return ret;
}

int main(int argc, char **argv)
{
	static struct pb_opts o;
	struct pb_run r = { 0 };
	CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList get_list;
	CK_SESSION_HANDLE login_s = CK_INVALID_HANDLE;
	void *dl = NULL;
	uint8_t *data = NULL;
	EVP_MD *md = NULL;
	int initialized = 0, ret = 2;
	const char *stage = "args";
	CK_RV rv = CKR_OK;

	if (pb_parse_args(argc, argv, &o) != 0)
		goto out;
	r.o = &o;
	stage = "data";
	data = pb_load_data(&o, &r.data_len);
	if (data == NULL)
		goto out;
	r.data = data;
	if (o.prehash != PB_PREHASH_NONE) {
		stage = "digest";
		md = EVP_MD_fetch(NULL, pb_hashes[o.prehash].ossl_name, NULL);
		if (md == NULL)
			goto out;
		r.md = md;
	}
	stage = "dlopen";
	dl = dlopen(o.module, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "p11bench: %s\n", dlerror());
		goto out;
	}
	get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	stage = "C_GetFunctionList";
	if (get_list == NULL || (rv = get_list(&r.f)) != CKR_OK)
		goto out;
	stage = "C_Initialize";
	rv = r.f->C_Initialize(&init);
	if (rv != CKR_OK)
		goto out;
	initialized = 1;
	stage = "slot";
	rv = pb_find_slot(&o, r.f, &r.slot);
	if (rv != CKR_OK)
		goto out;
	/* Login state belongs to the application: one login on a session kept open for
	 * the run covers every thread's session. */
	stage = "C_Login";
	rv = r.f->C_OpenSession(r.slot, CKF_SERIAL_SESSION, NULL, NULL, &login_s);
	if (rv == CKR_OK)
		rv = r.f->C_Login(login_s, CKU_USER, (CK_UTF8CHAR_PTR)o.pin, o.pin_len);
	explicit_bzero(o.pin, sizeof(o.pin));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK)
		goto out;
	stage = "threads";
	ret = pb_run_threads(&r);
out:
	explicit_bzero(o.pin, sizeof(o.pin));
	if (ret == 2)
		printf("p11bench status=error tag=%s stage=%s rv=0x%lx (%s)\n", o.tag ? o.tag : "-",
		       stage, (unsigned long)rv, pb_rv_name(rv));
	if (login_s != CK_INVALID_HANDLE)
		(void)r.f->C_CloseSession(login_s);
	if (initialized)
		(void)r.f->C_Finalize(NULL);
	/* No dlclose: some modules leave atexit handlers or threads behind. */
	EVP_MD_free(md);
	free(data);
	fflush(stdout);
	return ret;
}
