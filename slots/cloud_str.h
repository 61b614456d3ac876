/*
 * A growing string for building requests (canonical requests, form
 * bodies). An allocation failure sticks: later appends do nothing and
 * hw_sb_take returns NULL, so a builder checks once at the end.
 */
#ifndef HW_CLOUD_STR_H
#define HW_CLOUD_STR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hw_sb {
	char *s;
	size_t len, cap;
	bool failed;
} hw_sb;

void hw_sb_add(hw_sb *b, const char *s, size_t len);
void hw_sb_str(hw_sb *b, const char *s);
void hw_sb_chr(hw_sb *b, char c);
void hw_sb_printf(hw_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (the caller frees it), or NULL after a failure. */
char *hw_sb_take(hw_sb *b);
void hw_sb_free(hw_sb *b);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hw_hex(const unsigned char *d, size_t n, char *out);

#endif
