/*
 * test_aws_retry.c - the retry policy, and the request loop against a stub
 * HTTP server on 127.0.0.1 that answers with canned responses: what is
 * retried, what is not, the log line, call counts, cancel, the signed
 * headers, and CreateImage/DeleteSecurityGroup's own loops.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "aws/aws_int.h"
#include "aws/ec2.h"

/* ---- a stub server: one canned reply per connection ------------------------ */

#define SLOW "SLOW"   /* reply marker: no answer until the client hangs up (30 s at most) */

typedef struct {
	int fd;
	int port;
	char **replies;
	size_t n;
	bk_buf requests;       /* every request received, in order */
	pthread_t thread;
	bool joined;
} stub;

static char *reply(const char *status, const char *headers, const char *body)
{
	return bk_sprintf("HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
			  status, headers, strlen(body), body);
}

static void read_request(int c, stub *s)
{
	char buf[65536];
	size_t len = 0;
	long want = -1;

	while (len < sizeof(buf) - 1) {
		ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end && want < 0) {
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			want = (long)(end + 4 - buf) + (cl ? strtol(cl + 17, NULL, 10) : 0);
		}
		if (want >= 0 && (long)len >= want)
			break;
	}
	bk_buf_put(&s->requests, buf, len);
	bk_buf_puts(&s->requests, "\n----\n");
}

static void *serve(void *arg)
{
	stub *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		read_request(c, s);
		const char *r = s->replies[i];
		if (strcmp(r, SLOW) == 0) {
			/* POLLIN: the client closed (EOF); never answered, so only a
			 * cancel can end the call before the 30 s. */
			struct pollfd p = {.fd = c, .events = POLLIN};
			(void)poll(&p, 1, 30000);
			close(c);
			continue;
		}
		ssize_t w = write(c, r, strlen(r));
		(void)w;
		close(c);
	}
	return NULL;
}

