/*
 * The operator's API over the module's PKCS#11 functions (see admin.h).
 * Every call goes through the same hw_C_* entry points a consumer reaches
 * through C_GetFunctionList; only hw_module_describe/hw_slot_describe read
 * the engine directly, for what PKCS#11 has no words for.
 */
#include "module/admin_int.h"
#include "module/fns.h"
#include "module/global.h"
#include "common/uri.h"
#include "mechanisms/encode.h"
#include "module/objutil.h"
#include "common/log.h"

#include <openssl/x509.h>

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIND_CHUNK 64

/* The key types of `hwagg keygen`: one row each. */
static const struct key_type {
	const char *name;
	CK_MECHANISM_TYPE mech;
	const char *curve;            /* hw_curve_by_name; NULL for RSA */
	CK_ULONG bits;                /* RSA modulus bits */
} key_types[] = {
	{ "ec-p256", CKM_EC_KEY_PAIR_GEN, "P-256", 0 },
	{ "ec-p384", CKM_EC_KEY_PAIR_GEN, "P-384", 0 },
	{ "rsa-2048", CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 2048 },
	{ "rsa-3072", CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 3072 },
	{ "ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, "Ed25519", 0 },
};

/* A blank-padded PKCS#11 text field as a C string. */
static void unpad(char *out, size_t cap, const unsigned char *in, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(out, in, n);
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

CK_RV hw_admin_open(void)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	return hw_C_Initialize(&args);
}

void hw_admin_close(void)
{
	hw_C_Finalize(NULL);
}

unsigned hw_admin_config_check(const char *file, const char *origin, void (*report)(void *arg, const char *line),
			       void *arg, hw_admin_config *out)
{
	hw_config *cfg = NULL;
	unsigned n = hw_config_check(file, origin, report, arg, &cfg);
	if (cfg != NULL && out != NULL) {
		memset(out, 0, sizeof(*out));
		snprintf(out->config, sizeof(out->config), "%s", cfg->path ? cfg->path : "");
		snprintf(out->origin, sizeof(out->origin), "%s", cfg->origin ? cfg->origin : "");
		snprintf(out->environment, sizeof(out->environment), "%s", hw_env_text(cfg));
		snprintf(out->store, sizeof(out->store), "%s", cfg->store ? cfg->store : "");
		out->nslots = cfg->nslots;
		for (size_t i = 0; i < cfg->nslots && i < HW_ARRAY_LEN(out->slots); i++) {
			snprintf(out->slots[i].name, sizeof(out->slots[i].name), "%s", cfg->slots[i].name);
			snprintf(out->slots[i].type, sizeof(out->slots[i].type), "%s", cfg->slots[i].type);
		}
	}
	hw_config_free(cfg);
	return n;
}

CK_RV hw_admin_module_info(hw_admin_module *out)
{
	hw_module_desc d;
	CK_INFO info;
	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_module_describe(&d);
	if (rv == CKR_OK)
		rv = hw_C_GetInfo(&info);
	if (rv != CKR_OK)
		return rv;
	memset(out, 0, sizeof(*out));
	snprintf(out->config, sizeof(out->config), "%s", d.config);
	snprintf(out->environment, sizeof(out->environment), "%s", d.environment);
	snprintf(out->store, sizeof(out->store), "%s", d.store);
	out->version = info.libraryVersion;
	out->rotation_days = d.rotation_days;
	out->rotation_disable = d.rotation_disable;
	return CKR_OK;
}

static CK_RV slot_ids(CK_SLOT_ID **ids, CK_ULONG *n)
{
	CK_RV rv = hw_C_GetSlotList(CK_FALSE, NULL, n);
	if (rv != CKR_OK)
		return rv;
	*ids = calloc(*n ? *n : 1, sizeof(**ids));
	if (*ids == NULL)
		return CKR_HOST_MEMORY;
	rv = hw_C_GetSlotList(CK_FALSE, *ids, n);
	if (rv != CKR_OK) {
		free(*ids);
		*ids = NULL;
	}
	return rv;
}

static CK_RV slot_info(CK_SLOT_ID id, hw_admin_slot *out)
{
	hw_slot_desc d;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	memset(out, 0, sizeof(*out));
	out->id = id;
	CK_RV rv = hw_slot_describe(id, true, &d);
	if (rv == CKR_OK)
		rv = hw_C_GetSlotInfo(id, &si);
	if (rv != CKR_OK)
		return rv;
	snprintf(out->name, sizeof(out->name), "%s", d.name);
	snprintf(out->type, sizeof(out->type), "%s", d.type);
	out->available = d.available;
	snprintf(out->security, sizeof(out->security), "%s", d.security);
	out->has_health = d.has_health;
	out->health_rv = d.health_rv;
	snprintf(out->health, sizeof(out->health), "%s", d.health);
	out->counted = d.counted;
	out->private_counted = d.private_counted;
	out->private_keys = d.private_keys;
	out->public_keys = d.public_keys;
	out->certificates = d.certificates;
	out->other = d.other;
	/* a token can leave between the two calls: then it is absent */
	if ((si.flags & CKF_TOKEN_PRESENT) && hw_C_GetTokenInfo(id, &ti) == CKR_OK) {
		out->present = true;
		out->token_flags = ti.flags;
		unpad(out->model, sizeof(out->model), ti.model, sizeof(ti.model));
		unpad(out->serial, sizeof(out->serial), ti.serialNumber, sizeof(ti.serialNumber));
	}
	return CKR_OK;
}

CK_RV hw_admin_slots(hw_admin_slot **out, size_t *n)
{
	CK_SLOT_ID *ids = NULL;
	CK_ULONG count = 0;
	HW_RETURN_IF(out == NULL || n == NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	*n = 0;
	CK_RV rv = slot_ids(&ids, &count);
	if (rv != CKR_OK)
		return rv;
	hw_admin_slot *all = calloc(count ? count : 1, sizeof(*all));
	if (all == NULL)
		rv = CKR_HOST_MEMORY;
	for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++)
		rv = slot_info(ids[i], &all[i]);
	free(ids);
	if (rv != CKR_OK) {
		free(all);
		return rv;
	}
	*out = all;
	*n = count;
	return CKR_OK;
}

/* A read-write session logged in as who; closed again on failure. */
static CK_RV rw_login(CK_SLOT_ID id, CK_USER_TYPE who, const unsigned char *pin, size_t len, CK_SESSION_HANDLE *s)
{
	CK_RV rv = hw_C_OpenSession(id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv == CKR_OK && (rv = hw_C_Login(*s, who, (unsigned char *)pin, (CK_ULONG)len)) != CKR_OK)
		hw_C_CloseSession(*s);
	return rv;
}

CK_RV hw_admin_login(CK_SLOT_ID id, const unsigned char *pin, size_t pin_len, CK_SESSION_HANDLE *out)
{
	HW_RETURN_IF(out == NULL || (pin == NULL && pin_len > 0), CKR_ARGUMENTS_BAD);
	return rw_login(id, CKU_USER, pin, pin_len, out);
}

void hw_admin_logout(CK_SESSION_HANDLE s)
{
	hw_C_Logout(s);
	hw_C_CloseSession(s);
}

/* ---- reading objects ------------------------------------------------------ */

/* One attribute's value, allocated with a NUL after it. Absent or
 * sensitive: *val NULL and CKR_OK. */
CK_RV hw_adm_attr_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
		      unsigned char **val, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	*val = NULL;
	*len = 0;
	CK_RV rv = hw_C_GetAttributeValue(s, h, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION))
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	a.pValue = malloc(a.ulValueLen + 1);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = hw_C_GetAttributeValue(s, h, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	((unsigned char *)a.pValue)[a.ulValueLen] = '\0';
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* A short text attribute into a fixed field ("" when absent). */
CK_RV hw_adm_attr_text(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, char *out, size_t cap)
{
	unsigned char *v;
	size_t len;
	CK_RV rv = hw_adm_attr_get(s, h, type, &v, &len);
	out[0] = '\0';
	if (rv == CKR_OK && v != NULL)
		snprintf(out, cap, "%s", (const char *)v);
	free(v);
	return rv;
}

CK_RV hw_adm_attr_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
	CK_ATTRIBUTE a = { type, out, sizeof(*out) };
	return hw_C_GetAttributeValue(s, h, &a, 1);
}

