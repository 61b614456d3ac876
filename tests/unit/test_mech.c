/* The OpenSSL-backed crypto: keys, signatures, encryption, digests, the
 * library context and its use from many threads. */
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"
#include "tests/unit/unit.h"

#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Test vectors are written in hex. */
static size_t unhex(const char *s, unsigned char *out)
{
	size_t n = 0;

	ck_assert_int_eq(OPENSSL_hexstr2buf_ex(out, strlen(s) / 2, &n, s, '\0'), 1);
	return n;
}

/* ---- crypto helpers ----------------------------------------------------------------------------- */

typedef struct attrs {
	CK_ATTRIBUTE_TYPE type[8];
	unsigned char val[8][600];
	size_t len[8];
	size_t n;
} attrs;

static CK_RV attrs_sink(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	attrs *a = arg;

	ck_assert_uint_lt(a->n, 8);
	ck_assert_uint_le(len, sizeof(a->val[0]));
	a->type[a->n] = type;
	memcpy(a->val[a->n], value, len);
	a->len[a->n++] = len;
	return CKR_OK;
}

static const unsigned char *attr_get(const attrs *a, CK_ATTRIBUTE_TYPE type, size_t *len)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->type[i] == type) {
			*len = a->len[i];
			return a->val[i];
		}
	ck_abort_msg("attribute 0x%lx missing", type);
	return NULL;
}

static EVP_PKEY *gen_curve(const char *name)
{
	const hw_curve *c = hw_curve_by_name(name);
	hw_keygen g = { .key_type = c->key_type, .curve = c };
	EVP_PKEY *k = NULL;

	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_OK);
	return k;
}

static CK_RV sign(EVP_PKEY *k, const hw_sign_req *r, unsigned char *sig, size_t *len)
{
	*len = 0;
	return hw_pkey_sign(k, r, sig, len);
}

/* sign, verify, then every single-bit flip of the first and last bytes fails */
static void sign_verify(EVP_PKEY *priv, EVP_PKEY *pub, const hw_sign_req *r, unsigned char *sig, size_t *len)
{
	ck_assert_uint_eq(sign(priv, r, sig, len), CKR_OK);
	ck_assert_uint_eq(*len, hw_sig_len(priv, r->base));
	ck_assert_uint_eq(hw_pkey_verify(pub, r, sig, *len), CKR_OK);
	for (int bit = 0; bit < 8; bit++) {
		sig[*len - 1] ^= (unsigned char)(1 << bit);
		ck_assert_uint_eq(hw_pkey_verify(pub, r, sig, *len), CKR_SIGNATURE_INVALID);
		sig[*len - 1] ^= (unsigned char)(1 << bit);
	}
	sig[0] ^= 0x40;
	ck_assert_uint_eq(hw_pkey_verify(pub, r, sig, *len), CKR_SIGNATURE_INVALID);
	sig[0] ^= 0x40;
}

/* A public-only copy built from the attributes, as the engine will. */
static EVP_PKEY *public_copy(EVP_PKEY *k, attrs *a)
{
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	const unsigned char *x, *y, *spki;
	size_t xl, yl, sl;
	CK_KEY_TYPE t = hw_key_type(k);

	memset(a, 0, sizeof(*a));
	ck_assert_uint_eq(hw_key_public_attrs(k, attrs_sink, a), CKR_OK);
	x = attr_get(a, t == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS, &xl);
	y = attr_get(a, t == CKK_RSA ? CKA_PUBLIC_EXPONENT : CKA_EC_POINT, &yl);
	ck_assert_uint_eq(hw_key_from_public(t, x, xl, y, yl, &pub), CKR_OK);
	spki = attr_get(a, CKA_PUBLIC_KEY_INFO, &sl);
	ck_assert_uint_eq(hw_key_from_spki(spki, sl, &pub2), CKR_OK);
	ck_assert_int_eq(EVP_PKEY_eq(pub, pub2), 1);
	ck_assert_int_eq(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub2);
	return pub;
}

/* ---- crypto: EC ------------------------------------------------------------------------------------ */

