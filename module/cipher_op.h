/*
 * Secret-key operations in the engine (module/fn_cipher.c): AES ciphers and
 * HMAC through the backend's sk_* hooks, with the spec's length rules. The
 * entry points of fn_crypto.c hand an operation over when its mechanism is
 * one of these.
 */
#ifndef HW_CIPHER_OP_H
#define HW_CIPHER_OP_H

#include "module/session.h"

/* Begin at *Init (session lock held; op is the session's, inactive). */
CK_RV hw_sk_init(hw_session *se, hw_slot *s, hw_op *op, hw_op_kind kind, const hw_mech *m,
		 const CK_MECHANISM *mech, CK_OBJECT_HANDLE kh);
/* C_SignUpdate / C_VerifyUpdate of a secret-key operation. */
CK_RV hw_sk_feed(hw_op *op, const unsigned char *in, size_t len);
/* The op_run finishers (module/fn_crypto.c) of a secret-key operation. */
CK_RV hw_sk_sign_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len, unsigned char *out,
		     CK_ULONG *out_len);
CK_RV hw_sk_verify_fin(hw_slot *s, hw_op *op, const unsigned char *in, CK_ULONG in_len, const unsigned char *sig,
		       CK_ULONG sig_len);
CK_RV hw_sk_crypt_fin(hw_slot *s, hw_op *op, bool decrypt, const unsigned char *in, CK_ULONG in_len,
		      unsigned char *out, CK_ULONG *out_len);
/* A part of C_EncryptUpdate / C_DecryptUpdate (session lock held): the
 * caller ends the operation on anything but CKR_OK and
 * CKR_BUFFER_TOO_SMALL. */
CK_RV hw_sk_crypt_part(hw_op *op, bool decrypt, const unsigned char *in, CK_ULONG len, unsigned char *out,
		       CK_ULONG *out_len);

/* CKA_ALLOWED_MECHANISMS of a key lets it be used with t (empty: any). */
bool hw_key_mech_allowed(const hw_attrs *a, CK_MECHANISM_TYPE t);

#endif
