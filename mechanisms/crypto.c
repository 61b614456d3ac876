/*
 * Software crypto over OpenSSL 3, always through hwagg's own library
 * context with the default provider loaded into it. The process may have an
 * ENGINE (libp11's "pkcs11", possibly loading this very module) installed as
 * the default RSA/EC implementation; the default context, legacy key types
 * and ENGINE-aware calls would route our work back into it.
 */
#include "mechanisms/crypto.h"
#include "mechanisms/mech.h"
#include "common/log.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>   /* padding constants and EVP_PKEY_CTX_set_rsa_* only */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ED25519_SIG_LEN 64
#define ECDSA_DER_MAX   160     /* P-521: 3 + 2 * (2 + 67) = 141 */

static const CK_MECHANISM_TYPE md_types[] = { CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512 };

/* g_ctx is published last with release semantics, so a thread that sees it
 * non-NULL also sees the provider and the digests. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static OSSL_LIB_CTX *g_ctx;
static OSSL_PROVIDER *g_prov;
static EVP_MD *g_md[HW_ARRAY_LEN(md_types)];

/* The ciphers and the MAC of the secret-key operations (cipher.c), fetched
 * on first use: a fetch is a method-store lookup under OpenSSL's lock, a
 * tenth of the time of a short message. Freed with the context. */
static const char *const cipher_names[] = {
	"AES-128-ECB", "AES-192-ECB", "AES-256-ECB", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC",
	"AES-128-CTR", "AES-192-CTR", "AES-256-CTR", "AES-128-GCM", "AES-192-GCM", "AES-256-GCM",
	"AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP", "AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD",
};
static EVP_CIPHER *g_cipher[HW_ARRAY_LEN(cipher_names)];
static EVP_MAC *g_hmac;

static const unsigned char empty[1];

struct hw_digest {
	EVP_MD_CTX *mdctx;
};

/* ---- errors ---------------------------------------------------------------------- */

/* The error queue is emptied so a later failure is not blamed on this one;
 * the log line carries OpenSSL's reason, never any data. A refusal of the
 * caller's input is the answer, only worth a debug line. */
CK_RV hw_crypto_error(const char *what, CK_RV rv)
{
	char msg[256] = "no OpenSSL error queued";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	if (e != 0 && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
		rv = CKR_HOST_MEMORY;
	else if (rv != CKR_OK) {
		hw_debug("crypto: %s: %s", what, msg);
		return rv;
	}
	hw_error("crypto: %s: %s", what, msg);
	return rv == CKR_OK ? CKR_FUNCTION_FAILED : rv;
}

#define ossl_fail(what) hw_crypto_error((what), CKR_OK)

/* ---- the library context ------------------------------------------------------------ */

CK_RV hw_crypto_init(void)
{
	CK_RV rv = CKR_OK;
	OSSL_LIB_CTX *ctx = NULL;
	OSSL_PROVIDER *prov = NULL;
	EVP_MD *md[HW_ARRAY_LEN(md_types)] = { NULL };

	if (__atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE) != NULL)
		return CKR_OK;
	pthread_mutex_lock(&g_lock);
	if (g_ctx != NULL)
		goto out;
	/* A fresh context reads no openssl.cnf, so no configured ENGINE or
	 * provider can reach it. */
	ctx = OSSL_LIB_CTX_new();
	if (ctx == NULL) {
		rv = ossl_fail("creating the library context");
		goto out;
	}
	prov = OSSL_PROVIDER_load(ctx, "default");
	if (prov == NULL) {
		rv = ossl_fail("loading the default provider");
		goto out;
	}
	/* Fetched once: a fetch per digest would cost a method-store lookup. */
	for (size_t i = 0; i < HW_ARRAY_LEN(md_types); i++) {
		md[i] = EVP_MD_fetch(ctx, hw_hash_ossl_name(md_types[i]), NULL);
		if (md[i] == NULL) {
			rv = ossl_fail("fetching a digest");
			goto out;
		}
	}
	memcpy(g_md, md, sizeof(md));
	memset(md, 0, sizeof(md));
	g_prov = prov;
	prov = NULL;
	__atomic_store_n(&g_ctx, ctx, __ATOMIC_RELEASE);
	ctx = NULL;
out:
	for (size_t i = 0; i < HW_ARRAY_LEN(md); i++)
		EVP_MD_free(md[i]);
	if (prov != NULL)
		OSSL_PROVIDER_unload(prov);
	OSSL_LIB_CTX_free(ctx);
	pthread_mutex_unlock(&g_lock);
	return rv;
}

