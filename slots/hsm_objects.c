/*
 * Objects of an hsm slot. The engine caches them as attribute lists: load()
 * reads every attribute hwagg knows (the rule table) from the lower token
 * and adds the vendor attributes saying where the object lives. Creating,
 * changing, destroying, generating and unwrapping go to the lower token
 * first; what it reports back is what the engine caches. Wrapping is the
 * lower token's alone (it checks CKA_WRAP, CKA_EXTRACTABLE ...).
 */
#include "slots/hsm.h"
#include "slots/hsm_version.h"
#include "common/log.h"
#include "objects/rules.h"

#include <stdlib.h>
#include <string.h>

#define HSM_ATTR_MAX (1UL << 20)   /* a longer attribute value is garbage */
#define HSM_FIND_MAX 100000        /* more objects than this is garbage */
#define HSM_FIND_CHUNK 64

static bool in_hwagg_range(CK_ATTRIBUTE_TYPE t)
{
	return t > CKA_HWAGG_BASE && t <= CKA_HWAGG_BASE + 0xff;
}

/* C_GetAttributeValue results that still carry every readable value. */
static bool readable(CK_RV rv)
{
	return rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID;
}

/* Read the given attributes of a lower object into out (two calls: sizes,
 * then values), trusting no length the module reports. */
