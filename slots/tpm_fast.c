/*
 * The tpm slot's own HMAC session over tss2-sys: the signing hot path
 * (TPM2_Sign), and every command that carries a secret (TPM2_Create of a
 * key or of the sealed master key, TPM2_Unseal at login, TPM2_RSA_Decrypt),
 * those with parameter encryption.
 *
 * Why not ESAPI: tpm2-tss 3.2's ESAPI computes every session HMAC, cpHash
 * and salt with OpenSSL algorithms it fetches again on every command (and
 * with OpenSSL 3.0 each fetch walks the whole name map), which costs about
 * 2.5 ms of CPU per signature, ten times the rest of the work; 3.2 has no
 * way to hand it ready algorithms. And in a process where an ENGINE took
 * over OpenSSL's EC (libp11's pkcs11 engine as default), ESAPI cannot agree
 * a salt at all, so its session is unsalted there: an observer of the bus
 * could then read a TPM2_Create's encrypted inSensitive (under the SRK's
 * empty authValue the encryption key is public) and test PIN guesses
 * offline against an unseal's HMAC. Here the session's algorithms are
 * fetched once, from the engine's library context, and the EC contexts are
 * made by OID, so no ENGINE can refuse the salt: every process gets the
 * same salted session.
 *
 * The session is salted with the SRK (ECC P-256: the salt is agreed by
 * ECDH, TPM 2.0 part 1, 11.4.10.3 KDFe), unbound, with continueSession and
 * AES-128-CFB as its symmetric algorithm, so authValues never travel, the
 * HMACs and the parameter encryption are keyed by a session key an
 * observer of the TPM's bus cannot know, and the TPM's answers are
 * authenticated before they are used.
 *
 * Anything this path does not take (an RSA SRK, a TPM that refuses the
 * session) turns it off for the connection and those commands go through
 * ESAPI as before; a command that fails ends the session (a new one is
 * started for the next command), so that no nonce is ever reused.
 */
#include "slots/tpm_int.h"
#include "common/log.h"
#include "common/secret.h"
#include "mechanisms/crypto.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>

#define DIG 32                         /* SHA-256, the session's hash */
#define EC_BY_OID "1.2.840.10045.2.1"  /* id-ecPublicKey */

/* ---- the session's algorithms, fetched once per slot --------------------------- */

static bool algs(hw_tpm_fast *f)
{
	if (f->md == NULL)
		f->md = EVP_MD_fetch(hw_crypto_ctx(), "SHA256", NULL);
	if (f->mac == NULL)
		f->mac = EVP_MAC_fetch(hw_crypto_ctx(), "HMAC", NULL);
	if (f->cfb == NULL)
		f->cfb = EVP_CIPHER_fetch(hw_crypto_ctx(), "AES-128-CFB", NULL);
	return f->md != NULL && f->mac != NULL && f->cfb != NULL;
}

/* HMAC-SHA256(key, the n parts) */
static bool hmac(hw_tpm_fast *f, const unsigned char *key, size_t key_len, const unsigned char *const *part,
		 const size_t *len, size_t n, unsigned char out[DIG])
{
	char md[] = "SHA256";
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0), OSSL_PARAM_END };
	EVP_MAC_CTX *m = EVP_MAC_CTX_new(f->mac);
	size_t got = 0;
	bool ok = m != NULL && EVP_MAC_init(m, key, key_len, p);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_MAC_update(m, part[i], len[i]);
	ok = ok && EVP_MAC_final(m, out, &got, DIG) && got == DIG;
	EVP_MAC_CTX_free(m);
	return ok;
}

