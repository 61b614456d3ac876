/*
 * Audit events to records (audit.h): who and when, the slot, the key as it
 * names itself, the mechanism and the result. Signatures and decryptions
 * are either one record each ("sign_events": "each") or counted per key,
 * mechanism and result and written as one record per key at most once a
 * second and at C_Finalize ("summary", the default): the hot path then
 * takes one mutex and increments a counter.
 *
 * hwagg starts no thread for this (applications may forbid it): counts are
 * flushed by the next event after a second has passed, and at finalize.
 */
#include "module/audit_int.h"
#include "module/global.h"
#include "common/hwagg.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "objects/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SUMMARY_MAX      64       /* keys counted at once; a full table is flushed */
#define SUMMARY_SECONDS  1.0
#define KEY_JSON_MAX     1536
#define STR_MAX          256      /* bytes of a label or name kept in a record */
#define URI_MAX          1024

static const char *const kind_names[HW_AUDIT_KIND_COUNT] = {
	[HW_AUDIT_KEYGEN] = "keygen", [HW_AUDIT_IMPORT] = "import", [HW_AUDIT_DESTROY] = "destroy",
	[HW_AUDIT_LOGIN] = "login", [HW_AUDIT_LOGOUT] = "logout", [HW_AUDIT_SIGN] = "sign",
	[HW_AUDIT_DECRYPT] = "decrypt", [HW_AUDIT_WRAP] = "wrap", [HW_AUDIT_UNWRAP] = "unwrap",
	[HW_AUDIT_POLICY] = "policy",
	[HW_AUDIT_NOTE] = "note",
};

/* One key's count of one kind, mechanism and result. */
typedef struct sum_entry {
	hw_audit_kind kind;
	size_t slot;
	CK_OBJECT_HANDLE handle;
	const char *mech;             /* the mechanism table's name: static */
	CK_RV rv;
	uint64_t count;
	char first[32];
	char fields[KEY_JSON_MAX];    /* slot, backend and key, written once */
} sum_entry;

static struct {
	bool on;                      /* read without the lock: set before and after use */
	hw_audit_file file;
	hw_audit_conf conf;           /* copied; strings owned */
	char exe[512];
	uid_t uid;
	pthread_mutex_t sum_lock;     /* the counts; a leaf, never held across I/O */
	sum_entry sums[SUMMARY_MAX];
	size_t nsums;
	double last_flush;
	int64_t last_cp;              /* monotonic seconds of this process's last checkpoint (atomic) */
	int cp_running;               /* one checkpoint at a time in a process */
} au = { .sum_lock = PTHREAD_MUTEX_INITIALIZER };

__thread bool hw_audit_busy;
/* This thread is recording a backend's note, maybe from inside a hook that
 * holds a slot's io lock: no checkpoint is signed now (the next record
 * outside a hook does it). */
static __thread bool in_note;

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void utc_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

bool hw_audit_on(void)
{
	return __atomic_load_n(&au.on, __ATOMIC_ACQUIRE);
}

/* ,"time":...,"pid":...,"uid":...,"exe":... */
static void common_fields(char *buf, size_t cap)
{
	char t[40];
	hw_jsonw w;
	utc_now(t, sizeof(t));
	hw_jsonw_init(&w, buf, cap);
	hw_jsonw_fmt(&w, ",\"time\":\"%s\",\"pid\":%ld,\"uid\":%lu", t, (long)getpid(), (unsigned long)au.uid);
	hw_jsonw_kstr(&w, "exe", au.exe, STR_MAX);
}

static void attr_str(hw_jsonw *w, const char *name, const hw_attrs *a, CK_ATTRIBUTE_TYPE t, size_t max)
{
	const CK_ATTRIBUTE *v = hw_attrs_get(a, t);
	if (v == NULL || v->pValue == NULL)
		return;
	hw_jsonw_fmt(w, ",\"%s\":", name);
	hw_jsonw_str(w, v->pValue, v->ulValueLen, max);
}

/* ,"slot":..,"backend":..,"key":{..}: what a key says about itself, never
 * its value. */
