/*
 * aws.h - signed AWS calls: credentials chain, region, endpoints, retries.
 * Knows nothing of bakes or SSH. Query (EC2) responses are libxml2 docs;
 * JSON-protocol (SSM) responses are cJSON trees.
 */
#ifndef BK_AWS_H
#define BK_AWS_H

#include <cJSON.h>
#include <libxml/tree.h>

#include "../util/util.h"

typedef struct {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;   /* NULL when none */
	char *source;          /* "env", "profile foo", "assume-role arn", "imds", "explicit" */
	double expires;        /* epoch seconds; 0 = never */
} bk_aws_creds;

typedef struct {
	/* Explicit credentials win over the chain when access_key_id is set. */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	const char *profile;        /* NULL: $AWS_PROFILE, else "default" */
	const char *credentials_file; /* NULL: $AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials */
	const char *region;         /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, profile region */
	/* A role to assume with the credentials above (or the chain's), renewed
	 * before it expires for as long as the client lives; NULL: none. */
	const char *role_arn;
	const char *role_external_id;   /* NULL: none */
	const char *role_session_name;  /* NULL: bakeami-<random> */
	int role_duration;              /* DurationSeconds, 900-43200; 0: STS's default */
	/* An MFA device and its current code for the first AssumeRole; the
	 * session is then shared (bk_aws__mfa_session) and never renewed. */
	const char *role_mfa_serial;
	const char *role_mfa_token;
	/* The session's own limits and tags (Packer's assume_role block): a
	 * policy document, managed policy ARNs, session tags and which of them
	 * are transitive. NULL/empty: none. */
	const char *role_policy;
	const bk_strv *role_policy_arns;
	const bk_kv *role_tags;
	const bk_strv *role_transitive_tag_keys;
	/* Packer's custom_endpoint_ec2 and insecure_skip_tls_verify: they are
	 * its SDK session's, so EC2 and IAM calls in every region go to
	 * session_endpoint (a URL bk_aws_endpoint_parse gave; NULL: the
	 * environment's) and skip_tls_verify leaves those calls' certificates
	 * unchecked. Other services keep AWS_ENDPOINT_URL_<SERVICE>. */
	const char *session_endpoint;
	bool skip_tls_verify;
	int max_retries;            /* 0: 10 */
	const bk_cancel *cancel;    /* may be NULL */
	bk_logger log;              /* retries and credential source are logged */
} bk_aws_config;

typedef struct bk_aws bk_aws;

/* Resolve credentials (env, profile incl. role_arn+source_profile via STS
 * AssumeRole, IMDSv2) and region. Fails with BAKEAMI_EINVALID naming what is
 * missing. Thread-safe per client; one client per bake. */
int bk_aws_new(bk_aws **out, const bk_aws_config *cfg);
/* curl_global_init + xmlInitParser, once per process (bakeami_init calls
 * it; bk_aws_new does too). */
int bk_aws_global_init(void);
/* Swap the cancel flag, e.g. to NULL so CLEANUP can still call AWS after the
 * bake was cancelled. */
void bk_aws_set_cancel(bk_aws *aws, const bk_cancel *cancel);
void bk_aws_free(bk_aws *aws);
const char *bk_aws_region(const bk_aws *aws);
const bk_aws_creds *bk_aws_credentials(const bk_aws *aws);
/* 0 if the role settings are ones STS accepts (an IAM role ARN, a session
 * name of 2-64 of [A-Za-z0-9+=,.@_-], an external id of 2-1224 of those
 * and ":/"), else BAKEAMI_EINVALID naming `where` and the setting. */
int bk_aws_role_check(const char *role_arn, const char *external_id, const char *session_name,
		      const char *where);
/* 0 if the session length is 0 or 900-43200 s and the MFA settings are
 * both set or both unset, a serial of 9-256 of [\w+=/:,.@-] and a code of
 * six digits, as STS takes them; else BAKEAMI_EINVALID naming `where`. */
int bk_aws_role_mfa_check(int duration, const char *mfa_serial, const char *mfa_token,
			  const char *where);
/* Log "retrying <SERVICE> <action> after <why>" and sleep the client's
 * backoff before retry `retry` (1-based): for a caller's own retries of an
 * error AWS may stop giving (IAM's eventual consistency). 0 or
 * BAKEAMI_ECANCELLED. */
int bk_aws_backoff(bk_aws *aws, const char *service, const char *action, const char *why,
		   int retry);
