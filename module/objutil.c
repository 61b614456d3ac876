#include "module/objutil.h"
#include "common/log.h"
#include "mechanisms/crypto.h"
#include "objects/rules.h"
#include "module/policy.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static CK_RV set_from_x509(hw_attrs *a, CK_ATTRIBUTE_TYPE t, const unsigned char *der, int len)
{
	const CK_ATTRIBUTE *cur = hw_attrs_get(a, t);
	if (len <= 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (cur != NULL && cur->ulValueLen > 0)
		return CKR_OK;              /* the application's value stands */
	return hw_attrs_set(a, t, der, (CK_ULONG)len);
}

static CK_RV complete_cert(hw_attrs *a)
{
	CK_RV rv = CKR_OK;
	unsigned char *der = NULL;
	CK_ULONG type = hw_attrs_get_ulong(a, CKA_CERTIFICATE_TYPE, CK_UNAVAILABLE_INFORMATION);
	const CK_ATTRIBUTE *v = hw_attrs_get(a, CKA_VALUE);
	if (type == CK_UNAVAILABLE_INFORMATION || v == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (type != CKC_X_509)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	const unsigned char *p = v->pValue;
	X509 *x = X509_new_ex(hw_crypto_ctx(), NULL);
	if (x == NULL)
		return CKR_HOST_MEMORY;
	if (d2i_X509(&x, &p, (long)v->ulValueLen) == NULL || p != (const unsigned char *)v->pValue + v->ulValueLen) {
		hw_info("create object: the certificate's CKA_VALUE is not DER X.509");
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
		goto out;
	}
	int len = i2d_X509_NAME(X509_get_subject_name(x), &der);
	if ((rv = set_from_x509(a, CKA_SUBJECT, der, len)) != CKR_OK)
		goto out;
	OPENSSL_free(der);
	der = NULL;
	len = i2d_X509_NAME(X509_get_issuer_name(x), &der);
	if ((rv = set_from_x509(a, CKA_ISSUER, der, len)) != CKR_OK)
		goto out;
	OPENSSL_free(der);
	der = NULL;
	len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &der);
	rv = set_from_x509(a, CKA_SERIAL_NUMBER, der, len);
out:
	OPENSSL_free(der);
	X509_free(x);
	return rv;
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

static CK_RV complete_pubkey(hw_attrs *a)
{
	CK_ULONG kt = hw_attrs_get_ulong(a, CKA_KEY_TYPE, CK_UNAVAILABLE_INFORMATION);
	const CK_ATTRIBUTE *x, *y;
	EVP_PKEY *k = NULL;
	CK_RV rv;
	if (kt == CK_UNAVAILABLE_INFORMATION)
		return CKR_TEMPLATE_INCOMPLETE;
	if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
		x = hw_attrs_get(a, CKA_EC_PARAMS);
		y = hw_attrs_get(a, CKA_EC_POINT);
	} else if (kt == CKK_RSA) {
		x = hw_attrs_get(a, CKA_MODULUS);
		y = hw_attrs_get(a, CKA_PUBLIC_EXPONENT);
	} else {
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if (x == NULL || y == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	rv = hw_key_from_public(kt, x->pValue, x->ulValueLen, y->pValue, y->ulValueLen, &k);
	if (rv != CKR_OK)
		return rv;
	/* the canonical encodings replace what the application sent */
	rv = hw_key_public_attrs(k, sink_set, a);
	EVP_PKEY_free(k);
	return rv;
}

CK_RV hw_obj_complete_import(hw_attrs *a, CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_CERTIFICATE: return complete_cert(a);
	case CKO_PUBLIC_KEY: return complete_pubkey(a);
	default: return CKR_OK;
	}
}

CK_RV hw_obj_common_attrs(hw_attrs *a, const hw_slot *s)
{
	unsigned char r[16];
	char uid[33];
	CK_RV rv = hw_random(r, sizeof(r));
	if (rv != CKR_OK)
		return rv;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(uid + 2 * i, 3, "%02x", r[i]);
	if (hw_attrs_get(a, CKA_UNIQUE_ID) == NULL && (rv = hw_attrs_set_str(a, CKA_UNIQUE_ID, uid)) != CKR_OK)
		return rv;
	/* the environment it is made in: production refuses development keys */
	if ((rv = hw_attrs_set_str(a, CKA_HWAGG_SLOT, s->conf->name)) != CKR_OK ||
	    (rv = hw_attrs_set_time(a, CKA_HWAGG_CREATED, (int64_t)time(NULL))) != CKR_OK ||
	    (rv = hw_attrs_set_str(a, CKA_HWAGG_ENVIRONMENT, hw_env_name(hw_env_current(NULL, 0)))) != CKR_OK)
		return rv;
	return hw_attrs_set_str(a, CKA_HWAGG_BACKEND, s->conf->type);
}

CK_RV hw_vendor_attrs(hw_attrs *a, const char *backend, hw_security sec, CK_ULONG version,
		      const char *uri)
{
	CK_RV rv;
	if ((rv = hw_attrs_set_str(a, CKA_HWAGG_BACKEND, backend)) != CKR_OK ||
	    (rv = hw_attrs_set_str(a, CKA_HWAGG_SECURITY_LEVEL, hw_security_name(sec))) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(a, CKA_HWAGG_KEY_VERSION, version)) != CKR_OK)
		return rv;
	return uri ? hw_attrs_set_str(a, CKA_HWAGG_PROVIDER_URI, uri) : CKR_OK;
}

CK_RV hw_keypair_complete(hw_attrs *pub, hw_attrs *priv)
{
	const CK_ATTRIBUTE *id = hw_attrs_get(pub, CKA_ID), *pid = hw_attrs_get(priv, CKA_ID);
	CK_RV rv;
	if ((id == NULL || id->ulValueLen == 0) && (pid == NULL || pid->ulValueLen == 0)) {
		/* No CKA_ID given: derive one from the public key, as consumers
		 * pair keys and certificates by CKA_ID. */
		const CK_ATTRIBUTE *k = hw_attrs_get(pub, CKA_PUBLIC_KEY_INFO);
		unsigned char md[64];
		size_t mdlen = sizeof(md);
		if (k == NULL)
			return CKR_GENERAL_ERROR;
		if ((rv = hw_digest_once(CKM_SHA_1, k->pValue, k->ulValueLen, md, &mdlen)) != CKR_OK)
			return rv;
		if ((rv = hw_attrs_set(pub, CKA_ID, md, mdlen)) != CKR_OK ||
		    (rv = hw_attrs_set(priv, CKA_ID, md, mdlen)) != CKR_OK)
			return rv;
	} else if (id == NULL || id->ulValueLen == 0) {
		if ((rv = hw_attrs_set(pub, CKA_ID, pid->pValue, pid->ulValueLen)) != CKR_OK)
			return rv;
	} else if (pid == NULL || pid->ulValueLen == 0) {
		if ((rv = hw_attrs_set(priv, CKA_ID, id->pValue, id->ulValueLen)) != CKR_OK)
			return rv;
	}
	/* the private key carries the public parts too (M 2.1.3, 2.3.4) */
	static const CK_ATTRIBUTE_TYPE shared[] = { CKA_PUBLIC_KEY_INFO, CKA_MODULUS,
		CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS };
	for (size_t i = 0; i < HW_ARRAY_LEN(shared); i++) {
		const CK_ATTRIBUTE *v = hw_attrs_get(pub, shared[i]);
		if (v != NULL && (rv = hw_attrs_set(priv, shared[i], v->pValue, v->ulValueLen)) != CKR_OK)
			return rv;
	}
	return CKR_OK;
}
