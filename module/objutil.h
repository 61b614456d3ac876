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
/* C_CreateObject of a secret key on a slot that imports them (fn_keys.c). */
CK_RV hw_secret_import(hw_session *se, hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out);

#endif
