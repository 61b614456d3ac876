/*
 * The "tpm" slot: keys made and used inside a TPM 2.0 through tpm2-tss
 * (ESAPI), over any TCTI (the kernel resource manager /dev/tpmrm0 by
 * default, tpm2-abrmd, or a simulator). The key blobs and every object's
 * attributes live in the local store; the private keys never exist outside
 * the TPM. See tpm_int.h for the units.
 */
#include "slots/tpm_int.h"
#include "module/audit.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_RV tpm_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_tpm_ctx *c = vctx;
	const char *t = hw_conf_str(conf, "tcti", NULL);
	/* as the tpm2 tools do: the environment when the config names none */
	if (t == NULL)
		t = secure_getenv("TPM2TOOLS_TCTI");
	if (t == NULL || t[0] == '\0')
		t = secure_getenv("TSS2_TCTI");
	if (t == NULL || t[0] == '\0')
		t = HW_TPM_DEFAULT_TCTI;
	if (strlen(t) >= sizeof(c->tcti)) {
		snprintf(err, err_len, "tcti: expected at most %zu characters", sizeof(c->tcti) - 1);
		return CKR_ARGUMENTS_BAD;
	}
	snprintf(c->tcti, sizeof(c->tcti), "%s", t);
	/* a bare TPM has three object slots for everyone (the SRK takes one);
	 * behind a resource manager each connection has its own */
	int64_t n = hw_conf_int(conf, "loaded_keys", 2);
	if (n < 1 || n > HW_TPM_LOADED) {
		snprintf(err, err_len, "loaded_keys: expected 1..%d", HW_TPM_LOADED);
		return CKR_ARGUMENTS_BAD;
	}
	c->max_loaded = (unsigned)n;
	c->attest = hw_conf_bool(conf, "attest", true);
	c->conf = conf;
	c->st.dir = all->store;
	c->st.slot = conf->name;
	c->srk = ESYS_TR_NONE;
	c->session = ESYS_TR_NONE;
	pthread_mutex_init(&c->lock, NULL);
	return CKR_OK;
}

static void tpm_close(void *vctx, bool forked)
{
	hw_tpm_ctx *c = vctx;
	hw_tpm_disconnect_inlock(c, forked);
	if (!forked)
		hw_tpm_fast_free(c);   /* a child abandons them with the parent's OpenSSL context */
	hw_stored_close(&c->st, forked);
	hw_secret_free(c->mk);
	c->mk = NULL;
	pthread_mutex_destroy(&c->lock);
}

static void pad_copy(unsigned char *dst, size_t len, const char *s)
{
	size_t n = strlen(s);
	memset(dst, ' ', len);
	memcpy(dst, s, n < len ? n : len);
}

static CK_RV tpm_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_tpm_ctx *c = vctx;
	CK_FLAGS flags;
	char buf[600];
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	CK_RV rv = hw_tpm_token_flags(c, &flags);
	if (rv != CKR_OK)
		return CKR_TOKEN_NOT_PRESENT;
	info->flags = flags;
	info->ulMinPinLen = 4;
	info->ulMaxPinLen = 64;
	pthread_mutex_lock(&c->lock);
	/* the TPM's vendor and firmware, as the TPM reports them */
	snprintf(buf, sizeof(buf), "TPM2 %s", c->vendor);
	pad_copy(info->model, sizeof(info->model), buf);
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), c->vendor);
	info->firmwareVersion.major = (CK_BYTE)((c->fw1 >> 16) > 255 ? 255 : (c->fw1 >> 16));
	info->firmwareVersion.minor = (CK_BYTE)((c->fw1 & 0xffff) > 255 ? 255 : (c->fw1 & 0xffff));
	snprintf(buf, sizeof(buf), "%s\n%s\n%s", c->st.dir, c->conf->name, c->tcti);
	pthread_mutex_unlock(&c->lock);
	if (hw_digest_once(CKM_SHA256, buf, strlen(buf), md, &mdlen) == CKR_OK) {
		for (int i = 0; i < 8; i++)
			snprintf(buf + 2 * i, 3, "%02x", md[i]);
		memcpy(info->serialNumber, buf, 16);
	}
	return CKR_OK;
}

