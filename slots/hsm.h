/*
 * The hsm slot: pass-through to a token of another PKCS#11 module.
 * hsm_bind.c keeps the binding to the lower token (finding it, following
 * it, its mechanisms), hsm.c its sessions, PINs and crypto, hsm_objects.c
 * its objects, hsm_lower.c the loaded modules.
 *
 * Binding: the lower module is loaded on first use (nothing blocks at
 * C_Initialize) and the token found by label (config "token") or, without
 * one, the first initialized token. A control session stays open while
 * bound: login state is per application on the lower token, and this
 * session keeps it (and the slot's session keys) alive. Signatures and
 * decryptions use a small pool of further lower sessions, so that threads
 * signing on one slot do not wait for each other.
 *
 * A lower call that says the token went away (CKR_DEVICE_REMOVED and
 * friends) unbinds the slot: its lower sessions are abandoned, the epoch
 * advances (the engine then closes the slot's sessions), and the slot shows
 * no token until the next successful binding.
 *
 * Locks, in this order: ctl_lock (use of the control session), lock (the
 * binding state), then the lower module's call lock when it is serialized.
 */
#ifndef HW_HSM_H
#define HW_HSM_H

#include "slots/backend.h"
#include "slots/hsm_lower.h"
#include <pthread.h>

#define HSM_NMECHS 28        /* base mechanisms hwagg asks the lower token about */
#define HSM_POOL 16          /* idle lower sessions kept per slot */
#define HSM_TRIES 5          /* reads of a token that looks half-written */

typedef struct hsm_ctx {
	const hw_slot_conf *conf;
	const char *module;          /* config "module" */
	const char *label;           /* config "token", NULL: first initialized token */
	hw_security sec;             /* config "security" */

	pthread_mutex_t ctl_lock;
	pthread_mutex_t lock;
	hsm_lower *lower;            /* NULL until loaded */
	double next_try;             /* monotonic seconds: no load or bind attempt before */
	char why[256];               /* reason last logged for an absent token */
	bool bound;
	bool bound_once;             /* a binding succeeded since the module was loaded */
	uint64_t epoch;              /* advances when a binding is lost */
	CK_SLOT_ID slot;             /* lower slot */
	CK_TOKEN_INFO ti;            /* lower token at binding (label, serial) */
	CK_SESSION_HANDLE ctl;       /* control session */
	unsigned mechs;              /* bit b: the token offers hsm_bind.c's bases[b] (atomic) */
	CK_MECHANISM_INFO mech_info[HSM_NMECHS];
	CK_SESSION_HANDLE idle[HSM_POOL];
	size_t nidle;
	unsigned busy;               /* calls into the module outside ctl_lock now */
	char uri[512];               /* CKA_HWAGG_PROVIDER_URI of this token */
	char *versions;              /* the key versions' file (hsm_version.h) */

	CK_OBJECT_HANDLE *seen;      /* lower handles of the last load (ctl_lock) */
	size_t nseen;
	uint64_t seen_epoch;         /* binding they are from */
	bool seen_all;               /* and every one of them could be read */
} hsm_ctx;

/* Per-object backend data: the lower handle and the binding it is from. */
typedef struct hsm_key {
	CK_OBJECT_HANDLE h;
	uint64_t epoch;
	bool session_obj;            /* a lower session object, destroyed with ours */
} hsm_key;

/* One use of the lower token: which module, function list and session. */
typedef struct hsm_call {
	hsm_lower *m;
	CK_FUNCTION_LIST *f;
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	uint64_t epoch;
} hsm_call;

/* Call a lower function, serialized when the module needs it. */
#define HSM_CALL(k, fn, ...) hsm_done((k)->m, (hsm_enter((k)->m), (k)->f->fn(__VA_ARGS__)))

/* ---- hsm_bind.c: the binding to the lower token ---- */
/* k for the current binding with session s (lock held). */
void hsm_call_inlock(hsm_ctx *c, hsm_call *k, CK_SESSION_HANDLE s);
/* A lower session, R/W where the token allows. */
CK_RV hsm_open_session(hsm_call *k, CK_SLOT_ID slot, CK_SESSION_HANDLE *s);
/* An answer SoftHSM2 gives while another process rewrites its token file
 * (ti NULL: an rv alone); worth asking again after hsm_backoff(try). */
bool hsm_half_written(CK_RV rv, const CK_TOKEN_INFO *ti);
void hsm_backoff(int t);
/* Restart the lower module for a binding nothing uses yet (ctl_lock held);
 * true when k holds the new binding. */
bool hsm_restart_unused(hsm_ctx *c, hsm_call *k);
CK_RV hsm_token_info(void *ctx, CK_TOKEN_INFO *info);
bool hsm_has_mechanism(void *ctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);
CK_RV hsm_init_token(void *ctx, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label32);
CK_RV hsm_health(void *ctx, char *msg, size_t msg_len);

/* ---- hsm.c: sessions, PINs, crypto ---- */
/* The control session of the current binding, with ctl_lock held until
 * hsm_ctl_end. Never binds: without a binding, CKR_DEVICE_REMOVED (a
 * caller's session outlived its token). */
CK_RV hsm_ctl_begin(hsm_ctx *c, hsm_call *k);
void hsm_ctl_end(hsm_ctx *c, hsm_call *k);
/* rv came back from fn: if it says the token is gone, unbind. Returns rv. */
CK_RV hsm_seen(hsm_ctx *c, const hsm_call *k, CK_RV rv, const char *fn);
/* The lower handle of one of our objects, for the binding of k;
 * CKR_KEY_HANDLE_INVALID when it is from an older binding. */
CK_RV hsm_key_handle(const hw_obj *o, const hsm_call *k, CK_OBJECT_HANDLE *h);
/* The vendor attributes every object of the slot carries (where it lives:
 * backend, security level, provider URI with the module path); ctl_lock held. */
CK_RV hsm_tag(hsm_ctx *c, hw_attrs *a);

/* hsm_objects.c: the object hooks */
bool hsm_changed(void *ctx);
CK_RV hsm_load(void *ctx, hw_obj_sink sink, void *arg);
CK_RV hsm_create(void *ctx, hw_attrs *attrs, int64_t *oid);
CK_RV hsm_update(void *ctx, int64_t oid, const hw_attrs *attrs);
CK_RV hsm_destroy(void *ctx, int64_t oid, void *bdata);
void hsm_free_bdata(void *ctx, void *bdata);
CK_RV hsm_generate(void *ctx, CK_KEY_TYPE type, const hw_keygen *g, bool token,
		   hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid, void **bdata);
CK_RV hsm_generate_key(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs,
			int64_t *oid, void **bdata);
/* C_CreateObject of a secret key: the template, value included, to the
 * lower token (backend.h import_key). */
CK_RV hsm_import(void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);
CK_RV hsm_wrap(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key,
	       unsigned char *out, size_t *out_len);
CK_RV hsm_derive(void *ctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs, int64_t *oid,
		 void **bdata);
CK_RV hsm_unwrap(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

#endif
