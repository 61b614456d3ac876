/*
 * The gcp-kms slot's key operations: asymmetricSign over a digest (the
 * algorithm of the version fixes hash and padding; the request is checked
 * against it here), asymmetricDecrypt (OAEP), and destroying a version.
 * Every digest and ciphertext goes out with its CRC32C and every answer's
 * CRC32C fields are checked; a damaged answer is discarded and the call
 * made once more, as Google's integrity guide asks.
 */
#include "slots/gcp_kms.h"
#include "common/log.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *digest_field(CK_MECHANISM_TYPE h)
{
	return h == CKM_SHA256 ? "sha256" : h == CKM_SHA384 ? "sha384" : h == CKM_SHA512 ? "sha512" : NULL;
}

/* The digest to send for a request, checked against the version's algorithm. */
static CK_RV sign_digest(hw_gcp_ctx *c, const hw_gcp_key *k, const hw_sign_req *req, const unsigned char **dg,
			 size_t *dl)
{
	CK_MECHANISM_TYPE h = 0;
	if (k->decrypt)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	switch (req->base) {
	case CKM_ECDSA:
		if (k->type != CKK_EC)
			return CKR_KEY_TYPE_INCONSISTENT;
		/* the algorithm fixes the hash: only its digest length is signed */
		if (req->len != hw_hash_len(k->hash)) {
			hw_warn("slot \"%s\" (gcp-kms): %s signs only %zu-byte digests, not %zu bytes", c->cs.conf->name, k->alg,
				hw_hash_len(k->hash), req->len);
			return CKR_DATA_LEN_RANGE;
		}
		*dg = req->data;
		*dl = req->len;
		return CKR_OK;
	case CKM_RSA_PKCS:
		if (k->type != CKK_RSA)
			return CKR_KEY_TYPE_INCONSISTENT;
		if (k->pss) {
			hw_warn("slot \"%s\" (gcp-kms): %s signs with PSS only", c->cs.conf->name, k->alg);
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		}
		/* no raw RSA here: the DigestInfo must name the algorithm's hash */
		if (hw_digestinfo_decode(req->data, req->len, &h, dg, dl) != CKR_OK || h != k->hash) {
			hw_warn("slot \"%s\" (gcp-kms): %s signs only a DigestInfo of its own hash", c->cs.conf->name, k->alg);
			return CKR_DATA_INVALID;
		}
		return CKR_OK;
	case CKM_RSA_PKCS_PSS:
		if (k->type != CKK_RSA)
			return CKR_KEY_TYPE_INCONSISTENT;
		if (!k->pss) {
			hw_warn("slot \"%s\" (gcp-kms): %s signs with PKCS#1 v1.5 only", c->cs.conf->name, k->alg);
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		}
		/* Cloud KMS's PSS: MGF1 with the same hash, salt as long as the hash */
		h = req->pss.hashAlg;
		if (h != k->hash || hw_hash_from_mgf(req->pss.mgf) != h || req->pss.sLen != hw_hash_len(h))
			return CKR_MECHANISM_PARAM_INVALID;
		if (req->len != hw_hash_len(h))
			return CKR_DATA_LEN_RANGE;
		*dg = req->data;
		*dl = req->len;
		return CKR_OK;
	default:
		return CKR_MECHANISM_INVALID;
	}
}

/* The service says the version is gone or not enabled (destroyed by
 * another process or the console): the next listing leaves it out. */
static void key_gone(hw_gcp_ctx *c, const hw_gcp_key *k, const hw_cloud_err *e)
{
	if (strcmp(e->code, "NOT_FOUND") != 0 && strcmp(e->code, "FAILED_PRECONDITION") != 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nrecs; i++)
		if (c->recs[i] == k)
			c->recs[i]->dead = true;
	pthread_mutex_unlock(&c->lock);
}

/* POST name:verb with body; the answer through check (CRCs), once more
 * when it fails the check. */
