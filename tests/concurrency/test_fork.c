/*
 * fork() while another thread of the parent is inside the module: in a
 * sign, a search or a login, holding whatever locks those take. The child
 * is a new application (UG "Applications and processes"): it must be able
 * to C_Initialize, log in, sign (verified with OpenSSL, or by the hostile
 * module's rule) and C_Finalize, whatever the parent's threads held when
 * it forked; the parent goes on and finalizes as if nothing happened.
 *
 * The parent's thread is held where it should be by the hostile module
 * (block_sign, block_find, block_login, block_init: the call waits inside
 * the lower module until the test lets it go), so the fork lands inside
 * the call for sure. The soft slot's login has no such hook: its thread
 * says "now" just before C_Login, so the fork lands somewhere inside it:
 * in its store reads and writes (the PIN failure counter, in SQLite) or in
 * its scrypt (about 100 ms). The child must work wherever it lands. A
 * child that hangs is killed by its alarm() and fails the test.
 *
 * Slots: 0 "conc" (soft), 1 "hx" (hsm over the hostile module).
 */
#include "tests/concurrency/conc.h"

#include <signal.h>
#include <sys/wait.h>

#define HX 1
#define CHILD_ALARM 30
#define WATCHDOG 60

static CK_SESSION_HANDLE main_s;      /* slot 0, logged in (until a test logs out) */
static CK_OBJECT_HANDLE soft_key;
static EVP_PKEY *soft_pub;

static void setup(void)
{
	CK_RV rv;
	char hx[600], slots[800];
	CK_OBJECT_HANDLE p;
	conc_hostile_open();
	conc_hostile_slot(hx, sizeof(hx), "hx");
	snprintf(slots, sizeof(slots), "{\"name\": \"conc\", \"type\": \"soft\"}, %s", hx);
	conc_world(slots);
	p11_load();
	CKR(p11->C_Initialize(NULL));
	conc_init_soft(0, "conc");
	main_s = p11_user_session();
	p11_gen_ec(main_s, "forked", CK_TRUE, &p, &soft_key);
	soft_pub = conc_pubkey(main_s, p);
	ck_assert_ptr_nonnull(soft_pub);
}

static void teardown(void)
{
	hostile("");
	p11->C_Finalize(NULL);
	EVP_PKEY_free(soft_pub);
	p11_world_remove();
}

/* ---- the child ---------------------------------------------------------------------- */
enum {
	C_NOT_INIT = 1 << 0,     /* a call before C_Initialize was not CKR_CRYPTOKI_NOT_INITIALIZED
				  * (hwagg's answer in a child that has not initialized: global.c) */
	C_INIT = 1 << 1,         /* C_Initialize failed */
	C_INHERITED = 1 << 2,    /* a new session was not public: the parent's login leaked in */
	C_SOFT_LOGIN = 1 << 3,
	C_SOFT_SIGN = 1 << 4,    /* finding, signing or verifying with the soft key */
	C_HX_LOGIN = 1 << 5,
	C_HX_SIGN = 1 << 6,
	C_FINALIZE = 1 << 7,
};

static const char *const child_steps[] = {
	"a call before C_Initialize", "C_Initialize", "the state of a new session", "C_Login on the soft slot",
	"signing with the soft key", "C_Login on the hsm slot", "signing with the hsm key", "C_Finalize",
};

