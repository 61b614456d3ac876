/* `hwagg config check` underneath: every problem of a file, one golden line
 * each, in the order unknown keys, type, values, required keys; the checks
 * that look at the file system; the origin said truthfully. */
#include "module/conf.h"
#include "common/log.h"
#include "slots/backend.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINES 16

typedef struct lines {
	char line[MAX_LINES][HW_CONFIG_ERR_LEN * 2];
	unsigned n;
} lines;

static char dir[256];

static void collect(void *arg, const char *line)
{
	lines *l = arg;
	if (l->n < MAX_LINES)
		snprintf(l->line[l->n], sizeof(l->line[0]), "%s", line);
	l->n++;
}

static const char *write_conf(const char *text)
{
	static char path[300];
	snprintf(path, sizeof(path), "%s/hwagg.json", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hwagg-check-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("HWAGG_ENVIRONMENT");
	hw_log_threshold = HW_LOG_ERROR;
}

static void teardown(void)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/hwagg.json", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/store", dir);
	rmdir(p);
	rmdir(dir);
}

/* The file's lines, each compared in full after "<path>: ". */
static void expect_lines(const char *json, const char *const *want)
{
	lines got = { .n = 0 };
	size_t n = 0;
	const char *path = write_conf(json);
	unsigned problems = hw_config_check(path, "the command line", collect, &got, NULL);
	while (want[n] != NULL)
		n++;
	ck_assert_msg(problems == n && got.n == n, "%u problems, %u lines, want %zu (first: %s)", problems, got.n, n,
		      got.n ? got.line[0] : "-");
	for (size_t i = 0; i < n; i++) {
		char full[HW_CONFIG_ERR_LEN * 2];
		snprintf(full, sizeof(full), "%s: %s", path, want[i]);
		ck_assert_str_eq(got.line[i], full);
	}
}

START_TEST(test_typo_before_missing)
{
	static const char *const want[] = {
		/* the keys every slot takes, then those of each type this build has */
		"slots[0] (\"dev\").tpye: unknown key; did you mean \"type\"? expected one of name, type, "
		"rsa_min_bits, mechanisms, refresh_s, timeout_ms, allow_import, pin_max_tries, pin_min_len, pin_max_len",
		NULL,   /* the second line depends on the build: checked below */
	};
	lines got = { .n = 0 };
	const char *path = write_conf("{\"slots\": [{\"name\": \"dev\", \"tpye\": \"soft\"}]}");
	ck_assert_uint_eq(hw_config_check(path, "the command line", collect, &got, NULL), 2);
	char full[HW_CONFIG_ERR_LEN * 2];
	snprintf(full, sizeof(full), "%s: %s", path, want[0]);
	ck_assert_msg(strncmp(got.line[0], full, strlen(full)) == 0, "%s", got.line[0]);
	/* a key two types share is named once */
	ck_assert_ptr_null(strstr(got.line[0], "keys, pin, pin_env, env_pass, env, tmp_dir, region, endpoint, ca_file, profile, keys"));
	const char *list = strstr(got.line[0], "expected one of ");
	ck_assert_ptr_nonnull(list);
	for (const char *k = list + 16; *k != '\0';) {
		const char *end = strstr(k, ", ");
		size_t n = end != NULL ? (size_t)(end - k) : strlen(k);
		char name[64];
		snprintf(name, sizeof(name), ", %.*s,", (int)n, k);
		const char *again = strstr(k + n, name);
		ck_assert_msg(again == NULL, "%.*s is listed twice: %s", (int)n, k, got.line[0]);
		k = end != NULL ? end + 2 : k + n;
	}
	snprintf(full, sizeof(full), "%s: slots[0] (\"dev\").type: missing required key; expected one of soft, hsm", path);
	ck_assert_msg(strncmp(got.line[1], full, strlen(full)) == 0, "%s", got.line[1]);
	/* types left out of this build are named as such, apart; the built
	 * ones are not (a build with every type sets none apart) */
	size_t nt = 0;
	const hw_backend_entry *t = hw_backend_table(&nt);
	const char *apart = strstr(got.line[1], "(known but not built into this module: ");
	bool all_built = true;
	for (size_t i = 0; i < nt; i++) {
		const char *at = apart != NULL ? strstr(apart, t[i].type) : NULL;
		if (hw_backend_available(&t[i]))
			ck_assert_msg(at == NULL, "%s set apart: %s", t[i].type, got.line[1]);
		else
			ck_assert_msg(at != NULL, "%s not set apart: %s", t[i].type, got.line[1]);
		all_built = all_built && hw_backend_available(&t[i]);
	}
	ck_assert(all_built == (apart == NULL));
}
END_TEST