START_TEST(test_ecdsa)
{
	static const char *names[] = { "P-256", "P-384", "P-521" };
	const hw_curve *c = hw_curve_by_name(names[_i]);
	EVP_PKEY *k = gen_curve(names[_i]), *pub;
	EVP_PKEY_CTX *pc;
	unsigned char dg[64], sig[140], rs[132], der[160];
	const unsigned char *v;
	size_t len, vl, dl = sizeof(der), nlen = c->nlen;
	hw_sign_req r = { .base = CKM_ECDSA, .hash = CKM_SHA256, .data = dg, .len = 32 };
	attrs a;

	ck_assert_uint_eq(hw_key_type(k), CKK_EC);
	ck_assert_ptr_eq(hw_key_curve(k), c);
	ck_assert_uint_eq(hw_key_bits(k), c->field_bits);
	pub = public_copy(k, &a);
	v = attr_get(&a, CKA_EC_PARAMS, &vl);
	ck_assert(vl == c->params_len && memcmp(v, c->params, vl) == 0);
	v = attr_get(&a, CKA_EC_POINT, &vl);
	ck_assert_uint_eq(vl, c->point_len + (c->point_len > 127 ? 3 : 2));
	ck_assert_uint_eq(v[0], 0x04);

	hw_random(dg, sizeof(dg));
	sign_verify(k, pub, &r, sig, &len);
	ck_assert_uint_eq(len, 2 * nlen);
	/* OpenSSL's verifier agrees; test_encode checks our DER against OpenSSL's */
	ck_assert_uint_eq(hw_ecdsa_rs_to_der(sig, 2 * nlen, der, &dl), CKR_OK);
	pc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), pub, NULL);
	ck_assert_int_eq(EVP_PKEY_verify_init(pc), 1);
	ck_assert_int_eq(EVP_PKEY_verify(pc, der, dl, dg, 32), 1);
	/* and an OpenSSL signature converts and verifies here */
	EVP_PKEY_CTX_free(pc);
	len = sizeof(sig);
	pc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), k, NULL);
	ck_assert_int_eq(EVP_PKEY_sign_init(pc), 1);
	ck_assert_int_eq(EVP_PKEY_sign(pc, sig, &len, dg, 32), 1);
	EVP_PKEY_CTX_free(pc);
	ck_assert_uint_eq(hw_ecdsa_der_to_rs(sig, len, nlen, rs), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, rs, 2 * nlen), CKR_OK);

	/* lengths: odd, too long, empty; short even is merely invalid */
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 2 * nlen - 1), CKR_SIGNATURE_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 2 * nlen + 2), CKR_SIGNATURE_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 0), CKR_SIGNATURE_LEN_RANGE);
	memset(sig, 0x5a, 8);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 8), CKR_SIGNATURE_INVALID);
	memset(sig, 0, sizeof(sig));   /* r = s = 0 */
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 2 * nlen), CKR_SIGNATURE_INVALID);

	/* any digest length; a long one is cut to the order's size */
	for (size_t dlen = 0; dlen <= 64; dlen += 16) {
		r.len = dlen;
		sign_verify(k, pub, &r, sig, &len);
	}
	r.len = nlen + 8 <= 64 ? nlen + 8 : 64;
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_OK);
	if (r.len > nlen && c->field_bits % 8 == 0) {
		r.len = nlen;
		ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, len), CKR_OK);
	}
	r.base = CKM_EDDSA;
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_KEY_TYPE_INCONSISTENT);
	r.base = CKM_RSA_PKCS;
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_KEY_TYPE_INCONSISTENT);
	r.base = CKM_SHA256;
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_MECHANISM_INVALID);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_eddsa)
{
	/* RFC 8032 section 7.1, test 1 */
	static const char *seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
	static const char *pubk = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
	static const char *want = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
	unsigned char der[64], sig[64], exp[64], pk[32], msg[100];
	size_t dl = unhex("302e020100300506032b657004220420", der), len, vl;
	EVP_PKEY *k = NULL, *pub, *g;
	hw_sign_req r = { .base = CKM_EDDSA, .hash = HW_NO_HASH, .data = NULL, .len = 0 };
	const unsigned char *v;
	attrs a;

	dl += unhex(seed, der + dl);
	ck_assert_uint_eq(hw_key_from_der(der, dl, &k), CKR_OK);
	ck_assert_uint_eq(hw_key_type(k), CKK_EC_EDWARDS);
	ck_assert_uint_eq(hw_key_bits(k), 255);
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	unhex(want, exp);
	ck_assert_mem_eq(sig, exp, 64);
	pub = public_copy(k, &a);
	v = attr_get(&a, CKA_EC_POINT, &vl);
	unhex(pubk, pk);
	ck_assert(vl == 34 && v[0] == 0x04 && v[1] == 0x20 && memcmp(v + 2, pk, 32) == 0);
	v = attr_get(&a, CKA_EC_PARAMS, &vl);
	ck_assert(vl == 14 && memcmp(v, "\x13\x0c" "edwards25519", 14) == 0);
	sign_verify(k, pub, &r, sig, &len);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 63), CKR_SIGNATURE_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 65), CKR_SIGNATURE_LEN_RANGE);
	EVP_PKEY_free(pub);
	/* raw 32-byte point and the RFC 8410 OID work too */
	ck_assert_uint_eq(hw_key_from_public(CKK_EC_EDWARDS, "\x06\x03\x2b\x65\x70", 5, pk, 32, &pub), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, exp, 64), CKR_OK);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, "\x06\x03\x2b\x65\x70", 5, pk, 32, &g),
			  CKR_CURVE_NOT_SUPPORTED);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);

	k = gen_curve("Ed25519");
	pub = public_copy(k, &a);
	memset(msg, 0x42, sizeof(msg));
	r.data = msg;
	r.len = sizeof(msg);
	sign_verify(k, pub, &r, sig, &len);
	r.base = CKM_ECDSA;
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 64), CKR_KEY_TYPE_INCONSISTENT);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_ec_import_errors)
{
	EVP_PKEY *k = gen_curve("P-256"), *pub = NULL;
	const unsigned char *par, *pt;
	unsigned char bad[140];
	size_t pl, ptl;
	attrs a, b;

	memset(&a, 0, sizeof(a));
	ck_assert_uint_eq(hw_key_public_attrs(k, attrs_sink, &a), CKR_OK);
	par = attr_get(&a, CKA_EC_PARAMS, &pl);
	pt = attr_get(&a, CKA_EC_POINT, &ptl);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, par, pl, pt + 2, ptl - 2, &pub), CKR_OK);
	EVP_PKEY_free(pub);
	memcpy(bad, pt, ptl);
	bad[ptl - 1] ^= 1;   /* no longer on the curve */
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, par, pl, bad, ptl, &pub), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, NULL, 0, pt, ptl, &pub), CKR_TEMPLATE_INCOMPLETE);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, par, pl, NULL, 0, &pub), CKR_TEMPLATE_INCOMPLETE);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, "\x06\x05\x2b\x81\x04\x00\x0a", 7, pt, ptl, &pub),
			  CKR_CURVE_NOT_SUPPORTED);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, "\x05\x00", 2, pt, ptl, &pub), CKR_DOMAIN_PARAMS_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_EC, par, pl, pt, ptl - 1, &pub), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_DSA, par, pl, pt, ptl, &pub), CKR_ATTRIBUTE_VALUE_INVALID);

	/* a key carrying compressed points still yields the uncompressed
	 * CKA_EC_POINT, and a compressed SPKI is re-encoded uncompressed */
	ck_assert_int_eq(EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
							"compressed"), 1);
	memset(&b, 0, sizeof(b));
	ck_assert_uint_eq(hw_key_public_attrs(k, attrs_sink, &b), CKR_OK);
	ck_assert_mem_eq(attr_get(&b, CKA_EC_POINT, &pl), pt, ptl);
	ck_assert_uint_eq(pl, ptl);
	pl = sizeof(bad);
	ck_assert_uint_eq(hw_key_spki(k, bad, &pl), CKR_OK);
	ck_assert_uint_eq(pl, 59);
	ck_assert_uint_eq(hw_key_from_spki(bad, pl, &pub), CKR_OK);
	pl = sizeof(bad);
	ck_assert_uint_eq(hw_key_spki(pub, bad, &pl), CKR_OK);
	ck_assert_uint_eq(pl, 91);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_key_der)
{
	static const char *names[] = { "P-256", "P-384", "P-521", "Ed25519" };
	EVP_PKEY *k = gen_curve(names[_i]), *k2 = NULL, *pub;
	hw_secret *der = NULL;
	unsigned char dg[32] = { 1, 2, 3 }, sig[140], buf[300];
	hw_sign_req r = { .base = _i == 3 ? CKM_EDDSA : CKM_ECDSA, .data = dg, .len = 32 };
	size_t len;
	attrs a;

	ck_assert_uint_eq(hw_key_to_der(k, &der), CKR_OK);
	ck_assert_uint_eq(hw_key_from_der(der->data, der->len, &k2), CKR_OK);
	pub = public_copy(k, &a);
	ck_assert_uint_eq(sign(k2, &r, sig, &len), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, len), CKR_OK);
	EVP_PKEY_free(k2);
	ck_assert_uint_lt(der->len, sizeof(buf));
	memcpy(buf, der->data, der->len);
	buf[der->len] = 0;
	ck_assert_uint_eq(hw_key_from_der(buf, der->len + 1, &k2), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_der(buf, der->len - 1, &k2), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_der(buf, 0, &k2), CKR_ATTRIBUTE_VALUE_INVALID);
	memset(buf, 0x30, 40);
	ck_assert_uint_eq(hw_key_from_der(buf, 40, &k2), CKR_ATTRIBUTE_VALUE_INVALID);
	/* the SPKI of a private key is its public half */
	len = 1;
	ck_assert_uint_eq(hw_key_spki(k, buf, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(hw_key_spki(k, NULL, &len), CKR_OK);
	ck_assert_uint_le(len, sizeof(buf));
	ck_assert_uint_eq(hw_key_spki(k, buf, &len), CKR_OK);
	ck_assert_uint_eq(hw_key_from_spki(buf, len, &k2), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(k2, &r, sig, hw_sig_len(k2, r.base)), CKR_OK);
	EVP_PKEY_free(k2);
	hw_secret_free(der);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(test_unsupported_curve_der)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(hw_crypto_ctx(), "EC", NULL);
	EVP_PKEY *k = NULL, *k2 = NULL;
	OSSL_ENCODER_CTX *ec;
	unsigned char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(EVP_PKEY_keygen_init(pc), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_group_name(pc, "secp256k1"), 1);
	ck_assert_int_eq(EVP_PKEY_generate(pc, &k), 1);
	ec = OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
	ck_assert_int_eq(OSSL_ENCODER_to_data(ec, &buf, &len), 1);
	ck_assert_uint_eq(hw_key_from_der(buf, len, &k2), CKR_CURVE_NOT_SUPPORTED);
	ck_assert_ptr_null(hw_key_curve(k));
	OPENSSL_clear_free(buf, len);
	OSSL_ENCODER_CTX_free(ec);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- crypto: RSA (one 2048-bit key for the whole case) ---------------------------------------------- */

static EVP_PKEY *rsa_key;

static void rsa_setup(void)
{
	hw_keygen g = { .key_type = CKK_RSA, .rsa_bits = 2048 };

	ck_assert_uint_eq(hw_key_generate(&g, &rsa_key), CKR_OK);
}

static void rsa_teardown(void)
{
	EVP_PKEY_free(rsa_key);
	rsa_key = NULL;
	hw_crypto_fini();
}

/* OpenSSL verifying on its own terms: it builds the DigestInfo or PSS. */
static int ossl_rsa_verify(EVP_PKEY *k, int pad, const char *md, int slen, const unsigned char *sig,
			   const unsigned char *dg, size_t dlen)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), k, NULL);
	EVP_MD *m = EVP_MD_fetch(hw_crypto_ctx(), md, NULL);
	int ok = EVP_PKEY_verify_init(pc) == 1 && EVP_PKEY_CTX_set_rsa_padding(pc, pad) == 1 &&
		 EVP_PKEY_CTX_set_signature_md(pc, m) == 1 &&
		 (pad != RSA_PKCS1_PSS_PADDING || (EVP_PKEY_CTX_set_rsa_mgf1_md(pc, m) == 1 &&
						   EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, slen) == 1)) &&
		 EVP_PKEY_verify(pc, sig, 256, dg, dlen) == 1;

	EVP_MD_free(m);
	EVP_PKEY_CTX_free(pc);
	return ok;
}

