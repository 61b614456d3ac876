/*
 * hwagg status and hwagg health: what each slot's token, user PIN and
 * backend are like, as text or JSON (the schema is in hwagg(1)). A slot is
 * ok when its backend loads, its token is present, its health check passes
 * and its user PIN is neither locked nor on its final try: monitoring must
 * notice a token one wrong PIN away from locking.
 */
#include "tools/cli.h"
#include "common/log.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEMS 4

static const char *pin_state(const hw_admin_slot *s)
{
	CK_FLAGS f = s->token_flags;
	return !s->present ? "unknown" : (f & CKF_USER_PIN_LOCKED) ? "locked" : (f & CKF_USER_PIN_FINAL_TRY) ?
	       "final-try" : !(f & CKF_USER_PIN_INITIALIZED) ? "not-initialized" :
	       (f & CKF_USER_PIN_COUNT_LOW) ? "count-low" : "ok";
}

/* What keeps the slot from being ok, one phrase each; returns how many. */
static size_t problems(const hw_admin_slot *s, char out[MAX_PROBLEMS][320])
{
	size_t n = 0;
	if (!s->available)
		snprintf(out[n++], sizeof(out[0]), "the backend cannot be loaded (see the log)");
	else if (!s->present)
		snprintf(out[n++], sizeof(out[0]), "the token is absent%s%s", s->health[0] ? ": " : "", s->health);
	else if (s->has_health && s->health_rv != CKR_OK)
		snprintf(out[n++], sizeof(out[0]), "health check failed: %s", s->health);
	if (s->present && (s->token_flags & CKF_USER_PIN_LOCKED))
		snprintf(out[n++], sizeof(out[0]), "the user PIN is locked (hwagg unlock --slot %s)", s->name);
	else if (s->present && (s->token_flags & CKF_USER_PIN_FINAL_TRY))
		snprintf(out[n++], sizeof(out[0]), "the user PIN locks at the next wrong PIN");
	return n;
}

static json_object *slot_json(const hw_admin_slot *s, char probs[MAX_PROBLEMS][320], size_t np, bool detail)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)s->id));
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "type", json_object_new_string(s->type));
	json_object_object_add(o, "ok", json_object_new_boolean(np == 0));
	for (size_t i = 0; i < np; i++)
		json_object_array_add(arr, json_object_new_string(probs[i]));
	json_object_object_add(o, "problems", arr);
	if (!detail)
		return o;
	json_object_object_add(o, "security", s->security[0] ? json_object_new_string(s->security) : NULL);
	json_object_object_add(o, "available", json_object_new_boolean(s->available));
	json_object_object_add(o, "token", json_object_new_string(s->present ? "present" : "absent"));
	json_object_object_add(o, "initialized", json_object_new_boolean(s->present &&
									  (s->token_flags & CKF_TOKEN_INITIALIZED)));
	json_object_object_add(o, "user_pin", json_object_new_string(pin_state(s)));
	json_object_object_add(o, "model", json_object_new_string(s->model));
	json_object_object_add(o, "serial", json_object_new_string(s->serial));
	if (s->counted) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "private_keys", s->private_counted ?
				       json_object_new_int64(s->private_keys) : NULL);
		json_object_object_add(c, "public_keys", json_object_new_int64(s->public_keys));
		json_object_object_add(c, "certificates", json_object_new_int64(s->certificates));
		json_object_object_add(c, "other", json_object_new_int64(s->other));
		json_object_object_add(o, "objects", c);
		json_object_object_add(o, "private_objects",
				       json_object_new_string(s->private_counted ? "counted" : "login-required"));
	} else {
		json_object_object_add(o, "objects", NULL);
		json_object_object_add(o, "private_objects", NULL);
	}
	json_object *h = json_object_new_object();
	json_object_object_add(h, "ok", json_object_new_boolean(!s->has_health || s->health_rv == CKR_OK));
	json_object_object_add(h, "message", json_object_new_string(s->has_health ? s->health : "no health check"));
	json_object_object_add(o, "health", h);
	return o;
}

