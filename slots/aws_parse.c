/*
 * Parsers of what AWS services answer: credential documents (container
 * and instance metadata), STS's XML, error bodies and timestamps. Pure
 * functions over untrusted bytes (fuzz/aws_parse.c runs them): every
 * length is checked, nothing is assumed NUL-terminated.
 */
#include "slots/aws_creds.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hw_aws_creds_clear(hw_aws_creds *c)
{
	hw_secret_free(c->secret);
	hw_secret_free(c->token);
	memset(c, 0, sizeof(*c));
}

static hw_secret *secret_str(const char *s, size_t len)
{
	hw_secret *x = hw_secret_new(len + 1);
	if (x != NULL) {
		memcpy(x->data, s, len);
		x->data[len] = '\0';
		x->len = len;
	}
	return x;
}

CK_RV hw_aws_creds_copy(hw_aws_creds *dst, const hw_aws_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->akid, src->akid, sizeof(dst->akid));
	dst->expires = src->expires;
	dst->source = src->source;
	if ((dst->secret = secret_str((const char *)src->secret->data, src->secret->len)) == NULL ||
	    (src->token != NULL && (dst->token = secret_str((const char *)src->token->data, src->token->len)) == NULL)) {
		hw_aws_creds_clear(dst);
		return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

/* An access key id is short and plain: it goes into a header as is. */
static bool akid_ok(const char *s, size_t len)
{
	if (len == 0 || len >= sizeof(((hw_aws_creds *)0)->akid))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* Secrets and tokens go into a header or an HMAC: printable, no spaces. */
static bool token_ok(const char *s, size_t len)
{
	if (len == 0 || len > 8192)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static CK_RV fill(hw_aws_creds *out, const char *ak, size_t akl, const char *sk, size_t skl, const char *tk,
		  size_t tkl, const char *exp)
{
	memset(out, 0, sizeof(*out));
	if (!akid_ok(ak, akl) || !token_ok(sk, skl) || (tk != NULL && !token_ok(tk, tkl)))
		return CKR_DEVICE_ERROR;
	memcpy(out->akid, ak, akl);
	out->akid[akl] = '\0';
	if (exp != NULL && (out->expires = hw_aws_parse_time(exp)) == (time_t)-1) {
		out->expires = 0;
		return CKR_DEVICE_ERROR;
	}
	if ((out->secret = secret_str(sk, skl)) == NULL || (tk != NULL && (out->token = secret_str(tk, tkl)) == NULL)) {
		hw_aws_creds_clear(out);
		return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

CK_RV hw_aws_creds_fill(hw_aws_creds *out, const char *akid, const char *secret, const char *token)
{
	return fill(out, akid, strlen(akid), secret, strlen(secret), token, token != NULL ? strlen(token) : 0, NULL);
}

time_t hw_aws_parse_time(const char *s)
{
	struct tm tm;
	int n = 0;
	memset(&tm, 0, sizeof(tm));
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				&tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
		return (time_t)-1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	/* "UTC": the SSO token cache of older AWS CLIs */
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 && strcmp(p, "UTC") != 0)
		return (time_t)-1;
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static json_object *parse_json(const char *body, size_t len)
{
	if (body == NULL || len == 0 || len > (1u << 20))
		return NULL;
	json_tokener *t = json_tokener_new();
	if (t == NULL)
		return NULL;
	json_object *o = json_tokener_parse_ex(t, body, (int)len);
	if (json_tokener_get_error(t) != json_tokener_success || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(t);
	return o;
}

static const char *jstr(json_object *o, const char *k, size_t *len)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

CK_RV hw_aws_parse_cred_json(const char *body, size_t len, hw_aws_creds *out)
{
	size_t akl = 0, skl = 0, tkl = 0, el = 0, cl = 0;
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(out, 0, sizeof(*out));
	json_object *o = parse_json(body, len);
	if (o == NULL)
		return CKR_DEVICE_ERROR;
	const char *code = jstr(o, "Code", &cl), *ak = jstr(o, "AccessKeyId", &akl),
		   *sk = jstr(o, "SecretAccessKey", &skl), *tk = jstr(o, "Token", &tkl), *exp = jstr(o, "Expiration", &el);
	if ((code == NULL || strcmp(code, "Success") == 0) && ak != NULL && sk != NULL)
		rv = fill(out, ak, akl, sk, skl, tk, tkl, exp);
	json_object_put(o);
	return rv;
}

/* The text of the first <tag>...</tag> inside [s, e): *len bytes at the
 * result, or NULL. */
static const char *xml_text(const char *s, const char *e, const char *tag, size_t *len)
{
	char open[64], close[64];
	size_t ol = (size_t)snprintf(open, sizeof(open), "<%s>", tag), cl = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	for (const char *p = s; p + ol <= e; p++) {
		if (memcmp(p, open, ol) != 0)
			continue;
		const char *v = p + ol;
		for (const char *q = v; q + cl <= e; q++)
			if (memcmp(q, close, cl) == 0) {
				*len = (size_t)(q - v);
				return v;
			}
		return NULL;
	}
	return NULL;
}

CK_RV hw_aws_parse_sts_xml(const char *body, size_t len, hw_aws_creds *out)
{
	size_t cl = 0, akl = 0, skl = 0, tkl = 0, el = 0;
	char exp[40];
	memset(out, 0, sizeof(*out));
	if (body == NULL || len > (1u << 20))
		return CKR_DEVICE_ERROR;
	const char *c = xml_text(body, body + len, "Credentials", &cl);
	if (c == NULL)
		return CKR_DEVICE_ERROR;
	const char *ak = xml_text(c, c + cl, "AccessKeyId", &akl), *sk = xml_text(c, c + cl, "SecretAccessKey", &skl),
		   *tk = xml_text(c, c + cl, "SessionToken", &tkl), *ex = xml_text(c, c + cl, "Expiration", &el);
	if (ak == NULL || sk == NULL || tk == NULL || ex == NULL || el >= sizeof(exp))
		return CKR_DEVICE_ERROR;
	memcpy(exp, ex, el);
	exp[el] = '\0';
	return fill(out, ak, akl, sk, skl, tk, tkl, exp);
}

static void copy_clean(char *dst, size_t dst_len, const char *s, size_t len)
{
	size_t o = 0;
	if (dst_len == 0)
		return;
	for (size_t i = 0; s != NULL && i < len && o + 1 < dst_len; i++)
		dst[o++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	dst[o] = '\0';
}

void hw_aws_parse_error(const char *body, size_t len, const char *error_type, char *code, size_t code_len, char *msg,
			size_t msg_len)
{
	const char *c = NULL, *m = NULL;
	size_t cl = 0, ml = 0;
	json_object *o = parse_json(body, len);
	if (o != NULL) {
		c = jstr(o, "__type", &cl);
		if (c == NULL)
			c = jstr(o, "code", &cl);
		if ((m = jstr(o, "message", &ml)) == NULL)
			m = jstr(o, "Message", &ml);
	} else if (body != NULL && len <= (1u << 20)) {
		c = xml_text(body, body + len, "Code", &cl);
		m = xml_text(body, body + len, "Message", &ml);
	}
	if (c == NULL && error_type != NULL && error_type[0] != '\0') {
		c = error_type;
		cl = strcspn(error_type, ":");     /* "Code:http://internal..." */
	}
	/* "com.amazonaws.kms#NotFoundException" -> "NotFoundException" */
	for (size_t i = cl; c != NULL && i > 0; i--)
		if (c[i - 1] == '#') {
			cl -= i;
			c += i;
			break;
		}
	copy_clean(code, code_len, c, cl);
	copy_clean(msg, msg_len, m, ml);
	json_object_put(o);
}

CK_RV hw_aws_parse_process_json(const char *body, size_t len, hw_aws_creds *out)
{
	size_t akl = 0, skl = 0, tkl = 0, el = 0;
	json_object *o = parse_json(body, len), *v;
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(out, 0, sizeof(*out));
	if (o == NULL)
		return CKR_DEVICE_ERROR;
	/* the documented format has only version 1; anything else is refused as the CLI does */
	const char *ak = jstr(o, "AccessKeyId", &akl), *sk = jstr(o, "SecretAccessKey", &skl),
		   *tk = jstr(o, "SessionToken", &tkl), *exp = jstr(o, "Expiration", &el);
	if (json_object_object_get_ex(o, "Version", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 1 && ak != NULL && sk != NULL)
		rv = fill(out, ak, akl, sk, skl, tk, tkl, exp);
	json_object_put(o);
	return rv;
}

CK_RV hw_aws_parse_sso_json(const char *body, size_t len, hw_aws_creds *out)
{
	size_t akl = 0, skl = 0, tkl = 0;
	json_object *o = parse_json(body, len), *rc, *ex;
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(out, 0, sizeof(*out));
	if (o == NULL)
		return CKR_DEVICE_ERROR;
	if (json_object_object_get_ex(o, "roleCredentials", &rc) && json_object_is_type(rc, json_type_object)) {
		const char *ak = jstr(rc, "accessKeyId", &akl), *sk = jstr(rc, "secretAccessKey", &skl),
			   *tk = jstr(rc, "sessionToken", &tkl);
		/* expiration: milliseconds since the epoch (a number, not a string) */
		int64_t ms = json_object_object_get_ex(rc, "expiration", &ex) && json_object_is_type(ex, json_type_int) ?
				     json_object_get_int64(ex) : -1;
		if (ak != NULL && sk != NULL && tk != NULL && ms > 0 && ms < INT64_C(253402300800000) &&
		    (rv = fill(out, ak, akl, sk, skl, tk, tkl, NULL)) == CKR_OK)
			out->expires = (time_t)(ms / 1000);
	}
	json_object_put(o);
	return rv;
}

CK_RV hw_aws_parse_sso_cache(const char *body, size_t len, hw_secret **token, time_t *expires)
{
	size_t tl = 0, el = 0;
	json_object *o = parse_json(body, len);
	CK_RV rv = CKR_DEVICE_ERROR;
	*token = NULL;
	*expires = 0;
	if (o == NULL)
		return CKR_DEVICE_ERROR;
	const char *t = jstr(o, "accessToken", &tl), *exp = jstr(o, "expiresAt", &el);
	if (t != NULL && exp != NULL && token_ok(t, tl) && (*expires = hw_aws_parse_time(exp)) != (time_t)-1) {
		rv = (*token = secret_str(t, tl)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
	} else {
		*expires = 0;
	}
	json_object_put(o);
	return rv;
}
