/* The policy configuration: the "policy" section's errors (file, key,
 * expectation), the environment's one truth ("auto", its default with a
 * policy slot, $HWAGG_ENVIRONMENT winning), and the policy slot's own keys,
 * checked when C_Initialize opens it. */
#include "module/conf.h"
#include "module/fns.h"
#include "module/policy_conf.h"
#include "common/log.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hwagg-polconf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("HWAGG_ENVIRONMENT");
	hw_log_threshold = HW_LOG_ERROR;
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Parsing text must fail with a message holding want. */
static void refused(const char *text, const char *want)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	ck_assert_int_eq(hw_config_parse(text, "/p.json", &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err, want);
}

#define SLOTS ", \"slots\": [{\"name\": \"a\", \"type\": \"soft\"}]}"

START_TEST(section_errors)
{
	refused("{\"policy\": {\"environment\": \"auto\"}" SLOTS,
		"/p.json: policy.environment: the environment is one setting for the whole module; "
		"expected it at the top level");
	refused("{\"policy\": {\"min_security\": {\"production\": \"firmware\"}}" SLOTS,
		"policy.min_security.production: expected one of hardware, external, software, got \"firmware\"");
	refused("{\"policy\": {\"fallback\": {\"prod\": true}}" SLOTS,
		"policy.fallback.prod: unknown key; expected one of production, staging, development");
	refused("{\"policy\": {\"fallback\": {\"productoin\": true}}" SLOTS,
		"policy.fallback.productoin: unknown key; did you mean \"production\"? expected one of production, "
		"staging, development");
	refused("{\"policy\": {\"fallback\": {\"production\": \"yes\"}}" SLOTS, "policy.fallback.production:");
	refused("{\"policy\": {\"precedence\": [1]}" SLOTS, "policy.precedence[0]:");
	refused("{\"policy\": {\"order\": []}" SLOTS,
		"policy.order: unknown key; expected one of precedence, min_security, fallback, retry");
	/* every problem of the section is reported; the first one is returned */
	refused("{\"policy\": {\"retry\": {\"max_ms\": -1}, \"fallback\": {\"x\": 1}}" SLOTS, "policy.");
	refused("{\"policy\": {\"retry\": {\"max_ms\": 60001}}" SLOTS,
		"policy.retry.max_ms: expected an integer 0..60000 (milliseconds), got 60001");
	refused("{\"policy\": {\"retry\": {\"base\": 5}}" SLOTS,
		"policy.retry.base: unknown key; expected one of max_ms, base_ms");
	refused("{\"policy\": {\"retry\": {\"base_ms\": 0}}" SLOTS,
		"policy.retry.base_ms: expected an integer 1..10000 (milliseconds), got 0");
	refused("{\"environment\": \"prod\"" SLOTS,
		"environment: expected one of production, staging, development, auto, got \"prod\"");
	refused("{\"slots\": [{\"name\": \"p\", \"type\": \"policy\", \"members\": \"a\"}]}", "slots[0] (\"p\").members:");
}
END_TEST

START_TEST(section_values)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	ck_assert_int_eq(hw_config_parse("{\"policy\": {\"precedence\": [\"hsm\", \"a\"], \"min_security\": "
					 "{\"development\": \"external\"}, \"fallback\": {\"staging\": true}}" SLOTS,
					 "/p.json", &c, err, sizeof(err)), CKR_OK);
	ck_assert_uint_eq(c->policy->nprec, 2);
	ck_assert_str_eq(c->policy->precedence[1], "a");
	ck_assert_int_eq(c->policy->min_sec[HW_ENV_DEVELOPMENT], HW_SEC_EXTERNAL);
	ck_assert_int_eq(c->policy->min_sec[HW_ENV_PRODUCTION], HW_SEC_HARDWARE);   /* the default stays */
	ck_assert(c->policy->fallback[HW_ENV_STAGING]);
	ck_assert(!c->policy->fallback[HW_ENV_PRODUCTION]);
	ck_assert_uint_eq(c->policy->retry_max_ms, 1000);   /* the defaults */
	ck_assert_uint_eq(c->policy->retry_base_ms, 50);
	hw_config_free(c);
}
END_TEST

