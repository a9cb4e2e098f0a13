/*
 * verify.h - the test stage: native checks evaluated in C over SSH,
 * a real Serverspec suite run on the agent, results as a console table
 * and JUnit XML. Talks to the instance only through ssh.h.
 */
#ifndef BK_VERIFY_H
#define BK_VERIFY_H

#include <cJSON.h>

#include "../ssh/ssh.h"

/* The `tests` section as the plan holds it (DESIGN.md §4), made by
 * bk_verify_parse: the phases, the native checks typed one struct each,
 * the Serverspec settings. */
enum { BK_TESTS_BEFORE_IMAGE = 1, BK_TESTS_AFTER_IMAGE = 2 };

/* The native check types, in documentation order. */
typedef enum {
	BK_CHECK_PACKAGE, BK_CHECK_SERVICE, BK_CHECK_PORT, BK_CHECK_FILE, BK_CHECK_COMMAND,
	BK_CHECK_USER, BK_CHECK_GROUP, BK_CHECK_PROCESS, BK_CHECK_KERNEL_PARAM, BK_CHECK_HTTP
} bk_check_kind;

/* An expectation left out is -1 (booleans as -1/0/1, integers, the mode)
 * or NULL. */
typedef struct { int installed; char *version; } bk_check_package_cfg;
typedef struct { int running, enabled; } bk_check_service_cfg;
typedef struct {
	long number;                 /* the subject, 1..65535 */
	int listening;
	char *protocol, *address;    /* NULL: any */
} bk_check_port_cfg;
typedef struct {
	int exists;
	char *type;                  /* "file", "directory" or "symlink" */
	long mode;
	char *owner, *group;         /* a name or a number */
	char *contains;              /* may be "" */
	char *matches;               /* an ERE that compiles */
	char *sha256;
} bk_check_file_cfg;
typedef struct {
	long exit_status;
	char *stdout_contains, *stdout_matches, *stderr_contains, *stderr_matches;
} bk_check_command_cfg;
typedef struct {
	int exists;
	long uid;
	bk_strv groups;              /* empty: not asked */
	char *home, *shell;
} bk_check_user_cfg;
typedef struct { int exists; long gid; } bk_check_group_cfg;
typedef struct { int running; long count; } bk_check_process_cfg;
typedef struct { char *value; } bk_check_kparam_cfg;   /* a number as its text */
typedef struct {
	long status;
	char *body_contains, *body_matches;
	int insecure, follow_redirects;
} bk_check_http_cfg;

struct bk_check_type;

typedef struct {
	bk_check_kind kind;
	const struct bk_check_type *type;  /* its row in the table (verify_int.h) */
	char *path;                  /* "tests.checks[2]", for messages */
	char *name;                  /* as given, or made: "package nginx installed" */
	char *subject;               /* the type key's value as text: "nginx", "80" */
	double timeout_s;            /* 0: the type's default */
	union {                      /* by kind */
		bk_check_package_cfg package;
		bk_check_service_cfg service;
		bk_check_port_cfg port;
		bk_check_file_cfg file;
		bk_check_command_cfg command;
		bk_check_user_cfg user;
		bk_check_group_cfg group;
		bk_check_process_cfg process;
		bk_check_kparam_cfg kernel_param;
		bk_check_http_cfg http;
	} u;
} bk_check;

typedef struct {
	char *dir;                   /* the folder holding spec/, resolved */
	char *pattern;               /* NULL: every _spec.rb file under spec */
	bk_strv command;             /* argv; empty: rspec */
	double timeout_s;            /* 0: one hour */
} bk_serverspec_cfg;

typedef struct bk_test_plan bk_test_plan;
struct bk_test_plan {
	unsigned phases;             /* BK_TESTS_BEFORE_IMAGE | BK_TESTS_AFTER_IMAGE */
	bk_check *checks;
	size_t checks_count;
	int has_serverspec;
	bk_serverspec_cfg serverspec;
};

/* Check the `tests` object and turn it into a plan. Errors are
 * BAKEAMI_EINVALID with "<file>: tests.checks[3].mode: expected a string
 * like \"0644\"". Makes no network call; also fails when
 * tests.serverspec is set but its command (default rspec) is not on PATH,
 * or its dir does not exist. */
int bk_verify_parse(bk_test_plan **out, const cJSON *tests, const char *file,
		    const char *template_dir);
/* The same check, without keeping the plan. */
int bk_verify_validate(const cJSON *tests, const char *file, const char *template_dir);
void bk_test_plan_free(bk_test_plan *t);

/* Whether the tests run in phase ("before_image" or "after_image"). False
 * for NULL tests. */
int bk_verify_wants(const bk_test_plan *tests, const char *phase);

typedef enum { BK_TEST_PASSED, BK_TEST_FAILED, BK_TEST_ERROR, BK_TEST_SKIPPED } bk_test_status;

typedef struct {
	char *suite;        /* "native checks (before_image)", "serverspec (before_image)" */
	char *name;         /* check's name, or generated: "package nginx installed" */
	char *classname;    /* "package", "service", ..., or the rspec example group */
	bk_test_status status;
	double seconds;
	char *message;      /* failure: "expected mode 0644, found 0600" */
	char *output;       /* captured output for the JUnit system-out, may be NULL */
} bk_test_case;

typedef struct {
	bk_test_case *cases;
	size_t count, cap;
} bk_test_report;

void bk_test_report_free(bk_test_report *r);
/* Append a case; every string is copied (message and output may be NULL). */
int bk_test_report_add(bk_test_report *r, const char *suite, const char *name,
		       const char *classname, bk_test_status status, double seconds,
		       const char *message, const char *output);
size_t bk_test_report_count(const bk_test_report *r, bk_test_status status);

typedef struct {
	bk_ssh *ssh;                 /* connected to the instance under test */
	const bk_test_plan *tests;   /* from bk_verify_parse */
	const char *template_dir;
	const char *phase;           /* "before_image" or "after_image" */
	/* for Serverspec's TARGET_* contract */
	const char *host;
	int port;
	const char *user;
	const char *private_key_pem; /* written to a 0600 temp file, removed after */
	const bk_cancel *cancel;
	bk_logger log;               /* one INFO line per check: "✓ package nginx installed (0.1s)" */
	bk_ssh_line_cb output;       /* rspec progress lines, live */
	void *output_payload;
	/* >0: host:port is reached through a bastion tunnel listening on
	 * 127.0.0.1:tunnel_port (TARGET_TUNNEL); host and port still name the
	 * instance, as the suite's checks read them */
	int tunnel_port;
	/* no private_key_pem: the SSH agent's identities (SSH_AUTH_SOCK) */
	int agent_auth;
} bk_verify_ctx;

/* Run the native checks, then the Serverspec suite, appending to report.
 * 0 when everything passed; BAKEAMI_ETESTFAIL (message "3 of 12 tests
 * failed: <first failure>") when a check failed; other codes when the run
 * itself broke (SSH dropped, rspec missing, cancelled). */
int bk_verify_run(bk_test_report *report, const bk_verify_ctx *ctx);

/* The console summary table, one line per call of emit. */
void bk_test_report_table(const bk_test_report *r,
			  void (*emit)(const char *line, void *payload), void *payload);

/* JUnit XML (one testsuite per suite name, one testcase per check or
 * example), written with libxml2's xmlTextWriter. */
int bk_junit_write(const bk_test_report *r, const char *path);

#endif
