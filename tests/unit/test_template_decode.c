/* test_template_decode.c - Packer 1.6.6's decoding of options (decode.c),
 * one test per rule of the README's "Decoding" table, each value as
 * mapstructure's WeaklyTypedInput and the SDK's hooks leave it; and the
 * readers putting the decoded value in place and on the dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/template.h"
#include "template/template_int.h"

typedef struct {
	bk_build_config cfg;
	bk_strv warnings;
	bk_cfg_ctx c;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->c.file = "t.json";
	f->c.cfg = &f->cfg;
	f->c.warnings = &f->warnings;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	cJSON_Delete(f->cfg.decoded);
	bk_strv_free(&f->warnings);
	free(f);
	return 0;
}

/* The decoded value of JSON text `in` as kind k, printed unformatted; or
 * "ERR: <message>"; or "null" when Packer sets nothing. */
static char *dec(void **state, const char *in, char k)
{
	fixture *f = *state;
	cJSON *v = cJSON_Parse(in), *out = NULL;
	char *s;

	assert_non_null(v);
	if (bk_tpl_decode(&out, &f->c, v, "builders[0].x", k) != 0)
		s = bk_sprintf("ERR: %s", bk_err_msg());
	else
		s = out ? cJSON_PrintUnformatted(out) : bk_strdup("null");
	cJSON_Delete(v);
	cJSON_Delete(out);
	return s;
}

#define EXPECT(in, k, want) do { \
	char *got_ = dec(state, in, k); \
	if (strcmp(got_, want) != 0) \
		fail_msg("%s as '%c': got %s, want %s", in, k, got_, want); \
	free(got_); \
} while (0)

#define EXPECT_ERR(in, k, needle) do { \
	char *got_ = dec(state, in, k); \
	if (strncmp(got_, "ERR: ", 5) != 0 || !strstr(got_, needle)) \
		fail_msg("%s as '%c': got %s, want an error with %s", in, k, got_, needle); \
	free(got_); \
} while (0)

/* string <- bool "1"/"0"; number through FormatFloat(v, 'f', -1, 64). */
static void test_string_from_scalars(void **state)
{
	EXPECT("\"t3.micro\"", 's', "\"t3.micro\"");
	EXPECT("true", 's', "\"1\"");
	EXPECT("false", 's', "\"0\"");
	EXPECT("5", 's', "\"5\"");
	EXPECT("2.5", 's', "\"2.5\"");
	EXPECT("-0.125", 's', "\"-0.125\"");
	EXPECT("0.001", 's', "\"0.001\"");
	EXPECT("1e21", 's', "\"1000000000000000000000\"");
	EXPECT("12345678901234567890", 's', "\"12345678901234567000\"");
	EXPECT("100", 's', "\"100\"");
	EXPECT("0", 's', "\"0\"");
	EXPECT_ERR("[\"a\"]", 's', "builders[0].x: expected a string, got array");
	EXPECT_ERR("{}", 's', "expected a string, got object");
}

