/*
 * No engine lock across backend I/O (design.md, "Concurrency"): while one
 * thread waits inside the lower module's C_FindObjects (a slow device; the
 * hostile module's block_find mode holds the call until the test lets it
 * go), the rest of the same hsm slot goes on: a C_Sign of an operation
 * initialized before, a whole new C_SignInit + C_Sign, and C_GetSlotList /
 * C_GetTokenInfo of every slot. Nothing is timed: a watchdog (a join with
 * a generous deadline) only turns a deadlock into a failure that says
 * which calls did not return.
 *
 * Slots: 0 "soft" (soft, not initialized), 1 "hx" (hsm over the hostile
 * module), 2 "gone" (hsm over a module file that does not exist).
 */
#include "tests/concurrency/conc.h"

#define HX 1
#define WATCHDOG 60          /* seconds; the calls under test take milliseconds */

static void setup(void)
{
	char hx[600], slots[900];
	conc_hostile_open();
	conc_hostile_slot(hx, sizeof(hx), "hx");
	snprintf(slots, sizeof(slots), "{\"name\": \"soft\", \"type\": \"soft\"}, %s, "
		 "{\"name\": \"gone\", \"type\": \"hsm\", \"module\": \"/nonexistent/hsm.so\"}", hx);
	conc_world(slots);
	p11_load();
	ck_assert_int_eq(p11->C_Initialize(NULL), CKR_OK);
}

static void teardown(void)
{
	hostile("");
	p11->C_Finalize(NULL);
	p11_world_remove();
}

/* One call (or a few) made while the lower find is held. */
typedef struct job {
	const char *name;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_RV rv;
	const char *what;
} job;

static void *sign_initialized(void *varg)
{
	job *j = varg;
	j->rv = conc_hostile_finish(j->s, 0x31, &j->what);
	return NULL;
}

static void *sign_new(void *varg)
{
	job *j = varg;
	j->rv = conc_hostile_sign(j->s, j->key, 0x32, &j->what);
	return NULL;
}

/* Every slot answers: listed (all three), present (soft and hx; the
 * module of "gone" does not exist), token info accordingly. */
static void *slots_and_tokens(void *varg)
{
	job *j = varg;
	CK_SLOT_ID ids[8];
	CK_ULONG n = 8;
	CK_TOKEN_INFO ti;
	static const CK_RV want[3] = { CKR_OK, CKR_OK, CKR_TOKEN_NOT_PRESENT };
	j->rv = CKR_OK;
	if ((j->rv = p11->C_GetSlotList(CK_FALSE, ids, &n)) != CKR_OK || n != 3) {
		j->what = "C_GetSlotList(all)";
		j->rv = j->rv != CKR_OK ? j->rv : CKR_GENERAL_ERROR;
		goto out;
	}
	n = 8;
	if ((j->rv = p11->C_GetSlotList(CK_TRUE, ids, &n)) != CKR_OK || n != 2 || ids[0] != 0 || ids[1] != HX) {
		j->what = "C_GetSlotList(with a token)";
		j->rv = j->rv != CKR_OK ? j->rv : CKR_GENERAL_ERROR;
		goto out;
	}
	for (CK_SLOT_ID id = 0; id < 3; id++) {
		CK_RV rv = p11->C_GetTokenInfo(id, &ti);
		if (rv != want[id]) {
			j->what = id == 0 ? "C_GetTokenInfo(soft)" : id == HX ? "C_GetTokenInfo(hx)" : "C_GetTokenInfo(gone)";
			j->rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
			goto out;
		}
	}
out:
	return NULL;
}

/* Searches on its session until told to stop; the first search that asks
 * the lower module for its objects is the one held. It loops rather than
 * searching once so that an engine that lists only now and then still
 * gets there. */
typedef struct finder_arg {
	CK_SESSION_HANDLE s;
	int stop;                    /* atomic */
	unsigned long rounds;
	CK_RV rv;
	const char *what;
} finder_arg;

static void *finder(void *varg)
{
	finder_arg *f = varg;
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n;
	f->rv = CKR_OK;
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) && f->rv == CKR_OK && f->rounds < 10000000) {
		if ((f->rv = p11->C_FindObjectsInit(f->s, NULL, 0)) != CKR_OK) {
			f->what = "C_FindObjectsInit";
			break;
		}
		if ((f->rv = p11->C_FindObjects(f->s, h, 4, &n)) != CKR_OK)
			f->what = "C_FindObjects";
		CK_RV rv = p11->C_FindObjectsFinal(f->s);
		if (f->rv == CKR_OK && rv != CKR_OK) {
			f->what = "C_FindObjectsFinal";
			f->rv = rv;
		}
		f->rounds++;
	}
	return NULL;
}

