/* OpenSSL's independent view of what the module produced, for the suites
 * that dlopen it (after p11.h). */
#ifndef HW_TEST_OSSL_H
#define HW_TEST_OSSL_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/ec.h>

/* SubjectPublicKeyInfo of a key object, parsed by OpenSSL */
static EVP_PKEY *pubkey_of(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	unsigned char buf[2048];
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, buf, sizeof(buf) };
	ck_assert_int_eq(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
	const unsigned char *p = buf;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* Verify an r||s ECDSA signature over a digest with plain OpenSSL. */
static int ossl_verify_ecdsa(EVP_PKEY *k, const unsigned char *dg, size_t dglen,
			     const unsigned char *rs, size_t rslen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)rslen / 2, NULL), *s = BN_bin2bn(rs + rslen / 2, (int)rslen / 2, NULL);
	ECDSA_SIG_set0(sig, r, s);
	unsigned char *der = NULL;
	int derlen = i2d_ECDSA_SIG(sig, &der);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	EVP_PKEY_verify_init(c);
	int ok = EVP_PKEY_verify(c, der, (size_t)derlen, dg, dglen);
	EVP_PKEY_CTX_free(c);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

static void sha256(const void *d, size_t n, unsigned char *out)
{
	unsigned int l;
	EVP_Digest(d, n, out, &l, EVP_sha256(), NULL);
}

#endif
