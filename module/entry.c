/*
 * The module's entry file: the only unit in libhwagg-pkcs11.so beyond the
 * internal library. It collects the hw_C_* functions into the 2.40 and 3.0
 * function lists and exports exactly three symbols (module/hwagg.map).
 */
#include "module/fns.h"

#include <string.h>

#define HW_EXPORT __attribute__((visibility("default")))

/* the 3.0 entry points p11-kit's 2.40 header does not declare */
HW_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE *list, CK_ULONG *count);
HW_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR *name, CK_VERSION *version, CK_INTERFACE **iface, CK_FLAGS flags);

static CK_RV get_function_list(CK_FUNCTION_LIST **list);
static CK_RV get_interface_list(CK_INTERFACE *list, CK_ULONG *count);
static CK_RV get_interface(CK_UTF8CHAR *name, CK_VERSION *version, CK_INTERFACE **iface, CK_FLAGS flags);

/* The 68 entries of the 2.40 list, in pkcs11f.h order; both lists start
 * with them (B3.0 3.6). Only C_GetInfo differs: it reports the list's
 * version. */
#define HW_FUNCTIONS_240(get_info) \
	.C_Initialize = hw_C_Initialize, \
	.C_Finalize = hw_C_Finalize, \
	.C_GetInfo = get_info, \
	.C_GetFunctionList = get_function_list, \
	.C_GetSlotList = hw_C_GetSlotList, \
	.C_GetSlotInfo = hw_C_GetSlotInfo, \
	.C_GetTokenInfo = hw_C_GetTokenInfo, \
	.C_GetMechanismList = hw_C_GetMechanismList, \
	.C_GetMechanismInfo = hw_C_GetMechanismInfo, \
	.C_InitToken = hw_C_InitToken, \
	.C_InitPIN = hw_C_InitPIN, \
	.C_SetPIN = hw_C_SetPIN, \
	.C_OpenSession = hw_C_OpenSession, \
	.C_CloseSession = hw_C_CloseSession, \
	.C_CloseAllSessions = hw_C_CloseAllSessions, \
	.C_GetSessionInfo = hw_C_GetSessionInfo, \
	.C_GetOperationState = hw_C_GetOperationState, \
	.C_SetOperationState = hw_C_SetOperationState, \
	.C_Login = hw_C_Login, \
	.C_Logout = hw_C_Logout, \
	.C_CreateObject = hw_C_CreateObject, \
	.C_CopyObject = hw_C_CopyObject, \
	.C_DestroyObject = hw_C_DestroyObject, \
	.C_GetObjectSize = hw_C_GetObjectSize, \
	.C_GetAttributeValue = hw_C_GetAttributeValue, \
	.C_SetAttributeValue = hw_C_SetAttributeValue, \
	.C_FindObjectsInit = hw_C_FindObjectsInit, \
	.C_FindObjects = hw_C_FindObjects, \
	.C_FindObjectsFinal = hw_C_FindObjectsFinal, \
	.C_EncryptInit = hw_C_EncryptInit, \
	.C_Encrypt = hw_C_Encrypt, \
	.C_EncryptUpdate = hw_C_EncryptUpdate, \
	.C_EncryptFinal = hw_C_EncryptFinal, \
	.C_DecryptInit = hw_C_DecryptInit, \
	.C_Decrypt = hw_C_Decrypt, \
	.C_DecryptUpdate = hw_C_DecryptUpdate, \
	.C_DecryptFinal = hw_C_DecryptFinal, \
	.C_DigestInit = hw_C_DigestInit, \
	.C_Digest = hw_C_Digest, \
	.C_DigestUpdate = hw_C_DigestUpdate, \
	.C_DigestKey = hw_C_DigestKey, \
	.C_DigestFinal = hw_C_DigestFinal, \
	.C_SignInit = hw_C_SignInit, \
	.C_Sign = hw_C_Sign, \
	.C_SignUpdate = hw_C_SignUpdate, \
	.C_SignFinal = hw_C_SignFinal, \
	.C_SignRecoverInit = hw_C_SignRecoverInit, \
	.C_SignRecover = hw_C_SignRecover, \
	.C_VerifyInit = hw_C_VerifyInit, \
	.C_Verify = hw_C_Verify, \
	.C_VerifyUpdate = hw_C_VerifyUpdate, \
	.C_VerifyFinal = hw_C_VerifyFinal, \
	.C_VerifyRecoverInit = hw_C_VerifyRecoverInit, \
	.C_VerifyRecover = hw_C_VerifyRecover, \
	.C_DigestEncryptUpdate = hw_C_DigestEncryptUpdate, \
	.C_DecryptDigestUpdate = hw_C_DecryptDigestUpdate, \
	.C_SignEncryptUpdate = hw_C_SignEncryptUpdate, \
	.C_DecryptVerifyUpdate = hw_C_DecryptVerifyUpdate, \
	.C_GenerateKey = hw_C_GenerateKey, \
	.C_GenerateKeyPair = hw_C_GenerateKeyPair, \
	.C_WrapKey = hw_C_WrapKey, \
	.C_UnwrapKey = hw_C_UnwrapKey, \
	.C_DeriveKey = hw_C_DeriveKey, \
	.C_SeedRandom = hw_C_SeedRandom, \
	.C_GenerateRandom = hw_C_GenerateRandom, \
	.C_GetFunctionStatus = hw_C_GetFunctionStatus, \
	.C_CancelFunction = hw_C_CancelFunction, \
	.C_WaitForSlotEvent = hw_C_WaitForSlotEvent

