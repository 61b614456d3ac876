/*
 * The audit log under concurrency, through the built module: 4 processes x
 * 2 threads signing at once into one log leave one chain that
 * `hwagg audit verify` accepts, with every signature recorded and nothing
 * else; signature counts ("summary") survive fork without being written
 * twice: a child writes its own, the parent its own; a process that exits
 * without C_Finalize still has its counts written.
 */
#include "tests/dlopen/p11.h"

#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define PROCS 4
#define THREADS 2
#define SIGNS 25

static char log_path[300];

/* The config: one soft slot, the log in the test directory; more: more
 * members of "audit". */
static void write_conf_more(const char *sign_events, const char *more)
{
	char conf[300];
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	snprintf(log_path, sizeof(log_path), "%s/audit.jsonl", p11_dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"production\", \"store\": \"%s/store\", \"audit\": {\"path\": \"%s\", "
		"\"sign_events\": \"%s\"%s}, \"slots\": [{\"name\": \"hwtest\", \"type\": \"soft\"}]}\n",
		p11_dir, log_path, sign_events, more);
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
}

static void write_conf(const char *sign_events)
{
	write_conf_more(sign_events, "");
}

static void setup(void)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	p11_world(NULL);
	/* the key is made in production, where the tests use it (a key made
	 * in development is refused in production) */
	write_conf("summary");
	p11_load();
	CKR(p11->C_Initialize(NULL));
	p11_init_token();
	CK_SESSION_HANDLE s = p11_user_session();
	p11_gen_ec(s, "mp", CK_TRUE, &pub, &priv);
	CKR(p11->C_Finalize(NULL));
	unlink(log_path);        /* each test starts with an empty log */
}

/* Lines of the log holding needle. */
static unsigned count_lines(const char *needle, unsigned long long *sum_counts)
{
	char line[8192];
	unsigned n = 0;
	FILE *f = fopen(log_path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, needle) == NULL)
			continue;
		n++;
		const char *c = strstr(line, "\"count\":");
		if (sum_counts != NULL && c != NULL)
			*sum_counts += strtoull(c + 8, NULL, 10);
	}
	fclose(f);
	return n;
}

static void verify_ok(void)
{
	char cmd[700];
	const char *cli = getenv("HWAGG_CLI");
	ck_assert_ptr_nonnull(cli);
	snprintf(cmd, sizeof(cmd), "'%s' audit verify '%s'", cli, log_path);
	ck_assert_msg(system(cmd) == 0, "audit verify failed");
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s)
{
	CK_RV rv;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "mp", 2 } };
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, &h, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	return h;
}

/* Sign SIGNS times on a session of its own; returns the failures. */
static void *signer(void *arg)
{
	CK_SESSION_HANDLE s;
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[64];
	uintptr_t bad = 0;
	(void)arg;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)(uintptr_t)SIGNS;
	CK_OBJECT_HANDLE k = find_key(s);
	for (int i = 0; i < SIGNS; i++) {
		CK_ULONG len = sizeof(sig);
		if (p11->C_SignInit(s, &m, k) != CKR_OK || p11->C_Sign(s, (unsigned char *)"m", 1, sig, &len) != CKR_OK)
			bad++;
	}
	p11->C_CloseSession(s);
	return (void *)bad;
}

/* A child: initialize, log in, THREADS signers, finalize; exit status =
 * failures. */
static int child_signs(void)
{
	pthread_t t[THREADS];
	uintptr_t bad = 0;
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	if (p11->C_Initialize(&args) != CKR_OK)
		return 100;
	CK_SESSION_HANDLE s;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)) != CKR_OK)
		return 101;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, signer, NULL);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (uintptr_t)r;
	}
	p11->C_Finalize(NULL);
	return bad > 99 ? 99 : (int)bad;
}

START_TEST(test_processes_and_threads)
{
	pid_t pids[PROCS];
	write_conf("each");
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(child_signs());
	}
	for (int i = 0; i < PROCS; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status 0x%x", i, st);
	}
	verify_ok();
	ck_assert_uint_eq(count_lines("\"event\":\"sign\"", NULL), PROCS * THREADS * SIGNS);
	ck_assert_uint_eq(count_lines("\"event\":\"login\"", NULL), PROCS);
	/* and nothing else: no line lost, none written twice */
	ck_assert_uint_eq(count_lines("", NULL), PROCS * THREADS * SIGNS + PROCS);
}
END_TEST

