/*
 * The hwagg CLI. A client of the module's admin API (module/admin.h), never
 * of its internals: hwagg.c (commands, status, config check), keys.c (keys,
 * keygen), pin.c (reading a PIN), install_info.c (where the module is
 * installed and whether p11-kit loads it).
 */
#ifndef HW_CLI_H
#define HW_CLI_H

#include "common/ck.h"
#include "common/secret.h"
#include "module/admin.h"

#include <stdio.h>

enum { HW_EXIT_OK = 0, HW_EXIT_FAIL = 1, HW_EXIT_USAGE = 2, HW_EXIT_UNHEALTHY = 3 };

/* The user PIN of slot, from the first source there is: pin_file (its first
 * line, without the line end), $HWAGG_PIN, or a prompt without echo when
 * stdin is a terminal. NULL, after a message on stderr, when there is none
 * or it cannot be read. The caller frees it with hw_secret_free (wipes). */
hw_secret *hw_cli_pin(const char *pin_file, const char *slot);
/* The same for any PIN a command needs: its option, variable and name. */
typedef struct hw_cli_pin_src {
	const char *option;      /* "--so-pin-file" */
	const char *env;         /* "HWAGG_SO_PIN" */
	const char *what;        /* "SO PIN", for the prompt and messages */
} hw_cli_pin_src;
extern const hw_cli_pin_src hw_cli_user_pin, hw_cli_so_pin, hw_cli_new_pin;
hw_secret *hw_cli_secret(const hw_cli_pin_src *src, const char *file, const char *slot);

/* The options of the commands (hw_cli_parse). */
enum {
	HW_OPT_SLOT = 1 << 0, HW_OPT_TYPE = 1 << 1, HW_OPT_LABEL = 1 << 2, HW_OPT_ID = 1 << 3,
	HW_OPT_PIN_FILE = 1 << 4, HW_OPT_SO_PIN_FILE = 1 << 5, HW_OPT_NEW_PIN_FILE = 1 << 6,
	HW_OPT_JSON = 1 << 7, HW_OPT_YES = 1 << 8, HW_OPT_PEM = 1 << 9, HW_OPT_POLICY = 1 << 10,
};
typedef struct hw_cli_opts {
	const char *slot, *type, *label, *id_hex, *pin_file, *so_pin_file, *new_pin_file;
	bool json, yes, pem;
	bool policy;             /* keygen --policy: the policy slot places the key */
	char **args;             /* the arguments after the options */
	size_t nargs;
} hw_cli_opts;
/* argv[0] is the command. Options outside allowed, a PIN on the command
 * line, or fewer than min_args or more than max_args arguments: a message
 * and HW_EXIT_USAGE. */
int hw_cli_parse(int argc, char **argv, unsigned allowed, size_t min_args, size_t max_args, hw_cli_opts *o);

/* The slot named (or without a name the only one with an initialized
 * token, when initialized is true); a message and an exit code if none. */
int hw_cli_pick_slot(const char *name, bool initialized, hw_admin_slot *out);
/* A message for a failed login or PIN operation on slot. */
void hw_cli_pin_error(const char *slot, CK_RV rv);
/* hw_admin_open, hw_cli_pick_slot, the user PIN, a login: on success the
 * caller owns *s (hw_admin_logout) and the module (hw_admin_close). */
int hw_cli_begin(const char *slot_name, const char *pin_file, hw_admin_slot *slot, CK_SESSION_HANDLE *s);
/* A KEY-URI (RFC 7512, tools/uri.c): its token (the slot name), its
 * CKA_ID (id_len 0: none given) and label ("": none given), and type= when
 * given; token= required when need_token; a message and an exit code if
 * the URI is malformed, names no key, or carries a PIN. */
typedef struct hw_cli_uri {
	char token[33], label[256];
	unsigned char id[128];
	size_t id_len;
	CK_OBJECT_CLASS cls;
	bool has_cls;
} hw_cli_uri;
int hw_cli_uri_parse(const char *text, bool need_token, hw_cli_uri *k);

int hw_cli_keys(int argc, char **argv);
int hw_cli_keygen(int argc, char **argv);
void hw_cli_keygen_help(FILE *f);          /* the key types */
int hw_cli_status(int argc, char **argv);
int hw_cli_health(int argc, char **argv);
int hw_cli_init_token(int argc, char **argv);
int hw_cli_init_pin(int argc, char **argv);
int hw_cli_set_pin(int argc, char **argv);
int hw_cli_unlock(int argc, char **argv);
int hw_cli_delete(int argc, char **argv);
int hw_cli_export_pubkey(int argc, char **argv);
int hw_cli_import_cert(int argc, char **argv);
/* hwagg attest show|verify --bundle FILE ... (tools/attest.c) */
int hw_cli_attest(int argc, char **argv);
/* hwagg sign: tools/sign.c */
int hw_cli_sign(int argc, char **argv);
int hw_cli_audit(int argc, char **argv);     /* audit.c: audit verify|show */
int hw_cli_rotate(int argc, char **argv);    /* rotate.c: rotate KEY-URI | --due */
/* rotate.c: `hwagg status`'s line of the slot's keys due for rotation. */
struct hw_admin_slot;
void hw_cli_rotation_status(FILE *f, const struct hw_admin_slot *s, unsigned days);

/* tools/policy.c, with the module open: `hwagg health` when there is a
 * policy slot (healthy: its token is present; -1: no policy slot); the
 * policy part of `hwagg status`; for keygen --policy, the policy slot's
 * name (NULL after a message when there is none) and the placement line. */
int hw_cli_policy_health(bool json);
/* hw_cli_begin's slot name that means "the policy slot" (keygen --policy) */
extern const char hw_cli_policy_marker[];
void hw_cli_policy_status(FILE *f);
const char *hw_cli_policy_slot(char *name, size_t len);
void hw_cli_policy_placed(FILE *f);

/* Lines for `hwagg status`: the module file `make install` writes, and
 * whether a p11-kit module file registers it (if not, how to). */
void hw_cli_install_info(FILE *f);

#endif
