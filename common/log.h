/*
 * Logging that costs nothing when off. The level comes from $HWAGG_LOG
 * (error|warn|info|debug, default warn) or the config's "log" object; lines go
 * to stderr or to the configured file. Never pass PINs, key bytes or tokens.
 *
 * A line is read by an operator, not by us: it names what it is about (the
 * slot, `slot "dev": ...`, or the subsystem, `config: ...`, `store "PATH":
 * ...`), never the C function that wrote it.
 */
#ifndef HW_LOG_H
#define HW_LOG_H

#include "common/ck.h"
#include <stdarg.h>

typedef enum { HW_LOG_ERROR = 0, HW_LOG_WARN = 1, HW_LOG_INFO = 2, HW_LOG_DEBUG = 3 } hw_log_level;

#ifdef HW_BACKEND_MODULE
/* a backend module reads the engine's level (slots/shim.c) */
extern int *hw_log_threshold_ref;
#define hw_log_threshold (*hw_log_threshold_ref)
#else
extern int hw_log_threshold;
#endif

void hw_log_init(void);                              /* reads $HWAGG_LOG */
void hw_log_configure(int level, const char *file);  /* from the config; level<0 keeps */
void hw_log_close(void);
void hw_log_msg(hw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hw_log_vmsg(hw_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
int hw_log_level_parse(const char *name);            /* -1 if unknown */

/* Symbolic name of a CK_RV ("CKR_PIN_INCORRECT"), or "CKR_0x..." */
const char *hw_rv_name(CK_RV rv);

#define hw_log(lvl, ...) \
	do { if ((int)(lvl) <= hw_log_threshold) hw_log_msg((lvl), __VA_ARGS__); } while (0)
#define hw_error(...) hw_log(HW_LOG_ERROR, __VA_ARGS__)
#define hw_warn(...)  hw_log(HW_LOG_WARN, __VA_ARGS__)
#define hw_info(...)  hw_log(HW_LOG_INFO, __VA_ARGS__)
#define hw_debug(...) hw_log(HW_LOG_DEBUG, __VA_ARGS__)

#endif
