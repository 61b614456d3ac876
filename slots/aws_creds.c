/*
 * The AWS credential chain (aws_creds.h): each source in the SDKs' order,
 * the cache and its refresh.
 */
#include "slots/aws_creds.h"
#include "slots/aws_sigv4.h"
#include "slots/cloud_str.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REFRESH_BEFORE_S 300    /* refresh this long before expiry */
#define USABLE_FOR_S 60         /* below this, a caller waits for the refresh */

CK_RV hw_aws_chain_init(hw_aws_chain *ch, const char *slot, const char *profile, const char *region,
			hw_http_pool *pool)
{
	memset(ch, 0, sizeof(*ch));
	ch->slot = slot;
	ch->pool = pool;
	ch->explicit_profile = profile != NULL;
	if (profile == NULL && (profile = secure_getenv("AWS_PROFILE")) == NULL)
		profile = "default";
	if ((ch->profile = strdup(profile)) == NULL || (ch->region = strdup(region != NULL ? region : "us-east-1")) == NULL) {
		free(ch->profile);
		return CKR_HOST_MEMORY;
	}
	pthread_mutex_init(&ch->lock, NULL);
	pthread_mutex_init(&ch->refresh, NULL);
	return CKR_OK;
}

CK_RV hw_aws_chain_set_region(hw_aws_chain *ch, const char *region)
{
	char *r = strdup(region);
	if (r == NULL)
		return CKR_HOST_MEMORY;
	/* STS requests read it only while refreshing */
	pthread_mutex_lock(&ch->refresh);
	free(ch->region);
	ch->region = r;
	pthread_mutex_unlock(&ch->refresh);
	return CKR_OK;
}

void hw_aws_chain_fini(hw_aws_chain *ch, bool forked)
{
	hw_aws_creds_clear(&ch->cur);
	free(ch->profile);
	free(ch->region);
	if (!forked) {
		pthread_mutex_destroy(&ch->lock);
		pthread_mutex_destroy(&ch->refresh);
	}
	memset(ch, 0, sizeof(*ch));
}

/* ---- environment ------------------------------------------------------------ */
static CK_RV from_env(hw_aws_creds *out)
{
	const char *ak = secure_getenv("AWS_ACCESS_KEY_ID"), *sk = secure_getenv("AWS_SECRET_ACCESS_KEY"),
		   *tk = secure_getenv("AWS_SESSION_TOKEN");
	if (ak == NULL || sk == NULL || ak[0] == '\0' || sk[0] == '\0')
		return CKR_GENERAL_ERROR;       /* not this source */
	CK_RV rv = hw_aws_creds_fill(out, ak, sk, tk != NULL && tk[0] != '\0' ? tk : NULL);
	out->source = "environment";
	return rv;
}

char *hw_aws_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

void hw_aws_free_secret_str(char *s)
{
	if (s != NULL) {
		hw_wipe(s, strlen(s));
		free(s);
	}
}

/* ---- over HTTP: STS, container, instance metadata ----------------------------- */
hw_retry_class hw_aws_classify(void *arg, const hw_http_resp *resp, hw_cloud_err *e)
{
	char code[64], msg[160];
	if (resp->status >= 200 && resp->status < 300) {
		e->rv = CKR_OK;
		return HW_RETRY_DONE;
	}
	hw_aws_parse_error(resp->body, resp->len, resp->error_type, code, sizeof(code), msg, sizeof(msg));
	hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, code[0] ? code : "http",
			 "HTTP %ld from the credential source: %s", resp->status, msg);
	if (resp->status == 429 || strcmp(code, "Throttling") == 0)
		return HW_RETRY_THROTTLED;
	if (resp->status >= 500 || strcmp(code, "IDPCommunicationError") == 0)
		return HW_RETRY_TRANSIENT;
	return HW_RETRY_DONE;
}

