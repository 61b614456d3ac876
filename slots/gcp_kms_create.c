/*
 * C_GenerateKeyPair on the gcp-kms slot: a crypto key whose purpose and
 * version algorithm follow from the template, labelled so that a listing
 * finds it and gives back its CKA_LABEL and CKA_ID, and its first version
 * awaited until it is ENABLED.
 *
 * Creation is safe to repeat: the key's id is chosen here (random), so a
 * request resent after an answer that never came either creates the key or
 * finds it created (ALREADY_EXISTS), never a second key.
 */
#include "slots/gcp_kms.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An attribute of the pair: the private template's, else the public's. */
static const CK_ATTRIBUTE *pair_attr(const hw_attrs *pub, const hw_attrs *priv, CK_ATTRIBUTE_TYPE t)
{
	const CK_ATTRIBUTE *a = hw_attrs_get(priv, t);
	return a != NULL && a->ulValueLen > 0 ? a : hw_attrs_get(pub, t);
}

/* CKA_ALLOWED_MECHANISMS asks for PSS and not for PKCS#1 v1.5. */
static bool wants_pss(const hw_attrs *pub, const hw_attrs *priv)
{
	const CK_ATTRIBUTE *a = pair_attr(pub, priv, CKA_ALLOWED_MECHANISMS);
	bool pss = false, v15 = false;
	size_t n = a != NULL && a->pValue != NULL ? a->ulValueLen / sizeof(CK_MECHANISM_TYPE) : 0;
	for (size_t i = 0; i < n; i++) {
		CK_MECHANISM_TYPE m;
		memcpy(&m, (const unsigned char *)a->pValue + i * sizeof(m), sizeof(m));
		if (m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA256_RSA_PKCS_PSS ||
		    m == CKM_SHA384_RSA_PKCS_PSS || m == CKM_SHA512_RSA_PKCS_PSS)
			pss = true;
		else if (m == CKM_RSA_PKCS || m == CKM_SHA256_RSA_PKCS || m == CKM_SHA384_RSA_PKCS ||
			 m == CKM_SHA512_RSA_PKCS || m == CKM_SHA1_RSA_PKCS)
			v15 = true;
	}
	return pss && !v15;
}

static CK_RV algorithm(const hw_keygen *g, const hw_attrs *pub, const hw_attrs *priv, bool decrypt, char *alg,
		       size_t len)
{
	if (g->key_type == CKK_EC) {
		/* Cloud KMS has no P-521 */
		if (g->curve != NULL && strcmp(g->curve->name, "P-256") == 0)
			snprintf(alg, len, "EC_SIGN_P256_SHA256");
		else if (g->curve != NULL && strcmp(g->curve->name, "P-384") == 0)
			snprintf(alg, len, "EC_SIGN_P384_SHA384");
		else
			return CKR_CURVE_NOT_SUPPORTED;
		return decrypt ? CKR_TEMPLATE_INCONSISTENT : CKR_OK;
	}
	if (g->key_type != CKK_RSA)
		return CKR_MECHANISM_INVALID;
	/* Cloud KMS generates with e = 65537 only */
	static const unsigned char f4[] = { 1, 0, 1 };
	if (g->rsa_e != NULL && (g->rsa_e_len != 3 || memcmp(g->rsa_e, f4, 3) != 0))
		return CKR_TEMPLATE_INCONSISTENT;
	if (g->rsa_bits != 2048 && g->rsa_bits != 3072 && g->rsa_bits != 4096)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	snprintf(alg, len, "RSA_%s_%lu_SHA256", decrypt ? "DECRYPT_OAEP" : wants_pss(pub, priv) ? "SIGN_PSS" : "SIGN_PKCS1",
		 (unsigned long)g->rsa_bits);
	return CKR_OK;
}

