/*
 * The azure-kv slot: keys in Azure Key Vault or Managed HSM. Internal
 * interface of azure_*.c.
 *
 * Objects: every key of the slot gives a private key object (oid 2i+1)
 * and its public key (oid 2i+2), i being the key's record in the slot's
 * append-only table (records are freed only when the slot closes, so a
 * private key object's bdata stays valid under any reload). A record pins
 * the key version it was listed with: a rotation elsewhere shows up as a
 * new record at the next listing. Listing = the configured "keys" + the
 * keys tagged by hwagg.
 */
#ifndef HW_AZURE_KV_H
#define HW_AZURE_KV_H

#include "slots/backend.h"
#include "slots/cloud_http.h"
#include "slots/cloud_objdir.h"
#include "slots/cloud_slot.h"
#include "slots/cloud_str.h"
#include <json-c/json.h>
#include <time.h>

#define HW_AZ_API "7.4"           /* api-version of every Key Vault request */
#define HW_AZ_TAG_MARK "hwagg"    /* tag on every key hwagg creates */
#define HW_AZ_TAG_LABEL "p11label"
#define HW_AZ_TAG_ID "p11id"      /* hex */

typedef struct hw_az_key {
	char *name;
	char *version;
	char *kid;                /* {vault}/keys/{name}/{version} */
	CK_KEY_TYPE type;         /* CKK_EC or CKK_RSA */
	size_t nlen;              /* EC: bytes of r and s; RSA: modulus bytes */
	bool sign, decrypt;       /* from key_ops */
	bool wrap;                /* key_ops wrapKey and unwrapKey (RSA): a key-encryption key */
	bool hsm;                 /* EC-HSM / RSA-HSM */
	bool ours;                /* carries the hwagg tag */
	bool enabled;
	unsigned char *spki;      /* public key, DER SubjectPublicKeyInfo */
	size_t spki_len;
	char *label;
	unsigned char id[128 + 24];   /* CKA_ID (p11id), "/vN" after a rotation's */
	size_t id_len;
	bool dead;                /* deleted: not listed any more */
	bool seen;                /* in the current listing (under the slot lock) */
} hw_az_key;

/* ---- identity (azure_auth.c) ------------------------------------------------- */
typedef enum {
	HW_AZ_AUTH_SECRET = 1,    /* AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET */
	HW_AZ_AUTH_WORKLOAD,      /* AZURE_FEDERATED_TOKEN_FILE (+ tenant, client id) */
	HW_AZ_AUTH_APPSERVICE,    /* IDENTITY_ENDPOINT + IDENTITY_HEADER */
	HW_AZ_AUTH_IMDS,          /* the VM's instance metadata service */
	HW_AZ_AUTH_CERT,          /* AZURE_CLIENT_CERTIFICATE_PATH (+ tenant, client id) */
} hw_az_auth_mode;

typedef struct hw_az_auth {
	const char *slot;
	hw_http_pool *pool;       /* identity endpoints */
	hw_az_auth_mode mode;
	char *authority;          /* "https://login.microsoftonline.com" (no slash) */
	char *tenant, *client_id;
	hw_secret *client_secret;
	char *token_file;
	char *cert_file;          /* PEM: the certificate and its PKCS#8 RSA key */
	char *endpoint;           /* App Service identity endpoint or the IMDS base */
	hw_secret *identity_header;
	bool ready;               /* lock initialised */
	pthread_mutex_t lock;     /* the cached token */
	hw_secret *token;
	char token_resource[160];
	time_t refresh_at;        /* renew from then on (before it expires) */
	time_t expires_at;
} hw_az_auth;

const char *hw_az_auth_mode_name(hw_az_auth_mode m);
/* The client certificate's assertion for the token endpoint at aud
 * (azure_cert.c): a JWT signed RS256 with the key in a->cert_file, read
 * again at every call (certificates are rotated in place). */
CK_RV hw_az_cert_assertion(const hw_az_auth *a, const char *aud, time_t now, char **jwt, hw_cloud_err *e);
/* From the environment, the way azure-identity reads it; no I/O. */
CK_RV hw_az_auth_init(hw_az_auth *a, const char *slot, hw_http_pool *pool, char *err, size_t err_len);
void hw_az_auth_fini(hw_az_auth *a);
/* A bearer token for resource (an audience such as
 * "https://vault.azure.net"), tenant from the vault's challenge or NULL:
 * the cached one, or a new one. *tok is a copy the caller frees. */
CK_RV hw_az_auth_token(hw_az_auth *a, const char *resource, const char *tenant, hw_secret **tok, hw_cloud_err *e);
/* The service refused the token: forget it. */
void hw_az_auth_invalidate(hw_az_auth *a);

/* ---- the slot ---------------------------------------------------------------- */
typedef struct hw_az_ctx {
	hw_cloud_slot cs;         /* first: the shared hooks take the context as one
				   * (pool: the vault; meta: identity endpoints) */
	char *vault;              /* "https://x.vault.azure.net" (no slash) */
	char **keys;              /* configured key names */
	size_t nkeys;
	bool allow_software;
	hw_az_auth auth;
	bool opened;
	pthread_mutex_t lock;     /* recs, challenge */
	char resource[160];       /* from the vault's challenge; "" until the first */
	char tenant[64];
	hw_az_key **recs;
	size_t nrecs, cap;
} hw_az_ctx;

