/*
 * aws_int.h - internals shared by the files of src/aws only. Other layers
 * use aws.h and ec2.h; unit tests may include this to reach the pieces.
 */
#ifndef BK_AWS_INT_H
#define BK_AWS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>

#include "aws.h"

/* Services we count calls for; anything else is counted as "other". */
enum { BK_SVC_EC2, BK_SVC_SSM, BK_SVC_STS, BK_SVC_IAM, BK_SVC_S3, BK_SVC_OTHER, BK_SVC_COUNT };
int bk_aws__service_index(const char *service);

/* How expiring credentials are renewed. */
/* BK_REFRESH_MFA: a role session bought with an MFA code, which is good
 * once: it cannot be renewed, only warned about and, once expired, refused
 * with a message that says so. */
typedef enum { BK_REFRESH_NONE, BK_REFRESH_ASSUME_ROLE, BK_REFRESH_IMDS, BK_REFRESH_MFA } bk_refresh_kind;

typedef struct {
	bk_refresh_kind kind;
	bk_aws_creds source;   /* ASSUME_ROLE: the credentials that call STS */
	char *role_arn;
	char *external_id;     /* NULL: none */
	char *session_name;
	int duration;          /* seconds, 0: STS default */
	bk_kv session;         /* Policy, PolicyArns, Tags, TransitiveTagKeys as sent */
	char *mfa_serial;      /* MFA: the device, and its code for the first call */
	char *mfa_token;
	bool mfa_warned;       /* MFA: the "cannot be renewed" warning was logged */
	/* The caller's role: the client whose credentials (the chain's, renewed
	 * on their own) call AssumeRole; NULL: `source` does. */
	struct bk_aws *base;
} bk_refresh;

struct bk_creds_node {
	bk_aws_creds creds;
	struct bk_creds_node *next;
};

struct bk_aws {
	pthread_mutex_t lock;          /* the curl handle and `creds` */
	pthread_mutex_t refresh_lock;  /* one credential refresh at a time */
	CURL *curl;                    /* reused for keep-alive */
	char *region;
	bk_aws_creds creds;
	double renew_at;               /* wall time to renew `creds` from; 0: never */
	bk_refresh refresh;
	struct bk_creds_node *retired; /* replaced credentials, kept until free so
	                                * strings read via bk_aws_credentials() stay valid */
	char *session_endpoint;        /* EC2 and IAM (bk_aws_config); NULL: none */
	bool skip_tls_verify;          /* for those calls */
	bk_retry_policy retry;
	long connect_timeout_s;        /* TCP+TLS connect, per attempt */
	long stall_timeout_s;          /* no byte for this long ends the attempt */
	_Atomic(const bk_cancel *) cancel;
	bk_logger log;
	atomic_long calls[BK_SVC_COUNT];
};

/* ---- one HTTP attempt (http.c) ---------------------------------------- */
typedef struct {
	const char *service;
	const char *region;
	const char *body;
	size_t body_len;
	const char *content_type;
	const char *target;            /* X-Amz-Target, NULL for Query */
	const bk_aws_creds *creds;     /* NULL: the client's */
	bool fresh_connection;         /* a create: never re-sent by libcurl (http.c) */
	/* REST calls (S3): NULL for the Query/JSON POST to "/" */
	const char *method;            /* "GET", "HEAD", "DELETE", "POST"; NULL: POST */
	const char *path_query;        /* "/bucket?list-type=2&prefix=p", encoded */
	const char *content_md5;       /* Content-MD5 (DeleteObjects); NULL: none */
} bk_http_req;

typedef struct {
	long status;                   /* 0: no HTTP response (network error) */
	bk_buf body;
	char request_id[128];          /* from x-amzn-requestid, or "" */
	char net_error[256];           /* status 0: what curl said */
} bk_http_resp;

/* Sign and send one POST, counting it. 0 with resp filled (any status),
 * BAKEAMI_ECANCELLED, or BAKEAMI_ENOMEM. Serialised on the client lock. */
int bk_aws__send(bk_aws *aws, const bk_http_req *req, bk_http_resp *resp);
void bk_http_resp_free(bk_http_resp *resp);

/* RFC 3986 percent-encoding: unreserved bytes literal, the rest %XX. */
int bk_aws__form_encode(bk_buf *out, const char *s);
/* "Action=..&Version=..&k=v..." for a Query-API call. */
char *bk_aws__form_body(const char *service, const char *action, const bk_params *params);