static bool digest(hw_tpm_fast *f, const unsigned char *const *part, const size_t *len, size_t n,
		   unsigned char out[DIG])
{
	EVP_MD_CTX *d = EVP_MD_CTX_new();
	unsigned got = 0;
	bool ok = d != NULL && EVP_DigestInit_ex(d, f->md, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(d, part[i], len[i]);
	ok = ok && EVP_DigestFinal_ex(d, out, &got) && got == DIG;
	EVP_MD_CTX_free(d);
	return ok;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* ---- starting the session (part 1, 19.6 and 11.4.10) ---------------------------- */

/* KDFe with SHA-256 for one block: H(counter 1 || Z || "SECRET\0" || U || V). */
static bool kdfe(hw_tpm_fast *f, const unsigned char *z, size_t z_len, const unsigned char *u, size_t u_len,
		 const unsigned char *v, size_t v_len, unsigned char out[DIG])
{
	static const unsigned char use[] = "SECRET";
	unsigned char one[4];
	be32(one, 1);
	const unsigned char *part[] = { one, z, use, u, v };
	const size_t len[] = { 4, z_len, sizeof(use), u_len, v_len };
	return digest(f, part, len, 5, out);
}

/* KDFa with HMAC-SHA256 for one block: the session key from the salt. */
static bool kdfa(hw_tpm_fast *f, const unsigned char *key, size_t key_len, const char *label,
		 const TPM2B_NONCE *u, const TPM2B_NONCE *v, unsigned char out[DIG])
{
	unsigned char one[4], bits[4];
	be32(one, 1);
	be32(bits, DIG * 8);
	const unsigned char *part[] = { one, (const unsigned char *)label, u->buffer, v->buffer, bits };
	const size_t len[] = { 4, strlen(label) + 1, u->size, v->size, 4 };
	return hmac(f, key, key_len, part, len, 5, out);
}

/* An ephemeral P-256 key agreed with the SRK's public point: the salt, and
 * the ephemeral point the TPM needs to find it (as TPM2B_ENCRYPTED_SECRET). */
static bool salt_for(hw_tpm_fast *f, const TPMS_ECC_POINT *srk, unsigned char salt[DIG],
		     TPM2B_ENCRYPTED_SECRET *enc)
{
	unsigned char peer[1 + 2 * 32], mine[1 + 2 * 48], z[32];
	size_t mine_len = 0, z_len = sizeof(z), off = 0;
	EVP_PKEY *eph = NULL, *srk_key = NULL;
	EVP_PKEY_CTX *pc = NULL, *dc = NULL;
	char group[] = "P-256";
	bool ok = false;
	if (srk->x.size != 32 || srk->y.size != 32)
		return false;
	peer[0] = 0x04;
	memcpy(peer + 1, srk->x.buffer, 32);
	memcpy(peer + 33, srk->y.buffer, 32);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, peer, sizeof(peer)),
		OSSL_PARAM_END
	};
	OSSL_PARAM gp[] = { OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
			    OSSL_PARAM_END };
	/* by OID, not "EC": OpenSSL 3.0 hands a context made by a name that
	 * has a legacy NID to a default ENGINE (libp11's takes EC) */
	if ((pc = EVP_PKEY_CTX_new_from_name(hw_crypto_ctx(), EC_BY_OID, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(pc) <= 0 || EVP_PKEY_CTX_set_params(pc, gp) <= 0 ||
	    EVP_PKEY_generate(pc, &eph) <= 0 ||
	    EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, &srk_key, EVP_PKEY_PUBLIC_KEY, p) <= 0 ||
	    (dc = EVP_PKEY_CTX_new_from_pkey(hw_crypto_ctx(), eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dc) <= 0 || EVP_PKEY_derive_set_peer(dc, srk_key) <= 0 ||
	    EVP_PKEY_derive(dc, z, &z_len) <= 0 || z_len != 32 ||
	    EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, mine, sizeof(mine), &mine_len) <= 0 ||
	    mine_len != sizeof(peer) || mine[0] != 0x04)
		goto out;
	TPMS_ECC_POINT q = { .x = { .size = 32 }, .y = { .size = 32 } };
	memcpy(q.x.buffer, mine + 1, 32);
	memcpy(q.y.buffer, mine + 33, 32);
	ok = kdfe(f, z, 32, q.x.buffer, 32, srk->x.buffer, 32, salt) &&
	     Tss2_MU_TPMS_ECC_POINT_Marshal(&q, enc->secret, sizeof(enc->secret), &off) == TSS2_RC_SUCCESS;
	enc->size = (UINT16)off;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(srk_key);
	EVP_PKEY_free(eph);
	return ok;
}

static void end_session(hw_tpm_ctx *c, bool flush)
{
	hw_tpm_fast *f = &c->fast;
	TSS2_SYS_CONTEXT *sys = NULL;
	if (f->ready && flush && c->esys != NULL && Esys_GetSysContext(c->esys, &sys) == TSS2_RC_SUCCESS)
		Tss2_Sys_FlushContext(sys, f->session);
	f->ready = false;
	OPENSSL_cleanse(f->key, sizeof(f->key));
}

static void turn_off(hw_tpm_ctx *c, const char *why, TSS2_RC rc)
{
	c->fast.off_gen = c->gen;
	hw_info("slot \"%s\": TPM commands go through ESAPI on this connection (%s%s%s)", c->conf->name, why,
		rc ? ": " : "", rc ? hw_tpm_rc_text(rc) : "");
}

static bool start(hw_tpm_ctx *c, TSS2_SYS_CONTEXT *sys)
{
	hw_tpm_fast *f = &c->fast;
	TPM2B_PUBLIC *pub = NULL;
	TPM2_HANDLE srk;
	TPM2B_NONCE caller = { .size = DIG }, tpm = { .size = 0 };
	TPM2B_ENCRYPTED_SECRET enc = { .size = 0 };
	/* AES-128-CFB for the commands that carry a secret parameter */
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits = { .aes = 128 }, .mode = { .aes = TPM2_ALG_CFB } };
	unsigned char salt[DIG];
	TSS2_RC rc;
	if (!algs(f)) {
		turn_off(c, "OpenSSL has no SHA-256, HMAC or AES-128-CFB", 0);
		return false;
	}
	if ((rc = Esys_TR_GetTpmHandle(c->esys, c->srk, &srk)) != TSS2_RC_SUCCESS ||
	    (rc = Esys_ReadPublic(c->esys, c->srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL)) !=
	    TSS2_RC_SUCCESS) {
		turn_off(c, "cannot read the storage root key", rc);
		return false;
	}
	bool ecc = pub->publicArea.type == TPM2_ALG_ECC && pub->publicArea.nameAlg == TPM2_ALG_SHA256 &&
		   pub->publicArea.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256;
	bool salted = ecc && salt_for(f, &pub->publicArea.unique.ecc, salt, &enc);
	Esys_Free(pub);
	if (!salted) {
		turn_off(c, ecc ? "cannot agree a salt with the storage root key" :
			 "the storage root key is not ECC P-256", 0);
		return false;
	}
	if (RAND_bytes_ex(hw_crypto_ctx(), caller.buffer, DIG, 0) != 1) {
		OPENSSL_cleanse(salt, sizeof(salt));
		return false;
	}
	rc = Tss2_Sys_StartAuthSession(sys, srk, TPM2_RH_NULL, NULL, &caller, &enc, TPM2_SE_HMAC, &sym,
				       TPM2_ALG_SHA256, &f->session, &tpm, NULL);
	/* unbound: the HMAC key of the session is the salt alone */
	bool ok = rc == TSS2_RC_SUCCESS && kdfa(f, salt, DIG, "ATH", &tpm, &caller, f->key);
	OPENSSL_cleanse(salt, sizeof(salt));
	if (rc != TSS2_RC_SUCCESS) {
		turn_off(c, "the TPM refused the session", rc);
		return false;
	}
	f->ready = true;
	if (!ok) {
		end_session(c, true);
		return false;
	}
	f->nonce_tpm = tpm;
	f->gen = c->gen;
	return true;
}

