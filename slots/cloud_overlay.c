/* See cloud_overlay.h. */
#include "slots/cloud_overlay.h"
#include "slots/cloud_str.h"
#include "common/hwagg.h"
#include "common/log.h"
#include "mechanisms/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BYTES 5            /* 40 bits: the oid's low part and the file name */

/* What the overlay may change freely, and the uses it may only turn off
 * (a use back on would be a promise the service's key does not keep). */
static const CK_ATTRIBUTE_TYPE free_types[] = { CKA_LABEL, CKA_START_DATE, CKA_END_DATE, CKA_HWAGG_KEY_VERSION };
static const CK_ATTRIBUTE_TYPE uses[] = { CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN_RECOVER, CKA_DERIVE };

static bool in(const CK_ATTRIBUTE_TYPE *set, size_t n, CK_ATTRIBUTE_TYPE t)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == t)
			return true;
	return false;
}

static CK_RV hash_of(const char *uri, char hex[2 * HASH_BYTES + 1], int64_t *oid)
{
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	CK_RV rv = hw_digest_once(CKM_SHA256, uri, strlen(uri), md, &mdlen);
	if (rv != CKR_OK)
		return rv;
	hw_hex(md, HASH_BYTES, hex);
	int64_t v = 0;
	for (size_t i = 0; i < HASH_BYTES; i++)
		v = v << 8 | md[i];
	if (oid != NULL)
		*oid = HW_OVERLAY_BASE + v;
	return CKR_OK;
}

static CK_RV name_of(const char *uri, CK_OBJECT_CLASS cls, char *name, size_t len)
{
	char hex[2 * HASH_BYTES + 1];
	CK_RV rv = hash_of(uri, hex, NULL);
	if (rv == CKR_OK)
		snprintf(name, len, "%s.%s.ovl", hex, cls == CKO_PUBLIC_KEY ? "pub" : "priv");
	return rv;
}

/* The file of (uri, cls) if it is this key's (the 40-bit name could be
 * another's) */
static CK_RV read_own(const hw_objdir *d, const char *uri, CK_OBJECT_CLASS cls, hw_attrs *out)
{
	char name[64];
	CK_RV rv = name_of(uri, cls, name, sizeof(name));
	if (rv != CKR_OK || (rv = hw_objdir_read(d, name, out)) != CKR_OK)
		return rv;
	const CK_ATTRIBUTE *u = hw_attrs_get(out, CKA_HWAGG_PROVIDER_URI);
	if (u == NULL || u->ulValueLen != strlen(uri) || memcmp(u->pValue, uri, u->ulValueLen) != 0)
		return CKR_OBJECT_HANDLE_INVALID;
	return CKR_OK;
}

static bool has_end(const hw_attrs *a)
{
	const CK_ATTRIBUTE *e = hw_attrs_get(a, CKA_END_DATE);
	return e != NULL && e->ulValueLen > 0;
}

/* Shown from its file when the service no longer lists its key: a public
 * key with an end date (kept for verification), a private key retired
 * (an end date and no use left: disabled, for the record) */
static bool kept(const hw_attrs *a)
{
	if (!has_end(a))
		return false;
	if (hw_attrs_get_ulong(a, CKA_CLASS, CKO_PUBLIC_KEY) == CKO_PUBLIC_KEY)
		return true;
	for (size_t i = 0; i < HW_ARRAY_LEN(uses); i++)
		if (hw_attrs_get_bool(a, uses[i], false))
			return false;
	return true;
}

CK_RV hw_overlay_apply(const hw_objdir *d, const char *uri, CK_OBJECT_CLASS cls, hw_attrs *a)
{
	hw_attrs o;
	hw_attrs_init(&o);
	CK_RV rv = read_own(d, uri, cls, &o);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_OK;            /* nothing kept for it */
	for (size_t i = 0; rv == CKR_OK && i < o.n; i++) {
		CK_ATTRIBUTE_TYPE t = o.v[i].type;
		if (in(free_types, HW_ARRAY_LEN(free_types), t) ||
		    (in(uses, HW_ARRAY_LEN(uses), t) && !hw_attrs_get_bool(&o, t, true)))
			rv = hw_attrs_set(a, t, o.v[i].pValue, o.v[i].ulValueLen);
	}
	hw_attrs_clear(&o);
	return rv;
}

static bool same(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
	return a->ulValueLen == b->ulValueLen && (a->ulValueLen == 0 || memcmp(a->pValue, b->pValue, a->ulValueLen) == 0);
}

CK_RV hw_overlay_change(const hw_objdir *d, const char *uri, const hw_attrs *base, const hw_attrs *want,
			hw_attrs *out, bool *uses_off)
{
	CK_RV rv = hw_attrs_copy(out, base);
	for (size_t i = 0; rv == CKR_OK && i < want->n; i++) {
		const CK_ATTRIBUTE *w = &want->v[i], *b = hw_attrs_get(base, w->type);
		if (b != NULL && same(b, w))
			continue;
		if (in(free_types, HW_ARRAY_LEN(free_types), w->type)) {
			rv = hw_attrs_set(out, w->type, w->pValue, w->ulValueLen);
		} else if (in(uses, HW_ARRAY_LEN(uses), w->type)) {
			bool on = w->ulValueLen == 1 && *(const CK_BBOOL *)w->pValue;
			if (on) {
				hw_warn("slot \"%s\" (%s): a use of %s is turned off for good", d->slot, d->backend, uri);
				rv = CKR_ATTRIBUTE_READ_ONLY;
			} else {
				rv = hw_attrs_set_bool(out, w->type, false);
			}
		} else if (b != NULL) {
			hw_warn("slot \"%s\" (%s): attribute 0x%lx of %s is the service's and cannot change", d->slot,
				d->backend, (unsigned long)w->type, uri);
			rv = CKR_ACTION_PROHIBITED;
		}
		/* else: an attribute the listing does not have, left from the
		 * generation's template in the engine's copy; nothing to keep */
	}
	/* this change turns the last use off (not a later change of a key
	 * already without any) */
	bool had = false, has = false;
	for (size_t i = 0; i < HW_ARRAY_LEN(uses); i++) {
		had |= hw_attrs_get_bool(base, uses[i], false);
		has |= hw_attrs_get_bool(out, uses[i], false);
	}
	*uses_off = had && !has;
	return rv;
}

