/*
 * The external slot's configuration: its keys (label, id, public key,
 * command, input and output modes, timeout, security level, RSA padding,
 * parallel limit) and the environment its commands get. Everything is
 * checked here, at C_Initialize, so that `hwagg config check` and the
 * first consumer see the same message; the public keys are small local
 * files and are read now for the same reason.
 */
#include "slots/external.h"
#include "common/log.h"
#include "common/hex.h"

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#define EXT_TIMEOUT_S_DEFAULT 30
#define EXT_TIMEOUT_S_MAX     600     /* the most a slot's timeout_ms allows */
#define EXT_PARALLEL_DEFAULT  8
#define EXT_PARALLEL_MAX      256
#define EXT_ARGS_MAX          64
#define EXT_ENV_MAX           64
#define EXT_VAR_MAX           64
#define EXT_PEM_MAX           65536

const hw_conf_key hw_external_conf_keys[] = {
	{ "keys", json_type_array, true },
	{ "pin", json_type_string, false },
	{ "pin_env", json_type_string, false },
	{ "env_pass", json_type_array, false },
	{ "env", json_type_object, false },
	{ "tmp_dir", json_type_string, false },
	{ NULL, json_type_null, false },
};

static const char *const key_keys[] = {
	"label", "id", "public_key", "command", "input", "output", "timeout_s", "security",
	"rsa_padding", "max_parallel", NULL,
};

static CK_RV fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static CK_RV fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return CKR_ARGUMENTS_BAD;
}

/* One of names (NULL-terminated) -> its index, else -1. */
static int pick(const char *s, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* A control character at p: C0, DEL, or a UTF-8 C1 pair. */
static bool control_at(const unsigned char *p)
{
	return *p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
}

/* A user string for a message: at most 40 bytes, control characters shown
 * as '?'. buf holds 48 bytes. */
static const char *show(char *buf, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (; *p != '\0' && o < 40; p++) {
		bool c = control_at(p);
		buf[o++] = c ? '?' : (char)*p;
		p += c && *p == 0xc2;        /* both bytes of a C1 pair */
	}
	buf[o] = '\0';
	return buf;
}

/* No control characters: the string goes to log lines and messages. */
static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (control_at(p))
			return false;
	return true;
}

/* An environment variable name: what a shell would accept. */
static bool var_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > EXT_VAR_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	       ? json_object_get_string(v) : NULL;
}

/* A small regular file: a device or a FIFO named by mistake must not
 * block C_Initialize. */
static bool read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO does not wait for a writer */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size < cap;
	ssize_t n = ok ? read(fd, buf, cap - 1) : -1;
	close(fd);
	*len = n > 0 ? (size_t)n : 0;
	return ok && n >= 0;
}

static CK_RV read_public_key(hw_ext_key *k, const char *where, char *err, size_t len)
{
	char pem[EXT_PEM_MAX];
	size_t n;
	if (!read_small_file(k->pub_path, pem, sizeof(pem), &n))
		return fail(err, len, "%s.public_key: cannot read %s; expected a PEM public key file "
			    "(a regular file under %d bytes)", where, k->pub_path, EXT_PEM_MAX);
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	if (b == NULL)
		return CKR_HOST_MEMORY;
	k->pub = PEM_read_bio_PUBKEY_ex(b, NULL, NULL, NULL, hw_crypto_ctx(), NULL);
	BIO_free(b);
	ERR_clear_error();
	if (k->pub == NULL)
		return fail(err, len, "%s.public_key: %s holds no PEM public key (\"BEGIN PUBLIC KEY\")",
			    where, k->pub_path);
	k->key_type = hw_key_type(k->pub);
	const hw_curve *curve = hw_key_curve(k->pub);
	if (k->key_type == CKK_EC && curve != NULL)
		k->nlen = curve->nlen;
	else if (k->key_type != CKK_RSA && !(k->key_type == CKK_EC_EDWARDS && curve != NULL &&
					     strcmp(curve->name, "Ed25519") == 0))
		return fail(err, len, "%s.public_key: %s: unsupported key; expected an EC (P-256, "
			    "P-384, P-521), RSA or Ed25519 public key", where, k->pub_path);
	return CKR_OK;
}

