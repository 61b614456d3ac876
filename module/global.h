/*
 * Module state: initialization (the C_Initialize truth table), the slots
 * built from the config, fork detection, and the module lock.
 *
 * Lock order, always: module lock -> slot lock -> session lock. The module
 * lock protects the session table and the object handle table; a slot lock
 * protects that slot's login state and object cache; a session lock
 * serializes calls on one session. No lock of ours is held across a
 * backend's network or device I/O except a slot lock during load().
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
	const hw_backend_ops *ops;
	void *ctx;
	bool open;                    /* ops->open succeeded */
	pthread_mutex_t lock;
	hw_auth auth;                 /* this application's login state on the token */
	hw_obj **objs;                /* token objects (cached) and session objects */
	size_t nobjs, cap;
	bool loaded;                  /* token objects cached */
	unsigned sessions, rw_sessions;
	uint64_t epoch;               /* backend token epoch the state above belongs to */
} hw_slot;

typedef struct hw_module {
	bool initialized;
	pid_t pid;                    /* process that initialized */
	hw_config *config;
	hw_slot *slots;
	size_t nslots;
	pthread_mutex_t lock;
	bool os_locking;              /* locking wanted by the application */
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
/* Whether the slot's token is present now (backend token_info succeeds).
 * Also brings the engine's view up to date after a token removal. */
bool hw_slot_present(hw_slot *s);
/* The backend's token went away since the engine last looked (its
 * token_epoch changed): close the sessions of the old epoch, return the
 * login state to public, drop the object cache. No lock may be held. */
void hw_slot_reconcile(hw_slot *s);

void hw_lock(pthread_mutex_t *m);
void hw_unlock(pthread_mutex_t *m);

/* ---- what PKCS#11 cannot say, read-only, for module/admin.c -------------- */
typedef struct hw_module_desc {
	char config[4096];            /* the file loaded; "" for the built-in default */
	char environment[16];         /* "production", "staging", "development" */
	char store[4096];             /* store directory */
} hw_module_desc;

typedef struct hw_slot_desc {
	char name[33];                /* config name = token label */
	char type[24];                /* backend type: "soft", "hsm", ... */
	bool has_health;              /* the backend has a health check */
	CK_RV health_rv;              /* its verdict: CKR_OK when usable */
	char health[256];             /* its one line */
	bool counted;                 /* token present: the counts are valid */
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