CK_RV hw_aws_fixed_call(hw_aws_chain *ch, hw_cloud_fixed *s, const char *op, int attempts, int attempt_ms,
			hw_http_resp *resp, hw_cloud_err *e)
{
	hw_cloud_call c = { ch->pool, op, true, hw_cloud_fixed_prepare, hw_aws_classify, s, attempts, 50, 1000, 0, attempt_ms };
	return hw_cloud_perform(&c, resp, e);
}

char *hw_aws_read_file(const char *path, hw_cloud_err *e)
{
	char buf[16384];
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "cannot read the token file %s", path);
		return NULL;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *t = strdup(hw_aws_trim(buf));
	hw_wipe(buf, sizeof(buf));
	if (t == NULL)
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONFIG, "", "out of memory");
	return t;
}

char *hw_aws_endpoint(const char *service_env, const char *prefix, const char *region)
{
	const char *u = service_env != NULL ? secure_getenv(service_env) : NULL;
	hw_sb b = { 0 };
	if (u == NULL || u[0] == '\0')
		u = secure_getenv("AWS_ENDPOINT_URL");
	if (u != NULL && u[0] != '\0')
		hw_sb_str(&b, u);
	else
		hw_sb_printf(&b, "https://%s.%s.amazonaws.com", prefix, region);
	char *s = hw_sb_take(&b);
	/* requests go to "<endpoint>/" */
	if (s != NULL && s[0] != '\0' && s[strlen(s) - 1] == '/')
		s[strlen(s) - 1] = '\0';
	return s;
}

static CK_RV from_web_identity(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	const char *file = secure_getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = secure_getenv("AWS_ROLE_ARN"),
		   *session = secure_getenv("AWS_ROLE_SESSION_NAME");
	hw_http_resp resp = { 0 };
	hw_sb b = { 0 };
	char *url = NULL, *body = NULL, *tok = NULL, *enc_role = NULL, *enc_tok = NULL, *enc_sess = NULL;
	CK_RV rv;
	if (file == NULL || role == NULL || file[0] == '\0' || role[0] == '\0')
		return CKR_GENERAL_ERROR;
	if (session == NULL || session[0] == '\0')
		session = "hwagg";
	/* read again on every refresh: kubelet rotates the file */
	if ((tok = hw_aws_read_file(file, e)) == NULL)
		return e->rv;
	url = hw_aws_endpoint("AWS_ENDPOINT_URL_STS", "sts", ch->region);
	enc_role = hw_aws_uri_encode(role, strlen(role), false);
	enc_tok = hw_aws_uri_encode(tok, strlen(tok), false);
	enc_sess = hw_aws_uri_encode(session, strlen(session), false);
	if (url == NULL || enc_role == NULL || enc_tok == NULL || enc_sess == NULL) {
		rv = CKR_HOST_MEMORY;
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "out of memory");
		goto out;
	}
	hw_sb_printf(&b, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=%s&RoleSessionName=%s"
		     "&WebIdentityToken=%s", enc_role, enc_sess, enc_tok);
	if ((body = hw_sb_take(&b)) == NULL) {
		rv = CKR_HOST_MEMORY;
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "out of memory");
		goto out;
	}
	hw_sb_printf(&b, "%s/", url);
	char *full = hw_sb_take(&b);
	/* the call is unsigned: the token is the proof */
	hw_cloud_fixed s = { "POST", full, body, { { "Content-Type", "application/x-www-form-urlencoded" } }, 1 };
	rv = full == NULL ? CKR_HOST_MEMORY : hw_aws_fixed_call(ch, &s, "AssumeRoleWithWebIdentity", 3, 0, &resp, e);
	free(full);
	if (rv == CKR_OK && (rv = hw_aws_parse_sts_xml(resp.body, resp.len, out)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "STS answered without usable credentials");
	out->source = "web identity";
out:
	hw_http_resp_free(&resp);
	free(url);
	hw_aws_free_secret_str(body);
	hw_aws_free_secret_str(tok);
	hw_aws_free_secret_str(enc_tok);
	free(enc_role);
	free(enc_sess);
	return rv;
}

/* A full container-credentials URI over plain HTTP must stay on the host
 * or the link-local agent, as the SDKs require. */
