/*
 * The tpm slot's keys (tpm_int.h): made by the TPM under the storage root
 * key, never leaving it except as the TPM's own blobs (the private part
 * encrypted under the SRK, useless on any other TPM: fixedTPM). The blobs
 * live in the local store. A key is loaded when it is used and stays loaded
 * until loaded_keys others were used after it: the TPM has only a few
 * object slots (three on a bare TPM), so twenty keys in turn must not fill
 * them.
 *
 * A key's authValue is derived from the token's master key and a per-key
 * salt; the master key exists in this process only while logged in, and is
 * itself sealed in the TPM under the PIN (tpm_token.c).
 */
#include "slots/tpm_int.h"
#include "common/log.h"
#include "mechanisms/mech.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

static const unsigned char blob_magic[4] = { 'H', 'W', 'T', '1' };

CK_RV hw_tpm_key_auth(const hw_secret *mk, const unsigned char *salt, unsigned char *auth)
{
	static const char label[] = "hwagg-tpm-key";
	unsigned char in[64 + sizeof(label) + HW_TPM_SALT_LEN];
	size_t len = HW_TPM_AUTH_LEN;
	if (mk == NULL || mk->len > 64)
		return CKR_USER_NOT_LOGGED_IN;
	/* the master key is uniformly random: one hash is a sound KDF */
	memcpy(in, mk->data, mk->len);
	memcpy(in + mk->len, label, sizeof(label));
	memcpy(in + mk->len + sizeof(label), salt, HW_TPM_SALT_LEN);
	CK_RV rv = hw_digest_once(CKM_SHA256, in, mk->len + sizeof(label) + HW_TPM_SALT_LEN, auth, &len);
	hw_wipe(in, sizeof(in));
	return rv;
}

static CK_RV key_template(hw_tpm_ctx *c, const hw_keygen *g, TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	if (g->key_type == CKK_EC) {
		TPMS_ECC_PARMS *e = &t->publicArea.parameters.eccDetail;
		t->publicArea.type = TPM2_ALG_ECC;
		e->symmetric.algorithm = TPM2_ALG_NULL;
		e->scheme.scheme = TPM2_ALG_NULL;     /* the scheme comes with each TPM2_Sign */
		e->kdf.scheme = TPM2_ALG_NULL;
		if (g->curve != NULL && g->curve->field_bits == 256 && c->ecc256)
			e->curveID = TPM2_ECC_NIST_P256;
		else if (g->curve != NULL && g->curve->field_bits == 384 && c->ecc384)
			e->curveID = TPM2_ECC_NIST_P384;
		else
			return CKR_CURVE_NOT_SUPPORTED;
		return CKR_OK;
	}
	if (g->key_type == CKK_RSA) {
		TPMS_RSA_PARMS *r = &t->publicArea.parameters.rsaDetail;
		static const unsigned char f4[] = { 0x01, 0x00, 0x01 };
		t->publicArea.type = TPM2_ALG_RSA;
		/* decrypt too: raw RSA signs what RSASSA cannot (a hash the
		 * TPM lacks, a TLS 1.0 MD5+SHA-1 input) */
		t->publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
		r->symmetric.algorithm = TPM2_ALG_NULL;
		r->scheme.scheme = TPM2_ALG_NULL;
		if (!((g->rsa_bits == 2048 && c->rsa2048) || (g->rsa_bits == 3072 && c->rsa3072)))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		r->keyBits = (TPMI_RSA_KEY_BITS)g->rsa_bits;
		/* the TPM makes keys with e = 65537 (exponent 0) only */
		size_t i = 0;
		while (g->rsa_e != NULL && i < g->rsa_e_len && g->rsa_e[i] == 0)
			i++;
		if (g->rsa_e != NULL && (g->rsa_e_len - i != sizeof(f4) || memcmp(g->rsa_e + i, f4, sizeof(f4)) != 0))
			return CKR_TEMPLATE_INCONSISTENT;
		r->exponent = 0;
		return CKR_OK;
	}
	return CKR_TEMPLATE_INCONSISTENT;
}

struct create_args {
	const TPM2B_SENSITIVE_CREATE *sens;
	const TPM2B_PUBLIC *tmpl;
	TPM2B_PUBLIC *pub;
	TPM2B_PRIVATE *priv;
};

