/*
 * Configuration loading and validation. The file is small, read once at
 * C_Initialize, and checked completely before anything uses it: every error
 * names the file, the JSON path of the offending value and what was expected.
 *
 * The environment is read with secure_getenv: in a setuid or setgid process
 * the caller's variables must not choose the file, and through it the
 * libraries the module loads.
 */
#include "module/conf.h"
#include "common/log.h"
#include "mechanisms/mech.h"
#include "slots/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "module/conf_int.h"
#include "module/policy_conf.h"

static const char *const env_names[] = {
	[HW_ENV_DEVELOPMENT] = "development",
	[HW_ENV_STAGING] = "staging",
	[HW_ENV_PRODUCTION] = "production",
};

/* $XDG_DATA_HOME/hwagg, else $HOME/.local/share/hwagg (absolute values only,
 * as the XDG base directory specification asks). */
static CK_RV default_store(conf_ctx *c, char **out)
{
	const char *xdg = secure_getenv("XDG_DATA_HOME"), *home = secure_getenv("HOME");
	int n = xdg != NULL && xdg[0] == '/' ? asprintf(out, "%s/hwagg", xdg) :
		home != NULL && home[0] == '/' ? asprintf(out, "%s/.local/share/hwagg", home) : -2;
	if (n == -2)
		return hw_conf_fail(c, "store", "not set, and neither $XDG_DATA_HOME nor $HOME is set; "
				 "expected \"store\" in the file or one of those variables");
	if (n < 0)
		*out = NULL;
	return n < 0 ? hw_conf_oom(c) : CKR_OK;
}

/* ---- values ---------------------------------------------------------------- */

const char *hw_env_name(hw_env e)
{
	return (size_t)e < HW_ARRAY_LEN(env_names) ? env_names[e] : "unknown";
}

const char *hw_env_text(const hw_config *cfg)
{
	return cfg->env_auto ? "auto (detected at first use)" : hw_env_name(cfg->environment);
}

static CK_RV env_set(conf_ctx *c, const char *where, const char *s, hw_config *cfg)
{
	char q[CONF_QUOTE_LEN];
	cfg->env_origin = where[0] == '$' ? "set by $HWAGG_ENVIRONMENT" : "set in the configuration file";
	cfg->env_auto = strcmp(s, "auto") == 0;
	if (cfg->env_auto)
		return CKR_OK;
	for (size_t i = 0; i < HW_ARRAY_LEN(env_names); i++) {
		if (strcmp(s, env_names[i]) == 0) {
			cfg->environment = (hw_env)i;
			return CKR_OK;
		}
	}
	return hw_conf_fail(c, where, "expected one of production, staging, development, auto, got %s",
			 hw_conf_show(q, s, strlen(s)));
}

CK_RV hw_conf_env_override(conf_ctx *c, hw_config *cfg)
{
	const char *e = secure_getenv("HWAGG_ENVIRONMENT");
	return e == NULL || *e == '\0' ? CKR_OK : env_set(c, "$HWAGG_ENVIRONMENT", e, cfg);
}

/* ---- the keys, as data ----------------------------------------------------- */

static const char *const env_choices[] = { "production", "staging", "development", "auto", NULL };

static const hw_conf_key root_keys[] = {
	{ "environment", json_type_string, false, .choices = env_choices },
	{ "store", json_type_string, false, .check = HW_CONF_CHECK_DIR_CREATABLE },
	{ "log", json_type_object, false },
	{ "audit", json_type_object, false },
	{ "rotation", json_type_object, false },
	{ "policy", json_type_object, false },   /* policy_conf.c */
	{ "slots", json_type_array, true },
	{ NULL, json_type_null, false },
};

static const hw_conf_key log_keys[] = {
	{ "level", json_type_string, false },     /* hw_log_level_parse: any case, "warning" */
	{ "file", json_type_string, false, .check = HW_CONF_CHECK_FILE_WRITABLE },
	{ NULL, json_type_null, false },
};

static const char *const sign_event_choices[] = { "summary", "each", NULL };

