/*
 * Secret-key operations (B 5.9-5.12 | 5.10-5.15 with M "AES" and "HMAC"):
 * AES ECB, CBC, CBC_PAD, CTR and GCM, and the SHA HMACs, on keys of class
 * CKO_SECRET_KEY. The backend streams the mechanism itself (backend.h:
 * sk_*); the engine checks the key, reads the parameter, and applies the
 * spec's length rules and the B 5.2 output convention the same way for
 * every slot: the room a call needs comes from hw_sk_room before the
 * backend is asked, so a length query or a too-small buffer consumes
 * nothing and leaves the operation active.
 */
#include "module/cipher_op.h"
#include "module/fns.h"
#include "module/global.h"
#include "common/log.h"
#include "module/mechpolicy.h"
#include "module/policy.h"

#include <string.h>

static const struct {
	CK_FLAGS flag;
	CK_ATTRIBUTE_TYPE usage;
	const char *what;
} sk_kinds[HW_OP_COUNT] = {
	[HW_OP_SIGN] = { CKF_SIGN, CKA_SIGN, "sign" },
	[HW_OP_VERIFY] = { CKF_VERIFY, CKA_VERIFY, "verify" },
	[HW_OP_ENCRYPT] = { CKF_ENCRYPT, CKA_ENCRYPT, "encrypt" },
	[HW_OP_DECRYPT] = { CKF_DECRYPT, CKA_DECRYPT, "decrypt" },
};

/* What a secret key's attributes must say for mechanism m. */
static CK_RV sk_key_checks(const hw_slot *s, hw_op_kind kind, const hw_mech *m, const hw_attrs *ka)
{
	CK_ULONG cls = hw_attrs_get_ulong(ka, CKA_CLASS, CKO_DATA);
	CK_ULONG kt = hw_attrs_get_ulong(ka, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	CK_ULONG len = hw_attrs_get_ulong(ka, CKA_VALUE_LEN, 0);
	if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
		return CKR_KEY_HANDLE_INVALID;
	if (cls != CKO_SECRET_KEY || !hw_sk_key_type_ok(m, kt))
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!hw_attrs_get_bool(ka, sk_kinds[kind].usage, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!hw_key_mech_allowed(ka, m->type))
		return CKR_MECHANISM_INVALID;
	if (m->key_type == CKK_AES && len != 16 && len != 24 && len != 32)
		return CKR_KEY_SIZE_RANGE;
	CK_RV rv = hw_mech_key_size_check(s->conf, m, len);
	/* a development key in production (module/policy.h) */
	return rv == CKR_OK ? hw_policy_key_usable(s, ka) : rv;
}

CK_RV hw_sk_init(hw_session *se, hw_slot *s, hw_op *op, hw_op_kind kind, const hw_mech *m,
		 const CK_MECHANISM *mech, CK_OBJECT_HANDLE kh)
{
	CK_RV rv;
	if (kind == HW_OP_DIGEST || s->ops->sk_begin == NULL || s->ops->has_mechanism == NULL ||
	    !s->ops->has_mechanism(s->ctx, m->base, NULL))
		return CKR_MECHANISM_INVALID;
	memset(op, 0, sizeof(*op));
	op->mech = m;
	/* the operation keeps the attributes it started with */
	if ((rv = hw_session_key(se, kh, &op->key, &op->snap)) != CKR_OK)
		return rv;
	op->borrowed = true;
	/* the session's last operation with this key (same snapshot) passed
	 * the same checks for this mechanism: they pass again */
	bool known = se->last_key.ok_kind == (int)kind + 1 && se->last_key.ok_mech == m->type;
	if ((!known && (rv = sk_key_checks(s, kind, m, hw_snap_attrs(op->snap))) != CKR_OK) ||
	    (rv = hw_sk_params_parse(m, mech, &op->skp)) != CKR_OK) {
		hw_info("slot \"%s\": %s %s refused: %s", s->conf->name, m->name, sk_kinds[kind].what,
			hw_rv_name(rv));
		return rv;
	}
	se->last_key.ok_kind = (int)kind + 1;
	se->last_key.ok_mech = m->type;
	/* the caller's IV and AAD pointers are valid during this call only */
	memset(&op->skp.gcm, 0, sizeof(op->skp.gcm));
	rv = s->ops->sk_begin(s->ctx, op->key, sk_kinds[kind].flag, mech, &op->sk);
	if (rv != CKR_OK) {
		op->sk = NULL;
		hw_warn("slot \"%s\": %s %s: %s", s->conf->name, m->name, sk_kinds[kind].what, hw_rv_name(rv));
		return rv;
	}
	op->active = true;
	return CKR_OK;
}

static CK_RV sk_said(const hw_slot *s, const hw_op *op, const char *what, CK_RV rv)
{
	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		hw_log(rv == CKR_SIGNATURE_INVALID || rv == CKR_DATA_LEN_RANGE || rv == CKR_ENCRYPTED_DATA_LEN_RANGE
		       ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": %s %s: %s", s->conf->name, op->mech->name, what,
		       hw_rv_name(rv));
	return rv;
}

CK_RV hw_sk_feed(hw_op *op, const unsigned char *in, size_t len)
{
	hw_slot *s = hw_obj_worker(op->key);
	CK_RV rv = s->ops->sk_update(s->ctx, op->sk, in, len, NULL, NULL);
	if (rv == CKR_OK)
		op->fed += len;
	return sk_said(s, op, "update", rv);
}

CK_RV hw_sk_sign_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len, unsigned char *out,
		     CK_ULONG *out_len)
{
	size_t need = op->skp.mac_len, got;
	CK_RV rv;
	if (out == NULL) {
		*out_len = need;
		return CKR_OK;
	}
	if (*out_len < need) {
		*out_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	got = *out_len;
	rv = s->ops->sk_final(s->ctx, op->sk, !op->updated, in, in_len, NULL, 0, out, &got);
	if (rv == CKR_OK)
		*out_len = got;
	return sk_said(s, op, "sign", rv);
}

CK_RV hw_sk_verify_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len, const unsigned char *sig,
		       CK_ULONG sig_len)
{
	/* M "General-length HMAC": the signature is the output length */
	if (sig_len != op->skp.mac_len)
		return sk_said(s, op, "verify", CKR_SIGNATURE_LEN_RANGE);
	return sk_said(s, op, "verify",
		       s->ops->sk_final(s->ctx, op->sk, !op->updated, in, in_len, sig, sig_len, NULL, NULL));
}

