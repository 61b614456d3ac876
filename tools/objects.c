/*
 * hwagg delete, export-pubkey and import-cert: a key named by its PKCS#11
 * URI (RFC 7512, as keygen and keys print it): token= is the slot, id= the
 * key's CKA_ID; without id=, object= (the label) finds it among the keys.
 */
#include "tools/cli.h"
#include "common/log.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_MAX 128
#define CERT_MAX (64 * 1024)

/* Without id=: the id of the only private key labelled object= (logged in). */
static int resolve_id(CK_SESSION_HANDLE s, hw_cli_uri *k)
{
	hw_admin_key *keys = NULL;
	size_t n = 0, found = 0;
	if (k->id_len > 0)
		return HW_EXIT_OK;
	CK_RV rv = hw_admin_keys(s, &keys, &n);
	for (size_t i = 0; rv == CKR_OK && i < n; i++) {
		if (strcmp(keys[i].label, k->label) != 0 || keys[i].id_len == 0 || keys[i].id_len > ID_MAX)
			continue;
		memcpy(k->id, keys[i].id, keys[i].id_len);
		k->id_len = keys[i].id_len;
		found++;
	}
	hw_admin_keys_free(keys, n);
	if (rv == CKR_OK && found == 1)
		return HW_EXIT_OK;
	fprintf(stderr, "hwagg: slot \"%s\": %s key labelled \"%s\"%s%s\n", k->token,
		rv != CKR_OK ? "cannot list the keys to find the" : found == 0 ? "no" : "more than one",
		k->label, rv != CKR_OK ? ": " : found > 1 ? "; name it by id=" : "", rv != CKR_OK ? hw_rv_name(rv) : "");
	return HW_EXIT_FAIL;
}

/* The URI's slot, logged in with the user PIN, and the key's id. */
static int begin_uri(const char *uri, const char *pin_file, hw_cli_uri *k, CK_SESSION_HANDLE *s)
{
	hw_admin_slot slot;
	int ret = hw_cli_uri_parse(uri, true, k);
	if (ret != HW_EXIT_OK || (ret = hw_cli_begin(k->token, pin_file, &slot, s)) != HW_EXIT_OK)
		return ret;
	if ((ret = resolve_id(*s, k)) != HW_EXIT_OK) {
		hw_admin_logout(*s);
		hw_admin_close();
	}
	return ret;
}

/* On a terminal, "yes" typed; elsewhere --yes. */
static bool confirmed(const hw_cli_uri *k, bool yes)
{
	char line[16];
	if (yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "hwagg delete: not on a terminal: give --yes to destroy the key\n");
		return false;
	}
	fprintf(stderr, "Destroy the key pair with id ");
	for (size_t i = 0; i < k->id_len; i++)
		fprintf(stderr, "%02x", k->id[i]);
	fprintf(stderr, " on slot \"%s\" and its certificate? This cannot be undone. Type yes: ", k->token);
	return fgets(line, sizeof(line), stdin) != NULL && strcmp(line, "yes\n") == 0;
}

int hw_cli_delete(int argc, char **argv)
{
	hw_cli_opts o;
	hw_cli_uri k;
	CK_SESSION_HANDLE s;
	unsigned n = 0;
	int ret = hw_cli_parse(argc, argv, HW_OPT_YES | HW_OPT_PIN_FILE, 1, 1, &o);
	if (ret != HW_EXIT_OK || (ret = begin_uri(o.args[0], o.pin_file, &k, &s)) != HW_EXIT_OK)
		return ret;
	if (!confirmed(&k, o.yes)) {
		ret = HW_EXIT_USAGE;
		goto out;
	}
	CK_RV rv = hw_admin_destroy_id(s, k.id, k.id_len, &n);
	if (rv != CKR_OK || n == 0) {
		fprintf(stderr, "hwagg: slot \"%s\": %s\n", k.token, rv != CKR_OK ? hw_rv_name(rv) : "no such key");
		ret = HW_EXIT_FAIL;
	} else {
		printf("slot \"%s\": %u object(s) destroyed\n", k.token, n);
	}
out:
	hw_admin_logout(s);
	hw_admin_close();
	return ret;
}

