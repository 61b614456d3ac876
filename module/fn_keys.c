/*
 * Key management and random numbers (B 5.14 | 5.18, 5.15 | 5.19).
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "module/objutil.h"
#include "common/log.h"
#include "module/audit.h"
#include "mechanisms/mech.h"
#include "module/mechpolicy.h"
#include "objects/rules.h"
#include "module/policy.h"

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

/* Two big-endian integers (CKA_PUBLIC_EXPONENT) are the same number:
 * leading zero bytes do not count. */
static bool same_integer(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
	const unsigned char *x = a->pValue, *y = b->pValue;
	CK_ULONG xl = a->ulValueLen, yl = b->ulValueLen;
	while (xl > 0 && x[0] == 0) {
		x++;
		xl--;
	}
	while (yl > 0 && y[0] == 0) {
		y++;
		yl--;
	}
	return xl == yl && (xl == 0 || memcmp(x, y, xl) == 0);
}

/* Two CKA_EC_PARAMS name the same curve, maybe differently (an OID and a
 * 3.0 curve name); unparsable ones name nothing. */
static bool same_curve(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
	const hw_curve *x, *y;
	return hw_curve_from_params(a->pValue, a->ulValueLen, &x) == CKR_OK &&
	       hw_curve_from_params(b->pValue, b->ulValueLen, &y) == CKR_OK && x == y;
}

/* A parameter of the pair that applications give in either template (the
 * spec puts CKA_EC_PARAMS and CKA_PUBLIC_EXPONENT in the public one; some
 * put them in the private one too, or only there): the one given, NULL if
 * none; two that differ contradict each other (B 5.14.2). */
static CK_RV pair_param(const CK_ATTRIBUTE *pt, CK_ULONG pn, const CK_ATTRIBUTE *vt, CK_ULONG vn,
			CK_ATTRIBUTE_TYPE type, bool (*same)(const CK_ATTRIBUTE *, const CK_ATTRIBUTE *),
			const CK_ATTRIBUTE **out)
{
	const CK_ATTRIBUTE *a = hw_tmpl_find(pt, pn, type), *b = hw_tmpl_find(vt, vn, type);
	*out = a != NULL ? a : b;
	return a != NULL && b != NULL && !same(a, b) ? CKR_TEMPLATE_INCONSISTENT : CKR_OK;
}

/* Mechanism and templates -> what to generate on slot s. A refusal the
 * application can fix says which attribute, its value and the rule in why. */
