/*
 * Secret-key cases that hold on every slot that has secret keys, driven
 * through the built module (after p11.h): the includer defines SK_SLOT and
 * sk_session() (a logged-in R/W session on it), and SK_TAG_FAILS(rv): the
 * answer it gives to a GCM ciphertext whose tag does not match. Known answers come from
 * secret_vectors.h; multi-part runs feed uneven parts and must equal the
 * single-part answer.
 */
#ifndef HW_TEST_SECRET_CASES_H
#define HW_TEST_SECRET_CASES_H

#include "secret_vectors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const CK_OBJECT_CLASS SECRET_CLASS = CKO_SECRET_KEY;
static const CK_BBOOL T_ = CK_TRUE, F_ = CK_FALSE;

/* C_CreateObject of a secret key with value v (encrypt, decrypt, sign,
 * verify allowed). */
static CK_RV import_secret(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const void *v, CK_ULONG len, CK_BBOOL token,
			   CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE, (void *)v, len }, { CKA_TOKEN, &token, 1 }, { CKA_ENCRYPT, (void *)&T_, 1 },
		{ CKA_DECRYPT, (void *)&T_, 1 }, { CKA_SIGN, (void *)&T_, 1 }, { CKA_VERIFY, (void *)&T_, 1 },
		{ CKA_LABEL, "kat", 3 },
	};
	return p11->C_CreateObject(s, t, N(t), out);
}

static CK_OBJECT_HANDLE imported(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const void *v, CK_ULONG len)
{
	CK_RV rv;
	CK_OBJECT_HANDLE h;
	CKR(import_secret(s, kt, v, len, CK_FALSE, &h));
	return h;
}

static CK_RV gen_secret(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mt, CK_KEY_TYPE kt, CK_ULONG len, CK_BBOOL token,
			const char *label, CK_OBJECT_HANDLE *out)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &token, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) }, { CKA_ENCRYPT, (void *)&T_, 1 },
		{ CKA_DECRYPT, (void *)&T_, 1 }, { CKA_SIGN, (void *)&T_, 1 }, { CKA_VERIFY, (void *)&T_, 1 },
		{ CKA_SENSITIVE, (void *)&T_, 1 },
	};
	return p11->C_GenerateKey(s, &m, t, N(t), out);
}

/* One-shot, with the length query first (B 5.2). */
static CK_ULONG crypt1(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k, bool dec, const unsigned char *in,
		       CK_ULONG len, unsigned char *out)
{
	CK_RV rv;
	CK_ULONG n = 0, query;
	CKR(dec ? p11->C_DecryptInit(s, m, k) : p11->C_EncryptInit(s, m, k));
	CKR(dec ? p11->C_Decrypt(s, (unsigned char *)in, len, NULL, &n)
		: p11->C_Encrypt(s, (unsigned char *)in, len, NULL, &n));
	query = n;
	CKR(dec ? p11->C_Decrypt(s, (unsigned char *)in, len, out, &n)
		: p11->C_Encrypt(s, (unsigned char *)in, len, out, &n));
	ck_assert_uint_le(n, query);            /* the query was sufficient */
	return n;
}

/* In parts of 5, 20, then the rest, with a size query before each part. */
static CK_ULONG crypt_parts(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k, bool dec,
			    const unsigned char *in, CK_ULONG len, unsigned char *out)
{
	CK_RV rv;
	CK_ULONG done = 0, at = 0, n;
	static const CK_ULONG parts[] = { 5, 20 };
	CKR(dec ? p11->C_DecryptInit(s, m, k) : p11->C_EncryptInit(s, m, k));
	for (size_t i = 0; i <= N(parts); i++) {
		CK_ULONG p = i < N(parts) ? parts[i] : len - at;
		if (p > len - at)
			p = len - at;
		CKR(dec ? p11->C_DecryptUpdate(s, (unsigned char *)in + at, p, NULL, &n)
			: p11->C_EncryptUpdate(s, (unsigned char *)in + at, p, NULL, &n));
		CKR(dec ? p11->C_DecryptUpdate(s, (unsigned char *)in + at, p, out + done, &n)
			: p11->C_EncryptUpdate(s, (unsigned char *)in + at, p, out + done, &n));
		done += n;
		at += p;
	}
	n = 0;
	CKR(dec ? p11->C_DecryptFinal(s, NULL, &n) : p11->C_EncryptFinal(s, NULL, &n));
	CKR(dec ? p11->C_DecryptFinal(s, out + done, &n) : p11->C_EncryptFinal(s, out + done, &n));
	return done + n;
}

