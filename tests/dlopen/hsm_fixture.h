/* The hsm slot over a fresh SoftHSM2 token, for the suites that drive it
 * through the built module (after p11.h): slot 0 "hwtest" (hsm over
 * SoftHSM2 token "hwtest"), slot 1 "soft". */
#ifndef HW_TEST_HSM_FIXTURE_H
#define HW_TEST_HSM_FIXTURE_H

#include <stdbool.h>

static const char *softhsm;

static void run(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void setup(void)
{
	char path[512];
	snprintf(p11_dir, sizeof(p11_dir), "/tmp/hwagg-hsm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p11_dir));
	snprintf(path, sizeof(path), "%s/softhsm2.conf", p11_dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", p11_dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	run("softhsm2-util --init-token --free --label hwtest --so-pin 12345678 --pin 123456 >/dev/null");
	snprintf(path, sizeof(path), "%s/hwagg.json", p11_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"development\", \"store\": \"%s/store\", \"slots\": ["
		   "{\"name\": \"hwtest\", \"type\": \"hsm\", \"module\": \"%s\", \"token\": \"hwtest\","
		   " \"security\": \"software\"}, {\"name\": \"soft\", \"type\": \"soft\"}]}\n",
		p11_dir, softhsm);
	fclose(f);
	setenv("HWAGG_CONF", path, 1);
	p11_load();
	ck_assert_int_eq(p11->C_Initialize(NULL), CKR_OK);
}

static void teardown(void)
{
	p11->C_Finalize(NULL);
	p11_world_remove();
}

static CK_OBJECT_HANDLE find_label(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_ULONG *count)
{
	CK_RV rv;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h[4] = { 0 };
	CK_ULONG n;
	CKR(p11->C_FindObjectsInit(s, t, 2));
	CKR(p11->C_FindObjects(s, h, 4, &n));
	CKR(p11->C_FindObjectsFinal(s));
	if (count != NULL)
		*count = n;
	return h[0];
}

/* Whether SoftHSM2 itself (queried by pkcs11-tool in another process) shows text. */
static bool softhsm_shows(const char *args, const char *text)
{
	char cmd[1024], buf[8192];
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label hwtest %s 2>&1", softhsm, args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return strstr(buf, text) != NULL;
}

/* SoftHSM2 and pkcs11-tool are there (else the suite is skipped: 77). */
static int hsm_available(void)
{
	softhsm = getenv("HW_SOFTHSM_MODULE") ? getenv("HW_SOFTHSM_MODULE") : "/usr/lib/softhsm/libsofthsm2.so";
	if (access(softhsm, R_OK) != 0 || system("command -v softhsm2-util pkcs11-tool >/dev/null") != 0) {
		fprintf(stderr, "SoftHSM2 (%s, softhsm2-util) or pkcs11-tool is not installed\n", softhsm);
		return 0;
	}
	return 1;
}

#endif
