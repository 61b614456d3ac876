/*
 * What the operator needs to know about the policy slot (tools/hwagg
 * status, health, keygen --policy), beside module/admin.h: the environment
 * and why, the members in precedence order with their security level,
 * eligibility, presence and health, and where a new key would go now.
 * Read-only; a backend may be loaded and asked for its health.
 */
#ifndef HW_POLICY_ADMIN_H
#define HW_POLICY_ADMIN_H

#include "common/ck.h"

#define HW_ADMIN_POLICY_MEMBERS 32

typedef struct hw_admin_member {
	char name[33], type[24];
	char security[16];            /* hardware, software, external */
	bool eligible;                /* meets the environment's minimum */
	bool present;                 /* its token is there */
	bool has_health;
	CK_RV health_rv;
	char health[256];
} hw_admin_member;

typedef struct hw_admin_policy {
	bool configured;              /* the configuration has a policy slot */
	CK_SLOT_ID id;
	char name[33];                /* the policy token's label */
	char environment[16];
	char environment_why[256];    /* explicit, or what detection found */
	char min_security[16];        /* the environment's minimum */
	bool fallback;                /* in this environment */
	bool present;                 /* the policy token is there */
	char missing[512];            /* when absent: what is missing */
	size_t nmembers;              /* in precedence order */
	hw_admin_member members[HW_ADMIN_POLICY_MEMBERS];
	CK_RV place_rv;               /* CKR_OK: a new EC P-256 key would go to place_to */
	char place_to[33];
	char place_why[512];
} hw_admin_policy;

/* The first policy slot of the configuration (configured false when there
 * is none); the module must be open (hw_admin_open). */
CK_RV hw_admin_policy_info(hw_admin_policy *out);
/* The last placement decision of this process (after hw_admin_keygen on
 * the policy token): where the key went and why. */
void hw_admin_policy_decision(char *out, size_t len);

#endif
