/*
 * The D-Bus calls of the keyring slot (keyring_int.h): every one made on a
 * hw_kr_link, bounded by HW_KR_TIMEOUT_MS, never starting the daemon, and
 * none able to wait for a prompt (a prompt returned is dismissed and the
 * call fails). Secrets travel encrypted for the libsecret session.
 */
#include "slots/keyring_int.h"
#include "common/log.h"

#include <string.h>

CK_RV hw_kr_is_locked(hw_kr_ctx *c, const hw_kr_link *l, bool *locked)
{
	GError *e = NULL;
	if (hw_kr_get_locked(l->conn, l->coll, locked, &e))
		return CKR_OK;
	return hw_kr_fail(c, l, e, "read the collection state");
}

static GVariant *attributes_variant(GHashTable *attributes)
{
	GVariantBuilder b;
	GHashTableIter it;
	gpointer k, v;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
	g_hash_table_iter_init(&it, attributes);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_variant_builder_add(&b, "{ss}", (const char *)k, (const char *)v);
	return g_variant_builder_end(&b);
}

CK_RV hw_kr_search(hw_kr_ctx *c, const hw_kr_link *l, const char *schema, char ***paths)
{
	GError *e = NULL;
	GVariantBuilder b;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
	g_variant_builder_add(&b, "{ss}", "xdg:schema", schema);
	g_variant_builder_add(&b, "{ss}", "hwagg-slot", c->conf->name);
	GVariant *v, *r = hw_kr_call(l->conn, l->coll, HW_KR_IF_COLLECTION, "SearchItems",
				     g_variant_new("(a{ss})", &b), "(ao)", &e);
	if (r == NULL)
		return hw_kr_fail(c, l, e, "search the collection");
	g_variant_get(r, "(@ao)", &v);
	*paths = g_variant_dup_objv(v, NULL);
	g_variant_unref(v);
	g_variant_unref(r);
	return CKR_OK;
}

/* One GetSecrets call, decoded by libsecret for our session into its secure
 * memory; a locked item is left out. (libsecret's own GetSecrets path leaks
 * the reply in 0.20.5.) */
CK_RV hw_kr_get_secrets(hw_kr_ctx *c, const hw_kr_link *l, const char *const *paths, GHashTable **out)
{
	GError *e = NULL;
	GVariantIter it;
	GVariant *encoded, *map;
	const char *path;
	GVariant *r = g_dbus_connection_call_sync(l->conn, HW_KR_NAME, HW_KR_PATH, HW_KR_IF_SERVICE, "GetSecrets",
						  g_variant_new("(^aoo)", paths, secret_service_get_session_dbus_path(l->svc)),
						  G_VARIANT_TYPE("(a{o(oayays)})"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
						  HW_KR_TIMEOUT_MS, NULL, &e);
	if (r == NULL)
		return hw_kr_fail(c, l, e, "read the items' secrets");
	*out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)secret_value_unref);
	map = g_variant_get_child_value(r, 0);
	g_variant_iter_init(&it, map);
	while (g_variant_iter_next(&it, "{&o@(oayays)}", &path, &encoded)) {
		SecretValue *v = secret_service_decode_dbus_secret(l->svc, encoded);
		if (v != NULL)
			g_hash_table_insert(*out, g_strdup(path), v);
		g_variant_unref(encoded);
	}
	g_variant_unref(map);
	g_variant_unref(r);
	return CKR_OK;
}

CK_RV hw_kr_get_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, SecretValue **out)
{
	const char *one[2] = { path, NULL };
	GHashTable *t = NULL;
	bool locked = false;
	*out = NULL;
	CK_RV rv = hw_kr_get_secrets(c, l, one, &t);
	if (rv != CKR_OK)
		goto out;
	if ((*out = g_hash_table_lookup(t, path)) != NULL) {
		secret_value_ref(*out);
		goto out;
	}
	/* no secret: the collection was locked, or the item is gone */
	if ((rv = hw_kr_is_locked(c, l, &locked)) == CKR_OK)
		rv = locked ? CKR_USER_NOT_LOGGED_IN : CKR_OBJECT_HANDLE_INVALID;
out:
	if (t != NULL)
		g_hash_table_unref(t);
	return rv;
}

static SecretValue *value_of(const hw_secret *s, const char *content_type)
{
	return secret_value_new((const gchar *)s->data, (gssize)s->len, content_type);
}

CK_RV hw_kr_create(hw_kr_ctx *c, const hw_kr_link *l, GHashTable *attributes, const char *label,
		   const hw_secret *secret, char **path)
{
	GError *e = NULL;
	GHashTable *props = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_variant_unref);
	SecretValue *value = value_of(secret, "application/octet-stream");
	g_hash_table_insert(props, (gpointer)HW_KR_IF_ITEM ".Label", g_variant_ref_sink(g_variant_new_string(label)));
	g_hash_table_insert(props, (gpointer)HW_KR_IF_ITEM ".Attributes",
			    g_variant_ref_sink(attributes_variant(attributes)));
	/* never replace: every object is a new item, so two writers never lose one */
	*path = secret_service_create_item_dbus_path_sync(l->svc, l->coll, props, value, SECRET_ITEM_CREATE_NONE,
							  NULL, &e);
	secret_value_unref(value);
	g_hash_table_unref(props);
	return *path != NULL ? CKR_OK : hw_kr_fail(c, l, e, "store an item");
}

