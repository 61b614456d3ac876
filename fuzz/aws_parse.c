/*
 * Fuzz target: the parsers of what AWS answers the aws-kms slot
 * (slots/aws_parse.c): credential documents of the container agent and
 * IMDS, STS's XML, error bodies (JSON or XML, with or without the
 * X-Amzn-ErrorType header), timestamps, a credential_process's output, the
 * SSO portal's answer and the SSO token cache. All of it comes from the
 * network, a metadata service or a proxy in between.
 *
 * Input: one selector byte, then the case's bytes; for errors a u8 length
 * of the header value first. Every value is copied to a buffer of its exact
 * size (not NUL-terminated: the parsers take a length).
 */
#include "fuzz/util.h"
#include "slots/aws_creds.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void creds_check(CK_RV rv, hw_aws_creds *c)
{
	if (rv == CKR_OK) {
		/* what goes into a header or an HMAC is plain and terminated */
		FZ_ASSERT(c->akid[0] != '\0' && c->secret != NULL);
		FZ_ASSERT(strlen((const char *)c->secret->data) == c->secret->len);
		for (const char *p = c->akid; *p; p++)
			FZ_ASSERT((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
		for (size_t i = 0; c->token != NULL && i < c->token->len; i++)
			FZ_ASSERT(c->token->data[i] > 0x20 && c->token->data[i] < 0x7f);
		hw_aws_creds copy;
		FZ_ASSERT(hw_aws_creds_copy(&copy, c) == CKR_OK);
		FZ_ASSERT(strcmp(copy.akid, c->akid) == 0 && copy.expires == c->expires);
		hw_aws_creds_clear(&copy);
	} else {
		FZ_ASSERT(rv == CKR_DEVICE_ERROR || rv == CKR_HOST_MEMORY);
		FZ_ASSERT(c->secret == NULL && c->token == NULL);
	}
	hw_aws_creds_clear(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in in = { data, size };
	uint8_t sel, hl;
	const uint8_t *hv;
	hw_aws_creds c;
	char code[64], msg[160];
	if (!fz_u8(&in, &sel))
		return 0;
	char *v = malloc(in.n ? in.n : 1);
	if (v == NULL)
		return 0;
	switch (sel % 7) {
	case 0:
		memcpy(v, in.p, in.n);
		creds_check(hw_aws_parse_cred_json(v, in.n, &c), &c);
		break;
	case 1:
		memcpy(v, in.p, in.n);
		creds_check(hw_aws_parse_sts_xml(v, in.n, &c), &c);
		break;
	case 2: {
		if (!fz_u8(&in, &hl) || !fz_bytes(&in, hl, &hv))
			break;
		char *h = fz_strdup(hv, hl);
		memcpy(v, in.p, in.n);
		hw_aws_parse_error(v, in.n, h, code, sizeof(code), msg, sizeof(msg));
		/* what reaches the log is short, printable and has no '#' prefix */
		FZ_ASSERT(strlen(code) < sizeof(code) && strlen(msg) < sizeof(msg) && strchr(code, '#') == NULL);
		for (const char *p = msg; *p; p++)
			FZ_ASSERT(*p >= 0x20 && *p < 0x7f);
		free(h);
		break;
	}
	case 4:
		memcpy(v, in.p, in.n);
		creds_check(hw_aws_parse_process_json(v, in.n, &c), &c);
		break;
	case 5:
		memcpy(v, in.p, in.n);
		creds_check(hw_aws_parse_sso_json(v, in.n, &c), &c);
		break;
	case 6: {
		hw_secret *tok = NULL;
		time_t exp = 0;
		memcpy(v, in.p, in.n);
		CK_RV rv = hw_aws_parse_sso_cache(v, in.n, &tok, &exp);
		/* a token goes into a header: plain and terminated */
		FZ_ASSERT(rv == CKR_OK ? tok != NULL && strlen((const char *)tok->data) == tok->len : tok == NULL);
		hw_secret_free(tok);
		break;
	}
	default: {
		char *s = fz_strdup(in.p, in.n);
		time_t t = hw_aws_parse_time(s);
		FZ_ASSERT(t == (time_t)-1 || t >= 0);
		free(s);
		break;
	}
	}
	free(v);
	return 0;
}
