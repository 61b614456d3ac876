/*
 * Reading a string whose address came from an application, without trusting
 * that the address is readable: a bad pointer gives an error, never a fault
 * in the host process.
 */
#ifndef HW_USERSTR_H
#define HW_USERSTR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
	HW_USTR_OK = 0,
	HW_USTR_UNREADABLE,     /* the memory cannot be read */
	HW_USTR_TOO_LONG,       /* no NUL within cap - 1 bytes */
	HW_USTR_MALFORMED,      /* control characters or invalid UTF-8 */
} hw_ustr;

/* Copy the NUL-terminated string at p into out (cap bytes). */
hw_ustr hw_user_string(const void *p, char *out, size_t cap);
const char *hw_ustr_name(hw_ustr r);

#endif
