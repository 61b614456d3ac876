/*
 * Key wrapping on the soft slot beyond AES key wrap of secret keys
 * (soft_secret.c): secret keys wrapped with RSA-OAEP under a public key
 * and unwrapped with its private key (M 2.1.8), and private keys unwrapped
 * from PKCS#8 under AES key wrap (RFC 5649 for any length), taken in like
 * an import: not CKA_LOCAL, never "always sensitive".
 */
#include "slots/soft_int.h"
#include "slots/secret_key.h"
#include "mechanisms/cipher.h"
#include "mechanisms/encode.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* A PKCS#8 key longer than this (RSA-4096 is about 2.4 KB) is not one. */
#define PKCS8_MAX 8192

static CK_RV said(soft_ctx *c, const char *what, CK_RV rv)
{
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_info("slot \"%s\": %s refused: %s", c->conf->name, what, hw_rv_name(rv));
	return rv;
}

/* One attribute of an object's current snapshot, copied to out (NULL and
 * 0 when absent or too long). */
static size_t obj_attr(hw_obj *o, CK_ATTRIBUTE_TYPE t, unsigned char *out, size_t cap)
{
	hw_snap *s = hw_obj_snap(o);
	const CK_ATTRIBUTE *a = hw_attrs_get(hw_snap_attrs(s), t);
	size_t n = a != NULL && a->ulValueLen <= cap ? a->ulValueLen : 0;
	if (n > 0)
		memcpy(out, a->pValue, n);
	hw_snap_put(s);
	return n;
}

static CK_ULONG obj_ulong(hw_obj *o, CK_ATTRIBUTE_TYPE t)
{
	CK_ULONG v = 0;
	return obj_attr(o, t, (unsigned char *)&v, sizeof(v)) == sizeof(v) ? v : CK_UNAVAILABLE_INFORMATION;
}

static bool obj_true(hw_obj *o, CK_ATTRIBUTE_TYPE t)
{
	CK_BBOOL v = CK_FALSE;
	return obj_attr(o, t, &v, 1) == 1 && v == CK_TRUE;
}

/* The RSA public key of a public-key object (modulus and exponent). */
static CK_RV rsa_public(hw_obj *o, EVP_PKEY **out)
{
	unsigned char n[HW_RSA_MAX_BITS / 8 + 1], e[16];
	size_t nl = obj_attr(o, CKA_MODULUS, n, sizeof(n)), el = obj_attr(o, CKA_PUBLIC_EXPONENT, e, sizeof(e));
	return hw_key_from_public(CKK_RSA, n, nl, e, el, out);
}

/* C_WrapKey with CKM_RSA_PKCS_OAEP: a secret key's value encrypted to an
 * RSA public key that may wrap. */
static CK_RV oaep_wrap(soft_ctx *c, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		       size_t *out_len)
{
	hw_crypt_req r = { .mech = CKM_RSA_PKCS_OAEP };
	EVP_PKEY *pub = NULL;
	soft_key *k;
	CK_RV rv;
	if (obj_ulong(wrapping, CKA_CLASS) != CKO_PUBLIC_KEY || obj_ulong(wrapping, CKA_KEY_TYPE) != CKK_RSA)
		return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
	if (!obj_true(wrapping, CKA_WRAP))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (obj_ulong(key, CKA_CLASS) != CKO_SECRET_KEY)
		return CKR_KEY_NOT_WRAPPABLE;
	if (!obj_true(key, CKA_EXTRACTABLE))
		return CKR_KEY_UNEXTRACTABLE;
	if (obj_true(key, CKA_WRAP_WITH_TRUSTED) && !obj_true(wrapping, CKA_TRUSTED))
		return CKR_KEY_NOT_WRAPPABLE;
	if ((rv = hw_oaep_params_parse(mech, &r.oaep)) != CKR_OK)
		return rv;
	if ((rv = hw_soft_key_open(c, key, &k)) != CKR_OK)
		return rv;
	if (k->value == NULL)
		return CKR_KEY_NOT_WRAPPABLE;
	if ((rv = rsa_public(wrapping, &pub)) != CKR_OK)
		return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
	size_t need = (size_t)EVP_PKEY_get_size(pub);
	if (out == NULL || *out_len < need) {
		rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*out_len = need;
	} else {
		r.data = k->value->data;
		r.len = k->value->len;
		/* a value too long for the modulus and hash */
		if ((rv = hw_pkey_encrypt(pub, &r, out, out_len)) == CKR_DATA_LEN_RANGE)
			rv = CKR_KEY_SIZE_RANGE;
	}
	EVP_PKEY_free(pub);
	return rv;
}

CK_RV hw_soft_wrap(void *vctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		   size_t *out_len)
{
	if (mech->mechanism != CKM_RSA_PKCS_OAEP)
		return hw_soft_wrap_key(vctx, mech, wrapping, key, out, out_len);
	return said(vctx, "RSA-OAEP key wrap", oaep_wrap(vctx, mech, wrapping, key, out, out_len));
}

