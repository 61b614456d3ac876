/*
 * More of the specification's rules (shared/reference/pkcs11-rules.md),
 * each checked through the built module: session and login events, PIN
 * functions in the wrong state, template and key attribute details, the
 * other curves and Ed25519, operation cancel and length rules.
 */
#include "config.h"
#include "p11.h"
#include "common/pkcs11_3.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/wait.h>

static CK_ULONG find_count(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_OBJECT_HANDLE h[16];
	CK_ULONG got = 0, total = 0;
	ck_assert_int_eq(p11->C_FindObjectsInit(s, t, n), CKR_OK);
	do {
		/* small pages: the search must resume where it stopped */
		ck_assert_int_eq(p11->C_FindObjects(s, h, 2, &got), CKR_OK);
		total += got;
	} while (got > 0);
	ck_assert_int_eq(p11->C_FindObjectsFinal(s), CKR_OK);
	return total;
}

START_TEST(close_all_sessions_logs_out)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session(), s2;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s2));
	CKR(p11->C_CloseAllSessions(0));
	CKR_EQ(p11->C_CloseAllSessions(9), CKR_SLOT_ID_INVALID);
	CK_SESSION_INFO si;
	CKR_EQ(p11->C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CKR(p11->C_GetSessionInfo(s, &si));
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION);
	CK_TOKEN_INFO ti;
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert_uint_eq(ti.ulSessionCount, 1);
	ck_assert_uint_eq(ti.ulRwSessionCount, 0);
}
END_TEST

START_TEST(pin_functions_in_wrong_state)
{
	CK_RV rv;
	CK_SESSION_HANDLE ro, rw;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &ro));
	CKR_EQ(p11->C_SetPIN(ro, (unsigned char *)USER_PIN, 6, (unsigned char *)"222222", 6),
	       CKR_SESSION_READ_ONLY);
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw));
	CKR_EQ(p11->C_InitPIN(rw, (unsigned char *)"222222", 6), CKR_USER_NOT_LOGGED_IN);
	CKR(p11->C_Login(rw, CKU_USER, (unsigned char *)USER_PIN, 6));
	CKR_EQ(p11->C_InitPIN(rw, (unsigned char *)"222222", 6), CKR_USER_NOT_LOGGED_IN);
	CKR_EQ(p11->C_Login(rw, CKU_CONTEXT_SPECIFIC, (unsigned char *)USER_PIN, 6),
	       CKR_OPERATION_NOT_INITIALIZED);
	/* a too-long PIN at login is simply incorrect, not a length error */
	CKR(p11->C_Logout(rw));
	static unsigned char longpin[300];
	memset(longpin, 'x', sizeof(longpin));
	CKR_EQ(p11->C_Login(rw, CKU_USER, longpin, sizeof(longpin)), CKR_PIN_INCORRECT);
}
END_TEST

START_TEST(reinit_token_needs_so_pin_and_wipes)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "gone", CK_TRUE, &pub, &priv);
	CKR(p11->C_CloseSession(s));
	unsigned char label[32];
	memset(label, ' ', sizeof(label));
	memcpy(label, "other", 5);
	/* not the slot's name: refused before anything is wiped (checked below) */
	CKR_EQ(p11->C_InitToken(0, (unsigned char *)SO_PIN, 8, label), CKR_ARGUMENTS_BAD);
	memset(label, ' ', sizeof(label));
	memcpy(label, "hwtest", 6);
	CKR_EQ(p11->C_InitToken(0, (unsigned char *)"wrongpin", 8, label), CKR_PIN_INCORRECT);
	s = p11_user_session();
	CK_ATTRIBUTE t = { CKA_LABEL, "gone", 4 };
	ck_assert_uint_eq(find_count(s, &t, 1), 2);     /* still there */
	CKR(p11->C_CloseSession(s));
	CKR(p11->C_InitToken(0, (unsigned char *)SO_PIN, 8, label));
	CK_TOKEN_INFO ti;
	CKR(p11->C_GetTokenInfo(0, &ti));
	ck_assert(!(ti.flags & CKF_USER_PIN_INITIALIZED));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6), CKR_USER_PIN_NOT_INITIALIZED);
	ck_assert_uint_eq(find_count(s, &t, 1), 0);
}
END_TEST

