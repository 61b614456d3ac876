/*
 * Keys for the software crypto: generation, PKCS#8 and SubjectPublicKeyInfo
 * DER, public values as PKCS#11 attributes and back, and the facts (type,
 * size, curve) the mechanisms ask of a key. Everything is created in
 * hwagg's own library context (see crypto.c), never through legacy key
 * types or a default ENGINE.
 */
#include "mechanisms/crypto.h"
#include "mechanisms/crypto_int.h"
#include "mechanisms/mech.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>   /* EVP_PKEY_CTX_set_rsa_keygen_* only */

#include <stdlib.h>
#include <string.h>

#define RSA_E_MAX_BYTES 32      /* FIPS 186-4: e < 2^256 */
#define RSA_PUB_MIN_BITS 512
#define RSA_PUB_MAX_BITS 16384

/* ---- key facts -------------------------------------------------------------------------- */

CK_KEY_TYPE hw_key_type(EVP_PKEY *key)
{
	if (key == NULL)
		return HW_NO_KEY;
	/* The legacy id is a cached field: cheap enough for every signature. */
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		return CKK_EC;
	case EVP_PKEY_RSA:
		return CKK_RSA;
	case EVP_PKEY_ED25519:
		return CKK_EC_EDWARDS;
	default:
		return HW_NO_KEY;
	}
}

const hw_curve *hw_key_curve(EVP_PKEY *key)
{
	char name[80];

	switch (hw_key_type(key)) {
	case CKK_EC_EDWARDS:
		return hw_curve_by_name("Ed25519");
	case CKK_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name,
						   sizeof(name), NULL) != 1) {
			ERR_clear_error();
			return NULL;
		}
		return hw_curve_by_name(name);
	default:
		return NULL;
	}
}

CK_ULONG hw_key_bits(EVP_PKEY *key)
{
	const hw_curve *c;

	switch (hw_key_type(key)) {
	case CKK_RSA:
		return (CK_ULONG)EVP_PKEY_get_bits(key);
	case CKK_EC:
	case CKK_EC_EDWARDS:
		/* OpenSSL reports the order's bits (253 for Ed25519); the spec
		 * counts field bits. */
		c = hw_key_curve(key);
		return c != NULL ? c->field_bits : (CK_ULONG)EVP_PKEY_get_bits(key);
	default:
		return 0;
	}
}

/* ---- key generation ------------------------------------------------------------------------ */

/* Exponent e: odd (even ones share a factor with p-1 and q-1), at least 3
 * (e = 1 makes RSA the identity) and below 2^256; leading zeros ignored. */
