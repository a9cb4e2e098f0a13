/*
 * test_verify_junit.c - the report's outputs (JUnit XML valid against
 * tests/junit/junit.xsd, the console table), rspec's JSON report, and
 * bk_verify_validate on good and bad `tests` objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>

#include "verify/verify.h"
#include "verify/verify_int.h"

#define XSD "tests/junit/junit.xsd"
#define SAMPLES "tests/unit/samples/verify/"

/* ---- helpers ------------------------------------------------------------ */

static char *tmp_file(const char *name)
{
	return bk_sprintf("/tmp/bakeami-junit-%d-%s", (int)getpid(), name);
}

static void add(bk_test_report *r, const char *suite, const char *name, const char *cls,
		bk_test_status st, double secs, const char *msg, const char *out)
{
	assert_int_equal(bk_test_report_add(r, suite, name, cls, st, secs, msg, out), 0);
}

static void sample_report(bk_test_report *r)
{
	add(r, "native checks (before_image)", "package nginx installed", "package", BK_TEST_PASSED,
	    0.12, NULL, NULL);
	add(r, "native checks (before_image)", "service nginx running", "service", BK_TEST_FAILED,
	    0.2, "service nginx: expected running, found inactive", NULL);
	add(r, "native checks (before_image)", "command \"curl -s localhost\" exit_status 0",
	    "command", BK_TEST_ERROR, 30.0, "command timed out after 30s", "stdout:\nstderr:\n");
	add(r, "serverspec (before_image)", "Package \"nginx\" is expected to be installed",
	    "Package \"nginx\"", BK_TEST_PASSED, 0.07, NULL, NULL);
	add(r, "serverspec (before_image)", "pending thing is not done yet", "pending thing",
	    BK_TEST_SKIPPED, 0.0, "later", NULL);
}

static xmlDocPtr validate_file(const char *path)
{
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(XSD);
	xmlSchemaPtr schema;
	xmlSchemaValidCtxtPtr vc;
	xmlDocPtr doc;
	int rc;

	assert_non_null(pc);
	schema = xmlSchemaParse(pc);
	assert_non_null(schema);
	vc = xmlSchemaNewValidCtxt(schema);
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	if (rc != 0)
		fail_msg("%s does not validate against %s (%d)", path, XSD, rc);
	return doc;
}

/* The string value of an XPath expression. */
static char *xpath(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlChar *s;
	char *out;

	assert_non_null(obj);
	s = xmlXPathCastToString(obj);
	out = bk_strdup((const char *)s);
	xmlFree(s);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	return out;
}

