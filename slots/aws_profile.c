/*
 * The profile part of the AWS credential chain (aws_creds.h): the shared
 * credentials and config files, and what a profile may say there, in the
 * AWS CLI's order: role_arn (STS AssumeRole, signed with the credentials
 * of source_profile or credential_source), IAM Identity Center (sso_*:
 * the token "aws sso login" cached, exchanged at the SSO portal), static
 * keys, credential_process. What these give expires; the chain caches it
 * and asks again shortly before.
 */
#include "slots/aws_creds.h"
#include "slots/aws_sigv4.h"
#include "slots/cloud_slot.h"
#include "slots/cloud_str.h"
#include "common/deadline.h"
#include "common/log.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SOURCE_DEPTH 5          /* source_profile hops before we call it a loop */
#define PROCESS_LIMIT_MS 30000      /* a credential_process's time, within the call's deadline */

/* ---- the files ------------------------------------------------------------------ */
static char *file_path(const char *env, const char *rel)
{
	const char *p = secure_getenv(env), *home = secure_getenv("HOME");
	hw_sb b = { 0 };
	if (p != NULL && p[0] != '\0')
		hw_sb_str(&b, p);
	else if (home != NULL)
		hw_sb_printf(&b, "%s/%s", home, rel);
	else
		return NULL;
	return hw_sb_take(&b);
}

/* The value of key in section [section] of an INI file (malloc'd), or NULL. */
static char *ini_get(const char *path, const char *section, const char *key)
{
	char line[4096], *val = NULL;
	bool in = false;
	FILE *f = path != NULL ? fopen(path, "re") : NULL;
	if (f == NULL)
		return NULL;
	while (val == NULL && fgets(line, sizeof(line), f) != NULL) {
		char *l = hw_aws_trim(line);
		if (l[0] == '#' || l[0] == ';' || l[0] == '\0')
			continue;
		if (l[0] == '[') {
			char *e = strchr(l, ']');
			if (e != NULL)
				*e = '\0';
			in = strcmp(hw_aws_trim(l + 1), section) == 0;
			continue;
		}
		char *eq = strchr(l, '=');
		if (!in || eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(hw_aws_trim(l), key) == 0)
			val = strdup(hw_aws_trim(eq + 1));
	}
	hw_wipe(line, sizeof(line));
	fclose(f);
	return val;
}

static char *config_get(const char *section, const char *key)
{
	char *cf = file_path("AWS_CONFIG_FILE", ".aws/config"), *v = ini_get(cf, section, key);
	free(cf);
	return v;
}

/* key of the profile: the credentials file's [name], then the config
 * file's [profile name] ([default] for the default profile). */
static char *profile_get(const char *profile, const char *key)
{
	char *cf = file_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"), *v = ini_get(cf, profile, key);
	free(cf);
	if (v != NULL)
		return v;
	char section[300];
	if (strcmp(profile, "default") == 0)
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", profile);
	return config_get(section, key);
}

char *hw_aws_profile_region(const char *profile)
{
	return profile_get(profile != NULL ? profile : "default", "region");
}

static CK_RV conf_err(hw_cloud_err *e, const char *profile, const char *what)
{
	hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "", "profile %s: %s", profile, what);
	return e->rv;
}

static CK_RV static_keys(const char *profile, hw_aws_creds *out)
{
	char *ak = profile_get(profile, "aws_access_key_id"), *sk = profile_get(profile, "aws_secret_access_key"),
	     *tk = profile_get(profile, "aws_session_token");
	CK_RV rv = CKR_GENERAL_ERROR;
	if (ak != NULL && sk != NULL) {
		rv = hw_aws_creds_fill(out, ak, sk, tk);
		out->source = "shared files";
	}
	free(ak);
	hw_aws_free_secret_str(sk);
	hw_aws_free_secret_str(tk);
	return rv;
}

/* ---- role_arn: STS AssumeRole signed with the source's credentials ---------- */
typedef struct assume_arg {
	const hw_aws_creds *src;
	const char *url, *host, *body, *region;
	char date[17];
	char *authz;
} assume_arg;

