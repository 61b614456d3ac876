/*
 * The aws-kms slot: keys in AWS KMS, whose HSMs sign and decrypt without
 * the key ever leaving them. Internal interface of aws_kms*.c.
 *
 * Objects: every KMS key of the slot gives a private key object (oid
 * 2i+1) and its public key (oid 2i+2), i being the key's record in the
 * slot's append-only table; records are never freed before the slot
 * closes, so a private key object's bdata (its record) stays valid under
 * any reload. Listing = the configured "keys" + keys tagged by hwagg.
 */
#ifndef HW_AWS_KMS_H
#define HW_AWS_KMS_H

#include "slots/backend.h"
#include "slots/cloud_http.h"
#include "slots/aws_creds.h"
#include "slots/cloud_objdir.h"
#include "slots/cloud_str.h"
#include "slots/cloud_slot.h"
#include <json-c/json.h>

#define HW_KMS_TAG_MARK "hwagg"            /* tag on every key hwagg creates */
#define HW_KMS_TAG_REQUEST "hwagg-request" /* the CreateKey's nonce: makes it safe to retry */

typedef struct hw_kms_key {
	char *arn;
	char *alias;              /* as configured ("alias/x"), or NULL */
	CK_KEY_TYPE type;         /* CKK_EC or CKK_RSA */
	size_t nlen;              /* EC: bytes of r and s; RSA: modulus bytes */
	CK_MECHANISM_TYPE ec_hash;/* EC: the hash KMS requires for the curve; HMAC: its digest */
	bool decrypt;             /* ENCRYPT_DECRYPT (else SIGN_VERIFY) */
	bool mac;                 /* an HMAC key (GENERATE_VERIFY_MAC): type CKK_SHA*_HMAC,
	                           * nlen its bytes, no public key */
	bool generic;             /* made as CKK_GENERIC_SECRET (its CKA_KEY_TYPE tag) */
	bool kek;                 /* SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT: a key-encryption key
	                           * (CKK_AES, 32 bytes) for envelope encryption */
	unsigned char *spki;      /* public key, DER SubjectPublicKeyInfo */
	size_t spki_len;
	char *label;              /* CKA_LABEL tag, or NULL */
	unsigned char id[128];    /* CKA_ID tag */
	size_t id_len;
	char *nonce;              /* hwagg-request tag, or NULL */
	bool dead;                /* deletion scheduled: not listed any more */
	bool seen;                /* in the current listing (under the slot lock) */
} hw_kms_key;

typedef struct hw_kms_ctx {
	hw_cloud_slot cs;         /* first: the shared hooks take the context as it is */
	/* region, url and host are set once: at open, or by the first call
	 * (hw_kms_locate) when the region comes from instance metadata; read
	 * only after located is seen true */
	char *region;
	char *url;                /* "<endpoint>/" */
	char *host;               /* Host header: the endpoint's authority */
	bool located;             /* atomic */
	pthread_mutex_t where;    /* one region lookup at a time, held across its I/O */
	char *token_id;           /* what the serial number is made of (fixed at open) */
	int window_days;
	char **keys;              /* configured key ids/aliases/ARNs */
	size_t nkeys;
	hw_aws_chain chain;
	bool opened;
	pthread_mutex_t lock;     /* recs, foreign */
	hw_kms_key **recs;
	size_t nrecs, cap;
	char **foreign;           /* ARNs of listed keys that are not ours */
	size_t nforeign, fcap;
	time_t loaded_at;
} hw_kms_ctx;

/* The region and endpoint known, looking the region up in instance
 * metadata the first time when nothing configured one (aws_kms.c). */
CK_RV hw_kms_locate(hw_kms_ctx *c, hw_cloud_err *e);

/* ---- one KMS call (aws_kms_api.c) -------------------------------------------- */
/* POST TrentService.<op> with body req (not consumed); *resp gets the
 * parsed answer (json_object_put it). A failure is logged with its cause
 * and request id and marks the slot down when the service is unreachable. */
