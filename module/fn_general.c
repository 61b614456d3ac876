/*
 * General, slot and token functions (B 5.4, 5.5).
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "common/log.h"
#include "mechanisms/mech.h"
#include "mechanisms/cipher.h"
#include "module/mechpolicy.h"
#include "module/policy.h"

#include <stdio.h>
#include <string.h>

#define HW_MANUFACTURER "hwagg"

/* Blank-padded, not NUL-terminated (B 3.1, 3.2). */
static void pad(void *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

CK_RV hw_C_Initialize(void *init_args)
{
	return hw_initialize(init_args);
}

CK_RV hw_C_Finalize(void *reserved)
{
	return hw_finalize(reserved);
}

/* CK_INFO.cryptokiVersion is the version of the list the application
 * called through: 2.40 from C_GetFunctionList, 3.0 from the 3.0 interface
 * (B3.0 3.6: the list's version equals cryptokiVersion). */
static CK_RV get_info(CK_INFO *info, CK_BYTE major, CK_BYTE minor)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(info == NULL, CKR_ARGUMENTS_BAD);
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = major;
	info->cryptokiVersion.minor = minor;
	pad(info->manufacturerID, sizeof(info->manufacturerID), HW_MANUFACTURER);
	pad(info->libraryDescription, sizeof(info->libraryDescription), "hwagg keystore aggregator");
	info->libraryVersion.major = 0;
	info->libraryVersion.minor = 1;
	return CKR_OK;
}

CK_RV hw_C_GetInfo(CK_INFO *info)
{
	return get_info(info, 2, 40);
}

CK_RV hw_C_GetInfo30(CK_INFO *info)
{
	return get_info(info, 3, 0);
}

CK_RV hw_C_GetSlotList(unsigned char token_present, CK_SLOT_ID *list, CK_ULONG *count)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(count == NULL, CKR_ARGUMENTS_BAD);
	CK_ULONG n = 0;
	for (size_t i = 0; i < hw_g.nslots; i++) {
		if (token_present && !hw_slot_present(&hw_g.slots[i]))
			continue;
		if (list != NULL && n < *count)
			list[n] = i;
		n++;
	}
	rv = (list != NULL && n > *count) ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*count = n;
	return rv;
}

CK_RV hw_C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO *info)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(info == NULL, CKR_ARGUMENTS_BAD);
	char desc[80];
	memset(info, 0, sizeof(*info));
	snprintf(desc, sizeof(desc), "hwagg %s slot %s", s->conf->type, s->conf->name);
	pad(info->slotDescription, sizeof(info->slotDescription), desc);
	pad(info->manufacturerID, sizeof(info->manufacturerID), HW_MANUFACTURER);
	/* Any backend can go away (B 3.2: then the slot must be removable
	 * from the start). */
	info->flags = CKF_REMOVABLE_DEVICE;
	if (hw_slot_present(s))
		info->flags |= CKF_TOKEN_PRESENT;
	info->hardwareVersion.major = 0;
	info->firmwareVersion.major = 0;
	info->firmwareVersion.minor = 1;
	return CKR_OK;
}

CK_RV hw_C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO *info)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(info == NULL, CKR_ARGUMENTS_BAD);
	CK_TOKEN_INFO ti;
	memset(&ti, 0, sizeof(ti));
	pad(ti.model, sizeof(ti.model), s->conf->type);
	pad(ti.serialNumber, sizeof(ti.serialNumber), "");
	if (!hw_slot_activate(s) || s->ops->token_info == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	rv = s->ops->token_info(s->ctx, &ti);
	hw_slot_reconcile(s);
	if (rv != CKR_OK)
		return rv;
	/* the label is the slot's name: that is how configs and URIs find it */
	pad(ti.label, sizeof(ti.label), s->conf->name);
	/* a hardware backend may name its device's maker and firmware */
	bool own_maker = ti.manufacturerID[0] != '\0';
	if (!own_maker)
		pad(ti.manufacturerID, sizeof(ti.manufacturerID), HW_MANUFACTURER);
	unsigned all, rw;
	hw_session_counts(s, &all, &rw, NULL, NULL);
	ti.ulSessionCount = all;
	ti.ulRwSessionCount = rw;
	ti.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	ti.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	ti.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	ti.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	ti.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	ti.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	ti.hardwareVersion.major = 0;
	if (!own_maker)
		ti.firmwareVersion.minor = 1;
	memset(ti.utcTime, ' ', sizeof(ti.utcTime));
	ti.flags &= ~(CK_FLAGS)CKF_CLOCK_ON_TOKEN;
	ti.flags &= ~(CK_FLAGS)CKF_SECONDARY_AUTHENTICATION;
	*info = ti;
	return CKR_OK;
}

CK_RV hw_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID *slot, void *reserved)
{
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	/* Token presence changes only when a backend goes up or down; hwagg
	 * does not watch for that yet (README: not supported). */
	return CKR_FUNCTION_NOT_SUPPORTED;
}

/* Whether slot s offers mechanism m (the backend can, the slot's policy
 * lets it), and its info. */