static CK_RV rsa_exponent(const unsigned char *e, size_t len, BIGNUM **out)
{
	static const unsigned char f4[] = { 0x01, 0x00, 0x01 };

	if (e == NULL) {
		e = f4;
		len = sizeof(f4);
	}
	while (len > 0 && e[0] == 0) {
		e++;
		len--;
	}
	if (len == 0 || len > RSA_E_MAX_BYTES || !(e[len - 1] & 1) || (len == 1 && e[0] < 3))
		return CKR_TEMPLATE_INCONSISTENT;
	*out = BN_bin2bn(e, (int)len, NULL);
	return *out != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

CK_RV hw_key_generate(const hw_keygen *g, EVP_PKEY **out)
{
	CK_RV rv = CKR_OK;
	OSSL_LIB_CTX *lc;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	BIGNUM *e = NULL;
	const hw_mech *rsa_gen = hw_mech_find(CKM_RSA_PKCS_KEY_PAIR_GEN);
	const char *alg;

	HW_RETURN_IF(g == NULL || out == NULL, CKR_ARGUMENTS_BAD);
	switch (g->key_type) {
	case CKK_EC:
	case CKK_EC_EDWARDS:
		HW_RETURN_IF(g->curve == NULL, CKR_TEMPLATE_INCOMPLETE);
		/* Weierstrass and Edwards curves have their own key-pair
		 * mechanisms; the wrong family is an unsupported curve. */
		HW_RETURN_IF(g->curve->key_type != g->key_type, CKR_CURVE_NOT_SUPPORTED);
		alg = g->key_type == CKK_EC ? ALG_EC : ALG_ED25519;
		break;
	case CKK_RSA:
		HW_RETURN_IF(g->rsa_bits < rsa_gen->min_key || g->rsa_bits > rsa_gen->max_key,
			     CKR_ATTRIBUTE_VALUE_INVALID);
		alg = ALG_RSA;
		break;
	default:
		return CKR_TEMPLATE_INCONSISTENT;
	}
	if (g->key_type == CKK_RSA) {
		rv = rsa_exponent(g->rsa_e, g->rsa_e_len, &e);
		if (rv != CKR_OK)
			goto out;
	}
	lc = hw_crypto_ctx();
	pc = lc != NULL ? EVP_PKEY_CTX_new_from_name(lc, alg, NULL) : NULL;
	if (pc == NULL || EVP_PKEY_keygen_init(pc) <= 0) {
		rv = hw_crypto_error("keygen init", CKR_OK);
		goto out;
	}
	if ((g->key_type == CKK_EC && EVP_PKEY_CTX_set_group_name(pc, g->curve->ossl_group) <= 0) ||
	    (g->key_type == CKK_RSA && (EVP_PKEY_CTX_set_rsa_keygen_bits(pc, (int)g->rsa_bits) <= 0 ||
					EVP_PKEY_CTX_set1_rsa_keygen_pubexp(pc, e) <= 0))) {
		rv = hw_crypto_error("keygen parameters", CKR_OK);
		goto out;
	}
	if (EVP_PKEY_generate(pc, &k) <= 0) {
		rv = hw_crypto_error("keygen", CKR_OK);
		goto out;
	}
	*out = k;
out:
	BN_free(e);
	EVP_PKEY_CTX_free(pc);
	return rv;
}

/* ---- DER in and out ------------------------------------------------------------------------- */

/* A decoded key must be one we can use; EC points are re-encoded
 * uncompressed from now on, whatever form the input used. */
static CK_RV key_accept(EVP_PKEY *k)
{
	switch (hw_key_type(k)) {
	case CKK_RSA:
	case CKK_EC_EDWARDS:
		return CKR_OK;
	case CKK_EC:
		if (hw_key_curve(k) == NULL)
			return CKR_CURVE_NOT_SUPPORTED;
		if (EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
						   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
			return hw_crypto_error("EC point format", CKR_OK);
		return CKR_OK;
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

/* Decoders run in our context and build provider keys: d2i_* could fall
 * back to legacy key types bound to a default ENGINE's methods. */
static CK_RV key_decode(const void *der, size_t len, const char *structure, int selection,
			EVP_PKEY **out)
{
	CK_RV rv;
	OSSL_LIB_CTX *lc;
	OSSL_DECODER_CTX *dc = NULL;
	EVP_PKEY *k = NULL;
	const unsigned char *p = der;
	size_t left = len;

	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(der == NULL || len == 0, CKR_ATTRIBUTE_VALUE_INVALID);
	lc = hw_crypto_ctx();
	dc = lc != NULL ? OSSL_DECODER_CTX_new_for_pkey(&k, "DER", structure, NULL, selection, lc, NULL)
			: NULL;
	if (dc == NULL) {
		rv = hw_crypto_error("decoder", CKR_OK);
		goto out;
	}
	if (OSSL_DECODER_from_data(dc, &p, &left) != 1 || k == NULL || left != 0) {
		rv = hw_crypto_error("key DER", CKR_ATTRIBUTE_VALUE_INVALID);
		goto out;
	}
	rv = key_accept(k);
	if (rv != CKR_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	EVP_PKEY_free(k);
	OSSL_DECODER_CTX_free(dc);
	return rv;
}

static CK_RV key_encode(EVP_PKEY *key, int selection, const char *structure,
			unsigned char **buf, size_t *len)
{
	CK_RV rv = CKR_OK;
	OSSL_ENCODER_CTX *ec;

	/* The encoder runs in the key's own library context (ours). */
	ec = OSSL_ENCODER_CTX_new_for_pkey(key, selection, "DER", structure, NULL);
	*buf = NULL;
	*len = 0;
	if (ec == NULL || OSSL_ENCODER_CTX_get_num_encoders(ec) == 0 ||
	    OSSL_ENCODER_to_data(ec, buf, len) != 1)
		rv = hw_crypto_error(structure, CKR_OK);
	OSSL_ENCODER_CTX_free(ec);
	return rv;
}

CK_RV hw_key_to_der(EVP_PKEY *key, hw_secret **der)
{
	CK_RV rv;
	unsigned char *buf = NULL;
	size_t len = 0;

	HW_RETURN_IF(key == NULL || der == NULL, CKR_ARGUMENTS_BAD);
	rv = key_encode(key, EVP_PKEY_KEYPAIR, "PrivateKeyInfo", &buf, &len);
	if (rv != CKR_OK)
		goto out;
	*der = hw_secret_dup(buf, len);
	if (*der == NULL)
		rv = CKR_HOST_MEMORY;
out:
	OPENSSL_clear_free(buf, len);
	return rv;
}

CK_RV hw_key_from_der(const void *der, size_t len, EVP_PKEY **out)
{
	return key_decode(der, len, "PrivateKeyInfo", EVP_PKEY_KEYPAIR, out);
}

CK_RV hw_key_spki(EVP_PKEY *key, unsigned char *out, size_t *out_len)
{
	CK_RV rv;
	unsigned char *buf = NULL;
	size_t len = 0;

	HW_RETURN_IF(key == NULL || out_len == NULL, CKR_ARGUMENTS_BAD);
	rv = key_encode(key, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &buf, &len);
	if (rv != CKR_OK)
		goto out;
	if (out != NULL && *out_len < len)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (out != NULL)
		memcpy(out, buf, len);
	*out_len = len;
out:
	OPENSSL_free(buf);
	return rv;
}

CK_RV hw_key_from_spki(const void *der, size_t len, EVP_PKEY **out)
{
	return key_decode(der, len, "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY, out);
}

/* ---- public values as attributes ------------------------------------------------------------ */

static CK_RV ec_attrs(EVP_PKEY *key, const hw_curve *c, hw_attr_sink sink, void *arg)
{
	CK_RV rv;
	BIGNUM *x = NULL, *y = NULL;
	unsigned char pt[1 + 2 * 66], der[3 + sizeof(pt)];
	size_t flen = (c->point_len - 1) / 2, der_len = sizeof(der);

	/* From the coordinates, so the point is uncompressed whatever
	 * conversion form the key carries. */
	if (c->point_len > sizeof(pt) ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, pt + 1, (int)flen) < 0 || BN_bn2binpad(y, pt + 1 + flen, (int)flen) < 0) {
		rv = hw_crypto_error("EC public point", CKR_OK);
		goto out;
	}
	pt[0] = 0x04;
	rv = hw_ec_point_encode(pt, c->point_len, der, &der_len);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_EC_PARAMS, c->params, c->params_len);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_EC_POINT, der, der_len);
out:
	BN_free(x);
	BN_free(y);
	return rv;
}

static CK_RV ed_attrs(EVP_PKEY *key, const hw_curve *c, hw_attr_sink sink, void *arg)
{
	CK_RV rv;
	unsigned char raw[32], der[2 + sizeof(raw)];
	size_t raw_len = 0, der_len = sizeof(der);

	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
					    &raw_len) != 1 || raw_len != c->point_len)
		return hw_crypto_error("Ed25519 public key", CKR_OK);
	/* 3.0's DER form (04 20 || key): what 3.0 consumers parse. */
	rv = hw_ec_point_encode(raw, raw_len, der, &der_len);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_EC_PARAMS, c->params, c->params_len);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_EC_POINT, der, der_len);
	return rv;
}

