/*
 * Token objects in the local store, for backends that keep them there (soft,
 * tpm): the store opened on first use, and the object rows read, written and
 * listed as attribute sets. One hw_stored per slot; its caller's lock
 * protects it (every call here is made under that lock).
 */
#ifndef HW_STORED_H
#define HW_STORED_H

#include "slots/backend.h"
#include "objects/store.h"

typedef struct hw_stored {
	const char *dir;              /* the store directory */
	const char *slot;             /* the slot's name: its rows in the store */
	hw_store *store;              /* NULL until first used */
	uint64_t seen;                /* store change marker */
} hw_stored;

/* The store, opened now if it was not. create false: a store that does not
 * exist yet is not created (a module that p11-kit loads everywhere writes no
 * directory until a token is initialized); *none then says so. */
CK_RV hw_stored_open(hw_stored *d, bool create, bool *none);
/* Release (forked: abandon, see hw_store_forget). */
void hw_stored_close(hw_stored *d, bool forked);
/* backend hooks over the store */
bool hw_stored_changed(hw_stored *d);
CK_RV hw_stored_load(hw_stored *d, hw_obj_sink sink, void *arg);
/* Insert n (1 or 2) objects in one transaction; the last gets secret. */
CK_RV hw_stored_insert(hw_stored *d, hw_attrs *const *attrs, size_t n, const unsigned char *secret,
		       size_t secret_len, int64_t *ids);
CK_RV hw_stored_update(hw_stored *d, int64_t oid, const hw_attrs *attrs);
CK_RV hw_stored_delete(hw_stored *d, int64_t oid);

#endif
