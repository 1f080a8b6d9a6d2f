/*
 * admin_init.c - `warden-admin init DIR`: the directory, its files and the
 * configuration, in an order that leaves nothing half-made.
 *
 * Secrets are created 0600 from the start (O_EXCL, exact mode, under umask 077).
 * enclave.json is written last and atomically, so a DIR with an enclave.json is always a
 * complete setup; on failure everything this run created is removed again.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "admin.h"
#include "audit.h"
#include "pin.h"
#include "sign.h"
#include "wire.h"

#define INIT_MAX_CREATED 16u
#define INIT_NFTW_FDS 16
#define INIT_PIN_MAX_FAILURES 5
#define INIT_MAX_CLIENTS 64
#define INIT_MAX_DATA_LEN 16777216
#define INIT_MODULE_TIMEOUT 30
#define INIT_MAX_CERT_FILE (256u * 1024u)

/* The starter policy (policy-engine/starter-policy.json, compiled in). */
static const char starter_policy[] =
#include "starter_policy.inc"
	;

struct init_ctx {
	const struct admin_init_opts *o;
	char dir[PATH_MAX];
	/* Paths made by this run, removed in reverse order on failure. */
	char created[INIT_MAX_CREATED][PATH_MAX];
	size_t num_created;
};

/* dir + "/" + name into out; -1 when too long. */
static int path_join(char out[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static void created_add(struct init_ctx *c, const char *path)
{
	_Static_assert(INIT_MAX_CREATED >= 15, "room for every path init makes");
	if (c->num_created >= INIT_MAX_CREATED)
		return;
	snprintf(c->created[c->num_created], PATH_MAX, "%s", path);
	c->num_created++;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf path; a missing path is fine. */
static int tree_remove(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_entry, INIT_NFTW_FDS, FTW_DEPTH | FTW_PHYS);
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid);
}

/* Creates path with exactly `mode` and writes data; refuses an existing file. */
__attribute__((warn_unused_result)) static int file_create(struct init_ctx *c, const char *path,
							   const void *data, size_t len,
							   mode_t mode, char *err, size_t err_len)
{
	const uint8_t *p = data;
	ssize_t n;
	int fd, ret = WARDEN_E_INTERNAL;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (use --force to replace the setup)" : "");
		return WARDEN_E_INTERNAL;
	}
	created_add(c, path);
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	ret = WARDEN_OK;
	goto out;
fail:
	snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
out:
	if (close(fd) != 0 && ret == WARDEN_OK) {
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		ret = WARDEN_E_INTERNAL;
	}
	return ret;
}

