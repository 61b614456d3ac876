/*
 * The gcp-kms slot's pure parts: CRC32C against published vectors (RFC
 * 3720 B.4 and the common check value), and the parsers of what Google
 * answers (slots/gcp_parse.c) with the inputs the service sends and the
 * damaged ones a proxy or a bit flip makes; the service-account JWT is
 * verified with OpenSSL.
 */
#include "unit.h"
#include "slots/gcp_kms.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

#define DOC(s) (s), strlen(s)

START_TEST(crc32c_vectors)
{
	unsigned char buf[32];
	ck_assert_uint_eq(hw_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(hw_crc32c(0, "", 0), 0);
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(hw_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof(buf));
	ck_assert_uint_eq(hw_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	ck_assert_uint_eq(hw_crc32c(0, buf, 32), 0x46DD794Eu);
	/* continuing a CRC over pieces gives the CRC of the whole */
	ck_assert_uint_eq(hw_crc32c(hw_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

static const char PEM[] = "-----BEGIN PUBLIC KEY-----\n"
			  "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
			  "q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
			  "-----END PUBLIC KEY-----\n";

static char *pubkey_doc(const char *pem, uint32_t crc)
{
	static char doc[1024];
	char esc[512];
	size_t o = 0;
	for (const char *p = pem; *p && o + 2 < sizeof(esc); p++) {
		if (*p == '\n') {
			esc[o++] = '\\';
			esc[o++] = 'n';
		} else {
			esc[o++] = *p;
		}
	}
	esc[o] = '\0';
	snprintf(doc, sizeof(doc), "{\"pem\":\"%s\",\"algorithm\":\"EC_SIGN_P256_SHA256\",\"pemCrc32c\":\"%u\","
		 "\"name\":\"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1\",\"protectionLevel\":\"HSM\"}",
		 esc, crc);
	return doc;
}

START_TEST(public_keys)
{
	unsigned char *spki = NULL;
	size_t len = 0;
	char alg[64];
	bool hsm = false;
	uint32_t crc = hw_crc32c(0, PEM, strlen(PEM));
	ck_assert_int_eq(hw_gcp_parse_pubkey(DOC(pubkey_doc(PEM, crc)), &spki, &len, alg, sizeof(alg), &hsm), CKR_OK);
	ck_assert_uint_eq(len, 91);          /* P-256 SubjectPublicKeyInfo */
	ck_assert_int_eq(spki[0], 0x30);
	ck_assert_str_eq(alg, "EC_SIGN_P256_SHA256");
	ck_assert(hsm);
	free(spki);
	/* a wrong CRC, a missing CRC, a PEM without its END line: refused */
	ck_assert_int_eq(hw_gcp_parse_pubkey(DOC(pubkey_doc(PEM, crc ^ 1)), &spki, &len, alg, sizeof(alg), &hsm),
			 CKR_DEVICE_ERROR);
	ck_assert_ptr_null(spki);
	ck_assert_int_eq(hw_gcp_parse_pubkey(DOC("{\"pem\":\"x\",\"algorithm\":\"EC_SIGN_P256_SHA256\"}"), &spki, &len, alg,
					     sizeof(alg), &hsm), CKR_DEVICE_ERROR);
	char cut[256];
	snprintf(cut, sizeof(cut), "%.*s", (int)(strlen(PEM) - 26), PEM);
	ck_assert_int_eq(hw_gcp_parse_pubkey(DOC(pubkey_doc(cut, hw_crc32c(0, cut, strlen(cut)))), &spki, &len, alg,
					     sizeof(alg), &hsm), CKR_DEVICE_ERROR);
}
END_TEST

START_TEST(signatures)
{
	unsigned char *sig = NULL;
	size_t len = 0;
	char doc[512];
	/* "c2ln" is base64 of "sig" */
	uint32_t crc = hw_crc32c(0, "sig", 3);
	snprintf(doc, sizeof(doc), "{\"signature\":\"c2ln\",\"signatureCrc32c\":\"%u\",\"verifiedDigestCrc32c\":true}", crc);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC(doc), &sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(sig, "sig", 3), 0);
	free(sig);
	/* the CRC as a JSON number is accepted too */
	snprintf(doc, sizeof(doc), "{\"signature\":\"c2ln\",\"signatureCrc32c\":%u,\"verifiedDigestCrc32c\":true}", crc);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC(doc), &sig, &len), CKR_OK);
	free(sig);
	/* the service did not check our digest's CRC; the signature's CRC is wrong; garbage */
	snprintf(doc, sizeof(doc), "{\"signature\":\"c2ln\",\"signatureCrc32c\":\"%u\",\"verifiedDigestCrc32c\":false}", crc);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC(doc), &sig, &len), CKR_DEVICE_ERROR);
	snprintf(doc, sizeof(doc), "{\"signature\":\"c2ln\",\"signatureCrc32c\":\"%u\",\"verifiedDigestCrc32c\":true}", crc + 1);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC(doc), &sig, &len), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC("{\"signature\":\"c2ln\",\"signatureCrc32c\":\"-1\",\"verifiedDigestCrc32c\":true}"),
						&sig, &len), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_signature(DOC("{\"signature\":"), &sig, &len), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(sig);
}
END_TEST

