/* Configuration: search order, shape, every error path, robustness. */
#include "module/conf.h"
#include "common/log.h"
#include "slots/backend.h"
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "/test/hwagg.json"
#define ONE_SLOT  "\"slots\":[{\"name\":\"a\",\"type\":\"soft\"}]"

static char tmpdir[512];

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/hwagg-conf-XXXXXX", t != NULL && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	unsetenv("HWAGG_CONF");
	unsetenv("HWAGG_ENVIRONMENT");
	hw_log_threshold = HW_LOG_ERROR;                 /* the default-config warning is expected */
	setenv("XDG_DATA_HOME", tmpdir, 1);
	setenv("HOME", tmpdir, 1);
}

static void teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[1024];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		if (unlink(p) != 0)
			rmdir(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
}

/* tmpdir/name, in one of a few rotating buffers. */
static const char *tmp_path(const char *name)
{
	static char buf[4][1024];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const char *text, size_t len)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return p;
}

static const char *write_slot_file(const char *name, const char *slot_name)
{
	char text[256];
	snprintf(text, sizeof(text), "{\"slots\":[{\"name\":\"%s\",\"type\":\"soft\"}]}", slot_name);
	return write_file(name, text, strlen(text));
}

static hw_config *expect_ok(const char *json)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	CK_RV rv = hw_config_parse(json, FILE_NAME, &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_OK, "%s -> 0x%lx: %s", json, (unsigned long)rv, err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* The message starts "<file>: <json path>: " and says what was expected:
 * "<what was wrong>; expected <what>", or for a JSON type
 * "expected <type>, got <type>". */
#define expect_bad(json, jpath, expect) expect_bad_at(__LINE__, (json), (jpath), (expect))
static void expect_bad_at(int where, const char *json, const char *jpath, const char *expect)
{
	char err[HW_CONFIG_ERR_LEN] = "", head[256];
	static hw_config sentinel;
	hw_config *c = &sentinel;                         /* must come back NULL */
	CK_RV rv = hw_config_parse(json, FILE_NAME, &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_ARGUMENTS_BAD, "at %d: 0x%lx for %s (%s)", where, (unsigned long)rv, json, err);
	ck_assert_msg(c == NULL, "at %d: config returned on error", where);
	snprintf(head, sizeof(head), "%s: %s: ", FILE_NAME, jpath);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "at %d: want prefix [%s], got [%s]", where, head, err);
	ck_assert_msg(strstr(err + strlen(head), "expected ") != NULL, "at %d: no expectation in [%s]", where, err);
	ck_assert_msg(strstr(err, expect) != NULL, "at %d: [%s] not in [%s]", where, expect, err);
}

/* refresh_s and timeout_ms: every slot type takes them, as integers in range */
START_TEST(test_engine_keys)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	ck_assert_uint_eq(hw_config_parse("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\", "
					  "\"refresh_s\": 30, \"timeout_ms\": 1500}]}", FILE_NAME, &c, err,
					  sizeof(err)), CKR_OK);
	ck_assert_int_eq(hw_conf_int(&c->slots[0], "refresh_s", -1), 30);
	ck_assert_int_eq(hw_conf_int(&c->slots[0], "timeout_ms", -1), 1500);
	hw_config_free(c);
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\", \"refresh_s\": -1}]}",
		   "slots[0] (\"a\").refresh_s", "expected an integer 0..86400 (seconds), got -1");
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\", \"timeout_ms\": 0}]}",
		   "slots[0] (\"a\").timeout_ms", "expected an integer 1..600000 (milliseconds), got 0");
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\", \"timeout_ms\": \"5s\"}]}",
		   "slots[0] (\"a\").timeout_ms", "expected an integer 1..600000 (milliseconds), got \"5s\"");
}
END_TEST

/* ---- valid configurations ------------------------------------------------- */

START_TEST(test_minimal)
{
	hw_config *c = expect_ok("{" ONE_SLOT "}");
	char store[1024];
	snprintf(store, sizeof(store), "%s/hwagg", tmpdir);
	ck_assert_str_eq(c->path, FILE_NAME);
	ck_assert(!c->builtin);
	ck_assert_int_eq(c->environment, HW_ENV_PRODUCTION);   /* a file fails closed */
	ck_assert_str_eq(c->store, store);
	ck_assert_int_eq(c->log_level, -1);
	ck_assert_ptr_null(c->log_file);
	ck_assert_ptr_null(c->audit.path);
	ck_assert(c->audit.enabled);
	ck_assert_int_eq(c->audit.sign_events, HW_AUDIT_SIGN_SUMMARY);
	ck_assert_int_eq(c->rotation_days, -1);
	ck_assert_uint_eq(c->nslots, 1);
	ck_assert_str_eq(c->slots[0].name, "a");
	ck_assert_str_eq(c->slots[0].type, "soft");
	ck_assert_uint_eq(c->slots[0].index, 0);
	ck_assert_ptr_nonnull(c->slots[0].json);
	ck_assert_ptr_nonnull(c->root);
	hw_config_free(c);
}
END_TEST

