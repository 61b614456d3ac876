/*
 * Key attestation for the tpm slot (tpm_int.h): proof that a key lives in
 * this TPM. An attestation key (AK: a restricted ECDSA P-256 signing key,
 * created as a primary in the endorsement hierarchy, so it is the same key
 * every time on this TPM) certifies each new key with TPM2_Certify. The
 * bundle kept with the key is self-describing:
 *
 *   "HWAT" 0x01, then fields: tag (1 byte), length (2 bytes, big-endian), value
 *     1  TPM2B_ATTEST    the TPMS_ATTEST the AK signed (type ATTEST_CERTIFY)
 *     2  TPMT_SIGNATURE  the AK's signature over it (ECDSA, SHA-256)
 *     3  TPM2B_PUBLIC    the AK's public area
 *     4  TPM2B_PUBLIC    the key's public area (its name is in the attestation)
 *     5  DER             the EK certificate from the TPM's NV, when it has one
 *
 * A verifier needs no TPM: it checks the signature with the AK's public key,
 * that the certified name is the hash of the key's public area, that the
 * key's attributes include fixedTPM|fixedParent, and the EK certificate's
 * chain. What ties the AK to that EK is a credential activation between the
 * verifier and the TPM (TPM2_ActivateCredential), which is not part of the
 * bundle.
 */
#include "slots/tpm_int.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#define HW_TPM_NV_BUF 1024   /* the smallest TPM2_PT_NV_BUFFER_MAX there is */

static void ak_template(TPM2B_PUBLIC *t)
{
	hw_tpm_primary_template(t, TPMA_OBJECT_SIGN_ENCRYPT);
	t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	t->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
}

/* The EK certificate in NV (ECC P-256, ECC P-384, RSA 2048 index), DER;
 * *der NULL when the TPM has none. */
static void ek_cert(hw_tpm_ctx *c, unsigned char **der, size_t *len)
{
	static const TPM2_HANDLE idx[] = { 0x01c0000a, 0x01c00016, 0x01c00002 };
	*der = NULL;
	*len = 0;
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]) && *der == NULL; i++) {
		TPMS_CAPABILITY_DATA *cap = NULL;
		TPMI_YES_NO more;
		ESYS_TR nv = ESYS_TR_NONE;
		TPM2B_NV_PUBLIC *pub = NULL;
		/* ask first: ESAPI logs a failed lookup as an error */
		TSS2_RC rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						TPM2_CAP_HANDLES, idx[i], 1, &more, &cap);
		bool there = rc == TSS2_RC_SUCCESS && cap->data.handles.count > 0 &&
			     cap->data.handles.handle[0] == idx[i];
		Esys_Free(cap);
		if (!there || Esys_TR_FromTPMPublic(c->esys, idx[i], ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						    &nv) != TSS2_RC_SUCCESS)
			continue;
		if (Esys_NV_ReadPublic(c->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL) ==
		    TSS2_RC_SUCCESS) {
			size_t size = pub->nvPublic.dataSize, off = 0;
			unsigned char *buf = malloc(size > 0 ? size : 1);
			while (buf != NULL && off < size) {
				TPM2B_MAX_NV_BUFFER *part = NULL;
				UINT16 n = (UINT16)(size - off > HW_TPM_NV_BUF ? HW_TPM_NV_BUF : size - off);
				/* EK certificate indices are readable with their own
				 * (empty) authorization */
				if (Esys_NV_Read(c->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
						 (UINT16)off, &part) != TSS2_RC_SUCCESS || part->size != n) {
					Esys_Free(part);
					break;
				}
				memcpy(buf + off, part->buffer, n);
				off += n;
				Esys_Free(part);
			}
			if (buf != NULL && off == size && size > 0) {
				*der = buf;
				*len = size;
			} else {
				free(buf);
			}
		}
		Esys_Free(pub);
		Esys_TR_Close(c->esys, &nv);
	}
}

static bool put_field(unsigned char *out, size_t cap, size_t *off, unsigned char tag,
		      const unsigned char *v, size_t len)
{
	if (len > 0xffff || *off + 3 + len > cap)
		return false;
	out[(*off)++] = tag;
	out[(*off)++] = (unsigned char)(len >> 8);
	out[(*off)++] = (unsigned char)len;
	memcpy(out + *off, v, len);
	*off += len;
	return true;
}

