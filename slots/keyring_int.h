/*
 * The keyring slot's units, shared between slots/keyring*.c:
 *
 *   keyring.c       the backend ops: token, login, objects, keys, signing
 *   keyring_bus.c   the Secret Service connection: private D-Bus connection,
 *                   a SecretService that never prompts, presence, signals,
 *                   errors
 *   keyring_call.c  every D-Bus call the slot makes
 *   keyring_item.c  items: the secret's format, the searchable attributes,
 *                   the item cache (item path <-> object id) and load()
 *   keyring_token.c the token and its PIN: initialization, login, verifier
 *
 * One ctx per slot; ctx->lock protects everything in it. D-Bus calls are
 * made without the lock through a hw_kr_link (references to the connection
 * taken under the lock), except the connect itself, so two threads never
 * connect twice.
 */
#ifndef HW_KEYRING_INT_H
#define HW_KEYRING_INT_H

/* the D-Bus-path API of libsecret (secret-paths.h) is marked unstable; it
 * has not changed since 0.7 and is the only way to search one collection
 * without creating a proxy per item */
#define SECRET_API_SUBJECT_TO_CHANGE 1

#include "slots/backend.h"
#include "common/secret.h"

#include <libsecret/secret.h>
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

#define HW_KR_SCHEMA "org.hwagg.Object"   /* xdg:schema of a token object's item */
#define HW_KR_SCHEMA_TOKEN "org.hwagg.Token" /* xdg:schema of the PIN verifier item */
#define HW_KR_FORMAT "1"                  /* hwagg-version of the items we write */
#define HW_KR_TIMEOUT_MS 5000             /* bound on every D-Bus call */
#define HW_KR_RETRY_S 2.0                 /* a failed connect is not retried sooner */
#define HW_KR_RESCAN_S 5.0                /* changed() searches again after this */

/* One hwagg item of the collection, as last read. */
typedef struct hw_kr_item {
	char *path;                   /* D-Bus object path */
	char *uid;                    /* CKA_UNIQUE_ID = hwagg-uid */
	int64_t oid;                  /* the engine's token object id */
	hw_attrs attrs;               /* the object's attributes (no key bytes) */
	bool priv;                    /* the secret holds a private key */
	bool stale;                   /* changed since read: read again */
	bool damaged;                 /* not a hwagg secret; skipped (logged once) */
	bool seen;                    /* in the current search */
} hw_kr_item;

