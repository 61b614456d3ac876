/*
 * The keyring slot's connection to the Secret Service (keyring_int.h).
 *
 * - A private D-Bus connection rather than GLib's shared session-bus
 *   singleton: the application's own GDBus use is untouched and
 *   C_Finalize can close ours.
 * - A SecretService subclass whose prompt hooks refuse at once, so any call
 *   that would need an interactive prompt fails instead of waiting for a
 *   window nobody may see.
 * - Every call is bounded by HW_KR_TIMEOUT_MS and none starts the daemon by
 *   D-Bus activation: no Secret Service running means the token is absent.
 * - Signals (the service or the bus going away; items created, changed or
 *   deleted) are queued on a private GMainContext and dispatched under
 *   ctx->lock when the slot looks, so no application main loop runs our
 *   code and changed() costs no round trip.
 * - GDBus does not work in a process forked from one that used it (its
 *   worker thread is not in the child), so such a child sees the token
 *   absent instead of hanging.
 */
#include "slots/keyring_int.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DBUS_NAME "org.freedesktop.DBus"
#define DBUS_PATH "/org/freedesktop/DBus"

/* The process whose GDBus worker thread our connections use. */
static pid_t gdbus_pid;

double hw_kr_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a SecretService that never prompts ---------------------------------------- */
typedef struct HwKrService {
	SecretService parent;
} HwKrService;

typedef struct HwKrServiceClass {
	SecretServiceClass parent_class;
} HwKrServiceClass;

static GType hw_kr_service_get_type(void);
G_DEFINE_TYPE(HwKrService, hw_kr_service, SECRET_TYPE_SERVICE)

static GQuark no_prompt_quark(void)
{
	return g_quark_from_static_string("hwagg-keyring-no-prompt");
}

/* Tell the service we will not show its prompt (nothing waits for the reply). */
void hw_kr_dismiss(GDBusConnection *conn, const char *name, const char *prompt_path)
{
	g_dbus_connection_call(conn, name, prompt_path, HW_KR_IF_PROMPT, "Dismiss", NULL, NULL,
			       G_DBUS_CALL_FLAGS_NO_AUTO_START, HW_KR_TIMEOUT_MS, NULL, NULL, NULL);
}

static void dismiss_prompt(SecretService *self, SecretPrompt *prompt)
{
	GDBusProxy *svc = G_DBUS_PROXY(self);
	hw_kr_dismiss(g_dbus_proxy_get_connection(svc), g_dbus_proxy_get_name(svc),
		g_dbus_proxy_get_object_path(G_DBUS_PROXY(prompt)));
}

static GVariant *no_prompt_sync(SecretService *self, SecretPrompt *prompt, GCancellable *cancellable,
				const GVariantType *return_type, GError **error)
{
	dismiss_prompt(self, prompt);
	g_set_error_literal(error, no_prompt_quark(), 1, HW_KR_NO_PROMPT);
	return NULL;
}

static void no_prompt_async(SecretService *self, SecretPrompt *prompt, const GVariantType *return_type,
			    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *t = g_task_new(self, cancellable, callback, user_data);
	dismiss_prompt(self, prompt);
	g_task_return_new_error(t, no_prompt_quark(), 1, HW_KR_NO_PROMPT);
	g_object_unref(t);
}

