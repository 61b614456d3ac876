/*
 * Many threads and a second process on the soft slot, through the built
 * module. Every call must return what the specification says it returns,
 * and every signature must verify with OpenSSL against the public key.
 * Iteration counts are fixed; nothing is timed. Run it under
 * ThreadSanitizer (tests/concurrency/tsan.sh) to see races that do not
 * crash.
 *
 * Slots: 0 "conc" and 1 "other", two soft tokens in one store (one SQLite
 * file, so a write for either token makes the other reload).
 *
 * Login state belongs to the application and the token (UG "Sessions";
 * B 5.6.8 | 5.6.10): a C_Logout on slot 0 would end every thread's
 * access to the signing key for good, and the signers would be right to
 * fail. So slot 0 is logged in once, before the threads start, and stays
 * logged in; the thread that logs in and out does it on slot 1, where it
 * alone decides the login state and can check exactly what a logout does
 * (private objects gone, their handles invalid for good, a new login
 * brings them back under new handles).
 *
 * The second process is this program again (argv[1] "writer"): it loads
 * the module itself and creates and destroys token objects in the same
 * store, so that this process sees the store change under it and reloads.
 *
 * reload_while_signing is the smallest case of the known use-after-free:
 * one thread signs with a token key while another writes the store and
 * searches, which reloads the slot's objects and replaces (frees) the
 * key's attributes that the signing path reads without the slot lock.
 * ThreadSanitizer reports it at once; without a sanitizer it shows, now
 * and then, as a failed C_Sign.
 *
 * secret_key_threads: threads of their own sessions encrypt, decrypt and
 * MAC with one AES key and one HMAC key at once; the soft slot keeps a
 * ready OpenSSL context per key and thread place, handed from operation to
 * operation, and every result is checked against OpenSSL's own.
 */
#include "tests/concurrency/conc.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

/* Rounds each thread runs at least (see keep_going) */
#define SIGNERS 8
#define SIGNS 60             /* per signer, alternating CKM_ECDSA and CKM_ECDSA_SHA256 */
#define CHURNS 20            /* token data object + certificate, made and destroyed */
#define FINDS 20
#define LOGINS 4             /* login, sign, logout on slot 1 (scrypt each) */
#define RELOAD_SIGNS 200     /* the two-thread reload case: signatures */
#define RELOADS 30           /* and store writes, each followed by a search */
#define LOOP_CAP 20000       /* no thread goes on longer than this */
#define SK_THREADS 6
#define SK_ROUNDS 40         /* per thread: GCM, CBC_PAD and HMAC, each both ways */

static CK_OBJECT_HANDLE key;              /* slot 0's private key */
static EVP_PKEY *pub, *other;
static unsigned char *cert_der;
static int cert_len;

/* What one thread did: the first failure (its step and CK_RV) and counts. */
typedef struct result {
	unsigned long min;           /* rounds to run at least */
	unsigned long failures, rounds;
	bool counted;                /* no longer counted in pending */
	const char *what;
	CK_RV rv;
	char detail[160];
} result;

/* A failure; the first one is kept with its details (printf format). */
__attribute__((format(printf, 4, 5)))
static void failed_at(result *r, const char *what, CK_RV rv, const char *fmt, ...)
{
	if (r->failures++ > 0)
		return;
	r->what = what;
	r->rv = rv;
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
		va_end(ap);
	}
}

static void failed(result *r, const char *what, CK_RV rv)
{
	failed_at(r, what, rv, NULL);
}

/* Every thread's failures in one report, so that one does not hide another. */
static void report(char *out, size_t len, const char *who, const result *r)
{
	size_t n = strlen(out);
	if (r->failures > 0)
		snprintf(out + n, len - n, "\n  %s: %lu failure(s) in %lu rounds, the first: %s = 0x%lx%s%s", who,
			 r->failures, r->rounds, r->what, (unsigned long)r->rv, r->detail[0] ? ": " : "", r->detail);
}

/* Every thread runs its minimum number of rounds and then goes on until
 * every thread of the test has run its minimum, so that each one's work
 * overlaps all the others' whatever their speeds (no clock involved). */
static int pending;          /* threads that have not run their minimum yet (atomic) */

