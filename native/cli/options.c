/*
 * options.c - every option the CLI knows, and the parser that gives each
 * command only its own (getopt_long_only: -var and --var alike, as Packer
 * users type them). A bad option or value is a usage error before anything
 * runs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define OPT_VAL_BASE 256   /* getopt values clear of every character */

static const cli_option options[OPT_COUNT] = {
	[OPT_VAR] = {"var", "K=V", "set template variable K (repeatable; the last one wins)"},
	[OPT_VAR_FILE] = {"var-file", "F", "JSON object of template variables, applied before -var "
			  "(repeatable)"},
	[OPT_MANIFEST] = {"manifest", "F", "append the AMIs to Packer's manifest F (after a success)"},
	[OPT_JUNIT] = {"junit", "F", "write the image's test results to F (JUnit XML)"},
	[OPT_RESULT] = {"result", "F", "write the result to F (JSON: AMIs per region, run id, tests, "
			"timings, cleanup)"},
	[OPT_JOURNAL] = {"journal", "F", "journal of what the run creates "
			 "(default .bakeami/journal/<run-id>.jsonl)"},
	[OPT_ON_ERROR] = {"on-error", "cleanup|abort", "on failure clean up (default), or keep "
			  "everything for debugging"},
	[OPT_LOG_FORMAT] = {"log-format", "text|json", "console lines (default), or one JSON object "
			    "per event"},
	[OPT_DEBUG] = {"debug", NULL, "also print state transitions and debug events"},
	[OPT_AMI] = {"ami", "AMI_ID", "the image to promote (required)"},
	[OPT_REGION] = {"region", "R", "the build region: overrides the template's region and "
			"AWS_REGION"},
	[OPT_RUN_ID] = {"run-id", "ID", "delete what is tagged bakeami:run-id=ID"},
	[OPT_STALE] = {"stale", NULL, "delete every bakeami resource whose bakeami:expires has passed"},
	[OPT_OLDER_THAN] = {"older-than", "D", "with --stale: what was created more than D ago "
			    "instead (6h, 90m, 2d, 3600s)"},
	[OPT_REUSE] = {"reuse", NULL, "use a tested image of the same inputs if there is one "
		       "(overrides the template's \"reuse\")"},
	[OPT_NO_REUSE] = {"no-reuse", NULL, "always bake, whatever the template's \"reuse\" says"},
	[OPT_ONLY] = {"only", "A,B", "run only the builds named (a build's name is its \"name\", else "
		      "its type; repeatable)"},
	[OPT_EXCEPT] = {"except", "A,B", "run every build but those named (repeatable)"},
	[OPT_PARALLEL_BUILDS] = {"parallel-builds", "N", "run at most N builds at once (0, the "
				 "default: all; 1: one after the other)"},
	[OPT_FORCE] = {"force", NULL, "deregister an image of the same name first, and delete its "
		       "snapshots", 1},
	[OPT_COLOR] = {"color", NULL, "-color=false: no colours (also PACKER_NO_COLOR)", 1},
	[OPT_TIMESTAMP_UI] = {"timestamp-ui", NULL, "start each line with an RFC3339 time", 1},
	[OPT_MACHINE_READABLE] = {"machine-readable", NULL, "Packer's timestamp,target,type,data "
				  "lines", 1},
	[OPT_SYNTAX_ONLY] = {"syntax-only", NULL, "check the JSON and the template's shape only",
			     1},
	[OPT_LOG_DIR] = {"log-dir", "DIR", "keep each provisioner's output in "
			 "DIR/<run-id>/NN-<type>.log (default bakeami-logs)"},
	[OPT_DUMP_PLAN] = {"dump-plan", NULL, "print the plan of every build as JSON instead: each "
			   "option's value as decoded (Packer's rules), with defaults"},
	[OPT_ASSUME_ROLE] = {"assume-role", "ARN", "assume IAM role ARN with the AWS credentials "
			     "(renewed before it expires, cleanup included)"},
	[OPT_EXTERNAL_ID] = {"external-id", "ID", "with --assume-role: the role's external id"},
	[OPT_ROLE_SESSION_NAME] = {"role-session-name", "NAME", "with --assume-role: the session's "
				   "name in CloudTrail (default bakeami-<random>)"},
	[OPT_LEASE] = {"lease", "D", "temporary resources expire D after they were made or last "
		       "extended (default 1h); `cleanup --stale` removes them after that"},
	[OPT_LEASE_RENEW] = {"lease-renew", "D", "how often a live bake extends the lease "
			     "(default a third of it, 20m at most)"},
	[OPT_HELP] = {"help", NULL, "print this help and exit"},
};