static int listen_loopback(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Start serving `replies` (taken over, NULL-terminated) and point AWS_ENDPOINT_URL at it. */
static void stub_start(stub *s, char **replies)
{
	char url[64];

	memset(s, 0, sizeof(*s));
	s->replies = replies;
	while (replies[s->n])
		s->n++;
	s->fd = listen_loopback(&s->port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* Wait for the server thread, so its record of requests can be read. */
static void stub_join(stub *s)
{
	if (s->joined)
		return;
	shutdown(s->fd, SHUT_RDWR);   /* wakes accept() if the client stopped early */
	pthread_join(s->thread, NULL);
	s->joined = true;
}

static void stub_stop(stub *s)
{
	stub_join(s);
	close(s->fd);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->replies[i], SLOW) != 0)
			free(s->replies[i]);
	bk_buf_free(&s->requests);
}

/* ---- a client on the stub ---------------------------------------------------- */

typedef struct {
	bk_buf log;
	bk_cancel cancel;
	bk_aws *aws;
} fixture;

static void capture(bk_log_level level, const char *msg, void *payload)
{
	fixture *f = payload;

	if (level == BK_LOG_WARN)
		bk_buf_printf(&f->log, "%s\n", msg);
}

static void client(fixture *f, int max_retries, const char *token)
{
	bk_aws_config cfg = {0};

	memset(f, 0, sizeof(*f));
	cfg.access_key_id = "AKIDEXAMPLE";
	cfg.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	cfg.session_token = token;
	cfg.region = "us-east-1";
	cfg.max_retries = max_retries;
	cfg.cancel = &f->cancel;
	cfg.log.fn = capture;
	cfg.log.payload = f;
	assert_int_equal(bk_aws_new(&f->aws, &cfg), 0);
}

static void client_free(fixture *f)
{
	bk_aws_free(f->aws);
	bk_buf_free(&f->log);
}

static int setup(void **state)
{
	(void)state;
	setenv("BAKEAMI_RETRY_BASE_MS", "1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_ENDPOINT_URL_EC2");
	unsetenv("AWS_ENDPOINT_URL_SSM");
	return 0;
}

#define OK_XML "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">" \
	"<requestId>r</requestId><imagesSet/></DescribeImagesResponse>"
#define ERR_XML(code, msg) "<?xml version=\"1.0\"?><Response xmlns=\"http://ec2.amazonaws.com/" \
	"doc/2016-11-15\"><Errors><Error><Code>" code "</Code><Message>" msg "</Message>" \
	"</Error></Errors><RequestID>request-id</RequestID></Response>"

static int describe(fixture *f, char code[64])
{
	bk_params p = BK_KV_INIT;
	xmlDocPtr doc = NULL;
	int rc;

	bk_params_add(&p, "Owner.1", "self");
	rc = bk_aws_query(&doc, f->aws, "ec2", NULL, "DescribeImages", &p, code);
	xmlFreeDoc(doc);
	bk_kv_free(&p);
	return rc;
}

/* ---- the policy --------------------------------------------------------------- */

static void decides_what_to_retry(void **state)
{
	(void)state;
	assert_true(bk_retry_should(0, NULL));
	assert_true(bk_retry_should(500, ""));
	assert_true(bk_retry_should(502, NULL));
	assert_true(bk_retry_should(503, "Unavailable"));
	assert_true(bk_retry_should(504, NULL));
	assert_true(bk_retry_should(400, "Throttling"));
	assert_true(bk_retry_should(400, "RequestLimitExceeded"));
	assert_true(bk_retry_should(400, "ThrottlingException"));
	assert_true(bk_retry_should(400, "TooManyRequestsException"));
	assert_true(bk_retry_should(503, "SlowDown"));
	assert_true(bk_retry_should(400, "EC2ThrottledException"));
	assert_false(bk_retry_should(400, "InvalidAMIID.NotFound"));
	assert_false(bk_retry_should(401, "AuthFailure"));
	assert_false(bk_retry_should(403, "AccessDenied"));
	assert_false(bk_retry_should(404, NULL));
	assert_false(bk_retry_should(412, "DryRunOperation"));
	assert_false(bk_retry_should(400, NULL));
	assert_false(bk_retry_should(501, NULL));
}

static void backs_off_with_full_jitter(void **state)
{
	bk_retry_policy p = {10, 200, 20000};

	(void)state;
	assert_int_equal(bk_retry_delay_ms(&p, 1, 0.0), 0);
	assert_int_equal(bk_retry_delay_ms(&p, 1, 0.5), 100);
	assert_true(bk_retry_delay_ms(&p, 1, 0.9999) < 200);
	assert_int_equal(bk_retry_delay_ms(&p, 2, 0.5), 200);
	assert_int_equal(bk_retry_delay_ms(&p, 4, 0.5), 800);
	/* Capped, and no overflow however far it goes. */
	assert_int_equal(bk_retry_delay_ms(&p, 8, 0.5), 10000);
	assert_int_equal(bk_retry_delay_ms(&p, 1000, 0.5), 10000);
	assert_true(bk_retry_delay_ms(&p, 1000, 1.0) < 20000);
	assert_int_equal(bk_retry_delay_ms(&p, 3, -1.0), 0);
}

static void uncertain_means_maybe_applied(void **state)
{
	(void)state;
	assert_true(bk_aws__uncertain(0, ""));
	assert_true(bk_aws__uncertain(500, "InternalError"));
	assert_true(bk_aws__uncertain(503, "HTTP 503"));
	assert_false(bk_aws__uncertain(503, "RequestLimitExceeded"));
	assert_false(bk_aws__uncertain(400, "Throttling"));
	assert_false(bk_aws__uncertain(400, "InvalidParameterValue"));
}

static void encodes_forms_rfc3986(void **state)
{
	bk_buf b = BK_BUF_INIT;
	bk_params p = BK_KV_INIT;
	char *body;

	(void)state;
	assert_int_equal(bk_aws__form_encode(&b, "aZ09-_.~ *+/=&%\xc3\xa9"), 0);
	assert_string_equal(b.ptr, "aZ09-_.~%20%2A%2B%2F%3D%26%25%C3%A9");
	bk_buf_free(&b);
	bk_params_add(&p, "Filter.1.Name", "name");
	bk_params_addf(&p, "Filter.1.Value.1", "web %d*", 2);
	body = bk_aws__form_body("ec2", "DescribeImages", &p);
	assert_string_equal(body, "Action=DescribeImages&Version=2016-11-15&Filter.1.Name=name"
			    "&Filter.1.Value.1=web%202%2A");
	free(body);
	body = bk_aws__form_body("sts", "GetCallerIdentity", NULL);
	assert_string_equal(body, "Action=GetCallerIdentity&Version=2011-06-15");
	free(body);
	bk_kv_free(&p);
}

static void endpoints_follow_env(void **state)
{
	char *e;

	(void)state;
	unsetenv("AWS_ENDPOINT_URL");
	e = bk_aws_endpoint("ec2", "eu-west-1");
	assert_string_equal(e, "https://ec2.eu-west-1.amazonaws.com");
	free(e);
	e = bk_aws_endpoint("sts", "us-east-2");
	assert_string_equal(e, "https://sts.us-east-2.amazonaws.com");
	free(e);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", 1);
	setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:6000", 1);
	e = bk_aws_endpoint("ec2", "eu-west-1");
	assert_string_equal(e, "http://127.0.0.1:5000");
	free(e);
	e = bk_aws_endpoint("ssm", "eu-west-1");
	assert_string_equal(e, "http://127.0.0.1:6000");
	free(e);
	unsetenv("AWS_ENDPOINT_URL_SSM");
	unsetenv("AWS_ENDPOINT_URL");
}

/* The URL builder itself refuses a region that would change the host. */
static void endpoints_refuse_a_host_in_the_region(void **state)
{
	(void)state;
	unsetenv("AWS_ENDPOINT_URL");
	assert_null(bk_aws_endpoint("ec2", "x@127.0.0.1:47999/#"));
	assert_non_null(strstr(bk_err_msg(), "is not a DNS name"));
	assert_null(bk_aws_endpoint("ec2", "us-east-1.evil.com:80"));
	assert_null(bk_aws_endpoint("ec2", ""));
	assert_int_equal(bk_aws_region_check("eu-central-1", "region"), 0);
	assert_int_equal(bk_aws_region_check("us-gov-west-1", "region"), 0);
	assert_int_equal(bk_aws_region_check("local", "region"), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "region: \"local\" is not an AWS region (like us-east-1)");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000", 1);
	assert_int_equal(bk_aws_region_check("local", "region"), 0);
	assert_int_equal(bk_aws_region_check("x@127.0.0.1:47999/#", "region"), BAKEAMI_EINVALID);
	unsetenv("AWS_ENDPOINT_URL");
}

/* custom_endpoint_ec2 as the AWS SDK reads one: https:// when no scheme is
 * named; what a signed request cannot carry is refused, naming where. */
static void endpoint_urls_parsed(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{"ec2.example.com", "https://ec2.example.com"},
		{"http://127.0.0.1:5000/", "http://127.0.0.1:5000"},
		{"https://vpce-1.ec2.us-east-1.vpce.amazonaws.com", "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com"},
		{"HTTPS://Example.com:8443/aws//", "https://Example.com:8443/aws"},
	};
	static const struct { const char *in, *why; } bad[] = {
		{"not a url", "Bad hostname"},
		{"ftp://example.com", "only https:// and http://"},
		{"https://user:pw@example.com", "not an endpoint URL: it names a user"},
		{"https://user:pw@bad host", "not an endpoint URL: "},
		{"https://example.com/?x=1", "it has a query"},
		{"https://example.com/#top", "it has a fragment"},
		{"", "is not an endpoint URL"},
	};
	char *out;

	(void)state;
	for (size_t i = 0; i < BK_ARRAY_SIZE(ok); i++) {
		assert_int_equal(bk_aws_endpoint_parse(&out, ok[i].in, "t.json: x"), 0);
		assert_string_equal(out, ok[i].out);
		free(out);
	}
	for (size_t i = 0; i < BK_ARRAY_SIZE(bad); i++) {
		assert_int_equal(bk_aws_endpoint_parse(&out, bad[i].in, "t.json: x"), BAKEAMI_EINVALID);
		assert_null(out);
		assert_true(bk_str_starts(bk_err_msg(), "t.json: x: "));
		assert_non_null(strstr(bk_err_msg(), bad[i].why));
		assert_null(strstr(bk_err_msg(), "pw@"));
	}
}

