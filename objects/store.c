/*
 * The local store over SQLite. One connection per hw_store, serialized by
 * our own mutex (the connection is opened SQLITE_OPEN_NOMUTEX), so every
 * statement, its bindings and sqlite3_errmsg() are used under that mutex.
 *
 * Writes start with BEGIN IMMEDIATE: taking the write lock up front means
 * two processes never both hold a read transaction and then deadlock on the
 * upgrade; a lock held by another process is waited for by the busy handler
 * and, for the cases SQLite reports without calling it, by our own retry
 * loop bounded by the same timeout.
 *
 * synchronous=FULL: in WAL mode NORMAL can lose the last commits on power
 * loss. Writes here are rare (key generation, PIN changes, failure counters)
 * and an application told CKR_OK for a generated key may already have
 * published its public half, so one fsync per commit is worth it.
 */
#include "objects/store.h"
#include "common/deadline.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HW_STORE_FILE "hwagg.db"
#define HW_STORE_BUSY_MS 10000
#define HW_STORE_SCHEMA 1
#define HW_STORE_FAILS_CAP 1000000

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_DATA_VERSION,
	ST_TOKEN_GET, ST_TOKEN_PUT, ST_TOKEN_SO_WRAP, ST_TOKEN_USER_WRAP,
	ST_FAIL_USER, ST_FAIL_SO, ST_FAILS_GET,
	ST_OBJ_WIPE_SLOT, ST_OBJ_EACH, ST_OBJ_GET, ST_OBJ_INSERT, ST_OBJ_UPDATE, ST_OBJ_DELETE,
	ST_COUNT
};

static const char *const hw_store_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_TOKEN_GET] = "SELECT label, initialized, user_pin_set, user_fails, so_fails, "
		"so_wrap, user_wrap FROM tokens WHERE slot = ?1",
	[ST_TOKEN_PUT] = "INSERT INTO tokens(slot, label, initialized, user_pin_set, user_fails, "
		"so_fails, so_wrap, user_wrap) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT(slot) DO UPDATE SET label = excluded.label, "
		"initialized = excluded.initialized, user_pin_set = excluded.user_pin_set, "
		"user_fails = excluded.user_fails, so_fails = excluded.so_fails, "
		"so_wrap = excluded.so_wrap, user_wrap = excluded.user_wrap",
	/* ?2 is unused: these share the (slot, id, blob) binding of object updates */
	[ST_TOKEN_SO_WRAP] = "UPDATE tokens SET so_wrap = ?3 WHERE slot = ?1 AND initialized",
	[ST_TOKEN_USER_WRAP] = "UPDATE tokens SET user_wrap = ?3, user_pin_set = 1, user_fails = 0 "
		"WHERE slot = ?1 AND initialized",
	[ST_FAIL_USER] = "UPDATE tokens SET user_fails = CASE WHEN ?2 THEN 0 "
		"ELSE min(user_fails + 1, ?3) END WHERE slot = ?1",
	[ST_FAIL_SO] = "UPDATE tokens SET so_fails = CASE WHEN ?2 THEN 0 "
		"ELSE min(so_fails + 1, ?3) END WHERE slot = ?1",
	[ST_FAILS_GET] = "SELECT user_fails, so_fails FROM tokens WHERE slot = ?1",
	[ST_OBJ_WIPE_SLOT] = "DELETE FROM objects WHERE slot = ?1",
	[ST_OBJ_EACH] = "SELECT id, attrs, secret, created FROM objects WHERE slot = ?1 ORDER BY id",
	[ST_OBJ_GET] = "SELECT id, attrs, secret, created FROM objects WHERE slot = ?1 AND id = ?2",
	[ST_OBJ_INSERT] = "INSERT INTO objects(slot, attrs, secret, created) VALUES (?1, ?2, ?3, ?4)",
	[ST_OBJ_UPDATE] = "UPDATE objects SET attrs = ?3 WHERE slot = ?1 AND id = ?2",
	[ST_OBJ_DELETE] = "DELETE FROM objects WHERE slot = ?1 AND id = ?2",
};

