/*
 * Fuzz target: caller templates and mechanisms through the engine, as an
 * application hands them to the module: C_CreateObject, C_FindObjects,
 * C_SetAttributeValue, C_CopyObject, C_DeriveKey, C_DigestKey and
 * C_GenerateKeyPair on a soft slot (fuzz/engine.h), then everything read
 * back and destroyed. T0 imports keys too (secret and private keys).
 *
 * Input (little endian):
 *   mech    u8: index into the mechanism table; 0xFF: a u32 mechanism type follows
 *   param   a value (below): pParameter and ulParameterLen (CKM_ECDH1_DERIVE:
 *           see ecdh_mech)
 *   T0 T1 T2  three templates, each a list of attributes ended by 0xFD or the input
 *   attribute := type value
 *   type    u8: index into the attribute rules table; 0xFE u64 or 0xFF u32: any type
 *   value   u8 length and bytes; 0xFE: u16 length and bytes; 0xFF: u8 length,
 *           NULL pValue (a caller bug the module must refuse)
 * T0 creates an object and searches; T1 sets attributes on it, is the
 * template of a key derived from it and the public template of the key
 * pair; T2 copies it and is the private template.
 *
 * Each value is a malloc'd buffer of its exact length, so a read past it is
 * an ASan report. Two limits keep an execution short and the process's state
 * bounded, and are the only places the harness looks inside a template:
 *  - RSA key generation is not run (seconds under ASan): a call that names an
 *    RSA key-pair mechanism with a CKA_MODULUS_BITS inside the table's range
 *    is skipped; EC and Ed25519 keys are generated.
 *  - An object that may not be destroyed (CKA_DESTROYABLE other than true) is
 *    made a session object (CKA_TOKEN false appended), so closing the
 *    session removes it instead of it piling up in the store.
 * Every token object created must then be destroyable, and after the
 * input's session is closed the slot must show no object at all; either
 * failure is reported as a crash.
 */
#include "fuzz/engine.h"
#include "fuzz/util.h"
#include "mechanisms/mech.h"
#include "module/fns.h"
#include "objects/rules.h"

#include <stdlib.h>
#include <string.h>

#define TMPL_MAX 48
#define END_TMPL 0xFD
#define WIDE     0xFE
#define RAW      0xFF

typedef struct tmpl {
	CK_ATTRIBUTE a[TMPL_MAX + 1];   /* +1: room for the appended CKA_TOKEN */
	CK_ULONG n;
} tmpl;

static CK_BBOOL ck_false = CK_FALSE;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_engine_start();
	return 0;
}

static bool read_type(fz_in *in, CK_ATTRIBUTE_TYPE *type, bool *end)
{
	size_t count = 0;
	const hw_attr_rule *rules = hw_rules_table(&count);
	uint8_t b;
	uint32_t t32;
	uint64_t t64;
	*end = false;
	if (!fz_u8(in, &b))
		return false;
	if (b == END_TMPL) {
		*end = true;
		return true;
	}
	if (b == WIDE) {
		if (!fz_u64(in, &t64))
			return false;
		*type = (CK_ATTRIBUTE_TYPE)t64;
	} else if (b == RAW) {
		if (!fz_u32(in, &t32))
			return false;
		*type = t32;
	} else {
		*type = rules[b % count].type;
	}
	return true;
}

static bool read_value(fz_in *in, CK_ATTRIBUTE *at)
{
	uint8_t b, len8;
	uint16_t len16;
	const uint8_t *v;
	if (!fz_u8(in, &b))
		return false;
	if (b == RAW) {
		if (!fz_u8(in, &len8))
			return false;
		at->pValue = NULL;
		at->ulValueLen = len8;
		return true;
	}
	if (b == WIDE) {
		if (!fz_u16(in, &len16))
			return false;
	} else {
		len16 = b;
	}
	if (!fz_bytes(in, len16, &v))
		return false;
	at->pValue = fz_dup(v, len16);
	at->ulValueLen = len16;
	return true;
}