/* The last call this thread made was sent again after an attempt that
 * may have acted (a network error, a 5xx): a delete answered "not found"
 * then was most likely done by its own first send, not "already gone". */
bool bk_aws_last_call_resent(void);
/* A delete's "not found" code: BAKEAMI_ENOTFOUND (already gone, message
 * naming what), or 0 when the call was re-sent (its first send did it). */
int bk_aws_gone(const char *what, const char *id);
/* Number of calls made so far per service ("ec2"), retries included. */
long bk_aws_call_count(const bk_aws *aws, const char *service);

/* Query-API parameters, kept in insertion order. */
typedef bk_kv bk_params;
int bk_params_add(bk_params *p, const char *key, const char *val);
int bk_params_addf(bk_params *p, const char *key, const char *fmt, ...) BK_PRINTF(3, 4);

/* 0 if region looks like an AWS region (^[a-z]{2}(-[a-z]+)+-[0-9]+$) or, with an
 * explicit endpoint configured (AWS_ENDPOINT_URL[_EC2|_STS]), is a DNS name;
 * else BAKEAMI_EINVALID "<where>: "<region>" is not an AWS region". */
int bk_aws_region_check(const char *region, const char *where);
bool bk_aws_endpoint_configured(void);

/* *out = url as an endpoint: https:// when it names no scheme, as the AWS
 * SDK reads one; no trailing '/'. Anything but an http(s) URL of a host,
 * with no user, query or fragment, is BAKEAMI_EINVALID naming `where`. */
int bk_aws_endpoint_parse(char **out, const char *url, const char *where);

/* Endpoint URL for service in region: AWS_ENDPOINT_URL_<SERVICE>, then
 * AWS_ENDPOINT_URL, then https://<service>.<region>.amazonaws.com. NULL (error
 * set) when region is not a DNS name or on allocation failure. */
char *bk_aws_endpoint(const char *service, const char *region);

/* A signed Query-API POST (EC2: Version=2016-11-15; STS: 2011-06-15).
 * region NULL = the client's region. On an AWS error returns BAKEAMI_EAWS
 * with "<Action>: <Code>: <Message> (request id <id>)" as the last error and,
 * if err_code is not NULL, the code copied into it (64 bytes). Retries
 * throttling, 5xx and network errors with exponential backoff and full
 * jitter; never retries other 4xx. */
int bk_aws_query(xmlDocPtr *out, bk_aws *aws, const char *service,
		 const char *region, const char *action, const bk_params *params,
		 char err_code[64]);

/* A signed JSON-protocol call (SSM: target "AmazonSSM.GetParameter"). */
int bk_aws_json(cJSON **out, bk_aws *aws, const char *service,
		const char *region, const char *target, const cJSON *body,
		char err_code[64]);

/* ---- XML helpers: namespace-agnostic, by local name ------------------ */
/* First descendant element of node named `name` (depth-first), or NULL. */
xmlNodePtr bk_xml_find(xmlNodePtr node, const char *name);
/* First direct child element named `name`, or NULL. */
xmlNodePtr bk_xml_child(xmlNodePtr node, const char *name);
/* Text of the first direct child `name`, malloc'd; NULL if absent. */
char *bk_xml_child_text(xmlNodePtr node, const char *name);
/* Parse an AWS error body (EC2 <Response><Errors><Error>, or the
 * <ErrorResponse><Error> form): fills code/message/request id. 0 if found. */
int bk_xml_parse_error(const char *body, size_t len, char code[64],
		       char message[512], char request_id[128]);

/* ---- the retry policy, separate so it can be unit-tested --------------- */
typedef struct {
	int max_retries;       /* attempts after the first */
	long base_ms;          /* first backoff cap, e.g. 200 */
	long max_ms;           /* cap, e.g. 20000 */
} bk_retry_policy;
/* Is this outcome worth retrying? http_status 0 = network error. */
bool bk_retry_should(int http_status, const char *aws_code);
/* Delay before attempt `attempt` (1-based), full jitter from rnd in [0,1). */
long bk_retry_delay_ms(const bk_retry_policy *p, int attempt, double rnd);

/* ---- credential files (INI), separate for unit tests ------------------ */
/* Value of key in [section] of an AWS INI file body; NULL if absent. In
 * ~/.aws/config sections are "profile NAME" except "default". */
char *bk_ini_get(const char *ini, const char *section, const char *key);

#endif
