#include "common/ck.h"
#include "common/secret.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void hw_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

bool hw_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static size_t page_round(size_t n)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t p = ps > 0 ? (size_t)ps : 4096;
	return (n + sizeof(hw_secret) + p - 1) / p * p;
}

hw_secret *hw_secret_new(size_t len)
{
	static int warned;
	size_t map_len = page_round(len ? len : 1);
	void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Exclusion from core dumps is required; locking is best effort. */
	if (madvise(m, map_len, MADV_DONTDUMP) != 0) {
		munmap(m, map_len);
		return NULL;
	}
	if (mlock(m, map_len) != 0 && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		hw_warn("secret memory: locking refused (RLIMIT_MEMLOCK?): secrets are kept out of core dumps "
			"but may be swapped");
	hw_secret *s = m;
	s->data = (unsigned char *)m + sizeof(hw_secret);
	s->len = len;
	s->map_len = map_len;
	return s;
}

hw_secret *hw_secret_dup(const void *data, size_t len)
{
	hw_secret *s = hw_secret_new(len);
	if (s != NULL && len > 0)
		memcpy(s->data, data, len);
	return s;
}

void hw_secret_free(hw_secret *s)
{
	if (s == NULL)
		return;
	size_t map_len = s->map_len;
	hw_wipe(s, map_len);
	munlock(s, map_len);
	munmap(s, map_len);
}