START_TEST(tokens_and_errors)
{
	hw_secret *t = NULL;
	long life = 0;
	ck_assert_int_eq(hw_gcp_parse_token(DOC("{\"access_token\":\"ya29.abc\",\"expires_in\":3599,\"token_type\":\"Bearer\"}"),
					    &t, &life), CKR_OK);
	ck_assert_str_eq((const char *)t->data, "ya29.abc");
	ck_assert_int_eq(life, 3599);
	hw_secret_free(t);
	/* a token that cannot go into a header, no lifetime, another type */
	ck_assert_int_eq(hw_gcp_parse_token(DOC("{\"access_token\":\"a b\",\"expires_in\":10}"), &t, &life), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_token(DOC("{\"access_token\":\"ab\"}"), &t, &life), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_token(DOC("{\"access_token\":\"ab\",\"expires_in\":10,\"token_type\":\"MAC\"}"), &t, &life),
			 CKR_DEVICE_ERROR);
	ck_assert_ptr_null(t);

	char status[64], msg[160], rid[96];
	hw_gcp_parse_error(DOC("{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":\"RESOURCE_EXHAUSTED\","
			       "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"x\"},"
			       "{\"@type\":\"type.googleapis.com/google.rpc.RequestInfo\",\"requestId\":\"req-42\"}]}}"),
			   status, sizeof(status), msg, sizeof(msg), rid, sizeof(rid));
	ck_assert_str_eq(status, "RESOURCE_EXHAUSTED");
	ck_assert_str_eq(msg, "Quota exceeded");
	ck_assert_str_eq(rid, "req-42");
	hw_gcp_parse_error(DOC("<html>502</html>"), status, sizeof(status), msg, sizeof(msg), rid, sizeof(rid));
	ck_assert_str_eq(status, "");
	ck_assert_str_eq(rid, "");
}
END_TEST

START_TEST(listings_and_labels)
{
	hw_gcp_list l;
	/* "6b6579" = "key", "0a0b" = CKA_ID 0a 0b; a key without our mark */
	ck_assert_int_eq(hw_gcp_parse_keys(DOC("{\"cryptoKeys\":[{\"name\":\"k1\",\"labels\":{\"hwagg\":\"pkcs11\","
					       "\"label-0\":\"6b6579\",\"id-0\":\"0a0b\"}},{\"name\":\"k2\",\"labels\":{\"x\":\"y\"}},"
					       "{\"name\":\"k3\",\"labels\":{\"hwagg\":\"pkcs11\",\"label-0\":\"zz\"}}],"
					       "\"nextPageToken\":\"p2\"}"), &l), CKR_OK);
	ck_assert_uint_eq(l.n, 3);
	ck_assert(l.items[0].ours);
	ck_assert_str_eq(l.items[0].label, "key");
	ck_assert_uint_eq(l.items[0].id_len, 2);
	ck_assert_int_eq(l.items[0].id[1], 0x0b);
	ck_assert(!l.items[1].ours);
	/* not hwagg's encoding: no label rather than a wrong one */
	ck_assert(l.items[2].ours);
	ck_assert_ptr_null(l.items[2].label);
	ck_assert_str_eq(l.next, "p2");
	hw_gcp_list_free(&l);
	/* a label split over two chunks */
	ck_assert_int_eq(hw_gcp_parse_keys(DOC("{\"cryptoKeys\":[{\"name\":\"k\",\"labels\":{\"hwagg\":\"pkcs11\","
					       "\"label-0\":\"6162\",\"label-1\":\"63\"}}]}"), &l), CKR_OK);
	ck_assert_str_eq(l.items[0].label, "abc");
	hw_gcp_list_free(&l);
	ck_assert_int_eq(hw_gcp_parse_versions(DOC("{\"cryptoKeyVersions\":[{\"name\":\"v1\",\"state\":\"ENABLED\","
						   "\"algorithm\":\"RSA_SIGN_PSS_2048_SHA256\"}]}"), &l), CKR_OK);
	ck_assert_str_eq(l.items[0].state, "ENABLED");
	ck_assert_str_eq(l.items[0].alg, "RSA_SIGN_PSS_2048_SHA256");
	hw_gcp_list_free(&l);
	/* an empty key ring answers {} */
	ck_assert_int_eq(hw_gcp_parse_keys(DOC("{}"), &l), CKR_OK);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_int_eq(hw_gcp_parse_keys(DOC("[]"), &l), CKR_DEVICE_ERROR);
}
END_TEST

