/* The tpm slot's configuration keys: in the engine, so that a config is
 * checked without loading the backend module. */
#include "slots/backend.h"

const hw_conf_key hw_tpm_conf_keys[] = {
	{ "tcti", json_type_string, false },
	{ "loaded_keys", json_type_int, false },
	{ "attest", json_type_boolean, false },
	{ NULL, json_type_null, false },
};