/* No login: a public key is a public object (found by id=, or by object=
 * among the public keys). */
int hw_cli_export_pubkey(int argc, char **argv)
{
	hw_cli_opts o;
	hw_cli_uri k;
	hw_admin_slot slot;
	CK_SESSION_HANDLE s;
	unsigned char *der = NULL;
	size_t len = 0;
	int ret = hw_cli_parse(argc, argv, HW_OPT_PEM, 1, 1, &o);
	if (ret != HW_EXIT_OK ||
	    (ret = hw_cli_uri_parse(o.args[0], true, &k)) != HW_EXIT_OK)
		return ret;
	if (k.id_len == 0) {
		fprintf(stderr, "hwagg export-pubkey: %s: expected id= (hwagg keys prints it)\n", o.args[0]);
		return HW_EXIT_USAGE;
	}
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	if ((ret = hw_cli_pick_slot(k.token, true, &slot)) == HW_EXIT_OK && (rv = hw_admin_session(slot.id, &s)) == CKR_OK) {
		rv = hw_admin_public_key(s, k.id, k.id_len, &der, &len);
		hw_admin_logout(s);
	}
	if (ret == HW_EXIT_OK && rv != CKR_OK) {
		fprintf(stderr, "hwagg: slot \"%s\": %s\n", k.token,
			rv == CKR_OBJECT_HANDLE_INVALID ? "no public key with that id" : hw_rv_name(rv));
		ret = HW_EXIT_FAIL;
	} else if (ret == HW_EXIT_OK && o.pem) {
		const unsigned char *p = der;
		EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
		if (pk == NULL || !PEM_write_PUBKEY(stdout, pk))
			ret = HW_EXIT_FAIL;
		EVP_PKEY_free(pk);
	} else if (ret == HW_EXIT_OK && fwrite(der, 1, len, stdout) != len) {
		ret = HW_EXIT_FAIL;
	}
	free(der);
	hw_admin_close();
	return ret;
}

/* The certificate in FILE, PEM or DER, as DER; NULL after a message. */
static unsigned char *read_cert(const char *path, size_t *len)
{
	unsigned char *der = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "hwagg import-cert: %s: cannot read it\n", path);
		return NULL;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	int n = x != NULL ? i2d_X509(x, &der) : -1;
	X509_free(x);
	if (n <= 0 || n > CERT_MAX) {
		fprintf(stderr, "hwagg import-cert: %s: expected an X.509 certificate, PEM or DER\n", path);
		OPENSSL_free(der);
		return NULL;
	}
	*len = (size_t)n;
	return der;
}

int hw_cli_import_cert(int argc, char **argv)
{
	hw_cli_opts o;
	hw_cli_uri k;
	CK_SESSION_HANDLE s;
	size_t len = 0;
	int ret = hw_cli_parse(argc, argv, HW_OPT_PIN_FILE, 2, 2, &o);
	if (ret != HW_EXIT_OK)
		return ret;
	unsigned char *der = read_cert(o.args[1], &len);
	if (der == NULL)
		return HW_EXIT_FAIL;
	if ((ret = begin_uri(o.args[0], o.pin_file, &k, &s)) != HW_EXIT_OK) {
		OPENSSL_free(der);
		return ret;
	}
	CK_RV rv = hw_admin_import_cert(s, k.id, k.id_len, k.label, der, len);
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: slot \"%s\": storing the certificate failed: %s\n", k.token, hw_rv_name(rv));
		ret = HW_EXIT_FAIL;
	} else {
		printf("slot \"%s\": certificate stored with the key's id\n", k.token);
	}
	OPENSSL_free(der);
	hw_admin_logout(s);
	hw_admin_close();
	return ret;
}