static void stop_counting(result *r)
{
	if (!r->counted) {
		r->counted = true;
		__atomic_sub_fetch(&pending, 1, __ATOMIC_ACQ_REL);
	}
}

static bool keep_going(result *r)
{
	if (r->rounds >= r->min)
		stop_counting(r);
	return r->rounds < r->min || (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) > 0 && r->rounds < LOOP_CAP);
}

static int writer_ctl = -1;  /* the second process does a round per byte written here */

/* A self-signed certificate, for C_CreateObject of certificates. */
static void make_cert(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	ck_assert(k != NULL && x != NULL);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (unsigned char *)"conc", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ck_assert(X509_sign(x, k, EVP_sha256()) > 0);
	cert_der = NULL;
	cert_len = i2d_X509(x, &cert_der);
	ck_assert_int_gt(cert_len, 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void setup(void)
{
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE p, v, other_pub;
	conc_world("{\"name\": \"conc\", \"type\": \"soft\"}, {\"name\": \"other\", \"type\": \"soft\"}");
	p11_load();
	CKR(p11->C_Initialize(NULL));
	conc_init_soft(0, "conc");
	conc_init_soft(1, "other");
	/* slot 0: logged in from here to the end (the session stays open) */
	s = p11_user_session();
	p11_gen_ec(s, "signer", CK_TRUE, &p, &key);
	pub = conc_pubkey(s, p);
	ck_assert_ptr_nonnull(pub);
	/* slot 1: a key for the login thread, then back to the public state */
	CKR(p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	CKR(p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN)));
	p11_gen_ec(s, "other-key", CK_TRUE, &other_pub, &v);
	other = conc_pubkey(s, other_pub);
	ck_assert_ptr_nonnull(other);
	CKR(p11->C_Logout(s));
	make_cert();
}

static void teardown(void)
{
	p11->C_Finalize(NULL);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(other);
	OPENSSL_free(cert_der);
	p11_world_remove();
}

/* ---- the threads ------------------------------------------------------------------ */
/* Rounds of fn on a session of the thread's own on slot 0, each failure
 * counted (the first kept with its round). */
typedef CK_RV round_fn(CK_SESSION_HANDLE s, const void *arg, unsigned long i, const char **what);

static void session_rounds(result *r, round_fn *fn, const void *arg)
{
	CK_SESSION_HANDLE s;
	const char *what = NULL;
	CK_RV rv = p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		failed(r, "C_OpenSession", rv);
		stop_counting(r);
		return;
	}
	for (; keep_going(r); r->rounds++)
		if ((rv = fn(s, arg, r->rounds, &what)) != CKR_OK)
			failed_at(r, what, rv, "round %lu", r->rounds);
	if ((rv = p11->C_CloseSession(s)) != CKR_OK)
		failed(r, "C_CloseSession", rv);
}

static CK_RV sign_round(CK_SESSION_HANDLE s, const void *arg, unsigned long i, const char **what)
{
	return conc_sign_ec(s, key, pub, i % 2 == 1, (unsigned)i, what);
}

/* Signs on a session of its own with the token key of slot 0. */
static void *signer(void *varg)
{
	session_rounds(varg, sign_round, NULL);
	return NULL;
}

/* A token data object labelled after round i. */
static CK_RV create_data(CK_SESSION_HANDLE s, const char *who, unsigned long i, CK_OBJECT_HANDLE *h)
{
	char label[48];
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	int n = snprintf(label, sizeof(label), "%s-%lu", who, i);
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &t, 1 }, { CKA_PRIVATE, &f, 1 },
		{ CKA_LABEL, label, (CK_ULONG)n }, { CKA_APPLICATION, "conc", 4 }, { CKA_VALUE, label, (CK_ULONG)n },
	};
	return p11->C_CreateObject(s, a, 6, h);
}

/* The two-thread case: every round writes the store (a new data object),
 * so the next search reloads the slot's objects, the signing key among
 * them, while the signer uses that key. */
