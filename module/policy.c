/*
 * The policy slot's members (policy.h): who they are, in which order, which
 * are eligible in the current environment, what the policy token shows of
 * them, and the policy token's login and logout over them. Every call on a
 * member goes through the engine's own path for that slot (hw_slot_token,
 * hw_slot_login, hw_slot_sync, hw_slot_mech), never through a member's ops.
 */
#include "module/policy.h"
#include "module/mechpolicy.h"
#include "module/audit.h"
#include "common/log.h"
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIN_FILE_MAX 256

typedef struct hw_policy {
	size_t index;                 /* the policy slot */
	const hw_slot_conf *conf;
	size_t nslots;
	bool *member;                 /* [slot index]: a configured member */
	char **pin_file;              /* [slot index]: "pin_files" entry, or NULL */
	size_t *order;                /* members in precedence order */
	size_t norder;
	/* [slot index], under the policy slot's io lock, read atomically:
	 * wanted = the policy login covers the member (it needs a login);
	 * ours = the policy login logged it in (its logout logs it out) */
	bool *wanted, *ours;
	int absent_said;              /* the last absence reason logged (atomic) */
} hw_policy;

struct hw_policy *hw_policy_of(hw_slot *s)
{
	if (s->ops != &hw_policy_ops)
		return NULL;
	hw_policy *p = s->ctx;
	p->index = s->index;
	return p;
}

/* ---- opening: members, their order, PIN files --------------------------- */

/* Default precedence by type: cloud KMS > HSM > TPM > keyring > soft >
 * anything else (external signers, types added later). */
static int type_rank(const char *type)
{
	static const struct { const char *type; int rank; } ranks[] = {
		{ "aws-kms", 0 }, { "azure-kv", 0 }, { "gcp-kms", 0 },
		{ "hsm", 1 }, { "tpm", 2 }, { "keyring", 3 }, { "soft", 4 },
	};
	for (size_t i = 0; i < HW_ARRAY_LEN(ranks); i++)
		if (strcmp(ranks[i].type, type) == 0)
			return ranks[i].rank;
	return 5;
}

static const hw_slot_conf *slot_named(const hw_config *all, const char *name)
{
	for (size_t i = 0; i < all->nslots; i++)
		if (strcmp(all->slots[i].name, name) == 0)
			return &all->slots[i];
	return NULL;
}

static bool in_order(const hw_policy *p, size_t m)
{
	for (size_t i = 0; i < p->norder; i++)
		if (p->order[i] == m)
			return true;
	return false;
}

/* "members": slot names, none a policy slot; default every other slot
 * that is not one. */
static CK_RV open_members(hw_policy *p, const hw_slot_conf *conf, const hw_config *all, char *err, size_t len)
{
	json_object *arr = NULL;
	if (!json_object_object_get_ex(conf->json, "members", &arr)) {
		for (size_t i = 0; i < all->nslots; i++)
			p->member[i] = strcmp(all->slots[i].type, "policy") != 0;
		return CKR_OK;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		const hw_slot_conf *m = json_object_is_type(v, json_type_string) ?
					slot_named(all, json_object_get_string(v)) : NULL;
		if (m == NULL || strcmp(m->type, "policy") == 0) {
			snprintf(err, len, "members[%zu]: %s; expected the name of a slot that is not a policy slot",
				 i, m == NULL ? "no slot of that name" : "a policy slot");
			return CKR_ARGUMENTS_BAD;
		}
		p->member[m->index] = true;
	}
	return CKR_OK;
}

/* "pin_files": { "slot name": "/absolute/path" } for members whose PIN is
 * not the one given to C_Login on the policy token. */
static CK_RV open_pin_files(hw_policy *p, const hw_slot_conf *conf, const hw_config *all, char *err, size_t len)
{
	json_object *obj = NULL;
	if (!json_object_object_get_ex(conf->json, "pin_files", &obj))
		return CKR_OK;
	json_object_object_foreach(obj, key, val) {
		const hw_slot_conf *m = slot_named(all, key);
		const char *path = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : "";
		if (m == NULL || !p->member[m->index] || path[0] != '/') {
			snprintf(err, len, "pin_files[\"%.32s\"]: %s; expected a member's name and an absolute path", key,
				 m == NULL || !p->member[m->index] ? "not a member of this policy slot" :
				 "not an absolute path");
			return CKR_ARGUMENTS_BAD;
		}
		if ((p->pin_file[m->index] = strdup(path)) == NULL)
			return CKR_HOST_MEMORY;
	}
	return CKR_OK;
}

