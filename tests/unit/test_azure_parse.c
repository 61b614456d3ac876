/*
 * The parsers of what Azure answers the azure-kv slot (slots/azure_parse.c)
 * and the key names it derives: the vault's challenge as Key Vault and
 * Managed HSM send it, token answers of Entra ID (numbers), IMDS and App
 * Service (strings), error bodies of the vault and of Entra ID, key ids,
 * JWKs (the example of the REST reference shape), base64url, and the broken
 * forms a proxy or a truncated read makes.
 */
#include "unit.h"
#include "slots/azure_kv.h"
#include "common/secret.h"

#include <openssl/x509.h>
#include <string.h>

#define DOC(s) (s), strlen(s)

START_TEST(challenges)
{
	char t[64], r[160];
	ck_assert_int_eq(hw_az_parse_challenge("Bearer authorization=\"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47\", "
					       "resource=\"https://vault.azure.net\"", t, sizeof(t), r, sizeof(r)), CKR_OK);
	ck_assert_str_eq(t, "72f988bf-86f1-41af-91ab-2d7cd011db47");
	ck_assert_str_eq(r, "https://vault.azure.net");
	/* newer services: authorization_uri and scope (with /.default) */
	ck_assert_int_eq(hw_az_parse_challenge("Bearer authorization_uri=\"https://login.microsoftonline.us/t1/\","
					       "scope=\"https://managedhsm.azure.net/.default\"", t, sizeof(t), r, sizeof(r)), CKR_OK);
	ck_assert_str_eq(t, "t1");
	ck_assert_str_eq(r, "https://managedhsm.azure.net");
	const char *bad[] = {
		"Basic realm=\"x\"",
		"Bearer resource=\"https://vault.azure.net\"",
		"Bearer authorization=\"https://login.microsoftonline.com/\", resource=\"https://vault.azure.net\"",
		"Bearer authorization=\"https://login.microsoftonline.com/t\"",
		"Bearer authorization=\"https://login/te nant\", resource=\"r\"",
		"Bearer authorization=\"nohost\", resource=\"r\"",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hw_az_parse_challenge(bad[i], t, sizeof(t), r, sizeof(r)) != CKR_OK, "accepted %s", bad[i]);
	ck_assert_int_ne(hw_az_parse_challenge(NULL, t, sizeof(t), r, sizeof(r)), CKR_OK);
}
END_TEST

START_TEST(tokens)
{
	hw_secret *tok = NULL;
	time_t exp = 0;
	/* Entra ID v2.0: expires_in a number */
	ck_assert_int_eq(hw_az_parse_token(DOC("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"eyJ0.a.b\"}"),
					   1000, &tok, &exp), CKR_OK);
	ck_assert_str_eq((const char *)tok->data, "eyJ0.a.b");
	ck_assert_uint_eq(tok->len, 8);
	ck_assert_int_eq(exp, 1000 + 3599);
	hw_secret_free(tok);
	/* IMDS: every number a string */
	ck_assert_int_eq(hw_az_parse_token(DOC("{\"access_token\":\"x.y.z\",\"expires_in\":\"86399\",\"expires_on\":\"1700086399\","
					       "\"resource\":\"https://vault.azure.net\",\"token_type\":\"Bearer\"}"), 1000, &tok, &exp), CKR_OK);
	ck_assert_int_eq(exp, 1000 + 86399);
	hw_secret_free(tok);
	/* App Service 2019-08-01: expires_on only */
	ck_assert_int_eq(hw_az_parse_token(DOC("{\"access_token\":\"x\",\"expires_on\":\"1700086399\"}"), 1000, &tok, &exp), CKR_OK);
	ck_assert_int_eq(exp, 1700086399);
	hw_secret_free(tok);
	const char *bad[] = {
		"{\"expires_in\":3599}",
		"{\"access_token\":\"\",\"expires_in\":3599}",
		"{\"access_token\":\"a b\",\"expires_in\":3599}",
		"{\"access_token\":\"a\\r\\nX-Injected: 1\"}",
		"{\"access_token\":5}",
		"{\"access_token\":\"abc\"",
		"[]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tok = NULL;
		ck_assert_msg(hw_az_parse_token(DOC(bad[i]), 1000, &tok, &exp) != CKR_OK && tok == NULL, "accepted %s", bad[i]);
	}
}
END_TEST

