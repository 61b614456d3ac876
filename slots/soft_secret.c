/*
 * Secret keys of the soft slot (AES, generic secret and HMAC keys): made
 * from the OS random generator or imported, their value held in locked
 * memory only and, for token keys, sealed in the store under the token's
 * master key like private keys (soft.c); the ciphers and MACs run in
 * software (mechanisms/cipher.h).
 */
#include "slots/soft_int.h"
#include "mechanisms/cipher.h"
#include "mechanisms/ecdh.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* CKA_CHECK_VALUE (M "AES", "Generic secret key"): AES, the first 3 bytes
 * of a zero block encrypted; others, of the value's SHA-1. */
static CK_RV check_value(hw_attrs *attrs, const hw_secret *v)
{
	unsigned char cv[64];
	size_t n = sizeof(cv);
	CK_RV rv = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET) == CKK_AES
		? hw_aes_check_value(v->data, v->len, cv)
		: hw_digest_once(CKM_SHA_1, v->data, v->len, cv, &n);
	if (rv == CKR_OK)
		rv = hw_attrs_set(attrs, CKA_CHECK_VALUE, cv, 3);
	hw_wipe(cv, sizeof(cv));
	return rv;
}

/* A new key's value (taken): its attributes completed, sealed in the store
 * when it is a token key, and kept as the object's data. */
