/*
 * hwagg's vendor-defined attributes, for applications that want to know
 * where a key lives. Standard templates never need them.
 */
#ifndef HWAGG_H
#define HWAGG_H

#define CKA_HWAGG_BASE           (0x80000000UL | 0x48574100UL)  /* CKA_VENDOR_DEFINED | "HWA" */
#define CKA_HWAGG_BACKEND        (CKA_HWAGG_BASE + 1) /* UTF-8: "soft", "hsm", "tpm", ... */
#define CKA_HWAGG_SECURITY_LEVEL (CKA_HWAGG_BASE + 2) /* UTF-8: "hardware", "software", "external" */
#define CKA_HWAGG_KEY_VERSION    (CKA_HWAGG_BASE + 3) /* CK_ULONG */
#define CKA_HWAGG_PROVIDER_URI   (CKA_HWAGG_BASE + 4) /* UTF-8 */
#define CKA_HWAGG_SLOT           (CKA_HWAGG_BASE + 5) /* UTF-8: the hwagg slot name */
#define CKA_HWAGG_CREATED        (CKA_HWAGG_BASE + 6) /* UTF-8: creation time, UTC, "2025-01-31T23:59:59Z";
                                                         absent where the backend cannot keep it (hsm) */
#define CKA_HWAGG_ENVIRONMENT    (CKA_HWAGG_BASE + 7) /* UTF-8: "production", "staging", "development":
                                                         the environment the object was made in; absent
                                                         where the backend cannot keep it (hsm). In
                                                         production a key made in development is refused */

/* Envelope encryption with a cloud KMS key (README, "aws-kms"): C_WrapKey
 * of a session AES data key with a key-encryption key the service holds
 * (its CKA_WRAP/CKA_UNWRAP true), no parameter. The wrapped bytes are the
 * service's own ciphertext of the key's value (AWS KMS: Encrypt's
 * CiphertextBlob); C_UnwrapKey gives the service's Decrypt of them back as
 * a new session key (the template names CKA_CLASS CKO_SECRET_KEY and
 * CKA_KEY_TYPE CKK_AES). The data key's value lives only in this process's
 * locked memory and, wrapped, wherever the application keeps it. */
#define CKM_HWAGG_KMS_WRAP       (0x80000000UL | 0x48574100UL | 1)  /* CKM_VENDOR_DEFINED | "HWA" + 1 */

#endif