static CK_RV rsa_attrs(EVP_PKEY *key, hw_attr_sink sink, void *arg)
{
	CK_RV rv;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *buf = NULL;
	CK_ULONG bits;
	int nl, el;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
		rv = hw_crypto_error("RSA public values", CKR_OK);
		goto out;
	}
	nl = BN_num_bytes(n);
	el = BN_num_bytes(e);
	buf = malloc((size_t)(nl > el ? nl : el) + 1);
	if (buf == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	/* BN_bn2bin writes the minimal big-endian form, as PKCS#11 wants. */
	rv = sink(arg, CKA_MODULUS, buf, (size_t)BN_bn2bin(n, buf));
	if (rv == CKR_OK)
		rv = sink(arg, CKA_PUBLIC_EXPONENT, buf, (size_t)BN_bn2bin(e, buf));
	bits = (CK_ULONG)BN_num_bits(n);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_MODULUS_BITS, &bits, sizeof(bits));
out:
	free(buf);
	BN_free(n);
	BN_free(e);
	return rv;
}

CK_RV hw_key_public_attrs(EVP_PKEY *key, hw_attr_sink sink, void *arg)
{
	CK_RV rv;
	const hw_curve *c = hw_key_curve(key);
	unsigned char *spki = NULL;
	size_t spki_len = 0;

	HW_RETURN_IF(key == NULL || sink == NULL, CKR_ARGUMENTS_BAD);
	switch (hw_key_type(key)) {
	case CKK_RSA:
		rv = rsa_attrs(key, sink, arg);
		break;
	case CKK_EC:
		rv = c != NULL ? ec_attrs(key, c, sink, arg) : CKR_CURVE_NOT_SUPPORTED;
		break;
	case CKK_EC_EDWARDS:
		rv = ed_attrs(key, c, sink, arg);
		break;
	default:
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	if (rv != CKR_OK)
		goto out;
	rv = key_encode(key, EVP_PKEY_PUBLIC_KEY, "SubjectPublicKeyInfo", &spki, &spki_len);
	if (rv == CKR_OK)
		rv = sink(arg, CKA_PUBLIC_KEY_INFO, spki, spki_len);
out:
	OPENSSL_free(spki);
	return rv;
}

/* Modulus and exponent that could belong to a usable key. */
static CK_RV rsa_public_values(const void *a, size_t a_len, const void *b, size_t b_len,
			       BIGNUM **n, BIGNUM **e)
{
	int bits;

	if (a_len == 0 || b_len == 0 || a_len > RSA_PUB_MAX_BITS / 8 + 1 || b_len > a_len)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*n = BN_bin2bn(a, (int)a_len, NULL);
	*e = BN_bin2bn(b, (int)b_len, NULL);
	if (*n == NULL || *e == NULL)
		return CKR_HOST_MEMORY;
	bits = BN_num_bits(*n);
	if (bits < RSA_PUB_MIN_BITS || bits > RSA_PUB_MAX_BITS || !BN_is_odd(*n) ||
	    !BN_is_odd(*e) || BN_is_one(*e) || BN_cmp(*e, *n) >= 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

CK_RV hw_key_from_public(CK_KEY_TYPE type, const void *a, size_t a_len,
			 const void *b, size_t b_len, EVP_PKEY **out)
{
	CK_RV rv;
	OSSL_LIB_CTX *lc;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *k = NULL;
	BIGNUM *n = NULL, *e = NULL;
	const hw_curve *c = NULL;
	const unsigned char *raw = NULL;
	size_t raw_len = 0;
	const char *alg;
	int ok;

	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	HW_RETURN_IF(a == NULL || b == NULL, CKR_TEMPLATE_INCOMPLETE);
	switch (type) {
	case CKK_EC:
	case CKK_EC_EDWARDS:
		rv = hw_curve_from_params(a, a_len, &c);
		HW_RETURN_IF(rv != CKR_OK, rv);
		HW_RETURN_IF(c->key_type != type, CKR_CURVE_NOT_SUPPORTED);
		rv = hw_ec_point_decode(c, b, b_len, &raw, &raw_len);
		HW_RETURN_IF(rv != CKR_OK, rv);
		alg = type == CKK_EC ? ALG_EC : ALG_ED25519;
		break;
	case CKK_RSA:
		alg = ALG_RSA;
		break;
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (type == CKK_RSA) {
		rv = rsa_public_values(a, a_len, b, b_len, &n, &e);
		if (rv != CKR_OK)
			goto out;
		ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	} else {
		ok = (type != CKK_EC ||
		      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl_group, 0)) &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw, raw_len);
	}
	params = ok ? OSSL_PARAM_BLD_to_param(bld) : NULL;
	lc = hw_crypto_ctx();
	pc = lc != NULL ? EVP_PKEY_CTX_new_from_name(lc, alg, NULL) : NULL;
	if (params == NULL || pc == NULL || EVP_PKEY_fromdata_init(pc) <= 0) {
		rv = hw_crypto_error("public key import", CKR_OK);
		goto out;
	}
	/* OpenSSL checks that an EC point lies on the curve here. */
	if (EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		rv = hw_crypto_error("public key", CKR_ATTRIBUTE_VALUE_INVALID);
		goto out;
	}
	*out = k;
	rv = CKR_OK;
out:
	BN_free(n);
	BN_free(e);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rv;
}