/* Encrypt gives want, single and in parts; both decrypt back. */
static void cipher_kat(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE k, const unsigned char *plain,
		       CK_ULONG plen, const unsigned char *want, CK_ULONG wlen)
{
	unsigned char out[256], back[256];
	ck_assert_uint_eq(crypt1(s, m, k, false, plain, plen, out), wlen);
	ck_assert_mem_eq(out, want, wlen);
	memset(out, 0, sizeof(out));
	ck_assert_uint_eq(crypt_parts(s, m, k, false, plain, plen, out), wlen);
	ck_assert_mem_eq(out, want, wlen);
	ck_assert_uint_eq(crypt1(s, m, k, true, want, wlen, back), plen);
	ck_assert_mem_eq(back, plain, plen);
	memset(back, 0, sizeof(back));
	ck_assert_uint_eq(crypt_parts(s, m, k, true, want, wlen, back), plen);
	ck_assert_mem_eq(back, plain, plen);
}

START_TEST(aes_known_answers)
{
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k128 = imported(s, CKK_AES, KAT_KEY128, 16), k256 = imported(s, CKK_AES, KAT_KEY256, 32);
	CK_AES_CTR_PARAMS ctr = { 128, { 0 } };
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 }, cbc = { CKM_AES_CBC, (void *)KAT_CBC_IV, 16 },
		     ctrm = { CKM_AES_CTR, &ctr, sizeof(ctr) }, pad = { CKM_AES_CBC_PAD, (void *)KAT_CBC_IV, 16 };
	unsigned char padded[80];
	memcpy(ctr.cb, KAT_CTR_CB, 16);
	cipher_kat(s, &ecb, k128, KAT_PLAIN, 64, KAT_ECB128, 64);
	cipher_kat(s, &cbc, k128, KAT_PLAIN, 64, KAT_CBC128, 64);
	cipher_kat(s, &cbc, k256, KAT_PLAIN, 64, KAT_CBC256, 64);
	cipher_kat(s, &ctrm, k128, KAT_PLAIN, 64, KAT_CTR128, 64);
	/* CTR of a part block is the keystream's prefix */
	cipher_kat(s, &ctrm, k128, KAT_PLAIN, 37, KAT_CTR128, 37);
	/* CBC_PAD: CBC of the same blocks, then a whole block of padding */
	unsigned char tail[16];
	memset(tail, 16, sizeof(tail));
	CK_ULONG n = crypt1(s, &pad, k128, false, KAT_PLAIN, 64, padded);
	ck_assert_uint_eq(n, 80);
	ck_assert_mem_eq(padded, KAT_CBC128, 64);
	{
		/* the padding block is E(K, C4 xor 16...16) */
		CK_MECHANISM cbc4 = { CKM_AES_CBC, (void *)(KAT_CBC128 + 48), 16 };
		unsigned char last[16];
		ck_assert_uint_eq(crypt1(s, &cbc4, k128, false, tail, 16, last), 16);
		ck_assert_mem_eq(padded + 64, last, 16);
	}
	cipher_kat(s, &pad, k128, KAT_PLAIN, 64, padded, 80);
	/* and an unaligned message round trips, single and in parts */
	ck_assert_uint_eq(crypt1(s, &pad, k128, false, KAT_PLAIN, 45, padded), 48);
	cipher_kat(s, &pad, k128, KAT_PLAIN, 45, padded, 48);
}
END_TEST

