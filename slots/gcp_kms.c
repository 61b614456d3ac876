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
	c->conf = conf;
	c->pin = hw_conf_str(conf, "pin", NULL);
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
	if ((rv = hw_http_pool_init(&c->pool, conf->name, ca)) != CKR_OK)
		goto out;
	if ((rv = hw_http_pool_init(&c->meta, conf->name, ca)) != CKR_OK) {
		hw_http_pool_fini(&c->pool, false);
		goto out;
	}
	if ((rv = hw_objdir_init(&c->objs, all->store, "gcp-kms", conf->name)) != CKR_OK) {
		hw_http_pool_fini(&c->pool, false);
		hw_http_pool_fini(&c->meta, false);
		goto out;
	}
	hw_gcp_auth_init(&c->auth, conf->name, &c->meta);
	hw_cloud_health_init(&c->health, conf->name, "gcp-kms", ping, c);
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
		hw_cloud_health_fini(&c->health, forked);
		hw_gcp_auth_fini(&c->auth, forked);
		hw_http_pool_fini(&c->pool, forked);
		hw_http_pool_fini(&c->meta, forked);
		hw_objdir_fini(&c->objs);
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
	if (!hw_cloud_health_present(&c->health))
		return CKR_TOKEN_NOT_PRESENT;
	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED;
	info->ulMinPinLen = 0;
	info->ulMaxPinLen = 255;
	snprintf(id, sizeof(id), "gcp-kms\n%s\n%s\n%s", c->key_ring, c->base, c->conf->name);
	hw_cloud_serial(id, info->serialNumber);
	return CKR_OK;
}

static bool gcp_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	CK_MECHANISM_INFO i = { 0, 0, 0 };
	switch (base) {
	case CKM_ECDSA:
		i = (CK_MECHANISM_INFO){ 256, 384, CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS };
		break;
	case CKM_EC_KEY_PAIR_GEN:
		i = (CK_MECHANISM_INFO){ 256, 384, CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS };
		break;
	case CKM_RSA_PKCS: case CKM_RSA_PKCS_PSS:
		i = (CK_MECHANISM_INFO){ 2048, 4096, CKF_SIGN | CKF_VERIFY };
		break;
	case CKM_RSA_PKCS_OAEP:
		i = (CK_MECHANISM_INFO){ 2048, 4096, CKF_DECRYPT | CKF_ENCRYPT };
		break;
	case CKM_RSA_PKCS_KEY_PAIR_GEN:
		i = (CK_MECHANISM_INFO){ 2048, 4096, CKF_GENERATE_KEY_PAIR };
		break;
	default:
		return false;
	}
	if (info != NULL)
		*info = i;
	return true;
}

/* IAM decides what the slot may do; the PIN only gates this process's
 * sessions, and only when the slot sets one. */
static CK_RV gcp_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hw_gcp_ctx *c = vctx;
	return who != CKU_USER ? CKR_USER_TYPE_INVALID : hw_cloud_pin_check(c->pin, pin, len);
}

static void gcp_logout(void *vctx)
{
}

static bool gcp_changed(void *vctx)
{
	/* asked at most every refresh_s: Cloud KMS says nothing when another
	 * process adds a key, so each time is a listing */
	return true;
}

static CK_RV gcp_load(void *vctx, hw_obj_sink sink, void *arg)
{
	hw_gcp_ctx *c = vctx;
	CK_RV rv = hw_gcp_list_keys(c, sink, arg);
	return rv == CKR_OK ? hw_objdir_load(&c->objs, sink, arg) : rv;
}

static CK_RV gcp_create(void *vctx, hw_attrs *attrs, int64_t *oid)
{
	hw_gcp_ctx *c = vctx;
	return hw_objdir_create(&c->objs, attrs, oid);
}

static CK_RV gcp_update(void *vctx, int64_t oid, const hw_attrs *attrs)
{
	hw_gcp_ctx *c = vctx;
	/* a version's attributes are its key's labels and the service's */
	return oid >= HW_OBJDIR_BASE ? hw_objdir_update(&c->objs, oid, attrs) : CKR_ACTION_PROHIBITED;
}

static CK_RV gcp_destroy(void *vctx, int64_t oid, void *bdata)
{
	hw_gcp_ctx *c = vctx;
	return oid >= HW_OBJDIR_BASE ? hw_objdir_destroy(&c->objs, oid) : hw_gcp_destroy(c, oid);
}

static CK_RV gcp_generate(void *vctx, CK_KEY_TYPE type, const hw_keygen *g, bool token, hw_attrs *pub, hw_attrs *priv,
			  int64_t *pub_oid, int64_t *priv_oid, void **bdata)
{
	/* a crypto key outlives any session (it cannot even be deleted) */
	if (!token)
		return CKR_TEMPLATE_INCONSISTENT;
	return hw_gcp_generate(vctx, g, pub, priv, pub_oid, priv_oid, bdata);
}

static CK_RV gcp_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	return key->bdata == NULL ? CKR_KEY_HANDLE_INVALID : hw_gcp_sign(vctx, key->bdata, req, sig, sig_len);
}

static CK_RV gcp_decrypt(void *vctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	return key->bdata == NULL ? CKR_KEY_HANDLE_INVALID : hw_gcp_decrypt(vctx, key->bdata, req, out, out_len);
}

static CK_RV gcp_health(void *vctx, char *msg, size_t len)
{
	hw_gcp_ctx *c = vctx;
	char why[192];
	CK_RV rv = ping(c);
	hw_cloud_health_why(&c->health, why, sizeof(why));
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
	.has_mechanism = gcp_has_mechanism,
	.login = gcp_login,
	.logout = gcp_logout,
	.changed = gcp_changed,
	.load = gcp_load,
	.create = gcp_create,
	.update = gcp_update,
	.destroy = gcp_destroy,
	.generate_key_pair = gcp_generate,
	.sign = gcp_sign,
	.decrypt = gcp_decrypt,
	.health = gcp_health,
	.security = gcp_security,
	.default_refresh_s = 60,
	.default_timeout_ms = 10000,
	.starts_threads = true,
};
