/*
 * The keyring slot's units, shared between slots/keyring*.c:
 *
 *   keyring.c         the backend ops: token, login, objects, keys, signing
 *   keyring_bus.c     the connection: a private libdbus connection to the
 *                     session bus, presence, signals, errors, fork
 *   keyring_msg.c     D-Bus messages: the blocking call with its timeout,
 *                     building arguments, reading replies
 *   keyring_session.c the Secret Service session: OpenSession and the
 *                     transfer encryption of secrets
 *   keyring_call.c    every Secret Service call the slot makes
 *   keyring_item.c    items: the secret's format, the searchable attributes,
 *                     the item cache (item path <-> object id) and load()
 *   keyring_token.c   the token and its PIN: initialization, login, verifier
 *   keyring_secret.c  secret keys (AES, HMAC): kept, used and wrapped
 *
 * One ctx per slot; ctx->lock protects everything in it. D-Bus calls are
 * made without the lock through a hw_kr_link (a reference to the connection
 * and its session, taken under the lock), except the connect itself, so two
 * threads never connect twice.
 *
 * The transport is libdbus in blocking mode: it starts no thread and keeps
 * no state outside the connection, so a forked child simply opens a
 * connection of its own (the parent's is abandoned, see keyring_bus.c).
 */
#ifndef HW_KEYRING_INT_H
#define HW_KEYRING_INT_H

#include "slots/backend.h"
#include "common/secret.h"

#include <dbus/dbus.h>
#include <pthread.h>

/* The Secret Service on the session bus (and gnome-keyring's extension). */
#define HW_KR_NAME "org.freedesktop.secrets"
#define HW_KR_PATH "/org/freedesktop/secrets"
#define HW_KR_IF_SERVICE "org.freedesktop.Secret.Service"
#define HW_KR_IF_COLLECTION "org.freedesktop.Secret.Collection"
#define HW_KR_IF_ITEM "org.freedesktop.Secret.Item"
#define HW_KR_IF_PROMPT "org.freedesktop.Secret.Prompt"
#define HW_KR_IF_GNOME "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
#define HW_KR_IF_PROPS "org.freedesktop.DBus.Properties"
#define HW_KR_NO_PROMPT "the Secret Service wants an interactive prompt for this; hwagg never prompts"
#define HW_KR_DEFAULT_COLLECTION "default"  /* the alias libsecret calls SECRET_COLLECTION_DEFAULT */

/* Error names of our own, for failures that are not the service's answer. */
#define HW_KR_ERR_PROMPT "org.hwagg.Error.NoPrompt"   /* -> CKR_FUNCTION_FAILED */
#define HW_KR_ERR_REPLY "org.hwagg.Error.BadReply"    /* -> CKR_DEVICE_ERROR */
#define HW_KR_ERR_ARGS "org.hwagg.Error.BadArgument"  /* a string D-Bus cannot carry */
#define HW_KR_ERR_DEADLINE "org.hwagg.Error.Deadline"  /* the PKCS#11 call's deadline passed */

#define HW_KR_SCHEMA "org.hwagg.Object"   /* xdg:schema of a token object's item */
#define HW_KR_SCHEMA_TOKEN "org.hwagg.Token" /* xdg:schema of the PIN verifier item */
#define HW_KR_FORMAT "1"                  /* hwagg-version of the items we write */
#define HW_KR_CONTENT "application/octet-stream" /* content type of our items' secrets */
#define HW_KR_TIMEOUT_MS 5000             /* bound on every D-Bus call (or the call's deadline) */
#define HW_KR_RETRY_S 2.0                 /* a failed connect is not retried sooner */
#define HW_KR_RESCAN_S 5.0                /* changed() searches again after this */

/* A failed call: the D-Bus error name (the service's, libdbus's or one of
 * HW_KR_ERR_*) and its message. name[0] == '\0': no error. */
