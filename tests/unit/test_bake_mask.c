/* test_bake_mask.c - secrets never reach an event: several occurrences,
 * overlapping and nested secrets, a secret of several lines printed a line
 * at a time (as output reaches the log), in text, console line and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bake/bake.h"

static struct {
	char text[8][256], line[8][512], json[8][1024];
	size_t n;
} E;

static void record(const bakeami_event *ev, void *payload)
{
	(void)payload;
	if (E.n < 8) {
		snprintf(E.text[E.n], sizeof(E.text[0]), "%s", ev->text);
		snprintf(E.line[E.n], sizeof(E.line[0]), "%s", ev->line);
		snprintf(E.json[E.n], sizeof(E.json[0]), "%s", ev->json);
		E.n++;
	}
}

static bakeami_bake *bake_with(const char *const *secrets, size_t n)
{
	bakeami_options o = BAKEAMI_OPTIONS_INIT;
	bakeami_bake *b = NULL;

	memset(&E, 0, sizeof(E));
	o.template_path = "never-read.json";
	o.log_cb = record;
	assert_int_equal(bakeami_bake_new(&b, &o), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bk_add_secret(b, secrets[i]), 0);
	return b;
}

static void assert_masked(const bakeami_bake *b, const char *text, const char *want)
{
	char *got = bk_mask(b, text);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_mask__every_occurrence(void **state)
{
	const char *s[] = {"hunter2-secret"};
	bakeami_bake *b = bake_with(s, 1);

	(void)state;
	assert_masked(b, "a hunter2-secret b hunter2-secret", "a <sensitive> b <sensitive>");
	assert_masked(b, "nothing here", "nothing here");
	assert_masked(b, NULL, "");
	bakeami_bake_free(b);
}

/* Masking one secret must not leave the rest of another that overlaps it. */
static void test_mask__overlapping_and_nested_secrets(void **state)
{
	const char *s[] = {"abcdef", "cdefgh", "XsecretvalueX", "secretvalue"};
	bakeami_bake *b = bake_with(s, 4);

	(void)state;
	assert_masked(b, "xxabcdefghyy", "xx<sensitive>yy");
	assert_masked(b, "xxcdefghabcdefyy", "xx<sensitive>yy");
	assert_masked(b, "[secretvalue] [XsecretvalueX]", "[<sensitive>] [<sensitive>]");
	/* overlapping occurrences of one secret */
	bakeami_bake_free(b);
	const char *r[] = {"abab"};
	b = bake_with(r, 1);
	assert_masked(b, "-ababab-", "-<sensitive>-");
	bakeami_bake_free(b);
}

static void test_mask__short_secrets_are_not_masked(void **state)
{
	const char *s[] = {"abc", ""};
	bakeami_bake *b = bake_with(s, 2);

	(void)state;
	assert_int_equal(b->secrets.count, 0);
	assert_masked(b, "abc", "abc");
	bakeami_bake_free(b);
}

/* A private key printed by a provisioner arrives one line per event. */
static void test_mask__secret_split_across_output_lines(void **state)
{
	const char *s[] = {"-----BEGIN KEY-----\r\nAAAAfirstlineofkey\nBBBBsecondlineofkey\n-----END KEY-----"};
	const char *lines[] = {"cat key:", "AAAAfirstlineofkey", "BBBBsecondlineofkey", "done"};
	bakeami_bake *b = bake_with(s, 1);

	(void)state;
	for (size_t i = 0; i < 4; i++)
		bk_output_line(1, lines[i], strlen(lines[i]), b);
	assert_int_equal(E.n, 4);
	assert_string_equal(E.text[0], "cat key:");
	assert_string_equal(E.text[1], "<sensitive>");
	assert_string_equal(E.text[2], "<sensitive>");
	assert_string_equal(E.text[3], "done");
	for (size_t i = 0; i < 4; i++) {
		assert_null(strstr(E.line[i], "lineofkey"));
		assert_null(strstr(E.json[i], "lineofkey"));
	}
	/* the whole secret in one text, as in an error message, goes too */
	assert_masked(b, "key: -----BEGIN KEY-----\r\nAAAAfirstlineofkey\nBBBBsecondlineofkey\n"
		      "-----END KEY----- end", "key: <sensitive> end");
	bakeami_bake_free(b);
}

static void test_mask__events_carry_no_secret(void **state)
{
	const char *s[] = {"p4ssw0rd-value"};
	bakeami_bake *b = bake_with(s, 1);

	(void)state;
	bk_warn(b, "the password is %s", "p4ssw0rd-value");
	assert_int_equal(E.n, 1);
	assert_string_equal(E.text[0], "the password is <sensitive>");
	assert_non_null(strstr(E.line[0], "WARNING: the password is <sensitive>"));
	assert_null(strstr(E.json[0], "p4ssw0rd"));
	bakeami_bake_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask__every_occurrence),
		cmocka_unit_test(test_mask__overlapping_and_nested_secrets),
		cmocka_unit_test(test_mask__short_secrets_are_not_masked),
		cmocka_unit_test(test_mask__secret_split_across_output_lines),
		cmocka_unit_test(test_mask__events_carry_no_secret),
	};
	return cmocka_run_group_tests_name("bake masking", tests, NULL, NULL);
}
