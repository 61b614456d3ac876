/*
 * The keyring slot's Secret Service session (keyring_int.h): every secret
 * crosses the bus inside a session, as (session path, parameters, value,
 * content type).
 *
 * We negotiate what libsecret negotiates, "dh-ietf1024-sha256-aes128-cbc-pkcs7"
 * (the Secret Service specification's transfer encryption):
 *  - Diffie-Hellman in the 1024-bit MODP group of RFC 2409 (generator 2);
 *    each side sends its public value as big-endian bytes;
 *  - the shared value, big-endian and left-padded with zeros to the size of
 *    the prime (as gnome-keyring derives it), is the input of HKDF-SHA256
 *    without salt or info, whose first 16 bytes are the AES-128 key;
 *  - a secret is AES-128-CBC with PKCS#7 padding; the parameters are its
 *    random 16-byte IV.
 * So key bytes never sit in libdbus's message buffers (which are not wiped)
 * in the clear: only ciphertext does, and the plaintext lives in hwagg's
 * secret memory. A service that does not offer the algorithm gets a "plain"
 * session, as libsecret does, and the slot warns that key bytes then cross
 * the bus in the clear.
 *
 * All OpenSSL work uses hwagg's own library context (mechanisms/crypto.h).
 */
#include "slots/keyring_int.h"
#include "common/log.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>

#define ALG_DH "dh-ietf1024-sha256-aes128-cbc-pkcs7"
#define ALG_PLAIN "plain"
#define DH_BYTES 128                  /* the prime's size */
#define AES_KEY 16
#define AES_BLOCK 16

void hw_kr_svc_free(hw_kr_svc *svc)
{
	if (svc == NULL)
		return;
	free(svc->session);
	free(svc->coll);
	hw_secret_free(svc->key);
	EVP_CIPHER_free(svc->aes);
	if (svc->conn != NULL)
		dbus_connection_unref(svc->conn);
	free(svc);
}

/* ---- the key exchange ------------------------------------------------------------ */
typedef struct dh {
	BN_CTX *bn;
	BIGNUM *p, *g, *x, *y;            /* prime, generator, our private and public value */
} dh;

static void dh_free(dh *d)
{
	BN_clear_free(d->x);
	BN_free(d->y);
	BN_free(d->g);
	BN_free(d->p);
	BN_CTX_free(d->bn);
}

/* Our key pair: x random in [2, p-2], y = g^x mod p. */
static bool dh_new(dh *d)
{
	BIGNUM *range = NULL;
	bool ok = false;
	memset(d, 0, sizeof(*d));
	if ((d->bn = BN_CTX_secure_new_ex(hw_crypto_ctx())) == NULL || (d->p = BN_get_rfc2409_prime_1024(NULL)) == NULL ||
	    (d->g = BN_new()) == NULL || (d->x = BN_secure_new()) == NULL || (d->y = BN_new()) == NULL ||
	    (range = BN_dup(d->p)) == NULL || !BN_set_word(d->g, 2) || !BN_sub_word(range, 3))
		goto out;
	BN_set_flags(d->x, BN_FLG_CONSTTIME);
	ok = BN_priv_rand_range_ex(d->x, range, 0, d->bn) && BN_add_word(d->x, 2) &&
	     BN_mod_exp(d->y, d->g, d->x, d->p, d->bn);
out:
	BN_free(range);
	return ok;
}

/* The session key from the service's public value. */
static bool dh_key(dh *d, const unsigned char *peer, size_t len, hw_secret **key, hw_kr_err *e)
{
	BIGNUM *py = BN_bin2bn(peer, (int)len, NULL), *k = BN_secure_new(), *top = BN_dup(d->p);
	hw_secret *ikm = hw_secret_new(DH_BYTES);
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kc = NULL;
	bool ok = false;
	*key = hw_secret_new(AES_KEY);
	if (py == NULL || k == NULL || top == NULL || ikm == NULL || *key == NULL || !BN_sub_word(top, 1)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		goto out;
	}
	/* 1 < y < p-1, or the shared value is trivially known */
	if (len > DH_BYTES || BN_cmp(py, BN_value_one()) <= 0 || BN_cmp(py, top) >= 0) {
		hw_kr_err_set(e, HW_KR_ERR_REPLY, "the Secret Service sent an invalid public value");
		goto out;
	}
	if (!BN_mod_exp(k, py, d->x, d->p, d->bn) || BN_bn2binpad(k, ikm->data, DH_BYTES) != DH_BYTES ||
	    (kdf = EVP_KDF_fetch(hw_crypto_ctx(), OSSL_KDF_NAME_HKDF, NULL)) == NULL ||
	    (kc = EVP_KDF_CTX_new(kdf)) == NULL) {
		hw_crypto_error("keyring slot: session key agreement", CKR_OK);
		hw_kr_err_set(e, DBUS_ERROR_FAILED, "the session key could not be computed");
		goto out;
	}
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm->data, DH_BYTES),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_KDF_derive(kc, (*key)->data, AES_KEY, params) != 1) {
		hw_crypto_error("keyring slot: session key derivation", CKR_OK);
		hw_kr_err_set(e, DBUS_ERROR_FAILED, "the session key could not be derived");
		goto out;
	}
	ok = true;
