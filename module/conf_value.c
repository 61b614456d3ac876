/*
 * Checks of single configuration values and the messages they give
 * (conf_int.h).
 */
#include "module/conf_int.h"
#include "common/jsonw.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages -------------------------------------------------------------- */

/* "<file>: <where>: <fmt>" (where NULL: "<file>: <fmt>"); returns
 * CKR_ARGUMENTS_BAD, the code of every content error. */
CK_RV hw_conf_fail(conf_ctx *c, const char *where, const char *fmt, ...)
{
	char line[HW_CONFIG_ERR_LEN * 2];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%s: %s%s", c->file, where ? where : "", where ? ": " : "");
	if (n >= 0 && (size_t)n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if (c->problems++ == 0 && c->err != NULL && c->err_len > 0)
		snprintf(c->err, c->err_len, "%s", line);
	if (c->report != NULL)
		c->report(c->arg, line);
	return CKR_ARGUMENTS_BAD;
}

CK_RV hw_conf_oom(conf_ctx *c)
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

const char *hw_conf_got(char *buf, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return hw_conf_show(buf, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	case json_type_null: return "null";
	default:
		snprintf(buf, CONF_QUOTE_LEN, "%.*s", CONF_SHOW_MAX,
			 json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		return buf;
	}
}

/* Type check (no value rules): strings without NUL, integers inside the
 * signed 64-bit range (json-c clamps bigger literals to the limits). */
CK_RV hw_conf_check_type(conf_ctx *c, const char *where, json_object *v, json_type want)
{
	char q[CONF_QUOTE_LEN];
	json_type got = json_object_get_type(v);
	if (want == json_type_double && got == json_type_int)
		return CKR_OK;
	if (got != want)
		return hw_conf_fail(c, where, "expected %s, got %s", hw_conf_jtype_want(want), hw_conf_got(q, v));
	if (got == json_type_string &&
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return hw_conf_fail(c, where, "contains a NUL character (\\u0000); expected text without NUL");
	if (got == json_type_int && (json_object_get_int64(v) == INT64_MIN ||
				     json_object_get_int64(v) == INT64_MAX))
		return hw_conf_fail(c, where, "integer out of range; expected a signed 64-bit integer");
	return CKR_OK;
}

/* "an integer 1..1000 (seconds)", "one of hardware, software", "a string" */
static void want_text(char *out, size_t len, const hw_conf_key *k)
{
	size_t o = 0;
	if (k->type == json_type_string && k->choices != NULL) {
		o = (size_t)snprintf(out, len, "one of ");
		for (size_t i = 0; k->choices[i] != NULL && o < len; i++)
			o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", k->choices[i]);
	} else if (k->type == json_type_int && (k->min != 0 || k->max != 0)) {
		snprintf(out, len, "an integer %" PRId64 "..%" PRId64 "%s%s%s", k->min, k->max,
			 k->unit ? " (" : "", k->unit ? k->unit : "", k->unit ? ")" : "");
	} else {
		snprintf(out, len, "%s", hw_conf_jtype_want(k->type));
	}
}

CK_RV hw_conf_check_value(conf_ctx *c, const char *where, const hw_conf_key *k, json_object *v)
{
	char want[256], q[CONF_QUOTE_LEN];
	json_type got = json_object_get_type(v);
	want_text(want, sizeof(want), k);
	if (got != k->type && !(k->type == json_type_double && got == json_type_int))
		return hw_conf_fail(c, where, "expected %s, got %s", want, hw_conf_got(q, v));
	CK_RV rv = hw_conf_check_type(c, where, v, k->type);
	if (rv != CKR_OK)
		return rv;
	if (got == json_type_int && (k->min != 0 || k->max != 0) &&
	    (json_object_get_int64(v) < k->min || json_object_get_int64(v) > k->max))
		return hw_conf_fail(c, where, "expected %s, got %s", want, hw_conf_got(q, v));
	if (got == json_type_string && k->choices != NULL) {
		for (size_t i = 0; k->choices[i] != NULL; i++)
			if (strcmp(k->choices[i], json_object_get_string(v)) == 0)
				return CKR_OK;
		return hw_conf_fail(c, where, "expected %s, got %s", want, hw_conf_got(q, v));
	}
	return CKR_OK;
}

const hw_conf_key *hw_conf_find_key(const hw_conf_key *const *tables, size_t ntables, const char *key)
{
	for (size_t t = 0; t < ntables; t++)
		for (const hw_conf_key *k = tables[t]; k != NULL && k->name != NULL; k++)
			if (strcmp(k->name, key) == 0)
				return k;
	return NULL;
}

/* Edit distance with transpositions (optimal string alignment), for the
 * suggestion: "tpye" is one step from "type". Long keys are not compared. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[CONF_SHOW_MAX + 1][CONF_SHOW_MAX + 1];
	if (la > CONF_SHOW_MAX || lb > CONF_SHOW_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
			best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
			best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* Whether k's name is in an earlier row of the tables (two types may share a key). */
static bool named_before(const hw_conf_key *const *tables, size_t t, const hw_conf_key *k)
{
	for (size_t i = 0; i <= t; i++)
		for (const hw_conf_key *e = tables[i]; e != NULL && e->name != NULL && e != k; e++)
			if (strcmp(e->name, k->name) == 0)
				return true;
	return false;
}

CK_RV hw_conf_unknown_key(conf_ctx *c, const char *where, const char *key,
			  const hw_conf_key *const *tables, size_t ntables)
{
	char list[512], hint[CONF_SHOW_MAX + 32] = "";
	size_t o = 0, best = SIZE_MAX, limit = strlen(key) <= 2 ? 1 : 2;
	const char *near = NULL;
	list[0] = '\0';
	for (size_t t = 0; t < ntables; t++) {
		for (const hw_conf_key *k = tables[t]; k != NULL && k->name != NULL; k++) {
			size_t d = distance(key, k->name);
			if (d < best) {
				best = d;
				near = k->name;
			}
			if (o < sizeof(list) && !named_before(tables, t, k))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", k->name);
		}
	}
	if (near != NULL && best <= limit)
		snprintf(hint, sizeof(hint), " did you mean \"%s\"?", near);
	return hw_conf_fail(c, where, "unknown key;%s expected one of %s", hint, list);
}

/* ---- paths: "~/", $VAR and ${VAR} ------------------------------------------ */

static bool var_char(char ch, bool first)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (!first && ch >= '0' && ch <= '9');
}

/* Expand "~" (as $HOME), $VAR and ${VAR}; the result must be absolute. */
CK_RV hw_conf_expand_path(conf_ctx *c, const char *where, const char *in, char **out)
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


CK_RV hw_conf_check_name(conf_ctx *c, const char *where, const char *s)
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