START_TEST(test_rsa_pkcs)
{
	unsigned char dg[32], di[64], sig[256], big[300];
	size_t dl = sizeof(di), len, vl;
	hw_sign_req r = { .base = CKM_RSA_PKCS, .hash = CKM_SHA256, .data = di };
	const unsigned char *v;
	EVP_PKEY *pub;
	CK_ULONG bits;
	attrs a;

	ck_assert_uint_eq(hw_key_type(rsa_key), CKK_RSA);
	ck_assert_uint_eq(hw_key_bits(rsa_key), 2048);
	ck_assert_ptr_null(hw_key_curve(rsa_key));
	pub = public_copy(rsa_key, &a);
	v = attr_get(&a, CKA_MODULUS, &vl);
	ck_assert(vl == 256 && v[0] != 0);
	v = attr_get(&a, CKA_PUBLIC_EXPONENT, &vl);
	ck_assert(vl == 3 && memcmp(v, "\x01\x00\x01", 3) == 0);
	v = attr_get(&a, CKA_MODULUS_BITS, &vl);
	ck_assert_uint_eq(vl, sizeof(CK_ULONG));
	memcpy(&bits, v, sizeof(bits));
	ck_assert_uint_eq(bits, 2048);

	ck_assert_uint_eq(hw_digest_once(CKM_SHA256, "message", 7, dg, &len), CKR_OK);
	ck_assert_uint_eq(hw_digestinfo_encode(CKM_SHA256, dg, 32, di, &dl), CKR_OK);
	r.len = dl;
	sign_verify(rsa_key, pub, &r, sig, &len);
	ck_assert_uint_eq(len, 256);
	ck_assert(ossl_rsa_verify(pub, RSA_PKCS1_PADDING, "SHA256", 0, sig, dg, 32));
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 255), CKR_SIGNATURE_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 257), CKR_SIGNATURE_LEN_RANGE);
	/* k - 11 bytes is the most PKCS#1 v1.5 can carry */
	memset(big, 0x33, sizeof(big));
	r.data = big;
	r.len = 245;
	ck_assert_uint_eq(sign(rsa_key, &r, sig, &len), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, len), CKR_OK);
	r.len = 246;
	ck_assert_uint_eq(sign(rsa_key, &r, sig, &len), CKR_DATA_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 256), CKR_DATA_LEN_RANGE);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(test_rsa_pss)
{
	static const CK_MECHANISM_TYPE hs[] = { CKM_SHA256, CKM_SHA384, CKM_SHA_1 };
	static const CK_RSA_PKCS_MGF_TYPE mg[] = { CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA1 };
	unsigned char dg[64], sig[256];
	size_t len, hl = hw_hash_len(hs[_i]);
	hw_sign_req r = { .base = CKM_RSA_PKCS_PSS, .hash = hs[_i], .pss = { hs[_i], mg[_i], hl },
			  .data = dg, .len = hl };
	attrs a;
	EVP_PKEY *pub = public_copy(rsa_key, &a);

	hw_random(dg, sizeof(dg));
	sign_verify(rsa_key, pub, &r, sig, &len);
	ck_assert(ossl_rsa_verify(pub, RSA_PKCS1_PSS_PADDING, hw_hash_ossl_name(hs[_i]), (int)hl, sig, dg, hl));
	/* the salt length is part of what is verified */
	r.pss.sLen = hl + 1;
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, len), CKR_SIGNATURE_INVALID);
	r.pss.sLen = 256 - 2 - hl + 1;
	ck_assert_uint_eq(sign(rsa_key, &r, sig, &len), CKR_MECHANISM_PARAM_INVALID);
	r.pss.sLen = 256 - 2 - hl;
	sign_verify(rsa_key, pub, &r, sig, &len);
	r.len = hl - 1;
	ck_assert_uint_eq(sign(rsa_key, &r, sig, &len), CKR_DATA_LEN_RANGE);
	ck_assert_uint_eq(hw_pkey_verify(pub, &r, sig, 256), CKR_DATA_LEN_RANGE);
	r.len = hl;
	r.pss.mgf = 0x99;
	ck_assert_uint_eq(sign(rsa_key, &r, sig, &len), CKR_MECHANISM_PARAM_INVALID);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(test_rsa_crypt)
{
	unsigned char label[] = "the label", other[] = "the lab3l", msg[200], ct[256], pt[256];
	size_t len, plen;
	attrs a;
	EVP_PKEY *pub = public_copy(rsa_key, &a);
	hw_crypt_req r = { .mech = CKM_RSA_PKCS_OAEP,
			   .oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label, 9 },
			   .data = msg, .len = 256 - 2 - 64 };

	memset(msg, 0x61, sizeof(msg));
	ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	len = 255;
	ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, ct, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 256);
	ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, ct, &len), CKR_OK);
	r.data = ct;
	r.len = len;
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, NULL, &plen), CKR_OK);
	ck_assert_uint_eq(plen, 256);
	plen = 10;
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(plen, 190);
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_OK);
	ck_assert(plen == 190 && memcmp(pt, msg, 190) == 0);
	r.oaep.pSourceData = other;
	plen = sizeof(pt);
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_ENCRYPTED_DATA_INVALID);
	r.oaep.pSourceData = label;
	ct[100] ^= 4;
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_ENCRYPTED_DATA_INVALID);
	r.len = 255;
	ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_ENCRYPTED_DATA_LEN_RANGE);

	r.data = msg;   /* too long for OAEP-SHA256 */
	r.len = 256 - 2 - 64 + 1;
	len = sizeof(ct);
	ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, ct, &len), CKR_DATA_LEN_RANGE);

	/* SHA-1 without a label, and PKCS#1 v1.5 */
	r = (hw_crypt_req){ .mech = CKM_RSA_PKCS_OAEP, .oaep = { CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0 },
			    .data = msg, .len = 20 };
	for (int pass = 0; pass < 2; pass++) {
		r.data = msg;
		r.len = 20;
		len = sizeof(ct);
		ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, ct, &len), CKR_OK);
		r.data = ct;
		r.len = len;
		plen = sizeof(pt);
		ck_assert_uint_eq(hw_pkey_decrypt(rsa_key, &r, pt, &plen), CKR_OK);
		ck_assert(plen == 20 && memcmp(pt, msg, 20) == 0);
		r.mech = CKM_RSA_PKCS;
	}
	r.data = msg;
	r.len = 246;
	len = sizeof(ct);
	ck_assert_uint_eq(hw_pkey_encrypt(pub, &r, ct, &len), CKR_DATA_LEN_RANGE);
	EVP_PKEY *ec = gen_curve("P-256");
	ck_assert_uint_eq(hw_pkey_decrypt(ec, &r, pt, &plen), CKR_KEY_TYPE_INCONSISTENT);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(test_rsa_der_and_import)
{
	hw_secret *der = NULL;
	EVP_PKEY *k2 = NULL, *pub = NULL;
	unsigned char dg[32] = { 9 }, sig[256];
	hw_sign_req r = { .base = CKM_RSA_PKCS_PSS, .pss = { CKM_SHA256, CKG_MGF1_SHA256, 0 },
			  .data = dg, .len = 32 };
	size_t len;

	ck_assert_uint_eq(hw_key_to_der(rsa_key, &der), CKR_OK);
	ck_assert_uint_eq(hw_key_from_der(der->data, der->len, &k2), CKR_OK);
	ck_assert_int_eq(EVP_PKEY_eq(k2, rsa_key), 1);
	ck_assert_uint_eq(sign(k2, &r, sig, &len), CKR_OK);
	ck_assert_uint_eq(hw_pkey_verify(rsa_key, &r, sig, len), CKR_OK);
	EVP_PKEY_free(k2);
	hw_secret_free(der);
	memset(sig, 0xff, sizeof(sig));
	ck_assert_uint_eq(hw_key_from_public(CKK_RSA, sig, 256, "\x01\x00\x00", 3, &pub),
			  CKR_ATTRIBUTE_VALUE_INVALID);   /* even exponent */
	ck_assert_uint_eq(hw_key_from_public(CKK_RSA, sig, 256, "\x01", 1, &pub), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_RSA, sig, 0, "\x03", 1, &pub), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_RSA, sig, 8, "\x03", 1, &pub), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_key_from_public(CKK_RSA, NULL, 0, "\x03", 1, &pub), CKR_TEMPLATE_INCOMPLETE);
}
END_TEST

