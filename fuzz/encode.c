/*
 * Fuzz target: the encoders and decoders of mechanisms/encode.c and the
 * mechanism parameter checks of the mechanism table (with the AES and HMAC
 * parameters and their output-room rules): everything that takes
 * bytes from an application (EC parameters and points, mechanism
 * parameters) or from a signer (ECDSA DER from OpenSSL or a remote KMS).
 *
 * Input: one selector byte, then that case's bytes (see the cases at the
 * end; a mechanism is a u8 index into the mechanism table, or 0xFF and a
 * u32 type). Every value is copied to
 * a buffer of its exact size first, so a read past its end is an ASan
 * report. Round trips are checked where the encoding is strict DER (the
 * decoders accept only one encoding of each value, so decode-encode must
 * give back the input, and encode-decode the value).
 */
#include "fuzz/util.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"
#include "mechanisms/cipher.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The curves by every name hw_curve_by_name documents. */
static const char *const curve_names[] = { "P-256", "P-384", "P-521", "Ed25519" };

static void curve_params(const uint8_t *v, size_t n)
{
	const hw_curve *c = NULL;
	CK_RV rv = hw_curve_from_params(v, n, &c);
	if (rv == CKR_OK) {
		FZ_ASSERT(c != NULL && c->params != NULL);
		FZ_ASSERT(hw_curve_by_name(c->name) == c);
		/* what we emit for the curve we recognized parses back to it */
		const hw_curve *again = NULL;
		FZ_ASSERT(hw_curve_from_params(c->params, c->params_len, &again) == CKR_OK && again == c);
	} else {
		FZ_ASSERT(rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_CURVE_NOT_SUPPORTED);
	}
	char *name = fz_strdup(v, n);
	(void)hw_curve_by_name(name);
	free(name);
}

static void ec_point(uint8_t which, const uint8_t *v, size_t n)
{
	const hw_curve *c = hw_curve_by_name(curve_names[which % HW_ARRAY_LEN(curve_names)]);
	const unsigned char *raw = NULL;
	size_t raw_len = 0, der_len = 0;
	FZ_ASSERT(c != NULL);
	if (hw_ec_point_decode(c, v, n, &raw, &raw_len) != CKR_OK)
		return;
	FZ_ASSERT(raw >= v && raw + raw_len <= v + n && raw_len == c->point_len);
	FZ_ASSERT(hw_ec_point_encode(raw, raw_len, NULL, &der_len) == CKR_OK);
	unsigned char *der = malloc(der_len);
	FZ_ASSERT(der != NULL);
	FZ_ASSERT(hw_ec_point_encode(raw, raw_len, der, &der_len) == CKR_OK);
	const unsigned char *raw2 = NULL;
	size_t raw2_len = 0;
	FZ_ASSERT(hw_ec_point_decode(c, der, der_len, &raw2, &raw2_len) == CKR_OK);
	FZ_ASSERT(raw2_len == raw_len && memcmp(raw2, raw, raw_len) == 0);
	free(der);
}

/* DER from a signer -> r||s -> DER: the same bytes. */
static void ecdsa_der(uint8_t nlen, const uint8_t *v, size_t n)
{
	size_t half = nlen % 140;       /* past the 128-byte limit, and 0, too */
	unsigned char *rs = malloc(2 * half + 1);
	FZ_ASSERT(rs != NULL);
	if (hw_ecdsa_der_to_rs(v, n, half, rs) == CKR_OK) {
		size_t len = 0;
		FZ_ASSERT(hw_ecdsa_rs_to_der(rs, 2 * half, NULL, &len) == CKR_OK);
		unsigned char *der = malloc(len);
		FZ_ASSERT(der != NULL);
		FZ_ASSERT(hw_ecdsa_rs_to_der(rs, 2 * half, der, &len) == CKR_OK);
		FZ_ASSERT(len == n && memcmp(der, v, n) == 0);
		free(der);
	}
	free(rs);
}

/* r||s from an application -> DER -> r||s: the same bytes; a buffer one
 * byte short is refused with the size needed. */
static void ecdsa_rs(const uint8_t *v, size_t n)
{
	size_t len = 0;
	if (hw_ecdsa_rs_to_der(v, n, NULL, &len) != CKR_OK)
		return;
	unsigned char *der = malloc(len);
	FZ_ASSERT(der != NULL && len > 0);
	size_t short_len = len - 1;
	FZ_ASSERT(hw_ecdsa_rs_to_der(v, n, der, &short_len) == CKR_BUFFER_TOO_SMALL && short_len == len);
	FZ_ASSERT(hw_ecdsa_rs_to_der(v, n, der, &len) == CKR_OK);
	unsigned char *rs = malloc(n);
	FZ_ASSERT(rs != NULL);
	FZ_ASSERT(hw_ecdsa_der_to_rs(der, len, n / 2, rs) == CKR_OK);
	FZ_ASSERT(memcmp(rs, v, n) == 0);
	free(rs);
	free(der);
}

