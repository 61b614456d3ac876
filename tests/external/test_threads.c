/*
 * The external slot inside a multithreaded host, loaded like a consumer
 * loads it: 8 threads signing at once through tests/external/signer.sh,
 * every signature verified by OpenSSL with the PEM public key and no child
 * process left behind (running or zombie); max_parallel 1 keeps a key's
 * commands one at a time (the "alone" command fails when another runs);
 * a command that exits without reading its stdin raises no SIGPIPE in the
 * host; a host that ignores SIGCHLD (the kernel reaps for it) still gets
 * verified signatures.
 */
#include "tests/dlopen/p11.h"
#include "tests/dlopen/ossl.h"

#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#define THREADS 8
#define SIGNS   3

static EVP_PKEY *ec_pub;
static int signed_ok, signed_bad;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

static void world(void)
{
	char cmd[1024], conf[300], signer[600];
	const char *src = getenv("HWAGG_SRCDIR");
	if (src == NULL)
		src = HW_TEST_SRCDIR;    /* run by hand, or under valgrind by scripts/test-all.sh */
	snprintf(signer, sizeof(signer), "%s/tests/external/signer.sh", src);
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-ext-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	snprintf(cmd, sizeof(cmd), "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
		 "-out ec.key 2>/dev/null && openssl pkey -in ec.key -pubout -out ec.pub && openssl genpkey "
		 "-algorithm ED25519 -out ed.key && openssl pkey -in ed.key -pubout -out ed.pub && mkdir digests",
		 p11_dir);
	run(cmd);
	snprintf(conf, sizeof(conf), "%s/ec.pub", p11_dir);
	FILE *f = fopen(conf, "r");
	ck_assert_ptr_nonnull(f);
	ec_pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(ec_pub);
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	const char *d = p11_dir;
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", \"slots\": [{\"name\": \"ext\", "
		"\"type\": \"external\", \"tmp_dir\": \"%s/digests\", \"env\": {\"HW_EXT_MARK\": \"%s/running\"}, "
		"\"keys\": [{\"label\": \"good\", \"id\": \"01\", \"public_key\": \"%s/ec.pub\", "
		"\"command\": [\"%s\", \"good\", \"%s/ec.key\"]}, "
		"{\"label\": \"alone\", \"id\": \"02\", \"public_key\": \"%s/ec.pub\", \"max_parallel\": 1, "
		"\"command\": [\"%s\", \"alone\", \"%s/ec.key\"]}, "
		"{\"label\": \"deaf\", \"id\": \"03\", \"public_key\": \"%s/ed.pub\", \"input\": \"message-stdin\", "
		"\"command\": [\"%s\", \"fail\", \"%s/ed.key\"]}]}]}\n",
		d, d, d, d, signer, d, d, signer, d, d, signer, d);
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
}

static void setup(void)
{
	CK_RV rv;
	world();
	p11_load();
	CKR(p11->C_Initialize(NULL));
}

static void teardown(void)
{
	p11->C_Finalize(NULL);
	EVP_PKEY_free(ec_pub);
	p11_world_remove();
}

static CK_OBJECT_HANDLE key(CK_SESSION_HANDLE s, const char *label)
{
	CK_RV rv;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h = 0;
	CK_ULONG n = 0;
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, &h, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_msg(n == 1, "no private key \"%s\"", label);
	return h;
}

/* Processes whose parent is this one, from /proc (zombies included). */
static int children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512];
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* pid (comm) state ppid: comm may hold spaces and parentheses */
		char *p = strrchr(buf, ')');
		int ppid = 0;
		char state;
		if (p != NULL && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid())
			n++;
	}
	closedir(d);
	return n;
}

/* One ECDSA signature over a fresh digest; true when OpenSSL verifies it. */
static bool sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k)
{
	unsigned char dg[32], sig[64];
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	ck_assert_int_eq(RAND_bytes(dg, sizeof(dg)), 1);
	if (p11->C_SignInit(s, &m, k) != CKR_OK || p11->C_Sign(s, dg, sizeof(dg), sig, &len) != CKR_OK)
		return false;
	return len == 64 && ossl_verify_ecdsa(ec_pub, dg, sizeof(dg), sig, len) == 1;
}

static void *signer(void *arg)
{
	const char *label = arg;
	CK_SESSION_HANDLE s;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return NULL;
	CK_OBJECT_HANDLE k = key(s, label);
	for (int i = 0; i < SIGNS; i++) {
		bool ok = sign_once(s, k);
		pthread_mutex_lock(&count_lock);
		*(ok ? &signed_ok : &signed_bad) += 1;
		pthread_mutex_unlock(&count_lock);
	}
	p11->C_CloseSession(s);
	return NULL;
}

static void run_threads(const char *label, int n)
{
	pthread_t t[THREADS];
	signed_ok = signed_bad = 0;
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, (void *)label), 0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

START_TEST(concurrent_signers)
{
	run_threads("good", THREADS);
	ck_assert_int_eq(signed_bad, 0);
	ck_assert_int_eq(signed_ok, THREADS * SIGNS);
	ck_assert_msg(children() == 0, "%d child process(es) left behind", children());
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/digests)\"", p11_dir);
	ck_assert_msg(system(cmd) == 0, "digest files left in %s/digests", p11_dir);
}
END_TEST

START_TEST(max_parallel_one)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_threads("alone", 4);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* any two at once: the second exits 5 and its sign fails */
	ck_assert_int_eq(signed_bad, 0);
	ck_assert_int_eq(signed_ok, 4 * SIGNS);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(s >= 4 * SIGNS * 0.2, "12 commands of 0.2 s each took %.2f s: not one at a time", s);
	ck_assert_int_eq(children(), 0);
}
END_TEST

START_TEST(no_sigpipe)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
	size_t big = 8u << 20;       /* far more than a socket buffer */
	unsigned char *msg = calloc(1, big), sig[64];
	CK_ULONG len = sizeof(sig);
	ck_assert_ptr_nonnull(msg);
	signal(SIGPIPE, SIG_DFL);    /* a host that did not ignore it: SIGPIPE would kill it */
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CKR(p11->C_SignInit(s, &m, key(s, "deaf")));
	CKR_EQ(p11->C_Sign(s, msg, (CK_ULONG)big, sig, &len), CKR_FUNCTION_FAILED);
	free(msg);
	ck_assert_int_eq(children(), 0);
}
END_TEST

START_TEST(host_ignores_sigchld)
{
	CK_SESSION_HANDLE s;
	signal(SIGCHLD, SIG_IGN);
	ck_assert_int_eq(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	CK_OBJECT_HANDLE k = key(s, "good");
	ck_assert(sign_once(s, k));
	ck_assert(sign_once(s, k));
	signal(SIGCHLD, SIG_DFL);
	ck_assert_int_eq(children(), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("external");
	TCase *tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, concurrent_signers);
	tcase_add_test(tc, max_parallel_one);
	tcase_add_test(tc, no_sigpipe);
	tcase_add_test(tc, host_ignores_sigchld);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
