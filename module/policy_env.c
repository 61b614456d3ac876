/*
 * The environment (policy.h): the one truth every part reads. An explicit
 * setting wins (the top-level "environment" of the file, then
 * $HWAGG_ENVIRONMENT); "auto" is decided once per process, at first use
 * (never in C_Initialize), from these signals, in this order:
 *
 *   signal                                        source                        decides
 *   AWS_EXECUTION_ENV                             Lambda, ECS, Elastic Beanstalk production (AWS)
 *   ECS_CONTAINER_METADATA_URI(_V4)               the ECS agent                 production (AWS)
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI            ECS task roles, EKS Pod Identity production (AWS)
 *   WEBSITE_SITE_NAME, IDENTITY_ENDPOINT          Azure App Service, Functions, managed identity
 *                                                                               production (Azure)
 *   K_SERVICE                                     Cloud Run, Knative            production (GCP)
 *   KUBERNETES_SERVICE_HOST                       the kubelet, in every pod     production (Kubernetes)
 *   ROOT/var/run/secrets/kubernetes.io/serviceaccount/token
 *                                                 the service-account mount     production (Kubernetes)
 *   AWS IMDSv2: PUT /latest/api/token, then GET /latest/dynamic/instance-identity/document
 *                                                 EC2 instance metadata         production (AWS)
 *   Azure IMDS: GET /metadata/instance (Metadata: true)                         production (Azure)
 *   GCP: GET /computeMetadata/v1/instance/id (Metadata-Flavor: Google, echoed)  production (GCP)
 *   ROOT/.dockerenv, ROOT/proc/1/cgroup naming docker, containerd or libpod
 *                                                 a container runtime           staging (a container
 *                                                                               outside any cloud)
 *   none of these                                 a bare machine                development
 *
 * The probes are plain HTTP on a socket, 200 ms each, to a numeric IPv4
 * address: 169.254.169.254:80 unless AWS_EC2_METADATA_SERVICE_ENDPOINT (the
 * AWS SDKs' variable), HWAGG_AZURE_IMDS_ENDPOINT or GCE_METADATA_HOST (the
 * Google libraries' variable) say otherwise ("http://127.0.0.1:8080" or
 * "127.0.0.1:8080"); HWAGG_DETECT_PROBES=0 skips them. HWAGG_DETECT_ROOT
 * (a test hook) is put before every file path. A machine that is none of
 * these but is production (an edge box) sets "environment" explicitly.
 */
#include "module/policy.h"
#include "common/deadline.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MS 200
#define RESP_MAX 4096

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static hw_env detected = HW_ENV_DEVELOPMENT;
static char detected_why[200];

/* ---- HTTP probes -------------------------------------------------------------- */

/* "http://1.2.3.4:80", "1.2.3.4:80" or "1.2.3.4" -> address; false if not
 * a numeric IPv4 endpoint (no name lookups: they can block for seconds). */
static bool endpoint(const char *var, struct sockaddr_in *sa)
{
	const char *v = secure_getenv(var);
	char host[64];
	unsigned port = 80;
	if (v == NULL || *v == '\0')
		v = "169.254.169.254";
	if (strncmp(v, "http://", 7) == 0)
		v += 7;
	size_t n = strcspn(v, ":/");
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, v, n);
	host[n] = '\0';
	if (v[n] == ':' && (sscanf(v + n + 1, "%u", &port) != 1 || port == 0 || port > 65535))
		return false;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

/* One request, the whole exchange within PROBE_MS; the response (head and
 * what came of the body) in resp. The HTTP status, or 0. */
static int http(const struct sockaddr_in *sa, const char *req, char *resp, size_t cap)
{
	int64_t end = hw_mono_ms() + PROBE_MS;
	size_t sent = 0, got = 0, len = strlen(req);
	int status = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 && errno != EINPROGRESS)
		goto out;
	while (hw_mono_ms() < end) {
		struct pollfd pf = { fd, sent < len ? POLLOUT : POLLIN, 0 };
		if (poll(&pf, 1, (int)(end - hw_mono_ms())) <= 0)
			break;
		if (sent < len) {
			ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			sent += (size_t)w;
			continue;
		}
		ssize_t r = recv(fd, resp + got, cap - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		resp[got] = '\0';
		/* the head and a short body (IMDS answers are small) are enough */
		if (got == cap - 1 || (strstr(resp, "\r\n\r\n") != NULL && r < 512))
			break;
	}
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || sscanf(resp + 8, " %d", &status) != 1)
		status = 0;
out:
	close(fd);
	return status;
}

static const char *body(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	return b != NULL ? b + 4 : "";
}

static bool header_is(const char *resp, const char *line)
{
	const char *end = strstr(resp, "\r\n\r\n");
	for (const char *p = strstr(resp, "\r\n"); p != NULL && (end == NULL || p < end); p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, line, strlen(line)) == 0)
			return true;
	return false;
}

static bool probe_aws(void)
{
	struct sockaddr_in sa;
	char resp[RESP_MAX], req[RESP_MAX + 256], token[128];
	if (!endpoint("AWS_EC2_METADATA_SERVICE_ENDPOINT", &sa))
		return false;
	if (http(&sa, "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		 "X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		 resp, sizeof(resp)) != 200)
		return false;
	size_t n = strcspn(body(resp), "\r\n");
	if (n == 0 || n >= sizeof(token))
		return false;
	memcpy(token, body(resp), n);
	token[n] = '\0';
	snprintf(req, sizeof(req), "GET /latest/dynamic/instance-identity/document HTTP/1.1\r\n"
		 "Host: 169.254.169.254\r\nX-aws-ec2-metadata-token: %s\r\nConnection: close\r\n\r\n", token);
	hw_wipe(token, sizeof(token));
	bool ok = http(&sa, req, resp, sizeof(resp)) == 200 && strstr(body(resp), "instanceId") != NULL;
	hw_wipe(req, sizeof(req));
	return ok;
}

