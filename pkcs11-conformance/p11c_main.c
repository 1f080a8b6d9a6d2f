/*
 * p11c_main.c - p11-conformance: a Check suite testing any PKCS#11 module.
 *
 * Configuration (environment):
 *   P11C_MODULE       path of the module (required)
 *   P11C_SLOT         slot id (default: the first slot with a token)
 *   P11C_PIN          user PIN (tests that need a login SKIP without it)
 *   P11C_SO_PIN       SO PIN (optional; enables the SO session-state test)
 *   P11C_KEY_LABEL    label of the signing private key (default: the first private key)
 *   P11C_DEVIATIONS   file of known deviations: "test-name  # reason" per line (glob allowed)
 *   P11C_WRONG_PIN_OK 1 = run the wrong-PIN test (one wrong PIN, then the right one)
 *   P11C_DATA         file whose bytes are signed (default: 3000 fixed pattern bytes)
 *
 * After Check's own report it prints one line per test: "PASS name", "FAIL name: why",
 * "SKIP name: why", "XFAIL name: why (known deviation: reason)".  A listed deviation that
 * passes is reported as "PASS name: unexpectedly passed ...".  Exit status: 0 unless a test
 * failed that is not listed as a known deviation (or the suite could not start: 2).
 */
#include "p11c.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define P11C_MAX_DEVIATIONS 256
#define P11C_MAX_LINE 1024

struct deviation {
	char name[P11C_MAX_NAME];
	char reason[P11C_MAX_LINE];
	bool seen;
};

static struct deviation devs[P11C_MAX_DEVIATIONS];
static size_t num_devs;

void p11c_add(Suite *s, const TTest *t)
{
	TCase *tc = tcase_create(t->name);

	tcase_set_timeout(tc, P11C_TEST_TIMEOUT);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int deviations_load(const char *path)
{
	char line[P11C_MAX_LINE], *name, *hash;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "p11-conformance: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash++ = '\0';
		name = trim(line);
		if (*name == '\0')
			continue;
		if (num_devs == P11C_MAX_DEVIATIONS || strlen(name) >= P11C_MAX_NAME) {
			fprintf(stderr, "p11-conformance: %s: too many or too long entries\n", path);
			fclose(f);
			return -1;
		}
		snprintf(devs[num_devs].name, sizeof(devs[num_devs].name), "%s", name);
		snprintf(devs[num_devs].reason, sizeof(devs[num_devs].reason), "%s",
			hash ? trim(hash) : "no reason given");
		num_devs++;
	}
	fclose(f);
	return 0;
}

static struct deviation *deviation_find(const char *name)
{
	size_t i;

	for (i = 0; i < num_devs; i++)
		if (fnmatch(devs[i].name, name, 0) == 0)
			return &devs[i];
	return NULL;
}

