/*
 * C_Initialize / C_Finalize and the module state.
 *
 * The C_Initialize truth table (B 5.4.1):
 *
 *   CKF_OS_LOCKING_OK | mutex callbacks | hwagg
 *   ------------------+-----------------+-------------------------------------
 *   clear             | all NULL        | OK: uses its own pthread locks anyway
 *   set               | all NULL        | OK: pthread locks
 *   clear             | all set         | CKR_CANT_LOCK: hwagg locks only with
 *                     |                 | OS primitives and may not pretend
 *   set               | all set         | OK: pthread locks (our choice)
 *   any               | some set        | CKR_ARGUMENTS_BAD
 *
 * pReserved inside the arguments must be NULL per the spec; p11-kit
 * (x-init-reserved) and NSS put a configuration string there, so a string
 * is accepted on purpose and read for "config=PATH".
 *
 * Fork: a child is a new application (UG "Applications and processes").
 * After fork every call but C_Initialize returns CKR_CRYPTOKI_NOT_INITIALIZED;
 * the child's C_Initialize abandons the parent's backend connections (never
 * closing, logging out or flushing them) and starts fresh.
 */
#include "module/global.h"
#include "module/session.h"
#include "common/log.h"
#include "mechanisms/crypto.h"
#include "module/mechpolicy.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

hw_module hw_g = { .lock = PTHREAD_MUTEX_INITIALIZER };
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static volatile int forked;

void hw_lock(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
}

void hw_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}

static void atfork_child(void)
{
	/* Another parent thread may have held these at fork time. */
	pthread_mutex_init(&hw_g.lock, NULL);
	pthread_mutex_init(&init_lock, NULL);
	for (size_t i = 0; i < hw_g.nslots; i++)
		pthread_mutex_init(&hw_g.slots[i].lock, NULL);
	forked = 1;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

CK_RV hw_check_init(void)
{
	if (!hw_g.initialized || forked)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

hw_slot *hw_slot_get(CK_SLOT_ID id)
{
	return id < hw_g.nslots ? &hw_g.slots[id] : NULL;
}

CK_RV hw_slot_lookup(CK_SLOT_ID id, hw_slot **out)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	*out = hw_slot_get(id);
	return *out != NULL ? CKR_OK : CKR_SLOT_ID_INVALID;
}

bool hw_slot_present(hw_slot *s)
{
	CK_TOKEN_INFO info;
	if (!s->open || s->ops->token_info == NULL)
		return false;
	memset(&info, 0, sizeof(info));
	bool present = s->ops->token_info(s->ctx, &info) == CKR_OK;
	hw_slot_reconcile(s);
	return present;
}

void hw_slot_reconcile(hw_slot *s)
{
	if (!s->open || s->ops->token_epoch == NULL)
		return;
	uint64_t now = s->ops->token_epoch(s->ctx);
	if (now == __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE))
		return;
	hw_lock(&s->lock);
	bool changed = s->epoch != now;
	if (changed) {
		/* UG "Session events": removal logs everything out and ends
		 * the sessions; the objects belonged to the token that left */
		hw_slot_drop_objects_inlock(s, false, 0);
		s->auth = HW_AUTH_PUBLIC;
		__atomic_store_n(&s->epoch, now, __ATOMIC_RELEASE);
	}
	hw_unlock(&s->lock);
	if (changed) {
		hw_session_close_stale(s, now);
		hw_info("slot \"%s\": token was removed: its sessions are closed", s->conf->name);
	}
}

/* Free everything; forked: abandon backend state instead of closing it. */
static void teardown(bool child)
{
	hw_sessions_drop_all(child);
	for (size_t i = 0; i < hw_g.nslots; i++) {
		hw_slot *s = &hw_g.slots[i];
		hw_slot_drop_objects_inlock(s, false, 0);
		free(s->objs);
		if (s->open && s->ops->close != NULL)
			s->ops->close(s->ctx, child);
		free(s->ctx);
		pthread_mutex_destroy(&s->lock);
	}
	free(hw_g.slots);
	hw_g.slots = NULL;
	hw_g.nslots = 0;
	hw_config_free(hw_g.config);
	hw_g.config = NULL;
	hw_g.initialized = false;
}

