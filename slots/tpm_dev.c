/*
 * The tpm slot's connection (tpm_int.h): the TCTI and the ESAPI context,
 * opened on first use and kept; the storage root key; one salted HMAC
 * session for every command that carries an authorization; what this TPM
 * can do; and what a failure means for the connection.
 *
 * A TPM that cannot be reached makes the token absent, with one log line
 * per outage saying why; a connect is retried at most every
 * HW_TPM_RETRY_S seconds, so the slot comes back by itself. A connection
 * that fails under a command is dropped and token_epoch moves, which ends
 * the sessions opened on it (the keys loaded in the TPM died with it).
 */
#include "slots/tpm_int.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

double hw_tpm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *hw_tpm_rc_text(TSS2_RC rc)
{
	const char *s = Tss2_RC_Decode(rc);
	return s != NULL ? s : "unknown response code";
}

TSS2_RC hw_tpm_rc_base(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return rc;
	/* format-one codes carry the parameter, handle or session number */
	return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3F)) : rc;
}

/* The connection itself failed (not the TPM's answer). */
static bool link_lost(TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, base = rc & ~TSS2_RC_LAYER_MASK;
	if (layer == TSS2_TPM_RC_LAYER)
		return false;
	return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
	       base == TSS2_BASE_RC_MALFORMED_RESPONSE || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
	       base == TSS2_BASE_RC_TRY_AGAIN || layer == TSS2_TCTI_RC_LAYER;
}

bool hw_tpm_ours(const hw_tpm_ctx *c)
{
	return c->esys != NULL && c->pid == getpid();
}

/* Drop the connection. forked: the parent's; dead: it failed (ESAPI's
 * state is unknown: send nothing more on it). */
static void disconnect(hw_tpm_ctx *c, bool forked, bool dead)
{
	/* a bare TPM keeps what a client left loaded until it restarts */
	forked = forked || c->pid != getpid();
	for (unsigned i = 0; i < c->max_loaded; i++)
		if (c->loaded[i] != NULL && !forked && !dead)
			hw_tpm_key_unload_inlock(c, c->loaded[i]);
	for (unsigned i = 0; i < c->max_loaded; i++)
		c->loaded[i] = NULL;
	if (forked || c->pid != getpid()) {
		/* the parent's connection: never flush, finalize or close
		 * anything of it (a simulator TCTI says goodbye on finalize,
		 * which would end the parent's connection) */
		c->esys = NULL;
		c->tctx = NULL;
	}
	hw_tpm_fast_end_inlock(c, c->esys != NULL && !dead);
	if (c->esys != NULL) {
		if (c->session != ESYS_TR_NONE && !dead)
			Esys_FlushContext(c->esys, c->session);
		if (c->srk_transient && c->srk != ESYS_TR_NONE && !dead)
			Esys_FlushContext(c->esys, c->srk);
		Esys_Finalize(&c->esys);
	}
	if (c->tctx != NULL)
		Tss2_TctiLdr_Finalize(&c->tctx);
	c->esys = NULL;
	c->tctx = NULL;
	c->srk = ESYS_TR_NONE;
	c->session = ESYS_TR_NONE;
	c->srk_transient = false;
	c->gen++;
}

void hw_tpm_disconnect_inlock(hw_tpm_ctx *c, bool forked)
{
	disconnect(c, forked, false);
}

/* Why the TCTI could not open, in words an operator can act on. */
static void say_down(hw_tpm_ctx *c, TSS2_RC rc)
{
	const char *dev = strncmp(c->tcti, "device:", 7) == 0 ? c->tcti + 7 : NULL;
	if (c->down_said)
		return;
	c->down_said = true;
	if (dev != NULL && access(dev, F_OK) != 0)
		hw_warn("slot \"%s\": no TPM at %s; the token is absent until one appears", c->conf->name, dev);
	else if (dev != NULL && access(dev, R_OK | W_OK) != 0 && errno == EACCES)
		hw_warn("slot \"%s\": no permission to use %s (join the group that owns it, usually "
			"\"tss\"); the token is absent", c->conf->name, dev);
	else
		hw_warn("slot \"%s\": the TPM at \"%s\" cannot be reached (%s); the token is absent "
			"until it can", c->conf->name, c->tcti, hw_tpm_rc_text(rc));
}