const cli_option *cli_option_get(cli_opt opt)
{
	return opt >= 0 && opt < OPT_COUNT ? &options[opt] : NULL;
}

long cli_parse_age(const char *s)
{
	static const struct { char unit; long seconds; } units[] = {
		{'\0', 1}, {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400},
	};
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || (*end && end[1]))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].unit)
			return v > LONG_MAX / units[i].seconds ? -1 : v * units[i].seconds;
	return -1;
}

/* ---- the getopt table of one command ------------------------------- */

static size_t long_options(struct option *out, const cli_command *cmd)
{
	size_t n = 0;

	for (const cli_use *u = cmd->uses;; u++) {
		const cli_option *o = &options[u->opt];
		out[n++] = (struct option){o->name, o->metavar ? required_argument
					   : o->boolean ? optional_argument : no_argument,
					   NULL, OPT_VAL_BASE + (int)u->opt};
		if (u->opt == OPT_HELP)
			break;
	}
	/* -h, as every command-line user expects it */
	out[n++] = (struct option){"h", no_argument, NULL, OPT_VAL_BASE + OPT_HELP};
	out[n] = (struct option){0};
	return n;
}

/* ---- what went wrong with an argument ------------------------------ */

/* The option as typed, without "=value". */
static const char *typed_name(const char *arg, char *buf, size_t size)
{
	size_t n = strcspn(arg, "=");

	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), arg);
	return buf;
}

/* getopt said '?': a flag given a value, or an option this command does
 * not have (getopt's abbreviations of several options included). */
static int bad_option(const cli_command *cmd, const char *arg, int optopt_val)
{
	char buf[128];
	const char *typed = typed_name(arg, buf, sizeof(buf));

	if (optopt_val >= OPT_VAL_BASE)
		return cli_usage_error(cmd, "%s takes no value (%s)", typed, arg);
	return cli_usage_error(cmd, "%s is not an option of %s", typed, cmd->name);
}

/* The argument that named the option getopt has just returned. */
static const char *option_arg(char **argv)
{
	const char *arg = argv[optind - 1];

	return optarg && optarg == arg ? argv[optind - 2] : arg;   /* "--name value" */
}

/* getopt also takes unique abbreviations (--reg for --region); we do not:
 * Packer does not, and a script's abbreviation would break the day another
 * option shares its prefix. */
static int abbreviated(cli_opt opt, const char *arg)
{
	char buf[128];
	const char *name = typed_name(arg, buf, sizeof(buf));

	name += strspn(name, "-");
	return strcmp(name, options[opt].name) && !(opt == OPT_HELP && !strcmp(name, "h"));
}

/* ---- storing a value ----------------------------------------------- */

static int push(const char **list, size_t *n, const char *v, const cli_command *cmd,
		const char *what)
{
	if (*n == CLI_MAX_ARGS)
		return cli_usage_error(cmd, "more than %d %s options", CLI_MAX_ARGS, what);
	list[(*n)++] = v;
	return CLI_RUN;
}

static int one_of(int *out, const char *v, const char *yes, const char *no,
		  const cli_command *cmd, const char *name)
{
	if (strcmp(v, yes) && strcmp(v, no))
		return cli_usage_error(cmd, "--%s must be %s or %s, not '%s'", name, no, yes, v);
	*out = !strcmp(v, yes);
	return CLI_RUN;
}

