/*
 * The local store (objects/store.c). Each test runs in its own mkdtemp
 * directory; the multi-process tests fork children that open their own
 * connections.
 */
#include "objects/store.h"
#include "objects/attrs.h"
#include "slots/backend.h"
#include "tests/unit/store_fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *sub(const char *name)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%s/%s", tmp_dir, name);
	return buf;
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

/* Rows another program wrote with ids below 1 (hwagg's count up from 1):
 * never reported, since the engine would take id 0 for a session object. */
START_TEST(test_foreign_ids_skipped)
{
	hw_store *s = open_store(tmp_dir);
	int64_t id = put(s, "soft", "mine", NULL);
	sqlite3 *db = raw_open(tmp_dir);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO objects(id, slot, attrs, created) VALUES "
				      "(0, 'soft', CAST('zero' AS BLOB), 0), "
				      "(-7, 'soft', CAST('negative' AS BLOB), 0)", NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM objects"), 3);
	seen *w = walk(s, "soft");
	ck_assert_uint_eq(w->n, 1);
	ck_assert_int_eq(w->ids[0], id);
	ck_assert_str_eq(w->attrs[0], "mine");
	get1(s, "soft", 0, CKR_OBJECT_HANDLE_INVALID);
	get1(s, "soft", -7, CKR_OBJECT_HANDLE_INVALID);
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
 * its lock): the fork waits until that thread is out of SQLite (the store's
 * fork handlers), so the child never inherits a lock held for ever; its
 * forget closes an idle connection, and the parent goes on. */
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

static int fork_result;
static int child_forget(void *s);

static void *fork_thread(void *s)
{
	fork_result = wait_child(spawn(child_forget, s));
	return NULL;
}

static int child_forget(void *s)
{
	alarm(20);
	hw_store_forget(s);
	/* Leave by exec, not exit: the abandoned connection is never freed by
	 * design, and a leak checker would report it at exit. */
	execl("/bin/true", "true", (char *)NULL);
	return 9;
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
	/* the fork starts while the walk is inside; it goes through once the
	 * walk is let out */
	pthread_t f;
	fork_result = -1;
	ck_assert_int_eq(pthread_create(&f, NULL, fork_thread, s), 0);
	ck_assert_int_eq(write(busy_out[1], "x", 1), 1);
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(pthread_join(f, NULL), 0);
	ck_assert_int_eq(fork_result, 0);
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

/* ---- creation times -------------------------------------------------------- */
static CK_RV created_of(void *arg, const hw_store_obj *o)
{
	*(int64_t *)arg = o->created;
	return CKR_OK;
}

extern const hw_backend_ops hw_soft_ops;

typedef struct { char created[2][32]; size_t n; } loaded;

static CK_RV keep_created(void *arg, int64_t oid, hw_attrs *attrs, void *bdata)
{
	loaded *l = arg;
	const CK_ATTRIBUTE *c = hw_attrs_get(attrs, CKA_HWAGG_CREATED);
	ck_assert_uint_lt(l->n, 2);
	snprintf(l->created[l->n++], sizeof(l->created[0]), "%.*s", c ? (int)c->ulValueLen : 1,
		 c ? (const char *)c->pValue : "-");
	return CKR_OK;
}

static int64_t put_attrs(hw_store *s, const hw_attrs *a)
{
	unsigned char *blob;
	size_t len;
	int64_t id = 0;
	OK(hw_attrs_serialize(a, &blob, &len));
	hw_store_obj o = { .attrs = blob, .attrs_len = len };
	OK(hw_store_obj_insert(s, "soft", &o, 1, &id));
	free(blob);
	return id;
}

/* The store records when an object was inserted; the soft slot shows that
 * time as CKA_HWAGG_CREATED for an object stored without one, and keeps
 * the attribute of an object that has it. */
START_TEST(test_created_time)
{
	char json[512], err[HW_CONFIG_ERR_LEN], want[32];
	hw_config *cfg = NULL;
	hw_attrs a;
	loaded l = { .n = 0 };
	int64_t created = 0;
	hw_store *s = open_store(tmp_dir);
	time_t t0 = time(NULL);
	hw_attrs_init(&a);
	OK(hw_attrs_set_ulong(&a, CKA_CLASS, CKO_DATA));
	int64_t old = put_attrs(s, &a);
	OK(hw_attrs_set_str(&a, CKA_HWAGG_CREATED, "2001-02-03T04:05:06Z"));
	put_attrs(s, &a);
	time_t t1 = time(NULL);
	hw_attrs_clear(&a);
	OK(hw_store_obj_get(s, "soft", old, created_of, &created));
	ck_assert_int_ge(created, (int64_t)t0);
	ck_assert_int_le(created, (int64_t)t1);
	hw_store_close(s);

	snprintf(json, sizeof(json), "{\"environment\": \"development\", \"store\": \"%s\", "
		 "\"slots\": [{\"name\": \"soft\", \"type\": \"soft\"}]}", tmp_dir);
	OK(hw_config_parse(json, NULL, &cfg, err, sizeof(err)));
	void *ctx = calloc(1, hw_soft_ops.ctx_size);
	ck_assert_ptr_nonnull(ctx);
	OK(hw_soft_ops.open(ctx, &cfg->slots[0], cfg, err, sizeof(err)));
	OK(hw_soft_ops.load(ctx, keep_created, &l));
	hw_soft_ops.close(ctx, false);
	free(ctx);
	hw_config_free(cfg);
	ck_assert_uint_eq(l.n, 2);
	struct tm tm;
	time_t when = (time_t)created;
	strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&when, &tm));
	ck_assert_str_eq(l.created[0], want);
	ck_assert_str_eq(l.created[1], "2001-02-03T04:05:06Z");
}
END_TEST

static Suite *suite(void)
{
	TCase *st;
	Suite *s = fixture_suite("store", 60, &st);
	tcase_add_test(st, test_open_creates_private_files);
	tcase_add_test(st, test_unwritable_dir);
	tcase_add_test(st, test_unusable_file);
	tcase_add_test(st, test_objects_crud);
	tcase_add_test(st, test_pair_insert_atomic);
	tcase_add_test(st, test_foreign_ids_skipped);
	tcase_add_test(st, test_changed_second_handle);
	tcase_add_test(st, test_forked_child_writes);
	tcase_add_test(st, test_fork_while_busy);
	tcase_add_test(st, test_two_processes_insert);
	tcase_add_test(st, test_threads_share_handle);
	tcase_add_test(st, test_token_records);
	tcase_add_test(st, test_created_time);
	return s;
}

HW_UNIT_MAIN
