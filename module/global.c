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
#include "common/userstr.h"
#include "common/deadline.h"
#include "mechanisms/crypto.h"
#include "module/mechpolicy.h"
#include "module/audit.h"
#include "module/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Engine defaults of the per-slot "refresh_s" and "timeout_ms". */
#define HW_DEFAULT_TIMEOUT_MS 30000
/* Longest reserved string read from C_Initialize (p11-kit's x-init-reserved). */
#define HW_RESERVED_MAX 4096

hw_module hw_g;
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
	/* Another parent thread may have held any of these at fork time: the
	 * child's C_Initialize tears down with them, so they start unlocked. */
	pthread_mutex_init(&init_lock, NULL);
	hw_sessions_atfork_child();
	for (size_t i = 0; i < hw_g.nslots; i++) {
		pthread_mutex_init(&hw_g.slots[i].lock, NULL);
		pthread_mutex_init(&hw_g.slots[i].io, NULL);
	}
	hw_cache_atfork_child();
	hw_backend_loader_atfork_child();
	hw_audit_atfork_child();
	forked = 1;
}

void hw_deadline_start(const hw_slot *s)
{
	hw_deadline_set_ms(s->timeout_ms);
}

hw_security hw_slot_security(const hw_slot *s)
{
	return __atomic_load_n(&s->open, __ATOMIC_ACQUIRE) && s->ops->security != NULL ?
	       s->ops->security(s->ctx) : HW_SEC_SOFTWARE;
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
	if (*out == NULL)
		return CKR_SLOT_ID_INVALID;
	hw_deadline_start(*out);
	return CKR_OK;
}

bool hw_slot_token(hw_slot *s, CK_TOKEN_INFO *info)
{
	CK_TOKEN_INFO ti;
	if (!hw_slot_activate(s) || s->ops->token_info == NULL)
		return false;
	memset(&ti, 0, sizeof(ti));
	bool present = s->ops->token_info(s->ctx, &ti) == CKR_OK;
	hw_slot_reconcile(s);
	if (present && info != NULL)
		*info = ti;
	return present;
}

bool hw_slot_present(hw_slot *s)
{
	return hw_slot_token(s, NULL);
}

void hw_slot_reconcile(hw_slot *s)
{
	if (!__atomic_load_n(&s->open, __ATOMIC_ACQUIRE) || s->ops->token_epoch == NULL)
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
		free(s->gone);
		if (s->open && s->ops->close != NULL)
			s->ops->close(s->ctx, child);
		free(s->ctx);
		pthread_mutex_destroy(&s->lock);
		pthread_mutex_destroy(&s->io);
	}
	hw_audit_close(child);
	free(hw_g.slots);
	hw_g.slots = NULL;
	hw_g.nslots = 0;
	hw_config_free(hw_g.config);
	hw_g.config = NULL;
	hw_g.initialized = false;
}

