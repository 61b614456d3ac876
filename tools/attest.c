/*
 * hwagg attest show|verify (KEY-URI | --bundle FILE [--pubkey FILE]) [--ca FILE]:
 * a tpm slot key's attestation bundle (slots/tpm_attest.c describes its
 * format), read from the token by the key's URI (with the key's public key)
 * or from a file, printed or verified in software alone, so a remote
 * verifier needs no TPM:
 *   - the AK's ECDSA signature over the attestation;
 *   - the attestation is a TPM-made TPM2_Certify whose certified name is
 *     nameAlg || SHA-256 of the key's public area;
 *   - the key's attributes include fixedTPM|fixedParent, the AK is a
 *     restricted signing key;
 *   - with --pubkey (the PKCS#11 public key, PEM or DER): the key's public
 *     area is that key;
 *   - with --ca (PEM certificates, all trusted): the EK certificate's chain.
 * Each failed check is named.
 */
#include "tools/cli.h"
#include "module/admin.h"
#include "common/log.h"
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>

#define ST_ATTEST_CERTIFY 0x8017
#define ALG_RSA 0x0001
#define ALG_ECC 0x0023
#define ALG_NULL 0x0010
#define ALG_ECDSA 0x0018
#define ATTR_FIXEDTPM 0x2u
#define ATTR_FIXEDPARENT 0x10u
#define ATTR_RESTRICTED 0x10000u
#define ATTR_SIGN 0x40000u

typedef struct span { const unsigned char *p; size_t n; } span;

typedef struct tpub {          /* the parts of a TPMT_PUBLIC we check */
	span area;                 /* the TPMT_PUBLIC itself (hashed into the name) */
	unsigned type, name_alg, curve, bits;
	uint32_t attrs;
	span x, y, n;              /* ECC point or RSA modulus */
} tpub;

typedef struct bundle {
	span attest, sig, ak, key, ek;   /* the fields; ek.n 0 when absent */
	tpub akp, keyp;
	unsigned att_type;
	span name;                 /* certified name */
	uint64_t clock, firmware;
} bundle;

static bool u16(span b, size_t *off, unsigned *v)
{
	if (*off + 2 > b.n)
		return false;
	*v = (unsigned)b.p[*off] << 8 | b.p[*off + 1];
	*off += 2;
	return true;
}

static bool u32(span b, size_t *off, uint32_t *v)
{
	unsigned hi, lo;
	if (!u16(b, off, &hi) || !u16(b, off, &lo))
		return false;
	*v = (uint32_t)hi << 16 | lo;
	return true;
}