static CK_RV parse_command(hw_ext_key *k, json_object *arr, const char *where, char *err, size_t len)
{
	size_t n = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	if (n == 0 || n > EXT_ARGS_MAX)
		return fail(err, len, "%s.command: expected an array of 1 to %d strings, the program's "
			    "absolute path first (no shell runs it)", where, EXT_ARGS_MAX);
	if ((k->argv = calloc(n + 2, sizeof(char *))) == NULL)    /* + digest file + NULL */
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(a, json_type_string))
			return fail(err, len, "%s.command[%zu]: expected a string", where, i);
		if ((k->argv[i] = strdup(json_object_get_string(a))) == NULL)
			return CKR_HOST_MEMORY;
	}
	k->argc = n;
	if (k->argv[0][0] != '/' || strlen(k->argv[0]) > 1024 || !printable(k->argv[0]))
		return fail(err, len, "%s.command[0]: expected the program's absolute path (no PATH "
			    "search, no shell, no control characters)", where);
	return CKR_OK;
}

/* What the key's type and modes allow together. */
static CK_RV check_modes(const hw_ext_key *k, const char *where, char *err, size_t len)
{
	bool ed = k->key_type == CKK_EC_EDWARDS;
	if (ed != (k->input == HW_EXT_IN_MESSAGE_STDIN))
		return fail(err, len, "%s.input: %s", where, ed
			    ? "an Ed25519 key signs the message itself; expected \"message-stdin\""
			    : "\"message-stdin\" is for Ed25519 keys; an EC or RSA key's command gets the "
			      "digest (\"hex-digest-file\" or \"digest-stdin\")");
	if (k->output == HW_EXT_OUT_DER && k->key_type != CKK_EC)
		return fail(err, len, "%s.output: \"der\" is for ECDSA signatures; expected \"base64\" "
			    "or \"raw\"", where);
	if (k->pss && k->key_type != CKK_RSA)
		return fail(err, len, "%s.rsa_padding: only for RSA keys", where);
	return CKR_OK;
}

static CK_RV parse_key(hw_ext_key *k, json_object *o, const char *where, char *err, size_t len)
{
	static const char *const inputs[] = { "hex-digest-file", "digest-stdin", "message-stdin", NULL };
	static const char *const outputs[] = { "base64", "raw", "der", NULL };
	static const char *const levels[] = { "external", "hardware", NULL };
	static const char *const paddings[] = { "pkcs1", "pss", NULL };
	json_object *v;
	const char *s;
	int i;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->idle, NULL);
	k->timeout_ms = EXT_TIMEOUT_S_DEFAULT * 1000;
	k->max_parallel = EXT_PARALLEL_DEFAULT;
	k->sec = HW_SEC_EXTERNAL;
	if (!json_object_is_type(o, json_type_object))
		return fail(err, len, "%s: expected an object with label, public_key and command", where);
	json_object_object_foreach(o, name, val) {
		(void)val;
		char shown[48];
		if (pick(name, key_keys) < 0)
			return fail(err, len, "%s.%s: unknown key; expected one of label, id, public_key, "
				    "command, input, output, timeout_s, security, rsa_padding, max_parallel",
				    where, show(shown, name));
	}
	if ((s = str_of(o, "label")) == NULL || s[0] == '\0' || strlen(s) > 255 || !printable(s))
		return fail(err, len, "%s.label: expected a string of 1 to 255 bytes without control "
			    "characters", where);
	if ((k->label = strdup(s)) == NULL)
		return CKR_HOST_MEMORY;
	if (json_object_object_get_ex(o, "id", &v) &&
	    ((s = str_of(o, "id")) == NULL || !hw_hex_decode(s, strlen(s), k->id, sizeof(k->id), &k->id_len)))
		return fail(err, len, "%s.id: expected 1 to %d bytes as hex digits (\"01\", \"a1b2\")",
			    where, HW_EXT_ID_MAX);
	if ((s = str_of(o, "public_key")) == NULL || s[0] != '/' || strlen(s) > 1024 || !printable(s))
		return fail(err, len, "%s.public_key: expected the absolute path of a PEM public key "
			    "(no control characters)", where);
	if ((k->pub_path = strdup(s)) == NULL)
		return CKR_HOST_MEMORY;
	if (!json_object_object_get_ex(o, "command", &v))
		return fail(err, len, "%s.command: missing; expected [\"/path/to/program\", \"arg\", ...]", where);
	CK_RV rv = parse_command(k, v, where, err, len);
	if (rv != CKR_OK)
		return rv;
	if (json_object_object_get_ex(o, "input", &v)) {
		if ((s = str_of(o, "input")) == NULL || (i = pick(s, inputs)) < 0)
			return fail(err, len, "%s.input: expected \"hex-digest-file\", \"digest-stdin\" or "
				    "\"message-stdin\"", where);
		k->input = (hw_ext_input)i;
	}
	if (json_object_object_get_ex(o, "output", &v)) {
		if ((s = str_of(o, "output")) == NULL || (i = pick(s, outputs)) < 0)
			return fail(err, len, "%s.output: expected \"base64\", \"raw\" or \"der\"", where);
		k->output = (hw_ext_output)i;
	}
	if (json_object_object_get_ex(o, "timeout_s", &v)) {
		int64_t t = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
		if (t < 1 || t > EXT_TIMEOUT_S_MAX)
			return fail(err, len, "%s.timeout_s: expected an integer 1..%d", where, EXT_TIMEOUT_S_MAX);
		k->timeout_ms = (unsigned)t * 1000;
	}
	if (json_object_object_get_ex(o, "security", &v)) {
		if ((s = str_of(o, "security")) == NULL || (i = pick(s, levels)) < 0)
			return fail(err, len, "%s.security: expected \"external\" or \"hardware\"", where);
		k->sec = i == 0 ? HW_SEC_EXTERNAL : HW_SEC_HARDWARE;
	}
	if (json_object_object_get_ex(o, "rsa_padding", &v)) {
		if ((s = str_of(o, "rsa_padding")) == NULL || (i = pick(s, paddings)) < 0)
			return fail(err, len, "%s.rsa_padding: expected \"pkcs1\" or \"pss\"", where);
		k->pss = i == 1;
	}
	if (json_object_object_get_ex(o, "max_parallel", &v)) {
		int64_t p = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
		if (p < 1 || p > EXT_PARALLEL_MAX)
			return fail(err, len, "%s.max_parallel: expected an integer 1..%d", where, EXT_PARALLEL_MAX);
		k->max_parallel = (unsigned)p;
	}
	if ((rv = read_public_key(k, where, err, len)) != CKR_OK)
		return rv;
	return check_modes(k, where, err, len);
}