/* "ec-p256", "ed25519", "rsa-3072": the names keygen takes, for any key. */
static CK_RV algorithm(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, char *out, size_t cap)
{
	CK_ULONG kt;
	unsigned char *v = NULL;
	size_t len, o = 0;
	const hw_curve *c;
	out[0] = '\0';
	if (cls == CKO_CERTIFICATE) {
		snprintf(out, cap, "x509");
		return CKR_OK;
	}
	CK_RV rv = hw_adm_attr_ulong(s, h, CKA_KEY_TYPE, &kt);
	if (rv != CKR_OK)
		return rv == CKR_ATTRIBUTE_TYPE_INVALID ? CKR_OK : rv;
	if (kt == CKK_RSA) {
		rv = hw_adm_attr_get(s, h, CKA_MODULUS, &v, &len);
		if (rv == CKR_OK && v != NULL)
			snprintf(out, cap, "rsa-%zu", len * 8);
	} else if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
		rv = hw_adm_attr_get(s, h, CKA_EC_PARAMS, &v, &len);
		if (rv == CKR_OK && v != NULL && hw_curve_from_params(v, len, &c) == CKR_OK) {
			if (kt == CKK_EC)
				o = (size_t)snprintf(out, cap, "ec-");
			for (const char *p = c->name; *p != '\0' && o + 1 < cap; p++)
				if (*p != '-')
					out[o++] = (char)tolower((unsigned char)*p);
			out[o] = '\0';
		}
	}
	free(v);
	return rv;
}

