/* The cloud KMS slots' configuration keys: in the engine, so that a config
 * is checked without loading the backend module. */
#include "slots/backend.h"

const hw_conf_key hw_aws_kms_conf_keys[] = {
	{ "region", json_type_string, false },
	{ "endpoint", json_type_string, false },
	{ "ca_file", json_type_string, false },
	{ "profile", json_type_string, false },
	{ "keys", json_type_array, false },
	{ "deletion_window_days", json_type_int, false },
	{ "pin", json_type_string, false },
	{ NULL, json_type_null, false },
};

static const char *const gcp_levels[] = { "HSM", "SOFTWARE", NULL };

const hw_conf_key hw_gcp_kms_conf_keys[] = {
	{ "key_ring", json_type_string, true },
	{ "protection_level", json_type_string, false, 0, 0, gcp_levels },
	{ "endpoint", json_type_string, false },
	{ "ca_file", json_type_string, false },
	{ "pin", json_type_string, false },
	{ NULL, json_type_null, false },
};

const hw_conf_key hw_azure_kv_conf_keys[] = {
	{ "vault_url", json_type_string, true },
	{ "ca_file", json_type_string, false },
	{ "keys", json_type_array, false },
	{ "allow_software_keys", json_type_boolean, false },
	{ "pin", json_type_string, false },
	{ NULL, json_type_null, false },
};
