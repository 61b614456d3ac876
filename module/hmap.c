/* The handle map (hmap.h). */
#include "module/hmap.h"

#include <stdlib.h>
#include <string.h>

static size_t hm_slot(const hw_hmap *m, uint64_t k)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 17) & (m->cap - 1);
}

void *hw_hmap_get(const hw_hmap *m, uint64_t k)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = hm_slot(m, k), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		if (m->keys[i] == 0)
			return NULL;
		if (m->keys[i] == k)
			return m->vals[i];
	}
	return NULL;
}

bool hw_hmap_put(hw_hmap *m, uint64_t k, void *v)
{
	if ((m->used + 1) * 2 > m->cap) {
		/* used counts tombstones too. Rebuild without them, and double
		 * only when the live entries need it: sessions and object handles
		 * come and go (handles are never reused), and a map that grew with
		 * every handle ever issued would make each scan of it (counting a
		 * slot's sessions) cost more for the rest of the process. */
		size_t live = 0;
		for (size_t i = 0; i < m->cap; i++)
			live += m->keys[i] != 0 && m->keys[i] != HW_HMAP_DEL;
		hw_hmap n = { 0 };
		n.cap = m->cap == 0 ? 64 : (live + 1) * 4 > m->cap ? m->cap * 2 : m->cap;
		n.keys = calloc(n.cap, sizeof(*n.keys));
		n.vals = calloc(n.cap, sizeof(*n.vals));
		if (n.keys == NULL || n.vals == NULL) {
			free(n.keys);
			free(n.vals);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i] != 0 && m->keys[i] != HW_HMAP_DEL)
				hw_hmap_put(&n, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = n;
	}
	size_t i = hm_slot(m, k);
	while (m->keys[i] != 0 && m->keys[i] != HW_HMAP_DEL)
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->vals[i] = v;
	m->used++;
	return true;
}

void hw_hmap_del(hw_hmap *m, uint64_t k)
{
	if (m->cap == 0)
		return;
	for (size_t i = hm_slot(m, k), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		if (m->keys[i] == 0)
			return;
		if (m->keys[i] == k) {
			m->keys[i] = HW_HMAP_DEL;   /* tombstone; 'used' stays counted until rehash */
			return;
		}
	}
}

void hw_hmap_free(hw_hmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