/* Packer's session-wide endpoint: EC2 and IAM in every region, over the
 * environment's; the other services keep theirs. */
static void session_endpoint_takes_ec2_and_iam(void **state)
{
	bk_aws_config cfg = {0};
	bk_aws *aws;
	char *e;

	(void)state;
	setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000", 1);
	cfg.access_key_id = "AKIDEXAMPLE";
	cfg.secret_access_key = "secret";
	cfg.region = "us-east-1";
	cfg.session_endpoint = "https://ec2.example.com";
	assert_int_equal(bk_aws_new(&aws, &cfg), 0);
	for (int i = 0; i < 3; i++) {
		const char *service = i == 2 ? "iam" : "ec2", *region = i ? "eu-west-1" : "us-east-1";
		assert_int_equal(bk_aws__endpoint(&e, aws, service, region), 0);
		assert_string_equal(e, "https://ec2.example.com");
		free(e);
	}
	assert_int_equal(bk_aws__endpoint(&e, aws, "ssm", "eu-west-1"), 0);
	assert_string_equal(e, "https://ssm.eu-west-1.amazonaws.com");
	free(e);
	bk_aws_free(aws);
	assert_int_equal(bk_aws__endpoint(&e, NULL, "ec2", "us-east-1"), 0);
	assert_string_equal(e, "http://127.0.0.1:5000");
	free(e);
	unsetenv("AWS_ENDPOINT_URL_EC2");
}

