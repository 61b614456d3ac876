/*
 * hwagg-bench: sign throughput and latency of a PKCS#11 module, for any
 * module (hwagg or a reference such as SoftHSM2), so figures are measured
 * side by side in one run.
 *
 *   hwagg-bench MODULE TOKEN_LABEL PIN ALG SECONDS THREADS [OPS]
 *     ALG: ec256 | rsa2048
 *     OPS: sign exactly OPS times per thread instead of for SECONDS (a fixed
 *          amount of work, for instruction counts under callgrind)
 *   hwagg-bench --init MODULE N     time C_Initialize+C_GetSlotList+C_Finalize
 *   hwagg-bench --cold MODULE       one cold cycle in this (fresh) process: dlopen
 *          (RTLD_NOW) + C_Initialize + C_GetSlotList(CK_FALSE) + C_Finalize;
 *          prints milliseconds and the process's peak RSS (bench/coldstart.sh
 *          runs it in many fresh processes)
 *   hwagg-bench --token-key MODULE ...   the same with a token key pair
 *          (CKA_TOKEN true, destroyed at the end): signing then goes through
 *          the backend's store, e.g. the keyring slot reading the key from
 *          the Secret Service for each signature unless it caches keys
 *   hwagg-bench --secret MODULE TOKEN PIN SECONDS BYTES
 *          one thread: AES-256-GCM encryption (one C_EncryptInit + C_Encrypt
 *          per message) and HMAC-SHA256 (C_SignInit + C_Sign) of BYTES-byte
 *          messages with session keys; prints MB/s of each per second of
 *          CPU time, then per second of elapsed time (bench/secret.sh puts
 *          the first next to openssl speed)
 *
 * It generates a session key pair on the token, signs fixed 32-byte digests
 * (CKM_ECDSA / CKM_SHA256_RSA_PKCS) from THREADS threads, each with its own
 * session, and prints one line: ops/s, p50 and p99 latency in microseconds.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key, pub;
static CK_BBOOL token_key;        /* --token-key */
static CK_MECHANISM_TYPE mech;
static double seconds;
static unsigned long fixed_ops;   /* per thread; 0: run for seconds */

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

static int load(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	return gfl && gfl(&p11) == CKR_OK ? 0 : -1;
}

static int find_slot(const char *label)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64;
	if (p11->C_GetSlotList(CK_TRUE, ids, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char l[33];
		if (p11->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			continue;
		memcpy(l, ti.label, 32);
		l[32] = 0;
		for (int j = 31; j >= 0 && l[j] == ' '; j--)
			l[j] = 0;
		if (strcmp(l, label) == 0) {
			slot = ids[i];
			return 0;
		}
	}
	fprintf(stderr, "no token labelled %s\n", label);
	return -1;
}

typedef struct result {
	unsigned long ops;
	double *lat;
	size_t cap;
	int err;
} result;

static void *worker(void *arg)
{
	result *r = arg;
	CK_SESSION_HANDLE s;
	unsigned char dg[32], sig[512];
	memset(dg, 0x5a, sizeof(dg));
	if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		r->err = 1;
		return NULL;
	}
	CK_MECHANISM m = { mech, NULL, 0 };
	double end = now() + seconds;
	while (fixed_ops ? r->ops < fixed_ops : now() < end) {
		CK_ULONG len = sizeof(sig);
		double t0 = now();
		if (p11->C_SignInit(s, &m, key) != CKR_OK || p11->C_Sign(s, dg, sizeof(dg), sig, &len) != CKR_OK) {
			r->err = 1;
			break;
		}
		double t1 = now();
		if (r->ops < r->cap)
			r->lat[r->ops] = (t1 - t0) * 1e6;
		r->ops++;
		dg[0]++;
	}
	p11->C_CloseSession(s);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int genkey(CK_SESSION_HANDLE s, const char *alg)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL f = token_key, t = CK_TRUE;
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &f, 1 }, { CKA_SIGN, &t, 1 }, { CKA_PRIVATE, &t, 1 } };
	if (strcmp(alg, "ec256") == 0) {
		CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
		CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_TOKEN, &f, 1 } };
		mech = CKM_ECDSA;
		return p11->C_GenerateKeyPair(s, &m, pt, 2, vt, 3, &pub, &key) == CKR_OK ? 0 : -1;
	}
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_TOKEN, &f, 1 } };
	mech = CKM_SHA256_RSA_PKCS;
	return p11->C_GenerateKeyPair(s, &m, pt, 2, vt, 3, &pub, &key) == CKR_OK ? 0 : -1;
}