static void slot_text(const hw_admin_slot *s, char probs[MAX_PROBLEMS][320], size_t np, unsigned rotation_days)
{
	printf("slot %lu  %-20s type %-8s keys %-8s token %s", (unsigned long)s->id, s->name, s->type,
	       s->security[0] ? s->security : "-", s->present ? "present" : "ABSENT");
	if (s->present) {
		printf(", %s", (s->token_flags & CKF_TOKEN_INITIALIZED) ? "initialized" : "not initialized");
		if (s->counted && s->private_counted)
			printf(", %u private key(s)", s->private_keys);
		else if (s->counted)
			printf(", private objects: login required (hwagg status --slot %s --pin-file F to count them)",
			       s->name);
		if (s->counted)
			printf(", %u public key(s), %u certificate(s), %u other", s->public_keys, s->certificates,
			       s->other);
		if (s->token_flags & CKF_USER_PIN_LOCKED)
			printf(", USER PIN LOCKED");
		else if (s->token_flags & CKF_USER_PIN_FINAL_TRY)
			printf(", user PIN: final try");
		else if (s->token_flags & CKF_USER_PIN_COUNT_LOW)
			printf(", user PIN: wrong PINs entered");
	}
	printf("\n        health: %s%s\n", s->has_health && s->health_rv != CKR_OK ? "FAILED: " : "",
	       !s->available ? "the backend cannot be loaded (see the message above)" :
	       s->has_health ? s->health : "no health check");
	hw_cli_rotation_status(stdout, s, rotation_days);
	for (size_t i = 0; i < np; i++)
		printf("        NOT OK: %s\n", probs[i]);
}

/* status (detail) or health: every slot, then the verdict. */
static int report(bool detail, bool json, const hw_admin_module *m)
{
	hw_admin_slot *slots = NULL;
	size_t n = 0;
	int ret = HW_EXIT_OK;
	CK_RV rv = hw_admin_slots(&slots, &n);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: cannot list the slots: %s\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	json_object *root = json ? json_object_new_object() : NULL, *arr = json ? json_object_new_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		char probs[MAX_PROBLEMS][320];
		size_t np = problems(&slots[i], probs);
		if (np > 0)
			ret = HW_EXIT_UNHEALTHY;
		if (json)
			json_object_array_add(arr, slot_json(&slots[i], probs, np, detail));
		else if (detail)
			slot_text(&slots[i], probs, np, m->rotation_days);
		else
			printf("%-6s slot %s (%s)%s%s\n", np ? "NOT OK" : "ok", slots[i].name, slots[i].type,
			       np ? ": " : "", np ? probs[0] : "");
	}
	if (json) {
		if (detail) {
			json_object_object_add(root, "config", m->config[0] ? json_object_new_string(m->config) : NULL);
			json_object_object_add(root, "environment", json_object_new_string(m->environment));
			json_object_object_add(root, "store", json_object_new_string(m->store));
		}
		json_object_object_add(root, "ok", json_object_new_boolean(ret == HW_EXIT_OK));
		json_object_object_add(root, "slots", arr);
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	free(slots);
	return ret;
}

static int start(hw_admin_module *m)
{
	CK_RV rv = hw_admin_open();
	if (rv == CKR_OK && (rv = hw_admin_module_info(m)) != CKR_OK)
		hw_admin_close();
	if (rv != CKR_OK)
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}

int hw_cli_status(int argc, char **argv)
{
	hw_cli_opts o;
	hw_admin_module m;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int ret = hw_cli_parse(argc, argv, HW_OPT_JSON | HW_OPT_SLOT | HW_OPT_PIN_FILE, 0, 0, &o);
	if (ret != HW_EXIT_OK)
		return ret;
	/* with a PIN: logged in on that slot while counting, so its private
	 * objects are counted too */
	if (o.pin_file != NULL) {
		if ((ret = hw_cli_begin(o.slot, o.pin_file, &slot, &s)) != HW_EXIT_OK)
			return ret;
	} else if ((ret = start(&m)) != HW_EXIT_OK) {
		return ret;
	}
	if (hw_admin_module_info(&m) != CKR_OK) {
		ret = HW_EXIT_FAIL;
		goto out;
	}
	if (!o.json) {
		printf("config:      %s\nstore:       %s\n", m.config[0] ? m.config : "<built-in default>", m.store);
		hw_cli_policy_status(stdout);      /* the environment and why; the policy slot */
		hw_cli_install_info(stdout);
	}
	ret = report(true, o.json, &m);
out:
	if (s != CK_INVALID_HANDLE)
		hw_admin_logout(s);
	hw_admin_close();
	return ret;
}

int hw_cli_health(int argc, char **argv)
{
	hw_cli_opts o;
	hw_admin_module m;
	int ret = hw_cli_parse(argc, argv, HW_OPT_JSON, 0, 0, &o);
	if (ret != HW_EXIT_OK || (ret = start(&m)) != HW_EXIT_OK)
		return ret;
	/* a policy slot's health is its token's: its members may come and go */
	if ((ret = hw_cli_policy_health(o.json)) < 0)
		ret = report(false, o.json, &m);
	hw_admin_close();
	return ret;
}
