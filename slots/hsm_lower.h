/*
 * The PKCS#11 modules behind hsm slots ("lower" modules). Each module file
 * is loaded and initialized once per process however many slots use it,
 * and finalized when the last of them closes.
 *
 * Loading: through p11-kit in managed mode (p11_kit_module_load,
 * p11_kit_module_initialize), which initializes the module with
 * CKF_OS_LOCKING_OK and mutex callbacks. A module that answers
 * CKR_CANT_LOCK is loaded unmanaged and initialized for single-threaded
 * use; every call into it is then serialized (hsm_enter/hsm_done).
 * Initialization of all lower modules is serialized: some modules crash
 * when C_Initialize runs in two threads at once.
 *
 * Fork: a child must neither use nor finalize what it inherited (SoftHSM2
 * without reset_on_fork would hand the child the parent's sessions and
 * login; tpm2-pkcs11 would put the parent's TPM sessions out of step). A
 * module that was loaded in this process when it forked is therefore never
 * called again in the child: the child loads a second, private copy of the
 * module file and initializes that. p11-kit cannot give this: it dlopens,
 * which returns the inherited copy, and runs C_Initialize on it again.
 * dlmopen(LM_ID_NEWLM) would, but its namespace brings a second libc whose
 * pthread keys collide with the first one's in the same threads (OpenSSL in
 * both then crashes). So the copy is the file's bytes in a memfd, dlopened
 * through /proc/self/fd: a new object with its own globals in our
 * namespace, sharing only its dependencies (libcrypto, libstdc++, tss2 ...),
 * which hold no per-token state. The copy stays mapped until exit and is
 * reused by later initializations in the same process.
 */
#ifndef HW_HSM_LOWER_H
#define HW_HSM_LOWER_H

#include "common/ck.h"
#include <pthread.h>
#include <sys/types.h>

typedef struct hsm_lower hsm_lower;
struct hsm_lower {
	char *path;                 /* canonical path of the module file */
	CK_FUNCTION_LIST *f;        /* what we call */
	bool serial;                /* not thread-safe: one call at a time */
	pthread_mutex_t call_lock;  /* held around each call when serial */
	unsigned gen;               /* fork generation of the process that loaded it */
	int refs;                   /* slots using it; 0: an idle private copy */
	bool finalize;              /* our C_Initialize succeeded: finalize at the end */
	void *copy;                 /* dlopen handle of a private copy, else NULL */
	hsm_lower *next;
};

/* The loaded and initialized module for path, with a reference. On failure
 * why says what went wrong (for the log line naming the module). */
CK_RV hsm_lower_get(const char *path, hsm_lower **out, char *why, size_t why_len);
/* Drop a reference; the last one finalizes the module. Does nothing to a
 * module this process inherited through fork. */
void hsm_lower_put(hsm_lower *m);
/* Finalize and initialize m again, when this slot is its only user in the
 * process (else CKR_ACTION_PROHIBITED, nothing done): some modules
 * (SoftHSM2) look for tokens only in C_Initialize. */
CK_RV hsm_lower_restart(hsm_lower *m);
/* Whether this process loaded m (false in a forked child). */
bool hsm_lower_ours(const hsm_lower *m);

static inline void hsm_enter(hsm_lower *m)
{
	if (m->serial)
		pthread_mutex_lock(&m->call_lock);
}

/* Leave after a call; passes its result through. */
static inline CK_RV hsm_done(hsm_lower *m, CK_RV rv)
{
	if (m->serial)
		pthread_mutex_unlock(&m->call_lock);
	return rv;
}

#endif
