/* test_template_bad.c - every case of tests/templates/bad/cases.tsv through
 * the validation pass (bk_template_validate, as bakes and `bakeami validate`
 * call it): BAKEAMI_EINVALID (exit 2) and the expected message.
 * The CLI's e2e runs the same table through `bakeami validate`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/template.h"

#define BAD_DIR "tests/templates/bad/"
#define MAX_CASES 256

typedef struct {
	char *name, *args, *needle;
	int exit_code;
} bad_case;

/* Split a TSV line in place: empty fields stay (args is often empty). */
static int split_tabs(char *line, char **fields, int max)
{
	int n = 0;

	fields[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	return n;
}

static size_t read_cases(bad_case *cases, size_t max)
{
	FILE *f = fopen(BAD_DIR "cases.tsv", "r");
	char line[2048], *fl[4];
	size_t n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || !line[0] || split_tabs(line, fl, 4) != 4)
			continue;
		cases[n].name = bk_strdup(fl[0]);
		cases[n].args = bk_strdup(fl[1]);
		cases[n].exit_code = atoi(fl[2]);
		cases[n].needle = bk_strdup(fl[3]);
		n++;
	}
	fclose(f);
	return n;
}

/* The CLI's -var K=V and -var-file F (no quoting in the table). */
static void parse_args(char *args, bk_strv *files, bk_strv *vars)
{
	char *save = NULL, *tok = strtok_r(args, " ", &save);

	while (tok) {
		char *val = strtok_r(NULL, " ", &save);
		if (strcmp(tok, "-var-file") == 0 && val)
			bk_strv_push(files, val);
		else if (strcmp(tok, "-var") == 0 && val)
			bk_strv_push(vars, val);
		else
			fail_msg("cases.tsv: cannot read the args at \"%s\"", tok);
		tok = strtok_r(NULL, " ", &save);
	}
}

static void test_bad_case(void **state)
{
	const bad_case *c = *state;
	bk_strv files = BK_STRV_INIT, vars = BK_STRV_INIT;
	char *path = bk_sprintf(BAD_DIR "%s", c->name), *args = bk_strdup(c->args);
	bk_template_source src = {.path = path, .var_files = NULL, .var_files_count = 0, .vars = NULL, .vars_count = 0};
	bk_template *tpl = NULL;
	int rc;

	parse_args(args, &files, &vars);
	src.var_files = (const char *const *)files.items;
	src.var_files_count = files.count;
	src.vars = (const char *const *)vars.items;
	src.vars_count = vars.count;
	rc = bk_template_validate(&tpl, NULL, &src);
	if (rc != BAKEAMI_EINVALID || bakeami_exit_code(rc) != c->exit_code)
		fail_msg("%s: rc %d (%s), want exit %d", c->name, rc, bk_err_msg(), c->exit_code);
	assert_null(tpl);
	if (!strstr(bk_err_msg(), c->needle))
		fail_msg("%s:\n  message: %s\n  lacks:   %s", c->name, bk_err_msg(), c->needle);
	bk_strv_free(&files);
	bk_strv_free(&vars);
	free(args);
	free(path);
}

static void test_enough_cases(void **state)
{
	assert_true((size_t)(uintptr_t)*state >= 30);
}

int main(void)
{
	static bad_case cases[MAX_CASES];
	static struct CMUnitTest tests[MAX_CASES + 1];
	size_t n = read_cases(cases, MAX_CASES);
	int rc;

	for (size_t i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){cases[i].name, test_bad_case, NULL, NULL, &cases[i]};
	tests[n] = (struct CMUnitTest){"at least 30 cases", test_enough_cases, NULL, NULL,
				       (void *)(uintptr_t)n};
	rc = _cmocka_run_group_tests("template_bad", tests, n + 1, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		free(cases[i].name);
		free(cases[i].args);
		free(cases[i].needle);
	}
	return rc;
}
