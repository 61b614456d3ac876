/*
 * The aws-kms slot's keys: the table of known keys, reading one key from
 * KMS (DescribeKey, GetPublicKey, ListResourceTags), the listing (the
 * configured keys plus every key tagged by hwagg: never the whole account's
 * keys as objects), and the attributes of each key's two objects.
 */
#include "slots/aws_kms.h"
#include "common/log.h"
#include "mechanisms/encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hw_kms_key_free(hw_kms_key *k)
{
	if (k == NULL)
		return;
	free(k->arn);
	free(k->alias);
	free(k->spki);
	free(k->label);
	free(k->nonce);
	free(k);
}

hw_kms_key *hw_kms_key_find_inlock(hw_kms_ctx *c, const char *arn)
{
	for (size_t i = 0; i < c->nrecs; i++)
		if (strcmp(c->recs[i]->arn, arn) == 0)
			return c->recs[i];
	return NULL;
}

hw_kms_key *hw_kms_key_add_inlock(hw_kms_ctx *c, hw_kms_key *k)
{
	hw_kms_key *old = hw_kms_key_find_inlock(c, k->arn);
	if (old != NULL) {
		hw_kms_key_free(k);
		return old;
	}
	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		hw_kms_key **n = realloc(c->recs, cap * sizeof(*n));
		if (n == NULL) {
			hw_kms_key_free(k);
			return NULL;
		}
		c->recs = n;
		c->cap = cap;
	}
	c->recs[c->nrecs++] = k;
	return k;
}

size_t hw_kms_key_index_inlock(hw_kms_ctx *c, const hw_kms_key *k)
{
	for (size_t i = 0; i < c->nrecs; i++)
		if (c->recs[i] == k)
			return i;
	return (size_t)-1;
}

/* KeySpec -> what PKCS#11 needs. false for specs hwagg does not serve. */
static bool spec_parse(const char *spec, hw_kms_key *k)
{
	static const struct {
		const char *spec;
		CK_KEY_TYPE type;
		size_t nlen;
		CK_MECHANISM_TYPE hash;
	} specs[] = {
		{ "ECC_NIST_P256", CKK_EC, 32, CKM_SHA256 }, { "ECC_NIST_P384", CKK_EC, 48, CKM_SHA384 },
		{ "ECC_NIST_P521", CKK_EC, 66, CKM_SHA512 }, { "RSA_2048", CKK_RSA, 256, 0 },
		{ "RSA_3072", CKK_RSA, 384, 0 },             { "RSA_4096", CKK_RSA, 512, 0 },
		/* HMAC keys: as many bytes as their one digest's output */
		{ "HMAC_224", CKK_SHA224_HMAC, 28, CKM_SHA224 }, { "HMAC_256", CKK_SHA256_HMAC, 32, CKM_SHA256 },
		{ "HMAC_384", CKK_SHA384_HMAC, 48, CKM_SHA384 }, { "HMAC_512", CKK_SHA512_HMAC, 64, CKM_SHA512 },
		/* 256-bit AES-GCM inside KMS: a key-encryption key */
		{ "SYMMETRIC_DEFAULT", CKK_AES, 32, 0 },
	};
	for (size_t i = 0; spec != NULL && i < sizeof(specs) / sizeof(specs[0]); i++)
		if (strcmp(spec, specs[i].spec) == 0) {
			k->type = specs[i].type;
			k->nlen = specs[i].nlen;
			k->ec_hash = specs[i].hash;
			return true;
		}
	return false;
}

static int hexv(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* CKA_LABEL, CKA_ID (hex) and the request nonce from a Tags array. */
static CK_RV tags_apply(json_object *tags, hw_kms_key *k, bool *ours)
{
	*ours = false;
	size_t n = json_object_is_type(tags, json_type_array) ? json_object_array_length(tags) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(tags, i);
		const char *key = hw_cloud_jstr(t, "TagKey"), *val = hw_cloud_jstr(t, "TagValue");
		if (key == NULL || val == NULL)
			continue;
		if (strcmp(key, HW_KMS_TAG_MARK) == 0) {
			*ours = true;
		} else if (strcmp(key, "CKA_LABEL") == 0) {
			free(k->label);
			if ((k->label = strdup(val)) == NULL)
				return CKR_HOST_MEMORY;
		} else if (strcmp(key, "CKA_ID") == 0) {
			size_t l = strlen(val);
			k->id_len = 0;
			for (size_t j = 0; l % 2 == 0 && j + 1 < l && k->id_len < sizeof(k->id); j += 2) {
				int hi = hexv(val[j]), lo = hexv(val[j + 1]);
				if (hi < 0 || lo < 0) {
					k->id_len = 0;
					break;
				}
				k->id[k->id_len++] = (unsigned char)(hi * 16 + lo);
			}
		} else if (strcmp(key, "CKA_KEY_TYPE") == 0) {
			k->generic = strcmp(val, "CKK_GENERIC_SECRET") == 0;
		} else if (strcmp(key, HW_KMS_TAG_REQUEST) == 0) {
			free(k->nonce);
			if ((k->nonce = strdup(val)) == NULL)
				return CKR_HOST_MEMORY;
		}
	}
	return CKR_OK;
}

