/*
 * The hsm slot over a hostile lower module (tests/hostile/hostile.c),
 * driven through the built libhwagg-pkcs11.so. Each misbehaviour must give
 * the right CKR_* on the hwagg side, a log line naming the module and the
 * reason, no effect on the other slots, and recovery once the module
 * behaves again.
 *
 * Slots: 0 "soft" (soft), 1 "hx" (hsm over the hostile module), 2 "gone"
 * (hsm over a module file that does not exist).
 */
#include "tests/dlopen/p11.h"
#include "tests/hostile/hostile.h"
#include "common/hwagg.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define HX 1
#define GONE 2

static hostile_set_fn hostile;
static hostile_stat_fn stat_of;
static void *hostile_dl;
static char log_path[300];

/* The config; second: the name of a second hsm slot on the same module. */
static void write_conf(const char *second)
{
	const char *mod = getenv("HWAGG_HOSTILE");
	char conf[300];
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-hostile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	snprintf(log_path, sizeof(log_path), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", "
		   "\"log\": {\"level\": \"warn\", \"file\": \"%s\"}, \"slots\": ["
		   "{\"name\": \"soft\", \"type\": \"soft\"},"
		   "{\"name\": \"hx\", \"type\": \"hsm\", \"module\": \"%s\", \"token\": \"hostile\"},"
		   "{\"name\": \"gone\", \"type\": \"hsm\", \"module\": \"/nonexistent/hsm.so\"}",
		p11_dir, log_path, mod);
	if (second != NULL)
		fprintf(f, ", {\"name\": \"%s\", \"type\": \"hsm\", \"module\": \"%s\", \"token\": \"hostile\"}",
			second, mod);
	fprintf(f, "]}\n");
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
}

static void setup(void)
{
	const char *mod = getenv("HWAGG_HOSTILE");
	ck_assert_msg(mod != NULL, "HWAGG_HOSTILE not set");
	/* the same copy p11-kit will load: its controls work on it */
	hostile_dl = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(hostile_dl != NULL, "dlopen %s: %s", mod, dlerror());
	*(void **)&hostile = dlsym(hostile_dl, "hostile_set");
	*(void **)&stat_of = dlsym(hostile_dl, "hostile_stat");
	ck_assert(hostile != NULL && stat_of != NULL);
	hostile("");
	write_conf(NULL);
	p11_load();
}

static void teardown(void)
{
	p11->C_Finalize(NULL);
	p11_world_remove();
}

