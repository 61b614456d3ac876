/*
 * Envelope encryption on a cloud slot (cloud_slot.h): session AES data
 * keys made here from the OS random generator, their value held only in
 * locked, non-dumpable memory (hw_secret) and used with the software AES
 * ciphers (mechanisms/cipher.h), and C_WrapKey / C_UnwrapKey of them by a
 * key-encryption key the service holds (CKM_HWAGG_KMS_WRAP, common/hwagg.h):
 * the service encrypts the value and decrypts it back, so the data key
 * leaves this process only as the service's ciphertext.
 */
#include "slots/cloud_slot.h"
#include "common/hwagg.h"
#include "common/log.h"
#include "mechanisms/cipher.h"

#include <stdlib.h>
#include <string.h>

typedef struct hw_cloud_dkey {
	hw_secret *value;
	struct hw_cloud_dkey *next;
} hw_cloud_dkey;

void hw_cloud_dkeys_init(hw_cloud_slot *cs)
{
	pthread_mutex_init(&cs->dk_lock, NULL);
	cs->dkeys = NULL;
}

void hw_cloud_dkeys_fini(hw_cloud_slot *cs, bool forked)
{
	/* the engine dropped its objects first; what is left is wiped (a
	 * forked child's copy too; its lock may have been held at the fork) */
	while (cs->dkeys != NULL) {
		hw_cloud_dkey *d = cs->dkeys;
		cs->dkeys = d->next;
		hw_secret_free(d->value);
		free(d);
	}
	if (!forked)
		pthread_mutex_destroy(&cs->dk_lock);
}

/* A new data key of value v (taken) as an object's bdata. */
static CK_RV dkey_keep(hw_cloud_slot *cs, hw_secret *v, void **bdata)
{
	hw_cloud_dkey *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		hw_secret_free(v);
		return CKR_HOST_MEMORY;
	}
	d->value = v;
	pthread_mutex_lock(&cs->dk_lock);
	d->next = cs->dkeys;
	cs->dkeys = d;
	pthread_mutex_unlock(&cs->dk_lock);
	*bdata = d;
	return CKR_OK;
}

/* bdata is one of the slot's data keys (else a key record of the service). */
static bool dkey_is(hw_cloud_slot *cs, const void *bdata, bool unlink)
{
	pthread_mutex_lock(&cs->dk_lock);
	hw_cloud_dkey **p = &cs->dkeys;
	while (*p != NULL && *p != bdata)
		p = &(*p)->next;
	bool found = *p != NULL;
	if (found && unlink)
		*p = (*p)->next;
	pthread_mutex_unlock(&cs->dk_lock);
	return found;
}

void hw_cloud_free_bdata(void *ctx, void *bdata)
{
	hw_cloud_dkey *d = bdata;
	/* key records live as long as the slot: only data keys go */
	if (d == NULL || !dkey_is(ctx, d, true))
		return;
	hw_secret_free(d->value);
	free(d);
}

CK_RV hw_cloud_secret_take(unsigned char *raw, size_t n, hw_secret **pt)
{
	*pt = hw_secret_dup(raw, n);
	hw_wipe(raw, n);
	free(raw);
	return *pt != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

bool hw_cloud_envelope_mechanism(const hw_cloud_slot *cs, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	CK_MECHANISM_INFO i = { 16, 32, 0 };
	if (cs->keys->wrap == NULL)
		return false;
	switch (base) {
	case CKM_AES_KEY_GEN:
		i.flags = CKF_GENERATE;
		break;
	case CKM_AES_CBC: case CKM_AES_CBC_PAD: case CKM_AES_CTR: case CKM_AES_GCM: case CKM_AES_ECB:
		i.flags = CKF_ENCRYPT | CKF_DECRYPT;
		break;
	case CKM_HWAGG_KMS_WRAP:
		i.flags = CKF_WRAP | CKF_UNWRAP | CKF_HW;
		break;
	default:
		return false;
	}
	if (info != NULL)
		*info = i;
	return true;
}

/* What a data key is, whatever the template asked: made here (software),
 * session only, its value never shown. */
static CK_RV dkey_attrs(hw_cloud_slot *cs, hw_attrs *a, CK_ULONG len)
{
	CK_RV rv;
	if ((rv = hw_attrs_set_ulong(a, CKA_VALUE_LEN, len)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_SENSITIVE, true)) != CKR_OK)
		return rv;
	hw_attrs_remove(a, CKA_VALUE);
	return hw_vendor_attrs(a, cs->objs.backend, HW_SEC_SOFTWARE, 1, NULL);
}

CK_RV hw_cloud_dkey_generate(hw_cloud_slot *cs, hw_attrs *attrs, void **bdata)
{
	CK_ULONG len = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	hw_secret *v;
	CK_RV rv;
	if (len != 16 && len != 24 && len != 32)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((v = hw_secret_new(len)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = hw_random(v->data, len)) != CKR_OK || (rv = dkey_attrs(cs, attrs, len)) != CKR_OK) {
		hw_secret_free(v);
		return rv;
	}
	return dkey_keep(cs, v, bdata);
}

CK_RV hw_cloud_dkey_begin(hw_cloud_slot *cs, void *bdata, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	const hw_cloud_dkey *d = bdata;
	if (d == NULL || !dkey_is(cs, d, false))
		return CKR_KEY_HANDLE_INVALID;
	if (kind != CKF_ENCRYPT && kind != CKF_DECRYPT)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	return hw_sk_new(mech, kind, d->value->data, d->value->len, (hw_sk **)op);
}