/* The order: "precedence" first (each a member's name, or a type standing
 * for its members in config order), then the other members by type rank. */
static CK_RV open_order(hw_policy *p, const hw_config *all, char *err, size_t len)
{
	const hw_policy_conf *pc = all->policy != NULL ? all->policy : hw_policy_conf_defaults();
	for (size_t k = 0; k < pc->nprec; k++) {
		/* a member's name means that slot; otherwise a type means its members */
		const hw_slot_conf *named = slot_named(all, pc->precedence[k]);
		bool any = false;
		for (size_t i = 0; i < all->nslots; i++) {
			if (!p->member[i] || (named != NULL ? named != &all->slots[i] :
					      strcmp(all->slots[i].type, pc->precedence[k]) != 0))
				continue;
			any = true;
			if (!in_order(p, i))
				p->order[p->norder++] = i;
		}
		if (!any) {
			snprintf(err, len, "policy.precedence[%zu]: \"%s\" is neither the name nor the type of a member "
				 "of this policy slot; expected one of its members' names or types", k, pc->precedence[k]);
			return CKR_ARGUMENTS_BAD;
		}
	}
	for (int rank = 0; rank <= 5; rank++)
		for (size_t i = 0; i < all->nslots; i++)
			if (p->member[i] && type_rank(all->slots[i].type) == rank && !in_order(p, i))
				p->order[p->norder++] = i;
	if (p->norder == 0) {
		snprintf(err, len, "no member; expected at least one other slot");
		return CKR_ARGUMENTS_BAD;
	}
	return CKR_OK;
}

static void policy_close(void *ctx, bool forked)
{
	hw_policy *p = ctx;
	for (size_t i = 0; p->pin_file != NULL && i < p->nslots; i++)
		free(p->pin_file[i]);
	free(p->pin_file);
	free(p->member);
	free(p->order);
	free(p->wanted);
	free(p->ours);
}

static CK_RV policy_open(void *ctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t len)
{
	hw_policy *p = ctx;
	size_t n = all->nslots;
	CK_RV rv;
	p->conf = conf;
	p->nslots = n;
	p->member = calloc(n, sizeof(bool));
	p->pin_file = calloc(n, sizeof(char *));
	p->order = calloc(n, sizeof(size_t));
	p->wanted = calloc(n, sizeof(bool));
	p->ours = calloc(n, sizeof(bool));
	if (p->member == NULL || p->pin_file == NULL || p->order == NULL || p->wanted == NULL || p->ours == NULL)
		rv = CKR_HOST_MEMORY;
	else if ((rv = open_members(p, conf, all, err, len)) == CKR_OK)
		p->member[conf->index] = false;
	if (rv == CKR_OK && (rv = open_pin_files(p, conf, all, err, len)) == CKR_OK)
		rv = open_order(p, all, err, len);
	if (rv != CKR_OK)
		policy_close(p, false);
	return rv;
}

/* ---- membership and eligibility ----------------------------------------- */

static hw_policy *pol(const hw_slot *p)
{
	return p->policy;
}

bool hw_policy_is_member(const hw_slot *p, size_t m)
{
	return pol(p) != NULL && m < pol(p)->nslots && pol(p)->member[m];
}

const hw_policy_conf *hw_policy_conf_get(void)
{
	return hw_g.config != NULL && hw_g.config->policy != NULL ? hw_g.config->policy : hw_policy_conf_defaults();
}

bool hw_policy_eligible(const hw_slot *m, char *why, size_t why_len)
{
	hw_env env = hw_env_current(NULL, 0);
	hw_security need = hw_policy_conf_get()->min_sec[env];
	bool open = hw_slot_activate((hw_slot *)m);
	hw_security has = hw_slot_security(m);
	bool ok = open && hw_security_rank(has) >= hw_security_rank(need);
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, open ? "\"%s\" is %s" : "\"%s\" cannot be opened", m->conf->name,
			 hw_security_name(has));
	return ok;
}

size_t hw_policy_order(const hw_slot *p, size_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; pol(p) != NULL && i < pol(p)->norder && n < cap; i++)
		out[n++] = pol(p)->order[i];
	return n;
}

