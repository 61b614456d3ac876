/*
 * hwagg keys [--slot NAME] [--json] and hwagg keygen --slot NAME --type T
 * --label L [--id HEX]: a login with the user PIN (tools/pin.c), then the
 * admin API; and what every command that logs in shares (the slot, the
 * login, its error messages).
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"
#include "common/hex.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 128

#define KEYS_OPTS (HW_OPT_SLOT | HW_OPT_PIN_FILE | HW_OPT_JSON)
#define KEYGEN_OPTS (HW_OPT_SLOT | HW_OPT_POLICY | HW_OPT_TYPE | HW_OPT_LABEL | HW_OPT_ID | HW_OPT_PIN_FILE)

void hw_cli_keygen_help(FILE *f)
{
	fprintf(f, "TYPE: ");
	for (size_t i = 0; hw_admin_key_type(i) != NULL; i++)
		fprintf(f, "%s%s", i ? ", " : "", hw_admin_key_type(i));
	fprintf(f, "\n");
}

static int unknown_type(const char *type)
{
	fprintf(stderr, "hwagg keygen: --type %s: unknown key type; expected one of ", type);
	for (size_t i = 0; hw_admin_key_type(i) != NULL; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", hw_admin_key_type(i));
	fprintf(stderr, "\n");
	return HW_EXIT_USAGE;
}

static bool parse_id(const char *hex, unsigned char *out, size_t *len)
{
	return hw_hex_decode(hex, strlen(hex), out, ID_MAX, len);
}

/* The slot to work on: the one named, or without a name the only one whose
 * token is present and initialized (a PIN belongs to one token: it is not
 * tried on others). */
int hw_cli_pick_slot(const char *name, bool initialized, hw_admin_slot *out)
{
	hw_admin_slot *all = NULL;
	size_t n = 0, candidates = 0;
	CK_RV rv = hw_admin_slots(&all, &n);
	int ret = HW_EXIT_FAIL;
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: cannot list the slots: %s\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		bool ready = all[i].present && (all[i].token_flags & CKF_TOKEN_INITIALIZED);
		if (name != NULL ? strcmp(all[i].name, name) == 0 : ready) {
			*out = all[i];
			candidates++;
		}
	}
	if (name != NULL && candidates == 0) {
		fprintf(stderr, "hwagg: no slot is named \"%s\"; the slots are:", name);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %s", all[i].name);
		fprintf(stderr, "\n");
		ret = HW_EXIT_USAGE;
	} else if (name == NULL && candidates != 1) {
		fprintf(stderr, "hwagg: %s; name one with --slot\n",
			candidates == 0 ? "no slot has an initialized token" : "several slots have initialized tokens");
		ret = HW_EXIT_USAGE;
	} else if (!out->present) {
		fprintf(stderr, "hwagg: slot \"%s\": the token is absent%s%s\n", out->name,
			out->health[0] ? ": " : "", out->health);
	} else if (initialized && !(out->token_flags & CKF_TOKEN_INITIALIZED)) {
		fprintf(stderr, "hwagg: slot \"%s\": the token is not initialized (hwagg init-token --slot %s)\n",
			out->name, out->name);
	} else {
		ret = HW_EXIT_OK;
	}
	free(all);
	return ret;
}

void hw_cli_pin_error(const char *slot, CK_RV rv)
{
	const char *why;
	switch (rv) {
	case CKR_PIN_INCORRECT: why = "wrong PIN"; break;
	case CKR_PIN_LOCKED: why = "the user PIN is locked after too many wrong PINs; the SO sets a new one "
				   "(hwagg unlock)"; break;
	case CKR_PIN_LEN_RANGE: why = "the PIN's length is outside what this token accepts"; break;
	case CKR_PIN_EXPIRED: why = "the PIN has expired"; break;
	case CKR_USER_PIN_NOT_INITIALIZED: why = "the token has no user PIN yet (hwagg init-pin)"; break;
	case CKR_ARGUMENTS_BAD: why = "refused (see the log line above)"; break;
	case CKR_TOKEN_NOT_PRESENT: case CKR_DEVICE_REMOVED: why = "the token is absent"; break;
	default: why = "login failed"; break;
	}
	fprintf(stderr, "hwagg: slot \"%s\": %s (%s)\n", slot, why, hw_rv_name(rv));
}

/* Everything between the options and the command's own work: module,
 * slot, PIN, login. On success the caller owns *s and must hw_admin_logout
 * it, then hw_admin_close. */
int hw_cli_begin(const char *slot_name, const char *pin_file, hw_admin_slot *slot, CK_SESSION_HANDLE *s)
{
	int ret;
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	char pname[33];
	/* keygen --policy: the policy slot, whatever its name */
	if (slot_name == hw_cli_policy_marker && (slot_name = hw_cli_policy_slot(pname, sizeof(pname))) == NULL) {
		ret = HW_EXIT_FAIL;
		goto fail;
	}
	if ((ret = hw_cli_pick_slot(slot_name, true, slot)) != HW_EXIT_OK)
		goto fail;
	hw_secret *pin = hw_cli_pin(pin_file, slot->name);
	if (pin == NULL) {
		ret = pin_file != NULL ? HW_EXIT_FAIL : HW_EXIT_USAGE;
		goto fail;
	}
	rv = hw_admin_login(slot->id, pin->data, pin->len, s);
	hw_secret_free(pin);
	if (rv == CKR_OK)
		return HW_EXIT_OK;
	hw_cli_pin_error(slot->name, rv);
	ret = HW_EXIT_FAIL;
fail:
	hw_admin_close();
	return ret;
}

