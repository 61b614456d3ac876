/*
 * Sessions, object handles and each slot's object cache.
 */
#include "module/session.h"
#include "common/log.h"
#include "objects/rules.h"

#include <stdlib.h>
#include <string.h>

/* ---- a small handle -> pointer map (open addressing) ------------------------- */
typedef struct hmap {
	uint64_t *keys;               /* 0 = empty, ~0 = deleted */
	void **vals;
	size_t cap, used;
} hmap;

#define HM_DEL UINT64_MAX

static size_t hm_slot(const hmap *m, uint64_t k)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 17) & (m->cap - 1);
}

static void *hm_get(const hmap *m, uint64_t k)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = hm_slot(m, k), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		if (m->keys[i] == 0)
			return NULL;
		if (m->keys[i] == k)
			return m->vals[i];
	}
	return NULL;
}

static bool hm_put(hmap *m, uint64_t k, void *v)
{
	if ((m->used + 1) * 2 > m->cap) {
		hmap n = { 0 };
		n.cap = m->cap ? m->cap * 2 : 64;
		n.keys = calloc(n.cap, sizeof(*n.keys));
		n.vals = calloc(n.cap, sizeof(*n.vals));
		if (n.keys == NULL || n.vals == NULL) {
			free(n.keys);
			free(n.vals);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i] != 0 && m->keys[i] != HM_DEL)
				hm_put(&n, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = n;
	}
	size_t i = hm_slot(m, k);
	while (m->keys[i] != 0 && m->keys[i] != HM_DEL)
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->vals[i] = v;
	m->used++;
	return true;
}

static void hm_del(hmap *m, uint64_t k)
{
	if (m->cap == 0)
		return;
	for (size_t i = hm_slot(m, k), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		if (m->keys[i] == 0)
			return;
		if (m->keys[i] == k) {
			m->keys[i] = HM_DEL;   /* tombstone; 'used' stays counted until rehash */
			return;
		}
	}
}