static CK_RV keygen_params(const hw_slot *s, const hw_mech *m, const CK_ATTRIBUTE *pt, CK_ULONG pn,
			   const CK_ATTRIBUTE *vt, CK_ULONG vn, hw_keygen *g, char *why, size_t wlen)
{
	const CK_ATTRIBUTE *p;
	CK_ULONG min, max;
	CK_RV rv;
	memset(g, 0, sizeof(*g));
	g->key_type = m->key_type;
	if (m->key_type == CKK_RSA) {
		bool found;
		if ((rv = hw_tmpl_ulong(pt, pn, CKA_MODULUS_BITS, &g->rsa_bits, &found)) != CKR_OK)
			return rv;
		if (!found) {
			snprintf(why, wlen, "CKA_MODULUS_BITS missing: the public template must give the RSA key size");
			return CKR_TEMPLATE_INCOMPLETE;
		}
		/* a size hwagg cannot make is a bad attribute value: B 5.14.2
		 * lists no CKR_KEY_SIZE_RANGE for key generation */
		if (g->rsa_bits < m->min_key || g->rsa_bits > m->max_key || g->rsa_bits % 8 != 0) {
			snprintf(why, wlen, "CKA_MODULUS_BITS = %lu: hwagg makes RSA keys of %lu to %lu bits, a multiple "
				 "of 8", (unsigned long)g->rsa_bits, (unsigned long)m->min_key, (unsigned long)m->max_key);
			return CKR_ATTRIBUTE_VALUE_INVALID;
		}
		/* one it makes but this slot's configuration refuses is refused
		 * as a key of that size is at *Init (B 5.1.6 KEY_SIZE_RANGE) */
		if ((rv = hw_mech_key_size_check(s->conf, m, g->rsa_bits)) != CKR_OK) {
			hw_mech_key_range(s->conf, m, &min, &max);
			snprintf(why, wlen, "CKA_MODULUS_BITS = %lu: below the slot's rsa_min_bits (%lu) in the "
				 "configuration", (unsigned long)g->rsa_bits, (unsigned long)min);
			return rv;
		}
		if ((rv = pair_param(pt, pn, vt, vn, CKA_PUBLIC_EXPONENT, same_integer, &p)) != CKR_OK) {
			snprintf(why, wlen, "CKA_PUBLIC_EXPONENT differs between the public and the private template");
			return rv;
		}
		if (p != NULL) {
			g->rsa_e = p->pValue;
			g->rsa_e_len = p->ulValueLen;
		}
		return CKR_OK;
	}
	if ((rv = pair_param(pt, pn, vt, vn, CKA_EC_PARAMS, same_curve, &p)) != CKR_OK) {
		snprintf(why, wlen, "CKA_EC_PARAMS differs between the public and the private template");
		return rv;
	}
	if (p == NULL) {
		snprintf(why, wlen, "CKA_EC_PARAMS missing: the public template must name the curve");
		return CKR_TEMPLATE_INCOMPLETE;
	}
	rv = hw_curve_from_params(p->pValue, p->ulValueLen, &g->curve);
	if (rv != CKR_OK) {
		char hex[2 * 16 + 4] = "";
		size_t n = p->ulValueLen < 16 ? p->ulValueLen : 16, o = 0;
		for (size_t i = 0; i < n && p->pValue != NULL; i++)
			o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%02x", ((const unsigned char *)p->pValue)[i]);
		snprintf(why, wlen, "CKA_EC_PARAMS = %s%s: not a curve hwagg supports (P-256, P-384, P-521 for "
			 "%s; Ed25519 for CKM_EC_EDWARDS_KEY_PAIR_GEN)", hex, p->ulValueLen > 16 ? "..." : "", m->name);
		return rv;
	}
	if (g->curve->key_type != m->key_type) {
		snprintf(why, wlen, "CKA_EC_PARAMS names a curve %s does not make", m->name);
		return CKR_CURVE_NOT_SUPPORTED;   /* M 2.3.9: Edwards with EC_KEY_PAIR_GEN */
	}
	return CKR_OK;
}

/* The pair's parameter given in the private template only goes on the
 * public half too, where a backend that passes templates on (hsm) and the
 * spec (M 2.1.4, 2.3.9) expect it. */
static CK_RV public_param(hw_attrs *pub, const hw_mech *m, const CK_ATTRIBUTE *vt, CK_ULONG vn)
{
	CK_ATTRIBUTE_TYPE t = m->key_type == CKK_RSA ? CKA_PUBLIC_EXPONENT : CKA_EC_PARAMS;
	const CK_ATTRIBUTE *a = hw_tmpl_find(vt, vn, t);
	if (a == NULL || hw_attrs_get(pub, t) != NULL)
		return CKR_OK;
	return hw_attrs_set(pub, t, a->pValue, a->ulValueLen);
}

/* The mechanism of a key management call: known to hwagg with the flag,
 * offered by the slot, with the parameter the table allows. */
static CK_RV key_mech(hw_slot *s, const CK_MECHANISM *mech, CK_FLAGS need, const hw_mech **out)
{
	const hw_mech *m = hw_mech_find(mech->mechanism);
	if (m == NULL || !(m->flags & need) || s->ops->has_mechanism == NULL ||
	    !s->ops->has_mechanism(s->ctx, m->base, NULL))
		return CKR_MECHANISM_INVALID;
	CK_RV rv = hw_mech_policy_check(s->conf, m);
	if (rv != CKR_OK)
		return rv;
	*out = m;
	if (m->check_param != NULL)
		return m->check_param(m, mech);
	return (mech->pParameter != NULL || mech->ulParameterLen != 0) ? CKR_MECHANISM_PARAM_INVALID : CKR_OK;
}