out:
	if (!ok) {
		hw_secret_free(*key);
		*key = NULL;
	}
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	hw_secret_free(ikm);
	BN_clear_free(k);
	BN_free(py);
	BN_free(top);
	return ok;
}

/* ---- OpenSession ----------------------------------------------------------------- */
/* OpenSession(algorithm, input) -> (output, session); out/out_len: the
 * output when it is a byte array (NULL otherwise); *r keeps them alive. */
static bool open_session(hw_kr_svc *svc, const char *alg, const unsigned char *pub, size_t pub_len,
			 DBusMessage **r, const unsigned char **out, size_t *out_len, hw_kr_err *e)
{
	DBusMessageIter it, var;
	DBusMessage *m = hw_kr_msg(NULL, HW_KR_PATH, HW_KR_IF_SERVICE, "OpenSession", e);
	bool ok;
	int n = 0;
	*out = NULL;
	*out_len = 0;
	if (m == NULL)
		return false;
	dbus_message_iter_init_append(m, &it);
	ok = hw_kr_put_str(&it, DBUS_TYPE_STRING, alg, e);
	if (ok && pub != NULL) {
		ok = dbus_message_iter_open_container(&it, DBUS_TYPE_VARIANT, "ay", &var);
		if (!ok)
			hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		else if (!(ok = hw_kr_put_bytes(&var, pub, pub_len, e)))
			dbus_message_iter_abandon_container(&it, &var);
		else if (!(ok = dbus_message_iter_close_container(&it, &var)))
			hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
	} else if (ok) {
		ok = hw_kr_put_variant_str(&it, "", e);
	}
	if (!ok) {
		dbus_message_unref(m);
		return false;
	}
	if ((*r = hw_kr_send(svc->conn, m, "vo", e)) == NULL)
		return false;
	dbus_message_iter_init(*r, &it);
	dbus_message_iter_recurse(&it, &var);
	if (dbus_message_iter_get_arg_type(&var) == DBUS_TYPE_ARRAY &&
	    dbus_message_iter_get_element_type(&var) == DBUS_TYPE_BYTE) {
		DBusMessageIter bytes;
		dbus_message_iter_recurse(&var, &bytes);
		dbus_message_iter_get_fixed_array(&bytes, out, &n);
		*out_len = (size_t)n;
	}
	dbus_message_iter_next(&it);
	if ((svc->session = hw_kr_get_str(&it)) == NULL) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		return false;
	}
	return true;
}

bool hw_kr_session_open(hw_kr_svc *svc, hw_kr_err *e)
{
	unsigned char pub[DH_BYTES];
	const unsigned char *peer;
	size_t peer_len;
	DBusMessage *r = NULL;
	dh d;
	bool ok = false;
	if (!dh_new(&d) || BN_bn2binpad(d.y, pub, sizeof(pub)) != (int)sizeof(pub)) {
		hw_crypto_error("keyring slot: session key pair", CKR_OK);
		hw_kr_err_set(e, DBUS_ERROR_FAILED, "no key pair for the session");
		goto out;
	}
	if (open_session(svc, ALG_DH, pub, sizeof(pub), &r, &peer, &peer_len, e)) {
		if (peer == NULL)
			hw_kr_err_set(e, HW_KR_ERR_REPLY, "the Secret Service sent no public value");
		else if (dh_key(&d, peer, peer_len, &svc->key, e) &&
			 !(ok = (svc->aes = EVP_CIPHER_fetch(hw_crypto_ctx(), "AES-128-CBC", NULL)) != NULL))
			hw_kr_err_set(e, DBUS_ERROR_FAILED, "no AES-128-CBC in OpenSSL");
	} else if (hw_kr_err_is(e, DBUS_ERROR_NOT_SUPPORTED)) {
		/* as libsecret: a service without the algorithm gets a plain session */
		ok = open_session(svc, ALG_PLAIN, NULL, 0, &r, &peer, &peer_len, e);
	}
out:
	if (!ok) {
		free(svc->session);
		svc->session = NULL;
	}
	if (r != NULL)
		dbus_message_unref(r);
	dh_free(&d);
	return ok;
}

/* ---- secrets ---------------------------------------------------------------------- */
static EVP_CIPHER_CTX *aes(const hw_kr_svc *svc, const unsigned char *iv, bool enc)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	if (x != NULL && EVP_CipherInit_ex2(x, svc->aes, svc->key->data, iv, enc ? 1 : 0, NULL) != 1) {
		EVP_CIPHER_CTX_free(x);
		x = NULL;
	}
	return x;
}

