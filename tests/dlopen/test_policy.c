/*
 * The policy slot through the built module: slot 0 "faulty" (hsm over the
 * hostile module, declared hardware: its key generation fails with
 * CKR_DEVICE_ERROR), slot 1 "hsm" (hsm over a fresh SoftHSM2 token,
 * declared hardware), slot 2 "soft", slot 3 "hwagg" (the policy slot; the
 * hostile token's PIN comes from a PIN file). Every placement is checked on
 * the member's own token, and for SoftHSM2 by SoftHSM2 itself.
 */
#include "p11.h"
#include "hsm_fixture.h"
#include "common/hwagg.h"

#include <pthread.h>
#include <time.h>
#include <sys/stat.h>

enum { FAULTY = 0, HSM = 1, SOFT = 2, POLICY = 3 };
static const char *hostile;

/* The config: environment env, the "policy" section policy (JSON or NULL),
 * the policy slot's members (JSON array or NULL: all). */
static void conf(const char *env, const char *policy, const char *members)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/hwagg.json", p11_dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"%s\", \"store\": \"%s/store\", "
		   "\"log\": {\"file\": \"%s/hwagg.log\", \"level\": \"info\"}, ", env, p11_dir, p11_dir);
	if (policy != NULL)
		fprintf(f, "\"policy\": %s, ", policy);
	fprintf(f, "\"slots\": [{\"name\": \"faulty\", \"type\": \"hsm\", \"module\": \"%s\", \"security\": \"hardware\"},"
		   " {\"name\": \"hsm\", \"type\": \"hsm\", \"module\": \"%s\", \"token\": \"hwtest\", \"security\": \"hardware\"},"
		   " {\"name\": \"soft\", \"type\": \"soft\"},"
		   " {\"name\": \"hwagg\", \"type\": \"policy\"", hostile, softhsm);
	/* the hostile token's PIN is its own: a PIN file (only when it is a member) */
	if (members == NULL)
		fprintf(f, ", \"pin_files\": {\"faulty\": \"%s/faulty.pin\"}", p11_dir);
	else
		fprintf(f, ", \"members\": %s", members);
	fprintf(f, "}]}\n");
	fclose(f);
	setenv("HWAGG_CONF", path, 1);
}

static void restart(const char *env, const char *policy, const char *members)
{
	CK_RV rv;
	p11->C_Finalize(NULL);
	conf(env, policy, members);
	CKR(p11->C_Initialize(NULL));
}

/* Empty the log file (the module appends). */
static void log_reset(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(path, "w");
	if (f != NULL)
		fclose(f);
}

static void policy_setup(void)
{
	CK_RV rv;
	char path[512];
	CK_SESSION_HANDLE s;
	unsigned char label[32];
	setup();                      /* SoftHSM2 token "hwtest", the module loaded */
	hostile = getenv("HWAGG_HOSTILE");
	ck_assert_ptr_nonnull(hostile);
	snprintf(path, sizeof(path), "%s/faulty.pin", p11_dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("1234\n", f);           /* the hostile token's PIN */
	fclose(f);
	chmod(path, 0600);
	restart("production", NULL, NULL);
	memset(label, ' ', sizeof(label));
	memcpy(label, "soft", 4);
	CKR(p11->C_InitToken(SOFT, (unsigned char *)SO_PIN, strlen(SO_PIN), label));
	CKR(p11->C_OpenSession(SOFT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_SO, (unsigned char *)SO_PIN, strlen(SO_PIN)));
	CKR(p11->C_InitPIN(s, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	CKR(p11->C_CloseSession(s));
	log_reset();
}

/* The file name under the test directory holds text. */
static bool file_has(const char *name, const char *text)
{
	char path[512], buf[65536];
	snprintf(path, sizeof(path), "%s/%s", p11_dir, name);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, text) != NULL;
}

static bool log_has(const char *text)
{
	return file_has("hwagg.log", text);
}

/* The audit log (by default next to the store) has a policy record with
 * what, and text in it. */
static bool audit_has(const char *what, const char *text)
{
	char path[512], line[8192], want[64];
	snprintf(path, sizeof(path), "%s/store/audit.jsonl", p11_dir);
	snprintf(want, sizeof(want), "\"what\":\"%s\"", what);
	FILE *f = fopen(path, "r");
	bool found = false;
	while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "\"event\":\"policy\"") != NULL && strstr(line, want) != NULL &&
			strstr(line, text) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

static CK_SESSION_HANDLE open_login(CK_SLOT_ID slot, const char *pin)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	if (pin != NULL)
		CKR(p11->C_Login(s, CKU_USER, (unsigned char *)pin, strlen(pin)));
	return s;
}

/* Production with fallback on, logged in to the policy token. */
static CK_SESSION_HANDLE fallback_login(void)
{
	restart("production", "{\"fallback\": {\"production\": true}}", NULL);
	return open_login(POLICY, USER_PIN);
}

static CK_STATE state_of(CK_SLOT_ID slot)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_SESSION_INFO si;
	CKR(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_GetSessionInfo(s, &si));
	CKR(p11->C_CloseSession(s));
	return si.state;
}

