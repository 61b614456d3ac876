/*
 * Secret keys of the soft slot (AES, generic secret and HMAC keys): made
 * from the OS random generator or imported, their value held in locked
 * memory only and, for token keys, sealed in the store under the token's
 * master key like private keys (soft.c); the ciphers and MACs run in
 * software (mechanisms/cipher.h).
 */
#include "slots/soft_int.h"
#include "slots/secret_key.h"
#include "mechanisms/ecdh.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* A new key's value (taken): its attributes completed, sealed in the store
 * when it is a token key, and kept as the object's data. */
static CK_RV keep(void *vctx, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata);

CK_RV hw_soft_keep_secret(soft_ctx *c, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata)
{
	return keep(c, token, attrs, value, oid, bdata);
}

static CK_RV keep(void *vctx, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata)
{
	soft_ctx *c = vctx;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	soft_key *k = NULL;
	CK_RV rv;
	if ((rv = hw_vendor_attrs(attrs, "soft", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK)
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
	return hw_skey_generate(keep, vctx, mech, token, attrs, oid, bdata);
}

CK_RV hw_soft_import_key(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	return hw_skey_import(keep, vctx, token, attrs, oid, bdata);
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

/* ---- AES key wrap of secret keys (slots/secret_key.c) ------------------------------ */

/* A key's value for the key wrap: a copy of the unsealed value. */
CK_RV hw_soft_value_of(void *vctx, hw_obj *o, hw_secret **v)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, o, &k);
	*v = NULL;
	if (rv == CKR_OK && k->value != NULL && (*v = hw_secret_dup(k->value->data, k->value->len)) == NULL)
		rv = CKR_HOST_MEMORY;
	return rv;
}

CK_RV hw_soft_wrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		       size_t *out_len)
{
	soft_ctx *c = vctx;
	return hw_skey_wrap(c->conf->name, hw_soft_value_of, c, mech, wrapping, key, out, out_len);
}

CK_RV hw_soft_unwrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	soft_ctx *c = vctx;
	return hw_skey_unwrap(c->conf->name, hw_soft_value_of, keep, c, mech, unwrapping, wrapped, len, token, attrs, oid,
			      bdata);
}

/* ---- ECDH, C_DigestKey and readable values ------------------------------------------ */
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
	if (rv == CKR_OK)
		rv = hw_skey_check_value(attrs, v);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return keep(vctx, token, attrs, v, oid, bdata);
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
	CK_RV rv = hw_soft_value_of(vctx, key, out);
	return rv == CKR_OK && *out == NULL ? CKR_ATTRIBUTE_SENSITIVE : rv;
}
