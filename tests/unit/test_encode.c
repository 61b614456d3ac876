/* The mechanism table and the pure PKCS#11 encodings: ECDSA DER <-> r||s,
 * DigestInfo, curve parameters, EC points, PSS and OAEP parameters. */
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"
#include "mechanisms/cipher.h"
#include "tests/unit/unit.h"

#include <openssl/ec.h>
#include <stdio.h>
#include <string.h>

static size_t unhex(const char *s, unsigned char *out)
{
	size_t n = 0;

	for (; s[0] && s[1]; s += 2)
		sscanf(s, "%2hhx", &out[n++]);
	return n;
}

/* ---- the table ------------------------------------------------------------------- */

START_TEST(test_table_sane)
{
	size_t n;
	const hw_mech *t = hw_mech_table(&n);

	ck_assert_uint_gt(n, 25);
	for (size_t i = 0; i < n; i++) {
		const hw_mech *m = &t[i], *b = hw_mech_find(m->base);

		ck_assert_ptr_eq(hw_mech_find(m->type), m);
		ck_assert_str_eq(hw_mech_name(m->type), m->name);
		ck_assert_uint_eq(m->flags & (CKF_HW | CKF_EXTENSION), 0);
		ck_assert_uint_ne(m->flags, 0);
		ck_assert_uint_le(m->min_key, m->max_key);
		ck_assert_ptr_nonnull(b);
		ck_assert_uint_eq(b->base, b->type);
		if (m->key_type == CKK_EC || m->key_type == CKK_EC_EDWARDS) {
			CK_FLAGS ec = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

			ck_assert_uint_eq(m->flags & ec, ec);
		} else {
			ck_assert_uint_eq(m->flags & (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS), 0);
		}
		if (m->key_type == HW_NO_KEY) {
			ck_assert_uint_eq(m->flags, CKF_DIGEST);
			ck_assert(m->multipart);
		}
		if (m->hash != HW_NO_HASH)
			ck_assert_uint_gt(hw_hash_len(m->hash), 0);
		/* hash-then-sign mechanisms stream; base sign mechanisms do not,
		 * but the HMACs (the backend's own stream) do */
		if (m->key_type != HW_NO_KEY && (m->flags & CKF_SIGN))
			ck_assert_int_eq(m->multipart, m->hash != HW_NO_HASH || hw_mech_secret_op(m));
		if (m->flags & CKF_SIGN)
			ck_assert(m->flags & CKF_VERIFY);
		/* C_EncryptFinal/C_DecryptFinal rely on it (fn_crypto.c): only
		 * the AES ciphers stream, through the backend */
		if (m->flags & (CKF_ENCRYPT | CKF_DECRYPT))
			ck_assert_int_eq(m->multipart, m->key_type == CKK_AES);
		/* a secret-key mechanism takes a parameter checker (cipher.c) */
		if (hw_mech_secret_op(m))
			ck_assert_ptr_nonnull(m->check_param);
		for (size_t j = 0; j < i; j++)
			ck_assert_uint_ne(t[j].type, m->type);
	}
	ck_assert_uint_eq(hw_mech_find(CKM_ECDSA)->min_key, 256);
	ck_assert_uint_eq(hw_mech_find(CKM_ECDSA)->max_key, 521);
	ck_assert_uint_eq(hw_mech_find(CKM_EDDSA)->key_type, CKK_EC_EDWARDS);
	ck_assert_uint_eq(hw_mech_find(CKM_SHA384_RSA_PKCS_PSS)->hash, CKM_SHA384);
	ck_assert_ptr_null(hw_mech_find(CKM_AES_CCM));
	ck_assert_str_eq(hw_mech_name(CKM_AES_GCM), "CKM_AES_GCM");
	ck_assert_ptr_eq(hw_mech_by_name("CKM_SHA256_HMAC_GENERAL"), hw_mech_find(CKM_SHA256_HMAC_GENERAL));
	ck_assert_str_eq(hw_mech_name(0x12345678UL), "CKM_0x12345678");
}
END_TEST

