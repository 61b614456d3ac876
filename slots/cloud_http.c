/*
 * One HTTP attempt over a pooled libcurl handle (see cloud_http.h for the
 * pool's rules). A handle is used by one thread at a time and keeps its
 * connection between uses, so N threads need at most N connections and
 * each does its TLS handshake once.
 */
#include "slots/cloud_http.h"
#include "common/log.h"
#include "common/secret.h"
#include "slots/aws_sigv4.h"
#include "slots/cloud_str.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HW_HTTP_MAX_BODY (1u << 20)  /* no KMS answer comes near this */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	/* no SSL init of ours: OpenSSL 3 initializes itself, and the engine's
	 * own library context is untouched by libcurl's default one */
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CK_RV hw_http_global_init(void)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		hw_error("cloud: libcurl failed to initialize: %s", curl_easy_strerror(global_rc));
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

/* libcurl's global state is set up by the first request, not here: a slot
 * that is configured but never used costs C_Initialize nothing */
CK_RV hw_http_pool_init(hw_http_pool *p, const char *slot, const char *ca_file)
{
	memset(p, 0, sizeof(*p));
	p->slot = slot;
	if (ca_file != NULL && ca_file[0] != '\0' && (p->ca_file = strdup(ca_file)) == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(&p->lock, NULL);
	p->pid = getpid();
	return CKR_OK;
}

void hw_http_pool_fini(hw_http_pool *p, bool forked)
{
	if (!forked && p->requests > 0)
		hw_debug("slot \"%s\": %lu requests on %lu connections", p->slot, p->requests, p->connects);
	if (!forked && p->pid == getpid())
		for (size_t i = 0; i < p->nidle; i++)
			curl_easy_cleanup(p->idle[i]);
	free(p->idle);
	free(p->ca_file);
	if (!forked)
		pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof(*p));
}

/* A handle for this thread: an idle one, or a new one. In a forked child
 * the parent's handles are forgotten first. */
static CURL *take(hw_http_pool *p)
{
	CURL *h = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->pid != getpid()) {
		p->nidle = 0;           /* the parent's: abandoned, never closed here */
		p->total = 0;
		p->pid = getpid();
	}
	if (p->nidle > 0)
		h = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	if (h == NULL && (h = curl_easy_init()) != NULL) {
		pthread_mutex_lock(&p->lock);
		p->total++;
		pthread_mutex_unlock(&p->lock);
	}
	return h;
}

static void give_back(hw_http_pool *p, CURL *h, bool keep, long connects)
{
	pthread_mutex_lock(&p->lock);
	p->connects += (unsigned long)connects;
	p->requests++;
	if (keep && p->pid == getpid() && p->nidle == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		void **n = realloc(p->idle, cap * sizeof(*n));
		if (n != NULL) {
			p->idle = n;
			p->cap = cap;
		}
	}
	if (keep && p->pid == getpid() && p->nidle < p->cap) {
		p->idle[p->nidle++] = h;
		h = NULL;
	} else if (p->total > 0) {
		p->total--;
	}
	pthread_mutex_unlock(&p->lock);
	if (h != NULL)
		curl_easy_cleanup(h);
}

void hw_http_resp_reset(hw_http_resp *r)
{
	r->status = 0;
	r->len = 0;
	if (r->body != NULL)
		r->body[0] = '\0';
	r->request_id[0] = '\0';
	r->error_type[0] = '\0';
	r->retry_after_s = -1;
	r->www_auth[0] = '\0';
}

void hw_http_resp_free(hw_http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	hw_http_resp *r = arg;
	size_t len = size * n;
	if (len > HW_HTTP_MAX_BODY - r->len)
		return 0;               /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = realloc(r->body, cap);
		if (b == NULL)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Copy a header value (trimmed, printable ASCII only) into dst. */
static void header_value(const char *v, size_t len, char *dst, size_t dst_len)
{
	size_t o = 0;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len && o + 1 < dst_len; i++)
		if (v[i] > 0x20 && v[i] < 0x7f)
			dst[o++] = v[i];
	dst[o] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*val = line + n + 1;
	*vlen = len - n - 1;
	return true;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	hw_http_resp *r = arg;
	size_t len = size * n;
	const char *v;
	size_t vl;
	char num[16];
	if (header_is(line, len, "x-amzn-requestid", &v, &vl) || header_is(line, len, "x-amz-request-id", &v, &vl) ||
	    header_is(line, len, "x-ms-request-id", &v, &vl) || header_is(line, len, "x-request-id", &v, &vl)) {
		header_value(v, vl, r->request_id, sizeof(r->request_id));
	} else if (header_is(line, len, "x-amzn-errortype", &v, &vl)) {
		header_value(v, vl, r->error_type, sizeof(r->error_type));
	} else if (header_is(line, len, "www-authenticate", &v, &vl)) {
		/* its parameters are separated by spaces: keep them */
		size_t o = 0;
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		for (size_t i = 0; i < vl && o + 1 < sizeof(r->www_auth); i++)
			if (v[i] >= 0x20 && v[i] < 0x7f)
				r->www_auth[o++] = v[i];
		r->www_auth[o] = '\0';
	} else if (header_is(line, len, "retry-after", &v, &vl)) {
		/* only the delta-seconds form: an HTTP date would need our clock
		 * to agree with the server's */
		header_value(v, vl, num, sizeof(num));
		char *end;
		long s = strtol(num, &end, 10);
		if (end != num && *end == '\0' && s >= 0 && s <= 3600)
			r->retry_after_s = (int)s;
	}
	return len;
}

