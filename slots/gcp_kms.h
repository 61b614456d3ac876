/*
 * The gcp-kms slot: keys in a GCP Cloud KMS key ring, signing and
 * decrypting in Google's HSMs (or software, as the slot says) without
 * leaving them. Internal interface of gcp_*.c.
 *
 * Objects: every ENABLED version of a crypto key labelled by hwagg gives a
 * private key object (oid 2i+1) and its public key (oid 2i+2), i being the
 * version's record in the slot's append-only table; records are never freed
 * before the slot closes, so a private key object's bdata (its record)
 * stays valid under any reload.
 */
#ifndef HW_GCP_KMS_H
#define HW_GCP_KMS_H

#include "slots/backend.h"
#include "slots/cloud_http.h"
#include "slots/cloud_objdir.h"
#include "slots/cloud_slot.h"
#include "slots/cloud_str.h"
#include "common/secret.h"
#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#define HW_GCP_LABEL_MARK "hwagg"         /* label on every key hwagg creates (value "pkcs11") */
#define HW_GCP_SCOPE "https://www.googleapis.com/auth/cloudkms"

/* ---- parsers (gcp_parse.c; fuzzed by fuzz/gcp_parse.c) --------------------- */
/* CKA_LABEL and CKA_ID travel as labels "label-0".."label-7" and "id-0"..
 * "id-4": lowercase hex, 62 characters (31 bytes) per label value, the
 * longest GCP allows being 63. */
#define HW_GCP_CHUNK 31
#define HW_GCP_LABEL_MAX (8 * HW_GCP_CHUNK)
#define HW_GCP_ID_MAX 128

typedef struct hw_gcp_item {
	char *name;               /* full resource name */
	char *alg;                /* version: its algorithm */
	char *state;              /* version: its state */
	bool ours;                /* key: carries the hwagg label */
	char *label;              /* key: decoded CKA_LABEL, or NULL */
	unsigned char id[HW_GCP_ID_MAX];
	size_t id_len;
} hw_gcp_item;

typedef struct hw_gcp_list {
	hw_gcp_item *items;
	size_t n;
	char *next;               /* nextPageToken, or NULL */
} hw_gcp_list;

void hw_gcp_list_free(hw_gcp_list *l);
/* {"cryptoKeys":[...],"nextPageToken"} / {"cryptoKeyVersions":[...]}. */
CK_RV hw_gcp_parse_keys(const char *body, size_t len, hw_gcp_list *out);
CK_RV hw_gcp_parse_versions(const char *body, size_t len, hw_gcp_list *out);
/* One CryptoKeyVersion: its state and algorithm (malloc'd). */
CK_RV hw_gcp_parse_version(const char *body, size_t len, char **state, char **alg);
/* {"error":{"code","message","status","details":[{"@type":"...RequestInfo","requestId"}]}}:
 * whatever is there, "" for what is not. */
void hw_gcp_parse_error(const char *body, size_t len, char *status, size_t status_len, char *msg,
			size_t msg_len, char *request_id, size_t rid_len);
/* An OAuth token answer {"access_token","expires_in","token_type":"Bearer"}. */
CK_RV hw_gcp_parse_token(const char *body, size_t len, hw_secret **token, long *expires_in);
/* getPublicKey's answer: the PEM's CRC32C checked, its SubjectPublicKeyInfo
 * DER returned (malloc'd), the algorithm copied, *hsm set when the
 * protectionLevel is HSM. CKR_DEVICE_ERROR when
 * anything is missing, malformed or fails its checksum. */
CK_RV hw_gcp_parse_pubkey(const char *body, size_t len, unsigned char **spki, size_t *spki_len, char *alg,
			  size_t alg_len, bool *hsm);
/* asymmetricSign's answer for a request whose digest had CRC32C dcrc:
 * verifiedDigestCrc32c true and the signature's CRC32C right, else
 * CKR_DEVICE_ERROR (the caller retries once). */