static CK_RV checked_call(hw_gcp_ctx *c, const hw_gcp_key *k, const char *op, const char *verb, json_object *body,
			  CK_RV (*check)(const char *, size_t, unsigned char **, size_t *), unsigned char **out,
			  size_t *out_len)
{
	char path[1200];
	hw_cloud_err e;
	CK_RV rv = CKR_DEVICE_ERROR;
	snprintf(path, sizeof(path), "%s:%s", k->name, verb);
	for (int attempt = 0; attempt < 2; attempt++) {
		hw_http_resp r = { 0 };
		/* signing and decrypting change nothing: safe to repeat */
		rv = hw_gcp_call_raw(c, op, "POST", path, body, true, 0, 0, &r, &e);
		if (rv == CKR_OK)
			rv = check(r.body, r.len, out, out_len);
		if (r.body != NULL)
			hw_wipe(r.body, r.len);
		hw_http_resp_free(&r);
		if (rv == CKR_OK)
			return CKR_OK;
		if (e.rv != CKR_OK) {
			key_gone(c, k, &e);
			return rv;
		}
		hw_cloud_err_set(&e, rv, HW_CLOUD_PROVIDER, "DataLoss",
				 "the answer failed its CRC32C checks or is malformed%s", attempt ? "" : "; asking again");
		hw_cloud_err_log(c->cs.conf->name, "gcp-kms", op, &e);
	}
	return rv;
}