/* The text attribute t of object o, "" when absent. */
static void text_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, char *out, size_t cap)
{
	CK_ATTRIBUTE a = { t, out, cap - 1 };
	if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		a.ulValueLen = 0;
	out[a.ulValueLen] = '\0';
}

/* The key lives on member slot want (CKA_HWAGG_SLOT). */
static void assert_on(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const char *want)
{
	char where[64];
	text_attr(s, o, CKA_HWAGG_SLOT, where, sizeof(where));
	ck_assert_str_eq(where, want);
}

static CK_RV gen_ec(CK_SESSION_HANDLE s, const char *label, CK_BBOOL token, CK_OBJECT_HANDLE *pub,
		    CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL t = CK_TRUE;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) }, { CKA_TOKEN, &token, 1 },
			      { CKA_LABEL, (void *)label, strlen(label) }, { CKA_VERIFY, &t, 1 } };
	CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &token, 1 }, { CKA_LABEL, (void *)label, strlen(label) },
			      { CKA_SIGN, &t, 1 } };
	return p11->C_GenerateKeyPair(s, &m, pt, 4, vt, 3, pub, priv);
}

static CK_RV sign_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned char sig[128], msg[] = "routed through the policy token";
	CK_ULONG len = sizeof(sig);
	CK_RV rv = p11->C_SignInit(s, &m, priv);
	if (rv == CKR_OK)
		rv = p11->C_Sign(s, msg, sizeof(msg), sig, &len);
	if (rv != CKR_OK)
		return rv;
	if ((rv = p11->C_VerifyInit(s, &m, pub)) == CKR_OK)
		rv = p11->C_Verify(s, msg, sizeof(msg), sig, len);
	return rv;
}

/* Production, fallback off (the default): the first eligible member
 * ("faulty", an hsm declared hardware) fails with CKR_DEVICE_ERROR, so the
 * key is placed nowhere; the soft slot is never a candidate. */
START_TEST(production_fails_closed)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	/* the login reached both hardware members, the hostile one with its PIN file */
	ck_assert_int_eq(state_of(FAULTY), CKS_RW_USER_FUNCTIONS);
	ck_assert_int_eq(state_of(HSM), CKS_RW_USER_FUNCTIONS);
	ck_assert_int_eq(state_of(SOFT), CKS_RW_PUBLIC_SESSION);
	CKR_EQ(gen_ec(s, "closed", CK_TRUE, &pub, &priv), CKR_DEVICE_ERROR);
	CK_SESSION_HANDLE h = open_login(HSM, NULL);
	find_label(h, CKO_PUBLIC_KEY, "closed", &n);
	ck_assert_int_eq(n, 0);
	ck_assert(!softhsm_shows("--list-objects", "closed"));
	ck_assert(log_has("\"faulty\" is unavailable (CKR_DEVICE_ERROR after "));
	ck_assert(log_has("tries) and fallback is off in production: fail closed"));
	/* the decision is audited, with its result */
	ck_assert(audit_has("refusal", "fallback is off in production: fail closed"));
	ck_assert(audit_has("refusal", "CKR_DEVICE_ERROR"));
	ck_assert(!audit_has("placement", ""));
}
END_TEST