/* Give the slot its backend: context, per-slot settings, open(). */
static CK_RV slot_open(hw_slot *s, const hw_backend_ops *ops, char *err, size_t err_len)
{
	s->ops = ops;
	s->refresh_s = (unsigned)hw_conf_int(s->conf, "refresh_s", ops->default_refresh_s);
	s->timeout_ms = (unsigned)hw_conf_int(s->conf, "timeout_ms", ops->default_timeout_ms ?
					      ops->default_timeout_ms : HW_DEFAULT_TIMEOUT_MS);
	s->ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
	if (s->ctx == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = ops->open(s->ctx, s->conf, hw_g.config, err, err_len);
	if (rv != CKR_OK) {
		free(s->ctx);
		s->ctx = NULL;
		return rv;
	}
	s->policy = hw_policy_of(s);
	__atomic_store_n(&s->open, true, __ATOMIC_RELEASE);
	return CKR_OK;
}

bool hw_slot_activate(hw_slot *s)
{
	if (__atomic_load_n(&s->open, __ATOMIC_ACQUIRE))
		return true;
	hw_lock(&s->io);
	if (!s->open && !s->failed) {
		char err[HW_CONFIG_ERR_LEN] = "";
		const hw_backend_ops *ops = hw_backend_ops_get(s->entry, err, sizeof(err));
		CK_RV rv = ops != NULL ? slot_open(s, ops, err, sizeof(err)) : CKR_FUNCTION_FAILED;
		if (rv != CKR_OK) {
			/* said once; the other slots work on */
			s->failed = true;
			hw_error("slot \"%s\" (%s): %s; the slot shows no token", s->conf->name, s->conf->type,
				 err[0] ? err : hw_rv_name(rv));
		} else if (hw_g.no_threads && ops->starts_threads) {
			hw_info("slot \"%s\" (%s) uses a worker thread although the application set "
				"CKF_LIBRARY_CANT_CREATE_OS_THREADS", s->conf->name, s->conf->type);
		}
	}
	hw_unlock(&s->io);
	return __atomic_load_n(&s->open, __ATOMIC_ACQUIRE);
}

/* Built-in backends open now, so that a bad value in their config fails
 * C_Initialize; backend modules wait for the slot's first use (nothing
 * heavy is loaded into a process that never uses them). */
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
		pthread_mutex_init(&s->io, NULL);
		s->entry = hw_backend_find(s->conf->type);
		if (!hw_backend_available(s->entry)) {
			/* conf.c already refused this; keep a clear line anyway */
			hw_error("%s: slots[%zu].type: \"%s\" is not available in this build",
				 cfg->path ? cfg->path : "<built-in>", i, s->conf->type);
			return CKR_FUNCTION_FAILED;
		}
		s->timeout_ms = (unsigned)hw_conf_int(s->conf, "timeout_ms", HW_DEFAULT_TIMEOUT_MS);
		if (s->entry->ops == NULL)
			continue;
		CK_RV rv = slot_open(s, s->entry->ops, err, sizeof(err));
		if (rv != CKR_OK) {
			char where[HW_CONFIG_ERR_LEN];
			hw_conf_backend_where(where, sizeof(where), cfg, i, err);
			hw_error("%s: %s: %s", cfg->path ? cfg->path : "<built-in>", where,
				 err[0] ? hw_conf_backend_what(err) : hw_rv_name(rv));
			return rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
		}
	}
	return CKR_OK;
}

/* The reserved pointer must be NULL per the spec; p11-kit (x-init-reserved)
 * and NSS put a string there. Whatever the application passed, it is read
 * only through the kernel's checks: a pointer that is not a readable,
 * bounded, well-formed string is CKR_ARGUMENTS_BAD, never a fault. */
static CK_RV read_reserved(const void *p, char *out, size_t cap)
{
	hw_ustr r = hw_user_string(p, out, cap);
	if (r == HW_USTR_OK)
		return CKR_OK;
	hw_log_init();
	hw_error("C_Initialize: the reserved argument (pReserved) is %s; expected NULL or a "
		 "configuration string of at most %d bytes such as \"config=/etc/hwagg/hwagg.json\"",
		 hw_ustr_name(r), HW_RESERVED_MAX - 1);
	return CKR_ARGUMENTS_BAD;
}

