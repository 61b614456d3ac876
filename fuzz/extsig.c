/*
 * Fuzz target: what an external slot's signing command prints, as the slot
 * takes it (slots/external_sig.c). The command is not trusted: whatever it
 * prints must come back as a signature that verifies with the key's public
 * key, or as CKR_FUNCTION_FAILED, never as anything else and never after a
 * read past its output.
 *
 * Input: a selector byte, then bytes. Selector bits 0-1: the output mode
 * (base64, raw, der; 3 is base64 again); bit 2: the key (P-256 ECDSA or
 * RSA-2048 PKCS#1 v1.5); bit 7: start from a real signature (encoded as the
 * mode wants: base64 of DER, DER, r||s or RSA bytes) and let the next two
 * bytes flip one of its bytes (position, xor) and the rest follow it, so
 * the accepting path and near misses run too. Without bit 7 the bytes are
 * the whole output.
 */
#include "fuzz/util.h"
#include "slots/external.h"
#include "mechanisms/crypto.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *keys[2];
static const unsigned char digest[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static unsigned char info[64];
static size_t info_len = sizeof(info);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	FZ_ASSERT(hw_crypto_init() == CKR_OK);
	hw_keygen ec = { .key_type = CKK_EC, .curve = hw_curve_by_name("P-256") };
	hw_keygen rsa = { .key_type = CKK_RSA, .rsa_bits = 2048 };
	FZ_ASSERT(hw_key_generate(&ec, &keys[0]) == CKR_OK);
	FZ_ASSERT(hw_key_generate(&rsa, &keys[1]) == CKR_OK);
	FZ_ASSERT(hw_digestinfo_encode(CKM_SHA256, digest, sizeof(digest), info, &info_len) == CKR_OK);
	return 0;
}

/* A real signature as the command would print it in this mode. */
static size_t genuine(const hw_ext_key *k, const hw_sign_req *req, unsigned char *out, size_t cap)
{
	unsigned char sig[512], der[160];
	size_t len = sizeof(sig), dlen = sizeof(der);
	FZ_ASSERT(hw_pkey_sign(k->pub, req, sig, &len) == CKR_OK);
	const unsigned char *bytes = sig;
	if (k->key_type == CKK_EC && k->output != HW_EXT_OUT_RAW) {
		FZ_ASSERT(hw_ecdsa_rs_to_der(sig, len, der, &dlen) == CKR_OK);
		bytes = der;
		len = dlen;
	}
	if (k->output != HW_EXT_OUT_BASE64) {
		FZ_ASSERT(len <= cap);
		memcpy(out, bytes, len);
		return len;
	}
	int n = EVP_EncodeBlock(out, bytes, (int)len);
	FZ_ASSERT(n > 0 && (size_t)n + 1 <= cap);
	out[n] = '\n';
	return (size_t)n + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	uint8_t sel, pos = 0, flip = 0;
	if (!fz_u8(&in, &sel))
		return 0;
	hw_ext_key k;
	memset(&k, 0, sizeof(k));
	bool ec = !(sel & 4);
	k.pub = keys[ec ? 0 : 1];
	k.key_type = ec ? CKK_EC : CKK_RSA;
	k.nlen = 32;
	k.output = (sel & 3) == 3 ? HW_EXT_OUT_BASE64 : (hw_ext_output)(sel & 3);
	if (!ec && k.output == HW_EXT_OUT_DER)
		k.output = HW_EXT_OUT_RAW;         /* refused by the configuration */
	hw_sign_req req = { .base = ec ? CKM_ECDSA : CKM_RSA_PKCS, .hash = CKM_SHA256,
			    .data = ec ? digest : info, .len = ec ? sizeof(digest) : info_len };
	unsigned char buf[1024];
	size_t len = 0;
	if (sel & 0x80) {
		len = genuine(&k, &req, buf, sizeof(buf));
		if (fz_u8(&in, &pos) && fz_u8(&in, &flip))
			buf[pos % len] ^= flip;
	}
	size_t rest = in.n < sizeof(buf) - len ? in.n : sizeof(buf) - len;
	memcpy(buf + len, in.p, rest);
	len += rest;
	unsigned char *output = fz_dup(buf, len);  /* exact size: ASan sees a read past it */
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);
	const char *why = NULL;
	CK_RV rv = hw_ext_sig_take(&k, &req, output, len, sig, &sig_len, &why);
	if (rv == CKR_OK) {
		FZ_ASSERT(sig_len == (ec ? 64u : 256u));
		FZ_ASSERT(hw_pkey_verify(k.pub, &req, sig, sig_len) == CKR_OK);
	} else {
		FZ_ASSERT((rv == CKR_FUNCTION_FAILED && why != NULL) || rv == CKR_HOST_MEMORY);
	}
	free(output);
	return 0;
}
