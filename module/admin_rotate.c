/*
 * The operator's API, part three (admin.h): key rotation (a new version of
 * the key where its backend has versions, else a new key pair for the
 * label; the old public key kept with an end date, the old private key
 * destroyed or disabled) and the keys due for it.
 */
#include "module/admin_int.h"
#include "module/fns.h"
#include "module/objutil.h"
#include "module/audit.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* On the token's keys of class cls with k's CKA_ID: set the date attribute
 * date to today (UTC), or clear it (today false); date 0: set the key
 * version instead. */
static CK_RV mark_keys(CK_SESSION_HANDLE s, const hw_admin_key *k, CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE date,
		       bool today, CK_ULONG version)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_ID, k->id, (CK_ULONG)k->id_len },
	};
	CK_OBJECT_HANDLE *hs = NULL;
	size_t n = 0;
	char ymd[9];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ymd, sizeof(ymd), "%Y%m%d", &tm);
	CK_ATTRIBUTE a = { date, ymd, today ? sizeof(CK_DATE) : 0 };
	CK_RV rv = hw_adm_find_all(s, t, HW_ARRAY_LEN(t), &hs, &n);
	for (size_t i = 0; rv == CKR_OK && i < n; i++)
		rv = date != 0 ? hw_C_SetAttributeValue(s, hs[i], &a, 1) : hw_obj_set_version(s, hs[i], version);
	free(hs);
	return rv;
}

/* The new key pair: its start date and the version after the old one.
 * Best effort: a token that keeps neither still has a working key. */
static void mark_new(CK_SESSION_HANDLE s, const hw_admin_key *neu, CK_ULONG version)
{
	static const CK_OBJECT_CLASS both[] = { CKO_PUBLIC_KEY, CKO_PRIVATE_KEY };
	for (size_t i = 0; i < HW_ARRAY_LEN(both); i++) {
		CK_RV rv = mark_keys(s, neu, both[i], CKA_START_DATE, true, 0);
		if (rv == CKR_OK)
			rv = mark_keys(s, neu, both[i], 0, false, version);
		if (rv != CKR_OK)
			hw_info("rotate: the new key's start date or version (%lu) is not kept: %s",
				(unsigned long)version, hw_rv_name(rv));
	}
}

/* "rotation": {"retire": "disable"}: the old private key stays on the
 * token for the record but can do nothing: no sign, decrypt or unwrap, an
 * end date, and a label of its own ("web (retired v1)"), so that the label
 * finds only the new key. */
static CK_RV disable_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *label, CK_ULONG version)
{
	static const CK_ATTRIBUTE_TYPE uses[] = { CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN_RECOVER, CKA_DERIVE };
	CK_BBOOL no = CK_FALSE;
	char retired[300], ymd[9];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ymd, sizeof(ymd), "%Y%m%d", &tm);
	int n = snprintf(retired, sizeof(retired), "%.250s (retired v%lu)", label, (unsigned long)version);
	CK_ATTRIBUTE t[HW_ARRAY_LEN(uses) + 2];
	CK_ULONG tn = 0;
	for (size_t i = 0; i < HW_ARRAY_LEN(uses); i++) {
		unsigned char *v = NULL;
		size_t len = 0;
		/* only the uses the key has: a token may refuse an attribute
		 * its key type does not take */
		if (hw_adm_attr_get(s, h, uses[i], &v, &len) == CKR_OK && v != NULL && len == 1 && v[0])
			hw_adm_tmpl_add(t, &tn, uses[i], &no, sizeof(no));
		free(v);
	}
	hw_adm_tmpl_add(t, &tn, CKA_END_DATE, ymd, sizeof(CK_DATE));
	hw_adm_tmpl_add(t, &tn, CKA_LABEL, retired, (CK_ULONG)n);
	return hw_C_SetAttributeValue(s, h, t, tn);
}

/* The backend's own new version of private key h (CKR_FUNCTION_NOT_SUPPORTED:
 * it has none), read back as the new key. */
static CK_RV new_version(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *token, hw_admin_key **out)
{
	CK_OBJECT_HANDLE pub_h, priv_h;
	CK_RV rv = hw_keypair_rotate(s, h, &pub_h, &priv_h);
	hw_admin_key *k = NULL;
	if (rv == CKR_OK && (k = calloc(1, sizeof(*k))) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && (rv = hw_adm_key_read(s, priv_h, CKO_PRIVATE_KEY, token, k)) != CKR_OK) {
		free(k);
		k = NULL;
	}
	*out = k;
	return rv;
}

