/*
 * Placement (policy.h): where C_GenerateKeyPair on the policy token puts a
 * key. Members are tried in precedence order:
 *
 *   - not eligible (security below the environment's minimum, the mechanism
 *     taken away by its config, or not offered by its token with these
 *     parameters): skipped, that is not a failure;
 *   - unavailable (token not present, or its generation fails with a device
 *     or connectivity error), also after the retries of "retry" (full
 *     jitter, within max_ms and the member's timeout_ms): fallback off (the
 *     production default) = fail closed with that CK_RV, the key is placed
 *     nowhere else; fallback on = the next eligible member, with a warning
 *     naming both;
 *   - any other answer (a template error, not logged in) is the answer.
 *
 * Generation on the chosen member is the engine's own, exactly as on that
 * member's token (hw_keypair_generate), so the key is the member's.
 */
#include "module/policy.h"
#include "common/deadline.h"
#include "module/mechpolicy.h"
#include "module/audit.h"
#include "common/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DECISION_LEN 512

static pthread_mutex_t decision_lock = PTHREAD_MUTEX_INITIALIZER;
static char decision[DECISION_LEN];

static void decide(const char *text)
{
	hw_lock(&decision_lock);
	snprintf(decision, sizeof(decision), "%s", text);
	hw_unlock(&decision_lock);
}

void hw_policy_last_decision(char *out, size_t len)
{
	if (out == NULL || len == 0)
		return;
	hw_lock(&decision_lock);
	snprintf(out, len, "%s", decision);
	hw_unlock(&decision_lock);
}

/* The member could not make this key at all: try the next. */
static bool not_eligible(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
	       rv == CKR_KEY_SIZE_RANGE || rv == CKR_CURVE_NOT_SUPPORTED;
}

/* The member is down: the fallback rule decides. */
static bool unavailable(CK_RV rv)
{
	return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_MEMORY ||
	       rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_FUNCTION_FAILED ||
	       rv == CKR_SESSION_CLOSED || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_FUNCTION_CANCELED;
}

/* Before try attempt + 1 of an unavailable member: full jitter (a random
 * wait up to base * 2^attempt), so that many processes finding a backend
 * down do not come back in step. False when the retry window (max_ms, and
 * the member's own deadline) would be over. */
static bool backoff(int attempt, int64_t end_ms)
{
	const hw_policy_conf *pc = hw_policy_conf_get();
	uint32_t r = 0;
	int64_t cap = (int64_t)pc->retry_base_ms << (attempt < 16 ? attempt : 16);
	if (hw_random((unsigned char *)&r, sizeof(r)) != CKR_OK)
		r = 0;
	int64_t wait = cap > 0 ? (int64_t)(r % (uint64_t)(cap + 1)) : 0, now = hw_mono_ms();
	if (now + wait >= end_ms || wait >= hw_deadline_left_ms(INT32_MAX))
		return false;
	struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	return true;
}

/* One member as a candidate: eligible in this environment and allowed the
 * mechanism by its config (no I/O but opening a backend module). */
static bool candidate(hw_slot *m, CK_MECHANISM_TYPE mech)
{
	return hw_policy_eligible(m, NULL, 0) && hw_mech_permitted(m->conf, mech);
}

typedef struct place_ctx {
	hw_slot *p;
	hw_env env;
	const char *why_env;
	bool fallback;
	hw_slot *down;                /* first unavailable member, when fallback moved on */
	CK_RV down_rv;
	char *text;                   /* the decision, DECISION_LEN bytes */
} place_ctx;

static void placed(place_ctx *c, hw_slot *m, const char *mech)
{
	if (c->down != NULL) {
		snprintf(c->text, DECISION_LEN, "placed on \"%s\" (%s) instead of \"%s\", which is unavailable (%s): "
			 "fallback is on in %s", m->conf->name, m->conf->type, c->down->conf->name,
			 hw_rv_name(c->down_rv), hw_env_name(c->env));
		hw_warn("slot \"%s\": %s key pair %s", c->p->conf->name, mech, c->text);
	} else {
		snprintf(c->text, DECISION_LEN, "placed on \"%s\" (%s, %s): the first eligible member in precedence "
			 "for %s (minimum security %s; environment %s)", m->conf->name, m->conf->type,
			 hw_security_name(hw_slot_security(m)), mech,
			 hw_security_name(hw_policy_conf_get()->min_sec[c->env]), c->why_env);
		hw_info("slot \"%s\": %s key pair %s", c->p->conf->name, mech, c->text);
	}
}

