/*
 * The hsm slot over SoftHSM2, driven through the built module as a consumer
 * would: tokens, PINs and objects pass through, mechanisms SoftHSM2 lacks
 * are built over the ones it has, keys say where they live, 8 threads and 2
 * processes sign at once, and a forked child gets a lower module of its own
 * while the parent goes on signing. Signatures are checked with OpenSSL.
 *
 * Slots: 0 "hwtest" (hsm over SoftHSM2 token "hwtest"), 1 "soft".
 */
#include "p11.h"
#include "ossl.h"
#include "hsm_fixture.h"
#include "common/hwagg.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/wait.h>

/* Sign "msg" with CKM_ECDSA_SHA256 and check it; 1 if good. */
static int sign_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, int i)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char msg[16], dg[32], sig[64];
	CK_ULONG len = sizeof(sig);
	memset(msg, i, sizeof(msg));
	if (p11->C_SignInit(s, &m, priv) != CKR_OK || p11->C_Sign(s, msg, sizeof(msg), sig, &len) != CKR_OK)
		return 0;
	sha256(msg, sizeof(msg), dg);
	return ossl_verify_ecdsa(pub, dg, 32, sig, len) == 1;
}

START_TEST(token_and_mechanisms)
{
	CK_RV rv;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(memcmp(ti.label, "hwtest                          ", 32) == 0);
	ck_assert(memcmp(ti.model, "SoftHSM v2      ", 16) == 0);
	ck_assert(ti.flags & CKF_TOKEN_INITIALIZED);
	ck_assert(ti.flags & CKF_USER_PIN_INITIALIZED);
	ck_assert(ti.flags & CKF_LOGIN_REQUIRED);
	/* SoftHSM2 2.6.1 has CKM_ECDSA but not CKM_ECDSA_SHA256 */
	ck_assert(!softhsm_shows("-M", "ECDSA-SHA256"));
	CK_MECHANISM_TYPE ml[64];
	CK_ULONG n = 64;
	bool base = false, derived = false;
	CKR(p11->C_GetMechanismList(0, ml, &n));
	for (CK_ULONG i = 0; i < n; i++) {
		base |= ml[i] == CKM_ECDSA;
		derived |= ml[i] == CKM_ECDSA_SHA256;
	}
	ck_assert(base && derived);
	CKR(p11->C_GetMechanismInfo(0, CKM_ECDSA_SHA256, &mi));
	ck_assert(mi.flags & CKF_SIGN);
	/* AES is passed through (tests/dlopen/test_hsm_secret.c); what hwagg
	 * does not know is not offered */
	CKR(p11->C_GetMechanismInfo(0, CKM_AES_CBC, &mi));
	ck_assert_uint_eq(mi.flags & (CKF_ENCRYPT | CKF_DECRYPT), CKF_ENCRYPT | CKF_DECRYPT);
	CKR_EQ(p11->C_GetMechanismInfo(0, CKM_DES3_CBC, &mi), CKR_MECHANISM_INVALID);
}
END_TEST

