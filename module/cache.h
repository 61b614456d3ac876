/*
 * Each slot's object cache: the objects, their handles and their attribute
 * snapshots.
 *
 * An object's attributes are an immutable, reference-counted snapshot. A
 * reload or C_SetAttributeValue publishes a new snapshot (under the slot
 * lock); a reader either holds the slot lock or takes a reference with
 * hw_obj_snap(), and an operation keeps the snapshot it started with.
 *
 * Listing is two-phase: the backend lists with no engine lock held (only
 * the slot's io lock, which key operations never take), then the engine
 * merges under the slot lock. Handles of unchanged objects stay the same;
 * objects created or destroyed by this process while the listing ran are
 * kept or left out as they should be.
 */
#ifndef HW_CACHE_H
#define HW_CACHE_H

#include "module/global.h"

struct hw_snap {
	int refs;
	hw_attrs attrs;
};

/* A new object owning attrs (taken) as its first snapshot; one reference. */
hw_obj *hw_obj_new(size_t slot, int64_t oid, CK_SESSION_HANDLE owner, hw_attrs *attrs, void *bdata);
void hw_obj_put(hw_obj *o);
/* Whether s is still the object's current snapshot (no lock needed). */
bool hw_obj_snap_is(hw_obj *o, const hw_snap *s);
/* The current attributes; the slot lock must be held while they are read. */
const hw_attrs *hw_obj_attrs_inlock(const hw_obj *o);
/* Replace the attributes (attrs taken) by a new snapshot (slot lock held). */
CK_RV hw_obj_publish_inlock(hw_obj *o, hw_attrs *attrs);
/* Add an object to its slot and give it a fresh handle (slot lock held). */
CK_RV hw_obj_add_inlock(hw_slot *slot, hw_obj *o);
/* The live token object with this backend id, or NULL (slot lock held). */
hw_obj *hw_obj_find_oid_inlock(hw_slot *slot, int64_t oid);
/* Remove from the slot and handle table (slot lock held); freed on last put. */
void hw_obj_unlink_inlock(hw_slot *slot, hw_obj *o);
/* Visible in the slot's login state (UG "Permitted object accesses"). */
bool hw_obj_visible(const hw_obj *o, const hw_slot *slot);
/* Resolve a handle of the slot, with a reference. Not found or not visible
 * -> not_found (CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID). */
CK_RV hw_obj_lookup(hw_slot *slot, CK_OBJECT_HANDLE h, CK_RV not_found, hw_obj **out);

/* The slot that works on o: its owner (the session's slot, or a member of
 * the session's policy slot), whose deadline starts now. */
hw_slot *hw_obj_worker(const hw_obj *o);

/* Bring the slot's token objects up to date: no engine lock held (the
 * caller may hold a session lock). _io: the caller holds the io lock. */
CK_RV hw_slot_sync(hw_slot *slot);
CK_RV hw_slot_sync_io(hw_slot *slot);
/* Logout (io lock held): private session objects die, handles of private
 * token objects become invalid (B 5.6.8), then the backend forgets its
 * secrets with no slot lock held. */
void hw_slot_logout_io(hw_slot *slot);
/* Drop every object of the slot (finalize, token removal, C_InitToken);
 * session_only: only session objects, of owner when it is not 0. */
void hw_slot_drop_objects_inlock(hw_slot *slot, bool session_only, CK_SESSION_HANDLE owner);

/* Finalize: forget every handle. Fork child: reset the cache's locks. */
void hw_cache_drop_handles(void);
void hw_cache_atfork_child(void);

#endif
