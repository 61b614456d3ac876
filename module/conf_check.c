/*
 * `hwagg config check`: every problem of a configuration, one line each.
 * The parser goes on after a problem (conf.c); then each slot's backend
 * checks its own values as C_Initialize would have it do, and the rules
 * that need a look at the file system but nothing that blocks (a module
 * file is a shared object, the store can be created) run. The latter are
 * not C_Initialize's business: a consumer must not fail on a directory
 * that appears later.
 */
#include "module/conf_int.h"
#include "slots/backend.h"
#include "common/log.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An ELF file of type ET_DYN (a shared object), or why not. */
static const char *not_shared_object(const char *path)
{
	unsigned char h[EI_NIDENT + 2];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return strerror(errno);
	ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, h, sizeof(h)) : -2;
	close(fd);
	if (n == -2)
		return "not a regular file";
	if (n != (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return "not an ELF file";
	/* e_type follows e_ident, in the file's byte order */
	unsigned type = h[EI_DATA] == ELFDATA2MSB ? (unsigned)(h[EI_NIDENT] << 8 | h[EI_NIDENT + 1]) :
			(unsigned)(h[EI_NIDENT + 1] << 8 | h[EI_NIDENT]);
	return type == ET_DYN ? NULL : "an ELF file but not a shared object";
}

/* The nearest existing ancestor of path (path itself included). */
static void existing_ancestor(const char *path, char *out, size_t len)
{
	struct stat st;
	snprintf(out, len, "%s", path);
	while (stat(out, &st) != 0) {
		char *slash = strrchr(out, '/');
		if (slash == NULL || slash == out) {
			snprintf(out, len, "/");
			return;
		}
		*slash = '\0';
	}
}

/* A directory that exists (writable) or whose nearest existing ancestor is
 * a writable directory; or why not. */
static const char *not_creatable(const char *path, bool dir, char *why, size_t len)
{
	char anc[PATH_MAX];
	struct stat st;
	if (stat(path, &st) == 0) {
		if (dir != S_ISDIR(st.st_mode))
			return dir ? "exists and is not a directory" : "is a directory";
		if (access(path, W_OK) != 0) {
			snprintf(why, len, "exists and is not writable: %s", strerror(errno));
			return why;
		}
		return NULL;
	}
	existing_ancestor(path, anc, sizeof(anc));
	if (stat(anc, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", anc);
		return why;
	}
	if (access(anc, W_OK | X_OK) != 0) {
		snprintf(why, len, "%s cannot be created in %s: %s", dir ? "it" : "the file", anc, strerror(errno));
		return why;
	}
	return NULL;
}

static void check_value(void *arg, const char *where, const hw_conf_key *k, const char *value)
{
	conf_ctx *c = arg;
	char why[PATH_MAX + 128], q[CONF_QUOTE_LEN];
	const char *bad = NULL;
	if (k == NULL)
		return;
	if (k->check & HW_CONF_CHECK_SHARED_OBJECT && (bad = not_shared_object(value)) != NULL)
		hw_conf_fail(c, where, "%s: %s; expected a PKCS#11 module (a shared object)",
			     hw_conf_show(q, value, strlen(value)), bad);
	if (k->check & HW_CONF_CHECK_EXECUTABLE && access(value, X_OK) != 0)
		hw_conf_fail(c, where, "%s: %s; expected a program this user may run",
			     hw_conf_show(q, value, strlen(value)), strerror(errno));
	if (k->check & HW_CONF_CHECK_DIR_CREATABLE && (bad = not_creatable(value, true, why, sizeof(why))) != NULL)
		hw_conf_fail(c, where, "%s: %s; expected a directory this user can create or write",
			     hw_conf_show(q, value, strlen(value)), bad);
	if (k->check & HW_CONF_CHECK_FILE_WRITABLE && (bad = not_creatable(value, false, why, sizeof(why))) != NULL)
		hw_conf_fail(c, where, "%s: %s; expected a file this user can append to (else the lines go "
			     "to stderr)", hw_conf_show(q, value, strlen(value)), bad);
}

/* What C_Initialize would have each slot's backend say about its values
 * (a backend module is loaded for it). A backend's message "key: text"
 * becomes the key's path. */
static void check_backends(conf_ctx *c, const hw_config *cfg)
{
	for (size_t i = 0; i < cfg->nslots; i++) {
		char err[HW_CONFIG_ERR_LEN] = "", slot[CONF_PATH_LEN], where[CONF_PATH_LEN + 40];
		const hw_backend_entry *e = hw_backend_find(cfg->slots[i].type);
		const hw_backend_ops *ops = hw_backend_ops_get(e, err, sizeof(err));
		hw_conf_slot_path(slot, sizeof(slot), cfg, i);
		if (ops == NULL) {
			hw_conf_fail(c, slot, "%s; expected the backend of type \"%s\" to load", err[0] ? err : "no backend",
				     cfg->slots[i].type);
			continue;
		}
		void *ctx = calloc(1, ops->ctx_size ? ops->ctx_size : 1);
		CK_RV rv = ctx != NULL ? ops->open(ctx, &cfg->slots[i], cfg, err, sizeof(err)) : CKR_HOST_MEMORY;
		if (rv == CKR_OK && ops->close != NULL)
			ops->close(ctx, false);
		free(ctx);
		if (rv == CKR_OK)
			continue;
		hw_conf_backend_where(where, sizeof(where), cfg, i, err);
		hw_conf_fail(c, where, "%s", err[0] == '\0' ? hw_rv_name(rv) : hw_conf_backend_what(err));
	}
}

/* A backend's message "key: text" is about slot i's key: the path then
 * names it, as the parser's do. */
void hw_conf_backend_where(char *out, size_t len, const hw_config *cfg, size_t i, const char *err)
{
	char slot[CONF_PATH_LEN];
	size_t key = strspn(err, "abcdefghijklmnopqrstuvwxyz_");
	hw_conf_slot_path(slot, sizeof(slot), cfg, i);
	if (key > 0 && strncmp(err + key, ": ", 2) == 0)
		snprintf(out, len, "%s.%.*s", slot, (int)key, err);
	else
		snprintf(out, len, "%s", slot);
}

const char *hw_conf_backend_what(const char *err)
{
	size_t key = strspn(err, "abcdefghijklmnopqrstuvwxyz_");
	return key > 0 && strncmp(err + key, ": ", 2) == 0 ? err + key + 2 : err;
}

unsigned hw_config_check(const char *path, const char *origin, hw_conf_report_fn report, void *arg,
			 hw_config **out)
{
	conf_ctx c = { path, NULL, 0, report, arg, 0, origin };
	hw_config *cfg = NULL;
	CK_RV rv;

	if (out != NULL)
		*out = NULL;
	if (path == NULL && (c.file = path = hw_conf_search(HW_SYSTEM_CONF, &c.origin)) == NULL) {
		c.file = "<built-in>";
		rv = hw_conf_default_ctx(&c, &cfg);
	} else {
		rv = hw_conf_load_ctx(&c, path, &cfg);
	}
	if (rv == CKR_OK) {
		if (cfg->origin == NULL)
			cfg->origin = c.origin;
		check_backends(&c, cfg);
		hw_conf_walk_checks(cfg, check_value, &c);
	} else if (c.problems == 0) {
		hw_conf_fail(&c, NULL, "%s", hw_rv_name(rv));
	}
	if (c.problems == 0 && out != NULL)
		*out = cfg;
	else
		hw_config_free(cfg);
	return c.problems;
}
