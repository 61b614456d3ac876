/*
 * The operator's API, part two (admin.h): a tpm key's attestation bundle,
 * and `hwagg sign`: one digest signed with a key named by label or id.
 */
#include "module/admin_int.h"
#include "module/fns.h"
#include "mechanisms/encode.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tpm slot key's attestation ------------------------------------------ */

/* The first object matching t: its attribute type, allocated. */
static CK_RV first_value(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG tn, CK_ATTRIBUTE_TYPE type,
			 unsigned char **val, size_t *len)
{
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;
	CK_RV rv = hw_adm_find_all(s, t, tn, &hs, &n);
	*val = NULL;
	if (rv == CKR_OK && n == 0)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK)
		rv = hw_adm_attr_get(s, hs[0], type, val, len);
	if (rv == CKR_OK && *val == NULL)
		rv = CKR_ATTRIBUTE_TYPE_INVALID;
	free(hs);
	return rv;
}

CK_RV hw_admin_attestation(CK_SLOT_ID slot, const unsigned char *id, size_t id_len, unsigned char **bundle,
			   size_t *blen, unsigned char **spki, size_t *slen)
{
	static const char app[] = "hwagg-attestation";
	CK_OBJECT_CLASS data = CKO_DATA, pub = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE dt[] = {
		{ CKA_CLASS, &data, sizeof(data) },
		{ CKA_APPLICATION, (void *)app, sizeof(app) - 1 },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
	};
	CK_ATTRIBUTE pt[] = {
		{ CKA_CLASS, &pub, sizeof(pub) },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
	};
	CK_SESSION_HANDLE s;
	HW_RETURN_IF(id == NULL || id_len == 0 || bundle == NULL || blen == NULL || spki == NULL || slen == NULL,
		     CKR_ARGUMENTS_BAD);
	*bundle = *spki = NULL;
	/* both are public objects: no login */
	CK_RV rv = hw_C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		return rv;
	rv = first_value(s, dt, HW_ARRAY_LEN(dt), CKA_VALUE, bundle, blen);
	if (rv == CKR_OK)
		rv = first_value(s, pt, HW_ARRAY_LEN(pt), CKA_PUBLIC_KEY_INFO, spki, slen);
	hw_C_CloseSession(s);
	if (rv != CKR_OK) {
		free(*bundle);
		free(*spki);
		*bundle = *spki = NULL;
	}
	return rv;
}

/* ---- signing a digest (hwagg sign) ----------------------------------------------- */

void hw_admin_sig_clear(hw_admin_sig *sig)
{
	if (sig == NULL)
		return;
	hw_adm_key_clear(&sig->key);
	memset(sig, 0, sizeof(*sig));
}

/* The mechanism and input for a SHA-256 digest, and the algorithm's name. */
static CK_RV digest_mech(hw_admin_sig *out, const unsigned char *digest, size_t len, CK_MECHANISM *m,
			 unsigned char *buf, size_t *buf_len)
{
	const char *alg = out->key.algorithm;
	if (out->key_type == CKK_EC) {
		m->mechanism = CKM_ECDSA;
		snprintf(out->algorithm, sizeof(out->algorithm), "ecdsa-%s-sha256",
			 strncmp(alg, "ec-", 3) == 0 ? alg + 3 : alg);
		memcpy(buf, digest, len);
		*buf_len = len;
		return CKR_OK;
	}
	if (out->key_type != CKK_RSA)
		return CKR_KEY_TYPE_INCONSISTENT;
	m->mechanism = CKM_RSA_PKCS;
	snprintf(out->algorithm, sizeof(out->algorithm), "%s-pkcs1v15-sha256", alg[0] ? alg : "rsa");
	return hw_digestinfo_encode(CKM_SHA256, digest, len, buf, buf_len);
}

CK_RV hw_admin_sign_digest(CK_SESSION_HANDLE s, const char *label, const unsigned char *id, size_t id_len,
			   const unsigned char *digest, size_t len, hw_admin_sig *out)
{
	CK_ULONG kt, sig_len;
	CK_OBJECT_HANDLE *hs = NULL, h;
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char in[128];
	size_t in_len = sizeof(in), n = 0;
	char token[33];
	HW_RETURN_IF(out == NULL || digest == NULL || len != 32 || (id == NULL && id_len > 0), CKR_ARGUMENTS_BAD);
	memset(out, 0, sizeof(*out));
	CK_RV rv = hw_adm_find_private(s, false, label, id, id_len, token, &hs, &n);
	if (rv != CKR_OK)
		return rv;
	out->matches = n;
	h = n == 1 ? hs[0] : CK_INVALID_HANDLE;
	free(hs);
	if (n != 1)
		return CKR_KEY_HANDLE_INVALID;
	if ((rv = hw_adm_key_read(s, h, CKO_PRIVATE_KEY, token, &out->key)) != CKR_OK ||
	    (rv = hw_adm_attr_ulong(s, h, CKA_KEY_TYPE, &kt)) != CKR_OK ||
	    (rv = hw_adm_attr_text(s, h, CKA_HWAGG_PROVIDER_URI, out->provider_uri, sizeof(out->provider_uri))) != CKR_OK)
		goto out;
	out->key_type = kt;
	if ((rv = digest_mech(out, digest, len, &m, in, &in_len)) != CKR_OK)
		goto out;
	sig_len = sizeof(out->sig);
	rv = hw_C_SignInit(s, &m, h);
	if (rv == CKR_OK)
		rv = hw_C_Sign(s, in, (CK_ULONG)in_len, out->sig, &sig_len);
	out->sig_len = rv == CKR_OK ? sig_len : 0;
out:
	if (rv != CKR_OK)
		hw_adm_key_clear(&out->key);
	return rv;
}