bool hw_kr_put_secret(DBusMessageIter *it, const hw_kr_svc *svc, const void *data, size_t len,
		      const char *content_type, hw_kr_err *e)
{
	DBusMessageIter st;
	unsigned char iv[AES_BLOCK];
	unsigned char *ct = NULL;
	EVP_CIPHER_CTX *x = NULL;
	int n1 = 0, n2 = 0;
	bool ok = false;
	if (svc->key != NULL) {
		if (len > (size_t)INT32_MAX - AES_BLOCK || (ct = malloc(len + AES_BLOCK)) == NULL) {
			hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
			return false;
		}
		if (hw_random(iv, sizeof(iv)) != CKR_OK || (x = aes(svc, iv, true)) == NULL ||
		    EVP_EncryptUpdate(x, ct, &n1, data, (int)len) != 1 || EVP_EncryptFinal_ex(x, ct + n1, &n2) != 1) {
			hw_crypto_error("keyring slot: encrypt a secret for the session", CKR_OK);
			hw_kr_err_set(e, DBUS_ERROR_FAILED, "the secret could not be encrypted");
			goto out;
		}
	}
	if (!dbus_message_iter_open_container(it, DBUS_TYPE_STRUCT, NULL, &st)) {
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
		goto out;
	}
	ok = hw_kr_put_str(&st, DBUS_TYPE_OBJECT_PATH, svc->session, e) &&
	     (svc->key != NULL ? hw_kr_put_bytes(&st, iv, sizeof(iv), e) && hw_kr_put_bytes(&st, ct, (size_t)(n1 + n2), e) :
				 hw_kr_put_bytes(&st, NULL, 0, e) && hw_kr_put_bytes(&st, data, len, e)) &&
	     hw_kr_put_str(&st, DBUS_TYPE_STRING, content_type, e);
	if (!ok)
		dbus_message_iter_abandon_container(it, &st);
	else if (!(ok = dbus_message_iter_close_container(it, &st)))
		hw_kr_err_set(e, DBUS_ERROR_NO_MEMORY, "out of memory");
out:
	EVP_CIPHER_CTX_free(x);
	free(ct);
	return ok;
}

/* The next byte-array member of a struct. */
static const unsigned char *get_bytes(DBusMessageIter *st, size_t *len)
{
	DBusMessageIter sub;
	const unsigned char *p = NULL;
	int n = 0;
	*len = 0;
	if (dbus_message_iter_get_arg_type(st) != DBUS_TYPE_ARRAY ||
	    dbus_message_iter_get_element_type(st) != DBUS_TYPE_BYTE)
		return NULL;
	dbus_message_iter_recurse(st, &sub);
	dbus_message_iter_get_fixed_array(&sub, &p, &n);
	dbus_message_iter_next(st);
	*len = (size_t)n;
	return p;
}

hw_secret *hw_kr_get_secret_value(DBusMessageIter *it, const hw_kr_svc *svc, bool *oom)
{
	DBusMessageIter st;
	const char *session = NULL;
	const unsigned char *param, *value;
	size_t n_param, n_value;
	hw_secret *s = NULL;
	EVP_CIPHER_CTX *x = NULL;
	int n1 = 0, n2 = 0;
	*oom = false;
	if (dbus_message_iter_get_arg_type(it) != DBUS_TYPE_STRUCT)
		return NULL;
	dbus_message_iter_recurse(it, &st);
	if (dbus_message_iter_get_arg_type(&st) != DBUS_TYPE_OBJECT_PATH)
		return NULL;
	dbus_message_iter_get_basic(&st, &session);
	dbus_message_iter_next(&st);
	param = get_bytes(&st, &n_param);
	value = get_bytes(&st, &n_value);
	if (strcmp(session, svc->session) != 0) {
		hw_warn("keyring slot: a secret came for another session; ignored");
		return NULL;
	}
	if (svc->key == NULL) {
		if (n_param != 0) {
			hw_warn("keyring slot: a secret of the plain session came with parameters; ignored");
			return NULL;
		}
		if ((s = hw_secret_dup(value != NULL ? value : (const unsigned char *)"", n_value)) == NULL)
			*oom = true;
		return s;
	}
	if (n_param != AES_BLOCK || n_value == 0 || n_value % AES_BLOCK != 0 || n_value > INT32_MAX) {
		hw_warn("keyring slot: a secret arrived in a malformed session encryption; ignored");
		return NULL;
	}
	if ((s = hw_secret_new(n_value + AES_BLOCK)) == NULL) {
		*oom = true;
		return NULL;
	}
	if ((x = aes(svc, param, false)) == NULL || EVP_DecryptUpdate(x, s->data, &n1, value, (int)n_value) != 1 ||
	    EVP_DecryptFinal_ex(x, s->data + n1, &n2) != 1) {
		/* a wrong padding is the only sign of a wrong key or a garbled message */
		hw_crypto_error("keyring slot: decrypt a secret of the session", CKR_DEVICE_ERROR);
		hw_warn("keyring slot: a secret did not decrypt with the session key; ignored");
		hw_secret_free(s);
		s = NULL;
	} else {
		s->len = (size_t)(n1 + n2);
	}
	EVP_CIPHER_CTX_free(x);
	return s;
}