static TSS2_RC create_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE parent, void *arg)
{
	static const TPM2B_DATA outside = { .size = 0 };
	static const TPML_PCR_SELECTION pcrs = { .count = 0 };
	const struct create_args *a = arg;
	return Tss2_Sys_Create_Prepare(sys, parent, a->sens, a->tmpl, &outside, &pcrs);
}

static TSS2_RC create_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	const struct create_args *a = arg;
	/* tss2-mu refuses to unmarshal into a TPM2B whose size is not zero */
	memset(a->pub, 0, sizeof(*a->pub));
	memset(a->priv, 0, sizeof(*a->priv));
	return Tss2_Sys_Create_Complete(sys, a->priv, a->pub, NULL, NULL, NULL);
}

/* One TPM2_Create; *trc the TPM's answer (CKR_DEVICE_ERROR: a forged one). */
static CK_RV create_once(hw_tpm_ctx *c, const TPM2B_SENSITIVE_CREATE *sens, const TPM2B_PUBLIC *tmpl,
			 TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, const char *what, TSS2_RC *trc)
{
	struct create_args a = { sens, tmpl, pub, priv };
	/* inSensitive (the new object's authValue, a sealed secret) is the
	 * first parameter: it travels encrypted; the SRK's authValue is empty */
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_Create, .object = c->srk, .decrypt = true,
				    .prepare = create_prepare, .complete = create_complete, .arg = &a, .what = what };
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION pcrs = { .count = 0 };
	TPM2B_PUBLIC *epub = NULL;
	TPM2B_PRIVATE *epriv = NULL;
	int taken = hw_tpm_fast_run_inlock(c, &x, trc);
	if (taken != HW_TPM_FAST_NO)
		return taken == HW_TPM_FAST_FORGED ? CKR_DEVICE_ERROR : CKR_OK;
	hw_tpm_session_for(c, true, false);
	*trc = Esys_Create(c->esys, c->srk, c->session, ESYS_TR_NONE, ESYS_TR_NONE, sens, tmpl, &outside, &pcrs,
			   &epriv, &epub, NULL, NULL, NULL);
	if (*trc == TSS2_RC_SUCCESS) {
		*pub = *epub;
		*priv = *epriv;
	}
	Esys_Free(epub);
	Esys_Free(epriv);
	return CKR_OK;
}

static void unload_all(hw_tpm_ctx *c)
{
	for (unsigned i = 0; i < c->max_loaded; i++)
		if (c->loaded[i] != NULL)
			hw_tpm_key_unload_inlock(c, c->loaded[i]);
}

CK_RV hw_tpm_create_inlock(hw_tpm_ctx *c, const TPM2B_SENSITIVE_CREATE *sens, const TPM2B_PUBLIC *tmpl,
			   TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, const char *what)
{
	TSS2_RC trc;
	CK_RV rv = create_once(c, sens, tmpl, pub, priv, what, &trc);
	/* the TPM works on the new object in an object slot of its own: with
	 * the SRK and our loaded keys in all of a bare TPM's three, make room */
	if (rv == CKR_OK && hw_tpm_rc_base(trc) == TPM2_RC_OBJECT_MEMORY) {
		unload_all(c);
		rv = create_once(c, sens, tmpl, pub, priv, what, &trc);
	}
	if (rv != CKR_OK)
		return rv;
	return trc == TSS2_RC_SUCCESS ? CKR_OK : hw_tpm_fail_inlock(c, trc, what);
}