void hw_crypto_fini(void)
{
	OSSL_LIB_CTX *ctx;

	pthread_mutex_lock(&g_lock);
	ctx = g_ctx;
	__atomic_store_n(&g_ctx, NULL, __ATOMIC_RELEASE);
	for (size_t i = 0; i < HW_ARRAY_LEN(g_md); i++) {
		EVP_MD_free(g_md[i]);
		g_md[i] = NULL;
	}
	for (size_t i = 0; i < HW_ARRAY_LEN(g_cipher); i++) {
		EVP_CIPHER_free(g_cipher[i]);
		g_cipher[i] = NULL;
	}
	EVP_MAC_free(g_hmac);
	g_hmac = NULL;
	if (g_prov != NULL)
		OSSL_PROVIDER_unload(g_prov);
	g_prov = NULL;
	OSSL_LIB_CTX_free(ctx);
	pthread_mutex_unlock(&g_lock);
}

void hw_crypto_forget(void)
{
	/* In a forked child the parent's other threads may have been inside
	 * OpenSSL holding its locks: freeing could deadlock or corrupt, so the
	 * memory is abandoned and the next use builds a new context. */
	__atomic_store_n(&g_ctx, NULL, __ATOMIC_RELEASE);
	g_prov = NULL;
	memset(g_md, 0, sizeof(g_md));
	memset(g_cipher, 0, sizeof(g_cipher));
	g_hmac = NULL;
	pthread_mutex_init(&g_lock, NULL);
}

/* Our context, created on first use; NULL only if that failed (logged).
 * Never fall back to the default context. */
static OSSL_LIB_CTX *lib_ctx(void)
{
	OSSL_LIB_CTX *c = __atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE);

	if (c == NULL && hw_crypto_init() == CKR_OK)
		c = __atomic_load_n(&g_ctx, __ATOMIC_ACQUIRE);
	return c;
}

/* OpenSSL keeps private key numbers in its secure heap (locked, excluded
 * from core dumps) once the process has one. Made on first use of a
 * software key, not at load, so processes that never touch one lock no
 * memory. 4 MiB holds thousands of keys; when full, key loading fails
 * rather than falling back to ordinary memory. */
#define HW_SECURE_HEAP (4u << 20)
static pthread_once_t secure_once = PTHREAD_ONCE_INIT;

static void secure_heap_init(void)
{
	if (CRYPTO_secure_malloc_initialized())
		return;
	int r = CRYPTO_secure_malloc_init(HW_SECURE_HEAP, 32);
	if (r == 0)
		hw_warn("crypto: OpenSSL secure heap unavailable: software private keys are held in ordinary memory");
	else if (r == 2)
		hw_warn("crypto: OpenSSL secure heap could not be locked (RLIMIT_MEMLOCK): "
			"software private keys are kept out of core dumps but may be swapped");
}

void hw_crypto_secure_heap(void)
{
	pthread_once(&secure_once, secure_heap_init);
}

OSSL_LIB_CTX *hw_crypto_ctx(void)
{
	return lib_ctx();
}

/* Fetched once per context; when two threads fetch at the same time, the
 * first to publish wins and the other frees its copy. */
