/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256), written for hwagg: the
 * canonical request, the string to sign and the Authorization header of a
 * request exactly as it goes on the wire (tests/unit/test_sigv4.c checks
 * every case of the AWS suite and the KMS vectors in tests/data/).
 */
#ifndef HW_AWS_SIGV4_H
#define HW_AWS_SIGV4_H

#include "common/ck.h"
#include "slots/cloud_http.h"
#include <time.h>

typedef struct hw_sigv4_in {
	const char *method;
	const char *path;          /* as sent, not yet encoded ("/" for KMS) */
	const char *query;         /* after '?', NULL or "" for none */
	const hw_http_hdr *hdrs;   /* every header to sign, as sent (Host with its port) */
	size_t nhdrs;
	const void *body;
	size_t body_len;
	const char *region, *service;
	const char *amz_date;      /* yyyymmddTHHMMSSZ, also in an X-Amz-Date header */
	bool normalize;            /* remove dot segments and empty ones (all but S3) */
} hw_sigv4_in;

/* Sign. *authz (and, when not NULL, *creq and *sts) are malloc'd strings the
 * caller frees. CKR_HOST_MEMORY, CKR_ARGUMENTS_BAD (malformed input) or
 * CKR_FUNCTION_FAILED (the HMAC). */
CK_RV hw_sigv4_sign(const hw_sigv4_in *in, const char *akid, const char *secret,
		    char **authz, char **creq, char **sts);
/* X-Amz-Date for t (UTC). */
void hw_sigv4_date(time_t t, char out[17]);
/* SigV4's percent-encoding (a name of its own: common/uri.c's encodes
 * PKCS#11 URIs, and a backend module cannot call it): everything but RFC
 * 3986 unreserved characters (and '/' when keep_slash); malloc'd, NULL on
 * allocation failure. */
char *hw_aws_uri_encode(const char *s, size_t len, bool keep_slash);
/* Hex SHA-256 of data into out[65]. */
CK_RV hw_sha256_hex(const void *data, size_t len, char out[65]);

#endif
