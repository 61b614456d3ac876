/*
 * The tpm slot's secret keys: HMAC keys (TPM keyedHash objects, signing,
 * scheme open so that one key serves every hash the TPM has) and AES keys
 * (TPM symmetric-cipher objects, mode open so that one key serves every
 * mode), made under the SRK with TPM2_Create and kept like the slot's other
 * keys. The value is made by the TPM (sensitiveDataOrigin) or, on import,
 * sent once inside TPM2_Create's encrypted inSensitive; it never comes back.
 *
 * The work happens in the TPM: TPM2_HMAC (or an HMAC sequence for a message
 * longer than one TPM buffer) and TPM2_EncryptDecrypt2, in pieces of one
 * TPM buffer (1024 bytes) chained by the IV the TPM returns. The data goes
 * to the TPM encrypted and a cipher's output comes back encrypted (the
 * slot's salted session, parameter encryption). The slot does around it
 * only what the TPM has no mode for: the PKCS#7 padding of CKM_AES_CBC_PAD,
 * and holding back a partial block between parts.
 */
#include "slots/tpm_int.h"
#include "mechanisms/cipher.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <tss2/tss2_sys.h>

#define CHUNK ((size_t)TPM2_MAX_DIGEST_BUFFER)   /* one TPM2B_MAX_BUFFER */
/* The longest HMAC key a TPM takes in: the block of its largest hash
 * (SHA-512's 128 bytes, the reference implementation's MAX_SYM_DATA; the
 * TSS headers allow 256 for TPMs that have more) */
#define HMAC_KEY_MAX 128

/* ---- what the TPM has (at connect) ------------------------------------------------ */

static bool has_cc(hw_tpm_ctx *c, TPM2_CC cc)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	bool ok = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_COMMANDS, cc, 1,
				     &more, &cap) == TSS2_RC_SUCCESS &&
		  cap->data.command.count > 0 && (cap->data.command.commandAttributes[0] & TPMA_CC_COMMANDINDEX_MASK) == cc;
	Esys_Free(cap);
	return ok;
}

static bool aes_bits_ok(hw_tpm_ctx *c, TPM2_KEY_BITS bits)
{
	TPMT_PUBLIC_PARMS p;
	memset(&p, 0, sizeof(p));
	p.type = TPM2_ALG_SYMCIPHER;
	p.parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
	p.parameters.symDetail.sym.keyBits.aes = bits;
	p.parameters.symDetail.sym.mode.aes = TPM2_ALG_CFB;
	return Esys_TestParms(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p) == TSS2_RC_SUCCESS;
}

void hw_tpm_sk_alg(hw_tpm_ctx *c, TPM2_ALG_ID a)
{
	hw_tpm_sk_caps *s = &c->sk;
	s->sha1 |= a == TPM2_ALG_SHA1;
	s->sha256 |= a == TPM2_ALG_SHA256;
	s->sha512 |= a == TPM2_ALG_SHA512;
	s->hmac |= a == TPM2_ALG_HMAC;
	s->keyedhash |= a == TPM2_ALG_KEYEDHASH;
	s->aes |= a == TPM2_ALG_AES;
	s->cbc |= a == TPM2_ALG_CBC;
	s->ecb |= a == TPM2_ALG_ECB;
	s->ctr |= a == TPM2_ALG_CTR;
}

void hw_tpm_sk_caps_inlock(hw_tpm_ctx *c)
{
	hw_tpm_sk_caps *s = &c->sk;
	s->cmd_hmac = s->hmac && s->keyedhash && has_cc(c, TPM2_CC_HMAC) && has_cc(c, TPM2_CC_HMAC_Start) &&
		      has_cc(c, TPM2_CC_SequenceUpdate) && has_cc(c, TPM2_CC_SequenceComplete);
	s->cmd_ed2 = s->aes && has_cc(c, TPM2_CC_EncryptDecrypt2);
	s->aes128 = s->cmd_ed2 && aes_bits_ok(c, 128);
	s->aes192 = s->cmd_ed2 && aes_bits_ok(c, 192);
	s->aes256 = s->cmd_ed2 && aes_bits_ok(c, 256);
}

