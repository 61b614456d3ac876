/*
 * OAuth access tokens for the gcp-kms slot, from the sources Google's own
 * client libraries use, in their order:
 *
 *   1. GOOGLE_APPLICATION_CREDENTIALS names a service-account key file: a
 *      JWT (RS256, signed here with the file's key) is exchanged at the
 *      file's own token_uri (RFC 7523 bearer grant). The file is read again
 *      on every refresh (rotated keys). An external_account file (workload
 *      identity federation) or an authorized_user file (gcloud's user
 *      credentials) is served by gcp_federation.c.
 *   2. Otherwise the metadata server (GCE, GKE workload identity, Cloud Run)
 *      at metadata.google.internal, or GCE_METADATA_HOST, over plain HTTP
 *      with "Metadata-Flavor: Google".
 *
 * A token is kept until five minutes before it expires (half its life when
 * it lives less than ten) and shared by all threads; one thread refreshes
 * while the others keep using the old token as long as it is valid. Tokens
 * live in secret memory and are never logged.
 */
#include "slots/gcp_kms.h"
#include "common/log.h"
#include "mechanisms/encode.h"
#include "slots/cloud_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METADATA_MS 3000        /* per attempt: off GCP nothing answers */
#define SA_FILE_MAX (64 * 1024)

void hw_gcp_auth_init(hw_gcp_auth *a, const char *slot, hw_http_pool *pool)
{
	memset(a, 0, sizeof(*a));
	a->slot = slot;
	a->pool = pool;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->refresh, NULL);
}

void hw_gcp_auth_fini(hw_gcp_auth *a, bool forked)
{
	hw_secret_free(a->token);
	if (!forked) {
		pthread_mutex_destroy(&a->lock);
		pthread_mutex_destroy(&a->refresh);
	}
	memset(a, 0, sizeof(*a));
}

void hw_gcp_auth_invalidate(hw_gcp_auth *a)
{
	pthread_mutex_lock(&a->lock);
	hw_secret_free(a->token);
	a->token = NULL;
	pthread_mutex_unlock(&a->lock);
}

/* ---- the JWT of a service account ------------------------------------------ */
CK_RV hw_gcp_jwt(const hw_gcp_sa *sa, time_t now, char **jwt)
{
	CK_RV rv = CKR_HOST_MEMORY;
	*jwt = NULL;
	json_object *hdr = json_object_new_object(), *cl = json_object_new_object();
	if (hdr == NULL || cl == NULL)
		goto out;
	json_object_object_add(hdr, "alg", json_object_new_string("RS256"));
	json_object_object_add(hdr, "typ", json_object_new_string("JWT"));
	if (sa->key_id[0] != '\0')
		json_object_object_add(hdr, "kid", json_object_new_string(sa->key_id));
	json_object_object_add(cl, "iss", json_object_new_string(sa->email));
	json_object_object_add(cl, "scope", json_object_new_string(HW_GCP_SCOPE));
	json_object_object_add(cl, "aud", json_object_new_string(sa->token_uri));
	json_object_object_add(cl, "iat", json_object_new_int64((int64_t)now));
	json_object_object_add(cl, "exp", json_object_new_int64((int64_t)now + 3600));
	rv = hw_cloud_jwt_rs256(hdr, cl, sa->pem, jwt);
	if (rv == CKR_KEY_TYPE_INCONSISTENT)
		rv = CKR_DEVICE_ERROR;
out:
	json_object_put(hdr);
	json_object_put(cl);
	return rv;
}

/* ---- one request to an identity endpoint ------------------------------------- */
static CK_RV id_prepare(void *varg, hw_http_req *r, hw_cloud_err *e)
{
	const hw_gcp_idreq *q = varg;
	r->url = q->url;
	r->method = q->method;
	if (q->body != NULL) {
		r->body = q->body;
		r->body_len = strlen(q->body);
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Content-Type", q->ctype };
	}
	for (size_t i = 0; i < q->nhdrs && r->nhdrs < HW_HTTP_MAX_HDRS; i++)
		r->hdrs[r->nhdrs++] = q->hdrs[i];
	return CKR_OK;
}