static CK_RV assume_prepare(void *varg, hw_http_req *r, hw_cloud_err *e)
{
	assume_arg *a = varg;
	CK_RV rv;
	free(a->authz);
	a->authz = NULL;
	/* every attempt signs anew: a retry must carry a fresh date */
	hw_sigv4_date(time(NULL), a->date);
	r->method = "POST";
	r->url = a->url;
	r->body = a->body;
	r->body_len = strlen(a->body);
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Host", a->host };
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" };
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "X-Amz-Date", a->date };
	if (a->src->token != NULL)
		r->hdrs[r->nhdrs++] = (hw_http_hdr){ "X-Amz-Security-Token", (const char *)a->src->token->data };
	hw_sigv4_in in = { "POST", "/", NULL, r->hdrs, r->nhdrs, r->body, r->body_len, a->region, "sts", a->date, true };
	if ((rv = hw_sigv4_sign(&in, a->src->akid, (const char *)a->src->secret->data, &a->authz, NULL, NULL)) != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "cannot sign the AssumeRole request");
		return rv;
	}
	r->hdrs[r->nhdrs++] = (hw_http_hdr){ "Authorization", a->authz };
	return CKR_OK;
}

/* "&Name=<value encoded>" when the profile sets key */
static void form_opt(hw_sb *b, const char *profile, const char *key, const char *name)
{
	char *v = profile_get(profile, key), *enc = v != NULL ? hw_aws_uri_encode(v, strlen(v), false) : NULL;
	if (enc != NULL)
		hw_sb_printf(b, "&%s=%s", name, enc);
	else if (v != NULL)
		b->failed = true;
	free(v);
	free(enc);
}

static CK_RV assume_role(hw_aws_chain *ch, const char *profile, const char *role, const hw_aws_creds *src,
			 hw_aws_creds *out, hw_cloud_err *e)
{
	hw_http_resp resp = { 0 };
	hw_sb b = { 0 };
	char *region = profile_get(profile, "region"), *session = profile_get(profile, "role_session_name");
	char *ep = NULL, *url = NULL, *host = NULL, *body = NULL, *enc_role = NULL, *enc_sess = NULL, dflt[40];
	CK_RV rv = CKR_HOST_MEMORY;
	assume_arg a;
	memset(&a, 0, sizeof(a));
	if (session == NULL) {
		/* as the CLI does: a name that says who and when */
		snprintf(dflt, sizeof(dflt), "hwagg-%lld", (long long)time(NULL));
		session = strdup(dflt);
	}
	a.region = region != NULL ? region : ch->region;
	ep = hw_aws_endpoint("AWS_ENDPOINT_URL_STS", "sts", a.region);
	if (session == NULL || ep == NULL)
		goto out;
	if ((host = hw_cloud_authority(ep)) == NULL) {
		rv = conf_err(e, profile, "the STS endpoint must be https://host[:port]");
		goto out;
	}
	hw_sb_printf(&b, "%s/", ep);
	url = hw_sb_take(&b);
	enc_role = hw_aws_uri_encode(role, strlen(role), false);
	enc_sess = hw_aws_uri_encode(session, strlen(session), false);
	if (url == NULL || enc_role == NULL || enc_sess == NULL)
		goto out;
	hw_sb_printf(&b, "Action=AssumeRole&Version=2011-06-15&RoleArn=%s&RoleSessionName=%s", enc_role, enc_sess);
	form_opt(&b, profile, "external_id", "ExternalId");
	form_opt(&b, profile, "duration_seconds", "DurationSeconds");
	if ((body = hw_sb_take(&b)) == NULL)
		goto out;
	a.src = src;
	a.url = url;
	a.host = host;
	a.body = body;
	hw_cloud_call c = { ch->pool, "AssumeRole", true, assume_prepare, hw_aws_classify, &a, 3, 50, 1000, 0, 0 };
	if ((rv = hw_cloud_perform(&c, &resp, e)) == CKR_OK &&
	    (rv = hw_aws_parse_sts_xml(resp.body, resp.len, out)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "STS AssumeRole for profile %s answered without "
				 "usable credentials", profile);
	out->source = "assumed role";
out:
	if (rv == CKR_HOST_MEMORY && e->rv == CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "out of memory");
	hw_http_resp_free(&resp);
	free(a.authz);
	free(region);
	free(session);
	free(ep);
	free(url);
	free(host);
	free(body);
	free(enc_role);
	free(enc_sess);
	return rv;
}

/* ---- sso_*: the token "aws sso login" cached, exchanged at the portal -------- */
static char *sso_cache_path(const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	/* the CLI's cache key: SHA-1 of the sso-session's name (or of the
	 * start URL of a profile without sso_session) */
	if (EVP_Digest(name, strlen(name), md, &ml, EVP_sha1(), NULL) != 1)
		return NULL;
	hw_hex(md, ml, hex);
	const char *home = secure_getenv("HOME");
	hw_sb b = { 0 };
	if (home == NULL)
		return NULL;
	hw_sb_printf(&b, "%s/.aws/sso/cache/%s.json", home, hex);
	return hw_sb_take(&b);
}

static CK_RV sso_token(const char *profile, const char *name, hw_secret **tok, hw_cloud_err *e)
{
	/* on the heap: an application thread's stack may be small */
	const size_t cap = 65536;
	char *buf = malloc(cap);
	time_t exp = 0;
	char *path = sso_cache_path(name);
	FILE *f = path != NULL && buf != NULL ? fopen(path, "re") : NULL;
	CK_RV rv;
	free(path);
	if (buf == NULL) {
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CREDENTIALS, "", "out of memory");
		return e->rv;
	}
	if (f == NULL) {
		free(buf);
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "SSOTokenMissing",
				 "profile %s: no cached SSO token for %s (run: aws sso login --profile %s)", profile, name,
				 profile);
		return e->rv;
	}
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	rv = hw_aws_parse_sso_cache(buf, n, tok, &exp);
	hw_wipe(buf, cap);
	free(buf);
	if (rv != CKR_OK) {
		hw_cloud_err_set(e, rv == CKR_HOST_MEMORY ? rv : CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "SSOTokenInvalid",
				 "profile %s: the cached SSO token is malformed (run: aws sso login --profile %s)", profile,
				 profile);
		return e->rv;
	}
	/* an expired token would only be refused: say so without asking */
	if (exp <= time(NULL)) {
		hw_secret_free(*tok);
		*tok = NULL;
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "SSOTokenExpired",
				 "profile %s: the SSO session expired (run: aws sso login --profile %s)", profile, profile);
		return e->rv;
	}
	return CKR_OK;
}

