/*
 * The PIN and sealing layer over the local store (objects/pin.c). Each test
 * runs in its own mkdtemp directory; one forks children that open their own
 * connections.
 */
#include "objects/pin.h"
#include "common/log.h"
#include "tests/unit/store_fixture.h"

#include <stdlib.h>
#include <string.h>

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
	TCase *pin;
	Suite *s = fixture_suite("pin", 120, &pin);
	tcase_add_test(pin, test_pin_login_flow);
	tcase_add_test(pin, test_pin_counters);
	tcase_add_test(pin, test_pin_fails_across_processes);
	tcase_add_test(pin, test_pin_set);
	tcase_add_test(pin, test_pin_reinit_token);
	tcase_add_test(pin, test_pin_length_policy);
	tcase_add_test(pin, test_wrap_format);
	tcase_add_test(pin, test_seal_unseal);
	return s;
}

HW_UNIT_MAIN
