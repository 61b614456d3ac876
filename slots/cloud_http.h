/*
 * The HTTP plumbing every cloud KMS slot shares (aws-kms now; azure-kv and
 * gcp-kms later): a per-slot pool of libcurl handles, each keeping its own
 * keep-alive connection and TLS session, so that a signature costs one
 * request and no handshake; one attempt at a time (cloud_http.c) and the
 * retry loop with backoff, jitter and the call's deadline (cloud_retry.c);
 * and the mapping of failures to CK_RV with a cause class an operator can
 * act on (cloud_err.c).
 *
 * No lock is held while a request is on the wire: a thread takes a handle
 * out of the pool under the pool's lock, performs without it, and puts it
 * back. A forked child never touches the parent's handles: they are
 * abandoned (not cleaned up, which could write a TLS close_notify on the
 * parent's connection) and the child opens its own.
 */
#ifndef HW_CLOUD_HTTP_H
#define HW_CLOUD_HTTP_H

#include "common/ck.h"
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Why a call failed, for the one log line an operator reads. */
typedef enum {
	HW_CLOUD_OK = 0,
	HW_CLOUD_CONFIG,        /* our configuration: bad URL, unreadable CA file */
	HW_CLOUD_CONNECTIVITY,  /* could not reach the service, or it stopped answering */
	HW_CLOUD_CREDENTIALS,   /* no identity, or the service refused it */
	HW_CLOUD_PROVIDER,      /* the service answered with an error of its own */
} hw_cloud_cause;

const char *hw_cloud_cause_name(hw_cloud_cause c);

typedef struct hw_cloud_err {
	CK_RV rv;
	hw_cloud_cause cause;
	char code[64];          /* provider's error code or curl's, "" if none */
	char request_id[96];    /* provider's request id, "" if none */
	char detail[192];       /* short, printable, never secret */
} hw_cloud_err;

void hw_cloud_err_set(hw_cloud_err *e, CK_RV rv, hw_cloud_cause cause, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* One line naming the slot, the operation, the cause class, the code, the
 * request id and the CK_RV. */
void hw_cloud_err_log(const char *slot, const char *backend, const char *op, const hw_cloud_err *e);

typedef struct hw_http_resp {
	long status;            /* 0 when no response came */
	char *body;             /* NUL-terminated */
	size_t len, cap;
	char request_id[96];
	char error_type[64];    /* X-Amzn-ErrorType (AWS) */
	int retry_after_s;      /* Retry-After in seconds, -1 if absent */
	char www_auth[512];     /* WWW-Authenticate (Azure's challenge), "" if none */
} hw_http_resp;

void hw_http_resp_reset(hw_http_resp *r);
void hw_http_resp_free(hw_http_resp *r);
/* Appends "&key=value" (no "&" first) to an application/x-www-form-urlencoded
 * body, value percent-encoded; b->failed on allocation failure. The encoded
 * copy is wiped: values are often secrets. */
struct hw_sb;
void hw_cloud_form_add(struct hw_sb *b, const char *key, const char *value);

typedef struct hw_http_hdr {
	const char *name, *value;
} hw_http_hdr;

#define HW_HTTP_MAX_HDRS 12
typedef struct hw_http_req {
	const char *method;     /* "POST", "GET", "PUT" */
	const char *url;
	hw_http_hdr hdrs[HW_HTTP_MAX_HDRS];
	size_t nhdrs;
	const char *body;
	size_t body_len;
	int timeout_ms;         /* whole attempt */
	int connect_ms;
	/* a new connection: libcurl resends a request on its own when a kept
	 * connection turns out dead before any answer, which must not happen
	 * to a request that is not idempotent */
	bool fresh;
} hw_http_req;

typedef struct hw_http_pool {
	const char *slot;       /* for logs (the slot's name, borrowed) */
	char *ca_file;          /* trusted in addition to the system's CAs; NULL: none */
	pthread_mutex_t lock;
	void **idle;            /* CURL * handles not in use */
	size_t nidle, cap, total;
	pid_t pid;              /* process that made the handles */
	unsigned long connects; /* new connections opened, under lock (bench, tests) */
	unsigned long requests;
} hw_http_pool;

/* Once per process, before the first pool (libcurl's global state). */
CK_RV hw_http_global_init(void);
CK_RV hw_http_pool_init(hw_http_pool *p, const char *slot, const char *ca_file);
/* forked: abandon the handles (a child must not close the parent's TLS). */
void hw_http_pool_fini(hw_http_pool *p, bool forked);

/* One attempt. CKR_OK when a response came (any status: the caller
 * classifies it); otherwise e says why (connectivity or config) and
 * *sent says whether the request may have reached the server. */
CK_RV hw_http_do(hw_http_pool *p, const hw_http_req *r, hw_http_resp *resp, hw_cloud_err *e, bool *sent);

/* ---- the retry loop (cloud_retry.c) --------------------------------------- */
typedef enum {
	HW_RETRY_DONE = 0,      /* success, or an error no retry can fix */
	HW_RETRY_THROTTLED,     /* the service refused before acting: always safe to retry */
	HW_RETRY_TRANSIENT,     /* server fault: retry only what is idempotent */
} hw_retry_class;

typedef struct hw_cloud_call {
	hw_http_pool *pool;
	const char *op;         /* "Sign", for logs */
	bool idempotent;        /* safe to resend after the server may have acted */
	/* Build one attempt into r (fresh date and signature each time). */
	CK_RV (*prepare)(void *arg, hw_http_req *r, hw_cloud_err *e);
	/* Judge a response; fill e when it is an error. */
	hw_retry_class (*classify)(void *arg, const hw_http_resp *resp, hw_cloud_err *e);
	void *arg;
	int max_attempts;       /* 0: 8 (the deadline bounds them too) */
	int base_ms, cap_ms;    /* backoff; 0: 50 and 2000 */
	int deadline_ms;        /* used when the engine set no deadline; 0: 30000 */
	int attempt_ms;         /* at most this per attempt (metadata services); 0: no cap */
} hw_cloud_call;

/* A request the same at every attempt (identity and metadata endpoints):
 * its arg for hw_cloud_call, with hw_cloud_fixed_prepare as prepare. */
typedef struct hw_cloud_fixed {
	const char *method, *url, *body;  /* body NULL: none */
	hw_http_hdr hdrs[3];
	size_t nhdrs;
} hw_cloud_fixed;
CK_RV hw_cloud_fixed_prepare(void *arg, hw_http_req *r, hw_cloud_err *e);

/* Attempts until success, a final error, max_attempts or the deadline.
 * CKR_OK with resp holding a successful answer; else e filled. */
CK_RV hw_cloud_perform(const hw_cloud_call *c, hw_http_resp *resp, hw_cloud_err *e);
/* Full jitter: a random wait in [0, min(cap, base * 2^attempt)]. */
int hw_cloud_backoff_ms(int attempt, int base_ms, int cap_ms);

#endif