typedef struct hw_kr_err {
	char name[128];
	char msg[160];
} hw_kr_err;

/* The searchable attributes of an item (values owned). */
#define HW_KR_NATTRS 8
typedef struct hw_kr_attrs {
	struct { const char *name; char *value; } a[HW_KR_NATTRS];
	size_t n;
} hw_kr_attrs;

/* A working connection to the Secret Service: the bus connection, our
 * session on the service and the resolved collection. Reference counted:
 * calls in flight keep it while a reconnect replaces it. */
typedef struct hw_kr_svc {
	unsigned refs;
	DBusConnection *conn;         /* a reference; closed by keyring_bus.c only */
	char *session;                /* the session's object path */
	hw_secret *key;               /* its AES-128 key; NULL for a "plain" session */
	EVP_CIPHER *aes;              /* AES-128-CBC, fetched once per session */
	char *coll;                   /* the collection's object path */
} hw_kr_svc;

/* One hwagg item of the collection, as last read. */
typedef struct hw_kr_item {
	char *path;                   /* D-Bus object path */
	char *uid;                    /* CKA_UNIQUE_ID = hwagg-uid */
	int64_t oid;                  /* the engine's token object id */
	hw_attrs attrs;               /* the object's attributes (no key bytes) */
	bool priv;                    /* the secret holds key bytes (private or secret key) */
	bool stale;                   /* changed since read: read again */
	bool damaged;                 /* not a hwagg secret; skipped (logged once) */
	bool seen;                    /* in the current search */
} hw_kr_item;

/* A key for the login session (cache_keys) or a session key: a private
 * key (pk) or a secret key (value). */
#define HW_KR_IDLE 4
typedef struct hw_kr_key {
	EVP_PKEY *pk;                 /* NULL once dropped at logout */
	hw_secret *value;             /* a secret key's value; NULL once dropped */
	bool session;                 /* a session object: its only copy, never dropped */
	EVP_PKEY_CTX *idle[HW_KR_IDLE]; /* signing contexts ready for pk (hw_pkey_sign_keep) */
	unsigned nidle;
} hw_kr_key;

typedef struct hw_kr_ctx {
	const hw_slot_conf *conf;
	const char *collection;       /* config: alias ("default") or object path */
	bool cache_keys;
	pthread_mutex_t lock;

	/* keyring_bus.c */
	DBusConnection *conn;         /* our private connection to the session bus */
	hw_kr_svc *svc;               /* the service on it, NULL when not connected */
	char *match_coll;             /* the collection whose signals we receive */
	unsigned gen;                 /* bumped at every (re)connect */
	uint64_t epoch;               /* token_epoch: bumped when a connection is lost */
	unsigned epoch_gen;           /* the connection whose loss was counted */
	bool gone;                    /* the service (or the bus) went away */
	double retry_at;              /* no connect attempt before this time */
	char why[256];                /* why the token is absent, as last logged */
	bool plain_warned;
	bool warned_dev;              /* "for development" logged (first connection) */

	/* keyring_item.c */
	hw_kr_item **items;
	size_t nitems, cap;
	int64_t next_oid;
	unsigned changes;             /* bumped by every change we hear of */
	unsigned loaded_changes;      /* the value the last complete load() started from */
	double loaded_at;             /* 0 = never loaded */
	bool locked_logged;

	/* keyring_token.c */
	char *token_path;             /* the PIN verifier item, NULL if none */
	bool token_known;             /* token_path is up to date */
	bool user;                    /* C_Login succeeded (this process's login session) */

	/* keyring.c */
	hw_kr_key **keys;
	size_t nkeys, keys_cap;
} hw_kr_ctx;

/* What a D-Bus call needs, referenced under the lock and used without it.
 * conn and coll belong to svc. */
typedef struct hw_kr_link {
	hw_kr_svc *svc;
	DBusConnection *conn;
	const char *coll;
	unsigned gen;
} hw_kr_link;

