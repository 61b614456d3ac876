/*
 * Functions hwagg does not offer. Each still checks initialization and the
 * session first, so the error an application sees follows the spec's
 * precedence (B 5.1), then says CKR_FUNCTION_NOT_SUPPORTED.
 */
#include "module/fns.h"
#include "module/session.h"

static CK_RV unsupported(CK_SESSION_HANDLE h)
{
	return hw_session_answer(h, CKR_FUNCTION_NOT_SUPPORTED);
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

/* 3.0 message-based functions: not offered. One function per shape of
 * the specification's signatures serves the twenty entries. */
CK_RV hw_C_MessageInit(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	return unsupported(h);
}

CK_RV hw_C_MessageFinal(CK_SESSION_HANDLE h)
{
	return unsupported(h);
}

CK_RV hw_C_MessageBegin(CK_SESSION_HANDLE h, void *param, CK_ULONG len)
{
	return unsupported(h);
}

CK_RV hw_C_MessageBeginAad(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *aad, CK_ULONG aad_len)
{
	return unsupported(h);
}

CK_RV hw_C_MessageCrypt(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *aad, CK_ULONG aad_len,
			CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	return unsupported(h);
}

CK_RV hw_C_MessageCryptNext(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *in, CK_ULONG in_len,
			    CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags)
{
	return unsupported(h);
}

CK_RV hw_C_MessageSign(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *data, CK_ULONG data_len,
		       CK_BYTE *sig, CK_ULONG *sig_len)
{
	return unsupported(h);
}

CK_RV hw_C_MessageVerify(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *data, CK_ULONG data_len,
			 CK_BYTE *sig, CK_ULONG sig_len)
{
	return unsupported(h);
}
