/*
 * Private keys given by their attributes (import with C_CreateObject).
 */
#ifndef HW_KEY_IMPORT_H
#define HW_KEY_IMPORT_H

#include "common/ck.h"
#include "objects/attrs.h"
#include <openssl/evp.h>

/* The private key a's CKA_KEY_TYPE and parts describe: EC and Ed25519
 * (CKA_EC_PARAMS, CKA_VALUE), RSA (modulus, both exponents, primes, CRT
 * exponents and coefficient: all required). A missing part:
 * CKR_TEMPLATE_INCOMPLETE; a curve not offered: the curve codes; parts
 * that do not make a valid key: CKR_ATTRIBUTE_VALUE_INVALID. */
CK_RV hw_key_from_attrs(const hw_attrs *a, EVP_PKEY **out);
/* Remove a private key's secret parts from a (they are never kept as
 * attributes; the removal wipes them). */
void hw_key_strip_private(hw_attrs *a);

#endif