static void *reloader(void *varg)
{
	result *r = varg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h, found[8];
	CK_ULONG n;
	CK_RV rv = p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		failed(r, "C_OpenSession", rv);
		stop_counting(r);
		return NULL;
	}
	for (; keep_going(r); r->rounds++) {
		if ((rv = create_data(s, "reload", r->rounds, &h)) != CKR_OK) {
			failed(r, "C_CreateObject", rv);
			continue;
		}
		if ((rv = p11->C_FindObjectsInit(s, NULL, 0)) != CKR_OK) {
			failed(r, "C_FindObjectsInit", rv);
		} else {
			if ((rv = p11->C_FindObjects(s, found, 8, &n)) != CKR_OK)
				failed(r, "C_FindObjects", rv);
			if ((rv = p11->C_FindObjectsFinal(s)) != CKR_OK)
				failed(r, "C_FindObjectsFinal", rv);
		}
		if ((rv = p11->C_DestroyObject(s, h)) != CKR_OK)
			failed(r, "C_DestroyObject", rv);
	}
	p11->C_CloseSession(s);
	return NULL;
}

/* Token data objects and certificates come and go. */
static void *churner(void *varg)
{
	result *r = varg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE d, c;
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL t = CK_TRUE;
	char label[32];
	CK_RV rv = p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		failed(r, "C_OpenSession", rv);
		stop_counting(r);
		return NULL;
	}
	for (; keep_going(r); r->rounds++) {
		int n = snprintf(label, sizeof(label), "cert-%lu", r->rounds);
		CK_ATTRIBUTE ca[] = {
			{ CKA_CLASS, &cc, sizeof(cc) }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) }, { CKA_TOKEN, &t, 1 },
			{ CKA_VALUE, cert_der, (CK_ULONG)cert_len }, { CKA_LABEL, label, (CK_ULONG)n },
		};
		char got[32];
		CK_ATTRIBUTE la = { CKA_LABEL, got, sizeof(got) };
		if (writer_ctl >= 0 && write(writer_ctl, "w", 1) != 1)
			failed(r, "asking the second process for a round (it is gone)", CKR_GENERAL_ERROR);
		if ((rv = create_data(s, "churn", r->rounds, &d)) != CKR_OK) {
			failed(r, "C_CreateObject(data)", rv);
			continue;
		}
		if ((rv = p11->C_CreateObject(s, ca, 5, &c)) != CKR_OK) {
			failed(r, "C_CreateObject(certificate)", rv);
		} else {
			/* the handle C_CreateObject gave is the object, until destroyed */
			if ((rv = p11->C_GetAttributeValue(s, c, &la, 1)) != CKR_OK)
				failed(r, "C_GetAttributeValue(certificate)", rv);
			else if (la.ulValueLen != (CK_ULONG)n || memcmp(got, label, (size_t)n) != 0)
				failed(r, "the label of the certificate just created", CKR_GENERAL_ERROR);
			if ((rv = p11->C_DestroyObject(s, c)) != CKR_OK)
				failed(r, "C_DestroyObject(certificate)", rv);
		}
		if ((rv = p11->C_DestroyObject(s, d)) != CKR_OK)
			failed(r, "C_DestroyObject(data)", rv);
	}
	p11->C_CloseSession(s);
	return NULL;
}

/* Searches: the signing key is always there, under its one handle (a
 * handle a session can use stays valid while the object and the session
 * do: B 3.4), and no search lists an object twice (checked by handle and
 * by CKA_UNIQUE_ID). An object another thread or process destroys between
 * the search and the read of its CKA_UNIQUE_ID is CKR_OBJECT_HANDLE_INVALID
 * there, which is right. */
