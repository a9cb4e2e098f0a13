/*
 * test_verify_serverspec.c - the Serverspec runner against a stand-in
 * rspec (a shell script that records its argv, environment, working
 * directory and key file, then writes an rspec JSON report): the argv and
 * TARGET_* contract, the 0600 key removed afterwards, the generated
 * spec_helper, live output, cancel killing the process group, timeouts,
 * and a suite that produced no report.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "verify/verify.h"
#include "verify/verify_int.h"

#include "proc_wait.h"

static const char FAKE_RSPEC[] =
	"#!/bin/sh\n"
	"rec=$BK_FAKE_RECORD; out=; inc=; prev=\n"
	"for a in \"$@\"; do\n"
	"  [ \"$prev\" = --out ] && out=$a\n"
	"  [ \"$prev\" = -I ] && inc=$a\n"
	"  prev=$a\n"
	"done\n"
	"printf '%s\\n' \"$@\" > \"$rec/argv\"\n"
	"env | grep -e '^TARGET_' -e '^AWS_SECRET' | sort > \"$rec/env\"\n"
	"pwd > \"$rec/cwd\"\n"
	"stat -c %a \"$TARGET_KEY\" > \"$rec/keymode\"\n"
	"cat \"$TARGET_KEY\" > \"$rec/key\"\n"
	"[ -n \"$inc\" ] && cp \"$inc/spec_helper.rb\" \"$rec/helper\"\n"
	"case $BK_FAKE_MODE in\n"
	"sleep) sleep 30 & echo $! > \"$rec/child\"; echo started; wait; exit 0;;\n"
	"nojson) echo 'cannot load such file -- serverspec' >&2; exit 1;;\n"
	"empty) echo '{\"examples\": [], \"summary\": {}}' > \"$out\"; echo 'No examples found.'; exit 0;;\n"
	"esac\n"
	"echo 'Package \"nginx\"'\n"
	"echo '  is expected to be installed'\n"
	"echo 'Service \"nginx\"'\n"
	"echo '  is expected to be running (FAILED - 1)'\n"
	"cat > \"$out\" <<'EOF'\n"
	"{\"examples\": [\n"
	" {\"description\": \"is expected to be installed\",\n"
	"  \"full_description\": \"Package \\\"nginx\\\" is expected to be installed\",\n"
	"  \"status\": \"passed\", \"file_path\": \"./spec/localhost/nginx_spec.rb\",\n"
	"  \"line_number\": 3, \"run_time\": 0.01},\n"
	" {\"description\": \"is expected to be running\",\n"
	"  \"full_description\": \"Service \\\"nginx\\\" is expected to be running\",\n"
	"  \"status\": \"failed\", \"file_path\": \"./spec/localhost/nginx_spec.rb\",\n"
	"  \"line_number\": 6, \"run_time\": 0.02,\n"
	"  \"exception\": {\"class\": \"RSpec::Expectations::ExpectationNotMetError\",\n"
	"   \"message\": \"expected Service \\\"nginx\\\" to be running\",\n"
	"   \"backtrace\": [\"./spec/localhost/nginx_spec.rb:6:in `block'\"]}}],\n"
	" \"summary\": {\"errors_outside_of_examples_count\": 0}}\n"
	"EOF\n"
	"exit 1\n";

#define PEM "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n" \
	    "-----END OPENSSH PRIVATE KEY-----"

typedef struct {
	char root[64];              /* the template dir */
	char *suite, *rec, *tmp, *fake;
	bk_strv lines;              /* "1|line" */
	bk_test_plan *tests;
	bk_cancel cancel;
	int tunnel_port;            /* ctx.tunnel_port */
	bool agent;                 /* no key: ctx.agent_auth */
} fixture;

static void on_output(int stream, const char *line, size_t len, void *payload)
{
	fixture *f = payload;
	char *s = bk_sprintf("%d|%.*s", stream, (int)len, line);

	bk_strv_push(&f->lines, s);
	free(s);
}

