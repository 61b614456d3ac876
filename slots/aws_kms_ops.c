/*
 * The aws-kms slot's key operations: Sign with MessageType DIGEST (the
 * digest computed here or by the application, the algorithm chosen from
 * it and checked against the key), Decrypt with OAEP, CreateKey made safe
 * to retry, and ScheduleKeyDeletion.
 */
#include "slots/aws_kms.h"
#include "common/log.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"
#include "slots/cloud_str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *hash_suffix(CK_MECHANISM_TYPE h)
{
	switch (h) {
	case CKM_SHA256: return "SHA_256";
	case CKM_SHA384: return "SHA_384";
	case CKM_SHA512: return "SHA_512";
	default: return NULL;
	}
}

static CK_MECHANISM_TYPE hash_by_len(size_t len)
{
	return len == 32 ? CKM_SHA256 : len == 48 ? CKM_SHA384 : len == 64 ? CKM_SHA512 : 0;
}

/* The KMS algorithm and the digest to send for a request. */
static CK_RV sign_params(hw_kms_ctx *c, const hw_kms_key *k, const hw_sign_req *req, char *alg, size_t alg_len,
			 const unsigned char **dg, size_t *dl)
{
	CK_MECHANISM_TYPE h = 0;
	const char *sfx;
	switch (req->base) {
	case CKM_ECDSA:
		if (k->type != CKK_EC)
			return CKR_KEY_TYPE_INCONSISTENT;
		/* KMS fixes the hash per curve and signs only a digest of that length */
		if ((h = hash_by_len(req->len)) != k->ec_hash) {
			hw_warn("slot \"%s\" (aws-kms): KMS signs only %zu-byte digests with this curve, not %zu bytes",
				c->cs.conf->name, hw_hash_len(k->ec_hash), req->len);
			return CKR_DATA_LEN_RANGE;
		}
		*dg = req->data;
		*dl = req->len;
		snprintf(alg, alg_len, "ECDSA_%s", hash_suffix(h));
		return CKR_OK;
	case CKM_RSA_PKCS:
		if (k->type != CKK_RSA || k->decrypt)
			return CKR_KEY_TYPE_INCONSISTENT;
		/* no raw RSA in KMS: the DigestInfo says which hash to ask for */
		if (hw_digestinfo_decode(req->data, req->len, &h, dg, dl) != CKR_OK || (sfx = hash_suffix(h)) == NULL) {
			hw_warn("slot \"%s\" (aws-kms): KMS signs PKCS#1 v1.5 only over a SHA-256/384/512 DigestInfo",
				c->cs.conf->name);
			return CKR_DATA_INVALID;
		}
		snprintf(alg, alg_len, "RSASSA_PKCS1_V1_5_%s", sfx);
		return CKR_OK;
	case CKM_RSA_PKCS_PSS:
		if (k->type != CKK_RSA || k->decrypt)
			return CKR_KEY_TYPE_INCONSISTENT;
		h = req->pss.hashAlg;
		/* KMS's PSS: MGF1 with the same hash, salt as long as the hash */
		if ((sfx = hash_suffix(h)) == NULL || hw_hash_from_mgf(req->pss.mgf) != h || req->pss.sLen != hw_hash_len(h))
			return CKR_MECHANISM_PARAM_INVALID;
		if (req->len != hw_hash_len(h))
			return CKR_DATA_LEN_RANGE;
		*dg = req->data;
		*dl = req->len;
		snprintf(alg, alg_len, "RSASSA_PSS_%s", sfx);
		return CKR_OK;
	default:
		return CKR_MECHANISM_INVALID;
	}
}

/* KMS says the key is deleted, pending deletion or disabled: the next
 * listing leaves it out (another process or the console did it). */
static void key_gone(hw_kms_ctx *c, const hw_kms_key *k, const hw_cloud_err *e)
{
	if (strcmp(e->code, "NotFoundException") != 0 && strcmp(e->code, "KMSInvalidStateException") != 0 &&
	    strcmp(e->code, "DisabledException") != 0)
		return;
	pthread_mutex_lock(&c->lock);
	hw_kms_key *r = hw_kms_key_find_inlock(c, k->arn);
	if (r != NULL)
		r->dead = true;
	pthread_mutex_unlock(&c->lock);
}

/* A blob field of a KMS answer, decoded. */
static unsigned char *blob(hw_kms_ctx *c, json_object *resp, const char *op, const char *field, size_t *len)
{
	unsigned char *d = hw_b64_decode(hw_cloud_jstr(resp, field), len);
	if (d == NULL) {
		hw_cloud_err e;
		memset(&e, 0, sizeof(e));
		hw_cloud_err_set(&e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse", "no base64 %s in the answer",
				 field);
		hw_cloud_err_log(c->cs.conf->name, "aws-kms", op, &e);
	}
	return d;
}

