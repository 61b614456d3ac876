/*
 * The "keyring" slot: software keys kept in the desktop's Secret Service
 * (gnome-keyring, over D-Bus with libdbus), protected by the user's login
 * session instead of a file of our own.
 *
 * Keys are generated with OpenSSL in this process; each token object is one
 * item of the configured collection (keyring_item.c). A private key is read
 * from the keyring into locked memory for each operation and wiped after
 * it, or kept for the login session with "cache_keys": true.
 *
 * The PIN is the collection's password (keyring_token.c; README, "The
 * keyring slot"): C_InitToken takes it once, C_Login unlocks a locked
 * collection with it or checks it. There is no security officer; C_InitPIN
 * and C_SetPIN are not supported (the password is changed with the desktop's
 * keyring tools). Nothing ever waits for an interactive prompt.
 */
#include "slots/keyring_int.h"
#include "mechanisms/key_import.h"
#include "slots/secret_key.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_RV keyring_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_kr_ctx *c = vctx;
	c->conf = conf;
	c->collection = hw_conf_str(conf, "collection", HW_KR_DEFAULT_COLLECTION);
	c->cache_keys = hw_conf_bool(conf, "cache_keys", false);
	if (c->collection[0] == '\0' || !dbus_validate_utf8(c->collection, NULL) ||
	    (c->collection[0] == '/' && !dbus_validate_path(c->collection, NULL))) {
		snprintf(err, err_len, "collection: expected an alias such as \"default\" or a D-Bus object path "
			 "such as \"/org/freedesktop/secrets/collection/login\"");
		return CKR_ARGUMENTS_BAD;
	}
	/* the name goes into every item's attributes, which D-Bus carries as UTF-8 */
	if (!dbus_validate_utf8(conf->name, NULL)) {
		snprintf(err, err_len, "name: a keyring slot's name must be valid UTF-8");
		return CKR_ARGUMENTS_BAD;
	}
	pthread_mutex_init(&c->lock, NULL);
	return CKR_OK;
}

/* Forget a key's bytes and its prepared contexts. */
static void key_drop(hw_kr_key *k)
{
	while (k->nidle > 0)
		EVP_PKEY_CTX_free(k->idle[--k->nidle]);
	EVP_PKEY_free(k->pk);
	k->pk = NULL;
	hw_secret_free(k->value);
	k->value = NULL;
}

static void keyring_close(void *vctx, bool forked)
{
	hw_kr_ctx *c = vctx;
	hw_kr_bus_close(c, forked);
	hw_kr_items_free(c);
	for (size_t i = 0; i < c->nkeys; i++) {
		key_drop(c->keys[i]);
		free(c->keys[i]);
	}
	free(c->keys);
	pthread_mutex_destroy(&c->lock);
}

static CK_RV keyring_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_kr_ctx *c = vctx;
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	bool initialized = false;
	if (!hw_kr_present(c) || hw_kr_token_state(c, &initialized) != CKR_OK)
		return CKR_TOKEN_NOT_PRESENT;
	/* the PIN is the collection's password, whatever its length */
	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
	if (initialized)
		info->flags |= CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED;
	info->ulMinPinLen = 0;
	info->ulMaxPinLen = 255;
	char *id = hw_kr_printf("keyring\n%s\n%s", c->collection, c->conf->name);
	if (id != NULL && hw_digest_once(CKM_SHA256, id, strlen(id), md, &mdlen) == CKR_OK)
		for (int i = 0; i < 8; i++) {
			static const char digits[] = "0123456789abcdef";
			info->serialNumber[2 * i] = (CK_UTF8CHAR)digits[md[i] >> 4];
			info->serialNumber[2 * i + 1] = (CK_UTF8CHAR)digits[md[i] & 15];
		}
	free(id);
	return CKR_OK;
}

static bool keyring_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	switch (base) {
	case CKM_ECDSA: case CKM_RSA_PKCS: case CKM_RSA_PKCS_PSS: case CKM_RSA_PKCS_OAEP:
	case CKM_EDDSA: case CKM_EC_KEY_PAIR_GEN: case CKM_RSA_PKCS_KEY_PAIR_GEN:
	case CKM_EC_EDWARDS_KEY_PAIR_GEN: case CKM_ECDH1_DERIVE:
		if (info != NULL)
			info->flags = CKF_SIGN | CKF_VERIFY | CKF_DECRYPT | CKF_ENCRYPT | CKF_GENERATE_KEY_PAIR | CKF_DERIVE;
		return true;
	default:
		return hw_skey_has_mechanism(base, info);   /* keyring_secret.c */
	}
}

