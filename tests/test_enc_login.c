/*
 * test_enc_login.c - the enclave's LOGIN/LOGOUT/SIGN ticket checks and its PIN failure
 * counter (enclave/enc_login.c, enc_conn.c), called through the request handlers as a
 * hostile client would reach them.  No backend: SIGN is stopped by the ticket check
 * (NOT_LOGGED_IN) or, past it, by the key check (WARDEN_E_KEY, there are no keys).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enc.h"

#define TEST_PIN "1234"
#define TEST_WRONG_PIN "9999"
#define TEST_MAX_FAILURES 3u
#define TEST_PARALLEL 12
#define TEST_BLOCK_WAIT_MS 500

static struct enc_state st;
#define STATE_TEMPLATE "/tmp/warden-test-login.XXXXXX"
static char state_dir[sizeof(STATE_TEMPLATE)];

static void setup(void)
{
	memset(&st, 0, sizeof(st));
	memcpy(state_dir, STATE_TEMPLATE, sizeof(STATE_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	st.cfg.state_dir = state_dir;
	st.cfg.pin_max_failures = TEST_MAX_FAILURES;
	st.cfg.max_data_len = ENC_DEFAULT_MAX_DATA;
	ck_assert_int_eq(pthread_mutex_init(&st.login_lock, NULL), 0);
	ck_assert_int_eq(pthread_mutex_init(&st.ticket_lock, NULL), 0);
	ck_assert_int_eq(pin_hash_make(TEST_PIN, strlen(TEST_PIN), st.pin_line,
				       sizeof(st.pin_line)),
			 0);
	/* The PIN count lives in the audit log: one in state_dir (no checkpoint key). */
	static const uint8_t body[] = {0};
	struct aud_record genesis = {.type = AUD_T_GENESIS, .body = body, .body_len = 0};
	struct aud_params p = {.dir = state_dir, .genesis = &genesis};
	struct aud_open_report rep;
	char err[AUD_ERR_LEN];
	ck_assert_msg(aud_open(&p, &st.log, &rep, err, sizeof(err)) == WARDEN_OK, "%s", err);
}