static TPMI_ALG_HASH mac_hash(const hw_tpm_ctx *c, CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_SHA_1_HMAC: case CKM_SHA_1_HMAC_GENERAL: return c->sk.sha1 ? TPM2_ALG_SHA1 : TPM2_ALG_NULL;
	case CKM_SHA256_HMAC: case CKM_SHA256_HMAC_GENERAL: return c->sk.sha256 ? TPM2_ALG_SHA256 : TPM2_ALG_NULL;
	case CKM_SHA384_HMAC: case CKM_SHA384_HMAC_GENERAL: return c->sha384 ? TPM2_ALG_SHA384 : TPM2_ALG_NULL;
	case CKM_SHA512_HMAC: case CKM_SHA512_HMAC_GENERAL: return c->sk.sha512 ? TPM2_ALG_SHA512 : TPM2_ALG_NULL;
	default: return TPM2_ALG_NULL;
	}
}

static TPMI_ALG_CIPHER_MODE cipher_mode(const hw_tpm_ctx *c, CK_MECHANISM_TYPE m)
{
	switch (m) {
	case CKM_AES_ECB: return c->sk.ecb ? TPM2_ALG_ECB : TPM2_ALG_NULL;
	case CKM_AES_CBC: case CKM_AES_CBC_PAD: return c->sk.cbc ? TPM2_ALG_CBC : TPM2_ALG_NULL;
	case CKM_AES_CTR: return c->sk.ctr ? TPM2_ALG_CTR : TPM2_ALG_NULL;
	default: return TPM2_ALG_NULL;     /* GCM: a TPM has none */
	}
}

bool hw_tpm_sk_mechanism_inlock(hw_tpm_ctx *c, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *mi)
{
	const hw_tpm_sk_caps *s = &c->sk;
	switch (m) {
	case CKM_AES_KEY_GEN:
		mi->flags |= CKF_GENERATE;
		mi->ulMinKeySize = s->aes128 ? 16 : s->aes192 ? 24 : 32;
		mi->ulMaxKeySize = s->aes256 ? 32 : s->aes192 ? 24 : 16;
		return s->aes128 || s->aes192 || s->aes256;
	case CKM_GENERIC_SECRET_KEY_GEN:
		/* the TPM makes a key of its hash's size (see gen_len) */
		mi->flags |= CKF_GENERATE;
		mi->ulMinKeySize = s->sha1 ? 20 : 32;
		mi->ulMaxKeySize = s->sha512 ? 64 : c->sha384 ? 48 : 32;
		return s->cmd_hmac && s->sha256;
	case CKM_AES_ECB: case CKM_AES_CBC: case CKM_AES_CBC_PAD: case CKM_AES_CTR:
		mi->flags |= CKF_ENCRYPT | CKF_DECRYPT;
		mi->ulMinKeySize = s->aes128 ? 16 : s->aes192 ? 24 : 32;
		mi->ulMaxKeySize = s->aes256 ? 32 : s->aes192 ? 24 : 16;
		return (s->aes128 || s->aes192 || s->aes256) && cipher_mode(c, m) != TPM2_ALG_NULL;
	case CKM_SHA_1_HMAC: case CKM_SHA_1_HMAC_GENERAL: case CKM_SHA256_HMAC: case CKM_SHA256_HMAC_GENERAL:
	case CKM_SHA384_HMAC: case CKM_SHA384_HMAC_GENERAL: case CKM_SHA512_HMAC: case CKM_SHA512_HMAC_GENERAL:
		mi->flags |= CKF_SIGN | CKF_VERIFY;
		mi->ulMinKeySize = 1;
		mi->ulMaxKeySize = HMAC_KEY_MAX;
		return s->cmd_hmac && mac_hash(c, m) != TPM2_ALG_NULL;
	default:
		return false;   /* GCM (a TPM has none), SHA-224 HMAC, key wrapping */
	}
}

/* ---- making a key ------------------------------------------------------------------ */

/* A generated HMAC key is as long as the digest of the object's name
 * algorithm (the TPM picks the size: part 1, 27.2.2 and CryptGenerateKeyedHash):
 * the length asked picks that hash. */
static TPMI_ALG_HASH gen_hash(const hw_tpm_ctx *c, size_t len)
{
	return len == 20 && c->sk.sha1 ? TPM2_ALG_SHA1 : len == 32 && c->sk.sha256 ? TPM2_ALG_SHA256 :
	       len == 48 && c->sha384 ? TPM2_ALG_SHA384 : len == 64 && c->sk.sha512 ? TPM2_ALG_SHA512 :
	       TPM2_ALG_NULL;
}

