/*
 * Key management on the soft slot, through the built module, checked
 * against OpenSSL's own answers: import of private keys (EC, RSA, Ed25519)
 * and its honest marks, RSA-OAEP wrapping of secret keys, PKCS#8 unwrap of
 * private keys, ECDH key derivation (CKD_NULL and the X9.63 KDFs),
 * C_DigestKey, the "allow_import" switch, and that each published attack
 * on PKCS#11 key management (wrap then decrypt, export of a sensitive key
 * under a known key, attribute flips by C_SetAttributeValue and
 * C_CopyObject) fails.
 */
#include "p11.h"
#include "ossl.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const CK_OBJECT_CLASS SECRET = CKO_SECRET_KEY, PRIV = CKO_PRIVATE_KEY;
static const CK_BBOOL T_ = CK_TRUE, F_ = CK_FALSE;
static const CK_KEY_TYPE GENERIC = CKK_GENERIC_SECRET, AES = CKK_AES, EC = CKK_EC;

static CK_BBOOL get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { t, &v, 1 };
	ck_assert_int_eq(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
	return v;
}

/* The big-endian bytes of a number OpenSSL holds for key k. */
static CK_ULONG bn_param(EVP_PKEY *k, const char *name, unsigned char *out, size_t pad)
{
	BIGNUM *b = NULL;
	ck_assert_int_eq(EVP_PKEY_get_bn_param(k, name, &b), 1);
	int n = pad ? BN_bn2binpad(b, out, (int)pad) : BN_bn2bin(b, out);
	BN_clear_free(b);
	ck_assert_int_gt(n, 0);
	return (CK_ULONG)n;
}

static CK_RV import_ec(CK_SESSION_HANDLE s, EVP_PKEY *k, CK_BBOOL token, CK_OBJECT_HANDLE *out)
{
	unsigned char d[32];
	bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, d, 32);
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, (void *)&EC, sizeof(EC) },
		{ CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_VALUE, d, 32 },
		{ CKA_TOKEN, &token, 1 }, { CKA_SIGN, (void *)&T_, 1 }, { CKA_DERIVE, (void *)&T_, 1 },
		{ CKA_LABEL, "imported", 8 },
	};
	return p11->C_CreateObject(s, t, N(t), out);
}

/* The uncompressed point of an OpenSSL EC key. */
static size_t point_of(EVP_PKEY *k, unsigned char *pt)
{
	size_t n = 0;
	ck_assert_int_eq(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &n), 1);
	return n;
}

/* OpenSSL's ECDH of a and b's point. */
static void ossl_ecdh(EVP_PKEY *a, EVP_PKEY *b, unsigned char z[32])
{
	size_t n = 32;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(a, NULL);
	ck_assert(EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, b) == 1 &&
		  EVP_PKEY_derive(c, z, &n) == 1 && n == 32);
	EVP_PKEY_CTX_free(c);
}

/* SHA-256 of a key's value, by C_DigestKey (optionally after data). */
static CK_RV digest_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, const char *before, unsigned char md[32])
{
	CK_RV rv;
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_ULONG n = 32;
	CKR(p11->C_DigestInit(s, &m));
	if (before != NULL)
		CKR(p11->C_DigestUpdate(s, (unsigned char *)before, strlen(before)));
	if ((rv = p11->C_DigestKey(s, k)) != CKR_OK)
		return rv;
	return p11->C_DigestFinal(s, md, &n);
}

static CK_RV derive(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE base, CK_ULONG kdf, const void *shared, CK_ULONG slen,
		    const unsigned char *pt, CK_ULONG ptlen, CK_KEY_TYPE kt, CK_ULONG len, CK_OBJECT_HANDLE *out)
{
	CK_ECDH1_DERIVE_PARAMS p = { kdf, slen, (unsigned char *)shared, ptlen, (unsigned char *)pt };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_ENCRYPT, (void *)&T_, 1 },
	};
	return p11->C_DeriveKey(s, &m, base, t, len ? N(t) : N(t) - 2, out);
}

