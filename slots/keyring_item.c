/*
 * The keyring slot's items (keyring_int.h): one Secret Service item per
 * token object, in the configured collection.
 *
 * Item attributes (searchable, shown by keyring managers; never secret):
 *   xdg:schema = org.hwagg.Object, hwagg-slot, hwagg-class, hwagg-id (hex),
 *   hwagg-label, hwagg-key-type, hwagg-version, hwagg-uid (CKA_UNIQUE_ID).
 * The secret (authoritative):
 *   "HWAGGKR1" | u32 uid length | uid | u32 attrs length | hw_attrs_serialize()
 *   | u32 key length | key bytes, big-endian: a private key's PKCS#8 DER, a
 *   secret key's value (keyring_secret.c); none for other objects.
 * The uid inside the secret binds a key to its object: a secret moved to
 * another item is refused.
 *
 * load() searches {xdg:schema, hwagg-slot} in the collection, so other
 * applications' items are never listed or read, and reads only the items
 * that are new or changed since the last load (one GetSecrets call for all
 * of them). What it reads of a private key's secret is the attribute part;
 * the secret is decrypted into secret memory and wiped there.
 */
#include "slots/keyring_int.h"
#include "common/log.h"
#include "common/hwagg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char magic[8] = { 'H', 'W', 'A', 'G', 'G', 'K', 'R', '1' };

/* ---- the secret ------------------------------------------------------------------ */
static unsigned char *put_part(unsigned char *p, const void *data, size_t len)
{
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	if (len > 0)
		memcpy(p + 4, data, len);
	return p + 4 + len;
}

CK_RV hw_kr_pack(const hw_attrs *a, const hw_secret *der, hw_secret **out)
{
	const CK_ATTRIBUTE *uid = hw_attrs_get(a, CKA_UNIQUE_ID);
	unsigned char *blob = NULL;
	size_t blob_len = 0, der_len = der ? der->len : 0;
	CK_RV rv;
	*out = NULL;
	if (uid == NULL || uid->ulValueLen == 0)
		return CKR_GENERAL_ERROR;
	if ((rv = hw_attrs_serialize(a, &blob, &blob_len)) != CKR_OK)
		return rv;
	if (blob_len > UINT32_MAX || der_len > UINT32_MAX) {
		rv = CKR_DEVICE_MEMORY;
		goto out;
	}
	*out = hw_secret_new(sizeof(magic) + 12 + uid->ulValueLen + blob_len + der_len);
	if (*out == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	unsigned char *p = (*out)->data;
	memcpy(p, magic, sizeof(magic));
	p = put_part(p + sizeof(magic), uid->pValue, uid->ulValueLen);
	p = put_part(p, blob, blob_len);
	put_part(p, der ? der->data : NULL, der_len);
out:
	hw_wipe(blob, blob_len);
	free(blob);
	return rv;
}

static bool get_part(const unsigned char **p, size_t *left, const unsigned char **data, size_t *len)
{
	if (*left < 4)
		return false;
	size_t n = (size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 | (size_t)(*p)[2] << 8 | (*p)[3];
	if (n > *left - 4)
		return false;
	*data = *p + 4;
	*len = n;
	*p += 4 + n;
	*left -= 4 + n;
	return true;
}

CK_RV hw_kr_unpack(const void *in, size_t len, hw_kr_parts *out)
{
	const unsigned char *p = in;
	size_t left = len;
	memset(out, 0, sizeof(*out));
	if (in == NULL || len < sizeof(magic) || memcmp(p, magic, sizeof(magic)) != 0)
		return CKR_DEVICE_ERROR;
	p += sizeof(magic);
	left -= sizeof(magic);
	if (!get_part(&p, &left, &out->uid, &out->uid_len) || out->uid_len == 0 ||
	    !get_part(&p, &left, &out->attrs, &out->attrs_len) ||
	    !get_part(&p, &left, &out->der, &out->der_len) || left != 0)
		return CKR_DEVICE_ERROR;
	return CKR_OK;
}

/* ---- searchable attributes ------------------------------------------------------ */
/* prefix followed by the value in lower-case hex; NULL when out of memory. */
static char *hex(const char *prefix, const CK_ATTRIBUTE *at)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = at != NULL ? at->ulValueLen : 0, p = strlen(prefix);
	char *s = n < (SIZE_MAX - p - 1) / 2 ? malloc(p + 2 * n + 1) : NULL;
	if (s == NULL)
		return NULL;
	memcpy(s, prefix, p);
	for (size_t i = 0; i < n; i++) {
		unsigned char b = ((const unsigned char *)at->pValue)[i];
		s[p + 2 * i] = digits[b >> 4];
		s[p + 2 * i + 1] = digits[b & 15];
	}
	s[p + 2 * n] = '\0';
	return s;
}

/* A UTF-8 attribute as a D-Bus string: as is when it is valid UTF-8 without
 * NUL, else "hex:..." (D-Bus strings must be valid UTF-8). */
static char *text(const CK_ATTRIBUTE *at)
{
	if (at == NULL || at->ulValueLen == 0)
		return strdup("");
	if (memchr(at->pValue, 0, at->ulValueLen) == NULL) {
		char *s = strndup(at->pValue, at->ulValueLen);
		if (s == NULL || dbus_validate_utf8(s, NULL))
			return s;
		free(s);
	}
	return hex("hex:", at);
}

static const char *class_name(CK_ULONG cls)
{
	switch (cls) {
	case CKO_PUBLIC_KEY: return "public-key";
	case CKO_PRIVATE_KEY: return "private-key";
	case CKO_CERTIFICATE: return "certificate";
	case CKO_DATA: return "data";
	case CKO_SECRET_KEY: return "secret-key";
	default: return "other";
	}
}

static const char *key_type_name(CK_ULONG kt)
{
	switch (kt) {
	case CKK_EC: return "ec";
	case CKK_RSA: return "rsa";
	case CKK_EC_EDWARDS: return "ec-edwards";
	case CKK_AES: return "aes";
	case CKK_GENERIC_SECRET: return "generic-secret";
	case CKK_SHA_1_HMAC: case CKK_SHA224_HMAC: case CKK_SHA256_HMAC: case CKK_SHA384_HMAC:
	case CKK_SHA512_HMAC: return "hmac";
	default: return "";
	}
}

bool hw_kr_attrs_add(hw_kr_attrs *a, const char *name, const char *value)
{
	char *v = value != NULL && a->n < HW_KR_NATTRS ? strdup(value) : NULL;
	if (v == NULL)
		return false;
	a->a[a->n].name = name;
	a->a[a->n++].value = v;
	return true;
}

void hw_kr_attrs_clear(hw_kr_attrs *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->a[i].value);
	a->n = 0;
}

