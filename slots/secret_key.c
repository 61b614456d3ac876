/*
 * Secret keys held in software, the backend-independent part
 * (slots/secret_key.h): new values, CKA_CHECK_VALUE, the operation stream
 * and AES key wrap with the token's checks.
 */
#include "slots/secret_key.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* CKA_CHECK_VALUE (M "AES", "Generic secret key"): AES, the first 3 bytes
 * of a zero block encrypted; others, of the value's SHA-1. */
CK_RV hw_skey_check_value(hw_attrs *attrs, const hw_secret *v)
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

/* A new value v (taken) to the backend, with its check value. */
static CK_RV kept(hw_skey_keep_fn keep, void *ctx, bool token, hw_attrs *attrs, hw_secret *v, int64_t *oid,
		  void **bdata)
{
	CK_RV rv = hw_skey_check_value(attrs, v);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return keep(ctx, token, attrs, v, oid, bdata);
}

CK_RV hw_skey_generate(hw_skey_keep_fn keep, void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs,
		       int64_t *oid, void **bdata)
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
	return kept(keep, ctx, token, attrs, v, oid, bdata);
}

CK_RV hw_skey_import(hw_skey_keep_fn keep, void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
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
	return kept(keep, ctx, token, attrs, v, oid, bdata);
}

/* ---- the operation stream ---------------------------------------------------------- */
CK_RV hw_skey_sk_update(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			size_t *out_len)
{
	return hw_sk_update(op, in, len, out, out_len);
}

