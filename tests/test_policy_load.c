/*
 * test_policy_load.c - the policy loader: the starter file, the hash, and every kind of
 * refusal with its JSON path.
 */
#include <check.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pol_policy_int.h"

static char *J(const char *s)
{
	static char buf[8192];
	size_t n = strlen(s);
	ck_assert_uint_lt(n, sizeof(buf));
	for (size_t i = 0; i <= n; i++)
		buf[i] = s[i] == '\'' ? '"' : s[i];
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s", path);
	static char buf[65536];
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

START_TEST(test_load_starter_policy_and_hash)
{
	size_t len;
	char *s = slurp("policy-engine/starter-policy.json", &len);
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	uint8_t md[32];
	char hex[65];
	ck_assert_msg(pol_policy_load(s, len, &p, &err), "%s: %s", err.path, err.msg);
	SHA256((const uint8_t *)s, len, md);
	ck_assert_mem_eq(pol_policy_hash(p), md, 32);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	ck_assert_str_eq(pol_policy_hash_hex(p), hex);
	ck_assert_uint_eq(pol_policy_num_profiles(p), 1);
	ck_assert_str_eq(pol_policy_profile_name(p, 0), "servers");
	pol_policy_free(p);
}
END_TEST

START_TEST(test_load_profiles_keep_file_order_and_inherit)
{
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	const char *j = J("{'version':1,'authority':{'validity':{'maxLifetime':'10d'}},'profiles':{"
			  "'zeta':{'match':{}},'alpha':{'match':{},'validity':{'clockSkew':'1m'}}}}");
	ck_assert_msg(pol_policy_load(j, strlen(j), &p, &err), "%s: %s", err.path, err.msg);
	ck_assert_str_eq(p->profiles[0].name, "zeta");
	ck_assert_str_eq(p->profiles[1].name, "alpha");
	ck_assert_int_eq(p->profiles[1].c.max_lifetime_s, 10 * 86400); /* inherited */
	ck_assert_int_eq(p->profiles[1].c.clock_skew_s, 60);
	ck_assert_int_eq(p->profiles[0].c.clock_skew_s, 300);
	pol_policy_free(p);
}
END_TEST

START_TEST(test_load_durations)
{
	int64_t s;
	ck_assert(pol_duration_parse("90d", &s) && s == 90 * 86400);
	ck_assert(pol_duration_parse("1h30m", &s) && s == 5400);
	ck_assert(pol_duration_parse("2160h", &s) && s == 2160 * 3600);
	ck_assert(!pol_duration_parse("", &s));
	ck_assert(!pol_duration_parse("90", &s));
	ck_assert(!pol_duration_parse("1.5h", &s));
	ck_assert(!pol_duration_parse("-1h", &s));
	ck_assert(!pol_duration_parse("1w", &s));
	ck_assert(!pol_duration_parse("99999999999999999999d", &s));
	ck_assert(!pol_duration_parse("40000d", &s)); /* over 100 years */
}
END_TEST

struct bad {
	const char *json, *path, *msg_part;
};

static const struct bad bads[] = {
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'dns':['a.example.com',"
	  "'b.example.com','*.*.example.com']}}}}}",
	  "profiles.web.names.allow.dns[2]",
	  "'*.*.example.com' has a wildcard that is not the whole leftmost label" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'dns':['w*.example.com']}}}}}",
	  "profiles.web.names.allow.dns[0]", "not the whole leftmost label" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'deny':{'dns':['example.com.']}}}}}",
	  "profiles.web.names.deny.dns[0]", "trailing dot" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'ips':['10.0.0.1/8']}}}}}",
	  "profiles.web.names.allow.ips[0]", "host bits" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'ip':['x'],'ips':['y']}}}}}",
	  "profiles.web.names.allow.ips", "both" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'emails':['example.com']}}}}}",
	  "profiles.web.names.allow.emails[0]", "@example.com" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'uris':['https://x.com']}}}}}",
	  "profiles.web.names.allow.uris[0]", "URI rules are host names" },
	{ "{'version':1,'profiles':{'web':{'match':{},'names':{'allow':{'dnsNames':['x.com']}}}}}",
	  "profiles.web.names.allow.dnsNames", "unknown key" },
	{ "{'version':1,'profiles':{'web':{'match':{},'nmaes':{}}}}", "profiles.web.nmaes",
	  "unknown key" },
	{ "{'version':1,'profiles':{'web':{}}}", "profiles.web", "match" },
	{ "{'version':2,'profiles':{}}", "version", "must be 1" },
	{ "{'profiles':{}}", "version", "must be 1" },
	{ "{'version':1}", "profiles", "required" },
	{ "{'version':1,'profiles':[]}", "profiles", "object" },
	{ "{'version':1,'profiles':{'web':{'match':{},'validity':{'maxLifetime':90}}}}",
	  "profiles.web.validity.maxLifetime", "duration" },
	{ "{'version':1,'profiles':{'web':{'match':{},'publicKey':{'rsaMinBits':4096,'rsaMaxBits':2048}}}}",
	  "profiles.web.publicKey.rsaMinBits", "larger" },
	{ "{'version':1,'profiles':{'web':{'match':{},'publicKey':{'curves':['P-192']}}}}",
	  "profiles.web.publicKey.curves[0]", "not a known name" },
	{ "{'version':1,'profiles':{'web':{'match':{},'extensions':{'keyUsage':{'allowed':"
	  "['digitalSignature'],'required':['keyEncipherment']}}}}}",
	  "profiles.web.extensions.keyUsage.required", "does not allow" },
	{ "{'version':1,'profiles':{'web':{'match':{},'extensions':{'allowedCritical':['1.2.x']}}}}",
	  "profiles.web.extensions.allowedCritical[0]", "dotted OID" },
	{ "{'version':1,'profiles':{'web':{'match':{},'rateLimits':{'perKey':{'count':1,'period':'1h'}}}}}",
	  "profiles.web.rateLimits.perKey", "unknown key" },
	{ "{'version':1,'profiles':{'web':{'match':{},'rateLimits':{'perProfile':{'count':0,"
	  "'period':'1h'}}}}}", "profiles.web.rateLimits.perProfile.count", "integer from 1" },
	{ "{'version':1,'profiles':{'web':{'match':{},'rateLimits':{'perProfile':{'count':5}}}}}",
	  "profiles.web.rateLimits.perProfile", "needs" },
	{ "{'version':1,'profiles':{'web':{'match':{},'rateLimits':{'perProfile':{'count':5,"
	  "'period':'0s'}}}}}", "profiles.web.rateLimits.perProfile.period", "longer than zero" },
	{ "{'version':1,'signingKeys':{'ca':{'prehashed':'allow'}},'profiles':{}}",
	  "signingKeys.ca.prehashed", "deny" },
	{ "{'version':1,'signingKeys':{'ca':{'sign':['certs']}},'profiles':{}}",
	  "signingKeys.ca.sign[0]", "not a known name" },
	{ "{'version':1,'profiles':{'web':{'match':{'provisioner':{'type':'Bogus'}}}}}",
	  "profiles.web.match.provisioner.type", "provisioner type" },
	{ "{'version':1,'profiles':{'web':{'match':{'provisioner':{}}}}}",
	  "profiles.web.match.provisioner", "needs" },
	{ "{'version':1,'profiles':{'web':{'match':{'ca':'yes'}}}}", "profiles.web.match.ca",
	  "true or false" },
	{ "{'version':1,'authority':{'names':{'allowWildcardNames':1}},'profiles':{}}",
	  "authority.names.allowWildcardNames", "true or false" },
	{ "{'version':1,'profiles':{'':{'match':{}}}}", "profiles.", "profile name" },
};

