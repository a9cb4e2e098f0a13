/*
 * query.c - AWS calls with retries: the Query API (EC2, STS) answering in
 * XML and the JSON protocol (SSM). One loop serves both; it owns the
 * retry decision, the backoff, the log line and the error message.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "aws_int.h"

typedef struct {
	long status;
	char code[64];
	char message[512];
	char request_id[128];
} failure;

typedef struct {
	bk_http_req req;
	const char *action;             /* for messages: "RunInstances" */
	bool json;
	bool stop_when_uncertain;
} call_spec;

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void classify(failure *f, const bk_http_resp *r, bool json)
{
	const char *body = r->body.ptr;
	size_t len = r->body.len;

	memset(f, 0, sizeof(*f));
	f->status = r->status;
	if (r->status == 0) {
		copy_str(f->message, sizeof(f->message), r->net_error);
		return;
	}
	/* moto answers auth failures in XML even for JSON services. */
	if (bk_xml_parse_error(body, len, f->code, f->message, f->request_id) != 0 &&
	    (!json || bk_aws__parse_json_error(body, len, f->code, f->message) != 0)) {
		/* Not an AWS error body: moto's HTML 500 page, a proxy's 502... */
		snprintf(f->code, sizeof(f->code), "HTTP %ld", r->status);
		bk_aws__excerpt(f->message, 160, body, len);
	}
	/* moto's body says literally "request-id"; the header has the real one. */
	if (!f->request_id[0] || strcmp(f->request_id, "request-id") == 0)
		copy_str(f->request_id, sizeof(f->request_id), r->request_id);
}

static int fail_with(const failure *f, const char *action)
{
	char rid[160] = "";

	if (f->status == 0)
		return bk_err(BAKEAMI_EAWS, "%s: network error: %s", action, f->message);
	if (f->request_id[0])
		snprintf(rid, sizeof(rid), " (request id %s)", f->request_id);
	if (!f->message[0])
		return bk_err(BAKEAMI_EAWS, "%s: %s%s", action, f->code, rid);
	return bk_err(BAKEAMI_EAWS, "%s: %s: %s%s", action, f->code, f->message, rid);
}

static bool expired_token(const char *code)
{
	return strcmp(code, "ExpiredToken") == 0 ||
	       strcmp(code, "ExpiredTokenException") == 0 ||
	       strcmp(code, "RequestExpired") == 0;
}

const bk_cancel *bk_aws__cancel(bk_aws *aws)
{
	return atomic_load(&aws->cancel);
}

static double random_unit(void)
{
	unsigned int r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0.5;   /* a fixed jitter still backs off */
	return (double)r / 4294967296.0;
}

int bk_aws_backoff(bk_aws *aws, const char *service, const char *action,
		    const char *why, int retry)
{
	long ms = bk_retry_delay_ms(&aws->retry, retry, random_unit());
	char svc[16];
	size_t i;

	for (i = 0; service[i] && i + 1 < sizeof(svc); i++)
		svc[i] = (char)toupper((unsigned char)service[i]);
	svc[i] = '\0';
	bk_logf(&aws->log, BK_LOG_WARN, "retrying %s %s after %s (attempt %d/%d, %.1fs)",
		svc, action, why, retry + 1, aws->retry.max_retries + 1, (double)ms / 1000.0);
	if (bk_sleep_ms(bk_aws__cancel(aws), ms) < 0)
		return bk_err(BAKEAMI_ECANCELLED, "%s: cancelled", action);
	return 0;
}

/* Renew credentials once when AWS says they expired under us. */
static int maybe_renew(bk_aws *aws, const call_spec *cs, const failure *f, bool *renewed)
{
	if (cs->req.creds || *renewed || aws->refresh.kind == BK_REFRESH_NONE ||
	    !expired_token(f->code))
		return 0;
	*renewed = true;
	int rc = bk_aws__refresh_creds(aws, true);
	return rc < 0 ? rc : 1;
}

static _Thread_local bool resent_uncertain;

bool bk_aws_last_call_resent(void)
{
	return resent_uncertain;
}

int bk_aws_gone(const char *what, const char *id)
{
	if (resent_uncertain) {
		bk_err_clear();
		return 0;
	}
	return bk_err(BAKEAMI_ENOTFOUND, "%s %s: already gone", what, id);
}

static int run(bk_aws *aws, const call_spec *cs, bk_http_resp *resp, failure *f)
{
	bool renewed = false;
	int rc;

	resent_uncertain = false;
	for (int retry = 0;; retry++) {
		if (bk_cancelled(bk_aws__cancel(aws)))
			return bk_err(BAKEAMI_ECANCELLED, "%s: cancelled", cs->action);
		if (!cs->req.creds && (rc = bk_aws__refresh_creds(aws, false)) < 0)
			return rc;
		rc = bk_aws__send(aws, &cs->req, resp);
		if (rc == BAKEAMI_ECANCELLED)
			return bk_err(rc, "%s: cancelled", cs->action);
		if (rc < 0)
			return rc;
		if (resp->status >= 200 && resp->status < 300)
			return 0;
		classify(f, resp, cs->json);
		if ((rc = maybe_renew(aws, cs, f, &renewed)) != 0) {
			if (rc < 0)
				return rc;
			retry--;   /* the renewal is not a retry */
			continue;
		}
		if (!bk_retry_should((int)f->status, f->code) ||
		    retry >= aws->retry.max_retries ||
		    (cs->stop_when_uncertain && bk_aws__uncertain(f->status, f->code)))
			return fail_with(f, cs->action);
		if (bk_aws__uncertain(f->status, f->code))
			resent_uncertain = true;
		rc = bk_aws_backoff(aws, cs->req.service, cs->action,
				     f->code[0] ? f->code : "network error", retry + 1);
		if (rc < 0)
			return rc;
	}
}