/* Go's strconv.ParseBool, as Packer's bool flags read "-force=VALUE". */
static int go_bool(int *out, const char *v, const cli_command *cmd, const char *name)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};

	if (!v) {
		*out = 1;
		return CLI_RUN;
	}
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
			*out = !strcmp(v, yes[i]);
			return CLI_RUN;
		}
	return cli_usage_error(cmd, "invalid boolean value \"%s\" for -%s: parse error", v, name);
}

/* Packer's -only/-except: comma-separated, repeatable; empty names skipped. */
static int names(const char **list, size_t *n, char *v, const cli_command *cmd,
		 const char *what)
{
	char *save = NULL;
	int rc = CLI_RUN;

	for (char *tok = strtok_r(v, ",", &save); tok && rc == CLI_RUN;
	     tok = strtok_r(NULL, ",", &save))
		rc = push(list, n, tok, cmd, what);
	return rc;
}

static int on_error(cli_args *c, const char *v, const cli_command *cmd)
{
	static const char *const modes[] = {"cleanup", "abort", "ask", "run-cleanup-provisioner"};
	size_t i = 0;

	while (i < sizeof(modes) / sizeof(modes[0]) && strcmp(v, modes[i]))
		i++;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return cli_usage_error(cmd, "invalid value \"%s\" for flag -on-error: expected one "
				       "of [\"cleanup\" \"abort\" \"ask\" "
				       "\"run-cleanup-provisioner\"]", v);
	c->abort_on_error = i == 1 || i == 3;
	c->ask_on_error = i == 2;
	c->cleanup_provisioner = i == 3;
	return CLI_RUN;
}

static int parallel(cli_args *c, const char *v, const cli_command *cmd)
{
	char *end;

	errno = 0;
	c->parallel_builds = strtol(v, &end, 0);
	if (errno || *end || end == v)
		return cli_usage_error(cmd, "invalid value \"%s\" for flag -parallel-builds: "
				       "parse error", v);
	if (c->parallel_builds < 0)
		c->parallel_builds = 0;   /* Packer: below 1 means no limit */
	return CLI_RUN;
}

static int older_than(cli_args *c, const char *v, const cli_command *cmd)
{
	if ((c->older_than_seconds = cli_parse_age(v)) < 0)
		return cli_usage_error(cmd, "--older-than: '%s' is not a duration like 6h, 90m, 2d "
				       "or 3600s", v);
	c->older_than = v;
	return CLI_RUN;
}

/* A lease length: 1 s to 31 days. */
static int lease(long *out, const char *v, const cli_command *cmd, const char *name)
{
	long s = cli_parse_age(v);

	if (s < 1 || s > 31 * 86400L)
		return cli_usage_error(cmd, "--%s: '%s' is not a duration from 1s to 31d, like 1h, "
				       "20m or 90s", name, v);
	*out = s;
	return CLI_RUN;
}

