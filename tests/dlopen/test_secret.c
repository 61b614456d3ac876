/*
 * Secret keys on the soft slot, through the built module: the shared
 * known-answer, length-rule, generation and sticky-attribute cases
 * (secret_cases.h) and key wrap cases (wrap_cases.h), and what is the
 * soft slot's own: token keys sealed in the store and opened again by
 * another module instance, the mechanism list, and a mechanism policy
 * that denies ECB.
 */
#include "p11.h"

#define SK_SLOT 0
#define SK_PRIVATE_UNWRAP CKR_TEMPLATE_INCOMPLETE   /* a private key unwraps from PKCS#8 with its key type named */
#define SK_TAG_FAILS(rv) ((rv) == CKR_ENCRYPTED_DATA_INVALID)

static CK_SESSION_HANDLE sk_session(void)
{
	return p11_user_session();
}

#include "secret_cases.h"
#include "wrap_cases.h"

START_TEST(token_key_survives_reload)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k, found[2];
	CK_ULONG n;
	CK_MECHANISM cbc = { CKM_AES_CBC_PAD, (void *)KAT_CBC_IV, 16 };
	CK_MECHANISM hm = { CKM_SHA384_HMAC, NULL, 0 };
	unsigned char ct[64], back[64], mac[48];
	CK_ULONG ml = sizeof(mac);
	CKR(gen_secret(s, CKM_AES_KEY_GEN, CKK_AES, 32, CK_TRUE, "kept", &k));
	ck_assert_uint_eq(crypt1(s, &cbc, k, false, KAT_PLAIN, 33, ct), 48);
	CK_OBJECT_HANDLE h;
	CKR(import_secret(s, CKK_SHA384_HMAC, HMAC2_KEY, 4, CK_TRUE, &h));
	/* another instance of the module: the keys come back from the store */
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = sk_session();
	CK_ATTRIBUTE t[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_LABEL, "kept", 4 } };
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, found, 2, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(crypt1(s, &cbc, found[0], true, ct, 48, back), 33);
	ck_assert_mem_eq(back, KAT_PLAIN, 33);
	t[1].pValue = "kat";
	t[1].ulValueLen = 3;
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, found, 2, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CKR(p11->C_SignInit(s, &hm, found[0]));
	CKR(p11->C_Sign(s, (unsigned char *)HMAC2_DATA, strlen(HMAC2_DATA), mac, &ml));
	ck_assert_mem_eq(mac, HMAC2_SHA384, 48);
	/* logged out, the sealed value cannot be opened */
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_EncryptInit(s, &cbc, found[0]), CKR_KEY_HANDLE_INVALID);
}
END_TEST

START_TEST(mechanisms_listed)
{
	CK_RV rv;
	CK_MECHANISM_INFO mi;
	static const CK_MECHANISM_TYPE want[] = { CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_AES_ECB,
		CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM, CKM_SHA256_HMAC, CKM_SHA512_HMAC_GENERAL };
	for (size_t i = 0; i < N(want); i++)
		CKR(p11->C_GetMechanismInfo(SK_SLOT, want[i], &mi));
	CKR(p11->C_GetMechanismInfo(SK_SLOT, CKM_AES_GCM, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN), CKF_ENCRYPT | CKF_DECRYPT);
	ck_assert_uint_eq(mi.ulMinKeySize, 16);
	ck_assert_uint_eq(mi.ulMaxKeySize, 32);
	CKR(p11->C_GetMechanismInfo(SK_SLOT, CKM_SHA256_HMAC, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
	CKR(p11->C_GetMechanismInfo(SK_SLOT, CKM_AES_KEY_GEN, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_GENERATE | CKF_GENERATE_KEY_PAIR), CKF_GENERATE);
	CKR(p11->C_GetMechanismInfo(SK_SLOT, CKM_AES_KEY_WRAP_PAD, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_WRAP | CKF_UNWRAP | CKF_ENCRYPT), CKF_WRAP | CKF_UNWRAP);
}
END_TEST

START_TEST(policy_denies_ecb)
{
	CK_RV rv;
	CK_MECHANISM_INFO mi;
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 }, cbc = { CKM_AES_CBC, (void *)KAT_CBC_IV, 16 };
	unsigned char out[64];
	CKR(p11->C_Finalize(NULL));
	p11_write_conf(", \"mechanisms\": {\"deny\": [\"CKM_AES_ECB\"]}", NULL, false);
	CKR(p11->C_Initialize(NULL));
	CKR_EQ(p11->C_GetMechanismInfo(SK_SLOT, CKM_AES_ECB, &mi), CKR_MECHANISM_INVALID);
	CK_SESSION_HANDLE s = sk_session();
	CK_OBJECT_HANDLE k = imported(s, CKK_AES, KAT_KEY128, 16);
	CKR_EQ(p11->C_EncryptInit(s, &ecb, k), CKR_MECHANISM_INVALID);
	ck_assert_uint_eq(crypt1(s, &cbc, k, false, KAT_PLAIN, 64, out), 64);
	ck_assert_mem_eq(out, KAT_CBC128, 64);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("secret");
	TCase *t = tcase_create("secret keys on the soft slot");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, p11_setup, p11_teardown);
	add_secret_cases(t);
	tcase_add_test(t, token_key_survives_reload);
	tcase_add_test(t, mechanisms_listed);
	tcase_add_test(t, policy_denies_ecb);
	add_wrap_cases(t);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
