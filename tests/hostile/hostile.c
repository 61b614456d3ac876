/*
 * A hostile PKCS#11 module for the hsm slot's tests. It has one token
 * ("hostile", serial H0001) holding one EC key pair that "signs" with
 * CKM_ECDSA by a fixed rule (signature byte i = data[i % len] ^ 0x5a), so a
 * test can tell that a signature came through unchanged. The test switches
 * misbehaviours on and off with hostile_set() (the test dlopens this file
 * too and gets the same copy p11-kit loaded):
 *
 *   init_fail     C_Initialize returns CKR_DEVICE_ERROR
 *   no_slots      C_GetSlotList reports no slot at all
 *   shuffle       the slot ID changes at every C_GetSlotList; the old one
 *                 is then CKR_SLOT_ID_INVALID
 *   removed       the token is gone: no slot with a token, and every call on
 *                 a session says CKR_DEVICE_REMOVED; the sessions stay dead
 *                 when the token is back
 *   garbage_attr  C_GetAttributeValue reports absurd value lengths
 *   garbage_sign  C_Sign claims a signature longer than the buffer
 *   garbage_slots C_GetSlotList reports an absurd slot count
 *   garbage_find  C_FindObjects returns more handles than asked for
 *   cant_lock     C_Initialize refuses locking (CKR_CANT_LOCK) unless given
 *                 no arguments; calls running at the same time are counted
 *   (always)      CKM_EC_KEY_PAIR_GEN is listed, and C_GenerateKeyPair
 *                 fails with CKR_DEVICE_ERROR: a faulty device for the
 *                 policy slot's placement tests
 *   block_find, block_sign, block_login, block_init
 *                 the next C_FindObjects (C_Sign, C_Login, C_Initialize)
 *                 holds its caller until the mode is switched off again: a
 *                 slow device, for the tests of what hwagg does while a
 *                 thread waits on one
 *
 * hostile_stat() reports counters: "initialize", "finalize", "sessions"
 * (open now), "overlaps" (concurrent calls seen in cant_lock mode),
 * "blocked" (callers held by a block_* mode now); hostile_wait_blocked()
 * waits for a caller to be held.
 */
#include "hostile.h"

#include <p11-kit/pkcs11.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_SESSIONS 256
#define PUB 101
#define PRIV 102

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char mode[256];
static bool initialized, logged_in;
static CK_SLOT_ID slot_id = 1;
static int n_init, n_final, inside, overlaps;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int blocked;             /* callers held at a gate now */
static unsigned gates_used;     /* gates that caught their one caller since hostile_set */

static struct session {
	bool open, dead, finding, signing;
	CK_ULONG found;
} sessions[MAX_SESSIONS];

static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE point[] = {
	0x04, 0x41,
	0x04, 0x0d, 0x0c, 0x69, 0x26, 0x3f, 0xbb, 0x20, 0x95, 0x9e, 0xf4, 0xfd, 0x36, 0x7d, 0x81, 0x83,
	0x95, 0xb2, 0x92, 0x4e, 0x66, 0x15, 0x7f, 0xc6, 0x58, 0xd4, 0xaf, 0x1a, 0xae, 0xad, 0x8f, 0xea,
	0x28, 0x9d, 0x36, 0x07, 0x1a, 0xc2, 0x8a, 0x83, 0x06, 0x33, 0x81, 0x72, 0x68, 0x4c, 0x5d, 0x87,
	0x95, 0x2b, 0xc3, 0x50, 0x96, 0x0f, 0xd9, 0x5a, 0x74, 0x53, 0xaf, 0x32, 0x04, 0x78, 0xfe, 0x4c,
	0x91,
};

