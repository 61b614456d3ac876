/*
 * hwagg sign --key PKCS11-URI [--pin-file F] [--format der|raw] [--json] DIGEST-FILE
 *
 * Any hwagg key as an external signer, by the hex-digest-file contract:
 * DIGEST-FILE holds a hex SHA-256 digest; the signature goes to stdout as
 * one base64 line (ECDSA: DER unless --format raw); errors to stderr, and
 * nothing to stdout unless the signature is there. Exit 0 signed, 1 the
 * signing failed, 2 usage (options, the URI, the digest file).
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/hex.h"
#include "common/log.h"
#include "mechanisms/encode.h"

#include <getopt.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_FILE_MAX 256

typedef struct sign_opts {
	const char *uri, *pin_file, *digest_file;
	bool raw, json;
} sign_opts;

static int usage_sign(FILE *f)
{
	fprintf(f, "usage: hwagg sign --key PKCS11-URI [--pin-file FILE] [--format der|raw] [--json] DIGEST-FILE\n"
		   "DIGEST-FILE holds a SHA-256 digest in hex; the signature is printed in base64.\n"
		   "The PIN comes from --pin-file (first line), $HWAGG_PIN or a prompt; see hwagg(1).\n");
	return f == stderr ? HW_EXIT_USAGE : HW_EXIT_OK;
}

enum { O_KEY = 256, O_PIN_FILE, O_FORMAT, O_JSON };
static const struct option sign_longs[] = {
	{ "key", required_argument, NULL, O_KEY },
	{ "pin-file", required_argument, NULL, O_PIN_FILE },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* No --pin: like the other commands, a PIN comes from a file, the
 * environment or the terminal (an unknown option is a usage error). */
static int parse(int argc, char **argv, sign_opts *o)
{
	int c;
	while ((c = getopt_long(argc, argv, "+h", sign_longs, NULL)) != -1) {
		switch (c) {
		case O_KEY: o->uri = optarg; break;
		case O_PIN_FILE: o->pin_file = optarg; break;
		case O_JSON: o->json = true; break;
		case O_FORMAT:
			if (strcmp(optarg, "der") != 0 && strcmp(optarg, "raw") != 0) {
				fprintf(stderr, "hwagg: --format %s: expected der or raw\n", optarg);
				return HW_EXIT_USAGE;
			}
			o->raw = strcmp(optarg, "raw") == 0;
			break;
		case 'h':
			usage_sign(stdout);
			return -1;
		default:
			fprintf(stderr, "hwagg: %s: unknown option or missing value\n", argv[optind - 1]);
			return usage_sign(stderr);
		}
	}
	if (o->uri == NULL || optind != argc - 1) {
		fprintf(stderr, "hwagg: sign needs --key and one DIGEST-FILE\n");
		return usage_sign(stderr);
	}
	o->digest_file = argv[optind];
	return HW_EXIT_OK;
}

/* The file's hex digest: 64 hex digits, a line end or spaces around allowed. */
static int read_digest(const char *path, unsigned char *out)
{
	char buf[DIGEST_FILE_MAX + 1];
	size_t len = 0, a = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "hwagg: %s: cannot be read\n", path);
		return HW_EXIT_USAGE;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
		len--;
	while (a < len && strchr(" \t\r\n", buf[a]) != NULL)
		a++;
	size_t n;
	if (len - a != 64 || !hw_hex_decode(buf + a, len - a, out, 32, &n)) {
		fprintf(stderr, "hwagg: %s: expected a SHA-256 digest as 64 hex digits\n", path);
		return HW_EXIT_USAGE;
	}
	return HW_EXIT_OK;
}

/* token (optional), object, id and type (private, if given) of the URI */
static int parse_uri(const char *text, hw_cli_uri *k)
{
	int ret = hw_cli_uri_parse(text, false, k);
	if (ret == HW_EXIT_OK && k->has_cls && k->cls != CKO_PRIVATE_KEY) {
		fprintf(stderr, "hwagg: --key: type must be private (the key that signs)\n");
		ret = HW_EXIT_USAGE;
	}
	return ret;
}

/* The slot of the URI's token, or without one the only present token. */
static int find_slot(const hw_cli_uri *k, hw_admin_slot *out)
{
	hw_admin_slot *all = NULL;
	size_t n = 0, found = 0;
	CK_RV rv = hw_admin_slots(&all, &n);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: cannot list the slots: %s\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++)
		if (k->token[0] ? strcmp(all[i].name, k->token) == 0 : all[i].present) {
			*out = all[i];
			found++;
		}
	free(all);
	if (found == 1 && out->present)
		return HW_EXIT_OK;
	if (found == 1)
		fprintf(stderr, "hwagg: slot \"%s\": the token is absent%s%s\n", out->name,
			out->health[0] ? ": " : "", out->health);
	else if (k->token[0])
		fprintf(stderr, "hwagg: no slot has the token \"%s\"\n", k->token);
	else
		fprintf(stderr, "hwagg: %s; name it with token= in the URI\n",
			found == 0 ? "no token is present" : "several tokens are present");
	return found == 1 ? HW_EXIT_FAIL : HW_EXIT_USAGE;
}

