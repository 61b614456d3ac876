/*
 * SigV4 against every case of the AWS test suite (both layouts) and the
 * KMS vectors in tests/data/: the canonical request, the string to sign and
 * the Authorization header must be byte-identical to the expected files.
 */
#include "unit.h"
#include "slots/aws_sigv4.h"
#include "mechanisms/crypto.h"

#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s != NULL)
		s[n] = '\0';
	fclose(f);
	return s;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

typedef struct parsed {
	char *text;
	char method[8];
	char path[512], query[1024];
	hw_http_hdr hdrs[16];
	char *vals[16];
	size_t n;
	const char *body;
	size_t body_len;
} parsed;

/* An HTTP request file: request line, headers (a line starting with white
 * space continues the previous one), blank line, body. */
static void parse_request(const char *file, parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->text = slurp(file);
	ck_assert_msg(p->text != NULL, "cannot read %s", file);
	char *line_end = strchr(p->text, '\n');
	char *first = p->text;
	if (line_end)
		*line_end = '\0';
	char *sp = strchr(first, ' '), *http = strstr(first, " HTTP/");
	ck_assert(sp != NULL && http != NULL && http > sp);
	snprintf(p->method, sizeof(p->method), "%.*s", (int)(sp - first), first);
	char *target = sp + 1;
	*http = '\0';
	char *q = strchr(target, '?');
	if (q) {
		*q = '\0';
		snprintf(p->query, sizeof(p->query), "%s", q + 1);
	}
	snprintf(p->path, sizeof(p->path), "%s", target);
	char *cur = line_end ? line_end + 1 : NULL;
	while (cur != NULL && *cur != '\0') {
		char *e = strchr(cur, '\n');
		if (e)
			*e = '\0';
		if (e && e > cur && e[-1] == '\r')
			e[-1] = '\0';
		if (*cur == '\0') {
			p->body = e ? e + 1 : "";
			p->body_len = strlen(p->body);
			break;
		}
		if ((*cur == ' ' || *cur == '\t') && p->n > 0) {
			char *v = p->vals[p->n - 1];
			size_t need = strlen(v) + strlen(cur) + 2;
			char *nv = malloc(need);
			snprintf(nv, need, "%s %s", v, cur);
			free(v);
			p->vals[p->n - 1] = nv;
			p->hdrs[p->n - 1].value = nv;
		} else {
			char *colon = strchr(cur, ':');
			ck_assert(colon != NULL && p->n < 15);
			*colon = '\0';
			p->hdrs[p->n].name = cur;
			p->vals[p->n] = strdup(colon + 1);
			p->hdrs[p->n].value = p->vals[p->n];
			p->n++;
		}
		cur = e ? e + 1 : NULL;
	}
}

static void parsed_free(parsed *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->vals[i]);
	free(p->text);
}

static const char *header(const parsed *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->hdrs[i].name, name) == 0)
			return p->hdrs[i].value;
	return NULL;
}

static void add_header(parsed *p, const char *name, const char *value)
{
	p->hdrs[p->n].name = name;
	p->vals[p->n] = strdup(value);
	p->hdrs[p->n].value = p->vals[p->n];
	p->n++;
}

static char session_token[1024];
static int ncases;

static void check(const char *name, const char *what, const char *got, const char *file)
{
	char *want = slurp(file);
	ck_assert_msg(want != NULL, "cannot read %s", file);
	chomp(want);
	ck_assert_msg(strcmp(got, want) == 0, "%s: %s differs\n--- got ---\n%s\n--- want ---\n%s", name, what, got, want);
	free(want);
}