static bool container_host_ok(const char *url)
{
	static const char *const ok[] = { "http://127.", "http://localhost:", "http://localhost/", "http://[::1]",
					  "http://169.254.170.2/", "http://169.254.170.2:", "http://169.254.170.23/",
					  "http://169.254.170.23:", "http://[fd00:ec2::23]", "https://" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncasecmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

static CK_RV from_container(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	const char *rel = secure_getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
		   *full = secure_getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
		   *tfile = secure_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
		   *tval = secure_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	hw_http_resp resp = { 0 };
	hw_sb b = { 0 };
	char *auth = NULL, *url;
	CK_RV rv;
	if (rel != NULL && rel[0] != '\0')
		hw_sb_printf(&b, "http://169.254.170.2%s", rel);
	else if (full != NULL && full[0] != '\0')
		hw_sb_str(&b, full);
	else
		return CKR_GENERAL_ERROR;
	if ((url = hw_sb_take(&b)) == NULL)
		return CKR_HOST_MEMORY;
	if (!container_host_ok(url)) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "",
				 "AWS_CONTAINER_CREDENTIALS_FULL_URI must be HTTPS or a loopback or ECS/EKS agent address");
		free(url);
		return e->rv;
	}
	if (tfile != NULL && tfile[0] != '\0') {
		if ((auth = hw_aws_read_file(tfile, e)) == NULL) {
			free(url);
			return e->rv;
		}
	} else if (tval != NULL && tval[0] != '\0' && (auth = strdup(tval)) == NULL) {
		free(url);
		return CKR_HOST_MEMORY;
	}
	hw_cloud_fixed s = { "GET", url, NULL, { { "Authorization", auth } }, auth != NULL ? 1 : 0 };
	rv = hw_aws_fixed_call(ch, &s, "container credentials", 3, 2000, &resp, e);
	if (rv == CKR_OK && (rv = hw_aws_parse_cred_json(resp.body, resp.len, out)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "the container agent answered without usable credentials");
	out->source = "container";
	hw_http_resp_free(&resp);
	free(url);
	hw_aws_free_secret_str(auth);
	return rv;
}

/* An IMDSv2 session: the service's base URL and a session token (PUT). */
typedef struct imds {
	const char *base;
	int bl;
	char *token;
} imds;

/* CKR_GENERAL_ERROR when instance metadata is turned off. */
static CK_RV imds_open(hw_aws_chain *ch, imds *m, hw_cloud_err *e)
{
	const char *dis = secure_getenv("AWS_EC2_METADATA_DISABLED");
	hw_http_resp resp = { 0 };
	hw_sb b = { 0 };
	char *url;
	CK_RV rv;
	memset(m, 0, sizeof(*m));
	if (dis != NULL && strcasecmp(dis, "true") == 0)
		return CKR_GENERAL_ERROR;
	m->base = secure_getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (m->base == NULL || m->base[0] == '\0')
		m->base = "http://169.254.169.254";
	m->bl = (int)strlen(m->base);
	if (m->bl > 0 && m->base[m->bl - 1] == '/')
		m->bl--;
	hw_sb_printf(&b, "%.*s/latest/api/token", m->bl, m->base);
	if ((url = hw_sb_take(&b)) == NULL)
		return CKR_HOST_MEMORY;
	hw_cloud_fixed put = { "PUT", url, NULL, { { "X-aws-ec2-metadata-token-ttl-seconds", "21600" } }, 1 };
	/* short: off EC2 nothing answers, and the caller is waiting */
	if ((rv = hw_aws_fixed_call(ch, &put, "instance metadata token", 2, 1000, &resp, e)) == CKR_OK &&
	    (m->token = strdup(hw_aws_trim(resp.body))) == NULL)
		rv = CKR_HOST_MEMORY;
	hw_http_resp_free(&resp);
	free(url);
	return rv;
}

static CK_RV imds_get(hw_aws_chain *ch, imds *m, const char *path, const char *what, hw_http_resp *resp,
		      hw_cloud_err *e)
{
	hw_sb b = { 0 };
	char *url;
	hw_sb_printf(&b, "%.*s/latest/meta-data/%s", m->bl, m->base, path);
	if ((url = hw_sb_take(&b)) == NULL)
		return CKR_HOST_MEMORY;
	hw_cloud_fixed get = { "GET", url, NULL, { { "X-aws-ec2-metadata-token", m->token } }, 1 };
	CK_RV rv = hw_aws_fixed_call(ch, &get, what, 2, 1000, resp, e);
	free(url);
	return rv;
}

static void imds_close(imds *m)
{
	hw_aws_free_secret_str(m->token);
	m->token = NULL;
}

static CK_RV from_imds(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	hw_http_resp resp = { 0 };
	char path[300], role[256];
	imds m;
	/* IMDSv2: a session token first (PUT), then the role, then its keys */
	CK_RV rv = imds_open(ch, &m, e);
	if (rv == CKR_GENERAL_ERROR)
		return rv;
	if (rv != CKR_OK ||
	    (rv = imds_get(ch, &m, "iam/security-credentials/", "instance metadata role", &resp, e)) != CKR_OK)
		goto out;
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(resp.body, "\r\n"), resp.body);
	if (role[0] == '\0' || strchr(role, '/') != NULL || strchr(role, '?') != NULL) {
		rv = CKR_DEVICE_ERROR;
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "the instance has no usable IAM role");
		goto out;
	}
	snprintf(path, sizeof(path), "iam/security-credentials/%s", role);
	if ((rv = imds_get(ch, &m, path, "instance metadata credentials", &resp, e)) != CKR_OK)
		goto out;
	if ((rv = hw_aws_parse_cred_json(resp.body, resp.len, out)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "instance metadata answered without usable credentials");
	out->source = "instance metadata";
out:
	if (rv != CKR_OK && e->rv == CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "out of memory");
	hw_http_resp_free(&resp);
	imds_close(&m);
	return rv;
}