CK_RV hw_tpm_key_create_inlock(hw_tpm_ctx *c, const hw_keygen *g, const unsigned char *auth,
			       hw_tpm_key *k)
{
	TPM2B_PUBLIC tmpl;
	TPM2B_SENSITIVE_CREATE sens;
	CK_RV rv = key_template(c, g, &tmpl);
	if (rv != CKR_OK)
		return rv;
	memset(&sens, 0, sizeof(sens));
	sens.sensitive.userAuth.size = HW_TPM_AUTH_LEN;
	memcpy(sens.sensitive.userAuth.buffer, auth, HW_TPM_AUTH_LEN);
	rv = hw_tpm_create_inlock(c, &sens, &tmpl, &k->pub, &k->priv, "create a key");
	hw_wipe(&sens, sizeof(sens));
	k->handle = ESYS_TR_NONE;
	return rv;
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

CK_RV hw_tpm_key_public_attrs(const hw_tpm_key *k, hw_attrs *pub, hw_attrs *priv)
{
	const TPMT_PUBLIC *p = &k->pub.publicArea;
	EVP_PKEY *pk = NULL;
	CK_RV rv;
	if (p->type == TPM2_ALG_ECC) {
		const hw_curve *cv = hw_curve_by_name(p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ?
						      "P-384" : "P-256");
		unsigned char pt[1 + 2 * 66];
		size_t n = cv != NULL ? cv->nlen : 0;
		if (n == 0 || p->unique.ecc.x.size > n || p->unique.ecc.y.size > n)
			return CKR_DEVICE_ERROR;
		memset(pt, 0, sizeof(pt));
		pt[0] = 0x04;
		memcpy(pt + 1 + n - p->unique.ecc.x.size, p->unique.ecc.x.buffer, p->unique.ecc.x.size);
		memcpy(pt + 1 + 2 * n - p->unique.ecc.y.size, p->unique.ecc.y.buffer, p->unique.ecc.y.size);
		rv = hw_key_from_public(CKK_EC, cv->params, cv->params_len, pt, 1 + 2 * n, &pk);
	} else if (p->type == TPM2_ALG_RSA) {
		static const unsigned char f4[] = { 0x01, 0x00, 0x01 };
		rv = hw_key_from_public(CKK_RSA, p->unique.rsa.buffer, p->unique.rsa.size, f4, sizeof(f4), &pk);
	} else {
		return CKR_DEVICE_ERROR;
	}
	if (rv == CKR_OK)
		rv = hw_key_public_attrs(pk, sink_set, pub);
	EVP_PKEY_free(pk);
	(void)priv;
	return rv;
}

CK_RV hw_tpm_key_marshal(const hw_tpm_key *k, unsigned char **out, size_t *len)
{
	size_t cap = sizeof(blob_magic) + HW_TPM_SALT_LEN + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE);
	size_t off = sizeof(blob_magic) + HW_TPM_SALT_LEN;
	unsigned char *b = malloc(cap);
	if (b == NULL)
		return CKR_HOST_MEMORY;
	memcpy(b, blob_magic, sizeof(blob_magic));
	memcpy(b + sizeof(blob_magic), k->salt, HW_TPM_SALT_LEN);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&k->pub, b, cap, &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&k->priv, b, cap, &off) != TSS2_RC_SUCCESS) {
		free(b);
		return CKR_GENERAL_ERROR;
	}
	*out = b;
	*len = off;
	return CKR_OK;
}

CK_RV hw_tpm_key_unmarshal(const unsigned char *in, size_t len, hw_tpm_key *k)
{
	size_t off = sizeof(blob_magic) + HW_TPM_SALT_LEN;
	memset(k, 0, sizeof(*k));
	k->handle = ESYS_TR_NONE;
	if (in == NULL || len < off || memcmp(in, blob_magic, sizeof(blob_magic)) != 0)
		return CKR_DEVICE_ERROR;
	memcpy(k->salt, in + sizeof(blob_magic), HW_TPM_SALT_LEN);
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(in, len, &off, &k->pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(in, len, &off, &k->priv) != TSS2_RC_SUCCESS || off != len)
		return CKR_DEVICE_ERROR;
	return CKR_OK;
}

CK_RV hw_tpm_load_inlock(hw_tpm_ctx *c, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
			 ESYS_TR *out, const char *what)
{
	hw_tpm_session_for(c, false, false);
	TSS2_RC rc = Esys_Load(c->esys, c->srk, c->session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, out);
	if (hw_tpm_rc_base(rc) == TPM2_RC_OBJECT_MEMORY) {
		/* the TPM's slots are few (a bare TPM has three, shared with
		 * the SRK and a sealed master key): make room with all of
		 * ours and try once more */
		unload_all(c);
		rc = Esys_Load(c->esys, c->srk, c->session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, out);
	}
	if (hw_tpm_rc_base(rc) == TPM2_RC_INTEGRITY && hw_tpm_srk_switch_inlock(c))
		rc = Esys_Load(c->esys, c->srk, c->session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, out);
	if (rc == TSS2_RC_SUCCESS)
		return CKR_OK;
	*out = ESYS_TR_NONE;
	return hw_tpm_fail_inlock(c, rc, what);
}