static void hm_free(hmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* Sessions: under hw_g.lock. Object handles: under handles_lock (a leaf). */
static hmap sessions;
static CK_SESSION_HANDLE next_session = 1;
static hmap handles;
static CK_OBJECT_HANDLE next_object = 1;
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- objects ---------------------------------------------------------------------- */
hw_obj *hw_obj_new(size_t slot, int64_t oid, CK_SESSION_HANDLE owner, hw_attrs *attrs, void *bdata)
{
	hw_obj *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->slot = slot;
	o->oid = oid;
	o->owner = owner;
	o->attrs = *attrs;           /* take */
	hw_attrs_init(attrs);
	o->bdata = bdata;
	o->refs = 1;                 /* the slot's reference */
	return o;
}

static void obj_free(hw_obj *o)
{
	hw_slot *slot = hw_slot_get(o->slot);
	if (o->bdata != NULL && slot != NULL && slot->ops->free_bdata != NULL)
		slot->ops->free_bdata(slot->ctx, o->bdata);
	hw_attrs_clear(&o->attrs);
	free(o);
}

void hw_obj_put(hw_obj *o)
{
	if (o != NULL && __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0)
		obj_free(o);
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
	bool ok = hm_put(&handles, o->handle, o);
	hw_unlock(&handles_lock);
	if (!ok)
		return CKR_HOST_MEMORY;
	slot->objs[slot->nobjs++] = o;
	return CKR_OK;
}

void hw_obj_unlink_inlock(hw_slot *slot, hw_obj *o)
{
	for (size_t i = 0; i < slot->nobjs; i++) {
		if (slot->objs[i] != o)
			continue;
		slot->objs[i] = slot->objs[--slot->nobjs];
		hw_lock(&handles_lock);
		hm_del(&handles, o->handle);
		hw_unlock(&handles_lock);
		o->dead = true;
		hw_obj_put(o);
		return;
	}
}

bool hw_obj_visible(const hw_obj *o, const hw_slot *slot)
{
	if (hw_attrs_get_bool(&o->attrs, CKA_PRIVATE, false))
		return __atomic_load_n(&slot->auth, __ATOMIC_RELAXED) == HW_AUTH_USER;
	return true;
}

CK_RV hw_obj_get(hw_session *s, CK_OBJECT_HANDLE h, CK_RV not_found, hw_obj **out)
{
	hw_slot *slot = &hw_g.slots[s->slot];
	hw_lock(&handles_lock);
	hw_obj *o = hm_get(&handles, h);
	if (o != NULL && !o->dead && o->slot == s->slot && hw_obj_visible(o, slot))
		__atomic_add_fetch(&o->refs, 1, __ATOMIC_ACQ_REL);
	else
		o = NULL;
	hw_unlock(&handles_lock);
	*out = o;
	return o ? CKR_OK : not_found;
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

void hw_slot_logout_inlock(hw_slot *slot)
{
	for (size_t i = slot->nobjs; i-- > 0;) {
		hw_obj *o = slot->objs[i];
		/* B 5.6.8: private session objects die; handles to private token
		 * objects become invalid for good (a new sync gives new handles) */
		if (hw_attrs_get_bool(&o->attrs, CKA_PRIVATE, false))
			hw_obj_unlink_inlock(slot, o);
	}
	slot->auth = HW_AUTH_PUBLIC;
	/* the next sync brings the private token objects back, with new
	 * handles, whether or not the backend saw a change */
	slot->loaded = false;
	if (slot->ops->logout != NULL)
		slot->ops->logout(slot->ctx);
}

typedef struct sync_ctx {
	hw_slot *slot;
	bool *seen;
	size_t nseen;
	CK_RV rv;
} sync_ctx;

static CK_RV sync_sink(void *arg, int64_t oid, hw_attrs *attrs, void *bdata)
{
	sync_ctx *sc = arg;
	hw_slot *slot = sc->slot;
	for (size_t i = 0; i < sc->nseen; i++) {
		hw_obj *o = slot->objs[i];
		if (o->oid != oid || o->dead)
			continue;
		sc->seen[i] = true;
		/* keep handle and cached key; take the fresh attributes */
		hw_attrs old = o->attrs;
		o->attrs = *attrs;
		hw_attrs_init(attrs);
		hw_attrs_clear(&old);
		if (bdata != NULL && slot->ops->free_bdata != NULL)
			slot->ops->free_bdata(slot->ctx, bdata);
		return CKR_OK;
	}
	hw_obj *o = hw_obj_new(slot->index, oid, 0, attrs, bdata);
	if (o == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = hw_obj_add_inlock(slot, o);
	if (rv != CKR_OK) {
		hw_obj_put(o);
		return rv;
	}
	return CKR_OK;
}

CK_RV hw_slot_sync_inlock(hw_slot *slot)
{
	if (slot->ops->load == NULL)
		return CKR_OK;
	if (slot->loaded && (slot->ops->changed == NULL || !slot->ops->changed(slot->ctx)))
		return CKR_OK;
	sync_ctx sc = { .slot = slot, .nseen = slot->nobjs };
	sc.seen = calloc(sc.nseen + 1, sizeof(bool));
	if (sc.seen == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = slot->ops->load(slot->ctx, sync_sink, &sc);
	if (rv == CKR_OK) {
		/* token objects that disappeared (another process destroyed them) */
		for (size_t i = sc.nseen; i-- > 0;) {
			hw_obj *o = slot->objs[i];
			if (o->oid != 0 && !sc.seen[i])
				hw_obj_unlink_inlock(slot, o);
		}
		slot->loaded = true;
	} else {
		hw_warn("slot \"%s\": cannot read token objects: %s", slot->conf->name, hw_rv_name(rv));
	}
	free(sc.seen);
	return rv;
}

/* ---- sessions ------------------------------------------------------------------------ */
void hw_op_end(hw_op *op)
{
	if (op->bop != NULL && op->key != NULL) {
		hw_slot *slot = hw_slot_get(op->key->slot);
		if (slot != NULL && slot->ops->op_end != NULL)
			slot->ops->op_end(slot->ctx, op->bop);
	}
	if (op->key != NULL)
		hw_obj_put(op->key);
	EVP_PKEY_free(op->pkey);
	hw_digest_free(op->dg);
	if (op->buf != NULL) {
		hw_wipe(op->buf, op->cap);
		free(op->buf);
	}
	free(op->label);
	memset(op, 0, sizeof(*op));
}

static void session_free(hw_session *s)
{
	for (int k = 0; k < HW_OP_COUNT; k++)
		hw_op_end(&s->ops[k]);
	free(s->found);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CK_RV hw_session_get(CK_SESSION_HANDLE h, hw_session **out)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	hw_lock(&hw_g.lock);
	hw_session *s = hm_get(&sessions, h);
	if (s != NULL && !s->closed)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	else
		s = NULL;
	hw_unlock(&hw_g.lock);
	if (s != NULL) {
		hw_slot *slot = &hw_g.slots[s->slot];
		if (slot->ops->token_epoch != NULL && slot->ops->token_epoch(slot->ctx) != s->epoch) {
			/* the token went away under this session (B 5.1.7) */
			hw_session_put(s);
			s = NULL;
			hw_slot_reconcile(slot);
		}
	}
	*out = s;
	return s ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

CK_RV hw_session_answer(CK_SESSION_HANDLE h, CK_RV answer)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return answer;
}

void hw_session_put(hw_session *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		session_free(s);
}

void hw_session_counts(hw_slot *slot, unsigned *all, unsigned *rw, bool *ro_exists, bool *so_rw)
{
	unsigned a = 0, w = 0;
	hw_lock(&hw_g.lock);
	for (size_t i = 0; i < sessions.cap; i++) {
		if (sessions.keys[i] == 0 || sessions.keys[i] == HM_DEL)
			continue;
		hw_session *s = sessions.vals[i];
		if (s->slot != slot->index)
			continue;
		a++;
		if (s->flags & CKF_RW_SESSION)
			w++;
	}
	hw_unlock(&hw_g.lock);
	if (all) *all = a;
	if (rw) *rw = w;
	if (ro_exists) *ro_exists = a > w;
	if (so_rw) *so_rw = w > 0 && slot->auth == HW_AUTH_SO;
}

CK_STATE hw_session_state(const hw_session *s, const hw_slot *slot)
{
	bool rw = s->flags & CKF_RW_SESSION;
	switch (__atomic_load_n(&slot->auth, __ATOMIC_RELAXED)) {
	case HW_AUTH_USER: return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	case HW_AUTH_SO: return CKS_RW_SO_FUNCTIONS;
	default: return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	}
}

CK_RV hw_session_open(hw_slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
	CK_RV rv = CKR_OK;
	hw_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(&s->lock, NULL);
	s->slot = slot->index;
	s->epoch = __atomic_load_n(&slot->epoch, __ATOMIC_ACQUIRE);
	s->flags = flags;
	s->refs = 1;               /* the table's reference */
	hw_lock(&hw_g.lock);
	s->handle = next_session++;
	if (!hm_put(&sessions, s->handle, s))
		rv = CKR_HOST_MEMORY;
	hw_unlock(&hw_g.lock);
	if (rv != CKR_OK) {
		session_free(s);
		return rv;
	}
	*out = s->handle;
	return CKR_OK;
}

/* After a session left the table: its objects, and the login state when it
 * was the application's last session on the token (B 5.6.2). */
static void session_closed(hw_session *s)
{
	hw_slot *slot = &hw_g.slots[s->slot];
	unsigned left;
	/* counted before the slot lock: the module lock comes first */
	hw_session_counts(slot, &left, NULL, NULL, NULL);
	hw_lock(&slot->lock);
	hw_slot_drop_objects_inlock(slot, true, s->handle);
	if (left == 0 && slot->auth != HW_AUTH_PUBLIC)
		hw_slot_logout_inlock(slot);
	hw_unlock(&slot->lock);
	hw_lock(&s->lock);
	for (int k = 0; k < HW_OP_COUNT; k++)
		hw_op_end(&s->ops[k]);
	hw_unlock(&s->lock);
	hw_session_put(s);
}

CK_RV hw_session_close(CK_SESSION_HANDLE h)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	hw_lock(&hw_g.lock);
	hw_session *s = hm_get(&sessions, h);
	if (s != NULL && !s->closed) {
		s->closed = true;
		hm_del(&sessions, h);
	} else {
		s = NULL;
	}
	hw_unlock(&hw_g.lock);
	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	session_closed(s);
	return CKR_OK;
}

/* Close the slot's sessions; stale_only: only those of another epoch. */
static void close_where(hw_slot *slot, bool stale_only, uint64_t epoch)
{
	for (;;) {
		hw_session *s = NULL;
		hw_lock(&hw_g.lock);
		for (size_t i = 0; i < sessions.cap && s == NULL; i++) {
			if (sessions.keys[i] == 0 || sessions.keys[i] == HM_DEL)
				continue;
			hw_session *c = sessions.vals[i];
			if (c->slot == slot->index && !c->closed && (!stale_only || c->epoch != epoch)) {
				c->closed = true;
				hm_del(&sessions, c->handle);
				s = c;
			}
		}
		hw_unlock(&hw_g.lock);
		if (s == NULL)
			break;
		session_closed(s);
	}
}

CK_RV hw_session_close_all(hw_slot *slot)
{
	close_where(slot, false, 0);
	return CKR_OK;
}

void hw_session_close_stale(hw_slot *slot, uint64_t epoch)
{
	close_where(slot, true, epoch);
}

void hw_sessions_drop_all(bool child)
{
	hw_lock(&hw_g.lock);
	for (size_t i = 0; i < sessions.cap; i++) {
		if (sessions.keys[i] == 0 || sessions.keys[i] == HM_DEL)
			continue;
		hw_session *s = sessions.vals[i];
		s->closed = true;
		hw_session_put(s);
	}
	hm_free(&sessions);
	hw_unlock(&hw_g.lock);
	for (size_t i = 0; i < hw_g.nslots; i++) {
		hw_slot *slot = &hw_g.slots[i];
		if (slot->auth != HW_AUTH_PUBLIC) {
			slot->auth = HW_AUTH_PUBLIC;
			/* a child never logs out what it inherited */
			if (!child && slot->open && slot->ops->logout != NULL)
				slot->ops->logout(slot->ctx);
		}
	}
	hw_lock(&handles_lock);
	hm_free(&handles);
	hw_unlock(&handles_lock);
}
