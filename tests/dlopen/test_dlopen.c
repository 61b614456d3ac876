/*
 * Drives the built libhwagg-pkcs11.so only through its exported entry
 * points, as a consumer would, against the embedded soft slot. Every
 * signature is checked independently with OpenSSL.
 */
#include "p11.h"
#include "ossl.h"
#include "common/pkcs11_3.h"
#include "common/hwagg.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

START_TEST(interfaces)
{
	CK_C_GetInterfaceList gil = (CK_C_GetInterfaceList)dlsym(p11_dl, "C_GetInterfaceList");
	CK_C_GetInterface gi = (CK_C_GetInterface)dlsym(p11_dl, "C_GetInterface");
	ck_assert_ptr_nonnull(gil);
	ck_assert_ptr_nonnull(gi);
	CK_ULONG n = 0;
	ck_assert_int_eq(gil(NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 2);
	CK_INTERFACE list[2];
	CK_ULONG one = 1;
	ck_assert_int_eq(gil(list, &one), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(one, 2);
	ck_assert_int_eq(gil(list, &n), CKR_OK);
	CK_INTERFACE *it;
	CK_VERSION v30 = { 3, 0 }, v240 = { 2, 40 }, v99 = { 9, 9 };
	ck_assert_int_eq(gi((CK_UTF8CHAR *)"PKCS 11", &v30, &it, 0), CKR_OK);
	ck_assert_int_eq(((CK_VERSION *)it->pFunctionList)->major, 3);
	ck_assert_int_eq(gi((CK_UTF8CHAR *)"PKCS 11", &v240, &it, 0), CKR_OK);
	CK_FUNCTION_LIST *l240 = it->pFunctionList;
	ck_assert_int_eq(l240->version.minor, 40);
	ck_assert_int_eq(gi((CK_UTF8CHAR *)"PKCS 11", &v99, &it, 0), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(gi((CK_UTF8CHAR *)"Vendor X", NULL, &it, 0), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(gi(NULL, NULL, &it, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(gi(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(gi(NULL, NULL, &it, 0), CKR_OK);
	/* the 3.0 list reaches the same implementation */
	CK_FUNCTION_LIST_3_0 *l30 = NULL;
	ck_assert_int_eq(gi((CK_UTF8CHAR *)"PKCS 11", &v30, &it, 0), CKR_OK);
	l30 = it->pFunctionList;
	CK_INFO info;
	ck_assert_int_eq(l30->C_GetInfo(&info), CKR_OK);
	ck_assert_int_eq(info.cryptokiVersion.major, 3);
	ck_assert_int_eq(info.cryptokiVersion.minor, 0);
	ck_assert_int_eq(p11->C_GetInfo(&info), CKR_OK);
	ck_assert_int_eq(info.cryptokiVersion.major, 2);
	ck_assert_int_eq(info.cryptokiVersion.minor, 40);
	/* every 3.0 entry is filled; the message functions say "not supported"
	 * after the usual session check */
	void **all = (void **)&l30->C_Initialize;
	for (int i = 0; i < 92; i++)
		ck_assert_ptr_nonnull(all[i]);
	CK_SESSION_HANDLE ms;
	ck_assert_int_eq(l30->C_MessageSignFinal(999), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(l30->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &ms), CKR_OK);
	ck_assert_int_eq(l30->C_MessageSignInit(ms, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(l30->C_EncryptMessageNext(ms, NULL, 0, NULL, 0, NULL, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(l30->C_CloseSession(ms), CKR_OK);
	/* every 2.40 entry is filled */
	void **fp = (void **)&p11->C_Initialize;
	for (int i = 0; i < 68; i++)
		ck_assert_ptr_nonnull(fp[i]);
}
END_TEST

START_TEST(initialize_truth_table)
{
	CK_RV rv;
	CK_ULONG n;
	CKR(p11->C_Finalize(NULL));
	CKR_EQ(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	CKR_EQ(p11->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	CK_C_INITIALIZE_ARGS a;
	memset(&a, 0, sizeof(a));
	a.CreateMutex = (CK_CREATEMUTEX)1;       /* partial set */
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.DestroyMutex = (CK_DESTROYMUTEX)1;
	a.LockMutex = (CK_LOCKMUTEX)1;
	a.UnlockMutex = (CK_UNLOCKMUTEX)1;
	CKR_EQ(p11->C_Initialize(&a), CKR_CANT_LOCK);   /* callbacks only */
	a.flags = CKF_OS_LOCKING_OK;
	CKR(p11->C_Initialize(&a));                    /* both: OS locks */
	CKR_EQ(p11->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CKR_EQ(p11->C_Finalize((void *)1), CKR_ARGUMENTS_BAD);
	CKR(p11->C_Finalize(NULL));
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	CKR(p11->C_Initialize(&a));
	CK_INFO info;
	CKR(p11->C_GetInfo(&info));
	ck_assert_int_eq(info.flags, 0);
	ck_assert_int_eq(info.manufacturerID[31], ' ');
	CKR_EQ(p11->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

/* pReserved that is not a readable string: CKR_ARGUMENTS_BAD, never a fault
 * (the test runs in a forked process by default, and in-process under
 * valgrind: a fault would fail either way). A config= string still works. */
START_TEST(initialize_bad_reserved)
{
	CK_RV rv;
	CK_C_INITIALIZE_ARGS a;
	long page = sysconf(_SC_PAGESIZE);
	CKR(p11->C_Finalize(NULL));
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	a.pReserved = (void *)1;
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* an unmapped page */
	char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(munmap(m + page, (size_t)page), 0);
	a.pReserved = m + page;
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* no NUL before the unmapped page: read up to it, never past */
	memset(m, 'a', (size_t)page);
	a.pReserved = m + page - 10;
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* a string that ends just before the unmapped page is read */
	char conf[300];
	snprintf(conf, sizeof(conf), "config=%s/hwagg.json", p11_dir);
	memcpy(m + page - strlen(conf) - 1, conf, strlen(conf) + 1);
	a.pReserved = m + page - strlen(conf) - 1;
	CKR(p11->C_Initialize(&a));
	CKR(p11->C_Finalize(NULL));
	/* control characters, and a string longer than any configuration */
	a.pReserved = (void *)"config=/etc/x\x01";
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	char *big = malloc(8192);
	ck_assert_ptr_nonnull(big);
	memset(big, 'c', 8191);
	big[8191] = '\0';
	a.pReserved = big;
	CKR_EQ(p11->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	free(big);
	munmap(m, (size_t)page);
	CK_ULONG n;
	CKR_EQ(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	a.pReserved = NULL;
	CKR(p11->C_Initialize(&a));
}
END_TEST

START_TEST(config_error_fails_initialize)
{
	CK_RV rv;
	char conf[300];
	CKR(p11->C_Finalize(NULL));
	snprintf(conf, sizeof(conf), "%s/bad.json", p11_dir);
	FILE *f = fopen(conf, "w");
	fputs("{\"slots\": [{\"name\": \"x\", \"tpye\": \"soft\"}]}", f);
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
	ck_assert_int_ne(p11->C_Initialize(NULL), CKR_OK);
	CK_ULONG n;
	CKR_EQ(p11->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(slots_and_tokens)
{
	CK_RV rv;
	CK_ULONG n = 99;
	CKR(p11->C_GetSlotList(CK_TRUE, NULL, &n));
	ck_assert_uint_eq(n, 1);
	CK_SLOT_ID ids[1];
	CK_ULONG zero = 0;
	CKR_EQ(p11->C_GetSlotList(CK_FALSE, ids, &zero), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(zero, 1);
	CKR(p11->C_GetSlotList(CK_FALSE, ids, &n));
	CK_SLOT_INFO si;
	CKR(p11->C_GetSlotInfo(ids[0], &si));
	ck_assert(si.flags & CKF_TOKEN_PRESENT);
	ck_assert(si.flags & CKF_REMOVABLE_DEVICE);
	CKR_EQ(p11->C_GetSlotInfo(77, &si), CKR_SLOT_ID_INVALID);
	CK_TOKEN_INFO ti;
	CKR(p11->C_GetTokenInfo(ids[0], &ti));
	ck_assert(memcmp(ti.label, "hwtest                          ", 32) == 0);
	ck_assert(ti.flags & CKF_TOKEN_INITIALIZED);
	ck_assert(ti.flags & CKF_USER_PIN_INITIALIZED);
	ck_assert(ti.flags & CKF_LOGIN_REQUIRED);
	ck_assert(ti.flags & CKF_RNG);
	CK_ULONG nm = 0;
	CKR(p11->C_GetMechanismList(0, NULL, &nm));
	CK_MECHANISM_TYPE *ml = calloc(nm, sizeof(*ml));
	CKR(p11->C_GetMechanismList(0, ml, &nm));
	int have_ecdsa_sha256 = 0;
	for (CK_ULONG i = 0; i < nm; i++)
		have_ecdsa_sha256 |= ml[i] == CKM_ECDSA_SHA256;
	ck_assert(have_ecdsa_sha256);
	free(ml);
	CK_MECHANISM_INFO mi;
	CKR(p11->C_GetMechanismInfo(0, CKM_ECDSA, &mi));
	ck_assert(mi.flags & CKF_SIGN);
	ck_assert(mi.flags & CKF_EC_F_P);
	ck_assert(!(mi.flags & CKF_HW));
	ck_assert_uint_eq(mi.ulMinKeySize, 256);
	CKR_EQ(p11->C_GetMechanismInfo(0, CKM_DES3_CBC, &mi), CKR_MECHANISM_INVALID);
}
END_TEST

START_TEST(login_rules_and_lockout)
{
	CK_RV rv;
	CK_SESSION_HANDLE ro, rw;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &ro));
	CKR_EQ(p11->C_OpenSession(0, 0, NULL, NULL, &rw), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw));
	CKR_EQ(p11->C_Login(rw, CKU_SO, (unsigned char *)SO_PIN, 8), CKR_SESSION_READ_ONLY_EXISTS);
	CKR_EQ(p11->C_Login(rw, 42, (unsigned char *)USER_PIN, 6), CKR_USER_TYPE_INVALID);
	CKR_EQ(p11->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
	CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)"000000", 6), CKR_PIN_INCORRECT);
	CK_TOKEN_INFO ti;
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(ti.flags & CKF_USER_PIN_COUNT_LOW);
	CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)"000000", 6), CKR_PIN_INCORRECT);
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(ti.flags & CKF_USER_PIN_FINAL_TRY);       /* pin_max_tries is 3 */
	/* a success resets the count */
	CKR(p11->C_Login(rw, CKU_USER, (unsigned char *)USER_PIN, 6));
	CK_SESSION_INFO info;
	CKR(p11->C_GetSessionInfo(ro, &info));
	ck_assert_uint_eq(info.state, CKS_RO_USER_FUNCTIONS);  /* login is per application */
	CKR(p11->C_GetSessionInfo(rw, &info));
	ck_assert_uint_eq(info.state, CKS_RW_USER_FUNCTIONS);
	CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)USER_PIN, 6), CKR_USER_ALREADY_LOGGED_IN);
	CKR_EQ(p11->C_Login(rw, CKU_SO, (unsigned char *)SO_PIN, 8), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CKR(p11->C_Logout(rw));
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(!(ti.flags & CKF_USER_PIN_COUNT_LOW));
	for (int i = 0; i < 3; i++)
		CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)"999999", 6), CKR_PIN_INCORRECT);
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(ti.flags & CKF_USER_PIN_LOCKED);
	CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)USER_PIN, 6), CKR_PIN_LOCKED);
	/* the SO can set a new user PIN: keys survive, the lock clears */
	CKR(p11->C_CloseSession(ro));
	CKR(p11->C_Login(rw, CKU_SO, (unsigned char *)SO_PIN, 8));
	CKR(p11->C_InitPIN(rw, (unsigned char *)"654321", 6));
	CKR(p11->C_Logout(rw));
	CKR(p11->C_Login(rw, CKU_USER, (unsigned char *)"654321", 6));
	CKR_EQ(p11->C_SetPIN(rw, (unsigned char *)"bad-old", 7, (unsigned char *)"111111", 6), CKR_PIN_INCORRECT);
	CKR_EQ(p11->C_SetPIN(rw, (unsigned char *)"654321", 6, (unsigned char *)"1", 1), CKR_PIN_LEN_RANGE);
	CKR(p11->C_SetPIN(rw, (unsigned char *)"654321", 6, (unsigned char *)"111111", 6));
	CKR(p11->C_Logout(rw));
	CKR_EQ(p11->C_Login(rw, CKU_USER, (unsigned char *)"654321", 6), CKR_PIN_INCORRECT);
	CKR(p11->C_Login(rw, CKU_USER, (unsigned char *)"111111", 6));
	/* C_InitToken with sessions open */
	unsigned char label[32];
	memset(label, ' ', 32);
	CKR_EQ(p11->C_InitToken(0, (unsigned char *)SO_PIN, 8, label), CKR_SESSION_EXISTS);
}
END_TEST

START_TEST(ecdsa_sign_rules)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "ec1", CK_TRUE, &pub, &priv);
	/* the private key's numbers live in OpenSSL's locked secure heap */
	ck_assert(CRYPTO_secure_malloc_initialized());
	ck_assert_uint_gt(CRYPTO_secure_used(), 0);
	EVP_PKEY *k = pubkey_of(s, pub);
	unsigned char dg[32], sig[128];
	CK_ULONG len;
	sha256("hello", 5, dg);
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	/* length query and too-small buffer keep the operation */
	CKR(p11->C_SignInit(s, &m, priv));
	CKR_EQ(p11->C_SignInit(s, &m, priv), CKR_OPERATION_ACTIVE);
	CKR(p11->C_Sign(s, dg, 32, NULL, &len));
	ck_assert_uint_eq(len, 64);
	len = 10;
	CKR_EQ(p11->C_Sign(s, dg, 32, sig, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 64);
	len = sizeof(sig);
	CKR(p11->C_Sign(s, dg, 32, sig, &len));
	ck_assert_uint_eq(len, 64);
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, len), 1);
	CKR_EQ(p11->C_Sign(s, dg, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* verify through the module, then a flipped bit */
	CKR(p11->C_VerifyInit(s, &m, pub));
	CKR(p11->C_Verify(s, dg, 32, sig, 64));
	sig[5] ^= 1;
	CKR(p11->C_VerifyInit(s, &m, pub));
	CKR_EQ(p11->C_Verify(s, dg, 32, sig, 64), CKR_SIGNATURE_INVALID);
	CKR(p11->C_VerifyInit(s, &m, pub));
	CKR_EQ(p11->C_Verify(s, dg, 32, sig, 63), CKR_SIGNATURE_LEN_RANGE);
	/* CKM_ECDSA is single-part: an update ends the operation */
	CKR(p11->C_SignInit(s, &m, priv));
	ck_assert_int_ne(p11->C_SignUpdate(s, dg, 32), CKR_OK);
	CKR_EQ(p11->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* hash-then-sign, multi-part; C_Sign after an update is refused */
	CK_MECHANISM m2 = { CKM_ECDSA_SHA256, NULL, 0 };
	CKR(p11->C_SignInit(s, &m2, priv));
	CKR(p11->C_SignUpdate(s, (unsigned char *)"hel", 3));
	CKR(p11->C_SignUpdate(s, (unsigned char *)"lo", 2));
	len = sizeof(sig);
	CKR(p11->C_SignFinal(s, sig, &len));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, len), 1);
	CKR(p11->C_SignInit(s, &m2, priv));
	CKR(p11->C_SignUpdate(s, (unsigned char *)"x", 1));
	CKR_EQ(p11->C_Sign(s, dg, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR_EQ(p11->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* wrong key kinds and mechanisms */
	CK_MECHANISM rsa = { CKM_RSA_PKCS, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &rsa, priv), CKR_KEY_TYPE_INCONSISTENT);
	CKR_EQ(p11->C_SignInit(s, &m, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CKR_EQ(p11->C_SignInit(s, &m, 424242), CKR_KEY_HANDLE_INVALID);
	CK_MECHANISM kg = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &kg, priv), CKR_MECHANISM_INVALID);
	CK_MECHANISM withparam = { CKM_ECDSA, dg, 4 };
	CKR_EQ(p11->C_SignInit(s, &withparam, priv), CKR_MECHANISM_PARAM_INVALID);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(rsa_mechanisms)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_rsa(s, "rsa1", &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	unsigned char sig[512], msg[] = "message to sign";
	CK_ULONG len = sizeof(sig);
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, msg, sizeof(msg), sig, &len));
	ck_assert_uint_eq(len, 256);
	EVP_MD_CTX *v = EVP_MD_CTX_new();
	EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, k);
	ck_assert_int_eq(EVP_DigestVerify(v, sig, len, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(v);
	/* PSS with parameters, verified by OpenSSL */
	CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM pss = { CKM_SHA256_RSA_PKCS_PSS, &pp, sizeof(pp) };
	len = sizeof(sig);
	CKR(p11->C_SignInit(s, &pss, priv));
	CKR(p11->C_Sign(s, msg, sizeof(msg), sig, &len));
	EVP_PKEY_CTX *pc = NULL;
	v = EVP_MD_CTX_new();
	EVP_DigestVerifyInit(v, &pc, EVP_sha256(), NULL, k);
	EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
	ck_assert_int_eq(EVP_DigestVerify(v, sig, len, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(v);
	/* PSS parameter errors */
	CK_RSA_PKCS_PSS_PARAMS bad = { CKM_SHA384, CKG_MGF1_SHA384, 32 };
	CK_MECHANISM mism = { CKM_SHA256_RSA_PKCS_PSS, &bad, sizeof(bad) };
	CKR_EQ(p11->C_SignInit(s, &mism, priv), CKR_MECHANISM_PARAM_INVALID);
	CK_MECHANISM nop = { CKM_SHA256_RSA_PKCS_PSS, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &nop, priv), CKR_MECHANISM_PARAM_INVALID);
	CK_RSA_PKCS_PSS_PARAMS huge = { CKM_SHA256, CKG_MGF1_SHA256, 300 };
	CK_MECHANISM big = { CKM_SHA256_RSA_PKCS_PSS, &huge, sizeof(huge) };
	CKR_EQ(p11->C_SignInit(s, &big, priv), CKR_MECHANISM_PARAM_INVALID);
	/* raw PSS needs a digest of hLen */
	CK_MECHANISM raw = { CKM_RSA_PKCS_PSS, &pp, sizeof(pp) };
	CKR(p11->C_SignInit(s, &raw, priv));
	len = sizeof(sig);
	CKR_EQ(p11->C_Sign(s, msg, 10, sig, &len), CKR_DATA_LEN_RANGE);
	/* OAEP: encrypt with the public key, decrypt on the token */
	CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM oaep = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	unsigned char ct[256], pt[256];
	CK_ULONG ctlen = sizeof(ct), ptlen = sizeof(pt);
	CKR(p11->C_EncryptInit(s, &oaep, pub));
	CKR(p11->C_Encrypt(s, (unsigned char *)"secret", 6, ct, &ctlen));
	CKR(p11->C_DecryptInit(s, &oaep, priv));
	CKR(p11->C_Decrypt(s, ct, ctlen, pt, &ptlen));
	ck_assert_uint_eq(ptlen, 6);
	ck_assert_mem_eq(pt, "secret", 6);
	ct[10] ^= 0x40;
	ptlen = sizeof(pt);
	CKR(p11->C_DecryptInit(s, &oaep, priv));
	ck_assert_int_ne(p11->C_Decrypt(s, ct, ctlen, pt, &ptlen), CKR_OK);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(attributes_and_visibility)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "attr", CK_TRUE, &pub, &priv);
	unsigned char point[128], buf[64];
	char level[32];
	CK_BBOOL sens, ext, never;
	CK_ATTRIBUTE pa[] = { { CKA_EC_POINT, point, sizeof(point) } };
	CKR(p11->C_GetAttributeValue(s, pub, pa, 1));
	ck_assert_uint_eq(pa[0].ulValueLen, 67);
	ck_assert_int_eq(point[0], 0x04);
	ck_assert_int_eq(point[1], 0x41);
	CK_ATTRIBUTE va[] = {
		{ CKA_VALUE, buf, sizeof(buf) }, { CKA_SENSITIVE, &sens, 1 },
		{ CKA_EXTRACTABLE, &ext, 1 }, { CKA_NEVER_EXTRACTABLE, &never, 1 },
		{ CKA_HWAGG_SECURITY_LEVEL, level, sizeof(level) },
	};
	CKR_EQ(p11->C_GetAttributeValue(s, priv, va, 5), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(va[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert(sens && !ext && never);
	ck_assert_uint_eq(va[4].ulValueLen, 8);
	ck_assert_mem_eq(level, "software", 8);
	CK_ATTRIBUTE ps = { CKA_SENSITIVE, &sens, 1 };
	CKR_EQ(p11->C_GetAttributeValue(s, pub, &ps, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	/* CKA_ID was derived and is the same on both halves */
	unsigned char id1[64], id2[64];
	CK_ATTRIBUTE i1 = { CKA_ID, id1, sizeof(id1) }, i2 = { CKA_ID, id2, sizeof(id2) };
	CKR(p11->C_GetAttributeValue(s, pub, &i1, 1));
	CKR(p11->C_GetAttributeValue(s, priv, &i2, 1));
	ck_assert_uint_eq(i1.ulValueLen, 20);
	ck_assert_mem_eq(id1, id2, 20);
	/* set: label yes, sensitive off no */
	CK_ATTRIBUTE lab = { CKA_LABEL, "renamed", 7 };
	CKR(p11->C_SetAttributeValue(s, priv, &lab, 1));
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE unsens = { CKA_SENSITIVE, &f, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, priv, &unsens, 1), CKR_ATTRIBUTE_READ_ONLY);
	/* private objects vanish at logout and their handles stay dead */
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE ft = { CKA_CLASS, &cls, sizeof(cls) };
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n;
	CKR(p11->C_FindObjectsInit(s, &ft, 1));
	CKR_EQ(p11->C_FindObjectsInit(s, &ft, 1), CKR_OPERATION_ACTIVE);
	CKR(p11->C_FindObjects(s, found, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CKR(p11->C_Logout(s));
	CKR(p11->C_FindObjectsInit(s, &ft, 1));
	CKR(p11->C_FindObjects(s, found, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 0);
	CK_ATTRIBUTE l2 = { CKA_LABEL, buf, sizeof(buf) };
	CKR_EQ(p11->C_GetAttributeValue(s, priv, &l2, 1), CKR_OBJECT_HANDLE_INVALID);
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6));
	CKR_EQ(p11->C_GetAttributeValue(s, priv, &l2, 1), CKR_OBJECT_HANDLE_INVALID);
	CKR(p11->C_FindObjectsInit(s, &ft, 1));
	CKR(p11->C_FindObjects(s, found, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_ne(found[0], priv);       /* never reused */
	CKR(p11->C_GetAttributeValue(s, found[0], &l2, 1));
	ck_assert_mem_eq(buf, "renamed", 7);
	CKR_EQ(p11->C_FindObjects(s, found, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(session_objects_and_create)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session(), s2;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s2));
	CK_OBJECT_HANDLE pub, priv, data, copy;
	p11_gen_ec(s2, "sess", CK_FALSE, &pub, &priv);   /* session keys in an R/O session */
	CK_OBJECT_CLASS dc = CKO_DATA;
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_TOKEN, &t, 1 },
			      { CKA_APPLICATION, "app", 3 }, { CKA_VALUE, "v", 1 } };
	CKR_EQ(p11->C_CreateObject(s2, dt, 4, &data), CKR_SESSION_READ_ONLY);
	CKR(p11->C_CreateObject(s, dt, 4, &data));
	CK_ATTRIBUTE nolabel[] = { { CKA_LABEL, "c", 1 } };
	CKR(p11->C_CopyObject(s, data, nolabel, 1, &copy));
	ck_assert_uint_ne(copy, data);
	CKR_EQ(p11->C_CopyObject(s, priv, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
	CK_ATTRIBUTE noclass[] = { { CKA_TOKEN, &t, 1 } };
	CKR_EQ(p11->C_CreateObject(s, noclass, 1, &data), CKR_TEMPLATE_INCOMPLETE);
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE privimport[] = { { CKA_CLASS, &pc, sizeof(pc) } };
	/* an import names the key type */
	CKR_EQ(p11->C_CreateObject(s, privimport, 1, &data), CKR_TEMPLATE_INCOMPLETE);
	/* a public key imported from its EC point */
	unsigned char point[80];
	CK_ATTRIBUTE pa = { CKA_EC_POINT, point, sizeof(point) };
	CKR(p11->C_GetAttributeValue(s, pub, &pa, 1));
	CK_OBJECT_CLASS pkc = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE pkt[] = { { CKA_CLASS, &pkc, sizeof(pkc) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
			       { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) },
			       { CKA_EC_POINT, point, pa.ulValueLen } };
	CK_OBJECT_HANDLE imported;
	CKR(p11->C_CreateObject(s, pkt, 4, &imported));
	/* session key signs from the other session too; closing s2 kills it */
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char dg[32] = { 1 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, dg, 32, sig, &len));
	CKR(p11->C_VerifyInit(s, &m, imported));
	CKR(p11->C_Verify(s, dg, 32, sig, len));
	CKR(p11->C_CloseSession(s2));
	CKR_EQ(p11->C_SignInit(s, &m, priv), CKR_KEY_HANDLE_INVALID);
	CKR_EQ(p11->C_GetSessionInfo(s2, NULL), CKR_SESSION_HANDLE_INVALID);
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE nodestroy[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_DESTROYABLE, &f, 1 } };
	CKR(p11->C_CreateObject(s, nodestroy, 2, &data));
	CKR_EQ(p11->C_DestroyObject(s, data), CKR_ACTION_PROHIBITED);
	CKR(p11->C_DestroyObject(s, copy));
	CKR_EQ(p11->C_DestroyObject(s, copy), CKR_OBJECT_HANDLE_INVALID);
}
END_TEST

START_TEST(persistence_across_finalize)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "persist", CK_TRUE, &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	CKR(p11->C_Finalize(NULL));
	CKR(p11->C_Initialize(NULL));
	s = p11_user_session();
	CK_ATTRIBUTE ft = { CKA_LABEL, "persist", 7 };
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE ft2[] = { ft, { CKA_CLASS, &cls, sizeof(cls) } };
	CKR(p11->C_FindObjectsInit(s, ft2, 2));
	CKR(p11->C_FindObjects(s, found, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[64], dg[32];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &m, found[0]));
	CKR(p11->C_Sign(s, (unsigned char *)"abc", 3, sig, &len));
	sha256("abc", 3, dg);
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, len), 1);
	EVP_PKEY_free(k);
}
END_TEST

#define THREADS 8
#define SIGNS 100
static CK_OBJECT_HANDLE thr_key;
static EVP_PKEY *thr_pub;

static void *signer(void *arg)
{
	CK_SESSION_HANDLE s;
	long bad = 0;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)1L;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	for (int i = 0; i < SIGNS; i++) {
		unsigned char dg[32], sig[64];
		CK_ULONG len = sizeof(sig);
		memset(dg, (int)(intptr_t)arg + i, sizeof(dg));
		if (p11->C_SignInit(s, &m, thr_key) != CKR_OK || p11->C_Sign(s, dg, 32, sig, &len) != CKR_OK ||
		    ossl_verify_ecdsa(thr_pub, dg, 32, sig, len) != 1)
			bad++;
	}
	p11->C_CloseSession(s);
	return (void *)bad;
}

START_TEST(eight_threads_sign)
{
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub;
	p11_gen_ec(s, "threads", CK_TRUE, &pub, &thr_key);
	thr_pub = pubkey_of(s, pub);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, (void *)i), 0);
	long bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	ck_assert_int_eq(bad, 0);
	EVP_PKEY_free(thr_pub);
}
END_TEST

START_TEST(fork_child_starts_fresh)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "forked", CK_TRUE, &pub, &priv);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int code = 0;
		CK_ULONG n;
		CK_SESSION_INFO si;
		if (p11->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
			code |= 1;
		if (p11->C_GetSessionInfo(s, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
			code |= 2;
		if (p11->C_Initialize(NULL) != CKR_OK)
			code |= 4;
		CK_SESSION_HANDLE cs;
		if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK)
			code |= 8;
		/* the child does not inherit the parent's login */
		if (p11->C_GetSessionInfo(cs, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
			code |= 16;
		if (p11->C_Login(cs, CKU_USER, (unsigned char *)USER_PIN, 6) != CKR_OK)
			code |= 32;
		CK_ATTRIBUTE ft = { CKA_LABEL, "forked", 6 };
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE t2[] = { ft, { CKA_CLASS, &cls, sizeof(cls) } };
		CK_OBJECT_HANDLE k;
		CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
		unsigned char dg[32] = { 7 }, sig[64];
		CK_ULONG len = sizeof(sig);
		if (p11->C_FindObjectsInit(cs, t2, 2) != CKR_OK || p11->C_FindObjects(cs, &k, 1, &n) != CKR_OK ||
		    n != 1 || p11->C_FindObjectsFinal(cs) != CKR_OK || p11->C_SignInit(cs, &m, k) != CKR_OK ||
		    p11->C_Sign(cs, dg, 32, sig, &len) != CKR_OK)
			code |= 64;
		p11->C_Finalize(NULL);
		_exit(code);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: 0x%x", WEXITSTATUS(status));
	/* the parent's session and login are untouched */
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char dg[32] = { 9 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, dg, 32, sig, &len));
}
END_TEST

START_TEST(digest_and_random)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	unsigned char out[64], want[32];
	CK_ULONG len;
	CKR(p11->C_DigestInit(s, &m));
	CKR(p11->C_Digest(s, (unsigned char *)"abc", 3, NULL, &len));
	ck_assert_uint_eq(len, 32);
	CKR(p11->C_Digest(s, (unsigned char *)"abc", 3, out, &len));
	sha256("abc", 3, want);
	ck_assert_mem_eq(out, want, 32);
	CKR(p11->C_DigestInit(s, &m));
	CKR(p11->C_DigestUpdate(s, (unsigned char *)"a", 1));
	CKR(p11->C_DigestUpdate(s, (unsigned char *)"bc", 2));
	len = sizeof(out);
	CKR(p11->C_DigestFinal(s, out, &len));
	ck_assert_mem_eq(out, want, 32);
	unsigned char r1[32] = { 0 }, r2[32] = { 0 };
	CKR(p11->C_GenerateRandom(s, r1, 32));
	CKR(p11->C_GenerateRandom(s, r2, 32));
	ck_assert(memcmp(r1, r2, 32) != 0);
	CKR_EQ(p11->C_GetFunctionStatus(s), CKR_FUNCTION_NOT_PARALLEL);
	CKR_EQ(p11->C_GenerateKey(s, &m, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(keygen_template_errors)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, NULL, 0, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCOMPLETE);
	static const unsigned char k1[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a };  /* secp256k1 */
	CK_ATTRIBUTE c1 = { CKA_EC_PARAMS, (void *)k1, sizeof(k1) };
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, &c1, 1, NULL, 0, &pub, &priv), CKR_CURVE_NOT_SUPPORTED);
	CK_ATTRIBUTE junk = { CKA_EC_PARAMS, "\x06\x50", 2 };
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, &junk, 1, NULL, 0, &pub, &priv), CKR_DOMAIN_PARAMS_INVALID);
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_ATTRIBUTE wrongkt[] = { { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) },
				   { CKA_KEY_TYPE, &rsa, sizeof(rsa) } };
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, wrongkt, 2, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
	CK_MECHANISM r = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CKR_EQ(p11->C_GenerateKeyPair(s, &r, NULL, 0, NULL, 0, &pub, &priv), CKR_TEMPLATE_INCOMPLETE);
	CK_ULONG bits = 512;
	CK_ATTRIBUTE small = { CKA_MODULUS_BITS, &bits, sizeof(bits) };
	CKR_EQ(p11->C_GenerateKeyPair(s, &r, &small, 1, NULL, 0, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
	bits = 1024;          /* hwagg makes it, the slot's policy (default 2048) refuses it */
	CKR_EQ(p11->C_GenerateKeyPair(s, &r, &small, 1, NULL, 0, &pub, &priv), CKR_KEY_SIZE_RANGE);
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE local = { CKA_LOCAL, &t, 1 };
	CK_ATTRIBUTE ok = { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) };
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, &ok, 1, &local, 1, &pub, &priv), CKR_ATTRIBUTE_READ_ONLY);
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, &ok, 1, NULL, 0, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
	/* nothing half-made: no private key appeared */
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6));
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n;
	CKR(p11->C_FindObjectsInit(s, NULL, 0));
	CKR(p11->C_FindObjects(s, found, 2, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dlopen");
	TCase *t = tcase_create("module");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, p11_setup, p11_teardown);
	tcase_add_test(t, interfaces);
	tcase_add_test(t, initialize_truth_table);
	tcase_add_test(t, config_error_fails_initialize);
	tcase_add_test(t, initialize_bad_reserved);
	tcase_add_test(t, slots_and_tokens);
	tcase_add_test(t, login_rules_and_lockout);
	tcase_add_test(t, ecdsa_sign_rules);
	tcase_add_test(t, rsa_mechanisms);
	tcase_add_test(t, attributes_and_visibility);
	tcase_add_test(t, session_objects_and_create);
	tcase_add_test(t, persistence_across_finalize);
	tcase_add_test(t, eight_threads_sign);
	tcase_add_test(t, fork_child_starts_fresh);
	tcase_add_test(t, digest_and_random);
	tcase_add_test(t, keygen_template_errors);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
