/*
 * hwagg: the operator CLI, a client of the module's admin API
 * (module/admin.h): it sees what every PKCS#11 consumer sees.
 *
 *   hwagg status              slots, tokens, backend health, key counts,
 *                             where the module is and whether p11-kit loads it
 *   hwagg config check [FILE] validate a configuration like C_Initialize does
 *   hwagg keys [--slot NAME]  keys with their PKCS#11 URIs (needs the PIN)
 *   hwagg keygen --slot NAME --type TYPE --label LABEL [--id HEX]
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
	printf("%s: ok (named by %s): environment %s, store %s, %zu slot(s)\n",
	       m.config[0] ? m.config : "<built-in default>", m.origin, m.environment, m.store, m.nslots);
	for (size_t i = 0; i < m.nslots && i < HW_ARRAY_LEN(m.slots); i++)
		printf("  slot %zu: %-20s type %s\n", i, m.slots[i].name, m.slots[i].type);
	return HW_EXIT_OK;
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
	printf("config:      %s\nenvironment: %s\nstore:       %s\n",
	       m.config[0] ? m.config : "<built-in default>", m.environment, m.store);
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
	return usage(stderr);
}