CK_RV hw_admin_rotate(CK_SESSION_HANDLE s, const char *label, const unsigned char *id, size_t id_len,
		      hw_admin_key **old_out, hw_admin_key **new_out)
{
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG version = 1;
	size_t n = 0;
	char token[33], note[256];
	hw_admin_key *old = NULL, *neu = NULL;
	HW_RETURN_IF(label == NULL || old_out == NULL || new_out == NULL || (id == NULL && id_len > 0),
		     CKR_ARGUMENTS_BAD);
	*old_out = *new_out = NULL;
	CK_RV rv = hw_adm_find_private(s, true, label, id, id_len, token, &hs, &n);
	if (rv == CKR_OK && n != 1)
		rv = n == 0 ? CKR_KEY_HANDLE_INVALID : CKR_TEMPLATE_INCONSISTENT;
	if (rv == CKR_OK && (old = calloc(1, sizeof(*old))) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK && (rv = hw_adm_key_read(s, hs[0], CKO_PRIVATE_KEY, token, old)) != CKR_OK) {
		free(old);
		old = NULL;
	}
	if (rv == CKR_OK && old->algorithm[0] == '\0')
		rv = CKR_KEY_TYPE_INCONSISTENT;
	/* the old public key first: if the token cannot date it, nothing
	 * else changes */
	if (rv == CKR_OK && hw_adm_attr_ulong(s, hs[0], CKA_HWAGG_KEY_VERSION, &version) != CKR_OK)
		version = 1;
	if (rv == CKR_OK)
		rv = mark_keys(s, old, CKO_PUBLIC_KEY, CKA_END_DATE, true, 0);
	/* the service's own new version of the key where it has one, else a
	 * new key pair with the same label */
	bool versioned = false;
	if (rv == CKR_OK) {
		rv = new_version(s, hs[0], token, &neu);
		versioned = rv == CKR_OK;
		if (rv == CKR_FUNCTION_NOT_SUPPORTED)
			rv = hw_admin_keygen(s, old->algorithm, label, NULL, 0, &neu);
		if (rv != CKR_OK)
			mark_keys(s, old, CKO_PUBLIC_KEY, CKA_END_DATE, false, 0);
	}
	if (rv == CKR_OK)
		mark_new(s, neu, version + 1);
	hw_module_desc d;
	bool disable = hw_module_describe(&d) == CKR_OK && d.rotation_disable;
	if (rv == CKR_OK && disable && (rv = disable_key(s, hs[0], label, version)) != CKR_OK)
		hw_warn("rotate: the new key is made, but the old private key of \"%s\" could not be disabled (%s): "
			"destroy it (hwagg delete)", label, hw_rv_name(rv));
	else if (rv == CKR_OK && !disable)
		rv = hw_C_DestroyObject(s, hs[0]);
	if (old != NULL) {
		size_t o = (size_t)snprintf(note, sizeof(note), "label %.64s: %s, version %lu -> %lu%s, old private key %s, "
					    "id ", label, old->algorithm, (unsigned long)version,
					    (unsigned long)version + 1, versioned ? " (the service's new version)" : "",
					    disable ? "disabled" : "destroyed");
		for (size_t i = 0; i < old->id_len && i < 32 && o + 3 < sizeof(note); i++)
			o += (size_t)snprintf(note + o, sizeof(note) - o, "%02x", old->id[i]);
		o += (size_t)snprintf(note + o, sizeof(note) - o > 0 ? sizeof(note) - o : 0, " -> id ");
		for (size_t i = 0; neu != NULL && i < neu->id_len && i < 32 && o + 3 < sizeof(note); i++)
			o += (size_t)snprintf(note + o, sizeof(note) - o, "%02x", neu->id[i]);
		hw_audit_note(token, "rotate", note, rv);
	}
	free(hs);
	if (rv == CKR_OK) {
		*old_out = old;
		*new_out = neu;
	} else {
		hw_admin_keys_free(old, old != NULL);
		hw_admin_keys_free(neu, neu != NULL);
	}
	return rv;
}

long long hw_admin_created_time(const char *created)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = created != NULL && created[0] != '\0' ? strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end != NULL && *end == '\0' ? (long long)timegm(&tm) : -1;
}

CK_RV hw_admin_due(CK_SLOT_ID id, unsigned days, unsigned *due, unsigned *undated)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LOCAL, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE *hs = NULL;
	CK_SESSION_HANDLE s;
	size_t n = 0;
	HW_RETURN_IF(due == NULL || undated == NULL, CKR_ARGUMENTS_BAD);
	*due = *undated = 0;
	CK_RV rv = hw_C_OpenSession(id, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		return rv;
	long long now = (long long)time(NULL);
	if ((rv = hw_adm_find_all(s, t, HW_ARRAY_LEN(t), &hs, &n)) == CKR_OK) {
		for (size_t i = 0; rv == CKR_OK && i < n; i++) {
			char created[32], end[16];
			if ((rv = hw_adm_attr_text(s, hs[i], CKA_END_DATE, end, sizeof(end))) != CKR_OK ||
			    (rv = hw_adm_attr_text(s, hs[i], CKA_HWAGG_CREATED, created, sizeof(created))) != CKR_OK)
				break;
			long long t0 = hw_admin_created_time(created);
			if (end[0] != '\0')
				continue;           /* retired by a rotation */
			if (t0 < 0)
				(*undated)++;
			else if (days > 0 && now - t0 >= (long long)days * 86400)
				(*due)++;
		}
	}
	free(hs);
	hw_C_CloseSession(s);
	return rv;
}
