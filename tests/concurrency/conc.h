/* What the concurrency, fork and no-lock suites share (after p11.h and
 * ossl.h): their world (soft slots and hsm slots over the hostile module,
 * tests/hostile/hostile.c), the hostile module's controls, and signing
 * checks. The checks never assert: they run in threads and in forked
 * children, where a failed ck_assert cannot report; they return a CK_RV,
 * CKR_SIGNATURE_INVALID when a signature did not verify (C_Sign never
 * returns that code), and name the failing step in *what. */
#ifndef HW_TEST_CONC_H
#define HW_TEST_CONC_H

#include "tests/dlopen/p11.h"
#include "tests/dlopen/ossl.h"
#include "tests/hostile/hostile.h"
#include "common/pkcs11_3.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

static char conc_log[300];

/* A fresh world whose config lists the given slots (the body of the JSON
 * "slots" array); the module logs warnings to a file there. */
static void conc_world(const char *slots)
{
	char conf[300];
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-conc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	snprintf(conc_log, sizeof(conc_log), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", "
		   "\"log\": {\"level\": \"warn\", \"file\": \"%s\"}, \"slots\": [%s]}\n",
		p11_dir, conc_log, slots);
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
}

/* ---- the hostile module ------------------------------------------------------------ */
static hostile_set_fn hostile;
static hostile_stat_fn hostile_stat_of;
static hostile_wait_fn hostile_wait;

/* Whether the hostile module is built (else the suite is skipped: 77). */
static int conc_hostile_built(void)
{
	const char *mod = getenv("HWAGG_HOSTILE");
	if (mod == NULL || access(mod, R_OK) != 0) {
		fprintf(stderr, "HWAGG_HOSTILE (the hostile test module) is not built\n");
		return 0;
	}
	return 1;
}

/* Its controls, on the same copy the hsm slot will load (one dlopen of
 * one path is one object). */
static void conc_hostile_open(void)
{
	const char *mod = getenv("HWAGG_HOSTILE");
	void *dl = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "dlopen %s: %s", mod, dlerror());
	*(void **)&hostile = dlsym(dl, "hostile_set");
	*(void **)&hostile_stat_of = dlsym(dl, "hostile_stat");
	*(void **)&hostile_wait = dlsym(dl, "hostile_wait_blocked");
	ck_assert(hostile != NULL && hostile_stat_of != NULL && hostile_wait != NULL);
	hostile("");
}

/* The config entry of an hsm slot over the hostile module's token. */
static void conc_hostile_slot(char *out, size_t len, const char *name)
{
	snprintf(out, len, "{\"name\": \"%s\", \"type\": \"hsm\", \"module\": \"%s\", \"token\": \"hostile\"}",
		 name, getenv("HWAGG_HOSTILE"));
}

#define HOSTILE_PIN "1234"

/* ---- tokens, sessions, objects ------------------------------------------------------ */
/* Initialize the soft token in slot id with SO_PIN and USER_PIN (p11.h). */
static void conc_init_soft(CK_SLOT_ID id, const char *label)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	unsigned char l[32];
	memset(l, ' ', sizeof(l));
	memcpy(l, label, strlen(label));
	CKR(p11->C_InitToken(id, (unsigned char *)SO_PIN, strlen(SO_PIN), l));
	CKR(p11->C_OpenSession(id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_SO, (unsigned char *)SO_PIN, strlen(SO_PIN)));
	CKR(p11->C_InitPIN(s, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	CKR(p11->C_Logout(s));
	CKR(p11->C_CloseSession(s));
}

/* Objects of class cls (and label, when not NULL) the session sees, in
 * one search; up to max handles in out. */
static CK_RV conc_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out,
		       CK_ULONG max, CK_ULONG *n, const char **what)
{
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, label ? strlen(label) : 0 } };
	CK_RV rv;
	*n = 0;
	if ((rv = p11->C_FindObjectsInit(s, t, label ? 2 : 1)) != CKR_OK) {
		*what = "C_FindObjectsInit";
		return rv;
	}
	if ((rv = p11->C_FindObjects(s, out, max, n)) != CKR_OK) {
		*what = "C_FindObjects";
		p11->C_FindObjectsFinal(s);
		return rv;
	}
	if ((rv = p11->C_FindObjectsFinal(s)) != CKR_OK)
		*what = "C_FindObjectsFinal";
	return rv;
}