START_TEST(import_ec_rsa_ed25519)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE h;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	CKR(import_ec(s, k, CK_FALSE, &h));
	/* marked for what it is: not made here, never known to be secret */
	ck_assert_int_eq(get_bool(s, h, CKA_LOCAL), CK_FALSE);
	ck_assert_int_eq(get_bool(s, h, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, h, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, h, CKA_SENSITIVE), CK_TRUE);
	unsigned char buf[600];
	CK_ATTRIBUTE v = { CKA_VALUE, buf, sizeof(buf) };
	CKR_EQ(p11->C_GetAttributeValue(s, h, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* its public key is OpenSSL's, and it signs for it */
	EVP_PKEY *mine = pubkey_of(s, h);
	ck_assert_int_eq(EVP_PKEY_eq(mine, k), 1);
	CK_ATTRIBUTE id = { CKA_ID, buf, sizeof(buf) };
	CKR(p11->C_GetAttributeValue(s, h, &id, 1));
	ck_assert_uint_eq(id.ulValueLen, 20);     /* from the public key, as for generated keys */
	unsigned char dg[32], sig[64];
	CK_ULONG sl = sizeof(sig);
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	sha256("imported", 8, dg);
	CKR(p11->C_SignInit(s, &ecdsa, h));
	CKR(p11->C_Sign(s, dg, 32, sig, &sl));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, sl), 1);
	EVP_PKEY_free(mine);

	/* a scalar of zero or past the order is no key */
	unsigned char zero[32] = { 0 }, big[32];
	memset(big, 0xff, sizeof(big));
	CK_ATTRIBUTE bad[] = {
		{ CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, (void *)&EC, sizeof(EC) },
		{ CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_VALUE, zero, 32 },
	};
	CKR_EQ(p11->C_CreateObject(s, bad, N(bad), &h), CKR_ATTRIBUTE_VALUE_INVALID);
	bad[3].pValue = big;
	CKR_EQ(p11->C_CreateObject(s, bad, N(bad), &h), CKR_ATTRIBUTE_VALUE_INVALID);
	CKR_EQ(p11->C_CreateObject(s, bad, 3, &h), CKR_TEMPLATE_INCOMPLETE);
	EVP_PKEY_free(k);

	/* RSA with its CRT parts; a changed part does not make a key */
	static const char *const names[] = { OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
	static const CK_ATTRIBUTE_TYPE types[] = { CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT,
		CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT };
	static unsigned char parts[8][256];
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_ATTRIBUTE rt[11] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, &rsa, sizeof(rsa) },
				{ CKA_SIGN, (void *)&T_, 1 } };
	k = EVP_RSA_gen(2048);
	for (size_t i = 0; i < 8; i++) {
		rt[3 + i].type = types[i];
		rt[3 + i].pValue = parts[i];
		rt[3 + i].ulValueLen = bn_param(k, names[i], parts[i], 0);
	}
	CKR(p11->C_CreateObject(s, rt, 11, &h));
	CK_MECHANISM pk = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	unsigned char rsig[256];
	sl = sizeof(rsig);
	CKR(p11->C_SignInit(s, &pk, h));
	CKR(p11->C_Sign(s, (unsigned char *)"rsa", 3, rsig, &sl));
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	ck_assert(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, k) == 1 &&
		  EVP_DigestVerify(mc, rsig, sl, (const unsigned char *)"rsa", 3) == 1);
	EVP_MD_CTX_free(mc);
	CKR_EQ(p11->C_CreateObject(s, rt, 10, &h), CKR_TEMPLATE_INCOMPLETE);
	parts[2][10] ^= 1;
	CKR_EQ(p11->C_CreateObject(s, rt, 11, &h), CKR_ATTRIBUTE_VALUE_INVALID);
	EVP_PKEY_free(k);

	/* Ed25519 from its seed */
	static const unsigned char ED_OID[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	unsigned char seed[32];
	size_t seedlen = 32;
	CK_KEY_TYPE ed = CKK_EC_EDWARDS;
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_int_eq(EVP_PKEY_get_raw_private_key(k, seed, &seedlen), 1);
	CK_ATTRIBUTE et[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, &ed, sizeof(ed) },
			      { CKA_EC_PARAMS, (void *)ED_OID, sizeof(ED_OID) }, { CKA_VALUE, seed, 32 } };
	CKR(p11->C_CreateObject(s, et, N(et), &h));
	CK_MECHANISM eddsa = { CKM_EDDSA, NULL, 0 };
	sl = sizeof(sig);
	CKR(p11->C_SignInit(s, &eddsa, h));
	CKR(p11->C_Sign(s, (unsigned char *)"ed", 2, sig, &sl));
	mc = EVP_MD_CTX_new();
	ck_assert(EVP_DigestVerifyInit(mc, NULL, NULL, NULL, k) == 1 &&
		  EVP_DigestVerify(mc, sig, sl, (const unsigned char *)"ed", 2) == 1);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(k);
}
END_TEST

