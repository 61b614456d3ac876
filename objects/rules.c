/*
 * The attribute table. Flags are worded after the footnotes of the base
 * specification's attribute tables (B 4.2): a non-obvious rule carries the
 * paragraph it comes from.
 */
#include "objects/rules.h"

#include <stdio.h>
#include <string.h>

#define A(t, v, c, f) { t, #t, v, c, f }
#define TO HW_R_TOKEN_ONLY
#define NG HW_R_NOT_GEN
#define MO HW_R_MODIFIABLE
#define SE HW_R_SECRET
#define CP HW_R_COPY_OK

static const hw_attr_rule rules[] = {
	/* common object and storage attributes (B 4.4): only CKA_LABEL is
	 * modifiable; TOKEN/PRIVATE/MODIFIABLE/DESTROYABLE change only by copy */
	A(CKA_CLASS, HW_V_ULONG, HW_C_ANY, 0),
	A(CKA_TOKEN, HW_V_BOOL, HW_C_ANY, CP),
	A(CKA_PRIVATE, HW_V_BOOL, HW_C_ANY, CP),
	A(CKA_MODIFIABLE, HW_V_BOOL, HW_C_ANY, CP),
	A(CKA_COPYABLE, HW_V_BOOL, HW_C_ANY, 0),
	A(CKA_DESTROYABLE, HW_V_BOOL, HW_C_ANY, CP),
	A(CKA_LABEL, HW_V_STR, HW_C_ANY, MO | CP),
	A(CKA_UNIQUE_ID, HW_V_STR, HW_C_ANY, TO),  /* B3.0 4.4.1: never settable */
	/* data objects (B 4.5) */
	A(CKA_APPLICATION, HW_V_STR, HW_C_DATA, MO | CP),
	A(CKA_OBJECT_ID, HW_V_BYTES, HW_C_DATA, MO | CP),
	A(CKA_VALUE, HW_V_BYTES, HW_C_DATA | HW_C_CERT | HW_C_PRIV | HW_C_SECRET, SE | NG),
	/* certificates (B 4.6) */
	A(CKA_CERTIFICATE_TYPE, HW_V_ULONG, HW_C_CERT, 0),
	A(CKA_TRUSTED, HW_V_BOOL, HW_C_CERT | HW_C_PUB | HW_C_SECRET, MO | HW_R_SO_ONLY | HW_R_TO_TRUE),   /* fn 10: the SO marks a key trusted */
	A(CKA_CERTIFICATE_CATEGORY, HW_V_ULONG, HW_C_CERT, 0),
	A(CKA_CHECK_VALUE, HW_V_BYTES, HW_C_CERT | HW_C_SECRET, 0),
	A(CKA_START_DATE, HW_V_DATE, HW_C_CERT | HW_C_KEY, MO | CP),
	A(CKA_END_DATE, HW_V_DATE, HW_C_CERT | HW_C_KEY, MO | CP),
	A(CKA_SUBJECT, HW_V_BYTES, HW_C_CERT | HW_C_PUB | HW_C_PRIV, MO | CP),
	A(CKA_ID, HW_V_BYTES, HW_C_CERT | HW_C_KEY, MO | CP),
	A(CKA_ISSUER, HW_V_BYTES, HW_C_CERT, MO | CP),
	A(CKA_SERIAL_NUMBER, HW_V_BYTES, HW_C_CERT, MO | CP),
	A(CKA_URL, HW_V_STR, HW_C_CERT, 0),
	A(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, HW_V_BYTES, HW_C_CERT, 0),
	A(CKA_HASH_OF_ISSUER_PUBLIC_KEY, HW_V_BYTES, HW_C_CERT, 0),
	A(CKA_JAVA_MIDP_SECURITY_DOMAIN, HW_V_ULONG, HW_C_CERT, 0),
	A(CKA_NAME_HASH_ALGORITHM, HW_V_ULONG, HW_C_CERT, 0),
	/* keys (B 4.7) */
	A(CKA_KEY_TYPE, HW_V_ULONG, HW_C_KEY, 0),
	A(CKA_DERIVE, HW_V_BOOL, HW_C_KEY, MO | CP),
	A(CKA_LOCAL, HW_V_BOOL, HW_C_KEY, TO),                    /* fn 2/4/6 */
	A(CKA_KEY_GEN_MECHANISM, HW_V_ULONG, HW_C_KEY, TO),
	A(CKA_ALLOWED_MECHANISMS, HW_V_MECHS, HW_C_KEY, 0),
	/* secret keys (B 4.10, M 2.15): required when generating */
	A(CKA_VALUE_LEN, HW_V_ULONG, HW_C_SECRET, 0),
	/* public keys (B 4.8) */
	A(CKA_ENCRYPT, HW_V_BOOL, HW_C_PUB | HW_C_SECRET, MO | CP),
	A(CKA_VERIFY, HW_V_BOOL, HW_C_PUB | HW_C_SECRET, MO | CP),
	A(CKA_VERIFY_RECOVER, HW_V_BOOL, HW_C_PUB, MO | CP),
	A(CKA_WRAP, HW_V_BOOL, HW_C_PUB | HW_C_SECRET, MO | CP),
	A(CKA_PUBLIC_KEY_INFO, HW_V_BYTES, HW_C_PUB | HW_C_PRIV, 0),
	/* private keys (B 4.9) */
	A(CKA_SENSITIVE, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | HW_R_TO_TRUE | CP),    /* fn 11 */
	A(CKA_DECRYPT, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | CP),
	A(CKA_SIGN, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | CP),
	A(CKA_SIGN_RECOVER, HW_V_BOOL, HW_C_PRIV, MO | CP),
	A(CKA_UNWRAP, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | CP),
	A(CKA_EXTRACTABLE, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | HW_R_TO_FALSE | CP), /* fn 12 */
	A(CKA_ALWAYS_SENSITIVE, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, TO),
	A(CKA_NEVER_EXTRACTABLE, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, TO),
	A(CKA_WRAP_WITH_TRUSTED, HW_V_BOOL, HW_C_PRIV | HW_C_SECRET, MO | HW_R_TO_TRUE | CP),
	A(CKA_ALWAYS_AUTHENTICATE, HW_V_BOOL, HW_C_PRIV, 0),
	/* RSA (M 2.1.2-3) */
	A(CKA_MODULUS, HW_V_BYTES, HW_C_PUB | HW_C_PRIV, NG),
	A(CKA_MODULUS_BITS, HW_V_ULONG, HW_C_PUB, 0),
	A(CKA_PUBLIC_EXPONENT, HW_V_BYTES, HW_C_PUB | HW_C_PRIV, 0),
	A(CKA_PRIVATE_EXPONENT, HW_V_BYTES, HW_C_PRIV, SE | NG),
	A(CKA_PRIME_1, HW_V_BYTES, HW_C_PRIV, SE | NG),
	A(CKA_PRIME_2, HW_V_BYTES, HW_C_PRIV, SE | NG),
	A(CKA_EXPONENT_1, HW_V_BYTES, HW_C_PRIV, SE | NG),
	A(CKA_EXPONENT_2, HW_V_BYTES, HW_C_PRIV, SE | NG),
	A(CKA_COEFFICIENT, HW_V_BYTES, HW_C_PRIV, SE | NG),
	/* EC and EdDSA (M 2.3.3-4) */
	A(CKA_EC_PARAMS, HW_V_BYTES, HW_C_PUB | HW_C_PRIV, 0),
	A(CKA_EC_POINT, HW_V_BYTES, HW_C_PUB, NG),
	/* where the key lives: set by hwagg only */
	A(CKA_HWAGG_BACKEND, HW_V_STR, HW_C_ANY, TO),
	A(CKA_HWAGG_SECURITY_LEVEL, HW_V_STR, HW_C_ANY, TO),
	A(CKA_HWAGG_KEY_VERSION, HW_V_ULONG, HW_C_KEY, TO),
	A(CKA_HWAGG_PROVIDER_URI, HW_V_STR, HW_C_ANY, TO),
	A(CKA_HWAGG_SLOT, HW_V_STR, HW_C_ANY, TO),
	A(CKA_HWAGG_CREATED, HW_V_STR, HW_C_ANY, TO),
	A(CKA_HWAGG_ENVIRONMENT, HW_V_STR, HW_C_ANY, TO),
};