START_TEST(gcm_known_answer)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k = imported(s, CKK_AES, GCM4_KEY, 16);
	CK_GCM_PARAMS g = { (CK_BYTE_PTR)GCM4_IV, 12, 96, (CK_BYTE_PTR)GCM4_AAD, 20, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &g, sizeof(g) };
	unsigned char out[128], bad[76];
	CK_ULONG n;
	cipher_kat(s, &m, k, GCM4_PLAIN, 60, GCM4_OUT, 76);
	/* a shorter tag is the full tag's prefix */
	g.ulTagBits = 96;
	ck_assert_uint_eq(crypt1(s, &m, k, false, GCM4_PLAIN, 60, out), 72);
	ck_assert_mem_eq(out, GCM4_OUT, 72);
	g.ulTagBits = 128;
	/* a changed byte anywhere fails the tag and gives no plaintext */
	memcpy(bad, GCM4_OUT, sizeof(bad));
	bad[70] ^= 1;
	CKR(p11->C_DecryptInit(s, &m, k));
	n = sizeof(out);
	rv = p11->C_Decrypt(s, bad, sizeof(bad), out, &n);
	ck_assert_msg(SK_TAG_FAILS(rv), "a changed tag: 0x%lx", (unsigned long)rv);
	/* shorter than the tag */
	CKR(p11->C_DecryptInit(s, &m, k));
	n = sizeof(out);
	CKR_EQ(p11->C_Decrypt(s, bad, 15, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* parameters: no IV, a tag length GCM does not have, a wrong size */
	g.ulIvLen = 0;
	CKR_EQ(p11->C_EncryptInit(s, &m, k), CKR_MECHANISM_PARAM_INVALID);
	g.ulIvLen = 12;
	g.ulTagBits = 100;
	CKR_EQ(p11->C_EncryptInit(s, &m, k), CKR_MECHANISM_PARAM_INVALID);
	g.ulTagBits = 128;
	m.ulParameterLen = sizeof(g) + 8;
	CKR_EQ(p11->C_EncryptInit(s, &m, k), CKR_MECHANISM_PARAM_INVALID);
}
END_TEST

#define HMAC_DATA HMAC6_DATA

static void hmac_one(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_MECHANISM_TYPE mt, const unsigned char *want,
		     CK_ULONG wlen)
{
	CK_RV rv;
	CK_MECHANISM m = { mt, NULL, 0 };
	unsigned char mac[64];
	CK_ULONG n = 0, dl = strlen(HMAC_DATA);
	CKR(p11->C_SignInit(s, &m, k));
	CKR(p11->C_Sign(s, (unsigned char *)HMAC_DATA, dl, NULL, &n));
	ck_assert_uint_eq(n, wlen);
	n = wlen - 1;
	CKR_EQ(p11->C_Sign(s, (unsigned char *)HMAC_DATA, dl, mac, &n), CKR_BUFFER_TOO_SMALL);
	n = sizeof(mac);
	CKR(p11->C_Sign(s, (unsigned char *)HMAC_DATA, dl, mac, &n));
	ck_assert_uint_eq(n, wlen);
	ck_assert_mem_eq(mac, want, wlen);
	/* in parts */
	memset(mac, 0, sizeof(mac));
	CKR(p11->C_SignInit(s, &m, k));
	CKR(p11->C_SignUpdate(s, (unsigned char *)HMAC_DATA, 7));
	CKR(p11->C_SignUpdate(s, (unsigned char *)HMAC_DATA + 7, dl - 7));
	n = sizeof(mac);
	CKR(p11->C_SignFinal(s, mac, &n));
	ck_assert_mem_eq(mac, want, wlen);
	/* verify: good, changed, and of another length */
	CKR(p11->C_VerifyInit(s, &m, k));
	CKR(p11->C_Verify(s, (unsigned char *)HMAC_DATA, dl, mac, wlen));
	CKR(p11->C_VerifyInit(s, &m, k));
	CKR(p11->C_VerifyUpdate(s, (unsigned char *)HMAC_DATA, 3));
	CKR(p11->C_VerifyUpdate(s, (unsigned char *)HMAC_DATA + 3, dl - 3));
	CKR(p11->C_VerifyFinal(s, mac, wlen));
	mac[0] ^= 0x80;
	CKR(p11->C_VerifyInit(s, &m, k));
	CKR_EQ(p11->C_Verify(s, (unsigned char *)HMAC_DATA, dl, mac, wlen), CKR_SIGNATURE_INVALID);
	mac[0] ^= 0x80;
	CKR(p11->C_VerifyInit(s, &m, k));
	CKR_EQ(p11->C_Verify(s, (unsigned char *)HMAC_DATA, dl, mac, wlen - 1), CKR_SIGNATURE_LEN_RANGE);
}

START_TEST(hmac_known_answers)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	unsigned char key[HMAC6_KEY_LEN];
	memset(key, 0xaa, sizeof(key));
	CK_OBJECT_HANDLE k = imported(s, CKK_GENERIC_SECRET, key, HMAC6_KEY_LEN),
			 k1 = imported(s, CKK_GENERIC_SECRET, key, HMAC6_SHA1_KEY_LEN);
	CK_ULONG len = 16;
	CK_MECHANISM g = { CKM_SHA256_HMAC_GENERAL, &len, sizeof(len) };
	unsigned char mac[64];
	CK_ULONG n = sizeof(mac), dl = strlen(HMAC_DATA);
	hmac_one(s, k1, CKM_SHA_1_HMAC, HMAC6_SHA1, 20);
	hmac_one(s, k, CKM_SHA224_HMAC, HMAC6_SHA224, 28);
	hmac_one(s, k, CKM_SHA256_HMAC, HMAC6_SHA256, 32);
	hmac_one(s, k, CKM_SHA384_HMAC, HMAC6_SHA384, 48);
	hmac_one(s, k, CKM_SHA512_HMAC, HMAC6_SHA512, 64);
	/* the general form, where the slot has it: the first len bytes,
	 * verified at that length */
	CK_MECHANISM_INFO mi;
	if (p11->C_GetMechanismInfo(SK_SLOT, CKM_SHA256_HMAC_GENERAL, &mi) == CKR_MECHANISM_INVALID) {
		CKR_EQ(p11->C_SignInit(s, &g, k), CKR_MECHANISM_INVALID);
		return;
	}
	CKR(p11->C_SignInit(s, &g, k));
	CKR(p11->C_Sign(s, (unsigned char *)HMAC_DATA, dl, mac, &n));
	ck_assert_uint_eq(n, 16);
	ck_assert_mem_eq(mac, HMAC6_SHA256, 16);
	CKR(p11->C_VerifyInit(s, &g, k));
	CKR(p11->C_Verify(s, (unsigned char *)HMAC_DATA, dl, mac, 16));
	CKR(p11->C_VerifyInit(s, &g, k));
	CKR_EQ(p11->C_Verify(s, (unsigned char *)HMAC_DATA, dl, (unsigned char *)HMAC6_SHA256, 32),
	       CKR_SIGNATURE_LEN_RANGE);
	len = 33;   /* longer than the digest */
	CKR_EQ(p11->C_SignInit(s, &g, k), CKR_MECHANISM_PARAM_INVALID);
	g.ulParameterLen = 4;
	len = 16;
	CKR_EQ(p11->C_SignInit(s, &g, k), CKR_MECHANISM_PARAM_INVALID);
}
END_TEST