/* "audit": conf_audit.c reads the values once these rows passed. */
static const hw_conf_key audit_keys[] = {
	{ "enabled", json_type_boolean, false },
	{ "path", json_type_string, false, .check = HW_CONF_CHECK_FILE_WRITABLE },
	{ "file", json_type_string, false, .check = HW_CONF_CHECK_FILE_WRITABLE },  /* path's first name */
	{ "syslog", json_type_boolean, false },
	{ "sign_events", json_type_string, false, .choices = sign_event_choices },
	{ "checkpoint_key", json_type_string, false },
	{ "checkpoint_every", json_type_int, false, 0, 1000000000, .unit = "records; 0 is off" },
	{ "checkpoint_seconds", json_type_int, false, 0, 1000000000, .unit = "seconds; 0 is off" },
	{ NULL, json_type_null, false },
};

/* The objects of the top level: a section is checked against its table
 * (unknown keys, types, choices, ranges); a new section is one row. */
static const struct {
	const char *name;
	const hw_conf_key *keys;
} sections[] = {
	{ "log", log_keys },
	{ "audit", audit_keys },
};

/* Keys every slot type takes beside its backend's: name, type, and the
 * mechanism policy (read by slot_policy). */
static const hw_conf_key slot_keys[] = {
	{ "name", json_type_string, true },
	{ "type", json_type_string, true },
	{ "rsa_min_bits", json_type_int, false, HW_RSA_FLOOR_BITS, HW_RSA_MAX_BITS, .unit = "modulus bits" },
	{ "mechanisms", json_type_object, false },
	{ "refresh_s", json_type_int, false, 0, 86400, .unit = "seconds" },
	{ "timeout_ms", json_type_int, false, 1, 600000, .unit = "milliseconds" },
	{ "allow_import", json_type_boolean, false },
	{ NULL, json_type_null, false },
};

/* A string member that is a path: expanded (its type is checked). */
static CK_RV get_path(conf_ctx *c, const char *where, json_object *v, char **out)
{
	free(*out);
	*out = NULL;
	return hw_conf_expand_path(c, where, json_object_get_string(v), out);
}

/* ---- sections -------------------------------------------------------------- */

/* Every member of obj against the tables: unknown keys first, then the
 * values of the known ones; goes on after a problem. *ok says all passed. */
CK_RV hw_conf_check_members(conf_ctx *c, const char *base, json_object *obj,
			   const hw_conf_key *const *tables, size_t ntables)
{
	char where[CONF_PATH_LEN];
	CK_RV rv = CKR_OK, r;
	json_object_object_foreach(obj, key, val) {
		(void)val;
		hw_conf_path_key(where, sizeof(where), base, key);
		if (hw_conf_find_key(tables, ntables, key) == NULL &&
		    (r = hw_conf_unknown_key(c, where, key, tables, ntables)) != CKR_OK && rv == CKR_OK)
			rv = r;
	}
	json_object_object_foreach(obj, key2, val2) {
		const hw_conf_key *k = hw_conf_find_key(tables, ntables, key2);
		hw_conf_path_key(where, sizeof(where), base, key2);
		if (k != NULL && (r = hw_conf_check_value(c, where, k, val2)) != CKR_OK && rv == CKR_OK)
			rv = r;
	}
	return rv;
}

/* "log" and "audit": their own tables, then what the engine keeps
 * (conf_audit.c reads the audit section's values). */
static CK_RV parse_section(conf_ctx *c, hw_config *cfg, const char *sect, json_object *obj)
{
	char where[CONF_PATH_LEN];
	const hw_conf_key *keys = NULL;
	json_object *v = NULL;
	for (size_t i = 0; i < HW_ARRAY_LEN(sections); i++)
		if (strcmp(sections[i].name, sect) == 0)
			keys = sections[i].keys;
	CK_RV rv = hw_conf_check_members(c, sect, obj, &keys, 1);
	if (rv != CKR_OK)
		return rv;
	if (strcmp(sect, "audit") == 0)
		return hw_conf_audit(c, obj, &cfg->audit);
	hw_conf_path_key(where, sizeof(where), sect, "file");
	if (json_object_object_get_ex(obj, "file", &v))
		rv = get_path(c, where, v, &cfg->log_file);
	if (json_object_object_get_ex(obj, "level", &v) &&
	    (cfg->log_level = hw_log_level_parse(json_object_get_string(v))) < 0) {
		char q[CONF_QUOTE_LEN];
		hw_conf_path_key(where, sizeof(where), sect, "level");
		rv = hw_conf_fail(c, where, "expected one of error, warn, info, debug, got %s", hw_conf_got(q, v));
	}
	return rv;
}

/* "a, b, c" from the registry: the types this build includes, or those it
 * knows but leaves out. */