static bool u64(span b, size_t *off, uint64_t *v)
{
	uint32_t hi, lo;
	if (!u32(b, off, &hi) || !u32(b, off, &lo))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static bool sized(span b, size_t *off, span *out)
{
	unsigned n;
	if (!u16(b, off, &n) || *off + n > b.n)
		return false;
	out->p = b.p + *off;
	out->n = n;
	*off += n;
	return true;
}

/* symmetric / scheme / kdf: an algorithm, and its details unless NULL */
static bool skip_alg(span b, size_t *off, size_t details)
{
	unsigned alg;
	if (!u16(b, off, &alg))
		return false;
	if (alg != ALG_NULL)
		*off += details;
	return *off <= b.n;
}

static bool parse_public(span tpm2b, tpub *t)
{
	size_t off = 0;
	span pol;
	unsigned u;
	uint32_t exp;
	memset(t, 0, sizeof(*t));
	if (!sized(tpm2b, &off, &t->area) || off != tpm2b.n)
		return false;
	span a = t->area;
	off = 0;
	if (!u16(a, &off, &t->type) || !u16(a, &off, &t->name_alg) || !u32(a, &off, &t->attrs) ||
	    !sized(a, &off, &pol) || !skip_alg(a, &off, 4) || !skip_alg(a, &off, 2))
		return false;
	if (t->type == ALG_ECC)
		return u16(a, &off, &t->curve) && skip_alg(a, &off, 2) && sized(a, &off, &t->x) &&
		       sized(a, &off, &t->y) && off == a.n;
	if (t->type == ALG_RSA)
		return u16(a, &off, &u) && u32(a, &off, &exp) && sized(a, &off, &t->n) && off == a.n &&
		       (t->bits = u) > 0 && (exp == 0 || exp == 65537);
	return false;
}

static bool parse_bundle(span b, bundle *out)
{
	size_t off = 5;
	memset(out, 0, sizeof(*out));
	if (b.n < 5 || memcmp(b.p, "HWAT\x01", 5) != 0)
		return false;
	while (off < b.n) {
		unsigned tag = b.p[off++], n;
		span v;
		if (!u16(b, &off, &n) || off + n > b.n)
			return false;
		v.p = b.p + off;
		v.n = n;
		off += n;
		span *f[] = { NULL, &out->attest, &out->sig, &out->ak, &out->key, &out->ek };
		if (tag >= 1 && tag <= 5)
			*f[tag] = v;
	}
	span att;
	size_t o = 0;
	uint32_t magic;
	span skip;
	if (!sized(out->attest, &o, &att) || !parse_public(out->ak, &out->akp) || !parse_public(out->key, &out->keyp))
		return false;
	out->attest = att;
	o = 0;
	return u32(att, &o, &magic) && magic == 0xff544347 && u16(att, &o, &out->att_type) &&
	       sized(att, &o, &skip) && sized(att, &o, &skip) && u64(att, &o, &out->clock) &&
	       (o += 9) <= att.n && u64(att, &o, &out->firmware) && sized(att, &o, &out->name);
}

static const char *curve_name(unsigned c)
{
	return c == 0x0003 ? "P-256" : c == 0x0004 ? "P-384" : NULL;
}

/* An OpenSSL key for a TPM public area. */
static EVP_PKEY *tpm_key(const tpub *t)
{
	EVP_PKEY *pk = NULL;
	unsigned char pt[1 + 2 * 48];
	static const unsigned char f4[] = { 1, 0, 1 };
	if (t->type == ALG_RSA) {
		if (hw_key_from_public(CKK_RSA, t->n.p, t->n.n, f4, sizeof(f4), &pk) != CKR_OK)
			return NULL;
		return pk;
	}
	const hw_curve *c = curve_name(t->curve) ? hw_curve_by_name(curve_name(t->curve)) : NULL;
	if (c == NULL || t->x.n > c->nlen || t->y.n > c->nlen)
		return NULL;
	memset(pt, 0, sizeof(pt));
	pt[0] = 0x04;
	memcpy(pt + 1 + c->nlen - t->x.n, t->x.p, t->x.n);
	memcpy(pt + 1 + 2 * c->nlen - t->y.n, t->y.p, t->y.n);
	return hw_key_from_public(CKK_EC, c->params, c->params_len, pt, 1 + 2 * c->nlen, &pk) == CKR_OK ? pk : NULL;
}

/* TPMT_SIGNATURE (ECDSA) -> DER; *len in: capacity. */
static bool sig_der(span s, unsigned char *out, size_t *len)
{
	size_t off = 0;
	unsigned alg, hash;
	span r, sv;
	unsigned char rs[2 * 66];
	if (!u16(s, &off, &alg) || alg != ALG_ECDSA || !u16(s, &off, &hash) || !sized(s, &off, &r) ||
	    !sized(s, &off, &sv) || r.n > 66 || sv.n > 66)
		return false;
	size_t w = r.n > sv.n ? r.n : sv.n;
	memset(rs, 0, sizeof(rs));
	memcpy(rs + w - r.n, r.p, r.n);
	memcpy(rs + 2 * w - sv.n, sv.p, sv.n);
	return hw_ecdsa_rs_to_der(rs, 2 * w, out, len) == CKR_OK;
}

static const char *check_signature(const bundle *b)
{
	unsigned char der[160];
	size_t len = sizeof(der);
	EVP_PKEY *ak = tpm_key(&b->akp);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char *why = NULL;
	if (ak == NULL || md == NULL || !sig_der(b->sig, der, &len))
		why = "the AK or its signature cannot be read";
	else if (EVP_DigestVerifyInit_ex(md, NULL, "SHA256", hw_crypto_ctx(), NULL, ak, NULL) != 1 ||
		 EVP_DigestVerify(md, der, len, b->attest.p, b->attest.n) != 1)
		why = "the AK's signature over the attestation does not verify";
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ak);
	return why;
}

static const char *check_name(const bundle *b)
{
	unsigned char h[64];
	size_t hl = sizeof(h);
	if (b->keyp.name_alg != 0x000b || hw_digest_once(CKM_SHA256, b->keyp.area.p, b->keyp.area.n, h, &hl) != CKR_OK)
		return "the key's name algorithm is not SHA-256";
	if (b->name.n != 2 + hl || b->name.p[0] != 0x00 || b->name.p[1] != 0x0b || memcmp(b->name.p + 2, h, hl) != 0)
		return "the certified name is not the key's public area";
	return NULL;
}

static unsigned char *read_file(const char *path, size_t *len);

/* A public key file: PEM, or DER SubjectPublicKeyInfo (what pkcs11-tool
 * --read-object --type pubkey writes). */