/* An imported token key is sealed in the store and signs in the next
 * process; with "allow_import": false the slot takes no key at all. */
START_TEST(import_kept_and_switch)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE h, found;
	CK_ULONG n = 0;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	CKR(import_ec(s, k, CK_TRUE, &h));
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = p11_user_session();
	CK_ATTRIBUTE t[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_LABEL, "imported", 8 } };
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, &found, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	unsigned char dg[32], sig[64];
	CK_ULONG sl = sizeof(sig);
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	sha256("kept", 4, dg);
	CKR(p11->C_SignInit(s, &ecdsa, found));
	CKR(p11->C_Sign(s, dg, 32, sig, &sl));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, sl), 1);

	CKR(p11->C_Finalize(NULL));
	p11_write_conf(", \"allow_import\": false", NULL, false);
	CKR(p11->C_Initialize(NULL));
	s = p11_user_session();
	CKR_EQ(import_ec(s, k, CK_FALSE, &h), CKR_ACTION_PROHIBITED);
	unsigned char v[16] = { 1 };
	CK_ATTRIBUTE st[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_VALUE, v, 16 } };
	CKR_EQ(p11->C_CreateObject(s, st, N(st), &h), CKR_ACTION_PROHIBITED);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(ecdh_derive)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE mine, key, key2;
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
	unsigned char pt[65], der[67], z[32], md[32], want[64];
	size_t ptlen = point_of(b, pt);
	CKR(import_ec(s, a, CK_FALSE, &mine));
	ossl_ecdh(a, b, z);
	/* CKD_NULL: the shared x-coordinate; the point raw or as DER */
	CKR(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, GENERIC, 32, &key));
	CKR(digest_key(s, key, NULL, md));
	sha256(z, 32, want);
	ck_assert_mem_eq(md, want, 32);
	der[0] = 0x04;
	der[1] = 65;
	memcpy(der + 2, pt, 65);
	CKR(derive(s, mine, CKD_NULL, NULL, 0, der, 67, GENERIC, 0, &key2));
	CK_ULONG len = 0;
	CK_ATTRIBUTE vl = { CKA_VALUE_LEN, &len, sizeof(len) };
	CKR(p11->C_GetAttributeValue(s, key2, &vl, 1));
	ck_assert_uint_eq(len, 32);
	CKR(digest_key(s, key2, NULL, md));
	ck_assert_mem_eq(md, want, 32);
	/* shorter: the last bytes of the secret */
	CKR(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, AES, 16, &key));
	CKR(digest_key(s, key, NULL, md));
	sha256(z + 16, 16, want);
	ck_assert_mem_eq(md, want, 32);
	ck_assert_int_eq(get_bool(s, key, CKA_LOCAL), CK_FALSE);
	/* ANSI X9.63 with SHA-256 and shared data, as OpenSSL's X963KDF */
	unsigned char kdf_out[48];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
	OSSL_PARAM kp[] = { OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
			    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, z, 32),
			    OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, "ctx", 3), OSSL_PARAM_END };
	ck_assert_int_eq(EVP_KDF_derive(kc, kdf_out, 48, kp), 1);
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	CKR(derive(s, mine, CKD_SHA256_KDF, "ctx", 3, pt, ptlen, GENERIC, 48, &key));
	CKR(digest_key(s, key, NULL, md));
	sha256(kdf_out, 48, want);
	ck_assert_mem_eq(md, want, 32);

	/* the spec's refusals */
	CK_OBJECT_HANDLE pub, gen;
	pt[40] ^= 1;      /* off the curve */
	CKR_EQ(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, GENERIC, 32, &key), CKR_MECHANISM_PARAM_INVALID);
	pt[40] ^= 1;
	CKR_EQ(derive(s, mine, CKD_NULL, "x", 1, pt, ptlen, GENERIC, 32, &key), CKR_MECHANISM_PARAM_INVALID);
	CKR_EQ(derive(s, mine, 0x7777, NULL, 0, pt, ptlen, GENERIC, 32, &key), CKR_MECHANISM_PARAM_INVALID);
	CKR_EQ(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, GENERIC, 40, &key), CKR_TEMPLATE_INCONSISTENT);
	CKR_EQ(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, AES, 20, &key), CKR_ATTRIBUTE_VALUE_INVALID);
	CKR_EQ(derive(s, mine, CKD_NULL, NULL, 0, pt, ptlen, AES, 0, &key), CKR_TEMPLATE_INCOMPLETE);
	/* a key that does not allow derivation (the default), or is no EC key */
	p11_gen_ec(s, "noderive", CK_FALSE, &pub, &gen);
	CKR_EQ(derive(s, gen, CKD_NULL, NULL, 0, pt, ptlen, GENERIC, 32, &key), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CKR_EQ(derive(s, pub, CKD_NULL, NULL, 0, pt, ptlen, GENERIC, 32, &key), CKR_KEY_TYPE_INCONSISTENT);
	CK_MECHANISM_INFO mi;
	CKR(p11->C_GetMechanismInfo(0, CKM_ECDH1_DERIVE, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_DERIVE | CKF_SIGN), CKF_DERIVE);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}
