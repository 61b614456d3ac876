/*
 * Attribute lists: an owned, growable array of CK_ATTRIBUTE, its
 * serialization for the store, template matching and the C_GetAttributeValue
 * algorithm of B 5.7.5.
 */
#ifndef HW_ATTRS_H
#define HW_ATTRS_H

#include "common/ck.h"

typedef struct hw_attrs {
	CK_ATTRIBUTE *v;     /* values are owned (malloc'd) */
	size_t n, cap;
} hw_attrs;

void hw_attrs_init(hw_attrs *a);
void hw_attrs_clear(hw_attrs *a);          /* frees values (wiped) and array */
CK_RV hw_attrs_copy(hw_attrs *dst, const hw_attrs *src);
/* Set (replace or append) one attribute, copying the value. */
CK_RV hw_attrs_set(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV hw_attrs_set_bool(hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool v);
CK_RV hw_attrs_set_ulong(hw_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
CK_RV hw_attrs_set_str(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const char *s);
/* A time (seconds since the epoch) as UTF-8 "YYYY-MM-DDTHH:MM:SSZ", UTC
 * (RFC 3339): how hwagg's vendor attributes hold times. */
CK_RV hw_attrs_set_time(hw_attrs *a, CK_ATTRIBUTE_TYPE type, int64_t when);
/* Set only if absent. */
CK_RV hw_attrs_default(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV hw_attrs_default_bool(hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool v);
void hw_attrs_remove(hw_attrs *a, CK_ATTRIBUTE_TYPE type);
const CK_ATTRIBUTE *hw_attrs_get(const hw_attrs *a, CK_ATTRIBUTE_TYPE type);
bool hw_attrs_get_bool(const hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool dflt);
CK_ULONG hw_attrs_get_ulong(const hw_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt);
/* Add every attribute of a caller template (validated before). */
CK_RV hw_attrs_merge(hw_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* Exact byte match of every template attribute (B 5.7.7). */
bool hw_attrs_match(const hw_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* C_GetAttributeValue per B 5.7.5: every attribute is processed; returns
 * CKR_ATTRIBUTE_SENSITIVE / CKR_ATTRIBUTE_TYPE_INVALID / CKR_BUFFER_TOO_SMALL
 * or CKR_OK. hidden(type) says which attributes cannot be revealed. */
CK_RV hw_attrs_read(const hw_attrs *a, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		    bool (*hidden)(const hw_attrs *a, CK_ATTRIBUTE_TYPE type));

/* Serialization for the store: a versioned TLV blob. */
CK_RV hw_attrs_serialize(const hw_attrs *a, unsigned char **out, size_t *out_len);
CK_RV hw_attrs_deserialize(const void *in, size_t len, hw_attrs *a);

#endif
