/*
 * The audit log's check (audit_verify.h). Every record carries its number
 * (seq, consecutive from 1) and the SHA-256 of the line before it (prev),
 * so the first line that does not follow from the one before tells what
 * happened there:
 *
 *   right number, wrong prev      the line before was edited
 *   the next line chains past it  this line was inserted
 *   a number that comes later     a record is missing (dropped), or, when the
 *                                 missing one comes a little later, reordered
 *   a number already seen         reordered, or a copy inserted
 *   no newline at the end         cut mid-record (or a writer died and no
 *                                 one has written since)
 *
 * A line that is not a record is accepted only when the next record is a
 * "recover" record naming its exact length and hash: a writer that died
 * mid-write, noticed by the next one (audit_file.c). Checkpoints must name
 * an earlier record by its real hash, and with a key, their signature must
 * verify.
 */
#include "module/audit_verify.h"
#include "module/audit_int.h"
#include "mechanisms/crypto.h"
#include "mechanisms/encode.h"
#include "mechanisms/mech.h"

#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKAHEAD 64   /* lines searched for a record that came too late */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Lower-case hex of exactly want bytes (want 0: any even length, allocated). */
static bool get_hex(json_object *o, const char *name, unsigned char *out, size_t want,
		    unsigned char **alloc, size_t *alloc_len)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return false;
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n % 2 != 0 || (want != 0 && n != 2 * want) || (want == 0 && (n == 0 || n > 4096)))
		return false;
	if (want == 0) {
		if ((out = *alloc = malloc(n / 2)) == NULL)
			return false;
		*alloc_len = n / 2;
	}
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static bool get_u64(json_object *o, const char *name, uint64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return false;
	int64_t n = json_object_get_int64(v);
	*out = (uint64_t)n;
	return n > 0;
}

static const char *get_str(json_object *o, const char *name)
{
	json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *hw_audit_rec_str(const hw_audit_rec *r, const char *name)
{
	json_object *o = r->obj, *k;
	const char *dot = strchr(name, '.');
	char first[32];
	if (o == NULL)
		return NULL;
	if (dot != NULL && (size_t)(dot - name) < sizeof(first)) {
		memcpy(first, name, (size_t)(dot - name));
		first[dot - name] = '\0';
		if (!json_object_object_get_ex(o, first, &k) || !json_object_is_type(k, json_type_object))
			return NULL;
		return get_str(k, dot + 1);
	}
	return get_str(o, name);
}

void hw_audit_rec_clear(hw_audit_rec *r)
{
	json_object_put(r->obj);
	free(r->sig);
	memset(r, 0, sizeof(*r));
}

static CK_RV parse_fail(hw_audit_rec *r, const char **why, const char *what)
{
	hw_audit_rec_clear(r);
	*why = what;
	return CKR_DATA_INVALID;
}

CK_RV hw_audit_rec_parse(const char *line, size_t len, hw_audit_rec *r, const char **why)
{
	struct json_tokener *tok;
	memset(r, 0, sizeof(*r));
	if (len == 0 || len >= HW_AUDIT_LINE_MAX || memchr(line, '\0', len) != NULL)
		return parse_fail(r, why, len == 0 ? "an empty line" : "not a line of text of the right size");
	if ((tok = json_tokener_new()) == NULL)
		return parse_fail(r, why, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	r->obj = json_tokener_parse_ex(tok, line, (int)len);
	bool whole = json_tokener_get_error(tok) == json_tokener_success &&
		     json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (r->obj == NULL || !whole || !json_object_is_type(r->obj, json_type_object))
		return parse_fail(r, why, "not a JSON object");
	if (!get_u64(r->obj, "seq", &r->seq))
		return parse_fail(r, why, "no record number (seq)");
	if (!get_hex(r->obj, "prev", r->prev, sizeof(r->prev), NULL, NULL))
		return parse_fail(r, why, "no hash of the record before (prev)");
	if ((r->event = get_str(r->obj, "event")) == NULL || (r->time = get_str(r->obj, "time")) == NULL)
		return parse_fail(r, why, "no event or time");
	if (strcmp(r->event, "checkpoint") == 0) {
		if (!get_u64(r->obj, "head_seq", &r->head_seq) || r->head_seq >= r->seq ||
		    !get_hex(r->obj, "head", r->head, sizeof(r->head), NULL, NULL) ||
		    (r->mech = get_str(r->obj, "mech")) == NULL ||
		    !get_hex(r->obj, "sig", NULL, 0, &r->sig, &r->sig_len))
			return parse_fail(r, why, "a checkpoint without head_seq, head, mech or sig");
	} else if (strcmp(r->event, "recover") == 0) {
		if (!get_u64(r->obj, "torn_bytes", &r->torn_bytes) ||
		    !get_hex(r->obj, "torn_sha256", r->torn, sizeof(r->torn), NULL, NULL))
			return parse_fail(r, why, "a recover record without torn_bytes or torn_sha256");
	}
	return CKR_OK;
}

/* ---- the chain ------------------------------------------------------------- */

typedef struct line {
	const char *p;
	size_t len;
	bool whole;                    /* ends with a newline */
	unsigned char hash[HW_AUDIT_HASH_BYTES];
	uint64_t seq;                  /* 0: not a record */
} line;

static CK_RV split(const char *buf, size_t len, line **out, size_t *n)
{
	size_t cap = 0, i = 0;
	*out = NULL;
	*n = 0;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t l = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			line *m = realloc(*out, cap * sizeof(**out));
			if (m == NULL)
				return CKR_HOST_MEMORY;
			*out = m;
		}
		line *ln = &(*out)[(*n)++];
		memset(ln, 0, sizeof(*ln));
		ln->p = buf + i;
		ln->len = l;
		ln->whole = nl != NULL;
		if (hw_audit_hash(ln->p, l, ln->hash) != CKR_OK)
			return CKR_HOST_MEMORY;
		i += l + 1;
	}
	return CKR_OK;
}

