/*
 * commands.c - the commands of `bakeami`: the options each takes, its
 * operand, the checks across its options, and what runs it.
 */
#include <string.h>

#include "cli.h"

/* The commands that call AWS may do so as a role. */
#define ROLE_USES {OPT_ASSUME_ROLE, NULL}, {OPT_EXTERNAL_ID, NULL}, {OPT_ROLE_SESSION_NAME, NULL},

static const cli_use bake_uses[] = {
	{OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_ONLY, NULL}, {OPT_EXCEPT, NULL},
	{OPT_MANIFEST, NULL}, {OPT_JUNIT, NULL},
	{OPT_RESULT, NULL}, {OPT_JOURNAL, NULL}, {OPT_ON_ERROR, NULL}, {OPT_LOG_FORMAT, NULL},
	{OPT_DEBUG, NULL}, {OPT_REGION, NULL}, {OPT_REUSE, NULL}, {OPT_NO_REUSE, NULL},
	{OPT_LOG_DIR, NULL}, {OPT_LEASE, NULL}, {OPT_LEASE_RENEW, NULL}, ROLE_USES {OPT_HELP, NULL},
};

static const cli_use inputs_uses[] = {
	{OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_REGION, NULL}, {OPT_DEBUG, NULL},
	ROLE_USES {OPT_HELP, NULL},
};

static const cli_use validate_uses[] = {
	{OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_ONLY, "validate only the builds named"},
	{OPT_EXCEPT, "validate every build but those named"}, {OPT_SYNTAX_ONLY, NULL},
	{OPT_DUMP_PLAN, NULL}, {OPT_HELP, NULL},
};

/* Packer's `build` flags, then bakeami's outputs. */
static const cli_use build_uses[] = {
	{OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_ONLY, NULL}, {OPT_EXCEPT, NULL},
	{OPT_ON_ERROR, "cleanup (default); abort: keep what a failed build made, and say what; "
		       "run-cleanup-provisioner: abort after running error-cleanup-provisioner "
		       "(ask is refused: not supported yet)"},
	{OPT_PARALLEL_BUILDS, NULL}, {OPT_FORCE, NULL}, {OPT_COLOR, NULL}, {OPT_TIMESTAMP_UI, NULL},
	{OPT_MACHINE_READABLE, NULL}, {OPT_MANIFEST, NULL}, {OPT_JUNIT, NULL}, {OPT_RESULT, NULL},
	{OPT_JOURNAL, NULL}, {OPT_REGION, NULL}, ROLE_USES {OPT_HELP, NULL},
};

static const cli_use inspect_uses[] = {
	{OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_MACHINE_READABLE, NULL}, {OPT_HELP, NULL},
};

static const cli_use promote_uses[] = {
	{OPT_AMI, NULL}, {OPT_VAR, NULL}, {OPT_VAR_FILE, NULL}, {OPT_RESULT, NULL},
	{OPT_JOURNAL, NULL}, {OPT_LOG_FORMAT, NULL}, {OPT_DEBUG, NULL},
	{OPT_REGION, "the region of AMI_ID, where the promotion starts: overrides the "
		     "template's region and AWS_REGION"},
	ROLE_USES {OPT_HELP, NULL},
};

static const cli_use cleanup_uses[] = {
	{OPT_JOURNAL, "delete what journal F says is left, and what is tagged with its run id"},
	{OPT_RUN_ID, NULL}, {OPT_STALE, NULL}, {OPT_OLDER_THAN, NULL},
	{OPT_REGION, "the region to clean (default: the journal's region, else AWS_REGION)"},
	{OPT_LOG_FORMAT, NULL}, ROLE_USES {OPT_HELP, NULL},
};

static const cli_use help_only[] = {
	{OPT_HELP, NULL},
};

static int check_role(const cli_command *cmd, const cli_args *c)
{
	if (!c->role_arn && (c->external_id || c->role_session_name))
		return cli_usage_error(cmd, "%s: --%s goes with --assume-role ARN only", cmd->name,
				       c->external_id ? "external-id" : "role-session-name");
	return CLI_RUN;
}

static int check_promote(const cli_command *cmd, const cli_args *c)
{
	int rc = check_role(cmd, c);

	if (rc != CLI_RUN)
		return rc;
	if (!c->ami)
		return cli_usage_error(cmd, "promote: --ami AMI_ID is required");
	return CLI_RUN;
}

static int check_cleanup(const cli_command *cmd, const cli_args *c)
{
	int rc = check_role(cmd, c);

	if (rc != CLI_RUN)
		return rc;
	if (!!c->journal + !!c->run_id + !!c->stale != 1)
		return cli_usage_error(cmd, "cleanup: give exactly one of --journal F, --run-id ID "
				       "and --stale");
	if (c->older_than && !c->stale)
		return cli_usage_error(cmd, "cleanup: --older-than goes with --stale only");
	return CLI_RUN;
}

static int check_help(const cli_command *cmd, const cli_args *c)
{
	if (c->operand && !cli_command_find(c->operand))
		return cli_usage_error(cmd, "help: unknown command '%s'", c->operand);
	return CLI_RUN;
}

