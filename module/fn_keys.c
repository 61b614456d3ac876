/*
 * Key management and random numbers (B 5.14 | 5.18, 5.15 | 5.19).
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "module/objutil.h"
#include "module/log.h"
#include "mechanisms/mech.h"
#include "objects/rules.h"

#include <string.h>

/* Class and key type named in a generate template must agree (B 5.14.2). */
static CK_RV check_named(const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
	CK_ULONG v;
	bool found;
	CK_RV rv = hw_tmpl_ulong(t, n, CKA_CLASS, &v, &found);
	if (rv != CKR_OK)
		return rv;
	if (found && v != cls)
		return CKR_TEMPLATE_INCONSISTENT;
	if ((rv = hw_tmpl_ulong(t, n, CKA_KEY_TYPE, &v, &found)) != CKR_OK)
		return rv;
	if (found && v != kt)
		return CKR_TEMPLATE_INCONSISTENT;
	return hw_rules_check(t, n, cls, HW_TMPL_GENERATE, NULL, false);
}

/* Mechanism and public template -> what to generate. */
static CK_RV keygen_params(const hw_mech *m, const CK_ATTRIBUTE *pt, CK_ULONG pn,
			   const CK_ATTRIBUTE *vt, CK_ULONG vn, hw_keygen *g)
{
	memset(g, 0, sizeof(*g));
	g->key_type = m->key_type;
	if (m->key_type == CKK_RSA) {
		bool found;
		CK_RV rv = hw_tmpl_ulong(pt, pn, CKA_MODULUS_BITS, &g->rsa_bits, &found);
		if (rv != CKR_OK)
			return rv;
		if (!found)
			return CKR_TEMPLATE_INCOMPLETE;
		if (g->rsa_bits < m->min_key || g->rsa_bits > m->max_key || g->rsa_bits % 8 != 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;    /* B 5.14.2: not KEY_SIZE_RANGE */
		const CK_ATTRIBUTE *e = hw_tmpl_find(pt, pn, CKA_PUBLIC_EXPONENT);
		if (e != NULL) {
			g->rsa_e = e->pValue;
			g->rsa_e_len = e->ulValueLen;
		}
		return CKR_OK;
	}
	const CK_ATTRIBUTE *p = hw_tmpl_find(pt, pn, CKA_EC_PARAMS);
	if (p == NULL)
		p = hw_tmpl_find(vt, vn, CKA_EC_PARAMS);  /* some applications put it there */
	if (p == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	CK_RV rv = hw_curve_from_params(p->pValue, p->ulValueLen, &g->curve);
	if (rv != CKR_OK)
		return rv;
	if (g->curve->key_type != m->key_type)
		return CKR_CURVE_NOT_SUPPORTED;   /* M 2.3.9: Edwards with EC_KEY_PAIR_GEN */
	return CKR_OK;
}

CK_RV hw_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM *mech,
			   CK_ATTRIBUTE *pt, CK_ULONG pn, CK_ATTRIBUTE *vt, CK_ULONG vn,
			   CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	hw_session *se;
	hw_attrs pub, priv;
	hw_keygen g;
	bool pub_token, priv_token, priv_private;
	int64_t pub_oid = 0, priv_oid = 0;
	void *bdata = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&pub);
	hw_attrs_init(&priv);
	hw_slot *s = &hw_g.slots[se->slot];
	const hw_mech *m = mech ? hw_mech_find(mech->mechanism) : NULL;
	if (mech == NULL || pub_h == NULL || priv_h == NULL || (pt == NULL && pn > 0) ||
	    (vt == NULL && vn > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (m == NULL || !(m->flags & CKF_GENERATE_KEY_PAIR) || s->ops->generate_key_pair == NULL ||
	    s->ops->has_mechanism == NULL || !s->ops->has_mechanism(s->ctx, m->type, NULL)) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
		rv = CKR_MECHANISM_PARAM_INVALID;
		goto out;
	}
	if ((rv = check_named(pt, pn, CKO_PUBLIC_KEY, m->key_type)) != CKR_OK ||
	    (rv = check_named(vt, vn, CKO_PRIVATE_KEY, m->key_type)) != CKR_OK ||
	    (rv = keygen_params(m, pt, pn, vt, vn, &g)) != CKR_OK)
		goto out;
	if ((rv = hw_tmpl_bool(pt, pn, CKA_TOKEN, false, &pub_token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(vt, vn, CKA_TOKEN, false, &priv_token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(vt, vn, CKA_PRIVATE, true, &priv_private)) != CKR_OK)
		goto out;
	if (pub_token != priv_token) {
		/* a pair lives in one place: both persistent or both session */
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if ((rv = hw_can_write(se, s, priv_token, priv_private)) != CKR_OK)
		goto out;
	/* a key in a private slot needs the user even when CKA_PRIVATE is false */
	if (s->auth != HW_AUTH_USER) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY, vc = CKO_PRIVATE_KEY;
	if ((rv = hw_attrs_merge(&pub, pt, pn)) != CKR_OK || (rv = hw_attrs_merge(&priv, vt, vn)) != CKR_OK ||
	    (rv = hw_attrs_set(&pub, CKA_CLASS, &pc, sizeof(pc))) != CKR_OK ||
	    (rv = hw_attrs_set(&priv, CKA_CLASS, &vc, sizeof(vc))) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(&pub, CKA_KEY_TYPE, m->key_type)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(&priv, CKA_KEY_TYPE, m->key_type)) != CKR_OK ||
	    (rv = hw_rules_defaults(&pub, CKO_PUBLIC_KEY, true, m->type)) != CKR_OK ||
	    (rv = hw_rules_defaults(&priv, CKO_PRIVATE_KEY, true, m->type)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(&priv, CKA_COPYABLE, false)) != CKR_OK ||
	    (rv = hw_obj_common_attrs(&pub, s)) != CKR_OK || (rv = hw_obj_common_attrs(&priv, s)) != CKR_OK)
		goto out;
	/* no lock held: generation may take seconds or go over the network */
	rv = s->ops->generate_key_pair(s->ctx, m->key_type, &g, priv_token, &pub, &priv,
				       &pub_oid, &priv_oid, &bdata);
	if (rv != CKR_OK)
		goto log;
	if ((rv = hw_obj_install(se, s, &pub, pub_oid, NULL, pub_h)) != CKR_OK)
		goto log;
	rv = hw_obj_install(se, s, &priv, priv_oid, bdata, priv_h);
	bdata = NULL;
log:
	hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": generate %s key pair (%s): %s",
	       s->conf->name, m->name, priv_token ? "token" : "session", hw_rv_name(rv));
out:
	if (bdata != NULL && s->ops->free_bdata != NULL)
		s->ops->free_bdata(s->ctx, bdata);
	hw_attrs_clear(&pub);
	hw_attrs_clear(&priv);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_ATTRIBUTE *t, CK_ULONG n,
		       CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return CKR_FUNCTION_NOT_SUPPORTED;   /* secret keys: README, not supported */
}

CK_RV hw_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE wrapping,
		   CK_OBJECT_HANDLE key, unsigned char *out, CK_ULONG *out_len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV hw_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE unwrapping,
		     unsigned char *wrapped, CK_ULONG len, CK_ATTRIBUTE *t, CK_ULONG n,
		     CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV hw_C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE base,
		     CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV hw_C_SeedRandom(CK_SESSION_HANDLE h, unsigned char *seed, CK_ULONG len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	/* the generator seeds itself from the OS; outside seeding is refused */
	return CKR_RANDOM_SEED_NOT_SUPPORTED;
}

CK_RV hw_C_GenerateRandom(CK_SESSION_HANDLE h, unsigned char *out, CK_ULONG len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if (out == NULL && len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (len > 0 && s->ops->generate_random != NULL)
		rv = s->ops->generate_random(s->ctx, out, len);
	else if (len > 0)
		rv = hw_random(out, len);
	hw_session_put(se);
	return rv;
}