static void type_list(char *out, size_t len, bool built)
{
	size_t n = 0, o = 0;
	const hw_backend_entry *t = hw_backend_table(&n);
	out[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		if (hw_backend_available(&t[i]) != built)
			continue;
		int w = snprintf(out + o, len - o, "%s%s", o ? ", " : "", t[i].type);
		o += w > 0 ? (size_t)w : 0;
	}
}

/* "one of soft, hsm (known but not built here: tpm, ...)" */
static void type_expect(char *out, size_t len)
{
	char built[256], other[256];
	type_list(built, sizeof(built), true);
	type_list(other, sizeof(other), false);
	snprintf(out, len, "one of %s%s%s%s", built, other[0] ? " (known but not built into this module: " : "",
		 other, other[0] ? ")" : "");
}

/* The slot's type: present, a string, known and built into this module. */
static CK_RV slot_type(conf_ctx *c, const char *slot, json_object *obj, const hw_backend_entry **entry)
{
	char where[CONF_PATH_LEN], list[600], q[CONF_QUOTE_LEN];
	json_object *v = NULL;

	*entry = NULL;
	hw_conf_path_key(where, sizeof(where), slot, "type");
	type_expect(list, sizeof(list));
	if (!json_object_object_get_ex(obj, "type", &v))
		return hw_conf_fail(c, where, "missing required key; expected %s", list);
	if (!json_object_is_type(v, json_type_string))
		return hw_conf_fail(c, where, "expected %s, got %s", list, hw_conf_got(q, v));
	const char *type = json_object_get_string(v);
	const hw_backend_entry *e = hw_backend_find(type);
	if (e == NULL)
		return hw_conf_fail(c, where, "unknown slot type %s; expected %s", hw_conf_show(q, type, strlen(type)),
				 list);
	if (!hw_backend_available(e)) {
		const char *sw = e->configure_switch;
		type_list(list, sizeof(list), true);
		return hw_conf_fail(c, where, "\"%s\" is not built into this module%s%s%s; "
				 "expected a type this build includes: %s", e->type,
				 sw == NULL ? "" : sw[0] == '(' ? " " : " (configure ",
				 sw == NULL ? "" : sw, sw == NULL || sw[0] == '(' ? "" : ")", list);
	}
	*entry = e;
	return CKR_OK;
}

/* "allow" or "deny": names from the mechanism table, at least one. */
static CK_RV mech_names(conf_ctx *c, const char *where, json_object *arr,
			CK_MECHANISM_TYPE **out, size_t *n)
{
	char at[CONF_PATH_LEN + 24], q[CONF_QUOTE_LEN];
	CK_RV rv = hw_conf_check_type(c, where, arr, json_type_array), r;
	size_t len = rv == CKR_OK ? json_object_array_length(arr) : 0;
	if (rv == CKR_OK && len == 0)
		return hw_conf_fail(c, where, "empty array; expected at least one mechanism name");
	if (rv != CKR_OK || (*out = calloc(len, sizeof(**out))) == NULL)
		return rv != CKR_OK ? rv : hw_conf_oom(c);
	for (size_t i = 0; i < len; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		snprintf(at, sizeof(at), "%s[%zu]", where, i);
		if ((r = hw_conf_check_type(c, at, v, json_type_string)) != CKR_OK) {
			rv = rv == CKR_OK ? r : rv;
			continue;
		}
		const char *name = json_object_get_string(v);
		const hw_mech *m = hw_mech_by_name(name);
		if (m == NULL) {
			r = hw_conf_fail(c, at, "unknown mechanism %s; expected a mechanism hwagg implements, named "
					 "as in hwagg.json(5), such as CKM_ECDSA_SHA256", hw_conf_show(q, name, strlen(name)));
			rv = rv == CKR_OK ? r : rv;
			continue;
		}
		(*out)[(*n)++] = m->type;
	}
	return rv;
}

/* The slot's mechanism policy (values already checked): "rsa_min_bits",
 * "mechanisms" with "allow" and "deny". */