/* ---- the loop, against the stub ---------------------------------------------- */

static void retries_throttling_and_5xx_then_succeeds(void **state)
{
	char *replies[] = {
		reply("503 Service Unavailable", "Content-Type: text/xml\r\n",
		      ERR_XML("RequestLimitExceeded", "Request limit exceeded.")),
		reply("500 Internal Server Error", "Content-Type: text/html\r\n",
		      "<!doctype html><title>500 Internal Server Error</title>"),
		reply("200 OK", "Content-Type: text/xml\r\n", OK_XML),
		NULL};
	fixture f;
	stub s;
	char code[64];

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(describe(&f, code), 0);
	assert_string_equal(code, "");
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 3);
	assert_int_equal(bk_aws_call_count(f.aws, "sts"), 0);
	assert_non_null(strstr(f.log.ptr, "retrying EC2 DescribeImages after "
				"RequestLimitExceeded (attempt 2/11, 0.0s)\n"));
	assert_non_null(strstr(f.log.ptr, "retrying EC2 DescribeImages after HTTP 500 "
				"(attempt 3/11, 0.0s)\n"));
	client_free(&f);
	stub_stop(&s);
}

static void client_errors_are_not_retried(void **state)
{
	char *replies[] = {
		reply("400 Bad Request", "x-amzn-RequestId: abc-123\r\n",
		      ERR_XML("InvalidAMIID.NotFound", "The image id '[ami-1]' does not exist")),
		NULL};
	fixture f;
	stub s;
	char code[64];

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(describe(&f, code), BAKEAMI_EAWS);
	assert_string_equal(code, "InvalidAMIID.NotFound");
	assert_string_equal(bk_err_msg(), "DescribeImages: InvalidAMIID.NotFound: The image id "
			    "'[ami-1]' does not exist (request id abc-123)");
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 1);
	assert_null(f.log.ptr);
	client_free(&f);
	stub_stop(&s);
}

static void gives_up_after_max_retries(void **state)
{
	char *replies[] = {
		reply("502 Bad Gateway", "", "<html><body>bad gateway</body></html>"),
		reply("502 Bad Gateway", "", "<html><body>bad gateway</body></html>"),
		reply("502 Bad Gateway", "", "<html><body>bad gateway</body></html>"),
		NULL};
	fixture f;
	stub s;
	char code[64];

	(void)state;
	stub_start(&s, replies);
	client(&f, 2, NULL);
	assert_int_equal(describe(&f, code), BAKEAMI_EAWS);
	assert_string_equal(code, "HTTP 502");
	assert_string_equal(bk_err_msg(), "DescribeImages: HTTP 502: bad gateway");
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 3);
	assert_non_null(strstr(f.log.ptr, "(attempt 3/3, "));
	client_free(&f);
	stub_stop(&s);
}