static bool probe_azure(void)
{
	struct sockaddr_in sa;
	char resp[RESP_MAX];
	return endpoint("HWAGG_AZURE_IMDS_ENDPOINT", &sa) &&
	       http(&sa, "GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		    "Metadata: true\r\nConnection: close\r\n\r\n", resp, sizeof(resp)) == 200 &&
	       strstr(body(resp), "\"compute\"") != NULL;
}

static bool probe_gcp(void)
{
	struct sockaddr_in sa;
	char resp[RESP_MAX];
	/* a real metadata server echoes the header; a captive web server does not */
	return endpoint("GCE_METADATA_HOST", &sa) &&
	       http(&sa, "GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost: metadata.google.internal\r\n"
		    "Metadata-Flavor: Google\r\nConnection: close\r\n\r\n", resp, sizeof(resp)) == 200 &&
	       header_is(resp, "Metadata-Flavor: Google");
}

/* ---- files and variables -------------------------------------------------------- */

static bool root_file(const char *path, char *buf, size_t cap)
{
	const char *root = secure_getenv("HWAGG_DETECT_ROOT");
	char full[4096];
	snprintf(full, sizeof(full), "%s%s", root != NULL ? root : "", path);
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	ssize_t r = buf != NULL ? read(fd, buf, cap - 1) : 0;
	if (buf != NULL)
		buf[r > 0 ? r : 0] = '\0';
	close(fd);
	return true;
}

static void detect(void)
{
	static const struct { const char *var, *what; } vars[] = {
		{ "AWS_EXECUTION_ENV", "AWS" }, { "ECS_CONTAINER_METADATA_URI_V4", "AWS ECS" },
		{ "ECS_CONTAINER_METADATA_URI", "AWS ECS" }, { "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS" },
		{ "WEBSITE_SITE_NAME", "Azure App Service" }, { "IDENTITY_ENDPOINT", "Azure" },
		{ "K_SERVICE", "GCP Cloud Run" }, { "KUBERNETES_SERVICE_HOST", "Kubernetes" },
	};
	static const struct { bool (*probe)(void); const char *what; } probes[] = {
		{ probe_aws, "AWS: the EC2 instance metadata service (IMDSv2) answered" },
		{ probe_azure, "Azure: the instance metadata service answered" },
		{ probe_gcp, "GCP: the metadata server answered" },
	};
	char cg[RESP_MAX];
	const char *no_probes = secure_getenv("HWAGG_DETECT_PROBES");
	detected = HW_ENV_PRODUCTION;
	for (size_t i = 0; i < HW_ARRAY_LEN(vars); i++) {
		const char *v = secure_getenv(vars[i].var);
		if (v != NULL && *v != '\0') {
			snprintf(detected_why, sizeof(detected_why), "%s: $%s is set", vars[i].what, vars[i].var);
			return;
		}
	}
	if (root_file("/var/run/secrets/kubernetes.io/serviceaccount/token", NULL, 0)) {
		snprintf(detected_why, sizeof(detected_why), "Kubernetes: a service-account token is mounted");
		return;
	}
	for (size_t i = 0; (no_probes == NULL || strcmp(no_probes, "0") != 0) && i < HW_ARRAY_LEN(probes); i++) {
		if (probes[i].probe()) {
			snprintf(detected_why, sizeof(detected_why), "%s", probes[i].what);
			return;
		}
	}
	detected = HW_ENV_STAGING;
	if (root_file("/.dockerenv", NULL, 0)) {
		snprintf(detected_why, sizeof(detected_why), "a container (/.dockerenv) outside any cloud");
		return;
	}
	if (root_file("/proc/1/cgroup", cg, sizeof(cg)) &&
	    (strstr(cg, "docker") != NULL || strstr(cg, "containerd") != NULL || strstr(cg, "libpod") != NULL)) {
		snprintf(detected_why, sizeof(detected_why), "a container (the init process's cgroup) outside any cloud");
		return;
	}
	detected = HW_ENV_DEVELOPMENT;
	snprintf(detected_why, sizeof(detected_why), "no cloud, Kubernetes or container signal: a bare machine");
}

static void detect_logged(void)
{
	detect();
	hw_info("environment: auto: %s, %s", hw_env_name(detected), detected_why);
}

hw_env hw_env_detect(char *why, size_t why_len)
{
	pthread_once(&detect_once, detect_logged);
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", detected_why);
	return detected;
}

hw_env hw_env_current(char *why, size_t why_len)
{
	const hw_config *cfg = hw_g.config;
	char d[200];
	if (cfg == NULL) {
		if (why != NULL && why_len > 0)
			snprintf(why, why_len, "production (not initialized)");
		return HW_ENV_PRODUCTION;
	}
	if (!cfg->env_auto) {
		if (why != NULL && why_len > 0)
			snprintf(why, why_len, "%s (%s)", hw_env_name(cfg->environment), cfg->env_origin);
		return cfg->environment;
	}
	hw_env e = hw_env_detect(d, sizeof(d));
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s (auto, %s: %s)", hw_env_name(e), cfg->env_origin, d);
	return e;
}