static void append(char *buf, size_t cap, size_t *o, const char *lit)
{
	*o += (size_t)snprintf(buf + *o, cap - *o, "%s", lit);
}

static void append_enc(char *buf, size_t cap, size_t *o, const void *v, size_t len, hw_uri_part part)
{
	*o += hw_uri_encode(buf + *o, cap - *o, v, len, part);
}

/* RFC 7512 URI of a token object: token, object (the label, when it has
 * one), id (when it has one) and type. */
static char *uri_build(const char *token, const hw_admin_key *k, size_t label_len)
{
	const char *type = k->cls == CKO_PRIVATE_KEY ? "private" : k->cls == CKO_PUBLIC_KEY ? "public" : "cert";
	size_t cap = 64 + 3 * (strlen(token) + label_len + k->id_len), o = 0;
	char *u = malloc(cap);
	if (u == NULL)
		return NULL;
	append(u, cap, &o, "pkcs11:token=");
	append_enc(u, cap, &o, token, strlen(token), HW_URI_PATH);
	if (label_len > 0) {
		append(u, cap, &o, ";object=");
		append_enc(u, cap, &o, k->label, label_len, HW_URI_PATH);
	}
	if (k->id_len > 0) {
		append(u, cap, &o, ";id=");
		append_enc(u, cap, &o, k->id, k->id_len, HW_URI_BYTES);
	}
	append(u, cap, &o, ";type=");
	append(u, cap, &o, type);
	return u;
}

void hw_adm_key_clear(hw_admin_key *k)
{
	free(k->label);
	free(k->id);
	free(k->uri);
	memset(k, 0, sizeof(*k));
}

void hw_admin_keys_free(hw_admin_key *keys, size_t n)
{
	for (size_t i = 0; keys != NULL && i < n; i++)
		hw_adm_key_clear(&keys[i]);
	free(keys);
}

