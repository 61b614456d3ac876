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
 *   fork PIN ID           a child is a new application (UG "Applications and
 *                         processes"): it initializes the module again, logs
 *                         in with PIN, signs with the private key CKA_ID = ID
 *                         and verifies the signature with the public key;
 *                         answers CKR_OK, or "STEP: CKR_..." for the step
 *                         that failed, "threads: N -> M" if the child's
 *                         thread count grew, or "failed" if it died
 *   threads               "N M": this process's thread count before
 *                         C_Initialize and now (/proc/self/task)
 *   parallel ID T N       T threads (each in a session of its own) sign N
 *                         times each at once with the private key CKA_ID =
 *                         ID; the first failure, else CKR_OK (needs login)
 * The slot is found by its description ("hwagg <type> slot SLOT_NAME"), so
 * it is found while its token is absent too.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE session;
static CK_OBJECT_HANDLE last_key;
static int threads_at_start;

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
		{ CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
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

static const unsigned char digest[32] = { 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
					   0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
					   0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42 };

/* CKM_ECDSA over digest in session s; the signature in sig/len when given. */
static CK_RV sign_in(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *sig, CK_ULONG *len)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char buf[256];
	CK_ULONG n = sizeof(buf);
	CK_RV rv = p11->C_SignInit(s, &m, key);
	if (rv == CKR_OK)
		rv = p11->C_Sign(s, (unsigned char *)digest, sizeof(digest), sig ? sig : buf, len ? len : &n);
	return rv;
}

static CK_RV sign_with(CK_OBJECT_HANDLE key, unsigned char *sig, CK_ULONG *len)
{
	return sign_in(session, key, sig, len);
}

/* The first object of class cls with CKA_ID = hex, in session s. */
static CK_RV find_in(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *hex, CK_OBJECT_HANDLE *h)
{
	unsigned char id[64];
	size_t idlen = sizeof(id);
	CK_ULONG n = 0;
	if (hex_id(hex, id, &idlen) != 0)
		return CKR_ARGUMENTS_BAD;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, id, idlen } };
	CK_RV rv = p11->C_FindObjectsInit(s, t, 2);
	if (rv != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(s, h, 1, &n);
	p11->C_FindObjectsFinal(s);
	if (rv == CKR_OK && n == 0)
		rv = CKR_KEY_HANDLE_INVALID;
	return rv;
}

static CK_RV find(CK_OBJECT_CLASS cls, const char *hex, CK_OBJECT_HANDLE *h)
{
	return find_in(session, cls, hex, h);
}

/* "parallel": one thread's share, in a session of its own. */
typedef struct par {
	pthread_t t;
	const char *hex;
	int n;
	CK_RV rv;
} par;

static void *par_run(void *arg)
{
	par *p = arg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	p->rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (p->rv != CKR_OK)
		return NULL;
	p->rv = find_in(s, CKO_PRIVATE_KEY, p->hex, &k);
	for (int i = 0; p->rv == CKR_OK && i < p->n; i++)
		p->rv = sign_in(s, k, NULL, NULL);
	p11->C_CloseSession(s);
	return NULL;
}

/* threads threads sign n times each with the key CKA_ID = hex at once;
 * the first failure, else CKR_OK. */