/* Add name = value, taking value (malloc'ed; NULL: out of memory). */
static bool take(hw_kr_attrs *a, const char *name, char *value)
{
	bool ok = hw_kr_attrs_add(a, name, value);
	free(value);
	return ok;
}

CK_RV hw_kr_attributes(const char *slot, const hw_attrs *a, hw_kr_attrs *out)
{
	CK_ULONG cls = hw_attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
	CK_ULONG kt = hw_attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	out->n = 0;
	if (hw_kr_attrs_add(out, "xdg:schema", HW_KR_SCHEMA) && hw_kr_attrs_add(out, "hwagg-slot", slot) &&
	    hw_kr_attrs_add(out, "hwagg-class", class_name(cls)) &&
	    take(out, "hwagg-id", hex("", hw_attrs_get(a, CKA_ID))) &&
	    take(out, "hwagg-label", text(hw_attrs_get(a, CKA_LABEL))) &&
	    hw_kr_attrs_add(out, "hwagg-key-type", key_type_name(kt)) &&
	    hw_kr_attrs_add(out, "hwagg-version", HW_KR_FORMAT) &&
	    take(out, "hwagg-uid", text(hw_attrs_get(a, CKA_UNIQUE_ID))))
		return CKR_OK;
	hw_kr_attrs_clear(out);
	return CKR_HOST_MEMORY;
}

char *hw_kr_label(const char *slot, const hw_attrs *a)
{
	char *label = text(hw_attrs_get(a, CKA_LABEL)), *id = hex("", hw_attrs_get(a, CKA_ID)), *s = NULL;
	if (label != NULL && id != NULL)
		s = hw_kr_printf("hwagg %s: %s \"%s\" id %s", slot,
				 class_name(hw_attrs_get_ulong(a, CKA_CLASS, CK_UNAVAILABLE_INFORMATION)), label,
				 id[0] ? id : "-");
	free(label);
	free(id);
	return s;
}

