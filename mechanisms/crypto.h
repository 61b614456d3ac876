/*
 * Software crypto over OpenSSL 3 through hwagg's own library context, so the
 * module keeps working inside a process where an ENGINE (libp11's "pkcs11")
 * is the default RSA/EC implementation: never use the default context,
 * legacy RSA_/EC_KEY APIs or ENGINE-aware calls here.
 */
#ifndef HW_CRYPTO_H
#define HW_CRYPTO_H

#include "common/ck.h"
#include "common/secret.h"
#include "mechanisms/encode.h"
#include <openssl/evp.h>

CK_RV hw_crypto_init(void);        /* idempotent, thread-safe */
void hw_crypto_fini(void);         /* frees the context; not after fork (see hw_crypto_forget) */
void hw_crypto_forget(void);       /* a forked child drops (does not free) the parent's context */
OSSL_LIB_CTX *hw_crypto_ctx(void);
/* The AES cipher of that name (AES-{128,192,256}-{ECB,CBC,CTR,GCM,WRAP,
 * WRAP-PAD}) or the HMAC, fetched from the context once and kept until
 * hw_crypto_fini: not freed by the caller. NULL if the fetch failed (an
 * OpenSSL error is queued) or the name is not one of those. */
const EVP_CIPHER *hw_crypto_cipher(const char *name);
EVP_MAC *hw_crypto_hmac(void);
/* Give OpenSSL a secure heap (locked, not dumped) for private keys, once,
 * before the first software private key is made or loaded. */
void hw_crypto_secure_heap(void);
/* Map, log and clear the pending OpenSSL error. rv CKR_OK: an internal
 * failure (logged as an error; CKR_FUNCTION_FAILED, or CKR_HOST_MEMORY on
 * allocation failure). Otherwise OpenSSL rejected the caller's input: rv is
 * returned (CKR_HOST_MEMORY still wins) and only a debug line is logged. */
CK_RV hw_crypto_error(const char *what, CK_RV rv);

/* ---- digests ------------------------------------------------------------------ */
typedef struct hw_digest hw_digest;
CK_RV hw_digest_new(CK_MECHANISM_TYPE hash, hw_digest **out);   /* CKR_MECHANISM_INVALID */
CK_RV hw_digest_update(hw_digest *d, const void *data, size_t len);
CK_RV hw_digest_final(hw_digest *d, unsigned char *out, size_t *out_len);  /* out >= 64 bytes */
void hw_digest_free(hw_digest *d);
CK_RV hw_digest_once(CK_MECHANISM_TYPE hash, const void *data, size_t len,
		     unsigned char *out, size_t *out_len);

CK_RV hw_random(void *out, size_t len);

/* ---- keys --------------------------------------------------------------------- */
typedef struct hw_keygen {
	CK_KEY_TYPE key_type;          /* CKK_EC, CKK_RSA, CKK_EC_EDWARDS */
	const hw_curve *curve;         /* EC / EdDSA */
	CK_ULONG rsa_bits;             /* RSA: 2048..4096 */
	const unsigned char *rsa_e;    /* RSA public exponent, big-endian; NULL = 65537 */
	size_t rsa_e_len;
} hw_keygen;

CK_RV hw_key_generate(const hw_keygen *g, EVP_PKEY **out);
/* Private key <-> PKCS#8 DER (the DER lives in secret memory). */
CK_RV hw_key_to_der(EVP_PKEY *key, hw_secret **der);
CK_RV hw_key_from_der(const void *der, size_t len, EVP_PKEY **out);
/* SubjectPublicKeyInfo DER of a key (public or private); out NULL -> size. */
CK_RV hw_key_spki(EVP_PKEY *key, unsigned char *out, size_t *out_len);
CK_RV hw_key_from_spki(const void *der, size_t len, EVP_PKEY **out);

/* Public components as PKCS#11 attribute values. Each callback call gives one
 * attribute (type, value, len) for the caller to copy. EC: CKA_EC_PARAMS,
 * CKA_EC_POINT (DER); RSA: CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_MODULUS_BITS;
 * all: CKA_PUBLIC_KEY_INFO. */
