/*
 * The policy slot in the CLI: what `hwagg health [--json]` says when the
 * configuration has a policy slot (for container health probes and
 * systemd ExecStartPre), the policy part of `hwagg status`, and what
 * `hwagg keygen --policy` says about its placement.
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "module/policy_admin.h"
#include "common/log.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void hw_cli_policy_status(FILE *f)
{
	hw_admin_policy p;
	if (hw_admin_policy_info(&p) != CKR_OK)
		return;
	fprintf(f, "environment: %s\n", p.environment_why);
	if (!p.configured)
		return;
	fprintf(f, "policy:      slot %lu \"%s\": token %s; minimum security %s, fallback %s in %s\n",
		(unsigned long)p.id, p.name, p.present ? "present" : "ABSENT", p.min_security,
		p.fallback ? "on" : "off", p.environment);
	if (!p.present)
		fprintf(f, "             %s\n", p.missing);
	fprintf(f, "precedence: ");
	for (size_t i = 0; i < p.nmembers; i++) {
		const hw_admin_member *m = &p.members[i];
		fprintf(f, " %zu. %s (%s, %s%s, %s%s%s)", i + 1, m->name, m->type, m->security[0] ? m->security : "-",
			m->eligible ? "" : ", NOT ELIGIBLE", m->present ? "present" : "ABSENT",
			m->has_health ? "; health: " : "", m->has_health ? m->health : "");
		fprintf(f, "%s", i + 1 < p.nmembers ? "\n            " : "\n");
	}
	fprintf(f, "new keys:    %s\n", p.place_why);
}

/* One member for --json. */
static json_object *member_json(const hw_admin_member *m)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "type", json_object_new_string(m->type));
	json_object_object_add(o, "security", json_object_new_string(m->security));
	json_object_object_add(o, "eligible", json_object_new_boolean(m->eligible));
	json_object_object_add(o, "present", json_object_new_boolean(m->present));
	if (m->has_health) {
		json_object_object_add(o, "healthy", json_object_new_boolean(m->health_rv == CKR_OK));
		json_object_object_add(o, "health", json_object_new_string(m->health));
	}
	return o;
}

static void print_json(const hw_admin_policy *p, bool healthy, const char *message)
{
	json_object *o = json_object_new_object(), *pol, *members;
	json_object_object_add(o, "healthy", json_object_new_boolean(healthy));
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "environment", json_object_new_string(p->environment));
	json_object_object_add(o, "environment_reason", json_object_new_string(p->environment_why));
	if (p->configured) {
		pol = json_object_new_object();
		json_object_object_add(pol, "slot", json_object_new_string(p->name));
		json_object_object_add(pol, "present", json_object_new_boolean(p->present));
		json_object_object_add(pol, "min_security", json_object_new_string(p->min_security));
		json_object_object_add(pol, "fallback", json_object_new_boolean(p->fallback));
		if (!p->present)
			json_object_object_add(pol, "missing", json_object_new_string(p->missing));
		json_object_object_add(pol, "new_keys", json_object_new_string(p->place_why));
		if (p->place_rv == CKR_OK)
			json_object_object_add(pol, "new_keys_to", json_object_new_string(p->place_to));
		members = json_object_new_array();
		for (size_t i = 0; i < p->nmembers; i++)
			json_object_array_add(members, member_json(&p->members[i]));
		json_object_object_add(pol, "precedence", members);
		json_object_object_add(o, "policy", pol);
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int hw_cli_policy_health(bool json)
{
	hw_admin_policy p;
	char msg[768];
	CK_RV rv = hw_admin_policy_info(&p);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: cannot describe the policy slot: %s\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	if (!p.configured)
		return -1;
	/* the members may come and go: the policy falls back or fails closed */
	snprintf(msg, sizeof(msg), "%s: policy token \"%s\" %s%s", p.environment, p.name,
		 p.present ? "present; " : "ABSENT: ", p.present ? p.place_why : p.missing);
	if (json)
		print_json(&p, p.present, msg);
	else
		fprintf(p.present ? stdout : stderr, "hwagg: %s: %s\n", p.present ? "healthy" : "UNHEALTHY", msg);
	return p.present ? HW_EXIT_OK : HW_EXIT_UNHEALTHY;
}

const char hw_cli_policy_marker[] = "--policy";

const char *hw_cli_policy_slot(char *name, size_t len)
{
	hw_admin_policy p;
	if (hw_admin_policy_info(&p) != CKR_OK || !p.configured) {
		fprintf(stderr, "hwagg: --policy: the configuration has no policy slot\n");
		return NULL;
	}
	snprintf(name, len, "%s", p.name);
	return name;
}

void hw_cli_policy_placed(FILE *f)
{
	char d[512];
	hw_admin_policy_decision(d, sizeof(d));
	if (d[0] != '\0')
		fprintf(f, "%s\n", d);
}
