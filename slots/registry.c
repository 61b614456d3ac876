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
#if WITH_KMS
extern const hw_backend_ops hw_aws_kms_ops, hw_azure_kv_ops, hw_gcp_kms_ops;
#endif

/* Every row follows its configure switch. A backend whose code is not in
 * the tree yet (tpm, the cloud KMS ones) has a switch that configure
 * refuses to turn on (configure.ac, HW_BACKEND_PLANNED), so its WITH_ is
 * never defined and the row says so instead of naming a switch that could
 * not build it; defining the WITH_ by hand fails at link time rather than
 * claiming a backend that is not there. When such a backend lands, its
 * switch becomes an HW_BACKEND and its #else row names it, like keyring's. */
#define NOT_YET "(not yet available)"

static const hw_backend_entry table[] = {
	{ "soft", &hw_soft_ops, NULL },
#if WITH_HSM
	{ "hsm", &hw_hsm_ops, NULL },
#else
	{ "hsm", NULL, NOT_YET },
#endif
#if WITH_KEYRING
	{ "keyring", &hw_keyring_ops, "--with-keyring" },
#else
	{ "keyring", NULL, "--with-keyring" },
#endif
#if WITH_TPM
	{ "tpm", &hw_tpm_ops, "--with-tpm" },
#else
	{ "tpm", NULL, NOT_YET },
#endif
#if WITH_KMS
	{ "aws-kms", &hw_aws_kms_ops, "--with-kms" },
	{ "azure-kv", &hw_azure_kv_ops, "--with-kms" },
	{ "gcp-kms", &hw_gcp_kms_ops, "--with-kms" },
#else
	{ "aws-kms", NULL, NOT_YET },
	{ "azure-kv", NULL, NOT_YET },
	{ "gcp-kms", NULL, NOT_YET },
#endif
	{ "policy", NULL, NOT_YET },
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