/* ---- the token ----------------------------------------------------------- */

/* Why the token is absent (reason 1: no member meets the level, 2: none
 * of those is present; 0: present), said once per change of reason. */
static void say_absent(hw_policy *p, int reason, const char *list)
{
	hw_env env = hw_env_current(NULL, 0);
	if (__atomic_exchange_n(&p->absent_said, reason, __ATOMIC_ACQ_REL) == reason)
		return;
	if (reason == 0)
		hw_info("slot \"%s\": the policy token is present", p->conf->name);
	else
		hw_error("slot \"%s\": %s the %s minimum security level (%s)%s: %s; the policy token is absent",
			 p->conf->name, reason == 1 ? "no member meets" : "no member that meets",
			 hw_env_name(env), hw_security_name(hw_policy_conf_get()->min_sec[env]),
			 reason == 1 ? "" : " is present", list);
}

static CK_RV policy_token_info(void *ctx, CK_TOKEN_INFO *info)
{
	hw_policy *p = ctx;
	char list[512] = "", why[96];
	size_t o = 0, eligible = 0, present = 0;
	CK_ULONG min_pin = 0, max_pin = 255;
	CK_FLAGS login = 0;
	for (size_t i = 0; i < p->norder; i++) {
		hw_slot *m = &hw_g.slots[p->order[i]];
		CK_TOKEN_INFO ti;
		bool ok = hw_policy_eligible(m, why, sizeof(why));
		if (ok && hw_slot_token(m, &ti)) {
			present++;
			login |= ti.flags & CKF_LOGIN_REQUIRED;
			min_pin = ti.ulMinPinLen > min_pin ? ti.ulMinPinLen : min_pin;
			max_pin = ti.ulMaxPinLen != 0 && ti.ulMaxPinLen < max_pin ? ti.ulMaxPinLen : max_pin;
		} else if (ok) {
			snprintf(why, sizeof(why), "\"%s\" is not present", m->conf->name);
		}
		eligible += ok;
		int w = o < sizeof(list) ? snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", why) : 0;
		o += w > 0 ? (size_t)w : 0;
	}
	if (eligible == 0) {
		say_absent(p, 1, list);
		return CKR_TOKEN_NOT_PRESENT;
	}
	if (present == 0) {
		say_absent(p, 2, list);
		return CKR_TOKEN_NOT_PRESENT;
	}
	say_absent(p, 0, NULL);
	info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_RNG | login;
	info->ulMinPinLen = min_pin;
	info->ulMaxPinLen = max_pin >= min_pin ? max_pin : min_pin;
	return CKR_OK;
}

bool hw_policy_mech(hw_slot *p, const hw_mech *m, CK_MECHANISM_INFO *info)
{
	bool any = false;
	for (size_t i = 0; i < pol(p)->norder; i++) {
		hw_slot *s = &hw_g.slots[pol(p)->order[i]];
		CK_MECHANISM_INFO mi;
		if (!hw_policy_eligible(s, NULL, 0) || !hw_slot_present(s) || !hw_slot_mech(s, m, &mi))
			continue;
		if (info != NULL && !any) {
			*info = mi;
		} else if (info != NULL) {
			/* the union: a key of any size some member makes */
			info->flags |= mi.flags;
			info->ulMinKeySize = mi.ulMinKeySize < info->ulMinKeySize ? mi.ulMinKeySize : info->ulMinKeySize;
			info->ulMaxKeySize = mi.ulMaxKeySize > info->ulMaxKeySize ? mi.ulMaxKeySize : info->ulMaxKeySize;
		}
		any = true;
	}
	return any;
}

static hw_security policy_security(void *ctx)
{
	/* what the policy guarantees for its keys now */
	return hw_policy_conf_get()->min_sec[hw_env_current(NULL, 0)];
}

static CK_RV policy_health(void *ctx, char *msg, size_t len)
{
	hw_policy *p = ctx;
	char why[256];
	hw_slot *to = NULL;
	CK_RV rv = hw_policy_would_place(&hw_g.slots[p->index], CKM_EC_KEY_PAIR_GEN, &to, why, sizeof(why));
	snprintf(msg, len, "%s", why);
	return rv;
}

/* ---- objects --------------------------------------------------------------- */