/* ---- the item cache --------------------------------------------------------------- */
static hw_kr_item *by_path(hw_kr_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nitems; i++)
		if (strcmp(c->items[i]->path, path) == 0)
			return c->items[i];
	return NULL;
}

static hw_kr_item *by_uid(hw_kr_ctx *c, const char *uid, size_t len)
{
	for (size_t i = 0; i < c->nitems; i++) {
		const char *u = c->items[i]->uid;
		if (u != NULL && strlen(u) == len && memcmp(u, uid, len) == 0)
			return c->items[i];
	}
	return NULL;
}

hw_kr_item *hw_kr_item_by_oid_inlock(hw_kr_ctx *c, int64_t oid)
{
	for (size_t i = 0; i < c->nitems; i++)
		if (c->items[i]->oid == oid && !c->items[i]->damaged)
			return c->items[i];
	return NULL;
}

static void item_free(hw_kr_item *it)
{
	if (it == NULL)
		return;
	free(it->path);
	free(it->uid);
	hw_attrs_clear(&it->attrs);
	free(it);
}

bool hw_kr_grow(void *array, size_t n, size_t *cap, size_t elem)
{
	void **a = array;
	if (n < *cap)
		return true;
	size_t more = *cap ? *cap * 2 : 16;
	void *v = realloc(*a, more * elem);
	if (v == NULL)
		return false;
	*a = v;
	*cap = more;
	return true;
}

static hw_kr_item *item_add(hw_kr_ctx *c, const char *path)
{
	if (!hw_kr_grow(&c->items, c->nitems, &c->cap, sizeof(*c->items)))
		return NULL;
	hw_kr_item *it = calloc(1, sizeof(*it));
	if (it == NULL || (it->path = strdup(path)) == NULL) {
		free(it);
		return NULL;
	}
	hw_attrs_init(&it->attrs);
	c->items[c->nitems++] = it;
	return it;
}

void hw_kr_item_drop_inlock(hw_kr_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nitems; i++) {
		if (strcmp(c->items[i]->path, path) != 0)
			continue;
		item_free(c->items[i]);
		c->items[i] = c->items[--c->nitems];
		return;
	}
}

