/*
 * http.c - one signed POST on the client's curl handle. libcurl does the
 * SigV4 signing (CURLOPT_AWS_SIGV4); we only choose what goes in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_int.h"

/* Bodies past this are not AWS answers we can use (a DescribeImages page of
 * 1000 images is a few MB). */
#define MAX_BODY (64L * 1024 * 1024)

int bk_aws__form_encode(bk_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			     *p == '.' || *p == '~';
		int rc = plain ? bk_buf_putc(out, (char)*p) : bk_buf_put(out, esc, 3);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const char *api_version(const char *service)
{
	if (strcmp(service, "ec2") == 0)
		return "2016-11-15";
	if (strcmp(service, "sts") == 0)
		return "2011-06-15";
	if (strcmp(service, "iam") == 0)
		return "2010-05-08";
	return NULL;
}

static int form_pair(bk_buf *b, const char *k, const char *v)
{
	if ((b->len && bk_buf_putc(b, '&') < 0) || bk_aws__form_encode(b, k) < 0 ||
	    bk_buf_putc(b, '=') < 0 || bk_aws__form_encode(b, v ? v : "") < 0)
		return bk_oom();
	return 0;
}

char *bk_aws__form_body(const char *service, const char *action, const bk_params *params)
{
	bk_buf b = BK_BUF_INIT;
	const char *version = api_version(service);
	int rc = form_pair(&b, "Action", action);

	if (rc == 0 && version)
		rc = form_pair(&b, "Version", version);
	for (size_t i = 0; params && rc == 0 && i < params->count; i++)
		rc = form_pair(&b, params->keys[i], params->vals[i]);
	if (rc < 0) {
		bk_buf_free(&b);
		bk_oom();
		return NULL;
	}
	return bk_buf_detach(&b);
}

void bk_http_resp_free(bk_http_resp *resp)
{
	bk_buf_free(&resp->body);
}

/* ---- curl callbacks ---------------------------------------------------- */

typedef struct {
	bk_http_resp *resp;
	bool too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *payload)
{
	sink *s = payload;

	if (s->resp->body.len + n > (size_t)MAX_BODY) {
		s->too_big = true;
		return 0;
	}
	return bk_buf_put(&s->resp->body, data, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *payload)
{
	static const char *const names[] = {"x-amzn-requestid:", "x-amz-request-id:"};
	sink *s = payload;
	size_t len = size * n;

	for (size_t i = 0; i < BK_ARRAY_SIZE(names); i++) {
		size_t nl = strlen(names[i]);
		if (len <= nl || strncasecmp(data, names[i], nl) != 0 ||
		    s->resp->request_id[0])
			continue;
		const char *v = data + nl, *end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		size_t vl = (size_t)(end - v) < 127 ? (size_t)(end - v) : 127;
		memcpy(s->resp->request_id, v, vl);
		s->resp->request_id[vl] = '\0';
	}
	return len;
}

/* A cancel aborts even a transfer that is waiting on a slow server. */
static int on_progress(void *payload, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	(void)dt; (void)dn; (void)ut; (void)un;
	return bk_cancelled(bk_aws__cancel(payload)) ? 1 : 0;
}

/* ---- the request --------------------------------------------------------- */

static int request_url(char **out, const bk_aws *aws, const bk_http_req *req)
{
	char *base;
	int rc = bk_aws__endpoint(&base, aws, req->service, req->region);

	if (rc < 0)
		return rc;
	/* POST to "/" of the endpoint, keeping any path it has; a REST call
	 * (S3, path-style) adds its own path. */
	*out = bk_sprintf("%s%s", base, req->path_query ? req->path_query : "/");
	free(base);
	return *out ? 0 : bk_oom();
}

static int add_header(struct curl_slist **list, const char *fmt, const char *val)
{
	char *line = bk_sprintf(fmt, val);
	struct curl_slist *l = line ? curl_slist_append(*list, line) : NULL;

	free(line);
	if (!l)
		return bk_oom();
	*list = l;
	return 0;
}

static int build_headers(struct curl_slist **out, const bk_http_req *req,
			 const bk_aws_creds *creds)
{
	char sha[65];
	int rc;

	/* The signed payload hash: moto checks signatures against it instead of
	 * re-encoding the form, and AWS accepts it too. */
	bk_sha256_hex(sha, req->body, req->body_len);
	rc = add_header(out, "x-amz-content-sha256: %s", sha);
	if (rc == 0 && req->content_type)
		rc = add_header(out, "Content-Type: %s", req->content_type);
	if (rc == 0 && req->content_md5)
		rc = add_header(out, "Content-MD5: %s", req->content_md5);
	if (rc == 0 && creds->session_token && *creds->session_token)
		rc = add_header(out, "X-Amz-Security-Token: %s", creds->session_token);
	if (rc == 0 && req->target)
		rc = add_header(out, "X-Amz-Target: %s", req->target);
	return rc;
}

/* The list holds the session token: wipe it before it goes back to the heap. */
static void free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

static void set_transport(CURL *c, bk_aws *aws, const bk_http_req *req, sink *s)
{
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (aws->skip_tls_verify && bk_aws__session_service(req->service)) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, aws->connect_timeout_s);
	/* Under 1 byte/s for the stall time: the endpoint accepted and went silent. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, aws->stall_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bakeami/" BAKEAMI_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, aws);
}

static int set_signing(CURL *c, const bk_http_req *req, const bk_aws_creds *creds)
{
	char sigv4[160];
	char *userpwd = bk_sprintf("%s:%s", creds->access_key_id, creds->secret_access_key);

	if (!userpwd)
		return bk_oom();
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", req->region, req->service);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	/* curl keeps its own copy; don't leave the secret lying in the heap. */
	explicit_bzero(userpwd, strlen(userpwd));
	free(userpwd);
	return 0;
}

static void note_network_error(bk_http_resp *resp, CURLcode cc, const char *errbuf,
			       const bk_aws *aws, const char *url)
{
	if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(resp->net_error, sizeof(resp->net_error), "timed out: %s did not "
			 "answer (connect limit %ld s, silence limit %ld s, whole call 60 s): %s",
			 url, aws->connect_timeout_s, aws->stall_timeout_s, errbuf);
	else
		snprintf(resp->net_error, sizeof(resp->net_error), "%s%s%s",
			 curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
	resp->status = 0;
}

/* POST with the body, unless a REST call says otherwise. */
static void set_method(CURL *c, const bk_http_req *req)
{
	const char *m = req->method ? req->method : "POST";

	if (strcmp(m, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
}

/*
 * What libcurl may re-send. libcurl (7.88 as in bookworm, and later) sends
 * a request again on its own, up to 5 times and with no option to turn it
 * off, when a *reused* connection dies before any byte of the answer
 * ("Connection died, retrying a fresh connect"): right for the idle
 * keep-alive connection the server closed as we wrote to it, wrong when
 * the server acted and the answer was lost on the way, because we never
 * learn the first send happened. CURLOPT_MAXAGE_CONN only makes the first
 * case rarer; it does not stop the re-send. So a call that creates
 * something goes on a new connection (CURLOPT_FRESH_CONNECT), which
 * libcurl never re-sends: a lost answer comes back to query.c, which
 * logs, backs off and re-sends only what is safe (a ClientToken), and
 * CreateImage, which has none, looks for its image first. A delete goes
 * the same way: re-sent unseen, its own success would come back as "not
 * found" and be counted as already gone (query.c tracks our re-sends).
 * Every other call (reads, tags) may be re-sent by libcurl: doing it
 * twice is harmless, and they keep the warm connection. Each create still adopts
 * its own resource on Duplicate (ec2_net.c, ec2_images.c), whoever re-sent.
 */
/* Caller holds aws->lock. */
static int perform_locked(bk_aws *aws, const bk_http_req *req, bk_http_resp *resp)
{
	const bk_aws_creds *creds = req->creds ? req->creds : &aws->creds;
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url = NULL;
	sink s = {resp, false};
	CURL *c = aws->curl;
	CURLcode cc;
	int rc;

	if ((rc = request_url(&url, aws, req)) < 0)
		return rc;
	/* Reset keeps the live connections: the point of reusing the handle. */
	curl_easy_reset(c);
	rc = build_headers(&headers, req, creds);
	if (rc == 0)
		rc = set_signing(c, req, creds);
	if (rc < 0)
		goto done;
	set_transport(c, aws, req, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	set_method(c, req);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, req->fresh_connection ? 1L : 0L);
	cc = curl_easy_perform(c);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = BAKEAMI_ECANCELLED;
	} else if (s.too_big) {
		snprintf(resp->net_error, sizeof(resp->net_error),
			 "response larger than %ld bytes", MAX_BODY);
		resp->status = 0;
	} else if (cc != CURLE_OK) {
		note_network_error(resp, cc, errbuf, aws, url);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	/* The handle must not point at our stack or freed lists once we return. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
done:
	free_headers(headers);
	free(url);
	return rc;
}

int bk_aws__send(bk_aws *aws, const bk_http_req *req, bk_http_resp *resp)
{
	int rc;

	resp->status = 0;
	resp->request_id[0] = resp->net_error[0] = '\0';
	bk_buf_clear(&resp->body);
	atomic_fetch_add(&aws->calls[bk_aws__service_index(req->service)], 1);
	pthread_mutex_lock(&aws->lock);
	rc = perform_locked(aws, req, resp);
	pthread_mutex_unlock(&aws->lock);
	return rc;
}
