/*
 * cli.h - the pieces of the `bakeami` command: its commands (commands.c),
 * their option tables and parser (options.c), their usage (usage.c) and
 * what each runs (run.c). Only run.c calls the library.
 */
#ifndef BAKEAMI_CLI_H
#define BAKEAMI_CLI_H

#include <stddef.h>
#include <stdio.h>

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
	OPT_HELP,
	OPT_COUNT
} cli_opt;

typedef struct {
	const char *name;       /* matched as -name or --name */
	const char *metavar;    /* NULL: a flag, it takes no value */
	const char *help;       /* one line, unless the command says otherwise */
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
	const char *run_id, *region, *older_than;
	const char *operand;    /* TEMPLATE, or help's COMMAND */
	long older_than_seconds;
	int json, abort_on_error, debug, stale;
	int reuse;              /* 1 --reuse, -1 --no-reuse, 0 neither */
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
int cli_run_bake(const cli_command *cmd, cli_args *c);
int cli_run_promote(const cli_command *cmd, cli_args *c);
int cli_run_validate(const cli_command *cmd, cli_args *c);
int cli_run_cleanup(const cli_command *cmd, cli_args *c);
int cli_run_inputs(const cli_command *cmd, cli_args *c);
int cli_run_version(const cli_command *cmd, cli_args *c);
int cli_run_help(const cli_command *cmd, cli_args *c);

#endif
