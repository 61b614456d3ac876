/*
 * The registry: the one place that names every backend. Adding a backend is
 * one file set in slots/, one row here and one configure switch. A backend
 * with heavy libraries is a module file unless configure was given
 * --enable-builtin-backends (HW_BUILTIN_BACKENDS).
 */
#include "slots/backend.h"
#include <string.h>

extern const hw_backend_ops hw_soft_ops;
extern const hw_backend_ops hw_policy_ops;      /* module/policy.c: engine, not a backend */
extern const hw_conf_key hw_policy_conf_keys[];
extern const hw_conf_key hw_soft_conf_keys[];
extern const hw_backend_ops hw_external_ops;
extern const hw_conf_key hw_external_conf_keys[];
#if WITH_HSM
extern const hw_backend_ops hw_hsm_ops;
extern const hw_conf_key hw_hsm_conf_keys[];
#endif
#if WITH_KEYRING
extern const hw_conf_key hw_keyring_conf_keys[];
#if HW_BUILTIN_BACKENDS
extern const hw_backend_ops hw_keyring_ops;
#define KEYRING_OPS &hw_keyring_ops, NULL
#else
#define KEYRING_OPS NULL, "hwagg-keyring"
#endif
#endif
#if WITH_TPM
extern const hw_conf_key hw_tpm_conf_keys[];
#if HW_BUILTIN_BACKENDS
extern const hw_backend_ops hw_tpm_ops;
#define TPM_OPS &hw_tpm_ops, NULL
#else
#define TPM_OPS NULL, "hwagg-tpm"
#endif
#endif
#if WITH_KMS
extern const hw_conf_key hw_aws_kms_conf_keys[];
#if HW_BUILTIN_BACKENDS
extern const hw_backend_ops hw_aws_kms_ops;
#define AWS_KMS_OPS &hw_aws_kms_ops, NULL
#else
#define AWS_KMS_OPS NULL, "hwagg-kms"
#endif
extern const hw_conf_key hw_gcp_kms_conf_keys[];
#if HW_BUILTIN_BACKENDS
extern const hw_backend_ops hw_gcp_kms_ops;
#define GCP_KMS_OPS &hw_gcp_kms_ops, NULL
#else
#define GCP_KMS_OPS NULL, "hwagg-kms"
#endif
extern const hw_conf_key hw_azure_kv_conf_keys[];
#if HW_BUILTIN_BACKENDS
extern const hw_backend_ops hw_azure_kv_ops;
#define AZURE_KV_OPS &hw_azure_kv_ops, NULL
#else
#define AZURE_KV_OPS NULL, "hwagg-kms"
#endif
#endif

static const hw_backend_entry table[] = {
	{ "soft", &hw_soft_ops, NULL, hw_soft_conf_keys, NULL, true },
#if WITH_HSM
	{ "hsm", &hw_hsm_ops, NULL, hw_hsm_conf_keys, NULL },
#else
	{ "hsm", NULL, NULL, NULL, "(not yet available)" },
#endif
#if WITH_KEYRING
	{ "keyring", KEYRING_OPS, hw_keyring_conf_keys, "--with-keyring" },
#else
	{ "keyring", NULL, NULL, NULL, "--with-keyring" },
#endif
#if WITH_TPM
	{ "tpm", TPM_OPS, hw_tpm_conf_keys, "--with-tpm" },
#else
	{ "tpm", NULL, NULL, NULL, "--with-tpm" },
#endif
	{ "external", &hw_external_ops, NULL, hw_external_conf_keys, NULL },
#if WITH_KMS
	{ "aws-kms", AWS_KMS_OPS, hw_aws_kms_conf_keys, "--with-kms" },
#else
	{ "aws-kms", NULL, NULL, NULL, "--with-kms" },
#endif
#if WITH_KMS
	{ "gcp-kms", GCP_KMS_OPS, hw_gcp_kms_conf_keys, "--with-kms" },
#else
	{ "gcp-kms", NULL, NULL, NULL, "--with-kms" },
#endif
#if WITH_KMS
	{ "azure-kv", AZURE_KV_OPS, hw_azure_kv_conf_keys, "--with-kms" },
#else
	{ "azure-kv", NULL, NULL, NULL, "--with-kms" },
#endif
	{ "policy", &hw_policy_ops, NULL, hw_policy_conf_keys, NULL },
};

const hw_backend_entry *hw_backend_table(size_t *count)
{
	*count = HW_ARRAY_LEN(table);
	return table;
}

const hw_backend_entry *hw_backend_find(const char *type)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(table); i++)
		if (strcmp(table[i].type, type) == 0)
			return &table[i];
	return NULL;
}

bool hw_backend_available(const hw_backend_entry *e)
{
	return e != NULL && (e->ops != NULL || e->module != NULL);
}

const char *hw_security_name(hw_security s)
{
	switch (s) {
	case HW_SEC_HARDWARE: return "hardware";
	case HW_SEC_EXTERNAL: return "external";
	default: return "software";
	}
}