/* The private key of this slot that unwraps (an RSA key with CKA_UNWRAP). */
static CK_RV rsa_unwrapping(soft_ctx *c, hw_obj *o, EVP_PKEY **pk)
{
	soft_key *k;
	CK_RV rv;
	if (obj_ulong(o, CKA_CLASS) != CKO_PRIVATE_KEY || obj_ulong(o, CKA_KEY_TYPE) != CKK_RSA)
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	if (!obj_true(o, CKA_UNWRAP))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if ((rv = hw_soft_key_open(c, o, &k)) != CKR_OK)
		return rv;
	*pk = k->pk;
	return k->pk != NULL ? CKR_OK : CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
}

static CK_RV oaep_unwrap(soft_ctx *c, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_crypt_req r = { .mech = CKM_RSA_PKCS_OAEP, .data = wrapped, .len = len };
	EVP_PKEY *pk = NULL;
	hw_secret *v = NULL;
	size_t n;
	CK_RV rv;
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
		return CKR_TEMPLATE_INCONSISTENT;     /* a private key does not fit in OAEP */
	if ((rv = hw_oaep_params_parse(mech, &r.oaep)) != CKR_OK || (rv = rsa_unwrapping(c, unwrapping, &pk)) != CKR_OK)
		return rv;
	if ((v = hw_secret_new((size_t)EVP_PKEY_get_size(pk))) == NULL)
		return CKR_HOST_MEMORY;
	n = v->len;
	rv = hw_pkey_decrypt(pk, &r, v->data, &n);
	/* the wrapped key's errors, not the ciphertext's */
	if (rv == CKR_ENCRYPTED_DATA_INVALID)
		rv = CKR_WRAPPED_KEY_INVALID;
	else if (rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
	v->len = n;
	if (rv == CKR_OK && (rv = hw_skey_unwrapped_check(attrs, v)) == CKR_OK)
		rv = hw_skey_check_value(attrs, v);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return hw_soft_keep_secret(c, token, attrs, v, oid, bdata);
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

/* A private key from PKCS#8 under AES key wrap: it must be of the type
 * the template names; it gets its public parts (and a CKA_ID from them
 * when the template gave none) as an imported key does. */
static CK_RV pkcs8_unwrap(soft_ctx *c, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			  size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_secret *kek = NULL, *der = NULL;
	EVP_PKEY *k = NULL;
	hw_attrs pub;
	size_t n = len;
	CK_RV rv;
	hw_attrs_init(&pub);
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (hw_attrs_get(attrs, CKA_KEY_TYPE) == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (len < 24 || len % 8 != 0 || len > PKCS8_MAX)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	if ((rv = hw_skey_kek(hw_soft_value_of, c, unwrapping, CKA_UNWRAP, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, &kek)) !=
	    CKR_OK)
		return rv;
	if ((der = hw_secret_new(len)) == NULL) {
		hw_secret_free(kek);
		return CKR_HOST_MEMORY;
	}
	hw_crypto_secure_heap();
	rv = hw_aes_wrap(mech->mechanism == CKM_AES_KEY_WRAP_PAD, true, kek->data, kek->len, wrapped, len, der->data,
			 &n);
	der->len = n;
	if (rv == CKR_OK && hw_key_from_der(der->data, der->len, &k) != CKR_OK)
		rv = CKR_WRAPPED_KEY_INVALID;
	if (rv == CKR_OK && hw_key_type(k) != hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION))
		rv = CKR_TEMPLATE_INCONSISTENT;
	if (rv == CKR_OK && (rv = hw_key_public_attrs(k, sink_set, &pub)) == CKR_OK &&
	    (rv = hw_keypair_complete(&pub, attrs)) == CKR_OK) {
		rv = hw_soft_keep_private(c, token, attrs, k, oid, bdata);
		k = NULL;
	}
	EVP_PKEY_free(k);
	hw_secret_free(der);
	hw_secret_free(kek);
	hw_attrs_clear(&pub);
	return rv;
}

CK_RV hw_soft_unwrap(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		     size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	if (mech->mechanism == CKM_RSA_PKCS_OAEP)
		return said(vctx, "RSA-OAEP key unwrap",
			    oaep_unwrap(vctx, mech, unwrapping, wrapped, len, token, attrs, oid, bdata));
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) == CKO_PRIVATE_KEY)
		return said(vctx, "PKCS#8 key unwrap",
			    pkcs8_unwrap(vctx, mech, unwrapping, wrapped, len, token, attrs, oid, bdata));
	return hw_soft_unwrap_key(vctx, mech, unwrapping, wrapped, len, token, attrs, oid, bdata);
}
