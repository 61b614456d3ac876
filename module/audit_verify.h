/*
 * Reading and checking an audit log (the format: docs/hwagg-audit.5): the
 * record parser and the chain check behind `hwagg audit verify` and `show`.
 * Nothing here needs the module to be initialized.
 */
#ifndef HW_AUDIT_VERIFY_H
#define HW_AUDIT_VERIFY_H

#include "common/ck.h"
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdint.h>

#define HW_AUDIT_HASH_BYTES 32

typedef struct hw_audit_rec {
	json_object *obj;             /* the whole record (owned) */
	uint64_t seq;
	unsigned char prev[HW_AUDIT_HASH_BYTES];
	const char *event;            /* in obj */
	const char *time;             /* in obj */
	/* event "checkpoint" */
	uint64_t head_seq;
	unsigned char head[HW_AUDIT_HASH_BYTES];
	const char *mech;             /* in obj */
	unsigned char *sig;           /* owned */
	size_t sig_len;
	/* event "recover" */
	uint64_t torn_bytes;
	unsigned char torn[HW_AUDIT_HASH_BYTES];
} hw_audit_rec;

/* One line without its newline. CKR_OK, or CKR_DATA_INVALID with *why
 * saying what is wrong (a static string). */
CK_RV hw_audit_rec_parse(const char *line, size_t len, hw_audit_rec *r, const char **why);
void hw_audit_rec_clear(hw_audit_rec *r);
/* A string member of the record, or NULL; "key.label" reaches into "key". */
const char *hw_audit_rec_str(const hw_audit_rec *r, const char *name);

typedef struct hw_audit_result {
	size_t lines, records, checkpoints, checked, recovered;
	size_t unanchored;            /* records after the last checked checkpoint */
	size_t bad_line;              /* the first problem's line, from 1; 0: none */
	char why[256];
} hw_audit_result;

/* Check the chain of a whole log (len bytes at buf) and, with key (may be
 * NULL), every checkpoint's signature. CKR_OK: no problem; CKR_DATA_INVALID:
 * res->bad_line and res->why say the first one; CKR_HOST_MEMORY. */
CK_RV hw_audit_verify(const char *buf, size_t len, EVP_PKEY *key, hw_audit_result *res);
/* A public key from a PEM file (SubjectPublicKeyInfo). */
CK_RV hw_audit_load_key(const char *pem_path, EVP_PKEY **out);

#endif