static GVariant *no_prompt_finish(SecretService *self, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

/* SecretService's own constructor points the proxy at GLib's shared
 * session bus; ours keeps the private connection given as "g-connection"
 * and the flags: no activation, no property cache, no service signals. */
static GObject *hw_kr_service_constructor(GType type, guint n, GObjectConstructParam *params)
{
	GObject *o = G_OBJECT_CLASS(hw_kr_service_parent_class)->constructor(type, n, params);
	/* (its "g-name" stays: set twice, GDBusProxy would leak the first) */
	g_object_set(o, "g-bus-type", G_BUS_TYPE_NONE,
		     "g-flags", G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS |
				G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL);
	return o;
}

static void hw_kr_service_class_init(HwKrServiceClass *k)
{
	SecretServiceClass *s = SECRET_SERVICE_CLASS(k);
	G_OBJECT_CLASS(k)->constructor = hw_kr_service_constructor;
	s->prompt_sync = no_prompt_sync;
	s->prompt_async = no_prompt_async;
	s->prompt_finish = no_prompt_finish;
}

static void hw_kr_service_init(HwKrService *self)
{
}

/* ---- errors -------------------------------------------------------------------- */
bool hw_kr_remote_is(const GError *e, const char *name)
{
	char *r = g_dbus_error_get_remote_error(e);
	bool is = r != NULL && strcmp(r, name) == 0;
	g_free(r);
	return is;
}

/* The service (or the bus) is gone or no longer knows our session. */
static bool error_gone(const GError *e)
{
	if (e->domain == G_DBUS_ERROR)
		switch (e->code) {
		case G_DBUS_ERROR_SERVICE_UNKNOWN: case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
		case G_DBUS_ERROR_NO_REPLY: case G_DBUS_ERROR_DISCONNECTED: case G_DBUS_ERROR_NO_SERVER:
		case G_DBUS_ERROR_TIMEOUT: case G_DBUS_ERROR_TIMED_OUT:
			return true;
		default:
			break;
		}
	if (e->domain == G_IO_ERROR)
		switch (e->code) {
		case G_IO_ERROR_CLOSED: case G_IO_ERROR_TIMED_OUT:
		case G_IO_ERROR_BROKEN_PIPE:     /* == G_IO_ERROR_CONNECTION_CLOSED */
			return true;
		default:
			break;
		}
	return hw_kr_remote_is(e, "org.freedesktop.Secret.Error.NoSession");
}

/* The item (or collection) does not exist (any more). gnome-keyring answers
 * UnknownMethod for an object path it does not serve. */
bool hw_kr_error_no_object(const GError *e)
{
	return (e->domain == SECRET_ERROR && e->code == SECRET_ERROR_NO_SUCH_OBJECT) ||
	       hw_kr_remote_is(e, "org.freedesktop.Secret.Error.NoSuchObject") ||
	       hw_kr_remote_is(e, "org.freedesktop.DBus.Error.UnknownObject") ||
	       hw_kr_remote_is(e, "org.freedesktop.DBus.Error.UnknownMethod");
}

static bool error_locked(const GError *e)
{
	return (e->domain == SECRET_ERROR && e->code == SECRET_ERROR_IS_LOCKED) ||
	       hw_kr_remote_is(e, "org.freedesktop.Secret.Error.IsLocked");
}

/* The token was removed: once per lost connection, the engine is told
 * (token_epoch) and this process's login session ends. */
static void removed_inlock(hw_kr_ctx *c)
{
	if (c->svc == NULL || c->epoch_gen == c->gen)
		return;
	c->epoch_gen = c->gen;
	__atomic_add_fetch(&c->epoch, 1, __ATOMIC_RELEASE);
	hw_kr_logout_inlock(c);
}

CK_RV hw_kr_fail(hw_kr_ctx *c, const hw_kr_link *l, GError *e, const char *what)
{
	CK_RV rv = CKR_DEVICE_ERROR;
	if (error_locked(e)) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if (e->domain == no_prompt_quark()) {
		rv = CKR_FUNCTION_FAILED;
	} else if (error_gone(e)) {
		rv = CKR_DEVICE_REMOVED;
		pthread_mutex_lock(&c->lock);
		if (l == NULL || l->gen == c->gen) {
			c->gone = true;       /* dropped and retried at the next call */
			removed_inlock(c);
		}
		pthread_mutex_unlock(&c->lock);
	}
	/* classified by the remote name above; logged without it */
	g_dbus_error_strip_remote_error(e);
	hw_log(rv == CKR_USER_NOT_LOGGED_IN ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\" (keyring): %s: %s (%s)",
	       c->conf->name, what, e->message, hw_rv_name(rv));
	g_error_free(e);
	return rv;
}

/* ---- signals ------------------------------------------------------------------- */
static void on_owner(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
		     const char *member, GVariant *params, gpointer user)
{
	hw_kr_ctx *c = user;
	const char *name, *old_owner, *new_owner;
	if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sss)")))
		return;
	g_variant_get(params, "(&s&s&s)", &name, &old_owner, &new_owner);
	if (new_owner[0] == '\0')
		c->gone = true;
	else
		c->retry_at = 0;              /* a new service: try it now */
}

