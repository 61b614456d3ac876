/*
 * Parsers of what Google answers the gcp-kms slot: key and version
 * listings (with hwagg's labels), error bodies, OAuth, STS and IAM token
 * answers, service-account, external_account and authorized_user files, public keys (PEM with CRC32C), signatures and
 * plaintexts with their CRC32C. Pure functions over untrusted bytes
 * (fuzz/gcp_parse.c runs them): every length is checked, nothing is
 * assumed NUL-terminated, every integrity field is verified before a byte
 * of what it protects is used.
 */
#include "slots/gcp_kms.h"
#include "slots/aws_creds.h"         /* hw_aws_parse_time: RFC 3339 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool hw_gcp_crc_field(json_object *o, const char *key, uint32_t *out)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		if (n < 0 || n > (int64_t)UINT32_MAX)
			return false;
		*out = (uint32_t)n;
		return true;
	}
	/* proto3 JSON writes int64 as a decimal string */
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 10)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

static int hexv(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Labels prefix-0, prefix-1, ... joined and hex-decoded into out (at most
 * max bytes); -1 when absent or not hwagg's encoding. */
static long chunks(json_object *labels, const char *prefix, unsigned char *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < 16; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%s-%d", prefix, i);
		const char *v = hw_cloud_jstr(labels, key);
		if (v == NULL)
			return i == 0 ? -1 : (long)n;
		size_t l = strlen(v);
		if (l % 2 != 0 || l / 2 > max - n)
			return -1;
		for (size_t j = 0; j < l; j += 2) {
			int hi = hexv(v[j]), lo = hexv(v[j + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			out[n++] = (unsigned char)(hi * 16 + lo);
		}
	}
	return (long)n;
}

void hw_gcp_labels_apply(json_object *labels, hw_gcp_item *it)
{
	unsigned char buf[HW_GCP_LABEL_MAX];
	const char *mark = hw_cloud_jstr(labels, HW_GCP_LABEL_MARK);
	it->ours = mark != NULL && strcmp(mark, "pkcs11") == 0;
	long n = chunks(labels, "label", buf, sizeof(buf));
	free(it->label);
	it->label = n >= 0 ? strndup((const char *)buf, (size_t)n) : NULL;
	n = chunks(labels, "id", it->id, sizeof(it->id));
	it->id_len = n > 0 ? (size_t)n : 0;
}

void hw_gcp_list_free(hw_gcp_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].alg);
		free(l->items[i].state);
		free(l->items[i].label);
	}
	free(l->items);
	free(l->next);
	memset(l, 0, sizeof(*l));
}

