/* See cloud_slot.h. */
#include "slots/cloud_slot.h"
#include "slots/cloud_overlay.h"
#include "common/log.h"
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROBE_EVERY_S 2         /* an absent token is probed at most this often */

void hw_cloud_health_init(hw_cloud_health *h, const char *slot, const char *backend, CK_RV (*ping)(void *),
			  void *arg)
{
	memset(h, 0, sizeof(*h));
	h->slot = slot;
	h->backend = backend;
	h->ping = ping;
	h->arg = arg;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->done, NULL);
}

void hw_cloud_health_fini(hw_cloud_health *h, bool forked)
{
	if (forked)
		return;         /* the parent's probe thread does not exist here */
	/* a probe uses the slot's context: wait for it (bounded by its deadline) */
	pthread_mutex_lock(&h->lock);
	while (h->probing)
		pthread_cond_wait(&h->done, &h->lock);
	pthread_mutex_unlock(&h->lock);
	pthread_cond_destroy(&h->done);
	pthread_mutex_destroy(&h->lock);
}

void hw_cloud_health_set(hw_cloud_health *h, bool up, const char *why)
{
	pthread_mutex_lock(&h->lock);
	if (!up && h->state != -1)
		hw_warn("slot \"%s\" (%s): token absent until the service answers again: %s", h->slot, h->backend, why);
	else if (up && h->state == -1)
		hw_info("slot \"%s\" (%s): the service answers again; token present", h->slot, h->backend);
	h->state = up ? 1 : -1;
	h->at = time(NULL);
	if (!up)
		snprintf(h->why, sizeof(h->why), "%s", why);
	pthread_mutex_unlock(&h->lock);
}

static void *probe_main(void *arg)
{
	hw_cloud_health *h = arg;
	h->ping(h->arg);
	pthread_mutex_lock(&h->lock);
	h->probing = false;
	pthread_cond_broadcast(&h->done);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

bool hw_cloud_health_present(hw_cloud_health *h)
{
	pthread_mutex_lock(&h->lock);
	bool down = h->state == -1, start = down && !h->probing && time(NULL) - h->at >= PROBE_EVERY_S;
	if (start) {
		pthread_attr_t at;
		pthread_t t;
		h->probing = true;
		h->at = time(NULL);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, probe_main, h) != 0)
			h->probing = false;
		pthread_attr_destroy(&at);
	}
	pthread_mutex_unlock(&h->lock);
	return !down;
}

void hw_cloud_health_why(hw_cloud_health *h, char *buf, size_t len)
{
	pthread_mutex_lock(&h->lock);
	snprintf(buf, len, "%s", h->why);
	pthread_mutex_unlock(&h->lock);
}

CK_RV hw_cloud_pin_check(const char *want, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	if (want == NULL)
		return CKR_OK;
	size_t pl = strlen(want);
	unsigned char diff = (unsigned char)(pl != len);
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(pin[i] ^ (unsigned char)want[i < pl ? i : 0]);
	return diff == 0 ? CKR_OK : CKR_PIN_INCORRECT;
}

void hw_cloud_serial(const char *id, CK_UTF8CHAR serial[16])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	if (hw_digest_once(CKM_SHA256, id, strlen(id), md, &mdlen) != CKR_OK)
		return;
	for (int i = 0; i < 8; i++) {
		serial[2 * i] = (CK_UTF8CHAR)digits[md[i] >> 4];
		serial[2 * i + 1] = (CK_UTF8CHAR)digits[md[i] & 15];
	}
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