START_TEST(test_full)
{
	setenv("HWAGG_T_DIR", "/var/lib/t", 1);
	hw_config *c = expect_ok(
		"{\"environment\": \"staging\", \"store\": \"${HWAGG_T_DIR}/store\",\n"
		" \"log\": {\"level\": \"debug\", \"file\": \"~/hwagg.log\"},\n"
		" \"audit\": {\"path\": \"$HWAGG_T_DIR/audit.jsonl\", \"syslog\": true, \"sign_events\": \"each\",\n"
		"           \"checkpoint_key\": \"pkcs11:token=dev;object=cp\", \"checkpoint_seconds\": 60},\n"
		" \"rotation\": {\"interval_days\": 30, \"retire\": \"disable\"},\n"
		" \"slots\": [{\"name\": \"dev\", \"type\": \"soft\", \"pin_max_tries\": 5},\n"
		"           {\"type\": \"soft\", \"name\": \"cl\xc3\xa9 2\", \"pin_min_len\": 6, \"pin_max_len\": 64}]}");
	char log[1024];
	snprintf(log, sizeof(log), "%s/hwagg.log", tmpdir);
	ck_assert_int_eq(c->environment, HW_ENV_STAGING);
	ck_assert_str_eq(c->store, "/var/lib/t/store");
	ck_assert_int_eq(c->log_level, HW_LOG_DEBUG);
	ck_assert_str_eq(c->log_file, log);
	ck_assert_str_eq(c->audit.path, "/var/lib/t/audit.jsonl");
	ck_assert(c->audit.syslog);
	ck_assert_int_eq(c->audit.sign_events, HW_AUDIT_SIGN_EACH);
	ck_assert_str_eq(c->audit.checkpoint_key, "pkcs11:token=dev;object=cp");
	ck_assert_uint_eq(c->audit.checkpoint_seconds, 60);
	ck_assert_uint_eq(c->audit.checkpoint_every, 0);
	ck_assert_int_eq(c->rotation_days, 30);
	ck_assert(c->rotation_disable);
	ck_assert_uint_eq(c->nslots, 2);
	ck_assert_str_eq(c->slots[1].name, "cl\xc3\xa9 2");
	ck_assert_uint_eq(c->slots[1].index, 1);
	ck_assert_int_eq(hw_conf_int(&c->slots[0], "pin_max_tries", 10), 5);
	ck_assert_int_eq(hw_conf_int(&c->slots[1], "pin_max_tries", 10), 10);
	ck_assert_int_eq(hw_conf_int(&c->slots[1], "pin_max_len", 0), 64);
	ck_assert_str_eq(hw_conf_str(&c->slots[0], "name", "x"), "dev");
	ck_assert_str_eq(hw_conf_str(&c->slots[0], "pin_max_tries", "x"), "x");   /* wrong type */
	ck_assert_str_eq(hw_conf_str(&c->slots[0], "missing", "dflt"), "dflt");
	ck_assert(hw_conf_bool(&c->slots[0], "missing", true));
	ck_assert(!hw_conf_bool(&c->slots[0], "name", false));
	ck_assert_int_eq(hw_conf_int(NULL, "pin_max_tries", 7), 7);
	ck_assert_ptr_null(hw_conf_str(NULL, "name", NULL));
	hw_config_free(c);
}
END_TEST

START_TEST(test_name_limits_ok)
{
	hw_config *c = expect_ok("{\"slots\":[{\"name\":\"0123456789abcdef0123456789abcdef\",\"type\":\"soft\"},"
				 "{\"name\":\"\xe2\x82\xac uro\",\"type\":\"soft\"}]}");
	ck_assert_uint_eq(strlen(c->slots[0].name), 32);
	hw_config_free(c);
	c = expect_ok("\xef\xbb\xbf{" ONE_SLOT "}\n\n");     /* BOM and trailing space are fine */
	hw_config_free(c);
}
END_TEST