/* The retry window: an unavailable member is tried again within max_ms
 * (full jitter), then the call fails closed; max_ms 0 tries once. */
START_TEST(retry_window_then_fail_closed)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	struct timespec a, b;
	restart("production", "{\"retry\": {\"max_ms\": 0}}", NULL);
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	CKR_EQ(gen_ec(s, "once", CK_TRUE, &pub, &priv), CKR_DEVICE_ERROR);
	ck_assert(log_has("(CKR_DEVICE_ERROR after 1 try) and fallback is off"));
	log_reset();
	restart("production", "{\"retry\": {\"max_ms\": 600, \"base_ms\": 20}}", NULL);
	s = open_login(POLICY, USER_PIN);
	clock_gettime(CLOCK_MONOTONIC, &a);
	CKR_EQ(gen_ec(s, "again", CK_TRUE, &pub, &priv), CKR_DEVICE_ERROR);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	ck_assert_msg(ms < 600 + 3000, "the retry window of 600 ms took %.0f ms", ms);
	ck_assert(!log_has("(CKR_DEVICE_ERROR after 1 try)"));   /* it did try again */
}
END_TEST

/* Fallback on: the key goes to the next eligible member, "hsm", and lives
 * in SoftHSM2; sign, verify and destroy through the policy token reach it. */
START_TEST(fallback_places_on_next_and_routes)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = fallback_login();
	CKR(gen_ec(s, "fell", CK_TRUE, &pub, &priv));
	assert_on(s, priv, "hsm");
	ck_assert(log_has("placed on \"hsm\" (hsm) instead of \"faulty\", which is unavailable (CKR_DEVICE_ERROR)"));
	ck_assert(audit_has("fallback", "placed on \\\"hsm\\\" (hsm) instead of \\\"faulty\\\""));
	/* the same object on the member's own token, and in SoftHSM2 */
	CK_SESSION_HANDLE h = open_login(HSM, NULL);
	ck_assert_uint_eq(find_label(h, CKO_PRIVATE_KEY, "fell", &n), priv);
	ck_assert_int_eq(n, 1);
	ck_assert(softhsm_shows("--login --pin 123456 --list-objects", "fell"));
	CKR(sign_verify(s, priv, pub));
	/* attribute changes and copies go to the member too */
	CK_ATTRIBUTE lab = { CKA_LABEL, "fell2", 5 };
	CK_OBJECT_HANDLE copy;
	CKR(p11->C_SetAttributeValue(s, pub, &lab, 1));
	ck_assert_uint_eq(find_label(h, CKO_PUBLIC_KEY, "fell2", &n), pub);
	CKR(p11->C_CopyObject(s, pub, NULL, 0, &copy));
	assert_on(s, copy, "hsm");
	find_label(h, CKO_PUBLIC_KEY, "fell2", &n);
	ck_assert_int_eq(n, 2);
	CKR(p11->C_DestroyObject(s, copy));
	/* a search on the policy token finds it once */
	ck_assert_uint_eq(find_label(s, CKO_PRIVATE_KEY, "fell", &n), priv);
	ck_assert_int_eq(n, 1);
	CKR(p11->C_DestroyObject(s, priv));
	CKR(p11->C_DestroyObject(s, pub));
	find_label(h, CKO_PRIVATE_KEY, "fell", &n);
	ck_assert_int_eq(n, 0);
	ck_assert(!softhsm_shows("--login --pin 123456 --list-objects", "fell"));
}
END_TEST

/* A member that cannot make the key at all is skipped (no fallback
 * needed): "faulty" has no RSA, so an RSA pair lands on "hsm" even with
 * fallback off; decryption through the policy token is SoftHSM2's. */
