/*
 * The "external" slot: each configured key is a signing command (a vendor
 * HSM's CLI, a script around a cloud KMS, another `hwagg sign`). The key
 * pair shows as a private key that only signs and its public key, read
 * from the configured PEM file. A signature is: the digest (or, for
 * Ed25519, the message) handed to the command as configured, its output
 * decoded and verified with the public key; anything else fails the call
 * and is logged with the command's exit status and first stderr line.
 *
 * No login unless "pin": "env": then C_Login keeps the PIN (locked memory)
 * and each command gets it in an environment variable, never on argv.
 */
#include "slots/external.h"
#include "common/log.h"
#include "objects/rules.h"
#include "mechanisms/mech.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXT_OUT_MAX  16384      /* bytes of stdout: a signature, with room for a mistake */
#define EXT_ENV_SIGN 6          /* variables added per call */

/* Object ids: a key's private key and public key. */
#define OID_PRIV(i) ((int64_t)(i) * 2 + 1)
#define OID_PUB(i)  ((int64_t)(i) * 2 + 2)

static CK_RV ext_open(void *vctx, const hw_slot_conf *conf, const hw_config *all, char *err, size_t err_len)
{
	hw_ext_ctx *c = vctx;
	CK_RV rv = hw_ext_conf_parse(c, conf, err, err_len);
	if (rv != CKR_OK)
		hw_ext_conf_free(c);
	return rv;
}

static void ext_close(void *vctx, bool forked)
{
	hw_ext_conf_free(vctx);
}

static CK_RV ext_token_info(void *vctx, CK_TOKEN_INFO *info)
{
	hw_ext_ctx *c = vctx;
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	/* not CKF_WRITE_PROTECTED, which forbids read-write sessions (B 5.6.1)
	 * that tools open by habit: creating objects answers
	 * CKR_FUNCTION_NOT_SUPPORTED instead */
	info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | (c->pin_env ? CKF_LOGIN_REQUIRED : 0);
	info->ulMinPinLen = c->pin_env ? 1 : 0;
	info->ulMaxPinLen = c->pin_env ? 255 : 0;
	memset(info->model, ' ', sizeof(info->model));
	memcpy(info->model, "external", 8);
	/* a stable serial from the slot's name */
	if (hw_digest_once(CKM_SHA256, c->conf->name, strlen(c->conf->name), md, &mdlen) == CKR_OK)
		for (int i = 0; i < 8; i++) {
			char hex[3];
			snprintf(hex, sizeof(hex), "%02x", md[i]);
			memcpy(info->serialNumber + 2 * i, hex, 2);
		}
	return CKR_OK;
}

static bool ext_has_mechanism(void *vctx, CK_MECHANISM_TYPE base, CK_MECHANISM_INFO *info)
{
	hw_ext_ctx *c = vctx;
	CK_MECHANISM_TYPE m[8];
	for (size_t i = 0; i < c->nkeys; i++) {
		size_t n = hw_ext_key_mechs(&c->keys[i], m);
		for (size_t j = 0; j < n; j++)
			if (m[j] == base) {
				if (info != NULL)
					info->flags = CKF_SIGN | CKF_VERIFY;
				return true;
			}
	}
	return false;
}

/* Without "pin": "env" there is nothing to check: a login (which many
 * consumers always do) succeeds and changes nothing. With it, the PIN is
 * kept for the commands, which check it. */
static CK_RV ext_login(void *vctx, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	hw_ext_ctx *c = vctx;
	if (who == CKU_SO)
		return CKR_PIN_INCORRECT;   /* the slot has no SO: it cannot be changed */
	if (!c->pin_env)
		return CKR_OK;
	if (len == 0 || len > 255)
		return CKR_PIN_LEN_RANGE;
	if (memchr(pin, '\0', len) != NULL)
		return CKR_PIN_INVALID;     /* an environment value ends at NUL */
	hw_secret *s = hw_secret_dup(pin, len);
	if (s == NULL)
		return CKR_HOST_MEMORY;
	pthread_mutex_lock(&c->lock);
	hw_secret_free(c->pin);
	c->pin = s;
	pthread_mutex_unlock(&c->lock);
	return CKR_OK;
}

