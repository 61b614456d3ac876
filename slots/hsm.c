/*
 * The hsm slot: configuration, the control session (PINs), the pool of
 * lower sessions and the private-key operations, and the ops struct. See
 * hsm.h.
 */
#include "slots/hsm.h"
#include "slots/hsm_version.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const security_choices[] = { "hardware", "software", NULL };

const hw_conf_key hw_hsm_conf_keys[] = {
	{ "module", json_type_string, true, .check = HW_CONF_CHECK_SHARED_OBJECT },
	{ "token", json_type_string, false },
	{ "security", json_type_string, false, .choices = security_choices },
	{ NULL, json_type_null, false },
};

static CK_RV hsm_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hsm_ctx *c = vctx;
	const char *sec = hw_conf_str(conf, "security", "hardware");
	c->conf = conf;
	c->module = hw_conf_str(conf, "module", NULL);
	c->label = hw_conf_str(conf, "token", NULL);
	if (c->module == NULL || c->module[0] != '/') {
		snprintf(err, err_len, "module: expected the absolute path of a PKCS#11 module file");
		return CKR_ARGUMENTS_BAD;
	}
	if (c->label != NULL && (c->label[0] == '\0' || strlen(c->label) > 32)) {
		snprintf(err, err_len, "token: expected a token label of 1 to 32 bytes");
		return CKR_ARGUMENTS_BAD;
	}
	if (strcmp(sec, "hardware") == 0) {
		c->sec = HW_SEC_HARDWARE;
	} else if (strcmp(sec, "software") == 0) {
		c->sec = HW_SEC_SOFTWARE;
	} else {
		snprintf(err, err_len, "security: expected \"hardware\" or \"software\"");
		return CKR_ARGUMENTS_BAD;
	}
	if ((c->versions = hsm_version_path(all->store, conf->name)) == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(&c->ctl_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	return CKR_OK;
}

/* ---- the control session: PINs ------------------------------------------------ */

CK_RV hsm_ctl_begin(hsm_ctx *c, hsm_call *k)
{
	CK_RV rv = CKR_DEVICE_REMOVED;
	pthread_mutex_lock(&c->ctl_lock);
	pthread_mutex_lock(&c->lock);
	if (c->bound) {
		hsm_call_inlock(c, k, c->ctl);
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&c->lock);
	if (rv != CKR_OK)
		pthread_mutex_unlock(&c->ctl_lock);
	return rv;
}

void hsm_ctl_end(hsm_ctx *c, hsm_call *k)
{
	pthread_mutex_unlock(&c->ctl_lock);
}

static CK_RV hsm_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	rv = HSM_CALL(&k, C_Login, k.s, who, (CK_UTF8CHAR_PTR)pin, len);
	for (int t = 1; t < HSM_TRIES && hsm_half_written(rv, NULL); t++) {
		hsm_backoff(t);
		rv = HSM_CALL(&k, C_Login, k.s, who, (CK_UTF8CHAR_PTR)pin, len);
	}
	if (rv == CKR_USER_ALREADY_LOGGED_IN) {
		/* The engine logs in only from the public state, so the lower
		 * token kept a login hwagg no longer has (its token was
		 * removed under it): the PIN is checked again, not assumed. */
		HSM_CALL(&k, C_Logout, k.s);
		rv = HSM_CALL(&k, C_Login, k.s, who, (CK_UTF8CHAR_PTR)pin, len);
	}
	if (rv == CKR_USER_PIN_NOT_INITIALIZED && hsm_restart_unused(c, &k))
		rv = HSM_CALL(&k, C_Login, k.s, who, (CK_UTF8CHAR_PTR)pin, len);
	hsm_seen(c, &k, rv, "C_Login");
	hsm_ctl_end(c, &k);
	return rv;
}

static void hsm_logout(void *vctx)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	if (hsm_ctl_begin(c, &k) != CKR_OK)
		return;
	hsm_seen(c, &k, HSM_CALL(&k, C_Logout, k.s), "C_Logout");
	hsm_ctl_end(c, &k);
}

static CK_RV hsm_init_pin(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	rv = hsm_seen(c, &k, HSM_CALL(&k, C_InitPIN, k.s, (CK_UTF8CHAR_PTR)pin, len), "C_InitPIN");
	hsm_ctl_end(c, &k);
	return rv;
}