START_TEST(rsa_skips_member_without_mechanism_and_decrypts)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	unsigned char msg[] = "secret", ct[512], pt[512];
	CK_ULONG ctl = sizeof(ct), ptl = sizeof(pt);
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	p11_gen_rsa(s, "rsa", &pub, &priv);
	assert_on(s, priv, "hsm");
	CKR(p11->C_EncryptInit(s, &m, pub));
	CKR(p11->C_Encrypt(s, msg, sizeof(msg), ct, &ctl));
	CKR(p11->C_DecryptInit(s, &m, priv));
	CKR(p11->C_Decrypt(s, ct, ctl, pt, &ptl));
	ck_assert_int_eq(ptl, sizeof(msg));
	ck_assert_mem_eq(pt, msg, sizeof(msg));
	ck_assert(softhsm_shows("--login --pin 123456 --list-objects", "rsa"));
}
END_TEST

/* Precedence by name, and the minimum security level: development takes
 * "soft" first when precedence says so; production never does. */
START_TEST(precedence_and_min_security)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	restart("development", "{\"precedence\": [\"soft\", \"hsm\"]}", NULL);
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	CKR(gen_ec(s, "dev", CK_TRUE, &pub, &priv));
	assert_on(s, priv, "soft");
	restart("production", "{\"precedence\": [\"soft\", \"hsm\", \"faulty\"]}", NULL);
	s = open_login(POLICY, USER_PIN);
	CKR(gen_ec(s, "prod", CK_TRUE, &pub, &priv));
	assert_on(s, priv, "hsm");
	/* the soft slot's key is not on the policy token in production */
	CK_ULONG n;
	find_label(s, CKO_PRIVATE_KEY, "dev", &n);
	ck_assert_int_eq(n, 0);
}
END_TEST

/* Production with no member meeting the minimum: no policy token, and the
 * log says what is missing. */
START_TEST(production_without_hardware_is_absent)
{
	CK_RV rv;
	CK_SLOT_ID ids[8];
	CK_ULONG n = 8;
	CK_TOKEN_INFO ti;
	restart("production", NULL, "[\"soft\"]");
	CKR(p11->C_GetSlotList(CK_TRUE, ids, &n));
	for (CK_ULONG i = 0; i < n; i++)
		ck_assert_uint_ne(ids[i], POLICY);
	CKR_EQ(p11->C_GetTokenInfo(POLICY, &ti), CKR_TOKEN_NOT_PRESENT);
	ck_assert(log_has("no member meets the production minimum security level (hardware): \"soft\" is software"));
	/* development accepts it */
	restart("development", NULL, "[\"soft\"]");
	CKR(p11->C_GetTokenInfo(POLICY, &ti));
	ck_assert(ti.flags & CKF_LOGIN_REQUIRED);
}
END_TEST

/* Login fan-out and a member logged out on its own token. */
START_TEST(member_logout_and_login_again)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = fallback_login();
	CKR(gen_ec(s, "lo", CK_TRUE, &pub, &priv));
	/* the application logs out of the member directly */
	CK_SESSION_HANDLE h = open_login(HSM, NULL);
	CKR(p11->C_Logout(h));
	CKR(p11->C_CloseSession(h));
	ck_assert_int_eq(state_of(HSM), CKS_RW_PUBLIC_SESSION);
	/* the policy token's keys there are gone until it logs in again */
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CKR_EQ(p11->C_SignInit(s, &m, priv), CKR_KEY_HANDLE_INVALID);
	find_label(s, CKO_PRIVATE_KEY, "lo", &n);
	ck_assert_int_eq(n, 0);
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	ck_assert_int_eq(state_of(HSM), CKS_RW_USER_FUNCTIONS);
	priv = find_label(s, CKO_PRIVATE_KEY, "lo", &n);
	ck_assert_int_eq(n, 1);
	CKR(sign_verify(s, priv, pub));
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
	/* the member's own last session closing does not log out what the policy token holds */
	h = open_login(HSM, NULL);
	CKR(p11->C_CloseSession(h));
	CKR(sign_verify(s, priv, pub));
	/* logging out of the policy token logs out the members it logged in */
	CKR(p11->C_Logout(s));
	ck_assert_int_eq(state_of(HSM), CKS_RW_PUBLIC_SESSION);
	ck_assert_int_eq(state_of(FAULTY), CKS_RW_PUBLIC_SESSION);
	/* a wrong PIN: "faulty" (PIN file) logs in first, "hsm" refuses, both undone */
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)"999999", 6), CKR_PIN_INCORRECT);
	ck_assert_int_eq(state_of(FAULTY), CKS_RW_PUBLIC_SESSION);
	ck_assert_int_eq(state_of(HSM), CKS_RW_PUBLIC_SESSION);
}
END_TEST