static TSS2_RC get_prop(hw_tpm_ctx *c, TPM2_PT pt, uint32_t *val)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					TPM2_CAP_TPM_PROPERTIES, pt, 1, &more, &cap);
	*val = 0;
	if (rc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count > 0 &&
	    cap->data.tpmProperties.tpmProperty[0].property == pt)
		*val = cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	return rc;
}

void hw_tpm_da_refresh_inlock(hw_tpm_ctx *c)
{
	if (c->esys == NULL)
		return;
	get_prop(c, TPM2_PT_LOCKOUT_COUNTER, &c->da_count);
	get_prop(c, TPM2_PT_MAX_AUTH_FAIL, &c->da_max);
}

static bool rsa_bits_ok(hw_tpm_ctx *c, unsigned bits)
{
	TPMT_PUBLIC_PARMS p;
	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_RSA;
	p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	return Esys_TestParms(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p) == TSS2_RC_SUCCESS;
}

/* What this TPM is and can do (C_GetMechanismList answers from this). */
static TSS2_RC read_caps(hw_tpm_ctx *c)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	uint32_t v;
	TSS2_RC rc = get_prop(c, TPM2_PT_MANUFACTURER, &v);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	for (int i = 0; i < 4; i++) {
		char ch = (char)(v >> (24 - 8 * i));
		c->vendor[i] = ch >= 0x20 && ch < 0x7f ? ch : ' ';
	}
	c->vendor[4] = '\0';
	for (int i = 3; i > 0 && c->vendor[i] == ' '; i--)
		c->vendor[i] = '\0';      /* "IBM " */
	get_prop(c, TPM2_PT_FIRMWARE_VERSION_1, &c->fw1);
	get_prop(c, TPM2_PT_FIRMWARE_VERSION_2, &c->fw2);
	hw_tpm_da_refresh_inlock(c);
	c->ecdsa = c->rsassa = c->sha384 = false;
	memset(&c->sk, 0, sizeof(c->sk));
	rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS,
				TPM2_ALG_FIRST, TPM2_MAX_CAP_ALGS, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	for (uint32_t i = 0; i < cap->data.algorithms.count; i++) {
		TPM2_ALG_ID a = cap->data.algorithms.algProperties[i].alg;
		c->ecdsa |= a == TPM2_ALG_ECDSA;
		c->rsassa |= a == TPM2_ALG_RSASSA;
		c->sha384 |= a == TPM2_ALG_SHA384;
		hw_tpm_sk_alg(c, a);
	}
	Esys_Free(cap);
	cap = NULL;
	c->ecc256 = c->ecc384 = false;
	rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ECC_CURVES,
				TPM2_ECC_NONE, TPM2_MAX_ECC_CURVES, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	for (uint32_t i = 0; i < cap->data.eccCurves.count; i++) {
		c->ecc256 |= cap->data.eccCurves.eccCurves[i] == TPM2_ECC_NIST_P256;
		c->ecc384 |= cap->data.eccCurves.eccCurves[i] == TPM2_ECC_NIST_P384;
	}
	Esys_Free(cap);
	c->ecc384 = c->ecc384 && c->sha384;
	c->rsa2048 = rsa_bits_ok(c, 2048);
	c->rsa3072 = rsa_bits_ok(c, 3072);
	hw_tpm_sk_caps_inlock(c);
	return TSS2_RC_SUCCESS;
}

void hw_tpm_primary_template(TPM2B_PUBLIC *t, TPMA_OBJECT use)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.type = TPM2_ALG_ECC;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
		TPMA_OBJECT_RESTRICTED | use;
	TPMS_ECC_PARMS *e = &t->publicArea.parameters.eccDetail;
	e->symmetric.algorithm = TPM2_ALG_NULL;
	e->scheme.scheme = TPM2_ALG_NULL;
	e->curveID = TPM2_ECC_NIST_P256;
	e->kdf.scheme = TPM2_ALG_NULL;
}

/* The SRK template of the TCG provisioning guidance (ECC P-256, AES-128
 * CFB, restricted decryption, noDA), with an empty unique field as
 * `tpm2_createprimary -C o -G ecc256:aes128cfb` makes it: keys made under
 * an SRK persisted that way load under one created from this template, and
 * the other way round. */
