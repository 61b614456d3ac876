/*
 * kmsclient: PKCS#11 load on one key of a slot, for the aws-kms tests and
 * bench/kms.sh.
 *
 *   kmsclient MODULE TOKEN PIN threads T N LABEL
 *       T threads sign N random SHA-256 digests each with the private key
 *       CKA_LABEL = LABEL (each in a session of its own) while one more
 *       thread lists the token's objects over and over; every signature is
 *       verified with OpenSSL against the public key object's SPKI.
 *       Prints "signed S verified V listings L"; exit 0 only if S = V = T*N.
 *   kmsclient MODULE TOKEN PIN bench T SECONDS LABEL
 *       T threads sign for SECONDS; prints "ops_per_s X p50_ms Y p99_ms Z n N".
 *   kmsclient MODULE TOKEN PIN init
 *       prints "init_ms X initialize_ms Y": dlopen, C_Initialize, C_GetSlotList
 *       and C_GetTokenInfo of every slot; C_Initialize alone.
 *   kmsclient MODULE TOKEN PIN keygen-dec LABEL
 *       an RSA-2048 token key pair for decryption only (CKA_SIGN false,
 *       which pkcs11-tool cannot ask for), CKA_ID 0d; prints "CKR_OK" or
 *       the code.
 *   kmsclient MODULE TOKEN PIN keygen-pss LABEL
 *       an RSA-2048 token signing key pair whose CKA_ALLOWED_MECHANISMS name
 *       only RSA-PSS (which pkcs11-tool cannot ask for), CKA_ID 0f.
 *   kmsclient MODULE TOKEN PIN keygen-ec LABEL
 *       a P-256 token signing key pair, CKA_ID 0e (no other program needed,
 *       so a ThreadSanitizer build runs a test with this one alone).
 */
#include <dlfcn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static const char *label;
static EVP_PKEY *pub;
static int stop;              /* set once by main; read by every thread */

static int stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int find_token(const char *name)
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
		l[32] = '\0';
		for (int j = 31; j >= 0 && l[j] == ' '; j--)
			l[j] = '\0';
		if (strcmp(l, name) == 0) {
			slot = ids[i];
			return 0;
		}
	}
	return -1;
}

static CK_RV find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *h)
{
	CK_ULONG n = 0;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, strlen(label) } };
	CK_RV rv = p11->C_FindObjectsInit(s, t, 2);
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(s, h, 1, &n);
	p11->C_FindObjectsFinal(s);
	return rv == CKR_OK && n == 0 ? CKR_KEY_HANDLE_INVALID : rv;
}

static int verify(const unsigned char *dg, const unsigned char *sig, CK_ULONG len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int ok = 0, dl;
	BIGNUM *r = BN_bin2bn(sig, (int)len / 2, NULL), *s = BN_bin2bn(sig + len / 2, (int)len / 2, NULL);
	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;
		if ((dl = i2d_ECDSA_SIG(es, &der)) > 0) {
			EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
			ok = c != NULL && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_verify(c, der, (size_t)dl, dg, 32) == 1;
			EVP_PKEY_CTX_free(c);
		}
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	return ok;
}

typedef struct worker {
	pthread_t t;
	int n;                 /* signatures to make; 0: until stop */
	int signed_, verified;
	CK_RV rv;
	double *lat;
	size_t nlat, cap;
} worker;

