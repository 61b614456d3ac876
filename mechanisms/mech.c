/*
 * The mechanism table. Flags are what C_GetMechanismInfo reports before the
 * engine adds CKF_HW for slots whose backend does the base operation in
 * hardware; key sizes are in each mechanism's own unit (RSA: modulus bits,
 * EC: field bits, EdDSA: 255).
 */
#include "mechanisms/mech.h"
#include "mechanisms/encode.h"
#include "mechanisms/cipher.h"
#include "mechanisms/ecdh.h"
#include "common/hwagg.h"

#include <stdio.h>
#include <string.h>

/* Every EC mechanism must say which fields, parameter encodings and point
 * forms it takes (mechanisms spec, EC intro): prime fields, named curves
 * (the OID; the 3.0 curveName string is accepted too but bit 26 is unknown
 * to 2.40 callers), uncompressed points. */
#define EC_CAPS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
/* EdDSA is a 3.0 mechanism, so the 3.0 curveName bit is meaningful there;
 * Ed25519 has a single point encoding, reported like the other curves. */
#define ED_CAPS (EC_CAPS | CKF_EC_CURVENAME)

#define RSA_MIN HW_RSA_FLOOR_BITS   /* a slot's own minimum is mechpolicy.c's */
#define RSA_MAX HW_RSA_MAX_BITS

static CK_RV check_pss(const hw_mech *m, const CK_MECHANISM *mech)
{
	return hw_pss_params_parse(mech, m->hash, NULL);
}

static CK_RV check_oaep(const hw_mech *m, const CK_MECHANISM *mech)
{
	return hw_oaep_params_parse(mech, NULL);
}

/* Only pure Ed25519: no parameter, or CK_EDDSA_PARAMS that asks for
 * nothing else (no prehash, no context). Ed25519ctx/ph and Ed448 are not
 * offered. */