CK_RV hw_tpm_sk_create_inlock(hw_tpm_ctx *c, bool aes, size_t len, const unsigned char *value,
			      const unsigned char *auth, hw_tpm_key *k)
{
	TPM2B_PUBLIC t;
	TPM2B_SENSITIVE_CREATE sens;
	TPMT_PUBLIC *p = &t.publicArea;
	CK_RV rv;
	memset(&t, 0, sizeof(t));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
			      TPMA_OBJECT_SIGN_ENCRYPT | (value == NULL ? TPMA_OBJECT_SENSITIVEDATAORIGIN : 0);
	if (aes) {
		bool ok = len == 16 ? c->sk.aes128 : len == 24 ? c->sk.aes192 : len == 32 && c->sk.aes256;
		if (!ok) {
			hw_info("slot \"%s\": this TPM has no %zu-bit AES keys", c->conf->name, len * 8);
			return CKR_ATTRIBUTE_VALUE_INVALID;
		}
		p->type = TPM2_ALG_SYMCIPHER;
		p->objectAttributes |= TPMA_OBJECT_DECRYPT;     /* SIGN_ENCRYPT encrypts, DECRYPT decrypts */
		p->parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
		p->parameters.symDetail.sym.keyBits.aes = (TPM2_KEY_BITS)(len * 8);
		p->parameters.symDetail.sym.mode.aes = TPM2_ALG_NULL;   /* the mode comes with each command */
	} else {
		/* sign and decrypt with no scheme: the hash comes with each
		 * TPM2_HMAC (a signing-only keyedHash object must name one
		 * hash); decrypt opens nothing else (TPM2_Unseal wants neither
		 * set, and no other command takes a keyedHash object) */
		p->type = TPM2_ALG_KEYEDHASH;
		p->objectAttributes |= TPMA_OBJECT_DECRYPT;
		p->parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
		if (value == NULL && (p->nameAlg = gen_hash(c, len)) == TPM2_ALG_NULL) {
			hw_info("slot \"%s\": the TPM makes HMAC keys of a hash's size only (20, 32, 48 or 64 "
				"bytes, as its hashes allow); import a key of another length", c->conf->name);
			return CKR_ATTRIBUTE_VALUE_INVALID;
		}
		/* an imported key's size is bounded by the name algorithm's
		 * digest (TPM_RC_SIZE beyond it): the smallest that holds it */
		if (value != NULL)
			p->nameAlg = len <= 32 ? TPM2_ALG_SHA256 : len <= 48 && c->sha384 ? TPM2_ALG_SHA384 :
				     c->sk.sha512 ? TPM2_ALG_SHA512 : TPM2_ALG_SHA256;
		if (value != NULL && len > HMAC_KEY_MAX) {
			hw_info("slot \"%s\": the TPM takes HMAC keys of at most %d bytes", c->conf->name,
				HMAC_KEY_MAX);
			return CKR_ATTRIBUTE_VALUE_INVALID;
		}
	}
	memset(&sens, 0, sizeof(sens));
	sens.sensitive.userAuth.size = HW_TPM_AUTH_LEN;
	memcpy(sens.sensitive.userAuth.buffer, auth, HW_TPM_AUTH_LEN);
	if (value != NULL) {
		sens.sensitive.data.size = (UINT16)len;
		memcpy(sens.sensitive.data.buffer, value, len);
	}
	rv = hw_tpm_create_inlock(c, &sens, &t, &k->pub, &k->priv, "create a secret key");
	hw_wipe(&sens, sizeof(sens));
	k->handle = ESYS_TR_NONE;
	return rv;
}

/* ---- streams ------------------------------------------------------------------------- */

typedef struct sk_op {
	hw_tpm_key *k;
	CK_FLAGS kind;
	bool mac;
	/* HMAC: the message, kept until the final call (one TPM2_HMAC when it
	 * fits one buffer, a sequence when not) */
	TPMI_ALG_HASH hash;
	size_t mac_len;
	unsigned char *msg;
	size_t len, cap;
	/* ciphers */
	TPMI_ALG_CIPHER_MODE mode;
	bool pad;                     /* CBC_PAD: PKCS#7 here */
	TPM2B_IV iv;                  /* the next piece's IV (CBC) or counter block (CTR) */
	uint64_t ctr_room;            /* CTR: blocks left before the counter field wraps */
	unsigned char carry[HW_AES_BLOCK];   /* a partial block (a whole one for CBC_PAD decryption) */
	size_t carry_len;
} sk_op;

/* The parameters (the engine validated them already, mechanisms/cipher.h;
 * read here again because a backend module has only its services). */
