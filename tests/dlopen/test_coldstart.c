/*
 * Cold start: backends with heavy libraries are modules loaded on first use
 * of their slot. A process that initializes hwagg and lists slots maps none
 * of libsecret, GLib, D-Bus, tss2 or libcurl; using a keyring slot maps its
 * module then; a missing module file makes that slot's token absent with a
 * log line naming the file, and the other slots still sign.
 *
 * HWAGG_BUILTIN_BACKENDS=yes (a build with --enable-builtin-backends) links
 * every backend in: the mapping checks do not apply there, the rest does.
 */
#include "config.h"
#include "p11.h"
#include "ossl.h"

#include <stdbool.h>

#ifndef WITH_KEYRING
#define WITH_KEYRING 0
#endif

static bool builtin(void)
{
	const char *b = getenv("HWAGG_BUILTIN_BACKENDS");
	return b != NULL && strcmp(b, "yes") == 0;
}

/* Whether a mapping of this process names a file containing needle. */
static bool mapped(const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static const char *const heavy[] = {
	"libsecret-1", "libglib-2.0", "libgio-2.0", "libgobject-2.0", "libdbus-1", "libtss2", "libcurl",
	"hwagg-keyring",
};

/* A config with a slot of every type this build has, a private log file,
 * and no reachable session bus (the keyring token is then simply absent). */
static void world_all(const char *backend_dir)
{
	char extra[512];
	snprintf(extra, sizeof(extra), ", {\"name\": \"hsm\", \"type\": \"hsm\", \"module\": "
		 "\"/usr/lib/softhsm/libsofthsm2.so\", \"token\": \"none\"}%s",
#if WITH_KEYRING
		 ", {\"name\": \"kr\", \"type\": \"keyring\"}"
#else
		 ""
#endif
	);
	p11_world(extra);
	/* the log goes to a file of the world's */
	char conf[300], text[1024], log[300];
	snprintf(conf, sizeof(conf), "%s/hwagg.json", p11_dir);
	snprintf(log, sizeof(log), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(conf, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"log\": {\"level\": \"info\", \"file\": \"%s\"}, %s", log, text + 1);
	fclose(f);
	setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/hwagg-test-bus", 1);
	if (backend_dir != NULL)
		setenv("HWAGG_BACKEND_DIR", backend_dir, 1);
}

static bool log_has(const char *needle)
{
	char path[300], line[2048];
	bool found = false;
	snprintf(path, sizeof(path), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

START_TEST(nothing_heavy_until_used)
{
	CK_RV rv;
	CK_ULONG n = 0;
	world_all(NULL);
	p11_load();
	CKR(p11->C_Initialize(NULL));
	CKR(p11->C_GetSlotList(CK_FALSE, NULL, &n));
	ck_assert_uint_eq(n, WITH_KEYRING ? 3 : 2);
	CKR(p11->C_Finalize(NULL));
	for (size_t i = 0; !builtin() && i < sizeof(heavy) / sizeof(heavy[0]); i++)
		ck_assert_msg(!mapped(heavy[i]), "%s is mapped after C_Initialize + C_GetSlotList(CK_FALSE)",
			      heavy[i]);
#if WITH_KEYRING
	/* using the keyring slot (its token info) loads its module */
	CK_TOKEN_INFO ti;
	CKR(p11->C_Initialize(NULL));
	rv = p11->C_GetTokenInfo(2, &ti);
	ck_assert_msg(rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_OK, "C_GetTokenInfo = 0x%lx", rv);
	ck_assert(mapped(builtin() ? "libhwagg-pkcs11" : "hwagg-keyring.so"));
	CKR(p11->C_Finalize(NULL));
#endif
	p11_world_remove();
}
END_TEST

START_TEST(missing_module_leaves_others_working)
{
	CK_RV rv;
	char empty[300];
	CK_SLOT_ID ids[8];
	CK_ULONG n = 8;
	snprintf(empty, sizeof(empty), "/tmp/hwagg-nobackends-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(empty));
	world_all(empty);
	p11_load();
	CKR(p11->C_Initialize(NULL));
	CKR(p11->C_GetSlotList(CK_TRUE, ids, &n));
	for (CK_ULONG i = 0; i < n; i++)
		ck_assert_msg(ids[i] != 2 || builtin(), "the keyring slot shows a token without its module");
	if (WITH_KEYRING && !builtin()) {
		char want[400];
		snprintf(want, sizeof(want), "cannot load backend module %s/hwagg-keyring.so", empty);
		ck_assert_msg(log_has(want), "no log line \"%s\"", want);
		ck_assert(log_has("slot \"kr\" (keyring)"));
	}
	/* the soft slot signs, and OpenSSL verifies */
	p11_init_token();
	CK_SESSION_HANDLE s = p11_user_session();
	CK_OBJECT_HANDLE pub, priv;
	p11_gen_ec(s, "cold", CK_FALSE, &pub, &priv);
	unsigned char dg[32], sig[64];
	CK_ULONG sl = sizeof(sig);
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	sha256("cold start", 10, dg);
	CKR(p11->C_SignInit(s, &m, priv));
	CKR(p11->C_Sign(s, dg, sizeof(dg), sig, &sl));
	EVP_PKEY *k = pubkey_of(s, pub);
	ck_assert_int_eq(ossl_verify_ecdsa(k, dg, sizeof(dg), sig, sl), 1);
	EVP_PKEY_free(k);
	CKR(p11->C_Finalize(NULL));
	rmdir(empty);
	p11_world_remove();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("coldstart");
	TCase *t = tcase_create("backend modules");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, nothing_heavy_until_used);
	tcase_add_test(t, missing_module_leaves_others_working);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
