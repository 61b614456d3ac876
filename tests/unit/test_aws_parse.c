/*
 * The parsers of what AWS answers the aws-kms slot (slots/aws_parse.c):
 * credential documents (container agent, IMDS), STS's XML, error bodies,
 * timestamps, a credential_process's output and its command line, the SSO
 * portal's answer and token cache, with the inputs each source really sends and the broken
 * ones a proxy or a truncated read makes.
 */
#include "unit.h"
#include "slots/aws_creds.h"

#include <stdlib.h>
#include <string.h>

#define DOC(s) (s), strlen(s)

START_TEST(credential_documents)
{
	hw_aws_creds c;
	/* IMDS: Code Success, fractions-free Expiration */
	ck_assert_int_eq(hw_aws_parse_cred_json(DOC("{\"Code\":\"Success\",\"LastUpdated\":\"2026-12-07T12:00:00Z\","
						   "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIA123\",\"SecretAccessKey\":\"s/k+1=\","
						   "\"Token\":\"tok==\",\"Expiration\":\"2026-12-07T18:00:00Z\"}"), &c),
			 CKR_OK);
	ck_assert_str_eq(c.akid, "ASIA123");
	ck_assert_str_eq((const char *)c.secret->data, "s/k+1=");
	ck_assert_str_eq((const char *)c.token->data, "tok==");
	ck_assert_int_eq(c.expires, 1796666400);
	hw_aws_creds_clear(&c);
	/* the container agent: no Code, fractions in Expiration */
	ck_assert_int_eq(hw_aws_parse_cred_json(DOC("{\"AccessKeyId\":\"ASIA9\",\"SecretAccessKey\":\"x\",\"Token\":\"t\","
						   "\"Expiration\":\"2026-12-07T18:00:00.250Z\"}"), &c), CKR_OK);
	ck_assert_int_eq(c.expires, 1796666400);
	hw_aws_creds_clear(&c);
	/* IMDS reporting a failure, a key id that cannot go into a header, a
	 * secret with a space, a truncated body, a bad date: refused, nothing kept */
	const char *bad[] = {
		"{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
		"{\"AccessKeyId\":\"AK/ID\",\"SecretAccessKey\":\"s\"}",
		"{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s k\"}",
		"{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\"",
		"{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\",\"Expiration\":\"tomorrow\"}",
		"[]", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(hw_aws_parse_cred_json(DOC(bad[i]), &c) == CKR_DEVICE_ERROR, "accepted %s", bad[i]);
		ck_assert_ptr_null(c.secret);
	}
}
END_TEST

START_TEST(sts_answer)
{
	hw_aws_creds c;
	const char *ok = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
			 "<AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sk</SecretAccessKey>"
			 "<SessionToken>tk</SessionToken><Expiration>2026-12-07T18:00:00Z</Expiration>"
			 "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	ck_assert_int_eq(hw_aws_parse_sts_xml(DOC(ok), &c), CKR_OK);
	ck_assert_str_eq(c.akid, "ASIAX");
	ck_assert_str_eq((const char *)c.token->data, "tk");
	hw_aws_creds_clear(&c);
	/* cut before the session token's end: no credentials */
	ck_assert_int_eq(hw_aws_parse_sts_xml(ok, strstr(ok, "</SessionToken>") - ok, &c), CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_aws_parse_sts_xml(DOC("<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error>"
						 "</ErrorResponse>"), &c), CKR_DEVICE_ERROR);
}
END_TEST