static bool tpm_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	hw_tpm_ctx *c = vctx;
	CK_MECHANISM_INFO mi = { 0, 0, CKF_HW };
	pthread_mutex_lock(&c->lock);
	/* what this TPM reported at connect (TPM2_GetCapability, TestParms) */
	bool up = hw_tpm_connect_inlock(c) == CKR_OK, ec = c->ecc256 || c->ecc384;
	bool ok = false;
	switch (base) {
	case CKM_ECDSA:
	case CKM_EC_KEY_PAIR_GEN:
		ok = up && ec && (base == CKM_EC_KEY_PAIR_GEN || c->ecdsa);
		mi.ulMinKeySize = c->ecc256 ? 256 : 384;
		mi.ulMaxKeySize = c->ecc384 ? 384 : 256;
		mi.flags |= base == CKM_ECDSA ? CKF_SIGN : CKF_GENERATE_KEY_PAIR;
		break;
	case CKM_RSA_PKCS:
	case CKM_RSA_PKCS_PSS:            /* encoded here, raw RSA in the TPM */
	case CKM_RSA_PKCS_OAEP:
	case CKM_RSA_PKCS_KEY_PAIR_GEN:
		ok = up && c->rsa2048;
		mi.ulMinKeySize = 2048;
		mi.ulMaxKeySize = c->rsa3072 ? 3072 : 2048;
		mi.flags |= base == CKM_RSA_PKCS_KEY_PAIR_GEN ? CKF_GENERATE_KEY_PAIR :
			    base == CKM_RSA_PKCS_PSS ? CKF_SIGN :
			    base == CKM_RSA_PKCS_OAEP ? CKF_DECRYPT : CKF_SIGN | CKF_DECRYPT;
		break;
	default:
		/* secret keys: what this TPM has (tpm_secret.c); GCM never */
		ok = up && hw_tpm_sk_mechanism_inlock(c, base, &mi);
		break;
	}
	pthread_mutex_unlock(&c->lock);
	if (ok && info != NULL)
		*info = mi;
	return ok;
}

static CK_RV tpm_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	return hw_tpm_login(vctx, who, pin, len);
}

static void tpm_logout(void *vctx)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	hw_secret_free(c->mk);
	c->mk = NULL;
	pthread_mutex_unlock(&c->lock);
}

static bool tpm_changed(void *vctx)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	bool changed = hw_stored_changed(&c->st);
	pthread_mutex_unlock(&c->lock);
	return changed;
}

static CK_RV tpm_load(void *vctx, hw_obj_sink sink, void *arg)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_load(&c->st, sink, arg);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV insert(hw_tpm_ctx *c, hw_attrs *const *attrs, size_t n, const unsigned char *blob,
		    size_t blob_len, int64_t *ids)
{
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_insert(&c->st, attrs, n, blob, blob_len, ids);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV tpm_create(void *vctx, hw_attrs *attrs, int64_t *oid)
{
	hw_tpm_ctx *c = vctx;
	hw_attrs *one[1] = { attrs };
	CK_OBJECT_CLASS cls = hw_attrs_get_ulong(attrs, CKA_CLASS, CKO_DATA);
	/* a key made outside the TPM is not a TPM key (no TPM2_Import yet) */
	if (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
		hw_info("slot \"%s\": private and secret keys are made inside the TPM only", c->conf->name);
		return CKR_TEMPLATE_INCONSISTENT;
	}
	CK_RV rv = hw_vendor_attrs(attrs, "tpm", HW_SEC_HARDWARE, 1, NULL);
	return rv == CKR_OK ? insert(c, one, 1, NULL, 0, oid) : rv;
}

static CK_RV tpm_update(void *vctx, int64_t oid, const hw_attrs *attrs)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_update(&c->st, oid, attrs);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV tpm_destroy(void *vctx, int64_t oid, void *bdata)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_stored_delete(&c->st, oid);
	if (rv == CKR_OK && bdata != NULL)
		hw_tpm_key_unload_inlock(c, bdata);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static void tpm_free_bdata(void *vctx, void *bdata)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	hw_tpm_key_unload_inlock(c, bdata);
	pthread_mutex_unlock(&c->lock);
	free(bdata);
}

/* The CKO_DATA object holding the key's attestation bundle (tpm_attest.c):
 * the key's CKA_ID and label, application "hwagg-attestation". A key whose
 * attestation fails is kept, with a log line. */
