/*
 * What the configuration's parts share (conf.c, conf_value.c): the message
 * context, and the checks of single values that every message follows
 * ("FILE: JSON.PATH: what; expected what").
 */
#ifndef HW_CONF_INT_H
#define HW_CONF_INT_H

#include "module/conf.h"

#define CONF_MAX_SIZE     (1024 * 1024)   /* bytes; a real config is a few hundred */
#define CONF_NAME_MAX     32              /* CK_TOKEN_INFO.label */
#define CONF_SHOW_MAX     40              /* bytes of a user string shown in a message */
#define CONF_QUOTE_LEN    (CONF_SHOW_MAX * 6 + 8)
#define CONF_PATH_LEN     160
#define CONF_DEFAULT_JSON "{\"slots\":[{\"name\":\"hwagg-dev\",\"type\":\"soft\"}]}"

typedef struct conf_ctx {
	const char *file;        /* for messages */
	char *err;
	size_t err_len;
} conf_ctx;

/* "<file>: <where>: <fmt>" (where NULL: "<file>: <fmt>"); returns
 * CKR_ARGUMENTS_BAD, the code of every content error. */
CK_RV hw_conf_fail(const conf_ctx *c, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
CK_RV hw_conf_oom(const conf_ctx *c);
/* A user string quoted for a message: at most CONF_SHOW_MAX bytes, control
 * characters escaped; buf holds CONF_QUOTE_LEN bytes. */
const char *hw_conf_show(char *buf, const char *s, size_t slen);
/* parent.key, or parent["key"] when key is not a plain name. */
void hw_conf_path_key(char *out, size_t len, const char *parent, const char *key);
const char *hw_conf_jtype_want(json_type t);
CK_RV hw_conf_check_type(const conf_ctx *c, const char *where, json_object *v, json_type want);
/* "~" and $VARS expanded; the result must be an absolute path. */
CK_RV hw_conf_expand_path(const conf_ctx *c, const char *where, const char *in, char **out);
/* A slot name: 1..CONF_NAME_MAX bytes of UTF-8, no control characters. */
CK_RV hw_conf_check_name(const conf_ctx *c, const char *where, const char *s);

/* The "audit" object (conf_audit.c); obj is already known to be an object. */
CK_RV hw_conf_audit(const conf_ctx *c, json_object *obj, hw_audit_conf *a);
/* The "rotation" object (conf_audit.c): "interval_days". */
CK_RV hw_conf_rotation(const conf_ctx *c, json_object *obj, int *days);

#endif
