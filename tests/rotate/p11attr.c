/*
 * p11attr: what the rotation tests ask of a token that pkcs11-tool cannot.
 *
 *   p11attr MODULE TOKEN PIN show LABEL
 *       one line per object whose CKA_LABEL starts with LABEL, after a
 *       C_Finalize and a second C_Initialize in this process (so that what
 *       it shows was read back, not remembered):
 *       "<pub|priv> label=L version=V start=S end=E sign=0|1|-"
 *   p11attr MODULE TOKEN PIN set-sign LABEL
 *       CKA_SIGN true on the private key labelled LABEL; prints the CKR_* code
 *   p11attr MODULE TOKEN PIN set-keytype LABEL
 *       CKA_KEY_TYPE CKK_RSA on the private key labelled LABEL; prints the code
 */
#include "common/hwagg.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *p11;

static const char *rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "CKR_OK";
	case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
	case CKR_ACTION_PROHIBITED: return "CKR_ACTION_PROHIBITED";
	case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
	default: return "other";
	}
}

static CK_SESSION_HANDLE open_token(const char *name, const char *pin)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	if (p11->C_GetSlotList(CK_TRUE, ids, &n) != CKR_OK)
		return s;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char l[33];
		if (p11->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			continue;
		memcpy(l, ti.label, 32);
		l[32] = '\0';
		for (int j = 31; j >= 0 && l[j] == ' '; j--)
			l[j] = '\0';
		if (strcmp(l, name) != 0)
			continue;
		if (p11->C_OpenSession(ids[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
		    p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, (CK_ULONG)strlen(pin)) != CKR_OK)
			return CK_INVALID_HANDLE;
		return s;
	}
	return s;
}

static void text(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t, char *out, size_t len)
{
	CK_ATTRIBUTE a = { t, out, (CK_ULONG)len - 1 };
	if (p11->C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		a.ulValueLen = 0;
	out[a.ulValueLen] = '\0';
}

static int show(CK_SESSION_HANDLE s, const char *label)
{
	CK_OBJECT_HANDLE hs[64];
	CK_ULONG n = 0;
	if (p11->C_FindObjectsInit(s, NULL, 0) != CKR_OK || p11->C_FindObjects(s, hs, 64, &n) != CKR_OK ||
	    p11->C_FindObjectsFinal(s) != CKR_OK)
		return 1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_OBJECT_CLASS cls = 0;
		CK_ULONG version = 0;
		CK_BBOOL sign = 2;
		char l[256], start[16], end[16];
		CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_HWAGG_KEY_VERSION, &version, sizeof(version) } };
		CK_ATTRIBUTE sa = { CKA_SIGN, &sign, sizeof(sign) };
		p11->C_GetAttributeValue(s, hs[i], a, 2);
		text(s, hs[i], CKA_LABEL, l, sizeof(l));
		if ((cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY) || strncmp(l, label, strlen(label)) != 0)
			continue;
		text(s, hs[i], CKA_START_DATE, start, sizeof(start));
		text(s, hs[i], CKA_END_DATE, end, sizeof(end));
		if (cls == CKO_PRIVATE_KEY)
			p11->C_GetAttributeValue(s, hs[i], &sa, 1);
		printf("%s label=%s version=%lu start=%s end=%s sign=%s\n", cls == CKO_PUBLIC_KEY ? "pub" : "priv", l,
		       (unsigned long)version, start, end, sign == 2 ? "-" : sign ? "1" : "0");
	}
	return 0;
}

static CK_RV set_on_private(CK_SESSION_HANDLE s, const char *label, CK_ATTRIBUTE *set)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, (CK_ULONG)strlen(label) } };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0;
	if (p11->C_FindObjectsInit(s, t, 2) != CKR_OK || p11->C_FindObjects(s, &h, 1, &n) != CKR_OK ||
	    p11->C_FindObjectsFinal(s) != CKR_OK || n != 1)
		return CKR_GENERAL_ERROR;
	return p11->C_SetAttributeValue(s, h, set, 1);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: p11attr MODULE TOKEN PIN show|set-sign|set-keytype LABEL\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = lib != NULL ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK || p11->C_Initialize(NULL) != CKR_OK) {
		fprintf(stderr, "p11attr: cannot load %s\n", argv[1]);
		return 2;
	}
	int rc = 0;
	CK_SESSION_HANDLE s;
	if (strcmp(argv[4], "show") == 0) {
		/* a second start in this process: nothing of the first one stays */
		p11->C_Finalize(NULL);
		if (p11->C_Initialize(NULL) != CKR_OK || (s = open_token(argv[2], argv[3])) == CK_INVALID_HANDLE)
			rc = 2;
		else
			rc = show(s, argv[5]);
	} else if ((s = open_token(argv[2], argv[3])) == CK_INVALID_HANDLE) {
		rc = 2;
	} else if (strcmp(argv[4], "set-sign") == 0) {
		CK_BBOOL yes = CK_TRUE;
		CK_ATTRIBUTE a = { CKA_SIGN, &yes, sizeof(yes) };
		printf("%s\n", rv_name(set_on_private(s, argv[5], &a)));
	} else if (strcmp(argv[4], "set-keytype") == 0) {
		CK_KEY_TYPE kt = CKK_RSA;
		CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
		printf("%s\n", rv_name(set_on_private(s, argv[5], &a)));
	} else {
		rc = 2;
	}
	p11->C_Finalize(NULL);
	return rc;
}
