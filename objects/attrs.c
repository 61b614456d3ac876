#include "objects/attrs.h"
#include "common/secret.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void hw_attrs_init(hw_attrs *a)
{
	a->v = NULL;
	a->n = a->cap = 0;
}

static void free_value(CK_ATTRIBUTE *at)
{
	hw_wipe(at->pValue, at->ulValueLen);
	free(at->pValue);
	at->pValue = NULL;
}

void hw_attrs_clear(hw_attrs *a)
{
	for (size_t i = 0; i < a->n; i++)
		free_value(&a->v[i]);
	free(a->v);
	hw_attrs_init(a);
}

CK_RV hw_attrs_copy(hw_attrs *dst, const hw_attrs *src)
{
	hw_attrs_init(dst);
	for (size_t i = 0; i < src->n; i++) {
		CK_RV rv = hw_attrs_set(dst, src->v[i].type, src->v[i].pValue, src->v[i].ulValueLen);
		if (rv != CKR_OK) {
			hw_attrs_clear(dst);
			return rv;
		}
	}
	return CKR_OK;
}

static CK_ATTRIBUTE *find(const hw_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type == type)
			return &a->v[i];
	return NULL;
}

const CK_ATTRIBUTE *hw_attrs_get(const hw_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	return find(a, type);
}

CK_RV hw_attrs_set(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	/* +1 so an empty value still has a distinct non-NULL pointer */
	void *copy = malloc(len + 1);
	if (copy == NULL)
		return CKR_HOST_MEMORY;
	if (len > 0)
		memcpy(copy, value, len);
	CK_ATTRIBUTE *at = find(a, type);
	if (at == NULL) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			CK_ATTRIBUTE *v = realloc(a->v, cap * sizeof(*v));
			if (v == NULL) {
				free(copy);
				return CKR_HOST_MEMORY;
			}
			a->v = v;
			a->cap = cap;
		}
		at = &a->v[a->n++];
		at->type = type;
	} else {
		free_value(at);
	}
	at->pValue = copy;
	at->ulValueLen = len;
	return CKR_OK;
}

CK_RV hw_attrs_set_bool(hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool v)
{
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
	return hw_attrs_set(a, type, &b, sizeof(b));
}

CK_RV hw_attrs_set_ulong(hw_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	return hw_attrs_set(a, type, &v, sizeof(v));
}

CK_RV hw_attrs_set_str(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const char *s)
{
	return hw_attrs_set(a, type, s, strlen(s));
}

CK_RV hw_attrs_set_time(hw_attrs *a, CK_ATTRIBUTE_TYPE type, int64_t when)
{
	char buf[32];
	struct tm tm;
	time_t t = (time_t)when;
	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return CKR_GENERAL_ERROR;
	return hw_attrs_set_str(a, type, buf);
}

CK_RV hw_attrs_default(hw_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	return find(a, type) ? CKR_OK : hw_attrs_set(a, type, value, len);
}

CK_RV hw_attrs_default_bool(hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool v)
{
	return find(a, type) ? CKR_OK : hw_attrs_set_bool(a, type, v);
}

void hw_attrs_remove(hw_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	CK_ATTRIBUTE *at = find(a, type);
	if (at == NULL)
		return;
	free_value(at);
	*at = a->v[--a->n];
}

bool hw_attrs_get_bool(const hw_attrs *a, CK_ATTRIBUTE_TYPE type, bool dflt)
{
	const CK_ATTRIBUTE *at = find(a, type);
	if (at == NULL || at->ulValueLen != sizeof(CK_BBOOL))
		return dflt;
	return *(CK_BBOOL *)at->pValue != CK_FALSE;
}

CK_ULONG hw_attrs_get_ulong(const hw_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG dflt)
{
	const CK_ATTRIBUTE *at = find(a, type);
	CK_ULONG v;
	if (at == NULL || at->ulValueLen != sizeof(CK_ULONG))
		return dflt;
	memcpy(&v, at->pValue, sizeof(v));
	return v;
}

CK_RV hw_attrs_merge(hw_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_RV rv = hw_attrs_set(a, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

bool hw_attrs_match(const hw_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *at = find(a, tmpl[i].type);
		if (at == NULL || at->ulValueLen != tmpl[i].ulValueLen)
			return false;
		if (at->ulValueLen > 0 &&
		    (tmpl[i].pValue == NULL || memcmp(at->pValue, tmpl[i].pValue, at->ulValueLen) != 0))
			return false;
	}
	return true;
}

CK_RV hw_attrs_read(const hw_attrs *a, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		    bool (*hidden)(const hw_attrs *a, CK_ATTRIBUTE_TYPE type))
{
	CK_RV rv = CKR_OK;
	/* B 5.7.5: process every attribute; the three "errors" are reports. */
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ATTRIBUTE *t = &tmpl[i];
		const CK_ATTRIBUTE *at;
		if (hidden != NULL && hidden(a, t->type)) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
		} else if ((at = find(a, t->type)) == NULL) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			if (rv == CKR_OK)
				rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (t->pValue == NULL) {
			t->ulValueLen = at->ulValueLen;
		} else if (t->ulValueLen >= at->ulValueLen) {
			if (at->ulValueLen > 0)
				memcpy(t->pValue, at->pValue, at->ulValueLen);
			t->ulValueLen = at->ulValueLen;
		} else {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			if (rv == CKR_OK)
				rv = CKR_BUFFER_TOO_SMALL;
		}
	}
	return rv;
}

/* Blob: "HWA1" | count u32 | { type u64 | len u32 | value }... (little endian) */
static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

CK_RV hw_attrs_serialize(const hw_attrs *a, unsigned char **out, size_t *out_len)
{
	size_t len = 8;
	for (size_t i = 0; i < a->n; i++)
		len += 12 + a->v[i].ulValueLen;
	unsigned char *buf = malloc(len), *p = buf;
	if (buf == NULL)
		return CKR_HOST_MEMORY;
	memcpy(p, "HWA1", 4);
	put_u32(p + 4, (uint32_t)a->n);
	p += 8;
	for (size_t i = 0; i < a->n; i++) {
		uint64_t t = a->v[i].type;
		put_u32(p, (uint32_t)t);
		put_u32(p + 4, (uint32_t)(t >> 32));
		put_u32(p + 8, (uint32_t)a->v[i].ulValueLen);
		memcpy(p + 12, a->v[i].pValue, a->v[i].ulValueLen);
		p += 12 + a->v[i].ulValueLen;
	}
	*out = buf;
	*out_len = len;
	return CKR_OK;
}

CK_RV hw_attrs_deserialize(const void *in, size_t len, hw_attrs *a)
{
	const unsigned char *p = in, *end = p + len;
	hw_attrs_init(a);
	if (len < 8 || memcmp(p, "HWA1", 4) != 0)
		return CKR_DEVICE_ERROR;
	uint32_t count = get_u32(p + 4);
	p += 8;
	for (uint32_t i = 0; i < count; i++) {
		if ((size_t)(end - p) < 12)
			goto bad;
		uint64_t t = get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
		uint32_t l = get_u32(p + 8);
		p += 12;
		if ((size_t)(end - p) < l)
			goto bad;
		if (hw_attrs_set(a, (CK_ATTRIBUTE_TYPE)t, p, l) != CKR_OK) {
			hw_attrs_clear(a);
			return CKR_HOST_MEMORY;
		}
		p += l;
	}
	if (p == end)
		return CKR_OK;
bad:
	hw_attrs_clear(a);
	return CKR_DEVICE_ERROR;
}
