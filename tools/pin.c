/*
 * Reading the user PIN for the CLI: never from the command line (every user
 * can read another's argv in ps and /proc), always into the secret-memory
 * buffer (locked, out of core dumps, wiped when freed), and never through
 * stdio, whose buffers would keep copies nobody wipes.
 */
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PIN_MAX 256

/* Keep bytes up to the first line end; the line end itself is dropped. A
 * CR before the LF goes too, as an editor on another system writes it.
 * Returns 1 when the line is complete, 0 when more may come. */
static int take(hw_secret *pin, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n') {
			if (pin->len > 0 && pin->data[pin->len - 1] == '\r')
				pin->len--;
			return 1;
		}
		if (pin->len == PIN_MAX + 1)
			return 1;             /* too long: the caller says so */
		pin->data[pin->len++] = in[i];
	}
	return 0;
}

/* The common end of every source: a PIN is 1..PIN_MAX bytes. */
static hw_secret *checked(hw_secret *pin, const char *from)
{
	if (pin->len == 0 || pin->len > PIN_MAX) {
		fprintf(stderr, "hwagg: %s: %s\n", from,
			pin->len == 0 ? "the PIN is empty" : "the PIN is longer than 256 bytes");
		hw_secret_free(pin);
		return NULL;
	}
	return pin;
}

static hw_secret *from_file(const hw_cli_pin_src *src, const char *path)
{
	struct stat st;
	unsigned char chunk[64];
	int done = 0;
	hw_secret *pin = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "hwagg: %s %s: %s\n", src->option, path, strerror(errno));
		return NULL;
	}
	/* a pipe or /dev/stdin is fine; a file others can read is not secret */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		fprintf(stderr, "hwagg: warning: PIN file %s is readable by other users (chmod 600)\n", path);
	if ((pin = hw_secret_new(PIN_MAX + 1)) == NULL) {
		fprintf(stderr, "hwagg: out of memory\n");
		close(fd);
		return NULL;
	}
	pin->len = 0;
	while (!done) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "hwagg: %s %s: %s\n", src->option, path, strerror(errno));
			hw_wipe(chunk, sizeof(chunk));
			hw_secret_free(pin);
			close(fd);
			return NULL;
		}
		done = r == 0 || take(pin, chunk, (size_t)r);
	}
	hw_wipe(chunk, sizeof(chunk));
	close(fd);
	return checked(pin, src->option);
}

/* The terminal's settings while echo is off, for a signal to put back. */
static struct termios saved_tty;

static void restore_tty(int sig)
{
	tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);   /* async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

static hw_secret *from_prompt(const hw_cli_pin_src *src, const char *slot)
{
	/* not SIGTSTP: after a stop and continue the read would go on with
	 * echo back on; a stopped prompt is the shell's to tidy up */
	static const int sigs[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP };
	struct sigaction sa = { .sa_handler = restore_tty }, old[HW_ARRAY_LEN(sigs)];
	struct termios quiet;
	unsigned char c;
	int done = 0;
	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0) {
		fprintf(stderr, "hwagg: cannot read the terminal settings: %s\n", strerror(errno));
		return NULL;
	}
	hw_secret *pin = hw_secret_new(PIN_MAX + 1);
	if (pin == NULL) {
		fprintf(stderr, "hwagg: out of memory\n");
		return NULL;
	}
	pin->len = 0;
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < HW_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, &old[i]);
	/* echo off before the prompt shows: nothing typed after it is echoed;
	 * where echo cannot be turned off, no PIN is read */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		fprintf(stderr, "hwagg: cannot turn the terminal's echo off: %s\n", strerror(errno));
		done = -2;
	} else {
		fprintf(stderr, "%s for slot \"%s\": ", src->what, slot);
		fflush(stderr);
	}
	while (done == 0) {
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		done = r <= 0 ? (pin->len > 0 ? 1 : -1) : take(pin, &c, 1);
	}
	c = 0;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	for (size_t i = 0; i < HW_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (done == -2) {
		hw_secret_free(pin);
		return NULL;
	}
	fputc('\n', stderr);
	if (done < 0) {
		fprintf(stderr, "hwagg: no %s was typed\n", src->what);
		hw_secret_free(pin);
		return NULL;
	}
	return checked(pin, "the PIN typed");
}

const hw_cli_pin_src hw_cli_user_pin = { "--pin-file", "HWAGG_PIN", "user PIN" };
const hw_cli_pin_src hw_cli_so_pin = { "--so-pin-file", "HWAGG_SO_PIN", "SO PIN" };
const hw_cli_pin_src hw_cli_new_pin = { "--new-pin-file", "HWAGG_NEW_PIN", "new PIN" };

hw_secret *hw_cli_secret(const hw_cli_pin_src *src, const char *file, const char *slot)
{
	if (file != NULL)
		return from_file(src, file);
	const char *env = getenv(src->env);
	if (env != NULL) {
		size_t n = strlen(env);
		hw_secret *pin = hw_secret_new(n > PIN_MAX ? PIN_MAX + 1 : n + 1);
		if (pin == NULL) {
			fprintf(stderr, "hwagg: out of memory\n");
			return NULL;
		}
		pin->len = n > PIN_MAX ? PIN_MAX + 1 : n;
		memcpy(pin->data, env, pin->len);
		/* what this process starts need not inherit it */
		unsetenv(src->env);
		return checked(pin, src->env);
	}
	if (isatty(STDIN_FILENO))
		return from_prompt(src, slot);
	fprintf(stderr, "hwagg: slot \"%s\" needs its %s: give %s FILE, set %s, or run on a terminal to be "
		"asked (a PIN is never taken from the command line)\n", slot, src->what, src->option, src->env);
	return NULL;
}

hw_secret *hw_cli_pin(const char *pin_file, const char *slot)
{
	return hw_cli_secret(&hw_cli_user_pin, pin_file, slot);
}