CK_RV hw_keypair_generate(hw_session *se, hw_slot *s, const CK_MECHANISM *mech,
			  const CK_ATTRIBUTE *pt, CK_ULONG pn, const CK_ATTRIBUTE *vt, CK_ULONG vn,
			  CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	hw_attrs pub, priv, shown;
	hw_keygen g;
	char why[256] = "";
	bool pub_token, priv_token, priv_private;
	int64_t pub_oid = 0, priv_oid = 0;
	void *bdata = NULL;
	const hw_mech *m = NULL;
	CK_RV rv;
	hw_attrs_init(&pub);
	hw_attrs_init(&priv);
	hw_attrs_init(&shown);
	if (s->ops->generate_key_pair == NULL) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if ((rv = key_mech(s, mech, CKF_GENERATE_KEY_PAIR, &m)) != CKR_OK ||
	    (rv = check_named(pt, pn, CKO_PUBLIC_KEY, m->key_type)) != CKR_OK ||
	    (rv = check_named(vt, vn, CKO_PRIVATE_KEY, m->key_type)) != CKR_OK)
		goto out;
	if ((rv = keygen_params(s, m, pt, pn, vt, vn, &g, why, sizeof(why))) != CKR_OK)
		goto refused;
	if ((rv = hw_tmpl_bool(pt, pn, CKA_TOKEN, false, &pub_token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(vt, vn, CKA_TOKEN, false, &priv_token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(vt, vn, CKA_PRIVATE, true, &priv_private)) != CKR_OK)
		goto out;
	if (pub_token != priv_token) {
		/* a pair lives in one place: both persistent or both session */
		snprintf(why, sizeof(why), "CKA_TOKEN = %s in the public template, %s in the private one: a pair "
			 "is either on the token or in the session", pub_token ? "true" : "false",
			 priv_token ? "true" : "false");
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto refused;
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
	    (rv = public_param(&pub, m, vt, vn)) != CKR_OK ||
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
	hw_audit_subject_copy(&shown, &priv);   /* priv goes to the cache */
	if (rv != CKR_OK)
		goto log;
	if ((rv = hw_obj_install(se, s, &pub, pub_oid, NULL, pub_h)) != CKR_OK)
		goto log;
	rv = hw_obj_install(se, s, &priv, priv_oid, bdata, priv_h);
	bdata = NULL;
log:
	hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": generate %s key pair (%s): %s",
	       s->conf->name, m->name, priv_token ? "token" : "session", hw_rv_name(rv));
	hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_KEYGEN, .slot = s, .key = &shown, .mech = m->name,
				       .rv = rv });
	goto out;
refused:
	hw_warn("slot \"%s\": %s key pair refused: %s (%s)", s->conf->name, m->name, why, hw_rv_name(rv));
out:
	if (bdata != NULL && s->ops->free_bdata != NULL)
		s->ops->free_bdata(s->ctx, bdata);
	hw_attrs_clear(&pub);
	hw_attrs_clear(&priv);
	hw_attrs_clear(&shown);
	return rv;
}

CK_RV hw_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM *mech,
			   CK_ATTRIBUTE *pt, CK_ULONG pn, CK_ATTRIBUTE *vt, CK_ULONG vn,
			   CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if (mech == NULL || pub_h == NULL || priv_h == NULL || (pt == NULL && pn > 0) ||
	    (vt == NULL && vn > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (s->policy != NULL)
		rv = hw_policy_generate_key_pair(se, s, mech, pt, pn, vt, vn, pub_h, priv_h);
	else
		rv = hw_keypair_generate(se, s, mech, pt, pn, vt, vn, pub_h, priv_h);
	hw_session_put(se);
	return rv;
}

CK_RV hw_new_key_attrs(const hw_session *se, const hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n,
			   CK_OBJECT_CLASS cls, CK_MECHANISM_TYPE gen, hw_attrs *a, bool *token)
{
	bool priv;
	CK_RV rv;
	if ((rv = hw_tmpl_bool(t, n, CKA_TOKEN, false, token)) != CKR_OK ||
	    (rv = hw_tmpl_bool(t, n, CKA_PRIVATE, true, &priv)) != CKR_OK ||
	    (rv = hw_can_write(se, s, *token, priv)) != CKR_OK)
		return rv;
	/* a key in a private slot needs the user even when CKA_PRIVATE is false */
	if (s->auth != HW_AUTH_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if ((rv = hw_attrs_merge(a, t, n)) != CKR_OK || (rv = hw_attrs_set_ulong(a, CKA_CLASS, cls)) != CKR_OK ||
	    (rv = hw_rules_defaults(a, cls, gen != CK_UNAVAILABLE_INFORMATION, gen)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_COPYABLE, false)) != CKR_OK)
		return rv;
	return hw_obj_common_attrs(a, s);
}

/* Hand the backend's new key to the session (or free what it made). */
CK_RV hw_new_key_install(hw_session *se, hw_slot *s, CK_RV rv, hw_attrs *a, int64_t oid, void *bdata,
			     CK_OBJECT_HANDLE *out, const char *what, const char *how, bool token)
{
	hw_attrs shown;
	hw_attrs_init(&shown);
	hw_audit_subject_copy(&shown, a);     /* a goes to the cache */
	if (rv == CKR_OK)
		rv = hw_obj_install(se, s, a, oid, bdata, out);
	else if (bdata != NULL && s->ops->free_bdata != NULL)
		s->ops->free_bdata(s->ctx, bdata);
	hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": %s key (%s, %s): %s", s->conf->name,
	       what, how, token ? "token" : "session", hw_rv_name(rv));
	/* an import is recorded by C_CreateObject, refused or done */
	if (strcmp(what, "import") != 0)
		hw_audit_event(&(hw_audit_ev){ .kind = strcmp(what, "unwrap") == 0 ? HW_AUDIT_UNWRAP : HW_AUDIT_KEYGEN,
					       .slot = s, .key = &shown, .mech = how, .rv = rv });
	hw_attrs_clear(&shown);
	return rv;
}

