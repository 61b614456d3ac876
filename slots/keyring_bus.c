/*
 * The keyring slot's connection to the Secret Service (keyring_int.h).
 *
 * - libdbus in blocking mode on a private connection of our own
 *   (dbus_connection_open_private + Hello), never the process's shared
 *   session-bus connection: the application's own D-Bus use is untouched,
 *   C_Finalize can close ours, and losing the bus never exits the process.
 *   libdbus starts no thread, so the slot starts none.
 * - Every call is bounded by HW_KR_TIMEOUT_MS (or what is left of the PKCS#11
 *   call's deadline, common/deadline.h) and none starts the daemon by
 *   D-Bus activation: the bus is asked whether the Secret Service runs
 *   (NameHasOwner) before anything else, and no call to it allows
 *   auto-start. No service = token absent.
 * - Nothing waits for an interactive prompt: a call that returns one
 *   dismisses it and fails (keyring_call.c).
 * - Change detection without a main loop: match rules on our connection
 *   (the Secret Service's owner changing; items created, changed or deleted
 *   in our collection) make the bus send those signals to us; they queue up
 *   in the connection while the blocking calls read, and the slot drains
 *   them without waiting, under ctx->lock, whenever it looks: a read of what
 *   the socket holds (dbus_connection_read_write(conn, 0)), then
 *   dbus_connection_dispatch() into a filter. Not pop_message: the queue also
 *   holds replies that other threads' blocking calls are about to pick up,
 *   and popping one would leave that call waiting for its timeout; dispatch
 *   hands such a reply to its call. changed() costs no round trip.
 * - fork(): the child's C_Initialize abandons the parent's connection (its
 *   socket is shared with the parent: no close, no flush, not even an unref
 *   that could touch its locks) and the child connects afresh, with a
 *   session of its own. libdbus keeps no thread or process-wide state that
 *   would stop a child from doing so, unlike GDBus, whose worker thread is
 *   not in the child. (As with any library, another thread inside libdbus at
 *   the moment of fork may leave one of its global locks held in the child.)
 */
#include "slots/keyring_int.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define OWNER_RULE "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS "'," \
	"member='NameOwnerChanged',path='" DBUS_PATH_DBUS "',arg0='" HW_KR_NAME "'"
/* (a collection's path, validated, needs no quoting in a rule) */
#define COLL_RULE "type='signal',sender='" HW_KR_NAME "',interface='" HW_KR_IF_COLLECTION "',path='%s'"

double hw_kr_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- errors -------------------------------------------------------------------- */
/* The service (or the bus) is gone or no longer knows our session. */
static bool error_gone(const hw_kr_err *e)
{
	static const char *const gone[] = {
		DBUS_ERROR_SERVICE_UNKNOWN, DBUS_ERROR_NAME_HAS_NO_OWNER, DBUS_ERROR_NO_REPLY,
		DBUS_ERROR_DISCONNECTED, DBUS_ERROR_NO_SERVER, DBUS_ERROR_TIMEOUT, DBUS_ERROR_TIMED_OUT,
		"org.freedesktop.Secret.Error.NoSession",
	};
	for (size_t i = 0; i < HW_ARRAY_LEN(gone); i++)
		if (hw_kr_err_is(e, gone[i]))
			return true;
	return false;
}

