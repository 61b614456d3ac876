/*
 * JSON text for the audit log (jsonw.h).
 */
#include "common/jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t hw_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 :
		   (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0 || n > len)
		return 0;
	uint32_t v = n == 1 ? s[0] : s[0] & (0x7Fu >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3Fu);
	}
	if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

void hw_jsonw_init(hw_jsonw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->ok = cap > 0;
	if (cap > 0)
		buf[0] = '\0';
}

static void put(hw_jsonw *w, const char *s, size_t n)
{
	if (!w->ok || w->len + n >= w->cap) {
		w->ok = false;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void hw_jsonw_raw(hw_jsonw *w, const char *s)
{
	put(w, s, strlen(s));
}

void hw_jsonw_fmt(hw_jsonw *w, const char *fmt, ...)
{
	va_list ap;
	if (!w->ok)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->ok = false;
		w->buf[w->len] = '\0';
		return;
	}
	w->len += (size_t)n;
}

void hw_jsonw_str(hw_jsonw *w, const void *s, size_t len, size_t max)
{
	const unsigned char *p = s;
	char esc[8];
	size_t i = 0;
	put(w, "\"", 1);
	while (i < len) {
		uint32_t cp = 0;
		size_t n = hw_utf8_next(p + i, len - i, &cp);
		if (i + (n ? n : 1) > max) {
			put(w, "...", 3);
			break;
		}
		if (n == 0) {
			put(w, "\\ufffd", 6);
			n = 1;
		} else if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			put(w, esc, 2);
		} else if (cp < 0x20 || cp == 0x7F) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			put(w, esc, 6);
		} else {
			put(w, (const char *)p + i, n);
		}
		i += n;
	}
	put(w, "\"", 1);
}

void hw_jsonw_kstr(hw_jsonw *w, const char *name, const char *s, size_t max)
{
	if (s == NULL)
		return;
	hw_jsonw_fmt(w, ",\"%s\":", name);
	hw_jsonw_str(w, s, strlen(s), max);
}

void hw_jsonw_hex(hw_jsonw *w, const void *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = b;
	char two[2];
	put(w, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		two[0] = digits[p[i] >> 4];
		two[1] = digits[p[i] & 15];
		put(w, two, 2);
	}
	put(w, "\"", 1);
}
