/*
 * One const ops struct per backend. A NULL hook means "this backend cannot";
 * the engine turns it into the right CK_RV (CKR_FUNCTION_NOT_SUPPORTED for a
 * function, CKR_MECHANISM_INVALID for a mechanism). slots/registry.c is the
 * only place that names every backend.
 *
 * Threading: the engine holds none of the locks that key operations, object
 * lookups or slot and token queries take while it calls a hook that may do
 * I/O. It serializes, per slot, the hooks that change login or token state
 * and the object listing (login, logout, init_token, init_pin, set_pin,
 * changed, load, update) so that a backend sees them one at a time; every
 * other hook may run on several threads at once and the backend protects
 * its own context. Token objects are cached by the engine as immutable
 * attribute snapshots (hw_obj); a backend reports its objects through
 * load() and keeps whatever it needs per key in hw_obj.bdata.
 *
 * Deadlines: every PKCS#11 call that reaches a slot starts a deadline of the
 * slot's timeout_ms; a hook that can block bounds its waits with
 * hw_deadline_left_ms() (common/deadline.h).
 */
#ifndef HW_BACKEND_H
#define HW_BACKEND_H

#include "common/ck.h"
#include "module/conf.h"
#include "objects/attrs.h"
#include "common/deadline.h"
#include "mechanisms/crypto.h"

typedef struct hw_obj hw_obj;
typedef struct hw_snap hw_snap;  /* an immutable, reference-counted attribute set */
struct hw_obj {
	CK_OBJECT_HANDLE handle;      /* ours, never reused */
	size_t slot;                  /* index of the owning slot */
	int64_t oid;                  /* backend id of a token object; 0 for session objects */
	CK_SESSION_HANDLE owner;      /* creating session of a session object; 0 for token */
	void *bdata;                  /* backend per-object data (cached key, remote id);
	                               * the backend guards it (its lock, or atomics) */
	/* ---- engine-private: backends read attributes through hw_obj_snap() ---- */
	hw_snap *snap;                /* current attributes; replaced, never changed */
	bool priv;                    /* CKA_PRIVATE of snap, for lock-free visibility */
	uint64_t born;                /* slot generation when it entered the cache */
	int refs;
	bool dead;                    /* destroyed; freed when the last ref goes */
};

/* The object's attributes as they are now, as a snapshot that stays valid
 * (and unchanged) until hw_snap_put, whatever reloads or updates happen
 * meanwhile. Safe without any engine lock. */
hw_snap *hw_obj_snap(hw_obj *o);
const hw_attrs *hw_snap_attrs(const hw_snap *s);
void hw_snap_put(hw_snap *s);

/* Where a backend's keys live, for CKA_HWAGG_SECURITY_LEVEL. */
typedef enum { HW_SEC_SOFTWARE = 0, HW_SEC_HARDWARE, HW_SEC_EXTERNAL } hw_security;
const char *hw_security_name(hw_security s);

/* Login state the engine passes to hooks. */
typedef enum { HW_AUTH_PUBLIC = 0, HW_AUTH_USER, HW_AUTH_SO } hw_auth;

/* Sink for load(): hand over one token object (the engine takes attrs). */
typedef CK_RV (*hw_obj_sink)(void *arg, int64_t oid, hw_attrs *attrs, void *bdata);

