/*
 * The tpm slot's units, shared between slots/tpm*.c:
 *
 *   tpm.c        the backend ops: token info, objects, key generation, signing
 *   tpm_dev.c    the connection: TCTI and ESAPI context, presence, recovery,
 *                fork, the storage root key, the auth session, the TPM's
 *                properties and algorithms, response codes
 *   tpm_key.c    keys: templates, TPM2_Create, the stored blob, loading and
 *                flushing (the TPM's few object slots), TPM2_Sign
 *   tpm_attest.c key attestation: TPM2_Certify of each new key by an
 *                attestation key, the bundle kept with the key
 *   tpm_fast.c   the slot's own salted HMAC session over tss2-sys: signing,
 *                unseal, create and RSA decryption, the secrets in them
 *                under parameter encryption, the answers authenticated
 *   tpm_pad.c    RSA encodings done here around a raw RSA operation
 *   tpm_secret.c secret keys: HMAC (keyedHash) and AES (symmetric cipher)
 *                objects, TPM2_HMAC and TPM2_EncryptDecrypt2 streams
 *   tpm_token.c  the token and its PINs: the master key sealed in the TPM
 *                under each PIN, so the TPM itself checks PINs and counts
 *                failures (dictionary-attack lockout)
 *
 * One ctx per slot; ctx->lock protects everything in it, and is held across
 * every TPM command: an ESAPI context serves one thread at a time, and the
 * TPM runs one command at a time anyway. The engine holds none of its own
 * locks while a hook runs.
 */
#ifndef HW_TPM_INT_H
#define HW_TPM_INT_H

#include "slots/backend.h"
#include "slots/stored.h"
#include "common/secret.h"

#include <pthread.h>
#include <sys/types.h>
#include <openssl/types.h>
#include <tss2/tss2_esys.h>

#define HW_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define HW_TPM_SRK_HANDLE 0x81000001u   /* TCG provisioning guidance: the SRK */
#define HW_TPM_LOADED 16                /* at most this many keys kept loaded at once */
#define HW_TPM_RETRY_S 1.0              /* a failed connect is not retried sooner */
#define HW_TPM_AUTH_LEN 32              /* key and PIN authValues: SHA-256 sized */
#define HW_TPM_SALT_LEN 16

/* The signing hot path's session (tpm_fast.c). */
typedef struct hw_tpm_fast {
	bool ready;                   /* a session is open on connection gen */
	unsigned gen;
	unsigned off_gen;             /* == ctx->gen: not usable on this connection */
	TPM2_HANDLE session;
	TPM2B_NONCE nonce_tpm;        /* the TPM's last nonce */
	unsigned char key[32];        /* the session key */
	EVP_MD *md;                   /* fetched once */
	EVP_MAC *mac;
	EVP_CIPHER *cfb;              /* AES-128-CFB: parameter encryption */
} hw_tpm_fast;

/* What the TPM has for secret keys (tpm_secret.c, read at connect). */
typedef struct hw_tpm_sk_caps {
	bool sha1, sha256, sha512, hmac, keyedhash, aes, cbc, ecb, ctr;
	bool cmd_hmac;                /* TPM2_HMAC and the HMAC sequence commands */
	bool cmd_ed2;                 /* TPM2_EncryptDecrypt2 */
	bool aes128, aes192, aes256;
} hw_tpm_sk_caps;

/* An HMAC's message is kept until the final call: at most this much. */
#define HW_TPM_MAC_MAX (1024u * 1024u)

/* A key of the slot, as stored: its TPM blobs and the salt of its auth. */
typedef struct hw_tpm_key {
	unsigned char salt[HW_TPM_SALT_LEN];
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	ESYS_TR handle;               /* loaded: valid while gen == ctx->gen */
	unsigned gen;
	uint64_t used;                /* LRU tick */
	bool broken;                  /* the TPM refused the blob; said once */
} hw_tpm_key;

typedef struct hw_tpm_ctx {
	const hw_slot_conf *conf;
	char tcti[256];               /* TCTI configuration string */
	pthread_mutex_t lock;

	/* tpm_dev.c */
	TSS2_TCTI_CONTEXT *tctx;
	ESYS_CONTEXT *esys;           /* NULL: not connected */
	ESYS_TR srk;                  /* ESYS_TR_NONE until known */
	bool srk_transient;           /* we created it: flush it when done */
	ESYS_TR session;              /* salted HMAC session, ESYS_TR_NONE until started */
	unsigned gen;                 /* bumped at every connect: loaded handles die with it */
	pid_t pid;                    /* the process that connected: a forked child never
	                               * sends anything on its parent's connection */
	uint64_t epoch;               /* token_epoch: bumped when a connection is lost */
	double retry_at;
	bool down_said;               /* the "TPM unreachable" line was logged */
	bool unsalted_said;           /* the "unsalted session" line was logged */
	hw_tpm_fast fast;             /* tpm_fast.c */
	/* from TPM2_GetCapability at connect */
	char vendor[5];
	uint32_t fw1, fw2;            /* TPM_PT_FIRMWARE_VERSION_1/2 */
	bool ecc256, ecc384, rsa2048, rsa3072, rsassa, ecdsa, sha384;
	hw_tpm_sk_caps sk;
	uint32_t da_count, da_max;    /* lockout counter, max tries */
	double da_at;                 /* when they were read for token info */

	/* tpm_key.c */
	hw_tpm_key *loaded[HW_TPM_LOADED];
	unsigned max_loaded;          /* config "loaded_keys": how many of those slots we use */
	bool attest;                  /* config "attest": certify each new key (tpm_attest.c) */
	uint64_t tick;

	/* tpm_token.c */
	hw_stored st;                 /* the store and this slot's objects in it */
	hw_secret *mk;                /* the token's master key while logged in */
} hw_tpm_ctx;