static char *json_escape(const char *s)
{
	static char out[8192];
	size_t o = 0;
	for (; *s && o + 3 < sizeof(out); s++) {
		if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return out;
}

static unsigned char *b64url_decode(const char *s, size_t n, size_t *len)
{
	char buf[2048];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < sizeof(buf); i++)
		buf[o++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (o % 4 != 0)
		buf[o++] = '=';
	buf[o] = '\0';
	return hw_b64_decode(buf, len);
}

START_TEST(service_account_jwt)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, doc[8192 + 512], *jwt = NULL;
	hw_gcp_sa sa;
	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
	long n = BIO_get_mem_data(bio, &pem);
	char *p = strndup(pem, (size_t)n);
	snprintf(doc, sizeof(doc), "{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key_id\":\"kid1\","
		 "\"private_key\":\"%s\",\"client_email\":\"sa@p.iam.gserviceaccount.com\",\"token_uri\":\"https://127.0.0.1:1/token\"}",
		 json_escape(p));
	ck_assert_int_eq(hw_gcp_parse_sa(DOC(doc), &sa), CKR_OK);
	ck_assert_str_eq(sa.email, "sa@p.iam.gserviceaccount.com");
	ck_assert_str_eq(sa.token_uri, "https://127.0.0.1:1/token");
	ck_assert_int_eq(hw_gcp_jwt(&sa, 1700000000, &jwt), CKR_OK);
	/* header.claims.signature; the signature verifies as RS256 over the first two */
	char *d1 = strchr(jwt, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
	ck_assert_ptr_nonnull(d2);
	size_t cl_len = 0, sig_len = 0;
	unsigned char *claims = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &cl_len);
	unsigned char *sig = b64url_decode(d2 + 1, strlen(d2 + 1), &sig_len);
	ck_assert_ptr_nonnull(claims);
	ck_assert_ptr_nonnull(strstr((char *)claims, "\"aud\":\"https://127.0.0.1:1/token\""));
	ck_assert_ptr_nonnull(strstr((char *)claims, "\"exp\":1700003600"));
	ck_assert_ptr_nonnull(strstr((char *)claims, "\"scope\":\"https://www.googleapis.com/auth/cloudkms\""));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	ck_assert_int_eq(EVP_DigestVerify(md, sig, sig_len, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
	/* one flipped byte of the signed part no longer verifies */
	jwt[3] ^= 1;
	ck_assert_int_ne(EVP_DigestVerify(md, sig, sig_len, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
	EVP_MD_CTX_free(md);
	free(claims);
	free(sig);
	free(jwt);
	hw_gcp_sa_clear(&sa);
	/* other file types are another parser's (hw_gcp_parse_ext) */
	ck_assert_int_eq(hw_gcp_parse_sa(DOC("{\"type\":\"external_account\",\"audience\":\"//iam\"}"), &sa),
			 CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(hw_gcp_parse_sa(DOC("{\"type\":\"service_account\",\"client_email\":\"a\"}"), &sa), CKR_DEVICE_ERROR);
	free(p);
	BIO_free(bio);
	EVP_PKEY_free(key);
}
END_TEST

/* external_account and authorized_user files, subject tokens, IAM answers */
START_TEST(federation_files)
{
	hw_gcp_ext x;
	hw_secret *t = NULL;
	long life = 0;
#define EXT "{\"type\":\"external_account\",\"audience\":\"//iam.googleapis.com/p\"," \
	    "\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\",\"token_url\":\"https://sts.googleapis.com/v1/token\""
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{\"file\":\"/run/t\"}}"), &x), CKR_OK);
	ck_assert(!x.user && !x.source_json && x.nhdrs == 0);
	ck_assert_str_eq(x.source_file, "/run/t");
	ck_assert_str_eq(x.audience, "//iam.googleapis.com/p");
	ck_assert_str_eq(x.impersonation_url, "");
	hw_gcp_ext_clear(&x);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"service_account_impersonation_url\":\"https://i/v1/x\","
					  "\"credential_source\":{\"url\":\"http://127.0.0.1/t\",\"headers\":{\"Metadata\":\"True\"},"
					  "\"format\":{\"type\":\"json\",\"subject_token_field_name\":\"access_token\"}}}"), &x), CKR_OK);
	ck_assert(x.source_json && x.nhdrs == 1);
	ck_assert_str_eq(x.hdr_name[0], "Metadata");
	ck_assert_str_eq(x.hdr_value[0], "True");
	ck_assert_str_eq(x.impersonation_url, "https://i/v1/x");
	/* a JSON source's member; then the same source read as text */
	ck_assert_int_eq(hw_gcp_subject_token(&x, DOC("{\"access_token\":\"eyJ.e30.sig\"}"), &t), CKR_OK);
	ck_assert_str_eq((const char *)t->data, "eyJ.e30.sig");
	hw_secret_free(t);
	ck_assert_int_eq(hw_gcp_subject_token(&x, DOC("{\"token\":\"eyJ.e30.sig\"}"), &t), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(t);
	x.source_json = false;
	ck_assert_int_eq(hw_gcp_subject_token(&x, DOC("  eyJ.e30.sig\r\n"), &t), CKR_OK);
	ck_assert_uint_eq(t->len, 11);
	hw_secret_free(t);
	ck_assert_int_eq(hw_gcp_subject_token(&x, DOC("two words\n"), &t), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_subject_token(&x, DOC("\n"), &t), CKR_DEVICE_ERROR);
	hw_gcp_ext_clear(&x);
	/* AWS and executable sources: not read; both or no source, plain-http STS, headers on a file: malformed */
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{\"environment_id\":\"aws1\"}}"), &x),
			 CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{\"executable\":{\"command\":\"x\"}}}"), &x),
			 CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{\"file\":\"a\",\"url\":\"http://b\"}}"), &x),
			 CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{}}"), &x), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC(EXT ",\"credential_source\":{\"file\":\"a\",\"headers\":{\"A\":\"b\"}}}"), &x),
			 CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC("{\"type\":\"external_account\",\"audience\":\"a\",\"subject_token_type\":\"t\","
					      "\"token_url\":\"http://sts/v1/token\",\"credential_source\":{\"file\":\"a\"}}"), &x),
			 CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC("{\"type\":\"impersonated_service_account\"}"), &x),
			 CKR_FUNCTION_NOT_SUPPORTED);
	/* gcloud's user credentials: Google's token endpoint unless named */
	ck_assert_int_eq(hw_gcp_parse_ext(DOC("{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s\","
					      "\"refresh_token\":\"1//r\"}"), &x), CKR_OK);
	ck_assert(x.user);
	ck_assert_str_eq(x.token_uri, "https://oauth2.googleapis.com/token");
	ck_assert_str_eq((const char *)x.refresh_token->data, "1//r");
	hw_gcp_ext_clear(&x);
	ck_assert_int_eq(hw_gcp_parse_ext(DOC("{\"type\":\"authorized_user\",\"client_id\":\"c\",\"client_secret\":\"s\"}"), &x),
			 CKR_DEVICE_ERROR);
	ck_assert_ptr_null(x.client_secret);
	/* generateAccessToken: the life is what expireTime leaves from now */
	ck_assert_int_eq(hw_gcp_parse_iam_token(DOC("{\"accessToken\":\"ya29.i\",\"expireTime\":\"2023-11-14T23:13:20Z\"}"),
						1700000000, &t, &life), CKR_OK);
	ck_assert_int_eq(life, 3600);
	ck_assert_str_eq((const char *)t->data, "ya29.i");
	hw_secret_free(t);
	ck_assert_int_eq(hw_gcp_parse_iam_token(DOC("{\"accessToken\":\"ya29.i\",\"expireTime\":\"2023-11-14T22:13:20Z\"}"),
						1700000000, &t, &life), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_gcp_parse_iam_token(DOC("{\"accessToken\":\"ya29.i\"}"), 1700000000, &t, &life), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(t);
#undef EXT
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gcp_parse");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, crc32c_vectors);
	tcase_add_test(tc, public_keys);
	tcase_add_test(tc, signatures);
	tcase_add_test(tc, tokens_and_errors);
	tcase_add_test(tc, listings_and_labels);
	tcase_add_test(tc, service_account_jwt);
	tcase_add_test(tc, federation_files);
	suite_add_tcase(s, tc);
	return s;
}

HW_UNIT_MAIN