static CK_RV read_attrs(hsm_ctx *c, hsm_call *k, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE_TYPE *types,
			size_t n, hw_attrs *out)
{
	CK_ATTRIBUTE *t = calloc(n + 1, sizeof(*t));
	CK_ULONG *room = calloc(n + 1, sizeof(*room));
	unsigned char *buf = NULL;
	size_t total = 0, m = 0;
	CK_RV rv = CKR_HOST_MEMORY;
	if (t == NULL || room == NULL)
		goto out;
	for (int tries = 0; tries < 2; tries++) {
		for (size_t i = 0; i < n; i++)
			t[i] = (CK_ATTRIBUTE){ types[i], NULL, 0 };
		rv = HSM_CALL(k, C_GetAttributeValue, k->s, h, t, n);
		if (!readable(rv))
			goto out;
		total = m = 0;
		for (size_t i = 0; i < n; i++) {
			if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
				continue;
			if (t[i].ulValueLen > HSM_ATTR_MAX) {
				hw_warn("module %s: C_GetAttributeValue gave %s a length of %lu", c->module,
					hw_attr_name(t[i].type), (unsigned long)t[i].ulValueLen);
				rv = CKR_DEVICE_ERROR;
				goto out;
			}
			room[m] = t[i].ulValueLen;
			t[m++] = t[i];
			total += t[i].ulValueLen;
		}
		if (buf != NULL)
			hw_wipe(buf, total);
		free(buf);
		if ((buf = malloc(total + 1)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		for (size_t i = 0, off = 0; i < m; off += room[i], i++)
			t[i].pValue = buf + off;
		rv = m > 0 ? HSM_CALL(k, C_GetAttributeValue, k->s, h, t, m) : CKR_OK;
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;                  /* else it grew in between: once more */
	}
	if (!readable(rv))
		goto out;
	rv = CKR_OK;
	for (size_t i = 0; i < m && rv == CKR_OK; i++) {
		if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
			continue;
		if (t[i].ulValueLen > room[i]) {
			hw_warn("module %s: C_GetAttributeValue wrote %lu bytes of %s into room for %lu",
				c->module, (unsigned long)t[i].ulValueLen, hw_attr_name(t[i].type),
				(unsigned long)room[i]);
			rv = CKR_DEVICE_ERROR;
			break;
		}
		rv = hw_attrs_set(out, t[i].type, t[i].pValue, t[i].ulValueLen);
	}
out:
	if (buf != NULL)
		hw_wipe(buf, total);
	free(buf);
	free(t);
	free(room);
	return rv;
}

/* read_attrs, and when the module fails the whole template with
 * CKR_GENERAL_ERROR (SoftHSM2 2.6 does once a date was set on a private
 * key: reading that date fails), one attribute at a time, so that one bad
 * attribute does not hide the object */
static CK_RV read_attrs_each(hsm_ctx *c, hsm_call *k, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE_TYPE *types,
			     size_t n, hw_attrs *out)
{
	CK_RV rv = read_attrs(c, k, h, types, n, out);
	for (size_t i = 0; rv == CKR_GENERAL_ERROR && i < n; i++) {
		CK_RV one = read_attrs(c, k, h, &types[i], 1, out);
		if (one != CKR_OK && one != CKR_GENERAL_ERROR) {
			rv = one;
			break;
		}
		if (one != CKR_OK)
			hw_debug("module %s: %s of object %lu is unreadable; left out", c->module,
				 hw_attr_name(types[i]), (unsigned long)h);
		if (i + 1 == n)
			rv = CKR_OK;
	}
	return rv;
}

/* Everything the engine might be asked for: the rule table, without
 * hwagg's own vendor attributes. */
static CK_RV read_object(hsm_ctx *c, hsm_call *k, CK_OBJECT_HANDLE h, hw_attrs *out)
{
	size_t n, m = 0;
	const hw_attr_rule *r = hw_rules_table(&n);
	CK_ATTRIBUTE_TYPE *types = calloc(n + 1, sizeof(*types));
	if (types == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n; i++)
		if (!in_hwagg_range(r[i].type))
			types[m++] = r[i].type;
	CK_RV rv = read_attrs_each(c, k, h, types, m, out);
	free(types);
	/* key material the token lets out (CKA_SENSITIVE false) stays there:
	 * hwagg never reveals it and never needs it */
	CK_ULONG cls = hw_attrs_get_ulong(out, CKA_CLASS, CKO_DATA);
	for (size_t i = 0; rv == CKR_OK && (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) && i < n; i++)
		if (r[i].flags & HW_R_SECRET)
			hw_attrs_remove(out, r[i].type);
	return rv;
}

static int cmp_handle(const void *a, const void *b)
{
	CK_OBJECT_HANDLE x = *(const CK_OBJECT_HANDLE *)a, y = *(const CK_OBJECT_HANDLE *)b;
	return x < y ? -1 : x > y;
}

/* Every object the control session sees, sorted by handle. */
static CK_RV find_all(hsm_ctx *c, hsm_call *k, CK_OBJECT_HANDLE **out, size_t *count)
{
	CK_OBJECT_HANDLE *v = NULL, chunk[HSM_FIND_CHUNK];
	CK_ULONG got;
	size_t n = 0;
	CK_RV rv = HSM_CALL(k, C_FindObjectsInit, k->s, NULL, 0);
	if (rv != CKR_OK)
		return rv;
	while ((rv = HSM_CALL(k, C_FindObjects, k->s, chunk, HSM_FIND_CHUNK, &got)) == CKR_OK && got > 0) {
		if (got > HSM_FIND_CHUNK || n + got > HSM_FIND_MAX) {
			hw_warn("module %s: C_FindObjects returned %lu handles (%zu so far) for room for %d",
				c->module, (unsigned long)got, n, HSM_FIND_CHUNK);
			rv = CKR_DEVICE_ERROR;
			break;
		}
		CK_OBJECT_HANDLE *nv = realloc(v, (n + got) * sizeof(*v));
		if (nv == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		v = nv;
		memcpy(v + n, chunk, got * sizeof(*v));
		n += got;
	}
	HSM_CALL(k, C_FindObjectsFinal, k->s);
	if (rv != CKR_OK) {
		free(v);
		return rv;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_handle);
	*out = v;
	*count = n;
	return CKR_OK;
}

/* CKA_PUBLIC_KEY_INFO from the key's public values when the lower token
 * has none (2.20 tokens, SoftHSM2 for keys it did not generate): the
 * engine verifies and encrypts with it. */
static void complete_spki(hw_attrs *a)
{
	const CK_ATTRIBUTE *spki = hw_attrs_get(a, CKA_PUBLIC_KEY_INFO), *x, *y;
	CK_ULONG kt = hw_attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	unsigned char *der = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	if (spki != NULL && spki->ulValueLen > 0)
		return;
	if (kt == CKK_RSA) {
		x = hw_attrs_get(a, CKA_MODULUS);
		y = hw_attrs_get(a, CKA_PUBLIC_EXPONENT);
	} else if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
		x = hw_attrs_get(a, CKA_EC_PARAMS);
		y = hw_attrs_get(a, CKA_EC_POINT);
	} else {
		return;
	}
	if (x == NULL || y == NULL ||
	    hw_key_from_public(kt, x->pValue, x->ulValueLen, y->pValue, y->ulValueLen, &key) != CKR_OK)
		return;
	if (hw_key_spki(key, NULL, &len) == CKR_OK && (der = malloc(len)) != NULL &&
	    hw_key_spki(key, der, &len) == CKR_OK)
		hw_attrs_set(a, CKA_PUBLIC_KEY_INFO, der, len);
	free(der);
	EVP_PKEY_free(key);
}

static bool has_value(const hw_attrs *a, CK_ATTRIBUTE_TYPE t)
{
	const CK_ATTRIBUTE *v = hw_attrs_get(a, t);
	return v != NULL && v->ulValueLen > 0;
}

/* A private EC key carries no point: its public half (same CKA_ID and key
 * type) has the SubjectPublicKeyInfo. */
static void pair_spki(hw_attrs *objs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hw_attrs *v = &objs[i];
		if (hw_attrs_get_ulong(v, CKA_CLASS, 0) != CKO_PRIVATE_KEY || has_value(v, CKA_PUBLIC_KEY_INFO) ||
		    !has_value(v, CKA_ID))
			continue;
		const CK_ATTRIBUTE *id = hw_attrs_get(v, CKA_ID);
		for (size_t j = 0; j < n; j++) {
			const hw_attrs *p = &objs[j];
			const CK_ATTRIBUTE *pid = hw_attrs_get(p, CKA_ID), *spki;
			if (hw_attrs_get_ulong(p, CKA_CLASS, 0) != CKO_PUBLIC_KEY || pid == NULL ||
			    hw_attrs_get_ulong(p, CKA_KEY_TYPE, 0) != hw_attrs_get_ulong(v, CKA_KEY_TYPE, 1) ||
			    pid->ulValueLen != id->ulValueLen || memcmp(pid->pValue, id->pValue, id->ulValueLen) != 0 ||
			    (spki = hw_attrs_get(p, CKA_PUBLIC_KEY_INFO)) == NULL || spki->ulValueLen == 0)
				continue;
			hw_attrs_set(v, CKA_PUBLIC_KEY_INFO, spki->pValue, spki->ulValueLen);
			break;
		}
	}
}

CK_RV hsm_tag(hsm_ctx *c, hw_attrs *a)
{
	/* c->uri changes only while binding, under ctl_lock, which callers hold */
	CK_RV rv = hw_vendor_attrs(a, "hsm", c->sec, 1, c->uri);
	/* the lower token keeps no creation time of ours: one set now would
	 * be gone at the next load */
	hw_attrs_remove(a, CKA_HWAGG_CREATED);
	return rv == CKR_OK ? hw_attrs_set_str(a, CKA_HWAGG_SLOT, c->conf->name) : rv;
}

/* A loss was seen (by this thread or another) since k was taken. */
static bool epoch_moved(hsm_ctx *c, const hsm_call *k)
{
	return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE) != k->epoch;
}

