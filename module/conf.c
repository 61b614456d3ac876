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
static CK_RV default_store(const conf_ctx *c, char **out)
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

static CK_RV env_set(const conf_ctx *c, const char *where, const char *s, hw_config *cfg)
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
	return hw_conf_fail(c, where, "unknown environment %s; expected one of production, staging, development, auto",
			 hw_conf_show(q, s, strlen(s)));
}

/* For the log: "auto" is decided later, at first use. */
static const char *env_text(const hw_config *cfg)
{
	return cfg->env_auto ? "auto (detected at first use)" : hw_env_name(cfg->environment);
}

static CK_RV env_override(const conf_ctx *c, hw_config *cfg)
{
	const char *e = secure_getenv("HWAGG_ENVIRONMENT");
	return e == NULL || *e == '\0' ? CKR_OK : env_set(c, "$HWAGG_ENVIRONMENT", e, cfg);
}


/* A string member that is a path: type-checked, then expanded. */
static CK_RV get_path(const conf_ctx *c, const char *where, json_object *v, char **out)
{
	CK_RV rv = hw_conf_check_type(c, where, v, json_type_string);
	if (rv != CKR_OK)
		return rv;
	free(*out);
	return hw_conf_expand_path(c, where, json_object_get_string(v), out);
}

/* ---- sections -------------------------------------------------------------- */