void hw_tpm_key_unload_inlock(hw_tpm_ctx *c, hw_tpm_key *k)
{
	for (unsigned i = 0; i < c->max_loaded; i++)
		if (c->loaded[i] == k)
			c->loaded[i] = NULL;
	/* in a forked child, before its context is dropped, the engine
	 * frees inherited objects: the handle is the parent's */
	if (k->handle != ESYS_TR_NONE && k->gen == c->gen && hw_tpm_ours(c))
		Esys_FlushContext(c->esys, k->handle);
	k->handle = ESYS_TR_NONE;
}

/* The key loaded in the TPM, evicting the least recently used one. */
static CK_RV ensure_loaded(hw_tpm_ctx *c, hw_tpm_key *k)
{
	unsigned slot = 0;
	c->tick++;
	if (k->handle != ESYS_TR_NONE && k->gen == c->gen) {
		k->used = c->tick;
		return CKR_OK;
	}
	for (unsigned i = 0; i < c->max_loaded; i++) {
		if (c->loaded[i] == NULL) {
			slot = i;
			break;
		}
		if (c->loaded[i]->used < c->loaded[slot]->used)
			slot = i;
	}
	if (c->loaded[slot] != NULL)
		hw_tpm_key_unload_inlock(c, c->loaded[slot]);
	CK_RV rv = hw_tpm_load_inlock(c, &k->pub, &k->priv, &k->handle, "load a key");
	if (rv != CKR_OK) {
		/* a blob the TPM refuses stays refused: say it once */
		if (rv == CKR_DEVICE_ERROR && !k->broken) {
			k->broken = true;
			hw_error("slot \"%s\": a key blob in the store is damaged or belongs to another TPM",
				 c->conf->name);
		}
		return rv;
	}
	k->gen = c->gen;
	k->used = c->tick;
	c->loaded[slot] = k;
	return CKR_OK;
}

static TPMI_ALG_HASH tpm_hash(CK_MECHANISM_TYPE h)
{
	switch (h) {
	case CKM_SHA_1: return TPM2_ALG_SHA1;
	case CKM_SHA256: return TPM2_ALG_SHA256;
	case CKM_SHA384: return TPM2_ALG_SHA384;
	case CKM_SHA512: return TPM2_ALG_SHA512;
	default: return TPM2_ALG_NULL;
	}
}

static size_t ec_nlen(const hw_tpm_key *k)
{
	return k->pub.publicArea.parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ? 48 : 32;
}

/* ECDSA uses the leftmost bits of the digest, as many as the order has, as
 * an integer: cutting a longer digest to the order's bytes, or padding a
 * shorter one with leading zeros up to a hash the TPM has, signs the same
 * number, so every hash (and raw CKM_ECDSA) works on any TPM. */
static CK_RV ecdsa_digest(const hw_tpm_key *k, const hw_sign_req *req, TPMT_SIG_SCHEME *scheme,
			  TPM2B_DIGEST *digest)
{
	size_t n = ec_nlen(k), len = req->len < n ? req->len : n, width = len <= 32 ? 32 : 48;
	if (req->len == 0)
		return CKR_DATA_LEN_RANGE;
	scheme->scheme = TPM2_ALG_ECDSA;
	scheme->details.any.hashAlg = width == 32 ? TPM2_ALG_SHA256 : TPM2_ALG_SHA384;
	memset(digest->buffer, 0, width);
	memcpy(digest->buffer + width - len, req->data, len);
	digest->size = (UINT16)width;
	return CKR_OK;
}

/* RSASSA for a DigestInfo of a hash the TPM has (it builds the DigestInfo
 * again itself); anything else is signed as raw RSA (scheme NULL). */