CK_RV hw_skey_sk_final(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
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

void hw_skey_sk_end(void *ctx, void *op)
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

CK_RV hw_skey_kek(hw_skey_value_fn value, void *ctx, hw_obj *o, CK_ATTRIBUTE_TYPE usage, CK_RV wrong_type,
		  hw_secret **v)
{
	CK_RV rv;
	*v = NULL;
	if (obj_ulong(o, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY || obj_ulong(o, CKA_KEY_TYPE, 0) != CKK_AES)
		return wrong_type;
	if (!obj_bool(o, usage))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if ((rv = value(ctx, o, v)) != CKR_OK)
		return rv;
	return *v != NULL ? CKR_OK : wrong_type;
}

static CK_RV wrap_said(const char *slot, const char *what, CK_RV rv)
{
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_info("slot \"%s\": %s refused: %s", slot, what, hw_rv_name(rv));
	return rv;
}

/* The wrap itself, both values at hand. */
static CK_RV wrap_value(bool pad, const hw_secret *kek, const hw_secret *v, unsigned char *out, size_t *out_len)
{
	size_t need;
	CK_RV rv;
	/* RFC 3394 takes whole 64-bit blocks, at least two */
	if (!pad && (v->len % 8 != 0 || v->len < 16))
		return CKR_KEY_SIZE_RANGE;
	need = pad ? (v->len + 7) / 8 * 8 + 8 : v->len + 8;
	if (out == NULL || *out_len < need) {
		rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
		*out_len = need;
		return rv;
	}
	return hw_aes_wrap(pad, false, kek->data, kek->len, v->data, v->len, out, out_len);
}

static bool aes_wrap(const CK_MECHANISM *mech)
{
	return mech->mechanism == CKM_AES_KEY_WRAP || mech->mechanism == CKM_AES_KEY_WRAP_PAD;
}

CK_RV hw_skey_wrap(const char *slot, hw_skey_value_fn value, void *ctx, const CK_MECHANISM *mech,
		   hw_obj *wrapping, hw_obj *key, unsigned char *out, size_t *out_len)
{
	hw_secret *kek = NULL, *v = NULL;
	CK_RV rv;
	/* AES key wrap only (RSA-OAEP is the backend's, if any), and only the
	 * default initial value of RFC 3394 / 5649 */
	if (!aes_wrap(mech)) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
		rv = CKR_MECHANISM_PARAM_INVALID;
		goto out;
	}
	if ((rv = hw_skey_kek(value, ctx, wrapping, CKA_WRAP, CKR_WRAPPING_KEY_TYPE_INCONSISTENT, &kek)) != CKR_OK)
		goto out;
	/* secret keys only; an unextractable one never leaves, and one that
	 * asks for a trusted wrapping key gets one (B 4.9 CKA_WRAP_WITH_TRUSTED) */
	if (obj_ulong(key, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
		rv = CKR_KEY_NOT_WRAPPABLE;
	else if (!obj_bool(key, CKA_EXTRACTABLE))
		rv = CKR_KEY_UNEXTRACTABLE;
	else if (obj_bool(key, CKA_WRAP_WITH_TRUSTED) && !obj_bool(wrapping, CKA_TRUSTED))
		rv = CKR_KEY_NOT_WRAPPABLE;
	else if ((rv = value(ctx, key, &v)) == CKR_OK)
		rv = v == NULL ? CKR_KEY_NOT_WRAPPABLE
			       : wrap_value(mech->mechanism == CKM_AES_KEY_WRAP_PAD, kek, v, out, out_len);
out:
	hw_secret_free(kek);
	hw_secret_free(v);
	return wrap_said(slot, "key wrap", rv);
}

static bool secret_type(CK_ULONG kt)
{
	return kt == CKK_AES || kt == CKK_GENERIC_SECRET || kt == CKK_SHA_1_HMAC || kt == CKK_SHA224_HMAC ||
	       kt == CKK_SHA256_HMAC || kt == CKK_SHA384_HMAC || kt == CKK_SHA512_HMAC;
}

CK_RV hw_skey_unwrapped_check(hw_attrs *attrs, const hw_secret *v)
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

CK_RV hw_skey_unwrap(const char *slot, hw_skey_value_fn value, hw_skey_keep_fn keep, void *ctx,
		     const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped, size_t len,
		     bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	bool pad = mech->mechanism == CKM_AES_KEY_WRAP_PAD;
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	hw_secret *kek = NULL, *v = NULL;
	size_t n;
	CK_RV rv;
	if (!aes_wrap(mech))
		return wrap_said(slot, "key unwrap", CKR_MECHANISM_INVALID);
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return wrap_said(slot, "key unwrap", CKR_MECHANISM_PARAM_INVALID);
	/* private keys (PKCS#8 under AES key wrap): the backend's, if any */
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
		return wrap_said(slot, "key unwrap of a private key", CKR_FUNCTION_NOT_SUPPORTED);
	if (kt == CK_UNAVAILABLE_INFORMATION)
		return wrap_said(slot, "key unwrap", CKR_TEMPLATE_INCOMPLETE);
	if (!secret_type(kt))
		return wrap_said(slot, "key unwrap", CKR_TEMPLATE_INCONSISTENT);
	if ((rv = hw_skey_kek(value, ctx, unwrapping, CKA_UNWRAP, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, &kek)) !=
	    CKR_OK)
		goto out;
	if (len < 16 || len % 8 != 0 || len > HW_SECRET_MAX + 16) {
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
		goto out;
	}
	if ((v = hw_secret_new(len)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	n = len;
	rv = hw_aes_wrap(pad, true, kek->data, kek->len, wrapped, len, v->data, &n);
	v->len = n;
	if (rv == CKR_OK)
		rv = hw_skey_unwrapped_check(attrs, v);
out:
	hw_secret_free(kek);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return wrap_said(slot, "key unwrap", rv);
	}
	return kept(keep, ctx, token, attrs, v, oid, bdata);
}

/* ---- what the software implementation performs -------------------------------------- */
static const CK_MECHANISM_TYPE software_mechs[] = {
	CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD,
	CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM,
	CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC,
	CKM_SHA_1_HMAC_GENERAL, CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC_GENERAL, CKM_SHA384_HMAC_GENERAL,
	CKM_SHA512_HMAC_GENERAL,
};

bool hw_skey_has_mechanism(CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	for (size_t i = 0; i < sizeof(software_mechs) / sizeof(software_mechs[0]); i++) {
		if (software_mechs[i] != base)
			continue;
		/* the engine keeps of these what the mechanism table gives it */
		if (info != NULL)
			info->flags = CKF_GENERATE | CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | CKF_WRAP |
				      CKF_UNWRAP;
		return true;
	}
	return false;
}