/* ---- login ------------------------------------------------------------------------ */
static CK_RV keyring_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	/* the token has no security officer: C_InitToken takes the password itself */
	return who == CKU_USER ? hw_kr_login(vctx, pin, len) : CKR_USER_TYPE_INVALID;
}

static CK_RV keyring_init_token(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label)
{
	return hw_kr_init_token(vctx, pin, len);
}

/* Logout ends the login session: cached keys go (the collection itself stays
 * unlocked: it belongs to the user's whole desktop session). */
void hw_kr_logout_inlock(hw_kr_ctx *c)
{
	c->user = false;
	for (size_t i = 0; i < c->nkeys; i++)
		if (!c->keys[i]->session)
			key_drop(c->keys[i]);
}

static void keyring_logout(void *vctx)
{
	hw_kr_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	hw_kr_logout_inlock(c);
	pthread_mutex_unlock(&c->lock);
}

/* Bumped when the Secret Service went away: the engine then closes the
 * sessions (a token that is absent was removed, B 5.1.7). */
static uint64_t keyring_token_epoch(void *vctx)
{
	hw_kr_ctx *c = vctx;
	return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
}

/* ---- objects ------------------------------------------------------------------------ */
static bool keyring_changed(void *vctx)
{
	hw_kr_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	hw_kr_drain_inlock(c);
	bool changed = c->loaded_at == 0 || c->changes != c->loaded_changes ||
		       hw_kr_now() - c->loaded_at > HW_KR_RESCAN_S;
	pthread_mutex_unlock(&c->lock);
	return changed;
}

static CK_RV keyring_load(void *vctx, hw_obj_sink sink, void *arg)
{
	return hw_kr_items_load(vctx, sink, arg);
}

static CK_RV keyring_create(void *vctx, hw_attrs *attrs, int64_t *oid)
{
	hw_kr_ctx *c = vctx;
	hw_kr_link l;
	char *path = NULL;
	CK_RV rv = hw_vendor_attrs(attrs, "keyring", HW_SEC_SOFTWARE, 1, NULL);
	if (rv != CKR_OK || (rv = hw_kr_link_get(c, &l)) != CKR_OK)
		return rv;
	rv = hw_kr_item_write(c, &l, attrs, NULL, &path, oid);
	free(path);
	hw_kr_link_put(&l);
	return rv;
}

/* The item of a token object, from the cache: its path and uid (copies)
 * and whether it holds a key. */
typedef struct item_ref {
	char *path, *uid;
	bool priv;
} item_ref;

