/*
 * cli.h - the pieces of the `bakeami` command: its commands (commands.c),
 * their option tables and parser (options.c), their usage (usage.c) and
 * what each runs (run.c). Only run.c calls the library.
 */
#ifndef BAKEAMI_CLI_H
#define BAKEAMI_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "bakeami.h"

#define CLI_MAX_ARGS 256
#define CLI_RUN (-1)   /* the parse went well: run the command */

/* Every option of every command; a command accepts the ones it lists. */
typedef enum {
	OPT_VAR,
	OPT_VAR_FILE,
	OPT_MANIFEST,
	OPT_JUNIT,
	OPT_RESULT,
	OPT_JOURNAL,
	OPT_ON_ERROR,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_AMI,
	OPT_REGION,
	OPT_RUN_ID,
	OPT_STALE,
	OPT_OLDER_THAN,
	OPT_REUSE,
	OPT_NO_REUSE,
	/* Packer's build flags (bakeami build; some also validate/bake) */
	OPT_ONLY,
	OPT_EXCEPT,
	OPT_PARALLEL_BUILDS,
	OPT_FORCE,
	OPT_COLOR,
	OPT_TIMESTAMP_UI,
	OPT_MACHINE_READABLE,
	OPT_SYNTAX_ONLY,
	OPT_LOG_DIR,
	OPT_DUMP_PLAN,
	OPT_ASSUME_ROLE,
	OPT_EXTERNAL_ID,
	OPT_ROLE_SESSION_NAME,
	OPT_LEASE,
	OPT_LEASE_RENEW,
	OPT_HELP,
	OPT_COUNT
} cli_opt;

typedef struct {
	const char *name;       /* matched as -name or --name */
	const char *metavar;    /* NULL: a flag, it takes no value */
	const char *help;       /* one line, unless the command says otherwise */
	int boolean;            /* a Go bool flag: -f, -f=true, -f=false (metavar NULL) */
} cli_option;

/* One option as a command uses it. */
typedef struct {
	cli_opt opt;
	const char *help;       /* NULL: the option's own line */
} cli_use;

typedef struct {
	const char *vars[CLI_MAX_ARGS];
	size_t nvars;
	const char *var_files[CLI_MAX_ARGS];
	size_t nvar_files;
	const char *manifest, *junit, *result, *journal, *ami;
	const char *run_id, *region, *older_than, *log_dir;
	const char *role_arn, *external_id, *role_session_name;   /* --assume-role ... */
	const char *operand;    /* TEMPLATE, or help's COMMAND */
	long older_than_seconds;
	long lease_seconds, lease_renew_seconds;   /* 0: the library's defaults */
	int json, abort_on_error, debug, stale, dump_plan;
	int reuse;              /* 1 --reuse, -1 --no-reuse, 0 neither */
	/* Packer's flags */
	const char *only[CLI_MAX_ARGS];     /* -only a,b (split on commas in argv; repeatable) */
	size_t nonly;
	const char *except[CLI_MAX_ARGS];
	size_t nexcept;
	long parallel_builds;               /* 0: unlimited */
	int force, timestamp_ui, machine_readable, syntax_only;
	int color;                          /* -color=false: 0; else 1 (build's default) */
	int ask_on_error;                   /* -on-error=ask */
	int cleanup_provisioner;            /* -on-error=run-cleanup-provisioner */
} cli_args;

typedef struct cli_command {
	const char *name;
	const char *synopsis;   /* usage line(s) after "bakeami " */
	const char *summary;    /* what it does, for `bakeami help` */
	const char *details;    /* a paragraph for `bakeami help COMMAND`, or NULL */
	const char *operand;    /* "TEMPLATE" (required), "[COMMAND]" (optional) or NULL */
	const cli_use *uses;    /* ends with OPT_HELP */
	/* Checks across options (after parsing); 0 or a usage error's exit code. */
	int (*check)(const struct cli_command *cmd, const cli_args *c);
	int (*run)(const struct cli_command *cmd, cli_args *c);
} cli_command;

/* commands.c */
const cli_command *cli_command_find(const char *name);
const cli_command *cli_command_at(size_t i);   /* NULL past the last */

/* options.c */
const cli_option *cli_option_get(cli_opt opt);
/* Parses argv (argv[0] is the command's name): CLI_RUN, or an exit code
 * (0 after --help, 2 after a usage error, which it has printed). */
int cli_parse(cli_args *c, const cli_command *cmd, int argc, char **argv);
/* "6h", "90m", "2d", "3600s" or plain seconds; -1 if none of these. */
long cli_parse_age(const char *s);

/* usage.c */
void cli_usage_all(FILE *f);                        /* every synopsis */
void cli_help_all(FILE *f);                         /* `bakeami help` */
void cli_help_command(FILE *f, const cli_command *cmd);
/* "bakeami: <message>" and the command's usage (all of them if NULL) on
 * stderr; returns 2. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* run.c */
void cli_fill_options(bakeami_options *o, cli_args *c);
/* bakeami_builds_run with SIGINT/SIGTERM turned into a cancel; said (NULL:
 * bakeami's lines on stderr) tells the user. */
int cli_run_builds(bakeami_builds *builds, void (*said)(int sig, int seen, void *payload),
		   void *payload);
/* "bakeami: error: <last error>" on stderr; the exit code of rc. */
int cli_fail(int rc);
int cli_run_bake(const cli_command *cmd, cli_args *c);
int cli_run_promote(const cli_command *cmd, cli_args *c);
int cli_run_validate(const cli_command *cmd, cli_args *c);
int cli_run_cleanup(const cli_command *cmd, cli_args *c);
int cli_run_inputs(const cli_command *cmd, cli_args *c);
int cli_run_version(const cli_command *cmd, cli_args *c);
int cli_run_help(const cli_command *cmd, cli_args *c);
/* packer.c: `bakeami build` and `bakeami inspect`, as Packer 1.6.6's */
int cli_run_build(const cli_command *cmd, cli_args *c);
int cli_run_inspect(const cli_command *cmd, cli_args *c);
/* packer_ui.c: Packer's console text (new strings; NULL: no memory) */
char *pui_escape(const char *arg);
char *pui_machine_line(long long ts, const char *target, const char *type,
		       const char *const *args, size_t n);
char *pui_prefix_lines(int arrow, const char *target, const char *msg);
char *pui_colorize(const char *msg, int color, int bold);
void pui_rfc3339(char out[40], long long when);
char *pui_duration(double seconds);
/* Commands that answer with Packer's exit codes (1 for any failure). */
int cli_packer_command(const cli_command *cmd);

#endif
