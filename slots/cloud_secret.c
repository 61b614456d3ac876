/*
 * Secret keys held by a cloud KMS (cloud_slot.h): their one object each
 * (CKO_SECRET_KEY, never extractable: the key material stays in the
 * service), C_GenerateKey of them, and the HMACs over the service's MAC
 * operation. A MAC call carries the whole message, so a multi-part
 * operation gathers its parts here, up to the service's limit (mac_max):
 * a longer message is CKR_DATA_LEN_RANGE at the part that passes it, and
 * an empty one too (the services take at least one byte).
 */
#include "slots/cloud_slot.h"
#include "common/log.h"
#include "mechanisms/cipher.h"

#include <stdlib.h>
#include <string.h>

#define MAC_MAX_OUT 64          /* SHA-512 */

static CK_RV set_bools(hw_attrs *a, const CK_ATTRIBUTE_TYPE *types, size_t n, bool v)
{
	CK_RV rv = CKR_OK;
	for (size_t i = 0; rv == CKR_OK && i < n; i++)
		rv = hw_attrs_set_bool(a, types[i], v);
	return rv;
}

CK_RV hw_cloud_secret_attrs(const hw_cloud_keyinfo *k, hw_attrs *a)
{
	static const CK_ATTRIBUTE_TYPE yes[] = { CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL,
						 CKA_PRIVATE, CKA_TOKEN, CKA_MODIFIABLE };
	static const CK_ATTRIBUTE_TYPE no[] = { CKA_EXTRACTABLE, CKA_DERIVE, CKA_COPYABLE, CKA_WRAP_WITH_TRUSTED,
						CKA_ALWAYS_AUTHENTICATE, CKA_TRUSTED, CKA_ENCRYPT, CKA_DECRYPT };
	/* a key-encryption key wraps and unwraps; a MAC key signs and verifies */
	static const CK_ATTRIBUTE_TYPE kek[] = { CKA_WRAP, CKA_UNWRAP };
	static const CK_ATTRIBUTE_TYPE mac[] = { CKA_SIGN, CKA_VERIFY };
	CK_RV rv;
	if ((rv = hw_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(a, CKA_KEY_TYPE, k->type)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(a, CKA_VALUE_LEN, k->secret_len)) != CKR_OK ||
	    (rv = set_bools(a, yes, sizeof(yes) / sizeof(yes[0]), true)) != CKR_OK ||
	    (rv = set_bools(a, no, sizeof(no) / sizeof(no[0]), false)) != CKR_OK ||
	    (rv = set_bools(a, kek, 2, k->decrypt)) != CKR_OK || (rv = set_bools(a, mac, 2, !k->decrypt)) != CKR_OK)
		return rv;
	/* the value never reaches this process */
	hw_attrs_remove(a, CKA_VALUE);
	return hw_vendor_attrs(a, k->backend, k->sec, k->version, k->uri);
}

CK_RV hw_cloud_secret_listed(const hw_cloud_keyinfo *k, hw_attrs *a)
{
	CK_RV rv;
	if ((rv = hw_attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM,
				     k->type == CKK_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN)) != CKR_OK ||
	    (rv = hw_attrs_set_str(a, CKA_LABEL, k->label)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_DESTROYABLE, true)) != CKR_OK ||
	    (rv = hw_attrs_set(a, CKA_START_DATE, "", 0)) != CKR_OK || (rv = hw_attrs_set(a, CKA_END_DATE, "", 0)) != CKR_OK)
		return rv;
	if (k->id != NULL && k->id_len > 0 && (rv = hw_attrs_set(a, CKA_ID, k->id, k->id_len)) != CKR_OK)
		return rv;
	return hw_cloud_secret_attrs(k, a);
}

/* The HMAC mechanisms: their digest and full output length. */
static const struct {
	CK_MECHANISM_TYPE mech, general, hash;
	size_t len;
} hmacs[] = {
	{ CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, CKM_SHA224, 28 },
	{ CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, CKM_SHA256, 32 },
	{ CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKM_SHA384, 48 },
	{ CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, CKM_SHA512, 64 },
};

static int hmac_index(CK_MECHANISM_TYPE m)
{
	for (size_t i = 0; i < sizeof(hmacs) / sizeof(hmacs[0]); i++)
		if (hmacs[i].mech == m || hmacs[i].general == m)
			return (int)i;
	return -1;
}

