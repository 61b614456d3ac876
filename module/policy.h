/*
 * The policy slot: one token (label: the slot's name, "hwagg" by
 * convention) whose keys go where the environment's rules say.
 *
 * It is not a backend. It has an ops row in the registry only for its
 * config keys, its token info and its login; everything else is the engine
 * resolving, per call, which member slot does the work:
 *
 *   application ──► policy token "hwagg" (slot P)
 *                     │ C_GenerateKeyPair: placement (policy_place.c)
 *                     │   first member in precedence that is eligible
 *                     │   (security >= the environment's minimum, the
 *                     │   mechanism allowed and offered); unavailable ->
 *                     │   fail closed, or the next one when fallback is on
 *                     │ C_Sign/C_Decrypt/C_DestroyObject/attributes on a
 *                     │   key: the key's owner slot does it (its ops, its
 *                     │   op_begin, its deadline, its mechanism policy)
 *                     ▼
 *          member slots M1 (hsm), M2 (tpm), M3 (soft) ... their own tokens too
 *
 * The seam, in the engine:
 *   - Objects: a member's objects are the same hw_obj (same handle, same
 *     snapshots) on the policy token; hw_obj_lookup on P accepts an object
 *     whose owner slot is a member, visible by the owner's login state.
 *     C_FindObjects on P walks the members' cached listings (each synced by
 *     its own refresh_s), never a fresh listing of every member per call.
 *     Only members eligible in the current environment are shown or used.
 *   - Key operations: op_init, sign, decrypt, destroy, set/copy use
 *     hw_g.slots[key->slot], which is the session's slot for every other
 *     slot. Session objects made through a P session belong to that session
 *     and go when it closes.
 *   - Login: C_Login on P logs in to each eligible member that needs it,
 *     with the same PIN or the member's "pin_files" entry, through
 *     hw_slot_login (the member's login state is the engine's one state,
 *     shared with the member's own token). Logging out of a member on its
 *     own token makes P's keys there invisible until C_Login on P again (P
 *     then logs in those members again instead of answering
 *     CKR_USER_ALREADY_LOGGED_IN). C_Logout on P (or P's last session
 *     closing) logs out the members P logged in. A member P logged in stays
 *     logged in while P has sessions, even when the member's own last
 *     session closes.
 *   - Environment: hw_env_current(), the one truth (config, env variable or
 *     detection, policy_env.c). In production a key marked
 *     CKA_HWAGG_ENVIRONMENT "development" is refused for sign and decrypt
 *     on every token (CKR_KEY_FUNCTION_NOT_PERMITTED, logged).
 *
 * Locks: P's io lock before its members' io locks; nothing else nests.
 */
#ifndef HW_POLICY_H
#define HW_POLICY_H

#include "module/session.h"
#include "module/policy_conf.h"

extern const hw_backend_ops hw_policy_ops;
extern const hw_conf_key hw_policy_conf_keys[];

/* The slot's policy state once its ops are open, else NULL. */
struct hw_policy *hw_policy_of(hw_slot *s);

/* ---- the environment (policy_env.c) ----------------------------------- */
/* The environment now: explicit (file, $HWAGG_ENVIRONMENT) or detected once
 * per process for "auto". why (may be NULL) gets the reason. */
hw_env hw_env_current(char *why, size_t why_len);
/* Detection alone, from the signals (tests and hwagg status). */
hw_env hw_env_detect(char *why, size_t why_len);
/* The policy section in force (the defaults when the file has none). */
const hw_policy_conf *hw_policy_conf_get(void);

/* ---- members (policy.c) ------------------------------------------------ */
/* Whether slot index m is a configured member of policy slot p (no lock). */
bool hw_policy_is_member(const hw_slot *p, size_t m);
/* Member m's keys meet the current environment's minimum security. */
bool hw_policy_eligible(const hw_slot *m, char *why, size_t why_len);
/* Members in precedence order; returns the count (at most cap). */
size_t hw_policy_order(const hw_slot *p, size_t *out, size_t cap);
/* Some member P logged in is logged out now. */
bool hw_policy_members_out(hw_slot *p);
/* A policy slot with sessions holds m logged in. */
bool hw_policy_member_in_use(const hw_slot *m);
/* A session of P closed: its session objects on the members go. */
void hw_policy_session_closed(hw_slot *p, CK_SESSION_HANDLE h);
/* C_FindObjectsInit on P: matching visible objects of the eligible members
 * (appended to *found). */
CK_RV hw_policy_find(hw_slot *p, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE **found, size_t *nf);
/* Whether P offers mechanism m: some eligible, present member does. */
bool hw_policy_mech(hw_slot *p, const hw_mech *m, CK_MECHANISM_INFO *info);
/* The slot that works on key handle kh for a session of P: the key's owner,
 * an eligible member. Not found: CKR_KEY_HANDLE_INVALID. */
CK_RV hw_policy_key_slot(hw_slot *p, CK_OBJECT_HANDLE kh, hw_slot **out);
/* A private key may be used now: in production, not one made in
 * development (logged, CKR_KEY_FUNCTION_NOT_PERMITTED). Any slot. */
CK_RV hw_policy_key_usable(const hw_slot *owner, const hw_attrs *key);

/* ---- placement (policy_place.c) ---------------------------------------- */
/* C_GenerateKeyPair on P (arguments checked by the caller). */
CK_RV hw_policy_generate_key_pair(hw_session *se, hw_slot *p, const CK_MECHANISM *mech,
				  const CK_ATTRIBUTE *pt, CK_ULONG pn, const CK_ATTRIBUTE *vt, CK_ULONG vn,
				  CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h);
/* Where a new object (C_CreateObject) made through P goes: the first
 * eligible, present member in precedence. NULL: none. */
hw_slot *hw_policy_create_slot(hw_slot *p);
/* Where a new key with mech would go now, and why (no key is made); for
 * hwagg status. CKR_OK with the slot, or the CK_RV generation would give. */
CK_RV hw_policy_would_place(hw_slot *p, CK_MECHANISM_TYPE mech, hw_slot **out, char *why, size_t why_len);
/* The last placement decision in this process, one line (hwagg keygen). */
void hw_policy_last_decision(char *out, size_t len);

/* ---- for placement: the engine's key-pair generation on one slot -------- */
/* fn_keys.c: C_GenerateKeyPair's work on slot s for session se. */
CK_RV hw_keypair_generate(hw_session *se, hw_slot *s, const CK_MECHANISM *mech,
			  const CK_ATTRIBUTE *pt, CK_ULONG pn, const CK_ATTRIBUTE *vt, CK_ULONG vn,
			  CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h);
/* fn_general.c: slot s offers m (backend and slot policy), with its info. */
bool hw_slot_mech(hw_slot *s, const hw_mech *m, CK_MECHANISM_INFO *info);
/* cache.c: append the slot's visible objects matching t (slot lock inside). */
CK_RV hw_slot_collect(hw_slot *s, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE **found, size_t *nf);

#endif
