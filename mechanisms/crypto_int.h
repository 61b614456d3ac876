/* Private to mechanisms/crypto*.c: not installed, not for other modules. */
#ifndef HW_CRYPTO_INT_H
#define HW_CRYPTO_INT_H

/* Key types are named by OID when we create contexts by name: OpenSSL 3.0
 * consults ENGINE_get_pkey_meth_engine() for names that map to a legacy NID
 * ("EC", "RSA"), which hands the operation to a default ENGINE; the OID
 * aliases of the same default-provider key managers map to no NID. */
#define ALG_EC      "1.2.840.10045.2.1"
#define ALG_RSA     "1.2.840.113549.1.1.1"
#define ALG_ED25519 "1.3.101.112"

#endif
