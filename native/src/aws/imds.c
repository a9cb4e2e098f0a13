/*
 * imds.c - instance-role credentials from the EC2 instance metadata
 * service, IMDSv2 only (session token first). Off an instance nothing
 * answers, so the timeouts are short.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_int.h"

#define IMDS_DEFAULT "http://169.254.169.254"

static size_t collect(char *data, size_t size, size_t n, void *payload)
{
	bk_buf *b = payload;

	/* Metadata answers are tiny; anything big is not IMDS. */
	if (b->len + size * n > 64 * 1024)
		return 0;
	return bk_buf_put(b, data, size * n) < 0 ? 0 : size * n;
}

/* One request; returns the HTTP status, 0 when nothing answered. */
static long imds_request(CURL *c, const char *url, bool put, const char *header, bk_buf *out)
{
	struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
	long status = 0;

	bk_buf_clear(out);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (put) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	return status;
}

static char *imds_base(void)
{
	const char *v = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	size_t n;

	if (!v || !*v)
		v = IMDS_DEFAULT;
	n = strlen(v);
	while (n && v[n - 1] == '/')
		n--;
	return bk_strndup(v, n);
}

/* GET base+path with the session token; the body in `out`. */
static int imds_get(CURL *c, const char *base, const char *path, const char *token, bk_buf *out)
{
	char *url = bk_sprintf("%s%s", base, path);
	char *hdr = bk_sprintf("X-aws-ec2-metadata-token: %s", token);
	long status = url && hdr ? imds_request(c, url, false, hdr, out) : -1;

	free(url);
	if (hdr)
		explicit_bzero(hdr, strlen(hdr));
	free(hdr);
	if (status < 0)
		return bk_oom();
	if (status != 200 || !out->ptr)
		return bk_err(BAKEAMI_ENOTFOUND, "instance metadata %s: HTTP %ld", path, status);
	return 0;
}

static int imds_token(CURL *c, const char *base, char **out)
{
	char *url = bk_sprintf("%s/latest/api/token", base);
	bk_buf b = BK_BUF_INIT;
	long status;

	if (!url)
		return bk_oom();
	status = imds_request(c, url, true, "X-aws-ec2-metadata-token-ttl-seconds: 21600", &b);
	free(url);
	if (status != 200 || !b.ptr) {
		bk_buf_free(&b);
		return bk_err(BAKEAMI_ENOTFOUND, "no instance metadata service (HTTP %ld)", status);
	}
	*out = bk_buf_detach(&b);
	return 0;
}

int bk_aws__imds_parse_creds(bk_aws_creds *out, const char *json, const char *role)
{
	cJSON *doc = cJSON_Parse(json);
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(doc, "AccessKeyId");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(doc, "SecretAccessKey");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(doc, "Token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(doc, "Expiration");
	char *source = bk_sprintf("imds role %s", role);
	int rc;

	if (!cJSON_IsString(ak) || !cJSON_IsString(sk))
		rc = bk_err(BAKEAMI_ENOTFOUND, "instance metadata: no credentials for role %s", role);
	else if (!source)
		rc = bk_oom();
	else
		rc = bk_aws__creds_set(out, ak->valuestring, sk->valuestring,
				       cJSON_IsString(tok) ? tok->valuestring : NULL, source,
				       cJSON_IsString(exp) ? bk_aws__parse_time(exp->valuestring) : 0);
	free(source);
	cJSON_Delete(doc);
	return rc;
}

static int imds_fetch(CURL *c, const char *base, bk_aws_creds *out)
{
	bk_buf body = BK_BUF_INIT;
	char *token = NULL, *role = NULL, *path = NULL;
	int rc = imds_token(c, base, &token);

	if (rc == 0)
		rc = imds_get(c, base, "/latest/meta-data/iam/security-credentials/", token, &body);
	/* The listing holds one role name per line; an instance has one. */
	if (rc == 0 && !(role = bk_strndup(body.ptr, strcspn(body.ptr, "\r\n"))))
		rc = bk_oom();
	if (rc == 0 && !*role)
		rc = bk_err(BAKEAMI_ENOTFOUND, "instance metadata: no IAM role attached");
	if (rc == 0 && !(path = bk_sprintf("/latest/meta-data/iam/security-credentials/%s", role)))
		rc = bk_oom();
	if (rc == 0)
		rc = imds_get(c, base, path, token, &body);
	if (rc == 0)
		rc = bk_aws__imds_parse_creds(out, body.ptr, role);
	if (body.ptr)
		explicit_bzero(body.ptr, body.len);
	bk_buf_free(&body);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	free(role);
	free(path);
	return rc;
}

int bk_aws__imds_creds(bk_aws_creds *out)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");
	char *base;
	CURL *c;
	int rc;

	if (off && strcasecmp(off, "true") == 0)
		return bk_err(BAKEAMI_ENOTFOUND, "instance metadata disabled");
	if (!(base = imds_base()))
		return bk_oom();
	if (!(c = curl_easy_init())) {
		free(base);
		return bk_err(BAKEAMI_ERROR, "curl_easy_init failed");
	}
	rc = imds_fetch(c, base, out);
	curl_easy_cleanup(c);
	free(base);
	return rc;
}
