/*
 * What the parts of the operator's API share (admin.c, admin_sign.c,
 * admin_rotate.c): reading objects through the module's own PKCS#11
 * functions.
 */
#ifndef HW_ADMIN_INT_H
#define HW_ADMIN_INT_H

#include "module/admin.h"

/* One attribute's value, allocated with a NUL after it. Absent or
 * sensitive: *val NULL and CKR_OK. */
CK_RV hw_adm_attr_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
		      unsigned char **val, size_t *len);
/* A short text attribute into a fixed field ("" when absent). */
CK_RV hw_adm_attr_text(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, char *out, size_t cap);
CK_RV hw_adm_attr_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
/* Everything the listing shows about one object; hw_adm_key_clear frees it. */
CK_RV hw_adm_key_read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, const char *token,
		      hw_admin_key *k);
void hw_adm_key_clear(hw_admin_key *k);
/* Handles of the token objects matching t, in the token's order. */
CK_RV hw_adm_find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG tn, CK_OBJECT_HANDLE **out, size_t *n);
/* The session's token label, trailing spaces removed. */
CK_RV hw_adm_token_label(CK_SESSION_HANDLE s, char out[33]);
/* The private keys with this label (NULL: any) and id (id_len 0: any),
 * token keys only when token_only; token gets the session's token label. */
CK_RV hw_adm_find_private(CK_SESSION_HANDLE s, bool token_only, const char *label, const unsigned char *id,
			  size_t id_len, char token[33], CK_OBJECT_HANDLE **hs, size_t *n);
/* Append one attribute to a template. */
void hw_adm_tmpl_add(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, void *value, CK_ULONG len);

#endif
