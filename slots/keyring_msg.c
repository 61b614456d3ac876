/*
 * D-Bus messages for the keyring slot (keyring_int.h), over libdbus.
 *
 * libdbus treats a caller's misuse (an invalid string or object path handed
 * to an append, reading an argument as the wrong type) as a "check failure",
 * which aborts the process by default. A library in someone else's process
 * may not do that, so everything here validates before it appends, and a
 * reply is read only after its whole signature was checked.
 */
#include "slots/keyring_int.h"
#include "common/deadline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hw_kr_err_set(hw_kr_err *e, const char *name, const char *fmt, ...)
{
	va_list ap;
	snprintf(e->name, sizeof(e->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

bool hw_kr_err_is(const hw_kr_err *e, const char *name)
{
	return strcmp(e->name, name) == 0;
}

static bool oom(hw_kr_err *e)
{
	hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
	return false;
}

DBusMessage *hw_kr_msg(const char *dest, const char *path, const char *iface, const char *method, hw_kr_err *e)
{
	DBusMessage *m;
	if (path == NULL || !dbus_validate_path(path, NULL)) {
		hw_kr_err_set(e, HW_KR_ERR_ARGS, "not a D-Bus object path");
		return NULL;
	}
	if ((m = dbus_message_new_method_call(dest ? dest : HW_KR_NAME, path, iface, method)) == NULL) {
		oom(e);
		return NULL;
	}
	/* no Secret Service running means the token is absent: never start one */
	dbus_message_set_auto_start(m, FALSE);
	return m;
}

DBusMessage *hw_kr_send(DBusConnection *conn, DBusMessage *m, const char *sig, hw_kr_err *e)
{
	DBusError de;
	DBusMessage *r = NULL;
	/* the PKCS#11 call's deadline (common/deadline.h) may come first; a
	 * call it cuts short is not a sign that the service went away */
	int ms = hw_deadline_left_ms(HW_KR_TIMEOUT_MS);
	bool cut = ms < HW_KR_TIMEOUT_MS;
	dbus_error_init(&de);
	if (ms > 0)
		r = dbus_connection_send_with_reply_and_block(conn, m, cut ? ms : HW_KR_TIMEOUT_MS, &de);
	dbus_message_unref(m);
	if (r == NULL && (ms <= 0 || (cut && dbus_error_has_name(&de, DBUS_ERROR_NO_REPLY)))) {
		hw_kr_err_set(e, HW_KR_ERR_DEADLINE, "no answer within the slot's timeout_ms");
		dbus_error_free(&de);
		return NULL;
	}
	if (r == NULL) {
		hw_kr_err_set(e, de.name ? de.name : DBUS_ERROR_FAILED, "%s", de.message ? de.message : "no reply");
		dbus_error_free(&de);
		return NULL;
	}
	if (sig != NULL && !dbus_message_has_signature(r, sig)) {
		hw_kr_err_set(e, HW_KR_ERR_REPLY, "unexpected reply (arguments \"%s\", expected \"%s\")",
			      dbus_message_get_signature(r), sig);
		dbus_message_unref(r);
		return NULL;
	}
	return r;
}

void hw_kr_send_only(DBusConnection *conn, DBusMessage *m)
{
	dbus_message_set_no_reply(m, TRUE);
	dbus_connection_send(conn, m, NULL);
	dbus_message_unref(m);
}

/* Close a container opened on parent, or abandon it when filling it failed. */
static bool end(DBusMessageIter *parent, DBusMessageIter *sub, bool ok, hw_kr_err *e)
{
	if (!ok) {
		dbus_message_iter_abandon_container(parent, sub);
		return false;
	}
	return dbus_message_iter_close_container(parent, sub) || oom(e);
}

bool hw_kr_put_str(DBusMessageIter *it, int type, const char *s, hw_kr_err *e)
{
	bool valid = s != NULL && (type == DBUS_TYPE_OBJECT_PATH ? dbus_validate_path(s, NULL) :
				   type == DBUS_TYPE_STRING && dbus_validate_utf8(s, NULL));
	if (!valid) {
		hw_kr_err_set(e, HW_KR_ERR_ARGS, "a value D-Bus cannot carry (not valid UTF-8 or not an object path)");
		return false;
	}
	return dbus_message_iter_append_basic(it, type, &s) || oom(e);
}

bool hw_kr_put_bytes(DBusMessageIter *it, const void *p, size_t len, hw_kr_err *e)
{
	static const unsigned char none;
	DBusMessageIter sub;
	const unsigned char *bytes = len > 0 ? p : &none;
	if (len > DBUS_MAXIMUM_ARRAY_LENGTH) {
		hw_kr_err_set(e, HW_KR_ERR_ARGS, "a value too large for D-Bus (%zu bytes)", len);
		return false;
	}
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, DBUS_TYPE_BYTE_AS_STRING, &sub))
		return oom(e);
	bool ok = dbus_message_iter_append_fixed_array(&sub, DBUS_TYPE_BYTE, &bytes, (int)len) || oom(e);
	return end(it, &sub, ok, e);
}

bool hw_kr_put_attrs(DBusMessageIter *it, const hw_kr_attrs *a, hw_kr_err *e)
{
	DBusMessageIter arr, ent;
	bool ok = true;
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{ss}", &arr))
		return oom(e);
	for (size_t i = 0; ok && i < a->n; i++) {
		if (!dbus_message_iter_open_container(&arr, DBUS_TYPE_DICT_ENTRY, NULL, &ent)) {
			ok = oom(e);
			break;
		}
		ok = hw_kr_put_str(&ent, DBUS_TYPE_STRING, a->a[i].name, e) &&
		     hw_kr_put_str(&ent, DBUS_TYPE_STRING, a->a[i].value, e);
		ok = end(&arr, &ent, ok, e);
	}
	return end(it, &arr, ok, e);
}

bool hw_kr_put_variant_str(DBusMessageIter *it, const char *s, hw_kr_err *e)
{
	DBusMessageIter var;
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, DBUS_TYPE_STRING_AS_STRING, &var))
		return oom(e);
	return end(it, &var, hw_kr_put_str(&var, DBUS_TYPE_STRING, s, e), e);
}