static void curl_failed(CURLcode cc, hw_cloud_err *e, bool *sent)
{
	hw_cloud_cause cause = HW_CLOUD_CONNECTIVITY;
	*sent = true;
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY: case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
		*sent = false;          /* no byte of the request left us */
		break;
	case CURLE_OPERATION_TIMEDOUT:
		break;
	case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		cause = HW_CLOUD_CONFIG;
		*sent = false;
		break;
	case CURLE_OUT_OF_MEMORY:
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONNECTIVITY, "", "out of memory");
		*sent = false;
		return;
	default:
		break;
	}
	hw_cloud_err_set(e, CKR_DEVICE_ERROR, cause, "", "%s", curl_easy_strerror(cc));
}

CK_RV hw_http_do(hw_http_pool *p, const hw_http_req *r, hw_http_resp *resp, hw_cloud_err *e, bool *sent)
{
	struct curl_slist *hl = NULL, *t;
	char line[4096];
	long connects = 0;
	CURLcode cc = CURLE_OK;
	CK_RV rv = CKR_OK;
	*sent = false;
	hw_http_resp_reset(resp);
	if (hw_http_global_init() != CKR_OK) {
		hw_cloud_err_set(e, CKR_FUNCTION_FAILED, HW_CLOUD_CONFIG, "", "libcurl failed to initialize");
		return e->rv;
	}
	CURL *h = take(p);
	if (h == NULL) {
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONNECTIVITY, "", "out of memory");
		return CKR_HOST_MEMORY;
	}
	for (size_t i = 0; i < r->nhdrs; i++) {
		if ((size_t)snprintf(line, sizeof(line), "%s: %s", r->hdrs[i].name, r->hdrs[i].value) >= sizeof(line) ||
		    (t = curl_slist_append(hl, line)) == NULL) {
			hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONFIG, "", "request header too long");
			rv = e->rv;
			goto out;
		}
		hl = t;
	}
	/* curl would add these on its own; the signature covers what we send */
	if ((t = curl_slist_append(hl, "Expect:")) == NULL || (hl = t, (t = curl_slist_append(hl, "Accept:")) == NULL)) {
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONNECTIVITY, "", "out of memory");
		rv = e->rv;
		goto out;
	}
	hl = t;
	curl_easy_reset(h);           /* options only: the connection cache stays */
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(r->timeout_ms > 0 ? r->timeout_ms : 1));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->connect_ms > 0 ? r->connect_ms : 1));
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* a pooled handle serves one host: one connection is all it keeps */
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
	if (p->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
	if (r->fresh)
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body_len > 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
		}
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	if (cc != CURLE_OK) {
		curl_failed(cc, e, sent);
		rv = e->rv;
		goto out;
	}
	*sent = true;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body == NULL)
		on_body((char *)"", 1, 0, resp);   /* an empty body is still a string */
	if (resp->body == NULL) {
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CONNECTIVITY, "", "out of memory");
		rv = CKR_HOST_MEMORY;
	}
out:
	curl_slist_free_all(hl);
	/* a handle whose transfer failed may hold a broken connection: drop it */
	give_back(p, h, cc == CURLE_OK && rv == CKR_OK, connects);
	return rv;
}

void hw_cloud_form_add(hw_sb *b, const char *key, const char *value)
{
	char *enc = hw_aws_uri_encode(value, strlen(value), false);
	if (enc == NULL) {
		b->failed = true;
		return;
	}
	hw_sb_printf(b, "%s%s=%s", b->len ? "&" : "", key, enc);
	hw_wipe(enc, strlen(enc));
	free(enc);
}
