/* test_options_json.c - bakeami_options as JSON (the JNI encoding), and the
 * build region a bake reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bakeami.h"

/* Every key, each with a value that differs from the default. */
static const char *const EVERY_OPTION =
	"{\"version\":5,"
	"\"template_path\":\"/ws/images/wëb.json\","
	"\"vars\":[\"version=7\",\"name=web\",\"version=8\"],"
	"\"var_files\":[\"/ws/a.json\",\"/ws/b.json\"],"
	"\"journal_path\":\"/ws/.bakeami/journal/j.jsonl\","
	"\"manifest_path\":\"/ws/out/manifest.json\","
	"\"result_path\":\"/ws/out/result.json\","
	"\"junit_path\":\"/ws/out/junit.xml\","
	"\"on_error_abort\":true,"
	"\"debug\":true,"
	"\"access_key_id\":\"AKIDEXAMPLE\","
	"\"secret_access_key\":\"s3cr3t\","
	"\"session_token\":\"t0k3n\","
	"\"region\":\"eu-west-3\","
	"\"extra_tags\":[\"BUILD_URL=https://ci/job/x/7/\",\"jenkins:run=x#7\"],"
	"\"reuse\":false,"
	"\"log_dir\":\"/ws/logs\","
	"\"role_arn\":\"arn:aws:iam::123456789012:role/baker\","
	"\"role_external_id\":\"ext-42\","
	"\"role_session_name\":\"jenkins-x-7\","
	"\"lease_seconds\":600,"
	"\"lease_renew_seconds\":120,"
	"\"role_duration_seconds\":7200,"
	"\"role_mfa_serial\":\"arn:aws:iam::123456789012:mfa/ci\","
	"\"role_mfa_token\":\"123456\"}";

static void every_option_is_read(void **state)
{
	bakeami_options *o = NULL;

	(void)state;
	assert_int_equal(bakeami_options_from_json(&o, EVERY_OPTION), 0);
	assert_int_equal(o->version, BAKEAMI_OPTIONS_VERSION);
	assert_string_equal(o->template_path, "/ws/images/wëb.json");
	assert_int_equal(o->vars_count, 3);
	assert_string_equal(o->vars[0], "version=7");
	assert_string_equal(o->vars[2], "version=8");
	assert_int_equal(o->var_files_count, 2);
	assert_string_equal(o->var_files[1], "/ws/b.json");
	assert_string_equal(o->journal_path, "/ws/.bakeami/journal/j.jsonl");
	assert_string_equal(o->manifest_path, "/ws/out/manifest.json");
	assert_string_equal(o->result_path, "/ws/out/result.json");
	assert_string_equal(o->junit_path, "/ws/out/junit.xml");
	assert_int_equal(o->on_error_abort, 1);
	assert_int_equal(o->debug, 1);
	assert_string_equal(o->access_key_id, "AKIDEXAMPLE");
	assert_string_equal(o->secret_access_key, "s3cr3t");
	assert_string_equal(o->session_token, "t0k3n");
	assert_string_equal(o->region, "eu-west-3");
	assert_int_equal(o->extra_tags_count, 2);
	assert_string_equal(o->extra_tags[1], "jenkins:run=x#7");
	assert_int_equal(o->reuse, -1);   /* false is --no-reuse, not "not set" */
	assert_string_equal(o->log_dir, "/ws/logs");
	assert_string_equal(o->role_arn, "arn:aws:iam::123456789012:role/baker");
	assert_string_equal(o->role_external_id, "ext-42");
	assert_string_equal(o->role_session_name, "jenkins-x-7");
	assert_int_equal(o->lease_seconds, 600);
	assert_int_equal(o->lease_renew_seconds, 120);
	assert_int_equal(o->role_duration_seconds, 7200);
	assert_string_equal(o->role_mfa_serial, "arn:aws:iam::123456789012:mfa/ci");
	assert_string_equal(o->role_mfa_token, "123456");
	assert_null(o->log_cb);
	bakeami_options_free(o);
}

/* from_json(to_json(from_json(doc))) reads the same as doc, key for key. */
static void the_document_round_trips(void **state)
{
	bakeami_options *o = NULL, *again = NULL;
	char *json = NULL, *json2 = NULL;

	(void)state;
	assert_int_equal(bakeami_options_from_json(&o, EVERY_OPTION), 0);
	assert_int_equal(bakeami_options_to_json(&json, o), 0);
	assert_string_equal(json, EVERY_OPTION); /* same keys, same order, same values */
	assert_int_equal(bakeami_options_from_json(&again, json), 0);
	assert_int_equal(bakeami_options_to_json(&json2, again), 0);
	assert_string_equal(json, json2);
	free(json);
	free(json2);
	bakeami_options_free(o);
	bakeami_options_free(again);
}