static EVP_PKEY *read_pubkey(const char *path)
{
	size_t len;
	unsigned char *buf = read_file(path, &len);
	EVP_PKEY *pk = NULL;
	if (buf != NULL && len > 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		pk = bio ? PEM_read_bio_PUBKEY_ex(bio, NULL, NULL, NULL, hw_crypto_ctx(), NULL) : NULL;
		BIO_free(bio);
	} else if (buf != NULL && hw_key_from_spki(buf, len, &pk) != CKR_OK) {
		pk = NULL;
	}
	free(buf);
	return pk;
}

static const char *check_ca(const bundle *b, const char *ca)
{
	const unsigned char *p = b->ek.p;
	X509 *ek = b->ek.n ? d2i_X509(NULL, &p, (long)b->ek.n) : NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const char *why = NULL;
	if (ek == NULL)
		why = "the bundle has no EK certificate";
	else if (st == NULL || ctx == NULL || X509_STORE_load_file(st, ca) != 1)
		why = "the --ca file cannot be read";
	else if (X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
		 X509_STORE_CTX_init(ctx, st, ek, NULL) != 1 || X509_verify_cert(ctx) != 1)
		why = "the EK certificate does not chain to the --ca certificates";
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(ek);
	return why;
}

static void show(const bundle *b)
{
	printf("attestation: %s, TPM firmware %016llx, clock %llu ms\n",
	       b->att_type == ST_ATTEST_CERTIFY ? "TPM2_Certify" : "not TPM2_Certify",
	       (unsigned long long)b->firmware, (unsigned long long)b->clock);
	if (b->keyp.type == ALG_ECC)
		printf("key:         ECC %s", curve_name(b->keyp.curve) ? curve_name(b->keyp.curve) : "(other curve)");
	else
		printf("key:         RSA %u", b->keyp.bits);
	printf(", attributes 0x%08x%s\nkey name:    ", (unsigned)b->keyp.attrs,
	       (b->keyp.attrs & (ATTR_FIXEDTPM | ATTR_FIXEDPARENT)) == (ATTR_FIXEDTPM | ATTR_FIXEDPARENT) ?
	       " (fixedTPM, fixedParent)" : "");
	for (size_t i = 0; i < b->name.n; i++)
		printf("%02x", b->name.p[i]);
	printf("\nAK:          ECC %s, attributes 0x%08x\n", curve_name(b->akp.curve) ? curve_name(b->akp.curve) : "?",
	       (unsigned)b->akp.attrs);
	const unsigned char *p = b->ek.p;
	X509 *ek = b->ek.n ? d2i_X509(NULL, &p, (long)b->ek.n) : NULL;
	if (ek != NULL) {
		char subj[256], iss[256];
		X509_NAME_oneline(X509_get_subject_name(ek), subj, sizeof(subj));
		X509_NAME_oneline(X509_get_issuer_name(ek), iss, sizeof(iss));
		printf("EK cert:     subject %s, issuer %s\n", subj, iss);
	} else {
		printf("EK cert:     none in the bundle\n");
	}
	X509_free(ek);
}

static int usage(FILE *f)
{
	fprintf(f, "usage: hwagg attest show KEY-URI | --bundle FILE\n"
		   "       hwagg attest verify (KEY-URI | --bundle FILE [--pubkey FILE]) [--ca FILE]\n"
		   "KEY-URI: pkcs11:token=NAME;id=%%XX... of a key on a tpm slot; the bundle is its\n"
		   "CKO_DATA object (application hwagg-attestation).\n");
	return f == stderr ? HW_EXIT_USAGE : HW_EXIT_OK;
}

/* The bundle and public key of the key at uri, from its token. */
static int from_token(const char *uri, unsigned char **bun, size_t *blen, unsigned char **spki, size_t *slen)
{
	hw_cli_uri k;
	size_t n = 0;
	hw_admin_slot *all = NULL;
	const hw_admin_slot *slot = NULL;
	int ret = hw_cli_uri_parse(uri, true, &k);
	if (ret != HW_EXIT_OK)
		return ret;
	if (k.id_len == 0) {
		fprintf(stderr, "hwagg: %s: expected a key's PKCS#11 URI with token= and id=\n", uri);
		return HW_EXIT_USAGE;
	}
	CK_RV rv = hw_admin_open();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: the module did not start: %s (see the message above)\n", hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	if ((rv = hw_admin_slots(&all, &n)) == CKR_OK) {
		for (size_t i = 0; i < n && slot == NULL; i++)
			if (strcmp(all[i].name, k.token) == 0)
				slot = &all[i];
		rv = slot == NULL ? CKR_TOKEN_NOT_PRESENT :
		     hw_admin_attestation(slot->id, k.id, k.id_len, bun, blen, spki, slen);
	}
	free(all);
	hw_admin_close();
	if (rv != CKR_OK) {
		fprintf(stderr, "hwagg: %s: %s\n", uri, rv == CKR_OBJECT_HANDLE_INVALID ?
			"the token has no attestation for this key (keys made on a tpm slot have one)" :
			rv == CKR_TOKEN_NOT_PRESENT ? "no such token" : hw_rv_name(rv));
		return HW_EXIT_FAIL;
	}
	return HW_EXIT_OK;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(65536);
	*len = 0;
	if (f != NULL && buf != NULL)
		*len = fread(buf, 1, 65536, f);
	if (f != NULL)
		fclose(f);
	if (f == NULL || *len == 0 || *len == 65536) {
		free(buf);
		return NULL;
	}
	return buf;
}