static void *fetched(void **slot, void *(*fetch)(OSSL_LIB_CTX *, const char *, const char *),
		     void (*release)(void *), const char *name)
{
	void *have = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *none = NULL;
	OSSL_LIB_CTX *lc;
	if (have != NULL || (lc = lib_ctx()) == NULL || (have = fetch(lc, name, NULL)) == NULL)
		return have;
	if (!__atomic_compare_exchange_n(slot, &none, have, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		release(have);
		have = none;
	}
	return have;
}

static void *cipher_fetch(OSSL_LIB_CTX *lc, const char *name, const char *props)
{
	return EVP_CIPHER_fetch(lc, name, props);
}

static void cipher_release(void *c)
{
	EVP_CIPHER_free(c);
}

static void *mac_fetch(OSSL_LIB_CTX *lc, const char *name, const char *props)
{
	return EVP_MAC_fetch(lc, name, props);
}

static void mac_release(void *m)
{
	EVP_MAC_free(m);
}

const EVP_CIPHER *hw_crypto_cipher(const char *name)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(cipher_names); i++)
		if (strcmp(cipher_names[i], name) == 0)
			return fetched((void **)&g_cipher[i], cipher_fetch, cipher_release, name);
	return NULL;
}

EVP_MAC *hw_crypto_hmac(void)
{
	return fetched((void **)&g_hmac, mac_fetch, mac_release, "HMAC");
}

static const EVP_MD *md_get(CK_MECHANISM_TYPE hash)
{
	if (lib_ctx() == NULL)
		return NULL;
	for (size_t i = 0; i < HW_ARRAY_LEN(md_types); i++)
		if (md_types[i] == hash)
			return g_md[i];
	return NULL;
}

/* ---- digests and random --------------------------------------------------------------- */

CK_RV hw_digest_new(CK_MECHANISM_TYPE hash, hw_digest **out)
{
	CK_RV rv = CKR_OK;
	const EVP_MD *md = md_get(hash);
	hw_digest *d = NULL;

	if (md == NULL)
		return hw_hash_len(hash) == 0 ? CKR_MECHANISM_INVALID : CKR_FUNCTION_FAILED;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	d->mdctx = EVP_MD_CTX_new();
	if (d->mdctx == NULL || EVP_DigestInit_ex(d->mdctx, md, NULL) != 1) {
		rv = ossl_fail("digest init");
		goto out;
	}
	*out = d;
	d = NULL;
out:
	hw_digest_free(d);
	return rv;
}

CK_RV hw_digest_update(hw_digest *d, const void *data, size_t len)
{
	if (len == 0)
		return CKR_OK;
	if (EVP_DigestUpdate(d->mdctx, data, len) != 1)
		return ossl_fail("digest update");
	return CKR_OK;
}

CK_RV hw_digest_final(hw_digest *d, unsigned char *out, size_t *out_len)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(d->mdctx, out, &n) != 1)
		return ossl_fail("digest final");
	*out_len = n;
	return CKR_OK;
}

void hw_digest_free(hw_digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->mdctx);
	free(d);
}

CK_RV hw_digest_once(CK_MECHANISM_TYPE hash, const void *data, size_t len,
		     unsigned char *out, size_t *out_len)
{
	const EVP_MD *md = md_get(hash);
	unsigned int n = 0;

	if (md == NULL)
		return hw_hash_len(hash) == 0 ? CKR_MECHANISM_INVALID : CKR_FUNCTION_FAILED;
	if (EVP_Digest(data != NULL ? data : empty, len, out, &n, md, NULL) != 1)
		return ossl_fail("digest");
	*out_len = n;
	return CKR_OK;
}

CK_RV hw_random(void *out, size_t len)
{
	OSSL_LIB_CTX *lc = lib_ctx();

	if (lc == NULL)
		return CKR_FUNCTION_FAILED;
	if (len > 0 && RAND_bytes_ex(lc, out, len, 0) != 1)
		return ossl_fail("random bytes");
	return CKR_OK;
}

/* ---- signature sizes and key fit -------------------------------------------------------- */

/* Width of r and s: the byte length of the group order. */
static size_t ec_nlen(EVP_PKEY *key)
{
	int bits = EVP_PKEY_get_bits(key);

	return bits > 0 ? ((size_t)bits + 7) / 8 : 0;
}

