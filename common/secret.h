/*
 * The one secret-memory API: wipe, a locked non-dumpable buffer, and a
 * constant-time comparison. Use it for PINs, derived keys and key bytes.
 */
#ifndef HW_SECRET_H
#define HW_SECRET_H

#include <stddef.h>
#include <stdbool.h>

/* Zero memory in a way the compiler may not drop. */
void hw_wipe(void *p, size_t n);

/* Constant-time equality of two buffers of the same length. */
bool hw_ct_equal(const void *a, const void *b, size_t n);

/* A buffer in locked (mlock) memory excluded from core dumps
 * (MADV_DONTDUMP). If mlock is refused (RLIMIT_MEMLOCK) the buffer is still
 * excluded from dumps and a warning is logged once; it is never silently an
 * ordinary malloc. */
typedef struct hw_secret {
	unsigned char *data;
	size_t len;      /* bytes in use */
	size_t map_len;  /* bytes mapped */
} hw_secret;

hw_secret *hw_secret_new(size_t len);                        /* zeroed, NULL on failure */
hw_secret *hw_secret_dup(const void *data, size_t len);
void hw_secret_free(hw_secret *s);                           /* wipes, unmaps; NULL ok */

#endif