CK_RV hw_cloud_key_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv)
{
	EVP_PKEY *pk = NULL;
	/* the engine's decoder: a provider key in hwagg's context, never one
	 * bound to an ENGINE the application made the default */
	CK_RV rv = hw_key_from_spki(k->spki, k->spki_len, &pk);
	if (rv != CKR_OK) {
		hw_error("slot \"%s\" (%s): the public key of %s is not a valid SubjectPublicKeyInfo", k->slot, k->backend,
			 k->uri);
		return CKR_DEVICE_ERROR;
	}
	/* modifiable: the slot keeps a few attributes itself (cloud_overlay.h)
	 * and refuses every other change */
	static const CK_ATTRIBUTE_TYPE yes[] = { CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL,
						 CKA_PRIVATE, CKA_TOKEN, CKA_MODIFIABLE };
	static const CK_ATTRIBUTE_TYPE no[] = { CKA_EXTRACTABLE, CKA_DERIVE, CKA_UNWRAP, CKA_SIGN_RECOVER,
						CKA_COPYABLE, CKA_WRAP_WITH_TRUSTED, CKA_ALWAYS_AUTHENTICATE };
	rv = hw_key_public_attrs(pk, sink_set, pub);
	for (size_t i = 0; rv == CKR_OK && i < sizeof(yes) / sizeof(yes[0]); i++)
		rv = hw_attrs_set_bool(priv, yes[i], true);
	for (size_t i = 0; rv == CKR_OK && i < sizeof(no) / sizeof(no[0]); i++)
		rv = hw_attrs_set_bool(priv, no[i], false);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(priv, CKA_SIGN, !k->decrypt || k->sign_too);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(priv, CKA_DECRYPT, k->decrypt);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_VERIFY, !k->decrypt || k->sign_too);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_ENCRYPT, k->decrypt);
	if (rv == CKR_OK && k->wraps)
		rv = hw_attrs_set_bool(pub, CKA_WRAP, true);
	if (rv == CKR_OK && k->wraps)
		rv = hw_attrs_set_bool(priv, CKA_UNWRAP, true);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_TOKEN, true);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_MODIFIABLE, true);
	if (rv == CKR_OK)
		rv = hw_vendor_attrs(pub, k->backend, k->sec, k->version, k->uri);
	if (rv == CKR_OK)
		rv = hw_vendor_attrs(priv, k->backend, k->sec, k->version, k->uri);
	if (rv == CKR_OK)
		rv = hw_keypair_complete(pub, priv);
	EVP_PKEY_free(pk);
	return rv;
}

CK_RV hw_cloud_listed_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv)
{
	CK_RV rv = CKR_OK;
	if (k->secret_len > 0)
		return hw_cloud_secret_listed(k, priv);     /* one object: pub stays empty */
	CK_MECHANISM_TYPE gen = k->type == CKK_EC ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN;
	hw_attrs *both[] = { pub, priv };
	for (int i = 0; rv == CKR_OK && i < 2; i++) {
		if ((rv = hw_attrs_set_ulong(both[i], CKA_CLASS, i ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY)) != CKR_OK ||
		    (rv = hw_attrs_set_ulong(both[i], CKA_KEY_TYPE, k->type)) != CKR_OK ||
		    (rv = hw_attrs_set_ulong(both[i], CKA_KEY_GEN_MECHANISM, gen)) != CKR_OK ||
		    (rv = hw_attrs_set_str(both[i], CKA_LABEL, k->label)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(both[i], CKA_DESTROYABLE, true)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(both[i], CKA_LOCAL, true)) != CKR_OK ||
		    (rv = hw_attrs_set(both[i], CKA_SUBJECT, "", 0)) != CKR_OK ||
		    (rv = hw_attrs_set(both[i], CKA_START_DATE, "", 0)) != CKR_OK ||
		    (rv = hw_attrs_set(both[i], CKA_END_DATE, "", 0)) != CKR_OK)
			break;
		if (k->id != NULL && k->id_len > 0)
			rv = hw_attrs_set(both[i], CKA_ID, k->id, k->id_len);
	}
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_PRIVATE, false);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_WRAP, false);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_VERIFY_RECOVER, false);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_DERIVE, false);
	if (rv == CKR_OK)
		rv = hw_attrs_set_bool(pub, CKA_TRUSTED, false);
	return rv == CKR_OK ? hw_cloud_key_attrs(k, pub, priv) : rv;
}

char *hw_cloud_authority(const char *url)
{
	const char *p = strncasecmp(url, "https://", 8) == 0 ? url + 8 : strncasecmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	if (p == NULL || *p == '\0' || *p == '/')
		return NULL;
	size_t n = strcspn(p, "/?#");
	if (p[n] != '\0' && strcmp(p + n, "/") != 0)
		return NULL;           /* the services are served at "/": no path, no query */
	return strndup(p, n);
}

CK_RV hw_cloud_conf_error(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return CKR_ARGUMENTS_BAD;
}

