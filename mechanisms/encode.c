/*
 * DER encodings between PKCS#11 and crypto libraries or remote services.
 * Everything here parses input from applications or from the network, so
 * every read is bounds-checked and only strict DER is accepted: a lenient
 * parser would let two encodings of one value compare differently later.
 */
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"

#include <string.h>
#include <strings.h>

/* Largest DER value any of these structures may hold. Keeping lengths below
 * 64 KiB lets a length take at most two bytes after the 0x81/0x82 marker. */
#define DER_MAX_LEN 0xffffu

/* r||s larger than this fits no supported curve (P-521: 2 x 66 bytes). */
#define ECDSA_RS_MAX 256u

/* ---- DER primitives -------------------------------------------------------- */

/* Read one TLV with the expected tag at in[*pos]. The length must be minimal
 * DER (no indefinite form, no needless long form) and fit in the input. */
static bool der_get(const unsigned char *in, size_t len, size_t *pos, unsigned char tag,
		    const unsigned char **val, size_t *vlen)
{
	size_t p = *pos;
	size_t n;

	if (p >= len || in[p] != tag)
		return false;
	p++;
	if (p >= len)
		return false;
	n = in[p++];
	if (n & 0x80) {
		size_t cnt = n & 0x7f;

		if (cnt == 0 || cnt > 2 || len - p < cnt)
			return false;
		n = 0;
		for (size_t i = 0; i < cnt; i++)
			n = (n << 8) | in[p++];
		if (n < 0x80 || (cnt == 2 && n < 0x100))
			return false;
	}
	if (len - p < n)
		return false;
	*val = in + p;
	*vlen = n;
	*pos = p + n;
	return true;
}

/* Bytes a DER length field takes; callers keep n <= DER_MAX_LEN. */
static size_t der_len_size(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : 3;
}

static size_t der_put_len(unsigned char *out, size_t n)
{
	if (n < 0x80) {
		out[0] = (unsigned char)n;
		return 1;
	}
	if (n < 0x100) {
		out[0] = 0x81;
		out[1] = (unsigned char)n;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (unsigned char)(n >> 8);
	out[2] = (unsigned char)n;
	return 3;
}

/* An OID body: every subidentifier base-128, minimal (no leading 0x80
 * byte), and the last byte ends a subidentifier. */
static bool oid_valid(const unsigned char *v, size_t n)
{
	if (n == 0 || (v[n - 1] & 0x80))
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] == 0x80 && (i == 0 || !(v[i - 1] & 0x80)))
			return false;
	return true;
}

/* X.680 PrintableString alphabet. */
static bool printable_valid(const unsigned char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '\0' || strchr(" '()+,-./:=?", c) == NULL)
			return false;
	}
	return true;
}

/* ---- curves ------------------------------------------------------------------ */

static const unsigned char p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char p384_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char p521_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char ed25519_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* 3.0 names Edwards curves by curveName; that is what we emit for Ed25519. */
static const unsigned char ed25519_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
					      '2', '5', '5', '1', '9' };

static const hw_curve curves[] = {
	{ "P-256", "prime256v1", CKK_EC, 256, 32, 65, p256_oid, sizeof(p256_oid) },
	{ "P-384", "secp384r1", CKK_EC, 384, 48, 97, p384_oid, sizeof(p384_oid) },
	{ "P-521", "secp521r1", CKK_EC, 521, 66, 133, p521_oid, sizeof(p521_oid) },
	{ "Ed25519", "ED25519", CKK_EC_EDWARDS, 255, 32, 32, ed25519_name, sizeof(ed25519_name) },
};

/* Every encoding we accept, per curve (same order as curves[]): the OID
 * (for Ed25519 the RFC 8410 one) and the X9.62/SEC/3.0 curveName strings. */
