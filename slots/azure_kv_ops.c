/*
 * The azure-kv slot's key operations: sign a digest (ES*, RS*, PS*; the
 * vault answers ECDSA as r||s already), decrypt with RSA-OAEP, create a
 * key (its name derived from CKA_LABEL) and delete it.
 */
#include "slots/azure_kv.h"
#include "common/log.h"
#include "common/secret.h"
#include "mechanisms/encode.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char hash_digit(CK_MECHANISM_TYPE h)
{
	return h == CKM_SHA256 ? '2' : h == CKM_SHA384 ? '3' : h == CKM_SHA512 ? '5' : 0;
}

static const char *alg_name(char family, CK_MECHANISM_TYPE h)
{
	static const char *const names[3][3] = { { "ES256", "ES384", "ES512" }, { "RS256", "RS384", "RS512" },
						 { "PS256", "PS384", "PS512" } };
	int f = family == 'E' ? 0 : family == 'R' ? 1 : 2;
	int i = h == CKM_SHA256 ? 0 : h == CKM_SHA384 ? 1 : h == CKM_SHA512 ? 2 : -1;
	return i < 0 ? NULL : names[f][i];
}

/* The vault's algorithm and the digest to send for a request. */
static CK_RV sign_params(hw_az_ctx *c, const hw_az_key *k, const hw_sign_req *req, const char **alg,
			 const unsigned char **dg, size_t *dl)
{
	CK_MECHANISM_TYPE h = 0;
	if (!k->sign)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	switch (req->base) {
	case CKM_ECDSA: {
		if (k->type != CKK_EC)
			return CKR_KEY_TYPE_INCONSISTENT;
		/* ES256 is P-256 with SHA-256, and so on: the curve fixes the digest length */
		CK_MECHANISM_TYPE want = k->nlen == 32 ? CKM_SHA256 : k->nlen == 48 ? CKM_SHA384 : CKM_SHA512;
		if (req->len != hw_hash_len(want)) {
			hw_warn("slot \"%s\" (azure-kv): Key Vault signs only %zu-byte digests with this curve, not %zu bytes",
				c->cs.conf->name, hw_hash_len(want), req->len);
			return CKR_DATA_LEN_RANGE;
		}
		h = want;
		*dg = req->data;
		*dl = req->len;
		*alg = alg_name('E', h);
		return CKR_OK;
	}
	case CKM_RSA_PKCS:
		if (k->type != CKK_RSA)
			return CKR_KEY_TYPE_INCONSISTENT;
		/* the DigestInfo says which RS* to ask for */
		if (hw_digestinfo_decode(req->data, req->len, &h, dg, dl) != CKR_OK || hash_digit(h) == 0) {
			hw_warn("slot \"%s\" (azure-kv): Key Vault signs PKCS#1 v1.5 only over a SHA-256/384/512 DigestInfo",
				c->cs.conf->name);
			return CKR_DATA_INVALID;
		}
		*alg = alg_name('R', h);
		return CKR_OK;
	case CKM_RSA_PKCS_PSS:
		if (k->type != CKK_RSA)
			return CKR_KEY_TYPE_INCONSISTENT;
		h = req->pss.hashAlg;
		/* RFC 7518 PS*: MGF1 with the same hash, salt as long as the hash */
		if (hash_digit(h) == 0 || hw_hash_from_mgf(req->pss.mgf) != h || req->pss.sLen != hw_hash_len(h))
			return CKR_MECHANISM_PARAM_INVALID;
		if (req->len != hw_hash_len(h))
			return CKR_DATA_LEN_RANGE;
		*dg = req->data;
		*dl = req->len;
		*alg = alg_name('P', h);
		return CKR_OK;
	default:
		return CKR_MECHANISM_INVALID;
	}
}

/* The vault says the key is gone: the next listing leaves it out. */
static void key_gone(hw_az_ctx *c, const hw_az_key *k, CK_RV rv)
{
	if (rv != CKR_KEY_HANDLE_INVALID)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nrecs; i++)
		if (strcmp(c->recs[i]->name, k->name) == 0)
			c->recs[i]->dead = true;
	pthread_mutex_unlock(&c->lock);
}