START_TEST(ec_keys_live_in_softhsm)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "ec-hsm", CK_TRUE, &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	ck_assert(sign_check(s, priv, k, 1));
	/* raw CKM_ECDSA on a digest */
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char dg[32], sig[64], buf[64];
	CK_ULONG len = sizeof(sig);
	sha256("abc", 3, dg);
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, dg, 32, sig, &len));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, len), 1);
	/* where it lives */
	char level[16] = "", backend[8] = "", slot[16] = "", uri[600] = "";
	CK_ATTRIBUTE va[] = {
		{ CKA_HWAGG_SECURITY_LEVEL, level, sizeof(level) - 1 },
		{ CKA_HWAGG_BACKEND, backend, sizeof(backend) - 1 },
		{ CKA_HWAGG_SLOT, slot, sizeof(slot) - 1 },
		{ CKA_HWAGG_PROVIDER_URI, uri, sizeof(uri) - 1 },
	};
	for (int half = 0; half < 2; half++) {
		memset(uri, 0, sizeof(uri));
		CKR(p11->C_GetAttributeValue(s, half ? pub : priv, va, 4));
		ck_assert_str_eq(level, "software");
		ck_assert_str_eq(backend, "hsm");
		ck_assert_str_eq(slot, "hwtest");
		ck_assert_msg(strstr(uri, "pkcs11:token=hwtest;serial=") == uri, "%s", uri);
		ck_assert_msg(strstr(uri, "?module-path=/usr/lib/softhsm/libsofthsm2.so") != NULL, "%s", uri);
	}
	CK_ATTRIBUTE secret = { CKA_VALUE, buf, sizeof(buf) };
	CKR_EQ(p11->C_GetAttributeValue(s, priv, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* the key is SoftHSM2's: its own tools list it */
	ck_assert(softhsm_shows("--login --pin 123456 -O", "label:      ec-hsm"));
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(rsa_sign_decrypt_and_lower_errors)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_rsa(s, "rsa-hsm", &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	unsigned char sig[256], msg[] = "through the hsm slot", ct[256], pt[256];
	CK_ULONG len = sizeof(sig), ctlen = sizeof(ct), ptlen = sizeof(pt);
	CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM mechs[] = { { CKM_SHA256_RSA_PKCS, NULL, 0 }, { CKM_SHA256_RSA_PKCS_PSS, &pp, sizeof(pp) } };
	for (int i = 0; i < 2; i++) {
		EVP_PKEY_CTX *pc = NULL;
		EVP_MD_CTX *v = EVP_MD_CTX_new();
		len = sizeof(sig);
		CKR(p11->C_SignInit(s, &mechs[i], priv));
		CKR(p11->C_Sign(s, msg, sizeof(msg), sig, &len));
		EVP_DigestVerifyInit(v, &pc, EVP_sha256(), NULL, k);
		if (i == 1) {
			EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32);
		}
		ck_assert_int_eq(EVP_DigestVerify(v, sig, len, msg, sizeof(msg)), 1);
		EVP_MD_CTX_free(v);
	}
	/* OAEP: SoftHSM2 refuses SHA-256 at C_DecryptInit; that answer comes
	 * back from our C_DecryptInit unchanged */
	CK_RSA_PKCS_OAEP_PARAMS o256 = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM oaep256 = { CKM_RSA_PKCS_OAEP, &o256, sizeof(o256) };
	rv = p11->C_DecryptInit(s, &oaep256, priv);
	ck_assert_msg(rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID, "rv 0x%lx", rv);
	CK_RSA_PKCS_OAEP_PARAMS o1 = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM oaep1 = { CKM_RSA_PKCS_OAEP, &o1, sizeof(o1) }, pkcs = { CKM_RSA_PKCS, NULL, 0 };
	CK_MECHANISM *dm[] = { &oaep1, &pkcs };
	for (int i = 0; i < 2; i++) {
		ctlen = sizeof(ct);
		ptlen = sizeof(pt);
		CKR(p11->C_EncryptInit(s, dm[i], pub));
		CKR(p11->C_Encrypt(s, (unsigned char *)"secret", 6, ct, &ctlen));
		CKR(p11->C_DecryptInit(s, dm[i], priv));
		CKR(p11->C_Decrypt(s, ct, ctlen, pt, &ptlen));
		ck_assert_uint_eq(ptlen, 6);
		ck_assert_mem_eq(pt, "secret", 6);
	}
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(pins_pass_through)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)"000000", 6), CKR_PIN_INCORRECT);
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(ti.flags & CKF_USER_PIN_COUNT_LOW);          /* SoftHSM2's own flag */
	CKR(p11->C_Login(s, CKU_SO, (unsigned char *)SO_PIN, 8));
	CKR(p11->C_InitPIN(s, (unsigned char *)"654321", 6));
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6), CKR_PIN_INCORRECT);
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)"654321", 6));
	CKR(p11->C_SetPIN(s, (unsigned char *)"654321", 6, (unsigned char *)"111111", 6));
	CKR(p11->C_Logout(s));
	CKR(p11->C_CloseSession(s));
	/* SoftHSM2 itself now takes the new PIN, and only that */
	ck_assert(!softhsm_shows("--login --pin 111111 -O", "CKR_PIN_INCORRECT"));
	ck_assert(softhsm_shows("--login --pin 654321 -O", "CKR_PIN_INCORRECT"));
}
END_TEST

