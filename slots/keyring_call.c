/*
 * The Secret Service calls of the keyring slot (keyring_int.h): every one
 * made on a hw_kr_link, bounded by HW_KR_TIMEOUT_MS, never starting the
 * daemon, and none able to wait for a prompt (a prompt returned is
 * dismissed and the call fails). Secrets travel in our session
 * (keyring_session.c), encrypted for it.
 *
 * The items are written as libsecret writes them (the D-Bus path API the
 * slot used before: CreateItem with the Label and Attributes properties,
 * never replacing, content type application/octet-stream), so items
 * written by earlier versions are found and read alike, and libsecret's
 * clients (secret-tool) see ours as their own (tests/keyring/writers.sh).
 */
#include "slots/keyring_int.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

CK_RV hw_kr_is_locked(hw_kr_ctx *c, const hw_kr_link *l, bool *locked)
{
	hw_kr_err e = { "", "" };
	if (hw_kr_get_locked(l->conn, l->coll, locked, &e))
		return CKR_OK;
	return hw_kr_fail(c, l, &e, "read the collection state");
}

/* Send a call built by the caller; on failure the CK_RV of hw_kr_fail. */
static CK_RV call(hw_kr_ctx *c, const hw_kr_link *l, DBusMessage *m, bool built, const char *sig,
		  DBusMessage **r, hw_kr_err *e, const char *what)
{
	*r = NULL;
	if (!built) {
		if (m != NULL)
			dbus_message_unref(m);
		return hw_kr_fail(c, l, e, what);
	}
	if ((*r = hw_kr_send(l->conn, m, sig, e)) == NULL)
		return hw_kr_fail(c, l, e, what);
	return CKR_OK;
}

CK_RV hw_kr_search(hw_kr_ctx *c, const hw_kr_link *l, const char *schema, char ***paths)
{
	hw_kr_err e = { "", "" };
	hw_kr_attrs a = { .n = 0 };
	DBusMessageIter it;
	DBusMessage *r, *m = hw_kr_msg(NULL, l->coll, HW_KR_IF_COLLECTION, "SearchItems", &e);
	bool built = m != NULL;
	*paths = NULL;
	if (!hw_kr_attrs_add(&a, "xdg:schema", schema) || !hw_kr_attrs_add(&a, "hwagg-slot", c->conf->name)) {
		hw_kr_err_set(&e, DBUS_ERROR_NO_MEMORY, "out of memory");
		built = false;
	}
	if (built) {
		dbus_message_iter_init_append(m, &it);
		built = hw_kr_put_attrs(&it, &a, &e);
	}
	hw_kr_attrs_clear(&a);
	CK_RV rv = call(c, l, m, built, "ao", &r, &e, "search the collection");
	if (rv != CKR_OK)
		return rv;
	dbus_message_iter_init(r, &it);
	if ((*paths = hw_kr_get_paths(&it)) == NULL)
		rv = CKR_HOST_MEMORY;
	dbus_message_unref(r);
	return rv;
}

/* One GetSecrets call for all paths; a locked item is left out by the
 * service. Each secret is decrypted into secret memory here. */
CK_RV hw_kr_get_secrets(hw_kr_ctx *c, const hw_kr_link *l, const char *const *paths, size_t n, hw_secret **out)
{
	hw_kr_err e = { "", "" };
	DBusMessageIter it, arr, ent;
	DBusMessage *r, *m = hw_kr_msg(NULL, HW_KR_PATH, HW_KR_IF_SERVICE, "GetSecrets", &e);
	bool built = m != NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (built) {
		dbus_message_iter_init_append(m, &it);
		built = dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, DBUS_TYPE_OBJECT_PATH_AS_STRING, &arr);
		for (size_t i = 0; built && i < n; i++)
			if (!hw_kr_put_str(&arr, DBUS_TYPE_OBJECT_PATH, paths[i], &e)) {
				dbus_message_iter_abandon_container(&it, &arr);
				built = false;
			}
		built = built && dbus_message_iter_close_container(&it, &arr) &&
			hw_kr_put_str(&it, DBUS_TYPE_OBJECT_PATH, l->svc->session, &e);
		if (!built && e.name[0] == '\0')
			hw_kr_err_set(&e, DBUS_ERROR_NO_MEMORY, "out of memory");
	}
	CK_RV rv = call(c, l, m, built, "a{o(oayays)}", &r, &e, "read the items' secrets");
	if (rv != CKR_OK)
		return rv;
	dbus_message_iter_init(r, &it);
	dbus_message_iter_recurse(&it, &arr);
	for (; rv == CKR_OK && dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY;
	     dbus_message_iter_next(&arr)) {
		const char *path = NULL;
		bool oom = false;
		dbus_message_iter_recurse(&arr, &ent);
		dbus_message_iter_get_basic(&ent, &path);
		dbus_message_iter_next(&ent);
		for (size_t i = 0; i < n; i++) {
			if (out[i] != NULL || strcmp(paths[i], path) != 0)
				continue;
			out[i] = hw_kr_get_secret_value(&ent, l->svc, &oom);
			break;
		}
		if (oom)
			rv = CKR_HOST_MEMORY;
	}
	dbus_message_unref(r);
	if (rv != CKR_OK)
		for (size_t i = 0; i < n; i++) {
			hw_secret_free(out[i]);
			out[i] = NULL;
		}
	return rv;
}