static char *fpath(const fixture *f, const char *rel)
{
	return bk_sprintf("%s/%s", f->root, rel);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char *spec;

	snprintf(f->root, sizeof(f->root), "/tmp/bakeami-sstest-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->suite = fpath(f, "serverspec");
	f->rec = fpath(f, "rec");
	f->tmp = fpath(f, "tmp");
	f->fake = fpath(f, "fake-rspec");
	spec = fpath(f, "serverspec/spec/localhost");
	assert_int_equal(bk_mkdirs(spec, 0755), 0);
	assert_int_equal(bk_mkdirs(f->rec, 0755), 0);
	assert_int_equal(bk_mkdirs(f->tmp, 0700), 0);
	assert_int_equal(bk_file_write(f->fake, FAKE_RSPEC, strlen(FAKE_RSPEC), 0755), 0);
	free(spec);
	/* The runner makes its private dir under TMPDIR: here, to see it go. */
	setenv("TMPDIR", f->tmp, 1);
	setenv("BK_FAKE_RECORD", f->rec, 1);
	setenv("BK_FAKE_MODE", "report", 1);
	setenv("TARGET_HOST", "stale-value-from-the-agent", 1);
	setenv("TARGET_TUNNEL", "stale-value-from-the-agent", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "agent-secret", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char *cmd = bk_sprintf("rm -rf '%s'", f->root);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->suite);
	free(f->rec);
	free(f->tmp);
	free(f->fake);
	bk_strv_free(&f->lines);
	bk_test_plan_free(f->tests);
	free(f);
	unsetenv("TMPDIR");
	return 0;
}

static int run(fixture *f, const char *extra, bk_test_report *r)
{
	char *json = bk_sprintf("{\"serverspec\": {\"dir\": \"serverspec\", \"command\": \"%s\"%s}}",
				f->fake, extra ? extra : "");
	cJSON *tests = cJSON_Parse(json);
	bk_verify_ctx ctx = {0};
	int rc;

	free(json);
	bk_test_plan_free(f->tests);
	assert_int_equal(bk_verify_parse(&f->tests, tests, "t.json", f->root), 0);
	cJSON_Delete(tests);
	ctx.tests = f->tests;
	ctx.template_dir = f->root;
	ctx.phase = "before_image";
	ctx.host = "127.0.0.1";
	ctx.port = 2222;
	ctx.user = "ec2-user";
	ctx.private_key_pem = f->agent ? NULL : PEM;
	ctx.agent_auth = f->agent;
	ctx.tunnel_port = f->tunnel_port;
	ctx.cancel = &f->cancel;
	ctx.output = on_output;
	ctx.output_payload = f;
	rc = bk_verify_run(r, &ctx);
	return rc;
}

static char *record(const fixture *f, const char *name)
{
	char *p = bk_sprintf("%s/%s", f->rec, name);
	char *text = NULL;
	size_t len = 0;
	char *copy;

	if (bk_file_read(&text, &len, p) < 0) {
		free(p);
		return NULL;
	}
	free(p);
	copy = bk_strndup(text, len);
	free(text);
	return copy;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* ---- the contract ------------------------------------------------------- */

static void test_serverspec__argv_env_key_and_report(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	char *argv, *env, *want, *cwd, *key, *mode, *helper;
	int rc = run(f, NULL, &r);

	assert_int_equal(rc, BAKEAMI_ETESTFAIL);
	assert_string_equal(bk_err_msg(), "1 of 2 tests failed: Service \"nginx\" is expected to be "
			    "running: expected Service \"nginx\" to be running");
	assert_int_equal(r.count, 2);
	assert_string_equal(r.cases[0].suite, "serverspec (before_image)");
	assert_string_equal(r.cases[1].classname, "Service \"nginx\"");
	assert_int_equal(r.cases[1].status, BK_TEST_FAILED);

	argv = record(f, "argv");
	env = record(f, "env");
	assert_non_null(argv);
	/* --out and -I name the private temp dir the key also lives in. */
	const char *out = strstr(argv, "--out\n") + 6;
	size_t dirlen = strlen(f->tmp) + strlen("/bakeami-serverspec-XXXXXX");
	char *tmpdir = bk_strndup(out, dirlen);
	want = bk_sprintf("--format\njson\n--out\n%s/rspec.json\n--format\ndocumentation\n"
			  "--pattern\nspec/**/*_spec.rb\n-I\n%s\n--require\nspec_helper\n",
			  tmpdir, tmpdir);
	assert_string_equal(argv, want);
	free(want);
	want = bk_sprintf("TARGET_HOST=127.0.0.1\nTARGET_KEY=%s/target_key\nTARGET_PORT=2222\n"
			  "TARGET_USER=ec2-user\n", tmpdir);
	assert_string_equal(env, want);
	free(want);
	cwd = record(f, "cwd");
	want = bk_sprintf("%s\n", f->suite);
	assert_string_equal(cwd, want);
	free(want);
	mode = record(f, "keymode");
	assert_string_equal(mode, "600\n");
	key = record(f, "key");
	assert_string_equal(key, PEM "\n");
	helper = record(f, "helper");
	assert_string_equal(helper, bk_serverspec_helper());
	assert_non_null(strstr(helper, "set :backend, :ssh"));
	assert_non_null(strstr(helper, "keys_only: !key.nil?"));
	assert_non_null(strstr(helper, "options[:proxy] = tunnel"));
	assert_non_null(strstr(helper, "set :request_pty, false"));
	/* Nothing left: not the key, not the report, not the helper. */
	assert_true(dir_empty(f->tmp));
	/* Live output, in order, on stdout. */
	assert_int_equal(f->lines.count, 4);
	assert_string_equal(f->lines.items[0], "1|Package \"nginx\"");
	assert_string_equal(f->lines.items[3], "1|  is expected to be running (FAILED - 1)");
	free(tmpdir);
	free(argv);
	free(env);
	free(cwd);
	free(mode);
	free(key);
	free(helper);
	bk_test_report_free(&r);
}

/* The suite's own spec_helper is used as is; nothing is added. */
static void test_serverspec__own_spec_helper_kept(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	char *helper = fpath(f, "serverspec/spec/spec_helper.rb"), *argv;

	assert_int_equal(bk_file_write(helper, "require 'serverspec'\n", 21, 0644), 0);
	assert_int_equal(run(f, NULL, &r), BAKEAMI_ETESTFAIL);
	argv = record(f, "argv");
	assert_null(strstr(argv, "\n-I\n"));
	assert_null(strstr(argv, "--require"));
	assert_true(dir_empty(f->tmp));
	unlink(helper);
	free(helper);
	free(argv);
	bk_test_report_free(&r);
}

/* ---- cancel and timeout ----------------------------------------------- */

static void *cancel_later(void *arg)
{
	fixture *f = arg;

	usleep(400 * 1000);
	bk_cancel_set(&f->cancel);
	return NULL;
}

static void test_serverspec__cancel_kills_the_group(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	pthread_t th;
	double t0 = bk_now();
	char *child;

	setenv("BK_FAKE_MODE", "sleep", 1);
	pthread_create(&th, NULL, cancel_later, f);
	assert_int_equal(run(f, NULL, &r), BAKEAMI_ECANCELLED);
	pthread_join(th, NULL);
	assert_true(bk_now() - t0 < 5.0);
	child = record(f, "child");
	assert_non_null(child);
	assert_true(process_gone((pid_t)atoi(child), 50));
	assert_true(dir_empty(f->tmp));
	free(child);
	bk_test_report_free(&r);
}

static void test_serverspec__timeout_is_an_error_case(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	char *child;

	setenv("BK_FAKE_MODE", "sleep", 1);
	assert_int_equal(run(f, ", \"timeout\": 0.5", &r), BAKEAMI_ETESTFAIL);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.cases[0].status, BK_TEST_ERROR);
	assert_non_null(strstr(r.cases[0].message, "did not finish within 0.5s"));
	child = record(f, "child");
	assert_true(process_gone((pid_t)atoi(child), 50));
	assert_true(dir_empty(f->tmp));
	free(child);
	bk_test_report_free(&r);
}

/* ---- broken suites ---------------------------------------------------- */

static void test_serverspec__no_report_and_no_examples(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};

	setenv("BK_FAKE_MODE", "nojson", 1);
	assert_int_equal(run(f, NULL, &r), BAKEAMI_ETESTFAIL);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.cases[0].status, BK_TEST_ERROR);
	assert_string_equal(r.cases[0].message, "rspec wrote no JSON report (exit status 1)");
	assert_string_equal(r.cases[0].output, "cannot load such file -- serverspec\n");
	assert_string_equal(f->lines.items[0], "2|cannot load such file -- serverspec");
	bk_test_report_free(&r);

	setenv("BK_FAKE_MODE", "empty", 1);
	assert_int_equal(run(f, ", \"pattern\": \"spec/nothing/*_spec.rb\"", &r), BAKEAMI_ETESTFAIL);
	assert_int_equal(r.count, 1);
	assert_true(bk_str_starts(r.cases[0].message,
				  "no examples found for pattern spec/nothing/*_spec.rb in "));
	assert_true(dir_empty(f->tmp));
	bk_test_report_free(&r);
}

