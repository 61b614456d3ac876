/* Helpers shared by the object and key functions. */
#ifndef HW_OBJUTIL_H
#define HW_OBJUTIL_H

#include "module/session.h"

CK_RV hw_can_write(const hw_session *se, const hw_slot *s, bool token, bool priv);
CK_RV hw_obj_install(hw_session *se, hw_slot *s, hw_attrs *attrs, int64_t oid, void *bdata,
		     CK_OBJECT_HANDLE *out);
/* C_CreateObject: required attributes per class and the values derived
 * from them (certificate subject/issuer/serial, public key SPKI and size). */
CK_RV hw_obj_complete_import(hw_attrs *a, CK_OBJECT_CLASS cls);
/* CKA_UNIQUE_ID, CKA_HWAGG_SLOT, CKA_HWAGG_CREATED and CKA_HWAGG_ENVIRONMENT
 * on every new object. */
CK_RV hw_obj_common_attrs(hw_attrs *a, const hw_slot *s);
/* Set a key's CKA_HWAGG_KEY_VERSION (which no template may set) through the
 * path of C_SetAttributeValue: the admin API's rotation. */
CK_RV hw_obj_set_version(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ULONG version);
/* A secret or private key the backend makes (C_GenerateKey, C_UnwrapKey,
 * C_DeriveKey, import) from a checked template: who may write it, then
 * the template with the engine's defaults in a. gen: the generating
 * mechanism, or CK_UNAVAILABLE_INFORMATION for a key not made here. */
CK_RV hw_new_key_attrs(const hw_session *se, const hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n,
		       CK_OBJECT_CLASS cls, CK_MECHANISM_TYPE gen, hw_attrs *a, bool *token);
/* Hand the backend's new key (rv: its answer) to the session, or free
 * what it made; logged and audited as what ("generate", "import", ...). */
CK_RV hw_new_key_install(hw_session *se, hw_slot *s, CK_RV rv, hw_attrs *a, int64_t oid, void *bdata,
			 CK_OBJECT_HANDLE *out, const char *what, const char *how, bool token);
/* The HMAC key types (M "HMAC"): generic secrets named after their digest. */
bool hw_hmac_key_type(CK_KEY_TYPE kt);
/* Import (fn_import.c): whether slot s takes keys from outside (its
 * "allow_import"; logs a refusal), and C_CreateObject of a secret or a
 * private key on a slot whose backend imports them. */
bool hw_import_allowed(const hw_slot *s);
CK_RV hw_secret_import(hw_session *se, hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV hw_private_import(hw_session *se, hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out);

#endif