START_TEST(test_summary_and_fork)
{
	CK_RV rv;
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[64];
	CK_ULONG len;
	unsigned long long total = 0;
	write_conf("summary");
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE k = find_key(s);
	for (int i = 0; i < 10; i++) {
		len = sizeof(sig);
		CKR(p11->C_SignInit(s, &m, k));
		CKR(p11->C_Sign(s, (unsigned char *)"m", 1, sig, &len));
	}
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* a new application: its own login, its own counts */
		int bad = 0;
		CK_SESSION_HANDLE cs;
		if (p11->C_Initialize(NULL) != CKR_OK || p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK ||
		    p11->C_Login(cs, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)) != CKR_OK)
			_exit(1);
		CK_OBJECT_HANDLE ck = find_key(cs);
		for (int i = 0; i < 5; i++) {
			CK_ULONG l = sizeof(sig);
			bad += p11->C_SignInit(cs, &m, ck) != CKR_OK || p11->C_Sign(cs, (unsigned char *)"m", 1, sig, &l) != CKR_OK;
		}
		p11->C_Finalize(NULL);
		_exit(bad);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	CKR(p11->C_Finalize(NULL));
	verify_ok();
	ck_assert_uint_eq(count_lines("\"event\":\"sign\"", &total), 2);
	ck_assert_uint_eq(total, 15);
	ck_assert_uint_eq(count_lines("\"count\":10,", NULL), 1);
	ck_assert_uint_eq(count_lines("\"count\":5,", NULL), 1);
}
END_TEST

/* The program run again as a process that signs 3 times and exits
 * without C_Finalize (its exit status: failures). Outside a Check test:
 * no ck_assert here. */
static int sign_and_exit(void)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "mp", 2 } };
	unsigned char sig[64];
	CK_SESSION_HANDLE cs;
	CK_OBJECT_HANDLE ck = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	int bad = 0;
	void *dl = dlopen(getenv("HWAGG_MODULE"), RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK || p11->C_Initialize(NULL) != CKR_OK ||
	    p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK ||
	    p11->C_Login(cs, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)) != CKR_OK ||
	    p11->C_FindObjectsInit(cs, t, 2) != CKR_OK || p11->C_FindObjects(cs, &ck, 1, &n) != CKR_OK || n != 1)
		return 10;
	for (int i = 0; i < 3; i++) {
		CK_ULONG l = sizeof(sig);
		bad += p11->C_SignInit(cs, &m, ck) != CKR_OK || p11->C_Sign(cs, (unsigned char *)"m", 1, sig, &l) != CKR_OK;
	}
	return bad;     /* exit handlers run; C_Finalize never called */
}

/* A process that exits without C_Finalize: its counts are written anyway. */
START_TEST(test_exit_without_finalize)
{
	unsigned long long total = 0;
	write_conf("summary");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* a fresh process; what it leaves unfreed is the point, so a
		 * leak checker of a sanitizer build is told not to look */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execl("/proc/self/exe", "test_audit", "--sign-and-exit", (char *)NULL);
		_exit(127);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	verify_ok();
	ck_assert_uint_eq(count_lines("\"event\":\"sign\"", &total), 1);
	ck_assert_uint_eq(total, 3);
}
END_TEST

#define CKA_HWAGG_KEY_VERSION (0x80000000UL | 0x48574100UL | 3)   /* common/hwagg.h */

/* The public keys labelled "mp": their CKA_ID, CKA_END_DATE, CKA_START_DATE
 * and version. */
static size_t public_keys(CK_SESSION_HANDLE s, unsigned char ids[][64], CK_ULONG *id_len, CK_DATE *end,
			  CK_ULONG *end_len, CK_DATE *start, CK_ULONG *start_len, CK_ULONG *version)
{
	CK_RV rv;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "mp", 2 } };
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 0;
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, h, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ATTRIBUTE a[] = { { CKA_ID, ids[i], 64 }, { CKA_END_DATE, &end[i], sizeof(end[i]) },
				     { CKA_START_DATE, &start[i], sizeof(start[i]) },
				     { CKA_HWAGG_KEY_VERSION, &version[i], sizeof(version[i]) } };
		CKR(p11->C_GetAttributeValue(s, h[i], a, 4));
		id_len[i] = a[0].ulValueLen;
		end_len[i] = a[1].ulValueLen;
		start_len[i] = a[2].ulValueLen;
	}
	return n;
}

/* hwagg rotate: the old public key stays with today's end date, the new
 * one has none but today's start date and the next version; one private
 * key has the label, of the next version too. */