START_TEST(errors)
{
	char code[64], msg[160];
	hw_az_parse_error(DOC("{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"A key with (name/id) k1 was not found\"}}"),
			  code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "KeyNotFound");
	ck_assert_str_eq(msg, "A key with (name/id) k1 was not found");
	hw_az_parse_error(DOC("{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215\"}"), code, sizeof(code),
			  msg, sizeof(msg));
	ck_assert_str_eq(code, "invalid_client");
	hw_az_parse_error(DOC("<html>502</html>"), code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "");
}
END_TEST

START_TEST(kids_and_names)
{
	char *n, *v, name[128];
	ck_assert_int_eq(hw_az_parse_kid("https://v.vault.azure.net/keys/k-1/0123456789abcdef0123456789abcdef", &n, &v), CKR_OK);
	ck_assert_str_eq(n, "k-1");
	ck_assert_str_eq(v, "0123456789abcdef0123456789abcdef");
	free(n);
	free(v);
	ck_assert_int_eq(hw_az_parse_kid("https://v.vault.azure.net/keys/k1", &n, &v), CKR_OK);
	ck_assert_ptr_null(v);
	free(n);
	const char *bad[] = { "https://v/keys/", "https://v/keys/a_b/1", "https://v/keys/k/1/extra", "https://v/secrets/k/1",
			      "https://v/keys/k/ver-sion" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hw_az_parse_kid(bad[i], &n, &v) != CKR_OK, "accepted %s", bad[i]);
	/* a label becomes [0-9a-zA-Z-] plus a random suffix */
	ck_assert_int_eq(hw_az_key_name("my key/é 01", strlen("my key/é 01"), name, sizeof(name)), CKR_OK);
	ck_assert_msg(strncmp(name, "my-key-01-", 10) == 0 && strlen(name) == 26, "name %s", name);
	ck_assert_int_eq(hw_az_key_name(NULL, 0, name, sizeof(name)), CKR_OK);
	ck_assert_msg(strncmp(name, "hwagg-", 6) == 0 && strlen(name) == 22, "name %s", name);
	char longl[300];
	memset(longl, 'a', sizeof(longl));
	ck_assert_int_eq(hw_az_key_name(longl, sizeof(longl), name, sizeof(name)), CKR_OK);
	ck_assert_uint_le(strlen(name), 127);
}
END_TEST

START_TEST(jwks)
{
	/* RFC 7518 appendix-style P-256 key (a point on the curve) */
	json_object *ec = json_tokener_parse("{\"kid\":\"https://v.vault.azure.net/keys/k/1\",\"kty\":\"EC-HSM\",\"crv\":\"P-256\","
					     "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
					     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}");
	CK_KEY_TYPE type;
	size_t nlen, len;
	unsigned char *spki;
	ck_assert_int_eq(hw_az_jwk_spki(ec, &type, &nlen, &spki, &len), CKR_OK);
	ck_assert_int_eq(type, CKK_EC);
	ck_assert_uint_eq(nlen, 32);
	const unsigned char *p = spki;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(pk);
	EVP_PKEY_free(pk);
	free(spki);
	/* not on the curve, a short coordinate is padded but still checked */
	json_object_object_add(ec, "y", json_object_new_string("AAAA"));
	ck_assert_int_ne(hw_az_jwk_spki(ec, &type, &nlen, &spki, &len), CKR_OK);
	json_object_object_add(ec, "crv", json_object_new_string("P-256K"));
	ck_assert_int_eq(hw_az_jwk_spki(ec, &type, &nlen, &spki, &len), CKR_OBJECT_HANDLE_INVALID);
	json_object_put(ec);
	json_object *oct = json_tokener_parse("{\"kty\":\"oct-HSM\"}");
	ck_assert_int_eq(hw_az_jwk_spki(oct, &type, &nlen, &spki, &len), CKR_OBJECT_HANDLE_INVALID);
	json_object_put(oct);
}
END_TEST

START_TEST(base64url)
{
	size_t len;
	unsigned char *d = hw_b64url_decode("LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ", &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, 32);
	char *e = hw_b64url_encode(d, len);
	ck_assert_str_eq(e, "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ");
	free(e);
	free(d);
	const char *bad[] = { "LPJN+l", "LPJN/l", "LP JN", "L", "LP=J", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hw_b64url_decode(bad[i], &len) == NULL, "accepted %s", bad[i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("azure_parse");
	TCase *t = tcase_create("parsers");
	tcase_add_test(t, challenges);
	tcase_add_test(t, tokens);
	tcase_add_test(t, errors);
	tcase_add_test(t, kids_and_names);
	tcase_add_test(t, jwks);
	tcase_add_test(t, base64url);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