static CK_RV hsm_set_pin(void *vctx, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	CK_RV rv = hsm_ctl_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	/* the lower token knows who is logged in (the same user as ours) */
	rv = HSM_CALL(&k, C_SetPIN, k.s, (CK_UTF8CHAR_PTR)old_pin, old_len, (CK_UTF8CHAR_PTR)new_pin, new_len);
	hsm_seen(c, &k, rv, "C_SetPIN");
	hsm_ctl_end(c, &k);
	return rv;
}

/* ---- the session pool: crypto ---------------------------------------------------- */

/* A lower session for one operation: an idle one, else a new one. */
static CK_RV op_begin(hsm_ctx *c, hsm_call *k)
{
	CK_RV rv = CKR_DEVICE_REMOVED;
	pthread_mutex_lock(&c->lock);
	if (c->bound) {
		hsm_call_inlock(c, k, c->nidle > 0 ? c->idle[--c->nidle] : CK_INVALID_HANDLE);
		c->busy++;
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&c->lock);
	if (rv == CKR_OK && k->s == CK_INVALID_HANDLE) {
		rv = hsm_seen(c, k, hsm_open_session(k, k->slot, &k->s), "C_OpenSession");
		if (rv != CKR_OK) {
			pthread_mutex_lock(&c->lock);
			c->busy--;
			pthread_mutex_unlock(&c->lock);
		}
	}
	return rv;
}

/* Back to the pool; reuse false: the session may hold an unfinished
 * operation (or the module misbehaved), so it is closed. */
static void op_end(hsm_ctx *c, hsm_call *k, bool reuse)
{
	bool current;
	pthread_mutex_lock(&c->lock);
	c->busy--;
	current = c->bound && c->epoch == k->epoch;
	if (current && reuse && c->nidle < HSM_POOL) {
		c->idle[c->nidle++] = k->s;
		k->s = CK_INVALID_HANDLE;
	}
	pthread_mutex_unlock(&c->lock);
	if (k->s != CK_INVALID_HANDLE && current)
		HSM_CALL(k, C_CloseSession, k->s);
}