static hsm_key *key_new(CK_OBJECT_HANDLE h, uint64_t epoch, bool session_obj)
{
	hsm_key *b = malloc(sizeof(*b));
	if (b != NULL)
		*b = (hsm_key){ h, epoch, session_obj };
	return b;
}

bool hsm_changed(void *vctx)
{
	hsm_ctx *c = vctx;
	CK_OBJECT_HANDLE *hs;
	size_t n;
	hsm_call k;
	bool changed = true;
	if (hsm_ctl_begin(c, &k) != CKR_OK)
		return true;
	/* Objects created or destroyed (by us, another process or a login)
	 * change the set of handles; a changed attribute of an object that
	 * stays is seen at the next such change. */
	if (hsm_seen(c, &k, find_all(c, &k, &hs, &n), "C_FindObjects") == CKR_OK) {
		changed = !c->seen_all || c->seen_epoch != k.epoch || n != c->nseen ||
			  (n > 0 && memcmp(hs, c->seen, n * sizeof(*hs)) != 0);
		free(hs);
	}
	hsm_ctl_end(c, &k);
	return changed;
}

CK_RV hsm_load(void *vctx, hw_obj_sink sink, void *arg)
{
	hsm_ctx *c = vctx;
	CK_OBJECT_HANDLE *hs = NULL;
	hw_attrs *objs = NULL;
	bool *ok = NULL;
	size_t n = 0;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hsm_seen(c, &k, find_all(c, &k, &hs, &n), "C_FindObjects")) != CKR_OK)
		goto out;
	objs = calloc(n + 1, sizeof(*objs));
	ok = calloc(n + 1, sizeof(*ok));
	if (objs == NULL || ok == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		hw_attrs_init(&objs[i]);
		CK_RV one = hsm_seen(c, &k, read_object(c, &k, hs[i], &objs[i]), "C_GetAttributeValue");
		if (one == CKR_HOST_MEMORY || epoch_moved(c, &k)) {
			rv = one == CKR_OK ? CKR_DEVICE_REMOVED : one;
			goto out;
		}
		/* one unreadable object (destroyed meanwhile, or garbage) must not
		 * hide the others */
		ok[i] = one == CKR_OK;
		if (!ok[i])
			hw_debug("module %s: object %lu skipped: %s", c->module, (unsigned long)hs[i],
				 hw_rv_name(one));
		else
			complete_spki(&objs[i]);
	}
	pair_spki(objs, n);
	for (size_t i = 0; i < n && rv == CKR_OK; i++) {
		hsm_key *b = NULL;
		/* the lower module's session objects are our session keys, which
		 * the engine already holds (owned by their session), never token
		 * objects: listed, they would show up twice */
		if (!ok[i] || !hw_attrs_get_bool(&objs[i], CKA_TOKEN, true))
			continue;
		if ((rv = hsm_tag(c, &objs[i])) != CKR_OK || (b = key_new(hs[i], k.epoch, false)) == NULL) {
			rv = rv != CKR_OK ? rv : CKR_HOST_MEMORY;
			break;
		}
		hsm_version_apply(c->versions, c->ti.serialNumber, &objs[i]);
		rv = sink(arg, (int64_t)hs[i], &objs[i], b);
	}
	if (rv == CKR_OK) {
		free(c->seen);
		c->seen = hs;
		c->nseen = n;
		c->seen_epoch = k.epoch;
		c->seen_all = true;
		for (size_t i = 0; i < n; i++)
			c->seen_all &= ok[i];    /* else read them again next time */
		hs = NULL;
	}
