/*
 * run.c - bk_verify_run: every native check over SSH, one command each,
 * then the Serverspec suite; one report case and one log line per check.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

#define CAPTURE_MAX (BK_CONTENT_CAP + 1024u * 1024u)   /* bytes kept per stream */
#define COMMAND_OUTPUT_MAX 65536                        /* in the JUnit system-out */
#define EXEC_GRACE_S 15.0    /* beyond the check's own timeout (curl's --max-time) */

typedef struct {
	bk_buf out, err;
	bool truncated;
} capture;

static void on_output(int stream, const char *line, size_t len, void *payload)
{
	capture *c = payload;
	bk_buf *b = stream == 2 ? &c->err : &c->out;

	/* A runaway command must not exhaust the agent's memory. */
	if (b->len + len + 1 > CAPTURE_MAX) {
		c->truncated = true;
		return;
	}
	if (bk_buf_put(b, line, len) < 0 || bk_buf_putc(b, '\n') < 0)
		c->truncated = true;
}

/* What a command check printed, for the JUnit system-out. */
static char *command_output(const capture *c)
{
	bk_buf b = BK_BUF_INIT;

	bk_buf_printf(&b, "stdout:\n%.*s", (int)(c->out.len > COMMAND_OUTPUT_MAX
						   ? COMMAND_OUTPUT_MAX : c->out.len),
		      c->out.ptr ? c->out.ptr : "");
	bk_buf_printf(&b, "stderr:\n%.*s", (int)(c->err.len > COMMAND_OUTPUT_MAX
						   ? COMMAND_OUTPUT_MAX : c->err.len),
		      c->err.ptr ? c->err.ptr : "");
	return bk_buf_detach(&b);
}

typedef struct {
	const bk_verify_ctx *ctx;
	const char *suite;
	bk_test_report *report;
} runner;

static void log_case(const runner *rn, const bk_test_case *c)
{
	if (c->status == BK_TEST_PASSED)
		bk_logf(&rn->ctx->log, BK_LOG_INFO, "\xE2\x9C\x93 %s (%.2fs)", c->name, c->seconds);
	else
		bk_logf(&rn->ctx->log, BK_LOG_INFO, "\xE2\x9C\x97 %s (%.2fs): %s", c->name, c->seconds,
			c->message ? c->message : "failed");
}

static int add_case(const runner *rn, const bk_check *check, bk_test_status st, double secs,
		    const char *message, const char *output)
{
	int rc = bk_test_report_add(rn->report, rn->suite, check->name ? check->name : "check",
				    check->type ? check->type->type : "check", st, secs, message,
				    output);

	if (rc == 0)
		log_case(rn, &rn->report->cases[rn->report->count - 1]);
	return rc;
}

static int judge(const runner *rn, const bk_check *check, const capture *cap, int status,
		 double secs)
{
	bk_check_output o = {cap->out.ptr ? cap->out.ptr : "", cap->out.len,
			     cap->err.ptr ? cap->err.ptr : "", cap->err.len, status};
	bk_verdict v = BK_VERDICT_INIT;
	char *out = check->kind == BK_CHECK_COMMAND ? command_output(cap) : NULL;
	int rc = bk_check_judge(&v, check, &o);

	rc = rc ? rc : add_case(rn, check, v.status, secs, v.why.ptr, out);
	bk_verdict_free(&v);
	free(out);
	return rc;
}

/* The exec itself failed: a timeout is this check's error; a dropped
 * connection or a cancel ends the run. */
static int exec_failed(const runner *rn, const bk_check *check, int rc, double secs)
{
	char *msg = bk_strdup(bk_err_msg());
	int add;

	if (rc == BAKEAMI_ECANCELLED) {
		free(msg);
		return rc;
	}
	add = add_case(rn, check, BK_TEST_ERROR, secs, msg ? msg : "SSH failed", NULL);
	if (msg)
		bk_err(rc, "%s", msg);
	free(msg);
	if (add < 0)
		return add;
	if (rc == BAKEAMI_ETIMEOUT && bk_ssh_connected(rn->ctx->ssh))
		return 0;
	return rc == BAKEAMI_ETIMEOUT ? BAKEAMI_ESSH : rc;
}