START_TEST(test_keygen_errors)
{
	const hw_curve *p256 = hw_curve_by_name("P-256"), *ed = hw_curve_by_name("Ed25519");
	hw_keygen g = { .key_type = CKK_RSA, .rsa_bits = 2048, .rsa_e = (const unsigned char *)"\x01\x00\x00",
			.rsa_e_len = 3 };
	EVP_PKEY *k = NULL;
	attrs a;
	const unsigned char *v;
	size_t vl;

	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_TEMPLATE_INCONSISTENT);
	g.rsa_e = (const unsigned char *)"\x00\x01";
	g.rsa_e_len = 2;
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_TEMPLATE_INCONSISTENT);
	g.rsa_e_len = 0;
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_TEMPLATE_INCONSISTENT);
	g = (hw_keygen){ .key_type = CKK_RSA, .rsa_bits = 512 };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_ATTRIBUTE_VALUE_INVALID);
	g.rsa_bits = 8192;
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_ATTRIBUTE_VALUE_INVALID);
	g = (hw_keygen){ .key_type = CKK_EC, .curve = ed };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_CURVE_NOT_SUPPORTED);
	g = (hw_keygen){ .key_type = CKK_EC_EDWARDS, .curve = p256 };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_CURVE_NOT_SUPPORTED);
	g = (hw_keygen){ .key_type = CKK_EC };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_TEMPLATE_INCOMPLETE);
	g = (hw_keygen){ .key_type = CKK_DSA };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_ptr_null(k);
	/* e = 3 with leading zeros is fine */
	g = (hw_keygen){ .key_type = CKK_RSA, .rsa_bits = 2048, .rsa_e = (const unsigned char *)"\x00\x00\x03",
			 .rsa_e_len = 3 };
	ck_assert_uint_eq(hw_key_generate(&g, &k), CKR_OK);
	memset(&a, 0, sizeof(a));
	ck_assert_uint_eq(hw_key_public_attrs(k, attrs_sink, &a), CKR_OK);
	v = attr_get(&a, CKA_PUBLIC_EXPONENT, &vl);
	ck_assert(vl == 1 && v[0] == 3);
	EVP_PKEY_free(k);
}
END_TEST