START_TEST(test_load_refusals_name_their_path)
{
	const struct bad *b = &bads[_i];
	struct pol_policy *p = (struct pol_policy *)1;
	struct pol_load_error err;
	const char *j = J(b->json);
	ck_assert(!pol_policy_load(j, strlen(j), &p, &err));
	ck_assert_ptr_null(p);
	ck_assert_msg(strcmp(err.path, b->path) == 0, "#%d path '%s', want '%s' (%s)", _i, err.path,
		      b->path, err.msg);
	ck_assert_msg(strstr(err.msg, b->msg_part) != NULL, "#%d msg '%s' lacks '%s'", _i, err.msg,
		      b->msg_part);
}
END_TEST

START_TEST(test_load_json_syntax_and_duplicates)
{
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	const char *j = J("{'version':1,\n'profiles':{,}}");
	ck_assert(!pol_policy_load(j, strlen(j), &p, &err));
	ck_assert_int_eq(err.line, 2);
	ck_assert(strstr(err.msg, "not valid JSON") != NULL);
	j = J("{'version':1,'profiles':{'a':{'match':{}},'a':{'match':{}}}}");
	ck_assert(!pol_policy_load(j, strlen(j), &p, &err));
	ck_assert(strstr(err.msg, "duplicate") != NULL);
	static const char nul[] = "{\"version\":1,\"profiles\":{\"a\\u0000b\":{\"match\":{}}}}";
	ck_assert(!pol_policy_load(nul, strlen(nul), &p, &err));
	static const char raw_nul[] = "{\"version\":1,\"profiles\":{}}\0";
	ck_assert(!pol_policy_load(raw_nul, sizeof(raw_nul) - 1, &p, &err));
}
END_TEST

START_TEST(test_load_accepts_step_ca_paste_both_spellings)
{
	struct pol_policy *p = NULL;
	struct pol_load_error err;
	/* ca.json's authority.policy.x509, verbatim */
	const char *j = J("{'version':1,'profiles':{'web':{'match':{},'names':{"
			  "'allow':{'dns':['*.local'],'ip':['192.168.0.0/24'],'email':['@local'],"
			  "'uri':['*.local'],'cn':['Custom CA Name']},"
			  "'deny':{'dns':['forbidden.local'],'ip':['192.168.0.1']},"
			  "'allowWildcardNames':false}},"
			  "'api':{'match':{},'names':{'allow':{'dns':['*.local'],'ips':['10.0.0.0/8'],"
			  "'emails':['@local'],'uris':['*.local'],'commonNames':['x']}}}}}");
	ck_assert_msg(pol_policy_load(j, strlen(j), &p, &err), "%s: %s", err.path, err.msg);
	ck_assert_uint_eq(p->profiles[0].names.allow.num_ip, 1);
	ck_assert_uint_eq(p->profiles[1].names.allow.num_cn, 1);
	pol_policy_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_load");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_load_starter_policy_and_hash);
	tcase_add_test(tc, test_load_profiles_keep_file_order_and_inherit);
	tcase_add_test(tc, test_load_durations);
	tcase_add_loop_test(tc, test_load_refusals_name_their_path, 0,
			    (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, test_load_json_syntax_and_duplicates);
	tcase_add_test(tc, test_load_accepts_step_ca_paste_both_spellings);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
