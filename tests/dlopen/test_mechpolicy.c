/*
 * The per-slot mechanism policy through the built module: "mechanisms"
 * allow/deny in C_GetMechanismList/Info, at every *Init and at key
 * generation; "rsa_min_bits" at key generation, at *Init with a smaller key
 * and in the mechanism info; the warning a lowered minimum gives.
 */
#include "config.h"
#include "p11.h"

/* A fresh world whose slot "hwtest" has these keys, initialized. */
static void world_with(const char *slot_keys)
{
	CK_RV rv;
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-policy-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	p11_write_conf(slot_keys, NULL, true);
	p11_load();
	CKR(p11->C_Initialize(NULL));
	p11_init_token();
}

/* The slot's mechanism list, checked for the two-call rule. */
static CK_ULONG mech_list(CK_MECHANISM_TYPE *list, CK_ULONG cap)
{
	CK_RV rv;
	CK_ULONG n = 0, got = cap;
	CKR(p11->C_GetMechanismList(0, NULL, &n));
	ck_assert_uint_le(n, cap);
	CKR(p11->C_GetMechanismList(0, list, &got));
	ck_assert_uint_eq(got, n);
	return n;
}

static bool listed(const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE t)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == t)
			return true;
	return false;
}

/* Lines of the module's log that contain text. */
static int log_lines(const char *text)
{
	char path[300], line[1024];
	int n = 0;
	snprintf(path, sizeof(path), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

static CK_RV gen_rsa_bits(CK_SESSION_HANDLE s, CK_ULONG bits, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL t = CK_TRUE;
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_TOKEN, &t, 1 },
			      { CKA_LABEL, "policy-rsa", 10 } };
	CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &t, 1 }, { CKA_LABEL, "policy-rsa", 10 } };
	return p11->C_GenerateKeyPair(s, &m, pt, 3, vt, 2, pub, priv);
}

static void teardown(void)
{
	p11_teardown();
}

START_TEST(deny_rsa_pkcs)
{
	CK_RV rv;
	CK_MECHANISM_TYPE list[64];
	CK_MECHANISM_INFO mi;
	world_with(", \"mechanisms\": {\"deny\": [\"CKM_RSA_PKCS\"]}");
	CK_ULONG n = mech_list(list, 64);
	ck_assert(!listed(list, n, CKM_RSA_PKCS));
	ck_assert(listed(list, n, CKM_SHA256_RSA_PKCS));
	ck_assert(listed(list, n, CKM_RSA_PKCS_KEY_PAIR_GEN));
	ck_assert(listed(list, n, CKM_ECDSA));
	CKR_EQ(p11->C_GetMechanismInfo(0, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
	CKR(p11->C_GetMechanismInfo(0, CKM_SHA256_RSA_PKCS, &mi));
	ck_assert_uint_eq(mi.ulMinKeySize, 2048);

	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_rsa(s, "denied", &pub, &priv);
	CK_MECHANISM raw = { CKM_RSA_PKCS, NULL, 0 }, hashed = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &raw, priv), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_VerifyInit(s, &raw, pub), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_EncryptInit(s, &raw, pub), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_DecryptInit(s, &raw, priv), CKR_MECHANISM_INVALID);
	/* hash-then-sign over it stays: it is another mechanism */
	unsigned char sig[256];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &hashed, priv));
	CKR(p11->C_Sign(s, (unsigned char *)"msg", 3, sig, &len));
	CKR(p11->C_VerifyInit(s, &hashed, pub));
	CKR(p11->C_Verify(s, (unsigned char *)"msg", 3, sig, len));
	/* the default minimum draws no warning */
	ck_assert_int_eq(log_lines("are allowed by configuration"), 0);
}
END_TEST

START_TEST(allow_only_ecdsa)
{
	CK_RV rv;
	CK_MECHANISM_TYPE list[64];
	CK_MECHANISM_INFO mi;
	world_with(", \"mechanisms\": {\"allow\": [\"CKM_EC_KEY_PAIR_GEN\", \"CKM_ECDSA\", "
		   "\"CKM_ECDSA_SHA256\", \"CKM_ECDSA_SHA384\"]}");
	CK_ULONG n = mech_list(list, 64);
	ck_assert_uint_eq(n, 4);
	ck_assert(listed(list, n, CKM_EC_KEY_PAIR_GEN));
	ck_assert(listed(list, n, CKM_ECDSA));
	ck_assert(listed(list, n, CKM_ECDSA_SHA256));
	ck_assert(listed(list, n, CKM_ECDSA_SHA384));
	CKR_EQ(p11->C_GetMechanismInfo(0, CKM_SHA256, &mi), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_GetMechanismInfo(0, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi), CKR_MECHANISM_INVALID);
	CKR(p11->C_GetMechanismInfo(0, CKM_ECDSA_SHA256, &mi));
	ck_assert(mi.flags & CKF_SIGN);

	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG bits = 2048;
	CK_MECHANISM rg = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 }, eg = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE rt = { CKA_MODULUS_BITS, &bits, sizeof(bits) };
	CKR_EQ(p11->C_GenerateKeyPair(s, &rg, &rt, 1, NULL, 0, &pub, &priv), CKR_MECHANISM_INVALID);
	CK_ATTRIBUTE et = { CKA_EC_PARAMS, "\x06\x03\x2b\x65\x70", 5 };
	CKR_EQ(p11->C_GenerateKeyPair(s, &eg, &et, 1, NULL, 0, &pub, &priv), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_DigestInit(s, &(CK_MECHANISM){ CKM_SHA256, NULL, 0 }), CKR_MECHANISM_INVALID);
	p11_gen_ec(s, "allowed", CK_FALSE, &pub, &priv);
	/* the digest inside ECDSA-SHA256 is hwagg's own, not the application's */
	unsigned char sig[64];
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM ok = { CKM_ECDSA_SHA256, NULL, 0 }, other = { CKM_ECDSA_SHA512, NULL, 0 };
	CKR(p11->C_SignInit(s, &ok, priv));
	CKR(p11->C_Sign(s, (unsigned char *)"msg", 3, sig, &len));
	CKR(p11->C_VerifyInit(s, &ok, pub));
	CKR(p11->C_Verify(s, (unsigned char *)"msg", 3, sig, len));
	CKR_EQ(p11->C_SignInit(s, &other, priv), CKR_MECHANISM_INVALID);
	CKR_EQ(p11->C_VerifyInit(s, &other, pub), CKR_MECHANISM_INVALID);
}
END_TEST

