/*
 * The "aws-kms" slot: PKCS#11 keys that live in AWS KMS (README, "AWS
 * KMS"). C_Initialize opens no connection: the configuration is read here,
 * the service is first asked when the slot is used. The token is present
 * until a call finds the service unreachable, absent from then on, and
 * present again once a probe (started by a token query, run on its own
 * thread, never awaited) or any other call gets an answer:
 * C_GetSlotList and C_GetTokenInfo never wait on the network.
 */
#include "slots/aws_kms.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROBE_MS 2000

static char *env_or(const char *conf_value, const char *env)
{
	const char *v = conf_value != NULL ? conf_value : secure_getenv(env);
	return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

static CK_RV ping(void *arg);

/* AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL is set: the endpoint does not
 * depend on the region */
static bool endpoint_env(void)
{
	const char *k = secure_getenv("AWS_ENDPOINT_URL_KMS"), *a = secure_getenv("AWS_ENDPOINT_URL");
	return (k != NULL && k[0] != '\0') || (a != NULL && a[0] != '\0');
}

static CK_RV set_endpoint(hw_kms_ctx *c, const char *ep, char *err, size_t err_len)
{
	size_t el = strlen(ep);
	if ((c->host = hw_cloud_authority(ep)) == NULL)
		return hw_cloud_conf_error(err, err_len, "endpoint: expected https://host[:port] (no path), not \"%s\"", ep);
	if ((c->url = malloc(el + 2)) == NULL)
		return CKR_HOST_MEMORY;
	snprintf(c->url, el + 2, "%s%s", ep, ep[el - 1] == '/' ? "" : "/");
	return CKR_OK;
}

CK_RV hw_kms_locate(hw_kms_ctx *c, hw_cloud_err *e)
{
	char *region = NULL, *ep = NULL, err[160] = "";
	CK_RV rv = CKR_OK;
	memset(e, 0, sizeof(*e));
	if (__atomic_load_n(&c->located, __ATOMIC_ACQUIRE))
		return CKR_OK;
	pthread_mutex_lock(&c->where);
	if (c->located)
		goto out;
	/* not remembered when it fails: the next call asks again */
	if ((rv = hw_aws_imds_region(&c->chain, &region, e)) != CKR_OK)
		goto out;
	if ((rv = hw_aws_chain_set_region(&c->chain, region)) != CKR_OK)
		goto out;
	if (c->url == NULL && ((ep = hw_aws_endpoint("AWS_ENDPOINT_URL_KMS", "kms", region)) == NULL ||
			       (rv = set_endpoint(c, ep, err, sizeof(err))) != CKR_OK)) {
		if (rv == CKR_OK)
			rv = CKR_HOST_MEMORY;
		hw_cloud_err_set(e, rv, HW_CLOUD_CONFIG, "", "no usable endpoint for region %s", region);
		goto out;
	}
	c->region = region;
	region = NULL;
	hw_info("slot \"%s\" (aws-kms): region %s (from instance metadata), endpoint %s", c->cs.conf->name,
		c->region, c->url);
	__atomic_store_n(&c->located, true, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&c->where);
	free(region);
	free(ep);
	return rv;
}

/* what the shared hooks (cloud_slot.c) call for this service */
static const hw_cloud_keyops keyops = { hw_kms_list, hw_kms_count, hw_kms_record, hw_kms_destroy, hw_kms_generate,
					 hw_kms_sign, hw_kms_decrypt, hw_kms_disable,
					 NULL /* asymmetric KMS keys have no versions */,
					 hw_kms_generate_secret, hw_kms_mac, HW_KMS_MAC_MAX, hw_kms_wrap, hw_kms_unwrap };

static CK_RV kms_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_kms_ctx *c = vctx;
	json_object *keys;
	char *ca = NULL, *ep = NULL;
	CK_RV rv = CKR_HOST_MEMORY;
	const char *profile = hw_conf_str(conf, "profile", NULL);
	c->cs.keys = &keyops;
	c->cs.conf = conf;
	c->cs.ec_max_bits = 521;
	c->window_days = (int)hw_conf_int(conf, "deletion_window_days", 30);
	if (c->window_days < 7 || c->window_days > 30)
		return hw_cloud_conf_error(err, err_len, "deletion_window_days: expected 7 to 30 (days KMS keeps a key %s)",
				  "before deleting it");
	c->cs.pin = hw_conf_str(conf, "pin", NULL);
	/* region: the slot's, the environment's, the profile's (files only);
	 * else instance metadata's, asked by the first call (never here) */
	if ((c->region = env_or(hw_conf_str(conf, "region", NULL), "AWS_REGION")) == NULL &&
	    (c->region = env_or(NULL, "AWS_DEFAULT_REGION")) == NULL)
		c->region = hw_aws_profile_region(profile != NULL ? profile : secure_getenv("AWS_PROFILE"));
	if (c->region != NULL && !hw_aws_region_ok(c->region))
		return hw_cloud_conf_error(err, err_len, "region: \"%s\" is not a region name", c->region);
	/* the endpoint: the slot's, the environment's, or the region's */
	const char *cep = hw_conf_str(conf, "endpoint", NULL);
	if (cep != NULL)
		ep = strdup(cep);
	else if (c->region != NULL || endpoint_env())
		ep = hw_aws_endpoint("AWS_ENDPOINT_URL_KMS", "kms", c->region);
	if ((cep != NULL || c->region != NULL || endpoint_env()) && ep == NULL)
		goto out;
	if (ep != NULL && (rv = set_endpoint(c, ep, err, err_len)) != CKR_OK)
		goto out;
	rv = CKR_HOST_MEMORY;
	hw_sb id = { 0 };
	hw_sb_printf(&id, "aws-kms\n%s\n%s\n%s", c->region != NULL ? c->region : "(instance metadata)",
		     c->url != NULL ? c->url : "", conf->name);
	if ((c->token_id = hw_sb_take(&id)) == NULL)
		goto out;
	if (json_object_object_get_ex(conf->json, "keys", &keys)) {
		size_t n = json_object_array_length(keys);
		if ((c->keys = calloc(n ? n : 1, sizeof(*c->keys))) == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_object *k = json_object_array_get_idx(keys, i);
			if (!json_object_is_type(k, json_type_string) || json_object_get_string_len(k) == 0) {
				rv = hw_cloud_conf_error(err, err_len, "keys: expected key ids, ARNs or \"alias/...\" names");
				goto out;
			}
			if ((c->keys[c->nkeys++] = strdup(json_object_get_string(k))) == NULL)
				goto out;
		}
	}
	ca = env_or(hw_conf_str(conf, "ca_file", NULL), "AWS_CA_BUNDLE");
	if ((rv = hw_cloud_slot_open(&c->cs, all, "aws-kms", ca, ping, c)) != CKR_OK)
		goto out;
	if ((rv = hw_aws_chain_init(&c->chain, conf->name, profile, c->region, &c->cs.meta)) != CKR_OK) {
		hw_cloud_slot_close(&c->cs, false);
		goto out;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->where, NULL);
	c->located = c->region != NULL;
	c->opened = true;
	hw_info("slot \"%s\" (aws-kms): region %s, endpoint %s, %zu configured keys%s", conf->name,
		c->region != NULL ? c->region : "from instance metadata on first use",
		c->url != NULL ? c->url : "of the region", c->nkeys, ca != NULL ? ", extra CA file" : "");
	rv = CKR_OK;
out:
	free(ep);
	free(ca);
	if (rv != CKR_OK && err[0] == '\0')
		snprintf(err, err_len, "out of memory");
	return rv;
}