static int bench_init(const char *module, int n)
{
	if (load(module) != 0)
		return 1;
	double t0 = now();
	for (int i = 0; i < n; i++) {
		CK_ULONG count;
		if (p11->C_Initialize(NULL) != CKR_OK || p11->C_GetSlotList(CK_FALSE, NULL, &count) != CKR_OK ||
		    p11->C_Finalize(NULL) != CKR_OK) {
			fprintf(stderr, "init cycle failed\n");
			return 1;
		}
	}
	printf("init+slotlist+finalize: %.3f ms per cycle (%d cycles)\n", (now() - t0) * 1e3 / n, n);
	return 0;
}

static int bench_cold(const char *module)
{
	CK_ULONG count;
	double t0 = now();
	if (load(module) != 0 || p11->C_Initialize(NULL) != CKR_OK ||
	    p11->C_GetSlotList(CK_FALSE, NULL, &count) != CKR_OK || p11->C_Finalize(NULL) != CKR_OK) {
		fprintf(stderr, "cold cycle failed\n");
		return 1;
	}
	double ms = (now() - t0) * 1e3;
	long rss = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &rss) == 1)
			break;
	if (f != NULL)
		fclose(f);
	printf("%.3f %ld\n", ms, rss);
	return 0;
}

/* MB/s of one secret-key mechanism over len-byte messages for seconds:
 * per second of the process's CPU time (user and system), as `openssl
 * speed` divides by its user CPU time, so that other work on the machine
 * does not count against either; *wall: per second of elapsed time. */
static double secret_rate(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k, bool sign, size_t len,
			  double *wall)
{
	unsigned char *in = calloc(1, len), *out = malloc(len + 64);
	unsigned long n = 0;
	double start = now(), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t = 0, cpu = 0;
	/* the clock is read every 16 messages: at 16 bytes a read costs more
	 * than a tenth of a message under a hypervisor (openssl speed stops on
	 * a timer signal) */
	while (in != NULL && out != NULL && (n % 16 != 0 || (t = now() - start) < seconds)) {
		CK_ULONG ol = len + 64;
		CK_RV rv = sign ? p11->C_SignInit(s, m, k) : p11->C_EncryptInit(s, m, k);
		if (rv == CKR_OK)
			rv = sign ? p11->C_Sign(s, in, len, out, &ol) : p11->C_Encrypt(s, in, len, out, &ol);
		if (rv != CKR_OK) {
			fprintf(stderr, "hwagg-bench: %s: 0x%lx\n", sign ? "sign" : "encrypt", (unsigned long)rv);
			n = 0;
			break;
		}
		n++;
	}
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	free(in);
	free(out);
	*wall = t > 0 ? (double)n * (double)len / t / 1e6 : 0;
	return cpu > 0 ? (double)n * (double)len / cpu / 1e6 : 0;
}

