/*
 * RS256 JSON Web Tokens (cloud_jwt.h). The signature is RSASSA-PKCS1-v1_5
 * over SHA-256 of the ASCII "header.claims" (RFC 7518, 3.3): made with the
 * engine's raw PKCS#1 signer over a DigestInfo, as every other RSA
 * signature of the module is.
 */
#include "slots/cloud_jwt.h"
#include "slots/cloud_str.h"
#include "slots/gcp_kms.h"
#include "mechanisms/crypto.h"

#include <stdlib.h>
#include <string.h>

static char *json_b64url(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s != NULL ? hw_b64url_encode((const unsigned char *)s, strlen(s)) : NULL;
}

CK_RV hw_cloud_jwt_rs256(json_object *hdr, json_object *claims, const hw_secret *pem, char **jwt)
{
	/* DigestInfo of SHA-256 (RFC 8017, 9.2 note 1) */
	static const unsigned char prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
						0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	unsigned char di[sizeof(prefix) + 32], sig[1024];
	size_t dl = 32, sl = sizeof(sig), der_len = 0;
	char *h64 = NULL, *c64 = NULL, *s64 = NULL;
	unsigned char *der = NULL;
	EVP_PKEY *key = NULL;
	hw_sb b = { 0 };
	CK_RV rv = CKR_HOST_MEMORY;
	if (jwt == NULL)
		return CKR_ARGUMENTS_BAD;
	*jwt = NULL;
	if (hdr == NULL || claims == NULL || pem == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((h64 = json_b64url(hdr)) == NULL || (c64 = json_b64url(claims)) == NULL)
		goto out;
	hw_sb_printf(&b, "%s.%s", h64, c64);
	if (b.failed)
		goto out;
	memcpy(di, prefix, sizeof(prefix));
	if ((rv = hw_digest_once(CKM_SHA256, b.s, b.len, di + sizeof(prefix), &dl)) != CKR_OK)
		goto out;
	rv = CKR_DEVICE_ERROR;
	if ((der = hw_gcp_pem_der((const char *)pem->data, pem->len, "PRIVATE KEY", &der_len)) == NULL ||
	    hw_key_from_der(der, der_len, &key) != CKR_OK)
		goto out;
	rv = CKR_KEY_TYPE_INCONSISTENT;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		goto out;
	hw_sign_req req = { .base = CKM_RSA_PKCS, .hash = CKM_SHA256, .data = di, .len = sizeof(di) };
	if ((rv = hw_pkey_sign(key, &req, sig, &sl)) != CKR_OK)
		goto out;
	if ((s64 = hw_b64url_encode(sig, sl)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	hw_sb_printf(&b, ".%s", s64);
	rv = (*jwt = hw_sb_take(&b)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
out:
	if (der != NULL)
		hw_wipe(der, der_len);
	free(der);
	EVP_PKEY_free(key);
	free(h64);
	free(c64);
	free(s64);
	hw_sb_free(&b);
	return rv;
}