CK_RV hw_kms_sign(void *vc, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_kms_ctx *c = vc;
	const hw_kms_key *k = key;
	char alg[40];
	const unsigned char *dg = NULL;
	size_t dl = 0, need = k->type == CKK_EC ? 2 * k->nlen : k->nlen, got = 0;
	unsigned char *raw = NULL;
	char *msg = NULL;
	json_object *body = NULL, *resp = NULL;
	hw_cloud_err e;
	CK_RV rv = sign_params(c, k, req, alg, sizeof(alg), &dg, &dl);
	if (rv != CKR_OK)
		return rv;
	bool done;
	if ((rv = hw_cloud_sig_room(sig, sig_len, need, &done)) != CKR_OK || done)
		return rv;
	if ((msg = hw_b64_encode(dg, dl)) == NULL || (body = json_object_new_object()) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	json_object_object_add(body, "KeyId", json_object_new_string(k->arn));
	json_object_object_add(body, "Message", json_object_new_string(msg));
	json_object_object_add(body, "MessageType", json_object_new_string("DIGEST"));
	json_object_object_add(body, "SigningAlgorithm", json_object_new_string(alg));
	/* signing changes nothing: safe to repeat */
	if ((rv = hw_kms_call(c, "Sign", true, body, &resp, &e)) != CKR_OK) {
		key_gone(c, k, &e);
		goto out;
	}
	rv = CKR_DEVICE_ERROR;
	if ((raw = blob(c, resp, "Sign", "Signature", &got)) != NULL)
		rv = hw_cloud_sig_out(&c->cs, "aws-kms", "Sign", k->type, k->nlen, raw, got, sig, sig_len);
out:
	free(raw);
	free(msg);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_kms_decrypt(void *vc, const void *key, const hw_crypt_req *req, unsigned char *out,
		     size_t *out_len)
{
	hw_kms_ctx *c = vc;
	const hw_kms_key *k = key;
	const char *alg;
	char *ct = NULL;
	unsigned char *pt = NULL;
	size_t pl = 0;
	json_object *body = NULL, *resp = NULL;
	hw_cloud_err e;
	CK_RV rv;
	if (k->type != CKK_RSA || !k->decrypt)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (req->mech != CKM_RSA_PKCS_OAEP)
		return CKR_MECHANISM_INVALID;      /* KMS decrypts RSA only with OAEP */
	if (req->oaep.ulSourceDataLen != 0 || hw_hash_from_mgf(req->oaep.mgf) != req->oaep.hashAlg)
		return CKR_MECHANISM_PARAM_INVALID;
	if (req->oaep.hashAlg == CKM_SHA_1)
		alg = "RSAES_OAEP_SHA_1";
	else if (req->oaep.hashAlg == CKM_SHA256)
		alg = "RSAES_OAEP_SHA_256";
	else
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
	json_object_object_add(body, "KeyId", json_object_new_string(k->arn));
	json_object_object_add(body, "CiphertextBlob", json_object_new_string(ct));
	json_object_object_add(body, "EncryptionAlgorithm", json_object_new_string(alg));
	if ((rv = hw_kms_call(c, "Decrypt", true, body, &resp, &e)) != CKR_OK) {
		key_gone(c, k, &e);
		goto out;
	}
	rv = CKR_DEVICE_ERROR;
	if ((pt = blob(c, resp, "Decrypt", "Plaintext", &pl)) == NULL)
		goto out;
	rv = hw_cloud_plain_out(pt, pl, out, out_len);
out:
	if (pt != NULL)
		hw_wipe(pt, pl);
	free(pt);
	free(ct);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

static void tag_add(json_object *tags, const char *key, const char *value)
{
	json_object *t = json_object_new_object();
	json_object_object_add(t, "TagKey", json_object_new_string(key));
	json_object_object_add(t, "TagValue", json_object_new_string(value));
	json_object_array_add(tags, t);
}

/* An attribute of the pair: the private template's, else the public's. */
static const CK_ATTRIBUTE *pair_attr(const hw_attrs *pub, const hw_attrs *priv, CK_ATTRIBUTE_TYPE t)
{
	const CK_ATTRIBUTE *a = hw_attrs_get(priv, t);
	return a != NULL && a->ulValueLen > 0 ? a : hw_attrs_get(pub, t);
}

static CK_RV key_spec(const hw_keygen *g, const char **spec)
{
	if (g->key_type == CKK_EC) {
		static const char *const names[][2] = { { "P-256", "ECC_NIST_P256" }, { "P-384", "ECC_NIST_P384" },
							{ "P-521", "ECC_NIST_P521" } };
		for (size_t i = 0; g->curve != NULL && i < 3; i++)
			if (strcmp(g->curve->name, names[i][0]) == 0) {
				*spec = names[i][1];
				return CKR_OK;
			}
		return CKR_CURVE_NOT_SUPPORTED;
	}
	if (g->key_type != CKK_RSA)
		return CKR_MECHANISM_INVALID;
	/* KMS generates with e = 65537 only */
	static const unsigned char f4[] = { 1, 0, 1 };
	if (g->rsa_e != NULL && (g->rsa_e_len != 3 || memcmp(g->rsa_e, f4, 3) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	*spec = g->rsa_bits == 2048 ? "RSA_2048" : g->rsa_bits == 3072 ? "RSA_3072" : g->rsa_bits == 4096 ? "RSA_4096" : NULL;
	return *spec != NULL ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* CreateKey, made safe to retry: the request carries a random nonce as a
 * tag; after an outcome we cannot know (connection lost, server fault) the
 * key with that nonce is looked for before asking again. */
static CK_RV create_key(hw_kms_ctx *c, json_object *body, const char *nonce, char **arn)
{
	json_object *resp = NULL, *md;
	hw_cloud_err e;
	CK_RV rv = CKR_OK;
	*arn = NULL;
	for (int attempt = 0; attempt < 3 && *arn == NULL; attempt++) {
		if (attempt > 0 && (rv = hw_kms_find_nonce(c, nonce, arn, &e)) != CKR_OK)
			break;
		if (*arn != NULL) {
			hw_info("slot \"%s\" (aws-kms): the key of an interrupted CreateKey exists: using it", c->cs.conf->name);
			break;
		}
		rv = hw_kms_call(c, "CreateKey", false, body, &resp, &e);
		const char *a = NULL;
		if (rv == CKR_OK && json_object_object_get_ex(resp, "KeyMetadata", &md) && (a = hw_cloud_jstr(md, "Arn")) != NULL)
			*arn = strdup(a);
		else if (rv == CKR_OK)
			rv = CKR_DEVICE_ERROR;
		json_object_put(resp);
		resp = NULL;
		bool unknown = rv == CKR_DEVICE_ERROR && (e.cause == HW_CLOUD_CONNECTIVITY || e.cause == HW_CLOUD_PROVIDER);
		if (rv != CKR_OK && !unknown)
			break;
	}
	if (rv == CKR_OK && *arn == NULL)
		rv = CKR_HOST_MEMORY;
	return rv;
}

CK_RV hw_kms_create_key(hw_kms_ctx *c, const char *spec, const char *usage, const CK_ATTRIBUTE *la,
			const CK_ATTRIBUTE *ia, const char *key, const char *value, hw_kms_key **kept, size_t *idx)
{
	char nonce[33], idhex[2 * 128 + 1], *arn = NULL, *label = NULL;
	unsigned char rnd[16];
	hw_kms_key *k = NULL;
	hw_cloud_err e;
	CK_RV rv;
	if (ia != NULL && ia->ulValueLen > 128)
		return CKR_ATTRIBUTE_VALUE_INVALID;   /* a tag value holds 256 characters */
	if (la != NULL && la->ulValueLen > 256)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((rv = hw_random(rnd, sizeof(rnd))) != CKR_OK)
		return rv;
	hw_hex(rnd, sizeof(rnd), nonce);
	json_object *body = json_object_new_object(), *tags = json_object_new_array();
	json_object_object_add(body, "KeySpec", json_object_new_string(spec));
	json_object_object_add(body, "KeyUsage", json_object_new_string(usage));
	json_object_object_add(body, "Description", json_object_new_string("hwagg PKCS#11 key"));
	tag_add(tags, HW_KMS_TAG_MARK, "pkcs11");
	tag_add(tags, HW_KMS_TAG_REQUEST, nonce);
	if (key != NULL)
		tag_add(tags, key, value);
	if (la != NULL && la->ulValueLen > 0) {
		if ((label = strndup(la->pValue, la->ulValueLen)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		tag_add(tags, "CKA_LABEL", label);
	}
	if (ia != NULL && ia->ulValueLen > 0) {
		hw_hex(ia->pValue, ia->ulValueLen, idhex);
		tag_add(tags, "CKA_ID", idhex);
	}
	json_object_object_add(body, "Tags", tags);
	if ((rv = create_key(c, body, nonce, &arn)) != CKR_OK)
		goto out;
	/* eventual consistency: a new key may be unknown for a moment */
	for (int i = 0; i < 5; i++) {
		if ((rv = hw_kms_key_fetch(c, arn, false, &k, &e)) != CKR_KEY_HANDLE_INVALID)
			break;
		struct timespec ts = { 0, 100000000L * (i + 1) };
		nanosleep(&ts, NULL);
	}
	if (rv != CKR_OK)
		goto out;
	k->label = label;
	label = NULL;
	if (ia != NULL) {
		memcpy(k->id, ia->pValue, ia->ulValueLen);
		k->id_len = ia->ulValueLen;
	}
	k->generic = key != NULL && strcmp(key, "CKA_KEY_TYPE") == 0 && strcmp(value, "CKK_GENERIC_SECRET") == 0;
	k->nonce = strdup(nonce);
	pthread_mutex_lock(&c->lock);
	*kept = hw_kms_key_add_inlock(c, k);
	*idx = *kept != NULL ? hw_kms_key_index_inlock(c, *kept) : 0;
	if (*kept != NULL)
		(*kept)->seen = true;
	pthread_mutex_unlock(&c->lock);
	k = NULL;
	if (*kept == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	hw_info("slot \"%s\" (aws-kms): created %s %s key %s", c->cs.conf->name, spec, usage, (*kept)->arn);
out:
	json_object_put(body);
	hw_kms_key_free(k);
	free(arn);
	free(label);
	return rv;
}

CK_RV hw_kms_generate(void *vc, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		      int64_t *priv_oid, void **bdata)
{
	hw_kms_ctx *c = vc;
	const char *spec = NULL;
	hw_kms_key *kept = NULL;
	size_t idx = 0;
	CK_RV rv = key_spec(g, &spec);
	if (rv != CKR_OK)
		return rv;
	/* one usage per KMS key: decrypt only when asked for without signing */
	bool decrypt = g->key_type == CKK_RSA && hw_attrs_get_bool(priv, CKA_DECRYPT, false) &&
		       !hw_attrs_get_bool(priv, CKA_SIGN, false);
	if ((rv = hw_kms_create_key(c, spec, decrypt ? "ENCRYPT_DECRYPT" : "SIGN_VERIFY", pair_attr(pub, priv, CKA_LABEL),
				    pair_attr(pub, priv, CKA_ID), NULL, NULL, &kept, &idx)) != CKR_OK)
		return rv;
	if ((rv = hw_kms_key_attrs(c, kept, pub, priv)) != CKR_OK)
		return rv;
	*priv_oid = (int64_t)(2 * idx + 1);
	*pub_oid = (int64_t)(2 * idx + 2);
	*bdata = kept;
	return CKR_OK;
}

/* op with body {"KeyId": record i's ARN} (and the deletion window when
 * window > 0); *k: the record */
static CK_RV key_call(hw_kms_ctx *c, size_t i, const char *op, int window, hw_kms_key **k, hw_cloud_err *e)
{
	json_object *body, *resp = NULL;
	pthread_mutex_lock(&c->lock);
	*k = c->recs[i];
	pthread_mutex_unlock(&c->lock);
	if ((body = json_object_new_object()) == NULL)
		return CKR_HOST_MEMORY;
	json_object_object_add(body, "KeyId", json_object_new_string((*k)->arn));
	if (window > 0)
		json_object_object_add(body, "PendingWindowInDays", json_object_new_int(window));
	CK_RV rv = hw_kms_call(c, op, true, body, &resp, e);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_kms_destroy(void *vc, size_t i)
{
	hw_kms_ctx *c = vc;
	hw_kms_key *k;
	hw_cloud_err e;
	CK_RV rv = key_call(c, i, "ScheduleKeyDeletion", c->window_days, &k, &e);
	if (rv == CKR_KEY_FUNCTION_NOT_PERMITTED && strcmp(e.code, "KMSInvalidStateException") == 0)
		rv = CKR_OK;            /* already pending deletion */
	if (rv == CKR_OK) {
		pthread_mutex_lock(&c->lock);
		k->dead = true;
		pthread_mutex_unlock(&c->lock);
		hw_info("slot \"%s\" (aws-kms): deletion of %s scheduled in %d days", c->cs.conf->name, k->arn, c->window_days);
	}
	return rv;
}

CK_RV hw_kms_disable(void *vc, size_t i)
{
	hw_kms_ctx *c = vc;
	hw_kms_key *k;
	hw_cloud_err e;
	/* idempotent: disabling a disabled key succeeds */
	CK_RV rv = key_call(c, i, "DisableKey", 0, &k, &e);
	if (rv == CKR_OK)
		hw_info("slot \"%s\" (aws-kms): %s disabled", c->cs.conf->name, k->arn);
	return rv;
}
