/*
 * AWS Signature Version 4. The steps and their names follow the public
 * description of the algorithm: canonical request, string to sign, signing
 * key derived from the date, region and service, signature. HMAC and SHA-256
 * come from hwagg's OpenSSL library context (never the default one, which an
 * ENGINE may own in the application's process).
 */
#include "slots/aws_sigv4.h"
#include "slots/cloud_str.h"
#include "mechanisms/crypto.h"
#include "common/secret.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CK_RV hw_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	size_t mdlen = 0;
	if (EVP_Q_digest(hw_crypto_ctx(), "SHA256", NULL, data, len, md, &mdlen) != 1 || mdlen != 32)
		return CKR_FUNCTION_FAILED;
	hw_hex(md, 32, out);
	return CKR_OK;
}

static bool hmac(const void *key, size_t klen, const void *data, size_t dlen, unsigned char out[32])
{
	size_t olen = 0;
	return EVP_Q_mac(hw_crypto_ctx(), "HMAC", NULL, "SHA256", NULL, key, klen, data, dlen, out, 32, &olen) != NULL &&
	       olen == 32;
}

void hw_sigv4_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

static void encode_into(hw_sb *b, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/'))
			hw_sb_chr(b, (char)c);
		else
			hw_sb_printf(b, "%%%02X", c);
	}
}

char *hw_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
	hw_sb b = { 0 };
	encode_into(&b, s, len, keep_slash);
	hw_sb_add(&b, "", 0);
	return hw_sb_take(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode in place; a '%' not followed by two hex digits stays. */
static size_t decode(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* The canonical URI: dot segments and empty segments removed (when asked),
 * every segment encoded. */
static void canonical_path(hw_sb *b, const char *path, bool normalize)
{
	const char *segs[128];
	size_t lens[128], n = 0;
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (!normalize) {
		encode_into(b, path, strlen(path), true);
		return;
	}
	/* like a POSIX path normalization; a trailing slash stays */
	bool trailing = path[strlen(path) - 1] == '/';
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0)
			break;
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (n > 0)
				n--;
		} else if (!(l == 1 && p[0] == '.') && n < 128) {
			segs[n] = p;
			lens[n++] = l;
		}
		p += l;
	}
	for (size_t i = 0; i < n; i++) {
		hw_sb_chr(b, '/');
		encode_into(b, segs[i], lens[i], false);
	}
	if (n == 0 || trailing)
		hw_sb_chr(b, '/');
}

typedef struct qparam {
	char *k, *v;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
	const qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c != 0 ? c : strcmp(x->v, y->v);
}

/* Each name and value decoded, then encoded strictly; sorted by name, then
 * value. */
static CK_RV canonical_query(hw_sb *b, const char *query)
{
	qparam *ps = NULL;
	size_t n = 0;
	CK_RV rv = CKR_OK;
	if (query == NULL || query[0] == '\0')
		return CKR_OK;
	char *q = strdup(query);
	if (q == NULL)
		return CKR_HOST_MEMORY;
	for (char *save = NULL, *part = strtok_r(q, "&", &save); part != NULL; part = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(part, '=');
		const char *v = "";
		size_t kl, vl = 0;
		if (eq != NULL) {
			*eq = '\0';
			v = eq + 1;
			vl = decode(eq + 1, strlen(eq + 1));
		}
		kl = decode(part, strlen(part));
		qparam *g = realloc(ps, (n + 1) * sizeof(*ps));
		if (g == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		ps = g;
		ps[n].k = hw_aws_uri_encode(part, kl, false);
		ps[n].v = hw_aws_uri_encode(v, vl, false);
		n++;
		if (ps[n - 1].k == NULL || ps[n - 1].v == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
	}
	qsort(ps, n, sizeof(*ps), qparam_cmp);
	for (size_t i = 0; i < n; i++)
		hw_sb_printf(b, "%s%s=%s", i ? "&" : "", ps[i].k, ps[i].v);
out:
	for (size_t i = 0; i < n; i++) {
		free(ps[i].k);
		free(ps[i].v);
	}
	free(ps);
	free(q);
	return rv;
}

typedef struct chdr {
	char *name;      /* lower case */
	hw_sb value;     /* values of every header of that name, comma-joined */
} chdr;

static int chdr_cmp(const void *a, const void *b)
{
	return strcmp(((const chdr *)a)->name, ((const chdr *)b)->name);
}

/* A header value trimmed, with runs of white space (line folds included)
 * made one space. */
static void add_trimmed(hw_sb *b, const char *v)
{
	bool space = false, any = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = any;
			continue;
		}
		if (space)
			hw_sb_chr(b, ' ');
		hw_sb_chr(b, *v);
		space = false;
		any = true;
	}
}