static const struct {
	const unsigned char *oid;      /* full DER of the OID */
	size_t oid_len;
	const char *names[3];          /* NULL-terminated */
} aliases[] = {
	{ p256_oid, sizeof(p256_oid), { "prime256v1", "secp256r1", NULL } },
	{ p384_oid, sizeof(p384_oid), { "secp384r1", NULL } },
	{ p521_oid, sizeof(p521_oid), { "secp521r1", NULL } },
	{ ed25519_oid, sizeof(ed25519_oid), { "edwards25519", NULL } },
};

_Static_assert(HW_ARRAY_LEN(curves) == HW_ARRAY_LEN(aliases), "one alias row per curve");

CK_RV hw_curve_from_params(const void *der, size_t len, const hw_curve **out)
{
	const unsigned char *in = der;
	const unsigned char *v;
	size_t vlen, pos = 0;

	if (in == NULL || len < 2)
		return CKR_DOMAIN_PARAMS_INVALID;
	switch (in[0]) {
	case 0x06:   /* namedCurve / oId */
		if (!der_get(in, len, &pos, 0x06, &v, &vlen) || pos != len || !oid_valid(v, vlen))
			return CKR_DOMAIN_PARAMS_INVALID;
		for (size_t i = 0; i < HW_ARRAY_LEN(aliases); i++)
			if (aliases[i].oid_len == len && memcmp(aliases[i].oid, in, len) == 0) {
				*out = &curves[i];
				return CKR_OK;
			}
		return CKR_CURVE_NOT_SUPPORTED;
	case 0x13:   /* 3.0 curveName */
		if (!der_get(in, len, &pos, 0x13, &v, &vlen) || pos != len || !printable_valid(v, vlen))
			return CKR_DOMAIN_PARAMS_INVALID;
		for (size_t i = 0; i < HW_ARRAY_LEN(aliases); i++) {
			for (size_t j = 0; aliases[i].names[j] != NULL; j++) {
				const char *nm = aliases[i].names[j];

				if (strlen(nm) == vlen && memcmp(nm, v, vlen) == 0) {
					*out = &curves[i];
					return CKR_OK;
				}
			}
		}
		return CKR_CURVE_NOT_SUPPORTED;
	default:
		/* 0x30 ecParameters: explicit domain parameters would have to be
		 * matched field by field against the named curves, and accepting
		 * arbitrary ones invites curve-substitution attacks; the spec
		 * recommends named curves and lets a token refuse an unsupported
		 * encoding with DOMAIN_PARAMS_INVALID. 0x05 implicitlyCA: "must not
		 * be used" (X9.62 inherits the curve from a CA we do not have).
		 * Anything else is not a Parameters CHOICE at all. */
		return CKR_DOMAIN_PARAMS_INVALID;
	}
}

const hw_curve *hw_curve_by_name(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < HW_ARRAY_LEN(aliases); i++) {
		if (strcasecmp(name, curves[i].name) == 0 || strcasecmp(name, curves[i].ossl_group) == 0)
			return &curves[i];
		for (size_t j = 0; aliases[i].names[j] != NULL; j++)
			if (strcasecmp(name, aliases[i].names[j]) == 0)
				return &curves[i];
	}
	return NULL;
}

/* ---- EC points ------------------------------------------------------------------ */

/* Classify a Weierstrass point body: CKR_OK for uncompressed of the right
 * size, TEMPLATE_INCONSISTENT for a compressed or hybrid point (a form we do
 * not support, per the EC section of the mechanisms spec), else malformed. */
