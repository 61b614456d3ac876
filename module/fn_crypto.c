/*
 * Sign, verify, encrypt, decrypt and digest (B 5.9-5.12 | 5.10-5.15).
 *
 * Hash-then-sign happens here once for every slot: the mechanism table says
 * which digest to run in software and which base operation the backend
 * performs; RSA PKCS#1 v1.5 gets its DigestInfo here too. Verification and
 * encryption use the public key in software. Secret-key mechanisms (AES,
 * HMAC) take the same entry points and session rules but are streamed by
 * the backend (module/fn_cipher.c).
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "common/log.h"
#include "mechanisms/mech.h"
#include "mechanisms/encode.h"
#include "module/mechpolicy.h"
#include "module/audit.h"
#include "module/policy.h"
#include "module/cipher_op.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	CK_FLAGS need;             /* mechanism flag */
	CK_OBJECT_CLASS cls;       /* key class */
	CK_ATTRIBUTE_TYPE usage;   /* key usage attribute */
} kinds[HW_OP_COUNT] = {
	[HW_OP_SIGN] = { CKF_SIGN, CKO_PRIVATE_KEY, CKA_SIGN },
	[HW_OP_VERIFY] = { CKF_VERIFY, CKO_PUBLIC_KEY, CKA_VERIFY },
	[HW_OP_ENCRYPT] = { CKF_ENCRYPT, CKO_PUBLIC_KEY, CKA_ENCRYPT },
	[HW_OP_DECRYPT] = { CKF_DECRYPT, CKO_PRIVATE_KEY, CKA_DECRYPT },
	[HW_OP_DIGEST] = { CKF_DIGEST, 0, 0 },
};

/* Key size in the mechanism's units, from the key's public attributes. */
static CK_ULONG key_bits(const hw_attrs *a)
{
	const CK_ATTRIBUTE *p = hw_attrs_get(a, CKA_EC_PARAMS), *mod = hw_attrs_get(a, CKA_MODULUS);
	const hw_curve *c;
	if (mod != NULL) {
		const unsigned char *b = mod->pValue;
		size_t n = mod->ulValueLen, i = 0;
		while (i < n && b[i] == 0)
			i++;
		if (i == n)
			return 0;
		CK_ULONG bits = (n - i) * 8;
		for (unsigned char top = b[i]; !(top & 0x80); top <<= 1)
			bits--;
		return bits;
	}
	if (p != NULL && hw_curve_from_params(p->pValue, p->ulValueLen, &c) == CKR_OK)
		return c->field_bits;
	return 0;
}

static size_t out_len_for(const hw_attrs *a, CK_MECHANISM_TYPE base)
{
	const CK_ATTRIBUTE *p = hw_attrs_get(a, CKA_EC_PARAMS);
	const hw_curve *c;
	if (base == CKM_ECDSA || base == CKM_EDDSA) {
		if (p == NULL || hw_curve_from_params(p->pValue, p->ulValueLen, &c) != CKR_OK)
			return 0;
		return 2 * c->nlen;
	}
	return (key_bits(a) + 7) / 8;
}

bool hw_key_mech_allowed(const hw_attrs *a, CK_MECHANISM_TYPE t)
{
	const CK_ATTRIBUTE *am = hw_attrs_get(a, CKA_ALLOWED_MECHANISMS);
	if (am == NULL || am->ulValueLen == 0)
		return true;
	const CK_MECHANISM_TYPE *v = am->pValue;
	for (size_t i = 0; i < am->ulValueLen / sizeof(*v); i++)
		if (v[i] == t)
			return true;
	return false;
}

