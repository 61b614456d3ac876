/*
 * One call to AWS KMS (JSON 1.1 over HTTPS, SigV4) through the shared
 * retry loop, and what its errors mean for PKCS#11.
 */
#include "slots/aws_kms.h"
#include "slots/aws_sigv4.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------ */
typedef struct kms_error {
	const char *code;
	CK_RV rv;
	hw_cloud_cause cause;
	hw_retry_class retry;
} kms_error;

/* The AWS SDKs' standard retry set (throttling, server faults) and the
 * service's documented errors. */
static const kms_error errors[] = {
	{ "ThrottlingException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "Throttling", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "ThrottledException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "RequestThrottledException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "TooManyRequestsException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "RequestTimeout", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	{ "PriorRequestNotComplete", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "KMSInternalException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	{ "DependencyTimeoutException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	{ "KeyUnavailableException", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	/* refused before acting: fresh credentials may fix it */
	{ "ExpiredTokenException", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_THROTTLED },
	{ "ExpiredToken", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_THROTTLED },
	{ "UnrecognizedClientException", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "InvalidSignatureException", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "IncompleteSignature", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "InvalidClientTokenId", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "MissingAuthenticationToken", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "AccessDeniedException", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "NotFoundException", CKR_KEY_HANDLE_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "DisabledException", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "KMSInvalidStateException", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "InvalidKeyUsageException", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "InvalidCiphertextException", CKR_ENCRYPTED_DATA_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "IncorrectKeyException", CKR_ENCRYPTED_DATA_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "LimitExceededException", CKR_DEVICE_MEMORY, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "TagException", CKR_ATTRIBUTE_VALUE_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "KMSInvalidMacException", CKR_SIGNATURE_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
};

typedef struct call_arg {
	hw_kms_ctx *c;
	const char *op;
	const char *body;
	bool idempotent;
	char target[64], date[17];
	char *authz;
	hw_aws_creds cr;
	json_object *json;        /* parsed answer of a success */
} call_arg;

static void arg_reset(call_arg *a)
{
	free(a->authz);
	a->authz = NULL;
	hw_aws_creds_clear(&a->cr);
}

static CK_RV prepare(void *varg, hw_http_req *r, hw_cloud_err *e)
{
	call_arg *a = varg;
	CK_RV rv;
	arg_reset(a);
	/* every attempt signs anew: a retry must carry a fresh date */
	if ((rv = hw_aws_chain_get(&a->c->chain, &a->cr, e)) != CKR_OK)
		return rv;
	hw_sigv4_date(time(NULL), a->date);
	r->method = "POST";
	r->url = a->c->url;
	r->body = a->body;
	r->body_len = strlen(a->body);
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Host", a->c->host };
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Content-Type", "application/x-amz-json-1.1" };
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "X-Amz-Date", a->date };
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "X-Amz-Target", a->target };
	if (a->cr.token != NULL)
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "X-Amz-Security-Token", (const char *)a->cr.token->data };
	hw_sigv4_in in = { "POST", "/", NULL, r->hdrs, r->nhdrs, r->body, r->body_len, a->c->region, "kms", a->date, true };
	if ((rv = hw_sigv4_sign(&in, a->cr.akid, (const char *)a->cr.secret->data, &a->authz, NULL, NULL)) != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "cannot sign the request");
		return rv;
	}
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Authorization", a->authz };
	return CKR_OK;
}

static hw_retry_class classify(void *varg, const hw_http_resp *resp, hw_cloud_err *e)
{
	call_arg *a = varg;
	char code[64], msg[160];
	if (resp->status == 200) {
		json_tokener *t = json_tokener_new();
		json_object_put(a->json);
		a->json = t != NULL ? json_tokener_parse_ex(t, resp->body, (int)resp->len) : NULL;
		bool ok = t != NULL && json_tokener_get_error(t) == json_tokener_success &&
			  json_object_is_type(a->json, json_type_object);
		json_tokener_free(t);
		if (ok) {
			e->rv = CKR_OK;
			return HW_RETRY_DONE;
		}
		json_object_put(a->json);
		a->json = NULL;
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "the answer is not a JSON object");
		/* a garbled answer of an idempotent call is worth asking again */
		return HW_RETRY_TRANSIENT;
	}
	hw_aws_parse_error(resp->body, resp->len, resp->error_type, code, sizeof(code), msg, sizeof(msg));
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (strcmp(code, errors[i].code) == 0) {
			hw_cloud_err_set(e, errors[i].rv, errors[i].cause, code, "HTTP %ld: %s", resp->status, msg);
			if (errors[i].cause == HW_CLOUD_CREDENTIALS && errors[i].retry != HW_RETRY_DONE)
				hw_aws_chain_invalidate(&a->c->chain);
			return errors[i].retry;
		}
	hw_cloud_err_set(e, resp->status >= 500 ? CKR_DEVICE_ERROR : CKR_FUNCTION_FAILED, HW_CLOUD_PROVIDER,
			 code[0] ? code : "http", "HTTP %ld: %s", resp->status, msg);
	if (resp->status == 429)
		return HW_RETRY_THROTTLED;
	return resp->status >= 500 ? HW_RETRY_TRANSIENT : HW_RETRY_DONE;
}

static CK_RV call(hw_kms_ctx *c, const char *op, bool idempotent, json_object *req, json_object **resp,
		  hw_cloud_err *e, int attempts, int deadline_ms);

CK_RV hw_kms_call(hw_kms_ctx *c, const char *op, bool idempotent, json_object *req, json_object **resp,
		  hw_cloud_err *e)
{
	return call(c, op, idempotent, req, resp, e, 0, 0);
}

CK_RV hw_kms_call_ex(hw_kms_ctx *c, const char *op, json_object *req, json_object **resp, hw_cloud_err *e,
		     int attempts, int deadline_ms)
{
	return call(c, op, true, req, resp, e, attempts, deadline_ms);
}

static CK_RV call(hw_kms_ctx *c, const char *op, bool idempotent, json_object *req, json_object **resp,
		  hw_cloud_err *e, int attempts, int deadline_ms)
{
	hw_http_resp r = { 0 };
	call_arg a;
	memset(&a, 0, sizeof(a));
	*resp = NULL;
	a.c = c;
	a.op = op;
	a.idempotent = idempotent;
	a.body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(a.target, sizeof(a.target), "TrentService.%s", op);
	hw_cloud_call call = { &c->cs.pool, op, idempotent, prepare, classify, &a, attempts, 0, 0, deadline_ms, 0 };
	CK_RV rv = a.body == NULL ? CKR_HOST_MEMORY : hw_kms_locate(c, e);
	if (rv == CKR_OK)
		rv = hw_cloud_perform(&call, &r, e);
	if (hw_cloud_call_done(&c->cs, "aws-kms", op, rv, e, r.status) == CKR_OK) {
		*resp = a.json;
		a.json = NULL;
	}
	json_object_put(a.json);
	arg_reset(&a);
	hw_http_resp_free(&r);
	return rv;
}