CK_RV hw_policy_find(hw_slot *p, const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE **found, size_t *nf)
{
	CK_RV rv = CKR_OK;
	for (size_t i = 0; i < pol(p)->norder && rv == CKR_OK; i++) {
		hw_slot *m = &hw_g.slots[pol(p)->order[i]];
		if (!hw_policy_eligible(m, NULL, 0) || !hw_slot_present(m))
			continue;
		/* the member's cache, refreshed by its own refresh_s */
		hw_slot_sync(m);
		rv = hw_slot_collect(m, t, n, found, nf);
	}
	return rv;
}

CK_RV hw_policy_key_slot(hw_slot *p, CK_OBJECT_HANDLE kh, hw_slot **out)
{
	char why[96];
	hw_obj *o = NULL;
	CK_RV rv = hw_obj_lookup(p, kh, CKR_KEY_HANDLE_INVALID, &o);
	if (rv != CKR_OK)
		return rv;
	hw_slot *m = hw_obj_worker(o);
	hw_obj_put(o);
	if (m != p && !hw_policy_eligible(m, why, sizeof(why))) {
		hw_warn("slot \"%s\": key %lu is on a member that does not meet the %s minimum security "
			"level (%s); refused", p->conf->name, (unsigned long)kh,
			hw_env_name(hw_env_current(NULL, 0)), why);
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	}
	*out = m;
	return CKR_OK;
}

CK_RV hw_policy_key_usable(const hw_slot *owner, const hw_attrs *key)
{
	char why[160];
	const CK_ATTRIBUTE *e = hw_attrs_get(key, CKA_HWAGG_ENVIRONMENT);
	static const char dev[] = "development";
	if (e == NULL || e->ulValueLen != sizeof(dev) - 1 || memcmp(e->pValue, dev, sizeof(dev) - 1) != 0)
		return CKR_OK;
	/* the reason is written out only for the refusal: every *Init asks */
	if (hw_env_current(NULL, 0) != HW_ENV_PRODUCTION)
		return CKR_OK;
	hw_env_current(why, sizeof(why));
	hw_warn("slot \"%s\": a key made in development (CKA_HWAGG_ENVIRONMENT) is refused in production "
		"(%s); generate a new key in production", owner->conf->name, why);
	hw_audit_event_in_lock(&(hw_audit_ev){ .kind = HW_AUDIT_POLICY, .slot = owner, .key = key,
				       .rv = CKR_KEY_FUNCTION_NOT_PERMITTED, .what = "refusal",
				       .detail = "a key made in development is refused in production" });
	return CKR_KEY_FUNCTION_NOT_PERMITTED;
}

void hw_policy_session_closed(hw_slot *p, CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < pol(p)->norder; i++) {
		hw_slot *m = &hw_g.slots[pol(p)->order[i]];
		hw_lock(&m->lock);
		hw_slot_drop_objects_inlock(m, true, h);
		hw_unlock(&m->lock);
	}
}

/* ---- login ------------------------------------------------------------------ */

/* The PIN in a member's "pin_files" entry: a regular file of the process's
 * user that nobody else can read or write. */
static CK_RV read_pin_file(const hw_policy *p, const hw_slot *m, unsigned char *pin, size_t cap, size_t *len)
{
	const char *path = p->pin_file[m->index];
	struct stat st;
	ssize_t r = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	const char *why = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		why = "readable or writable by another user (expected mode 0600 or 0400, owned by this user)";
	else if ((r = read(fd, pin, cap)) < 0)
		why = strerror(errno);
	if (fd >= 0)
		close(fd);
	if (why != NULL) {
		hw_error("slot \"%s\": PIN file of member \"%s\" (%s): %s", p->conf->name, m->conf->name, path, why);
		return CKR_PIN_INCORRECT;
	}
	*len = (size_t)r;
	while (*len > 0 && (pin[*len - 1] == '\n' || pin[*len - 1] == '\r'))
		(*len)--;
	return CKR_OK;
}

/* Undo the members this login call logged in (a later one refused). */
static void unwind(hw_policy *p, const bool *now)
{
	for (size_t i = 0; i < p->nslots; i++) {
		if (!now[i])
			continue;
		hw_slot_logout(&hw_g.slots[i]);
		__atomic_store_n(&p->ours[i], false, __ATOMIC_RELEASE);
	}
}

