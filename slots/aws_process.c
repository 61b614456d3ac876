/*
 * A profile's credential_process (aws_creds.h): the command line split as
 * the AWS CLI splits it (POSIX shell quoting, no shell: nothing is
 * expanded, no metacharacter means anything), run with stdin from
 * /dev/null, in a process group of its own so that a command that hangs is
 * stopped with everything it started, for at most the call's time. Its
 * stdout is JSON holding a secret: wiped after parsing, never logged; its
 * stderr is the application's, as for the CLI's user.
 */
#include "slots/aws_creds.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT 65536

extern char **environ;

CK_RV hw_aws_split_command(const char *cmd, char ***argv)
{
	size_t len = strlen(cmd), nw = 0, maxw = len / 2 + 2;
	/* words, then their text: never longer than the command */
	char **v = malloc(maxw * sizeof(*v) + len + maxw);
	*argv = NULL;
	if (v == NULL)
		return CKR_HOST_MEMORY;
	char *o = (char *)(v + maxw);
	bool in_word = false;
	for (const char *p = cmd; *p;) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			if (in_word) {
				*o++ = '\0';
				in_word = false;
			}
			p++;
			continue;
		}
		if (!in_word) {
			v[nw++] = o;
			in_word = true;
		}
		if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (q == NULL)
				goto bad;
			memcpy(o, p + 1, (size_t)(q - p - 1));
			o += q - p - 1;
			p = q + 1;
		} else if (*p == '"') {
			/* inside double quotes a backslash escapes only '"' and itself */
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					goto bad;
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			p++;
		} else if (*p == '\\') {
			if (p[1] == '\0')
				goto bad;
			*o++ = p[1];
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	if (in_word)
		*o = '\0';
	if (nw == 0)
		goto bad;
	v[nw] = NULL;
	*argv = v;
	return CKR_OK;
bad:
	free(v);
	return CKR_ARGUMENTS_BAD;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start argv with stdout into *fd; its pid, or -1 (errno set). */
static pid_t start(char **argv, int *fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int p[2];
	pid_t pid = -1;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* the application's blocked and handled signals are not the helper's */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	int err = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (err != 0) {
		close(p[0]);
		errno = err;
		return -1;
	}
	*fd = p[0];
	return pid;
}

/* Its stdout until EOF, MAX_OUTPUT or the deadline; its exit status
 * (*status -1: stopped, or not known). -1: it overran, and was stopped. */
static int collect(pid_t pid, int fd, long long until, char *buf, size_t *len, int *status)
{
	int rc = 0, st = 0;
	*len = 0;
	*status = -1;
	for (;;) {
		long long left = until - now_ms();
		struct pollfd pf = { fd, POLLIN, 0 };
		if (left <= 0 || *len >= MAX_OUTPUT) {
			rc = -1;
			break;
		}
		int n = poll(&pf, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		ssize_t got = read(fd, buf + *len, MAX_OUTPUT - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;          /* EOF: it is done writing */
		*len += (size_t)got;
	}
	/* done writing is not always exited: wait what is left of its time */
	while (rc == 0) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
			return 0;
		}
		if (w < 0)
			return 0;       /* the application reaps its children itself: judge by the output */
		if (now_ms() >= until)
			rc = -1;
		else
			usleep(2000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return -1;
}

CK_RV hw_aws_process_creds(const char *profile, const char *cmd, int limit_ms, hw_aws_creds *out, hw_cloud_err *e)
{
	char **argv = NULL, *buf = NULL;
	size_t len = 0;
	int fd = -1, status = -1;
	CK_RV rv = hw_aws_split_command(cmd, &argv);
	memset(out, 0, sizeof(*out));
	if (rv != CKR_OK) {
		hw_cloud_err_set(e, rv == CKR_HOST_MEMORY ? rv : CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "CredentialProcess",
				 "profile %s: credential_process is empty or has an unclosed quote", profile);
		return e->rv;
	}
	if ((buf = malloc(MAX_OUTPUT + 1)) == NULL) {
		free(argv);
		hw_cloud_err_set(e, CKR_HOST_MEMORY, HW_CLOUD_CREDENTIALS, "", "out of memory");
		return e->rv;
	}
	long long until = now_ms() + (limit_ms > 0 ? limit_ms : 1);
	pid_t pid = start(argv, &fd);
	if (pid < 0) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONFIG, "CredentialProcess",
				 "profile %s: cannot run credential_process %.60s: %s", profile, argv[0], strerror(errno));
		rv = e->rv;
		goto out;
	}
	int r = collect(pid, fd, until, buf, &len, &status);
	close(fd);
	if (r < 0) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "CredentialProcess",
				 len >= MAX_OUTPUT ? "profile %s: credential_process wrote too much (stopped)"
						   : "profile %s: credential_process did not finish in time (stopped)", profile);
		rv = e->rv;
	} else if (status > 0) {
		hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CREDENTIALS, "CredentialProcess",
				 "profile %s: credential_process failed (exit status %d)", profile, status);
		rv = e->rv;
	} else if ((rv = hw_aws_parse_process_json(buf, len, out)) != CKR_OK) {
		hw_cloud_err_set(e, rv, HW_CLOUD_CREDENTIALS, "CredentialProcess", "profile %s: credential_process did "
				 "not print Version 1 credentials as JSON", profile);
	} else {
		out->source = "credential process";
	}
out:
	hw_wipe(buf, MAX_OUTPUT + 1);
	free(buf);
	free(argv);
	return rv;
}
