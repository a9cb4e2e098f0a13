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
 * bk_verify_parse. The native checks stay the verify layer's own: each is
 * checked against its type's field table and read by that type's command
 * and judge; nobody else looks inside. */
enum { BK_TESTS_BEFORE_IMAGE = 1, BK_TESTS_AFTER_IMAGE = 2 };

typedef struct {
	char *dir;                   /* the folder holding spec/, resolved */
	char *pattern;               /* NULL: every _spec.rb file under spec */
	bk_strv command;             /* argv; empty: rspec */
	double timeout_s;            /* 0: one hour */
} bk_serverspec_cfg;

typedef struct bk_test_plan bk_test_plan;
struct bk_test_plan {
	unsigned phases;             /* BK_TESTS_BEFORE_IMAGE | BK_TESTS_AFTER_IMAGE */
	cJSON *checks;               /* an array of checked checks (owned) */
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