END_TEST

START_TEST(digest_key_rules)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE k, pub, priv;
	unsigned char v[32], md[32], want[32], both[35];
	RAND_bytes(v, 32);
	CK_ATTRIBUTE t[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			     { CKA_VALUE, v, 32 } };
	CKR(p11->C_CreateObject(s, t, N(t), &k));
	CKR(digest_key(s, k, NULL, md));
	sha256(v, 32, want);
	ck_assert_mem_eq(md, want, 32);
	/* a key among data */
	CKR(digest_key(s, k, "abc", md));
	memcpy(both, "abc", 3);
	memcpy(both + 3, v, 32);
	sha256(both, 35, want);
	ck_assert_mem_eq(md, want, 32);
	/* not a secret key: indigestible, and the digest is over */
	p11_gen_ec(s, "ec", CK_FALSE, &pub, &priv);
	CKR_EQ(digest_key(s, priv, NULL, md), CKR_KEY_INDIGESTIBLE);
	CK_ULONG n = 32;
	CKR_EQ(p11->C_DigestFinal(s, md, &n), CKR_OPERATION_NOT_INITIALIZED);
	CKR_EQ(p11->C_DigestKey(s, k), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

/* The published attacks on PKCS#11 key management, each of which must
 * fail here. */
START_TEST(key_management_attacks)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE kek, both, known, target, back;
	CK_ULONG len = 32, n;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 }, kw = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	unsigned char w[64], out[64];
	CK_ATTRIBUTE ext_false = { CKA_EXTRACTABLE, (void *)&F_, 1 };
	/* a wrapping key does not decrypt unless asked for both */
	CK_ATTRIBUTE kt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_VALUE_LEN, &len, sizeof(len) },
			      { CKA_WRAP, (void *)&T_, 1 }, { CKA_UNWRAP, (void *)&T_, 1 } };
	CKR(p11->C_GenerateKey(s, &gen, kt, N(kt), &kek));
	ck_assert_int_eq(get_bool(s, kek, CKA_DECRYPT), CK_FALSE);
	ck_assert_int_eq(get_bool(s, kek, CKA_ENCRYPT), CK_FALSE);
	/* the sensitive target may leave wrapped, never in clear */
	CK_ATTRIBUTE tt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_VALUE_LEN, &len, sizeof(len) },
			      { CKA_EXTRACTABLE, (void *)&T_, 1 }, { CKA_SENSITIVE, (void *)&T_, 1 } };
	CKR(p11->C_GenerateKey(s, &gen, tt, N(tt), &target));
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kw, kek, target, w, &n));
	/* 1. wrap then decrypt: the wrapping key cannot come to decrypt */
	CK_ATTRIBUTE dec = { CKA_DECRYPT, (void *)&T_, 1 }, enc = { CKA_ENCRYPT, (void *)&T_, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, kek, &dec, 1), CKR_TEMPLATE_INCONSISTENT);
	CKR_EQ(p11->C_SetAttributeValue(s, kek, &enc, 1), CKR_TEMPLATE_INCONSISTENT);
	/* and a key made with both roles does not wrap a sensitive key */
	CK_ATTRIBUTE bt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_VALUE_LEN, &len, sizeof(len) },
			      { CKA_WRAP, (void *)&T_, 1 }, { CKA_DECRYPT, (void *)&T_, 1 } };
	CKR(p11->C_GenerateKey(s, &gen, bt, N(bt), &both));
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, both, target, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* 2. export under a key the attacker knows (imported) */
	unsigned char mine[32] = { 7 };
	CK_ATTRIBUTE it[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_VALUE, mine, 32 }, { CKA_WRAP, (void *)&T_, 1 } };
	CKR(p11->C_CreateObject(s, it, N(it), &known));
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, known, target, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* 3. unwrap the wrapped bytes as a non-sensitive key to read it: an
	 * unwrapped key is always sensitive */
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kw, kek, target, w, &n));
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_EXTRACTABLE, (void *)&T_, 1 }, { CKA_SENSITIVE, (void *)&F_, 1 } };
	CKR_EQ(p11->C_UnwrapKey(s, &kw, kek, w, n, ut, N(ut), &back), CKR_TEMPLATE_INCONSISTENT);
	CKR(p11->C_UnwrapKey(s, &kw, kek, w, n, ut, N(ut) - 1, &back));
	CK_ATTRIBUTE v = { CKA_VALUE, out, sizeof(out) };
	CKR_EQ(p11->C_GetAttributeValue(s, back, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* and that key, known outside as far as the token can tell, wraps no
	 * sensitive key either */
	CK_ATTRIBUTE wr[] = { { CKA_WRAP, (void *)&T_, 1 }, { CKA_DECRYPT, (void *)&F_, 1 } };
	CKR_EQ(p11->C_SetAttributeValue(s, back, wr, 1), CKR_TEMPLATE_INCONSISTENT);   /* it decrypts */
	CKR(p11->C_SetAttributeValue(s, back, wr, 2));
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, back, target, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* a key made readable is readable (B 4.10), and only such a key */
	unsigned char mine2[16];
	RAND_bytes(mine2, 16);
	CK_OBJECT_HANDLE readable;
	CK_ATTRIBUTE rt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_VALUE, mine2, 16 }, { CKA_SENSITIVE, (void *)&F_, 1 }, { CKA_EXTRACTABLE, (void *)&T_, 1 } };
	CKR(p11->C_CreateObject(s, rt, N(rt), &readable));
	CK_ATTRIBUTE two[] = { { CKA_VALUE, out, sizeof(out) }, { CKA_VALUE_LEN, &len, sizeof(len) } };
	CKR(p11->C_GetAttributeValue(s, readable, two, 2));
	ck_assert_uint_eq(two[0].ulValueLen, 16);
	ck_assert_mem_eq(out, mine2, 16);
	ck_assert_uint_eq(len, 16);
	CKR(p11->C_SetAttributeValue(s, readable, &ext_false, 1));
	v.ulValueLen = sizeof(out);
	CKR_EQ(p11->C_GetAttributeValue(s, readable, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	len = 32;
	/* 4. attribute flips: sensitive stays, unextractable stays */
	CK_ATTRIBUTE unsens = { CKA_SENSITIVE, (void *)&F_, 1 }, ext = { CKA_EXTRACTABLE, (void *)&T_, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, target, &unsens, 1), CKR_ATTRIBUTE_READ_ONLY);
	CKR_EQ(p11->C_SetAttributeValue(s, kek, &ext, 1), CKR_ATTRIBUTE_READ_ONLY);
	/* 5. ... nor through a copy */
	CK_OBJECT_HANDLE copy;
	CKR_EQ(p11->C_CopyObject(s, target, &unsens, 1, &copy), CKR_ACTION_PROHIBITED);
	CKR_EQ(p11->C_CopyObject(s, kek, &dec, 1, &copy), CKR_ACTION_PROHIBITED);
}
END_TEST