__attribute__((warn_unused_result)) static int dir_create(struct init_ctx *c, const char *path,
							  char *err, size_t err_len)
{
	if (mkdir(path, 0700) != 0) {
		snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	created_add(c, path);
	return WARDEN_OK;
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* A random hex string of `bytes` random bytes into out (2 * bytes + 1). */
__attribute__((warn_unused_result)) static int random_hex(size_t bytes, char *out)
{
	uint8_t buf[64];
	int ret = -1;

	if (bytes > sizeof(buf) || RAND_priv_bytes(buf, (int)bytes) != 1)
		goto out;
	hex_encode(buf, bytes, out);
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/* mkdir -p of the directories above path (mode 0755, like mkdir -p under umask 022). */
static int parents_create(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			if (chmod(buf, 0755) != 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Makes DIR (0700, or 0711 when another user must reach its subdirectories) and its
 * absolute path; checks what is there already. */
__attribute__((warn_unused_result)) static int init_dir(struct init_ctx *c, char *err,
							size_t err_len)
{
	static const char *const replaced[] = { "enclave.json", "tokens", "state", "policy.json",
						"backend.pin", "backend-so.pin",
						"user-pin.scrypt", "ca.pem", "ca.csr",
						"module.conf", "softhsm2.conf" };
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	if (parents_create(c->o->dir) != 0 || (mkdir(c->o->dir, 0700) != 0 && errno != EEXIST)) {
		snprintf(err, err_len, "cannot create %s: %s", c->o->dir, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	if (realpath(c->o->dir, c->dir) == NULL || stat(c->dir, &st) != 0 ||
	    !S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "%s is not a usable directory", c->o->dir);
		return WARDEN_E_INTERNAL;
	}
	if (chmod(c->dir, c->o->user != NULL ? 0711 : 0700) != 0) {
		snprintf(err, err_len, "cannot chmod %s: %s", c->dir, strerror(errno));
		return WARDEN_E_INTERNAL;
	}
	for (i = 0; i < sizeof(replaced) / sizeof(replaced[0]); i++) {
		if (path_join(path, c->dir, replaced[i]) != 0) {
			snprintf(err, err_len, "the path %s is too long", c->dir);
			return WARDEN_E_INTERNAL;
		}
		if (lstat(path, &st) != 0)
			continue;
		if (!c->o->force) {
			snprintf(err, err_len, "%s exists: use --force to replace the setup",
				 path);
			return WARDEN_E_INTERNAL;
		}
		if (tree_remove(path) != 0) {
			snprintf(err, err_len, "cannot remove %s: %s", path, strerror(errno));
			return WARDEN_E_INTERNAL;
		}
	}
	return WARDEN_OK;
}

/* Opens the new key through the backend and writes ca.pem or ca.csr. */
__attribute__((warn_unused_result)) static int init_cert(struct init_ctx *c,
							 const char *backend_pin,
							 const uint8_t id[ADMIN_KEY_ID_LEN],
							 char *err, size_t err_len)
{
	const struct admin_init_opts *o = c->o;
	struct bk_config cfg = { o->module, o->token_label, backend_pin };
	struct bk_ctx *bk = NULL;
	struct bk_key *key = NULL;
	struct admin_cert_req req;
	const uint8_t *bk_id;
	size_t bk_id_len = 0;
	char path[PATH_MAX], *pem = NULL;
	int ret;

	ret = bk_open(&cfg, &bk, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = bk_key_find(bk, o->key_label, &key, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	bk_id = bk_key_id(key, &bk_id_len);
	if (bk_id_len != ADMIN_KEY_ID_LEN || memcmp(bk_id, id, ADMIN_KEY_ID_LEN) != 0) {
		snprintf(err, err_len, "the backend found a key other than the one generated");
		ret = WARDEN_E_BACKEND;
		goto out;
	}
	ret = sign_init();
	if (ret != WARDEN_OK) {
		snprintf(err, err_len, "cannot load the signature algorithms");
		goto out;
	}
	req = (struct admin_cert_req){ bk, key, o->key, o->subject, o->days, o->csr };
	ret = admin_cert_make(&req, &pem, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (path_join(path, c->dir, o->csr ? "ca.csr" : "ca.pem") != 0)
		goto out;
	ret = file_create(c, path, pem, strlen(pem), 0644, err, err_len);
out:
	free(pem);
	bk_key_free(key);
	bk_close(bk);
	return ret;
}

/* The Warden user PIN's scrypt line, 0600. */
__attribute__((warn_unused_result)) static int init_user_pin(struct init_ctx *c, char *err,
							     size_t err_len)
{
	char line[PIN_HASH_LINE_MAX + 2], path[PATH_MAX];
	size_t n;
	int ret = WARDEN_E_INTERNAL;

	if (pin_hash_make(c->o->pin, c->o->pin_len, line, PIN_HASH_LINE_MAX) != 0) {
		snprintf(err, err_len, "cannot hash the user PIN");
		goto out;
	}
	n = strnlen(line, PIN_HASH_LINE_MAX);
	if (n == 0 || n >= PIN_HASH_LINE_MAX) {
		snprintf(err, err_len, "cannot hash the user PIN");
		goto out;
	}
	if (line[n - 1] != '\n') {
		line[n++] = '\n';
		line[n] = '\0';
	}
	if (path_join(path, c->dir, "user-pin.scrypt") != 0)
		goto out;
	ret = file_create(c, path, line, n, 0600, err, err_len);
out:
	explicit_bzero(line, sizeof(line));
	return ret;
}

/* Sets a string member; 0 or -1. */
static int jset_str(json_t *obj, const char *key, const char *value)
{
	return json_object_set_new(obj, key, json_string(value));
}

/* Builds enclave.json (the format in docs/architecture.md) and writes it atomically. */
__attribute__((warn_unused_result)) static int init_enclave_json(struct init_ctx *c,
								 const char *socket_path,
								 char *err, size_t err_len)
{
	const struct admin_init_opts *o = c->o;
	char p[6][PATH_MAX], serial[2 * ADMIN_TOKEN_SERIAL_BYTES + 1];
	char tmp[PATH_MAX], final[PATH_MAX];
	json_t *root = json_object(), *token = json_object(), *backend = json_object();
	json_t *env = json_object(), *key = json_object(), *uids = json_array();
	json_t *paths = json_array(), *keys = json_array();
	char *text = NULL, *line = NULL;
	size_t text_len;
	int ret = WARDEN_E_INTERNAL, bad = 0;

	if (random_hex(ADMIN_TOKEN_SERIAL_BYTES, serial) != 0 ||
	    path_join(p[0], c->dir, "state") || path_join(p[1], c->dir, "audit") ||
	    path_join(p[2], c->dir, "user-pin.scrypt") || path_join(p[3], c->dir, "backend.pin") ||
	    path_join(p[4], c->dir, "softhsm2.conf") || path_join(p[5], c->dir, "tokens") ||
	    path_join(tmp, c->dir, ".enclave.json.tmp") ||
	    path_join(final, c->dir, "enclave.json")) {
		snprintf(err, err_len, "cannot prepare enclave.json");
		goto out;
	}
	if (root == NULL || token == NULL || backend == NULL || env == NULL || key == NULL ||
	    uids == NULL || paths == NULL || keys == NULL)
		goto oom;
	bad |= jset_str(root, "socket", socket_path);
	bad |= jset_str(root, "socket_mode", "0660");
	bad |= json_array_append_new(uids, json_integer((json_int_t)getuid()));
	bad |= json_object_set(root, "allowed_uids", uids);
	if (o->user != NULL)
		bad |= jset_str(root, "user", o->user);
	bad |= json_object_set_new(root, "max_clients", json_integer(INIT_MAX_CLIENTS));
	bad |= json_object_set_new(root, "max_data_len", json_integer(INIT_MAX_DATA_LEN));
	bad |= jset_str(root, "state_dir", p[0]);
	bad |= jset_str(root, "audit_dir", p[1]);
	bad |= jset_str(root, "log", "stderr");
	bad |= jset_str(token, "label", o->token_label);
	bad |= jset_str(token, "serial", serial);
	bad |= jset_str(token, "user_pin_file", p[2]);
	bad |= json_object_set_new(token, "pin_max_failures",
				   json_integer(INIT_PIN_MAX_FAILURES));
	bad |= json_object_set(root, "token", token);
	bad |= jset_str(backend, "module", o->module);
	bad |= jset_str(backend, "token_label", o->token_label);
	bad |= jset_str(backend, "pin_file", p[3]);
	bad |= jset_str(env, "SOFTHSM2_CONF", p[4]);
	bad |= json_object_set(backend, "environment", env);
	bad |= json_array_append_new(paths, json_string(p[5]));
	bad |= json_object_set(backend, "paths", paths);
	bad |= json_object_set(root, "backend", backend);
	bad |= jset_str(key, "label", o->key_label);
	if (!o->csr) {
		if (path_join(p[0], c->dir, "ca.pem") != 0)
			goto oom;
		bad |= jset_str(key, "certificate", p[0]);
	}
	bad |= json_object_set_new(key, "verify_signatures", json_false());
	if (path_join(tmp, c->dir, "policy.json") != 0)
		goto oom;
	bad |= jset_str(root, "policy", tmp);
	if (path_join(tmp, c->dir, "audit.key") != 0)
		goto oom;
	bad |= jset_str(root, "audit_key", tmp);
	if (path_join(tmp, c->dir, ".enclave.json.tmp") != 0)
		goto oom;
	bad |= json_array_append(keys, key);
	bad |= json_object_set(root, "keys", keys);
	if (bad)
		goto oom;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto oom;
	text_len = strlen(text);
	line = realloc(text, text_len + 2); /* json_dumps ends without a newline */
	if (line == NULL)
		goto oom;
	text = line;
	text[text_len++] = '\n';
	text[text_len] = '\0';
	(void)unlink(tmp);
	ret = file_create(c, tmp, text, text_len, 0644, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	if (rename(tmp, final) != 0) {
		snprintf(err, err_len, "cannot write %s: %s", final, strerror(errno));
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	/* The temporary name no longer exists; enclave.json is the last file made. */
	c->num_created--;
	ret = WARDEN_OK;
	goto out;
oom:
	snprintf(err, err_len, "out of memory building enclave.json");
	ret = WARDEN_E_NOMEM;
out:
	free(text);
	json_decref(root);
	json_decref(token);
	json_decref(backend);
	json_decref(env);
	json_decref(key);
	json_decref(uids);
	json_decref(paths);
	json_decref(keys);
	return ret;
}

/* softhsm2.conf, the token, the key, the certificate: everything the backend holds. */
__attribute__((warn_unused_result)) static int init_backend(struct init_ctx *c, char *err,
							    size_t err_len)
{
	const struct admin_init_opts *o = c->o;
	char so_pin[ADMIN_BACKEND_PIN_LEN + 1], user_pin[ADMIN_BACKEND_PIN_LEN + 1];
	char path[PATH_MAX], tokens[PATH_MAX], conf[2 * PATH_MAX];
	uint8_t id[ADMIN_KEY_ID_LEN];
	struct admin_token_req treq;
	int n, ret = WARDEN_E_INTERNAL;

	memset(so_pin, 0, sizeof(so_pin));
	memset(user_pin, 0, sizeof(user_pin));
	if (path_join(tokens, c->dir, "tokens") != 0 ||
	    path_join(path, c->dir, "softhsm2.conf") != 0)
		goto out;
	n = snprintf(conf, sizeof(conf),
		     "# SoftHSMv2 configuration for Warden (written by warden-admin init)\n"
		     "directories.tokendir = %s\nobjectstore.backend = file\n"
		     "log.level = ERROR\nslots.removable = false\n", tokens);
	if (n < 0 || (size_t)n >= sizeof(conf))
		goto out;
	ret = file_create(c, path, conf, (size_t)n, 0644, err, err_len);
	if (ret == WARDEN_OK)
		ret = dir_create(c, tokens, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	if (setenv("SOFTHSM2_CONF", path, 1) != 0 ||
	    random_hex(ADMIN_BACKEND_PIN_BYTES, so_pin) != 0 ||
	    random_hex(ADMIN_BACKEND_PIN_BYTES, user_pin) != 0) {
		snprintf(err, err_len, "cannot make the backend PINs");
		ret = WARDEN_E_INTERNAL;
		goto out;
	}
	ret = WARDEN_E_INTERNAL;
	if (path_join(path, c->dir, "backend-so.pin") != 0)
		goto out;
	ret = file_create(c, path, so_pin, strlen(so_pin), 0600, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (path_join(path, c->dir, "backend.pin") != 0)
		goto out;
	ret = file_create(c, path, user_pin, strlen(user_pin), 0600, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	treq = (struct admin_token_req){ o->module, o->token_label, o->key_label,
					 so_pin, user_pin, o->key };
	ret = admin_token_create(&treq, id, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = init_cert(c, user_pin, id, err, err_len);
out:
	explicit_bzero(so_pin, sizeof(so_pin));
	explicit_bzero(user_pin, sizeof(user_pin));
	return ret;
}

/* DIR/policy.json: the starter policy with its "*" signingKeys entry named after the key. */
__attribute__((warn_unused_result)) static int init_policy(struct init_ctx *c, char *err,
							   size_t err_len)
{
	char path[PATH_MAX];
	json_error_t je;
	json_t *root = json_loads(starter_policy, JSON_REJECT_DUPLICATES, &je);
	json_t *keys = root != NULL ? json_object_get(root, "signingKeys") : NULL;
	json_t *entry = keys != NULL ? json_object_get(keys, "*") : NULL;
	char *text = NULL;
	int ret = WARDEN_E_INTERNAL;

	if (entry == NULL || json_object_set(keys, c->o->key_label, entry) != 0 ||
	    json_object_del(keys, "*") != 0 ||
	    (text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL ||
	    path_join(path, c->dir, "policy.json") != 0) {
		snprintf(err, err_len, "cannot build the starter policy");
		goto out;
	}
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (line == NULL)
		goto out;
	text = line;
	text[len++] = '\n';
	text[len] = '\0';
	ret = file_create(c, path, text, len, 0644, err, err_len);
out:
	free(text);
	json_decref(root);
	return ret;
}

/* The key's SubjectPublicKeyInfo and CA certificate (DER) from DIR/ca.pem or ca.csr. */
static int ceremony_facts(struct init_ctx *c, uint8_t **spki, int *spki_len, uint8_t **cert,
			  int *cert_len)
{
	char path[PATH_MAX];
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	X509_REQ *req = NULL;
	BIO *b;

	*spki = *cert = NULL;
	*spki_len = *cert_len = 0;
	if (path_join(path, c->dir, c->o->csr ? "ca.csr" : "ca.pem") != 0 ||
	    (b = BIO_new_file(path, "r")) == NULL)
		return -1;
	if (c->o->csr) {
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		pub = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	} else {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		pub = x != NULL ? X509_get0_pubkey(x) : NULL;
		if (x != NULL)
			*cert_len = i2d_X509(x, cert);
	}
	BIO_free(b);
	if (pub != NULL)
		*spki_len = i2d_PUBKEY(pub, spki);
	X509_free(x);
	X509_REQ_free(req);
	return *spki_len > 0 && (c->o->csr || *cert_len > 0) ? 0 : -1;
}

/* The audit key pair (DIR/audit.key 0600, DIR/audit/audit.pub) and the log's genesis
 * record with the key ceremony's facts.  A kept audit directory (--force) keeps its log
 * and key. */
__attribute__((warn_unused_result)) static int init_audit(struct init_ctx *c, char *err,
							  size_t err_len)
{
	char key[PATH_MAX], pub[PATH_MAX], adir[PATH_MAX], first[PATH_MAX];
	char name[AUD_FILE_NAME_LEN], aerr[AUD_ERR_LEN];
	uint8_t *spki = NULL, *cert = NULL;
	int spki_len, cert_len, ret = WARDEN_E_INTERNAL;
	struct aud_body body;
	struct stat st;

	aud_body_init(&body);
	aud_file_name(0, name);
	if (path_join(key, c->dir, "audit.key") != 0 || path_join(adir, c->dir, "audit") != 0 ||
	    path_join(pub, adir, AUD_PUBKEY_FILE) != 0 || path_join(first, adir, name) != 0) {
		snprintf(err, err_len, "the path %s is too long", c->dir);
		goto out;
	}
	if (lstat(first, &st) == 0 && lstat(key, &st) == 0) {
		ret = WARDEN_OK; /* an existing log and its key, kept by --force */
		goto out;
	}
	if (lstat(key, &st) == 0 && unlink(key) != 0) {
		snprintf(err, err_len, "cannot replace %s: %s", key, strerror(errno));
		goto out;
	}
	(void)unlink(pub);
	if (aud_keygen(key, pub, aerr, sizeof(aerr)) != WARDEN_OK) {
		snprintf(err, err_len, "audit key: %s", aerr);
		goto out;
	}
	created_add(c, key);
	if (ceremony_facts(c, &spki, &spki_len, &cert, &cert_len) != 0) {
		snprintf(err, err_len, "cannot read the new key's certificate or request");
		goto out;
	}
	aud_list_begin(&body, AUD_F_CA_KEY);
	aud_put_str(&body, AUD_F_KEY, c->o->key_label);
	aud_put_bytes(&body, AUD_F_KEY_SPKI, spki, (size_t)spki_len);
	if (cert != NULL)
		aud_put_bytes(&body, AUD_F_CA_CERT, cert, (size_t)cert_len);
	aud_list_end(&body);
	aud_put_str(&body, AUD_F_TOKEN, c->o->token_label);
	aud_put_str(&body, AUD_F_SOFTWARE, "warden 0.1");
	aud_put_str(&body, AUD_F_TEXT, "key ceremony: warden-admin init");
	if (aud_body_finish(&body) != WARDEN_OK) {
		snprintf(err, err_len, "cannot build the genesis record");
		goto out;
	}
	struct aud_record genesis = {.type = AUD_T_GENESIS, .body = body.data,
				     .body_len = body.len};
	struct aud_params p = {.dir = adir, .key_file = key, .genesis = &genesis};
	struct aud_open_report rep;
	struct aud_log *log = NULL;
	if (aud_open(&p, &log, &rep, aerr, sizeof(aerr)) != WARDEN_OK) {
		snprintf(err, err_len, "audit log %s: %s", adir, aerr);
		goto out;
	}
	ret = aud_checkpoint(log);
	aud_close(log);
	if (ret != WARDEN_OK)
		snprintf(err, err_len, "audit log %s: the first checkpoint failed", adir);
out:
	OPENSSL_free(spki);
	OPENSSL_free(cert);
	aud_body_free(&body);
	return ret;
}

/* module.conf, state/, audit/ and their owner. */
__attribute__((warn_unused_result)) static int init_rest(struct init_ctx *c,
							 const char *socket_path, char *err,
							 size_t err_len)
{
	static const char *const owned[] = { "tokens", "state", "audit", "audit.key" };
	char path[PATH_MAX], conf[2 * PATH_MAX];
	struct passwd *pw;
	struct stat st;
	size_t i;
	int n, ret = WARDEN_E_INTERNAL;

	if (path_join(path, c->dir, "state") != 0)
		goto out;
	ret = dir_create(c, path, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (path_join(path, c->dir, "audit") != 0)
		goto out;
	/* An audit directory kept by --force stays as it is. */
	if (lstat(path, &st) != 0) {
		ret = dir_create(c, path, err, err_len);
		if (ret != WARDEN_OK)
			goto out;
	}
	ret = WARDEN_E_INTERNAL;
	n = snprintf(conf, sizeof(conf),
		     "# Warden PKCS#11 module configuration (written by warden-admin init)\n"
		     "socket = %s\nlog = syslog\nlog_level = warning\ntimeout = %d\n",
		     socket_path, INIT_MODULE_TIMEOUT);
	if (n < 0 || (size_t)n >= sizeof(conf) || path_join(path, c->dir, "module.conf") != 0)
		goto out;
	ret = file_create(c, path, conf, (size_t)n, 0644, err, err_len);
	if (ret == WARDEN_OK)
		ret = init_policy(c, err, err_len);
	if (ret == WARDEN_OK)
		ret = init_audit(c, err, err_len);
	if (ret != WARDEN_OK || c->o->user == NULL)
		goto out;
	ret = WARDEN_E_INTERNAL;
	pw = getpwnam(c->o->user);
	if (pw == NULL) {
		snprintf(err, err_len, "no such user: %s", c->o->user);
		goto out;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		if (path_join(path, c->dir, owned[i]) != 0 ||
		    nftw(path, chown_entry, INIT_NFTW_FDS, FTW_PHYS) != 0) {
			snprintf(err, err_len, "cannot give %s to %s: %s", path, c->o->user,
				 strerror(errno));
			goto out;
		}
	}
	ret = WARDEN_OK;
out:
	return ret;
}

int admin_init_run(const struct admin_init_opts *o, char *err, size_t err_len)
{
	struct init_ctx *c = calloc(1, sizeof(*c));
	char socket_path[PATH_MAX];
	int ret = WARDEN_E_NOMEM;

	if (c == NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	c->o = o;
	ret = WARDEN_E_INTERNAL;
	if (o->user != NULL && getpwnam(o->user) == NULL) {
		snprintf(err, err_len, "no such user: %s", o->user);
		goto out;
	}
	ret = init_dir(c, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	ret = WARDEN_E_INTERNAL;
	if (o->socket != NULL && o->socket[0] != '/') {
		snprintf(err, err_len, "--socket must be an absolute path");
		goto out;
	}
	if (o->socket != NULL)
		snprintf(socket_path, sizeof(socket_path), "%s", o->socket);
	else if (path_join(socket_path, c->dir, "enclave.sock") != 0)
		goto out;
	if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, err_len, "the socket path %s is too long for a UNIX socket "
			 "(use --socket)", socket_path);
		goto out;
	}
	ret = init_backend(c, err, err_len);
	if (ret == WARDEN_OK)
		ret = init_user_pin(c, err, err_len);
	if (ret == WARDEN_OK)
		ret = init_rest(c, socket_path, err, err_len);
	if (ret == WARDEN_OK)
		ret = init_enclave_json(c, socket_path, err, err_len);
	if (ret != WARDEN_OK)
		goto out;
	printf("warden-admin: a %s CA key \"%s\" in token \"%s\", set up in %s\n",
	       o->key->name, o->key_label, o->token_label, c->dir);
	printf("  %s:%*s%s/%s\n", o->csr ? "CA certificate request" : "CA certificate",
	       o->csr ? 1 : 9, "", c->dir, o->csr ? "ca.csr" : "ca.pem");
	printf("  enclave configuration:  %s/enclave.json\n", c->dir);
	printf("  module configuration:   %s/module.conf\n", c->dir);
	printf("  policy (starter):       %s/policy.json\n", c->dir);
	printf("  audit log and key:      %s/audit/ (public key audit/audit.pub), %s/audit.key\n",
	       c->dir, c->dir);
	printf("  backend PINs (0600):    %s/backend.pin, %s/backend-so.pin\n", c->dir, c->dir);
	if (o->csr)
		printf("Have %s/ca.csr signed by the parent CA, save the certificate and add\n"
		       "  \"certificate\": \"/path/to/ca.pem\" to the key in enclave.json.\n",
		       c->dir);
	admin_print_next_steps(c->dir);
out:
	if (ret != WARDEN_OK && c != NULL) {
		while (c->num_created > 0) {
			c->num_created--;
			(void)tree_remove(c->created[c->num_created]);
		}
	}
	free(c);
	return ret;
}