START_TEST(logout_destroys_private_session_objects)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_CLASS dc = CKO_DATA;
	CK_BBOOL t = CK_TRUE;
	CK_OBJECT_HANDLE d;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_PRIVATE, &t, 1 },
			      { CKA_LABEL, "secret-note", 11 } };
	CKR(p11->C_CreateObject(s, dt, 3, &d));
	CKR(p11->C_Logout(s));
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, 6));
	CK_ATTRIBUTE q = { CKA_LABEL, "secret-note", 11 };
	ck_assert_uint_eq(find_count(s, &q, 1), 0);
	/* a private object cannot be made while logged out */
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_CreateObject(s, dt, 3, &d), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

START_TEST(find_pages_and_unknown_attribute)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_CLASS dc = CKO_DATA;
	for (int i = 0; i < 5; i++) {
		CK_OBJECT_HANDLE d;
		CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_APPLICATION, "pager", 5 } };
		CKR(p11->C_CreateObject(s, dt, 2, &d));
	}
	CK_ATTRIBUTE q = { CKA_APPLICATION, "pager", 5 };
	ck_assert_uint_eq(find_count(s, &q, 1), 5);
	CK_ATTRIBUTE odd = { 0x7ffff001UL, "x", 1 };
	ck_assert_uint_eq(find_count(s, &odd, 1), 0);
	CKR_EQ(p11->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

/* Generate with CKA_EC_PARAMS and sign; returns the signature length. */
static CK_ULONG ec_curve_sign(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE gen, const void *params, size_t plen,
			      CK_MECHANISM_TYPE mech, EVP_PKEY **pubkey)
{
	CK_RV rv;
	CK_BBOOL t = CK_TRUE;
	CK_MECHANISM m = { gen, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)params, plen }, { CKA_TOKEN, &t, 1 } };
	CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &t, 1 }, { CKA_SIGN, &t, 1 } };
	CK_OBJECT_HANDLE pub, priv;
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 2, vt, 2, &pub, &priv));
	unsigned char spki[512], sig[256];
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
	CKR(p11->C_GetAttributeValue(s, pub, &a, 1));
	const unsigned char *p = spki;
	*pubkey = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
	ck_assert_ptr_nonnull(*pubkey);
	/* the private key shows its curve too */
	unsigned char ep[64];
	CK_ATTRIBUTE pp = { CKA_EC_PARAMS, ep, sizeof(ep) };
	CKR(p11->C_GetAttributeValue(s, priv, &pp, 1));
	CK_MECHANISM sm = { mech, NULL, 0 };
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &sm, priv));
	CKR(p11->C_Sign(s, (unsigned char *)"message", 7, sig, &len));
	if (mech == CKM_EDDSA) {
		EVP_MD_CTX *v = EVP_MD_CTX_new();
		EVP_DigestVerifyInit(v, NULL, NULL, NULL, *pubkey);
		ck_assert_int_eq(EVP_DigestVerify(v, sig, len, (unsigned char *)"message", 7), 1);
		EVP_MD_CTX_free(v);
	}
	return len;
}

START_TEST(other_curves_and_ed25519)
{
	static const unsigned char p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const unsigned char p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
	static const unsigned char ed_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9' };
	static const unsigned char ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	CK_SESSION_HANDLE s = p11_user_session();
	EVP_PKEY *k;
	ck_assert_uint_eq(ec_curve_sign(s, CKM_EC_KEY_PAIR_GEN, p384, sizeof(p384), CKM_ECDSA_SHA384, &k), 96);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(ec_curve_sign(s, CKM_EC_KEY_PAIR_GEN, p521, sizeof(p521), CKM_ECDSA_SHA512, &k), 132);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(ec_curve_sign(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, ed_name, sizeof(ed_name), CKM_EDDSA, &k), 64);
	EVP_PKEY_free(k);
	ck_assert_uint_eq(ec_curve_sign(s, CKM_EC_EDWARDS_KEY_PAIR_GEN, ed_oid, sizeof(ed_oid), CKM_EDDSA, &k), 64);
	EVP_PKEY_free(k);
	/* an Edwards curve with the Weierstrass generator is refused */
	CK_RV rv;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt = { CKA_EC_PARAMS, (void *)ed_name, sizeof(ed_name) };
	CK_OBJECT_HANDLE a, b;
	CKR_EQ(p11->C_GenerateKeyPair(s, &m, &pt, 1, NULL, 0, &a, &b), CKR_CURVE_NOT_SUPPORTED);
}
END_TEST

