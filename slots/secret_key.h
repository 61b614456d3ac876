/*
 * Secret keys held in software by a backend (soft, keyring): what does not
 * depend on where the value is kept. The backend keeps the value (sealed
 * in its store, in a Secret Service item) and hands it over on request;
 * this unit makes new values, completes their attributes and runs the
 * AES key wrap (RFC 3394 / 5649) with its checks, so that every such slot
 * refuses the same wraps with the same CK_RV.
 *
 * Compiled into the engine and into each backend module whose backend
 * uses it (it calls only slots/services.h services).
 */
#ifndef HW_SECRET_KEY_H
#define HW_SECRET_KEY_H

#include "slots/backend.h"
#include "common/secret.h"
#include "mechanisms/cipher.h"

/* A key's value for a wrap or an unwrap: a copy in secret memory the
 * caller frees (*value NULL: the object holds no secret value). */
typedef CK_RV (*hw_skey_value_fn)(void *ctx, hw_obj *key, hw_secret **value);

/* What the backend does with a new key's value (taken, in secret memory;
 * attrs already hold CKA_CHECK_VALUE): add its vendor attributes, store a
 * token key, keep what it keeps in memory; *oid and *bdata as for the
 * generate_key hook. */
typedef CK_RV (*hw_skey_keep_fn)(void *ctx, bool token, hw_attrs *attrs, hw_secret *value, int64_t *oid,
				 void **bdata);

/* The generate_key hook: a fresh value of CKA_VALUE_LEN bytes from the OS
 * random generator (AES: 16, 24 or 32), handed to keep. */
CK_RV hw_skey_generate(hw_skey_keep_fn keep, void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs,
		       int64_t *oid, void **bdata);
/* The import_key hook: CKA_VALUE taken out of attrs, handed to keep. */
CK_RV hw_skey_import(hw_skey_keep_fn keep, void *ctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

/* The secret-key operation hooks (backend.h) over mechanisms/cipher.h's
 * software stream (op is an hw_sk). */
CK_RV hw_skey_sk_update(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			size_t *out_len);
CK_RV hw_skey_sk_final(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
		       const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
void hw_skey_sk_end(void *ctx, void *op);

/* C_WrapKey of a secret key with an AES key (CKM_AES_KEY_WRAP[_PAD], the
 * default IV only); slot names the slot in the log. */
CK_RV hw_skey_wrap(const char *slot, hw_skey_value_fn value, void *ctx, const CK_MECHANISM *mech,
		   hw_obj *wrapping, hw_obj *key, unsigned char *out, size_t *out_len);
/* C_UnwrapKey to a secret key: the value checked against the template's
 * key type and CKA_VALUE_LEN, which it sets, and handed to keep. */
CK_RV hw_skey_unwrap(const char *slot, hw_skey_value_fn value, hw_skey_keep_fn keep, void *ctx,
		     const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped, size_t len,
		     bool token, hw_attrs *attrs, int64_t *oid, void **bdata);

/* CKA_CHECK_VALUE of a value (M "AES", "Generic secret key"). */
CK_RV hw_skey_check_value(hw_attrs *attrs, const hw_secret *v);
/* A wrapping or unwrapping key: an AES key allowed to (usage: CKA_WRAP or
 * CKA_UNWRAP, B 5.18.6-7); a copy of its value the caller frees. */
CK_RV hw_skey_kek(hw_skey_value_fn value, void *ctx, hw_obj *o, CK_ATTRIBUTE_TYPE usage, CK_RV wrong_type,
		  hw_secret **v);
/* What came out of an unwrap must be a secret key of the type the
 * template names, of the length it gives if it gives one
 * (CKR_WRAPPED_KEY_INVALID, CKR_TEMPLATE_INCONSISTENT); sets CKA_VALUE_LEN. */
CK_RV hw_skey_unwrapped_check(hw_attrs *attrs, const hw_secret *v);

/* The secret-key mechanisms above (key generation, AES ciphers and key
 * wrap, HMAC), for a backend's has_mechanism. */
bool hw_skey_has_mechanism(CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);

#endif
