/*
 * krclient: one long-running PKCS#11 application for the keyring tests, so
 * a test can change the world (lock the collection, kill or restart the
 * daemon, edit an item) between calls made by the same process.
 *
 *   krclient MODULE SLOT_NAME
 *
 * Reads one command per line on stdin and answers one line on stdout: a
 * CKR_* name, or a number for count/present.
 *   open                  close the session (if any) and open a R/W one
 *   login PIN | logout
 *   keygen ID             EC P-256 token key pair, CKA_ID = ID (hex)
 *   sign ID               find the private key with CKA_ID = ID, sign a digest
 *   sign-again            sign again with the key the last "sign" found
 *   count                 objects the session can see
 *   present               1 if the slot shows a token, else 0
 *   fork                  a child initializes the module again (a new
 *                         application) and reports the token: "present",
 *                         "absent", or "failed"
 * The slot is found by its description ("hwagg <type> slot SLOT_NAME"), so
 * it is found while its token is absent too.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE session;
static CK_OBJECT_HANDLE last_key;

static const char *rv_name(CK_RV rv)
{
	static const struct { CK_RV rv; const char *name; } names[] = {
		{ CKR_OK, "CKR_OK" }, { CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
		{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" }, { CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
		{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" }, { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" }, { CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
		{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" }, { CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
		{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
		{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
		{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
		{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
		{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
	};
	static char buf[32];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(buf, sizeof(buf), "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

static int find_slot(const char *name)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64;
	char want[80];
	snprintf(want, sizeof(want), " slot %s", name);
	if (p11->C_GetSlotList(CK_FALSE, ids, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_SLOT_INFO si;
		char d[65];
		if (p11->C_GetSlotInfo(ids[i], &si) != CKR_OK)
			continue;
		memcpy(d, si.slotDescription, 64);
		d[64] = '\0';
		for (int j = 63; j >= 0 && d[j] == ' '; j--)
			d[j] = '\0';
		size_t dl = strlen(d), wl = strlen(want);
		if (dl >= wl && strcmp(d + dl - wl, want) == 0) {
			slot = ids[i];
			return 0;
		}
	}
	return -1;
}

static int hex_id(const char *hex, unsigned char *out, size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n / 2 > *len)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

static CK_RV keygen(const char *hex)
{
	static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	unsigned char id[64];
	size_t idlen = sizeof(id);
	CK_BBOOL t = CK_TRUE;
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	if (hex_id(hex, id, &idlen) != 0)
		return CKR_ARGUMENTS_BAD;
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_TOKEN, &t, 1 },
			      { CKA_ID, id, idlen }, { CKA_VERIFY, &t, 1 } };
	CK_ATTRIBUTE vt[] = { { CKA_TOKEN, &t, 1 }, { CKA_SIGN, &t, 1 }, { CKA_PRIVATE, &t, 1 },
			      { CKA_ID, id, idlen } };
	return p11->C_GenerateKeyPair(session, &m, pt, 4, vt, 4, &pub, &priv);
}

static CK_RV sign_with(CK_OBJECT_HANDLE key)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char dg[32], sig[256];
	CK_ULONG len = sizeof(sig);
	memset(dg, 0x42, sizeof(dg));
	CK_RV rv = p11->C_SignInit(session, &m, key);
	return rv == CKR_OK ? p11->C_Sign(session, dg, sizeof(dg), sig, &len) : rv;
}

static CK_RV sign(const char *hex)
{
	unsigned char id[64];
	size_t idlen = sizeof(id);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ULONG n = 0;
	if (hex_id(hex, id, &idlen) != 0)
		return CKR_ARGUMENTS_BAD;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, idlen } };
	CK_RV rv = p11->C_FindObjectsInit(session, t, 2);
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(session, &last_key, 1, &n);
	p11->C_FindObjectsFinal(session);
	if (rv != CKR_OK)
		return rv;
	if (n == 0)
		return CKR_KEY_HANDLE_INVALID;
	return sign_with(last_key);
}

static void count(void)
{
	CK_OBJECT_HANDLE h[256];
	CK_ULONG n = 0, total = 0;
	CK_RV rv = p11->C_FindObjectsInit(session, NULL, 0);
	while (rv == CKR_OK && (rv = p11->C_FindObjects(session, h, 256, &n)) == CKR_OK && n > 0)
		total += n;
	p11->C_FindObjectsFinal(session);
	if (rv == CKR_OK)
		printf("%lu\n", (unsigned long)total);
	else
		printf("%s\n", rv_name(rv));
}

static void present(void)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64;
	int found = 0;
	if (p11->C_GetSlotList(CK_TRUE, ids, &n) == CKR_OK)
		for (CK_ULONG i = 0; i < n; i++)
			found |= ids[i] == slot;
	printf("%d\n", found);
}

/* UG "Applications and processes": the child calls C_Initialize itself. */
static void forked(void)
{
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	int st = 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		CK_SLOT_ID ids[64];
		CK_ULONG n = 64;
		int found = 0;
		if (p11->C_Initialize(&ia) != CKR_OK || p11->C_GetSlotList(CK_TRUE, ids, &n) != CKR_OK)
			_exit(3);
		for (CK_ULONG i = 0; i < n; i++)
			found |= ids[i] == slot;
		p11->C_Finalize(NULL);
		_exit(found ? 1 : 2);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 3)
		printf("failed\n");
	else
		printf("%s\n", WEXITSTATUS(st) == 1 ? "present" : "absent");
}

int main(int argc, char **argv)
{
	char line[256];
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	if (argc != 3) {
		fprintf(stderr, "usage: krclient MODULE SLOT_NAME\n");
		return 2;
	}
	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK || p11->C_Initialize(&ia) != CKR_OK || find_slot(argv[2]) != 0) {
		fprintf(stderr, "krclient: cannot load %s or find slot %s\n", argv[1], argv[2]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32] = "", arg[200] = "";
		if (sscanf(line, "%31s %199s", cmd, arg) < 1)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "open") == 0) {
			if (session != 0)
				p11->C_CloseSession(session);
			session = 0;
			printf("%s\n", rv_name(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
								 NULL, &session)));
		} else if (strcmp(cmd, "login") == 0) {
			printf("%s\n", rv_name(p11->C_Login(session, CKU_USER, (unsigned char *)arg, strlen(arg))));
		} else if (strcmp(cmd, "logout") == 0) {
			printf("%s\n", rv_name(p11->C_Logout(session)));
		} else if (strcmp(cmd, "keygen") == 0) {
			printf("%s\n", rv_name(keygen(arg)));
		} else if (strcmp(cmd, "sign") == 0) {
			printf("%s\n", rv_name(sign(arg)));
		} else if (strcmp(cmd, "sign-again") == 0) {
			printf("%s\n", rv_name(sign_with(last_key)));
		} else if (strcmp(cmd, "count") == 0) {
			count();
		} else if (strcmp(cmd, "present") == 0) {
			present();
		} else if (strcmp(cmd, "fork") == 0) {
			forked();
		} else {
			printf("unknown command %s\n", cmd);
		}
	}
	if (session != 0)
		p11->C_CloseSession(session);
	p11->C_Finalize(NULL);
	return 0;
}