static CK_RV parse_list(const char *body, size_t len, const char *field, bool versions, hw_gcp_list *out)
{
	json_object *o = hw_cloud_json_parse(body, len), *arr, *labels;
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(out, 0, sizeof(*out));
	if (o == NULL)
		return CKR_DEVICE_ERROR;
	/* an empty listing has no array at all */
	size_t n = json_object_object_get_ex(o, field, &arr) && json_object_is_type(arr, json_type_array) ?
		   json_object_array_length(arr) : 0;
	if (n > 0 && (out->items = calloc(n, sizeof(*out->items))) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *name = hw_cloud_jstr(e, "name");
		if (name == NULL)
			continue;
		hw_gcp_item *it = &out->items[out->n];
		memset(it, 0, sizeof(*it));
		if ((it->name = strdup(name)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		out->n++;
		if (versions) {
			const char *alg = hw_cloud_jstr(e, "algorithm"), *state = hw_cloud_jstr(e, "state");
			if ((alg != NULL && (it->alg = strdup(alg)) == NULL) ||
			    (state != NULL && (it->state = strdup(state)) == NULL)) {
				rv = CKR_HOST_MEMORY;
				goto out;
			}
		} else if (json_object_object_get_ex(e, "labels", &labels) && json_object_is_type(labels, json_type_object)) {
			hw_gcp_labels_apply(labels, it);
		}
	}
	const char *next = hw_cloud_jstr(o, "nextPageToken");
	if (next != NULL && next[0] != '\0' && (out->next = strdup(next)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = CKR_OK;
out:
	json_object_put(o);
	if (rv != CKR_OK)
		hw_gcp_list_free(out);
	return rv;
}

CK_RV hw_gcp_parse_keys(const char *body, size_t len, hw_gcp_list *out)
{
	return parse_list(body, len, "cryptoKeys", false, out);
}

CK_RV hw_gcp_parse_versions(const char *body, size_t len, hw_gcp_list *out)
{
	return parse_list(body, len, "cryptoKeyVersions", true, out);
}

CK_RV hw_gcp_parse_version(const char *body, size_t len, char **state, char **alg)
{
	json_object *o = hw_cloud_json_parse(body, len);
	const char *s = hw_cloud_jstr(o, "state"), *a = hw_cloud_jstr(o, "algorithm");
	CK_RV rv = CKR_DEVICE_ERROR;
	*state = *alg = NULL;
	if (s != NULL && a != NULL) {
		*state = strdup(s);
		*alg = strdup(a);
		rv = *state != NULL && *alg != NULL ? CKR_OK : CKR_HOST_MEMORY;
		if (rv != CKR_OK) {
			free(*state);
			free(*alg);
			*state = *alg = NULL;
		}
	}
	json_object_put(o);
	return rv;
}

void hw_gcp_parse_error(const char *body, size_t len, char *status, size_t status_len, char *msg,
			size_t msg_len, char *request_id, size_t rid_len)
{
	json_object *o = hw_cloud_json_parse(body, len), *err = NULL, *details;
	status[0] = msg[0] = request_id[0] = '\0';
	if (o == NULL || !json_object_object_get_ex(o, "error", &err) || !json_object_is_type(err, json_type_object)) {
		json_object_put(o);
		return;
	}
	const char *s = hw_cloud_jstr(err, "status"), *m = hw_cloud_jstr(err, "message");
	snprintf(status, status_len, "%s", s != NULL ? s : "");
	snprintf(msg, msg_len, "%s", m != NULL ? m : "");
	size_t n = json_object_object_get_ex(err, "details", &details) && json_object_is_type(details, json_type_array) ?
		   json_object_array_length(details) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(details, i);
		const char *type = hw_cloud_jstr(d, "@type"), *rid = hw_cloud_jstr(d, "requestId");
		if (type != NULL && strstr(type, "google.rpc.RequestInfo") != NULL && rid != NULL) {
			snprintf(request_id, rid_len, "%s", rid);
			break;
		}
	}
	json_object_put(o);
}

/* A token goes into a header or a form: printable, no spaces. */
static bool token_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* A string in secret memory, NUL-terminated (hw_secret_new zeroes). */
static hw_secret *secret_copy(const char *t, size_t tl)
{
	hw_secret *s = hw_secret_new(tl + 1);
	if (s != NULL) {
		memcpy(s->data, t, tl);
		s->len = tl;
	}
	return s;
}

/* The same, and the parsed document's copy wiped. */
static hw_secret *secret_of(const char *t, size_t tl)
{
	hw_secret *s = secret_copy(t, tl);
	hw_wipe((void *)t, tl);
	return s;
}

/* An answer's access token t (json-c's copy, wiped here) valid for life
 * seconds (0: no usable lifetime). */
static CK_RV token_out(const char *t, long life, hw_secret **token, long *out)
{
	size_t tl = t != NULL ? strlen(t) : 0;
	bool ok = t != NULL && token_ok(t, tl, 8192) && life > 0 && life <= 86400 * 7;
	if (!ok) {
		if (t != NULL)
			hw_wipe((void *)t, tl);
		return CKR_DEVICE_ERROR;
	}
	if ((*token = secret_of(t, tl)) == NULL)
		return CKR_HOST_MEMORY;
	*out = life;
	return CKR_OK;
}

CK_RV hw_gcp_parse_token(const char *body, size_t len, hw_secret **token, long *expires_in)
{
	json_object *o = hw_cloud_json_parse(body, len), *v;
	const char *t = hw_cloud_jstr(o, "access_token"), *type = hw_cloud_jstr(o, "token_type");
	long life = 0;
	*token = NULL;
	*expires_in = 0;
	if (json_object_object_get_ex(o, "expires_in", &v) && json_object_is_type(v, json_type_int)) {
		int64_t e = json_object_get_int64(v);
		life = e > 0 && e <= 86400 * 7 ? (long)e : 0;
	}
	if (type != NULL && strcasecmp(type, "Bearer") != 0)
		life = 0;
	CK_RV rv = token_out(t, life, token, expires_in);
	json_object_put(o);
	return rv;
}

CK_RV hw_gcp_parse_iam_token(const char *body, size_t len, time_t now, hw_secret **token, long *life)
{
	json_object *o = hw_cloud_json_parse(body, len);
	time_t exp = hw_aws_parse_time(hw_cloud_jstr(o, "expireTime"));
	*token = NULL;
	*life = 0;
	CK_RV rv = token_out(hw_cloud_jstr(o, "accessToken"), exp != (time_t)-1 && exp > now ? (long)(exp - now) : 0,
			     token, life);
	json_object_put(o);
	return rv;
}

void hw_gcp_sa_clear(hw_gcp_sa *sa)
{
	hw_secret_free(sa->pem);
	memset(sa, 0, sizeof(*sa));
}

static bool copy_field(json_object *o, const char *key, char *dst, size_t len)
{
	const char *v = hw_cloud_jstr(o, key);
	if (v == NULL || strlen(v) >= len)
		return false;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
	snprintf(dst, len, "%s", v);
	return true;
}

CK_RV hw_gcp_parse_sa(const char *body, size_t len, hw_gcp_sa *out)
{
	json_object *o = hw_cloud_json_parse(body, len);
	CK_RV rv = CKR_DEVICE_ERROR;
	const char *pem;
	memset(out, 0, sizeof(*out));
	if (o == NULL || !copy_field(o, "type", out->type, sizeof(out->type)))
		goto out;
	if (strcmp(out->type, "service_account") != 0) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;        /* external_account, authorized_user, ... */
		goto out;
	}
	if (!copy_field(o, "client_email", out->email, sizeof(out->email)) ||
	    !copy_field(o, "token_uri", out->token_uri, sizeof(out->token_uri)) ||
	    (pem = hw_cloud_jstr(o, "private_key")) == NULL || strstr(pem, "-----BEGIN PRIVATE KEY-----") == NULL)
		goto out;
	/* the key id is only a hint for the token endpoint */
	if (!copy_field(o, "private_key_id", out->key_id, sizeof(out->key_id)))
		out->key_id[0] = '\0';
	if ((out->pem = hw_secret_dup(pem, strlen(pem) + 1)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	out->pem->len = strlen(pem);
	hw_wipe((void *)pem, strlen(pem));
	rv = CKR_OK;
out:
	json_object_put(o);
	if (rv != CKR_OK)
		hw_gcp_sa_clear(out);
	return rv;
}

void hw_gcp_ext_clear(hw_gcp_ext *x)
{
	hw_secret_free(x->client_secret);
	hw_secret_free(x->refresh_token);
	memset(x, 0, sizeof(*x));
}

/* A member that is a secret (client_secret, refresh_token): a plain token. */
static bool secret_field(json_object *o, const char *key, hw_secret **out)
{
	const char *v = hw_cloud_jstr(o, key);
	if (v == NULL || !token_ok(v, strlen(v), 4096))
		return false;
	return (*out = secret_of(v, strlen(v))) != NULL;
}

static bool is_https(const char *url)
{
	return strncmp(url, "https://", 8) == 0;
}

static CK_RV parse_user(json_object *o, hw_gcp_ext *out)
{
	out->user = true;
	if (!copy_field(o, "client_id", out->client_id, sizeof(out->client_id)) ||
	    !secret_field(o, "client_secret", &out->client_secret) ||
	    !secret_field(o, "refresh_token", &out->refresh_token))
		return CKR_DEVICE_ERROR;
	/* gcloud writes no token_uri: Google's own endpoint */
	if (!copy_field(o, "token_uri", out->token_uri, sizeof(out->token_uri)))
		snprintf(out->token_uri, sizeof(out->token_uri), "https://oauth2.googleapis.com/token");
	return is_https(out->token_uri) ? CKR_OK : CKR_DEVICE_ERROR;
}

static CK_RV parse_source(json_object *cs, hw_gcp_ext *out)
{
	json_object *fmt, *hdrs;
	if (!json_object_is_type(cs, json_type_object))
		return CKR_DEVICE_ERROR;
	/* AWS (environment_id "aws1": a SigV4-signed GetCallerIdentity) and
	 * executable sources are not read here */
	if (json_object_object_get_ex(cs, "environment_id", NULL) || json_object_object_get_ex(cs, "executable", NULL))
		return CKR_FUNCTION_NOT_SUPPORTED;
	bool file = copy_field(cs, "file", out->source_file, sizeof(out->source_file));
	bool url = copy_field(cs, "url", out->source_url, sizeof(out->source_url));
	if (file == url)
		return CKR_DEVICE_ERROR;
	if (url && strncmp(out->source_url, "http://", 7) != 0 && !is_https(out->source_url))
		return CKR_DEVICE_ERROR;
	if (json_object_object_get_ex(cs, "format", &fmt)) {
		char type[16];
		if (!copy_field(fmt, "type", type, sizeof(type)))
			return CKR_DEVICE_ERROR;
		if (strcmp(type, "json") == 0) {
			out->source_json = true;
			if (!copy_field(fmt, "subject_token_field_name", out->source_field, sizeof(out->source_field)))
				return CKR_DEVICE_ERROR;
		} else if (strcmp(type, "text") != 0) {
			return CKR_DEVICE_ERROR;
		}
	}
	if (json_object_object_get_ex(cs, "headers", &hdrs)) {
		if (!url || !json_object_is_type(hdrs, json_type_object))
			return CKR_DEVICE_ERROR;
		json_object_object_foreach(hdrs, k, v) {
			size_t i = out->nhdrs;
			const char *val = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
			if (i >= HW_GCP_EXT_HDRS || val == NULL || strlen(k) == 0 || strlen(k) >= sizeof(out->hdr_name[i]) ||
			    strlen(val) >= sizeof(out->hdr_value[i]) || strpbrk(k, ": \t\r\n") != NULL ||
			    strpbrk(val, "\r\n") != NULL)
				return CKR_DEVICE_ERROR;
			snprintf(out->hdr_name[i], sizeof(out->hdr_name[i]), "%s", k);
			snprintf(out->hdr_value[i], sizeof(out->hdr_value[i]), "%s", val);
			out->nhdrs++;
		}
	}
	return CKR_OK;
}

CK_RV hw_gcp_parse_ext(const char *body, size_t len, hw_gcp_ext *out)
{
	json_object *o = hw_cloud_json_parse(body, len), *cs;
	char type[32];
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(out, 0, sizeof(*out));
	if (o == NULL || !copy_field(o, "type", type, sizeof(type)))
		goto out;
	if (strcmp(type, "authorized_user") == 0) {
		rv = parse_user(o, out);
		goto out;
	}
	if (strcmp(type, "external_account") != 0) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if (!copy_field(o, "audience", out->audience, sizeof(out->audience)) ||
	    !copy_field(o, "subject_token_type", out->subject_token_type, sizeof(out->subject_token_type)) ||
	    !copy_field(o, "token_url", out->token_url, sizeof(out->token_url)) || !is_https(out->token_url) ||
	    !json_object_object_get_ex(o, "credential_source", &cs))
		goto out;
	if (json_object_object_get_ex(o, "service_account_impersonation_url", NULL) &&
	    (!copy_field(o, "service_account_impersonation_url", out->impersonation_url,
			 sizeof(out->impersonation_url)) || !is_https(out->impersonation_url)))
		goto out;
	rv = parse_source(cs, out);
out:
	json_object_put(o);
	if (rv != CKR_OK)
		hw_gcp_ext_clear(out);
	return rv;
}

CK_RV hw_gcp_subject_token(const hw_gcp_ext *x, const char *doc, size_t len, hw_secret **tok)
{
	json_object *o = NULL;
	const char *t = doc;
	size_t tl = len;
	CK_RV rv = CKR_DEVICE_ERROR;
	*tok = NULL;
	if (doc == NULL)
		return rv;
	if (x->source_json) {
		o = hw_cloud_json_parse(doc, len);
		if ((t = hw_cloud_jstr(o, x->source_field)) == NULL)
			goto out;
		tl = strlen(t);
	}
	/* files and metadata answers end with a newline */
	while (tl > 0 && (t[0] == ' ' || t[0] == '\n' || t[0] == '\r' || t[0] == '\t')) {
		t++;
		tl--;
	}
	while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\n' || t[tl - 1] == '\r' || t[tl - 1] == '\t'))
		tl--;
	/* JWTs, and SAML assertions in base64: large but plain */
	if (!token_ok(t, tl, 60000))
		goto out;
	rv = (*tok = secret_copy(t, tl)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
out:
	if (o != NULL && t != NULL)
		hw_wipe((void *)t, strlen(t));
	json_object_put(o);
	return rv;
}

unsigned char *hw_gcp_pem_der(const char *pem, size_t len, const char *what, size_t *der_len)
{
	char begin[64], end[64];
	snprintf(begin, sizeof(begin), "-----BEGIN %s-----", what);
	snprintf(end, sizeof(end), "-----END %s-----", what);
	size_t bl = strlen(begin), el = strlen(end);
	const char *p = NULL, *q = NULL;
	for (size_t i = 0; i + bl <= len && p == NULL; i++)
		if (memcmp(pem + i, begin, bl) == 0)
			p = pem + i + bl;
	for (size_t i = p != NULL ? (size_t)(p - pem) : len; i + el <= len && q == NULL; i++)
		if (memcmp(pem + i, end, el) == 0)
			q = pem + i;
	if (p == NULL || q == NULL)
		return NULL;
	/* the base64 without its line breaks */
	char *b = malloc((size_t)(q - p) + 1);
	size_t n = 0;
	if (b == NULL)
		return NULL;
	for (const char *s = p; s < q; s++)
		if (*s != '\n' && *s != '\r' && *s != ' ' && *s != '\t')
			b[n++] = *s;
	b[n] = '\0';
	unsigned char *der = hw_b64_decode(b, der_len);
	hw_wipe(b, n);
	free(b);
	return der;
}

CK_RV hw_gcp_parse_pubkey(const char *body, size_t len, unsigned char **spki, size_t *spki_len, char *alg,
			  size_t alg_len, bool *hsm)
{
	json_object *o = hw_cloud_json_parse(body, len);
	const char *pem = hw_cloud_jstr(o, "pem"), *a = hw_cloud_jstr(o, "algorithm");
	uint32_t crc;
	CK_RV rv = CKR_DEVICE_ERROR;
	*spki = NULL;
	if (pem == NULL || a == NULL || !hw_gcp_crc_field(o, "pemCrc32c", &crc))
		goto out;
	size_t pl = strlen(pem);
	if (hw_crc32c(0, pem, pl) != crc)
		goto out;       /* damaged on the way: never build a key from it */
	if ((*spki = hw_gcp_pem_der(pem, pl, "PUBLIC KEY", spki_len)) == NULL)
		goto out;
	snprintf(alg, alg_len, "%s", a);
	const char *level = hw_cloud_jstr(o, "protectionLevel");
	*hsm = level != NULL && strcmp(level, "HSM") == 0;
	rv = CKR_OK;
out:
	json_object_put(o);
	return rv;
}

/* A base64 field and its CRC32C field, checked. */
static unsigned char *checked_blob(json_object *o, const char *field, const char *crc_field, size_t *len)
{
	uint32_t crc;
	if (!hw_gcp_crc_field(o, crc_field, &crc))
		return NULL;
	unsigned char *d = hw_b64_decode(hw_cloud_jstr(o, field), len);
	if (d != NULL && hw_crc32c(0, d, *len) != crc) {
		hw_wipe(d, *len);
		free(d);
		d = NULL;
	}
	return d;
}

static bool flag_true(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

CK_RV hw_gcp_parse_signature(const char *body, size_t len, unsigned char **sig, size_t *sig_len)
{
	json_object *o = hw_cloud_json_parse(body, len);
	/* the service must say it checked our digest's CRC: else the digest
	 * it signed may not be ours */
	*sig = o != NULL && flag_true(o, "verifiedDigestCrc32c") ? checked_blob(o, "signature", "signatureCrc32c", sig_len)
								 : NULL;
	json_object_put(o);
	return *sig != NULL ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV hw_gcp_parse_plaintext(const char *body, size_t len, unsigned char **pt, size_t *pt_len)
{
	json_object *o = hw_cloud_json_parse(body, len);
	*pt = o != NULL && flag_true(o, "verifiedCiphertextCrc32c") ? checked_blob(o, "plaintext", "plaintextCrc32c", pt_len)
								     : NULL;
	/* json-c's copy of the plaintext goes with the document */
	const char *b = hw_cloud_jstr(o, "plaintext");
	if (b != NULL)
		hw_wipe((void *)b, strlen(b));
	json_object_put(o);
	return *pt != NULL ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV hw_gcp_parse_mac(const char *body, size_t len, unsigned char **mac, size_t *mac_len)
{
	json_object *o = hw_cloud_json_parse(body, len);
	/* as for signatures: the data MACed must be known to be ours */
	*mac = o != NULL && flag_true(o, "verifiedDataCrc32c") ? checked_blob(o, "mac", "macCrc32c", mac_len) : NULL;
	json_object_put(o);
	return *mac != NULL ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV hw_gcp_parse_mac_verify(const char *body, size_t len, unsigned char **ok, size_t *ok_len)
{
	json_object *o = hw_cloud_json_parse(body, len);
	CK_RV rv = CKR_DEVICE_ERROR;
	*ok = NULL;
	/* both inputs checked, and the verdict twice (success and its
	 * integrity copy must agree, else the answer was damaged) */
	if (o != NULL && flag_true(o, "verifiedDataCrc32c") && flag_true(o, "verifiedMacCrc32c") &&
	    flag_true(o, "success") == flag_true(o, "verifiedSuccessIntegrity") && (*ok = malloc(1)) != NULL) {
		**ok = flag_true(o, "success");
		*ok_len = 1;
		rv = CKR_OK;
	}
	json_object_put(o);
	return rv;
}