CK_RV hw_initialize(CK_VOID_PTR args)
{
	CK_C_INITIALIZE_ARGS *ia = args;
	const char *reserved = NULL;
	char reserved_buf[HW_RESERVED_MAX];
	CK_RV rv;

	if (ia != NULL) {
		int n = (ia->CreateMutex != NULL) + (ia->DestroyMutex != NULL) +
			(ia->LockMutex != NULL) + (ia->UnlockMutex != NULL);
		if (n != 0 && n != 4)
			return CKR_ARGUMENTS_BAD;
		if (n == 4 && !(ia->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
		if (ia->pReserved != NULL) {
			if ((rv = read_reserved(ia->pReserved, reserved_buf, sizeof(reserved_buf))) != CKR_OK)
				return rv;
			reserved = reserved_buf;
		}
	}
	pthread_once(&atfork_once, register_atfork);

	hw_lock(&init_lock);
	if (hw_g.initialized && !forked) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if (forked) {
		/* a parent thread may have been inside OpenSSL with our library
		 * context: abandon it, the child builds its own */
		hw_crypto_forget();
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
		hw_error("config: %s", err[0] ? err : hw_rv_name(rv));
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
		goto out;
	}
	hw_log_configure(cfg->log_level, cfg->log_file);
	hw_config_announce(cfg);
	hw_mech_policy_announce(cfg);
	hw_g.no_threads = ia != NULL && (ia->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS);
	if (hw_g.no_threads) {
		/* B 5.4.1 would have such a slot refused with
		 * CKR_NEED_TO_CREATE_THREADS, but GnuTLS (p11tool, every
		 * p11-kit consumer through it) sets this flag unconditionally:
		 * refusing would make those slots unusable there. Deliberate
		 * deviation, said here in the log (no slot of this tree does). */
		for (size_t i = 0; i < cfg->nslots; i++) {
			const hw_backend_entry *e = hw_backend_find(cfg->slots[i].type);
			if (e != NULL && e->ops != NULL && e->ops->starts_threads)   /* modules: when loaded */
				hw_info("slot \"%s\" (%s) will use a worker thread although the application "
					"set CKF_LIBRARY_CANT_CREATE_OS_THREADS", cfg->slots[i].name,
					cfg->slots[i].type);
		}
	}
	hw_g.config = cfg;
	hw_g.pid = getpid();
	hw_g.os_locking = ia != NULL && (ia->flags & CKF_OS_LOCKING_OK);
	rv = open_slots(cfg);
	if (rv == CKR_OK)
		rv = hw_audit_open(cfg);
	if (rv != CKR_OK) {
		teardown(false);
		goto out;
	}
	hw_g.initialized = true;
	hw_debug("module initialized: %zu slot(s), environment %s, config %s", hw_g.nslots,
		 hw_env_text(cfg), cfg->path ? cfg->path : "<built-in>");
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

CK_RV hw_module_describe(hw_module_desc *out)
{
	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	memset(out, 0, sizeof(*out));
	snprintf(out->config, sizeof(out->config), "%s", hw_g.config->path ? hw_g.config->path : "");
	snprintf(out->environment, sizeof(out->environment), "%s", hw_env_name(hw_env_current(NULL, 0)));
	snprintf(out->store, sizeof(out->store), "%s", hw_g.config->store ? hw_g.config->store : "");
	/* not configured: 90 days, except in development */
	out->rotation_days = hw_g.config->rotation_days >= 0 ? (unsigned)hw_g.config->rotation_days :
			     hw_g.config->environment == HW_ENV_DEVELOPMENT ? 0 : 90;
	out->rotation_disable = hw_g.config->rotation_disable;
	return CKR_OK;
}

CK_RV hw_slot_describe(CK_SLOT_ID id, bool deep, hw_slot_desc *out)
{
	hw_slot *s;
	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s->conf->name);
	snprintf(out->type, sizeof(out->type), "%s", s->conf->type);
	if (!deep)
		return CKR_OK;
	/* a backend module is loaded now: its health is what the operator asks */
	if (!(out->available = hw_slot_activate(s)))
		return CKR_OK;
	snprintf(out->security, sizeof(out->security), "%s", hw_security_name(hw_slot_security(s)));
	out->has_health = s->ops->health != NULL;
	if (out->has_health)
		out->health_rv = s->ops->health(s->ctx, out->health, sizeof(out->health));
	/* a policy token's objects are its members', counted there */
	if (!hw_slot_present(s) || s->policy != NULL)
		return CKR_OK;
	if (hw_slot_sync(s) != CKR_OK)
		return CKR_OK;
	hw_lock(&s->lock);
	for (size_t i = 0; i < s->nobjs; i++) {
		if (s->objs[i]->owner != 0)
			continue;                 /* a session object: not on the token */
		switch (hw_attrs_get_ulong(hw_obj_attrs_inlock(s->objs[i]), CKA_CLASS, CKO_DATA)) {
		case CKO_PRIVATE_KEY: out->private_keys++; break;
		case CKO_PUBLIC_KEY: out->public_keys++; break;
		case CKO_CERTIFICATE: out->certificates++; break;
		default: out->other++; break;
		}
	}
	out->counted = true;
	out->private_counted = s->entry->lists_private || s->auth == HW_AUTH_USER;
	hw_unlock(&s->lock);
	return CKR_OK;
}