/* ---- tpm_dev.c ---------------------------------------------------------------- */
/* Connected, with the SRK and the session; else CKR_TOKEN_NOT_PRESENT (the
 * reason logged once per outage) or CKR_DEVICE_ERROR. */
CK_RV hw_tpm_connect_inlock(hw_tpm_ctx *c);
/* A command failed with rc: when the TPM is gone, drop the connection (the
 * token turns absent, the epoch moves). Returns the CK_RV for rc; what says
 * what was being done, for the log. */
CK_RV hw_tpm_fail_inlock(hw_tpm_ctx *c, TSS2_RC rc, const char *what);
/* The TPM layer's response code without the session/parameter number. */
TSS2_RC hw_tpm_rc_base(TSS2_RC rc);
/* Set the session's attributes for the next command: decrypt the first
 * command parameter and/or encrypt the first response parameter. */
void hw_tpm_session_for(hw_tpm_ctx *c, bool decrypt, bool encrypt);
/* A restricted ECC P-256 primary's template (SRK: use DECRYPT, AK:
 * SIGN_ENCRYPT), the rest to be filled in by the caller. */
void hw_tpm_primary_template(TPM2B_PUBLIC *t, TPMA_OBJECT use);
/* Switch between the persistent SRK and one from our template (a blob the
 * TPM refused as not its child's); true when switched. */
bool hw_tpm_srk_switch_inlock(hw_tpm_ctx *c);
/* Read the lockout counter again (after an authorization failure). */
void hw_tpm_da_refresh_inlock(hw_tpm_ctx *c);
/* Abandon (forked) or close the connection. */
void hw_tpm_disconnect_inlock(hw_tpm_ctx *c, bool forked);
/* The connection is this process's own (not inherited across fork). */
bool hw_tpm_ours(const hw_tpm_ctx *c);
const char *hw_tpm_rc_text(TSS2_RC rc);

/* ---- tpm_key.c ---------------------------------------------------------------- */
/* Create a key under the SRK with auth; fills k (not loaded). */
CK_RV hw_tpm_key_create_inlock(hw_tpm_ctx *c, const hw_keygen *g, const unsigned char *auth,
			       hw_tpm_key *k);
/* TPM2_Create under the SRK (on the salted session, inSensitive encrypted;
 * through ESAPI when that session is off); what names it for the log. */
CK_RV hw_tpm_create_inlock(hw_tpm_ctx *c, const TPM2B_SENSITIVE_CREATE *sens, const TPM2B_PUBLIC *tmpl,
			   TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, const char *what);
/* The key's public area as PKCS#11 attribute values. */
CK_RV hw_tpm_key_public_attrs(const hw_tpm_key *k, hw_attrs *pub, hw_attrs *priv);
/* Stored form of a key (the private key object's secret column). */
CK_RV hw_tpm_key_marshal(const hw_tpm_key *k, unsigned char **out, size_t *len);
CK_RV hw_tpm_key_unmarshal(const unsigned char *in, size_t len, hw_tpm_key *k);
/* Sign with the key (loaded on demand, auth derived from mk). */
CK_RV hw_tpm_key_sign_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const hw_sign_req *req,
			     unsigned char *sig, size_t *sig_len);
/* Decrypt (RSA PKCS#1 v1.5, OAEP without a label) with the key. */
CK_RV hw_tpm_key_decrypt_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const hw_crypt_req *req,
				unsigned char *out, size_t *out_len);
/* The key loaded with its authValue (in auth), the user logged in. */
CK_RV hw_tpm_key_ready_inlock(hw_tpm_ctx *c, hw_tpm_key *k, TPM2B_AUTH *auth);
/* Forget the key's TPM handle (flushing it when connected). */
void hw_tpm_key_unload_inlock(hw_tpm_ctx *c, hw_tpm_key *k);
/* Load a blob under the SRK (for the token's sealed master key too). */
CK_RV hw_tpm_load_inlock(hw_tpm_ctx *c, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
			 ESYS_TR *out, const char *what);
/* The authValue of a key: HMAC-SHA256(master key, "hwagg-tpm-key" || salt). */
CK_RV hw_tpm_key_auth(const hw_secret *mk, const unsigned char *salt, unsigned char *auth);

