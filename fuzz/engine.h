/*
 * The engine as the template and store targets drive it: one soft slot
 * whose store is in the process's private temporary directory, its token
 * initialized and the user logged in once per process (a login costs two
 * scrypt derivations: far too slow for every input). A session kept open
 * for the whole process holds the login (closing an application's last
 * session logs it out).
 */
#ifndef HW_FUZZ_ENGINE_H
#define HW_FUZZ_ENGINE_H

#include "common/ck.h"
#include "fuzz/util.h"

#define FZ_SLOT_NAME "fuzz"
#define FZ_USER_PIN  "fuzz-user-pin"

/* Start the engine (first call only) and return the store directory.
 * Any failure stops the process: the target cannot run without it. */
const char *fz_engine_start(void);
/* A new read-write session on the slot (the caller closes it). */
CK_SESSION_HANDLE fz_engine_session(void);
/* How many objects the slot shows to the process's own session (at most
 * 64): what the inputs left behind. */
CK_ULONG fz_engine_objects(void);
/* Every attribute type the rules table knows, plus one it does not: the
 * template of a "read everything" C_GetAttributeValue. */
void fz_engine_get_all(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);

#endif
