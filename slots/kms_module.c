/* The cloud KMS backends as a module of their own (configure without
 * --enable-builtin-backends): libcurl is mapped only by processes that use
 * a cloud slot. */
#define HW_MODULE_BACKENDS(X) X(hw_aws_kms_ops) X(hw_gcp_kms_ops) X(hw_azure_kv_ops)
#include "slots/shim.c"
