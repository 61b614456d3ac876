/*
 * Secret keys and key wrapping through the hsm slot over SoftHSM2, driven
 * through the built module as a consumer would: an AES key generated in
 * SoftHSM2 wraps an extractable RSA key, the wrapped bytes unwrap into a new
 * key whose signatures the original public key verifies (OpenSSL), and the
 * lower token's verdicts come back unchanged; private-key import and ECDH
 * pass through. The soft slot wraps secret keys in software
 * (tests/dlopen/test_secret.c).
 *
 * Slots: 0 "hwtest" (hsm over SoftHSM2 token "hwtest"), 1 "soft".
 */
#include "p11.h"
#include "ossl.h"
#include "hsm_fixture.h"
#include "common/hwagg.h"

#include <openssl/hmac.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const CK_OBJECT_CLASS SECRET = CKO_SECRET_KEY, PRIVATE = CKO_PRIVATE_KEY;
static const CK_KEY_TYPE AES = CKK_AES, RSA_KEY = CKK_RSA;
static const CK_BBOOL T = CK_TRUE, F = CK_FALSE;

/* An AES key of len bytes, CKA_WRAP/CKA_UNWRAP as wrap says. */
static CK_RV gen_aes(CK_SESSION_HANDLE s, const char *label, CK_ULONG len, CK_BBOOL token, CK_BBOOL wrap,
		     CK_OBJECT_HANDLE *out)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
		{ CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &token, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) }, { CKA_WRAP, &wrap, 1 }, { CKA_UNWRAP, &wrap, 1 },
		{ CKA_EXTRACTABLE, (void *)&T, 1 },
	};
	return p11->C_GenerateKey(s, &m, t, N(t), out);
}

static CK_BBOOL get_bool_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { t, &v, 1 };
	ck_assert_int_eq(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
	return v;
}

/* CKM_SHA256_RSA_PKCS with key, checked by OpenSSL with pub; 1 if good. */
static int rsa_sign_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, EVP_PKEY *pub)
{
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	unsigned char msg[] = "unwrapped in softhsm", sig[512];
	CK_ULONG len = sizeof(sig);
	if (p11->C_SignInit(s, &m, key) != CKR_OK || p11->C_Sign(s, msg, sizeof(msg), sig, &len) != CKR_OK)
		return 0;
	EVP_MD_CTX *v = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, pub) == 1 &&
		 EVP_DigestVerify(v, sig, len, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(v);
	return ok;
}

START_TEST(mechanisms_offered)
{
	CK_RV rv;
	CK_MECHANISM_INFO mi;
	CK_MECHANISM_TYPE ml[64];
	CK_ULONG n = 64;
	int seen = 0;
	CKR(p11->C_GetMechanismList(0, ml, &n));
	for (CK_ULONG i = 0; i < n; i++)
		seen += ml[i] == CKM_AES_KEY_GEN || ml[i] == CKM_AES_KEY_WRAP || ml[i] == CKM_AES_KEY_WRAP_PAD;
	ck_assert_int_eq(seen, 3);
	CKR(p11->C_GetMechanismInfo(0, CKM_AES_KEY_GEN, &mi));
	ck_assert(mi.flags & CKF_GENERATE);
	ck_assert_uint_eq(mi.ulMinKeySize, 16);
	ck_assert_uint_eq(mi.ulMaxKeySize, 32);
	CKR(p11->C_GetMechanismInfo(0, CKM_AES_KEY_WRAP_PAD, &mi));
	ck_assert((mi.flags & (CKF_WRAP | CKF_UNWRAP)) == (CKF_WRAP | CKF_UNWRAP));
	ck_assert(!(mi.flags & (CKF_ENCRYPT | CKF_DECRYPT)));    /* not passed on */
	/* the soft slot offers them too, in software */
	n = 64;
	CKR(p11->C_GetMechanismList(1, ml, &n));
	seen = 0;
	for (CK_ULONG i = 0; i < n; i++)
		seen += ml[i] == CKM_AES_KEY_GEN || ml[i] == CKM_AES_KEY_WRAP || ml[i] == CKM_AES_KEY_WRAP_PAD;
	ck_assert_int_eq(seen, 3);
	CKR(p11->C_GetMechanismInfo(1, CKM_AES_KEY_WRAP_PAD, &mi));
	ck_assert(!(mi.flags & CKF_HW));
}
END_TEST

