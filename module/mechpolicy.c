/*
 * The mechanism policy of a slot. Two kinds of rule, both data: the
 * configuration's allow/deny lists of mechanism types, and minimum key
 * sizes per key type (the floors table below), which narrow the mechanism
 * table's own ranges. Names refer to the mechanism an application asks
 * for: denying CKM_RSA_PKCS leaves CKM_SHA256_RSA_PKCS, which hwagg builds
 * on it, available; a digest hwagg runs inside hash-then-sign is not
 * subject to the digest mechanism's entry.
 */
#include "module/mechpolicy.h"
#include "common/log.h"

/* Minimum key sizes a slot's configuration sets, per key type: the value
 * (0 = not configured) and its default. */
static CK_ULONG rsa_min(const hw_slot_conf *sc)
{
	return sc->rsa_min_bits;
}

static const struct {
	CK_KEY_TYPE key_type;
	CK_ULONG (*configured)(const hw_slot_conf *sc);
	CK_ULONG dflt;
	const char *what;              /* for log lines */
} floors[] = {
	{ CKK_RSA, rsa_min, HW_RSA_MIN_BITS, "RSA" },
};

static bool listed(const CK_MECHANISM_TYPE *v, size_t n, CK_MECHANISM_TYPE t)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		if (v[i] == t)
			return true;
	return false;
}

bool hw_mech_permitted(const hw_slot_conf *sc, CK_MECHANISM_TYPE type)
{
	if (sc == NULL)
		return true;
	if (sc->mech_allow != NULL && !listed(sc->mech_allow, sc->n_allow, type))
		return false;
	return !listed(sc->mech_deny, sc->n_deny, type);
}

CK_RV hw_mech_policy_check(const hw_slot_conf *sc, const hw_mech *m)
{
	if (hw_mech_permitted(sc, m->type))
		return CKR_OK;
	hw_info("slot \"%s\": %s is not permitted by the slot's configuration", sc->name, m->name);
	return CKR_MECHANISM_INVALID;
}

static CK_ULONG floor_at(const hw_slot_conf *sc, size_t r)
{
	CK_ULONG v = sc != NULL ? floors[r].configured(sc) : 0;
	return v != 0 ? v : floors[r].dflt;
}

/* The slot's minimum for a key type; 0 when there is none. */
static CK_ULONG floor_of(const hw_slot_conf *sc, CK_KEY_TYPE kt)
{
	for (size_t r = 0; r < HW_ARRAY_LEN(floors); r++)
		if (floors[r].key_type == kt)
			return floor_at(sc, r);
	return 0;
}

void hw_mech_key_range(const hw_slot_conf *sc, const hw_mech *m, CK_ULONG *min, CK_ULONG *max)
{
	CK_ULONG f = floor_of(sc, m->key_type);
	*min = f > m->min_key ? f : m->min_key;
	*max = m->max_key;
}

CK_RV hw_mech_key_size_check(const hw_slot_conf *sc, const hw_mech *m, CK_ULONG size)
{
	CK_ULONG min, max;
	if (m->key_type == HW_NO_KEY || m->min_key == 0)
		return CKR_OK;
	hw_mech_key_range(sc, m, &min, &max);
	if (size >= min && size <= max)
		return CKR_OK;
	hw_info("slot \"%s\": %s with a %lu-bit key: the slot allows %lu to %lu", sc ? sc->name : "?",
		m->name, (unsigned long)size, (unsigned long)min, (unsigned long)max);
	return CKR_KEY_SIZE_RANGE;
}

void hw_mech_policy_announce(const hw_config *cfg)
{
	for (size_t i = 0; cfg != NULL && i < cfg->nslots; i++) {
		for (size_t r = 0; r < HW_ARRAY_LEN(floors); r++) {
			CK_ULONG v = floor_at(&cfg->slots[i], r);
			if (v < floors[r].dflt)
				hw_warn("slot \"%s\": %s keys below %lu bits are allowed by configuration (down to %lu)",
					cfg->slots[i].name, floors[r].what, (unsigned long)floors[r].dflt,
					(unsigned long)v);
		}
	}
}
