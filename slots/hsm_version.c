/* See hsm_version.h. */
#include "slots/hsm_version.h"
#include "common/hwagg.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAX (2 * 16 + 1 + 2 * 128 + 1 + 20 + 1)   /* "serial id class" */

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	out[2 * n] = '\0';
}

char *hsm_version_path(const char *store, const char *slot)
{
	size_t n = strlen(slot) > 32 ? 32 : strlen(slot);
	char name[2 * 32 + 1];
	/* the slot's name in hex: any label makes a safe file name */
	hex((const unsigned char *)slot, n, name);
	size_t len = strlen(store != NULL ? store : ".") + strlen(name) + 32;
	char *p = malloc(len);
	if (p != NULL)
		snprintf(p, len, "%s/hsm-%s.versions", store != NULL ? store : ".", name);
	return p;
}

/* "serial id class" of a's object; false when it has no CKA_ID to key it */
static bool key_of(const CK_UTF8CHAR serial[16], const hw_attrs *a, char out[KEY_MAX])
{
	const CK_ATTRIBUTE *id = hw_attrs_get(a, CKA_ID);
	char s[33], i[257];
	if (id == NULL || id->ulValueLen == 0 || id->ulValueLen > 128)
		return false;
	hex(serial, 16, s);
	hex(id->pValue, id->ulValueLen, i);
	snprintf(out, KEY_MAX, "%s %s %lu", s, i, (unsigned long)hw_attrs_get_ulong(a, CKA_CLASS, CKO_DATA));
	return true;
}

/* The version on key's line of f (0: none). */
static CK_ULONG lookup(FILE *f, const char *key)
{
	char line[KEY_MAX + 32];
	size_t kl = strlen(key);
	CK_ULONG v = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			v = strtoul(line + kl + 1, NULL, 10);
	return v;
}

void hsm_version_apply(const char *path, const CK_UTF8CHAR serial[16], hw_attrs *a)
{
	char key[KEY_MAX];
	FILE *f;
	if (path == NULL || !key_of(serial, a, key) || (f = fopen(path, "re")) == NULL)
		return;
	CK_ULONG v = lookup(f, key);
	fclose(f);
	if (v > 0)
		hw_attrs_set_ulong(a, CKA_HWAGG_KEY_VERSION, v);
}

/* The file without key's line, plus "key v" (v > 1), into a new file
 * renamed over it; the caller holds the lock. */
static CK_RV rewrite(const char *path, const char *slot, const char *key, CK_ULONG v)
{
	char tmp[4200], line[KEY_MAX + 32];
	size_t kl = strlen(key);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	FILE *in = fopen(path, "re"), *out = fopen(tmp, "we");
	bool ok = out != NULL;
	while (ok && in != NULL && fgets(line, sizeof(line), in) != NULL)
		if (!(strncmp(line, key, kl) == 0 && line[kl] == ' '))
			ok = fputs(line, out) >= 0;
	if (ok && v > 1)
		ok = fprintf(out, "%s %lu\n", key, (unsigned long)v) > 0;
	if (in != NULL)
		fclose(in);
	if (out != NULL) {
		ok = fflush(out) == 0 && fsync(fileno(out)) == 0 && ok;
		ok = fclose(out) == 0 && ok;
	}
	if (!ok || rename(tmp, path) != 0) {
		hw_error("slot \"%s\" (hsm): cannot write the key versions to %s: %s", slot, path, strerror(errno));
		unlink(tmp);
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV hsm_version_store(const char *path, const char *slot, const CK_UTF8CHAR serial[16], const hw_attrs *want)
{
	char key[KEY_MAX], lock[4200];
	const CK_ATTRIBUTE *va = hw_attrs_get(want, CKA_HWAGG_KEY_VERSION);
	if (path == NULL || va == NULL || va->ulValueLen != sizeof(CK_ULONG) || !key_of(serial, want, key))
		return CKR_OK;          /* nothing to keep, or no way to find it again */
	CK_ULONG v = *(const CK_ULONG *)va->pValue, now = 0;
	FILE *f = fopen(path, "re");
	if (f != NULL) {
		now = lookup(f, key);
		fclose(f);
	}
	if (v == (now > 0 ? now : 1))
		return CKR_OK;
	/* the store may not exist yet */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			hw_warn("slot \"%s\" (hsm): cannot make %s: %s", slot, dir, strerror(errno));
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	int fd = open(lock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		hw_error("slot \"%s\" (hsm): cannot lock %s: %s", slot, lock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CKR_DEVICE_ERROR;
	}
	CK_RV rv = rewrite(path, slot, key, v);
	close(fd);              /* and the lock with it */
	return rv;
}