static void attach_attestation(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *auth, const hw_attrs *priv)
{
	unsigned char *b = NULL, uid[16];
	size_t len = 0;
	char hex[33];
	hw_attrs d;
	int64_t oid;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_tpm_attest_inlock(c, k, auth, &b, &len);
	pthread_mutex_unlock(&c->lock);
	hw_attrs_init(&d);
	const CK_ATTRIBUTE *id = hw_attrs_get(priv, CKA_ID), *label = hw_attrs_get(priv, CKA_LABEL);
	if (rv == CKR_OK)
		rv = hw_random(uid, sizeof(uid));
	for (size_t i = 0; i < sizeof(uid); i++)
		snprintf(hex + 2 * i, 3, "%02x", uid[i]);
	if (rv == CKR_OK &&
	    ((rv = hw_attrs_set_ulong(&d, CKA_CLASS, CKO_DATA)) != CKR_OK ||
	     (rv = hw_attrs_set_bool(&d, CKA_TOKEN, true)) != CKR_OK ||
	     (rv = hw_attrs_set_bool(&d, CKA_PRIVATE, false)) != CKR_OK ||
	     (rv = hw_attrs_set_bool(&d, CKA_MODIFIABLE, false)) != CKR_OK ||
	     (rv = hw_attrs_set_str(&d, CKA_APPLICATION, "hwagg-attestation")) != CKR_OK ||
	     (rv = hw_attrs_set(&d, CKA_OBJECT_ID, "", 0)) != CKR_OK ||
	     (rv = hw_attrs_set(&d, CKA_VALUE, b, len)) != CKR_OK ||
	     (rv = hw_attrs_set_str(&d, CKA_UNIQUE_ID, hex)) != CKR_OK ||
	     (id != NULL && (rv = hw_attrs_set(&d, CKA_ID, id->pValue, id->ulValueLen)) != CKR_OK) ||
	     (label != NULL && (rv = hw_attrs_set(&d, CKA_LABEL, label->pValue, label->ulValueLen)) != CKR_OK) ||
	     (rv = hw_vendor_attrs(&d, "tpm", HW_SEC_HARDWARE, 1, NULL)) != CKR_OK)) {
		/* rv says it */
	}
	if (rv == CKR_OK) {
		hw_attrs *one[1] = { &d };
		rv = insert(c, one, 1, NULL, 0, &oid);
	}
	if (rv != CKR_OK)
		hw_warn("slot \"%s\": the new key has no attestation: %s", c->conf->name, hw_rv_name(rv));
	/* audited with the key's label and the bundle object's unique id */
	char detail[160];
	snprintf(detail, sizeof(detail), "TPM2_Certify of key \"%.*s\" by the attestation key; bundle %s",
		 label != NULL && label->ulValueLen < 64 ? (int)label->ulValueLen : 0,
		 label != NULL ? (const char *)label->pValue : "", rv == CKR_OK ? hex : "not stored");
	hw_audit_note(c->conf->name, "attestation", detail, rv);
	hw_attrs_clear(&d);
	free(b);
}