bool hw_aws_region_ok(const char *r)
{
	if (r == NULL || r[0] == '\0' || strlen(r) > 40)
		return false;
	for (const char *p = r; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

CK_RV hw_aws_imds_region(hw_aws_chain *ch, char **region, hw_cloud_err *e)
{
	hw_http_resp resp = { 0 };
	imds m;
	*region = NULL;
	memset(e, 0, sizeof(*e));
	CK_RV rv = imds_open(ch, &m, e);
	if (rv == CKR_OK && (rv = imds_get(ch, &m, "placement/region", "instance metadata region", &resp, e)) == CKR_OK) {
		char *r = hw_aws_trim(resp.body);
		if (!hw_aws_region_ok(r)) {
			rv = CKR_DEVICE_ERROR;
			hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "NoRegion", "instance metadata answered no region name");
		} else if ((*region = strdup(r)) == NULL) {
			rv = CKR_HOST_MEMORY;
		}
	}
	if (rv == CKR_GENERAL_ERROR || (rv != CKR_OK && e->cause == HW_CLOUD_CONNECTIVITY))
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "NoRegion", "no region: set the slot's \"region\", "
				 "AWS_REGION or the profile's region (no instance metadata service answered)");
	else if (rv != CKR_OK && e->rv == CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "out of memory");
	hw_http_resp_free(&resp);
	imds_close(&m);
	return rv == CKR_OK ? CKR_OK : e->rv;
}

CK_RV hw_aws_source(hw_aws_chain *ch, hw_aws_src src, hw_aws_creds *out, hw_cloud_err *e)
{
	switch (src) {
	case HW_AWS_SRC_ENV:
		return from_env(out);
	case HW_AWS_SRC_CONTAINER:
		return from_container(ch, out, e);
	case HW_AWS_SRC_IMDS:
		return from_imds(ch, out, e);
	}
	return CKR_GENERAL_ERROR;
}

/* ---- the chain ------------------------------------------------------------------ */
/* The first source that applies gives the answer (its failure included),
 * as in the SDKs: a broken web identity setup is not papered over by
 * falling through to the instance's role. */
