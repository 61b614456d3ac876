/*
 * Fuzz target: what the store's database hands back. The database is a file
 * other processes write (and a disk can damage), so every row is outside
 * data: the token record (label, flags, failure counters, PIN wraps) and the
 * object rows (id, serialized attributes, sealed private key). The input
 * becomes rows, written with a connection of the harness's own (as another
 * process would, bypassing the store's checks), and is then read three ways:
 *  1. through the store and PIN API: hw_store_token_get, hw_pin_flags,
 *     hw_pin_login on the record, hw_store_obj_each with hw_attrs_deserialize
 *     and hw_unseal of each secret;
 *  2. through the engine: the soft slot notices the change and reloads; every
 *     object is found and read back, private keys are used to sign and
 *     public keys to verify (with a mechanism the input picks); then the
 *     rows change and the engine lists them again, merging them into the
 *     objects it holds. It may never show more objects than the store
 *     returned rows;
 *  3. optionally, each secret as PKCS#8 DER (the unsealed form).
 *
 * Input (little endian):
 *   flags u8: 1 log in to the record as user, 2 as SO, 4 parse secrets as DER
 *   mech  u8: index into the mechanism table, or 0xFF and a u32 type: the
 *         mechanism to sign and verify with
 *   the token record: label, initialized, user_pin_set, user_fails,
 *         so_fails, so_wrap, user_wrap (7 fields)
 *   up to 8 objects: id, attrs, secret (3 fields each)
 *   field := tag u8, then by tag % 5: 0 NULL | 1 integer (i64) | 2 text
 *            (u16 length, bytes) | 3 blob (u16 length, bytes) | 4 real (f64)
 * A NULL id lets SQLite choose it. A row the schema refuses is not written.
 *
 * The record's PIN wrap names its own scrypt cost; login is attempted only
 * at the cheapest cost a valid wrap can name (N = 2^10, r = p = 1, a few
 * milliseconds under ASan): a higher cost buys time, not new code paths.
 */
#include "fuzz/engine.h"
#include "fuzz/util.h"
#include "mechanisms/crypto.h"
#include "module/fns.h"
#include "objects/attrs.h"
#include "objects/pin.h"
#include "objects/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_REC_SLOT   "fuzz-rec"
#define FZ_OBJ_MAX    8
#define FZ_FOUND_MAX  32
#define FZ_SCRYPT_MAX ((uint64_t)128 << 10)   /* scrypt work: 128 * r * p * N */
#define FZ_SEAL_AAD   "fuzz"

enum { F_LOGIN_USER = 1, F_LOGIN_SO = 2, F_DER = 4 };

