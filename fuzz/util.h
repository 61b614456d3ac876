/*
 * What every fuzz target shares: reading the input as a stream of small
 * fields, exact-size copies (so ASan sees a read one byte past a value), a
 * private temporary directory, and logging that formats every line but
 * writes it nowhere.
 */
#ifndef HW_FUZZ_UTIL_H
#define HW_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ck.h"

/* The part of the input not read yet. Every reader returns false (and
 * reads nothing) when too few bytes are left. */
typedef struct fz_in {
	const uint8_t *p;
	size_t n;
} fz_in;

bool fz_u8(fz_in *in, uint8_t *v);
bool fz_u16(fz_in *in, uint16_t *v);       /* little endian */
bool fz_u32(fz_in *in, uint32_t *v);
bool fz_u64(fz_in *in, uint64_t *v);
bool fz_bytes(fz_in *in, size_t len, const uint8_t **out);

/* A mechanism type from the input: a u8 index into the mechanism table,
 * or 0xFF and any u32 type. false at the end of the input. */
bool fz_read_mech(fz_in *in, CK_MECHANISM_TYPE *type);
/* A malloc'd copy of exactly len bytes (never NULL: the harness stops on
 * out of memory, as libFuzzer's own malloc limit would). */
void *fz_dup(const void *p, size_t len);
/* len bytes, uninitialized; non-NULL even for 0 (a value, not a size query). */
void *fz_alloc(size_t len);
/* A NUL-terminated malloc'd copy. */
char *fz_strdup(const void *p, size_t len);

/* A directory made for this process under $TMPDIR (else /dev/shm, where
 * SQLite's fsync costs nothing, else /tmp), removed at exit. */
const char *fz_tmpdir(void);

/* Every log line is formatted (hostile values go through the formatter)
 * and appended to /dev/null; with $HWAGG_FUZZ_LOG set (to triage an input)
 * they go to stderr. fz_log_file: the file, NULL for stderr. */
void fz_quiet_logs(void);
const char *fz_log_file(void);

/* A property of the code under test does not hold: report and crash, so
 * libFuzzer keeps the input. */
#define FZ_ASSERT(cond) \
	do { if (!(cond)) fz_fail(__FILE__, __LINE__, #cond); } while (0)
__attribute__((noreturn)) void fz_fail(const char *file, int line, const char *what);

#endif
