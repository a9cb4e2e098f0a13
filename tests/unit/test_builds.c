/*
 * test_builds.c - Packer 1.6.6's build selection (exact names: its JSON
 * mode has no globs) and the console text of `bakeami build`
 * (native/cli/packer_ui.c: machine-readable escaping, prefixes, colours,
 * durafmt durations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/template.h"
#include "../../native/cli/packer_ui.c"

static bool sel(const char *name, const char *const *only, size_t no, const char *const *except,
		size_t ne)
{
	return bk_build_selected(name, only, no, except, ne);
}

static void test_selection__exact_names(void **state)
{
	const char *const only[] = {"web", "amazon-ebs"};
	const char *const glob[] = {"we*"};
	const char *const except[] = {"web"};

	(void)state;
	assert_true(sel("web", NULL, 0, NULL, 0));          /* no filter: every build */
	assert_true(sel("web", only, 2, NULL, 0));
	assert_true(sel("amazon-ebs", only, 2, NULL, 0));
	assert_false(sel("db", only, 2, NULL, 0));
	assert_false(sel("web", glob, 1, NULL, 0));         /* no globs in JSON mode */
	assert_false(sel("WEB", only, 2, NULL, 0));         /* case matters */
	assert_false(sel("web", NULL, 0, except, 1));
	assert_true(sel("webs", NULL, 0, except, 1));        /* no prefix match */
	assert_false(sel("web", only, 2, except, 1));        /* except wins over only */
}

static void test_selection__runnable_types(void **state)
{
	(void)state;
	assert_true(bk_builder_type_runnable("amazon-ebs"));
	assert_true(bk_builder_type_runnable("amazon-instance"));
	assert_false(bk_builder_type_runnable("docker"));
	assert_false(bk_builder_type_runnable("amazon-chroot"));
}

static void check_str(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_machine__escaping(void **state)
{
	const char *const args[] = {"0", "id", "us-east-1:ami-1,us-west-2:ami-2"};
	const char *const text[] = {"say", "a,b\r\nc\\n"};

	(void)state;
	check_str(pui_escape("a,b,,c"), "a%!(PACKER_COMMA)b%!(PACKER_COMMA)%!(PACKER_COMMA)c");
	check_str(pui_escape("x\ny\rz"), "x\\ny\\rz");
	check_str(pui_escape(""), "");
	check_str(pui_machine_line(1700000000, "web", "artifact", args, 3),
		  "1700000000,web,artifact,0,id,us-east-1:ami-1%!(PACKER_COMMA)us-west-2:ami-2\n");
	check_str(pui_machine_line(5, NULL, "ui", text, 2), "5,,ui,say,a%!(PACKER_COMMA)b\\r\\nc\\n\n");
	check_str(pui_machine_line(5, "web", "artifact-count", NULL, 0), "5,web,artifact-count,\n");
}

static void test_ui__prefixes_and_colours(void **state)
{
	(void)state;
	check_str(pui_prefix_lines(1, "web", "one\ntwo"), "==> web: one\n==> web: two");
	check_str(pui_prefix_lines(0, "web", "out  \n"), "    web: out  \n    web:");
	check_str(pui_prefix_lines(1, "web", ""), "==> web:");
	check_str(pui_colorize("hi", 36, 1), "\033[1;36mhi\033[0m");
	check_str(pui_colorize("hi", 32, 0), "\033[0;32mhi\033[0m");
}

static void test_ui__durations(void **state)
{
	(void)state;
	check_str(pui_duration(0.004195), "4 milliseconds 195 microseconds");
	check_str(pui_duration(62.5), "1 minute 2 seconds");
	check_str(pui_duration(3600), "1 hour");
	check_str(pui_duration(2 * 3600 + 1.25), "2 hours 1 second");
	check_str(pui_duration(1), "1 second");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selection__exact_names),
		cmocka_unit_test(test_selection__runnable_types),
		cmocka_unit_test(test_machine__escaping),
		cmocka_unit_test(test_ui__prefixes_and_colours),
		cmocka_unit_test(test_ui__durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