static void on_item(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
		    const char *member, GVariant *params, gpointer user)
{
	const char *item;
	if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(o)")))
		return;
	g_variant_get(params, "(&o)", &item);
	hw_kr_item_event_inlock(user, member, item);
}

static void on_closed(GDBusConnection *conn, gboolean remote_peer_vanished, GError *e, gpointer user)
{
	hw_kr_ctx *c = user;
	c->gone = true;
}

void hw_kr_drain_inlock(hw_kr_ctx *c)
{
	if (c->events != NULL)
		while (g_main_context_iteration(c->events, FALSE))
			;
}

/* ---- connect and reset ---------------------------------------------------------- */
static void drop_conn_inlock(hw_kr_ctx *c)
{
	if (c->conn == NULL)
		return;
	if (c->sub_owner != 0)
		g_dbus_connection_signal_unsubscribe(c->conn, c->sub_owner);
	if (c->closed_id != 0)
		g_signal_handler_disconnect(c->conn, c->closed_id);
	c->sub_owner = 0;
	c->closed_id = 0;
	if (!g_dbus_connection_is_closed(c->conn))
		g_dbus_connection_close(c->conn, NULL, NULL, NULL);
	g_clear_object(&c->conn);
}

/* Forget the service (and the bus connection if it closed); the next call
 * connects again. */
static void reset_inlock(hw_kr_ctx *c)
{
	if (c->sub_items != 0 && c->conn != NULL)
		g_dbus_connection_signal_unsubscribe(c->conn, c->sub_items);
	c->sub_items = 0;
	g_clear_object(&c->svc);
	g_free(c->coll_path);
	c->coll_path = NULL;
	if (c->conn != NULL && g_dbus_connection_is_closed(c->conn))
		drop_conn_inlock(c);
	c->gone = false;
}

/* The session bus address, never autolaunching a bus (that may spawn
 * dbus-launch or wait on X11): $DBUS_SESSION_BUS_ADDRESS, else the
 * $XDG_RUNTIME_DIR/bus socket. */
static char *bus_address(char *why, size_t len)
{
	const char *a = secure_getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *run = secure_getenv("XDG_RUNTIME_DIR");
	char sock[512];
	struct stat st;
	if (a != NULL && a[0] != '\0')
		return g_strdup(a);
	if (run != NULL && run[0] != '\0' && (size_t)snprintf(sock, sizeof(sock), "%s/bus", run) < sizeof(sock) &&
	    stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		char *esc = g_dbus_address_escape_value(sock);
		char *addr = g_strdup_printf("unix:path=%s", esc);
		g_free(esc);
		return addr;
	}
	snprintf(why, len, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is "
		 "no $XDG_RUNTIME_DIR/bus)");
	return NULL;
}

GVariant *hw_kr_call(GDBusConnection *conn, const char *path, const char *iface, const char *method,
		      GVariant *args, const char *reply, GError **e)
{
	return g_dbus_connection_call_sync(conn, HW_KR_NAME, path, iface, method, args,
					   reply ? G_VARIANT_TYPE(reply) : NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
					   HW_KR_TIMEOUT_MS, NULL, e);
}

bool hw_kr_get_locked(GDBusConnection *conn, const char *coll, bool *locked, GError **e)
{
	GVariant *v, *r = hw_kr_call(conn, coll, HW_KR_IF_PROPS, "Get",
				     g_variant_new("(ss)", HW_KR_IF_COLLECTION, "Locked"), "(v)", e);
	if (r == NULL)
		return false;
	g_variant_get(r, "(v)", &v);
	*locked = g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean(v);
	g_variant_unref(v);
	g_variant_unref(r);
	return true;
}

