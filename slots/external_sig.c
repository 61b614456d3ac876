/*
 * What a signing command printed, turned into a PKCS#11 signature, or
 * refused. The command is not trusted: its output must be exactly one
 * signature in the configured encoding, and that signature must verify
 * with the key's public key over what was asked for, before anything is
 * handed to the application.
 */
#include "slots/external.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static bool b64_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '+' || ch == '/';
}

/* One line of standard base64: an optional line end, nothing after it. */
static CK_RV b64_line(const unsigned char *in, size_t len, unsigned char *out, size_t cap, size_t *out_len,
		      const char **why)
{
	size_t n = len, pad = 0;
	if (n > 0 && in[n - 1] == '\n')
		n--;
	if (n > 0 && in[n - 1] == '\r')
		n--;
	if (n == 0) {
		*why = len == 0 ? "it printed nothing" : "it printed an empty line";
		return CKR_FUNCTION_FAILED;
	}
	if (memchr(in, '\n', n) != NULL) {
		*why = "it printed more than one line";
		return CKR_FUNCTION_FAILED;
	}
	while (pad < 2 && pad < n && in[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char(in[i])) {
			*why = "its output is not base64";
			return CKR_FUNCTION_FAILED;
		}
	if (n % 4 != 0 || (n / 4) * 3 - pad > cap) {
		*why = n % 4 != 0 ? "its output is not base64" : "its output is longer than a signature";
		return CKR_FUNCTION_FAILED;
	}
	unsigned char *tmp = malloc(n / 4 * 3 + 1);
	if (tmp == NULL)
		return CKR_HOST_MEMORY;
	int got = EVP_DecodeBlock(tmp, in, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(tmp);
		*why = "its output is not base64";
		return CKR_FUNCTION_FAILED;
	}
	*out_len = (size_t)got - pad;
	memcpy(out, tmp, *out_len);
	hw_wipe(tmp, n / 4 * 3 + 1);
	free(tmp);
	return CKR_OK;
}

CK_RV hw_ext_sig_take(const hw_ext_key *k, const hw_sign_req *req, const unsigned char *out, size_t len,
		      unsigned char *sig, size_t *sig_len, const char **why)
{
	unsigned char bytes[1024];
	size_t n = 0;
	CK_RV rv = CKR_OK;
	*why = NULL;
	if (k->output == HW_EXT_OUT_BASE64) {
		rv = b64_line(out, len, bytes, sizeof(bytes), &n, why);
	} else if (len == 0 || len > sizeof(bytes)) {
		*why = len == 0 ? "it printed nothing" : "its output is longer than a signature";
		rv = CKR_FUNCTION_FAILED;
	} else {
		memcpy(bytes, out, len);
		n = len;
	}
	if (rv != CKR_OK)
		return rv;
	size_t want = k->key_type == CKK_EC ? 2 * k->nlen : hw_sig_len(k->pub, req->base);
	if (want == 0 || want > *sig_len) {
		*why = "the signature does not fit";
		return CKR_GENERAL_ERROR;
	}
	if (k->key_type == CKK_EC && (k->output == HW_EXT_OUT_DER || n != want || bytes[0] == 0x30)) {
		/* DER (what most signers print) becomes PKCS#11's r||s; r||s as
		 * it is when it cannot be DER */
		if (hw_ecdsa_der_to_rs(bytes, n, k->nlen, sig) == CKR_OK)
			n = want;
		else if (k->output == HW_EXT_OUT_DER || n != want)
			n = 0;
		else
			memcpy(sig, bytes, n);
	} else if (n == want) {
		memcpy(sig, bytes, n);      /* never more than the caller's room */
	}
	if (n != want) {
		*why = k->key_type == CKK_EC ? "its output is not an ECDSA signature of the key's curve"
					     : "its output has the wrong length for the key";
		return CKR_FUNCTION_FAILED;
	}
	if (hw_pkey_verify(k->pub, req, sig, n) != CKR_OK) {
		hw_wipe(sig, n);
		*why = "its signature does not verify with the key's public key";
		return CKR_FUNCTION_FAILED;
	}
	*sig_len = n;
	return CKR_OK;
}
