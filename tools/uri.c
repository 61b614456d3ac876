/*
 * A key named by a PKCS#11 URI (RFC 7512) on the command line, read with
 * p11-kit's parser for every command that takes one (delete,
 * export-pubkey, import-cert, sign). A PIN in the URI is refused: a
 * command line is readable by every user of the machine.
 */
#include "tools/cli.h"

#include <p11-kit/uri.h>
#include <stdlib.h>
#include <string.h>

int hw_cli_uri_parse(const char *text, bool need_token, hw_cli_uri *k)
{
	P11KitUri *u = p11_kit_uri_new();
	int ret = HW_EXIT_USAGE;
	memset(k, 0, sizeof(*k));
	if (u == NULL)
		return HW_EXIT_FAIL;
	int pr = p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u);
	if (pr != P11_KIT_URI_OK) {
		fprintf(stderr, "hwagg: %s: expected a PKCS#11 URI (pkcs11:token=...;id=...), as hwagg keys prints "
			"(%s)\n", text, p11_kit_uri_message(pr));
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u) != NULL) {
		fprintf(stderr, "hwagg: %s: a PIN in the URI is readable by every user of this machine; "
			"give --pin-file FILE or set HWAGG_PIN\n", text);
		goto out;
	}
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);
	size_t n = sizeof(ti->label);
	while (n > 0 && ti->label[n - 1] == ' ')
		n--;
	memcpy(k->token, ti->label, n);
	CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(u, CKA_CLASS);
	CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(u, CKA_LABEL), *id = p11_kit_uri_get_attribute(u, CKA_ID);
	if (cls != NULL && cls->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
		k->has_cls = true;
		memcpy(&k->cls, cls->pValue, sizeof(k->cls));
	}
	if ((id != NULL && (id->ulValueLen == 0 || id->ulValueLen > sizeof(k->id))) ||
	    (label != NULL && (label->ulValueLen >= sizeof(k->label) ||
			       memchr(label->pValue, '\0', label->ulValueLen) != NULL))) {
		fprintf(stderr, "hwagg: %s: a malformed or too long value of %s=\n", text, id != NULL ? "id" : "object");
		goto out;
	}
	if ((need_token && k->token[0] == '\0') || (id == NULL && label == NULL)) {
		fprintf(stderr, "hwagg: %s: expected %sid= (or object=)\n", text, need_token ? "token= and " : "");
		goto out;
	}
	if (id != NULL) {
		memcpy(k->id, id->pValue, id->ulValueLen);
		k->id_len = id->ulValueLen;
	}
	if (label != NULL)
		memcpy(k->label, label->pValue, label->ulValueLen);
	ret = HW_EXIT_OK;
out:
	p11_kit_uri_free(u);
	return ret;
}
