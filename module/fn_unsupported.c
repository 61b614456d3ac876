/*
 * Functions hwagg does not offer. Each still checks initialization and the
 * session first, so the error an application sees follows the spec's
 * precedence (B 5.1), then says CKR_FUNCTION_NOT_SUPPORTED.
 */
#include "module/fns.h"
#include "module/session.h"

static CK_RV unsupported(CK_SESSION_HANDLE h)
{
	hw_session *se;
	CK_RV rv = hw_session_get(h, &se);
	if (rv != CKR_OK)
		return rv;
	hw_session_put(se);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV hw_C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	return unsupported(h);
}

CK_RV hw_C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return unsupported(h);
}

CK_RV hw_C_SignRecover(CK_SESSION_HANDLE h, unsigned char *data, CK_ULONG len, unsigned char *sig,
		       CK_ULONG *sig_len)
{
	return unsupported(h);
}

CK_RV hw_C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return unsupported(h);
}

CK_RV hw_C_VerifyRecover(CK_SESSION_HANDLE h, unsigned char *sig, CK_ULONG sig_len, unsigned char *data,
			 CK_ULONG *data_len)
{
	return unsupported(h);
}

CK_RV hw_C_DigestEncryptUpdate(CK_SESSION_HANDLE h, unsigned char *in, CK_ULONG len, unsigned char *out,
			       CK_ULONG *out_len)
{
	return unsupported(h);
}

CK_RV hw_C_DecryptDigestUpdate(CK_SESSION_HANDLE h, unsigned char *in, CK_ULONG len, unsigned char *out,
			       CK_ULONG *out_len)
{
	return unsupported(h);
}

CK_RV hw_C_SignEncryptUpdate(CK_SESSION_HANDLE h, unsigned char *in, CK_ULONG len, unsigned char *out,
			     CK_ULONG *out_len)
{
	return unsupported(h);
}

CK_RV hw_C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, unsigned char *in, CK_ULONG len, unsigned char *out,
			       CK_ULONG *out_len)
{
	return unsupported(h);
}

/* 3.0 message-based functions: one stub serves all twenty (the 3.0 list
 * declares them with a generic pointer type in pkcs11_3.h). */
CK_RV hw_C_MessageUnsupported(void)
{
	return CKR_FUNCTION_NOT_SUPPORTED;
}