static void srk_template(TPM2B_PUBLIC *t)
{
	TPMS_ECC_PARMS *e = &t->publicArea.parameters.eccDetail;
	hw_tpm_primary_template(t, TPMA_OBJECT_DECRYPT);
	e->symmetric.algorithm = TPM2_ALG_AES;
	e->symmetric.keyBits.aes = 128;
	e->symmetric.mode.aes = TPM2_ALG_CFB;
}

static TSS2_RC create_srk(hw_tpm_ctx *c)
{
	TPM2B_PUBLIC tmpl, *out = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	srk_template(&tmpl);
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	TSS2_RC rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
					&sens, &tmpl, &outside, &pcrs, &c->srk, &out, NULL, NULL, NULL);
	Esys_Free(out);
	c->srk_transient = rc == TSS2_RC_SUCCESS;
	if (rc != TSS2_RC_SUCCESS)
		c->srk = ESYS_TR_NONE;
	return rc;
}

static TSS2_RC find_srk(hw_tpm_ctx *c)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	/* ask first: ESAPI logs a failed lookup as an error on stderr */
	TSS2_RC rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
					HW_TPM_SRK_HANDLE, 1, &more, &cap);
	bool persisted = rc == TSS2_RC_SUCCESS && cap->data.handles.count > 0 &&
			 cap->data.handles.handle[0] == HW_TPM_SRK_HANDLE;
	Esys_Free(cap);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (persisted && Esys_TR_FromTPMPublic(c->esys, HW_TPM_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
					       ESYS_TR_NONE, &c->srk) == TSS2_RC_SUCCESS) {
		c->srk_transient = false;
		return TSS2_RC_SUCCESS;
	}
	return create_srk(c);
}

bool hw_tpm_srk_switch_inlock(hw_tpm_ctx *c)
{
	ESYS_TR old = c->srk;
	bool was_transient = c->srk_transient;
	/* a blob made under the other parent: the persistent SRK is someone
	 * else's key when it was not made from our template (tpm2-pkcs11
	 * persists its own there), or it appeared after our keys were made */
	if (was_transient) {
		if (find_srk(c) != TSS2_RC_SUCCESS || c->srk_transient) {
			if (c->srk != old && c->srk != ESYS_TR_NONE)
				Esys_FlushContext(c->esys, c->srk);
			c->srk = old;
			c->srk_transient = true;
			return false;
		}
		Esys_FlushContext(c->esys, old);
		return true;
	}
	if (create_srk(c) != TSS2_RC_SUCCESS) {
		c->srk = old;
		c->srk_transient = false;
		return false;
	}
	return true;
}

static TSS2_RC start_session(hw_tpm_ctx *c)
{
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits = { .aes = 128 },
			     .mode = { .aes = TPM2_ALG_CFB } };
	/* salted with the SRK: the session key, and with it every auth
	 * and the encrypted parameters, is unknown to a bus observer */
	TSS2_RC rc = Esys_StartAuthSession(c->esys, c->srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256,
					   &c->session);
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_ESAPI_RC_LAYER &&
	    !link_lost(rc)) {
		/* ESAPI computes the salt with OpenSSL's default implementation,
		 * which an ENGINE may have taken over in this process (libp11's
		 * pkcs11 engine does, and refuses the ECDH). The commands that
		 * carry the PIN or a secret (unseal, create, sign, decrypt) go
		 * on the slot's own salted session (tpm_fast.c); what is left
		 * on this one is loads (the SRK's empty auth) and attestation
		 * (a key's random authValue, never a PIN) */
		if (!c->unsalted_said)
			hw_warn("slot \"%s\": cannot salt the TPM session in this process (OpenSSL's EC "
				"is taken over by an engine); using an unsalted one for loads and "
				"attestation, the slot's own salted session for the rest", c->conf->name);
		c->unsalted_said = true;
		rc = Esys_StartAuthSession(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &c->session);
	}
	if (rc != TSS2_RC_SUCCESS)
		c->session = ESYS_TR_NONE;
	return rc;
}

void hw_tpm_session_for(hw_tpm_ctx *c, bool decrypt, bool encrypt)
{
	TPMA_SESSION a = TPMA_SESSION_CONTINUESESSION;
	if (decrypt)
		a |= TPMA_SESSION_DECRYPT;
	if (encrypt)
		a |= TPMA_SESSION_ENCRYPT;
	Esys_TRSess_SetAttributes(c->esys, c->session, a,
				  TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT);
}