static void sign_and_check(const char *name, parsed *p, const char *region, const char *service, const char *akid,
			   bool normalize, const char *creq_f, const char *sts_f, const char *authz_f,
			   const char *sig_f)
{
	char *authz = NULL, *creq = NULL, *sts = NULL;
	const char *date = header(p, "X-Amz-Date");
	ck_assert_msg(date != NULL, "%s: no X-Amz-Date", name);
	while (*date == ' ')
		date++;
	hw_sigv4_in in = { p->method, p->path, p->query, p->hdrs, p->n, p->body, p->body_len,
			   region, service, date, normalize };
	ck_assert_int_eq(hw_sigv4_sign(&in, akid, SECRET, &authz, &creq, &sts), CKR_OK);
	check(name, "canonical request", creq, creq_f);
	check(name, "string to sign", sts, sts_f);
	if (authz_f != NULL)
		check(name, "authorization", authz, authz_f);
	if (sig_f != NULL) {
		char *want = slurp(sig_f);
		chomp(want);
		ck_assert_msg(strstr(authz, want) != NULL, "%s: signature differs: %s vs %s", name, authz, want);
		free(want);
	}
	free(authz);
	free(creq);
	free(sts);
	ncases++;
}

/* Classic layout: <dir>/<name>.{req,creq,sts,authz}; region and service
 * are those of the expected Authorization's credential scope. */
static void classic_case(const char *dir, const char *name)
{
	char f[4][2048], region[32], service[32];
	parsed p;
	snprintf(f[0], sizeof(f[0]), "%s/%s.req", dir, name);
	snprintf(f[1], sizeof(f[1]), "%s/%s.creq", dir, name);
	snprintf(f[2], sizeof(f[2]), "%s/%s.sts", dir, name);
	snprintf(f[3], sizeof(f[3]), "%s/%s.authz", dir, name);
	char *az = slurp(f[3]);
	ck_assert(az != NULL);
	char *scope = strstr(az, "Credential=");
	ck_assert(scope != NULL && sscanf(scope, "Credential=%*[^/]/%*[^/]/%31[^/]/%31[^/]/", region, service) == 2);
	free(az);
	parse_request(f[0], &p);
	/* the suite's known quirk (tests/data/sigv4/README.md): this request
	 * file lacks the token header its expected files sign */
	if (strcmp(name, "get-vanilla-with-session-token") == 0 && header(&p, "X-Amz-Security-Token") == NULL)
		add_header(&p, "X-Amz-Security-Token", session_token);
	sign_and_check(name, &p, region, service, "AKIDEXAMPLE", true, f[1], f[2], f[3], NULL);
	parsed_free(&p);
}