static CK_RV set_params(hw_op *op, const CK_MECHANISM *mech, const hw_attrs *key)
{
	const hw_mech *m = op->mech;
	if (m->check_param == NULL)
		return (mech->pParameter != NULL || mech->ulParameterLen != 0) ? CKR_MECHANISM_PARAM_INVALID : CKR_OK;
	CK_RV rv = m->check_param(m, mech);
	if (rv != CKR_OK)
		return rv;
	if (m->base == CKM_RSA_PKCS_PSS) {
		if ((rv = hw_pss_params_parse(mech, m->hash, &op->pss)) != CKR_OK)
			return rv;
		return hw_pss_slen_check(&op->pss, key_bits(key));
	}
	if (m->type == CKM_RSA_PKCS_OAEP) {
		if ((rv = hw_oaep_params_parse(mech, &op->oaep)) != CKR_OK)
			return rv;
		if (op->oaep.ulSourceDataLen > 0) {
			op->label = malloc(op->oaep.ulSourceDataLen);
			if (op->label == NULL)
				return CKR_HOST_MEMORY;
			memcpy(op->label, op->oaep.pSourceData, op->oaep.ulSourceDataLen);
			op->oaep.pSourceData = op->label;
		}
	}
	return CKR_OK;
}

/* The backend begins its base operation now, so that its verdict on key,
 * mechanism and parameters comes back from the *Init call. */
static CK_RV backend_begin(hw_slot *s, hw_op *op, CK_FLAGS kind)
{
	CK_MECHANISM base = { op->mech->base, NULL, 0 };
	if (base.mechanism == CKM_RSA_PKCS_PSS) {
		base.pParameter = &op->pss;
		base.ulParameterLen = sizeof(op->pss);
	} else if (base.mechanism == CKM_RSA_PKCS_OAEP) {
		base.pParameter = &op->oaep;
		base.ulParameterLen = sizeof(op->oaep);
	}
	return s->ops->op_begin(s->ctx, op->key, kind, &base, &op->bop);
}

/* hwagg has no dual-function operations and does not claim
 * CKF_DUAL_CRYPTO_OPERATIONS, so a session runs one crypto operation at a
 * time: any active one blocks a new *Init, of the same kind or another
 * (B 5.1.6 CKR_OPERATION_ACTIVE: "an active signature operation would
 * prevent Cryptoki from activating an encryption operation"). A search
 * blocks nothing. Session lock held. */
static bool session_busy(const hw_session *se)
{
	for (size_t k = 0; k < HW_OP_COUNT; k++)
		if (se->ops[k].active)
			return true;
	return false;
}