static CK_RV sso(hw_aws_chain *ch, const char *profile, const char *session, hw_aws_creds *out, hw_cloud_err *e)
{
	hw_http_resp resp = { 0 };
	hw_sb b = { 0 };
	hw_secret *tok = NULL;
	char *start = NULL, *region = NULL, *section = NULL, *ep = NULL, *url = NULL, *ea = NULL, *er = NULL;
	char *account = profile_get(profile, "sso_account_id"), *role = profile_get(profile, "sso_role_name");
	CK_RV rv = CKR_HOST_MEMORY;
	if (session != NULL) {
		hw_sb_printf(&b, "sso-session %s", session);
		if ((section = hw_sb_take(&b)) == NULL)
			goto out;
		start = config_get(section, "sso_start_url");
		region = config_get(section, "sso_region");
	} else {
		start = profile_get(profile, "sso_start_url");
		region = profile_get(profile, "sso_region");
	}
	if (start == NULL || region == NULL || account == NULL || role == NULL) {
		rv = conf_err(e, profile, "IAM Identity Center needs sso_start_url and sso_region (in the profile or its "
			      "sso-session), sso_account_id and sso_role_name");
		goto out;
	}
	if ((rv = sso_token(profile, session != NULL ? session : start, &tok, e)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	ep = hw_aws_endpoint("AWS_ENDPOINT_URL_SSO", "portal.sso", region);
	ea = hw_aws_uri_encode(account, strlen(account), false);
	er = hw_aws_uri_encode(role, strlen(role), false);
	if (ep == NULL || ea == NULL || er == NULL)
		goto out;
	hw_sb_printf(&b, "%s/federation/credentials?role_name=%s&account_id=%s", ep, er, ea);
	if ((url = hw_sb_take(&b)) == NULL)
		goto out;
	/* unsigned: the bearer token is the proof */
	hw_cloud_fixed s = { "GET", url, NULL, { { "x-amz-sso_bearer_token", (const char *)tok->data } }, 1 };
	if ((rv = hw_aws_fixed_call(ch, &s, "GetRoleCredentials", 3, 0, &resp, e)) == CKR_OK &&
	    (rv = hw_aws_parse_sso_json(resp.body, resp.len, out)) != CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "profile %s: the SSO portal answered without usable "
				 "credentials", profile);
	else if (rv != CKR_OK && resp.status == 401)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "UnauthorizedException", "profile %s: the SSO portal "
				 "refused the session (run: aws sso login --profile %s)", profile, profile);
	out->source = "IAM Identity Center";
out:
	if (rv == CKR_HOST_MEMORY && e->rv == CKR_OK)
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "", "out of memory");
	hw_http_resp_free(&resp);
	hw_secret_free(tok);
	free(start);
	free(region);
	free(section);
	free(ep);
	free(url);
	free(ea);
	free(er);
	free(account);
	free(role);
	return rv;
}