static void network_errors_are_retried(void **state)
{
	int port, fd = listen_loopback(&port);
	char url[64], code[64];
	fixture f;

	(void)state;
	close(fd);   /* nothing listens there now: connection refused */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("AWS_ENDPOINT_URL", url, 1);
	client(&f, 1, NULL);
	assert_int_equal(describe(&f, code), BAKEAMI_EAWS);
	assert_string_equal(code, "");
	assert_non_null(strstr(bk_err_msg(), "DescribeImages: network error: "));
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 2);
	assert_non_null(strstr(f.log.ptr, "after network error (attempt 2/2"));
	client_free(&f);
}

static void *cancel_soon(void *arg)
{
	struct timespec ts = {0, 200 * 1000000L};

	nanosleep(&ts, NULL);
	bk_cancel_set(arg);
	return NULL;
}

static void cancel_aborts_a_transfer(void **state)
{
	char *replies[] = {SLOW, NULL};
	pthread_t t;
	fixture f;
	stub s;
	double t0;

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	pthread_create(&t, NULL, cancel_soon, &f.cancel);
	t0 = bk_now();
	assert_int_equal(describe(&f, NULL), BAKEAMI_ECANCELLED);
	/* Cancelled at 0.2 s; libcurl calls the progress callback about once a
	 * second while no data moves, so the abort may take a second more. The
	 * reply would have taken 30 s. */
	assert_true(bk_now() - t0 < 3.0);
	assert_string_equal(bk_err_msg(), "DescribeImages: cancelled");
	pthread_join(t, NULL);
	/* Already cancelled: no request at all. */
	assert_int_equal(describe(&f, NULL), BAKEAMI_ECANCELLED);
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 1);
	/* Swapping the flag out lets cleanup talk to AWS again. */
	bk_aws_set_cancel(f.aws, NULL);
	client_free(&f);
	stub_stop(&s);
}

static void signs_with_sigv4_and_payload_hash(void **state)
{
	char *replies[] = {reply("200 OK", "", OK_XML), NULL};
	const char *body = "Action=DescribeImages&Version=2016-11-15&Owner.1=self";
	char sha[65], want[100];
	fixture f;
	stub s;

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, "SESSIONTOKEN/x+y=");
	assert_int_equal(describe(&f, NULL), 0);
	stub_join(&s);
	bk_sha256_hex(sha, body, strlen(body));
	snprintf(want, sizeof(want), "x-amz-content-sha256: %s\r\n", sha);
	const char *req = s.requests.ptr;
	assert_non_null(strstr(req, "POST / HTTP/1.1\r\n"));
	assert_non_null(strstr(req, want));
	assert_non_null(strstr(req, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	assert_non_null(strstr(req, "/us-east-1/ec2/aws4_request, SignedHeaders="));
	assert_non_null(strstr(req, "x-amz-content-sha256;x-amz-date;x-amz-security-token"));
	assert_non_null(strstr(req, "X-Amz-Security-Token: SESSIONTOKEN/x+y=\r\n"));
	assert_non_null(strstr(req, "Content-Type: application/x-www-form-urlencoded; "
			       "charset=utf-8\r\n"));
	assert_non_null(strstr(req, body));
	assert_null(strstr(req, "wJalrXUtnFEMI"));
	client_free(&f);
	stub_stop(&s);
}

static void json_protocol_calls_and_errors(void **state)
{
	char *replies[] = {
		reply("200 OK", "Content-Type: application/x-amz-json-1.1\r\n",
		      "{\"Parameter\":{\"Value\":\"ami-123\"}}"),
		reply("400 Bad Request", "x-amzn-RequestId: j-1\r\n",
		      "{\"__type\":\"ParameterNotFound\",\"message\":\"no /x\"}"),
		NULL};
	cJSON *body = cJSON_CreateObject(), *out = NULL;
	char code[64];
	fixture f;
	stub s;

	(void)state;
	cJSON_AddStringToObject(body, "Name", "/x");
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(bk_aws_json(&out, f.aws, "ssm", NULL, "AmazonSSM.GetParameter", body,
				     code), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Parameter"),
						"Value")->valuestring, "ami-123");
	cJSON_Delete(out);
	assert_int_equal(bk_aws_json(&out, f.aws, "ssm", NULL, "AmazonSSM.GetParameter", body,
				     code), BAKEAMI_EAWS);
	assert_null(out);
	assert_string_equal(code, "ParameterNotFound");
	assert_string_equal(bk_err_msg(), "GetParameter: ParameterNotFound: no /x (request id j-1)");
	assert_int_equal(bk_aws_call_count(f.aws, "ssm"), 2);
	client_free(&f);
	stub_join(&s);
	assert_non_null(strstr(s.requests.ptr, "X-Amz-Target: AmazonSSM.GetParameter\r\n"));
	assert_non_null(strstr(s.requests.ptr, "Content-Type: application/x-amz-json-1.1\r\n"));
	assert_non_null(strstr(s.requests.ptr, "/us-east-1/ssm/aws4_request"));
	assert_non_null(strstr(s.requests.ptr, "{\"Name\":\"/x\"}"));
	stub_stop(&s);
	cJSON_Delete(body);
}

