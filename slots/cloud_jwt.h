/*
 * JSON Web Tokens signed here with RS256 (RFC 7515, 7519): Google's
 * service-account bearer grant (RFC 7523) and Microsoft Entra ID's client
 * certificate assertion are the same construction with other claims.
 */
#ifndef HW_CLOUD_JWT_H
#define HW_CLOUD_JWT_H

#include "common/ck.h"
#include "common/secret.h"
#include <json-c/json.h>

/* base64url(hdr) "." base64url(claims) "." base64url(RS256 signature) with
 * the PKCS#8 RSA key of pem ("-----BEGIN PRIVATE KEY-----"); *jwt malloc'd.
 * CKR_KEY_TYPE_INCONSISTENT: the key is not RSA; CKR_DEVICE_ERROR: no
 * usable key in pem. */
CK_RV hw_cloud_jwt_rs256(json_object *hdr, json_object *claims, const hw_secret *pem, char **jwt);

#endif