/* The output room of a cipher call (M "AES": whole blocks, padding, tags). */
START_TEST(test_cipher_room)
{
	hw_sk_params p = { .mech = CKM_AES_CBC };
	size_t r = 99;
	ck_assert_int_eq(hw_sk_room(&p, false, 0, 0, 20, false, &r), CKR_OK);
	ck_assert_uint_eq(r, 16);
	ck_assert_int_eq(hw_sk_room(&p, false, 20, 16, 0, true, &r), CKR_DATA_LEN_RANGE);
	ck_assert_int_eq(hw_sk_room(&p, true, 0, 0, 17, true, &r), CKR_ENCRYPTED_DATA_LEN_RANGE);
	p.mech = CKM_AES_CBC_PAD;
	ck_assert_int_eq(hw_sk_room(&p, false, 0, 0, 16, true, &r), CKR_OK);
	ck_assert_uint_eq(r, 32);
	ck_assert_int_eq(hw_sk_room(&p, false, 5, 0, 0, true, &r), CKR_OK);
	ck_assert_uint_eq(r, 16);
	ck_assert_int_eq(hw_sk_room(&p, true, 0, 0, 0, true, &r), CKR_ENCRYPTED_DATA_LEN_RANGE);
	p.mech = CKM_AES_GCM;
	p.tag_len = 12;
	ck_assert_int_eq(hw_sk_room(&p, false, 10, 10, 0, true, &r), CKR_OK);
	ck_assert_uint_eq(r, 12);
	ck_assert_int_eq(hw_sk_room(&p, true, 0, 0, 11, true, &r), CKR_ENCRYPTED_DATA_LEN_RANGE);
	/* lengths near the top of size_t do not wrap */
	ck_assert_int_eq(hw_sk_room(&p, false, 16, 0, (size_t)-8, false, &r), CKR_DATA_LEN_RANGE);
}
END_TEST

START_TEST(test_table_params)
{
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_EDDSA_PARAMS ed = { CK_FALSE, 0, NULL };
	unsigned char ctx[4] = "ctx";
	const hw_mech *m = hw_mech_find(CKM_SHA256_RSA_PKCS_PSS);
	CK_MECHANISM mech = { m->type, &pss, sizeof(pss) };

	ck_assert_uint_eq(m->check_param(m, &mech), CKR_OK);
	pss.hashAlg = CKM_SHA384;
	pss.mgf = CKG_MGF1_SHA384;
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);
	m = hw_mech_find(CKM_RSA_PKCS_PSS);   /* the base takes any hash */
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_OK);
	mech.pParameter = NULL;
	mech.ulParameterLen = 0;
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);

	m = hw_mech_find(CKM_RSA_PKCS_OAEP);
	mech = (CK_MECHANISM){ m->type, &oaep, sizeof(oaep) };
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_OK);
	mech.ulParameterLen--;
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);

	m = hw_mech_find(CKM_EDDSA);
	mech = (CK_MECHANISM){ m->type, NULL, 0 };
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_OK);
	mech = (CK_MECHANISM){ m->type, &ed, sizeof(ed) };
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_OK);
	ed.phFlag = CK_TRUE;
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);
	ed = (CK_EDDSA_PARAMS){ CK_FALSE, 3, ctx };
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);
	mech.ulParameterLen = sizeof(ed) - 1;
	ck_assert_uint_eq(m->check_param(m, &mech), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_ptr_null(hw_mech_find(CKM_ECDSA)->check_param);
	ck_assert_ptr_null(hw_mech_find(CKM_SHA256)->check_param);
}
END_TEST

/* ---- ECDSA encodings ----------------------------------------------------------------- */

/* OpenSSL's own DER for r||s, to compare ours with. */
static int ossl_sig_der(const unsigned char *rs, size_t half, unsigned char **der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)half, NULL), *s = BN_bin2bn(rs + half, (int)half, NULL);
	int len;

	ck_assert(sig && r && s && ECDSA_SIG_set0(sig, r, s));
	*der = NULL;
	len = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig);
	return len;
}

