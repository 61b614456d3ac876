/* See cloud_objdir.h. */
#include "slots/cloud_objdir.h"
#include "slots/cloud_str.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

CK_RV hw_objdir_init(hw_objdir *d, const char *store, const char *backend, const char *slot)
{
	char name[2 * 32 + 1];
	hw_sb b = { 0 };
	size_t n = strlen(slot);
	/* the slot's name in hex: any label makes a safe file name */
	hw_hex((const unsigned char *)slot, n > 32 ? 32 : n, name);
	hw_sb_printf(&b, "%s/%s-%s", store != NULL ? store : ".", backend, name);
	d->slot = slot;
	d->backend = backend;
	return (d->dir = hw_sb_take(&b)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

void hw_objdir_fini(hw_objdir *d)
{
	free(d->dir);
	d->dir = NULL;
}

static void path_of(const hw_objdir *d, int64_t oid, char *out, size_t len)
{
	snprintf(out, len, "%s/%010llx.obj", d->dir, (unsigned long long)(oid - HW_OBJDIR_BASE));
}

static CK_RV io_error(const hw_objdir *d, const char *what, const char *path)
{
	hw_error("slot \"%s\" (%s): cannot %s %s: %s", d->slot, d->backend, what, path, strerror(errno));
	return CKR_DEVICE_ERROR;
}

/* path: a file of d's directory; written whole, then renamed into place */
static CK_RV write_path(hw_objdir *d, const char *path, const hw_attrs *attrs)
{
	char tmp[4200];
	unsigned char *buf = NULL;
	size_t len = 0;
	CK_RV rv = hw_attrs_serialize(attrs, &buf, &len);
	if (rv != CKR_OK)
		return rv;
	/* the store itself first: only this slot may be using it */
	char *slash = strrchr(d->dir, '/');
	if (slash != NULL && slash != d->dir) {
		*slash = '\0';
		int r = mkdir(d->dir, 0700);
		*slash = '/';
		if (r != 0 && errno != EEXIST) {
			rv = io_error(d, "make the store directory for", d->dir);
			goto out;
		}
	}
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST) {
		rv = io_error(d, "make", d->dir);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = io_error(d, "write", tmp);
		goto out;
	}
	bool ok = write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
	if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
		rv = io_error(d, "write", path);
		unlink(tmp);
	}
out:
	free(buf);
	return rv;
}

/* CKR_OBJECT_HANDLE_INVALID when there is no such file (or it is not an
 * attribute set: logged) */
static CK_RV read_path(const hw_objdir *d, const char *path, hw_attrs *out)
{
	unsigned char buf[65536];
	FILE *f = fopen(path, "rbe");
	if (f == NULL)
		return errno == ENOENT ? CKR_OBJECT_HANDLE_INVALID : io_error(d, "read", path);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (hw_attrs_deserialize(buf, n, out) != CKR_OK) {
		hw_warn("slot \"%s\" (%s): %s is not an object file; skipped", d->slot, d->backend, path);
		return CKR_OBJECT_HANDLE_INVALID;
	}
	return CKR_OK;
}

static CK_RV unlink_path(const hw_objdir *d, const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return io_error(d, "remove", path);
	return CKR_OK;
}

static void named(const hw_objdir *d, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", d->dir, name);
}

CK_RV hw_objdir_write(hw_objdir *d, const char *name, const hw_attrs *attrs)
{
	char path[4096];
	named(d, name, path, sizeof(path));
	return write_path(d, path, attrs);
}

CK_RV hw_objdir_read(const hw_objdir *d, const char *name, hw_attrs *out)
{
	char path[4096];
	named(d, name, path, sizeof(path));
	return read_path(d, path, out);
}

CK_RV hw_objdir_unlink(const hw_objdir *d, const char *name)
{
	char path[4096];
	named(d, name, path, sizeof(path));
	return unlink_path(d, path);
}

bool hw_objdir_hexname(const char *name, const char *suffix, unsigned long long *v)
{
	char *end;
	*v = strtoull(name, &end, 16);
	return end == name + 10 && strcmp(end, suffix) == 0;
}

CK_RV hw_objdir_each(const hw_objdir *d, const char *suffix, CK_RV (*fn)(void *arg, const char *name), void *arg)
{
	CK_RV rv = CKR_OK;
	DIR *dir = opendir(d->dir);
	struct dirent *e;
	size_t sl = strlen(suffix);
	if (dir == NULL)
		return errno == ENOENT ? CKR_OK : io_error(d, "read", d->dir);
	while (rv == CKR_OK && (e = readdir(dir)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n > sl && strcmp(e->d_name + n - sl, suffix) == 0)
			rv = fn(arg, e->d_name);
	}
	closedir(dir);
	return rv;
}

static CK_RV write_obj(hw_objdir *d, int64_t oid, const hw_attrs *attrs)
{
	char path[4096];
	path_of(d, oid, path, sizeof(path));
	return write_path(d, path, attrs);
}

CK_RV hw_objdir_create(hw_objdir *d, hw_attrs *attrs, int64_t *oid)
{
	CK_OBJECT_CLASS cls = hw_attrs_get_ulong(attrs, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
	unsigned char r[5];
	CK_RV rv;
	/* keys live in KMS; only what it cannot hold comes here */
	if (cls != CKO_CERTIFICATE && cls != CKO_DATA)
		return CKR_TEMPLATE_INCONSISTENT;
	if ((rv = hw_random(r, sizeof(r))) != CKR_OK)
		return rv;
	int64_t v = 0;
	for (size_t i = 0; i < sizeof(r); i++)
		v = v << 8 | r[i];
	*oid = HW_OBJDIR_BASE + v;
	if ((rv = hw_vendor_attrs(attrs, d->backend, HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK)
		return rv;
	return write_obj(d, *oid, attrs);
}

CK_RV hw_objdir_update(hw_objdir *d, int64_t oid, const hw_attrs *attrs)
{
	return write_obj(d, oid, attrs);
}

CK_RV hw_objdir_destroy(hw_objdir *d, int64_t oid)
{
	char path[4096];
	path_of(d, oid, path, sizeof(path));
	return unlink_path(d, path);
}

typedef struct load_arg {
	hw_objdir *d;
	hw_obj_sink sink;
	void *arg;
} load_arg;

static CK_RV load_one(void *arg, const char *name)
{
	load_arg *l = arg;
	unsigned long long v;
	if (!hw_objdir_hexname(name, ".obj", &v))
		return CKR_OK;
	hw_attrs a;
	hw_attrs_init(&a);
	CK_RV rv = hw_objdir_read(l->d, name, &a);
	if (rv == CKR_OK)
		rv = l->sink(l->arg, HW_OBJDIR_BASE + (int64_t)v, &a, NULL);
	else if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_OK;            /* removed meanwhile, or not ours */
	hw_attrs_clear(&a);
	return rv;
}

CK_RV hw_objdir_load(hw_objdir *d, hw_obj_sink sink, void *arg)
{
	load_arg l = { d, sink, arg };
	return hw_objdir_each(d, ".obj", load_one, &l);
}
