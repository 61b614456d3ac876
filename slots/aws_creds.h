/*
 * AWS credentials, found in the order the AWS SDKs use: the environment,
 * the shared credentials and config files (with a profile), web identity
 * (a token file exchanged at STS AssumeRoleWithWebIdentity: EKS IRSA),
 * container credentials (ECS, EKS Pod Identity), then IMDSv2 (EC2). The
 * result is cached and refreshed five minutes before it expires; token
 * files are read again on every refresh (kubelet rotates them). A thread
 * that signs never waits for a refresh while the cached credentials are
 * still valid for longer than a minute.
 */
#ifndef HW_AWS_CREDS_H
#define HW_AWS_CREDS_H

#include "slots/cloud_http.h"
#include "common/secret.h"
#include <time.h>

typedef struct hw_aws_creds {
	char akid[132];
	hw_secret *secret;          /* NUL-terminated */
	hw_secret *token;           /* session token, NUL-terminated; NULL without */
	time_t expires;             /* 0: does not expire */
	const char *source;         /* "environment", "shared files", "web identity", ... */
} hw_aws_creds;

void hw_aws_creds_clear(hw_aws_creds *c);
CK_RV hw_aws_creds_copy(hw_aws_creds *dst, const hw_aws_creds *src);

typedef struct hw_aws_chain {
	const char *slot;           /* for logs */
	char *profile;              /* NULL: $AWS_PROFILE or "default" */
	bool explicit_profile;      /* the slot names a profile: the environment's keys do not apply */
	char *region;               /* for STS */
	hw_http_pool *pool;         /* for STS, container and instance metadata */
	pthread_mutex_t lock;       /* guards cur and have */
	pthread_mutex_t refresh;    /* one refresh at a time, held across its I/O */
	hw_aws_creds cur;
	bool have;
} hw_aws_chain;

CK_RV hw_aws_chain_init(hw_aws_chain *ch, const char *slot, const char *profile, const char *region,
			hw_http_pool *pool);
void hw_aws_chain_fini(hw_aws_chain *ch, bool forked);
/* Valid credentials (a copy for the caller), refreshing when needed. */
CK_RV hw_aws_chain_get(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e);
/* The service said the credentials expired or are unknown: look again. */
void hw_aws_chain_invalidate(hw_aws_chain *ch);

/* The profile's "region" in the shared config files (malloc'd), or NULL. */
char *hw_aws_profile_region(const char *profile);
/* Static credentials after the same checks as fetched ones (CKR_DEVICE_ERROR
 * when malformed). */
CK_RV hw_aws_creds_fill(hw_aws_creds *out, const char *akid, const char *secret, const char *token);

/* ---- parsers of what the sources answer (aws_parse.c; fuzzed) ------------- */
/* Container and IMDS documents: {"AccessKeyId","SecretAccessKey","Token",
 * "Expiration"} (IMDS adds "Code":"Success"). CKR_OK or CKR_DEVICE_ERROR. */
CK_RV hw_aws_parse_cred_json(const char *body, size_t len, hw_aws_creds *out);
/* STS AssumeRoleWithWebIdentity's XML answer. */
CK_RV hw_aws_parse_sts_xml(const char *body, size_t len, hw_aws_creds *out);
/* An error answer (JSON "__type"/"message", STS XML <Code>/<Message>, or
 * only the X-Amzn-ErrorType header). code gets the bare code ("" if none). */
void hw_aws_parse_error(const char *body, size_t len, const char *error_type, char *code, size_t code_len,
			char *msg, size_t msg_len);
/* "2026-11-20T22:38:42Z" (fractions and +00:00 accepted) -> epoch; -1 if malformed. */
time_t hw_aws_parse_time(const char *s);

/* The endpoint of a service: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
 * else https://<prefix>.<region>.amazonaws.com. Malloc'd. */
char *hw_aws_endpoint(const char *service_env, const char *prefix, const char *region);

#endif