START_TEST(test_rs_der_fixed)
{
	static const unsigned char rs[] = { 0x00, 0x01, 0x80, 0x00 };
	static const unsigned char want[] = { 0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x03, 0x00, 0x80, 0x00 };
	unsigned char der[200], back[132], rs521[132];
	size_t len = sizeof(der);

	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, sizeof(rs), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, sizeof(want));
	len = 3;
	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, sizeof(rs), der, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, sizeof(want));
	len = sizeof(der);
	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, sizeof(rs), der, &len), CKR_OK);
	ck_assert_mem_eq(der, want, sizeof(want));
	ck_assert_uint_eq(hw_ecdsa_der_to_rs(der, len, 2, back), CKR_OK);
	ck_assert_mem_eq(back, rs, sizeof(rs));
	/* 1-byte r widened to nlen */
	ck_assert_uint_eq(hw_ecdsa_der_to_rs(der, len, 32, back), CKR_OK);
	ck_assert_uint_eq(back[31], 0x01);
	ck_assert_uint_eq(back[32 + 30], 0x80);

	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, 3, der, &len), CKR_SIGNATURE_LEN_RANGE);
	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, 0, der, &len), CKR_SIGNATURE_LEN_RANGE);

	/* P-521 with the high bit set: 67-byte integers, long-form length */
	memset(rs521, 0xff, sizeof(rs521));
	len = sizeof(der);
	ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs521, 132, der, &len), CKR_OK);
	ck_assert_uint_eq(len, 3 + 2 * 69);
	ck_assert_uint_eq(der[1], 0x81);
	ck_assert_uint_eq(der[2], 138);
	ck_assert_uint_eq(hw_ecdsa_der_to_rs(der, len, 66, back), CKR_OK);
	ck_assert_mem_eq(back, rs521, 132);
	/* ... which does not fit P-384 */
	ck_assert_uint_ne(hw_ecdsa_der_to_rs(der, len, 48, back), CKR_OK);
}
END_TEST

START_TEST(test_rs_der_random)
{
	static const size_t nlens[] = { 32, 48, 66 };

	for (int it = 0; it < 600; it++) {
		size_t nlen = nlens[it % 3], len = 200;
		unsigned char rs[132], der[200], back[132], *od = NULL;
		int olen;

		ck_assert_uint_eq(hw_random(rs, 2 * nlen), CKR_OK);
		/* leading zeros of random length, high bits on and off */
		memset(rs, 0, (size_t)(it / 3) % 5);
		memset(rs + nlen, 0, (size_t)(it / 15) % 4);
		if (it % 7 == 0)
			rs[nlen] |= 0x80;
		if (it % 11 == 0)
			memset(rs, 0, nlen - 1);
		ck_assert_uint_eq(hw_ecdsa_rs_to_der(rs, 2 * nlen, der, &len), CKR_OK);
		olen = ossl_sig_der(rs, nlen, &od);
		ck_assert_int_eq(olen, (int)len);
		ck_assert_mem_eq(der, od, len);
		OPENSSL_free(od);
		ck_assert_uint_eq(hw_ecdsa_der_to_rs(der, len, nlen, back), CKR_OK);
		ck_assert_mem_eq(back, rs, 2 * nlen);
	}
}
END_TEST

START_TEST(test_rs_der_malformed)
{
	static const char *bad[] = {
		"",                                      /* empty */
		"3106020101020101",                      /* SET, not SEQUENCE */
		"300602010102010100",                    /* trailing byte */
		"3007020101020101",                      /* length past the end */
		"300702010102010100",                    /* trailing inside */
		"3080020101020101",                      /* indefinite length */
		"308106020101020101",                    /* needless long form */
		"3006020180020101",                      /* negative r */
		"300702020001020101",                    /* needless leading zero */
		"30050200020101",                        /* empty integer */
		"3006040101020101",                      /* OCTET STRING for r */
		"3003020101",                            /* one integer */
		"3026022101" "0000000000000000000000000000000000000000000000000000000000000000" "020101",
	};
	unsigned char der[100], out[64];

	for (size_t i = 0; i < HW_ARRAY_LEN(bad); i++) {
		size_t n = unhex(bad[i], der);

		ck_assert_msg(hw_ecdsa_der_to_rs(der, n, 32, out) != CKR_OK, "accepted #%zu", i);
	}
}
END_TEST

