/*
 * PIN wraps, key sealing and the token PIN state machine (see pin.h).
 *
 * Wrap v1 (80 bytes):  1 | log2 N | r | p | salt[16] | nonce[12] | ct[32] | tag[16]
 *   key = scrypt(PIN, salt, N, r, p) -> 32 bytes; AES-256-GCM over MK with
 *   the first 20 bytes (version, cost, salt) as AAD. The cost travels in the
 *   wrap so a later release can raise it and still open old wraps.
 * Seal v1:  1 | salt[16] | nonce[12] | ct[n] | tag[16]
 *   key = HKDF-SHA256(MK, salt, "hwagg key seal v1") -> 32 bytes;
 *   AES-256-GCM with the caller's AAD.
 *
 * All crypto goes through hw_crypto_ctx(), never the default library
 * context, which may belong to an ENGINE in the host process.
 */
#include "objects/pin.h"
#include "mechanisms/crypto.h"
#include "common/log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define HW_PIN_WRAP_V1 1
#define HW_PIN_SEAL_V1 1
#define HW_PIN_LOG2N 15
#define HW_PIN_R 8
#define HW_PIN_P 1
#define HW_PIN_SALT 16
#define HW_PIN_NONCE 12
#define HW_PIN_TAG 16
#define HW_PIN_KEY 32
#define HW_PIN_WRAP_HDR (4 + HW_PIN_SALT)
#define HW_PIN_WRAP_LEN (HW_PIN_WRAP_HDR + HW_PIN_NONCE + HW_MK_LEN + HW_PIN_TAG)
#define HW_PIN_SEAL_HDR (1 + HW_PIN_SALT + HW_PIN_NONCE)
#define HW_PIN_SEAL_INFO "hwagg key seal v1"
/* Ceiling on what a (possibly tampered) wrap may ask scrypt to allocate. */
#define HW_PIN_SCRYPT_MAXMEM ((uint64_t)512 << 20)

static const hw_pin_policy hw_pin_default_policy = { 10, 4, 64 };

static hw_pin_policy hw_pin_pol(const hw_pin_policy *pol)
{
	hw_pin_policy p = pol != NULL ? *pol : hw_pin_default_policy;
	if (p.max_tries == 0)
		p.max_tries = hw_pin_default_policy.max_tries;
	if (p.max_len == 0)
		p.max_len = hw_pin_default_policy.max_len;
	return p;
}

/* ---- OpenSSL helpers ------------------------------------------------------- */

static CK_RV hw_pin_libctx(OSSL_LIB_CTX **ctx)
{
	*ctx = hw_crypto_ctx();
	if (*ctx != NULL)
		return CKR_OK;
	hw_error("key sealing: the crypto library context is not initialized");
	return CKR_GENERAL_ERROR;
}

/* Log an OpenSSL failure; the caller pops its error mark afterwards so the
 * host application's error queue is left as it was. */
static CK_RV hw_pin_ossl_fail(const char *what)
{
	char buf[256] = "no detail";
	unsigned long e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	hw_error("key sealing: %s failed: %s", what, buf);
	return CKR_FUNCTION_FAILED;
}

static CK_RV hw_pin_random(OSSL_LIB_CTX *ctx, unsigned char *buf, size_t len)
{
	CK_RV rv = CKR_OK;
	ERR_set_mark();
	if (RAND_bytes_ex(ctx, buf, len, 0) != 1)
		rv = hw_pin_ossl_fail("random");
	ERR_pop_to_mark();
	return rv;
}

/* Run a KDF into a new 32-byte secret. */
static CK_RV hw_pin_kdf(OSSL_LIB_CTX *ctx, const char *name, OSSL_PARAM *params, hw_secret **key)
{
	CK_RV rv;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	*key = hw_secret_new(HW_PIN_KEY);
	if (*key == NULL)
		return CKR_HOST_MEMORY;
	ERR_set_mark();
	kdf = EVP_KDF_fetch(ctx, name, NULL);
	kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	if (kctx == NULL || EVP_KDF_derive(kctx, (*key)->data, HW_PIN_KEY, params) != 1) {
		rv = hw_pin_ossl_fail(name);
		hw_secret_free(*key);
		*key = NULL;
		goto out;
	}
	rv = CKR_OK;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	ERR_pop_to_mark();
	return rv;
}