static void *finder(void *varg)
{
	result *r = varg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h[4], all[256];
	CK_ULONG n, got;
	const char *what;
	CK_RV rv = p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		failed(r, "C_OpenSession", rv);
		stop_counting(r);
		return NULL;
	}
	for (; keep_going(r); r->rounds++) {
		if ((rv = conc_find(s, CKO_PRIVATE_KEY, "signer", h, 4, &n, &what)) != CKR_OK) {
			failed(r, what, rv);
			continue;
		}
		if (n != 1 || h[0] != key)
			failed_at(r, "the search for the signing key", CKR_GENERAL_ERROR,
				  "%lu handle(s), the first %lu, the key is %lu", (unsigned long)n,
				  (unsigned long)(n ? h[0] : 0), (unsigned long)key);
		/* everything, a few at a time */
		if ((rv = p11->C_FindObjectsInit(s, NULL, 0)) != CKR_OK) {
			failed(r, "C_FindObjectsInit(all)", rv);
			continue;
		}
		n = 0;
		while ((rv = p11->C_FindObjects(s, all + n, 3, &got)) == CKR_OK && got > 0 && n + got <= 250)
			n += got;
		if (rv != CKR_OK)
			failed(r, "C_FindObjects(all)", rv);
		if ((rv = p11->C_FindObjectsFinal(s)) != CKR_OK)
			failed(r, "C_FindObjectsFinal(all)", rv);
		unsigned char uid[256][64];
		CK_ULONG uid_len[256];
		for (CK_ULONG i = 0; i < n; i++) {
			CK_ATTRIBUTE a = { CKA_UNIQUE_ID, uid[i], sizeof(uid[i]) };
			rv = p11->C_GetAttributeValue(s, all[i], &a, 1);
			uid_len[i] = rv == CKR_OK ? a.ulValueLen : 0;
			if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID)
				failed(r, "C_GetAttributeValue(CKA_UNIQUE_ID)", rv);
			for (CK_ULONG j = 0; j < i; j++) {
				bool same = all[j] == all[i] ||
					    (uid_len[i] > 0 && uid_len[j] == uid_len[i] &&
					     memcmp(uid[j], uid[i], uid_len[i]) == 0);
				if (same)
					failed_at(r, "a search listing an object twice", CKR_GENERAL_ERROR,
						  "handles %lu and %lu are one object", (unsigned long)all[j],
						  (unsigned long)all[i]);
			}
		}
	}
	p11->C_CloseSession(s);
	return NULL;
}

/* Logs in and out of slot 1 LOGINS times, checking what each changes. */
static void *login_cycler(void *varg)
{
	result *r = varg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n;
	const char *what;
	CK_RV rv = p11->C_OpenSession(1, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		failed(r, "C_OpenSession(slot 1)", rv);
		stop_counting(r);
		return NULL;
	}
	for (; keep_going(r); r->rounds++) {
		CK_OBJECT_HANDLE v;
		if ((rv = p11->C_Login(s, CKU_USER, (unsigned char *)USER_PIN, strlen(USER_PIN))) != CKR_OK) {
			failed(r, "C_Login(slot 1)", rv);
			stop_counting(r);
			break;
		}
		if ((rv = conc_find(s, CKO_PRIVATE_KEY, "other-key", h, 2, &n, &what)) != CKR_OK) {
			failed(r, what, rv);
		} else if (n != 1) {
			failed(r, "the private key of slot 1 after C_Login", CKR_GENERAL_ERROR);
		} else if ((rv = conc_sign_ec(s, h[0], other, r->rounds % 2 == 0, (unsigned)r->rounds, &what)) != CKR_OK) {
			failed(r, what, rv);
		}
		v = n == 1 ? h[0] : CK_INVALID_HANDLE;
		if ((rv = p11->C_Logout(s)) != CKR_OK) {
			failed(r, "C_Logout(slot 1)", rv);
			stop_counting(r);
			break;
		}
		/* B 5.6.8 | 5.6.10: the private key is gone from view, its handle for good */
		CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
		if (v != CK_INVALID_HANDLE && (rv = p11->C_SignInit(s, &m, v)) != CKR_KEY_HANDLE_INVALID)
			failed(r, "C_SignInit with a private key handle after C_Logout", rv);
		if ((rv = conc_find(s, CKO_PRIVATE_KEY, NULL, h, 2, &n, &what)) != CKR_OK)
			failed(r, what, rv);
		else if (n != 0)
			failed(r, "a search for private keys after C_Logout", CKR_GENERAL_ERROR);
	}
	p11->C_CloseSession(s);
	return NULL;
}

/* ---- the second process ---------------------------------------------------------- */
/* In the writer: its own module instance; creates and destroys a token
 * data object on slot 0 for every byte read from stdin, until end of file.
 * The parent paces it so (a byte per round of its own object churn):
 * SQLite's busy handler is not fair, and a process writing in a tight loop
 * would starve the others' writes. Says "r" on stdout when it has its
 * session. Exit status: 0, or the step that failed. */