CK_RV hsm_key_handle(const hw_obj *o, const hsm_call *k, CK_OBJECT_HANDLE *h)
{
	const hsm_key *b = o->bdata;
	if (b != NULL) {
		*h = b->h;
		return b->epoch == k->epoch ? CKR_OK : CKR_KEY_HANDLE_INVALID;
	}
	*h = (CK_OBJECT_HANDLE)o->oid;
	return o->oid != 0 ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

/* An operation begun at its *Init call (a private-key one, or a secret-key
 * stream): its lower session, with the lower operation active until done. */
typedef struct hsm_op {
	hsm_call k;
	CK_FLAGS kind;               /* CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT or CKF_DECRYPT */
	bool done;                   /* the lower operation is over: reuse the session */
} hsm_op;

static const char *init_name(CK_FLAGS kind)
{
	return kind == CKF_SIGN ? "C_SignInit" : kind == CKF_VERIFY ? "C_VerifyInit"
	       : kind == CKF_ENCRYPT ? "C_EncryptInit" : "C_DecryptInit";
}

static CK_RV hsm_begin(void *vctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *base, void **out)
{
	hsm_ctx *c = vctx;
	CK_OBJECT_HANDLE h;
	bool begun = false;
	CK_RV rv = CKR_HOST_MEMORY;
	hsm_op *o = malloc(sizeof(*o));
	if (o == NULL || (rv = op_begin(c, &o->k)) != CKR_OK)
		goto out;
	begun = true;
	if ((rv = hsm_key_handle(key, &o->k, &h)) == CKR_OK) {
		CK_MECHANISM_PTR m = (CK_MECHANISM_PTR)base;
		rv = kind == CKF_SIGN ? HSM_CALL(&o->k, C_SignInit, o->k.s, m, h)
		     : kind == CKF_VERIFY ? HSM_CALL(&o->k, C_VerifyInit, o->k.s, m, h)
		     : kind == CKF_ENCRYPT ? HSM_CALL(&o->k, C_EncryptInit, o->k.s, m, h)
					   : HSM_CALL(&o->k, C_DecryptInit, o->k.s, m, h);
	}
	/* the lower key is gone (destroyed, or private and its token logged
	 * out meanwhile): an *Init says so with CKR_KEY_HANDLE_INVALID (B 5.10),
	 * whatever the lower module's word for it (SoftHSM2 answers
	 * CKR_OBJECT_HANDLE_INVALID) */
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	rv = hsm_seen(c, &o->k, rv, init_name(kind));
out:
	if (rv == CKR_OK) {
		o->done = false;
		o->kind = kind;
		*out = o;
	} else {
		if (begun)
			op_end(c, &o->k, true);      /* a failed init leaves nothing active */
		free(o);
	}
	return rv;
}

static void hsm_end(void *vctx, void *op)
{
	hsm_ctx *c = vctx;
	hsm_op *o = op;
	if (hsm_lower_ours(c->lower))
		op_end(c, &o->k, o->done);
	free(o);
}

/* C_Sign or C_Decrypt on the session begun at *Init. The module may not
 * claim more output than the room it was given. The lower operation is over
 * unless it asked for more room (or misbehaved): only then is the session
 * not reused. */
static CK_RV finish(hsm_ctx *c, hsm_op *o, bool sign, const unsigned char *in, size_t in_len,
		    unsigned char *out, size_t *room)
{
	const char *fn = sign ? "C_Sign" : "C_Decrypt";
	CK_ULONG got = *room;
	CK_RV rv;
	if (o == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	rv = sign ? HSM_CALL(&o->k, C_Sign, o->k.s, (CK_BYTE_PTR)in, in_len, out, &got)
		  : HSM_CALL(&o->k, C_Decrypt, o->k.s, (CK_BYTE_PTR)in, in_len, out, &got);
	o->done = rv != CKR_BUFFER_TOO_SMALL;
	if (rv == CKR_OK && got > *room) {
		hw_warn("module %s: %s returned %lu bytes for a buffer of %zu", c->module, fn,
			(unsigned long)got, *room);
		o->done = false;
		rv = CKR_DEVICE_ERROR;
	}
	if (rv == CKR_OK)
		*room = got;
	return hsm_seen(c, &o->k, rv, fn);
}

static CK_RV hsm_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	return finish(vctx, req->bop, true, req->data, req->len, sig, sig_len);
}

static CK_RV hsm_decrypt(void *vctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	return finish(vctx, req->bop, false, req->data, req->len, out, out_len);
}

/* ---- secret-key streams (backend.h sk_*): the lower token's own
 * multi-part calls; begun and ended like the operations above ---------- */

/* The module may not claim more output than the room it was given. */
static CK_RV room_kept(hsm_ctx *c, hsm_op *o, CK_RV rv, const char *fn, CK_ULONG got, size_t *room)
{
	if (rv == CKR_OK && room != NULL && got > *room) {
		hw_warn("module %s: %s returned %lu bytes for a buffer of %zu", c->module, fn, (unsigned long)got,
			*room);
		rv = CKR_DEVICE_ERROR;
	}
	if ((rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL) && room != NULL)
		*room = got;            /* too small: what the module needs */
	if (rv != CKR_OK)
		o->done = false;             /* whatever the module left active: not reused */
	return hsm_seen(c, &o->k, rv, fn);
}

static CK_RV hsm_sk_update(void *vctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			   size_t *out_len)
{
	hsm_op *o = op;
	CK_BYTE_PTR p = (CK_BYTE_PTR)in;
	CK_ULONG got = out_len != NULL ? *out_len : 0;
	CK_RV rv;
	const char *fn;
	switch (o->kind) {
	case CKF_SIGN:
		fn = "C_SignUpdate";
		rv = HSM_CALL(&o->k, C_SignUpdate, o->k.s, p, len);
		break;
	case CKF_VERIFY:
		fn = "C_VerifyUpdate";
		rv = HSM_CALL(&o->k, C_VerifyUpdate, o->k.s, p, len);
		break;
	case CKF_ENCRYPT:
		fn = "C_EncryptUpdate";
		rv = HSM_CALL(&o->k, C_EncryptUpdate, o->k.s, p, len, out, &got);
		break;
	default:
		fn = "C_DecryptUpdate";
		rv = HSM_CALL(&o->k, C_DecryptUpdate, o->k.s, p, len, out, &got);
		break;
	}
	return room_kept(vctx, o, rv, fn, got, out_len);
}

/* single: the whole input in one call (C_Sign, C_Encrypt ...), else the
 * final call of the parts fed. */
static CK_RV hsm_sk_final(void *vctx, void *op, bool single, const unsigned char *in, size_t len,
			  const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	hsm_op *o = op;
	CK_BYTE_PTR p = (CK_BYTE_PTR)in, sg = (CK_BYTE_PTR)sig;
	CK_ULONG got = out_len != NULL ? *out_len : 0;
	CK_RV rv = CKR_OK;
	const char *fn;
	if (!single && len > 0 && (rv = hsm_sk_update(vctx, op, in, len, NULL, NULL)) != CKR_OK)
		return rv;
	switch (o->kind) {
	case CKF_SIGN:
		fn = single ? "C_Sign" : "C_SignFinal";
		rv = single ? HSM_CALL(&o->k, C_Sign, o->k.s, p, len, out, &got)
			    : HSM_CALL(&o->k, C_SignFinal, o->k.s, out, &got);
		break;
	case CKF_VERIFY:
		fn = single ? "C_Verify" : "C_VerifyFinal";
		rv = single ? HSM_CALL(&o->k, C_Verify, o->k.s, p, len, sg, sig_len)
			    : HSM_CALL(&o->k, C_VerifyFinal, o->k.s, sg, sig_len);
		break;
	case CKF_ENCRYPT:
		fn = single ? "C_Encrypt" : "C_EncryptFinal";
		rv = single ? HSM_CALL(&o->k, C_Encrypt, o->k.s, p, len, out, &got)
			    : HSM_CALL(&o->k, C_EncryptFinal, o->k.s, out, &got);
		break;
	default:
		fn = single ? "C_Decrypt" : "C_DecryptFinal";
		rv = single ? HSM_CALL(&o->k, C_Decrypt, o->k.s, p, len, out, &got)
			    : HSM_CALL(&o->k, C_DecryptFinal, o->k.s, out, &got);
		break;
	}
	/* the lower operation is over unless it asked for more room */
	o->done = rv != CKR_BUFFER_TOO_SMALL;
	return room_kept(vctx, o, rv, fn, got, out_len);
}

static CK_RV hsm_random(void *vctx, unsigned char *out, size_t len)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	CK_RV rv = op_begin(c, &k);
	if (rv != CKR_OK)
		return rv;
	rv = hsm_seen(c, &k, HSM_CALL(&k, C_GenerateRandom, k.s, out, len), "C_GenerateRandom");
	op_end(c, &k, true);
	return rv;
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void hsm_close(void *vctx, bool forked)
{
	hsm_ctx *c = vctx;
	hsm_call k;
	free(c->seen);
	free(c->versions);
	c->seen = NULL;
	if (forked)
		return;      /* a child: the parent's sessions and login stay untouched */
	if (hsm_lower_ours(c->lower)) {
		pthread_mutex_lock(&c->lock);
		if (c->bound) {
			hsm_call_inlock(c, &k, c->ctl);
			for (size_t i = 0; i < c->nidle; i++)
				HSM_CALL(&k, C_CloseSession, c->idle[i]);
			HSM_CALL(&k, C_CloseSession, c->ctl);
			c->bound = false;
		}
		pthread_mutex_unlock(&c->lock);
		hsm_lower_put(c->lower);
		c->lower = NULL;
	}
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->ctl_lock);
}