START_TEST(one_environment)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	/* a file without "environment": production, unless it has a policy slot */
	ck_assert_int_eq(hw_config_parse("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}]}", "/p.json", &c, err, sizeof(err)), CKR_OK);
	ck_assert(!c->env_auto);
	ck_assert_int_eq(c->environment, HW_ENV_PRODUCTION);
	hw_config_free(c);
	const char *pol = "{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}, {\"name\": \"p\", \"type\": \"policy\"}]}";
	ck_assert_int_eq(hw_config_parse(pol, "/p.json", &c, err, sizeof(err)), CKR_OK);
	ck_assert(c->env_auto);
	ck_assert_str_eq(c->env_origin, "default of a configuration with a policy slot");
	hw_config_free(c);
	/* explicit wins: the file, then the variable */
	ck_assert_int_eq(hw_config_parse("{\"environment\": \"staging\", \"slots\": [{\"name\": \"p\", \"type\": "
					 "\"policy\"}]}", "/p.json", &c, err, sizeof(err)), CKR_OK);
	ck_assert(!c->env_auto);
	ck_assert_int_eq(c->environment, HW_ENV_STAGING);
	hw_config_free(c);
	setenv("HWAGG_ENVIRONMENT", "development", 1);
	ck_assert_int_eq(hw_config_parse(pol, "/p.json", &c, err, sizeof(err)), CKR_OK);
	ck_assert(!c->env_auto);
	ck_assert_int_eq(c->environment, HW_ENV_DEVELOPMENT);
	ck_assert_str_eq(c->env_origin, "set by $HWAGG_ENVIRONMENT");
	hw_config_free(c);
}
END_TEST

/* C_Initialize with the policy slot pslot (and slot "a", soft) must fail,
 * and its log say want. */
static void init_refused(const char *policy, const char *pslot, const char *want)
{
	char path[512], log[512], buf[4096] = "";
	snprintf(path, sizeof(path), "%s/hwagg.json", dir);
	snprintf(log, sizeof(log), "%s/hwagg.log", dir);
	unlink(log);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s\", \"log\": {\"file\": \"%s\"}, %s%s"
		   "\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}, %s]}", dir, log, policy ? policy : "",
		policy ? ", " : "", pslot);
	fclose(f);
	setenv("HWAGG_CONF", path, 1);
	CK_RV rv = hw_C_Initialize(NULL);
	if (rv == CKR_OK)
		hw_C_Finalize(NULL);
	ck_assert_int_eq(rv, CKR_FUNCTION_FAILED);
	ck_assert_ptr_nonnull(f = fopen(log, "r"));
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(buf, want) != NULL, "log \"%s\" lacks \"%s\"", buf, want);
}

START_TEST(slot_errors)
{
	init_refused(NULL, "{\"name\": \"p\", \"type\": \"policy\", \"members\": [\"nosuch\"]}",
		     "members[0]: no slot of that name; expected the name of a slot that is not a policy slot");
	init_refused(NULL, "{\"name\": \"p\", \"type\": \"policy\", \"members\": [\"q\"]}, "
		     "{\"name\": \"q\", \"type\": \"policy\"}", "members[0]: a policy slot");
	init_refused("\"policy\": {\"precedence\": [\"tpm\"]}", "{\"name\": \"p\", \"type\": \"policy\"}",
		     "policy.precedence[0]: \"tpm\" is neither the name nor the type of a member of this policy slot");
	init_refused(NULL, "{\"name\": \"p\", \"type\": \"policy\", \"pin_files\": {\"a\": \"a.pin\"}}",
		     "pin_files[\"a\"]: not an absolute path");
	init_refused(NULL, "{\"name\": \"p\", \"type\": \"policy\", \"members\": []}", "no member");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy_conf");
	TCase *t = tcase_create("policy configuration");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, section_errors);
	tcase_add_test(t, section_values);
	tcase_add_test(t, one_environment);
	tcase_add_test(t, slot_errors);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
