/*
 * hwagg: the operator CLI, a client of the module's admin API
 * (module/admin.h): it sees what every PKCS#11 consumer sees.
 *
 *   hwagg status              slots, tokens, backend health, key counts,
 *                             where the module is and whether p11-kit loads it
 *   hwagg config check [FILE] validate a configuration like C_Initialize does
 *   hwagg keys [--slot NAME]  keys with their PKCS#11 URIs (needs the PIN)
 *   hwagg keygen --slot NAME --type TYPE --label LABEL [--id HEX]
 *   hwagg keygen --policy --type TYPE --label LABEL [--id HEX]
 *   hwagg health [--json]     exit 0 when usable (the policy token present)
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static int usage(FILE *f)
{
	fprintf(f, "usage: hwagg status\n"
		   "       hwagg config check [FILE]\n"
		   "       hwagg keys [--slot NAME] [--pin-file FILE]\n"
		   "       hwagg keygen --slot NAME --type TYPE --label LABEL [--id HEX] [--pin-file FILE]\n"
		   "       hwagg keygen --policy --type TYPE --label LABEL [--id HEX] [--pin-file FILE]\n"
		   "       hwagg health [--json]\n"
		   "       hwagg --help | --version\n"
		   "See hwagg(1).\n");
	return f == stderr ? HW_EXIT_USAGE : HW_EXIT_OK;
}

static int start(void)
{
	CK_RV rv = hw_admin_open();
	if (rv == CKR_OK)
		return HW_EXIT_OK;
	fprintf(stderr, "hwagg: the configuration is not valid (%s; see the message above)\n", hw_rv_name(rv));
	return HW_EXIT_FAIL;
}

static int print_header(hw_admin_module *m)
{
	CK_RV rv = hw_admin_module_info(m);
	if (rv != CKR_OK)
		fprintf(stderr, "hwagg: cannot describe the module: %s\n", hw_rv_name(rv));
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}

/* Exactly the module's validation: C_Initialize on the file, which parses
 * it and lets every backend check its own keys (no backend connects at
 * initialization). The module's error line names file, key and expectation. */
static int config_check(const char *file)
{
	hw_admin_module m;
	hw_admin_slot *slots = NULL;
	size_t n = 0;
	if (file != NULL && setenv("HWAGG_CONF", file, 1) != 0)
		return HW_EXIT_FAIL;
	int ret = start();
	if (ret != HW_EXIT_OK)
		return ret;
	if ((ret = print_header(&m)) == HW_EXIT_OK) {
		CK_RV rv = hw_admin_slots(&slots, &n);
		printf("%s: ok: environment %s, store %s, %zu slot(s)\n",
		       m.config[0] ? m.config : "<built-in default>", m.environment, m.store, n);
		for (size_t i = 0; rv == CKR_OK && i < n; i++) {
			printf("  slot %lu: %-20s type %s\n", (unsigned long)slots[i].id, slots[i].name, slots[i].type);
			/* a backend module checks its keys when it opens: this was it */
			if (!slots[i].available) {
				fprintf(stderr, "hwagg: slot \"%s\" cannot be used (see the message above)\n",
					slots[i].name);
				ret = HW_EXIT_FAIL;
			}
		}
		if (rv != CKR_OK)
			ret = HW_EXIT_FAIL;
		free(slots);
	}
	hw_admin_close();
	return ret;
}

static int status(void)
{
	hw_admin_module m;
	hw_admin_slot *slots = NULL;
	size_t n = 0;
	int ret = start();
	if (ret != HW_EXIT_OK)
		return ret;
	if ((ret = print_header(&m)) != HW_EXIT_OK)
		goto out;
	printf("config:      %s\nstore:       %s\n", m.config[0] ? m.config : "<built-in default>", m.store);
	hw_cli_policy_status(stdout);      /* the environment and why; the policy slot */
	hw_cli_install_info(stdout);
	CK_RV rv = hw_admin_slots(&slots, &n);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: cannot list the slots: %s\n", hw_rv_name(rv));
		ret = HW_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const hw_admin_slot *s = &slots[i];
		bool healthy = !s->has_health || s->health_rv == CKR_OK;
		printf("slot %lu  %-20s type %-8s keys %-8s token %s", (unsigned long)s->id, s->name, s->type,
		       s->security[0] ? s->security : "-", s->present ? "present" : "ABSENT");
		if (s->present) {
			printf(", %s", (s->token_flags & CKF_TOKEN_INITIALIZED) ? "initialized" : "not initialized");
			if (s->counted)
				printf(", %u private key(s), %u public key(s), %u certificate(s), %u other",
				       s->private_keys, s->public_keys, s->certificates, s->other);
			if (s->token_flags & CKF_USER_PIN_LOCKED)
				printf(", USER PIN LOCKED");
		}
		printf("\n        health: %s%s\n", healthy ? "" : "FAILED: ",
		       !s->available ? "the backend cannot be loaded (see the message above)" :
		       s->has_health ? s->health : "no health check");
		if (!healthy || !s->present)
			ret = HW_EXIT_UNHEALTHY;
	}
out:
	free(slots);
	hw_admin_close();
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("hwagg %s\n", PACKAGE_VERSION);
		return HW_EXIT_OK;
	}
	if (strcmp(argv[1], "status") == 0 && argc == 2)
		return status();
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "check") == 0)
		return config_check(argc == 4 ? argv[3] : NULL);
	if (strcmp(argv[1], "keys") == 0)
		return hw_cli_keys(argc - 1, argv + 1);
	if (strcmp(argv[1], "keygen") == 0)
		return hw_cli_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "health") == 0)
		return hw_cli_health(argc - 1, argv + 1);
	return usage(stderr);
}