static size_t mac_len(const CK_MECHANISM *m)
{
	CK_MECHANISM_TYPE h;
	switch (m->mechanism) {
	case CKM_SHA_1_HMAC: case CKM_SHA_1_HMAC_GENERAL: h = CKM_SHA_1; break;
	case CKM_SHA256_HMAC: case CKM_SHA256_HMAC_GENERAL: h = CKM_SHA256; break;
	case CKM_SHA384_HMAC: case CKM_SHA384_HMAC_GENERAL: h = CKM_SHA384; break;
	default: h = CKM_SHA512; break;
	}
	size_t full = hw_hash_len(h);
	if (m->mechanism != CKM_SHA_1_HMAC_GENERAL && m->mechanism != CKM_SHA256_HMAC_GENERAL &&
	    m->mechanism != CKM_SHA384_HMAC_GENERAL && m->mechanism != CKM_SHA512_HMAC_GENERAL)
		return full;
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(CK_ULONG))
		return 0;
	CK_ULONG want = *(const CK_ULONG *)m->pParameter;
	return want >= 1 && want <= full ? want : 0;
}

/* How many blocks a CTR counter of bits bits starting at cb counts before
 * it wraps (UINT64_MAX: more than anyone encrypts). The TPM counts with
 * all 128 bits of the block (big-endian): the same numbers until a shorter
 * counter field would wrap where the TPM carries on into the nonce. */
static uint64_t ctr_room(const unsigned char cb[HW_AES_BLOCK], CK_ULONG bits)
{
	uint64_t low = 0;
	for (int i = 8; i < 16; i++)
		low = low << 8 | cb[i];
	if (bits >= 128)
		return UINT64_MAX;       /* the TPM wraps the whole block, as PKCS#11 does */
	if (bits < 64) {
		uint64_t field = low & ((UINT64_C(1) << bits) - 1);
		return (UINT64_C(1) << bits) - field;
	}
	/* 64..127 bits: the part above the low 64 must be all ones to wrap soon */
	for (CK_ULONG b = 64; b < bits; b++)
		if (!(cb[15 - b / 8] >> (b % 8) & 1))
			return UINT64_MAX;
	return low == 0 ? UINT64_MAX : (UINT64_MAX - low) + 1;
}

/* CBC: the IV; CTR: the counter block and how far it may count. */
static bool iv_of(const CK_MECHANISM *m, unsigned char iv[HW_AES_BLOCK], uint64_t *room)
{
	if (m->mechanism == CKM_AES_CTR) {
		const CK_AES_CTR_PARAMS *p = m->pParameter;
		if (p == NULL || m->ulParameterLen != sizeof(*p) || p->ulCounterBits < 1 || p->ulCounterBits > 128)
			return false;
		memcpy(iv, p->cb, HW_AES_BLOCK);
		*room = ctr_room(p->cb, p->ulCounterBits);
		return true;
	}
	if (m->pParameter == NULL || m->ulParameterLen != HW_AES_BLOCK)
		return false;
	memcpy(iv, m->pParameter, HW_AES_BLOCK);
	return true;
}

CK_RV hw_tpm_sk_begin_inlock(hw_tpm_ctx *c, hw_tpm_key *k, CK_FLAGS kind, const CK_MECHANISM *mech, void **out)
{
	TPMI_ALG_PUBLIC type = k->pub.publicArea.type;
	CK_RV rv = CKR_OK;
	sk_op *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return CKR_HOST_MEMORY;
	o->k = k;
	o->kind = kind;
	o->mac = kind == CKF_SIGN || kind == CKF_VERIFY;
	if (o->mac) {
		o->hash = mac_hash(c, mech->mechanism);
		o->mac_len = mac_len(mech);
		if (o->hash == TPM2_ALG_NULL || o->mac_len == 0)
			rv = CKR_MECHANISM_INVALID;
		else if (type != TPM2_ALG_KEYEDHASH)
			rv = CKR_KEY_TYPE_INCONSISTENT;
	} else {
		o->mode = cipher_mode(c, mech->mechanism);
		o->pad = mech->mechanism == CKM_AES_CBC_PAD;
		if (o->mode == TPM2_ALG_NULL)
			rv = CKR_MECHANISM_INVALID;
		else if (type != TPM2_ALG_SYMCIPHER)
			rv = CKR_KEY_TYPE_INCONSISTENT;
		else if (o->mode != TPM2_ALG_ECB && !iv_of(mech, o->iv.buffer, &o->ctr_room))
			rv = CKR_MECHANISM_PARAM_INVALID;
		if (o->mode != TPM2_ALG_ECB)
			o->iv.size = HW_AES_BLOCK;
	}
	if (rv != CKR_OK) {
		hw_info("slot \"%s\": mechanism 0x%lx with this key is not done by the TPM: %s", c->conf->name,
			(unsigned long)mech->mechanism, hw_rv_name(rv));
		free(o);
		return rv;
	}
	*out = o;
	return CKR_OK;
}