START_TEST(rsa_private_key_shows_public_parts)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_rsa(s, "rsa-attrs", &pub, &priv);
	unsigned char mod[600], exp[16];
	CK_ATTRIBUTE a[] = { { CKA_MODULUS, mod, sizeof(mod) }, { CKA_PUBLIC_EXPONENT, exp, sizeof(exp) } };
	CKR(p11->C_GetAttributeValue(s, priv, a, 2));
	ck_assert_uint_eq(a[0].ulValueLen, 256);
	ck_assert_uint_eq(a[1].ulValueLen, 3);
	ck_assert_mem_eq(exp, "\x01\x00\x01", 3);
	CK_ATTRIBUTE d = { CKA_PRIVATE_EXPONENT, NULL, 0 };
	CKR_EQ(p11->C_GetAttributeValue(s, priv, &d, 1), CKR_ATTRIBUTE_SENSITIVE);
	CK_MECHANISM_TYPE kgm;
	CK_BBOOL local;
	CK_ATTRIBUTE g[] = { { CKA_KEY_GEN_MECHANISM, &kgm, sizeof(kgm) }, { CKA_LOCAL, &local, 1 } };
	CKR(p11->C_GetAttributeValue(s, pub, g, 2));
	ck_assert_uint_eq(kgm, CKM_RSA_PKCS_KEY_PAIR_GEN);
	ck_assert(local);
	/* raw RSA PKCS#1 input longer than k-11 */
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	unsigned char big[250] = { 0 }, sig[256];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_SignInit(s, &m, priv));
	CKR_EQ(p11->C_Sign(s, big, sizeof(big), sig, &len), CKR_DATA_LEN_RANGE);
	/* a signature of the wrong size is a length error before anything else */
	CKR(p11->C_VerifyInit(s, &m, pub));
	CKR_EQ(p11->C_Verify(s, big, 32, sig, 255), CKR_SIGNATURE_LEN_RANGE);
}
END_TEST