static void *sign_main(void *arg)
{
	worker *w = arg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	if ((w->rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK)
		return NULL;
	if ((w->rv = find(s, CKO_PRIVATE_KEY, &k)) != CKR_OK)
		goto out;
	for (int i = 0; (w->n == 0 && !stopped()) || i < w->n; i++) {
		unsigned char dg[32], sig[256];
		CK_ULONG len = sizeof(sig);
		RAND_bytes(dg, sizeof(dg));
		double t0 = now_ms();
		if ((w->rv = p11->C_SignInit(s, &m, k)) != CKR_OK || (w->rv = p11->C_Sign(s, dg, 32, sig, &len)) != CKR_OK)
			break;
		if (w->nlat == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 1024;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
		}
		w->lat[w->nlat++] = now_ms() - t0;
		w->signed_++;
		w->verified += w->n > 0 ? verify(dg, sig, len) : 1;
	}
out:
	p11->C_CloseSession(s);
	return NULL;
}

static int listings;
static CK_RV list_rv = CKR_OK;

static void *list_main(void *arg)
{
	CK_SESSION_HANDLE s;
	if ((list_rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK)
		return NULL;
	while (!stopped()) {
		CK_OBJECT_HANDLE h[64];
		CK_ULONG n = 0;
		if ((list_rv = p11->C_FindObjectsInit(s, NULL, 0)) != CKR_OK ||
		    (list_rv = p11->C_FindObjects(s, h, 64, &n)) != CKR_OK)
			break;
		p11->C_FindObjectsFinal(s);
		if (n < 2) {
			list_rv = CKR_GENERAL_ERROR;   /* the key pair must always be there */
			break;
		}
		listings++;
	}
	p11->C_CloseSession(s);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: kmsclient MODULE TOKEN PIN threads|bench|init ...\n");
		return 2;
	}
	double t0 = now_ms();
	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	CK_C_INITIALIZE_ARGS ia = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	double t1 = 0, t2 = 0;
	if (gfl == NULL || gfl(&p11) != CKR_OK || (t1 = now_ms(), p11->C_Initialize(&ia)) != CKR_OK ||
	    (t2 = now_ms(), find_token(argv[2])) != 0) {
		fprintf(stderr, "kmsclient: cannot load %s or find token %s\n", argv[1], argv[2]);
		return 1;
	}
	if (strcmp(argv[4], "init") == 0) {
		printf("init_ms %.2f initialize_ms %.2f\n", now_ms() - t0, t2 - t1);
		p11->C_Finalize(NULL);
		return 0;
	}
	if ((strcmp(argv[4], "keygen-dec") == 0 || strcmp(argv[4], "keygen-ec") == 0 ||
	     strcmp(argv[4], "keygen-pss") == 0) && argc == 6) {
		static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
		bool ec = strcmp(argv[4], "keygen-ec") == 0, pss = strcmp(argv[4], "keygen-pss") == 0;
		CK_MECHANISM_TYPE allowed[] = { CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS };
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE pubh, privh;
		CK_BBOOL t = CK_TRUE, f = CK_FALSE;
		CK_ULONG bits = 2048;
		CK_MECHANISM m = { ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
		CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &t, 1 }, { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_ENCRYPT, &t, 1 },
				      { CKA_VERIFY, &f, 1 }, { CKA_LABEL, argv[5], strlen(argv[5]) } };
		unsigned char id = ec ? 0x0e : pss ? 0x0f : 0x0d;
		CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &t, 1 }, { CKA_DECRYPT, ec || pss ? &f : &t, 1 },
				      { CKA_SIGN, ec || pss ? &t : &f, 1 }, { CKA_LABEL, argv[5], strlen(argv[5]) },
				      { CKA_ID, &id, 1 }, { CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed) } };
		if (pss) {
			/* RSA signing: verify instead of encrypt */
			pt[2] = (CK_ATTRIBUTE){ CKA_VERIFY, &t, 1 };
			pt[3] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &f, 1 };
		}
		if (ec) {
			/* EC: the curve instead of a modulus size, verify instead of encrypt */
			pt[1] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)p256, sizeof(p256) };
			pt[2] = (CK_ATTRIBUTE){ CKA_VERIFY, &t, 1 };
			pt[3] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &f, 1 };
		}
		CK_RV rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
		if (rv == CKR_OK)
			rv = p11->C_Login(s, CKU_USER, (unsigned char *)argv[3], strlen(argv[3]));
		if (rv == CKR_OK)
			rv = p11->C_GenerateKeyPair(s, &m, pt, 5, vt, pss ? 6 : 5, &pubh, &privh);
		printf(rv == CKR_OK ? "CKR_OK\n" : "CKR_0x%lx\n", (unsigned long)rv);
		p11->C_Finalize(NULL);
		return rv == CKR_OK ? 0 : 1;
	}
	if (argc < 8)
		return 2;
	int threads = atoi(argv[5]), n = atoi(argv[6]);
	bool bench = strcmp(argv[4], "bench") == 0;
	label = argv[7];
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	unsigned char spki[1024];
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
	CK_RV rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = p11->C_Login(s, CKU_USER, (unsigned char *)argv[3], strlen(argv[3]));
	if (rv == CKR_OK)
		rv = find(s, CKO_PUBLIC_KEY, &h);
	if (rv == CKR_OK)
		rv = p11->C_GetAttributeValue(s, h, &a, 1);
	const unsigned char *p = spki;
	if (rv != CKR_OK || (pub = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen)) == NULL) {
		fprintf(stderr, "kmsclient: no public key labelled %s: 0x%lx\n", label, (unsigned long)rv);
		return 1;
	}
	worker *w = calloc((size_t)threads, sizeof(*w));
	pthread_t lister;
	double start = now_ms();
	for (int i = 0; i < threads; i++) {
		w[i].n = bench ? 0 : n;
		pthread_create(&w[i].t, NULL, sign_main, &w[i]);
	}
	if (!bench)
		pthread_create(&lister, NULL, list_main, NULL);
	else {
		struct timespec ts = { n, 0 };
		nanosleep(&ts, NULL);
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	}
	int total = 0, ver = 0;
	CK_RV first = CKR_OK;
	double *all = NULL;
	size_t nall = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].signed_;
		ver += w[i].verified;
		if (first == CKR_OK && w[i].rv != CKR_OK)
			first = w[i].rv;
		all = realloc(all, (nall + w[i].nlat) * sizeof(double));
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(double));
		nall += w[i].nlat;
	}
	double secs = (now_ms() - start) / 1e3;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	if (!bench)
		pthread_join(lister, NULL);
	p11->C_Logout(s);
	p11->C_CloseSession(s);
	p11->C_Finalize(NULL);
	for (int i = 0; i < threads; i++)
		free(w[i].lat);
	free(w);
	EVP_PKEY_free(pub);
	int ok = total == threads * n && ver == total && first == CKR_OK && list_rv == CKR_OK && listings > 0;
	if (bench) {
		qsort(all, nall, sizeof(double), cmp_d);
		printf("ops_per_s %.1f p50_ms %.2f p99_ms %.2f n %zu first_error 0x%lx\n", total / secs,
		       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0, nall, (unsigned long)first);
		free(all);
		return first == CKR_OK ? 0 : 1;
	}
	free(all);
	printf("signed %d verified %d listings %d first_error 0x%lx list_error 0x%lx\n", total, ver, listings,
	       (unsigned long)first, (unsigned long)list_rv);
	return ok ? 0 : 1;
}
