/*
 * enc_config.c - enclave.json (docs/architecture.md "Enclave configuration").
 *
 * Strict: an unknown member is an error (a typo must not silently weaken a
 * setting), and every error names the JSON path ("$.keys[1].prehashed").
 */
#include "enc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CFG_DEFAULT_BACKEND "/usr/lib/softhsm/libsofthsm2.so"
#define CFG_DEFAULT_SOCKET_MODE 0660
#define CFG_MAX_LABEL 32u /* PKCS#11 token label field */
#define CFG_MAX_SERIAL 16u
/* "audit": { ... } bounds */
#define CFG_MAX_CKPT_RECORDS 100000000u
#define CFG_MAX_CKPT_SECONDS 86400u
#define CFG_MAX_ROTATE_BYTES (1ull << 40)
#define CFG_MAX_SNAPSHOT_RECORDS 1000000000u

struct cfg_ctx {
	char *err;
	size_t err_len;
};

static int bad(struct cfg_ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct cfg_ctx *c, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->err_len, "%s: %s", path, what);
	return -1;
}

/* Every member of obj must be in allowed (NULL-terminated). */
static int only_members(struct cfg_ctx *c, const char *path, json_t *obj,
			const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			return bad(c, path, "unknown member \"%s\"", k);
	}
	return 0;
}

static int get_str(struct cfg_ctx *c, const char *path, json_t *obj, const char *name,
		   int required, const char **out)
{
	json_t *v = json_object_get(obj, name);
	char p[128];
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (v == NULL) {
		if (required)
			return bad(c, p, "missing (a string is required)");
		return 0;
	}
	if (!json_is_string(v))
		return bad(c, p, "must be a string");
	const char *s = json_string_value(v);
	if (s[0] == '\0' || strlen(s) != json_string_length(v) || strlen(s) >= PATH_MAX)
		return bad(c, p, "must be a non-empty string without NUL");
	*out = s;
	return 0;
}

static int get_uint(struct cfg_ctx *c, const char *path, json_t *obj, const char *name,
		    uint64_t lo, uint64_t hi, uint64_t *out)
{
	json_t *v = json_object_get(obj, name);
	char p[128];
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
		return bad(c, p, "must be an integer from %llu to %llu", (unsigned long long)lo,
			   (unsigned long long)hi);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_obj(struct cfg_ctx *c, const char *path, json_t *obj, const char *name,
		   int required, json_t **out)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return bad(c, path, "member \"%s\" missing (an object is required)", name);
		return 0;
	}
	if (!json_is_object(v))
		return bad(c, path, "\"%s\" must be an object", name);
	*out = v;
	return 0;
}

static int absolute(struct cfg_ctx *c, const char *path, const char *v)
{
	if (v != NULL && v[0] != '/')
		return bad(c, path, "must be an absolute path");
	return 0;
}