START_TEST(test_every_problem)
{
	char json[1024];
	static const char *const want[] = {
		"slots[0] (\"dev\").pin_max_tries: expected an integer 1..1000, got \"ten\"",
		"slots[0] (\"dev\").timeout_ms: expected an integer 1..600000 (milliseconds), got 0",
		"slots[1] (\"h\").security: expected one of hardware, software, got \"hard\"",
		"log.lvl: unknown key; did you mean \"level\"? expected one of level, file",
		NULL,
	};
	snprintf(json, sizeof(json), "{\"store\": \"%s/store\", \"slots\": ["
		 "{\"name\": \"dev\", \"type\": \"soft\", \"pin_max_tries\": \"ten\", \"timeout_ms\": 0},"
		 "{\"name\": \"h\", \"type\": \"hsm\", \"module\": \"/usr/lib/softhsm/libsofthsm2.so\", "
		 "\"security\": \"hard\"}], \"log\": {\"lvl\": \"debug\"}}", dir);
	expect_lines(json, want);
}
END_TEST

START_TEST(test_syntax)
{
	static const char *const comma[] = { "line 3: trailing comma is not allowed in JSON; expected no comma before ]",
					     NULL };
	static const char *const comment[] = { "line 2: comments are not allowed in JSON; expected plain JSON "
					       "without // comments", NULL };
	expect_lines("{\"slots\": [\n {\"name\": \"a\", \"type\": \"soft\"}\n ,\n]}", comma);
	expect_lines("{\n  // my slots\n \"slots\": []}", comment);
}
END_TEST

/* What C_Initialize leaves alone but the check looks at: the module file is
 * a shared object, the store can be created, the backend's own checks. */
START_TEST(test_file_checks)
{
	char json[1024];
	static const char *const want[] = {
		"slots[0] (\"dev\").pin_min_len: expected at most pin_max_len (5), got 9",
		"store: \"/etc/passwd/store\": /etc/passwd is not a directory; expected a directory this user can "
		"create or write",
		"slots[1] (\"h\").module: \"/etc/passwd\": not an ELF file; expected a PKCS#11 module (a shared object)",
		"slots[2] (\"g\").module: \"/nonexistent/x.so\": No such file or directory; expected a PKCS#11 module "
		"(a shared object)",
		NULL,
	};
	snprintf(json, sizeof(json), "{\"store\": \"/etc/passwd/store\", \"slots\": ["
		 "{\"name\": \"dev\", \"type\": \"soft\", \"pin_min_len\": 9, \"pin_max_len\": 5},"
		 "{\"name\": \"h\", \"type\": \"hsm\", \"module\": \"/etc/passwd\"},"
		 "{\"name\": \"g\", \"type\": \"hsm\", \"module\": \"/nonexistent/x.so\"},"
		 "{\"name\": \"ok\", \"type\": \"hsm\", \"module\": \"/usr/lib/softhsm/libsofthsm2.so\"}]}");
	expect_lines(json, want);
	/* a good file: no line, and the store is not created by checking it */
	snprintf(json, sizeof(json), "{\"store\": \"%s/store\", \"slots\": [{\"name\": \"dev\", \"type\": \"soft\"}]}",
		 dir);
	static const char *const none[] = { NULL };
	expect_lines(json, none);
	struct stat st;
	char store[300];
	snprintf(store, sizeof(store), "%s/store", dir);
	ck_assert_int_ne(stat(store, &st), 0);
}
END_TEST

/* The origin of a file is what named it; an unreadable file says so. */
START_TEST(test_origin)
{
	lines got = { .n = 0 };
	hw_config *c = NULL;
	char path[300], want[600];
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	ck_assert_uint_eq(hw_config_check(path, "the command line", collect, &got, NULL), 1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory; expected a readable JSON file "
		 "(named by the command line)", path);
	ck_assert_str_eq(got.line[0], want);
	got.n = 0;
	setenv("HWAGG_CONF", path, 1);
	ck_assert_uint_eq(hw_config_check(NULL, NULL, collect, &got, NULL), 1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory; expected a readable JSON file "
		 "(named by $HWAGG_CONF)", path);
	ck_assert_str_eq(got.line[0], want);
	unsetenv("HWAGG_CONF");
	ck_assert_uint_eq(hw_config_check(write_conf("{\"slots\": [{\"name\": \"a\", \"type\": \"soft\"}]}"),
					  "the command line", collect, &got, &c), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->origin, "the command line");
	hw_config_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config_check");
	TCase *tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_typo_before_missing);
	tcase_add_test(tc, test_every_problem);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_file_checks);
	tcase_add_test(tc, test_origin);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