static sqlite3 *raw;
static sqlite3_stmt *st_token, *st_obj;
static hw_store *store;
static hw_secret *mk;          /* a fixed master key for hw_unseal */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void raw_exec(const char *sql)
{
	if (sqlite3_exec(raw, sql, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "fuzz: %s: %s\n", sql, sqlite3_errmsg(raw));
		fz_fail(__FILE__, __LINE__, "database setup");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[600];
	const char *dir = fz_engine_start();
	snprintf(path, sizeof(path), "%s/hwagg.db", dir);
	if (hw_store_open(dir, &store) != CKR_OK || sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fz_fail(__FILE__, __LINE__, "cannot open the store");
	sqlite3_busy_timeout(raw, 10000);
	raw_exec("PRAGMA synchronous=OFF");
	if (sqlite3_prepare_v2(raw, "INSERT INTO tokens(slot, label, initialized, user_pin_set, user_fails, "
			       "so_fails, so_wrap, user_wrap) VALUES ('" FZ_REC_SLOT "', ?, ?, ?, ?, ?, ?, ?)",
			       -1, &st_token, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(raw, "INSERT INTO objects(id, slot, attrs, secret, created) "
			       "VALUES (?, '" FZ_SLOT_NAME "', ?, ?, 0)", -1, &st_obj, NULL) != SQLITE_OK)
		fz_fail(__FILE__, __LINE__, "cannot prepare the row writers");
	mk = hw_secret_new(HW_MK_LEN);
	if (mk == NULL)
		fz_fail(__FILE__, __LINE__, "out of memory");
	memset(mk->data, 0x4b, HW_MK_LEN);
	return 0;
}

/* Bind the next field of the input to parameter i; false when none is left. */
static bool bind_field(fz_in *in, sqlite3_stmt *st, int i)
{
	uint8_t tag;
	uint16_t len;
	uint64_t v;
	const uint8_t *b;
	if (!fz_u8(in, &tag))
		return false;
	switch (tag % 5) {
	case 1:
		if (!fz_u64(in, &v))
			return false;
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
		return true;
	case 2:
	case 3:
		if (!fz_u16(in, &len) || !fz_bytes(in, len, &b))
			return false;
		if (tag % 5 == 2)
			sqlite3_bind_text(st, i, (const char *)b, len, SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(st, i, b, len, SQLITE_TRANSIENT);
		return true;
	case 4: {
		double d;
		if (!fz_u64(in, &v))
			return false;
		memcpy(&d, &v, sizeof(d));
		sqlite3_bind_double(st, i, d);
		return true;
	}
	default:
		sqlite3_bind_null(st, i);
		return true;
	}
}

/* One row from the next n fields; missing ones are NULL. false at the end
 * of the input. */
static bool write_row(fz_in *in, sqlite3_stmt *st, int n)
{
	bool any = false;
	for (int i = 1; i <= n; i++) {
		bool got = bind_field(in, st, i);
		if (!got)
			sqlite3_bind_null(st, i);
		any |= got;
	}
	if (any)
		(void)sqlite3_step(st);     /* refused rows (NOT NULL, id type) stay out */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return any;
}

static void write_rows(fz_in *in)
{
	raw_exec("BEGIN IMMEDIATE");
	raw_exec("DELETE FROM tokens WHERE slot = '" FZ_REC_SLOT "'");
	raw_exec("DELETE FROM objects WHERE slot = '" FZ_SLOT_NAME "'");
	if (write_row(in, st_token, 7))
		for (int i = 0; i < FZ_OBJ_MAX && write_row(in, st_obj, 3); i++)
			;
	/* a row that fails with SQLITE_FULL, _BUSY or _IOERR may have ended
	 * the transaction already (SQLite rolls back by itself then) */
	if (!sqlite3_get_autocommit(raw))
		raw_exec("COMMIT");
}

static bool wrap_cheap(const unsigned char *wrap, size_t len)
{
	return len >= 4 && wrap[1] < 40 && ((uint64_t)128 * wrap[2] * wrap[3] << wrap[1]) <= FZ_SCRYPT_MAX;
}

static void login_record(uint8_t flags)
{
	hw_token_rec rec;
	if (hw_store_token_get(store, FZ_REC_SLOT, &rec) != CKR_OK)
		return;
	FZ_ASSERT(memchr(rec.label, '\0', sizeof(rec.label)) != NULL);
	FZ_ASSERT(rec.so_wrap_len <= sizeof(rec.so_wrap) && rec.user_wrap_len <= sizeof(rec.user_wrap));
	(void)hw_pin_flags(&rec, NULL);
	for (int so = 0; so < 2; so++) {
		hw_secret *key = NULL;
		if (!(flags & (so ? F_LOGIN_SO : F_LOGIN_USER)) ||
		    !wrap_cheap(so ? rec.so_wrap : rec.user_wrap, so ? rec.so_wrap_len : rec.user_wrap_len))
			continue;
		if (hw_pin_login(store, FZ_REC_SLOT, NULL, so ? CKU_SO : CKU_USER,
				 (const CK_UTF8CHAR *)FZ_USER_PIN, strlen(FZ_USER_PIN), &key) == CKR_OK)
			FZ_ASSERT(key != NULL && key->len == HW_MK_LEN);
		hw_secret_free(key);
	}
}

typedef struct walk {
	uint8_t flags;
	size_t rows;
} walk;

static CK_RV check_object(void *arg, const hw_store_obj *o)
{
	walk *w = arg;
	uint8_t flags = w->flags;
	hw_attrs a;
	hw_secret *plain = NULL;
	EVP_PKEY *pk = NULL;
	/* exact-size copies: the column buffers are SQLite's, larger than the value */
	void *attrs = fz_dup(o->attrs, o->attrs_len);
	void *secret = o->secret != NULL ? fz_dup(o->secret, o->secret_len) : NULL;

	w->rows++;
	if (hw_attrs_deserialize(attrs, o->attrs_len, &a) == CKR_OK)
		hw_attrs_clear(&a);
	if (secret != NULL &&
	    hw_unseal(mk, FZ_SEAL_AAD, strlen(FZ_SEAL_AAD), secret, o->secret_len, &plain) == CKR_OK) {
		if (hw_key_from_der(plain->data, plain->len, &pk) == CKR_OK)
			EVP_PKEY_free(pk);
		pk = NULL;
		hw_secret_free(plain);
	}
	if (secret != NULL && (flags & F_DER) && hw_key_from_der(secret, o->secret_len, &pk) == CKR_OK)
		EVP_PKEY_free(pk);
	free(attrs);
	free(secret);
	return CKR_OK;
}

static CK_ULONG class_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	CK_ULONG cls = CK_UNAVAILABLE_INFORMATION;
	CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
	return hw_C_GetAttributeValue(h, o, &t, 1) == CKR_OK ? cls : CK_UNAVAILABLE_INFORMATION;
}

/* Sign or verify 32 bytes with the key: sizes first, as applications do. */
static void use_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_MECHANISM_TYPE type)
{
	static const unsigned char msg[32] = "hwagg fuzz: a 32-byte message.";
	CK_MECHANISM mech = { type, NULL, 0 };
	CK_ULONG cls = class_of(h, o), len = 0;
	if (cls == CKO_PRIVATE_KEY && hw_C_SignInit(h, &mech, o) == CKR_OK) {
		if (hw_C_Sign(h, (CK_BYTE *)msg, sizeof(msg), NULL, &len) == CKR_OK) {
			unsigned char *sig = fz_alloc(len);
			(void)hw_C_Sign(h, (CK_BYTE *)msg, sizeof(msg), sig, &len);
			free(sig);
		}
	} else if (cls == CKO_PUBLIC_KEY && hw_C_VerifyInit(h, &mech, o) == CKR_OK) {
		unsigned char sig[64] = { 0 };
		(void)hw_C_Verify(h, (CK_BYTE *)msg, sizeof(msg), sig, sizeof(sig));
	}
}

/* Every object the engine lists; at most FZ_FOUND_MAX. */
static CK_ULONG find_all(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *found)
{
	CK_ULONG n = 0;
	if (hw_C_FindObjectsInit(h, NULL, 0) != CKR_OK)
		return 0;
	if (hw_C_FindObjects(h, found, FZ_FOUND_MAX, &n) != CKR_OK)
		n = 0;
	FZ_ASSERT(hw_C_FindObjectsFinal(h) == CKR_OK);
	return n;
}

/* The engine lists the rows, the objects are used; then the rows change
 * (as another process's write would) and the engine lists them again, now
 * merging them into the objects it has. Each row is at most one object. */
static void through_engine(CK_MECHANISM_TYPE mech, size_t rows)
{
	CK_OBJECT_HANDLE found[FZ_FOUND_MAX];
	CK_SESSION_HANDLE h = fz_engine_session();
	CK_ULONG n = find_all(h, found);
	FZ_ASSERT(n <= rows);
	for (CK_ULONG i = 0; i < n; i++) {
		fz_engine_get_all(h, found[i]);
		use_key(h, found[i], mech);
	}
	raw_exec("UPDATE objects SET created = created + 1 WHERE slot = '" FZ_SLOT_NAME "'");
	n = find_all(h, found);
	FZ_ASSERT(n <= rows);
	for (CK_ULONG i = 0; i < n; i++)
		fz_engine_get_all(h, found[i]);
	FZ_ASSERT(hw_C_CloseSession(h) == CKR_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	CK_MECHANISM_TYPE mech;
	walk w = { 0, 0 };
	if (!fz_u8(&in, &w.flags) || !fz_read_mech(&in, &mech))
		return 0;
	write_rows(&in);
	login_record(w.flags);
	(void)hw_store_obj_each(store, FZ_SLOT_NAME, check_object, &w);
	through_engine(mech, w.rows);
	return 0;
}
