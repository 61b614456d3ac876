/*
 * Configuration files: the search order (x-init-reserved, $HWAGG_CONF, the
 * system file, the built-in default), reading a file, and what the log is
 * told about the one loaded. The environment is read with secure_getenv: in
 * a setuid or setgid process the caller's variables must not choose the
 * file, and through it the libraries the module loads.
 */
#include "module/conf_int.h"
#include "common/log.h"
#include "slots/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- files ----------------------------------------------------------------- */

/* What a group- or other-writable file lets those writers do, from what
 * the configuration's slots take: code to load or run, or only where keys
 * and logs go. */
static void warn_writable(const char *path, const hw_config *cfg)
{
	const char *risk = NULL;
	for (size_t i = 0; i < cfg->nslots && risk == NULL; i++) {
		const hw_backend_entry *e = hw_backend_find(cfg->slots[i].type);
		for (const hw_conf_key *k = e != NULL ? e->conf_keys : NULL; k != NULL && k->name != NULL; k++)
			if ((k->check & (HW_CONF_CHECK_SHARED_OBJECT | HW_CONF_CHECK_EXECUTABLE)) != 0 &&
			    json_object_object_get_ex(cfg->slots[i].json, k->name, NULL))
				risk = k->check & HW_CONF_CHECK_SHARED_OBJECT ? "the modules this process loads" :
				       "the commands this process runs";
	}
	hw_warn("config %s: writable by group or others: they can change %s, where keys are stored and "
		"where the log goes (chmod go-w)", path, risk != NULL ? risk : "the slots");
}

/* I/O failures are CKR_FUNCTION_FAILED; what the file says is checked by
 * hw_config_parse (CKR_ARGUMENTS_BAD). */
CK_RV hw_conf_load_ctx(conf_ctx *c, const char *path, hw_config **out)
{
	CK_RV rv = CKR_FUNCTION_FAILED;
	const char *why = NULL;
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r = 1;
	int fd = -1;

	if (out == NULL || path == NULL)
		return hw_conf_fail(c, NULL, "no configuration file given");
	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file";
	else if ((buf = malloc(CONF_MAX_SIZE + 2)) == NULL)
		why = strerror(ENOMEM);
	while (why == NULL && n <= CONF_MAX_SIZE && r != 0) {
		r = read(fd, buf + n, CONF_MAX_SIZE + 1 - n);
		if (r < 0 && errno != EINTR)
			why = strerror(errno);
		n += r > 0 ? (size_t)r : 0;
	}
	if (why != NULL) {
		hw_conf_fail(c, NULL, "cannot read: %s; expected a readable JSON file%s%s%s", why,
			     c->origin ? " (named by " : "", c->origin ? c->origin : "", c->origin ? ")" : "");
		goto out;           /* rv is still CKR_FUNCTION_FAILED */
	}
	buf[n] = '\0';
	const char *nul = memchr(buf, '\0', n);      /* config_build reports n > CONF_MAX_SIZE */
	if (nul != NULL)
		rv = hw_conf_syntax_error(c, buf, (size_t)(nul - buf), "NUL byte");
	else
		rv = hw_conf_build(c, path, buf, false, out);
	if (rv == CKR_OK && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		warn_writable(path, *out);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rv;
}

CK_RV hw_config_load_file(const char *path, hw_config **out, char *err, size_t err_len)
{
	conf_ctx c = { path, err, err_len };
	return hw_conf_load_ctx(&c, path, out);
}

/* "config=PATH" among the space- or comma-separated tokens of reserved. */
static CK_RV reserved_path(const char *reserved, char **path, char *err, size_t err_len)
{
	conf_ctx c = { "C_Initialize reserved string (x-init-reserved)", err, err_len };
	const char *p = reserved;

	*path = NULL;
	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, " \t,");
		if (len >= 7 && strncmp(p, "config=", 7) == 0) {
			if (len == 7 || *path != NULL) {
				hw_conf_fail(&c, NULL, "config= %s; expected one config=PATH",
					  len == 7 ? "has an empty path" : "given twice");
				free(*path);
				*path = NULL;
				return CKR_ARGUMENTS_BAD;
			}
			if ((*path = strndup(p + 7, len - 7)) == NULL)
				return hw_conf_oom(&c);
		}
		p += len;
		p += strspn(p, " \t,");
	}
	return CKR_OK;
}

/* The file of the search order after the reserved string: $HWAGG_CONF,
 * else the system file when it exists (or cannot be known to be absent);
 * NULL for the built-in default. */
