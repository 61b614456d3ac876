/*
 * The mechanism table: every mechanism hwagg knows, as data. A backend
 * performs only "base" operations (CKM_ECDSA on a digest, CKM_RSA_PKCS on an
 * encoded DigestInfo, CKM_RSA_PKCS_PSS on a digest, CKM_EDDSA on the message,
 * RSA decryption); hash-then-sign and the signature encodings are done once,
 * here and in encode.c, for every slot.
 */
#ifndef HW_MECH_H
#define HW_MECH_H

#include "common/ck.h"

#define HW_NO_HASH ((CK_MECHANISM_TYPE)-1)   /* no software digest first */

/* RSA modulus sizes: hwagg makes and uses keys of HW_RSA_FLOOR_BITS up to
 * HW_RSA_MAX_BITS (the table's range); a slot allows HW_RSA_MIN_BITS and
 * up unless its configuration lowers that (rsa_min_bits, mechpolicy.c). */
#define HW_RSA_FLOOR_BITS 1024
#define HW_RSA_MIN_BITS   2048
#define HW_RSA_MAX_BITS   4096
/* Longest generic secret (HMAC) key hwagg makes or takes, in bytes. */
#define HW_SECRET_MAX 512
#define HW_NO_KEY  ((CK_KEY_TYPE)-1)         /* mechanism uses no key (digests) */

typedef struct hw_mech hw_mech;
struct hw_mech {
	CK_MECHANISM_TYPE type;
	const char *name;             /* "CKM_ECDSA_SHA256" */
	CK_KEY_TYPE key_type;         /* CKK_EC, CKK_RSA, CKK_EC_EDWARDS or HW_NO_KEY */
	CK_FLAGS flags;               /* as reported in CK_MECHANISM_INFO (without CKF_HW) */
	CK_ULONG min_key, max_key;    /* in the spec's units for this mechanism */
	CK_MECHANISM_TYPE base;       /* raw operation a backend performs (== type for base mechs) */
	CK_MECHANISM_TYPE hash;       /* digest done in software first, or HW_NO_HASH */
	bool multipart;               /* C_SignUpdate/C_VerifyUpdate/C_DigestUpdate allowed */
	/* Validate pParameter/ulParameterLen; CKR_MECHANISM_PARAM_INVALID on error.
	 * NULL means the mechanism takes no parameter (non-NULL param is invalid). */
	CK_RV (*check_param)(const hw_mech *m, const CK_MECHANISM *mech);
};

/* The whole table, in the order C_GetMechanismList reports it. */
const hw_mech *hw_mech_table(size_t *count);
/* Lookup by type; NULL if hwagg does not know it. */
const hw_mech *hw_mech_find(CK_MECHANISM_TYPE type);
/* Lookup by the name in the table ("CKM_RSA_PKCS"); NULL if none. */
const hw_mech *hw_mech_by_name(const char *name);
/* Symbolic name of any mechanism ("CKM_0x..." when unknown). */
const char *hw_mech_name(CK_MECHANISM_TYPE type);

#endif