static void digest_info(const uint8_t *v, size_t n)
{
	CK_MECHANISM_TYPE hash = 0;
	const unsigned char *dg = NULL;
	size_t dg_len = 0, len = 0;
	if (hw_digestinfo_decode(v, n, &hash, &dg, &dg_len) != CKR_OK)
		return;
	FZ_ASSERT(dg_len == hw_hash_len(hash) && dg + dg_len == v + n);
	FZ_ASSERT(hw_digestinfo_encode(hash, dg, dg_len, NULL, &len) == CKR_OK && len == n);
	unsigned char *out = malloc(len);
	FZ_ASSERT(out != NULL);
	FZ_ASSERT(hw_digestinfo_encode(hash, dg, dg_len, out, &len) == CKR_OK);
	FZ_ASSERT(len == n && memcmp(out, v, n) == 0);
	free(out);
}

/* A mechanism of the table with these bytes as its parameter (or a NULL
 * parameter of that length), through its own check and the PSS/OAEP parsers. */
static void mech_param(fz_in *in)
{
	CK_MECHANISM_TYPE type = CKM_RSA_PKCS_PSS;
	uint8_t form = 0;
	uint64_t bits = 0;
	fz_read_mech(in, &type);
	fz_u8(in, &form);
	fz_u64(in, &bits);
	const hw_mech *m = hw_mech_find(type);
	void *param = form & 1 ? NULL : fz_dup(in->p, in->n);
	CK_MECHANISM mech = { type, param, form & 1 ? form >> 1 : in->n };
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_RSA_PKCS_OAEP_PARAMS oaep;

	if (m != NULL && m->check_param != NULL)
		(void)m->check_param(m, &mech);
	if (hw_pss_params_parse(&mech, m == NULL || (form & 2) ? HW_NO_HASH : m->hash, &pss) == CKR_OK) {
		FZ_ASSERT(hw_hash_len(pss.hashAlg) > 0);
		(void)hw_pss_slen_check(&pss, (CK_ULONG)bits);
	}
	/* an AES or HMAC parameter that passes: the output room of a call
	 * (bits: what went in before and now) stays within the input, a block
	 * of padding and the tag, whatever the lengths */
	hw_sk_params sp;
	if (m != NULL && hw_mech_secret_op(m) && hw_sk_params_parse(m, &mech, &sp) == CKR_OK) {
		size_t room = 0, fed = (size_t)(bits & 0xffff), in_len = (size_t)(bits >> 16);
		if (hw_sk_room(&sp, form & 4, fed, 0, in_len, form & 8, &room) == CKR_OK)
			FZ_ASSERT(room <= fed + in_len + HW_AES_BLOCK + sp.tag_len);
		FZ_ASSERT(sp.hash == HW_NO_HASH ? sp.mac_len == 0 : sp.mac_len >= 1 && sp.mac_len <= hw_hash_len(sp.hash));
		FZ_ASSERT(sp.tag_len <= 16);
	}
	if (hw_oaep_params_parse(&mech, &oaep) == CKR_OK)
		FZ_ASSERT(hw_hash_len(oaep.hashAlg) > 0 && hw_hash_from_mgf(oaep.mgf) == oaep.hashAlg);
	(void)hw_hash_ossl_name((CK_MECHANISM_TYPE)bits);
	(void)hw_mech_name((CK_MECHANISM_TYPE)bits);
	free(param);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	uint8_t sel = 0, arg = 0;
	if (!fz_u8(&in, &sel))
		return 0;
	if (sel % 6 == 1 || sel % 6 == 2)
		fz_u8(&in, &arg);
	if (sel % 6 == 5) {
		mech_param(&in);
		return 0;
	}
	uint8_t *v = fz_dup(in.p, in.n);
	switch (sel % 6) {
	case 0: curve_params(v, in.n); break;
	case 1: ec_point(arg, v, in.n); break;
	case 2: ecdsa_der(arg, v, in.n); break;
	case 3: ecdsa_rs(v, in.n); break;
	case 4: digest_info(v, in.n); break;
	}
	free(v);
	return 0;
}
