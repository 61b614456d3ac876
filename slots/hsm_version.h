/*
 * The key versions of an hsm slot's keys (CKA_HWAGG_KEY_VERSION), which
 * the lower token cannot hold: one small file per slot in the store
 * ("STORE/hsm-<slot name in hex>.versions"), a line per key object that
 * is not version 1, keyed by the lower token's serial number, the
 * object's CKA_ID and its class. Rewritten whole and renamed into place
 * under a lock file, so that processes sharing the store lose no line.
 */
#ifndef HW_HSM_VERSION_H
#define HW_HSM_VERSION_H

#include "slots/backend.h"

/* path: the file's path (malloc'd) for the slot; NULL store: ".". */
char *hsm_version_path(const char *store, const char *slot);
/* The version kept for a's object (serial: the lower token's 16-byte
 * serial number field) into a's CKA_HWAGG_KEY_VERSION; nothing if none. */
void hsm_version_apply(const char *path, const CK_UTF8CHAR serial[16], hw_attrs *a);
/* want's CKA_HWAGG_KEY_VERSION kept for its object when it differs from
 * the one kept now (1 when none). */
CK_RV hsm_version_store(const char *path, const char *slot, const CK_UTF8CHAR serial[16], const hw_attrs *want);

#endif
