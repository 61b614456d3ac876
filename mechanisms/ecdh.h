/*
 * CKM_ECDH1_DERIVE (M 2.3.13): parameters, and the derivation in software
 * for slots whose EC keys live in hwagg (soft, keyring).
 */
#ifndef HW_ECDH_H
#define HW_ECDH_H

#include "common/ck.h"
#include "common/secret.h"
#include <openssl/evp.h>

#define HW_ECDH_SHARED_MAX 1024   /* shared data bytes taken */
#define HW_ECDH_POINT_MAX 256     /* the other party's point, raw or DER */

/* CK_ECDH1_DERIVE_PARAMS: a KDF offered (CKD_NULL, CKD_SHA1_KDF ...
 * CKD_SHA512_KDF), no shared data with CKD_NULL, a public point given.
 * CKR_MECHANISM_PARAM_INVALID otherwise. out may be NULL. */
CK_RV hw_ecdh_params_parse(const CK_MECHANISM *mech, CK_ECDH1_DERIVE_PARAMS *out);
/* The derived value (locked memory) of want bytes (0: the secret's length
 * with CKD_NULL, the hash's with a KDF). A point not on the key's curve:
 * CKR_MECHANISM_PARAM_INVALID; want longer than CKD_NULL's secret:
 * CKR_TEMPLATE_INCONSISTENT. */
CK_RV hw_ecdh_derive(EVP_PKEY *priv, const CK_ECDH1_DERIVE_PARAMS *p, size_t want, hw_secret **out);

#endif
