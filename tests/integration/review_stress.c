/*
 * review_stress.c - many threads on libwarden-pkcs11.so against the real enclave, the
 * common patterns of CA software at once: sessions opened and closed, login and logout
 * racing, find, attribute reads, length queries, one-shot and multi-part signatures,
 * token info; a fork in the middle whose child initialises again and signs.  Every call
 * must give CKR_OK or a return value the race explains; afterwards no descriptor is left
 * open and a C_Finalize/C_Initialize cycle works.  Built and run by review_stress.sh
 * (also under ThreadSanitizer: REVIEW_TSAN=1).
 *
 *   review_stress MODULE PIN SECONDS THREADS
 */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define MAX_THREADS 64
#define TBS_LEN 700
#define PIECE 64

static CK_FUNCTION_LIST_PTR p11;
static const char *pin;
static int stop; /* __atomic */
static unsigned long n_signed, n_raced, n_bad;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void count(unsigned long *c)
{
	pthread_mutex_lock(&count_lock);
	(*c)++;
	pthread_mutex_unlock(&count_lock);
}

/* What another thread's C_Logout/C_Login may cause: the op or key disappears. */
static int raced(CK_RV rv)
{
	return rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_USER_ALREADY_LOGGED_IN ||
	       rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OPERATION_NOT_INITIALIZED;
}

static int check(const char *what, CK_RV rv)
{
	if (rv == CKR_OK)
		return 0;
	if (raced(rv)) {
		count(&n_raced);
		return 1;
	}
	fprintf(stderr, "%s: unexpected 0x%lx\n", what, (unsigned long)rv);
	count(&n_bad);
	return 1;
}

static int find_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
	CK_ULONG n = 0;
	if (check("FindObjectsInit", p11->C_FindObjectsInit(s, t, 1)))
		return -1;
	CK_RV rv = p11->C_FindObjects(s, key, 1, &n);
	check("FindObjectsFinal", p11->C_FindObjectsFinal(s));
	if (check("FindObjects", rv) || n != 1) {
		if (rv == CKR_OK)
			count(&n_raced); /* logged out: the private key is invisible */
		return -1;
	}
	return 0;
}

static CK_MECHANISM_TYPE key_mech(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	if (p11->C_GetAttributeValue(s, key, &a, 1) != CKR_OK)
		return CKM_ECDSA_SHA256;
	return kt == CKK_RSA ? CKM_SHA256_RSA_PKCS : kt == CKK_EC ? CKM_ECDSA_SHA256 : CKM_EDDSA;
}

static void sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int multi, unsigned seed)
{
	CK_BYTE tbs[TBS_LEN], sig[1024];
	CK_ULONG len = 0;
	CK_MECHANISM m = {key_mech(s, key), NULL, 0};
	for (size_t i = 0; i < sizeof(tbs); i++)
		tbs[i] = (CK_BYTE)(seed + i);
	if (check("SignInit", p11->C_SignInit(s, &m, key)))
		return;
	if (!multi) {
		/* Length query first (PyKCS11, certtool): no request, op kept. */
		if (check("Sign(len)", p11->C_Sign(s, tbs, sizeof(tbs), NULL, &len)))
			return;
		if (check("Sign", p11->C_Sign(s, tbs, sizeof(tbs), sig, &len)))
			return;
	} else {
		for (size_t off = 0; off < sizeof(tbs); off += PIECE) {
			size_t n = sizeof(tbs) - off < PIECE ? sizeof(tbs) - off : PIECE;
			if (check("SignUpdate", p11->C_SignUpdate(s, tbs + off, n)))
				return;
		}
		CK_ULONG small = 1;
		CK_RV rv = p11->C_SignFinal(s, sig, &small);
		if (rv != CKR_BUFFER_TOO_SMALL) {
			check("SignFinal(small)", rv == CKR_OK ? CKR_GENERAL_ERROR : rv);
			return;
		}
		len = sizeof(sig);
		if (check("SignFinal", p11->C_SignFinal(s, sig, &len)))
			return;
	}
	if (len == 0 || len > sizeof(sig)) {
		fprintf(stderr, "signature of %lu bytes\n", (unsigned long)len);
		count(&n_bad);
		return;
	}
	count(&n_signed);
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, iter = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE key;
		CK_TOKEN_INFO ti;
		iter++;
		if (check("OpenSession", p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION,
							  NULL, NULL, &s)))
			continue;
		CK_RV rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
		if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
			check("Login", rv);
		if (id == 0 && iter % 5 == 0) {
			/* The token-wide logout another application thread may do. */
			rv = p11->C_Logout(s);
			if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
				check("Logout", rv);
		} else if (find_key(s, &key) == 0) {
			for (int i = 0; i < 4; i++)
				sign_once(s, key, (iter + (unsigned)i) % 2, id * 1000 + iter);
		}
		if (iter % 7 == 0)
			check("GetTokenInfo", p11->C_GetTokenInfo(1, &ti));
		check("CloseSession", p11->C_CloseSession(s));
	}
	return NULL;
}

