/*
 * test_module_fake.c - the in-process enclave of the module's unit tests (see the header).
 */
#include "test_module_fake.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define FAKE_MAX_CONNS 128

struct fake_state fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct {
	char dir[64];
	char sock[128];
	char conf[128];
	int listen_fd;
	pthread_t acceptor;
	int running;
	pthread_mutex_t lock;
	int conn_fds[FAKE_MAX_CONNS];
	pthread_t conn_threads[FAKE_MAX_CONNS];
	int num_conns;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER, .listen_fd = -1};

void fake_signature(const uint8_t *data, size_t len, size_t sig_len, uint8_t *out)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ data[i]) * 16777619u;
	for (size_t i = 0; i < sig_len; i++) {
		h = h * 1103515245u + 12345u + (uint32_t)len;
		out[i] = (uint8_t)(h >> 16);
	}
}

/* --- HELLO ------------------------------------------------------------------------ */

static void attr_bytes(struct wire_buf *b, uint64_t type, const void *p, size_t len)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_BYTES);
	wire_put_bytes(b, p, len);
}

static void attr_bool(struct wire_buf *b, uint64_t type, uint8_t v)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_BOOL);
	wire_put_u8(b, v);
}

static void attr_ulong(struct wire_buf *b, uint64_t type, uint64_t v)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_ULONG);
	wire_put_u64(b, v);
}

static void attr_mechs(struct wire_buf *b, uint64_t type, const uint64_t *m, uint32_t n)
{
	wire_put_u64(b, type);
	wire_put_u8(b, WIRE_AK_MECHS);
	wire_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		wire_put_u64(b, m[i]);
}

static const uint8_t rsa_id[] = {0xca, 0xfe, 0x01};
static const uint8_t ec_id[] = {0xca, 0xfe, 0x02};
static const uint8_t ec_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t rsa_e[] = {0x01, 0x00, 0x01};

static void rsa_key(struct wire_buf *b, const struct fake_hello_opts *o)
{
	static const uint64_t mechs[] = {CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS,
					 CKM_RSA_PKCS};
	uint8_t n[FAKE_RSA_SIG_LEN];
	memset(n, 0xc5, sizeof(n));

	wire_put_u32(b, FAKE_RSA_KEY_ID);
	wire_put_u64(b, CKK_RSA);
	wire_put_u32(b, WIRE_KF_PREHASHED);
	wire_put_u32(b, o->zero_sig_len ? 0 : FAKE_RSA_SIG_LEN);
	wire_put_u32(b, 3);
	for (int i = 0; i < 3; i++)
		wire_put_u64(b, mechs[i]);
	wire_put_u32(b, o->no_private ? 2 : 3);
	if (!o->no_private) {
		/* private key: 13 attributes (+1 with a variation) */
		int extra = o->dup_attr || o->sensitive_attr || o->bad_bool || o->bad_kind ||
			    o->token_false || o->wrong_class_attr;
		wire_put_u64(b, CKO_PRIVATE_KEY);
		wire_put_u32(b, 13 + extra);
		attr_ulong(b, CKA_CLASS, o->wrong_class_attr ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY);
		attr_ulong(b, CKA_KEY_TYPE, CKK_RSA);
		attr_bytes(b, CKA_ID, rsa_id, sizeof(rsa_id));
		attr_bytes(b, CKA_LABEL, "ca", 2);
		attr_bool(b, CKA_SIGN, 1);
		attr_bool(b, CKA_SENSITIVE, 1);
		attr_bool(b, CKA_EXTRACTABLE, 0);
		attr_bool(b, CKA_ALWAYS_SENSITIVE, 1);
		attr_bool(b, CKA_NEVER_EXTRACTABLE, 1);
		attr_bool(b, CKA_ALWAYS_AUTHENTICATE, 0);
		attr_bytes(b, CKA_MODULUS, n, sizeof(n));
		attr_bytes(b, CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e));
		attr_mechs(b, CKA_ALLOWED_MECHANISMS, mechs, 3);
		if (o->dup_attr)
			attr_bytes(b, CKA_LABEL, "ca", 2);
		if (o->sensitive_attr)
			attr_bytes(b, CKA_PRIVATE_EXPONENT, n, 16);
		if (o->bad_bool)
			attr_bool(b, CKA_DECRYPT, 2);
		if (o->token_false)
			attr_bool(b, CKA_TOKEN, 0);
		if (o->bad_kind) {
			wire_put_u64(b, CKA_DERIVE);
			wire_put_u8(b, 9);
			wire_put_u8(b, 0);
		}
	}
	/* public key */
	wire_put_u64(b, o->bad_class ? CKO_SECRET_KEY : CKO_PUBLIC_KEY);
	wire_put_u32(b, 6);
	attr_ulong(b, CKA_KEY_TYPE, CKK_RSA);
	attr_bytes(b, CKA_ID, rsa_id, sizeof(rsa_id));
	attr_bytes(b, CKA_LABEL, "ca", 2);
	attr_bytes(b, CKA_MODULUS, n, sizeof(n));
	attr_bytes(b, CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e));
	attr_ulong(b, CKA_MODULUS_BITS, FAKE_RSA_SIG_LEN * 8);
	/* certificate */
	wire_put_u64(b, CKO_CERTIFICATE);
	wire_put_u32(b, 6);
	attr_ulong(b, CKA_CERTIFICATE_TYPE, CKC_X_509);
	attr_bytes(b, CKA_ID, rsa_id, sizeof(rsa_id));
	attr_bytes(b, CKA_LABEL, "ca", 2);
	attr_bytes(b, CKA_VALUE, FAKE_CERT_VALUE, strlen(FAKE_CERT_VALUE));
	attr_bytes(b, CKA_SUBJECT, "subject", 7);
	attr_bool(b, CKA_TRUSTED, 0);
}