/* ---- digests, random, lifecycle, threads ------------------------------------------------------------- */

START_TEST(test_digest)
{
	static const char *abc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const CK_MECHANISM_TYPE hs[] = { CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512 };
	unsigned char a[64], b[64], want[32];
	size_t al, bl;
	hw_digest *d = NULL;

	unhex(abc256, want);
	ck_assert_uint_eq(hw_digest_once(CKM_SHA256, "abc", 3, a, &al), CKR_OK);
	ck_assert(al == 32 && memcmp(a, want, 32) == 0);
	for (size_t i = 0; i < HW_ARRAY_LEN(hs); i++) {
		ck_assert_uint_eq(hw_digest_new(hs[i], &d), CKR_OK);
		ck_assert_uint_eq(hw_digest_update(d, "a", 1), CKR_OK);
		ck_assert_uint_eq(hw_digest_update(d, NULL, 0), CKR_OK);
		ck_assert_uint_eq(hw_digest_update(d, "bc", 2), CKR_OK);
		ck_assert_uint_eq(hw_digest_final(d, a, &al), CKR_OK);
		hw_digest_free(d);
		ck_assert_uint_eq(hw_digest_once(hs[i], "abc", 3, b, &bl), CKR_OK);
		ck_assert(al == hw_hash_len(hs[i]) && bl == al && memcmp(a, b, al) == 0);
	}
	ck_assert_uint_eq(hw_digest_new(CKM_MD5, &d), CKR_MECHANISM_INVALID);
	ck_assert_uint_eq(hw_digest_once(CKM_SHA256, NULL, 0, a, &al), CKR_OK);
	ck_assert_uint_eq(hw_random(a, 32), CKR_OK);
	ck_assert_uint_eq(hw_random(b, 32), CKR_OK);
	ck_assert_int_ne(memcmp(a, b, 32), 0);
	ck_assert_uint_eq(hw_random(a, 0), CKR_OK);
}
END_TEST

