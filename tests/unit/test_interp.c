/* test_interp.c - the {{ }} engine: every function, pipes, Go time layouts,
 * clean_resource_name, build variables, durations and the error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "template/template.h"
#include "template/template_int.h"

#define INTERP_TPL "tests/templates/good/interp.json"
/* 2026-11-26T04:25:53Z, a Thursday, day 330 */
#define T0 1795667153.0

static int setup(void **state)
{
	bk_template_source src = {.path = INTERP_TPL, .var_files = NULL, .var_files_count = 0, .vars = NULL, .vars_count = 0};
	bk_template *tpl = NULL;

	setenv("BK_TEST_ENV", "/from/the/env", 1);
	if (bk_template_load(&tpl, &src) != 0) {
		fprintf(stderr, "load: %s\n", bk_err_msg());
		return -1;
	}
	*state = tpl;
	return 0;
}

static int teardown(void **state)
{
	bk_template_free(*state);
	return 0;
}

/* Render with build variables bv (may be NULL); the result, or NULL. */
static char *render_bv(void **state, const bk_build_vars *bv, const char *text)
{
	char *out = NULL;
	int rc = bk_template_render(&out, *state, bv, text, "test.field");

	if (rc != 0)
		return NULL;
	return out;
}

static void expect(void **state, const char *text, const char *want)
{
	char *got = render_bv(state, NULL, text);

	if (!got)
		fail_msg("%s: %s", text, bk_err_msg());
	assert_string_equal(got, want);
	free(got);
}

/* Must fail with EINVALID and a message naming the path and `needle`. */
static void expect_err(void **state, const char *text, const char *needle)
{
	char *out = NULL;
	int rc = bk_template_render(&out, *state, NULL, text, "builders[0].ami_name");

	assert_int_equal(rc, BAKEAMI_EINVALID);
	assert_null(out);
	if (!strstr(bk_err_msg(), "builders[0].ami_name: ") || !strstr(bk_err_msg(), needle))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, bk_err_msg(), needle);
}

static void test_interp__plain_text_and_user(void **state)
{
	expect(state, "no actions here", "no actions here");
	expect(state, "", "");
	expect(state, "{{user `name`}}", "Web Server");
	expect(state, "[{{ user \"name\" }}]", "[Web Server]");
	expect(state, "{{user `empty`}}x", "x");
	/* Packer 1.6.6 renders a variable the template never declared as "". */
	expect(state, "[{{user `nope`}}]", "[]");
	/* a variable default may use another variable, and env */
	expect(state, "{{user `greeting`}}", "hello Web Server");
	expect(state, "{{user `home`}}", "/from/the/env");
	expect(state, "a }} b", "a }} b");
}

static void test_interp__pipes_and_parens(void **state)
{
	expect(state, "{{user `name` | lower}}", "web server");
	expect(state, "{{user `name` | upper | lower}}", "web server");
	expect(state, "{{user `name`|clean_resource_name}}", "Web Server");
	expect(state, "{{ lower (user `name`) }}", "web server");
	expect(state, "{{ `a:b` | replace `:` `-` -1 }}", "a-b");
	expect(state, "{{ \"x\" }}{{ 42 }}", "x42");
}

static void test_interp__lower_upper(void **state)
{
	expect(state, "{{lower `MiXeD 123`}}", "mixed 123");
	expect(state, "{{upper `MiXeD 123`}}", "MIXED 123");
}

static void test_interp__replace(void **state)
{
	expect(state, "{{replace `a` `b` 1 `aaa`}}", "baa");
	expect(state, "{{replace `a` `b` -1 `aaa`}}", "bbb");
	expect(state, "{{replace `a` `b` 0 `aaa`}}", "aaa");
	expect(state, "{{ `aaa` | replace `a` `b` 2 }}", "bba");
	expect(state, "{{replace `` `-` -1 `abc`}}", "-a-b-c-");
	expect(state, "{{replace `` `-` 2 `abc`}}", "-a-bc");
	expect(state, "{{replace_all `.` `_` `1.2.3`}}", "1_2_3");
	expect(state, "{{ `1.2.3` | replace_all `.` `` }}", "123");
}