static void ec_key(struct wire_buf *b, const struct fake_hello_opts *o)
{
	static const uint64_t mechs[] = {CKM_ECDSA_SHA256, CKM_ECDSA_SHA384};
	uint8_t point[67] = {0x04, 0x41, 0x04};

	wire_put_u32(b, o->dup_key_id ? FAKE_RSA_KEY_ID : FAKE_EC_KEY_ID);
	wire_put_u64(b, CKK_EC);
	wire_put_u32(b, 0);
	wire_put_u32(b, FAKE_EC_SIG_LEN);
	wire_put_u32(b, 2);
	for (int i = 0; i < 2; i++)
		wire_put_u64(b, mechs[i]);
	wire_put_u32(b, 2);
	wire_put_u64(b, CKO_PRIVATE_KEY);
	wire_put_u32(b, 5); /* CLASS, TOKEN and ALLOWED_MECHANISMS left to the module */
	attr_ulong(b, CKA_KEY_TYPE, CKK_EC);
	attr_bytes(b, CKA_ID, ec_id, sizeof(ec_id));
	attr_bytes(b, CKA_LABEL, "ec", 2);
	attr_bytes(b, CKA_EC_PARAMS, ec_params, sizeof(ec_params));
	attr_bool(b, CKA_SIGN, 1);
	wire_put_u64(b, CKO_PUBLIC_KEY);
	wire_put_u32(b, 4);
	attr_ulong(b, CKA_KEY_TYPE, CKK_EC);
	attr_bytes(b, CKA_ID, ec_id, sizeof(ec_id));
	attr_bytes(b, CKA_EC_PARAMS, ec_params, sizeof(ec_params));
	attr_bytes(b, CKA_EC_POINT, point, sizeof(point));
}

void fake_hello_build(struct wire_buf *b, const struct fake_hello_opts *o, uint64_t boot_id,
		      uint64_t max_data)
{
	static const struct fake_hello_opts none;
	if (o == NULL)
		o = &none;
	wire_frame_begin(b, WIRE_HELLO | WIRE_RESPONSE);
	wire_put_u32(b, o->status);
	wire_put_str(b, o->status ? "busy" : "");
	if (o->status == 0) {
		wire_put_u64(b, boot_id);
		wire_put_str(b, FAKE_LABEL);
		wire_put_str(b, "Warden");
		wire_put_str(b, "enclave");
		wire_put_str(b, "0000000000000001");
		wire_put_u32(b, 0);
		wire_put_u32(b, 4);
		wire_put_u32(b, 64);
		wire_put_u64(b, max_data);
		wire_put_u32(b, o->num_keys_override > 0 ? (uint32_t)o->num_keys_override : 2);
		rsa_key(b, o);
		ec_key(b, o);
		if (o->trailing_byte)
			wire_put_u8(b, 0);
	}
	if (wire_frame_end(b) != 0)
		abort();
}

/* --- serving -------------------------------------------------------------------------- */