out:
	for (size_t i = 0; objs != NULL && i < n; i++)
		hw_attrs_clear(&objs[i]);
	free(objs);
	free(ok);
	free(hs);
	hsm_ctl_end(c, &k);
	return rv;
}

/* What the lower token is given to create an object: what the application
 * and the engine set, except attributes only a token sets (hwagg's own
 * among them), values derived from others and empty defaults. The values
 * stay owned by a. */
static CK_RV lower_template(const hw_attrs *a, CK_ATTRIBUTE **out, CK_ULONG *n)
{
	CK_ATTRIBUTE *t = calloc(a->n + 1, sizeof(*t));
	CK_ULONG m = 0;
	if (t == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < a->n; i++) {
		const CK_ATTRIBUTE *at = &a->v[i];
		const hw_attr_rule *r = hw_rule_find(at->type);
		if (r == NULL || (r->flags & HW_R_TOKEN_ONLY) || at->type == CKA_PUBLIC_KEY_INFO)
			continue;
		if (at->ulValueLen == 0 && r->value != HW_V_BOOL && r->value != HW_V_ULONG)
			continue;
		t[m++] = *at;
	}
	*out = t;
	*n = m;
	return CKR_OK;
}

CK_RV hsm_create(void *vctx, hw_attrs *attrs, int64_t *oid)
{
	hsm_ctx *c = vctx;
	CK_ATTRIBUTE *t;
	CK_ULONG n;
	CK_OBJECT_HANDLE h;
	hsm_call k;
	CK_RV rv = lower_template(attrs, &t, &n);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hsm_ctl_begin(c, &k)) != CKR_OK)
		goto out;
	rv = hsm_seen(c, &k, HSM_CALL(&k, C_CreateObject, k.s, t, n, &h), "C_CreateObject");
	if (rv == CKR_OK) {
		/* the lower token's own CKA_UNIQUE_ID (if any) comes with the
		 * next load; an invented one would change under the caller */
		hw_attrs_remove(attrs, CKA_UNIQUE_ID);
		if ((rv = hsm_tag(c, attrs)) == CKR_OK)
			*oid = (int64_t)h;
		else
			HSM_CALL(&k, C_DestroyObject, k.s, h);
	}
	hsm_ctl_end(c, &k);
