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

/* what the shared hooks (cloud_slot.c) call for this service */
static const hw_cloud_keyops keyops = { hw_kms_list, hw_kms_count, hw_kms_record, hw_kms_destroy, hw_kms_generate,
					 hw_kms_sign, hw_kms_decrypt, hw_kms_disable };

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
	/* region: the slot's, the environment's, the profile's (files only) */
	if ((c->region = env_or(hw_conf_str(conf, "region", NULL), "AWS_REGION")) == NULL &&
	    (c->region = env_or(NULL, "AWS_DEFAULT_REGION")) == NULL &&
	    (c->region = hw_aws_profile_region(profile != NULL ? profile : secure_getenv("AWS_PROFILE"))) == NULL)
		return hw_cloud_conf_error(err, err_len, "region: expected a region such as \"eu-west-1\" (or set %s)",
				  "AWS_REGION");
	for (const char *p = c->region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return hw_cloud_conf_error(err, err_len, "region: \"%s\" is not a region name", c->region);
	const char *cep = hw_conf_str(conf, "endpoint", NULL);
	ep = cep != NULL ? strdup(cep) : hw_aws_endpoint("AWS_ENDPOINT_URL_KMS", "kms", c->region);
	if (ep == NULL)
		goto out;
	if ((c->host = hw_cloud_authority(ep)) == NULL) {
		rv = hw_cloud_conf_error(err, err_len, "endpoint: expected https://host[:port] (no path), not \"%s\"", ep);
		goto out;
	}
	size_t el = strlen(ep);
	if ((c->url = malloc(el + 2)) == NULL)
		goto out;
	snprintf(c->url, el + 2, "%s%s", ep, ep[el - 1] == '/' ? "" : "/");
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
	c->opened = true;
	hw_info("slot \"%s\" (aws-kms): region %s, endpoint %s, %zu configured keys%s", conf->name, c->region, c->url,
		c->nkeys, ca != NULL ? ", extra CA file" : "");
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
		if (!forked)
			pthread_mutex_destroy(&c->lock);
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
	char id[600];
	snprintf(id, sizeof(id), "aws-kms\n%s\n%s\n%s", c->region, c->url, c->cs.conf->name);
	return hw_cloud_token_info(&c->cs, id, info);
}

static CK_RV kms_health(void *vctx, char *msg, size_t len)
{
	hw_kms_ctx *c = vctx;
	char why[192];
	CK_RV rv = ping(c);
	hw_cloud_health_why(&c->cs.health, why, sizeof(why));
	if (rv == CKR_OK)
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
	.health = kms_health,
	.security = kms_security,
	.default_refresh_s = 60,
	.default_timeout_ms = 10000,
	.starts_threads = true,
};