/* ---- DigestInfo and hashes --------------------------------------------------------------- */

START_TEST(test_digestinfo)
{
	static const unsigned char sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
						       0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
						       0x04, 0x20 };
	static const CK_MECHANISM_TYPE hs[] = { CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512 };
	unsigned char dg[64], di[100];
	const unsigned char *p;
	size_t len = sizeof(di), plen;
	CK_MECHANISM_TYPE h;

	memset(dg, 0xab, sizeof(dg));
	ck_assert_uint_eq(hw_digestinfo_encode(CKM_SHA256, dg, 32, di, &len), CKR_OK);
	ck_assert_uint_eq(len, 51);
	ck_assert_mem_eq(di, sha256_prefix, sizeof(sha256_prefix));
	ck_assert_mem_eq(di + 19, dg, 32);
	for (size_t i = 0; i < HW_ARRAY_LEN(hs); i++) {
		size_t hl = hw_hash_len(hs[i]);

		len = sizeof(di);
		ck_assert_uint_eq(hw_digestinfo_encode(hs[i], dg, hl, di, &len), CKR_OK);
		ck_assert_uint_eq(di[1] + 2u, len);   /* outer length is exact */
		ck_assert_uint_eq(hw_digestinfo_decode(di, len, &h, &p, &plen), CKR_OK);
		ck_assert_uint_eq(h, hs[i]);
		ck_assert_ptr_eq(p, di + len - hl);
		ck_assert_uint_eq(plen, hl);
		ck_assert_uint_eq(hw_digestinfo_decode(di, len - 1, &h, &p, &plen), CKR_DATA_INVALID);
		di[len] = 0;
		ck_assert_uint_eq(hw_digestinfo_decode(di, len + 1, &h, &p, &plen), CKR_DATA_INVALID);
		di[6] ^= 1;
		ck_assert_uint_eq(hw_digestinfo_decode(di, len, &h, &p, &plen), CKR_DATA_INVALID);
	}
	len = sizeof(di);
	ck_assert_uint_eq(hw_digestinfo_encode(CKM_SHA256, dg, 31, di, &len), CKR_DATA_LEN_RANGE);
	ck_assert_uint_eq(hw_digestinfo_encode(CKM_MD5, dg, 16, di, &len), CKR_MECHANISM_INVALID);
	len = 50;
	ck_assert_uint_eq(hw_digestinfo_encode(CKM_SHA256, dg, 32, di, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 51);
	/* a bare digest, and a DigestInfo without the NULL parameters */
	ck_assert_uint_eq(hw_digestinfo_decode(dg, 32, &h, &p, &plen), CKR_DATA_INVALID);
	len = unhex("302f300b0609608648016503040201" "0420", di);
	memcpy(di + len, dg, 32);
	ck_assert_uint_eq(hw_digestinfo_decode(di, len + 32, &h, &p, &plen), CKR_DATA_INVALID);

	ck_assert_uint_eq(hw_hash_len(CKM_SHA384), 48);
	ck_assert_uint_eq(hw_hash_len(CKM_MD5), 0);
	ck_assert_str_eq(hw_hash_ossl_name(CKM_SHA_1), "SHA1");
	ck_assert_ptr_null(hw_hash_ossl_name(CKM_MD5));
	ck_assert_uint_eq(hw_hash_from_mgf(CKG_MGF1_SHA224), CKM_SHA224);
	ck_assert_uint_eq(hw_hash_from_mgf(0x99), HW_NO_HASH);
}
END_TEST

/* ---- curves and points --------------------------------------------------------------------- */

