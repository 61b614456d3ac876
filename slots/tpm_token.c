/*
 * The tpm slot's token and PINs (tpm_int.h).
 *
 * C_InitToken makes a random master key and seals it in the TPM (a
 * keyedhash object under the SRK, fixedTPM) with the SO PIN as its
 * authValue; C_InitPIN seals the same master key under the user PIN. The
 * two sealed blobs are the token record's PIN wraps in the local store.
 * C_Login unseals: the TPM itself checks the PIN, and a wrong one counts
 * toward its dictionary-attack lockout (noDA is clear), so a stolen store
 * cannot be attacked off the machine and guesses on it are limited by the
 * TPM. The PIN reaches the TPM only as SHA-256("hwagg-tpm-pin", slot, PIN),
 * over the slot's own salted session (tpm_fast.c) with parameter encryption:
 * the sealing TPM2_Create's inSensitive and the TPM2_Unseal's answer travel
 * encrypted, in every process; keys' authValues are derived from the master
 * key (tpm_key.c).
 */
#include "slots/tpm_int.h"
#include "common/log.h"
#include "objects/pin.h"

#include <string.h>
#include <tss2/tss2_mu.h>

#define PIN_MIN 4
#define PIN_MAX 64

static CK_RV record_inlock(hw_tpm_ctx *c, bool create, hw_token_rec *rec)
{
	bool none;
	memset(rec, 0, sizeof(*rec));
	CK_RV rv = hw_stored_open(&c->st, create, &none);
	if (rv == CKR_OK && !none)
		rv = hw_store_token_get(c->st.store, c->conf->name, rec);
	return rv;
}

static void pin_auth(hw_tpm_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len, TPM2B_AUTH *auth)
{
	static const char label[] = "hwagg-tpm-pin";
	unsigned char in[sizeof(label) + 256 + PIN_MAX];
	size_t nlen = strnlen(c->conf->name, 255), off = 0, out = HW_TPM_AUTH_LEN;
	memcpy(in, label, sizeof(label));
	off = sizeof(label);
	memcpy(in + off, c->conf->name, nlen + 1);
	off += nlen + 1;
	memcpy(in + off, pin, len);
	off += len;
	auth->size = HW_TPM_AUTH_LEN;
	if (hw_digest_once(CKM_SHA256, in, off, auth->buffer, &out) != CKR_OK)
		hw_random(auth->buffer, HW_TPM_AUTH_LEN);   /* fails closed: no PIN matches */
	hw_wipe(in, sizeof(in));
}

static CK_RV pin_len_ok(CK_ULONG len)
{
	return len < PIN_MIN || len > PIN_MAX ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* Seal mk under pin: the wrap is the sealed object's public and private. */
/* Seal mk under pin: the wrap is the sealed object's public and private. */
static CK_RV seal_inlock(hw_tpm_ctx *c, const hw_secret *mk, const CK_UTF8CHAR *pin, CK_ULONG len,
			 unsigned char *wrap, size_t *wrap_len)
{
	TPM2B_PUBLIC tmpl, pub;
	TPM2B_PRIVATE priv;
	TPM2B_SENSITIVE_CREATE sens;
	size_t off = 0;
	CK_RV rv = hw_tpm_connect_inlock(c);
	if (rv != CKR_OK)
		return rv;
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					   TPMA_OBJECT_USERWITHAUTH;
	tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	memset(&sens, 0, sizeof(sens));
	pin_auth(c, pin, len, &sens.sensitive.userAuth);
	sens.sensitive.data.size = (UINT16)mk->len;
	memcpy(sens.sensitive.data.buffer, mk->data, mk->len);
	rv = hw_tpm_create_inlock(c, &sens, &tmpl, &pub, &priv, "seal the token's master key");
	hw_wipe(&sens, sizeof(sens));
	if (rv != CKR_OK)
		return rv;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, wrap, *wrap_len, &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, wrap, *wrap_len, &off) != TSS2_RC_SUCCESS) {
		hw_error("slot \"%s\": the sealed master key does not fit the token record", c->conf->name);
		rv = CKR_GENERAL_ERROR;
	}
	*wrap_len = off;
	return rv;
}

static TSS2_RC unseal_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg)
{
	(void)arg;
	return Tss2_Sys_Unseal_Prepare(sys, h);
}

static TSS2_RC unseal_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	memset(arg, 0, sizeof(TPM2B_SENSITIVE_DATA));   /* tss2-mu fills only an empty TPM2B */
	return Tss2_Sys_Unseal_Complete(sys, arg);
}