/* "name:value\n" lines and the signed-headers list. */
static CK_RV canonical_headers(hw_sb *b, hw_sb *signed_hdrs, const hw_http_hdr *hdrs, size_t nh)
{
	chdr *cs = calloc(nh ? nh : 1, sizeof(*cs));
	size_t n = 0;
	CK_RV rv = CKR_OK;
	if (cs == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < nh; i++) {
		char *name = strdup(hdrs[i].name);
		if (name == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		size_t j;
		for (j = 0; j < n && strcmp(cs[j].name, name) != 0; j++)
			;
		if (j == n)
			cs[n++].name = name;
		else {
			free(name);
			hw_sb_chr(&cs[j].value, ',');
		}
		add_trimmed(&cs[j].value, hdrs[i].value);
		hw_sb_add(&cs[j].value, "", 0);
	}
	qsort(cs, n, sizeof(*cs), chdr_cmp);
	for (size_t i = 0; i < n; i++) {
		hw_sb_printf(b, "%s:%s\n", cs[i].name, cs[i].value.s ? cs[i].value.s : "");
		hw_sb_printf(signed_hdrs, "%s%s", i ? ";" : "", cs[i].name);
		if (cs[i].value.failed)
			rv = CKR_HOST_MEMORY;
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(cs[i].name);
		hw_sb_free(&cs[i].value);
	}
	free(cs);
	return rv;
}

CK_RV hw_sigv4_sign(const hw_sigv4_in *in, const char *akid, const char *secret, char **authz, char **creq_out,
		    char **sts_out)
{
	hw_sb cr = { 0 }, sh = { 0 }, st = { 0 }, az = { 0 };
	char body_hash[65], cr_hash[65], date[9], sig[65];
	unsigned char k[32], k2[32];
	hw_secret *kdate = NULL;
	char *creq = NULL, *sts = NULL;
	CK_RV rv;
	*authz = NULL;
	if (in == NULL || in->method == NULL || in->amz_date == NULL || strlen(in->amz_date) != 16 ||
	    in->region == NULL || in->service == NULL || akid == NULL || secret == NULL)
		return CKR_ARGUMENTS_BAD;
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';
	if ((rv = hw_sha256_hex(in->body != NULL ? in->body : "", in->body_len, body_hash)) != CKR_OK)
		return rv;
	hw_sb_printf(&cr, "%s\n", in->method);
	canonical_path(&cr, in->path, in->normalize);
	hw_sb_chr(&cr, '\n');
	if ((rv = canonical_query(&cr, in->query)) != CKR_OK)
		goto out;
	hw_sb_chr(&cr, '\n');
	if ((rv = canonical_headers(&cr, &sh, in->hdrs, in->nhdrs)) != CKR_OK)
		goto out;
	hw_sb_add(&sh, "", 0);
	hw_sb_printf(&cr, "\n%s\n%s", sh.s ? sh.s : "", body_hash);
	if ((creq = hw_sb_take(&cr)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = hw_sha256_hex(creq, strlen(creq), cr_hash)) != CKR_OK)
		goto out;
	hw_sb_printf(&st, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, date, in->region,
		     in->service, cr_hash);
	if ((sts = hw_sb_take(&st)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	/* the signing key: HMAC chain from "AWS4" + secret over date, region,
	 * service and "aws4_request"; the secret's copy lives in locked memory */
	size_t sl = strlen(secret);
	if ((kdate = hw_secret_new(sl + 4)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	memcpy(kdate->data, "AWS4", 4);
	memcpy(kdate->data + 4, secret, sl);
	rv = CKR_FUNCTION_FAILED;
	if (!hmac(kdate->data, sl + 4, date, 8, k) || !hmac(k, 32, in->region, strlen(in->region), k2) ||
	    !hmac(k2, 32, in->service, strlen(in->service), k) || !hmac(k, 32, "aws4_request", 12, k2) ||
	    !hmac(k2, 32, sts, strlen(sts), k))
		goto out;
	hw_hex(k, 32, sig);
	hw_sb_printf(&az, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s", akid,
		     date, in->region, in->service, sh.s ? sh.s : "", sig);
	rv = (*authz = hw_sb_take(&az)) != NULL ? CKR_OK : CKR_HOST_MEMORY;
out:
	hw_wipe(k, sizeof(k));
	hw_wipe(k2, sizeof(k2));
	hw_secret_free(kdate);
	hw_sb_free(&cr);
	hw_sb_free(&sh);
	hw_sb_free(&st);
	hw_sb_free(&az);
	if (rv == CKR_OK && creq_out != NULL) {
		*creq_out = creq;
		creq = NULL;
	}
	if (rv == CKR_OK && sts_out != NULL) {
		*sts_out = sts;
		sts = NULL;
	}
	free(creq);
	free(sts);
	return rv;
}