static CK_RV ec_point_form(const hw_curve *c, const unsigned char *p, size_t n)
{
	size_t flen = (c->point_len - 1) / 2;

	if (n == c->point_len && p[0] == 0x04)
		return CKR_OK;
	if (n == flen + 1 && (p[0] == 0x02 || p[0] == 0x03))
		return CKR_TEMPLATE_INCONSISTENT;
	if (n == c->point_len && (p[0] == 0x06 || p[0] == 0x07))
		return CKR_TEMPLATE_INCONSISTENT;
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

CK_RV hw_ec_point_decode(const hw_curve *c, const void *in, size_t len,
			 const unsigned char **raw, size_t *raw_len)
{
	const unsigned char *p = in;
	const unsigned char *v;
	size_t vlen, pos = 0;
	CK_RV rv;

	if (c == NULL || p == NULL || len == 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (c->key_type == CKK_EC_EDWARDS) {
		/* 3.1 raw bytes, or the 3.0 OCTET STRING: told apart by length. */
		if (len == c->point_len) {
			*raw = p;
			*raw_len = len;
			return CKR_OK;
		}
		if (len == c->point_len + 2 && p[0] == 0x04 && p[1] == c->point_len) {
			*raw = p + 2;
			*raw_len = c->point_len;
			return CKR_OK;
		}
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	/* A raw point is never as long as its DER wrapping, so the length
	 * alone says which form the application sent. */
	if (len != c->point_len && len != (c->point_len - 1) / 2 + 1) {
		if (!der_get(p, len, &pos, 0x04, &v, &vlen) || pos != len || vlen == 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else {
		v = p;
		vlen = len;
	}
	rv = ec_point_form(c, v, vlen);
	if (rv != CKR_OK)
		return rv;
	*raw = v;
	*raw_len = vlen;
	return CKR_OK;
}

CK_RV hw_ec_point_encode(const void *raw, size_t raw_len, unsigned char *out, size_t *out_len)
{
	size_t need;

	if (raw == NULL || raw_len == 0 || raw_len > DER_MAX_LEN)
		return CKR_ARGUMENTS_BAD;
	need = 1 + der_len_size(raw_len) + raw_len;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	out[0] = 0x04;
	memcpy(out + 1 + der_put_len(out + 1, raw_len), raw, raw_len);
	*out_len = need;
	return CKR_OK;
}

/* ---- ECDSA signatures ------------------------------------------------------------ */

/* A DER INTEGER that must be positive and minimal, right-aligned into
 * dst[0..nlen). */
static bool int_to_fixed(const unsigned char *v, size_t n, size_t nlen, unsigned char *dst)
{
	if (n == 0 || (v[0] & 0x80))
		return false;
	if (v[0] == 0x00 && n > 1) {
		if (!(v[1] & 0x80))
			return false;   /* a needless leading zero: not DER */
		v++;
		n--;
	}
	if (n > nlen)
		return false;
	memset(dst, 0, nlen - n);
	memcpy(dst + nlen - n, v, n);
	return true;
}

CK_RV hw_ecdsa_der_to_rs(const void *der, size_t der_len, size_t nlen, unsigned char *out)
{
	const unsigned char *in = der;
	const unsigned char *seq, *r, *s;
	size_t seq_len, r_len, s_len, pos = 0, ipos = 0;

	if (in == NULL || out == NULL || nlen == 0 || nlen > ECDSA_RS_MAX / 2)
		return CKR_ARGUMENTS_BAD;
	/* Malformed DER here came from a signer (OpenSSL, a KMS): the
	 * operation failed, it is not the application's fault. */
	if (!der_get(in, der_len, &pos, 0x30, &seq, &seq_len) || pos != der_len)
		return CKR_FUNCTION_FAILED;
	if (!der_get(seq, seq_len, &ipos, 0x02, &r, &r_len) ||
	    !der_get(seq, seq_len, &ipos, 0x02, &s, &s_len) || ipos != seq_len)
		return CKR_FUNCTION_FAILED;
	if (!int_to_fixed(r, r_len, nlen, out) || !int_to_fixed(s, s_len, nlen, out + nlen)) {
		memset(out, 0, 2 * nlen);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

/* Size of the minimal DER INTEGER TLV for the unsigned big-endian v[0..n). */
static size_t int_tlv_size(const unsigned char *v, size_t n, size_t *skip, bool *pad)
{
	size_t z = 0;

	while (z + 1 < n && v[z] == 0)
		z++;
	*skip = z;
	*pad = (v[z] & 0x80) != 0;
	return 1 + der_len_size(n - z + *pad) + (n - z + *pad);
}

static size_t int_tlv_put(unsigned char *out, const unsigned char *v, size_t n, size_t skip, bool pad)
{
	size_t body = n - skip + pad;
	size_t o = 0;

	out[o++] = 0x02;
	o += der_put_len(out + o, body);
	if (pad)
		out[o++] = 0x00;
	memcpy(out + o, v + skip, n - skip);
	return o + n - skip;
}

CK_RV hw_ecdsa_rs_to_der(const void *rs, size_t rs_len, unsigned char *out, size_t *out_len)
{
	const unsigned char *in = rs;
	size_t half, rskip, sskip, rt, st, body, need, o = 0;
	bool rpad, spad;

	if (in == NULL || rs_len == 0 || rs_len % 2 != 0 || rs_len > ECDSA_RS_MAX)
		return CKR_SIGNATURE_LEN_RANGE;
	half = rs_len / 2;
	rt = int_tlv_size(in, half, &rskip, &rpad);
	st = int_tlv_size(in + half, half, &sskip, &spad);
	body = rt + st;
	need = 1 + der_len_size(body) + body;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	out[o++] = 0x30;
	o += der_put_len(out + o, body);
	o += int_tlv_put(out + o, in, half, rskip, rpad);
	o += int_tlv_put(out + o, in + half, half, sskip, spad);
	*out_len = o;
	return CKR_OK;
}

/* ---- digests and DigestInfo -------------------------------------------------------- */

/* DigestInfo = SEQUENCE { AlgorithmIdentifier { OID, NULL }, OCTET STRING }:
 * everything before the digest bytes is fixed per hash. */
static const struct {
	CK_MECHANISM_TYPE hash;
	CK_RSA_PKCS_MGF_TYPE mgf;
	const char *ossl;
	size_t len;
	size_t prefix_len;
	unsigned char prefix[19];
} hashes[] = {
	{ CKM_SHA_1, CKG_MGF1_SHA1, "SHA1", 20, 15,
	  { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 } },
	{ CKM_SHA224, CKG_MGF1_SHA224, "SHA224", 28, 19,
	  { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04,
	    0x05, 0x00, 0x04, 0x1c } },
	{ CKM_SHA256, CKG_MGF1_SHA256, "SHA256", 32, 19,
	  { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	    0x05, 0x00, 0x04, 0x20 } },
	{ CKM_SHA384, CKG_MGF1_SHA384, "SHA384", 48, 19,
	  { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
	    0x05, 0x00, 0x04, 0x30 } },
	{ CKM_SHA512, CKG_MGF1_SHA512, "SHA512", 64, 19,
	  { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
	    0x05, 0x00, 0x04, 0x40 } },
};

static int hash_index(CK_MECHANISM_TYPE hash)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(hashes); i++)
		if (hashes[i].hash == hash)
			return (int)i;
	return -1;
}

size_t hw_hash_len(CK_MECHANISM_TYPE hash)
{
	int i = hash_index(hash);

	return i < 0 ? 0 : hashes[i].len;
}

const char *hw_hash_ossl_name(CK_MECHANISM_TYPE hash)
{
	int i = hash_index(hash);

	return i < 0 ? NULL : hashes[i].ossl;
}

/* HW_NO_HASH for an MGF we do not know. */
CK_MECHANISM_TYPE hw_hash_from_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(hashes); i++)
		if (hashes[i].mgf == mgf)
			return hashes[i].hash;
	return HW_NO_HASH;
}

CK_RV hw_digestinfo_encode(CK_MECHANISM_TYPE hash, const void *digest, size_t len,
			   unsigned char *out, size_t *out_len)
{
	int i = hash_index(hash);
	size_t need;

	if (i < 0)
		return CKR_MECHANISM_INVALID;
	if (digest == NULL || len != hashes[i].len)
		return CKR_DATA_LEN_RANGE;
	need = hashes[i].prefix_len + len;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, hashes[i].prefix, hashes[i].prefix_len);
	memcpy(out + hashes[i].prefix_len, digest, len);
	*out_len = need;
	return CKR_OK;
}

CK_RV hw_digestinfo_decode(const void *in, size_t len, CK_MECHANISM_TYPE *hash,
			   const unsigned char **digest, size_t *digest_len)
{
	const unsigned char *p = in;

	if (p == NULL)
		return CKR_DATA_INVALID;
	for (size_t i = 0; i < HW_ARRAY_LEN(hashes); i++) {
		size_t pl = hashes[i].prefix_len;

		if (len == pl + hashes[i].len && memcmp(p, hashes[i].prefix, pl) == 0) {
			*hash = hashes[i].hash;
			*digest = p + pl;
			*digest_len = hashes[i].len;
			return CKR_OK;
		}
	}
	return CKR_DATA_INVALID;
}

/* ---- RSA parameters ------------------------------------------------------------------ */

CK_RV hw_pss_params_parse(const CK_MECHANISM *m, CK_MECHANISM_TYPE mech_hash,
			  CK_RSA_PKCS_PSS_PARAMS *out)
{
	CK_RSA_PKCS_PSS_PARAMS p;

	if (m == NULL || m->pParameter == NULL || m->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	/* The application's buffer need not be aligned for the struct. */
	memcpy(&p, m->pParameter, sizeof(p));
	if (hw_hash_len(p.hashAlg) == 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (mech_hash != HW_NO_HASH && p.hashAlg != mech_hash)
		return CKR_MECHANISM_PARAM_INVALID;
	/* The spec does not tie MGF1's hash to hashAlg, but every caller sends
	 * the same one and backends (KMS, TPM) support only that. */
	if (hw_hash_from_mgf(p.mgf) != p.hashAlg)
		return CKR_MECHANISM_PARAM_INVALID;
	if (out != NULL)
		*out = p;
	return CKR_OK;
}

CK_RV hw_pss_slen_check(const CK_RSA_PKCS_PSS_PARAMS *p, CK_ULONG mod_bits)
{
	size_t hlen, kstar;

	if (p == NULL || mod_bits == 0)
		return CKR_MECHANISM_PARAM_INVALID;
	hlen = hw_hash_len(p->hashAlg);
	if (hlen == 0)
		return CKR_MECHANISM_PARAM_INVALID;
	/* The encoded message has modBits-1 bits: one byte less when the top
	 * byte of the modulus holds a single bit. */
	kstar = (mod_bits + 7) / 8 - (mod_bits % 8 == 1 ? 1 : 0);
	if (kstar < hlen + 2 || p->sLen > kstar - 2 - hlen)
		return CKR_MECHANISM_PARAM_INVALID;
	return CKR_OK;
}

CK_RV hw_oaep_params_parse(const CK_MECHANISM *m, CK_RSA_PKCS_OAEP_PARAMS *out)
{
	CK_RSA_PKCS_OAEP_PARAMS p;

	if (m == NULL || m->pParameter == NULL || m->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, m->pParameter, sizeof(p));
	if (hw_hash_len(p.hashAlg) == 0 || hw_hash_from_mgf(p.mgf) != p.hashAlg)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p.source == CKZ_DATA_SPECIFIED) {
		if (p.pSourceData == NULL && p.ulSourceDataLen != 0)
			return CKR_MECHANISM_PARAM_INVALID;
	} else if (p.source == 0) {
		/* Some callers leave source zero when there is no label. */
		if (p.pSourceData != NULL || p.ulSourceDataLen != 0)
			return CKR_MECHANISM_PARAM_INVALID;
	} else {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (out != NULL)
		*out = p;
	return CKR_OK;
}