static CK_RV env_add(hw_ext_ctx *c, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *e = malloc(n);
	if (e == NULL)
		return CKR_HOST_MEMORY;
	snprintf(e, n, "%s=%s", name, value);
	c->env[c->nenv++] = e;
	return CKR_OK;
}

/* The commands' environment, fixed now: PATH and the names of "env_pass"
 * as this process has them, then the values of "env". Nothing else of
 * the host's environment reaches a command. */
static CK_RV parse_env(hw_ext_ctx *c, json_object *slot, char *err, size_t len)
{
	json_object *pass = NULL, *set = NULL;
	json_object_object_get_ex(slot, "env_pass", &pass);
	json_object_object_get_ex(slot, "env", &set);
	size_t np = pass != NULL ? json_object_array_length(pass) : 0;
	size_t ns = set != NULL ? (size_t)json_object_object_length(set) : 0;
	if (np + ns > EXT_ENV_MAX)
		return fail(err, len, "env_pass/env: at most %d variables", EXT_ENV_MAX);
	if ((c->env = calloc(np + ns + 2, sizeof(char *))) == NULL)
		return CKR_HOST_MEMORY;
	const char *path = getenv("PATH");
	CK_RV rv = env_add(c, "PATH", path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	for (size_t i = 0; rv == CKR_OK && i < np; i++) {
		json_object *n = json_object_array_get_idx(pass, i);
		const char *name = json_object_is_type(n, json_type_string) ? json_object_get_string(n) : "";
		if (!var_name_ok(name))
			return fail(err, len, "env_pass[%zu]: expected a variable name", i);
		const char *val = strcmp(name, "PATH") != 0 ? getenv(name) : NULL;
		if (val != NULL)
			rv = env_add(c, name, val);
	}
	if (set == NULL)
		return rv;
	json_object_object_foreach(set, name, val) {
		if (rv != CKR_OK)
			break;
		char shown[48];
		if (!var_name_ok(name) || strcmp(name, "PATH") == 0)
			return fail(err, len, "env.%s: expected a variable name other than PATH", show(shown, name));
		if (!json_object_is_type(val, json_type_string))
			return fail(err, len, "env.%s: expected a string", name);
		rv = env_add(c, name, json_object_get_string(val));
	}
	return rv;
}

CK_RV hw_ext_conf_parse(hw_ext_ctx *c, const hw_slot_conf *conf, char *err, size_t len)
{
	json_object *keys = NULL;
	char where[32];
	CK_RV rv;
	c->conf = conf;
	pthread_mutex_init(&c->lock, NULL);
	json_object_object_get_ex(conf->json, "keys", &keys);
	size_t n = keys != NULL ? json_object_array_length(keys) : 0;
	if (n == 0)
		return fail(err, len, "keys: expected an array of at least one key object");
	if ((c->keys = calloc(n, sizeof(*c->keys))) == NULL)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < n; i++) {
		c->nkeys = i + 1;           /* counted now: freed either way */
		snprintf(where, sizeof(where), "keys[%zu]", i);
		if ((rv = parse_key(&c->keys[i], json_object_array_get_idx(keys, i), where, err, len)) != CKR_OK)
			return rv;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->keys[j].label, c->keys[i].label) == 0)
				return fail(err, len, "%s.label: \"%s\" is also keys[%zu]'s; expected a unique "
					    "label", where, c->keys[i].label, j);
	}
	const char *pin = hw_conf_str(conf, "pin", "none");
	if (strcmp(pin, "env") != 0 && strcmp(pin, "none") != 0)
		return fail(err, len, "pin: expected \"env\" (the PIN of C_Login reaches the command in "
			    "an environment variable) or \"none\"");
	c->pin_env = strcmp(pin, "env") == 0;
	const char *var = hw_conf_str(conf, "pin_env", "HWAGG_PIN");
	if (!var_name_ok(var))
		return fail(err, len, "pin_env: expected a variable name");
	if ((c->pin_var = strdup(var)) == NULL)
		return CKR_HOST_MEMORY;
	const char *tmp = hw_conf_str(conf, "tmp_dir", NULL);
	if (tmp == NULL && (tmp = getenv("TMPDIR")) == NULL)
		tmp = "/tmp";
	if (tmp[0] != '/')
		return fail(err, len, "tmp_dir: expected an absolute path");
	if ((c->tmp_dir = strdup(tmp)) == NULL)
		return CKR_HOST_MEMORY;
	return parse_env(c, conf->json, err, len);
}