void hw_tpm_sk_end(void *op)
{
	sk_op *o = op;
	if (o == NULL)
		return;
	if (o->msg != NULL)
		hw_wipe(o->msg, o->cap);
	free(o->msg);
	hw_wipe(o, sizeof(*o));
	free(o);
}

static CK_RV crypt_inlock(hw_tpm_ctx *c, sk_op *o, bool last, const unsigned char *in, size_t len,
			  unsigned char *out, size_t *out_len);

/* ---- HMAC ------------------------------------------------------------------------------ */

static CK_RV mac_add(hw_tpm_ctx *c, sk_op *o, const unsigned char *in, size_t len)
{
	if (len == 0)
		return CKR_OK;
	if (len > HW_TPM_MAC_MAX - o->len) {
		hw_info("slot \"%s\": an HMAC in the TPM takes at most %u bytes of data", c->conf->name,
			(unsigned)HW_TPM_MAC_MAX);
		return CKR_DATA_LEN_RANGE;
	}
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap : CHUNK;
		while (cap < o->len + len)
			cap *= 2;
		unsigned char *b = malloc(cap);
		if (b == NULL)
			return CKR_HOST_MEMORY;
		if (o->msg != NULL) {
			memcpy(b, o->msg, o->len);
			hw_wipe(o->msg, o->cap);
			free(o->msg);
		}
		o->msg = b;
		o->cap = cap;
	}
	memcpy(o->msg + o->len, in, len);
	o->len += len;
	return CKR_OK;
}

CK_RV hw_tpm_sk_update_inlock(hw_tpm_ctx *c, void *op, const unsigned char *in, size_t len, unsigned char *out,
			      size_t *out_len)
{
	sk_op *o = op;
	if (o->mac)
		return mac_add(c, o, in, len);
	return crypt_inlock(c, o, false, in, len, out, out_len);
}

struct hmac_args {
	const TPM2B_MAX_BUFFER *in;
	TPMI_ALG_HASH hash;
	TPM2B_DIGEST *out;
};

static TSS2_RC hmac_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg)
{
	const struct hmac_args *a = arg;
	return Tss2_Sys_HMAC_Prepare(sys, h, a->in, a->hash);
}

static TSS2_RC hmac_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	const struct hmac_args *a = arg;
	memset(a->out, 0, sizeof(*a->out));
	return Tss2_Sys_HMAC_Complete(sys, a->out);
}

/* TPM2_HMAC of one buffer: on the slot's session with the data encrypted,
 * through ESAPI when that session is off. */
static TSS2_RC hmac_one(hw_tpm_ctx *c, hw_tpm_key *k, const TPM2B_AUTH *auth, const TPM2B_MAX_BUFFER *in,
			TPMI_ALG_HASH hash, TPM2B_DIGEST *out, bool *forged)
{
	struct hmac_args a = { in, hash, out };
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_HMAC, .object = k->handle, .auth = auth->buffer,
				    .auth_len = auth->size, .decrypt = true, .prepare = hmac_prepare,
				    .complete = hmac_complete, .arg = &a, .what = "an HMAC" };
	TPM2B_DIGEST *e = NULL;
	TSS2_RC rc;
	int taken = hw_tpm_fast_run_inlock(c, &x, &rc);
	*forged = taken == HW_TPM_FAST_FORGED;
	if (taken != HW_TPM_FAST_NO)
		return rc;
	hw_tpm_session_for(c, true, false);
	rc = Esys_HMAC(c->esys, k->handle, c->session, ESYS_TR_NONE, ESYS_TR_NONE, in, hash, &e);
	if (rc == TSS2_RC_SUCCESS)
		*out = *e;
	Esys_Free(e);
	return rc;
}

/* A message longer than one buffer: an HMAC sequence (TPM2_HMAC_Start,
 * SequenceUpdate, SequenceComplete), begun and ended within this call. */
