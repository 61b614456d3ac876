/*
 * A small map from 64-bit handles to pointers (open addressing, linear
 * probing, tombstones). Not locked: each map's owner says which lock
 * guards it.
 */
#ifndef HW_HMAP_H
#define HW_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hw_hmap {
	uint64_t *keys;               /* 0 = empty, HW_HMAP_DEL = deleted */
	void **vals;
	size_t cap, used;
} hw_hmap;

#define HW_HMAP_DEL UINT64_MAX

void *hw_hmap_get(const hw_hmap *m, uint64_t k);
bool hw_hmap_put(hw_hmap *m, uint64_t k, void *v);
void hw_hmap_del(hw_hmap *m, uint64_t k);
void hw_hmap_free(hw_hmap *m);
/* Value of bucket i, or NULL when the bucket holds no entry. */
static inline void *hw_hmap_at(const hw_hmap *m, size_t i)
{
	return m->keys[i] == 0 || m->keys[i] == HW_HMAP_DEL ? NULL : m->vals[i];
}

#endif