START_TEST(init_token_passes_through)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_TOKEN_INFO ti;
	CK_ULONG n;
	unsigned char label[32];
	p11_gen_ec(s, "before-init", CK_TRUE, &pub, &priv);
	CKR(p11->C_CloseSession(s));
	memset(label, ' ', sizeof(label));
	memcpy(label, "other", 5);
	/* another label than the slot's name: refused before anything is wiped */
	CKR_EQ(p11->C_InitToken(0, (unsigned char *)SO_PIN, 8, label), CKR_ARGUMENTS_BAD);
	s = p11_user_session();
	CK_ATTRIBUTE kept = { CKA_LABEL, "before-init", 11 };
	CKR(p11->C_FindObjectsInit(s, &kept, 1));
	CKR(p11->C_FindObjects(s, &pub, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert_uint_eq(n, 1);
	CKR(p11->C_CloseSession(s));
	memcpy(label, "hwtest", 6);
	CKR_EQ(p11->C_InitToken(0, (unsigned char *)"bad-so-pin", 10, label), CKR_PIN_INCORRECT);
	CKR(p11->C_InitToken(0, (unsigned char *)SO_PIN, 8, label));
	/* still found (the configured label is kept), now without a user PIN */
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(!(ti.flags & CKF_USER_PIN_INITIALIZED));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_SO, (unsigned char *)SO_PIN, 8));
	CKR(p11->C_InitPIN(s, (unsigned char *)USER_PIN, 6));
	CKR(p11->C_Logout(s));
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6));
	find_label(s, CKO_PRIVATE_KEY, "before-init", &n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(objects_written_by_others_appear)
{
	CK_ULONG n;
	CK_SESSION_HANDLE s = p11_user_session();
	find_label(s, CKO_PUBLIC_KEY, "outside", &n);
	ck_assert_uint_eq(n, 0);
	ck_assert(softhsm_shows("--login --pin 123456 --keypairgen --key-type EC:prime256v1 --label outside --id 77",
				"Key pair generated"));
	CK_OBJECT_HANDLE h = find_label(s, CKO_PUBLIC_KEY, "outside", &n);
	ck_assert_uint_eq(n, 1);
	CK_OBJECT_HANDLE priv = find_label(s, CKO_PRIVATE_KEY, "outside", &n);
	ck_assert_uint_eq(n, 1);
	/* SoftHSM2 gives no CKA_PUBLIC_KEY_INFO: hwagg builds it from the point */
	EVP_PKEY *k = pubkey_of(s, h);
	ck_assert(sign_check(s, priv, k, 3));
	EVP_PKEY_free(k);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label hwtest --login --pin 123456 "
		 "--delete-object --type pubkey --id 77 >/dev/null 2>&1", softhsm);
	run(cmd);
	find_label(s, CKO_PUBLIC_KEY, "outside", &n);
	ck_assert_uint_eq(n, 0);
	/* its private key deleted by another process under a handle the
	 * application still holds: C_SignInit says the key handle is invalid
	 * (B 5.10), not the lower module's word for it */
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label hwtest --login --pin 123456 "
		 "--delete-object --type privkey --id 77 >/dev/null 2>&1", softhsm);
	run(cmd);
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	ck_assert_uint_eq(p11->C_SignInit(s, &m, priv), CKR_KEY_HANDLE_INVALID);
}
END_TEST

START_TEST(objects_created_changed_destroyed)
{
	CK_RV rv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv, data;
	p11_gen_ec(s, "to-rename", CK_TRUE, &pub, &priv);
	CK_ATTRIBUTE lab = { CKA_LABEL, "renamed", 7 };
	CKR(p11->C_SetAttributeValue(s, priv, &lab, 1));
	ck_assert(softhsm_shows("--login --pin 123456 -O", "label:      renamed"));
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE unsens = { CKA_SENSITIVE, &f, 1 };
	CKR_EQ(p11->C_SetAttributeValue(s, priv, &unsens, 1), CKR_ATTRIBUTE_READ_ONLY);
	CK_OBJECT_CLASS dc = CKO_DATA;
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_TOKEN, &t, 1 },
			      { CKA_LABEL, "note", 4 }, { CKA_VALUE, "kept in softhsm", 15 } };
	CKR(p11->C_CreateObject(s, dt, 4, &data));
	ck_assert(softhsm_shows("--login --pin 123456 -O", "label:          'note'"));
	char level[16] = "";
	CK_ATTRIBUTE la = { CKA_HWAGG_SECURITY_LEVEL, level, sizeof(level) - 1 };
	CKR(p11->C_GetAttributeValue(s, data, &la, 1));
	ck_assert_str_eq(level, "software");
	CKR(p11->C_DestroyObject(s, priv));
	CKR(p11->C_DestroyObject(s, data));
	ck_assert(!softhsm_shows("--login --pin 123456 -O", "label:      renamed"));
	ck_assert(!softhsm_shows("--login --pin 123456 -O", "label:          'note'"));
	find_label(s, CKO_PRIVATE_KEY, "renamed", &n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(session_keys)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session(), s2;
	CK_OBJECT_HANDLE pub, priv;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s2));
	p11_gen_ec(s2, "in-session", CK_FALSE, &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	ck_assert(sign_check(s, priv, k, 4));       /* from another session of the application */
	CKR(p11->C_CloseSession(s2));
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &m, priv), CKR_KEY_HANDLE_INVALID);
	ck_assert(!softhsm_shows("--login --pin 123456 -O", "in-session"));
	EVP_PKEY_free(k);
}
END_TEST