/* Version 1. A later release adds "if (version < 2) ..." steps in
 * hw_store_schema_inlock and bumps HW_STORE_SCHEMA. */
static const char hw_store_schema_v1[] =
	"CREATE TABLE tokens("
	" slot TEXT PRIMARY KEY NOT NULL,"
	" label TEXT NOT NULL DEFAULT '',"
	" initialized INTEGER NOT NULL DEFAULT 0,"
	" user_pin_set INTEGER NOT NULL DEFAULT 0,"
	" user_fails INTEGER NOT NULL DEFAULT 0,"
	" so_fails INTEGER NOT NULL DEFAULT 0,"
	" so_wrap BLOB,"
	" user_wrap BLOB);"
	"CREATE TABLE objects("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" slot TEXT NOT NULL,"
	" attrs BLOB NOT NULL,"
	" secret BLOB,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX objects_slot ON objects(slot, id);"
	"INSERT INTO schema_version(version) VALUES (1);";

struct hw_store {
	pthread_mutex_t lock;
	struct hw_store *next;  /* in the list of open stores */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char *path;
	uint64_t gen;          /* bumped by our commits and by data_version moves */
	int64_t data_version;  /* last PRAGMA data_version seen */
};

/* FULL and NOMEM have their own codes. CANTOPEN, READONLY, CORRUPT, NOTADB,
 * IOERR, PERM, and BUSY or CONSTRAINT that outlived the retries all make the
 * store unusable for this call. */
static CK_RV hw_store_rv(int rc)
{
	return (rc & 0xff) == SQLITE_FULL ? CKR_DEVICE_MEMORY :
	       (rc & 0xff) == SQLITE_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_ERROR;
}