static bool log_has(const char *what)
{
	char buf[16384];
	FILE *f = fopen(log_path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static bool listed(CK_SLOT_ID id)
{
	CK_SLOT_ID ids[8];
	CK_ULONG n = 8;
	ck_assert_int_eq(p11->C_GetSlotList(CK_TRUE, ids, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void wait_retry(void)
{
	struct timespec ts = { 1, 200000000 };   /* the module is tried again after 1 s */
	nanosleep(&ts, NULL);
}

static CK_SESSION_HANDLE hx_login(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(HX, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)"1234", 4));
	return s;
}

static CK_OBJECT_HANDLE find_priv(CK_SESSION_HANDLE s, CK_ULONG *count)
{
	CK_RV rv;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
	CK_OBJECT_HANDLE h[4] = { 0 };
	CK_ULONG n = 0;
	CKR(p11->C_FindObjectsInit(s, &t, 1));
	CKR(p11->C_FindObjects(s, h, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	if (count != NULL)
		*count = n;
	return n > 0 ? h[0] : CK_INVALID_HANDLE;
}

/* Sign 32 bytes with CKM_ECDSA; the hostile rule gives byte i = d[i%32]^0x5a. */
static CK_RV sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char seed)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char d[32], sig[64];
	CK_ULONG len = sizeof(sig);
	memset(d, seed, sizeof(d));
	CK_RV rv = p11->C_SignInit(s, &m, key);
	if (rv == CKR_OK)
		rv = p11->C_Sign(s, d, sizeof(d), sig, &len);
	if (rv == CKR_OK && (len != 64 || sig[0] != (unsigned char)(seed ^ 0x5a) || sig[63] != sig[0]))
		rv = CKR_GENERAL_ERROR;
	return rv;
}

START_TEST(missing_module_leaves_others_working)
{
	CK_RV rv;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	CKR(p11->C_Initialize(NULL));
	ck_assert(!listed(GONE));
	ck_assert(listed(HX) && listed(0));
	CKR(p11->C_GetSlotInfo(GONE, &si));
	ck_assert(!(si.flags & CKF_TOKEN_PRESENT) && (si.flags & CKF_REMOVABLE_DEVICE));
	CKR_EQ(p11->C_GetTokenInfo(GONE, &ti), CKR_TOKEN_NOT_PRESENT);
	CKR_EQ(p11->C_OpenSession(GONE, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_TOKEN_NOT_PRESENT);
	ck_assert_msg(log_has("slot \"gone\": module /nonexistent/hsm.so: cannot load: No such file"),
		      "no log line for the missing module");
	s = hx_login();
	CKR(sign_once(s, find_priv(s, NULL), 7));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
}
END_TEST

START_TEST(failing_initialize_then_recovery)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	int inits = stat_of("initialize");     /* counters live as long as the module */
	hostile("init_fail");
	CKR(p11->C_Initialize(NULL));          /* a backend that is down never fails ours */
	ck_assert(!listed(HX));
	CKR_EQ(p11->C_OpenSession(HX, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_TOKEN_NOT_PRESENT);
	ck_assert_msg(log_has(": C_Initialize failed: CKR_DEVICE_ERROR; the slot shows no token"),
		      "no log line for the failed C_Initialize");
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	hostile("");
	wait_retry();
	ck_assert(listed(HX));
	s = hx_login();
	CKR(sign_once(s, find_priv(s, NULL), 1));
	ck_assert_int_eq(stat_of("initialize"), inits + 1);
	ck_assert(log_has("token \"hostile\" is present again"));
}
END_TEST

START_TEST(zero_slots_then_some)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	hostile("no_slots");
	CKR(p11->C_Initialize(NULL));
	ck_assert(!listed(HX));
	ck_assert(log_has("no token labelled \"hostile\""));
	hostile("");
	ck_assert(!listed(HX));                 /* not before the retry time */
	wait_retry();
	ck_assert(listed(HX));
	s = hx_login();
	CKR(sign_once(s, find_priv(s, NULL), 2));
}
END_TEST

START_TEST(slot_ids_change_under_us)
{
	CK_RV rv;
	CK_SESSION_INFO info;
	CK_SESSION_HANDLE s, s2;
	CKR(p11->C_Initialize(NULL));
	s = hx_login();
	CK_OBJECT_HANDLE key = find_priv(s, NULL);
	hostile("shuffle");
	for (int i = 0; i < 5; i++) {
		ck_assert(listed(HX));              /* each of these moves the lower slot */
		CKR(sign_once(s, key, (unsigned char)i));
	}
	CKR(p11->C_GetSessionInfo(s, &info));
	ck_assert_uint_eq(info.state, CKS_RW_USER_FUNCTIONS);
	CKR(p11->C_OpenSession(HX, CKF_SERIAL_SESSION, NULL, NULL, &s2));
	CKR(sign_once(s2, key, 9));
	ck_assert(!log_has("went away"));
}
END_TEST

START_TEST(device_removed_mid_session)
{
	CK_RV rv;
	CK_SESSION_HANDLE s, s2;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char d[32] = { 0 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CKR(p11->C_Initialize(NULL));
	s = hx_login();
	CK_OBJECT_HANDLE key = find_priv(s, NULL);
	CKR(p11->C_SignInit(s, &m, key));
	hostile("removed");
	CKR_EQ(p11->C_Sign(s, d, sizeof(d), sig, &len), CKR_DEVICE_REMOVED);
	CKR_EQ(p11->C_SignInit(s, &m, key), CKR_SESSION_HANDLE_INVALID);
	ck_assert(!listed(HX));
	CKR_EQ(p11->C_OpenSession(HX, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_TOKEN_NOT_PRESENT);
	ck_assert(log_has("slot \"hx\": module "));
	ck_assert(log_has("the token went away (C_Sign: CKR_DEVICE_REMOVED)"));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s2));     /* the others go on */
	hostile("");
	wait_retry();
	ck_assert(listed(HX));
	s2 = hx_login();                        /* the login did not survive the removal */
	CKR(sign_once(s2, find_priv(s2, NULL), 3));
	CKR_EQ(p11->C_GetSessionInfo(s, NULL), CKR_SESSION_HANDLE_INVALID);
	CKR(p11->C_Finalize(NULL));
	ck_assert_int_eq(stat_of("sessions"), 0);
}
END_TEST

START_TEST(garbage_attribute_lengths)
{
	CK_RV rv;
	CK_ULONG n;
	hostile("garbage_attr");
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = hx_login();
	ck_assert_uint_eq(find_priv(s, &n), CK_INVALID_HANDLE);
	ck_assert_uint_eq(n, 0);
	ck_assert(log_has("C_GetAttributeValue gave CKA_"));
	hostile("");
	ck_assert_uint_ne(find_priv(s, &n), CK_INVALID_HANDLE);
	CKR(sign_once(s, find_priv(s, NULL), 4));
}
END_TEST

START_TEST(garbage_signature_length)
{
	CK_RV rv;
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = hx_login();
	CK_OBJECT_HANDLE key = find_priv(s, NULL);
	hostile("garbage_sign");
	CKR_EQ(sign_once(s, key, 5), CKR_DEVICE_ERROR);
	ck_assert(log_has("C_Sign returned 1048576 bytes for a buffer of 64"));
	hostile("");
	CKR(sign_once(s, key, 5));
}
END_TEST

START_TEST(garbage_slot_count_and_find)
{
	CK_RV rv;
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n = 99;
	hostile("garbage_slots");
	CKR(p11->C_Initialize(NULL));
	ck_assert(!listed(HX));
	ck_assert(log_has("C_GetSlotList reported 1099511627776 entries"));
	hostile("");
	wait_retry();
	CK_SESSION_HANDLE s = hx_login();
	hostile("garbage_find");
	CKR(p11->C_FindObjectsInit(s, NULL, 0));
	CKR(p11->C_FindObjects(s, h, 4, &n));   /* what hwagg had read before */
	ck_assert_uint_le(n, 4);
	CKR(p11->C_FindObjectsFinal(s));
	ck_assert(log_has("C_FindObjects returned"));
	hostile("");
	CKR(sign_once(s, find_priv(s, NULL), 6));
}
END_TEST

#define THREADS 8
static CK_OBJECT_HANDLE thr_key;

static void *signer(void *arg)
{
	CK_SESSION_HANDLE s;
	long bad = 0;
	if (p11->C_OpenSession(HX, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)1000L;
	for (int i = 0; i < 25; i++)
		bad += sign_once(s, thr_key, (unsigned char)(i + (intptr_t)arg)) != CKR_OK;
	p11->C_CloseSession(s);
	return (void *)bad;
}

static void *raw_caller(void *arg)
{
	CK_FUNCTION_LIST *f = arg;
	CK_ULONG n;
	for (int i = 0; i < 20; i++)
		f->C_GetSlotList(CK_TRUE, NULL, &n);
	return NULL;
}

START_TEST(module_that_cannot_lock_is_serialized)
{
	CK_RV rv;
	pthread_t t[THREADS];
	long bad = 0;
	hostile("cant_lock");
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = hx_login();
	thr_key = find_priv(s, NULL);
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(stat_of("overlaps"), 0);
	/* the detector works: unserialized calls from threads do overlap */
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST *raw;
	*(void **)&gfl = dlsym(hostile_dl, "C_GetFunctionList");
	ck_assert_int_eq(gfl(&raw), CKR_OK);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, raw_caller, raw);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_gt(stat_of("overlaps"), 0);
}
END_TEST

START_TEST(one_load_per_module_and_finalize)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;
	int inits = stat_of("initialize"), finals = stat_of("finalize");
	p11_world_remove();
	write_conf("hx2");                      /* a second slot on the same module file */
	CKR(p11->C_Initialize(NULL));
	CKR(p11->C_GetTokenInfo(HX, &ti));
	CKR(p11->C_GetTokenInfo(3, &ti));
	ck_assert(memcmp(ti.label, "hx2 ", 4) == 0);
	ck_assert_int_eq(stat_of("initialize"), inits + 1);
	s = hx_login();
	CKR(sign_once(s, find_priv(s, NULL), 8));
	ck_assert_int_gt(stat_of("sessions"), 0);
	CKR(p11->C_Finalize(NULL));
	ck_assert_int_eq(stat_of("finalize"), finals + 1);
	ck_assert_int_eq(stat_of("sessions"), 0);
	CKR(p11->C_Initialize(NULL));
	ck_assert(listed(HX));
	ck_assert_int_eq(stat_of("initialize"), inits + 2);
}
END_TEST

START_TEST(vendor_attributes_hw_flag_and_random)
{
	CK_RV rv;
	CK_MECHANISM_INFO mi;
	char level[16] = "", backend[8] = "", uri[600] = "";
	unsigned char r[16];
	CKR(p11->C_Initialize(NULL));
	CK_SESSION_HANDLE s = hx_login();
	CK_ATTRIBUTE a[] = {
		{ CKA_HWAGG_SECURITY_LEVEL, level, sizeof(level) - 1 },
		{ CKA_HWAGG_BACKEND, backend, sizeof(backend) - 1 },
		{ CKA_HWAGG_PROVIDER_URI, uri, sizeof(uri) - 1 },
	};
	CKR(p11->C_GetAttributeValue(s, find_priv(s, NULL), a, 3));
	ck_assert_str_eq(level, "hardware");
	ck_assert_str_eq(backend, "hsm");
	ck_assert_msg(strstr(uri, "pkcs11:token=hostile;serial=H0001?module-path=/") != NULL, "%s", uri);
	/* CKM_ECDSA_SHA256 is built over the lower CKM_ECDSA and says CKF_HW */
	CKR(p11->C_GetMechanismInfo(HX, CKM_ECDSA_SHA256, &mi));
	ck_assert(mi.flags & CKF_HW);
	ck_assert(mi.flags & CKF_SIGN);
	CKR_EQ(p11->C_GetMechanismInfo(HX, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);
	CKR(p11->C_GenerateRandom(s, r, sizeof(r)));
	for (size_t i = 0; i < sizeof(r); i++)
		ck_assert_int_eq(r[i], 0xab);
}
END_TEST

START_TEST(bad_hsm_settings_fail_initialize)
{
	static const struct { const char *keys, *says; } bad[] = {
		{ "\"module\": \"hostile.so\"", "slots[0] (\"h\").module: expected the absolute path" },
		{ "\"module\": \"/x.so\", \"security\": \"firmware\"",
		  "slots[0] (\"h\").security: expected one of hardware, software, got \"firmware\"" },
		{ "\"module\": \"/x.so\", \"token\": \"0123456789abcdef0123456789abcdefX\"",
		  "slots[0] (\"h\").token: expected a token label of 1 to 32 bytes" },
	};
	char conf[400];
	snprintf(conf, sizeof(conf), "%s/bad.json", p11_dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(conf, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", \"log\": {\"file\": \"%s\"},"
			   " \"slots\": [{\"name\": \"h\", \"type\": \"hsm\", %s}]}", p11_dir, log_path, bad[i].keys);
		fclose(f);
		setenv("HWAGG_CONF", conf, 1);
		ck_assert_int_eq(p11->C_Initialize(NULL), CKR_FUNCTION_FAILED);
		ck_assert_msg(log_has(bad[i].says), "no log line \"%s\"", bad[i].says);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *t = tcase_create("hsm over a hostile module");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, missing_module_leaves_others_working);
	tcase_add_test(t, failing_initialize_then_recovery);
	tcase_add_test(t, zero_slots_then_some);
	tcase_add_test(t, slot_ids_change_under_us);
	tcase_add_test(t, device_removed_mid_session);
	tcase_add_test(t, garbage_attribute_lengths);
	tcase_add_test(t, garbage_signature_length);
	tcase_add_test(t, garbage_slot_count_and_find);
	tcase_add_test(t, module_that_cannot_lock_is_serialized);
	tcase_add_test(t, one_load_per_module_and_finalize);
	tcase_add_test(t, vendor_attributes_hw_flag_and_random);
	tcase_add_test(t, bad_hsm_settings_fail_initialize);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	if (getenv("HWAGG_HOSTILE") == NULL || access(getenv("HWAGG_HOSTILE"), R_OK) != 0) {
		fprintf(stderr, "HWAGG_HOSTILE (the hostile test module) is not built\n");
		return 77;
	}
	return p11_run(suite());
}
