/*
 * The "soft" slot: the zero-config default. Keys are generated with
 * OpenSSL in this process; token objects live in the local store, private
 * keys sealed under the token's master key (objects/pin.h), which exists in
 * this process only in locked memory while a user or the SO is logged in.
 * Keys are software keys: for development, and said so.
 */
#include "slots/backend.h"
#include "common/log.h"
#include "slots/stored.h"
#include "objects/pin.h"
#include "slots/soft_int.h"
#include "mechanisms/key_import.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const hw_conf_key hw_soft_conf_keys[] = {
	{ "pin_max_tries", json_type_int, false, 1, 1000 },
	{ "pin_min_len", json_type_int, false, 1, 255, .unit = "bytes" },
	{ "pin_max_len", json_type_int, false, 1, 255, .unit = "bytes" },
	{ NULL, json_type_null, false },
};

static CK_RV soft_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	soft_ctx *c = vctx;
	c->conf = conf;
	c->dir = all->store;
	c->st.dir = all->store;
	c->st.slot = conf->name;
	c->pol.max_tries = (unsigned)hw_conf_int(conf, "pin_max_tries", 10);
	c->pol.min_len = (size_t)hw_conf_int(conf, "pin_min_len", 4);
	c->pol.max_len = (size_t)hw_conf_int(conf, "pin_max_len", 64);
	/* each value's range is checked with the config (hw_soft_conf_keys) */
	if (c->pol.min_len > c->pol.max_len) {
		snprintf(err, err_len, "pin_min_len: expected at most pin_max_len (%zu), got %zu",
			 c->pol.max_len, c->pol.min_len);
		return CKR_ARGUMENTS_BAD;
	}
	/* "auto" is decided at first use, never here: no warning on a guess */
	if (all->environment == HW_ENV_PRODUCTION && !all->env_auto)
		hw_warn("slot \"%s\" keeps software keys in %s, in a production configuration: "
			"the soft slot is for development", conf->name, c->dir);
	pthread_mutex_init(&c->lock, NULL);
	return CKR_OK;
}

static void set_mk_inlock(soft_ctx *c, hw_secret *mk)
{
	hw_secret_free(c->mk);
	c->mk = mk;
	__atomic_store_n(&c->in, mk != NULL, __ATOMIC_RELEASE);
}

static void soft_close(void *vctx, bool forked)
{
	soft_ctx *c = vctx;
	hw_stored_close(&c->st, forked);
	set_mk_inlock(c, NULL);
	pthread_mutex_destroy(&c->lock);
}

/* The store, opened on first use (nothing blocks at load); *none: no
 * store exists yet (no token was initialized here). */
static CK_RV store_peek_inlock(soft_ctx *c, bool *none)
{
	return hw_stored_open(&c->st, false, none);
}

CK_RV hw_soft_store_inlock(soft_ctx *c)
{
	bool none;
	return hw_stored_open(&c->st, true, &none);
}

static CK_RV soft_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	soft_ctx *c = vctx;
	hw_token_rec rec;
	bool none;
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_lock(&c->lock);
	CK_RV rv = store_peek_inlock(c, &none);
	if (rv == CKR_OK && !none)
		rv = hw_store_token_get(c->st.store, c->conf->name, &rec);
	pthread_mutex_unlock(&c->lock);
	if (rv != CKR_OK)
		return CKR_TOKEN_NOT_PRESENT;
	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | hw_pin_flags(&rec, &c->pol);
	info->ulMinPinLen = c->pol.min_len;
	info->ulMaxPinLen = c->pol.max_len;
	/* a stable serial from the slot name and store */
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	char id[512], serial[17];
	snprintf(id, sizeof(id), "%s\n%s", c->dir, c->conf->name);
	if (hw_digest_once(CKM_SHA256, id, strlen(id), md, &mdlen) == CKR_OK) {
		for (int i = 0; i < 8; i++)
			snprintf(serial + 2 * i, 3, "%02x", md[i]);
		memcpy(info->serialNumber, serial, 16);
	}
	return CKR_OK;
}

