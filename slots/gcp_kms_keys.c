/*
 * The gcp-kms slot's keys: the algorithms it serves, the table of known
 * versions, reading a version's public key, and the listing: the key
 * ring's crypto keys labelled by hwagg (one filtered list call) and their
 * ENABLED versions (one call per key). Never the whole ring's keys as
 * objects, and never on C_Initialize: the engine lists at most every
 * refresh_s seconds, and a version's public key is read once per process.
 */
#include "slots/gcp_kms.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *alg;
	CK_KEY_TYPE type;
	size_t nlen;
	CK_MECHANISM_TYPE hash;
	bool pss, decrypt;
} algs[] = {
	{ "EC_SIGN_P256_SHA256", CKK_EC, 32, CKM_SHA256, false, false },
	{ "EC_SIGN_P384_SHA384", CKK_EC, 48, CKM_SHA384, false, false },
	{ "RSA_SIGN_PKCS1_2048_SHA256", CKK_RSA, 256, CKM_SHA256, false, false },
	{ "RSA_SIGN_PKCS1_3072_SHA256", CKK_RSA, 384, CKM_SHA256, false, false },
	{ "RSA_SIGN_PKCS1_4096_SHA256", CKK_RSA, 512, CKM_SHA256, false, false },
	{ "RSA_SIGN_PKCS1_4096_SHA512", CKK_RSA, 512, CKM_SHA512, false, false },
	{ "RSA_SIGN_PSS_2048_SHA256", CKK_RSA, 256, CKM_SHA256, true, false },
	{ "RSA_SIGN_PSS_3072_SHA256", CKK_RSA, 384, CKM_SHA256, true, false },
	{ "RSA_SIGN_PSS_4096_SHA256", CKK_RSA, 512, CKM_SHA256, true, false },
	{ "RSA_SIGN_PSS_4096_SHA512", CKK_RSA, 512, CKM_SHA512, true, false },
	{ "RSA_DECRYPT_OAEP_2048_SHA256", CKK_RSA, 256, CKM_SHA256, false, true },
	{ "RSA_DECRYPT_OAEP_3072_SHA256", CKK_RSA, 384, CKM_SHA256, false, true },
	{ "RSA_DECRYPT_OAEP_4096_SHA256", CKK_RSA, 512, CKM_SHA256, false, true },
	{ "RSA_DECRYPT_OAEP_4096_SHA512", CKK_RSA, 512, CKM_SHA512, false, true },
	{ "RSA_DECRYPT_OAEP_2048_SHA1", CKK_RSA, 256, CKM_SHA_1, false, true },
	{ "RSA_DECRYPT_OAEP_3072_SHA1", CKK_RSA, 384, CKM_SHA_1, false, true },
	{ "RSA_DECRYPT_OAEP_4096_SHA1", CKK_RSA, 512, CKM_SHA_1, false, true },
};

bool hw_gcp_alg_parse(const char *alg, hw_gcp_key *k)
{
	for (size_t i = 0; alg != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(alg, algs[i].alg) == 0) {
			k->type = algs[i].type;
			k->nlen = algs[i].nlen;
			k->hash = algs[i].hash;
			k->pss = algs[i].pss;
			k->decrypt = algs[i].decrypt;
			return true;
		}
	return false;
}

bool hw_gcp_mac_alg(const char *alg, hw_gcp_key *k)
{
	static const struct {
		const char *alg;
		CK_KEY_TYPE type;
		size_t len;
		CK_MECHANISM_TYPE hash;
	} macs[] = {
		{ "HMAC_SHA224", CKK_SHA224_HMAC, 28, CKM_SHA224 }, { "HMAC_SHA256", CKK_SHA256_HMAC, 32, CKM_SHA256 },
		{ "HMAC_SHA384", CKK_SHA384_HMAC, 48, CKM_SHA384 }, { "HMAC_SHA512", CKK_SHA512_HMAC, 64, CKM_SHA512 },
	};
	for (size_t i = 0; alg != NULL && i < sizeof(macs) / sizeof(macs[0]); i++)
		if (strcmp(alg, macs[i].alg) == 0) {
			k->type = macs[i].type;
			k->nlen = macs[i].len;
			k->hash = macs[i].hash;
			k->mac = true;
			return true;
		}
	return false;
}

