/*
 * main.c - the `bakeami` command: bake, validate, promote, cleanup,
 * version, help. Each command takes only its own options (commands.c).
 * Uses only bakeami.h. Exit codes: 0 baked, 1 failed, 2 bad input or
 * usage, 3 tests failed, 130 cancelled.
 */
#include <string.h>

#include "cli.h"

/* The spellings of help and version that come before any command. */
static const char *alias(const char *arg)
{
	static const char *const help[] = {"-h", "--help", "-help"};
	static const char *const version[] = {"--version", "-version"};

	for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++)
		if (!strcmp(arg, help[i]))
			return "help";
	for (size_t i = 0; i < sizeof(version) / sizeof(version[0]); i++)
		if (!strcmp(arg, version[i]))
			return "version";
	return arg;
}

int main(int argc, char **argv)
{
	cli_args c = {0};
	const cli_command *cmd;
	int rc;

	if (argc < 2)
		return cli_usage_error(NULL, "no command given");
	if (!(cmd = cli_command_find(alias(argv[1]))))
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	c.color = 1;   /* Packer's default; -color=false turns it off */
	if ((rc = cli_parse(&c, cmd, argc - 1, argv + 1)) != CLI_RUN)
		return rc == 2 && cli_packer_command(cmd) ? 1 : rc;   /* Packer: 1 */
	return cmd->run(cmd, &c);
}
