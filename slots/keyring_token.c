/*
 * The keyring slot's token and PIN (keyring_int.h).
 *
 * The PIN is the collection's password. The Secret Service can check a
 * password without side effects only while unlocking a locked collection
 * (gnome-keyring's UnlockWithMasterPassword). For a collection that is
 * already unlocked -- the usual case on a desktop -- the only check it offers
 * is ChangeWithMasterPassword to the same password, which makes gnome-keyring
 * save and reload the whole collection, visibly changing other applications'
 * items (it adds its default xdg:schema to items that had none). So that
 * check is made only when hwagg cannot decide alone:
 *
 *  - C_InitToken(SO PIN = the password) has the service check it (unlock, or
 *    change-to-itself), deletes this slot's items (B 5.5.7: every object is
 *    destroyed) and stores a verifier: a random value wrapped under the
 *    password (objects/pin.h: scrypt + AES-256-GCM), in an item of its own
 *    schema (org.hwagg.Token), never listed as a token object.
 *  - C_Login(CKU_USER): locked -> the service unlocks with it; unlocked ->
 *    the verifier decides. A PIN the verifier refuses is asked of the service
 *    once more, because the user may have changed the password since: the
 *    service refuses a wrong one without side effects (CKR_PIN_INCORRECT);
 *    a new one it accepts updates the verifier.
 *  - No verifier item: the token is not initialized (no
 *    CKF_TOKEN_INITIALIZED/CKF_USER_PIN_INITIALIZED), and C_Login answers
 *    CKR_USER_PIN_NOT_INITIALIZED.
 */
#include "slots/keyring_int.h"
#include "common/log.h"
#include "objects/pin.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char magic[8] = { 'H', 'W', 'A', 'G', 'G', 'K', 'T', '1' };

/* The verifier item of this slot (path in *path, NULL if none). */
static CK_RV find_token(hw_kr_ctx *c, const hw_kr_link *l, char **path)
{
	char **paths = NULL;
	CK_RV rv = hw_kr_search(c, l, HW_KR_SCHEMA_TOKEN, &paths);
	*path = NULL;
	if (rv == CKR_OK && paths[0] != NULL && (*path = strdup(paths[0])) == NULL)
		rv = CKR_HOST_MEMORY;
	hw_kr_strv_free(paths);
	return rv;
}

/* Whether the token is initialized, from the cache or one search. */
CK_RV hw_kr_token_state(hw_kr_ctx *c, bool *initialized)
{
	hw_kr_link l;
	char *path = NULL;
	pthread_mutex_lock(&c->lock);
	bool known = c->token_known;
	*initialized = c->token_path != NULL;
	pthread_mutex_unlock(&c->lock);
	if (known)
		return CKR_OK;
	CK_RV rv = hw_kr_link_get(c, &l);
	if (rv == CKR_OK)
		rv = find_token(c, &l, &path);
	if (rv == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		free(c->token_path);
		c->token_path = path;
		c->token_known = l.gen == c->gen;
		*initialized = path != NULL;
		pthread_mutex_unlock(&c->lock);
	}
	hw_kr_link_put(&l);
	return rv;
}

/* The verifier's verdict on pin: CKR_OK, CKR_PIN_INCORRECT, or an error
 * (a verifier that cannot be read or parsed counts as a refusal). */
static CK_RV verify(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const CK_UTF8CHAR *pin,
		    CK_ULONG len)
{
	hw_secret *v = NULL, *value = NULL;
	CK_RV rv = hw_kr_get_secret(c, l, path, &v);
	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_PIN_INCORRECT : rv;
	if (v->len <= sizeof(magic) || memcmp(v->data, magic, sizeof(magic)) != 0)
		rv = CKR_PIN_INCORRECT;
	else
		rv = hw_pin_unwrap(v->data + sizeof(magic), v->len - sizeof(magic), pin, len, &value);
	hw_secret_free(value);
	hw_secret_free(v);
	return rv == CKR_DEVICE_ERROR ? CKR_PIN_INCORRECT : rv;
}

/* A new verifier for pin: into the item at path, or a new item. */
static CK_RV store_verifier(hw_kr_ctx *c, const hw_kr_link *l, const char *path, const CK_UTF8CHAR *pin,
			    CK_ULONG len)
{
	hw_secret *value = hw_secret_new(HW_MK_LEN), *s = hw_secret_new(sizeof(magic) + 256);
	hw_kr_attrs attributes = { .n = 0 };
	char *created = NULL, *label = NULL;
	size_t wrap_len = 256;
	CK_RV rv = value != NULL && s != NULL ? hw_random(value->data, value->len) : CKR_HOST_MEMORY;
	if (rv != CKR_OK || (rv = hw_pin_wrap(value, pin, len, s->data + sizeof(magic), &wrap_len)) != CKR_OK)
		goto out;
	memcpy(s->data, magic, sizeof(magic));
	s->len = sizeof(magic) + wrap_len;
	if (path != NULL) {
		rv = hw_kr_set_secret(c, l, path, s);
		goto out;
	}
	if (!hw_kr_attrs_add(&attributes, "xdg:schema", HW_KR_SCHEMA_TOKEN) ||
	    !hw_kr_attrs_add(&attributes, "hwagg-slot", c->conf->name) ||
	    !hw_kr_attrs_add(&attributes, "hwagg-version", HW_KR_FORMAT) ||
	    (label = hw_kr_printf("hwagg %s: token (PIN verifier)", c->conf->name)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = hw_kr_create(c, l, &attributes, label, s, &created)) == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		free(c->token_path);
		c->token_path = created;
		c->token_known = l->gen == c->gen;
		created = NULL;
		pthread_mutex_unlock(&c->lock);
	}
out:
	hw_kr_attrs_clear(&attributes);
	free(created);
	free(label);
	hw_secret_free(value);
	hw_secret_free(s);
	return rv;
}