/* Everything the listing shows about one object. */
CK_RV hw_adm_key_read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, const char *token,
		      hw_admin_key *k)
{
	unsigned char *label = NULL;
	size_t label_len = 0;
	memset(k, 0, sizeof(*k));
	k->cls = cls;
	CK_RV rv = hw_adm_attr_get(s, h, CKA_LABEL, &label, &label_len);
	if (rv == CKR_OK)
		rv = hw_adm_attr_get(s, h, CKA_ID, &k->id, &k->id_len);
	if (rv == CKR_OK)
		rv = algorithm(s, h, cls, k->algorithm, sizeof(k->algorithm));
	if (rv == CKR_OK)
		rv = hw_adm_attr_text(s, h, CKA_HWAGG_BACKEND, k->backend, sizeof(k->backend));
	if (rv == CKR_OK)
		rv = hw_adm_attr_text(s, h, CKA_HWAGG_SECURITY_LEVEL, k->security, sizeof(k->security));
	if (rv == CKR_OK)
		rv = hw_adm_attr_text(s, h, CKA_HWAGG_CREATED, k->created, sizeof(k->created));
	k->label = label != NULL ? (char *)label : strdup("");
	if (rv == CKR_OK && k->label == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && (k->uri = uri_build(token, k, label_len)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv != CKR_OK)
		hw_adm_key_clear(k);
	return rv;
}

/* Handles of the token objects matching t, in the token's order. */
CK_RV hw_adm_find_all(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG tn, CK_OBJECT_HANDLE **out, size_t *n)
{
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG got = 0;
	size_t cnt = 0;
	*out = NULL;
	*n = 0;
	CK_RV rv = hw_C_FindObjectsInit(s, t, tn);
	if (rv != CKR_OK)
		return rv;
	do {
		CK_OBJECT_HANDLE *more = realloc(hs, (cnt + FIND_CHUNK) * sizeof(*hs));
		if (more == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		hs = more;
		rv = hw_C_FindObjects(s, hs + cnt, FIND_CHUNK, &got);
		cnt += rv == CKR_OK ? got : 0;
	} while (rv == CKR_OK && got == FIND_CHUNK);
	hw_C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		free(hs);
		return rv;
	}
	*out = hs;
	*n = cnt;
	return CKR_OK;
}

CK_RV hw_adm_token_label(CK_SESSION_HANDLE s, char out[33])
{
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_RV rv = hw_C_GetSessionInfo(s, &si);
	if (rv == CKR_OK)
		rv = hw_C_GetTokenInfo(si.slotID, &ti);
	if (rv == CKR_OK)
		unpad(out, 33, ti.label, sizeof(ti.label));
	return rv;
}

static bool same_id(const hw_admin_key *a, const hw_admin_key *b)
{
	return a->id_len > 0 && a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
}

CK_RV hw_admin_keys(CK_SESSION_HANDLE s, hw_admin_key **out, size_t *n)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = { { CKA_TOKEN, &yes, sizeof(yes) } };
	CK_OBJECT_HANDLE *hs = NULL;
	hw_admin_key *keys = NULL;
	size_t nh = 0, nk = 0, kept = 0;
	char token[33];
	HW_RETURN_IF(out == NULL || n == NULL, CKR_ARGUMENTS_BAD);
	*out = NULL;
	*n = 0;
	CK_RV rv = hw_adm_token_label(s, token);
	if (rv == CKR_OK)
		rv = hw_adm_find_all(s, t, HW_ARRAY_LEN(t), &hs, &nh);
	if (rv == CKR_OK && (keys = calloc(nh ? nh : 1, sizeof(*keys))) == NULL)
		rv = CKR_HOST_MEMORY;
	for (size_t i = 0; rv == CKR_OK && i < nh; i++) {
		CK_ULONG cls;
		rv = hw_adm_attr_ulong(s, hs[i], CKA_CLASS, &cls);
		if (rv == CKR_OBJECT_HANDLE_INVALID) {
			rv = CKR_OK;          /* destroyed by another process meanwhile */
			continue;
		}
		if (rv == CKR_OK && (cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY || cls == CKO_CERTIFICATE))
			rv = hw_adm_key_read(s, hs[i], cls, token, &keys[nk++]);
	}
	free(hs);
	if (rv != CKR_OK) {
		hw_admin_keys_free(keys, nk);
		return rv;
	}
	/* a public key or certificate is shown only when no private key
	 * shares its CKA_ID: the private key's line stands for the pair */
	for (size_t i = 0; i < nk; i++) {
		bool paired = false;
		for (size_t j = 0; keys[i].cls != CKO_PRIVATE_KEY && j < nk && !paired; j++)
			paired = keys[j].cls == CKO_PRIVATE_KEY && same_id(&keys[i], &keys[j]);
		if (paired)
			hw_adm_key_clear(&keys[i]);
		else
			keys[kept++] = keys[i];
	}
	*out = keys;
	*n = kept;
	return CKR_OK;
}