CK_RV hw_gcp_parse_signature(const char *body, size_t len, unsigned char **sig, size_t *sig_len);
/* asymmetricDecrypt's answer: verifiedCiphertextCrc32c and plaintextCrc32c. */
CK_RV hw_gcp_parse_plaintext(const char *body, size_t len, unsigned char **pt, size_t *pt_len);
/* macSign's answer: verifiedDataCrc32c and the mac's macCrc32c. */
CK_RV hw_gcp_parse_mac(const char *body, size_t len, unsigned char **mac, size_t *mac_len);
/* macVerify's answer: both verified*Crc32c flags, success equal to
 * verifiedSuccessIntegrity; the verdict as one byte (1: the MAC is right). */
CK_RV hw_gcp_parse_mac_verify(const char *body, size_t len, unsigned char **ok, size_t *ok_len);
/* A service-account key file. CKR_FUNCTION_NOT_SUPPORTED for other types
 * (external_account, authorized_user), CKR_DEVICE_ERROR when malformed. */
typedef struct hw_gcp_sa {
	char type[32];
	char email[256];
	char key_id[128];
	char token_uri[512];
	hw_secret *pem;           /* private_key, PKCS#8 PEM, NUL-terminated */
} hw_gcp_sa;
CK_RV hw_gcp_parse_sa(const char *body, size_t len, hw_gcp_sa *out);
void hw_gcp_sa_clear(hw_gcp_sa *sa);
/* A GOOGLE_APPLICATION_CREDENTIALS file of type external_account (workload
 * identity federation: a subject token from a file or a URL exchanged at
 * Google's STS, optionally for a service account's token) or
 * authorized_user (a user's refresh token). CKR_FUNCTION_NOT_SUPPORTED for
 * other types and for credential sources hwagg does not read
 * (environment_id "aws1", executable), CKR_DEVICE_ERROR when malformed. */
#define HW_GCP_EXT_HDRS 3
typedef struct hw_gcp_ext {
	bool user;                /* authorized_user (else external_account) */
	/* external_account */
	char audience[512];
	char subject_token_type[128];
	char token_url[512];
	char impersonation_url[1024];   /* "" when the STS token is used as it is */
	char source_file[1024];         /* credential_source.file, or "" */
	char source_url[1024];          /* credential_source.url, or "" */
	bool source_json;               /* format.type "json" */
	char source_field[128];         /* format.subject_token_field_name */
	char hdr_name[HW_GCP_EXT_HDRS][64], hdr_value[HW_GCP_EXT_HDRS][256];
	size_t nhdrs;                   /* credential_source.headers (url only) */
	/* authorized_user */
	char client_id[256];
	char token_uri[512];            /* default https://oauth2.googleapis.com/token */
	hw_secret *client_secret, *refresh_token;
} hw_gcp_ext;
CK_RV hw_gcp_parse_ext(const char *body, size_t len, hw_gcp_ext *out);
void hw_gcp_ext_clear(hw_gcp_ext *x);
/* The subject token in what the credential source gave: the text itself
 * (surrounding white space dropped) or the named member of a JSON object.
 * CKR_DEVICE_ERROR when there is none or it is not a plain token. */
CK_RV hw_gcp_subject_token(const hw_gcp_ext *x, const char *doc, size_t len, hw_secret **tok);
/* generateAccessToken's answer {"accessToken","expireTime":RFC 3339}: the
 * token and its life in seconds from now. */
CK_RV hw_gcp_parse_iam_token(const char *body, size_t len, time_t now, hw_secret **token, long *life);
/* The DER between "-----BEGIN <what>-----" and its END line (malloc'd), or NULL. */
unsigned char *hw_gcp_pem_der(const char *pem, size_t len, const char *what, size_t *der_len);
/* "123" (a proto3 int64 string, or a JSON number) -> value; false if not a uint32. */
bool hw_gcp_crc_field(json_object *o, const char *key, uint32_t *out);
/* labels -> CKA_LABEL / CKA_ID: hex chunks joined and decoded. */
void hw_gcp_labels_apply(json_object *labels, hw_gcp_item *it);

/* ---- access tokens (gcp_auth.c) --------------------------------------------- */
typedef enum { HW_GCP_AUTH_UNKNOWN = 0, HW_GCP_AUTH_METADATA, HW_GCP_AUTH_SA } hw_gcp_auth_kind;

