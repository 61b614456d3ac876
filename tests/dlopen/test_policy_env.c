/*
 * Environment detection ("environment": "auto", module/policy_env.c), each
 * signal faked: variables, files under $HWAGG_DETECT_ROOT, and a loopback
 * metadata server speaking the AWS IMDSv2, Azure IMDS and GCP metadata
 * protocols. Detection runs once per process, so every case is a child
 * process that loads the module, makes a session object on the soft slot
 * and exits with the CKA_HWAGG_ENVIRONMENT it was given. Only loopback
 * addresses are ever probed.
 */
#include "p11.h"
#include "common/hwagg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* The fake metadata server is a process of its own (a thread would be
 * forked with the children, in whatever state it is: under ASan a child
 * can inherit its allocator lock held); what it is and what it counted is
 * shared memory. */
static int port;
static pid_t server;
static struct shared {
	const char *mode;         /* what it is: "aws", "azure", "gcp", "gcp-noecho", "none" */
	int hits;                 /* requests it answered */
} *sh;
static char root[300];

static bool has(const char *req, const char *text)
{
	return strcasestr(req, text) != NULL;
}

static void answer(int fd, const char *req)
{
	char out[512];
	const char *status = "404 Not Found", *extra = "", *body = "";
	if (strcmp(sh->mode, "aws") == 0 && strncmp(req, "PUT /latest/api/token ", 22) == 0 &&
	    has(req, "\r\nX-aws-ec2-metadata-token-ttl-seconds: ")) {
		status = "200 OK";
		body = "AQAEAFakeToken==";
	} else if (strcmp(sh->mode, "aws") == 0 && strncmp(req, "GET /latest/dynamic/instance-identity/document ", 47) == 0) {
		bool ok = has(req, "\r\nX-aws-ec2-metadata-token: AQAEAFakeToken==\r\n");
		status = ok ? "200 OK" : "401 Unauthorized";
		body = ok ? "{\"instanceId\": \"i-0123456789abcdef0\", \"region\": \"eu-west-1\"}" : "";
	} else if (strcmp(sh->mode, "azure") == 0 && strncmp(req, "GET /metadata/instance?api-version=", 35) == 0) {
		bool ok = has(req, "\r\nMetadata: true\r\n");
		status = ok ? "200 OK" : "400 Bad Request";
		body = ok ? "{\"compute\": {\"azEnvironment\": \"AzurePublicCloud\"}}" : "";
	} else if (strncmp(sh->mode, "gcp", 3) == 0 && strncmp(req, "GET /computeMetadata/v1/instance/id ", 36) == 0) {
		bool ok = has(req, "\r\nMetadata-Flavor: Google\r\n");
		status = ok ? "200 OK" : "403 Forbidden";
		extra = ok && strcmp(sh->mode, "gcp") == 0 ? "Metadata-Flavor: Google\r\n" : "";
		body = ok ? "4520031799277581759" : "";
	}
	int n = snprintf(out, sizeof(out), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 status, extra, strlen(body), body);
	if (write(fd, out, (size_t)n) != n)
		fprintf(stderr, "fake metadata server: short write\n");
}

static void serve(int ls)
{
	for (;;) {
		char req[2048];
		size_t got = 0;
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return;
		while (got < sizeof(req) - 1) {
			ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[got] = '\0';
		__atomic_add_fetch(&sh->hits, 1, __ATOMIC_SEQ_CST);
		answer(fd, req);
		close(fd);
	}
}

static void start_server(void)
{
	int ls;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(ls, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(ls, 16), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(sh != MAP_FAILED);
	sh->mode = "none";        /* a string of this program: the same address in the server */
	server = fork();
	ck_assert_int_ge(server, 0);
	if (server == 0) {
		serve(ls);
		_exit(0);
	}
	close(ls);
}

static void env_teardown(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		server = 0;
	}
	p11_world_remove();
}

static void env_setup(void)
{
	char cmd[1024];
	p11_world(NULL);
	snprintf(root, sizeof(root), "%s/root", p11_dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/proc/1 %s/var/run/secrets/kubernetes.io/serviceaccount", root, root);
	ck_assert_int_eq(system(cmd), 0);
	start_server();
}

/* The file: environment env, one soft slot, the log at info level. */
static void write_conf(const char *env)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/hwagg.json", p11_dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"environment\": \"%s\", \"store\": \"%s/store\", \"log\": {\"file\": \"%s/hwagg.log\", "
		   "\"level\": \"info\"}, \"slots\": [{\"name\": \"soft\", \"type\": \"soft\"}]}\n", env, p11_dir, p11_dir);
	fclose(f);
	setenv("HWAGG_CONF", path, 1);
	snprintf(path, sizeof(path), "%s/hwagg.log", p11_dir);
	unlink(path);
}

static const char *const signals[] = {
	"AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "WEBSITE_SITE_NAME", "IDENTITY_ENDPOINT", "K_SERVICE",
	"KUBERNETES_SERVICE_HOST", "HWAGG_ENVIRONMENT", "HWAGG_DETECT_PROBES",
};

/* In a child: the given variable (NAME=VALUE or NULL) and nothing else of
 * the signals, every endpoint on the loopback server; C_Initialize, then
 * objects objects made (0: none). Exit status: 10 + the hw_env of the
 * last object's CKA_HWAGG_ENVIRONMENT (0 development, 1 staging, 2
 * production), 9 none made, 1 a failure. */