CK_RV hw_cloud_slot_open(hw_cloud_slot *cs, const hw_config *all, const char *backend, const char *ca,
			 CK_RV (*ping)(void *), void *arg)
{
	const char *name = cs->conf->name;
	CK_RV rv = hw_http_pool_init(&cs->pool, name, ca);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hw_http_pool_init(&cs->meta, name, ca)) != CKR_OK) {
		hw_http_pool_fini(&cs->pool, false);
		return rv;
	}
	if ((rv = hw_objdir_init(&cs->objs, all->store, backend, name)) != CKR_OK) {
		hw_http_pool_fini(&cs->pool, false);
		hw_http_pool_fini(&cs->meta, false);
		return rv;
	}
	hw_cloud_health_init(&cs->health, name, backend, ping, arg);
	hw_cloud_dkeys_init(cs);
	return CKR_OK;
}

void hw_cloud_slot_close(hw_cloud_slot *cs, bool forked)
{
	/* first: a running probe still uses the pools */
	hw_cloud_health_fini(&cs->health, forked);
	hw_http_pool_fini(&cs->pool, forked);
	hw_http_pool_fini(&cs->meta, forked);
	hw_objdir_fini(&cs->objs);
	hw_cloud_dkeys_fini(cs, forked);
}

CK_RV hw_cloud_call_done(hw_cloud_slot *cs, const char *backend, const char *op, CK_RV rv, const hw_cloud_err *e,
			 long status)
{
	if (rv == CKR_OK) {
		hw_cloud_health_set(&cs->health, true, "");
		return rv;
	}
	hw_cloud_err_log(cs->conf->name, backend, op, e);
	/* an answer of any kind means the service is there */
	if (e->cause == HW_CLOUD_CONNECTIVITY)
		hw_cloud_health_set(&cs->health, false, e->detail);
	else if (status != 0)
		hw_cloud_health_set(&cs->health, true, "");
	return rv;
}

bool hw_cloud_has_mechanism(void *ctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	const hw_cloud_slot *cs = ctx;
	CK_MECHANISM_INFO i = { 0, 0, 0 };
	switch (base) {
	case CKM_ECDSA:
		i = (CK_MECHANISM_INFO){ 256, cs->ec_max_bits, CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE |
								    CKF_EC_UNCOMPRESS };
		break;
	case CKM_EC_KEY_PAIR_GEN:
		i = (CK_MECHANISM_INFO){ 256, cs->ec_max_bits, CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE |
								    CKF_EC_UNCOMPRESS };
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
		return hw_cloud_secret_mechanism(cs, base, info);
	}
	if (info != NULL)
		*info = i;
	return true;
}

/* The cloud identity (IAM) decides what the slot may do; the PIN only
 * gates this process's sessions, and only when the slot sets one. */
CK_RV hw_cloud_login(void *ctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	const hw_cloud_slot *cs = ctx;
	return who != CKU_USER ? CKR_USER_TYPE_INVALID : hw_cloud_pin_check(cs->pin, pin, len);
}

void hw_cloud_logout(void *ctx)
{
}

bool hw_cloud_changed(void *ctx)
{
	/* the engine asks at most every refresh_s: a cloud KMS says nothing
	 * when another process adds a key, so each time is a listing */
	return true;
}

CK_RV hw_cloud_token_info(hw_cloud_slot *cs, const char *id, CK_TOKEN_INFO *info)
{
	if (!hw_cloud_health_present(&cs->health))
		return CKR_TOKEN_NOT_PRESENT;
	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED;
	info->ulMinPinLen = 0;
	info->ulMaxPinLen = 255;
	hw_cloud_serial(id, info->serialNumber);
	return CKR_OK;
}

/* Certificates and data objects: files beside the store (cloud_objdir.c). */
CK_RV hw_cloud_create(void *ctx, hw_attrs *attrs, int64_t *oid)
{
	hw_cloud_slot *cs = ctx;
	return hw_objdir_create(&cs->objs, attrs, oid);
}

/* The attributes of record i's object of class cls as the slot shows
 * them (listed + overlay), or its kept public key's once the service no
 * longer lists it. CKR_ACTION_PROHIBITED when there is no such object. */
