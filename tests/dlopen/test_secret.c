/*
 * Secret keys on the soft slot, through the built module: the shared
 * known-answer, length-rule, generation and sticky-attribute cases
 * (secret_cases.h), and what is the soft slot's own: token keys sealed in
 * the store and opened again by another module instance, the mechanism
 * list, and a mechanism policy that denies ECB.
 */
#include "p11.h"

#define SK_SLOT 0
#define SK_TAG_FAILS(rv) ((rv) == CKR_ENCRYPTED_DATA_INVALID)

static CK_SESSION_HANDLE sk_session(void)
{
	return p11_user_session();
}

#include "secret_cases.h"

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

/* A key with the usage given: wrap (CKA_WRAP, CKA_UNWRAP) and extractable. */
/* A known key for the known-answer tests: one to be wrapped is not
 * sensitive (its value is published), as only such a key may leave under
 * a known wrapping key. */
static CK_OBJECT_HANDLE import_kw(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const void *v, CK_ULONG len, CK_BBOOL wrap,
				  CK_BBOOL extractable)
{
	CK_BBOOL sensitive = !extractable;
	CK_RV rv;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE, (void *)v, len }, { CKA_WRAP, &wrap, 1 }, { CKA_UNWRAP, &wrap, 1 },
		{ CKA_EXTRACTABLE, &extractable, 1 }, { CKA_SENSITIVE, &sensitive, 1 },
	};
	CKR(p11->C_CreateObject(s, t, N(t), &h));
	return h;
}

/* A key-encryption key made here: wraps and unwraps, nothing else. */
static CK_OBJECT_HANDLE gen_kek(CK_SESSION_HANDLE s)
{
	CK_RV rv;
	CK_OBJECT_HANDLE h;
	CK_ULONG len = 32;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_WRAP, (void *)&T_, 1 }, { CKA_UNWRAP, (void *)&T_, 1 },
	};
	CKR(p11->C_GenerateKey(s, &gen, t, N(t), &h));
	return h;
}

/* RFC 3394 and 5649 known answers, and the envelope round trip: a data key
 * wrapped, destroyed, unwrapped, and data encrypted before decrypts. */
START_TEST(aes_key_wrap)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 }, kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE kek = import_kw(s, CKK_AES, KW_KEK128, 16, CK_TRUE, CK_FALSE),
			 key = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_TRUE),
			 kek2 = import_kw(s, CKK_AES, KWP_KEK192, 24, CK_TRUE, CK_FALSE),
			 key2 = import_kw(s, CKK_GENERIC_SECRET, KWP_KEY20, 20, CK_FALSE, CK_TRUE), back;
	unsigned char w[64];
	CK_ULONG n = 0;
	CKR(p11->C_WrapKey(s, &kw, kek, key, NULL, &n));
	ck_assert_uint_eq(n, 24);
	n = 23;
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, key, w, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 24);
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kw, kek, key, w, &n));
	ck_assert_uint_eq(n, 24);
	ck_assert_mem_eq(w, KW_WRAPPED, 24);
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kwp, kek2, key2, w, &n));
	ck_assert_uint_eq(n, 32);
	ck_assert_mem_eq(w, KWP_WRAPPED, 32);
	/* RFC 3394 needs whole 64-bit blocks */
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek2, key2, w, &n), CKR_KEY_SIZE_RANGE);

	/* the envelope */
	CK_OBJECT_HANDLE dk;
	CK_ULONG len = 32;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE dt[] = {
		{ CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_EXTRACTABLE, (void *)&T_, 1 },
	};
	unsigned char iv[12] = { 9 }, ct[80], pt[80];
	CK_GCM_PARAMS g = { iv, 12, 96, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) };
	CKR(p11->C_GenerateKey(s, &gen, dt, N(dt), &dk));
	ck_assert_uint_eq(crypt1(s, &gcm, dk, false, KAT_PLAIN, 64, ct), 80);
	/* a sensitive key leaves only under a key never known outside */
	n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kwp, kek, dk, w, &n), CKR_KEY_NOT_WRAPPABLE);
	kek = gen_kek(s);
	n = sizeof(w);
	CKR(p11->C_WrapKey(s, &kwp, kek, dk, w, &n));
	ck_assert_uint_eq(n, 40);
	CKR(p11->C_DestroyObject(s, dk));
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET_CLASS, sizeof(SECRET_CLASS) }, { CKA_KEY_TYPE, &aes, sizeof(aes) },
			      { CKA_DECRYPT, (void *)&T_, 1 } };
	CKR(p11->C_UnwrapKey(s, &kwp, kek, w, n, ut, N(ut), &back));
	ck_assert_uint_eq(crypt1(s, &gcm, back, true, ct, 80, pt), 64);
	ck_assert_mem_eq(pt, KAT_PLAIN, 64);
	/* an unwrapped key was not made here */
	ck_assert_int_eq(get_bool(s, back, CKA_LOCAL), CK_FALSE);
	ck_assert_int_eq(get_bool(s, back, CKA_ALWAYS_SENSITIVE), CK_FALSE);
	ck_assert_int_eq(get_bool(s, back, CKA_NEVER_EXTRACTABLE), CK_FALSE);
	ck_assert_uint_eq(get_ulong(s, back, CKA_VALUE_LEN), 32);
	/* a changed byte fails RFC 5649's check */
	w[5] ^= 1;
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, n, ut, N(ut), &back), CKR_WRAPPED_KEY_INVALID);
	CKR_EQ(p11->C_UnwrapKey(s, &kwp, kek, w, n - 3, ut, N(ut), &back), CKR_WRAPPED_KEY_LEN_RANGE);
	/* the template names the key type, of a secret or a private key */
	CKR_EQ(p11->C_UnwrapKey(s, &kw, kek, (unsigned char *)KW_WRAPPED, 24, ut, 1, &back), CKR_TEMPLATE_INCOMPLETE);
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE pt_[] = { { CKA_CLASS, &priv, sizeof(priv) } };
	CKR_EQ(p11->C_UnwrapKey(s, &kw, kek, (unsigned char *)KW_WRAPPED, 24, pt_, 1, &back),
	       CKR_TEMPLATE_INCOMPLETE);
}
END_TEST

