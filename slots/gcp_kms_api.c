/*
 * One call to Cloud KMS (REST v1, JSON, bearer token) through the shared
 * retry loop, and what its errors (google.rpc.Status) mean for PKCS#11.
 */
#include "slots/gcp_kms.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gcp_error {
	const char *status;
	CK_RV rv;
	hw_cloud_cause cause;
	hw_retry_class retry;
} gcp_error;

/* The retry set of Google's client libraries (RESOURCE_EXHAUSTED,
 * UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL) and the codes Cloud KMS
 * documents. */
static const gcp_error errors[] = {
	{ "RESOURCE_EXHAUSTED", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_THROTTLED },
	{ "UNAVAILABLE", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	{ "DEADLINE_EXCEEDED", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	{ "INTERNAL", CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, HW_RETRY_TRANSIENT },
	/* refused before acting: a fresh token may fix it */
	{ "UNAUTHENTICATED", CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, HW_RETRY_THROTTLED },
	{ "PERMISSION_DENIED", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_CREDENTIALS, HW_RETRY_DONE },
	{ "NOT_FOUND", CKR_KEY_HANDLE_INVALID, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	/* the version is not ENABLED (pending, disabled, destroy scheduled) */
	{ "FAILED_PRECONDITION", CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "ALREADY_EXISTS", CKR_FUNCTION_FAILED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
	{ "INVALID_ARGUMENT", CKR_FUNCTION_FAILED, HW_CLOUD_PROVIDER, HW_RETRY_DONE },
};

typedef struct call_arg {
	hw_gcp_ctx *c;
	const char *method;
	char *url;
	const char *body;
	hw_secret *authz;
	char request_id[96];
} call_arg;

static CK_RV prepare(void *varg, hw_http_req *r, hw_cloud_err *e)
{
	call_arg *a = varg;
	CK_RV rv;
	hw_secret_free(a->authz);
	a->authz = NULL;
	/* every attempt asks: a refused token was dropped by classify */
	if ((rv = hw_gcp_auth_header(&a->c->auth, &a->authz, e)) != CKR_OK)
		return rv;
	r->method = a->method;
	r->url = a->url;
	r->body = a->body;
	r->body_len = a->body != NULL ? strlen(a->body) : 0;
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Authorization", (const char *)a->authz->data };
	if (a->body != NULL)
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Content-Type", "application/json" };
	return CKR_OK;
}

static hw_retry_class classify(void *varg, const hw_http_resp *resp, hw_cloud_err *e)
{
	call_arg *a = varg;
	char status[64], msg[160];
	if (resp->status == 200) {
		json_tokener *t = json_tokener_new();
		json_object *o = t != NULL ? json_tokener_parse_ex(t, resp->body, (int)resp->len) : NULL;
		bool ok = t != NULL && json_tokener_get_error(t) == json_tokener_success && json_object_is_type(o, json_type_object);
		json_object_put(o);
		json_tokener_free(t);
		if (ok) {
			e->rv = CKR_OK;
			return HW_RETRY_DONE;
		}
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "the answer is not a JSON object");
		/* a garbled answer of an idempotent call is worth asking again */
		return HW_RETRY_TRANSIENT;
	}
	hw_gcp_parse_error(resp->body, resp->len, status, sizeof(status), msg, sizeof(msg), a->request_id,
			   sizeof(a->request_id));
	if (resp->status == 401 && status[0] == '\0')
		snprintf(status, sizeof(status), "UNAUTHENTICATED");
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (strcmp(status, errors[i].status) == 0) {
			hw_cloud_err_set(e, errors[i].rv, errors[i].cause, status, "HTTP %ld: %s", resp->status, msg);
			if (errors[i].cause == HW_CLOUD_CREDENTIALS && errors[i].retry != HW_RETRY_DONE)
				hw_gcp_auth_invalidate(&a->c->auth);
			return errors[i].retry;
		}
	hw_cloud_err_set(e, resp->status >= 500 ? CKR_DEVICE_ERROR : CKR_FUNCTION_FAILED, HW_CLOUD_PROVIDER,
			 status[0] ? status : "http", "HTTP %ld: %s", resp->status, msg);
	if (resp->status == 429)
		return HW_RETRY_THROTTLED;
	return resp->status >= 500 ? HW_RETRY_TRANSIENT : HW_RETRY_DONE;
}

CK_RV hw_gcp_call_raw(hw_gcp_ctx *c, const char *op, const char *method, const char *path, json_object *body,
		      bool idempotent, int attempts, int deadline_ms, hw_http_resp *resp, hw_cloud_err *e)
{
	call_arg a;
	hw_sb u = { 0 };
	CK_RV rv = CKR_HOST_MEMORY;
	memset(&a, 0, sizeof(a));
	memset(e, 0, sizeof(*e));
	a.c = c;
	a.method = method;
	hw_sb_printf(&u, "%s%s", c->base, path);
	a.url = hw_sb_take(&u);
	if (body != NULL)
		a.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	hw_cloud_call call = { &c->cs.pool, op, idempotent, prepare, classify, &a, attempts, 0, 0, deadline_ms, 0 };
	if (a.url != NULL && (body == NULL || a.body != NULL))
		rv = hw_cloud_perform(&call, resp, e);
	else
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "out of memory");
	if (e->request_id[0] == '\0')
		snprintf(e->request_id, sizeof(e->request_id), "%s", a.request_id);
	hw_cloud_call_done(&c->cs, "gcp-kms", op, rv, e, resp->status);
	hw_secret_free(a.authz);
	free(a.url);
	return rv;
}

CK_RV hw_gcp_call(hw_gcp_ctx *c, const char *op, const char *method, const char *path, json_object *body,
		  bool idempotent, json_object **out, hw_cloud_err *e)
{
	hw_http_resp r = { 0 };
	*out = NULL;
	CK_RV rv = hw_gcp_call_raw(c, op, method, path, body, idempotent, 0, 0, &r, e);
	if (rv == CKR_OK) {
		json_tokener *t = json_tokener_new();
		*out = t != NULL ? json_tokener_parse_ex(t, r.body, (int)r.len) : NULL;
		if (t == NULL || json_tokener_get_error(t) != json_tokener_success ||
		    !json_object_is_type(*out, json_type_object)) {
			json_object_put(*out);
			*out = NULL;
			hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
					 "the answer is not a JSON object");
			hw_cloud_err_log(c->cs.conf->name, "gcp-kms", op, e);
		}
		json_tokener_free(t);
	}
	hw_http_resp_free(&r);
	return rv;
}
