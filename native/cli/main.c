/*
 * main.c - the `bakeami` command: bake, validate, promote, cleanup, version.
 * Uses only bakeami.h. Exit codes: 0 baked, 1 failed, 2 bad input or
 * usage, 3 tests failed, 130 cancelled.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bakeami.h"

#define MAX_ARGS 256

typedef struct {
	const char *vars[MAX_ARGS];
	size_t nvars;
	const char *var_files[MAX_ARGS];
	size_t nvar_files;
	const char *manifest, *junit, *result, *journal, *template_path, *ami;
	const char *run_id, *region, *older_than;
	int json, abort_on_error, debug, stale;
} cli_args;

static void usage(FILE *f)
{
	fputs("usage: bakeami bake [-var K=V]... [-var-file F]... [--manifest F] [--junit F]\n"
	      "                    [--result F] [--journal F] [--on-error cleanup|abort]\n"
	      "                    [--log-format text|json] [--debug] TEMPLATE\n"
	      "       bakeami validate [-var K=V]... [-var-file F]... TEMPLATE\n"
	      "       bakeami promote --ami AMI_ID [-var K=V]... [-var-file F]... [--result F]\n"
	      "                       [--journal F] [--log-format text|json] [--debug] TEMPLATE\n"
	      "       bakeami cleanup (--journal F | --run-id ID | --stale [--older-than 6h]) [--region R]\n"
	      "       bakeami version\n", f);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "bakeami: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

/* "--name=value" or "--name value"; also Packer's single-dash forms. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (a[0] == '-' && a[1] == '-')
		a++;
	if (strncmp(a + 1, name, n) != 0)
		return NULL;
	if (a[1 + n] == '=')
		return a + 2 + n;
	if (a[1 + n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

static int parse_flag(cli_args *c, const char *a)
{
	if (!strcmp(a, "--debug") || !strcmp(a, "-debug"))
		c->debug = 1;
	else if (!strcmp(a, "--stale"))
		c->stale = 1;
	else
		return 0;
	return 1;
}

static int parse_value(cli_args *c, int argc, char **argv, int *i)
{
	static const char *const names[] = {"var", "var-file", "manifest", "junit", "result",
					    "journal", "on-error", "log-format", "ami",
					    "run-id", "region", "older-than", "template"};
	const char *v = NULL;
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]) && !v; k++)
		v = opt_value(argc, argv, i, names[k]);
	if (!v)
		return 0;
	if (!*v)
		return usage_error("option %s needs a value", argv[*i]);
	switch (k - 1) {
	case 0: if (c->nvars == MAX_ARGS) return usage_error("too many %s", "-var");
		c->vars[c->nvars++] = v; break;
	case 1: if (c->nvar_files == MAX_ARGS) return usage_error("too many %s", "-var-file");
		c->var_files[c->nvar_files++] = v; break;
	case 2: c->manifest = v; break;
	case 3: c->junit = v; break;
	case 4: c->result = v; break;
	case 5: c->journal = v; break;
	case 6: if (strcmp(v, "cleanup") && strcmp(v, "abort"))
			return usage_error("--on-error must be cleanup or abort, not '%s'", v);
		c->abort_on_error = !strcmp(v, "abort"); break;
	case 7: if (strcmp(v, "text") && strcmp(v, "json"))
			return usage_error("--log-format must be text or json, not '%s'", v);
		c->json = !strcmp(v, "json"); break;
	case 8: c->ami = v; break;
	case 9: c->run_id = v; break;
	case 10: c->region = v; break;
	case 11: c->older_than = v; break;
	case 12: if (c->template_path)
			return usage_error("more than one template given (%s)", v);
		c->template_path = v; break;
	}
	return 1;
}

static int parse_args(cli_args *c, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		int r;
		if (parse_flag(c, argv[i]))
			continue;
		if ((r = parse_value(c, argc, argv, &i)) == 2)
			return 2;
		if (r)
			continue;
		if (argv[i][0] == '-')
			return usage_error("unknown option %s", argv[i]);
		if (c->template_path)
			return usage_error("more than one template given (%s)", argv[i]);
		c->template_path = argv[i];
	}
	return 0;
}

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

static void fill_options(bakeami_options *o, cli_args *c)
{
	bakeami_options_init(o, BAKEAMI_OPTIONS_VERSION);
	o->template_path = c->template_path;
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
	o->log_cb = print_event;
	o->log_payload = c;
}

static int fail(int rc)
{
	fprintf(stderr, "bakeami: error: %s\n", bakeami_error_last());
	return bakeami_exit_code(rc);
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

static int cmd_bake(cli_args *c)
{
	bakeami_bake *bake;
	bakeami_options o;
	int rc;

	if (!c->template_path)
		return usage_error("%s", "bake: no template given");
	fill_options(&o, c);
	if ((rc = bakeami_bake_new(&bake, &o)) < 0)
		return fail(rc);
	return run_cancellable(bake, bakeami_bake_run);
}

static int cmd_promote(cli_args *c)
{
	bakeami_bake *promotion;
	bakeami_options o;
	int rc;

	if (!c->ami)
		return usage_error("%s", "promote: --ami AMI_ID is required");
	if (!c->template_path)
		return usage_error("%s", "promote: no template given");
	fill_options(&o, c);
	if ((rc = bakeami_promote_new(&promotion, &o, c->ami)) < 0)
		return fail(rc);
	return run_cancellable(promotion, bakeami_promote_run);
}

static int cmd_validate(cli_args *c)
{
	bakeami_options o;
	int rc;

	if (!c->template_path)
		return usage_error("%s", "validate: no template given");
	fill_options(&o, c);
	if ((rc = bakeami_template_validate(&o)) < 0)
		return fail(rc);
	printf("template %s is valid\n", c->template_path);
	return 0;
}

/* "6h", "90m", "2d", "3600s" or plain seconds. */
static long parse_age(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': return end[*end ? 1 : 0] ? -1 : v;
	case 'm': return end[1] ? -1 : v * 60;
	case 'h': return end[1] ? -1 : v * 3600;
	case 'd': return end[1] ? -1 : v * 86400;
	}
	return -1;
}

static int cmd_cleanup(cli_args *c)
{
	bakeami_cleanup_options o = BAKEAMI_CLEANUP_OPTIONS_INIT;
	int rc;

	o.journal_path = c->journal;
	o.run_id = c->run_id;
	o.stale = c->stale;
	o.region = c->region;
	o.log_cb = print_event;
	o.log_payload = c;
	if (c->older_than && (o.older_than_seconds = parse_age(c->older_than)) < 0)
		return usage_error("--older-than: '%s' is not a duration like 6h, 90m or 2d", c->older_than);
	if ((rc = bakeami_cleanup_run(&o)) < 0)
		return fail(rc);
	return 0;
}

int main(int argc, char **argv)
{
	cli_args c = {0};
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("bakeami %s\n", BAKEAMI_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if ((rc = parse_args(&c, argc, argv)) != 0)
		return rc;
	if (!strcmp(cmd, "bake"))
		return cmd_bake(&c);
	if (!strcmp(cmd, "validate"))
		return cmd_validate(&c);
	if (!strcmp(cmd, "cleanup"))
		return cmd_cleanup(&c);
	if (!strcmp(cmd, "promote"))
		return cmd_promote(&c);
	return usage_error("unknown command '%s'", cmd);
}