START_TEST(allowed_mechanisms_and_usage)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	CK_MECHANISM_TYPE only[] = { CKM_ECDSA_SHA256 };
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) } };
	CK_ATTRIBUTE vt[] = { { CKA_ALLOWED_MECHANISMS, only, sizeof(only) }, { CKA_DECRYPT, &f, 1 } };
	CK_OBJECT_HANDLE pub, priv;
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 1, vt, 2, &pub, &priv));
	CK_MECHANISM ok = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CKR(p11->C_SignInit(s, &ok, priv));
	CKR(p11->C_SignInit(s, NULL, priv));           /* 3.0: NULL cancels */
	CKR_EQ(p11->C_SignInit(s, &raw, priv), CKR_MECHANISM_INVALID);
	CK_ATTRIBUTE nosign = { CKA_SIGN, &f, 1 };
	CKR(p11->C_SetAttributeValue(s, priv, &nosign, 1));
	CKR_EQ(p11->C_SignInit(s, &ok, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CK_ATTRIBUTE ro = { CKA_KEY_TYPE, &t, 1 };
	ck_assert_int_ne(p11->C_SetAttributeValue(s, priv, &ro, 1), CKR_OK);
	/* C_SessionCancel ends an active operation */
	CKR(p11->C_DigestInit(s, &(CK_MECHANISM){ CKM_SHA256, NULL, 0 }));
	CKR_EQ(p11->C_DigestInit(s, &(CK_MECHANISM){ CKM_SHA256, NULL, 0 }), CKR_OPERATION_ACTIVE);
	CKR(p11->C_DigestInit(s, NULL));
	unsigned char out[32];
	CK_ULONG len = sizeof(out);
	CKR_EQ(p11->C_DigestFinal(s, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR_EQ(p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
}
END_TEST

START_TEST(certificate_object)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	/* a self-signed certificate made with OpenSSL */
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (unsigned char *)"hwagg test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, k, EVP_sha256());
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cc, sizeof(cc) }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
				{ CKA_TOKEN, &t, 1 }, { CKA_VALUE, der, (CK_ULONG)dlen }, { CKA_ID, "\x07", 1 } };
	CK_OBJECT_HANDLE h;
	CKR(p11->C_CreateObject(s, tmpl, 5, &h));
	unsigned char subj[256], val[1024];
	CK_ATTRIBUTE a[] = { { CKA_SUBJECT, subj, sizeof(subj) }, { CKA_VALUE, val, sizeof(val) } };
	CKR(p11->C_GetAttributeValue(s, h, a, 2));
	unsigned char *want = NULL;
	int wl = i2d_X509_NAME(X509_get_subject_name(x), &want);
	ck_assert_uint_eq(a[0].ulValueLen, (CK_ULONG)wl);
	ck_assert_mem_eq(subj, want, (size_t)wl);
	ck_assert_uint_eq(a[1].ulValueLen, (CK_ULONG)dlen);
	ck_assert_mem_eq(val, der, (size_t)dlen);
	/* garbage instead of a certificate */
	CK_ATTRIBUTE bad[] = { { CKA_CLASS, &cc, sizeof(cc) }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
			       { CKA_VALUE, "not a cert", 10 } };
	CKR_EQ(p11->C_CreateObject(s, bad, 3, &h), CKR_ATTRIBUTE_VALUE_INVALID);
	/* a copy may carry a new label (B 4.1.3); the certificate stays the same */
	CK_OBJECT_HANDLE cp;
	CK_ATTRIBUTE nl[] = { { CKA_LABEL, "renamed", 7 }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
			      { CKA_CLASS, &cc, sizeof(cc) } };
	CKR(p11->C_CopyObject(s, h, nl, 3, &cp));
	char label[16];
	CK_ATTRIBUTE q[] = { { CKA_LABEL, label, sizeof(label) }, { CKA_VALUE, val, sizeof(val) } };
	CKR(p11->C_GetAttributeValue(s, cp, q, 2));
	ck_assert_uint_eq(q[0].ulValueLen, 7);
	ck_assert_mem_eq(label, "renamed", 7);
	ck_assert_uint_eq(q[1].ulValueLen, (CK_ULONG)dlen);
	ck_assert_mem_eq(val, der, (size_t)dlen);
	OPENSSL_free(want);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(another_process_key_is_seen)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_ATTRIBUTE q = { CKA_LABEL, "from-child", 10 };
	ck_assert_uint_eq(find_count(s, &q, 1), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* a separate application on the same store */
		CK_OBJECT_HANDLE pub, priv;
		if (p11->C_Initialize(NULL) != CKR_OK)
			_exit(1);
		CK_SESSION_HANDLE cs = p11_user_session();
		p11_gen_ec(cs, "from-child", CK_TRUE, &pub, &priv);
		p11->C_Finalize(NULL);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(find_count(s, &q, 1), 2);
	/* and it signs here */
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t2[] = { q, { CKA_CLASS, &pc, sizeof(pc) } };
	CK_OBJECT_HANDLE k;
	CK_ULONG n, len = 64;
	unsigned char dg[32] = { 3 }, sig[64];
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CKR(p11->C_FindObjectsInit(s, t2, 2));
	CKR(p11->C_FindObjects(s, &k, 1, &n));
	CKR(p11->C_FindObjectsFinal(s));
	CKR(p11->C_SignInit(s, &m, k));
	CKR(p11->C_Sign(s, dg, 32, sig, &len));
}
END_TEST

START_TEST(thread_flag_keeps_every_slot)
{
	CK_RV rv;
	CK_C_INITIALIZE_ARGS a;
	memset(&a, 0, sizeof(a));
	a.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK;
	CKR(p11->C_Finalize(NULL));
	/* the soft slot starts no thread */
	CKR(p11->C_Initialize(&a));
	CKR(p11->C_Finalize(NULL));
#if WITH_KEYRING
	/* nor does the keyring slot (libdbus in blocking mode): offered too */
	p11_world_remove();
	p11_world(",{\"name\": \"kr\", \"type\": \"keyring\"}");
	CKR(p11->C_Initialize(&a));
	CK_ULONG n;
	CKR(p11->C_GetSlotList(CK_FALSE, NULL, &n));
	ck_assert_uint_eq(n, 2);
#else
	CKR(p11->C_Initialize(NULL));
#endif
}
END_TEST

/* ---- conformance details ---------------------------------------------------------- */

/* RSA encryption is single-part only (M 2.1.6): a multi-part finish has
 * nothing to finish. It fails like C_EncryptUpdate does, ends the
 * operation, and says there is no last part. */
START_TEST(crypt_final_on_single_part_operation)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_rsa(s, "final", &pub, &priv);
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	unsigned char out[256], ct[256];
	CK_ULONG len = 4242, clen = sizeof(ct);
	CKR_EQ(p11->C_EncryptFinal(s, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_EncryptInit(s, &m, pub));
	CKR_EQ(p11->C_EncryptFinal(s, NULL, NULL), CKR_ARGUMENTS_BAD);
	CKR_EQ(p11->C_Encrypt(s, (unsigned char *)"x", 1, ct, &clen), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_EncryptInit(s, &m, pub));
	CKR_EQ(p11->C_EncryptFinal(s, NULL, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(len, 0);
	CKR_EQ(p11->C_Encrypt(s, (unsigned char *)"x", 1, ct, &clen), CKR_OPERATION_NOT_INITIALIZED);
	/* the single-part path still works after that */
	CKR(p11->C_EncryptInit(s, &m, pub));
	CKR(p11->C_Encrypt(s, (unsigned char *)"x", 1, ct, &clen));
	ck_assert_uint_eq(clen, 256);

	len = 4242;
	CKR_EQ(p11->C_DecryptFinal(s, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_DecryptInit(s, &m, priv));
	CKR_EQ(p11->C_DecryptFinal(s, out, NULL), CKR_ARGUMENTS_BAD);
	len = sizeof(out);
	CKR_EQ(p11->C_Decrypt(s, ct, clen, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_DecryptInit(s, &m, priv));
	len = 4242;
	CKR_EQ(p11->C_DecryptFinal(s, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(len, 0);
	CKR(p11->C_DecryptInit(s, &m, priv));
	len = sizeof(out);
	CKR(p11->C_Decrypt(s, ct, clen, out, &len));
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(out[0], 'x');
}
END_TEST

START_TEST(seed_random_argument_check_first)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CKR_EQ(p11->C_SeedRandom(s, NULL, 16), CKR_ARGUMENTS_BAD);
	CKR_EQ(p11->C_SeedRandom(s, (unsigned char *)"seed", 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
	CKR_EQ(p11->C_SeedRandom(s, NULL, 0), CKR_RANDOM_SEED_NOT_SUPPORTED);
	/* the session is checked before the arguments */
	CKR_EQ(p11->C_SeedRandom(s + 1000, NULL, 16), CKR_SESSION_HANDLE_INVALID);
}
END_TEST

/* Generate an RSA pair with the given public exponent bytes. */
static CK_RV gen_rsa_exp(CK_SESSION_HANDLE s, const void *e, CK_ULONG elen, CK_OBJECT_HANDLE *pub,
			 CK_OBJECT_HANDLE *priv)
{
	CK_ULONG bits = 2048;
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_PUBLIC_EXPONENT, (void *)e, elen } };
	return p11->C_GenerateKeyPair(s, &m, pt, 2, NULL, 0, pub, priv);
}

START_TEST(public_exponent_leading_zeros)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	unsigned char exp[16];
	CKR(gen_rsa_exp(s, "\x00\x01\x00\x01", 4, &pub, &priv));
	/* the key says its exponent canonically, on both halves */
	CK_ATTRIBUTE a = { CKA_PUBLIC_EXPONENT, exp, sizeof(exp) };
	CKR(p11->C_GetAttributeValue(s, pub, &a, 1));
	ck_assert_uint_eq(a.ulValueLen, 3);
	ck_assert_mem_eq(exp, "\x01\x00\x01", 3);
	a.ulValueLen = sizeof(exp);
	CKR(p11->C_GetAttributeValue(s, priv, &a, 1));
	ck_assert_uint_eq(a.ulValueLen, 3);
	CKR(gen_rsa_exp(s, "\x00\x00\x00\x00\x00\x00\x00\x03", 8, &pub, &priv));
	a.ulValueLen = sizeof(exp);
	CKR(p11->C_GetAttributeValue(s, pub, &a, 1));
	ck_assert_uint_eq(a.ulValueLen, 1);
	ck_assert_int_eq(exp[0], 3);
	/* the exponent may come in the private template too; the same value
	 * in both, however encoded, is no contradiction */
	CK_ULONG bits = 2048;
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
			      { CKA_PUBLIC_EXPONENT, "\x00\x01\x00\x01", 4 } };
	CK_ATTRIBUTE vt = { CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3 };
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 2, &vt, 1, &pub, &priv));
	CK_ATTRIBUTE v3 = { CKA_PUBLIC_EXPONENT, "\x03", 1 };
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 1, &v3, 1, &pub, &priv));
	a.ulValueLen = sizeof(exp);
	CKR(p11->C_GetAttributeValue(s, pub, &a, 1));
	ck_assert_uint_eq(a.ulValueLen, 1);
	ck_assert_int_eq(exp[0], 3);
	/* leading zeros do not make a bad exponent good */
	CKR_EQ(gen_rsa_exp(s, "\x00\x00\x00\x01", 4, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
	CKR_EQ(gen_rsa_exp(s, "\x00\x01\x00\x00", 4, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
}
END_TEST

START_TEST(contradictory_key_pair_templates)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY, vc = CKO_PRIVATE_KEY, sc = CKO_SECRET_KEY;
	CK_KEY_TYPE ec = CKK_EC, rsa = CKK_RSA;
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE ep = { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) };
	static const unsigned char p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	struct { CK_ATTRIBUTE pt[3]; CK_ULONG pn; CK_ATTRIBUTE vt[2]; CK_ULONG vn; } c[] = {
		/* a class of the wrong kind in either template */
		{ { ep, { CKA_CLASS, &vc, sizeof(vc) } }, 2, { { 0 } }, 0 },
		{ { ep }, 1, { { CKA_CLASS, &pc, sizeof(pc) } }, 1 },
		{ { ep, { CKA_CLASS, &sc, sizeof(sc) } }, 2, { { 0 } }, 0 },
		/* key types that differ between the halves or from the mechanism */
		{ { ep, { CKA_KEY_TYPE, &ec, sizeof(ec) } }, 2, { { CKA_KEY_TYPE, &rsa, sizeof(rsa) } }, 1 },
		{ { ep }, 1, { { CKA_KEY_TYPE, &rsa, sizeof(rsa) } }, 1 },
		/* one half persistent, the other a session object */
		{ { ep, { CKA_TOKEN, &t, 1 } }, 2, { { CKA_TOKEN, &f, 1 } }, 1 },
		{ { ep, { CKA_TOKEN, &f, 1 } }, 2, { { CKA_TOKEN, &t, 1 } }, 1 },
		/* two curves, or two exponents, for one key pair */
		{ { ep }, 1, { { CKA_EC_PARAMS, (void *)p384, sizeof(p384) } }, 1 },
		{ { ep }, 1, { { CKA_EC_PARAMS, "\x06\x50", 2 } }, 1 },
		/* the same attribute twice with different values */
		{ { ep, { CKA_TOKEN, &t, 1 }, { CKA_TOKEN, &f, 1 } }, 3, { { 0 } }, 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		rv = p11->C_GenerateKeyPair(s, &m, c[i].pt, c[i].pn, c[i].vn ? c[i].vt : NULL, c[i].vn, &pub, &priv);
		ck_assert_msg(rv == CKR_TEMPLATE_INCONSISTENT, "case %zu: 0x%lx", i, (unsigned long)rv);
	}
	/* nothing was made */
	ck_assert_uint_eq(find_count(s, NULL, 0), 0);
	/* naming the right class and type on both halves is fine */
	CK_ATTRIBUTE okp[] = { ep, { CKA_CLASS, &pc, sizeof(pc) }, { CKA_KEY_TYPE, &ec, sizeof(ec) } };
	CK_ATTRIBUTE okv[] = { { CKA_CLASS, &vc, sizeof(vc) }, { CKA_KEY_TYPE, &ec, sizeof(ec) } };
	CKR(p11->C_GenerateKeyPair(s, &m, okp, 3, okv, 2, &pub, &priv));
	/* and so is the curve in both templates */
	CKR(p11->C_GenerateKeyPair(s, &m, &ep, 1, &ep, 1, &pub, &priv));
	CK_MECHANISM rm = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE rp[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3 } };
	CK_ATTRIBUTE rv3 = { CKA_PUBLIC_EXPONENT, "\x03", 1 };
	CKR_EQ(p11->C_GenerateKeyPair(s, &rm, rp, 2, &rv3, 1, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
}
END_TEST

START_TEST(copy_changes_modifiable_attributes)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_CLASS dc = CKO_DATA;
	CK_BBOOL t = CK_TRUE;
	CK_OBJECT_HANDLE d, cp, cp2;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_LABEL, "original", 8 },
			      { CKA_VALUE, "payload", 7 }, { CKA_APPLICATION, "app", 3 } };
	CKR(p11->C_CreateObject(s, dt, 4, &d));
	CK_ATTRIBUTE nl = { CKA_LABEL, "the copy", 8 };
	CKR(p11->C_CopyObject(s, d, &nl, 1, &cp));
	ck_assert_uint_ne(cp, d);
	char label[32], value[32];
	CK_ATTRIBUTE q[] = { { CKA_LABEL, label, sizeof(label) }, { CKA_VALUE, value, sizeof(value) } };
	CKR(p11->C_GetAttributeValue(s, cp, q, 2));
	ck_assert_uint_eq(q[0].ulValueLen, 8);
	ck_assert_mem_eq(label, "the copy", 8);
	ck_assert_uint_eq(q[1].ulValueLen, 7);
	ck_assert_mem_eq(value, "payload", 7);
	q[0].ulValueLen = sizeof(label);
	CKR(p11->C_GetAttributeValue(s, d, q, 1));
	ck_assert_mem_eq(label, "original", 8);          /* the original is untouched */
	/* a persistent copy with a new label and application */
	CK_ATTRIBUTE two[] = { { CKA_LABEL, "kept", 4 }, { CKA_TOKEN, &t, 1 }, { CKA_APPLICATION, "other", 5 } };
	CKR(p11->C_CopyObject(s, d, two, 3, &cp2));
	CK_ATTRIBUTE kq = { CKA_LABEL, "kept", 4 };
	ck_assert_uint_eq(find_count(s, &kq, 1), 1);
	/* naming attributes that cannot change, with the values they have,
	 * changes nothing: the copy is made */
	CK_ATTRIBUTE same[] = { { CKA_CLASS, &dc, sizeof(dc) }, { CKA_VALUE, "payload", 7 },
				{ CKA_LABEL, "same", 4 } };
	CKR(p11->C_CopyObject(s, d, same, 3, &cp));
	q[0].ulValueLen = sizeof(label);
	CKR(p11->C_GetAttributeValue(s, cp, q, 1));
	ck_assert_uint_eq(q[0].ulValueLen, 4);
	ck_assert_mem_eq(label, "same", 4);
	/* a value that is not modifiable is refused */
	CK_ATTRIBUTE nv = { CKA_VALUE, "changed", 7 };
	CKR_EQ(p11->C_CopyObject(s, d, &nv, 1, &cp), CKR_ATTRIBUTE_READ_ONLY);
}
END_TEST

/* One crypto operation at a time per session: hwagg has no dual-function
 * operations (no CKF_DUAL_CRYPTO_OPERATIONS), so an active operation of any
 * kind blocks starting another (B 5.1.6 CKR_OPERATION_ACTIVE). */
START_TEST(one_operation_per_session)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "busy", CK_FALSE, &pub, &priv);
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 }, ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char md[64], sig[64];
	CK_ULONG len;
	CKR(p11->C_SignInit(s, &ecdsa, priv));
	CKR_EQ(p11->C_SignInit(s, &ecdsa, priv), CKR_OPERATION_ACTIVE);
	CKR_EQ(p11->C_DigestInit(s, &sha), CKR_OPERATION_ACTIVE);
	CKR_EQ(p11->C_VerifyInit(s, &ecdsa, pub), CKR_OPERATION_ACTIVE);
	/* the refused calls left the signature alone */
	len = sizeof(sig);
	CKR(p11->C_Sign(s, (unsigned char *)"abc", 3, sig, &len));
	ck_assert_uint_eq(len, 64);
	CKR(p11->C_DigestInit(s, &sha));
	CKR_EQ(p11->C_SignInit(s, &ecdsa, priv), CKR_OPERATION_ACTIVE);
	CKR_EQ(p11->C_DigestInit(s, &sha), CKR_OPERATION_ACTIVE);
	CKR(p11->C_DigestUpdate(s, (unsigned char *)"a", 1));
	CKR_EQ(p11->C_EncryptInit(s, &ecdsa, pub), CKR_OPERATION_ACTIVE);
	CKR(p11->C_DigestUpdate(s, (unsigned char *)"bc", 2));
	/* B 5.2: a length query and a short buffer leave it active */
	len = 0;
	CKR(p11->C_DigestFinal(s, NULL, &len));
	ck_assert_uint_eq(len, 32);
	len = 31;
	CKR_EQ(p11->C_DigestFinal(s, md, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 32);
	len = sizeof(md);
	CKR(p11->C_DigestFinal(s, md, &len));
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(md, "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
			 "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad", 32);
	CKR_EQ(p11->C_DigestFinal(s, md, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* anything else ends it: C_Digest cannot finish a multi-part digest */
	CKR(p11->C_DigestInit(s, &sha));
	CKR(p11->C_DigestUpdate(s, (unsigned char *)"a", 1));
	len = sizeof(md);
	CKR_EQ(p11->C_Digest(s, (unsigned char *)"bc", 2, md, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR_EQ(p11->C_DigestFinal(s, md, &len), CKR_OPERATION_NOT_INITIALIZED);
	CKR(p11->C_DigestInit(s, &sha));
	CKR_EQ(p11->C_DigestFinal(s, md, NULL), CKR_ARGUMENTS_BAD);
	CKR_EQ(p11->C_DigestUpdate(s, (unsigned char *)"a", 1), CKR_OPERATION_NOT_INITIALIZED);
	/* cancelling one kind frees the session for another */
	CKR(p11->C_SignInit(s, &ecdsa, priv));
	CKR(p11->C_SignInit(s, NULL, priv));
	CKR(p11->C_DigestInit(s, &sha));
	/* an operation on another session is no obstacle */
	CK_SESSION_HANDLE s2 = p11_user_session();
	CKR(p11->C_SignInit(s2, &ecdsa, priv));
}
END_TEST

/* A session keeps the key of its last operation between operations; what
 * another session does to that key in the meantime still shows at once. */
START_TEST(session_key_follows_changes)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session(), s2 = p11_user_session();
	CK_OBJECT_HANDLE pub, priv, pub2, priv2;
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[64];
	CK_ULONG len;
	p11_gen_ec(s, "kept", CK_TRUE, &pub, &priv);
	p11_gen_ec(s, "kept2", CK_TRUE, &pub2, &priv2);
	for (int i = 0; i < 2; i++) {
		CKR(p11->C_SignInit(s, &ecdsa, priv));
		len = sizeof(sig);
		CKR(p11->C_Sign(s, (unsigned char *)"abc", 3, sig, &len));
	}
	CK_ATTRIBUTE nosign = { CKA_SIGN, &f, 1 }, sign = { CKA_SIGN, &t, 1 };
	CKR(p11->C_SetAttributeValue(s2, priv, &nosign, 1));
	CKR_EQ(p11->C_SignInit(s, &ecdsa, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CKR(p11->C_SetAttributeValue(s2, priv, &sign, 1));
	CKR(p11->C_SignInit(s, &ecdsa, priv));
	len = sizeof(sig);
	CKR(p11->C_Sign(s, (unsigned char *)"abc", 3, sig, &len));
	CKR(p11->C_DestroyObject(s2, priv));
	CKR_EQ(p11->C_SignInit(s, &ecdsa, priv), CKR_KEY_HANDLE_INVALID);
	/* a logout hides the private key the session last used */
	CKR(p11->C_SignInit(s, &ecdsa, priv2));
	len = sizeof(sig);
	CKR(p11->C_Sign(s, (unsigned char *)"abc", 3, sig, &len));
	CKR(p11->C_Logout(s));
	CKR_EQ(p11->C_SignInit(s, &ecdsa, priv2), CKR_KEY_HANDLE_INVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rules");
	TCase *t = tcase_create("rules");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, p11_setup, p11_teardown);
	tcase_add_test(t, close_all_sessions_logs_out);
	tcase_add_test(t, pin_functions_in_wrong_state);
	tcase_add_test(t, reinit_token_needs_so_pin_and_wipes);
	tcase_add_test(t, logout_destroys_private_session_objects);
	tcase_add_test(t, find_pages_and_unknown_attribute);
	tcase_add_test(t, other_curves_and_ed25519);
	tcase_add_test(t, rsa_private_key_shows_public_parts);
	tcase_add_test(t, allowed_mechanisms_and_usage);
	tcase_add_test(t, certificate_object);
	tcase_add_test(t, another_process_key_is_seen);
	tcase_add_test(t, thread_flag_keeps_every_slot);
	tcase_add_test(t, crypt_final_on_single_part_operation);
	tcase_add_test(t, seed_random_argument_check_first);
	tcase_add_test(t, public_exponent_leading_zeros);
	tcase_add_test(t, contradictory_key_pair_templates);
	tcase_add_test(t, copy_changes_modifiable_attributes);
	tcase_add_test(t, one_operation_per_session);
	tcase_add_test(t, session_key_follows_changes);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
