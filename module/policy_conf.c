/*
 * The "policy" section (policy_conf.h): checked completely when the file is
 * read, like every other section; slot names in "precedence" are checked
 * against the slots when the policy slot opens (the slots may come later
 * in the file).
 */
#include "module/policy_conf.h"

#include <stdlib.h>
#include <string.h>

static const hw_policy_conf defaults = {
	.min_sec = {
		[HW_ENV_DEVELOPMENT] = HW_SEC_SOFTWARE,
		[HW_ENV_STAGING] = HW_SEC_HARDWARE,
		[HW_ENV_PRODUCTION] = HW_SEC_HARDWARE,
	},
	.fallback = {
		[HW_ENV_DEVELOPMENT] = true,
		[HW_ENV_STAGING] = false,
		[HW_ENV_PRODUCTION] = false,
	},
	.retry_max_ms = 1000,
	.retry_base_ms = 50,
};

const hw_policy_conf *hw_policy_conf_defaults(void)
{
	return &defaults;
}

int hw_security_rank(hw_security s)
{
	switch (s) {
	case HW_SEC_HARDWARE: return 2;
	case HW_SEC_EXTERNAL: return 1;
	default: return 0;
	}
}

bool hw_security_parse(const char *s, hw_security *out)
{
	static const hw_security all[] = { HW_SEC_SOFTWARE, HW_SEC_EXTERNAL, HW_SEC_HARDWARE };
	for (size_t i = 0; i < HW_ARRAY_LEN(all); i++) {
		if (strcmp(s, hw_security_name(all[i])) == 0) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

void hw_policy_conf_free(hw_policy_conf *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nprec; i++)
		free(p->precedence[i]);
	free(p->precedence);
	free(p);
}

/* ---- the section's keys, as data (module/conf_int.h) ---------------------- */

static const char *const levels[] = { "hardware", "external", "software", NULL };

/* "min_security" and "fallback": one value per environment */
static const hw_conf_key min_keys[] = {
	{ "production", json_type_string, false, .choices = levels },
	{ "staging", json_type_string, false, .choices = levels },
	{ "development", json_type_string, false, .choices = levels },
	{ NULL, json_type_null, false },
};
static const hw_conf_key fallback_keys[] = {
	{ "production", json_type_boolean, false },
	{ "staging", json_type_boolean, false },
	{ "development", json_type_boolean, false },
	{ NULL, json_type_null, false },
};
static const hw_conf_key retry_keys[] = {
	{ "max_ms", json_type_int, false, 0, 60000, .unit = "milliseconds" },
	{ "base_ms", json_type_int, false, 1, 10000, .unit = "milliseconds" },
	{ NULL, json_type_null, false },
};
static const hw_conf_key policy_keys[] = {
	{ "precedence", json_type_array, false },
	{ "min_security", json_type_object, false },
	{ "fallback", json_type_object, false },
	{ "retry", json_type_object, false },
	{ NULL, json_type_null, false },
};

/* obj (an object) against keys; base is its path. */
static CK_RV check(conf_ctx *c, const char *base, json_object *obj, const hw_conf_key *keys)
{
	CK_RV rv = hw_conf_check_type(c, base, obj, json_type_object);
	return rv != CKR_OK ? rv : hw_conf_check_members(c, base, obj, &keys, 1);
}

/* "min_security" or "fallback", checked: the values per environment. */
static void per_env(json_object *obj, hw_policy_conf *p, bool is_min)
{
	json_object *v = NULL;
	for (int e = 0; e < HW_ENV_COUNT; e++) {
		if (!json_object_object_get_ex(obj, hw_env_name((hw_env)e), &v))
			continue;
		if (is_min)
			hw_security_parse(json_object_get_string(v), &p->min_sec[e]);   /* a choice: known */
		else
			p->fallback[e] = json_object_get_boolean(v) != 0;
	}
}

static CK_RV precedence(conf_ctx *c, json_object *arr, hw_policy_conf *p)
{
	char where[CONF_PATH_LEN + 24];
	CK_RV rv = hw_conf_check_type(c, "policy.precedence", arr, json_type_array);
	size_t n = rv == CKR_OK ? json_object_array_length(arr) : 0;
	if (rv != CKR_OK)
		return rv;
	if ((p->precedence = calloc(n + 1, sizeof(char *))) == NULL)
		return hw_conf_oom(c);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		snprintf(where, sizeof(where), "policy.precedence[%zu]", i);
		if ((rv = hw_conf_check_type(c, where, v, json_type_string)) != CKR_OK ||
		    (rv = hw_conf_check_name(c, where, json_object_get_string(v))) != CKR_OK)
			return rv;
		if ((p->precedence[p->nprec] = strdup(json_object_get_string(v))) == NULL)
			return hw_conf_oom(c);
		p->nprec++;
	}
	return CKR_OK;
}

CK_RV hw_policy_conf_parse(conf_ctx *c, json_object *v, hw_policy_conf **out)
{
	json_object *sub = NULL;
	CK_RV rv = hw_conf_check_type(c, "policy", v, json_type_object);
	if (rv != CKR_OK)
		return rv;
	hw_policy_conf *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return hw_conf_oom(c);
	memcpy(p->min_sec, defaults.min_sec, sizeof(p->min_sec));
	memcpy(p->fallback, defaults.fallback, sizeof(p->fallback));
	p->retry_max_ms = defaults.retry_max_ms;
	p->retry_base_ms = defaults.retry_base_ms;
	hw_policy_conf_free(*out);
	*out = p;                     /* freed with the config either way */
	if (json_object_object_get_ex(v, "environment", NULL))
		return hw_conf_fail(c, "policy.environment", "the environment is one setting for the whole module; "
				    "expected it at the top level (\"environment\": \"auto\")");
	/* every problem of the section is reported, the first one returned */
	CK_RV r = check(c, "policy", v, policy_keys);
	if (json_object_object_get_ex(v, "min_security", &sub) &&
	    json_object_is_type(sub, json_type_object) &&
	    (rv = check(c, "policy.min_security", sub, min_keys)) == CKR_OK)
		per_env(sub, p, true);
	r = r != CKR_OK ? r : rv;
	if (json_object_object_get_ex(v, "fallback", &sub) && json_object_is_type(sub, json_type_object) &&
	    (rv = check(c, "policy.fallback", sub, fallback_keys)) == CKR_OK)
		per_env(sub, p, false);
	r = r != CKR_OK ? r : rv;
	if (json_object_object_get_ex(v, "retry", &sub) && json_object_is_type(sub, json_type_object) &&
	    (rv = check(c, "policy.retry", sub, retry_keys)) == CKR_OK) {
		json_object *n = NULL;
		if (json_object_object_get_ex(sub, "max_ms", &n))
			p->retry_max_ms = (unsigned)json_object_get_int64(n);
		if (json_object_object_get_ex(sub, "base_ms", &n))
			p->retry_base_ms = (unsigned)json_object_get_int64(n);
	}
	r = r != CKR_OK ? r : rv;
	if (json_object_object_get_ex(v, "precedence", &sub) && json_object_is_type(sub, json_type_array))
		rv = precedence(c, sub, p);
	return r != CKR_OK ? r : rv;
}

void hw_policy_conf_env_default(hw_config *cfg)
{
	if (cfg->builtin || strncmp(cfg->env_origin, "default", 7) != 0)
		return;           /* said explicitly: that wins */
	for (size_t i = 0; i < cfg->nslots; i++) {
		if (strcmp(cfg->slots[i].type, "policy") == 0) {
			cfg->env_auto = true;
			cfg->env_origin = "default of a configuration with a policy slot";
			return;
		}
	}
}