/* Kept so a leak checker sees the context a "child" abandoned as reachable. */
static OSSL_LIB_CTX *volatile abandoned;

START_TEST(test_lifecycle)
{
	unsigned char dg[32] = { 0 }, sig[64];
	hw_sign_req r = { .base = CKM_ECDSA, .data = dg, .len = 32 };
	EVP_PKEY *k;
	size_t len;

	ck_assert_uint_eq(hw_crypto_init(), CKR_OK);
	ck_assert_uint_eq(hw_crypto_init(), CKR_OK);
	ck_assert_ptr_nonnull(hw_crypto_ctx());
	hw_crypto_fini();
	ck_assert_uint_eq(hw_crypto_init(), CKR_OK);
	k = gen_curve("P-256");
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_OK);
	EVP_PKEY_free(k);
	/* a forked child drops the parent's context and gets a new one */
	abandoned = hw_crypto_ctx();
	hw_crypto_forget();
	ck_assert_ptr_nonnull(hw_crypto_ctx());
	ck_assert_ptr_ne(hw_crypto_ctx(), abandoned);
	k = gen_curve("P-256");
	ck_assert_uint_eq(sign(k, &r, sig, &len), CKR_OK);
	EVP_PKEY_free(k);
}
END_TEST

struct worker {
	EVP_PKEY *key, *pub;   /* shared; NULL: the worker makes its own */
	int ok;
};

