/*
 * What the audit log's parts share: the file (audit_file.c), the records
 * (audit.c) and the checkpoints (audit_cp.c).
 */
#ifndef HW_AUDIT_INT_H
#define HW_AUDIT_INT_H

#include "module/audit.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define HW_AUDIT_LINE_MAX  8192   /* one record, newline included */
#define HW_AUDIT_HASH_LEN  32     /* SHA-256 */

/* The log file of this process. Appends are serialized by lock (threads)
 * and an flock on fd (processes; fd is this process's own open file
 * description, reopened after fork so a child never shares its parent's
 * lock). The tail's hash is cached only while the file ends where our
 * last write ended. */
typedef struct hw_audit_file {
	char *path;
	int fd;
	pid_t pid;                          /* process that opened fd */
	pthread_mutex_t lock;
	bool cached;
	dev_t dev;
	ino_t ino;
	off_t end;                          /* file size after our last write */
	uint64_t seq;                       /* the last record's number */
	unsigned char hash[HW_AUDIT_HASH_LEN];   /* the last record's hash */
} hw_audit_file;

/* Open (create, mode 0660 under the umask: users of one group may share a
 * log) for appending; logs why not. */
CK_RV hw_audit_file_open(hw_audit_file *f, const char *path);
void hw_audit_file_close(hw_audit_file *f);
/* Append one record: {"seq":N,"prev":"<hash of the last record>" then
 * common (",\"time\":...": who and when) and fields (the rest, from ',').
 * A torn last line (a writer died mid-append) is closed and followed by a
 * "recover" record naming it, and the chain continues from the last whole
 * record. *seq and head (may be NULL) receive the new record's number and
 * hash; copy (may be NULL, HW_AUDIT_LINE_MAX bytes) the line written. */
CK_RV hw_audit_file_append(hw_audit_file *f, const char *common, const char *fields,
			   uint64_t *seq, unsigned char *head, char *copy);

/* The SHA-256 of a line (without its newline). */
CK_RV hw_audit_hash(const void *line, size_t len, unsigned char out[HW_AUDIT_HASH_LEN]);

/* The signing message of a checkpoint over the record numbered seq whose
 * hash is head (hex): shared by the signer and the verifier. */
int hw_audit_cp_message(char *out, size_t cap, uint64_t seq, const char *head_hex);

/* Sign the chain head with the configured key and append the checkpoint
 * record (audit_cp.c). Called with no lock held; nested engine calls
 * record nothing. */
void hw_audit_checkpoint(const char *uri, uint64_t seq, const unsigned char *head);
/* Append a record of fields (",\"event\":..."): the checkpoint's writer. */
CK_RV hw_audit_write(const char *fields, uint64_t *seq, unsigned char *head);
/* This thread is inside a checkpoint: its engine calls record nothing. */
extern __thread bool hw_audit_busy;

#endif
