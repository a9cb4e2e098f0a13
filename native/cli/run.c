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
} signal_watch;

static void *watch_signals(void *arg)
{
	signal_watch *w = arg;
	int sig, seen = 0;

	while (sigwait(&w->set, &sig) == 0) {
		if (seen++)
			fprintf(stderr, "bakeami: cleanup in progress; it stops by itself (SIGKILL leaks, "
				"then run bakeami cleanup --journal)\n");
		else
			fprintf(stderr, "bakeami: %s received: cancelling and cleaning up\n",
				sig == SIGINT ? "SIGINT" : "SIGTERM");
		bakeami_bake_cancel(w->bake);
	}
	return NULL;
}

/* Run a bake or a promotion with SIGINT/SIGTERM turned into a cancel. */
static int run_cancellable(bakeami_bake *bake, int (*run)(bakeami_bake *))
{
	signal_watch w;
	pthread_t tid;
	int rc;

	w.bake = bake;
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGINT);
	sigaddset(&w.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &w.set, NULL);
	pthread_create(&tid, NULL, watch_signals, &w);
	rc = run(bake);
	pthread_cancel(tid);
	pthread_join(tid, NULL);
	if (rc < 0)
		fprintf(stderr, "bakeami: error: %s\n", bakeami_bake_error(bake));
	bakeami_bake_free(bake);
	return bakeami_exit_code(rc);
}

/* ---- the commands ---------------------------------------------------- */

static void fill_options(bakeami_options *o, cli_args *c)
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
	o->on_error_abort = c->abort_on_error;
	o->debug = c->debug;
	o->region = c->region;
	o->reuse = c->reuse;
	o->log_cb = print_event;
	o->log_payload = c;
}

static int fail(int rc)
{
	fprintf(stderr, "bakeami: error: %s\n", bakeami_error_last());
	return bakeami_exit_code(rc);
}

int cli_run_bake(const cli_command *cmd, cli_args *c)
{
	bakeami_bake *bake;
	bakeami_options o;
	int rc;

	(void)cmd;
	fill_options(&o, c);
	if ((rc = bakeami_bake_new(&bake, &o)) < 0)
		return fail(rc);
	return run_cancellable(bake, bakeami_bake_run);
}

int cli_run_promote(const cli_command *cmd, cli_args *c)
{
	bakeami_bake *promotion;
	bakeami_options o;
	int rc;

	(void)cmd;
	fill_options(&o, c);
	if ((rc = bakeami_promote_new(&promotion, &o, c->ami)) < 0)
		return fail(rc);
	return run_cancellable(promotion, bakeami_promote_run);
}

int cli_run_validate(const cli_command *cmd, cli_args *c)
{
	bakeami_options o;
	int rc;

	(void)cmd;
	fill_options(&o, c);
	if ((rc = bakeami_template_validate(&o)) < 0)
		return fail(rc);
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
	o.log_cb = print_event;
	o.log_payload = c;
	if ((rc = bakeami_cleanup_run(&o)) < 0)
		return fail(rc);
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
	fill_options(&o, c);
	o.log_cb = print_warning;
	if ((rc = bakeami_inputs_new(&run, &o)) < 0)
		return fail(rc);
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