static int run_check(const runner *rn, const bk_check *check)
{
	char *cmd = bk_check_command(check);
	capture cap = {BK_BUF_INIT, BK_BUF_INIT, false};
	double t0 = bk_now(), secs;
	int status = -1, rc;

	if (!cmd)
		return bk_err(BAKEAMI_EINVALID, "a check that bk_verify_validate would refuse");
	/* The command is never logged: a command check may carry secrets. */
	rc = bk_ssh_exec_input(&status, rn->ctx->ssh, BK_CHECK_SHELL, cmd,
			       bk_check_timeout(check) + EXEC_GRACE_S, on_output, &cap);
	secs = bk_now() - t0;
	rc = rc == 0 ? judge(rn, check, &cap, status, secs) : exec_failed(rn, check, rc, secs);
	free(cmd);
	bk_buf_free(&cap.out);
	bk_buf_free(&cap.err);
	return rc;
}

static int run_checks(bk_test_report *report, const bk_verify_ctx *ctx)
{
	const bk_test_plan *plan = ctx->tests;
	char *suite = bk_sprintf("native checks (%s)", ctx->phase ? ctx->phase : "tests");
	runner rn = {ctx, suite, report};
	int rc = suite ? 0 : bk_oom();

	if (rc == 0 && plan->checks_count > 0 && !ctx->ssh)
		rc = bk_err(BAKEAMI_EINVALID, "native checks need an SSH connection");
	for (size_t i = 0; rc == 0 && i < plan->checks_count; i++) {
		if (bk_cancelled(ctx->cancel))
			rc = bk_err(BAKEAMI_ECANCELLED, "cancelled during the tests");
		if (rc == 0)
			rc = run_check(&rn, &plan->checks[i]);
	}
	free(suite);
	return rc;
}

/* "service nginx: expected running, found inactive" (native messages name
 * their subject already), or "<example>: <first line of its message>". */
static char *failure_text(const bk_test_case *c)
{
	char *first = bk_first_line(c->message ? c->message : "failed", 300), *s;
	size_t n = strlen(c->classname);

	if (!first)
		return NULL;
	if (strncmp(first, c->classname, n) == 0 && first[n] == ' ')
		return first;
	s = bk_sprintf("%s: %s", c->name, first);
	free(first);
	return s;
}

static int summarize(const bk_test_report *r, size_t from)
{
	size_t failed = 0, total = r->count - from;
	const bk_test_case *first = NULL;
	char *text;
	int rc;

	for (size_t i = from; i < r->count; i++) {
		if (r->cases[i].status != BK_TEST_FAILED && r->cases[i].status != BK_TEST_ERROR)
			continue;
		failed++;
		first = first ? first : &r->cases[i];
	}
	if (!failed)
		return 0;
	text = failure_text(first);
	rc = bk_err(BAKEAMI_ETESTFAIL, "%zu of %zu tests failed: %s", failed, total,
		    text ? text : "?");
	free(text);
	return rc;
}

int bk_verify_wants(const bk_test_plan *tests, const char *phase)
{
	if (!tests || !phase)
		return 0;
	if (strcmp(phase, "before_image") == 0)
		return !!(tests->phases & BK_TESTS_BEFORE_IMAGE);
	return strcmp(phase, "after_image") == 0 && (tests->phases & BK_TESTS_AFTER_IMAGE);
}

int bk_verify_run(bk_test_report *report, const bk_verify_ctx *ctx)
{
	size_t from;
	int rc;

	if (!report || !ctx || !ctx->tests)
		return bk_err(BAKEAMI_EINVALID, "bk_verify_run: no tests");
	from = report->count;
	if ((rc = run_checks(report, ctx)) < 0)
		return rc;
	if (bk_cancelled(ctx->cancel))
		return bk_err(BAKEAMI_ECANCELLED, "cancelled during the tests");
	if ((rc = bk_serverspec_run(report, ctx)) < 0)
		return rc;
	return summarize(report, from);
}