/* Each eligible, present member that needs a login gets one, with the
 * application's PIN or its PIN file, through the engine's login of that
 * member. One refusal undoes the others and is the answer. */
static CK_RV policy_login(void *ctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hw_policy *p = ctx;
	unsigned char fpin[PIN_FILE_MAX];
	bool *now = calloc(p->nslots, sizeof(bool));
	CK_RV rv = CKR_OK;
	if (who != CKU_USER) {
		free(now);
		return CKR_USER_TYPE_INVALID;      /* the policy token has no security officer */
	}
	if (now == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < p->norder && rv == CKR_OK; i++) {
		hw_slot *m = &hw_g.slots[p->order[i]];
		CK_TOKEN_INFO ti;
		size_t flen = 0;
		if (!hw_policy_eligible(m, NULL, 0))
			continue;
		if (!hw_slot_token(m, &ti)) {
			hw_info("slot \"%s\": member \"%s\" is not present: not logged in", p->conf->name, m->conf->name);
			continue;
		}
		if (!(ti.flags & CKF_LOGIN_REQUIRED))
			continue;
		__atomic_store_n(&p->wanted[m->index], true, __ATOMIC_RELEASE);
		if (__atomic_load_n(&m->auth, __ATOMIC_ACQUIRE) == HW_AUTH_USER)
			continue;              /* logged in on its own token: it stays the application's */
		if (p->pin_file[m->index] != NULL) {
			rv = read_pin_file(p, m, fpin, sizeof(fpin), &flen);
			if (rv == CKR_OK)
				rv = hw_slot_login(m, CKU_USER, fpin, flen);
			hw_wipe(fpin, sizeof(fpin));
		} else {
			rv = hw_slot_login(m, CKU_USER, pin, len);
		}
		if (rv == CKR_USER_ALREADY_LOGGED_IN)
			rv = CKR_OK;
		else if (rv == CKR_OK)
			now[m->index] = true;
		if (rv == CKR_OK)
			__atomic_store_n(&p->ours[m->index], __atomic_load_n(&p->ours[m->index], __ATOMIC_ACQUIRE) ||
					 now[m->index], __ATOMIC_RELEASE);
		else
			hw_warn("slot \"%s\": login to member \"%s\": %s", p->conf->name, m->conf->name, hw_rv_name(rv));
	}
	if (rv != CKR_OK)
		unwind(p, now);
	free(now);
	return rv;
}

static void policy_logout(void *ctx)
{
	hw_policy *p = ctx;
	for (size_t i = 0; i < p->nslots; i++) {
		__atomic_store_n(&p->wanted[i], false, __ATOMIC_RELEASE);
		if (__atomic_exchange_n(&p->ours[i], false, __ATOMIC_ACQ_REL))
			hw_slot_logout(&hw_g.slots[i]);
	}
}

bool hw_policy_members_out(hw_slot *p)
{
	for (size_t i = 0; i < pol(p)->nslots; i++)
		if (__atomic_load_n(&pol(p)->wanted[i], __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&hw_g.slots[i].auth, __ATOMIC_ACQUIRE) != HW_AUTH_USER)
			return true;
	return false;
}

bool hw_policy_member_in_use(const hw_slot *m)
{
	for (size_t i = 0; i < hw_g.nslots; i++) {
		hw_slot *p = &hw_g.slots[i];
		unsigned n = 0;
		if (p->policy == NULL || !hw_policy_is_member(p, m->index) ||
		    !__atomic_load_n(&pol(p)->ours[m->index], __ATOMIC_ACQUIRE))
			continue;
		hw_session_counts(p, &n, NULL, NULL, NULL);
		if (n > 0)
			return true;
	}
	return false;
}

/* ---- the registry row ------------------------------------------------------- */

const hw_conf_key hw_policy_conf_keys[] = {
	{ "members", json_type_array, false },
	{ "pin_files", json_type_object, false },
	{ NULL, json_type_null, false },
};

/* Only what the engine asks of any slot; object, key and crypto hooks are
 * NULL because the engine sends that work to the members (policy.h). */
const hw_backend_ops hw_policy_ops = {
	.type = "policy",
	.ctx_size = sizeof(hw_policy),
	.open = policy_open,
	.close = policy_close,
	.token_info = policy_token_info,
	.login = policy_login,
	.logout = policy_logout,
	.health = policy_health,
	.security = policy_security,
};
