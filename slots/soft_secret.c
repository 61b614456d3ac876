/*
 * Secret keys of the soft slot (AES, generic secret and HMAC keys): made
 * from the OS random generator or imported, their value held in locked
 * memory only and, for token keys, sealed in the store under the token's
 * master key like private keys (soft.c); the ciphers and MACs run in
 * software (mechanisms/cipher.h).
 */
#include "slots/soft_int.h"
#include "mechanisms/cipher.h"
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
static CK_RV keep(soft_ctx *c, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata)
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
	return keep(vctx, token, attrs, v, oid, bdata);
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
	return keep(vctx, token, attrs, v, oid, bdata);
}

/* An operation: its context and where it goes back to. Each place of a key
 * keeps the context of its last operation, taken for the next one (an
 * atomic exchange: never two operations on one context), so a message's
 * cost is OpenSSL's own and not the setup (fetch, context, key schedule).
 * The contexts go with the key (soft.c: soft_free_bdata). */
struct soft_sk {
	soft_key *k;
	unsigned place;
	hw_sk *c;
};

void hw_soft_sk_free(soft_sk *o)
{
	if (o == NULL)
		return;
	hw_sk_free(o->c);
	free(o);
}

CK_RV hw_soft_sk_begin(void *vctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	soft_key *k;
	soft_sk *o;
	unsigned i;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	if (rv != CKR_OK)
		return rv;
	if (k->value == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	i = hw_soft_place();
	o = __atomic_exchange_n(&k->place[i].sk, NULL, __ATOMIC_ACQ_REL);
	if (o != NULL && (rv = hw_sk_restart(o->c, mech, kind)) == CKR_OK) {
		*op = o;
		return CKR_OK;
	}
	/* none kept, or one for another mode: a new one */
	hw_soft_sk_free(o);
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return CKR_HOST_MEMORY;
	o->k = k;
	o->place = i;
	if ((rv = hw_sk_new(mech, kind, k->value->data, k->value->len, &o->c)) != CKR_OK) {
		free(o);
		return rv;
	}
	*op = o;
	return CKR_OK;
}

CK_RV hw_soft_sk_update(void *vctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			size_t *out_len)
{
	return hw_sk_update(((soft_sk *)op)->c, in, len, out, out_len);
}

CK_RV hw_soft_sk_final(void *vctx, void *op, bool single, const unsigned char *in, size_t len,
		       const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	return hw_sk_last(((soft_sk *)op)->c, in, len, sig, sig_len, out, out_len);
}

void hw_soft_sk_end(void *vctx, void *op)
{
	soft_sk *o = op;
	/* kept for this place's next operation; what another operation of the
	 * place left there meanwhile is freed */
	hw_soft_sk_free(__atomic_exchange_n(&o->k->place[o->place].sk, o, __ATOMIC_ACQ_REL));
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
static CK_RV kek_value(soft_ctx *c, hw_obj *o, CK_ATTRIBUTE_TYPE usage, CK_RV wrong_type, const hw_secret **v)
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
	if ((rv = kek_value(c, wrapping, CKA_WRAP, CKR_WRAPPING_KEY_TYPE_INCONSISTENT, &kek)) != CKR_OK)
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

CK_RV hw_soft_unwrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	soft_ctx *c = vctx;
	bool pad = mech->mechanism == CKM_AES_KEY_WRAP_PAD;
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	CK_ULONG want = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	const hw_secret *kek;
	hw_secret *v = NULL;
	size_t n;
	CK_RV rv;
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return wrap_said(c, "key unwrap", CKR_MECHANISM_PARAM_INVALID);
	/* private keys (PKCS#8 under AES key wrap) are not taken in: README */
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
		return wrap_said(c, "key unwrap of a private key", CKR_FUNCTION_NOT_SUPPORTED);
	if (kt == CK_UNAVAILABLE_INFORMATION)
		return wrap_said(c, "key unwrap", CKR_TEMPLATE_INCOMPLETE);
	if (kt != CKK_AES && kt != CKK_GENERIC_SECRET && kt != CKK_SHA_1_HMAC && kt != CKK_SHA224_HMAC &&
	    kt != CKK_SHA256_HMAC && kt != CKK_SHA384_HMAC && kt != CKK_SHA512_HMAC)
		return wrap_said(c, "key unwrap", CKR_TEMPLATE_INCONSISTENT);
	if ((rv = kek_value(c, unwrapping, CKA_UNWRAP, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, &kek)) != CKR_OK)
		return wrap_said(c, "key unwrap", rv);
	if (len < 16 || len % 8 != 0 || len > HW_SECRET_MAX + 16)
		return wrap_said(c, "key unwrap", CKR_WRAPPED_KEY_LEN_RANGE);
	if ((v = hw_secret_new(len)) == NULL)
		return CKR_HOST_MEMORY;
	n = len;
	rv = hw_aes_wrap(pad, true, kek->data, kek->len, wrapped, len, v->data, &n);
	v->len = n;
	/* what came out must be a key of the type the template names */
	if (rv == CKR_OK && (n == 0 || (kt == CKK_AES && n != 16 && n != 24 && n != 32)))
		rv = CKR_WRAPPED_KEY_INVALID;
	if (rv == CKR_OK && want != 0 && want != n)
		rv = CKR_TEMPLATE_INCONSISTENT;
	if (rv == CKR_OK)
		rv = hw_attrs_set_ulong(attrs, CKA_VALUE_LEN, n);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return wrap_said(c, "key unwrap", rv);
	}
	return keep(c, token, attrs, v, oid, bdata);
}
