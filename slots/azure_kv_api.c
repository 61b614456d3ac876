/*
 * One call to Key Vault (REST + JSON over HTTPS, bearer token) through the
 * shared retry loop, the vault's challenge, and what its errors mean for
 * PKCS#11.
 *
 * The challenge, as the Azure SDKs do it: the first request goes without
 * a token and without a body; the vault answers 401 with
 * WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
 * resource="<audience>" (or scope=); the token is asked for that audience
 * and the request sent again. A later 401 with a new challenge (expired or
 * revoked token, moved tenant) gets one more round. The audience is taken
 * only when it is an Azure Key Vault / Managed HSM audience or the vault's
 * own domain, so that a wrong vault_url cannot make us fetch a token for
 * another service and hand it over.
 */
#include "slots/azure_kv.h"
#include "common/log.h"
#include "common/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct call_arg {
	hw_az_ctx *c;
	const char *method, *url, *body;
	bool probe;               /* the challenge round */
	hw_secret *authz;         /* "Bearer <token>" */
	json_object *json;        /* parsed answer of a success */
	bool challenged;          /* a 401 carried a new challenge */
} call_arg;

static CK_RV prepare(void *varg, hw_http_req *r, hw_cloud_err *e)
{
	call_arg *a = varg;
	r->method = a->method;
	r->url = a->url;
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Accept", "application/json" };
	if (!a->probe && a->body != NULL) {
		r->body = a->body;
		r->body_len = strlen(a->body);
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Content-Type", "application/json" };
	}
	if (!a->probe)
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Authorization", (const char *)a->authz->data };
	return CKR_OK;
}

static hw_retry_class classify(void *varg, const hw_http_resp *resp, hw_cloud_err *e)
{
	call_arg *a = varg;
	char code[64], msg[160], tenant[64], res[160];
	if (resp->status == 401 && hw_az_parse_challenge(resp->www_auth, tenant, sizeof(tenant), res, sizeof(res)) == CKR_OK) {
		pthread_mutex_lock(&a->c->lock);
		snprintf(a->c->tenant, sizeof(a->c->tenant), "%s", tenant);
		snprintf(a->c->resource, sizeof(a->c->resource), "%s", res);
		pthread_mutex_unlock(&a->c->lock);
		a->challenged = true;
		hw_cloud_err_set(e, a->probe ? CKR_OK : CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "Unauthorized",
				 "HTTP 401: the vault refused the token");
		return HW_RETRY_DONE;
	}
	if (resp->status >= 200 && resp->status < 300 && !a->probe) {
		json_object_put(a->json);
		if ((a->json = hw_cloud_json_parse(resp->body, resp->len)) != NULL) {
			e->rv = CKR_OK;
			return HW_RETRY_DONE;
		}
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "the answer is not a JSON object");
		return HW_RETRY_TRANSIENT;
	}
	hw_az_parse_error(resp->body, resp->len, code, sizeof(code), msg, sizeof(msg));
	const char *c = code[0] ? code : "http";
	switch (resp->status) {
	case 401:
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, c, "HTTP 401 without a challenge: %s", msg);
		return HW_RETRY_DONE;
	case 403:
		/* RBAC role or access policy: the identity may not do this */
		hw_cloud_err_set(e, CKR_KEY_FUNCTION_NOT_PERMITTED, HW_CLOUD_CREDENTIALS, c, "HTTP 403: %s", msg);
		return HW_RETRY_DONE;
	case 404:
		hw_cloud_err_set(e, CKR_KEY_HANDLE_INVALID, HW_CLOUD_PROVIDER, c, "HTTP 404: %s", msg);
		return HW_RETRY_DONE;
	case 429:
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, c, "HTTP 429 (throttled): %s", msg);
		return HW_RETRY_THROTTLED;
	case 408: case 500: case 502: case 503: case 504:
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, c, "HTTP %ld: %s", resp->status, msg);
		return HW_RETRY_TRANSIENT;
	default:
		hw_cloud_err_set(e, resp->status >= 500 ? CKR_DEVICE_ERROR : CKR_FUNCTION_FAILED, HW_CLOUD_PROVIDER, c,
				 "HTTP %ld: %s", resp->status, msg);
		return resp->status >= 506 ? HW_RETRY_TRANSIENT : HW_RETRY_DONE;
	}
}

/* The host of a URL ("https://host[:port]/..."), into out. */
static bool url_host(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	if (p == NULL)
		return false;
	p += 3;
	size_t n = strcspn(p, ":/?#");
	if (n == 0 || n + 1 > len)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool audience_ok(hw_az_ctx *c, const char *res)
{
	static const char *const known[] = {
		"https://vault.azure.net", "https://managedhsm.azure.net", "https://vault.azure.cn",
		"https://managedhsm.azure.cn", "https://vault.usgovcloudapi.net", "https://managedhsm.usgovcloudapi.net",
		"https://vault.microsoftazure.de",
	};
	char rh[128], vh[128];
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(res, known[i]) == 0)
			return true;
	/* the SDKs' rule: the vault's host ends with the audience's domain */
	if (!url_host(res, rh, sizeof(rh)) || !url_host(c->vault, vh, sizeof(vh)))
		return false;
	size_t rl = strlen(rh), vl = strlen(vh);
	return vl >= rl && strcasecmp(vh + vl - rl, rh) == 0 && (vl == rl || vh[vl - rl - 1] == '.');
}