/* The configured collection: an object path as given, or an alias. */
static char *resolve_collection(hw_kr_ctx *c, char *why, size_t len)
{
	GError *e = NULL;
	char *path = NULL;
	bool locked;
	if (c->collection[0] == '/') {
		path = g_strdup(c->collection);
	} else {
		GVariant *r = hw_kr_call(c->conn, HW_KR_PATH, HW_KR_IF_SERVICE, "ReadAlias",
					 g_variant_new("(s)", c->collection), "(o)", &e);
		if (r == NULL) {
			snprintf(why, len, "cannot read the collection alias \"%s\": %s", c->collection, e->message);
			goto out;
		}
		g_variant_get(r, "(o)", &path);
		g_variant_unref(r);
		if (strcmp(path, "/") == 0) {
			snprintf(why, len, "the Secret Service has no collection with the alias \"%s\" "
				 "(hwagg never creates one: that needs a prompt)", c->collection);
			g_clear_pointer(&path, g_free);
			goto out;
		}
	}
	if (!hw_kr_get_locked(c->conn, path, &locked, &e)) {
		snprintf(why, len, "collection %s: %s", path, e->message);
		g_clear_pointer(&path, g_free);
	}
out:
	g_clear_error(&e);
	return path;
}

static bool connect_inlock(hw_kr_ctx *c, char *why, size_t len)
{
	GError *e = NULL;
	GVariant *r = NULL;
	char *addr = NULL;
	bool ok = false;
	pid_t me = getpid();
	pid_t used = __atomic_load_n(&gdbus_pid, __ATOMIC_RELAXED);
	if (used != 0 && used != me) {
		snprintf(why, len, "this process was forked from one that used D-Bus, and GDBus "
			 "(libsecret's transport) does not work in such a child");
		return false;
	}
	if (c->events == NULL)
		c->events = g_main_context_new();
	/* whatever we create here queues its events on c->events */
	g_main_context_push_thread_default(c->events);
	if (c->conn == NULL) {
		if ((addr = bus_address(why, len)) == NULL)
			goto out;
		__atomic_store_n(&gdbus_pid, me, __ATOMIC_RELAXED);
		c->conn = g_dbus_connection_new_for_address_sync(addr, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
								 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
								 NULL, NULL, &e);
		if (c->conn == NULL) {
			snprintf(why, len, "cannot connect to the D-Bus session bus: %s", e->message);
			goto out;
		}
		g_dbus_connection_set_exit_on_close(c->conn, FALSE);
		c->closed_id = g_signal_connect(c->conn, "closed", G_CALLBACK(on_closed), c);
		c->sub_owner = g_dbus_connection_signal_subscribe(c->conn, DBUS_NAME, DBUS_NAME, "NameOwnerChanged",
								  DBUS_PATH, HW_KR_NAME, G_DBUS_SIGNAL_FLAGS_NONE,
								  on_owner, c, NULL);
	}
	r = g_dbus_connection_call_sync(c->conn, DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner",
					g_variant_new("(s)", HW_KR_NAME), G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE,
					HW_KR_TIMEOUT_MS, NULL, &e);
	if (r == NULL) {
		if (g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
			snprintf(why, len, "no Secret Service is running on the session bus "
				 "(nothing owns %s; start gnome-keyring-daemon)", HW_KR_NAME);
		else
			snprintf(why, len, "cannot ask the session bus for the Secret Service: %s", e->message);
		goto out;
	}
	c->svc = g_initable_new(hw_kr_service_get_type(), NULL, &e, "g-connection", c->conn,
				"g-default-timeout", HW_KR_TIMEOUT_MS, "flags", SECRET_SERVICE_OPEN_SESSION, NULL);
	if (c->svc == NULL) {
		snprintf(why, len, "cannot open a Secret Service session: %s", e->message);
		goto out;
	}
	if ((c->coll_path = resolve_collection(c, why, len)) == NULL)
		goto out;
	c->sub_items = g_dbus_connection_signal_subscribe(c->conn, HW_KR_NAME, HW_KR_IF_COLLECTION, NULL, c->coll_path,
							  NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_item, c, NULL);
	const char *alg = secret_service_get_session_algorithms(c->svc);
	if (alg != NULL && strcmp(alg, "plain") == 0 && !c->plain_warned) {
		c->plain_warned = true;
		hw_warn("slot \"%s\" (keyring): the Secret Service session is not encrypted: key bytes "
			"cross the session bus in the clear", c->conf->name);
	}
	ok = true;
out:
	g_main_context_pop_thread_default(c->events);
	if (!ok)
		reset_inlock(c);
	if (r != NULL)
		g_variant_unref(r);
	g_clear_error(&e);
	g_free(addr);
	return ok;
}

/* Connected and the service still there; connects when allowed. */
static bool ensure_inlock(hw_kr_ctx *c)
{
	char why[sizeof(c->why)] = "";
	hw_kr_drain_inlock(c);
	if (c->gone) {
		hw_info("slot \"%s\" (keyring): the Secret Service went away", c->conf->name);
		removed_inlock(c);
		reset_inlock(c);
	}
	if (c->svc != NULL)
		return true;
	if (hw_kr_now() < c->retry_at)
		return false;
	if (connect_inlock(c, why, sizeof(why))) {
		hw_log(c->why[0] != '\0' ? HW_LOG_WARN : HW_LOG_INFO,
		       "slot \"%s\" (keyring): connected to the Secret Service, collection %s%s", c->conf->name,
		       c->coll_path, c->why[0] != '\0' ? " (the token is back)" : "");
		if (!c->warned_dev)
			hw_warn("slot \"%s\" (keyring) keeps software keys in the Secret Service collection "
				"\"%s\": for development, not for production keys", c->conf->name, c->collection);
		c->warned_dev = true;
		c->why[0] = '\0';
		c->gen++;
		c->retry_at = 0;
		/* another daemon may serve other items under the same paths */
		hw_kr_items_stale_inlock(c);
		c->token_known = false;
		return true;
	}
	c->retry_at = hw_kr_now() + HW_KR_RETRY_S;
	if (strcmp(why, c->why) != 0) {
		hw_warn("slot \"%s\" (keyring): token absent: %s", c->conf->name, why);
		snprintf(c->why, sizeof(c->why), "%s", why);
	}
	return false;
}

bool hw_kr_present(hw_kr_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	bool ok = ensure_inlock(c);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

CK_RV hw_kr_link_get(hw_kr_ctx *c, hw_kr_link *l)
{
	CK_RV rv = CKR_DEVICE_REMOVED;
	memset(l, 0, sizeof(*l));
	pthread_mutex_lock(&c->lock);
	if (ensure_inlock(c)) {
		l->conn = g_object_ref(c->conn);
		l->svc = g_object_ref(c->svc);
		l->coll = g_strdup(c->coll_path);
		l->gen = c->gen;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

void hw_kr_link_put(hw_kr_link *l)
{
	g_clear_object(&l->svc);
	g_clear_object(&l->conn);
	g_clear_pointer(&l->coll, g_free);
}

void hw_kr_bus_close(hw_kr_ctx *c, bool forked)
{
	g_clear_pointer(&c->token_path, g_free);
	if (forked) {
		/* the parent's connection: abandoned, never closed from here */
		c->svc = NULL;
		c->conn = NULL;
		c->events = NULL;
		c->coll_path = NULL;
		return;
	}
	/* queued signals hold their messages until dispatched */
	hw_kr_drain_inlock(c);
	reset_inlock(c);
	drop_conn_inlock(c);
	hw_kr_drain_inlock(c);
	if (c->events != NULL)
		g_main_context_unref(c->events);
	c->events = NULL;
}
