/*
 * test_thread.c - many threads signing on their own sessions, and fork(): a child using
 * the parent's handles, a child that initialises again, and the parent afterwards.
 *
 * Code running in threads or in forked children never calls ck_assert (Check's failure
 * path is only safe in the test's own thread and process); it reports errors as text.
 */
#include "p11c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define P11C_ERR_LEN 256

struct worker {
	pthread_t tid;
	const struct p11c_key *k;
	const struct p11c_mech *m;
	int num_ok;
	char err[P11C_ERR_LEN];
};

/* One signature on session s, verified; returns NULL or an error text in err. */
static const char *sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
	const struct p11c_key *k, const struct p11c_mech *m, char *err, size_t err_len)
{
	unsigned char sig[P11C_MAX_SIG_LEN], inbuf[128];
	const unsigned char *in;
	size_t in_len;
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_ULONG len = sizeof(sig);
	const char *verr;
	CK_RV rv;

	p11c_mech_fill(m, &mech, &pss);
	p11c_mech_input(m, &in, &in_len, inbuf, sizeof(inbuf));
	rv = p11c.fl->C_SignInit(s, &mech, key);
	if (rv != CKR_OK) {
		snprintf(err, err_len, "C_SignInit: %s", p11c_rv_name(rv));
		return err;
	}
	rv = p11c.fl->C_Sign(s, (CK_BYTE *)in, in_len, sig, &len);
	if (rv != CKR_OK) {
		snprintf(err, err_len, "C_Sign: %s", p11c_rv_name(rv));
		return err;
	}
	verr = p11c_verify(k, m, sig, len);
	if (verr != NULL) {
		snprintf(err, err_len, "%s", verr);
		return err;
	}
	return NULL;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int i;

	rv = p11c.fl->C_OpenSession(p11c.slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		snprintf(w->err, sizeof(w->err), "C_OpenSession: %s", p11c_rv_name(rv));
		return NULL;
	}
	for (i = 0; i < P11C_SIGS_PER_THREAD; i++) {
		if (sign_once(s, w->k->priv, w->k, w->m, w->err, sizeof(w->err)) != NULL)
			break;
		w->num_ok++;
	}
	rv = p11c.fl->C_CloseSession(s);
	if (rv != CKR_OK && w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "C_CloseSession: %s", p11c_rv_name(rv));
	return NULL;
}

static const struct p11c_mech *any_setup(const char *func, CK_SESSION_HANDLE *s,
	struct p11c_key *k)
{
	char name[P11C_MAX_NAME];
	const struct p11c_mech *m;

	p11c_test_name(func, name, sizeof(name));
	if (!p11c_key_setup(name, s, k))
		return NULL;
	m = p11c_mech_for_key(k);
	if (m == NULL) {
		p11c_skip_record(name, "the token lists no suite mechanism for key type 0x%lx",
			(unsigned long)k->key_type);
		p11c_key_clear(k);
		p11c_finalize();
		return NULL;
	}
	/* Workers and children use p11c.slot directly. */
	p11c.slot = p11c_slot();
	p11c.slot_set = true;
	return m;
}

START_TEST(threads_sign_own_sessions)
{
	struct worker w[P11C_THREADS];
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);
	int i;

	if (m == NULL)
		return;
	memset(w, 0, sizeof(w));
	for (i = 0; i < P11C_THREADS; i++) {
		w[i].k = &k;
		w[i].m = m;
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < P11C_THREADS; i++)
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
	for (i = 0; i < P11C_THREADS; i++)
		ck_assert_msg(w[i].num_ok == P11C_SIGS_PER_THREAD,
			"thread %d: %d of %d signatures with %s, then: %s", i, w[i].num_ok,
			P11C_SIGS_PER_THREAD, m->name, w[i].err);
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

/* Runs fn in a child; returns its error text (empty when it succeeded). */
static void in_child(void (*fn)(const struct p11c_key *, const struct p11c_mech *,
				CK_SESSION_HANDLE, char *, size_t),
	const struct p11c_key *k, const struct p11c_mech *m, CK_SESSION_HANDLE s,
	char *err, size_t err_len)
{
	int fds[2], status = 0;
	pid_t pid;
	ssize_t n;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char cerr[P11C_ERR_LEN] = "";

		close(fds[0]);
		fn(k, m, s, cerr, sizeof(cerr));
		if (write(fds[1], cerr, strlen(cerr)) < 0)
			_exit(3);
		_exit(cerr[0] == '\0' ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], err, err_len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) && err[0] == '\0')
		snprintf(err, err_len, "child died with signal %d", WTERMSIG(status));
}

