/*
 * cmdtmpl.c - libFuzzer target: a command template (a provisioner's
 * execute_command, amazon-instance's bundle commands; the template's author
 * writes them) rendered against Puppet's and the shell's fields, as
 * bk_cmd_render does for every such option at VALIDATE and at run time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provision/cmdtmpl.h"
#include "util/util.h"

static const bk_cmd_field FIELDS[] = {
	{"Sudo", "true", true}, {"FacterVars", "FACTER_a='1'", false},
	{"HieraConfigPath", NULL, false}, {"ManifestFile", "/tmp/site.pp", false},
	{"ModulePath", "", false}, {"WorkingDir", "/tmp/packer-puppet", false},
	{"Path", "/tmp/script.sh", false}, {"Vars", "A='b'", false},
	{"EnvVarFile", "/tmp/env", false}, {"PuppetBinDir", NULL, false},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tmpl = malloc(size + 1), *out = NULL, *again = NULL;

	if (!tmpl)
		return 0;
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	/* Rendering is a pure function of its input: the same text twice
	 * renders the same, or fails both times. */
	int a = bk_cmd_render(&out, tmpl, FIELDS, BK_ARRAY_SIZE(FIELDS), "execute_command");
	int b = bk_cmd_render(&again, tmpl, FIELDS, BK_ARRAY_SIZE(FIELDS), "execute_command");
	if (a != b || (a == 0 && strcmp(out, again) != 0))
		abort();
	free(out);
	free(again);
	free(tmpl);
	bk_err_clear();
	return 0;
}