void hw_ext_conf_free(hw_ext_ctx *c)
{
	for (size_t i = 0; i < c->nkeys; i++) {
		hw_ext_key *k = &c->keys[i];
		for (size_t j = 0; k->argv != NULL && k->argv[j] != NULL; j++)
			free(k->argv[j]);
		free(k->argv);
		free(k->label);
		free(k->pub_path);
		EVP_PKEY_free(k->pub);
		pthread_mutex_destroy(&k->lock);
		pthread_cond_destroy(&k->idle);
	}
	free(c->keys);
	for (size_t i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->env);
	free(c->tmp_dir);
	free(c->pin_var);
	hw_secret_free(c->pin);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}

size_t hw_ext_key_mechs(const hw_ext_key *k, CK_MECHANISM_TYPE *out)
{
	static const CK_MECHANISM_TYPE hashes[] = { CKM_SHA256, CKM_SHA384, CKM_SHA512 };
	static const CK_MECHANISM_TYPE ecdsa[] = { CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512 };
	static const CK_MECHANISM_TYPE v15[] = { CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS };
	static const CK_MECHANISM_TYPE pss[] = { CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
						 CKM_SHA512_RSA_PKCS_PSS };
	bool ec = k->key_type == CKK_EC;
	size_t n = 0;
	if (k->key_type == CKK_EC_EDWARDS) {
		out[n++] = CKM_EDDSA;
		return n;
	}
	const CK_MECHANISM_TYPE *row = ec ? ecdsa : k->pss ? pss : v15;
	out[n++] = ec ? CKM_ECDSA : k->pss ? CKM_RSA_PKCS_PSS : CKM_RSA_PKCS;
	/* the hex-digest-file contract is SHA-256; a command reading the digest
	 * from stdin gets the hash's name in HWAGG_DIGEST_ALG; ECDSA only with
	 * digests no longer than the curve's order */
	for (size_t i = 0; i < HW_ARRAY_LEN(hashes); i++) {
		if ((i > 0 && k->input != HW_EXT_IN_DIGEST_STDIN) || (ec && hw_hash_len(hashes[i]) > k->nlen))
			break;
		out[n++] = row[i];
	}
	return n;
}
