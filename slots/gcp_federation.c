/*
 * Access tokens for the gcp-kms slot from the two other kinds of file that
 * GOOGLE_APPLICATION_CREDENTIALS may name, used as Google's client
 * libraries use them:
 *
 *   external_account (workload identity federation): a subject token that
 *     another identity provider issued (a Kubernetes projected service
 *     account token, an Azure or GitHub OIDC token, a SAML assertion) is
 *     read from credential_source.file or fetched from credential_source.url
 *     (with its headers), as plain text or as one member of a JSON answer,
 *     and exchanged at token_url, Google's Security Token Service (RFC 8693
 *     token exchange), for a federated access token. When the file names a
 *     service_account_impersonation_url, that token then buys the service
 *     account's own access token from IAM Credentials generateAccessToken.
 *   authorized_user (gcloud auth application-default login): the user's
 *     refresh token at token_uri (RFC 6749, 6).
 *
 * gcp_auth.c caches the result; the subject token and the STS token never
 * outlive one refresh, live in secret memory and are never logged. The
 * subject token is read again at every refresh (kubelet and CI runners
 * rotate it).
 */
#include "slots/gcp_kms.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FED_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define SOURCE_URL_MS 3000      /* a local metadata endpoint: quick or absent */

static CK_RV subject_token(hw_gcp_auth *a, const char *path, const hw_gcp_ext *x, hw_secret **st, hw_cloud_err *e)
{
	hw_http_resp r = { 0 };
	size_t len = 0;
	CK_RV rv;
	if (x->source_file[0] != '\0') {
		char *doc = hw_gcp_read_file(x->source_file, &len);
		if (doc == NULL) {
			hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "cannot read the subject token file %s "
					 "(credential_source.file of %s)", x->source_file, path);
			return e->rv;
		}
		rv = hw_gcp_subject_token(x, doc, len, st);
		hw_wipe(doc, len);
		free(doc);
	} else {
		hw_gcp_idreq q = { .what = "the subject token URL", .method = "GET", .url = x->source_url,
				   .attempt_ms = SOURCE_URL_MS };
		for (size_t i = 0; i < x->nhdrs; i++)
			q.hdrs[q.nhdrs++] = (hw_http_hdr){ x->hdr_name[i], x->hdr_value[i] };
		if ((rv = hw_gcp_id_call(a, &q, &r, e)) != CKR_OK)
			return rv;
		rv = hw_gcp_subject_token(x, r.body, r.len, st);
		hw_wipe(r.body, r.len);
		hw_http_resp_free(&r);
	}
	if (rv == CKR_DEVICE_ERROR)
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "no subject token in %s (credential_source of %s)",
				 x->source_file[0] != '\0' ? "the subject token file" : "the subject token URL's answer", path);
	return rv;
}

/* POSTs the form built in b for a token; the form is wiped (it holds secrets). */
static CK_RV post_form(hw_gcp_auth *a, hw_sb *b, const char *url, const char *what, hw_secret **tok, long *life,
		       hw_cloud_err *e)
{
	char *form = hw_sb_take(b);
	if (form == NULL) {
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONFIG, "", "out of memory");
		return CKR_HOST_MEMORY;
	}
	CK_RV rv = hw_gcp_token_fetch(a, url, form, what, tok, life, e);
	hw_wipe(form, strlen(form));
	free(form);
	return rv;
}

