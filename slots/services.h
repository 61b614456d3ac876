/*
 * The engine services a backend module may use, and its entry point.
 *
 * A backend whose libraries are heavy (libsecret or D-Bus, tss2, libcurl)
 * is built as a module of its own and loaded on the first use of a slot of
 * its type (slots/loader.c). It does not link the engine: the engine hands
 * it this table, and slots/shim.c, compiled into the module, turns every
 * service back into the function of the same name, so that a backend's
 * sources are the same whether it is built in or a module. The list below
 * is the whole of what backend modules may call; a module is linked with
 * --no-undefined, so a call to anything else fails the build.
 */
#ifndef HW_SERVICES_H
#define HW_SERVICES_H

#include "slots/backend.h"
#include "objects/pin.h"
#include "slots/stored.h"
#include "mechanisms/encode.h"
#include "mechanisms/cipher.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/deadline.h"
#include "module/audit.h"
#include <stdarg.h>
#include <string.h>

/* R(ret, name, params, args): a service with a result; V(name, params, args):
 * one without. */
#define HW_SERVICES(R, V) \
	V(hw_attrs_init, (hw_attrs *a), (a)) \
	V(hw_attrs_clear, (hw_attrs *a), (a)) \
	R(CK_RV, hw_attrs_copy, (hw_attrs *dst, const hw_attrs *src), (dst, src)) \
	R(CK_RV, hw_attrs_set, (hw_attrs *a, CK_ATTRIBUTE_TYPE t, const void *v, CK_ULONG l), (a, t, v, l)) \
	R(CK_RV, hw_attrs_set_bool, (hw_attrs *a, CK_ATTRIBUTE_TYPE t, bool v), (a, t, v)) \
	R(CK_RV, hw_attrs_set_ulong, (hw_attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG v), (a, t, v)) \
	R(CK_RV, hw_attrs_set_str, (hw_attrs *a, CK_ATTRIBUTE_TYPE t, const char *s), (a, t, s)) \
	V(hw_attrs_remove, (hw_attrs *a, CK_ATTRIBUTE_TYPE t), (a, t)) \
	R(const CK_ATTRIBUTE *, hw_attrs_get, (const hw_attrs *a, CK_ATTRIBUTE_TYPE t), (a, t)) \
	R(bool, hw_attrs_get_bool, (const hw_attrs *a, CK_ATTRIBUTE_TYPE t, bool d), (a, t, d)) \
	R(CK_ULONG, hw_attrs_get_ulong, (const hw_attrs *a, CK_ATTRIBUTE_TYPE t, CK_ULONG d), (a, t, d)) \
	R(CK_RV, hw_attrs_serialize, (const hw_attrs *a, unsigned char **out, size_t *len), (a, out, len)) \
	R(CK_RV, hw_attrs_deserialize, (const void *in, size_t len, hw_attrs *a), (in, len, a)) \
	R(const char *, hw_conf_str, (const hw_slot_conf *s, const char *k, const char *d), (s, k, d)) \
	R(int64_t, hw_conf_int, (const hw_slot_conf *s, const char *k, int64_t d), (s, k, d)) \
	R(bool, hw_conf_bool, (const hw_slot_conf *s, const char *k, bool d), (s, k, d)) \
	V(hw_crypto_secure_heap, (void), ()) \
	R(OSSL_LIB_CTX *, hw_crypto_ctx, (void), ()) \
	R(CK_RV, hw_crypto_error, (const char *what, CK_RV rv), (what, rv)) \
	R(CK_RV, hw_digest_once, (CK_MECHANISM_TYPE h, const void *d, size_t l, unsigned char *o, \
				  size_t *ol), (h, d, l, o, ol)) \
	R(CK_RV, hw_random, (void *out, size_t len), (out, len)) \
	R(CK_RV, hw_key_generate, (const hw_keygen *g, EVP_PKEY **out), (g, out)) \
	R(CK_RV, hw_key_from_der, (const void *der, size_t len, EVP_PKEY **out), (der, len, out)) \
	R(CK_RV, hw_key_to_der, (EVP_PKEY *k, hw_secret **der), (k, der)) \
	R(CK_RV, hw_key_from_spki, (const void *der, size_t len, EVP_PKEY **out), (der, len, out)) \
	R(CK_RV, hw_key_public_attrs, (EVP_PKEY *k, hw_attr_sink s, void *arg), (k, s, arg)) \
	R(CK_RV, hw_pkey_sign, (EVP_PKEY *k, const hw_sign_req *r, unsigned char *o, size_t *ol), \
	  (k, r, o, ol)) \
	R(CK_RV, hw_pkey_sign_keep, (EVP_PKEY *k, const hw_sign_req *r, EVP_PKEY_CTX **keep, \
				     unsigned char *o, size_t *ol), (k, r, keep, o, ol)) \
	R(CK_RV, hw_pkey_decrypt, (EVP_PKEY *k, const hw_crypt_req *r, unsigned char *o, size_t *ol), \
	  (k, r, o, ol)) \
	R(CK_RV, hw_pin_wrap, (const hw_secret *mk, const CK_UTF8CHAR *pin, size_t pl, unsigned char *o, \
			       size_t *ol), (mk, pin, pl, o, ol)) \
	R(CK_RV, hw_pin_unwrap, (const unsigned char *w, size_t wl, const CK_UTF8CHAR *pin, size_t pl, \
				 hw_secret **mk), (w, wl, pin, pl, mk)) \
	R(hw_secret *, hw_secret_new, (size_t len), (len)) \
	R(hw_secret *, hw_secret_dup, (const void *d, size_t len), (d, len)) \
	V(hw_secret_free, (hw_secret *s), (s)) \
	V(hw_wipe, (void *p, size_t n), (p, n)) \
	R(const char *, hw_rv_name, (CK_RV rv), (rv)) \
	R(CK_RV, hw_keypair_complete, (hw_attrs *pub, hw_attrs *priv), (pub, priv)) \
	R(CK_RV, hw_vendor_attrs, (hw_attrs *a, const char *b, hw_security s, CK_ULONG v, const char *u), \
	  (a, b, s, v, u)) \
	R(const char *, hw_security_name, (hw_security s), (s)) \
	R(hw_snap *, hw_obj_snap, (hw_obj *o), (o)) \
	R(const hw_attrs *, hw_snap_attrs, (const hw_snap *s), (s)) \
	V(hw_snap_put, (hw_snap *s), (s)) \
	R(int, hw_deadline_left_ms, (int dflt), (dflt)) \
	R(const hw_curve *, hw_curve_by_name, (const char *n), (n)) \
	R(size_t, hw_hash_len, (CK_MECHANISM_TYPE h), (h)) \
	R(CK_RV, hw_key_from_public, (CK_KEY_TYPE t, const void *a, size_t al, const void *b, size_t bl, \
				      EVP_PKEY **out), (t, a, al, b, bl, out)) \
	R(CK_RV, hw_ecdsa_der_to_rs, (const void *der, size_t dl, size_t nlen, unsigned char *out), \
	  (der, dl, nlen, out)) \
	R(CK_MECHANISM_TYPE, hw_hash_from_mgf, (CK_RSA_PKCS_MGF_TYPE mgf), (mgf)) \
	R(CK_RV, hw_digestinfo_decode, (const void *in, size_t len, CK_MECHANISM_TYPE *h, \
					const unsigned char **d, size_t *dl), (in, len, h, d, dl)) \
	R(CK_RV, hw_stored_open, (hw_stored *d, bool create, bool *none), (d, create, none)) \
	V(hw_stored_close, (hw_stored *d, bool forked), (d, forked)) \
	R(bool, hw_stored_changed, (hw_stored *d), (d)) \
	R(CK_RV, hw_stored_load, (hw_stored *d, hw_obj_sink sink, void *arg), (d, sink, arg)) \
	R(CK_RV, hw_stored_insert, (hw_stored *d, hw_attrs *const *a, size_t n, const unsigned char *sec, \
				    size_t sl, int64_t *ids), (d, a, n, sec, sl, ids)) \
	R(CK_RV, hw_stored_update, (hw_stored *d, int64_t oid, const hw_attrs *a), (d, oid, a)) \
	R(CK_RV, hw_stored_delete, (hw_stored *d, int64_t oid), (d, oid)) \
	R(CK_RV, hw_store_token_get, (hw_store *s, const char *sl, hw_token_rec *r), (s, sl, r)) \
	R(CK_RV, hw_store_token_reset, (hw_store *s, const char *sl, const hw_token_rec *r), (s, sl, r)) \
	R(CK_RV, hw_store_token_set_wrap, (hw_store *s, const char *sl, bool so, const unsigned char *w, \
					   size_t l), (s, sl, so, w, l)) \
	R(CK_RV, hw_store_obj_get, (hw_store *s, const char *sl, int64_t id, \
				    CK_RV (*fn)(void *, const hw_store_obj *), void *arg), (s, sl, id, fn, arg)) \
	V(hw_audit_note, (const char *slot, const char *what, const char *detail, CK_RV rv), \
	  (slot, what, detail, rv)) \
	R(CK_RV, hw_sk_new, (const CK_MECHANISM *m, CK_FLAGS k, const unsigned char *key, size_t kl, hw_sk **out), \
	  (m, k, key, kl, out)) \
	R(CK_RV, hw_sk_update, (hw_sk *c, const unsigned char *in, size_t l, unsigned char *o, size_t *ol), \
	  (c, in, l, o, ol)) \
	R(CK_RV, hw_sk_final, (hw_sk *c, const unsigned char *sig, size_t sl, unsigned char *o, size_t *ol), \
	  (c, sig, sl, o, ol)) \
	V(hw_sk_free, (hw_sk *c), (c))

#define HW_SERVICE_R(ret, name, params, args) ret (*name) params;
#define HW_SERVICE_V(name, params, args) void (*name) params;

/* Bump when the table changes; a module built for another ABI is refused. */
#define HW_BACKEND_ABI 8   /* 6: secret-key hooks and import_key; 7: rotate_key; 8: hw_sk_* */

typedef struct hw_services {
	unsigned abi;                 /* HW_BACKEND_ABI */
	size_t size;                  /* sizeof(hw_services) */
	int *log_threshold;           /* the engine's current log level */
	void (*log_vmsg)(hw_log_level level, const char *fmt, va_list ap);
	HW_SERVICES(HW_SERVICE_R, HW_SERVICE_V)
} hw_services;

/* The one symbol a backend module exports: give the ops of backend type
 * (NULL when the module has no such backend) for this engine. */
#define HW_BACKEND_ENTRY "hwagg_backend"
typedef const hw_backend_ops *(*hw_backend_entry_fn)(const hw_services *svc, const char *type);

/* The engine's table (slots/loader.c). */
extern const hw_services hw_engine_services;

#endif