static size_t rsa_k(EVP_PKEY *key)
{
	int k = EVP_PKEY_get_size(key);

	return k > 0 ? (size_t)k : 0;
}

size_t hw_sig_len(EVP_PKEY *key, CK_MECHANISM_TYPE base)
{
	switch (base) {
	case CKM_ECDSA:
		return 2 * ec_nlen(key);
	case CKM_RSA_PKCS:
	case CKM_RSA_PKCS_PSS:
		return rsa_k(key);
	case CKM_EDDSA:
		return ED25519_SIG_LEN;
	default:
		return 0;
	}
}

static CK_RV base_key_check(EVP_PKEY *key, CK_MECHANISM_TYPE base)
{
	CK_KEY_TYPE want;

	switch (base) {
	case CKM_ECDSA:
		want = CKK_EC;
		break;
	case CKM_RSA_PKCS:
	case CKM_RSA_PKCS_PSS:
	case CKM_RSA_PKCS_OAEP:
		want = CKK_RSA;
		break;
	case CKM_EDDSA:
		want = CKK_EC_EDWARDS;
		break;
	default:
		return CKR_MECHANISM_INVALID;
	}
	return hw_key_type(key) == want ? CKR_OK : CKR_KEY_TYPE_INCONSISTENT;
}

/* ---- sign and verify --------------------------------------------------------------------- */

/* One operation context per call: concurrent operations on one key share
 * nothing mutable, and nothing else is looked up per signature. (OpenSSL
 * 3.0 still asks the ENGINE table about the key's type here; with libp11
 * as default it routes the operation through its pkey method, which hands
 * keys that are not its own back to OpenSSL's software code.) */
static EVP_PKEY_CTX *op_ctx(EVP_PKEY *key)
{
	OSSL_LIB_CTX *lc = lib_ctx();

	return lc != NULL ? EVP_PKEY_CTX_new_from_pkey(lc, key, NULL) : NULL;
}

static CK_RV pss_check(EVP_PKEY *key, const hw_sign_req *r)
{
	size_t hlen = hw_hash_len(r->pss.hashAlg);

	if (hlen == 0 || hw_hash_from_mgf(r->pss.mgf) == HW_NO_HASH ||
	    hw_pss_slen_check(&r->pss, (CK_ULONG)EVP_PKEY_get_bits(key)) != CKR_OK)
		return CKR_MECHANISM_PARAM_INVALID;
	if (r->len != hlen)
		return CKR_DATA_LEN_RANGE;
	return CKR_OK;
}

/* A sign or verify context with padding and parameters set. */
static CK_RV sig_begin(EVP_PKEY *key, const hw_sign_req *r, bool verify, EVP_PKEY_CTX **ppc)
{
	EVP_PKEY_CTX *pc = *ppc = op_ctx(key);
	const EVP_MD *md, *mgf;

	if (pc == NULL || (verify ? EVP_PKEY_verify_init(pc) : EVP_PKEY_sign_init(pc)) <= 0)
		return ossl_fail("sign/verify init");
	switch (r->base) {
	case CKM_RSA_PKCS:
		/* No digest set: the input (a DigestInfo) is padded as is. */
		if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
			return ossl_fail("RSA padding");
		return CKR_OK;
	case CKM_RSA_PKCS_PSS:
		md = md_get(r->pss.hashAlg);
		mgf = md_get(hw_hash_from_mgf(r->pss.mgf));
		if (md == NULL || mgf == NULL)
			return CKR_MECHANISM_PARAM_INVALID;
		if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_signature_md(pc, md) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, mgf) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, (int)r->pss.sLen) <= 0)
			return ossl_fail("RSA-PSS parameters");
		return CKR_OK;
	default:
		return CKR_OK;
	}
}