START_TEST(test_rotate_end_date)
{
	CK_RV rv;
	char cmd[1200], pin[400], today[9];
	unsigned char ids[4][64];
	CK_ULONG id_len[4], end_len[4], start_len[4], version[4], pv = 0;
	CK_DATE end[4], start[4];
	time_t now = time(NULL);
	struct tm tm;
	write_conf("summary");
	snprintf(pin, sizeof(pin), "%s/pin", p11_dir);
	FILE *f = fopen(pin, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", USER_PIN);
	fclose(f);
	ck_assert_int_eq(chmod(pin, 0600), 0);
	snprintf(cmd, sizeof(cmd), "'%s' rotate 'pkcs11:token=hwtest;object=mp;type=private' --pin-file '%s' >/dev/null",
		 getenv("HWAGG_CLI"), pin);
	ck_assert_int_eq(system(cmd), 0);
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE k = find_key(s);       /* exactly one private key "mp" */
	CK_ATTRIBUTE pva = { CKA_HWAGG_KEY_VERSION, &pv, sizeof(pv) };
	CKR(p11->C_GetAttributeValue(s, k, &pva, 1));
	ck_assert_uint_eq(pv, 2);
	ck_assert_uint_eq(public_keys(s, ids, id_len, end, end_len, start, start_len, version), 2);
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y%m%d", &tm);
	int dated = end_len[0] == sizeof(CK_DATE) ? 0 : 1;
	ck_assert_uint_eq(end_len[dated], sizeof(CK_DATE));
	ck_assert_int_eq(memcmp(&end[dated], today, 8), 0);
	ck_assert_uint_eq(end_len[1 - dated], 0);        /* the new key: no end */
	ck_assert_uint_eq(start_len[1 - dated], sizeof(CK_DATE));
	ck_assert_int_eq(memcmp(&start[1 - dated], today, 8), 0);
	ck_assert_uint_eq(version[dated], 1);
	ck_assert_uint_eq(version[1 - dated], 2);
	ck_assert(id_len[0] != id_len[1] || memcmp(ids[0], ids[1], id_len[0]) != 0);
	CKR(p11->C_Finalize(NULL));
	ck_assert_uint_eq(count_lines("\"what\":\"rotate\"", NULL), 1);
	verify_ok();
}
END_TEST

/* Checkpoints after every record, signed with the token's key (logged in
 * with the URI's pin-source): each names the record before it; the counts
 * written at C_Finalize, when the slots are already closed, get none. */
START_TEST(test_checkpoint_every_record)
{
	CK_RV rv;
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[64];
	char pin[400], more[600];
	snprintf(pin, sizeof(pin), "%s/pin", p11_dir);
	FILE *f = fopen(pin, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", USER_PIN);
	fclose(f);
	snprintf(more, sizeof(more), ", \"checkpoint_every\": 1, "
		 "\"checkpoint_key\": \"pkcs11:token=hwtest;object=mp;type=private?pin-source=%s\"", pin);
	write_conf_more("summary", more);
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	/* a wrong PIN: its record's checkpoint is signed while the application
	 * is not logged in, so the checkpoint logs in with the URI's PIN, and
	 * out again: the application's own login then works */
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)"000000", 6), CKR_PIN_INCORRECT);
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	CK_OBJECT_HANDLE k = find_key(s);
	for (int i = 0; i < 3; i++) {
		CK_ULONG len = sizeof(sig);
		CKR(p11->C_SignInit(s, &m, k));
		CKR(p11->C_Sign(s, (unsigned char *)"m", 1, sig, &len));
	}
	CKR(p11->C_Finalize(NULL));
	verify_ok();
	ck_assert_uint_eq(count_lines("\"event\":\"login\"", NULL), 2);
	ck_assert_uint_eq(count_lines("\"event\":\"checkpoint\"", NULL), 2);   /* after each login record */
	ck_assert_uint_eq(count_lines("\"event\":\"sign\"", NULL), 1);        /* at finalize: no checkpoint */
	ck_assert_uint_eq(count_lines("pin-source", NULL), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("log");
	tcase_add_checked_fixture(tc, setup, p11_world_remove);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_processes_and_threads);
	tcase_add_test(tc, test_summary_and_fork);
	tcase_add_test(tc, test_exit_without_finalize);
	tcase_add_test(tc, test_rotate_end_date);
	tcase_add_test(tc, test_checkpoint_every_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--sign-and-exit") == 0)
		return sign_and_exit();
	return p11_run(suite());
}