START_TEST(test_curve_params)
{
	static const struct { const char *hex; CK_RV rv; const char *curve; } cases[] = {
		{ "06082a8648ce3d030107", CKR_OK, "P-256" },
		{ "06052b81040022", CKR_OK, "P-384" },
		{ "06052b81040023", CKR_OK, "P-521" },
		{ "06032b6570", CKR_OK, "Ed25519" },
		{ "06052b8104000a", CKR_CURVE_NOT_SUPPORTED, NULL },          /* secp256k1 */
		{ "06052b81040021", CKR_CURVE_NOT_SUPPORTED, NULL },          /* P-224 */
		{ "06092b2403030208010107", CKR_CURVE_NOT_SUPPORTED, NULL },  /* brainpoolP256r1 */
		{ "06032b6571", CKR_CURVE_NOT_SUPPORTED, NULL },              /* Ed448 */
		{ "06032b656e", CKR_CURVE_NOT_SUPPORTED, NULL },              /* X25519 */
		{ "0500", CKR_DOMAIN_PARAMS_INVALID, NULL },                  /* implicitlyCA */
		{ "3003020101", CKR_DOMAIN_PARAMS_INVALID, NULL },            /* ecParameters */
		{ "06082a8648ce3d03", CKR_DOMAIN_PARAMS_INVALID, NULL },      /* truncated */
		{ "06082a8648ce3d03010700", CKR_DOMAIN_PARAMS_INVALID, NULL },/* trailing byte */
		{ "06022a86", CKR_DOMAIN_PARAMS_INVALID, NULL },              /* unfinished arc */
		{ "0603800101", CKR_DOMAIN_PARAMS_INVALID, NULL },            /* non-minimal arc */
		{ "0600", CKR_DOMAIN_PARAMS_INVALID, NULL },
		{ "06", CKR_DOMAIN_PARAMS_INVALID, NULL },
		{ "0681082a8648ce3d030107", CKR_DOMAIN_PARAMS_INVALID, NULL },/* long-form length */
		{ "1303612a62", CKR_DOMAIN_PARAMS_INVALID, NULL },            /* '*' not printable */
		{ "0c0c656477617264733235353139", CKR_DOMAIN_PARAMS_INVALID, NULL },  /* UTF8String */
	};
	static const struct { const char *s; const char *curve; CK_RV rv; } names[] = {
		{ "prime256v1", "P-256", CKR_OK }, { "secp256r1", "P-256", CKR_OK },
		{ "secp384r1", "P-384", CKR_OK }, { "secp521r1", "P-521", CKR_OK },
		{ "edwards25519", "Ed25519", CKR_OK }, { "edwards448", NULL, CKR_CURVE_NOT_SUPPORTED },
		{ "secp256k1", NULL, CKR_CURVE_NOT_SUPPORTED }, { "P-256", NULL, CKR_CURVE_NOT_SUPPORTED },
		{ "Edwards25519", NULL, CKR_CURVE_NOT_SUPPORTED },
	};
	unsigned char der[64];
	const hw_curve *c;

	for (size_t i = 0; i < HW_ARRAY_LEN(cases); i++) {
		size_t n = unhex(cases[i].hex, der);

		c = NULL;
		ck_assert_msg(hw_curve_from_params(der, n, &c) == cases[i].rv, "case %zu", i);
		if (cases[i].curve != NULL)
			ck_assert_ptr_eq(c, hw_curve_by_name(cases[i].curve));
	}
	for (size_t i = 0; i < HW_ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i].s);

		der[0] = 0x13;
		der[1] = (unsigned char)n;
		memcpy(der + 2, names[i].s, n);
		c = NULL;
		ck_assert_msg(hw_curve_from_params(der, n + 2, &c) == names[i].rv, "%s", names[i].s);
		if (names[i].curve != NULL)
			ck_assert_ptr_eq(c, hw_curve_by_name(names[i].curve));
	}
	ck_assert_uint_eq(hw_curve_from_params(NULL, 0, &c), CKR_DOMAIN_PARAMS_INVALID);
	/* what we emit parses back to the same curve */
	static const char *all[] = { "P-256", "P-384", "P-521", "Ed25519" };
	for (size_t i = 0; i < HW_ARRAY_LEN(all); i++) {
		const hw_curve *want = hw_curve_by_name(all[i]);

		ck_assert_ptr_nonnull(want);
		ck_assert_uint_eq(hw_curve_from_params(want->params, want->params_len, &c), CKR_OK);
		ck_assert_ptr_eq(c, want);
	}
	c = hw_curve_by_name("Ed25519");
	ck_assert_uint_eq(c->params_len, 14);
	ck_assert_mem_eq(c->params, "\x13\x0c" "edwards25519", 14);
	ck_assert_ptr_eq(hw_curve_by_name("prime256v1"), hw_curve_by_name("secp256r1"));
	ck_assert_ptr_eq(hw_curve_by_name("ED25519"), c);
	ck_assert_ptr_null(hw_curve_by_name("secp256k1"));
	ck_assert_uint_eq(hw_curve_by_name("secp521r1")->nlen, 66);
}
END_TEST

