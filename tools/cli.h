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

#include <stdio.h>

enum { HW_EXIT_OK = 0, HW_EXIT_FAIL = 1, HW_EXIT_USAGE = 2, HW_EXIT_UNHEALTHY = 3 };

/* The user PIN of slot, from the first source there is: pin_file (its first
 * line, without the line end), $HWAGG_PIN, or a prompt without echo when
 * stdin is a terminal. NULL, after a message on stderr, when there is none
 * or it cannot be read. The caller frees it with hw_secret_free (wipes). */
hw_secret *hw_cli_pin(const char *pin_file, const char *slot);

int hw_cli_keys(int argc, char **argv);
int hw_cli_keygen(int argc, char **argv);

/* tools/policy.c: `hwagg health [--json]`; the policy part of `hwagg
 * status`; for keygen --policy, the policy slot's name (NULL after a
 * message when there is none; the module is open) and the placement line. */
int hw_cli_health(int argc, char **argv);
void hw_cli_policy_status(FILE *f);
const char *hw_cli_policy_slot(char *name, size_t len);
void hw_cli_policy_placed(FILE *f);

/* Lines for `hwagg status`: the module file `make install` writes, and
 * whether a p11-kit module file registers it (if not, how to). */
void hw_cli_install_info(FILE *f);

#endif