static void read_tmpl(fz_in *in, tmpl *t)
{
	bool end = false;
	t->n = 0;
	while (t->n < TMPL_MAX) {
		CK_ATTRIBUTE *at = &t->a[t->n];
		if (!read_type(in, &at->type, &end) || end || !read_value(in, at))
			return;
		t->n++;
	}
}

static void free_tmpl(tmpl *t)
{
	for (CK_ULONG i = 0; i < t->n; i++)
		if (t->a[i].pValue != &ck_false)
			free(t->a[i].pValue);
	t->n = 0;
}

static bool is_true(const CK_ATTRIBUTE *at)
{
	return at->pValue != NULL && at->ulValueLen == sizeof(CK_BBOOL) &&
	       *(const CK_BBOOL *)at->pValue != CK_FALSE;
}

/* Drop every CKA_TOKEN and append CKA_TOKEN = false. */
static void make_session(tmpl *t)
{
	CK_ULONG k = 0;
	for (CK_ULONG i = 0; i < t->n; i++) {
		if (t->a[i].type != CKA_TOKEN)
			t->a[k++] = t->a[i];
		else if (t->a[i].pValue != &ck_false)
			free(t->a[i].pValue);
	}
	t->a[k++] = (CK_ATTRIBUTE){ CKA_TOKEN, &ck_false, sizeof(ck_false) };
	t->n = k;
}

/* Keep an object that may not be destroyed out of the store. */
static void session_if_undestroyable(tmpl *t)
{
	bool stuck = false;
	for (CK_ULONG i = 0; i < t->n; i++)
		stuck |= t->a[i].type == CKA_DESTROYABLE && !is_true(&t->a[i]);
	if (stuck)
		make_session(t);
}

/* An RSA key pair that would really be generated (see the top). */
static bool rsa_keygen(const hw_mech *m, const tmpl *pub)
{
	if (m == NULL || m->key_type != CKK_RSA || !(m->flags & CKF_GENERATE_KEY_PAIR))
		return false;
	for (CK_ULONG i = 0; i < pub->n; i++) {
		CK_ULONG bits;
		if (pub->a[i].type != CKA_MODULUS_BITS || pub->a[i].pValue == NULL ||
		    pub->a[i].ulValueLen != sizeof(bits))
			continue;
		memcpy(&bits, pub->a[i].pValue, sizeof(bits));
		if (bits >= m->min_key && bits <= m->max_key)
			return true;
	}
	return false;
}

static bool bool_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, bool dflt)
{
	CK_BBOOL v = dflt ? CK_TRUE : CK_FALSE;
	CK_ATTRIBUTE t = { type, &v, sizeof(v) };
	return hw_C_GetAttributeValue(h, o, &t, 1) == CKR_OK ? v != CK_FALSE : dflt;
}

/* Read it all back, then destroy it: a token object must go. */
static void finish(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	if (o == CK_INVALID_HANDLE)
		return;
	fz_engine_get_all(h, o);
	bool token = bool_attr(h, o, CKA_TOKEN, false);
	CK_RV rv = hw_C_DestroyObject(h, o);
	FZ_ASSERT(rv == CKR_OK || (!token && rv == CKR_ACTION_PROHIBITED));
}

static void find(CK_SESSION_HANDLE h, tmpl *t)
{
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;
	if (hw_C_FindObjectsInit(h, t->a, t->n) != CKR_OK)
		return;
	while (hw_C_FindObjects(h, found, HW_ARRAY_LEN(found), &n) == CKR_OK && n == HW_ARRAY_LEN(found))
		;
	FZ_ASSERT(hw_C_FindObjectsFinal(h) == CKR_OK);
}

