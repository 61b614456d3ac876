/*
 * The "policy" section of the configuration (hwagg.json(5)):
 *
 *   "policy": { "precedence": ["payments", "tpm", "keyring"],
 *               "min_security": { "production": "hardware", "staging": "software" },
 *               "fallback": { "production": false, "development": true } }
 *
 * The environment itself is not here: it is one setting for the whole
 * module, the top-level "environment" ("production", "staging",
 * "development" or "auto"), so that the policy slot, the soft slot's
 * warning and the refusal of development keys all read the same truth.
 */
#ifndef HW_POLICY_CONF_H
#define HW_POLICY_CONF_H

#include "module/conf_int.h"
#include "slots/backend.h"

#define HW_ENV_COUNT 3

typedef struct hw_policy_conf {
	char **precedence;            /* slot names or types, most preferred first */
	size_t nprec;
	hw_security min_sec[HW_ENV_COUNT];   /* per hw_env */
	bool fallback[HW_ENV_COUNT];
	/* "retry": an unavailable member is tried again for up to max_ms
	 * (and never past the member's timeout_ms), waiting a random time up
	 * to base_ms * 2^attempt between tries (full jitter) */
	unsigned retry_max_ms, retry_base_ms;
} hw_policy_conf;

/* The defaults: production and staging need hardware keys, development
 * takes software ones; fallback only in development. */
const hw_policy_conf *hw_policy_conf_defaults(void);
/* The section (type-checked here); *out is replaced. */
CK_RV hw_policy_conf_parse(conf_ctx *c, json_object *v, hw_policy_conf **out);
void hw_policy_conf_free(hw_policy_conf *p);
/* A file that does not say "environment" but has a policy slot is "auto"
 * (the policy decides by the environment it finds itself in). */
void hw_policy_conf_env_default(hw_config *cfg);
/* Levels ordered by how well they keep a key: software < external < hardware. */
int hw_security_rank(hw_security s);
/* "hardware" ... -> level; false if unknown. */
bool hw_security_parse(const char *s, hw_security *out);

#endif