/* ---- generating ------------------------------------------------------------ */

const char *hw_admin_key_type(size_t i)
{
	return i < HW_ARRAY_LEN(key_types) ? key_types[i].name : NULL;
}

CK_RV hw_admin_key_exists(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, bool *exists)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
	};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;
	HW_RETURN_IF(id == NULL || id_len == 0 || exists == NULL, CKR_ARGUMENTS_BAD);
	CK_RV rv = hw_adm_find_all(s, t, HW_ARRAY_LEN(t), &hs, &n);
	free(hs);
	*exists = rv == CKR_OK && n > 0;
	return rv;
}

void hw_adm_tmpl_add(CK_ATTRIBUTE *t, CK_ULONG *n, CK_ATTRIBUTE_TYPE type, void *value, CK_ULONG len)
{
	t[*n].type = type;
	t[*n].pValue = value;
	t[*n].ulValueLen = len;
	(*n)++;
}

CK_RV hw_adm_find_private(CK_SESSION_HANDLE s, bool token_only, const char *label, const unsigned char *id,
			  size_t id_len, char token[33], CK_OBJECT_HANDLE **hs, size_t *n)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[4];
	CK_ULONG tn = 0;
	hw_adm_tmpl_add(t, &tn, CKA_CLASS, &cls, sizeof(cls));
	if (token_only)
		hw_adm_tmpl_add(t, &tn, CKA_TOKEN, &yes, sizeof(yes));
	if (label != NULL)
		hw_adm_tmpl_add(t, &tn, CKA_LABEL, (void *)label, (CK_ULONG)strlen(label));
	if (id_len > 0)
		hw_adm_tmpl_add(t, &tn, CKA_ID, (void *)id, (CK_ULONG)id_len);
	CK_RV rv = hw_adm_token_label(s, token);
	return rv == CKR_OK ? hw_adm_find_all(s, t, tn, hs, n) : rv;
}