/* The HMAC key types (M "HMAC"): generic secrets named after their digest. */
bool hw_hmac_key_type(CK_KEY_TYPE kt)
{
	return kt == CKK_SHA_1_HMAC || kt == CKK_SHA224_HMAC || kt == CKK_SHA256_HMAC || kt == CKK_SHA384_HMAC ||
	       kt == CKK_SHA512_HMAC;
}

/* The key type a secret key generation makes: the mechanism's, or for
 * CKM_GENERIC_SECRET_KEY_GEN an HMAC key type the template names. */
static CK_RV secret_key_type(const hw_mech *m, const CK_ATTRIBUTE *t, CK_ULONG n, CK_ULONG *kt)
{
	bool found;
	CK_RV rv = hw_tmpl_ulong(t, n, CKA_KEY_TYPE, kt, &found);
	if (rv == CKR_OK && !(found && m->type == CKM_GENERIC_SECRET_KEY_GEN && hw_hmac_key_type(*kt)))
		*kt = m->key_type;
	return rv;
}

CK_RV hw_C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_ATTRIBUTE *t, CK_ULONG n,
		       CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	hw_attrs a;
	const hw_mech *m = NULL;
	CK_ULONG len = 0, kt = 0;
	bool found, token = false;
	int64_t oid = 0;
	void *bdata = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (s->ops->generate_key == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;   /* secret keys: README, not supported */
		goto out;
	}
	if (mech == NULL || key == NULL || (t == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = key_mech(s, mech, CKF_GENERATE, &m)) != CKR_OK ||
	    (rv = secret_key_type(m, t, n, &kt)) != CKR_OK ||
	    (rv = check_named(t, n, CKO_SECRET_KEY, kt)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_VALUE_LEN, &len, &found)) != CKR_OK)
		goto out;
	if (!found) {
		rv = CKR_TEMPLATE_INCOMPLETE;      /* M 2.15: the length is the caller's */
		goto out;
	}
	/* AES has three sizes in the table's range (M "AES") */
	if (len < m->min_key || len > m->max_key || (m->key_type == CKK_AES && len % 8 != 0)) {
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	if ((rv = hw_mech_key_size_check(s->conf, m, len)) != CKR_OK)
		goto out;
	if ((rv = hw_new_key_attrs(se, s, t, n, CKO_SECRET_KEY, m->type, &a, &token)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(&a, CKA_KEY_TYPE, kt)) != CKR_OK)
		goto out;
	/* no lock held: the token may take its time */
	rv = s->ops->generate_key(s->ctx, mech, token, &a, &oid, &bdata);
	rv = hw_new_key_install(se, s, rv, &a, oid, bdata, key, "generate", m->name, token);
out:
	hw_attrs_clear(&a);
	hw_session_put(se);
	return rv;
}

/* Wrapping must not be a way out for a sensitive key (the published
 * attacks on PKCS#11 key management): one may leave only under a key that
 * nobody can turn the wrapped bytes back into its value with — one the SO
 * marked CKA_TRUSTED, or a secret key that was never known outside its
 * token (CKA_ALWAYS_SENSITIVE: not imported, not unwrapped) and cannot
 * decrypt. A public wrapping key needs CKA_TRUSTED: whoever holds its
 * private key reads what it wraps. Whatever the token refuses anyway
 * (unextractable keys, keys without CKA_WRAP) is left to it, so that its
 * answer is the one the application sees. */
