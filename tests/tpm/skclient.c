/*
 * skclient: the tpm slot's secret keys through the built module, for
 * tests/tpm/secret.sh (which starts swtpm and writes the config).
 *
 *   skclient MODULE TOKEN PIN kat
 *       imported keys (C_CreateObject, TPM2_Create with the value):
 *       NIST SP 800-38A ECB, CBC and CTR and RFC 4231 / 2202 HMAC answers,
 *       single-part and in uneven parts; 5000 bytes (several TPM buffers)
 *       of CBC, CBC_PAD and CTR and a 3000-byte HMAC against OpenSSL with
 *       the same key; CBC_PAD round trip and a bad padding; the spec's
 *       length errors; a changed MAC; GCM refused; a CTR counter field
 *       shorter than the block up to where it would wrap;
 *       an imported key's attributes (not local, never always sensitive).
 *   skclient MODULE TOKEN PIN gen DIR
 *       token keys made by the TPM (AES-256 "gen-aes", HMAC 32 bytes
 *       "gen-mac"): their attributes, the value unreadable; writes the
 *       CBC encryption and the HMAC-SHA256 of a fixed message to DIR.
 *   skclient MODULE TOKEN PIN again DIR
 *       finds those keys (a new process) and gets the same answers.
 *   skclient MODULE TOKEN PIN once
 *       one AES-CBC encryption of 32 bytes with "gen-aes"; prints "rv 0x.."
 *       (exit 0 either way: the caller judges).
 *   skclient MODULE TOKEN PIN bench
 *       prints "hmac_ops_per_s X aes_cbc_kib_per_s Y": HMAC-SHA256 of 32
 *       bytes, one at a time, and AES-256-CBC of 64 KiB messages.
 * Prints "ok ..." per check; exit 1 at the first failure, naming it.
 */
#include "../dlopen/secret_vectors.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define BIG 5000

static CK_FUNCTION_LIST *p11;
static CK_SESSION_HANDLE S;
static const CK_BBOOL T_ = CK_TRUE;
static const CK_OBJECT_CLASS SECRET = CKO_SECRET_KEY;

static void fail(const char *what, CK_RV rv)
{
	printf("FAIL %s: 0x%lx\n", what, (unsigned long)rv);
	exit(1);
}

static void check(bool ok, const char *what)
{
	if (!ok)
		fail(what, 0);
}

static void ckr(CK_RV rv, CK_RV want, const char *what)
{
	if (rv != want)
		fail(what, rv);
}

static CK_OBJECT_HANDLE import(CK_KEY_TYPE kt, const void *v, CK_ULONG len, CK_RV want)
{
	CK_OBJECT_HANDLE h = 0;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE, (void *)v, len }, { CKA_ENCRYPT, (void *)&T_, 1 }, { CKA_DECRYPT, (void *)&T_, 1 },
		{ CKA_SIGN, (void *)&T_, 1 }, { CKA_VERIFY, (void *)&T_, 1 },
	};
	ckr(p11->C_CreateObject(S, t, N(t), &h), want, "import a secret key");
	return h;
}

static CK_OBJECT_HANDLE generate(CK_MECHANISM_TYPE mt, CK_KEY_TYPE kt, CK_ULONG len, const char *label, CK_RV want)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	CK_OBJECT_HANDLE h = 0;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, (void *)&T_, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) }, { CKA_ENCRYPT, (void *)&T_, 1 },
		{ CKA_DECRYPT, (void *)&T_, 1 }, { CKA_SIGN, (void *)&T_, 1 }, { CKA_VERIFY, (void *)&T_, 1 },
	};
	ckr(p11->C_GenerateKey(S, &m, t, N(t), &h), want, label);
	return h;
}

/* single: C_Encrypt/C_Decrypt after a length query; else parts of 5, 20,
 * 1500 and the rest with a query before each, then the final call. */