static bool obj_bool(hw_obj *o, CK_ATTRIBUTE_TYPE t)
{
	hw_snap *s = hw_obj_snap(o);
	bool v = hw_attrs_get_bool(hw_snap_attrs(s), t, false);
	hw_snap_put(s);
	return v;
}

/* The key-encryption key of a wrap (use CKA_WRAP) or an unwrap (CKA_UNWRAP):
 * a service key (token object) that may do it, a secret key or a key
 * pair's public (wrap) or private (unwrap) key; *kb its record. */
static CK_RV kek_of(hw_cloud_slot *cs, hw_obj *o, CK_ATTRIBUTE_TYPE use, CK_RV wrong, const void **kb)
{
	hw_cloud_keyinfo ki;
	void *rec = NULL;
	if (o->oid <= 0 || (o->bdata != NULL && dkey_is(cs, o->bdata, false)))
		return wrong;
	hw_snap *s = hw_obj_snap(o);
	CK_ULONG cls = hw_attrs_get_ulong(hw_snap_attrs(s), CKA_CLASS, CKO_DATA);
	hw_snap_put(s);
	/* a public key object carries no record: its private key's has it */
	if (cls == CKO_PUBLIC_KEY && use == CKA_WRAP && o->oid % 2 == 0 &&
	    cs->keys->record(cs, (size_t)(o->oid - 2) / 2, &ki, &rec) == HW_CLOUD_REC_SHOWN && ki.wraps)
		*kb = rec;
	else if (cls == CKO_SECRET_KEY || (cls == CKO_PRIVATE_KEY && use == CKA_UNWRAP))
		*kb = o->bdata;
	else
		return wrong;
	if (*kb == NULL)
		return wrong;
	return obj_bool(o, use) ? CKR_OK : CKR_KEY_FUNCTION_NOT_PERMITTED;
}

static CK_RV said(const hw_cloud_slot *cs, const char *what, CK_RV rv)
{
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_info("slot \"%s\" (%s): %s refused: %s", cs->conf->name, cs->objs.backend, what, hw_rv_name(rv));
	return rv;
}

CK_RV hw_cloud_wrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
			size_t *out_len)
{
	hw_cloud_slot *cs = ctx;
	unsigned char *ct = NULL;
	size_t cl = 0;
	CK_RV rv;
	if (cs->keys->wrap == NULL || mech->mechanism != CKM_HWAGG_KMS_WRAP)
		return said(cs, "key wrap", CKR_MECHANISM_INVALID);
	const void *kb = NULL;
	if ((rv = kek_of(cs, wrapping, CKA_WRAP, CKR_WRAPPING_KEY_TYPE_INCONSISTENT, &kb)) != CKR_OK)
		return said(cs, "key wrap", rv);
	/* only the slot's data keys have a value here to wrap */
	if (key->oid != 0 || key->bdata == NULL || !dkey_is(cs, key->bdata, false))
		return said(cs, "key wrap", CKR_KEY_NOT_WRAPPABLE);
	if (!obj_bool(key, CKA_EXTRACTABLE))
		return said(cs, "key wrap", CKR_KEY_UNEXTRACTABLE);
	if (obj_bool(key, CKA_WRAP_WITH_TRUSTED) && !obj_bool(wrapping, CKA_TRUSTED))
		return said(cs, "key wrap", CKR_KEY_NOT_WRAPPABLE);
	/* the ciphertext's length is the service's: it is asked for every time
	 * (a size query costs one call, as the real answer does) */
	const hw_cloud_dkey *d = key->bdata;
	if ((rv = cs->keys->wrap(ctx, kb, d->value->data, d->value->len, &ct, &cl)) != CKR_OK)
		return said(cs, "key wrap", rv);
	if (out != NULL && *out_len >= cl)
		memcpy(out, ct, cl);
	else if (out != NULL)
		rv = CKR_BUFFER_TOO_SMALL;
	*out_len = cl;
	free(ct);
	return said(cs, "key wrap", rv);
}

CK_RV hw_cloud_unwrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			  size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_cloud_slot *cs = ctx;
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	CK_ULONG want = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	hw_secret *v = NULL;
	CK_RV rv;
	if (cs->keys->unwrap == NULL || mech->mechanism != CKM_HWAGG_KMS_WRAP)
		return said(cs, "key unwrap", CKR_MECHANISM_INVALID);
	/* a data key lives in this process: never a token object */
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY || kt != CKK_AES || token)
		return said(cs, "key unwrap", CKR_TEMPLATE_INCONSISTENT);
	const void *kb = NULL;
	if ((rv = kek_of(cs, unwrapping, CKA_UNWRAP, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, &kb)) != CKR_OK)
		return said(cs, "key unwrap", rv);
	if (len == 0)
		return said(cs, "key unwrap", CKR_WRAPPED_KEY_LEN_RANGE);
	if ((rv = cs->keys->unwrap(ctx, kb, wrapped, len, &v)) != CKR_OK)
		return said(cs, "key unwrap", rv == CKR_ENCRYPTED_DATA_INVALID ? CKR_WRAPPED_KEY_INVALID : rv);
	/* what came back must be the AES key the template names */
	if (v->len != 16 && v->len != 24 && v->len != 32)
		rv = CKR_WRAPPED_KEY_INVALID;
	else if (want != 0 && want != v->len)
		rv = CKR_TEMPLATE_INCONSISTENT;
	else if ((rv = dkey_attrs(cs, attrs, v->len)) == CKR_OK)
		rv = hw_attrs_set_bool(attrs, CKA_LOCAL, false);
	if (rv != CKR_OK) {
		hw_secret_free(v);
		return said(cs, "key unwrap", rv);
	}
	*oid = 0;
	return dkey_keep(cs, v, bdata);
}