out:
	free(t);
	return rv;
}

CK_RV hsm_update(void *vctx, int64_t oid, const hw_attrs *attrs)
{
	hsm_ctx *c = vctx;
	CK_ATTRIBUTE_TYPE *types = calloc(attrs->n + 1, sizeof(*types));
	CK_ATTRIBUTE *set = calloc(attrs->n + 1, sizeof(*set));
	size_t nt = 0, ns = 0;
	hw_attrs cur;
	hsm_call k;
	CK_RV rv = CKR_HOST_MEMORY;
	hw_attrs_init(&cur);
	if (types == NULL || set == NULL)
		goto out;
	/* the engine hands over the whole new set; the lower token gets only
	 * the modifiable attributes whose value differs from its own */
	for (size_t i = 0; i < attrs->n; i++) {
		const hw_attr_rule *r = hw_rule_find(attrs->v[i].type);
		if (r != NULL && (r->flags & HW_R_MODIFIABLE) && !(r->flags & HW_R_TOKEN_ONLY))
			types[nt++] = attrs->v[i].type;
	}
	if ((rv = hsm_ctl_begin(c, &k)) != CKR_OK)
		goto out;
	rv = hsm_seen(c, &k, read_attrs_each(c, &k, (CK_OBJECT_HANDLE)oid, types, nt, &cur), "C_GetAttributeValue");
	for (size_t i = 0; i < nt && rv == CKR_OK; i++) {
		const CK_ATTRIBUTE *want = hw_attrs_get(attrs, types[i]), *now = hw_attrs_get(&cur, types[i]);
		if (now == NULL ? want->ulValueLen > 0 :
		    now->ulValueLen != want->ulValueLen || memcmp(now->pValue, want->pValue, want->ulValueLen) != 0)
			set[ns++] = *want;       /* an empty default the token lacks is no change */
	}
	if (rv == CKR_OK && ns > 0)
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_SetAttributeValue, k.s, (CK_OBJECT_HANDLE)oid, set, ns),
			      "C_SetAttributeValue");
	/* the key version, which the lower token cannot hold, beside it */
	if (rv == CKR_OK)
		rv = hsm_version_store(c->versions, c->conf->name, c->ti.serialNumber, attrs);
	hsm_ctl_end(c, &k);
out:
	hw_attrs_clear(&cur);
	free(types);
	free(set);
	return rv;
}

CK_RV hsm_destroy(void *vctx, int64_t oid, void *bdata)
{
	hsm_ctx *c = vctx;
	const hsm_key *b = bdata;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	if (b != NULL && b->epoch != k.epoch)
		rv = CKR_OBJECT_HANDLE_INVALID;
	else
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_DestroyObject, k.s, (CK_OBJECT_HANDLE)oid), "C_DestroyObject");
	hsm_ctl_end(c, &k);
	return rv;
}

void hsm_free_bdata(void *vctx, void *bdata)
{
	hsm_ctx *c = vctx;
	hsm_key *b = bdata;
	hsm_call k;
	/* a session key dies with our object; never in a forked child, whose
	 * lower state belongs to the parent */
	if (b->session_obj && hsm_lower_ours(c->lower) && hsm_ctl_begin(c, &k) == CKR_OK) {
		if (k.epoch == b->epoch)
			HSM_CALL(&k, C_DestroyObject, k.s, b->h);
		hsm_ctl_end(c, &k);
	}
	free(b);
}

/* The lower token's view of a new key over what the engine prepared. */
static CK_RV adopt(hsm_ctx *c, hsm_call *k, CK_OBJECT_HANDLE h, hw_attrs *a)
{
	hw_attrs got;
	hw_attrs_init(&got);
	CK_RV rv = hsm_seen(c, k, read_object(c, k, h, &got), "C_GetAttributeValue");
	for (size_t i = 0; i < got.n && rv == CKR_OK; i++)
		rv = hw_attrs_set(a, got.v[i].type, got.v[i].pValue, got.v[i].ulValueLen);
	if (rv == CKR_OK && hw_attrs_get(&got, CKA_UNIQUE_ID) == NULL)
		hw_attrs_remove(a, CKA_UNIQUE_ID);
	hw_attrs_clear(&got);
	if (rv == CKR_OK) {
		complete_spki(a);
		rv = hsm_tag(c, a);
	}
	return rv;
}