/* ---- tpm_fast.c: commands on our own salted session over tss2-sys ---------------- */
/* HW_TPM_FAST_DONE: *rc the command's result (its outputs filled when it
 * succeeded); HW_TPM_FAST_FORGED: the TPM's answer did not authenticate
 * (nothing filled; logged); HW_TPM_FAST_NO: this path does not take it (the
 * caller goes through ESAPI). */
enum { HW_TPM_FAST_NO, HW_TPM_FAST_DONE, HW_TPM_FAST_FORGED };
/* A command with one handle, authorized by the session. */
typedef struct hw_tpm_fast_cmd {
	TPM2_CC cc;
	ESYS_TR object;               /* its handle: the entity authorized */
	const unsigned char *auth;    /* the entity's authValue (auth_len may be 0) */
	size_t auth_len;
	bool decrypt;                 /* the first command parameter travels encrypted */
	bool encrypt;                 /* the first response parameter travels encrypted */
	/* Tss2_Sys_<cmd>_Prepare with the TPM handle h; _Complete */
	TSS2_RC (*prepare)(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg);
	TSS2_RC (*complete)(TSS2_SYS_CONTEXT *sys, void *arg);
	void *arg;
	const char *what;             /* for the log: "a signature" */
} hw_tpm_fast_cmd;
int hw_tpm_fast_run_inlock(hw_tpm_ctx *c, const hw_tpm_fast_cmd *x, TSS2_RC *rc);
/* TPM2_Sign of digest dg with the loaded key k whose authValue is auth. */
int hw_tpm_fast_sign_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *auth, const TPM2B_DIGEST *dg,
			    const TPMT_SIG_SCHEME *scheme, TPMT_SIGNATURE *sig, TSS2_RC *rc);
/* The connection ends: forget (flush false) or flush the session. */
void hw_tpm_fast_end_inlock(hw_tpm_ctx *c, bool flush);
void hw_tpm_fast_free(hw_tpm_ctx *c);

/* ---- tpm_secret.c ------------------------------------------------------------- */
void hw_tpm_sk_alg(hw_tpm_ctx *c, TPM2_ALG_ID a);   /* one of TPM2_CAP_ALGS, at connect */
void hw_tpm_sk_caps_inlock(hw_tpm_ctx *c);           /* after them */
/* A secret-key mechanism this TPM does (mi: its flags and sizes). */
bool hw_tpm_sk_mechanism_inlock(hw_tpm_ctx *c, CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *mi);
/* TPM2_Create of an AES (aes) or HMAC key of len bytes: made by the TPM
 * (value NULL) or holding value; fills k (not loaded). */
CK_RV hw_tpm_sk_create_inlock(hw_tpm_ctx *c, bool aes, size_t len, const unsigned char *value,
			      const unsigned char *auth, hw_tpm_key *k);
/* CKA_CHECK_VALUE of a new key (value: an imported key's, else NULL). */
CK_RV hw_tpm_sk_check_value_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *value, size_t len,
				   unsigned char cv[3]);
/* The backend's sk_* hooks on the key k (under c->lock but sk_end). */
CK_RV hw_tpm_sk_begin_inlock(hw_tpm_ctx *c, hw_tpm_key *k, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
CK_RV hw_tpm_sk_update_inlock(hw_tpm_ctx *c, void *op, const unsigned char *in, size_t len, unsigned char *out,
			      size_t *out_len);
CK_RV hw_tpm_sk_final_inlock(hw_tpm_ctx *c, void *op, const unsigned char *in, size_t len,
			     const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
void hw_tpm_sk_end(void *op);

/* ---- tpm_attest.c -------------------------------------------------------------- */
/* The attestation bundle of a new key (not loaded) whose authValue is auth;
 * *out malloc'd. */
CK_RV hw_tpm_attest_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *auth,
			   unsigned char **out, size_t *out_len);

/* ---- tpm_pad.c: encodings for a raw RSA operation into k bytes ----------------- */
CK_RV hw_tpm_pad_pkcs1(const unsigned char *in, size_t len, unsigned char *em, size_t k);
CK_RV hw_tpm_pad_pss(const CK_RSA_PKCS_PSS_PARAMS *p, const unsigned char *mhash, size_t mhash_len,
		     unsigned mod_bits, unsigned char *out, size_t k);
CK_RV hw_tpm_unpad_oaep(const CK_RSA_PKCS_OAEP_PARAMS *p, unsigned char *em, size_t k,
			unsigned char *out, size_t *out_len);

/* ---- tpm_token.c -------------------------------------------------------------- */
CK_RV hw_tpm_token_flags(hw_tpm_ctx *c, CK_FLAGS *flags);
CK_RV hw_tpm_login(hw_tpm_ctx *c, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV hw_tpm_init_token(hw_tpm_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label);
CK_RV hw_tpm_init_pin(hw_tpm_ctx *c, const CK_UTF8CHAR *pin, CK_ULONG len);
CK_RV hw_tpm_set_pin(hw_tpm_ctx *c, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
		     const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

double hw_tpm_now(void);

#endif
