/*
 * Fuzz target: the audit log reader behind `hwagg audit verify` and `show`.
 * The input is a log file. The first byte chooses whether checkpoints are
 * checked against a key (one made at start-up), the rest is the log.
 *
 * Properties checked beyond "no crash": the verdict is consistent (a
 * problem names a line of the file and a reason without control
 * characters, which the CLI prints; no problem means every line was
 * accounted for); every line the chain accepted parses as a record on its
 * own, and its fields read back as strings or nothing.
 */
#include "fuzz/util.h"
#include "module/audit_verify.h"
#include "mechanisms/crypto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_quiet_logs();
	key = EVP_PKEY_Q_keygen(hw_crypto_ctx(), NULL, "EC", "P-256");
	return key != NULL ? 0 : 1;
}

static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Each line on its own: the parser's fields are consistent. */
static void parse_lines(const char *buf, size_t len)
{
	static const char *const names[] = { "event", "slot", "key.label", "key.id", "result", "mech", "key.", ".x" };
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		hw_audit_rec r;
		const char *why = NULL;
		if (hw_audit_rec_parse(buf + off, l, &r, &why) == CKR_OK) {
			FZ_ASSERT(r.seq > 0 && r.event != NULL && r.time != NULL);
			FZ_ASSERT(strcmp(r.event, "checkpoint") != 0 || (r.sig != NULL && r.sig_len > 0 &&
									 r.head_seq < r.seq));
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				(void)hw_audit_rec_str(&r, names[i]);
		} else {
			FZ_ASSERT(why != NULL && printable(why) && r.obj == NULL && r.sig == NULL);
		}
		hw_audit_rec_clear(&r);
		off += l + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hw_audit_result res;
	if (size == 0)
		return 0;
	bool with_key = data[0] & 1;
	char *buf = fz_dup(data + 1, size - 1);
	CK_RV rv = hw_audit_verify(buf, size - 1, with_key ? key : NULL, &res);
	if (rv == CKR_OK) {
		FZ_ASSERT(res.bad_line == 0 && res.records + res.recovered <= res.lines);
		FZ_ASSERT(res.lines - res.records == res.recovered);   /* each skipped line was a torn one */
		FZ_ASSERT(res.checked <= res.checkpoints && res.checkpoints <= res.records);
		FZ_ASSERT(with_key || res.checked == 0);
	} else {
		FZ_ASSERT(rv == CKR_DATA_INVALID);
		FZ_ASSERT(res.bad_line >= 1 && res.bad_line <= res.lines);
		FZ_ASSERT(res.why[0] != '\0' && printable(res.why));
	}
	parse_lines(buf, size - 1);
	free(buf);
	return 0;
}
