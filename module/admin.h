/*
 * The operator's API (tools/hwagg): status, a slot's keys, generating a key
 * on a named slot. Built on the module's own PKCS#11 functions, so the CLI
 * sees exactly what every consumer sees, plus the engine's read-only
 * description (hw_slot_describe) for what PKCS#11 cannot say: the config
 * file, the environment, a slot's backend type and health, and object
 * counts without a login. Nothing here exposes the module's internals.
 */
#ifndef HW_ADMIN_H
#define HW_ADMIN_H

#include "common/ck.h"

/* C_Initialize / C_Finalize of the module in this process. A configuration
 * error is logged by the module (file, key, expectation) and returned. */
CK_RV hw_admin_open(void);
void hw_admin_close(void);

typedef struct hw_admin_module {
	char config[4096];            /* the file loaded; "" for the built-in default */
	char environment[16];
	char store[4096];
	CK_VERSION version;           /* library version (C_GetInfo) */
	unsigned rotation_days;       /* "rotation"."interval_days" in effect; 0: never */
} hw_admin_module;

CK_RV hw_admin_module_info(hw_admin_module *out);

typedef struct hw_admin_slot {
	CK_SLOT_ID id;
	char name[33];                /* config name = token label */
	char type[24];                /* backend type */
	bool available;               /* its backend opened (a backend module loaded) */
	char security[16];            /* where its keys live: hardware, software, external */
	bool present;                 /* token present (C_GetSlotInfo) */
	CK_FLAGS token_flags;         /* C_GetTokenInfo, when present */
	char model[17], serial[17];   /* blank padding stripped */
	bool has_health;              /* the backend has a health check */
	CK_RV health_rv;              /* CKR_OK: usable */
	char health[256];
	bool counted;                 /* the counts are valid (token present) */
	unsigned private_keys, public_keys, certificates, other;
} hw_admin_slot;

/* Every slot in slot ID order (config order); free *out with free(). */
CK_RV hw_admin_slots(hw_admin_slot **out, size_t *n);

/* A read-write session logged in as the user; the PIN is not kept. The
 * token's answer comes back as it is (CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
 * CKR_USER_PIN_NOT_INITIALIZED, CKR_TOKEN_NOT_PRESENT ...). */
CK_RV hw_admin_login(CK_SLOT_ID id, const unsigned char *pin, size_t pin_len, CK_SESSION_HANDLE *out);
/* Log out and close the session. */
void hw_admin_logout(CK_SESSION_HANDLE s);

typedef struct hw_admin_key {
	CK_OBJECT_CLASS cls;          /* CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE */
	char algorithm[24];           /* "ec-p256", "rsa-3072", "ed25519"; "x509" for a
	                               * certificate; "" when unknown */
	char backend[24];             /* CKA_HWAGG_BACKEND, "" when absent */
	char security[16];            /* CKA_HWAGG_SECURITY_LEVEL, "" when absent */
	char created[32];             /* CKA_HWAGG_CREATED, "" when the backend keeps none */
	char *label;                  /* CKA_LABEL, NUL-terminated */
	unsigned char *id;            /* CKA_ID */
	size_t id_len;
	char *uri;                    /* RFC 7512: pkcs11:token=..;object=..;id=..;type=.. */
} hw_admin_key;

/* The token's keys: its private keys, and the public keys and certificates
 * whose CKA_ID no private key has, in the token's order. Free with
 * hw_admin_keys_free. */
CK_RV hw_admin_keys(CK_SESSION_HANDLE s, hw_admin_key **out, size_t *n);
void hw_admin_keys_free(hw_admin_key *keys, size_t n);

/* The i-th key type hw_admin_keygen knows ("ec-p256", ...); NULL past the last. */
const char *hw_admin_key_type(size_t i);
/* Whether a private key with this CKA_ID is on the token. */
CK_RV hw_admin_key_exists(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, bool *exists);
/* Generate a persistent, sensitive, non-extractable signing key pair (RSA
 * keys also decrypt) of a known type; id NULL: the module derives one from
 * the public key. *out describes the new private key (free with
 * hw_admin_keys_free(out, 1)). Unknown type: CKR_MECHANISM_INVALID. */
CK_RV hw_admin_keygen(CK_SESSION_HANDLE s, const char *type, const char *label,
		      const unsigned char *id, size_t id_len, hw_admin_key **out);

/* Rotate the one private key on the session's token with this label (and
 * CKA_ID, when id is given): a new key pair of the same algorithm and label
 * on the same token, so the label signs with the new key; the old public
 * key keeps its place with CKA_END_DATE set to today (UTC), so old
 * signatures still verify; the old private key is destroyed. Recorded in
 * the audit log with both keys. No such key: CKR_KEY_HANDLE_INVALID;
 * several: CKR_TEMPLATE_INCONSISTENT (give the id). *old_out and *new_out
 * describe the two private keys (free each with hw_admin_keys_free(k, 1)). */
CK_RV hw_admin_rotate(CK_SESSION_HANDLE s, const char *label, const unsigned char *id, size_t id_len,
		      hw_admin_key **old_out, hw_admin_key **new_out);
/* hw_admin_key.created as seconds since the epoch; -1 when there is none. */
long long hw_admin_created_time(const char *created);
/* Key pairs of the slot due for rotation, without a login: generated
 * public keys (CKA_LOCAL) without an end date, created more than days ago.
 * *undated: such keys whose token keeps no creation time. */
CK_RV hw_admin_due(CK_SLOT_ID id, unsigned days, unsigned *due, unsigned *undated);

#endif
