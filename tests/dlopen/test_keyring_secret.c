/*
 * Secret keys on the keyring slot, through the built module, on the
 * private Secret Service that tests/keyring/secret.sh starts (it sets
 * HWAGG_CONF to a config whose only slot is the keyring slot, token
 * initialized with PIN 123456): the soft slot's known-answer,
 * length-rule, generation, sticky-attribute and key wrap cases
 * (secret_cases.h, wrap_cases.h), and what is the keyring's own: token
 * keys read back from their items by another module instance, usable
 * only logged in, a key-encryption key kept in the keyring that unwraps
 * into a new token key, private-key import and ECDH.
 */
#include "p11.h"
#include "ossl.h"

#include <openssl/core_names.h>

#define SK_SLOT 0
#define SK_PRIVATE_UNWRAP CKR_FUNCTION_NOT_SUPPORTED   /* no PKCS#8 unwrap here */
#define SK_TAG_FAILS(rv) ((rv) == CKR_ENCRYPTED_DATA_INVALID)

static CK_SESSION_HANDLE sk_session(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(SK_SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	rv = p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN));
	ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	return s;
}

#include "secret_cases.h"
#include "wrap_cases.h"

static void setup(void)
{
	CK_RV rv;
	ck_assert_msg(getenv("HWAGG_CONF") != NULL, "run by tests/keyring/secret.sh (HWAGG_CONF)");
	p11_load();
	CKR(p11->C_Initialize(NULL));
}

static void teardown(void)
{
	p11->C_Finalize(NULL);
}

/* The one secret key labelled label that s can see. */
static CK_OBJECT_HANDLE find_secret(CK_SESSION_HANDLE s, const char *label)
{
	CK_RV rv;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) },
			     { CKA_LABEL, (void *)label, strlen(label) } };
	CKR(p11->C_FindObjectsInit(s, t, N(t)));
	CKR(p11->C_FindObjects(s, found, 2, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_msg(n == 1, "%lu secret keys labelled %s", (unsigned long)n, label);
	return found[0];
}

static void set_label(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k, const char *label)
{
	CK_RV rv;
	CK_ATTRIBUTE a = { CKA_LABEL, (void *)label, strlen(label) };
	CKR(p11->C_SetAttributeValue(s, k, &a, 1));
}

/* Token keys come back from their items in another instance of the
 * module, which has nothing of them in memory; logged out they are gone. */
START_TEST(token_keys_come_back)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k, h;
	CK_MECHANISM cbc = { CKM_AES_CBC_PAD, (void *)KAT_CBC_IV, 16 };
	CK_MECHANISM hm = { CKM_SHA512_HMAC, NULL, 0 };
	unsigned char ct[64], back[64], mac[64];
	CK_ULONG ml = sizeof(mac);
	CKR(gen_secret(s, CKM_AES_KEY_GEN, CKK_AES, 32, CK_TRUE, "kr-aes", &k));
	ck_assert_uint_eq(crypt1(s, &cbc, k, false, KAT_PLAIN, 33, ct), 48);
	CKR(import_secret(s, CKK_SHA512_HMAC, HMAC2_KEY, 4, CK_TRUE, &h));
	/* a change of a token key's attributes keeps its value */
	set_label(s, h, "kr-hmac");
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = sk_session();
	ck_assert_uint_eq(crypt1(s, &cbc, find_secret(s, "kr-aes"), true, ct, 48, back), 33);
	ck_assert_mem_eq(back, KAT_PLAIN, 33);
	CKR(p11->C_SignInit(s, &hm, find_secret(s, "kr-hmac")));
	CKR(p11->C_Sign(s, (unsigned char *)HMAC2_DATA, strlen(HMAC2_DATA), mac, &ml));
	ck_assert_uint_eq(ml, 64);
	ck_assert_mem_eq(mac, HMAC2_SHA512, 64);
	k = find_secret(s, "kr-aes");
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_EncryptInit(s, &cbc, k), CKR_KEY_HANDLE_INVALID);
	/* gone for good: the next run of the suite makes them again */
	s = sk_session();
	CKR(p11->C_DestroyObject(s, find_secret(s, "kr-aes")));
	CKR(p11->C_DestroyObject(s, find_secret(s, "kr-hmac")));
}
END_TEST

/* Envelope encryption with the key-encryption key in the keyring: a data
 * key wrapped by a token KEK, destroyed; another module instance unwraps
 * it into a token key with the KEK read from its item, and data encrypted
 * before decrypts; that token key comes back in a third instance. */