static CK_RV parallel(const char *hex, int threads, int n)
{
	par p[16];
	CK_RV rv = CKR_OK;
	int started = 0;
	if (threads < 1 || threads > 16 || n < 1)
		return CKR_ARGUMENTS_BAD;
	for (int i = 0; i < threads; i++) {
		p[i] = (par){ .hex = hex, .n = n, .rv = CKR_OK };
		if (pthread_create(&p[i].t, NULL, par_run, &p[i]) != 0) {
			rv = CKR_GENERAL_ERROR;
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(p[i].t, NULL);
		if (rv == CKR_OK)
			rv = p[i].rv;
	}
	return rv;
}

static CK_RV sign(const char *hex)
{
	CK_RV rv = find(CKO_PRIVATE_KEY, hex, &last_key);
	return rv == CKR_OK ? sign_with(last_key, NULL, NULL) : rv;
}

static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
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

/* The child of "fork": everything a new application does, on the token
 * the parent uses; the answer into out. */
#define STEP(name, call) do { step = (name); if ((rv = (call)) != CKR_OK) goto out; } while (0)
static void child(const char *pin, const char *hex, char *out, size_t len)
{
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	CK_OBJECT_HANDLE priv, pub;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char sig[256];
	CK_ULONG siglen = sizeof(sig);
	int before = thread_count(), after;
	const char *step;
	CK_RV rv;
	/* the parent's session and login are not the child's: start over */
	STEP("C_Initialize", p11->C_Initialize(&ia));
	STEP("C_OpenSession", p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session));
	STEP("C_Login", p11->C_Login(session, CKU_USER, (unsigned char *)pin, strlen(pin)));
	STEP("find the private key", find(CKO_PRIVATE_KEY, hex, &priv));
	STEP("C_Sign", sign_with(priv, sig, &siglen));
	STEP("find the public key", find(CKO_PUBLIC_KEY, hex, &pub));
	STEP("C_VerifyInit", p11->C_VerifyInit(session, &m, pub));
	STEP("C_Verify", p11->C_Verify(session, (unsigned char *)digest, sizeof(digest), sig, siglen));
out:
	after = thread_count();
	if (rv != CKR_OK)
		snprintf(out, len, "%s: %s", step, rv_name(rv));
	else if (after != before)
		snprintf(out, len, "threads: %d -> %d", before, after);
	else
		snprintf(out, len, "CKR_OK");
	p11->C_Finalize(NULL);
}

/* UG "Applications and processes": the child calls C_Initialize itself. */
static void forked(const char *pin, const char *hex)
{
	int fd[2], st = 0;
	char answer[128] = "";
	ssize_t n;
	fflush(stdout);
	if (pipe(fd) != 0) {
		printf("failed\n");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		child(pin, hex, answer, sizeof(answer));
		n = write(fd[1], answer, strlen(answer));
		_exit(n == (ssize_t)strlen(answer) ? 0 : 1);
	}
	close(fd[1]);
	n = pid > 0 ? read(fd[0], answer, sizeof(answer) - 1) : -1;
	close(fd[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || n <= 0)
		printf("failed\n");
	else
		printf("%.*s\n", (int)n, answer);
}

int main(int argc, char **argv)
{
	char line[256];
	CK_C_INITIALIZE_ARGS ia = { .flags = CKF_OS_LOCKING_OK };
	if (argc != 3) {
		fprintf(stderr, "usage: krclient MODULE SLOT_NAME\n");
		return 2;
	}
	threads_at_start = thread_count();
	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK || p11->C_Initialize(&ia) != CKR_OK || find_slot(argv[2]) != 0) {
		fprintf(stderr, "krclient: cannot load %s or find slot %s\n", argv[1], argv[2]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32] = "", arg[200] = "", arg2[200] = "";
		if (sscanf(line, "%31s %199s %199s", cmd, arg, arg2) < 1)
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
			printf("%s\n", rv_name(sign_with(last_key, NULL, NULL)));
		} else if (strcmp(cmd, "count") == 0) {
			count();
		} else if (strcmp(cmd, "present") == 0) {
			present();
		} else if (strcmp(cmd, "fork") == 0) {
			forked(arg, arg2);
		} else if (strcmp(cmd, "parallel") == 0) {
			int t = 0, n = 0;
			sscanf(line, "%*s %*s %d %d", &t, &n);
			printf("%s\n", rv_name(parallel(arg, t, n)));
		} else if (strcmp(cmd, "threads") == 0) {
			printf("%d %d\n", threads_at_start, thread_count());
		} else {
			printf("unknown command %s\n", cmd);
		}
	}
	if (session != 0)
		p11->C_CloseSession(session);
	p11->C_Finalize(NULL);
	return 0;
}