/* What a key's attributes must say for an operation with mechanism m. */
static CK_RV key_checks(const hw_slot *s, hw_op_kind kind, const hw_mech *m, const hw_attrs *ka)
{
	CK_ULONG cls = hw_attrs_get_ulong(ka, CKA_CLASS, CKO_DATA);
	CK_ULONG kt = hw_attrs_get_ulong(ka, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	bool pub_op = kind == HW_OP_VERIFY || kind == HW_OP_ENCRYPT;
	if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
		return CKR_KEY_HANDLE_INVALID;
	if (kt != m->key_type)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (cls != kinds[kind].cls && !(pub_op && cls == CKO_PRIVATE_KEY))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (cls == kinds[kind].cls && !hw_attrs_get_bool(ka, kinds[kind].usage, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!hw_key_mech_allowed(ka, m->type))
		return CKR_MECHANISM_INVALID;
	CK_ULONG bits = key_bits(ka);
	if (m->min_key && (bits < m->min_key || bits > m->max_key))
		return CKR_KEY_SIZE_RANGE;
	CK_RV rv = hw_mech_key_size_check(s->conf, m, bits);
	/* a development key in production (module/policy.h) */
	return rv == CKR_OK && !pub_op ? hw_policy_key_usable(s, ka) : rv;
}

static CK_RV op_init(CK_SESSION_HANDLE h, hw_op_kind kind, CK_MECHANISM *mech, CK_OBJECT_HANDLE kh)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	hw_lock(&se->lock);
	hw_op *op = &se->ops[kind];
	if (mech == NULL) {
		/* 3.0: a NULL mechanism cancels the active operation */
		hw_op_end(op);
		goto out;
	}
	if (session_busy(se)) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	const hw_mech *m = hw_mech_find(mech->mechanism);
	if (m == NULL || !(m->flags & kinds[kind].need) || hw_mech_policy_check(s->conf, m) != CKR_OK) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	/* on a policy token the key's owner does the work, under its own
	 * mechanism policy and deadline (module/policy.h) */
	if (s->policy != NULL && kind != HW_OP_DIGEST &&
	    ((rv = hw_policy_key_slot(s, kh, &s)) != CKR_OK || (rv = hw_mech_policy_check(s->conf, m)) != CKR_OK))
		goto out;
	/* AES and HMAC: the backend streams them (module/fn_cipher.c) */
	if (hw_mech_secret_op(m)) {
		rv = hw_sk_init(se, s, op, kind, m, mech, kh);
		goto out;
	}
	/* the private-key operations must be done by the backend */
	if ((kind == HW_OP_SIGN || kind == HW_OP_DECRYPT) &&
	    (s->ops->has_mechanism == NULL || !s->ops->has_mechanism(s->ctx, m->base, NULL) ||
	     (kind == HW_OP_SIGN ? s->ops->sign == NULL : s->ops->decrypt == NULL))) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	memset(op, 0, sizeof(*op));
	op->mech = m;
	if (kind != HW_OP_DIGEST) {
		/* the operation keeps the attributes it started with */
		if ((rv = hw_session_key(se, kh, &op->key, &op->snap)) != CKR_OK)
			goto out;
		op->borrowed = true;
		const hw_attrs *ka = hw_snap_attrs(op->snap);
		bool pub_op = kind == HW_OP_VERIFY || kind == HW_OP_ENCRYPT;
		/* the last operation's checks of these attributes for this
		 * mechanism passed: they pass again */
		bool known = se->last_key.ok_kind == (int)kind + 1 && se->last_key.ok_mech == m->type;
		if (!known)
			rv = key_checks(s, kind, m, ka);
		if (rv == CKR_OK)
			rv = set_params(op, mech, ka);
		if (rv == CKR_OK && pub_op) {
			const CK_ATTRIBUTE *spki = hw_attrs_get(ka, CKA_PUBLIC_KEY_INFO);
			rv = spki ? hw_key_from_spki(spki->pValue, spki->ulValueLen, &op->pkey)
				  : CKR_KEY_HANDLE_INVALID;
		}
		if (rv == CKR_OK && !known) {
			se->last_key.ok_kind = (int)kind + 1;
			se->last_key.ok_mech = m->type;
			se->last_key.out_len = out_len_for(ka, m->base);
		}
		op->out_len = se->last_key.out_len;
		if (rv != CKR_OK)
			goto out;
		if ((kind == HW_OP_SIGN || kind == HW_OP_DECRYPT) && s->ops->op_begin != NULL &&
		    (rv = backend_begin(s, op, kinds[kind].need)) != CKR_OK)
			goto out;
	} else if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
		rv = CKR_MECHANISM_PARAM_INVALID;
		goto out;
	}
	if (m->hash != HW_NO_HASH && (rv = hw_digest_new(m->hash, &op->dg)) != CKR_OK)
		goto out;
	op->active = true;
out:
	if (rv != CKR_OK && mech != NULL && rv != CKR_OPERATION_ACTIVE)
		hw_op_end(op);
	hw_unlock(&se->lock);
	hw_session_put(se);
	return rv;
}

/* Feed input: digest it, or collect it for a single-part mechanism. */
static CK_RV op_feed(hw_op *op, const unsigned char *data, CK_ULONG len)
{
	if (op->sk != NULL)
		return hw_sk_feed(op, data, len);
	if (op->dg != NULL)
		return hw_digest_update(op->dg, data, len);
	if (op->len + len > op->cap) {
		size_t cap = op->len + len + 64;
		unsigned char *b = malloc(cap);
		if (b == NULL)
			return CKR_HOST_MEMORY;
		if (op->buf != NULL) {
			memcpy(b, op->buf, op->len);
			hw_wipe(op->buf, op->cap);
			free(op->buf);
		}
		op->buf = b;
		op->cap = cap;
	}
	if (len > 0)
		memcpy(op->buf + op->len, data, len);
	op->len += len;
	return CKR_OK;
}