static const char *or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static const char *class_name(CK_OBJECT_CLASS c)
{
	return c == CKO_PRIVATE_KEY ? "private-key" : c == CKO_PUBLIC_KEY ? "public-key" : "certificate";
}

/* keys --json: the schema of hwagg(1), "JSON OUTPUT". */
static void keys_json(const char *slot, const hw_admin_key *keys, size_t n)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char hex[2 * ID_MAX + 1];
	json_object_object_add(root, "slot", json_object_new_string(slot));
	for (size_t i = 0; i < n; i++) {
		json_object *k = json_object_new_object();
		hw_hex_encode(keys[i].id, keys[i].id_len < ID_MAX ? keys[i].id_len : ID_MAX, hex);
		json_object_object_add(k, "uri", json_object_new_string(keys[i].uri));
		json_object_object_add(k, "class", json_object_new_string(class_name(keys[i].cls)));
		json_object_object_add(k, "algorithm", json_object_new_string(keys[i].algorithm));
		json_object_object_add(k, "label", json_object_new_string(keys[i].label));
		json_object_object_add(k, "id", json_object_new_string(hex));
		json_object_object_add(k, "backend", json_object_new_string(keys[i].backend));
		json_object_object_add(k, "security", json_object_new_string(keys[i].security));
		json_object_object_add(k, "created", keys[i].created[0] ? json_object_new_string(keys[i].created) : NULL);
		json_object_array_add(arr, k);
	}
	json_object_object_add(root, "keys", arr);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int hw_cli_keys(int argc, char **argv)
{
	hw_cli_opts o;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s;
	hw_admin_key *keys = NULL;
	size_t n = 0;
	int ret = hw_cli_parse(argc, argv, KEYS_OPTS, 0, 0, &o);
	if (ret != HW_EXIT_OK)
		return ret;
	if ((ret = hw_cli_begin(o.slot, o.pin_file, &slot, &s)) != HW_EXIT_OK)
		return ret;
	CK_RV rv = hw_admin_keys(s, &keys, &n);
	if (rv == CKR_OK && o.json) {
		keys_json(slot.name, keys, n);
	} else if (rv == CKR_OK) {
		printf("%-10s %-8s %-9s %-20s %s\n", "ALGORITHM", "BACKEND", "SECURITY", "CREATED", "URI");
		for (size_t i = 0; i < n; i++)
			printf("%-10s %-8s %-9s %-20s %s\n", or_dash(keys[i].algorithm), or_dash(keys[i].backend),
			       or_dash(keys[i].security), or_dash(keys[i].created), keys[i].uri);
	} else {
		fprintf(stderr, "hwagg: slot \"%s\": cannot list the keys: %s\n", slot.name, hw_rv_name(rv));
		ret = HW_EXIT_FAIL;
	}
	hw_admin_keys_free(keys, n);
	hw_admin_logout(s);
	hw_admin_close();
	return ret;
}

int hw_cli_keygen(int argc, char **argv)
{
	hw_cli_opts o;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s;
	hw_admin_key *key = NULL;
	unsigned char id[ID_MAX];
	size_t id_len = 0;
	bool known = false, taken = false;
	/* what can be refused without the module comes first */
	int ret = hw_cli_parse(argc, argv, KEYGEN_OPTS, 0, 0, &o);
	if (ret != HW_EXIT_OK)
		return ret;
	if (o.policy && o.slot != NULL) {
		fprintf(stderr, "hwagg keygen: takes --slot NAME or --policy, not both; see hwagg keygen --help\n");
		return HW_EXIT_USAGE;
	}
	if ((o.slot == NULL && !o.policy) || o.type == NULL || o.label == NULL || o.label[0] == '\0') {
		fprintf(stderr, "hwagg keygen: needs --slot (or --policy), --type and a non-empty --label; "
			"see hwagg keygen --help\n");
		return HW_EXIT_USAGE;
	}
	for (size_t i = 0; hw_admin_key_type(i) != NULL; i++)
		known = known || strcmp(hw_admin_key_type(i), o.type) == 0;
	if (!known)
		return unknown_type(o.type);
	if (o.id_hex != NULL && !parse_id(o.id_hex, id, &id_len)) {
		fprintf(stderr, "hwagg: --id %s: expected 1 to %d bytes as hex digits (e.g. 01 or a1b2)\n",
			o.id_hex, ID_MAX);
		return HW_EXIT_USAGE;
	}
	if ((ret = hw_cli_begin(o.policy ? hw_cli_policy_marker : o.slot, o.pin_file, &slot, &s)) != HW_EXIT_OK)
		return ret;
	CK_RV rv = id_len > 0 ? hw_admin_key_exists(s, id, id_len, &taken) : CKR_OK;
	if (rv == CKR_OK && taken) {
		fprintf(stderr, "hwagg: slot \"%s\" already has a private key with id %s; choose another --id\n",
			slot.name, o.id_hex);
		ret = HW_EXIT_FAIL;
		goto out;
	}
	if (rv == CKR_OK)
		rv = hw_admin_keygen(s, o.type, o.label, id_len > 0 ? id : NULL, id_len, &key);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: slot \"%s\": generating a %s key failed: %s\n", slot.name, o.type,
			hw_rv_name(rv));
		if (o.policy)
			hw_cli_policy_placed(stderr);
		ret = HW_EXIT_FAIL;
		goto out;
	}
	printf("%s\n", key->uri);
	if (o.policy)
		hw_cli_policy_placed(stdout);   /* where it went, and why */
out:
	hw_admin_keys_free(key, key != NULL ? 1 : 0);
	hw_admin_logout(s);
	hw_admin_close();
	return ret;
}