static int read_full(int fd, uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint32_t pin_flags_locked(void)
{
	uint32_t f = 0;
	if (fake.failures > 0)
		f |= WIRE_TF_PIN_COUNT_LOW;
	if (fake.failures == FAKE_MAX_FAILURES - 1)
		f |= WIRE_TF_PIN_FINAL_TRY;
	if (fake.failures >= FAKE_MAX_FAILURES)
		f |= WIRE_TF_PIN_LOCKED;
	return f;
}

/* Answers one request; returns -1 to close the connection. */
static int handle(int fd, uint8_t type, const uint8_t *body, size_t len)
{
	struct wire_buf b;
	struct wire_cur c = {body, len};
	int rc = -1;

	wire_buf_init(&b);
	pthread_mutex_lock(&fake.lock);
	switch (type) {
	case WIRE_HELLO:
		fake.hellos++;
		fake_hello_build(&b, NULL, fake.boot_id, fake.max_data);
		break;
	case WIRE_STATUS:
		fake.statuses++;
		wire_frame_begin(&b, WIRE_STATUS | WIRE_RESPONSE);
		wire_put_u32(&b, WARDEN_OK);
		wire_put_str(&b, "");
		wire_put_u32(&b, pin_flags_locked());
		break;
	case WIRE_LOGIN: {
		uint32_t user;
		const uint8_t *pin;
		size_t pin_len;
		uint32_t st = WARDEN_OK;
		fake.logins++;
		if (wire_get_u32(&c, &user) != 0 ||
		    wire_get_bytes(&c, WIRE_MAX_PIN, &pin, &pin_len) != 0 || !wire_cur_done(&c))
			goto out;
		if (fake.failures >= FAKE_MAX_FAILURES)
			st = WARDEN_E_PIN_LOCKED;
		else if (pin_len != strlen(FAKE_PIN) || memcmp(pin, FAKE_PIN, pin_len) != 0)
			st = ++fake.failures >= FAKE_MAX_FAILURES ? WARDEN_E_PIN_LOCKED
								  : WARDEN_E_PIN_INCORRECT;
		else
			fake.failures = 0;
		wire_frame_begin(&b, WIRE_LOGIN | WIRE_RESPONSE);
		wire_put_u32(&b, st);
		wire_put_str(&b, "");
		wire_put_u32(&b, pin_flags_locked());
		if (st == WARDEN_OK) {
			for (unsigned i = 0; i < WIRE_TICKET_LEN; i++)
				fake.ticket[i] = (uint8_t)(fake.boot_id * 31 + i + fake.logins);
			fake.ticket_valid = 1;
			wire_put_bytes(&b, fake.ticket, WIRE_TICKET_LEN);
		} else {
			wire_put_bytes(&b, NULL, 0);
		}
		break;
	}
	case WIRE_LOGOUT: {
		const uint8_t *t;
		size_t tl;
		fake.logouts++;
		if (wire_get_bytes(&c, WIRE_TICKET_LEN, &t, &tl) != 0 || !wire_cur_done(&c))
			goto out;
		if (tl == WIRE_TICKET_LEN && memcmp(t, fake.ticket, tl) == 0)
			fake.ticket_valid = 0;
		wire_frame_begin(&b, WIRE_LOGOUT | WIRE_RESPONSE);
		wire_put_u32(&b, WARDEN_OK);
		wire_put_str(&b, "");
		break;
	}
	case WIRE_SIGN: {
		struct wire_sign_req r;
		uint8_t sig[WIRE_MAX_SIG];
		size_t sig_len = 0;
		uint32_t st = WARDEN_OK;
		fake.signs++;
		if (wire_dec_sign_req(body, len, &r) != WARDEN_OK)
			goto out;
		if (fake.drop_next_sign) {
			fake.drop_next_sign = 0;
			goto out;
		}
		free(fake.last_data);
		fake.last_data = malloc(r.data_len + 1);
		if (fake.last_data == NULL)
			goto out;
		memcpy(fake.last_data, r.data, r.data_len);
		fake.last_data_len = r.data_len;
		fake.last_mechanism = r.mechanism;
		fake.last_key_id = r.key_id;
		fake.last_param_kind = r.param_kind;
		if (!fake.ticket_valid || memcmp(r.ticket, fake.ticket, WIRE_TICKET_LEN) != 0)
			st = WARDEN_E_NOT_LOGGED_IN;
		else if (r.key_id == FAKE_RSA_KEY_ID)
			sig_len = FAKE_RSA_SIG_LEN;
		else if (r.key_id == FAKE_EC_KEY_ID)
			sig_len = FAKE_EC_SIG_LEN;
		else
			st = WARDEN_E_KEY;
		if (st == WARDEN_OK && fake.sign_status != 0)
			st = fake.sign_status;
		wire_frame_begin(&b, WIRE_SIGN | WIRE_RESPONSE);
		wire_put_u32(&b, st);
		wire_put_str(&b, st == fake.sign_status ? fake.sign_message : "");
		if (st == WARDEN_OK) {
			fake_signature(r.data, r.data_len, sig_len, sig);
			wire_put_bytes(&b, sig, sig_len);
		}
		break;
	}
	default:
		goto out;
	}
	if (wire_frame_end(&b) != 0)
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&fake.lock);
	if (rc == 0)
		rc = write_full(fd, b.data, b.len);
	wire_buf_free(&b);
	return rc;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	for (;;) {
		uint8_t hdr[WIRE_HEADER_LEN];
		struct wire_header h;
		if (read_full(fd, hdr, sizeof(hdr)) != 0 || wire_header_parse(hdr, &h) != WARDEN_OK)
			break;
		uint8_t *body = malloc(h.body_len + 1);
		if (body == NULL || read_full(fd, body, h.body_len) != 0) {
			free(body);
			break;
		}
		int rc = handle(fd, h.type, body, h.body_len);
		free(body);
		if (rc != 0)
			break;
	}
	shutdown(fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		pthread_mutex_lock(&srv.lock);
		if (!srv.running || srv.num_conns == FAKE_MAX_CONNS) {
			pthread_mutex_unlock(&srv.lock);
			close(fd);
			continue;
		}
		srv.conn_fds[srv.num_conns] = fd;
		if (pthread_create(&srv.conn_threads[srv.num_conns], NULL, conn_main,
				   (void *)(intptr_t)fd) != 0) {
			close(fd);
		} else {
			srv.num_conns++;
		}
		pthread_mutex_unlock(&srv.lock);
	}
	return NULL;
}