const hw_attr_rule *hw_rules_table(size_t *count)
{
	*count = HW_ARRAY_LEN(rules);
	return rules;
}

const hw_attr_rule *hw_rule_find(CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(rules); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

const char *hw_attr_name(CK_ATTRIBUTE_TYPE type)
{
	static __thread char buf[32];
	const hw_attr_rule *r = hw_rule_find(type);
	if (r != NULL)
		return r->name;
	snprintf(buf, sizeof(buf), "CKA_0x%lx", (unsigned long)type);
	return buf;
}

unsigned hw_class_bit(CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_DATA: return HW_C_DATA;
	case CKO_CERTIFICATE: return HW_C_CERT;
	case CKO_PUBLIC_KEY: return HW_C_PUB;
	case CKO_PRIVATE_KEY: return HW_C_PRIV;
	case CKO_SECRET_KEY: return HW_C_SECRET;
	default: return 0;
	}
}

static CK_RV check_value(const hw_attr_rule *r, const CK_ATTRIBUTE *a)
{
	if (a->ulValueLen > 0 && a->pValue == NULL)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	switch (r->value) {
	case HW_V_BOOL:
		if (a->ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (*(const CK_BBOOL *)a->pValue > 1)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	case HW_V_ULONG:
		return a->ulValueLen == sizeof(CK_ULONG) ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	case HW_V_DATE:
		return a->ulValueLen == 0 || a->ulValueLen == sizeof(CK_DATE)
			? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	case HW_V_MECHS:
		return a->ulValueLen % sizeof(CK_MECHANISM_TYPE) == 0
			? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
	default:
		return CKR_OK;
	}
}

const CK_ATTRIBUTE *hw_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (tmpl[i].type == type)
			return &tmpl[i];
	return NULL;
}