/* The challenge (probing the vault when none is known yet) and a token. */
static CK_RV authorize(call_arg *a, int attempts, int deadline_ms, hw_cloud_err *e)
{
	hw_az_ctx *c = a->c;
	char res[160], tenant[64];
	hw_secret *tok = NULL;
	CK_RV rv;
	pthread_mutex_lock(&c->lock);
	snprintf(res, sizeof(res), "%s", c->resource);
	snprintf(tenant, sizeof(tenant), "%s", c->tenant);
	pthread_mutex_unlock(&c->lock);
	if (res[0] == '\0') {
		hw_http_resp r = { 0 };
		a->probe = true;
		a->challenged = false;
		hw_cloud_call call = { &c->cs.pool, "Challenge", true, prepare, classify, a, attempts, 0, 0, deadline_ms, 0 };
		rv = hw_cloud_perform(&call, &r, e);
		a->probe = false;
		hw_http_resp_free(&r);
		if (rv == CKR_OK && !a->challenged) {
			hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "NoChallenge",
					 "the vault asked for no authentication: not a Key Vault endpoint");
		}
		if (rv != CKR_OK)
			return rv;
		pthread_mutex_lock(&c->lock);
		snprintf(res, sizeof(res), "%s", c->resource);
		snprintf(tenant, sizeof(tenant), "%s", c->tenant);
		pthread_mutex_unlock(&c->lock);
	}
	if (!audience_ok(c, res)) {
		pthread_mutex_lock(&c->lock);
		c->resource[0] = '\0';
		pthread_mutex_unlock(&c->lock);
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "BadChallenge",
				 "the vault asks for a token for %s, which is not a Key Vault audience", res);
		return CKR_DEVICE_ERROR;
	}
	if ((rv = hw_az_auth_token(&c->auth, res, tenant, &tok, e)) != CKR_OK)
		return rv;
	hw_secret_free(a->authz);
	if ((a->authz = hw_secret_new(tok->len + 8)) == NULL) {
		hw_secret_free(tok);
		return CKR_HOST_MEMORY;
	}
	memcpy(a->authz->data, "Bearer ", 7);
	memcpy(a->authz->data + 7, tok->data, tok->len);
	a->authz->data[7 + tok->len] = '\0';
	hw_secret_free(tok);
	return CKR_OK;
}

static CK_RV call(hw_az_ctx *c, const char *op, const char *method, const char *url, bool idempotent, const char *body,
		  json_object **resp, hw_cloud_err *e, int attempts, int deadline_ms)
{
	hw_http_resp r = { 0 };
	call_arg a = { c, method, url, body, false, NULL, NULL, false };
	CK_RV rv = CKR_OK;
	*resp = NULL;
	memset(e, 0, sizeof(*e));
	for (int round = 0; round < 2; round++) {
		if ((rv = authorize(&a, attempts, deadline_ms, e)) != CKR_OK)
			break;
		a.challenged = false;
		hw_cloud_call cc = { &c->cs.pool, op, idempotent, prepare, classify, &a, attempts, 0, 0, deadline_ms, 0 };
		rv = hw_cloud_perform(&cc, &r, e);
		if (rv == CKR_OK || !a.challenged)
			break;
		/* refused with a new challenge: a new token, once */
		hw_az_auth_invalidate(&c->auth);
	}
	if (hw_cloud_call_done(&c->cs, "azure-kv", op, rv, e, r.status) == CKR_OK) {
		*resp = a.json;
		a.json = NULL;
	}
	json_object_put(a.json);
	hw_secret_free(a.authz);
	hw_http_resp_free(&r);
	return rv;
}

CK_RV hw_az_call(hw_az_ctx *c, const char *op, const char *method, const char *path, bool idempotent,
		 json_object *body, json_object **resp, hw_cloud_err *e)
{
	hw_sb u = { 0 };
	hw_sb_printf(&u, "%s%s%sapi-version=%s", c->vault, path, strchr(path, '?') != NULL ? "&" : "?", HW_AZ_API);
	char *url = hw_sb_take(&u);
	const char *b = body != NULL ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
									   JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	CK_RV rv = url != NULL && (body == NULL || b != NULL) ?
		   call(c, op, method, url, idempotent, b, resp, e, 0, 0) : CKR_HOST_MEMORY;
	free(url);
	return rv;
}

CK_RV hw_az_call_url(hw_az_ctx *c, const char *op, const char *url, json_object **resp, hw_cloud_err *e,
		     int attempts, int deadline_ms)
{
	size_t vl = strlen(c->vault);
	/* the token goes only to the vault */
	if (strncmp(url, c->vault, vl) != 0 || url[vl] != '/') {
		memset(e, 0, sizeof(*e));
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "BadNextLink", "a link outside the vault");
		hw_cloud_err_log(c->cs.conf->name, "azure-kv", op, e);
		*resp = NULL;
		return CKR_DEVICE_ERROR;
	}
	return call(c, op, "GET", url, true, NULL, resp, e, attempts, deadline_ms);
}
