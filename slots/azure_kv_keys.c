/*
 * The azure-kv slot's keys: the table of known keys (one record per key
 * version), the listing (the configured "keys" plus every key tagged by
 * hwagg, never the whole vault as objects) and the attributes of each
 * key's two objects.
 *
 * A key already known by name is not read again at the next listing (reads
 * count against the vault's throttling limits): a version made by a
 * rotation elsewhere appears in a new process (README).
 */
#include "slots/azure_kv.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hw_az_key_free(hw_az_key *k)
{
	if (k == NULL)
		return;
	free(k->name);
	free(k->version);
	free(k->kid);
	free(k->spki);
	free(k->label);
	free(k);
}

static hw_az_key *find_name_inlock(hw_az_ctx *c, const char *name)
{
	/* the newest record of the name that is still listed */
	for (size_t i = c->nrecs; i-- > 0;)
		if (strcmp(c->recs[i]->name, name) == 0 && !c->recs[i]->dead)
			return c->recs[i];
	return NULL;
}

hw_az_key *hw_az_key_add_inlock(hw_az_ctx *c, hw_az_key *k)
{
	for (size_t i = 0; i < c->nrecs; i++)
		if (strcmp(c->recs[i]->name, k->name) == 0 && strcmp(c->recs[i]->version, k->version) == 0) {
			hw_az_key_free(k);
			return c->recs[i];
		}
	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		hw_az_key **n = realloc(c->recs, cap * sizeof(*n));
		if (n == NULL) {
			hw_az_key_free(k);
			return NULL;
		}
		c->recs = n;
		c->cap = cap;
	}
	c->recs[c->nrecs++] = k;
	return k;
}

size_t hw_az_key_index_inlock(hw_az_ctx *c, const hw_az_key *k)
{
	for (size_t i = 0; i < c->nrecs; i++)
		if (c->recs[i] == k)
			return i;
	return (size_t)-1;
}

static hw_cloud_keyinfo key_info(hw_az_ctx *c, const hw_az_key *k)
{
	/* a key whose key_ops allow both signs and decrypts */
	hw_cloud_keyinfo i = { "azure-kv", c->cs.conf->name, k->type, k->decrypt, k->hsm ? HW_SEC_HARDWARE : HW_SEC_SOFTWARE,
			       1, k->kid, k->spki, k->spki_len, k->label != NULL ? k->label : k->name,
			       k->id_len > 0 ? k->id : NULL, k->id_len, k->decrypt && k->sign };
	i.wraps = k->wrap;
	return i;
}

size_t hw_az_count(void *ctx)
{
	hw_az_ctx *c = ctx;
	pthread_mutex_lock(&c->lock);
	size_t n = c->nrecs;
	pthread_mutex_unlock(&c->lock);
	return n;
}

hw_cloud_rec hw_az_record(void *ctx, size_t i, hw_cloud_keyinfo *ki, void **bdata)
{
	hw_az_ctx *c = ctx;
	hw_cloud_rec st = HW_CLOUD_REC_NONE;
	pthread_mutex_lock(&c->lock);
	if (i < c->nrecs) {
		hw_az_key *k = c->recs[i];
		st = k->dead ? HW_CLOUD_REC_DEAD : k->seen ? HW_CLOUD_REC_SHOWN : HW_CLOUD_REC_HIDDEN;
		*ki = key_info(c, k);
		if (bdata != NULL)
			*bdata = k;
	}
	pthread_mutex_unlock(&c->lock);
	return st;
}

CK_RV hw_az_key_attrs(hw_az_ctx *c, const hw_az_key *k, hw_attrs *pub, hw_attrs *priv)
{
	hw_cloud_keyinfo i = key_info(c, k);
	return hw_cloud_key_attrs(&i, pub, priv);
}

static bool configured(hw_az_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i], name) == 0)
			return true;
	return false;
}

