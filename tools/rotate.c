/*
 * hwagg rotate KEY-URI [--pin-file FILE]: a new key for the label, on the
 * same slot (hw_admin_rotate). The URI names the token (the slot) and the
 * key's label (object=), and its id= when several keys share the label.
 * Prints the new key's URI. `--due` (rotation by age) is not in this
 * release: it says so and exits 1 (README, "Not done yet").
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <p11-kit/uri.h>
#include <stdlib.h>
#include <string.h>

static int rotate_usage(void)
{
	fprintf(stderr, "usage: hwagg rotate KEY-URI [--pin-file FILE]\n"
			"       (KEY-URI: pkcs11:token=SLOT;object=LABEL[;id=...])\n");
	return HW_EXIT_USAGE;
}

/* The slot whose name is the URI's token label. */
static bool slot_of(P11KitUri *u, CK_SLOT_ID *id, char *name, size_t cap)
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);
	hw_admin_slot *slots = NULL;
	size_t n = 0, len = sizeof(ti->label);
	bool found = false;
	while (len > 0 && ti->label[len - 1] == ' ')
		len--;
	snprintf(name, cap, "%.*s", (int)len, (const char *)ti->label);
	if (hw_admin_slots(&slots, &n) != CKR_OK)
		return false;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(slots[i].name, name) == 0) {
			*id = slots[i].id;
			found = true;
		}
	}
	free(slots);
	return found;
}

static int rotate_key(P11KitUri *u, const char *pin_file)
{
	CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(u, CKA_LABEL), *id = p11_kit_uri_get_attribute(u, CKA_ID);
	char name[33], lab[256];
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE s;
	hw_admin_key *old = NULL, *neu = NULL;
	if (label == NULL || label->ulValueLen == 0 || label->ulValueLen >= sizeof(lab)) {
		fprintf(stderr, "hwagg: the URI names no key label (object=LABEL)\n");
		return HW_EXIT_USAGE;
	}
	snprintf(lab, sizeof(lab), "%.*s", (int)label->ulValueLen, (const char *)label->pValue);
	if (!slot_of(u, &slot, name, sizeof(name))) {
		fprintf(stderr, "hwagg: no slot is named \"%s\" (the URI's token=)\n", name);
		return HW_EXIT_FAIL;
	}
	hw_secret *pin = hw_cli_pin(pin_file, name);
	if (pin == NULL)
		return HW_EXIT_USAGE;
	CK_RV rv = hw_admin_login(slot, pin->data, pin->len, &s);
	hw_secret_free(pin);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: slot \"%s\": login: %s\n", name, hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	rv = hw_admin_rotate(s, lab, id != NULL ? id->pValue : NULL, id != NULL ? id->ulValueLen : 0, &old, &neu);
	hw_admin_logout(s);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: rotate \"%s\" on slot \"%s\": %s%s\n", lab, name, hw_rv_name(rv),
			rv == CKR_KEY_HANDLE_INVALID ? " (no private key has that label)" :
			rv == CKR_TEMPLATE_INCONSISTENT ? " (several keys have that label: add id= to the URI)" : "");
		return HW_EXIT_FAIL;
	}
	fprintf(stderr, "hwagg: rotated: the old private key %s is destroyed; its public key stays, with an end date\n",
		old->uri);
	printf("%s\n", neu->uri);
	hw_admin_keys_free(old, 1);
	hw_admin_keys_free(neu, 1);
	return HW_EXIT_OK;
}

int hw_cli_rotate(int argc, char **argv)
{
	const char *uri = NULL, *pin_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--due") == 0) {
			fprintf(stderr, "hwagg: rotate --due (rotation by age, \"rotation\": {\"interval_days\": N}) is not "
				"supported in this release (%s); no key was changed\n", hw_rv_name(CKR_FUNCTION_NOT_SUPPORTED));
			return HW_EXIT_FAIL;
		} else if (strcmp(argv[i], "--pin-file") == 0 && i + 1 < argc) {
			pin_file = argv[++i];
		} else if (strncmp(argv[i], "pkcs11:", 7) == 0 && uri == NULL) {
			uri = argv[i];
		} else {
			return rotate_usage();
		}
	}
	if (uri == NULL)
		return rotate_usage();
	P11KitUri *u = p11_kit_uri_new();
	if (u == NULL || p11_kit_uri_parse(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u) != P11_KIT_URI_OK) {
		fprintf(stderr, "hwagg: %s: not a PKCS#11 URI (RFC 7512)\n", uri);
		p11_kit_uri_free(u);
		return HW_EXIT_USAGE;
	}
	int ret = HW_EXIT_FAIL;
	if (hw_admin_open() == CKR_OK) {
		ret = rotate_key(u, pin_file);
		hw_admin_close();
	} else {
		fprintf(stderr, "hwagg: the configuration is not valid (see the message above)\n");
	}
	p11_kit_uri_free(u);
	return ret;
}