static CK_RV item_of(hw_kr_ctx *c, int64_t oid, item_ref *r)
{
	CK_RV rv = CKR_OBJECT_HANDLE_INVALID;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&c->lock);
	hw_kr_item *it = oid != 0 ? hw_kr_item_by_oid_inlock(c, oid) : NULL;
	if (it != NULL) {
		r->path = strdup(it->path);
		r->uid = strdup(it->uid);
		r->priv = it->priv;
		rv = r->path != NULL && r->uid != NULL ? CKR_OK : CKR_HOST_MEMORY;
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static void item_ref_free(item_ref *r)
{
	free(r->path);
	free(r->uid);
}

/* A private key's PKCS#8 DER, read from its item into secret memory; the
 * uid the secret carries must be the object's. */
static CK_RV read_der(hw_kr_ctx *c, const hw_kr_link *l, const item_ref *r, hw_secret **der)
{
	const char *path = r->path;
	hw_secret *v = NULL;
	hw_kr_parts parts;
	*der = NULL;
	CK_RV rv = hw_kr_get_secret(c, l, path, &v);
	if (rv == CKR_OBJECT_HANDLE_INVALID) {
		hw_warn("slot \"%s\" (keyring): item %s is no longer in the collection", c->conf->name, path);
		return CKR_DEVICE_ERROR;
	}
	if (rv != CKR_OK)
		return rv;
	if (hw_kr_unpack(v->data, v->len, &parts) != CKR_OK || parts.der_len == 0 || parts.uid_len != strlen(r->uid) ||
	    memcmp(parts.uid, r->uid, parts.uid_len) != 0) {
		hw_error("slot \"%s\" (keyring): item %s does not hold this object's key (changed outside "
			 "hwagg?)", c->conf->name, path);
		/* gnome-keyring signals no change of a secret: read the item again
		 * at the next load, which then skips it as any new process would */
		pthread_mutex_lock(&c->lock);
		hw_kr_item_event_inlock(c, "ItemChanged", path);
		pthread_mutex_unlock(&c->lock);
		rv = CKR_DEVICE_ERROR;
	} else if ((*der = hw_secret_dup(parts.der, parts.der_len)) == NULL) {
		rv = CKR_HOST_MEMORY;
	}
	hw_secret_free(v);
	return rv;
}

static CK_RV keyring_update(void *vctx, int64_t oid, const hw_attrs *attrs)
{
	hw_kr_ctx *c = vctx;
	hw_kr_link l;
	hw_secret *der = NULL;
	item_ref r;
	int64_t same;
	CK_RV rv = item_of(c, oid, &r);
	if (rv != CKR_OK) {
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_DEVICE_ERROR;    /* deleted behind our back */
		goto out;
	}
	if ((rv = hw_kr_link_get(c, &l)) != CKR_OK)
		goto out;
	/* a private key's secret keeps its key bytes */
	if (!r.priv || (rv = read_der(c, &l, &r, &der)) == CKR_OK)
		rv = hw_kr_item_write(c, &l, attrs, der, &r.path, &same);
	hw_secret_free(der);
	hw_kr_link_put(&l);
out:
	item_ref_free(&r);
	return rv;
}

static CK_RV keyring_destroy(void *vctx, int64_t oid, void *bdata)
{
	hw_kr_ctx *c = vctx;
	hw_kr_link l;
	item_ref r;
	CK_RV rv = item_of(c, oid, &r);
	if (rv != CKR_OK) {
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_OK;              /* already gone from the collection */
		goto out;
	}
	if ((rv = hw_kr_link_get(c, &l)) == CKR_OK)
		rv = hw_kr_delete(c, &l, r.path);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		hw_kr_item_drop_inlock(c, r.path);
		pthread_mutex_unlock(&c->lock);
	}
	hw_kr_link_put(&l);
out:
	item_ref_free(&r);
	return rv;
}

/* ---- keys in memory --------------------------------------------------------------- */
hw_kr_key *hw_kr_key_new_inlock(hw_kr_ctx *c, EVP_PKEY *pk, bool session)
{
	if (!hw_kr_grow(&c->keys, c->nkeys, &c->keys_cap, sizeof(*c->keys)))
		return NULL;
	hw_kr_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->pk = pk;
	k->session = session;
	c->keys[c->nkeys++] = k;
	return k;
}

static void keyring_free_bdata(void *vctx, void *bdata)
{
	hw_kr_ctx *c = vctx;
	hw_kr_key *k = bdata;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nkeys; i++)
		if (c->keys[i] == k) {
			c->keys[i] = c->keys[--c->nkeys];
			break;
		}
	pthread_mutex_unlock(&c->lock);
	key_drop(k);
	free(k);
}

CK_RV hw_kr_key_bytes(hw_kr_ctx *c, hw_obj *key, uint64_t epoch, hw_secret **out)
{
	hw_kr_link l;
	item_ref r;
	CK_RV rv = item_of(c, key->oid, &r);
	*out = NULL;
	if (rv != CKR_OK) {
		if (rv == CKR_OBJECT_HANDLE_INVALID) {
			hw_warn("slot \"%s\" (keyring): the key's item is no longer in the collection", c->conf->name);
			rv = CKR_DEVICE_ERROR;
		}
		goto out;
	}
	if ((rv = hw_kr_link_get(c, &l)) != CKR_OK)
		goto out;
	if (__atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE) != epoch)
		rv = CKR_DEVICE_REMOVED;          /* the service was replaced meanwhile: logged out */
	else
		rv = read_der(c, &l, &r, out);
	hw_kr_link_put(&l);
out:
	item_ref_free(&r);
	return rv;
}

/* The key of a private key object, with a reference for the caller: the
 * cached one (with a prepared context if one is idle), or read from the
 * keyring now, into secure memory (and cached when configured). */
