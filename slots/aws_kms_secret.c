/*
 * The aws-kms slot's HMAC keys: C_GenerateKey makes a KMS key of KeySpec
 * HMAC_224/256/384/512 and KeyUsage GENERATE_VERIFY_MAC (tagged as key
 * pairs are), and the HMAC mechanisms are GenerateMac and VerifyMac. KMS
 * keeps no key type: a key made as CKK_GENERIC_SECRET says so in a tag,
 * any other lists as the HMAC key type of its digest.
 */
#include "slots/aws_kms.h"
#include "common/log.h"
#include "mechanisms/encode.h"

#include <stdlib.h>
#include <string.h>

/* The KeySpec of a key type and length: an HMAC key type names its
 * digest, a generic secret's length picks it. */
static const char *mac_spec(CK_KEY_TYPE kt, CK_ULONG len)
{
	static const struct {
		CK_KEY_TYPE type;
		CK_ULONG len;
		const char *spec;
	} specs[] = {
		{ CKK_SHA224_HMAC, 28, "HMAC_224" }, { CKK_SHA256_HMAC, 32, "HMAC_256" },
		{ CKK_SHA384_HMAC, 48, "HMAC_384" }, { CKK_SHA512_HMAC, 64, "HMAC_512" },
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (specs[i].len == len && (kt == CKK_GENERIC_SECRET || kt == specs[i].type))
			return specs[i].spec;
	return NULL;
}

CK_RV hw_kms_generate_secret(void *vc, const CK_MECHANISM *mech, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_kms_ctx *c = vc;
	CK_KEY_TYPE kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
	CK_ULONG len = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	hw_kms_key *kept = NULL;
	size_t idx = 0;
	const char *spec = mac_spec(kt, len);
	CK_RV rv;
	/* a token AES key is a KMS symmetric key: 256-bit, for wrapping */
	if (mech->mechanism == CKM_AES_KEY_GEN) {
		if (len != 32)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if ((rv = hw_kms_create_key(c, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", hw_attrs_get(attrs, CKA_LABEL),
					    hw_attrs_get(attrs, CKA_ID), NULL, NULL, &kept, &idx)) != CKR_OK)
			return rv;
		spec = "SYMMETRIC_DEFAULT";
	}
	if (spec == NULL) {
		hw_info("slot \"%s\" (aws-kms): KMS makes HMAC keys of 28, 32, 48 or 64 bytes (SHA-224 to SHA-512), "
			"not %lu bytes of key type 0x%lx", c->cs.conf->name, (unsigned long)len, (unsigned long)kt);
		return kt == CKK_GENERIC_SECRET || mac_spec(kt, 32) != NULL || mac_spec(kt, 28) != NULL
			? CKR_ATTRIBUTE_VALUE_INVALID : CKR_TEMPLATE_INCONSISTENT;
	}
	if (kept == NULL &&
	    (rv = hw_kms_create_key(c, spec, "GENERATE_VERIFY_MAC", hw_attrs_get(attrs, CKA_LABEL),
				    hw_attrs_get(attrs, CKA_ID), kt == CKK_GENERIC_SECRET ? "CKA_KEY_TYPE" : NULL,
				    "CKK_GENERIC_SECRET", &kept, &idx)) != CKR_OK)
		return rv;
	if ((rv = hw_kms_key_attrs(c, kept, NULL, attrs)) != CKR_OK)
		return rv;
	*oid = (int64_t)(2 * idx + 1);
	*bdata = kept;
	return CKR_OK;
}

static const char *mac_alg(CK_MECHANISM_TYPE h)
{
	switch (h) {
	case CKM_SHA224: return "HMAC_SHA_224";
	case CKM_SHA256: return "HMAC_SHA_256";
	case CKM_SHA384: return "HMAC_SHA_384";
	case CKM_SHA512: return "HMAC_SHA_512";
	default: return NULL;
	}
}

CK_RV hw_kms_mac(void *vc, const void *key, CK_MECHANISM_TYPE hash, const unsigned char *msg, size_t len,
		 unsigned char *out, size_t *out_len, const unsigned char *want, size_t want_len)
{
	hw_kms_ctx *c = vc;
	const hw_kms_key *k = key;
	const char *alg = mac_alg(hash), *op = want != NULL ? "VerifyMac" : "GenerateMac";
	char *m64 = NULL, *w64 = NULL;
	unsigned char *mac = NULL;
	size_t got = 0;
	json_object *body = NULL, *resp = NULL, *valid;
	hw_cloud_err e;
	CK_RV rv = CKR_HOST_MEMORY;
	if (!k->mac || alg == NULL || hash != k->ec_hash)
		return CKR_KEY_TYPE_INCONSISTENT;
	if ((m64 = hw_b64_encode(msg, len)) == NULL || (body = json_object_new_object()) == NULL ||
	    (want != NULL && (w64 = hw_b64_encode(want, want_len)) == NULL))
		goto out;
	json_object_object_add(body, "KeyId", json_object_new_string(k->arn));
	json_object_object_add(body, "Message", json_object_new_string(m64));
	json_object_object_add(body, "MacAlgorithm", json_object_new_string(alg));
	if (w64 != NULL)
		json_object_object_add(body, "Mac", json_object_new_string(w64));
	/* both change nothing: safe to repeat */
	rv = hw_kms_call(c, op, true, body, &resp, &e);
	/* KMS answers a MAC that does not match with an error, not MacValid false */
	if (want != NULL && rv != CKR_OK && strcmp(e.code, "KMSInvalidMacException") == 0) {
		rv = CKR_SIGNATURE_INVALID;
		goto out;
	}
	if (rv != CKR_OK)
		goto out;
	if (want != NULL) {
		rv = json_object_object_get_ex(resp, "MacValid", &valid) && json_object_get_boolean(valid)
			? CKR_OK : CKR_SIGNATURE_INVALID;
		goto out;
	}
	if ((mac = hw_b64_decode(hw_cloud_jstr(resp, "Mac"), &got)) == NULL || got > *out_len) {
		hw_cloud_err_set(&e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "GenerateMac answered no base64 Mac of at most %zu bytes", *out_len);
		hw_cloud_err_log(c->cs.conf->name, "aws-kms", op, &e);
		goto out;
	}
	memcpy(out, mac, got);
	*out_len = got;
out:
	free(mac);
	free(m64);
	free(w64);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

static void wipe_field(json_object *o, const char *field)
{
	const char *v = hw_cloud_jstr(o, field);
	if (v != NULL)
		hw_wipe((void *)v, strlen(v));
}

/* Encrypt (wrap) or Decrypt of a data key under the key-encryption key,
 * bound to its purpose by the encryption context (a blob made for
 * anything else does not decrypt here): the answer's blob into *out. */
static CK_RV kek_call(hw_kms_ctx *c, const hw_kms_key *k, bool wrap, const unsigned char *in, size_t len,
		      unsigned char **out, size_t *out_len)
{
	const char *op = wrap ? "Encrypt" : "Decrypt";
	char *in64 = NULL;
	json_object *body = NULL, *resp = NULL, *ctx = NULL;
	hw_cloud_err e;
	CK_RV rv = CKR_HOST_MEMORY;
	*out = NULL;
	if (!k->kek)
		return wrap ? CKR_WRAPPING_KEY_TYPE_INCONSISTENT : CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	if ((in64 = hw_b64_encode(in, len)) == NULL || (body = json_object_new_object()) == NULL ||
	    (ctx = json_object_new_object()) == NULL)
		goto out;
	json_object_object_add(ctx, "hwagg", json_object_new_string("data-key"));
	json_object_object_add(body, "KeyId", json_object_new_string(k->arn));
	json_object_object_add(body, wrap ? "Plaintext" : "CiphertextBlob", json_object_new_string(in64));
	json_object_object_add(body, "EncryptionContext", ctx);
	ctx = NULL;
	/* each Encrypt makes another blob, all of them good: safe to repeat */
	if ((rv = hw_kms_call(c, op, true, body, &resp, &e)) != CKR_OK)
		goto out;
	const char *field = wrap ? "CiphertextBlob" : "Plaintext";
	if ((*out = hw_b64_decode(hw_cloud_jstr(resp, field), out_len)) == NULL) {
		hw_cloud_err_set(&e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "%s answered without a base64 %s", op, field);
		hw_cloud_err_log(c->cs.conf->name, "aws-kms", op, &e);
	}
out:
	/* the data key's value, base64, in our copy, the request's and the answer's */
	wipe_field(body, "Plaintext");
	wipe_field(resp, "Plaintext");
	if (wrap && in64 != NULL)
		hw_wipe(in64, strlen(in64));
	free(in64);
	json_object_put(ctx);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_kms_wrap(void *vc, const void *kek, const unsigned char *pt, size_t len, unsigned char **ct, size_t *ct_len)
{
	return kek_call(vc, kek, true, pt, len, ct, ct_len);
}

CK_RV hw_kms_unwrap(void *vc, const void *kek, const unsigned char *ct, size_t len, hw_secret **pt)
{
	unsigned char *raw = NULL;
	size_t n = 0;
	CK_RV rv = kek_call(vc, kek, false, ct, len, &raw, &n);
	if (rv != CKR_OK)
		return rv;
	return hw_cloud_secret_take(raw, n, pt);
}
