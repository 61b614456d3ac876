/*
 * What every cloud KMS slot's token does the same way: present until a
 * call finds the service unreachable, absent from then on, and present
 * again once a probe (started by a token query, run on its own thread,
 * never awaited) or any other call gets an answer, so that C_GetSlotList
 * and C_GetTokenInfo never wait on the network; the optional slot PIN; the
 * token's serial number.
 */
#ifndef HW_CLOUD_SLOT_H
#define HW_CLOUD_SLOT_H

#include "slots/backend.h"
#include "slots/cloud_objdir.h"
#include "slots/cloud_http.h"
#include "common/secret.h"
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct hw_cloud_health {
	const char *slot, *backend;   /* for logs (borrowed) */
	CK_RV (*ping)(void *arg);     /* a short, idempotent call */
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t done;
	int state;                    /* 0 unknown, 1 up, -1 down */
	time_t at;
	char why[192];
	bool probing;
} hw_cloud_health;

void hw_cloud_health_init(hw_cloud_health *h, const char *slot, const char *backend, CK_RV (*ping)(void *),
			  void *arg);
/* Waits for a running probe unless forked. */
void hw_cloud_health_fini(hw_cloud_health *h, bool forked);
/* A call's outcome: an answer of any kind means the service is there. */
void hw_cloud_health_set(hw_cloud_health *h, bool up, const char *why);
/* false while the service is known unreachable (a probe is started at
 * most every 2 s meanwhile). */
bool hw_cloud_health_present(hw_cloud_health *h);
/* The last reason it was down ("" if none) into buf. */
void hw_cloud_health_why(hw_cloud_health *h, char *buf, size_t len);

/* The part of a cloud slot's context that the shared hooks below use: the
 * first member of each cloud backend's context, so that they take its
 * context as it is. */
struct hw_cloud_keyinfo;

/* A record of a cloud slot's key table (oids 2i+1, 2i+2 for record i). */
typedef enum {
	HW_CLOUD_REC_NONE = 0,        /* no such record */
	HW_CLOUD_REC_DEAD,            /* destroyed (deletion or destruction scheduled) */
	HW_CLOUD_REC_HIDDEN,          /* not in the current listing */
	HW_CLOUD_REC_SHOWN,
} hw_cloud_rec;