START_TEST(test_error_buffer)
{
	hw_config *c = NULL;
	char small[12];
	ck_assert_uint_eq(hw_config_parse("{", FILE_NAME, &c, NULL, 0), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(hw_config_parse("{", FILE_NAME, &c, small, sizeof(small)), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_uint_eq(hw_config_parse(NULL, FILE_NAME, &c, small, sizeof(small)), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(hw_config_parse("{}", FILE_NAME, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	char err[HW_CONFIG_ERR_LEN];
	ck_assert_uint_eq(hw_config_parse("[]", NULL, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_msg(strncmp(err, "<built-in>: top level: ", 23) == 0, "%s", err);
	hw_config_free(NULL);
}
END_TEST

/* ---- one error path per row ---------------------------------------------- */

#define SLOT(extra) "{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"" extra "}]}"
#define NAMED(name) "{\"slots\": [{\"name\": " name ", \"type\": \"soft\"}]}"

/* env: space-separated NAME=value to set or -NAME to unset first. */
static const struct bad_case {
	const char *json, *path, *expect, *env;
} bad_cases[] = {
	/* JSON syntax: line and column */
	{ "{\n  \"slots\": [1,]\n}", "line 2", "trailing comma is not allowed in JSON; expected no comma before ]", NULL },
	{ "{\n  \"slots\": [],\n\n}", "line 2", "trailing comma is not allowed in JSON; expected no comma before }", NULL },
	{ "{\n // dev\n" ONE_SLOT "}", "line 2", "comments are not allowed in JSON; expected plain JSON without // comments", NULL },
	{ "{\n  \"slots\": [1 2]\n}", "line 2, column 15", "array value separator ',' expected; expected a JSON object", NULL },
	{ "{\"\xc3\xa9\xc3\xa9\": 1 x}", "line 1, column 10", "expected a JSON object", NULL },
	{ "{" ONE_SLOT "} {}", "line 1, column 40", "expected a JSON object", NULL },
	{ "", "line 1, column 1", "empty file; expected", NULL },
	{ " \n\t", "line 2, column 2", "empty file; expected", NULL },
	{ "{\"slots\": [\n", "line 2, column 1", "unexpected end of file; expected", NULL },
	{ "/* c */ {" ONE_SLOT "}", "line 1", "comments are not allowed in JSON; expected plain JSON without /* */ comments", NULL },
	{ "{\"slots\": \"\xff\"}", "line 1, column 12", "utf-8", NULL },
	/* top level */
	{ "[]", "top level", "expected an object, got an array", NULL },
	{ "null", "top level", "expected an object, got null", NULL },
	{ "{" ONE_SLOT ", \"enviroment\": \"production\"}", "enviroment",
	  "unknown key; did you mean \"environment\"? expected one of environment, store, log, audit, rotation, policy, slots", NULL },
	{ "{\"rotation\": {\"interval_days\": -1}, " ONE_SLOT "}", "rotation.interval_days",
	  "expected an integer 0..36500 (days; 0 is never), got -1", NULL },
	{ "{\"rotation\": {\"days\": 3}, " ONE_SLOT "}", "rotation.days",
	  "unknown key; expected one of interval_days, retire", NULL },
	{ "{\"rotation\": {\"retire\": \"delete\"}, " ONE_SLOT "}", "rotation.retire",
	  "expected one of destroy, disable, got \"delete\"", NULL },
	{ "{\"a \\\"b\\n\": 1}", "[\"a \\\"b\\u000a\"]", "unknown key; expected one of environment", NULL },
	{ "{\"environment\": 1, " ONE_SLOT "}", "environment", "expected one of production, staging, development, auto, got 1", NULL },
	{ "{\"environment\": \"prod\", " ONE_SLOT "}", "environment",
	  "expected one of production, staging, development, auto, got \"prod\"", NULL },
	{ "{" ONE_SLOT "}", "$HWAGG_ENVIRONMENT",
	  "expected one of production, staging, development, auto, got \"Prod\\u000a\"",
	  "HWAGG_ENVIRONMENT=Prod\n" },
	/* store and the other paths */
	{ "{\"store\": true, " ONE_SLOT "}", "store", "expected a string, got true", NULL },
	{ "{\"store\": \"var/hwagg\", " ONE_SLOT "}", "store", "expected a path starting with /", NULL },
	{ "{\"store\": \"~user/x\", " ONE_SLOT "}", "store", "expected a path starting with /", NULL },
	{ "{\"store\": \"\", " ONE_SLOT "}", "store", "\"\" is not an absolute path", NULL },
	{ "{\"store\": \"/a\\u0000b\", " ONE_SLOT "}", "store", "NUL character (\\u0000); expected", NULL },
	{ "{\"store\": \"/x/${HWAGG_T_UNSET}/y\", " ONE_SLOT "}", "store",
	  "undefined variable $HWAGG_T_UNSET; expected it to be set", "-HWAGG_T_UNSET" },
	{ "{\"store\": \"$HWAGG_T_UNSET\", " ONE_SLOT "}", "store", "undefined variable $HWAGG_T_UNSET;",
	  "-HWAGG_T_UNSET" },
	{ "{\"store\": \"/x/${HOME\", " ONE_SLOT "}", "store", "expected ${NAME}", NULL },
	{ "{\"store\": \"/x/${}\", " ONE_SLOT "}", "store", "bad variable reference at byte 4", NULL },
	{ "{\"store\": \"/x/${A-B}\", " ONE_SLOT "}", "store", "expected ${NAME}", NULL },
	{ "{\"store\": \"~/x\", " ONE_SLOT "}", "store", "undefined variable $HOME (for ~)", "-HOME" },
	{ "{" ONE_SLOT "}", "store", "neither $XDG_DATA_HOME nor $HOME", "-HOME -XDG_DATA_HOME" },
	{ "{\"log\": \"debug\", " ONE_SLOT "}", "log", "expected an object, got \"debug\"", NULL },
	{ "{\"log\": {\"lvl\": \"debug\"}, " ONE_SLOT "}", "log.lvl", "unknown key; did you mean \"level\"? expected one of level, file", NULL },
	{ "{\"log\": {\"level\": \"verbose\"}, " ONE_SLOT "}", "log.level",
	  "expected one of error, warn, info, debug, got \"verbose\"", NULL },
	{ "{\"log\": {\"level\": 3}, " ONE_SLOT "}", "log.level", "expected a string, got 3", NULL },
	{ "{\"log\": {\"file\": \"hwagg.log\"}, " ONE_SLOT "}", "log.file", "expected a path starting with /", NULL },
	{ "{\"audit\": {\"paht\": \"/x\"}, " ONE_SLOT "}", "audit.paht", "unknown key; did you mean \"path\"? expected one of enabled, "
	  "path, file, syslog, sign_events, checkpoint_key, checkpoint_every, checkpoint_seconds", NULL },
	{ "{\"audit\": {\"sign_events\": \"all\"}, " ONE_SLOT "}", "audit.sign_events",
	  "expected one of summary, each, got \"all\"", NULL },
	{ "{\"audit\": {\"syslog\": \"yes\"}, " ONE_SLOT "}", "audit.syslog", "expected a boolean (true or false), got \"yes\"", NULL },
	{ "{\"audit\": {\"checkpoint_every\": -1, \"checkpoint_key\": \"pkcs11:token=a\"}, " ONE_SLOT "}",
	  "audit.checkpoint_every", "expected an integer 0..1000000000 (records; 0 is off), got -1", NULL },
	{ "{\"audit\": {\"checkpoint_every\": 10}, " ONE_SLOT "}", "audit.checkpoint_key",
	  "missing; expected the URI of the key that signs checkpoints", NULL },
	{ "{\"audit\": {\"checkpoint_key\": \"token=a\"}, " ONE_SLOT "}", "audit.checkpoint_key",
	  "\"token=a\" is not a PKCS#11 URI", NULL },
	{ "{\"audit\": [], " ONE_SLOT "}", "audit", "expected an object, got an array", NULL },
	{ "{\"audit\": {\"file\": []}, " ONE_SLOT "}", "audit.file", "expected a string, got an array", NULL },
	/* slots */
	{ "{\"environment\": \"development\"}", "slots",
	  "missing required key; expected a non-empty array of slot objects", NULL },
	{ "{\"slots\": {\"name\": \"a\"}}", "slots", "expected an array, got an object", NULL },
	{ "{\"slots\": []}", "slots", "empty array; expected at least one slot", NULL },
	{ "{\"slots\": [{\"name\":\"a\",\"type\":\"soft\"}, 1]}", "slots[1]", "expected an object, got 1", NULL },
	{ "{\"slots\": [{\"name\": \"a\"}]}", "slots[0] (\"a\").type", "missing required key; expected one of soft, hsm", NULL },
	{ "{\"slots\": [{\"name\": \"a\", \"type\": 5}]}", "slots[0] (\"a\").type", "expected one of soft, hsm", NULL },
	{ "{\"slots\": [{\"name\": \"a\", \"type\": \"floppy\"}]}", "slots[0] (\"a\").type",
	  "unknown slot type \"floppy\"; expected one of soft, hsm", NULL },
	{ "{\"slots\":[{\"type\":\"soft\",\"x.y\":1}]}", "slots[0][\"x.y\"]", "unknown key; expected one of name, type", NULL },
	{ "{\"slots\": [{\"type\": \"soft\"}]}", "slots[0].name", "missing required key; expected a slot name", NULL },
	{ NAMED("7"), "slots[0].name", "expected a string, got 7", NULL },
	{ NAMED("\"\""), "slots[0].name", "empty; expected 1 to 32 bytes", NULL },
	{ NAMED("\"0123456789abcdef0123456789abcdefX\""), "slots[0].name",
	  "longer than 32 bytes; expected 1 to 32 bytes", NULL },
	{ NAMED("\"\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\\u20ac\""), "slots[0].name",
	  "longer than 32 bytes", NULL },                 /* 11 x 3 bytes */
	{ NAMED("\"a\\u0007b\""), "slots[0].name", "control character U+0007 at byte 2; expected printable", NULL },
	{ NAMED("\"a\\u0085\""), "slots[0].name", "control character U+0085", NULL },
	{ NAMED("\"a\\tb\""), "slots[0].name", "control character U+0009", NULL },
	{ NAMED("\"ab\\u0000\""), "slots[0].name", "NUL character", NULL },
	{ NAMED("\"ab \""), "slots[0].name", "ends with a space; expected a name without trailing spaces", NULL },
	{ "{\"slots\": [{\"name\": \"prod\", \"type\": \"soft\"}, {\"name\": \"dev\", \"type\": \"soft\"},"
	  " {\"name\": \"prod\", \"type\": \"soft\"}]}", "slots[2].name",
	  "duplicate slot name \"prod\" (also slots[0]); expected a unique name", NULL },
	/* backend keys, typed by the backend's conf_keys */
	{ SLOT(", \"pin_max_tries\": \"5\""), "slots[0] (\"a\").pin_max_tries", "expected an integer 1..1000, got \"5\"", NULL },
	{ SLOT(", \"pin_min_len\": 4.5"), "slots[0] (\"a\").pin_min_len", "expected an integer 1..255 (bytes), got 4.5",
	  NULL },
	{ SLOT(", \"pin_min_len\": 1e999"), "slots[0] (\"a\").pin_min_len", "expected an integer", NULL },
	{ SLOT(", \"pin_max_len\": 99999999999999999999"), "slots[0] (\"a\").pin_max_len",
	  "out of range; expected a signed 64-bit integer", NULL },
	{ SLOT(", \"pin_max_len\": -99999999999999999999"), "slots[0] (\"a\").pin_max_len", "signed 64-bit integer", NULL },
	{ SLOT(", \"pin_max_len\": null"), "slots[0] (\"a\").pin_max_len", "expected an integer 1..255 (bytes), got null", NULL },
	/* the mechanism policy, every slot type */
	{ SLOT(", \"rsa_min_bits\": \"2048\""), "slots[0] (\"a\").rsa_min_bits", "expected an integer 1024..4096 (modulus bits), got \"2048\"", NULL },
	{ SLOT(", \"rsa_min_bits\": 512"), "slots[0] (\"a\").rsa_min_bits",
	  "expected an integer 1024..4096 (modulus bits), got 512", NULL },
	{ SLOT(", \"rsa_min_bits\": 8192"), "slots[0] (\"a\").rsa_min_bits", "expected an integer 1024..4096 (modulus bits), got 8192", NULL },
	{ SLOT(", \"mechanisms\": [\"CKM_ECDSA\"]"), "slots[0] (\"a\").mechanisms", "expected an object, got an array", NULL },
	{ SLOT(", \"mechanisms\": {\"permit\": []}"), "slots[0] (\"a\").mechanisms.permit",
	  "unknown key; expected one of allow, deny", NULL },
	{ SLOT(", \"mechanisms\": {\"deny\": \"CKM_RSA_PKCS\"}"), "slots[0] (\"a\").mechanisms.deny",
	  "expected an array, got \"CKM_RSA_PKCS\"", NULL },
	{ SLOT(", \"mechanisms\": {\"allow\": []}"), "slots[0] (\"a\").mechanisms.allow",
	  "empty array; expected at least one mechanism name", NULL },
	{ SLOT(", \"mechanisms\": {\"allow\": [\"CKM_ECDSA\", 7]}"), "slots[0] (\"a\").mechanisms.allow[1]",
	  "expected a string, got 7", NULL },
	{ SLOT(", \"mechanisms\": {\"deny\": [\"CKM_RSA_PKCS\", \"CKM_RSA_PCKS\"]}"), "slots[0] (\"a\").mechanisms.deny[1]",
	  "unknown mechanism \"CKM_RSA_PCKS\"; expected a mechanism hwagg implements", NULL },
	{ SLOT(", \"mechanisms\": {\"allow\": [\"ckm_ecdsa\"]}"), "slots[0] (\"a\").mechanisms.allow[0]",
	  "unknown mechanism \"ckm_ecdsa\"", NULL },
	{ SLOT(", \"mechanisms\": {\"deny\": [\"CKM_AES_CCM\"]}"), "slots[0] (\"a\").mechanisms.deny[0]",
	  "unknown mechanism \"CKM_AES_CCM\"", NULL },
};

static void apply_env(const char *env)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", env != NULL ? env : "");
	for (char *t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (t[0] == '-') {
			unsetenv(t + 1);
		} else if (eq != NULL) {
			*eq = '\0';
			setenv(t, eq + 1, 1);
		}
	}
}

START_TEST(test_bad)
{
	const struct bad_case *b = &bad_cases[_i];
	apply_env(b->env);
	expect_bad_at(_i, b->json, b->path, b->expect);
}
END_TEST

/* hw_config_load_file: content errors are CKR_ARGUMENTS_BAD, named by path */
START_TEST(test_load_file_errors)
{
	static const char nul[] = "{\n \"slots\"\0: []}";
	size_t n = 1024 * 1024 + 10;
	char *big = malloc(n), err[HW_CONFIG_ERR_LEN] = "", head[1200];
	const char *p = write_file("nul.json", nul, sizeof(nul) - 1);
	hw_config *c = NULL;

	ck_assert_uint_eq(hw_config_load_file(p, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	snprintf(head, sizeof(head), "%s: line 2, column 9: NUL byte; expected", p);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
	p = write_file("empty-slots.json", "{\"slots\": []}", 13);
	ck_assert_uint_eq(hw_config_load_file(p, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	snprintf(head, sizeof(head), "%s: slots: empty array; expected", p);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	p = write_file("big.json", big, n);
	ck_assert_uint_eq(hw_config_load_file(p, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	snprintf(head, sizeof(head), "%s: size: larger than 1048576 bytes; expected", p);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "%s", err);
	big[n - 1] = '\0';
	ck_assert_uint_eq(hw_config_parse(big, FILE_NAME, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_nonnull(strstr(err, FILE_NAME ": size: larger than"));
	ck_assert_uint_eq(hw_config_load_file(NULL, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_null(c);
	free(big);
}
END_TEST

/* "expected one of <every registry type>" for a missing and an unknown type */
/* Types come from the registry: all are listed; those this build leaves out
 * name their configure switch. */
START_TEST(test_slot_type_registry)
{
	char all[512], json[256], want[256], other[256] = "";
	size_t n = 0, o = (size_t)snprintf(all, sizeof(all), "expected one of "), oo = 0;
	const hw_backend_entry *t = hw_backend_table(&n), *az = hw_backend_find("azure-kv");
	/* the types of this build, then those it knows but leaves out */
	for (size_t i = 0; i < n; i++) {
		if (hw_backend_available(&t[i]))
			o += (size_t)snprintf(all + o, sizeof(all) - o, "%s%s", o > 16 ? ", " : "", t[i].type);
		else
			oo += (size_t)snprintf(other + oo, sizeof(other) - oo, "%s%s", oo ? ", " : "", t[i].type);
	}
	if (oo > 0)
		snprintf(all + o, sizeof(all) - o, " (known but not built into this module: %s)", other);
	expect_bad("{\"slots\": [{\"name\": \"a\"}]}", "slots[0] (\"a\").type", all);
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"floppy\"}]}", "slots[0] (\"a\").type", all);
	for (size_t i = 0; i < n; i++) {
		const char *sw = t[i].configure_switch;
		bool paren = sw != NULL && sw[0] == '(';
		if (hw_backend_available(&t[i]))
			continue;
		snprintf(json, sizeof(json), "{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"},"
			 " {\"name\": \"b\", \"type\": \"%s\"}]}", t[i].type);
		snprintf(want, sizeof(want), "\"%s\" is not built into this module%s%s%s; expected", t[i].type,
			 sw == NULL ? "" : paren ? " " : " (configure ", sw != NULL ? sw : "",
			 sw == NULL || paren ? "" : ")");
		expect_bad(json, "slots[1] (\"b\").type", want);
		expect_bad(json, "slots[1] (\"b\").type", "expected a type this build includes: soft");
	}
	/* a cloud type follows the kms switch: built with it, else named with it */
	ck_assert(az != NULL && az->configure_switch != NULL && strcmp(az->configure_switch, "--with-kms") == 0);
#if WITH_KMS
	ck_assert(hw_backend_available(az));
#else
	ck_assert(!hw_backend_available(az));
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}, {\"name\": \"b\", \"type\": \"azure-kv\"}]}",
		   "slots[1] (\"b\").type", "\"azure-kv\" is not built into this module (configure --with-kms)");
#endif
}
END_TEST

/* Backend keys come from conf_keys: unknown ones list them, and a backend's
 * required keys (none of the built ones may have any yet) must be present. */
START_TEST(test_backend_keys)
{
	char want[512], json[256], jpath[128];
	size_t n = 0, o = (size_t)snprintf(want, sizeof(want),
					   "unknown key; did you mean \"name\"? expected one of name, type, rsa_min_bits, mechanisms, "
					   "refresh_s, timeout_ms, allow_import");
	const hw_backend_entry *soft = hw_backend_find("soft"), *t = hw_backend_table(&n);
	ck_assert(soft != NULL && soft->ops != NULL);
	for (const hw_conf_key *k = soft->conf_keys; k != NULL && k->name != NULL; k++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, ", %s", k->name);
	expect_bad("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}, {\"name\": \"b\", \"type\": \"soft\"},"
		   " {\"nmae\": \"c\", \"type\": \"soft\"}]}", "slots[2].nmae", want);
	for (size_t i = 0; i < n; i++) {
		const hw_conf_key *k = hw_backend_available(&t[i]) ? t[i].conf_keys : NULL;
		while (k != NULL && k->name != NULL && !k->required)
			k++;
		if (k == NULL || k->name == NULL)
			continue;
		snprintf(json, sizeof(json), "{\"slots\": [{\"name\": \"a\", \"type\": \"%s\"}]}", t[i].type);
		snprintf(jpath, sizeof(jpath), "slots[0] (\"a\").%s", k->name);
		snprintf(want, sizeof(want), "missing required key for type \"%s\"; expected", t[i].type);
		expect_bad(json, jpath, want);
	}
}
END_TEST

/* ---- environment ---------------------------------------------------------- */

START_TEST(test_environment_override)
{
	hw_config *c;
	setenv("HWAGG_ENVIRONMENT", "development", 1);
	c = expect_ok("{" ONE_SLOT "}");
	ck_assert_int_eq(c->environment, HW_ENV_DEVELOPMENT);
	hw_config_free(c);
	setenv("HWAGG_ENVIRONMENT", "staging", 1);
	c = expect_ok("{\"environment\": \"production\", " ONE_SLOT "}");
	ck_assert_int_eq(c->environment, HW_ENV_STAGING);
	hw_config_free(c);
	setenv("HWAGG_ENVIRONMENT", "", 1);              /* empty = unset */
	c = expect_ok("{\"environment\": \"development\", " ONE_SLOT "}");
	ck_assert_int_eq(c->environment, HW_ENV_DEVELOPMENT);
	hw_config_free(c);
}
END_TEST

START_TEST(test_default_store_xdg_and_home)
{
	hw_config *c;
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	setenv("HOME", "/home/u", 1);
	c = expect_ok("{" ONE_SLOT "}");
	ck_assert_str_eq(c->store, "/xdg/data/hwagg");
	hw_config_free(c);
	unsetenv("XDG_DATA_HOME");
	c = expect_ok("{" ONE_SLOT "}");
	ck_assert_str_eq(c->store, "/home/u/.local/share/hwagg");
	hw_config_free(c);
	setenv("XDG_DATA_HOME", "relative", 1);          /* ignored, per the XDG spec */
	c = expect_ok("{" ONE_SLOT "}");
	ck_assert_str_eq(c->store, "/home/u/.local/share/hwagg");
	hw_config_free(c);
	unsetenv("HOME");
	unsetenv("XDG_DATA_HOME");
	ck_assert_ptr_null(hw_config_default());         /* no store: no default either */
}
END_TEST

START_TEST(test_expansion)
{
	hw_config *c;
	setenv("HOME", "/home/u", 1);
	setenv("HWAGG_T_A", "/opt", 1);
	setenv("HWAGG_T_B", "x", 1);
	c = expect_ok("{\"store\": \"${HWAGG_T_A}/$HWAGG_T_B-y/${HWAGG_T_B}z\", \"log\": {\"file\": \"~\"},"
		      " \"audit\": {\"file\": \"~/a~/$HWAGG_T_B\"}, " ONE_SLOT "}");
	ck_assert_str_eq(c->store, "/opt/x-y/xz");
	ck_assert_str_eq(c->log_file, "/home/u");
	ck_assert_str_eq(c->audit.path, "/home/u/a~/x");
	hw_config_free(c);
	c = expect_ok("{\"store\": \"/a$/b$1/$-c\", " ONE_SLOT "}");   /* no name: kept */
	ck_assert_str_eq(c->store, "/a$/b$1/$-c");
	hw_config_free(c);
}
END_TEST

/* ---- built-in default and search order ------------------------------------ */

START_TEST(test_default)
{
	char store[1024];
	snprintf(store, sizeof(store), "%s/hwagg", tmpdir);
	setenv("HWAGG_ENVIRONMENT", "production", 1);     /* hw_config_default ignores it */
	hw_config *c = hw_config_default();
	ck_assert_ptr_nonnull(c);
	ck_assert(c->builtin);
	ck_assert_ptr_null(c->path);
	ck_assert_int_eq(c->environment, HW_ENV_DEVELOPMENT);
	ck_assert_str_eq(c->store, store);
	ck_assert_uint_eq(c->nslots, 1);
	ck_assert_str_eq(c->slots[0].name, "hwagg-dev");
	ck_assert_str_eq(c->slots[0].type, "soft");
	ck_assert_ptr_nonnull(c->slots[0].json);
	hw_config_free(c);
	ck_assert_str_eq(hw_env_name(HW_ENV_DEVELOPMENT), "development");
	ck_assert_str_eq(hw_env_name(HW_ENV_STAGING), "staging");
	ck_assert_str_eq(hw_env_name(HW_ENV_PRODUCTION), "production");
	ck_assert_str_eq(hw_env_name((hw_env)42), "unknown");
}
END_TEST

static hw_config *load_from(const char *reserved, const char *system_path)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	CK_RV rv = hw_config_load_from(reserved, system_path, &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_OK, "0x%lx: %s", (unsigned long)rv, err);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Loads and checks which source won: its first slot's name and its path. */
static void expect_from(const char *reserved, const char *system_path, const char *name, const char *path)
{
	hw_config *c = load_from(reserved, system_path);
	ck_assert_str_eq(c->slots[0].name, name);
	if (path != NULL)
		ck_assert_str_eq(c->path, path);
	else
		ck_assert(c->builtin && c->path == NULL && c->environment == HW_ENV_DEVELOPMENT);
	hw_config_free(c);
}

/* reserved config= > $HWAGG_CONF > system file > built-in default */
START_TEST(test_search_order)
{
	char reserved[1200], under_file[1200];
	const char *a = write_slot_file("a.json", "from-reserved");
	const char *b = write_slot_file("b.json", "from-env");
	const char *s = write_slot_file("s.json", "from-system");
	snprintf(reserved, sizeof(reserved), "x-opt=1, config=%s,other", a);
	snprintf(under_file, sizeof(under_file), "%s/hwagg.json", s);      /* ENOTDIR: absent */
	setenv("HWAGG_CONF", b, 1);
	expect_from(reserved, s, "from-reserved", a);
	expect_from("unrelated tokens,configx=/nope", s, "from-env", b);
	expect_from(NULL, s, "from-env", b);
	unsetenv("HWAGG_CONF");
	expect_from(NULL, s, "from-system", s);
	setenv("HWAGG_CONF", "", 1);                     /* empty = unset */
	expect_from("", s, "from-system", s);
	expect_from(NULL, tmp_path("absent.json"), "hwagg-dev", NULL);
	expect_from(NULL, under_file, "hwagg-dev", NULL);
	expect_from(NULL, NULL, "hwagg-dev", NULL);
}
END_TEST

/* content errors of the load itself: $HWAGG_ENVIRONMENT on the default, config= */
START_TEST(test_load_errors)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c;
	setenv("HWAGG_ENVIRONMENT", "staging", 1);
	c = load_from(NULL, NULL);
	ck_assert(c->builtin);
	ck_assert_int_eq(c->environment, HW_ENV_STAGING);
	hw_config_free(c);
	setenv("HWAGG_ENVIRONMENT", "qa", 1);
	c = NULL;
	ck_assert_uint_eq(hw_config_load_from(NULL, NULL, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_null(c);
	ck_assert_msg(strncmp(err, "<built-in>: $HWAGG_ENVIRONMENT: expected one of production, staging, development, auto, got \"qa\"", 96) == 0,
		      "%s", err);
	ck_assert_uint_eq(hw_config_load_from("a=1,config=", NULL, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_msg(strstr(err, "x-init-reserved): config= has an empty path; expected one config=PATH"), "%s", err);
	ck_assert_uint_eq(hw_config_load_from("config=/a config=/b", NULL, &c, err, sizeof(err)), CKR_ARGUMENTS_BAD);
	ck_assert_msg(strstr(err, "x-init-reserved): config= given twice; expected"), "%s", err);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_public_load)
{
	const char *b = write_slot_file("b.json", "from-env");
	struct stat st;
	hw_config *c = NULL;
	char err[HW_CONFIG_ERR_LEN] = "";
	setenv("HWAGG_CONF", b, 1);
	ck_assert_uint_eq(hw_config_load(NULL, &c, err, sizeof(err)), CKR_OK);
	ck_assert_str_eq(c->slots[0].name, "from-env");
	hw_config_free(c);
	unsetenv("HWAGG_CONF");
	if (stat(HW_SYSTEM_CONF, &st) != 0 && errno == ENOENT) {
		ck_assert_uint_eq(hw_config_load(NULL, &c, err, sizeof(err)), CKR_OK);
		ck_assert(c->builtin);
		hw_config_free(c);
	}
}
END_TEST

static void expect_unreadable(const char *reserved, const char *system_path, const char *path,
			      const char *why, const char *origin)
{
	char err[HW_CONFIG_ERR_LEN] = "", head[1200];
	hw_config *c = NULL;
	CK_RV rv = hw_config_load_from(reserved, system_path, &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_FUNCTION_FAILED, "0x%lx: %s", (unsigned long)rv, err);
	ck_assert_ptr_null(c);
	snprintf(head, sizeof(head), "%s: cannot read: %s; expected", path, why);
	ck_assert_msg(strncmp(err, head, strlen(head)) == 0, "want [%s] got [%s]", head, err);
	ck_assert_msg(strstr(err, origin) != NULL, "%s not in %s", origin, err);
}

START_TEST(test_explicit_unreadable)
{
	char reserved[1200];
	const char *missing = tmp_path("missing.json");
	const char *s = write_slot_file("s.json", "from-system");
	snprintf(reserved, sizeof(reserved), "config=%s", missing);
	expect_unreadable(reserved, s, missing, strerror(ENOENT), "x-init-reserved");
	setenv("HWAGG_CONF", missing, 1);
	expect_unreadable(NULL, s, missing, strerror(ENOENT), "$HWAGG_CONF");
	setenv("HWAGG_CONF", tmpdir, 1);
	expect_unreadable(NULL, s, tmpdir, strerror(EISDIR), "$HWAGG_CONF");
	setenv("HWAGG_CONF", "/dev/null", 1);
	expect_unreadable(NULL, s, "/dev/null", "not a regular file", "$HWAGG_CONF");
}
END_TEST

START_TEST(test_system_unreadable)
{
	const char *dir = tmp_path("etc-dir");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	expect_unreadable(NULL, dir, dir, strerror(EISDIR), "system");
	if (geteuid() != 0) {                             /* root reads anything */
		const char *s = write_slot_file("locked.json", "x");
		ck_assert_int_eq(chmod(s, 0), 0);
		expect_unreadable(NULL, s, s, strerror(EACCES), "system");
	}
}
END_TEST

/* ---- shipped examples ----------------------------------------------------- */

START_TEST(test_examples)
{
	const char *src = getenv("HWAGG_SRCDIR");
	char dir[1024], path[2048], err[HW_CONFIG_ERR_LEN];
	size_t count = 0;
	bool minimal = false;
	snprintf(dir, sizeof(dir), "%s/conf/examples", src != NULL && *src ? src : ".");
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		hw_config *c = NULL;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		CK_RV rv = hw_config_load_file(path, &c, err, sizeof(err));
		if (strcmp(e->d_name, "minimal-dev.json") == 0) {
			ck_assert_msg(rv == CKR_OK, "%s", err);
			ck_assert_int_eq(c->environment, HW_ENV_DEVELOPMENT);
			minimal = true;
		} else {
			/* Passes once the backend it uses is built in. */
			ck_assert_msg(rv == CKR_OK || (rv == CKR_ARGUMENTS_BAD &&
				      strstr(err, "is not built into this module") != NULL), "%s", err);
		}
		hw_config_free(c);
		count++;
	}
	closedir(d);
	ck_assert(minimal);
	ck_assert_uint_ge(count, 3);
}
END_TEST

/* ---- robustness ----------------------------------------------------------- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void parse_any(const char *text)
{
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *c = NULL;
	CK_RV rv = hw_config_parse(text, FILE_NAME, &c, err, sizeof(err));
	ck_assert_msg(rv == CKR_OK || rv == CKR_ARGUMENTS_BAD, "0x%lx for %s", (unsigned long)rv, text);
	if (rv == CKR_OK)
		ck_assert_ptr_nonnull(c);
	else
		ck_assert_msg(c == NULL && strncmp(err, FILE_NAME ": ", strlen(FILE_NAME) + 2) == 0 &&
			      strstr(err, "expected") != NULL, "%s", err);
	hw_config_free(c);
}

START_TEST(test_fuzz)
{
	static const char seed[] =
		"{\"environment\":\"staging\",\"store\":\"${HOME}/s\",\"log\":{\"level\":\"info\",\"file\":\"~/l\"},"
		"\"audit\":{\"file\":\"/a\"},\"slots\":[{\"name\":\"a\",\"type\":\"soft\",\"pin_max_tries\":3},"
		"{\"name\":\"b\",\"type\":\"tpm\"},{\"name\":\"\\u00e9\\n\",\"type\":\"soft\"}]}";
	static const char alphabet[] = "{}[]\",:\\0123456789eE.-+ truefalsn$~/u\x01\x7f\xc3\xa9\xff\xf0";
	char buf[sizeof(seed) + 64];
	size_t len = sizeof(seed) - 1;

	for (size_t cut = 0; cut <= len; cut++) {        /* every prefix */
		memcpy(buf, seed, cut);
		buf[cut] = '\0';
		parse_any(buf);
	}
	for (int iter = 0; iter < 4000; iter++) {        /* random edits */
		size_t n = len;
		memcpy(buf, seed, len + 1);
		for (int k = 1 + (int)(rnd() % 4); k > 0; k--) {
			size_t at = rnd() % n;
			char ch = alphabet[rnd() % (sizeof(alphabet) - 1)];
			uint32_t op = rnd() % 3;                 /* replace, insert, delete */
			if (op == 1 && n + 1 < sizeof(buf))
				memmove(buf + at + 1, buf + at, n++ - at + 1);
			else if (op == 2)
				memmove(buf + at, buf + at + 1, n-- - at);
			if (op != 2)
				buf[at] = ch;
		}
		parse_any(buf);
	}
}
END_TEST

/* pre, n copies of ch, post */
static const char *build(char *buf, const char *pre, char ch, size_t n, const char *post)
{
	size_t o = strlen(pre);
	memcpy(buf, pre, o);
	memset(buf + o, ch, n);
	strcpy(buf + o + n, post);
	return buf;
}

START_TEST(test_hostile_values)
{
	static char big[8192];
	expect_bad(build(big, "", '[', 4000, ""), "line 1, column 33", "nesting too deep");
	expect_bad(build(big, "{\"store\": \"/", 'a', 5000, "\", " ONE_SLOT "}"), "store",
		   "not an absolute path of at most");       /* > PATH_MAX */
	expect_bad(build(big, "{\"store\": \"/$", 'V', 3000, "\", " ONE_SLOT "}"), "store",
		   "undefined variable $VVVV");
	expect_bad(build(big, "{\"", 'k', 3000, "\": 1, " ONE_SLOT "}"),
		   "[\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\"]", "unknown key");
	parse_any("{\"slots\":[{\"name\":\"a\",\"type\":\"soft\",\"pin_max_tries\":-0}]}");
	parse_any("{\"slots\":[{\"name\":\"a\",\"type\":\"soft\\u0000x\"}]}");
	parse_any("{\"slots\":[{\"name\":\"a\",\"type\":\"soft\",\"pin_max_tries\":{\"a\":[[[[[[1]]]]]]}}]}");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_bad, 0, (int)HW_ARRAY_LEN(bad_cases));
	tcase_add_test(tc, test_minimal);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_name_limits_ok);
	tcase_add_test(tc, test_error_buffer);
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_slot_type_registry);
	tcase_add_test(tc, test_backend_keys);
	tcase_add_test(tc, test_environment_override);
	tcase_add_test(tc, test_default_store_xdg_and_home);
	tcase_add_test(tc, test_expansion);
	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_search_order);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_public_load);
	tcase_add_test(tc, test_explicit_unreadable);
	tcase_add_test(tc, test_system_unreadable);
	tcase_add_test(tc, test_examples);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_hostile_values);
	tcase_add_test(tc, test_engine_keys);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
