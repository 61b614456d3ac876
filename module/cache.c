/*
 * The object cache (cache.h): objects, handles, attribute snapshots and the
 * two-phase listing.
 */
#include "module/cache.h"
#include "common/deadline.h"
#include "module/hmap.h"
#include "common/log.h"
#include "module/policy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Object handles: under handles_lock (a leaf). Handles are never reused. */
static hw_hmap handles;
static CK_OBJECT_HANDLE next_object = 1;
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;

/* The snapshot pointer of an object is swapped and referenced under one of
 * these (a leaf), picked by the object's address. */
#define SNAP_LOCKS 64
static pthread_mutex_t snap_locks[SNAP_LOCKS] = { [0 ... SNAP_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER };

static pthread_mutex_t *snap_lock(const hw_obj *o)
{
	return &snap_locks[((uintptr_t)o >> 6) % SNAP_LOCKS];
}

/* ---- snapshots ------------------------------------------------------------------ */
static hw_snap *snap_new(hw_attrs *attrs)
{
	hw_snap *s = malloc(sizeof(*s));
	if (s == NULL)
		return NULL;
	s->refs = 1;
	s->attrs = *attrs;            /* take */
	hw_attrs_init(attrs);
	return s;
}

void hw_snap_put(hw_snap *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		hw_attrs_clear(&s->attrs);
		free(s);
	}
}

const hw_attrs *hw_snap_attrs(const hw_snap *s)
{
	return &s->attrs;
}

hw_snap *hw_obj_snap(hw_obj *o)
{
	pthread_mutex_t *l = snap_lock(o);
	hw_lock(l);
	hw_snap *s = o->snap;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	hw_unlock(l);
	return s;
}

bool hw_obj_snap_is(hw_obj *o, const hw_snap *s)
{
	return __atomic_load_n(&o->snap, __ATOMIC_ACQUIRE) == s;
}

const hw_attrs *hw_obj_attrs_inlock(const hw_obj *o)
{
	return &o->snap->attrs;
}

CK_RV hw_obj_publish_inlock(hw_obj *o, hw_attrs *attrs)
{
	hw_snap *s = snap_new(attrs), *old;
	if (s == NULL) {
		hw_attrs_clear(attrs);
		return CKR_HOST_MEMORY;
	}
	pthread_mutex_t *l = snap_lock(o);
	hw_lock(l);
	old = o->snap;
	__atomic_store_n(&o->snap, s, __ATOMIC_RELEASE);
	hw_unlock(l);
	__atomic_store_n(&o->priv, hw_attrs_get_bool(&s->attrs, CKA_PRIVATE, false), __ATOMIC_RELEASE);
	hw_snap_put(old);             /* freed when the last operation using it ends */
	return CKR_OK;
}

/* ---- objects ----------------------------------------------------------------------- */
hw_obj *hw_obj_new(size_t slot, int64_t oid, CK_SESSION_HANDLE owner, hw_attrs *attrs, void *bdata)
{
	hw_obj *o = calloc(1, sizeof(*o));
	if (o == NULL || (o->snap = snap_new(attrs)) == NULL) {
		free(o);
		return NULL;
	}
	o->slot = slot;
	o->oid = oid;
	o->owner = owner;
	o->priv = hw_attrs_get_bool(&o->snap->attrs, CKA_PRIVATE, false);
	o->bdata = bdata;
	o->refs = 1;                 /* the slot's reference */
	return o;
}