/* What the child does; the bits of what failed. */
static int child_works(void)
{
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	CK_ULONG n;
	const char *what;
	int code = 0;
	/* a deadlock kills the child: SIGALRM (Check's own handler would kill
	 * the whole process group) */
	signal(SIGALRM, SIG_DFL);
	alarm(CHILD_ALARM);
	if (p11->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
		code |= C_NOT_INIT;
	if (p11->C_Initialize(NULL) != CKR_OK)
		return code | C_INIT;
	if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    p11->C_GetSessionInfo(s, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
		code |= C_INHERITED;
	if (p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)) != CKR_OK) {
		code |= C_SOFT_LOGIN;
	} else {
		CK_OBJECT_HANDLE k = conc_find_one(s, CKO_PRIVATE_KEY, "forked");
		EVP_PKEY *pk = conc_pubkey(s, conc_find_one(s, CKO_PUBLIC_KEY, "forked"));
		if (k == CK_INVALID_HANDLE || pk == NULL || conc_sign_ec(s, k, pk, true, 1, &what) != CKR_OK ||
		    conc_sign_ec(s, k, pk, false, 2, &what) != CKR_OK)
			code |= C_SOFT_SIGN;
		EVP_PKEY_free(pk);
	}
	if (p11->C_OpenSession(HX, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    p11->C_Login(s, CKU_USER, (unsigned char *)HOSTILE_PIN, 4) != CKR_OK) {
		code |= C_HX_LOGIN;
	} else {
		CK_OBJECT_HANDLE k = conc_find_one(s, CKO_PRIVATE_KEY, NULL);
		if (k == CK_INVALID_HANDLE || conc_hostile_sign(s, k, 9, &what) != CKR_OK)
			code |= C_HX_SIGN;
	}
	if (p11->C_Finalize(NULL) != CKR_OK)
		code |= C_FINALIZE;
	return code;
}

/* Fork now; the child does child_works; the parent waits for it and
 * checks how it ended. */
static void fork_and_check(const char *during)
{
	int status;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_works());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		ck_abort_msg("fork during %s: the child died of signal %d%s", during, WTERMSIG(status),
			     WTERMSIG(status) == SIGALRM ? " (its alarm: it hung)" : "");
	int code = WEXITSTATUS(status);
	char steps[400] = "";
	for (size_t i = 0; i < sizeof(child_steps) / sizeof(child_steps[0]); i++)
		if (code & (1 << i))
			snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%s%s", steps[0] ? ", " : "",
				 child_steps[i]);
	ck_assert_msg(code == 0, "fork during %s: the child failed at: %s (exit status 0x%x)", during,
		      steps[0] ? steps : "?", (unsigned)code);
}

/* ---- the parent's held thread -------------------------------------------------------- */
typedef struct held {
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	int stop;                    /* atomic: the finder stops */
	int pipe_w;                  /* the soft login says "now" here */
	CK_RV rv;
	const char *what;
} held;

static void *hx_signer(void *varg)
{
	held *h = varg;
	h->rv = conc_hostile_sign(h->s, h->key, 0x41, &h->what);
	return NULL;
}

/* Searches until stopped (an engine that lists only now and then still
 * gets to the lower module). */
static void *hx_finder(void *varg)
{
	held *h = varg;
	CK_OBJECT_HANDLE o[4];
	CK_ULONG n;
	h->rv = CKR_OK;
	for (unsigned long i = 0; i < 10000000 && h->rv == CKR_OK && !__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE); i++)
		h->rv = conc_find(h->s, CKO_PRIVATE_KEY, NULL, o, 4, &n, &h->what);
	return NULL;
}

static void *hx_token_info(void *varg)
{
	held *h = varg;
	CK_TOKEN_INFO ti;
	h->what = "C_GetTokenInfo";
	h->rv = p11->C_GetTokenInfo(HX, &ti);
	return NULL;
}

static void *hx_login(void *varg)
{
	held *h = varg;
	h->what = "C_Login";
	h->rv = p11->C_Login(h->s, CKU_USER, (unsigned char *)HOSTILE_PIN, 4);
	return NULL;
}

static void *soft_login(void *varg)
{
	held *h = varg;
	h->what = "C_Login";
	if (write(h->pipe_w, "n", 1) != 1)
		h->rv = CKR_GENERAL_ERROR;
	else
		h->rv = p11->C_Login(h->s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN));
	return NULL;
}

static CK_SESSION_HANDLE hx_session(bool login)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(HX, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	if (login)
		CKR(p11->C_Login(s, CKU_USER, (unsigned char *)HOSTILE_PIN, 4));
	return s;
}

/* Hold fn's call in the lower module with mode, fork, check the child,
 * let the call go; it must then succeed. */
static void fork_while_held(const char *mode, void *(*fn)(void *), held *h, const char *during)
{
	pthread_t t;
	hostile(mode);
	ck_assert_int_eq(pthread_create(&t, NULL, fn, h), 0);
	if (hostile_wait(1, WATCHDOG) != 1) {
		__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
		hostile("");
		pthread_join(t, NULL);
		ck_abort_msg("%s never reached the lower module (%s = 0x%lx)", during, h->what ? h->what : "-",
			     (unsigned long)h->rv);
	}
	fork_and_check(during);
	hostile("");
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	struct timespec deadline = conc_deadline(WATCHDOG);
	ck_assert_msg(conc_join(t, &deadline, NULL), "%s did not return after its release", during);
	ck_assert_msg(h->rv == CKR_OK, "%s in the parent: %s = 0x%lx", during, h->what, (unsigned long)h->rv);
}

