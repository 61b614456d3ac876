/*
 * hwagg: the operator CLI, a client of the module's admin API
 * (module/admin.h): it sees what every PKCS#11 consumer sees. One row per
 * command below; `hwagg --help` and `hwagg COMMAND --help` come from it.
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static int config_cmd(int argc, char **argv);

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);      /* argv[0] is the command */
	const char *usage;                      /* what follows "hwagg NAME" */
	const char *summary;
	void (*details)(FILE *f);               /* more lines for --help, or NULL */
} commands[] = {
	{ "status", hw_cli_status, "[--json] [--slot NAME] [--pin-file FILE]",
	  "slots, tokens, PIN state, key counts, backend health, where the module is" },
	{ "health", hw_cli_health, "[--json]",
	  "exit 0 when every slot is usable (with a policy slot: its token), 3 when not" },
	{ "config", config_cmd, "check [FILE]", "check a configuration: every problem, one line each" },
	{ "keys", hw_cli_keys, "[--slot NAME] [--pin-file FILE] [--json]", "list a token's keys with their URIs" },
	{ "keygen", hw_cli_keygen, "--slot NAME|--policy --type TYPE --label LABEL [--id HEX] [--pin-file FILE]",
	  "generate a key pair; prints its URI", hw_cli_keygen_help },
	{ "init-token", hw_cli_init_token, "--slot NAME [--so-pin-file FILE]",
	  "initialize a token (destroys its objects); its label is the slot's name" },
	{ "init-pin", hw_cli_init_pin, "--slot NAME [--so-pin-file FILE] [--new-pin-file FILE]",
	  "the security officer sets the user PIN" },
	{ "set-pin", hw_cli_set_pin, "--slot NAME [--pin-file FILE] [--new-pin-file FILE]", "change the user PIN" },
	{ "unlock", hw_cli_unlock, "--slot NAME [--so-pin-file FILE] [--new-pin-file FILE]",
	  "the security officer gives a locked user PIN a new value" },
	{ "delete", hw_cli_delete, "KEY-URI [--yes] [--pin-file FILE]",
	  "destroy a key pair and its certificate (asks first on a terminal)" },
	{ "export-pubkey", hw_cli_export_pubkey, "KEY-URI [--pem]",
	  "write the public key (SubjectPublicKeyInfo, DER or PEM) to stdout" },
	{ "import-cert", hw_cli_import_cert, "KEY-URI FILE [--pin-file FILE]",
	  "store an X.509 certificate (PEM or DER) with the key's id" },
	{ "attest", hw_cli_attest, "show|verify KEY-URI | --bundle FILE [--pubkey FILE] [--ca FILE]",
	  "print or check a tpm key's attestation (verification needs no TPM)" },
	{ "sign", hw_cli_sign, "--key KEY-URI [--pin-file FILE] [--format der|raw] [--json] DIGEST-FILE",
	  "sign a hex SHA-256 digest file; prints the base64 signature (an external signer)" },
	{ "audit", hw_cli_audit, "verify|show [FILE] [--key PUBKEY.pem] [--since TIME]",
	  "check the audit log's hash chain and checkpoints, or print its records" },
	{ "rotate", hw_cli_rotate, "KEY-URI | --due --slot NAME [--pin-file FILE]",
	  "replace a key by its next version, keeping the old public key" },
};

static int usage(FILE *f)
{
	fprintf(f, "usage: hwagg COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < HW_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nhwagg COMMAND --help shows a command's options; hwagg --version. "
		   "PINs come from --pin-file FILE, $HWAGG_PIN or a prompt, never from the command line. "
		   "See hwagg(1).\n");
	return f == stderr ? HW_EXIT_USAGE : HW_EXIT_OK;
}

static void problem_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* The module's validation without initializing it: every problem, one
 * line each on stderr (the parser goes on after the first), then each
 * backend's checks of its values and the checks that need a look at the
 * file system (a module file, the store directory). */
static int config_check(const char *file)
{
	static hw_admin_config m;
	unsigned n = hw_admin_config_check(file, file != NULL ? "the command line" : NULL, problem_line, NULL, &m);
	if (n > 0) {
		fprintf(stderr, "hwagg: %u problem(s) in the configuration\n", n);
		return HW_EXIT_FAIL;
	}
	if (m.config[0])
		printf("%s: ok (named by %s): environment %s, store %s, %zu slot(s)\n", m.config, m.origin,
		       m.environment, m.store, m.nslots);
	else
		printf("no configuration file ($HWAGG_CONF unset, the system file absent): the built-in default is "
		       "ok: environment %s, store %s, %zu slot(s)\n", m.environment, m.store, m.nslots);
	for (size_t i = 0; i < m.nslots && i < HW_ARRAY_LEN(m.slots); i++)
		printf("  slot %zu: %-20s type %s\n", i, m.slots[i].name, m.slots[i].type);
	return HW_EXIT_OK;
}

static int config_cmd(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "hwagg config: expected \"check [FILE]\"; see hwagg config --help\n");
		return HW_EXIT_USAGE;
	}
	return config_check(argc == 3 ? argv[2] : NULL);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("hwagg %s\n", PACKAGE_VERSION);
		return HW_EXIT_OK;
	}
	for (size_t i = 0; i < HW_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++) {
			if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
				printf("usage: hwagg %s %s\n%s\n", commands[i].name, commands[i].usage, commands[i].summary);
				if (commands[i].details != NULL)
					commands[i].details(stdout);
				printf("See hwagg(1).\n");
				return HW_EXIT_OK;
			}
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "hwagg: unknown command \"%s\"; see hwagg --help\n", argv[1]);
	return HW_EXIT_USAGE;
}
