/*
 * test_policy_names.c - the name matchers on a table of tricky names
 * (tests/policy/names_corpus.inc), plus allow/deny semantics that need two rules.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pol_policy_int.h"

struct row {
	const char *type, *rule, *name;
	size_t name_len;
	int expect;
};

static const struct row corpus[] = {
#include "tests/policy/names_corpus.inc"
};

/* 1 match, 0 no match, -1 malformed name */
static int judge(const struct row *r)
{
	const char *why = NULL;
	if (strcmp(r->type, "dns") == 0) {
		struct pn_dns rule, name;
		ck_assert_msg(pn_dns_parse((const uint8_t *)r->rule, strlen(r->rule), true, &rule, &why),
			      "rule %s: %s", r->rule, why);
		if (!pn_dns_parse((const uint8_t *)r->name, r->name_len, false, &name, &why))
			return -1;
		return pn_dns_match(&rule, &name, false);
	}
	if (strcmp(r->type, "ip") == 0) {
		struct pn_ip rule;
		uint8_t a[16];
		ck_assert_msg(pn_ip_parse_rule(r->rule, &rule, &why), "rule %s: %s", r->rule, why);
		if (inet_pton(AF_INET, r->name, a) == 1)
			return pn_ip_match(&rule, a, 4);
		ck_assert(inet_pton(AF_INET6, r->name, a) == 1);
		return pn_ip_match(&rule, a, 16);
	}
	if (strcmp(r->type, "email") == 0) {
		struct pn_email rule, name;
		ck_assert_msg(pn_email_parse_rule(r->rule, &rule, &why), "rule %s: %s", r->rule, why);
		if (!pn_email_parse((const uint8_t *)r->name, r->name_len, &name, &why))
			return -1;
		return pn_email_match(&rule, &name, false);
	}
	struct pn_dns rule, host;
	ck_assert(pn_dns_parse((const uint8_t *)r->rule, strlen(r->rule), true, &rule, &why));
	if (!pn_uri_host((const uint8_t *)r->name, r->name_len, &host, &why))
		return -1;
	return pn_dns_match(&rule, &host, false);
}

START_TEST(test_names_corpus)
{
	const struct row *r = &corpus[_i];
	int got = judge(r);
	ck_assert_msg(got == r->expect, "%s rule '%s' vs name #%d (%zu bytes): got %d, want %d",
		      r->type, r->rule, _i, r->name_len, got, r->expect);
}
END_TEST

START_TEST(test_names_wildcard_san_caught_by_exact_deny)
{
	struct pn_dns deny, allow, name;
	const char *why;
	ck_assert(pn_dns_parse((const uint8_t *)"admin.example.com", 17, true, &deny, &why));
	ck_assert(pn_dns_parse((const uint8_t *)"*.example.com", 13, true, &allow, &why));
	ck_assert(pn_dns_parse((const uint8_t *)"*.example.com", 13, true, &name, &why));
	ck_assert(pn_dns_match(&deny, &name, true));   /* covers admin.example.com: denied */
	ck_assert(!pn_dns_match(&deny, &name, false)); /* and an exact allow does not allow it */
	ck_assert(pn_dns_match(&allow, &name, false));
}
END_TEST

START_TEST(test_names_email_deny_ignores_quoting_and_case)
{
	struct pn_email deny, name;
	const char *why;
	ck_assert(pn_email_parse_rule("root@example.com", &deny, &why));
	ck_assert(pn_email_parse((const uint8_t *)"\"ROOT\"@example.com", 18, &name, &why));
	ck_assert(pn_email_match(&deny, &name, true));
	ck_assert(pn_email_parse((const uint8_t *)"\"r\\oot\"@example.com", 19, &name, &why));
	ck_assert(pn_email_match(&deny, &name, true));
}
END_TEST

START_TEST(test_names_ip_rule_refusals)
{
	struct pn_ip r;
	const char *why;
	ck_assert(!pn_ip_parse_rule("10.0.0.1/8", &r, &why)); /* host bits */
	ck_assert(!pn_ip_parse_rule("10.0.0.0/33", &r, &why));
	ck_assert(!pn_ip_parse_rule("10.0.0.0/08", &r, &why));
	ck_assert(!pn_ip_parse_rule("10.0.0.0/", &r, &why));
	ck_assert(!pn_ip_parse_rule("010.0.0.0", &r, &why));
	ck_assert(!pn_ip_parse_rule("example.com", &r, &why));
	ck_assert(!pn_ip_parse_rule("::/129", &r, &why));
	ck_assert(pn_ip_parse_rule("::/0", &r, &why));
	ck_assert(pn_ip_parse_rule("::ffff:10.0.0.0/104", &r, &why));
	ck_assert_uint_eq(r.len, 4);
	ck_assert_uint_eq(r.prefix, 8);
}
END_TEST

START_TEST(test_names_registered_domain)
{
	struct pol_psl *psl = NULL;
	char out[256];
	ck_assert(pol_psl_load(NULL, &psl));
	ck_assert(pol_registered_domain(psl, "www.example.co.uk", out, sizeof(out)));
	ck_assert_str_eq(out, "example.co.uk");
	ck_assert(pol_registered_domain(psl, "a.b.example.com", out, sizeof(out)));
	ck_assert_str_eq(out, "example.com");
	ck_assert(!pol_registered_domain(psl, "co.uk", out, sizeof(out)));
	pol_psl_free(psl);
	ck_assert(pol_registered_domain(NULL, "www.example.co.uk", out, sizeof(out)));
	ck_assert_str_eq(out, "co.uk"); /* without a list: the last two labels (coarser) */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy_names");
	TCase *tc = tcase_create("names");
	tcase_add_loop_test(tc, test_names_corpus, 0, (int)(sizeof(corpus) / sizeof(corpus[0])));
	tcase_add_test(tc, test_names_wildcard_san_caught_by_exact_deny);
	tcase_add_test(tc, test_names_email_deny_ignores_quoting_and_case);
	tcase_add_test(tc, test_names_ip_rule_refusals);
	tcase_add_test(tc, test_names_registered_domain);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