static TSS2_RC hmac_seq(hw_tpm_ctx *c, hw_tpm_key *k, const sk_op *o, TPM2B_DIGEST *out)
{
	static const TPM2B_AUTH none = { .size = 0 };
	TPM2B_MAX_BUFFER b;
	TPM2B_DIGEST *d = NULL;
	TPMT_TK_HASHCHECK *tk = NULL;
	ESYS_TR seq = ESYS_TR_NONE;
	size_t off = 0;
	hw_tpm_session_for(c, false, false);
	TSS2_RC rc = Esys_HMAC_Start(c->esys, k->handle, c->session, ESYS_TR_NONE, ESYS_TR_NONE, &none, o->hash,
				     &seq);
	while (rc == TSS2_RC_SUCCESS && o->len - off > CHUNK) {
		b.size = (UINT16)CHUNK;
		memcpy(b.buffer, o->msg + off, CHUNK);
		off += CHUNK;
		rc = Esys_SequenceUpdate(c->esys, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b);
	}
	if (rc == TSS2_RC_SUCCESS) {
		b.size = (UINT16)(o->len - off);
		memcpy(b.buffer, o->msg + off, b.size);
		rc = Esys_SequenceComplete(c->esys, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b,
					   ESYS_TR_RH_NULL, &d, &tk);
		if (rc == TSS2_RC_SUCCESS) {
			seq = ESYS_TR_NONE;       /* the TPM flushed it */
			*out = *d;
		}
	}
	if (seq != ESYS_TR_NONE)
		Esys_FlushContext(c->esys, seq);
	hw_wipe(&b, sizeof(b));
	Esys_Free(d);
	Esys_Free(tk);
	return rc;
}

static CK_RV mac_final(hw_tpm_ctx *c, sk_op *o, const unsigned char *sig, size_t sig_len, unsigned char *out,
		       size_t *out_len)
{
	TPM2B_AUTH auth;
	TPM2B_DIGEST d = { .size = 0 };
	TPM2B_MAX_BUFFER b;
	bool forged = false;
	TSS2_RC rc;
	CK_RV rv = hw_tpm_key_ready_inlock(c, o->k, &auth);
	if (rv != CKR_OK)
		return rv;
	if (o->len <= CHUNK) {
		b.size = (UINT16)o->len;
		if (o->len > 0)
			memcpy(b.buffer, o->msg, o->len);
		rc = hmac_one(c, o->k, &auth, &b, o->hash, &d, &forged);
		hw_wipe(&b, sizeof(b));
	} else {
		rc = hmac_seq(c, o->k, o, &d);
	}
	hw_wipe(&auth, sizeof(auth));
	if (forged)
		return CKR_DEVICE_ERROR;
	if (rc != TSS2_RC_SUCCESS)
		return hw_tpm_fail_inlock(c, rc, "compute an HMAC");
	if (d.size < o->mac_len)
		return CKR_DEVICE_ERROR;
	if (o->kind == CKF_VERIFY)
		/* constant time: a forger learns nothing from how long we took */
		rv = sig != NULL && sig_len == o->mac_len && CRYPTO_memcmp(sig, d.buffer, sig_len) == 0 ?
		     CKR_OK : CKR_SIGNATURE_INVALID;
	else if (out == NULL || out_len == NULL || *out_len < o->mac_len)
		rv = CKR_BUFFER_TOO_SMALL;
	else {
		memcpy(out, d.buffer, o->mac_len);     /* _GENERAL: the leftmost bytes */
		*out_len = o->mac_len;
	}
	hw_wipe(&d, sizeof(d));
	return rv;
}

CK_RV hw_tpm_sk_final_inlock(hw_tpm_ctx *c, void *op, const unsigned char *in, size_t len,
			     const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	sk_op *o = op;
	CK_RV rv;
	if (!o->mac)
		return crypt_inlock(c, o, true, in, len, out, out_len);
	if ((rv = mac_add(c, o, in, len)) != CKR_OK)
		return rv;
	return mac_final(c, o, sig, sig_len, out, out_len);
}

/* ---- AES ------------------------------------------------------------------------------- */

struct ed2_args {
	const TPM2B_MAX_BUFFER *in;
	TPMI_YES_NO decrypt;
	TPMI_ALG_CIPHER_MODE mode;
	const TPM2B_IV *iv;
	TPM2B_MAX_BUFFER *out;
	TPM2B_IV *iv_out;
};

static TSS2_RC ed2_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg)
{
	const struct ed2_args *a = arg;
	return Tss2_Sys_EncryptDecrypt2_Prepare(sys, h, a->in, a->decrypt, a->mode, a->iv);
}

static TSS2_RC ed2_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	const struct ed2_args *a = arg;
	memset(a->out, 0, sizeof(*a->out));
	memset(a->iv_out, 0, sizeof(*a->iv_out));
	return Tss2_Sys_EncryptDecrypt2_Complete(sys, a->out, a->iv_out);
}