/* STS token exchange: the subject token for a federated access token. */
static CK_RV exchange(hw_gcp_auth *a, const hw_gcp_ext *x, const hw_secret *st, hw_secret **tok, long *life,
		      hw_cloud_err *e)
{
	hw_sb b = { 0 };
	hw_cloud_form_add(&b, "grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
	hw_cloud_form_add(&b, "audience", x->audience);
	hw_cloud_form_add(&b, "scope", FED_SCOPE);
	hw_cloud_form_add(&b, "requested_token_type", "urn:ietf:params:oauth:token-type:access_token");
	hw_cloud_form_add(&b, "subject_token", (const char *)st->data);
	hw_cloud_form_add(&b, "subject_token_type", x->subject_token_type);
	return post_form(a, &b, x->token_url, "the STS endpoint", tok, life, e);
}

/* IAM Credentials generateAccessToken with the federated token as bearer. */
static CK_RV impersonate(hw_gcp_auth *a, const hw_gcp_ext *x, const hw_secret *sts, hw_secret **tok, long *life,
			 hw_cloud_err *e)
{
	static const char body[] = "{\"scope\":[\"" FED_SCOPE "\"],\"lifetime\":\"3600s\"}";
	hw_http_resp r = { 0 };
	hw_secret *authz = hw_secret_new(sts->len + 8);
	CK_RV rv = CKR_HOST_MEMORY;
	if (authz == NULL) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "out of memory");
		return rv;
	}
	authz->len = (size_t)snprintf((char *)authz->data, sts->len + 8, "Bearer %s", (const char *)sts->data);
	hw_gcp_idreq q = { .what = "the IAM credentials endpoint", .method = "POST", .url = x->impersonation_url,
			   .body = body, .ctype = "application/json" };
	q.hdrs[q.nhdrs++] = (hw_http_hdr){ "Authorization", (const char *)authz->data };
	if ((rv = hw_gcp_id_call(a, &q, &r, e)) == CKR_OK &&
	    (rv = hw_gcp_parse_iam_token(r.body, r.len, time(NULL), tok, life)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "MalformedResponse",
				 "the IAM credentials endpoint answered no usable token");
	if (r.body != NULL)
		hw_wipe(r.body, r.len);
	hw_http_resp_free(&r);
	hw_secret_free(authz);
	return rv;
}

static CK_RV federated(hw_gcp_auth *a, const char *path, const hw_gcp_ext *x, hw_secret **tok, long *life,
		       hw_cloud_err *e)
{
	hw_secret *st = NULL, *sts = NULL;
	long sts_life = 0;
	CK_RV rv = subject_token(a, path, x, &st, e);
	if (rv != CKR_OK)
		return rv;
	if (x->impersonation_url[0] == '\0') {
		rv = exchange(a, x, st, tok, life, e);
	} else if ((rv = exchange(a, x, st, &sts, &sts_life, e)) == CKR_OK) {
		rv = impersonate(a, x, sts, tok, life, e);
	}
	hw_secret_free(st);
	hw_secret_free(sts);
	return rv;
}

static CK_RV refresh_user(hw_gcp_auth *a, const hw_gcp_ext *x, hw_secret **tok, long *life, hw_cloud_err *e)
{
	hw_sb b = { 0 };
	hw_cloud_form_add(&b, "grant_type", "refresh_token");
	hw_cloud_form_add(&b, "client_id", x->client_id);
	hw_cloud_form_add(&b, "client_secret", (const char *)x->client_secret->data);
	hw_cloud_form_add(&b, "refresh_token", (const char *)x->refresh_token->data);
	return post_form(a, &b, x->token_uri, "the OAuth token endpoint", tok, life, e);
}

CK_RV hw_gcp_fed_token(hw_gcp_auth *a, const char *path, const char *doc, size_t len, hw_secret **tok, long *life,
		       hw_cloud_err *e)
{
	hw_gcp_ext x;
	CK_RV rv = hw_gcp_parse_ext(doc, len, &x);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "%s: credentials type or credential_source not "
				 "supported (file and url sources are)", path);
		return rv;
	}
	if (rv != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "the credentials file %s is malformed (a member missing, "
				 "too long or not https)", path);
		return rv;
	}
	rv = x.user ? refresh_user(a, &x, tok, life, e) : federated(a, path, &x, tok, life, e);
	if (rv != CKR_OK && strstr(e->detail, path) == NULL) {
		/* the operator's first question: which identity was this */
		size_t n = strlen(e->detail);
		snprintf(e->detail + n, sizeof(e->detail) - n, " (credentials file %s)", path);
	}
	if (rv == CKR_OK)
		hw_debug("slot \"%s\" (gcp-kms): %s token obtained through %s", a->slot,
			 x.user ? "a user's" : x.impersonation_url[0] ? "an impersonated service account's" : "a federated",
			 path);
	hw_gcp_ext_clear(&x);
	return rv;
}