CK_RV hw_kms_call(hw_kms_ctx *c, const char *op, bool idempotent, json_object *req, json_object **resp,
		  hw_cloud_err *e);
/* The same, idempotent, with at most attempts tries within deadline_ms
 * (when the engine set no deadline): the health probe. */
CK_RV hw_kms_call_ex(hw_kms_ctx *c, const char *op, json_object *req, json_object **resp, hw_cloud_err *e,
		     int attempts, int deadline_ms);

/* ---- keys (aws_kms_keys.c) ---------------------------------------------------- */
/* The record of a key by ARN, added if new (under c->lock). */
hw_kms_key *hw_kms_key_find_inlock(hw_kms_ctx *c, const char *arn);
hw_kms_key *hw_kms_key_add_inlock(hw_kms_ctx *c, hw_kms_key *k);
size_t hw_kms_key_index_inlock(hw_kms_ctx *c, const hw_kms_key *k);
/* Describe + GetPublicKey (+ tags) into a new record (not yet added). */
CK_RV hw_kms_key_fetch(hw_kms_ctx *c, const char *key_id, bool want_tags, hw_kms_key **out, hw_cloud_err *e);
void hw_kms_key_free(hw_kms_key *k);
/* The attributes of a key's two objects. */
CK_RV hw_kms_key_attrs(hw_kms_ctx *c, const hw_kms_key *k, hw_attrs *pub, hw_attrs *priv);
/* Every key of the slot, reported to sink. */
CK_RV hw_kms_list(void *vc, hw_obj_sink sink, void *arg);
/* The key table for the shared hooks (cloud_slot.h). */
size_t hw_kms_count(void *vc);
hw_cloud_rec hw_kms_record(void *vc, size_t i, hw_cloud_keyinfo *ki, void **bdata);
/* A hwagg key carrying this CreateKey nonce, if one exists (its ARN). */
CK_RV hw_kms_find_nonce(hw_kms_ctx *c, const char *nonce, char **arn, hw_cloud_err *e);

/* ---- operations (aws_kms_ops.c) ----------------------------------------------- */
CK_RV hw_kms_sign(void *vc, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
CK_RV hw_kms_decrypt(void *vc, const void *key, const hw_crypt_req *req, unsigned char *out,
		     size_t *out_len);
CK_RV hw_kms_generate(void *vc, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		      int64_t *priv_oid, void **bdata);
/* CreateKey of spec and usage with hwagg's tags (label, id, and the extra
 * tag key=value when key is set), then the new key's record: *kept
 * (in the table, shown) and its index *idx. */
CK_RV hw_kms_create_key(hw_kms_ctx *c, const char *spec, const char *usage, const CK_ATTRIBUTE *la,
			const CK_ATTRIBUTE *ia, const char *key, const char *value, hw_kms_key **kept, size_t *idx);
/* record i is live (hw_cloud_destroy checked) */
CK_RV hw_kms_destroy(void *vc, size_t i);
/* DisableKey of record i (live) */
CK_RV hw_kms_disable(void *vc, size_t i);

/* ---- HMAC keys (aws_kms_secret.c) --------------------------------------------- */
#define HW_KMS_MAC_MAX 4096       /* GenerateMac's Message: 1 to 4096 bytes */
CK_RV hw_kms_generate_secret(void *vc, const CK_MECHANISM *mech, hw_attrs *attrs, int64_t *oid, void **bdata);
CK_RV hw_kms_mac(void *vc, const void *key, CK_MECHANISM_TYPE hash, const unsigned char *msg, size_t len,
		 unsigned char *out, size_t *out_len, const unsigned char *want, size_t want_len);
/* Envelope encryption: Encrypt / Decrypt of a data key's value under a
 * SYMMETRIC_DEFAULT key, with the encryption context {"hwagg": "data-key"} */
CK_RV hw_kms_wrap(void *vc, const void *kek, const unsigned char *pt, size_t len, unsigned char **ct, size_t *ct_len);
CK_RV hw_kms_unwrap(void *vc, const void *kek, const unsigned char *ct, size_t len, hw_secret **pt);

#endif
