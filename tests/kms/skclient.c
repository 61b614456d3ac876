/*
 * skclient: secret keys on a cloud slot, through the PKCS#11 ABI of the
 * dlopened module, for tests/kms/secret.sh (and the gcp and azure ones).
 * Every command logs in, works on the token key CKA_LABEL = LABEL and
 * prints what it got; the scripts judge it.
 *
 *   skclient MODULE TOKEN PIN keygen LABEL KEYTYPE LEN
 *       C_GenerateKey (CKM_GENERIC_SECRET_KEY_GEN; KEYTYPE generic, sha224,
 *       sha256, sha384 or sha512) of a token key with CKA_SIGN and
 *       CKA_VERIFY; prints the return code's name.
 *   skclient MODULE TOKEN PIN attrs LABEL
 *       "class C type T len L sign S verify V sensitive S extractable E
 *       never_extractable N value R uri U" (R: what asking CKA_VALUE
 *       answered).
 *   skclient MODULE TOKEN PIN sign LABEL MECH FILE [LEN]
 *       the MAC of FILE in one C_Sign, then "multi" and the MAC made of
 *       three C_SignUpdate parts (hex), or the code of the first failure.
 *       MECH: sha256-hmac, sha256-hmac-general (LEN bytes) ...
 *   skclient MODULE TOKEN PIN verify LABEL MECH FILE HEXMAC
 *       C_Verify, then "multi" and C_VerifyUpdate x3 + C_VerifyFinal: the
 *       two codes.
 *   skclient MODULE TOKEN PIN kekgen LABEL
 *       C_GenerateKey (CKM_AES_KEY_GEN, 32 bytes) of a token key with
 *       CKA_WRAP and CKA_UNWRAP: the service's key-encryption key.
 *   skclient MODULE TOKEN PIN seal LABEL IN DIR
 *       envelope encryption with the key-encryption key LABEL: a session
 *       AES-256 data key encrypts IN with CKM_AES_GCM (DIR/iv, DIR/ct), is
 *       wrapped with CKM_HWAGG_KMS_WRAP (DIR/wrapped) and destroyed; prints
 *       "value R" (asking the data key's CKA_VALUE), "unextractable R"
 *       (wrapping a data key made with CKA_EXTRACTABLE false), "wrapped N"
 *       and "after destroy R" (encrypting with the destroyed key's handle).
 *       With a last argument "pair" (seal and open), LABEL is a key pair:
 *       its public key wraps, its private key unwraps; seal prints
 *       "refused R" (a wrap while the private key may decrypt) and "no
 *       decrypt R" (CKA_DECRYPT set false on the private key) first.
 *   skclient MODULE TOKEN PIN open LABEL DIR OUT
 *       C_UnwrapKey of DIR/wrapped into a session key, which decrypts
 *       DIR/ct into OUT; prints "opened N", then "tampered R" (a changed
 *       wrapped byte) and "token R" (unwrapping into a token key).
 */
#include "common/hwagg.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *p11;
static CK_SESSION_HANDLE se;

