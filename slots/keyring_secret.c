/*
 * Secret keys of the keyring slot (AES, generic secret and HMAC keys):
 * made here from the OS random generator, imported or unwrapped. A token
 * key's value goes into its item's secret where a private key's PKCS#8
 * goes (keyring_item.c), so the Secret Service keeps it as it keeps the
 * private keys: never in the item's searchable attributes or label, on
 * disk only encrypted under the collection's password. In this process
 * the value lives in locked memory only: read from the item for each
 * operation and wiped after it, or kept for the login session with
 * "cache_keys"; a session key's value is its only copy. What is the same
 * for every slot (new values, CKA_CHECK_VALUE, the operation stream, the
 * key wrap and its checks) is slots/secret_key.c's.
 */
#include "slots/keyring_int.h"
#include "slots/secret_key.h"
#include "mechanisms/ecdh.h"
#include "common/log.h"

#include <stdlib.h>

/* A new key's value (taken): its attributes completed, written to a new
 * item when it is a token key, kept in memory when it is a session key
 * or the slot caches keys. */
static CK_RV keep(void *vctx, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata)
{
	hw_kr_ctx *c = vctx;
	hw_kr_link l;
	hw_kr_key *k = NULL;
	char *path = NULL;
	CK_RV rv;
	*bdata = NULL;
	if ((rv = hw_vendor_attrs(attrs, "keyring", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK)
		goto out;
	if (token) {
		if ((rv = hw_kr_link_get(c, &l)) != CKR_OK)
			goto out;
		rv = hw_kr_item_write(c, &l, attrs, value, &path, oid);
		hw_kr_link_put(&l);
		if (rv != CKR_OK)
			goto out;
	}
	pthread_mutex_lock(&c->lock);
	if ((!token || (c->cache_keys && c->user)) && (k = hw_kr_key_new_inlock(c, NULL, !token)) != NULL) {
		k->value = value;
		value = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	/* a token key that could not be cached is read again when used */
	if (k == NULL && !token)
		rv = CKR_HOST_MEMORY;
	*bdata = k;
out:
	if (rv != CKR_OK)
		hw_warn("slot \"%s\" (keyring): secret key not kept: %s", c->conf->name, hw_rv_name(rv));
	hw_secret_free(value);
	free(path);
	return rv;
}

CK_RV hw_kr_generate_key(void *vctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			 void **bdata)
{
	return hw_skey_generate(keep, vctx, mech, token, attrs, oid, bdata);
}

CK_RV hw_kr_import_key(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	return hw_skey_import(keep, vctx, token, attrs, oid, bdata);
}

static bool is_secret_key(hw_obj *key)
{
	hw_snap *s = hw_obj_snap(key);
	bool yes = hw_attrs_get_ulong(hw_snap_attrs(s), CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY;
	hw_snap_put(s);
	return yes;
}

/* A secret key's value, a copy for the caller (hw_skey_value_fn): the one
 * in memory, or read from the key's item now (and cached when
 * configured). *out NULL: key is not a secret key. */
static CK_RV value_of(void *vctx, hw_obj *key, hw_secret **out)
{
	hw_kr_ctx *c = vctx;
	uint64_t epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
	hw_secret *v = NULL;
	CK_RV rv = CKR_OK;
	bool in_memory = false;
	*out = NULL;
	if (!is_secret_key(key))
		return CKR_OK;
	pthread_mutex_lock(&c->lock);
	hw_kr_key *k = key->bdata;
	if (!c->user) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if (k != NULL && k->value != NULL) {
		in_memory = true;
		if ((*out = hw_secret_dup(k->value->data, k->value->len)) == NULL)
			rv = CKR_HOST_MEMORY;
	}
	pthread_mutex_unlock(&c->lock);
	/* a session key without a value in memory is not ours to read */
	if (rv != CKR_OK || in_memory || key->oid == 0)
		return rv;
	if ((rv = hw_kr_key_bytes(c, key, epoch, &v)) != CKR_OK)
		return rv;
	if (c->cache_keys) {
		pthread_mutex_lock(&c->lock);
		k = key->bdata;
		if (k == NULL && c->user && (k = hw_kr_key_new_inlock(c, NULL, false)) != NULL)
			key->bdata = k;
		if (k != NULL && k->value == NULL && c->user)
			k->value = hw_secret_dup(v->data, v->len);   /* none cached if out of memory */
		pthread_mutex_unlock(&c->lock);
	}
	*out = v;
	return CKR_OK;
}

CK_RV hw_kr_sk_begin(void *vctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	hw_kr_ctx *c = vctx;
	hw_secret *v;
	CK_RV rv = CKR_OK;
	bool begun = false;
	/* a value in memory is used where it is: a copy in locked memory
	 * costs more than the whole operation on a short message */
	pthread_mutex_lock(&c->lock);
	hw_kr_key *k = key->bdata;
	if (c->user && k != NULL && k->value != NULL) {
		rv = hw_sk_new(mech, kind, k->value->data, k->value->len, (hw_sk **)op);
		begun = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (begun)
		return rv;
	rv = value_of(vctx, key, &v);
	if (rv == CKR_OK && v == NULL)
		rv = CKR_KEY_TYPE_INCONSISTENT;
	if (rv == CKR_OK)
		rv = hw_sk_new(mech, kind, v->data, v->len, (hw_sk **)op);
	hw_secret_free(v);
	return rv;
}

CK_RV hw_kr_wrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		     size_t *out_len)
{
	hw_kr_ctx *c = vctx;
	return hw_skey_wrap(c->conf->name, value_of, c, mech, wrapping, key, out, out_len);
}

CK_RV hw_kr_unwrap_key(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		       size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_kr_ctx *c = vctx;
	return hw_skey_unwrap(c->conf->name, value_of, keep, c, mech, unwrapping, wrapped, len, token, attrs, oid,
			      bdata);
}

/* ---- ECDH, C_DigestKey and readable values ------------------------------------------ */
CK_RV hw_kr_derive_key(void *vctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs, int64_t *oid,
		       void **bdata)
{
	CK_ECDH1_DERIVE_PARAMS p;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *pc = NULL;
	hw_secret *v = NULL;
	CK_RV rv = hw_ecdh_params_parse(mech, &p);
	if (rv != CKR_OK || (rv = hw_kr_private_key(vctx, base, &pk, &pc)) != CKR_OK)
		return rv;
	rv = hw_ecdh_derive(pk, &p, hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0), &v);
	hw_kr_context_back(vctx, base, pk, pc);
	EVP_PKEY_free(pk);
	if (rv == CKR_OK && (rv = hw_attrs_set_ulong(attrs, CKA_VALUE_LEN, v->len)) == CKR_OK)
		rv = hw_skey_check_value(attrs, v);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return keep(vctx, token, attrs, v, oid, bdata);
}

CK_RV hw_kr_digest_key(void *vctx, hw_obj *key, hw_digest *d)
{
	hw_secret *v = NULL;
	CK_RV rv = value_of(vctx, key, &v);
	if (rv == CKR_OK)
		rv = v != NULL ? hw_digest_update(d, v->data, v->len) : CKR_KEY_INDIGESTIBLE;
	hw_secret_free(v);
	return rv;
}

CK_RV hw_kr_key_value(void *vctx, hw_obj *key, hw_secret **out)
{
	CK_RV rv = value_of(vctx, key, out);
	return rv == CKR_OK && *out == NULL ? CKR_ATTRIBUTE_SENSITIVE : rv;
}