static CK_RV check_eddsa(const hw_mech *m, const CK_MECHANISM *mech)
{
	CK_EDDSA_PARAMS p;

	if (mech == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	if (mech->pParameter == NULL)
		return mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
	if (mech->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, mech->pParameter, sizeof(p));
	if (p.phFlag != CK_FALSE || p.ulContextDataLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	return CKR_OK;
}

/* RFC 3394/5649 key wrap: no parameter, or the optional 8-byte initial
 * value (M 2.14); the token behind the slot checks the rest. */
static CK_RV check_aes_wrap(const hw_mech *m, const CK_MECHANISM *mech)
{
	if (mech->pParameter == NULL)
		return mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
	return mech->ulParameterLen == 8 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

static CK_RV check_ecdh(const hw_mech *m, const CK_MECHANISM *mech)
{
	return hw_ecdh_params_parse(mech, NULL);
}

static CK_RV check_sk(const hw_mech *m, const CK_MECHANISM *mech)
{
	return hw_sk_params_parse(m, mech, NULL);
}

#define MECH(t) t, #t
/* AES ciphers and HMACs: the backend does the mechanism itself, multi-part;
 * the HMAC's digest is part of it (never a software hash first) */
#define SK_CIPHER(t) { t, #t, CKK_AES, CKF_ENCRYPT | CKF_DECRYPT, 16, 32, t, HW_NO_HASH, true, check_sk }
#define SK_HMAC(t) { t, #t, CKK_GENERIC_SECRET, CKF_SIGN | CKF_VERIFY, 1, HW_SECRET_MAX, t, HW_NO_HASH, \
			true, check_sk }

static const hw_mech table[] = {
	/* key pair generation */
	{ MECH(CKM_EC_KEY_PAIR_GEN), CKK_EC, CKF_GENERATE_KEY_PAIR | EC_CAPS, 256, 521,
	  CKM_EC_KEY_PAIR_GEN, HW_NO_HASH, false, NULL },
	{ MECH(CKM_RSA_PKCS_KEY_PAIR_GEN), CKK_RSA, CKF_GENERATE_KEY_PAIR, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_KEY_PAIR_GEN, HW_NO_HASH, false, NULL },
	{ MECH(CKM_EC_EDWARDS_KEY_PAIR_GEN), CKK_EC_EDWARDS, CKF_GENERATE_KEY_PAIR | ED_CAPS, 255, 255,
	  CKM_EC_EDWARDS_KEY_PAIR_GEN, HW_NO_HASH, false, NULL },

	/* ECDSA: the base signs a digest; the others hash first */
	{ MECH(CKM_ECDSA), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, HW_NO_HASH, false, NULL },
	{ MECH(CKM_ECDSA_SHA1), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, CKM_SHA_1, true, NULL },
	{ MECH(CKM_ECDSA_SHA224), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, CKM_SHA224, true, NULL },
	{ MECH(CKM_ECDSA_SHA256), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, CKM_SHA256, true, NULL },
	{ MECH(CKM_ECDSA_SHA384), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, CKM_SHA384, true, NULL },
	{ MECH(CKM_ECDSA_SHA512), CKK_EC, CKF_SIGN | CKF_VERIFY | EC_CAPS, 256, 521,
	  CKM_ECDSA, CKM_SHA512, true, NULL },

	/* RSA PKCS#1 v1.5: the base takes an encoded DigestInfo */
	{ MECH(CKM_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT,
	  RSA_MIN, RSA_MAX, CKM_RSA_PKCS, HW_NO_HASH, false, NULL },
	{ MECH(CKM_SHA1_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS, CKM_SHA_1, true, NULL },
	{ MECH(CKM_SHA224_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS, CKM_SHA224, true, NULL },
	{ MECH(CKM_SHA256_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS, CKM_SHA256, true, NULL },
	{ MECH(CKM_SHA384_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS, CKM_SHA384, true, NULL },
	{ MECH(CKM_SHA512_RSA_PKCS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS, CKM_SHA512, true, NULL },

	/* RSA-PSS: parameters are mandatory for all of them */
	{ MECH(CKM_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, HW_NO_HASH, false, check_pss },
	{ MECH(CKM_SHA1_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, CKM_SHA_1, true, check_pss },
	{ MECH(CKM_SHA224_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, CKM_SHA224, true, check_pss },
	{ MECH(CKM_SHA256_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, CKM_SHA256, true, check_pss },
	{ MECH(CKM_SHA384_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, CKM_SHA384, true, check_pss },
	{ MECH(CKM_SHA512_RSA_PKCS_PSS), CKK_RSA, CKF_SIGN | CKF_VERIFY, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_PSS, CKM_SHA512, true, check_pss },

	{ MECH(CKM_RSA_PKCS_OAEP), CKK_RSA, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP, RSA_MIN, RSA_MAX,
	  CKM_RSA_PKCS_OAEP, HW_NO_HASH, false, check_oaep },

	/* EdDSA signs the message itself: no software hash, no streaming */
	{ MECH(CKM_EDDSA), CKK_EC_EDWARDS, CKF_SIGN | CKF_VERIFY | ED_CAPS, 255, 255,
	  CKM_EDDSA, HW_NO_HASH, false, check_eddsa },

	/* secret keys and key wrapping: offered only by slots whose backend
	 * does them (has_mechanism); key sizes in bytes */
	{ MECH(CKM_AES_KEY_GEN), CKK_AES, CKF_GENERATE, 16, 32, CKM_AES_KEY_GEN, HW_NO_HASH, false, NULL },
	{ MECH(CKM_GENERIC_SECRET_KEY_GEN), CKK_GENERIC_SECRET, CKF_GENERATE, 1, HW_SECRET_MAX,
	  CKM_GENERIC_SECRET_KEY_GEN, HW_NO_HASH, false, NULL },
	SK_CIPHER(CKM_AES_ECB),
	SK_CIPHER(CKM_AES_CBC),
	SK_CIPHER(CKM_AES_CBC_PAD),
	SK_CIPHER(CKM_AES_CTR),
	SK_CIPHER(CKM_AES_GCM),
	SK_HMAC(CKM_SHA_1_HMAC),
	SK_HMAC(CKM_SHA_1_HMAC_GENERAL),
	SK_HMAC(CKM_SHA224_HMAC),
	SK_HMAC(CKM_SHA224_HMAC_GENERAL),
	SK_HMAC(CKM_SHA256_HMAC),
	SK_HMAC(CKM_SHA256_HMAC_GENERAL),
	SK_HMAC(CKM_SHA384_HMAC),
	SK_HMAC(CKM_SHA384_HMAC_GENERAL),
	SK_HMAC(CKM_SHA512_HMAC),
	SK_HMAC(CKM_SHA512_HMAC_GENERAL),
	{ MECH(CKM_AES_KEY_WRAP), CKK_AES, CKF_WRAP | CKF_UNWRAP, 16, 32,
	  CKM_AES_KEY_WRAP, HW_NO_HASH, false, check_aes_wrap },
	{ MECH(CKM_AES_KEY_WRAP_PAD), CKK_AES, CKF_WRAP | CKF_UNWRAP, 16, 32,
	  CKM_AES_KEY_WRAP_PAD, HW_NO_HASH, false, check_aes_wrap },
	/* envelope encryption by a cloud KMS key (common/hwagg.h) */
	{ MECH(CKM_HWAGG_KMS_WRAP), CKK_AES, CKF_WRAP | CKF_UNWRAP, 16, 32, CKM_HWAGG_KMS_WRAP, HW_NO_HASH, false,
	  NULL },

	/* key agreement: a secret key from an EC private key and a point */
	{ MECH(CKM_ECDH1_DERIVE), CKK_EC, CKF_DERIVE | EC_CAPS, 256, 521, CKM_ECDH1_DERIVE, HW_NO_HASH, false,
	  check_ecdh },

	/* digests, always in software */
	{ MECH(CKM_SHA_1), HW_NO_KEY, CKF_DIGEST, 0, 0, CKM_SHA_1, CKM_SHA_1, true, NULL },
	{ MECH(CKM_SHA224), HW_NO_KEY, CKF_DIGEST, 0, 0, CKM_SHA224, CKM_SHA224, true, NULL },
	{ MECH(CKM_SHA256), HW_NO_KEY, CKF_DIGEST, 0, 0, CKM_SHA256, CKM_SHA256, true, NULL },
	{ MECH(CKM_SHA384), HW_NO_KEY, CKF_DIGEST, 0, 0, CKM_SHA384, CKM_SHA384, true, NULL },
	{ MECH(CKM_SHA512), HW_NO_KEY, CKF_DIGEST, 0, 0, CKM_SHA512, CKM_SHA512, true, NULL },
};

const hw_mech *hw_mech_table(size_t *count)
{
	*count = HW_ARRAY_LEN(table);
	return table;
}

const hw_mech *hw_mech_find(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(table); i++)
		if (table[i].type == type)
			return &table[i];
	return NULL;
}

const hw_mech *hw_mech_by_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < HW_ARRAY_LEN(table); i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

/* Names for mechanisms applications commonly ask about that we do not
 * implement, so logs say "CKM_AES_GCM" rather than a number. */
static const struct {
	CK_MECHANISM_TYPE type;
	const char *name;
} others[] = {
	{ MECH(CKM_RSA_X_509) },
	{ MECH(CKM_RSA_9796) },
	{ MECH(CKM_MD5_RSA_PKCS) },
	{ MECH(CKM_RSA_X9_31_KEY_PAIR_GEN) },
	{ MECH(CKM_DSA_KEY_PAIR_GEN) },
	{ MECH(CKM_DSA) },
	{ MECH(CKM_DSA_SHA1) },
	{ MECH(CKM_DH_PKCS_KEY_PAIR_GEN) },
	{ MECH(CKM_DH_PKCS_DERIVE) },
	{ MECH(CKM_MD5) },
	{ MECH(CKM_ECDH1_COFACTOR_DERIVE) },
	{ MECH(CKM_DES3_KEY_GEN) },
	{ MECH(CKM_DES3_CBC) },
};

const char *hw_mech_name(CK_MECHANISM_TYPE type)
{
	static _Thread_local char buf[2 + 4 + 2 * sizeof(CK_MECHANISM_TYPE) + 1];
	const hw_mech *m = hw_mech_find(type);

	if (m != NULL)
		return m->name;
	for (size_t i = 0; i < HW_ARRAY_LEN(others); i++)
		if (others[i].type == type)
			return others[i].name;
	snprintf(buf, sizeof(buf), "CKM_0x%lx", (unsigned long)type);
	return buf;
}
