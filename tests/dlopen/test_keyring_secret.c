/*
 * Secret keys on the keyring slot, through the built module, on the
 * private Secret Service that tests/keyring/secret.sh starts (it sets
 * HWAGG_CONF to a config whose only slot is the keyring slot, token
 * initialized with PIN 123456): the soft slot's known-answer,
 * length-rule, generation, sticky-attribute and key wrap cases
 * (secret_cases.h, wrap_cases.h), and what is the keyring's own: token
 * keys read back from their items by another module instance, usable
 * only logged in, and a key-encryption key kept in the keyring that
 * unwraps into a new token key.
 */
#include "p11.h"

#define SK_SLOT 0
#define SK_PRIVATE_UNWRAP CKR_FUNCTION_NOT_SUPPORTED   /* private keys are not unwrapped here */
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
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