static int child(const char *var, int objects)
{
	char ep[64];
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
			unsetenv(signals[i]);
		if (var != NULL)
			putenv((char *)var);
		snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
		setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
		setenv("HWAGG_AZURE_IMDS_ENDPOINT", ep, 1);
		setenv("GCE_METADATA_HOST", ep + 7, 1);
		setenv("HWAGG_DETECT_ROOT", root, 1);
		p11_load();
		CK_SLOT_ID ids[4];
		CK_ULONG n = 4;
		int code = 9;
		if (p11->C_Initialize(NULL) != CKR_OK || p11->C_GetSlotList(CK_FALSE, ids, &n) != CKR_OK)
			_exit(1);
		for (int k = 0; k < objects; k++) {
			CK_SESSION_HANDLE s;
			CK_OBJECT_HANDLE o;
			CK_OBJECT_CLASS cls = CKO_DATA;
			char env[32] = "";
			CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) }, e = { CKA_HWAGG_ENVIRONMENT, env, 31 };
			if (p11->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
			    p11->C_CreateObject(s, &t, 1, &o) != CKR_OK || p11->C_GetAttributeValue(s, o, &e, 1) != CKR_OK)
				_exit(1);
			env[e.ulValueLen < 31 ? e.ulValueLen : 31] = '\0';
			code = strcmp(env, "development") == 0 ? 10 : strcmp(env, "staging") == 0 ? 11 :
			       strcmp(env, "production") == 0 ? 12 : 1;
		}
		p11->C_Finalize(NULL);
		_exit(code);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static bool log_has(const char *text)
{
	char path[512], buf[16384];
	snprintf(path, sizeof(path), "%s/hwagg.log", p11_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, text) != NULL;
}

/* One case: the variable, the server's mode, the environment expected and
 * the reason the log must give. */
static void expect(const char *var, const char *server, int env, const char *why)
{
	sh->mode = server;
	write_conf("auto");
	ck_assert_int_eq(child(var, 1), 10 + env);
	ck_assert_msg(log_has(why), "log lacks \"%s\" for %s/%s", why, var ? var : "-", server);
}

START_TEST(variables)
{
	expect(NULL, "none", 0, "auto: development, no cloud, Kubernetes or container signal: a bare machine");
	expect("KUBERNETES_SERVICE_HOST=10.96.0.1", "none", 2, "production, Kubernetes: $KUBERNETES_SERVICE_HOST is set");
	expect("AWS_EXECUTION_ENV=AWS_ECS_FARGATE", "none", 2, "production, AWS: $AWS_EXECUTION_ENV is set");
	expect("ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x", "none", 2, "AWS ECS: $ECS_CONTAINER_METADATA_URI_V4");
	expect("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials", "none", 2,
	       "AWS: $AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
	expect("WEBSITE_SITE_NAME=shop", "none", 2, "production, Azure App Service: $WEBSITE_SITE_NAME is set");
	expect("IDENTITY_ENDPOINT=http://localhost:42356/msi/token", "none", 2, "Azure: $IDENTITY_ENDPOINT is set");
	expect("K_SERVICE=api", "none", 2, "production, GCP Cloud Run: $K_SERVICE is set");
}
END_TEST

START_TEST(files)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/proc/1/cgroup", root);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0::/system.slice/docker-4f1e2a.scope\n", f);
	fclose(f);
	expect(NULL, "none", 1, "staging, a container (the init process's cgroup) outside any cloud");
	snprintf(path, sizeof(path), "%s/.dockerenv", root);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fclose(f);
	expect(NULL, "none", 1, "staging, a container (/.dockerenv) outside any cloud");
	snprintf(path, sizeof(path), "%s/var/run/secrets/kubernetes.io/serviceaccount/token", root);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", f);
	fclose(f);
	expect(NULL, "none", 2, "production, Kubernetes: a service-account token is mounted");
}
END_TEST

START_TEST(metadata_servers)
{
	expect(NULL, "aws", 2, "production, AWS: the EC2 instance metadata service (IMDSv2) answered");
	expect(NULL, "azure", 2, "production, Azure: the instance metadata service answered");
	expect(NULL, "gcp", 2, "production, GCP: the metadata server answered");
	/* a web server that does not echo Metadata-Flavor is no metadata server */
	expect(NULL, "gcp-noecho", 0, "a bare machine");
	/* a container on a cloud machine is in the cloud */
	char path[512];
	snprintf(path, sizeof(path), "%s/.dockerenv", root);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	expect(NULL, "aws", 2, "AWS: the EC2 instance metadata service (IMDSv2) answered");
	expect("HWAGG_DETECT_PROBES=0", "aws", 1, "a container (/.dockerenv)");
}
END_TEST

/* Probes are made once per process and never by C_Initialize. */
START_TEST(probes_once_and_late)
{
	sh->mode = "aws";
	write_conf("auto");
	__atomic_store_n(&sh->hits, 0, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(child(NULL, 0), 9);
	ck_assert_int_eq(__atomic_load_n(&sh->hits, __ATOMIC_SEQ_CST), 0);
	ck_assert_int_eq(child(NULL, 3), 12);
	ck_assert_int_eq(__atomic_load_n(&sh->hits, __ATOMIC_SEQ_CST), 2);    /* token PUT + document GET */
}
END_TEST

/* An explicit setting wins over every signal. */
START_TEST(explicit_wins)
{
	sh->mode = "aws";
	write_conf("development");
	ck_assert_int_eq(child("KUBERNETES_SERVICE_HOST=10.96.0.1", 1), 10);
	write_conf("auto");
	ck_assert_int_eq(child("HWAGG_ENVIRONMENT=staging", 1), 11);
	write_conf("production");
	ck_assert_int_eq(child(NULL, 1), 12);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("policy_env");
	TCase *t = tcase_create("environment detection");
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, env_setup, env_teardown);
	tcase_add_test(t, variables);
	tcase_add_test(t, files);
	tcase_add_test(t, metadata_servers);
	tcase_add_test(t, probes_once_and_late);
	tcase_add_test(t, explicit_wins);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return p11_run(suite());
}
