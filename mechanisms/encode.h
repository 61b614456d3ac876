/*
 * Encodings between what PKCS#11 specifies and what crypto libraries and
 * remote services speak: ECDSA DER <-> r||s, DigestInfo, PSS/OAEP
 * parameters, EC parameters and points. Pure functions, no I/O, no OpenSSL
 * objects in the interface.
 */
#ifndef HW_ENCODE_H
#define HW_ENCODE_H

#include "common/ck.h"

/* ---- curves ---------------------------------------------------------------- */
typedef struct hw_curve {
	const char *name;              /* "P-256", "P-384", "P-521", "Ed25519" */
	const char *ossl_group;        /* OpenSSL group/alg name: "prime256v1", "ED25519" */
	CK_KEY_TYPE key_type;          /* CKK_EC or CKK_EC_EDWARDS */
	CK_ULONG field_bits;           /* 256, 384, 521, 255 */
	size_t nlen;                   /* bytes of the order n (r and s width), 32 for Ed25519 */
	size_t point_len;              /* raw public point: 65, 97, 133, or 32 for Ed25519 */
	const unsigned char *params;   /* canonical DER CKA_EC_PARAMS we emit */
	size_t params_len;
} hw_curve;

/* Parse a CKA_EC_PARAMS value: a namedCurve OID, a 3.0 curveName
 * PrintableString ("edwards25519", "prime256v1", ...) or an RFC 8410 OID.
 * Unknown but well-formed curve -> CKR_CURVE_NOT_SUPPORTED; malformed DER,
 * explicit parameters or implicitlyCA -> CKR_DOMAIN_PARAMS_INVALID. */
CK_RV hw_curve_from_params(const void *der, size_t len, const hw_curve **out);
const hw_curve *hw_curve_by_name(const char *name);   /* "P-256"/"prime256v1"/"secp384r1"/"Ed25519"... */

/* CKA_EC_POINT: accept the DER OCTET STRING form or (compatibility) the raw
 * point whose length matches the curve; *raw points into in. */
CK_RV hw_ec_point_decode(const hw_curve *c, const void *in, size_t len,
			 const unsigned char **raw, size_t *raw_len);
/* Wrap a raw point in a DER OCTET STRING; out NULL -> *out_len = size. */
CK_RV hw_ec_point_encode(const void *raw, size_t raw_len, unsigned char *out, size_t *out_len);

/* ---- ECDSA signatures --------------------------------------------------------- */
/* DER Ecdsa-Sig-Value -> r||s, each left-padded to nlen (out has 2*nlen). */
CK_RV hw_ecdsa_der_to_rs(const void *der, size_t der_len, size_t nlen, unsigned char *out);
/* r||s (even length, equal halves) -> DER; out NULL -> *out_len = size needed.
 * Odd or empty input -> CKR_SIGNATURE_LEN_RANGE. */
CK_RV hw_ecdsa_rs_to_der(const void *rs, size_t rs_len, unsigned char *out, size_t *out_len);

/* ---- digests and DigestInfo ---------------------------------------------------- */
size_t hw_hash_len(CK_MECHANISM_TYPE hash);                /* 0 if not a supported hash */
const char *hw_hash_ossl_name(CK_MECHANISM_TYPE hash);     /* "SHA256", NULL if unknown */
CK_MECHANISM_TYPE hw_hash_from_mgf(CK_RSA_PKCS_MGF_TYPE mgf); /* CKG_MGF1_SHA256 -> CKM_SHA256 */
/* DER DigestInfo for hash + digest; out NULL -> *out_len = size. The digest
 * length must equal hw_hash_len(hash), else CKR_DATA_LEN_RANGE. */
CK_RV hw_digestinfo_encode(CK_MECHANISM_TYPE hash, const void *digest, size_t len,
			   unsigned char *out, size_t *out_len);
/* Recognize a DigestInfo (for backends that sign digests, e.g. cloud KMS).
 * Not a DigestInfo of a supported hash -> CKR_DATA_INVALID. */
CK_RV hw_digestinfo_decode(const void *in, size_t len, CK_MECHANISM_TYPE *hash,
			   const unsigned char **digest, size_t *digest_len);

/* ---- RSA parameters ------------------------------------------------------------ */
/* Check a CK_RSA_PKCS_PSS_PARAMS parameter: size, known hashAlg and MGF1,
 * hashAlg == mech_hash when mech_hash != HW_NO_HASH, mgf hash == hashAlg.
 * On success copies it to *out. Else CKR_MECHANISM_PARAM_INVALID. */
CK_RV hw_pss_params_parse(const CK_MECHANISM *m, CK_MECHANISM_TYPE mech_hash,
			  CK_RSA_PKCS_PSS_PARAMS *out);
/* sLen within k* - 2 - hLen for a modulus of mod_bits: CKR_OK, else
 * CKR_MECHANISM_PARAM_INVALID. */
CK_RV hw_pss_slen_check(const CK_RSA_PKCS_PSS_PARAMS *p, CK_ULONG mod_bits);
/* Check a CK_RSA_PKCS_OAEP_PARAMS: hashAlg SHA-1 or SHA-256 (SHA-224/384/512
 * also accepted), MGF1 with the same hash, source CKZ_DATA_SPECIFIED (or 0
 * with no label). Copies it to *out (the label pointer still points into the
 * caller's memory). Else CKR_MECHANISM_PARAM_INVALID. */
CK_RV hw_oaep_params_parse(const CK_MECHANISM *m, CK_RSA_PKCS_OAEP_PARAMS *out);

#endif