START_TEST(wrap_unwrap_round_trip)
{
	CK_RV rv;
	CK_ULONG n, len, vlen = 0;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE kek, pub, priv, copy;
	CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	unsigned char wrapped[4096], buf[64];
	char backend[8] = "";
	CKR(gen_aes(s, "kek", 32, CK_TRUE, CK_TRUE, &kek));
	/* the key is SoftHSM2's, and hwagg tells where it lives */
	ck_assert(softhsm_shows("--login --pin 123456 -O", "kek"));
	CK_ATTRIBUTE ka[] = { { CKA_VALUE_LEN, &vlen, sizeof(vlen) }, { CKA_HWAGG_BACKEND, backend, 7 } };
	CKR(p11->C_GetAttributeValue(s, kek, ka, 2));
	ck_assert_uint_eq(vlen, 32);
	ck_assert_str_eq(backend, "hsm");
	CK_ATTRIBUTE secret = { CKA_VALUE, buf, sizeof(buf) };
	CKR_EQ(p11->C_GetAttributeValue(s, kek, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);
	/* an extractable RSA key, made by SoftHSM2's own tools */
	ck_assert(softhsm_shows("--login --pin 123456 --keypairgen --key-type rsa:2048 --extractable "
				"--usage-sign --label movable --id 4242", "Key pair generated"));
	priv = find_label(s, CKO_PRIVATE_KEY, "movable", &n);
	ck_assert_uint_eq(n, 1);
	pub = find_label(s, CKO_PUBLIC_KEY, "movable", &n);
	ck_assert_uint_eq(n, 1);
	EVP_PKEY *k = pubkey_of(s, pub);
	/* B 5.2: the length, too small, then the bytes */
	CKR(p11->C_WrapKey(s, &kwp, kek, priv, NULL, &len));
	ck_assert(len > 256 && len <= sizeof(wrapped));
	CK_ULONG small = len / 2;
	CKR_EQ(p11->C_WrapKey(s, &kwp, kek, priv, wrapped, &small), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_ge(small, len / 2 + 1);
	len = sizeof(wrapped);
	CKR(p11->C_WrapKey(s, &kwp, kek, priv, wrapped, &len));
	ck_assert_uint_eq(len % 8, 0);
	CK_ATTRIBUTE ut[] = {
		{ CKA_CLASS, (void *)&PRIVATE, sizeof(PRIVATE) }, { CKA_KEY_TYPE, (void *)&RSA_KEY, sizeof(RSA_KEY) },
		{ CKA_TOKEN, (void *)&F, 1 }, { CKA_SIGN, (void *)&T, 1 }, { CKA_LABEL, "unwrapped", 9 },
	};
	CKR(p11->C_UnwrapKey(s, &kwp, kek, wrapped, len, ut, N(ut), &copy));
	ck_assert(copy != priv && copy != CK_INVALID_HANDLE);
	CK_BBOOL local = CK_TRUE, sens = CK_FALSE;
	CK_ATTRIBUTE la[] = { { CKA_LOCAL, &local, 1 }, { CKA_SENSITIVE, &sens, 1 } };
	CKR(p11->C_GetAttributeValue(s, copy, la, 2));
	ck_assert(!local && sens);
	/* the bytes went through: the original public key verifies the copy */
	ck_assert(rsa_sign_check(s, copy, k));
	/* a tampered wrapping does not unwrap: SoftHSM2's answer, unchanged */
	wrapped[len / 2] ^= 1;
	rv = p11->C_UnwrapKey(s, &kwp, kek, wrapped, len, ut, N(ut), &copy);
	ck_assert_msg(rv != CKR_OK && rv != CKR_FUNCTION_NOT_SUPPORTED, "rv 0x%lx", rv);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(lower_verdicts_and_bad_handles)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE plain, movable, key;
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 }, gen = { CKM_AES_KEY_GEN, NULL, 0 };
	unsigned char out[128];
	CK_ULONG len = sizeof(out);
	/* session keys: one that may not wrap, one to be wrapped */
	CKR(gen_aes(s, "plain", 16, CK_FALSE, CK_FALSE, &plain));
	CKR(gen_aes(s, "movable", 24, CK_FALSE, CK_TRUE, &movable));
	ck_assert(!softhsm_shows("--login --pin 123456 -O", "plain"));
	/* CKA_WRAP is the lower token's to check: SoftHSM2's code comes back */
	CKR_EQ(p11->C_WrapKey(s, &kw, plain, movable, out, &len), CKR_KEY_FUNCTION_NOT_PERMITTED);
	len = sizeof(out);
	CKR(p11->C_WrapKey(s, &kw, movable, plain, out, &len));
	ck_assert_uint_eq(len, 24);                   /* RFC 3394: 16 bytes + 8 */
	CK_ATTRIBUTE ut[] = {
		{ CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) },
	};
	CKR_EQ(p11->C_UnwrapKey(s, &kw, plain, out, len, ut, 2, &key), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CKR(p11->C_UnwrapKey(s, &kw, movable, out, len, ut, 2, &key));
	/* handles hwagg does not know */
	len = sizeof(out);
	CKR_EQ(p11->C_WrapKey(s, &kw, 0x7777, plain, out, &len), CKR_WRAPPING_KEY_HANDLE_INVALID);
	CKR_EQ(p11->C_WrapKey(s, &kw, movable, 0x7777, out, &len), CKR_KEY_HANDLE_INVALID);
	CKR_EQ(p11->C_UnwrapKey(s, &kw, 0x7777, out, 24, ut, 2, &key), CKR_UNWRAPPING_KEY_HANDLE_INVALID);
	/* hwagg's own checks */
	CKR_EQ(p11->C_UnwrapKey(s, &kw, movable, out, 24, ut + 1, 1, &key), CKR_TEMPLATE_INCOMPLETE);
	CK_ULONG vlen = 32;
	CK_ATTRIBUTE no_len[] = { { CKA_KEY_TYPE, (void *)&AES, sizeof(AES) } };
	CK_ATTRIBUTE with_value[] = { { CKA_VALUE_LEN, &vlen, sizeof(vlen) }, { CKA_VALUE, out, 32 } };
	CK_ATTRIBUTE too_long[] = { { CKA_VALUE_LEN, &vlen, sizeof(vlen) } };
	CKR_EQ(p11->C_GenerateKey(s, &gen, no_len, 1, &key), CKR_TEMPLATE_INCOMPLETE);
	CKR_EQ(p11->C_GenerateKey(s, &gen, with_value, 2, &key), CKR_TEMPLATE_INCONSISTENT);
	vlen = 64;
	CKR_EQ(p11->C_GenerateKey(s, &gen, too_long, 1, &key), CKR_ATTRIBUTE_VALUE_INVALID);
	CKR_EQ(p11->C_WrapKey(s, &gen, movable, plain, out, &len), CKR_MECHANISM_INVALID);
	/* a public session can make no key */
	CK_SESSION_HANDLE pub_s;
	CKR(p11->C_Logout(s));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &pub_s));
	CKR_EQ(gen_aes(pub_s, "nobody", 16, CK_FALSE, CK_TRUE, &key), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

START_TEST(soft_slot_derives_nothing)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_MECHANISM kw = { CKM_AES_KEY_WRAP, NULL, 0 };
	unsigned char out[64];
	CK_ULONG len = sizeof(out);
	CK_ATTRIBUTE ut[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) } };
	CKR(p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	/* no token there yet: a key needs the user; handles of another
	 * slot's session are not this one's */
	CKR_EQ(gen_aes(s, "soft", 32, CK_FALSE, CK_FALSE, &key), CKR_USER_NOT_LOGGED_IN);
	CKR_EQ(p11->C_WrapKey(s, &kw, 0x7fff, 0x7ffe, out, &len), CKR_WRAPPING_KEY_HANDLE_INVALID);
	/* a wrapping mechanism derives nothing */
	CKR_EQ(p11->C_DeriveKey(s, &kw, 1, ut, 1, &key), CKR_MECHANISM_INVALID);
}
END_TEST