static void *describe_ten(void *arg)
{
	fixture *f = arg;
	long failures = 0;

	for (int i = 0; i < 10; i++)
		failures += describe(f, NULL) != 0;
	return (void *)failures;
}

static void two_threads_share_one_client(void **state)
{
	char *replies[21];
	pthread_t a, b;
	void *fa, *fb;
	fixture f;
	stub s;

	(void)state;
	for (int i = 0; i < 20; i++)
		replies[i] = reply("200 OK", "", OK_XML);
	replies[20] = NULL;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	pthread_create(&a, NULL, describe_ten, &f);
	pthread_create(&b, NULL, describe_ten, &f);
	pthread_join(a, &fa);
	pthread_join(b, &fb);
	assert_null(fa);
	assert_null(fb);
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 20);
	client_free(&f);
	stub_stop(&s);
}

/* ---- EC2 calls with loops of their own ------------------------------------------ */

static void create_image_looks_before_resending(void **state)
{
	char *replies[] = {
		reply("500 Internal Server Error", "",
		      ERR_XML("InternalError", "An internal error has occurred")),
		reply("200 OK", "", "<DescribeImagesResponse><imagesSet><item>"
		      "<imageId>ami-0abc</imageId><name>web-1</name>"
		      "<creationDate>2026-01-01T00:00:00.000Z</creationDate>"
		      "</item></imagesSet></DescribeImagesResponse>"),
		NULL};
	bk_ec2_image_request req = {"i-1", "web-1", NULL, NULL, 0, NULL, NULL, NULL};
	char *ami = NULL;
	fixture f;
	stub s;

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(bk_ec2_create_image(&ami, f.aws, &req), 0);
	assert_string_equal(ami, "ami-0abc");
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 2);
	free(ami);
	client_free(&f);
	stub_stop(&s);
}

/* A Duplicate name is ours only with our run id: another's image is an
 * error that names it, never adopted. */
static void create_image_adopts_only_its_own_duplicate(void **state)
{
	char *replies[] = {
		reply("400 Bad Request", "", ERR_XML("InvalidAMIName.Duplicate", "in use")),
		reply("200 OK", "", "<DescribeImagesResponse><imagesSet><item>"
		      "<imageId>ami-0abc</imageId><name>web-1</name><tagSet><item>"
		      "<key>bakeami:run-id</key><value>bk-other</value></item></tagSet>"
		      "</item></imagesSet></DescribeImagesResponse>"),
		reply("400 Bad Request", "", ERR_XML("InvalidAMIName.Duplicate", "in use")),
		reply("200 OK", "", "<DescribeImagesResponse><imagesSet><item>"
		      "<imageId>ami-0def</imageId><name>web-1</name><tagSet><item>"
		      "<key>bakeami:run-id</key><value>bk-mine</value></item></tagSet>"
		      "</item></imagesSet></DescribeImagesResponse>"),
		NULL};
	bk_kv tags = BK_KV_INIT;
	bk_ec2_image_request req = {"i-1", "web-1", NULL, NULL, 0, &tags, NULL, NULL};
	char *ami = NULL;
	fixture f;
	stub s;

	(void)state;
	assert_int_equal(bk_kv_add(&tags, "bakeami:run-id", "bk-mine"), 0);
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(bk_ec2_create_image(&ami, f.aws, &req), BAKEAMI_EAWS);
	assert_null(ami);
	assert_non_null(strstr(bk_err_msg(), "ami-0abc"));
	assert_non_null(strstr(bk_err_msg(), "not this run's"));
	assert_int_equal(bk_ec2_create_image(&ami, f.aws, &req), 0);
	assert_string_equal(ami, "ami-0def");
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 4);
	free(ami);
	bk_kv_free(&tags);
	client_free(&f);
	stub_stop(&s);
}