static void ext_logout(void *vctx)
{
	hw_ext_ctx *c = vctx;
	pthread_mutex_lock(&c->lock);
	hw_secret_free(c->pin);
	c->pin = NULL;
	pthread_mutex_unlock(&c->lock);
}

static CK_RV sink_set(void *arg, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
	return hw_attrs_set(arg, type, value, len);
}

/* A stable CKA_UNIQUE_ID: slot, key label and class. */
static CK_RV unique_id(hw_attrs *a, const char *slot, const char *label, bool priv)
{
	char in[512], uid[33];
	unsigned char md[64];
	size_t mdlen = sizeof(md);
	snprintf(in, sizeof(in), "hwagg-external\n%s\n%s\n%s", slot, label, priv ? "private" : "public");
	CK_RV rv = hw_digest_once(CKM_SHA256, in, strlen(in), md, &mdlen);
	for (size_t i = 0; rv == CKR_OK && i < 16; i++)
		snprintf(uid + 2 * i, 3, "%02x", md[i]);
	return rv == CKR_OK ? hw_attrs_set_str(a, CKA_UNIQUE_ID, uid) : rv;
}

static CK_RV common_attrs(hw_attrs *a, const hw_ext_ctx *c, const hw_ext_key *k, CK_OBJECT_CLASS cls)
{
	CK_RV rv;
	bool priv = cls == CKO_PRIVATE_KEY;
	if ((rv = hw_attrs_set_ulong(a, CKA_CLASS, cls)) != CKR_OK ||
	    (rv = hw_attrs_set_ulong(a, CKA_KEY_TYPE, k->key_type)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_TOKEN, true)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_PRIVATE, false)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_MODIFIABLE, false)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_COPYABLE, false)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_DESTROYABLE, false)) != CKR_OK ||
	    (rv = hw_attrs_set(a, CKA_LABEL, k->label, (CK_ULONG)strlen(k->label))) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_DERIVE, false)) != CKR_OK ||
	    (rv = unique_id(a, c->conf->name, k->label, priv)) != CKR_OK ||
	    (rv = hw_vendor_attrs(a, "external", k->sec, 1, k->argv[0])) != CKR_OK ||
	    (rv = hw_attrs_set_str(a, CKA_HWAGG_SLOT, c->conf->name)) != CKR_OK)
		return rv;
	if (k->id_len > 0 && (rv = hw_attrs_set(a, CKA_ID, k->id, (CK_ULONG)k->id_len)) != CKR_OK)
		return rv;
	if (priv) {
		CK_MECHANISM_TYPE m[8];
		size_t n = hw_ext_key_mechs(k, m);
		/* sign only; the key never leaves the signer (CKA_LOCAL false:
		 * hwagg did not make it) */
		if ((rv = hw_attrs_set_bool(a, CKA_SIGN, true)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(a, CKA_DECRYPT, false)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(a, CKA_UNWRAP, false)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(a, CKA_SIGN_RECOVER, false)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(a, CKA_SENSITIVE, true)) != CKR_OK ||
		    (rv = hw_attrs_set_bool(a, CKA_EXTRACTABLE, false)) != CKR_OK ||
		    (rv = hw_attrs_set(a, CKA_ALLOWED_MECHANISMS, m, (CK_ULONG)(n * sizeof(m[0])))) != CKR_OK)
			return rv;
	} else if ((rv = hw_attrs_set_bool(a, CKA_VERIFY, true)) != CKR_OK ||
		   (rv = hw_attrs_set_bool(a, CKA_ENCRYPT, false)) != CKR_OK ||
		   (rv = hw_attrs_set_bool(a, CKA_WRAP, false)) != CKR_OK ||
		   (rv = hw_key_public_attrs(k->pub, sink_set, a)) != CKR_OK) {
		return rv;
	}
	if ((rv = hw_rules_defaults(a, cls, false, 0)) != CKR_OK || !priv)
		return rv;
	/* after the defaults, which make every private key private and only a
	 * key made on the token always sensitive: this one needs no login
	 * unless the slot passes a PIN, and was never extractable from here */
	if ((rv = hw_attrs_set_bool(a, CKA_PRIVATE, c->pin_env)) != CKR_OK ||
	    (rv = hw_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, true)) != CKR_OK)
		return rv;
	return hw_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, true);
}