static int writer_main(void)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;
	CK_RV rv;
	signal(SIGALRM, SIG_DFL);    /* not Check's handler: it kills the process group */
	alarm(300);                  /* a deadlock here fails the parent's waitpid */
	/* p11_load asserts, which only works inside a test */
	void *dl = dlopen(getenv("HWAGG_MODULE"), RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (gfl == NULL || gfl(&p11) != CKR_OK) {
		fprintf(stderr, "writer: cannot load the module: %s\n", dlerror());
		return 1;
	}
	if ((rv = p11->C_Initialize(NULL)) != CKR_OK) {
		fprintf(stderr, "writer: C_Initialize: 0x%lx\n", (unsigned long)rv);
		return 2;
	}
	if ((rv = p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) != CKR_OK) {
		fprintf(stderr, "writer: C_OpenSession: 0x%lx\n", (unsigned long)rv);
		return 3;
	}
	if (write(1, "r", 1) != 1)
		return 5;
	char c;
	for (unsigned long i = 0; read(0, &c, 1) == 1; i++) {
		if ((rv = create_data(s, "writer", i, &h)) != CKR_OK) {
			fprintf(stderr, "writer: round %lu: C_CreateObject: 0x%lx\n", i, (unsigned long)rv);
			return 4;
		}
		if ((rv = p11->C_DestroyObject(s, h)) != CKR_OK) {
			fprintf(stderr, "writer: round %lu: C_DestroyObject: 0x%lx\n", i, (unsigned long)rv);
			return 6;
		}
	}
	if ((rv = p11->C_Finalize(NULL)) != CKR_OK) {
		fprintf(stderr, "writer: C_Finalize: 0x%lx\n", (unsigned long)rv);
		return 7;
	}
	return 0;
}

/* Start the writer; *ctl is its stdin (close it to stop the writer). */
static pid_t writer_start(int *ctl)
{
	int in[2], out[2];
	char c;
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { (char *)"test_concurrency", (char *)"writer", NULL };
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* it is ready before the threads start */
	ck_assert_msg(read(out[0], &c, 1) == 1 && c == 'r', "the writer process did not start");
	close(out[0]);
	*ctl = in[1];
	return pid;
}

static void writer_stop(pid_t pid, int ctl)
{
	int status;
	close(ctl);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the writer process failed (%s %d; its stderr says which step)",
		      WIFEXITED(status) ? "exit status" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* ---- secret keys ------------------------------------------------------------------ */
static CK_OBJECT_HANDLE sk_aes, sk_mac;
static const unsigned char sk_aes_val[32] = "conc-aes-256-key-0123456789abcd", sk_mac_val[32] = "conc-hmac-key";

typedef struct sk_arg {
	result r;
	unsigned id;
} sk_arg;

/* OpenSSL's AES-256-GCM of in under sk_aes_val: ciphertext, then the tag. */
static bool ossl_gcm(const unsigned char *iv, int ivlen, const unsigned char *in, int len, unsigned char *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0;
	bool ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, ivlen, NULL) == 1 &&
		  EVP_EncryptInit_ex(c, NULL, NULL, sk_aes_val, iv) == 1 && EVP_EncryptUpdate(c, out, &n, in, len) == 1 &&
		  EVP_EncryptFinal_ex(c, out + n, &f) == 1 &&
		  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + n + f) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

/* One round: a message of the thread's and round's own, GCM with a 12- or
 * 16-byte IV (decrypted in place every other round), CBC_PAD (a new
 * context each time the direction changes) and
 * HMAC-SHA256, each result compared with OpenSSL's and taken back. */
