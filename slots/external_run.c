/*
 * Running a signing command inside someone else's process.
 *
 * The host may have many threads, its own SIGCHLD handling and signals it
 * ignores, and may fork itself; so: posix_spawn (vfork-like, runs no
 * pthread_atfork handler, safe while other threads hold locks), no shell,
 * every descriptor but 0-2 closed in the child, the signals the host
 * ignores back to their defaults, a process group of its own so that a
 * timeout kills what the command started too. Only our own pid is ever
 * waited for (waitpid(pid), never -1), and it is always reaped: no
 * zombie is left whatever happens. stdin's bytes go through a socket pair
 * written with MSG_NOSIGNAL, so a command that exits without reading
 * cannot raise SIGPIPE in the host.
 */
#include "slots/external.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR_KEEP   4096     /* bytes of stderr kept; the rest is read and dropped */
#define EXIT_GRACE 200      /* ms the pipes may stay open after the command exited */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The child's setup, applied between fork and exec by posix_spawn. */
static int spawn(const hw_ext_job *j, int in_fd, int out_fd, int err_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	int rc;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigfillset(&dflt);
	sigdelset(&dflt, SIGKILL);
	sigdelset(&dflt, SIGSTOP);
	if (in_fd >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (rc == 0)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &dflt);
	if (rc == 0)
		rc = posix_spawn(pid, j->argv[0], &fa, &at, j->argv, j->envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

typedef struct stream {
	int fd;
	unsigned char *buf;
	size_t len, cap, max;
	bool over;                /* more came than max */
} stream;

/* Read what is there; false at EOF or error. */
static bool stream_read(stream *s)
{
	unsigned char chunk[4096];
	ssize_t n = read(s->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	size_t take = (size_t)n;
	if (s->len + take > s->max) {
		s->over = true;
		take = s->max - s->len;
	}
	if (take > 0) {
		memcpy(s->buf + s->len, chunk, take);
		s->len += take;
	}
	return true;
}

/* Exited (not yet reaped: WNOWAIT keeps its pid, and so its process
 * group id, ours until waitpid). A host that ignores SIGCHLD has the
 * kernel reap it: ECHILD, exited with an unknown status. */
static bool has_exited(pid_t pid, bool *reaped)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
		if (errno == EINTR)
			return false;
		*reaped = true;
		return true;
	}
	return si.si_pid == pid;
}

static void reap(pid_t pid, hw_ext_result *r)
{
	int st;
	pid_t w;
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	r->status = w == pid ? st : -1;
}

/* Feed stdin, collect stdout and stderr, until the command is done or the
 * deadline; then make sure it is dead and reaped. */
static void supervise(const hw_ext_job *j, pid_t pid, int in_fd, stream *out, stream *err, hw_ext_result *r)
{
	int64_t deadline = now_ms() + j->timeout_ms, exited_at = 0;
	size_t fed = 0;
	bool out_open = true, err_open = true, exited = false, reaped = false, kill_group = false;
	if (in_fd >= 0 && j->in_len == 0)
		shutdown(in_fd, SHUT_WR);
	for (;;) {
		if (!exited && has_exited(pid, &reaped)) {
			exited = true;
			exited_at = now_ms();
		}
		if (exited && !out_open && !err_open)
			break;
		int64_t now = now_ms(), left = deadline - now;
		if (left <= 0) {
			r->timed_out = !exited;
			kill_group = true;
			break;
		}
		if (out->over) {
			r->too_much = true;
			kill_group = true;
			break;
		}
		if (exited && now - exited_at > EXIT_GRACE) {
			/* something it started holds the pipes open */
			kill_group = true;
			break;
		}
		struct pollfd p[3];
		nfds_t n = 0;
		int io = -1, oo = -1, eo = -1;
		if (in_fd >= 0 && fed < j->in_len) {
			io = (int)n;
			p[n++] = (struct pollfd){ in_fd, POLLOUT, 0 };
		}
		if (out_open) {
			oo = (int)n;
			p[n++] = (struct pollfd){ out->fd, POLLIN, 0 };
		}
		if (err_open) {
			eo = (int)n;
			p[n++] = (struct pollfd){ err->fd, POLLIN, 0 };
		}
		/* the pipes close a moment before the exit can be waited for:
		 * then look again soon */
		int wait = n == 0 ? 1 : exited ? 5 : (int)(left < 50 ? left : 50);
		if (poll(p, n, wait) < 0 && errno != EINTR)
			break;
		if (io >= 0 && (p[io].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(in_fd, j->in + fed, j->in_len - fed, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				fed += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				fed = j->in_len;    /* it stopped reading: its output will tell */
			if (fed == j->in_len)
				shutdown(in_fd, SHUT_WR);
		}
		if (oo >= 0 && p[oo].revents != 0)
			out_open = stream_read(out);
		if (eo >= 0 && p[eo].revents != 0)
			err_open = stream_read(err);
	}
	/* kill before reaping: until then the group id cannot be reused */
	if (kill_group && !reaped)
		kill(-pid, SIGKILL);
	if (reaped)
		r->status = -1;
	else
		reap(pid, r);
}

static void first_line(const stream *err, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < err->len && err->buf[i] != '\n' && n + 1 < cap; i++) {
		unsigned char ch = err->buf[i];
		/* it goes to a log: no control characters */
		out[n++] = ch >= 0x20 && ch != 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
}

CK_RV hw_ext_run(const hw_ext_job *j, hw_ext_result *r)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	stream out = { .fd = -1, .max = j->out_max }, err = { .fd = -1, .max = ERR_KEEP };
	pid_t pid;
	CK_RV rv = CKR_OK;
	memset(r, 0, sizeof(*r));
	r->status = -1;
	if ((out.buf = malloc(j->out_max + 1)) == NULL || (err.buf = malloc(ERR_KEEP)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	/* close-on-exec: a command another thread starts meanwhile gets none */
	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 ||
	    (j->use_stdin && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) != 0)) {
		r->spawn_errno = errno;
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	int rc = spawn(j, inp[1], outp[1], errp[1], &pid);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&inp[1]);
	if (rc != 0) {
		r->spawn_errno = rc;
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	out.fd = outp[0];
	err.fd = errp[0];
	fcntl(out.fd, F_SETFL, O_NONBLOCK);
	fcntl(err.fd, F_SETFL, O_NONBLOCK);
	supervise(j, pid, inp[0], &out, &err, r);
	first_line(&err, r->err_line, sizeof(r->err_line));
	out.buf[out.len] = '\0';
	r->out = out.buf;
	r->out_len = out.len;
	out.buf = NULL;
out:
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&inp[0]);
	close_fd(&inp[1]);
	free(out.buf);
	free(err.buf);
	return rv;
}

void hw_ext_result_clear(hw_ext_result *r)
{
	if (r->out != NULL) {
		hw_wipe(r->out, r->out_len);
		free(r->out);
	}
	memset(r, 0, sizeof(*r));
}
