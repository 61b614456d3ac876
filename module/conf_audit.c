/*
 * The configuration's "audit" object: one row per key, each with its type
 * and the function that reads it, so that a new key is one line here and
 * the message listing the keys follows by itself. Also "rotation", the
 * other half of a key's audited life.
 */
#include "module/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef CK_RV (*audit_set_fn)(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a);

static CK_RV set_enabled(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	a->enabled = json_object_get_boolean(v) != 0;
	return CKR_OK;
}

static CK_RV set_path(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	free(a->path);
	a->path = NULL;
	return hw_conf_expand_path(c, where, json_object_get_string(v), &a->path);
}

static CK_RV set_syslog(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	a->syslog = json_object_get_boolean(v) != 0;
	return CKR_OK;
}

static CK_RV set_sign_events(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	char q[CONF_QUOTE_LEN];
	const char *s = json_object_get_string(v);
	if (strcmp(s, "summary") == 0)
		a->sign_events = HW_AUDIT_SIGN_SUMMARY;
	else if (strcmp(s, "each") == 0)
		a->sign_events = HW_AUDIT_SIGN_EACH;
	else
		return hw_conf_fail(c, where, "unknown value %s; expected one of summary, each",
				    hw_conf_show(q, s, strlen(s)));
	return CKR_OK;
}

static CK_RV set_checkpoint_key(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	char q[CONF_QUOTE_LEN];
	const char *s = json_object_get_string(v);
	if (strncmp(s, "pkcs11:", 7) != 0)
		return hw_conf_fail(c, where, "%s is not a PKCS#11 URI; expected \"pkcs11:token=...;object=...\"",
				    hw_conf_show(q, s, strlen(s)));
	free(a->checkpoint_key);
	a->checkpoint_key = strdup(s);
	return a->checkpoint_key == NULL ? hw_conf_oom(c) : CKR_OK;
}

/* A count or a number of seconds: 0 (off) .. 10^9. */
static CK_RV get_count(conf_ctx *c, const char *where, json_object *v, unsigned *out)
{
	int64_t n = json_object_get_int64(v);
	if (n < 0 || n > 1000000000)
		return hw_conf_fail(c, where, "%lld is out of range; expected 0 (off) to 1000000000", (long long)n);
	*out = (unsigned)n;
	return CKR_OK;
}

static CK_RV set_cp_every(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	return get_count(c, where, v, &a->checkpoint_every);
}

static CK_RV set_cp_seconds(conf_ctx *c, const char *where, json_object *v, hw_audit_conf *a)
{
	return get_count(c, where, v, &a->checkpoint_seconds);
}

static const struct {
	const char *name;
	json_type type;
	audit_set_fn set;
} audit_keys[] = {
	{ "enabled", json_type_boolean, set_enabled },
	{ "path", json_type_string, set_path },
	{ "file", json_type_string, set_path },     /* the first name of "path" */
	{ "syslog", json_type_boolean, set_syslog },
	{ "sign_events", json_type_string, set_sign_events },
	{ "checkpoint_key", json_type_string, set_checkpoint_key },
	{ "checkpoint_every", json_type_int, set_cp_every },
	{ "checkpoint_seconds", json_type_int, set_cp_seconds },
};

CK_RV hw_conf_audit(conf_ctx *c, json_object *obj, hw_audit_conf *a)
{
	char where[CONF_PATH_LEN], list[256];
	CK_RV rv;
	json_object_object_foreach(obj, key, val) {
		size_t k = 0;
		hw_conf_path_key(where, sizeof(where), "audit", key);
		while (k < HW_ARRAY_LEN(audit_keys) && strcmp(audit_keys[k].name, key) != 0)
			k++;
		if (k == HW_ARRAY_LEN(audit_keys)) {
			size_t o = 0;
			for (size_t i = 0; i < HW_ARRAY_LEN(audit_keys) && o < sizeof(list); i++)
				if (strcmp(audit_keys[i].name, "file") != 0)
					o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
							      audit_keys[i].name);
			return hw_conf_fail(c, where, "unknown key; expected one of %s", list);
		}
		if ((rv = hw_conf_check_type(c, where, val, audit_keys[k].type)) != CKR_OK ||
		    (rv = audit_keys[k].set(c, where, val, a)) != CKR_OK)
			return rv;
	}
	if ((a->checkpoint_every || a->checkpoint_seconds) && a->checkpoint_key == NULL)
		return hw_conf_fail(c, "audit.checkpoint_key", "missing; expected the URI of the key that signs "
				    "checkpoints, since checkpoint_every or checkpoint_seconds is set");
	return CKR_OK;
}

static const char *const retire_choices[] = { "destroy", "disable", NULL };
static const hw_conf_key rotation_keys[] = {
	{ "interval_days", json_type_int, false, 0, 36500, .unit = "days; 0 is never" },
	{ "retire", json_type_string, false, .choices = retire_choices },
	{ NULL, json_type_null, false },
};

CK_RV hw_conf_rotation(conf_ctx *c, json_object *obj, int *days, bool *disable)
{
	const hw_conf_key *keys = rotation_keys;
	json_object *v = NULL;
	CK_RV rv = hw_conf_check_members(c, "rotation", obj, &keys, 1);
	if (rv != CKR_OK)
		return rv;
	if (json_object_object_get_ex(obj, "interval_days", &v))
		*days = (int)json_object_get_int64(v);
	if (json_object_object_get_ex(obj, "retire", &v))
		*disable = strcmp(json_object_get_string(v), "disable") == 0;
	return CKR_OK;
}