typedef struct hw_cloud_keyops {
	/* the service's keys into the table (the report is hw_cloud_report's) */
	CK_RV (*list)(void *ctx, hw_obj_sink sink, void *arg);
	/* records in the table, and record i: its state and, unless NONE, its
	 * objects' description and the private key's bdata (under the
	 * backend's lock; records are immutable once added) */
	size_t (*count)(void *ctx);
	hw_cloud_rec (*record)(void *ctx, size_t i, struct hw_cloud_keyinfo *ki, void **bdata);
	/* destroy the (live) key of record i at the service */
	CK_RV (*destroy)(void *ctx, size_t i);
	CK_RV (*generate)(void *ctx, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
			  int64_t *priv_oid, void **bdata);
	/* key: the private key object's bdata */
	CK_RV (*sign)(void *ctx, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
	CK_RV (*decrypt)(void *ctx, const void *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len);
	/* disable the (live) key of record i at the service, so that it can
	 * do nothing until enabled there again; NULL: the service's disable
	 * is not done by this slot (the overlay alone turns the uses off) */
	CK_RV (*disable)(void *ctx, size_t i);
	/* a new version of the service's key of private key bdata key, as
	 * generate makes a key (next: its CKA_HWAGG_KEY_VERSION); NULL: the
	 * service has no versions of it */
	CK_RV (*rotate)(void *ctx, const void *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
			int64_t *priv_oid, void **bdata);
	/* ---- secret keys (cloud_secret.c); NULL: the service has none here ---- */
	/* a new service key for C_GenerateKey (attrs: the engine's template,
	 * completed with hw_cloud_secret_attrs); *oid is 2i+1 of its record */
	CK_RV (*generate_secret)(void *ctx, const CK_MECHANISM *mech, hw_attrs *attrs, int64_t *oid, void **bdata);
	/* the MAC (digest hash) of msg (at most mac_max bytes) under the key of
	 * bdata key: into out (*out_len: room in, length out) or, when want is
	 * set, checked against want (the full MAC) by the service:
	 * CKR_SIGNATURE_INVALID when it differs */
	CK_RV (*mac)(void *ctx, const void *key, CK_MECHANISM_TYPE hash, const unsigned char *msg, size_t len,
		     unsigned char *out, size_t *out_len, const unsigned char *want, size_t want_len);
	size_t mac_max;
	/* envelope encryption (CKM_HWAGG_KMS_WRAP): the service's ciphertext
	 * of a data key's value pt under the key-encryption key of bdata kek
	 * (malloc'd into *ct), and back (into secret memory) */
	CK_RV (*wrap)(void *ctx, const void *kek, const unsigned char *pt, size_t len, unsigned char **ct,
		      size_t *ct_len);
	CK_RV (*unwrap)(void *ctx, const void *kek, const unsigned char *ct, size_t len, hw_secret **pt);
} hw_cloud_keyops;

typedef struct hw_cloud_slot {
	const hw_cloud_keyops *keys;  /* the backend's own key functions */
	const hw_slot_conf *conf;
	const char *pin;              /* NULL: any PIN (the cloud's IAM decides) */
	hw_objdir objs;               /* certificates and data objects */
	unsigned ec_max_bits;         /* the largest curve the service has */
	hw_cloud_health health;       /* the token's presence */
	hw_http_pool pool;            /* the service */
	hw_http_pool meta;            /* its identity endpoints (metadata services, token endpoints) */
	/* the session data keys of envelope encryption (cloud_envelope.c):
	 * the bdata of session objects, told apart from key records by
	 * being in this list */
	pthread_mutex_t dk_lock;
	struct hw_cloud_dkey *dkeys;
} hw_cloud_slot;

/* The shared part of a slot's open (conf set before): the two connection
 * pools (ca: extra CAs or NULL), the object directory and the presence
 * probe (ping(arg)); nothing to undo when it fails. No I/O. */
CK_RV hw_cloud_slot_open(hw_cloud_slot *cs, const hw_config *all, const char *backend, const char *ca,
			 CK_RV (*ping)(void *), void *arg);
/* Its undoing; forked: a child abandons the parent's connections. */
void hw_cloud_slot_close(hw_cloud_slot *cs, bool forked);

/* After a call to the service (op): the error line when it failed, and
 * what its outcome says of the token's presence (status: the last answer's
 * HTTP status, 0 when none came). Returns rv. */
CK_RV hw_cloud_call_done(hw_cloud_slot *cs, const char *backend, const char *op, CK_RV rv, const hw_cloud_err *e,
			 long status);

/* Hooks every cloud slot shares (ctx starts with a hw_cloud_slot), and
 * the part of its hw_backend_ops they fill. */
#define HW_CLOUD_SLOT_HOOKS \
	.has_mechanism = hw_cloud_has_mechanism, .login = hw_cloud_login, .logout = hw_cloud_logout, \
	.changed = hw_cloud_changed, .load = hw_cloud_load, .create = hw_cloud_create, .update = hw_cloud_update, \
	.destroy = hw_cloud_destroy, .generate_key_pair = hw_cloud_generate, .sign = hw_cloud_sign, \
	.decrypt = hw_cloud_decrypt, .rotate_key = hw_cloud_rotate
bool hw_cloud_has_mechanism(void *ctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);
CK_RV hw_cloud_login(void *ctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len);
void hw_cloud_logout(void *ctx);
bool hw_cloud_changed(void *ctx);
CK_RV hw_cloud_create(void *ctx, hw_attrs *attrs, int64_t *oid);
/* The token's part of C_GetTokenInfo: absent while the service is known
 * unreachable (never waiting on it); id makes the serial number. */
CK_RV hw_cloud_token_info(hw_cloud_slot *cs, const char *id, CK_TOKEN_INFO *info);
CK_RV hw_cloud_update(void *ctx, int64_t oid, const hw_attrs *attrs);
CK_RV hw_cloud_load(void *ctx, hw_obj_sink sink, void *arg);
CK_RV hw_cloud_destroy(void *ctx, int64_t oid, void *bdata);
CK_RV hw_cloud_generate(void *ctx, CK_KEY_TYPE type, const hw_keygen *g, bool token, hw_attrs *pub, hw_attrs *priv,
			int64_t *pub_oid, int64_t *priv_oid, void **bdata);
CK_RV hw_cloud_rotate(void *ctx, hw_obj *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid,
		      void **bdata);
CK_RV hw_cloud_sign(void *ctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len);
CK_RV hw_cloud_decrypt(void *ctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len);

/* The slot's PIN check: NULL want accepts any PIN (the cloud identity
 * decides); constant time in the PIN's bytes. */
CK_RV hw_cloud_pin_check(const char *want, const CK_UTF8CHAR *pin, CK_ULONG len);
/* 16 hex digits of SHA-256(id) into the blank-padded serial field. */
void hw_cloud_serial(const char *id, CK_UTF8CHAR serial[16]);

/* "https://host[:port][/]" -> the authority (malloc'd); NULL if not a URL
 * a slot takes (a path or a query). */
char *hw_cloud_authority(const char *url);
/* A configuration error into err; CKR_ARGUMENTS_BAD. */
CK_RV hw_cloud_conf_error(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A signature's room: CKR_OK with *done false when sig (need bytes) may be
 * written; *done true when the call ends here (a size query answered, or
 * CKR_BUFFER_TOO_SMALL), with *sig_len set to need. */
CK_RV hw_cloud_sig_room(unsigned char *sig, size_t *sig_len, size_t need, bool *done);
/* The service's signature raw (got bytes) as PKCS#11 wants it in sig: an EC
 * key's DER becomes r||s of nlen bytes each, an RSA signature must be the
 * modulus' nlen bytes. CKR_DEVICE_ERROR (logged) when it is not. */
CK_RV hw_cloud_sig_out(const hw_cloud_slot *cs, const char *backend, const char *op, CK_KEY_TYPE type, size_t nlen,
		       const unsigned char *raw, size_t got, unsigned char *sig, size_t *sig_len);
/* A plaintext into the caller's buffer (CKR_BUFFER_TOO_SMALL with the
 * length needed). */
CK_RV hw_cloud_plain_out(const unsigned char *pt, size_t pl, unsigned char *out, size_t *out_len);

/* Every SHOWN record's two objects to sink (the listing's second phase). */
CK_RV hw_cloud_report(void *ctx, hw_obj_sink sink, void *arg);

/* A cloud key pair's objects. */
typedef struct hw_cloud_keyinfo {
	const char *backend, *slot;   /* "aws-kms", the slot's name */
	CK_KEY_TYPE type;             /* CKK_EC or CKK_RSA */
	bool decrypt;                 /* a decryption key (else signing) */
	hw_security sec;
	CK_ULONG version;
	const char *uri;              /* the provider's name of the key (version) */
	const unsigned char *spki;    /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	const char *label;            /* CKA_LABEL of a listed key */
	const unsigned char *id;      /* CKA_ID of a listed key, or NULL */
	size_t id_len;
	bool sign_too;                /* a decryption key that signs as well (Azure's key_ops) */
	/* a secret key (its one object, CKO_SECRET_KEY at oid 2i+1) of this
	 * CKA_VALUE_LEN; 0 for a key pair. A secret key that decrypts wraps:
	 * a key-encryption key; else it signs and verifies: a MAC key. */
	CK_ULONG secret_len;
	/* a key pair that wraps (public key, CKA_WRAP) and unwraps (private
	 * key, CKA_UNWRAP) data keys at the service */
	bool wraps;
} hw_cloud_keyinfo;

/* ---- secret keys (cloud_secret.c) ---------------------------------------------- */
/* The attributes of a secret key held by the service, whatever the
 * template asked: it never leaves the service (sensitive, never
 * extractable), its uses are the service key's. */
CK_RV hw_cloud_secret_attrs(const hw_cloud_keyinfo *k, hw_attrs *a);
/* A listed secret key's full attribute set (hw_cloud_secret_attrs with
 * label, id and the listing's defaults). */
CK_RV hw_cloud_secret_listed(const hw_cloud_keyinfo *k, hw_attrs *a);
/* The secret-key mechanisms the slot's service performs. */
bool hw_cloud_secret_mechanism(const hw_cloud_slot *cs, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);
CK_RV hw_cloud_generate_key(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			    void **bdata);
CK_RV hw_cloud_sk_begin(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
CK_RV hw_cloud_sk_update(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			 size_t *out_len);
CK_RV hw_cloud_sk_final(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
			const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len);
void hw_cloud_sk_end(void *ctx, void *op);
/* The secret-key hooks of a cloud slot whose keyops have them. */
#define HW_CLOUD_SECRET_HOOKS \
	.generate_key = hw_cloud_generate_key, .sk_begin = hw_cloud_sk_begin, .sk_update = hw_cloud_sk_update, \
	.sk_final = hw_cloud_sk_final, .sk_end = hw_cloud_sk_end, .free_bdata = hw_cloud_free_bdata
/* ... and those of one whose keyops wrap (envelope encryption) */
#define HW_CLOUD_ENVELOPE_HOOKS .wrap_key = hw_cloud_wrap_key, .unwrap_key = hw_cloud_unwrap_key

/* ---- envelope encryption (cloud_envelope.c) ------------------------------------- */
/* Session AES data keys: made here (CKM_AES_KEY_GEN, CKA_TOKEN false),
 * held in locked memory, used with the software AES ciphers, wrapped and
 * unwrapped by a service key (CKM_HWAGG_KMS_WRAP). */
void hw_cloud_dkeys_init(hw_cloud_slot *cs);
void hw_cloud_dkeys_fini(hw_cloud_slot *cs, bool forked);
bool hw_cloud_envelope_mechanism(const hw_cloud_slot *cs, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info);
CK_RV hw_cloud_dkey_generate(hw_cloud_slot *cs, hw_attrs *attrs, void **bdata);
/* The stream of an AES mechanism with a data key (bdata) (*op: a hw_sk). */
CK_RV hw_cloud_dkey_begin(hw_cloud_slot *cs, void *bdata, CK_FLAGS kind, const CK_MECHANISM *mech, void **op);
CK_RV hw_cloud_wrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *wrapping, hw_obj *key, unsigned char *out,
			size_t *out_len);
CK_RV hw_cloud_unwrap_key(void *ctx, const CK_MECHANISM *mech, hw_obj *unwrapping, const unsigned char *wrapped,
			  size_t len, bool token, hw_attrs *attrs, int64_t *oid, void **bdata);
void hw_cloud_free_bdata(void *ctx, void *bdata);
/* A service's decrypted data key raw (n bytes, malloc'd; wiped and freed)
 * into locked memory *pt. */
CK_RV hw_cloud_secret_take(unsigned char *raw, size_t n, hw_secret **pt);

/* What the token says of a key pair whatever the template asked (the key
 * never leaves the service), its public values and vendor attributes. */
CK_RV hw_cloud_key_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv);
/* A listed key pair's full attribute sets (a generated one's come from its
 * template), hw_cloud_key_attrs included. */
CK_RV hw_cloud_listed_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv);

#endif