static CK_RV key_object(hw_cloud_slot *cs, size_t i, CK_OBJECT_CLASS cls, hw_cloud_keyinfo *ki, hw_attrs *out,
			bool *live)
{
	hw_attrs pub, priv;
	hw_cloud_rec st = cs->keys->record(cs, i, ki, NULL);
	CK_RV rv;
	*live = st == HW_CLOUD_REC_SHOWN;
	if (st == HW_CLOUD_REC_NONE)
		return CKR_OBJECT_HANDLE_INVALID;
	if (st != HW_CLOUD_REC_SHOWN)
		return hw_overlay_kept(&cs->objs, ki->uri, cls, out) == CKR_OK ? CKR_OK : CKR_ACTION_PROHIBITED;
	hw_attrs_init(&pub);
	hw_attrs_init(&priv);
	rv = hw_cloud_listed_attrs(ki, &pub, &priv);
	if (rv == CKR_OK)
		rv = hw_attrs_copy(out, cls == CKO_PUBLIC_KEY ? &pub : &priv);
	if (rv == CKR_OK)
		rv = hw_overlay_apply(&cs->objs, ki->uri, cls, out);
	hw_attrs_clear(&pub);
	hw_attrs_clear(&priv);
	return rv;
}

/* A cloud key's object: only what the overlay keeps may change; every use
 * of a private key turned off also disables the key at the service where
 * the slot can (then no other client uses it either). */
