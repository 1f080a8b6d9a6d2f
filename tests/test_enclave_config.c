/* test_enclave_config.c - enclave.json parsing (enclave/enc_config.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"

static const char *const good =
	"{\"socket\": \"/run/warden/enclave.sock\", \"socket_mode\": \"0660\","
	" \"allowed_uids\": [0, 998], \"user\": \"warden\", \"max_clients\": 64,"
	" \"max_data_len\": 16777216, \"state_dir\": \"/var/lib/warden/state\","
	" \"audit_dir\": \"/var/lib/warden/audit\", \"log\": \"syslog\","
	" \"policy\": \"/etc/warden/policy.json\", \"audit_key\": \"/etc/warden/audit.key\","
	" \"audit\": {\"checkpoint_records\": 500, \"checkpoint_seconds\": 30,"
	"   \"rotate_bytes\": 1048576, \"snapshot_records\": 50000, \"fast_start\": true,"
	"   \"direct_io\": false},"
	" \"state\": {\"max_serials\": 4000000, \"max_buckets\": 100000,"
	"   \"max_revocations\": 2000000},"
	" \"token\": {\"label\": \"warden\", \"serial\": \"0000000000000001\","
	"   \"user_pin_file\": \"/etc/warden/user-pin.scrypt\", \"pin_max_failures\": 5},"
	" \"backend\": {\"module\": \"/usr/lib/softhsm/libsofthsm2.so\", \"token_label\": \"warden\","
	"   \"pin_file\": \"/etc/warden/backend.pin\","
	"   \"environment\": {\"SOFTHSM2_CONF\": \"/etc/warden/softhsm2.conf\"},"
	"   \"paths\": [\"/var/lib/warden/tokens\"]},"
	" \"keys\": [{\"label\": \"ca\", \"certificate\": \"/etc/warden/ca.pem\","
	"   \"verify_signatures\": false},"
	"  {\"label\": \"ocsp\", \"verify_signatures\": true}]}";

START_TEST(test_config_documented_example_parses)
{
	struct enc_config c;
	char err[ENC_ERR_LEN] = "";
	ck_assert_msg(enc_config_parse(good, strlen(good), &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.socket, "/run/warden/enclave.sock");
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_uint_eq(c.num_uids, 2);
	ck_assert_uint_eq(c.allowed_uids[1], 998);
	ck_assert_str_eq(c.user, "warden");
	ck_assert_uint_eq(c.max_data_len, 16777216);
	ck_assert_uint_eq(c.pin_max_failures, 5);
	ck_assert_uint_eq(c.num_env, 1);
	ck_assert_str_eq(c.env_names[0], "SOFTHSM2_CONF");
	ck_assert_uint_eq(c.num_paths, 1);
	ck_assert_uint_eq(c.num_keys, 2);
	ck_assert_str_eq(c.keys[0].certificate, "/etc/warden/ca.pem");
	ck_assert_str_eq(c.policy, "/etc/warden/policy.json");
	ck_assert_str_eq(c.audit_key, "/etc/warden/audit.key");
	ck_assert_uint_eq(c.audit_checkpoint_records, 500);
	ck_assert_uint_eq(c.audit_checkpoint_ms, 30000);
	ck_assert_uint_eq(c.audit_rotate_bytes, 1048576);
	ck_assert_uint_eq(c.audit_snapshot_records, 50000);
	ck_assert(c.audit_fast_start);
	ck_assert(!c.audit_direct_io);
	ck_assert_uint_eq(c.state_limits.max_serials, 4000000);
	ck_assert_uint_eq(c.state_limits.max_buckets, 100000);
	ck_assert_uint_eq(c.state_limits.max_revocations, 2000000);
	ck_assert_int_eq(c.keys[1].verify_signatures, 1);
	ck_assert_ptr_null(c.keys[1].certificate);
	enc_config_free(&c);
}
END_TEST

START_TEST(test_config_defaults)
{
	static const char *const minimal =
		"{\"socket\": \"/s\", \"allowed_uids\": [0], \"state_dir\": \"/st\","
		" \"audit_dir\": \"/a\", \"audit_key\": \"/k\", \"policy\": \"/p.json\","
		" \"token\": {\"user_pin_file\": \"/p\"},"
		" \"backend\": {\"token_label\": \"w\", \"pin_file\": \"/b\"},"
		" \"keys\": [{\"label\": \"ca\"}]}";
	struct enc_config c;
	char err[ENC_ERR_LEN] = "";
	ck_assert_msg(enc_config_parse(minimal, strlen(minimal), &c, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_uint_eq(c.max_clients, ENC_DEFAULT_MAX_CLIENTS);
	ck_assert_uint_eq(c.max_data_len, ENC_DEFAULT_MAX_DATA);
	ck_assert_uint_eq(c.pin_max_failures, ENC_DEFAULT_PIN_FAILURES);
	ck_assert_str_eq(c.token_label, "warden");
	ck_assert_str_eq(c.backend_module, "/usr/lib/softhsm/libsofthsm2.so");
	ck_assert_str_eq(c.log, "syslog");
	ck_assert_ptr_null(c.user);
	ck_assert_uint_eq(c.audit_checkpoint_records, 0); /* the library's defaults */
	ck_assert_uint_eq(c.audit_snapshot_records, ENC_DEFAULT_SNAPSHOT_RECORDS);
	ck_assert(c.audit_fast_start); /* default on */
	ck_assert(c.audit_direct_io);  /* default on */
	ck_assert_uint_eq(c.state_limits.max_serials, POL_STATE_DEFAULT_MAX_SERIALS);
	ck_assert_uint_eq(c.state_limits.max_buckets, POL_STATE_DEFAULT_MAX_BUCKETS);
	ck_assert_uint_eq(c.state_limits.max_revocations, POL_STATE_DEFAULT_MAX_REVOCATIONS);
	enc_config_free(&c);
}
END_TEST