/* The parent after the fork: both slots sign as before. */
static void parent_goes_on(CK_SESSION_HANDLE soft_s, CK_OBJECT_HANDLE key)
{
	CK_RV rv;
	const char *what = "";
	CK_SESSION_HANDLE s = hx_session(false);
	rv = p11->C_Login(s, CKU_USER, (unsigned char *)HOSTILE_PIN, 4);
	ck_assert_msg(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN, "C_Login on the hsm slot: 0x%lx",
		      (unsigned long)rv);
	CK_OBJECT_HANDLE hk = conc_find_one(s, CKO_PRIVATE_KEY, NULL);
	ck_assert_uint_ne(hk, CK_INVALID_HANDLE);
	CKR(conc_hostile_sign(s, hk, 0x42, &what));
	for (unsigned i = 0; i < 4; i++)
		ck_assert_msg((rv = conc_sign_ec(soft_s, key, soft_pub, i % 2, i, &what)) == CKR_OK,
			      "soft slot in the parent: %s = 0x%lx", what, (unsigned long)rv);
}

START_TEST(fork_during_a_lower_sign)
{
	held h = { .s = hx_session(true) };
	h.key = conc_find_one(h.s, CKO_PRIVATE_KEY, NULL);
	ck_assert_uint_ne(h.key, CK_INVALID_HANDLE);
	fork_while_held("block_sign", hx_signer, &h, "a C_Sign on the hsm slot");
	parent_goes_on(main_s, soft_key);
}
END_TEST

START_TEST(fork_during_a_lower_find)
{
	held h = { .s = hx_session(true) };
	fork_while_held("block_find", hx_finder, &h, "a search on the hsm slot");
	parent_goes_on(main_s, soft_key);
}
END_TEST

/* The first use of the hsm slot loads and initializes the lower module:
 * held in its C_Initialize, the thread has the slot's locks and the
 * registry of lower modules, and p11-kit is in the middle of initializing
 * the module. */
START_TEST(fork_during_the_lower_initialize)
{
	held h = { 0 };
	fork_while_held("block_init", hx_token_info, &h, "the first use of the hsm slot (the lower C_Initialize)");
	parent_goes_on(main_s, soft_key);
}
END_TEST

START_TEST(fork_during_a_lower_login)
{
	held h = { .s = hx_session(false) };
	fork_while_held("block_login", hx_login, &h, "a C_Login on the hsm slot");
	parent_goes_on(main_s, soft_key);
}
END_TEST

START_TEST(fork_during_a_soft_login)
{
	CK_RV rv;
	int p[2];
	char c;
	pthread_t t;
	held h = { 0 };
	CKR(p11->C_Logout(main_s));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h.s));
	ck_assert_int_eq(pipe(p), 0);
	h.pipe_w = p[1];
	ck_assert_int_eq(pthread_create(&t, NULL, soft_login, &h), 0);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	fork_and_check("a C_Login on the soft slot");
	struct timespec deadline = conc_deadline(WATCHDOG);
	ck_assert_msg(conc_join(t, &deadline, NULL), "the soft C_Login in the parent did not return");
	ck_assert_msg(h.rv == CKR_OK, "the soft C_Login in the parent: 0x%lx", (unsigned long)h.rv);
	close(p[0]);
	close(p[1]);
	/* the logout made the old handle invalid for good: find the key again */
	CK_OBJECT_HANDLE k = conc_find_one(main_s, CKO_PRIVATE_KEY, "forked");
	ck_assert_uint_ne(k, CK_INVALID_HANDLE);
	ck_assert_uint_ne(k, soft_key);
	parent_goes_on(main_s, k);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("fork");
	TCase *t = tcase_create("fork while a thread is inside the module");
	tcase_set_timeout(t, CHILD_ALARM + 2 * WATCHDOG + 30);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, fork_during_a_lower_sign);
	tcase_add_test(t, fork_during_a_lower_find);
	tcase_add_test(t, fork_during_the_lower_initialize);
	tcase_add_test(t, fork_during_a_lower_login);
	tcase_add_test(t, fork_during_a_soft_login);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (!conc_hostile_built())
		return 77;
	return p11_run(suite());
}
