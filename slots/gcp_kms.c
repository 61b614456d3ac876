/*
 * The "gcp-kms" slot: PKCS#11 keys that live in a GCP Cloud KMS key ring
 * (README, "The gcp-kms slot"). C_Initialize opens no connection and
 * lists nothing: the configuration is read here, the service is first
 * asked when the slot is used, and the key ring is listed at most every
 * refresh_s seconds (read quotas are low). The token's presence follows
 * the service's reachability without waiting on it (cloud_slot.h).
 */
#include "slots/gcp_kms.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MS 2000

/* what the shared hooks (cloud_slot.c) call for this service */
static const hw_cloud_keyops keyops = { hw_gcp_list_keys, hw_gcp_count, hw_gcp_record, hw_gcp_destroy, hw_gcp_generate,
					 hw_gcp_sign, hw_gcp_decrypt, hw_gcp_disable, hw_gcp_rotate,
					 hw_gcp_generate_secret, hw_gcp_mac, HW_GCP_MAC_MAX };

/* projects/P/locations/L/keyRings/R, each part a plain identifier */
static bool key_ring_ok(const char *s)
{
	static const char *const parts[] = { "projects", "locations", "keyRings" };
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);
		if (strncmp(s, parts[i], n) != 0 || s[n] != '/')
			return false;
		s += n + 1;
		size_t m = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:");
		if (m == 0 || m > 100 || s[m] != (i < 2 ? '/' : '\0'))
			return false;
		s += m + (i < 2);
	}
	return true;
}

/* The endpoint: the slot's, else the override gcloud honours, else the
 * universe domain's (Google's client libraries), else the public one. */
static char *endpoint(const hw_slot_conf *conf)
{
	const char *v = hw_conf_str(conf, "endpoint", NULL);
	char buf[300];
	if (v == NULL)
		v = secure_getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS");
	if (v == NULL || v[0] == '\0') {
		const char *u = secure_getenv("GOOGLE_CLOUD_UNIVERSE_DOMAIN");
		snprintf(buf, sizeof(buf), "https://cloudkms.%s", u != NULL && u[0] != '\0' ? u : "googleapis.com");
		v = buf;
	}
	return strdup(v);
}

static CK_RV ping(void *arg);

static CK_RV gcp_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_gcp_ctx *c = vctx;
	char *ep = NULL, *host = NULL;
	CK_RV rv = CKR_HOST_MEMORY;
	c->cs.keys = &keyops;
	c->cs.conf = conf;
	c->cs.ec_max_bits = 384;        /* Cloud KMS has no P-521 */
	c->cs.pin = hw_conf_str(conf, "pin", NULL);
	const char *ring = hw_conf_str(conf, "key_ring", NULL);
	if (ring == NULL || !key_ring_ok(ring))
		return hw_cloud_conf_error(err, err_len, "key_ring: expected \"projects/P/locations/L/keyRings/R\"");
	const char *level = hw_conf_str(conf, "protection_level", "HSM");
	if (strcmp(level, "HSM") == 0)
		c->level = "HSM";
	else if (strcmp(level, "SOFTWARE") == 0)
		c->level = "SOFTWARE";
	else
		return hw_cloud_conf_error(err, err_len, "protection_level: expected \"HSM\" or \"SOFTWARE\", not \"%s\"", level);
	if ((ep = endpoint(conf)) == NULL)
		goto out;
	if ((host = hw_cloud_authority(ep)) == NULL || strncmp(ep, "https://", 8) != 0) {
		rv = hw_cloud_conf_error(err, err_len, "endpoint: expected https://host[:port] (no path), not \"%s\"", ep);
		goto out;
	}
	hw_sb b = { 0 };
	hw_sb_printf(&b, "https://%s/v1/", host);
	if ((c->base = hw_sb_take(&b)) == NULL || (c->key_ring = strdup(ring)) == NULL)
		goto out;
	const char *ca = hw_conf_str(conf, "ca_file", NULL);
	if ((rv = hw_cloud_slot_open(&c->cs, all, "gcp-kms", ca, ping, c)) != CKR_OK)
		goto out;
	hw_gcp_auth_init(&c->auth, conf->name, &c->cs.meta);
	pthread_mutex_init(&c->lock, NULL);
	c->opened = true;
	hw_info("slot \"%s\" (gcp-kms): key ring %s, endpoint %s, protection level %s%s", conf->name, c->key_ring, c->base,
		c->level, ca != NULL ? ", extra CA file" : "");
	rv = CKR_OK;
out:
	free(ep);
	free(host);
	if (rv != CKR_OK && err[0] == '\0')
		snprintf(err, err_len, "out of memory");
	return rv;
}

static void gcp_close(void *vctx, bool forked)
{
	hw_gcp_ctx *c = vctx;
	if (c->opened) {
		hw_cloud_slot_close(&c->cs, forked);
		hw_gcp_auth_fini(&c->auth, forked);
		if (!forked)
			pthread_mutex_destroy(&c->lock);
	}
	for (size_t i = 0; i < c->nrecs; i++)
		hw_gcp_key_free(c->recs[i]);
	free(c->recs);
	free(c->key_ring);
	free(c->base);
}

/* The key ring itself: is the service there, and do our credentials work? */
static CK_RV ping(void *arg)
{
	hw_gcp_ctx *c = arg;
	hw_http_resp r = { 0 };
	hw_cloud_err e;
	CK_RV rv = hw_gcp_call_raw(c, "GetKeyRing", "GET", c->key_ring, NULL, true, 1, PROBE_MS, &r, &e);
	hw_http_resp_free(&r);
	return rv;
}

static CK_RV gcp_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_gcp_ctx *c = vctx;
	char id[1200];
	snprintf(id, sizeof(id), "gcp-kms\n%s\n%s\n%s", c->key_ring, c->base, c->cs.conf->name);
	return hw_cloud_token_info(&c->cs, id, info);
}

static CK_RV gcp_health(void *vctx, char *msg, size_t len)
{
	hw_gcp_ctx *c = vctx;
	char why[192];
	CK_RV rv = ping(c);
	hw_cloud_health_why(&c->cs.health, why, sizeof(why));
	if (rv == CKR_OK)
		snprintf(msg, len, "Cloud KMS %s answers for %s; protection level %s", c->base, c->key_ring, c->level);
	else
		snprintf(msg, len, "Cloud KMS %s for %s: %s (see the log for the cause)", c->base, c->key_ring,
			 why[0] ? why : hw_rv_name(rv));
	return rv;
}

static hw_security gcp_security(void *vctx)
{
	hw_gcp_ctx *c = vctx;
	return strcmp(c->level, "HSM") == 0 ? HW_SEC_HARDWARE : HW_SEC_SOFTWARE;
}

const hw_backend_ops hw_gcp_kms_ops = {
	.type = "gcp-kms",
	.ctx_size = sizeof(hw_gcp_ctx),
	.open = gcp_open,
	.close = gcp_close,
	.token_info = gcp_token_info,
	HW_CLOUD_SLOT_HOOKS,
	HW_CLOUD_SECRET_HOOKS,
	.health = gcp_health,
	.security = gcp_security,
	.default_refresh_s = 60,
	.default_timeout_ms = 10000,
	.starts_threads = true,
};
