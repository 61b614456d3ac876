/*
 * The azure-kv slot's identity: a Microsoft Entra ID bearer token for the
 * vault's audience, from the first source the environment offers, in the
 * order azure-identity's DefaultAzureCredential tries them (README, "The
 * azure-kv slot"):
 *   1. client secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
 *      (AAD v2.0 token endpoint under AZURE_AUTHORITY_HOST);
 *   2. client certificate: AZURE_CLIENT_CERTIFICATE_PATH (+ tenant, client
 *      id), a JWT signed with the certificate's key as the client assertion
 *      (azure_cert.c);
 *   3. workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant, client id),
 *      the file's JWT sent as the client assertion to the same endpoint;
 *   4. App Service / Functions: IDENTITY_ENDPOINT + IDENTITY_HEADER;
 *   5. the VM's instance metadata service (IMDS), whose base
 *      AZURE_POD_IDENTITY_AUTHORITY_HOST overrides as in azure-identity.
 * A token is kept until shortly before it expires and renewed then; a
 * renewal that fails leaves the old token in use while it is valid. Tokens
 * live in secret memory and are never logged.
 */
#include "slots/azure_kv.h"
#include "slots/aws_sigv4.h"
#include "common/log.h"
#include "common/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_DEFAULT "http://169.254.169.254"
#define AUTHORITY_DEFAULT "https://login.microsoftonline.com"
#define RENEW_BEFORE_S 300      /* azure-identity renews 5 minutes before expiry */

const char *hw_az_auth_mode_name(hw_az_auth_mode m)
{
	switch (m) {
	case HW_AZ_AUTH_SECRET: return "client secret";
	case HW_AZ_AUTH_WORKLOAD: return "workload identity";
	case HW_AZ_AUTH_CERT: return "client certificate";
	case HW_AZ_AUTH_APPSERVICE: return "App Service managed identity";
	case HW_AZ_AUTH_IMDS: return "managed identity (IMDS)";
	default: return "none";
	}
}