static bool on(const char *what)
{
	size_t n = strlen(what);
	for (const char *p = strstr(mode, what); p != NULL; p = strstr(p + 1, what))
		if ((p == mode || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

EXPORT void hostile_set(const char *m)
{
	pthread_mutex_lock(&lock);
	strncpy(mode, m, sizeof(mode) - 1);
	gates_used = 0;
	pthread_cond_broadcast(&gate_cv);    /* held callers look at the new mode */
	pthread_mutex_unlock(&lock);
}

EXPORT int hostile_wait_blocked(int n, int seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&lock);
	int rc = 0;
	while (blocked < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&gate_cv, &lock, &until);
	int got = blocked;
	pthread_mutex_unlock(&lock);
	return got;
}

/* The block_* modes: the first caller after the mode was set waits here
 * until the mode is switched off. It waits outside the module lock, as a
 * thread-safe module waits for its device, so that calls on other sessions
 * go on meanwhile. Later callers pass: one held caller is what a test can
 * reason about. */
static void gate(const char *what, unsigned bit)
{
	pthread_mutex_lock(&lock);
	if (on(what) && !(gates_used & bit)) {
		gates_used |= bit;
		blocked++;
		pthread_cond_broadcast(&gate_cv);
		while (on(what))
			pthread_cond_wait(&gate_cv, &lock);
		blocked--;
		pthread_cond_broadcast(&gate_cv);
	}
	pthread_mutex_unlock(&lock);
}

EXPORT int hostile_stat(const char *what)
{
	int n = 0;
	pthread_mutex_lock(&lock);
	if (strcmp(what, "initialize") == 0)
		n = n_init;
	else if (strcmp(what, "finalize") == 0)
		n = n_final;
	else if (strcmp(what, "overlaps") == 0)
		n = overlaps;
	else if (strcmp(what, "blocked") == 0)
		n = blocked;
	else if (strcmp(what, "sessions") == 0)
		for (int i = 0; i < MAX_SESSIONS; i++)
			n += sessions[i].open;
	pthread_mutex_unlock(&lock);
	return n;
}

/* Every entry point: the module lock, except in cant_lock mode, where the
 * module promised nothing and counts calls that overlap instead. */
static bool serial_mode;

static void enter(void)
{
	if (!serial_mode) {
		pthread_mutex_lock(&lock);
		return;
	}
	if (__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) > 1)
		__atomic_add_fetch(&overlaps, 1, __ATOMIC_SEQ_CST);
	usleep(50);            /* widen the window */
}

static CK_RV leave(CK_RV rv)
{
	if (!serial_mode)
		pthread_mutex_unlock(&lock);
	else
		__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
	return rv;
}

static void pad(CK_UTF8CHAR *dst, size_t len, const char *s)
{
	memset(dst, ' ', len);
	memcpy(dst, s, strlen(s));
}

static CK_RV get_session(CK_SESSION_HANDLE h, struct session **out)
{
	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (h == 0 || h >= MAX_SESSIONS || !sessions[h].open)
		return CKR_SESSION_HANDLE_INVALID;
	if (sessions[h].dead)
		return on("removed") ? CKR_DEVICE_REMOVED : CKR_SESSION_HANDLE_INVALID;
	if (on("removed")) {
		/* the token went: every session with it is gone for good */
		for (int i = 0; i < MAX_SESSIONS; i++)
			sessions[i].dead = sessions[i].open;
		logged_in = false;
		return CKR_DEVICE_REMOVED;
	}
	*out = &sessions[h];
	return CKR_OK;
}

static CK_RV check_slot(CK_SLOT_ID id)
{
	if (!initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (id != slot_id || on("no_slots"))
		return CKR_SLOT_ID_INVALID;
	return on("removed") ? CKR_TOKEN_NOT_PRESENT : CKR_OK;
}

static CK_RV h_Initialize(void *args)
{
	const CK_C_INITIALIZE_ARGS *a = args;
	gate("block_init", 8);
	pthread_mutex_lock(&lock);
	CK_RV rv = CKR_OK;
	if (initialized)
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
	else if (on("init_fail"))
		rv = CKR_DEVICE_ERROR;
	else if (on("cant_lock") && a != NULL && ((a->flags & CKF_OS_LOCKING_OK) || a->CreateMutex != NULL))
		rv = CKR_CANT_LOCK;
	if (rv == CKR_OK) {
		initialized = true;
		serial_mode = on("cant_lock");
		n_init++;
	}
	pthread_mutex_unlock(&lock);
	return rv;
}

static CK_RV h_Finalize(void *reserved)
{
	pthread_mutex_lock(&lock);
	CK_RV rv = initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
	if (rv == CKR_OK) {
		initialized = logged_in = serial_mode = false;
		memset(sessions, 0, sizeof(sessions));
		n_final++;
	}
	pthread_mutex_unlock(&lock);
	return rv;
}

static CK_RV h_GetInfo(CK_INFO *info)
{
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = 2;
	info->cryptokiVersion.minor = 40;
	pad(info->manufacturerID, sizeof(info->manufacturerID), "hostile");
	pad(info->libraryDescription, sizeof(info->libraryDescription), "hostile test module");
	return CKR_OK;
}

static CK_RV h_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
	enter();
	CK_RV rv = CKR_OK;
	CK_ULONG n = on("no_slots") || (present && on("removed")) ? 0 : 1;
	if (!initialized) {
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	} else if (on("garbage_slots")) {
		*count = 1UL << 40;
	} else {
		if (on("shuffle") && list == NULL)
			slot_id++;
		if (list != NULL && *count < n)
			rv = CKR_BUFFER_TOO_SMALL;
		else if (list != NULL && n > 0)
			list[0] = slot_id;
		*count = n;
	}
	return leave(rv);
}

static CK_RV h_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO *info)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK || rv == CKR_TOKEN_NOT_PRESENT) {
		memset(info, 0, sizeof(*info));
		pad(info->slotDescription, sizeof(info->slotDescription), "hostile slot");
		pad(info->manufacturerID, sizeof(info->manufacturerID), "hostile");
		info->flags = CKF_REMOVABLE_DEVICE | (rv == CKR_OK ? CKF_TOKEN_PRESENT : 0);
		rv = CKR_OK;
	}
	return leave(rv);
}

