/*
 * The objects a cloud KMS cannot hold (certificates, data objects): one
 * file each in a directory of the configured store, named by the object's
 * id, written whole and renamed into place so that other processes see it
 * complete or not at all. Their oids start at HW_OBJDIR_BASE, apart from
 * the KMS keys' own.
 */
#ifndef HW_CLOUD_OBJDIR_H
#define HW_CLOUD_OBJDIR_H

#include "slots/backend.h"
#include <stdbool.h>

#define HW_OBJDIR_BASE ((int64_t)1 << 40)

typedef struct hw_objdir {
	char *dir;
	const char *slot;       /* for logs */
	const char *backend;
} hw_objdir;

/* No I/O: the directory is made on the first write. */
CK_RV hw_objdir_init(hw_objdir *d, const char *store, const char *backend, const char *slot);
void hw_objdir_fini(hw_objdir *d);
CK_RV hw_objdir_create(hw_objdir *d, hw_attrs *attrs, int64_t *oid);
CK_RV hw_objdir_update(hw_objdir *d, int64_t oid, const hw_attrs *attrs);
CK_RV hw_objdir_destroy(hw_objdir *d, int64_t oid);
CK_RV hw_objdir_load(hw_objdir *d, hw_obj_sink sink, void *arg);

/* Other files of the directory, by name (no slash): one attribute set
 * each, written whole and renamed into place. read: CKR_OBJECT_HANDLE_INVALID
 * when there is no such file; unlink: none is fine. */
CK_RV hw_objdir_write(hw_objdir *d, const char *name, const hw_attrs *attrs);
CK_RV hw_objdir_read(const hw_objdir *d, const char *name, hw_attrs *out);
CK_RV hw_objdir_unlink(const hw_objdir *d, const char *name);
/* name is 10 hex digits (*v) and suffix */
bool hw_objdir_hexname(const char *name, const char *suffix, unsigned long long *v);
/* fn(arg, name) for every file whose name ends in suffix; stops at an error. */
CK_RV hw_objdir_each(const hw_objdir *d, const char *suffix, CK_RV (*fn)(void *arg, const char *name), void *arg);

#endif
