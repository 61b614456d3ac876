#include "fuzz/util.h"
#include "common/log.h"
#include "mechanisms/mech.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool fz_bytes(fz_in *in, size_t len, const uint8_t **out)
{
	if (in->n < len)
		return false;
	*out = in->p;
	in->p += len;
	in->n -= len;
	return true;
}

static bool fz_le(fz_in *in, size_t len, uint64_t *v)
{
	const uint8_t *b;
	if (!fz_bytes(in, len, &b))
		return false;
	*v = 0;
	for (size_t i = len; i-- > 0;)
		*v = (*v << 8) | b[i];
	return true;
}

bool fz_u8(fz_in *in, uint8_t *v)
{
	uint64_t x;
	bool ok = fz_le(in, 1, &x);
	*v = ok ? (uint8_t)x : 0;
	return ok;
}

bool fz_u16(fz_in *in, uint16_t *v)
{
	uint64_t x;
	bool ok = fz_le(in, 2, &x);
	*v = ok ? (uint16_t)x : 0;
	return ok;
}

bool fz_u32(fz_in *in, uint32_t *v)
{
	uint64_t x;
	bool ok = fz_le(in, 4, &x);
	*v = ok ? (uint32_t)x : 0;
	return ok;
}

bool fz_u64(fz_in *in, uint64_t *v)
{
	bool ok = fz_le(in, 8, v);
	if (!ok)
		*v = 0;
	return ok;
}

bool fz_read_mech(fz_in *in, CK_MECHANISM_TYPE *type)
{
	size_t count = 0;
	const hw_mech *table = hw_mech_table(&count);
	uint8_t pick;
	uint32_t raw;
	if (!fz_u8(in, &pick))
		return false;
	if (pick != 0xFF) {
		*type = table[pick % count].type;
		return true;
	}
	if (!fz_u32(in, &raw))
		return false;
	*type = raw;
	return true;
}

void *fz_alloc(size_t len)
{
	/* malloc(0) is a unique pointer under ASan and glibc; any access to it
	 * is reported */
	void *c = malloc(len);
	if (c == NULL)
		c = malloc(1);
	if (c == NULL)
		fz_fail(__FILE__, __LINE__, "out of memory");
	return c;
}

void *fz_dup(const void *p, size_t len)
{
	void *c = fz_alloc(len);
	if (len > 0)
		memcpy(c, p, len);
	return c;
}

char *fz_strdup(const void *p, size_t len)
{
	char *c = malloc(len + 1);
	if (c == NULL)
		fz_fail(__FILE__, __LINE__, "out of memory");
	if (len > 0)
		memcpy(c, p, len);
	c[len] = '\0';
	return c;
}

void fz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: property failed: %s\n", file, line, what);
	abort();
}

static char fz_dir[256];

static int fz_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p);
	return 0;
}

static void fz_rm_dir(void)
{
	if (fz_dir[0] != '\0')
		nftw(fz_dir, fz_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_tmpdir(void)
{
	if (fz_dir[0] != '\0')
		return fz_dir;
	const char *base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fz_dir, sizeof(fz_dir), "%s/hwagg-fuzz-XXXXXX", base);
	if (mkdtemp(fz_dir) == NULL) {
		perror(fz_dir);
		fz_dir[0] = '\0';
		fz_fail(__FILE__, __LINE__, "cannot make a temporary directory");
	}
	atexit(fz_rm_dir);
	return fz_dir;
}

const char *fz_log_file(void)
{
	const char *e = getenv("HWAGG_FUZZ_LOG");
	return e != NULL && *e != '\0' ? NULL : "/dev/null";
}

void fz_quiet_logs(void)
{
	hw_log_threshold = HW_LOG_DEBUG;
	hw_log_configure(HW_LOG_DEBUG, fz_log_file());
}