/* AES key wrap with padding (RFC 5649) by OpenSSL, to make what the
 * module unwraps. */
static size_t ossl_kwp(const unsigned char *kek, const unsigned char *in, size_t len, unsigned char *out)
{
	int n = 0, f = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ck_assert(EVP_EncryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL) == 1 &&
		  EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1 && EVP_EncryptFinal_ex(c, out + n, &f) == 1);
	EVP_CIPHER_CTX_free(c);
	return (size_t)(n + f);
}

/* Secret keys wrapped with RSA-OAEP: to a public key whose private key
 * OpenSSL holds (it reads the value back), and round trip through a key
 * pair of the slot; a sensitive key only to a public key the SO trusts. */
START_TEST(oaep_wrap)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv, open_key, sens, back, theirs;
	CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	unsigned char v[32], w[512], back_v[512], md[32], want[32];
	CK_ULONG n, bits = 2048, len = 32;
	RAND_bytes(v, 32);
	CK_ATTRIBUTE ot[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_VALUE, v, 32 }, { CKA_SENSITIVE, (void *)&F_, 1 }, { CKA_EXTRACTABLE, (void *)&T_, 1 } };
	CKR(p11->C_CreateObject(s, ot, N(ot), &open_key));
	/* OpenSSL's key pair; its public half as an object that wraps */
	EVP_PKEY *k = EVP_RSA_gen(2048);
	unsigned char mod[256], e[8];
	CK_ULONG ml = bn_param(k, OSSL_PKEY_PARAM_RSA_N, mod, 0), el = bn_param(k, OSSL_PKEY_PARAM_RSA_E, e, 0);
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY;
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_ATTRIBUTE pt[] = { { CKA_CLASS, &pc, sizeof(pc) }, { CKA_KEY_TYPE, &rsa, sizeof(rsa) }, { CKA_MODULUS, mod, ml },
			      { CKA_PUBLIC_EXPONENT, e, el }, { CKA_WRAP, (void *)&T_, 1 }, { CKA_TOKEN, (void *)&T_, 1 } };
	CKR(p11->C_CreateObject(s, pt, N(pt), &theirs));
	n = 0;
	CKR(p11->C_WrapKey(s, &oaep, theirs, open_key, NULL, &n));
	ck_assert_uint_eq(n, 256);
	CKR(p11->C_WrapKey(s, &oaep, theirs, open_key, w, &n));
	size_t dl = sizeof(back_v);
	EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(k, NULL);
	ck_assert(EVP_PKEY_decrypt_init(dc) == 1 && EVP_PKEY_CTX_set_rsa_padding(dc, RSA_PKCS1_OAEP_PADDING) == 1 &&
		  EVP_PKEY_CTX_set_rsa_oaep_md(dc, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(dc, EVP_sha256()) == 1 &&
		  EVP_PKEY_decrypt(dc, back_v, &dl, w, n) == 1);
	EVP_PKEY_CTX_free(dc);
	ck_assert_uint_eq(dl, 32);
	ck_assert_mem_eq(back_v, v, 32);
	/* a key pair of the slot, whose public half the SO marks trusted
	 * (logging out drops the handles of private objects: found again) */
	CK_MECHANISM kg = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE gp[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_WRAP, (void *)&T_, 1 },
			      { CKA_TOKEN, (void *)&T_, 1 }, { CKA_LABEL, "kp", 2 } };
	CK_ATTRIBUTE gv[] = { { CKA_UNWRAP, (void *)&T_, 1 }, { CKA_TOKEN, (void *)&T_, 1 }, { CKA_LABEL, "kp", 2 },
			      { CKA_DECRYPT, (void *)&T_, 1 } };
	/* unwraps, so no decrypt by default; this one asks for both */
	CKR(p11->C_GenerateKeyPair(s, &kg, gp, N(gp), gv, N(gv) - 1, &pub, &priv));
	ck_assert_int_eq(get_bool(s, priv, CKA_DECRYPT), CK_FALSE);
	CKR(p11->C_GenerateKeyPair(s, &kg, gp, N(gp), gv, N(gv), &pub, &priv));
	ck_assert_int_eq(get_bool(s, priv, CKA_DECRYPT), CK_TRUE);
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE st[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_VALUE_LEN, &len, sizeof(len) },
			      { CKA_EXTRACTABLE, (void *)&T_, 1 } };
	CKR(p11->C_GenerateKey(s, &gen, st, N(st), &sens));
	/* a sensitive key: not to a public key anyone may have given, nor to
	 * one whose private key may decrypt what it wraps */
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &oaep, theirs, sens, w, &n), CKR_KEY_NOT_WRAPPABLE);
	CKR_EQ(p11->C_WrapKey(s, &oaep, pub, sens, w, &n), CKR_KEY_NOT_WRAPPABLE);
	CK_SESSION_HANDLE so;
	CK_ATTRIBUTE trusted = { CKA_TRUSTED, (void *)&T_, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, pub, &trusted, 1), CKR_ATTRIBUTE_READ_ONLY);   /* the SO's to give */
	CKR(p11->C_CloseSession(s));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &so));
	CKR(p11->C_Login(so, CKU_SO, (unsigned char *)SO_PIN, strlen(SO_PIN)));
	CKR(p11->C_SetAttributeValue(so, pub, &trusted, 1));
	CKR(p11->C_Logout(so));
	CKR(p11->C_CloseSession(so));
	s = p11_user_session();
	CK_ATTRIBUTE ft[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_LABEL, "kp", 2 },
			      { CKA_DECRYPT, (void *)&T_, 1 } };
	CKR(p11->C_FindObjectsInit(s, ft, 3));
	CKR(p11->C_FindObjects(s, &priv, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CKR(p11->C_GenerateKey(s, &gen, st, N(st), &sens));
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &oaep, pub, sens, w, &n));
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) } };
	CKR(p11->C_UnwrapKey(s, &oaep, priv, w, n, ut, N(ut), &back));
	/* a pair whose private key does not decrypt wraps without the SO
	 * (the other "kp" pair: found by its public key's modulus) */
	CK_ATTRIBUTE nd[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_LABEL, "kp", 2 },
			      { CKA_DECRYPT, (void *)&F_, 1 } };
	CK_OBJECT_HANDLE priv2, pubs[2], pub2 = CK_INVALID_HANDLE;
	CK_ULONG np = 0;
	CKR(p11->C_FindObjectsInit(s, nd, 3));
	CKR(p11->C_FindObjects(s, &priv2, 1, &np));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(np, 1);
	CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE pf[] = { { CKA_CLASS, &pubc, sizeof(pubc) }, { CKA_LABEL, "kp", 2 } };
	CKR(p11->C_FindObjectsInit(s, pf, 2));
	CKR(p11->C_FindObjects(s, pubs, 2, &np));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(np, 2);
	pub2 = pubs[0] == pub ? pubs[1] : pubs[0];
	CK_ULONG n2 = sizeof(back_v);
	CKR(p11->C_WrapKey(s, &oaep, pub2, sens, back_v, &n2));
	CK_OBJECT_HANDLE back2;
	CKR(p11->C_UnwrapKey(s, &oaep, priv2, back_v, n2, ut, N(ut), &back2));
	unsigned char md2[32];
	CKR(digest_key(s, sens, NULL, md));
	CKR(digest_key(s, back, NULL, md2));
	ck_assert_mem_eq(md, md2, 32);
	ck_assert_int_eq(get_bool(s, back, CKA_LOCAL), CK_FALSE);
	/* a changed byte, another label: not a key */
	w[100] ^= 1;
	CKR_EQ(p11->C_UnwrapKey(s, &oaep, priv, w, n, ut, N(ut), &back), CKR_WRAPPED_KEY_INVALID);
	CKR_EQ(p11->C_UnwrapKey(s, &oaep, priv, w, n - 1, ut, N(ut), &back), CKR_WRAPPED_KEY_LEN_RANGE);
	(void)want;
	EVP_PKEY_free(k);
}
END_TEST

