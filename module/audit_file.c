/*
 * The audit log file: appends from any number of threads and processes,
 * one hash chain.
 *
 * Every append holds this process's mutex and an exclusive flock while it
 * reads the tail (the last record's number and hash) and writes one whole
 * line with one write(2) on an O_APPEND descriptor: two writers can never
 * both chain to the same record, and lines never interleave. The tail is
 * read again under the lock whenever the file does not end where our own
 * last write ended, which is what keeps the chain single across processes.
 *
 * A writer that died mid-write (power loss, a full disk) leaves a torn last
 * line. The next writer sees the file does not end in a newline, ends the
 * torn line, and writes a "recover" record naming its length and hash
 * before its own record: the chain goes on from the last whole record, and
 * the verifier can tell that loss from tampering.
 */
#include "module/audit_int.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "mechanisms/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_WINDOW 16384

CK_RV hw_audit_hash(const void *line, size_t len, unsigned char out[HW_AUDIT_HASH_LEN])
{
	size_t n = HW_AUDIT_HASH_LEN;
	return hw_digest_once(CKM_SHA256, line, len, out, &n);
}

static CK_RV open_fd(hw_audit_file *f)
{
	struct stat st;
	f->fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0660);
	if (f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		hw_error("audit \"%s\": cannot open for appending: %s", f->path,
			 f->fd < 0 ? strerror(errno) : "not a regular file");
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1;
		return CKR_FUNCTION_FAILED;
	}
	f->pid = getpid();
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->cached = false;
	return CKR_OK;
}

CK_RV hw_audit_file_open(hw_audit_file *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	if ((f->path = strdup(path)) == NULL)
		return CKR_HOST_MEMORY;
	return open_fd(f);
}

void hw_audit_file_close(hw_audit_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	f->path = NULL;
	pthread_mutex_destroy(&f->lock);
}

/* The number in a line that starts {"seq":N (ours do); 0 otherwise. */
static uint64_t line_seq(const char *line, size_t len)
{
	static const char pre[] = "{\"seq\":";
	uint64_t v = 0;
	if (len < sizeof(pre) || memcmp(line, pre, sizeof(pre) - 1) != 0)
		return 0;
	for (size_t i = sizeof(pre) - 1; i < len && line[i] >= '0' && line[i] <= '9' && v < UINT64_MAX / 10; i++)
		v = v * 10 + (uint64_t)(line[i] - '0');
	return v;
}

typedef struct tail {
	uint64_t seq;
	unsigned char hash[HW_AUDIT_HASH_LEN];     /* zeros: no record yet */
	size_t torn;                                /* bytes after the last newline */
	unsigned char torn_hash[HW_AUDIT_HASH_LEN];
} tail;

/* Read the end of the file (size bytes): its last whole line and a torn
 * remainder. The window grows until it holds a whole line or the file. */
static CK_RV read_tail(int fd, off_t size, tail *t)
{
	size_t win = TAIL_WINDOW;
	CK_RV rv = CKR_OK;
	memset(t, 0, sizeof(*t));
	while (size > 0) {
		if ((off_t)win > size)
			win = (size_t)size;
		char *buf = malloc(win);
		if (buf == NULL)
			return CKR_HOST_MEMORY;
		ssize_t r = pread(fd, buf, win, size - (off_t)win);
		if (r != (ssize_t)win) {
			free(buf);
			return CKR_FUNCTION_FAILED;
		}
		char *nl = memrchr(buf, '\n', win);     /* end of the whole part */
		size_t whole = nl != NULL ? (size_t)(nl - buf) : 0;
		char *start = nl != NULL ? memrchr(buf, '\n', whole) : NULL;
		bool all = (off_t)win == size;
		if (nl != NULL && (start != NULL || all)) {
			size_t from = start != NULL ? (size_t)(start - buf) + 1 : 0;
			t->seq = line_seq(buf + from, whole - from);
			t->torn = win - whole - 1;
			if ((rv = hw_audit_hash(buf + from, whole - from, t->hash)) == CKR_OK && t->torn > 0)
				rv = hw_audit_hash(nl + 1, t->torn, t->torn_hash);
			free(buf);
			return rv;
		}
		if (nl == NULL && all) {
			/* nothing whole: the file is one torn line */
			t->torn = win;
			rv = hw_audit_hash(buf, win, t->torn_hash);
			free(buf);
			return rv;
		}
		free(buf);
		win *= 2;
	}
	return CKR_OK;
}

