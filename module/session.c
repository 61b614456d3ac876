/*
 * Sessions: the session table, open and close, login state on close.
 */
#include "module/session.h"
#include "module/hmap.h"
#include "common/log.h"
#include "objects/rules.h"
#include "module/policy.h"

#include <stdlib.h>
#include <string.h>

/* The session table, in shards by handle: threads that each use their own
 * session (a TLS server's workers) look up under different locks, on
 * different cache lines. When several shards are locked, it is one at a
 * time. */
#define SHARDS 16
typedef struct shard {
	pthread_mutex_t lock;
	hw_hmap map;
} __attribute__((aligned(64))) shard;
static shard shards[SHARDS] = { [0 ... SHARDS - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER } };
static CK_SESSION_HANDLE next_session = 1;

static shard *shard_of(CK_SESSION_HANDLE h)
{
	return &shards[h % SHARDS];
}

void hw_sessions_atfork_child(void)
{
	for (size_t i = 0; i < SHARDS; i++)
		pthread_mutex_init(&shards[i].lock, NULL);
}

CK_RV hw_obj_get(hw_session *s, CK_OBJECT_HANDLE h, CK_RV not_found, hw_obj **out)
{
	return hw_obj_lookup(&hw_g.slots[s->slot], h, not_found, out);
}

static void last_key_drop(hw_session *s)
{
	hw_obj_put(s->last_key.key);
	hw_snap_put(s->last_key.snap);
	memset(&s->last_key, 0, sizeof(s->last_key));
}

CK_RV hw_session_key(hw_session *s, CK_OBJECT_HANDLE h, hw_obj **key, hw_snap **snap)
{
	hw_obj *o = s->last_key.key;
	/* still the key behind h: handles are never reused, a destroyed or
	 * dropped object is dead, and new attributes are a new snapshot (the
	 * one held cannot be freed, so the pointer cannot come back) */
	if (o == NULL || s->last_key.h != h || __atomic_load_n(&o->dead, __ATOMIC_ACQUIRE) ||
	    !hw_obj_visible(o, &hw_g.slots[o->slot]) || !hw_obj_snap_is(o, s->last_key.snap)) {
		last_key_drop(s);
		CK_RV rv = hw_obj_get(s, h, CKR_KEY_HANDLE_INVALID, &o);
		if (rv != CKR_OK)
			return rv;
		s->last_key.h = h;
		s->last_key.key = o;
		s->last_key.snap = hw_obj_snap(o);
	}
	*key = o;
	*snap = s->last_key.snap;
	return CKR_OK;
}

/* ---- sessions ------------------------------------------------------------------------ */
void hw_op_end(hw_op *op)
{
	if (op->bop != NULL && op->key != NULL) {
		hw_slot *slot = hw_slot_get(op->key->slot);
		if (slot != NULL && slot->ops->op_end != NULL)
			slot->ops->op_end(slot->ctx, op->bop);
	}
	if (op->sk != NULL && op->key != NULL) {
		hw_slot *slot = hw_obj_worker(op->key);
		if (slot->ops->sk_end != NULL)
			slot->ops->sk_end(slot->ctx, op->sk);
	}
	if (!op->borrowed) {
		hw_obj_put(op->key);
		hw_snap_put(op->snap);
	}
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
	last_key_drop(s);
	free(s->found);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

CK_RV hw_session_get(CK_SESSION_HANDLE h, hw_session **out)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	shard *sh = shard_of(h);
	hw_lock(&sh->lock);
	hw_session *s = hw_hmap_get(&sh->map, h);
	if (s != NULL && !s->closed)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
	else
		s = NULL;
	hw_unlock(&sh->lock);
	if (s != NULL) {
		hw_slot *slot = &hw_g.slots[s->slot];
		hw_deadline_start(slot);
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
	for (size_t k = 0; k < SHARDS; k++) {
		hw_lock(&shards[k].lock);
		for (size_t i = 0; i < shards[k].map.cap; i++) {
			hw_session *s = hw_hmap_at(&shards[k].map, i);
			if (s == NULL || s->slot != slot->index)
				continue;
			a++;
			if (s->flags & CKF_RW_SESSION)
				w++;
		}
		hw_unlock(&shards[k].lock);
	}
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
	s->handle = __atomic_fetch_add(&next_session, 1, __ATOMIC_RELAXED);
	shard *sh = shard_of(s->handle);
	hw_lock(&sh->lock);
	if (!hw_hmap_put(&sh->map, s->handle, s))
		rv = CKR_HOST_MEMORY;
	hw_unlock(&sh->lock);
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
	/* io before the session table (the count), which comes before the slot lock */
	hw_lock(&slot->io);
	hw_session_counts(slot, &left, NULL, NULL, NULL);
	/* a member a policy token logged in stays so while it has sessions */
	bool held = left == 0 && hw_policy_member_in_use(slot);
	hw_lock(&slot->lock);
	hw_slot_drop_objects_inlock(slot, true, s->handle);
	bool logout = left == 0 && !held && slot->auth != HW_AUTH_PUBLIC;
	hw_unlock(&slot->lock);
	if (logout)
		hw_slot_logout_io(slot);
	hw_unlock(&slot->io);
	if (slot->policy != NULL)
		hw_policy_session_closed(slot, s->handle);
	/* the session lock comes first of all: take it with nothing held */
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
	shard *sh = shard_of(h);
	hw_lock(&sh->lock);
	hw_session *s = hw_hmap_get(&sh->map, h);
	if (s != NULL && !s->closed) {
		s->closed = true;
		hw_hmap_del(&sh->map, h);
	} else {
		s = NULL;
	}
	hw_unlock(&sh->lock);
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
		for (size_t k = 0; k < SHARDS && s == NULL; k++) {
			hw_hmap *m = &shards[k].map;
			hw_lock(&shards[k].lock);
			for (size_t i = 0; i < m->cap && s == NULL; i++) {
				hw_session *c = hw_hmap_at(m, i);
				if (c != NULL && c->slot == slot->index && !c->closed &&
				    (!stale_only || c->epoch != epoch)) {
					c->closed = true;
					hw_hmap_del(m, c->handle);
					s = c;
				}
			}
			hw_unlock(&shards[k].lock);
		}
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
	for (size_t k = 0; k < SHARDS; k++) {
		hw_lock(&shards[k].lock);
		for (size_t i = 0; i < shards[k].map.cap; i++) {
			hw_session *s = hw_hmap_at(&shards[k].map, i);
			if (s == NULL)
				continue;
			s->closed = true;
			hw_session_put(s);
		}
		hw_hmap_free(&shards[k].map);
		hw_unlock(&shards[k].lock);
	}
	for (size_t i = 0; i < hw_g.nslots; i++) {
		hw_slot *slot = &hw_g.slots[i];
		if (slot->auth != HW_AUTH_PUBLIC) {
			slot->auth = HW_AUTH_PUBLIC;
			/* a child never logs out what it inherited */
			if (!child && slot->open && slot->ops->logout != NULL)
				slot->ops->logout(slot->ctx);
		}
	}
	hw_cache_drop_handles();
}
