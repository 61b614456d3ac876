/*
 * A growing string for building requests (canonical requests, form
 * bodies). An allocation failure sticks: later appends do nothing and
 * hw_sb_take returns NULL, so a builder checks once at the end.
 */
#ifndef HW_CLOUD_STR_H
#define HW_CLOUD_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

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

/* base64 (standard, padded) of data, malloc'd; decode into a malloc'd
 * buffer (NULL when s is not padded base64) */
char *hw_b64_encode(const unsigned char *d, size_t len);
unsigned char *hw_b64_decode(const char *s, size_t *len);
/* base64url without padding (JWTs), malloc'd */
char *hw_b64url_encode(const unsigned char *d, size_t len);
/* and its decoding (JOSE, RFC 7515 section 2: Azure's JWKs and
 * signatures); padded input is taken too, other alphabets are not */
unsigned char *hw_b64url_decode(const char *s, size_t *len);

/* A JSON object from a service's answer of len bytes (at most 1 MiB, as
 * an answer's body), or NULL. */
json_object *hw_cloud_json_parse(const char *body, size_t len);
/* o's string member key, or NULL (absent, not a string, o not an object) */
const char *hw_cloud_jstr(json_object *o, const char *key);

/* CRC32C (Castagnoli, reflected, as GCP's integrity fields use it) of d,
 * continuing from crc (0 to start). cloud_crc32c.c */
uint32_t hw_crc32c(uint32_t crc, const void *d, size_t len);

#endif