/* Child: the parent's session and key handles either work or give
 * CKR_CRYPTOKI_NOT_INITIALIZED. */
static void child_stale(const struct p11c_key *k, const struct p11c_mech *m,
	CK_SESSION_HANDLE s, char *err, size_t err_len)
{
	CK_SESSION_INFO si;
	CK_RV rv = p11c.fl->C_GetSessionInfo(s, &si);

	if (rv == CKR_CRYPTOKI_NOT_INITIALIZED)
		return;
	if (rv != CKR_OK) {
		snprintf(err, err_len, "child C_GetSessionInfo(parent's session): %s "
			"(expected CKR_OK or CKR_CRYPTOKI_NOT_INITIALIZED)", p11c_rv_name(rv));
		return;
	}
	/* It works in the child: then signing with the parent's handles must work too. */
	if (sign_once(s, k->priv, k, m, err, err_len) != NULL) {
		size_t n = strlen(err);

		snprintf(err + n, err_len - n, " (child, parent's handles; session info worked)");
	}
}

/* Child: C_Initialize again, then a full login and signature. */
static void child_reinit(const struct p11c_key *k, const struct p11c_mech *m,
	CK_SESSION_HANDLE parent_s, char *err, size_t err_len)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)k->id, k->id_len } };
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s;
	CK_ULONG n = 0;
	CK_RV rv;

	(void)parent_s;
	rv = p11c.fl->C_Initialize(&args);
	if (rv != CKR_OK) {
		snprintf(err, err_len, "child C_Initialize: %s", p11c_rv_name(rv));
		return;
	}
	rv = p11c.fl->C_OpenSession(p11c.slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = p11c.fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)p11c.pin, strlen(p11c.pin));
	if (rv == CKR_OK)
		rv = p11c.fl->C_FindObjectsInit(s, t, 2);
	if (rv == CKR_OK)
		rv = p11c.fl->C_FindObjects(s, &h, 1, &n);
	if (rv == CKR_OK)
		rv = p11c.fl->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		snprintf(err, err_len, "child open/login/find: %s", p11c_rv_name(rv));
		return;
	}
	if (n != 1) {
		snprintf(err, err_len, "child does not find the key after login");
		return;
	}
	if (sign_once(s, h, k, m, err, err_len) != NULL)
		return;
	rv = p11c.fl->C_Finalize(NULL);
	if (rv != CKR_OK)
		snprintf(err, err_len, "child C_Finalize: %s", p11c_rv_name(rv));
}

static void parent_signs(CK_SESSION_HANDLE s, const struct p11c_key *k,
	const struct p11c_mech *m, const char *when)
{
	char err[P11C_ERR_LEN];
	const char *e = sign_once(s, k->priv, k, m, err, sizeof(err));

	ck_assert_msg(e == NULL, "parent %s: %s", when, e ? e : "");
}

START_TEST(fork_child_parent_handles)
{
	char err[P11C_ERR_LEN];
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	parent_signs(s, &k, m, "before fork");
	in_child(child_stale, &k, m, s, err, sizeof(err));
	ck_assert_msg(err[0] == '\0', "%s", err);
	parent_signs(s, &k, m, "after the child used its handles");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

START_TEST(fork_child_initializes_again)
{
	char err[P11C_ERR_LEN];
	CK_SESSION_HANDLE s;
	struct p11c_key k;
	const struct p11c_mech *m = any_setup(__func__, &s, &k);

	if (m == NULL)
		return;
	parent_signs(s, &k, m, "before fork");
	in_child(child_reinit, &k, m, s, err, sizeof(err));
	ck_assert_msg(err[0] == '\0', "%s", err);
	parent_signs(s, &k, m, "after the child initialised, signed and finalised");
	p11c_key_clear(&k);
	p11c_finalize();
}
END_TEST

void p11c_add_thread_tests(Suite *s)
{
	P11C_ADD(s, threads_sign_own_sessions);
	P11C_ADD(s, fork_child_parent_handles);
	P11C_ADD(s, fork_child_initializes_again);
}
