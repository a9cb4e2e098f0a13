/*
 * fuzz_aws.h - an in-memory AWS transport for the response-parser targets.
 * The fuzz binaries link with -Wl,--wrap=bk_aws__send, so every call the
 * library makes (bk_aws__query's retry loop, error classification, the
 * XML/JSON readers and each operation's parser) runs as in a bake, but its
 * answer is the next part of the fuzz input instead of a socket's.
 *
 * Input: parts separated by "\n@@@"; a part may start with a 3-digit HTTP
 * status (else 200). Once the parts run out every call is answered 400
 * AuthFailure, which the client never retries, so each input ends quickly.
 */
#ifndef FUZZ_AWS_H
#define FUZZ_AWS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_int.h"
#include "aws/ec2.h"

static struct {
	const char *next, *end;   /* the parts not yet answered */
} fuzz_replies;

#define FUZZ_SEP "\n@@@"
#define FUZZ_DENIED "<Response><Errors><Error><Code>AuthFailure</Code>" \
	"<Message>no more replies</Message></Error></Errors></Response>"

static void fuzz_replies_set(const uint8_t *data, size_t size)
{
	fuzz_replies.next = (const char *)data;
	fuzz_replies.end = (const char *)data + size;
}

static long take_status(const char **p, const char *end)
{
	long st = 0;

	if (end - *p < 3)
		return 200;
	for (int i = 0; i < 3; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return 200;
		st = st * 10 + ((*p)[i] - '0');
	}
	*p += 3;
	return st;
}

int __wrap_bk_aws__send(bk_aws *aws, const bk_http_req *req, bk_http_resp *resp);
int __wrap_bk_aws__send(bk_aws *aws, const bk_http_req *req, bk_http_resp *resp)
{
	const char *p = fuzz_replies.next, *end = fuzz_replies.end, *sep;

	(void)aws; (void)req;
	/* As bk_aws__send: the loop hands the same resp to every attempt. */
	resp->status = 0;
	resp->request_id[0] = resp->net_error[0] = '\0';
	bk_buf_clear(&resp->body);
	if (!p) {
		resp->status = 400;
		return bk_buf_puts(&resp->body, FUZZ_DENIED) < 0 ? BAKEAMI_ENOMEM : 0;
	}
	sep = memmem(p, (size_t)(end - p), FUZZ_SEP, strlen(FUZZ_SEP));
	fuzz_replies.next = sep ? sep + strlen(FUZZ_SEP) : NULL;
	if (!sep)
		sep = end;
	resp->status = take_status(&p, sep);
	if (resp->status == 0)   /* "000": no HTTP answer, as a reset connection */
		snprintf(resp->net_error, sizeof(resp->net_error), "Connection reset by peer");
	/* The body is copied: the library may keep pointers into it while the
	 * input buffer is libFuzzer's; the copy's end is where ASan looks. */
	if (bk_buf_put(&resp->body, p, (size_t)(sep - p)) < 0)
		return BAKEAMI_ENOMEM;
	snprintf(resp->request_id, sizeof(resp->request_id), "fuzz");
	return 0;
}

/* A client with static credentials and one quick retry (the backoff is
 * BAKEAMI_RETRY_BASE_MS=1), made once per process. */
static bk_aws *fuzz_client(void)
{
	static bk_aws *aws;

	if (!aws) {
		bk_aws_config cfg = {0};
		cfg.access_key_id = "AKIDFUZZFUZZFUZZFUZZ";
		cfg.secret_access_key = "fuzz-secret";
		cfg.region = "us-east-1";
		cfg.max_retries = 1;
		setenv("BAKEAMI_RETRY_BASE_MS", "1", 1);
		if (bk_aws_new(&aws, &cfg) != 0)
			abort();
	}
	return aws;
}

#endif
