/*
 * Loading, initializing and finalizing lower modules; see hsm_lower.h for
 * the rules (p11-kit managed loading, serialized initialization, a private
 * copy after fork).
 */
#include "slots/hsm_lower.h"
#include "common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <p11-kit/p11-kit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* Registry and every lower C_Initialize/C_Finalize: one at a time. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static hsm_lower *loaded;       /* modules this process loaded */
static hsm_lower *inherited;    /* loaded by an ancestor: never called again */
static hsm_lower *loading;      /* being loaded through p11-kit right now */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* Counts the forks since this library was loaded: each call checks that a
 * module is this process's own, and comparing a number costs no system
 * call where getpid() does (one per signature). */
static unsigned fork_gen;

static void atfork_child(void)
{
	/* The child is single-threaded here. What the parent loaded keeps
	 * its state untouched (no finalize, no logout): it only moves to the
	 * list of modules that need a private copy. */
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELEASE);
	hsm_lower **tail = &inherited;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = loaded;
	loaded = NULL;
	/* a parent thread was inside p11-kit's load or the module's
	 * C_Initialize, holding their locks: that module is inherited too,
	 * and the child takes a private copy rather than wait for ever */
	while (*tail != NULL)
		tail = &(*tail)->next;
	if (loading != NULL) {
		loading->next = NULL;
		*tail = loading;
		loading = NULL;
	}
	pthread_mutex_init(&reg_lock, NULL);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

bool hsm_lower_ours(const hsm_lower *m)
{
	return m != NULL && m->gen == __atomic_load_n(&fork_gen, __ATOMIC_ACQUIRE);
}

static bool was_inherited_inlock(const char *path)
{
	for (hsm_lower *m = inherited; m != NULL; m = m->next)
		if (strcmp(m->path, path) == 0)
			return true;
	return false;
}

/* A config that points an hsm slot at hwagg itself would call back into us
 * forever. */
static bool is_self(const char *real)
{
	Dl_info di;
	char self[PATH_MAX];
	if (dladdr((void *)&hsm_lower_get, &di) == 0 || di.dli_fname == NULL ||
	    realpath(di.dli_fname, self) == NULL)
		return false;
	return strcmp(self, real) == 0;
}

/* C_Initialize of a raw function list: OS locking, else single-threaded. */
static CK_RV init_raw(hsm_lower *m)
{
	CK_C_INITIALIZE_ARGS args;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	CK_RV rv = m->f->C_Initialize(&args);
	if (rv == CKR_CANT_LOCK) {
		rv = m->f->C_Initialize(NULL);
		m->serial = true;
	}
	m->finalize = rv == CKR_OK;
	return rv;
}

static CK_RV load_p11kit(hsm_lower *m, char *why, size_t len)
{
	const char *msg;
	m->f = p11_kit_module_load(m->path, 0);
	if (m->f == NULL) {
		msg = p11_kit_message();
		snprintf(why, len, "cannot load: %s", msg ? msg : "p11-kit gave no reason");
		return CKR_GENERAL_ERROR;
	}
	CK_RV rv = p11_kit_module_initialize(m->f);
	if (rv == CKR_CANT_LOCK) {
		/* The module does not lock: take it raw and call it from one
		 * thread at a time. */
		p11_kit_module_release(m->f);
		m->f = p11_kit_module_load(m->path, P11_KIT_MODULE_UNMANAGED);
		if (m->f == NULL) {
			msg = p11_kit_message();
			snprintf(why, len, "cannot load: %s", msg ? msg : "p11-kit gave no reason");
			return CKR_GENERAL_ERROR;
		}
		rv = init_raw(m);
		if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
			rv = CKR_OK;            /* someone else in this process owns it */
	} else {
		m->finalize = rv == CKR_OK;
	}
	if (rv != CKR_OK) {
		snprintf(why, len, "C_Initialize failed: %s", hw_rv_name(rv));
		p11_kit_module_release(m->f);
		m->f = NULL;
	}
	return rv;
}

/* The module file loaded once more under another name: the bytes of the
 * file in a memfd, opened through /proc/self/fd. The dynamic linker knows
 * files by device and inode, so this is a second object with its own
 * globals; its dependencies (libcrypto, libstdc++ ...) stay the ones
 * already loaded. */
static void *dlopen_copy(const char *path, char *why, size_t len)
{
	char name[64];
	struct stat st;
	off_t off = 0;
	void *dl = NULL;
	int in = open(path, O_RDONLY | O_CLOEXEC), fd = -1;
	if (in < 0 || fstat(in, &st) != 0 || (fd = memfd_create("hwagg-lower", MFD_CLOEXEC)) < 0) {
		snprintf(why, len, "cannot copy the module after fork: %s", strerror(errno));
		goto out;
	}
	while (off < st.st_size && sendfile(fd, in, &off, (size_t)(st.st_size - off)) > 0)
		;
	snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
	if (off != st.st_size)
		snprintf(why, len, "cannot copy the module after fork: short copy");
	else if ((dl = dlopen(name, RTLD_NOW | RTLD_LOCAL)) == NULL)
		snprintf(why, len, "cannot load a private copy after fork: %s", dlerror());
out:
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);             /* the mapping keeps what it needs */
	return dl;
}