CK_RV hw_kr_private_key(hw_kr_ctx *c, hw_obj *key, EVP_PKEY **out, EVP_PKEY_CTX **pc)
{
	hw_secret *der = NULL;
	CK_RV rv = CKR_OK;
	uint64_t epoch = __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
	*out = NULL;
	*pc = NULL;
	pthread_mutex_lock(&c->lock);
	hw_kr_key *k = key->bdata;
	if (!c->user) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if (k != NULL && k->pk != NULL && EVP_PKEY_up_ref(k->pk) == 1) {
		*out = k->pk;
		if (k->nidle > 0)
			*pc = k->idle[--k->nidle];
	}
	pthread_mutex_unlock(&c->lock);
	if (rv != CKR_OK || *out != NULL)
		return rv;
	hw_crypto_secure_heap();
	if ((rv = hw_kr_key_bytes(c, key, epoch, &der)) != CKR_OK ||
	    (rv = hw_key_from_der(der->data, der->len, out)) != CKR_OK)
		goto out;
	if (c->cache_keys) {
		pthread_mutex_lock(&c->lock);
		k = key->bdata;
		if (k == NULL && (k = hw_kr_key_new_inlock(c, NULL, false)) != NULL)
			key->bdata = k;
		if (k != NULL && k->pk == NULL && c->user && EVP_PKEY_up_ref(*out) == 1)
			k->pk = *out;
		pthread_mutex_unlock(&c->lock);
	}
out:
	hw_secret_free(der);
	return rv;
}

/* Give a prepared context back to its key, if the key is still cached. */
void hw_kr_context_back(hw_kr_ctx *c, hw_obj *key, EVP_PKEY *pk, EVP_PKEY_CTX *pc)
{
	pthread_mutex_lock(&c->lock);
	hw_kr_key *k = key->bdata;
	if (pc != NULL && k != NULL && k->pk == pk && k->nidle < HW_KR_IDLE) {
		k->idle[k->nidle++] = pc;
		pc = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	EVP_PKEY_CTX_free(pc);
}

static CK_RV keyring_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	EVP_PKEY *pk;
	EVP_PKEY_CTX *pc;
	CK_RV rv = hw_kr_private_key(vctx, key, &pk, &pc);
	if (rv != CKR_OK)
		return rv;
	rv = hw_pkey_sign_keep(pk, req, &pc, sig, sig_len);
	hw_kr_context_back(vctx, key, pk, pc);
	EVP_PKEY_free(pk);
	return rv;
}

static CK_RV keyring_decrypt(void *vctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out,
			     size_t *out_len)
{
	EVP_PKEY *pk;
	EVP_PKEY_CTX *pc;
	CK_RV rv = hw_kr_private_key(vctx, key, &pk, &pc);
	if (rv != CKR_OK)
		return rv;
	rv = hw_pkey_decrypt(pk, req, out, out_len);
	hw_kr_context_back(vctx, key, pk, pc);
	EVP_PKEY_free(pk);
	return rv;
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

/* Both items of a new token key pair, or neither. */
static CK_RV store_pair(hw_kr_ctx *c, EVP_PKEY *key, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
			int64_t *priv_oid)
{
	hw_kr_link l;
	hw_secret *der = NULL;
	char *priv_path = NULL, *pub_path = NULL;
	CK_RV rv = hw_kr_link_get(c, &l);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hw_key_to_der(key, &der)) != CKR_OK ||
	    (rv = hw_kr_item_write(c, &l, priv, der, &priv_path, priv_oid)) != CKR_OK)
		goto out;
	if ((rv = hw_kr_item_write(c, &l, pub, NULL, &pub_path, pub_oid)) != CKR_OK) {
		if (hw_kr_delete(c, &l, priv_path) != CKR_OK)
			hw_error("slot \"%s\" (keyring): a half-stored key pair left item %s behind",
				 c->conf->name, priv_path);
		pthread_mutex_lock(&c->lock);
		hw_kr_item_drop_inlock(c, priv_path);
		pthread_mutex_unlock(&c->lock);
	}
out:
	hw_secret_free(der);
	free(priv_path);
	free(pub_path);
	hw_kr_link_put(&l);
	return rv;
}

