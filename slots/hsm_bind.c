/*
 * The hsm slot's binding to its lower token: loading the module, finding
 * the token (by label) and keeping track of it when its slot ID moves or it
 * goes away, the token's information and mechanisms, and C_InitToken,
 * which ends one binding and starts the next. See hsm.h.
 */
#include "slots/hsm.h"
#include "common/deadline.h"
#include "common/log.h"
#include "common/uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HSM_RETRY 1.0          /* seconds between attempts to load a failed module */
#define HSM_MAX_LIST 4096      /* a longer slot or mechanism list is garbage */

/* The base mechanisms the engine asks for (backend.h: has_mechanism). */
static const CK_MECHANISM_TYPE bases[HSM_NMECHS] = {
	CKM_ECDSA, CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_EDDSA,
	CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN,
	CKM_AES_KEY_GEN, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD,
	CKM_GENERIC_SECRET_KEY_GEN, CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM,
	CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC,
	CKM_SHA_1_HMAC_GENERAL, CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC_GENERAL, CKM_SHA384_HMAC_GENERAL,
	CKM_SHA512_HMAC_GENERAL, CKM_ECDH1_DERIVE,
};

/* Token flags that describe the lower token as such; the rest (clock,
 * dual crypto, restore key, secondary authentication) are about functions
 * hwagg does not pass on. */
#define PASS_FLAGS (CKF_RNG | CKF_WRITE_PROTECTED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | \
	CKF_PROTECTED_AUTHENTICATION_PATH | CKF_TOKEN_INITIALIZED | CKF_USER_PIN_COUNT_LOW | \
	CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED | \
	CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | CKF_SO_PIN_TO_BE_CHANGED)

/* Before try t (1, 2, ...) of a lower call: 4, 8, 16, 32 ms. */
void hsm_backoff(int t)
{
	struct timespec ts = { 0, (2L << t) * 1000000L };
	nanosleep(&ts, NULL);
}

/* SoftHSM2 reads its token file while another process rewrites it (on
 * every C_Login) and then answers CKR_GENERAL_ERROR, an initialized token
 * with a blank label, or a user PIN that is not initialized. Such answers
 * are read again a few times before they count. */
bool hsm_half_written(CK_RV rv, const CK_TOKEN_INFO *ti)
{
	static const CK_UTF8CHAR blank[32] = "                                ";
	if (rv == CKR_GENERAL_ERROR || rv == CKR_USER_PIN_NOT_INITIALIZED)
		return true;
	return rv == CKR_OK && ti != NULL && (ti->flags & CKF_TOKEN_INITIALIZED) &&
	       memcmp(ti->label, blank, 32) == 0;
}