/* gnome-keyring answers UnknownMethod for an object path it does not serve. */
bool hw_kr_error_no_object(const hw_kr_err *e)
{
	return hw_kr_err_is(e, "org.freedesktop.Secret.Error.NoSuchObject") ||
	       hw_kr_err_is(e, DBUS_ERROR_UNKNOWN_OBJECT) || hw_kr_err_is(e, DBUS_ERROR_UNKNOWN_METHOD);
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

CK_RV hw_kr_fail(hw_kr_ctx *c, const hw_kr_link *l, const hw_kr_err *e, const char *what)
{
	CK_RV rv = CKR_DEVICE_ERROR;
	if (hw_kr_err_is(e, "org.freedesktop.Secret.Error.IsLocked")) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if (hw_kr_err_is(e, HW_KR_ERR_PROMPT)) {
		rv = CKR_FUNCTION_FAILED;
	} else if (hw_kr_err_is(e, DBUS_ERROR_NO_MEMORY)) {
		rv = CKR_HOST_MEMORY;
	} else if (error_gone(e)) {
		rv = CKR_DEVICE_REMOVED;
		pthread_mutex_lock(&c->lock);
		if (l == NULL || l->gen == c->gen) {
			c->gone = true;       /* dropped and retried at the next call */
			removed_inlock(c);
		}
		pthread_mutex_unlock(&c->lock);
	}
	hw_log(rv == CKR_USER_NOT_LOGGED_IN ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\" (keyring): %s: %s (%s)",
	       c->conf->name, what, e->msg, hw_rv_name(rv));
	return rv;
}

/* ---- small calls ------------------------------------------------------------------ */
/* A call to the bus itself with one string argument (or none). */
static DBusMessage *bus_msg(const char *method, const char *arg, hw_kr_err *e)
{
	DBusMessageIter it;
	DBusMessage *m = hw_kr_msg(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, method, e);
	if (m == NULL)
		return NULL;
	dbus_message_iter_init_append(m, &it);
	if (arg != NULL && !hw_kr_put_str(&it, DBUS_TYPE_STRING, arg, e)) {
		dbus_message_unref(m);
		return NULL;
	}
	return m;
}

static DBusMessage *bus_call(DBusConnection *conn, const char *method, const char *arg, const char *sig,
			     hw_kr_err *e)
{
	DBusMessage *m = bus_msg(method, arg, e);
	return m != NULL ? hw_kr_send(conn, m, sig, e) : NULL;
}

static bool bus_ok(DBusConnection *conn, const char *method, const char *arg, hw_kr_err *e)
{
	DBusMessage *r = bus_call(conn, method, arg, NULL, e);
	if (r != NULL)
		dbus_message_unref(r);
	return r != NULL;
}

void hw_kr_dismiss(DBusConnection *conn, const char *prompt_path)
{
	hw_kr_err e = { "", "" };
	DBusMessage *m = hw_kr_msg(NULL, prompt_path, HW_KR_IF_PROMPT, "Dismiss", &e);
	if (m != NULL)
		hw_kr_send_only(conn, m);
}

bool hw_kr_get_locked(DBusConnection *conn, const char *coll, bool *locked, hw_kr_err *e)
{
	DBusMessageIter it, var;
	dbus_bool_t b = FALSE;
	DBusMessage *r, *m = hw_kr_msg(NULL, coll, HW_KR_IF_PROPS, "Get", e);
	if (m == NULL)
		return false;
	dbus_message_iter_init_append(m, &it);
	if (!hw_kr_put_str(&it, DBUS_TYPE_STRING, HW_KR_IF_COLLECTION, e) ||
	    !hw_kr_put_str(&it, DBUS_TYPE_STRING, "Locked", e)) {
		dbus_message_unref(m);
		return false;
	}
	if ((r = hw_kr_send(conn, m, "v", e)) == NULL)
		return false;
	dbus_message_iter_init(r, &it);
	dbus_message_iter_recurse(&it, &var);
	if (dbus_message_iter_get_arg_type(&var) == DBUS_TYPE_BOOLEAN)
		dbus_message_iter_get_basic(&var, &b);
	*locked = b;
	dbus_message_unref(r);
	return true;
}

/* ---- signals ------------------------------------------------------------------- */
/* The filter of our connection: it runs in hw_kr_drain_inlock only (nothing
 * else dispatches the connection), so with c->lock held. */
static DBusHandlerResult on_message_inlock(DBusConnection *conn, DBusMessage *m, void *arg)
{
	hw_kr_ctx *c = arg;
	const char *a = NULL, *b = NULL, *d = NULL;
	if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_SIGNAL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;   /* a late reply to a call that timed out */
	if (dbus_message_is_signal(m, DBUS_INTERFACE_LOCAL, "Disconnected")) {
		c->gone = true;
	} else if (dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameOwnerChanged")) {
		if (!dbus_message_has_sender(m, DBUS_SERVICE_DBUS) || !dbus_message_has_signature(m, "sss") ||
		    !dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &a, DBUS_TYPE_STRING, &b, DBUS_TYPE_STRING, &d,
					   DBUS_TYPE_INVALID) || strcmp(a, HW_KR_NAME) != 0)
			return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
		if (d[0] == '\0')
			c->gone = true;
		else
			c->retry_at = 0;      /* a new service: try it now */
	} else if (dbus_message_has_interface(m, HW_KR_IF_COLLECTION) && c->match_coll != NULL &&
		   dbus_message_has_path(m, c->match_coll) && dbus_message_has_signature(m, "o") &&
		   dbus_message_get_args(m, NULL, DBUS_TYPE_OBJECT_PATH, &a, DBUS_TYPE_INVALID)) {
		hw_kr_item_event_inlock(c, dbus_message_get_member(m), a);
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

void hw_kr_drain_inlock(hw_kr_ctx *c)
{
	if (c->conn == NULL)
		return;
	/* read what the socket holds, without waiting (if another thread is
	 * reading it for its call, that thread queues what arrives) */
	dbus_connection_read_write(c->conn, 0);
	/* bounded: other threads' calls may keep queueing messages */
	for (int i = 0; i < 4096 && dbus_connection_dispatch(c->conn) == DBUS_DISPATCH_DATA_REMAINS; i++)
		;
}

/* Receive the signals of coll's items (rules survive a service restart:
 * the bus matches the sender by name). Best effort: without them changed()
 * still searches again every HW_KR_RESCAN_S. */
static void watch_collection_inlock(hw_kr_ctx *c, const char *coll)
{
	hw_kr_err e = { "", "" };
	DBusMessage *m;
	char *rule = NULL;
	if (c->match_coll != NULL && strcmp(c->match_coll, coll) == 0)
		return;
	/* the old collection's rule: nothing waits for the answer */
	if (c->match_coll != NULL && (rule = hw_kr_printf(COLL_RULE, c->match_coll)) != NULL &&
	    (m = bus_msg("RemoveMatch", rule, &e)) != NULL)
		hw_kr_send_only(c->conn, m);
	free(rule);
	free(c->match_coll);
	c->match_coll = NULL;
	rule = hw_kr_printf(COLL_RULE, coll);
	if (rule != NULL && bus_ok(c->conn, "AddMatch", rule, &e))
		c->match_coll = strdup(coll);
	else
		hw_info("slot \"%s\" (keyring): no change signals from the collection (%s): looking again every "
			"%.0f s", c->conf->name, rule != NULL ? e.msg : "out of memory", HW_KR_RESCAN_S);
	free(rule);
}

/* ---- connect and reset ---------------------------------------------------------- */
static void svc_put(hw_kr_svc *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		hw_kr_svc_free(s);
}

static void drop_conn_inlock(hw_kr_ctx *c)
{
	if (c->conn == NULL)
		return;
	/* a private connection is closed before its last reference goes */
	dbus_connection_close(c->conn);
	dbus_connection_unref(c->conn);
	c->conn = NULL;
	free(c->match_coll);
	c->match_coll = NULL;
}

/* Forget the service (and the bus connection if it closed); the next call
 * connects again. */
static void reset_inlock(hw_kr_ctx *c)
{
	svc_put(c->svc);
	c->svc = NULL;
	if (c->conn != NULL && !dbus_connection_get_is_connected(c->conn))
		drop_conn_inlock(c);
	c->gone = false;
}

/* The session bus address, never autolaunching a bus (that may spawn
 * dbus-launch or wait on X11): $DBUS_SESSION_BUS_ADDRESS, else the
 * $XDG_RUNTIME_DIR/bus socket. Returns a malloc'ed string. */
static char *bus_address(char *why, size_t len)
{
	const char *a = secure_getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *run = secure_getenv("XDG_RUNTIME_DIR");
	char sock[512], *addr = NULL, *esc;
	struct stat st;
	DBusAddressEntry **entries = NULL;
	DBusError de;
	int n = 0;
	if (a != NULL && a[0] != '\0') {
		dbus_error_init(&de);
		if (!dbus_parse_address(a, &entries, &n, &de)) {
			snprintf(why, len, "DBUS_SESSION_BUS_ADDRESS is not a D-Bus address: %s", de.message);
			dbus_error_free(&de);
			return NULL;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(dbus_address_entry_get_method(entries[i]), "autolaunch") == 0)
				snprintf(why, len, "DBUS_SESSION_BUS_ADDRESS asks to start a bus (autolaunch:); hwagg "
					 "connects only to a running one");
		dbus_address_entries_free(entries);
		if (why[0] == '\0' && (addr = strdup(a)) == NULL)
			snprintf(why, len, "out of memory");
		return addr;
	}
	if (run != NULL && run[0] != '\0' && (size_t)snprintf(sock, sizeof(sock), "%s/bus", run) < sizeof(sock) &&
	    stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if ((esc = dbus_address_escape_value(sock)) != NULL)
			addr = hw_kr_printf("unix:path=%s", esc);
		dbus_free(esc);
		if (addr == NULL)
			snprintf(why, len, "out of memory");
		return addr;
	}
	snprintf(why, len, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is "
		 "no $XDG_RUNTIME_DIR/bus)");
	return NULL;
}

static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

/* libdbus would set SIGPIPE to SIG_IGN for the whole process when it makes
 * a connection; the application's signal dispositions are not ours to
 * change (libdbus writes to sockets with MSG_NOSIGNAL anyway). */
static void keep_sigpipe(void)
{
	dbus_connection_set_change_sigpipe(FALSE);
}

/* A private connection to the session bus, registered (Hello) and told to
 * send us the Secret Service's owner changes. */
static DBusConnection *open_bus(hw_kr_ctx *c, char *why, size_t len)
{
	DBusError de;
	hw_kr_err e = { "", "" };
	DBusConnection *conn;
	char *addr;
	pthread_once(&sigpipe_once, keep_sigpipe);
	if ((addr = bus_address(why, len)) == NULL)
		return NULL;
	dbus_error_init(&de);
	conn = dbus_connection_open_private(addr, &de);
	free(addr);
	if (conn == NULL) {
		snprintf(why, len, "cannot connect to the D-Bus session bus: %s", de.message);
		dbus_error_free(&de);
		return NULL;
	}
	dbus_connection_set_exit_on_disconnect(conn, FALSE);
	if (!dbus_connection_add_filter(conn, on_message_inlock, c, NULL))
		hw_kr_err_set(&e, DBUS_ERROR_NO_MEMORY, "out of memory");
	else if (bus_ok(conn, "Hello", NULL, &e) && bus_ok(conn, "AddMatch", OWNER_RULE, &e))
		return conn;
	snprintf(why, len, "cannot register on the D-Bus session bus: %s", e.msg);
	dbus_connection_close(conn);
	dbus_connection_unref(conn);
	return NULL;
}

/* The configured collection: an object path as given, or an alias. */
static char *resolve_collection(hw_kr_ctx *c, char *why, size_t len)
{
	hw_kr_err e = { "", "" };
	DBusMessageIter it;
	DBusMessage *r = NULL, *m;
	char *path = NULL;
	bool locked;
	if (c->collection[0] == '/') {
		if ((path = strdup(c->collection)) == NULL)
			snprintf(why, len, "out of memory");
	} else if ((m = hw_kr_msg(NULL, HW_KR_PATH, HW_KR_IF_SERVICE, "ReadAlias", &e)) != NULL) {
		dbus_message_iter_init_append(m, &it);
		if (!hw_kr_put_str(&it, DBUS_TYPE_STRING, c->collection, &e))
			dbus_message_unref(m);
		else if ((r = hw_kr_send(c->conn, m, "o", &e)) != NULL)
			path = hw_kr_reply_str(r, &e);
	}
	if (path == NULL && why[0] == '\0')
		snprintf(why, len, "cannot read the collection alias \"%s\": %s", c->collection, e.msg);
	if (path != NULL && strcmp(path, "/") == 0) {
		snprintf(why, len, "the Secret Service has no collection with the alias \"%s\" "
			 "(hwagg never creates one: that needs a prompt)", c->collection);
		free(path);
		path = NULL;
	}
	if (path != NULL && !hw_kr_get_locked(c->conn, path, &locked, &e)) {
		snprintf(why, len, "collection %s: %s", path, e.msg);
		free(path);
		path = NULL;
	}
	if (r != NULL)
		dbus_message_unref(r);
	return path;
}

static bool connect_inlock(hw_kr_ctx *c, char *why, size_t len)
{
	hw_kr_err e = { "", "" };
	DBusMessage *r = NULL;
	dbus_bool_t running = FALSE;
	hw_kr_svc *svc = NULL;
	bool ok = false;
	if (c->conn == NULL && (c->conn = open_bus(c, why, len)) == NULL)
		return false;
	if ((r = bus_call(c->conn, "NameHasOwner", HW_KR_NAME, "b", &e)) == NULL) {
		snprintf(why, len, "cannot ask the session bus for the Secret Service: %s", e.msg);
		goto out;
	}
	dbus_message_get_args(r, NULL, DBUS_TYPE_BOOLEAN, &running, DBUS_TYPE_INVALID);
	if (!running) {
		snprintf(why, len, "no Secret Service is running on the session bus "
			 "(nothing owns %s; start gnome-keyring-daemon)", HW_KR_NAME);
		goto out;
	}
	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		snprintf(why, len, "out of memory");
		goto out;
	}
	svc->refs = 1;
	svc->conn = dbus_connection_ref(c->conn);
	if (!hw_kr_session_open(svc, &e)) {
		snprintf(why, len, "cannot open a Secret Service session: %s", e.msg);
		goto out;
	}
	if ((svc->coll = resolve_collection(c, why, len)) == NULL)
		goto out;
	watch_collection_inlock(c, svc->coll);
	if (svc->key == NULL && !c->plain_warned) {
		c->plain_warned = true;
		hw_warn("slot \"%s\" (keyring): the Secret Service session is not encrypted: key bytes "
			"cross the session bus in the clear", c->conf->name);
	}
	c->svc = svc;
	svc = NULL;
	ok = true;
out:
	svc_put(svc);
	if (!ok)
		reset_inlock(c);
	if (r != NULL)
		dbus_message_unref(r);
	return ok;
}

/* Connected and the service still there; connects when allowed. */
static bool ensure_inlock(hw_kr_ctx *c)
{
	char why[sizeof(c->why)] = "";
	hw_kr_drain_inlock(c);
	if (c->conn != NULL && !dbus_connection_get_is_connected(c->conn))
		c->gone = true;               /* the bus itself went away */
	if (c->gone) {
		if (c->svc != NULL)
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
		       c->svc->coll, c->why[0] != '\0' ? " (the token is back)" : "");
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
		__atomic_add_fetch(&c->svc->refs, 1, __ATOMIC_RELAXED);
		l->svc = c->svc;
		l->conn = c->svc->conn;
		l->coll = c->svc->coll;
		l->gen = c->gen;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

void hw_kr_link_put(hw_kr_link *l)
{
	svc_put(l->svc);
	memset(l, 0, sizeof(*l));
}

void hw_kr_bus_close(hw_kr_ctx *c, bool forked)
{
	free(c->token_path);
	c->token_path = NULL;
	free(c->match_coll);
	c->match_coll = NULL;
	if (forked) {
		/* the parent's connection and session: abandoned, never closed,
		 * flushed or unreferenced from here; only our copy of the
		 * session key is wiped */
		if (c->svc != NULL) {
			hw_secret_free(c->svc->key);
			c->svc->key = NULL;
		}
		c->svc = NULL;
		c->conn = NULL;
		return;
	}
	svc_put(c->svc);
	c->svc = NULL;
	drop_conn_inlock(c);
}