/* ---- one command on the session ------------------------------------------------- */

/* The HMAC key of a command on an entity: session key || its authValue
 * without trailing zero octets (part 1, 19.6.5); the same string keys the
 * parameter encryption (part 1, 21.1: the session is not bound). */
static size_t auth_key(const hw_tpm_fast *f, const unsigned char *auth, size_t auth_len, unsigned char *out)
{
	size_t n = auth_len;
	while (n > 0 && auth[n - 1] == 0)
		n--;
	memcpy(out, f->key, DIG);
	if (n > 0)
		memcpy(out + DIG, auth, n);
	return DIG + n;
}

/* AES-128-CFB of a parameter in place (part 1, 21.3): key and IV are the one
 * KDFa block (hash, session key || authValue, "CFB", nonceNewer, nonceOlder,
 * 128 + 128 bits); nonceNewer is the caller's for a command, the TPM's for a
 * response. */
static bool cfb(hw_tpm_fast *f, const unsigned char *key, size_t key_len, const TPM2B_NONCE *newer,
		const TPM2B_NONCE *older, bool enc, unsigned char *buf, size_t len)
{
	unsigned char kiv[DIG];
	EVP_CIPHER_CTX *x = NULL;
	int n1 = 0, n2 = 0;
	bool ok = len <= INT32_MAX && kdfa(f, key, key_len, "CFB", newer, older, kiv) &&
		  (x = EVP_CIPHER_CTX_new()) != NULL && EVP_CipherInit_ex2(x, f->cfb, kiv, kiv + 16, enc, NULL) &&
		  EVP_CipherUpdate(x, buf, &n1, buf, (int)len) && EVP_CipherFinal_ex(x, buf + n1, &n2) &&
		  (size_t)n1 + (size_t)n2 == len;
	EVP_CIPHER_CTX_free(x);
	OPENSSL_cleanse(kiv, sizeof(kiv));
	return ok;
}