/* TPM2_EncryptDecrypt2 of one buffer: the data goes encrypted and comes back
 * encrypted (the first parameter each way); o->iv moves on. */
static CK_RV ed2_one(hw_tpm_ctx *c, sk_op *o, const TPM2B_AUTH *auth, const TPM2B_MAX_BUFFER *in,
		     TPM2B_MAX_BUFFER *out)
{
	TPM2B_IV iv_out;
	struct ed2_args a = { in, o->kind == CKF_DECRYPT ? TPM2_YES : TPM2_NO, o->mode, &o->iv, out, &iv_out };
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_EncryptDecrypt2, .object = o->k->handle, .auth = auth->buffer,
				    .auth_len = auth->size, .decrypt = true, .encrypt = true,
				    .prepare = ed2_prepare, .complete = ed2_complete, .arg = &a,
				    .what = "an AES operation" };
	TPM2B_MAX_BUFFER *eout = NULL;
	TPM2B_IV *eiv = NULL;
	TSS2_RC rc;
	int taken = hw_tpm_fast_run_inlock(c, &x, &rc);
	if (taken == HW_TPM_FAST_FORGED)
		return CKR_DEVICE_ERROR;
	if (taken == HW_TPM_FAST_NO) {
		hw_tpm_session_for(c, true, true);
		rc = Esys_EncryptDecrypt2(c->esys, o->k->handle, c->session, ESYS_TR_NONE, ESYS_TR_NONE, in,
					  a.decrypt, o->mode, &o->iv, &eout, &eiv);
		if (rc == TSS2_RC_SUCCESS) {
			*out = *eout;
			iv_out = *eiv;
		}
		if (eout != NULL)
			hw_wipe(eout, sizeof(*eout));
		Esys_Free(eout);
		Esys_Free(eiv);
	}
	if (rc != TSS2_RC_SUCCESS)
		return hw_tpm_fail_inlock(c, rc, "run AES");
	if (out->size != in->size || (o->mode != TPM2_ALG_ECB && iv_out.size != HW_AES_BLOCK))
		return CKR_DEVICE_ERROR;
	if (o->mode != TPM2_ALG_ECB)
		o->iv = iv_out;
	return CKR_OK;
}

/* n bytes of carry || in through the TPM into out, a buffer at a time. */
static CK_RV run_bytes(hw_tpm_ctx *c, sk_op *o, const unsigned char *in, size_t n, unsigned char *out)
{
	TPM2B_AUTH auth;
	TPM2B_MAX_BUFFER b, r;
	size_t done = 0, from_in = 0;
	uint64_t blocks = (n + HW_AES_BLOCK - 1) / HW_AES_BLOCK;
	if (o->mode == TPM2_ALG_CTR && blocks > o->ctr_room) {
		hw_info("slot \"%s\": the CTR counter would wrap (its field is shorter than the block)",
			c->conf->name);
		return CKR_DATA_LEN_RANGE;
	}
	if (o->mode == TPM2_ALG_CTR && o->ctr_room != UINT64_MAX)
		o->ctr_room -= blocks;
	CK_RV rv = n > 0 ? hw_tpm_key_ready_inlock(c, o->k, &auth) : CKR_OK;
	while (rv == CKR_OK && done < n) {
		size_t m = n - done < CHUNK ? n - done : CHUNK, got = 0;
		if (done < o->carry_len) {
			got = o->carry_len - done < m ? o->carry_len - done : m;
			memcpy(b.buffer, o->carry + done, got);
		}
		if (m > got)
			memcpy(b.buffer + got, in + from_in, m - got);
		from_in += m - got;
		b.size = (UINT16)m;
		if ((rv = ed2_one(c, o, &auth, &b, &r)) == CKR_OK)
			memcpy(out + done, r.buffer, m);
		done += m;
	}
	hw_wipe(&b, sizeof(b));
	hw_wipe(&r, sizeof(r));
	hw_wipe(&auth, sizeof(auth));
	return rv;
}

/* A part (last false) or the end of a cipher stream. Whole blocks go to the
 * TPM; a partial one waits for more, and CBC_PAD decryption keeps its last
 * whole block back until it knows it is the last (it holds the padding).
 * The engine checked the lengths the mode takes (hw_sk_room). */
