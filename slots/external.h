/*
 * The "external" slot: every key is a signing command. What its parts
 * share: the parsed configuration (external_conf.c), running a command
 * (external_run.c) and turning what it printed into a checked signature
 * (external_sig.c); external.c is the backend itself.
 */
#ifndef HW_EXTERNAL_H
#define HW_EXTERNAL_H

#include "slots/backend.h"
#include "common/secret.h"

#include <pthread.h>

/* How the command gets what it signs. */
typedef enum {
	HW_EXT_IN_HEX_FILE = 0,    /* one argument: a 0600 temp file with the hex SHA-256 digest */
	HW_EXT_IN_DIGEST_STDIN,    /* the digest's bytes on stdin */
	HW_EXT_IN_MESSAGE_STDIN,   /* the message on stdin (Ed25519) */
} hw_ext_input;

/* What the command prints on stdout. */
typedef enum { HW_EXT_OUT_BASE64 = 0, HW_EXT_OUT_RAW, HW_EXT_OUT_DER } hw_ext_output;

#define HW_EXT_ID_MAX 64

typedef struct hw_ext_key {
	char *label;
	unsigned char id[HW_EXT_ID_MAX];
	size_t id_len;                /* 0: derived from the public key */
	char *pub_path;
	char **argv;                  /* NULL-terminated; argv[0] an absolute path */
	size_t argc;
	hw_ext_input input;
	hw_ext_output output;
	unsigned timeout_ms;
	hw_security sec;
	bool pss;                     /* RSA: the command signs with PSS, not PKCS#1 v1.5 */
	unsigned max_parallel;
	EVP_PKEY *pub;                /* from pub_path, read at open */
	CK_KEY_TYPE key_type;
	size_t nlen;                  /* ECDSA: bytes of r and of s */
	/* how many of its commands run now (max_parallel) */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned running;
} hw_ext_key;

typedef struct hw_ext_ctx {
	const hw_slot_conf *conf;
	hw_ext_key *keys;
	size_t nkeys;
	char **env;                   /* NAME=VALUE every command gets, NULL-terminated */
	size_t nenv;
	char *tmp_dir;                /* where digest files are written */
	bool pin_env;                 /* "pin": "env": login required, PIN in pin_var */
	char *pin_var;
	pthread_mutex_t lock;         /* pin */
	hw_secret *pin;
} hw_ext_ctx;

/* ---- configuration (external_conf.c) ----------------------------------- */
extern const hw_conf_key hw_external_conf_keys[];
/* Parse the slot's keys and settings into c and read every public key.
 * CKR_ARGUMENTS_BAD with err naming the key (keys[1].command ...). */
CK_RV hw_ext_conf_parse(hw_ext_ctx *c, const hw_slot_conf *conf, char *err, size_t err_len);
void hw_ext_conf_free(hw_ext_ctx *c);
/* The mechanisms a key signs with (CKA_ALLOWED_MECHANISMS); n <= 8. */
size_t hw_ext_key_mechs(const hw_ext_key *k, CK_MECHANISM_TYPE *out);

/* ---- running a command (external_run.c) --------------------------------- */
typedef struct hw_ext_job {
	char *const *argv;
	char *const *envp;
	bool use_stdin;               /* else stdin is /dev/null */
	const unsigned char *in;
	size_t in_len;
	int timeout_ms;
	size_t out_max;               /* more on stdout is a failure */
} hw_ext_job;

typedef struct hw_ext_result {
	unsigned char *out;           /* stdout (malloc'd, NUL after it) */
	size_t out_len;
	char err_line[160];           /* the first line of stderr */
	int status;                   /* waitpid status; -1 when the host reaped it */
	bool timed_out;               /* killed, with its process group */
	bool too_much;                /* stdout past out_max: killed */
	int spawn_errno;              /* could not be started */
} hw_ext_result;

/* Run argv without a shell in a process group of its own, its output
 * captured, bounded by timeout_ms; reaps only its own child. CKR_OK when
 * the command ran (whatever its result), CKR_DEVICE_ERROR when it could
 * not be started, CKR_HOST_MEMORY. Free res with hw_ext_result_clear. */
CK_RV hw_ext_run(const hw_ext_job *job, hw_ext_result *res);
void hw_ext_result_clear(hw_ext_result *res);

/* ---- the signature (external_sig.c) ------------------------------------- */
/* Decode what the command printed per k->output, convert an ECDSA DER
 * signature to r||s, and verify it with the public key for req. The
 * signature lands in sig (cap bytes); CKR_OK only when it verifies, else
 * CKR_FUNCTION_FAILED with why (for the log). */
CK_RV hw_ext_sig_take(const hw_ext_key *k, const hw_sign_req *req, const unsigned char *out, size_t len,
		      unsigned char *sig, size_t *sig_len, const char **why);

#endif