static CK_RV sk_round(CK_SESSION_HANDLE s, const void *arg, unsigned long i, const char **what)
{
	unsigned id = *(const unsigned *)arg;
	unsigned char msg[96], iv[16], ct[128], want[128], back[128], mac[32], wmac[32];
	CK_ULONG len = 1 + (CK_ULONG)((id * 31 + i * 7) % sizeof(msg)), n, ivlen = i % 3 == 0 ? 16 : 12;
	CK_GCM_PARAMS g = { iv, ivlen, ivlen * 8, NULL, 0, 128 };
	CK_MECHANISM gcm = { CKM_AES_GCM, &g, sizeof(g) }, cbc = { CKM_AES_CBC_PAD, iv, 16 },
		     hm = { CKM_SHA256_HMAC, NULL, 0 };
	size_t wl = 0;
	CK_RV rv;
	for (size_t k = 0; k < sizeof(msg); k++)
		msg[k] = (unsigned char)(id * 53 + i * 11 + k);
	for (size_t k = 0; k < sizeof(iv); k++)
		iv[k] = (unsigned char)(id + i * 3 + k);
#define SK_STEP(name, call) do { *what = (name); if ((rv = (call)) != CKR_OK) return rv; } while (0)
	n = sizeof(ct);
	SK_STEP("C_EncryptInit (GCM)", p11->C_EncryptInit(s, &gcm, sk_aes));
	SK_STEP("C_Encrypt (GCM)", p11->C_Encrypt(s, msg, len, ct, &n));
	*what = "GCM ciphertext compared with OpenSSL's";
	if (n != len + 16 || !ossl_gcm(iv, (int)ivlen, msg, (int)len, want) || memcmp(ct, want, n) != 0)
		return CKR_GENERAL_ERROR;
	/* every other round in place (the output over the ciphertext) */
	if (i % 2 == 1)
		memcpy(back, ct, len + 16);
	SK_STEP("C_DecryptInit (GCM)", p11->C_DecryptInit(s, &gcm, sk_aes));
	n = sizeof(back);
	SK_STEP("C_Decrypt (GCM)", p11->C_Decrypt(s, i % 2 == 1 ? back : ct, len + 16, back, &n));
	*what = "GCM plaintext back";
	if (n != len || memcmp(back, msg, len) != 0)
		return CKR_GENERAL_ERROR;
	n = sizeof(ct);
	SK_STEP("C_EncryptInit (CBC_PAD)", p11->C_EncryptInit(s, &cbc, sk_aes));
	SK_STEP("C_Encrypt (CBC_PAD)", p11->C_Encrypt(s, msg, len, ct, &n));
	SK_STEP("C_DecryptInit (CBC_PAD)", p11->C_DecryptInit(s, &cbc, sk_aes));
	wl = n;
	n = sizeof(back);
	SK_STEP("C_Decrypt (CBC_PAD)", p11->C_Decrypt(s, ct, (CK_ULONG)wl, back, &n));
	*what = "CBC_PAD plaintext back";
	if (wl != (len / 16 + 1) * 16 || n != len || memcmp(back, msg, len) != 0)
		return CKR_GENERAL_ERROR;
	n = sizeof(mac);
	SK_STEP("C_SignInit (HMAC)", p11->C_SignInit(s, &hm, sk_mac));
	SK_STEP("C_Sign (HMAC)", p11->C_Sign(s, msg, len, mac, &n));
	*what = "HMAC compared with OpenSSL's";
	if (n != 32 || EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, sk_mac_val, sizeof(sk_mac_val), msg, len, wmac,
				 sizeof(wmac), &wl) == NULL || wl != 32 || memcmp(mac, wmac, 32) != 0)
		return CKR_GENERAL_ERROR;
	SK_STEP("C_VerifyInit (HMAC)", p11->C_VerifyInit(s, &hm, sk_mac));
	SK_STEP("C_Verify (HMAC)", p11->C_Verify(s, msg, len, mac, 32));
#undef SK_STEP
	return CKR_OK;
}

static void *sk_worker(void *varg)
{
	sk_arg *a = varg;
	session_rounds(&a->r, sk_round, &a->id);
	return NULL;
}

static CK_RV sk_import(CK_SESSION_HANDLE s, CK_KEY_TYPE kt, const unsigned char *v, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_VALUE, (void *)v, 32 },
		{ CKA_ENCRYPT, &t, 1 }, { CKA_DECRYPT, &t, 1 }, { CKA_SIGN, &t, 1 }, { CKA_VERIFY, &t, 1 },
	};
	return p11->C_CreateObject(s, a, sizeof(a) / sizeof(a[0]), out);
}

/* ---- the tests ---------------------------------------------------------------------- */
/* A token write by another thread, then a search: the search reloads the
 * slot's objects (and their attributes) while the signer reads the key's. */
START_TEST(reload_while_signing)
{
	pthread_t ts, tr;
	result sr = { .min = RELOAD_SIGNS }, rr = { .min = RELOADS };
	pending = 2;
	ck_assert_int_eq(pthread_create(&ts, NULL, signer, &sr), 0);
	ck_assert_int_eq(pthread_create(&tr, NULL, reloader, &rr), 0);
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	char msg[1024] = "";
	report(msg, sizeof(msg), "signer", &sr);
	report(msg, sizeof(msg), "creating and searching thread", &rr);
	ck_assert_msg(msg[0] == '\0', "%s", msg);
	ck_assert_uint_ge(sr.rounds, RELOAD_SIGNS);
	ck_assert_uint_ge(rr.rounds, RELOADS);
}
END_TEST

