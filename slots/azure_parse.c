/*
 * Parsers of what Azure sends: the vault's authentication challenge, token
 * endpoint answers, error bodies, key bundles and their JWKs. Everything
 * here reads bytes from the network, so every field is checked for type
 * and size; fuzz/azure_parse.c drives each of these.
 */
#include "slots/azure_kv.h"
#include "common/secret.h"
#include "mechanisms/crypto.h"

#include <ctype.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- WWW-Authenticate ------------------------------------------------------------ */
/* The value of param (quoted or a token) in a challenge's parameter list. */
static bool param(const char *p, const char *name, char *out, size_t out_len)
{
	size_t nl = strlen(name);
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		const char *k = p;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != ',')
			p++;
		size_t kl = (size_t)(p - k);
		if (*p != '=')
			continue;
		p++;
		const char *v = p;
		size_t vl;
		if (*p == '"') {
			v = ++p;
			while (*p != '\0' && *p != '"')
				p++;
			vl = (size_t)(p - v);
			if (*p == '"')
				p++;
		} else {
			while (*p != '\0' && *p != ',' && *p != ' ')
				p++;
			vl = (size_t)(p - v);
		}
		if (kl == nl && strncasecmp(k, name, nl) == 0) {
			if (vl + 1 > out_len)
				return false;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
	}
	return false;
}

CK_RV hw_az_parse_challenge(const char *hdr, char *tenant, size_t tenant_len, char *resource, size_t resource_len)
{
	char auth[256], scope[192];
	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return CKR_DEVICE_ERROR;
	hdr += 7;
	if (!param(hdr, "authorization", auth, sizeof(auth)) && !param(hdr, "authorization_uri", auth, sizeof(auth)))
		return CKR_DEVICE_ERROR;
	/* the tenant is the authority URL's first path segment */
	const char *p = strstr(auth, "://");
	if (p == NULL || (p = strchr(p + 3, '/')) == NULL)
		return CKR_DEVICE_ERROR;
	p++;
	size_t tl = strcspn(p, "/?#");
	if (tl == 0 || tl + 1 > tenant_len)
		return CKR_DEVICE_ERROR;
	for (size_t i = 0; i < tl; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '.' && p[i] != '_')
			return CKR_DEVICE_ERROR;
	memcpy(tenant, p, tl);
	tenant[tl] = '\0';
	if (param(hdr, "resource", resource, resource_len) && resource[0] != '\0')
		return CKR_OK;
	if (!param(hdr, "scope", scope, sizeof(scope)))
		return CKR_DEVICE_ERROR;
	size_t sl = strlen(scope);
	static const char dflt[] = "/.default";
	if (sl > sizeof(dflt) - 1 && strcmp(scope + sl - (sizeof(dflt) - 1), dflt) == 0)
		sl -= sizeof(dflt) - 1;
	if (sl == 0 || sl + 1 > resource_len)
		return CKR_DEVICE_ERROR;
	memcpy(resource, scope, sl);
	resource[sl] = '\0';
	return CKR_OK;
}