CK_RV hw_sk_crypt_fin(hw_slot *s, hw_op *op, bool decrypt, const unsigned char *in, CK_ULONG in_len,
		      unsigned char *out, CK_ULONG *out_len)
{
	const char *what = decrypt ? "decrypt" : "encrypt";
	size_t room, got;
	CK_RV rv = hw_sk_room(&op->skp, decrypt, op->fed, op->emitted, in_len, true, &room);
	if (rv != CKR_OK)
		return sk_said(s, op, what, rv);
	if (out == NULL) {
		*out_len = room;
		return CKR_OK;
	}
	if (*out_len < room) {
		*out_len = room;
		return CKR_BUFFER_TOO_SMALL;
	}
	got = *out_len;
	rv = s->ops->sk_final(s->ctx, op->sk, !op->updated, in, in_len, NULL, 0, out, &got);
	/* a token that wants more room than the rules say says how much */
	if (rv == CKR_OK || (rv == CKR_BUFFER_TOO_SMALL && got > *out_len))
		*out_len = got;
	return sk_said(s, op, what, rv);
}

CK_RV hw_sk_crypt_part(hw_op *op, bool decrypt, const unsigned char *in, CK_ULONG len, unsigned char *out,
		       CK_ULONG *out_len)
{
	size_t room = 0, got;
	CK_RV rv;
	if (out_len == NULL)
		return CKR_ARGUMENTS_BAD;
	if (op->sk == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;   /* RSA is single-part (M 2.1.6-2.1.8) */
	hw_slot *s = hw_obj_worker(op->key);
	if ((rv = hw_sk_room(&op->skp, decrypt, op->fed, op->emitted, len, false, &room)) != CKR_OK)
		return sk_said(s, op, "update", rv);
	if (out == NULL) {
		*out_len = room;               /* B 5.2: a query; nothing consumed */
		return CKR_OK;
	}
	if (*out_len < room) {
		*out_len = room;
		return CKR_BUFFER_TOO_SMALL;
	}
	got = *out_len;
	if ((rv = s->ops->sk_update(s->ctx, op->sk, in, len, out, &got)) != CKR_OK) {
		if (rv == CKR_BUFFER_TOO_SMALL && got > *out_len)
			*out_len = got;
		return sk_said(s, op, "update", rv);
	}
	*out_len = got;
	op->fed += len;
	op->emitted += got;
	op->updated = true;
	return CKR_OK;
}