START_TEST(test_ec_point)
{
	const hw_curve *p256 = hw_curve_by_name("P-256"), *p521 = hw_curve_by_name("P-521");
	const hw_curve *ed = hw_curve_by_name("Ed25519");
	unsigned char pt[140], der[140];
	const unsigned char *raw;
	size_t rl, len;

	memset(pt, 0x11, sizeof(pt));
	pt[0] = 0x04;
	len = sizeof(der);
	ck_assert_uint_eq(hw_ec_point_encode(pt, 65, der, &len), CKR_OK);
	ck_assert_uint_eq(len, 67);
	ck_assert_uint_eq(der[1], 0x41);
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, 67, &raw, &rl), CKR_OK);
	ck_assert(raw == der + 2 && rl == 65);
	ck_assert_uint_eq(hw_ec_point_decode(p256, pt, 65, &raw, &rl), CKR_OK);   /* raw form */
	ck_assert(raw == pt && rl == 65);
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, 66, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_ec_point_decode(p256, pt, 64, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	der[67] = 0;
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, 68, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	der[2] = 0x05;
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, 67, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	pt[0] = 0x02;   /* compressed: a form we do not take */
	ck_assert_uint_eq(hw_ec_point_decode(p256, pt, 33, &raw, &rl), CKR_TEMPLATE_INCONSISTENT);
	len = sizeof(der);
	hw_ec_point_encode(pt, 33, der, &len);
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, len, &raw, &rl), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_uint_eq(hw_ec_point_decode(p256, NULL, 0, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);

	pt[0] = 0x04;   /* P-521: long-form length */
	len = sizeof(der);
	ck_assert_uint_eq(hw_ec_point_encode(pt, 133, der, &len), CKR_OK);
	ck_assert_uint_eq(len, 136);
	ck_assert_mem_eq(der, "\x04\x81\x85\x04", 4);
	ck_assert_uint_eq(hw_ec_point_decode(p521, der, 136, &raw, &rl), CKR_OK);
	ck_assert(raw == der + 3 && rl == 133);
	ck_assert_uint_eq(hw_ec_point_decode(p256, der, 136, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	memmove(der + 4, der + 3, 133);   /* needless two-byte length */
	memcpy(der, "\x04\x82\x00\x85", 4);
	ck_assert_uint_eq(hw_ec_point_decode(p521, der, 137, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	len = 10;
	ck_assert_uint_eq(hw_ec_point_encode(pt, 133, der, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 136);

	ck_assert_uint_eq(hw_ec_point_decode(ed, pt, 32, &raw, &rl), CKR_OK);
	ck_assert(raw == pt && rl == 32);
	len = sizeof(der);
	hw_ec_point_encode(pt, 32, der, &len);
	ck_assert_uint_eq(len, 34);
	ck_assert_uint_eq(hw_ec_point_decode(ed, der, 34, &raw, &rl), CKR_OK);
	ck_assert(raw == der + 2 && rl == 32);
	ck_assert_uint_eq(hw_ec_point_decode(ed, der, 33, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	der[1] = 0x21;
	ck_assert_uint_eq(hw_ec_point_decode(ed, der, 34, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_uint_eq(hw_ec_point_decode(ed, pt, 57, &raw, &rl), CKR_ATTRIBUTE_VALUE_INVALID);
}
END_TEST

/* ---- PSS and OAEP parameters ------------------------------------------------------------------ */

START_TEST(test_pss_params)
{
	CK_RSA_PKCS_PSS_PARAMS p = { CKM_SHA256, CKG_MGF1_SHA256, 32 }, out;
	unsigned char big[sizeof(p) + 1];
	CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &p, sizeof(p) };

	ck_assert_uint_eq(hw_pss_params_parse(&m, CKM_SHA256, &out), CKR_OK);
	ck_assert_mem_eq(&out, &p, sizeof(p));
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_OK);
	ck_assert_uint_eq(hw_pss_params_parse(&m, CKM_SHA384, &out), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = sizeof(p) - 1;
	ck_assert_uint_eq(hw_pss_params_parse(&m, CKM_SHA256, &out), CKR_MECHANISM_PARAM_INVALID);
	memcpy(big, &p, sizeof(p));
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, big, sizeof(big) };
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, NULL, sizeof(p) };
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &p, sizeof(p) };
	p.mgf = CKG_MGF1_SHA1;   /* MGF1 hash differs from hashAlg */
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_MECHANISM_PARAM_INVALID);
	p.mgf = 0x99;
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_PSS_PARAMS){ CKM_MD5, CKG_MGF1_SHA1, 16 };
	ck_assert_uint_eq(hw_pss_params_parse(&m, HW_NO_HASH, &out), CKR_MECHANISM_PARAM_INVALID);

	/* sLen <= k* - 2 - hLen; k* loses a byte when bits % 8 == 1 */
	p = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA256, CKG_MGF1_SHA256, 222 };
	ck_assert_uint_eq(hw_pss_slen_check(&p, 2048), CKR_OK);
	ck_assert_uint_eq(hw_pss_slen_check(&p, 2049), CKR_OK);
	p.sLen = 223;
	ck_assert_uint_eq(hw_pss_slen_check(&p, 2048), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_uint_eq(hw_pss_slen_check(&p, 2049), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_uint_eq(hw_pss_slen_check(&p, 2050), CKR_OK);
	p = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA512, CKG_MGF1_SHA512, 0 };
	ck_assert_uint_eq(hw_pss_slen_check(&p, 512), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_uint_eq(hw_pss_slen_check(&p, 528), CKR_OK);
}
END_TEST

START_TEST(test_oaep_params)
{
	unsigned char label[] = "label";
	CK_RSA_PKCS_OAEP_PARAMS p = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label, 5 }, out;
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof(p) };

	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_OK);
	ck_assert_ptr_eq(out.pSourceData, label);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0 };
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_OK);
	p.pSourceData = label;   /* a label needs CKZ_DATA_SPECIFIED */
	p.ulSourceDataLen = 5;
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 4 };
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA_1, CKG_MGF1_SHA1, 2, NULL, 0 };
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA256, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_MD5, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	p = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA512, CKG_MGF1_SHA512, CKZ_DATA_SPECIFIED, NULL, 0 };
	m.ulParameterLen = sizeof(p) + 8;
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
	m.pParameter = NULL;
	m.ulParameterLen = 0;
	ck_assert_uint_eq(hw_oaep_params_parse(&m, &out), CKR_MECHANISM_PARAM_INVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("encode");
	TCase *tc = tcase_create("encode");

	tcase_add_test(tc, test_table_sane);
	tcase_add_test(tc, test_cipher_room);
	tcase_add_test(tc, test_table_params);
	tcase_add_test(tc, test_rs_der_fixed);
	tcase_add_test(tc, test_rs_der_random);
	tcase_add_test(tc, test_rs_der_malformed);
	tcase_add_test(tc, test_digestinfo);
	tcase_add_test(tc, test_curve_params);
	tcase_add_test(tc, test_ec_point);
	tcase_add_test(tc, test_pss_params);
	tcase_add_test(tc, test_oaep_params);
	/* the random DER test draws from the crypto context */
	tcase_add_checked_fixture(tc, NULL, hw_crypto_fini);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