bool hw_slot_mech(hw_slot *s, const hw_mech *m, CK_MECHANISM_INFO *info)
{
	CK_MECHANISM_INFO base;
	memset(&base, 0, sizeof(base));
	if (!hw_mech_permitted(s->conf, m->type)) {
		return false;
	} else if (s->policy != NULL) {
		return hw_policy_mech(s, m, info);   /* what its eligible members offer */
	} else if (m->key_type == HW_NO_KEY) {
		/* digests are done in software for every slot */
		base.flags = m->flags;
	} else if (s->ops->has_mechanism == NULL || !s->ops->has_mechanism(s->ctx, m->base, &base)) {
		return false;
	}
	if (info != NULL) {
		hw_mech_key_range(s->conf, m, &info->ulMinKeySize, &info->ulMaxKeySize);
		/* verify/encrypt with a public key are done in software */
		/* (secret keys: only what the backend does) */
		CK_FLAGS can = base.flags | (hw_mech_secret_op(m) ? 0 : CKF_VERIFY | CKF_ENCRYPT) | CKF_DIGEST |
			       CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_CURVENAME;
		info->flags = m->flags & can;
		if (base.flags & CKF_HW)
			info->flags |= CKF_HW;
		if (base.ulMinKeySize > info->ulMinKeySize)
			info->ulMinKeySize = base.ulMinKeySize;
		if (base.ulMaxKeySize != 0 && base.ulMaxKeySize < info->ulMaxKeySize)
			info->ulMaxKeySize = base.ulMaxKeySize;
	}
	return true;
}

CK_RV hw_C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(count == NULL, CKR_ARGUMENTS_BAD);
	if (!hw_slot_present(s))
		return CKR_TOKEN_NOT_PRESENT;
	size_t nm;
	const hw_mech *t = hw_mech_table(&nm);
	CK_ULONG n = 0;
	for (size_t i = 0; i < nm; i++) {
		if (!hw_slot_mech(s, &t[i], NULL))
			continue;
		if (list != NULL && n < *count)
			list[n] = t[i].type;
		n++;
	}
	rv = (list != NULL && n > *count) ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*count = n;
	return rv;
}

CK_RV hw_C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(info == NULL, CKR_ARGUMENTS_BAD);
	if (!hw_slot_present(s))
		return CKR_TOKEN_NOT_PRESENT;
	const hw_mech *m = hw_mech_find(type);
	if (m == NULL || !hw_slot_mech(s, m, info))
		return CKR_MECHANISM_INVALID;
	return CKR_OK;
}

/* The 32 blank-padded bytes of C_InitToken's label: the slot's name, or
 * all blanks (no label given: the name stays). */
static bool label_is_name(const unsigned char *label, const char *name)
{
	size_t n = strlen(name), i;
	bool blank = true;
	for (i = 0; i < 32; i++)
		blank = blank && label[i] == ' ';
	if (blank)
		return true;
	if (n > 32 || memcmp(label, name, n) != 0)
		return false;
	for (i = n; i < 32 && label[i] == ' '; i++)
		;
	return i == 32;
}

CK_RV hw_C_InitToken(CK_SLOT_ID id, unsigned char *pin, CK_ULONG pin_len, unsigned char *label)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(label == NULL || (pin == NULL && pin_len > 0), CKR_ARGUMENTS_BAD);
	if (!hw_slot_present(s))
		return CKR_TOKEN_NOT_PRESENT;
	if (s->ops->init_token == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (!label_is_name(label, s->conf->name)) {
		/* the label is the slot's name in the configuration: taking
		 * another would wipe the keys and keep the old label */
		hw_warn("slot \"%s\": initialize token refused: the label given is not the slot's name; a token's "
			"label comes from the configuration (%s): initialize it with label \"%s\"", s->conf->name,
			hw_g.config->path ? hw_g.config->path : "the built-in default", s->conf->name);
		return CKR_ARGUMENTS_BAD;
	}
	unsigned all;
	hw_session_counts(s, &all, NULL, NULL, NULL);
	if (all > 0)
		return CKR_SESSION_EXISTS;     /* B 5.5.7 */
	hw_lock(&s->io);
	rv = s->ops->init_token(s->ctx, pin, pin_len, label);
	if (rv == CKR_OK) {
		hw_lock(&s->lock);
		hw_slot_drop_objects_inlock(s, false, 0);
		hw_unlock(&s->lock);
	}
	hw_unlock(&s->io);
	hw_info("slot \"%s\": initialize token: %s", s->conf->name, hw_rv_name(rv));
	return rv;
}

CK_RV hw_C_InitPIN(CK_SESSION_HANDLE h, unsigned char *pin, CK_ULONG pin_len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if (pin == NULL && pin_len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (hw_session_state(se, s) != CKS_RW_SO_FUNCTIONS)
		rv = CKR_USER_NOT_LOGGED_IN;   /* B 5.5.8 */
	else if (s->ops->init_pin == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else {
		hw_lock(&s->io);
		rv = s->ops->init_pin(s->ctx, pin, pin_len);
		hw_unlock(&s->io);
	}
	hw_info("slot \"%s\": initialize the user PIN: %s", s->conf->name, hw_rv_name(rv));
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_SetPIN(CK_SESSION_HANDLE h, unsigned char *old_pin, CK_ULONG old_len,
		  unsigned char *new_pin, CK_ULONG new_len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_slot *s = &hw_g.slots[se->slot];
	if ((old_pin == NULL && old_len > 0) || (new_pin == NULL && new_len > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (!(se->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;    /* B 5.5.9 */
	else if (s->ops->set_pin == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else {
		hw_lock(&s->io);
		rv = s->ops->set_pin(s->ctx, s->auth == HW_AUTH_SO ? HW_AUTH_SO : HW_AUTH_USER,
				     old_pin, old_len, new_pin, new_len);
		hw_unlock(&s->io);
	}
	hw_info("slot \"%s\": change PIN: %s", s->conf->name, hw_rv_name(rv));
	hw_session_put(se);
	return rv;
}