static CK_RV slot_policy(conf_ctx *c, const char *slot, json_object *obj, hw_slot_conf *s)
{
	char where[CONF_PATH_LEN], base[CONF_PATH_LEN];
	json_object *v = NULL;
	CK_RV rv = CKR_OK, r;
	s->rsa_min_bits = HW_RSA_MIN_BITS;
	if (json_object_object_get_ex(obj, "rsa_min_bits", &v))
		s->rsa_min_bits = (CK_ULONG)json_object_get_int64(v);
	if (!json_object_object_get_ex(obj, "mechanisms", &v))
		return CKR_OK;
	hw_conf_path_key(base, sizeof(base), slot, "mechanisms");
	json_object_object_foreach(v, key, val) {
		hw_conf_path_key(where, sizeof(where), base, key);
		bool allow = strcmp(key, "allow") == 0;
		if (!allow && strcmp(key, "deny") != 0)
			r = hw_conf_fail(c, where, "unknown key; expected one of allow, deny");
		else
			r = mech_names(c, where, val, allow ? &s->mech_allow : &s->mech_deny,
				       allow ? &s->n_allow : &s->n_deny);
		rv = rv == CKR_OK ? r : rv;
	}
	return rv;
}

/* The keys a slot of an unknown type could have: the engine's and every
 * backend's, so that "tpye" is still found near "type". */
static size_t slot_tables(const hw_backend_entry *entry, const hw_conf_key **tables, size_t max)
{
	size_t n = 0, nt = 0;
	const hw_backend_entry *t = hw_backend_table(&n);
	tables[nt++] = slot_keys;
	if (entry != NULL) {
		tables[nt++] = entry->conf_keys;
		return nt;
	}
	for (size_t i = 0; i < n && nt < max; i++)
		if (t[i].conf_keys != NULL)
			tables[nt++] = t[i].conf_keys;
	return nt;
}

/* "slots[0]", or "slots[0] (\"dev\")" once the slot has a usable name. */
static void slot_path(char *out, size_t len, size_t i, json_object *obj)
{
	char q[CONF_QUOTE_LEN];
	conf_ctx quiet = { "" };
	json_object *v = NULL;
	int n = snprintf(out, len, "slots[%zu]", i);
	if (json_object_object_get_ex(obj, "name", &v) && json_object_is_type(v, json_type_string) &&
	    hw_conf_check_name(&quiet, NULL, json_object_get_string(v)) == CKR_OK && n > 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n, " (%s)", hw_conf_show(q, json_object_get_string(v),
								       strlen(json_object_get_string(v))));
}

/* Unknown keys first (a typo in "type" is named as such), then the type,
 * then the values and the required keys; every problem is reported. */
static CK_RV parse_slot(conf_ctx *c, hw_config *cfg, size_t i, json_object *obj)
{
	char slot[CONF_PATH_LEN], plain[32], where[CONF_PATH_LEN + 8];
	const hw_backend_entry *entry = NULL;
	const hw_conf_key *tables[HW_MAX_CONF_TABLES];
	json_object *v = NULL, *tv = NULL;
	CK_RV rv, r;

	snprintf(plain, sizeof(plain), "slots[%zu]", i);
	if ((rv = hw_conf_check_type(c, plain, obj, json_type_object)) != CKR_OK)
		return rv;
	slot_path(slot, sizeof(slot), i, obj);
	/* the tables of the type, if it is one of this build; the keys of a
	 * type it leaves out cannot be checked: that the type is not built is
	 * what to say */
	bool unbuilt = false;
	if (json_object_object_get_ex(obj, "type", &tv) && json_object_is_type(tv, json_type_string)) {
		const hw_backend_entry *e = hw_backend_find(json_object_get_string(tv));
		if (hw_backend_available(e))
			entry = e;
		else
			unbuilt = e != NULL;
	}
	size_t nt = slot_tables(entry, tables, HW_ARRAY_LEN(tables));
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (unbuilt)
			break;
		hw_conf_path_key(where, sizeof(where), slot, key);
		if (hw_conf_find_key(tables, nt, key) == NULL &&
		    (r = hw_conf_unknown_key(c, where, key, tables, nt)) != CKR_OK && rv == CKR_OK)
			rv = r;
	}
	if ((r = slot_type(c, slot, obj, &entry)) != CKR_OK)
		return rv == CKR_OK ? r : rv;
	json_object_object_foreach(obj, key2, val2) {
		const hw_conf_key *k = hw_conf_find_key(tables, nt, key2);
		hw_conf_path_key(where, sizeof(where), strcmp(key2, "name") == 0 ? plain : slot, key2);
		if (k != NULL && strcmp(key2, "type") != 0 && (r = hw_conf_check_value(c, where, k, val2)) != CKR_OK &&
		    rv == CKR_OK)
			rv = r;
	}
	for (const hw_conf_key *k = entry->conf_keys; k != NULL && k->name != NULL; k++) {
		char want[64];
		hw_conf_path_key(where, sizeof(where), slot, k->name);
		snprintf(want, sizeof(want), "%s", hw_conf_jtype_want(k->type));
		if (k->required && !json_object_object_get_ex(obj, k->name, NULL) &&
		    (r = hw_conf_fail(c, where, "missing required key for type \"%s\"; expected %s", entry->type,
				      want)) != CKR_OK && rv == CKR_OK)
			rv = r;
	}
	hw_conf_path_key(where, sizeof(where), plain, "name");
	if (!json_object_object_get_ex(obj, "name", &v))
		return hw_conf_fail(c, where, "missing required key; expected a slot name of 1 to %d bytes",
				    CONF_NAME_MAX);
	if (!json_object_is_type(v, json_type_string))
		return CKR_ARGUMENTS_BAD;               /* said above */
	const char *name = json_object_get_string(v);
	if ((r = hw_conf_check_name(c, where, name)) != CKR_OK)
		return r;
	for (size_t j = 0; j < cfg->nslots; j++)
		if (strcmp(cfg->slots[j].name, name) == 0)
			return hw_conf_fail(c, where, "duplicate slot name \"%s\" (also slots[%zu]); "
					 "expected a unique name", name, cfg->slots[j].index);

	hw_slot_conf *s = &cfg->slots[cfg->nslots++];   /* counted now: freed either way */
	s->name = strdup(name);
	s->type = strdup(entry->type);
	s->json = obj;
	s->index = i;
	if (s->name == NULL || s->type == NULL)
		return hw_conf_oom(c);
	r = rv == CKR_OK ? slot_policy(c, slot, obj, s) : CKR_OK;
	return rv == CKR_OK ? r : rv;
}