static CK_RV h_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO *info)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK) {
		memset(info, 0, sizeof(*info));
		pad(info->label, sizeof(info->label), "hostile");
		pad(info->manufacturerID, sizeof(info->manufacturerID), "hostile");
		pad(info->model, sizeof(info->model), "hostile");
		pad(info->serialNumber, sizeof(info->serialNumber), "H0001");
		info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RNG;
		info->ulMinPinLen = 4;
		info->ulMaxPinLen = 8;
	}
	return leave(rv);
}

static CK_RV h_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK) {
		if (list != NULL && *count < 2)
			rv = CKR_BUFFER_TOO_SMALL;
		else if (list != NULL) {
			list[0] = CKM_ECDSA;
			list[1] = CKM_EC_KEY_PAIR_GEN;
		}
		*count = 2;
	}
	return leave(rv);
}

static CK_RV h_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK && type != CKM_ECDSA && type != CKM_EC_KEY_PAIR_GEN)
		rv = CKR_MECHANISM_INVALID;
	if (rv == CKR_OK) {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 256;
		info->flags = (type == CKM_ECDSA ? CKF_SIGN | CKF_VERIFY : CKF_GENERATE_KEY_PAIR) |
			      CKF_HW | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	}
	return leave(rv);
}

static CK_RV h_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, void *app, CK_NOTIFY notify, CK_SESSION_HANDLE *out)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK) {
		rv = CKR_SESSION_COUNT;
		for (CK_SESSION_HANDLE h = 1; h < MAX_SESSIONS; h++) {
			if (sessions[h].open)
				continue;
			memset(&sessions[h], 0, sizeof(sessions[h]));
			sessions[h].open = true;
			*out = h;
			rv = CKR_OK;
			break;
		}
	}
	return leave(rv);
}

static CK_RV h_CloseSession(CK_SESSION_HANDLE h)
{
	enter();
	CK_RV rv = initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
	if (rv == CKR_OK && (h == 0 || h >= MAX_SESSIONS || !sessions[h].open))
		rv = CKR_SESSION_HANDLE_INVALID;
	if (rv == CKR_OK)
		sessions[h].open = false;
	return leave(rv);
}

static CK_RV h_CloseAllSessions(CK_SLOT_ID id)
{
	enter();
	CK_RV rv = check_slot(id);
	if (rv == CKR_OK)
		for (int i = 0; i < MAX_SESSIONS; i++)
			sessions[i].open = false;
	return leave(rv);
}

static CK_RV h_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK) {
		info->slotID = slot_id;
		info->state = logged_in ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
		info->flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
		info->ulDeviceError = 0;
	}
	return leave(rv);
}

static CK_RV h_Login(CK_SESSION_HANDLE h, CK_USER_TYPE who, CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct session *s = NULL;
	gate("block_login", 4);
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && logged_in)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (rv == CKR_OK && (who != CKU_USER || len != 4 || memcmp(pin, "1234", 4) != 0))
		rv = CKR_PIN_INCORRECT;
	if (rv == CKR_OK)
		logged_in = true;
	return leave(rv);
}