static CK_RV ext_load(void *vctx, hw_obj_sink sink, void *arg)
{
	hw_ext_ctx *c = vctx;
	CK_RV rv = CKR_OK;
	for (size_t i = 0; i < c->nkeys && rv == CKR_OK; i++) {
		hw_attrs pub, priv;
		hw_attrs_init(&pub);
		hw_attrs_init(&priv);
		if ((rv = common_attrs(&pub, c, &c->keys[i], CKO_PUBLIC_KEY)) == CKR_OK &&
		    (rv = common_attrs(&priv, c, &c->keys[i], CKO_PRIVATE_KEY)) == CKR_OK &&
		    (rv = hw_keypair_complete(&pub, &priv)) == CKR_OK &&
		    (rv = sink(arg, OID_PUB(i), &pub, NULL)) == CKR_OK)
			rv = sink(arg, OID_PRIV(i), &priv, NULL);
		hw_attrs_clear(&pub);
		hw_attrs_clear(&priv);
	}
	return rv;
}

/* ---- signing -------------------------------------------------------------- */

/* A place among the key's max_parallel running commands, waiting no longer
 * than the call's deadline. */
static CK_RV key_enter(hw_ext_key *k, int wait_ms)
{
	struct timespec until;
	CK_RV rv = CKR_OK;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&k->lock);
	while (k->running >= k->max_parallel && rv == CKR_OK)
		if (pthread_cond_timedwait(&k->idle, &k->lock, &until) == ETIMEDOUT)
			rv = CKR_FUNCTION_FAILED;
	if (rv == CKR_OK)
		k->running++;
	pthread_mutex_unlock(&k->lock);
	return rv;
}

static void key_leave(hw_ext_key *k)
{
	pthread_mutex_lock(&k->lock);
	k->running--;
	pthread_cond_signal(&k->idle);
	pthread_mutex_unlock(&k->lock);
}

static const char *hash_name(CK_MECHANISM_TYPE h)
{
	switch (h) {
	case CKM_SHA224: return "sha224";
	case CKM_SHA256: return "sha256";
	case CKM_SHA384: return "sha384";
	case CKM_SHA512: return "sha512";
	default: return NULL;
	}
}

/* What the command signs: the digest and its hash (from the request, or
 * for raw CKM_ECDSA from its length; CKM_RSA_PKCS gets a DigestInfo), or
 * the message. The hex-digest-file contract is SHA-256 only. */
static CK_RV sign_input(const hw_ext_key *k, const hw_sign_req *req, const unsigned char **data,
			size_t *len, const char **hash)
{
	CK_MECHANISM_TYPE h = req->hash;
	*data = req->data;
	*len = req->len;
	*hash = NULL;
	if (k->input == HW_EXT_IN_MESSAGE_STDIN)
		return CKR_OK;
	if (req->base == CKM_RSA_PKCS && hw_digestinfo_decode(req->data, req->len, &h, data, len) != CKR_OK)
		return CKR_DATA_INVALID;
	if (req->base == CKM_ECDSA && h == HW_NO_HASH)
		h = *len == 32 ? CKM_SHA256 : *len == 48 ? CKM_SHA384 : *len == 64 ? CKM_SHA512 : HW_NO_HASH;
	if ((*hash = hash_name(h)) == NULL || hw_hash_len(h) != *len)
		return CKR_DATA_LEN_RANGE;
	if (k->input == HW_EXT_IN_HEX_FILE && h != CKM_SHA256)
		return CKR_DATA_LEN_RANGE;
	return CKR_OK;
}