static CK_RV open_slots(hw_config *cfg)
{
	hw_g.slots = calloc(cfg->nslots ? cfg->nslots : 1, sizeof(hw_slot));
	if (hw_g.slots == NULL)
		return CKR_HOST_MEMORY;
	hw_g.nslots = cfg->nslots;
	for (size_t i = 0; i < cfg->nslots; i++) {
		hw_slot *s = &hw_g.slots[i];
		char err[HW_CONFIG_ERR_LEN] = "";
		s->index = i;
		s->conf = &cfg->slots[i];
		pthread_mutex_init(&s->lock, NULL);
		const hw_backend_entry *e = hw_backend_find(s->conf->type);
		if (e == NULL || e->ops == NULL) {
			/* conf.c already refused this; keep a clear line anyway */
			hw_error("%s: slots[%zu].type: \"%s\" is not available in this build",
				 cfg->path ? cfg->path : "<built-in>", i, s->conf->type);
			return CKR_FUNCTION_FAILED;
		}
		s->ops = e->ops;
		s->ctx = calloc(1, s->ops->ctx_size ? s->ops->ctx_size : 1);
		if (s->ctx == NULL)
			return CKR_HOST_MEMORY;
		CK_RV rv = s->ops->open(s->ctx, s->conf, cfg, err, sizeof(err));
		if (rv != CKR_OK) {
			hw_error("%s: slots[%zu] (\"%s\"): %s", cfg->path ? cfg->path : "<built-in>",
				 i, s->conf->name, err[0] ? err : hw_rv_name(rv));
			return rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
		}
		s->open = true;
	}
	return CKR_OK;
}

CK_RV hw_initialize(CK_VOID_PTR args)
{
	CK_C_INITIALIZE_ARGS *ia = args;
	const char *reserved = NULL;
	CK_RV rv;

	if (ia != NULL) {
		int n = (ia->CreateMutex != NULL) + (ia->DestroyMutex != NULL) +
			(ia->LockMutex != NULL) + (ia->UnlockMutex != NULL);
		if (n != 0 && n != 4)
			return CKR_ARGUMENTS_BAD;
		if (n == 4 && !(ia->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
		reserved = ia->pReserved;
	}
	pthread_once(&atfork_once, register_atfork);

	hw_lock(&init_lock);
	if (hw_g.initialized && !forked) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if (forked) {
		if (hw_g.initialized)
			teardown(true);
		forked = 0;
	}
	hw_log_init();
	rv = hw_crypto_init();
	if (rv != CKR_OK)
		goto out;
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *cfg = NULL;
	rv = hw_config_load(reserved, &cfg, err, sizeof(err));
	if (rv != CKR_OK) {
		hw_error("configuration error: %s", err[0] ? err : hw_rv_name(rv));
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
		goto out;
	}
	hw_log_configure(cfg->log_level, cfg->log_file);
	hw_mech_policy_announce(cfg);
	if (ia != NULL && (ia->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS)) {
		/* B 5.4.1 would have such a slot refused with
		 * CKR_NEED_TO_CREATE_THREADS, but GnuTLS (p11tool, every
		 * p11-kit consumer through it) sets this flag unconditionally:
		 * refusing would make those slots unusable there. Deliberate
		 * deviation, said in the README and here in the log. */
		for (size_t i = 0; i < cfg->nslots; i++) {
			const hw_backend_entry *e = hw_backend_find(cfg->slots[i].type);
			if (e != NULL && e->ops != NULL && e->ops->starts_threads)
				hw_info("slot \"%s\" (%s) will use a worker thread although the application "
					"set CKF_LIBRARY_CANT_CREATE_OS_THREADS", cfg->slots[i].name,
					cfg->slots[i].type);
		}
	}
	hw_g.config = cfg;
	hw_g.pid = getpid();
	hw_g.os_locking = ia != NULL && (ia->flags & CKF_OS_LOCKING_OK);
	rv = open_slots(cfg);
	if (rv != CKR_OK) {
		teardown(false);
		goto out;
	}
	hw_g.initialized = true;
	hw_debug("initialized: %zu slot(s), environment %s, config %s", hw_g.nslots,
		 hw_env_name(cfg->environment), cfg->path ? cfg->path : "<built-in>");
out:
	hw_unlock(&init_lock);
	return rv;
}

CK_RV hw_finalize(CK_VOID_PTR reserved)
{
	CK_RV rv = CKR_OK;
	if (reserved != NULL)
		return CKR_ARGUMENTS_BAD;
	hw_lock(&init_lock);
	if (!hw_g.initialized || forked) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
		goto out;
	}
	teardown(false);
	hw_log_close();
out:
	hw_unlock(&init_lock);
	return rv;
}