/* The base request from what was fed: digest (+ DigestInfo) or raw input. */
static CK_RV op_request(hw_op *op, unsigned char *scratch, size_t scratch_len, hw_sign_req *r)
{
	memset(r, 0, sizeof(*r));
	r->base = op->mech->base;
	r->hash = op->mech->hash;
	r->pss = op->pss;
	r->bop = op->bop;
	if (op->dg == NULL) {
		r->data = op->buf;
		r->len = op->len;
		if (r->base == CKM_RSA_PKCS_PSS)
			r->hash = op->pss.hashAlg;
		return CKR_OK;
	}
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	CK_RV rv = hw_digest_final(op->dg, md, &mdlen);
	if (rv != CKR_OK)
		return rv;
	if (r->base == CKM_RSA_PKCS) {
		size_t n = scratch_len;
		rv = hw_digestinfo_encode(r->hash, md, mdlen, scratch, &n);
		r->len = n;
	} else {
		memcpy(scratch, md, mdlen);
		r->len = mdlen;
	}
	r->data = scratch;
	return rv;
}

typedef CK_RV (*op_finish_fn)(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			      unsigned char *out, CK_ULONG *out_len);

/* The shape of every one-shot and final call: session, active operation,
 * the terminating rules (B 5.2 and 5.11.2: a length query or a too-small
 * buffer leaves the operation active; everything else ends it). */