#define THREADS 8
#define SIGNS 50
static CK_OBJECT_HANDLE thr_key;
static EVP_PKEY *thr_pub;

static void *signer(void *arg)
{
	CK_SESSION_HANDLE s;
	long bad = 0;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)1000L;
	for (int i = 0; i < SIGNS; i++)
		bad += !sign_check(s, thr_key, thr_pub, (int)(intptr_t)arg * SIGNS + i);
	p11->C_CloseSession(s);
	return (void *)bad;
}

START_TEST(eight_threads_sign)
{
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub;
	pthread_t t[THREADS];
	long bad = 0;
	p11_gen_ec(s, "threads", CK_TRUE, &pub, &thr_key);
	thr_pub = pubkey_of(s, pub);
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	ck_assert_int_eq(bad, 0);
	EVP_PKEY_free(thr_pub);
}
END_TEST

/* Executable mappings of a private copy of a lower module in this process
 * (hsm_lower.c loads it from a memfd named hwagg-lower). */
static int private_copies(void)
{
	char line[1024];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "/memfd:hwagg-lower") != NULL && strstr(line, " r-xp ") != NULL;
	fclose(f);
	return n;
}

/* In a child: initialize, log in, find key "label" and sign n times. */
static int child_signs(const char *label, int n)
{
	CK_SESSION_HANDLE cs;
	CK_SESSION_INFO si;
	CK_ULONG count;
	int code = 0;
	CK_RV rv = p11->C_Initialize(NULL);
	if (rv != CKR_OK) {
		fprintf(stderr, "child %d: C_Initialize: 0x%lx\n", (int)getpid(), rv);
		return 1;
	}
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK)
		return 2;
	if (p11->C_GetSessionInfo(cs, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
		code |= 4;
	if (p11->C_Login(cs, CKU_USER, (unsigned char *)USER_PIN, 6) != CKR_OK)
		return code | 8;
	CK_OBJECT_HANDLE priv = find_label(cs, CKO_PRIVATE_KEY, label, &count);
	CK_OBJECT_HANDLE pub = find_label(cs, CKO_PUBLIC_KEY, label, &count);
	EVP_PKEY *k = pubkey_of(cs, pub);
	for (int i = 0; i < n; i++)
		if (!sign_check(cs, priv, k, i))
			code |= 16;
	EVP_PKEY_free(k);
	return code;
}

/* Fork a child that runs fn and reports its result through a pipe (its exit
 * status is not used for that: valgrind turns leaks of what the child
 * inherited into exit status 1). */
static pid_t spawn(int (*fn)(int), int arg, int *rd)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int code = fn(arg);
		if (write(p[1], &code, sizeof(code)) != sizeof(code))
			code = -1;
		_exit(0);
	}
	close(p[1]);
	*rd = p[0];
	return pid;
}

/* The child's report; it must also not have died of a signal. */
static int reaped(pid_t pid, int rd)
{
	int code = -1, status;
	if (read(rd, &code, sizeof(code)) != sizeof(code))
		code = -2;
	close(rd);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? 0x1000 + WTERMSIG(status) : code;
}

