#include "fuzz/engine.h"
#include "fuzz/util.h"
#include "mechanisms/crypto.h"
#include "module/fns.h"
#include "objects/rules.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_SO_PIN "fuzz-so-pin"

static char fz_store[512];
static CK_SESSION_HANDLE fz_keep;     /* open for the process: holds the login */

#define FZ_OK(call) do { \
	CK_RV rv_ = (call); \
	if (rv_ != CKR_OK) { \
		fprintf(stderr, "fuzz: %s = 0x%lx\n", #call, (unsigned long)rv_); \
		fz_fail(__FILE__, __LINE__, "engine setup"); \
	} \
} while (0)

static void fz_engine_stop(void)
{
	hw_C_Finalize(NULL);
}

static void write_config(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		fz_fail(__FILE__, __LINE__, "cannot write the configuration");
	const char *log = fz_log_file();
	fprintf(f, "{ \"environment\": \"development\", \"store\": \"%s\",\n"
		"  \"log\": { \"level\": \"debug\"%s%s%s },\n"
		"  \"slots\": [ { \"name\": \"" FZ_SLOT_NAME "\", \"type\": \"soft\" } ] }\n", fz_store,
		log ? ", \"file\": \"" : "", log ? log : "", log ? "\"" : "");
	if (fclose(f) != 0)
		fz_fail(__FILE__, __LINE__, "cannot write the configuration");
}

const char *fz_engine_start(void)
{
	char conf[600];
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	if (fz_store[0] != '\0')
		return fz_store;
	const char *dir = fz_tmpdir();
	snprintf(fz_store, sizeof(fz_store), "%s/store", dir);
	snprintf(conf, sizeof(conf), "%s/hwagg.json", dir);
	write_config(conf);
	setenv("HWAGG_CONF", conf, 1);
	unsetenv("HWAGG_LOG");
	unsetenv("HWAGG_ENVIRONMENT");
	FZ_OK(hw_C_Initialize(NULL));
	atexit(fz_engine_stop);
	/* OpenSSL keeps its per-thread private DRBG where LeakSanitizer does not
	 * look (thread-specific data of the main thread): made during the first
	 * key generation of an input, it would be reported as that input's
	 * leak. Made here, before any input, it is not. */
	unsigned char warm[1];
	if (RAND_priv_bytes_ex(hw_crypto_ctx(), warm, sizeof(warm), 0) != 1)
		fz_fail(__FILE__, __LINE__, "OpenSSL's private DRBG");

	memset(label, ' ', sizeof(label));
	memcpy(label, FZ_SLOT_NAME, strlen(FZ_SLOT_NAME));
	FZ_OK(hw_C_InitToken(0, (CK_UTF8CHAR *)FZ_SO_PIN, strlen(FZ_SO_PIN), label));
	h = fz_engine_session();
	FZ_OK(hw_C_Login(h, CKU_SO, (CK_UTF8CHAR *)FZ_SO_PIN, strlen(FZ_SO_PIN)));
	FZ_OK(hw_C_InitPIN(h, (CK_UTF8CHAR *)FZ_USER_PIN, strlen(FZ_USER_PIN)));
	FZ_OK(hw_C_Logout(h));
	FZ_OK(hw_C_Login(h, CKU_USER, (CK_UTF8CHAR *)FZ_USER_PIN, strlen(FZ_USER_PIN)));
	fz_keep = h;
	return fz_store;
}

CK_SESSION_HANDLE fz_engine_session(void)
{
	CK_SESSION_HANDLE h = 0;
	FZ_OK(hw_C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h));
	return h;
}

CK_ULONG fz_engine_objects(void)
{
	CK_OBJECT_HANDLE found[64];
	CK_ULONG n = 0;
	FZ_OK(hw_C_FindObjectsInit(fz_keep, NULL, 0));
	FZ_OK(hw_C_FindObjects(fz_keep, found, HW_ARRAY_LEN(found), &n));
	FZ_OK(hw_C_FindObjectsFinal(fz_keep));
	return n;
}

void fz_engine_get_all(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
	size_t n = 0;
	const hw_attr_rule *rules = hw_rules_table(&n);
	CK_ATTRIBUTE *t = calloc(n + 1, sizeof(*t));
	CK_ULONG *size = calloc(n + 1, sizeof(*size));
	if (t == NULL || size == NULL)
		fz_fail(__FILE__, __LINE__, "out of memory");
	for (size_t i = 0; i < n; i++)
		t[i].type = rules[i].type;
	t[n].type = CKA_VENDOR_DEFINED | 0x7fff;
	(void)hw_C_GetAttributeValue(h, obj, t, (CK_ULONG)n + 1);
	/* a buffer of exactly the size reported receives exactly that much */
	for (size_t i = 0; i <= n; i++) {
		size[i] = t[i].ulValueLen;
		if (size[i] != CK_UNAVAILABLE_INFORMATION)
			t[i].pValue = fz_alloc(size[i]);
	}
	(void)hw_C_GetAttributeValue(h, obj, t, (CK_ULONG)n + 1);
	for (size_t i = 0; i <= n; i++) {
		FZ_ASSERT(t[i].pValue == NULL || t[i].ulValueLen == size[i]);
		free(t[i].pValue);
	}
	free(size);
	free(t);
}
