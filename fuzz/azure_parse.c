/*
 * Fuzz target: the parsers of what Azure answers the azure-kv slot
 * (slots/azure_parse.c): the vault's WWW-Authenticate challenge, token
 * answers of Entra ID, IMDS and App Service, error bodies, key bundles with
 * their JWKs (turned into a SubjectPublicKeyInfo here), key identifiers,
 * and base64url (slots/cloud_str.c). All of it comes from the network, an
 * identity endpoint or a proxy in between.
 *
 * Input: one selector byte, then the case's bytes.
 */
#include "fuzz/util.h"
#include "slots/azure_kv.h"
#include "common/secret.h"

#include <ctype.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bundle_check(const uint8_t *p, size_t n)
{
	json_object *o = hw_cloud_json_parse((const char *)p, n);
	hw_az_key k;
	memset(&k, 0, sizeof(k));
	CK_RV rv = hw_az_parse_bundle(o, &k);
	FZ_ASSERT(rv == CKR_OK || rv == CKR_DEVICE_ERROR || rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_HOST_MEMORY);
	if (rv == CKR_OK) {
		/* what the slot serves is a valid public key of the size it says */
		const unsigned char *q = k.spki;
		EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)k.spki_len);
		FZ_ASSERT(pk != NULL && q == k.spki + k.spki_len);
		FZ_ASSERT(k.type == CKK_EC ? (k.nlen == 32 || k.nlen == 48 || k.nlen == 66) :
					     (k.type == CKK_RSA && k.nlen >= 128 && k.nlen <= 1024));
		FZ_ASSERT(k.name != NULL && k.version != NULL && k.kid != NULL && k.id_len <= sizeof(k.id));
		for (const char *s = k.name; *s; s++)
			FZ_ASSERT(isalnum((unsigned char)*s) || *s == '-');
		EVP_PKEY_free(pk);
	}
	free(k.name);
	free(k.version);
	free(k.kid);
	free(k.spki);
	free(k.label);
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	uint8_t sel;
	char a[64], b[160], code[64], msg[160];
	if (!fz_u8(&in, &sel))
		return 0;
	char *s = fz_strdup(in.p, in.n);
	if (s == NULL)
		return 0;
	switch (sel % 6) {
	case 0:
		if (hw_az_parse_challenge(s, a, sizeof(a), b, sizeof(b)) == CKR_OK) {
			FZ_ASSERT(a[0] != '\0' && b[0] != '\0' && strlen(a) < sizeof(a) && strlen(b) < sizeof(b));
			for (const char *p = a; *p; p++)
				FZ_ASSERT(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_');
		}
		break;
	case 1: {
		hw_secret *tok = NULL;
		time_t exp = 0;
		CK_RV rv = hw_az_parse_token((const char *)in.p, in.n, 1000000, &tok, &exp);
		if (rv == CKR_OK) {
			/* it goes into an Authorization header as it is */
			FZ_ASSERT(tok != NULL && tok->len > 0 && strlen((const char *)tok->data) == tok->len && exp > 0);
			for (size_t i = 0; i < tok->len; i++)
				FZ_ASSERT(tok->data[i] > 0x20 && tok->data[i] < 0x7f);
		} else {
			FZ_ASSERT(tok == NULL);
		}
		hw_secret_free(tok);
		break;
	}
	case 2:
		hw_az_parse_error((const char *)in.p, in.n, code, sizeof(code), msg, sizeof(msg));
		FZ_ASSERT(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg));
		break;
	case 3:
		bundle_check(in.p, in.n);
		break;
	case 4: {
		char *name = NULL, *version = NULL;
		if (hw_az_parse_kid(s, &name, &version) == CKR_OK) {
			FZ_ASSERT(name != NULL && strlen(name) >= 1 && strlen(name) <= 127);
			FZ_ASSERT(version == NULL || strchr(version, '/') == NULL);
		}
		free(name);
		free(version);
		break;
	}
	default: {
		size_t len = 0, len2 = 0;
		unsigned char *d = hw_b64url_decode(s, &len);
		if (d != NULL) {
			/* decoding what we encode gives back the bytes */
			char *e = hw_b64url_encode(d, len);
			FZ_ASSERT(e != NULL && strchr(e, '=') == NULL);
			unsigned char *d2 = hw_b64url_decode(e, &len2);
			FZ_ASSERT(len == 0 || (d2 != NULL && len2 == len && memcmp(d, d2, len) == 0));
			free(d2);
			free(e);
		}
		free(d);
		break;
	}
	}
	free(s);
	return 0;
}
