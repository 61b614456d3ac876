/*
 * Secret keys through the hsm slot over SoftHSM2: the same known-answer,
 * length-rule, generation and sticky-attribute cases as the soft slot
 * (secret_cases.h), each operation passed to the lower token's own
 * single- and multi-part calls.
 *
 * Slots: 0 "hwtest" (hsm over SoftHSM2 token "hwtest"), 1 "soft".
 */
#include "p11.h"
#include "hsm_fixture.h"

#define SK_SLOT 0
/* the lower token's verdict, passed on: SoftHSM2 answers a failed GCM tag
 * with CKR_GENERAL_ERROR rather than CKR_ENCRYPTED_DATA_INVALID */
#define SK_TAG_FAILS(rv) ((rv) == CKR_ENCRYPTED_DATA_INVALID || (rv) == CKR_GENERAL_ERROR)

static CK_SESSION_HANDLE sk_session(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(SK_SLOT, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	rv = p11->C_Login(s, CKU_USER, (unsigned char *)"123456", 6);
	ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	return s;
}

#include "secret_cases.h"

/* What the lower token holds is what hwagg made there. */
START_TEST(keys_live_in_softhsm)
{
	CK_RV rv;
	CK_OBJECT_HANDLE k;
	CKR(gen_secret(sk_session(), CKM_AES_KEY_GEN, CKK_AES, 32, CK_TRUE, "in-softhsm", &k));
	ck_assert(softhsm_shows("--login --pin 123456 -O", "in-softhsm"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hsm_secret");
	TCase *t = tcase_create("secret keys over SoftHSM2");
	tcase_set_timeout(t, 60);
	tcase_add_checked_fixture(t, setup, teardown);
	add_secret_cases(t);
	tcase_add_test(t, keys_live_in_softhsm);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return hsm_available() ? p11_run(suite()) : 77;
}
