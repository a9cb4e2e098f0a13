/* test_cmdtmpl.c - the command-template engine (provision/cmdtmpl.c):
 * fields, if/else if/else with Go's truthiness, eq/ne/not/and/or, nesting,
 * trimming, comments, Packer's own default commands, and the messages
 * for every kind of bad template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provision/cmdtmpl.h"
#include "util/util.h"

/* Packer 1.6.6's puppet-masterless default execute_command (unix). */
#define MASTERLESS_DEFAULT                                                              \
	"cd {{.WorkingDir}} && {{if ne .FacterVars \"\"}}{{.FacterVars}} {{end}}"          \
	"{{if .Sudo}}sudo -E {{end}}{{if ne .PuppetBinDir \"\"}}{{.PuppetBinDir}}/{{end}}" \
	"puppet apply --detailed-exitcodes {{if .Debug}}--debug {{end}}"                   \
	"{{if ne .ModulePath \"\"}}--modulepath='{{.ModulePath}}' {{end}}"                 \
	"{{if ne .HieraConfigPath \"\"}}--hiera_config='{{.HieraConfigPath}}' {{end}}"     \
	"{{if ne .ManifestDir \"\"}}--manifestdir='{{.ManifestDir}}' {{end}}"              \
	"{{if ne .ExtraArguments \"\"}}{{.ExtraArguments}} {{end}}{{.ManifestFile}}"

static const bk_cmd_field base[] = {
	{"Sudo", "true", true},
	{"Debug", "false", true},
	{"Path", "/tmp/script_1.sh", false},
	{"Empty", "", false},
	{"Unset", NULL, false},
	{"Mode", "agent", false},
};

/* Render with the base fields; the text, which the caller frees. */
static char *render(const char *tmpl)
{
	char *out = NULL;

	if (bk_cmd_render(&out, tmpl, base, BK_ARRAY_SIZE(base), "x.execute_command") != 0) {
		print_error("render(%s): %s\n", tmpl, bk_err_msg());
		return NULL;
	}
	return out;
}