static CK_RV eddsa_sign(EVP_PKEY *key, const unsigned char *data, size_t len,
			unsigned char *out, size_t *out_len)
{
	CK_RV rv = CKR_OK;
	OSSL_LIB_CTX *lc = lib_ctx();
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	size_t siglen = ED25519_SIG_LEN;

	/* EdDSA hashes internally: one-shot over the message, no digest name. */
	if (lc == NULL || mc == NULL || EVP_DigestSignInit_ex(mc, NULL, NULL, lc, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(mc, out, &siglen, data, len) != 1) {
		rv = ossl_fail("EdDSA sign");
		goto out;
	}
	*out_len = siglen;
out:
	EVP_MD_CTX_free(mc);
	return rv;
}

CK_RV hw_pkey_sign(EVP_PKEY *key, const hw_sign_req *r, unsigned char *out, size_t *out_len)
{
	return hw_pkey_sign_keep(key, r, NULL, out, out_len);
}

CK_RV hw_pkey_sign_keep(EVP_PKEY *key, const hw_sign_req *r, EVP_PKEY_CTX **keep,
			unsigned char *out, size_t *out_len)
{
	CK_RV rv;
	EVP_PKEY_CTX *pc = NULL;
	const unsigned char *data;
	unsigned char der[ECDSA_DER_MAX];
	size_t siglen;

	HW_RETURN_IF(key == NULL || r == NULL || out == NULL || out_len == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(r->data == NULL && r->len != 0, CKR_ARGUMENTS_BAD);
	rv = base_key_check(key, r->base);
	HW_RETURN_IF(rv != CKR_OK, rv);
	data = r->data != NULL ? r->data : empty;
	switch (r->base) {
	case CKM_EDDSA:
		return eddsa_sign(key, data, r->len, out, out_len);
	case CKM_RSA_PKCS:
		HW_RETURN_IF(rsa_k(key) < 11 || r->len > rsa_k(key) - 11, CKR_DATA_LEN_RANGE);
		siglen = rsa_k(key);
		break;
	case CKM_RSA_PKCS_PSS:
		rv = pss_check(key, r);
		HW_RETURN_IF(rv != CKR_OK, rv);
		siglen = rsa_k(key);
		break;
	default:
		/* ECDSA takes any digest length: OpenSSL uses the leftmost bits
		 * of the order's size, as the spec says; DER goes to a buffer. */
		siglen = sizeof(der);
		break;
	}
	/* Only parameterless operations may reuse a prepared context: the
	 * per-call setup is a tenth of an ECDSA signature. */
	if (keep != NULL && r->base != CKM_ECDSA && r->base != CKM_RSA_PKCS)
		keep = NULL;
	if (keep != NULL && *keep != NULL) {
		pc = *keep;
		*keep = NULL;
	} else if ((rv = sig_begin(key, r, false, &pc)) != CKR_OK) {
		goto out;
	}
	if (EVP_PKEY_sign(pc, r->base == CKM_ECDSA ? der : out, &siglen, data, r->len) <= 0) {
		rv = ossl_fail("sign");
		goto out;
	}
	if (r->base == CKM_ECDSA) {
		rv = hw_ecdsa_der_to_rs(der, siglen, ec_nlen(key), out);
		siglen = 2 * ec_nlen(key);
	}
	if (rv == CKR_OK) {
		*out_len = siglen;
		if (keep != NULL) {
			*keep = pc;
			pc = NULL;
		}
	}
out:
	EVP_PKEY_CTX_free(pc);
	return rv;
}

/* Lengths that are wrong on sight: SIGNATURE_LEN_RANGE outranks INVALID. */
static CK_RV verify_lengths(EVP_PKEY *key, const hw_sign_req *r, size_t sig_len)
{
	size_t k;

	switch (r->base) {
	case CKM_ECDSA:
		if (sig_len == 0 || sig_len % 2 != 0 || sig_len > 2 * ec_nlen(key))
			return CKR_SIGNATURE_LEN_RANGE;
		return CKR_OK;
	case CKM_EDDSA:
		return sig_len == ED25519_SIG_LEN ? CKR_OK : CKR_SIGNATURE_LEN_RANGE;
	case CKM_RSA_PKCS:
		k = rsa_k(key);
		if (sig_len != k)
			return CKR_SIGNATURE_LEN_RANGE;
		return k < 11 || r->len > k - 11 ? CKR_DATA_LEN_RANGE : CKR_OK;
	default:
		if (sig_len != rsa_k(key))
			return CKR_SIGNATURE_LEN_RANGE;
		return pss_check(key, r);
	}
}

static CK_RV eddsa_verify(EVP_PKEY *key, const unsigned char *data, size_t len,
			  const unsigned char *sig, size_t sig_len)
{
	CK_RV rv;
	OSSL_LIB_CTX *lc = lib_ctx();
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	if (lc == NULL || mc == NULL || EVP_DigestVerifyInit_ex(mc, NULL, NULL, lc, NULL, key, NULL) != 1) {
		rv = ossl_fail("EdDSA verify init");
		goto out;
	}
	rv = EVP_DigestVerify(mc, sig, sig_len, data, len) == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
	ERR_clear_error();
out:
	EVP_MD_CTX_free(mc);
	return rv;
}

CK_RV hw_pkey_verify(EVP_PKEY *key, const hw_sign_req *r, const void *sig, size_t sig_len)
{
	CK_RV rv;
	EVP_PKEY_CTX *pc = NULL;
	const unsigned char *data, *s = sig;
	unsigned char der[ECDSA_DER_MAX];
	size_t der_len = sizeof(der);

	HW_RETURN_IF(key == NULL || r == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(r->data == NULL && r->len != 0, CKR_ARGUMENTS_BAD);
	rv = base_key_check(key, r->base);
	HW_RETURN_IF(rv != CKR_OK, rv);
	HW_RETURN_IF(sig == NULL, CKR_SIGNATURE_LEN_RANGE);
	rv = verify_lengths(key, r, sig_len);
	HW_RETURN_IF(rv != CKR_OK, rv);
	data = r->data != NULL ? r->data : empty;
	if (r->base == CKM_EDDSA)
		return eddsa_verify(key, data, r->len, s, sig_len);
	if (r->base == CKM_ECDSA) {
		rv = hw_ecdsa_rs_to_der(sig, sig_len, der, &der_len);
		HW_RETURN_IF(rv != CKR_OK, rv);
		s = der;
		sig_len = der_len;
	}
	rv = sig_begin(key, r, true, &pc);
	if (rv != CKR_OK)
		goto out;
	/* 0 is a bad signature, < 0 a malformed one: both are INVALID. */
	rv = EVP_PKEY_verify(pc, s, sig_len, data, r->len) == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
	ERR_clear_error();
out:
	EVP_PKEY_CTX_free(pc);
	return rv;
}

/* ---- encrypt and decrypt ------------------------------------------------------------------ */

/* An encrypt or decrypt context with padding and parameters set. */
static CK_RV crypt_begin(EVP_PKEY *key, const hw_crypt_req *r, bool enc, EVP_PKEY_CTX **ppc)
{
	EVP_PKEY_CTX *pc = *ppc = op_ctx(key);
	const CK_RSA_PKCS_OAEP_PARAMS *p = &r->oaep;
	const EVP_MD *md, *mgf;

	if (pc == NULL || (enc ? EVP_PKEY_encrypt_init(pc) : EVP_PKEY_decrypt_init(pc)) <= 0)
		return ossl_fail("encrypt/decrypt init");
	if (r->mech == CKM_RSA_PKCS) {
		if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
			return ossl_fail("RSA padding");
		return CKR_OK;
	}
	md = md_get(p->hashAlg);
	mgf = md_get(hw_hash_from_mgf(p->mgf));
	if (md == NULL || mgf == NULL || (p->pSourceData == NULL && p->ulSourceDataLen != 0))
		return CKR_MECHANISM_PARAM_INVALID;
	if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pc, md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(pc, mgf) <= 0)
		return ossl_fail("RSA-OAEP parameters");
	if (p->ulSourceDataLen > 0) {
		/* The provider copies an OSSL_PARAM label into its own buffer,
		 * so the application's memory is passed as is (the older
		 * EVP_PKEY_CTX_set0_rsa_oaep_label would take and free it). */
		OSSL_PARAM prm[2] = {
			OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
							  p->pSourceData, p->ulSourceDataLen),
			OSSL_PARAM_construct_end(),
		};

		if (EVP_PKEY_CTX_set_params(pc, prm) <= 0)
			return ossl_fail("RSA-OAEP label");
	}
	return CKR_OK;
}

CK_RV hw_pkey_decrypt(EVP_PKEY *key, const hw_crypt_req *r, unsigned char *out, size_t *out_len)
{
	CK_RV rv;
	EVP_PKEY_CTX *pc = NULL;
	unsigned char *tmp = NULL;
	size_t k, tlen;

	HW_RETURN_IF(key == NULL || r == NULL || out_len == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(r->mech != CKM_RSA_PKCS && r->mech != CKM_RSA_PKCS_OAEP, CKR_MECHANISM_INVALID);
	HW_RETURN_IF(hw_key_type(key) != CKK_RSA, CKR_KEY_TYPE_INCONSISTENT);
	k = rsa_k(key);
	if (out == NULL) {
		*out_len = k;
		return CKR_OK;
	}
	HW_RETURN_IF(r->data == NULL || r->len != k, CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* A full-size scratch buffer: the plaintext length is known only
	 * after decryption, and it may be key material, so it is wiped. */
	tmp = malloc(k);
	if (tmp == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = crypt_begin(key, r, false, &pc);
	if (rv != CKR_OK)
		goto out;
	tlen = k;
	if (EVP_PKEY_decrypt(pc, tmp, &tlen, r->data, r->len) <= 0) {
		rv = hw_crypto_error("decrypt", CKR_ENCRYPTED_DATA_INVALID);
		goto out;
	}
	if (*out_len < tlen) {
		*out_len = tlen;
		rv = CKR_BUFFER_TOO_SMALL;
		goto out;
	}
	memcpy(out, tmp, tlen);
	*out_len = tlen;
out:
	if (tmp != NULL) {
		hw_wipe(tmp, k);
		free(tmp);
	}
	EVP_PKEY_CTX_free(pc);
	return rv;
}

CK_RV hw_pkey_encrypt(EVP_PKEY *key, const hw_crypt_req *r, unsigned char *out, size_t *out_len)
{
	CK_RV rv;
	EVP_PKEY_CTX *pc = NULL;
	size_t k, max, hlen, olen;

	HW_RETURN_IF(key == NULL || r == NULL || out_len == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(r->data == NULL && r->len != 0, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(r->mech != CKM_RSA_PKCS && r->mech != CKM_RSA_PKCS_OAEP, CKR_MECHANISM_INVALID);
	HW_RETURN_IF(hw_key_type(key) != CKK_RSA, CKR_KEY_TYPE_INCONSISTENT);
	k = rsa_k(key);
	if (out == NULL) {
		*out_len = k;
		return CKR_OK;
	}
	if (r->mech == CKM_RSA_PKCS) {
		max = k >= 11 ? k - 11 : 0;
	} else {
		hlen = hw_hash_len(r->oaep.hashAlg);
		HW_RETURN_IF(hlen == 0, CKR_MECHANISM_PARAM_INVALID);
		max = k >= 2 + 2 * hlen ? k - 2 - 2 * hlen : 0;
	}
	HW_RETURN_IF(r->len > max, CKR_DATA_LEN_RANGE);
	if (*out_len < k) {
		*out_len = k;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = crypt_begin(key, r, true, &pc);
	if (rv != CKR_OK)
		goto out;
	olen = *out_len;
	if (EVP_PKEY_encrypt(pc, out, &olen, r->data != NULL ? r->data : empty, r->len) <= 0) {
		rv = ossl_fail("encrypt");
		goto out;
	}
	*out_len = olen;
out:
	EVP_PKEY_CTX_free(pc);
	return rv;
}