/* The spec's length rules and the output convention (B 5.2, M "AES"). */
START_TEST(length_rules)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k = imported(s, CKK_AES, KAT_KEY128, 16);
	CK_MECHANISM cbc = { CKM_AES_CBC, (void *)KAT_CBC_IV, 16 }, pad = { CKM_AES_CBC_PAD, (void *)KAT_CBC_IV, 16 };
	unsigned char out[128];
	CK_ULONG n;
	/* CBC takes whole blocks; an error ends the operation */
	CKR(p11->C_EncryptInit(s, &cbc, k));
	n = sizeof(out);
	CKR_EQ(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 15, out, &n), CKR_DATA_LEN_RANGE);
	CKR_EQ(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 16, out, &n), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_DecryptInit(s, &cbc, k));
	n = sizeof(out);
	CKR_EQ(p11->C_Decrypt(s, (unsigned char *)KAT_CBC128, 17, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* multi-part: the rest is checked at the final call */
	CKR(p11->C_EncryptInit(s, &cbc, k));
	n = sizeof(out);
	CKR(p11->C_EncryptUpdate(s, (unsigned char *)KAT_PLAIN, 20, out, &n));
	ck_assert_uint_eq(n, 16);
	n = sizeof(out);
	CKR_EQ(p11->C_EncryptFinal(s, out, &n), CKR_DATA_LEN_RANGE);
	CKR_EQ(p11->C_EncryptFinal(s, out, &n), CKR_OPERATION_NOT_INITIALIZED);
	/* CBC_PAD: a size query and a too-small buffer leave it active */
	CKR(p11->C_EncryptInit(s, &pad, k));
	n = 0;
	CKR(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 16, NULL, &n));
	ck_assert_uint_eq(n, 32);
	n = 31;
	CKR_EQ(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 16, out, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_ge(n, 32);
	n = sizeof(out);
	CKR(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 16, out, &n));
	ck_assert_uint_eq(n, 32);
	ck_assert_mem_eq(out, KAT_CBC128, 16);
	/* a too-small buffer on an update: nothing consumed */
	CKR(p11->C_EncryptInit(s, &pad, k));
	n = 15;
	CKR_EQ(p11->C_EncryptUpdate(s, (unsigned char *)KAT_PLAIN, 16, out, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_ge(n, 16);
	n = sizeof(out);
	CKR(p11->C_EncryptUpdate(s, (unsigned char *)KAT_PLAIN, 16, out, &n));
	n = sizeof(out);
	CKR(p11->C_EncryptFinal(s, out, &n));
	ck_assert_uint_eq(n, 16);
	/* CBC_PAD decryption in parts: each part holds back its last whole
	 * block, so a buffer of what it gives out is room enough */
	unsigned char ct64[64], pt48[48];
	CK_ULONG cl = sizeof(ct64), got = 0;
	CKR(p11->C_EncryptInit(s, &pad, k));
	CKR(p11->C_Encrypt(s, (unsigned char *)KAT_PLAIN, 48, ct64, &cl));
	ck_assert_uint_eq(cl, 64);
	CKR(p11->C_DecryptInit(s, &pad, k));
	n = 16;
	CKR(p11->C_DecryptUpdate(s, ct64, 32, pt48, &n));
	ck_assert_uint_eq(n, 16);
	got = n;
	n = 32;
	CKR(p11->C_DecryptUpdate(s, ct64 + 32, 32, pt48 + got, &n));
	ck_assert_uint_eq(n, 32);
	got += n;
	n = sizeof(out);
	CKR(p11->C_DecryptFinal(s, out, &n));
	ck_assert_uint_eq(n, 0);      /* the last block was all padding */
	ck_assert_uint_eq(got, 48);
	ck_assert_mem_eq(pt48, KAT_PLAIN, 48);
	/* CBC_PAD decryption: a part block is not a ciphertext */
	CKR(p11->C_DecryptInit(s, &pad, k));
	n = sizeof(out);
	CKR(p11->C_DecryptUpdate(s, (unsigned char *)KAT_CBC128, 20, out, &n));
	n = sizeof(out);
	CKR_EQ(p11->C_DecryptFinal(s, out, &n), CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* parameters */
	cbc.ulParameterLen = 8;
	CKR_EQ(p11->C_EncryptInit(s, &cbc, k), CKR_MECHANISM_PARAM_INVALID);
	CK_MECHANISM ecb = { CKM_AES_ECB, (void *)KAT_CBC_IV, 16 };
	CKR_EQ(p11->C_EncryptInit(s, &ecb, k), CKR_MECHANISM_PARAM_INVALID);
	CK_AES_CTR_PARAMS ctr = { 0, { 0 } };
	CK_MECHANISM ctrm = { CKM_AES_CTR, &ctr, sizeof(ctr) };
	CKR_EQ(p11->C_EncryptInit(s, &ctrm, k), CKR_MECHANISM_PARAM_INVALID);
	/* the key must fit the mechanism */
	CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &hm, k), CKR_KEY_TYPE_INCONSISTENT);
	CK_OBJECT_HANDLE h = imported(s, CKK_GENERIC_SECRET, HMAC2_KEY, 4);
	ecb.pParameter = NULL;
	ecb.ulParameterLen = 0;
	CKR_EQ(p11->C_EncryptInit(s, &ecb, h), CKR_KEY_TYPE_INCONSISTENT);
}
END_TEST

static CK_ULONG get_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_ATTRIBUTE_TYPE t)
{
	CK_RV rv;
	CK_ULONG v = 0;
	CK_ATTRIBUTE a = { t, &v, sizeof(v) };
	CKR(p11->C_GetAttributeValue(s, k, &a, 1));
	return v;
}