static void write_conf(const char *sock)
{
	FILE *f = fopen(srv.conf, "w");
	if (f == NULL)
		abort();
	fprintf(f, "# unit test\nsocket = %s\nlog = %s/module.log  # file\nlog_level = debug\n"
		   "timeout = 5\n",
		sock, srv.dir);
	fclose(f);
	setenv("WARDEN_CONF", srv.conf, 1);
}

static void make_dir(void)
{
	if (srv.dir[0] != '\0')
		return;
	strcpy(srv.dir, "/tmp/wp11-test.XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		abort();
	snprintf(srv.sock, sizeof(srv.sock), "%s/enclave.sock", srv.dir);
	snprintf(srv.conf, sizeof(srv.conf), "%s/module.conf", srv.dir);
}

void fake_conf_absent(void)
{
	char sock[160];
	make_dir();
	snprintf(sock, sizeof(sock), "%s/nobody.sock", srv.dir);
	write_conf(sock);
}

void fake_start(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	make_dir();
	/* No server thread runs yet: reset everything. */
	free(fake.last_data);
	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	fake.boot_id = 1000;
	fake.max_data = 16u * 1024 * 1024;
	strcpy(sa.sun_path, srv.sock);
	srv.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0 || bind(srv.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(srv.listen_fd, 64) != 0)
		abort();
	srv.running = 1;
	if (pthread_create(&srv.acceptor, NULL, accept_main, NULL) != 0)
		abort();
	write_conf(srv.sock);
}

static void close_conns(void)
{
	pthread_mutex_lock(&srv.lock);
	for (int i = 0; i < srv.num_conns; i++)
		shutdown(srv.conn_fds[i], SHUT_RDWR);
	for (int i = 0; i < srv.num_conns; i++) {
		pthread_join(srv.conn_threads[i], NULL);
		close(srv.conn_fds[i]);
	}
	srv.num_conns = 0;
	pthread_mutex_unlock(&srv.lock);
}

void fake_restart(void)
{
	close_conns();
	pthread_mutex_lock(&fake.lock);
	fake.boot_id++;
	fake.ticket_valid = 0;
	pthread_mutex_unlock(&fake.lock);
}

void fake_stop(void)
{
	char path[200];
	if (srv.listen_fd >= 0) {
		pthread_mutex_lock(&srv.lock);
		srv.running = 0;
		pthread_mutex_unlock(&srv.lock);
		shutdown(srv.listen_fd, SHUT_RDWR);
		pthread_join(srv.acceptor, NULL);
		close(srv.listen_fd);
		srv.listen_fd = -1;
		close_conns();
		unlink(srv.sock);
	}
	pthread_mutex_lock(&fake.lock);
	free(fake.last_data);
	fake.last_data = NULL;
	pthread_mutex_unlock(&fake.lock);
	if (srv.dir[0] != '\0') {
		unlink(srv.conf);
		snprintf(path, sizeof(path), "%s/module.log", srv.dir);
		if (getenv("WP11_KEEP_LOG") == NULL)
			unlink(path);
		rmdir(srv.dir);
		srv.dir[0] = '\0';
	}
}
