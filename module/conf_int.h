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
#define HW_MAX_CONF_TABLES 40             /* the engine's keys and every backend's */
#define CONF_DEFAULT_JSON "{\"slots\":[{\"name\":\"hwagg-dev\",\"type\":\"soft\"}]}"

/* Where messages go: err gets the first problem; report (when set) every
 * one, as the parser goes on after a problem to find the others. */
typedef struct conf_ctx {
	const char *file;        /* for messages */
	char *err;
	size_t err_len;
	hw_conf_report_fn report;
	void *arg;
	unsigned problems;
	const char *origin;      /* what named the file, for "cannot read" */
} conf_ctx;

/* "<file>: <where>: <fmt>" (where NULL: "<file>: <fmt>"); returns
 * CKR_ARGUMENTS_BAD, the code of every content error. */
CK_RV hw_conf_fail(conf_ctx *c, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
CK_RV hw_conf_oom(conf_ctx *c);
/* A user string quoted for a message: at most CONF_SHOW_MAX bytes, control
 * characters escaped; buf holds CONF_QUOTE_LEN bytes. */
const char *hw_conf_show(char *buf, const char *s, size_t slen);
/* parent.key, or parent["key"] when key is not a plain name. */
void hw_conf_path_key(char *out, size_t len, const char *parent, const char *key);
const char *hw_conf_jtype_want(json_type t);
/* What a message says was found: "ten" (quoted), 4.5, null, an array. */
const char *hw_conf_got(char *buf, json_object *v);
CK_RV hw_conf_check_type(conf_ctx *c, const char *where, json_object *v, json_type want);
/* A value against its row: JSON type, then choices or range. */
CK_RV hw_conf_check_value(conf_ctx *c, const char *where, const hw_conf_key *k, json_object *v);
/* The row named key in any of the NULL-terminated tables (tables may be NULL). */
const hw_conf_key *hw_conf_find_key(const hw_conf_key *const *tables, size_t ntables, const char *key);
/* Every member of obj against the tables: unknown keys first (each with
 * its closest known name), then each value against its row; every problem
 * is reported, the first one's code returned. base is obj's JSON path. */
CK_RV hw_conf_check_members(conf_ctx *c, const char *base, json_object *obj,
			    const hw_conf_key *const *tables, size_t ntables);
/* "unknown key; did you mean "type"? expected one of ..." over the tables. */
CK_RV hw_conf_unknown_key(conf_ctx *c, const char *where, const char *key,
			  const hw_conf_key *const *tables, size_t ntables);
/* "~" and $VARS expanded; the result must be an absolute path. */
CK_RV hw_conf_expand_path(conf_ctx *c, const char *where, const char *in, char **out);
/* A slot name: 1..CONF_NAME_MAX bytes of UTF-8, no control characters. */
CK_RV hw_conf_check_name(conf_ctx *c, const char *where, const char *s);

/* Each value a HW_CONF_CHECK_* rule applies to: where (JSON path), its
 * row, and the value (paths expanded; the store even when defaulted). */
typedef void (*hw_conf_check_fn)(void *arg, const char *where, const hw_conf_key *k, const char *value);
void hw_conf_walk_checks(const hw_config *cfg, hw_conf_check_fn fn, void *arg);
/* "slots[0] (\"dev\")" for slot i of cfg. */
void hw_conf_slot_path(char *out, size_t len, const hw_config *cfg, size_t i);

/* Text to a validated configuration (conf.c); builtin: the default. */
CK_RV hw_conf_build(conf_ctx *c, const char *path, const char *text, bool builtin, hw_config **out);
/* "line L, column C: what; expected a JSON object" at byte off of text. */
CK_RV hw_conf_syntax_error(conf_ctx *c, const char *text, size_t off, const char *what);
/* $HWAGG_ENVIRONMENT over the file's environment. */
CK_RV hw_conf_env_override(conf_ctx *c, hw_config *cfg);

/* The file loaders behind the public ones, reporting through c. */
CK_RV hw_conf_load_ctx(conf_ctx *c, const char *path, hw_config **out);
CK_RV hw_conf_default_ctx(conf_ctx *c, hw_config **out);
/* $HWAGG_CONF, else system_path when present; NULL: the built-in default.
 * *origin says which (static text). */
const char *hw_conf_search(const char *system_path, const char **origin);

/* The "audit" object (conf_audit.c); obj is already known to be an object. */
CK_RV hw_conf_audit(conf_ctx *c, json_object *obj, hw_audit_conf *a);
/* The "rotation" object (conf_audit.c): "interval_days", "retire". */
CK_RV hw_conf_rotation(conf_ctx *c, json_object *obj, int *days, bool *disable);

#endif