/* POST {kid}/<op> {"alg","value"}: the answer's value, decoded. */
static CK_RV key_op(hw_az_ctx *c, const hw_az_key *k, const char *op, const char *what, const char *alg,
		    const unsigned char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
	char path[256];
	char *v = hw_b64url_encode(in, in_len);
	json_object *body = json_object_new_object(), *resp = NULL;
	hw_cloud_err e;
	CK_RV rv = CKR_HOST_MEMORY;
	*out = NULL;
	if (v == NULL || body == NULL)
		goto out;
	snprintf(path, sizeof(path), "/keys/%s/%s/%s", k->name, k->version, what);
	json_object_object_add(body, "alg", json_object_new_string(alg));
	json_object_object_add(body, "value", json_object_new_string(v));
	/* a signature or a decryption changes nothing: safe to repeat */
	if ((rv = hw_az_call(c, op, "POST", path, true, body, &resp, &e)) != CKR_OK) {
		key_gone(c, k, rv);
		if ((strcmp(what, "decrypt") == 0 || strcmp(what, "unwrapkey") == 0) && rv == CKR_FUNCTION_FAILED)
			rv = CKR_ENCRYPTED_DATA_INVALID;   /* 400: the ciphertext does not decrypt */
		goto out;
	}
	if ((*out = hw_b64url_decode(hw_cloud_jstr(resp, "value"), out_len)) == NULL) {
		hw_cloud_err_set(&e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "MalformedResponse",
				 "no base64url value in the answer");
		hw_cloud_err_log(c->cs.conf->name, "azure-kv", op, &e);
	}
out:
	free(v);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_az_sign(void *ctx, const void *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_az_ctx *c = ctx;
	const hw_az_key *k = key;
	const char *alg = NULL;
	bool done;
	const unsigned char *dg = NULL;
	size_t dl = 0, need = k->type == CKK_EC ? 2 * k->nlen : k->nlen, got = 0;
	unsigned char *raw = NULL;
	CK_RV rv = sign_params(c, k, req, &alg, &dg, &dl);
	if (rv != CKR_OK)
		return rv;
	if ((rv = hw_cloud_sig_room(sig, sig_len, need, &done)) != CKR_OK || done)
		return rv;
	if ((rv = key_op(c, k, "Sign", "sign", alg, dg, dl, &raw, &got)) != CKR_OK)
		return rv;
	/* ECDSA comes as r||s (JWS), RSA as the modulus-sized block */
	if (got != need) {
		hw_error("slot \"%s\" (azure-kv): Sign answered %zu bytes where %zu were due", c->cs.conf->name, got, need);
		rv = CKR_DEVICE_ERROR;
	} else {
		memcpy(sig, raw, need);
		*sig_len = need;
	}
	free(raw);
	return rv;
}

/* A decryption request Key Vault serves: OAEP with SHA-1 or SHA-256, MGF1
 * of the same hash, no label (RSA-OAEP, RSA-OAEP-256). */
static CK_RV oaep_alg(const hw_az_key *k, const hw_crypt_req *req, const char **alg)
{
	if (k->type != CKK_RSA || !k->decrypt)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (req->mech != CKM_RSA_PKCS_OAEP)
		return CKR_MECHANISM_INVALID;      /* Key Vault's RSA1_5 is not offered */
	if (req->oaep.ulSourceDataLen != 0 || hw_hash_from_mgf(req->oaep.mgf) != req->oaep.hashAlg)
		return CKR_MECHANISM_PARAM_INVALID;
	if (req->oaep.hashAlg != CKM_SHA_1 && req->oaep.hashAlg != CKM_SHA256)
		return CKR_MECHANISM_PARAM_INVALID;
	*alg = req->oaep.hashAlg == CKM_SHA256 ? "RSA-OAEP-256" : "RSA-OAEP";
	return CKR_OK;
}

CK_RV hw_az_decrypt(void *ctx, const void *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	hw_az_ctx *c = ctx;
	const hw_az_key *k = key;
	const char *alg;
	unsigned char *pt = NULL;
	size_t pl = 0;
	CK_RV rv = oaep_alg(k, req, &alg);
	if (rv != CKR_OK)
		return rv;
	if (out == NULL) {
		*out_len = k->nlen;
		return CKR_OK;
	}
	if (req->len != k->nlen)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	rv = key_op(c, k, "Decrypt", "decrypt", alg, req->data, req->len, &pt, &pl);
	if (rv != CKR_OK)
		return rv;
	rv = hw_cloud_plain_out(pt, pl, out, out_len);
	hw_wipe(pt, pl);
	free(pt);
	return rv;
}

CK_RV hw_az_key_name(const char *label, size_t label_len, char *name, size_t name_len)
{
	unsigned char rnd[8];
	char hex[17];
	size_t o = 0;
	CK_RV rv = hw_random(rnd, sizeof(rnd));
	if (rv != CKR_OK)
		return rv;
	hw_hex(rnd, sizeof(rnd), hex);
	if (name_len < 128)
		return CKR_ARGUMENTS_BAD;
	/* vault names are [0-9a-zA-Z-]{1,127}: other characters become '-',
	 * runs of them one; a random suffix keeps two keys of one label
	 * apart (the same name would make a new version of the first) */
	for (size_t i = 0; label != NULL && i < label_len && o < 96; i++) {
		char ch = label[i];
		if (isalnum((unsigned char)ch) && (unsigned char)ch < 0x80)
			name[o++] = ch;
		else if (o > 0 && name[o - 1] != '-')
			name[o++] = '-';
	}
	while (o > 0 && name[o - 1] == '-')
		o--;
	snprintf(name + o, name_len - o, "%s%s", o > 0 ? "-" : "hwagg-", hex);
	return CKR_OK;
}

static const CK_ATTRIBUTE *pair_attr(const hw_attrs *pub, const hw_attrs *priv, CK_ATTRIBUTE_TYPE t)
{
	const CK_ATTRIBUTE *a = hw_attrs_get(priv, t);
	return a != NULL && a->ulValueLen > 0 ? a : hw_attrs_get(pub, t);
}

/* key_ops of a new key: sign and verify, and/or decrypt and encrypt */
static void ops_add(json_object *ops, bool sign, bool decrypt)
{
	if (sign) {
		json_object_array_add(ops, json_object_new_string("sign"));
		json_object_array_add(ops, json_object_new_string("verify"));
	}
	if (decrypt) {
		/* a decryption key unwraps too: envelope encryption's KEK */
		json_object_array_add(ops, json_object_new_string("decrypt"));
		json_object_array_add(ops, json_object_new_string("encrypt"));
		json_object_array_add(ops, json_object_new_string("wrapKey"));
		json_object_array_add(ops, json_object_new_string("unwrapKey"));
	}
}

static CK_RV key_spec(hw_az_ctx *c, const hw_keygen *g, json_object *body)
{
	bool hsm = !c->allow_software;
	if (g->key_type == CKK_EC) {
		static const char *const curves[] = { "P-256", "P-384", "P-521" };
		for (size_t i = 0; g->curve != NULL && i < 3; i++)
			if (strcmp(g->curve->name, curves[i]) == 0) {
				json_object_object_add(body, "kty", json_object_new_string(hsm ? "EC-HSM" : "EC"));
				json_object_object_add(body, "crv", json_object_new_string(curves[i]));
				return CKR_OK;
			}
		return CKR_CURVE_NOT_SUPPORTED;
	}
	if (g->key_type != CKK_RSA)
		return CKR_MECHANISM_INVALID;
	static const unsigned char f4[] = { 1, 0, 1 };
	if (g->rsa_e != NULL && (g->rsa_e_len != 3 || memcmp(g->rsa_e, f4, 3) != 0))
		return CKR_TEMPLATE_INCONSISTENT;   /* the vault makes e = 65537 only */
	if (g->rsa_bits != 2048 && g->rsa_bits != 3072 && g->rsa_bits != 4096)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	json_object_object_add(body, "kty", json_object_new_string(hsm ? "RSA-HSM" : "RSA"));
	json_object_object_add(body, "key_size", json_object_new_int((int)g->rsa_bits));
	return CKR_OK;
}

/* The hwagg tags of a key version: the mark, CKA_LABEL and CKA_ID (hex). */
static void tags_add(json_object *tags, const void *label, size_t label_len, const unsigned char *id, size_t id_len)
{
	char idhex[2 * (128 + 24) + 1];
	json_object_object_add(tags, HW_AZ_TAG_MARK, json_object_new_string("pkcs11"));
	if (label != NULL && label_len > 0)
		json_object_object_add(tags, HW_AZ_TAG_LABEL, json_object_new_string_len(label, (int)label_len));
	if (id != NULL && id_len > 0 && id_len <= 128 + 24) {
		hw_hex(id, id_len, idhex);
		json_object_object_add(tags, HW_AZ_TAG_ID, json_object_new_string(idhex));
	}
}

/* A CreateKey body with its (empty) tags and key_ops, or NULL. */
static json_object *new_body(json_object **tags, json_object **ops)
{
	json_object *body = json_object_new_object();
	*tags = json_object_new_object();
	*ops = json_object_new_array();
	if (body == NULL || *tags == NULL || *ops == NULL) {
		json_object_put(body);
		json_object_put(*tags);
		json_object_put(*ops);
		return NULL;
	}
	json_object_object_add(body, "tags", *tags);
	json_object_object_add(body, "key_ops", *ops);
	return body;
}

/* POST /keys/NAME/create with body: a new key, or a new version of an
 * existing name; kept in the table with its objects' attributes. */
static CK_RV create_version(hw_az_ctx *c, const char *name, bool retry, json_object *body, hw_attrs *pub,
			    hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid, void **bdata)
{
	char path[160];
	hw_cloud_err e;
	json_object *resp = NULL;
	hw_az_key *k = calloc(1, sizeof(*k));
	CK_RV rv = CKR_HOST_MEMORY;
	if (k == NULL)
		goto out;
	snprintf(path, sizeof(path), "/keys/%s/create", name);
	/* retry: the name is new and random, so a repeated create only adds a
	 * version nobody else holds; a rotation's is not resent, which would
	 * leave an enabled version behind */
	if ((rv = hw_az_call(c, "CreateKey", "POST", path, retry, body, &resp, &e)) != CKR_OK)
		goto out;
	if ((rv = hw_az_parse_bundle(resp, k)) != CKR_OK) {
		hw_error("slot \"%s\" (azure-kv): CreateKey answered a key bundle hwagg cannot use", c->cs.conf->name);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	hw_az_key *kept = hw_az_key_add_inlock(c, k);
	size_t idx = kept != NULL ? hw_az_key_index_inlock(c, kept) : 0;
	if (kept != NULL)
		kept->seen = true;
	pthread_mutex_unlock(&c->lock);
	k = NULL;
	if (kept == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = hw_az_key_attrs(c, kept, pub, priv)) != CKR_OK)
		goto out;
	*priv_oid = (int64_t)(2 * idx + 1);
	*pub_oid = (int64_t)(2 * idx + 2);
	*bdata = kept;
	hw_info("slot \"%s\" (azure-kv): created %s key %s", c->cs.conf->name, kept->hsm ? "HSM" : "software", kept->kid);
out:
	json_object_put(resp);
	hw_az_key_free(k);
	return rv;
}

CK_RV hw_az_generate(void *ctx, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		     int64_t *priv_oid, void **bdata)
{
	hw_az_ctx *c = ctx;
	char name[128];
	json_object *tags = NULL, *ops = NULL, *body = new_body(&tags, &ops);
	CK_RV rv = CKR_HOST_MEMORY;
	if (body == NULL)
		goto out;
	if ((rv = key_spec(c, g, body)) != CKR_OK)
		goto out;
	const CK_ATTRIBUTE *la = pair_attr(pub, priv, CKA_LABEL), *ia = pair_attr(pub, priv, CKA_ID);
	rv = CKR_ATTRIBUTE_VALUE_INVALID;
	if ((ia != NULL && ia->ulValueLen > 128) || (la != NULL && la->ulValueLen > 256))
		goto out;               /* a tag value holds 256 characters */
	bool sign = hw_attrs_get_bool(priv, CKA_SIGN, true);
	bool decrypt = g->key_type == CKK_RSA && hw_attrs_get_bool(priv, CKA_DECRYPT, false);
	ops_add(ops, sign || !decrypt, decrypt);
	tags_add(tags, la != NULL ? la->pValue : NULL, la != NULL ? la->ulValueLen : 0, ia != NULL ? ia->pValue : NULL,
		 ia != NULL ? ia->ulValueLen : 0);
	if ((rv = hw_az_key_name(la != NULL ? la->pValue : NULL, la != NULL ? la->ulValueLen : 0, name, sizeof(name))) !=
	    CKR_OK)
		goto out;
	rv = create_version(c, name, true, body, pub, priv, pub_oid, priv_oid, bdata);
out:
	json_object_put(body);
	return rv;
}

CK_RV hw_az_rotate(void *ctx, const void *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		   int64_t *priv_oid, void **bdata)
{
	hw_az_ctx *c = ctx;
	const hw_az_key *old = key;
	unsigned char id[128 + 24];
	char suffix[24];
	json_object *tags = NULL, *ops = NULL, *body = new_body(&tags, &ops);
	CK_RV rv = CKR_HOST_MEMORY;
	if (body == NULL)
		goto out;
	/* the old version's type and size: the vault makes the new one alike */
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	int ci = old->nlen == 32 ? 0 : old->nlen == 48 ? 1 : old->nlen == 66 ? 2 : -1;
	if (old->type == CKK_EC && ci < 0) {
		rv = CKR_KEY_TYPE_INCONSISTENT;
		goto out;
	}
	json_object_object_add(body, "kty", json_object_new_string(old->type == CKK_EC ? (old->hsm ? "EC-HSM" : "EC") :
								   old->hsm ? "RSA-HSM" : "RSA"));
	if (old->type == CKK_EC)
		json_object_object_add(body, "crv", json_object_new_string(curves[ci]));
	else
		json_object_object_add(body, "key_size", json_object_new_int((int)(old->nlen * 8)));
	ops_add(ops, old->sign, old->decrypt);
	/* CKA_ID of the version: the key's, then "/vN" for version N > 1,
	 * so that the old version's public key stays findable apart */
	size_t id_len = old->id_len;
	int sl = snprintf(suffix, sizeof(suffix), "/v%lu", (unsigned long)(next > 1 ? next - 1 : 1));
	if (next > 2 && id_len >= (size_t)sl && memcmp(old->id + id_len - (size_t)sl, suffix, (size_t)sl) == 0)
		id_len -= (size_t)sl;
	memcpy(id, old->id, id_len);
	sl = snprintf(suffix, sizeof(suffix), "/v%lu", (unsigned long)next);
	if (id_len > 0) {
		memcpy(id + id_len, suffix, (size_t)sl);
		id_len += (size_t)sl;
	}
	tags_add(tags, old->label, old->label != NULL ? strlen(old->label) : 0, id, id_len);
	rv = create_version(c, old->name, false, body, pub, priv, pub_oid, priv_oid, bdata);
out:
	json_object_put(body);
	return rv;
}

/* record i (records are immutable once added), or NULL */
static const hw_az_key *record_key(hw_az_ctx *c, size_t i)
{
	pthread_mutex_lock(&c->lock);
	const hw_az_key *k = i < c->nrecs ? c->recs[i] : NULL;
	pthread_mutex_unlock(&c->lock);
	return k;
}

/* A later version of record i's key is in the table (a rotation made it). */
static bool superseded(hw_az_ctx *c, size_t i)
{
	bool later = false;
	pthread_mutex_lock(&c->lock);
	for (size_t j = i + 1; i < c->nrecs && j < c->nrecs && !later; j++)
		later = !c->recs[j]->dead && strcmp(c->recs[j]->name, c->recs[i]->name) == 0;
	pthread_mutex_unlock(&c->lock);
	return later;
}

/* The vault deletes a key with all its versions: an old version is
 * disabled instead, and no longer listed here. */
static CK_RV retire_version(hw_az_ctx *c, size_t i)
{
	CK_RV rv = hw_az_disable(c, i);
	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&c->lock);
	hw_az_key *k = c->recs[i];
	k->dead = true;
	pthread_mutex_unlock(&c->lock);
	hw_info("slot \"%s\" (azure-kv): %s is an older version of a key with a newer one: the vault deletes only whole "
		"keys, so this version is disabled instead", c->cs.conf->name, k->kid);
	return CKR_OK;
}

