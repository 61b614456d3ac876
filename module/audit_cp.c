/*
 * Checkpoints: the chain head signed with a key of any slot, through the
 * engine's own PKCS#11 functions like any consumer (so a TPM or HSM key
 * works the same as a soft one), and written as a record. Someone who can
 * rewrite the log file can recompute every hash but cannot sign.
 *
 * The key is named by a PKCS#11 URI (RFC 7512): token= (the slot name),
 * object= and/or id=, and, when the slot needs a login that the
 * application has not done, pin-source= (a file holding the PIN, first
 * line) or pin-value=. A login made here is undone after the signature.
 * The engine calls made here record nothing (hw_audit_busy).
 */
#include "module/audit_int.h"
#include "module/fns.h"
#include "module/global.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/secret.h"
#include "mechanisms/mech.h"

#include <inttypes.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIN_MAX 256

int hw_audit_cp_message(char *out, size_t cap, uint64_t seq, const char *head_hex)
{
	return snprintf(out, cap, "hwagg-audit-checkpoint:v1:%" PRIu64 ":%s", seq, head_hex);
}

/* The slot whose name is the URI's token label (blank-padded in the URI). */
static bool find_slot(P11KitUri *u, CK_SLOT_ID *out)
{
	CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);
	char label[33];
	size_t n = sizeof(ti->label);
	memcpy(label, ti->label, n);
	while (n > 0 && label[n - 1] == ' ')
		n--;
	label[n] = '\0';
	for (size_t i = 0; i < hw_g.nslots; i++) {
		if (strcmp(hw_g.slots[i].conf->name, label) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s, P11KitUri *u)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_ULONG n = 1, found = 0;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ATTRIBUTE *a;
	if ((a = p11_kit_uri_get_attribute(u, CKA_LABEL)) != NULL)
		t[n++] = *a;
	if ((a = p11_kit_uri_get_attribute(u, CKA_ID)) != NULL)
		t[n++] = *a;
	if (hw_C_FindObjectsInit(s, t, n) != CKR_OK)
		return CK_INVALID_HANDLE;
	if (hw_C_FindObjects(s, &h, 1, &found) != CKR_OK || found != 1)
		h = CK_INVALID_HANDLE;
	hw_C_FindObjectsFinal(s);
	return h;
}

/* The PIN the URI gives: pin-value, or the first line of the pin-source
 * file. NULL when it gives none. */
static hw_secret *uri_pin(P11KitUri *u)
{
	const char *v = p11_kit_uri_get_pin_value(u), *src = p11_kit_uri_get_pin_source(u);
	char buf[PIN_MAX];
	hw_secret *pin = NULL;
	if (v != NULL)
		return hw_secret_dup(v, strlen(v));
	if (src == NULL)
		return NULL;
	if (strncmp(src, "file:", 5) == 0)
		src += 5;
	FILE *f = fopen(src, "re");
	if (f == NULL) {
		hw_error("audit: checkpoint key: the PIN file %s cannot be read", src);
		return NULL;
	}
	if (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\r\n")] = '\0';
		pin = hw_secret_dup(buf, strlen(buf));
	}
	hw_wipe(buf, sizeof(buf));
	fclose(f);
	return pin;
}

/* The signing mechanism for the key's type: SHA-256 inside. */
static CK_MECHANISM_TYPE key_mech(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k)
{
	CK_KEY_TYPE kt = CK_UNAVAILABLE_INFORMATION;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	if (hw_C_GetAttributeValue(s, k, &a, 1) != CKR_OK)
		return CK_UNAVAILABLE_INFORMATION;
	return kt == CKK_EC ? CKM_ECDSA_SHA256 : kt == CKK_RSA ? CKM_SHA256_RSA_PKCS :
	       kt == CKK_EC_EDWARDS ? CKM_EDDSA : CK_UNAVAILABLE_INFORMATION;
}

/* Find the key (logging in with the URI's PIN if it is not visible yet),
 * sign msg. *logged: a login was made here. */
