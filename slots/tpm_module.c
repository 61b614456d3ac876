/* The tpm backend as a module of its own (configure without
 * --enable-builtin-backends): the engine's services and the entry point. */
#define HW_MODULE_BACKENDS(X) X(hw_tpm_ops)
#include "slots/shim.c"
