/*
 * Sessions, the object handle table and each slot's object cache. All
 * handle translation happens here: handles are never reused in a process,
 * are looked up and used under the same lock, and close/logout drop the
 * handles they invalidate.
 */
#ifndef HW_SESSION_H
#define HW_SESSION_H

#include "module/global.h"
#include "module/cache.h"
#include "mechanisms/mech.h"
#include "mechanisms/cipher.h"

typedef enum { HW_OP_SIGN, HW_OP_VERIFY, HW_OP_ENCRYPT, HW_OP_DECRYPT, HW_OP_DIGEST, HW_OP_COUNT } hw_op_kind;

typedef struct hw_op {
	bool active;
	const hw_mech *mech;
	hw_obj *key;                  /* ref held while active */
	hw_snap *snap;                /* the key's attributes the operation started with */
	EVP_PKEY *pkey;               /* public key for verify/encrypt (owned) */
	hw_digest *dg;                /* hash-then-sign / digest */
	unsigned char *buf;           /* single-part input collected */
	size_t len, cap;
	bool updated;                 /* a *Update call was made */
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	unsigned char *label;         /* copy of the OAEP label */
	void *bop;                    /* backend op_begin state (released by hw_op_end) */
	bool borrowed;                /* key and snap are the session's (last_key), not the op's */
	size_t out_len;               /* signature or output length for the key (0: unknown) */
	/* a secret-key operation (module/fn_cipher.c): the backend's stream */
	void *sk;
	hw_sk_params skp;
	size_t fed, emitted;          /* bytes in and out so far */
} hw_op;

typedef struct hw_session {
	CK_SESSION_HANDLE handle;
	size_t slot;
	uint64_t epoch;               /* the slot's token epoch at open */
	CK_FLAGS flags;
	pthread_mutex_t lock;
	int refs;
	bool closed;
	hw_op ops[HW_OP_COUNT];
	bool finding;
	CK_OBJECT_HANDLE *found;
	size_t nfound, found_pos;
	/* The key of the last operation, referenced until the session ends or
	 * uses another key (under the session lock): a session that signs with
	 * one key again and again, as a TLS server's does, then takes no lock
	 * and writes no reference count that other threads also write. */
	struct {
		CK_OBJECT_HANDLE h;
		hw_obj *key;
		hw_snap *snap;
		int ok_kind;          /* op_init's key checks passed for kind + 1 ... */
		CK_MECHANISM_TYPE ok_mech;   /* ... with this mechanism (0: none yet) */
		size_t out_len;       /* the output length for that mechanism */
	} last_key;
} hw_session;

/* Look up and reference a session (table lock taken and released inside);
 * a session whose token was removed since it was opened is invalid.
 * Release with hw_session_put. */
CK_RV hw_session_get(CK_SESSION_HANDLE h, hw_session **out);
void hw_session_put(hw_session *s);
/* For functions hwagg answers the same way for every valid session: the
 * session errors first (B 5.1 precedence), then answer. */
CK_RV hw_session_answer(CK_SESSION_HANDLE h, CK_RV answer);
CK_RV hw_session_open(hw_slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *out);
CK_RV hw_session_close(CK_SESSION_HANDLE h);
CK_RV hw_session_close_all(hw_slot *slot);
/* Close the slot's sessions opened under another token epoch. */
void hw_session_close_stale(hw_slot *slot, uint64_t epoch);
/* Count of this application's sessions on a slot (table locks inside). */
void hw_session_counts(hw_slot *slot, unsigned *all, unsigned *rw, bool *ro_exists, bool *so_rw);
/* Session state per the UG table (CKS_*). */
CK_STATE hw_session_state(const hw_session *s, const hw_slot *slot);
void hw_op_end(hw_op *op);
void hw_sessions_drop_all(bool child);   /* finalize; child: after fork */
void hw_sessions_atfork_child(void);     /* the table's locks start unlocked */

/* ---- objects (cache.h has the rest) -------------------------------------------- */
/* Resolve a handle visible to the session, with a reference. */
CK_RV hw_obj_get(hw_session *s, CK_OBJECT_HANDLE h, CK_RV not_found, hw_obj **out);
/* The key h and its current attributes for an operation, held by the
 * session (last_key; session lock held): the operation borrows them. */
CK_RV hw_session_key(hw_session *s, CK_OBJECT_HANDLE h, hw_obj **key, hw_snap **snap);

#endif