/* Behind a bastion: TARGET_HOST/PORT still the instance's, TARGET_TUNNEL the
 * tunnel's end; with the agent, no TARGET_KEY and no key file. */
static void test_serverspec__tunnel_and_agent(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	char *env;

	f->tunnel_port = 40123;
	f->agent = true;
	assert_int_equal(run(f, NULL, &r), BAKEAMI_ETESTFAIL);
	env = record(f, "env");
	assert_string_equal(env, "TARGET_HOST=127.0.0.1\nTARGET_PORT=2222\n"
			    "TARGET_TUNNEL=127.0.0.1:40123\nTARGET_USER=ec2-user\n");
	assert_true(dir_empty(f->tmp));
	free(env);
	bk_test_report_free(&r);
}

static void test_serverspec__needs_a_key(void **state)
{
	fixture *f = *state;
	bk_test_report r = {0};
	bk_verify_ctx ctx = {0};
	cJSON *tests = cJSON_Parse("{\"serverspec\": {\"dir\": \"serverspec\", \"command\": \"sh\"}}");

	assert_int_equal(bk_verify_parse(&f->tests, tests, "t.json", f->root), 0);
	cJSON_Delete(tests);
	ctx.tests = f->tests;
	ctx.template_dir = f->root;
	ctx.phase = "after_image";
	assert_int_equal(bk_verify_run(&r, &ctx), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "Serverspec needs the instance's private key");
	assert_int_equal(r.count, 0);
	assert_true(dir_empty(f->tmp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_serverspec__argv_env_key_and_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__own_spec_helper_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__tunnel_and_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__cancel_kills_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__timeout_is_an_error_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__no_report_and_no_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serverspec__needs_a_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
