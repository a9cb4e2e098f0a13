/*
 * verify_int.h - the inside of the test stage, exposed for unit tests.
 *
 * Each native check type is a pair of pure functions: one GENERATES the
 * remote command (a constant POSIX sh script; every user value is passed
 * as a separately single-quoted positional argument, never pasted into
 * the script), one JUDGES what that command printed. Neither touches
 * SSH, so both are tested on recorded output of several distributions.
 *
 * Script protocol: the script prints "bk=1" first, then key=value lines
 * (a key may repeat, one line per line of a tool's output; "<key>_rc"
 * holds that tool's exit status), and optionally a line
 * "--bakeami-content--" after which everything is raw file/body content.
 */
#ifndef BK_VERIFY_INT_H
#define BK_VERIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "verify.h"

#define BK_CONTENT_MARKER "--bakeami-content--"
#define BK_CONTENT_CAP (4u * 1024u * 1024u)   /* bytes of a file/body searched */

/* ---- what a check's command printed -------------------------------- */
typedef struct {
	const char *out; size_t out_len;   /* stdout, lines joined by '\n' */
	const char *err; size_t err_len;   /* stderr */
	int status;                        /* exit status of the command */
} bk_check_output;

/* The key=value lines of a check script, and the raw content after the marker. */
typedef struct {
	bk_kv kv;
	const char *content;               /* points into the output; NULL: none */
	size_t content_len;
} bk_check_kv;

/* Parse the script protocol. BAKEAMI_ERROR (message set) when "bk=1" is
 * missing: the script itself did not run. */
int bk_check_kv_parse(bk_check_kv *p, const bk_check_output *o);
void bk_check_kv_free(bk_check_kv *p);
/* The value of key as an int; def when absent or not a number. */
int bk_check_kv_int(const bk_check_kv *p, const char *key, int def);

/* ---- verdicts -------------------------------------------------------- */
typedef struct {
	bk_test_status status;             /* PASSED until an expectation fails */
	bk_buf why;                        /* "expected running, found inactive; ..." */
} bk_verdict;
#define BK_VERDICT_INIT {BK_TEST_PASSED, BK_BUF_INIT}

/* One failed expectation: "expected <exp>, found <found>". */
int bk_verdict_fail(bk_verdict *v, const char *expected, const char *found_fmt, ...)
	BK_PRINTF(3, 4);
/* The check could not be evaluated at all. */
int bk_verdict_error(bk_verdict *v, const char *fmt, ...) BK_PRINTF(2, 3);
/* The script did not run (no "bk=1"): an error naming the exit status and stderr. */
int bk_verdict_broken(bk_verdict *v, const bk_check_output *o);
/* Parse the protocol and hand it to fn; a script that did not run is an error verdict. */
typedef int (*bk_kv_judge)(bk_verdict *v, const bk_check *check, const bk_check_kv *p);
int bk_judge_kv(bk_verdict *v, const bk_check *check, const bk_check_output *o, bk_kv_judge fn);
void bk_verdict_free(bk_verdict *v);

/* ---- check types ---------------------------------------------------- */
/* What a field's JSON value must be, and the C type it is read into. */
typedef enum {
	BK_F_BOOL,      /* true/false: int, -1 unset */
	BK_F_INT,       /* non-negative integer: long, -1 unset */
	BK_F_STRING,    /* non-empty string: char * */
	BK_F_TEXT,      /* any string (may be empty): char * */
	BK_F_SCALAR,    /* string or number (kernel_param value): char *, the text */
	BK_F_STRINGS,   /* array of non-empty strings (or one string): bk_strv */
	BK_F_MODE,      /* "0644", "644", "4755": long, -1 unset */
	BK_F_REGEX,     /* POSIX ERE, must compile: char * */
	BK_F_SHA256,    /* 64 hex digits: char * */
	BK_F_PORT,      /* 1..65535: long, -1 unset */
	BK_F_PROTOCOL,  /* "tcp" or "udp": char * */
	BK_F_FILETYPE,  /* "file", "directory" or "symlink": char * */
	BK_F_SECONDS    /* positive number: double, 0 unset */
} bk_field_kind;

typedef struct {
	const char *key;
	bk_field_kind kind;
	bool expectation;     /* counts as something the check asserts */
	size_t offset;        /* where in bk_check it is read to */
} bk_field;
#define BK_FIELD(key, kind, expectation, member) \
	{key, kind, expectation, offsetof(bk_check, member)}
#define BK_FIELDS_END {NULL, 0, false, 0}

