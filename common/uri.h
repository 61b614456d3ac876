/*
 * PKCS#11 URIs (RFC 7512): percent-encoding of attribute values, shared by
 * everything that writes a URI (the admin API's key URIs, the hsm slot's
 * provider URI).
 */
#ifndef HW_URI_H
#define HW_URI_H

#include <stddef.h>

typedef enum {
	HW_URI_PATH,     /* a path attribute value: token, object, serial ... */
	HW_URI_QUERY,    /* a query attribute value: module-path */
	HW_URI_BYTES,    /* a byte string (id): every byte as %XX */
} hw_uri_part;

/* Encode len bytes of v into out (cap bytes, NUL-terminated when cap > 0).
 * Returns the length of the whole encoding, like snprintf: a result >= cap
 * means out holds only the encodings of whole characters that fit. */
size_t hw_uri_encode(char *out, size_t cap, const void *v, size_t len, hw_uri_part part);

#endif