static CK_RV op_run(CK_SESSION_HANDLE h, hw_op_kind kind, bool single, const unsigned char *in,
		    CK_ULONG in_len, unsigned char *out, CK_ULONG *out_len, op_finish_fn fin)
{
	hw_session *se;
	hw_audit_ev ev = { .kind = kind == HW_OP_SIGN ? HW_AUDIT_SIGN : HW_AUDIT_DECRYPT };
	hw_snap *audit = NULL;        /* the key of a signature or decryption made */
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_lock(&se->lock);
	hw_op *op = &se->ops[kind];
	if (!op->active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (out_len == NULL || (in == NULL && in_len > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		hw_op_end(op);
		goto out;
	}
	if (single && op->updated) {
		/* C_Sign cannot finish a multi-part operation */
		rv = CKR_OPERATION_NOT_INITIALIZED;
		hw_op_end(op);
		goto out;
	}
	/* the slot of the operation's key (a policy token's member), else the session's */
	rv = fin(op->key != NULL ? hw_obj_worker(op->key) : &hw_g.slots[se->slot], op, in, in_len, out, out_len);
	if ((kind == HW_OP_SIGN || kind == HW_OP_DECRYPT) && out != NULL && rv != CKR_BUFFER_TOO_SMALL &&
	    hw_audit_on()) {
		audit = hw_obj_snap(op->key);
		ev.handle = op->key->handle;
		ev.mech = op->mech->name;
		ev.slot = hw_obj_worker(op->key);     /* a policy token's member: where the key is */
	}
	if (!((rv == CKR_OK && out == NULL && kind != HW_OP_VERIFY) || rv == CKR_BUFFER_TOO_SMALL))
		hw_op_end(op);
out:
	hw_unlock(&se->lock);
	if (audit != NULL) {
		/* recorded with no lock held: a checkpoint may sign through the engine */
		ev.key = hw_snap_attrs(audit);
		ev.rv = rv;
		hw_audit_event(&ev);
		hw_snap_put(audit);
	}
	hw_session_put(se);
	return rv;
}

/* Sign, verify and digest parts go in; encrypt and decrypt parts (out,
 * out_len) also come out, by the B 5.2 convention (module/fn_cipher.c). */
static CK_RV op_update(CK_SESSION_HANDLE h, hw_op_kind kind, const unsigned char *in, CK_ULONG len,
		       unsigned char *out, CK_ULONG *out_len)
{
	bool crypt = kind == HW_OP_ENCRYPT || kind == HW_OP_DECRYPT;
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_lock(&se->lock);
	hw_op *op = &se->ops[kind];
	if (!op->active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (in == NULL && len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (crypt)
		rv = hw_sk_crypt_part(op, kind == HW_OP_DECRYPT, in, len, out, out_len);
	else if (!op->mech->multipart)
		rv = CKR_OPERATION_NOT_INITIALIZED;   /* single-part mechanism (M 2.3.6 fn 1) */
	else
		rv = op_feed(op, in, len);
	if (!crypt)
		op->updated = true;
	/* any update error ends it; a length query or a too-small buffer
	 * leaves an encryption active */
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_op_end(op);
	hw_unlock(&se->lock);
	hw_session_put(se);
	return rv;
}

/* ---- sign -------------------------------------------------------------------------- */
static CK_RV sign_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
		      unsigned char *out, CK_ULONG *out_len)
{
	size_t need = op->out_len;
	unsigned char scratch[128];
	hw_sign_req r;
	CK_RV rv;
	if (op->sk != NULL)
		return hw_sk_sign_fin(s, op, in, in_len, out, out_len);
	if (need == 0)
		return CKR_GENERAL_ERROR;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (in != NULL || in_len > 0) {
		if ((rv = op_feed(op, in, in_len)) != CKR_OK)
			return rv;
	}
	if ((rv = op_request(op, scratch, sizeof(scratch), &r)) != CKR_OK)
		return rv;
	size_t len = *out_len;
	rv = s->ops->sign(s->ctx, op->key, &r, out, &len);
	hw_wipe(scratch, sizeof(scratch));
	if (rv == CKR_OK)
		*out_len = len;
	else
		hw_warn("slot \"%s\": %s sign: %s", s->conf->name, op->mech->name, hw_rv_name(rv));
	return rv;
}

CK_RV hw_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return op_init(h, HW_OP_SIGN, mech, key);
}

CK_RV hw_C_Sign(CK_SESSION_HANDLE h, unsigned char *data, CK_ULONG len, unsigned char *sig, CK_ULONG *sig_len)
{
	return op_run(h, HW_OP_SIGN, true, data, len, sig, sig_len, sign_fin);
}

CK_RV hw_C_SignUpdate(CK_SESSION_HANDLE h, unsigned char *part, CK_ULONG len)
{
	return op_update(h, HW_OP_SIGN, part, len, NULL, NULL);
}

CK_RV hw_C_SignFinal(CK_SESSION_HANDLE h, unsigned char *sig, CK_ULONG *sig_len)
{
	return op_run(h, HW_OP_SIGN, false, NULL, 0, sig, sig_len, sign_fin);
}

/* ---- verify ------------------------------------------------------------------------ */
static CK_RV verify_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			unsigned char *sig, CK_ULONG *sig_len_p)
{
	CK_ULONG sig_len = *sig_len_p;
	unsigned char scratch[128];
	hw_sign_req r;
	CK_RV rv;
	if (sig == NULL && sig_len > 0)
		return CKR_ARGUMENTS_BAD;
	if (op->sk != NULL)
		return hw_sk_verify_fin(s, op, in, in_len, sig, sig_len);
	if ((in != NULL || in_len > 0) && (rv = op_feed(op, in, in_len)) != CKR_OK)
		return rv;
	if ((rv = op_request(op, scratch, sizeof(scratch), &r)) != CKR_OK)
		return rv;
	return hw_pkey_verify(op->pkey, &r, sig, sig_len);
}

CK_RV hw_C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return op_init(h, HW_OP_VERIFY, mech, key);
}

CK_RV hw_C_Verify(CK_SESSION_HANDLE h, unsigned char *data, CK_ULONG len, unsigned char *sig, CK_ULONG sig_len)
{
	return op_run(h, HW_OP_VERIFY, true, data, len, sig, &sig_len, verify_fin);
}