static int parse_top(struct cfg_ctx *c, json_t *root, struct enc_config *cfg)
{
	static const char *const members[] = {
		"socket",    "socket_mode", "allowed_uids", "user",  "max_clients",
		"max_data_len", "state_dir", "audit_dir",  "log",   "token",
		"backend",   "keys",        "policy",       "frame_timeout_ms", "audit_key",
		"audit",     "state",       NULL};
	const char *mode = NULL;
	uint64_t v;

	if (only_members(c, "$", root, members) != 0 ||
	    get_str(c, "$", root, "socket", 1, &cfg->socket) != 0 ||
	    absolute(c, "$.socket", cfg->socket) != 0 ||
	    get_str(c, "$", root, "socket_mode", 0, &mode) != 0 ||
	    get_str(c, "$", root, "user", 0, &cfg->user) != 0 ||
	    get_str(c, "$", root, "state_dir", 1, &cfg->state_dir) != 0 ||
	    absolute(c, "$.state_dir", cfg->state_dir) != 0 ||
	    get_str(c, "$", root, "audit_dir", 1, &cfg->audit_dir) != 0 ||
	    absolute(c, "$.audit_dir", cfg->audit_dir) != 0 ||
	    get_str(c, "$", root, "audit_key", 1, &cfg->audit_key) != 0 ||
	    absolute(c, "$.audit_key", cfg->audit_key) != 0 ||
	    get_str(c, "$", root, "policy", 1, &cfg->policy) != 0 ||
	    absolute(c, "$.policy", cfg->policy) != 0 ||
	    get_str(c, "$", root, "log", 0, &cfg->log) != 0)
		return -1;
	if (strlen(cfg->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return bad(c, "$.socket", "path too long for a UNIX socket");
	cfg->socket_mode = CFG_DEFAULT_SOCKET_MODE;
	if (mode != NULL) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(mode, &end, 8);
		if (errno != 0 || *end != '\0' || m > 0777)
			return bad(c, "$.socket_mode", "must be an octal mode such as \"0660\"");
		cfg->socket_mode = (mode_t)m;
	}
	v = ENC_DEFAULT_MAX_CLIENTS;
	if (get_uint(c, "$", root, "max_clients", 1, ENC_MAX_CLIENTS_LIMIT, &v) != 0)
		return -1;
	cfg->max_clients = (unsigned)v;
	v = ENC_DEFAULT_MAX_DATA;
	if (get_uint(c, "$", root, "max_data_len", 1, WIRE_MAX_DATA, &v) != 0)
		return -1;
	cfg->max_data_len = (size_t)v;
	v = ENC_FRAME_TIMEOUT_MS;
	if (get_uint(c, "$", root, "frame_timeout_ms", ENC_MIN_FRAME_TIMEOUT_MS,
		     ENC_MAX_FRAME_TIMEOUT_MS, &v) != 0)
		return -1;
	cfg->frame_timeout_ms = (unsigned)v;
	json_t *audit;
	static const char *const audit_members[] = {"checkpoint_records", "checkpoint_seconds",
						    "rotate_bytes", "snapshot_records",
						    "fast_start", "direct_io", NULL};
	if (get_obj(c, "$", root, "audit", 0, &audit) != 0)
		return -1;
	cfg->audit_snapshot_records = ENC_DEFAULT_SNAPSHOT_RECORDS;
	/* fast_start defaults on: the enclave's state comes from a snapshot that its own
	 * signed checkpoint covers; the whole chain is warden-audit verify's job. */
	cfg->audit_fast_start = true;
	cfg->audit_direct_io = true;
	if (audit != NULL) {
		uint64_t records = 0, seconds = 0, rotate = 0;
		uint64_t snap = ENC_DEFAULT_SNAPSHOT_RECORDS;
		if (only_members(c, "$.audit", audit, audit_members) != 0 ||
		    get_uint(c, "$.audit", audit, "checkpoint_records", 1, CFG_MAX_CKPT_RECORDS,
			     &records) != 0 ||
		    get_uint(c, "$.audit", audit, "checkpoint_seconds", 1, CFG_MAX_CKPT_SECONDS,
			     &seconds) != 0 ||
		    get_uint(c, "$.audit", audit, "rotate_bytes", AUD_MIN_ROTATE_BYTES,
			     CFG_MAX_ROTATE_BYTES, &rotate) != 0 ||
		    get_uint(c, "$.audit", audit, "snapshot_records", 0, CFG_MAX_SNAPSHOT_RECORDS,
			     &snap) != 0)
			return -1;
		json_t *fs = json_object_get(audit, "fast_start");
		if (fs != NULL && !json_is_boolean(fs))
			return bad(c, "$.audit.fast_start", "must be true or false");
		cfg->audit_fast_start = fs == NULL || json_is_true(fs);
		json_t *dio = json_object_get(audit, "direct_io");
		if (dio != NULL && !json_is_boolean(dio))
			return bad(c, "$.audit.direct_io", "must be true or false");
		cfg->audit_direct_io = dio == NULL || json_is_true(dio);
		cfg->audit_checkpoint_records = (uint32_t)records;
		cfg->audit_checkpoint_ms = (uint32_t)(seconds * 1000u);
		cfg->audit_rotate_bytes = rotate;
		cfg->audit_snapshot_records = (uint32_t)snap;
	}
	if (cfg->log == NULL)
		cfg->log = "syslog";

	/* "state": how many issued serials (unexpired), rate-limit buckets and revocations
	 * the policy state holds; full means fail closed (state.full), so a CA with more
	 * live certificates than the default raises max_serials. */
	json_t *state;
	static const char *const state_members[] = {"max_serials", "max_buckets",
						    "max_revocations", NULL};
	uint64_t ms = POL_STATE_DEFAULT_MAX_SERIALS, mb = POL_STATE_DEFAULT_MAX_BUCKETS;
	uint64_t mr = POL_STATE_DEFAULT_MAX_REVOCATIONS;
	if (get_obj(c, "$", root, "state", 0, &state) != 0)
		return -1;
	if (state != NULL &&
	    (only_members(c, "$.state", state, state_members) != 0 ||
	     get_uint(c, "$.state", state, "max_serials", 1, POL_STATE_MAX_ENTRIES, &ms) != 0 ||
	     get_uint(c, "$.state", state, "max_buckets", 1, POL_STATE_MAX_ENTRIES, &mb) != 0 ||
	     get_uint(c, "$.state", state, "max_revocations", 1, POL_STATE_MAX_ENTRIES, &mr) != 0))
		return -1;
	cfg->state_limits.max_serials = (uint32_t)ms;
	cfg->state_limits.max_buckets = (uint32_t)mb;
	cfg->state_limits.max_revocations = (uint32_t)mr;

	json_t *uids = json_object_get(root, "allowed_uids");
	if (uids == NULL || !json_is_array(uids) || json_array_size(uids) == 0 ||
	    json_array_size(uids) > ENC_MAX_UIDS)
		return bad(c, "$.allowed_uids", "must be an array of 1 to %u uids", ENC_MAX_UIDS);
	for (size_t i = 0; i < json_array_size(uids); i++) {
		json_t *u = json_array_get(uids, i);
		if (!json_is_integer(u) || json_integer_value(u) < 0 ||
		    json_integer_value(u) >= (json_int_t)UINT32_MAX) {
			char p[64];
			snprintf(p, sizeof(p), "$.allowed_uids[%zu]", i);
			return bad(c, p, "must be a uid (a non-negative integer)");
		}
		cfg->allowed_uids[cfg->num_uids++] = (uid_t)json_integer_value(u);
	}
	return 0;
}

static int parse_token(struct cfg_ctx *c, json_t *root, struct enc_config *cfg)
{
	static const char *const members[] = {"label", "serial", "user_pin_file",
					      "pin_max_failures", NULL};
	json_t *t;
	uint64_t v = ENC_DEFAULT_PIN_FAILURES;
	cfg->token_label = "warden";
	cfg->token_serial = "0000000000000001";
	if (get_obj(c, "$", root, "token", 1, &t) != 0 ||
	    only_members(c, "$.token", t, members) != 0 ||
	    get_str(c, "$.token", t, "label", 0, &cfg->token_label) != 0 ||
	    get_str(c, "$.token", t, "serial", 0, &cfg->token_serial) != 0 ||
	    get_str(c, "$.token", t, "user_pin_file", 1, &cfg->user_pin_file) != 0 ||
	    get_uint(c, "$.token", t, "pin_max_failures", 1, ENC_MAX_PIN_FAILURES, &v) != 0)
		return -1;
	if (strlen(cfg->token_label) > CFG_MAX_LABEL)
		return bad(c, "$.token.label", "at most %u bytes", CFG_MAX_LABEL);
	if (strlen(cfg->token_serial) > CFG_MAX_SERIAL)
		return bad(c, "$.token.serial", "at most %u bytes", CFG_MAX_SERIAL);
	cfg->pin_max_failures = (unsigned)v;
	return 0;
}

static int parse_backend(struct cfg_ctx *c, json_t *root, struct enc_config *cfg)
{
	static const char *const members[] = {"module",      "token_label", "pin_file",
					      "environment", "paths",       NULL};
	json_t *b, *env, *paths;
	cfg->backend_module = CFG_DEFAULT_BACKEND;
	if (get_obj(c, "$", root, "backend", 1, &b) != 0 ||
	    only_members(c, "$.backend", b, members) != 0 ||
	    get_str(c, "$.backend", b, "module", 0, &cfg->backend_module) != 0 ||
	    absolute(c, "$.backend.module", cfg->backend_module) != 0 ||
	    get_str(c, "$.backend", b, "token_label", 1, &cfg->backend_token_label) != 0 ||
	    get_str(c, "$.backend", b, "pin_file", 1, &cfg->backend_pin_file) != 0 ||
	    get_obj(c, "$.backend", b, "environment", 0, &env) != 0)
		return -1;
	if (env != NULL) {
		const char *k;
		json_t *v;
		json_object_foreach(env, k, v)
		{
			char p[128];
			snprintf(p, sizeof(p), "$.backend.environment.%s", k);
			if (cfg->num_env >= ENC_MAX_ENV)
				return bad(c, p, "too many variables (at most %u)", ENC_MAX_ENV);
			if (!json_is_string(v) || k[0] == '\0' || strchr(k, '=') != NULL)
				return bad(c, p, "must be a string, named without '='");
			cfg->env_names[cfg->num_env] = k;
			cfg->env_values[cfg->num_env++] = json_string_value(v);
		}
	}
	paths = json_object_get(b, "paths");
	if (paths != NULL) {
		if (!json_is_array(paths) || json_array_size(paths) > ENC_MAX_PATHS)
			return bad(c, "$.backend.paths", "must be an array of at most %u paths",
				   ENC_MAX_PATHS);
		for (size_t i = 0; i < json_array_size(paths); i++) {
			json_t *p = json_array_get(paths, i);
			char where[64];
			snprintf(where, sizeof(where), "$.backend.paths[%zu]", i);
			if (!json_is_string(p) || json_string_value(p)[0] != '/')
				return bad(c, where, "must be an absolute path");
			cfg->paths[cfg->num_paths++] = json_string_value(p);
		}
	}
	return 0;
}

static int parse_keys(struct cfg_ctx *c, json_t *root, struct enc_config *cfg)
{
	static const char *const members[] = {"label", "certificate", "prehashed",
					      "verify_signatures", NULL};
	json_t *keys = json_object_get(root, "keys");
	if (keys == NULL || !json_is_array(keys) || json_array_size(keys) == 0 ||
	    json_array_size(keys) > WIRE_MAX_KEYS)
		return bad(c, "$.keys", "must be an array of 1 to %u keys", WIRE_MAX_KEYS);
	for (size_t i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);
		struct enc_key_config *kc = &cfg->keys[i];
		const char *pre = NULL;
		char p[64];
		snprintf(p, sizeof(p), "$.keys[%zu]", i);
		if (!json_is_object(k))
			return bad(c, p, "must be an object");
		if (only_members(c, p, k, members) != 0 ||
		    get_str(c, p, k, "label", 1, &kc->label) != 0 ||
		    get_str(c, p, k, "certificate", 0, &kc->certificate) != 0 ||
		    get_str(c, p, k, "prehashed", 0, &pre) != 0)
			return -1;
		if (pre != NULL)
			return bad(c, p, "\"prehashed\" is set in the policy now: remove it here and "
					 "set signingKeys.\"%s\".prehashed in the policy file",
				   kc->label);
		json_t *vs = json_object_get(k, "verify_signatures");
		if (vs != NULL && !json_is_boolean(vs))
			return bad(c, p, "\"verify_signatures\" must be true or false");
		kc->verify_signatures = vs != NULL && json_is_true(vs);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->keys[j].label, kc->label) == 0)
				return bad(c, p, "label \"%s\" appears twice", kc->label);
		cfg->num_keys++;
	}
	return 0;
}