CK_RV hw_tmpl_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
		    CK_ULONG *value, bool *found)
{
	*found = false;
	for (CK_ULONG i = 0; i < n; i++) {
		if (tmpl[i].type != type)
			continue;
		if (tmpl[i].ulValueLen != sizeof(CK_ULONG) || tmpl[i].pValue == NULL)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		CK_ULONG v;
		memcpy(&v, tmpl[i].pValue, sizeof(v));
		if (*found && v != *value)
			return CKR_TEMPLATE_INCONSISTENT;
		*value = v;
		*found = true;
	}
	return CKR_OK;
}

CK_RV hw_tmpl_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
		   bool dflt, bool *value)
{
	bool found = false;
	*value = dflt;
	for (CK_ULONG i = 0; i < n; i++) {
		if (tmpl[i].type != type)
			continue;
		if (tmpl[i].ulValueLen != sizeof(CK_BBOOL) || tmpl[i].pValue == NULL)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		bool v = *(const CK_BBOOL *)tmpl[i].pValue != CK_FALSE;
		if (found && v != *value)
			return CKR_TEMPLATE_INCONSISTENT;
		*value = v;
		found = true;
	}
	return CKR_OK;
}

static bool same_value(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
	return a->ulValueLen == b->ulValueLen &&
	       (a->ulValueLen == 0 || memcmp(a->pValue, b->pValue, a->ulValueLen) == 0);
}

CK_RV hw_rules_check(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_CLASS cls,
		     hw_tmpl_op op, const hw_attrs *cur, bool so)
{
	unsigned cbit = hw_class_bit(cls);
	if (n > 0 && tmpl == NULL)
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < n; i++) {
		const CK_ATTRIBUTE *a = &tmpl[i];
		const hw_attr_rule *r = hw_rule_find(a->type);
		if (r == NULL)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		CK_RV rv = check_value(r, a);
		if (rv != CKR_OK)
			return rv;
		/* B 4.1.1: same attribute twice must agree */
		for (CK_ULONG j = 0; j < i; j++)
			if (tmpl[j].type == a->type && !same_value(&tmpl[j], a))
				return CKR_TEMPLATE_INCONSISTENT;
		if (r->flags & HW_R_TOKEN_ONLY)
			return CKR_ATTRIBUTE_READ_ONLY;
		if (!(r->classes & cbit))
			return CKR_TEMPLATE_INCONSISTENT;
		/* A private key's secret parts can only come from generation here:
		 * hwagg does not import private keys (C_CreateObject of a private
		 * key is refused before this check). */
		if (op == HW_TMPL_GENERATE && (r->flags & HW_R_NOT_GEN))
			return CKR_TEMPLATE_INCONSISTENT;
		if (op == HW_TMPL_SET || op == HW_TMPL_COPY) {
			bool allowed = op == HW_TMPL_SET ? (r->flags & HW_R_MODIFIABLE)
							 : (r->flags & HW_R_COPY_OK);
			const CK_ATTRIBUTE *now = cur ? hw_attrs_get(cur, a->type) : NULL;
			bool fixed = a->type == CKA_CLASS || a->type == CKA_KEY_TYPE;
			/* Naming the current value changes nothing: harmless for the
			 * class and key type, and for any attribute of a copy, whose
			 * template only has to describe the new object (B 4.1.3). */
			if (now != NULL && same_value(now, a) && (fixed || op == HW_TMPL_COPY))
				continue;
			if (fixed || !allowed)
				return CKR_ATTRIBUTE_READ_ONLY;
			if (r->value == HW_V_BOOL && now != NULL && now->ulValueLen == 1) {
				bool was = *(CK_BBOOL *)now->pValue, want = *(CK_BBOOL *)a->pValue;
				if ((r->flags & HW_R_TO_TRUE) && was && !want)
					return CKR_ATTRIBUTE_READ_ONLY;   /* fn 11 */
				if ((r->flags & HW_R_TO_FALSE) && !was && want)
					return CKR_ATTRIBUTE_READ_ONLY;   /* fn 12 */
			}
		}
		if ((r->flags & HW_R_SO_ONLY) && a->ulValueLen == 1 &&
		    *(CK_BBOOL *)a->pValue && !so)
			return CKR_ATTRIBUTE_READ_ONLY;           /* fn 10 */
	}
	return CKR_OK;
}

