/*
 * The local store: one SQLite database per store directory (DIR/hwagg.db),
 * WAL mode and a busy timeout so several processes share it. It holds, per
 * slot name, the token record (label, PIN wraps, failure counters) and the
 * token objects (serialized attributes + an optional sealed secret). Every
 * write is one transaction. No crypto here except what pin.h asks it to
 * store.
 */
#ifndef HW_STORE_H
#define HW_STORE_H

#include "common/ck.h"

typedef struct hw_store hw_store;

/* Open or create DIR/hwagg.db (DIR is created 0700 if missing). Errors:
 * unwritable directory, corrupt file -> CKR_DEVICE_ERROR with a log line
 * naming the path; full disk -> CKR_DEVICE_MEMORY. */
CK_RV hw_store_open(const char *dir, hw_store **out);
/* mkdir -p dir, mode 0700 for each directory made (the audit log goes there too). */
CK_RV hw_store_mkdirs(const char *dir);
void hw_store_close(hw_store *s);
/* In a forked child, before the child opens the store again: drop the
 * parent's connection. It is closed if no thread was inside the store at
 * fork time (the child's close releases none of the parent's POSIX locks
 * and writes nothing; left open, its stale lock state would let the parent
 * delete the WAL under the child); otherwise it is abandoned, never used. */
void hw_store_forget(hw_store *s);
const char *hw_store_path(const hw_store *s);

/* Changes by this or any other process since the last call return true once
 * (PRAGMA data_version plus our own writes). Start with *seen = 0: the first
 * call returns true. */
bool hw_store_changed(hw_store *s, uint64_t *seen);

/* ---- token records -------------------------------------------------------- */
typedef struct hw_token_rec {
	char label[33];              /* NUL-terminated, blank padding stripped */
	bool initialized;            /* C_InitToken done: SO wrap set */
	bool user_pin_set;           /* C_InitPIN done: user wrap set */
	unsigned user_fails, so_fails;
	/* Master key wrapped under the SO and user PIN keys (pin.h formats). */
	unsigned char so_wrap[256];  size_t so_wrap_len;
	unsigned char user_wrap[256]; size_t user_wrap_len;
} hw_token_rec;

/* Read the record of a slot; a slot never seen reads as all-zero (not
 * initialized) and is not created. */
CK_RV hw_store_token_get(hw_store *s, const char *slot, hw_token_rec *out);
/* Write the whole record (insert or replace) in one transaction. */
CK_RV hw_store_token_put(hw_store *s, const char *slot, const hw_token_rec *rec);
/* Atomically add one to the user (so=false) or SO failure counter, or reset
 * it to 0; returns the new value in *now. Used by login so that processes
 * racing on wrong PINs cannot undercount. */
CK_RV hw_store_fail_bump(hw_store *s, const char *slot, bool so, bool reset, unsigned *now);
/* C_InitToken: in one transaction, replace the record and delete every
 * object of the slot. */
CK_RV hw_store_token_reset(hw_store *s, const char *slot, const hw_token_rec *rec);
/* Replace one PIN wrap of an initialized slot without rewriting the rest of
 * the record (the failure counters may be moving in another process). The
 * user wrap also sets user_pin_set and clears user_fails (C_InitPIN unlocks).
 * No initialized record -> CKR_TOKEN_NOT_RECOGNIZED. */
CK_RV hw_store_token_set_wrap(hw_store *s, const char *slot, bool so,
			      const unsigned char *wrap, size_t len);

/* ---- objects -------------------------------------------------------------- */
typedef struct hw_store_obj {
	int64_t id;                    /* > 0, never reused (AUTOINCREMENT) */
	const unsigned char *attrs;    /* serialized hw_attrs */
	size_t attrs_len;
	const unsigned char *secret;   /* sealed private key or NULL */
	size_t secret_len;
	int64_t created;               /* seconds since the epoch, set by insert */
} hw_store_obj;

/* Calls fn once per object of the slot, in id order (data valid during the
 * call only; fn runs under the store lock and must not call into the store).
 * A non-OK return from fn stops the walk and is returned. obj_get: missing
 * object -> CKR_OBJECT_HANDLE_INVALID. */
CK_RV hw_store_obj_each(hw_store *s, const char *slot,
			CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg);
CK_RV hw_store_obj_get(hw_store *s, const char *slot, int64_t id,
		       CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg);
/* Insert one or two objects in one transaction (a key pair is stored
 * together or not at all); ids[i] receive the new ids. */
CK_RV hw_store_obj_insert(hw_store *s, const char *slot, const hw_store_obj *objs,
			  size_t n, int64_t *ids);
CK_RV hw_store_obj_update_attrs(hw_store *s, const char *slot, int64_t id,
				const void *attrs, size_t len);
/* Missing object -> CKR_OBJECT_HANDLE_INVALID. */
CK_RV hw_store_obj_delete(hw_store *s, const char *slot, int64_t id);

#endif