static CK_ULONG crypt(CK_MECHANISM *m, CK_OBJECT_HANDLE k, bool dec, bool single, const unsigned char *in,
		      CK_ULONG len, unsigned char *out, const char *what)
{
	static const CK_ULONG parts[] = { 5, 20, 1500 };
	CK_ULONG n = 0, done = 0, at = 0;
	ckr(dec ? p11->C_DecryptInit(S, m, k) : p11->C_EncryptInit(S, m, k), CKR_OK, what);
	if (single) {
		ckr(dec ? p11->C_Decrypt(S, (unsigned char *)in, len, NULL, &n)
			: p11->C_Encrypt(S, (unsigned char *)in, len, NULL, &n), CKR_OK, what);
		ckr(dec ? p11->C_Decrypt(S, (unsigned char *)in, len, out, &n)
			: p11->C_Encrypt(S, (unsigned char *)in, len, out, &n), CKR_OK, what);
		return n;
	}
	for (size_t i = 0; i <= N(parts); i++) {
		CK_ULONG p = i < N(parts) && parts[i] < len - at ? parts[i] : len - at;
		ckr(dec ? p11->C_DecryptUpdate(S, (unsigned char *)in + at, p, NULL, &n)
			: p11->C_EncryptUpdate(S, (unsigned char *)in + at, p, NULL, &n), CKR_OK, what);
		ckr(dec ? p11->C_DecryptUpdate(S, (unsigned char *)in + at, p, out + done, &n)
			: p11->C_EncryptUpdate(S, (unsigned char *)in + at, p, out + done, &n), CKR_OK, what);
		done += n;
		at += p;
	}
	n = BIG + 32;
	ckr(dec ? p11->C_DecryptFinal(S, out + done, &n) : p11->C_EncryptFinal(S, out + done, &n), CKR_OK, what);
	return done + n;
}

/* Encrypt gives want (single and in parts); both decrypt back. */
static void kat(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const unsigned char *plain, CK_ULONG plen,
		const unsigned char *want, CK_ULONG wlen, const char *what)
{
	static unsigned char out[BIG + 32], back[BIG + 32];
	for (int single = 1; single >= 0; single--) {
		CK_ULONG n = crypt(m, k, false, single, plain, plen, out, what);
		check(n == wlen && memcmp(out, want, wlen) == 0, what);
		n = crypt(m, k, true, !single, out, n, back, what);
		check(n == plen && memcmp(back, plain, plen) == 0, what);
	}
	printf("ok %s (single and multi-part, decrypts back)\n", what);
}

static void ossl_cipher(const char *name, const unsigned char *key, const unsigned char *iv,
			const unsigned char *in, int len, unsigned char *out, int *out_len)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int a = 0, b = 0;
	check(x != NULL && EVP_EncryptInit_ex(x, EVP_get_cipherbyname(name), NULL, key, iv) &&
	      EVP_EncryptUpdate(x, out, &a, in, len) && EVP_EncryptFinal_ex(x, out + a, &b), "OpenSSL cipher");
	*out_len = a + b;
	EVP_CIPHER_CTX_free(x);
}

static CK_ULONG mac(CK_MECHANISM *m, CK_OBJECT_HANDLE k, bool single, const void *in, CK_ULONG len,
		    unsigned char *out, const char *what)
{
	CK_ULONG n = 64, at = 0;
	ckr(p11->C_SignInit(S, m, k), CKR_OK, what);
	if (single) {
		ckr(p11->C_Sign(S, (unsigned char *)in, len, out, &n), CKR_OK, what);
		return n;
	}
	while (at < len) {
		CK_ULONG p = len - at < 7 ? len - at : at == 0 ? 7 : len - at > 1100 ? 1100 : len - at;
		ckr(p11->C_SignUpdate(S, (unsigned char *)in + at, p), CKR_OK, what);
		at += p;
	}
	ckr(p11->C_SignFinal(S, out, &n), CKR_OK, what);
	return n;
}

static void mac_kat(CK_OBJECT_HANDLE k, CK_MECHANISM_TYPE mt, const void *data, CK_ULONG len,
		    const unsigned char *want, CK_ULONG wlen, const char *what)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	unsigned char out[64], bad[64];
	for (int single = 1; single >= 0; single--) {
		CK_ULONG n = mac(&m, k, single, data, len, out, what);
		check(n == wlen && memcmp(out, want, wlen) == 0, what);
	}
	ckr(p11->C_VerifyInit(S, &m, k), CKR_OK, what);
	ckr(p11->C_Verify(S, (unsigned char *)data, len, (unsigned char *)want, wlen), CKR_OK, what);
	memcpy(bad, want, wlen);
	bad[wlen / 2] ^= 0x01;
	ckr(p11->C_VerifyInit(S, &m, k), CKR_OK, what);
	ckr(p11->C_Verify(S, (unsigned char *)data, len, bad, wlen), CKR_SIGNATURE_INVALID, what);
	printf("ok %s (single and multi-part, verifies, a changed MAC does not)\n", what);
}

