/* Every PKCS#11 entry point, implemented as hw_C_<name> in the fn_*.c units and
 * collected into the function lists by entry.c. */
#ifndef HW_FNS_H
#define HW_FNS_H

#include "common/ck.h"

CK_RV hw_C_Initialize(void *init_args);
CK_RV hw_C_Finalize(void *reserved);
CK_RV hw_C_GetInfo(CK_INFO *info);
CK_RV hw_C_GetInfo30(CK_INFO *info);   /* through the 3.0 list */
CK_RV hw_C_GetSlotList(unsigned char token_present, CK_SLOT_ID *slot_list, CK_ULONG *count);
CK_RV hw_C_GetSlotInfo(CK_SLOT_ID slot_id, CK_SLOT_INFO *info);
CK_RV hw_C_GetTokenInfo(CK_SLOT_ID slot_id, CK_TOKEN_INFO *info);
CK_RV hw_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID *slot, void *reserved);
CK_RV hw_C_GetMechanismList(CK_SLOT_ID slot_id, CK_MECHANISM_TYPE *mechanism_list, CK_ULONG *count);
CK_RV hw_C_GetMechanismInfo(CK_SLOT_ID slot_id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
CK_RV hw_C_InitToken(CK_SLOT_ID slot_id, unsigned char *pin, CK_ULONG pin_len, unsigned char *label);
CK_RV hw_C_InitPIN(CK_SESSION_HANDLE session, unsigned char *pin, CK_ULONG pin_len);
CK_RV hw_C_SetPIN(CK_SESSION_HANDLE session, unsigned char *old_pin, CK_ULONG old_len, unsigned char *new_pin, CK_ULONG new_len);
CK_RV hw_C_OpenSession(CK_SLOT_ID slot_id, CK_FLAGS flags, void *application, CK_NOTIFY notify, CK_SESSION_HANDLE *session);
CK_RV hw_C_CloseSession(CK_SESSION_HANDLE session);
CK_RV hw_C_CloseAllSessions(CK_SLOT_ID slot_id);
CK_RV hw_C_GetSessionInfo(CK_SESSION_HANDLE session, CK_SESSION_INFO *info);
CK_RV hw_C_GetOperationState(CK_SESSION_HANDLE session, unsigned char *operation_state, CK_ULONG *operation_state_len);
CK_RV hw_C_SetOperationState(CK_SESSION_HANDLE session, unsigned char *operation_state, CK_ULONG operation_state_len, CK_OBJECT_HANDLE encryption_key, CK_OBJECT_HANDLE authentiation_key);
CK_RV hw_C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, unsigned char *pin, CK_ULONG pin_len);
CK_RV hw_C_Logout(CK_SESSION_HANDLE session);
CK_RV hw_C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE *templ, CK_ULONG count, CK_OBJECT_HANDLE *object);
CK_RV hw_C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count, CK_OBJECT_HANDLE *new_object);
CK_RV hw_C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object);
CK_RV hw_C_GetObjectSize(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG *size);
CK_RV hw_C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count);
CK_RV hw_C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE *templ, CK_ULONG count);
CK_RV hw_C_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE *templ, CK_ULONG count);
CK_RV hw_C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *object, CK_ULONG max_object_count, CK_ULONG *object_count);
CK_RV hw_C_FindObjectsFinal(CK_SESSION_HANDLE session);
CK_RV hw_C_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_Encrypt(CK_SESSION_HANDLE session, unsigned char *data, CK_ULONG data_len, unsigned char *encrypted_data, CK_ULONG *encrypted_data_len);
CK_RV hw_C_EncryptUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len, unsigned char *encrypted_part, CK_ULONG *encrypted_part_len);
CK_RV hw_C_EncryptFinal(CK_SESSION_HANDLE session, unsigned char *last_encrypted_part, CK_ULONG *last_encrypted_part_len);
CK_RV hw_C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_Decrypt(CK_SESSION_HANDLE session, unsigned char *encrypted_data, CK_ULONG encrypted_data_len, unsigned char *data, CK_ULONG *data_len);
CK_RV hw_C_DecryptUpdate(CK_SESSION_HANDLE session, unsigned char *encrypted_part, CK_ULONG encrypted_part_len, unsigned char *part, CK_ULONG *part_len);
CK_RV hw_C_DecryptFinal(CK_SESSION_HANDLE session, unsigned char *last_part, CK_ULONG *last_part_len);
CK_RV hw_C_DigestInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism);
CK_RV hw_C_Digest(CK_SESSION_HANDLE session, unsigned char *data, CK_ULONG data_len, unsigned char *digest, CK_ULONG *digest_len);
CK_RV hw_C_DigestUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len);
CK_RV hw_C_DigestKey(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key);
CK_RV hw_C_DigestFinal(CK_SESSION_HANDLE session, unsigned char *digest, CK_ULONG *digest_len);
CK_RV hw_C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_Sign(CK_SESSION_HANDLE session, unsigned char *data, CK_ULONG data_len, unsigned char *signature, CK_ULONG *signature_len);
CK_RV hw_C_SignUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len);
CK_RV hw_C_SignFinal(CK_SESSION_HANDLE session, unsigned char *signature, CK_ULONG *signature_len);
CK_RV hw_C_SignRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_SignRecover(CK_SESSION_HANDLE session, unsigned char *data, CK_ULONG data_len, unsigned char *signature, CK_ULONG *signature_len);
CK_RV hw_C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_Verify(CK_SESSION_HANDLE session, unsigned char *data, CK_ULONG data_len, unsigned char *signature, CK_ULONG signature_len);
CK_RV hw_C_VerifyUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len);
CK_RV hw_C_VerifyFinal(CK_SESSION_HANDLE session, unsigned char *signature, CK_ULONG signature_len);
CK_RV hw_C_VerifyRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key);
CK_RV hw_C_VerifyRecover(CK_SESSION_HANDLE session, unsigned char *signature, CK_ULONG signature_len, unsigned char *data, CK_ULONG *data_len);
CK_RV hw_C_DigestEncryptUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len, unsigned char *encrypted_part, CK_ULONG *encrypted_part_len);
CK_RV hw_C_DecryptDigestUpdate(CK_SESSION_HANDLE session, unsigned char *encrypted_part, CK_ULONG encrypted_part_len, unsigned char *part, CK_ULONG *part_len);
CK_RV hw_C_SignEncryptUpdate(CK_SESSION_HANDLE session, unsigned char *part, CK_ULONG part_len, unsigned char *encrypted_part, CK_ULONG *encrypted_part_len);
CK_RV hw_C_DecryptVerifyUpdate(CK_SESSION_HANDLE session, unsigned char *encrypted_part, CK_ULONG encrypted_part_len, unsigned char *part, CK_ULONG *part_len);
CK_RV hw_C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_ATTRIBUTE *templ, CK_ULONG count, CK_OBJECT_HANDLE *key);
CK_RV hw_C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_ATTRIBUTE *public_key_template, CK_ULONG public_key_attribute_count, CK_ATTRIBUTE *private_key_template, CK_ULONG private_key_attribute_count, CK_OBJECT_HANDLE *public_key, CK_OBJECT_HANDLE *private_key);
CK_RV hw_C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, unsigned char *wrapped_key, CK_ULONG *wrapped_key_len);
CK_RV hw_C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE unwrapping_key, unsigned char *wrapped_key, CK_ULONG wrapped_key_len, CK_ATTRIBUTE *templ, CK_ULONG attribute_count, CK_OBJECT_HANDLE *key);
CK_RV hw_C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE *templ, CK_ULONG attribute_count, CK_OBJECT_HANDLE *key);
CK_RV hw_C_SeedRandom(CK_SESSION_HANDLE session, unsigned char *seed, CK_ULONG seed_len);
CK_RV hw_C_GenerateRandom(CK_SESSION_HANDLE session, unsigned char *random_data, CK_ULONG random_len);
CK_RV hw_C_GetFunctionStatus(CK_SESSION_HANDLE session);
CK_RV hw_C_CancelFunction(CK_SESSION_HANDLE session);