bool hw_rules_hidden(const hw_attrs *obj, CK_ATTRIBUTE_TYPE type)
{
	const hw_attr_rule *r = hw_rule_find(type);
	if (r == NULL || !(r->flags & HW_R_SECRET))
		return false;
	CK_ULONG cls = hw_attrs_get_ulong(obj, CKA_CLASS, CKO_DATA);
	/* Data and certificate CKA_VALUE are public; key material in hwagg
	 * never leaves its backend, whatever SENSITIVE/EXTRACTABLE say. */
	return cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

CK_RV hw_rules_defaults(hw_attrs *a, CK_OBJECT_CLASS cls, bool local, CK_MECHANISM_TYPE gen_mech)
{
	CK_RV rv = CKR_OK;
#define D(call) do { if ((rv = (call)) != CKR_OK) return rv; } while (0)
	D(hw_attrs_default(a, CKA_CLASS, &cls, sizeof(cls)));
	D(hw_attrs_default_bool(a, CKA_TOKEN, false));
	/* private keys are private by default; everything else public */
	D(hw_attrs_default_bool(a, CKA_PRIVATE, cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY));
	D(hw_attrs_default_bool(a, CKA_MODIFIABLE, true));
	D(hw_attrs_default_bool(a, CKA_COPYABLE, true));
	D(hw_attrs_default_bool(a, CKA_DESTROYABLE, true));
	D(hw_attrs_default(a, CKA_LABEL, "", 0));
	if (cls == CKO_DATA) {
		D(hw_attrs_default(a, CKA_APPLICATION, "", 0));
		D(hw_attrs_default(a, CKA_OBJECT_ID, "", 0));
		D(hw_attrs_default(a, CKA_VALUE, "", 0));
	}
	if (cls == CKO_CERTIFICATE) {
		CK_ULONG zero = 0;
		D(hw_attrs_default_bool(a, CKA_TRUSTED, false));
		D(hw_attrs_default(a, CKA_CERTIFICATE_CATEGORY, &zero, sizeof(zero)));
		D(hw_attrs_default(a, CKA_ID, "", 0));
		D(hw_attrs_default(a, CKA_ISSUER, "", 0));
		D(hw_attrs_default(a, CKA_SERIAL_NUMBER, "", 0));
		D(hw_attrs_default(a, CKA_START_DATE, "", 0));
		D(hw_attrs_default(a, CKA_END_DATE, "", 0));
	}
	if (hw_class_bit(cls) & HW_C_KEY) {
		CK_MECHANISM_TYPE m = local ? gen_mech : CK_UNAVAILABLE_INFORMATION;
		D(hw_attrs_set_bool(a, CKA_LOCAL, local));
		D(hw_attrs_set(a, CKA_KEY_GEN_MECHANISM, &m, sizeof(m)));
		D(hw_attrs_default(a, CKA_ID, "", 0));
		D(hw_attrs_default(a, CKA_START_DATE, "", 0));
		D(hw_attrs_default(a, CKA_END_DATE, "", 0));
		D(hw_attrs_default_bool(a, CKA_DERIVE, false));
		D(hw_attrs_default(a, CKA_ALLOWED_MECHANISMS, "", 0));
	}
	if (cls == CKO_PUBLIC_KEY) {
		D(hw_attrs_default(a, CKA_SUBJECT, "", 0));
		D(hw_attrs_default_bool(a, CKA_ENCRYPT, true));
		D(hw_attrs_default_bool(a, CKA_VERIFY, true));
		D(hw_attrs_default_bool(a, CKA_VERIFY_RECOVER, false));
		D(hw_attrs_default_bool(a, CKA_WRAP, false));
		D(hw_attrs_default_bool(a, CKA_TRUSTED, false));
	}
	if (cls == CKO_PRIVATE_KEY) {
		D(hw_attrs_default(a, CKA_SUBJECT, "", 0));
		/* a key both unwraps and decrypts only when the template asks
		 * for both (see hw_rules_roles) */
		D(hw_attrs_default_bool(a, CKA_DECRYPT, !hw_attrs_get_bool(a, CKA_UNWRAP, false)));
		D(hw_attrs_default_bool(a, CKA_SIGN, true));
		D(hw_attrs_default_bool(a, CKA_SIGN_RECOVER, false));
		D(hw_attrs_default_bool(a, CKA_UNWRAP, false));
		D(hw_attrs_default_bool(a, CKA_WRAP_WITH_TRUSTED, false));
		D(hw_attrs_default_bool(a, CKA_ALWAYS_AUTHENTICATE, false));
		/* Honest key types: key material never leaves hwagg's backends,
		 * and using it always needs the user (so logout drops it). */
		D(hw_attrs_set_bool(a, CKA_PRIVATE, true));
		D(hw_attrs_set_bool(a, CKA_SENSITIVE, true));
		D(hw_attrs_set_bool(a, CKA_EXTRACTABLE, false));
		D(hw_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, local));
		D(hw_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, local));
	}
	if (cls == CKO_SECRET_KEY) {
		/* Sensitive and unextractable unless the template says
		 * otherwise; wrapping is asked for, never given by default */
		D(hw_attrs_default_bool(a, CKA_SENSITIVE, true));
		D(hw_attrs_default_bool(a, CKA_EXTRACTABLE, false));
		/* a key that wraps does not also decrypt (nor one that unwraps
		 * encrypt) unless the template asks for both: the bytes it wraps
		 * could be decrypted back into a key's value */
		D(hw_attrs_default_bool(a, CKA_ENCRYPT, !hw_attrs_get_bool(a, CKA_UNWRAP, false)));
		D(hw_attrs_default_bool(a, CKA_DECRYPT, !hw_attrs_get_bool(a, CKA_WRAP, false)));
		D(hw_attrs_default_bool(a, CKA_SIGN, true));
		D(hw_attrs_default_bool(a, CKA_VERIFY, true));
		D(hw_attrs_default_bool(a, CKA_WRAP, false));
		D(hw_attrs_default_bool(a, CKA_UNWRAP, false));
		D(hw_attrs_default_bool(a, CKA_TRUSTED, false));
		D(hw_attrs_default_bool(a, CKA_WRAP_WITH_TRUSTED, false));
		/* B 4.10: true only for a key made here that has always been
		 * sensitive / never extractable */
		D(hw_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, local && hw_attrs_get_bool(a, CKA_SENSITIVE, true)));
		D(hw_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, local && !hw_attrs_get_bool(a, CKA_EXTRACTABLE, false)));
	}
#undef D
	return rv;
}

/* The pairs of roles that together let wrapped key bytes be read
 * (wrap + decrypt) or chosen bytes become a key (unwrap + encrypt). */
static const CK_ATTRIBUTE_TYPE roles[][2] = { { CKA_WRAP, CKA_DECRYPT }, { CKA_UNWRAP, CKA_ENCRYPT } };

CK_RV hw_rules_roles(const hw_attrs *before, const hw_attrs *after, const char **why)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(roles); i++) {
		bool had = hw_attrs_get_bool(before, roles[i][0], false) && hw_attrs_get_bool(before, roles[i][1], false);
		bool has = hw_attrs_get_bool(after, roles[i][0], false) && hw_attrs_get_bool(after, roles[i][1], false);
		if (has && !had) {
			*why = i == 0 ? "a key cannot come to both wrap and decrypt"
				      : "a key cannot come to both unwrap and encrypt";
			return CKR_TEMPLATE_INCONSISTENT;
		}
	}
	return CKR_OK;
}