/* ---- calls with retries (query.c) ------------------------------------ */
typedef struct {
	const char *service;
	const char *region;            /* NULL: the client's */
	const char *action;
	const bk_params *params;
	const bk_aws_creds *creds;     /* NULL: the client's */
	/* Return at once, without retrying, when the request may have been
	 * applied (network error, 5xx): for calls that have no ClientToken. */
	bool stop_when_uncertain;
	long *http_status;             /* out, optional: status of the last attempt */
	/* A call that creates something: sent on a new connection, so only
	 * our retry loop re-sends it (see http.c). */
	bool creates;
} bk_aws_call;

int bk_aws__query(xmlDocPtr *out, bk_aws *aws, const bk_aws_call *call, char err_code[64]);
/* One REST call (S3) with the same retries and errors: the answer's body
 * parsed when it has one (*out NULL when empty, e.g. HEAD or DELETE).
 * action names it in messages ("ListObjectsV2"); req->region NULL: the
 * client's. */
int bk_aws__rest(xmlDocPtr *out, bk_aws *aws, const bk_http_req *req, const char *action,
		 char err_code[64], long *http_status);
const bk_cancel *bk_aws__cancel(bk_aws *aws);
/* True for failures after which the request may have taken effect. */
bool bk_aws__uncertain(long http_status, const char *aws_code);

/* ---- errors (xml.c) --------------------------------------------------- */
/* JSON-protocol error body: {"__type": "ns#Code", "message": "..."}. */
int bk_aws__parse_json_error(const char *body, size_t len, char code[64], char message[512]);
/* Tags stripped and whitespace collapsed: a short excerpt of an HTML page. */
void bk_aws__excerpt(char *out, size_t outsz, const char *body, size_t len);
xmlDocPtr bk_xml__read(const char *body, size_t len);

/* ---- credentials (ini.c, creds.c, imds.c) ------------------------------ */
bool bk_ini__has_section(const char *ini, const char *section);
/* IMDSv2 instance-role credentials: 0, BAKEAMI_ENOTFOUND when there is no
 * metadata service or role, or another error. */
int bk_aws__imds_creds(bk_aws_creds *out);
/* The metadata service's credentials document for role (its own reader, so
 * tests/fuzz reaches it without a metadata service). */
int bk_aws__imds_parse_creds(bk_aws_creds *out, const char *json, const char *role);
int bk_aws__creds_set(bk_aws_creds *c, const char *access_key, const char *secret,
		      const char *token, const char *source, double expires);
int bk_aws__resolve_region(char **out, const bk_aws_config *cfg);
/* bk_aws_endpoint with its error code: BAKEAMI_EINVALID for a region that is
 * not a DNS name (when no endpoint is configured), else ENOMEM. */
int bk_aws__endpoint(char **out, const bk_aws *aws, const char *service, const char *region);
/* The calls Packer makes through its session: custom_endpoint_ec2's. */
bool bk_aws__session_service(const char *service);
int bk_aws__resolve_creds(bk_aws *aws, const bk_aws_config *cfg);
/* Free what r holds (not r->base, the caller's) and zero it; secrets wiped. */
void bk_aws__refresh_clear(bk_refresh *r);
/* Renew the client's credentials once past their renewal time (five
 * minutes before they expire, or a quarter of their life for short ones),
 * or now when force is set. 0 when nothing needed doing. */
int bk_aws__refresh_creds(bk_aws *aws, bool force);
void bk_aws__creds_clear(bk_aws_creds *c);
/* STS AssumeRole for r (its MFA code sent when r has one), signed with
 * r->source or by r->base. */
int bk_aws__assume_role(bk_aws *aws, const bk_refresh *r, bk_aws_creds *out);
/* The session an MFA code bought: assumed on the first ask, then handed to
 * every client of this process that names the same role, device and code
 * (a bake's copy regions, its other builds) until it expires, since STS
 * takes a code once. Expired sessions are dropped (and wiped) on each ask. */
int bk_aws__mfa_session(bk_aws *aws, const bk_refresh *r, bk_aws_creds *out);
/* When credentials that expire at `expires` (obtained at `now`) are renewed. */
double bk_aws__renew_time(double expires, double now);
/* "2026-11-26T04:27:51Z" (fraction optional) to epoch seconds; 0 if bad. */
double bk_aws__parse_time(const char *iso);

#endif