/* bool <- strconv.ParseBool ("" false), numbers != 0. */
static void test_bool(void **state)
{
	static const char *const yes[] = {"\"1\"", "\"t\"", "\"T\"", "\"TRUE\"", "\"true\"",
					  "\"True\"", "true", "1", "-3", "0.5"};
	static const char *const no[] = {"\"0\"", "\"f\"", "\"F\"", "\"FALSE\"", "\"false\"",
					 "\"False\"", "\"\"", "false", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		EXPECT(yes[i], 'b', "true");
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		EXPECT(no[i], 'b', "false");
	EXPECT_ERR("\"yes\"", 'b', "expected true or false, got \"yes\"");
	EXPECT_ERR("\"tRUE\"", 'b', "got \"tRUE\"");
	EXPECT_ERR("[true]", 'b', "expected true or false, got array");
}

/* Trilean: "" unset; a number is the raw value (0 unset, 1 true). */
static void test_trilean(void **state)
{
	EXPECT("\"\"", 't', "null");
	EXPECT("true", 't', "true");
	EXPECT("\"false\"", 't', "false");
	EXPECT("0", 't', "null");
	EXPECT("1", 't', "true");
	EXPECT("2", 't', "false");
	EXPECT_ERR("\"maybe\"", 't', "got \"maybe\"");
}

/* int <- a float truncates, a bool is 1/0, a string is ParseInt(s, 0, 64). */
static void test_int(void **state)
{
	EXPECT("22", 'i', "22");
	EXPECT("2.9", 'i', "2");
	EXPECT("-2.9", 'i', "-2");
	EXPECT("true", 'i', "1");
	EXPECT("false", 'i', "0");
	EXPECT("\"22\"", 'i', "22");
	EXPECT("\"0x10\"", 'i', "16");
	EXPECT("\"010\"", 'i', "8");
	EXPECT("\"0b101\"", 'i', "5");
	EXPECT("\"0o17\"", 'i', "15");
	EXPECT("\"1_000\"", 'i', "1000");
	EXPECT("\"-7\"", 'i', "-7");
	EXPECT("\"\"", 'i', "0");   /* Debian's Packer 1.6.6 (mapstructure 1.5) */
	EXPECT_ERR("\"2.5\"", 'i', "expected an integer, got \"2.5\"");
	EXPECT_ERR("\"twenty\"", 'i', "got \"twenty\"");
	EXPECT_ERR("\"1__0\"", 'i', "got \"1__0\"");
	EXPECT_ERR("\"0x\"", 'i', "got \"0x\"");
	EXPECT_ERR("\" 5\"", 'i', "got \" 5\"");
	EXPECT_ERR("[1]", 'i', "expected an integer, got array");
}

/* Duration <- ParseDuration; a number is nanoseconds (with a warning). */
static void test_duration(void **state)
{
	fixture *f = *state;

	EXPECT("\"5m\"", 'd', "300");
	EXPECT("\"1h30m\"", 'd', "5400");
	EXPECT("\"1.5s\"", 'd', "1.5");
	EXPECT("\"0\"", 'd', "0");
	EXPECT_ERR("\"5\"", 'd', "invalid duration \"5\"");
	EXPECT_ERR("\"\"", 'd', "invalid duration \"\"");
	EXPECT("2000000000", 'd', "2");
	assert_int_equal(f->warnings.count, 1);
	assert_non_null(strstr(f->warnings.items[0], "builders[0].x: a number is a count of "
				"nanoseconds in Packer"));
	EXPECT_ERR("{}", 'd', "expected a duration string");
}

/* []string <- a string split on "," (no trimming, "" is []); {} is [];
 * any other single value a list of one; elements decoded, null is "". */
static void test_string_list(void **state)
{
	EXPECT("\"us-east-1,us-west-2\"", 'v', "[\"us-east-1\",\"us-west-2\"]");
	EXPECT("\"a, b\"", 'v', "[\"a\",\" b\"]");
	EXPECT("\"a,,b,\"", 'v', "[\"a\",\"\",\"b\",\"\"]");
	EXPECT("\"echo hi\"", 'v', "[\"echo hi\"]");
	EXPECT("\"\"", 'v', "[]");
	EXPECT("{}", 'v', "[]");
	EXPECT("[]", 'v', "[]");
	EXPECT("3", 'v', "[\"3\"]");
	EXPECT("true", 'v', "[\"1\"]");
	EXPECT("[\"a\",1,false,null,2.5]", 'v', "[\"a\",\"1\",\"0\",\"\",\"2.5\"]");
	EXPECT_ERR("[\"a\",[\"b\"]]", 'v', "builders[0].x[1]: expected a string, got array");
	EXPECT_ERR("{\"a\":1}", 'v', "builders[0].x[0]: expected a string, got object");
}

/* []int: the same, elements as ints. */
static void test_int_list(void **state)
{
	EXPECT("\"0,3\"", 'n', "[0,3]");
	EXPECT("3", 'n', "[3]");
	EXPECT("[0,\"2\",true,null]", 'n', "[0,2,1,0]");
	EXPECT("\"\"", 'n', "[]");
	EXPECT_ERR("\"0, 3\"", 'n', "builders[0].x[1]: expected an integer, got \" 3\"");
}

/* map[string]string: scalar values as strings, null "" (key kept); a
 * list of objects is merged; nested values are errors. */
static void test_string_map(void **state)
{
	EXPECT("{\"n\":3,\"b\":true,\"z\":null,\"s\":\"x\"}", 'k',
	       "{\"n\":\"3\",\"b\":\"1\",\"z\":\"\",\"s\":\"x\"}");
	EXPECT("[{\"a\":\"1\"},{\"b\":2,\"a\":\"3\"}]", 'k', "{\"a\":\"3\",\"b\":\"2\"}");
	EXPECT("[]", 'k', "{}");
	EXPECT_ERR("{\"a\":{\"b\":1}}", 'k', "builders[0].x.a: expected a string, got object");
	EXPECT_ERR("[\"Name\"]", 'k', "builders[0].x[0]: expected an object of strings, got string");
	EXPECT_ERR("\"a=b\"", 'k', "expected an object of strings, got string");
	EXPECT_ERR("{\"\":\"x\"}", 'k', "a key must not be empty");
}

/* null sets nothing, whatever the kind. */
static void test_null(void **state)
{
	static const char kinds[] = "sbtidvnk";

	for (const char *k = kinds; *k; k++)
		EXPECT("null", *k, "null");
}

/* The readers put the decoded value in the rendered object (so later
 * readers of it agree) and record it under its path for --dump-plan; a
 * null leaves the field as it was. */
static void test_readers_decode_in_place(void **state)
{
	fixture *f = *state;
	cJSON *obj = cJSON_Parse("{\"ami_regions\":\"a,b\",\"ssh_port\":\"2222\","
				 "\"ebs\":null}");
	bk_strv regions = BK_STRV_INIT;
	int port = 22, ebs = -1;

	assert_non_null(obj);
	assert_int_equal(bk_tpl_get_opt(&regions, &f->c, obj, "ami_regions", "builders[0]", 'v'), 0);
	assert_int_equal(bk_tpl_get_opt(&port, &f->c, obj, "ssh_port", "builders[0]", 'i'), 0);
	assert_int_equal(bk_tpl_get_opt(&ebs, &f->c, obj, "ebs", "builders[0]", 'b'), 0);
	assert_int_equal(regions.count, 2);
	assert_string_equal(regions.items[1], "b");
	assert_int_equal(port, 2222);
	assert_int_equal(ebs, -1);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(obj, "ami_regions")));
	assert_int_equal(cJSON_GetObjectItem(obj, "ssh_port")->valuedouble, 2222);
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(f->cfg.decoded, "builders[0].ami_regions")));
	assert_int_equal(cJSON_GetObjectItem(f->cfg.decoded, "builders[0].ssh_port")->valuedouble,
			 2222);
	assert_null(cJSON_GetObjectItem(f->cfg.decoded, "builders[0].ebs"));
	bk_strv_free(&regions);
	cJSON_Delete(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_string_from_scalars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trilean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_decode_in_place, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