static CK_BBOOL get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, CK_ATTRIBUTE_TYPE t)
{
	CK_RV rv;
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { t, &v, 1 };
	CKR(p11->C_GetAttributeValue(s, k, &a, 1));
	return v;
}

START_TEST(generated_keys)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k;
	static const CK_ULONG lens[] = { 16, 24, 32 };
	unsigned char iv[12] = { 1 }, ct[64], back[64], v[64];
	CK_GCM_PARAMS g = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) };
	for (size_t i = 0; i < 2 * N(lens); i++) {
		CK_BBOOL token = i >= N(lens);
		CKR(gen_secret(s, CKM_AES_KEY_GEN, CKK_AES, lens[i % N(lens)], token, "gen", &k));
		ck_assert_uint_eq(get_ulong(s, k, CKA_VALUE_LEN), lens[i % N(lens)]);
		ck_assert_uint_eq(get_ulong(s, k, CKA_KEY_TYPE), CKK_AES);
		ck_assert_uint_eq(get_ulong(s, k, CKA_KEY_GEN_MECHANISM), CKM_AES_KEY_GEN);
		ck_assert_int_eq(get_bool(s, k, CKA_LOCAL), CK_TRUE);
		ck_assert_int_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_TRUE);
		ck_assert_int_eq(get_bool(s, k, CKA_TOKEN), token);
		/* the value never leaves */
		CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
		CKR_EQ(p11->C_GetAttributeValue(s, k, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
		ck_assert_uint_eq(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
		ck_assert_uint_eq(crypt1(s, &gcm, k, false, KAT_PLAIN, 40, ct), 56);
		ck_assert_uint_eq(crypt1(s, &gcm, k, true, ct, 56, back), 40);
		ck_assert_mem_eq(back, KAT_PLAIN, 40);
		CKR(p11->C_DestroyObject(s, k));
	}
	/* AES has three sizes; the length is the caller's to give */
	CKR_EQ(gen_secret(s, CKM_AES_KEY_GEN, CKK_AES, 20, CK_FALSE, "bad", &k), CKR_ATTRIBUTE_VALUE_INVALID);
	CKR_EQ(gen_secret(s, CKM_AES_KEY_GEN, CKK_AES, 64, CK_FALSE, "bad", &k), CKR_ATTRIBUTE_VALUE_INVALID);
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE none[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) } };
	CKR_EQ(p11->C_GenerateKey(s, &m, none, 1, &k), CKR_TEMPLATE_INCOMPLETE);
	/* an HMAC key: signs and verifies */
	CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };
	unsigned char mac[32];
	CK_ULONG n = sizeof(mac);
	CKR(gen_secret(s, CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 64, CK_FALSE, "hmac", &k));
	ck_assert_uint_eq(get_ulong(s, k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
	CKR(p11->C_SignInit(s, &hm, k));
	CKR(p11->C_Sign(s, (unsigned char *)"msg", 3, mac, &n));
	CKR(p11->C_VerifyInit(s, &hm, k));
	CKR(p11->C_Verify(s, (unsigned char *)"msg", 3, mac, n));
	CKR(p11->C_VerifyInit(s, &hm, k));
	CKR_EQ(p11->C_Verify(s, (unsigned char *)"msh", 3, mac, n), CKR_SIGNATURE_INVALID);
}
END_TEST

/* B 4.9 fn 11/12: CKA_SENSITIVE only becomes true, CKA_EXTRACTABLE only
 * false, and ALWAYS_SENSITIVE / NEVER_EXTRACTABLE remember the past. */
START_TEST(sticky_attributes)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k, c;
	CK_ULONG len = 16;
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_SENSITIVE, (void *)&F_, 1 }, { CKA_EXTRACTABLE, (void *)&T_, 1 },
	};
	CKR(p11->C_GenerateKey(s, &m, t, N(t), &k));
	ck_assert_int_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	CK_ATTRIBUTE sens_on = { CKA_SENSITIVE, (void *)&T_, 1 }, sens_off = { CKA_SENSITIVE, (void *)&F_, 1 };
	CK_ATTRIBUTE ext_on = { CKA_EXTRACTABLE, (void *)&T_, 1 }, ext_off = { CKA_EXTRACTABLE, (void *)&F_, 1 };
	CKR(p11->C_SetAttributeValue(s, k, &sens_on, 1));
	CKR_EQ(p11->C_SetAttributeValue(s, k, &sens_off, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(get_bool(s, k, CKA_SENSITIVE), CK_TRUE);
	CKR(p11->C_SetAttributeValue(s, k, &ext_off, 1));
	CKR_EQ(p11->C_SetAttributeValue(s, k, &ext_on, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(get_bool(s, k, CKA_EXTRACTABLE), CK_FALSE);
	/* what was once otherwise stays on record */
	ck_assert_int_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	CK_ATTRIBUTE ro[] = { { CKA_ALWAYS_SENSITIVE, (void *)&T_, 1 }, { CKA_NEVER_EXTRACTABLE, (void *)&T_, 1 },
			      { CKA_LOCAL, (void *)&F_, 1 } };
	for (size_t i = 0; i < N(ro); i++)
		CKR_EQ(p11->C_SetAttributeValue(s, k, &ro[i], 1), CKR_ATTRIBUTE_READ_ONLY);
	/* a copy cannot undo them either */
	rv = p11->C_CopyObject(s, k, &sens_off, 1, &c);
	ck_assert_msg(rv == CKR_ATTRIBUTE_READ_ONLY || rv == CKR_ACTION_PROHIBITED, "copy: 0x%lx", rv);
	rv = p11->C_CopyObject(s, k, &ext_on, 1, &c);
	ck_assert_msg(rv == CKR_ATTRIBUTE_READ_ONLY || rv == CKR_ACTION_PROHIBITED, "copy: 0x%lx", rv);
	/* the value of a sensitive key is not given */
	unsigned char v[32];
	CK_ATTRIBUTE a = { CKA_VALUE, v, sizeof(v) };
	CKR_EQ(p11->C_GetAttributeValue(s, k, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* a key whose CKA_ENCRYPT is off does not encrypt */
	CK_ATTRIBUTE enc_off = { CKA_ENCRYPT, (void *)&F_, 1 };
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
	CKR(p11->C_SetAttributeValue(s, k, &enc_off, 1));
	CKR_EQ(p11->C_EncryptInit(s, &ecb, k), CKR_KEY_FUNCTION_NOT_PERMITTED);
}
END_TEST

/* An imported key says so (B 4.10, M "AES"): not local, never "always
 * sensitive" or "never extractable"; its check value is known. */
START_TEST(imported_key_attributes)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k = imported(s, CKK_AES, KAT_KEY128, 16);
	unsigned char cv[3];
	static const unsigned char want_cv[3] = { 0x7d, 0xf7, 0x6b };   /* ECB of a zero block */
	CK_ATTRIBUTE a = { CKA_CHECK_VALUE, cv, sizeof(cv) };
	ck_assert_int_eq(get_bool(s, k, CKA_LOCAL), CK_FALSE);
	ck_assert_int_eq(get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	ck_assert_uint_eq(get_ulong(s, k, CKA_VALUE_LEN), 16);
	CKR(p11->C_GetAttributeValue(s, k, &a, 1));
	ck_assert_uint_eq(a.ulValueLen, 3);
	ck_assert_mem_eq(cv, want_cv, 3);
	/* a value AES cannot have */
	CK_OBJECT_HANDLE h;
	CKR_EQ(import_secret(s, CKK_AES, KAT_KEY256, 20, CK_FALSE, &h), CKR_ATTRIBUTE_VALUE_INVALID);
}
END_TEST

static void add_secret_cases(TCase *t)
{
	tcase_add_test(t, aes_known_answers);
	tcase_add_test(t, gcm_known_answer);
	tcase_add_test(t, hmac_known_answers);
	tcase_add_test(t, length_rules);
	tcase_add_test(t, generated_keys);
	tcase_add_test(t, sticky_attributes);
	tcase_add_test(t, imported_key_attributes);
}

#endif