static void subject_fields(hw_jsonw *w, const hw_slot *s, const hw_attrs *key)
{
	static const char *const classes[] = { "data", "certificate", "public", "private", "secret" };
	if (s != NULL) {
		hw_jsonw_kstr(w, "slot", s->conf->name, STR_MAX);
		const CK_ATTRIBUTE *b = key != NULL ? hw_attrs_get(key, CKA_HWAGG_BACKEND) : NULL;
		if (b != NULL && b->pValue != NULL) {
			hw_jsonw_raw(w, ",\"backend\":");
			hw_jsonw_str(w, b->pValue, b->ulValueLen, STR_MAX);
		} else {
			hw_jsonw_kstr(w, "backend", s->conf->type, STR_MAX);
		}
	}
	if (key == NULL)
		return;
	CK_ULONG cls = hw_attrs_get_ulong(key, CKA_CLASS, CK_UNAVAILABLE_INFORMATION);
	const CK_ATTRIBUTE *id = hw_attrs_get(key, CKA_ID);
	hw_jsonw_fmt(w, ",\"key\":{\"class\":\"%s\"", cls < HW_ARRAY_LEN(classes) ? classes[cls] : "other");
	if (id != NULL && id->pValue != NULL) {
		hw_jsonw_raw(w, ",\"id\":");
		hw_jsonw_hex(w, id->pValue, id->ulValueLen > 64 ? 64 : id->ulValueLen);
	}
	attr_str(w, "label", key, CKA_LABEL, STR_MAX);
	CK_ULONG ver = hw_attrs_get_ulong(key, CKA_HWAGG_KEY_VERSION, CK_UNAVAILABLE_INFORMATION);
	if (ver != CK_UNAVAILABLE_INFORMATION)
		hw_jsonw_fmt(w, ",\"version\":%lu", (unsigned long)ver);
	attr_str(w, "uri", key, CKA_HWAGG_PROVIDER_URI, URI_MAX);
	hw_jsonw_raw(w, "}");
}

void hw_audit_subject_copy(hw_attrs *dst, const hw_attrs *src)
{
	static const CK_ATTRIBUTE_TYPE shown[] = { CKA_CLASS, CKA_ID, CKA_LABEL, CKA_HWAGG_KEY_VERSION,
						   CKA_HWAGG_BACKEND, CKA_HWAGG_PROVIDER_URI };
	for (size_t i = 0; hw_audit_on() && i < HW_ARRAY_LEN(shown); i++) {
		const CK_ATTRIBUTE *a = hw_attrs_get(src, shown[i]);
		if (a != NULL && hw_attrs_set(dst, a->type, a->pValue, a->ulValueLen) != CKR_OK)
			return;
	}
}

