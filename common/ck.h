/* Common include for every unit: PKCS#11 types and the shared helpers. */
#ifndef HW_CK_H
#define HW_CK_H

#include "config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/pkcs11_3.h"

#define HW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include "common/hwagg.h"

/* Caller-misuse preconditions: return at once, no lock is held yet. */
#define HW_RETURN_IF(cond, rv) do { if (cond) return (rv); } while (0)

#endif