const char *hw_conf_search(const char *system_path, const char **origin)
{
	const char *env = secure_getenv("HWAGG_CONF");
	struct stat st;
	if (env != NULL && *env != '\0') {
		*origin = "$HWAGG_CONF";
		return env;
	}
	if (system_path != NULL && (stat(system_path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))) {
		*origin = "the system configuration";
		return system_path;     /* present, or unknowable: reading it says why */
	}
	*origin = "no file: the built-in default";
	return NULL;
}

CK_RV hw_conf_default_ctx(conf_ctx *c, hw_config **out)
{
	CK_RV rv = hw_conf_build(c, NULL, CONF_DEFAULT_JSON, true, out);
	if (rv == CKR_OK && (rv = hw_conf_env_override(c, *out)) != CKR_OK) {
		hw_config_free(*out);
		*out = NULL;
	}
	if (*out != NULL)
		(*out)->origin = "no file: the built-in default";
	return rv;
}

CK_RV hw_config_load_from(const char *reserved, const char *system_path,
			  hw_config **out, char *err, size_t err_len)
{
	conf_ctx c = { "<built-in>", err, err_len };
	const char *path = NULL, *origin = NULL;
	char *rpath = NULL;
	CK_RV rv;

	if (out == NULL)
		return hw_conf_fail(&c, NULL, "no place for the configuration");
	*out = NULL;
	if ((rv = reserved_path(reserved, &rpath, err, err_len)) != CKR_OK)
		goto out;
	if (rpath != NULL) {
		path = rpath;
		origin = "config= in x-init-reserved";
	} else {
		path = hw_conf_search(system_path, &origin);
	}
	if (path != NULL) {
		conf_ctx fc = { path, err, err_len, .origin = origin };
		rv = hw_conf_load_ctx(&fc, path, out);
		if (fc.problems > 1 && err != NULL && err_len > strlen(err))
			snprintf(err + strlen(err), err_len - strlen(err), " (and %u more problem(s): hwagg config "
				 "check %s lists them all)", fc.problems - 1, path);
		if (rv == CKR_OK)
			(*out)->origin = origin;
		goto out;
	}
	rv = hw_conf_default_ctx(&c, out);
out:
	free(rpath);
	return rv;
}

/* Whether the developer asked for the built-in default: then it is no
 * news, and said at info level. */
static bool development_asked(void)
{
	const char *env = secure_getenv("HWAGG_ENVIRONMENT"), *xdg = secure_getenv("XDG_CONFIG_HOME");
	const char *home = secure_getenv("HOME");
	char marker[PATH_MAX];
	int n;
	if (env != NULL && strcmp(env, "development") == 0)
		return true;
	n = xdg != NULL && xdg[0] == '/' ? snprintf(marker, sizeof(marker), "%s/hwagg/development", xdg) :
	    home != NULL && home[0] == '/' ? snprintf(marker, sizeof(marker), "%s/.config/hwagg/development", home) :
	    -1;
	return n > 0 && (size_t)n < sizeof(marker) && access(marker, F_OK) == 0;
}

/* The process that said it (a forked child is another process: it says it
 * again; a second C_Initialize in one process does not). */
static pid_t default_said;

void hw_config_announce(const hw_config *c)
{
	if (c == NULL)
		return;
	if (!c->builtin) {
		hw_info("config: %s (named by %s): %zu slot(s), %s mode", c->path ? c->path : "-",
			c->origin ? c->origin : "the caller", c->nslots, hw_env_text(c));
		return;
	}
	pid_t me = getpid();
	if (__atomic_exchange_n(&default_said, me, __ATOMIC_ACQ_REL) == me)
		return;
	if (development_asked())
		hw_info("config: no configuration file: the built-in default, one soft slot \"hwagg-dev\" in %s, "
			"%s mode", c->store, hw_env_text(c));
	else
		hw_warn("config: no configuration file (%s absent, $HWAGG_CONF unset): using the built-in default, "
			"one soft slot \"hwagg-dev\" in %s with software keys, %s mode; write %s for anything but "
			"development (set HWAGG_ENVIRONMENT=development to quiet this)", HW_SYSTEM_CONF, c->store,
			hw_env_name(c->environment), HW_SYSTEM_CONF);
}

CK_RV hw_config_load(const char *reserved, hw_config **out, char *err, size_t err_len)
{
	return hw_config_load_from(reserved, HW_SYSTEM_CONF, out, err, err_len);
}