static void expect_xpath(xmlDocPtr doc, const char *expr, const char *want)
{
	char *got = xpath(doc, expr);

	if (strcmp(got, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", expr, got, want);
	free(got);
}

/* ---- JUnit ------------------------------------------------------------- */

static void test_junit__validates_and_counts(void **state)
{
	bk_test_report r = {0};
	char *path = tmp_file("a.xml");
	xmlDocPtr doc;

	(void)state;
	sample_report(&r);
	assert_int_equal(bk_junit_write(&r, path), 0);
	doc = validate_file(path);
	expect_xpath(doc, "string(/testsuites/@tests)", "5");
	expect_xpath(doc, "string(/testsuites/@failures)", "1");
	expect_xpath(doc, "string(/testsuites/@errors)", "1");
	expect_xpath(doc, "string(/testsuites/@skipped)", "1");
	expect_xpath(doc, "count(/testsuites/testsuite)", "2");
	expect_xpath(doc, "string(/testsuites/testsuite[1]/@name)", "native checks (before_image)");
	expect_xpath(doc, "string(/testsuites/testsuite[1]/@tests)", "3");
	expect_xpath(doc, "string(/testsuites/testsuite[1]/@failures)", "1");
	expect_xpath(doc, "string(/testsuites/testsuite[1]/@errors)", "1");
	expect_xpath(doc, "string(/testsuites/testsuite[1]/@time)", "30.320");
	expect_xpath(doc, "string(/testsuites/testsuite[2]/@tests)", "2");
	expect_xpath(doc, "string(/testsuites/testsuite[2]/@skipped)", "1");
	expect_xpath(doc, "string(//testcase[@classname='service']/failure/@message)",
		     "service nginx: expected running, found inactive");
	expect_xpath(doc, "string(//testcase[@classname='service']/failure/@type)", "failure");
	expect_xpath(doc, "string(//testcase[@classname='command']/error/@message)",
		     "command timed out after 30s");
	expect_xpath(doc, "string(//testcase[@classname='command']/system-out)", "stdout:\nstderr:\n");
	expect_xpath(doc, "string(//testcase[@classname='pending thing']/skipped/@message)", "later");
	expect_xpath(doc, "count(//testcase[@classname='package']/*)", "0");
	expect_xpath(doc, "string(//testcase[@classname='package']/@time)", "0.120");
	xmlFreeDoc(doc);
	unlink(path);
	free(path);
	bk_test_report_free(&r);
}

static void test_junit__special_characters_escaped(void **state)
{
	bk_test_report r = {0};
	char *path = tmp_file("b.xml");
	const char *name = "file /etc/<a>&\"b\" 'c' ]]> \xC3\xA9\xF0\x9F\x8D\xB0";
	xmlDocPtr doc;
	char *raw = NULL;

	(void)state;
	add(&r, "suite <&>", name, "file", BK_TEST_FAILED, 0.5,
	    "expected \x1b[31mred\x1b[0m, found \xff\xfe bytes\nsecond line <x>", "out\x01put & <more>");
	assert_int_equal(bk_junit_write(&r, path), 0);
	doc = validate_file(path);
	expect_xpath(doc, "string(//testcase/@name)", name);
	expect_xpath(doc, "string(//testsuite/@name)", "suite <&>");
	/* Characters XML cannot hold become U+FFFD; the first line is the attribute. */
	expect_xpath(doc, "string(//failure/@message)",
		     "expected \xEF\xBF\xBD[31mred\xEF\xBF\xBD[0m, found \xEF\xBF\xBD\xEF\xBF\xBD bytes");
	expect_xpath(doc, "string(//failure)",
		     "expected \xEF\xBF\xBD[31mred\xEF\xBF\xBD[0m, found \xEF\xBF\xBD\xEF\xBF\xBD bytes\n"
		     "second line <x>");
	expect_xpath(doc, "string(//system-out)", "out\xEF\xBF\xBDput & <more>");
	xmlFreeDoc(doc);
	assert_int_equal(bk_file_read(&raw, NULL, path), 0);
	assert_non_null(strstr(raw, "&lt;a&gt;&amp;&quot;b&quot;"));
	assert_null(strstr(raw, "\x1b"));
	free(raw);
	unlink(path);
	free(path);
	bk_test_report_free(&r);
}

static void test_junit__empty_report_and_bad_path(void **state)
{
	bk_test_report r = {0};
	char *path = tmp_file("c.xml");
	xmlDocPtr doc;

	(void)state;
	assert_int_equal(bk_junit_write(&r, path), 0);
	doc = validate_file(path);
	expect_xpath(doc, "string(/testsuites/@tests)", "0");
	xmlFreeDoc(doc);
	unlink(path);
	free(path);
	assert_int_equal(bk_junit_write(&r, "/nonexistent-dir/x/report.xml"), BAKEAMI_EIO);
	assert_non_null(strstr(bk_err_msg(), "/nonexistent-dir/x/report.xml"));
}

/* ---- the table ---------------------------------------------------------- */

static void collect_line(const char *line, void *payload)
{
	assert_int_equal(bk_strv_push(payload, line), 0);
}

static size_t col(const char *line, const char *word)
{
	const char *p = strstr(line, word);

	assert_non_null(p);
	return (size_t)(p - line);
}

static void test_table__aligned_columns(void **state)
{
	bk_test_report r = {0};
	bk_strv lines = BK_STRV_INIT;
	char long_name[120];

	(void)state;
	sample_report(&r);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	add(&r, "serverspec (before_image)", long_name, "x", BK_TEST_PASSED, 1.5, NULL, NULL);
	add(&r, "serverspec (before_image)", "caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9", "x", BK_TEST_FAILED,
	    0.25, "first line\nsecond line", NULL);
	bk_test_report_table(&r, collect_line, &lines);
	assert_int_equal(lines.count, 1 + 2 + r.count + 1);   /* header, suites, rows, summary */
	assert_true(bk_str_starts(lines.items[0], "CHECK"));
	assert_string_equal(lines.items[1], "-- native checks (before_image)");
	assert_true(bk_str_starts(lines.items[2], "package nginx installed "));
	assert_true(bk_str_ends(lines.items[2], "passed   0.12s"));
	assert_true(bk_str_ends(lines.items[3],
				"FAILED   0.20s     service nginx: expected running, found inactive"));
	assert_int_equal(col(lines.items[0], "RESULT"), col(lines.items[2], "passed"));
	assert_int_equal(col(lines.items[0], "RESULT"), col(lines.items[3], "FAILED"));
	assert_int_equal(col(lines.items[0], "REASON"), col(lines.items[3], "service nginx:"));
	assert_int_equal(col(lines.items[0], "RESULT"), 62);   /* the name column is capped at 60 */
	assert_true(bk_str_starts(lines.items[8], "xxxxxxxx"));
	assert_int_equal(col(lines.items[8], "..."), 57);
	/* UTF-8 names are counted in characters; reasons keep their first line. */
	assert_int_equal(col(lines.items[9], "FAILED") - 3, col(lines.items[0], "RESULT"));
	assert_true(bk_str_ends(lines.items[9], "first line"));
	assert_string_equal(lines.items[10],
			    "7 tests: 3 passed, 2 failed, 1 errors, 1 skipped (32.14s)");
	bk_strv_free(&lines);
	bk_test_report_free(&r);
}

/* ---- rspec's report ----------------------------------------------------- */

static void test_serverspec__json_report_to_cases(void **state)
{
	bk_test_report r = {0};
	char *json = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(bk_file_read(&json, NULL, SAMPLES "rspec-report.json"), 0);
	assert_int_equal(bk_serverspec_parse(&r, "serverspec (after_image)", json, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(r.count, 5);
	assert_string_equal(r.cases[0].name, "Package \"openssh-server\" is expected to be installed");
	assert_string_equal(r.cases[0].classname, "Package \"openssh-server\"");
	assert_string_equal(r.cases[0].suite, "serverspec (after_image)");
	assert_int_equal(r.cases[0].status, BK_TEST_PASSED);
	assert_int_equal(r.cases[2].status, BK_TEST_FAILED);
	assert_string_equal(r.cases[2].message,
			    "expected `File \"/etc/hostname\".mode?(600)` to be truthy, got false");
	assert_non_null(strstr(r.cases[2].output, "./spec/localhost/demo_spec.rb:8"));
	assert_null(strstr(r.cases[2].output, "/gems/"));
	assert_string_equal(r.cases[3].classname, "Command \"echo hi\" stdout");
	assert_int_equal(r.cases[4].status, BK_TEST_SKIPPED);
	assert_string_equal(r.cases[4].message, "later");
	free(json);
	bk_test_report_free(&r);
}

static void test_serverspec__load_error_is_an_error_case(void **state)
{
	bk_test_report r = {0};
	char *json = NULL;
	size_t n = 1;

	(void)state;
	assert_int_equal(bk_file_read(&json, NULL, SAMPLES "rspec-load-error.json"), 0);
	assert_int_equal(bk_serverspec_parse(&r, "serverspec (before_image)", json, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.cases[0].status, BK_TEST_ERROR);
	assert_true(bk_str_starts(r.cases[0].message,
				  "An error occurred while loading ./spec/bad_spec.rb."));
	assert_int_equal(bk_serverspec_parse(&r, "s", "{\"not\": \"rspec\"}", &n), BAKEAMI_ERROR);
	assert_int_equal(bk_serverspec_parse(&r, "s", "garbage", &n), BAKEAMI_ERROR);
	free(json);
	bk_test_report_free(&r);
}

/* ---- bk_verify_validate -------------------------------------------------- */

static int validate_json(const char *json, const char *template_dir)
{
	cJSON *tests = cJSON_Parse(json);
	int rc;

	if (!tests)
		fail_msg("bad JSON in the test: %s", json);
	rc = bk_verify_validate(tests, "web.json", template_dir);
	cJSON_Delete(tests);
	return rc;
}

static void test_validate__good_tests(void **state)
{
	static const char *const good[] = {
		"{\"when\": \"before_image\", \"checks\": ["
		" {\"package\": \"nginx\", \"installed\": true},"
		" {\"service\": \"nginx\", \"running\": true, \"enabled\": true},"
		" {\"port\": 80, \"listening\": true},"
		" {\"file\": \"/etc/nginx/nginx.conf\", \"exists\": true, \"mode\": \"0644\", "
		"  \"owner\": \"root\", \"contains\": \"worker_processes\"},"
		" {\"command\": \"curl -s localhost\", \"exit_status\": 0, \"stdout_matches\": \"Welcome\"},"
		" {\"user\": \"deploy\", \"exists\": true, \"groups\": [\"www-data\"]},"
		" {\"process\": \"nginx\", \"running\": true},"
		" {\"kernel_param\": \"net.ipv4.ip_forward\", \"value\": \"0\"},"
		" {\"http\": \"http://localhost/\", \"status\": 200, \"body_contains\": \"Welcome\"},"
		" {\"group\": \"www-data\", \"gid\": 33, \"name\": \"web group\", \"timeout\": 5},"
		" {\"group\": \"root\", \"file\": \"/etc/shadow\", \"mode\": \"0640\"}]}",
		"{\"when\": \"both\", \"checks\": [{\"port\": \"8080\", \"listening\": false, "
		"\"protocol\": \"udp\", \"address\": \"::\"}]}",
		"{\"when\": \"after_image\", \"checks\": [{\"kernel_param\": \"vm.swappiness\", \"value\": 10},"
		" {\"file\": \"/x\", \"type\": \"symlink\", \"sha256\": "
		"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}]}",
	};

	(void)state;
	for (size_t i = 0; i < BK_ARRAY_SIZE(good); i++)
		if (validate_json(good[i], ".") != 0)
			fail_msg("refused: %s\n  %s", good[i], bk_err_msg());
}

static void test_validate__bad_tests_name_the_json_path(void **state)
{
	static const struct { const char *json, *msg; } bad[] = {
		{"[]", "web.json: tests: expected an object with checks or serverspec"},
		{"{}", "web.json: tests: nothing to test (give checks or serverspec)"},
		{"{\"check\": []}", "web.json: tests.check: unknown key (expected when, checks or serverspec)"},
		{"{\"when\": \"always\", \"checks\": [{\"package\": \"x\", \"installed\": true}]}",
		 "web.json: tests.when: expected \"before_image\", \"after_image\" or \"both\""},
		{"{\"checks\": {\"package\": \"x\"}}", "web.json: tests.checks: expected an array of checks"},
		{"{\"checks\": [\"nginx\"]}", "web.json: tests.checks[0]: expected an object like"},
		{"{\"checks\": [{\"package\": \"a\", \"installed\": true}, {\"pkg\": \"nginx\", \"installed\": true}]}",
		 "web.json: tests.checks[1]: unknown check type \"pkg\" (expected one of package, service, "
		 "port, file, command, user, group, process, kernel_param, http)"},
		{"{\"checks\": [{\"installed\": true}]}", "web.json: tests.checks[0]: no check type"},
		{"{\"checks\": [{\"package\": \"a\", \"service\": \"b\", \"running\": true}]}",
		 "web.json: tests.checks[0]: a check has one type, found package and service"},
		{"{\"checks\": [{\"group\": \"a\", \"user\": \"b\", \"exists\": true}]}",
		 "web.json: tests.checks[0]: a check has one type, found group and user"},
		{"{\"checks\": [{\"package\": \"a\", \"installed\": true}, {\"port\": 22, \"listening\": true},"
		 " {\"package\": \"x\"}]}",
		 "web.json: tests.checks[2]: check has no expectation (give installed or version)"},
		{"{\"checks\": [{\"port\": 22, \"protocol\": \"tcp\"}]}",
		 "web.json: tests.checks[0]: check has no expectation (give listening)"},
		{"{\"checks\": [{\"package\": \"x\", \"installed\": \"yes\"}]}",
		 "web.json: tests.checks[0].installed: expected true or false"},
		{"{\"checks\": [{\"file\": \"/x\", \"exists\": true}, {\"file\": \"/x\", \"mode\": \"rw-r--r--\"}]}",
		 "web.json: tests.checks[1].mode: expected a string like \"0644\""},
		{"{\"checks\": [{\"file\": \"/x\", \"mode\": 644}]}",
		 "web.json: tests.checks[0].mode: expected a string like \"0644\""},
		{"{\"checks\": [{\"command\": \"x\", \"stdout_matches\": \"(unclosed\"}]}",
		 "web.json: tests.checks[0].stdout_matches: bad regular expression \"(unclosed\": "},
		{"{\"checks\": [{\"file\": \"/x\", \"matches\": \"a{2,1}\"}]}",
		 "web.json: tests.checks[0].matches: bad regular expression \"a{2,1}\": "},
		{"{\"checks\": [{\"service\": \"x\", \"running\": true, \"installed\": true}]}",
		 "web.json: tests.checks[0].installed: unknown key for a service check "
		 "(expected running, enabled, name or timeout)"},
		{"{\"checks\": [{\"file\": \"etc/hosts\", \"exists\": true}]}",
		 "web.json: tests.checks[0].file: expected an absolute path"},
		{"{\"checks\": [{\"port\": 70000, \"listening\": true}]}",
		 "web.json: tests.checks[0].port: expected a port number (1-65535)"},
		{"{\"checks\": [{\"port\": 53, \"listening\": true, \"protocol\": \"sctp\"}]}",
		 "web.json: tests.checks[0].protocol: expected \"tcp\" or \"udp\""},
		{"{\"checks\": [{\"package\": \"-oDebug::pkgProblemResolver=1\", \"installed\": true}]}",
		 "web.json: tests.checks[0].package: expected a name (no spaces or '/', no leading '-')"},
		{"{\"checks\": [{\"http\": \"ftp://x/\", \"status\": 200}]}",
		 "web.json: tests.checks[0].http: expected an http:// or https:// URL"},
		{"{\"checks\": [{\"http\": \"http://x/\", \"status\": 42}]}",
		 "web.json: tests.checks[0].status: expected an HTTP status (100-599)"},
		{"{\"checks\": [{\"user\": \"u\", \"groups\": [\"a\", 1]}]}",
		 "web.json: tests.checks[0].groups[1]: expected a non-empty string"},
		{"{\"checks\": [{\"file\": \"/x\", \"sha256\": \"abc\"}]}",
		 "web.json: tests.checks[0].sha256: expected 64 hexadecimal digits"},
		{"{\"checks\": [{\"process\": \"x\", \"count\": -1}]}",
		 "web.json: tests.checks[0].count: expected a non-negative integer"},
		{"{\"checks\": [{\"process\": \"x\", \"running\": true, \"timeout\": 0}]}",
		 "web.json: tests.checks[0].timeout: expected a number of seconds"},
		{"{\"checks\": [{\"kernel_param\": \"vm.x\", \"value\": [1]}]}",
		 "web.json: tests.checks[0].value: expected a string or a number"},
		{"{\"checks\": [{\"kernel_param\": \"../../etc/passwd\", \"value\": 1}]}",
		 "web.json: tests.checks[0].kernel_param: expected a kernel parameter"},
		{"{\"serverspec\": {\"dir\": \"serverspec\", \"spec\": \"x\"}}",
		 "web.json: tests.serverspec.spec: unknown key (expected dir, pattern, command or timeout)"},
		{"{\"serverspec\": {\"dir\": \"no-such-suite\"}}",
		 "web.json: tests.serverspec.dir: /tmp/no-such-suite: no such directory"},
		{"{\"serverspec\": {\"dir\": \".\", \"command\": \"no-such-rspec-xyz\"}}",
		 "web.json: tests.serverspec.command: \"no-such-rspec-xyz\" not found on PATH "
		 "(install ruby-serverspec, or set tests.serverspec.command)"},
		{"{\"serverspec\": {\"dir\": \".\", \"command\": \"bundle exec rspec\"}}",
		 "web.json: tests.serverspec.command: \"bundle exec rspec\" not found on PATH (a string "
		 "names one program; give an array for several words: [\"bundle\", \"exec\", \"rspec\"])"},
		{"{\"serverspec\": {\"dir\": \".\", \"command\": [\"bundle\", 3]}}",
		 "web.json: tests.serverspec.command: expected a program or an array of strings"},
	};

	(void)state;
	assert_true(BK_ARRAY_SIZE(bad) >= 8);
	for (size_t i = 0; i < BK_ARRAY_SIZE(bad); i++) {
		int rc = validate_json(bad[i].json, "/tmp");
		if (rc != BAKEAMI_EINVALID || !bk_str_starts(bk_err_msg(), bad[i].msg))
			fail_msg("%s\n  got:  %d %s\n  want: %s", bad[i].json, rc, bk_err_msg(),
				 bad[i].msg);
	}
}

/* The suite's command is looked up on PATH, or relative to the suite. */
static void test_validate__serverspec_command_found(void **state)
{
	(void)state;
	assert_int_equal(validate_json("{\"serverspec\": {\"dir\": \"/tmp\", \"command\": \"sh\"}}", "."), 0);
	assert_int_equal(validate_json("{\"serverspec\": {\"dir\": \"tmp\", \"command\": [\"/bin/sh\", \"-e\"], "
				       "\"pattern\": \"spec/*_spec.rb\", \"timeout\": 60}}", "/"), 0);
	assert_int_equal(validate_json("{\"serverspec\": {\"dir\": \"/tmp\", \"command\": \"./nope.sh\"}}",
				       "."), BAKEAMI_EINVALID);
}

static bk_test_plan *plan_in(const char *json, const char *template_dir)
{
	cJSON *tests = cJSON_Parse(json);
	bk_test_plan *t = NULL;

	assert_int_equal(bk_verify_parse(&t, tests, "t.json", template_dir), 0);
	cJSON_Delete(tests);
	return t;
}

static bk_test_plan *plan_of(const char *json)
{
	return plan_in(json, ".");
}

static void test_validate__serverspec_settings_in_the_plan(void **state)
{
	bk_test_plan *t = plan_in("{\"serverspec\": {\"dir\": \"tmp\", \"command\": [\"/bin/sh\", "
				  "\"-e\"], \"pattern\": \"spec/*_spec.rb\", \"timeout\": 60}}", "/");
	bk_test_plan *d = plan_of("{\"serverspec\": {\"dir\": \"/tmp\", \"command\": \"sh\"}}");

	(void)state;
	assert_true(t->has_serverspec);
	assert_string_equal(t->serverspec.dir, "//tmp");     /* under the template's folder */
	assert_int_equal(t->serverspec.command.count, 2);
	assert_string_equal(t->serverspec.command.items[1], "-e");
	assert_string_equal(t->serverspec.pattern, "spec/*_spec.rb");
	assert_true(t->serverspec.timeout_s == 60);
	assert_int_equal(t->checks_count, 0);
	/* unset stays unset: the runner's defaults apply */
	assert_string_equal(d->serverspec.dir, "/tmp");
	assert_null(d->serverspec.pattern);
	assert_true(d->serverspec.timeout_s == 0);
	bk_test_plan_free(t);
	bk_test_plan_free(d);
}

static void test_validate__when_selects_the_phase(void **state)
{
#define CHECKS "\"checks\": [{\"file\": \"/etc/hostname\", \"exists\": true}]"
	bk_test_plan *before = plan_of("{" CHECKS "}");
	bk_test_plan *after = plan_of("{\"when\": \"after_image\", " CHECKS "}");
	bk_test_plan *both = plan_of("{\"when\": \"both\", " CHECKS "}");

	(void)state;
	assert_true(bk_verify_wants(before, "before_image"));
	assert_false(bk_verify_wants(before, "after_image"));
	assert_false(bk_verify_wants(after, "before_image"));
	assert_true(bk_verify_wants(after, "after_image"));
	assert_true(bk_verify_wants(both, "before_image") && bk_verify_wants(both, "after_image"));
	assert_false(bk_verify_wants(NULL, "before_image"));
	assert_int_equal(both->checks_count, 1);
	bk_test_plan_free(before);
	bk_test_plan_free(after);
	bk_test_plan_free(both);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junit__validates_and_counts),
		cmocka_unit_test(test_junit__special_characters_escaped),
		cmocka_unit_test(test_junit__empty_report_and_bad_path),
		cmocka_unit_test(test_table__aligned_columns),
		cmocka_unit_test(test_serverspec__json_report_to_cases),
		cmocka_unit_test(test_serverspec__load_error_is_an_error_case),
		cmocka_unit_test(test_validate__good_tests),
		cmocka_unit_test(test_validate__bad_tests_name_the_json_path),
		cmocka_unit_test(test_validate__serverspec_command_found),
		cmocka_unit_test(test_validate__when_selects_the_phase),
		cmocka_unit_test(test_validate__serverspec_settings_in_the_plan),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