typedef struct hw_gcp_auth {
	const char *slot;         /* for logs */
	hw_http_pool *pool;       /* metadata server and token endpoints */
	pthread_mutex_t lock;     /* guards token, times */
	pthread_mutex_t refresh;  /* one refresh at a time, held across its I/O */
	hw_secret *token;         /* NUL-terminated; never logged */
	time_t refresh_at, expires;
	hw_gcp_auth_kind kind;    /* the source of the last token */
} hw_gcp_auth;

void hw_gcp_auth_init(hw_gcp_auth *a, const char *slot, hw_http_pool *pool);
void hw_gcp_auth_fini(hw_gcp_auth *a, bool forked);
/* A valid token as "Bearer <token>" in secret memory (the caller frees it). */
CK_RV hw_gcp_auth_header(hw_gcp_auth *a, hw_secret **hdr, hw_cloud_err *e);
/* The service refused the token: fetch a new one next time. */
void hw_gcp_auth_invalidate(hw_gcp_auth *a);
/* The JWT bearer assertion of a service account (gcp_auth.c; tests). */
CK_RV hw_gcp_jwt(const hw_gcp_sa *sa, time_t now, char **jwt);
/* One request to an identity endpoint (gcp_auth.c): retried as token
 * requests are; errors name `what`, never the body. */
typedef struct hw_gcp_idreq {
	const char *what;         /* "the STS endpoint", for logs */
	const char *method, *url;
	const char *body, *ctype; /* body NULL: none */
	hw_http_hdr hdrs[HW_GCP_EXT_HDRS + 1];
	size_t nhdrs;
	int attempt_ms;           /* 0: no cap per attempt */
} hw_gcp_idreq;
CK_RV hw_gcp_id_call(hw_gcp_auth *a, const hw_gcp_idreq *q, hw_http_resp *resp, hw_cloud_err *e);
/* An OAuth token: POST form (or, form NULL, GET with Metadata-Flavor)
 * answered {"access_token","expires_in"}. */
CK_RV hw_gcp_token_fetch(hw_gcp_auth *a, const char *url, const char *form, const char *what, hw_secret **tok,
			 long *life, hw_cloud_err *e);
/* A whole file up to 64 KiB, NUL-terminated (malloc'd), or NULL. */
char *hw_gcp_read_file(const char *path, size_t *len);
/* A token from an external_account or authorized_user file (gcp_federation.c):
 * path names it in logs, doc is its text. */
CK_RV hw_gcp_fed_token(hw_gcp_auth *a, const char *path, const char *doc, size_t len, hw_secret **tok, long *life,
		       hw_cloud_err *e);

/* ---- the slot --------------------------------------------------------------- */
typedef struct hw_gcp_key {
	char *name;               /* .../cryptoKeys/K/cryptoKeyVersions/N */
	char *alg;                /* its CryptoKeyVersionAlgorithm */
	CK_KEY_TYPE type;         /* CKK_EC or CKK_RSA */
	size_t nlen;              /* EC: bytes of r and s; RSA: modulus bytes */
	CK_MECHANISM_TYPE hash;   /* the hash the algorithm fixes */
	bool pss, decrypt;
	bool mac;                 /* an HMAC key (purpose MAC): type CKK_SHA*_HMAC, nlen its
	                           * bytes, hash its digest, no public key */
	bool hsm;                 /* protectionLevel HSM (else SOFTWARE) */
	CK_ULONG version;         /* N */
	unsigned char *spki;      /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	char *label;
	unsigned char id[HW_GCP_ID_MAX + 16];   /* the key's, and "/vN" past version 1 */
	size_t id_len;
	size_t key_id_len;        /* the crypto key's own part of id */
	bool dead;                /* destroy scheduled: not listed any more */
	bool seen;                /* in the current listing (under the slot lock) */
} hw_gcp_key;

typedef struct hw_gcp_ctx {
	hw_cloud_slot cs;         /* first: the shared hooks take the context as it is */
	char *key_ring;           /* projects/P/locations/L/keyRings/R */
	char *base;               /* "<endpoint>/v1/" */
	const char *level;        /* "HSM" or "SOFTWARE" */
	hw_gcp_auth auth;
	bool opened;
	pthread_mutex_t lock;     /* recs */
	hw_gcp_key **recs;
	size_t nrecs, cap;
} hw_gcp_ctx;

