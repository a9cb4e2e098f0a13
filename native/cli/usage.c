/*
 * usage.c - what `bakeami help`, `bakeami COMMAND --help` and a usage
 * error print, all from the command and option tables, so that the help
 * lists exactly what the parser accepts.
 */
#include <stdarg.h>
#include <string.h>

#include "bakeami.h"
#include "cli.h"

#define HELP_COLUMN 26   /* where an option's explanation starts */

/* "usage: " or its width, "bakeami ", then the synopsis, its continuation
 * lines indented under the command's name. */
static void synopsis(FILE *f, const cli_command *cmd, const char *lead)
{
	const char *s = cmd->synopsis;

	fprintf(f, "%sbakeami ", lead);
	for (;;) {
		size_t n = strcspn(s, "\n");
		fprintf(f, "%.*s\n", (int)n, s);
		if (!s[n])
			return;
		s += n + 1;
		fprintf(f, "%*s", (int)strlen(lead) + 8, "");
	}
}

void cli_usage_all(FILE *f)
{
	const cli_command *cmd;

	for (size_t i = 0; (cmd = cli_command_at(i)); i++)
		synopsis(f, cmd, i ? "       " : "usage: ");
}

void cli_help_all(FILE *f)
{
	const cli_command *cmd;

	fprintf(f, "bakeami %s bakes tested AWS machine images from Packer JSON templates.\n\n",
		BAKEAMI_VERSION);
	cli_usage_all(f);
	fputs("\nCommands:\n", f);
	for (size_t i = 0; (cmd = cli_command_at(i)); i++)
		fprintf(f, "  %-10s %s\n", cmd->name, cmd->summary);
	fputs("\n`bakeami help COMMAND` (or `bakeami COMMAND --help`) lists a command's options.\n"
	      "Exit codes: 0 baked, 1 failed, 2 bad input or usage, 3 tests failed, 130 cancelled\n"
	      "(build and inspect: Packer's, 0 or 1).\n",
	      f);
}

/* Packer's single-dash spelling for its own options, two dashes for ours. */
static const char *dashes(cli_opt opt)
{
	return opt == OPT_VAR || opt == OPT_VAR_FILE ||
	       (opt >= OPT_ONLY && opt <= OPT_SYNTAX_ONLY) ? "-" : "--";
}

static void option_line(FILE *f, const cli_use *u)
{
	const cli_option *o = cli_option_get(u->opt);
	int n;

	if (u->opt == OPT_HELP)
		n = fprintf(f, "  -h, --help");
	else
		n = fprintf(f, "  %s%s%s%s", dashes(u->opt), o->name, o->metavar ? " " : "",
			    o->metavar ? o->metavar : "");
	if (n >= HELP_COLUMN)
		fprintf(f, "\n%*s", HELP_COLUMN, "");
	else
		fprintf(f, "%*s", HELP_COLUMN - n, "");
	fprintf(f, "%s\n", u->help ? u->help : o->help);
}

void cli_help_command(FILE *f, const cli_command *cmd)
{
	synopsis(f, cmd, "usage: ");
	fprintf(f, "\n%s\n", cmd->details ? cmd->details : cmd->summary);
	fputs("\nOptions (one dash or two: -var and --var are the same; a value follows as the\n"
	      "next argument or after =):\n", f);
	for (const cli_use *u = cmd->uses;; u++) {
		option_line(f, u);
		if (u->opt == OPT_HELP)
			break;
	}
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("bakeami: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd) {
		synopsis(stderr, cmd, "usage: ");
		fprintf(stderr, "`bakeami %s --help` lists its options.\n", cmd->name);
	} else {
		cli_usage_all(stderr);
		fputs("`bakeami help COMMAND` lists a command's options.\n", stderr);
	}
	return 2;
}