START_TEST(signers_with_writers_finders_logins_and_a_process)
{
	pthread_t ts[SIGNERS], tc, tf, tl;
	result sr[SIGNERS], cr = { .min = CHURNS }, fr = { .min = FINDS }, lr = { .min = LOGINS };
	pid_t w = writer_start(&writer_ctl);
	pending = SIGNERS + 3;
	for (int i = 0; i < SIGNERS; i++) {
		sr[i] = (result){ .min = SIGNS };
		ck_assert_int_eq(pthread_create(&ts[i], NULL, signer, &sr[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&tc, NULL, churner, &cr), 0);
	ck_assert_int_eq(pthread_create(&tf, NULL, finder, &fr), 0);
	ck_assert_int_eq(pthread_create(&tl, NULL, login_cycler, &lr), 0);
	for (int i = 0; i < SIGNERS; i++)
		pthread_join(ts[i], NULL);
	pthread_join(tc, NULL);
	pthread_join(tf, NULL);
	pthread_join(tl, NULL);
	writer_stop(w, writer_ctl);
	writer_ctl = -1;
	char msg[4096] = "";
	for (int i = 0; i < SIGNERS; i++) {
		char who[32];
		snprintf(who, sizeof(who), "signer %d", i);
		report(msg, sizeof(msg), who, &sr[i]);
	}
	report(msg, sizeof(msg), "object churn", &cr);
	report(msg, sizeof(msg), "finder", &fr);
	report(msg, sizeof(msg), "login/logout on slot 1", &lr);
	ck_assert_msg(msg[0] == '\0', "%s", msg);
	for (int i = 0; i < SIGNERS; i++)
		ck_assert_uint_ge(sr[i].rounds, SIGNS);
	ck_assert_uint_ge(cr.rounds, CHURNS);
	ck_assert_uint_ge(fr.rounds, FINDS);
	ck_assert_uint_ge(lr.rounds, LOGINS);
	/* everything the threads and the writer made is gone again */
	CK_RV rv;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h[4];
	CK_ULONG n;
	const char *what = "";
	CKR(p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CKR(conc_find(s, CKO_DATA, NULL, h, 4, &n, &what));
	ck_assert_uint_eq(n, 0);
	CKR(conc_find(s, CKO_CERTIFICATE, NULL, h, 4, &n, &what));
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(secret_key_threads)
{
	CK_RV rv;
	pthread_t t[SK_THREADS];
	sk_arg a[SK_THREADS];
	/* session keys of the session that stays open: every session sees them */
	CK_SESSION_HANDLE s = p11_user_session();
	CKR(sk_import(s, CKK_AES, sk_aes_val, &sk_aes));
	CKR(sk_import(s, CKK_GENERIC_SECRET, sk_mac_val, &sk_mac));
	pending = SK_THREADS;
	for (unsigned i = 0; i < SK_THREADS; i++) {
		a[i] = (sk_arg){ .r = { .min = SK_ROUNDS }, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, sk_worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < SK_THREADS; i++)
		pthread_join(t[i], NULL);
	char msg[2048] = "";
	for (unsigned i = 0; i < SK_THREADS; i++) {
		char who[32];
		snprintf(who, sizeof(who), "secret-key thread %u", i);
		report(msg, sizeof(msg), who, &a[i].r);
	}
	ck_assert_msg(msg[0] == '\0', "%s", msg);
	for (unsigned i = 0; i < SK_THREADS; i++)
		ck_assert_uint_ge(a[i].r.rounds, SK_ROUNDS);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("concurrency");
	TCase *t = tcase_create("soft slot, threads and processes");
	tcase_set_timeout(t, 300);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, reload_while_signing);
	tcase_add_test(t, signers_with_writers_finders_logins_and_a_process);
	tcase_add_test(t, secret_key_threads);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "writer") == 0)
		return writer_main();
	signal(SIGPIPE, SIG_IGN);    /* a writer process that died is a failed write */
	return p11_run(suite());
}