/* "log" and "audit": objects of a few known keys. */
static CK_RV parse_section(const conf_ctx *c, hw_config *cfg, const char *sect, json_object *obj)
{
	char where[CONF_PATH_LEN], q[CONF_QUOTE_LEN];
	bool is_log = strcmp(sect, "log") == 0;
	CK_RV rv = hw_conf_check_type(c, sect, obj, json_type_object);
	if (rv != CKR_OK)
		return rv;
	json_object_object_foreach(obj, key, val) {
		hw_conf_path_key(where, sizeof(where), sect, key);
		if (strcmp(key, "file") == 0) {
			rv = get_path(c, where, val, is_log ? &cfg->log_file : &cfg->audit_file);
		} else if (is_log && strcmp(key, "level") == 0) {
			if ((rv = hw_conf_check_type(c, where, val, json_type_string)) != CKR_OK)
				return rv;
			const char *s = json_object_get_string(val);
			if ((cfg->log_level = hw_log_level_parse(s)) < 0)
				return hw_conf_fail(c, where, "unknown log level %s; expected one of error, warn, info, debug",
						 hw_conf_show(q, s, strlen(s)));
		} else {
			return hw_conf_fail(c, where, "unknown key; expected %s", is_log ? "one of level, file" : "file");
		}
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

/* "a, b, c" from the registry; built_only: just those this build has. */
static void type_list(char *out, size_t len, bool built_only)
{
	size_t n = 0, o = 0;
	const hw_backend_entry *t = hw_backend_table(&n);
	out[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		if (built_only && !hw_backend_available(&t[i]))
			continue;
		int w = snprintf(out + o, len - o, "%s%s", o ? ", " : "", t[i].type);
		o += w > 0 ? (size_t)w : 0;
	}
}

/* Keys every slot type takes beside its backend's: name, type, and the
 * mechanism policy (read by slot_policy). */
static const hw_conf_key slot_keys[] = {
	{ "name", json_type_string, true },
	{ "type", json_type_string, true },
	{ "rsa_min_bits", json_type_int, false },
	{ "mechanisms", json_type_object, false },
	{ "refresh_s", json_type_int, false },
	{ "timeout_ms", json_type_int, false },
	{ NULL, json_type_null, false },
};

/* The ranges of the engine's integer slot keys (read in global.c). */
static const struct {
	const char *name;
	int64_t min, max;
	const char *unit;
} ranges[] = {
	{ "refresh_s", 0, 86400, "seconds" },
	{ "timeout_ms", 1, 600000, "milliseconds" },
};

static CK_RV check_range(const conf_ctx *c, const char *where, const char *key, json_object *val)
{
	for (size_t k = 0; k < HW_ARRAY_LEN(ranges); k++) {
		int64_t v = json_object_get_int64(val);
		if (strcmp(ranges[k].name, key) == 0 && (v < ranges[k].min || v > ranges[k].max))
			return hw_conf_fail(c, where, "%lld is out of range; expected %s %lld..%lld", (long long)v,
					 ranges[k].unit, (long long)ranges[k].min, (long long)ranges[k].max);
	}
	return CKR_OK;
}

static const hw_conf_key *find_key(const hw_conf_key *keys, const char *key)
{
	for (const hw_conf_key *k = keys; k != NULL && k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			return k;
	return NULL;
}

/* The slot's type: present, a string, known and built into this module. */
static CK_RV slot_type(const conf_ctx *c, const char *slot, json_object *obj,
		       const hw_backend_entry **entry)
{
	char where[CONF_PATH_LEN], list[256], q[CONF_QUOTE_LEN];
	json_object *v = NULL;
	CK_RV rv;

	hw_conf_path_key(where, sizeof(where), slot, "type");
	type_list(list, sizeof(list), false);
	if (!json_object_object_get_ex(obj, "type", &v))
		return hw_conf_fail(c, where, "missing required key; expected one of %s", list);
	if ((rv = hw_conf_check_type(c, where, v, json_type_string)) != CKR_OK)
		return rv;
	const char *type = json_object_get_string(v);
	if ((*entry = hw_backend_find(type)) == NULL)
		return hw_conf_fail(c, where, "unknown slot type %s; expected one of %s",
				 hw_conf_show(q, type, strlen(type)), list);
	if (!hw_backend_available(*entry)) {
		const char *sw = (*entry)->configure_switch;
		type_list(list, sizeof(list), true);
		return hw_conf_fail(c, where, "\"%s\" is not built into this module%s%s%s; "
				 "expected a type this build includes: %s", (*entry)->type,
				 sw == NULL ? "" : sw[0] == '(' ? " " : " (configure ",
				 sw == NULL ? "" : sw, sw == NULL || sw[0] == '(' ? "" : ")", list);
	}
	return CKR_OK;
}

/* "allow" or "deny": names from the mechanism table, at least one. */
static CK_RV mech_names(const conf_ctx *c, const char *where, json_object *arr,
			CK_MECHANISM_TYPE **out, size_t *n)
{
	char at[CONF_PATH_LEN + 24], q[CONF_QUOTE_LEN];
	CK_RV rv = hw_conf_check_type(c, where, arr, json_type_array);
	size_t len = rv == CKR_OK ? json_object_array_length(arr) : 0;
	if (rv == CKR_OK && len == 0)
		return hw_conf_fail(c, where, "empty array; expected at least one mechanism name");
	if (rv != CKR_OK || (*out = calloc(len, sizeof(**out))) == NULL)
		return rv != CKR_OK ? rv : hw_conf_oom(c);
	for (size_t i = 0; i < len; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		snprintf(at, sizeof(at), "%s[%zu]", where, i);
		if ((rv = hw_conf_check_type(c, at, v, json_type_string)) != CKR_OK)
			return rv;
		const char *name = json_object_get_string(v);
		const hw_mech *m = hw_mech_by_name(name);
		if (m == NULL)
			return hw_conf_fail(c, at, "unknown mechanism %s; expected a mechanism hwagg implements, named "
					 "as in hwagg.json(5), such as CKM_ECDSA_SHA256", hw_conf_show(q, name, strlen(name)));
		(*out)[(*n)++] = m->type;
	}
	return CKR_OK;
}

/* The slot's mechanism policy (types already checked): "rsa_min_bits" in
 * HW_RSA_FLOOR_BITS..HW_RSA_MAX_BITS, "mechanisms" with "allow" and "deny". */
static CK_RV slot_policy(const conf_ctx *c, const char *slot, json_object *obj, hw_slot_conf *s)
{
	char where[CONF_PATH_LEN], base[CONF_PATH_LEN];
	json_object *v = NULL;
	CK_RV rv = CKR_OK;
	s->rsa_min_bits = HW_RSA_MIN_BITS;
	if (json_object_object_get_ex(obj, "rsa_min_bits", &v)) {
		int64_t bits = json_object_get_int64(v);
		hw_conf_path_key(where, sizeof(where), slot, "rsa_min_bits");
		if (bits < HW_RSA_FLOOR_BITS || bits > HW_RSA_MAX_BITS)
			return hw_conf_fail(c, where, "%" PRId64 " is out of range; expected modulus bits from %d to %d "
					 "(default %d)", bits, HW_RSA_FLOOR_BITS, HW_RSA_MAX_BITS, HW_RSA_MIN_BITS);
		s->rsa_min_bits = (CK_ULONG)bits;
	}
	if (!json_object_object_get_ex(obj, "mechanisms", &v))
		return CKR_OK;
	hw_conf_path_key(base, sizeof(base), slot, "mechanisms");
	json_object_object_foreach(v, key, val) {
		hw_conf_path_key(where, sizeof(where), base, key);
		bool allow = strcmp(key, "allow") == 0;
		if (!allow && strcmp(key, "deny") != 0)
			return hw_conf_fail(c, where, "unknown key; expected one of allow, deny");
		if ((rv = mech_names(c, where, val, allow ? &s->mech_allow : &s->mech_deny,
				     allow ? &s->n_allow : &s->n_deny)) != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static CK_RV parse_slot(const conf_ctx *c, hw_config *cfg, size_t i, json_object *obj)
{
	char slot[32], where[CONF_PATH_LEN], list[256];
	const hw_backend_entry *entry = NULL;
	json_object *v = NULL;
	CK_RV rv;

	snprintf(slot, sizeof(slot), "slots[%zu]", i);
	if ((rv = hw_conf_check_type(c, slot, obj, json_type_object)) != CKR_OK ||
	    (rv = slot_type(c, slot, obj, &entry)) != CKR_OK)
		return rv;
	json_object_object_foreach(obj, key, val) {
		const hw_conf_key *k = find_key(slot_keys, key);
		hw_conf_path_key(where, sizeof(where), slot, key);
		if (strcmp(key, "type") == 0)
			continue;
		if (k == NULL && (k = find_key(entry->conf_keys, key)) == NULL) {
			size_t o = 0;
			list[0] = '\0';
			for (k = slot_keys; k->name != NULL && o < sizeof(list); k++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", k->name);
			for (k = entry->conf_keys; k != NULL && k->name != NULL && o < sizeof(list); k++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, ", %s", k->name);
			return hw_conf_fail(c, where, "unknown key; expected one of %s", list);
		}
		if ((rv = hw_conf_check_type(c, where, val, k->type)) != CKR_OK ||
		    (rv = check_range(c, where, key, val)) != CKR_OK)
			return rv;
	}
	for (const hw_conf_key *k = entry->conf_keys; k != NULL && k->name != NULL; k++) {
		hw_conf_path_key(where, sizeof(where), slot, k->name);
		if (k->required && !json_object_object_get_ex(obj, k->name, NULL))
			return hw_conf_fail(c, where, "missing required key for type \"%s\"; expected %s",
					 entry->type, hw_conf_jtype_want(k->type));
	}
	hw_conf_path_key(where, sizeof(where), slot, "name");
	if (!json_object_object_get_ex(obj, "name", &v))
		return hw_conf_fail(c, where, "missing required key; expected a slot name of 1 to %d bytes",
				 CONF_NAME_MAX);
	const char *name = json_object_get_string(v);
	if ((rv = hw_conf_check_name(c, where, name)) != CKR_OK)
		return rv;
	for (size_t j = 0; j < cfg->nslots; j++)
		if (strcmp(cfg->slots[j].name, name) == 0)
			return hw_conf_fail(c, where, "duplicate slot name \"%s\" (also slots[%zu]); "
					 "expected a unique name", name, j);

	hw_slot_conf *s = &cfg->slots[cfg->nslots++];   /* counted now: freed either way */
	s->name = strdup(name);
	s->type = strdup(entry->type);
	s->json = obj;
	s->index = i;
	return s->name == NULL || s->type == NULL ? hw_conf_oom(c) : slot_policy(c, slot, obj, s);
}

static CK_RV parse_slots(const conf_ctx *c, hw_config *cfg, json_object *arr)
{
	CK_RV rv = hw_conf_check_type(c, "slots", arr, json_type_array);
	if (rv != CKR_OK)
		return rv;
	size_t n = json_object_array_length(arr);
	if (n == 0)
		return hw_conf_fail(c, "slots", "empty array; expected at least one slot object");
	if ((cfg->slots = calloc(n, sizeof(*cfg->slots))) == NULL)
		return hw_conf_oom(c);
	for (size_t i = 0; i < n && rv == CKR_OK; i++)
		rv = parse_slot(c, cfg, i, json_object_array_get_idx(arr, i));
	return rv;
}

/* Everything after the JSON syntax: cfg->root is set and cfg->environment
 * holds the default for this source. */
static CK_RV parse_root(const conf_ctx *c, hw_config *cfg)
{
	char where[CONF_PATH_LEN];
	CK_RV rv = hw_conf_check_type(c, "top level", cfg->root, json_type_object);
	if (rv != CKR_OK)
		return rv;
	json_object_object_foreach(cfg->root, key, val) {
		hw_conf_path_key(where, sizeof(where), "", key);
		if (strcmp(key, "environment") == 0) {
			if ((rv = hw_conf_check_type(c, where, val, json_type_string)) == CKR_OK)
				rv = env_set(c, where, json_object_get_string(val), cfg);
		} else if (strcmp(key, "store") == 0) {
			rv = get_path(c, where, val, &cfg->store);
		} else if (strcmp(key, "log") == 0 || strcmp(key, "audit") == 0) {
			rv = parse_section(c, cfg, key, val);
		} else if (strcmp(key, "slots") == 0) {
			rv = parse_slots(c, cfg, val);
		} else if (strcmp(key, "policy") == 0) {
			rv = hw_policy_conf_parse(c, val, &cfg->policy);
		} else {
			return hw_conf_fail(c, where, "unknown key; expected one of environment, store, log, audit, "
					 "slots, policy");
		}
		if (rv != CKR_OK)
			return rv;
	}
	if (cfg->slots == NULL)
		return hw_conf_fail(c, "slots", "missing required key; expected a non-empty array of slot objects");
	hw_policy_conf_env_default(cfg);
	return cfg->store == NULL ? default_store(c, &cfg->store) : CKR_OK;
}

/* ---- JSON text ------------------------------------------------------------- */

static CK_RV syntax_error(const conf_ctx *c, const char *text, size_t off, const char *what)
{
	char where[64];
	size_t line = 1, col = 1;
	for (size_t i = 0; i < off; i++) {        /* columns count characters, not bytes */
		col = text[i] == '\n' ? 1 : col + (((unsigned char)text[i] & 0xC0) != 0x80);
		line += text[i] == '\n';
	}
	snprintf(where, sizeof(where), "line %zu, column %zu", line, col);
	return hw_conf_fail(c, where, "%s; expected a JSON object (RFC 8259)", what);
}

static CK_RV parse_json(const conf_ctx *c, const char *text, size_t len, json_object **root)
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
		rv = syntax_error(c, text, len, text[skip + strspn(text + skip, " \t\r\n")] == '\0' ?
				  "empty file" : "unexpected end of file");
	else if (jerr != json_tokener_success)
		rv = syntax_error(c, text, skip + json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
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
static CK_RV config_build(const conf_ctx *c, const char *path, const char *text, bool builtin,
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
	cfg->environment = builtin ? HW_ENV_DEVELOPMENT : HW_ENV_PRODUCTION;
	cfg->env_origin = builtin ? "the built-in default configuration" : "default of a configuration file";
	if (len > CONF_MAX_SIZE)
		rv = hw_conf_fail(c, "size", "larger than %d bytes; expected a configuration file", CONF_MAX_SIZE);
	else if ((rv = parse_json(c, text, len, &cfg->root)) == CKR_OK &&
		 (rv = parse_root(c, cfg)) == CKR_OK && !builtin)
		rv = env_override(c, cfg);
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
	return config_build(&c, path, text, false, out);
}

/* Development by definition; hw_config_load applies $HWAGG_ENVIRONMENT. */
hw_config *hw_config_default(void)
{
	conf_ctx c = { "<built-in>", NULL, 0 };
	hw_config *cfg = NULL;
	return config_build(&c, NULL, CONF_DEFAULT_JSON, true, &cfg) == CKR_OK ? cfg : NULL;
}

/* ---- files ----------------------------------------------------------------- */

/* I/O failures are CKR_FUNCTION_FAILED; what the file says is checked by
 * hw_config_parse (CKR_ARGUMENTS_BAD). */
CK_RV hw_config_load_file(const char *path, hw_config **out, char *err, size_t err_len)
{
	conf_ctx c = { path, err, err_len };
	CK_RV rv = CKR_FUNCTION_FAILED;
	const char *why = NULL;
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r = 1;
	int fd = -1;

	if (out == NULL || path == NULL)
		return hw_conf_fail(&c, NULL, "no configuration file given");
	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file";
	else if ((buf = malloc(CONF_MAX_SIZE + 2)) == NULL)
		why = strerror(ENOMEM);
	while (why == NULL && n <= CONF_MAX_SIZE && r != 0) {
		r = read(fd, buf + n, CONF_MAX_SIZE + 1 - n);
		if (r < 0 && errno != EINTR)
			why = strerror(errno);
		n += r > 0 ? (size_t)r : 0;
	}
	if (why != NULL) {
		hw_conf_fail(&c, NULL, "cannot read: %s; expected a readable JSON file", why);
		goto out;           /* rv is still CKR_FUNCTION_FAILED */
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		hw_warn("config %s: writable by group or others, and it names modules this process loads", path);
	buf[n] = '\0';
	const char *nul = memchr(buf, '\0', n);      /* config_build reports n > CONF_MAX_SIZE */
	if (nul != NULL)
		rv = syntax_error(&c, buf, (size_t)(nul - buf), "NUL byte");
	else
		rv = config_build(&c, path, buf, false, out);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rv;
}

/* "config=PATH" among the space- or comma-separated tokens of reserved. */
static CK_RV reserved_path(const char *reserved, char **path, char *err, size_t err_len)
{
	conf_ctx c = { "C_Initialize reserved string (x-init-reserved)", err, err_len };
	const char *p = reserved;

	*path = NULL;
	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, " \t,");
		if (len >= 7 && strncmp(p, "config=", 7) == 0) {
			if (len == 7 || *path != NULL) {
				hw_conf_fail(&c, NULL, "config= %s; expected one config=PATH",
					  len == 7 ? "has an empty path" : "given twice");
				free(*path);
				*path = NULL;
				return CKR_ARGUMENTS_BAD;
			}
			if ((*path = strndup(p + 7, len - 7)) == NULL)
				return hw_conf_oom(&c);
		}
		p += len;
		p += strspn(p, " \t,");
	}
	return CKR_OK;
}

CK_RV hw_config_load_from(const char *reserved, const char *system_path,
			  hw_config **out, char *err, size_t err_len)
{
	conf_ctx c = { "<built-in>", err, err_len };
	const char *path = NULL, *origin = NULL, *env = secure_getenv("HWAGG_CONF");
	char *rpath = NULL;
	struct stat st;
	CK_RV rv;

	if (out == NULL)
		return hw_conf_fail(&c, NULL, "no place for the configuration");
	*out = NULL;
	if ((rv = reserved_path(reserved, &rpath, err, err_len)) != CKR_OK)
		goto out;
	if (rpath != NULL) {
		path = rpath;
		origin = "config= in x-init-reserved";
	} else if (env != NULL && *env != '\0') {
		path = env;
		origin = "$HWAGG_CONF";
	} else if (system_path != NULL &&
		   (stat(system_path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))) {
		path = system_path;     /* present, or unknowable: reading it says why */
		origin = "the system configuration";
	}
	if (path != NULL) {
		rv = hw_config_load_file(path, out, err, err_len);
		if (rv == CKR_FUNCTION_FAILED && err != NULL && err_len > strlen(err))
			snprintf(err + strlen(err), err_len - strlen(err), " (named by %s)", origin);
		if (rv == CKR_OK)
			hw_info("config: %s (%s): %zu slot(s), %s mode", path, origin, (*out)->nslots,
				env_text(*out));
		goto out;
	}
	if ((rv = config_build(&c, NULL, CONF_DEFAULT_JSON, true, out)) != CKR_OK ||
	    (rv = env_override(&c, *out)) != CKR_OK) {
		hw_config_free(*out);
		*out = NULL;
		goto out;
	}
	hw_warn("config: no configuration file (%s absent, $HWAGG_CONF unset): using the built-in default, "
		"one soft slot \"hwagg-dev\" in %s, %s mode", system_path ? system_path : "system file",
		(*out)->store, env_text(*out));
out:
	free(rpath);
	return rv;
}

CK_RV hw_config_load(const char *reserved, hw_config **out, char *err, size_t err_len)
{
	return hw_config_load_from(reserved, HW_SYSTEM_CONF, out, err, err_len);
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
	free(c->audit_file);
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
