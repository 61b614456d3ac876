/*
 * The audit log: every key generation, import, destroy, login, logout,
 * signature, decryption, wrap and unwrap on every slot is recorded by the
 * engine, so a new backend is covered without code of its own. Records are
 * JSON lines, hash-chained (each carries the SHA-256 of the line before),
 * appended by any number of processes at once (audit_file.c), optionally
 * anchored by checkpoints signed with a key of any slot (audit_cp.c), and
 * checked by `hwagg audit verify` (audit_verify.c). Records name keys (ID,
 * label, version, provider URI), never key bytes, PINs, tokens or
 * signatures. docs/hwagg-audit.5 is the record format.
 */
#ifndef HW_AUDIT_H
#define HW_AUDIT_H

#include "common/ck.h"
#include "module/conf.h"
#include "objects/attrs.h"

typedef enum {
	HW_AUDIT_KEYGEN,        /* C_GenerateKeyPair, C_GenerateKey */
	HW_AUDIT_IMPORT,        /* C_CreateObject of a key */
	HW_AUDIT_DESTROY,       /* C_DestroyObject of a key */
	HW_AUDIT_LOGIN,
	HW_AUDIT_LOGOUT,
	HW_AUDIT_SIGN,
	HW_AUDIT_DECRYPT,
	HW_AUDIT_WRAP,
	HW_AUDIT_UNWRAP,
	HW_AUDIT_POLICY,        /* a policy slot's decision: what = placement, fallback, refusal */
	HW_AUDIT_NOTE,          /* a backend's own record (hw_audit_note) */
	HW_AUDIT_KIND_COUNT
} hw_audit_kind;

struct hw_slot;

typedef struct hw_audit_ev {
	hw_audit_kind kind;
	const struct hw_slot *slot;   /* NULL: not about a slot */
	const hw_attrs *key;          /* the key's attributes, NULL when none */
	CK_OBJECT_HANDLE handle;      /* the key's handle: summaries count per key */
	const char *mech;             /* mechanism name, NULL when none */
	CK_RV rv;
	const char *user;             /* login: "user" or "SO" */
	const char *what;             /* note: what happened */
	const char *detail;           /* note: more, or NULL */
} hw_audit_ev;

/* Where the configuration puts the log: "audit"."path", else
 * <store>/audit.jsonl. */
void hw_audit_path(const hw_config *cfg, char *out, size_t cap);

/* At C_Initialize, after the configuration: open the log. An unwritable
 * log fails in production and staging (CKR_FUNCTION_FAILED, logged) and
 * turns auditing off with a warning in development. */
CK_RV hw_audit_open(const hw_config *cfg);
/* At C_Finalize: flush the signature counts and close. child: a forked
 * child abandoning its parent's state (the counts are the parent's). */
void hw_audit_close(bool child);
void hw_audit_atfork_child(void);

/* Record an event. Called with no engine lock held (a checkpoint may sign
 * through the engine). Never fails the operation it records: a record
 * that cannot be written is logged. */
void hw_audit_event(const hw_audit_ev *ev);
/* Copy into dst (initialized) the attributes a record shows of a key (class,
 * ID, label, version, backend, provider URI): for a key about to be handed
 * over to the object cache. */
void hw_audit_subject_copy(hw_attrs *dst, const hw_attrs *src);
/* Whether records are being written (false: events cost nothing). */
bool hw_audit_on(void);

/* A backend's own record (attestation, policy decisions): the service
 * slots/services.h gives backend modules. May be called from inside any
 * hook: it only appends (a due checkpoint waits for the next record). */
/* hw_audit_event for a caller that holds an engine lock: a checkpoint that
 * is due waits for the next record. */
void hw_audit_event_in_lock(const hw_audit_ev *ev);
void hw_audit_note(const char *slot, const char *what, const char *detail, CK_RV rv);

#endif