static int config_load(void)
{
	const char *v;
	char *end;
	size_t i;

	p11c.module_path = getenv("P11C_MODULE");
	if (p11c.module_path == NULL || *p11c.module_path == '\0') {
		fprintf(stderr, "p11-conformance: set P11C_MODULE to the module path\n");
		return -1;
	}
	v = getenv("P11C_SLOT");
	if (v != NULL && *v != '\0') {
		errno = 0;
		p11c.slot = strtoul(v, &end, 0);
		if (errno != 0 || *end != '\0') {
			fprintf(stderr, "p11-conformance: bad P11C_SLOT '%s'\n", v);
			return -1;
		}
		p11c.slot_set = true;
	}
	p11c.pin = getenv("P11C_PIN");
	p11c.so_pin = getenv("P11C_SO_PIN");
	if (p11c.so_pin != NULL && *p11c.so_pin == '\0')
		p11c.so_pin = NULL;
	p11c.key_label = getenv("P11C_KEY_LABEL");
	if (p11c.key_label != NULL && *p11c.key_label == '\0')
		p11c.key_label = NULL;
	v = getenv("P11C_WRONG_PIN_OK");
	p11c.wrong_pin_ok = v != NULL && strcmp(v, "1") == 0;
	v = getenv("P11C_DATA");
	if (v != NULL && *v != '\0') {
		FILE *f = fopen(v, "rb");
		long len;

		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
		    len > P11C_MAX_DATA_LEN || fseek(f, 0, SEEK_SET) != 0) {
			fprintf(stderr, "p11-conformance: cannot use P11C_DATA %s\n", v);
			if (f)
				fclose(f);
			return -1;
		}
		p11c.data_len = (size_t)len;
		p11c.data = malloc(p11c.data_len);
		if (p11c.data == NULL || fread(p11c.data, 1, p11c.data_len, f) != p11c.data_len) {
			fclose(f);
			return -1;
		}
		fclose(f);
	} else {
		p11c.data_len = P11C_DATA_LEN;
		p11c.data = malloc(p11c.data_len);
		if (p11c.data == NULL)
			return -1;
		for (i = 0; i < p11c.data_len; i++)
			p11c.data[i] = (unsigned char)(i * 7 + 3);
	}
	v = getenv("P11C_DEVIATIONS");
	if (v != NULL && *v != '\0' && deviations_load(v) != 0)
		return -1;
	return 0;
}

static int module_load(void)
{
	CK_RV (*gfl)(CK_FUNCTION_LIST **);
	CK_RV rv;

	p11c.dl = dlopen(p11c.module_path, RTLD_NOW | RTLD_LOCAL);
	if (p11c.dl == NULL) {
		fprintf(stderr, "p11-conformance: dlopen %s: %s\n", p11c.module_path, dlerror());
		return -1;
	}
	*(void **)&gfl = dlsym(p11c.dl, "C_GetFunctionList");
	if (gfl == NULL) {
		fprintf(stderr, "p11-conformance: %s exports no C_GetFunctionList\n",
			p11c.module_path);
		return -1;
	}
	rv = gfl(&p11c.fl);
	if (rv != CKR_OK || p11c.fl == NULL) {
		fprintf(stderr, "p11-conformance: C_GetFunctionList: %s\n", p11c_rv_name(rv));
		return -1;
	}
	*(void **)&p11c.get_interface = dlsym(p11c.dl, "C_GetInterface");
	*(void **)&p11c.get_interface_list = dlsym(p11c.dl, "C_GetInterfaceList");
	return 0;
}

/* The signing key's type, learnt in a child process (the parent must never initialise
 * the module: every test forks from it).  CK_UNAVAILABLE_INFORMATION when unknown. */
static CK_KEY_TYPE probe_key_type(void)
{
	CK_KEY_TYPE kt = CK_UNAVAILABLE_INFORMATION;
	int fds[2], status;
	pid_t pid;

	if (p11c.pin == NULL || pipe(fds) != 0)
		return kt;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return kt;
	}
	if (pid == 0) {
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) } };
		CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
		CK_SLOT_ID slots[P11C_MAX_SLOTS];
		CK_ULONG n = P11C_MAX_SLOTS, nt = 1;
		CK_OBJECT_HANDLE h;
		CK_SESSION_HANDLE sh;
		CK_FUNCTION_LIST *f = p11c.fl;

		close(fds[0]);
		if (p11c.key_label != NULL) {
			t[1] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)p11c.key_label,
					       strlen(p11c.key_label) };
			nt = 2;
		}
		if (f->C_Initialize(NULL) == CKR_OK &&
		    (p11c.slot_set || (f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK && n > 0)) &&
		    f->C_OpenSession(p11c.slot_set ? p11c.slot : slots[0], CKF_SERIAL_SESSION,
				     NULL, NULL, &sh) == CKR_OK &&
		    f->C_Login(sh, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin)) == CKR_OK &&
		    f->C_FindObjectsInit(sh, t, nt) == CKR_OK &&
		    f->C_FindObjects(sh, &h, 1, &n) == CKR_OK && n == 1 &&
		    f->C_GetAttributeValue(sh, h, &a, 1) == CKR_OK) {
			if (write(fds[1], &kt, sizeof(kt)) != (ssize_t)sizeof(kt))
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &kt, sizeof(kt)) != (ssize_t)sizeof(kt))
		kt = CK_UNAVAILABLE_INFORMATION;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return kt;
}