/* TPM2_Unseal of the loaded h whose authValue is auth, the master key coming
 * back encrypted (first response parameter); on our salted session, through
 * ESAPI when that is off. */
static CK_RV unseal_cmd_inlock(hw_tpm_ctx *c, ESYS_TR h, const TPM2B_AUTH *auth, hw_secret **mk)
{
	static const char what[] = "check the PIN";
	TPM2B_SENSITIVE_DATA data, *edata = NULL;
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_Unseal, .object = h, .auth = auth->buffer,
				    .auth_len = auth->size, .encrypt = true, .prepare = unseal_prepare,
				    .complete = unseal_complete, .arg = &data, .what = "an unseal" };
	CK_RV rv = CKR_OK;
	TSS2_RC trc;
	memset(&data, 0, sizeof(data));
	int taken = hw_tpm_fast_run_inlock(c, &x, &trc);
	if (taken == HW_TPM_FAST_FORGED) {
		rv = CKR_DEVICE_ERROR;
	} else if (taken == HW_TPM_FAST_NO) {
		Esys_TR_SetAuth(c->esys, h, auth);
		hw_tpm_session_for(c, false, true);
		trc = Esys_Unseal(c->esys, h, c->session, ESYS_TR_NONE, ESYS_TR_NONE, &edata);
		if (trc == TSS2_RC_SUCCESS)
			data = *edata;
	}
	if (rv == CKR_OK && trc != TSS2_RC_SUCCESS)
		rv = hw_tpm_fail_inlock(c, trc, what);
	else if (rv == CKR_OK && (*mk = hw_secret_dup(data.buffer, data.size)) == NULL)
		rv = CKR_HOST_MEMORY;
	hw_wipe(&data, sizeof(data));
	if (edata != NULL)
		hw_wipe(edata, sizeof(*edata));
	Esys_Free(edata);
	return rv;
}

/* Unseal a wrap with pin: the TPM checks the PIN (and counts failures). */
static CK_RV unseal_inlock(hw_tpm_ctx *c, const unsigned char *wrap, size_t wrap_len,
			   const CK_UTF8CHAR *pin, CK_ULONG len, hw_secret **mk)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPM2B_AUTH auth;
	ESYS_TR h = ESYS_TR_NONE;
	size_t off = 0;
	CK_RV rv = hw_tpm_connect_inlock(c);
	if (rv != CKR_OK)
		return rv;
	memset(&pub, 0, sizeof(pub));
	memset(&priv, 0, sizeof(priv));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(wrap, wrap_len, &off, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(wrap, wrap_len, &off, &priv) != TSS2_RC_SUCCESS) {
		hw_error("slot \"%s\": the token record's PIN wrap is damaged", c->conf->name);
		return CKR_DEVICE_ERROR;
	}
	if ((rv = hw_tpm_load_inlock(c, &pub, &priv, &h, "load the sealed master key")) != CKR_OK)
		return rv;
	pin_auth(c, pin, len, &auth);
	rv = unseal_cmd_inlock(c, h, &auth, mk);
	hw_wipe(&auth, sizeof(auth));
	if (c->esys != NULL)
		Esys_FlushContext(c->esys, h);
	return rv;
}

CK_RV hw_tpm_token_flags(hw_tpm_ctx *c, CK_FLAGS *flags)
{
	hw_token_rec rec;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_tpm_connect_inlock(c);
	if (rv == CKR_OK)
		rv = record_inlock(c, false, &rec);
	/* the counter falls by itself with the TPM's recovery interval: read
	 * it again, at most once a second (token info is asked often) */
	if (rv == CKR_OK && hw_tpm_now() - c->da_at >= 1.0) {
		hw_tpm_da_refresh_inlock(c);
		c->da_at = hw_tpm_now();
	}
	*flags = CKF_RNG | CKF_LOGIN_REQUIRED;
	if (rv == CKR_OK && rec.initialized)
		*flags |= CKF_TOKEN_INITIALIZED;
	if (rv == CKR_OK && rec.user_pin_set)
		*flags |= CKF_USER_PIN_INITIALIZED;
	/* the TPM's own lockout counter: it counts for every PIN and key */
	if (c->da_max > 0 && c->da_count >= c->da_max)
		*flags |= CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED;
	else if (c->da_max > 0 && c->da_count + 1 == c->da_max)
		*flags |= CKF_USER_PIN_FINAL_TRY | CKF_SO_PIN_FINAL_TRY;
	else if (c->da_count > 0)
		*flags |= CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_COUNT_LOW;
	pthread_mutex_unlock(&c->lock);
	return rv;
}