/* Run the call; on failure hand the AWS code and status to the caller. */
static int run_call(bk_aws *aws, const call_spec *cs, bk_http_resp *resp,
		    char err_code[64], long *http_status)
{
	failure f;
	int rc;

	memset(&f, 0, sizeof(f));
	rc = run(aws, cs, resp, &f);
	if (err_code)
		copy_str(err_code, 64, rc < 0 ? f.code : "");
	if (http_status)
		*http_status = rc == 0 ? resp->status : f.status;
	return rc;
}

static int unreadable(const char *action, const bk_http_resp *resp)
{
	char excerpt[160];

	bk_aws__excerpt(excerpt, sizeof(excerpt), resp->body.ptr, resp->body.len);
	return bk_err(BAKEAMI_EAWS, "%s: unreadable response (HTTP %ld): %s", action,
		      resp->status, excerpt);
}

/* A Query API answer's root is <ActionResponse>: a well-formed page of a
 * captive portal or a proxy (<html>) is not one, and must not read as an
 * empty list. */
static bool is_answer(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	const char *name = root && root->name ? (const char *)root->name : "";
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, "Response") == 0;
}

int bk_aws__query(xmlDocPtr *out, bk_aws *aws, const bk_aws_call *call, char err_code[64])
{
	bk_http_resp resp = {0, BK_BUF_INIT, "", ""};
	char *body = bk_aws__form_body(call->service, call->action, call->params);
	call_spec cs = {
		.req = {call->service, call->region ? call->region : aws->region, body,
			body ? strlen(body) : 0,
			"application/x-www-form-urlencoded; charset=utf-8", NULL, call->creds,
			call->creates, NULL, NULL, NULL},
		.action = call->action,
		.json = false,
		.stop_when_uncertain = call->stop_when_uncertain,
	};
	int rc;

	*out = NULL;
	if (err_code)
		err_code[0] = '\0';
	if (!body)
		return bk_oom();
	rc = run_call(aws, &cs, &resp, err_code, call->http_status);
	if (rc == 0 && !(*out = bk_xml__read(resp.body.ptr, resp.body.len)))
		rc = unreadable(call->action, &resp);
	if (rc == 0 && !is_answer(*out)) {
		xmlFreeDoc(*out);
		*out = NULL;
		rc = unreadable(call->action, &resp);
	}
	bk_http_resp_free(&resp);
	free(body);
	return rc;
}

int bk_aws__rest(xmlDocPtr *out, bk_aws *aws, const bk_http_req *req, const char *action,
		 char err_code[64], long *http_status)
{
	bk_http_resp resp = {0, BK_BUF_INIT, "", ""};
	call_spec cs = {.req = *req, .action = action, .json = false, .stop_when_uncertain = false};
	int rc;

	*out = NULL;
	if (err_code)
		err_code[0] = '\0';
	if (!cs.req.region)
		cs.req.region = aws->region;
	if (!cs.req.body)
		cs.req.body = "";
	rc = run_call(aws, &cs, &resp, err_code, http_status);
	if (rc == 0 && resp.body.len && !(*out = bk_xml__read(resp.body.ptr, resp.body.len)))
		rc = unreadable(action, &resp);
	bk_http_resp_free(&resp);
	return rc;
}

int bk_aws_query(xmlDocPtr *out, bk_aws *aws, const char *service, const char *region,
		 const char *action, const bk_params *params, char err_code[64])
{
	bk_aws_call call = {service, region, action, params, NULL, false, NULL, false};

	return bk_aws__query(out, aws, &call, err_code);
}

static int parse_json(cJSON **out, const char *action, const bk_http_resp *resp)
{
	if (resp->body.len == 0)
		*out = cJSON_CreateObject();
	else
		*out = cJSON_ParseWithLength(resp->body.ptr, resp->body.len);
	return *out ? 0 : unreadable(action, resp);
}

int bk_aws_json(cJSON **out, bk_aws *aws, const char *service, const char *region,
		const char *target, const cJSON *body, char err_code[64])
{
	bk_http_resp resp = {0, BK_BUF_INIT, "", ""};
	char *printed = body ? cJSON_PrintUnformatted(body) : NULL;
	const char *text = body ? printed : "{}";
	const char *dot = strrchr(target, '.');
	call_spec cs = {
		.req = {service, region ? region : aws->region, text, text ? strlen(text) : 0,
			"application/x-amz-json-1.1", target, NULL, false, NULL, NULL, NULL},
		.action = dot ? dot + 1 : target,
		.json = true,
		.stop_when_uncertain = false,
	};
	int rc;

	*out = NULL;
	if (err_code)
		err_code[0] = '\0';
	if (!text)
		return bk_oom();
	rc = run_call(aws, &cs, &resp, err_code, NULL);
	if (rc == 0)
		rc = parse_json(out, cs.action, &resp);
	bk_http_resp_free(&resp);
	cJSON_free(printed);
	return rc;
}