/* hdr: version | log2 N | r | p | salt (already validated). */
static CK_RV hw_pin_scrypt(OSSL_LIB_CTX *ctx, const unsigned char *hdr,
			   const CK_UTF8CHAR *pin, size_t pin_len, hw_secret **key)
{
	static const unsigned char empty[1];
	uint64_t n = (uint64_t)1 << hdr[1], maxmem = 2 * HW_PIN_SCRYPT_MAXMEM;
	uint32_t r = hdr[2], p = hdr[3];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
			(void *)(pin_len > 0 ? pin : empty), pin_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(hdr + 4), HW_PIN_SALT),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};
	return hw_pin_kdf(ctx, "SCRYPT", params, key);
}

static CK_RV hw_pin_hkdf(OSSL_LIB_CTX *ctx, const hw_secret *mk, const unsigned char *salt,
			 hw_secret **key)
{
	char digest[] = "SHA256";
	char info[] = HW_PIN_SEAL_INFO;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, mk->data, mk->len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, HW_PIN_SALT),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info) - 1),
		OSSL_PARAM_construct_end(),
	};
	return hw_pin_kdf(ctx, "HKDF", params, key);
}

/* AES-256-GCM. Encryption writes len bytes to out and the tag; decryption
 * checks the tag and returns CKR_ENCRYPTED_DATA_INVALID when it fails (out
 * then holds unauthenticated bytes the caller must discard). */
static CK_RV hw_pin_gcm(OSSL_LIB_CTX *ctx, bool enc, const hw_secret *key,
			const unsigned char *nonce, const void *aad, size_t aad_len,
			const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
	CK_RV rv = CKR_OK;
	EVP_CIPHER *c = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	OSSL_PARAM tagp[] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, HW_PIN_TAG),
		OSSL_PARAM_construct_end(),
	};
	unsigned char fin[16];
	int n;
	if (len > INT_MAX || aad_len > INT_MAX)
		return CKR_DATA_LEN_RANGE;
	ERR_set_mark();
	c = EVP_CIPHER_fetch(ctx, "AES-256-GCM", NULL);
	cc = EVP_CIPHER_CTX_new();
	if (c == NULL || cc == NULL ||
	    EVP_CipherInit_ex2(cc, c, key->data, nonce, enc ? 1 : 0, NULL) != 1 ||
	    (aad_len > 0 && EVP_CipherUpdate(cc, NULL, &n, aad, (int)aad_len) != 1) ||
	    (len > 0 && EVP_CipherUpdate(cc, out, &n, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_set_params(cc, tagp) != 1)) {
		rv = hw_pin_ossl_fail("AES-256-GCM");
		goto out;
	}
	/* Decryption: Final is where the tag is checked. */
	if (EVP_CipherFinal_ex(cc, fin, &n) != 1)
		rv = enc ? hw_pin_ossl_fail("AES-256-GCM") : CKR_ENCRYPTED_DATA_INVALID;
	else if (enc && EVP_CIPHER_CTX_get_params(cc, tagp) != 1)
		rv = hw_pin_ossl_fail("AES-256-GCM tag");
out:
	EVP_CIPHER_CTX_free(cc);
	EVP_CIPHER_free(c);
	ERR_pop_to_mark();
	return rv;
}

/* ---- wraps ----------------------------------------------------------------- */

static bool hw_pin_wrap_ok(const unsigned char *wrap, size_t len)
{
	if (wrap == NULL || len != HW_PIN_WRAP_LEN || wrap[0] != HW_PIN_WRAP_V1)
		return false;
	unsigned log2n = wrap[1], r = wrap[2], p = wrap[3];
	if (log2n < 10 || log2n > 22 || r < 1 || r > 32 || p < 1 || p > 16)
		return false;
	return ((uint64_t)128 * r << log2n) <= HW_PIN_SCRYPT_MAXMEM;
}