static CK_BBOOL get_bool(CK_OBJECT_HANDLE k, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL b = 2;
	CK_ATTRIBUTE a = { t, &b, 1 };
	ckr(p11->C_GetAttributeValue(S, k, &a, 1), CKR_OK, "read an attribute");
	return b;
}

/* What a key the TPM holds says of itself; its value cannot be read. */
static void attrs(CK_OBJECT_HANDLE k, bool local, const char *what)
{
	unsigned char v[64];
	CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
	check(get_bool(k, CKA_SENSITIVE) == CK_TRUE && get_bool(k, CKA_EXTRACTABLE) == CK_FALSE &&
	      get_bool(k, CKA_LOCAL) == local && get_bool(k, CKA_ALWAYS_SENSITIVE) == local &&
	      get_bool(k, CKA_NEVER_EXTRACTABLE) == local, what);
	ckr(p11->C_GetAttributeValue(S, k, &a, 1), CKR_ATTRIBUTE_SENSITIVE, what);
	printf("ok %s\n", what);
}

/* CKA_CHECK_VALUE is want (3 bytes) */
static void check_value(CK_OBJECT_HANDLE k, const unsigned char *want, const char *what)
{
	unsigned char cv[8];
	CK_ATTRIBUTE a = { CKA_CHECK_VALUE, cv, sizeof(cv) };
	ckr(p11->C_GetAttributeValue(S, k, &a, 1), CKR_OK, what);
	check(a.ulValueLen == 3 && memcmp(cv, want, 3) == 0, what);
	printf("ok %s\n", what);
}

/* The AES check value: a zero block under the key, by the key's own ECB. */
static void aes_check_value(CK_OBJECT_HANDLE k, const char *what)
{
	static const unsigned char zero[16];
	unsigned char out[16];
	CK_ULONG n = sizeof(out);
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
	ckr(p11->C_EncryptInit(S, &ecb, k), CKR_OK, what);
	ckr(p11->C_Encrypt(S, (unsigned char *)zero, 16, out, &n), CKR_OK, what);
	check_value(k, out, what);
}

