/*
 * The retry loop of every cloud call, and the error line an operator reads.
 *
 * Backoff is exponential with full jitter (a random wait between 0 and the
 * capped exponential), so that many clients throttled at once do not come
 * back in step; a Retry-After from the service is honoured as a minimum.
 * Every wait and every attempt fits in what is left of the PKCS#11 call's
 * deadline. A request the server may have acted on (a 5xx answer, a
 * connection lost after sending) is repeated only for idempotent
 * operations; a throttled request and one that never left are always safe.
 */
#include "slots/cloud_http.h"
#include "common/log.h"
#include "common/deadline.h"
#include "mechanisms/crypto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *hw_cloud_cause_name(hw_cloud_cause c)
{
	switch (c) {
	case HW_CLOUD_CONFIG: return "configuration";
	case HW_CLOUD_CONNECTIVITY: return "connectivity";
	case HW_CLOUD_CREDENTIALS: return "credentials";
	case HW_CLOUD_PROVIDER: return "provider";
	default: return "none";
	}
}

/* Keep only printable ASCII: details come from the network. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

void hw_cloud_err_set(hw_cloud_err *e, CK_RV rv, hw_cloud_cause cause, const char *code, const char *fmt, ...)
{
	va_list ap;
	e->rv = rv;
	e->cause = cause;
	snprintf(e->code, sizeof(e->code), "%s", code != NULL ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	printable(e->code);
	printable(e->detail);
}

void hw_cloud_err_log(const char *slot, const char *backend, const char *op, const hw_cloud_err *e)
{
	/* a MAC that does not verify is an answer, not a fault */
	hw_log(e->rv == CKR_SIGNATURE_INVALID ? HW_LOG_INFO : HW_LOG_WARN,
	       "slot \"%s\" (%s): %s failed: %s error%s%s: %s (request id %s): %s", slot, backend, op,
		hw_cloud_cause_name(e->cause), e->code[0] ? " " : "", e->code, e->detail,
		e->request_id[0] ? e->request_id : "none", hw_rv_name(e->rv));
}

int hw_cloud_backoff_ms(int attempt, int base_ms, int cap_ms)
{
	long ceiling = base_ms;
	uint32_t r = 0;
	for (int i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (ceiling <= 0)
		return 0;
	if (hw_random(&r, sizeof(r)) != CKR_OK)
		r = (uint32_t)time(NULL);
	return (int)(r % (uint32_t)(ceiling + 1));
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

CK_RV hw_cloud_perform(const hw_cloud_call *c, hw_http_resp *resp, hw_cloud_err *e)
{
	int max = c->max_attempts > 0 ? c->max_attempts : 8;
	int base = c->base_ms > 0 ? c->base_ms : 50, cap = c->cap_ms > 0 ? c->cap_ms : 2000;
	int dflt = c->deadline_ms > 0 ? c->deadline_ms : 30000;
	CK_RV rv = CKR_DEVICE_ERROR;
	memset(e, 0, sizeof(*e));
	for (int attempt = 0; attempt < max; attempt++) {
		hw_http_req r;
		bool sent = false, again;
		int left = hw_deadline_left_ms(dflt);
		if (left <= 0) {
			if (attempt == 0)
				hw_cloud_err_set(e, CKR_DEVICE_ERROR, HW_CLOUD_CONNECTIVITY, "", "no time left in the call's deadline");
			break;
		}
		memset(&r, 0, sizeof(r));
		if ((rv = c->prepare(c->arg, &r, e)) != CKR_OK)
			return rv;
		r.timeout_ms = c->attempt_ms > 0 && c->attempt_ms < left ? c->attempt_ms : left;
		r.connect_ms = r.timeout_ms < 5000 ? r.timeout_ms : 5000;
		r.fresh = !c->idempotent;
		hw_retry_class cls = HW_RETRY_DONE;
		int wait_min = 0;
		rv = hw_http_do(c->pool, &r, resp, e, &sent);
		if (rv == CKR_OK) {
			cls = c->classify(c->arg, resp, e);
			snprintf(e->request_id, sizeof(e->request_id), "%s", resp->request_id);
			if (cls == HW_RETRY_DONE)
				return e->rv;
			rv = e->rv;
			if (resp->retry_after_s >= 0)
				wait_min = resp->retry_after_s * 1000;
			again = cls == HW_RETRY_THROTTLED || c->idempotent;
		} else {
			again = rv != CKR_HOST_MEMORY && e->cause != HW_CLOUD_CONFIG && (!sent || c->idempotent);
		}
		if (!again || attempt + 1 == max)
			break;
		int wait = hw_cloud_backoff_ms(attempt, base, cap);
		if (wait < wait_min)
			wait = wait_min;
		if (wait >= hw_deadline_left_ms(dflt))
			break;          /* the caller gets the last answer now, not after the deadline */
		hw_debug("slot \"%s\": %s: %s error %s, retrying in %d ms", c->pool->slot, c->op,
			 hw_cloud_cause_name(e->cause), e->code, wait);
		sleep_ms(wait);
	}
	return rv;
}

CK_RV hw_cloud_fixed_prepare(void *arg, hw_http_req *r, hw_cloud_err *e)
{
	const hw_cloud_fixed *f = arg;
	r->method = f->method;
	r->url = f->url;
	r->body = f->body;
	r->body_len = f->body != NULL ? strlen(f->body) : 0;
	memcpy(r->hdrs, f->hdrs, sizeof(f->hdrs));
	r->nhdrs = f->nhdrs;
	return CKR_OK;
}