static int bench_secret(char **argv)
{
	CK_SESSION_HANDLE s;
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	CK_OBJECT_CLASS sc = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES, gen = CKK_GENERIC_SECRET;
	CK_ULONG l32 = 32;
	CK_OBJECT_HANDLE ka, kh;
	CK_MECHANISM ag = { CKM_AES_KEY_GEN, NULL, 0 }, hg = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE at[] = { { CKA_CLASS, &sc, sizeof(sc) }, { CKA_KEY_TYPE, &aes, sizeof(aes) },
			      { CKA_VALUE_LEN, &l32, sizeof(l32) } };
	CK_ATTRIBUTE ht[] = { { CKA_CLASS, &sc, sizeof(sc) }, { CKA_KEY_TYPE, &gen, sizeof(gen) },
			      { CKA_VALUE_LEN, &l32, sizeof(l32) } };
	unsigned char iv[12] = { 0 };
	CK_GCM_PARAMS g = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) }, hmac = { CKM_SHA256_HMAC, NULL, 0 };
	size_t len = strtoul(argv[6], NULL, 10);
	seconds = atof(argv[5]);
	if (load(argv[2]) != 0 || p11->C_Initialize(&ia) != CKR_OK || find_slot(argv[3]) != 0)
		return 1;
	if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
	    p11->C_Login(s, CKU_USER, (unsigned char *)argv[4], strlen(argv[4])) != CKR_OK ||
	    p11->C_GenerateKey(s, &ag, at, 3, &ka) != CKR_OK || p11->C_GenerateKey(s, &hg, ht, 3, &kh) != CKR_OK) {
		fprintf(stderr, "session/login/keygen failed\n");
		return 1;
	}
	double aw, hw, a = secret_rate(s, &gcm, ka, false, len, &aw), h = secret_rate(s, &hmac, kh, true, len, &hw);
	printf("bytes=%zu  aes-256-gcm %10.1f MB/s  hmac-sha256 %10.1f MB/s  (elapsed time: %.1f, %.1f)\n", len, a,
	       h, aw, hw);
	p11->C_Finalize(NULL);
	return a > 0 && h > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "--secret") == 0)
		return bench_secret(argv);
	if (argc == 3 && strcmp(argv[1], "--cold") == 0)
		return bench_cold(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--init") == 0)
		return bench_init(argv[2], atoi(argv[3]));
	if (argc > 1 && strcmp(argv[1], "--token-key") == 0) {
		token_key = CK_TRUE;
		argv++;
		argc--;
	}
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: hwagg-bench MODULE TOKEN PIN ec256|rsa2048 SECONDS THREADS [OPS]\n"
				"       hwagg-bench --init MODULE CYCLES\n"
				"       hwagg-bench --cold MODULE\n"
				"       hwagg-bench --secret MODULE TOKEN PIN SECONDS BYTES\n"
				"       hwagg-bench --token-key MODULE TOKEN PIN ...   (a token key pair)\n");
		return 2;
	}
	const char *alg = argv[4];
	int threads = atoi(argv[6]);
	seconds = atof(argv[5]);
	fixed_ops = argc == 8 ? strtoul(argv[7], NULL, 10) : 0;
	CK_SESSION_HANDLE s;
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	if (load(argv[1]) != 0 || p11->C_Initialize(&ia) != CKR_OK || find_slot(argv[2]) != 0)
		return 1;
	if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
	    p11->C_Login(s, CKU_USER, (unsigned char *)argv[3], strlen(argv[3])) != CKR_OK || genkey(s, alg) != 0) {
		fprintf(stderr, "session/login/keygen failed\n");
		return 1;
	}
	pthread_t t[64];
	result r[64];
	if (threads < 1 || threads > 64)
		return 2;
	double start = now();
	for (int i = 0; i < threads; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].cap = 2000000;
		r[i].lat = malloc(r[i].cap * sizeof(double));
		pthread_create(&t[i], NULL, worker, &r[i]);
	}
	unsigned long ops = 0;
	size_t nl = 0;
	double *all = malloc(threads * r[0].cap * sizeof(double));
	int err = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		ops += r[i].ops;
		err |= r[i].err;
		size_t k = r[i].ops < r[i].cap ? r[i].ops : r[i].cap;
		memcpy(all + nl, r[i].lat, k * sizeof(double));
		nl += k;
		free(r[i].lat);
	}
	if (fixed_ops)
		seconds = now() - start;
	qsort(all, nl, sizeof(double), cmp);
	printf("%-8s threads=%d  %10.0f ops/s  p50 %8.1f us  p99 %8.1f us%s\n", alg, threads,
	       (double)ops / seconds, nl ? all[nl / 2] : 0, nl ? all[(size_t)(nl * 0.99)] : 0,
	       err ? "  (ERRORS)" : "");
	free(all);
	if (token_key && (p11->C_DestroyObject(s, key) != CKR_OK || p11->C_DestroyObject(s, pub) != CKR_OK))
		fprintf(stderr, "hwagg-bench: the token key pair could not be destroyed\n");
	p11->C_Logout(s);
	p11->C_CloseSession(s);
	p11->C_Finalize(NULL);
	return err;
}