static CK_SESSION_HANDLE hx_session(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(HX, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	return s;
}

START_TEST(lower_find_leaves_the_slot_usable)
{
	CK_RV rv;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE main_s = hx_session();
	CKR(p11->C_Login(main_s, CKU_USER, (unsigned char *)HOSTILE_PIN, 4));
	CK_OBJECT_HANDLE key = conc_find_one(main_s, CKO_PRIVATE_KEY, NULL);
	ck_assert_uint_ne(key, CK_INVALID_HANDLE);
	job jobs[] = {
		{ .name = "C_Sign of an operation initialized before", .s = hx_session() },
		{ .name = "C_SignInit + C_Sign", .s = hx_session(), .key = key },
		{ .name = "C_GetSlotList and C_GetTokenInfo of every slot" },
	};
	void *(*fns[])(void *) = { sign_initialized, sign_new, slots_and_tokens };
	enum { NJOBS = sizeof(jobs) / sizeof(jobs[0]) };
	CKR(p11->C_SignInit(jobs[0].s, &m, key));

	/* a thread held inside the lower C_FindObjects */
	finder_arg f = { .s = hx_session() };
	pthread_t tf, tj[NJOBS];
	hostile("block_find");
	ck_assert_int_eq(pthread_create(&tf, NULL, finder, &f), 0);
	int held = hostile_wait(1, WATCHDOG);
	if (held != 1) {
		__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
		hostile("");
		pthread_join(tf, NULL);
		ck_abort_msg("no search reached the lower module's C_FindObjects within %d s (%lu searches: %s = 0x%lx)",
			     WATCHDOG, f.rounds, f.what ? f.what : "-", (unsigned long)f.rv);
	}

	/* the others, while it is held */
	for (int i = 0; i < NJOBS; i++)
		ck_assert_int_eq(pthread_create(&tj[i], NULL, fns[i], &jobs[i]), 0);
	struct timespec deadline = conc_deadline(WATCHDOG);
	bool joined[NJOBS];
	for (int i = 0; i < NJOBS; i++)
		joined[i] = conc_join(tj[i], &deadline, NULL);
	held = hostile_stat_of("blocked");

	/* let it go; everything must finish now, stuck or not */
	hostile("");
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	deadline = conc_deadline(WATCHDOG);
	ck_assert_msg(conc_join(tf, &deadline, NULL), "the held search did not return after its release");
	for (int i = 0; i < NJOBS; i++)
		ck_assert_msg(joined[i] || conc_join(tj[i], &deadline, NULL),
			      "%s did not return even after the lower C_FindObjects was released", jobs[i].name);

	char stuck[400] = "";
	for (int i = 0; i < NJOBS; i++)
		if (!joined[i])
			snprintf(stuck + strlen(stuck), sizeof(stuck) - strlen(stuck), "%s%s", stuck[0] ? "; " : "",
				 jobs[i].name);
	ck_assert_msg(stuck[0] == '\0', "while a thread was inside the lower C_FindObjects of slot \"hx\", "
		      "these did not return within %d s: %s", WATCHDOG, stuck);
	ck_assert_msg(held == 1, "the lower C_FindObjects was not held while the others ran");
	for (int i = 0; i < NJOBS; i++)
		ck_assert_msg(jobs[i].rv == CKR_OK, "%s: %s = 0x%lx", jobs[i].name, jobs[i].what,
			      (unsigned long)jobs[i].rv);
	ck_assert_msg(f.rv == CKR_OK, "the held search: %s = 0x%lx", f.what, (unsigned long)f.rv);
	/* and the slot is as usable as before */
	const char *what = "";
	CKR(conc_hostile_sign(jobs[1].s, key, 0x33, &what));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nolock");
	TCase *t = tcase_create("hsm slot while the lower module is slow");
	tcase_set_timeout(t, 3 * WATCHDOG + 30);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, lower_find_leaves_the_slot_usable);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (!conc_hostile_built())
		return 77;
	return p11_run(suite());
}