static CK_RV crypt_inlock(hw_tpm_ctx *c, sk_op *o, bool last, const unsigned char *in, size_t len,
			  unsigned char *out, size_t *out_len)
{
	bool dec = o->kind == CKF_DECRYPT;
	size_t total = o->carry_len + len, n = total - total % HW_AES_BLOCK, extra = 0;
	unsigned char blk[HW_AES_BLOCK];
	CK_RV rv;
	if (total < len)
		return CKR_DATA_LEN_RANGE;
	if (!last && o->pad && dec && n == total && n > 0)
		n -= HW_AES_BLOCK;
	if (last && !o->pad)
		n = total;                     /* CTR takes a partial block at the end */
	if (last && o->pad && !dec)
		extra = HW_AES_BLOCK;          /* PKCS#7: 1 to 16 bytes, always */
	if (out_len == NULL || (n + extra > 0 && out == NULL))
		return CKR_ARGUMENTS_BAD;
	if (*out_len < n + extra) {
		*out_len = n + extra;
		return CKR_BUFFER_TOO_SMALL;
	}
	if ((rv = run_bytes(c, o, in, n, out)) != CKR_OK) {
		hw_wipe(out, n);
		return rv;
	}
	/* what was not sent waits in carry (it is carry's tail or in's) */
	size_t rest = total - n;
	if (rest > 0 && n >= o->carry_len) {
		memcpy(blk, in + (n - o->carry_len), rest);
	} else if (rest > 0) {
		memcpy(blk, o->carry + n, o->carry_len - n);
		memcpy(blk + o->carry_len - n, in, len);
	}
	hw_wipe(o->carry, sizeof(o->carry));
	o->carry_len = 0;
	if (extra > 0) {
		unsigned char p = (unsigned char)(HW_AES_BLOCK - rest);
		memset(blk + rest, p, p);
		memcpy(o->carry, blk, HW_AES_BLOCK);
		o->carry_len = HW_AES_BLOCK;
		rv = run_bytes(c, o, NULL, HW_AES_BLOCK, out + n);
		hw_wipe(o->carry, sizeof(o->carry));
		o->carry_len = 0;
	} else if (!last) {
		memcpy(o->carry, blk, rest);
		o->carry_len = rest;
	}
	hw_wipe(blk, sizeof(blk));
	if (rv != CKR_OK) {
		hw_wipe(out, n + extra);
		return rv;
	}
	if (last && o->pad && dec) {
		/* PKCS#7 padding check over the last block, then cut it */
		unsigned char p = n >= HW_AES_BLOCK ? out[n - 1] : 0;
		unsigned bad = p == 0 || p > HW_AES_BLOCK || n < HW_AES_BLOCK;
		/* the whole block every time: no hint of where the padding failed */
		for (size_t i = 0; n >= HW_AES_BLOCK && i < HW_AES_BLOCK; i++)
			bad |= (unsigned)(i < p) & (unsigned)(out[n - 1 - i] != p);
		if (bad) {
			hw_wipe(out, n);          /* nothing of a bad ciphertext leaves */
			return CKR_ENCRYPTED_DATA_INVALID;
		}
		n -= p;
		hw_wipe(out + n, p);
	}
	*out_len = n + extra;
	return CKR_OK;
}

/* CKA_CHECK_VALUE (M "AES", "Generic secret key"): for AES the first 3
 * bytes of a zero block encrypted, by the TPM (ECB); for an imported HMAC
 * key of its value's SHA-1. A generated HMAC key has none: the TPM never
 * shows its value. CKR_FUNCTION_NOT_SUPPORTED: no check value. */
CK_RV hw_tpm_sk_check_value_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *value, size_t len,
				   unsigned char cv[3])
{
	unsigned char out[64];
	size_t n = sizeof(out);
	CK_RV rv;
	if (k->pub.publicArea.type != TPM2_ALG_SYMCIPHER) {
		if (value == NULL)
			return CKR_FUNCTION_NOT_SUPPORTED;
		rv = hw_digest_once(CKM_SHA_1, value, len, out, &n);
	} else if (!c->sk.ecb) {
		return CKR_FUNCTION_NOT_SUPPORTED;
	} else {
		static const unsigned char zero[HW_AES_BLOCK];
		sk_op o = { .k = k, .kind = CKF_ENCRYPT, .mode = TPM2_ALG_ECB };
		rv = run_bytes(c, &o, zero, HW_AES_BLOCK, out);
		/* loaded for this only: not kept in the TPM's slots under a key
		 * that may yet be dropped */
		hw_tpm_key_unload_inlock(c, k);
	}
	if (rv == CKR_OK)
		memcpy(cv, out, 3);
	hw_wipe(out, sizeof(out));
	return rv;
}