static bool soft_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	switch (base) {
	case CKM_ECDSA: case CKM_RSA_PKCS: case CKM_RSA_PKCS_PSS: case CKM_RSA_PKCS_OAEP:
	case CKM_EDDSA: case CKM_EC_KEY_PAIR_GEN: case CKM_RSA_PKCS_KEY_PAIR_GEN:
	case CKM_EC_EDWARDS_KEY_PAIR_GEN:
	case CKM_AES_KEY_GEN: case CKM_GENERIC_SECRET_KEY_GEN: case CKM_AES_KEY_WRAP: case CKM_AES_KEY_WRAP_PAD:
	case CKM_AES_ECB: case CKM_AES_CBC: case CKM_AES_CBC_PAD: case CKM_AES_CTR: case CKM_AES_GCM:
	case CKM_SHA_1_HMAC: case CKM_SHA224_HMAC: case CKM_SHA256_HMAC: case CKM_SHA384_HMAC:
	case CKM_SHA512_HMAC: case CKM_SHA_1_HMAC_GENERAL: case CKM_SHA224_HMAC_GENERAL:
	case CKM_SHA256_HMAC_GENERAL: case CKM_SHA384_HMAC_GENERAL: case CKM_SHA512_HMAC_GENERAL:
	case CKM_ECDH1_DERIVE:
		if (info != NULL)
			info->flags = CKF_SIGN | CKF_VERIFY | CKF_DECRYPT | CKF_ENCRYPT | CKF_DERIVE |
				      CKF_GENERATE_KEY_PAIR | CKF_GENERATE | CKF_WRAP | CKF_UNWRAP;
		return true;
	default:
		return false;
	}
}

static CK_RV soft_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	soft_ctx *c = vctx;
	hw_secret *mk = NULL;
	bool none;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = store_peek_inlock(c, &none);
	if (rv == CKR_OK && none)
		rv = CKR_USER_PIN_NOT_INITIALIZED;   /* no token has been initialized here */
	else if (rv == CKR_OK)
		rv = hw_pin_login(c->st.store, c->conf->name, &c->pol, who, pin, len, &mk);
	if (rv == CKR_OK)
		set_mk_inlock(c, mk);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static void soft_logout(void *vctx)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	set_mk_inlock(c, NULL);
	pthread_mutex_unlock(&c->lock);
}

