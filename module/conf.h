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

/* What a key's value is checked for beyond its JSON type (hw_conf_key.check):
 * checks that need no blocking I/O, run by `hwagg config check` only (a
 * consumer's C_Initialize must not fail on a file that may appear later). */
enum {
	HW_CONF_CHECK_SHARED_OBJECT = 1,   /* an existing ELF shared object */
	HW_CONF_CHECK_EXECUTABLE = 2,      /* an existing file this user may execute */
	HW_CONF_CHECK_DIR_CREATABLE = 4,   /* a directory that exists or can be created */
	HW_CONF_CHECK_FILE_WRITABLE = 8,   /* a file that can be appended to or created */
};

/* One allowed key of a slot type's object or of a section (backends list
 * theirs as data). Rows may stop after "required": the rest is then "no
 * further rule". */
typedef struct hw_conf_key {
	const char *name;
	json_type type;          /* json_type_string, _int, _boolean, _object, _array */
	bool required;
	int64_t min, max;        /* an integer's range (both 0: any) */
	const char *const *choices;  /* a string's values, NULL-terminated (NULL: any) */
	const char *unit;        /* of an integer, for messages and docs ("seconds") */
	unsigned check;          /* HW_CONF_CHECK_* */
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

/* The "audit" object (module/conf_audit.c reads it, module/audit.c applies it). */
typedef enum { HW_AUDIT_SIGN_SUMMARY = 0, HW_AUDIT_SIGN_EACH } hw_audit_sign_events;
typedef struct hw_audit_conf {
	bool enabled;            /* "enabled", default true */
	char *path;              /* "path"; NULL = <store>/audit.jsonl */
	bool syslog;             /* "syslog": every record also to syslog (LOG_AUTHPRIV) */
	hw_audit_sign_events sign_events;   /* "sign_events": "summary" (default) or "each" */
	char *checkpoint_key;    /* "checkpoint_key": PKCS#11 URI of a signing key; NULL = none */
	unsigned checkpoint_every;    /* "checkpoint_every": records; 0 = not by count */
	unsigned checkpoint_seconds;  /* "checkpoint_seconds": 0 = not by time */
} hw_audit_conf;
struct hw_policy_conf;       /* the "policy" section (module/policy_conf.h) */

typedef struct hw_config {
	char *path;              /* file it came from; NULL for the built-in default */
	const char *origin;      /* what named it: "$HWAGG_CONF", ... (static) */
	bool builtin;
	hw_env environment;      /* explicit or default; with env_auto, what detection
	                          * decides is the truth (hw_env_current, module/policy.h) */
	bool env_auto;           /* "auto": detected at first use, never at C_Initialize */
	const char *env_origin;  /* where environment came from (static text), for status */
	struct hw_policy_conf *policy;   /* NULL: no "policy" section, the defaults */
	char *store;             /* store directory, "~" and $VARS expanded */
	int log_level;           /* -1 = not set */
	char *log_file;          /* NULL = stderr */
	hw_audit_conf audit;
	bool rotation_disable;   /* "rotation"."retire": "disable" (else "destroy") */
	int rotation_days;       /* "rotation"."interval_days"; -1 = not set (90 outside
	                          * development, else never); 0 = never */
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
/* The configuration's lines for the log, once the log goes where the
 * configuration says: which file and why; for the built-in default a
 * warning once per process (info when the developer asked for it:
 * $HWAGG_ENVIRONMENT=development or a ~/.config/hwagg/development file). */
void hw_config_announce(const hw_config *c);

/* Every problem of a configuration, one line each, without stopping at the
 * first; then each slot's backend checks its own values (a backend module is
 * loaded for that) and the HW_CONF_CHECK_* rules run. path NULL: the search
 * order; origin says who named path. Returns the number of problems (0: the
 * configuration is good); *out (may be NULL) gets it when there are none. */
typedef void (*hw_conf_report_fn)(void *arg, const char *line);
/* A backend's open() message "key: text" for slot i as the parser says it:
 * where = "slots[i] (\"name\").key", what = "text". */
void hw_conf_backend_where(char *out, size_t len, const hw_config *cfg, size_t i, const char *err);
const char *hw_conf_backend_what(const char *err);
unsigned hw_config_check(const char *path, const char *origin, hw_conf_report_fn report, void *arg,
			 hw_config **out);
void hw_config_free(hw_config *c);
const char *hw_env_name(hw_env e);
/* For the log: the environment, or "auto (detected at first use)". */
const char *hw_env_text(const hw_config *cfg);

/* Helpers for backends reading their own keys (already type-checked). */
const char *hw_conf_str(const hw_slot_conf *s, const char *key, const char *dflt);
int64_t hw_conf_int(const hw_slot_conf *s, const char *key, int64_t dflt);
bool hw_conf_bool(const hw_slot_conf *s, const char *key, bool dflt);

#endif
