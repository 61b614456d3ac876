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