/* Check pin as the collection's password (see the top of this file).
 * *locked says whether the collection was locked; it is not afterwards. */
static CK_RV check(hw_kr_ctx *c, const hw_kr_link *l, const char *token, const CK_UTF8CHAR *pin, CK_ULONG len,
		   bool *locked)
{
	bool stale = false;
	CK_RV rv = hw_kr_is_locked(c, l, locked);
	if (rv != CKR_OK)
		return rv;
	if (*locked) {
		rv = hw_kr_password(c, l, pin, len, true);
		stale = rv == CKR_OK && token != NULL && verify(c, l, token, pin, len) == CKR_PIN_INCORRECT;
	} else if (token != NULL && (rv = verify(c, l, token, pin, len)) != CKR_PIN_INCORRECT) {
		return rv;                    /* the verifier decided (or could not be read) */
	} else {
		rv = hw_kr_password(c, l, pin, len, false);
		stale = rv == CKR_OK && token != NULL;
	}
	/* the service accepted a password the verifier did not know: a new one */
	if (stale && store_verifier(c, l, token, pin, len) != CKR_OK)
		hw_warn("slot \"%s\" (keyring): the PIN verifier could not be updated", c->conf->name);
	return rv;
}

/* Delete every item of this slot (objects and verifier). */
static CK_RV clear_slot(hw_kr_ctx *c, const hw_kr_link *l)
{
	static const char *const schemas[] = { HW_KR_SCHEMA, HW_KR_SCHEMA_TOKEN };
	CK_RV rv = CKR_OK;
	for (size_t s = 0; s < HW_ARRAY_LEN(schemas) && rv == CKR_OK; s++) {
		char **paths = NULL;
		rv = hw_kr_search(c, l, schemas[s], &paths);
		for (size_t i = 0; rv == CKR_OK && paths[i] != NULL; i++)
			rv = hw_kr_delete(c, l, paths[i]);
		hw_kr_strv_free(paths);
	}
	pthread_mutex_lock(&c->lock);
	hw_kr_items_free(c);
	free(c->token_path);
	c->token_path = NULL;
	c->token_known = false;
	c->changes++;
	pthread_mutex_unlock(&c->lock);
	return rv;
}

/* C_Login and C_InitToken: both check the password (init: the first time
 * the service itself vouches for it); initializing then starts the slot
 * afresh with a new verifier, logging in starts the login session. */
static CK_RV with_password(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len, bool init)
{
	hw_kr_link l;
	char *token = NULL;
	bool initialized, locked = false;
	CK_RV rv = hw_kr_token_state(c, &initialized);
	if (rv != CKR_OK || (rv = hw_kr_link_get(c, &l)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&c->lock);
	if (c->token_path != NULL && (token = strdup(c->token_path)) == NULL)
		rv = CKR_HOST_MEMORY;
	pthread_mutex_unlock(&c->lock);
	if (rv == CKR_OK)
		rv = init || initialized ? check(c, &l, token, pin, len, &locked) : CKR_USER_PIN_NOT_INITIALIZED;
	if (rv == CKR_OK && init && (rv = clear_slot(c, &l)) == CKR_OK)
		rv = store_verifier(c, &l, NULL, pin, len);
	if (rv == CKR_OK && !init) {
		pthread_mutex_lock(&c->lock);
		c->user = true;
		/* the engine dropped the private objects at the last logout; and
		 * a collection just unlocked can be read now: load again */
		c->changes++;
		pthread_mutex_unlock(&c->lock);
	}
	if (rv == CKR_OK && locked)
		hw_info("slot \"%s\" (keyring): collection %s unlocked with its password", c->conf->name, l.coll);
	if (init)
		hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\" (keyring): token %sinitialized in "
		       "collection %s: %s", c->conf->name, initialized ? "re-" : "", l.coll, hw_rv_name(rv));
	free(token);
	hw_kr_link_put(&l);
	return rv;
}

CK_RV hw_kr_login(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	return with_password(c, pin, len, false);
}

CK_RV hw_kr_init_token(hw_kr_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	return with_password(c, pin, len, true);
}