double hw_kr_now(void);
/* A NULL-terminated array of strings; NULL-safe. */
void hw_kr_strv_free(char **v);
/* malloc'ed printf; NULL when out of memory. */
char *hw_kr_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- keyring_msg.c ------------------------------------------------------------- */
void hw_kr_err_set(hw_kr_err *e, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool hw_kr_err_is(const hw_kr_err *e, const char *name);
/* A method call to dest (NULL: the Secret Service), never starting it by
 * activation; NULL (e set) when out of memory. */
DBusMessage *hw_kr_msg(const char *dest, const char *path, const char *iface, const char *method,
		       hw_kr_err *e);
/* Send m (consumed) and wait at most HW_KR_TIMEOUT_MS for the reply, which
 * must have the D-Bus signature sig; NULL with e set otherwise. */
DBusMessage *hw_kr_send(DBusConnection *conn, DBusMessage *m, const char *sig, hw_kr_err *e);
/* Send m (consumed) without waiting for a reply. */
void hw_kr_send_only(DBusConnection *conn, DBusMessage *m);
/* Append a string (DBUS_TYPE_STRING) or object path (DBUS_TYPE_OBJECT_PATH);
 * false (e set) if it is not valid for D-Bus or memory ran out. */
bool hw_kr_put_str(DBusMessageIter *it, int type, const char *s, hw_kr_err *e);
bool hw_kr_put_bytes(DBusMessageIter *it, const void *p, size_t len, hw_kr_err *e);
/* a{ss} */
bool hw_kr_put_attrs(DBusMessageIter *it, const hw_kr_attrs *a, hw_kr_err *e);
/* A variant holding a string or an a{ss}. */
bool hw_kr_put_variant_str(DBusMessageIter *it, const char *s, hw_kr_err *e);
bool hw_kr_put_variant_attrs(DBusMessageIter *it, const hw_kr_attrs *a, hw_kr_err *e);
/* The next argument of a reply whose signature was checked (iterator
 * advanced): a string or object path (copied), an array of object paths. */
char *hw_kr_get_str(DBusMessageIter *it);
char **hw_kr_get_paths(DBusMessageIter *it);
/* A reply's first argument, copied (the signature was checked). */
char *hw_kr_reply_str(DBusMessage *r, hw_kr_err *e);

/* ---- keyring_session.c --------------------------------------------------------- */
/* Open a session on the service for svc (svc->conn set): the transfer
 * encryption libsecret uses (dh-ietf1024-sha256-aes128-cbc-pkcs7), or
 * "plain" when the service offers nothing else. */
bool hw_kr_session_open(hw_kr_svc *svc, hw_kr_err *e);
/* Append a secret as (oayays) for svc's session. */
bool hw_kr_put_secret(DBusMessageIter *it, const hw_kr_svc *svc, const void *data, size_t len,
		      const char *content_type, hw_kr_err *e);
/* Read an (oayays) secret into secret memory: NULL if it is not for svc's
 * session or does not decrypt (logged), or memory ran out (*oom). */
hw_secret *hw_kr_get_secret_value(DBusMessageIter *it, const hw_kr_svc *svc, bool *oom);
void hw_kr_svc_free(hw_kr_svc *svc);

/* ---- keyring_bus.c: the connection ----------------------------------------------- */
/* Token present now: drains events, connects when allowed (cheap otherwise). */
bool hw_kr_present(hw_kr_ctx *c);
/* References to a working connection, connecting if needed; otherwise
 * CKR_DEVICE_REMOVED with the reason logged. */
CK_RV hw_kr_link_get(hw_kr_ctx *c, hw_kr_link *l);
void hw_kr_link_put(hw_kr_link *l);
/* Turn a failed call into a CK_RV: logs it (what = the action), drops the
 * connection when the service is gone. IsLocked -> CKR_USER_NOT_LOGGED_IN;
 * gone -> CKR_DEVICE_REMOVED; no prompt -> CKR_FUNCTION_FAILED; out of
 * memory -> CKR_HOST_MEMORY; the rest CKR_DEVICE_ERROR. */
CK_RV hw_kr_fail(hw_kr_ctx *c, const hw_kr_link *l, const hw_kr_err *e, const char *what);
/* The item (or collection) does not exist (any more). */
bool hw_kr_error_no_object(const hw_kr_err *e);
/* Tell the service we will not show the prompt at prompt_path. */
void hw_kr_dismiss(DBusConnection *conn, const char *prompt_path);
/* Read the collection's Locked property. */
bool hw_kr_get_locked(DBusConnection *conn, const char *coll, bool *locked, hw_kr_err *e);
/* Dispatch queued signals (c->lock held). */
void hw_kr_drain_inlock(hw_kr_ctx *c);
void hw_kr_bus_close(hw_kr_ctx *c, bool forked);

/* ---- keyring_call.c -------------------------------------------------------------- */
CK_RV hw_kr_is_locked(hw_kr_ctx *c, const hw_kr_link *l, bool *locked);
/* Paths of this slot's items of a schema in the collection (a search,
 * never a listing). */
CK_RV hw_kr_search(hw_kr_ctx *c, const hw_kr_link *l, const char *schema, char ***paths);
/* The secrets of paths[0..n-1] in one call: out[i] for paths[i], NULL for a
 * locked or missing item (the caller frees them with hw_secret_free). */
CK_RV hw_kr_get_secrets(hw_kr_ctx *c, const hw_kr_link *l, const char *const *paths, size_t n,
			hw_secret **out);
/* One item's secret; a locked collection -> CKR_USER_NOT_LOGGED_IN, an item
 * that no longer exists -> CKR_OBJECT_HANDLE_INVALID (logged by the caller). */
CK_RV hw_kr_get_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, hw_secret **out);
CK_RV hw_kr_create(hw_kr_ctx *c, const hw_kr_link *l, const hw_kr_attrs *attributes, const char *label,
		   const hw_secret *secret, char **path);