static const cli_command commands[] = {
	{"bake",
	 "bake [-var K=V]... [-var-file F]... [-only A,B] [-except A,B] [--manifest F]\n"
	 "     [--junit F] [--result F] [--journal F] [--on-error cleanup|abort]\n"
	 "     [--log-format text|json] [--debug] [--region R] [--reuse | --no-reuse]\n"
	 "     [--log-dir DIR] [--lease D] [--lease-renew D]\n"
	 "     [--assume-role ARN [--external-id ID] [--role-session-name NAME]] TEMPLATE",
	 "bake, test and promote the image TEMPLATE describes",
	 "Launches the template's source AMI, provisions it over SSH, tests it, creates and\n"
	 "tags the image, promotes it if the template says so, and cleans up what it made.",
	 "TEMPLATE", bake_uses, check_role, cli_run_bake},
	{"build",
	 "build [-var K=V]... [-var-file F]... [-only A,B] [-except A,B]\n"
	 "      [-on-error=cleanup|abort|ask|run-cleanup-provisioner] [-parallel-builds=N]\n"
	 "      [-force] [-color=false] [-timestamp-ui] [-machine-readable] [--manifest F]\n"
	 "      [--junit F] [--result F] [--journal F] [--region R]\n"
	 "      [--assume-role ARN [--external-id ID] [--role-session-name NAME]] TEMPLATE",
	 "`packer build`, as a drop-in: every build of TEMPLATE, in parallel",
	 "Bakes every build (builder) of TEMPLATE that -only/-except select, in parallel, with\n"
	 "Packer 1.6.6's flags, console, -machine-readable lines and exit codes (0, or 1 for\n"
	 "any failure).",
	 "TEMPLATE", build_uses, check_role, cli_run_build},
	{"inspect",
	 "inspect [-var K=V]... [-var-file F]... [-machine-readable] TEMPLATE",
	 "`packer inspect`: TEMPLATE's variables, builders and provisioners",
	 NULL, "TEMPLATE", inspect_uses, NULL, cli_run_inspect},
	{"validate",
	 "validate [-var K=V]... [-var-file F]... [-only A,B] [-except A,B] [-syntax-only]\n"
	 "         [--dump-plan] TEMPLATE",
	 "check TEMPLATE and its variables; makes no AWS call",
	 "Loads TEMPLATE with its variables and checks everything a bake would check before\n"
	 "its first AWS call. Prints \"template TEMPLATE is valid\" or the first error;\n"
	 "with --dump-plan, the decoded plan as JSON on stdout (warnings on stderr).",
	 "TEMPLATE", validate_uses, NULL, cli_run_validate},
	{"promote",
	 "promote --ami AMI_ID [-var K=V]... [-var-file F]... [--result F] [--journal F]\n"
	 "        [--log-format text|json] [--debug] [--region R]\n"
	 "        [--assume-role ARN [--external-id ID] [--role-session-name NAME]] TEMPLATE",
	 "promote an image baked earlier (a later \"to production\" job)",
	 "Applies TEMPLATE's promote block, ami_regions and sharing to AMI_ID, which must be\n"
	 "available and owned by the account. A failed promotion undoes what it changed.",
	 "TEMPLATE", promote_uses, check_promote, cli_run_promote},
	{"cleanup",
	 "cleanup (--journal F | --run-id ID | --stale [--older-than D]) [--region R]\n"
	 "        [--log-format text|json]\n"
	 "        [--assume-role ARN [--external-id ID] [--role-session-name NAME]]",
	 "delete what a killed bake left behind",
	 "Give exactly one of --journal, --run-id and --stale. Images are deleted only on a\n"
	 "journal's word: a tag cannot tell a half-made image from a finished one.",
	 NULL, cleanup_uses, check_cleanup, cli_run_cleanup},
	{"inputs",
	 "inputs [-var K=V]... [-var-file F]... [--region R]\n"
	 "       [--assume-role ARN [--external-id ID] [--role-session-name NAME]] TEMPLATE",
	 "print TEMPLATE's inputs digest and what changed since the family's last image",
	 "Resolves the source AMI (an EC2 call), digests everything that decides the image\n"
	 "(see README, \"Reuse\") and compares it with the newest image of the template's\n"
	 "family; creates nothing.",
	 "TEMPLATE", inputs_uses, check_role, cli_run_inputs},
	{"version", "version", "print bakeami's version", NULL, NULL, help_only, NULL,
	 cli_run_version},
	{"help", "help [COMMAND]", "print the usage of every command, or of COMMAND", NULL,
	 "[COMMAND]", help_only, check_help, cli_run_help},
};

int cli_packer_command(const cli_command *cmd)
{
	return cmd && (cmd->run == cli_run_build || cmd->run == cli_run_inspect);
}

const cli_command *cli_command_at(size_t i)
{
	return i < sizeof(commands) / sizeof(commands[0]) ? &commands[i] : NULL;
}

const cli_command *cli_command_find(const char *name)
{
	const cli_command *cmd;

	for (size_t i = 0; (cmd = cli_command_at(i)); i++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}