static const char *rv_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
		{ CKR_OK, "CKR_OK" }, { CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
		{ CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID" }, { CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE" },
		{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
		{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
		{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
		{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
		{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" }, { CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
		{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
		{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" }, { CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
		{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
		{ CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID" },
		{ CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE" }, { CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
		{ CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE" },
		{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	};
	static char other[32];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(other, sizeof(other), "CKR_0x%lx", (unsigned long)rv);
	return other;
}

static int open_token(const char *module, const char *token, const char *pin)
{
	CK_RV (*gfl)(CK_FUNCTION_LIST **);
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64;
	void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL || (gfl = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(h, "C_GetFunctionList")) == NULL ||
	    gfl(&p11) != CKR_OK || p11->C_Initialize(NULL) != CKR_OK || p11->C_GetSlotList(CK_TRUE, ids, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		size_t l = strlen(token);
		if (p11->C_GetTokenInfo(ids[i], &ti) != CKR_OK || l > 32 || memcmp(ti.label, token, l) != 0 ||
		    (l < 32 && ti.label[l] != ' '))
			continue;
		if (p11->C_OpenSession(ids[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &se) != CKR_OK)
			return -1;
		return p11->C_Login(se, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)) == CKR_OK ? 0 : -1;
	}
	return -1;
}

/* the classes of the key-encryption key's objects that wrap and unwrap
 * (a key pair's public and private key with "pair") */
static CK_OBJECT_CLASS wrap_cls = CKO_SECRET_KEY, unwrap_cls = CKO_SECRET_KEY;

static CK_OBJECT_HANDLE find_obj(const char *label, CK_OBJECT_CLASS cls)
{
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG n = 0;
	if (p11->C_FindObjectsInit(se, t, 2) != CKR_OK)
		return CK_INVALID_HANDLE;
	p11->C_FindObjects(se, &o, 1, &n);
	p11->C_FindObjectsFinal(se);
	return n == 1 ? o : CK_INVALID_HANDLE;
}

static CK_OBJECT_HANDLE find_key(const char *label)
{
	return find_obj(label, CKO_SECRET_KEY);
}

static const struct {
	const char *name;
	CK_KEY_TYPE type;
} key_types[] = { { "generic", CKK_GENERIC_SECRET }, { "sha224", CKK_SHA224_HMAC }, { "sha256", CKK_SHA256_HMAC },
		  { "sha384", CKK_SHA384_HMAC }, { "sha512", CKK_SHA512_HMAC }, { "aes", CKK_AES } };

static int keygen(const char *label, const char *kt_name, const char *len_s)
{
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_ULONG len = strtoul(len_s, NULL, 10);
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE k;
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(key_types[i].name, kt_name) == 0)
			kt = key_types[i].type;
	CK_ATTRIBUTE t[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_VALUE_LEN, &len, sizeof(len) },
			     { CKA_TOKEN, &yes, 1 }, { CKA_SIGN, &yes, 1 }, { CKA_VERIFY, &yes, 1 },
			     { CKA_LABEL, (void *)label, strlen(label) } };
	CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	printf("%s\n", rv_name(p11->C_GenerateKey(se, &m, t, 6, &k)));
	return 0;
}

static int attrs(const char *label)
{
	CK_OBJECT_HANDLE k = find_key(label);
	CK_ULONG cls = 0, kt = 0, len = 0;
	CK_BBOOL b[5] = { 0 };
	char uri[512] = "";
	unsigned char v[64];
	if (k == CK_INVALID_HANDLE) {
		printf("no key\n");
		return 1;
	}
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
			     { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_SIGN, &b[0], 1 }, { CKA_VERIFY, &b[1], 1 },
			     { CKA_SENSITIVE, &b[2], 1 }, { CKA_EXTRACTABLE, &b[3], 1 },
			     { CKA_NEVER_EXTRACTABLE, &b[4], 1 }, { CKA_HWAGG_PROVIDER_URI, uri, sizeof(uri) - 1 } };
	CK_RV rv = p11->C_GetAttributeValue(se, k, t, 9);
	if (rv != CKR_OK) {
		printf("%s\n", rv_name(rv));
		return 1;
	}
	uri[t[8].ulValueLen < sizeof(uri) ? t[8].ulValueLen : 0] = '\0';
	CK_ATTRIBUTE va = { CKA_VALUE, v, sizeof(v) };
	printf("class %lu type %lu len %lu sign %d verify %d sensitive %d extractable %d never_extractable %d value %s "
	       "uri %s\n", cls, kt, len, b[0], b[1], b[2], b[3], b[4], rv_name(p11->C_GetAttributeValue(se, k, &va, 1)),
	       uri);
	return 0;
}

static const struct {
	const char *name;
	CK_MECHANISM_TYPE mech;
} mechs[] = { { "sha224-hmac", CKM_SHA224_HMAC }, { "sha256-hmac", CKM_SHA256_HMAC },
	      { "sha384-hmac", CKM_SHA384_HMAC }, { "sha512-hmac", CKM_SHA512_HMAC },
	      { "sha256-hmac-general", CKM_SHA256_HMAC_GENERAL }, { "sha384-hmac-general", CKM_SHA384_HMAC_GENERAL } };

static CK_RV mech_of(const char *name, const char *len_s, CK_MECHANISM *m, CK_ULONG *gp)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strcmp(mechs[i].name, name) == 0) {
			*m = (CK_MECHANISM){ mechs[i].mech, NULL, 0 };
			if (strstr(name, "general") != NULL) {
				*gp = len_s != NULL ? strtoul(len_s, NULL, 10) : 16;
				m->pParameter = gp;
				m->ulParameterLen = sizeof(*gp);
			}
			return CKR_OK;
		}
	return CKR_MECHANISM_INVALID;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *d = NULL;
	long n;
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (d = malloc((size_t)n + 1)) == NULL || fread(d, 1, (size_t)n, f) != (size_t)n) {
		if (f != NULL)
			fclose(f);
		free(d);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return d;
}

static void hex(const unsigned char *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", d[i]);
	printf("\n");
}

/* three parts: a third, the rest but one byte, the last byte */
static size_t cut(size_t len, int part)
{
	size_t a = len / 3, b = len > 0 ? len - 1 : 0;
	return part == 0 ? a : part == 1 ? b - a : len - b;
}

static int sign(const char *label, const char *mname, const char *file, const char *len_s)
{
	CK_MECHANISM m;
	CK_ULONG gp;   /* CK_MAC_GENERAL_PARAMS */
	CK_OBJECT_HANDLE k = find_key(label);
	unsigned char mac[64];
	CK_ULONG ml = sizeof(mac);
	size_t len, off = 0;
	unsigned char *d = slurp(file, &len);
	CK_RV rv = mech_of(mname, len_s, &m, &gp);
	if (d == NULL || k == CK_INVALID_HANDLE)
		return 1;
	if (rv == CKR_OK && (rv = p11->C_SignInit(se, &m, k)) == CKR_OK)
		rv = p11->C_Sign(se, d, len, mac, &ml);
	if (rv != CKR_OK)
		printf("%s\n", rv_name(rv));
	else
		hex(mac, ml);
	ml = sizeof(mac);
	rv = p11->C_SignInit(se, &m, k);
	for (int i = 0; rv == CKR_OK && i < 3; off += cut(len, i), i++)
		rv = p11->C_SignUpdate(se, d + off, cut(len, i));
	if (rv == CKR_OK)
		rv = p11->C_SignFinal(se, mac, &ml);
	printf("multi ");
	if (rv != CKR_OK)
		printf("%s\n", rv_name(rv));
	else
		hex(mac, ml);
	free(d);
	return 0;
}

static int verify(const char *label, const char *mname, const char *file, const char *mac_hex)
{
	CK_MECHANISM m;
	CK_ULONG gp;   /* CK_MAC_GENERAL_PARAMS */
	CK_OBJECT_HANDLE k = find_key(label);
	unsigned char mac[64];
	size_t len, ml = strlen(mac_hex) / 2, off = 0;
	unsigned char *d = slurp(file, &len);
	char lb[16];
	if (d == NULL || k == CK_INVALID_HANDLE || ml > sizeof(mac))
		return 1;
	for (size_t i = 0; i < ml; i++) {
		unsigned v;
		sscanf(mac_hex + 2 * i, "%2x", &v);
		mac[i] = (unsigned char)v;
	}
	snprintf(lb, sizeof(lb), "%zu", ml);
	CK_RV rv = mech_of(mname, lb, &m, &gp);
	if (rv == CKR_OK && (rv = p11->C_VerifyInit(se, &m, k)) == CKR_OK)
		rv = p11->C_Verify(se, d, len, mac, ml);
	printf("%s\n", rv_name(rv));
	rv = p11->C_VerifyInit(se, &m, k);
	for (int i = 0; rv == CKR_OK && i < 3; off += cut(len, i), i++)
		rv = p11->C_VerifyUpdate(se, d + off, cut(len, i));
	if (rv == CKR_OK)
		rv = p11->C_VerifyFinal(se, mac, ml);
	printf("multi %s\n", rv_name(rv));
	free(d);
	return 0;
}

static int spit(const char *dir, const char *name, const unsigned char *d, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", dir != NULL ? dir : "", dir != NULL ? "/" : "", name);
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(d, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static unsigned char *slurp_in(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return slurp(path, len);
}

static int kekgen(const char *label)
{
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE k;
	CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &yes, 1 }, { CKA_WRAP, &yes, 1 },
			     { CKA_UNWRAP, &yes, 1 }, { CKA_LABEL, (void *)label, strlen(label) } };
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	printf("%s\n", rv_name(p11->C_GenerateKey(se, &m, t, 5, &k)));
	return 0;
}

/* a session AES-256 data key */
static CK_RV data_key(CK_BBOOL extractable, CK_OBJECT_HANDLE *k)
{
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_ENCRYPT, &yes, 1 }, { CKA_DECRYPT, &yes, 1 },
			     { CKA_EXTRACTABLE, &extractable, 1 } };
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	return p11->C_GenerateKey(se, &m, t, 4, k);
}

static CK_RV gcm(CK_OBJECT_HANDLE k, bool decrypt, unsigned char *iv, const unsigned char *in, size_t len,
		 unsigned char *out, CK_ULONG *out_len)
{
	CK_GCM_PARAMS p = { iv, 12, 96, (CK_BYTE_PTR)"hwagg", 5, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &p, sizeof(p) };
	CK_RV rv = decrypt ? p11->C_DecryptInit(se, &m, k) : p11->C_EncryptInit(se, &m, k);
	if (rv == CKR_OK)
		rv = decrypt ? p11->C_Decrypt(se, (CK_BYTE_PTR)in, len, out, out_len)
			     : p11->C_Encrypt(se, (CK_BYTE_PTR)in, len, out, out_len);
	return rv;
}

static int seal(const char *label, const char *in_path, const char *dir)
{
	CK_OBJECT_HANDLE kek = find_obj(label, wrap_cls), dk, dk2;
	CK_MECHANISM wm = { CKM_HWAGG_KMS_WRAP, NULL, 0 };
	unsigned char iv[12], wrapped[8192], v[32];
	size_t len;
	unsigned char *in = slurp(in_path, &len), *ct = in != NULL ? malloc(len + 16) : NULL;
	CK_ULONG cl = len + 16, wl = 0;
	FILE *r = fopen("/dev/urandom", "rb");
	if (kek == CK_INVALID_HANDLE || ct == NULL || r == NULL || fread(iv, 1, sizeof(iv), r) != sizeof(iv))
		return 1;
	fclose(r);
	CK_RV rv = data_key(CK_TRUE, &dk);
	if (rv == CKR_OK)
		rv = gcm(dk, false, iv, in, len, ct, &cl);
	if (rv != CKR_OK) {
		printf("data key %s\n", rv_name(rv));
		return 1;
	}
	CK_ATTRIBUTE va = { CKA_VALUE, v, sizeof(v) };
	printf("value %s\n", rv_name(p11->C_GetAttributeValue(se, dk, &va, 1)));
	if (data_key(CK_FALSE, &dk2) == CKR_OK) {
		wl = sizeof(wrapped);
		printf("unextractable %s\n", rv_name(p11->C_WrapKey(se, &wm, kek, dk2, wrapped, &wl)));
	}
	/* a key pair whose private key may decrypt does not wrap a sensitive
	 * key (the engine's wrap rule): that use is taken away first */
	if (wrap_cls == CKO_PUBLIC_KEY) {
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE nd = { CKA_DECRYPT, &no, 1 };
		wl = sizeof(wrapped);
		printf("refused %s\n", rv_name(p11->C_WrapKey(se, &wm, kek, dk, wrapped, &wl)));
		printf("no decrypt %s\n", rv_name(p11->C_SetAttributeValue(se, find_obj(label, CKO_PRIVATE_KEY), &nd, 1)));
	}
	/* the length first (B 5.2), then the blob */
	if ((rv = p11->C_WrapKey(se, &wm, kek, dk, NULL, &wl)) != CKR_OK || wl > sizeof(wrapped) ||
	    (rv = p11->C_WrapKey(se, &wm, kek, dk, wrapped, &wl)) != CKR_OK) {
		printf("wrap %s\n", rv_name(rv));
		return 1;
	}
	printf("wrapped %lu\n", (unsigned long)wl);
	if (spit(dir, "iv", iv, sizeof(iv)) != 0 || spit(dir, "ct", ct, cl) != 0 || spit(dir, "wrapped", wrapped, wl) != 0)
		return 1;
	p11->C_DestroyObject(se, dk);
	cl = len + 16;
	printf("after destroy %s\n", rv_name(gcm(dk, false, iv, in, len, ct, &cl)));
	free(in);
	free(ct);
	return 0;
}

static int open_env(const char *label, const char *dir, const char *out_path)
{
	CK_OBJECT_HANDLE kek = find_obj(label, unwrap_cls), dk;
	CK_MECHANISM wm = { CKM_HWAGG_KMS_WRAP, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
			     { CKA_DECRYPT, &yes, 1 }, { CKA_TOKEN, &yes, 1 } };
	size_t il, cl, wl;
	unsigned char *iv = slurp_in(dir, "iv", &il), *ct = slurp_in(dir, "ct", &cl), *w = slurp_in(dir, "wrapped", &wl);
	unsigned char *pt = ct != NULL ? malloc(cl) : NULL;
	CK_ULONG pl = cl;
	if (kek == CK_INVALID_HANDLE || iv == NULL || il != 12 || pt == NULL || w == NULL)
		return 1;
	CK_RV rv = p11->C_UnwrapKey(se, &wm, kek, w, wl, t, 3, &dk);
	if (rv == CKR_OK)
		rv = gcm(dk, true, iv, ct, cl, pt, &pl);
	if (rv != CKR_OK || spit(NULL, out_path, pt, pl) != 0) {
		printf("open %s\n", rv_name(rv));
		return 1;
	}
	printf("opened %lu\n", (unsigned long)pl);
	w[wl - 1] ^= 1;
	printf("tampered %s\n", rv_name(p11->C_UnwrapKey(se, &wm, kek, w, wl, t, 3, &dk)));
	w[wl - 1] ^= 1;
	printf("token %s\n", rv_name(p11->C_UnwrapKey(se, &wm, kek, w, wl, t, 4, &dk)));
	free(iv);
	free(ct);
	free(pt);
	free(w);
	return 0;
}

int main(int argc, char **argv)
{
	int r = 2;
	if (argc < 6 || open_token(argv[1], argv[2], argv[3]) != 0) {
		fprintf(stderr, "usage: skclient MODULE TOKEN PIN COMMAND LABEL ... (or the token is not there)\n");
		return 2;
	}
	const char *cmd = argv[4];
	if (strcmp(argv[argc - 1], "pair") == 0) {
		wrap_cls = CKO_PUBLIC_KEY;
		unwrap_cls = CKO_PRIVATE_KEY;
		argc--;
	}
	if (strcmp(cmd, "keygen") == 0 && argc == 8)
		r = keygen(argv[5], argv[6], argv[7]);
	else if (strcmp(cmd, "attrs") == 0)
		r = attrs(argv[5]);
	else if (strcmp(cmd, "sign") == 0 && argc >= 8)
		r = sign(argv[5], argv[6], argv[7], argc > 8 ? argv[8] : NULL);
	else if (strcmp(cmd, "verify") == 0 && argc == 9)
		r = verify(argv[5], argv[6], argv[7], argv[8]);
	else if (strcmp(cmd, "kekgen") == 0)
		r = kekgen(argv[5]);
	else if (strcmp(cmd, "seal") == 0 && argc == 8)
		r = seal(argv[5], argv[6], argv[7]);
	else if (strcmp(cmd, "open") == 0 && argc == 8)
		r = open_env(argv[5], argv[6], argv[7]);
	p11->C_Logout(se);
	p11->C_CloseSession(se);
	p11->C_Finalize(NULL);
	return r;
}