/* A public wrapping key (RSA-OAEP): what it wraps is read by whoever can
 * decrypt with its private key. It may wrap a sensitive key only when that
 * private key is this token's (the same modulus: a CKA_ID can be copied)
 * and no copy of it may decrypt. NULL: allowed, else why not. */
static const char *public_wrap_refused(const hw_slot *cs, const hw_attrs *w)
{
	const CK_ATTRIBUTE *mod = hw_attrs_get(w, CKA_MODULUS);
	hw_slot *s = (hw_slot *)cs;
	bool found = false, decrypts = false;
	if (mod == NULL || mod->ulValueLen == 0)
		return "a public wrapping key must be CKA_TRUSTED to wrap a sensitive key";
	hw_lock(&s->lock);
	for (size_t i = 0; i < s->nobjs; i++) {
		const hw_attrs *a = hw_obj_attrs_inlock(s->objs[i]);
		const CK_ATTRIBUTE *m = hw_attrs_get(a, CKA_MODULUS);
		if (hw_attrs_get_ulong(a, CKA_CLASS, CKO_DATA) != CKO_PRIVATE_KEY || m == NULL ||
		    m->ulValueLen != mod->ulValueLen || memcmp(m->pValue, mod->pValue, m->ulValueLen) != 0)
			continue;
		found = true;
		decrypts |= hw_attrs_get_bool(a, CKA_DECRYPT, true);
	}
	hw_unlock(&s->lock);
	if (!found)
		return "the public wrapping key's private key is not this token's (or not visible), and it is not "
		       "CKA_TRUSTED";
	return decrypts ? "the public wrapping key's private key can also decrypt what it wraps" : NULL;
}

static CK_RV wrap_allowed(const hw_slot *s, hw_obj *wk, hw_obj *k)
{
	hw_snap *ws = hw_obj_snap(wk), *ks = hw_obj_snap(k);
	const hw_attrs *w = hw_snap_attrs(ws), *a = hw_snap_attrs(ks);
	const char *why = NULL;
	if (hw_attrs_get_bool(a, CKA_SENSITIVE, true) && hw_attrs_get_bool(a, CKA_EXTRACTABLE, false) &&
	    hw_attrs_get_bool(w, CKA_WRAP, false) && !hw_attrs_get_bool(w, CKA_TRUSTED, false)) {
		if (hw_attrs_get_ulong(w, CKA_CLASS, CKO_DATA) != CKO_SECRET_KEY)
			why = public_wrap_refused(hw_obj_worker(wk), w);
		else if (hw_attrs_get_bool(w, CKA_DECRYPT, false))
			why = "the wrapping key can also decrypt what it wraps";
		else if (!hw_attrs_get_bool(w, CKA_ALWAYS_SENSITIVE, false))
			why = "the wrapping key was known outside the token (imported or unwrapped)";
	}
	hw_snap_put(ws);
	hw_snap_put(ks);
	if (why == NULL)
		return CKR_OK;
	hw_warn("slot \"%s\": key wrap of a sensitive key refused: %s", s->conf->name, why);
	return CKR_KEY_NOT_WRAPPABLE;
}

CK_RV hw_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE wrapping,
		   CK_OBJECT_HANDLE key, unsigned char *out, CK_ULONG *out_len)
{
	hw_session *se;
	hw_obj *wk = NULL, *k = NULL;
	const hw_mech *m = NULL;
	size_t len;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if (s->ops->wrap_key == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (mech == NULL || out_len == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = key_mech(s, mech, CKF_WRAP, &m)) != CKR_OK ||
	    (rv = hw_obj_get(se, wrapping, CKR_WRAPPING_KEY_HANDLE_INVALID, &wk)) != CKR_OK ||
	    (rv = hw_obj_get(se, key, CKR_KEY_HANDLE_INVALID, &k)) != CKR_OK)
		goto out;
	if ((rv = wrap_allowed(s, wk, k)) != CKR_OK)
		goto out;
	/* whether the keys may be used so is the token's to say */
	len = *out_len;
	rv = s->ops->wrap_key(s->ctx, mech, wk, k, out, &len);
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		*out_len = len;
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_warn("slot \"%s\": %s wrap: %s", s->conf->name, m->name, hw_rv_name(rv));
	if (out != NULL && rv != CKR_BUFFER_TOO_SMALL) {
		hw_snap *snap = hw_obj_snap(k);
		hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_WRAP, .slot = s, .key = hw_snap_attrs(snap),
					       .handle = k->handle, .mech = m->name, .rv = rv });
		hw_snap_put(snap);
	}
