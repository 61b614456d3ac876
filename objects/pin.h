/*
 * PINs and key sealing for store-backed slots.
 *
 * Each token has a random 32-byte master key (MK), created by C_InitToken.
 * MK is wrapped twice: under a key derived from the SO PIN and under one
 * derived from the user PIN (scrypt, per-wrap random salt, cost stored in
 * the wrap), with AES-256-GCM; a wrong PIN shows as a failed tag. So the SO
 * can reset the user PIN without losing keys, and C_SetPIN rewraps 32 bytes.
 * Each private key is sealed under HKDF-SHA256(MK, per-key salt) with
 * AES-256-GCM, a per-key random nonce and the object's identity as AAD.
 */
#ifndef HW_PIN_H
#define HW_PIN_H

#include "common/ck.h"
#include "common/secret.h"
#include "objects/store.h"

#define HW_MK_LEN 32

/* Wrap MK under a PIN; out holds at most 256 bytes. */
CK_RV hw_pin_wrap(const hw_secret *mk, const CK_UTF8CHAR *pin, size_t pin_len,
		  unsigned char *out, size_t *out_len);
/* Unwrap: wrong PIN -> CKR_PIN_INCORRECT; malformed wrap -> CKR_DEVICE_ERROR. */
CK_RV hw_pin_unwrap(const unsigned char *wrap, size_t wrap_len,
		    const CK_UTF8CHAR *pin, size_t pin_len, hw_secret **mk);

/* Seal a private key (DER) under MK; aad binds it to its slot and object.
 * *out is malloc'd (not secret): release it with free(). */
CK_RV hw_seal(const hw_secret *mk, const void *aad, size_t aad_len,
	      const void *plain, size_t plain_len, unsigned char **out, size_t *out_len);
/* Open a sealed key into secret memory; tampered -> CKR_DEVICE_ERROR. */
CK_RV hw_unseal(const hw_secret *mk, const void *aad, size_t aad_len,
		const void *sealed, size_t sealed_len, hw_secret **plain);

/* ---- token PIN state machine over the store ----------------------------------- */
typedef struct hw_pin_policy {
	unsigned max_tries;      /* wrong PINs before lock, default 10 */
	size_t min_len, max_len; /* default 4..64 bytes */
} hw_pin_policy;              /* NULL = defaults; max_tries or max_len 0 = default */

/* CKF_* token flags for the record: TOKEN_INITIALIZED, USER_PIN_INITIALIZED,
 * USER/SO_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED. */
CK_FLAGS hw_pin_flags(const hw_token_rec *rec, const hw_pin_policy *pol);

/* C_InitToken: first time sets the SO PIN; later requires it (counts failures,
 * CKR_PIN_INCORRECT / CKR_PIN_LOCKED). Destroys all objects, new MK, no user
 * PIN. New PIN length -> CKR_PIN_LEN_RANGE. label: 32 blank-padded bytes. */
CK_RV hw_pin_init_token(hw_store *s, const char *slot, const hw_pin_policy *pol,
			const CK_UTF8CHAR *so_pin, size_t so_len, const CK_UTF8CHAR *label32);
/* C_Login: on success *mk holds the master key (caller frees). Errors:
 * CKR_USER_PIN_NOT_INITIALIZED, CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
 * CKR_TOKEN_NOT_RECOGNIZED (token not initialized). */
CK_RV hw_pin_login(hw_store *s, const char *slot, const hw_pin_policy *pol, CK_USER_TYPE who,
		   const CK_UTF8CHAR *pin, size_t pin_len, hw_secret **mk);
/* C_InitPIN by a logged-in SO holding mk. */
CK_RV hw_pin_init_user(hw_store *s, const char *slot, const hw_pin_policy *pol,
		       const hw_secret *mk, const CK_UTF8CHAR *pin, size_t pin_len);
/* C_SetPIN for who (CKU_USER or CKU_SO): checks old (counts failures), rewraps. */
CK_RV hw_pin_set(hw_store *s, const char *slot, const hw_pin_policy *pol, CK_USER_TYPE who,
		 const CK_UTF8CHAR *old_pin, size_t old_len,
		 const CK_UTF8CHAR *new_pin, size_t new_len);

#endif