/* The one log line of a failed operation. */
static CK_RV hw_store_fail_inlock(hw_store *s, const char *op, int rc)
{
	hw_error("store \"%s\": %s: %s", s->path, op, s->db != NULL && sqlite3_errcode(s->db) == rc ?
		 sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return hw_store_rv(rc);
}

/* SQLite's busy handler: wait for another process's lock in 2 ms naps, up
 * to HW_STORE_BUSY_MS or the deadline of the PKCS#11 call, whichever comes
 * first; then the statement fails with SQLITE_BUSY (CKR_DEVICE_ERROR). */
static int hw_store_busy(void *arg, int count)
{
	struct timespec nap = { 0, 2 * 1000 * 1000 };
	(void)arg;
	if (count >= HW_STORE_BUSY_MS / 2 || hw_deadline_left_ms(HW_STORE_BUSY_MS) == 0)
		return 0;
	nanosleep(&nap, NULL);
	return 1;
}

/* First step of a statement, retried while another process holds a lock in
 * a way SQLite reports without its busy handler (WAL recovery, a concurrent
 * journal-mode switch), up to the busy timeout. Nothing ran yet, so a retry
 * is safe. */
static int hw_store_step_retry_inlock(sqlite3_stmt *st)
{
	struct timespec nap = { 0, 2 * 1000 * 1000 }, t0, t;
	int rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (((rc = sqlite3_step(st)) & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= HW_STORE_BUSY_MS ||
		    hw_deadline_left_ms(HW_STORE_BUSY_MS) == 0)
			break;
		sqlite3_reset(st);
		nanosleep(&nap, NULL);
	}
	return rc;
}

/* Bind ?1, ?2, ... from fmt: 't' const char *, 'i' int64_t, 'b' const void *
 * and size_t (a NULL pointer binds SQL NULL). */
static int hw_store_vbind_inlock(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int rc = SQLITE_OK;
	for (int i = 1; rc == SQLITE_OK && fmt[i - 1] != '\0'; i++) {
		if (fmt[i - 1] == 't') {
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
		} else if (fmt[i - 1] == 'i') {
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else {
			const void *v = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = v != NULL ? sqlite3_bind_blob64(st, i, v, n, SQLITE_STATIC)
				       : sqlite3_bind_null(st, i);
		}
	}
	return rc;
}

static int hw_store_bind_inlock(sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = hw_store_vbind_inlock(st, fmt, ap);
	va_end(ap);
	return rc;
}

/* Run a statement that returns no row, then reset it and its bindings. */
static int hw_store_run_inlock(hw_store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = hw_store_step_retry_inlock(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Bind (as hw_store_bind_inlock) and run; a failure is logged. */
static CK_RV hw_store_exec_inlock(hw_store *s, const char *op, int which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = hw_store_vbind_inlock(s->st[which], fmt, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = hw_store_run_inlock(s, which);
	else
		sqlite3_clear_bindings(s->st[which]);
	return rc == SQLITE_DONE ? CKR_OK : hw_store_fail_inlock(s, op, rc);
}

static CK_RV hw_store_begin_inlock(hw_store *s, const char *op)
{
	int rc = hw_store_run_inlock(s, ST_BEGIN);
	return rc == SQLITE_DONE ? CKR_OK : hw_store_fail_inlock(s, op, rc);
}

/* Commit on success, roll back otherwise; returns the final result. */
static CK_RV hw_store_end_inlock(hw_store *s, const char *op, CK_RV rv)
{
	if (rv == CKR_OK) {
		int rc = hw_store_run_inlock(s, ST_COMMIT);
		if (rc == SQLITE_DONE)
			s->gen++;
		else
			rv = hw_store_fail_inlock(s, op, rc);
	}
	if (rv != CKR_OK && !sqlite3_get_autocommit(s->db)) {
		int rc = hw_store_run_inlock(s, ST_ROLLBACK);
		if (rc != SQLITE_DONE)
			hw_debug("store \"%s\": rollback after %s: %s", s->path, op, sqlite3_errstr(rc));
	}
	return rv;
}

/* ---- open / close -------------------------------------------------------- */

/* mkdir -p with mode 0700 for every component we create. */
CK_RV hw_store_mkdirs(const char *dir)
{
	CK_RV rv = CKR_OK;
	struct stat st;
	char *p = strdup(dir);
	if (p == NULL)
		return CKR_HOST_MEMORY;
	for (char *c = p + 1; ; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char keep = *c;
		*c = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			hw_error("store \"%s\": create directory %s: %s", dir, p, strerror(errno));
			rv = CKR_DEVICE_ERROR;
			goto out;
		}
		*c = keep;
		if (keep == '\0')
			break;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		hw_error("store \"%s\": not a directory", dir);
		rv = CKR_DEVICE_ERROR;
	}
out:
	free(p);
	return rv;
}

/* Create the file ourselves so it is 0600 whatever the umask; SQLite gives
 * the -wal and -shm files the mode of the database file. */
static CK_RV hw_store_create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST) {
		hw_error("store \"%s\": create: %s", path, strerror(errno));
		return CKR_DEVICE_ERROR;
	}
	if (fd >= 0)
		close(fd);
	return CKR_OK;
}

static CK_RV hw_store_schema_inlock(hw_store *s)
{
	CK_RV rv;
	sqlite3_stmt *st = NULL;
	rv = hw_store_begin_inlock(s, "create schema");
	if (rv != CKR_OK)
		return rv;
	int rc = sqlite3_exec(s->db, "CREATE TABLE IF NOT EXISTS "
			      "schema_version(version INTEGER NOT NULL)", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rv = hw_store_fail_inlock(s, "read schema version", rc);
		goto out;
	}
	int version = sqlite3_column_int(st, 0);
	if (version > HW_STORE_SCHEMA) {
		hw_error("store \"%s\": schema version %d is newer than this hwagg (%d)",
			 s->path, version, HW_STORE_SCHEMA);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (version < 1) {
		rc = sqlite3_exec(s->db, hw_store_schema_v1, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			rv = hw_store_fail_inlock(s, "create schema", rc);
			goto out;
		}
	}
	rv = CKR_OK;
out:
	sqlite3_finalize(st);
	return hw_store_end_inlock(s, "create schema", rv);
}

/* Statements [from, to): the transaction ones are needed before the schema
 * exists, the others only compile once it does. */
static CK_RV hw_store_prepare_inlock(hw_store *s, int from, int to)
{
	for (int i = from; i < to; i++) {
		int rc = sqlite3_prepare_v3(s->db, hw_store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->st[i], NULL);
		if (rc != SQLITE_OK)
			return hw_store_fail_inlock(s, "prepare", rc);
	}
	return CKR_OK;
}

static CK_RV hw_store_setup_inlock(hw_store *s)
{
	CK_RV rv;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return hw_store_fail_inlock(s, "open", rc);
	sqlite3_busy_handler(s->db, hw_store_busy, NULL);

	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = hw_store_step_retry_inlock(st);
	if (rc != SQLITE_ROW) {
		rv = hw_store_fail_inlock(s, "set WAL mode", rc);
		goto out;
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0)
		hw_warn("store \"%s\": journal mode is %s, not wal: other processes may wait",
			s->path, mode != NULL ? mode : "unknown");
	/* A statement left running would make every later COMMIT fail. */
	sqlite3_finalize(st);
	st = NULL;
	rc = sqlite3_exec(s->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rv = hw_store_fail_inlock(s, "set pragmas", rc);
		goto out;
	}
	rv = hw_store_prepare_inlock(s, 0, ST_TOKEN_GET);
	if (rv == CKR_OK)
		rv = hw_store_schema_inlock(s);
	if (rv == CKR_OK)
		rv = hw_store_prepare_inlock(s, ST_TOKEN_GET, ST_COUNT);
	if (rv != CKR_OK)
		goto out;
	rc = hw_store_step_retry_inlock(s->st[ST_DATA_VERSION]);
	if (rc != SQLITE_ROW) {
		rv = hw_store_fail_inlock(s, "read data version", rc);
		goto out;
	}
	s->data_version = sqlite3_column_int64(s->st[ST_DATA_VERSION], 0);
	sqlite3_reset(s->st[ST_DATA_VERSION]);
	rv = CKR_OK;
out:
	sqlite3_finalize(st);
	return rv;
}

/* Every open store, so that fork() happens when no thread of ours is inside
 * SQLite: the prepare handler takes every store's lock (and with it waits
 * for the operation running), the parent and the child let go. A child that
 * inherited SQLite's global mutexes held by one of our threads would hang in
 * its first allocation inside SQLite. Order: stores_lock, then a store's. */
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static hw_store *stores;
static pthread_once_t stores_once = PTHREAD_ONCE_INIT;

static void hw_store_fork_prepare(void)
{
	pthread_mutex_lock(&stores_lock);
	for (hw_store *s = stores; s != NULL; s = s->next)
		pthread_mutex_lock(&s->lock);
}

static void hw_store_fork_release(void)
{
	for (hw_store *s = stores; s != NULL; s = s->next)
		pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&stores_lock);
}

static void hw_store_fork_register(void)
{
	pthread_atfork(hw_store_fork_prepare, hw_store_fork_release, hw_store_fork_release);
}

static void hw_store_list(hw_store *s, bool add)
{
	pthread_mutex_lock(&stores_lock);
	if (add) {
		s->next = stores;
		stores = s;
	} else {
		for (hw_store **p = &stores; *p != NULL; p = &(*p)->next) {
			if (*p == s) {
				*p = s->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&stores_lock);
}

static void hw_store_free(hw_store *s)
{
	hw_store_list(s, false);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL)
		sqlite3_close_v2(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

CK_RV hw_store_open(const char *dir, hw_store **out)
{
	HW_RETURN_IF(dir == NULL || *dir == '\0' || out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv;
	*out = NULL;
	if (sqlite3_threadsafe() == 0) {
		hw_error("store \"%s\": SQLite was built without thread support", dir);
		return CKR_GENERAL_ERROR;
	}
	hw_store *s = calloc(1, sizeof(*s));
	if (s == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return CKR_HOST_MEMORY;
	}
	pthread_once(&stores_once, hw_store_fork_register);
	hw_store_list(s, true);
	s->gen = 1;
	rv = asprintf(&s->path, "%s/%s", dir, HW_STORE_FILE) < 0 ? CKR_HOST_MEMORY : CKR_OK;
	if (rv != CKR_OK)
		s->path = NULL;
	if (rv == CKR_OK)
		rv = hw_store_mkdirs(dir);
	if (rv == CKR_OK)
		rv = hw_store_create_file(s->path);
	/* Nobody else knows s yet, but the helpers expect the lock held. */
	pthread_mutex_lock(&s->lock);
	if (rv == CKR_OK)
		rv = hw_store_setup_inlock(s);
	pthread_mutex_unlock(&s->lock);
	if (rv == CKR_OK)
		*out = s;
	else
		hw_store_free(s);
	return rv;
}

void hw_store_close(hw_store *s)
{
	if (s != NULL)
		hw_store_free(s);
}

/* In a forked child. SQLite's unix VFS keeps per-file lock state in process
 * memory, and the child inherits the parent's copy: a connection the child
 * opens later on the same file would believe it already holds the shared
 * locks that only the parent really holds. The parent closing its last
 * connection then checkpoints and deletes the WAL under the child, whose
 * later commits are lost. So the inherited connection is closed when that is
 * safe: POSIX record locks are per process, so the child's close releases
 * nothing of the parent's, and a close without a transaction writes nothing.
 * It is not safe if one of the parent's threads was inside this store at
 * fork time (our mutex is then held for ever in the child, and the
 * connection may be mid-transaction): then it is abandoned untouched. */
void hw_store_forget(hw_store *s)
{
	bool idle = false;
	if (s == NULL)
		return;
	if (pthread_mutex_trylock(&s->lock) == 0) {
		idle = s->db != NULL && sqlite3_get_autocommit(s->db);
		pthread_mutex_unlock(&s->lock);
	}
	if (idle) {
		hw_store_free(s);
	} else {
		hw_warn("store \"%s\": the parent's connection was busy at fork and is abandoned; "
			"reopening this store in the child is unsafe", s->path);
		hw_store_list(s, false);
		free(s->path);
		free(s);
	}
}

const char *hw_store_path(const hw_store *s)
{
	return s != NULL ? s->path : NULL;
}

bool hw_store_changed(hw_store *s, uint64_t *seen)
{
	HW_RETURN_IF(s == NULL || seen == NULL, true);
	bool changed;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = s->st[ST_DATA_VERSION];
	int rc = hw_store_step_retry_inlock(st);
	if (rc == SQLITE_ROW) {
		int64_t dv = sqlite3_column_int64(st, 0);
		if (dv != s->data_version) {
			s->data_version = dv;
			s->gen++;
		}
	} else {
		/* Unsure: say changed, so the caller reloads and meets the error. */
		hw_store_fail_inlock(s, "read data version", rc);
		s->gen++;
	}
	sqlite3_reset(st);
	changed = s->gen != *seen;
	*seen = s->gen;
	pthread_mutex_unlock(&s->lock);
	return changed;
}

/* ---- token records ------------------------------------------------------- */

static CK_RV hw_store_col_copy(sqlite3_stmt *st, int col, unsigned char *dst, size_t cap,
			       size_t *len)
{
	const void *v = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	if (n < 0 || (size_t)n > cap)
		return CKR_DEVICE_ERROR;
	if (n > 0)
		memcpy(dst, v, (size_t)n);
	*len = (size_t)n;
	return CKR_OK;
}

CK_RV hw_store_token_get(hw_store *s, const char *slot, hw_token_rec *out)
{
	HW_RETURN_IF(s == NULL || slot == NULL || out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = s->st[ST_TOKEN_GET];
	int rc = hw_store_bind_inlock(st, "t", slot);
	if (rc == SQLITE_OK)
		rc = hw_store_step_retry_inlock(st);
	if (rc != SQLITE_ROW) {
		rv = rc == SQLITE_DONE ? CKR_OK : hw_store_fail_inlock(s, "read token", rc);
		goto out;
	}
	const char *label = (const char *)sqlite3_column_text(st, 0);
	int64_t uf = sqlite3_column_int64(st, 3), sf = sqlite3_column_int64(st, 4);
	if ((label != NULL && strlen(label) >= sizeof(out->label)) ||
	    uf < 0 || sf < 0 || uf > HW_STORE_FAILS_CAP || sf > HW_STORE_FAILS_CAP ||
	    hw_store_col_copy(st, 5, out->so_wrap, sizeof(out->so_wrap), &out->so_wrap_len) != CKR_OK ||
	    hw_store_col_copy(st, 6, out->user_wrap, sizeof(out->user_wrap), &out->user_wrap_len) != CKR_OK) {
		hw_error("store \"%s\": token record of slot \"%s\" is malformed", s->path, slot);
		memset(out, 0, sizeof(*out));
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (label != NULL)
		strcpy(out->label, label);
	out->initialized = sqlite3_column_int(st, 1) != 0;
	out->user_pin_set = sqlite3_column_int(st, 2) != 0;
	out->user_fails = (unsigned)uf;
	out->so_fails = (unsigned)sf;
	rv = CKR_OK;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

static CK_RV hw_store_token_write(hw_store *s, const char *slot, const hw_token_rec *rec,
				  bool wipe_objects)
{
	HW_RETURN_IF(s == NULL || slot == NULL || rec == NULL ||
		     rec->so_wrap_len > sizeof(rec->so_wrap) ||
		     rec->user_wrap_len > sizeof(rec->user_wrap) ||
		     memchr(rec->label, '\0', sizeof(rec->label)) == NULL ||
		     rec->user_fails > HW_STORE_FAILS_CAP || rec->so_fails > HW_STORE_FAILS_CAP,
		     CKR_ARGUMENTS_BAD);
	const char *op = wipe_objects ? "reset token" : "write token";
	CK_RV rv;
	pthread_mutex_lock(&s->lock);
	rv = hw_store_begin_inlock(s, op);
	if (rv == CKR_OK)
		rv = hw_store_exec_inlock(s, op, ST_TOKEN_PUT, "ttiiiibb", slot, rec->label,
					  (int64_t)rec->initialized, (int64_t)rec->user_pin_set,
					  (int64_t)rec->user_fails, (int64_t)rec->so_fails,
					  rec->so_wrap_len ? rec->so_wrap : NULL, rec->so_wrap_len,
					  rec->user_wrap_len ? rec->user_wrap : NULL, rec->user_wrap_len);
	if (rv == CKR_OK && wipe_objects)
		rv = hw_store_exec_inlock(s, op, ST_OBJ_WIPE_SLOT, "t", slot);
	rv = hw_store_end_inlock(s, op, rv);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

CK_RV hw_store_token_put(hw_store *s, const char *slot, const hw_token_rec *rec)
{
	return hw_store_token_write(s, slot, rec, false);
}

CK_RV hw_store_token_reset(hw_store *s, const char *slot, const hw_token_rec *rec)
{
	return hw_store_token_write(s, slot, rec, true);
}

/* One UPDATE or DELETE in its own transaction; no row touched -> none_rv. */
static CK_RV hw_store_change1(hw_store *s, const char *op, int which, CK_RV none_rv,
			      const char *slot, int64_t id, const void *blob, size_t len)
{
	CK_RV rv;
	pthread_mutex_lock(&s->lock);
	rv = hw_store_begin_inlock(s, op);
	if (rv == CKR_OK && which == ST_OBJ_DELETE)
		rv = hw_store_exec_inlock(s, op, which, "ti", slot, id);
	else if (rv == CKR_OK)
		rv = hw_store_exec_inlock(s, op, which, "tib", slot, id, blob, len);
	if (rv == CKR_OK && sqlite3_changes(s->db) == 0)
		rv = none_rv;
	rv = hw_store_end_inlock(s, op, rv);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

CK_RV hw_store_token_set_wrap(hw_store *s, const char *slot, bool so,
			      const unsigned char *wrap, size_t len)
{
	HW_RETURN_IF(s == NULL || slot == NULL || wrap == NULL || len == 0 ||
		     len > sizeof(((hw_token_rec *)0)->so_wrap), CKR_ARGUMENTS_BAD);
	return hw_store_change1(s, "write PIN wrap", so ? ST_TOKEN_SO_WRAP : ST_TOKEN_USER_WRAP,
				CKR_TOKEN_NOT_RECOGNIZED, slot, 0, wrap, len);
}

CK_RV hw_store_fail_bump(hw_store *s, const char *slot, bool so, bool reset, unsigned *now)
{
	HW_RETURN_IF(s == NULL || slot == NULL, CKR_ARGUMENTS_BAD);
	const char *op = "count PIN failure";
	sqlite3_stmt *get = s->st[ST_FAILS_GET];
	CK_RV rv;
	pthread_mutex_lock(&s->lock);
	rv = hw_store_begin_inlock(s, op);
	if (rv == CKR_OK)
		rv = hw_store_exec_inlock(s, op, so ? ST_FAIL_SO : ST_FAIL_USER, "tii", slot,
					  (int64_t)reset, (int64_t)HW_STORE_FAILS_CAP);
	if (rv == CKR_OK && sqlite3_changes(s->db) == 0)
		rv = CKR_TOKEN_NOT_RECOGNIZED;
	if (rv == CKR_OK) {
		int rc = hw_store_bind_inlock(get, "t", slot);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(get);
		if (rc == SQLITE_ROW && now != NULL)
			*now = (unsigned)sqlite3_column_int64(get, so ? 1 : 0);
		if (rc != SQLITE_ROW)
			rv = hw_store_fail_inlock(s, op, rc);
		sqlite3_reset(get);
		sqlite3_clear_bindings(get);
	}
	rv = hw_store_end_inlock(s, op, rv);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

/* ---- objects ------------------------------------------------------------- */

/* Walk the rows of a bound SELECT id, attrs, secret, created; no row -> empty_rv. */
static CK_RV hw_store_walk_inlock(hw_store *s, sqlite3_stmt *st, const char *op, CK_RV empty_rv,
				  CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg)
{
	CK_RV rv = empty_rv;
	int rc = hw_store_step_retry_inlock(st);
	for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		hw_store_obj o = { .id = sqlite3_column_int64(st, 0) };
		/* Ids count up from 1 (AUTOINCREMENT): a row below that was not
		 * written by hwagg, and the engine takes id 0 for a session
		 * object, one more at every listing. */
		if (o.id < 1) {
			hw_error("store %s: object row with id %lld skipped (not written by hwagg)",
				 s->path, (long long)o.id);
			continue;
		}
		o.attrs = sqlite3_column_blob(st, 1);
		o.attrs_len = (size_t)sqlite3_column_bytes(st, 1);
		o.secret = sqlite3_column_blob(st, 2);
		o.secret_len = o.secret != NULL ? (size_t)sqlite3_column_bytes(st, 2) : 0;
		o.created = sqlite3_column_int64(st, 3);
		if (o.attrs == NULL)
			o.attrs = (const unsigned char *)"";
		rv = fn(arg, &o);
		if (rv != CKR_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		rv = hw_store_fail_inlock(s, op, rc);
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv;
}

static CK_RV hw_store_read(hw_store *s, const char *slot, bool one, int64_t id,
			   CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg)
{
	HW_RETURN_IF(s == NULL || slot == NULL || fn == NULL, CKR_ARGUMENTS_BAD);
	const char *op = one ? "read object" : "list objects";
	sqlite3_stmt *st = s->st[one ? ST_OBJ_GET : ST_OBJ_EACH];
	CK_RV rv;
	pthread_mutex_lock(&s->lock);
	int rc = one ? hw_store_bind_inlock(st, "ti", slot, id) : hw_store_bind_inlock(st, "t", slot);
	if (rc != SQLITE_OK)
		rv = hw_store_fail_inlock(s, op, rc);
	else
		rv = hw_store_walk_inlock(s, st, op, one ? CKR_OBJECT_HANDLE_INVALID : CKR_OK, fn, arg);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

CK_RV hw_store_obj_each(hw_store *s, const char *slot,
			CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg)
{
	return hw_store_read(s, slot, false, 0, fn, arg);
}

CK_RV hw_store_obj_get(hw_store *s, const char *slot, int64_t id,
		       CK_RV (*fn)(void *arg, const hw_store_obj *o), void *arg)
{
	return hw_store_read(s, slot, true, id, fn, arg);
}

CK_RV hw_store_obj_insert(hw_store *s, const char *slot, const hw_store_obj *objs,
			  size_t n, int64_t *ids)
{
	HW_RETURN_IF(s == NULL || slot == NULL || objs == NULL || n == 0 || ids == NULL,
		     CKR_ARGUMENTS_BAD);
	for (size_t i = 0; i < n; i++)
		HW_RETURN_IF((objs[i].attrs == NULL && objs[i].attrs_len > 0) ||
			     (objs[i].secret == NULL && objs[i].secret_len > 0), CKR_ARGUMENTS_BAD);
	const char *op = "insert object";
	int64_t created = (int64_t)time(NULL);
	CK_RV rv;
	pthread_mutex_lock(&s->lock);
	rv = hw_store_begin_inlock(s, op);
	for (size_t i = 0; i < n && rv == CKR_OK; i++) {
		/* Empty attributes are an empty blob, never NULL. */
		const void *attrs = objs[i].attrs != NULL ? (const void *)objs[i].attrs : "";
		rv = hw_store_exec_inlock(s, op, ST_OBJ_INSERT, "tbbi", slot, attrs,
					  objs[i].attrs_len, (const void *)objs[i].secret,
					  objs[i].secret_len, created);
		if (rv == CKR_OK)
			ids[i] = sqlite3_last_insert_rowid(s->db);
	}
	rv = hw_store_end_inlock(s, op, rv);
	pthread_mutex_unlock(&s->lock);
	return rv;
}

CK_RV hw_store_obj_update_attrs(hw_store *s, const char *slot, int64_t id,
				const void *attrs, size_t len)
{
	HW_RETURN_IF(s == NULL || slot == NULL || (attrs == NULL && len > 0), CKR_ARGUMENTS_BAD);
	return hw_store_change1(s, "update object", ST_OBJ_UPDATE, CKR_OBJECT_HANDLE_INVALID,
				slot, id, attrs != NULL ? attrs : "", len);
}

CK_RV hw_store_obj_delete(hw_store *s, const char *slot, int64_t id)
{
	HW_RETURN_IF(s == NULL || slot == NULL, CKR_ARGUMENTS_BAD);
	return hw_store_change1(s, "delete object", ST_OBJ_DELETE, CKR_OBJECT_HANDLE_INVALID,
				slot, id, NULL, 0);
}