/* A describe answer may be shared with other bakes (ec2_shared.c): each
 * reads its own part, and an answer without it is its "not found". */
static void describes_read_their_own_part(void **state)
{
	char *replies[] = {
		reply("200 OK", "", "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
		      "<item><instanceId>i-other</instanceId><instanceState><name>running</name>"
		      "</instanceState></item></instancesSet></item></reservationSet>"
		      "</DescribeInstancesResponse>"),
		reply("200 OK", "", "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
		      "<item><instanceId>i-other</instanceId><instanceState><name>running</name>"
		      "</instanceState></item></instancesSet></item><item><instancesSet><item>"
		      "<instanceId>i-mine</instanceId><instanceState><name>pending</name>"
		      "</instanceState></item></instancesSet></item></reservationSet>"
		      "</DescribeInstancesResponse>"),
		reply("200 OK", "", "<DescribeImagesResponse><imagesSet><item><imageId>ami-other"
		      "</imageId><name>web-10</name></item><item><imageId>ami-mine</imageId>"
		      "<name>web-1</name><imageState>pending</imageState></item></imagesSet>"
		      "</DescribeImagesResponse>"),
		reply("200 OK", "", "<DescribeImagesResponse><imagesSet><item><imageId>ami-other"
		      "</imageId><name>web-10</name></item><item><imageId>ami-mine</imageId>"
		      "<name>web-1</name></item></imagesSet></DescribeImagesResponse>"),
		NULL};
	const char *ids[] = {"ami-mine"};
	bk_ec2_image_query q = {ids, 1, NULL, 0, NULL, false};
	bk_ec2_instance inst;
	bk_ec2_images imgs;
	fixture f;
	stub s;

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	assert_int_equal(bk_ec2_describe_instance(&inst, f.aws, "i-mine"), BAKEAMI_ENOTFOUND);
	assert_int_equal(bk_ec2_describe_instance(&inst, f.aws, "i-mine"), 0);
	assert_string_equal(inst.id, "i-mine");
	assert_string_equal(inst.state, "pending");
	bk_ec2_instance_free(&inst);
	assert_int_equal(bk_ec2_describe_images(&imgs, f.aws, NULL, &q), 0);
	assert_int_equal(imgs.count, 1);
	assert_string_equal(imgs.items[0].id, "ami-mine");
	bk_ec2_images_free(&imgs);
	/* The name filter is a pattern: only the exact name is ours. */
	assert_int_equal(bk_ec2_describe_images_named(&imgs, f.aws, NULL, "web-1"), 0);
	assert_int_equal(imgs.count, 1);
	assert_string_equal(imgs.items[0].id, "ami-mine");
	bk_ec2_images_free(&imgs);
	stub_join(&s);
	assert_non_null(strstr(s.requests.ptr, "InstanceId.1=i-mine"));
	assert_non_null(strstr(s.requests.ptr, "ImageId.1=ami-mine"));
	assert_non_null(strstr(s.requests.ptr, "Owner.1=self&Filter.1.Name=name&Filter.1.Value.1=web-1"));
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 4);
	client_free(&f);
	stub_stop(&s);
}