/* A private key unwrapped from PKCS#8 under AES key wrap (what OpenSSL
 * makes), signing for OpenSSL's public key, marked as imported. */
START_TEST(pkcs8_unwrap)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE kek, h;
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	unsigned char kv[32], w[600], dg[32], sig[64];
	RAND_bytes(kv, 32);
	CK_ATTRIBUTE kt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
			      { CKA_VALUE, kv, 32 }, { CKA_UNWRAP, (void *)&T_, 1 } };
	CKR(p11->C_CreateObject(s, kt, N(kt), &kek));
	EVP_PKEY *k = EVP_EC_gen("P-256");
	unsigned char *der = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	int dl = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	size_t wl = ossl_kwp(kv, der, (size_t)dl, w);
	OPENSSL_free(der);
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, (void *)&EC, sizeof(EC) },
			      { CKA_SIGN, (void *)&T_, 1 }, { CKA_TOKEN, (void *)&T_, 1 }, { CKA_LABEL, "p8", 2 } };
	CK_KEY_TYPE rsa = CKK_RSA;
	ut[1].pValue = &rsa;
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, wl, ut, N(ut), &h), CKR_TEMPLATE_INCONSISTENT);
	ut[1].pValue = (void *)&EC;
	w[9] ^= 1;
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, wl, ut, N(ut), &h), CKR_WRAPPED_KEY_INVALID);
	w[9] ^= 1;
	CKR(p11->C_UnwrapKey(s, &kwp, kek, w, wl, ut, N(ut), &h));
	ck_assert_int_eq(get_bool(s, h, CKA_LOCAL), CK_FALSE);
	ck_assert_int_eq(get_bool(s, h, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	EVP_PKEY *mine = pubkey_of(s, h);
	ck_assert_int_eq(EVP_PKEY_eq(mine, k), 1);
	EVP_PKEY_free(mine);
	/* sealed in the store: the next process signs with it */
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = p11_user_session();
	CK_ATTRIBUTE ft[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_LABEL, "p8", 2 } };
	CK_ULONG n = 0;
	CKR(p11->C_FindObjectsInit(s, ft, 2));
	CKR(p11->C_FindObjects(s, &h, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_ULONG sl = sizeof(sig);
	sha256("p8", 2, dg);
	CKR(p11->C_SignInit(s, &ecdsa, h));
	CKR(p11->C_Sign(s, dg, 32, sig, &sl));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, sl), 1);
	EVP_PKEY_free(k);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("keymgmt");
	TCase *t = tcase_create("import, derivation and key management on the soft slot");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, p11_setup, p11_teardown);
	tcase_add_test(t, import_ec_rsa_ed25519);
	tcase_add_test(t, import_kept_and_switch);
	tcase_add_test(t, ecdh_derive);
	tcase_add_test(t, digest_key_rules);
	tcase_add_test(t, key_management_attacks);
	tcase_add_test(t, oaep_wrap);
	tcase_add_test(t, pkcs8_unwrap);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