CK_RV hw_admin_keygen(CK_SESSION_HANDLE s, const char *type, const char *label,
		      const unsigned char *id, size_t id_len, hw_admin_key **out)
{
	const struct key_type *kt = NULL;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE pub, priv;
	char token[33];
	HW_RETURN_IF(type == NULL || label == NULL || out == NULL || (id == NULL && id_len > 0), CKR_ARGUMENTS_BAD);
	*out = NULL;
	for (size_t i = 0; i < HW_ARRAY_LEN(key_types) && kt == NULL; i++)
		if (strcmp(key_types[i].name, type) == 0)
			kt = &key_types[i];
	if (kt == NULL)
		return CKR_MECHANISM_INVALID;
	const hw_curve *curve = kt->curve != NULL ? hw_curve_by_name(kt->curve) : NULL;
	if (kt->curve != NULL && curve == NULL)
		return CKR_CURVE_NOT_SUPPORTED;
	bool rsa = kt->curve == NULL;
	CK_ULONG bits = kt->bits, label_len = (CK_ULONG)strlen(label), pn = 0, vn = 0;
	CK_MECHANISM mech = { kt->mech, NULL, 0 };
	CK_ATTRIBUTE pt[8], vt[8];
	hw_adm_tmpl_add(pt, &pn, CKA_TOKEN, &yes, sizeof(yes));
	hw_adm_tmpl_add(pt, &pn, CKA_PRIVATE, &no, sizeof(no));
	hw_adm_tmpl_add(pt, &pn, CKA_VERIFY, &yes, sizeof(yes));
	hw_adm_tmpl_add(pt, &pn, CKA_LABEL, (void *)label, label_len);
	hw_adm_tmpl_add(vt, &vn, CKA_TOKEN, &yes, sizeof(yes));
	hw_adm_tmpl_add(vt, &vn, CKA_PRIVATE, &yes, sizeof(yes));
	hw_adm_tmpl_add(vt, &vn, CKA_SIGN, &yes, sizeof(yes));
	hw_adm_tmpl_add(vt, &vn, CKA_SENSITIVE, &yes, sizeof(yes));
	hw_adm_tmpl_add(vt, &vn, CKA_EXTRACTABLE, &no, sizeof(no));
	hw_adm_tmpl_add(vt, &vn, CKA_LABEL, (void *)label, label_len);
	if (rsa) {
		hw_adm_tmpl_add(pt, &pn, CKA_MODULUS_BITS, &bits, sizeof(bits));
		hw_adm_tmpl_add(pt, &pn, CKA_ENCRYPT, &yes, sizeof(yes));
		hw_adm_tmpl_add(vt, &vn, CKA_DECRYPT, &yes, sizeof(yes));
	} else {
		hw_adm_tmpl_add(pt, &pn, CKA_EC_PARAMS, (void *)curve->params, (CK_ULONG)curve->params_len);
	}
	/* without an id the module derives one from the public key */
	if (id_len > 0) {
		hw_adm_tmpl_add(pt, &pn, CKA_ID, (void *)id, (CK_ULONG)id_len);
		hw_adm_tmpl_add(vt, &vn, CKA_ID, (void *)id, (CK_ULONG)id_len);
	}
	CK_RV rv = hw_adm_token_label(s, token);
	if (rv == CKR_OK)
		rv = hw_C_GenerateKeyPair(s, &mech, pt, pn, vt, vn, &pub, &priv);
	if (rv != CKR_OK)
		return rv;
	hw_admin_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return CKR_HOST_MEMORY;
	rv = hw_adm_key_read(s, priv, CKO_PRIVATE_KEY, token, k);
	if (rv != CKR_OK) {
		free(k);
		return rv;
	}
	*out = k;
	return CKR_OK;
}

/* ---- tokens and objects --------------------------------------------------- */

CK_RV hw_admin_session(CK_SLOT_ID id, CK_SESSION_HANDLE *out)
{
	HW_RETURN_IF(out == NULL, CKR_ARGUMENTS_BAD);
	return hw_C_OpenSession(id, CKF_SERIAL_SESSION, NULL, NULL, out);
}

CK_RV hw_admin_init_token(CK_SLOT_ID id, const char *name, const unsigned char *so_pin, size_t so_len)
{
	unsigned char label[32];
	HW_RETURN_IF(name == NULL || strlen(name) > sizeof(label) || (so_pin == NULL && so_len > 0),
		     CKR_ARGUMENTS_BAD);
	memset(label, ' ', sizeof(label));
	memcpy(label, name, strlen(name));
	return hw_C_InitToken(id, (unsigned char *)so_pin, (CK_ULONG)so_len, label);
}

/* Logged in as who with login_pin, the new user PIN: C_InitPIN by the SO,
 * C_SetPIN by the user (a wrong old PIN counts like any wrong PIN). */
static CK_RV pin_op(CK_SLOT_ID id, CK_USER_TYPE who, const unsigned char *login_pin, size_t login_len,
		    const unsigned char *pin, size_t pin_len)
{
	CK_SESSION_HANDLE s;
	HW_RETURN_IF((login_pin == NULL && login_len > 0) || (pin == NULL && pin_len > 0), CKR_ARGUMENTS_BAD);
	CK_RV rv = rw_login(id, who, login_pin, login_len, &s);
	if (rv != CKR_OK)
		return rv;
	rv = who == CKU_SO ? hw_C_InitPIN(s, (unsigned char *)pin, (CK_ULONG)pin_len) :
	     hw_C_SetPIN(s, (unsigned char *)login_pin, (CK_ULONG)login_len, (unsigned char *)pin, (CK_ULONG)pin_len);
	hw_admin_logout(s);
	return rv;
}

