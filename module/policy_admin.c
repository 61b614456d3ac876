/*
 * The policy slot for the operator (policy_admin.h): the engine's view of
 * it, in words.
 */
#include "module/policy_admin.h"
#include "module/policy.h"

#include <stdio.h>
#include <string.h>

static void member(hw_slot *m, hw_admin_member *out)
{
	hw_slot_desc d;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", m->conf->name);
	snprintf(out->type, sizeof(out->type), "%s", m->conf->type);
	out->eligible = hw_policy_eligible(m, NULL, 0);
	out->present = hw_slot_present(m);
	if (hw_slot_describe(m->index, true, &d) != CKR_OK)
		return;
	snprintf(out->security, sizeof(out->security), "%s", d.security);
	out->has_health = d.has_health;
	out->health_rv = d.health_rv;
	snprintf(out->health, sizeof(out->health), "%s", d.health);
}

/* When the token is absent: the members that keep it so. */
static void missing(hw_admin_policy *out)
{
	size_t o = 0;
	bool any_eligible = false;
	for (size_t i = 0; i < out->nmembers; i++)
		any_eligible |= out->members[i].eligible;
	o += (size_t)snprintf(out->missing, sizeof(out->missing), any_eligible ?
			      "no member that meets the %s minimum security level (%s) is present:" :
			      "no member meets the %s minimum security level (%s):", out->environment, out->min_security);
	for (size_t i = 0; i < out->nmembers && o < sizeof(out->missing); i++) {
		const hw_admin_member *m = &out->members[i];
		if (any_eligible && !m->eligible)
			continue;
		o += (size_t)snprintf(out->missing + o, sizeof(out->missing) - o, " \"%s\" (%s) is %s%s", m->name,
				      m->type, any_eligible ? "absent" : m->security[0] ? m->security : "unavailable",
				      i + 1 < out->nmembers ? ";" : "");
	}
}

CK_RV hw_admin_policy_info(hw_admin_policy *out)
{
	size_t order[HW_ADMIN_POLICY_MEMBERS];
	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_check_init();
	if (rv != CKR_OK)
		return rv;
	memset(out, 0, sizeof(*out));
	hw_env env = hw_env_current(out->environment_why, sizeof(out->environment_why));
	snprintf(out->environment, sizeof(out->environment), "%s", hw_env_name(env));
	snprintf(out->min_security, sizeof(out->min_security), "%s",
		 hw_security_name(hw_policy_conf_get()->min_sec[env]));
	out->fallback = hw_policy_conf_get()->fallback[env];
	hw_slot *p = NULL;
	for (size_t i = 0; i < hw_g.nslots && p == NULL; i++)
		if (hw_g.slots[i].policy != NULL)
			p = &hw_g.slots[i];
	if (p == NULL)
		return CKR_OK;
	hw_deadline_start(p);
	out->configured = true;
	out->id = p->index;
	snprintf(out->name, sizeof(out->name), "%s", p->conf->name);
	out->nmembers = hw_policy_order(p, order, HW_ARRAY_LEN(order));
	for (size_t i = 0; i < out->nmembers; i++)
		member(&hw_g.slots[order[i]], &out->members[i]);
	out->present = hw_slot_present(p);
	if (!out->present)
		missing(out);
	hw_slot *to = NULL;
	out->place_rv = hw_policy_would_place(p, CKM_EC_KEY_PAIR_GEN, &to, out->place_why, sizeof(out->place_why));
	if (to != NULL)
		snprintf(out->place_to, sizeof(out->place_to), "%s", to->conf->name);
	return CKR_OK;
}

void hw_admin_policy_decision(char *out, size_t len)
{
	hw_policy_last_decision(out, len);
}