CK_RV hsm_generate(void *vctx, CK_KEY_TYPE type, const hw_keygen *g, bool token,
		   hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid, void **bdata)
{
	hsm_ctx *c = vctx;
	CK_MECHANISM m = { type == CKK_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN :
			   type == CKK_EC_EDWARDS ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	const CK_ATTRIBUTE *ecp = hw_attrs_get(priv, CKA_EC_PARAMS);
	CK_ATTRIBUTE *pt = NULL, *vt = NULL;
	CK_ULONG pn, vn;
	CK_OBJECT_HANDLE hp = CK_INVALID_HANDLE, hv = CK_INVALID_HANDLE;
	bool had_id = has_value(pub, CKA_ID) || has_value(priv, CKA_ID);
	hsm_key *key = NULL;
	hsm_call k;
	CK_RV rv = CKR_OK;
	/* some applications name the curve in the private template only */
	if (type != CKK_RSA && hw_attrs_get(pub, CKA_EC_PARAMS) == NULL && ecp != NULL)
		rv = hw_attrs_set(pub, CKA_EC_PARAMS, ecp->pValue, ecp->ulValueLen);
	/* the token takes the pair's parameters on the public half only
	 * (SoftHSM2 refuses them in a private template); the private key
	 * gets them back from the public one (hw_keypair_complete) */
	hw_attrs_remove(priv, CKA_EC_PARAMS);
	hw_attrs_remove(priv, CKA_PUBLIC_EXPONENT);
	if (rv != CKR_OK || (rv = lower_template(pub, &pt, &pn)) != CKR_OK ||
	    (rv = lower_template(priv, &vt, &vn)) != CKR_OK || (rv = hsm_ctl_begin(c, &k)) != CKR_OK)
		goto out;
	rv = hsm_seen(c, &k, HSM_CALL(&k, C_GenerateKeyPair, k.s, &m, pt, pn, vt, vn, &hp, &hv),
		      "C_GenerateKeyPair");
	if (rv == CKR_OK && (rv = adopt(c, &k, hp, pub)) == CKR_OK && (rv = adopt(c, &k, hv, priv)) == CKR_OK)
		rv = hw_keypair_complete(pub, priv);
	if (rv == CKR_OK && !had_id) {
		/* the CKA_ID hwagg derived from the public key, on both halves */
		CK_ATTRIBUTE id = *hw_attrs_get(pub, CKA_ID);
		if ((rv = HSM_CALL(&k, C_SetAttributeValue, k.s, hp, &id, 1)) == CKR_OK)
			rv = HSM_CALL(&k, C_SetAttributeValue, k.s, hv, &id, 1);
	}
	if (rv == CKR_OK && (key = key_new(hv, k.epoch, !token)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && token) {
		*pub_oid = (int64_t)hp;
		*priv_oid = (int64_t)hv;
	} else if (rv == CKR_OK) {
		/* the public half of a session pair lives in hwagg alone: public
		 * key operations are done in software */
		HSM_CALL(&k, C_DestroyObject, k.s, hp);
	} else if (hp != CK_INVALID_HANDLE) {
		/* all or nothing (B 5.14.2) */
		HSM_CALL(&k, C_DestroyObject, k.s, hp);
		HSM_CALL(&k, C_DestroyObject, k.s, hv);
	}
	hsm_ctl_end(c, &k);
	if (rv == CKR_OK) {
		*bdata = key;
		key = NULL;
	}
out:
	free(key);
	free(pt);
	free(vt);
	return rv;
}

/* C_GenerateKey (unwrapping NULL), C_UnwrapKey or, mech NULL, C_CreateObject
 * (an import) on the control session; the new lower key is read back like a
 * loaded one, or destroyed again when that fails (all or nothing). */
/* A key the lower token makes: created (mech NULL), generated (no
 * other key), derived from the base key (unwrapping, no wrapped bytes) or
 * unwrapped. */
static CK_RV make_key(hsm_ctx *c, const CK_MECHANISM *mech, const hw_obj *unwrapping,
		      const unsigned char *wrapped, size_t len, bool token, hw_attrs *attrs,
		      int64_t *oid, void **bdata)
{
	CK_ATTRIBUTE *t;
	CK_ULONG n;
	CK_OBJECT_HANDLE hu, h = CK_INVALID_HANDLE;
	hsm_key *b = NULL;
	hsm_call k;
	CK_RV rv = lower_template(attrs, &t, &n);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hsm_ctl_begin(c, &k)) != CKR_OK)
		goto out;
	if (mech == NULL)
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_CreateObject, k.s, t, n, &h), "C_CreateObject");
	else if (unwrapping == NULL)
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_GenerateKey, k.s, (CK_MECHANISM_PTR)mech, t, n, &h),
			      "C_GenerateKey");
	else if (hsm_key_handle(unwrapping, &k, &hu) != CKR_OK)
		rv = wrapped != NULL ? CKR_UNWRAPPING_KEY_HANDLE_INVALID : CKR_KEY_HANDLE_INVALID;
	else if (wrapped == NULL)
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_DeriveKey, k.s, (CK_MECHANISM_PTR)mech, hu, t, n, &h),
			      "C_DeriveKey");
	else
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_UnwrapKey, k.s, (CK_MECHANISM_PTR)mech, hu,
					      (CK_BYTE_PTR)wrapped, len, t, n, &h), "C_UnwrapKey");
	if (rv == CKR_OK && (rv = adopt(c, &k, h, attrs)) == CKR_OK && (b = key_new(h, k.epoch, !token)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK) {
		*oid = token ? (int64_t)h : 0;
		*bdata = b;
	} else if (h != CK_INVALID_HANDLE) {
		HSM_CALL(&k, C_DestroyObject, k.s, h);
	}
	hsm_ctl_end(c, &k);
out:
	free(t);
	return rv;
}

