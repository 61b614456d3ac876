/*
 * The "azure-kv" slot: PKCS#11 keys that live in Azure Key Vault or a
 * Managed HSM (README, "The azure-kv slot"). C_Initialize opens no
 * connection and fetches no token: the configuration and the identity
 * environment are read here, the vault is first asked when the slot is
 * used. The token is present until a call finds the vault unreachable,
 * absent from then on, and present again once a probe (started by a token
 * query, on its own thread, never awaited) or any other call gets an
 * answer.
 */
#include "slots/azure_kv.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROBE_MS 2000

/* what the shared hooks (cloud_slot.c) call for this service */
static const hw_cloud_keyops keyops = { hw_az_list, hw_az_count, hw_az_record, hw_az_destroy, hw_az_generate,
					 hw_az_sign, hw_az_decrypt, hw_az_disable, hw_az_rotate,
					 NULL, NULL, 0 /* no HMAC keys here */, hw_az_wrap, hw_az_unwrap };

/* "https://host[:port][/]": the vault's base, no path. */
static char *vault_base(const char *url)
{
	if (url == NULL || strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' || url[8] == '/')
		return NULL;
	size_t n = 8 + strcspn(url + 8, "/?#");
	if (url[n] != '\0' && strcmp(url + n, "/") != 0)
		return NULL;
	return strndup(url, n);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 127)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-'))
			return false;
	return true;
}

static CK_RV ping(void *arg);

static CK_RV az_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_az_ctx *c = vctx;
	json_object *keys;
	const char *ca = hw_conf_str(conf, "ca_file", NULL);
	CK_RV rv = CKR_HOST_MEMORY;
	c->cs.keys = &keyops;
	c->cs.conf = conf;
	c->cs.ec_max_bits = 521;
	c->allow_software = hw_conf_bool(conf, "allow_software_keys", false);
	c->cs.pin = hw_conf_str(conf, "pin", NULL);
	if ((c->vault = vault_base(hw_conf_str(conf, "vault_url", NULL))) == NULL)
		return hw_cloud_conf_error(err, err_len, "vault_url: expected https://<vault>.vault.azure.net or %s",
				  "https://<hsm>.managedhsm.azure.net (no path)");
	if (json_object_object_get_ex(conf->json, "keys", &keys)) {
		size_t n = json_object_array_length(keys);
		if ((c->keys = calloc(n ? n : 1, sizeof(*c->keys))) == NULL)
			goto out;
		for (size_t i = 0; i < n; i++) {
			json_object *k = json_object_array_get_idx(keys, i);
			if (!json_object_is_type(k, json_type_string) || !name_ok(json_object_get_string(k))) {
				rv = hw_cloud_conf_error(err, err_len, "keys: expected key names ([0-9a-zA-Z-], at most 127)");
				goto out;
			}
			if ((c->keys[c->nkeys++] = strdup(json_object_get_string(k))) == NULL)
				goto out;
		}
	}
	if ((rv = hw_cloud_slot_open(&c->cs, all, "azure-kv", ca, ping, c)) != CKR_OK)
		goto out;
	if ((rv = hw_az_auth_init(&c->auth, conf->name, &c->cs.meta, err, err_len)) != CKR_OK) {
		hw_az_auth_fini(&c->auth);
		hw_cloud_slot_close(&c->cs, false);
		goto out;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->opened = true;
	hw_info("slot \"%s\" (azure-kv): vault %s, identity: %s, %zu configured keys%s%s", conf->name, c->vault,
		hw_az_auth_mode_name(c->auth.mode), c->nkeys, ca != NULL ? ", extra CA file" : "",
		c->allow_software ? ", software keys allowed" : "");
	rv = CKR_OK;
out:
	if (rv != CKR_OK && err[0] == '\0')
		snprintf(err, err_len, "out of memory");
	return rv;
}

static void az_close(void *vctx, bool forked)
{
	hw_az_ctx *c = vctx;
	if (c->opened) {
		hw_cloud_slot_close(&c->cs, forked);
		hw_az_auth_fini(&c->auth);
		if (!forked)
			pthread_mutex_destroy(&c->lock);
	}
	for (size_t i = 0; i < c->nrecs; i++)
		hw_az_key_free(c->recs[i]);
	free(c->recs);
	for (size_t i = 0; i < c->nkeys; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c->vault);
}

/* One short listing: is the vault there, and does our identity work? */
static CK_RV ping(void *arg)
{
	hw_az_ctx *c = arg;
	json_object *resp = NULL;
	hw_cloud_err e;
	char *url = NULL;
	hw_sb u = { 0 };
	hw_sb_printf(&u, "%s/keys?maxresults=1&api-version=%s", c->vault, HW_AZ_API);
	if ((url = hw_sb_take(&u)) == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = hw_az_call_url(c, "ListKeys", url, &resp, &e, 1, PROBE_MS);
	free(url);
	json_object_put(resp);
	return rv;
}

static CK_RV az_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_az_ctx *c = vctx;
	char id[600];
	snprintf(id, sizeof(id), "azure-kv\n%s\n%s", c->vault, c->cs.conf->name);
	return hw_cloud_token_info(&c->cs, id, info);
}

static CK_RV az_health(void *vctx, char *msg, size_t len)
{
	hw_az_ctx *c = vctx;
	char why[192];
	CK_RV rv = ping(c);
	hw_cloud_health_why(&c->cs.health, why, sizeof(why));
	if (rv == CKR_OK)
		snprintf(msg, len, "Azure Key Vault %s answers (identity: %s)", c->vault, hw_az_auth_mode_name(c->auth.mode));
	else
		snprintf(msg, len, "Azure Key Vault %s: %s (see the log for the cause)", c->vault,
			 why[0] ? why : hw_rv_name(rv));
	return rv;
}

static hw_security az_security(void *vctx)
{
	hw_az_ctx *c = vctx;
	return c->allow_software ? HW_SEC_SOFTWARE : HW_SEC_HARDWARE;
}

const hw_backend_ops hw_azure_kv_ops = {
	.type = "azure-kv",
	.ctx_size = sizeof(hw_az_ctx),
	.open = az_open,
	.close = az_close,
	.token_info = az_token_info,
	HW_CLOUD_SLOT_HOOKS,
	HW_CLOUD_SECRET_HOOKS,
	HW_CLOUD_ENVELOPE_HOOKS,
	.health = az_health,
	.security = az_security,
	.default_refresh_s = 60,
	.default_timeout_ms = 10000,
	.starts_threads = true,
};