/* The child of a fork made while the workers run: initialises again and signs. */
static int child_signs(void)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_C_INITIALIZE_ARGS a = {.flags = CKF_OS_LOCKING_OK};
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	n_bad = n_signed = 0;
	if (p11->C_GetSlotList(CK_TRUE, NULL, &(CK_ULONG){0}) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 10;
	if (p11->C_Initialize(&a) != CKR_OK)
		return 11;
	if (p11->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return 12;
	if (p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK)
		return 13;
	if (find_key(s, &key) != 0)
		return 14;
	sign_once(s, key, 0, 1);
	sign_once(s, key, 1, 2);
	if (n_signed != 2 || n_bad != 0)
		return 15;
	p11->C_Finalize(NULL);
	return 0;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n - 1; /* the directory's own */
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: review_stress MODULE PIN SECONDS THREADS\n");
		return 2;
	}
	pin = argv[2];
	int seconds = atoi(argv[3]), nthreads = atoi(argv[4]);
	if (nthreads < 1 || nthreads > MAX_THREADS)
		return 2;
	void *lib = dlopen(argv[1], RTLD_NOW);
	CK_C_GetFunctionList gfl = lib != NULL ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK) {
		fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
		return 2;
	}
	int fds_before = open_fds();
	CK_C_INITIALIZE_ARGS a = {.flags = CKF_OS_LOCKING_OK};
	if (p11->C_Initialize(&a) != CKR_OK)
		return 3;
	pthread_t th[MAX_THREADS];
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	sleep((unsigned)(seconds / 2));
	pid_t child = fork();
	if (child == 0)
		_exit(child_signs());
	int cst = -1;
	waitpid(child, &cst, 0);
	sleep((unsigned)(seconds - seconds / 2));
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	int ok = 1;
	if (!WIFEXITED(cst) || WEXITSTATUS(cst) != 0) {
		fprintf(stderr, "forked child: status 0x%x\n", cst);
		ok = 0;
	}
	if (p11->C_Finalize(NULL) != CKR_OK)
		ok = 0;
	int fds_after = open_fds();
	if (fds_after != fds_before) {
		fprintf(stderr, "descriptors: %d before C_Initialize, %d after C_Finalize\n",
			fds_before, fds_after);
		ok = 0;
	}
	/* Initialise again: works, and signs. */
	n_bad = 0;
	unsigned long signed_before = n_signed;
	if (p11->C_Initialize(&a) != CKR_OK)
		ok = 0;
	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	if (p11->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK &&
	    p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK &&
	    find_key(s, &key) == 0)
		sign_once(s, key, 0, 3);
	if (n_signed != signed_before + 1)
		ok = 0;
	p11->C_Finalize(NULL);
	printf("signed %lu, raced %lu, unexpected %lu, child %s\n", n_signed, n_raced, n_bad,
	       WIFEXITED(cst) && WEXITSTATUS(cst) == 0 ? "ok" : "failed");
	return ok && n_bad == 0 && n_signed > 0 ? 0 : 1;
}
