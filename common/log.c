#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int hw_log_threshold = HW_LOG_WARN;
static FILE *log_file;                 /* NULL = stderr */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool level_from_env;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int hw_log_level_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < HW_ARRAY_LEN(level_names); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(name, "warning") == 0)
		return HW_LOG_WARN;
	return -1;
}

void hw_log_init(void)
{
	int lvl = hw_log_level_parse(getenv("HWAGG_LOG"));
	level_from_env = lvl >= 0;
	if (lvl >= 0)
		hw_log_threshold = lvl;
}

void hw_log_configure(int level, const char *file)
{
	/* The environment wins over the file so an operator can turn on
	 * debugging without editing a shared config. */
	if (level >= 0 && !level_from_env)
		hw_log_threshold = level;
	pthread_mutex_lock(&log_lock);
	if (log_file != NULL) {
		fclose(log_file);
		log_file = NULL;
	}
	if (file != NULL) {
		log_file = fopen(file, "ae");
		if (log_file == NULL)
			fprintf(stderr, "hwagg: warn: cannot open the log file %s: %s; logging to stderr instead\n",
				file, strerror(errno));
	}
	pthread_mutex_unlock(&log_lock);
}

void hw_log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	pthread_mutex_unlock(&log_lock);
}

void hw_log_msg(hw_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hw_log_vmsg(level, fmt, ap);
	va_end(ap);
}

void hw_log_vmsg(hw_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Strip control characters so a hostile string cannot forge lines. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	pthread_mutex_lock(&log_lock);
	FILE *f = log_file ? log_file : stderr;
	if (log_file != NULL) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
		fprintf(f, "%s hwagg[%ld] %s: %s\n", ts, (long)getpid(), level_names[level], line);
	} else {
		fprintf(f, "hwagg: %s: %s\n", level_names[level], line);
	}
	fflush(f);
	pthread_mutex_unlock(&log_lock);
}

#define RV(x) { x, #x }
static const struct { CK_RV rv; const char *name; } rv_names[] = {
	RV(CKR_OK), RV(CKR_CANCEL), RV(CKR_HOST_MEMORY), RV(CKR_SLOT_ID_INVALID),
	RV(CKR_GENERAL_ERROR), RV(CKR_FUNCTION_FAILED), RV(CKR_ARGUMENTS_BAD),
	RV(CKR_NO_EVENT), RV(CKR_NEED_TO_CREATE_THREADS), RV(CKR_CANT_LOCK),
	RV(CKR_ATTRIBUTE_READ_ONLY), RV(CKR_ATTRIBUTE_SENSITIVE), RV(CKR_ATTRIBUTE_TYPE_INVALID),
	RV(CKR_ATTRIBUTE_VALUE_INVALID), RV(CKR_ACTION_PROHIBITED), RV(CKR_DATA_INVALID),
	RV(CKR_DATA_LEN_RANGE), RV(CKR_DEVICE_ERROR), RV(CKR_DEVICE_MEMORY), RV(CKR_DEVICE_REMOVED),
	RV(CKR_ENCRYPTED_DATA_INVALID), RV(CKR_ENCRYPTED_DATA_LEN_RANGE), RV(CKR_FUNCTION_CANCELED),
	RV(CKR_FUNCTION_NOT_PARALLEL), RV(CKR_FUNCTION_NOT_SUPPORTED), RV(CKR_KEY_HANDLE_INVALID),
	RV(CKR_KEY_SIZE_RANGE), RV(CKR_KEY_TYPE_INCONSISTENT), RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
	RV(CKR_MECHANISM_INVALID), RV(CKR_MECHANISM_PARAM_INVALID), RV(CKR_OBJECT_HANDLE_INVALID),
	RV(CKR_OPERATION_ACTIVE), RV(CKR_OPERATION_NOT_INITIALIZED), RV(CKR_PIN_INCORRECT),
	RV(CKR_PIN_INVALID), RV(CKR_PIN_LEN_RANGE), RV(CKR_PIN_EXPIRED), RV(CKR_PIN_LOCKED),
	RV(CKR_SESSION_CLOSED), RV(CKR_SESSION_COUNT), RV(CKR_SESSION_HANDLE_INVALID),
	RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED), RV(CKR_SESSION_READ_ONLY), RV(CKR_SESSION_EXISTS),
	RV(CKR_SESSION_READ_ONLY_EXISTS), RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
	RV(CKR_SIGNATURE_INVALID), RV(CKR_SIGNATURE_LEN_RANGE), RV(CKR_TEMPLATE_INCOMPLETE),
	RV(CKR_TEMPLATE_INCONSISTENT), RV(CKR_TOKEN_NOT_PRESENT), RV(CKR_TOKEN_NOT_RECOGNIZED),
	RV(CKR_TOKEN_WRITE_PROTECTED), RV(CKR_USER_ALREADY_LOGGED_IN), RV(CKR_USER_NOT_LOGGED_IN),
	RV(CKR_USER_PIN_NOT_INITIALIZED), RV(CKR_USER_TYPE_INVALID),
	RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), RV(CKR_USER_TOO_MANY_TYPES),
	RV(CKR_DOMAIN_PARAMS_INVALID), RV(CKR_CURVE_NOT_SUPPORTED), RV(CKR_BUFFER_TOO_SMALL),
	RV(CKR_RANDOM_NO_RNG), RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED), RV(CKR_MUTEX_BAD), RV(CKR_MUTEX_NOT_LOCKED),
	RV(CKR_OPERATION_CANCEL_FAILED), RV(CKR_STATE_UNSAVEABLE),
	RV(CKR_KEY_NOT_WRAPPABLE), RV(CKR_KEY_UNEXTRACTABLE), RV(CKR_KEY_INDIGESTIBLE),
	RV(CKR_WRAPPED_KEY_INVALID), RV(CKR_WRAPPED_KEY_LEN_RANGE), RV(CKR_WRAPPING_KEY_HANDLE_INVALID),
	RV(CKR_WRAPPING_KEY_SIZE_RANGE), RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
	RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID), RV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
};

const char *hw_rv_name(CK_RV rv)
{
	static __thread char buf[32];
	for (size_t i = 0; i < HW_ARRAY_LEN(rv_names); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	snprintf(buf, sizeof(buf), "CKR_0x%lx", (unsigned long)rv);
	return buf;
}