static CK_RV sign_scheme(const hw_tpm_key *k, const hw_sign_req *req, TPMT_SIG_SCHEME *scheme,
			 TPM2B_DIGEST *digest)
{
	const unsigned char *d;
	size_t dlen;
	CK_MECHANISM_TYPE h;
	memset(scheme, 0, sizeof(*scheme));
	if (k->pub.publicArea.type == TPM2_ALG_ECC && req->base == CKM_ECDSA)
		return ecdsa_digest(k, req, scheme, digest);
	if (k->pub.publicArea.type != TPM2_ALG_RSA ||
	    (req->base != CKM_RSA_PKCS && req->base != CKM_RSA_PKCS_PSS))
		return CKR_MECHANISM_INVALID;
	scheme->scheme = TPM2_ALG_NULL;
	if (req->base == CKM_RSA_PKCS && hw_digestinfo_decode(req->data, req->len, &h, &d, &dlen) == CKR_OK &&
	    tpm_hash(h) != TPM2_ALG_NULL && dlen <= sizeof(digest->buffer)) {
		scheme->scheme = TPM2_ALG_RSASSA;
		scheme->details.any.hashAlg = tpm_hash(h);
		digest->size = (UINT16)dlen;
		memcpy(digest->buffer, d, dlen);
	}
	return CKR_OK;
}

struct rsa_args {
	const TPM2B_PUBLIC_KEY_RSA *in;
	const TPMT_RSA_DECRYPT *scheme;
	TPM2B_PUBLIC_KEY_RSA *out;
};

static TSS2_RC rsa_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg)
{
	static const TPM2B_DATA label = { .size = 0 };
	const struct rsa_args *a = arg;
	return Tss2_Sys_RSA_Decrypt_Prepare(sys, h, a->in, a->scheme, &label);
}

static TSS2_RC rsa_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	const struct rsa_args *a = arg;
	memset(a->out, 0, sizeof(*a->out));   /* tss2-mu fills only an empty TPM2B */
	return Tss2_Sys_RSA_Decrypt_Complete(sys, a->out);
}

/* TPM2_RSA_Decrypt with the loaded key k whose authValue is auth, on the
 * slot's own session (through ESAPI when that is off). A plaintext (secret
 * true) comes back encrypted; an encoding to sign goes out encrypted. *trc
 * the TPM's answer; CKR_DEVICE_ERROR when it did not authenticate. */
static CK_RV rsa_decrypt_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const TPM2B_AUTH *auth,
				const TPM2B_PUBLIC_KEY_RSA *in, const TPMT_RSA_DECRYPT *scheme, bool secret,
				TPM2B_PUBLIC_KEY_RSA *out, TSS2_RC *trc)
{
	struct rsa_args a = { in, scheme, out };
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_RSA_Decrypt, .object = k->handle, .auth = auth->buffer,
				    .auth_len = auth->size, .decrypt = !secret, .encrypt = secret,
				    .prepare = rsa_prepare, .complete = rsa_complete, .arg = &a,
				    .what = secret ? "a decryption" : "a signature" };
	TPM2B_DATA label = { .size = 0 };
	TPM2B_PUBLIC_KEY_RSA *eout = NULL;
	int taken = hw_tpm_fast_run_inlock(c, &x, trc);
	if (taken == HW_TPM_FAST_FORGED)
		return CKR_DEVICE_ERROR;
	if (taken == HW_TPM_FAST_DONE)
		return CKR_OK;
	hw_tpm_session_for(c, !secret, secret);
	*trc = Esys_RSA_Decrypt(c->esys, k->handle, c->session, ESYS_TR_NONE, ESYS_TR_NONE, in, scheme, &label,
				&eout);
	if (*trc == TSS2_RC_SUCCESS)
		*out = *eout;
	if (eout != NULL)
		hw_wipe(eout, sizeof(*eout));
	Esys_Free(eout);
	return CKR_OK;
}

/* PKCS#1 v1.5 (block type 1) or PSS encoding of the input, signed with
 * TPM2_RSA_Decrypt: the raw private-key operation. */