/* aws-c-auth layout: context.json says what the signer adds. */
static void crt_case(const char *dir, const char *name)
{
	char f[5][2048], date[17];
	parsed p;
	snprintf(f[0], sizeof(f[0]), "%s/context.json", dir);
	json_object *ctx = json_object_from_file(f[0]), *v, *cred;
	ck_assert_msg(ctx != NULL, "%s: bad context.json", name);
	ck_assert(json_object_object_get_ex(ctx, "credentials", &cred));
	snprintf(f[1], sizeof(f[1]), "%s/request.txt", dir);
	snprintf(f[2], sizeof(f[2]), "%s/header-canonical-request.txt", dir);
	snprintf(f[3], sizeof(f[3]), "%s/header-string-to-sign.txt", dir);
	snprintf(f[4], sizeof(f[4]), "%s/header-signature.txt", dir);
	parse_request(f[1], &p);
	/* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
	json_object_object_get_ex(ctx, "timestamp", &v);
	const char *ts = json_object_get_string(v);
	snprintf(date, sizeof(date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8, ts + 11, ts + 14, ts + 17);
	if (header(&p, "X-Amz-Date") == NULL)
		add_header(&p, "X-Amz-Date", date);
	bool omit = json_object_object_get_ex(ctx, "omit_session_token", &v) && json_object_get_boolean(v);
	if (json_object_object_get_ex(cred, "token", &v) && !omit)
		add_header(&p, "X-Amz-Security-Token", json_object_get_string(v));
	if (json_object_object_get_ex(ctx, "sign_body", &v) && json_object_get_boolean(v)) {
		char h[65];
		ck_assert_int_eq(hw_sha256_hex(p.body ? p.body : "", p.body_len, h), CKR_OK);
		add_header(&p, "X-Amz-Content-Sha256", h);
	}
	json_object_object_get_ex(ctx, "normalize", &v);
	bool norm = json_object_get_boolean(v);
	json_object *reg, *svc, *ak;
	json_object_object_get_ex(ctx, "region", &reg);
	json_object_object_get_ex(ctx, "service", &svc);
	json_object_object_get_ex(cred, "access_key_id", &ak);
	sign_and_check(name, &p, json_object_get_string(reg), json_object_get_string(svc), json_object_get_string(ak),
		       norm, f[2], f[3], NULL, f[4]);
	parsed_free(&p);
	json_object_put(ctx);
}

static void walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((e = readdir(d)) != NULL) {
		char sub[1024], probe[2048];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(probe, sizeof(probe), "%s/%s.req", sub, e->d_name);
		if (access(probe, R_OK) == 0) {
			classic_case(sub, e->d_name);
			continue;
		}
		snprintf(probe, sizeof(probe), "%s/context.json", sub);
		if (access(probe, R_OK) == 0) {
			crt_case(sub, e->d_name);
			continue;
		}
		walk(sub);
	}
	closedir(d);
}

static const char *srcdir(void)
{
	const char *s = getenv("HWAGG_SRCDIR");
	return s != NULL ? s : ".";
}

START_TEST(every_vector)
{
	char path[1024];
	ck_assert_int_eq(hw_crypto_init(), CKR_OK);
	snprintf(path, sizeof(path), "%s/tests/data/sigv4/aws-c-auth-v4/get-vanilla-with-session-token/context.json", srcdir());
	json_object *c = json_object_from_file(path), *cr, *t;
	ck_assert(c != NULL && json_object_object_get_ex(c, "credentials", &cr) &&
		  json_object_object_get_ex(cr, "token", &t));
	snprintf(session_token, sizeof(session_token), "%s", json_object_get_string(t));
	json_object_put(c);
	ncases = 0;
	snprintf(path, sizeof(path), "%s/tests/data/sigv4", srcdir());
	walk(path);
	/* 34 classic cases and 38 of aws-c-auth */
	ck_assert_int_eq(ncases, 34 + 38);
	ncases = 0;
	snprintf(path, sizeof(path), "%s/tests/data/sigv4-kms-generated", srcdir());
	walk(path);
	ck_assert_int_eq(ncases, 5);
}
END_TEST

/* The signature must change with every input that is signed. */
START_TEST(signature_covers_inputs)
{
	hw_http_hdr h[] = { { "Host", "127.0.0.1:5055" }, { "X-Amz-Date", "20150830T123600Z" },
			    { "X-Amz-Target", "TrentService.Sign" } };
	hw_sigv4_in in = { "POST", "/", NULL, h, 3, "{}", 2, "us-east-1", "kms", "20150830T123600Z", true };
	char *a = NULL, *b = NULL;
	ck_assert_int_eq(hw_crypto_init(), CKR_OK);
	ck_assert_int_eq(hw_sigv4_sign(&in, "AKID", SECRET, &a, NULL, NULL), CKR_OK);
	in.body = "{ }";
	in.body_len = 3;
	ck_assert_int_eq(hw_sigv4_sign(&in, "AKID", SECRET, &b, NULL, NULL), CKR_OK);
	ck_assert_str_ne(a, b);
	free(b);
	in.body = "{}";
	in.body_len = 2;
	h[0].value = "127.0.0.1:5056";
	ck_assert_int_eq(hw_sigv4_sign(&in, "AKID", SECRET, &b, NULL, NULL), CKR_OK);
	ck_assert_str_ne(a, b);
	free(b);
	h[0].value = "127.0.0.1:5055";
	ck_assert_int_eq(hw_sigv4_sign(&in, "AKID", "other", &b, NULL, NULL), CKR_OK);
	ck_assert_str_ne(a, b);
	free(b);
	in.amz_date = "2015083";
	ck_assert_int_eq(hw_sigv4_sign(&in, "AKID", SECRET, &b, NULL, NULL), CKR_ARGUMENTS_BAD);
	free(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sigv4");
	TCase *t = tcase_create("vectors");
	tcase_add_test(t, every_vector);
	tcase_add_test(t, signature_covers_inputs);
	suite_add_tcase(s, t);
	return s;
}

HW_UNIT_MAIN