bool hw_cloud_secret_mechanism(const hw_cloud_slot *cs, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	CK_MECHANISM_INFO i = { 0, 0, 0 };
	if (cs->keys->mac != NULL && hmac_index(base) >= 0)
		i = (CK_MECHANISM_INFO){ 28, 64, CKF_SIGN | CKF_VERIFY | CKF_HW };
	else if (cs->keys->generate_secret != NULL && base == CKM_GENERIC_SECRET_KEY_GEN)
		i = (CK_MECHANISM_INFO){ 28, 64, CKF_GENERATE | CKF_HW };
	else
		return hw_cloud_envelope_mechanism(cs, base, info);
	if (info != NULL)
		*info = i;
	return true;
}

CK_RV hw_cloud_generate_key(void *ctx, const CK_MECHANISM *mech, bool token, hw_attrs *attrs, int64_t *oid,
			    void **bdata)
{
	hw_cloud_slot *cs = ctx;
	/* a session AES key is a data key of this process (envelope
	 * encryption); a token one, the service's key-encryption key */
	if (mech->mechanism == CKM_AES_KEY_GEN && !token && cs->keys->wrap != NULL) {
		*oid = 0;
		return hw_cloud_dkey_generate(cs, attrs, bdata);
	}
	if (cs->keys->generate_secret == NULL ||
	    (mech->mechanism != CKM_GENERIC_SECRET_KEY_GEN && (mech->mechanism != CKM_AES_KEY_GEN || cs->keys->wrap == NULL)))
		return CKR_MECHANISM_INVALID;
	/* a service key outlives any session: a session key would be left behind */
	if (!token) {
		hw_info("slot \"%s\" (%s): secret keys in the service are token keys (CKA_TOKEN true)", cs->conf->name,
			cs->objs.backend);
		return CKR_TEMPLATE_INCONSISTENT;
	}
	return cs->keys->generate_secret(ctx, mech, attrs, oid, bdata);
}

/* ---- HMAC over the service ----------------------------------------------------- */

typedef struct cloud_mac {
	hw_sk *sk;                    /* a data key's AES stream (the rest unused) */
	const void *key;              /* the object's bdata: the backend's record */
	CK_MECHANISM_TYPE hash;
	size_t out_len;               /* what C_Sign gives (the _GENERAL length) */
	size_t full;                  /* the digest's whole MAC */
	bool verify;
	unsigned char *msg;           /* the parts so far */
	size_t len;
} cloud_mac;

CK_RV hw_cloud_sk_begin(void *ctx, hw_obj *key, CK_FLAGS kind, const CK_MECHANISM *mech, void **op)
{
	hw_cloud_slot *cs = ctx;
	int i = hmac_index(mech->mechanism);
	cloud_mac *m;
	if (key->bdata == NULL)
		return CKR_KEY_HANDLE_INVALID;
	/* a session key is a data key: AES here, in software */
	if (key->oid == 0) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return CKR_HOST_MEMORY;
		CK_RV rv = hw_cloud_dkey_begin(cs, key->bdata, kind, mech, (void **)&m->sk);
		if (rv != CKR_OK)
			free(m);
		else
			*op = m;
		return rv;
	}
	if (cs->keys->mac == NULL || i < 0 || (kind != CKF_SIGN && kind != CKF_VERIFY))
		return CKR_MECHANISM_INVALID;
	/* the service's key makes one HMAC: the one whose digest is as long as
	 * the key (HMAC_256: 32 bytes, HMAC-SHA-256) */
	hw_snap *s = hw_obj_snap(key);
	CK_ULONG klen = hw_attrs_get_ulong(hw_snap_attrs(s), CKA_VALUE_LEN, 0);
	hw_snap_put(s);
	if (klen != hmacs[i].len) {
		hw_info("slot \"%s\" (%s): a %lu-byte service key does not make %zu-byte HMACs", cs->conf->name,
			cs->objs.backend, (unsigned long)klen, hmacs[i].len);
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return CKR_HOST_MEMORY;
	m->key = key->bdata;
	m->hash = hmacs[i].hash;
	m->full = m->out_len = hmacs[i].len;
	/* the engine checked the _GENERAL length (at most the full MAC) */
	if (mech->mechanism == hmacs[i].general && mech->pParameter != NULL &&
	    mech->ulParameterLen == sizeof(CK_ULONG))   /* CK_MAC_GENERAL_PARAMS */
		m->out_len = *(const CK_ULONG *)mech->pParameter;
	if (m->out_len == 0 || m->out_len > m->full) {
		free(m);
		return CKR_MECHANISM_PARAM_INVALID;
	}
	m->verify = kind == CKF_VERIFY;
	*op = m;
	return CKR_OK;
}