bool hw_kr_put_variant_attrs(DBusMessageIter *it, const hw_kr_attrs *a, hw_kr_err *e)
{
	DBusMessageIter var;
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_VARIANT, "a{ss}", &var))
		return oom(e);
	return end(it, &var, hw_kr_put_attrs(&var, a, e), e);
}

char *hw_kr_get_str(DBusMessageIter *it)
{
	const char *s = NULL;
	int type = dbus_message_iter_get_arg_type(it);
	if (type != DBUS_TYPE_STRING && type != DBUS_TYPE_OBJECT_PATH)
		return NULL;
	dbus_message_iter_get_basic(it, &s);
	dbus_message_iter_next(it);
	return strdup(s);
}

char **hw_kr_get_paths(DBusMessageIter *it)
{
	DBusMessageIter sub;
	size_t n = 0, i = 0;
	char **v;
	if (dbus_message_iter_get_arg_type(it) != DBUS_TYPE_ARRAY ||
	    dbus_message_iter_get_element_type(it) != DBUS_TYPE_OBJECT_PATH)
		return NULL;
	dbus_message_iter_recurse(it, &sub);
	while (dbus_message_iter_get_arg_type(&sub) == DBUS_TYPE_OBJECT_PATH) {
		n++;
		dbus_message_iter_next(&sub);
	}
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	dbus_message_iter_recurse(it, &sub);
	for (i = 0; i < n; i++)
		if ((v[i] = hw_kr_get_str(&sub)) == NULL) {
			hw_kr_strv_free(v);
			return NULL;
		}
	dbus_message_iter_next(it);
	return v;
}

char *hw_kr_reply_str(DBusMessage *r, hw_kr_err *e)
{
	DBusMessageIter it;
	char *s = dbus_message_iter_init(r, &it) ? hw_kr_get_str(&it) : NULL;
	if (s == NULL)
		oom(e);
	return s;
}

void hw_kr_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

char *hw_kr_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}
