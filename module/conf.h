/*
 * Configuration: one JSON file (json-c). Search order: "config=PATH" in the
 * C_Initialize pReserved string (p11-kit x-init-reserved), $HWAGG_CONF,
 * /etc/hwagg/hwagg.json, then the built-in default (one "soft" slot named
 * "hwagg-dev", development mode). Every error names the file, the key (as a
 * JSON path like slots[1].type) and what was expected.
 */
#ifndef HW_CONF_H
#define HW_CONF_H

#include "common/ck.h"
#include <json-c/json.h>

typedef enum { HW_ENV_DEVELOPMENT = 0, HW_ENV_STAGING, HW_ENV_PRODUCTION } hw_env;

/* One allowed key of a slot type's object (backends list theirs as data). */
typedef struct hw_conf_key {
	const char *name;
	json_type type;          /* json_type_string, _int, _boolean, _object, _array */
	bool required;
} hw_conf_key;

typedef struct hw_slot_conf {
	char *name;              /* token label: 1..32 bytes, unique */
	char *type;              /* "soft", "hsm", "tpm", ... */
	json_object *json;       /* the slot's whole object, for backend keys (borrowed) */
	size_t index;            /* position in "slots" = slot ID order */
	/* the mechanism policy, keys every slot type takes (mechpolicy.c applies it) */
	CK_ULONG rsa_min_bits;   /* "rsa_min_bits"; 0 = HW_RSA_MIN_BITS */
	CK_MECHANISM_TYPE *mech_allow;   /* "mechanisms.allow": the only ones; NULL = all */
	size_t n_allow;
	CK_MECHANISM_TYPE *mech_deny;    /* "mechanisms.deny": never these */
	size_t n_deny;
} hw_slot_conf;

struct hw_policy_conf;       /* the "policy" section (module/policy_conf.h) */

typedef struct hw_config {
	char *path;              /* file it came from; NULL for the built-in default */
	bool builtin;
	hw_env environment;      /* explicit or default; with env_auto, what detection
	                          * decides is the truth (hw_env_current, module/policy.h) */
	bool env_auto;           /* "auto": detected at first use, never at C_Initialize */
	const char *env_origin;  /* where environment came from (static text), for status */
	struct hw_policy_conf *policy;   /* NULL: no "policy" section, the defaults */
	char *store;             /* store directory, "~" and $VARS expanded */
	int log_level;           /* -1 = not set */
	char *log_file;          /* NULL = stderr */
	char *audit_file;        /* NULL = <store>/audit.jsonl */
	hw_slot_conf *slots;
	size_t nslots;
	json_object *root;       /* owned */
} hw_config;

#define HW_CONFIG_ERR_LEN 512

/* The system-wide file of the search order; override with -DHW_SYSTEM_CONF=... */
#ifndef HW_SYSTEM_CONF
#define HW_SYSTEM_CONF "/etc/hwagg/hwagg.json"
#endif

/* Locate and load per the search order; reserved may be NULL. */
CK_RV hw_config_load(const char *reserved, hw_config **out, char *err, size_t err_len);
/* The same with the system file given (hw_config_load passes HW_SYSTEM_CONF;
 * NULL skips that step). */
CK_RV hw_config_load_from(const char *reserved, const char *system_path,
			  hw_config **out, char *err, size_t err_len);
CK_RV hw_config_load_file(const char *path, hw_config **out, char *err, size_t err_len);
/* Parse text; path is only used in messages (NULL -> "<built-in>"). */
CK_RV hw_config_parse(const char *text, const char *path, hw_config **out, char *err, size_t err_len);
hw_config *hw_config_default(void);
void hw_config_free(hw_config *c);
const char *hw_env_name(hw_env e);

/* Helpers for backends reading their own keys (already type-checked). */
const char *hw_conf_str(const hw_slot_conf *s, const char *key, const char *dflt);
int64_t hw_conf_int(const hw_slot_conf *s, const char *key, int64_t dflt);
bool hw_conf_bool(const hw_slot_conf *s, const char *key, bool dflt);

#endif