static CK_RV tpm_generate(void *vctx, CK_KEY_TYPE type, const hw_keygen *g, bool token,
			  hw_attrs *pub, hw_attrs *priv, int64_t *pub_oid, int64_t *priv_oid,
			  void **bdata)
{
	hw_tpm_ctx *c = vctx;
	unsigned char auth[HW_TPM_AUTH_LEN], *blob = NULL;
	size_t blob_len = 0;
	hw_tpm_key *k = calloc(1, sizeof(*k));
	CK_RV rv = k != NULL ? hw_random(k->salt, sizeof(k->salt)) : CKR_HOST_MEMORY;
	if (rv != CKR_OK)
		goto out;
	pthread_mutex_lock(&c->lock);
	rv = hw_tpm_key_auth(c->mk, k->salt, auth);
	if (rv == CKR_OK)
		rv = hw_tpm_connect_inlock(c);
	if (rv == CKR_OK)
		rv = hw_tpm_key_create_inlock(c, g, auth, k);
	pthread_mutex_unlock(&c->lock);
	if (rv != CKR_OK)
		goto out;
	if ((rv = hw_tpm_key_public_attrs(k, pub, priv)) != CKR_OK ||
	    (rv = hw_vendor_attrs(pub, "tpm", HW_SEC_HARDWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_vendor_attrs(priv, "tpm", HW_SEC_HARDWARE, 1, NULL)) != CKR_OK ||
	    (rv = hw_keypair_complete(pub, priv)) != CKR_OK)
		goto out;
	if (token) {
		hw_attrs *both[2] = { pub, priv };
		int64_t ids[2];
		if ((rv = hw_tpm_key_marshal(k, &blob, &blob_len)) != CKR_OK ||
		    (rv = insert(c, both, 2, blob, blob_len, ids)) != CKR_OK)
			goto out;
		*pub_oid = ids[0];
		*priv_oid = ids[1];
		if (c->attest)
			attach_attestation(c, k, auth, priv);
	}
	*bdata = k;
	k = NULL;
out:
	hw_wipe(auth, sizeof(auth));
	free(k);
	free(blob);
	return rv;
}

static CK_RV unmarshal_one(void *arg, const hw_store_obj *o)
{
	return o->secret != NULL ? hw_tpm_key_unmarshal(o->secret, o->secret_len, arg) : CKR_KEY_HANDLE_INVALID;
}

/* The key's blob, read from the store on its first use (under c->lock). */
static CK_RV key_inlock(hw_tpm_ctx *c, hw_obj *key)
{
	bool none;
	CK_RV rv = CKR_OK;
	if (key->bdata == NULL) {
		hw_tpm_key *k = calloc(1, sizeof(*k));
		rv = k != NULL ? hw_stored_open(&c->st, false, &none) : CKR_HOST_MEMORY;
		if (rv == CKR_OK && none)
			rv = CKR_KEY_HANDLE_INVALID;
		if (rv == CKR_OK)
			rv = hw_store_obj_get(c->st.store, c->conf->name, key->oid, unmarshal_one, k);
		if (rv == CKR_OK) {
			key->bdata = k;
		} else {
			free(k);
			hw_error("slot \"%s\": cannot read the key blob of store object %lld: %s", c->conf->name,
				 (long long)key->oid, hw_rv_name(rv));
			if (rv != CKR_HOST_MEMORY)
				rv = CKR_DEVICE_ERROR;
		}
	}
	return rv;
}

static CK_RV tpm_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = key_inlock(c, key);
	if (rv == CKR_OK)
		rv = hw_tpm_key_sign_inlock(c, key->bdata, req, sig, sig_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV tpm_decrypt(void *vctx, hw_obj *key, const hw_crypt_req *req, unsigned char *out, size_t *out_len)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = key_inlock(c, key);
	if (rv == CKR_OK)
		rv = hw_tpm_key_decrypt_inlock(c, key->bdata, req, out, out_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

/* A new secret key (value NULL: the TPM makes it) kept like a private key:
 * its blob in the store for a token key. The TPM never gives the value
 * out, so a template that asks for it to be readable cannot be met. */
static CK_RV secret_key(hw_tpm_ctx *c, bool token, hw_attrs *attrs, const unsigned char *value, int64_t *oid,
			void **bdata)
{
	CK_ULONG kt = hw_attrs_get_ulong(attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
	size_t len = hw_attrs_get_ulong(attrs, CKA_VALUE_LEN, 0);
	unsigned char auth[HW_TPM_AUTH_LEN], *blob = NULL, cv[3];
	size_t blob_len = 0;
	hw_tpm_key *k = NULL;
	CK_RV rv = CKR_OK, cv_rv = CKR_FUNCTION_NOT_SUPPORTED;
	/* as for private keys (objects/rules.c): the attributes say what the
	 * key is, whatever the template hoped for */
	if (!hw_attrs_get_bool(attrs, CKA_SENSITIVE, true) || hw_attrs_get_bool(attrs, CKA_EXTRACTABLE, false))
		hw_info("slot \"%s\": a secret key in the TPM is sensitive and not extractable, whatever the "
			"template asks", c->conf->name);
	if ((rv = hw_attrs_set_bool(attrs, CKA_SENSITIVE, true)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(attrs, CKA_EXTRACTABLE, false)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(attrs, CKA_ALWAYS_SENSITIVE, value == NULL)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(attrs, CKA_NEVER_EXTRACTABLE, value == NULL)) != CKR_OK)
		return rv;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = hw_random(k->salt, sizeof(k->salt))) != CKR_OK)
		goto out;
	pthread_mutex_lock(&c->lock);
	rv = hw_tpm_key_auth(c->mk, k->salt, auth);
	if (rv == CKR_OK)
		rv = hw_tpm_connect_inlock(c);
	if (rv == CKR_OK)
		rv = hw_tpm_sk_create_inlock(c, kt == CKK_AES, len, value, auth, k);
	if (rv == CKR_OK && (cv_rv = hw_tpm_sk_check_value_inlock(c, k, value, len, cv)) != CKR_OK &&
	    cv_rv != CKR_FUNCTION_NOT_SUPPORTED)
		rv = cv_rv;
	pthread_mutex_unlock(&c->lock);
	if (rv == CKR_OK && cv_rv == CKR_OK)
		rv = hw_attrs_set(attrs, CKA_CHECK_VALUE, cv, sizeof(cv));
	if (rv != CKR_OK || (rv = hw_vendor_attrs(attrs, "tpm", HW_SEC_HARDWARE, 1, NULL)) != CKR_OK)
		goto out;
	if (token) {
		hw_attrs *one[1] = { attrs };
		if ((rv = hw_tpm_key_marshal(k, &blob, &blob_len)) != CKR_OK ||
		    (rv = insert(c, one, 1, blob, blob_len, oid)) != CKR_OK)
			goto out;
	}
	*bdata = k;
	k = NULL;
out:
	hw_wipe(auth, sizeof(auth));
	free(k);
	free(blob);
	return rv;
}

static CK_RV tpm_generate_key(void *vctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			      void **bdata)
{
	(void)mech;    /* the key type says it: AES or generic secret / HMAC */
	return secret_key(vctx, token, attrs, NULL, oid, bdata);
}

/* The value goes into the TPM once, in TPM2_Create's encrypted inSensitive. */
static CK_RV tpm_import_key(void *vctx, bool token, hw_attrs *attrs, int64_t *oid, void **bdata)
{
	const CK_ATTRIBUTE *a = hw_attrs_get(attrs, CKA_VALUE);
	hw_secret *v = a != NULL && a->ulValueLen > 0 ? hw_secret_dup(a->pValue, a->ulValueLen) : NULL;
	hw_attrs_remove(attrs, CKA_VALUE);
	if (v == NULL)
		return a == NULL || a->ulValueLen == 0 ? CKR_TEMPLATE_INCOMPLETE : CKR_HOST_MEMORY;
	CK_RV rv = secret_key(vctx, token, attrs, v->data, oid, bdata);
	hw_secret_free(v);
	return rv;
}

static CK_RV tpm_sk_begin(void *vctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = key_inlock(c, key);
	if (rv == CKR_OK)
		rv = hw_tpm_sk_begin_inlock(c, key->bdata, kind, mech, op);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV tpm_sk_update(void *vctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			   size_t *out_len)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_tpm_sk_update_inlock(c, op, in, len, out, out_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static CK_RV tpm_sk_final(void *vctx, void *op, bool single, const unsigned char *in, size_t len,
			  const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	hw_tpm_ctx *c = vctx;
	(void)single;  /* the stream sends whole TPM buffers either way */
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_tpm_sk_final_inlock(c, op, in, len, sig, sig_len, out, out_len);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static void tpm_sk_end(void *vctx, void *op)
{
	(void)vctx;
	hw_tpm_sk_end(op);
}

static CK_RV tpm_health(void *vctx, char *msg, size_t len)
{
	hw_tpm_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	CK_RV rv = hw_tpm_connect_inlock(c);
	if (rv == CKR_OK)
		snprintf(msg, len, "TPM %s (firmware %08x) via \"%s\": ok, lockout counter %u of %u",
			 c->vendor, c->fw1, c->tcti, c->da_count, c->da_max);
	else
		snprintf(msg, len, "TPM via \"%s\": not reachable", c->tcti);
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static hw_security tpm_security(void *vctx)
{
	return HW_SEC_HARDWARE;
}

static uint64_t tpm_token_epoch(void *vctx)
{
	hw_tpm_ctx *c = vctx;
	/* read on every call that takes a session: no lock */
	return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE);
}

static CK_RV tpm_init_token(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label)
{
	return hw_tpm_init_token(vctx, pin, len, label);
}

static CK_RV tpm_init_pin(void *vctx, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	return hw_tpm_init_pin(vctx, pin, len);
}

static CK_RV tpm_set_pin(void *vctx, hw_auth who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	return hw_tpm_set_pin(vctx, who, old_pin, old_len, new_pin, new_len);
}

const hw_backend_ops hw_tpm_ops = {
	.type = "tpm",
	.ctx_size = sizeof(hw_tpm_ctx),
	.open = tpm_open,
	.close = tpm_close,
	.token_info = tpm_token_info,
	.has_mechanism = tpm_has_mechanism,
	.login = tpm_login,
	.logout = tpm_logout,
	.init_token = tpm_init_token,
	.init_pin = tpm_init_pin,
	.set_pin = tpm_set_pin,
	.changed = tpm_changed,
	.load = tpm_load,
	.create = tpm_create,
	.update = tpm_update,
	.destroy = tpm_destroy,
	.free_bdata = tpm_free_bdata,
	.generate_key_pair = tpm_generate,
	.sign = tpm_sign,
	.decrypt = tpm_decrypt,
	.health = tpm_health,
	.security = tpm_security,
	.token_epoch = tpm_token_epoch,
	.generate_key = tpm_generate_key,
	.import_key = tpm_import_key,
	.sk_begin = tpm_sk_begin,
	.sk_update = tpm_sk_update,
	.sk_final = tpm_sk_final,
	.sk_end = tpm_sk_end,
};
