/*
 * hwagg keys [--slot NAME] and hwagg keygen --slot NAME --type T --label L
 * [--id HEX]: a login with the user PIN (tools/pin.c), then the admin API.
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 128

typedef struct opts {
	const char *slot, *type, *label, *id_hex, *pin_file;
	bool policy;                  /* keygen --policy: the policy slot places the key */
} opts;

static int usage_keys(FILE *f)
{
	fprintf(f, "usage: hwagg keys [--slot NAME] [--pin-file FILE]\n"
		   "       hwagg keygen --slot NAME --type TYPE --label LABEL [--id HEX] [--pin-file FILE]\n"
		   "       hwagg keygen --policy --type TYPE --label LABEL [--id HEX] [--pin-file FILE]\n"
		   "TYPE: ");
	for (size_t i = 0; hw_admin_key_type(i) != NULL; i++)
		fprintf(f, "%s%s", i ? ", " : "", hw_admin_key_type(i));
	fprintf(f, "\nThe PIN comes from --pin-file (first line), $HWAGG_PIN or a prompt; see hwagg(1).\n");
	return f == stderr ? HW_EXIT_USAGE : HW_EXIT_OK;
}

/* A PIN on the command line is refused, and its bytes are overwritten
 * (what ps showed until now cannot be taken back, what it shows later can). */
static int refuse_pin(char *arg)
{
	if (arg != NULL)
		hw_wipe(arg, strlen(arg));
	fprintf(stderr, "hwagg: a PIN on the command line is readable by every user of this machine "
		"(ps, /proc); give --pin-file FILE, set HWAGG_PIN, or let hwagg ask on the terminal\n");
	return HW_EXIT_USAGE;
}

static int parse(int argc, char **argv, bool keygen, opts *o)
{
	enum { O_SLOT = 256, O_TYPE, O_LABEL, O_ID, O_PIN_FILE, O_PIN, O_SO_PIN, O_POLICY };
	static const struct option longs[] = {
		{ "slot", required_argument, NULL, O_SLOT },
		{ "type", required_argument, NULL, O_TYPE },
		{ "label", required_argument, NULL, O_LABEL },
		{ "id", required_argument, NULL, O_ID },
		{ "pin-file", required_argument, NULL, O_PIN_FILE },
		{ "pin", required_argument, NULL, O_PIN },
		{ "so-pin", required_argument, NULL, O_SO_PIN },
		{ "policy", no_argument, NULL, O_POLICY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hp:", longs, NULL)) != -1) {
		switch (c) {
		case O_SLOT: o->slot = optarg; break;
		case O_TYPE: o->type = optarg; break;
		case O_LABEL: o->label = optarg; break;
		case O_ID: o->id_hex = optarg; break;
		case O_PIN_FILE: o->pin_file = optarg; break;
		case O_POLICY: o->policy = true; break;
		case O_PIN: case O_SO_PIN: case 'p': return refuse_pin(optarg);
		case 'h':
			usage_keys(stdout);
			return -1;    /* done, successfully */
		default:
			/* "--pin" without a value is still a PIN on the command line */
			if (optopt == O_PIN || optopt == O_SO_PIN || optopt == 'p')
				return refuse_pin(NULL);
			fprintf(stderr, "hwagg: %s: unknown option or missing value\n", argv[optind - 1]);
			return usage_keys(stderr);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hwagg: unexpected argument %s\n", argv[optind]);
		return usage_keys(stderr);
	}
	if (!keygen && o->policy) {
		fprintf(stderr, "hwagg: --policy is for keygen; `hwagg keys --slot NAME` lists the policy token's keys\n");
		return usage_keys(stderr);
	}
	if (keygen && o->policy && o->slot != NULL) {
		fprintf(stderr, "hwagg: keygen takes --slot NAME or --policy, not both\n");
		return usage_keys(stderr);
	}
	if (!keygen && (o->type != NULL || o->label != NULL || o->id_hex != NULL)) {
		fprintf(stderr, "hwagg: keys takes only --slot and --pin-file\n");
		return usage_keys(stderr);
	}
	if (keygen && ((o->slot == NULL && !o->policy) || o->type == NULL || o->label == NULL || o->label[0] == '\0')) {
		fprintf(stderr, "hwagg: keygen needs --slot (or --policy), --type and a non-empty --label\n");
		return usage_keys(stderr);
	}
	return HW_EXIT_OK;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool parse_id(const char *hex, unsigned char *out, size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n / 2 > ID_MAX)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return true;
}

/* The slot to work on: the one named, or without a name the only one whose
 * token is present and initialized (a PIN belongs to one token: it is not
 * tried on others). */
static int pick_slot(const char *name, hw_admin_slot *out)
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
	} else if (!(out->token_flags & CKF_TOKEN_INITIALIZED)) {
		fprintf(stderr, "hwagg: slot \"%s\": the token is not initialized (pkcs11-tool "
			"--init-token)\n", out->name);
	} else {
		ret = HW_EXIT_OK;
	}
	free(all);
	return ret;
}