/* {"seq":N,"prev":"HEX" */
static void head(hw_jsonw *w, uint64_t seq, const unsigned char *prev)
{
	hw_jsonw_fmt(w, "{\"seq\":%" PRIu64 ",\"prev\":", seq);
	hw_jsonw_hex(w, prev, HW_AUDIT_HASH_LEN);
}

static CK_RV write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CKR_FUNCTION_FAILED;
		p += w;
		n -= (size_t)w;
	}
	return CKR_OK;
}

/* The descriptor is this process's and names the file at path now (a
 * forked child gets its own open file description, so its flock excludes
 * its parent; a rotated log is reopened). Mutex held. */
static CK_RV fresh_fd_inlock(hw_audit_file *f)
{
	struct stat st;
	if (f->fd >= 0 && f->pid == getpid() && stat(f->path, &st) == 0 &&
	    st.st_dev == f->dev && st.st_ino == f->ino)
		return CKR_OK;
	if (f->fd >= 0)
		close(f->fd);
	return open_fd(f);
}

/* Mutex and flock held: the tail, then the record (and a recovery record
 * before it when the tail is torn) in one write. */
static CK_RV append_locked(hw_audit_file *f, const char *common, const char *fields, char *buf,
			   uint64_t *seq_out, unsigned char *head_out, char *copy)
{
	struct stat st;
	tail t;
	hw_jsonw w;
	CK_RV rv;
	if (fstat(f->fd, &st) != 0)
		return CKR_FUNCTION_FAILED;
	if (f->cached && st.st_size == f->end) {
		memset(&t, 0, sizeof(t));
		t.seq = f->seq;
		memcpy(t.hash, f->hash, sizeof(t.hash));
	} else if ((rv = read_tail(f->fd, st.st_size, &t)) != CKR_OK) {
		return rv;
	}
	hw_jsonw_init(&w, buf, 2 * HW_AUDIT_LINE_MAX + 2);
	size_t rec = 0;
	if (t.torn > 0) {
		hw_warn("audit \"%s\": the last record is incomplete (%zu bytes; a writer was interrupted): "
			"recording that and chaining from the record before it", f->path, t.torn);
		hw_jsonw_raw(&w, "\n");
		head(&w, ++t.seq, t.hash);
		hw_jsonw_raw(&w, common);
		hw_jsonw_fmt(&w, ",\"event\":\"recover\",\"torn_bytes\":%zu,\"torn_sha256\":", t.torn);
		hw_jsonw_hex(&w, t.torn_hash, sizeof(t.torn_hash));
		hw_jsonw_raw(&w, "}");
		if (w.ok && (rv = hw_audit_hash(buf + 1, w.len - 1, t.hash)) != CKR_OK)
			return rv;
		hw_jsonw_raw(&w, "\n");
		rec = w.len;
	}
	head(&w, ++t.seq, t.hash);
	hw_jsonw_raw(&w, common);
	hw_jsonw_raw(&w, fields);
	hw_jsonw_raw(&w, "}");
	if (!w.ok || w.len - rec >= HW_AUDIT_LINE_MAX)
		return CKR_DATA_LEN_RANGE;
	if ((rv = hw_audit_hash(buf + rec, w.len - rec, f->hash)) != CKR_OK)
		return rv;
	if (copy != NULL)
		memcpy(copy, buf + rec, w.len - rec + 1);
	hw_jsonw_raw(&w, "\n");
	f->cached = false;
	if ((rv = write_all(f->fd, buf, w.len)) != CKR_OK)
		return rv;
	f->cached = true;
	f->end = st.st_size + (off_t)w.len;
	f->seq = t.seq;
	if (seq_out != NULL)
		*seq_out = t.seq;
	if (head_out != NULL)
		memcpy(head_out, f->hash, HW_AUDIT_HASH_LEN);
	return CKR_OK;
}

CK_RV hw_audit_file_append(hw_audit_file *f, const char *common, const char *fields,
			   uint64_t *seq, unsigned char *head_out, char *copy)
{
	char *buf = malloc(2 * HW_AUDIT_LINE_MAX + 2);
	CK_RV rv;
	if (buf == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_lock(&f->lock);
	if ((rv = fresh_fd_inlock(f)) != CKR_OK)
		goto out;
	if (flock(f->fd, LOCK_EX) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	rv = append_locked(f, common, fields, buf, seq, head_out, copy);
	flock(f->fd, LOCK_UN);
out:
	pthread_mutex_unlock(&f->lock);
	free(buf);
	if (rv != CKR_OK)
		hw_error("audit \"%s\": a record could not be written: %s", f->path, hw_rv_name(rv));
	return rv;
}
