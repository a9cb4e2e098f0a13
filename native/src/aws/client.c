/* client.c - the bk_aws client: setup, endpoints, parameters, call counts. */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "aws_int.h"

#define DEFAULT_MAX_RETRIES 10
#define DEFAULT_BASE_MS 200
#define DEFAULT_MAX_MS 20000
/* AWS answers in well under a second; an endpoint that accepts and then sends
 * nothing must cost seconds per attempt, not the 60 s the whole call may take. */
#define DEFAULT_CONNECT_TIMEOUT_S 5
#define DEFAULT_STALL_TIMEOUT_S 30

/* curl_global_init and xmlInitParser are not thread-safe: run them once. */
static pthread_once_t aws_global_init_once = PTHREAD_ONCE_INIT;
static CURLcode aws_global_init_result = CURLE_FAILED_INIT;

static void aws_global_init_run(void)
{
	aws_global_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
}

int bk_aws_global_init(void)
{
	pthread_once(&aws_global_init_once, aws_global_init_run);
	if (aws_global_init_result != CURLE_OK)
		return bk_err(BAKEAMI_ERROR, "curl_global_init: %s",
			      curl_easy_strerror(aws_global_init_result));
	return 0;
}

static const char *const service_names[BK_SVC_COUNT] = {
	[BK_SVC_EC2] = "ec2", [BK_SVC_SSM] = "ssm", [BK_SVC_STS] = "sts",
	[BK_SVC_IAM] = "iam", [BK_SVC_S3] = "s3", [BK_SVC_OTHER] = "other",
};

int bk_aws__service_index(const char *service)
{
	for (int i = 0; i < BK_SVC_OTHER; i++)
		if (service && strcmp(service, service_names[i]) == 0)
			return i;
	return BK_SVC_OTHER;
}

long bk_aws_call_count(const bk_aws *aws, const char *service)
{
	if (!aws || !service)
		return 0;
	/* A caller's role is assumed by its base client: those calls are ours too. */
	return atomic_load(&((bk_aws *)aws)->calls[bk_aws__service_index(service)]) +
	       bk_aws_call_count(aws->refresh.base, service);
}

const char *bk_aws_region(const bk_aws *aws)
{
	return aws ? aws->region : NULL;
}

const bk_aws_creds *bk_aws_credentials(const bk_aws *aws)
{
	return aws ? &aws->creds : NULL;
}

void bk_aws_set_cancel(bk_aws *aws, const bk_cancel *cancel)
{
	if (!aws)
		return;
	atomic_store(&aws->cancel, cancel);
	bk_aws_set_cancel(aws->refresh.base, cancel);   /* it renews our credentials */
}

int bk_params_add(bk_params *p, const char *key, const char *val)
{
	return bk_kv_add(p, key, val);
}

int bk_params_addf(bk_params *p, const char *key, const char *fmt, ...)
{
	bk_buf b = BK_BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = bk_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = bk_kv_add(p, key, b.ptr ? b.ptr : "");
	bk_buf_free(&b);
	return rc;
}

/* ---- endpoints ------------------------------------------------------------ */