/* The key-management attacks on wrapping fail: an unextractable key does
 * not leave, a key without CKA_WRAP does not wrap, a key that asks for a
 * trusted wrapping key gets one or stays, a private key is not wrapped. */
START_TEST(wrap_refusals)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = sk_session();
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 };
	CK_OBJECT_HANDLE kek = import_kw(s, CKK_AES, KW_KEK128, 16, CK_TRUE, CK_FALSE),
			 nowrap = import_kw(s, CKK_AES, KAT_KEY128, 16, CK_FALSE, CK_FALSE),
			 stays = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_FALSE),
			 key = import_kw(s, CKK_AES, KW_KEY128, 16, CK_FALSE, CK_TRUE), pub, priv;
	unsigned char w[64];
	CK_ULONG n = sizeof(w);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, stays, w, &n), CKR_KEY_UNEXTRACTABLE);
	CKR_EQ(p11->C_WrapKey(s, &kw, nowrap, key, w, &n), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CK_ATTRIBUTE trusted = { CKA_WRAP_WITH_TRUSTED, (void *)&T_, 1 };
	CKR(p11->C_SetAttributeValue(s, key, &trusted, 1));
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, key, w, &n), CKR_KEY_NOT_WRAPPABLE);
	/* and it cannot be taken back (B 4.9: only ever becomes true) */
	trusted.pValue = (void *)&F_;
	CKR_EQ(p11->C_SetAttributeValue(s, key, &trusted, 1), CKR_ATTRIBUTE_READ_ONLY);
	p11_gen_ec(s, "ec", CK_FALSE, &pub, &priv);
	CKR_EQ(p11->C_WrapKey(s, &kw, kek, priv, w, &n), CKR_KEY_NOT_WRAPPABLE);
	CKR_EQ(p11->C_WrapKey(s, &kw, priv, key, w, &n), CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
	/* CKA_TRUSTED is the SO's to give */
	CK_ATTRIBUTE tr = { CKA_TRUSTED, (void *)&T_, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, kek, &tr, 1), CKR_ATTRIBUTE_READ_ONLY);
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
	tcase_add_test(t, aes_key_wrap);
	tcase_add_test(t, wrap_refusals);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