static CK_RV key_update(hw_cloud_slot *cs, int64_t oid, const hw_attrs *attrs)
{
	hw_cloud_keyinfo ki;
	hw_attrs base, out;
	bool live = false, off = false;
	CK_OBJECT_CLASS cls = oid % 2 == 0 ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY;
	size_t i = (size_t)(oid - 1) / 2;
	CK_RV rv;
	hw_attrs_init(&base);
	hw_attrs_init(&out);
	if (oid >= HW_OVERLAY_BASE) {
		rv = hw_overlay_kept_oid(&cs->objs, oid, &base, false);
		cls = hw_attrs_get_ulong(&base, CKA_CLASS, CKO_PUBLIC_KEY);
	} else {
		rv = key_object(cs, i, cls, &ki, &base, &live);
	}
	const CK_ATTRIBUTE *u = hw_attrs_get(&base, CKA_HWAGG_PROVIDER_URI);
	char *uri = rv == CKR_OK && u != NULL ? strndup(u->pValue, u->ulValueLen) : NULL;
	if (rv == CKR_OK && uri == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = hw_overlay_change(&cs->objs, uri, &base, attrs, &out, &off);
	if (rv == CKR_OK && cls == CKO_PRIVATE_KEY && off && live && cs->keys->disable != NULL)
		rv = cs->keys->disable(cs, i);
	if (rv == CKR_OK)
		rv = hw_overlay_store(&cs->objs, uri, &out);
	free(uri);
	hw_attrs_clear(&base);
	hw_attrs_clear(&out);
	return rv;
}

CK_RV hw_cloud_update(void *ctx, int64_t oid, const hw_attrs *attrs)
{
	hw_cloud_slot *cs = ctx;
	if (oid >= HW_OBJDIR_BASE && oid < HW_OVERLAY_BASE)
		return hw_objdir_update(&cs->objs, oid, attrs);
	return oid < 1 ? CKR_OBJECT_HANDLE_INVALID : key_update(cs, oid, attrs);
}

CK_RV hw_cloud_load(void *ctx, hw_obj_sink sink, void *arg)
{
	hw_cloud_slot *cs = ctx;
	CK_RV rv = cs->keys->list(ctx, sink, arg);
	return rv == CKR_OK ? hw_objdir_load(&cs->objs, sink, arg) : rv;
}

static CK_RV retired_refused(const hw_cloud_slot *cs, const char *uri, size_t len)
{
	hw_warn("slot \"%s\" (%s): the retired key %.*s is disabled at the service and not listed there: delete it "
		"with the service's own tools", cs->conf->name, cs->objs.backend, (int)len, uri);
	return CKR_ACTION_PROHIBITED;
}

/* A kept object of a key the service no longer lists: a public key goes
 * (it is the slot's copy); a retired private key is the service's key,
 * disabled there, which this slot no longer reaches. */
static CK_RV kept_destroy(hw_cloud_slot *cs, int64_t oid)
{
	hw_attrs a;
	hw_attrs_init(&a);
	CK_RV rv = hw_overlay_kept_oid(&cs->objs, oid, &a, false);
	if (rv == CKR_OK && hw_attrs_get_ulong(&a, CKA_CLASS, CKO_PUBLIC_KEY) != CKO_PUBLIC_KEY) {
		const CK_ATTRIBUTE *u = hw_attrs_get(&a, CKA_HWAGG_PROVIDER_URI);
		rv = retired_refused(cs, u != NULL ? u->pValue : "", u != NULL ? u->ulValueLen : 0);
	} else if (rv == CKR_OK) {
		rv = hw_overlay_kept_oid(&cs->objs, oid, NULL, true);
	}
	hw_attrs_clear(&a);
	return rv;
}

CK_RV hw_cloud_destroy(void *ctx, int64_t oid, void *bdata)
{
	hw_cloud_slot *cs = ctx;
	hw_cloud_keyinfo ki;
	if (oid >= HW_OVERLAY_BASE)
		return kept_destroy(cs, oid);
	if (oid >= HW_OBJDIR_BASE)
		return hw_objdir_destroy(&cs->objs, oid);
	if (oid < 1)
		return CKR_OBJECT_HANDLE_INVALID;
	size_t i = (size_t)(oid - 1) / 2;
	hw_cloud_rec st = cs->keys->record(ctx, i, &ki, NULL);
	if (st == HW_CLOUD_REC_NONE)
		return CKR_OK;          /* already gone */
	if (st != HW_CLOUD_REC_SHOWN) {
		hw_attrs a;
		hw_attrs_init(&a);
		/* what a rotation kept of a key the service no longer lists */
		bool retired = oid % 2 != 0 && hw_overlay_kept(&cs->objs, ki.uri, CKO_PRIVATE_KEY, &a) == CKR_OK;
		hw_attrs_clear(&a);
		if (oid % 2 == 0)
			return hw_overlay_drop_public(&cs->objs, ki.uri);
		return retired ? retired_refused(cs, ki.uri, strlen(ki.uri)) : CKR_OK;
	}
	if (oid % 2 == 0) {
		/* the public key is the service key's own: it goes with its private key */
		hw_warn("slot \"%s\" (%s): the public key of %s goes only with its private key", cs->conf->name, ki.backend,
			ki.uri);
		return CKR_ACTION_PROHIBITED;
	}
	CK_RV rv = cs->keys->destroy(ctx, i);
	/* what the slot kept of the key goes too, but a public key with an
	 * end date stays for verification */
	if (rv == CKR_OK && hw_overlay_forget(&cs->objs, ki.uri) != CKR_OK)
		hw_warn("slot \"%s\" (%s): the local attributes of %s stay behind", cs->conf->name, ki.backend, ki.uri);
	return rv;
}

/* Is uri a record of the table (its objects are reported at its oids)? */
static bool in_table(void *ctx, const char *uri)
{
	hw_cloud_slot *cs = ctx;
	size_t n = cs->keys->count(ctx);
	for (size_t i = 0; i < n; i++) {
		hw_cloud_keyinfo ki;
		if (cs->keys->record(ctx, i, &ki, NULL) != HW_CLOUD_REC_NONE && strcmp(ki.uri, uri) == 0)
			return true;
	}
	return false;
}

CK_RV hw_cloud_report(void *ctx, hw_obj_sink sink, void *arg)
{
	hw_cloud_slot *cs = ctx;
	CK_RV rv = CKR_OK;
	size_t n = cs->keys->count(ctx);
	/* reported outside the backend's lock: records are immutable once added */
	for (size_t i = 0; rv == CKR_OK && i < n; i++) {
		hw_cloud_keyinfo ki;
		void *bdata = NULL;
		hw_attrs pub, priv;
		hw_cloud_rec st = cs->keys->record(ctx, i, &ki, &bdata);
		hw_attrs_init(&pub);
		hw_attrs_init(&priv);
		if (st == HW_CLOUD_REC_DEAD || st == HW_CLOUD_REC_HIDDEN) {
			/* what a rotation kept of it, at the usual oids */
			if (hw_overlay_kept(&cs->objs, ki.uri, CKO_PUBLIC_KEY, &pub) == CKR_OK)
				rv = sink(arg, (int64_t)(2 * i + 2), &pub, NULL);
			if (rv == CKR_OK && hw_overlay_kept(&cs->objs, ki.uri, CKO_PRIVATE_KEY, &priv) == CKR_OK)
				rv = sink(arg, (int64_t)(2 * i + 1), &priv, NULL);
		} else if (st == HW_CLOUD_REC_SHOWN) {
			if ((rv = hw_cloud_listed_attrs(&ki, &pub, &priv)) == CKR_OK &&
			    (rv = hw_overlay_apply(&cs->objs, ki.uri, CKO_PUBLIC_KEY, &pub)) == CKR_OK &&
			    (rv = hw_overlay_apply(&cs->objs, ki.uri, CKO_PRIVATE_KEY, &priv)) == CKR_OK &&
			    (ki.secret_len > 0 || (rv = sink(arg, (int64_t)(2 * i + 2), &pub, NULL)) == CKR_OK))
				rv = sink(arg, (int64_t)(2 * i + 1), &priv, bdata);
		}
		hw_attrs_clear(&pub);
		hw_attrs_clear(&priv);
	}
	/* kept public keys of keys the service no longer lists */
	return rv == CKR_OK ? hw_overlay_report(&cs->objs, in_table, ctx, sink, arg) : rv;
}

CK_RV hw_cloud_generate(void *ctx, CK_KEY_TYPE type, const hw_keygen *g, bool token, hw_attrs *pub, hw_attrs *priv,
			int64_t *pub_oid, int64_t *priv_oid, void **bdata)
{
	hw_cloud_slot *cs = ctx;
	/* a cloud key outlives any session: session keys would be left behind */
	if (!token)
		return CKR_TEMPLATE_INCONSISTENT;
	return cs->keys->generate(ctx, g, pub, priv, pub_oid, priv_oid, bdata);
}

CK_RV hw_cloud_rotate(void *ctx, hw_obj *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid,
		      void **bdata)
{
	hw_cloud_slot *cs = ctx;
	hw_cloud_keyinfo ki;
	if (cs->keys->rotate == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (key->bdata == NULL)
		return CKR_KEY_HANDLE_INVALID;
	/* versions of key pairs only (a new version makes a new public key) */
	hw_snap *s = hw_obj_snap(key);
	bool secret = hw_attrs_get_ulong(hw_snap_attrs(s), CKA_CLASS, CKO_PRIVATE_KEY) == CKO_SECRET_KEY;
	hw_snap_put(s);
	if (secret)
		return CKR_FUNCTION_NOT_SUPPORTED;
	CK_RV rv = cs->keys->rotate(ctx, key->bdata, next, pub, priv, pub_oid, priv_oid, bdata);
	/* no template: the new version's objects are what a listing shows */
	if (rv == CKR_OK && cs->keys->record(ctx, (size_t)(*priv_oid - 1) / 2, &ki, NULL) == HW_CLOUD_REC_NONE)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK)
		rv = hw_cloud_listed_attrs(&ki, pub, priv);
	return rv;
}

CK_RV hw_cloud_sign(void *ctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_cloud_slot *cs = ctx;
	return key->bdata == NULL ? CKR_KEY_HANDLE_INVALID : cs->keys->sign(ctx, key->bdata, req, sig, sig_len);
}

CK_RV hw_cloud_decrypt(void *ctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	hw_cloud_slot *cs = ctx;
	return key->bdata == NULL ? CKR_KEY_HANDLE_INVALID : cs->keys->decrypt(ctx, key->bdata, req, out, out_len);
}

CK_RV hw_cloud_sig_room(unsigned char *sig, size_t *sig_len, size_t need, bool *done)
{
	*done = sig == NULL || *sig_len < need;
	CK_RV rv = sig != NULL && *sig_len < need ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	if (*done)
		*sig_len = need;
	return rv;
}

CK_RV hw_cloud_sig_out(const hw_cloud_slot *cs, const char *backend, const char *op, CK_KEY_TYPE type, size_t nlen,
		       const unsigned char *raw, size_t got, unsigned char *sig, size_t *sig_len)
{
	if (type == CKK_EC) {
		/* the services answer DER; PKCS#11 wants r||s of the order's width */
		if (hw_ecdsa_der_to_rs(raw, got, nlen, sig) != CKR_OK) {
			hw_error("slot \"%s\" (%s): %s answered a malformed ECDSA signature", cs->conf->name, backend, op);
			return CKR_DEVICE_ERROR;
		}
		*sig_len = 2 * nlen;
		return CKR_OK;
	}
	if (got != nlen) {
		hw_error("slot \"%s\" (%s): %s answered %zu bytes for a %zu-byte modulus", cs->conf->name, backend, op, got,
			 nlen);
		return CKR_DEVICE_ERROR;
	}
	memcpy(sig, raw, nlen);
	*sig_len = nlen;
	return CKR_OK;
}

CK_RV hw_cloud_plain_out(const unsigned char *pt, size_t pl, unsigned char *out, size_t *out_len)
{
	if (*out_len < pl) {
		*out_len = pl;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, pt, pl);
	*out_len = pl;
	return CKR_OK;
}