CK_RV hw_kr_set_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const hw_secret *secret);
CK_RV hw_kr_set_attributes(hw_kr_ctx *c, const hw_kr_link *l, const char *path,
			   const hw_kr_attrs *attributes, const char *label);
/* Delete; an item already gone is not an error. */
CK_RV hw_kr_delete(hw_kr_ctx *c, const hw_kr_link *l, const char *path);
/* Unlock a locked collection with the password, or have the service check
 * it for an unlocked one (see keyring_call.c). CKR_PIN_INCORRECT when wrong. */
CK_RV hw_kr_password(hw_kr_ctx *c, const hw_kr_link *l, const CK_UTF8CHAR *pin, CK_ULONG len,
		     bool locked);

/* ---- keyring.c ------------------------------------------------------------------ */
/* End this process's login session: the user flag and cached keys go. */
void hw_kr_logout_inlock(hw_kr_ctx *c);
/* A new in-memory key, listed in c->keys (NULL when out of memory). */
hw_kr_key *hw_kr_key_new_inlock(hw_kr_ctx *c, EVP_PKEY *pk, bool session);
/* The key bytes of token key object key (a private key's PKCS#8 DER, a
 * secret key's value), read from its item now into secret memory; epoch:
 * the token epoch seen when the login was checked (a service replaced
 * since is CKR_DEVICE_REMOVED). */
CK_RV hw_kr_key_bytes(hw_kr_ctx *c, hw_obj *key, uint64_t epoch, hw_secret **out);

/* ---- keyring_secret.c: the secret-key hooks (backend.h) ------------------------- */
CK_RV hw_kr_generate_key(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			 void **bdata);
CK_RV hw_kr_import_key(void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);
/* The key of a private key object with a reference for the caller (and a
 * prepared context when one is idle), and the context given back. */