static void absent_and_null_mean_not_set(void **state)
{
	bakeami_options *o = NULL;
	char *json = NULL;

	(void)state;
	assert_int_equal(bakeami_options_from_json(&o,
		"{\"template_path\":\"t.json\",\"region\":null,\"vars\":null,\"debug\":false}"), 0);
	assert_null(o->region);
	assert_null(o->vars);
	assert_int_equal(o->vars_count, 0);
	assert_int_equal(o->debug, 0);
	assert_null(o->secret_access_key);
	assert_int_equal(bakeami_options_to_json(&json, o), 0);
	assert_string_equal(json, "{\"version\":5,\"template_path\":\"t.json\"}");
	free(json);
	bakeami_options_free(o);
	assert_int_equal(bakeami_options_from_json(&o, "{}"), 0);
	assert_null(o->template_path);
	bakeami_options_free(o);
	bakeami_options_free(NULL);
}

/* Options from a struct the caller filled (not from JSON) encode too. */
static void a_caller_filled_struct_encodes(void **state)
{
	const char *vars[] = {"a=1"};
	bakeami_options o = BAKEAMI_OPTIONS_INIT;
	char *json = NULL;

	(void)state;
	o.template_path = "t.json";
	o.vars = vars;
	o.vars_count = 1;
	o.on_error_abort = 1;
	assert_int_equal(bakeami_options_to_json(&json, &o), 0);
	assert_string_equal(json, "{\"version\":5,\"template_path\":\"t.json\",\"vars\":[\"a=1\"],"
			    "\"on_error_abort\":true}");
	free(json);
	o.version = 99;
	assert_int_equal(bakeami_options_to_json(&json, &o), BAKEAMI_EINVALID);
	assert_null(json);
}

/* reuse has three values: true (--reuse), false (--no-reuse), not set (the template's). */
static void reuse_is_three_valued(void **state)
{
	static const struct { const char *json; int want; const char *back; } cases[] = {
		{"{\"reuse\":true}", 1, "{\"version\":5,\"reuse\":true}"},
		{"{\"reuse\":false}", -1, "{\"version\":5,\"reuse\":false}"},
		{"{\"reuse\":null}", 0, "{\"version\":5}"},
		{"{}", 0, "{\"version\":5}"},
	};
	bakeami_options *o = NULL;
	char *json = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(bakeami_options_from_json(&o, cases[i].json), 0);
		assert_int_equal(o->reuse, cases[i].want);
		assert_int_equal(bakeami_options_to_json(&json, o), 0);
		assert_string_equal(json, cases[i].back);
		free(json);
		bakeami_options_free(o);
	}
	o = (bakeami_options *)1;
	assert_int_equal(bakeami_options_from_json(&o, "{\"reuse\":\"yes\"}"), BAKEAMI_EINVALID);
	assert_non_null(strstr(bakeami_error_last(), "\"reuse\" must be true or false"));
}

static void refused(const char *json, const char *message)
{
	bakeami_options *o = (bakeami_options *)1;

	assert_int_equal(bakeami_options_from_json(&o, json), BAKEAMI_EINVALID);
	assert_null(o);
	if (!strstr(bakeami_error_last(), message))
		fail_msg("%s: got \"%s\", expected it to name \"%s\"", json, bakeami_error_last(), message);
}

static void an_unknown_key_is_named(void **state)
{
	(void)state;
	refused("{\"template_path\":\"t.json\",\"regoin\":\"eu-west-3\"}",
		"options: unknown key \"regoin\"");
	/* the Java names are not the library's */
	refused("{\"templatePath\":\"t.json\"}", "unknown key \"templatePath\"");
	refused("{\"log_cb\":null}", "unknown key \"log_cb\"");
}

static void a_wrong_type_is_named(void **state)
{
	(void)state;
	refused("{\"region\":3}", "\"region\" must be a string or null");
	refused("{\"template_path\":[\"t.json\"]}", "\"template_path\" must be a string");
	refused("{\"vars\":\"a=1\"}", "\"vars\" must be an array of strings");
	refused("{\"extra_tags\":[\"a=1\",2]}", "\"extra_tags\"[1] must be a string");
	refused("{\"var_files\":[null]}", "\"var_files\"[0] must be a string");
	refused("{\"on_error_abort\":1}", "\"on_error_abort\" must be true or false");
	refused("{\"debug\":\"true\"}", "\"debug\" must be true or false");
	/* a failure after secrets were read frees them */
	refused("{\"secret_access_key\":\"s\",\"session_token\":\"t\",\"vars\":{}}",
		"\"vars\" must be an array");
}

static void a_bad_document_is_refused(void **state)
{
	(void)state;
	refused("{\"region\":\"a\",\"region\":\"b\"}", "\"region\" is given twice");
	refused("{\"version\":6}", "\"version\" must be 1 to 5");
	refused("{\"version\":0}", "\"version\" must be 1 to 5");
	refused("{\"version\":1.5}", "\"version\" must be 1 to 5");
	refused("{\"version\":\"1\"}", "\"version\" must be 1 to 5");
	refused("{\"version\":4,\"role_mfa_token\":\"123456\"}",
		"\"role_mfa_token\" needs \"version\": 5");
	refused("{\"version\":3,\"lease_seconds\":60}", "\"lease_seconds\" needs \"version\": 4");
	refused("{\"lease_seconds\":0}", "\"lease_seconds\" must be a whole number of seconds");
	refused("{\"lease_renew_seconds\":1.5}", "must be a whole number of seconds");
	refused("{\"lease_seconds\":\"1h\"}", "must be a whole number of seconds");
	refused("[\"template_path\"]", "must be a JSON object");
	refused("{\"template_path\":\"t.json\"", "not valid JSON");
	refused("{} trailing", "not valid JSON");
	refused(NULL, "no JSON document");
}

