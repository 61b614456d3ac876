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

/* `hwagg config check`: every problem of the configuration (file NULL: the
 * search order without the reserved string), one line each through
 * report; returns their number. On none, *out (when not NULL) describes
 * what was checked. Needs no hw_admin_open (nothing is initialized, no
 * log file is opened). */
typedef struct hw_admin_config {
	char config[4096];            /* the file; "" for the built-in default */
	char origin[64];              /* what named it */
	char environment[48];           /* or "auto (detected at first use)" */
	char store[4096];
	size_t nslots;
	struct { char name[33], type[24]; } slots[64];   /* the first 64 */
} hw_admin_config;
unsigned hw_admin_config_check(const char *file, const char *origin, void (*report)(void *arg, const char *line),
			       void *arg, hw_admin_config *out);

typedef struct hw_admin_module {
	char config[4096];            /* the file loaded; "" for the built-in default */
	char environment[16];
	char store[4096];
	CK_VERSION version;           /* library version (C_GetInfo) */
	unsigned rotation_days;       /* "rotation"."interval_days" in effect; 0: never */
	bool rotation_disable;        /* "rotation"."retire": "disable" */
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
	bool private_counted;         /* private objects are counted (else a login is needed) */
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
/* A read-only session without a login (public objects only). */
CK_RV hw_admin_session(CK_SLOT_ID id, CK_SESSION_HANDLE *out);

/* C_InitToken with the slot's name as label (the only one it takes):
 * destroys every object of the token. */
CK_RV hw_admin_init_token(CK_SLOT_ID id, const char *name, const unsigned char *so_pin, size_t so_len);
/* The SO sets the user PIN (a first one, or a new one for a locked PIN). */
CK_RV hw_admin_init_pin(CK_SLOT_ID id, const unsigned char *so_pin, size_t so_len,
			const unsigned char *pin, size_t pin_len);
/* The user changes the PIN (C_SetPIN in a session, no login needed). */
CK_RV hw_admin_set_pin(CK_SLOT_ID id, const unsigned char *old_pin, size_t old_len,
		       const unsigned char *new_pin, size_t new_len);
/* Destroy the token's private keys, public keys and certificates with this
 * CKA_ID (a key pair and its certificate); *n says how many. */
CK_RV hw_admin_destroy_id(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, unsigned *n);
/* The SubjectPublicKeyInfo (DER) of the public or private key with this
 * CKA_ID; free *der with free(). None: CKR_OBJECT_HANDLE_INVALID. */
CK_RV hw_admin_public_key(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len,
			  unsigned char **der, size_t *len);
/* Store an X.509 certificate (DER) on the token with this CKA_ID and label. */
CK_RV hw_admin_import_cert(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, const char *label,
			   const unsigned char *der, size_t len);

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

/* A tpm slot key's attestation bundle (its CKO_DATA object, application
 * "hwagg-attestation") and its public key's SubjectPublicKeyInfo, found by
 * the key's CKA_ID; public objects, read without a login. Free both with
 * free(). No such object: CKR_OBJECT_HANDLE_INVALID. */
CK_RV hw_admin_attestation(CK_SLOT_ID slot, const unsigned char *id, size_t id_len, unsigned char **bundle,
			   size_t *blen, unsigned char **spki, size_t *slen);
/* ---- signing a digest (hwagg sign) ---------------------------------------- */
typedef struct hw_admin_sig {
	size_t matches;               /* private keys matching label and id */
	hw_admin_key key;             /* the one that signed */
	CK_KEY_TYPE key_type;
	char algorithm[48];           /* "ecdsa-p256-sha256", "rsa-2048-pkcs1v15-sha256" */
	char provider_uri[512];       /* CKA_HWAGG_PROVIDER_URI; "" when the key has none */
	unsigned char sig[1024];      /* ECDSA: r||s */
	size_t sig_len;
} hw_admin_sig;

/* Sign a SHA-256 digest with the one private key of the session's token
 * with this label and/or id (NULL/0: any): ECDSA over the digest, RSA
 * PKCS#1 v1.5 over its DigestInfo. No key or several: CKR_KEY_HANDLE_INVALID
 * with out->matches set; an Ed25519 key (it signs messages, not digests):
 * CKR_KEY_TYPE_INCONSISTENT; else the token's answer. Release out with
 * hw_admin_sig_clear. */
CK_RV hw_admin_sign_digest(CK_SESSION_HANDLE s, const char *label, const unsigned char *id, size_t id_len,
			   const unsigned char *digest, size_t len, hw_admin_sig *out);
void hw_admin_sig_clear(hw_admin_sig *sig);
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