static CK_RV gather(const hw_cloud_slot *cs, cloud_mac *m, const unsigned char *in, size_t len)
{
	if (len == 0)
		return CKR_OK;
	if (m->len + len > cs->keys->mac_max || m->len + len < len) {
		hw_info("slot \"%s\" (%s): the service MACs messages of at most %zu bytes", cs->conf->name,
			cs->objs.backend, cs->keys->mac_max);
		return CKR_DATA_LEN_RANGE;
	}
	if (m->msg == NULL && (m->msg = malloc(cs->keys->mac_max)) == NULL)
		return CKR_HOST_MEMORY;
	memcpy(m->msg + m->len, in, len);
	m->len += len;
	return CKR_OK;
}

CK_RV hw_cloud_sk_update(void *ctx, void *op, const unsigned char *in, size_t len, unsigned char *out,
			 size_t *out_len)
{
	cloud_mac *m = op;
	return m->sk != NULL ? hw_sk_update(m->sk, in, len, out, out_len) : gather(ctx, m, in, len);
}

/* The end of a data key's AES stream: the last part in, then the rest
 * (and a GCM tag) out behind what it gave. */
static CK_RV cipher_final(hw_sk *sk, const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
	size_t room = *out_len, part = room, rest;
	CK_RV rv = len > 0 ? hw_sk_update(sk, in, len, out, &part) : (part = 0, CKR_OK);
	if (rv != CKR_OK)
		return rv;
	rest = room - part;
	if ((rv = hw_sk_final(sk, NULL, 0, out + part, &rest)) == CKR_OK)
		*out_len = part + rest;
	return rv;
}

CK_RV hw_cloud_sk_final(void *ctx, void *op, bool single, const unsigned char *in, size_t len,
			const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	hw_cloud_slot *cs = ctx;
	cloud_mac *m = op;
	unsigned char mac[MAC_MAX_OUT];
	size_t got = sizeof(mac);
	CK_RV rv = CKR_OK;
	if (m->sk != NULL)
		return cipher_final(m->sk, in, len, out, out_len);
	/* a single call needs no copy: its input is the whole message */
	if (!single && (rv = gather(cs, m, in, len)) != CKR_OK)
		return rv;
	const unsigned char *msg = single ? in : m->msg;
	size_t n = single ? len : m->len;
	if (n == 0 || n > cs->keys->mac_max) {
		hw_info("slot \"%s\" (%s): the service MACs messages of 1 to %zu bytes, not %zu", cs->conf->name,
			cs->objs.backend, cs->keys->mac_max, n);
		return CKR_DATA_LEN_RANGE;
	}
	if (m->verify && sig_len == m->full)
		return cs->keys->mac(ctx, m->key, m->hash, msg, n, NULL, NULL, sig, sig_len);
	/* signing, or checking a truncated MAC (_GENERAL): the service makes
	 * the whole MAC and the comparison is here, in constant time */
	if ((rv = cs->keys->mac(ctx, m->key, m->hash, msg, n, mac, &got, NULL, 0)) != CKR_OK)
		return rv;
	if (got != m->full) {
		hw_error("slot \"%s\" (%s): the service answered a %zu-byte MAC, not %zu", cs->conf->name,
			 cs->objs.backend, got, m->full);
		return CKR_DEVICE_ERROR;
	}
	if (m->verify) {
		unsigned char diff = (unsigned char)(sig_len != m->out_len);
		for (size_t i = 0; i < m->out_len && i < sig_len; i++)
			diff |= (unsigned char)(mac[i] ^ sig[i]);
		return diff == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
	}
	memcpy(out, mac, m->out_len);
	*out_len = m->out_len;
	return CKR_OK;
}

void hw_cloud_sk_end(void *ctx, void *op)
{
	cloud_mac *m = op;
	if (m == NULL)
		return;
	hw_sk_free(m->sk);
	if (m->msg != NULL)
		hw_wipe(m->msg, m->len);
	free(m->msg);
	free(m);
}