static CK_RV sign_with(CK_SESSION_HANDLE s, P11KitUri *u, const char *msg, CK_MECHANISM_TYPE *mech,
		       unsigned char *sig, CK_ULONG *sig_len, bool *logged)
{
	CK_OBJECT_HANDLE k = find_key(s, u);
	CK_RV rv;
	if (k == CK_INVALID_HANDLE) {
		hw_secret *pin = uri_pin(u);
		if (pin == NULL)
			return CKR_USER_NOT_LOGGED_IN;
		rv = hw_C_Login(s, CKU_USER, pin->data, pin->len);
		hw_secret_free(pin);
		if (rv != CKR_OK)
			return rv;
		*logged = true;
		if ((k = find_key(s, u)) == CK_INVALID_HANDLE)
			return CKR_KEY_HANDLE_INVALID;
	}
	CK_MECHANISM m = { key_mech(s, k), NULL, 0 };
	if (m.mechanism == CK_UNAVAILABLE_INFORMATION)
		return CKR_KEY_TYPE_INCONSISTENT;
	*mech = m.mechanism;
	if ((rv = hw_C_SignInit(s, &m, k)) != CKR_OK)
		return rv;
	return hw_C_Sign(s, (unsigned char *)msg, strlen(msg), sig, sig_len);
}

void hw_audit_checkpoint(const char *uri, uint64_t seq, const unsigned char *head)
{
	char head_hex[2 * HW_AUDIT_HASH_LEN + 1], msg[160], buf[HW_AUDIT_LINE_MAX];
	unsigned char sig[1024];
	CK_ULONG sig_len = sizeof(sig);
	CK_MECHANISM_TYPE mech = CK_UNAVAILABLE_INFORMATION;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID slot = 0;
	bool logged = false;
	hw_jsonw w;
	CK_RV rv = CKR_HOST_MEMORY;
	P11KitUri *u = p11_kit_uri_new();

	hw_audit_busy = true;
	for (size_t i = 0; i < HW_AUDIT_HASH_LEN; i++)
		snprintf(head_hex + 2 * i, 3, "%02x", head[i]);
	hw_audit_cp_message(msg, sizeof(msg), seq, head_hex);
	if (u == NULL)
		goto out;
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u) != P11_KIT_URI_OK || !find_slot(u, &slot)) {
		rv = CKR_SLOT_ID_INVALID;
		goto out;
	}
	if ((rv = hw_C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK)
		goto out;
	rv = sign_with(s, u, msg, &mech, sig, &sig_len, &logged);
	if (logged)
		hw_C_Logout(s);
	hw_C_CloseSession(s);
	if (rv != CKR_OK)
		goto out;
	hw_jsonw_init(&w, buf, sizeof(buf));
	hw_jsonw_fmt(&w, ",\"event\":\"checkpoint\",\"head_seq\":%" PRIu64 ",\"head\":\"%s\"", seq, head_hex);
	hw_jsonw_kstr(&w, "slot", hw_g.slots[slot].conf->name, 64);
	/* the query may hold the PIN (pin-value): the path names the key */
	hw_jsonw_raw(&w, ",\"key_uri\":");
	hw_jsonw_str(&w, uri, strcspn(uri, "?"), 1024);
	hw_jsonw_fmt(&w, ",\"mech\":\"%s\",\"sig\":", hw_mech_name(mech));
	hw_jsonw_hex(&w, sig, sig_len);
	hw_jsonw_raw(&w, ",\"result\":\"CKR_OK\"");
	rv = w.ok ? hw_audit_write(buf, NULL, NULL) : CKR_DATA_LEN_RANGE;
out:
	if (rv != CKR_OK)
		hw_warn("audit: checkpoint of record %" PRIu64 " with %.*s: %s%s", seq, (int)strcspn(uri, "?"), uri,
			hw_rv_name(rv),
			rv == CKR_USER_NOT_LOGGED_IN ? " (the key needs a login: add pin-source= to the URI)" :
			rv == CKR_SLOT_ID_INVALID ? " (no slot has that token name)" : "");
	p11_kit_uri_free(u);
	hw_audit_busy = false;
}