CK_RV hw_kr_item_put_inlock(hw_kr_ctx *c, const char *path, const hw_attrs *a, bool priv, int64_t *oid)
{
	const CK_ATTRIBUTE *uid = hw_attrs_get(a, CKA_UNIQUE_ID);
	hw_attrs copy;
	char *uid_copy, *path_copy = NULL;
	if (uid == NULL || uid->ulValueLen == 0)
		return CKR_GENERAL_ERROR;
	if ((uid_copy = strndup(uid->pValue, uid->ulValueLen)) == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = hw_attrs_copy(&copy, a);
	if (rv != CKR_OK) {
		free(uid_copy);
		return rv;
	}
	hw_kr_item *it = by_path(c, path), *same = by_uid(c, uid->pValue, uid->ulValueLen);
	int64_t keep = same != NULL ? same->oid : 0;
	if (it == NULL && same != NULL && (path_copy = strdup(path)) != NULL) {
		/* the object moved to another item: it keeps its id */
		free(same->path);
		same->path = path_copy;
		it = same;
	} else if (it == NULL && same != NULL) {
		it = NULL;                    /* out of memory */
	} else if (it == NULL) {
		it = item_add(c, path);
	} else if (same != NULL && same != it) {
		/* this item now holds the object another item held */
		hw_kr_item_drop_inlock(c, same->path);
	}
	if (it == NULL) {
		hw_attrs_clear(&copy);
		free(uid_copy);
		return CKR_HOST_MEMORY;
	}
	/* a different object in the same item is a different token object */
	it->oid = keep != 0 ? keep : ++c->next_oid;
	free(it->uid);
	it->uid = uid_copy;
	hw_attrs_clear(&it->attrs);
	it->attrs = copy;
	it->priv = priv;
	it->stale = it->damaged = false;
	it->seen = true;
	*oid = it->oid;
	return CKR_OK;
}

CK_RV hw_kr_item_write(hw_kr_ctx *c, const hw_kr_link *l, const hw_attrs *a, const hw_secret *der, char **path,
			int64_t *oid)
{
	hw_secret *s = NULL;
	hw_kr_attrs attributes = { .n = 0 };
	char *label = NULL;
	CK_RV rv = hw_kr_pack(a, der, &s);
	if (rv != CKR_OK || (rv = hw_kr_attributes(c->conf->name, a, &attributes)) != CKR_OK)
		goto out;
	if ((label = hw_kr_label(c->conf->name, a)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (*path == NULL)
		rv = hw_kr_create(c, l, &attributes, label, s, path);
	else if ((rv = hw_kr_set_secret(c, l, *path, s)) == CKR_OK &&
		 hw_kr_set_attributes(c, l, *path, &attributes, label) != CKR_OK)
		/* the secret is what counts: stale search attributes are logged */
		hw_warn("slot \"%s\" (keyring): item %s: attributes not updated", c->conf->name, *path);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		rv = hw_kr_item_put_inlock(c, *path, a, der != NULL, oid);
		pthread_mutex_unlock(&c->lock);
	}
out:
	hw_kr_attrs_clear(&attributes);
	free(label);
	hw_secret_free(s);
	return rv;
}

void hw_kr_item_event_inlock(hw_kr_ctx *c, const char *member, const char *path)
{
	hw_kr_item *it = by_path(c, path);
	if (strcmp(member, "ItemCreated") == 0 && it != NULL)
		return;                       /* one we wrote ourselves */
	if (it != NULL)
		it->stale = true;
	else if (c->token_path == NULL || strcmp(c->token_path, path) == 0)
		c->token_known = false;       /* perhaps the PIN verifier came or went */
	c->changes++;
}

void hw_kr_items_stale_inlock(hw_kr_ctx *c)
{
	for (size_t i = 0; i < c->nitems; i++)
		c->items[i]->stale = true;
	c->changes++;
}

void hw_kr_items_free(hw_kr_ctx *c)
{
	for (size_t i = 0; i < c->nitems; i++)
		item_free(c->items[i]);
	free(c->items);
	c->items = NULL;
	c->nitems = c->cap = 0;
}

/* ---- load ----------------------------------------------------------------------- */
/* Parse one item's secret into the cache; a secret that is not ours marks
 * the item damaged (skipped, logged once) so one bad item hides no other. */
static CK_RV take_secret_inlock(hw_kr_ctx *c, const char *path, const hw_secret *value)
{
	hw_kr_parts parts;
	hw_attrs a;
	int64_t oid;
	const char *why = "its secret is not a hwagg object";
	CK_RV rv = hw_kr_unpack(value->data, value->len, &parts);
	hw_attrs_init(&a);
	if (rv == CKR_OK && (rv = hw_attrs_deserialize(parts.attrs, parts.attrs_len, &a)) != CKR_OK)
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_DEVICE_ERROR;
	if (rv == CKR_OK) {
		const CK_ATTRIBUTE *uid = hw_attrs_get(&a, CKA_UNIQUE_ID);
		hw_kr_item *other = by_uid(c, (const char *)parts.uid, parts.uid_len);
		if (uid == NULL || uid->ulValueLen != parts.uid_len ||
		    memcmp(uid->pValue, parts.uid, parts.uid_len) != 0 || hw_attrs_get(&a, CKA_CLASS) == NULL) {
			rv = CKR_DEVICE_ERROR;
		} else if (other != NULL && other->seen && strcmp(other->path, path) != 0) {
			why = "it is a copy of another item";
			rv = CKR_DEVICE_ERROR;
		}
	}
	if (rv == CKR_OK)
		rv = hw_kr_item_put_inlock(c, path, &a, parts.der_len > 0, &oid);
	if (rv == CKR_DEVICE_ERROR) {
		hw_kr_item *it = by_path(c, path);
		if (it == NULL && (it = item_add(c, path)) == NULL) {
			rv = CKR_HOST_MEMORY;
		} else {
			if (!it->damaged)
				hw_error("slot \"%s\" (keyring): item %s skipped: %s (changed outside hwagg?)",
					 c->conf->name, path, why);
			it->damaged = it->seen = true;
			it->stale = false;
			rv = CKR_OK;
		}
	}
	hw_attrs_clear(&a);
	return rv;
}

typedef struct report {
	int64_t oid;
	hw_attrs attrs;
} report;

/* Which of paths to read: new ones and those changed since read. */
static const char **wanted_inlock(hw_kr_ctx *c, char **paths, size_t *n)
{
	size_t np = 0, k = 0;
	while (paths[np] != NULL)
		np++;
	const char **want = calloc(np + 1, sizeof(*want));
	if (want == NULL)
		return NULL;
	for (size_t i = 0; i < c->nitems; i++)
		c->items[i]->seen = false;
	for (size_t i = 0; i < np; i++) {
		hw_kr_item *it = by_path(c, paths[i]);
		if (it == NULL || it->stale)
			want[k++] = paths[i];
		else
			it->seen = true;
	}
	*n = k;
	return want;
}

static CK_RV read_wanted(hw_kr_ctx *c, const hw_kr_link *l, const char **want, size_t n)
{
	hw_secret **secrets = n > 0 ? calloc(n, sizeof(*secrets)) : NULL;
	bool locked = false;
	CK_RV rv = n == 0 ? CKR_OK : secrets == NULL ? CKR_HOST_MEMORY : hw_kr_get_secrets(c, l, want, n, secrets);
	for (size_t i = 0; rv == CKR_OK && i < n; i++)
		if (secrets[i] == NULL) {
			/* locked meanwhile, or deleted since the search */
			rv = hw_kr_is_locked(c, l, &locked);
			if (rv == CKR_OK && locked)
				rv = CKR_USER_NOT_LOGGED_IN;
			break;
		}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; rv == CKR_OK && i < n; i++)
		if (secrets[i] != NULL)
			rv = take_secret_inlock(c, want[i], secrets[i]);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; secrets != NULL && i < n; i++)
		hw_secret_free(secrets[i]);
	free(secrets);
	return rv;
}