static CK_RV keyring_generate(void *vctx, CK_KEY_TYPE type, const hw_keygen *g, bool token, hw_attrs *pub,
			      hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid, void **bdata)
{
	hw_kr_ctx *c = vctx;
	EVP_PKEY *key = NULL;
	hw_crypto_secure_heap();
	CK_RV rv = hw_key_generate(g, &key);
	if (rv != CKR_OK)
		goto out;
	if ((rv = hw_key_public_attrs(key, sink_set, pub)) != CKR_OK ||
	    (rv = hw_vendor_attrs(pub, "keyring", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_vendor_attrs(priv, "keyring", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_keypair_complete(pub, priv)) != CKR_OK)
		goto out;
	if (token && (rv = store_pair(c, key, pub, priv, pub_oid, priv_oid)) != CKR_OK)
		goto out;
	*bdata = NULL;
	/* a session key lives only here; a token key stays only when caching */
	if (!token || c->cache_keys) {
		pthread_mutex_lock(&c->lock);
		hw_kr_key *k = hw_kr_key_new_inlock(c, key, !token);
		pthread_mutex_unlock(&c->lock);
		if (k == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		*bdata = k;
		key = NULL;
	}
out:
	EVP_PKEY_free(key);
	return rv;
}

/* C_CreateObject of a key: a secret key (keyring_secret.c) or a private
 * key, whose parts the engine checked: its PKCS#8 in an item of its own,
 * as for a generated key. */
static CK_RV keyring_import(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_kr_ctx *c = vctx;
	EVP_PKEY *key = NULL;
	hw_secret *der = NULL;
	char *path = NULL;
	hw_kr_link l;
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_PRIVATE_KEY)
		return hw_kr_import_key(vctx, token, attrs, oid, bdata);
	hw_crypto_secure_heap();
	CK_RV rv = hw_key_from_attrs(attrs, &key);
	hw_key_strip_private(attrs);
	*bdata = NULL;
	if (rv != CKR_OK || (rv = hw_vendor_attrs(attrs, "keyring", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK)
		goto out;
	if (token) {
		if ((rv = hw_kr_link_get(c, &l)) != CKR_OK)
			goto out;
		if ((rv = hw_key_to_der(key, &der)) == CKR_OK)
			rv = hw_kr_item_write(c, &l, attrs, der, &path, oid);
		hw_kr_link_put(&l);
		if (rv != CKR_OK)
			goto out;
	}
	if (!token || c->cache_keys) {
		pthread_mutex_lock(&c->lock);
		hw_kr_key *k = hw_kr_key_new_inlock(c, key, !token);
		pthread_mutex_unlock(&c->lock);
		if (k == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		*bdata = k;
		key = NULL;
	}
out:
	EVP_PKEY_free(key);
	hw_secret_free(der);
	free(path);
	return rv;
}

static CK_RV keyring_health(void *vctx, char *msg, size_t len)
{
	hw_kr_ctx *c = vctx;
	hw_kr_link l;
	bool locked = false;
	CK_RV rv = hw_kr_link_get(c, &l);
	if (rv != CKR_OK) {
		pthread_mutex_lock(&c->lock);
		snprintf(msg, len, "token absent: %s", c->why[0] ? c->why : "no Secret Service");
		pthread_mutex_unlock(&c->lock);
		return rv;
	}
	rv = hw_kr_is_locked(c, &l, &locked);
	snprintf(msg, len, "Secret Service collection %s: %s; keys %s (software keys, development only)", l.coll,
		 rv != CKR_OK ? "state unknown" : locked ? "locked" : "unlocked",
		 c->cache_keys ? "cached for the login session" : "read for each operation");
	hw_kr_link_put(&l);
	return rv;
}

const hw_backend_ops hw_keyring_ops = {
	.type = "keyring",
	.ctx_size = sizeof(hw_kr_ctx),
	.open = keyring_open,
	.close = keyring_close,
	.token_info = keyring_token_info,
	.has_mechanism = keyring_has_mechanism,
	.login = keyring_login,
	.logout = keyring_logout,
	.init_token = keyring_init_token,
	.token_epoch = keyring_token_epoch,
	.changed = keyring_changed,
	.load = keyring_load,
	.create = keyring_create,
	.update = keyring_update,
	.destroy = keyring_destroy,
	.free_bdata = keyring_free_bdata,
	.generate_key_pair = keyring_generate,
	.sign = keyring_sign,
	.decrypt = keyring_decrypt,
	.health = keyring_health,
	.generate_key = hw_kr_generate_key,
	.import_key = keyring_import,
	.imports_private = true,
	.derive_key = hw_kr_derive_key,
	.digest_key = hw_kr_digest_key,
	.key_value = hw_kr_key_value,
	.wrap_key = hw_kr_wrap_key,
	.unwrap_key = hw_kr_unwrap_key,
	.sk_begin = hw_kr_sk_begin,
	.sk_update = hw_skey_sk_update,
	.sk_final = hw_skey_sk_final,
	.sk_end = hw_skey_sk_end,
};