static char *env(const char *name)
{
	const char *v = secure_getenv(name);
	return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

/* A base URL without its trailing slashes. */
static char *base_url(const char *v)
{
	char *s = strdup(v);
	size_t n = s != NULL ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

CK_RV hw_az_auth_init(hw_az_auth *a, const char *slot, hw_http_pool *pool, char *err, size_t err_len)
{
	const char *v;
	memset(a, 0, sizeof(*a));
	a->slot = slot;
	a->pool = pool;
	a->tenant = env("AZURE_TENANT_ID");
	a->client_id = env("AZURE_CLIENT_ID");
	v = secure_getenv("AZURE_AUTHORITY_HOST");
	a->authority = base_url(v != NULL && v[0] != '\0' ? v : AUTHORITY_DEFAULT);
	const char *secret = secure_getenv("AZURE_CLIENT_SECRET"), *tf = secure_getenv("AZURE_FEDERATED_TOKEN_FILE");
	const char *cf = secure_getenv("AZURE_CLIENT_CERTIFICATE_PATH");
	const char *ie = secure_getenv("IDENTITY_ENDPOINT"), *ih = secure_getenv("IDENTITY_HEADER");
	if (a->authority == NULL)
		goto nomem;
	if (a->tenant != NULL && a->client_id != NULL && secret != NULL && secret[0] != '\0') {
		a->mode = HW_AZ_AUTH_SECRET;
		if ((a->client_secret = hw_secret_dup(secret, strlen(secret) + 1)) == NULL)
			goto nomem;
	} else if (a->tenant != NULL && a->client_id != NULL && cf != NULL && cf[0] != '\0') {
		a->mode = HW_AZ_AUTH_CERT;
		if ((a->cert_file = strdup(cf)) == NULL)
			goto nomem;
	} else if (a->tenant != NULL && a->client_id != NULL && tf != NULL && tf[0] != '\0') {
		a->mode = HW_AZ_AUTH_WORKLOAD;
		if ((a->token_file = strdup(tf)) == NULL)
			goto nomem;
	} else if (ie != NULL && ie[0] != '\0' && ih != NULL && ih[0] != '\0') {
		a->mode = HW_AZ_AUTH_APPSERVICE;
		if ((a->endpoint = strdup(ie)) == NULL || (a->identity_header = hw_secret_dup(ih, strlen(ih) + 1)) == NULL)
			goto nomem;
	} else {
		a->mode = HW_AZ_AUTH_IMDS;
		v = secure_getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST");
		if ((a->endpoint = base_url(v != NULL && v[0] != '\0' ? v : IMDS_DEFAULT)) == NULL)
			goto nomem;
	}
	/* a client secret or assertion is sent only over TLS */
	if ((a->mode == HW_AZ_AUTH_SECRET || a->mode == HW_AZ_AUTH_WORKLOAD || a->mode == HW_AZ_AUTH_CERT) &&
	    strncasecmp(a->authority, "https://", 8) != 0) {
		snprintf(err, err_len, "AZURE_AUTHORITY_HOST: expected an https:// URL, not \"%s\"", a->authority);
		hw_az_auth_fini(a);
		return CKR_ARGUMENTS_BAD;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->ready = true;
	return CKR_OK;
nomem:
	snprintf(err, err_len, "out of memory");
	hw_az_auth_fini(a);
	return CKR_HOST_MEMORY;
}

void hw_az_auth_fini(hw_az_auth *a)
{
	if (a->ready)
		pthread_mutex_destroy(&a->lock);
	free(a->authority);
	free(a->tenant);
	free(a->client_id);
	free(a->token_file);
	free(a->cert_file);
	free(a->endpoint);
	hw_secret_free(a->client_secret);
	hw_secret_free(a->identity_header);
	hw_secret_free(a->token);
	memset(a, 0, sizeof(*a));
}

void hw_az_auth_invalidate(hw_az_auth *a)
{
	pthread_mutex_lock(&a->lock);
	hw_secret_free(a->token);
	a->token = NULL;
	pthread_mutex_unlock(&a->lock);
}

/* ---- one token request ------------------------------------------------------------ */
static hw_retry_class tok_classify(void *arg, const hw_http_resp *resp, hw_cloud_err *e)
{
	char code[64], msg[160];
	if (resp->status == 200) {
		e->rv = CKR_OK;
		return HW_RETRY_DONE;
	}
	hw_az_parse_error(resp->body, resp->len, code, sizeof(code), msg, sizeof(msg));
	hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, code[0] ? code : "http",
			 "HTTP %ld from the identity endpoint: %s", resp->status, msg);
	/* IMDS answers 404 and 410 while it starts, 429 when throttled */
	if (resp->status == 429 || resp->status == 404 || resp->status == 410)
		return HW_RETRY_THROTTLED;
	return resp->status >= 500 ? HW_RETRY_TRANSIENT : HW_RETRY_DONE;
}

/* The workload identity's JWT, as the file holds it now (kubelet renews it). */
static char *read_assertion(const char *path, hw_cloud_err *e)
{
	char buf[16384];
	FILE *f = fopen(path, "re");
	size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	char *s = n > 0 ? strdup(buf) : NULL;
	hw_wipe(buf, sizeof(buf));
	if (s == NULL)
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "cannot read the federated token file %s", path);
	return s;
}

static CK_RV fetch(hw_az_auth *a, const char *resource, hw_secret **tok, time_t *exp, hw_cloud_err *e)
{
	hw_sb url = { 0 }, body = { 0 };
	char *assertion = NULL, *u = NULL, *b = NULL, *res = hw_aws_uri_encode(resource, strlen(resource), false);
	hw_http_resp resp = { 0 };
	hw_cloud_fixed t = { "GET", NULL, NULL, { { NULL, NULL } }, 0 };
	CK_RV rv = CKR_HOST_MEMORY;
	if (res == NULL)
		goto out;
	if (a->mode == HW_AZ_AUTH_SECRET || a->mode == HW_AZ_AUTH_WORKLOAD || a->mode == HW_AZ_AUTH_CERT) {
		hw_sb_printf(&url, "%s/%s/oauth2/v2.0/token", a->authority, a->tenant);
		hw_sb_printf(&body, "scope=%s%%2F.default", res);
		hw_cloud_form_add(&body, "client_id", a->client_id);
		if (a->mode == HW_AZ_AUTH_SECRET) {
			hw_cloud_form_add(&body, "client_secret", (const char *)a->client_secret->data);
		} else {
			/* the same request carries a workload's or a certificate's assertion */
			if (a->mode == HW_AZ_AUTH_CERT) {
				if (url.failed || (rv = hw_az_cert_assertion(a, url.s, time(NULL), &assertion, e)) != CKR_OK)
					goto out;
			} else if ((assertion = read_assertion(a->token_file, e)) == NULL) {
				rv = CKR_DEVICE_ERROR;
				goto out;
			}
			hw_cloud_form_add(&body, "client_assertion", assertion);
			hw_cloud_form_add(&body, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		}
		hw_cloud_form_add(&body, "grant_type", "client_credentials");
		t.method = "POST";
		t.hdrs[t.nhdrs++] = (hw_http_hdr){ "Content-Type", "application/x-www-form-urlencoded" };
	} else if (a->mode == HW_AZ_AUTH_APPSERVICE) {
		hw_sb_printf(&url, "%s%sapi-version=2019-08-01&resource=%s", a->endpoint,
			     strchr(a->endpoint, '?') != NULL ? "&" : "?", res);
		t.hdrs[t.nhdrs++] = (hw_http_hdr){ "X-IDENTITY-HEADER", (const char *)a->identity_header->data };
	} else {
		hw_sb_printf(&url, "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s", a->endpoint, res);
		t.hdrs[t.nhdrs++] = (hw_http_hdr){ "Metadata", "true" };
	}
	/* a user-assigned identity is chosen by its client id */
	if ((a->mode == HW_AZ_AUTH_APPSERVICE || a->mode == HW_AZ_AUTH_IMDS) && a->client_id != NULL)
		hw_sb_printf(&url, "&client_id=%s", a->client_id);
	if ((u = hw_sb_take(&url)) == NULL || (t.method[0] == 'P' && (b = hw_sb_take(&body)) == NULL))
		goto out;
	t.url = u;
	t.body = b;
	/* IMDS may be absent (not a VM): give up quickly there */
	hw_cloud_call c = { a->pool, "GetToken", true, hw_cloud_fixed_prepare, tok_classify, &t,
			    a->mode == HW_AZ_AUTH_IMDS ? 3 : 4, 50, 1000, 0, a->mode == HW_AZ_AUTH_IMDS ? 2000 : 0 };
	if ((rv = hw_cloud_perform(&c, &resp, e)) != CKR_OK)
		goto out;
	if ((rv = hw_az_parse_token(resp.body, resp.len, time(NULL), tok, exp)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "MalformedResponse",
				 "the identity endpoint answered without an access_token");
out:
	if (resp.body != NULL)
		hw_wipe(resp.body, resp.len);
	hw_http_resp_free(&resp);
	hw_sb_free(&url);
	hw_sb_free(&body);
	if (b != NULL)
		hw_wipe(b, strlen(b));
	if (assertion != NULL)
		hw_wipe(assertion, strlen(assertion));
	free(assertion);
	free(b);
	free(u);
	free(res);
	if (rv == CKR_HOST_MEMORY)
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "out of memory");
	return rv;
}

CK_RV hw_az_auth_token(hw_az_auth *a, const char *resource, const char *tenant, hw_secret **tok, hw_cloud_err *e)
{
	time_t now = time(NULL), exp = 0;
	hw_secret *fresh = NULL;
	*tok = NULL;
	pthread_mutex_lock(&a->lock);
	bool same = a->token != NULL && strcmp(a->token_resource, resource) == 0;
	if (same && now < a->refresh_at)
		*tok = hw_secret_dup(a->token->data, a->token->len + 1);
	pthread_mutex_unlock(&a->lock);
	if (*tok != NULL) {
		(*tok)->len = strlen((const char *)(*tok)->data);
		return CKR_OK;
	}
	if (tenant != NULL && a->tenant != NULL && strcmp(tenant, a->tenant) != 0)
		hw_debug("slot \"%s\" (azure-kv): the vault names tenant %s; using AZURE_TENANT_ID", a->slot, tenant);
	CK_RV rv = fetch(a, resource, &fresh, &exp, e);
	pthread_mutex_lock(&a->lock);
	if (rv == CKR_OK) {
		hw_secret_free(a->token);
		a->token = fresh;
		snprintf(a->token_resource, sizeof(a->token_resource), "%s", resource);
		long life = (long)(exp - now);
		a->expires_at = exp;
		a->refresh_at = exp - (life > 2 * RENEW_BEFORE_S ? RENEW_BEFORE_S : life / 2);
		hw_debug("slot \"%s\" (azure-kv): new token (%s) valid for %ld s", a->slot, hw_az_auth_mode_name(a->mode),
			 life);
	} else if (same && a->token != NULL && now < a->expires_at - 10) {
		/* the renewal failed, but the token still works for a while */
		hw_warn("slot \"%s\" (azure-kv): token renewal failed (%s); the current token expires in %ld s", a->slot,
			e->detail, (long)(a->expires_at - now));
		rv = CKR_OK;
	}
	if (rv == CKR_OK && (*tok = hw_secret_dup(a->token->data, a->token->len + 1)) == NULL)
		rv = CKR_HOST_MEMORY;
	else if (rv == CKR_OK)
		(*tok)->len = a->token->len;
	pthread_mutex_unlock(&a->lock);
	if (rv != CKR_OK && rv != CKR_HOST_MEMORY && e->cause == HW_CLOUD_CONNECTIVITY)
		e->cause = HW_CLOUD_CREDENTIALS;   /* the identity endpoint, not the vault, is unreachable */
	return rv;
}