CK_RV hw_gcp_sign(void *vc, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_gcp_ctx *c = vc;
	const hw_gcp_key *k = key;
	const unsigned char *dg = NULL;
	size_t dl = 0, need = k->type == CKK_EC ? 2 * k->nlen : k->nlen, got = 0;
	unsigned char *raw = NULL;
	char *b64 = NULL, crc[16];
	json_object *body = NULL, *digest;
	CK_RV rv = sign_digest(c, k, req, &dg, &dl);
	if (rv != CKR_OK)
		return rv;
	bool done;
	if ((rv = hw_cloud_sig_room(sig, sig_len, need, &done)) != CKR_OK || done)
		return rv;
	if ((b64 = hw_b64_encode(dg, dl)) == NULL || (body = json_object_new_object()) == NULL ||
	    (digest = json_object_new_object()) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	json_object_object_add(digest, digest_field(k->hash), json_object_new_string(b64));
	json_object_object_add(body, "digest", digest);
	snprintf(crc, sizeof(crc), "%u", hw_crc32c(0, dg, dl));
	json_object_object_add(body, "digestCrc32c", json_object_new_string(crc));
	if ((rv = checked_call(c, k, "AsymmetricSign", "asymmetricSign", body, hw_gcp_parse_signature, &raw, &got)) != CKR_OK)
		goto out;
	rv = hw_cloud_sig_out(&c->cs, "gcp-kms", "AsymmetricSign", k->type, k->nlen, raw, got, sig, sig_len);
out:
	free(raw);
	free(b64);
	json_object_put(body);
	return rv;
}

CK_RV hw_gcp_decrypt(void *vc, const void *key, const hw_crypt_req *req, unsigned char *out,
		     size_t *out_len)
{
	hw_gcp_ctx *c = vc;
	const hw_gcp_key *k = key;
	char *ct = NULL, crc[16];
	unsigned char *pt = NULL;
	size_t pl = 0;
	json_object *body = NULL;
	CK_RV rv;
	if (k->type != CKK_RSA || !k->decrypt)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (req->mech != CKM_RSA_PKCS_OAEP)
		return CKR_MECHANISM_INVALID;      /* Cloud KMS decrypts RSA only with OAEP */
	/* the version's algorithm fixes the hash (MGF1 with the same one), no label */
	if (req->oaep.ulSourceDataLen != 0 || req->oaep.hashAlg != k->hash || hw_hash_from_mgf(req->oaep.mgf) != k->hash)
		return CKR_MECHANISM_PARAM_INVALID;
	if (out == NULL) {
		*out_len = k->nlen;
		return CKR_OK;
	}
	if (req->len != k->nlen)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if ((ct = hw_b64_encode(req->data, req->len)) == NULL || (body = json_object_new_object()) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	json_object_object_add(body, "ciphertext", json_object_new_string(ct));
	snprintf(crc, sizeof(crc), "%u", hw_crc32c(0, req->data, req->len));
	json_object_object_add(body, "ciphertextCrc32c", json_object_new_string(crc));
	rv = checked_call(c, k, "AsymmetricDecrypt", "asymmetricDecrypt", body, hw_gcp_parse_plaintext, &pt, &pl);
	if (rv == CKR_FUNCTION_FAILED)
		rv = CKR_ENCRYPTED_DATA_INVALID;   /* INVALID_ARGUMENT: the ciphertext does not decrypt */
	if (rv != CKR_OK)
		goto out;
	rv = hw_cloud_plain_out(pt, pl, out, out_len);
out:
	if (pt != NULL)
		hw_wipe(pt, pl);
	free(pt);
	free(ct);
	json_object_put(body);
	return rv;
}

/* op (method on record i's version name + suffix, body {} or the state
 * given); *k: the record */
static CK_RV version_call(hw_gcp_ctx *c, size_t i, const char *op, const char *method, const char *suffix,
			  const char *state, hw_gcp_key **k, hw_cloud_err *e)
{
	json_object *body, *resp = NULL;
	char path[1200];
	pthread_mutex_lock(&c->lock);
	*k = c->recs[i];
	pthread_mutex_unlock(&c->lock);
	if ((body = json_object_new_object()) == NULL)
		return CKR_HOST_MEMORY;
	if (state != NULL)
		json_object_object_add(body, "state", json_object_new_string(state));
	snprintf(path, sizeof(path), "%s%s", (*k)->name, suffix);
	CK_RV rv = hw_gcp_call(c, op, method, path, body, true, &resp, e);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_gcp_destroy(void *vc, size_t i)
{
	hw_gcp_ctx *c = vc;
	hw_gcp_key *k;
	hw_cloud_err e;
	CK_RV rv = version_call(c, i, "DestroyCryptoKeyVersion", "POST", ":destroy", NULL, &k, &e);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED && strcmp(e.code, "FAILED_PRECONDITION") == 0)
		rv = CKR_OK;            /* already scheduled for destruction */
	if (rv == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		k->dead = true;
		pthread_mutex_unlock(&c->lock);
		hw_info("slot \"%s\" (gcp-kms): destruction of %s scheduled", c->cs.conf->name, k->name);
	}
	return rv;
}

CK_RV hw_gcp_disable(void *vc, size_t i)
{
	hw_gcp_ctx *c = vc;
	hw_gcp_key *k;
	hw_cloud_err e;
	/* idempotent: the same state again */
	CK_RV rv = version_call(c, i, "UpdateCryptoKeyVersion", "PATCH", "?updateMask=state", "DISABLED", &k, &e);
	if (rv == CKR_OK)
		hw_info("slot \"%s\" (gcp-kms): %s disabled", c->cs.conf->name, k->name);
	return rv;
}

CK_RV hw_gcp_mac(void *vc, const void *key, CK_MECHANISM_TYPE hash, const unsigned char *msg, size_t len,
		 unsigned char *out, size_t *out_len, const unsigned char *want, size_t want_len)
{
	hw_gcp_ctx *c = vc;
	const hw_gcp_key *k = key;
	char *d64 = NULL, *m64 = NULL, crc[16];
	unsigned char *got = NULL;
	size_t gl = 0;
	json_object *body = NULL;
	CK_RV rv = CKR_HOST_MEMORY;
	if (!k->mac || hash != k->hash)
		return CKR_KEY_TYPE_INCONSISTENT;
	if ((d64 = hw_b64_encode(msg, len)) == NULL || (body = json_object_new_object()) == NULL ||
	    (want != NULL && (m64 = hw_b64_encode(want, want_len)) == NULL))
		goto out;
	json_object_object_add(body, "data", json_object_new_string(d64));
	snprintf(crc, sizeof(crc), "%u", hw_crc32c(0, msg, len));
	json_object_object_add(body, "dataCrc32c", json_object_new_string(crc));
	if (want != NULL) {
		json_object_object_add(body, "mac", json_object_new_string(m64));
		snprintf(crc, sizeof(crc), "%u", hw_crc32c(0, want, want_len));
		json_object_object_add(body, "macCrc32c", json_object_new_string(crc));
		if ((rv = checked_call(c, k, "MacVerify", "macVerify", body, hw_gcp_parse_mac_verify, &got, &gl)) == CKR_OK)
			rv = got[0] ? CKR_OK : CKR_SIGNATURE_INVALID;
		goto out;
	}
	if ((rv = checked_call(c, k, "MacSign", "macSign", body, hw_gcp_parse_mac, &got, &gl)) != CKR_OK)
		goto out;
	if (gl > *out_len) {
		hw_error("slot \"%s\" (gcp-kms): macSign answered %zu bytes, more than %zu", c->cs.conf->name, gl, *out_len);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	memcpy(out, got, gl);
	*out_len = gl;
out:
	free(got);
	free(d64);
	free(m64);
	json_object_put(body);
	return rv;
}