static void teardown(void)
{
	char cmd[128];
	aud_close(st.log);
	st.log = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A whole request frame's body is given to a handler; the answer is a whole frame. */
static uint32_t answer_status(const struct wire_buf *resp, struct wire_cur *rest)
{
	struct wire_header h;
	uint32_t status;
	char msg[WIRE_MAX_STR + 1];
	ck_assert_int_eq(wire_header_parse(resp->data, &h), WARDEN_OK);
	struct wire_cur c = {resp->data + WIRE_HEADER_LEN, resp->len - WIRE_HEADER_LEN};
	ck_assert_int_eq(wire_get_u32(&c, &status), 0);
	ck_assert_int_eq(wire_get_str(&c, msg, sizeof(msg)), 0);
	if (rest != NULL)
		*rest = c;
	return status;
}

static uint32_t do_login(uid_t uid, const char *pin, uint8_t ticket[WIRE_TICKET_LEN])
{
	struct enc_peer peer = {getpid(), uid, 0};
	struct wire_buf req, resp;
	struct wire_cur rest;
	uint32_t flags;
	const uint8_t *t;
	size_t t_len;

	wire_buf_init(&req);
	wire_buf_init(&resp);
	wire_put_u32(&req, CKU_USER);
	wire_put_bytes(&req, pin, strlen(pin));
	ck_assert_int_eq(enc_handle_login(&st, &peer, req.data, req.len, &resp), WARDEN_OK);
	uint32_t status = answer_status(&resp, &rest);
	ck_assert_int_eq(wire_get_u32(&rest, &flags), 0);
	ck_assert_int_eq(wire_get_bytes(&rest, WIRE_TICKET_LEN, &t, &t_len), 0);
	if (ticket != NULL && t_len == WIRE_TICKET_LEN)
		memcpy(ticket, t, WIRE_TICKET_LEN);
	wire_buf_free(&req);
	wire_buf_free(&resp);
	return status;
}

static uint32_t do_sign(uid_t uid, const uint8_t ticket[WIRE_TICKET_LEN])
{
	struct enc_peer peer = {getpid(), uid, 0};
	struct wire_sign_req r;
	struct wire_buf req, resp;

	memset(&r, 0, sizeof(r));
	memcpy(r.ticket, ticket, WIRE_TICKET_LEN);
	r.mechanism = CKM_ECDSA_SHA256;
	r.data = (const uint8_t *)"tbs";
	r.data_len = 3;
	wire_buf_init(&req);
	wire_buf_init(&resp);
	ck_assert_int_eq(wire_enc_sign_req(&req, &r), 0);
	ck_assert_int_eq(enc_handle_sign(&st, &peer, req.data + WIRE_HEADER_LEN,
					 req.len - WIRE_HEADER_LEN, &resp),
			 WARDEN_OK);
	uint32_t status = answer_status(&resp, NULL);
	wire_buf_free(&req);
	wire_buf_free(&resp);
	return status;
}

static uint32_t do_logout(uid_t uid, const uint8_t ticket[WIRE_TICKET_LEN])
{
	struct enc_peer peer = {getpid(), uid, 0};
	struct wire_buf req, resp;
	wire_buf_init(&req);
	wire_buf_init(&resp);
	wire_put_bytes(&req, ticket, WIRE_TICKET_LEN);
	ck_assert_int_eq(enc_handle_logout(&st, &peer, req.data, req.len, &resp), WARDEN_OK);
	uint32_t status = answer_status(&resp, NULL);
	wire_buf_free(&req);
	wire_buf_free(&resp);
	return status;
}

/* The PIN failure count a restart would rebuild: the log replayed into a fresh state. */
static struct enc_state replayed;
static int count_cb(void *ctx, const struct aud_rec *rec)
{
	(void)ctx;
	enc_login_replay(&replayed, rec->type, rec->body, rec->body_len);
	return 0;
}

static unsigned stored_failures(void)
{
	struct aud_scan_opts o = {.dir = state_dir, .cb = count_cb};
	struct aud_scan_result *res = calloc(1, sizeof(*res));
	ck_assert_ptr_nonnull(res);
	replayed.pin_failures = 9999;
	ck_assert_int_eq(aud_scan(&o, res), AUD_V_OK);
	free(res);
	return replayed.pin_failures == 9999 ? 0 : replayed.pin_failures;
}

START_TEST(test_ticket_works_for_the_uid_that_logged_in)
{
	uint8_t t[WIRE_TICKET_LEN];
	ck_assert_uint_eq(do_login(1000, TEST_PIN, t), WARDEN_OK);
	/* Past the ticket check: stopped by the key check (no keys here). */
	ck_assert_uint_eq(do_sign(1000, t), WARDEN_E_KEY);
}
END_TEST

START_TEST(test_ticket_of_another_uid_is_not_logged_in)
{
	uint8_t t[WIRE_TICKET_LEN];
	ck_assert_uint_eq(do_login(1000, TEST_PIN, t), WARDEN_OK);
	ck_assert_uint_eq(do_sign(1001, t), WARDEN_E_NOT_LOGGED_IN);
	ck_assert_uint_eq(do_sign(0, t), WARDEN_E_NOT_LOGGED_IN);
	/* Nor can another uid revoke it. */
	ck_assert_uint_eq(do_logout(1001, t), WARDEN_E_NOT_LOGGED_IN);
	ck_assert_uint_eq(do_sign(1000, t), WARDEN_E_KEY);
	ck_assert_uint_eq(do_logout(1000, t), WARDEN_OK);
	ck_assert_uint_eq(do_sign(1000, t), WARDEN_E_NOT_LOGGED_IN);
}
END_TEST

START_TEST(test_zero_and_unknown_tickets_are_not_logged_in)
{
	uint8_t zero[WIRE_TICKET_LEN] = {0}, t[WIRE_TICKET_LEN];
	ck_assert_uint_eq(do_sign(1000, zero), WARDEN_E_NOT_LOGGED_IN);
	ck_assert_uint_eq(do_login(1000, TEST_PIN, t), WARDEN_OK);
	t[WIRE_TICKET_LEN - 1] ^= 1;
	ck_assert_uint_eq(do_sign(1000, t), WARDEN_E_NOT_LOGGED_IN);
	ck_assert_uint_eq(do_sign(1000, zero), WARDEN_E_NOT_LOGGED_IN);
}
END_TEST

/* A ticket names its slot in its first two bytes: a ticket pointed at another live slot
 * (or past the table) is refused, and so is one whose random part is another ticket's. */
START_TEST(test_ticket_with_another_slot_index_is_not_logged_in)
{
	uint8_t a[WIRE_TICKET_LEN], b[WIRE_TICKET_LEN], x[WIRE_TICKET_LEN];
	ck_assert_uint_eq(do_login(1000, TEST_PIN, a), WARDEN_OK);
	ck_assert_uint_eq(do_login(1000, TEST_PIN, b), WARDEN_OK);
	ck_assert_msg(memcmp(a, b, 2) != 0, "two live tickets share a slot index");
	memcpy(x, a, WIRE_TICKET_LEN);
	memcpy(x, b, 2); /* a's secret in b's slot */
	ck_assert_uint_eq(do_sign(1000, x), WARDEN_E_NOT_LOGGED_IN);
	x[0] = 0xff;
	x[1] = 0xff; /* beyond the table */
	ck_assert_uint_eq(do_sign(1000, x), WARDEN_E_NOT_LOGGED_IN);
	ck_assert_uint_eq(do_sign(1000, a), WARDEN_E_KEY);
	ck_assert_uint_eq(do_sign(1000, b), WARDEN_E_KEY);
}
END_TEST

static void *wrong_login_thread(void *arg)
{
	uint32_t *out = arg;
	*out = do_login(1000, TEST_WRONG_PIN, NULL);
	return NULL;
}

START_TEST(test_parallel_wrong_pins_get_exactly_max_failures_tries)
{
	pthread_t th[TEST_PARALLEL];
	uint32_t status[TEST_PARALLEL];
	unsigned incorrect = 0, locked = 0;

	for (int i = 0; i < TEST_PARALLEL; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, wrong_login_thread, &status[i]), 0);
	for (int i = 0; i < TEST_PARALLEL; i++) {
		pthread_join(th[i], NULL);
		incorrect += status[i] == WARDEN_E_PIN_INCORRECT;
		locked += status[i] == WARDEN_E_PIN_LOCKED;
	}
	ck_assert_uint_eq(incorrect, TEST_MAX_FAILURES);
	ck_assert_uint_eq(locked, TEST_PARALLEL - TEST_MAX_FAILURES);
	ck_assert_uint_eq(stored_failures(), TEST_MAX_FAILURES);
	/* Locked: the right PIN no longer helps. */
	ck_assert_uint_eq(do_login(1000, TEST_PIN, NULL), WARDEN_E_PIN_LOCKED);
	ck_assert_uint_eq(enc_token_flags(&st) & WIRE_TF_PIN_LOCKED, WIRE_TF_PIN_LOCKED);
}
END_TEST