CK_RV hsm_generate_key(void *vctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs,
		       int64_t *oid, void **bdata)
{
	return make_key(vctx, mech, NULL, NULL, 0, token, attrs, oid, bdata);
}

CK_RV hsm_import(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	/* a token derives CKA_VALUE_LEN from the value and refuses it in a
	 * creation template (B 4.10 fn 2 | M "AES"); it comes back with the
	 * key's other attributes */
	hw_attrs_remove(attrs, CKA_VALUE_LEN);
	return make_key(vctx, NULL, NULL, NULL, 0, token, attrs, oid, bdata);
}

/* C_DeriveKey: make_key with the base key and no wrapped bytes. */
CK_RV hsm_derive(void *vctx, const CK_MECHANISM *mech, hw_obj *base, bool token, hw_attrs *attrs, int64_t *oid,
		 void **bdata)
{
	return make_key(vctx, mech, base, NULL, 0, token, attrs, oid, bdata);
}

CK_RV hsm_unwrap(void *vctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
		 size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	return make_key(vctx, mech, unwrapping, wrapped, len, token, attrs, oid, bdata);
}

CK_RV hsm_wrap(void *vctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key,
	       unsigned char *out, size_t *out_len)
{
	hsm_ctx *c = vctx;
	CK_OBJECT_HANDLE hw, hk;
	CK_ULONG got = *out_len;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	if (hsm_key_handle(wrapping, &k, &hw) != CKR_OK)
		rv = CKR_WRAPPING_KEY_HANDLE_INVALID;
	else if ((rv = hsm_key_handle(key, &k, &hk)) == CKR_OK)
		rv = hsm_seen(c, &k, HSM_CALL(&k, C_WrapKey, k.s, (CK_MECHANISM_PTR)mech, hw, hk, out, &got),
			      "C_WrapKey");
	if (rv == CKR_OK && out != NULL && got > *out_len) {
		hw_warn("module %s: C_WrapKey returned %lu bytes for a buffer of %zu", c->module,
			(unsigned long)got, *out_len);
		rv = CKR_DEVICE_ERROR;
	}
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		*out_len = got;
	hsm_ctl_end(c, &k);
	return rv;
}