static CK_RV rsa_raw_sign_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const TPM2B_AUTH *auth, const hw_sign_req *req,
				 unsigned char *sig, size_t *sig_len)
{
	size_t kb = k->pub.publicArea.unique.rsa.size;
	TPM2B_PUBLIC_KEY_RSA em, out;
	TPMT_RSA_DECRYPT scheme = { .scheme = TPM2_ALG_NULL };
	TSS2_RC trc;
	if (!(k->pub.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT)) {
		hw_info("slot \"%s\": this RSA key signs DigestInfos of SHA-1/256/384/512 only "
			"(no PSS, no other inputs)", c->conf->name);
		return CKR_DATA_INVALID;
	}
	if (kb > sizeof(em.buffer))
		return CKR_DATA_LEN_RANGE;
	em.size = (UINT16)kb;
	CK_RV rv = req->base == CKM_RSA_PKCS_PSS ?
		hw_tpm_pad_pss(&req->pss, req->data, req->len, k->pub.publicArea.parameters.rsaDetail.keyBits,
			       em.buffer, kb) :
		hw_tpm_pad_pkcs1(req->data, req->len, em.buffer, kb);
	if (rv != CKR_OK)
		return rv;
	rv = rsa_decrypt_inlock(c, k, auth, &em, &scheme, false, &out, &trc);
	hw_wipe(&em, sizeof(em));
	if (rv == CKR_OK && trc != TSS2_RC_SUCCESS)
		rv = hw_tpm_fail_inlock(c, trc, "sign");
	else if (rv == CKR_OK && (out.size > kb || *sig_len < kb))
		rv = CKR_DEVICE_ERROR;
	if (rv == CKR_OK) {
		/* the result is the integer: left-pad it to the modulus width */
		memset(sig, 0, kb - out.size);
		memcpy(sig + kb - out.size, out.buffer, out.size);
		*sig_len = kb;
	}
	return rv;
}

static CK_RV sig_out(const hw_tpm_key *k, const TPMT_SIGNATURE *s, unsigned char *out, size_t *out_len)
{
	if (s->sigAlg == TPM2_ALG_ECDSA) {
		size_t n = ec_nlen(k);
		const TPM2B_ECC_PARAMETER *r = &s->signature.ecdsa.signatureR, *sv = &s->signature.ecdsa.signatureS;
		if (r->size > n || sv->size > n || *out_len < 2 * n)
			return CKR_DEVICE_ERROR;
		memset(out, 0, 2 * n);
		memcpy(out + n - r->size, r->buffer, r->size);
		memcpy(out + 2 * n - sv->size, sv->buffer, sv->size);
		*out_len = 2 * n;
		return CKR_OK;
	}
	if (s->sigAlg == TPM2_ALG_RSASSA) {
		const TPM2B_PUBLIC_KEY_RSA *sg = &s->signature.rsassa.sig;
		if (sg->size > *out_len)
			return CKR_DEVICE_ERROR;
		memcpy(out, sg->buffer, sg->size);
		*out_len = sg->size;
		return CKR_OK;
	}
	return CKR_DEVICE_ERROR;
}

/* The key loaded, with its authValue (derived from the master key of the
 * logged-in user) set for the next command, and in auth when not NULL. */