static CK_RV h_Logout(CK_SESSION_HANDLE h)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && !logged_in)
		rv = CKR_USER_NOT_LOGGED_IN;
	if (rv == CKR_OK)
		logged_in = false;
	return leave(rv);
}

/* The value of one attribute of one of the two objects; NULL if it has none. */
static const void *value_of(CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_ULONG *len, void *tmp)
{
	CK_ULONG *ul = tmp;
	CK_BBOOL *b = tmp;
	switch (t) {
	case CKA_CLASS: *ul = o == PUB ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY; *len = sizeof(*ul); return ul;
	case CKA_KEY_TYPE: *ul = CKK_EC; *len = sizeof(*ul); return ul;
	case CKA_TOKEN: *b = CK_TRUE; *len = 1; return b;
	case CKA_PRIVATE: *b = o == PRIV; *len = 1; return b;
	case CKA_LABEL: *len = 7; return "hostile";
	case CKA_ID: *len = 2; return "\x01\x02";
	case CKA_EC_PARAMS: *len = sizeof(p256); return p256;
	case CKA_EC_POINT: if (o != PUB) return NULL; *len = sizeof(point); return point;
	case CKA_VERIFY: if (o != PUB) return NULL; *b = CK_TRUE; *len = 1; return b;
	case CKA_SIGN: case CKA_SENSITIVE: if (o != PRIV) return NULL; *b = CK_TRUE; *len = 1; return b;
	case CKA_EXTRACTABLE: if (o != PRIV) return NULL; *b = CK_FALSE; *len = 1; return b;
	default: return NULL;
	}
}

static bool visible(CK_OBJECT_HANDLE o)
{
	return o == PUB || (o == PRIV && logged_in);
}

static CK_RV h_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t, CK_ULONG n)
{
	struct session *s = NULL;
	CK_ULONG tmp;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && !visible(o))
		rv = CKR_OBJECT_HANDLE_INVALID;
	for (CK_ULONG i = 0; i < n && (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
				       rv == CKR_BUFFER_TOO_SMALL); i++) {
		CK_ULONG len = 0;
		const void *v = value_of(o, t[i].type, &len, &tmp);
		if (on("garbage_attr") && v != NULL) {
			t[i].ulValueLen = (1UL << 40) + i;
		} else if (v == NULL) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (t[i].pValue == NULL) {
			t[i].ulValueLen = len;
		} else if (t[i].ulValueLen < len) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(t[i].pValue, v, len);
			t[i].ulValueLen = len;
		}
	}
	return leave(rv);
}

static CK_RV h_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && s->finding)
		rv = CKR_OPERATION_ACTIVE;
	if (rv == CKR_OK) {
		s->finding = true;
		s->found = 0;
	}
	return leave(rv);
}

static CK_RV h_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	struct session *s = NULL;
	gate("block_find", 1);
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK) {
		CK_ULONG k = 0;
		for (CK_OBJECT_HANDLE o = PUB + s->found; o <= PRIV && k < max; o++, s->found++)
			if (visible(o))
				out[k++] = o;
		*count = on("garbage_find") ? max + 1000 : k;
	}
	return leave(rv);
}

static CK_RV h_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK)
		s->finding = false;
	return leave(rv);
}

static CK_RV h_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && s->signing)
		rv = CKR_OPERATION_ACTIVE;
	else if (rv == CKR_OK && (m == NULL || m->mechanism != CKM_ECDSA))
		rv = CKR_MECHANISM_INVALID;
	else if (rv == CKR_OK && (key != PRIV || !logged_in))
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv == CKR_OK)
		s->signing = true;
	return leave(rv);
}

static CK_RV h_Sign(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	struct session *s = NULL;
	gate("block_sign", 2);
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK && !s->signing)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK && sig != NULL && *sig_len < 64)
		rv = CKR_BUFFER_TOO_SMALL;
	if (rv == CKR_OK && sig != NULL) {
		for (int i = 0; i < 64; i++)
			sig[i] = (CK_BYTE)((len ? data[i % len] : 0) ^ 0x5a);
		s->signing = false;
	}
	if (rv == CKR_OK)
		*sig_len = on("garbage_sign") ? 1UL << 20 : 64;
	else if (rv != CKR_BUFFER_TOO_SMALL && s != NULL)
		s->signing = false;
	return leave(rv);
}