CK_RV hw_kr_private_key(hw_kr_ctx *c, hw_obj *key, EVP_PKEY **out, EVP_PKEY_CTX **pc);
void hw_kr_context_back(hw_kr_ctx *c, hw_obj *key, EVP_PKEY *pk, EVP_PKEY_CTX *pc);
/* ECDH from a private key, C_DigestKey and readable values (backend.h) */
CK_RV hw_kr_derive_key(void *ctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs, int64_t *oid,
		       void **bdata);
CK_RV hw_kr_digest_key(void *ctx, hw_obj *key, hw_digest *d);
CK_RV hw_kr_key_value(void *ctx, hw_obj *key, hw_secret **out);
CK_RV hw_kr_sk_begin(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
CK_RV hw_kr_wrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		     size_t *out_len);
CK_RV hw_kr_unwrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		       size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

/* ---- keyring_token.c ---------------------------------------------------------- */
/* Initialized = the PIN verifier item exists (cached; one search if not known). */
CK_RV hw_kr_token_state(hw_kr_ctx *c, bool *initialized);
CK_RV hw_kr_login(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV hw_kr_init_token(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len);

/* ---- keyring_item.c ----------------------------------------------------------- */
/* The secret: magic, CKA_UNIQUE_ID, serialized attributes, key bytes
 * (a private key's PKCS#8 DER, a secret key's value; none otherwise), in
 * secret memory. */
CK_RV hw_kr_pack(const hw_attrs *a, const hw_secret *der, hw_secret **out);
typedef struct hw_kr_parts {
	const unsigned char *uid, *attrs, *der;
	size_t uid_len, attrs_len, der_len;
} hw_kr_parts;
/* Split a secret (pointers into p); CKR_DEVICE_ERROR if it is not one of ours. */
CK_RV hw_kr_unpack(const void *p, size_t len, hw_kr_parts *out);
/* Add name=value (copied) to a; false when out of memory or full. */
bool hw_kr_attrs_add(hw_kr_attrs *a, const char *name, const char *value);
void hw_kr_attrs_clear(hw_kr_attrs *a);
/* The searchable attributes and the label shown by keyring managers. */
CK_RV hw_kr_attributes(const char *slot, const hw_attrs *a, hw_kr_attrs *out);
char *hw_kr_label(const char *slot, const hw_attrs *a);

/* Room for element n of a growing array (array: the address of its pointer). */
bool hw_kr_grow(void *array, size_t n, size_t *cap, size_t elem);
/* An object's item: a new one (*path NULL; set to the new item's path) or
 * the existing *path (its secret, then its searchable attributes); recorded
 * in the cache. der: a private key's PKCS#8, else NULL. */
CK_RV hw_kr_item_write(hw_kr_ctx *c, const hw_kr_link *l, const hw_attrs *a, const hw_secret *der, char **path,
			int64_t *oid);

/* Item cache (c->lock held). */
hw_kr_item *hw_kr_item_by_oid_inlock(hw_kr_ctx *c, int64_t oid);
/* Record what we just wrote; returns the object id for the item's uid. */
CK_RV hw_kr_item_put_inlock(hw_kr_ctx *c, const char *path, const hw_attrs *a, bool priv, int64_t *oid);
void hw_kr_item_drop_inlock(hw_kr_ctx *c, const char *path);
/* A signal: ItemCreated/ItemChanged/ItemDeleted for path. */
void hw_kr_item_event_inlock(hw_kr_ctx *c, const char *member, const char *path);
/* Forget every item's contents (after a reconnect). */
void hw_kr_items_stale_inlock(hw_kr_ctx *c);
void hw_kr_items_free(hw_kr_ctx *c);
/* load(): search, read what is new or changed, report every object. */
CK_RV hw_kr_items_load(hw_kr_ctx *c, hw_obj_sink sink, void *arg);

#endif