static CK_RV parse_slots(conf_ctx *c, hw_config *cfg, json_object *arr)
{
	CK_RV rv = CKR_OK, r;
	size_t n = json_object_array_length(arr);
	if (n == 0)
		return hw_conf_fail(c, "slots", "empty array; expected at least one slot object");
	if ((cfg->slots = calloc(n, sizeof(*cfg->slots))) == NULL)
		return hw_conf_oom(c);
	for (size_t i = 0; i < n; i++) {
		r = parse_slot(c, cfg, i, json_object_array_get_idx(arr, i));
		if (r == CKR_HOST_MEMORY)
			return r;
		rv = rv == CKR_OK ? r : rv;
	}
	return rv;
}

/* Everything after the JSON syntax: cfg->root is set and cfg->environment
 * holds the default for this source. */
static CK_RV parse_root(conf_ctx *c, hw_config *cfg)
{
	const hw_conf_key *tables[] = { root_keys };
	CK_RV rv = hw_conf_check_type(c, "top level", cfg->root, json_type_object), r;
	json_object *v = NULL;
	if (rv != CKR_OK)
		return rv;
	rv = hw_conf_check_members(c, "", cfg->root, tables, 1);
	json_object_object_foreach(cfg->root, key, val) {
		r = CKR_OK;
		const hw_conf_key *k = hw_conf_find_key(tables, 1, key);
		if (k == NULL || !json_object_is_type(val, k->type))
			continue;                       /* said by check_members */
		if (strcmp(key, "environment") == 0)
			env_set(c, key, json_object_get_string(val), cfg);   /* a choice: known */
		else if (strcmp(key, "store") == 0)
			r = get_path(c, key, val, &cfg->store);
		else if (strcmp(key, "slots") == 0)
			r = parse_slots(c, cfg, val);
		else if (strcmp(key, "rotation") == 0)
			r = hw_conf_rotation(c, val, &cfg->rotation_days, &cfg->rotation_disable);
		else if (strcmp(key, "policy") == 0)
			r = hw_policy_conf_parse(c, val, &cfg->policy);
		else
			r = parse_section(c, cfg, key, val);
		if (r == CKR_HOST_MEMORY)
			return r;
		rv = rv == CKR_OK ? r : rv;
	}
	if (!json_object_object_get_ex(cfg->root, "slots", &v))
		return hw_conf_fail(c, "slots", "missing required key; expected a non-empty array of slot objects");
	hw_policy_conf_env_default(cfg);
	if (rv == CKR_OK && cfg->store == NULL)
		rv = default_store(c, &cfg->store);
	return rv;
}