/* A blank- (or NUL-) padded label, trimmed. */
static void label_str(const CK_UTF8CHAR *l, char out[33])
{
	size_t n = 32;
	memcpy(out, l, 32);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

static bool label_is(const CK_UTF8CHAR *padded, const char *want)
{
	char got[33];
	label_str(padded, got);
	return strcmp(got, want) == 0;
}

/* ---- binding ---------------------------------------------------------------- */

/* Log why the token is absent, once per reason. */
static void absent_inlock(hsm_ctx *c, const char *why)
{
	if (strcmp(c->why, why) == 0)
		return;
	snprintf(c->why, sizeof(c->why), "%s", why);
	hw_warn("slot \"%s\": module %s: %s; the slot shows no token", c->conf->name, c->module, why);
}

void hsm_call_inlock(hsm_ctx *c, hsm_call *k, CK_SESSION_HANDLE s)
{
	k->m = c->lower;
	k->f = c->lower->f;
	k->s = s;
	k->slot = c->slot;
	k->epoch = c->epoch;
}

/* The lower sessions died with the token: abandoned, never closed. */
static void unbind_inlock(hsm_ctx *c)
{
	c->bound = false;
	c->nidle = 0;
	__atomic_store_n(&c->mechs, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&c->epoch, c->epoch + 1, __ATOMIC_RELEASE);
}

static bool token_gone(CK_RV rv)
{
	switch (rv) {
	case CKR_DEVICE_REMOVED: case CKR_TOKEN_NOT_PRESENT: case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SESSION_HANDLE_INVALID: case CKR_SESSION_CLOSED: case CKR_SLOT_ID_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return true;
	default:
		return false;
	}
}

CK_RV hsm_seen(hsm_ctx *c, const hsm_call *k, CK_RV rv, const char *fn)
{
	char why[128];
	if (!token_gone(rv))
		return rv;
	pthread_mutex_lock(&c->lock);
	if (c->bound && c->epoch == k->epoch) {
		unbind_inlock(c);
		snprintf(why, sizeof(why), "the token went away (%s: %s)", fn, hw_rv_name(rv));
		absent_inlock(c, why);
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

/* A lower list (slots or mechanisms) by the two-call rule, refusing
 * counts no module could mean. */
static CK_RV lower_list(hsm_ctx *c, hsm_call *k, bool slots, CK_ULONG **out, CK_ULONG *count)
{
	CK_ULONG *v = NULL, n = 0, got = 0;
	CK_RV rv = CKR_OK;
	const char *fn = slots ? "C_GetSlotList" : "C_GetMechanismList";
	for (int tries = 0; tries < 3; tries++) {
		rv = slots ? HSM_CALL(k, C_GetSlotList, CK_TRUE, NULL, &n)
			   : HSM_CALL(k, C_GetMechanismList, k->slot, NULL, &n);
		if (rv != CKR_OK)
			goto out;
		if (n > HSM_MAX_LIST) {
			hw_warn("module %s: %s reported %lu entries", c->module, fn, (unsigned long)n);
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		free(v);
		if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		got = n;
		rv = slots ? HSM_CALL(k, C_GetSlotList, CK_TRUE, v, &got)
			   : HSM_CALL(k, C_GetMechanismList, k->slot, v, &got);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;                 /* else one appeared in between: again */
	}
	if (rv == CKR_OK && got > n) {
		hw_warn("module %s: %s wrote %lu entries into room for %lu", c->module, fn,
			(unsigned long)got, (unsigned long)n);
		rv = CKR_DEVICE_ERROR;
	}
out:
	if (rv != CKR_OK) {
		free(v);
		v = NULL;
		got = 0;
	}
	*out = v;
	*count = got;
	return rv;
}

static void read_mechs_inlock(hsm_ctx *c, hsm_call *k)
{
	CK_ULONG *list, n;
	unsigned mask = 0;
	lower_list(c, k, false, &list, &n);     /* none when it fails */
	for (size_t b = 0; b < HSM_NMECHS; b++) {
		for (CK_ULONG i = 0; i < n; i++) {
			if (list[i] != bases[b] ||
			    HSM_CALL(k, C_GetMechanismInfo, k->slot, bases[b], &c->mech_info[b]) != CKR_OK)
				continue;
			mask |= 1u << b;
			break;
		}
	}
	free(list);
	__atomic_store_n(&c->mechs, mask, __ATOMIC_RELEASE);
}

static void make_uri_inlock(hsm_ctx *c)
{
	char l[33], s[17], enc[200];
	size_t o = (size_t)snprintf(c->uri, sizeof(c->uri), "pkcs11:token=");
	label_str(c->ti.label, l);
	memcpy(s, c->ti.serialNumber, 16);
	s[16] = '\0';
	for (int i = 15; i >= 0 && s[i] == ' '; i--)
		s[i] = '\0';
	hw_uri_encode(enc, sizeof(enc), l, strlen(l), HW_URI_PATH);
	o += (size_t)snprintf(c->uri + o, sizeof(c->uri) - o, "%s;serial=", enc);
	hw_uri_encode(enc, sizeof(enc), s, strlen(s), HW_URI_PATH);
	o += (size_t)snprintf(c->uri + o, sizeof(c->uri) - o, "%s?module-path=", enc);
	hw_uri_encode(c->uri + o, sizeof(c->uri) - o, c->module, strlen(c->module), HW_URI_QUERY);
}

CK_RV hsm_open_session(hsm_call *k, CK_SLOT_ID slot, CK_SESSION_HANDLE *s)
{
	/* R/W where possible: an R/O session of ours would make the SO's
	 * login fail with CKR_SESSION_READ_ONLY_EXISTS */
	CK_RV rv = HSM_CALL(k, C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = HSM_CALL(k, C_OpenSession, slot, CKF_SERIAL_SESSION, NULL, NULL, s);
	return rv;
}

static CK_RV attach_inlock(hsm_ctx *c, hsm_call *k, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti,
			   char *why, size_t len)
{
	CK_SESSION_HANDLE s;
	CK_RV rv = hsm_open_session(k, slot, &s);
	if (rv != CKR_OK) {
		snprintf(why, len, "C_OpenSession: %s", hw_rv_name(rv));
		return rv;
	}
	c->slot = k->slot = slot;
	c->ti = *ti;
	c->ctl = s;
	c->nidle = 0;
	c->bound = true;
	read_mechs_inlock(c, k);
	make_uri_inlock(c);
	return CKR_OK;
}

/* Find the token (by label, else the first initialized one, else the first
 * one at all so that C_InitToken can reach it) and attach to it. */
static CK_RV bind_inlock(hsm_ctx *c, char *why, size_t len)
{
	hsm_call k = { .m = c->lower, .f = c->lower->f };
	CK_ULONG *ids, n;
	CK_TOKEN_INFO ti, first;
	CK_SLOT_ID first_id = 0;
	bool have_first = false;
	CK_RV rv = lower_list(c, &k, true, &ids, &n);
	if (rv != CKR_OK) {
		snprintf(why, len, "C_GetSlotList: %s", hw_rv_name(rv));
		return rv;
	}
	rv = CKR_TOKEN_NOT_PRESENT;
	for (int t = 0; t < HSM_TRIES && rv == CKR_TOKEN_NOT_PRESENT; t++) {
		bool doubt = false;
		if (t > 0)
			hsm_backoff(t);
		for (CK_ULONG i = 0; i < n && rv == CKR_TOKEN_NOT_PRESENT; i++) {
			CK_RV one = HSM_CALL(&k, C_GetTokenInfo, ids[i], &ti);
			doubt |= hsm_half_written(one, &ti);
			if (one != CKR_OK)
				continue;
			if (c->label != NULL ? label_is(ti.label, c->label) : (ti.flags & CKF_TOKEN_INITIALIZED) != 0)
				rv = attach_inlock(c, &k, ids[i], &ti, why, len);
			else if (!have_first) {
				first = ti;
				first_id = ids[i];
				have_first = true;
			}
		}
		if (!doubt)
			break;
	}
	if (rv == CKR_TOKEN_NOT_PRESENT && c->label == NULL && have_first)
		rv = attach_inlock(c, &k, first_id, &first, why, len);
	if (rv == CKR_TOKEN_NOT_PRESENT) {
		if (c->label != NULL)
			snprintf(why, len, "no token labelled \"%s\" (%lu token(s) present)", c->label,
				 (unsigned long)n);
		else
			snprintf(why, len, "no token present");
	}
	free(ids);
	return rv;
}

/* Load the module and bind the token when not done yet (ctl_lock and lock
 * held). CKR_TOKEN_NOT_PRESENT with the reason logged once. */
static CK_RV ready_inlock(hsm_ctx *c)
{
	char why[sizeof(c->why)] = "";
	CK_RV rv;
	if (c->bound)
		return CKR_OK;
	if (hw_mono_s() < c->next_try)
		return CKR_TOKEN_NOT_PRESENT;
	if (c->lower == NULL && hsm_lower_get(c->module, &c->lower, why, sizeof(why)) != CKR_OK) {
		c->next_try = hw_mono_s() + HSM_RETRY;
		absent_inlock(c, why);
		return CKR_TOKEN_NOT_PRESENT;
	}
	/* Some modules (SoftHSM2) look for tokens only in C_Initialize, and
	 * miss one whose file another process was rewriting then: start the
	 * module again (as long as no other slot uses it), a few times on the
	 * first binding, once on later ones (to find a token added since). */
	int tries = c->bound_once ? 1 : HSM_TRIES;
	for (int t = 0; (rv = bind_inlock(c, why, sizeof(why))) != CKR_OK && t < tries; t++) {
		if (rv != CKR_TOKEN_NOT_PRESENT && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
			break;
		hsm_backoff(t + 1);
		/* never under a call still running in another thread */
		if (c->busy > 0 || hsm_lower_restart(c->lower) != CKR_OK)
			break;
	}
	if (rv != CKR_OK) {
		c->next_try = hw_mono_s() + HSM_RETRY;
		absent_inlock(c, why);
		return CKR_TOKEN_NOT_PRESENT;
	}
	char l[33];
	c->bound_once = true;
	label_str(c->ti.label, l);
	if (c->why[0] != '\0')
		hw_warn("slot \"%s\": module %s: token \"%s\" is present again", c->conf->name, c->module, l);
	hw_debug("slot \"%s\": module %s: token \"%s\" in lower slot %lu", c->conf->name, c->module, l,
		 (unsigned long)c->slot);
	c->why[0] = '\0';
	return CKR_OK;
}

/* The bound token answered C_GetTokenInfo with an error or another token's
 * identity: it moved to another slot ID (keep the binding) or went away. */
static void recheck_inlock(hsm_ctx *c, CK_RV rv)
{
	hsm_call k;
	CK_ULONG *ids, n;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO si;
	char why[128];
	hsm_call_inlock(c, &k, c->ctl);
	if (lower_list(c, &k, true, &ids, &n) == CKR_OK) {
		for (CK_ULONG i = 0; i < n; i++) {
			if (HSM_CALL(&k, C_GetTokenInfo, ids[i], &ti) != CKR_OK ||
			    memcmp(ti.label, c->ti.label, 32) != 0 ||
			    memcmp(ti.serialNumber, c->ti.serialNumber, 16) != 0)
				continue;
			if (HSM_CALL(&k, C_GetSessionInfo, c->ctl, &si) == CKR_OK && si.slotID == ids[i]) {
				c->slot = ids[i];
				free(ids);
				return;
			}
			break;
		}
		free(ids);
	}
	unbind_inlock(c);
	snprintf(why, sizeof(why), "the token went away (C_GetTokenInfo: %s)", hw_rv_name(rv));
	absent_inlock(c, why);
}

CK_RV hsm_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hsm_ctx *c = vctx;
	CK_TOKEN_INFO ti;
	CK_TOKEN_INFO bound;
	hsm_call k;
	bool was_bound = false;
	CK_RV rv = CKR_TOKEN_NOT_PRESENT;
	pthread_mutex_lock(&c->lock);
	if (c->bound) {
		hsm_call_inlock(c, &k, c->ctl);
		bound = c->ti;
		was_bound = true;
		c->busy++;
	}
	pthread_mutex_unlock(&c->lock);
	/* the fast path: the bound token is still where it was */
	for (int t = 0; was_bound && t < HSM_TRIES; t++) {
		if (t > 0)
			hsm_backoff(t);
		rv = HSM_CALL(&k, C_GetTokenInfo, k.slot, &ti);
		if (rv == CKR_OK && memcmp(ti.label, bound.label, 32) == 0 &&
		    memcmp(ti.serialNumber, bound.serialNumber, 16) == 0)
			break;
		bool again = hsm_half_written(rv, &ti);
		if (rv == CKR_OK)
			rv = CKR_TOKEN_NOT_RECOGNIZED;       /* another token in that slot */
		if (!again)
			break;
	}
	if (was_bound) {
		pthread_mutex_lock(&c->lock);
		c->busy--;
		pthread_mutex_unlock(&c->lock);
	}
	if (rv != CKR_OK) {
		/* slow path: find out where the bound token went, or bind */
		pthread_mutex_lock(&c->ctl_lock);
		pthread_mutex_lock(&c->lock);
		if (was_bound && c->bound && c->epoch == k.epoch)
			recheck_inlock(c, rv);
		for (int i = 0; i < 2; i++) {
			if ((rv = ready_inlock(c)) != CKR_OK)
				break;
			hsm_call_inlock(c, &k, c->ctl);
			if ((rv = HSM_CALL(&k, C_GetTokenInfo, k.slot, &ti)) == CKR_OK)
				break;
			recheck_inlock(c, rv);
		}
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->ctl_lock);
	}
	if (rv != CKR_OK)
		return CKR_TOKEN_NOT_PRESENT;
	info->flags = ti.flags & PASS_FLAGS;
	info->ulMinPinLen = ti.ulMinPinLen;
	info->ulMaxPinLen = ti.ulMaxPinLen;
	memcpy(info->model, ti.model, sizeof(info->model));
	memcpy(info->serialNumber, ti.serialNumber, sizeof(info->serialNumber));
	return CKR_OK;
}

bool hsm_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	hsm_ctx *c = vctx;
	size_t b = 0;
	bool found;
	while (b < HSM_NMECHS && bases[b] != base)
		b++;
	if (b == HSM_NMECHS)
		return false;
	if (info == NULL)      /* asked at every C_SignInit: no lock */
		return __atomic_load_n(&c->mechs, __ATOMIC_ACQUIRE) & (1u << b);
	pthread_mutex_lock(&c->lock);
	found = c->mechs & (1u << b);
	if (found)
		*info = c->mech_info[b];
	pthread_mutex_unlock(&c->lock);
	/* EdDSA key sizes come in each vendor's own unit (255, 256, 32 ...):
	 * hwagg's table says what it accepts */
	if (found && (base == CKM_EDDSA || base == CKM_EC_EDWARDS_KEY_PAIR_GEN))
		info->ulMinKeySize = info->ulMaxKeySize = 0;
	return found;
}

/* SoftHSM2 can build its PIN state in C_Initialize from a token file that
 * another process was rewriting; it then refuses every login with
 * CKR_USER_PIN_NOT_INITIALIZED while its token flags say the PIN is set.
 * Only a new C_Initialize cures that. It is done when nothing of the
 * binding is in use yet (no objects read, no operation running, no other
 * slot on the module), so the binding is replaced without anyone noticing;
 * k then holds the new control session. ctl_lock held. */
bool hsm_restart_unused(hsm_ctx *c, hsm_call *k)
{
	CK_TOKEN_INFO ti;
	char why[128];
	bool ok = false;
	pthread_mutex_lock(&c->lock);
	if (!c->bound || c->epoch != k->epoch || c->busy > 0 || (c->seen_epoch == k->epoch && c->nseen > 0) ||
	    HSM_CALL(k, C_GetTokenInfo, k->slot, &ti) != CKR_OK || !(ti.flags & CKF_USER_PIN_INITIALIZED))
		goto out;
	c->bound = false;
	CK_RV rv = hsm_lower_restart(c->lower);
	if (rv == CKR_ACTION_PROHIBITED) {
		c->bound = true;                /* another slot uses the module: leave it */
	} else if (rv == CKR_OK && bind_inlock(c, why, sizeof(why)) == CKR_OK) {
		hsm_call_inlock(c, k, c->ctl);
		ok = true;
	} else {
		unbind_inlock(c);
		absent_inlock(c, "the token was not found again after restarting the module");
	}
out:
	pthread_mutex_unlock(&c->lock);
	return ok;
}

CK_RV hsm_init_token(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label32)
{
	hsm_ctx *c = vctx;
	CK_UTF8CHAR label[32];
	CK_TOKEN_INFO ti;
	hsm_call k;
	char why[128];
	CK_RV rv;
	pthread_mutex_lock(&c->ctl_lock);
	pthread_mutex_lock(&c->lock);
	if ((rv = ready_inlock(c)) != CKR_OK)
		goto out;
	hsm_call_inlock(c, &k, c->ctl);
	/* B 5.5.7: no session may be open on the token */
	for (size_t i = 0; i < c->nidle; i++)
		HSM_CALL(&k, C_CloseSession, c->idle[i]);
	HSM_CALL(&k, C_CloseSession, c->ctl);
	/* the slot finds its token by the configured label: keep that one */
	if (c->label != NULL) {
		memset(label, ' ', sizeof(label));
		memcpy(label, c->label, strlen(c->label));
	} else {
		memcpy(label, label32, sizeof(label));
	}
	rv = HSM_CALL(&k, C_InitToken, k.slot, (CK_UTF8CHAR_PTR)pin, len, label);
	/* A new control session on the same token. The epoch stays: hwagg
	 * has no session open on the slot (the engine checked), and the
	 * engine drops the objects of a token it initialized itself. */
	c->bound = false;
	if (HSM_CALL(&k, C_GetTokenInfo, k.slot, &ti) != CKR_OK ||
	    attach_inlock(c, &k, k.slot, &ti, why, sizeof(why)) != CKR_OK) {
		unbind_inlock(c);
		absent_inlock(c, "the token was not found again after C_InitToken");
	}
out:
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->ctl_lock);
	return rv;
}

CK_RV hsm_health(void *vctx, char *msg, size_t len)
{
	hsm_ctx *c = vctx;
	char l[33];
	pthread_mutex_lock(&c->ctl_lock);
	pthread_mutex_lock(&c->lock);
	CK_RV rv = ready_inlock(c);
	if (rv == CKR_OK) {
		label_str(c->ti.label, l);
		snprintf(msg, len, "module %s, token \"%s\" (lower slot %lu): ok (%s keys)", c->module, l,
			 (unsigned long)c->slot, hw_security_name(c->sec));
	} else {
		snprintf(msg, len, "module %s: %s", c->module, c->why[0] ? c->why : "no token");
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->ctl_lock);
	return rv;
}

