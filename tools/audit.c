/*
 * hwagg audit: check and read the audit log (module/audit_verify.h).
 *
 *   hwagg audit verify [FILE] [--key PUBKEY.pem]
 *   hwagg audit show [FILE] [--key PUBKEY.pem] [--since WHEN]
 *
 * FILE defaults to the log the configuration names. verify exits 0 when
 * the chain (and, with --key, every checkpoint) is intact, 1 with the line
 * of the first problem otherwise. show prints the same verdict, then the
 * records as a table.
 */
#include "tools/cli.h"
#include "module/audit.h"
#include "module/audit_verify.h"
#include "module/conf.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

typedef struct audit_args {
	const char *file, *key, *since;
	char path[4096];
} audit_args;

static int audit_usage(void)
{
	fprintf(stderr, "usage: hwagg audit verify [FILE] [--key PUBKEY.pem]\n"
			"       hwagg audit show [FILE] [--key PUBKEY.pem] [--since TIME|Nm|Nh|Nd]\n");
	return HW_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, bool show, audit_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			a->key = argv[++i];
		else if (show && strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			a->since = argv[++i];
		else if (argv[i][0] != '-' && a->file == NULL)
			a->file = argv[i];
		else
			return audit_usage();
	}
	if (a->file != NULL)
		return HW_EXIT_OK;
	/* the log the configuration names, without initializing the module
	 * (an auditor may read a log that only its writers can append to) */
	char err[HW_CONFIG_ERR_LEN] = "";
	hw_config *cfg = NULL;
	if (hw_config_load(NULL, &cfg, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "hwagg: %s\n", err);
		return HW_EXIT_FAIL;
	}
	hw_audit_path(cfg, a->path, sizeof(a->path));
	hw_config_free(cfg);
	a->file = a->path;
	return HW_EXIT_OK;
}

/* The whole file, mapped read-only (*len 0: empty, *map NULL). */
static int map_file(const char *path, char **map, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*map = NULL;
	*len = 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "hwagg: audit log %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return HW_EXIT_FAIL;
	}
	*len = (size_t)st.st_size;
	if (*len > 0 && (*map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		fprintf(stderr, "hwagg: audit log %s: %s\n", path, strerror(errno));
		*map = NULL;
		close(fd);
		return HW_EXIT_FAIL;
	}
	close(fd);
	return HW_EXIT_OK;
}

/* The chain's verdict, one paragraph; HW_EXIT_OK when intact. */
static int check(const audit_args *a, const char *buf, size_t len, FILE *out)
{
	EVP_PKEY *key = NULL;
	hw_audit_result res;
	if (a->key != NULL && hw_audit_load_key(a->key, &key) != CKR_OK) {
		fprintf(stderr, "hwagg: %s: not a readable PEM public key\n", a->key);
		return HW_EXIT_FAIL;
	}
	CK_RV rv = hw_audit_verify(buf, len, key, &res);
	EVP_PKEY_free(key);
	if (rv == CKR_DATA_INVALID) {
		fprintf(out, "%s: line %zu: %s\n", a->file, res.bad_line, res.why);
		return HW_EXIT_FAIL;
	}
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: %s: %s\n", a->file, hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	fprintf(out, "%s: ok: %zu record(s), chain intact", a->file, res.records);
	if (res.recovered > 0)
		fprintf(out, ", %zu interrupted write(s) recovered", res.recovered);
	if (a->key != NULL)
		fprintf(out, ", %zu checkpoint(s) verified with %s; %zu record(s) after the last one are not "
			"anchored yet\n", res.checked, a->key, res.unanchored);
	else
		fprintf(out, ", %zu checkpoint(s) not checked (no --key)\n", res.checkpoints);
	return HW_EXIT_OK;
}

