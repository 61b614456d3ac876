/*
 * hwagg rotate KEY-URI | --due: key rotation through the admin API
 * (hw_admin_rotate). Not in this release: the command says so, changes
 * nothing and exits 1 (README, "Not done yet").
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"

#include <string.h>

int hw_cli_rotate(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '\0') {
		fprintf(stderr, "usage: hwagg rotate KEY-URI\n       hwagg rotate --due\n");
		return HW_EXIT_USAGE;
	}
	CK_RV rv = hw_admin_rotate(argv[1]);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		fprintf(stderr, "hwagg: key rotation is not supported in this release (%s); no key was changed\n",
			hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	fprintf(stderr, "hwagg: rotate %s: %s\n", strcmp(argv[1], "--due") == 0 ? "--due" : argv[1], hw_rv_name(rv));
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}