static int store(cli_args *c, cli_opt opt, char *v, const cli_command *cmd)
{
	switch (opt) {
	case OPT_ONLY: return names(c->only, &c->nonly, v, cmd, "-only");
	case OPT_EXCEPT: return names(c->except, &c->nexcept, v, cmd, "-except");
	case OPT_PARALLEL_BUILDS: return parallel(c, v, cmd);
	case OPT_FORCE: return go_bool(&c->force, v, cmd, "force");
	case OPT_COLOR: return go_bool(&c->color, v, cmd, "color");
	case OPT_TIMESTAMP_UI: return go_bool(&c->timestamp_ui, v, cmd, "timestamp-ui");
	case OPT_MACHINE_READABLE: return go_bool(&c->machine_readable, v, cmd, "machine-readable");
	case OPT_SYNTAX_ONLY: return go_bool(&c->syntax_only, v, cmd, "syntax-only");
	case OPT_VAR: return push(c->vars, &c->nvars, v, cmd, "-var");
	case OPT_VAR_FILE: return push(c->var_files, &c->nvar_files, v, cmd, "-var-file");
	case OPT_MANIFEST: c->manifest = v; break;
	case OPT_JUNIT: c->junit = v; break;
	case OPT_RESULT: c->result = v; break;
	case OPT_JOURNAL: c->journal = v; break;
	case OPT_ON_ERROR:
		if (cli_packer_command(cmd))
			return on_error(c, v, cmd);
		return one_of(&c->abort_on_error, v, "abort", "cleanup", cmd, "on-error");
	case OPT_LOG_FORMAT: return one_of(&c->json, v, "json", "text", cmd, "log-format");
	case OPT_DEBUG: c->debug = 1; break;
	case OPT_AMI: c->ami = v; break;
	case OPT_REGION: c->region = v; break;
	case OPT_RUN_ID: c->run_id = v; break;
	case OPT_STALE: c->stale = 1; break;
	case OPT_OLDER_THAN: return older_than(c, v, cmd);
	case OPT_REUSE: c->reuse = 1; break;
	case OPT_NO_REUSE: c->reuse = -1; break;
	case OPT_LOG_DIR: c->log_dir = v; break;
	case OPT_DUMP_PLAN: c->dump_plan = 1; break;
	case OPT_ASSUME_ROLE: c->role_arn = v; break;
	case OPT_EXTERNAL_ID: c->external_id = v; break;
	case OPT_ROLE_SESSION_NAME: c->role_session_name = v; break;
	case OPT_LEASE: return lease(&c->lease_seconds, v, cmd, "lease");
	case OPT_LEASE_RENEW: return lease(&c->lease_renew_seconds, v, cmd, "lease-renew");
	case OPT_HELP: cli_help_command(stdout, cmd); return 0;
	case OPT_COUNT: break;
	}
	return CLI_RUN;
}

/* ---- the parse ----------------------------------------------------- */

static int operands(cli_args *c, const cli_command *cmd, int argc, char **argv)
{
	const char *what = cmd->operand;

	if (optind == argc) {
		if (what && what[0] != '[')
			return cli_usage_error(cmd, "%s: no %s given", cmd->name, what);
		return CLI_RUN;
	}
	if (!what)
		return cli_usage_error(cmd, "%s takes no arguments, got '%s'", cmd->name, argv[optind]);
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "%s: more than one %s given ('%s', then '%s')", cmd->name,
				       what[0] == '[' ? "COMMAND" : what, argv[optind], argv[optind + 1]);
	c->operand = argv[optind];
	return CLI_RUN;
}

static int one_option(cli_args *c, const cli_command *cmd, int r, char **argv)
{
	const char *arg = option_arg(argv);
	cli_opt opt = (cli_opt)((r == ':' ? optopt : r) - OPT_VAL_BASE);
	char buf[128];

	if (r == '?')
		return bad_option(cmd, arg, optopt);
	if (abbreviated(opt, arg))
		return bad_option(cmd, arg, 0);
	if (r == ':' || (options[opt].metavar && !*optarg && opt != OPT_ONLY && opt != OPT_EXCEPT))
		return cli_usage_error(cmd, "%s needs a value (%s %s)", typed_name(arg, buf, sizeof(buf)),
				       buf, options[opt].metavar);
	return store(c, opt, optarg, cmd);
}

int cli_parse(cli_args *c, const cli_command *cmd, int argc, char **argv)
{
	struct option table[OPT_COUNT + 2];
	int r, rc = CLI_RUN;

	long_options(table, cmd);
	opterr = 0;   /* our messages name the command */
	optind = 1;
	while (rc == CLI_RUN) {
		optarg = NULL;   /* getopt leaves the last one when a value is missing */
		/* ":" so that a missing value is told apart from an unknown option */
		if ((r = getopt_long_only(argc, argv, ":", table, NULL)) == -1)
			break;
		rc = one_option(c, cmd, r, argv);
	}
	if (rc == CLI_RUN)
		rc = operands(c, cmd, argc, argv);
	if (rc == CLI_RUN && cmd->check)
		rc = cmd->check(cmd, c);
	return rc;
}