static CK_RV resolve(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	CK_RV rv = CKR_GENERAL_ERROR;
	memset(e, 0, sizeof(*e));
	memset(out, 0, sizeof(*out));
	if (!ch->explicit_profile)
		rv = from_env(out);
	if (rv == CKR_GENERAL_ERROR)
		rv = hw_aws_profile_creds(ch, out, e);
	if (rv == CKR_GENERAL_ERROR)
		rv = from_web_identity(ch, out, e);
	if (rv == CKR_GENERAL_ERROR)
		rv = from_container(ch, out, e);
	if (rv == CKR_GENERAL_ERROR && (rv = from_imds(ch, out, e)) != CKR_OK && rv != CKR_GENERAL_ERROR &&
	    e->cause == HW_CLOUD_CONNECTIVITY)
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "NoCredentials",
				 "no credentials in the environment, the shared files (profile %s), web identity or "
				 "the container, and no instance metadata service answered", ch->profile);
	if (rv == CKR_GENERAL_ERROR)
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "NoCredentials",
				 "no credentials found (profile %s)", ch->profile);
	else if (rv != CKR_OK && e->rv == CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "the %s credentials are malformed",
				 out->source != NULL ? out->source : "configured");
	if (rv != CKR_OK) {
		hw_aws_creds_clear(out);
		return e->rv;
	}
	return CKR_OK;
}

static bool fresh(const hw_aws_creds *c, time_t now, int margin)
{
	return c->expires == 0 || now + margin < c->expires;
}

CK_RV hw_aws_chain_get(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	CK_RV rv = CKR_OK;
	time_t now = time(NULL);
	bool usable;
	memset(out, 0, sizeof(*out));
	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(&ch->lock);
	usable = ch->have && fresh(&ch->cur, now, USABLE_FOR_S);
	if (ch->have && fresh(&ch->cur, now, REFRESH_BEFORE_S)) {
		rv = hw_aws_creds_copy(out, &ch->cur);
		pthread_mutex_unlock(&ch->lock);
		return rv;
	}
	pthread_mutex_unlock(&ch->lock);
	/* still good for a while: whoever gets the refresh lock refreshes,
	 * everyone else signs with what is cached */
	if (usable && pthread_mutex_trylock(&ch->refresh) != 0)
		goto cached;
	if (!usable)
		pthread_mutex_lock(&ch->refresh);
	pthread_mutex_lock(&ch->lock);
	bool done = ch->have && fresh(&ch->cur, time(NULL), REFRESH_BEFORE_S);
	pthread_mutex_unlock(&ch->lock);
	if (!done) {
		hw_aws_creds n;
		if ((rv = resolve(ch, &n, e)) == CKR_OK) {
			hw_info("slot \"%s\" (aws-kms): credentials from %s%s", ch->slot, n.source,
				n.expires ? ", refreshed before they expire" : "");
			pthread_mutex_lock(&ch->lock);
			hw_aws_creds_clear(&ch->cur);
			ch->cur = n;
			ch->have = true;
			pthread_mutex_unlock(&ch->lock);
		} else if (usable) {
			hw_warn("slot \"%s\" (aws-kms): refreshing the credentials failed (%s: %s); the cached ones "
				"stay in use until they expire", ch->slot, e->code, e->detail);
		}
	}
	pthread_mutex_unlock(&ch->refresh);
	if (rv != CKR_OK && !usable)
		return rv;
cached:
	pthread_mutex_lock(&ch->lock);
	if (ch->have && fresh(&ch->cur, time(NULL), 0)) {
		rv = hw_aws_creds_copy(out, &ch->cur);
	} else {
		if (e->rv == CKR_OK)
			hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "ExpiredToken", "the credentials expired");
		rv = e->rv;
	}
	pthread_mutex_unlock(&ch->lock);
	return rv;
}

void hw_aws_chain_invalidate(hw_aws_chain *ch)
{
	pthread_mutex_lock(&ch->lock);
	if (ch->have)
		ch->cur.expires = 1;   /* expired: the next get resolves again */
	pthread_mutex_unlock(&ch->lock);
}