/* The one object of class cls labelled label, else CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE conc_find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label)
{
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n;
	const char *what;
	if (conc_find(s, cls, label, h, 2, &n, &what) != CKR_OK || n != 1)
		return CK_INVALID_HANDLE;
	return h[0];
}

/* A public key object as OpenSSL sees it (its SubjectPublicKeyInfo); NULL
 * when it cannot be read. */
static EVP_PKEY *conc_pubkey(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	unsigned char buf[1024];
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, buf, sizeof(buf) };
	if (p11->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
		return NULL;
	const unsigned char *p = buf;
	return d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
}

/* ---- signing checks -------------------------------------------------------------- */
/* Sign with an EC key and verify with OpenSSL: CKM_ECDSA over a SHA-256
 * digest (hash false), or CKM_ECDSA_SHA256 over the message (hash true).
 * The message depends on seed, so each signature is over its own data. */
static CK_RV conc_sign_ec(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, EVP_PKEY *pub, bool hash, unsigned seed,
			  const char **what)
{
	char msg[64];
	unsigned char dg[32], sig[64];
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM m = { hash ? CKM_ECDSA_SHA256 : CKM_ECDSA, NULL, 0 };
	int n = snprintf(msg, sizeof(msg), "message %u of thread %lu", seed, (unsigned long)pthread_self());
	sha256(msg, (size_t)n, dg);
	CK_RV rv = p11->C_SignInit(s, &m, key);
	if (rv != CKR_OK) {
		*what = hash ? "C_SignInit(CKM_ECDSA_SHA256)" : "C_SignInit(CKM_ECDSA)";
		return rv;
	}
	rv = hash ? p11->C_Sign(s, (unsigned char *)msg, (CK_ULONG)n, sig, &len) : p11->C_Sign(s, dg, 32, sig, &len);
	if (rv != CKR_OK) {
		*what = hash ? "C_Sign(CKM_ECDSA_SHA256)" : "C_Sign(CKM_ECDSA)";
		return rv;
	}
	if (len != 64 || ossl_verify_ecdsa(pub, dg, 32, sig, len) != 1) {
		*what = hash ? "OpenSSL verification of a CKM_ECDSA_SHA256 signature"
			     : "OpenSSL verification of a CKM_ECDSA signature";
		return CKR_SIGNATURE_INVALID;
	}
	return CKR_OK;
}

/* What the hostile module's key "signs": byte i = data[i % len] ^ 0x5a. */
static bool conc_hostile_sig_ok(const unsigned char *d, size_t dlen, const unsigned char *sig, CK_ULONG len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (sig[i] != (unsigned char)(d[i % dlen] ^ 0x5a))
			return false;
	return true;
}

/* C_Sign of an operation already initialized with CKM_ECDSA on a hostile key. */
static CK_RV conc_hostile_finish(CK_SESSION_HANDLE s, unsigned char seed, const char **what)
{
	unsigned char d[32], sig[64];
	CK_ULONG len = sizeof(sig);
	memset(d, seed, sizeof(d));
	d[0] = (unsigned char)~seed;
	CK_RV rv = p11->C_Sign(s, d, sizeof(d), sig, &len);
	if (rv != CKR_OK) {
		*what = "C_Sign";
		return rv;
	}
	if (!conc_hostile_sig_ok(d, sizeof(d), sig, len)) {
		*what = "the signature the hostile module made";
		return CKR_SIGNATURE_INVALID;
	}
	return CKR_OK;
}

/* C_SignInit (CKM_ECDSA) and C_Sign with a hostile key. */
static CK_RV conc_hostile_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char seed, const char **what)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_RV rv = p11->C_SignInit(s, &m, key);
	if (rv != CKR_OK) {
		*what = "C_SignInit";
		return rv;
	}
	return conc_hostile_finish(s, seed, what);
}

/* ---- watchdog ------------------------------------------------------------------------ */
/* A deadline seconds from now, for conc_join. */
static struct timespec conc_deadline(int seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	return ts;
}

/* Join t unless the deadline passes first (a deadlock then fails the test
 * instead of hanging it); the thread's result in *ret. */
static bool conc_join(pthread_t t, const struct timespec *deadline, void **ret)
{
	return pthread_timedjoin_np(t, ret, deadline) == 0;
}

#endif