/* A session on the slot, logged in as the user when the token needs it. */
static int open_session(const sign_opts *o, const hw_admin_slot *slot, CK_SESSION_HANDLE *s)
{
	if (!(slot->token_flags & CKF_LOGIN_REQUIRED)) {
		CK_RV rv = hw_admin_session(slot->id, s);
		if (rv != CKR_OK)
			fprintf(stderr, "hwagg: slot \"%s\": no session: %s\n", slot->name, hw_rv_name(rv));
		return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
	}
	hw_secret *pin = hw_cli_pin(o->pin_file, slot->name);
	if (pin == NULL)
		return o->pin_file != NULL ? HW_EXIT_FAIL : HW_EXIT_USAGE;
	CK_RV rv = hw_admin_login(slot->id, pin->data, pin->len, s);
	hw_secret_free(pin);
	if (rv != CKR_OK)
		fprintf(stderr, "hwagg: slot \"%s\": login failed (%s)\n", slot->name, hw_rv_name(rv));
	return rv == CKR_OK ? HW_EXIT_OK : HW_EXIT_FAIL;
}

/* The output line: base64 of the signature (ECDSA as DER unless raw), or
 * the JSON object with it. NULL on allocation failure. */
static char *render(const sign_opts *o, const hw_admin_sig *sig)
{
	unsigned char der[160];
	const unsigned char *bytes = sig->sig;
	size_t len = sig->sig_len, dlen = sizeof(der);
	if (sig->key_type == CKK_EC && !o->raw) {
		if (hw_ecdsa_rs_to_der(sig->sig, sig->sig_len, der, &dlen) != CKR_OK)
			return NULL;
		bytes = der;
		len = dlen;
	}
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64 == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)b64, bytes, (int)len);
	if (!o->json)
		return b64;
	char id[2 * 128 + 1];
	hw_hex_encode(sig->key.id, sig->key.id_len <= 128 ? sig->key.id_len : 128, id);
	json_object *j = json_object_new_object();
	const char *type = sig->key.security[0] ? sig->key.security : "software";
	json_object_object_add(j, "signature", json_object_new_string(b64));
	json_object_object_add(j, "signer_type", json_object_new_string(type));
	json_object_object_add(j, "key_id", json_object_new_string(id));
	json_object_object_add(j, "algorithm", json_object_new_string(sig->algorithm));
	json_object_object_add(j, "provider_uri",
			       sig->provider_uri[0] ? json_object_new_string(sig->provider_uri) : NULL);
	json_object_object_add(j, "key_uri", json_object_new_string(sig->key.uri));
	json_object_object_add(j, "backend", json_object_new_string(sig->key.backend));
	char *out = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	free(b64);
	return out;
}

int hw_cli_sign(int argc, char **argv)
{
	sign_opts o;
	hw_cli_uri k;
	hw_admin_slot slot;
	hw_admin_sig sig;
	CK_SESSION_HANDLE s;
	unsigned char digest[32];
	char *line = NULL;
	memset(&o, 0, sizeof(o));
	optind = 1;
	opterr = 0;
	int ret = parse(argc, argv, &o);
	if (ret != HW_EXIT_OK)
		return ret < 0 ? HW_EXIT_OK : ret;
	if ((ret = read_digest(o.digest_file, digest)) != HW_EXIT_OK || (ret = parse_uri(o.uri, &k)) != HW_EXIT_OK)
		return ret;
	memset(&sig, 0, sizeof(sig));
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	if ((ret = find_slot(&k, &slot)) != HW_EXIT_OK || (ret = open_session(&o, &slot, &s)) != HW_EXIT_OK)
		goto out;
	rv = hw_admin_sign_digest(s, k.label[0] ? k.label : NULL, k.id_len ? k.id : NULL, k.id_len, digest,
				  sizeof(digest), &sig);
	if (rv == CKR_KEY_HANDLE_INVALID)
		fprintf(stderr, "hwagg: slot \"%s\": %s private key matches %s\n", slot.name,
			sig.matches == 0 ? "no" : "more than one", o.uri);
	else if (rv == CKR_KEY_TYPE_INCONSISTENT)
		fprintf(stderr, "hwagg: slot \"%s\": the key cannot sign a digest (an Ed25519 key signs "
			"the message itself)\n", slot.name);
	else if (rv != CKR_OK)
		fprintf(stderr, "hwagg: slot \"%s\": signing failed: %s\n", slot.name, hw_rv_name(rv));
	else if ((line = render(&o, &sig)) == NULL)
		fprintf(stderr, "hwagg: out of memory\n");
	ret = line != NULL ? HW_EXIT_OK : HW_EXIT_FAIL;
	hw_admin_logout(s);
out:
	hw_admin_sig_clear(&sig);
	hw_admin_close();
	if (line != NULL && (printf("%s\n", line) < 0 || fflush(stdout) != 0))
		ret = HW_EXIT_FAIL;
	free(line);
	return ret;
}
