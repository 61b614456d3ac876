/*
 * Checks of single configuration values and the messages they give
 * (conf_int.h).
 */
#include "module/conf_int.h"
#include "common/jsonw.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages -------------------------------------------------------------- */

/* "<file>: <where>: <fmt>" (where NULL: "<file>: <fmt>"); returns
 * CKR_ARGUMENTS_BAD, the code of every content error. */
CK_RV hw_conf_fail(const conf_ctx *c, const char *where, const char *fmt, ...)
{
	va_list ap;
	if (c->err == NULL || c->err_len == 0)
		return CKR_ARGUMENTS_BAD;
	int n = snprintf(c->err, c->err_len, "%s: %s%s", c->file, where ? where : "", where ? ": " : "");
	if (n >= 0 && (size_t)n < c->err_len) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return CKR_ARGUMENTS_BAD;
}

CK_RV hw_conf_oom(const conf_ctx *c)
{
	hw_conf_fail(c, NULL, "out of memory");
	return CKR_HOST_MEMORY;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
}

/* A user string, quoted, control characters and bad bytes escaped, long
 * values cut, so a hostile value can neither forge nor flood a log line.
 * buf must hold CONF_QUOTE_LEN bytes. */
const char *hw_conf_show(char *buf, const char *s, size_t slen)
{
	size_t o = 0, i = 0;
	buf[o++] = '"';
	while (i < slen && i < CONF_SHOW_MAX) {
		uint32_t cp = 0;
		size_t n = hw_utf8_next((const unsigned char *)s + i, slen - i, &cp);
		if (n == 0 || is_control(cp) || cp == '"' || cp == '\\') {
			o += (size_t)snprintf(buf + o, CONF_QUOTE_LEN - o, n == 0 ? "\\x%02x" :
					      cp == '"' || cp == '\\' ? "\\%c" : "\\u%04x",
					      n == 0 ? (unsigned char)s[i] : (unsigned)cp);
			n = n == 0 ? 1 : n;
		} else {
			memcpy(buf + o, s + i, n);
			o += n;
		}
		i += n;
	}
	o += (size_t)snprintf(buf + o, CONF_QUOTE_LEN - o, "%s\"", i < slen ? "..." : "");
	return buf;
}

/* JSON path of a member: parent.key, or parent["odd key"] when the key is not
 * a plain identifier. parent "" is the top level. */
