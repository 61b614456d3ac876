/*
 * Compiled into every backend module: the engine's services under their own
 * names, each forwarding to the table the engine handed over at load, and
 * the module's one exported symbol. The backend's sources call hw_attrs_set
 * and the like as they would built in.
 */
#include "slots/services.h"

/* the backends this module holds (HW_MODULE_BACKENDS, from Makefile.am) */
#define HW_OPS_DECL(name) extern const hw_backend_ops name;
HW_MODULE_BACKENDS(HW_OPS_DECL)

static const hw_services *svc;
int *hw_log_threshold_ref;

#define HW_SHIM_R(ret, name, params, args) ret name params { return svc->name args; }
#define HW_SHIM_V(name, params, args) void name params { svc->name args; }
HW_SERVICES(HW_SHIM_R, HW_SHIM_V)

void hw_log_msg(hw_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	svc->log_vmsg(level, fmt, ap);
	va_end(ap);
}

__attribute__((visibility("default"))) const hw_backend_ops *hwagg_backend(const hw_services *s, const char *type);

const hw_backend_ops *hwagg_backend(const hw_services *s, const char *type)
{
	static const hw_backend_ops *const ops[] = {
#define HW_OPS_REF(name) &name,
		HW_MODULE_BACKENDS(HW_OPS_REF)
	};
	/* an engine of another build must not call into this one */
	if (s == NULL || s->abi != HW_BACKEND_ABI || s->size != sizeof(*s) || type == NULL)
		return NULL;
	svc = s;
	hw_log_threshold_ref = s->log_threshold;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i]->type, type) == 0)
			return ops[i];
	return NULL;
}