static char *env_endpoint(const char *service)
{
	char name[64];
	size_t n = (size_t)snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_");
	const char *v;

	for (const char *s = service; *s && n + 1 < sizeof(name); s++)
		name[n++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
	name[n] = '\0';
	v = getenv(name);
	if (!v || !*v)
		v = getenv("AWS_ENDPOINT_URL");
	if (!v || !*v)
		return NULL;
	/* "http://host:port/" and "http://host:port" mean the same endpoint. */
	n = strlen(v);
	while (n > 0 && v[n - 1] == '/')
		n--;
	return bk_strndup(v, n);
}

/* Dot-separated labels of [a-z0-9-], none empty or starting with '-': what
 * can sit inside a host name without changing which host it names. */
static bool dns_labels(const char *s)
{
	size_t label = 0;

	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			   (*s == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

static bool aws_region_form(const char *region)
{
	regex_t re;
	bool ok;

	if (regcomp(&re, "^[a-z]{2}(-[a-z]+)+-[0-9]+$", REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, region, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

bool bk_aws_endpoint_configured(void)
{
	char *ec2 = env_endpoint("ec2"), *sts = env_endpoint("sts");
	bool set = ec2 || sts;

	free(ec2);
	free(sts);
	return set;
}

int bk_aws_region_check(const char *region, const char *where)
{
	/* A local endpoint (moto, a proxy) may use any name; the region then only
	 * enters the signature, never a host name. */
	bool ok = region && (aws_region_form(region) ||
			     (bk_aws_endpoint_configured() && dns_labels(region)));

	if (ok)
		return 0;
	return bk_err(BAKEAMI_EINVALID, "%s: \"%s\" is not an AWS region (like us-east-1)",
		      where, region ? region : "");
}

bool bk_aws__session_service(const char *service)
{
	return strcmp(service, "ec2") == 0 || strcmp(service, "iam") == 0;
}

int bk_aws__endpoint(char **out, const bk_aws *aws, const char *service, const char *region)
{
	if (aws && aws->session_endpoint && bk_aws__session_service(service))
		return (*out = bk_strdup(aws->session_endpoint)) ? 0 : bk_oom();
	if ((*out = env_endpoint(service)))
		return 0;
	if (strcmp(service, "iam") == 0)   /* global: one endpoint per partition */
		return (*out = bk_strdup(region && bk_str_starts(region, "cn-")
					 ? "https://iam.cn-north-1.amazonaws.com.cn"
					 : region && bk_str_starts(region, "us-gov-")
					 ? "https://iam.us-gov.amazonaws.com"
					 : "https://iam.amazonaws.com")) ? 0 : bk_oom();
	/* Defence in depth: whatever let it through, a region never picks the host. */
	if (!region || !dns_labels(region))
		return bk_err(BAKEAMI_EINVALID, "region \"%s\" is not a DNS name: refusing "
			      "to build an endpoint from it", region ? region : "");
	*out = bk_sprintf("https://%s.%s.amazonaws.com%s", service, region,
			  bk_str_starts(region, "cn-") ? ".cn" : "");
	return *out ? 0 : bk_oom();
}

char *bk_aws_endpoint(const char *service, const char *region)
{
	char *url;

	return bk_aws__endpoint(&url, NULL, service, region) == 0 ? url : NULL;
}

/* A URL with a user may hold a password: it is not echoed. */
static int bad_endpoint(const char *where, const char *url, const char *why)
{
	if (strchr(url, '@'))
		return bk_err(BAKEAMI_EINVALID, "%s: not an endpoint URL: %s", where, why);
	return bk_err(BAKEAMI_EINVALID, "%s: \"%s\" is not an endpoint URL: %s", where, url, why);
}

/* The parts a signed request may not carry: a user (curl would send it
 * as Basic auth beside the signature), a query or fragment (the request's
 * own go there). */
static const char *extra_part(CURLU *u)
{
	static const struct { CURLUPart part; const char *what; } parts[] = {
		{CURLUPART_USER, "it names a user (AWS calls are signed, never sent with a user "
		 "and password)"}, {CURLUPART_QUERY, "it has a query"},
		{CURLUPART_FRAGMENT, "it has a fragment"},
	};
	char *v = NULL;

	for (size_t i = 0; i < BK_ARRAY_SIZE(parts); i++) {
		bool has = curl_url_get(u, parts[i].part, &v, 0) == CURLUE_OK;
		curl_free(v);
		v = NULL;
		if (has)
			return parts[i].what;
	}
	return NULL;
}

int bk_aws_endpoint_parse(char **out, const char *url, const char *where)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *full = NULL;
	CURLUcode uc;
	const char *why;
	int rc = 0;

	*out = NULL;
	if (!u)
		return bk_oom();
	if ((uc = curl_url_set(u, CURLUPART_URL, url, CURLU_DEFAULT_SCHEME)) != CURLUE_OK)
		rc = bad_endpoint(where, url, curl_url_strerror(uc));
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "https") && strcmp(scheme, "http")))
		rc = bad_endpoint(where, url, "only https:// and http:// are AWS endpoints");
	else if ((why = extra_part(u)))
		rc = bad_endpoint(where, url, why);
	else if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		rc = bk_oom();
	if (rc == 0) {
		size_t n = strlen(full);
		while (n > 0 && full[n - 1] == '/')   /* as env_endpoint: "host/" is "host" */
			n--;
		if (!(*out = bk_strndup(full, n)))
			rc = bk_oom();
	}
	curl_free(scheme);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

/* ---- lifecycle --------------------------------------------------------------- */

static bk_retry_policy retry_policy(const bk_aws_config *cfg)
{
	bk_retry_policy p = {DEFAULT_MAX_RETRIES, DEFAULT_BASE_MS, DEFAULT_MAX_MS};
	const char *base = getenv("BAKEAMI_RETRY_BASE_MS");

	if (cfg->max_retries > 0)
		p.max_retries = cfg->max_retries;
	/* Tests shrink the backoff so fault scenarios stay fast. */
	if (base && *base) {
		long v = strtol(base, NULL, 10);
		if (v > 0)
			p.base_ms = v;
	}
	return p;
}

/* Seconds from the environment (tests make them small), else the default. */
static long env_seconds(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end == '\0' && n > 0 && n <= 3600 ? n : def;
}

static void log_identity(const bk_aws *aws)
{
	const char *key = aws->creds.access_key_id;
	size_t n = strlen(key);

	/* The key id is not secret, but its tail is all anyone needs to see. */
	bk_logf(&aws->log, BK_LOG_INFO, "AWS credentials from %s (key ...%s), region %s",
		aws->creds.source ? aws->creds.source : "?", n > 4 ? key + n - 4 : "",
		aws->region);
}

int bk_aws_new(bk_aws **out, const bk_aws_config *cfg)
{
	bk_aws *aws;
	int rc;

	*out = NULL;
	if ((rc = bk_aws_global_init()) < 0)
		return rc;
	if (!(aws = calloc(1, sizeof(*aws))))
		return bk_oom();
	pthread_mutex_init(&aws->lock, NULL);
	pthread_mutex_init(&aws->refresh_lock, NULL);
	atomic_init(&aws->cancel, cfg->cancel);
	for (int i = 0; i < BK_SVC_COUNT; i++)
		atomic_init(&aws->calls[i], 0);
	aws->log = cfg->log;
	aws->skip_tls_verify = cfg->skip_tls_verify;
	if (cfg->session_endpoint && !(aws->session_endpoint = bk_strdup(cfg->session_endpoint)))
		rc = bk_oom();
	aws->retry = retry_policy(cfg);
	aws->connect_timeout_s = env_seconds("BAKEAMI_HTTP_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT_S);
	aws->stall_timeout_s = env_seconds("BAKEAMI_HTTP_STALL_TIMEOUT", DEFAULT_STALL_TIMEOUT_S);
	if (rc == 0 && !(aws->curl = curl_easy_init()))
		rc = bk_err(BAKEAMI_ERROR, "curl_easy_init failed");
	if (rc == 0)
		rc = bk_aws__resolve_region(&aws->region, cfg);
	if (rc == 0)
		rc = bk_aws__resolve_creds(aws, cfg);
	if (rc < 0) {
		bk_aws_free(aws);
		return rc;
	}
	log_identity(aws);
	*out = aws;
	return 0;
}

void bk_aws_free(bk_aws *aws)
{
	if (!aws)
		return;
	if (aws->curl)
		curl_easy_cleanup(aws->curl);
	free(aws->session_endpoint);
	bk_aws__creds_clear(&aws->creds);
	bk_aws_free(aws->refresh.base);
	bk_aws__refresh_clear(&aws->refresh);   /* wipes an MFA code bk_aws_new never spent */
	while (aws->retired) {
		struct bk_creds_node *next = aws->retired->next;
		bk_aws__creds_clear(&aws->retired->creds);
		free(aws->retired);
		aws->retired = next;
	}
	free(aws->region);
	pthread_mutex_destroy(&aws->lock);
	pthread_mutex_destroy(&aws->refresh_lock);
	free(aws);
}
