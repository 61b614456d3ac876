/*
 * Attribute rules as one table, named after the spec's footnotes (B 4.2):
 * which attributes exist for which object class, their value shape, who may
 * set them and when, and which ones are secret components.
 */
#ifndef HW_RULES_H
#define HW_RULES_H

#include "common/ck.h"
#include "objects/attrs.h"

/* What a template is for: the checks differ per function (B 4.1). */
typedef enum { HW_TMPL_CREATE, HW_TMPL_GENERATE, HW_TMPL_SET, HW_TMPL_COPY } hw_tmpl_op;

/* Object class bits for the table. */
enum {
	HW_C_DATA = 1 << 0, HW_C_CERT = 1 << 1, HW_C_PUB = 1 << 2, HW_C_PRIV = 1 << 3,
	HW_C_SECRET = 1 << 4,
	HW_C_KEY = HW_C_PUB | HW_C_PRIV | HW_C_SECRET,
	HW_C_ANY = HW_C_DATA | HW_C_CERT | HW_C_KEY,
};

typedef struct hw_attr_rule {
	CK_ATTRIBUTE_TYPE type;
	const char *name;
	enum { HW_V_BYTES, HW_V_BOOL, HW_V_ULONG, HW_V_STR, HW_V_DATE, HW_V_MECHS } value;
	unsigned classes;     /* HW_C_* where the attribute exists */
	unsigned flags;       /* HW_R_* */
} hw_attr_rule;

enum {
	HW_R_TOKEN_ONLY = 1 << 0,  /* fn 2/4/6: set by the token, never by the app (READ_ONLY) */
	HW_R_NOT_GEN    = 1 << 1,  /* fn 4/6: must not be in a generate template */
	HW_R_MODIFIABLE = 1 << 2,  /* fn 8: may change with C_SetAttributeValue */
	HW_R_SECRET     = 1 << 3,  /* fn 7: private component, never revealed */
	HW_R_TO_TRUE    = 1 << 4,  /* fn 11: may only go FALSE -> TRUE (CKA_SENSITIVE) */
	HW_R_TO_FALSE   = 1 << 5,  /* fn 12: may only go TRUE -> FALSE (CKA_EXTRACTABLE) */
	HW_R_SO_ONLY    = 1 << 6,  /* fn 10: only the SO may set it TRUE (CKA_TRUSTED) */
	HW_R_COPY_OK    = 1 << 7,  /* B 4.1.3: may change in C_CopyObject */
};

const hw_attr_rule *hw_rule_find(CK_ATTRIBUTE_TYPE type);
/* The whole table: every attribute hwagg knows (a pass-through backend
 * reads these from the token it fronts). */
const hw_attr_rule *hw_rules_table(size_t *count);
const char *hw_attr_name(CK_ATTRIBUTE_TYPE type);
unsigned hw_class_bit(CK_OBJECT_CLASS cls);   /* 0 for classes hwagg does not store */

/* Validate a caller template for op on an object of class cls (B 4.1.1):
 * unknown type -> CKR_ATTRIBUTE_TYPE_INVALID, bad value/size ->
 * CKR_ATTRIBUTE_VALUE_INVALID, token-only -> CKR_ATTRIBUTE_READ_ONLY,
 * wrong class or contradicting duplicates or must-not-generate ->
 * CKR_TEMPLATE_INCONSISTENT. For HW_TMPL_SET/COPY, cur is the current
 * object (one-way and SO-only rules); so says whether the SO is logged in. */
CK_RV hw_rules_check(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_CLASS cls,
		     hw_tmpl_op op, const hw_attrs *cur, bool so);

/* True when the attribute cannot be revealed from this object (fn 7 and
 * CKA_SENSITIVE/!CKA_EXTRACTABLE private keys). Used by hw_attrs_read. */
bool hw_rules_hidden(const hw_attrs *obj, CK_ATTRIBUTE_TYPE type);

/* Find the class/key type a template names; absent -> *found false. A
 * value of the wrong size -> CKR_ATTRIBUTE_VALUE_INVALID; two different
 * values -> CKR_TEMPLATE_INCONSISTENT. */
CK_RV hw_tmpl_ulong(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
		    CK_ULONG *value, bool *found);
CK_RV hw_tmpl_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
		   bool dflt, bool *value);
const CK_ATTRIBUTE *hw_tmpl_find(const CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type);

/* Defaults for a new object of class cls (storage and common key
 * attributes), added only where the template did not set them. local says
 * whether the token generated the key (CKA_LOCAL, KEY_GEN_MECHANISM). */
CK_RV hw_rules_defaults(hw_attrs *a, CK_OBJECT_CLASS cls, bool local, CK_MECHANISM_TYPE gen_mech);

/* A change of an existing key (C_SetAttributeValue) from before to after
 * that gives it two roles which together defeat CKA_SENSITIVE (wrap and
 * decrypt, unwrap and encrypt): CKR_TEMPLATE_INCONSISTENT and why. A key
 * may be created with both only when its template names both. */
CK_RV hw_rules_roles(const hw_attrs *before, const hw_attrs *after, const char **why);

#endif