static CK_RV soft_init_token(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_soft_store_inlock(c);
	if (rv == CKR_OK)
		rv = hw_pin_init_token(c->st.store, c->conf->name, &c->pol, pin, len, label);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV soft_init_pin(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = c->mk == NULL ? CKR_USER_NOT_LOGGED_IN
				 : hw_pin_init_user(c->st.store, c->conf->name, &c->pol, c->mk, pin, len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV soft_set_pin(void *vctx, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			  const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_soft_store_inlock(c);
	if (rv == CKR_OK)
		rv = hw_pin_set(c->st.store, c->conf->name, &c->pol, who == HW_AUTH_SO ? CKU_SO : CKU_USER,
				old_pin, old_len, new_pin, new_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static bool soft_changed(void *vctx)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	bool changed = hw_stored_changed(&c->st);
	pthread_mutex_unlock(&c->lock);
	return changed;
}

static CK_RV soft_load(void *vctx, hw_obj_sink sink, void *arg)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_load(&c->st, sink, arg);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

CK_RV hw_soft_insert(soft_ctx *c, hw_attrs *const *attrs, const unsigned char *secret,
		    size_t secret_len, size_t n, int64_t *ids)
{
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_insert(&c->st, attrs, n, secret, secret_len, ids);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV soft_create(void *vctx, hw_attrs *attrs, int64_t *oid)
{
	hw_attrs *one[1] = { attrs };
	CK_RV rv = hw_vendor_attrs(attrs, "soft", HW_SEC_SOFTWARE, 1, NULL);
	return rv == CKR_OK ? hw_soft_insert(vctx, one, NULL, 0, 1, oid) : rv;
}

static CK_RV soft_update(void *vctx, int64_t oid, const hw_attrs *attrs)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_update(&c->st, oid, attrs);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV soft_destroy(void *vctx, int64_t oid, void *bdata)
{
	soft_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_delete(&c->st, oid);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

soft_key *hw_soft_key_new(EVP_PKEY *pk)
{
	soft_key *k = aligned_alloc(64, sizeof(soft_key));
	if (k == NULL)
		return NULL;
	memset(k, 0, sizeof(*k));
	k->pk = pk;
	return k;
}

static void soft_free_bdata(void *vctx, void *bdata)
{
	soft_key *k = bdata;
	for (unsigned i = 0; i < SOFT_PLACES; i++) {
		EVP_PKEY_CTX_free(k->place[i].pc);
		hw_soft_sk_free(k->place[i].sk);
	}
	EVP_PKEY_free(k->pk);
	hw_secret_free(k->value);
	free(k);
}

unsigned hw_soft_place(void)
{
	static unsigned drawn;
	static __thread unsigned mine;  /* 0: not drawn yet */
	if (mine == 0)
		mine = __atomic_add_fetch(&drawn, 1, __ATOMIC_RELAXED) % SOFT_PLACES + 1;
	return mine - 1;
}

/* The sealed key is bound to its slot and CKA_UNIQUE_ID. */
CK_RV hw_soft_seal_aad(const soft_ctx *c, const hw_attrs *priv, char *aad, size_t len, size_t *out)
{
	const CK_ATTRIBUTE *uid = hw_attrs_get(priv, CKA_UNIQUE_ID);
	if (uid == NULL)
		return CKR_GENERAL_ERROR;
	int n = snprintf(aad, len, "hwagg-soft\n%s\n%.*s", c->conf->name, (int)uid->ulValueLen,
			 (const char *)uid->pValue);
	if (n < 0 || (size_t)n >= len)
		return CKR_GENERAL_ERROR;
	*out = (size_t)n;
	return CKR_OK;
}

CK_RV hw_soft_seal(soft_ctx *c, const hw_attrs *key, const hw_secret *plain, unsigned char **sealed,
		   size_t *sealed_len)
{
	char aad[256];
	size_t aad_len;
	CK_RV rv = hw_soft_seal_aad(c, key, aad, sizeof(aad), &aad_len);
	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&c->lock);
	rv = c->mk ? hw_seal(c->mk, aad, aad_len, plain->data, plain->len, sealed, sealed_len)
		   : CKR_USER_NOT_LOGGED_IN;
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

static CK_RV soft_generate(void *vctx, CK_KEY_TYPE type, const hw_keygen *g, bool token,
			   hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid,
			   void **bdata)
{
	soft_ctx *c = vctx;
	EVP_PKEY *key = NULL;
	hw_secret *der = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	hw_crypto_secure_heap();
	CK_RV rv = hw_key_generate(g, &key);
	if (rv != CKR_OK)
		goto out;
	if ((rv = hw_key_public_attrs(key, sink_set, pub)) != CKR_OK ||
	    (rv = hw_vendor_attrs(pub, "soft", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_vendor_attrs(priv, "soft", HW_SEC_SOFTWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_keypair_complete(pub, priv)) != CKR_OK)
		goto out;
	if (token) {
		if ((rv = hw_key_to_der(key, &der)) != CKR_OK ||
		    (rv = hw_soft_seal(c, priv, der, &sealed, &sealed_len)) != CKR_OK)
			goto out;
		hw_attrs *both[2] = { pub, priv };
		int64_t ids[2];
		if ((rv = hw_soft_insert(c, both, sealed, sealed_len, 2, ids)) != CKR_OK)
			goto out;
		*pub_oid = ids[0];
		*priv_oid = ids[1];
	}
	if ((*bdata = hw_soft_key_new(key)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	key = NULL;
out:
	EVP_PKEY_free(key);
	hw_secret_free(der);
	free(sealed);
	return rv;
}

/* A private key brought in (imported or unwrapped), its attributes
 * checked: kept sealed like a generated one. Takes key. */
CK_RV hw_soft_keep_private(soft_ctx *c, bool token, hw_attrs *attrs, EVP_PKEY *key, int64_t *oid, void **bdata)
{
	hw_secret *der = NULL;
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	CK_RV rv = hw_vendor_attrs(attrs, "soft", HW_SEC_SOFTWARE, 1, NULL);
	if (rv == CKR_OK && token) {
		hw_attrs *one[1] = { attrs };
		if ((rv = hw_key_to_der(key, &der)) == CKR_OK &&
		    (rv = hw_soft_seal(c, attrs, der, &sealed, &sealed_len)) == CKR_OK)
			rv = hw_soft_insert(c, one, sealed, sealed_len, 1, oid);
	}
	if (rv == CKR_OK && (*bdata = hw_soft_key_new(key)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		key = NULL;
	EVP_PKEY_free(key);
	hw_secret_free(der);
	free(sealed);
	return rv;
}

/* C_CreateObject of a key: a secret key (soft_secret.c) or a private key,
 * whose parts the engine checked. */
static CK_RV soft_import(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	EVP_PKEY *key = NULL;
	if (hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA) != CKO_PRIVATE_KEY)
		return hw_soft_import_key(vctx, token, attrs, oid, bdata);
	hw_crypto_secure_heap();
	CK_RV rv = hw_key_from_attrs(attrs, &key);
	hw_key_strip_private(attrs);
	return rv == CKR_OK ? hw_soft_keep_private(vctx, token, attrs, key, oid, bdata) : rv;
}

typedef struct unseal_arg {
	soft_ctx *c;
	hw_obj *key;
	EVP_PKEY *pkey;
	hw_secret *value;             /* a secret key's value */
} unseal_arg;

static CK_RV unseal_one(void *varg, const hw_store_obj *o)
{
	unseal_arg *ua = varg;
	char aad[256];
	size_t aad_len;
	hw_secret *der = NULL;
	if (o->secret == NULL)
		return CKR_KEY_HANDLE_INVALID;
	hw_snap *snap = hw_obj_snap(ua->key);
	bool secret = hw_attrs_get_ulong(hw_snap_attrs(snap), CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY;
	CK_RV rv = hw_soft_seal_aad(ua->c, hw_snap_attrs(snap), aad, sizeof(aad), &aad_len);
	hw_snap_put(snap);
	if (rv == CKR_OK)
		rv = hw_unseal(ua->c->mk, aad, aad_len, o->secret, o->secret_len, &der);
	if (rv == CKR_OK && secret) {
		ua->value = der;          /* the value itself, in locked memory */
		der = NULL;
	} else if (rv == CKR_OK) {
		rv = hw_key_from_der(der->data, der->len, &ua->pkey);
	}
	hw_secret_free(der);
	return rv;
}

/* The key's OpenSSL object (a secret key: its value), unsealed on first
 * use after login. Once unsealed it lives as long as the object: a
 * signature that finds it and a login takes no lock. */
CK_RV hw_soft_key_open(soft_ctx *c, hw_obj *key, soft_key **out)
{
	soft_key *k = __atomic_load_n(&key->bdata, __ATOMIC_ACQUIRE);
	if (k != NULL && __atomic_load_n(&c->in, __ATOMIC_ACQUIRE)) {
		*out = k;
		return CKR_OK;
	}
	CK_RV rv = CKR_OK;
	pthread_mutex_lock(&c->lock);
	if (c->mk == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else if (key->bdata == NULL) {
		unseal_arg ua = { c, key, NULL, NULL };
		hw_crypto_secure_heap();
		rv = hw_soft_store_inlock(c);
		if (rv == CKR_OK)
			rv = hw_store_obj_get(c->st.store, c->conf->name, key->oid, unseal_one, &ua);
		if (rv == CKR_OK && (k = hw_soft_key_new(ua.pkey)) == NULL) {
			EVP_PKEY_free(ua.pkey);
			rv = CKR_HOST_MEMORY;
		}
		if (k != NULL)
			k->value = ua.value;
		else
			hw_secret_free(ua.value);
		if (rv == CKR_OK)
			__atomic_store_n(&key->bdata, (void *)k, __ATOMIC_RELEASE);
		else
			hw_error("slot \"%s\": cannot open key (store object %lld): %s",
				 c->conf->name, (long long)key->oid, hw_rv_name(rv));
	}
	*out = key->bdata;
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV soft_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	if (rv != CKR_OK)
		return rv;
	unsigned i = hw_soft_place();
	EVP_PKEY_CTX *pc = __atomic_exchange_n(&k->place[i].pc, NULL, __ATOMIC_ACQ_REL);
	rv = hw_pkey_sign_keep(k->pk, req, &pc, sig, sig_len);
	if (pc != NULL)    /* keep it; free what another thread of this place left */
		EVP_PKEY_CTX_free(__atomic_exchange_n(&k->place[i].pc, pc, __ATOMIC_ACQ_REL));
	return rv;
}

static CK_RV soft_decrypt(void *vctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	soft_key *k;
	CK_RV rv = hw_soft_key_open(vctx, key, &k);
	return rv == CKR_OK ? hw_pkey_decrypt(k->pk, req, out, out_len) : rv;
}

static CK_RV soft_health(void *vctx, char *msg, size_t len)
{
	soft_ctx *c = vctx;
	bool none;
	hw_token_rec rec;
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_lock(&c->lock);
	CK_RV rv = store_peek_inlock(c, &none);
	int n = snprintf(msg, len, rv != CKR_OK ? "store %s: cannot be opened"
				   : none ? "store %s: not created yet (no token initialized)"
					  : "store %s: ok (software keys, development only)", c->dir);
	/* the tries left, which the token flags only hint at (count low, final try) */
	if (rv == CKR_OK && !none && hw_store_token_get(c->st.store, c->conf->name, &rec) == CKR_OK &&
	    rec.user_pin_set && rec.user_fails > 0 && n > 0 && (size_t)n < len)
		snprintf(msg + n, len - (size_t)n, "; user PIN: %u of %u tries left",
			 rec.user_fails < c->pol.max_tries ? c->pol.max_tries - rec.user_fails : 0, c->pol.max_tries);
	hw_wipe(&rec, sizeof(rec));
	pthread_mutex_unlock(&c->lock);
	return rv;
}

const hw_backend_ops hw_soft_ops = {
	.type = "soft",
	.ctx_size = sizeof(soft_ctx),
	.open = soft_open,
	.close = soft_close,
	.token_info = soft_token_info,
	.has_mechanism = soft_has_mechanism,
	.login = soft_login,
	.logout = soft_logout,
	.init_token = soft_init_token,
	.init_pin = soft_init_pin,
	.set_pin = soft_set_pin,
	.changed = soft_changed,
	.load = soft_load,
	.create = soft_create,
	.update = soft_update,
	.destroy = soft_destroy,
	.free_bdata = soft_free_bdata,
	.generate_key_pair = soft_generate,
	.sign = soft_sign,
	.decrypt = soft_decrypt,
	.health = soft_health,
	.generate_key = hw_soft_generate_key,
	.import_key = soft_import,
	.wrap_key = hw_soft_wrap,
	.unwrap_key = hw_soft_unwrap,
	.sk_begin = hw_soft_sk_begin,
	.sk_update = hw_soft_sk_update,
	.sk_final = hw_soft_sk_final,
	.sk_end = hw_soft_sk_end,
	.derive_key = hw_soft_derive_key,
	.digest_key = hw_soft_digest_key,
	.key_value = hw_soft_key_value,
	.imports_private = true,
};