static CK_RV ready_inlock(hw_tpm_ctx *c, hw_tpm_key *k, TPM2B_AUTH *auth_out)
{
	TPM2B_AUTH auth;
	CK_RV rv;
	if (c->mk == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if ((rv = hw_tpm_connect_inlock(c)) != CKR_OK || (rv = ensure_loaded(c, k)) != CKR_OK)
		return rv;
	auth.size = HW_TPM_AUTH_LEN;
	if ((rv = hw_tpm_key_auth(c->mk, k->salt, auth.buffer)) != CKR_OK)
		return rv;
	Esys_TR_SetAuth(c->esys, k->handle, &auth);
	if (auth_out != NULL)
		*auth_out = auth;
	hw_wipe(&auth, sizeof(auth));
	return CKR_OK;
}

CK_RV hw_tpm_key_ready_inlock(hw_tpm_ctx *c, hw_tpm_key *k, TPM2B_AUTH *auth)
{
	return ready_inlock(c, k, auth);
}

CK_RV hw_tpm_key_sign_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const hw_sign_req *req,
			     unsigned char *sig, size_t *sig_len)
{
	TPMT_SIG_SCHEME scheme;
	TPM2B_DIGEST digest;
	TPMT_TK_HASHCHECK check = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *s = NULL;
	CK_RV rv = sign_scheme(k, req, &scheme, &digest);
	if (rv != CKR_OK)
		return rv;
	TPM2B_AUTH auth;
	TPMT_SIGNATURE fast;
	TSS2_RC trc;
	int taken;
	if ((rv = ready_inlock(c, k, &auth)) != CKR_OK)
		return rv;
	if (scheme.scheme == TPM2_ALG_NULL) {
		rv = rsa_raw_sign_inlock(c, k, &auth, req, sig, sig_len);
	} else if ((taken = hw_tpm_fast_sign_inlock(c, k, auth.buffer, &digest, &scheme, &fast, &trc)) !=
		   HW_TPM_FAST_NO) {
		/* the hot path (tpm_fast.c) */
		rv = taken == HW_TPM_FAST_FORGED ? CKR_DEVICE_ERROR :
		     trc == TSS2_RC_SUCCESS ? sig_out(k, &fast, sig, sig_len) : hw_tpm_fail_inlock(c, trc, "sign");
	} else {
		hw_tpm_session_for(c, true, false);
		trc = Esys_Sign(c->esys, k->handle, c->session, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
				&check, &s);
		rv = trc == TSS2_RC_SUCCESS ? sig_out(k, s, sig, sig_len) : hw_tpm_fail_inlock(c, trc, "sign");
		Esys_Free(s);
	}
	hw_wipe(&auth, sizeof(auth));
	return rv;
}

CK_RV hw_tpm_key_decrypt_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const hw_crypt_req *req,
				unsigned char *out, size_t *out_len)
{
	size_t kb = k->pub.publicArea.unique.rsa.size;
	TPM2B_PUBLIC_KEY_RSA ct, pt;
	TPMT_RSA_DECRYPT scheme = { .scheme = TPM2_ALG_RSAES };
	TPM2B_AUTH auth;
	TSS2_RC trc;
	CK_RV rv;
	if (k->pub.publicArea.type != TPM2_ALG_RSA || !(k->pub.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (req->mech == CKM_RSA_PKCS_OAEP) {
		/* raw RSA here, OAEP decoded after (tpm_pad.c) */
		scheme.scheme = TPM2_ALG_NULL;
	} else if (req->mech != CKM_RSA_PKCS) {
		return CKR_MECHANISM_INVALID;
	}
	if (req->len != kb || kb > sizeof(ct.buffer))
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if ((rv = ready_inlock(c, k, &auth)) != CKR_OK)
		return rv;
	ct.size = (UINT16)kb;
	memcpy(ct.buffer, req->data, kb);
	/* the plaintext comes back encrypted (first response parameter) */
	rv = rsa_decrypt_inlock(c, k, &auth, &ct, &scheme, true, &pt, &trc);
	hw_wipe(&auth, sizeof(auth));
	if (rv != CKR_OK)
		return rv;
	if (hw_tpm_rc_base(trc) == TPM2_RC_VALUE || hw_tpm_rc_base(trc) == (TPM2_RC_VALUE | TPM2_RC_P))
		return CKR_ENCRYPTED_DATA_INVALID;    /* padding check failed: the ciphertext's fault */
	if (trc != TSS2_RC_SUCCESS)
		return hw_tpm_fail_inlock(c, trc, "decrypt");
	if (scheme.scheme == TPM2_ALG_NULL && pt.size <= kb) {
		/* the raw result is the integer: left-pad it to k bytes */
		memmove(pt.buffer + kb - pt.size, pt.buffer, pt.size);
		memset(pt.buffer, 0, kb - pt.size);
		rv = hw_tpm_unpad_oaep(&req->oaep, pt.buffer, kb, out, out_len);
	} else if (scheme.scheme == TPM2_ALG_NULL) {
		rv = CKR_DEVICE_ERROR;
	} else if (pt.size > *out_len) {
		rv = CKR_BUFFER_TOO_SMALL;
		*out_len = pt.size;
	} else {
		memcpy(out, pt.buffer, pt.size);
		rv = CKR_OK;
		*out_len = pt.size;
	}
	hw_wipe(&pt, sizeof(pt));
	return rv;
}