CK_RV hw_tpm_connect_inlock(hw_tpm_ctx *c)
{
	TSS2_RC rc;
	const char *step = "open";
	if (c->esys != NULL && c->pid != getpid())
		disconnect(c, true, true);     /* inherited across fork: never ours to use */
	if (c->esys != NULL && c->session != ESYS_TR_NONE)
		return CKR_OK;
	if (c->esys == NULL) {
		double now = hw_tpm_now();
		if (now < c->retry_at)
			return CKR_TOKEN_NOT_PRESENT;
		rc = Tss2_TctiLdr_Initialize(c->tcti, &c->tctx);
		if (rc != TSS2_RC_SUCCESS) {
			c->tctx = NULL;
			c->retry_at = now + HW_TPM_RETRY_S;
			say_down(c, rc);
			return CKR_TOKEN_NOT_PRESENT;
		}
		if ((rc = Esys_Initialize(&c->esys, c->tctx, NULL)) != TSS2_RC_SUCCESS) {
			c->esys = NULL;
			goto fail;
		}
		c->gen++;
		c->pid = getpid();
		step = "read its properties";
		if ((rc = read_caps(c)) != TSS2_RC_SUCCESS)
			goto fail;
		step = "find or create the storage root key";
		if ((rc = find_srk(c)) != TSS2_RC_SUCCESS)
			goto fail;
	}
	step = "start an authorization session";
	if ((rc = start_session(c)) != TSS2_RC_SUCCESS)
		goto fail;
	if (c->down_said)
		hw_info("slot \"%s\": the TPM at \"%s\" is back", c->conf->name, c->tcti);
	c->down_said = false;
	return CKR_OK;
fail:
	if (link_lost(rc)) {
		disconnect(c, false, true);
		c->retry_at = hw_tpm_now() + HW_TPM_RETRY_S;
		say_down(c, rc);
		return CKR_TOKEN_NOT_PRESENT;
	}
	hw_error("slot \"%s\": the TPM at \"%s\" refused to %s: %s", c->conf->name, c->tcti, step,
		 hw_tpm_rc_text(rc));
	hw_tpm_disconnect_inlock(c, false);
	c->retry_at = hw_tpm_now() + HW_TPM_RETRY_S;
	return CKR_DEVICE_ERROR;
}

CK_RV hw_tpm_fail_inlock(hw_tpm_ctx *c, TSS2_RC rc, const char *what)
{
	if (link_lost(rc)) {
		hw_warn("slot \"%s\": lost the TPM at \"%s\" while trying to %s (%s)", c->conf->name,
			c->tcti, what, hw_tpm_rc_text(rc));
		disconnect(c, false, true);
		__atomic_add_fetch(&c->epoch, 1, __ATOMIC_RELEASE);
		return CKR_DEVICE_REMOVED;
	}
	/* a fresh session after any refusal: no doubt about its state */
	if (c->session != ESYS_TR_NONE) {
		Esys_FlushContext(c->esys, c->session);
		c->session = ESYS_TR_NONE;
	}
	switch (hw_tpm_rc_base(rc)) {
	case TPM2_RC_AUTH_FAIL:
	case TPM2_RC_BAD_AUTH:
		hw_tpm_da_refresh_inlock(c);
		hw_info("slot \"%s\": the TPM refused the authorization to %s (%u of %u failures before "
			"lockout)", c->conf->name, what, c->da_count, c->da_max);
		return CKR_PIN_INCORRECT;
	case TPM2_RC_LOCKOUT:
		hw_warn("slot \"%s\": the TPM is in dictionary-attack lockout; it recovers by itself after "
			"its recovery time, or the owner of the lockout hierarchy resets it "
			"(tpm2_dictionarylockout --clear-lockout)", c->conf->name);
		return CKR_PIN_LOCKED;
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
		hw_error("slot \"%s\": the TPM is out of memory to %s", c->conf->name, what);
		return CKR_DEVICE_MEMORY;
	default:
		hw_error("slot \"%s\": the TPM refused to %s: %s", c->conf->name, what, hw_tpm_rc_text(rc));
		return CKR_DEVICE_ERROR;
	}
}