START_TEST(test_failure_is_stored_and_success_resets)
{
	ck_assert_uint_eq(do_login(1000, TEST_WRONG_PIN, NULL), WARDEN_E_PIN_INCORRECT);
	ck_assert_uint_eq(stored_failures(), 1);
	ck_assert_uint_eq(do_login(1000, TEST_PIN, NULL), WARDEN_OK);
	ck_assert_uint_eq(stored_failures(), 0);
}
END_TEST

/* A LOGIN holds login_lock through scrypt (~100 ms).  Ticket checks (every SIGN) and
 * the token flags (every HELLO and STATUS) must not wait for it. */
struct blocked_probe {
	uint8_t ticket[WIRE_TICKET_LEN];
	int done;
	int valid;
	uint32_t flags;
};

static void *probe_thread(void *arg)
{
	struct blocked_probe *p = arg;
	p->valid = enc_ticket_valid(&st, p->ticket, 1000);
	p->flags = enc_token_flags(&st);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(test_sign_and_status_do_not_wait_for_a_login)
{
	struct blocked_probe p;
	pthread_t th;
	memset(&p, 0, sizeof(p));
	ck_assert_uint_eq(do_login(1000, TEST_PIN, p.ticket), WARDEN_OK);
	pthread_mutex_lock(&st.login_lock); /* as a LOGIN in its scrypt does */
	ck_assert_int_eq(pthread_create(&th, NULL, probe_thread, &p), 0);
	for (int i = 0; i < TEST_BLOCK_WAIT_MS && !__atomic_load_n(&p.done, __ATOMIC_ACQUIRE);
	     i++)
		usleep(1000);
	int done = __atomic_load_n(&p.done, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&st.login_lock);
	pthread_join(th, NULL);
	ck_assert_msg(done, "the ticket check waited for login_lock");
	ck_assert_int_eq(p.valid, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("enc_login");
	TCase *tc = tcase_create("login");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ticket_works_for_the_uid_that_logged_in);
	tcase_add_test(tc, test_ticket_of_another_uid_is_not_logged_in);
	tcase_add_test(tc, test_zero_and_unknown_tickets_are_not_logged_in);
	tcase_add_test(tc, test_ticket_with_another_slot_index_is_not_logged_in);
	tcase_add_test(tc, test_parallel_wrong_pins_get_exactly_max_failures_tries);
	tcase_add_test(tc, test_failure_is_stored_and_success_resets);
	tcase_add_test(tc, test_sign_and_status_do_not_wait_for_a_login);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
