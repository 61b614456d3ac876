/*
 * What a cloud slot keeps of a cloud key's objects beside the service: the
 * few attributes the service has no place for (label, start and end dates,
 * hwagg's key version, uses turned off), one file per object in the slot's
 * object directory, named by the key's identity at the service (ARN,
 * version resource name, kid). A public key whose end date is set is kept
 * whole, so that it outlives its private key (destroyed or disabled by a
 * rotation) and old signatures keep verifying; a private key retired
 * (an end date, every use off: disabled by a rotation) is kept whole too,
 * for the record. Once the service no longer lists its key, a kept public
 * key is found under HW_OVERLAY_BASE + the 40-bit hash of the key's name,
 * a kept private key 2^40 above that.
 */
#ifndef HW_CLOUD_OVERLAY_H
#define HW_CLOUD_OVERLAY_H

#include "slots/cloud_objdir.h"
#include <stdbool.h>

#define HW_OVERLAY_BASE ((int64_t)1 << 41)

/* The kept attributes of (uri, class) onto a listed object's set a. */
CK_RV hw_overlay_apply(const hw_objdir *d, const char *uri, CK_OBJECT_CLASS cls, hw_attrs *a);
/* A change of a cloud key's object: base its attributes now (overlay
 * applied), want the set asked for. CKR_OK with out = base plus the
 * changes when every change is one the overlay keeps; otherwise
 * CKR_ACTION_PROHIBITED, or CKR_ATTRIBUTE_READ_ONLY for a use turned
 * back on (logged). *uses_off: base had a use (sign, decrypt, ...) and
 * out has none left. */
CK_RV hw_overlay_change(const hw_objdir *d, const char *uri, const hw_attrs *base, const hw_attrs *want,
			hw_attrs *out, bool *uses_off);
/* Store out (from hw_overlay_change) for (uri, its class). */
CK_RV hw_overlay_store(hw_objdir *d, const char *uri, const hw_attrs *out);
/* The key (uri) is gone at the service: its files go, except a public
 * key kept for verification (end date set). */
CK_RV hw_overlay_forget(hw_objdir *d, const char *uri);
/* The public key's file of uri goes (its kept copy destroyed). */
CK_RV hw_overlay_drop_public(hw_objdir *d, const char *uri);
/* The kept object of class cls of uri into out: CKR_OBJECT_HANDLE_INVALID
 * if none. */
CK_RV hw_overlay_kept(const hw_objdir *d, const char *uri, CK_OBJECT_CLASS cls, hw_attrs *out);
/* The kept key object at oid (>= HW_OVERLAY_BASE): its attributes; drop
 * removes it instead (out may then be NULL). */
CK_RV hw_overlay_kept_oid(hw_objdir *d, int64_t oid, hw_attrs *out, bool drop);
/* Every kept key object whose key the table does not hold (listed(arg,
 * uri) false) to sink, at its oid above HW_OVERLAY_BASE. */
CK_RV hw_overlay_report(const hw_objdir *d, bool (*listed)(void *arg, const char *uri), void *larg,
			hw_obj_sink sink, void *arg);

#endif
