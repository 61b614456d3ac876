/* See cloud_str.h. */
#include "slots/cloud_str.h"

#include <openssl/evp.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(hw_sb *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (s == NULL) {
		b->failed = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void hw_sb_add(hw_sb *b, const char *s, size_t len)
{
	if (!grow(b, len))
		return;
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void hw_sb_str(hw_sb *b, const char *s)
{
	hw_sb_add(b, s, strlen(s));
}

void hw_sb_chr(hw_sb *b, char c)
{
	hw_sb_add(b, &c, 1);
}

void hw_sb_printf(hw_sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(b, (size_t)n)) {
		b->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *hw_sb_take(hw_sb *b)
{
	char *s = NULL;
	if (!b->failed && grow(b, 0))
		s = b->s;
	else
		free(b->s);
	memset(b, 0, sizeof(*b));
	return s;
}

void hw_sb_free(hw_sb *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void hw_hex(const unsigned char *d, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- base64 (KMS blobs are standard base64 with padding) ---- */
char *hw_b64_encode(const unsigned char *d, size_t len)
{
	char *s = malloc(4 * ((len + 2) / 3) + 1);
	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, d, (int)len);
	return s;
}

unsigned char *hw_b64_decode(const char *s, size_t *len)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n % 4 != 0 || n > (1u << 20))
		return NULL;
	unsigned char *d = malloc(n / 4 * 3 + 1);
	int r = d != NULL ? EVP_DecodeBlock(d, (const unsigned char *)s, (int)n) : -1;
	if (r < 0) {
		free(d);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	size_t pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*len = (size_t)r - pad;
	return d;
}

char *hw_b64url_encode(const unsigned char *d, size_t len)
{
	char *s = hw_b64_encode(d, len);
	if (s == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; s[i] != '\0' && s[i] != '='; i++)
		s[o++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	s[o] = '\0';
	return s;
}
unsigned char *hw_b64url_decode(const char *s, size_t *len)
{
	size_t n = s != NULL ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n == 0 || n % 4 == 1 || n > (1u << 20))
		return NULL;
	char *t = malloc(n + 4);
	if (t == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		/* only the URL-safe alphabet: the standard one's symbols, padding
		 * inside and whitespace would be accepted silently */
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_')) {
			free(t);
			return NULL;
		}
		t[o++] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	while (o % 4 != 0)
		t[o++] = '=';
	t[o] = '\0';
	unsigned char *d = hw_b64_decode(t, len);
	free(t);
	return d;
}

json_object *hw_cloud_json_parse(const char *body, size_t len)
{
	if (body == NULL || len == 0 || len > (1u << 20))
		return NULL;
	json_tokener *t = json_tokener_new();
	json_object *o = t != NULL ? json_tokener_parse_ex(t, body, (int)len) : NULL;
	bool ok = t != NULL && json_tokener_get_error(t) == json_tokener_success && json_object_is_type(o, json_type_object);
	json_tokener_free(t);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

const char *hw_cloud_jstr(json_object *o, const char *key)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