CK_RV hw_audit_write(const char *fields, uint64_t *seq, unsigned char *head)
{
	char common[1024], *line = NULL;
	common_fields(common, sizeof(common));
	if (au.conf.syslog && (line = malloc(HW_AUDIT_LINE_MAX)) == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = hw_audit_file_append(&au.file, common, fields, seq, head, line);
	/* the line as written, chain fields included, so that a SIEM can check
	 * it too; the facility goes with each call: openlog would change the
	 * application's own identity */
	if (rv == CKR_OK && line != NULL)
		syslog(LOG_AUTHPRIV | LOG_INFO, "hwagg-audit: %s", line);
	free(line);
	return rv;
}

/* Append, then sign the head when a checkpoint is due: every
 * checkpoint_every records of the whole log (whichever process writes the
 * record whose number is a multiple), or checkpoint_seconds after this
 * process's last one. */
static void write_record(const char *fields)
{
	uint64_t seq = 0;
	unsigned char head[HW_AUDIT_HASH_LEN];
	if (hw_audit_write(fields, &seq, head) != CKR_OK || au.conf.checkpoint_key == NULL || hw_audit_busy ||
	    in_note)
		return;
	int64_t now = (int64_t)mono_now();
	bool due = (au.conf.checkpoint_every > 0 && seq % au.conf.checkpoint_every == 0) ||
		   (au.conf.checkpoint_seconds > 0 &&
		    now - __atomic_load_n(&au.last_cp, __ATOMIC_RELAXED) >= (int64_t)au.conf.checkpoint_seconds);
	if (!due || __atomic_exchange_n(&au.cp_running, 1, __ATOMIC_ACQ_REL))
		return;
	__atomic_store_n(&au.last_cp, now, __ATOMIC_RELAXED);
	hw_audit_checkpoint(au.conf.checkpoint_key, seq, head);
	__atomic_store_n(&au.cp_running, 0, __ATOMIC_RELEASE);
}

static void result_field(hw_jsonw *w, const char *mech, CK_RV rv)
{
	if (mech != NULL)
		hw_jsonw_kstr(w, "mech", mech, 64);
	hw_jsonw_fmt(w, ",\"result\":\"%s\"", hw_rv_name(rv));
}

/* ---- signature counts ------------------------------------------------------ */

/* Take the counted entries out (sum_lock held) into out; returns how many. */
static size_t take_sums_inlock(sum_entry *out)
{
	size_t n = au.nsums;
	memcpy(out, au.sums, n * sizeof(*out));
	au.nsums = 0;
	au.last_flush = mono_now();
	return n;
}

static void write_sums(const sum_entry *e, size_t n)
{
	char buf[HW_AUDIT_LINE_MAX], now[40];
	hw_jsonw w;
	utc_now(now, sizeof(now));
	for (size_t i = 0; i < n; i++) {
		hw_jsonw_init(&w, buf, sizeof(buf));
		hw_jsonw_fmt(&w, ",\"event\":\"%s\"", kind_names[e[i].kind]);
		hw_jsonw_raw(&w, e[i].fields);
		result_field(&w, e[i].mech, e[i].rv);
		hw_jsonw_fmt(&w, ",\"count\":%" PRIu64 ",\"first\":\"%s\",\"last\":\"%s\"", e[i].count,
			     e[i].first, now);
		write_record(buf);
	}
}

/* Flush when a second has passed or the table is full. */
static void flush_sums(bool force)
{
	sum_entry *out;
	size_t n = 0;
	pthread_mutex_lock(&au.sum_lock);
	bool due = au.nsums > 0 && (force || au.nsums == SUMMARY_MAX || mono_now() - au.last_flush >= SUMMARY_SECONDS);
	pthread_mutex_unlock(&au.sum_lock);
	if (!due || (out = malloc(SUMMARY_MAX * sizeof(*out))) == NULL)
		return;
	pthread_mutex_lock(&au.sum_lock);
	n = take_sums_inlock(out);
	pthread_mutex_unlock(&au.sum_lock);
	write_sums(out, n);
	free(out);
}

/* Count one signature or decryption; the first of a key builds its fields. */
static void count(const hw_audit_ev *ev)
{
	size_t slot = ev->slot != NULL ? ev->slot->index : SIZE_MAX;
	pthread_mutex_lock(&au.sum_lock);
	sum_entry *e = NULL;
	for (size_t i = 0; i < au.nsums && e == NULL; i++) {
		sum_entry *c = &au.sums[i];
		if (c->handle == ev->handle && c->slot == slot && c->kind == ev->kind && c->rv == ev->rv &&
		    c->mech == ev->mech)
			e = c;
	}
	if (e == NULL && au.nsums < SUMMARY_MAX) {
		hw_jsonw w;
		e = &au.sums[au.nsums++];
		e->kind = ev->kind;
		e->slot = slot;
		e->handle = ev->handle;
		e->mech = ev->mech;
		e->rv = ev->rv;
		e->count = 0;
		utc_now(e->first, sizeof(e->first));
		hw_jsonw_init(&w, e->fields, sizeof(e->fields));
		subject_fields(&w, ev->slot, ev->key);
		if (!w.ok)
			e->fields[0] = '\0';
		if (au.nsums == 1)
			au.last_flush = mono_now();
	}
	if (e != NULL)
		e->count++;
	bool full = e == NULL;
	pthread_mutex_unlock(&au.sum_lock);
	if (full) {
		/* the table filled up between two flushes: write it, count again */
		flush_sums(true);
		count(ev);
	}
}

/* A process that exits without C_Finalize (many do) still has its counts
 * written. Not by a forked child that did not initialize again (they are
 * its parent's), and not if another thread holds the counts at exit; no
 * checkpoint is signed this late. */
__attribute__((destructor)) static void flush_at_exit(void)
{
	sum_entry *out;
	if (!hw_audit_on() || au.file.pid != getpid() || (out = malloc(SUMMARY_MAX * sizeof(*out))) == NULL)
		return;
	if (pthread_mutex_trylock(&au.sum_lock) == 0) {
		size_t n = take_sums_inlock(out);
		pthread_mutex_unlock(&au.sum_lock);
		hw_audit_busy = true;
		write_sums(out, n);
	}
	free(out);
}

/* ---- events ------------------------------------------------------------------ */

void hw_audit_event(const hw_audit_ev *ev)
{
	char buf[HW_AUDIT_LINE_MAX];
	hw_jsonw w;
	if (ev == NULL || !hw_audit_on() || hw_audit_busy || (size_t)ev->kind >= HW_AUDIT_KIND_COUNT)
		return;
	if ((ev->kind == HW_AUDIT_SIGN || ev->kind == HW_AUDIT_DECRYPT) &&
	    au.conf.sign_events == HW_AUDIT_SIGN_SUMMARY) {
		count(ev);
		flush_sums(false);
		return;
	}
	flush_sums(false);
	hw_jsonw_init(&w, buf, sizeof(buf));
	hw_jsonw_fmt(&w, ",\"event\":\"%s\"", kind_names[ev->kind]);
	subject_fields(&w, ev->slot, ev->key);
	hw_jsonw_kstr(&w, "user", ev->user, 16);
	hw_jsonw_kstr(&w, "what", ev->what, STR_MAX);
	hw_jsonw_kstr(&w, "detail", ev->detail, 2 * STR_MAX);
	result_field(&w, ev->mech, ev->rv);
	if (!w.ok) {
		hw_error("audit: a %s record is too long to write", kind_names[ev->kind]);
		return;
	}
	write_record(buf);
}

void hw_audit_event_in_lock(const hw_audit_ev *ev)
{
	bool was = in_note;
	in_note = true;
	hw_audit_event(ev);
	in_note = was;
}

void hw_audit_note(const char *slot, const char *what, const char *detail, CK_RV rv)
{
	hw_audit_ev ev = { .kind = HW_AUDIT_NOTE, .what = what != NULL ? what : "?", .detail = detail, .rv = rv };
	for (size_t i = 0; slot != NULL && i < hw_g.nslots; i++)
		if (strcmp(hw_g.slots[i].conf->name, slot) == 0)
			ev.slot = &hw_g.slots[i];
	hw_audit_event_in_lock(&ev);
}

/* ---- open and close -------------------------------------------------------- */

static void conf_free(hw_audit_conf *c)
{
	free(c->path);
	free(c->checkpoint_key);
	memset(c, 0, sizeof(*c));
}

static CK_RV conf_copy(hw_audit_conf *dst, const hw_audit_conf *src)
{
	*dst = *src;
	dst->path = NULL;
	dst->checkpoint_key = src->checkpoint_key != NULL ? strdup(src->checkpoint_key) : NULL;
	if (src->checkpoint_key != NULL && dst->checkpoint_key == NULL)
		return CKR_HOST_MEMORY;
	/* a key with neither trigger: every 1000 records */
	if (dst->checkpoint_key != NULL && dst->checkpoint_every == 0 && dst->checkpoint_seconds == 0)
		dst->checkpoint_every = 1000;
	return CKR_OK;
}

void hw_audit_path(const hw_config *cfg, char *out, size_t cap)
{
	if (cfg->audit.path != NULL)
		snprintf(out, cap, "%s", cfg->audit.path);
	else
		snprintf(out, cap, "%s/audit.jsonl", cfg->store);
}

CK_RV hw_audit_open(const hw_config *cfg)
{
	char path[4096];
	CK_RV rv;
	memset(&au.file, 0, sizeof(au.file));
	au.file.fd = -1;
	au.nsums = 0;
	if (!cfg->audit.enabled) {
		hw_info("audit: off (\"audit\": {\"enabled\": false})");
		return CKR_OK;
	}
	hw_audit_path(cfg, path, sizeof(path));
	/* the default is next to the store, which may not exist yet */
	if (cfg->audit.path == NULL && hw_store_mkdirs(cfg->store) != CKR_OK)
		path[0] = '\0';
	if ((rv = conf_copy(&au.conf, &cfg->audit)) != CKR_OK)
		return rv;
	ssize_t n = readlink("/proc/self/exe", au.exe, sizeof(au.exe) - 1);
	au.exe[n > 0 ? n : 0] = '\0';
	au.uid = getuid();
	au.last_cp = (int64_t)mono_now();
	rv = CKR_FUNCTION_FAILED;
	if (path[0] != '\0') {
		if ((rv = hw_audit_file_open(&au.file, path)) == CKR_OK) {
			__atomic_store_n(&au.on, true, __ATOMIC_RELEASE);
			hw_debug("audit: %s, signatures %s", path,
				 au.conf.sign_events == HW_AUDIT_SIGN_EACH ? "each recorded" : "counted per key");
			return CKR_OK;
		}
		hw_audit_file_close(&au.file);
	}
	conf_free(&au.conf);
	if (cfg->environment != HW_ENV_DEVELOPMENT) {
		hw_error("audit: the log %s cannot be written in %s mode: C_Initialize fails (set \"audit\": "
			 "{\"path\": ...} to a writable file)", path[0] ? path : cfg->store,
			 hw_env_text(cfg));
		return rv == CKR_HOST_MEMORY ? rv : CKR_FUNCTION_FAILED;
	}
	hw_warn("audit: the log %s cannot be written: nothing is audited (development mode)",
		path[0] ? path : cfg->store);
	return CKR_OK;
}

void hw_audit_close(bool child)
{
	if (!hw_audit_on())
		return;
	if (child) {
		au.nsums = 0;         /* the parent's counts: the parent writes them */
	} else {
		/* the slots are closed by now: no checkpoint can be signed */
		hw_audit_busy = true;
		flush_sums(true);
		hw_audit_busy = false;
	}
	__atomic_store_n(&au.on, false, __ATOMIC_RELEASE);
	hw_audit_file_close(&au.file);
	conf_free(&au.conf);
}

void hw_audit_atfork_child(void)
{
	/* a parent thread may have held them at fork time */
	pthread_mutex_init(&au.sum_lock, NULL);
	if (au.file.path != NULL)
		pthread_mutex_init(&au.file.lock, NULL);
	au.cp_running = 0;
}