CK_RV hw_gcp_mac_fetch(hw_gcp_ctx *c, const char *version, hw_gcp_key **out, hw_cloud_err *e)
{
	json_object *v = NULL;
	hw_gcp_key *k = calloc(1, sizeof(*k));
	CK_RV rv = CKR_HOST_MEMORY;
	*out = NULL;
	if (k == NULL || (k->name = strdup(version)) == NULL)
		goto out;
	if ((rv = hw_gcp_call(c, "GetCryptoKeyVersion", "GET", version, NULL, true, &v, e)) != CKR_OK)
		goto out;
	const char *alg = hw_cloud_jstr(v, "algorithm"), *level = hw_cloud_jstr(v, "protectionLevel");
	const char *state = hw_cloud_jstr(v, "state"), *slash = strrchr(version, '/');
	if (!hw_gcp_mac_alg(alg, k) || state == NULL || strcmp(state, "ENABLED") != 0) {
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	if ((k->alg = strdup(alg)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	k->hsm = level != NULL && strcmp(level, "HSM") == 0;
	k->version = slash != NULL ? strtoul(slash + 1, NULL, 10) : 0;
	*out = k;
	k = NULL;
out:
	json_object_put(v);
	hw_gcp_key_free(k);
	return rv;
}

void hw_gcp_key_free(hw_gcp_key *k)
{
	if (k == NULL)
		return;
	free(k->name);
	free(k->alg);
	free(k->spki);
	free(k->label);
	free(k);
}

static hw_gcp_key *find_inlock(hw_gcp_ctx *c, const char *name, size_t *idx)
{
	for (size_t i = 0; i < c->nrecs; i++)
		if (strcmp(c->recs[i]->name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return c->recs[i];
		}
	return NULL;
}

hw_gcp_key *hw_gcp_key_keep(hw_gcp_ctx *c, hw_gcp_key *k, size_t *idx)
{
	pthread_mutex_lock(&c->lock);
	hw_gcp_key *old = find_inlock(c, k->name, idx);
	if (old != NULL) {
		hw_gcp_key_free(k);
		k = old;
	} else {
		if (c->nrecs == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			hw_gcp_key **n = realloc(c->recs, cap * sizeof(*n));
			if (n != NULL) {
				c->recs = n;
				c->cap = cap;
			}
		}
		if (c->nrecs < c->cap) {
			*idx = c->nrecs;
			c->recs[c->nrecs++] = k;
		} else {
			hw_gcp_key_free(k);
			k = NULL;
		}
	}
	if (k != NULL)
		k->seen = true;
	pthread_mutex_unlock(&c->lock);
	return k;
}

CK_RV hw_gcp_key_fetch(hw_gcp_ctx *c, const char *version, hw_gcp_key **out, hw_cloud_err *e)
{
	hw_http_resp r = { 0 };
	char path[1200], alg[64];
	hw_gcp_key *k = calloc(1, sizeof(*k));
	CK_RV rv = CKR_HOST_MEMORY;
	*out = NULL;
	if (k == NULL || (k->name = strdup(version)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/publicKey", version);
	/* a damaged answer is asked for again, once */
	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rv = hw_gcp_call_raw(c, "GetPublicKey", "GET", path, NULL, true, 0, 0, &r, e)) != CKR_OK)
			goto out;
		rv = hw_gcp_parse_pubkey(r.body, r.len, &k->spki, &k->spki_len, alg, sizeof(alg), &k->hsm);
		if (rv != CKR_DEVICE_ERROR)
			break;
		hw_cloud_err_set(e, rv, HW_CLOUD_PROVIDER, "DataLoss",
				 "the public key failed its CRC32C check or is malformed");
		hw_cloud_err_log(c->cs.conf->name, "gcp-kms", "GetPublicKey", e);
	}
	if (rv != CKR_OK)
		goto out;
	if (!hw_gcp_alg_parse(alg, k)) {
		hw_debug("slot \"%s\" (gcp-kms): %s skipped (algorithm %s)", c->cs.conf->name, version, alg);
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	const char *slash = strrchr(version, '/');
	k->version = slash != NULL ? strtoul(slash + 1, NULL, 10) : 0;
	if ((k->alg = strdup(alg)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	*out = k;
	k = NULL;
out:
	hw_http_resp_free(&r);
	hw_gcp_key_free(k);
	return rv;
}

void hw_gcp_key_set_id(hw_gcp_key *k, const unsigned char *id, size_t len)
{
	len = len < HW_GCP_ID_MAX ? len : HW_GCP_ID_MAX;
	memcpy(k->id, id, len);
	k->id_len = k->key_id_len = len;
	if (len > 0 && k->version > 1)
		k->id_len += (size_t)snprintf((char *)k->id + len, sizeof(k->id) - len, "/v%lu", (unsigned long)k->version);
}

static hw_cloud_keyinfo key_info(hw_gcp_ctx *c, const hw_gcp_key *k)
{
	hw_cloud_keyinfo i = { "gcp-kms", c->cs.conf->name, k->type, k->decrypt, k->hsm ? HW_SEC_HARDWARE : HW_SEC_SOFTWARE,
			       k->version, k->name, k->spki, k->spki_len, k->label != NULL ? k->label : k->name,
			       k->id_len > 0 ? k->id : NULL, k->id_len };
	if (k->mac)
		i.secret_len = k->nlen;
	return i;
}

size_t hw_gcp_count(void *vc)
{
	hw_gcp_ctx *c = vc;
	pthread_mutex_lock(&c->lock);
	size_t n = c->nrecs;
	pthread_mutex_unlock(&c->lock);
	return n;
}

hw_cloud_rec hw_gcp_record(void *vc, size_t i, hw_cloud_keyinfo *ki, void **bdata)
{
	hw_gcp_ctx *c = vc;
	hw_cloud_rec st = HW_CLOUD_REC_NONE;
	pthread_mutex_lock(&c->lock);
	if (i < c->nrecs) {
		hw_gcp_key *k = c->recs[i];
		st = k->dead ? HW_CLOUD_REC_DEAD : k->seen ? HW_CLOUD_REC_SHOWN : HW_CLOUD_REC_HIDDEN;
		*ki = key_info(c, k);
		if (bdata != NULL)
			*bdata = k;
	}
	pthread_mutex_unlock(&c->lock);
	return st;
}

CK_RV hw_gcp_key_attrs(hw_gcp_ctx *c, const hw_gcp_key *k, hw_attrs *pub, hw_attrs *priv)
{
	hw_cloud_keyinfo i = key_info(c, k);
	return k->mac ? hw_cloud_secret_attrs(&i, priv) : hw_cloud_key_attrs(&i, pub, priv);
}

/* One page after another of a list call; each page goes to fn. */
static CK_RV walk(hw_gcp_ctx *c, const char *op, const char *path, CK_RV (*parse)(const char *, size_t, hw_gcp_list *),
		  CK_RV (*fn)(hw_gcp_ctx *, const hw_gcp_item *, void *), void *arg, hw_cloud_err *e)
{
	char *token = NULL;
	CK_RV rv;
	do {
		hw_http_resp r = { 0 };
		hw_gcp_list l;
		hw_sb p = { 0 };
		hw_sb_printf(&p, "%s&pageSize=1000", path);
		if (token != NULL)
			hw_sb_printf(&p, "&pageToken=%s", token);
		char *full = hw_sb_take(&p);
		free(token);
		token = NULL;
		if (full == NULL)
			return CKR_HOST_MEMORY;
		rv = hw_gcp_call_raw(c, op, "GET", full, NULL, true, 0, 0, &r, e);
		free(full);
		if (rv == CKR_OK && (rv = parse(r.body, r.len, &l)) == CKR_OK) {
			for (size_t i = 0; rv == CKR_OK && i < l.n; i++)
				rv = fn(c, &l.items[i], arg);
			/* a page token is opaque but goes into a URL: only URL-safe ones */
			if (rv == CKR_OK && l.next != NULL && strspn(l.next, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
								     "0123456789-_.~") == strlen(l.next))
				token = l.next, l.next = NULL;
			hw_gcp_list_free(&l);
		} else if (rv != CKR_OK && r.status == 200) {
			hw_cloud_err_set(e, rv, HW_CLOUD_PROVIDER, "MalformedResponse", "the listing is not what %s answers", op);
			hw_cloud_err_log(c->cs.conf->name, "gcp-kms", op, e);
		}
		hw_http_resp_free(&r);
	} while (rv == CKR_OK && token != NULL);
	free(token);
	return rv;
}

static CK_RV on_version(hw_gcp_ctx *c, const hw_gcp_item *v, void *arg)
{
	const hw_gcp_item *key = arg;
	hw_cloud_err e;
	size_t idx;
	if (v->state == NULL || strcmp(v->state, "ENABLED") != 0)
		return CKR_OK;
	pthread_mutex_lock(&c->lock);
	hw_gcp_key *k = find_inlock(c, v->name, NULL);
	if (k != NULL && !k->dead)
		k->seen = true;
	pthread_mutex_unlock(&c->lock);
	if (k != NULL)
		return CKR_OK;
	hw_gcp_key probe = { 0 };
	CK_RV rv = hw_gcp_mac_alg(v->alg, &probe) ? hw_gcp_mac_fetch(c, v->name, &k, &e) : hw_gcp_key_fetch(c, v->name, &k, &e);
	if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
		return CKR_OK;  /* an algorithm hwagg does not serve, or gone meanwhile */
	if (rv != CKR_OK)
		return rv;
	if (key->label != NULL && (k->label = strdup(key->label)) == NULL) {
		hw_gcp_key_free(k);
		return CKR_HOST_MEMORY;
	}
	hw_gcp_key_set_id(k, key->id, key->id_len);
	return hw_gcp_key_keep(c, k, &idx) != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV on_key(hw_gcp_ctx *c, const hw_gcp_item *key, void *arg)
{
	hw_cloud_err *e = arg;
	char path[1200];
	if (!key->ours)
		return CKR_OK;  /* the filter already says so; a proxy may not */
	snprintf(path, sizeof(path), "%s/cryptoKeyVersions?filter=state%%3DENABLED", key->name);
	return walk(c, "ListCryptoKeyVersions", path, hw_gcp_parse_versions, on_version, (void *)key, e);
}

CK_RV hw_gcp_list_keys(void *vc, hw_obj_sink sink, void *arg)
{
	hw_gcp_ctx *c = vc;
	hw_cloud_err e;
	char path[1200];
	CK_RV rv;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nrecs; i++)
		c->recs[i]->seen = false;
	pthread_mutex_unlock(&c->lock);
	snprintf(path, sizeof(path), "%s/cryptoKeys?filter=labels.%s%%3Dpkcs11", c->key_ring, HW_GCP_LABEL_MARK);
	rv = walk(c, "ListCryptoKeys", path, hw_gcp_parse_keys, on_key, &e, &e);
	if (rv != CKR_OK)
		return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? CKR_DEVICE_ERROR : rv;
	return hw_cloud_report(c, sink, arg);
}