CK_RV hw_policy_generate_key_pair(hw_session *se, hw_slot *p, const CK_MECHANISM *mech,
				  const CK_ATTRIBUTE *pt, CK_ULONG pn, const CK_ATTRIBUTE *vt, CK_ULONG vn,
				  CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	char why_env[160], text[DECISION_LEN];
	size_t order[64], n = hw_policy_order(p, order, HW_ARRAY_LEN(order));
	const hw_mech *hm = hw_mech_find(mech->mechanism);
	const char *mname = hm != NULL ? hm->name : "unknown mechanism";
	place_ctx c = { .p = p, .why_env = why_env, .text = text };
	CK_RV rv = CKR_MECHANISM_INVALID, first_skip = CKR_OK;

	c.env = hw_env_current(why_env, sizeof(why_env));
	c.fallback = hw_policy_conf_get()->fallback[c.env];
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		hw_slot *m = &hw_g.slots[order[i]];
		if (!candidate(m, mech->mechanism))
			continue;
		/* a failed generation made nothing (B 5.14): trying again is safe */
		int64_t end = hw_mono_ms() + hw_policy_conf_get()->retry_max_ms;
		int tries = 0;
		hw_deadline_start(m);
		do {
			tries++;
			rv = hw_slot_present(m) ? hw_keypair_generate(se, m, mech, pt, pn, vt, vn, pub_h, priv_h)
						: CKR_TOKEN_NOT_PRESENT;
		} while (unavailable(rv) && backoff(tries - 1, end));
		if (rv == CKR_OK) {
			placed(&c, m, mname);
			goto out;
		}
		if (not_eligible(rv)) {
			first_skip = first_skip == CKR_OK ? rv : first_skip;
			continue;
		}
		if (!unavailable(rv)) {
			snprintf(text, sizeof(text), "not placed: \"%s\" refused the key: %s", m->conf->name, hw_rv_name(rv));
			goto out;
		}
		if (!c.fallback) {
			snprintf(text, sizeof(text), "not placed: \"%s\" is unavailable (%s after %d tr%s) and fallback "
				 "is off in %s: fail closed, no other member is tried", m->conf->name, hw_rv_name(rv), tries,
				 tries == 1 ? "y" : "ies", hw_env_name(c.env));
			hw_error("slot \"%s\": %s key pair %s", p->conf->name, mname, text);
			goto out;
		}
		hw_warn("slot \"%s\": member \"%s\" is unavailable (%s after %d tr%s): fallback is on in %s, trying "
			"the next eligible member", p->conf->name, m->conf->name, hw_rv_name(rv), tries,
			tries == 1 ? "y" : "ies", hw_env_name(c.env));
		if (c.down == NULL) {
			c.down = m;
			c.down_rv = rv;
		}
	}
	/* nobody made it: every eligible member down, or none could */
	rv = c.down != NULL ? c.down_rv : first_skip != CKR_OK ? first_skip : CKR_MECHANISM_INVALID;
	snprintf(text, sizeof(text), "not placed: %s", c.down != NULL ? "every eligible member is unavailable" :
		 "no member eligible in this environment offers the mechanism with these parameters");
	hw_warn("slot \"%s\": %s key pair %s (environment %s)", p->conf->name, mname, text, why_env);
out:
	decide(text);
	/* every decision is audited: where the key went and why, or why not */
	hw_audit_event(&(hw_audit_ev){ .kind = HW_AUDIT_POLICY, .slot = p, .mech = mname, .rv = rv,
				       .what = rv != CKR_OK ? "refusal" : c.down != NULL ? "fallback" : "placement",
				       .detail = text });
	return rv;
}

hw_slot *hw_policy_create_slot(hw_slot *p)
{
	size_t order[64], n = hw_policy_order(p, order, HW_ARRAY_LEN(order));
	for (size_t i = 0; i < n; i++) {
		hw_slot *m = &hw_g.slots[order[i]];
		if (hw_policy_eligible(m, NULL, 0) && hw_slot_present(m)) {
			hw_deadline_start(m);
			return m;
		}
	}
	return NULL;
}

CK_RV hw_policy_would_place(hw_slot *p, CK_MECHANISM_TYPE mech, hw_slot **out, char *why, size_t why_len)
{
	char env[160], mwhy[96];
	size_t order[64], n = hw_policy_order(p, order, HW_ARRAY_LEN(order));
	const hw_mech *hm = hw_mech_find(mech);
	hw_env e = hw_env_current(env, sizeof(env));
	bool fallback = hw_policy_conf_get()->fallback[e];
	hw_slot *down = NULL;
	*out = NULL;
	for (size_t i = 0; i < n && hm != NULL; i++) {
		hw_slot *m = &hw_g.slots[order[i]];
		if (!candidate(m, mech))
			continue;
		if (!hw_slot_present(m)) {
			if (!fallback) {
				snprintf(why, why_len, "new keys fail: \"%s\" (first eligible) is not present and fallback "
					 "is off in %s", m->conf->name, hw_env_name(e));
				return CKR_TOKEN_NOT_PRESENT;
			}
			down = down != NULL ? down : m;
			continue;
		}
		if (!hw_slot_mech(m, hm, NULL))
			continue;
		*out = m;
		snprintf(why, why_len, "new %s keys go to \"%s\" (%s, %s)%s%s%s; environment %s", hm->name,
			 m->conf->name, m->conf->type, hw_security_name(hw_slot_security(m)),
			 down != NULL ? " by fallback: \"" : "", down != NULL ? down->conf->name : "",
			 down != NULL ? "\" is not present" : "", env);
		return CKR_OK;
	}
	for (size_t i = 0; i < n; i++) {
		hw_slot *m = &hw_g.slots[order[i]];
		if (!hw_policy_eligible(m, mwhy, sizeof(mwhy)))
			continue;
		snprintf(why, why_len, "new keys fail: no eligible member is present and offers the mechanism "
			 "(minimum security %s; environment %s)", hw_security_name(hw_policy_conf_get()->min_sec[e]), env);
		return CKR_TOKEN_NOT_PRESENT;
	}
	snprintf(why, why_len, "new keys fail: no member meets the minimum security %s (environment %s)",
		 hw_security_name(hw_policy_conf_get()->min_sec[e]), env);
	return CKR_TOKEN_NOT_PRESENT;
}
