/*
 * Inside the soft slot: its context and per-key data, shared by soft.c
 * (tokens, PINs, key pairs) and soft_secret.c (secret keys).
 */
#ifndef HW_SOFT_INT_H
#define HW_SOFT_INT_H

#include "slots/backend.h"
#include "slots/stored.h"
#include "objects/pin.h"
#include "common/secret.h"

#include <openssl/evp.h>
#include <pthread.h>

typedef struct soft_ctx {
	const hw_slot_conf *conf;
	const char *dir;
	hw_pin_policy pol;
	pthread_mutex_t lock;         /* st, mk, lazy key loads */
	hw_stored st;                 /* the store and this slot's objects in it */
	hw_secret *mk;                /* master key while logged in */
	bool in;                      /* mk != NULL, readable without the lock */
} soft_ctx;

/* A key in use. A private key: the OpenSSL key and prepared signing
 * contexts, so repeated signatures skip the per-call setup; each thread
 * keeps its context in a place of its own (by a number it draws once), on
 * a cache line of its own: threads signing with one key write no shared
 * memory. A secret key: its value, in locked memory, and the same way a
 * ready cipher or MAC context per place (soft_secret.c). */
#define SOFT_PLACES 8
typedef struct soft_sk soft_sk;
typedef struct soft_key {
	EVP_PKEY *pk;
	hw_secret *value;
	struct {
		EVP_PKEY_CTX *pc;
		soft_sk *sk;
	} __attribute__((aligned(64))) place[SOFT_PLACES];
} soft_key;

soft_key *hw_soft_key_new(EVP_PKEY *pk);
/* The calling thread's place in a key (0 .. SOFT_PLACES - 1). */
unsigned hw_soft_place(void);
/* Free a secret-key operation's context (and with it OpenSSL's copy of the
 * key schedule, which OpenSSL clears). NULL: nothing. */
void hw_soft_sk_free(soft_sk *o);
/* The key's data, unsealed from the store on first use after login. */
CK_RV hw_soft_key_open(soft_ctx *c, hw_obj *key, soft_key **out);
CK_RV hw_soft_store_inlock(soft_ctx *c);
/* Insert n objects in one transaction; the last gets the sealed secret. */
CK_RV hw_soft_insert(soft_ctx *c, hw_attrs *const *attrs, const unsigned char *secret, size_t secret_len,
		     size_t n, int64_t *ids);
/* Seal key material under the master key, bound to the slot and the key's
 * CKA_UNIQUE_ID (CKR_USER_NOT_LOGGED_IN without a login). */
CK_RV hw_soft_seal_aad(const soft_ctx *c, const hw_attrs *key, char *aad, size_t len, size_t *out);
CK_RV hw_soft_seal(soft_ctx *c, const hw_attrs *key, const hw_secret *plain, unsigned char **sealed,
		   size_t *sealed_len);

/* A private key brought in (imported or unwrapped; attributes checked):
 * sealed like a generated one. Takes key. */
CK_RV hw_soft_keep_private(soft_ctx *c, bool token, hw_attrs *attrs, EVP_PKEY *key, int64_t *oid, void **bdata);

/* soft_secret.c: the secret-key hooks (backend.h) */
CK_RV hw_soft_generate_key(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			   void **bdata);
CK_RV hw_soft_import_key(void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);
CK_RV hw_soft_sk_begin(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
CK_RV hw_soft_sk_update(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			size_t *out_len);
CK_RV hw_soft_sk_final(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
		       const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
void hw_soft_sk_end(void *ctx, void *op);
CK_RV hw_soft_wrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		       size_t *out_len);
/* A new secret key's value (taken): completed, sealed when a token key,
 * kept as the object's data. */
CK_RV hw_soft_keep_secret(soft_ctx *c, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid, void **bdata);
/* A copy of a secret key's value (NULL: the object holds none), for the
 * wrap functions of slots/secret_key.h. */
CK_RV hw_soft_value_of(void *ctx, hw_obj *o, hw_secret **v);
/* soft_wrap.c: the wrap hooks, RSA-OAEP and PKCS#8 added to AES key wrap */
CK_RV hw_soft_wrap(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
		   size_t *out_len);
CK_RV hw_soft_unwrap(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		     size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);
CK_RV hw_soft_derive_key(void *ctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs,
			 int64_t *oid, void **bdata);
CK_RV hw_soft_digest_key(void *ctx, hw_obj *key, hw_digest *d);
CK_RV hw_soft_key_value(void *ctx, hw_obj *key, hw_secret **out);
CK_RV hw_soft_unwrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

#endif