CK_RV hw_kr_get_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, hw_secret **out)
{
	const char *one[1] = { path };
	bool locked = false;
	CK_RV rv = hw_kr_get_secrets(c, l, one, 1, out);
	if (rv != CKR_OK || *out != NULL)
		return rv;
	/* no secret: the collection was locked, or the item is gone */
	if ((rv = hw_kr_is_locked(c, l, &locked)) == CKR_OK)
		rv = locked ? CKR_USER_NOT_LOGGED_IN : CKR_OBJECT_HANDLE_INVALID;
	return rv;
}

/* One {sv} entry of a property dictionary: the label (a string) or the
 * attributes (a{ss}). */
static bool put_prop(DBusMessageIter *dict, const char *name, const char *label, const hw_kr_attrs *a, hw_kr_err *e)
{
	DBusMessageIter ent;
	bool ok;
	if (!dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, &ent)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	ok = hw_kr_put_str(&ent, DBUS_TYPE_STRING, name, e) &&
	     (a != NULL ? hw_kr_put_variant_attrs(&ent, a, e) : hw_kr_put_variant_str(&ent, label, e));
	if (!ok) {
		dbus_message_iter_abandon_container(dict, &ent);
		return false;
	}
	if (!dbus_message_iter_close_container(dict, &ent)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	return true;
}

/* An item's properties as CreateItem takes them: a{sv} with Label and
 * Attributes. */
static bool put_props(DBusMessageIter *it, const char *label, const hw_kr_attrs *a, hw_kr_err *e)
{
	DBusMessageIter dict;
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{sv}", &dict)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	if (!put_prop(&dict, HW_KR_IF_ITEM ".Label", label, NULL, e) ||
	    !put_prop(&dict, HW_KR_IF_ITEM ".Attributes", NULL, a, e)) {
		dbus_message_iter_abandon_container(it, &dict);
		return false;
	}
	if (!dbus_message_iter_close_container(it, &dict)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	return true;
}

/* A prompt path other than "/" means the service wants to ask the user:
 * we tell it we will not, and fail. */
static bool prompted(const hw_kr_link *l, const char *prompt, hw_kr_err *e)
{
	if (prompt == NULL || strcmp(prompt, "/") == 0)
		return false;
	hw_kr_dismiss(l->conn, prompt);
	hw_kr_err_set(e, HW_KR_ERR_PROMPT, HW_KR_NO_PROMPT);
	return true;
}

static bool put_bool(DBusMessageIter *it, bool v, hw_kr_err *e)
{
	dbus_bool_t b = v ? TRUE : FALSE;
	if (dbus_message_iter_append_basic(it, DBUS_TYPE_BOOLEAN, &b))
		return true;
	hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
	return false;
}

CK_RV hw_kr_create(hw_kr_ctx *c, const hw_kr_link *l, const hw_kr_attrs *attributes, const char *label,
		   const hw_secret *secret, char **path)
{
	hw_kr_err e = { "", "" };
	DBusMessageIter it;
	DBusMessage *r, *m = hw_kr_msg(NULL, l->coll, HW_KR_IF_COLLECTION, "CreateItem", &e);
	const char *item = NULL, *prompt = NULL;
	bool built = m != NULL;
	*path = NULL;
	if (built) {
		/* never replace: every object is a new item, so two writers never lose one */
		dbus_message_iter_init_append(m, &it);
		built = put_props(&it, label, attributes, &e) &&
			hw_kr_put_secret(&it, l->svc, secret->data, secret->len, HW_KR_CONTENT, &e) &&
			put_bool(&it, false, &e);
	}
	CK_RV rv = call(c, l, m, built, "oo", &r, &e, "store an item");
	if (rv != CKR_OK)
		return rv;
	dbus_message_get_args(r, NULL, DBUS_TYPE_OBJECT_PATH, &item, DBUS_TYPE_OBJECT_PATH, &prompt, DBUS_TYPE_INVALID);
	if (prompted(l, prompt, &e))
		rv = hw_kr_fail(c, l, &e, "store an item");
	else if (item == NULL || (*path = strdup(item)) == NULL)
		rv = CKR_HOST_MEMORY;
	dbus_message_unref(r);
	return rv;
}

CK_RV hw_kr_set_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const hw_secret *secret)
{
	hw_kr_err e = { "", "" };
	DBusMessageIter it;
	DBusMessage *r, *m = hw_kr_msg(NULL, path, HW_KR_IF_ITEM, "SetSecret", &e);
	bool built = m != NULL;
	if (built) {
		dbus_message_iter_init_append(m, &it);
		built = hw_kr_put_secret(&it, l->svc, secret->data, secret->len, HW_KR_CONTENT, &e);
	}
	CK_RV rv = call(c, l, m, built, NULL, &r, &e, "update an item");
	if (r != NULL)
		dbus_message_unref(r);
	return rv;
}