/* Drop what the search no longer finds; copy what to report. */
static CK_RV collect_inlock(hw_kr_ctx *c, report **out, size_t *n)
{
	report *r = calloc(c->nitems + 1, sizeof(*r));
	size_t k = 0;
	CK_RV rv = CKR_OK;
	if (r == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = c->nitems; i-- > 0;) {
		hw_kr_item *it = c->items[i];
		if (!it->seen) {
			item_free(it);
			c->items[i] = c->items[--c->nitems];
		} else if (!it->damaged && rv == CKR_OK) {
			r[k].oid = it->oid;
			if ((rv = hw_attrs_copy(&r[k].attrs, &it->attrs)) == CKR_OK)
				k++;
		}
	}
	*out = r;
	*n = k;
	return rv;
}

static void locked_note(hw_kr_ctx *c, bool locked)
{
	pthread_mutex_lock(&c->lock);
	if (locked && !c->locked_logged)
		hw_info("slot \"%s\" (keyring): collection %s is locked: its objects appear after C_Login "
			"with its password", c->conf->name, c->collection);
	c->locked_logged = locked;
	pthread_mutex_unlock(&c->lock);
}

CK_RV hw_kr_items_load(hw_kr_ctx *c, hw_obj_sink sink, void *arg)
{
	hw_kr_link l;
	char **paths = NULL;
	const char **want = NULL;
	report *r = NULL;
	size_t n = 0, nr = 0;
	bool locked = false;
	CK_RV rv = hw_kr_link_get(c, &l);
	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&c->lock);
	unsigned start = c->changes;
	pthread_mutex_unlock(&c->lock);
	if ((rv = hw_kr_is_locked(c, &l, &locked)) != CKR_OK)
		goto out;
	locked_note(c, locked);
	if (locked) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if ((rv = hw_kr_search(c, &l, HW_KR_SCHEMA, &paths)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&c->lock);
	want = wanted_inlock(c, paths, &n);
	pthread_mutex_unlock(&c->lock);
	if (want == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = read_wanted(c, &l, want, n)) != CKR_OK)
		goto out;
	pthread_mutex_lock(&c->lock);
	rv = collect_inlock(c, &r, &nr);
	if (rv == CKR_OK) {
		c->loaded_changes = start;
		c->loaded_at = hw_kr_now();
	}
	pthread_mutex_unlock(&c->lock);
	/* the engine's sink runs without our lock */
	for (size_t i = 0; rv == CKR_OK && i < nr; i++)
		rv = sink(arg, r[i].oid, &r[i].attrs, NULL);
out:
	for (size_t i = 0; r != NULL && i < nr; i++)
		hw_attrs_clear(&r[i].attrs);
	free(r);
	free(want);
	hw_kr_strv_free(paths);
	hw_kr_link_put(&l);
	return rv;
}
