/*
 * Module state: initialization (the C_Initialize truth table), the slots
 * built from the config, fork detection, and the lock order.
 *
 * Locks, in the only order they are ever taken (a thread holding one may
 * take only those below it):
 *
 *   session lock  serializes the calls on one session; held across that
 *                 session's own backend work (its sign, its listing).
 *   slot io lock  (a policy slot's before its members': its login and
 *                 logout take theirs) serializes the slot's state-changing backend hooks and
 *                 listings (login, logout, PIN and token init, changed,
 *                 load, update). Held across their I/O, but never taken by
 *                 key operations, cache lookups or slot and token queries.
 *   table lock    the session table (in shards; one held at a time).
 *   slot lock     the slot's login state and object cache; in-memory work
 *                 only, never held across a backend hook that does I/O.
 *   handle lock   the object handle table (a leaf).
 *   snapshot lock an object's current-attributes pointer (a leaf).
 *
 * The concurrency suite runs under ThreadSanitizer, whose lock-order
 * detection fails the run on any inversion of this order.
 */
#ifndef HW_GLOBAL_H
#define HW_GLOBAL_H

#include "common/ck.h"
#include "module/conf.h"
#include "slots/backend.h"
#include <pthread.h>
#include <sys/types.h>

typedef struct hw_slot {
	size_t index;                 /* == slot ID: config order, stable */
	const hw_slot_conf *conf;
	const hw_backend_entry *entry;
	const hw_backend_ops *ops;    /* set once the backend is open */
	void *ctx;
	bool open;                    /* ops->open succeeded (read atomically) */
	bool failed;                  /* a backend module could not be loaded or opened */
	pthread_mutex_t lock;         /* login state, object cache */
	pthread_mutex_t io;           /* state-changing hooks and listings */
	hw_auth auth;                 /* this application's login state on the token */
	hw_obj **objs;                /* token objects (cached) and session objects */
	size_t nobjs, cap;
	bool loaded;                  /* token objects cached */
	uint64_t gen;                 /* counts objects entering the cache */
	bool loading;                 /* a listing is running (io held) */
	bool list_stale;              /* the running listing's result must be dropped */
	int64_t *gone;                /* token objects destroyed here while listing */
	size_t ngone, capgone;
	double loaded_at;             /* monotonic seconds of the last listing */
	unsigned refresh_s;           /* from config or the backend's default */
	unsigned timeout_ms;
	unsigned sessions, rw_sessions;
	uint64_t epoch;               /* backend token epoch the state above belongs to */
	struct hw_policy *policy;     /* a policy slot's state (module/policy.h); NULL for
	                               * every other slot. Set at C_Initialize. */
} hw_slot;

typedef struct hw_module {
	bool initialized;
	pid_t pid;                    /* process that initialized */
	hw_config *config;
	hw_slot *slots;
	size_t nslots;
	bool os_locking;              /* locking wanted by the application */
	bool no_threads;              /* CKF_LIBRARY_CANT_CREATE_OS_THREADS */
} hw_module;

extern hw_module hw_g;

/* Entry-point preamble: not initialized (or a forked child that has not
 * initialized again) -> CKR_CRYPTOKI_NOT_INITIALIZED. */
CK_RV hw_check_init(void);

CK_RV hw_initialize(CK_VOID_PTR args);
CK_RV hw_finalize(CK_VOID_PTR reserved);

/* Slot by ID, NULL if unknown. */
hw_slot *hw_slot_get(CK_SLOT_ID id);
/* Preamble of the functions that take a slot ID: initialized (else
 * CKR_CRYPTOKI_NOT_INITIALIZED), then known (else CKR_SLOT_ID_INVALID). */
CK_RV hw_slot_lookup(CK_SLOT_ID id, hw_slot **out);
/* Load and open the slot's backend module if that was not done yet; false
 * (logged once) when it cannot be: the slot then shows no token. */
bool hw_slot_activate(hw_slot *s);
/* Whether the slot's token is present now (backend token_info succeeds).
 * Also brings the engine's view up to date after a token removal. */
bool hw_slot_present(hw_slot *s);
/* The same, with the backend's token info when present (info may be NULL). */
bool hw_slot_token(hw_slot *s, CK_TOKEN_INFO *info);
/* The engine's login and logout of a slot, whichever token asked for them
 * (its own C_Login, or a policy slot's on its members): io taken inside,
 * state rules checked, login state set, logged. */
CK_RV hw_slot_login(hw_slot *s, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len);
CK_RV hw_slot_logout(hw_slot *s);
/* The backend's token went away since the engine last looked (its
 * token_epoch changed): close the sessions of the old epoch, return the
 * login state to public, drop the object cache. No lock may be held. */
void hw_slot_reconcile(hw_slot *s);

/* Where the slot's keys live (the backend's answer; software if it has none). */
hw_security hw_slot_security(const hw_slot *s);
/* Start the deadline of a PKCS#11 call on this slot (the slot's timeout_ms). */
void hw_deadline_start(const hw_slot *s);

void hw_lock(pthread_mutex_t *m);
void hw_unlock(pthread_mutex_t *m);

/* ---- what PKCS#11 cannot say, read-only, for module/admin.c -------------- */
typedef struct hw_module_desc {
	char config[4096];            /* the file loaded; "" for the built-in default */
	char environment[16];         /* "production", "staging", "development" */
	char store[4096];             /* store directory */
	unsigned rotation_days;       /* keys older than this are due; 0: never */
	bool rotation_disable;        /* a rotated-out private key is disabled, not destroyed */
} hw_module_desc;

typedef struct hw_slot_desc {
	char name[33];                /* config name = token label */
	char type[24];                /* backend type: "soft", "hsm", ... */
	bool available;               /* its backend opened (a module loaded) */
	char security[16];            /* where its keys live: "hardware", "software", ... */
	bool has_health;              /* the backend has a health check */
	CK_RV health_rv;              /* its verdict: CKR_OK when usable */
	char health[256];             /* its one line */
	bool counted;                 /* token present: the counts are valid */
	bool private_counted;         /* private objects are in the counts (the backend
	                               * lists them without a login, or the user is in) */
	unsigned private_keys, public_keys, certificates, other;
} hw_slot_desc;

/* Initialized, else CKR_CRYPTOKI_NOT_INITIALIZED; out NULL: CKR_ARGUMENTS_BAD. */
CK_RV hw_module_describe(hw_module_desc *out);
/* A slot's config name and type; deep: also its backend's health (may do
 * I/O: no lock is held) and its token objects by class, private ones
 * included, which C_FindObjects shows only after a login. Unknown slot:
 * CKR_SLOT_ID_INVALID. */
CK_RV hw_slot_describe(CK_SLOT_ID id, bool deep, hw_slot_desc *out);

#endif