START_TEST(error_bodies)
{
	char code[64], msg[160];
	hw_aws_parse_error(DOC("{\"__type\":\"com.amazonaws.kms#NotFoundException\",\"message\":\"Key 'x' does not exist\"}"),
			   "", code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "NotFoundException");
	ck_assert_str_eq(msg, "Key 'x' does not exist");
	/* "Message" capitalized, as some services send it */
	hw_aws_parse_error(DOC("{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}"), NULL, code,
			   sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "ThrottlingException");
	ck_assert_str_eq(msg, "Rate exceeded");
	/* no body: the header, without its ":http://..." part */
	hw_aws_parse_error("", 0, "UnrecognizedClientException:http://internal.amazon.com/coral/", code, sizeof(code),
			   msg, sizeof(msg));
	ck_assert_str_eq(code, "UnrecognizedClientException");
	ck_assert_str_eq(msg, "");
	/* STS's XML */
	hw_aws_parse_error(DOC("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
			       "<Message>No OpenIDConnect provider</Message></Error></ErrorResponse>"),
			   NULL, code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "InvalidIdentityToken");
	ck_assert_str_eq(msg, "No OpenIDConnect provider");
	/* a control character in a message never reaches the log as is */
	hw_aws_parse_error(DOC("{\"__type\":\"X\",\"message\":\"a\\nb\"}"), NULL, code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(msg, "a?b");
	/* garbage: no code */
	hw_aws_parse_error(DOC("<html>502 Bad Gateway</html>"), NULL, code, sizeof(code), msg, sizeof(msg));
	ck_assert_str_eq(code, "");
}
END_TEST

START_TEST(timestamps)
{
	ck_assert_int_eq(hw_aws_parse_time("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(hw_aws_parse_time("2026-12-07T18:00:00+00:00"), 1796666400);
	ck_assert_int_eq(hw_aws_parse_time("2026-12-07T18:00:00.999999Z"), 1796666400);
	const char *bad[] = { "2026-12-07 18:00:00Z", "2026-12-07T18:00:00", "2026-13-07T18:00:00Z",
			      "2026-12-07T18:00:00+02:00", "", "2026-12-07T18:00:00Zjunk" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(hw_aws_parse_time(bad[i]) == (time_t)-1, "accepted %s", bad[i]);
	ck_assert_int_eq(hw_aws_parse_time(NULL), (time_t)-1);
}
END_TEST

START_TEST(process_output)
{
	hw_aws_creds c;
	/* the documented format; SessionToken and Expiration optional */
	ck_assert_int_eq(hw_aws_parse_process_json(DOC("{\"Version\": 1, \"AccessKeyId\": \"ASIAP\", \"SecretAccessKey\": "
						      "\"sk\", \"SessionToken\": \"tk\", \"Expiration\": "
						      "\"2026-12-07T18:00:00Z\"}"), &c), CKR_OK);
	ck_assert_str_eq(c.akid, "ASIAP");
	ck_assert_int_eq(c.expires, 1796666400);
	hw_aws_creds_clear(&c);
	ck_assert_int_eq(hw_aws_parse_process_json(DOC("{\"Version\":1,\"AccessKeyId\":\"AKIA1\",\"SecretAccessKey\":\"s\"}"),
						   &c), CKR_OK);
	ck_assert_ptr_null(c.token);
	ck_assert_int_eq(c.expires, 0);
	hw_aws_creds_clear(&c);
	const char *bad[] = {
		"{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
		"{\"Version\":\"1\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
		"{\"Version\":1,\"AccessKeyId\":\"A\"}",
		"AccessKeyId=A", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(hw_aws_parse_process_json(DOC(bad[i]), &c) == CKR_DEVICE_ERROR, "accepted %s", bad[i]);
		ck_assert_ptr_null(c.secret);
	}
}
END_TEST

START_TEST(command_line)
{
	char **v;
	/* as shlex.split (the CLI's) splits it: quotes group, a backslash
	 * escapes, nothing expands */
	ck_assert_int_eq(hw_aws_split_command("  \"/opt/my tool/get\" --profile 'a b' x\\ y \"q\\\"\\\\\\n\" $HOME '' ", &v),
			 CKR_OK);
	const char *want[] = { "/opt/my tool/get", "--profile", "a b", "x y", "q\"\\\\n", "$HOME", "", NULL };
	for (size_t i = 0; want[i] != NULL; i++) {
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_str_eq(v[i], want[i]);
	}
	ck_assert_ptr_null(v[7]);
	free(v);
	ck_assert_int_eq(hw_aws_split_command("a", &v), CKR_OK);
	ck_assert_str_eq(v[0], "a");
	ck_assert_ptr_null(v[1]);
	free(v);
	const char *bad[] = { "", "   ", "\"unclosed", "'unclosed", "trailing\\" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(hw_aws_split_command(bad[i], &v) == CKR_ARGUMENTS_BAD, "accepted [%s]", bad[i]);
		ck_assert_ptr_null(v);
	}
}
END_TEST

START_TEST(sso_answers)
{
	hw_aws_creds c;
	hw_secret *t;
	time_t exp;
	/* GetRoleCredentials: expiration in milliseconds */
	ck_assert_int_eq(hw_aws_parse_sso_json(DOC("{\"roleCredentials\":{\"accessKeyId\":\"ASIAS\",\"secretAccessKey\":"
						  "\"sk\",\"sessionToken\":\"tk\",\"expiration\":1796666400000}}"), &c),
			 CKR_OK);
	ck_assert_str_eq(c.akid, "ASIAS");
	ck_assert_int_eq(c.expires, 1796666400);
	hw_aws_creds_clear(&c);
	ck_assert_int_eq(hw_aws_parse_sso_json(DOC("{\"roleCredentials\":{\"accessKeyId\":\"ASIAS\",\"secretAccessKey\":"
						  "\"sk\",\"sessionToken\":\"tk\",\"expiration\":\"soon\"}}"), &c),
			 CKR_DEVICE_ERROR);
	ck_assert_int_eq(hw_aws_parse_sso_json(DOC("{\"message\":\"Session token not found or invalid\"}"), &c),
			 CKR_DEVICE_ERROR);
	/* the token cache, as the CLI v2 and older CLIs write it */
	ck_assert_int_eq(hw_aws_parse_sso_cache(DOC("{\"startUrl\":\"https://x/start\",\"region\":\"eu-west-1\","
						   "\"accessToken\":\"aoa-tok\",\"expiresAt\":\"2026-12-07T18:00:00Z\"}"),
						&t, &exp), CKR_OK);
	ck_assert_str_eq((const char *)t->data, "aoa-tok");
	ck_assert_int_eq(exp, 1796666400);
	hw_secret_free(t);
	ck_assert_int_eq(hw_aws_parse_sso_cache(DOC("{\"accessToken\":\"a\",\"expiresAt\":\"2026-12-07T18:00:00UTC\"}"),
						&t, &exp), CKR_OK);
	ck_assert_int_eq(exp, 1796666400);
	hw_secret_free(t);
	ck_assert_int_eq(hw_aws_parse_sso_cache(DOC("{\"accessToken\":\"a b\",\"expiresAt\":\"2026-12-07T18:00:00Z\"}"),
						&t, &exp), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(hw_aws_parse_sso_cache(DOC("{\"accessToken\":\"a\"}"), &t, &exp), CKR_DEVICE_ERROR);
	ck_assert_ptr_null(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("aws_parse");
	TCase *t = tcase_create("parsers");
	tcase_add_test(t, credential_documents);
	tcase_add_test(t, sts_answer);
	tcase_add_test(t, error_bodies);
	tcase_add_test(t, timestamps);
	tcase_add_test(t, process_output);
	tcase_add_test(t, command_line);
	tcase_add_test(t, sso_answers);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