START_TEST(keyring_kek_envelope)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE kek, back;
	CK_ULONG len = 32, n;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_ATTRIBUTE kt[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, (void *)&T_, 1 }, { CKA_WRAP, (void *)&T_, 1 }, { CKA_UNWRAP, (void *)&T_, 1 },
		{ CKA_LABEL, "kr-kek", 6 },
	};
	unsigned char iv[12] = { 7 }, w[64], ct[80], pt[80];
	CK_GCM_PARAMS g = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) };
	CKR(p11->C_GenerateKey(s, &gen, kt, N(kt), &kek));
	n = envelope_seal(s, kek, &gcm, ct, w);
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = sk_session();
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) },
			      { CKA_KEY_TYPE, &aes, sizeof(aes) }, { CKA_TOKEN, (void *)&T_, 1 },
			      { CKA_DECRYPT, (void *)&T_, 1 }, { CKA_LABEL, "kr-dk", 5 } };
	CKR(p11->C_UnwrapKey(s, &kwp, find_secret(s, "kr-kek"), w, n, ut, N(ut), &back));
	ck_assert_uint_eq(crypt1(s, &gcm, back, true, ct, 80, pt), 64);
	ck_assert_mem_eq(pt, KAT_PLAIN, 64);
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = sk_session();
	memset(pt, 0, sizeof(pt));
	back = find_secret(s, "kr-dk");
	ck_assert_uint_eq(crypt1(s, &gcm, back, true, ct, 80, pt), 64);
	ck_assert_mem_eq(pt, KAT_PLAIN, 64);
	CKR(p11->C_DestroyObject(s, back));
	CKR(p11->C_DestroyObject(s, find_secret(s, "kr-kek")));
}
END_TEST

/* Keys from outside and key agreement, as on the soft slot: an EC private
 * key imported by its scalar signs for OpenSSL's public key, also in
 * another module instance (its PKCS#8 in an item); ECDH with it gives the
 * secret OpenSSL derives (C_DigestKey, and the value itself of a key made
 * readable); RSA-OAEP wrapping is not offered here. */
START_TEST(keys_from_outside)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE h, dk;
	static const CK_OBJECT_CLASS PRIV = CKO_PRIVATE_KEY;
	static const CK_KEY_TYPE EC = CKK_EC, GEN = CKK_GENERIC_SECRET;
	EVP_PKEY *k = EVP_EC_gen("P-256"), *peer = EVP_EC_gen("P-256");
	unsigned char d[32], pt[65], z[32], md[32], want[32], sig[64], dg[32], val[64];
	size_t ptlen = 0, zl = 32;
	BIGNUM *b = NULL;
	ck_assert(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &b) == 1 && BN_bn2binpad(b, d, 32) == 32);
	BN_clear_free(b);
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_KEY_TYPE, (void *)&EC, sizeof(EC) },
		{ CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_VALUE, d, 32 }, { CKA_TOKEN, (void *)&T_, 1 },
		{ CKA_SIGN, (void *)&T_, 1 }, { CKA_DERIVE, (void *)&T_, 1 }, { CKA_LABEL, "kr-imp", 6 },
	};
	CKR(p11->C_CreateObject(s, t, N(t), &h));
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = sk_session();
	CK_ULONG n = 0;
	CK_ATTRIBUTE ft[] = { { CKA_CLASS, (void *)&PRIV, sizeof(PRIV) }, { CKA_LABEL, "kr-imp", 6 } };
	CKR(p11->C_FindObjectsInit(s, ft, 2));
	CKR(p11->C_FindObjects(s, &h, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(get_bool(s, h, CKA_LOCAL), CK_FALSE);
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_ULONG sl = sizeof(sig);
	sha256("kr-imp", 6, dg);
	CKR(p11->C_SignInit(s, &ecdsa, h));
	CKR(p11->C_Sign(s, dg, 32, sig, &sl));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, sl), 1);

	ck_assert_int_eq(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen), 1);
	CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, ptlen, pt };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_ULONG len = 32;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, (void *)&GEN, sizeof(GEN) },
			      { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_SENSITIVE, (void *)&F_, 1 },
			      { CKA_EXTRACTABLE, (void *)&T_, 1 } };
	CKR(p11->C_DeriveKey(s, &m, h, dt, N(dt), &dk));
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	ck_assert(EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
		  EVP_PKEY_derive(c, z, &zl) == 1);
	EVP_PKEY_CTX_free(c);
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
	CK_ULONG ml = 32;
	CKR(p11->C_DigestInit(s, &sha));
	CKR(p11->C_DigestKey(s, dk));
	CKR(p11->C_DigestFinal(s, md, &ml));
	sha256(z, 32, want);
	ck_assert_mem_eq(md, want, 32);
	CK_ATTRIBUTE v = { CKA_VALUE, val, sizeof(val) };
	CKR(p11->C_GetAttributeValue(s, dk, &v, 1));
	ck_assert_uint_eq(v.ulValueLen, 32);
	ck_assert_mem_eq(val, z, 32);
	/* RSA-OAEP wrapping is the soft slot's only */
	CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	unsigned char w[512];
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &oaep, h, dk, w, &n), CKR_MECHANISM_INVALID);
	CKR(p11->C_DestroyObject(s, h));
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("keyring_secret");
	TCase *t = tcase_create("secret keys on the keyring slot");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, setup, teardown);
	add_secret_cases(t);
	add_wrap_cases(t);
	tcase_add_test(t, token_keys_come_back);
	tcase_add_test(t, keyring_kek_envelope);
	tcase_add_test(t, keys_from_outside);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