/* The first command parameter, encrypted where tss2-sys marshalled it. */
static bool encrypt_param(hw_tpm_fast *f, TSS2_SYS_CONTEXT *sys, const unsigned char *key, size_t key_len,
			  const TPM2B_NONCE *caller)
{
	unsigned char tmp[sizeof(TPM2B_MAX_BUFFER)];   /* an inSensitive, an RSA block */
	const uint8_t *p = NULL;
	size_t n = 0;
	bool ok = Tss2_Sys_GetDecryptParam(sys, &n, &p) == TSS2_RC_SUCCESS && n <= sizeof(tmp);
	if (ok) {
		memcpy(tmp, p, n);
		ok = cfb(f, key, key_len, caller, &f->nonce_tpm, true, tmp, n) &&
		     Tss2_Sys_SetDecryptParam(sys, n, tmp) == TSS2_RC_SUCCESS;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return ok;
}

/* The first response parameter decrypted in the response buffer, before
 * the command's Complete reads it. */
static bool decrypt_param(hw_tpm_fast *f, TSS2_SYS_CONTEXT *sys, const unsigned char *key, size_t key_len,
			  const TPM2B_NONCE *tpm, const TPM2B_NONCE *caller)
{
	unsigned char tmp[sizeof(TPM2B_MAX_BUFFER)];
	const uint8_t *p = NULL;
	size_t n = 0;
	bool ok = Tss2_Sys_GetEncryptParam(sys, &n, &p) == TSS2_RC_SUCCESS && n <= sizeof(tmp);
	if (ok) {
		memcpy(tmp, p, n);
		ok = cfb(f, key, key_len, tpm, caller, false, tmp, n) &&
		     Tss2_Sys_SetEncryptParam(sys, n, tmp) == TSS2_RC_SUCCESS;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return ok;
}

static int run(hw_tpm_ctx *c, const hw_tpm_fast_cmd *x, TSS2_RC *rc_out)
{
	hw_tpm_fast *f = &c->fast;
	TSS2_SYS_CONTEXT *sys = NULL;
	TPM2B_NAME *name = NULL;
	TPM2_HANDLE h;
	const uint8_t *cp = NULL, *rp = NULL;
	size_t cp_len = 0, rp_len = 0;
	unsigned char cc[4], rc0[4] = { 0 }, cphash[DIG], rphash[DIG], want[DIG], key[DIG + HW_TPM_AUTH_LEN];
	TPMA_SESSION attrs = TPMA_SESSION_CONTINUESESSION | (x->decrypt ? TPMA_SESSION_DECRYPT : 0) |
			     (x->encrypt ? TPMA_SESSION_ENCRYPT : 0);
	TSS2L_SYS_AUTH_COMMAND cmd = { .count = 1 };
	TSS2L_SYS_AUTH_RESPONSE rsp = { .count = 0 };
	TPMS_AUTH_COMMAND *a = &cmd.auths[0];
	size_t key_len = 0;
	int done = 0;
	TSS2_RC rc;

	*rc_out = TSS2_RC_SUCCESS;
	if (x->auth_len > HW_TPM_AUTH_LEN || f->off_gen == c->gen || c->esys == NULL ||
	    Esys_GetSysContext(c->esys, &sys) != TSS2_RC_SUCCESS)
		return 0;
	if (f->ready && f->gen != c->gen)
		f->ready = false;                 /* the connection it lived on is gone */
	if (!f->ready && !start(c, sys))
		return 0;
	if (Esys_TR_GetTpmHandle(c->esys, x->object, &h) != TSS2_RC_SUCCESS ||
	    Esys_TR_GetName(c->esys, x->object, &name) != TSS2_RC_SUCCESS)
		return 0;
	key_len = auth_key(f, x->auth, x->auth_len, key);
	be32(cc, x->cc);
	a->sessionHandle = f->session;
	a->sessionAttributes = attrs;
	a->nonce.size = DIG;
	a->hmac.size = DIG;
	if ((rc = x->prepare(sys, h, x->arg)) != TSS2_RC_SUCCESS ||
	    RAND_bytes_ex(hw_crypto_ctx(), a->nonce.buffer, DIG, 0) != 1)
		goto out;
	/* the secret parameter is encrypted before cpHash covers it: the
	 * TPM checks the HMAC over what travelled */
	if (x->decrypt && !encrypt_param(f, sys, key, key_len, &a->nonce))
		goto out;
	if ((rc = Tss2_Sys_GetCpBuffer(sys, &cp_len, &cp)) != TSS2_RC_SUCCESS)
		goto out;
	{
		const unsigned char *part[] = { cc, name->name, cp };
		const size_t len[] = { 4, name->size, cp_len };
		const unsigned char *mpart[] = { cphash, a->nonce.buffer, f->nonce_tpm.buffer, &attrs };
		const size_t mlen[] = { DIG, DIG, f->nonce_tpm.size, 1 };
		if (!digest(f, part, len, 3, cphash) || !hmac(f, key, key_len, mpart, mlen, 4, a->hmac.buffer))
			goto out;
	}
	if ((rc = Tss2_Sys_SetCmdAuths(sys, &cmd)) != TSS2_RC_SUCCESS)
		goto out;
	done = -1;                            /* from here on the session is spent on failure */
	rc = Tss2_Sys_Execute(sys);
	if (rc != TSS2_RC_SUCCESS) {
		*rc_out = rc;
		goto out;
	}
	if ((rc = Tss2_Sys_GetRspAuths(sys, &rsp)) != TSS2_RC_SUCCESS || rsp.count != 1 ||
	    (rc = Tss2_Sys_GetRpBuffer(sys, &rp_len, &rp)) != TSS2_RC_SUCCESS)
		goto bad;
	{
		/* the TPM's answer is checked before it is used: rpHash over
		 * the response code, the command code and the parameters as
		 * they travelled (still encrypted) */
		TPMS_AUTH_RESPONSE *r = &rsp.auths[0];
		TPMA_SESSION ra = r->sessionAttributes;
		const unsigned char *part[] = { rc0, cc, rp };
		const size_t len[] = { 4, 4, rp_len };
		const unsigned char *mpart[] = { rphash, r->nonce.buffer, a->nonce.buffer, &ra };
		const size_t mlen[] = { DIG, r->nonce.size, DIG, 1 };
		if (r->hmac.size != DIG || r->nonce.size < 16 || r->nonce.size > sizeof(f->nonce_tpm.buffer) ||
		    !digest(f, part, len, 3, rphash) || !hmac(f, key, key_len, mpart, mlen, 4, want) ||
		    CRYPTO_memcmp(want, r->hmac.buffer, DIG) != 0)
			goto bad;
		f->nonce_tpm = r->nonce;
	}
	if (x->encrypt && !decrypt_param(f, sys, key, key_len, &f->nonce_tpm, &a->nonce))
		goto bad;
	if ((rc = x->complete(sys, x->arg)) != TSS2_RC_SUCCESS)
		goto bad;
	done = 1;
	goto out;
bad:
	hw_error("slot \"%s\": the TPM's answer to %s does not authenticate (session HMAC); refused",
		 c->conf->name, x->what);
	done = -2;
out:
	if (done < 0)   /* not on a dead link: there is nothing to flush */
		end_session(c, (*rc_out & TSS2_RC_LAYER_MASK) != TSS2_TCTI_RC_LAYER);
	OPENSSL_cleanse(key, sizeof(key));
	Esys_Free(name);
	return done == -2 ? HW_TPM_FAST_FORGED : done != 0 ? HW_TPM_FAST_DONE : HW_TPM_FAST_NO;
}

int hw_tpm_fast_run_inlock(hw_tpm_ctx *c, const hw_tpm_fast_cmd *x, TSS2_RC *rc_out)
{
	/* nothing of ours stays on the application's OpenSSL error queue */
	ERR_set_mark();
	int done = run(c, x, rc_out);
	/* as ESAPI does: the TPM asks to send the command again (the first
	 * use of a DA-protected entity after startup answers RETRY while it
	 * writes its NV); the failed try ended the session, so each try
	 * runs on a fresh one */
	for (int i = 0; i < 8 && done == HW_TPM_FAST_DONE && (*rc_out == TPM2_RC_RETRY ||
	     *rc_out == TPM2_RC_YIELDED || *rc_out == TPM2_RC_TESTING); i++)
		done = run(c, x, rc_out);
	ERR_pop_to_mark();
	return done;
}

/* ---- TPM2_Sign ------------------------------------------------------------------ */

struct sign_args {
	const TPM2B_DIGEST *dg;
	const TPMT_SIG_SCHEME *scheme;
	TPMT_SIGNATURE *sig;
};

static TSS2_RC sign_prepare(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE h, void *arg)
{
	static const TPMT_TK_HASHCHECK check = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	const struct sign_args *s = arg;
	return Tss2_Sys_Sign_Prepare(sys, h, s->dg, s->scheme, &check);
}

static TSS2_RC sign_complete(TSS2_SYS_CONTEXT *sys, void *arg)
{
	const struct sign_args *s = arg;
	memset(s->sig, 0, sizeof(*s->sig));
	return Tss2_Sys_Sign_Complete(sys, s->sig);
}

int hw_tpm_fast_sign_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *auth, const TPM2B_DIGEST *dg,
			    const TPMT_SIG_SCHEME *scheme, TPMT_SIGNATURE *sig, TSS2_RC *rc_out)
{
	struct sign_args s = { dg, scheme, sig };
	/* the digest travels in clear: the signature that comes back is in
	 * clear and tells a guessed digest from a wrong one anyway */
	const hw_tpm_fast_cmd x = { .cc = TPM2_CC_Sign, .object = k->handle, .auth = auth,
				    .auth_len = HW_TPM_AUTH_LEN, .prepare = sign_prepare,
				    .complete = sign_complete, .arg = &s, .what = "a signature" };
	return hw_tpm_fast_run_inlock(c, &x, rc_out);
}

void hw_tpm_fast_end_inlock(hw_tpm_ctx *c, bool flush)
{
	end_session(c, flush);
}

void hw_tpm_fast_free(hw_tpm_ctx *c)
{
	EVP_MD_free(c->fast.md);
	EVP_MAC_free(c->fast.mac);
	EVP_CIPHER_free(c->fast.cfb);
	c->fast.md = NULL;
	c->fast.mac = NULL;
	c->fast.cfb = NULL;
}