static hw_retry_class id_classify(void *varg, const hw_http_resp *resp, hw_cloud_err *e)
{
	const hw_gcp_idreq *q = varg;
	char status[64] = "", msg[8], rid[8];
	if (resp->status == 200) {
		e->rv = CKR_OK;
		return HW_RETRY_DONE;
	}
	/* OAuth and STS name the error in "error", IAM in a google.rpc.Status;
	 * the body is never echoed (it may quote what was sent) */
	json_object *o = hw_cloud_json_parse(resp->body, resp->len);
	const char *code = hw_cloud_jstr(o, "error");
	if (code == NULL)
		hw_gcp_parse_error(resp->body, resp->len, status, sizeof(status), msg, sizeof(msg), rid, sizeof(rid));
	else if (strlen(code) < 48)
		snprintf(status, sizeof(status), "%s", code);
	hw_cloud_err_set(e, CKR_DEVICE_ERROR, resp->status == 400 || resp->status == 401 || resp->status == 403 ?
					      HW_CLOUD_CREDENTIALS : HW_CLOUD_PROVIDER,
			 status[0] != '\0' ? status : "http", "%s answered HTTP %ld", q->what, resp->status);
	json_object_put(o);
	if (resp->status == 429)
		return HW_RETRY_THROTTLED;
	return resp->status >= 500 ? HW_RETRY_TRANSIENT : HW_RETRY_DONE;
}

CK_RV hw_gcp_id_call(hw_gcp_auth *a, const hw_gcp_idreq *q, hw_http_resp *resp, hw_cloud_err *e)
{
	hw_cloud_call call = { a->pool, q->what, true, id_prepare, id_classify, (void *)q, 3, 0, 0, 0, q->attempt_ms };
	return hw_cloud_perform(&call, resp, e);
}

CK_RV hw_gcp_token_fetch(hw_gcp_auth *a, const char *url, const char *form, const char *what, hw_secret **tok,
			 long *life, hw_cloud_err *e)
{
	hw_http_resp r = { 0 };
	hw_gcp_idreq q = { .what = what, .method = "POST", .url = url, .body = form,
			   .ctype = "application/x-www-form-urlencoded" };
	if (form == NULL) {
		q.method = "GET";
		q.hdrs[q.nhdrs++] = (hw_http_hdr){ "Metadata-Flavor", "Google" };
		q.attempt_ms = METADATA_MS;
	}
	CK_RV rv = hw_gcp_id_call(a, &q, &r, e);
	if (rv == CKR_OK && (rv = hw_gcp_parse_token(r.body, r.len, tok, life)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "MalformedResponse", "%s answered no usable token", what);
	if (r.body != NULL)
		hw_wipe(r.body, r.len);
	hw_http_resp_free(&r);
	return rv;
}

static CK_RV from_metadata(hw_gcp_auth *a, hw_secret **tok, long *life, hw_cloud_err *e)
{
	const char *host = secure_getenv("GCE_METADATA_HOST");
	char url[512];
	if (host == NULL || host[0] == '\0')
		host = "metadata.google.internal";
	if (strpbrk(host, "/?#@ ") != NULL) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "GCE_METADATA_HOST is not host[:port]");
		return e->rv;
	}
	snprintf(url, sizeof(url), "http://%s/computeMetadata/v1/instance/service-accounts/default/token?scopes=%s", host,
		 "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloudkms");
	return hw_gcp_token_fetch(a, url, NULL, "the metadata server", tok, life, e);
}

char *hw_gcp_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = f != NULL ? malloc(SA_FILE_MAX) : NULL;
	*len = buf != NULL ? fread(buf, 1, SA_FILE_MAX - 1, f) : 0;
	bool whole = f != NULL && feof(f) && !ferror(f);
	if (f != NULL)
		fclose(f);
	if (buf != NULL && !whole) {
		hw_wipe(buf, SA_FILE_MAX);
		free(buf);
		buf = NULL;
	}
	if (buf != NULL)
		buf[*len] = '\0';
	return buf;
}