CK_RV hw_soft_keep_secret(soft_ctx *c, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata)
{
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	soft_key *k = NULL;
	CK_RV rv;
	if ((rv = check_value(attrs, value)) != CKR_OK ||
	    (rv = hw_vendor_attrs(attrs, "soft", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK)
		goto out;
	if (token) {
		hw_attrs *one[1] = { attrs };
		if ((rv = hw_soft_seal(c, attrs, value, &sealed, &sealed_len)) != CKR_OK ||
		    (rv = hw_soft_insert(c, one, sealed, sealed_len, 1, oid)) != CKR_OK)
			goto out;
	}
	if ((k = hw_soft_key_new(NULL)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	k->value = value;
	value = NULL;
	*bdata = k;
out:
	if (rv != CKR_OK)
		hw_warn("slot \"%s\": secret key not kept: %s", c->conf->name, hw_rv_name(rv));
	hw_secret_free(value);
	free(sealed);
	return rv;
}

CK_RV hw_soft_generate_key(void *vctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			   void **bdata)
{
	CK_ULONG len = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	hw_secret *v;
	CK_RV rv;
	/* the engine checked the table's range; AES has three sizes in it */
	if (mech->mechanism == CKM_AES_KEY_GEN && len != 16 && len != 24 && len != 32)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (len == 0 || (v = hw_secret_new(len)) == NULL)
		return len == 0 ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_HOST_MEMORY;
	if ((rv = hw_random(v->data, len)) != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return hw_soft_keep_secret(vctx, token, attrs, v, oid, bdata);
}

CK_RV hw_soft_import_key(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	const CK_ATTRIBUTE *a = hw_attrs_get(attrs, CKA_VALUE);
	hw_secret *v;
	if (a == NULL || a->ulValueLen == 0)
		return CKR_TEMPLATE_INCOMPLETE;
	v = hw_secret_dup(a->pValue, a->ulValueLen);
	/* the value lives in locked memory only (the removal wipes it) */
	hw_attrs_remove(attrs, CKA_VALUE);
	if (v == NULL)
		return CKR_HOST_MEMORY;
	return hw_soft_keep_secret(vctx, token, attrs, v, oid, bdata);
}

CK_RV hw_soft_sk_begin(void *vctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	if (rv != CKR_OK)
		return rv;
	if (k->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	return hw_sk_new(mech, kind, k->value->data, k->value->len, (hw_sk **)op);
}

CK_RV hw_soft_sk_update(void *vctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			size_t *out_len)
{
	return hw_sk_update(op, in, len, out, out_len);
}

CK_RV hw_soft_sk_final(void *vctx, void *op, bool single, const unsigned char *in, size_t len,
		       const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	size_t n = 0, m = 0;
	CK_RV rv = CKR_OK;
	if (len > 0 && (rv = hw_sk_update(op, in, len, out, &n)) != CKR_OK)
		return rv;
	rv = hw_sk_final(op, sig, sig_len, out != NULL ? out + n : NULL, &m);
	if (rv == CKR_OK && out_len != NULL)
		*out_len = n + m;
	return rv;
}

void hw_soft_sk_end(void *vctx, void *op)
{
	hw_sk_free(op);
}

/* ---- AES key wrap of secret keys (RFC 3394 / 5649, default IV) ---------------------- */

static CK_ULONG obj_ulong(hw_obj *o, CK_ATTRIBUTE_TYPE t, CK_ULONG dflt)
{
	hw_snap *s = hw_obj_snap(o);
	CK_ULONG v = hw_attrs_get_ulong(hw_snap_attrs(s), t, dflt);
	hw_snap_put(s);
	return v;
}

static bool obj_bool(hw_obj *o, CK_ATTRIBUTE_TYPE t)
{
	hw_snap *s = hw_obj_snap(o);
	bool v = hw_attrs_get_bool(hw_snap_attrs(s), t, false);
	hw_snap_put(s);
	return v;
}

/* A wrapping or unwrapping key: an AES key of this slot allowed to
 * (B 5.18.6-7: CKA_WRAP, CKA_UNWRAP); its value. */
CK_RV hw_soft_kek_value(soft_ctx *c, hw_obj *o, CK_ATTRIBUTE_TYPE usage, CK_RV wrong_type, const hw_secret **v)
{
	soft_key *k;
	CK_RV rv;
	if (obj_ulong(o, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY || obj_ulong(o, CKA_KEY_TYPE, 0) != CKK_AES)
		return wrong_type;
	if (!obj_bool(o, usage))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if ((rv = hw_soft_key_open(c, o, &k)) != CKR_OK)
		return rv;
	*v = k->value;
	return k->value != NULL ? CKR_OK : wrong_type;
}

static CK_RV wrap_said(soft_ctx *c, const char *what, CK_RV rv)
{
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_info("slot \"%s\": %s refused: %s", c->conf->name, what, hw_rv_name(rv));
	return rv;
}

CK_RV hw_soft_wrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		       size_t *out_len)
{
	soft_ctx *c = vctx;
	bool pad = mech->mechanism == CKM_AES_KEY_WRAP_PAD;
	const hw_secret *kek, *v;
	soft_key *k;
	size_t need;
	CK_RV rv;
	/* only the default initial value of RFC 3394 / 5649 */
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return wrap_said(c, "key wrap", CKR_MECHANISM_PARAM_INVALID);
	if ((rv = hw_soft_kek_value(c, wrapping, CKA_WRAP, CKR_WRAPPING_KEY_TYPE_INCONSISTENT, &kek)) != CKR_OK)
		return wrap_said(c, "key wrap", rv);
	/* secret keys only; an unextractable one never leaves, and one that
	 * asks for a trusted wrapping key gets one (B 4.9 CKA_WRAP_WITH_TRUSTED) */
	if (obj_ulong(key, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
		return wrap_said(c, "key wrap", CKR_KEY_NOT_WRAPPABLE);
	if (!obj_bool(key, CKA_EXTRACTABLE))
		return wrap_said(c, "key wrap", CKR_KEY_UNEXTRACTABLE);
	if (obj_bool(key, CKA_WRAP_WITH_TRUSTED) && !obj_bool(wrapping, CKA_TRUSTED))
		return wrap_said(c, "key wrap", CKR_KEY_NOT_WRAPPABLE);
	if ((rv = hw_soft_key_open(c, key, &k)) != CKR_OK)
		return wrap_said(c, "key wrap", rv);
	if ((v = k->value) == NULL)
		return wrap_said(c, "key wrap", CKR_KEY_NOT_WRAPPABLE);
	/* RFC 3394 takes whole 64-bit blocks, at least two */
	if (!pad && (v->len % 8 != 0 || v->len < 16))
		return wrap_said(c, "key wrap", CKR_KEY_SIZE_RANGE);
	need = pad ? (v->len + 7) / 8 * 8 + 8 : v->len + 8;
	if (out == NULL || *out_len < need) {
		rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*out_len = need;
		return rv;
	}
	return wrap_said(c, "key wrap", hw_aes_wrap(pad, false, kek->data, kek->len, v->data, v->len, out, out_len));
}

static bool secret_type(CK_ULONG kt)
{
	return kt == CKK_AES || kt == CKK_GENERIC_SECRET || kt == CKK_SHA_1_HMAC || kt == CKK_SHA224_HMAC ||
	       kt == CKK_SHA256_HMAC || kt == CKK_SHA384_HMAC || kt == CKK_SHA512_HMAC;
}

/* What came out of an unwrap must be a key of the type the template
 * names, of the length it gives if it gives one. */
CK_RV hw_soft_unwrapped_check(hw_attrs *attrs, const hw_secret *v)
{
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	CK_ULONG want = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	if (kt == CK_UNAVAILABLE_INFORMATION)
		return CKR_TEMPLATE_INCOMPLETE;
	if (!secret_type(kt))
		return CKR_TEMPLATE_INCONSISTENT;
	if (v->len == 0 || v->len > HW_SECRET_MAX || (kt == CKK_AES && v->len != 16 && v->len != 24 && v->len != 32))
		return CKR_WRAPPED_KEY_INVALID;
	if (want != 0 && want != v->len)
		return CKR_TEMPLATE_INCONSISTENT;
	return hw_attrs_set_ulong(attrs, CKA_VALUE_LEN, v->len);
}

CK_RV hw_soft_unwrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	soft_ctx *c = vctx;
	bool pad = mech->mechanism == CKM_AES_KEY_WRAP_PAD;
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	const hw_secret *kek;
	hw_secret *v = NULL;
	size_t n;
	CK_RV rv;
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return wrap_said(c, "key unwrap", CKR_MECHANISM_PARAM_INVALID);
	if (kt == CK_UNAVAILABLE_INFORMATION)
		return wrap_said(c, "key unwrap", CKR_TEMPLATE_INCOMPLETE);
	if (!secret_type(kt))
		return wrap_said(c, "key unwrap", CKR_TEMPLATE_INCONSISTENT);
	if ((rv = hw_soft_kek_value(c, unwrapping, CKA_UNWRAP, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, &kek)) != CKR_OK)
		return wrap_said(c, "key unwrap", rv);
	if (len < 16 || len % 8 != 0 || len > HW_SECRET_MAX + 16)
		return wrap_said(c, "key unwrap", CKR_WRAPPED_KEY_LEN_RANGE);
	if ((v = hw_secret_new(len)) == NULL)
		return CKR_HOST_MEMORY;
	n = len;
	rv = hw_aes_wrap(pad, true, kek->data, kek->len, wrapped, len, v->data, &n);
	v->len = n;
	if (rv == CKR_OK)
		rv = hw_soft_unwrapped_check(attrs, v);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return wrap_said(c, "key unwrap", rv);
	}
	return hw_soft_keep_secret(c, token, attrs, v, oid, bdata);
}

/* ---- ECDH and C_DigestKey --------------------------------------------------------------- */
CK_RV hw_soft_derive_key(void *vctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs,
			 int64_t *oid, void **bdata)
{
	CK_ECDH1_DERIVE_PARAMS p;
	soft_key *k = NULL;
	hw_secret *v = NULL;
	CK_RV rv = hw_ecdh_params_parse(mech, &p);
	if (rv == CKR_OK)
		rv = hw_soft_key_open(vctx, base, &k);
	if (rv == CKR_OK && k->pk == NULL)
		rv = CKR_KEY_TYPE_INCONSISTENT;
	if (rv == CKR_OK)
		rv = hw_ecdh_derive(k->pk, &p, hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0), &v);
	if (rv == CKR_OK)
		rv = hw_attrs_set_ulong(attrs, CKA_VALUE_LEN, v->len);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return hw_soft_keep_secret(vctx, token, attrs, v, oid, bdata);
}

CK_RV hw_soft_digest_key(void *vctx, hw_obj *key, hw_digest *d)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	if (rv != CKR_OK)
		return rv;
	return k->value != NULL ? hw_digest_update(d, k->value->data, k->value->len) : CKR_KEY_INDIGESTIBLE;
}

CK_RV hw_soft_key_value(void *vctx, hw_obj *key, hw_secret **out)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	if (rv != CKR_OK)
		return rv;
	if (k->value == NULL)
		return CKR_ATTRIBUTE_SENSITIVE;
	return (*out = hw_secret_dup(k->value->data, k->value->len)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
}
