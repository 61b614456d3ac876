/*
 * The per-slot mechanism policy: the one place that says whether a slot may
 * use a mechanism, and with which key sizes. The configuration sets it
 * (hwagg.json(5): "mechanisms" allow/deny, "rsa_min_bits"); every entry
 * point that lists, describes, starts or generates with a mechanism asks
 * here.
 */
#ifndef HW_MECHPOLICY_H
#define HW_MECHPOLICY_H

#include "module/conf.h"
#include "mechanisms/mech.h"

/* Whether the slot's configuration lets the mechanism be used at all:
 * in "allow" when that is given, and not in "deny". sc NULL: no policy. */
bool hw_mech_permitted(const hw_slot_conf *sc, CK_MECHANISM_TYPE type);
/* The same as an answer for *Init and key management: CKR_OK, or
 * CKR_MECHANISM_INVALID with a log line naming the slot. */
CK_RV hw_mech_policy_check(const hw_slot_conf *sc, const hw_mech *m);
/* The key sizes the slot allows with m, in the mechanism's units (what
 * C_GetMechanismInfo reports): the table's range, raised by the slot's
 * minimum for the key type. */
void hw_mech_key_range(const hw_slot_conf *sc, const hw_mech *m, CK_ULONG *min, CK_ULONG *max);
/* A key of this size with m on the slot: CKR_OK, or CKR_KEY_SIZE_RANGE
 * with a log line. Mechanisms without keys always pass. */
CK_RV hw_mech_key_size_check(const hw_slot_conf *sc, const hw_mech *m, CK_ULONG size);
/* Say once, at initialization, which slots allow keys below the default
 * minimum (warn level). */
void hw_mech_policy_announce(const hw_config *cfg);

#endif