int enc_config_parse(const char *text, size_t len, struct enc_config *out, char *err,
		     size_t err_len)
{
	struct cfg_ctx c = {err, err_len};
	json_error_t je;

	memset(out, 0, sizeof(*out));
	out->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (out->root == NULL) {
		snprintf(err, err_len, "line %d, column %d: %s", je.line, je.column, je.text);
		return -1;
	}
	if (!json_is_object(out->root) || parse_top(&c, out->root, out) != 0 ||
	    parse_token(&c, out->root, out) != 0 || parse_backend(&c, out->root, out) != 0 ||
	    parse_keys(&c, out->root, out) != 0) {
		if (!json_is_object(out->root))
			snprintf(err, err_len, "$: must be an object");
		enc_config_free(out);
		return -1;
	}
	return 0;
}

int enc_file_read(const char *path, size_t max, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *buf = NULL;
	size_t len = 0;
	int ret = -1;
	struct stat sb;

	*out = NULL;
	*out_len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > max) {
		errno = EFBIG;
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL)
		goto out;
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	ret = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)sb.st_size + 1);
		free(buf);
	}
	close(fd);
	return ret;
}

int enc_config_load(const char *path, struct enc_config *out, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len;
	char inner[ENC_ERR_LEN];

	memset(out, 0, sizeof(*out));
	if (enc_file_read(path, ENC_MAX_CONFIG_LEN, &text, &len) != 0) {
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	int ret = enc_config_parse(text, len, out, inner, sizeof(inner));
	if (ret != 0)
		snprintf(err, err_len, "%s: %s", path, inner);
	else
		aud_sha256(text, len, out->sha256);
	free(text);
	return ret;
}

void enc_config_free(struct enc_config *c)
{
	json_decref(c->root);
	memset(c, 0, sizeof(*c));
}
