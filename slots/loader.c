/*
 * Backend modules: found in HW_BACKEND_DIR ($HWAGG_BACKEND_DIR overrides
 * it, for a build tree), loaded with dlopen(RTLD_LOCAL) the first time a
 * slot of their type is used, handed hw_engine_services, and kept loaded
 * for the life of the process (a forked child keeps using the mapping; its
 * slots open fresh contexts on it).
 */
#include "slots/services.h"
#include "common/log.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef HW_BACKEND_DIR
#define HW_BACKEND_DIR "/usr/lib/hwagg/backends"
#endif

#define HW_INIT_R(ret, name, params, args) .name = name,
#define HW_INIT_V(name, params, args) .name = name,

const hw_services hw_engine_services = {
	.abi = HW_BACKEND_ABI,
	.size = sizeof(hw_services),
	.log_threshold = &hw_log_threshold,
	.log_vmsg = hw_log_vmsg,
	HW_SERVICES(HW_INIT_R, HW_INIT_V)
};

/* Loaded ops by registry row; under load_lock. */
#define HW_MAX_BACKENDS 32
static const hw_backend_ops *loaded[HW_MAX_BACKENDS];
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *backend_dir(void)
{
	const char *d = secure_getenv("HWAGG_BACKEND_DIR");
	return d != NULL && d[0] == '/' ? d : HW_BACKEND_DIR;
}

static const hw_backend_ops *load_inlock(const hw_backend_entry *e, char *err, size_t err_len)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.so", backend_dir(), e->module) >= sizeof(path)) {
		snprintf(err, err_len, "backend module path too long");
		return NULL;
	}
	/* RTLD_NODELETE: its code may run until the process ends, whatever
	 * the application does with us */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (dl == NULL) {
		const char *why = dlerror();
		snprintf(err, err_len, "cannot load backend module %s: %s", path, why ? why : "unknown error");
		return NULL;
	}
	hw_backend_entry_fn entry = (hw_backend_entry_fn)dlsym(dl, HW_BACKEND_ENTRY);
	const hw_backend_ops *ops = entry != NULL ? entry(&hw_engine_services, e->type) : NULL;
	if (ops == NULL) {
		snprintf(err, err_len, "backend module %s %s", path, entry == NULL ?
			 "has no " HW_BACKEND_ENTRY " entry point" :
			 "is of another hwagg build or has no such backend");
		dlclose(dl);
		return NULL;
	}
	hw_info("backend \"%s\": loaded %s", e->type, path);
	return ops;
}

const hw_backend_ops *hw_backend_ops_get(const hw_backend_entry *e, char *err, size_t err_len)
{
	size_t n, i;
	const hw_backend_entry *t = hw_backend_table(&n);
	if (e->ops != NULL)
		return e->ops;
	if (e->module == NULL) {
		snprintf(err, err_len, "\"%s\" is not built into this module", e->type);
		return NULL;
	}
	i = (size_t)(e - t);
	if (i >= n || i >= HW_MAX_BACKENDS) {
		snprintf(err, err_len, "backend \"%s\" is not in the registry", e->type);
		return NULL;
	}
	const hw_backend_ops *ops = __atomic_load_n(&loaded[i], __ATOMIC_ACQUIRE);
	if (ops != NULL)
		return ops;
	pthread_mutex_lock(&load_lock);
	if ((ops = loaded[i]) == NULL && (ops = load_inlock(e, err, err_len)) != NULL)
		__atomic_store_n(&loaded[i], ops, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&load_lock);
	return ops;
}

void hw_backend_loader_atfork_child(void)
{
	pthread_mutex_init(&load_lock, NULL);
}
