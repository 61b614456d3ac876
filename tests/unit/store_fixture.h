/*
 * Fixture shared by the store and PIN suites: a private mkdtemp directory
 * per test, a store opened in it, object insertion and walks, and forked
 * children.
 */
#ifndef HW_STORE_FIXTURE_H
#define HW_STORE_FIXTURE_H

#include "objects/store.h"
#include "mechanisms/crypto.h"
#include "tests/unit/unit.h"

#include <ftw.h>
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

static inline int unlock_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

static inline int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p);
	return 0;
}

static inline void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/hwagg-store-XXXXXX", t != NULL && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	OK(hw_crypto_init());
}

static inline void teardown(void)
{
	nftw(tmp_dir, unlock_entry, 16, FTW_PHYS);
	nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	hw_crypto_fini();
}

/* A suite of one test case, name, with this fixture and timeout; the
 * caller adds the tests to *tc. */
static inline Suite *fixture_suite(const char *name, double timeout, TCase **tc)
{
	Suite *s = suite_create(name);
	*tc = tcase_create(name);
	tcase_add_checked_fixture(*tc, setup, teardown);
	tcase_set_timeout(*tc, timeout);
	suite_add_tcase(s, *tc);
	return s;
}

static inline hw_store *open_store(const char *dir)
{
	hw_store *s = NULL;
	OK(hw_store_open(dir, &s));
	ck_assert_ptr_nonnull(s);
	return s;
}

static inline CK_RV insert_str(hw_store *s, const char *slot, const char *attrs,
				const char *secret, int64_t *id)
{
	int64_t ignored;
	hw_store_obj o = { .attrs = (const unsigned char *)attrs, .attrs_len = strlen(attrs),
			   .secret = (const unsigned char *)secret,
			   .secret_len = secret != NULL ? strlen(secret) : 0 };
	return hw_store_obj_insert(s, slot, &o, 1, id != NULL ? id : &ignored);
}

static inline int64_t put(hw_store *s, const char *slot, const char *attrs, const char *secret)
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

static inline CK_RV collect(void *arg, const hw_store_obj *o)
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

static inline seen *walk(hw_store *s, const char *slot)
{
	static seen w;
	memset(&w, 0, sizeof(w));
	OK(hw_store_obj_each(s, slot, collect, &w));
	return &w;
}

/* Children report through their exit code; never a Check assertion. */
static inline pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

static inline int wait_child(pid_t pid)
{
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