/* Reads and removes the SKIP reason a test recorded; returns false when there is none. */
static bool skip_take(const char *name, char *why, size_t why_len)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", p11c.skip_dir, name);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(why, 1, why_len - 1, f);
	why[n] = '\0';
	fclose(f);
	unlink(path);
	return true;
}

static const char *result_msg(TestResult *tr, char *buf, size_t len)
{
	const char *m = tr_msg(tr);

	snprintf(buf, len, "%s (%s:%d)", m ? m : "failed", tr_lfile(tr) ? tr_lfile(tr) : "?",
		tr_lno(tr));
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return buf;
}

static int report(SRunner *sr)
{
	TestResult **res = srunner_results(sr);
	int n = srunner_ntests_run(sr), i, unexpected = 0;
	int num_pass = 0, num_fail = 0, num_skip = 0, num_xfail = 0;
	char why[P11C_MAX_LINE], msg[P11C_MAX_LINE * 2];

	printf("---- p11-conformance results for %s\n", p11c.module_path);
	for (i = 0; i < n; i++) {
		const char *name = tr_tcname(res[i]);
		struct deviation *d = deviation_find(name);

		if (d != NULL)
			d->seen = true;
		if (tr_rtype(res[i]) == CK_PASS) {
			if (skip_take(name, why, sizeof(why))) {
				printf("SKIP %s: %s\n", name, why);
				num_skip++;
			} else if (d != NULL) {
				printf("PASS %s: unexpectedly passed; listed as a known deviation (%s)"
				       " - remove it from the deviations file\n", name, d->reason);
				num_pass++;
			} else {
				printf("PASS %s\n", name);
				num_pass++;
			}
			continue;
		}
		(void)skip_take(name, why, sizeof(why));  /* a SKIP recorded before failing */
		result_msg(res[i], msg, sizeof(msg));
		if (d != NULL) {
			printf("XFAIL %s: %s (known deviation: %s)\n", name, msg, d->reason);
			num_xfail++;
		} else {
			printf("FAIL %s: %s\n", name, msg);
			num_fail++;
			unexpected++;
		}
	}
	free(res);
	for (size_t j = 0; j < num_devs; j++)
		if (!devs[j].seen)
			printf("# deviation '%s' matches no test that ran\n", devs[j].name);
	printf("---- %d passed, %d failed, %d skipped, %d known deviations\n", num_pass, num_fail,
		num_skip, num_xfail);
	return unexpected;
}

int main(void)
{
	char skip_dir[] = "/tmp/p11c-skip.XXXXXX";
	Suite *s;
	SRunner *sr;
	int bad;

	if (config_load() != 0 || module_load() != 0)
		return 2;
	if (mkdtemp(skip_dir) == NULL) {
		perror("p11-conformance: mkdtemp");
		return 2;
	}
	p11c.skip_dir = skip_dir;

	s = suite_create("p11-conformance");
	p11c_add_init_tests(s);
	p11c_add_info_tests(s);
	p11c_add_session_tests(s);
	p11c_add_object_tests(s);
	p11c_add_sign_tests(s, probe_key_type());
	p11c_add_thread_tests(s);

	sr = srunner_create(s);
	/* Every test must start from an uninitialised module in a fresh process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	bad = report(sr);
	srunner_free(sr);
	rmdir(skip_dir);
	free(p11c.data);
	return bad == 0 ? 0 : 1;
}
