/*
 * Token objects in the local store for store-backed backends (stored.h).
 */
#include "slots/stored.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

CK_RV hw_stored_open(hw_stored *d, bool create, bool *none)
{
	char path[4096];
	*none = false;
	if (d->store != NULL)
		return CKR_OK;
	snprintf(path, sizeof(path), "%s/hwagg.db", d->dir);
	if (!create && access(path, F_OK) != 0) {
		*none = true;
		return CKR_OK;
	}
	CK_RV rv = hw_store_open(d->dir, &d->store);
	if (rv != CKR_OK)
		hw_error("slot \"%s\": cannot open the store in %s: %s", d->slot, d->dir, hw_rv_name(rv));
	return rv;
}

void hw_stored_close(hw_stored *d, bool forked)
{
	if (forked)
		hw_store_forget(d->store);
	else
		hw_store_close(d->store);
	d->store = NULL;
}

bool hw_stored_changed(hw_stored *d)
{
	bool none;
	return hw_stored_open(d, false, &none) == CKR_OK && !none && hw_store_changed(d->store, &d->seen);
}

typedef struct load_arg {
	hw_obj_sink sink;
	void *arg;
	const char *slot;
} load_arg;

static CK_RV load_one(void *varg, const hw_store_obj *o)
{
	load_arg *la = varg;
	hw_attrs a;
	CK_RV rv = hw_attrs_deserialize(o->attrs, o->attrs_len, &a);
	if (rv != CKR_OK) {
		/* one damaged row must not hide the others */
		hw_error("slot \"%s\": store object %lld is damaged; skipped", la->slot, (long long)o->id);
		return CKR_OK;
	}
	/* objects stored before hwagg kept CKA_HWAGG_CREATED: the store's time */
	if (hw_attrs_get(&a, CKA_HWAGG_CREATED) == NULL && o->created > 0)
		rv = hw_attrs_set_time(&a, CKA_HWAGG_CREATED, o->created);
	if (rv == CKR_OK)
		rv = la->sink(la->arg, o->id, &a, NULL);
	hw_attrs_clear(&a);
	return rv;
}

CK_RV hw_stored_load(hw_stored *d, hw_obj_sink sink, void *arg)
{
	load_arg la = { sink, arg, d->slot };
	bool none;
	CK_RV rv = hw_stored_open(d, false, &none);
	if (rv != CKR_OK || none)
		return rv;
	hw_store_changed(d->store, &d->seen);   /* this read covers changes so far */
	return hw_store_obj_each(d->store, d->slot, load_one, &la);
}

CK_RV hw_stored_insert(hw_stored *d, hw_attrs *const *attrs, size_t n, const unsigned char *secret,
		       size_t secret_len, int64_t *ids)
{
	hw_store_obj objs[2];
	unsigned char *blobs[2] = { NULL, NULL };
	CK_RV rv = n >= 1 && n <= 2 ? CKR_OK : CKR_GENERAL_ERROR;
	bool none;
	memset(objs, 0, sizeof(objs));
	for (size_t i = 0; i < n && rv == CKR_OK; i++) {
		rv = hw_attrs_serialize(attrs[i], &blobs[i], &objs[i].attrs_len);
		objs[i].attrs = blobs[i];
	}
	if (rv == CKR_OK) {
		objs[n - 1].secret = secret;
		objs[n - 1].secret_len = secret_len;
		rv = hw_stored_open(d, true, &none);
	}
	if (rv == CKR_OK)
		rv = hw_store_obj_insert(d->store, d->slot, objs, n, ids);
	free(blobs[0]);
	free(blobs[1]);
	return rv;
}

CK_RV hw_stored_update(hw_stored *d, int64_t oid, const hw_attrs *attrs)
{
	unsigned char *blob = NULL;
	size_t len;
	bool none;
	CK_RV rv = hw_attrs_serialize(attrs, &blob, &len);
	if (rv == CKR_OK)
		rv = hw_stored_open(d, true, &none);
	if (rv == CKR_OK)
		rv = hw_store_obj_update_attrs(d->store, d->slot, oid, blob, len);
	free(blob);
	return rv;
}

CK_RV hw_stored_delete(hw_stored *d, int64_t oid)
{
	bool none;
	CK_RV rv = hw_stored_open(d, true, &none);
	return rv == CKR_OK ? hw_store_obj_delete(d->store, d->slot, oid) : rv;
}