/* CK_ECDH1_DERIVE_PARAMS holds pointers, which input bytes must not
 * supply: for CKM_ECDH1_DERIVE the parameter bytes are read as the KDF
 * (u8), the shared data's length (u8), the shared data and the point (the
 * rest), and the structure points into them. */
static CK_MECHANISM ecdh_mech(const CK_MECHANISM *m, CK_ECDH1_DERIVE_PARAMS *p)
{
	const unsigned char *b = m->pParameter;
	CK_ULONG n = m->ulParameterLen;
	if (m->mechanism != CKM_ECDH1_DERIVE || b == NULL || n < 2 || b[1] > n - 2)
		return *m;
	*p = (CK_ECDH1_DERIVE_PARAMS){ b[0], b[1], b[1] > 0 ? (unsigned char *)b + 2 : NULL, n - 2 - b[1],
				       n - 2 - b[1] > 0 ? (unsigned char *)b + 2 + b[1] : NULL };
	return (CK_MECHANISM){ CKM_ECDH1_DERIVE, p, sizeof(*p) };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE, copy = CK_INVALID_HANDLE, derived = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_ATTRIBUTE param;
	tmpl t[3];

	if (!fz_read_mech(&in, &mech.mechanism) || !read_value(&in, &param))
		return 0;
	mech.pParameter = param.pValue;
	mech.ulParameterLen = param.ulValueLen;
	for (int i = 0; i < 3; i++) {
		read_tmpl(&in, &t[i]);
		session_if_undestroyable(&t[i]);
	}

	CK_SESSION_HANDLE h = fz_engine_session();
	if (hw_C_CreateObject(h, t[0].a, t[0].n, &obj) != CKR_OK)
		obj = CK_INVALID_HANDLE;
	find(h, &t[0]);
	if (obj != CK_INVALID_HANDLE) {
		(void)hw_C_SetAttributeValue(h, obj, t[1].a, t[1].n);
		/* a copy of an object that may not be destroyed may not be either */
		if (!bool_attr(h, obj, CKA_DESTROYABLE, true))
			make_session(&t[2]);
		if (hw_C_CopyObject(h, obj, t[2].a, t[2].n, &copy) != CKR_OK)
			copy = CK_INVALID_HANDLE;
	}
	/* the object as a base key (T1 the derived key's template), and its
	 * value into a digest */
	if (obj != CK_INVALID_HANDLE) {
		CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
		unsigned char md[64];
		CK_ULONG mdlen = sizeof(md);
		CK_ECDH1_DERIVE_PARAMS ep;
		CK_MECHANISM dm = ecdh_mech(&mech, &ep);
		if (hw_C_DeriveKey(h, &dm, obj, t[1].a, t[1].n, &derived) != CKR_OK)
			derived = CK_INVALID_HANDLE;
		FZ_ASSERT(hw_C_DigestInit(h, &sha) == CKR_OK);
		if (hw_C_DigestKey(h, obj) == CKR_OK)
			FZ_ASSERT(hw_C_DigestFinal(h, md, &mdlen) == CKR_OK && mdlen == 32);
		else
			FZ_ASSERT(hw_C_DigestFinal(h, md, &mdlen) == CKR_OPERATION_NOT_INITIALIZED);
	}
	if (!rsa_keygen(hw_mech_find(mech.mechanism), &t[1]) &&
	    hw_C_GenerateKeyPair(h, &mech, t[1].a, t[1].n, t[2].a, t[2].n, &pub, &priv) != CKR_OK)
		pub = priv = CK_INVALID_HANDLE;
	finish(h, obj);
	finish(h, copy);
	finish(h, derived);
	finish(h, pub);
	finish(h, priv);
	FZ_ASSERT(hw_C_CloseSession(h) == CKR_OK);
	/* destroyed, or gone with their session */
	FZ_ASSERT(fz_engine_objects() == 0);

	for (int i = 0; i < 3; i++)
		free_tmpl(&t[i]);
	free(mech.pParameter);
	return 0;
}