out:
	hw_obj_put(wk);
	hw_obj_put(k);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE unwrapping,
		     unsigned char *wrapped, CK_ULONG len, CK_ATTRIBUTE *t, CK_ULONG n,
		     CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	hw_obj *uk = NULL;
	hw_attrs a;
	const hw_mech *m = NULL;
	CK_ULONG cls = 0;
	bool found, token = false, sensitive = true;
	int64_t oid = 0;
	void *bdata = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (s->ops->unwrap_key == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (mech == NULL || wrapped == NULL || key == NULL || (t == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = key_mech(s, mech, CKF_UNWRAP, &m)) != CKR_OK ||
	    (rv = hw_obj_get(se, unwrapping, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &uk)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_CLASS, &cls, &found)) != CKR_OK)
		goto out;
	/* the wrapped bytes do not say what they are: the template must */
	if (!found) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	/* An unwrapped key is sensitive: the bytes may be those of a sensitive
	 * key wrapped here, which must not come back readable (the published
	 * wrap-and-unwrap attack on PKCS#11). */
	if ((rv = hw_tmpl_bool(t, n, CKA_SENSITIVE, true, &sensitive)) != CKR_OK)
		goto out;
	if (!sensitive) {
		hw_warn("slot \"%s\": %s unwrap refused: an unwrapped key is always sensitive", s->conf->name, m->name);
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	/* fn 6: key material comes from the wrapped bytes, never the template */
	if ((rv = hw_rules_check(t, n, cls, HW_TMPL_GENERATE, NULL, false)) != CKR_OK ||
	    (rv = hw_new_key_attrs(se, s, t, n, cls, CK_UNAVAILABLE_INFORMATION, &a, &token)) != CKR_OK)
		goto out;
	rv = s->ops->unwrap_key(s->ctx, mech, uk, wrapped, len, token, &a, &oid, &bdata);
	rv = hw_new_key_install(se, s, rv, &a, oid, bdata, key, "unwrap", m->name, token);
out:
	hw_attrs_clear(&a);
	hw_obj_put(uk);
	hw_session_put(se);
	return rv;
}

/* The base key of a derivation: a private key of the mechanism's type
 * that allows it (B 5.18.5); the derived key is always sensitive or never
 * extractable only if the base was too (B 4.10 fn). */
static CK_RV derive_base(const hw_mech *m, hw_obj *base, hw_attrs *a)
{
	hw_snap *snap = hw_obj_snap(base);
	const hw_attrs *b = hw_snap_attrs(snap);
	CK_RV rv = CKR_OK;
	if (hw_attrs_get_ulong(b, CKA_CLASS, CKO_DATA) != CKO_PRIVATE_KEY ||
	    hw_attrs_get_ulong(b, CKA_KEY_TYPE, CKK_VENDOR_DEFINED) != m->key_type)
		rv = CKR_KEY_TYPE_INCONSISTENT;
	else if (!hw_attrs_get_bool(b, CKA_DERIVE, false))
		rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
	else if ((rv = hw_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, hw_attrs_get_bool(b, CKA_ALWAYS_SENSITIVE, false) &&
						  hw_attrs_get_bool(a, CKA_SENSITIVE, true))) == CKR_OK)
		rv = hw_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, hw_attrs_get_bool(b, CKA_NEVER_EXTRACTABLE, false) &&
							 !hw_attrs_get_bool(a, CKA_EXTRACTABLE, false));
	hw_snap_put(snap);
	return rv;
}

