/*
 * Secret-key operations: parameters and length rules for every slot, and
 * the software implementation over OpenSSL 3 in hwagg's library context
 * (never the default one: see crypto.c).
 */
#include "mechanisms/cipher.h"
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"
#include "common/secret.h"
#include "common/log.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The HMAC mechanisms: digest, and whether the output length is a
 * parameter (the _GENERAL forms, CK_MAC_GENERAL_PARAMS). */
static const struct {
	CK_MECHANISM_TYPE mech, hash;
	CK_KEY_TYPE own;              /* the key type named after it */
	bool general;
	const char *md;               /* OpenSSL digest name */
} hmacs[] = {
	{ CKM_SHA_1_HMAC, CKM_SHA_1, CKK_SHA_1_HMAC, false, "SHA1" },
	{ CKM_SHA_1_HMAC_GENERAL, CKM_SHA_1, CKK_SHA_1_HMAC, true, "SHA1" },
	{ CKM_SHA224_HMAC, CKM_SHA224, CKK_SHA224_HMAC, false, "SHA2-224" },
	{ CKM_SHA224_HMAC_GENERAL, CKM_SHA224, CKK_SHA224_HMAC, true, "SHA2-224" },
	{ CKM_SHA256_HMAC, CKM_SHA256, CKK_SHA256_HMAC, false, "SHA2-256" },
	{ CKM_SHA256_HMAC_GENERAL, CKM_SHA256, CKK_SHA256_HMAC, true, "SHA2-256" },
	{ CKM_SHA384_HMAC, CKM_SHA384, CKK_SHA384_HMAC, false, "SHA2-384" },
	{ CKM_SHA384_HMAC_GENERAL, CKM_SHA384, CKK_SHA384_HMAC, true, "SHA2-384" },
	{ CKM_SHA512_HMAC, CKM_SHA512, CKK_SHA512_HMAC, false, "SHA2-512" },
	{ CKM_SHA512_HMAC_GENERAL, CKM_SHA512, CKK_SHA512_HMAC, true, "SHA2-512" },
};

static int hmac_index(CK_MECHANISM_TYPE t)
{
	for (size_t i = 0; i < HW_ARRAY_LEN(hmacs); i++)
		if (hmacs[i].mech == t)
			return (int)i;
	return -1;
}

bool hw_mech_secret_op(const hw_mech *m)
{
	if (m->key_type == CKK_AES)
		return (m->flags & (CKF_ENCRYPT | CKF_DECRYPT)) != 0;
	return hmac_index(m->type) >= 0;
}

bool hw_sk_key_type_ok(const hw_mech *m, CK_KEY_TYPE kt)
{
	int i = hmac_index(m->type);
	if (i < 0)
		return kt == m->key_type;
	return kt == CKK_GENERIC_SECRET || kt == hmacs[i].own;
}

/* The 2.40 document's CK_GCM_PARAMS, without ulIvBits (the 2.40 header and
 * 3.0 have it): both are in use. */
typedef struct {
	CK_BYTE_PTR pIv;
	CK_ULONG ulIvLen;
	CK_BYTE_PTR pAAD;
	CK_ULONG ulAADLen;
	CK_ULONG ulTagBits;
} gcm_params_240;

