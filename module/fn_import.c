/*
 * Keys brought in from outside (C_CreateObject of a secret or private
 * key): checked here, kept by the backend as it keeps the keys it makes,
 * and marked for what they are — CKA_LOCAL false, never
 * CKA_ALWAYS_SENSITIVE or CKA_NEVER_EXTRACTABLE (B 4.9 fn, M "AES"). A
 * slot's "allow_import" decides whether it takes them at all; in the
 * production environment it defaults to false.
 */
#include "module/objutil.h"
#include "module/policy.h"
#include "common/log.h"
#include "mechanisms/key_import.h"
#include "module/mechpolicy.h"
#include "objects/rules.h"

#include <string.h>

bool hw_import_allowed(const hw_slot *s)
{
	char why[128];
	bool dflt = hw_env_current(why, sizeof(why)) != HW_ENV_PRODUCTION;
	if (hw_conf_bool(s->conf, "allow_import", dflt))
		return true;
	hw_warn("slot \"%s\": key import refused: \"allow_import\" is false%s", s->conf->name,
		dflt ? "" : " (the default in production)");
	return false;
}

/* C_CreateObject of a secret key (import): the value comes from the
 * template and is kept by the backend as it keeps the keys it makes; the
 * key is marked for what it is: CKA_LOCAL false, and never
 * CKA_ALWAYS_SENSITIVE or CKA_NEVER_EXTRACTABLE (B 4.9 fn, M "AES"). */
CK_RV hw_secret_import(hw_session *se, hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
	hw_attrs a;
	const CK_ATTRIBUTE *v = hw_tmpl_find(t, n, CKA_VALUE);
	CK_ULONG kt = 0, len = 0;
	bool found = false, token = false;
	int64_t oid = 0;
	void *bdata = NULL;
	CK_RV rv;
	hw_attrs_init(&a);
	if ((rv = hw_rules_check(t, n, CKO_SECRET_KEY, HW_TMPL_CREATE, NULL, s->auth == HW_AUTH_SO)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_KEY_TYPE, &kt, &found)) != CKR_OK)
		goto out;
	if (!found || v == NULL || v->ulValueLen == 0) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if (kt == CKK_AES ? v->ulValueLen != 16 && v->ulValueLen != 24 && v->ulValueLen != 32
			  : (kt != CKK_GENERIC_SECRET && !hw_hmac_key_type(kt)) || v->ulValueLen > HW_SECRET_MAX) {
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	/* CKA_VALUE_LEN is the value's: one that says otherwise contradicts it */
	if ((rv = hw_tmpl_ulong(t, n, CKA_VALUE_LEN, &len, &found)) != CKR_OK)
		goto out;
	if (found && len != v->ulValueLen) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if ((rv = hw_new_key_attrs(se, s, t, n, CKO_SECRET_KEY, CK_UNAVAILABLE_INFORMATION, &a, &token)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(&a, CKA_VALUE_LEN, v->ulValueLen)) != CKR_OK)
		goto out;
	rv = s->ops->import_key(s->ctx, token, &a, &oid, &bdata);
	hw_attrs_remove(&a, CKA_VALUE);        /* never in the cache, whatever happened */
	rv = hw_new_key_install(se, s, rv, &a, oid, bdata, out, "import", "CKO_SECRET_KEY", token);
out:
	hw_attrs_clear(&a);
	return rv;
}

static CK_RV public_sink(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

/* The public parts a private key carries (CKA_PUBLIC_KEY_INFO, modulus,
 * curve) and its CKA_ID from them when the template gave none, as for a
 * generated key. */
static CK_RV public_parts(EVP_PKEY *k, hw_attrs *priv)
{
	hw_attrs pub;
	hw_attrs_init(&pub);
	CK_RV rv = hw_key_public_attrs(k, public_sink, &pub);
	if (rv == CKR_OK)
		rv = hw_keypair_complete(&pub, priv);
	hw_attrs_clear(&pub);
	return rv;
}

/* The keypair-generation mechanism of a key type: its size rules are
 * the slot's rules for any key of that type. */
static CK_RV size_allowed(const hw_slot *s, EVP_PKEY *k)
{
	CK_KEY_TYPE kt = hw_key_type(k);
	const hw_mech *m = hw_mech_find(kt == CKK_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN
					: kt == CKK_EC ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN);
	return m != NULL ? hw_mech_key_size_check(s->conf, m, hw_key_bits(k)) : CKR_ATTRIBUTE_VALUE_INVALID;
}

CK_RV hw_private_import(hw_session *se, hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
	hw_attrs a;
	EVP_PKEY *k = NULL;
	CK_ULONG kt = 0;
	bool found = false, token = false;
	int64_t oid = 0;
	void *bdata = NULL;
	CK_RV rv;
	hw_attrs_init(&a);
	if ((rv = hw_rules_check(t, n, CKO_PRIVATE_KEY, HW_TMPL_CREATE, NULL, s->auth == HW_AUTH_SO)) != CKR_OK ||
	    (rv = hw_tmpl_ulong(t, n, CKA_KEY_TYPE, &kt, &found)) != CKR_OK)
		goto out;
	if (!found) {
		rv = CKR_TEMPLATE_INCOMPLETE;
		goto out;
	}
	if ((rv = hw_new_key_attrs(se, s, t, n, CKO_PRIVATE_KEY, CK_UNAVAILABLE_INFORMATION, &a, &token)) != CKR_OK)
		goto out;
	/* the parts must make a key this slot may hold before it sees them */
	if ((rv = hw_key_from_attrs(&a, &k)) != CKR_OK || (rv = size_allowed(s, k)) != CKR_OK ||
	    (rv = public_parts(k, &a)) != CKR_OK) {
		hw_info("slot \"%s\": private key import: %s", s->conf->name, hw_rv_name(rv));
		goto out;
	}
	rv = s->ops->import_key(s->ctx, token, &a, &oid, &bdata);
	hw_key_strip_private(&a);          /* never in the cache, whatever happened */
	rv = hw_new_key_install(se, s, rv, &a, oid, bdata, out, "import", "CKO_PRIVATE_KEY", token);
out:
	EVP_PKEY_free(k);
	hw_attrs_clear(&a);
	return rv;
}