CK_RV hw_C_VerifyUpdate(CK_SESSION_HANDLE h, unsigned char *part, CK_ULONG len)
{
	return op_update(h, HW_OP_VERIFY, part, len, NULL, NULL);
}

CK_RV hw_C_VerifyFinal(CK_SESSION_HANDLE h, unsigned char *sig, CK_ULONG sig_len)
{
	return op_run(h, HW_OP_VERIFY, false, NULL, 0, sig, &sig_len, verify_fin);
}

/* ---- encrypt / decrypt (RSA, single part) --------------------------------------------- */
static CK_RV crypt_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
		       unsigned char *out, CK_ULONG *out_len, bool decrypt)
{
	size_t k, len;
	hw_crypt_req r = { .mech = op->mech->type, .oaep = op->oaep, .data = in, .len = in_len, .bop = op->bop };
	unsigned char *tmp = NULL;
	CK_RV rv;
	if (op->sk != NULL)
		return hw_sk_crypt_fin(s, op, decrypt, in, in_len, out, out_len);
	k = (key_bits(hw_snap_attrs(op->snap)) + 7) / 8;
	if (out == NULL) {
		*out_len = k;                 /* sufficient; exact after the operation */
		return CKR_OK;
	}
	if (decrypt && in_len != k)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if (*out_len >= k) {
		len = *out_len;
		rv = decrypt ? s->ops->decrypt(s->ctx, op->key, &r, out, &len)
			     : hw_pkey_encrypt(op->pkey, &r, out, &len);
	} else {
		/* the exact plaintext length is known only after decrypting */
		if ((tmp = malloc(k)) == NULL)
			return CKR_HOST_MEMORY;
		len = k;
		rv = decrypt ? s->ops->decrypt(s->ctx, op->key, &r, tmp, &len)
			     : hw_pkey_encrypt(op->pkey, &r, tmp, &len);
		if (rv == CKR_OK && len > *out_len)
			rv = CKR_BUFFER_TOO_SMALL;
		else if (rv == CKR_OK)
			memcpy(out, tmp, len);
		hw_wipe(tmp, k);
		free(tmp);
	}
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		*out_len = len;
	return rv;
}

static CK_RV decrypt_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			 unsigned char *out, CK_ULONG *out_len)
{
	return crypt_fin(s, op, in, in_len, out, out_len, true);
}

static CK_RV encrypt_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			 unsigned char *out, CK_ULONG *out_len)
{
	return crypt_fin(s, op, in, in_len, out, out_len, false);
}

/* C_EncryptFinal and C_DecryptFinal. The AES ciphers are finished by the
 * backend (module/fn_cipher.c). The RSA mechanisms are single-part
 * (M 2.1.6-2.1.8): C_EncryptUpdate fails on them and ends the operation,
 * so a multi-part operation never exists to be finished, and finishing one
 * fails the same way. op_run has already checked the arguments
 * (CKR_ARGUMENTS_BAD) and ends the operation on this answer, as B 5.9.4
 * asks of anything but a too-small buffer or a successful length query.
 * There is no last part: its length is 0. */
static CK_RV crypt_final_fin(hw_slot *s, hw_op *op, unsigned char *out, CK_ULONG *out_len, bool decrypt)
{
	if (op->sk != NULL)
		return hw_sk_crypt_fin(s, op, decrypt, NULL, 0, out, out_len);
	*out_len = 0;
	hw_info("slot \"%s\": %s is single-part: no multi-part operation to finish", s->conf->name,
		op->mech->name);
	return CKR_OPERATION_NOT_INITIALIZED;
}

static CK_RV encrypt_final_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			       unsigned char *out, CK_ULONG *out_len)
{
	return crypt_final_fin(s, op, out, out_len, false);
}

static CK_RV decrypt_final_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			       unsigned char *out, CK_ULONG *out_len)
{
	return crypt_final_fin(s, op, out, out_len, true);
}

CK_RV hw_C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return op_init(h, HW_OP_ENCRYPT, mech, key);
}

