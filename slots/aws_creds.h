/*
 * AWS credentials, found in the order the AWS SDKs use: the environment,
 * the shared credentials and config files (with a profile: static keys,
 * role_arn through STS AssumeRole, IAM Identity Center (SSO) or a
 * credential_process; aws_profile.c, aws_process.c), web identity
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

/* The instance's region from IMDSv2 (token PUT, then
 * /latest/meta-data/placement/region; AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * AWS_EC2_METADATA_DISABLED), malloc'd; CKR_DEVICE_ERROR with e saying
 * that no region could be found. */
CK_RV hw_aws_imds_region(hw_aws_chain *ch, char **region, hw_cloud_err *e);
/* A region name as AWS spells them ("eu-west-1"): it goes into URLs and
 * signatures. */
bool hw_aws_region_ok(const char *r);
/* Once the region is known (it was looked up after C_Initialize): for STS. */
CK_RV hw_aws_chain_set_region(hw_aws_chain *ch, const char *region);

/* ---- parsers of what the sources answer (aws_parse.c; fuzzed) ------------- */
/* Container and IMDS documents: {"AccessKeyId","SecretAccessKey","Token",
 * "Expiration"} (IMDS adds "Code":"Success"). CKR_OK or CKR_DEVICE_ERROR. */
CK_RV hw_aws_parse_cred_json(const char *body, size_t len, hw_aws_creds *out);
/* STS AssumeRoleWithWebIdentity's and AssumeRole's XML answer. */
CK_RV hw_aws_parse_sts_xml(const char *body, size_t len, hw_aws_creds *out);
/* A credential_process's output: {"Version": 1, "AccessKeyId",
 * "SecretAccessKey", "SessionToken"?, "Expiration"?}. */
CK_RV hw_aws_parse_process_json(const char *body, size_t len, hw_aws_creds *out);
/* The SSO portal's GetRoleCredentials answer: {"roleCredentials":
 * {"accessKeyId", "secretAccessKey", "sessionToken", "expiration" (ms)}}. */
CK_RV hw_aws_parse_sso_json(const char *body, size_t len, hw_aws_creds *out);
/* A cached SSO token (~/.aws/sso/cache/<sha1>.json): its "accessToken"
 * (a new secret) and "expiresAt". */
CK_RV hw_aws_parse_sso_cache(const char *body, size_t len, hw_secret **token, time_t *expires);
/* An error answer (JSON "__type"/"message", STS XML <Code>/<Message>, or
 * only the X-Amzn-ErrorType header). code gets the bare code ("" if none). */
void hw_aws_parse_error(const char *body, size_t len, const char *error_type, char *code, size_t code_len,
			char *msg, size_t msg_len);
/* "2026-11-20T22:38:42Z" (fractions, +00:00 and UTC accepted) -> epoch; -1 if malformed. */
time_t hw_aws_parse_time(const char *s);

/* The endpoint of a service: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
 * else https://<prefix>.<region>.amazonaws.com. Malloc'd. */
char *hw_aws_endpoint(const char *service_env, const char *prefix, const char *region);

/* ---- within the chain (aws_creds.c, aws_profile.c, aws_process.c) ---------- */
/* A source of the chain that a profile's credential_source names. Like
 * every source: CKR_GENERAL_ERROR when it is not set up. */
typedef enum { HW_AWS_SRC_ENV, HW_AWS_SRC_CONTAINER, HW_AWS_SRC_IMDS } hw_aws_src;
CK_RV hw_aws_source(hw_aws_chain *ch, hw_aws_src src, hw_aws_creds *out, hw_cloud_err *e);
/* An identity endpoint's answer judged: 2xx done, 429/5xx retried. */
hw_retry_class hw_aws_classify(void *arg, const hw_http_resp *resp, hw_cloud_err *e);
/* A request the same at every attempt, on the chain's pool. */
CK_RV hw_aws_fixed_call(hw_aws_chain *ch, hw_cloud_fixed *s, const char *op, int attempts, int attempt_ms,
			hw_http_resp *resp, hw_cloud_err *e);
/* A small file's trimmed text (a token), malloc'd; NULL with e set. */
char *hw_aws_read_file(const char *path, hw_cloud_err *e);
/* s without leading and trailing blanks (in place). */
char *hw_aws_trim(char *s);
/* Wipe and free a string that held a secret. */
void hw_aws_free_secret_str(char *s);
/* The credentials the chain's profile gives (aws_profile.c):
 * CKR_GENERAL_ERROR when it has none of static keys, role_arn, sso_* and
 * credential_process. */
CK_RV hw_aws_profile_creds(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e);
/* Run a profile's credential_process (aws_process.c): split as the AWS
 * CLI splits it (no shell), at most limit_ms, its JSON on stdout. */
CK_RV hw_aws_process_creds(const char *profile, const char *cmd, int limit_ms, hw_aws_creds *out,
			   hw_cloud_err *e);
/* cmd split into words as a POSIX shell's quoting would (no expansion of
 * any kind): *argv (NULL-terminated) and its strings in one allocation
 * the caller frees. CKR_ARGUMENTS_BAD on an unclosed quote or an empty
 * command. */
CK_RV hw_aws_split_command(const char *cmd, char ***argv);

#endif