static int forked_child(int finalize)
{
	int code = child_signs("forked", 20);
	if (private_copies() != 1)
		code |= 32;           /* no private copy was loaded */
	/* with or without C_Finalize: the parent's state is not ours */
	if (finalize)
		p11->C_Finalize(NULL);
	return code;
}

static int concurrent_child(int unused)
{
	int code = child_signs("shared", 100);
	p11->C_Finalize(NULL);
	return code;
}

START_TEST(fork_child_gets_its_own_lower_module)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_INFO si;
	p11_gen_ec(s, "forked", CK_TRUE, &pub, &priv);
	EVP_PKEY *k = pubkey_of(s, pub);
	ck_assert(sign_check(s, priv, k, 0));
	ck_assert_int_eq(private_copies(), 0);
	for (int finalize = 0; finalize < 2; finalize++) {
		int rd, code;
		pid_t pid = spawn(forked_child, finalize, &rd);
		code = reaped(pid, rd);
		ck_assert_msg(code == 0, "child failed: 0x%x", (unsigned)code);
		/* the parent's session, login and key are untouched */
		CKR(p11->C_GetSessionInfo(s, &si));
		ck_assert_uint_eq(si.state, CKS_RW_USER_FUNCTIONS);
		for (int i = 0; i < 20; i++)
			ck_assert(sign_check(s, priv, k, 100 + i));
	}
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(two_processes_sign_at_once)
{
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	pid_t pid[2];
	int rd[2];
	p11_gen_ec(s, "shared", CK_TRUE, &pub, &priv);
	CK_RV rv;
	CKR(p11->C_Finalize(NULL));
	for (int i = 0; i < 2; i++)
		pid[i] = spawn(concurrent_child, 0, &rd[i]);
	for (int i = 0; i < 2; i++) {
		int code = reaped(pid[i], rd[i]);
		ck_assert_msg(code == 0, "process %d failed: 0x%x", i, (unsigned)code);
	}
	CKR(p11->C_Initialize(NULL));
}
END_TEST

/* Applications give the pair's parameters in the private template too, or
 * only there: the token gets them on the public half, where it takes them. */
START_TEST(pair_parameters_in_either_template)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_BBOOL t = CK_TRUE;
	CK_MECHANISM em = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, rm = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE ep[] = { { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_SIGN, &t, 1 } };
	CKR(p11->C_GenerateKeyPair(s, &em, ep, 1, ep, 2, &pub, &priv));
	CKR(p11->C_GenerateKeyPair(s, &em, NULL, 0, ep, 2, &pub, &priv));
	EVP_PKEY *k = pubkey_of(s, pub);
	ck_assert(sign_check(s, priv, k, 2));
	EVP_PKEY_free(k);
	CK_ULONG bits = 2048;
	unsigned char e[8];
	CK_ATTRIBUTE rp[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_PUBLIC_EXPONENT, "\x00\x01\x00\x01", 4 } };
	CK_ATTRIBUTE rv3 = { CKA_PUBLIC_EXPONENT, "\x03", 1 }, got = { CKA_PUBLIC_EXPONENT, e, sizeof(e) };
	CKR(p11->C_GenerateKeyPair(s, &rm, rp, 2, NULL, 0, &pub, &priv));
	CKR(p11->C_GenerateKeyPair(s, &rm, rp, 1, &rv3, 1, &pub, &priv));
	CKR(p11->C_GetAttributeValue(s, priv, &got, 1));
	ck_assert_uint_eq(got.ulValueLen, 1);
	ck_assert_int_eq(e[0], 3);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hsm");
	TCase *t = tcase_create("hsm over SoftHSM2");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, token_and_mechanisms);
	tcase_add_test(t, ec_keys_live_in_softhsm);
	tcase_add_test(t, rsa_sign_decrypt_and_lower_errors);
	tcase_add_test(t, pins_pass_through);
	tcase_add_test(t, init_token_passes_through);
	tcase_add_test(t, objects_written_by_others_appear);
	tcase_add_test(t, objects_created_changed_destroyed);
	tcase_add_test(t, session_keys);
	tcase_add_test(t, eight_threads_sign);
	tcase_add_test(t, fork_child_gets_its_own_lower_module);
	tcase_add_test(t, two_processes_sign_at_once);
	tcase_add_test(t, pair_parameters_in_either_template);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return hsm_available() ? p11_run(suite()) : 77;
}