static CK_RV key_tags(hw_kms_ctx *c, const char *arn, json_object **tags, hw_cloud_err *e)
{
	json_object *req = json_object_new_object(), *resp = NULL, *t;
	json_object_object_add(req, "KeyId", json_object_new_string(arn));
	json_object_object_add(req, "Limit", json_object_new_int(50));
	CK_RV rv = hw_kms_call(c, "ListResourceTags", true, req, &resp, e);
	json_object_put(req);
	*tags = NULL;
	if (rv == CKR_OK && json_object_object_get_ex(resp, "Tags", &t))
		*tags = json_object_get(t);
	json_object_put(resp);
	return rv;
}

CK_RV hw_kms_key_fetch(hw_kms_ctx *c, const char *key_id, bool want_tags, hw_kms_key **out, hw_cloud_err *e)
{
	json_object *req = json_object_new_object(), *resp = NULL, *md, *tags = NULL;
	hw_kms_key *k = calloc(1, sizeof(*k));
	CK_RV rv = CKR_HOST_MEMORY;
	bool ours;
	*out = NULL;
	if (k == NULL || req == NULL)
		goto out;
	json_object_object_add(req, "KeyId", json_object_new_string(key_id));
	if ((rv = hw_kms_call(c, "DescribeKey", true, req, &resp, e)) != CKR_OK)
		goto out;
	const char *arn, *usage, *state;
	if (!json_object_object_get_ex(resp, "KeyMetadata", &md) || (arn = hw_cloud_jstr(md, "Arn")) == NULL ||
	    (usage = hw_cloud_jstr(md, "KeyUsage")) == NULL || (state = hw_cloud_jstr(md, "KeyState")) == NULL) {
		hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "DescribeKey answered without Arn, KeyUsage or KeyState");
		hw_cloud_err_log(c->cs.conf->name, "aws-kms", "DescribeKey", e);
		goto out;
	}
	/* a key hwagg cannot use is not an object: deleted, disabled, symmetric */
	const char *spec = hw_cloud_jstr(md, "KeySpec");
	if (spec == NULL)
		spec = hw_cloud_jstr(md, "CustomerMasterKeySpec");
	bool mac = strcmp(usage, "GENERATE_VERIFY_MAC") == 0, ed = strcmp(usage, "ENCRYPT_DECRYPT") == 0;
	bool pair = spec_parse(spec, k) && (k->type == CKK_EC || k->type == CKK_RSA);
	/* key pairs sign or decrypt, HMAC keys MAC, symmetric keys wrap */
	if (strcmp(state, "Enabled") != 0 || k->nlen == 0 ||
	    !(pair ? strcmp(usage, "SIGN_VERIFY") == 0 || ed : k->type == CKK_AES ? ed : mac)) {
		hw_debug("slot \"%s\" (aws-kms): key %s skipped (%s, %s, %s)", c->cs.conf->name, arn, state,
			 spec ? spec : "no spec", usage);
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	k->decrypt = strcmp(usage, "ENCRYPT_DECRYPT") == 0;
	k->mac = mac;
	k->kek = k->type == CKK_AES;
	if ((k->arn = strdup(arn)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	json_object_put(resp);
	resp = NULL;
	json_object_object_add(req, "KeyId", json_object_new_string(k->arn));
	/* a secret key has no public part */
	if (pair && (rv = hw_kms_call(c, "GetPublicKey", true, req, &resp, e)) != CKR_OK)
		goto out;
	if (pair && (k->spki = hw_b64_decode(hw_cloud_jstr(resp, "PublicKey"), &k->spki_len)) == NULL) {
		hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "GetPublicKey answered without a base64 PublicKey");
		hw_cloud_err_log(c->cs.conf->name, "aws-kms", "GetPublicKey", e);
		goto out;
	}
	if (want_tags && (rv = key_tags(c, k->arn, &tags, e)) != CKR_OK)
		goto out;
	if ((rv = tags_apply(tags, k, &ours)) != CKR_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	json_object_put(req);
	json_object_put(resp);
	json_object_put(tags);
	hw_kms_key_free(k);
	return rv;
}

static hw_cloud_keyinfo key_info(hw_kms_ctx *c, const hw_kms_key *k)
{
	hw_cloud_keyinfo i = { "aws-kms", c->cs.conf->name, k->type, k->decrypt, HW_SEC_HARDWARE, 1, k->arn, k->spki,
			       k->spki_len, k->label != NULL ? k->label : k->alias != NULL ? k->alias : k->arn,
			       k->id_len > 0 ? k->id : NULL, k->id_len };
	if (k->mac || k->kek) {
		i.secret_len = k->nlen;
		if (k->generic)
			i.type = CKK_GENERIC_SECRET;
	}
	return i;
}

CK_RV hw_kms_key_attrs(hw_kms_ctx *c, const hw_kms_key *k, hw_attrs *pub, hw_attrs *priv)
{
	hw_cloud_keyinfo i = key_info(c, k);
	return k->mac || k->kek ? hw_cloud_secret_attrs(&i, priv) : hw_cloud_key_attrs(&i, pub, priv);
}

size_t hw_kms_count(void *vc)
{
	hw_kms_ctx *c = vc;
	pthread_mutex_lock(&c->lock);
	size_t n = c->nrecs;
	pthread_mutex_unlock(&c->lock);
	return n;
}

hw_cloud_rec hw_kms_record(void *vc, size_t i, hw_cloud_keyinfo *ki, void **bdata)
{
	hw_kms_ctx *c = vc;
	hw_cloud_rec st = HW_CLOUD_REC_NONE;
	pthread_mutex_lock(&c->lock);
	if (i < c->nrecs) {
		hw_kms_key *k = c->recs[i];
		st = k->dead ? HW_CLOUD_REC_DEAD : k->seen ? HW_CLOUD_REC_SHOWN : HW_CLOUD_REC_HIDDEN;
		*ki = key_info(c, k);
		if (bdata != NULL)
			*bdata = k;
	}
	pthread_mutex_unlock(&c->lock);
	return st;
}

static bool foreign_inlock(hw_kms_ctx *c, const char *arn)
{
	for (size_t i = 0; i < c->nforeign; i++)
		if (strcmp(c->foreign[i], arn) == 0)
			return true;
	return false;
}

static void foreign_add(hw_kms_ctx *c, const char *arn)
{
	char *d = strdup(arn);
	pthread_mutex_lock(&c->lock);
	if (d != NULL && c->nforeign == c->fcap) {
		size_t cap = c->fcap ? c->fcap * 2 : 32;
		char **n = realloc(c->foreign, cap * sizeof(*n));
		if (n != NULL) {
			c->foreign = n;
			c->fcap = cap;
		}
	}
	if (d != NULL && c->nforeign < c->fcap) {
		c->foreign[c->nforeign++] = d;
		d = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(d);
}

/* Record k (already fetched) as listed; the table keeps the first copy. */
static hw_kms_key *remember(hw_kms_ctx *c, hw_kms_key *k, const char *alias)
{
	if (alias != NULL && k->alias == NULL)
		k->alias = strdup(alias);
	pthread_mutex_lock(&c->lock);
	k = hw_kms_key_add_inlock(c, k);
	if (k != NULL)
		k->seen = true;
	pthread_mutex_unlock(&c->lock);
	return k;
}

/* Walk ListKeys: every key not known to be foreign gets its tags read once;
 * hwagg's are fetched. nonce: stop at the key carrying it (*found). */
static CK_RV walk_tagged(hw_kms_ctx *c, const char *nonce, char **found, hw_cloud_err *e)
{
	json_object *req = json_object_new_object(), *resp = NULL, *keys;
	char *marker = NULL;
	CK_RV rv = CKR_OK;
	do {
		json_object_object_add(req, "Limit", json_object_new_int(1000));
		if (marker != NULL)
			json_object_object_add(req, "Marker", json_object_new_string(marker));
		if ((rv = hw_kms_call(c, "ListKeys", true, req, &resp, e)) != CKR_OK)
			break;
		size_t n = json_object_object_get_ex(resp, "Keys", &keys) && json_object_is_type(keys, json_type_array) ?
			   json_object_array_length(keys) : 0;
		for (size_t i = 0; rv == CKR_OK && i < n; i++) {
			const char *arn = hw_cloud_jstr(json_object_array_get_idx(keys, i), "KeyArn");
			if (arn == NULL)
				continue;
			pthread_mutex_lock(&c->lock);
			hw_kms_key *k = hw_kms_key_find_inlock(c, arn);
			bool skip = foreign_inlock(c, arn);
			if (k != NULL && !k->dead && nonce == NULL)
				k->seen = true;
			if (k != NULL && nonce != NULL && k->nonce != NULL && strcmp(k->nonce, nonce) == 0)
				*found = strdup(arn);
			pthread_mutex_unlock(&c->lock);
			if (k != NULL || skip)
				continue;
			json_object *tags = NULL;
			bool ours = false;
			hw_kms_key probe;
			memset(&probe, 0, sizeof(probe));
			if ((rv = key_tags(c, arn, &tags, e)) != CKR_OK)
				break;
			rv = tags_apply(tags, &probe, &ours);
			free(probe.label);
			if (!ours) {
				foreign_add(c, arn);
			} else if (rv == CKR_OK) {
				hw_kms_key *nk = NULL;
				rv = hw_kms_key_fetch(c, arn, true, &nk, e);
				if (rv == CKR_OBJECT_HANDLE_INVALID) {
					foreign_add(c, arn);    /* ours, but not usable (pending deletion) */
					rv = CKR_OK;
				} else if (rv == CKR_OK && remember(c, nk, NULL) == NULL) {
					rv = CKR_HOST_MEMORY;
				}
				if (rv == CKR_OK && nonce != NULL && probe.nonce != NULL && strcmp(probe.nonce, nonce) == 0)
					*found = strdup(arn);
			}
			free(probe.nonce);
			json_object_put(tags);
		}
		free(marker);
		marker = NULL;
		json_object *tr;
		const char *next = hw_cloud_jstr(resp, "NextMarker");
		if (rv == CKR_OK && json_object_object_get_ex(resp, "Truncated", &tr) && json_object_get_boolean(tr) &&
		    next != NULL && (marker = strdup(next)) == NULL)
			rv = CKR_HOST_MEMORY;
		json_object_put(resp);
		resp = NULL;
	} while (rv == CKR_OK && marker != NULL && (found == NULL || *found == NULL));
	free(marker);
	json_object_put(req);
	return rv;
}

CK_RV hw_kms_find_nonce(hw_kms_ctx *c, const char *nonce, char **arn, hw_cloud_err *e)
{
	*arn = NULL;
	return walk_tagged(c, nonce, arn, e);
}

CK_RV hw_kms_list(void *vc, hw_obj_sink sink, void *arg)
{
	hw_kms_ctx *c = vc;
	hw_cloud_err e;
	CK_RV rv = CKR_OK;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nrecs; i++)
		c->recs[i]->seen = false;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; rv == CKR_OK && i < c->nkeys; i++) {
		hw_kms_key *k = NULL;
		pthread_mutex_lock(&c->lock);
		for (size_t j = 0; j < c->nrecs && k == NULL; j++)
			if (c->recs[j]->alias != NULL && strcmp(c->recs[j]->alias, c->keys[i]) == 0 && !c->recs[j]->dead)
				k = c->recs[j];
		if (k != NULL)
			k->seen = true;
		pthread_mutex_unlock(&c->lock);
		if (k != NULL)
			continue;
		if ((rv = hw_kms_key_fetch(c, c->keys[i], true, &k, &e)) == CKR_OK)
			rv = remember(c, k, c->keys[i]) != NULL ? CKR_OK : CKR_HOST_MEMORY;
		else if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
			rv = CKR_OK;    /* named but unusable or gone: logged, not listed */
	}
	if (rv == CKR_OK)
		rv = walk_tagged(c, NULL, NULL, &e);
	if (rv != CKR_OK)
		return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? CKR_DEVICE_ERROR : rv;
	return hw_cloud_report(c, sink, arg);
}