static void assert_renders(const char *tmpl, const char *want)
{
	char *got = render(tmpl);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* The render fails with BAKEAMI_EINVALID and a message containing want. */
static void assert_fails(const char *tmpl, const char *want)
{
	char *out = (char *)"untouched";

	assert_int_equal(bk_cmd_render(&out, tmpl, base, BK_ARRAY_SIZE(base), "x.execute_command"),
			 BAKEAMI_EINVALID);
	assert_null(out);
	if (!strstr(bk_err_msg(), want))
		fail_msg("message \"%s\" lacks \"%s\"", bk_err_msg(), want);
}

static void test_cmdtmpl__fields(void **state)
{
	(void)state;
	assert_renders("chmod +x {{.Path}}; {{ .Path }}", "chmod +x /tmp/script_1.sh; /tmp/script_1.sh");
	assert_renders("[{{.Empty}}][{{.Unset}}]", "[][]");
	assert_renders("{{.Sudo}} {{.Debug}}", "true false");
	assert_renders("no actions at all", "no actions at all");
	assert_renders("", "");
	assert_renders("{{\"lit}}eral\"}} {{`raw \\n`}} {{\"a\\\"b\\n\"}}", "lit}}eral raw \\n a\"b\n");
}

static void test_cmdtmpl__if_truthiness(void **state)
{
	(void)state;
	assert_renders("{{if .Sudo}}sudo {{end}}run", "sudo run");
	assert_renders("{{if .Debug}}--debug {{end}}run", "run");
	assert_renders("{{if .Path}}p{{end}}{{if .Empty}}e{{end}}{{if .Unset}}u{{end}}", "p");
	assert_renders("{{if .Debug}}a{{else}}b{{end}}", "b");
	assert_renders("{{if .Sudo}}a{{else}}b{{end}}", "a");
	assert_renders("{{if true}}t{{end}}{{if false}}f{{end}}", "t");
	assert_renders("{{if \"\"}}x{{else}}empty string is false{{end}}", "empty string is false");
}

static void test_cmdtmpl__comparisons(void **state)
{
	(void)state;
	assert_renders("{{if ne .Empty \"\"}}[{{.Empty}}]{{end}}x", "x");
	assert_renders("{{if ne .Path \"\"}}[{{.Path}}]{{end}}", "[/tmp/script_1.sh]");
	assert_renders("{{if eq .Mode \"agent\"}}A{{else}}B{{end}}", "A");
	assert_renders("{{if eq .Mode \"apply\" \"agent\"}}any{{end}}", "any");
	assert_renders("{{if eq .Mode \"apply\"}}A{{else}}B{{end}}", "B");
	assert_renders("{{if eq .Sudo true}}bool eq{{end}}", "bool eq");
	assert_renders("{{if not .Debug}}not{{end}}", "not");
	assert_renders("{{if and .Sudo .Path}}both{{end}}{{if and .Sudo .Empty}}no{{end}}", "both");
	assert_renders("{{if or .Debug .Empty}}no{{else}}neither{{end}}", "neither");
	assert_renders("{{or .Empty .Path}}", "/tmp/script_1.sh");
	assert_renders("{{if not (eq .Mode \"apply\")}}nested call{{end}}", "nested call");
	assert_renders("{{eq .Mode \"agent\"}}", "true");
}

static void test_cmdtmpl__else_if_and_nesting(void **state)
{
	(void)state;
	assert_renders("{{if .Debug}}1{{else if eq .Mode \"agent\"}}2{{else}}3{{end}}", "2");
	assert_renders("{{if .Sudo}}1{{else if eq .Mode \"agent\"}}2{{else}}3{{end}}", "1");
	assert_renders("{{if .Debug}}1{{else if .Empty}}2{{else}}3{{end}}", "3");
	assert_renders("{{if .Sudo}}a{{if .Debug}}b{{else}}c{{if .Path}}d{{end}}{{end}}e{{end}}",
		       "acde");
	assert_renders("{{if .Debug}}a{{if .Sudo}}b{{end}}c{{else}}z{{end}}", "z");
}

static void test_cmdtmpl__trimming_and_comments(void **state)
{
	(void)state;
	assert_renders("a  {{- .Mode -}}  \n b", "aagentb");
	assert_renders("x\n{{- if .Sudo}}\nsudo{{end -}}\n y", "x\nsudoy");
	assert_renders("a {{/* a comment */}}b", "a b");
	assert_renders("a {{- /* trimmed comment */ -}} b", "ab");
}

static void test_cmdtmpl__packer_default_commands(void **state)
{
	const bk_cmd_field f[] = {
		{"WorkingDir", "/tmp/packer-puppet-masterless", false},
		{"FacterVars", "FACTER_role='web'", false},
		{"Sudo", "true", true},
		{"PuppetBinDir", "", false},
		{"Debug", "false", true},
		{"ModulePath", "/tmp/packer-puppet-masterless/module-0", false},
		{"HieraConfigPath", "", false},
		{"ManifestDir", "", false},
		{"ExtraArguments", "", false},
		{"ManifestFile", "/tmp/packer-puppet-masterless/manifests/site.pp", false},
	};
	char *out = NULL;

	(void)state;
	assert_int_equal(bk_cmd_render(&out, MASTERLESS_DEFAULT, f, BK_ARRAY_SIZE(f), "m"), 0);
	assert_string_equal(out, "cd /tmp/packer-puppet-masterless && FACTER_role='web' sudo -E "
			    "puppet apply --detailed-exitcodes "
			    "--modulepath='/tmp/packer-puppet-masterless/module-0' "
			    "/tmp/packer-puppet-masterless/manifests/site.pp");
	free(out);
}

static void test_cmdtmpl__unknown_field(void **state)
{
	char *out = NULL;

	(void)state;
	assert_fails("run {{.Foo}}", "x.execute_command: unknown field .Foo; known: .Sudo .Debug "
		     ".Path .Empty .Unset .Mode");
	/* Also in a branch not taken, and inside a condition. */
	assert_fails("{{if .Debug}}{{.Typo}}{{end}}", "unknown field .Typo");
	assert_fails("{{if ne .Nope \"\"}}x{{end}}", "unknown field .Nope");
	assert_int_equal(bk_cmd_render(&out, "{{.A}}", NULL, 0, NULL), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "command: unknown field .A; known: (none)");
}

static void test_cmdtmpl__bad_templates(void **state)
{
	(void)state;
	assert_fails("{{if .Sudo}}x", "missing {{end}}");
	assert_fails("x{{end}}", "{{end}} without {{if}}");
	assert_fails("x{{else}}y", "{{else}} without {{if}}");
	assert_fails("{{if .Sudo}}a{{else}}b{{else}}c{{end}}", "{{else}} after {{else}}");
	assert_fails("{{if}}x{{end}}", "missing condition");
	assert_fails("run {{.Path", "x.execute_command: unterminated {{ at character 5");
	assert_fails("{{if eq .Sudo \"true\"}}x{{end}}", "incompatible types for comparison");
	assert_fails("{{ne .Path}}", "ne needs two arguments");
	assert_fails("{{upper .Path}}", "function \"upper\" not defined here");
	assert_fails("{{.Path | printf}}", "pipelines are not supported");
	assert_fails("{{range .Path}}x{{end}}", "{{range}} is not supported");
	assert_fails("{{\"open}}", "unterminated");
	assert_fails("{{if not eq .Path \"\"}}x{{end}}", "needs parentheses: (eq ...)");
	assert_fails("{{.}}", "a field name must follow the dot");
	assert_fails("{{(eq .Mode \"a\"}}", "missing )");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdtmpl__fields),
		cmocka_unit_test(test_cmdtmpl__if_truthiness),
		cmocka_unit_test(test_cmdtmpl__comparisons),
		cmocka_unit_test(test_cmdtmpl__else_if_and_nesting),
		cmocka_unit_test(test_cmdtmpl__trimming_and_comments),
		cmocka_unit_test(test_cmdtmpl__packer_default_commands),
		cmocka_unit_test(test_cmdtmpl__unknown_field),
		cmocka_unit_test(test_cmdtmpl__bad_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
