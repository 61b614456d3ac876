/*
 * Where `make install` puts the module, and whether p11-kit loads it.
 * configure decides the directories (under the prefix unless asked for
 * p11-kit's own), so a module can be installed where p11-kit does not
 * look: then its consumers (GnuTLS, the p11-kit proxy, Firefox through it)
 * do not see hwagg until a module file names it. `hwagg status` says which
 * case this is and what to write.
 */
#include "tools/cli.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HW_MODULE_FILE
#error "HW_MODULE_FILE (the installed module's path) comes from Makefile.am"
#endif

/* Where p11-kit reads module files: its package directory (pkg-config's
 * p11_module_configs) and its system configuration directory. */
static const char *const p11kit_dirs[] = { HW_P11KIT_CONFIG_DIR, "/etc/pkcs11/modules" };

static bool same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];
	if (strcmp(a, b) == 0)
		return true;
	return realpath(a, ra) != NULL && realpath(b, rb) != NULL && strcmp(ra, rb) == 0;
}

/* Whether the module file at path has a "module:" line naming our module
 * (a relative name is one in p11-kit's module directory). */
static bool names_us(const char *path)
{
	char line[PATH_MAX + 64], full[PATH_MAX + 2];
	bool found = false;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *v = line + strspn(line, " \t");
		if (strncmp(v, "module:", 7) != 0)
			continue;
		v += 7;
		v += strspn(v, " \t");
		v[strcspn(v, "\r\n")] = '\0';
		for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
			v[n - 1] = '\0';
		if (v[0] != '/' && snprintf(full, sizeof(full), "%s/%s", HW_P11KIT_MODULE_DIR, v) < (int)sizeof(full))
			v = full;
		found = same_file(v, HW_MODULE_FILE);
	}
	fclose(f);
	return found;
}

/* The first module file in p11-kit's directories that loads our module. */
static bool registered(char *out, size_t cap)
{
	for (size_t d = 0; d < HW_ARRAY_LEN(p11kit_dirs); d++) {
		if (d > 0 && strcmp(p11kit_dirs[d], p11kit_dirs[0]) == 0)
			continue;
		DIR *dir = opendir(p11kit_dirs[d]);
		struct dirent *e;
		bool found = false;
		if (dir == NULL)
			continue;
		while (!found && (e = readdir(dir)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n <= 7 || strcmp(e->d_name + n - 7, ".module") != 0)
				continue;
			snprintf(out, cap, "%s/%s", p11kit_dirs[d], e->d_name);
			found = names_us(out);
		}
		closedir(dir);
		if (found)
			return true;
	}
	return false;
}

void hw_cli_install_info(FILE *f)
{
	char file[PATH_MAX + 256];
	bool installed = access(HW_MODULE_FILE, F_OK) == 0;
	fprintf(f, "module:      %s (%s)\n", HW_MODULE_FILE, installed ? "installed" : "not installed here");
	if (registered(file, sizeof(file))) {
		fprintf(f, "p11-kit:     loads it, registered by %s\n", file);
		return;
	}
	fprintf(f, "p11-kit:     does not load it: no module file in %s names it", p11kit_dirs[0]);
	if (strcmp(HW_MODULE_CONFIG_DIR, p11kit_dirs[0]) != 0)
		fprintf(f, " (make install writes hwagg.module to %s)", HW_MODULE_CONFIG_DIR);
	fprintf(f, ";\n             to register it, create %s/hwagg.module holding the line\n"
		   "             module: %s\n", p11kit_dirs[0], HW_MODULE_FILE);
}