/* ---- token answers ------------------------------------------------------------------ */
/* A number or a string of digits (IMDS and App Service send strings). */
static bool jnum(json_object *o, const char *key, long long *v)
{
	json_object *f;
	if (!json_object_object_get_ex(o, key, &f))
		return false;
	if (json_object_is_type(f, json_type_int)) {
		*v = json_object_get_int64(f);
		return true;
	}
	const char *s = json_object_is_type(f, json_type_string) ? json_object_get_string(f) : NULL;
	if (s == NULL || *s == '\0' || strlen(s) > 18)
		return false;
	for (const char *q = s; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	*v = strtoll(s, NULL, 10);
	return true;
}

CK_RV hw_az_parse_token(const char *body, size_t len, time_t now, hw_secret **token, time_t *expires)
{
	json_object *o = hw_cloud_json_parse(body, len);
	const char *t = hw_cloud_jstr(o, "access_token");
	long long in = 0, on = 0;
	CK_RV rv = CKR_DEVICE_ERROR;
	*token = NULL;
	if (t == NULL || t[0] == '\0' || strlen(t) > 16384)
		goto out;
	for (const char *q = t; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			goto out;          /* it goes into a header as it is */
	if (jnum(o, "expires_in", &in) && in > 0 && in < 366LL * 86400)
		*expires = now + (time_t)in;
	else if (jnum(o, "expires_on", &on) && on > 0 && on < 253402300800LL)
		*expires = (time_t)on;
	else
		*expires = now + 300;  /* no lifetime given: keep it briefly */
	if ((*token = hw_secret_dup(t, strlen(t) + 1)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	(*token)->len = strlen(t);
	rv = CKR_OK;
out:
	/* the parsed copy of the token goes with the tree */
	if (t != NULL)
		hw_wipe((void *)t, strlen(t));
	json_object_put(o);
	return rv;
}

void hw_az_parse_error(const char *body, size_t len, char *code, size_t code_len, char *msg, size_t msg_len)
{
	json_object *o = hw_cloud_json_parse(body, len), *err;
	const char *c = NULL, *m = NULL;
	if (o != NULL && json_object_object_get_ex(o, "error", &err) && json_object_is_type(err, json_type_object)) {
		c = hw_cloud_jstr(err, "code");
		m = hw_cloud_jstr(err, "message");
	} else if (o != NULL) {
		/* AAD: {"error":"invalid_client","error_description":"..."} */
		c = hw_cloud_jstr(o, "error");
		m = hw_cloud_jstr(o, "error_description");
	}
	snprintf(code, code_len, "%s", c != NULL ? c : "");
	snprintf(msg, msg_len, "%s", m != NULL ? m : "no error message");
	json_object_put(o);
}

/* ---- JWK and key bundles ---------------------------------------------------------- */
static unsigned char *jbytes(json_object *jwk, const char *key, size_t *len, size_t max)
{
	const char *s = hw_cloud_jstr(jwk, key);
	unsigned char *d = s != NULL && strlen(s) <= 4 * max ? hw_b64url_decode(s, len) : NULL;
	if (d != NULL && (*len == 0 || *len > max)) {
		free(d);
		d = NULL;
	}
	return d;
}

static CK_RV ec_key(json_object *jwk, OSSL_PARAM_BLD *b, size_t *nlen, unsigned char *pt, size_t *ptl)
{
	static const struct {
		const char *crv, *group;
		size_t n;
	} curves[] = { { "P-256", "prime256v1", 32 }, { "P-384", "secp384r1", 48 }, { "P-521", "secp521r1", 66 } };
	const char *crv = hw_cloud_jstr(jwk, "crv");
	size_t i, xl = 0, yl = 0;
	CK_RV rv = CKR_OBJECT_HANDLE_INVALID;
	for (i = 0; crv != NULL && i < 3 && strcmp(crv, curves[i].crv) != 0; i++)
		;
	if (crv == NULL || i == 3)
		return rv;          /* P-256K and others: not served */
	size_t n = curves[i].n;
	unsigned char *x = jbytes(jwk, "x", &xl, n), *y = jbytes(jwk, "y", &yl, n);
	rv = CKR_DEVICE_ERROR;
	if (x == NULL || y == NULL)
		goto out;
	/* JWK coordinates are full width, but a short one is still a number */
	memset(pt, 0, 1 + 2 * n);
	pt[0] = 0x04;
	memcpy(pt + 1 + n - xl, x, xl);
	memcpy(pt + 1 + 2 * n - yl, y, yl);
	*ptl = 1 + 2 * n;
	*nlen = n;
	if (OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, curves[i].group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, *ptl))
		rv = CKR_OK;
out:
	free(x);
	free(y);
	return rv;
}

CK_RV hw_az_jwk_spki(json_object *jwk, CK_KEY_TYPE *type, size_t *nlen, unsigned char **spki, size_t *spki_len)
{
	const char *kty = hw_cloud_jstr(jwk, "kty");
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *nb = NULL, *eb = NULL, pt[1 + 2 * 66];
	size_t nl = 0, el = 0, ptl = 0;
	CK_RV rv = CKR_OBJECT_HANDLE_INVALID;
	*spki = NULL;
	if (b == NULL)
		return CKR_HOST_MEMORY;
	if (kty == NULL)
		goto out;
	if (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0) {
		*type = CKK_EC;
		if ((rv = ec_key(jwk, b, nlen, pt, &ptl)) != CKR_OK)
			goto out;
	} else if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0) {
		*type = CKK_RSA;
		rv = CKR_DEVICE_ERROR;
		if ((nb = jbytes(jwk, "n", &nl, 1024)) == NULL || (eb = jbytes(jwk, "e", &el, 8)) == NULL)
			goto out;
		while (nl > 0 && nb[0] == 0) {
			memmove(nb, nb + 1, --nl);
		}
		if (nl < 128 || (n = BN_bin2bn(nb, (int)nl, NULL)) == NULL || (e = BN_bin2bn(eb, (int)el, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		*nlen = nl;
	} else {
		goto out;           /* oct, OKP: not served */
	}
	rv = CKR_DEVICE_ERROR;
	if ((params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    /* hwagg's library context, and the algorithm named by its OID: a
	     * name such as "EC" finds an ENGINE the application made the
	     * default for it (the OpenSSL pkcs11 engine is one), which cannot
	     * import key data */
	    (pc = EVP_PKEY_CTX_new_from_name(hw_crypto_ctx(), *type == CKK_EC ? "1.2.840.10045.2.1" :
					     "1.2.840.113549.1.1.1", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	int len = i2d_PUBKEY(pk, NULL);
	if (len <= 0 || (*spki = malloc((size_t)len)) == NULL)
		goto out;
	unsigned char *w = *spki;
	if (i2d_PUBKEY(pk, &w) != len) {
		free(*spki);
		*spki = NULL;
		goto out;
	}
	*spki_len = (size_t)len;
	rv = CKR_OK;
out:
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	return rv;
}

CK_RV hw_az_parse_kid(const char *kid, char **name, char **version)
{
	*name = *version = NULL;
	const char *p = kid != NULL ? strstr(kid, "/keys/") : NULL;
	if (p == NULL)
		return CKR_DEVICE_ERROR;
	p += 6;
	size_t nl = strcspn(p, "/?#");
	if (nl == 0 || nl > 127)
		return CKR_DEVICE_ERROR;
	for (size_t i = 0; i < nl; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return CKR_DEVICE_ERROR;
	const char *v = p + nl;
	size_t vl = 0;
	if (*v == '/') {
		v++;
		vl = strcspn(v, "/?#");
		for (size_t i = 0; i < vl; i++)
			if (!isalnum((unsigned char)v[i]))
				return CKR_DEVICE_ERROR;
		if (v[vl] != '\0' || vl > 64)
			return CKR_DEVICE_ERROR;
	} else if (*v != '\0') {
		return CKR_DEVICE_ERROR;
	}
	if ((*name = strndup(p, nl)) == NULL || (vl > 0 && (*version = strndup(v, vl)) == NULL)) {
		free(*name);
		*name = NULL;
		return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

static int hexv(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

CK_RV hw_az_tags_apply(json_object *tags, hw_az_key *k)
{
	const char *l = hw_cloud_jstr(tags, HW_AZ_TAG_LABEL), *id = hw_cloud_jstr(tags, HW_AZ_TAG_ID);
	k->ours = hw_cloud_jstr(tags, HW_AZ_TAG_MARK) != NULL;
	if (l != NULL) {
		free(k->label);
		if ((k->label = strdup(l)) == NULL)
			return CKR_HOST_MEMORY;
	}
	size_t n = id != NULL ? strlen(id) : 0;
	k->id_len = 0;
	for (size_t j = 0; n % 2 == 0 && j + 1 < n && k->id_len < sizeof(k->id); j += 2) {
		int hi = hexv(id[j]), lo = hexv(id[j + 1]);
		if (hi < 0 || lo < 0) {
			k->id_len = 0;
			break;
		}
		k->id[k->id_len++] = (unsigned char)(hi * 16 + lo);
	}
	return CKR_OK;
}

CK_RV hw_az_parse_bundle(json_object *bundle, hw_az_key *k)
{
	json_object *jwk, *ops, *attrs, *tags, *en;
	if (!json_object_is_type(bundle, json_type_object) || !json_object_object_get_ex(bundle, "key", &jwk) ||
	    !json_object_is_type(jwk, json_type_object))
		return CKR_DEVICE_ERROR;
	CK_RV rv = hw_az_parse_kid(hw_cloud_jstr(jwk, "kid"), &k->name, &k->version);
	if (rv != CKR_OK)
		return rv;
	if (k->version == NULL || (k->kid = strdup(hw_cloud_jstr(jwk, "kid"))) == NULL)
		return k->version == NULL ? CKR_DEVICE_ERROR : CKR_HOST_MEMORY;
	const char *kty = hw_cloud_jstr(jwk, "kty");
	k->hsm = kty != NULL && strstr(kty, "-HSM") != NULL;
	if ((rv = hw_az_jwk_spki(jwk, &k->type, &k->nlen, &k->spki, &k->spki_len)) != CKR_OK)
		return rv;
	size_t n = json_object_object_get_ex(jwk, "key_ops", &ops) && json_object_is_type(ops, json_type_array) ?
		   json_object_array_length(ops) : 0;
	unsigned wraps = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *op = json_object_array_get_idx(ops, i);
		const char *s = json_object_is_type(op, json_type_string) ? json_object_get_string(op) : "";
		if (strcmp(s, "sign") == 0)
			k->sign = true;
		else if (strcmp(s, "decrypt") == 0)
			k->decrypt = k->type == CKK_RSA;
		else if (strcmp(s, "wrapKey") == 0)
			wraps |= 1;
		else if (strcmp(s, "unwrapKey") == 0)
			wraps |= 2;
	}
	k->wrap = k->type == CKK_RSA && wraps == 3;
	k->enabled = true;
	if (json_object_object_get_ex(bundle, "attributes", &attrs) && json_object_object_get_ex(attrs, "enabled", &en) &&
	    json_object_is_type(en, json_type_boolean))
		k->enabled = json_object_get_boolean(en);
	if (json_object_object_get_ex(bundle, "tags", &tags) && json_object_is_type(tags, json_type_object))
		return hw_az_tags_apply(tags, k);
	return CKR_OK;
}