static int verify(int argc, char **argv)
{
	audit_args a;
	char *buf;
	size_t len;
	int ret = parse_args(argc, argv, false, &a);
	if (ret != HW_EXIT_OK || (ret = map_file(a.file, &buf, &len)) != HW_EXIT_OK)
		return ret;
	ret = check(&a, buf, len, stdout);
	if (buf != NULL)
		munmap(buf, len);
	return ret;
}

/* --since: an ISO 8601 UTC time (or a prefix: 2026-12-07T10) or Nm, Nh, Nd ago. */
static bool since_bound(const char *s, char *out, size_t cap)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (end != s && n >= 0 && end[0] != '\0' && end[1] == '\0' && strchr("smhd", end[0]) != NULL) {
		long mult = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
		time_t t = time(NULL) - (time_t)(n * mult);
		struct tm tm;
		gmtime_r(&t, &tm);
		return strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm) > 0;
	}
	if (strlen(s) < 4 || s[0] < '0' || s[0] > '9')
		return false;
	snprintf(out, cap, "%s", s);
	return true;
}

static void row(size_t lineno, const hw_audit_rec *r)
{
	const char *exe = hw_audit_rec_str(r, "exe"), *label = hw_audit_rec_str(r, "key.label");
	const char *id = hw_audit_rec_str(r, "key.id"), *slot = hw_audit_rec_str(r, "slot");
	const char *mech = hw_audit_rec_str(r, "mech"), *result = hw_audit_rec_str(r, "result");
	const char *user = hw_audit_rec_str(r, "user"), *what = hw_audit_rec_str(r, "what");
	json_object *v;
	char key[64] = "-", count[24] = "";
	if (label != NULL || id != NULL)
		snprintf(key, sizeof(key), "%s%s%s", label ? label : "", id ? " id=" : "", id ? id : "");
	else if (user != NULL || what != NULL)
		snprintf(key, sizeof(key), "%s", user ? user : what);
	if (json_object_object_get_ex(r->obj, "count", &v))
		snprintf(count, sizeof(count), "x%lld", (long long)json_object_get_int64(v));
	if (json_object_object_get_ex(r->obj, "pid", &v) && exe != NULL && strrchr(exe, '/') != NULL)
		exe = strrchr(exe, '/') + 1;
	printf("%-6zu %-24.24s %-10s %-12.12s %-24.24s %-22.22s %-22s %-7s %s\n", lineno, r->time, r->event,
	       slot ? slot : "-", key, mech ? mech : "-", result ? result : "-", count, exe ? exe : "-");
}

static int show(int argc, char **argv)
{
	audit_args a;
	char *buf, since[64] = "";
	size_t len, lineno = 0;
	int ret = parse_args(argc, argv, true, &a);
	if (ret != HW_EXIT_OK)
		return ret;
	if (a.since != NULL && !since_bound(a.since, since, sizeof(since))) {
		fprintf(stderr, "hwagg: --since %s: expected a UTC time such as 2026-12-07T10:00 or 30m, 12h, 7d\n",
			a.since);
		return HW_EXIT_USAGE;
	}
	if ((ret = map_file(a.file, &buf, &len)) != HW_EXIT_OK)
		return ret;
	ret = check(&a, buf, len, stdout);
	printf("%-6s %-24s %-10s %-12s %-24s %-22s %-22s %-7s %s\n", "LINE", "TIME (UTC)", "EVENT", "SLOT",
	       "KEY / USER", "MECHANISM", "RESULT", "COUNT", "PROGRAM");
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		hw_audit_rec r;
		const char *why;
		lineno++;
		if (hw_audit_rec_parse(buf + off, l, &r, &why) != CKR_OK)
			printf("%-6zu (not a record: %s)\n", lineno, why);
		else if (since[0] == '\0' || strcmp(r.time, since) >= 0)
			row(lineno, &r);
		hw_audit_rec_clear(&r);
		off += l + 1;
	}
	if (buf != NULL)
		munmap(buf, len);
	return ret;
}

int hw_cli_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return verify(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return show(argc - 2, argv + 2);
	return audit_usage();
}
