/*
 * Hex digits, both ways: key ids in configurations and on command lines,
 * digests in files.
 */
#ifndef HW_HEX_H
#define HW_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* n hex digits (either case, n even, at least 2) into out (cap bytes); false
 * on anything else, or when it does not fit. */
bool hw_hex_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len);
/* len bytes as 2*len lowercase digits and a NUL; out holds 2*len+1. */
void hw_hex_encode(const unsigned char *in, size_t len, char *out);

#endif