CK_RV hw_overlay_store(hw_objdir *d, const char *uri, const hw_attrs *out)
{
	char name[64];
	CK_OBJECT_CLASS cls = hw_attrs_get_ulong(out, CKA_CLASS, CKO_PRIVATE_KEY);
	CK_RV rv = name_of(uri, cls, name, sizeof(name));
	if (rv != CKR_OK)
		return rv;
	if (hw_attrs_get(out, CKA_HWAGG_PROVIDER_URI) == NULL)
		return CKR_GENERAL_ERROR;       /* the file names its key */
	return hw_objdir_write(d, name, out);
}

CK_RV hw_overlay_forget(hw_objdir *d, const char *uri)
{
	char name[64];
	hw_attrs pub;
	hw_attrs_init(&pub);
	CK_RV rv = name_of(uri, CKO_PRIVATE_KEY, name, sizeof(name));
	if (rv == CKR_OK)
		rv = hw_objdir_unlink(d, name);
	bool keep = read_own(d, uri, CKO_PUBLIC_KEY, &pub) == CKR_OK && has_end(&pub);
	hw_attrs_clear(&pub);
	if (rv == CKR_OK && !keep && (rv = name_of(uri, CKO_PUBLIC_KEY, name, sizeof(name))) == CKR_OK)
		rv = hw_objdir_unlink(d, name);
	return rv;
}

CK_RV hw_overlay_drop_public(hw_objdir *d, const char *uri)
{
	char name[64];
	CK_RV rv = name_of(uri, CKO_PUBLIC_KEY, name, sizeof(name));
	return rv == CKR_OK ? hw_objdir_unlink(d, name) : rv;
}

CK_RV hw_overlay_kept(const hw_objdir *d, const char *uri, CK_OBJECT_CLASS cls, hw_attrs *out)
{
	CK_RV rv = read_own(d, uri, cls, out);
	return rv == CKR_OK && !kept(out) ? CKR_OBJECT_HANDLE_INVALID : rv;
}

CK_RV hw_overlay_kept_oid(hw_objdir *d, int64_t oid, hw_attrs *out, bool drop)
{
	char name[64];
	hw_attrs a;
	int64_t span = (int64_t)1 << (8 * HASH_BYTES), v = oid - HW_OVERLAY_BASE;
	if (oid < HW_OVERLAY_BASE || v >= 2 * span)
		return CKR_OBJECT_HANDLE_INVALID;
	snprintf(name, sizeof(name), "%010llx.%s.ovl", (unsigned long long)(v % span), v >= span ? "priv" : "pub");
	hw_attrs_init(&a);
	CK_RV rv = hw_objdir_read(d, name, &a);
	if (rv == CKR_OK && !kept(&a))
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK && drop)
		rv = hw_objdir_unlink(d, name);
	else if (rv == CKR_OK && out != NULL)
		rv = hw_attrs_copy(out, &a);
	hw_attrs_clear(&a);
	return rv;
}

typedef struct report_arg {
	const hw_objdir *d;
	bool (*listed)(void *arg, const char *uri);
	void *larg;
	hw_obj_sink sink;
	void *arg;
} report_arg;

static CK_RV report_one(void *arg, const char *name)
{
	report_arg *r = arg;
	char uri[2048], hex[2 * HASH_BYTES + 1];
	unsigned long long v;
	bool priv = hw_objdir_hexname(name, ".priv.ovl", &v);
	if (!priv && !hw_objdir_hexname(name, ".pub.ovl", &v))
		return CKR_OK;
	hw_attrs a;
	hw_attrs_init(&a);
	CK_RV rv = hw_objdir_read(r->d, name, &a);
	const CK_ATTRIBUTE *u = rv == CKR_OK ? hw_attrs_get(&a, CKA_HWAGG_PROVIDER_URI) : NULL;
	int64_t oid = 0;
	if (rv == CKR_OK && u != NULL && u->ulValueLen < sizeof(uri) && kept(&a) &&
	    (hw_attrs_get_ulong(&a, CKA_CLASS, CKO_PUBLIC_KEY) == CKO_PRIVATE_KEY) == priv) {
		memcpy(uri, u->pValue, u->ulValueLen);
		uri[u->ulValueLen] = '\0';
		/* a file whose name is not its key's hash is not reported: its
		 * oid would not find it again */
		if (hash_of(uri, hex, &oid) == CKR_OK && oid == HW_OVERLAY_BASE + (int64_t)v && !r->listed(r->larg, uri))
			rv = r->sink(r->arg, priv ? oid + ((int64_t)1 << (8 * HASH_BYTES)) : oid, &a, NULL);
	} else if (rv == CKR_OBJECT_HANDLE_INVALID) {
		rv = CKR_OK;
	}
	hw_attrs_clear(&a);
	return rv;
}

CK_RV hw_overlay_report(const hw_objdir *d, bool (*listed)(void *arg, const char *uri), void *larg,
			hw_obj_sink sink, void *arg)
{
	report_arg r = { d, listed, larg, sink, arg };
	return hw_objdir_each(d, ".ovl", report_one, &r);
}