/* GET the current version of a key and record it as listed. */
static CK_RV fetch(hw_az_ctx *c, const char *name, hw_cloud_err *e)
{
	char path[160];
	json_object *resp = NULL;
	hw_az_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return CKR_HOST_MEMORY;
	snprintf(path, sizeof(path), "/keys/%s/", name);
	CK_RV rv = hw_az_call(c, "GetKey", "GET", path, true, NULL, &resp, e);
	if (rv == CKR_OK && (rv = hw_az_parse_bundle(resp, k)) == CKR_DEVICE_ERROR)
		hw_error("slot \"%s\" (azure-kv): GetKey answered a malformed key bundle for %s", c->cs.conf->name, name);
	json_object_put(resp);
	if (rv == CKR_OK && (!k->enabled || (!k->ours && !configured(c, k->name)) || (!k->sign && !k->decrypt)))
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		hw_debug("slot \"%s\" (azure-kv): key %s skipped (disabled, unsupported type or no usable operation)",
			 c->cs.conf->name, name);
	if (rv != CKR_OK) {
		hw_az_key_free(k);
		return rv;
	}
	pthread_mutex_lock(&c->lock);
	hw_az_key *kept = hw_az_key_add_inlock(c, k);
	if (kept != NULL)
		kept->seen = true;
	pthread_mutex_unlock(&c->lock);
	return kept != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

/* A name known and listed already: seen again, no request. */
static bool known(hw_az_ctx *c, const char *name)
{
	pthread_mutex_lock(&c->lock);
	hw_az_key *k = find_name_inlock(c, name);
	if (k != NULL)
		k->seen = true;
	pthread_mutex_unlock(&c->lock);
	return k != NULL;
}

/* Walk GET /keys, following nextLink: every tagged or configured key. */
static CK_RV walk(hw_az_ctx *c, hw_cloud_err *e)
{
	json_object *resp = NULL, *items, *tags;
	char *next = NULL;
	CK_RV rv = hw_az_call(c, "ListKeys", "GET", "/keys?maxresults=25", true, NULL, &resp, e);
	while (rv == CKR_OK) {
		size_t n = json_object_object_get_ex(resp, "value", &items) && json_object_is_type(items, json_type_array) ?
			   json_object_array_length(items) : 0;
		for (size_t i = 0; rv == CKR_OK && i < n; i++) {
			json_object *it = json_object_array_get_idx(items, i);
			char *name = NULL, *version = NULL;
			if (hw_az_parse_kid(hw_cloud_jstr(it, "kid"), &name, &version) != CKR_OK)
				continue;
			bool ours = json_object_object_get_ex(it, "tags", &tags) && hw_cloud_jstr(tags, HW_AZ_TAG_MARK) != NULL;
			if ((ours || configured(c, name)) && !known(c, name)) {
				rv = fetch(c, name, e);
				if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
					rv = CKR_OK;    /* unusable or deleted meanwhile: not listed */
			}
			free(name);
			free(version);
		}
		const char *nl = hw_cloud_jstr(resp, "nextLink");
		free(next);
		next = rv == CKR_OK && nl != NULL && nl[0] != '\0' ? strdup(nl) : NULL;
		json_object_put(resp);
		resp = NULL;
		if (next == NULL)
			break;
		rv = hw_az_call_url(c, "ListKeys", next, &resp, e, 0, 0);
	}
	free(next);
	json_object_put(resp);
	return rv;
}

CK_RV hw_az_list(void *ctx, hw_obj_sink sink, void *arg)
{
	hw_az_ctx *c = ctx;
	hw_cloud_err e;
	CK_RV rv;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nrecs; i++)
		c->recs[i]->seen = false;
	pthread_mutex_unlock(&c->lock);
	/* the configured keys first: listing may be denied where get is not */
	for (size_t i = 0; i < c->nkeys; i++)
		if (!known(c, c->keys[i]) && (rv = fetch(c, c->keys[i], &e)) != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID &&
		    rv != CKR_KEY_HANDLE_INVALID)
			goto fail;
	if ((rv = walk(c, &e)) == CKR_KEY_FUNCTION_NOT_PERMITTED && c->nkeys > 0) {
		/* a signer may have get but not list: its configured keys suffice */
		hw_warn("slot \"%s\" (azure-kv): listing the vault is not permitted; showing the configured keys only",
			c->cs.conf->name);
		rv = CKR_OK;
	}
	if (rv != CKR_OK)
		goto fail;
	return hw_cloud_report(c, sink, arg);
fail:
	return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? CKR_DEVICE_ERROR : rv;
}
