/*
 * The registry: the one place that names every backend. Adding a backend is
 * one file in slots/, one row here and one configure switch.
 */
#include "slots/backend.h"
#include <string.h>

extern const hw_backend_ops hw_soft_ops;
#if WITH_HSM
extern const hw_backend_ops hw_hsm_ops;
#endif
#if WITH_KEYRING
extern const hw_backend_ops hw_keyring_ops;
#endif
#if WITH_TPM
extern const hw_backend_ops hw_tpm_ops;
#endif


static const hw_backend_entry table[] = {
	{ "soft", &hw_soft_ops, NULL },
#if WITH_HSM
	{ "hsm", &hw_hsm_ops, NULL },
#else
	{ "hsm", NULL, "(not yet available)" },
#endif
#if WITH_KEYRING
	{ "keyring", &hw_keyring_ops, "--with-keyring" },
#else
	{ "keyring", NULL, "--with-keyring" },
#endif
	{ "tpm", NULL, "--with-tpm" },
	{ "aws-kms", NULL, "--with-kms" },
	{ "azure-kv", NULL, "--with-kms" },
	{ "gcp-kms", NULL, "--with-kms" },
	{ "policy", NULL, "(not yet available)" },
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

const char *hw_security_name(hw_security s)
{
	switch (s) {
	case HW_SEC_HARDWARE: return "hardware";
	case HW_SEC_EXTERNAL: return "external";
	default: return "software";
	}
}