/* A version 1 document (the Java side's before log_dir) and a version 1
 * caller, whose struct ends before log_dir: both still work, and nothing
 * past a version 1 struct is read. */
static void version_1_callers_still_work(void **state)
{
	bakeami_options *o = NULL, full;
	const bakeami_options *v1;
	unsigned char *buf;
	bakeami_bake *b = NULL;
	char *json = NULL;
	size_t v1_size = offsetof(bakeami_options, log_dir);

	(void)state;
	assert_int_equal(bakeami_options_from_json(&o, "{\"version\":1,\"template_path\":\"t.json\"}"), 0);
	assert_string_equal(o->template_path, "t.json");
	assert_null(o->log_dir);
	assert_int_equal(o->version, 1);
	assert_int_equal(bakeami_options_to_json(&json, o), 0);
	assert_string_equal(json, "{\"version\":1,\"template_path\":\"t.json\"}");
	free(json);
	bakeami_options_free(o);
	/* a key of a later version than the document says, wherever "version" is */
	refused("{\"version\":1,\"log_dir\":\"logs\"}", "\"log_dir\" needs \"version\": 2");
	refused("{\"log_dir\":\"logs\",\"version\":1}", "\"log_dir\" needs \"version\": 2");
	refused("{\"version\":2,\"role_arn\":\"arn:aws:iam::123456789012:role/r\"}",
		"\"role_arn\" needs \"version\": 3");
	/* exactly a version 1 struct on the heap: ASan sees any read past it */
	assert_int_equal(bakeami_options_init(&full, 1), 0);
	assert_int_equal(full.version, 1);
	full.template_path = "t.json";
	full.region = "eu-west-3";
	assert_non_null(buf = malloc(v1_size));
	memcpy(buf, &full, v1_size);
	v1 = (const bakeami_options *)(const void *)buf;
	assert_int_equal(bakeami_options_to_json(&json, v1), 0);
	assert_string_equal(json, "{\"version\":1,\"template_path\":\"t.json\",\"region\":\"eu-west-3\"}");
	free(json);
	assert_int_equal(bakeami_bake_new(&b, v1), 0);
	bakeami_bake_free(b);
	free(buf);
	assert_int_equal(bakeami_options_init(&(bakeami_options){0}, 6), BAKEAMI_EINVALID);
}

/* ---- bakeami_bake_region -------------------------------------------- */

static bakeami_bake *bake_from(const char *json)
{
	bakeami_options *o = NULL;
	bakeami_bake *b = NULL;

	assert_int_equal(bakeami_options_from_json(&o, json), 0);
	assert_int_equal(bakeami_bake_new(&b, o), 0);
	bakeami_options_free(o); /* the bake keeps copies */
	return b;
}

/* The region is known once the run resolved it, even when the run then
 * fails: here every AWS call is refused (a closed loopback port). */
static void the_build_region_comes_from_the_run(void **state)
{
	char journal[64];
	char *json;
	bakeami_bake *b;

	(void)state;
	snprintf(journal, sizeof(journal), "/tmp/bakeami-opts-%d.jsonl", (int)getpid());
	json = malloc(1024);
	assert_non_null(json);
	snprintf(json, 1024, "{\"template_path\":\"tests/e2e/templates/bake.json\","
		 "\"region\":\"eu-west-3\",\"journal_path\":\"%s\","
		 "\"access_key_id\":\"AKIDEXAMPLE\",\"secret_access_key\":\"not-a-secret\"}", journal);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	setenv("BAKEAMI_RETRY_BASE_MS", "1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	b = bake_from(json);
	assert_null(bakeami_bake_region(b));
	assert_true(bakeami_bake_run(b) < 0);
	assert_non_null(bakeami_bake_region(b));
	assert_string_equal(bakeami_bake_region(b), "eu-west-3");
	bakeami_bake_free(b);
	unlink(journal);
	free(json);

	/* a run that fails before it knows the region has none */
	b = bake_from("{\"template_path\":\"/nonexistent/bakeami/t.json\"}");
	assert_true(bakeami_bake_run(b) < 0);
	assert_null(bakeami_bake_region(b));
	bakeami_bake_free(b);
	assert_null(bakeami_bake_region(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_option_is_read),
		cmocka_unit_test(the_document_round_trips),
		cmocka_unit_test(absent_and_null_mean_not_set),
		cmocka_unit_test(a_caller_filled_struct_encodes),
		cmocka_unit_test(reuse_is_three_valued),
		cmocka_unit_test(an_unknown_key_is_named),
		cmocka_unit_test(a_wrong_type_is_named),
		cmocka_unit_test(a_bad_document_is_refused),
		cmocka_unit_test(version_1_callers_still_work),
		cmocka_unit_test(the_build_region_comes_from_the_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