static void run_kat(void)
{
	static unsigned char big[BIG], want[BIG + 32], out[BIG + 32];
	unsigned char iv[16];
	int wl = 0;
	CK_AES_CTR_PARAMS ctr = { .counter_bits = 128 };
	memcpy(ctr.cb, KAT_CTR_CB, 16);
	memcpy(iv, KAT_CBC_IV, 16);
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 }, cbc = { CKM_AES_CBC, iv, 16 },
		     pad = { CKM_AES_CBC_PAD, iv, 16 }, ctrm = { CKM_AES_CTR, &ctr, sizeof(ctr) };
	CK_OBJECT_HANDLE k128 = import(CKK_AES, KAT_KEY128, 16, CKR_OK), k256 = import(CKK_AES, KAT_KEY256, 32, CKR_OK);
	attrs(k256, false, "an imported AES key: sensitive, not extractable, not local");
	{
		static const unsigned char zero[16];
		unsigned char z[32], sha[20];
		int zl = 0;
		ossl_cipher("AES-128-ECB", KAT_KEY128, NULL, zero, 16, z, &zl);
		check_value(k128, z, "an imported AES key's CKA_CHECK_VALUE as OpenSSL's");
		SHA1((const unsigned char *)HMAC2_KEY, 4, sha);
		check_value(import(CKK_GENERIC_SECRET, HMAC2_KEY, 4, CKR_OK), sha,
			    "an imported HMAC key's CKA_CHECK_VALUE: its SHA-1");
	}
	kat(&ecb, k128, KAT_PLAIN, 64, KAT_ECB128, 64, "AES-128-ECB, SP 800-38A F.1.1");
	kat(&cbc, k128, KAT_PLAIN, 64, KAT_CBC128, 64, "AES-128-CBC, SP 800-38A F.2.1");
	kat(&cbc, k256, KAT_PLAIN, 64, KAT_CBC256, 64, "AES-256-CBC, SP 800-38A F.2.5");
	kat(&ctrm, k128, KAT_PLAIN, 64, KAT_CTR128, 64, "AES-128-CTR, SP 800-38A F.5.1");
	kat(&ctrm, k128, KAT_PLAIN, 61, KAT_CTR128, 61, "AES-128-CTR, a partial last block");

	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	ossl_cipher("AES-256-CBC", KAT_KEY256, iv, big, BIG - 8, want, &wl);
	kat(&pad, k256, big, BIG - 8, want, (CK_ULONG)wl, "AES-256-CBC-PAD, 4992 bytes as OpenSSL");
	ossl_cipher("AES-256-CTR", KAT_KEY256, KAT_CTR_CB, big, BIG - 3, want, &wl);
	kat(&ctrm, k256, big, BIG - 3, want, (CK_ULONG)wl, "AES-256-CTR, 4997 bytes as OpenSSL");
	ossl_cipher("AES-128-CBC", KAT_KEY128, iv, KAT_PLAIN, 45, want, &wl);
	check(wl == 48 && memcmp(want, KAT_CBC128, 32) == 0, "OpenSSL's CBC-PAD starts as F.2.1");
	kat(&pad, k128, KAT_PLAIN, 45, want, 48, "AES-128-CBC-PAD, 45 bytes");

	/* the spec's length rules and what the TPM cannot do */
	CK_ULONG n = sizeof(out);
	ckr(p11->C_EncryptInit(S, &ecb, k128), CKR_OK, "ECB init");
	ckr(p11->C_Encrypt(S, big, 17, out, &n), CKR_DATA_LEN_RANGE, "ECB of 17 bytes");
	n = sizeof(out);
	ckr(p11->C_DecryptInit(S, &cbc, k128), CKR_OK, "CBC init");
	ckr(p11->C_Decrypt(S, big, 17, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE, "CBC decryption of 17 bytes");
	n = sizeof(out);
	ckr(p11->C_DecryptInit(S, &pad, k128), CKR_OK, "CBC-PAD init");
	ckr(p11->C_Decrypt(S, (unsigned char *)KAT_CBC128, 64, out, &n), CKR_ENCRYPTED_DATA_INVALID,
	    "CBC-PAD decryption of a ciphertext without padding");
	printf("ok length rules: CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE, bad padding\n");
	/* a counter field shorter than the block: the same answers until it
	 * would wrap (SP 800-38A's counter block ends in 0xff: an 8-bit field
	 * has one block left, a 32-bit one plenty) */
	ctr.counter_bits = 32;
	kat(&ctrm, k128, KAT_PLAIN, 64, KAT_CTR128, 64, "AES-128-CTR with a 32-bit counter field");
	ctr.counter_bits = 8;
	n = sizeof(out);
	ckr(p11->C_EncryptInit(S, &ctrm, k128), CKR_OK, "CTR with an 8-bit counter");
	ckr(p11->C_Encrypt(S, (unsigned char *)KAT_PLAIN, 16, out, &n), CKR_OK, "CTR: the block before the wrap");
	check(n == 16 && memcmp(out, KAT_CTR128, 16) == 0, "CTR: the block before the wrap");
	n = sizeof(out);
	ckr(p11->C_EncryptInit(S, &ctrm, k128), CKR_OK, "CTR with an 8-bit counter");
	ckr(p11->C_Encrypt(S, (unsigned char *)KAT_PLAIN, 17, out, &n), CKR_DATA_LEN_RANGE, "CTR across the wrap");
	printf("ok an 8-bit CTR counter field: one block, then CKR_DATA_LEN_RANGE where it would wrap\n");
	unsigned char gcm_iv[12] = { 0 };
	CK_GCM_PARAMS gp = { .pIv = gcm_iv, .ulIvLen = 12, .ulIvBits = 96, .ulTagBits = 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &gp, sizeof(gp) };
	ckr(p11->C_EncryptInit(S, &gcm, k128), CKR_MECHANISM_INVALID, "GCM");
	printf("ok refused: GCM (the TPM has none)\n");

	/* HMAC: RFC 4231 / RFC 2202 test case 2, key "Jefe" */
	CK_OBJECT_HANDLE h = import(CKK_GENERIC_SECRET, HMAC2_KEY, 4, CKR_OK);
	mac_kat(h, CKM_SHA256_HMAC, HMAC2_DATA, strlen(HMAC2_DATA), HMAC2_SHA256, 32, "HMAC-SHA256, RFC 4231 2");
	mac_kat(h, CKM_SHA384_HMAC, HMAC2_DATA, strlen(HMAC2_DATA), HMAC2_SHA384, 48, "HMAC-SHA384, RFC 4231 2");
	mac_kat(h, CKM_SHA512_HMAC, HMAC2_DATA, strlen(HMAC2_DATA), HMAC2_SHA512, 64, "HMAC-SHA512, RFC 4231 2");
	mac_kat(h, CKM_SHA_1_HMAC, HMAC2_DATA, strlen(HMAC2_DATA), HMAC2_SHA1, 20, "HMAC-SHA1, RFC 2202 2");
	CK_ULONG gl = 16;
	CK_MECHANISM gen = { CKM_SHA256_HMAC_GENERAL, &gl, sizeof(gl) };
	unsigned char m16[64];
	check(mac(&gen, h, true, HMAC2_DATA, strlen(HMAC2_DATA), m16, "HMAC-SHA256-GENERAL") == 16 &&
	      memcmp(m16, HMAC2_SHA256, 16) == 0, "HMAC-SHA256-GENERAL, 16 bytes");
	printf("ok HMAC-SHA256-GENERAL: the leftmost 16 bytes\n");
	/* RFC 2202 test case 6: an 80-byte key (longer than SHA-1's block) */
	unsigned char k80[HMAC6_SHA1_KEY_LEN], m[64];
	memset(k80, 0xaa, sizeof(k80));
	mac_kat(import(CKK_SHA_1_HMAC, k80, sizeof(k80), CKR_OK), CKM_SHA_1_HMAC, HMAC6_DATA, strlen(HMAC6_DATA),
		HMAC6_SHA1, 20, "HMAC-SHA1 with an 80-byte key, RFC 2202 6");
	/* longer than one TPM buffer: an HMAC sequence in the TPM */
	unsigned int ml = 0;
	check(HMAC(EVP_sha256(), KAT_KEY256, 32, big, 3000, m, &ml) != NULL, "OpenSSL HMAC");
	mac_kat(import(CKK_SHA256_HMAC, KAT_KEY256, 32, CKR_OK), CKM_SHA256_HMAC, big, 3000, m, ml,
		"HMAC-SHA256 of 3000 bytes as OpenSSL");
	unsigned char k129[129];
	memset(k129, 0xaa, sizeof(k129));
	import(CKK_GENERIC_SECRET, k129, sizeof(k129), CKR_ATTRIBUTE_VALUE_INVALID);
	generate(CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 33, "odd", CKR_ATTRIBUTE_VALUE_INVALID);
	printf("ok refused: a 129-byte HMAC key, a generated one of 33 bytes\n");
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void bench(void)
{
	static unsigned char in[65536], out[65536 + 16];
	unsigned char iv[16] = { 0 }, m[64];
	CK_MECHANISM cbc = { CKM_AES_CBC, iv, 16 }, hm = { CKM_SHA256_HMAC, NULL, 0 };
	CK_OBJECT_HANDLE a = import(CKK_AES, KAT_KEY256, 32, CKR_OK), h = import(CKK_GENERIC_SECRET, KAT_KEY256, 32, CKR_OK);
	int macs = 0, msgs = 0;
	double t0 = now();
	while (now() - t0 < 2.0 && ++macs)
		mac(&hm, h, true, in, 32, m, "bench HMAC");
	double t1 = now();
	while (now() - t1 < 2.0 && ++msgs)
		crypt(&cbc, a, false, true, in, sizeof(in), out, "bench AES");
	double t2 = now();
	printf("hmac_ops_per_s %.0f aes_cbc_kib_per_s %.0f\n", macs / (t1 - t0), msgs * 64.0 / (t2 - t1));
}

static const char MSG[] = "hwagg: secret keys in the TPM, the same answer in every process";

static void answers(CK_OBJECT_HANDLE aes, CK_OBJECT_HANDLE hk, const char *dir, bool write)
{
	unsigned char iv[16] = { 1, 2, 3 }, out[128], m[64], old[256];
	CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv, 16 };
	CK_ULONG n = crypt(&cbc, aes, false, true, (const unsigned char *)MSG, sizeof(MSG), out, "encrypt");
	CK_ULONG ml = mac(&(CK_MECHANISM){ CKM_SHA256_HMAC, NULL, 0 }, hk, true, MSG, sizeof(MSG), m, "sign");
	char path[512];
	snprintf(path, sizeof(path), "%s/answers", dir);
	FILE *f = fopen(path, write ? "wb" : "rb");
	check(f != NULL && n + ml <= sizeof(old), "the answers file");
	if (write) {
		check(fwrite(out, 1, n, f) == n && fwrite(m, 1, ml, f) == ml, "write the answers");
	} else {
		check(fread(old, 1, sizeof(old), f) == n + ml && memcmp(old, out, n) == 0 &&
		      memcmp(old + n, m, ml) == 0, "the same answers as the process that made the keys");
		printf("ok a new process finds the token keys and gets the same answers\n");
	}
	fclose(f);
}