void hw_conf_path_key(char *out, size_t len, const char *parent, const char *key)
{
	char q[CONF_QUOTE_LEN];
	size_t klen = strlen(key);
	if (klen > 0 && klen <= CONF_SHOW_MAX && strspn(key, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == klen)
		snprintf(out, len, "%s%s%s", parent, *parent ? "." : "", key);
	else
		snprintf(out, len, "%s[%s]", parent, hw_conf_show(q, key, klen));
}

const char *hw_conf_jtype_want(json_type t)
{
	static const char *const want[] = {
		[json_type_null] = "null", [json_type_boolean] = "a boolean (true or false)",
		[json_type_double] = "a number", [json_type_int] = "an integer",
		[json_type_object] = "an object", [json_type_array] = "an array", [json_type_string] = "a string",
	};
	return (size_t)t < HW_ARRAY_LEN(want) ? want[t] : "null";
}

/* Type check (no value rules): strings without NUL, integers inside the
 * signed 64-bit range (json-c clamps bigger literals to the limits). */
CK_RV hw_conf_check_type(const conf_ctx *c, const char *where, json_object *v, json_type want)
{
	json_type got = json_object_get_type(v);
	if (want == json_type_double && got == json_type_int)
		return CKR_OK;
	if (want == json_type_int && got == json_type_double)
		return hw_conf_fail(c, where, "expected an integer, got a number with a fraction or exponent");
	if (got != want)
		return hw_conf_fail(c, where, "expected %s, got %s", hw_conf_jtype_want(want),
				 got == json_type_int || got == json_type_double ? "number" : json_type_to_name(got));
	if (got == json_type_string &&
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return hw_conf_fail(c, where, "contains a NUL character (\\u0000); expected text without NUL");
	if (got == json_type_int && (json_object_get_int64(v) == INT64_MIN ||
				     json_object_get_int64(v) == INT64_MAX))
		return hw_conf_fail(c, where, "integer out of range; expected a signed 64-bit integer");
	return CKR_OK;
}

/* ---- paths: "~/", $VAR and ${VAR} ------------------------------------------ */

static bool var_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (!first && ch >= '0' && ch <= '9');
}

/* Expand "~" (as $HOME), $VAR and ${VAR}; the result must be absolute. */
CK_RV hw_conf_expand_path(const conf_ctx *c, const char *where, const char *in, char **out)
{
	char q[CONF_QUOTE_LEN], name[256], *buf = NULL;
	size_t blen = 0, i = 0;
	CK_RV rv = CKR_OK;
	FILE *f = open_memstream(&buf, &blen);

	if (f == NULL)
		return hw_conf_oom(c);
	while (rv == CKR_OK && in[i] != '\0') {
		bool tilde = i == 0 && in[0] == '~' && (in[1] == '/' || in[1] == '\0');
		bool braced = in[i] == '$' && in[i + 1] == '{';
		if (!tilde && (in[i] != '$' || (!braced && !var_char(in[i + 1], true)))) {
			fputc(in[i++], f);
			continue;
		}
		const char *v = tilde ? "HOME" : in + i + (braced ? 2 : 1), *val = NULL;
		size_t len = 0;
		while (var_char(v[len], len == 0))
			len++;
		if (braced && (len == 0 || v[len] != '}'))
			rv = hw_conf_fail(c, where, "bad variable reference at byte %zu of %s; expected ${NAME} "
				       "with NAME made of letters, digits and _", i + 1, hw_conf_show(q, in, strlen(in)));
		if (rv == CKR_OK && len < sizeof(name)) {
			memcpy(name, v, len);
			name[len] = '\0';
			val = secure_getenv(name);
		}
		if (rv == CKR_OK && val == NULL)
			rv = hw_conf_fail(c, where, "undefined variable $%.*s%s; expected it to be set in the environment",
				       (int)(len < CONF_SHOW_MAX ? len : CONF_SHOW_MAX), v, tilde ? " (for ~)" : "");
		if (rv == CKR_OK)
			fputs(val, f);
		i = tilde ? 1 : (size_t)(v - in) + len + (braced ? 1 : 0);
	}
	if (fclose(f) != 0 && rv == CKR_OK)
		rv = hw_conf_oom(c);
	if (rv == CKR_OK && (blen == 0 || buf[0] != '/' || blen >= PATH_MAX))
		rv = hw_conf_fail(c, where, "%s is not an absolute path of at most %d bytes; expected a path "
			       "starting with /, \"~/\" or a variable holding one", hw_conf_show(q, buf, blen), PATH_MAX - 1);
	*out = rv == CKR_OK ? buf : NULL;
	if (rv != CKR_OK)
		free(buf);
	return rv;
}


CK_RV hw_conf_check_name(const conf_ctx *c, const char *where, const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > CONF_NAME_MAX)
		return hw_conf_fail(c, where, "%s; expected 1 to %d bytes of UTF-8",
				 len == 0 ? "empty" : "longer than 32 bytes", CONF_NAME_MAX);
	for (size_t i = 0, n; i < len; i += n) {
		uint32_t cp = 0;
		if ((n = hw_utf8_next((const unsigned char *)s + i, len - i, &cp)) == 0)
			return hw_conf_fail(c, where, "invalid UTF-8 at byte %zu; expected UTF-8 text", i + 1);
		if (is_control(cp))
			return hw_conf_fail(c, where, "control character U+%04X at byte %zu; "
					 "expected printable characters", (unsigned)cp, i + 1);
	}
	if (s[len - 1] == ' ')
		return hw_conf_fail(c, where, "ends with a space; expected a name without trailing spaces "
				 "(token labels are padded with spaces)");
	return CKR_OK;
}
