/*
 * hwagg rotate KEY-URI [--pin-file FILE]: a new key for the label, on the
 * same slot (hw_admin_rotate). The URI names the token (the slot) and the
 * key's label (object=), and its id= when several keys share the label.
 * Prints the new key's URI.
 *
 * hwagg rotate --due --slot NAME [--pin-file FILE]: every private key of
 * the slot created longer ago than "rotation"."interval_days" (for a
 * systemd timer: conf/hwagg-rotate.timer).
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int rotate_usage(void)
{
	fprintf(stderr, "usage: hwagg rotate KEY-URI [--pin-file FILE]\n"
			"       hwagg rotate --due --slot NAME [--pin-file FILE]\n"
			"       (KEY-URI: pkcs11:token=SLOT;object=LABEL[;id=...])\n");
	return HW_EXIT_USAGE;
}

/* The slot named name. */
static bool slot_named(const char *name, CK_SLOT_ID *id)
{
	hw_admin_slot *slots = NULL;
	size_t n = 0;
	bool found = false;
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

/* A session logged in on the slot with the PIN of pin_file (or the other
 * sources of hw_cli_pin). */
static int login(CK_SLOT_ID slot, const char *name, const char *pin_file, CK_SESSION_HANDLE *s)
{
	hw_secret *pin = hw_cli_pin(pin_file, name);
	if (pin == NULL)
		return HW_EXIT_USAGE;
	CK_RV rv = hw_admin_login(slot, pin->data, pin->len, s);
	hw_secret_free(pin);
	if (rv != CKR_OK)
		fprintf(stderr, "hwagg: slot \"%s\": login: %s\n", name, hw_rv_name(rv));
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}

static int rotate_key(const hw_cli_uri *k, const char *pin_file)
{
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE s;
	hw_admin_key *old = NULL, *neu = NULL;
	const char *name = k->token, *lab = k->label;
	if (lab[0] == '\0') {
		fprintf(stderr, "hwagg: the URI names no key label (object=LABEL)\n");
		return HW_EXIT_USAGE;
	}
	if (!slot_named(name, &slot)) {
		fprintf(stderr, "hwagg: no slot is named \"%s\" (the URI's token=)\n", name);
		return HW_EXIT_FAIL;
	}
	int ret = login(slot, name, pin_file, &s);
	if (ret != HW_EXIT_OK)
		return ret;
	CK_RV rv = hw_admin_rotate(s, lab, k->id_len > 0 ? k->id : NULL, k->id_len, &old, &neu);
	hw_admin_logout(s);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: rotate \"%s\" on slot \"%s\": %s%s\n", lab, name, hw_rv_name(rv),
			rv == CKR_KEY_HANDLE_INVALID ? " (no private key has that label)" :
			rv == CKR_TEMPLATE_INCONSISTENT ? " (several keys have that label: add id= to the URI)" : "");
		return HW_EXIT_FAIL;
	}
	hw_admin_module m;
	bool disabled = hw_admin_module_info(&m) == CKR_OK && m.rotation_disable;
	fprintf(stderr, "hwagg: rotated: the old private key %s is %s; its public key stays, with an end date\n",
		old->uri, disabled ? "disabled (kept, it can no longer sign or decrypt; its label says retired)" :
				     "destroyed");
	printf("%s\n", neu->uri);
	hw_admin_keys_free(old, 1);
	hw_admin_keys_free(neu, 1);
	return HW_EXIT_OK;
}