typedef CK_RV (*hw_attr_sink)(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len);
CK_RV hw_key_public_attrs(EVP_PKEY *key, hw_attr_sink sink, void *arg);
/* Build a public key from attribute values (CKA_EC_PARAMS + CKA_EC_POINT,
 * CKA_MODULUS + CKA_PUBLIC_EXPONENT); a NULL/absent one is CKR_TEMPLATE_INCOMPLETE,
 * a malformed one CKR_ATTRIBUTE_VALUE_INVALID (or the curve codes). */
CK_RV hw_key_from_public(CK_KEY_TYPE type,
			 const void *a, size_t a_len,   /* EC_PARAMS | MODULUS */
			 const void *b, size_t b_len,   /* EC_POINT  | PUBLIC_EXPONENT */
			 EVP_PKEY **out);
CK_KEY_TYPE hw_key_type(EVP_PKEY *key);            /* CKK_EC/CKK_RSA/CKK_EC_EDWARDS */
CK_ULONG hw_key_bits(EVP_PKEY *key);               /* modulus or field bits */
const hw_curve *hw_key_curve(EVP_PKEY *key);       /* NULL for RSA */

/* ---- base operations with PKCS#11 encodings ------------------------------------- */
typedef struct hw_sign_req {
	CK_MECHANISM_TYPE base;        /* CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_EDDSA */
	CK_MECHANISM_TYPE hash;        /* hash that produced data (HW_NO_HASH when raw) */
	CK_RSA_PKCS_PSS_PARAMS pss;    /* base == CKM_RSA_PKCS_PSS */
	const unsigned char *data;     /* digest / DigestInfo / message */
	size_t len;
	void *bop;                     /* the backend's op_begin state, or NULL */
} hw_sign_req;

/* Signature length for key and base mechanism (2*nlen, modulus bytes, 64). */
size_t hw_sig_len(EVP_PKEY *key, CK_MECHANISM_TYPE base);
/* Sign; out must hold hw_sig_len() bytes. ECDSA output is r||s.
 * Input too long for RSA -> CKR_DATA_LEN_RANGE; PSS digest of wrong length
 * -> CKR_DATA_LEN_RANGE. */
CK_RV hw_pkey_sign(EVP_PKEY *key, const hw_sign_req *r, unsigned char *out, size_t *out_len);
/* The same, able to reuse a context prepared for this key: *keep in is a
 * context from an earlier call with the same key and base (or NULL), *keep
 * out is one to pass next time (NULL when the mechanism takes parameters or
 * the call failed). The caller owns it: EVP_PKEY_CTX_free when done; one
 * context serves one thread at a time. */
CK_RV hw_pkey_sign_keep(EVP_PKEY *key, const hw_sign_req *r, EVP_PKEY_CTX **keep,
			unsigned char *out, size_t *out_len);
/* CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE (per the spec's
 * priority), CKR_DATA_LEN_RANGE. */
CK_RV hw_pkey_verify(EVP_PKEY *key, const hw_sign_req *r, const void *sig, size_t sig_len);

typedef struct hw_crypt_req {
	CK_MECHANISM_TYPE mech;        /* CKM_RSA_PKCS or CKM_RSA_PKCS_OAEP */
	CK_RSA_PKCS_OAEP_PARAMS oaep;  /* mech == CKM_RSA_PKCS_OAEP */
	const unsigned char *data;
	size_t len;
	void *bop;                     /* the backend's op_begin state, or NULL */
} hw_crypt_req;
/* out NULL -> *out_len = modulus bytes. Bad ciphertext -> CKR_ENCRYPTED_DATA_INVALID,
 * wrong length -> CKR_ENCRYPTED_DATA_LEN_RANGE. */
CK_RV hw_pkey_decrypt(EVP_PKEY *key, const hw_crypt_req *r, unsigned char *out, size_t *out_len);
/* With a public key; too long -> CKR_DATA_LEN_RANGE. */
CK_RV hw_pkey_encrypt(EVP_PKEY *key, const hw_crypt_req *r, unsigned char *out, size_t *out_len);

#endif