CK_RV hw_C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE base,
		     CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *key)
{
	hw_session *se;
	hw_obj *bk = NULL;
	hw_attrs a;
	const hw_mech *m = NULL;
	CK_ULONG kt = 0, len = 0, cls = CKO_SECRET_KEY;
	bool found, lfound, token = false;
	int64_t oid = 0;
	void *bdata = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&a);
	hw_slot *s = &hw_g.slots[se->slot];
	if (s->ops->derive_key == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (mech == NULL || key == NULL || (t == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = key_mech(s, mech, CKF_DERIVE, &m)) != CKR_OK ||
	    (rv = hw_obj_get(se, base, CKR_KEY_HANDLE_INVALID, &bk)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_CLASS, &cls, &found)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_KEY_TYPE, &kt, &found)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_VALUE_LEN, &len, &lfound)) != CKR_OK)
		goto out;
	/* a secret key of a type the template names (M 2.3.13) */
	if (!found) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if (cls != CKO_SECRET_KEY || (kt != CKK_AES && kt != CKK_GENERIC_SECRET && !hw_hmac_key_type(kt))) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if (kt == CKK_AES ? !lfound || (len != 16 && len != 24 && len != 32)
			  : lfound && (len == 0 || len > HW_SECRET_MAX)) {
		rv = kt == CKK_AES && !lfound ? CKR_TEMPLATE_INCOMPLETE : CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	if ((rv = hw_rules_check(t, n, CKO_SECRET_KEY, HW_TMPL_GENERATE, NULL, false)) != CKR_OK ||
	    (rv = hw_new_key_attrs(se, s, t, n, CKO_SECRET_KEY, CK_UNAVAILABLE_INFORMATION, &a, &token)) != CKR_OK ||
	    (rv = derive_base(m, bk, &a)) != CKR_OK)
		goto out;
	rv = s->ops->derive_key(s->ctx, mech, bk, token, &a, &oid, &bdata);
	rv = hw_new_key_install(se, s, rv, &a, oid, bdata, key, "derive", m->name, token);
out:
	hw_attrs_clear(&a);
	hw_obj_put(bk);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_SeedRandom(CK_SESSION_HANDLE h, unsigned char *seed, CK_ULONG len)
{
	/* the generator seeds itself from the OS; outside seeding is refused,
	 * after the session and argument checks (B 5.15.1 | 5.19.1) */
	return hw_session_answer(h, seed == NULL && len > 0 ? CKR_ARGUMENTS_BAD : CKR_RANDOM_SEED_NOT_SUPPORTED);
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

CK_RV hw_keypair_rotate(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	hw_session *se;
	hw_obj *o = NULL;
	hw_attrs pub, priv;
	int64_t pub_oid = 0, priv_oid = 0;
	void *bdata = NULL;
	HW_RETURN_IF(pub_h == NULL || priv_h == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_attrs_init(&pub);
	hw_attrs_init(&priv);
	hw_slot *s = &hw_g.slots[se->slot];
	if ((rv = hw_obj_get(se, key, CKR_KEY_HANDLE_INVALID, &o)) != CKR_OK)
		goto out;
	/* a policy token's key is made again by placement, not versioned */
	if (hw_obj_worker(o) != s || s->ops->rotate_key == NULL || o->oid == 0) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (s->auth != HW_AUTH_USER) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	if ((rv = hw_can_write(se, s, true, true)) != CKR_OK ||
	    (rv = hw_obj_common_attrs(&pub, s)) != CKR_OK || (rv = hw_obj_common_attrs(&priv, s)) != CKR_OK)
		goto out;
	hw_snap *snap = hw_obj_snap(o);
	CK_ULONG next = hw_attrs_get_ulong(hw_snap_attrs(snap), CKA_HWAGG_KEY_VERSION, 1) + 1;
	hw_snap_put(snap);
	/* no lock held: a new version goes over the network */
	rv = s->ops->rotate_key(s->ctx, o, next, &pub, &priv, &pub_oid, &priv_oid, &bdata);
	if (rv == CKR_OK && (rv = hw_obj_install(se, s, &pub, pub_oid, NULL, pub_h)) == CKR_OK) {
		rv = hw_obj_install(se, s, &priv, priv_oid, bdata, priv_h);
		bdata = NULL;
	}
	if (rv != CKR_FUNCTION_NOT_SUPPORTED)
		hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": new version of key %lu: %s",
		       s->conf->name, (unsigned long)key, hw_rv_name(rv));
out:
	if (bdata != NULL && s->ops->free_bdata != NULL)
		s->ops->free_bdata(s->ctx, bdata);
	hw_attrs_clear(&pub);
	hw_attrs_clear(&priv);
	hw_obj_put(o);
	hw_session_put(se);
	return rv;
}