void hw_conf_slot_path(char *out, size_t len, const hw_config *cfg, size_t i)
{
	slot_path(out, len, cfg->slots[i].index, cfg->slots[i].json);
}

static void walk_table(const hw_conf_key *keys, json_object *obj, const char *base, hw_conf_check_fn fn,
		       void *arg)
{
	char where[CONF_PATH_LEN + 8];
	json_object *v = NULL;
	for (const hw_conf_key *k = keys; k != NULL && k->name != NULL; k++) {
		if (k->check == 0 || !json_object_object_get_ex(obj, k->name, &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		hw_conf_path_key(where, sizeof(where), base, k->name);
		fn(arg, where, k, json_object_get_string(v));
	}
}

void hw_conf_walk_checks(const hw_config *cfg, hw_conf_check_fn fn, void *arg)
{
	char slot[CONF_PATH_LEN];
	const hw_conf_key *root = root_keys, *logk = log_keys, *audk = audit_keys;
	/* the expanded paths the engine uses, the store even when defaulted */
	if (cfg->store != NULL)
		fn(arg, "store", hw_conf_find_key(&root, 1, "store"), cfg->store);
	if (cfg->log_file != NULL)
		fn(arg, "log.file", hw_conf_find_key(&logk, 1, "file"), cfg->log_file);
	if (cfg->audit.path != NULL)
		fn(arg, "audit.path", hw_conf_find_key(&audk, 1, "path"), cfg->audit.path);
	for (size_t i = 0; i < cfg->nslots; i++) {
		const hw_backend_entry *e = hw_backend_find(cfg->slots[i].type);
		hw_conf_slot_path(slot, sizeof(slot), cfg, i);
		walk_table(slot_keys, cfg->slots[i].json, slot, fn, arg);
		walk_table(e != NULL ? e->conf_keys : NULL, cfg->slots[i].json, slot, fn, arg);
	}
}

/* ---- JSON text ------------------------------------------------------------- */

static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {        /* columns count characters, not bytes */
		*col = text[i] == '\n' ? 1 : *col + (((unsigned char)text[i] & 0xC0) != 0x80);
		*line += text[i] == '\n';
	}
}

CK_RV hw_conf_syntax_error(conf_ctx *c, const char *text, size_t off, const char *what)
{
	char where[64];
	size_t line, col;
	line_col(text, off, &line, &col);
	snprintf(where, sizeof(where), "line %zu, column %zu", line, col);
	return hw_conf_fail(c, where, "%s; expected a JSON object (RFC 8259)", what);
}

/* What people write in JSON that JSON does not allow, said as such: a
 * comma before } or ], and comments. NULL when the error is another. */
static CK_RV known_mistake(conf_ctx *c, const char *text, size_t off, bool *found)
{
	char where[32];
	size_t line, col, p = off;
	*found = true;
	if (text[off] == '/' && (text[off + 1] == '/' || text[off + 1] == '*')) {
		line_col(text, off, &line, &col);
		snprintf(where, sizeof(where), "line %zu", line);
		return hw_conf_fail(c, where, "comments are not allowed in JSON; expected plain JSON without %s "
				    "comments", text[off + 1] == '/' ? "//" : "/* */");
	}
	if (text[off] == '}' || text[off] == ']') {
		while (p > 0 && strchr(" \t\r\n", text[p - 1]) != NULL)
			p--;
		if (p > 0 && text[p - 1] == ',') {
			line_col(text, p - 1, &line, &col);
			snprintf(where, sizeof(where), "line %zu", line);
			return hw_conf_fail(c, where, "trailing comma is not allowed in JSON; expected no comma "
					    "before %c", text[off]);
		}
	}
	*found = false;
	return CKR_OK;
}

static CK_RV parse_json(conf_ctx *c, const char *text, size_t len, json_object **root)
{
	size_t skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;  /* UTF-8 BOM */
	struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	CK_RV rv = CKR_OK;

	*root = NULL;
	if (tok == NULL)
		return hw_conf_oom(c);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* The terminating NUL is passed too: it ends a top-level literal. */
	*root = json_tokener_parse_ex(tok, text + skip, (int)(len - skip + 1));
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof)
		rv = hw_conf_syntax_error(c, text, len, text[skip + strspn(text + skip, " \t\r\n")] == '\0' ?
				  "empty file" : "unexpected end of file");
	else if (jerr != json_tokener_success) {
		size_t off = skip + json_tokener_get_parse_end(tok);
		bool found = false;
		rv = known_mistake(c, text, off, &found);
		if (!found)
			rv = hw_conf_syntax_error(c, text, off, json_tokener_error_desc(jerr));
	}
	if (rv != CKR_OK) {
		json_object_put(*root);
		*root = NULL;
	}
	json_tokener_free(tok);
	return rv;
}

