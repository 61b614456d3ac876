/*
 * The azure-kv slot's client certificate credential: what azure-identity's
 * CertificateCredential (MSAL underneath) sends instead of a client secret.
 * AZURE_CLIENT_CERTIFICATE_PATH names a PEM file holding the certificate
 * registered with the app and its private key; the client assertion is a JWT
 * (RFC 7523) signed RS256 with that key, its header naming the certificate
 * by thumbprint (x5t: SHA-1 of the DER certificate, as MSAL sends it;
 * x5t#S256 beside it), its claims aud = the token endpoint, iss = sub = the
 * client id, a fresh jti and a ten-minute life. The file is read at every
 * token renewal, so a certificate rotated in place is picked up.
 *
 * Not read: PKCS#12 files and encrypted keys (AZURE_CLIENT_CERTIFICATE_PASSWORD
 * is only for those), PKCS#1 "RSA PRIVATE KEY" blocks, EC keys: each answers
 * CKR_FUNCTION_NOT_SUPPORTED with a log line saying what to give instead.
 */
#include "slots/azure_kv.h"
#include "slots/cloud_jwt.h"
#include "slots/gcp_kms.h"      /* the PEM decoder and the file reader */
#include "mechanisms/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERTION_LIFE_S 600    /* MSAL's */

/* base64url of a digest of the DER certificate, or NULL */
static char *thumbprint(CK_MECHANISM_TYPE hash, const unsigned char *der, size_t len)
{
	unsigned char md[32];
	size_t ml = sizeof(md);
	return hw_digest_once(hash, der, len, md, &ml) == CKR_OK ? hw_b64url_encode(md, ml) : NULL;
}

static CK_RV sign(const hw_az_auth *a, const char *aud, time_t now, const unsigned char *der, size_t der_len,
		  const hw_secret *pem, char **jwt)
{
	unsigned char nonce[16];
	char jti[40];
	char *x5t = thumbprint(CKM_SHA_1, der, der_len), *x5t256 = thumbprint(CKM_SHA256, der, der_len);
	json_object *hdr = json_object_new_object(), *cl = json_object_new_object();
	CK_RV rv = CKR_HOST_MEMORY;
	if (x5t == NULL || x5t256 == NULL || hdr == NULL || cl == NULL)
		goto out;
	if ((rv = hw_random(nonce, sizeof(nonce))) != CKR_OK)
		goto out;
	/* a UUID v4 as MSAL makes its jti */
	nonce[6] = (unsigned char)((nonce[6] & 0x0f) | 0x40);
	nonce[8] = (unsigned char)((nonce[8] & 0x3f) | 0x80);
	snprintf(jti, sizeof(jti), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", nonce[0],
		 nonce[1], nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7], nonce[8], nonce[9], nonce[10],
		 nonce[11], nonce[12], nonce[13], nonce[14], nonce[15]);
	json_object_object_add(hdr, "alg", json_object_new_string("RS256"));
	json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
	json_object_object_add(hdr, "x5t", json_object_new_string(x5t));
	json_object_object_add(hdr, "x5t#S256", json_object_new_string(x5t256));
	json_object_object_add(cl, "aud", json_object_new_string(aud));
	json_object_object_add(cl, "iss", json_object_new_string(a->client_id));
	json_object_object_add(cl, "sub", json_object_new_string(a->client_id));
	json_object_object_add(cl, "jti", json_object_new_string(jti));
	json_object_object_add(cl, "nbf", json_object_new_int64((int64_t)now));
	json_object_object_add(cl, "iat", json_object_new_int64((int64_t)now));
	json_object_object_add(cl, "exp", json_object_new_int64((int64_t)now + ASSERTION_LIFE_S));
	rv = hw_cloud_jwt_rs256(hdr, cl, pem, jwt);
out:
	free(x5t);
	free(x5t256);
	json_object_put(hdr);
	json_object_put(cl);
	return rv;
}

CK_RV hw_az_cert_assertion(const hw_az_auth *a, const char *aud, time_t now, char **jwt, hw_cloud_err *e)
{
	size_t len = 0, der_len = 0;
	char *doc = hw_gcp_read_file(a->cert_file, &len);
	unsigned char *der = NULL;
	hw_secret *pem = NULL;
	CK_RV rv = CKR_DEVICE_ERROR;
	*jwt = NULL;
	if (doc == NULL) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "cannot read the certificate file %s "
				 "(AZURE_CLIENT_CERTIFICATE_PATH)", a->cert_file);
		return rv;
	}
	if (strstr(doc, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
	    strstr(doc, "-----BEGIN RSA PRIVATE KEY-----") != NULL || strstr(doc, "-----BEGIN") == NULL) {
		hw_cloud_err_set(e, rv = CKR_FUNCTION_NOT_SUPPORTED, HW_CLOUD_CONFIG, "", "%s: PKCS#12, encrypted and "
				 "PKCS#1 keys are not read; give a PEM with the certificate and an unencrypted PKCS#8 key",
				 a->cert_file);
		goto out;
	}
	if ((der = hw_gcp_pem_der(doc, len, "CERTIFICATE", &der_len)) == NULL) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "no certificate in %s", a->cert_file);
		goto out;
	}
	if ((pem = hw_secret_dup(doc, len + 1)) == NULL) {
		hw_cloud_err_set(e, rv = CKR_HOST_MEMORY, HW_CLOUD_CONFIG, "", "out of memory");
		goto out;
	}
	pem->len = len;
	rv = sign(a, aud, now, der, der_len, pem, jwt);
	if (rv == CKR_KEY_TYPE_INCONSISTENT)
		hw_cloud_err_set(e, rv = CKR_FUNCTION_NOT_SUPPORTED, HW_CLOUD_CONFIG, "",
				 "the key in %s is not RSA (Entra ID client assertions are RS256 here)", a->cert_file);
	else if (rv != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "no usable private key in %s", a->cert_file);
out:
	hw_wipe(doc, len);
	free(doc);
	free(der);
	hw_secret_free(pem);
	return rv;
}