/* A 0600 file with the digest in hex and a line end; path gets its name. */
static CK_RV digest_file(const hw_ext_ctx *c, const unsigned char *d, size_t len, char *path, size_t cap)
{
	char hex[2 * 64 + 2];
	size_t n = 0;
	for (size_t i = 0; i < len && i < 64; i++)
		n += (size_t)snprintf(hex + n, sizeof(hex) - n, "%02x", d[i]);
	hex[n++] = '\n';
	if ((size_t)snprintf(path, cap, "%s/hwagg-digest-XXXXXX", c->tmp_dir) >= cap)
		return CKR_DEVICE_ERROR;
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		hw_error("slot \"%s\": cannot create a digest file in %s: %s", c->conf->name, c->tmp_dir,
			 strerror(errno));
		path[0] = '\0';
		return CKR_DEVICE_ERROR;
	}
	bool ok = write(fd, hex, n) == (ssize_t)n;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		hw_error("slot \"%s\": cannot write a digest file in %s", c->conf->name, c->tmp_dir);
		unlink(path);
		path[0] = '\0';
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

/* The command's environment for this call: the slot's, what is signed,
 * and the PIN when the slot passes it. */
static CK_RV sign_env(hw_ext_ctx *c, const hw_ext_key *k, const char *hash, char **env, size_t cap,
		      char *alg, size_t alg_len, hw_secret **pin_kv)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nenv && n + EXT_ENV_SIGN < cap; i++)
		env[n++] = c->env[i];
	if (hash != NULL) {
		snprintf(alg, alg_len, "HWAGG_DIGEST_ALG=%s", hash);
		env[n++] = alg;
	}
	if (k->key_type == CKK_RSA)
		env[n++] = k->pss ? "HWAGG_RSA_PADDING=pss" : "HWAGG_RSA_PADDING=pkcs1";
	env[n] = NULL;
	if (!c->pin_env)
		return CKR_OK;
	CK_RV rv = CKR_OK;
	pthread_mutex_lock(&c->lock);
	if (c->pin == NULL) {
		rv = CKR_USER_NOT_LOGGED_IN;
	} else {
		size_t vl = strlen(c->pin_var), len = vl + 1 + c->pin->len + 1;
		if ((*pin_kv = hw_secret_new(len)) == NULL) {
			rv = CKR_HOST_MEMORY;
		} else {
			char *p = (char *)(*pin_kv)->data;
			memcpy(p, c->pin_var, vl);
			p[vl] = '=';
			memcpy(p + vl + 1, c->pin->data, c->pin->len);
			p[len - 1] = '\0';
			env[n++] = p;
			env[n] = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rv;
}

static void log_failure(const hw_ext_ctx *c, const hw_ext_key *k, const hw_ext_result *r, const char *why)
{
	char status[48];
	if (r->timed_out)
		snprintf(status, sizeof(status), "killed after %u s", k->timeout_ms / 1000);
	else if (r->status == -1)
		snprintf(status, sizeof(status), "exit status unknown");
	else if (WIFSIGNALED(r->status))
		snprintf(status, sizeof(status), "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(status, sizeof(status), "exit %d", WEXITSTATUS(r->status));
	hw_error("slot \"%s\": key \"%s\": signing command %s: %s; %s; stderr: %s", c->conf->name, k->label,
		 k->argv[0], why, status, r->err_line[0] ? r->err_line : "(empty)");
}

/* The command's result, or why it is refused. */
static const char *judge(const hw_ext_result *r)
{
	if (r->timed_out)
		return "it ran past its timeout";
	if (r->too_much)
		return "it printed more than a signature";
	/* -1: the host reaps children itself (SIGCHLD ignored); the
	 * verification below still decides */
	if (r->status != -1 && !(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0))
		return "it failed";
	return NULL;
}

static CK_RV ext_sign(void *vctx, hw_obj *key, const hw_sign_req *req, unsigned char *sig, size_t *sig_len)
{
	hw_ext_ctx *c = vctx;
	if (key->oid < 1 || key->oid % 2 != 1 || (size_t)(key->oid - 1) / 2 >= c->nkeys)
		return CKR_KEY_HANDLE_INVALID;
	hw_ext_key *k = &c->keys[(key->oid - 1) / 2];
	const unsigned char *data;
	const char *hash, *why = NULL;
	char path[4096] = "", alg[40];
	hw_secret *pin_kv = NULL;
	hw_ext_result r;
	size_t len;
	memset(&r, 0, sizeof(r));
	CK_RV rv = sign_input(k, req, &data, &len, &hash);
	if (rv != CKR_OK)
		return rv;
	size_t env_cap = c->nenv + EXT_ENV_SIGN + 1;
	char **env = calloc(env_cap, sizeof(char *)), **argv = calloc(k->argc + 2, sizeof(char *));
	int left = hw_deadline_left_ms((int)k->timeout_ms);
	if (left > (int)k->timeout_ms)
		left = (int)k->timeout_ms;
	if (env == NULL || argv == NULL) {
		free(env);
		free(argv);
		return CKR_HOST_MEMORY;
	}
	if ((rv = key_enter(k, left)) != CKR_OK) {
		hw_error("slot \"%s\": key \"%s\": %u signing commands run already and none ended in time",
			 c->conf->name, k->label, k->max_parallel);
		free(env);
		free(argv);
		return rv;
	}
	memcpy(argv, k->argv, k->argc * sizeof(char *));
	if ((rv = sign_env(c, k, hash, env, env_cap, alg, sizeof(alg), &pin_kv)) != CKR_OK)
		goto out;
	if (k->input == HW_EXT_IN_HEX_FILE) {
		if ((rv = digest_file(c, data, len, path, sizeof(path))) != CKR_OK)
			goto out;
		argv[k->argc] = path;
	}
	hw_ext_job job = {
		.argv = argv, .envp = env, .use_stdin = k->input != HW_EXT_IN_HEX_FILE,
		.in = data, .in_len = len, .out_max = EXT_OUT_MAX,
		.timeout_ms = hw_deadline_left_ms(left) < left ? hw_deadline_left_ms(left) : left,
	};
	rv = hw_ext_run(&job, &r);
	if (rv == CKR_DEVICE_ERROR) {
		hw_error("slot \"%s\": key \"%s\": signing command %s cannot be started: %s", c->conf->name,
			 k->label, k->argv[0], strerror(r.spawn_errno));
		goto out;
	}
	if (rv != CKR_OK)
		goto out;
	if ((why = judge(&r)) != NULL)
		rv = CKR_FUNCTION_FAILED;
	else
		rv = hw_ext_sig_take(k, req, r.out, r.out_len, sig, sig_len, &why);
	if (rv != CKR_OK)
		log_failure(c, k, &r, why != NULL ? why : hw_rv_name(rv));
out:
	if (path[0] != '\0')
		unlink(path);
	hw_secret_free(pin_kv);
	hw_ext_result_clear(&r);
	free(env);
	free(argv);
	key_leave(k);
	return rv;
}

/* Usable when every command can be started; commands are not run here
 * (a health check must not sign). */
static CK_RV ext_health(void *vctx, char *msg, size_t len)
{
	hw_ext_ctx *c = vctx;
	for (size_t i = 0; i < c->nkeys; i++)
		if (access(c->keys[i].argv[0], X_OK) != 0) {
			snprintf(msg, len, "key \"%s\": command %s cannot be run: %s", c->keys[i].label,
				 c->keys[i].argv[0], strerror(errno));
			return CKR_DEVICE_ERROR;
		}
	snprintf(msg, len, "%zu key(s); every signature is verified before it is returned", c->nkeys);
	return CKR_OK;
}

/* hardware only when every key says so */
static hw_security ext_security(void *vctx)
{
	hw_ext_ctx *c = vctx;
	for (size_t i = 0; i < c->nkeys; i++)
		if (c->keys[i].sec != HW_SEC_HARDWARE)
			return HW_SEC_EXTERNAL;
	return HW_SEC_HARDWARE;
}

const hw_backend_ops hw_external_ops = {
	.type = "external",
	.ctx_size = sizeof(hw_ext_ctx),
	.open = ext_open,
	.close = ext_close,
	.token_info = ext_token_info,
	.has_mechanism = ext_has_mechanism,
	.login = ext_login,
	.logout = ext_logout,
	.load = ext_load,
	.sign = ext_sign,
	.health = ext_health,
	.security = ext_security,
	/* each key's timeout_s bounds its command; the slot's timeout_ms, when
	 * set, bounds them all */
	.default_timeout_ms = 600 * 1000,
};
