/*
 * run.c - what each command runs, once its arguments have passed the
 * parser: options for the library, the console, and SIGINT/SIGTERM turned
 * into a cancel that cleans up.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "bakeami.h"
#include "cli.h"

static void print_event(const bakeami_event *ev, void *payload)
{
	const cli_args *c = payload;

	/* Transitions are for debugging; JSON consumers get them all. */
	if (!c->json && !c->debug && ev->kind == BAKEAMI_EVENT_STATE)
		return;
	fputs(c->json ? ev->json : ev->line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ---- signals: a sigwait thread turns SIGINT/SIGTERM into a cancel ----- */

typedef struct {
	sigset_t set;
	bakeami_bake *bake;
	bakeami_builds *builds;
	void (*said)(int sig, int seen, void *payload);   /* NULL: bakeami's own lines */
	void *payload;
} signal_watch;

static void *watch_signals(void *arg)
{
	signal_watch *w = arg;
	int sig, seen = 0;

	while (sigwait(&w->set, &sig) == 0) {
		if (w->said)
			w->said(sig, seen, w->payload);
		else if (seen)
			fprintf(stderr, "bakeami: cleanup in progress; it stops by itself (SIGKILL leaks, "
				"then run bakeami cleanup --journal)\n");
		else
			fprintf(stderr, "bakeami: %s received: cancelling and cleaning up\n",
				sig == SIGINT ? "SIGINT" : "SIGTERM");
		seen++;
		if (w->builds)
			bakeami_builds_cancel(w->builds);
		else
			bakeami_bake_cancel(w->bake);
	}
	return NULL;
}

static void watch_start(signal_watch *w, pthread_t *tid)
{
	sigemptyset(&w->set);
	sigaddset(&w->set, SIGINT);
	sigaddset(&w->set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &w->set, NULL);
	pthread_create(tid, NULL, watch_signals, w);
}

static void watch_stop(pthread_t tid)
{
	pthread_cancel(tid);
	pthread_join(tid, NULL);
}

/* Run a promotion with SIGINT/SIGTERM turned into a cancel. */
static int run_cancellable(bakeami_bake *bake, int (*run)(bakeami_bake *))
{
	signal_watch w = {.bake = bake};
	pthread_t tid;
	int rc;

	watch_start(&w, &tid);
	rc = run(bake);
	watch_stop(tid);
	if (rc < 0)
		fprintf(stderr, "bakeami: error: %s\n", bakeami_bake_error(bake));
	bakeami_bake_free(bake);
	return bakeami_exit_code(rc);
}

int cli_run_builds(bakeami_builds *builds, void (*said)(int, int, void *), void *payload)
{
	signal_watch w = {.builds = builds, .said = said, .payload = payload};
	pthread_t tid;
	int rc;

	watch_start(&w, &tid);
	rc = bakeami_builds_run(builds);
	watch_stop(tid);
	return rc;
}

/* ---- the commands ---------------------------------------------------- */

void cli_fill_options(bakeami_options *o, cli_args *c)
{
	bakeami_options_init(o, BAKEAMI_OPTIONS_VERSION);
	o->template_path = c->operand;
	o->vars = c->vars;
	o->vars_count = c->nvars;
	o->var_files = c->var_files;
	o->var_files_count = c->nvar_files;
	o->manifest_path = c->manifest;
	o->junit_path = c->junit;
	o->result_path = c->result;
	o->journal_path = c->journal;
	o->on_error_abort = c->cleanup_provisioner ? 2 : c->abort_on_error;
	o->debug = c->debug;
	o->region = c->region;
	o->reuse = c->reuse;
	o->only = c->only;
	o->only_count = c->nonly;
	o->except = c->except;
	o->except_count = c->nexcept;
	o->force = c->force;
	o->parallel_builds = (unsigned int)(c->parallel_builds > 0xffff ? 0xffff
					    : c->parallel_builds);
	o->log_dir = c->log_dir;
	o->role_arn = c->role_arn;
	o->role_external_id = c->external_id;
	o->role_session_name = c->role_session_name;
	o->lease_seconds = (unsigned int)c->lease_seconds;
	o->lease_renew_seconds = (unsigned int)c->lease_renew_seconds;
	o->log_cb = print_event;
	o->log_payload = c;
}

int cli_fail(int rc)
{
	fprintf(stderr, "bakeami: error: %s\n", bakeami_error_last());
	return bakeami_exit_code(rc);
}

/* Each build's error, as one bake's was. */
static void print_errors(const bakeami_builds *builds)
{
	size_t n = bakeami_builds_count(builds);

	for (size_t i = 0; i < n; i++) {
		const char *e = bakeami_bake_error(bakeami_builds_bake(builds, i));
		if (e && n == 1)
			fprintf(stderr, "bakeami: error: %s\n", e);
		else if (e)
			fprintf(stderr, "bakeami: error: build '%s': %s\n",
				bakeami_builds_name(builds, i), e);
	}
}

int cli_run_bake(const cli_command *cmd, cli_args *c)
{
	bakeami_builds *builds;
	bakeami_options o;
	int rc;

	(void)cmd;
	cli_fill_options(&o, c);
	if ((rc = bakeami_builds_new(&builds, &o)) < 0)
		return cli_fail(rc);
	rc = cli_run_builds(builds, NULL, NULL);
	print_errors(builds);
	bakeami_builds_free(builds);
	return bakeami_exit_code(rc);
}

int cli_run_promote(const cli_command *cmd, cli_args *c)
{
	bakeami_bake *promotion;
	bakeami_options o;
	int rc;

	(void)cmd;
	cli_fill_options(&o, c);
	if ((rc = bakeami_promote_new(&promotion, &o, c->ami)) < 0)
		return cli_fail(rc);
	return run_cancellable(promotion, bakeami_promote_run);
}

static void print_warning(const bakeami_event *ev, void *payload);

/* stdout holds the JSON alone: the notes go to stderr. */
static int dump_plan(bakeami_options *o)
{
	char *plan = NULL;
	int rc;

	o->log_cb = print_warning;
	if ((rc = bakeami_template_dump_plan(&plan, o)) < 0)
		return cli_fail(rc);
	printf("%s\n", plan);
	free(plan);
	return 0;
}

int cli_run_validate(const cli_command *cmd, cli_args *c)
{
	bakeami_options o;
	int rc;

	(void)cmd;
	cli_fill_options(&o, c);
	if (c->syntax_only) {   /* Packer's words */
		if ((rc = bakeami_template_check_syntax(&o)) < 0)
			return cli_fail(rc);
		printf("Syntax-only check passed. Everything looks okay.\n");
		return 0;
	}
	if (c->dump_plan)
		return dump_plan(&o);
	if ((rc = bakeami_template_validate(&o)) < 0)
		return cli_fail(rc);
	printf("template %s is valid\n", c->operand);
	return 0;
}

int cli_run_cleanup(const cli_command *cmd, cli_args *c)
{
	bakeami_cleanup_options o = BAKEAMI_CLEANUP_OPTIONS_INIT;
	int rc;

	(void)cmd;
	o.journal_path = c->journal;
	o.run_id = c->run_id;
	o.stale = c->stale;
	o.older_than_seconds = c->older_than_seconds;
	o.region = c->region;
	o.role_arn = c->role_arn;
	o.role_external_id = c->external_id;
	o.role_session_name = c->role_session_name;
	o.log_cb = print_event;
	o.log_payload = c;
	if ((rc = bakeami_cleanup_run(&o)) < 0)
		return cli_fail(rc);
	return 0;
}

/* Only warnings and errors on the console; the report on stdout. */
static void print_warning(const bakeami_event *ev, void *payload)
{
	const cli_args *c = payload;

	if (ev->kind == BAKEAMI_EVENT_WARN || ev->kind == BAKEAMI_EVENT_ERROR ||
	    (c->debug && ev->kind != BAKEAMI_EVENT_OUTPUT))
		fprintf(stderr, "%s\n", ev->line);
}

int cli_run_inputs(const cli_command *cmd, cli_args *c)
{
	bakeami_bake *run;
	bakeami_options o;
	int rc;

	(void)cmd;
	cli_fill_options(&o, c);
	o.log_cb = print_warning;
	if ((rc = bakeami_inputs_new(&run, &o)) < 0)
		return cli_fail(rc);
	if ((rc = bakeami_inputs_run(run)) == 0)
		fputs(bakeami_bake_inputs(run), stdout);
	else
		fprintf(stderr, "bakeami: error: %s\n", bakeami_bake_error(run));
	bakeami_bake_free(run);
	return bakeami_exit_code(rc);
}

int cli_run_version(const cli_command *cmd, cli_args *c)
{
	(void)cmd;
	(void)c;
	printf("bakeami %s\n", BAKEAMI_VERSION);
	return 0;
}

int cli_run_help(const cli_command *cmd, cli_args *c)
{
	(void)cmd;
	if (c->operand)
		cli_help_command(stdout, cli_command_find(c->operand));
	else
		cli_help_all(stdout);
	return 0;
}