static CK_OBJECT_HANDLE find(const char *label)
{
	CK_ATTRIBUTE t[] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h = 0;
	CK_ULONG n = 0;
	ckr(p11->C_FindObjectsInit(S, t, 1), CKR_OK, "find");
	ckr(p11->C_FindObjects(S, &h, 1, &n), CKR_OK, "find");
	p11->C_FindObjectsFinal(S);
	check(n == 1, label);
	return h;
}

int main(int argc, char **argv)
{
	CK_SLOT_ID slots[16];
	CK_ULONG ns = N(slots);
	CK_TOKEN_INFO ti;
	if (argc < 5) {
		fprintf(stderr, "usage: skclient MODULE TOKEN PIN kat|gen DIR|again DIR\n");
		return 2;
	}
	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	check(gfl != NULL && gfl(&p11) == CKR_OK, "load the module");
	ckr(p11->C_Initialize(NULL), CKR_OK, "C_Initialize");
	ckr(p11->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK, "C_GetSlotList");
	size_t i = 0;
	for (; i < ns; i++)
		if (p11->C_GetTokenInfo(slots[i], &ti) == CKR_OK && strncmp((char *)ti.label, argv[2], strlen(argv[2])) == 0)
			break;
	check(i < ns, "the token");
	ckr(p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &S), CKR_OK, "session");
	ckr(p11->C_Login(S, CKU_USER, (unsigned char *)argv[3], strlen(argv[3])), CKR_OK, "login");
	if (strcmp(argv[4], "kat") == 0) {
		run_kat();
	} else if (strcmp(argv[4], "once") == 0) {
		unsigned char iv[16] = { 0 }, in[32] = { 0 }, out[48];
		CK_MECHANISM cbc = { CKM_AES_CBC, iv, 16 };
		CK_ULONG n = sizeof(out);
		CK_RV rv = p11->C_EncryptInit(S, &cbc, find("gen-aes"));
		if (rv == CKR_OK)
			rv = p11->C_Encrypt(S, in, sizeof(in), out, &n);
		printf("rv 0x%lx\n", (unsigned long)rv);
	} else if (strcmp(argv[4], "bench") == 0) {
		bench();
	} else if (strcmp(argv[4], "gen") == 0 && argc > 5) {
		CK_OBJECT_HANDLE a = generate(CKM_AES_KEY_GEN, CKK_AES, 32, "gen-aes", CKR_OK);
		CK_OBJECT_HANDLE h = generate(CKM_GENERIC_SECRET_KEY_GEN, CKK_SHA256_HMAC, 32, "gen-mac", CKR_OK);
		attrs(a, true, "a generated AES key: sensitive, never extractable, local");
		aes_check_value(a, "a generated AES key's CKA_CHECK_VALUE is its own ECB of a zero block");
		attrs(h, true, "a generated HMAC key: sensitive, never extractable, local");
		answers(a, h, argv[5], true);
	} else if (strcmp(argv[4], "again") == 0 && argc > 5) {
		answers(find("gen-aes"), find("gen-mac"), argv[5], false);
	} else {
		fail("unknown command", 0);
	}
	p11->C_Logout(S);
	p11->C_CloseSession(S);
	ckr(p11->C_Finalize(NULL), CKR_OK, "C_Finalize");
	return 0;
}
