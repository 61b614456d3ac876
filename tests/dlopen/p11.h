/* Helpers for the suites that load the built module like a consumer does. */
#ifndef HW_TEST_P11_H
#define HW_TEST_P11_H

#include "tests/unit/unit.h"
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

#define CKR(call) ck_assert_msg((rv = (call)) == CKR_OK, "%s = 0x%lx", #call, (unsigned long)rv)
#define CKR_EQ(call, want) \
	ck_assert_msg((rv = (call)) == (want), "%s = 0x%lx, want %s", #call, (unsigned long)rv, #want)

static CK_FUNCTION_LIST *p11;
static void *p11_dl;
static char p11_dir[256];

/* dlopen $HWAGG_MODULE and fetch its 2.40 function list */
static void p11_load(void)
{
	const char *mod = getenv("HWAGG_MODULE");
	ck_assert_msg(mod != NULL, "HWAGG_MODULE not set");
	p11_dl = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(p11_dl != NULL, "dlopen %s: %s", mod, dlerror());
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(p11_dl, "C_GetFunctionList");
	ck_assert_ptr_nonnull(gfl);
	ck_assert_int_eq(gfl(&p11), CKR_OK);
}

/* (Re)write p11_dir/hwagg.json: one soft slot "hwtest" with slot_keys
 * added to its object (", \"rsa_min_bits\": 3072"), more slots from
 * extra_slot_json, the log in p11_dir/hwagg.log when log is true. */
static void p11_write_conf(const char *slot_keys, const char *extra_slot_json, bool log)
{
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", ", p11_dir);
	if (log)
		fprintf(f, "\"log\": {\"file\": \"%s/hwagg.log\"}, ", p11_dir);
	fprintf(f, "\"slots\": [{\"name\": \"hwtest\", \"type\": \"soft\", \"pin_max_tries\": 3%s}%s]}\n",
		slot_keys ? slot_keys : "", extra_slot_json ? extra_slot_json : "");
	fclose(f);
	setenv("HWAGG_CONF", conf, 1);
}

/* A fresh store and a config with one soft slot "hwtest". */
static void p11_world(const char *extra_slot_json)
{
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-dlopen-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	p11_write_conf(NULL, extra_slot_json, false);
}

static void p11_world_remove(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p11_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p11_dir);
}

static const char SO_PIN[] = "12345678", USER_PIN[] = "123456";

/* Initialize token "hwtest" in slot 0 with SO and user PINs. */
static void p11_init_token(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	unsigned char label[32];
	memset(label, ' ', sizeof(label));
	memcpy(label, "hwtest", 6);
	CKR(p11->C_InitToken(0, (unsigned char *)SO_PIN, strlen(SO_PIN), label));
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_SO, (unsigned char *)SO_PIN, strlen(SO_PIN)));
	CKR(p11->C_InitPIN(s, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	CKR(p11->C_Logout(s));
	CKR(p11->C_CloseSession(s));
}

static CK_SESSION_HANDLE p11_user_session(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	rv = p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN));
	ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	return s;
}

static const unsigned char P256_OID[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

static void p11_gen_ec(CK_SESSION_HANDLE s, const char *label, CK_BBOOL token,
		       CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_RV rv;
	CK_BBOOL t = CK_TRUE;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		{ CKA_EC_PARAMS, (void *)P256_OID, sizeof(P256_OID) },
		{ CKA_TOKEN, &token, 1 }, { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VERIFY, &t, 1 },
	};
	CK_ATTRIBUTE vt[] = {
		{ CKA_TOKEN, &token, 1 }, { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_SIGN, &t, 1 },
	};
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 4, vt, 3, pub, priv));
}

static void p11_gen_rsa(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *pub,
			CK_OBJECT_HANDLE *priv)
{
	CK_RV rv;
	CK_BBOOL t = CK_TRUE;
	CK_ULONG bits = 2048;
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = {
		{ CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_TOKEN, &t, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ATTRIBUTE vt[] = {
		{ CKA_TOKEN, &t, 1 }, { CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_SIGN, &t, 1 }, { CKA_DECRYPT, &t, 1 },
	};
	CKR(p11->C_GenerateKeyPair(s, &m, pt, 3, vt, 4, pub, priv));
}

/* The usual fixture: a fresh world, the module loaded and initialized, the
 * token initialized with SO and user PINs. */
static void p11_setup(void)
{
	CK_RV rv;
	p11_world(NULL);
	p11_load();
	CKR(p11->C_Initialize(NULL));
	p11_init_token();
}

static void p11_teardown(void)
{
	p11->C_Finalize(NULL);
	p11_world_remove();
}

/* Run a suite; the exit status automake's test driver expects. */
static inline int p11_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
