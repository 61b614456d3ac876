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
} hw_cloud_keyinfo;

/* What the token says of a key pair whatever the template asked (the key
 * never leaves the service), its public values and vendor attributes. */
CK_RV hw_cloud_key_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv);
/* A listed key pair's full attribute sets (a generated one's come from its
 * template), hw_cloud_key_attrs included. */
CK_RV hw_cloud_listed_attrs(const hw_cloud_keyinfo *k, hw_attrs *pub, hw_attrs *priv);

#endif