/* B3.0 3.6: the 2.40 list keeps version 2.40 even in a 3.0 module */
static CK_FUNCTION_LIST list_240 = {
	.version = { 2, 40 },
	HW_FUNCTIONS_240(hw_C_GetInfo)
};

static CK_FUNCTION_LIST_3_0 list_30 = {
	.version = { 3, 0 },
	HW_FUNCTIONS_240(hw_C_GetInfo30),
	.C_GetInterfaceList = get_interface_list,
	.C_GetInterface = get_interface,
	.C_LoginUser = hw_C_LoginUser,
	.C_SessionCancel = hw_C_SessionCancel,
	.C_MessageEncryptInit = hw_C_MessageInit,
	.C_EncryptMessage = hw_C_MessageCrypt,
	.C_EncryptMessageBegin = hw_C_MessageBeginAad,
	.C_EncryptMessageNext = hw_C_MessageCryptNext,
	.C_MessageEncryptFinal = hw_C_MessageFinal,
	.C_MessageDecryptInit = hw_C_MessageInit,
	.C_DecryptMessage = hw_C_MessageCrypt,
	.C_DecryptMessageBegin = hw_C_MessageBeginAad,
	.C_DecryptMessageNext = hw_C_MessageCryptNext,
	.C_MessageDecryptFinal = hw_C_MessageFinal,
	.C_MessageSignInit = hw_C_MessageInit,
	.C_SignMessage = hw_C_MessageSign,
	.C_SignMessageBegin = hw_C_MessageBegin,
	.C_SignMessageNext = hw_C_MessageSign,
	.C_MessageSignFinal = hw_C_MessageFinal,
	.C_MessageVerifyInit = hw_C_MessageInit,
	.C_VerifyMessage = hw_C_MessageVerify,
	.C_VerifyMessageBegin = hw_C_MessageBegin,
	.C_VerifyMessageNext = hw_C_MessageVerify,
	.C_MessageVerifyFinal = hw_C_MessageFinal,
};

static CK_INTERFACE interfaces[] = {
	{ (CK_CHAR *)"PKCS 11", &list_30, 0 },
	{ (CK_CHAR *)"PKCS 11", &list_240, 0 },
};

static CK_RV get_function_list(CK_FUNCTION_LIST **list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	*list = &list_240;
	return CKR_OK;
}

static CK_RV get_interface_list(CK_INTERFACE *list, CK_ULONG *count)
{
	CK_ULONG n = sizeof(interfaces) / sizeof(interfaces[0]);
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (list == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(list, interfaces, sizeof(interfaces));
	*count = n;
	return CKR_OK;
}

static CK_RV get_interface(CK_UTF8CHAR *name, CK_VERSION *version, CK_INTERFACE **iface, CK_FLAGS flags)
{
	if (iface == NULL)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < sizeof(interfaces) / sizeof(interfaces[0]); i++) {
		CK_INTERFACE *it = &interfaces[i];
		const CK_VERSION *v = it->pFunctionList;
		if (name != NULL && strcmp((const char *)name, (const char *)it->pInterfaceName) != 0)
			continue;
		if (version != NULL && (version->major != v->major || version->minor != v->minor))
			continue;
		/* hwagg promises no fork-safe interface: a child initializes again */
		if ((it->flags & flags) != flags)
			continue;
		*iface = it;
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}

HW_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	return get_function_list(list);
}

HW_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE *list, CK_ULONG *count)
{
	return get_interface_list(list, count);
}

HW_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR *name, CK_VERSION *version, CK_INTERFACE **iface, CK_FLAGS flags)
{
	return get_interface(name, version, iface, flags);
}