static void *sign_worker(void *arg)
{
	struct worker *w = arg;
	hw_keygen g = { .key_type = CKK_EC, .curve = hw_curve_by_name("P-256") };
	unsigned char dg[48], sig[132];
	hw_sign_req r = { .base = CKM_ECDSA, .data = dg, .len = 32 };
	EVP_PKEY *own = NULL, *key = w->key, *pub = w->pub;
	size_t len;

	if (key == NULL) {
		if (hw_key_generate(&g, &own) != CKR_OK)
			return NULL;
		key = pub = own;
	}
	for (int i = 0; i < 200; i++) {
		if (hw_digest_once(CKM_SHA256, &i, sizeof(i), dg, &len) != CKR_OK ||
		    hw_pkey_sign(key, &r, sig, &len) != CKR_OK || hw_pkey_verify(pub, &r, sig, len) != CKR_OK)
			goto out;
	}
	w->ok = 1;
out:
	EVP_PKEY_free(own);
	return NULL;
}

static void run_workers(EVP_PKEY *key, EVP_PKEY *pub)
{
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ key, pub, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, sign_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].ok, 1);
	}
}

START_TEST(test_threads)
{
	EVP_PKEY *k, *pub;
	attrs a;

	/* the first use of the context races in every thread */
	hw_crypto_fini();
	run_workers(NULL, NULL);
	/* then one key and its public copy shared by all */
	k = gen_curve("P-256");
	pub = public_copy(k, &a);
	run_workers(k, pub);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
}
END_TEST

static void crypto_teardown(void)
{
	hw_crypto_fini();
}

static Suite *suite(void)
{
	Suite *s = suite_create("mech");
	TCase *tc = tcase_create("ec");

	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_ecdsa, 0, 3);
	tcase_add_test(tc, test_eddsa);
	tcase_add_test(tc, test_ec_import_errors);
	tcase_add_loop_test(tc, test_key_der, 0, 4);
	tcase_add_test(tc, test_unsupported_curve_der);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_threads);
	tcase_add_checked_fixture(tc, NULL, crypto_teardown);
	suite_add_tcase(s, tc);

	tc = tcase_create("rsa");
	tcase_set_timeout(tc, 600);
	tcase_add_unchecked_fixture(tc, rsa_setup, rsa_teardown);
	tcase_add_test(tc, test_rsa_pkcs);
	tcase_add_loop_test(tc, test_rsa_pss, 0, 3);
	tcase_add_test(tc, test_rsa_crypt);
	tcase_add_test(tc, test_rsa_der_and_import);
	tcase_add_test(tc, test_keygen_errors);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
