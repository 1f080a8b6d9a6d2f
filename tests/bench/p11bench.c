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
#include "p11bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

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
	atomic_ulong setup_rv; /* the first thread-setup failure (CK_RV), else 0 */
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
	uint8_t *data;      /* --unique-at: this thread's copy of the data */
	uint64_t unique;    /* --unique-at: next number (thread index in the top bits) */
};

static uint64_t pb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * PB_NS_PER_S + (uint64_t)ts.tv_nsec;
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

/* Trims the blank padding of a fixed-size PKCS#11 string into out (NUL-terminated). */
static void pb_unpad(const CK_UTF8CHAR *s, size_t len, char *out)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\0'))
		len--;
	memcpy(out, s, len);
	out[len] = '\0';
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
							      struct pb_thread *t,
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

	if (t->data != NULL) {
		uint64_t u = t->unique++;
		for (int i = 0; i < 8; i++)
			t->data[r->o->unique_at + i] = (uint8_t)(u >> (56 - 8 * i));
		data = t->data;
	}
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
		    EVP_DigestUpdate(mdctx, data, r->data_len) != 1 ||
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
	if (r->o->unique_at >= 0 && (size_t)r->o->unique_at + 8 <= r->data_len &&
	    (t->data = malloc(r->data_len)) != NULL)
		memcpy(t->data, r->data, r->data_len);
	else if (r->o->unique_at >= 0)
		rv = CKR_ARGUMENTS_BAD;
	t->lat_ns = malloc(PB_LAT_INITIAL * sizeof(*t->lat_ns));
	t->cap_lat = t->lat_ns != NULL ? PB_LAT_INITIAL : 0;
	if (rv != CKR_OK || mdctx == NULL || t->lat_ns == NULL) {
		fprintf(stderr, "p11bench: thread setup (session, key) failed: %s (0x%lx)\n",
			pb_rv_name(rv), (unsigned long)rv);
		unsigned long none = CKR_OK;

		atomic_compare_exchange_strong(&r->setup_rv, &none,
					       rv != CKR_OK ? rv : CKR_HOST_MEMORY);
		atomic_store(&r->setup_failed, 1);
	} else {
		t->setup_ok = 1;
	}
	pthread_barrier_wait(&r->barrier); /* A: setup done */
	pthread_barrier_wait(&r->barrier); /* B: main set the warm-up end */
	if (!t->setup_ok || atomic_load(&r->setup_failed))
		goto wait_start;
	while (pb_now_ns() < r->warm_end_ns) {
		rv = pb_sign_once(r, s, key, mdctx, t, &sig_len);
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
		rv = pb_sign_once(r, s, key, mdctx, t, &sig_len);
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
	free(t->data);
	t->data = NULL;
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
		/* distinct per thread, and across runs of the same key (the clock moves by
		 * far more nanoseconds between runs than a run signs) */
		th[i].unique = ((uint64_t)i << 56) | (pb_now_ns() & ((1ull << 56) - 1));
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

	o.unique_at = -1;
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
	if (ret == 2 && atomic_load(&r.setup_rv) != CKR_OK) {
		stage = "thread-setup";
		rv = atomic_load(&r.setup_rv);
	}
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