/* Properties.Set of an item's Label or Attributes. */
static bool set_prop(const hw_kr_link *l, const char *path, const char *name, const char *label,
		     const hw_kr_attrs *a, hw_kr_err *e)
{
	DBusMessageIter it;
	DBusMessage *r, *m = hw_kr_msg(NULL, path, HW_KR_IF_PROPS, "Set", e);
	if (m == NULL)
		return false;
	dbus_message_iter_init_append(m, &it);
	if (!hw_kr_put_str(&it, DBUS_TYPE_STRING, HW_KR_IF_ITEM, e) || !hw_kr_put_str(&it, DBUS_TYPE_STRING, name, e) ||
	    !(a != NULL ? hw_kr_put_variant_attrs(&it, a, e) : hw_kr_put_variant_str(&it, label, e))) {
		dbus_message_unref(m);
		return false;
	}
	if ((r = hw_kr_send(l->conn, m, NULL, e)) == NULL)
		return false;
	dbus_message_unref(r);
	return true;
}

CK_RV hw_kr_set_attributes(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const hw_kr_attrs *attributes,
			   const char *label)
{
	hw_kr_err e = { "", "" };
	if (!set_prop(l, path, "Attributes", NULL, attributes, &e) || !set_prop(l, path, "Label", label, NULL, &e))
		return hw_kr_fail(c, l, &e, "update an item's attributes");
	return CKR_OK;
}

CK_RV hw_kr_delete(hw_kr_ctx *c, const hw_kr_link *l, const char *path)
{
	hw_kr_err e = { "", "" };
	DBusMessage *r = NULL, *m = hw_kr_msg(NULL, path, HW_KR_IF_ITEM, "Delete", &e);
	const char *prompt = NULL;
	CK_RV rv = CKR_OK;
	if (m == NULL) {
		rv = hw_kr_fail(c, l, &e, "delete an item");
	} else if ((r = hw_kr_send(l->conn, m, "o", &e)) == NULL) {
		/* an item already gone is what was asked for */
		if (!hw_kr_error_no_object(&e))
			rv = hw_kr_fail(c, l, &e, "delete an item");
	} else {
		dbus_message_get_args(r, NULL, DBUS_TYPE_OBJECT_PATH, &prompt, DBUS_TYPE_INVALID);
		if (prompted(l, prompt, &e))
			rv = hw_kr_fail(c, l, &e, "delete an item");
		dbus_message_unref(r);
	}
	return rv;
}

/*
 * The password, to gnome-keyring's internal interface (the Secret Service
 * API has no way to give one without a prompt): locked, unlock the
 * collection with it (UnlockWithMasterPassword); unlocked, have it checked
 * by changing the collection's password to itself (ChangeWithMasterPassword
 * verifies the old one first; gnome-keyring then saves and re-reads the
 * collection, so keyring_token.c asks this only when its verifier cannot
 * decide). Wrong -> CKR_PIN_INCORRECT, without side effects. The password
 * travels as a secret of our session, encrypted like any other.
 */
CK_RV hw_kr_password(hw_kr_ctx *c, const hw_kr_link *l, const CK_UTF8CHAR *pin, CK_ULONG len, bool locked)
{
	hw_kr_err e = { "", "" };
	DBusMessageIter it;
	const void *pw = pin != NULL ? (const void *)pin : "";
	DBusMessage *r = NULL, *m = hw_kr_msg(NULL, HW_KR_PATH, HW_KR_IF_GNOME,
					      locked ? "UnlockWithMasterPassword" : "ChangeWithMasterPassword", &e);
	bool built = m != NULL;
	if (built) {
		dbus_message_iter_init_append(m, &it);
		built = hw_kr_put_str(&it, DBUS_TYPE_OBJECT_PATH, l->coll, &e) &&
			hw_kr_put_secret(&it, l->svc, pw, len, "text/plain", &e) &&
			(locked || hw_kr_put_secret(&it, l->svc, pw, len, "text/plain", &e));
		if (!built) {
			dbus_message_unref(m);
			m = NULL;
		}
	}
	if (m != NULL && (r = hw_kr_send(l->conn, m, NULL, &e)) != NULL) {
		dbus_message_unref(r);
		return CKR_OK;
	}
	if (hw_kr_err_is(&e, "org.gnome.keyring.Error.Denied"))
		return CKR_PIN_INCORRECT;
	if (hw_kr_err_is(&e, DBUS_ERROR_UNKNOWN_METHOD) || hw_kr_err_is(&e, DBUS_ERROR_UNKNOWN_INTERFACE)) {
		hw_error("slot \"%s\" (keyring): this Secret Service cannot %s a collection's password without "
			 "an interactive prompt (hwagg needs gnome-keyring's password interface)", c->conf->name,
			 locked ? "take" : "check");
		return CKR_FUNCTION_FAILED;
	}
	return hw_kr_fail(c, l, &e, locked ? "unlock the collection" : "check the password");
}
