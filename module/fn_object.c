/*
 * Object management (B 5.7): create, copy, destroy, attributes, search.
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "common/log.h"
#include "module/audit.h"
#include "module/objutil.h"
#include "objects/rules.h"
#include "module/policy.h"

#include <stdlib.h>
#include <string.h>

/* Access rule for creating, changing or destroying an object (B 5.7.1,
 * UG "Permitted object accesses by sessions"). */
CK_RV hw_can_write(const hw_session *se, const hw_slot *s, bool token, bool priv)
{
	if (token && !(se->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (priv && s->auth != HW_AUTH_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

/* Put a new object in place: persisted by the backend when it is a token
 * object, else owned by the session. Takes attrs. */
CK_RV hw_obj_install(hw_session *se, hw_slot *s, hw_attrs *attrs, int64_t oid, void *bdata,
		     CK_OBJECT_HANDLE *out)
{
	bool token = hw_attrs_get_bool(attrs, CKA_TOKEN, false);
	hw_obj *o = hw_obj_new(s->index, token ? oid : 0, token ? 0 : se->handle, attrs, bdata);
	if (o == NULL) {
		hw_attrs_clear(attrs);
		if (bdata != NULL && s->ops->free_bdata != NULL)
			s->ops->free_bdata(s->ctx, bdata);
		return CKR_HOST_MEMORY;
	}
	CK_RV rv = CKR_OK;
	hw_lock(&s->lock);
	/* a listing that ran meanwhile may have brought it in already */
	hw_obj *known = token ? hw_obj_find_oid_inlock(s, oid) : NULL;
	if (known != NULL)
		*out = known->handle;
	else if ((rv = hw_obj_add_inlock(s, o)) == CKR_OK)
		*out = o->handle;
	hw_unlock(&s->lock);
	if (known != NULL || rv != CKR_OK)
		hw_obj_put(o);
	return rv;
}

static bool is_key(CK_ULONG cls)
{
	return cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

/* An import of a key, done or refused: refused before the template was
 * taken in, the record names the key by the template's class, ID and label
 * (never its value). */
static void audit_import(const hw_slot *s, const CK_ATTRIBUTE *tmpl, CK_ULONG n, hw_attrs *a, CK_RV rv)
{
	static const CK_ATTRIBUTE_TYPE names[] = { CKA_CLASS, CKA_ID, CKA_LABEL };
	for (size_t i = 0; a->n == 0 && tmpl != NULL && i < HW_ARRAY_LEN(names); i++) {
		const CK_ATTRIBUTE *t = hw_tmpl_find(tmpl, n, names[i]);
		if (t != NULL && t->pValue != NULL && hw_attrs_set(a, t->type, t->pValue, t->ulValueLen) != CKR_OK)
			break;
	}
	hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_IMPORT, .slot = s, .key = a, .rv = rv });
}

CK_RV hw_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
	hw_session *se;
	hw_attrs a;
	CK_ULONG cls = 0;
	bool found = false, token, priv;
	int64_t oid = 0;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (out == NULL || (tmpl == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* through a policy token: on the member a new key would go to */
	if (s->policy != NULL && (s = hw_policy_create_slot(s)) == NULL) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	if ((rv = hw_tmpl_ulong(tmpl, n, CKA_CLASS, &cls, &found)) != CKR_OK)
		goto out;
	if (!found) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if (s->ops->import_key != NULL && (cls == CKO_SECRET_KEY || (cls == CKO_PRIVATE_KEY && s->ops->imports_private))) {
		/* through a policy token, both it and the member must allow it */
		if (!hw_import_allowed(&hw_g.slots[se->slot]) || !hw_import_allowed(s))
			rv = CKR_ACTION_PROHIBITED;
		else if (cls == CKO_SECRET_KEY)
			rv = hw_secret_import(se, s, tmpl, n, out);
		else
			rv = hw_private_import(se, s, tmpl, n, out);
		goto out;
	}
	if (cls != CKO_DATA && cls != CKO_CERTIFICATE && cls != CKO_PUBLIC_KEY) {
		/* keys only where the slot can keep them */
		hw_info("slot \"%s\": create object: class 0x%lx cannot be created here (only data, "
			"certificates and public keys)", s->conf->name, (unsigned long)cls);
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	if ((rv = hw_rules_check(tmpl, n, cls, HW_TMPL_CREATE, NULL, s->auth == HW_AUTH_SO)) != CKR_OK)
		goto out;
	if ((rv = hw_tmpl_bool(tmpl, n, CKA_TOKEN, false, &token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(tmpl, n, CKA_PRIVATE, false, &priv)) != CKR_OK)
		goto out;
	if ((rv = hw_can_write(se, s, token, priv)) != CKR_OK)
		goto out;
	if ((rv = hw_attrs_merge(&a, tmpl, n)) != CKR_OK ||
	    (rv = hw_obj_complete_import(&a, cls)) != CKR_OK ||
	    (rv = hw_rules_defaults(&a, cls, false, 0)) != CKR_OK ||
	    (rv = hw_obj_common_attrs(&a, s)) != CKR_OK)
		goto out;
	if (token) {
		if (s->ops->create == NULL) {
			rv = CKR_FUNCTION_NOT_SUPPORTED;
			goto out;
		}
		if ((rv = s->ops->create(s->ctx, &a, &oid)) != CKR_OK)
			goto out;
	}
	rv = hw_obj_install(se, s, &a, oid, NULL, out);
out:
	if (found && is_key(cls))
		audit_import(s, tmpl, n, &a, rv);
	hw_attrs_clear(&a);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE src, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		      CK_OBJECT_HANDLE *out)
{
	hw_session *se;
	hw_obj *o = NULL;
	hw_attrs a;
	int64_t oid = 0;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (out == NULL || (tmpl == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = hw_obj_get(se, src, CKR_OBJECT_HANDLE_INVALID, &o)) != CKR_OK)
		goto out;
	s = hw_obj_worker(o);          /* a copy lives beside its original */
	hw_snap *snap = hw_obj_snap(o);
	rv = hw_attrs_copy(&a, hw_snap_attrs(snap));
	hw_snap_put(snap);
	if (rv != CKR_OK)
		goto out;
	CK_ULONG cls = hw_attrs_get_ulong(&a, CKA_CLASS, CKO_DATA);
	if (!hw_attrs_get_bool(&a, CKA_COPYABLE, true)) {
		rv = CKR_ACTION_PROHIBITED;
		goto out;
	}
	if ((rv = hw_rules_check(tmpl, n, cls, HW_TMPL_COPY, &a, s->auth == HW_AUTH_SO)) != CKR_OK ||
	    (rv = hw_attrs_merge(&a, tmpl, n)) != CKR_OK)
		goto out;
	hw_attrs_remove(&a, CKA_UNIQUE_ID);
	if ((rv = hw_obj_common_attrs(&a, s)) != CKR_OK)
		goto out;
	bool token = hw_attrs_get_bool(&a, CKA_TOKEN, false);
	if ((rv = hw_can_write(se, s, token, hw_attrs_get_bool(&a, CKA_PRIVATE, false))) != CKR_OK)
		goto out;
	if (token) {
		rv = s->ops->create ? s->ops->create(s->ctx, &a, &oid) : CKR_FUNCTION_NOT_SUPPORTED;
		if (rv != CKR_OK)
			goto out;
	}
	rv = hw_obj_install(se, s, &a, oid, NULL, out);
out:
	hw_attrs_clear(&a);
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	hw_session *se;
	hw_obj *o = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if ((rv = hw_obj_get(se, oh, CKR_OBJECT_HANDLE_INVALID, &o)) != CKR_OK)
		goto out;
	s = hw_obj_worker(o);          /* a policy token's object is its member's */
	bool token = o->oid != 0;
	hw_snap *snap = hw_obj_snap(o);
	bool key = is_key(hw_attrs_get_ulong(hw_snap_attrs(snap), CKA_CLASS, CKO_DATA));
	if (!hw_attrs_get_bool(hw_snap_attrs(snap), CKA_DESTROYABLE, true))
		rv = CKR_ACTION_PROHIBITED;
	else
		rv = hw_can_write(se, s, token, hw_attrs_get_bool(hw_snap_attrs(snap), CKA_PRIVATE, false));
	/* the backend's I/O runs with no engine lock held */
	if (rv == CKR_OK && token)
		rv = s->ops->destroy ? s->ops->destroy(s->ctx, o->oid, o->bdata) : CKR_FUNCTION_NOT_SUPPORTED;
	if (rv == CKR_OK) {
		hw_lock(&s->lock);
		if (!o->dead)
			hw_obj_unlink_inlock(s, o);
		hw_unlock(&s->lock);
	}
	hw_info("slot \"%s\": destroy object %lu: %s", s->conf->name, (unsigned long)oh, hw_rv_name(rv));
	if (key)
		hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_DESTROY, .slot = s, .key = hw_snap_attrs(snap),
					       .handle = oh, .rv = rv });
	hw_snap_put(snap);
out:
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ULONG *size)
{
	hw_session *se;
	hw_obj *o = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	if (size == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = hw_obj_get(se, oh, CKR_OBJECT_HANDLE_INVALID, &o)) == CKR_OK)
		*size = CK_UNAVAILABLE_INFORMATION;   /* B 5.7.4 allows it */
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}

/* A secret key neither sensitive nor unextractable has a readable value
 * (B 4.10), which only its backend holds. */
static bool value_readable(const hw_slot *s, const hw_attrs *a)
{
	return s->ops->key_value != NULL && hw_attrs_get_ulong(a, CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY &&
	       !hw_attrs_get_bool(a, CKA_SENSITIVE, true) && hw_attrs_get_bool(a, CKA_EXTRACTABLE, false);
}

static CK_RV read_with_value(const hw_slot *s, hw_obj *o, const hw_attrs *a, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	hw_secret *v = NULL;
	hw_attrs all;
	hw_attrs_init(&all);
	CK_RV rv = s->ops->key_value(s->ctx, o, &v);
	if (rv == CKR_OK && (rv = hw_attrs_copy(&all, a)) == CKR_OK &&
	    (rv = hw_attrs_set(&all, CKA_VALUE, v->data, v->len)) == CKR_OK)
		rv = hw_attrs_read(&all, tmpl, n, NULL);
	else if (rv != CKR_HOST_MEMORY)
		rv = hw_attrs_read(a, tmpl, n, hw_rules_hidden);   /* the value stays unread */
	hw_attrs_clear(&all);    /* wipes the copy */
	hw_secret_free(v);
	return rv;
}

CK_RV hw_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	hw_session *se;
	hw_obj *o = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	if (tmpl == NULL && n > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if ((rv = hw_obj_get(se, oh, CKR_OBJECT_HANDLE_INVALID, &o)) == CKR_OK) {
		hw_snap *snap = hw_obj_snap(o);
		if (hw_tmpl_find(tmpl, n, CKA_VALUE) != NULL && value_readable(&hw_g.slots[se->slot], hw_snap_attrs(snap)))
			rv = read_with_value(&hw_g.slots[se->slot], o, hw_snap_attrs(snap), tmpl, n);
		else
			rv = hw_attrs_read(hw_snap_attrs(snap), tmpl, n, hw_rules_hidden);
		hw_snap_put(snap);
	}
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}

/* trusted: the engine's own change (hw_obj_set_trusted), not held to the
 * template rules. */
static CK_RV set_attrs(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, const CK_ATTRIBUTE *tmpl, CK_ULONG n, bool trusted)
{
	hw_session *se;
	hw_obj *o = NULL;
	hw_attrs a;
	const char *why = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (tmpl == NULL && n > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = hw_obj_get(se, oh, CKR_OBJECT_HANDLE_INVALID, &o)) != CKR_OK)
		goto out;
	s = hw_obj_worker(o);
	/* io: one change of the slot's objects at a time, and none while a
	 * listing runs, so that no update is lost or undone by a reload */
	hw_lock(&s->io);
	hw_snap *snap = hw_obj_snap(o);
	const hw_attrs *cur = hw_snap_attrs(snap);
	CK_ULONG cls = hw_attrs_get_ulong(cur, CKA_CLASS, CKO_DATA);
	bool token = o->oid != 0;
	if (!hw_attrs_get_bool(cur, CKA_MODIFIABLE, true))
		rv = CKR_ACTION_PROHIBITED;
	else if ((rv = hw_can_write(se, s, token, hw_attrs_get_bool(cur, CKA_PRIVATE, false))) != CKR_OK)
		;
	else if (!trusted && (rv = hw_rules_check(tmpl, n, cls, HW_TMPL_SET, cur, s->auth == HW_AUTH_SO)) != CKR_OK)
		;
	else if ((rv = hw_attrs_copy(&a, cur)) != CKR_OK || (rv = hw_attrs_merge(&a, tmpl, n)) != CKR_OK)
		;
	else if ((rv = hw_rules_roles(cur, &a, &why)) != CKR_OK)
		hw_warn("slot \"%s\": attribute change refused: %s", s->conf->name, why);
	else if (token && s->ops->update == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else if (token && (rv = s->ops->update(s->ctx, o->oid, &a)) != CKR_OK)
		;
	else {
		/* all or nothing: the new set is published only now */
		hw_lock(&s->lock);
		rv = o->dead ? CKR_OBJECT_HANDLE_INVALID : hw_obj_publish_inlock(o, &a);
		hw_unlock(&s->lock);
	}
	hw_snap_put(snap);
	hw_unlock(&s->io);
out:
	hw_attrs_clear(&a);
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	return set_attrs(h, oh, tmpl, n, false);
}

CK_RV hw_obj_set_version(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ULONG version)
{
	CK_ATTRIBUTE a = { CKA_HWAGG_KEY_VERSION, &version, sizeof(version) };
	return set_attrs(h, oh, &a, 1, true);
}

CK_RV hw_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if (tmpl == NULL && n > 0) {
		hw_session_put(se);
		return CKR_ARGUMENTS_BAD;
	}
	hw_lock(&se->lock);
	if (se->finding) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	/* the listing runs with no slot lock held; a backend read error still
	 * lets cached objects be found */
	CK_OBJECT_HANDLE *found = NULL;
	size_t nf = 0;
	hw_slot_sync(s);
	rv = hw_slot_collect(s, tmpl, n, &found, &nf);
	/* a policy token: its members' objects too (module/policy.h) */
	if (rv == CKR_OK && s->policy != NULL)
		rv = hw_policy_find(s, tmpl, n, &found, &nf);
	if (rv != CKR_OK)
		free(found);
	if (rv == CKR_OK) {
		free(se->found);
		se->found = found;
		se->nfound = nf;
		se->found_pos = 0;
		se->finding = true;
	}
out:
	hw_unlock(&se->lock);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	if (count == NULL || (out == NULL && max > 0)) {
		hw_session_put(se);
		return CKR_ARGUMENTS_BAD;
	}
	hw_lock(&se->lock);
	if (!se->finding) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else {
		CK_ULONG k = 0;
		while (k < max && se->found_pos < se->nfound)
			out[k++] = se->found[se->found_pos++];
		*count = k;
	}
	hw_unlock(&se->lock);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_lock(&se->lock);
	if (!se->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	se->finding = false;
	free(se->found);
	se->found = NULL;
	se->nfound = se->found_pos = 0;
	hw_unlock(&se->lock);
	hw_session_put(se);
	return rv;
}