void hw_obj_put(hw_obj *o)
{
	if (o == NULL || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	hw_slot *slot = hw_slot_get(o->slot);
	if (o->bdata != NULL && slot != NULL && slot->ops->free_bdata != NULL)
		slot->ops->free_bdata(slot->ctx, o->bdata);
	hw_snap_put(o->snap);
	free(o);
}

CK_RV hw_obj_add_inlock(hw_slot *slot, hw_obj *o)
{
	if (slot->nobjs == slot->cap) {
		size_t cap = slot->cap ? slot->cap * 2 : 32;
		hw_obj **v = realloc(slot->objs, cap * sizeof(*v));
		if (v == NULL)
			return CKR_HOST_MEMORY;
		slot->objs = v;
		slot->cap = cap;
	}
	hw_lock(&handles_lock);
	o->handle = next_object++;
	bool ok = hw_hmap_put(&handles, o->handle, o);
	hw_unlock(&handles_lock);
	if (!ok)
		return CKR_HOST_MEMORY;
	o->born = ++slot->gen;
	slot->objs[slot->nobjs++] = o;
	return CKR_OK;
}

hw_obj *hw_obj_find_oid_inlock(hw_slot *slot, int64_t oid)
{
	for (size_t i = 0; i < slot->nobjs; i++)
		if (slot->objs[i]->oid == oid && !slot->objs[i]->dead)
			return slot->objs[i];
	return NULL;
}

/* A listing running now must not bring this token object back. */
static void note_gone_inlock(hw_slot *slot, int64_t oid)
{
	if (!slot->loading || oid == 0)
		return;
	if (slot->ngone == slot->capgone) {
		size_t cap = slot->capgone ? slot->capgone * 2 : 8;
		int64_t *v = realloc(slot->gone, cap * sizeof(*v));
		if (v == NULL) {
			/* cannot remember it: the listing's result will be dropped */
			slot->loaded = false;
			slot->list_stale = true;
			return;
		}
		slot->gone = v;
		slot->capgone = cap;
	}
	slot->gone[slot->ngone++] = oid;
}

void hw_obj_unlink_inlock(hw_slot *slot, hw_obj *o)
{
	for (size_t i = 0; i < slot->nobjs; i++) {
		if (slot->objs[i] != o)
			continue;
		slot->objs[i] = slot->objs[--slot->nobjs];
		hw_lock(&handles_lock);
		hw_hmap_del(&handles, o->handle);
		hw_unlock(&handles_lock);
		note_gone_inlock(slot, o->oid);
		__atomic_store_n(&o->dead, true, __ATOMIC_RELEASE);
		hw_obj_put(o);
		return;
	}
}

bool hw_obj_visible(const hw_obj *o, const hw_slot *slot)
{
	if (__atomic_load_n(&o->priv, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&slot->auth, __ATOMIC_ACQUIRE) == HW_AUTH_USER;
	return true;
}

CK_RV hw_obj_lookup(hw_slot *slot, CK_OBJECT_HANDLE h, CK_RV not_found, hw_obj **out)
{
	hw_lock(&handles_lock);
	hw_obj *o = hw_hmap_get(&handles, h);
	/* a policy token shows its members' objects, by their owners' login
	 * state (module/policy.h) */
	if (o != NULL && !__atomic_load_n(&o->dead, __ATOMIC_ACQUIRE) &&
	    (o->slot == slot->index || (slot->policy != NULL && hw_policy_is_member(slot, o->slot))) &&
	    hw_obj_visible(o, &hw_g.slots[o->slot]))
		__atomic_add_fetch(&o->refs, 1, __ATOMIC_ACQ_REL);
	else
		o = NULL;
	hw_unlock(&handles_lock);
	*out = o;
	return o ? CKR_OK : not_found;
}

hw_slot *hw_obj_worker(const hw_obj *o)
{
	hw_slot *s = &hw_g.slots[o->slot];
	hw_deadline_start(s);
	return s;
}

CK_RV hw_slot_collect(hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE **found, size_t *nf)
{
	CK_RV rv = CKR_OK;
	hw_lock(&s->lock);
	CK_OBJECT_HANDLE *v = realloc(*found, (*nf + s->nobjs + 1) * sizeof(*v));
	if (v == NULL) {
		rv = CKR_HOST_MEMORY;
	} else {
		*found = v;
		for (size_t i = 0; i < s->nobjs; i++) {
			hw_obj *o = s->objs[i];
			if (hw_obj_visible(o, s) && hw_attrs_match(hw_obj_attrs_inlock(o), t, n))
				v[(*nf)++] = o->handle;
		}
	}
	hw_unlock(&s->lock);
	return rv;
}

void hw_slot_drop_objects_inlock(hw_slot *slot, bool session_only, CK_SESSION_HANDLE owner)
{
	for (size_t i = slot->nobjs; i-- > 0;) {
		hw_obj *o = slot->objs[i];
		if (session_only && (o->oid != 0 || (owner != 0 && o->owner != owner)))
			continue;
		hw_obj_unlink_inlock(slot, o);
	}
	if (!session_only)
		slot->loaded = false;
}

void hw_slot_logout_io(hw_slot *slot)
{
	hw_lock(&slot->lock);
	for (size_t i = slot->nobjs; i-- > 0;) {
		hw_obj *o = slot->objs[i];
		/* B 5.6.8: private session objects die; handles to private token
		 * objects become invalid for good (a new listing gives new handles) */
		if (o->priv)
			hw_obj_unlink_inlock(slot, o);
	}
	__atomic_store_n(&slot->auth, HW_AUTH_PUBLIC, __ATOMIC_RELEASE);
	/* the next listing brings the private token objects back, with new
	 * handles, whether or not the backend saw a change */
	slot->loaded = false;
	hw_unlock(&slot->lock);
	if (slot->ops->logout != NULL)
		slot->ops->logout(slot->ctx);
}

/* ---- the two-phase listing --------------------------------------------------------- */
typedef struct listed {
	int64_t oid;
	hw_attrs attrs;
	void *bdata;
} listed;

typedef struct listing {
	hw_slot *slot;
	listed *v;
	size_t n, cap;
} listing;

static void listed_free(hw_slot *slot, listed *e)
{
	hw_attrs_clear(&e->attrs);
	if (e->bdata != NULL && slot->ops->free_bdata != NULL)
		slot->ops->free_bdata(slot->ctx, e->bdata);
	e->bdata = NULL;
}

/* Phase one, no engine lock held: collect what the backend reports. */
static CK_RV list_sink(void *arg, int64_t oid, hw_attrs *attrs, void *bdata)
{
	listing *l = arg;
	if (oid == 0) {
		/* 0 marks a session object: a token object listed under it would
		 * never match and pile up at every listing */
		listed drop = { oid, *attrs, bdata };
		hw_attrs_init(attrs);
		listed_free(l->slot, &drop);
		hw_warn("slot \"%s\": the backend listed an object with id 0; skipped", l->slot->conf->name);
		return CKR_OK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		listed *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			listed drop = { oid, *attrs, bdata };
			hw_attrs_init(attrs);
			listed_free(l->slot, &drop);
			return CKR_HOST_MEMORY;
		}
		l->v = v;
		l->cap = cap;
	}
	listed *e = &l->v[l->n++];
	e->oid = oid;
	e->attrs = *attrs;            /* take */
	hw_attrs_init(attrs);
	e->bdata = bdata;
	return CKR_OK;
}

static bool was_gone(const hw_slot *slot, int64_t oid)
{
	for (size_t i = 0; i < slot->ngone; i++)
		if (slot->gone[i] == oid)
			return true;
	return false;
}

/* Phase two, slot lock held: merge into the cache. Objects that entered the
 * cache after the listing began (born > since) were created here meanwhile
 * and stay; objects destroyed here meanwhile (gone) do not come back. */
static CK_RV merge_inlock(hw_slot *slot, listing *l, uint64_t since)
{
	size_t n0 = slot->nobjs;
	bool created_meanwhile = slot->gen != since;
	bool *seen = calloc(n0 + 1, sizeof(bool));
	hw_hmap at = { 0 };           /* oid -> index + 1 among the first n0 */
	CK_RV rv = CKR_OK;
	if (seen == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n0 && rv == CKR_OK; i++) {
		int64_t oid = slot->objs[i]->oid;
		if (oid != 0 && oid != -1 && !hw_hmap_put(&at, (uint64_t)oid, (void *)(uintptr_t)(i + 1)))
			rv = CKR_HOST_MEMORY;
	}
	for (size_t k = 0; k < l->n && rv == CKR_OK; k++) {
		listed *e = &l->v[k];
		if (was_gone(slot, e->oid))
			continue;
		size_t i = e->oid == -1 ? 0 : (size_t)(uintptr_t)hw_hmap_get(&at, (uint64_t)e->oid);
		hw_obj *o = i > 0 ? slot->objs[i - 1] :
			    e->oid == -1 || created_meanwhile ? hw_obj_find_oid_inlock(slot, e->oid) : NULL;
		if (o != NULL) {
			/* same handle and cached key; the fresh attributes */
			if (i > 0)
				seen[i - 1] = true;
			rv = hw_obj_publish_inlock(o, &e->attrs);
			continue;
		}
		if ((o = hw_obj_new(slot->index, e->oid, 0, &e->attrs, e->bdata)) == NULL) {
			rv = CKR_HOST_MEMORY;
			continue;
		}
		e->bdata = NULL;
		if ((rv = hw_obj_add_inlock(slot, o)) != CKR_OK)
			hw_obj_put(o);
	}
	if (rv == CKR_OK) {
		/* token objects that disappeared (another process destroyed them);
		 * downwards, so that the tail moved into a hole was already seen */
		for (size_t i = n0; i-- > 0;) {
			hw_obj *o = slot->objs[i];
			if (o->oid != 0 && !seen[i] && o->born <= since)
				hw_obj_unlink_inlock(slot, o);
		}
	}
	hw_hmap_free(&at);
	free(seen);
	return rv;
}

static bool listing_due(hw_slot *slot)
{
	hw_lock(&slot->lock);
	bool loaded = slot->loaded;
	double age = hw_mono_s() - slot->loaded_at;
	hw_unlock(&slot->lock);
	if (!loaded)
		return true;
	if (slot->refresh_s > 0 && age < (double)slot->refresh_s)
		return false;
	if (slot->ops->changed == NULL)
		return slot->refresh_s > 0;
	return slot->ops->changed(slot->ctx);
}

CK_RV hw_slot_sync_io(hw_slot *slot)
{
	listing l = { .slot = slot };
	CK_RV rv;
	if (slot->ops->load == NULL || !listing_due(slot))
		return CKR_OK;
	hw_lock(&slot->lock);
	uint64_t since = slot->gen, epoch = slot->epoch;
	slot->loading = true;
	slot->ngone = 0;
	slot->list_stale = false;
	hw_unlock(&slot->lock);

	rv = slot->ops->load(slot->ctx, list_sink, &l);

	hw_lock(&slot->lock);
	if (rv == CKR_OK && (slot->epoch != epoch || slot->list_stale)) {
		/* the token went away meanwhile, or a destroy could not be
		 * remembered: this result is stale, the next call lists again */
		slot->loaded = false;
	} else if (rv == CKR_OK && (rv = merge_inlock(slot, &l, since)) == CKR_OK) {
		slot->loaded = true;
		slot->loaded_at = hw_mono_s();
	}
	slot->loading = false;
	slot->ngone = 0;
	hw_unlock(&slot->lock);
	if (rv != CKR_OK)
		hw_warn("slot \"%s\": cannot read token objects: %s", slot->conf->name, hw_rv_name(rv));
	for (size_t k = 0; k < l.n; k++)
		listed_free(slot, &l.v[k]);
	free(l.v);
	return rv;
}

CK_RV hw_slot_sync(hw_slot *slot)
{
	hw_lock(&slot->io);
	CK_RV rv = hw_slot_sync_io(slot);
	hw_unlock(&slot->io);
	return rv;
}

void hw_cache_drop_handles(void)
{
	hw_lock(&handles_lock);
	hw_hmap_free(&handles);
	hw_unlock(&handles_lock);
}

void hw_cache_atfork_child(void)
{
	/* another parent thread may have held these at fork time */
	pthread_mutex_init(&handles_lock, NULL);
	for (size_t i = 0; i < SNAP_LOCKS; i++)
		pthread_mutex_init(&snap_locks[i], NULL);
}