static void kms_close(void *vctx, bool forked)
{
	hw_kms_ctx *c = vctx;
	if (c->opened) {
		hw_cloud_slot_close(&c->cs, forked);
		hw_aws_chain_fini(&c->chain, forked);
		if (!forked) {
			pthread_mutex_destroy(&c->lock);
			pthread_mutex_destroy(&c->where);
		}
	}
	for (size_t i = 0; i < c->nrecs; i++)
		hw_kms_key_free(c->recs[i]);
	free(c->recs);
	for (size_t i = 0; i < c->nforeign; i++)
		free(c->foreign[i]);
	free(c->foreign);
	for (size_t i = 0; i < c->nkeys; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c->region);
	free(c->url);
	free(c->host);
	free(c->token_id);
}

/* A short ListKeys: is the service there, and do our credentials work? */
static CK_RV ping(void *arg)
{
	hw_kms_ctx *c = arg;
	json_object *req = json_object_new_object(), *resp = NULL;
	hw_cloud_err e;
	json_object_object_add(req, "Limit", json_object_new_int(1));
	CK_RV rv = hw_kms_call_ex(c, "ListKeys", req, &resp, &e, 1, PROBE_MS);
	json_object_put(req);
	json_object_put(resp);
	return rv;
}

static CK_RV kms_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_kms_ctx *c = vctx;
	return hw_cloud_token_info(&c->cs, c->token_id, info);
}

static CK_RV kms_health(void *vctx, char *msg, size_t len)
{
	hw_kms_ctx *c = vctx;
	char why[192];
	CK_RV rv = ping(c);
	hw_cloud_health_why(&c->cs.health, why, sizeof(why));
	if (!__atomic_load_n(&c->located, __ATOMIC_ACQUIRE))
		snprintf(msg, len, "AWS KMS: no region (none configured, instance metadata gave none): %s",
			 hw_rv_name(rv));
	else if (rv == CKR_OK)
		snprintf(msg, len, "AWS KMS %s in %s answers; keys in KMS HSMs (hardware)", c->url, c->region);
	else
		snprintf(msg, len, "AWS KMS %s in %s: %s (see the log for the cause)", c->url, c->region,
			 why[0] ? why : hw_rv_name(rv));
	return rv;
}

static hw_security kms_security(void *vctx)
{
	return HW_SEC_HARDWARE;
}

const hw_backend_ops hw_aws_kms_ops = {
	.type = "aws-kms",
	.ctx_size = sizeof(hw_kms_ctx),
	.open = kms_open,
	.close = kms_close,
	.token_info = kms_token_info,
	HW_CLOUD_SLOT_HOOKS,
	HW_CLOUD_SECRET_HOOKS,
	HW_CLOUD_ENVELOPE_HOOKS,
	.health = kms_health,
	.security = kms_security,
	.default_refresh_s = 60,
	.default_timeout_ms = 10000,
	.starts_threads = true,
};