/* A member the application logged in to on its own token is the
 * application's: the policy token's logout leaves it logged in. */
START_TEST(member_login_of_the_application_stays)
{
	CK_RV rv;
	CK_SESSION_HANDLE h = open_login(HSM, USER_PIN);
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	ck_assert_int_eq(state_of(FAULTY), CKS_RW_USER_FUNCTIONS);
	CKR(p11->C_Logout(s));
	ck_assert_int_eq(state_of(HSM), CKS_RW_USER_FUNCTIONS);
	ck_assert_int_eq(state_of(FAULTY), CKS_RW_PUBLIC_SESSION);   /* the policy token's own login */
	CKR(p11->C_CloseSession(h));
}
END_TEST

/* A PIN file others can read is refused. */
START_TEST(pin_file_must_be_private)
{
	CK_RV rv;
	char path[512];
	snprintf(path, sizeof(path), "%s/faulty.pin", p11_dir);
	chmod(path, 0644);
	CK_SESSION_HANDLE s = open_login(POLICY, NULL);
	CKR_EQ(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)), CKR_PIN_INCORRECT);
	ck_assert(log_has("readable or writable by another user"));
	ck_assert_int_eq(state_of(HSM), CKS_RW_PUBLIC_SESSION);
}
END_TEST

/* A key made in development is marked so and refused in production. */
START_TEST(development_key_refused_in_production)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv, pub2, priv2;
	CK_ULONG n;
	char env[32];
	const char *sw = "{\"min_security\": {\"production\": \"software\"}, \"precedence\": [\"soft\"]}";
	restart("development", sw, NULL);
	CK_SESSION_HANDLE s = open_login(POLICY, USER_PIN);
	CKR(gen_ec(s, "devkey", CK_TRUE, &pub, &priv));
	text_attr(s, priv, CKA_HWAGG_ENVIRONMENT, env, sizeof(env));
	ck_assert_str_eq(env, "development");
	restart("production", sw, NULL);
	s = open_login(POLICY, USER_PIN);
	priv = find_label(s, CKO_PRIVATE_KEY, "devkey", &n);
	pub = find_label(s, CKO_PUBLIC_KEY, "devkey", NULL);
	ck_assert_int_eq(n, 1);
	text_attr(s, priv, CKA_HWAGG_ENVIRONMENT, env, sizeof(env));
	ck_assert_str_eq(env, "development");      /* persisted by the soft slot */
	CKR_EQ(sign_verify(s, priv, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert(log_has("a key made in development (CKA_HWAGG_ENVIRONMENT) is refused in production"));
	ck_assert(audit_has("refusal", "a key made in development is refused in production"));
	ck_assert(audit_has("placement", "placed on \\\"soft\\\""));
	/* refused on the member's own token too; a production key is fine */
	CK_SESSION_HANDLE o = open_login(SOFT, NULL);
	CKR_EQ(sign_verify(o, priv, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CKR(gen_ec(s, "prodkey", CK_TRUE, &pub2, &priv2));
	text_attr(s, priv2, CKA_HWAGG_ENVIRONMENT, env, sizeof(env));
	ck_assert_str_eq(env, "production");
	CKR(sign_verify(s, priv2, pub2));
}
END_TEST

/* Session keys made through a policy session are that session's. */
START_TEST(session_keys_go_with_the_session)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = fallback_login(), s2 = open_login(POLICY, NULL);
	CKR(gen_ec(s, "ephemeral", CK_FALSE, &pub, &priv));
	ck_assert_uint_eq(find_label(s2, CKO_PRIVATE_KEY, "ephemeral", &n), priv);
	ck_assert_int_eq(n, 1);
	CKR(sign_verify(s2, priv, pub));
	CKR(p11->C_CloseSession(s));
	find_label(s2, CKO_PRIVATE_KEY, "ephemeral", &n);
	ck_assert_int_eq(n, 0);
	CK_SESSION_HANDLE h = open_login(HSM, NULL);
	find_label(h, CKO_PRIVATE_KEY, "ephemeral", &n);
	ck_assert_int_eq(n, 0);
	/* the other policy session keeps the login */
	ck_assert_int_eq(state_of(HSM), CKS_RW_USER_FUNCTIONS);
}
END_TEST

/* Threads signing through the policy token while the member is logged out
 * on its own token and the policy token logs in again, over and over: no
 * call fails but with the answers of a logged-out member, every signature
 * made verifies (ThreadSanitizer checks the policy slot's lock order:
 * tests/concurrency/tsan.sh builds this suite too). */
#define SIGNERS 4
static volatile int stop_signing;

static void *signer(void *arg)
{
	long ok = 0;
	CK_RV rv;
	CK_ULONG n;
	CK_SESSION_HANDLE s = open_login(POLICY, NULL);
	while (!__atomic_load_n(&stop_signing, __ATOMIC_ACQUIRE)) {
		CK_OBJECT_HANDLE priv = find_label(s, CKO_PRIVATE_KEY, "busy", &n);
		CK_OBJECT_HANDLE pub = find_label(s, CKO_PUBLIC_KEY, "busy", NULL);
		if (n == 0)
			continue;              /* the member is logged out right now */
		rv = sign_verify(s, priv, pub);
		/* CKR_GENERAL_ERROR: SoftHSM2's own answer while a login of
		 * the same process rewrites its token file (slots/hsm_bind.c),
		 * passed through unchanged like every lower answer */
		ck_assert_msg(rv == CKR_OK || rv == CKR_KEY_HANDLE_INVALID || rv == CKR_USER_NOT_LOGGED_IN ||
			      rv == CKR_GENERAL_ERROR, "sign through the policy token: 0x%lx", (unsigned long)rv);
		ok += rv == CKR_OK;
	}
	p11->C_CloseSession(s);
	return (void *)ok;
}

START_TEST(threads_while_member_logs_out)
{
	CK_RV rv;
	CK_OBJECT_HANDLE pub, priv;
	pthread_t t[SIGNERS];
	long total = 0;
	CK_SESSION_HANDLE s = fallback_login();
	CKR(gen_ec(s, "busy", CK_TRUE, &pub, &priv));
	for (int i = 0; i < SIGNERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, NULL), 0);
	for (int round = 0; round < 10; round++) {
		CK_SESSION_HANDLE h = open_login(HSM, NULL);
		rv = p11->C_Logout(h);
		ck_assert(rv == CKR_OK || rv == CKR_USER_NOT_LOGGED_IN);
		CKR(p11->C_CloseSession(h));
		usleep(20000);
		rv = p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN));
		ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
		usleep(20000);
	}
	__atomic_store_n(&stop_signing, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < SIGNERS; i++) {
		void *r;
		ck_assert_int_eq(pthread_join(t[i], &r), 0);
		total += (long)r;
	}
	ck_assert_int_gt(total, 0);
	CKR(sign_verify(s, find_label(s, CKO_PRIVATE_KEY, "busy", NULL), find_label(s, CKO_PUBLIC_KEY, "busy", NULL)));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy");
	TCase *t = tcase_create("policy over hostile, SoftHSM2 and soft");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, policy_setup, teardown);
	tcase_add_test(t, production_fails_closed);
	tcase_add_test(t, retry_window_then_fail_closed);
	tcase_add_test(t, fallback_places_on_next_and_routes);
	tcase_add_test(t, rsa_skips_member_without_mechanism_and_decrypts);
	tcase_add_test(t, precedence_and_min_security);
	tcase_add_test(t, production_without_hardware_is_absent);
	tcase_add_test(t, member_logout_and_login_again);
	tcase_add_test(t, member_login_of_the_application_stays);
	tcase_add_test(t, pin_file_must_be_private);
	tcase_add_test(t, development_key_refused_in_production);
	tcase_add_test(t, session_keys_go_with_the_session);
	tcase_add_test(t, threads_while_member_logs_out);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return hsm_available() && getenv("HWAGG_HOSTILE") != NULL ? p11_run(suite()) : 77;
}