static CK_RV gcm_parse(const CK_MECHANISM *mech, hw_sk_params *p)
{
	CK_GCM_PARAMS g;
	memset(&g, 0, sizeof(g));
	if (mech->ulParameterLen == sizeof(CK_GCM_PARAMS)) {
		memcpy(&g, mech->pParameter, sizeof(g));
	} else if (mech->ulParameterLen == sizeof(gcm_params_240)) {
		gcm_params_240 o;
		memcpy(&o, mech->pParameter, sizeof(o));
		g.pIv = o.pIv;
		g.ulIvLen = o.ulIvLen;
		g.ulIvBits = o.ulIvLen * 8;
		g.pAAD = o.pAAD;
		g.ulAADLen = o.ulAADLen;
		g.ulTagBits = o.ulTagBits;
	} else {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	/* M "GCM": IV of 1 to 256 bytes; the tag lengths SP 800-38D allows */
	if (g.pIv == NULL || g.ulIvLen < 1 || g.ulIvLen > 256 || (g.pAAD == NULL && g.ulAADLen > 0))
		return CKR_MECHANISM_PARAM_INVALID;
	switch (g.ulTagBits) {
	case 32: case 64: case 96: case 104: case 112: case 120: case 128:
		break;
	default:
		return CKR_MECHANISM_PARAM_INVALID;
	}
	p->gcm = g;
	p->tag_len = g.ulTagBits / 8;
	return CKR_OK;
}

CK_RV hw_sk_params_parse(const hw_mech *m, const CK_MECHANISM *mech, hw_sk_params *out)
{
	hw_sk_params p;
	CK_ULONG len = mech->ulParameterLen;
	int h = hmac_index(m->type);
	CK_RV rv = CKR_OK;
	memset(&p, 0, sizeof(p));
	p.mech = m->type;
	p.hash = h >= 0 ? hmacs[h].hash : HW_NO_HASH;
	if (mech->pParameter == NULL && len != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (h >= 0 && hmacs[h].general) {
		CK_ULONG l;
		if (len != sizeof(CK_ULONG))
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(&l, mech->pParameter, sizeof(l));
		if (l < 1 || l > hw_hash_len(p.hash))
			return CKR_MECHANISM_PARAM_INVALID;
		p.mac_len = l;
	} else if (h >= 0) {
		if (len != 0)
			return CKR_MECHANISM_PARAM_INVALID;
		p.mac_len = hw_hash_len(p.hash);
	} else {
		switch (m->type) {
		case CKM_AES_ECB:
			rv = len == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
			break;
		case CKM_AES_CBC: case CKM_AES_CBC_PAD:
			if (len != HW_AES_BLOCK)
				return CKR_MECHANISM_PARAM_INVALID;
			memcpy(p.iv, mech->pParameter, HW_AES_BLOCK);
			break;
		case CKM_AES_CTR: {
			CK_AES_CTR_PARAMS c;
			if (len != sizeof(c))
				return CKR_MECHANISM_PARAM_INVALID;
			memcpy(&c, mech->pParameter, sizeof(c));
			if (c.ulCounterBits < 1 || c.ulCounterBits > 128)
				return CKR_MECHANISM_PARAM_INVALID;
			p.ctr_bits = c.ulCounterBits;
			memcpy(p.iv, c.cb, HW_AES_BLOCK);
			break;
		}
		case CKM_AES_GCM:
			rv = gcm_parse(mech, &p);
			break;
		default:
			return CKR_MECHANISM_INVALID;
		}
	}
	if (rv == CKR_OK && out != NULL)
		*out = p;
	return rv;
}

CK_RV hw_sk_room(const hw_sk_params *p, bool decrypt, size_t fed, size_t emitted, size_t in_len, bool last,
		 size_t *room)
{
	CK_RV bad = decrypt ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
	size_t total, have;
	if (in_len > SIZE_MAX - fed - 2 * HW_AES_BLOCK)
		return bad;
	total = fed + in_len;
	switch (p->mech) {
	case CKM_AES_ECB: case CKM_AES_CBC:
		/* M "AES-ECB/CBC": the data must be a multiple of the block */
		if (last && total % HW_AES_BLOCK != 0)
			return bad;
		have = total - total % HW_AES_BLOCK;
		break;
	case CKM_AES_CBC_PAD:
		/* the ciphertext is a non-empty multiple of the block; encryption
		 * always adds 1 to 16 bytes of padding */
		if (last && decrypt && (total == 0 || total % HW_AES_BLOCK != 0))
			return bad;
		have = total - total % HW_AES_BLOCK + (last && !decrypt ? HW_AES_BLOCK : 0);
		/* decrypting, a part holds back the last whole block: it may be
		 * the padding, known only at the final call */
		if (decrypt && !last)
			have = total > 0 ? (total - 1) / HW_AES_BLOCK * HW_AES_BLOCK : 0;
		break;
	case CKM_AES_CTR:
		have = total;
		break;
	case CKM_AES_GCM:
		/* the tag follows the ciphertext */
		if (!decrypt)
			have = total + (last ? p->tag_len : 0);
		else if (!last)
			have = total;
		else if (total < p->tag_len)
			return bad;
		else
			/* the plaintext is shorter by the tag, but a token may
			 * want room for all it was given (SoftHSM2 does) */
			have = total;
		break;
	default:
		return CKR_MECHANISM_INVALID;
	}
	*room = have > emitted ? have - emitted : 0;
	return CKR_OK;
}

/* ---- software implementation ------------------------------------------------------ */

struct hw_sk {
	CK_FLAGS kind;
	hw_sk_params p;
	EVP_CIPHER_CTX *cc;
	size_t ivlen;                 /* GCM: the IV length cc is set for */
	EVP_MAC_CTX *mc;
	/* GCM decryption: ciphertext and tag held until the tag is checked,
	 * so that no plaintext leaves before it is authentic */
	unsigned char *buf;
	size_t len, cap;
};

static const char *cipher_name(CK_MECHANISM_TYPE t, size_t key_len)
{
	static const char *const names[][3] = {
		{ "AES-128-ECB", "AES-192-ECB", "AES-256-ECB" },
		{ "AES-128-CBC", "AES-192-CBC", "AES-256-CBC" },
		{ "AES-128-CTR", "AES-192-CTR", "AES-256-CTR" },
		{ "AES-128-GCM", "AES-192-GCM", "AES-256-GCM" },
	};
	int row = t == CKM_AES_ECB ? 0 : t == CKM_AES_CBC || t == CKM_AES_CBC_PAD ? 1 : t == CKM_AES_CTR ? 2 : 3;
	int col = key_len == 16 ? 0 : key_len == 24 ? 1 : key_len == 32 ? 2 : -1;
	return col < 0 ? NULL : names[row][col];
}

/* Set up c->cc for the operation in c->p: a fresh context gets the cipher
 * and key; a kept one (key NULL) only its IV, as the key schedule is the
 * same (hw_sk_restart keeps ECB and CBC to their direction). GCM: the IV
 * length, IV and AAD. */
static CK_RV cipher_start(hw_sk *c, const unsigned char *key)
{
	bool enc = c->kind == CKF_ENCRYPT;
	CK_RV rv = CKR_OK;
	int outl;
	if (c->p.mech == CKM_AES_GCM) {
		size_t ivlen = c->p.gcm.ulIvLen;
		OSSL_PARAM prm[] = { OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen),
				     OSSL_PARAM_construct_end() };
		if ((ivlen != c->ivlen && EVP_CIPHER_CTX_set_params(c->cc, prm) != 1) ||
		    EVP_CipherInit_ex2(c->cc, NULL, key, c->p.gcm.pIv, enc, NULL) != 1 ||
		    (c->p.gcm.ulAADLen > 0 &&
		     EVP_CipherUpdate(c->cc, NULL, &outl, c->p.gcm.pAAD, (int)c->p.gcm.ulAADLen) != 1))
			rv = hw_crypto_error("GCM init", CKR_MECHANISM_PARAM_INVALID);
		c->ivlen = rv == CKR_OK ? ivlen : 0;
	} else if (EVP_CipherInit_ex2(c->cc, NULL, key, c->p.mech == CKM_AES_ECB ? NULL : c->p.iv, enc, NULL) != 1 ||
		   EVP_CIPHER_CTX_set_padding(c->cc, c->p.mech == CKM_AES_CBC_PAD) != 1) {
		rv = hw_crypto_error("cipher key", CKR_OK);
	}
	/* the pointers of the caller's GCM parameters are not kept */
	memset(&c->p.gcm, 0, sizeof(c->p.gcm));
	return rv;
}

static CK_RV cipher_init(hw_sk *c, const unsigned char *key, size_t key_len)
{
	const char *name = cipher_name(c->p.mech, key_len);
	const EVP_CIPHER *ci;
	if (name == NULL)
		return CKR_KEY_SIZE_RANGE;
	if ((ci = hw_crypto_cipher(name)) == NULL || (c->cc = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex2(c->cc, ci, NULL, NULL, c->kind == CKF_ENCRYPT, NULL) != 1) {
		memset(&c->p.gcm, 0, sizeof(c->p.gcm));
		return hw_crypto_error("cipher init", CKR_OK);
	}
	/* OpenSSL's default GCM IV length; set when another is asked for */
	c->ivlen = 12;
	return cipher_start(c, key);
}

static CK_RV mac_init(hw_sk *c, const unsigned char *key, size_t key_len)
{
	int h = hmac_index(c->p.mech);
	EVP_MAC *mac;
	OSSL_PARAM prm[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hmacs[h].md, 0),
			     OSSL_PARAM_construct_end() };
	if (key_len == 0)
		return CKR_KEY_SIZE_RANGE;
	if ((mac = hw_crypto_hmac()) == NULL || (c->mc = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(c->mc, key, key_len, prm) != 1)
		return hw_crypto_error("HMAC init", CKR_OK);
	return CKR_OK;
}

CK_RV hw_sk_new(const CK_MECHANISM *mech, CK_FLAGS kind, const unsigned char *key, size_t key_len, hw_sk **out)
{
	const hw_mech *m = hw_mech_find(mech->mechanism);
	CK_RV rv;
	hw_sk *c;
	if (m == NULL || !hw_mech_secret_op(m))
		return CKR_MECHANISM_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CKR_HOST_MEMORY;
	c->kind = kind;
	rv = hw_sk_params_parse(m, mech, &c->p);
	if (rv == CKR_OK)
		rv = c->p.hash != HW_NO_HASH ? mac_init(c, key, key_len) : cipher_init(c, key, key_len);
	if (rv != CKR_OK) {
		hw_sk_free(c);
		return rv;
	}
	*out = c;
	return CKR_OK;
}

/* Which mechanisms a context made for mechanism had and direction had_kind
 * can run next with its key schedule: the same cipher, in either direction
 * for CTR and GCM (both use the encryption schedule), in the same one for
 * ECB and CBC; an HMAC of the same digest, signing or verifying. */
static bool same_schedule(CK_MECHANISM_TYPE had, CK_FLAGS had_kind, CK_MECHANISM_TYPE t, CK_FLAGS kind)
{
	int a = hmac_index(had), b = hmac_index(t);
	if (a >= 0 || b >= 0)
		return a >= 0 && b >= 0 && strcmp(hmacs[a].md, hmacs[b].md) == 0;
	if (had == CKM_AES_CBC_PAD)
		had = CKM_AES_CBC;
	if (t == CKM_AES_CBC_PAD)
		t = CKM_AES_CBC;
	return had == t && (had == CKM_AES_CTR || had == CKM_AES_GCM || had_kind == kind);
}

/* A held GCM ciphertext buffer bigger than this is not kept for the next
 * operation. */
#define HOLD_KEEP (64u << 10)

CK_RV hw_sk_restart(hw_sk *c, const CK_MECHANISM *mech, CK_FLAGS kind)
{
	const hw_mech *m = hw_mech_find(mech->mechanism);
	hw_sk_params p;
	CK_RV rv;
	if (m == NULL || !hw_mech_secret_op(m) || !same_schedule(c->p.mech, c->kind, m->type, kind))
		return CKR_MECHANISM_INVALID;
	if ((rv = hw_sk_params_parse(m, mech, &p)) != CKR_OK)
		return rv;
	if (c->buf != NULL && c->cap > HOLD_KEEP) {
		hw_wipe(c->buf, c->cap);
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	c->len = 0;
	c->kind = kind;
	c->p = p;
	if (c->mc == NULL)
		return cipher_start(c, NULL);
	/* the pads' digest states stay: only the running digest restarts */
	return EVP_MAC_init(c->mc, NULL, 0, NULL) == 1 ? CKR_OK : hw_crypto_error("HMAC init", CKR_OK);
}

static CK_RV hold(hw_sk *c, const unsigned char *in, size_t len)
{
	if (len > c->cap - c->len) {
		size_t cap = c->len + len + 256;
		unsigned char *b = malloc(cap);
		if (b == NULL)
			return CKR_HOST_MEMORY;
		if (c->buf != NULL) {
			memcpy(b, c->buf, c->len);
			free(c->buf);
		}
		c->buf = b;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, in, len);
	c->len += len;
	return CKR_OK;
}

/* OpenSSL takes int lengths: feed large inputs in steps. */
#define STEP (1 << 30)

static CK_RV cipher_run(hw_sk *c, const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
	size_t done = 0;
	while (len > 0) {
		int n = len > STEP ? STEP : (int)len, got = 0;
		if (EVP_CipherUpdate(c->cc, out + done, &got, in, n) != 1)
			return hw_crypto_error("cipher update", CKR_OK);
		done += (size_t)got;
		in += n;
		len -= (size_t)n;
	}
	*out_len = done;
	return CKR_OK;
}

CK_RV hw_sk_update(hw_sk *c, const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
	if (c->mc != NULL)
		return len == 0 || EVP_MAC_update(c->mc, in, len) == 1 ? CKR_OK : hw_crypto_error("HMAC", CKR_OK);
	if (c->p.mech == CKM_AES_GCM && c->kind == CKF_DECRYPT) {
		*out_len = 0;
		return len > 0 ? hold(c, in, len) : CKR_OK;
	}
	return cipher_run(c, in, len, out, out_len);
}

static CK_RV mac_final(hw_sk *c, const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t n = 0;
	CK_RV rv = CKR_OK;
	if (EVP_MAC_final(c->mc, md, &n, sizeof(md)) != 1 || n < c->p.mac_len)
		return hw_crypto_error("HMAC final", CKR_OK);
	if (c->kind == CKF_VERIFY) {
		if (sig_len != c->p.mac_len)
			rv = CKR_SIGNATURE_LEN_RANGE;
		else if (!hw_ct_equal(md, sig, sig_len))
			rv = CKR_SIGNATURE_INVALID;
	} else {
		memcpy(out, md, c->p.mac_len);
		*out_len = c->p.mac_len;
	}
	hw_wipe(md, sizeof(md));
	return rv;
}

/* GCM decryption of a whole ciphertext and tag (len >= tag_len): the tag is
 * set first, so no plaintext is kept unless it is authentic. */
static CK_RV gcm_open(hw_sk *c, const unsigned char *in, size_t len, unsigned char *out, size_t *out_len)
{
	size_t n = len - c->p.tag_len, got = 0;
	int last = 0;
	CK_RV rv;
	if (EVP_CIPHER_CTX_ctrl(c->cc, EVP_CTRL_AEAD_SET_TAG, (int)c->p.tag_len, (void *)(in + n)) != 1)
		return hw_crypto_error("GCM tag", CKR_OK);
	if ((rv = cipher_run(c, in, n, out, &got)) != CKR_OK)
		return rv;
	if (EVP_CipherFinal_ex(c->cc, out + got, &last) != 1) {
		hw_wipe(out, got);
		return hw_crypto_error("GCM tag check", CKR_ENCRYPTED_DATA_INVALID);
	}
	*out_len = got + (size_t)last;
	return CKR_OK;
}

CK_RV hw_sk_final(hw_sk *c, const unsigned char *sig, size_t sig_len, unsigned char *out, size_t *out_len)
{
	int got = 0;
	if (c->mc != NULL)
		return mac_final(c, sig, sig_len, out, out_len);
	if (c->p.mech == CKM_AES_GCM && c->kind == CKF_DECRYPT)
		return c->len < c->p.tag_len ? CKR_ENCRYPTED_DATA_LEN_RANGE : gcm_open(c, c->buf, c->len, out, out_len);
	if (EVP_CipherFinal_ex(c->cc, out, &got) != 1)
		/* a wrong length is caught before; here only bad padding */
		return hw_crypto_error("cipher final", c->kind == CKF_DECRYPT ? CKR_ENCRYPTED_DATA_INVALID
									: CKR_DATA_LEN_RANGE);
	*out_len = (size_t)got;
	if (c->p.mech == CKM_AES_GCM) {
		if (EVP_CIPHER_CTX_ctrl(c->cc, EVP_CTRL_AEAD_GET_TAG, (int)c->p.tag_len, out + got) != 1)
			return hw_crypto_error("GCM tag", CKR_OK);
		*out_len += c->p.tag_len;
	}
	return CKR_OK;
}

CK_RV hw_sk_last(hw_sk *c, const unsigned char *in, size_t len, const unsigned char *sig, size_t sig_len,
		 unsigned char *out, size_t *out_len)
{
	size_t n = 0, m = 0;
	CK_RV rv;
	/* a GCM ciphertext that comes whole is opened where it is, unless the
	 * output overlaps it other than exactly (OpenSSL refuses that) */
	uintptr_t i = (uintptr_t)in, o = (uintptr_t)out;
	if (c->p.mech == CKM_AES_GCM && c->kind == CKF_DECRYPT && c->len == 0 && out != NULL &&
	    (o == i || o >= i + len || i >= o + len)) {
		if (len < c->p.tag_len)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		rv = gcm_open(c, in, len, out, &n);
	} else {
		if (len > 0 && (rv = hw_sk_update(c, in, len, out, &n)) != CKR_OK)
			return rv;
		rv = hw_sk_final(c, sig, sig_len, out != NULL ? out + n : NULL, &m);
	}
	if (rv == CKR_OK && out_len != NULL)
		*out_len = n + m;
	return rv;
}

void hw_sk_free(hw_sk *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->cc);
	EVP_MAC_CTX_free(c->mc);
	if (c->buf != NULL) {
		hw_wipe(c->buf, c->cap);
		free(c->buf);
	}
	free(c);
}

CK_RV hw_aes_check_value(const unsigned char *key, size_t len, unsigned char out[3])
{
	static const unsigned char zero[HW_AES_BLOCK];
	unsigned char blk[2 * HW_AES_BLOCK];
	size_t n = 0;
	hw_sk *c = NULL;
	CK_MECHANISM m = { CKM_AES_ECB, NULL, 0 };
	CK_RV rv = hw_sk_new(&m, CKF_ENCRYPT, key, len, &c);
	if (rv == CKR_OK)
		rv = hw_sk_update(c, zero, sizeof(zero), blk, &n);
	if (rv == CKR_OK && n == HW_AES_BLOCK)
		memcpy(out, blk, 3);
	else if (rv == CKR_OK)
		rv = CKR_FUNCTION_FAILED;
	hw_sk_free(c);
	hw_wipe(blk, sizeof(blk));
	return rv;
}

CK_RV hw_aes_wrap(bool pad, bool unwrap, const unsigned char *kek, size_t kek_len, const unsigned char *in,
		  size_t len, unsigned char *out, size_t *out_len)
{
	static const char *const names[2][3] = {
		{ "AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP" },
		{ "AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD" },
	};
	int col = kek_len == 16 ? 0 : kek_len == 24 ? 1 : kek_len == 32 ? 2 : -1, n = 0, last = 0;
	EVP_CIPHER *ci = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	CK_RV rv = CKR_OK;
	if (col < 0)
		return CKR_KEY_SIZE_RANGE;
	if (len > INT_MAX)
		return unwrap ? CKR_WRAPPED_KEY_LEN_RANGE : CKR_KEY_SIZE_RANGE;
	if ((cc = EVP_CIPHER_CTX_new()) == NULL ||
	    (ci = EVP_CIPHER_fetch(hw_crypto_ctx(), names[pad][col], NULL)) == NULL) {
		rv = hw_crypto_error("key wrap init", CKR_OK);
		goto out;
	}
	EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex2(cc, ci, kek, NULL, !unwrap, NULL) != 1) {
		rv = hw_crypto_error("key wrap init", CKR_OK);
		goto out;
	}
	/* a wrapped key that does not unwrap (integrity check) is invalid */
	if (EVP_CipherUpdate(cc, out, &n, in, (int)len) != 1 || EVP_CipherFinal_ex(cc, out + n, &last) != 1) {
		hw_wipe(out, *out_len);
		rv = hw_crypto_error(unwrap ? "key unwrap" : "key wrap", unwrap ? CKR_WRAPPED_KEY_INVALID
										: CKR_KEY_SIZE_RANGE);
		goto out;
	}
	*out_len = (size_t)n + (size_t)last;
out:
	EVP_CIPHER_CTX_free(cc);
	EVP_CIPHER_free(ci);
	return rv;
}
