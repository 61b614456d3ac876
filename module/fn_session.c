/*
 * Session management and login (B 5.6, UG "Session events").
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "common/log.h"
#include "module/audit.h"
#include "module/policy.h"

#include <string.h>

CK_RV hw_C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, void *app, CK_NOTIFY notify,
		       CK_SESSION_HANDLE *session)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	HW_RETURN_IF(session == NULL, CKR_ARGUMENTS_BAD);
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (!hw_slot_present(s))
		return CKR_TOKEN_NOT_PRESENT;
	bool so_rw;
	hw_session_counts(s, NULL, NULL, NULL, &so_rw);
	if (!(flags & CKF_RW_SESSION) && so_rw)
		return CKR_SESSION_READ_WRITE_SO_EXISTS;
	CK_TOKEN_INFO ti;
	memset(&ti, 0, sizeof(ti));
	if ((flags & CKF_RW_SESSION) && s->ops->token_info(s->ctx, &ti) == CKR_OK &&
	    (ti.flags & CKF_WRITE_PROTECTED))
		return CKR_TOKEN_WRITE_PROTECTED;
	return hw_session_open(s, flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION), session);
}

CK_RV hw_C_CloseSession(CK_SESSION_HANDLE h)
{
	return hw_session_close(h);
}

CK_RV hw_C_CloseAllSessions(CK_SLOT_ID id)
{
	hw_slot *s;
	CK_RV rv = hw_slot_lookup(id, &s);
	if (rv != CKR_OK)
		return rv;
	return hw_session_close_all(s);
}

CK_RV hw_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else {
		hw_slot *s = &hw_g.slots[se->slot];
		info->slotID = se->slot;
		info->state = hw_session_state(se, s);
		info->flags = se->flags;
		info->ulDeviceError = 0;
	}
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_GetOperationState(CK_SESSION_HANDLE h, unsigned char *state, CK_ULONG *len)
{
	return hw_session_answer(h, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV hw_C_SetOperationState(CK_SESSION_HANDLE h, unsigned char *state, CK_ULONG len,
			     CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
	return hw_session_answer(h, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV hw_slot_login(hw_slot *s, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len)
{
	bool ro_exists;
	CK_RV rv;
	/* io keeps logins, logouts and listings of the slot one at a time; the
	 * backend's check of the PIN (a KDF, a device) runs with no slot lock */
	hw_lock(&s->io);
	hw_session_counts(s, NULL, NULL, &ro_exists, NULL);
	hw_auth want = who == CKU_SO ? HW_AUTH_SO : HW_AUTH_USER, now = __atomic_load_n(&s->auth, __ATOMIC_ACQUIRE);
	/* a policy token logged in again brings back members that were
	 * logged out on their own tokens (module/policy.h) */
	if (now == want && !(s->policy != NULL && hw_policy_members_out(s)))
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (now != want && now != HW_AUTH_PUBLIC)
		rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	else if (who == CKU_SO && ro_exists)
		rv = CKR_SESSION_READ_ONLY_EXISTS;
	else if (s->ops->login == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->ops->login(s->ctx, who, pin, len);
	if (rv == CKR_OK) {
		hw_lock(&s->lock);
		__atomic_store_n(&s->auth, want, __ATOMIC_RELEASE);
		/* private token objects come with the next listing */
		s->loaded = false;
		hw_unlock(&s->lock);
		hw_slot_sync_io(s);
	}
	hw_unlock(&s->io);
	hw_log(rv == CKR_OK ? HW_LOG_INFO : HW_LOG_WARN, "slot \"%s\": login as %s: %s",
	       s->conf->name, who == CKU_SO ? "SO" : "user", hw_rv_name(rv));
	hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_LOGIN, .slot = s, .rv = rv,
				       .user = who == CKU_SO ? "SO" : "user" });
	return rv;
}

CK_RV hw_slot_logout(hw_slot *s)
{
	CK_RV rv = CKR_OK;
	hw_lock(&s->io);
	if (__atomic_load_n(&s->auth, __ATOMIC_ACQUIRE) == HW_AUTH_PUBLIC)
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		hw_slot_logout_io(s);
	hw_unlock(&s->io);
	hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_LOGOUT, .slot = s, .rv = rv });
	return rv;
}

static CK_RV login(CK_SESSION_HANDLE h, CK_USER_TYPE who, const unsigned char *pin, CK_ULONG len)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	if (pin == NULL && len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (who == CKU_CONTEXT_SPECIFIC)
		rv = CKR_OPERATION_NOT_INITIALIZED;   /* no hwagg key has CKA_ALWAYS_AUTHENTICATE (B 4.9) */
	else if (who != CKU_USER && who != CKU_SO)
		rv = CKR_USER_TYPE_INVALID;
	else
		rv = hw_slot_login(&hw_g.slots[se->slot], who, pin, len);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE who, unsigned char *pin, CK_ULONG len)
{
	return login(h, who, pin, len);
}

CK_RV hw_C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin, CK_ULONG len,
		     CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
	/* hwagg tokens have no named users */
	return hw_session_answer(h, CKR_FUNCTION_NOT_SUPPORTED);
}

CK_RV hw_C_Logout(CK_SESSION_HANDLE h)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	rv = hw_slot_logout(&hw_g.slots[se->slot]);
	hw_session_put(se);
	return rv;
}

CK_RV hw_C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	return hw_session_answer(h, CKR_FUNCTION_NOT_PARALLEL);   /* B 5.16: legacy */
}

CK_RV hw_C_CancelFunction(CK_SESSION_HANDLE h)
{
	return hw_session_answer(h, CKR_FUNCTION_NOT_PARALLEL);
}

CK_RV hw_C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
	static const struct { CK_FLAGS flag; hw_op_kind kind; } map[] = {
		{ CKF_SIGN, HW_OP_SIGN }, { CKF_VERIFY, HW_OP_VERIFY },
		{ CKF_ENCRYPT, HW_OP_ENCRYPT }, { CKF_DECRYPT, HW_OP_DECRYPT },
		{ CKF_DIGEST, HW_OP_DIGEST },
	};
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_lock(&se->lock);
	for (size_t i = 0; i < HW_ARRAY_LEN(map); i++)
		if (flags & map[i].flag)
			hw_op_end(&se->ops[map[i].kind]);
	if (flags & CKF_FIND_OBJECTS)
		se->finding = false;
	hw_unlock(&se->lock);
	hw_session_put(se);
	return CKR_OK;
}