static void login_error(const char *slot, CK_RV rv)
{
	const char *why;
	switch (rv) {
	case CKR_PIN_INCORRECT: why = "wrong PIN"; break;
	case CKR_PIN_LOCKED: why = "the user PIN is locked after too many wrong PINs; the SO sets a new one "
				   "(pkcs11-tool --login --login-type so --init-pin)"; break;
	case CKR_PIN_LEN_RANGE: why = "the PIN's length is outside what this token accepts"; break;
	case CKR_PIN_EXPIRED: why = "the PIN has expired"; break;
	case CKR_USER_PIN_NOT_INITIALIZED: why = "the token has no user PIN yet (pkcs11-tool --login "
					      "--login-type so --init-pin)"; break;
	case CKR_TOKEN_NOT_PRESENT: case CKR_DEVICE_REMOVED: why = "the token is absent"; break;
	default: why = "login failed"; break;
	}
	fprintf(stderr, "hwagg: slot \"%s\": %s (%s)\n", slot, why, hw_rv_name(rv));
}

/* Everything between the options and the command's own work: module,
 * slot, PIN, login. On success the caller owns *s and must hw_admin_logout
 * it, then hw_admin_close. */
static int begin(const opts *o, hw_admin_slot *slot, CK_SESSION_HANDLE *s)
{
	int ret;
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	char pname[33];
	const char *name = o->policy ? hw_cli_policy_slot(pname, sizeof(pname)) : o->slot;
	if (o->policy && name == NULL) {
		ret = HW_EXIT_FAIL;
		goto fail;
	}
	if ((ret = pick_slot(name, slot)) != HW_EXIT_OK)
		goto fail;
	hw_secret *pin = hw_cli_pin(o->pin_file, slot->name);
	if (pin == NULL) {
		ret = o->pin_file != NULL ? HW_EXIT_FAIL : HW_EXIT_USAGE;
		goto fail;
	}
	rv = hw_admin_login(slot->id, pin->data, pin->len, s);
	hw_secret_free(pin);
	if (rv == CKR_OK)
		return HW_EXIT_OK;
	login_error(slot->name, rv);
	ret = HW_EXIT_FAIL;
fail:
	hw_admin_close();
	return ret;
}

static const char *or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

int hw_cli_keys(int argc, char **argv)
{
	opts o;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s;
	hw_admin_key *keys = NULL;
	size_t n = 0;
	int ret = parse(argc, argv, false, &o);
	if (ret != HW_EXIT_OK)
		return ret < 0 ? HW_EXIT_OK : ret;
	if ((ret = begin(&o, &slot, &s)) != HW_EXIT_OK)
		return ret;
	CK_RV rv = hw_admin_keys(s, &keys, &n);
	if (rv == CKR_OK) {
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
	opts o;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s;
	hw_admin_key *key = NULL;
	unsigned char id[ID_MAX];
	size_t id_len = 0;
	bool known = false, taken = false;
	/* what can be refused without the module comes first */
	int ret = parse(argc, argv, true, &o);
	if (ret != HW_EXIT_OK)
		return ret < 0 ? HW_EXIT_OK : ret;
	for (size_t i = 0; hw_admin_key_type(i) != NULL; i++)
		known = known || strcmp(hw_admin_key_type(i), o.type) == 0;
	if (!known) {
		fprintf(stderr, "hwagg: --type %s: unknown key type\n", o.type);
		return usage_keys(stderr);
	}
	if (o.id_hex != NULL && !parse_id(o.id_hex, id, &id_len)) {
		fprintf(stderr, "hwagg: --id %s: expected 1 to %d bytes as hex digits (e.g. 01 or a1b2)\n",
			o.id_hex, ID_MAX);
		return HW_EXIT_USAGE;
	}
	if ((ret = begin(&o, &slot, &s)) != HW_EXIT_OK)
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