static CK_RV h_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM *m, CK_ATTRIBUTE *pt, CK_ULONG pn,
				CK_ATTRIBUTE *vt, CK_ULONG vn, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	return leave(rv == CKR_OK ? CKR_DEVICE_ERROR : rv);   /* a faulty device */
}

static CK_RV h_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE *out, CK_ULONG len)
{
	struct session *s = NULL;
	enter();
	CK_RV rv = get_session(h, &s);
	if (rv == CKR_OK)
		memset(out, 0xab, len);
	return leave(rv);
}

/* What the hostile module does not do at all. */
#define STUB(name, args) static CK_RV h_##name args { return CKR_FUNCTION_NOT_SUPPORTED; }
STUB(InitToken, (CK_SLOT_ID a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d))
STUB(InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c))
STUB(SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d, CK_ULONG e))
STUB(GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
STUB(SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e))
STUB(CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE *b, CK_ULONG c, CK_OBJECT_HANDLE *d))
STUB(CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d, CK_OBJECT_HANDLE *e))
STUB(DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
STUB(GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG *c))
STUB(SetAttributeValue, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d))
STUB(EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
STUB(Encrypt, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
STUB(DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
STUB(Decrypt, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
STUB(DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b))
STUB(Digest, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
STUB(DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
STUB(DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
STUB(SignUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
STUB(SignFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
STUB(SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
STUB(SignRecover, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
STUB(Verify, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG e))
STUB(VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
STUB(VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
STUB(VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
STUB(VerifyRecover, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DigestEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DecryptDigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(SignEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(DecryptVerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
STUB(GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_ATTRIBUTE *c, CK_ULONG d, CK_OBJECT_HANDLE *e))
STUB(WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_OBJECT_HANDLE d, CK_BYTE *e, CK_ULONG *f))
STUB(UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_BYTE *d, CK_ULONG e, CK_ATTRIBUTE *f, CK_ULONG g, CK_OBJECT_HANDLE *h))
STUB(DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE *d, CK_ULONG e, CK_OBJECT_HANDLE *f))
STUB(SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
STUB(GetFunctionStatus, (CK_SESSION_HANDLE a))
STUB(CancelFunction, (CK_SESSION_HANDLE a))
STUB(WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID *b, void *c))
#undef STUB

static CK_FUNCTION_LIST functions = {
	{ 2, 40 },
	h_Initialize, h_Finalize, h_GetInfo, NULL /* set below */, h_GetSlotList, h_GetSlotInfo,
	h_GetTokenInfo, h_GetMechanismList, h_GetMechanismInfo, h_InitToken, h_InitPIN, h_SetPIN,
	h_OpenSession, h_CloseSession, h_CloseAllSessions, h_GetSessionInfo, h_GetOperationState,
	h_SetOperationState, h_Login, h_Logout, h_CreateObject, h_CopyObject, h_DestroyObject,
	h_GetObjectSize, h_GetAttributeValue, h_SetAttributeValue, h_FindObjectsInit, h_FindObjects,
	h_FindObjectsFinal, h_EncryptInit, h_Encrypt, h_EncryptUpdate, h_EncryptFinal, h_DecryptInit,
	h_Decrypt, h_DecryptUpdate, h_DecryptFinal, h_DigestInit, h_Digest, h_DigestUpdate, h_DigestKey,
	h_DigestFinal, h_SignInit, h_Sign, h_SignUpdate, h_SignFinal, h_SignRecoverInit, h_SignRecover,
	h_VerifyInit, h_Verify, h_VerifyUpdate, h_VerifyFinal, h_VerifyRecoverInit, h_VerifyRecover,
	h_DigestEncryptUpdate, h_DecryptDigestUpdate, h_SignEncryptUpdate, h_DecryptVerifyUpdate,
	h_GenerateKey, h_GenerateKeyPair, h_WrapKey, h_UnwrapKey, h_DeriveKey, h_SeedRandom,
	h_GenerateRandom, h_GetFunctionStatus, h_CancelFunction, h_WaitForSlotEvent,
};

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	functions.C_GetFunctionList = C_GetFunctionList;
	*list = &functions;
	return CKR_OK;
}