/* Bytes as labels prefix-0.. of HW_GCP_CHUNK bytes in hex each. */
static void labels_add(json_object *labels, const char *prefix, const unsigned char *d, size_t len)
{
	for (size_t off = 0, i = 0; off < len; off += HW_GCP_CHUNK, i++) {
		char key[32], val[2 * HW_GCP_CHUNK + 1];
		size_t n = len - off < HW_GCP_CHUNK ? len - off : HW_GCP_CHUNK;
		snprintf(key, sizeof(key), "%s-%zu", prefix, i);
		hw_hex(d + off, n, val);
		json_object_object_add(labels, key, json_object_new_string(val));
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Version 1 may start PENDING_GENERATION (HSM keys take a moment). */
static CK_RV await_enabled(hw_gcp_ctx *c, const char *version, hw_cloud_err *e)
{
	for (int i = 0;; i++) {
		hw_http_resp r = { 0 };
		char *state = NULL, *alg = NULL;
		CK_RV rv = hw_gcp_call_raw(c, "GetCryptoKeyVersion", "GET", version, NULL, true, 0, 0, &r, e);
		if (rv == CKR_OK && (rv = hw_gcp_parse_version(r.body, r.len, &state, &alg)) != CKR_OK)
			hw_cloud_err_set(e, rv, HW_CLOUD_PROVIDER, "MalformedResponse", "a version without state or algorithm");
		hw_http_resp_free(&r);
		bool enabled = rv == CKR_OK && strcmp(state, "ENABLED") == 0;
		bool pending = rv == CKR_OK && strcmp(state, "PENDING_GENERATION") == 0;
		if (rv == CKR_OK && !enabled && !pending)
			hw_cloud_err_set(e, rv = CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "GENERATION_FAILED",
					 "the new version is %s", state);
		free(state);
		free(alg);
		if (rv != CKR_OK || enabled)
			return rv;
		int wait = 50 << (i < 4 ? i : 4);
		if (hw_deadline_left_ms(10000) <= wait) {
			hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_PROVIDER, "PENDING_GENERATION",
					 "the new version was not enabled within the deadline");
			return CKR_DEVICE_ERROR;
		}
		sleep_ms(wait);
	}
}

/* A new version k (taken) into the table and its objects' attributes. */
static CK_RV keep_new(hw_gcp_ctx *c, hw_gcp_key *k, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		      int64_t *priv_oid, void **bdata)
{
	size_t idx = 0;
	hw_gcp_key *kept = hw_gcp_key_keep(c, k, &idx);
	if (kept == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = hw_gcp_key_attrs(c, kept, pub, priv);
	if (rv != CKR_OK)
		return rv;
	*priv_oid = (int64_t)(2 * idx + 1);
	*pub_oid = (int64_t)(2 * idx + 2);
	*bdata = kept;
	return CKR_OK;
}

CK_RV hw_gcp_rotate(void *vc, const void *key, CK_ULONG next, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		    int64_t *priv_oid, void **bdata)
{
	hw_gcp_ctx *c = vc;
	const hw_gcp_key *old = key;
	(void)next;
	char parent[1200];
	json_object *body = json_object_new_object(), *resp = NULL, *name = NULL;
	hw_gcp_key *k = NULL;
	hw_cloud_err e;
	const char *cut = strstr(old->name, "/cryptoKeyVersions/");
	CK_RV rv = CKR_HOST_MEMORY;
	if (body == NULL)
		goto out;
	if (cut == NULL || (size_t)(cut - old->name) >= sizeof(parent)) {
		rv = CKR_KEY_HANDLE_INVALID;
		goto out;
	}
	snprintf(parent, sizeof(parent), "%.*s/cryptoKeyVersions", (int)(cut - old->name), old->name);
	/* the version template of the crypto key gives the algorithm; not
	 * resent after a lost answer, which would leave a second ENABLED
	 * version (a second private key for the label) */
	if ((rv = hw_gcp_call(c, "CreateCryptoKeyVersion", "POST", parent, body, false, &resp, &e)) != CKR_OK)
		goto out;
	if (!json_object_object_get_ex(resp, "name", &name) || !json_object_is_type(name, json_type_string) ||
	    strncmp(json_object_get_string(name), parent, strlen(parent)) != 0) {
		hw_error("slot \"%s\" (gcp-kms): CreateCryptoKeyVersion answered without the new version's name",
			 c->cs.conf->name);
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	const char *version = json_object_get_string(name);
	if ((rv = await_enabled(c, version, &e)) != CKR_OK) {
		hw_cloud_err_log(c->cs.conf->name, "gcp-kms", "CreateCryptoKeyVersion", &e);
		goto out;
	}
	if ((rv = hw_gcp_key_fetch(c, version, &k, &e)) != CKR_OK)
		goto out;
	if (old->label != NULL && (k->label = strdup(old->label)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	hw_gcp_key_set_id(k, old->id, old->key_id_len);
	rv = keep_new(c, k, pub, priv, pub_oid, priv_oid, bdata);
	k = NULL;
	if (rv == CKR_OK)
		hw_info("slot \"%s\" (gcp-kms): created version %s", c->cs.conf->name, version);
out:
	json_object_put(body);
	json_object_put(resp);
	hw_gcp_key_free(k);
	return rv;
}

/* A crypto key of purpose and algorithm with hwagg's labels (la, ia) and
 * its first version ENABLED: its name into version. */
static CK_RV create(hw_gcp_ctx *c, const char *purpose, const char *alg, const CK_ATTRIBUTE *la,
		    const CK_ATTRIBUTE *ia, char *version, size_t vlen)
{
	char id[32], path[1200];
	unsigned char rnd[10];
	json_object *body = NULL, *resp = NULL;
	hw_cloud_err e;
	CK_RV rv;
	if ((la != NULL && la->ulValueLen > HW_GCP_LABEL_MAX) || (ia != NULL && ia->ulValueLen > HW_GCP_ID_MAX)) {
		hw_warn("slot \"%s\" (gcp-kms): CKA_LABEL holds at most %d bytes and CKA_ID %d bytes here (GCP labels)",
			c->cs.conf->name, HW_GCP_LABEL_MAX, HW_GCP_ID_MAX);
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if ((rv = hw_random(rnd, sizeof(rnd))) != CKR_OK)
		return rv;
	memcpy(id, "hwagg-", 6);
	hw_hex(rnd, sizeof(rnd), id + 6);
	json_object *tmpl = json_object_new_object(), *labels = json_object_new_object();
	if ((body = json_object_new_object()) == NULL || tmpl == NULL || labels == NULL) {
		json_object_put(tmpl);
		json_object_put(labels);
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	json_object_object_add(body, "purpose", json_object_new_string(purpose));
	json_object_object_add(tmpl, "algorithm", json_object_new_string(alg));
	json_object_object_add(tmpl, "protectionLevel", json_object_new_string(c->level));
	json_object_object_add(body, "versionTemplate", tmpl);
	json_object_object_add(labels, HW_GCP_LABEL_MARK, json_object_new_string("pkcs11"));
	if (la != NULL)
		labels_add(labels, "label", la->pValue, la->ulValueLen);
	if (ia != NULL)
		labels_add(labels, "id", ia->pValue, ia->ulValueLen);
	json_object_object_add(body, "labels", labels);
	snprintf(path, sizeof(path), "%s/cryptoKeys?cryptoKeyId=%s", c->key_ring, id);
	rv = hw_gcp_call(c, "CreateCryptoKey", "POST", path, body, true, &resp, &e);
	if (rv == CKR_FUNCTION_FAILED && strcmp(e.code, "ALREADY_EXISTS") == 0) {
		/* an earlier attempt whose answer was lost made it */
		hw_info("slot \"%s\" (gcp-kms): the key of an interrupted creation exists: using it", c->cs.conf->name);
		rv = CKR_OK;
	}
	if (rv != CKR_OK)
		goto out;
	snprintf(version, vlen, "%s/cryptoKeys/%s/cryptoKeyVersions/1", c->key_ring, id);
	if ((rv = await_enabled(c, version, &e)) != CKR_OK) {
		hw_cloud_err_log(c->cs.conf->name, "gcp-kms", "CreateCryptoKey", &e);
		goto out;
	}
	hw_info("slot \"%s\" (gcp-kms): created %s key %s/cryptoKeys/%s", c->cs.conf->name, alg, c->key_ring, id);
out:
	json_object_put(body);
	json_object_put(resp);
	return rv;
}

/* The new key k (taken): its CKA_LABEL and CKA_ID from the template. */
static CK_RV name_it(hw_gcp_key *k, const CK_ATTRIBUTE *la, const CK_ATTRIBUTE *ia)
{
	if (la != NULL && la->ulValueLen > 0 && (k->label = strndup(la->pValue, la->ulValueLen)) == NULL)
		return CKR_HOST_MEMORY;
	if (ia != NULL && ia->ulValueLen > 0)
		hw_gcp_key_set_id(k, ia->pValue, ia->ulValueLen);
	return CKR_OK;
}

CK_RV hw_gcp_generate(void *vc, const hw_keygen *g, hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid,
		      int64_t *priv_oid, void **bdata)
{
	hw_gcp_ctx *c = vc;
	char alg[48], version[1200];
	hw_gcp_key *k = NULL;
	hw_cloud_err e;
	/* one purpose per crypto key: decrypt only when asked for without signing */
	bool decrypt = g->key_type == CKK_RSA && hw_attrs_get_bool(priv, CKA_DECRYPT, false) &&
		       !hw_attrs_get_bool(priv, CKA_SIGN, false);
	CK_RV rv = algorithm(g, pub, priv, decrypt, alg, sizeof(alg));
	if (rv != CKR_OK)
		return rv;
	const CK_ATTRIBUTE *la = pair_attr(pub, priv, CKA_LABEL), *ia = pair_attr(pub, priv, CKA_ID);
	if ((rv = create(c, decrypt ? "ASYMMETRIC_DECRYPT" : "ASYMMETRIC_SIGN", alg, la, ia, version,
			 sizeof(version))) != CKR_OK ||
	    (rv = hw_gcp_key_fetch(c, version, &k, &e)) != CKR_OK || (rv = name_it(k, la, ia)) != CKR_OK) {
		hw_gcp_key_free(k);
		return rv;
	}
	return keep_new(c, k, pub, priv, pub_oid, priv_oid, bdata);
}

CK_RV hw_gcp_generate_secret(void *vc, const CK_MECHANISM *mech, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	hw_gcp_ctx *c = vc;
	CK_KEY_TYPE kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
	CK_ULONG len = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	const CK_ATTRIBUTE *la = hw_attrs_get(attrs, CKA_LABEL), *ia = hw_attrs_get(attrs, CKA_ID);
	char version[1200];
	hw_gcp_key *k = NULL, probe = { 0 };
	hw_attrs pub;
	hw_cloud_err e;
	int64_t pub_oid;
	CK_RV rv;
	(void)mech;
	/* Cloud KMS's HMAC keys are as long as their digest, and a listing
	 * knows only the digest: the template names the HMAC key type (a
	 * generic secret would come back as one) */
	static const char *const algs[] = { "HMAC_SHA224", "HMAC_SHA256", "HMAC_SHA384", "HMAC_SHA512" };
	const char *alg = NULL;
	if (kt == CKK_GENERIC_SECRET) {
		hw_info("slot \"%s\" (gcp-kms): HMAC keys are made with their key type (CKK_SHA256_HMAC ...), not "
			"CKK_GENERIC_SECRET", c->cs.conf->name);
		return CKR_TEMPLATE_INCONSISTENT;
	}
	for (size_t i = 0; i < 4 && alg == NULL; i++)
		if (hw_gcp_mac_alg(algs[i], &probe) && probe.nlen == len && kt == probe.type)
			alg = algs[i];
	if (alg == NULL) {
		hw_info("slot \"%s\" (gcp-kms): Cloud KMS makes HMAC keys of 28, 32, 48 or 64 bytes (SHA-224 to "
			"SHA-512), not %lu bytes of key type 0x%lx", c->cs.conf->name, (unsigned long)len, (unsigned long)kt);
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	if ((rv = create(c, "MAC", alg, la, ia, version, sizeof(version))) != CKR_OK ||
	    (rv = hw_gcp_mac_fetch(c, version, &k, &e)) != CKR_OK || (rv = name_it(k, la, ia)) != CKR_OK) {
		hw_gcp_key_free(k);
		return rv;
	}
	hw_attrs_init(&pub);
	rv = keep_new(c, k, &pub, attrs, &pub_oid, oid, bdata);
	hw_attrs_clear(&pub);
	return rv;
}
