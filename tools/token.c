/*
 * hwagg init-token, init-pin, set-pin, unlock: the token and PIN
 * management softhsm2-util and pkcs11-tool users know, with every PIN read
 * from a file, a variable or a prompt (tools/pin.c), never from argv.
 */
#include "tools/cli.h"
#include "common/log.h"

#include <string.h>

enum pin_op { OP_INIT_TOKEN, OP_INIT_PIN, OP_SET_PIN, OP_UNLOCK };

static const struct pin_cmd {
	unsigned opts;
	const hw_cli_pin_src *first, *second;    /* the PINs the operation takes, in order */
	bool initialized;                         /* needs an initialized token */
	const char *done;                         /* said after slot "NAME": */
} cmds[] = {
	[OP_INIT_TOKEN] = { HW_OPT_SLOT | HW_OPT_SO_PIN_FILE, &hw_cli_so_pin, NULL, false,
			    "token initialized (its objects are gone); set the user PIN with hwagg init-pin" },
	[OP_INIT_PIN] = { HW_OPT_SLOT | HW_OPT_SO_PIN_FILE | HW_OPT_NEW_PIN_FILE, &hw_cli_so_pin, &hw_cli_new_pin,
			  true, "user PIN set" },
	[OP_SET_PIN] = { HW_OPT_SLOT | HW_OPT_PIN_FILE | HW_OPT_NEW_PIN_FILE, &hw_cli_user_pin, &hw_cli_new_pin,
			 true, "user PIN changed" },
	[OP_UNLOCK] = { HW_OPT_SLOT | HW_OPT_SO_PIN_FILE | HW_OPT_NEW_PIN_FILE, &hw_cli_so_pin, &hw_cli_new_pin,
			true, "user PIN unlocked with a new value" },
};

static const char *file_for(const hw_cli_opts *o, const hw_cli_pin_src *src)
{
	return src == &hw_cli_so_pin ? o->so_pin_file : src == &hw_cli_new_pin ? o->new_pin_file : o->pin_file;
}

static int run(int argc, char **argv, enum pin_op op)
{
	const struct pin_cmd *c = &cmds[op];
	hw_cli_opts o;
	hw_admin_slot slot;
	hw_secret *a = NULL, *b = NULL;
	int ret = hw_cli_parse(argc, argv, c->opts, 0, 0, &o);
	if (ret != HW_EXIT_OK)
		return ret;
	if (o.slot == NULL) {
		fprintf(stderr, "hwagg %s: needs --slot NAME; see hwagg %s --help\n", argv[0], argv[0]);
		return HW_EXIT_USAGE;
	}
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	if ((ret = hw_cli_pick_slot(o.slot, c->initialized, &slot)) != HW_EXIT_OK)
		goto out;
	if ((a = hw_cli_secret(c->first, file_for(&o, c->first), slot.name)) == NULL ||
	    (c->second != NULL && (b = hw_cli_secret(c->second, file_for(&o, c->second), slot.name)) == NULL)) {
		ret = HW_EXIT_USAGE;
		goto out;
	}
	switch (op) {
	case OP_INIT_TOKEN: rv = hw_admin_init_token(slot.id, slot.name, a->data, a->len); break;
	case OP_SET_PIN: rv = hw_admin_set_pin(slot.id, a->data, a->len, b->data, b->len); break;
	default: rv = hw_admin_init_pin(slot.id, a->data, a->len, b->data, b->len); break;
	}
	if (rv == CKR_OK) {
		printf("slot \"%s\": %s\n", slot.name, c->done);
	} else {
		hw_cli_pin_error(slot.name, rv);
		ret = HW_EXIT_FAIL;
	}
out:
	hw_secret_free(a);
	hw_secret_free(b);
	hw_admin_close();
	return ret;
}

int hw_cli_init_token(int argc, char **argv)
{
	return run(argc, argv, OP_INIT_TOKEN);
}

int hw_cli_init_pin(int argc, char **argv)
{
	return run(argc, argv, OP_INIT_PIN);
}

int hw_cli_set_pin(int argc, char **argv)
{
	return run(argc, argv, OP_SET_PIN);
}

int hw_cli_unlock(int argc, char **argv)
{
	return run(argc, argv, OP_UNLOCK);
}