typedef struct hw_backend_ops {
	const char *type;             /* config "type" */
	size_t ctx_size;              /* bytes of zeroed context the engine allocates */

	/* Parse the slot config into ctx. No I/O, no blocking (design: nothing
	 * blocks at load). Bad values -> CKR_ARGUMENTS_BAD with *err filled. */
	CK_RV (*open)(void *ctx, const hw_slot_conf *conf, const hw_config *all,
		      char *err, size_t err_len);
	/* Release everything. forked: we are a child; abandon inherited
	 * connections without closing, logging out or flushing them. */
	void (*close)(void *ctx, bool forked);

	/* Fill the backend part of CK_TOKEN_INFO (flags, model, serial, PIN
	 * lengths); CKR_TOKEN_NOT_PRESENT when the backend is down. */
	CK_RV (*token_info)(void *ctx, CK_TOKEN_INFO *info);
	/* Base mechanisms it performs (CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS,
	 * CKM_EDDSA, CKM_RSA_PKCS_OAEP, key-pair generation ...); the engine
	 * derives the hash-then-sign mechanisms from these. */
	bool (*has_mechanism)(void *ctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);

	/* PINs. login returns CKR_OK or a PIN error; logout drops secrets. */
	CK_RV (*login)(void *ctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len);
	void (*logout)(void *ctx);
	CK_RV (*init_token)(void *ctx, const CK_UTF8CHAR *so_pin, CK_ULONG len, const CK_UTF8CHAR *label32);
	CK_RV (*init_pin)(void *ctx, const CK_UTF8CHAR *pin, CK_ULONG len);
	CK_RV (*set_pin)(void *ctx, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

	/* Token objects. changed() says whether load() must run again (another
	 * process wrote); the engine asks it at most every refresh_s seconds.
	 * load() reports every object; it runs with no engine lock held and
	 * the engine merges the result (handles of unchanged objects stay). */
	bool (*changed)(void *ctx);
	CK_RV (*load)(void *ctx, hw_obj_sink sink, void *arg);
	CK_RV (*create)(void *ctx, hw_attrs *attrs, int64_t *oid);   /* may add vendor attributes */
	CK_RV (*update)(void *ctx, int64_t oid, const hw_attrs *attrs);
	CK_RV (*destroy)(void *ctx, int64_t oid, void *bdata);
	void (*free_bdata)(void *ctx, void *bdata);

	/* Key pair generation. pub/priv hold the validated templates plus the
	 * engine's defaults; the backend adds the key's public values and its
	 * vendor attributes to both, calls hw_keypair_complete(), and, when
	 * token is true, persists both in one step. On success the oids (0 for session keys) and
	 * *priv_bdata are set. */
	CK_RV (*generate_key_pair)(void *ctx, CK_KEY_TYPE type, const hw_keygen *g, bool token,
				   hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid,
				   void **priv_bdata);

	/* Base operations on a private key (engine holds a ref on key). */
	CK_RV (*sign)(void *ctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
	CK_RV (*decrypt)(void *ctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len);

	/* One-line health for `hwagg status`; CKR_OK when usable. */
	CK_RV (*health)(void *ctx, char *msg, size_t msg_len);

	/* Where this slot's keys live (per key: CKA_HWAGG_SECURITY_LEVEL). NULL:
	 * software. Read by `hwagg status` and the policy slot. */
	hw_security (*security)(void *ctx);
	/* Defaults of the slot's "refresh_s" and "timeout_ms" (0: the engine's:
	 * refresh 0 = ask changed() on every listing, timeout 30000 ms). A remote
	 * backend declares a longer refresh so that a listing is not repeated
	 * on every C_FindObjectsInit. */
	unsigned default_refresh_s;
	unsigned default_timeout_ms;

	/* ---- optional hooks; NULL keeps the engine's default ---------------- */
	/* A number that changes whenever the backend's token went away (device
	 * removed, lower module failed). The engine then treats the token as
	 * removed (UG "Session events"): sessions opened under an older epoch
	 * are closed (calls on them return CKR_SESSION_HANDLE_INVALID), the
	 * login state returns to public and the object cache is dropped. Must
	 * be cheap: it is read on every call that takes a session. NULL: the
	 * token never goes away under an open session. */
	uint64_t (*token_epoch)(void *ctx);
	/* C_GenerateRandom from the token. NULL: software (OpenSSL). */
	CK_RV (*generate_random)(void *ctx, unsigned char *out, size_t len);
	/* Begin the backend's part of a private-key operation at C_SignInit or
	 * C_DecryptInit (kind CKF_SIGN or CKF_DECRYPT), so that the token
	 * checks key, mechanism and parameters then and its answer comes back
	 * from the *Init call. base is what the backend will perform (the
	 * engine's hash-then-sign happens around it). *op reaches sign/decrypt
	 * as req->bop and is released by op_end when the operation is over,
	 * whether or not sign/decrypt ran. NULL: nothing is begun. */
	CK_RV (*op_begin)(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *base, void **op);
	void (*op_end)(void *ctx, void *op);
	/* The backend starts threads of its own (a D-Bus worker, ...); the
	 * engine logs it when the application passes
	 * CKF_LIBRARY_CANT_CREATE_OS_THREADS (see global.c for why it does
	 * not refuse). */
	bool starts_threads;

	/* ---- secret keys and key wrapping (optional; NULL: the engine answers
	 * CKR_FUNCTION_NOT_SUPPORTED) --------------------------------------- */
	/* C_GenerateKey with mech (validated against the mechanism table).
	 * attrs holds the validated template plus the engine's defaults; the
	 * backend adds what its token reports and its vendor attributes and,
	 * when token is true, persists the key. On success *oid (0 for a
	 * session key) and *bdata are set. */
	CK_RV (*generate_key)(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs,
			      int64_t *oid, void **bdata);
	/* C_WrapKey (engine holds refs on both keys). out NULL: *out_len gets
	 * a sufficient length; too small: CKR_BUFFER_TOO_SMALL with *out_len
	 * the length needed; else *out_len the exact length (B 5.2). The
	 * checks of CKA_WRAP, CKA_EXTRACTABLE and key types are the token's. */
	CK_RV (*wrap_key)(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key,
			  unsigned char *out, size_t *out_len);
	/* C_UnwrapKey: attrs, token, *oid and *bdata as for generate_key. */
	CK_RV (*unwrap_key)(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping,
			    const unsigned char *wrapped, size_t len, bool token, hw_attrs *attrs,
			    int64_t *oid, void **bdata);

	/* Secret-key operations (AES ciphers, HMAC: mechanisms/cipher.h), a
	 * stream begun at the *Init call (kind CKF_ENCRYPT, CKF_DECRYPT,
	 * CKF_SIGN or CKF_VERIFY; mech validated by the engine, which has
	 * checked the key's class, type, size and usage attributes; the
	 * backend copies what it keeps of the parameter). sk_update feeds a
	 * part: a cipher writes at most *out_len bytes to out (the engine
	 * sized it by hw_sk_room) and sets *out_len; a MAC gets out and
	 * out_len NULL. sk_final ends the stream: single is true when no part
	 * was fed (the whole input is in, so a token can do it in one call);
	 * otherwise in is the last part (maybe empty). A cipher writes the
	 * rest (and a GCM tag) to out; a MAC signs into out or, to verify,
	 * compares sig. sk_end releases the stream, finished or not. NULL: the
	 * slot offers no secret-key mechanism. */
	CK_RV (*sk_begin)(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
	CK_RV (*sk_update)(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			   size_t *out_len);
	CK_RV (*sk_final)(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
			  const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
	void (*sk_end)(void *ctx, void *op);
	/* C_CreateObject of a secret key (import): attrs holds the checked
	 * template with CKA_VALUE, which the backend takes out and keeps as
	 * it keeps generated keys; as for generate_key otherwise. NULL: the
	 * slot does not import secret keys. */
	CK_RV (*import_key)(void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

	/* ---- key rotation (optional; NULL: `hwagg rotate` makes a new key
	 * pair with the engine's C_GenerateKeyPair) ------------------------- */
	/* A new version of the private key key (engine holds a ref) on the
	 * service's own versioning; next is the CKA_HWAGG_KEY_VERSION it
	 * will have (the old one's + 1). pub/priv hold the engine's common
	 * attributes; the backend fills them as generate_key_pair does (a
	 * CKA_ID of the new version's own, so that the old public key stays
	 * findable apart) and sets the oids and *priv_bdata.
	 * CKR_FUNCTION_NOT_SUPPORTED: this key has no versions here. */
	CK_RV (*rotate_key)(void *ctx, hw_obj *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
			    int64_t *priv_oid, void **priv_bdata);

	/* ---- key derivation, digesting and reading (optional) -------------- */
	/* C_DeriveKey with mech (validated against the mechanism table) from
	 * the private key base (engine holds a ref; the engine checked its
	 * class, type and CKA_DERIVE). attrs holds the checked template with
	 * CKA_KEY_TYPE and, when the template gave one, CKA_VALUE_LEN (else
	 * the backend sets it); token, *oid and *bdata as for generate_key.
	 * NULL: CKR_FUNCTION_NOT_SUPPORTED. */
	CK_RV (*derive_key)(void *ctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs,
			    int64_t *oid, void **bdata);
	/* C_DigestKey: feed the secret key's value into d. NULL: no key of
	 * the slot can be digested (CKR_KEY_INDIGESTIBLE). */
	CK_RV (*digest_key)(void *ctx, hw_obj *key, hw_digest *d);
	/* The value of a secret key that is neither sensitive nor
	 * unextractable (the engine checked), for C_GetAttributeValue (B 4.10:
	 * readable then); *out in locked memory, freed by the engine. NULL:
	 * such values stay unreadable (CKR_ATTRIBUTE_SENSITIVE). */
	CK_RV (*key_value)(void *ctx, hw_obj *key, hw_secret **out);
	/* import_key also takes private keys (class CKO_PRIVATE_KEY, the
	 * parts the engine checked in attrs, which the backend removes); else
	 * only secret keys reach it and a private key's import is refused. */
	bool imports_private;
} hw_backend_ops;

/* The registry: every backend type hwagg knows. A backend is built in (ops
 * set), a module file loaded on first use (module set), or left out of this
 * build (both NULL: the config can say "not built" rather than "unknown"). */
typedef struct hw_backend_entry {
	const char *type;
	const hw_backend_ops *ops;      /* built in */
	const char *module;             /* backend module file name, without ".so" */
	const hw_conf_key *conf_keys;   /* allowed keys besides the engine's, NULL-terminated */
	const char *configure_switch;   /* "--with-tpm" */
	bool lists_private;             /* lists private objects without a login (a count of
	                                 * them is true before one) */
} hw_backend_entry;

const hw_backend_entry *hw_backend_table(size_t *count);
/* In this build (built in or as a module). */
bool hw_backend_available(const hw_backend_entry *e);
/* The ops of a backend: built in, or from its module, loaded now if it was
 * not yet (once per process; never unloaded). NULL with a reason in err
 * when the module file is missing or broken. */
const hw_backend_ops *hw_backend_ops_get(const hw_backend_entry *e, char *err, size_t err_len);
void hw_backend_loader_atfork_child(void);
/* For backends, after adding public values to a new key pair: fills the
 * attributes derived from them (CKA_ID from the public key when the
 * application gave none, CKA_UNIQUE_ID). */
CK_RV hw_keypair_complete(hw_attrs *pub, hw_attrs *priv);
/* Add hwagg's vendor attributes: backend type, security level, version. */
CK_RV hw_vendor_attrs(hw_attrs *a, const char *backend, hw_security sec, CK_ULONG version,
		      const char *uri);
const hw_backend_entry *hw_backend_find(const char *type);

#endif