START_TEST(rsa_min_bits_3072)
{
	CK_RV rv;
	CK_MECHANISM_INFO mi;
	world_with(", \"rsa_min_bits\": 3072");
	CKR(p11->C_GetMechanismInfo(0, CKM_RSA_PKCS_KEY_PAIR_GEN, &mi));
	ck_assert_uint_eq(mi.ulMinKeySize, 3072);
	ck_assert_uint_eq(mi.ulMaxKeySize, 4096);
	CKR(p11->C_GetMechanismInfo(0, CKM_SHA256_RSA_PKCS_PSS, &mi));
	ck_assert_uint_eq(mi.ulMinKeySize, 3072);
	CKR(p11->C_GetMechanismInfo(0, CKM_ECDSA, &mi));
	ck_assert_uint_eq(mi.ulMinKeySize, 256);
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CKR_EQ(gen_rsa_bits(s, 2048, &pub, &priv), CKR_KEY_SIZE_RANGE);
	CKR(gen_rsa_bits(s, 3072, &pub, &priv));
	unsigned char sig[384];
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, (unsigned char *)"msg", 3, sig, &len));
	ck_assert_uint_eq(len, 384);
}
END_TEST

/* A key made under a lower minimum is refused at *Init once the slot's
 * minimum is raised above its size; lowering the minimum is announced. */
START_TEST(minimum_applies_to_existing_keys)
{
	CK_RV rv;
	world_with(", \"rsa_min_bits\": 1024");
	ck_assert_int_eq(log_lines("slot \"hwtest\": RSA keys below 2048 bits are allowed by configuration"), 1);
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 }, raw = { CKM_RSA_PKCS, NULL, 0 };
	unsigned char sig[256];
	CK_ULONG len = sizeof(sig);
	CKR(gen_rsa_bits(s, 1024, &pub, &priv));
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, (unsigned char *)"msg", 3, sig, &len));
	ck_assert_uint_eq(len, 128);
	ck_assert_int_eq(log_lines("are allowed by configuration"), 1);   /* once, not per use */

	/* the same store under the default policy */
	CKR(p11->C_Finalize(NULL));
	p11_write_conf(NULL, NULL, true);
	CKR(p11->C_Initialize(NULL));
	s = p11_user_session();
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY, uc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE q[] = { { CKA_LABEL, "policy-rsa", 10 }, { CKA_CLASS, &pc, sizeof(pc) } };
	CK_ULONG n;
	CKR(p11->C_FindObjectsInit(s, q, 2));
	CKR(p11->C_FindObjects(s, &priv, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	q[1].pValue = &uc;
	CKR(p11->C_FindObjectsInit(s, q, 2));
	CKR(p11->C_FindObjects(s, &pub, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CKR_EQ(p11->C_SignInit(s, &m, priv), CKR_KEY_SIZE_RANGE);
	CKR_EQ(p11->C_DecryptInit(s, &raw, priv), CKR_KEY_SIZE_RANGE);
	CKR_EQ(p11->C_VerifyInit(s, &m, pub), CKR_KEY_SIZE_RANGE);
	CKR_EQ(gen_rsa_bits(s, 1024, &pub, &priv), CKR_KEY_SIZE_RANGE);
	ck_assert_int_eq(log_lines("are allowed by configuration"), 1);   /* not said again */
}
END_TEST

START_TEST(unknown_mechanism_fails_initialize)
{
	CK_RV rv;
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-policy-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	p11_write_conf(", \"mechanisms\": {\"deny\": [\"CKM_RSA_PKCS\", \"CKM_NOPE\"]}", NULL, true);
	p11_load();
	/* the message (test_config) goes to stderr: the log file is the
	 * configuration's, which failed */
	ck_assert_int_ne(p11->C_Initialize(NULL), CKR_OK);
	CK_ULONG n;
	CKR_EQ(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mechpolicy");
	TCase *t = tcase_create("mechpolicy");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, NULL, teardown);
	tcase_add_test(t, deny_rsa_pkcs);
	tcase_add_test(t, allow_only_ecdsa);
	tcase_add_test(t, rsa_min_bits_3072);
	tcase_add_test(t, minimum_applies_to_existing_keys);
	tcase_add_test(t, unknown_mechanism_fails_initialize);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