static void delete_group_waits_out_dependency_violation(void **state)
{
	char *replies[] = {
		reply("400 Bad Request", "", ERR_XML("DependencyViolation", "resource has a dependent object")),
		reply("200 OK", "", "<DeleteSecurityGroupResponse><return>true</return>"
		      "</DeleteSecurityGroupResponse>"),
		reply("400 Bad Request", "", ERR_XML("DependencyViolation", "still")),
		reply("400 Bad Request", "", ERR_XML("InvalidGroup.NotFound", "gone")),
		NULL};
	fixture f;
	stub s;

	(void)state;
	stub_start(&s, replies);
	client(&f, 0, NULL);
	/* Deadlines are far from the stub's answer times, so a loaded machine
	 * cannot change how many attempts each call makes. */
	assert_int_equal(bk_ec2_delete_security_group(f.aws, "sg-1", bk_now() + 1.0), 0);
	assert_int_equal(bk_ec2_delete_security_group(f.aws, "sg-1", bk_now()),
			 BAKEAMI_ETIMEOUT);
	assert_non_null(strstr(bk_err_msg(), "DependencyViolation"));
	/* gone already: said apart from deleted */
	assert_int_equal(bk_ec2_delete_security_group(f.aws, "sg-1", bk_now() + 1.0),
			 BAKEAMI_ENOTFOUND);
	assert_non_null(strstr(bk_err_msg(), "already gone"));
	assert_int_equal(bk_aws_call_count(f.aws, "ec2"), 4);
	client_free(&f);
	stub_stop(&s);
}

/* Renewal: five minutes ahead, a quarter of the life ahead for short
 * sessions (a 60 s one at 45 s), never for credentials that do not expire;
 * the role settings STS takes, refused before any call otherwise. */
static void renews_ahead_and_checks_role_settings(void **state)
{
	(void)state;
	assert_true(bk_aws__renew_time(0, 1000) == 0);
	assert_true(bk_aws__renew_time(1000 + 3600, 1000) == 1000 + 3600 - 300);
	assert_true(bk_aws__renew_time(1000 + 900, 1000) == 1000 + 900 - 225);
	assert_true(bk_aws__renew_time(1000 + 60, 1000) == 1000 + 45);
	assert_true(bk_aws__renew_time(990, 1000) == 990);   /* expired: renew now */
	assert_int_equal(bk_aws_role_check("arn:aws:iam::123456789012:role/a/b-c", "ext:1/2", "s@x",
					   "t"), 0);
	assert_int_equal(bk_aws_role_check("arn:aws-cn:iam::123456789012:role/r", NULL, NULL, "t"), 0);
	assert_int_equal(bk_aws_role_check("arn:aws:iam::12345678901:role/r", NULL, NULL, "t"),
			 BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "is not an IAM role ARN"));
	assert_int_equal(bk_aws_role_check("arn:aws:iam::123456789012:user/r", NULL, NULL, "t"),
			 BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_check("arn:aws:iam::123456789012:role/", NULL, NULL, "t"),
			 BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_check("arn:aws:iam::123456789012:role/r", "x", NULL, "t"),
			 BAKEAMI_EINVALID);
	assert_int_equal(bk_aws_role_check("arn:aws:iam::123456789012:role/r", NULL, "a b", "t"),
			 BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "role session name \"a b\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decides_what_to_retry),
		cmocka_unit_test(backs_off_with_full_jitter),
		cmocka_unit_test(uncertain_means_maybe_applied),
		cmocka_unit_test(encodes_forms_rfc3986),
		cmocka_unit_test(endpoints_follow_env),
		cmocka_unit_test(endpoints_refuse_a_host_in_the_region),
		cmocka_unit_test(endpoint_urls_parsed),
		cmocka_unit_test(session_endpoint_takes_ec2_and_iam),
		cmocka_unit_test(retries_throttling_and_5xx_then_succeeds),
		cmocka_unit_test(client_errors_are_not_retried),
		cmocka_unit_test(gives_up_after_max_retries),
		cmocka_unit_test(network_errors_are_retried),
		cmocka_unit_test(cancel_aborts_a_transfer),
		cmocka_unit_test(signs_with_sigv4_and_payload_hash),
		cmocka_unit_test(json_protocol_calls_and_errors),
		cmocka_unit_test(two_threads_share_one_client),
		cmocka_unit_test(create_image_looks_before_resending),
		cmocka_unit_test(create_image_adopts_only_its_own_duplicate),
		cmocka_unit_test(describes_read_their_own_part),
		cmocka_unit_test(delete_group_waits_out_dependency_violation),
		cmocka_unit_test(renews_ahead_and_checks_role_settings),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