static CK_RV bad(hw_audit_result *res, size_t lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static CK_RV bad(hw_audit_result *res, size_t lineno, const char *fmt, ...)
{
	va_list ap;
	res->bad_line = lineno;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
	return CKR_DATA_INVALID;
}

/* The record number of line j, parsed on demand (0 when not a record). */
static uint64_t seq_of(line *l)
{
	hw_audit_rec r;
	const char *why;
	if (l->seq == 0 && hw_audit_rec_parse(l->p, l->len, &r, &why) == CKR_OK) {
		l->seq = r.seq;
		hw_audit_rec_clear(&r);
	}
	return l->seq;
}

/* Line i (0-based) does not follow: say what happened. */
static CK_RV classify(line *L, size_t n, size_t i, const hw_audit_rec *r, uint64_t want_seq,
		      size_t prev_line, hw_audit_result *res)
{
	if (r->seq == want_seq)
		return prev_line == SIZE_MAX ? bad(res, i + 1, "edited: the first record does not start the chain") :
		       bad(res, prev_line + 1, "edited: its hash is not the one line %zu carries", i + 1);
	if (r->seq > want_seq) {
		for (size_t j = i + 1; j < n && j <= i + LOOKAHEAD; j++)
			if (seq_of(&L[j]) == want_seq)
				return bad(res, i + 1, "out of order: record %llu comes before it, at line %zu",
					   (unsigned long long)want_seq, j + 1);
		return bad(res, i + 1, "record%s %llu%s%.0llu missing before this line (dropped)",
			   r->seq - want_seq > 1 ? "s" : "", (unsigned long long)want_seq,
			   r->seq - want_seq > 1 ? " to " : "",
			   r->seq - want_seq > 1 ? (unsigned long long)(r->seq - 1) : 0ULL);
	}
	/* a number seen already: does this line chain to the one two back? */
	if (prev_line != SIZE_MAX && prev_line >= 1 && memcmp(r->prev, L[prev_line - 1].hash, sizeof(r->prev)) == 0 &&
	    seq_of(&L[prev_line - 1]) + 1 == r->seq)
		return bad(res, prev_line + 1, "inserted: line %zu chains to the line before it", i + 1);
	return bad(res, i + 1, "out of order: record %llu where record %llu belongs",
		   (unsigned long long)r->seq, (unsigned long long)want_seq);
}

/* The message a checkpoint signs, hashed as its mechanism does, then verified. */
static bool cp_signature_ok(EVP_PKEY *key, const hw_audit_rec *r)
{
	char head_hex[2 * HW_AUDIT_HASH_BYTES + 1], msg[160];
	unsigned char md[64], di[128];
	const hw_mech *m = hw_mech_by_name(r->mech);
	hw_sign_req req;
	if (m == NULL || !(m->flags & CKF_SIGN))
		return false;
	for (size_t i = 0; i < HW_AUDIT_HASH_BYTES; i++)
		snprintf(head_hex + 2 * i, 3, "%02x", r->head[i]);
	int ml = hw_audit_cp_message(msg, sizeof(msg), r->head_seq, head_hex);
	memset(&req, 0, sizeof(req));
	req.base = m->base;
	req.hash = m->hash;
	req.data = (const unsigned char *)msg;
	req.len = (size_t)ml;
	if (m->hash != HW_NO_HASH) {
		size_t mdlen = sizeof(md), dl = sizeof(di);
		if (hw_digest_once(m->hash, msg, (size_t)ml, md, &mdlen) != CKR_OK)
			return false;
		req.data = md;
		req.len = mdlen;
		if (m->base == CKM_RSA_PKCS) {
			if (hw_digestinfo_encode(m->hash, md, mdlen, di, &dl) != CKR_OK)
				return false;
			req.data = di;
			req.len = dl;
		}
	} else if (m->base != CKM_EDDSA) {
		return false;
	}
	return hw_pkey_verify(key, &req, r->sig, r->sig_len) == CKR_OK;
}

/* A checkpoint: it names an earlier record by its true hash, and signs. */
static CK_RV check_cp(const line *L, size_t i, const hw_audit_rec *r, EVP_PKEY *key, hw_audit_result *res)
{
	size_t at = SIZE_MAX;
	res->checkpoints++;
	for (size_t j = i; j-- > 0 && at == SIZE_MAX;)
		if (L[j].seq == r->head_seq)
			at = j;
	if (at == SIZE_MAX || memcmp(L[at].hash, r->head, sizeof(r->head)) != 0)
		return bad(res, i + 1, "bad checkpoint: record %llu does not have the hash it names",
			   (unsigned long long)r->head_seq);
	if (key == NULL)
		return CKR_OK;
	if (!cp_signature_ok(key, r))
		return bad(res, i + 1, "bad checkpoint: the signature does not verify with the given key");
	res->checked++;
	res->unanchored = 0;
	return CKR_OK;
}

CK_RV hw_audit_verify(const char *buf, size_t len, EVP_PKEY *key, hw_audit_result *res)
{
	static const unsigned char zero[HW_AUDIT_HASH_BYTES];
	const unsigned char *want_prev = zero;
	uint64_t want_seq = 1;
	size_t n = 0, prev_line = SIZE_MAX, torn = SIZE_MAX;
	line *L = NULL;
	hw_audit_rec r;
	const char *why, *torn_why = "";
	CK_RV rv;

	memset(res, 0, sizeof(*res));
	if (buf == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	if ((rv = split(buf, len, &L, &n)) != CKR_OK)
		goto out;
	res->lines = n;
	for (size_t i = 0; i < n && rv == CKR_OK; i++) {
		if (!L[i].whole) {
			rv = bad(res, i + 1, "incomplete: the last record has no end (the file was cut, or a writer "
				 "died and nothing was written since); the records before it verify");
			break;
		}
		if (hw_audit_rec_parse(L[i].p, L[i].len, &r, &why) != CKR_OK) {
			if (torn == SIZE_MAX && i + 1 < n) {
				torn = i;           /* a torn write, if the next record says so */
				torn_why = why;
				continue;
			}
			rv = bad(res, i + 1, "not a record: %s", why);
			break;
		}
		L[i].seq = r.seq;
		bool recover = strcmp(r.event, "recover") == 0;
		if (torn != SIZE_MAX && (!recover || r.torn_bytes != L[torn].len ||
					 memcmp(r.torn, L[torn].hash, sizeof(r.torn)) != 0)) {
			rv = bad(res, torn + 1, "not a record: %s", torn_why);
		} else if (recover && torn == SIZE_MAX) {
			rv = bad(res, i + 1, "a recover record without an incomplete line before it");
		} else if (r.seq != want_seq || memcmp(r.prev, want_prev, sizeof(r.prev)) != 0) {
			rv = classify(L, n, i, &r, want_seq, prev_line, res);
		} else {
			res->records++;
			res->unanchored++;
			res->recovered += recover;
			if (strcmp(r.event, "checkpoint") == 0)
				rv = check_cp(L, i, &r, key, res);
			want_seq = r.seq + 1;
			want_prev = L[i].hash;
			prev_line = i;
			torn = SIZE_MAX;
		}
		hw_audit_rec_clear(&r);
	}
	if (rv == CKR_OK && torn != SIZE_MAX)
		rv = bad(res, torn + 1, "not a record: %s", torn_why);
out:
	free(L);
	return rv;
}

CK_RV hw_audit_load_key(const char *pem_path, EVP_PKEY **out)
{
	FILE *f = fopen(pem_path, "re");
	if (f == NULL)
		return CKR_ARGUMENTS_BAD;
	*out = PEM_read_PUBKEY_ex(f, NULL, NULL, NULL, hw_crypto_ctx(), NULL);
	fclose(f);
	return *out != NULL ? CKR_OK : CKR_ARGUMENTS_BAD;
}