int hw_cli_attest(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "bundle", required_argument, NULL, 'b' }, { "pubkey", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *pubkey = NULL, *ca = NULL, *why = NULL, *uri = NULL;
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	int c, ret;
	if (argc < 2 || (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "verify") != 0))
		return usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	bool verify = strcmp(argv[1], "verify") == 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'b': file = optarg; break;
		case 'k': pubkey = optarg; break;
		case 'c': ca = optarg; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind == argc - 2)
		uri = argv[1 + optind];
	else if (optind != argc - 1)
		return usage(stderr);
	if ((file == NULL) == (uri == NULL) || (uri != NULL && pubkey != NULL) ||
	    (!verify && (pubkey != NULL || ca != NULL)))
		return usage(stderr);
	size_t len = 0;
	unsigned char *buf = NULL;
	bundle b;
	if (uri != NULL && (ret = from_token(uri, &buf, &len, &spki, &spki_len)) != HW_EXIT_OK)
		return ret;
	if (file != NULL && (buf = read_file(file, &len)) == NULL) {
		fprintf(stderr, "hwagg: cannot read the bundle %s\n", file);
		return HW_EXIT_FAIL;
	}
	if (hw_crypto_init() != CKR_OK || !parse_bundle((span){ buf, len }, &b)) {
		fprintf(stderr, "hwagg: %s is not an attestation bundle of the tpm slot\n", file ? file : uri);
		free(buf);
		free(spki);
		return HW_EXIT_FAIL;
	}
	if (!verify) {
		show(&b);
		free(buf);
		free(spki);
		return HW_EXIT_OK;
	}
	if (b.att_type != ST_ATTEST_CERTIFY)
		why = "the attestation is not a TPM2_Certify";
	if (why == NULL && (b.akp.type != ALG_ECC ||
			    (b.akp.attrs & (ATTR_RESTRICTED | ATTR_SIGN | ATTR_FIXEDTPM)) !=
			    (ATTR_RESTRICTED | ATTR_SIGN | ATTR_FIXEDTPM)))
		why = "the AK is not a restricted signing key of a TPM";
	if (why == NULL)
		why = check_signature(&b);
	if (why == NULL)
		why = check_name(&b);
	if (why == NULL && (b.keyp.attrs & (ATTR_FIXEDTPM | ATTR_FIXEDPARENT)) != (ATTR_FIXEDTPM | ATTR_FIXEDPARENT))
		why = "the key is not fixedTPM|fixedParent";
	if (why == NULL && (pubkey != NULL || spki != NULL)) {
		EVP_PKEY *want = NULL, *have = tpm_key(&b.keyp);
		if (pubkey != NULL)
			want = read_pubkey(pubkey);
		else if (hw_key_from_spki(spki, spki_len, &want) != CKR_OK)
			want = NULL;
		if (want == NULL)
			why = pubkey != NULL ? "the --pubkey file holds no public key" : "the token's public key cannot be read";
		else if (have == NULL || EVP_PKEY_eq(want, have) != 1)
			why = pubkey != NULL ? "the key's public area is not the --pubkey key" :
					       "the key's public area is not the token's public key";
		EVP_PKEY_free(want);
		EVP_PKEY_free(have);
	}
	if (why == NULL && ca != NULL)
		why = check_ca(&b, ca);
	free(buf);
	free(spki);
	if (why != NULL) {
		printf("attestation check failed: %s\n", why);
		return HW_EXIT_FAIL;
	}
	printf("attestation verified: a TPM key (fixedTPM, fixedParent) certified by the TPM's AK%s%s\n",
	       pubkey != NULL ? ", and it is the given public key" : spki != NULL ? ", and it is the token's public key" : "",
	       ca != NULL ? "; EK certificate chain ok" : " (EK certificate not checked: no --ca)");
	return HW_EXIT_OK;
}