/* ---- one Key Vault call (azure_kv_api.c) --------------------------------------- */
/* method on {vault}{path}?api-version=..., body NULL or a JSON object (not
 * consumed); *resp the parsed answer (json_object_put it). The challenge,
 * the token, retries and the error line (cause, request id) are done here. */
CK_RV hw_az_call(hw_az_ctx *c, const char *op, const char *method, const char *path, bool idempotent,
		 json_object *body, json_object **resp, hw_cloud_err *e);
/* The same on a full URL (a listing's nextLink, which must be on the vault). */
CK_RV hw_az_call_url(hw_az_ctx *c, const char *op, const char *url, json_object **resp, hw_cloud_err *e,
		     int attempts, int deadline_ms);

/* ---- parsers (azure_parse.c; fuzz/azure_parse.c drives them) -------------------- */
/* WWW-Authenticate: Bearer authorization="https://login.../<tenant>",
 * resource="..." (or scope="<resource>/.default"). */
CK_RV hw_az_parse_challenge(const char *hdr, char *tenant, size_t tenant_len, char *resource, size_t resource_len);
/* A token endpoint's answer (AAD v2, IMDS, App Service): the token and
 * when it expires (expires_in or expires_on, numbers or strings). */
CK_RV hw_az_parse_token(const char *body, size_t len, time_t now, hw_secret **token, time_t *expires);
/* {"error":{"code","message"}} (or an AAD error); "" when absent. */
void hw_az_parse_error(const char *body, size_t len, char *code, size_t code_len, char *msg, size_t msg_len);
/* A KeyBundle (create, get, a listing item's fields) into k. CKR_OK,
 * CKR_OBJECT_HANDLE_INVALID for a key hwagg does not serve, or
 * CKR_DEVICE_ERROR for a malformed one. */
CK_RV hw_az_parse_bundle(json_object *bundle, hw_az_key *k);
/* A public JWK (EC P-256/384/521 or RSA) as DER SubjectPublicKeyInfo. */
CK_RV hw_az_jwk_spki(json_object *jwk, CK_KEY_TYPE *type, size_t *nlen, unsigned char **spki, size_t *spki_len);
/* "{vault}/keys/{name}[/{version}]" -> name, version (malloc'd; version
 * NULL when absent). */
CK_RV hw_az_parse_kid(const char *kid, char **name, char **version);
/* tags -> label, id, ours */
CK_RV hw_az_tags_apply(json_object *tags, hw_az_key *k);

/* ---- keys (azure_kv_keys.c) --------------------------------------------------- */
void hw_az_key_free(hw_az_key *k);
/* The record of the same name and version, else k added (under c->lock). */
hw_az_key *hw_az_key_add_inlock(hw_az_ctx *c, hw_az_key *k);
size_t hw_az_key_index_inlock(hw_az_ctx *c, const hw_az_key *k);
/* The slot's table of keys, for the shared hooks (hw_cloud_keyops). */
size_t hw_az_count(void *ctx);
hw_cloud_rec hw_az_record(void *ctx, size_t i, hw_cloud_keyinfo *ki, void **bdata);
CK_RV hw_az_key_attrs(hw_az_ctx *c, const hw_az_key *k, hw_attrs *pub, hw_attrs *priv);
CK_RV hw_az_list(void *ctx, hw_obj_sink sink, void *arg);

/* ---- operations (azure_kv_ops.c) ------------------------------------------------ */
/* key: a hw_az_key (the private key object's bdata) */
CK_RV hw_az_sign(void *ctx, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
CK_RV hw_az_decrypt(void *ctx, const void *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len);
/* Envelope encryption: wrapkey / unwrapkey (RSA-OAEP-256) of a data key's value */
CK_RV hw_az_wrap(void *ctx, const void *kek, const unsigned char *pt, size_t len, unsigned char **ct, size_t *ct_len);
CK_RV hw_az_unwrap(void *ctx, const void *kek, const unsigned char *ct, size_t len, hw_secret **pt);
/* A new version of the key of private key key, with the old version's type,
 * size, uses and tags (CKA_ID: "/vNEXT" after the key's). */
CK_RV hw_az_rotate(void *ctx, const void *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		   int64_t *priv_oid, void **bdata);
CK_RV hw_az_generate(void *ctx, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		     int64_t *priv_oid, void **bdata);
/* the key of record i, with all its versions */
CK_RV hw_az_destroy(void *ctx, size_t i);
/* the version of record i disabled in the vault (UpdateKey) */
CK_RV hw_az_disable(void *ctx, size_t i);
/* A key name from a label: [0-9a-zA-Z-], at most 127 (README). */
CK_RV hw_az_key_name(const char *label, size_t label_len, char *name, size_t name_len);

#endif
