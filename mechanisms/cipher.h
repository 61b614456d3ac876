/*
 * Secret-key operations: AES ciphers (ECB, CBC, CBC_PAD, CTR, GCM) and
 * HMAC. The engine uses the parameter parser and the output-room rules
 * (the spec's length rules, the same for every slot); backends that do the
 * work in software (soft) use the streaming implementation over OpenSSL in
 * hwagg's library context.
 */
#ifndef HW_CIPHER_H
#define HW_CIPHER_H

#include "common/ck.h"
#include "mechanisms/mech.h"

#define HW_AES_BLOCK 16

typedef struct hw_sk_params {
	CK_MECHANISM_TYPE mech;
	CK_MECHANISM_TYPE hash;       /* HMAC: the digest; else HW_NO_HASH */
	unsigned char iv[HW_AES_BLOCK];   /* CBC IV, CTR counter block */
	CK_ULONG ctr_bits;
	CK_GCM_PARAMS gcm;            /* 3.0 layout; the caller's pointers, valid during *Init only */
	size_t tag_len;               /* GCM tag bytes */
	size_t mac_len;               /* HMAC output bytes */
} hw_sk_params;

/* A secret-key mechanism (AES cipher or HMAC, not key generation or
 * wrapping): the engine runs it through the backend's sk_* hooks. */
bool hw_mech_secret_op(const hw_mech *m);
/* The key types a mechanism accepts (HMAC: generic secret or its own). */
bool hw_sk_key_type_ok(const hw_mech *m, CK_KEY_TYPE kt);

/* Validate and read a mechanism's parameter (CKR_MECHANISM_PARAM_INVALID).
 * p may be NULL (check only). GCM parameters come in the 3.0 layout or the
 * 2.40 one (without ulIvBits) and are returned in the 3.0 layout. */
CK_RV hw_sk_params_parse(const hw_mech *m, const CK_MECHANISM *mech, hw_sk_params *p);

/* The output room a cipher call needs (B 5.2: sufficient, never less than
 * the exact length): fed bytes went in and emitted came out before, in_len
 * go in now; last: the final or single-part call. A total the mode cannot
 * take on the last call is CKR_DATA_LEN_RANGE (encrypt) or
 * CKR_ENCRYPTED_DATA_LEN_RANGE (decrypt). */
CK_RV hw_sk_room(const hw_sk_params *p, bool decrypt, size_t fed, size_t emitted, size_t in_len, bool last,
		 size_t *room);

/* ---- the software implementation ---------------------------------------------- */
typedef struct hw_sk hw_sk;
/* kind: CKF_ENCRYPT, CKF_DECRYPT, CKF_SIGN or CKF_VERIFY. */
CK_RV hw_sk_new(const CK_MECHANISM *mech, CK_FLAGS kind, const unsigned char *key, size_t key_len, hw_sk **out);
/* Start another operation on c, which ran (or began) one with the same key:
 * the cipher or MAC and its key schedule are kept, only the mechanism's
 * parameter is read anew (the cost of a message is then OpenSSL's alone).
 * CKR_MECHANISM_INVALID when c's schedule does not serve mech and kind
 * (another mode or digest; ECB and CBC in the other direction): then make a
 * new context. On any failure c is to be freed. */
CK_RV hw_sk_restart(hw_sk *c, const CK_MECHANISM *mech, CK_FLAGS kind);
/* out NULL for MACs; *out_len the room in (the engine sized it), written out. */
CK_RV hw_sk_update(hw_sk *c, const unsigned char *in, size_t len, unsigned char *out, size_t *out_len);
/* Cipher: last output and tag. Sign: the MAC. Verify: compares sig
 * (CKR_SIGNATURE_LEN_RANGE, CKR_SIGNATURE_INVALID); out may be NULL. */
CK_RV hw_sk_final(hw_sk *c, const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
/* The last part (len bytes of in, may be 0) and the end: hw_sk_update then
 * hw_sk_final, out_len (NULL for MACs) the total; a GCM ciphertext given
 * whole here (nothing before: a single-part decryption) is decrypted
 * without a copy. */
CK_RV hw_sk_last(hw_sk *c, const unsigned char *in, size_t len, const unsigned char *sig, size_t sig_len,
		 unsigned char *out, size_t *out_len);
void hw_sk_free(hw_sk *c);

/* CKA_CHECK_VALUE of an AES key: the first 3 bytes of the encryption of a
 * zero block (M "AES" 2.8.2 | 2.10.2). */
CK_RV hw_aes_check_value(const unsigned char *key, size_t len, unsigned char out[3]);

/* RFC 3394 (pad false) or RFC 5649 key wrap with the default initial value,
 * in software. out: room for len + 8 (wrap; pad: len rounded up to 8, + 8)
 * or len (unwrap; *out_len written). A wrapped key whose check fails is
 * CKR_WRAPPED_KEY_INVALID. */
CK_RV hw_aes_wrap(bool pad, bool unwrap, const unsigned char *kek, size_t kek_len, const unsigned char *in,
		  size_t len, unsigned char *out, size_t *out_len);

#endif