CK_RV hw_C_Encrypt(CK_SESSION_HANDLE h, unsigned char *data, CK_ULONG len, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_ENCRYPT, true, data, len, out, out_len, encrypt_fin);
}

CK_RV hw_C_EncryptUpdate(CK_SESSION_HANDLE h, unsigned char *part, CK_ULONG len, unsigned char *out,
			 CK_ULONG *out_len)
{
	return op_update(h, HW_OP_ENCRYPT, part, len, out, out_len);
}

CK_RV hw_C_EncryptFinal(CK_SESSION_HANDLE h, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_ENCRYPT, false, NULL, 0, out, out_len, encrypt_final_fin);
}

CK_RV hw_C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return op_init(h, HW_OP_DECRYPT, mech, key);
}

CK_RV hw_C_Decrypt(CK_SESSION_HANDLE h, unsigned char *in, CK_ULONG len, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_DECRYPT, true, in, len, out, out_len, decrypt_fin);
}

CK_RV hw_C_DecryptUpdate(CK_SESSION_HANDLE h, unsigned char *part, CK_ULONG len, unsigned char *out,
			 CK_ULONG *out_len)
{
	return op_update(h, HW_OP_DECRYPT, part, len, out, out_len);
}

CK_RV hw_C_DecryptFinal(CK_SESSION_HANDLE h, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_DECRYPT, false, NULL, 0, out, out_len, decrypt_final_fin);
}

/* ---- digest --------------------------------------------------------------------------- */
static CK_RV digest_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len,
			unsigned char *out, CK_ULONG *out_len)
{
	size_t need = hw_hash_len(op->mech->hash), len = 64;
	unsigned char md[64];
	CK_RV rv;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if ((in != NULL || in_len > 0) && (rv = hw_digest_update(op->dg, in, in_len)) != CKR_OK)
		return rv;
	if ((rv = hw_digest_final(op->dg, md, &len)) != CKR_OK)
		return rv;
	memcpy(out, md, len);
	*out_len = len;
	return CKR_OK;
}

CK_RV hw_C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech)
{
	return op_init(h, HW_OP_DIGEST, mech, CK_INVALID_HANDLE);
}

CK_RV hw_C_Digest(CK_SESSION_HANDLE h, unsigned char *data, CK_ULONG len, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_DIGEST, true, data, len, out, out_len, digest_fin);
}

CK_RV hw_C_DigestUpdate(CK_SESSION_HANDLE h, unsigned char *part, CK_ULONG len)
{
	return op_update(h, HW_OP_DIGEST, part, len, NULL, NULL);
}

CK_RV hw_C_DigestFinal(CK_SESSION_HANDLE h, unsigned char *out, CK_ULONG *out_len)
{
	return op_run(h, HW_OP_DIGEST, false, NULL, 0, out, out_len, digest_fin);
}

/* C_DigestKey (B 5.12.4): the secret key's value goes into the digest in
 * the token, never through the application. Any error ends the digest. */
CK_RV hw_C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	hw_session *se;
	hw_obj *k = NULL;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	hw_lock(&se->lock);
	hw_op *op = &se->ops[HW_OP_DIGEST];
	if (!op->active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if ((rv = hw_obj_get(se, key, CKR_KEY_HANDLE_INVALID, &k)) == CKR_OK) {
		hw_snap *snap = hw_obj_snap(k);
		bool secret = hw_attrs_get_ulong(hw_snap_attrs(snap), CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY;
		hw_snap_put(snap);
		if (!secret || s->ops->digest_key == NULL)
			rv = CKR_KEY_INDIGESTIBLE;
		else
			rv = s->ops->digest_key(s->ctx, k, op->dg);
	}
	op->updated = true;
	if (rv != CKR_OK) {
		hw_info("slot \"%s\": digest of a key: %s", s->conf->name, hw_rv_name(rv));
		hw_op_end(op);
	}
out:
	hw_unlock(&se->lock);
	hw_obj_put(k);
	hw_session_put(se);
	return rv;
}