static CK_RV bundle(const TPM2B_ATTEST *att, const TPMT_SIGNATURE *sig, const TPM2B_PUBLIC *ak,
		    const TPM2B_PUBLIC *key, const unsigned char *ek, size_t ek_len,
		    unsigned char **out, size_t *out_len)
{
	unsigned char m[4][sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_ATTEST)];
	size_t ml[4] = { 0, 0, 0, 0 }, cap = 5 + 4 * (3 + sizeof(m[0])) + 3 + ek_len, off = 5;
	if (Tss2_MU_TPM2B_ATTEST_Marshal(att, m[0], sizeof(m[0]), &ml[0]) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPMT_SIGNATURE_Marshal(sig, m[1], sizeof(m[1]), &ml[1]) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PUBLIC_Marshal(ak, m[2], sizeof(m[2]), &ml[2]) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PUBLIC_Marshal(key, m[3], sizeof(m[3]), &ml[3]) != TSS2_RC_SUCCESS)
		return CKR_GENERAL_ERROR;
	unsigned char *b = malloc(cap);
	if (b == NULL)
		return CKR_HOST_MEMORY;
	memcpy(b, "HWAT\x01", 5);
	bool ok = true;
	for (unsigned char i = 0; i < 4; i++)
		ok = ok && put_field(b, cap, &off, (unsigned char)(i + 1), m[i], ml[i]);
	if (ek != NULL)
		ok = ok && put_field(b, cap, &off, 5, ek, ek_len);
	if (!ok) {
		free(b);
		return CKR_GENERAL_ERROR;
	}
	*out = b;
	*out_len = off;
	return CKR_OK;
}

CK_RV hw_tpm_attest_inlock(hw_tpm_ctx *c, hw_tpm_key *k, const unsigned char *auth,
			   unsigned char **out, size_t *out_len)
{
	TPM2B_PUBLIC tmpl, *akpub = NULL;
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside, qual;
	TPML_PCR_SELECTION pcrs;
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
	TPM2B_ATTEST *att = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TPM2B_AUTH a;
	ESYS_TR h = ESYS_TR_NONE, ak = ESYS_TR_NONE;
	unsigned char *ek = NULL;
	size_t ek_len = 0;
	CK_RV rv = hw_tpm_connect_inlock(c);
	if (rv != CKR_OK)
		return rv;
	/* the key and the AK need two object slots besides the SRK's */
	for (unsigned i = 0; i < c->max_loaded; i++)
		if (c->loaded[i] != NULL)
			hw_tpm_key_unload_inlock(c, c->loaded[i]);
	if ((rv = hw_tpm_load_inlock(c, &k->pub, &k->priv, &h, "load a new key to certify it")) != CKR_OK)
		return rv;
	ak_template(&tmpl);
	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&qual, 0, sizeof(qual));
	memset(&pcrs, 0, sizeof(pcrs));
	TSS2_RC trc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &ak, &akpub, NULL, NULL,
					 NULL);
	if (trc != TSS2_RC_SUCCESS) {
		rv = hw_tpm_fail_inlock(c, trc, "create the attestation key");
		goto out;
	}
	a.size = HW_TPM_AUTH_LEN;
	memcpy(a.buffer, auth, HW_TPM_AUTH_LEN);
	Esys_TR_SetAuth(c->esys, h, &a);
	hw_wipe(&a, sizeof(a));
	hw_tpm_session_for(c, false, false);
	trc = Esys_Certify(c->esys, h, ak, c->session, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qual, &scheme, &att,
			   &sig);
	if (trc != TSS2_RC_SUCCESS) {
		rv = hw_tpm_fail_inlock(c, trc, "certify a new key");
		goto out;
	}
	ek_cert(c, &ek, &ek_len);
	rv = bundle(att, sig, akpub, &k->pub, ek, ek_len, out, out_len);
out:
	if (c->esys != NULL && h != ESYS_TR_NONE)
		Esys_FlushContext(c->esys, h);
	if (c->esys != NULL && ak != ESYS_TR_NONE)
		Esys_FlushContext(c->esys, ak);
	Esys_Free(akpub);
	Esys_Free(att);
	Esys_Free(sig);
	free(ek);
	return rv;
}
