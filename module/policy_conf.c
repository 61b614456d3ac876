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

/* The environment named by a key of "min_security" or "fallback". */
static CK_RV env_key(const conf_ctx *c, const char *where, const char *key, hw_env *out)
{
	for (int e = 0; e < HW_ENV_COUNT; e++) {
		if (strcmp(key, hw_env_name((hw_env)e)) == 0) {
			*out = (hw_env)e;
			return CKR_OK;
		}
	}
	return hw_conf_fail(c, where, "unknown key; expected one of production, staging, development");
}

/* "min_security" or "fallback": an object keyed by environment. */
static CK_RV per_env(const conf_ctx *c, const char *base, json_object *obj, hw_policy_conf *p, bool is_min)
{
	char where[CONF_PATH_LEN], q[CONF_QUOTE_LEN];
	CK_RV rv = hw_conf_check_type(c, base, obj, json_type_object);
	if (rv != CKR_OK)
		return rv;
	json_object_object_foreach(obj, key, val) {
		hw_env e = HW_ENV_PRODUCTION;
		hw_conf_path_key(where, sizeof(where), base, key);
		if ((rv = env_key(c, where, key, &e)) != CKR_OK ||
		    (rv = hw_conf_check_type(c, where, val, is_min ? json_type_string : json_type_boolean)) != CKR_OK)
			return rv;
		if (!is_min) {
			p->fallback[e] = json_object_get_boolean(val) != 0;
			continue;
		}
		const char *s = json_object_get_string(val);
		if (!hw_security_parse(s, &p->min_sec[e]))
			return hw_conf_fail(c, where, "unknown security level %s; expected one of hardware, "
					 "external, software", hw_conf_show(q, s, strlen(s)));
	}
	return CKR_OK;
}

/* "retry": {"max_ms": 0..60000, "base_ms": 1..10000}. */
static CK_RV retry(const conf_ctx *c, json_object *obj, hw_policy_conf *p)
{
	char where[CONF_PATH_LEN];
	CK_RV rv = hw_conf_check_type(c, "policy.retry", obj, json_type_object);
	if (rv != CKR_OK)
		return rv;
	json_object_object_foreach(obj, key, val) {
		bool is_max = strcmp(key, "max_ms") == 0;
		int64_t lo = is_max ? 0 : 1, hi = is_max ? 60000 : 10000;
		hw_conf_path_key(where, sizeof(where), "policy.retry", key);
		if (!is_max && strcmp(key, "base_ms") != 0)
			return hw_conf_fail(c, where, "unknown key; expected one of max_ms, base_ms");
		if ((rv = hw_conf_check_type(c, where, val, json_type_int)) != CKR_OK)
			return rv;
		int64_t v = json_object_get_int64(val);
		if (v < lo || v > hi)
			return hw_conf_fail(c, where, "%lld is out of range; expected milliseconds %lld..%lld",
					 (long long)v, (long long)lo, (long long)hi);
		*(is_max ? &p->retry_max_ms : &p->retry_base_ms) = (unsigned)v;
	}
	return CKR_OK;
}

static CK_RV precedence(const conf_ctx *c, json_object *arr, hw_policy_conf *p)
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

CK_RV hw_policy_conf_parse(const conf_ctx *c, json_object *v, hw_policy_conf **out)
{
	char where[CONF_PATH_LEN];
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
	json_object_object_foreach(v, key, val) {
		hw_conf_path_key(where, sizeof(where), "policy", key);
		if (strcmp(key, "precedence") == 0)
			rv = precedence(c, val, p);
		else if (strcmp(key, "min_security") == 0 || strcmp(key, "fallback") == 0)
			rv = per_env(c, where, val, p, key[0] == 'm');
		else if (strcmp(key, "retry") == 0)
			rv = retry(c, val, p);
		else if (strcmp(key, "environment") == 0)
			rv = hw_conf_fail(c, where, "the environment is one setting for the whole module; "
					  "expected it at the top level (\"environment\": \"auto\")");
		else
			rv = hw_conf_fail(c, where, "unknown key; expected one of precedence, min_security, fallback, "
					  "retry");
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
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