/* How the subject (the value of the type key) must look. */
typedef enum {
	BK_SUBJ_NAME,         /* non-empty, no leading '-', no '/' or newline */
	BK_SUBJ_PATH,         /* absolute path */
	BK_SUBJ_PORT,         /* 1..65535 (number or digit string) */
	BK_SUBJ_COMMAND,      /* non-empty shell command */
	BK_SUBJ_PARAM,        /* sysctl key */
	BK_SUBJ_URL           /* http:// or https:// */
} bk_subject_kind;

typedef struct bk_check_type {
	bk_check_kind kind;
	const char *type;                  /* the key naming the subject: "package" */
	bk_subject_kind subject;
	const bk_field *fields;            /* { NULL } terminated */
	const char *hint;                  /* "give installed or version" */
	double default_timeout_s;
	int (*command)(bk_buf *cmd, const bk_check *check);
	int (*judge)(bk_verdict *v, const bk_check *check, const bk_check_output *o);
} bk_check_type;

extern const bk_check_type bk_check_package, bk_check_service, bk_check_port,
	bk_check_file, bk_check_command_type, bk_check_user, bk_check_group,
	bk_check_process, bk_check_kernel_param, bk_check_http;

/* All types, in documentation order; *count gets their number. */
const bk_check_type *const *bk_check_types(size_t *count);
const bk_check_type *bk_check_type_find(const char *type);
/* The field of t named key, or NULL. */
const bk_field *bk_check_field(const bk_check_type *t, const char *key);
/* "package, service, port, ..." */
char *bk_check_type_list(void);
/* The field of bk_check f names (its C type follows f->kind). */
void *bk_check_field_at(bk_check *c, const bk_field *f);
const void *bk_check_field_get(const bk_check *c, const bk_field *f);

/* An empty check of type t: every expectation unset. Checks are made by
 * bk_verify_parse; tests make them here to reach what it would refuse. */
void bk_check_init(bk_check *c, const bk_check_type *t);
void bk_check_free(bk_check *c);

/* The whole remote command for a check (NULL on a bad check or ENOMEM): shell
 * code, run as BK_CHECK_SHELL's stdin. A command check's code is the user's
 * command itself. */
char *bk_check_command(const bk_check *check);
/* What runs a check's code on the instance: the code comes in on stdin, so
 * no process there has it in its arguments, which every user of the instance
 * can read with ps (a command check may carry sensitive variables). Its own
 * stdin is then at EOF, as </dev/null would leave it; it runs in sh,
 * whatever the login shell. */
#define BK_CHECK_SHELL "sh -c 'c=$(cat) && eval \"$c\"'"
/* Judge a check's output. Fills v; the message of a failure starts with
 * the subject: "service nginx: expected running, found inactive".
 * 0, or BAKEAMI_ENOMEM / BAKEAMI_EINVALID (not a known check). */
int bk_check_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o);
/* "service nginx" */
char *bk_check_subject(const bk_check *check);
/* The timeout for running the check, in seconds. */
double bk_check_timeout(const bk_check *check);

/* ---- helpers shared by the check files ------------------------------ */
/* sh -c '<common prologue + body>' bakeami '<arg0>' '<arg1>' ... */
int bk_sh_script(bk_buf *cmd, const char *body, const char *const *args, size_t nargs);
/* The text of the subject: a string, or a number printed as an integer. */
char *bk_json_text(const cJSON *item);
const char *bk_json_str(const cJSON *obj, const char *key);
bool bk_json_int(const cJSON *obj, const char *key, long *out);
/* Does the ERE match anywhere in text (REG_NEWLINE: ^ and $ match at lines)?
 * 1 yes, 0 no, BAKEAMI_EINVALID (message set) when it does not compile. */
int bk_regex_search(const char *pattern, const char *text);
/* memmem of a NUL-terminated needle; an empty needle is always found. */
bool bk_contains(const char *hay, size_t hay_len, const char *needle);
/* The first line of s, at most max bytes, for messages ("" for NULL). */
char *bk_first_line(const char *s, size_t max);
/* Octal mode text ("0644", "644", "4755") to a number; -1 when malformed. */
long bk_mode_parse(const char *s);

/* ---- the Serverspec runner (serverspec.c) --------------------------- */
/* argv[0] found on PATH (or a path that is executable): a malloc'd full
 * path, or NULL. cwd resolves a relative path containing '/'. */
char *bk_which(const char *cmd, const char *cwd);
/* The spec_helper.rb generated for suites that have none. */
const char *bk_serverspec_helper(void);
/* rspec's JSON report to cases of suite. 0, or BAKEAMI_ERROR when the
 * text is not an rspec JSON report. *examples gets how many it held. */
int bk_serverspec_parse(bk_test_report *r, const char *suite, const char *json,
			size_t *examples);
int bk_serverspec_run(bk_test_report *r, const bk_verify_ctx *ctx);

#endif