CK_RV hw_pin_wrap(const hw_secret *mk, const CK_UTF8CHAR *pin, size_t pin_len,
		  unsigned char *out, size_t *out_len)
{
	HW_RETURN_IF(mk == NULL || mk->len != HW_MK_LEN || (pin == NULL && pin_len > 0) ||
		     out == NULL || out_len == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv;
	OSSL_LIB_CTX *ctx;
	hw_secret *key = NULL;
	unsigned char *nonce = out + HW_PIN_WRAP_HDR, *ct = nonce + HW_PIN_NONCE;
	rv = hw_pin_libctx(&ctx);
	if (rv != CKR_OK)
		goto out;
	out[0] = HW_PIN_WRAP_V1;
	out[1] = HW_PIN_LOG2N;
	out[2] = HW_PIN_R;
	out[3] = HW_PIN_P;
	rv = hw_pin_random(ctx, out + 4, HW_PIN_SALT + HW_PIN_NONCE);
	if (rv == CKR_OK)
		rv = hw_pin_scrypt(ctx, out, pin, pin_len, &key);
	if (rv == CKR_OK)
		rv = hw_pin_gcm(ctx, true, key, nonce, out, HW_PIN_WRAP_HDR, mk->data, HW_MK_LEN,
				ct, ct + HW_MK_LEN);
	if (rv == CKR_OK)
		*out_len = HW_PIN_WRAP_LEN;
out:
	hw_secret_free(key);
	return rv;
}

CK_RV hw_pin_unwrap(const unsigned char *wrap, size_t wrap_len,
		    const CK_UTF8CHAR *pin, size_t pin_len, hw_secret **mk)
{
	HW_RETURN_IF(mk == NULL || (pin == NULL && pin_len > 0), CKR_ARGUMENTS_BAD);
	CK_RV rv;
	OSSL_LIB_CTX *ctx;
	hw_secret *key = NULL;
	*mk = NULL;
	if (!hw_pin_wrap_ok(wrap, wrap_len)) {
		hw_error("key sealing: PIN wrap is malformed (%zu bytes, version %u)", wrap_len,
			 wrap != NULL && wrap_len > 0 ? wrap[0] : 0);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = hw_pin_libctx(&ctx);
	if (rv == CKR_OK)
		rv = hw_pin_scrypt(ctx, wrap, pin, pin_len, &key);
	if (rv != CKR_OK)
		goto out;
	*mk = hw_secret_new(HW_MK_LEN);
	if (*mk == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	const unsigned char *nonce = wrap + HW_PIN_WRAP_HDR, *ct = nonce + HW_PIN_NONCE;
	rv = hw_pin_gcm(ctx, false, key, nonce, wrap, HW_PIN_WRAP_HDR, ct, HW_MK_LEN,
			(*mk)->data, (unsigned char *)(ct + HW_MK_LEN));
	if (rv == CKR_ENCRYPTED_DATA_INVALID)
		rv = CKR_PIN_INCORRECT;
	if (rv != CKR_OK) {
		hw_secret_free(*mk);
		*mk = NULL;
	}
out:
	hw_secret_free(key);
	return rv;
}

/* ---- sealing --------------------------------------------------------------- */

CK_RV hw_seal(const hw_secret *mk, const void *aad, size_t aad_len,
	      const void *plain, size_t plain_len, unsigned char **out, size_t *out_len)
{
	HW_RETURN_IF(mk == NULL || mk->len != HW_MK_LEN || (aad == NULL && aad_len > 0) ||
		     (plain == NULL && plain_len > 0) || out == NULL || out_len == NULL,
		     CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(plain_len > INT_MAX - HW_PIN_SEAL_HDR - HW_PIN_TAG, CKR_DATA_LEN_RANGE);
	CK_RV rv;
	OSSL_LIB_CTX *ctx;
	hw_secret *key = NULL;
	size_t len = HW_PIN_SEAL_HDR + plain_len + HW_PIN_TAG;
	unsigned char *buf = malloc(len);
	*out = NULL;
	if (buf == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = hw_pin_libctx(&ctx);
	if (rv != CKR_OK)
		goto out;
	buf[0] = HW_PIN_SEAL_V1;
	rv = hw_pin_random(ctx, buf + 1, HW_PIN_SALT + HW_PIN_NONCE);
	if (rv == CKR_OK)
		rv = hw_pin_hkdf(ctx, mk, buf + 1, &key);
	if (rv == CKR_OK)
		rv = hw_pin_gcm(ctx, true, key, buf + 1 + HW_PIN_SALT, aad, aad_len, plain, plain_len,
				buf + HW_PIN_SEAL_HDR, buf + HW_PIN_SEAL_HDR + plain_len);
	if (rv != CKR_OK)
		goto out;
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	if (buf != NULL) {
		hw_wipe(buf, len);
		free(buf);
	}
	hw_secret_free(key);
	return rv;
}

CK_RV hw_unseal(const hw_secret *mk, const void *aad, size_t aad_len,
		const void *sealed, size_t sealed_len, hw_secret **plain)
{
	HW_RETURN_IF(mk == NULL || mk->len != HW_MK_LEN || (aad == NULL && aad_len > 0) ||
		     plain == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv;
	OSSL_LIB_CTX *ctx;
	hw_secret *key = NULL;
	const unsigned char *in = sealed;
	*plain = NULL;
	if (in == NULL || sealed_len < HW_PIN_SEAL_HDR + HW_PIN_TAG || in[0] != HW_PIN_SEAL_V1) {
		hw_error("key sealing: sealed key is malformed (%zu bytes)", sealed_len);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	size_t ct_len = sealed_len - HW_PIN_SEAL_HDR - HW_PIN_TAG;
	rv = hw_pin_libctx(&ctx);
	if (rv == CKR_OK)
		rv = hw_pin_hkdf(ctx, mk, in + 1, &key);
	if (rv != CKR_OK)
		goto out;
	*plain = hw_secret_new(ct_len);
	if (*plain == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = hw_pin_gcm(ctx, false, key, in + 1 + HW_PIN_SALT, aad, aad_len, in + HW_PIN_SEAL_HDR,
			ct_len, (*plain)->data, (unsigned char *)(in + HW_PIN_SEAL_HDR + ct_len));
	if (rv == CKR_ENCRYPTED_DATA_INVALID) {
		hw_error("key sealing: sealed key failed authentication (wrong token or tampered store)");
		rv = CKR_DEVICE_ERROR;
	}
	if (rv != CKR_OK) {
		hw_secret_free(*plain);
		*plain = NULL;
	}
out:
	hw_secret_free(key);
	return rv;
}

/* ---- the token PIN state machine ------------------------------------------- */

static CK_FLAGS hw_pin_count_flags(unsigned fails, unsigned max, CK_FLAGS low,
				   CK_FLAGS final, CK_FLAGS locked)
{
	CK_FLAGS f = 0;
	if (fails > 0)
		f |= low;
	if (fails + 1 == max)
		f |= final;
	if (fails >= max)
		f |= locked;
	return f;
}

CK_FLAGS hw_pin_flags(const hw_token_rec *rec, const hw_pin_policy *pol)
{
	HW_RETURN_IF(rec == NULL, 0);
	hw_pin_policy p = hw_pin_pol(pol);
	CK_FLAGS f = 0;
	if (rec->initialized) {
		f |= CKF_TOKEN_INITIALIZED;
		f |= hw_pin_count_flags(rec->so_fails, p.max_tries, CKF_SO_PIN_COUNT_LOW,
					CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	}
	if (rec->user_pin_set) {
		f |= CKF_USER_PIN_INITIALIZED;
		f |= hw_pin_count_flags(rec->user_fails, p.max_tries, CKF_USER_PIN_COUNT_LOW,
					CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
	}
	return f;
}

/* Check a PIN against the SO or user wrap of rec. The attempt is counted
 * before the scrypt work and the counter is reset on success: killing the
 * process while it derives cannot yield an uncounted guess, and processes
 * guessing in parallel cannot get more than max_tries attempts in. */
static CK_RV hw_pin_check(hw_store *s, const char *slot, const hw_pin_policy *p, bool so,
			  const hw_token_rec *rec, const CK_UTF8CHAR *pin, size_t pin_len,
			  hw_secret **mk)
{
	CK_RV rv;
	unsigned fails = so ? rec->so_fails : rec->user_fails, now = 0;
	const unsigned char *wrap = so ? rec->so_wrap : rec->user_wrap;
	size_t wrap_len = so ? rec->so_wrap_len : rec->user_wrap_len;
	*mk = NULL;
	if (fails >= p->max_tries) {
		rv = CKR_PIN_LOCKED;
		goto out;
	}
	if (!hw_pin_wrap_ok(wrap, wrap_len)) {
		hw_error("slot \"%s\": %s PIN wrap is malformed", slot, so ? "SO" : "user");
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = hw_store_fail_bump(s, slot, so, false, &now);
	if (rv != CKR_OK)
		goto out;
	if (now > p->max_tries) {
		rv = CKR_PIN_LOCKED;
		goto out;
	}
	rv = hw_pin_unwrap(wrap, wrap_len, pin, pin_len, mk);
	if (rv != CKR_OK)
		goto out;
	if (hw_store_fail_bump(s, slot, so, true, NULL) != CKR_OK)
		hw_warn("slot \"%s\": could not reset the %s PIN failure counter", slot, so ? "SO" : "user");
out:
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
		hw_info("slot \"%s\": %s login refused (%s)", slot, so ? "SO" : "user", hw_rv_name(rv));
	return rv;
}

static bool hw_pin_len_ok(const hw_pin_policy *p, size_t len)
{
	return len >= p->min_len && len <= p->max_len;
}

CK_RV hw_pin_login(hw_store *s, const char *slot, const hw_pin_policy *pol, CK_USER_TYPE who,
		   const CK_UTF8CHAR *pin, size_t pin_len, hw_secret **mk)
{
	HW_RETURN_IF(s == NULL || slot == NULL || mk == NULL || (pin == NULL && pin_len > 0),
		     CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(who != CKU_USER && who != CKU_SO && who != CKU_CONTEXT_SPECIFIC,
		     CKR_USER_TYPE_INVALID);
	CK_RV rv;
	hw_pin_policy p = hw_pin_pol(pol);
	hw_token_rec rec;
	bool so = who == CKU_SO;
	*mk = NULL;
	rv = hw_store_token_get(s, slot, &rec);
	if (rv != CKR_OK)
		goto out;
	if (!rec.initialized)
		rv = CKR_TOKEN_NOT_RECOGNIZED;
	else if (!so && !rec.user_pin_set)
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	else
		rv = hw_pin_check(s, slot, &p, so, &rec, pin, pin_len, mk);
out:
	hw_wipe(&rec, sizeof(rec));
	return rv;
}

/* The 32 blank-padded bytes of C_InitToken as a C string. */
static void hw_pin_label(const CK_UTF8CHAR *label32, char out[33])
{
	size_t n = 0;
	while (n < 32 && label32[n] != '\0')
		n++;
	while (n > 0 && label32[n - 1] == ' ')
		n--;
	memcpy(out, label32, n);
	out[n] = '\0';
}

CK_RV hw_pin_init_token(hw_store *s, const char *slot, const hw_pin_policy *pol,
			const CK_UTF8CHAR *so_pin, size_t so_len, const CK_UTF8CHAR *label32)
{
	HW_RETURN_IF(s == NULL || slot == NULL || label32 == NULL || (so_pin == NULL && so_len > 0),
		     CKR_ARGUMENTS_BAD);
	CK_RV rv;
	OSSL_LIB_CTX *ctx;
	hw_pin_policy p = hw_pin_pol(pol);
	hw_token_rec rec, fresh;
	hw_secret *old = NULL, *mk = NULL;
	memset(&rec, 0, sizeof(rec));
	memset(&fresh, 0, sizeof(fresh));
	if (!hw_pin_len_ok(&p, so_len)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	rv = hw_pin_libctx(&ctx);
	if (rv == CKR_OK)
		rv = hw_store_token_get(s, slot, &rec);
	if (rv == CKR_OK && rec.initialized)
		rv = hw_pin_check(s, slot, &p, true, &rec, so_pin, so_len, &old);
	if (rv != CKR_OK)
		goto out;
	mk = hw_secret_new(HW_MK_LEN);
	if (mk == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = hw_pin_random(ctx, mk->data, HW_MK_LEN);
	if (rv != CKR_OK)
		goto out;
	hw_pin_label(label32, fresh.label);
	fresh.initialized = true;
	rv = hw_pin_wrap(mk, so_pin, so_len, fresh.so_wrap, &fresh.so_wrap_len);
	if (rv == CKR_OK)
		rv = hw_store_token_reset(s, slot, &fresh);
	if (rv == CKR_OK)
		hw_info("slot \"%s\": token initialized", slot);
out:
	hw_secret_free(old);
	hw_secret_free(mk);
	hw_wipe(&rec, sizeof(rec));
	hw_wipe(&fresh, sizeof(fresh));
	return rv;
}

/* Wrap mk under pin and store it as the SO or user wrap. */
static CK_RV hw_pin_rewrap(hw_store *s, const char *slot, bool so, const hw_secret *mk,
			   const CK_UTF8CHAR *pin, size_t pin_len)
{
	unsigned char wrap[256];
	size_t len = 0;
	CK_RV rv = hw_pin_wrap(mk, pin, pin_len, wrap, &len);
	if (rv == CKR_OK)
		rv = hw_store_token_set_wrap(s, slot, so, wrap, len);
	hw_wipe(wrap, sizeof(wrap));
	return rv;
}

CK_RV hw_pin_init_user(hw_store *s, const char *slot, const hw_pin_policy *pol,
		       const hw_secret *mk, const CK_UTF8CHAR *pin, size_t pin_len)
{
	HW_RETURN_IF(s == NULL || slot == NULL || mk == NULL || mk->len != HW_MK_LEN ||
		     (pin == NULL && pin_len > 0), CKR_ARGUMENTS_BAD);
	CK_RV rv;
	hw_pin_policy p = hw_pin_pol(pol);
	if (!hw_pin_len_ok(&p, pin_len))
		rv = CKR_PIN_LEN_RANGE;
	else
		rv = hw_pin_rewrap(s, slot, false, mk, pin, pin_len);
	return rv;
}

CK_RV hw_pin_set(hw_store *s, const char *slot, const hw_pin_policy *pol, CK_USER_TYPE who,
		 const CK_UTF8CHAR *old_pin, size_t old_len,
		 const CK_UTF8CHAR *new_pin, size_t new_len)
{
	HW_RETURN_IF(s == NULL || slot == NULL || (old_pin == NULL && old_len > 0) ||
		     (new_pin == NULL && new_len > 0), CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(who != CKU_USER && who != CKU_SO, CKR_USER_TYPE_INVALID);
	CK_RV rv;
	hw_pin_policy p = hw_pin_pol(pol);
	hw_token_rec rec;
	hw_secret *mk = NULL;
	bool so = who == CKU_SO;
	memset(&rec, 0, sizeof(rec));
	if (!hw_pin_len_ok(&p, new_len)) {
		rv = CKR_PIN_LEN_RANGE;
		goto out;
	}
	rv = hw_store_token_get(s, slot, &rec);
	if (rv != CKR_OK)
		goto out;
	if (!rec.initialized)
		rv = CKR_TOKEN_NOT_RECOGNIZED;
	else if (!so && !rec.user_pin_set)
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	else
		rv = hw_pin_check(s, slot, &p, so, &rec, old_pin, old_len, &mk);
	if (rv == CKR_OK)
		rv = hw_pin_rewrap(s, slot, so, mk, new_pin, new_len);
out:
	hw_secret_free(mk);
	hw_wipe(&rec, sizeof(rec));
	return rv;
}