/* 3.0 */
CK_RV hw_C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count);
CK_RV hw_C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface, CK_FLAGS flags);
CK_RV hw_C_LoginUser(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR username, CK_ULONG username_len);
CK_RV hw_C_SessionCancel(CK_SESSION_HANDLE session, CK_FLAGS flags);
CK_RV hw_C_MessageInit(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE key);
CK_RV hw_C_MessageFinal(CK_SESSION_HANDLE h);
CK_RV hw_C_MessageBegin(CK_SESSION_HANDLE h, void *param, CK_ULONG len);
CK_RV hw_C_MessageBeginAad(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *aad, CK_ULONG aad_len);
CK_RV hw_C_MessageCrypt(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *aad, CK_ULONG aad_len,
			CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV hw_C_MessageCryptNext(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *in, CK_ULONG in_len,
			    CK_BYTE *out, CK_ULONG *out_len, CK_FLAGS flags);
CK_RV hw_C_MessageSign(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *data, CK_ULONG data_len,
		       CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV hw_C_MessageVerify(CK_SESSION_HANDLE h, void *param, CK_ULONG len, CK_BYTE *data, CK_ULONG data_len,
			 CK_BYTE *sig, CK_ULONG sig_len);
/* fn_keys.c, for `hwagg rotate`: a new version of private key key on its
 * backend's own versioning; CKR_FUNCTION_NOT_SUPPORTED when it has none. */
CK_RV hw_keypair_rotate(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h);

#endif