/* Text to a validated configuration. builtin: the default, development
 * unless the caller overrides; otherwise a file, production unless it says
 * otherwise (fail closed), then $HWAGG_ENVIRONMENT. */
CK_RV hw_conf_build(conf_ctx *c, const char *path, const char *text, bool builtin,
			  hw_config **out)
{
	hw_config *cfg = calloc(1, sizeof(*cfg));
	size_t len = strnlen(text, CONF_MAX_SIZE + 1);
	CK_RV rv;

	*out = NULL;
	if (cfg == NULL || (path != NULL && (cfg->path = strdup(path)) == NULL)) {
		rv = hw_conf_oom(c);
		goto out;
	}
	cfg->builtin = builtin;
	cfg->log_level = -1;
	cfg->audit.enabled = true;
	cfg->rotation_days = -1;
	cfg->environment = builtin ? HW_ENV_DEVELOPMENT : HW_ENV_PRODUCTION;
	cfg->env_origin = builtin ? "the built-in default configuration" : "default of a configuration file";
	if (len > CONF_MAX_SIZE)
		rv = hw_conf_fail(c, "size", "larger than %d bytes; expected a configuration file", CONF_MAX_SIZE);
	else if ((rv = parse_json(c, text, len, &cfg->root)) == CKR_OK &&
		 (rv = parse_root(c, cfg)) == CKR_OK && !builtin)
		rv = hw_conf_env_override(c, cfg);
	if (rv == CKR_OK) {
		*out = cfg;
		cfg = NULL;
	}
out:
	hw_config_free(cfg);
	return rv;
}

CK_RV hw_config_parse(const char *text, const char *path, hw_config **out, char *err, size_t err_len)
{
	conf_ctx c = { path != NULL ? path : "<built-in>", err, err_len };
	if (out == NULL || text == NULL)
		return hw_conf_fail(&c, NULL, "no configuration text");
	return hw_conf_build(&c, path, text, false, out);
}

/* Development by definition; hw_config_load applies $HWAGG_ENVIRONMENT. */
hw_config *hw_config_default(void)
{
	conf_ctx c = { "<built-in>", NULL, 0 };
	hw_config *cfg = NULL;
	return hw_conf_build(&c, NULL, CONF_DEFAULT_JSON, true, &cfg) == CKR_OK ? cfg : NULL;
}

void hw_config_free(hw_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++) {
		free(c->slots[i].name);
		free(c->slots[i].type);
		free(c->slots[i].mech_allow);
		free(c->slots[i].mech_deny);
	}
	free(c->slots);
	free(c->path);
	free(c->store);
	free(c->log_file);
	free(c->audit.path);
	free(c->audit.checkpoint_key);
	hw_policy_conf_free(c->policy);
	json_object_put(c->root);
	free(c);
}

/* ---- backend helpers ------------------------------------------------------- */

static json_object *slot_value(const hw_slot_conf *s, const char *key, json_type t)
{
	json_object *v = NULL;
	if (s == NULL || s->json == NULL || key == NULL ||
	    !json_object_object_get_ex(s->json, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

const char *hw_conf_str(const hw_slot_conf *s, const char *key, const char *dflt)
{
	json_object *v = slot_value(s, key, json_type_string);
	return v != NULL ? json_object_get_string(v) : dflt;
}

int64_t hw_conf_int(const hw_slot_conf *s, const char *key, int64_t dflt)
{
	json_object *v = slot_value(s, key, json_type_int);
	return v != NULL ? json_object_get_int64(v) : dflt;
}

bool hw_conf_bool(const hw_slot_conf *s, const char *key, bool dflt)
{
	json_object *v = slot_value(s, key, json_type_boolean);
	return v != NULL ? json_object_get_boolean(v) != 0 : dflt;
}