/* Rotate the slot's private keys created more than days ago. */
static int rotate_due(const char *name, const char *pin_file, unsigned days)
{
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE s;
	hw_admin_key *keys = NULL;
	size_t n = 0, rotated = 0, young = 0;
	int ret;
	if (!slot_named(name, &slot)) {
		fprintf(stderr, "hwagg: no slot is named \"%s\"\n", name);
		return HW_EXIT_USAGE;
	}
	if ((ret = login(slot, name, pin_file, &s)) != HW_EXIT_OK)
		return ret;
	CK_RV rv = hw_admin_keys(s, &keys, &n);
	time_t now = time(NULL);
	for (size_t i = 0; rv == CKR_OK && i < n; i++) {
		hw_admin_key *old = NULL, *neu = NULL;
		long long t = hw_admin_created_time(keys[i].created);
		if (keys[i].cls != CKO_PRIVATE_KEY)
			continue;
		if (t < 0) {
			fprintf(stderr, "hwagg: %s: its token keeps no creation time; not rotated by age\n", keys[i].uri);
			continue;
		}
		if ((long long)now - t < (long long)days * 86400) {
			young++;
			continue;
		}
		rv = hw_admin_rotate(s, keys[i].label, keys[i].id, keys[i].id_len, &old, &neu);
		if (rv == CKR_OK) {
			printf("%s\n", neu->uri);
			rotated++;
		} else {
			fprintf(stderr, "hwagg: rotate %s: %s\n", keys[i].uri, hw_rv_name(rv));
		}
		hw_admin_keys_free(old, old != NULL);
		hw_admin_keys_free(neu, neu != NULL);
	}
	hw_admin_keys_free(keys, n);
	hw_admin_logout(s);
	fprintf(stderr, "hwagg: slot \"%s\": %zu key(s) rotated, %zu younger than %u days\n", name, rotated, young, days);
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}

static int due(const char *slot, const char *pin_file)
{
	hw_admin_module m;
	int ret = HW_EXIT_FAIL;
	memset(&m, 0, sizeof(m));
	if (slot == NULL)
		return rotate_usage();
	if (hw_admin_open() != CKR_OK) {
		fprintf(stderr, "hwagg: the configuration is not valid (see the message above)\n");
		return HW_EXIT_FAIL;
	}
	if (hw_admin_module_info(&m) == CKR_OK && m.rotation_days == 0) {
		fprintf(stderr, "hwagg: rotation by age is off (\"rotation\": {\"interval_days\": 0}, or %s mode)\n",
			m.environment);
		ret = HW_EXIT_OK;
	} else if (m.rotation_days > 0) {
		ret = rotate_due(slot, pin_file, m.rotation_days);
	}
	hw_admin_close();
	return ret;
}

int hw_cli_rotate(int argc, char **argv)
{
	const char *uri = NULL, *pin_file = NULL, *slot = NULL;
	bool by_age = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--due") == 0) {
			by_age = true;
		} else if (strcmp(argv[i], "--slot") == 0 && i + 1 < argc) {
			slot = argv[++i];
		} else if (strcmp(argv[i], "--pin-file") == 0 && i + 1 < argc) {
			pin_file = argv[++i];
		} else if (strncmp(argv[i], "pkcs11:", 7) == 0 && uri == NULL) {
			uri = argv[i];
		} else {
			return rotate_usage();
		}
	}
	if (by_age && uri == NULL)
		return due(slot, pin_file);
	if (uri == NULL || by_age || slot != NULL)
		return rotate_usage();
	hw_cli_uri k;
	int ret = hw_cli_uri_parse(uri, true, &k);
	if (ret != HW_EXIT_OK)
		return ret;
	if (hw_admin_open() == CKR_OK) {
		ret = rotate_key(&k, pin_file);
		hw_admin_close();
	} else {
		ret = HW_EXIT_FAIL;
		fprintf(stderr, "hwagg: the configuration is not valid (see the message above)\n");
	}
	return ret;
}

void hw_cli_rotation_status(FILE *f, const hw_admin_slot *s, unsigned days)
{
	unsigned due = 0, undated = 0;
	if (!s->present || !(s->token_flags & CKF_TOKEN_INITIALIZED) ||
	    hw_admin_due(s->id, days, &due, &undated) != CKR_OK)
		return;
	if (days == 0)
		fprintf(f, "        rotation: by age off\n");
	else
		fprintf(f, "        rotation: %u key(s) due (older than %u days)%s\n", due, days,
			undated > 0 ? ", some without a creation time" : "");
}