CK_RV hw_admin_init_pin(CK_SLOT_ID id, const unsigned char *so_pin, size_t so_len,
			const unsigned char *pin, size_t pin_len)
{
	return pin_op(id, CKU_SO, so_pin, so_len, pin, pin_len);
}

CK_RV hw_admin_set_pin(CK_SLOT_ID id, const unsigned char *old_pin, size_t old_len,
		       const unsigned char *new_pin, size_t new_len)
{
	return pin_op(id, CKU_USER, old_pin, old_len, new_pin, new_len);
}

/* The token objects of class cls with this CKA_ID. */
static CK_RV find_id(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len,
		     CK_OBJECT_HANDLE **out, size_t *n)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
	};
	return hw_adm_find_all(s, t, HW_ARRAY_LEN(t), out, n);
}

CK_RV hw_admin_destroy_id(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, unsigned *n)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE };
	CK_RV rv = CKR_OK;
	HW_RETURN_IF(id == NULL || id_len == 0 || n == NULL, CKR_ARGUMENTS_BAD);
	*n = 0;
	for (size_t c = 0; rv == CKR_OK && c < HW_ARRAY_LEN(classes); c++) {
		CK_OBJECT_HANDLE *hs = NULL;
		size_t nh = 0;
		rv = find_id(s, classes[c], id, id_len, &hs, &nh);
		for (size_t i = 0; rv == CKR_OK && i < nh; i++)
			if ((rv = hw_C_DestroyObject(s, hs[i])) == CKR_OK)
				(*n)++;
		free(hs);
	}
	return rv;
}

CK_RV hw_admin_public_key(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len,
			  unsigned char **der, size_t *len)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
	CK_RV rv = CKR_OK;
	HW_RETURN_IF(id == NULL || id_len == 0 || der == NULL || len == NULL, CKR_ARGUMENTS_BAD);
	*der = NULL;
	for (size_t c = 0; rv == CKR_OK && *der == NULL && c < HW_ARRAY_LEN(classes); c++) {
		CK_OBJECT_HANDLE *hs = NULL;
		size_t nh = 0;
		rv = find_id(s, classes[c], id, id_len, &hs, &nh);
		if (rv == CKR_OK && nh > 0)
			rv = hw_adm_attr_get(s, hs[0], CKA_PUBLIC_KEY_INFO, der, len);
		free(hs);
	}
	return rv == CKR_OK && *der == NULL ? CKR_OBJECT_HANDLE_INVALID : rv;
}

CK_RV hw_admin_import_cert(CK_SESSION_HANDLE s, const unsigned char *id, size_t id_len, const char *label,
			   const unsigned char *der, size_t len)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE h;
	const unsigned char *p = der;
	unsigned char *subject = NULL;
	HW_RETURN_IF(id == NULL || id_len == 0 || label == NULL || der == NULL || len == 0 || len > LONG_MAX,
		     CKR_ARGUMENTS_BAD);
	/* the subject is required on an X.509 certificate object (P 4.6.3) */
	X509 *x = d2i_X509(NULL, &p, (long)len);
	int slen = x != NULL && p == der + len ? i2d_X509_NAME(X509_get_subject_name(x), &subject) : -1;
	X509_free(x);
	if (slen <= 0)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_ID, (void *)id, (CK_ULONG)id_len },
		{ CKA_LABEL, (void *)label, (CK_ULONG)strlen(label) },
		{ CKA_SUBJECT, subject, (CK_ULONG)slen },
		{ CKA_VALUE, (void *)der, (CK_ULONG)len },
	};
	CK_RV rv = hw_C_CreateObject(s, t, HW_ARRAY_LEN(t), &h);
	OPENSSL_free(subject);
	return rv;
}