static void test_interp__split(void **state)
{
	expect(state, "{{split `a-b-c` `-` 0}}", "a");
	expect(state, "{{split `a-b-c` `-` 2}}", "c");
	expect(state, "{{split `a--c` `-` 1}}", "");
	expect(state, "{{split `abc` `` 1}}", "b");
	expect(state, "{{split `no-sep` `:` 0}}", "no-sep");
	expect_err(state, "{{split `a-b` `-` 2}}", "the substring 2 was unavailable");
}

static void test_interp__clean_resource_name(void **state)
{
	struct { const char *in, *out; } cases[] = {
		{"2026-11-26T04:25:53Z", "2026-11-26T04-25-53Z"},
		{"Keep (these) [chars] ./-'@_ ok", "Keep (these) [chars] ./-'@_ ok"},
		{"a:b*c?d#e", "a-b-c-d-e"},
		{"caf\xc3\xa9", "caf--"},   /* byte by byte, as Packer */
		{"", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = bk_clean_resource_name(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
	expect(state, "{{clean_resource_name `a:b`}}", "a-b");
	expect(state, "{{ `x=y` | clean_ami_name }}", "x-y");
}

static void expect_time(const char *layout, double t, const char *want)
{
	char *got = bk_go_time_format(layout, t);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("layout \"%s\": got \"%s\", want \"%s\"", layout, got, want);
	free(got);
}

static void test_interp__go_time_layouts(void **state)
{
	(void)state;
	expect_time("2006-01-02T15:04:05Z07:00", T0, "2026-11-26T04:25:53Z");
	expect_time("20060102150405", T0, "20261126042553");
	expect_time("20060102-150405", T0, "20261126-042553");
	expect_time("2006-01-02", T0, "2026-11-26");
	expect_time("Jan _2 15:04:05", T0, "Nov 26 04:25:53");
	expect_time("Monday, 02-Jan-06 03:04:05 PM MST", T0, "Thursday, 26-Nov-26 04:25:53 AM UTC");
	expect_time("January 2, 2006 3:4:5 pm", T0 + 12 * 3600, "November 26, 2026 4:25:53 pm");
	expect_time("Mon Jan 2 -0700 -07:00 Z0700", T0, "Thu Nov 26 +0000 +00:00 Z");
	expect_time("002 __2", T0, "330 330");
	expect_time("_2006", T0, "_2026");
	expect_time("15:04:05.000", T0 + 0.25, "04:25:53.250");
	expect_time("15:04:05.999", T0 + 0.25, "04:25:53.25");
	expect_time("15:04:05.999", T0, "04:25:53");
	expect_time("05,000", T0 + 0.5, "53,500");
	expect_time("literal x", T0, "literal x");
	expect_time("2006-01-02T15:04:05Z07:00", 0, "1970-01-01T00:00:00Z");
}

static void test_interp__isotime_and_timestamp(void **state)
{
	double start = bk_template_start_time(*state);
	char *rfc = bk_go_time_format("2006-01-02T15:04:05Z07:00", start);
	char *day = bk_go_time_format("2006-01-02", start);
	char *clean = bk_clean_resource_name(rfc);
	char ts[32];

	snprintf(ts, sizeof(ts), "%lld", (long long)floor(start));
	expect(state, "{{isotime}}", rfc);
	expect(state, "{{ isotime \"2006-01-02\" }}", day);
	expect(state, "{{isotime | clean_resource_name}}", clean);
	expect(state, "{{isotime |clean_ami_name}}", clean);   /* the seed's form */
	expect(state, "{{timestamp}}", ts);
	/* fixed for the run: the same on every call */
	char twice[64];
	snprintf(twice, sizeof(twice), "%s%s", ts, ts);
	expect(state, "{{timestamp}}{{timestamp}}", twice);
	free(rfc);
	free(day);
	free(clean);
}

static void test_interp__uuid(void **state)
{
	char *a = render_bv(state, NULL, "{{uuid}}");
	char *b = render_bv(state, NULL, "{{uuid}}");

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[8], '-');
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void test_interp__build_name_dirs_version(void **state)
{
	char cwd[4096], *dir;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	dir = bk_sprintf("%s/tests/templates/good", cwd);
	expect(state, "{{build_name}}", "web-build");
	expect(state, "{{build_type}}", "amazon-ebs");
	expect(state, "{{template_dir}}", dir);
	expect(state, "{{pwd}}", cwd);
	expect(state, "{{packer_version}}", BAKEAMI_VERSION);
	free(dir);
}

static void test_interp__build_variables(void **state)
{
	bk_kv tags = BK_KV_INIT;
	bk_build_vars bv = {
		.source_ami = "ami-0abc", .source_ami_name = "al2023-ami-2023.6",
		.source_ami_creation_date = "2026-01-02T03:04:05.000Z",
		.source_ami_owner = "137112412989", .source_ami_tags = &tags,
		.build_region = "eu-west-1", .instance_id = "i-0123", .ssh_host = "10.0.0.5",
		.ssh_port = 2222, .ssh_user = "ec2-user", .run_id = "run-42",
	};
	char *got;

	bk_kv_add(&tags, "Team", "core");
	got = render_bv(state, &bv, "{{.SourceAMI}} {{.SourceAMIName}} {{ .SourceAMICreationDate }} "
			"{{.SourceAMIOwner}} {{.BuildRegion}} {{.SourceAMITags.Team}} "
			"[{{.SourceAMITags.Missing}}]");
	assert_non_null(got);
	assert_string_equal(got, "ami-0abc al2023-ami-2023.6 2026-01-02T03:04:05.000Z "
			    "137112412989 eu-west-1 core []");
	free(got);
	got = render_bv(state, &bv, "{{build `ID`}} {{build `Host`}}:{{build `Port`}} "
			"{{build `User`}} {{build `PackerRunUUID`}} {{build `SourceAMI`}}");
	assert_non_null(got);
	assert_string_equal(got, "i-0123 10.0.0.5:2222 ec2-user run-42 ami-0abc");
	free(got);
	bk_kv_free(&tags);
	/* without build variables they are empty, PackerRunUUID is the run's */
	expect(state, "[{{.SourceAMI}}][{{build `ID`}}]", "[][]");
	expect(state, "{{build `PackerRunUUID`}}", bk_template_run_id(*state));
}

static void test_interp__syntax_corners(void **state)
{
	expect(state, "a  {{- `b` -}}  c", "abc");
	expect(state, "a{{/* a comment */}}b", "ab");
	expect(state, "{{\"{{\"}}not an action}}", "{{not an action}}");
	expect(state, "{{ \"tab\\there\" }}", "tab\there");
	expect(state, "{{ `raw \\t` }}", "raw \\t");
	expect(state, "{{ \"}}\" }}", "}}");
}

static void test_interp__errors(void **state)
{
	expect_err(state, "web-{{ frobnicate }}", "function \"frobnicate\" not defined");
	expect_err(state, "web-{{isotime", "unterminated {{ at character 5");
	expect_err(state, "{{env `HOME`}}", "env is only allowed in variable defaults");
	expect_err(state, "{{user 5}}", "user: argument 1 must be a string");
	expect_err(state, "{{replace `a` `b` `1` `s`}}", "replace: argument 3 must be an integer");
	expect_err(state, "{{lower}}", "wrong number of args for lower: want 1 got 0");
	expect_err(state, "{{isotime `a` `b`}}", "wrong number of args for isotime");
	expect_err(state, "{{.Nope}}", "unknown build variable .Nope");
	expect_err(state, "{{}}", "missing value for command");
	expect_err(state, "{{ `a` )}}", "unexpected ')'");
	expect_err(state, "{{ (lower `a` }}", "missing )");
	expect_err(state, "{{ `a` `b` }}", "only a function can take arguments");
	expect_err(state, "{{ 1.5 }}", "only integer numbers are allowed");
	expect_err(state, "{{ \"bad \\q\" }}", "unknown escape \\q");
	expect_err(state, "{{vault `secret/x` `k`}}", "vault is not supported by bakeami: it "
		   "would need a Vault client");
	expect_err(state, "{{consul_key `a/b`}}", "consul_key is not supported by bakeami");
	expect_err(state, "{{sed `s/a/b/` `a`}}", "use `replace` or `replace_all` instead");
	expect_err(state, "{{aws_secretsmanager `db`}}", "AWS Secrets Manager is only allowed in "
		   "the variables section");
	expect_err(state, "{{build `SSHPrivateKey`}}", "is not available");
	expect_err(state, "{{build `Nope`}}", "unknown build value `Nope`");
}

/* Packer's choice of a value from a SecretString (its getSecretValue). */
static void expect_pick(const char *secret, const char *key, const char *want)
{
	char *got = NULL;
	int rc = bk_tpl_secret_pick(&got, secret, "db", key);

	if (want && rc != 0)
		fail_msg("pick(%s, %s): %s", secret, key, bk_err_msg());
	if (want)
		assert_string_equal(got, want);
	else
		assert_int_not_equal(rc, 0);
	free(got);
}

static void test_interp__secret_pick(void **state)
{
	(void)state;
	expect_pick("plain text", "", "plain text");
	expect_pick("plain text", "k", "plain text");       /* not JSON: the key is not looked at */
	expect_pick("{\"password\":\"pw\"}", "", "pw");     /* one entry, no key */
	expect_pick("{\"a\":\"1\",\"b\":\"2\"}", "b", "2");
	expect_pick("{\"a\":\"1\",\"b\":\"2\"}", "", NULL);
	assert_non_null(strstr(bk_err_msg(), "has 2 values and no key was given"));
	expect_pick("{\"a\":\"1\"}", "z", NULL);
	assert_non_null(strstr(bk_err_msg(), "no secret found for key \"z\" in db"));
	expect_pick("{\"a\":5}", "a", NULL);                /* Packer: map[string]string */
	expect_pick("42", "", NULL);                         /* JSON, but no object */
	expect_pick("{}", "", NULL);
}

static void expect_dur(const char *s, double want)
{
	double got = -1;

	if (bk_go_duration(&got, s) != 0)
		fail_msg("duration \"%s\" refused", s);
	if (fabs(got - want) > 1e-9)
		fail_msg("duration \"%s\": got %g, want %g", s, got, want);
}

static void test_interp__go_durations(void **state)
{
	double d;
	const char *bad[] = {"", "5", "5 m", "-5m", "m", "5x", "1h 30m", ".s", "5mm"};

	(void)state;
	expect_dur("5m", 300);
	expect_dur("30s", 30);
	expect_dur("1h30m", 5400);
	expect_dur("1.5h", 5400);
	expect_dur("100ms", 0.1);
	expect_dur("2us", 2e-6);
	expect_dur("1\xc2\xb5s", 1e-6);
	expect_dur("10ns", 1e-8);
	expect_dur("0", 0);
	expect_dur("+1m", 60);
	expect_dur(".5s", 0.5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bk_go_duration(&d, bad[i]) == 0)
			fail_msg("duration \"%s\" accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interp__plain_text_and_user),
		cmocka_unit_test(test_interp__pipes_and_parens),
		cmocka_unit_test(test_interp__lower_upper),
		cmocka_unit_test(test_interp__replace),
		cmocka_unit_test(test_interp__split),
		cmocka_unit_test(test_interp__clean_resource_name),
		cmocka_unit_test(test_interp__go_time_layouts),
		cmocka_unit_test(test_interp__isotime_and_timestamp),
		cmocka_unit_test(test_interp__uuid),
		cmocka_unit_test(test_interp__build_name_dirs_version),
		cmocka_unit_test(test_interp__build_variables),
		cmocka_unit_test(test_interp__syntax_corners),
		cmocka_unit_test(test_interp__errors),
		cmocka_unit_test(test_interp__go_durations),
		cmocka_unit_test(test_interp__secret_pick),
	};

	return cmocka_run_group_tests_name("interp", tests, setup, teardown);
}