static CK_RV from_key_file(hw_gcp_auth *a, const char *path, hw_secret **tok, long *life, hw_cloud_err *e)
{
	hw_gcp_sa sa;
	size_t len = 0;
	char *jwt = NULL, *form = NULL, *doc = hw_gcp_read_file(path, &len);
	CK_RV rv;
	if (doc == NULL) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "cannot read the file GOOGLE_APPLICATION_CREDENTIALS names");
		return e->rv;
	}
	rv = hw_gcp_parse_sa(doc, len, &sa);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		/* workload identity federation or user credentials (gcp_federation.c) */
		rv = hw_gcp_fed_token(a, path, doc, len, tok, life, e);
		hw_wipe(doc, len);
		free(doc);
		return rv;
	}
	hw_wipe(doc, len);
	free(doc);
	if (rv != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "the credentials file %s is not a service-account key file",
				 path);
		return rv;
	}
	if (strncmp(sa.token_uri, "https://", 8) != 0) {
		hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "the key file's token_uri is not https");
		goto out;
	}
	if ((rv = hw_gcp_jwt(&sa, time(NULL), &jwt)) != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "cannot sign with the key file's private key (RSA expected)");
		goto out;
	}
	hw_sb b = { 0 };
	hw_sb_printf(&b, "grant_type=%s&assertion=%s", "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", jwt);
	if ((form = hw_sb_take(&b)) == NULL) {
		hw_cloud_err_set(e, rv = CKR_HOST_MEMORY, HW_CLOUD_CONFIG, "", "out of memory");
		goto out;
	}
	rv = hw_gcp_token_fetch(a, sa.token_uri, form, "the OAuth token endpoint", tok, life, e);
out:
	if (jwt != NULL)
		hw_wipe(jwt, strlen(jwt));
	if (form != NULL)
		hw_wipe(form, strlen(form));
	free(jwt);
	free(form);
	hw_gcp_sa_clear(&sa);
	return rv;
}

static CK_RV header_of(const hw_secret *tok, hw_secret **hdr)
{
	if ((*hdr = hw_secret_new(tok->len + 8)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy((*hdr)->data, "Bearer ", 7);
	memcpy((*hdr)->data + 7, tok->data, tok->len + 1);
	(*hdr)->len = tok->len + 7;
	return CKR_OK;
}

/* The cached token when it is fresh enough (usable: only not expired). */
static CK_RV cached(hw_gcp_auth *a, bool usable, hw_secret **hdr)
{
	time_t now = time(NULL);
	CK_RV rv = CKR_FUNCTION_FAILED;
	pthread_mutex_lock(&a->lock);
	if (a->token != NULL && now < (usable ? a->expires - 10 : a->refresh_at))
		rv = header_of(a->token, hdr);
	pthread_mutex_unlock(&a->lock);
	return rv;
}

CK_RV hw_gcp_auth_header(hw_gcp_auth *a, hw_secret **hdr, hw_cloud_err *e)
{
	hw_secret *tok = NULL;
	long life = 0;
	CK_RV rv;
	*hdr = NULL;
	if (cached(a, false, hdr) == CKR_OK)
		return CKR_OK;
	pthread_mutex_lock(&a->refresh);
	/* another thread may have refreshed while this one waited */
	if (cached(a, false, hdr) == CKR_OK) {
		pthread_mutex_unlock(&a->refresh);
		return CKR_OK;
	}
	const char *file = secure_getenv("GOOGLE_APPLICATION_CREDENTIALS");
	bool sa = file != NULL && file[0] != '\0';
	rv = sa ? from_key_file(a, file, &tok, &life, e) : from_metadata(a, &tok, &life, e);
	if (rv == CKR_OK) {
		time_t now = time(NULL);
		pthread_mutex_lock(&a->lock);
		hw_secret_free(a->token);
		a->token = tok;
		a->expires = now + life;
		a->refresh_at = now + (life > 600 ? life - 300 : life / 2);
		a->kind = sa ? HW_GCP_AUTH_SA : HW_GCP_AUTH_METADATA;
		rv = header_of(tok, hdr);
		pthread_mutex_unlock(&a->lock);
		hw_debug("slot \"%s\" (gcp-kms): new access token from %s, valid %ld s", a->slot,
			 sa ? "the credentials file" : "the metadata server", life);
	} else if (cached(a, true, hdr) == CKR_OK) {
		/* the refresh failed but the old token still works: use it */
		hw_cloud_err_log(a->slot, "gcp-kms", "token refresh", e);
		rv = CKR_OK;
	} else if (e->cause == HW_CLOUD_CONNECTIVITY && !sa) {
		/* no metadata server: not on GCP and no key file */
		char code[sizeof(e->code)];
		snprintf(code, sizeof(code), "%s", e->code);
		hw_cloud_err_set(e, e->rv, HW_CLOUD_CREDENTIALS, code, "no credentials: GOOGLE_APPLICATION_CREDENTIALS "
				 "is unset and the metadata server does not answer");
	}
	pthread_mutex_unlock(&a->refresh);
	return rv;
}