/* A private copy: fresh globals, nothing shared with the inherited one. */
static CK_RV load_copy(hsm_lower *m, char *why, size_t len)
{
	CK_C_GetFunctionList gfl;
	if (m->copy == NULL && (m->copy = dlopen_copy(m->path, why, len)) == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)&gfl = dlsym(m->copy, "C_GetFunctionList");
	if (gfl == NULL || gfl(&m->f) != CKR_OK || m->f == NULL) {
		snprintf(why, len, "no usable C_GetFunctionList");
		m->f = NULL;
		return CKR_GENERAL_ERROR;
	}
	CK_RV rv = init_raw(m);
	if (rv != CKR_OK) {
		snprintf(why, len, "C_Initialize failed: %s", hw_rv_name(rv));
		m->f = NULL;
	}
	return rv;
}

static hsm_lower *entry_new(const char *real)
{
	hsm_lower *m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(real)) == NULL) {
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->call_lock, NULL);
	m->gen = __atomic_load_n(&fork_gen, __ATOMIC_ACQUIRE);
	return m;
}

static void entry_free(hsm_lower *m)
{
	pthread_mutex_destroy(&m->call_lock);
	free(m->path);
	free(m);
}

CK_RV hsm_lower_get(const char *path, hsm_lower **out, char *why, size_t why_len)
{
	char real[PATH_MAX];
	hsm_lower *m = NULL;
	CK_RV rv = CKR_OK;

	pthread_once(&atfork_once, register_atfork);
	*out = NULL;
	if (realpath(path, real) == NULL) {
		snprintf(why, why_len, "cannot load: %s", strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	if (is_self(real)) {
		snprintf(why, why_len, "is hwagg itself; expected another PKCS#11 module");
		return CKR_GENERAL_ERROR;
	}
	pthread_mutex_lock(&reg_lock);
	for (m = loaded; m != NULL; m = m->next)
		if (strcmp(m->path, real) == 0)
			break;
	if (m != NULL && m->refs > 0) {
		m->refs++;
		goto out;
	}
	if (m != NULL) {
		rv = load_copy(m, why, why_len);      /* an idle private copy, kept listed */
	} else if ((m = entry_new(real)) == NULL) {
		snprintf(why, why_len, "out of memory");
		rv = CKR_HOST_MEMORY;
	} else {
		if (was_inherited_inlock(real)) {
			rv = load_copy(m, why, why_len);
		} else {
			loading = m;
			rv = load_p11kit(m, why, why_len);
			loading = NULL;
		}
		/* a mapped copy is listed even when it failed, to be reused */
		if (rv == CKR_OK || m->copy != NULL) {
			m->next = loaded;
			loaded = m;
		} else {
			entry_free(m);
		}
	}
	if (rv != CKR_OK) {
		m = NULL;
		goto out;
	}
	m->refs = 1;
	hw_debug("module %s: loaded%s%s", m->path, m->copy ? " (private copy after fork)" : "",
		 m->serial ? "; not thread-safe, calls are serialized" : "");
out:
	pthread_mutex_unlock(&reg_lock);
	*out = m;
	return rv;
}

CK_RV hsm_lower_restart(hsm_lower *m)
{
	CK_RV rv = CKR_ACTION_PROHIBITED;
	pthread_mutex_lock(&reg_lock);
	if (m->refs != 1 || !hsm_lower_ours(m))
		goto out;
	if (m->copy != NULL) {
		if (m->finalize)
			m->f->C_Finalize(NULL);
		rv = init_raw(m);
	} else {
		if (m->finalize)
			p11_kit_module_finalize(m->f);
		rv = p11_kit_module_initialize(m->f);
		m->finalize = rv == CKR_OK;
	}
out:
	pthread_mutex_unlock(&reg_lock);
	return rv;
}

void hsm_lower_put(hsm_lower *m)
{
	if (m == NULL || !hsm_lower_ours(m))
		return;                   /* inherited: leave it exactly as it is */
	pthread_mutex_lock(&reg_lock);
	if (--m->refs > 0)
		goto out;
	if (m->copy != NULL) {
		/* the copy stays mapped (idle) for a later C_Initialize */
		if (m->finalize)
			m->f->C_Finalize(NULL);
		m->f = NULL;
		m->serial = false;
		goto out;
	}
	for (hsm_lower **p = &loaded; *p != NULL; p = &(*p)->next) {
		if (*p == m) {
			*p = m->next;
			break;
		}
	}
	if (m->finalize)
		p11_kit_module_finalize(m->f);
	p11_kit_module_release(m->f);
	hw_debug("module %s: finalized", m->path);
	entry_free(m);
out:
	pthread_mutex_unlock(&reg_lock);
}