/* snapshot_records 0 turns snapshots off; fast_start false is accepted as given. */
START_TEST(test_config_snapshots_off)
{
	static const char *const text =
		"{\"socket\": \"/s\", \"allowed_uids\": [0], \"state_dir\": \"/st\","
		" \"audit_dir\": \"/a\", \"audit_key\": \"/k\", \"policy\": \"/p.json\","
		" \"audit\": {\"snapshot_records\": 0, \"fast_start\": false},"
		" \"token\": {\"user_pin_file\": \"/p\"},"
		" \"backend\": {\"token_label\": \"w\", \"pin_file\": \"/b\"},"
		" \"keys\": [{\"label\": \"ca\"}]}";
	struct enc_config c;
	char err[ENC_ERR_LEN] = "";
	ck_assert_msg(enc_config_parse(text, strlen(text), &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c.audit_snapshot_records, 0);
	ck_assert(!c.audit_fast_start);
	enc_config_free(&c);
}
END_TEST

/* Each: a substitution into the good config, and the path the error must name. */
static const struct {
	const char *from, *to, *path;
} bad[] = {
	/* prehashed moved to the policy: refused here with a pointer to it */
	{"\"verify_signatures\": false", "\"prehashed\": \"deny\"", "$.keys[0]"},
	{"\"policy\": \"/etc/warden/policy.json\",", "", "$"},
	{"\"policy\": \"/etc/warden/policy.json\"", "\"policy\": \"policy.json\"", "$.policy"},
	{"\"audit_key\": \"/etc/warden/audit.key\",", "", "$"},
	{"\"checkpoint_records\": 500", "\"checkpoint_records\": 0", "$.audit.checkpoint_records"},
	{"\"rotate_bytes\": 1048576", "\"rotate_bytes\": 10", "$.audit.rotate_bytes"},
	{"\"checkpoint_seconds\": 30", "\"checkpoint_second\": 30", "$.audit"},
	{"\"snapshot_records\": 50000", "\"snapshot_records\": -1", "$.audit.snapshot_records"},
	{"\"snapshot_records\": 50000", "\"snapshot_records\": 2000000000",
	 "$.audit.snapshot_records"},
	{"\"fast_start\": true", "\"fast_start\": 1", "$.audit.fast_start"},
	{"\"max_serials\": 4000000", "\"max_serials\": 0", "$.state.max_serials"},
	{"\"max_serials\": 4000000", "\"max_serials\": 16777217", "$.state.max_serials"},
	{"\"max_buckets\": 100000", "\"max_bucket\": 100000", "$.state"},
	{"\"max_revocations\": 2000000", "\"max_revocations\": \"many\"",
	 "$.state.max_revocations"},
	{"\"fast_start\": true", "\"fast_start\": \"yes\"", "$.audit.fast_start"},
	{"\"verify_signatures\": true", "\"verify_signatures\": 1", "$.keys[1]"},
	{"\"max_clients\": 64", "\"max_clients\": 0", "$.max_clients"},
	{"\"max_clients\": 64", "\"max_clients\": \"64\"", "$.max_clients"},
	{"\"max_data_len\": 16777216", "\"max_data_len\": 99999999999", "$.max_data_len"},
	{"\"socket_mode\": \"0660\"", "\"socket_mode\": \"rw\"", "$.socket_mode"},
	{"\"allowed_uids\": [0, 998]", "\"allowed_uids\": []", "$.allowed_uids"},
	{"\"allowed_uids\": [0, 998]", "\"allowed_uids\": [0, -1]", "$.allowed_uids[1]"},
	{"\"socket\": \"/run/warden/enclave.sock\"", "\"socket\": \"rel.sock\"", "$.socket"},
	{"\"pin_max_failures\": 5", "\"pin_max_failures\": 0", "$.token.pin_max_failures"},
	{"\"user_pin_file\"", "\"user_pin\"", "$.token"},
	{"\"token_label\": \"warden\"", "\"token_labe\": \"warden\"", "$.backend"},
	{"\"paths\": [\"/var/lib/warden/tokens\"]", "\"paths\": [\"tokens\"]", "$.backend.paths[0]"},
	{"\"SOFTHSM2_CONF\": \"/etc/warden/softhsm2.conf\"", "\"SOFTHSM2_CONF\": 1",
	 "$.backend.environment.SOFTHSM2_CONF"},
	{"\"label\": \"ocsp\"", "\"label\": \"ca\"", "$.keys[1]"},
	{"\"log\": \"syslog\"", "\"log\": \"syslog\", \"lgo\": 1", "$"},
	{"\"log\": \"syslog\"", "\"log\": \"\"", "$.log"},
	{"\"log\": \"syslog\"", "\"log\": \"syslog\", \"log\": \"stderr\"", "line"},
	{"{\"socket\"", "[{\"socket\"", "line"},
};

START_TEST(test_config_error_names_json_path)
{
	const char *from = strstr(good, bad[_i].from);
	ck_assert_ptr_nonnull(from);
	size_t pre = (size_t)(from - good);
	size_t len = strlen(good) - strlen(bad[_i].from) + strlen(bad[_i].to);
	char *text = malloc(len + 1);
	memcpy(text, good, pre);
	strcpy(text + pre, bad[_i].to);
	strcat(text, from + strlen(bad[_i].from));
	struct enc_config c;
	char err[ENC_ERR_LEN] = "";
	ck_assert_int_eq(enc_config_parse(text, strlen(text), &c, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, bad[_i].path, strlen(bad[_i].path)) == 0,
		      "error \"%s\" does not start with %s", err, bad[_i].path);
	ck_assert_ptr_null(c.root);
	free(text);
}
END_TEST

START_TEST(test_config_load_missing_file)
{
	struct enc_config c;
	char err[ENC_ERR_LEN] = "";
	ck_assert_int_eq(enc_config_load("/nonexistent/enclave.json", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/enclave.json"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("enclave_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_config_documented_example_parses);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_snapshots_off);
	tcase_add_loop_test(tc, test_config_error_names_json_path, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_config_load_missing_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