CK_RV hw_tpm_login(hw_tpm_ctx *c, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hw_token_rec rec;
	hw_secret *mk = NULL;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = record_inlock(c, false, &rec);
	if (rv == CKR_OK && !rec.initialized)
		rv = who == CKU_SO ? CKR_TOKEN_NOT_RECOGNIZED : CKR_USER_PIN_NOT_INITIALIZED;
	else if (rv == CKR_OK && who != CKU_SO && !rec.user_pin_set)
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	else if (rv == CKR_OK && len > PIN_MAX)
		rv = CKR_PIN_INCORRECT;
	else if (rv == CKR_OK && who == CKU_SO)
		rv = unseal_inlock(c, rec.so_wrap, rec.so_wrap_len, pin, len, &mk);
	else if (rv == CKR_OK)
		rv = unseal_inlock(c, rec.user_wrap, rec.user_wrap_len, pin, len, &mk);
	if (rv == CKR_OK) {
		hw_secret_free(c->mk);
		c->mk = mk;
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

CK_RV hw_tpm_init_token(hw_tpm_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label)
{
	hw_token_rec rec;
	hw_secret *old = NULL, *mk = NULL;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = record_inlock(c, true, &rec);
	if (rv == CKR_OK && rec.initialized)   /* B 5.6.3: a re-initialization needs the SO PIN */
		rv = len > PIN_MAX ? CKR_PIN_INCORRECT : unseal_inlock(c, rec.so_wrap, rec.so_wrap_len, pin, len, &old);
	else if (rv == CKR_OK)
		rv = pin_len_ok(len);
	if (rv == CKR_OK && (mk = hw_secret_new(HW_MK_LEN)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = hw_random(mk->data, mk->len);
	if (rv == CKR_OK) {
		memset(&rec, 0, sizeof(rec));
		memcpy(rec.label, label, 32);
		for (int i = 31; i >= 0 && rec.label[i] == ' '; i--)
			rec.label[i] = '\0';
		rec.initialized = true;
		rec.so_wrap_len = sizeof(rec.so_wrap);
		rv = seal_inlock(c, mk, pin, len, rec.so_wrap, &rec.so_wrap_len);
	}
	if (rv == CKR_OK)
		rv = hw_store_token_reset(c->st.store, c->conf->name, &rec);
	if (rv == CKR_OK) {
		for (unsigned i = 0; i < c->max_loaded; i++)
			if (c->loaded[i] != NULL)
				hw_tpm_key_unload_inlock(c, c->loaded[i]);
		hw_secret_free(c->mk);
		c->mk = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	hw_secret_free(old);
	hw_secret_free(mk);
	return rv;
}

CK_RV hw_tpm_init_pin(hw_tpm_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	unsigned char wrap[256];
	size_t wrap_len = sizeof(wrap);
	CK_RV rv = pin_len_ok(len);
	pthread_mutex_lock(&c->lock);
	if (rv == CKR_OK && c->mk == NULL)
		rv = CKR_USER_NOT_LOGGED_IN;
	if (rv == CKR_OK)
		rv = seal_inlock(c, c->mk, pin, len, wrap, &wrap_len);
	if (rv == CKR_OK)
		rv = hw_store_token_set_wrap(c->st.store, c->conf->name, false, wrap, wrap_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

CK_RV hw_tpm_set_pin(hw_tpm_ctx *c, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
		     const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	hw_token_rec rec;
	hw_secret *mk = NULL;
	unsigned char wrap[256];
	size_t wrap_len = sizeof(wrap);
	bool so = who == HW_AUTH_SO;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = record_inlock(c, false, &rec);
	if (rv == CKR_OK && (!rec.initialized || (!so && !rec.user_pin_set)))
		rv = CKR_USER_PIN_NOT_INITIALIZED;
	else if (rv == CKR_OK && old_len > PIN_MAX)
		rv = CKR_PIN_INCORRECT;
	else if (rv == CKR_OK)
		rv = unseal_inlock(c, so ? rec.so_wrap : rec.user_wrap, so ? rec.so_wrap_len : rec.user_wrap_len,
				   old_pin, old_len, &mk);
	if (rv == CKR_OK)
		rv = pin_len_ok(new_len);
	if (rv == CKR_OK)
		rv = seal_inlock(c, mk, new_pin, new_len, wrap, &wrap_len);
	if (rv == CKR_OK)
		rv = hw_store_token_set_wrap(c->st.store, c->conf->name, so, wrap, wrap_len);
	pthread_mutex_unlock(&c->lock);
	hw_secret_free(mk);
	return rv;
}
