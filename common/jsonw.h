/*
 * Writing JSON text by hand, for the audit log's records: a record is one
 * line built in a caller's buffer without allocation, and every string in it
 * is escaped so that no value (a label, an executable's name) can break the
 * line or forge a field.
 */
#ifndef HW_JSONW_H
#define HW_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one UTF-8 sequence at s (len bytes available): its length, or 0
 * if malformed (overlong, surrogate, beyond U+10FFFF, truncated). */
size_t hw_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* A buffer being written; once full it stays full (ok false). */
typedef struct hw_jsonw {
	char *buf;
	size_t cap, len;
	bool ok;
} hw_jsonw;

void hw_jsonw_init(hw_jsonw *w, char *buf, size_t cap);
void hw_jsonw_raw(hw_jsonw *w, const char *s);
void hw_jsonw_fmt(hw_jsonw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A quoted string of at most max bytes of s (len bytes; cut on a character
 * boundary, "..." appended when cut): control characters, quotes and
 * backslashes escaped, a malformed byte as U+FFFD. */
void hw_jsonw_str(hw_jsonw *w, const void *s, size_t len, size_t max);
/* "name": then the string; skipped when s is NULL. */
void hw_jsonw_kstr(hw_jsonw *w, const char *name, const char *s, size_t max);
/* Bytes as a quoted lower-case hex string. */
void hw_jsonw_hex(hw_jsonw *w, const void *b, size_t len);

#endif