/* Private-key import and ECDH pass through to SoftHSM2: an EC key given
 * by its scalar is created there and signs for OpenSSL's public key; the
 * secret SoftHSM2 derives with it is OpenSSL's ECDH of the same pair
 * (checked through an HMAC the derived key makes). */
START_TEST(import_and_derive_pass_through)
{
	CK_RV rv;
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE h, dk;
	static const CK_KEY_TYPE EC = CKK_EC, GENERIC = CKK_GENERIC_SECRET;
	EVP_PKEY *k = EVP_EC_gen("P-256"), *peer = EVP_EC_gen("P-256");
	unsigned char d[32], pt[65], z[32], dg[32], sig[64], mac[32], want[32];
	size_t ptlen = 0, zl = 32;
	BIGNUM *b = NULL;
	ck_assert(EVP_PKEY_get_bn_param(k, "priv", &b) == 1 && BN_bn2binpad(b, d, 32) == 32);
	BN_clear_free(b);
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, (void *)&PRIVATE, sizeof(PRIVATE) }, { CKA_KEY_TYPE, (void *)&EC, sizeof(EC) },
		{ CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_VALUE, d, 32 },
		{ CKA_SIGN, (void *)&T, 1 }, { CKA_DERIVE, (void *)&T, 1 }, { CKA_LABEL, "imp", 3 }, { CKA_TOKEN, (void *)&T, 1 },
	};
	CKR(p11->C_CreateObject(s, t, N(t), &h));
	ck_assert(softhsm_shows("--login --pin 123456 -O", "imp"));
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_ULONG sl = sizeof(sig);
	sha256("imp", 3, dg);
	CKR(p11->C_SignInit(s, &ecdsa, h));
	CKR(p11->C_Sign(s, dg, 32, sig, &sl));
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, 32, sig, sl), 1);

	ck_assert_int_eq(EVP_PKEY_get_octet_string_param(peer, "pub", pt, sizeof(pt), &ptlen), 1);
	CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, ptlen, pt };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_ULONG len = 32;
	CK_ATTRIBUTE dt[] = { { CKA_CLASS, (void *)&SECRET, sizeof(SECRET) }, { CKA_KEY_TYPE, (void *)&GENERIC, sizeof(GENERIC) },
			      { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_SIGN, (void *)&T, 1 } };
	CKR(p11->C_DeriveKey(s, &m, h, dt, N(dt), &dk));
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	ck_assert(EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
		  EVP_PKEY_derive(c, z, &zl) == 1);
	EVP_PKEY_CTX_free(c);
	CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };
	CK_ULONG ml = sizeof(mac);
	unsigned int wl = 0;
	CKR(p11->C_SignInit(s, &hm, dk));
	CKR(p11->C_Sign(s, (unsigned char *)"ecdh", 4, mac, &ml));
	HMAC(EVP_sha256(), z, 32, (const unsigned char *)"ecdh", 4, want, &wl);
	ck_assert_mem_eq(mac, want, 32);
	ck_assert_int_eq(get_bool_attr(s, dk, CKA_LOCAL), CK_FALSE);
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hsm_wrap");
	TCase *t = tcase_create("secret keys and wrapping over SoftHSM2");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, mechanisms_offered);
	tcase_add_test(t, wrap_unwrap_round_trip);
	tcase_add_test(t, lower_verdicts_and_bad_handles);
	tcase_add_test(t, soft_slot_derives_nothing);
	tcase_add_test(t, import_and_derive_pass_through);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return hsm_available() ? p11_run(suite()) : 77;
}
