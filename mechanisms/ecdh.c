/*
 * CKM_ECDH1_DERIVE in software (M 2.3.13): the shared secret of an EC
 * private key and the other party's public point, then CKD_NULL (the raw
 * x-coordinate, cut to the key's length from the left as other tokens
 * do) or an ANSI X9.63 key derivation with SHA-1/SHA-2 and the optional
 * shared data.
 */
#include "mechanisms/ecdh.h"
#include "mechanisms/crypto.h"
#include "mechanisms/mech.h"
#include "common/log.h"

#include <string.h>

/* The KDFs offered, and the hash each runs. */
static CK_MECHANISM_TYPE kdf_hash(CK_ULONG kdf)
{
	switch (kdf) {
	case CKD_SHA1_KDF: return CKM_SHA_1;
	case CKD_SHA224_KDF: return CKM_SHA224;
	case CKD_SHA256_KDF: return CKM_SHA256;
	case CKD_SHA384_KDF: return CKM_SHA384;
	case CKD_SHA512_KDF: return CKM_SHA512;
	default: return HW_NO_HASH;
	}
}

CK_RV hw_ecdh_params_parse(const CK_MECHANISM *mech, CK_ECDH1_DERIVE_PARAMS *out)
{
	CK_ECDH1_DERIVE_PARAMS p;
	if (mech == NULL || mech->pParameter == NULL || mech->ulParameterLen != sizeof(p))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&p, mech->pParameter, sizeof(p));
	if (p.kdf != CKD_NULL && kdf_hash(p.kdf) == HW_NO_HASH)
		return CKR_MECHANISM_PARAM_INVALID;
	/* CKD_NULL takes no shared data (M 2.3.13) */
	if (p.kdf == CKD_NULL && (p.ulSharedDataLen != 0 || p.pSharedData != NULL))
		return CKR_MECHANISM_PARAM_INVALID;
	if ((p.ulSharedDataLen > 0 && p.pSharedData == NULL) || p.ulSharedDataLen > HW_ECDH_SHARED_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p.pPublicData == NULL || p.ulPublicDataLen == 0 || p.ulPublicDataLen > HW_ECDH_POINT_MAX)
		return CKR_MECHANISM_PARAM_INVALID;
	if (out != NULL)
		*out = p;
	return CKR_OK;
}

/* The raw shared secret Z (the x-coordinate, field-size bytes). */
static CK_RV shared_secret(EVP_PKEY *priv, const CK_ECDH1_DERIVE_PARAMS *p, hw_secret **out)
{
	const hw_curve *c = hw_key_curve(priv);
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *pc = NULL;
	hw_secret *z = NULL;
	size_t len = 0;
	CK_RV rv;
	if (c == NULL || c->key_type != CKK_EC)
		return CKR_KEY_TYPE_INCONSISTENT;
	/* the point, raw or as a DER OCTET STRING, must be on the key's curve */
	rv = hw_key_from_public(CKK_EC, c->params, c->params_len, p->pPublicData, p->ulPublicDataLen, &peer);
	if (rv != CKR_OK) {
		hw_debug("ecdh: the other party's point is not one of %s: %s", c->name, hw_rv_name(rv));
		return CKR_MECHANISM_PARAM_INVALID;
	}
	pc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), priv, NULL);
	if (pc == NULL || EVP_PKEY_derive_init(pc) <= 0 || EVP_PKEY_derive_set_peer(pc, peer) <= 0 ||
	    EVP_PKEY_derive(pc, NULL, &len) <= 0 || len == 0) {
		rv = hw_crypto_error("ecdh", CKR_OK);
		goto out;
	}
	if ((z = hw_secret_new(len)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (EVP_PKEY_derive(pc, z->data, &len) <= 0) {
		rv = hw_crypto_error("ecdh", CKR_OK);
		goto out;
	}
	z->len = len;
	*out = z;
	z = NULL;
out:
	hw_secret_free(z);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(peer);
	return rv;
}

/* ANSI X9.63 KDF: Hash(Z || counter || SharedInfo), counter 1, 2, ... as
 * 32-bit big-endian, until want bytes are made. */
static CK_RV x963(CK_MECHANISM_TYPE hash, const hw_secret *z, const CK_ECDH1_DERIVE_PARAMS *p, size_t want,
		  hw_secret *out)
{
	unsigned char md[64];
	CK_RV rv = CKR_OK;
	for (uint32_t counter = 1, done = 0; done < want && rv == CKR_OK; counter++) {
		unsigned char ctr[4] = { counter >> 24, counter >> 16, counter >> 8, counter };
		size_t mdlen = sizeof(md);
		hw_digest *d = NULL;
		if ((rv = hw_digest_new(hash, &d)) == CKR_OK && (rv = hw_digest_update(d, z->data, z->len)) == CKR_OK &&
		    (rv = hw_digest_update(d, ctr, 4)) == CKR_OK &&
		    (p->ulSharedDataLen == 0 || (rv = hw_digest_update(d, p->pSharedData, p->ulSharedDataLen)) == CKR_OK) &&
		    (rv = hw_digest_final(d, md, &mdlen)) == CKR_OK) {
			size_t take = want - done < mdlen ? want - done : mdlen;
			memcpy(out->data + done, md, take);
			done += take;
		}
		hw_digest_free(d);
	}
	hw_wipe(md, sizeof(md));
	return rv;
}

CK_RV hw_ecdh_derive(EVP_PKEY *priv, const CK_ECDH1_DERIVE_PARAMS *p, size_t want, hw_secret **out)
{
	hw_secret *z = NULL, *v = NULL;
	CK_MECHANISM_TYPE hash = kdf_hash(p->kdf);
	CK_RV rv = shared_secret(priv, p, &z);
	if (rv != CKR_OK)
		return rv;
	if (want == 0)
		want = p->kdf == CKD_NULL ? z->len : hw_hash_len(hash);
	if (p->kdf == CKD_NULL && want > z->len) {
		rv = CKR_TEMPLATE_INCONSISTENT;    /* longer than the secret itself */
		goto out;
	}
	if (want > HW_SECRET_MAX) {
		rv = CKR_TEMPLATE_INCONSISTENT;
		goto out;
	}
	if ((v = hw_secret_new(want)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if (p->kdf == CKD_NULL)
		memcpy(v->data, z->data + (z->len - want), want);
	else if ((rv = x963(hash, z, p, want, v)) != CKR_OK)
		goto out;
	v->len = want;
	*out = v;
	v = NULL;
out:
	hw_secret_free(z);
	hw_secret_free(v);
	return rv;
}
