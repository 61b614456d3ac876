/*
 * A private key from its PKCS#11 attributes (C_CreateObject, M 2.1.3,
 * 2.3.4, 2.3.5): EC (CKA_EC_PARAMS, CKA_VALUE), Ed25519 (CKA_EC_PARAMS,
 * CKA_VALUE: the 32-byte seed) and RSA with its CRT parts. The key is
 * built in hwagg's library context and checked (the scalar in range, the
 * RSA parts consistent) before any backend keeps it.
 */
#include "mechanisms/key_import.h"
#include "mechanisms/crypto.h"
#include "mechanisms/crypto_int.h"
#include "mechanisms/mech.h"
#include "common/log.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <string.h>

/* The attributes that hold a private key's secret parts. */
static const CK_ATTRIBUTE_TYPE private_parts[] = { CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
	CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT };

void hw_key_strip_private(hw_attrs *a)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(private_parts); i++)
		hw_attrs_remove(a, private_parts[i]);
}

static const CK_ATTRIBUTE *part(const hw_attrs *a, CK_ATTRIBUTE_TYPE t)
{
	const CK_ATTRIBUTE *v = hw_attrs_get(a, t);
	return v != NULL && v->ulValueLen > 0 && v->pValue != NULL ? v : NULL;
}

/* A big-endian attribute as a BIGNUM in secure memory. */
static CK_RV bn(const CK_ATTRIBUTE *v, BIGNUM **out)
{
	if (v->ulValueLen > HW_RSA_MAX_BITS / 8 + 1)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*out = BN_secure_new();
	if (*out == NULL || BN_bin2bn(v->pValue, (int)v->ulValueLen, *out) == NULL)
		return CKR_HOST_MEMORY;
	return CKR_OK;
}

/* EC: the public point is computed from the scalar, which must lie in
 * [1, n-1]. */
static CK_RV ec_params(const hw_curve *c, const CK_ATTRIBUTE *v, OSSL_PARAM_BLD *bld, BIGNUM **d,
		       unsigned char *pub, size_t *pub_len)
{
	EC_GROUP *g = NULL;
	EC_POINT *p = NULL;
	CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if (v->ulValueLen > c->nlen)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((rv = bn(v, d)) != CKR_OK)
		return rv;
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	g = EC_GROUP_new_by_curve_name_ex(hw_crypto_ctx(), NULL, OBJ_sn2nid(c->ossl_group));
	if (g == NULL || (p = EC_POINT_new(g)) == NULL) {
		rv = hw_crypto_error("EC group", CKR_OK);
		goto out;
	}
	if (BN_is_zero(*d) || BN_is_negative(*d) || BN_cmp(*d, EC_GROUP_get0_order(g)) >= 0)
		goto out;
	if (EC_POINT_mul(g, p, *d, NULL, NULL, NULL) != 1 ||
	    (*pub_len = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub, *pub_len, NULL)) == 0) {
		rv = hw_crypto_error("EC public point", CKR_OK);
		goto out;
	}
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl_group, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, *d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, *pub_len)) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = CKR_OK;
out:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return rv;
}

/* RSA: all eight numbers (a key without its CRT parts cannot be kept as
 * PKCS#8 by every backend, and every exporter gives them). */
static CK_RV rsa_params(const hw_attrs *a, OSSL_PARAM_BLD *bld, BIGNUM **nums)
{
	static const struct {
		CK_ATTRIBUTE_TYPE attr;
		const char *param;
	} map[] = {
		{ CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N }, { CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E },
		{ CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D }, { CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1 },
		{ CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2 }, { CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1 },
		{ CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2 }, { CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
	};
	CK_RV rv;
	for (size_t i = 0; i < HW_ARRAY_LEN(map); i++) {
		const CK_ATTRIBUTE *v = part(a, map[i].attr);
		if (v == NULL)
			return CKR_TEMPLATE_INCOMPLETE;
		if ((rv = bn(v, &nums[i])) != CKR_OK)
			return rv;
		if (!OSSL_PARAM_BLD_push_BN(bld, map[i].param, nums[i]))
			return CKR_HOST_MEMORY;
	}
	int bits = BN_num_bits(nums[0]);
	return bits < HW_RSA_FLOOR_BITS || bits > HW_RSA_MAX_BITS ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
}

/* The key built must hold together: OpenSSL's full check (RSA: the
 * factors make the modulus and the exponents match; EC: the pair). */
static CK_RV built(OSSL_PARAM_BLD *bld, const char *alg, EVP_PKEY **out)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(hw_crypto_ctx(), alg, NULL), *cc = NULL;
	EVP_PKEY *k = NULL;
	CK_RV rv = CKR_OK;
	if (params == NULL || pc == NULL || EVP_PKEY_fromdata_init(pc) <= 0) {
		rv = hw_crypto_error("private key import", CKR_OK);
		goto out;
	}
	if (EVP_PKEY_fromdata(pc, &k, EVP_PKEY_KEYPAIR, params) <= 0) {
		rv = hw_crypto_error("private key", CKR_ATTRIBUTE_VALUE_INVALID);
		goto out;
	}
	if ((cc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), k, NULL)) == NULL || EVP_PKEY_check(cc) != 1) {
		rv = hw_crypto_error("private key check", CKR_ATTRIBUTE_VALUE_INVALID);
		goto out;
	}
	*out = k;
	k = NULL;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(cc);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);   /* the secret numbers were in secure memory (BN_secure_new), freed cleared */
	return rv;
}

CK_RV hw_key_from_attrs(const hw_attrs *a, EVP_PKEY **out)
{
	CK_KEY_TYPE kt = hw_attrs_get_ulong(a, CKA_KEY_TYPE, CKK_VENDOR_DEFINED);
	const CK_ATTRIBUTE *params = part(a, CKA_EC_PARAMS), *v = part(a, CKA_VALUE);
	const hw_curve *c = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *nums[8] = { NULL };
	unsigned char pub[133];
	size_t pub_len = sizeof(pub);
	CK_RV rv;
	if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
		if (params == NULL || v == NULL)
			return CKR_TEMPLATE_INCOMPLETE;
		if ((rv = hw_curve_from_params(params->pValue, params->ulValueLen, &c)) != CKR_OK)
			return rv;
		if (c->key_type != kt)
			return CKR_CURVE_NOT_SUPPORTED;
	} else if (kt != CKK_RSA) {
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if (kt == CKK_EC_EDWARDS) {
		/* RFC 8032: the private key is the 32-byte seed */
		if (v->ulValueLen != 32)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		*out = EVP_PKEY_new_raw_private_key_ex(hw_crypto_ctx(), ALG_ED25519, NULL, v->pValue, 32);
		return *out != NULL ? CKR_OK : hw_crypto_error("Ed25519 key", CKR_ATTRIBUTE_VALUE_INVALID);
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return CKR_HOST_MEMORY;
	rv = kt == CKK_EC ? ec_params(c, v, bld, &nums[0], pub, &pub_len) : rsa_params(a, bld, nums);
	if (rv == CKR_OK)
		rv = built(bld, kt == CKK_EC ? ALG_EC : ALG_RSA, out);
	for (size_t i = 0; i < HW_ARRAY_LEN(nums); i++)
		BN_clear_free(nums[i]);
	OSSL_PARAM_BLD_free(bld);
	return rv;
}
