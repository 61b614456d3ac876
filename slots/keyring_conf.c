/* The keyring slot's configuration keys: in the engine, so that a config is
 * checked without loading the backend module. */
#include "slots/backend.h"

const hw_conf_key hw_keyring_conf_keys[] = {
	{ "collection", json_type_string, false },
	{ "cache_keys", json_type_boolean, false },
	{ NULL, json_type_null, false },
};