/* One Cloud KMS call (gcp_kms_api.c): method on base + path (a resource
 * name with its query or ":verb"); body NULL for GET. *resp gets the parsed
 * answer. Failures are logged with cause, status and request id. */
CK_RV hw_gcp_call(hw_gcp_ctx *c, const char *op, const char *method, const char *path, json_object *body,
		  bool idempotent, json_object **resp, hw_cloud_err *e);
/* The same with the raw answer (parsers that check CRCs read the bytes). */
CK_RV hw_gcp_call_raw(hw_gcp_ctx *c, const char *op, const char *method, const char *path, json_object *body,
		      bool idempotent, int attempts, int deadline_ms, hw_http_resp *resp, hw_cloud_err *e);

/* keys (gcp_kms_keys.c) */
/* What PKCS#11 needs of an algorithm; false for algorithms hwagg does not serve. */
bool hw_gcp_alg_parse(const char *alg, hw_gcp_key *k);
/* The public key of a version into a new record (not yet added). */
CK_RV hw_gcp_key_fetch(hw_gcp_ctx *c, const char *version, hw_gcp_key **out, hw_cloud_err *e);
/* The same for an HMAC version (no public key): from the version itself. */
CK_RV hw_gcp_mac_fetch(hw_gcp_ctx *c, const char *version, hw_gcp_key **out, hw_cloud_err *e);
/* An HMAC algorithm ("HMAC_SHA256") into k; false for any other. */
bool hw_gcp_mac_alg(const char *alg, hw_gcp_key *k);
/* k's CKA_ID from its crypto key's: as it is for version 1, with "/vN"
 * after it for a later version (so that a rotation's old public key stays
 * findable apart); none stays none (the public key's hash then). */
void hw_gcp_key_set_id(hw_gcp_key *k, const unsigned char *id, size_t len);
void hw_gcp_key_free(hw_gcp_key *k);
/* Add (or find the copy already there), marked seen; *idx its index. NULL: out of memory. */
hw_gcp_key *hw_gcp_key_keep(hw_gcp_ctx *c, hw_gcp_key *k, size_t *idx);
CK_RV hw_gcp_key_attrs(hw_gcp_ctx *c, const hw_gcp_key *k, hw_attrs *pub, hw_attrs *priv);
CK_RV hw_gcp_list_keys(void *vc, hw_obj_sink sink, void *arg);
/* The key table for the shared hooks (cloud_slot.h). */
size_t hw_gcp_count(void *vc);
hw_cloud_rec hw_gcp_record(void *vc, size_t i, hw_cloud_keyinfo *ki, void **bdata);

/* operations (gcp_kms_ops.c) */
CK_RV hw_gcp_sign(void *vc, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
CK_RV hw_gcp_decrypt(void *vc, const void *key, const hw_crypt_req *req, unsigned char *out,
		     size_t *out_len);
/* record i is live (hw_cloud_destroy checked) */
CK_RV hw_gcp_destroy(void *vc, size_t i);
/* the version of record i (live) DISABLED */
CK_RV hw_gcp_disable(void *vc, size_t i);
/* key creation (gcp_kms_create.c) */
/* A new version of the crypto key of private key key (rotate_key; its CKA_ID
 * follows the service's version number, not next). */
CK_RV hw_gcp_rotate(void *vc, const void *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		    int64_t *priv_oid, void **bdata);
CK_RV hw_gcp_generate(void *vc, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		      int64_t *priv_oid, void **bdata);
/* C_GenerateKey of an HMAC key: a crypto key of purpose MAC. */
CK_RV hw_gcp_generate_secret(void *vc, const CK_MECHANISM *mech, hw_attrs *attrs, int64_t *oid, void **bdata);
/* macSign / macVerify (gcp_kms_ops.c); data of at most HW_GCP_MAC_MAX bytes */
#define HW_GCP_MAC_MAX 65536
CK_RV hw_gcp_mac(void *vc, const void *key, CK_MECHANISM_TYPE hash, const unsigned char *msg, size_t len,
		 unsigned char *out, size_t *out_len, const unsigned char *want, size_t want_len);

#endif
