/*
 * hw_user_string (userstr.h). The kernel checks the source for us: a read
 * through process_vm_readv() of our own memory, or a write() of it into a
 * pipe, fails with EFAULT where a plain load would raise SIGSEGV. Reads go
 * page by page so that a string ending just before an unmapped page is
 * still read.
 */
#include "common/userstr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Copy len bytes from src, or fail without touching src ourselves. */
static bool probe_copy(const void *src, void *dst, size_t len)
{
	struct iovec local = { dst, len }, remote = { (void *)(uintptr_t)src, len };
	ssize_t n;
	do
		n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return true;
	if (n < 0 && errno == EFAULT)
		return false;
	/* not allowed here (seccomp, old kernel): let a pipe check the memory */
	int fds[2];
	bool ok = false;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return false;
	if (len <= 4096) {
		do
			n = write(fds[1], src, len);
		while (n < 0 && errno == EINTR);
		ok = n == (ssize_t)len && read(fds[0], dst, len) == (ssize_t)len;
	}
	close(fds[0]);
	close(fds[1]);
	return ok;
}

static bool well_formed(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = s[i];
		size_t k = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
		if (k == 0 || i + k > n || (b < 0x80 && b < 0x20 && b != '\t') || b == 0x7F || (k == 2 && b < 0xC2))
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

hw_ustr hw_user_string(const void *p, char *out, size_t cap)
{
	const size_t page = 4096;
	size_t got = 0;
	if (p == NULL || out == NULL || cap == 0)
		return HW_USTR_UNREADABLE;
	while (got < cap) {
		uintptr_t at = (uintptr_t)p + got;
		size_t chunk = page - (at % page);
		if (chunk > cap - got)
			chunk = cap - got;
		if (!probe_copy((const void *)at, out + got, chunk))
			return HW_USTR_UNREADABLE;
		const char *nul = memchr(out + got, '\0', chunk);
		if (nul != NULL)
			return well_formed((const unsigned char *)out, (size_t)(nul - out)) ? HW_USTR_OK
											: HW_USTR_MALFORMED;
		got += chunk;
	}
	out[cap - 1] = '\0';
	return HW_USTR_TOO_LONG;
}

const char *hw_ustr_name(hw_ustr r)
{
	switch (r) {
	case HW_USTR_OK: return "ok";
	case HW_USTR_UNREADABLE: return "not readable memory";
	case HW_USTR_TOO_LONG: return "longer than allowed";
	default: return "not a text string (control characters or invalid UTF-8)";
	}
}