/* The secret as (oayays), encrypted for our session. */
static GVariant *encode(const hw_kr_link *l, SecretValue *value)
{
	return g_variant_ref_sink(secret_service_encode_dbus_secret(l->svc, value));
}

CK_RV hw_kr_set_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const hw_secret *secret)
{
	GError *e = NULL;
	SecretValue *value = value_of(secret, "application/octet-stream");
	GVariant *s = encode(l, value);
	GVariant *r = hw_kr_call(l->conn, path, HW_KR_IF_ITEM, "SetSecret", g_variant_new("(@(oayays))", s), NULL, &e);
	g_variant_unref(s);
	secret_value_unref(value);
	if (r == NULL)
		return hw_kr_fail(c, l, e, "update an item");
	g_variant_unref(r);
	return CKR_OK;
}

static bool set_prop(const hw_kr_link *l, const char *path, const char *name, GVariant *v, GError **e)
{
	GVariant *r = hw_kr_call(l->conn, path, HW_KR_IF_PROPS, "Set",
				 g_variant_new("(ssv)", HW_KR_IF_ITEM, name, v), NULL, e);
	if (r != NULL)
		g_variant_unref(r);
	return r != NULL;
}

CK_RV hw_kr_set_attributes(hw_kr_ctx *c, const hw_kr_link *l, const char *path, GHashTable *attributes,
			   const char *label)
{
	GError *e = NULL;
	if (!set_prop(l, path, "Attributes", attributes_variant(attributes), &e) ||
	    !set_prop(l, path, "Label", g_variant_new_string(label), &e))
		return hw_kr_fail(c, l, e, "update an item's attributes");
	return CKR_OK;
}

CK_RV hw_kr_delete(hw_kr_ctx *c, const hw_kr_link *l, const char *path)
{
	GError *e = NULL;
	const char *prompt;
	CK_RV rv = CKR_OK;
	GVariant *r = hw_kr_call(l->conn, path, HW_KR_IF_ITEM, "Delete", NULL, "(o)", &e);
	if (r == NULL) {
		/* an item already gone is what was asked for */
		if (hw_kr_error_no_object(e))
			g_error_free(e);
		else
			rv = hw_kr_fail(c, l, e, "delete an item");
		goto out;
	}
	g_variant_get(r, "(&o)", &prompt);
	if (strcmp(prompt, "/") != 0) {
		hw_kr_dismiss(l->conn, HW_KR_NAME, prompt);
		hw_warn("slot \"%s\" (keyring): delete an item: " HW_KR_NO_PROMPT, c->conf->name);
		rv = CKR_FUNCTION_FAILED;
	}
out:
	if (r != NULL)
		g_variant_unref(r);
	return rv;
}

/*
 * The password, to gnome-keyring's internal interface (the Secret Service
 * API has no way to give one without a prompt): locked, unlock the
 * collection with it (UnlockWithMasterPassword); unlocked, have it checked
 * by changing the collection's password to itself (ChangeWithMasterPassword
 * verifies the old one first; gnome-keyring then saves and re-reads the
 * collection, so keyring_token.c asks this only when its verifier cannot
 * decide). Wrong -> CKR_PIN_INCORRECT, without side effects.
 */
CK_RV hw_kr_password(hw_kr_ctx *c, const hw_kr_link *l, const CK_UTF8CHAR *pin, CK_ULONG len, bool locked)
{
	GError *e = NULL;
	CK_RV rv = CKR_OK;
	SecretValue *value = secret_value_new((const gchar *)(pin ? pin : (const CK_UTF8CHAR *)""), (gssize)len,
					      "text/plain");
	GVariant *s = encode(l, value), *r;
	if (locked)
		r = hw_kr_call(l->conn, HW_KR_PATH, HW_KR_IF_GNOME, "UnlockWithMasterPassword",
			       g_variant_new("(o@(oayays))", l->coll, s), NULL, &e);
	else
		r = hw_kr_call(l->conn, HW_KR_PATH, HW_KR_IF_GNOME, "ChangeWithMasterPassword",
			       g_variant_new("(o@(oayays)@(oayays))", l->coll, s, s), NULL, &e);
	g_variant_unref(s);
	secret_value_unref(value);
	if (r != NULL) {
		g_variant_unref(r);
	} else if (hw_kr_remote_is(e, "org.gnome.keyring.Error.Denied")) {
		g_error_free(e);
		rv = CKR_PIN_INCORRECT;
	} else if (hw_kr_remote_is(e, "org.freedesktop.DBus.Error.UnknownMethod") ||
		   hw_kr_remote_is(e, "org.freedesktop.DBus.Error.UnknownInterface")) {
		hw_error("slot \"%s\" (keyring): this Secret Service cannot %s a collection's password without "
			 "an interactive prompt (hwagg needs gnome-keyring's password interface)", c->conf->name,
			 locked ? "take" : "check");
		g_error_free(e);
		rv = CKR_FUNCTION_FAILED;
	} else {
		rv = hw_kr_fail(c, l, e, locked ? "unlock the collection" : "check the password");
	}
	return rv;
}
