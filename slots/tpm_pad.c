/*
 * RSA encodings the tpm slot applies itself around a raw RSA operation in
 * the TPM (TPM2_RSA_Decrypt with scheme NULL): PKCS#1 v1.5 block type 1 for
 * any input, and EMSA-PSS (RFC 8017, 9.1.1) with the caller's salt length
 * and MGF1 hash, which TPM2_Sign's RSAPSS cannot take (the TPM picks the
 * salt length itself); and EME-OAEP decoding (RFC 8017, 7.1.2), because
 * the TPM's OAEP counts a label's terminating NUL, which PKCS#11 labels
 * do not have.
 */
#include "slots/tpm_int.h"
#include "mechanisms/encode.h"

#include <string.h>

CK_RV hw_tpm_pad_pkcs1(const unsigned char *in, size_t len, unsigned char *em, size_t k)
{
	if (len + 11 > k)
		return CKR_DATA_LEN_RANGE;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - 3 - len);
	em[k - len - 1] = 0x00;
	memcpy(em + k - len, in, len);
	return CKR_OK;
}

/* mask ^= MGF1(hash, seed) over len bytes */
static CK_RV mgf1_xor(CK_MECHANISM_TYPE hash, const unsigned char *seed, size_t seed_len,
		      unsigned char *mask, size_t len)
{
	/* OAEP's seed mask takes the whole masked DB as its seed */
	unsigned char buf[512 + 4], t[64];
	size_t tl;
	if (seed_len > 512)
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(buf, seed, seed_len);
	for (uint32_t ctr = 0, off = 0; off < len; ctr++) {
		buf[seed_len] = (unsigned char)(ctr >> 24);
		buf[seed_len + 1] = (unsigned char)(ctr >> 16);
		buf[seed_len + 2] = (unsigned char)(ctr >> 8);
		buf[seed_len + 3] = (unsigned char)ctr;
		tl = sizeof(t);
		CK_RV rv = hw_digest_once(hash, buf, seed_len + 4, t, &tl);
		if (rv != CKR_OK) {
			hw_wipe(buf, sizeof(buf));
			return rv;
		}
		for (size_t i = 0; i < tl && off < len; i++)
			mask[off++] ^= t[i];
	}
	hw_wipe(buf, sizeof(buf));
	hw_wipe(t, sizeof(t));
	return CKR_OK;
}

static CK_RV mgf_hash_of(CK_RSA_PKCS_MGF_TYPE mgf, CK_MECHANISM_TYPE *out)
{
	switch (mgf) {
	case CKG_MGF1_SHA1: *out = CKM_SHA_1; return CKR_OK;
	case CKG_MGF1_SHA224: *out = CKM_SHA224; return CKR_OK;
	case CKG_MGF1_SHA256: *out = CKM_SHA256; return CKR_OK;
	case CKG_MGF1_SHA384: *out = CKM_SHA384; return CKR_OK;
	case CKG_MGF1_SHA512: *out = CKM_SHA512; return CKR_OK;
	default: return CKR_MECHANISM_PARAM_INVALID;
	}
}

CK_RV hw_tpm_pad_pss(const CK_RSA_PKCS_PSS_PARAMS *p, const unsigned char *mhash, size_t mhash_len,
		     unsigned mod_bits, unsigned char *out, size_t k)
{
	CK_MECHANISM_TYPE mgf_hash;
	if (mgf_hash_of(p->mgf, &mgf_hash) != CKR_OK)
		return CKR_MECHANISM_PARAM_INVALID;
	size_t hlen = hw_hash_len(p->hashAlg), slen = p->sLen;
	size_t em_bits = mod_bits - 1, em_len = (em_bits + 7) / 8;
	unsigned char mprime[8 + 64 + 512], h[64];
	size_t hl = sizeof(h);
	if (hlen == 0 || mhash_len != hlen)
		return hlen == 0 ? CKR_MECHANISM_PARAM_INVALID : CKR_DATA_LEN_RANGE;
	if (em_len > k || slen > 512 || em_len < hlen + slen + 2)
		return CKR_MECHANISM_PARAM_INVALID;
	/* M' = 0^8 || mHash || salt; H = Hash(M') */
	memset(mprime, 0, 8);
	memcpy(mprime + 8, mhash, hlen);
	CK_RV rv = hw_random(mprime + 8 + hlen, slen);
	if (rv == CKR_OK)
		rv = hw_digest_once(p->hashAlg, mprime, 8 + hlen + slen, h, &hl);
	if (rv != CKR_OK)
		return rv;
	/* EM = maskedDB || H || 0xbc, DB = PS || 0x01 || salt, right-aligned in k bytes */
	unsigned char *em = out + (k - em_len), *db = em;
	size_t db_len = em_len - hlen - 1;
	memset(out, 0, k);
	db[db_len - slen - 1] = 0x01;
	memcpy(db + db_len - slen, mprime + 8 + hlen, slen);
	if ((rv = mgf1_xor(mgf_hash, h, hlen, db, db_len)) != CKR_OK)
		return rv;
	db[0] &= (unsigned char)(0xff >> (8 * em_len - em_bits));
	memcpy(em + db_len, h, hlen);
	em[em_len - 1] = 0xbc;
	return CKR_OK;
}

/* Decode EM (k bytes, a raw RSA result) as EME-OAEP. Every check runs to
 * the end and one flag decides, so the time says nothing about which one
 * failed. */
CK_RV hw_tpm_unpad_oaep(const CK_RSA_PKCS_OAEP_PARAMS *p, unsigned char *em, size_t k,
			unsigned char *out, size_t *out_len)
{
	CK_MECHANISM_TYPE mgf_hash;
	unsigned char lhash[64];
	size_t hl = sizeof(lhash), hlen = hw_hash_len(p->hashAlg);
	if (hlen == 0 || mgf_hash_of(p->mgf, &mgf_hash) != CKR_OK)
		return CKR_MECHANISM_PARAM_INVALID;
	if (k < 2 * hlen + 2)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	CK_RV rv = hw_digest_once(p->hashAlg, p->ulSourceDataLen ? p->pSourceData : (const void *)"",
				  p->ulSourceDataLen, lhash, &hl);
	unsigned char *seed = em + 1, *db = em + 1 + hlen;
	size_t db_len = k - hlen - 1;
	if (rv == CKR_OK)
		rv = mgf1_xor(mgf_hash, db, db_len, seed, hlen);
	if (rv == CKR_OK)
		rv = mgf1_xor(mgf_hash, seed, hlen, db, db_len);
	if (rv != CKR_OK)
		return rv;
	unsigned bad = em[0], found = 0;
	size_t at = 0;
	for (size_t i = 0; i < hlen; i++)
		bad |= db[i] ^ lhash[i];
	for (size_t i = hlen; i < db_len; i++) {
		unsigned one = (unsigned)(db[i] == 0x01), zero = (unsigned)(db[i] == 0x00);
		unsigned first = one & !found;
		at = first ? i : at;
		found |= one;
		bad |= (unsigned)(!found & !zero & !one);
	}
	if (bad || !found)
		return CKR_ENCRYPTED_DATA_INVALID;
	size_t mlen = db_len - at - 1;
	if (mlen > *out_len) {
		*out_len = mlen;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, db + at + 1, mlen);
	*out_len = mlen;
	return CKR_OK;
}