/* ---- a profile, and the profiles it names -------------------------------------- */
static CK_RV profile_creds(hw_aws_chain *ch, const char *profile, int depth, hw_aws_creds *out, hw_cloud_err *e);

/* The credentials a role is assumed with: source_profile's (the profile
 * itself when it names itself: its static keys) or credential_source's. */
static CK_RV role_source(hw_aws_chain *ch, const char *profile, int depth, hw_aws_creds *src, hw_cloud_err *e)
{
	char *sp = profile_get(profile, "source_profile"), *cs = profile_get(profile, "credential_source"),
	     *mfa = profile_get(profile, "mfa_serial"), *wi = profile_get(profile, "web_identity_token_file");
	CK_RV rv;
	if (mfa != NULL || wi != NULL) {
		/* an MFA code needs a prompt a PKCS#11 module does not have */
		hw_cloud_err_set(e, CKR_FUNCTION_NOT_SUPPORTED, HW_CLOUD_CONFIG, "", "profile %s: %s is not supported",
				 profile, mfa != NULL ? "mfa_serial (a role asked with an MFA code)" : "web_identity_token_file");
		rv = e->rv;
	} else if ((sp != NULL) == (cs != NULL))
		rv = conf_err(e, profile, "role_arn needs exactly one of source_profile and credential_source");
	else if (sp != NULL && strcmp(sp, profile) == 0)
		rv = static_keys(profile, src);
	else if (sp != NULL && depth + 1 >= MAX_SOURCE_DEPTH)
		rv = conf_err(e, profile, "source_profile names profiles in a loop (or too many in a row)");
	else if (sp != NULL)
		rv = profile_creds(ch, sp, depth + 1, src, e);
	else if (strcmp(cs, "Environment") == 0)
		rv = hw_aws_source(ch, HW_AWS_SRC_ENV, src, e);
	else if (strcmp(cs, "EcsContainer") == 0)
		rv = hw_aws_source(ch, HW_AWS_SRC_CONTAINER, src, e);
	else if (strcmp(cs, "Ec2InstanceMetadata") == 0)
		rv = hw_aws_source(ch, HW_AWS_SRC_IMDS, src, e);
	else
		rv = conf_err(e, profile, "credential_source: expected Environment, EcsContainer or Ec2InstanceMetadata");
	if (rv == CKR_GENERAL_ERROR)
		rv = conf_err(e, profile, sp != NULL ? "its source_profile gives no credentials"
				     : "its credential_source gives no credentials");
	free(sp);
	free(cs);
	free(mfa);
	free(wi);
	return rv;
}

static CK_RV profile_creds(hw_aws_chain *ch, const char *profile, int depth, hw_aws_creds *out, hw_cloud_err *e)
{
	char *role = profile_get(profile, "role_arn"), *session = profile_get(profile, "sso_session"),
	     *sso_url = profile_get(profile, "sso_start_url"), *proc = NULL;
	hw_aws_creds src;
	CK_RV rv;
	memset(&src, 0, sizeof(src));
	if (role != NULL) {
		if ((rv = role_source(ch, profile, depth, &src, e)) == CKR_OK)
			rv = assume_role(ch, profile, role, &src, out, e);
	} else if (session != NULL || sso_url != NULL) {
		rv = sso(ch, profile, session, out, e);
	} else if ((rv = static_keys(profile, out)) == CKR_GENERAL_ERROR &&
		   (proc = profile_get(profile, "credential_process")) != NULL) {
		int left = hw_deadline_left_ms(PROCESS_LIMIT_MS);
		rv = hw_aws_process_creds(profile, proc, left < PROCESS_LIMIT_MS ? left : PROCESS_LIMIT_MS, out, e);
	}
	hw_aws_creds_clear(&src);
	free(role);
	free(session);
	free(sso_url);
	free(proc);
	return rv;
}

CK_RV hw_aws_profile_creds(hw_aws_chain *ch, hw_aws_creds *out, hw_cloud_err *e)
{
	return profile_creds(ch, ch->profile, 0, out, e);
}
