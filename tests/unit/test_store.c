/*
 * The local store (objects/store.c) and the PIN/sealing layer over it
 * (objects/pin.c). Each test runs in its own mkdtemp directory; the
 * multi-process tests fork children that open their own connections.
 */
#include "objects/store.h"
#include "objects/pin.h"
#include "mechanisms/crypto.h"
#include "module/log.h"
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RV_EQ(expr, want) do { \
	CK_RV got_ = (expr); \
	ck_assert_msg(got_ == (CK_RV)(want), "%s = 0x%lx, want 0x%lx", #expr, \
		      (unsigned long)got_, (unsigned long)(want)); \
} while (0)
#define OK(expr) RV_EQ(expr, CKR_OK)
#define PIN(str) (const CK_UTF8CHAR *)(str), strlen(str)

static char tmp_dir[256];

static int unlock_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p);
	return 0;
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/hwagg-store-XXXXXX", t != NULL && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	OK(hw_crypto_init());
}

static void teardown(void)
{
	nftw(tmp_dir, unlock_entry, 16, FTW_PHYS);
	nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	hw_crypto_fini();
}

static const char *sub(const char *name)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%s/%s", tmp_dir, name);
	return buf;
}

static hw_store *open_store(const char *dir)
{
	hw_store *s = NULL;
	OK(hw_store_open(dir, &s));
	ck_assert_ptr_nonnull(s);
	return s;
}

static CK_RV insert_str(hw_store *s, const char *slot, const char *attrs, const char *secret,
			int64_t *id)
{
	int64_t ignored;
	hw_store_obj o = { .attrs = (const unsigned char *)attrs, .attrs_len = strlen(attrs),
			   .secret = (const unsigned char *)secret,
			   .secret_len = secret != NULL ? strlen(secret) : 0 };
	return hw_store_obj_insert(s, slot, &o, 1, id != NULL ? id : &ignored);
}

static int64_t put(hw_store *s, const char *slot, const char *attrs, const char *secret)
{
	int64_t id = 0;
	OK(insert_str(s, slot, attrs, secret, &id));
	ck_assert_int_gt(id, 0);
	return id;
}

/* What a walk saw, as strings. */
typedef struct seen {
	size_t n, stop_after;
	int64_t ids[512];
	char attrs[512][24], secret[512][24]; /* secret "-" when absent */
} seen;

static CK_RV collect(void *arg, const hw_store_obj *o)
{
	seen *w = arg;
	if (w->n >= 512 || o->attrs_len >= 24 || o->secret_len >= 24)
		return CKR_GENERAL_ERROR;
	w->ids[w->n] = o->id;
	memcpy(w->attrs[w->n], o->attrs, o->attrs_len);
	w->attrs[w->n][o->attrs_len] = '\0';
	memcpy(w->secret[w->n], o->secret != NULL ? (const void *)o->secret : "-",
	       o->secret != NULL ? o->secret_len : 1);
	w->secret[w->n][o->secret != NULL ? o->secret_len : 1] = '\0';
	w->n++;
	return w->stop_after != 0 && w->n >= w->stop_after ? CKR_CANCEL : CKR_OK;
}

static seen *walk(hw_store *s, const char *slot)
{
	static seen w;
	memset(&w, 0, sizeof(w));
	OK(hw_store_obj_each(s, slot, collect, &w));
	return &w;
}

static seen *get1(hw_store *s, const char *slot, int64_t id, CK_RV want)
{
	static seen w;
	memset(&w, 0, sizeof(w));
	RV_EQ(hw_store_obj_get(s, slot, id, collect, &w), want);
	ck_assert_uint_eq(w.n, want == CKR_OK ? 1 : 0);
	return &w;
}