CK_RV hw_az_destroy(void *ctx, size_t i)
{
	hw_az_ctx *c = ctx;
	char path[160];
	json_object *resp = NULL;
	hw_cloud_err e;
	const hw_az_key *k = record_key(c, i);
	if (k == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if (superseded(c, i))
		return retire_version(c, i);
	/* a key is deleted with all its versions; soft delete keeps it
	 * recoverable for the vault's retention period */
	snprintf(path, sizeof(path), "/keys/%s", k->name);
	CK_RV rv = hw_az_call(c, "DeleteKey", "DELETE", path, true, NULL, &resp, &e);
	if (rv == CKR_KEY_HANDLE_INVALID)
		rv = CKR_OK;            /* already deleted (a retried DELETE, or elsewhere) */
	if (rv == CKR_OK) {
		key_gone(c, k, CKR_KEY_HANDLE_INVALID);
		hw_info("slot \"%s\" (azure-kv): key %s deleted%s", c->cs.conf->name, k->name,
			hw_cloud_jstr(resp, "recoveryId") != NULL ? " (recoverable until purged)" : "");
	}
	json_object_put(resp);
	return rv;
}

CK_RV hw_az_disable(void *ctx, size_t i)
{
	hw_az_ctx *c = ctx;
	char path[300];
	json_object *body, *attrs, *resp = NULL;
	hw_cloud_err e;
	const hw_az_key *k = record_key(c, i);
	if (k == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if ((body = json_object_new_object()) == NULL || (attrs = json_object_new_object()) == NULL) {
		json_object_put(body);
		return CKR_HOST_MEMORY;
	}
	json_object_object_add(attrs, "enabled", json_object_new_boolean(0));
	json_object_object_add(body, "attributes", attrs);
	/* the version the object is: UpdateKey, idempotent */
	snprintf(path, sizeof(path), "/keys/%s/%s", k->name, k->version);
	CK_RV rv = hw_az_call(c, "UpdateKey", "PATCH", path, true, body, &resp, &e);
	if (rv == CKR_OK)
		hw_info("slot \"%s\" (azure-kv): key %s disabled", c->cs.conf->name, k->kid);
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

CK_RV hw_az_wrap(void *ctx, const void *kek, const unsigned char *pt, size_t len, unsigned char **ct, size_t *ct_len)
{
	const hw_az_key *k = kek;
	if (!k->wrap)
		return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
	return key_op(ctx, k, "WrapKey", "wrapkey", "RSA-OAEP-256", pt, len, ct, ct_len);
}

CK_RV hw_az_unwrap(void *ctx, const void *kek, const unsigned char *ct, size_t len, hw_secret **pt)
{
	const hw_az_key *k = kek;
	unsigned char *raw = NULL;
	size_t n = 0;
	if (!k->wrap)
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	CK_RV rv = key_op(ctx, k, "UnwrapKey", "unwrapkey", "RSA-OAEP-256", ct, len, &raw, &n);
	if (rv != CKR_OK)
		return rv;
	return hw_cloud_secret_take(raw, n, pt);
}
