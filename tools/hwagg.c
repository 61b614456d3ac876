/*
 * hwagg: the operator CLI over the same internal library as the module.
 *
 *   hwagg status              slots, tokens, backend health, key counts
 *   hwagg config check [FILE] validate a configuration like C_Initialize does
 */
#include "module/fns.h"
#include "module/global.h"
#include "module/session.h"
#include "module/conf.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *f)
{
	fprintf(f, "usage: hwagg status\n"
		   "       hwagg config check [FILE]\n"
		   "       hwagg --help | --version\n"
		   "See hwagg(1).\n");
	return f == stderr ? 2 : 0;
}

/* Exactly the module's validation: C_Initialize on the file, which parses
 * it and lets every backend check its own keys (no backend connects at
 * initialization). The module's error line names file, key and expectation. */
static int config_check(const char *file)
{
	if (file != NULL && setenv("HWAGG_CONF", file, 1) != 0)
		return 1;
	CK_RV rv = hw_C_Initialize(NULL);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the configuration is not valid (%s)\n", hw_rv_name(rv));
		return 1;
	}
	/* backend modules check their keys when they open, on first use:
	 * open them all now */
	for (size_t i = 0; i < hw_g.nslots; i++) {
		if (!hw_slot_activate(&hw_g.slots[i])) {
			fprintf(stderr, "hwagg: slot \"%s\" cannot be used (see the message above)\n",
				hw_g.slots[i].conf->name);
			hw_C_Finalize(NULL);
			return 1;
		}
	}
	const hw_config *cfg = hw_g.config;
	printf("%s: ok: environment %s, store %s, %zu slot(s)\n",
	       cfg->path ? cfg->path : "<built-in default>", hw_env_name(cfg->environment),
	       cfg->store, cfg->nslots);
	for (size_t i = 0; i < cfg->nslots; i++)
		printf("  slot %zu: %-20s type %s\n", i, cfg->slots[i].name, cfg->slots[i].type);
	hw_C_Finalize(NULL);
	return 0;
}

static void count_objects(hw_slot *s, unsigned *keys, unsigned *certs, unsigned *other)
{
	*keys = *certs = *other = 0;
	hw_slot_sync(s);
	hw_lock(&s->lock);
	for (size_t i = 0; i < s->nobjs; i++) {
		CK_ULONG cls = hw_attrs_get_ulong(hw_obj_attrs_inlock(s->objs[i]), CKA_CLASS, CKO_DATA);
		if (cls == CKO_PRIVATE_KEY)
			(*keys)++;
		else if (cls == CKO_CERTIFICATE)
			(*certs)++;
		else if (cls != CKO_PUBLIC_KEY)
			(*other)++;
	}
	hw_unlock(&s->lock);
}

static int status(void)
{
	CK_RV rv = hw_C_Initialize(NULL);
	int bad = 0;
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: C_Initialize failed: %s (see the message above)\n", hw_rv_name(rv));
		return 1;
	}
	printf("config:      %s\nenvironment: %s\nstore:       %s\n",
	       hw_g.config->path ? hw_g.config->path : "<built-in default>",
	       hw_env_name(hw_g.config->environment), hw_g.config->store);
	for (size_t i = 0; i < hw_g.nslots; i++) {
		hw_slot *s = &hw_g.slots[i];
		char health[256] = "no health check";
		CK_TOKEN_INFO ti;
		rv = s->ops->health ? s->ops->health(s->ctx, health, sizeof(health)) : CKR_OK;
		bool present = hw_C_GetTokenInfo(i, &ti) == CKR_OK;
		printf("slot %zu  %-20s type %-8s token %s", i, s->conf->name, s->conf->type,
		       present ? "present" : "ABSENT");
		if (present) {
			unsigned k, c, o;
			count_objects(s, &k, &c, &o);
			printf(", %s, %u private key(s), %u certificate(s), %u other",
			       (ti.flags & CKF_TOKEN_INITIALIZED) ? "initialized" : "not initialized", k, c, o);
			if (ti.flags & CKF_USER_PIN_LOCKED)
				printf(", USER PIN LOCKED");
		}
		printf("\n        health: %s%s\n", rv == CKR_OK ? "" : "FAILED: ", health);
		if (rv != CKR_OK || !present)
			bad = 1;
	}
	hw_C_Finalize(NULL);
	return bad ? 3 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("hwagg %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "status") == 0 && argc == 2)
		return status();
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "check") == 0)
		return config_check(argc == 4 ? argv[3] : NULL);
	return usage(stderr);
}