/* A raw connection to the same file, as another program would open it. */
static sqlite3 *raw_open(const char *dir)
{
	char path[600];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/hwagg.db", dir);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static long long raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Children report through their exit code; never a Check assertion. */
static pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

static int wait_child(pid_t pid)
{
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- store: files and errors ------------------------------------------------ */

START_TEST(test_open_creates_private_files)
{
	char dir[300], path[400];
	snprintf(dir, sizeof(dir), "%s/a/b/c", tmp_dir);
	hw_store *s = open_store(dir);
	ck_assert_uint_eq(file_mode(sub("a")), 0700);
	ck_assert_uint_eq(file_mode(sub("a/b")), 0700);
	ck_assert_uint_eq(file_mode(dir), 0700);
	snprintf(path, sizeof(path), "%s/hwagg.db", dir);
	ck_assert_str_eq(hw_store_path(s), path);
	ck_assert_uint_eq(file_mode(path), 0600);
	put(s, "soft", "a1", NULL);
	snprintf(path, sizeof(path), "%s/hwagg.db-wal", dir);
	ck_assert_uint_eq(file_mode(path), 0600);
	snprintf(path, sizeof(path), "%s/hwagg.db-shm", dir);
	ck_assert_uint_eq(file_mode(path), 0600);
	hw_store_close(s);

	s = open_store(dir);
	ck_assert_uint_eq(walk(s, "soft")->n, 1);
	sqlite3 *db = raw_open(dir);
	ck_assert_int_eq(raw_int(db, "SELECT version FROM schema_version"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM schema_version"), 1);
	ck_assert_int_eq(raw_int(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	sqlite3_close(db);
	hw_store_close(s);
}
END_TEST

static int try_open_ro(void *arg)
{
	static const char *const dirs[] = { "ro-new", "ro-old", "ro-new/deeper" };
	hw_store *s = NULL;
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 10;
	for (int i = 0; i < 3; i++)
		if (hw_store_open(sub(dirs[i]), &s) != CKR_DEVICE_ERROR || s != NULL)
			return 11 + i;
	return 0;
}

START_TEST(test_unwritable_dir)
{
	hw_store *s = NULL;
	write_file(sub("file"), "x", 1); /* a path component that is a file */
	RV_EQ(hw_store_open(sub("file/store"), &s), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(s);

	/* Read-only directories, empty and with a store in them. As root the
	 * check runs as nobody, since root writes through any mode. */
	ck_assert_int_eq(mkdir(sub("ro-new"), 0500), 0);
	s = open_store(sub("ro-old"));
	put(s, "soft", "x", NULL);
	hw_store_close(s);
	ck_assert_int_eq(chmod(tmp_dir, 0755), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(sub("ro-new"), 65534, 65534), 0);
		ck_assert_int_eq(chown(sub("ro-old"), 65534, 65534), 0);
		ck_assert_int_eq(chown(sub("ro-old/hwagg.db"), 65534, 65534), 0);
	}
	ck_assert_int_eq(chmod(sub("ro-old"), 0500), 0);
	ck_assert_int_eq(wait_child(spawn(try_open_ro, NULL)), 0);
}
END_TEST

START_TEST(test_unusable_file)
{
	static const char text[] = "not a database, just some text that went astray\n";
	unsigned char junk[8192];
	hw_store *s = NULL;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	ck_assert_int_eq(mkdir(sub("g"), 0700), 0);
	ck_assert_int_eq(mkdir(sub("t"), 0700), 0);
	ck_assert_int_eq(mkdir(sub("d"), 0700), 0);
	write_file(sub("g/hwagg.db"), junk, sizeof(junk));
	write_file(sub("t/hwagg.db"), text, sizeof(text) - 1);
	ck_assert_int_eq(mkdir(sub("d/hwagg.db"), 0700), 0);
	RV_EQ(hw_store_open(sub("g"), &s), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(s);
	RV_EQ(hw_store_open(sub("t"), &s), CKR_DEVICE_ERROR);
	RV_EQ(hw_store_open(sub("d"), &s), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(s);

	/* A store written by a later release with a newer schema. */
	s = open_store(tmp_dir);
	hw_store_close(s);
	sqlite3 *db = raw_open(tmp_dir);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	RV_EQ(hw_store_open(tmp_dir, &s), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- store: objects ----------------------------------------------------------- */

START_TEST(test_objects_crud)
{
	hw_store *s = open_store(tmp_dir);
	int64_t a = put(s, "soft", "attrs-a", "sealed-a");
	int64_t b = put(s, "soft", "attrs-b", NULL);
	int64_t c = put(s, "other", "attrs-c", NULL);
	ck_assert_int_lt(a, b);

	seen *w = walk(s, "soft");
	ck_assert_uint_eq(w->n, 2);
	ck_assert_int_eq(w->ids[0], a);
	ck_assert_str_eq(w->attrs[0], "attrs-a");
	ck_assert_str_eq(w->secret[0], "sealed-a");
	ck_assert_int_eq(w->ids[1], b);
	ck_assert_str_eq(w->secret[1], "-");
	ck_assert_uint_eq(walk(s, "nobody")->n, 0);
	seen stop = { .stop_after = 1 }; /* a callback error stops the walk */
	RV_EQ(hw_store_obj_each(s, "soft", collect, &stop), CKR_CANCEL);
	ck_assert_uint_eq(stop.n, 1);

	ck_assert_str_eq(get1(s, "soft", b, CKR_OK)->attrs[0], "attrs-b");
	get1(s, "soft", c, CKR_OBJECT_HANDLE_INVALID);
	get1(s, "soft", 999999, CKR_OBJECT_HANDLE_INVALID);

	OK(hw_store_obj_update_attrs(s, "soft", a, "attrs-a2", 8));
	w = get1(s, "soft", a, CKR_OK);
	ck_assert_str_eq(w->attrs[0], "attrs-a2");
	ck_assert_str_eq(w->secret[0], "sealed-a");
	RV_EQ(hw_store_obj_update_attrs(s, "soft", 999999, "x", 1), CKR_OBJECT_HANDLE_INVALID);
	RV_EQ(hw_store_obj_update_attrs(s, "soft", c, "x", 1), CKR_OBJECT_HANDLE_INVALID);

	RV_EQ(hw_store_obj_delete(s, "soft", c), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_uint_eq(walk(s, "other")->n, 1);
	OK(hw_store_obj_delete(s, "soft", a));
	RV_EQ(hw_store_obj_delete(s, "soft", a), CKR_OBJECT_HANDLE_INVALID);
	get1(s, "soft", a, CKR_OBJECT_HANDLE_INVALID);
	ck_assert_uint_eq(walk(s, "soft")->n, 1);

	/* Empty attributes are a value; a length without a pointer is misuse. */
	hw_store_obj empty = { 0 }, bad = { .attrs_len = 3 };
	int64_t id = 0;
	OK(hw_store_obj_insert(s, "soft", &empty, 1, &id));
	ck_assert_str_eq(get1(s, "soft", id, CKR_OK)->attrs[0], "");
	RV_EQ(hw_store_obj_insert(s, "soft", &bad, 1, &id), CKR_ARGUMENTS_BAD);
	RV_EQ(hw_store_obj_insert(s, "soft", &empty, 0, &id), CKR_ARGUMENTS_BAD);

	/* Ids are never reused, even the highest one and across a reopen. */
	OK(hw_store_obj_delete(s, "soft", id));
	int64_t next = put(s, "soft", "next", NULL);
	ck_assert_int_gt(next, id);
	OK(hw_store_obj_delete(s, "soft", next));
	hw_store_close(s);
	s = open_store(tmp_dir);
	ck_assert_int_gt(put(s, "soft", "last", NULL), next);
	hw_store_close(s);
}
END_TEST

START_TEST(test_pair_insert_atomic)
{
	hw_store *s = open_store(tmp_dir);
	/* Make the second row of the pair fail inside the transaction. */
	sqlite3 *db = raw_open(tmp_dir);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON objects "
				      "WHEN NEW.attrs = CAST('poison' AS BLOB) "
				      "BEGIN SELECT RAISE(ABORT, 'refused'); END", NULL, NULL, NULL),
			 SQLITE_OK);
	hw_store_obj pair[2] = {
		{ .attrs = (const unsigned char *)"pub", .attrs_len = 3 },
		{ .attrs = (const unsigned char *)"poison", .attrs_len = 6,
		  .secret = (const unsigned char *)"sealed", .secret_len = 6 },
	};
	int64_t ids[2] = { 0, 0 };
	RV_EQ(hw_store_obj_insert(s, "soft", pair, 2, ids), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(walk(s, "soft")->n, 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM objects"), 0);

	pair[1].attrs = (const unsigned char *)"priv";
	pair[1].attrs_len = 4;
	OK(hw_store_obj_insert(s, "soft", pair, 2, ids));
	ck_assert_int_eq(ids[1], ids[0] + 1);
	seen *w = walk(s, "soft");
	ck_assert_uint_eq(w->n, 2);
	ck_assert_str_eq(w->attrs[1], "priv");
	ck_assert_str_eq(w->secret[1], "sealed");
	sqlite3_close(db);
	hw_store_close(s);
}
END_TEST

/* ---- store: change detection, processes and threads --------------------------- */

START_TEST(test_changed_second_handle)
{
	hw_store *s1 = open_store(tmp_dir), *s2 = open_store(tmp_dir);
	uint64_t seen1 = 0;
	ck_assert(hw_store_changed(s1, &seen1));
	ck_assert(!hw_store_changed(s1, &seen1));
	int64_t id = put(s2, "soft", "from-s2", NULL);
	ck_assert(hw_store_changed(s1, &seen1));
	ck_assert(!hw_store_changed(s1, &seen1));
	put(s1, "soft", "from-s1", NULL);
	ck_assert(hw_store_changed(s1, &seen1));
	ck_assert(!hw_store_changed(s1, &seen1));
	/* A refused write changes nothing. */
	RV_EQ(hw_store_obj_delete(s1, "soft", 424242), CKR_OBJECT_HANDLE_INVALID);
	ck_assert(!hw_store_changed(s1, &seen1));
	OK(hw_store_obj_delete(s2, "soft", id));
	ck_assert(hw_store_changed(s1, &seen1));
	ck_assert_uint_eq(walk(s1, "soft")->n, 1);
	hw_store_close(s2);
	hw_store_close(s1);
}
END_TEST

typedef struct forked {
	hw_store *inherited;
	int go[2], done[2];
} forked;

static int child_writes(void *arg)
{
	forked *f = arg;
	hw_store *s = NULL;
	char c;
	hw_store_forget(f->inherited);
	if (hw_store_open(tmp_dir, &s) != CKR_OK || insert_str(s, "soft", "child-1", NULL, NULL) != CKR_OK)
		return 2;
	if (write(f->done[1], "x", 1) != 1 || read(f->go[0], &c, 1) != 1)
		return 3;
	if (insert_str(s, "soft", "child-2", NULL, NULL) != CKR_OK)
		return 4;
	hw_store_close(s);
	return 0;
}

/* A forked child writes: the parent sees the change. Then the parent closes
 * its last connection while the child still writes: the child's later commit
 * must not be lost (the parent must not checkpoint and delete the WAL under
 * the child). */
START_TEST(test_forked_child_writes)
{
	forked f;
	char c;
	uint64_t seen1 = 0;
	ck_assert_int_eq(pipe(f.go), 0);
	ck_assert_int_eq(pipe(f.done), 0);
	hw_store *s = f.inherited = open_store(tmp_dir);
	put(s, "soft", "parent", NULL);
	hw_store_changed(s, &seen1);
	ck_assert(!hw_store_changed(s, &seen1));
	pid_t pid = spawn(child_writes, &f);
	ck_assert_int_eq(read(f.done[0], &c, 1), 1);
	ck_assert(hw_store_changed(s, &seen1));
	ck_assert_str_eq(walk(s, "soft")->attrs[1], "child-1");
	hw_store_close(s);
	ck_assert_int_eq(write(f.go[1], "x", 1), 1);
	ck_assert_int_eq(wait_child(pid), 0);
	s = open_store(tmp_dir);
	seen *w = walk(s, "soft");
	ck_assert_uint_eq(w->n, 3);
	ck_assert_str_eq(w->attrs[2], "child-2");
	hw_store_close(s);
	for (int i = 0; i < 2; i++) {
		close(f.go[i]);
		close(f.done[i]);
	}
}
END_TEST

/* Fork while another thread is inside the store (a walk callback runs under
 * its lock): forget must neither block on that lock nor touch the
 * connection, and the parent goes on. */
static int busy_in[2], busy_out[2];

static CK_RV hold_inside(void *arg, const hw_store_obj *o)
{
	char c;
	bool ok = write(busy_in[1], "x", 1) == 1 && read(busy_out[0], &c, 1) == 1;
	return ok ? CKR_OK : CKR_GENERAL_ERROR;
}

static void *walk_thread(void *s)
{
	return (void *)(uintptr_t)hw_store_obj_each(s, "soft", hold_inside, NULL);
}

static int child_forget(void *s)
{
	alarm(20);
	hw_store_forget(s);
	return 0;
}

START_TEST(test_fork_while_busy)
{
	pthread_t t;
	void *res;
	char c;
	hw_store *s = open_store(tmp_dir);
	put(s, "soft", "one", NULL);
	ck_assert(pipe(busy_in) == 0 && pipe(busy_out) == 0);
	ck_assert_int_eq(pthread_create(&t, NULL, walk_thread, s), 0);
	ck_assert_int_eq(read(busy_in[0], &c, 1), 1);
	ck_assert_int_eq(wait_child(spawn(child_forget, s)), 0);
	ck_assert_int_eq(write(busy_out[1], "x", 1), 1);
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_ptr_null(res);
	put(s, "soft", "two", NULL);
	ck_assert_uint_eq(walk(s, "soft")->n, 2);
	hw_store_close(s);
	for (int i = 0; i < 2; i++) {
		close(busy_in[i]);
		close(busy_out[i]);
	}
}
END_TEST

#define RACE_N 200
static int race_go[2];
static hw_store *race_parent;

static int child_race(void *arg)
{
	hw_store *s = NULL;
	char attrs[24], c;
	hw_store_forget(race_parent);
	close(race_go[1]);
	if (hw_store_open(tmp_dir, &s) != CKR_OK)
		return 2;
	if (read(race_go[0], &c, 1) != 0) /* both start when the parent closes */
		return 3;
	for (int i = 0; i < RACE_N; i++) {
		snprintf(attrs, sizeof(attrs), "p%d-%03d", (int)(intptr_t)arg, i);
		if (insert_str(s, "soft", attrs, NULL, NULL) != CKR_OK)
			return 4;
	}
	hw_store_close(s);
	return 0;
}

START_TEST(test_two_processes_insert)
{
	hw_store *s = race_parent = open_store(tmp_dir);
	bool got[2][RACE_N] = { { false } };
	ck_assert_int_eq(pipe(race_go), 0);
	pid_t p0 = spawn(child_race, (void *)0), p1 = spawn(child_race, (void *)1);
	close(race_go[0]);
	close(race_go[1]);
	ck_assert_int_eq(wait_child(p0), 0);
	ck_assert_int_eq(wait_child(p1), 0);
	seen *w = walk(s, "soft");
	ck_assert_uint_eq(w->n, 2 * RACE_N);
	for (size_t i = 0; i < w->n; i++) {
		int which, k;
		ck_assert_int_eq(sscanf(w->attrs[i], "p%d-%d", &which, &k), 2);
		ck_assert(!got[which][k]);
		got[which][k] = true;
		ck_assert(i == 0 || w->ids[i] > w->ids[i - 1]);
	}
	hw_store_close(s);
}
END_TEST

static void *thread_insert(void *arg)
{
	uint64_t mine = 0;
	for (int i = 0; i < 100; i++) {
		if (insert_str(arg, "soft", "t", NULL, NULL) != CKR_OK)
			return arg;
		hw_store_changed(arg, &mine);
	}
	return NULL;
}

START_TEST(test_threads_share_handle)
{
	hw_store *s = open_store(tmp_dir);
	pthread_t t[4];
	void *res;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_insert, s), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], &res), 0);
		ck_assert_ptr_null(res);
	}
	ck_assert_uint_eq(walk(s, "soft")->n, 400);
	hw_store_close(s);
}
END_TEST

/* ---- store: token records ------------------------------------------------------ */

START_TEST(test_token_records)
{
	hw_store *s = open_store(tmp_dir);
	hw_token_rec rec, back;
	unsigned now = 99;
	OK(hw_store_token_get(s, "soft", &rec));
	ck_assert(!rec.initialized && !rec.user_pin_set && rec.so_wrap_len == 0);
	sqlite3 *db = raw_open(tmp_dir);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM tokens"), 0); /* not created */
	sqlite3_close(db);
	RV_EQ(hw_store_fail_bump(s, "soft", false, false, &now), CKR_TOKEN_NOT_RECOGNIZED);
	RV_EQ(hw_store_token_set_wrap(s, "soft", true, (const unsigned char *)"w", 1),
	      CKR_TOKEN_NOT_RECOGNIZED);

	rec = (hw_token_rec){ .label = "label", .initialized = true, .user_fails = 2, .so_fails = 3,
			      .so_wrap_len = 80 };
	memset(rec.so_wrap, 0xa5, 80);
	OK(hw_store_token_put(s, "soft", &rec));
	OK(hw_store_token_get(s, "soft", &back));
	ck_assert_str_eq(back.label, "label");
	ck_assert(back.initialized && !back.user_pin_set);
	ck_assert(back.user_fails == 2 && back.so_fails == 3 && back.user_wrap_len == 0);
	ck_assert_uint_eq(back.so_wrap_len, 80);
	ck_assert_mem_eq(back.so_wrap, rec.so_wrap, 80);

	OK(hw_store_fail_bump(s, "soft", false, false, &now));
	ck_assert_uint_eq(now, 3);
	OK(hw_store_fail_bump(s, "soft", true, false, &now));
	ck_assert_uint_eq(now, 4);
	OK(hw_store_fail_bump(s, "soft", false, true, &now));
	ck_assert_uint_eq(now, 0);
	OK(hw_store_token_set_wrap(s, "soft", false, rec.so_wrap, 40));
	OK(hw_store_token_get(s, "soft", &back));
	ck_assert(back.user_pin_set && back.user_wrap_len == 40 && back.so_fails == 4);
	rec.so_wrap_len = 300;
	RV_EQ(hw_store_token_put(s, "soft", &rec), CKR_ARGUMENTS_BAD);

	/* Reset replaces the record and drops that slot's objects only. */
	put(s, "soft", "a", NULL);
	put(s, "soft", "b", NULL);
	put(s, "other", "c", NULL);
	rec = (hw_token_rec){ .label = "fresh", .initialized = true };
	OK(hw_store_token_reset(s, "soft", &rec));
	ck_assert_uint_eq(walk(s, "soft")->n, 0);
	ck_assert_uint_eq(walk(s, "other")->n, 1);
	OK(hw_store_token_get(s, "soft", &back));
	ck_assert_str_eq(back.label, "fresh");
	ck_assert(!back.user_pin_set && back.so_fails == 0 && back.user_wrap_len == 0);
	hw_store_close(s);
}
END_TEST

/* ---- PINs ---------------------------------------------------------------------- */

static const hw_pin_policy three = { 3, 4, 64 };
#define USER_COUNT (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)
#define SO_COUNT (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

static const CK_UTF8CHAR *label32(const char *text)
{
	static CK_UTF8CHAR buf[32];
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, text, strlen(text));
	return buf;
}

static hw_token_rec *rec_of(hw_store *s)
{
	static hw_token_rec rec;
	OK(hw_store_token_get(s, "soft", &rec));
	return &rec;
}

static CK_FLAGS flags_of(hw_store *s, const hw_pin_policy *pol)
{
	return hw_pin_flags(rec_of(s), pol);
}

/* Log in; on success the master key must equal want (when given). */
static CK_RV login(hw_store *s, const hw_pin_policy *pol, CK_USER_TYPE who, const char *pin,
		   const hw_secret *want)
{
	hw_secret *mk = NULL;
	CK_RV rv = hw_pin_login(s, "soft", pol, who, PIN(pin), &mk);
	ck_assert(rv == CKR_OK ? mk != NULL && mk->len == HW_MK_LEN : mk == NULL);
	if (mk != NULL && want != NULL)
		ck_assert_mem_eq(mk->data, want->data, HW_MK_LEN);
	hw_secret_free(mk);
	return rv;
}

/* Initialized token, SO PIN "so-secret", user PIN "1234"; *so_mk gets the
 * master key of the SO login. */
static hw_store *token(const hw_pin_policy *pol, hw_secret **so_mk)
{
	hw_store *s = open_store(tmp_dir);
	OK(hw_pin_init_token(s, "soft", pol, PIN("so-secret"), label32("My token")));
	OK(hw_pin_login(s, "soft", pol, CKU_SO, PIN("so-secret"), so_mk));
	OK(hw_pin_init_user(s, "soft", pol, *so_mk, PIN("1234")));
	return s;
}

START_TEST(test_pin_login_flow)
{
	hw_store *s = open_store(tmp_dir);
	hw_secret *so_mk = NULL;
	ck_assert_uint_eq(flags_of(s, NULL), 0);
	RV_EQ(login(s, NULL, CKU_SO, "so-secret", NULL), CKR_TOKEN_NOT_RECOGNIZED);
	OK(hw_pin_init_token(s, "soft", NULL, PIN("so-secret"), label32("My token")));
	ck_assert_str_eq(rec_of(s)->label, "My token");
	ck_assert_uint_eq(flags_of(s, NULL), CKF_TOKEN_INITIALIZED);
	RV_EQ(login(s, NULL, CKU_USER, "1234", NULL), CKR_USER_PIN_NOT_INITIALIZED);
	RV_EQ(login(s, NULL, 7, "1234", NULL), CKR_USER_TYPE_INVALID);

	OK(hw_pin_login(s, "soft", NULL, CKU_SO, PIN("so-secret"), &so_mk));
	OK(hw_pin_init_user(s, "soft", NULL, so_mk, PIN("1234")));
	ck_assert_uint_eq(flags_of(s, NULL), CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED);
	OK(login(s, NULL, CKU_USER, "1234", so_mk)); /* same master key as the SO's */
	hw_secret_free(so_mk);
	hw_store_close(s);
}
END_TEST

START_TEST(test_pin_counters)
{
	hw_secret *so_mk = NULL;
	hw_store *s = token(&three, &so_mk);
	RV_EQ(login(s, &three, CKU_USER, "0000", NULL), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(flags_of(s, &three) & USER_COUNT, CKF_USER_PIN_COUNT_LOW);
	RV_EQ(login(s, &three, CKU_USER, "0000", NULL), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(flags_of(s, &three) & USER_COUNT,
			  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	OK(login(s, &three, CKU_USER, "1234", so_mk)); /* success resets */
	ck_assert_uint_eq(flags_of(s, &three) & USER_COUNT, 0);

	for (int i = 0; i < 3; i++) /* the attempt that fails is still INCORRECT */
		RV_EQ(login(s, &three, CKU_USER, "0000", NULL), CKR_PIN_INCORRECT);
	ck_assert(flags_of(s, &three) & CKF_USER_PIN_LOCKED);
	RV_EQ(login(s, &three, CKU_USER, "1234", NULL), CKR_PIN_LOCKED);
	RV_EQ(login(s, &three, CKU_USER, "0000", NULL), CKR_PIN_LOCKED);
	ck_assert_uint_eq(rec_of(s)->user_fails, 3); /* refused without an attempt */
	RV_EQ(hw_pin_set(s, "soft", &three, CKU_USER, PIN("1234"), PIN("4321")), CKR_PIN_LOCKED);
	/* The SO setting a new user PIN unlocks it. */
	OK(hw_pin_init_user(s, "soft", &three, so_mk, PIN("5678")));
	ck_assert_uint_eq(flags_of(s, &three) & USER_COUNT, 0);
	OK(login(s, &three, CKU_USER, "5678", so_mk));

	for (int i = 0; i < 3; i++)
		RV_EQ(login(s, &three, CKU_SO, "wrong-so", NULL), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(flags_of(s, &three) & SO_COUNT, CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	RV_EQ(login(s, &three, CKU_SO, "so-secret", NULL), CKR_PIN_LOCKED);
	RV_EQ(hw_pin_init_token(s, "soft", &three, PIN("so-secret"), label32("x")), CKR_PIN_LOCKED);
	ck_assert_str_eq(rec_of(s)->label, "My token");
	hw_secret_free(so_mk);
	hw_store_close(s);
}
END_TEST

static int child_guess(void *inherited)
{
	hw_store *s = NULL;
	hw_store_forget(inherited);
	if (hw_store_open(tmp_dir, &s) != CKR_OK)
		return 2;
	for (int i = 0; i < 2; i++) {
		hw_secret *mk = NULL;
		if (hw_pin_login(s, "soft", NULL, CKU_USER, PIN("0000"), &mk) != CKR_PIN_INCORRECT)
			return 3;
	}
	hw_store_close(s);
	return 0;
}

/* Two processes guessing at once: every attempt is counted. */
START_TEST(test_pin_fails_across_processes)
{
	hw_secret *so_mk = NULL;
	hw_store *s = token(NULL, &so_mk);
	pid_t p0 = spawn(child_guess, s), p1 = spawn(child_guess, s);
	ck_assert_int_eq(wait_child(p0), 0);
	ck_assert_int_eq(wait_child(p1), 0);
	ck_assert_uint_eq(rec_of(s)->user_fails, 4);
	hw_secret_free(so_mk);
	hw_store_close(s);
}
END_TEST

START_TEST(test_pin_set)
{
	hw_secret *so_mk = NULL;
	hw_store *s = token(NULL, &so_mk);
	RV_EQ(hw_pin_set(s, "soft", NULL, CKU_USER, PIN("9999"), PIN("abcd")), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(rec_of(s)->user_fails, 1);
	RV_EQ(hw_pin_set(s, "soft", NULL, CKU_USER, PIN("1234"), PIN("ab")), CKR_PIN_LEN_RANGE);
	RV_EQ(hw_pin_set(s, "soft", NULL, CKU_CONTEXT_SPECIFIC, PIN("1234"), PIN("abcd")),
	      CKR_USER_TYPE_INVALID);
	OK(hw_pin_set(s, "soft", NULL, CKU_USER, PIN("1234"), PIN("abcd")));
	ck_assert_uint_eq(rec_of(s)->user_fails, 0);
	OK(login(s, NULL, CKU_USER, "abcd", so_mk));
	RV_EQ(login(s, NULL, CKU_USER, "1234", NULL), CKR_PIN_INCORRECT);

	OK(hw_pin_set(s, "soft", NULL, CKU_SO, PIN("so-secret"), PIN("new-so-pin")));
	RV_EQ(login(s, NULL, CKU_SO, "so-secret", NULL), CKR_PIN_INCORRECT);
	OK(login(s, NULL, CKU_SO, "new-so-pin", so_mk));
	hw_secret_free(so_mk);
	hw_store_close(s);
}
END_TEST

START_TEST(test_pin_reinit_token)
{
	hw_secret *mk1 = NULL, *mk2 = NULL;
	hw_store *s = open_store(tmp_dir);
	OK(hw_pin_init_token(s, "soft", NULL, PIN("so-secret"), label32("first")));
	OK(hw_pin_login(s, "soft", NULL, CKU_SO, PIN("so-secret"), &mk1));
	put(s, "soft", "k1", "s1");
	put(s, "soft", "k2", "s2");
	put(s, "other", "k3", NULL);

	RV_EQ(hw_pin_init_token(s, "soft", NULL, PIN("not-the-pin"), label32("second")),
	      CKR_PIN_INCORRECT);
	ck_assert_uint_eq(walk(s, "soft")->n, 2);
	ck_assert_str_eq(rec_of(s)->label, "first");
	ck_assert_uint_eq(rec_of(s)->so_fails, 1);

	OK(hw_pin_init_token(s, "soft", NULL, PIN("so-secret"), label32("second  token")));
	ck_assert_uint_eq(walk(s, "soft")->n, 0);
	ck_assert_uint_eq(walk(s, "other")->n, 1);
	hw_token_rec *rec = rec_of(s);
	ck_assert_str_eq(rec->label, "second  token");
	ck_assert(rec->initialized && !rec->user_pin_set && rec->so_fails == 0);
	RV_EQ(login(s, NULL, CKU_USER, "1234", NULL), CKR_USER_PIN_NOT_INITIALIZED);
	OK(hw_pin_login(s, "soft", NULL, CKU_SO, PIN("so-secret"), &mk2));
	ck_assert(memcmp(mk1->data, mk2->data, HW_MK_LEN) != 0); /* a new master key */
	hw_secret_free(mk1);
	hw_secret_free(mk2);
	hw_store_close(s);
}
END_TEST

START_TEST(test_pin_length_policy)
{
	static const hw_pin_policy six = { 5, 6, 8 };
	hw_secret *mk = hw_secret_new(HW_MK_LEN);
	char long_pin[66];
	memset(long_pin, 'x', 65);
	long_pin[65] = '\0';
	hw_store *s = open_store(tmp_dir);
	RV_EQ(hw_pin_init_token(s, "soft", NULL, PIN("abc"), label32("t")), CKR_PIN_LEN_RANGE);
	RV_EQ(hw_pin_init_token(s, "soft", NULL, PIN(long_pin), label32("t")), CKR_PIN_LEN_RANGE);
	RV_EQ(hw_pin_init_token(s, "soft", &six, PIN("12345"), label32("t")), CKR_PIN_LEN_RANGE);
	RV_EQ(hw_pin_init_token(s, "soft", &six, PIN("123456789"), label32("t")), CKR_PIN_LEN_RANGE);
	ck_assert_uint_eq(flags_of(s, &six), 0);
	OK(hw_pin_init_token(s, "soft", &six, PIN("123456"), label32("t")));
	RV_EQ(hw_pin_init_user(s, "soft", &six, mk, PIN("12")), CKR_PIN_LEN_RANGE);
	RV_EQ(hw_pin_set(s, "soft", &six, CKU_SO, PIN("123456"), PIN("1234567890")), CKR_PIN_LEN_RANGE);
	/* At login a PIN of any length is just right or wrong. */
	RV_EQ(login(s, &six, CKU_SO, "12", NULL), CKR_PIN_INCORRECT);
	hw_secret_free(mk);
	hw_store_close(s);
}
END_TEST

/* ---- wraps and seals ----------------------------------------------------------- */

static hw_secret *test_mk(unsigned char base)
{
	hw_secret *mk = hw_secret_new(HW_MK_LEN);
	ck_assert_ptr_nonnull(mk);
	for (size_t i = 0; i < HW_MK_LEN; i++)
		mk->data[i] = (unsigned char)(base + i);
	return mk;
}

START_TEST(test_wrap_format)
{
	hw_secret *mk = test_mk(1), *back = NULL;
	unsigned char w1[256], w2[256], bad[256];
	size_t l1 = 0, l2 = 0;
	OK(hw_pin_wrap(mk, PIN("1234"), w1, &l1));
	ck_assert_uint_eq(l1, 80);
	ck_assert(w1[0] == 1 && w1[1] == 15 && w1[2] == 8 && w1[3] == 1); /* v1, N=2^15, r, p */
	OK(hw_pin_wrap(mk, PIN("1234"), w2, &l2));
	ck_assert(memcmp(w1, w2, l1) != 0);
	OK(hw_pin_unwrap(w2, l2, PIN("1234"), &back));
	ck_assert_mem_eq(back->data, mk->data, HW_MK_LEN);
	hw_secret_free(back);
	RV_EQ(hw_pin_unwrap(w1, l1, PIN("1235"), &back), CKR_PIN_INCORRECT);
	ck_assert_ptr_null(back);

	RV_EQ(hw_pin_unwrap(w1, l1 - 1, PIN("1234"), &back), CKR_DEVICE_ERROR);
	static const struct { size_t at; unsigned char v; CK_RV want; } cases[] = {
		{ 0, 2, CKR_DEVICE_ERROR },   /* unknown version */
		{ 1, 40, CKR_DEVICE_ERROR },  /* a cost nobody should be made to pay */
		{ 60, 0, CKR_PIN_INCORRECT }, /* ciphertext: fails like a wrong PIN */
	};
	for (size_t i = 0; i < HW_ARRAY_LEN(cases); i++) {
		memcpy(bad, w1, l1);
		bad[cases[i].at] = cases[i].v == 0 ? bad[cases[i].at] ^ 1 : cases[i].v;
		RV_EQ(hw_pin_unwrap(bad, l1, PIN("1234"), &back), cases[i].want);
		ck_assert_ptr_null(back);
	}
	hw_secret_free(mk);
}
END_TEST

START_TEST(test_seal_unseal)
{
	hw_secret *mk = test_mk(7), *other = test_mk(8), *plain = NULL;
	unsigned char der[100], *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;
	const char *aad = "soft/42";
	for (size_t i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(255 - i);
	OK(hw_seal(mk, aad, strlen(aad), der, sizeof(der), &b1, &l1));
	ck_assert_uint_eq(l1, 1 + 16 + 12 + sizeof(der) + 16);
	OK(hw_unseal(mk, aad, strlen(aad), b1, l1, &plain));
	ck_assert_uint_eq(plain->len, sizeof(der));
	ck_assert_mem_eq(plain->data, der, sizeof(der));
	hw_secret_free(plain);

	OK(hw_seal(mk, aad, strlen(aad), der, sizeof(der), &b2, &l2));
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(b1 + 1, b2 + 1, 16) != 0);      /* salt */
	ck_assert(memcmp(b1 + 17, b2 + 17, 12) != 0);    /* nonce */
	ck_assert(memcmp(b1 + 29, b2 + 29, sizeof(der)) != 0);

	RV_EQ(hw_unseal(mk, "soft/43", 7, b1, l1, &plain), CKR_DEVICE_ERROR);
	RV_EQ(hw_unseal(mk, NULL, 0, b1, l1, &plain), CKR_DEVICE_ERROR);
	RV_EQ(hw_unseal(other, aad, strlen(aad), b1, l1, &plain), CKR_DEVICE_ERROR);
	int level = hw_log_threshold;
	hw_log_threshold = -1; /* each refusal logs a line; not needed 300 times */
	for (size_t i = 0; i < l1; i++) {
		b1[i] ^= 0x10;
		RV_EQ(hw_unseal(mk, aad, strlen(aad), b1, l1, &plain), CKR_DEVICE_ERROR);
		b1[i] ^= 0x10;
	}
	for (size_t n = 0; n < l1; n++)
		RV_EQ(hw_unseal(mk, aad, strlen(aad), b1, n, &plain), CKR_DEVICE_ERROR);
	hw_log_threshold = level;
	ck_assert_ptr_null(plain);
	OK(hw_unseal(mk, aad, strlen(aad), b1, l1, &plain));
	hw_secret_free(plain);
	free(b1);
	free(b2);

	/* Empty plaintext and no AAD still round-trip. */
	OK(hw_seal(mk, NULL, 0, NULL, 0, &b1, &l1));
	OK(hw_unseal(mk, NULL, 0, b1, l1, &plain));
	ck_assert_uint_eq(plain->len, 0);
	hw_secret_free(plain);
	free(b1);
	hw_secret_free(mk);
	hw_secret_free(other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store");
	TCase *st = tcase_create("store"), *pin = tcase_create("pin");
	tcase_add_checked_fixture(st, setup, teardown);
	tcase_add_checked_fixture(pin, setup, teardown);
	tcase_set_timeout(st, 60);
	tcase_set_timeout(pin, 120);
	tcase_add_test(st, test_open_creates_private_files);
	tcase_add_test(st, test_unwritable_dir);
	tcase_add_test(st, test_unusable_file);
	tcase_add_test(st, test_objects_crud);
	tcase_add_test(st, test_pair_insert_atomic);
	tcase_add_test(st, test_changed_second_handle);
	tcase_add_test(st, test_forked_child_writes);
	tcase_add_test(st, test_fork_while_busy);
	tcase_add_test(st, test_two_processes_insert);
	tcase_add_test(st, test_threads_share_handle);
	tcase_add_test(st, test_token_records);
	tcase_add_test(pin, test_pin_login_flow);
	tcase_add_test(pin, test_pin_counters);
	tcase_add_test(pin, test_pin_fails_across_processes);
	tcase_add_test(pin, test_pin_set);
	tcase_add_test(pin, test_pin_reinit_token);
	tcase_add_test(pin, test_pin_length_policy);
	tcase_add_test(pin, test_wrap_format);
	tcase_add_test(pin, test_seal_unseal);
	suite_add_tcase(s, st);
	suite_add_tcase(s, pin);
	return s;
}

HW_UNIT_MAIN