/* A private key for the login session (cache_keys) or a session key. */
#define HW_KR_IDLE 4
typedef struct hw_kr_key {
	EVP_PKEY *pk;                 /* NULL once dropped at logout */
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
	GMainContext *events;         /* our signals are queued here, drained under lock */
	GDBusConnection *conn;
	SecretService *svc;
	char *coll_path;              /* the resolved collection */
	unsigned gen;                 /* bumped at every (re)connect */
	uint64_t epoch;               /* token_epoch: bumped when a connection is lost */
	unsigned epoch_gen;           /* the connection whose loss was counted */
	guint sub_owner, sub_items;
	gulong closed_id;
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

/* What a D-Bus call needs, referenced under the lock and used without it. */
typedef struct hw_kr_link {
	GDBusConnection *conn;
	SecretService *svc;
	char *coll;
	unsigned gen;
} hw_kr_link;

double hw_kr_now(void);

/* ---- keyring_bus.c: what keyring_call.c shares --------------------------------- */
/* A method call to the Secret Service (reply type may be NULL). */
GVariant *hw_kr_call(GDBusConnection *conn, const char *path, const char *iface, const char *method,
		     GVariant *args, const char *reply, GError **e);
bool hw_kr_get_locked(GDBusConnection *conn, const char *coll, bool *locked, GError **e);
/* Tell the service we will not show the prompt at prompt_path. */
void hw_kr_dismiss(GDBusConnection *conn, const char *name, const char *prompt_path);
bool hw_kr_remote_is(const GError *e, const char *name);
/* The item (or collection) does not exist (any more). */
bool hw_kr_error_no_object(const GError *e);

/* ---- keyring_bus.c and keyring_call.c -------------------------------------------- */
/* Token present now: drains events, connects when allowed (cheap otherwise). */
bool hw_kr_present(hw_kr_ctx *c);
/* References to a working connection, connecting if needed; otherwise
 * CKR_DEVICE_REMOVED with the reason logged. */
CK_RV hw_kr_link_get(hw_kr_ctx *c, hw_kr_link *l);
void hw_kr_link_put(hw_kr_link *l);
/* Turn a failed call into a CK_RV: logs it (what = the action), drops the
 * connection when the service is gone, frees e. IsLocked ->
 * CKR_USER_NOT_LOGGED_IN; gone -> CKR_DEVICE_REMOVED; the rest
 * CKR_DEVICE_ERROR. */
CK_RV hw_kr_fail(hw_kr_ctx *c, const hw_kr_link *l, GError *e, const char *what);
/* Dispatch queued signals (c->lock held). */
void hw_kr_drain_inlock(hw_kr_ctx *c);
void hw_kr_bus_close(hw_kr_ctx *c, bool forked);

CK_RV hw_kr_is_locked(hw_kr_ctx *c, const hw_kr_link *l, bool *locked);
/* Paths of this slot's items of a schema in the collection (a search,
 * never a listing). */
CK_RV hw_kr_search(hw_kr_ctx *c, const hw_kr_link *l, const char *schema, char ***paths);
/* path -> SecretValue for the unlocked ones among paths. */
CK_RV hw_kr_get_secrets(hw_kr_ctx *c, const hw_kr_link *l, const char *const *paths, GHashTable **out);
/* One item's secret; a locked collection -> CKR_USER_NOT_LOGGED_IN, an item
 * that no longer exists -> CKR_OBJECT_HANDLE_INVALID (logged by the caller). */
CK_RV hw_kr_get_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, SecretValue **out);
CK_RV hw_kr_create(hw_kr_ctx *c, const hw_kr_link *l, GHashTable *attributes, const char *label,
		   const hw_secret *secret, char **path);
CK_RV hw_kr_set_secret(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const hw_secret *secret);
CK_RV hw_kr_set_attributes(hw_kr_ctx *c, const hw_kr_link *l, const char *path,
			   GHashTable *attributes, const char *label);
/* Delete; an item already gone is not an error. */
CK_RV hw_kr_delete(hw_kr_ctx *c, const hw_kr_link *l, const char *path);
/* Unlock a locked collection with the password, or have the service check
 * it for an unlocked one (see keyring_call.c). CKR_PIN_INCORRECT when wrong. */
CK_RV hw_kr_password(hw_kr_ctx *c, const hw_kr_link *l, const CK_UTF8CHAR *pin, CK_ULONG len,
		     bool locked);

/* ---- keyring.c ------------------------------------------------------------------ */
/* End this process's login session: the user flag and cached keys go. */
void hw_kr_logout_inlock(hw_kr_ctx *c);

/* ---- keyring_token.c ---------------------------------------------------------- */
/* Initialized = the PIN verifier item exists (cached; one search if not known). */
CK_RV hw_kr_token_state(hw_kr_ctx *c, bool *initialized);
CK_RV hw_kr_login(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV hw_kr_init_token(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len);

/* ---- keyring_item.c ----------------------------------------------------------- */
/* The secret: magic, CKA_UNIQUE_ID, serialized attributes, PKCS#8 DER
 * (private keys only), in secret memory. */
CK_RV hw_kr_pack(const hw_attrs *a, const hw_secret *der, hw_secret **out);
typedef struct hw_kr_parts {
	const unsigned char *uid, *attrs, *der;
	size_t uid_len, attrs_len, der_len;
} hw_kr_parts;
/* Split a secret (pointers into p); CKR_DEVICE_ERROR if it is not one of ours. */
CK_RV hw_kr_unpack(const void *p, size_t len, hw_kr_parts *out);
/* The searchable attributes and the label shown by keyring managers. */
GHashTable *hw_kr_attributes(const char *slot, const hw_attrs *a);
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