static uint64_t hsm_epoch(void *vctx)
{
	hsm_ctx *c = vctx;
	return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
}

static hw_security hsm_security(void *vctx)
{
	return ((const hsm_ctx *)vctx)->sec;
}

const hw_backend_ops hw_hsm_ops = {
	.type = "hsm",
	.ctx_size = sizeof(hsm_ctx),
	.open = hsm_open,
	.close = hsm_close,
	.token_info = hsm_token_info,
	.has_mechanism = hsm_has_mechanism,
	.login = hsm_login,
	.logout = hsm_logout,
	.init_token = hsm_init_token,
	.init_pin = hsm_init_pin,
	.set_pin = hsm_set_pin,
	.changed = hsm_changed,
	.load = hsm_load,
	.create = hsm_create,
	.update = hsm_update,
	.destroy = hsm_destroy,
	.free_bdata = hsm_free_bdata,
	.generate_key_pair = hsm_generate,
	.sign = hsm_sign,
	.decrypt = hsm_decrypt,
	.health = hsm_health,
	.security = hsm_security,
	.token_epoch = hsm_epoch,
	.generate_random = hsm_random,
	.op_begin = hsm_begin,
	.op_end = hsm_end,
	.generate_key = hsm_generate_key,
	.wrap_key = hsm_wrap,
	.unwrap_key = hsm_unwrap,
	.import_key = hsm_import,
	.derive_key = hsm_derive,
	.imports_private = true,
	.sk_begin = hsm_begin,
	.sk_update = hsm_sk_update,
	.sk_final = hsm_sk_final,
	.sk_end = hsm_end,
};
