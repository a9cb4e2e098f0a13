/*
 * report.c - the test report: its cases, counts and the console table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

#define NAME_COL_MAX 60   /* a longer check name is cut in the table */

static void case_free(bk_test_case *c)
{
	free(c->suite);
	free(c->name);
	free(c->classname);
	free(c->message);
	free(c->output);
}

void bk_test_report_free(bk_test_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		case_free(&r->cases[i]);
	free(r->cases);
	memset(r, 0, sizeof(*r));
}

static int report_grow(bk_test_report *r)
{
	size_t cap = r->cap ? r->cap * 2 : 16;
	bk_test_case *p;

	if (r->count < r->cap)
		return 0;
	if (!(p = realloc(r->cases, cap * sizeof(*p))))
		return bk_oom();
	r->cases = p;
	r->cap = cap;
	return 0;
}

int bk_test_report_add(bk_test_report *r, const char *suite, const char *name,
		       const char *classname, bk_test_status status, double seconds,
		       const char *message, const char *output)
{
	bk_test_case c = {bk_strdup(suite ? suite : "tests"), bk_strdup(name ? name : "test"),
			  bk_strdup(classname ? classname : "test"), status, seconds,
			  bk_strdup(message), bk_strdup(output)};

	if (!c.suite || !c.name || !c.classname || (message && !c.message) ||
	    (output && !c.output) || report_grow(r) < 0) {
		case_free(&c);
		return bk_oom();
	}
	r->cases[r->count++] = c;
	return 0;
}

size_t bk_test_report_count(const bk_test_report *r, bk_test_status status)
{
	size_t n = 0;

	for (size_t i = 0; r && i < r->count; i++)
		n += r->cases[i].status == status;
	return n;
}

/* ---- the table ------------------------------------------------------ */

/* Columns are counted in characters, not bytes: names may hold UTF-8. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* Append s padded (or cut, with "...") to exactly width characters. */
static int put_cell(bk_buf *b, const char *s, size_t width)
{
	size_t w = text_width(s), i = 0, chars = 0;
	int rc = 0;

	if (w <= width) {
		rc = bk_buf_puts(b, s);
		for (; rc == 0 && w < width; w++)
			rc = bk_buf_putc(b, ' ');
		return rc;
	}
	while (s[i] && chars < width - 3) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	rc = bk_buf_put(b, s, i);
	return rc ? rc : bk_buf_puts(b, "...");
}

static const char *status_word(bk_test_status s)
{
	switch (s) {
	case BK_TEST_PASSED: return "passed";
	case BK_TEST_FAILED: return "FAILED";
	case BK_TEST_ERROR: return "ERROR";
	case BK_TEST_SKIPPED: return "skipped";
	}
	return "?";
}

static size_t name_width(const bk_test_report *r)
{
	size_t w = strlen("CHECK");

	for (size_t i = 0; i < r->count; i++) {
		size_t n = text_width(r->cases[i].name);
		w = n > w ? n : w;
	}
	return w > NAME_COL_MAX ? NAME_COL_MAX : w;
}

static void emit_row(bk_buf *b, size_t width, const char *name, const char *result,
		     const char *duration, const char *reason,
		     void (*emit)(const char *, void *), void *payload)
{
	char *first = bk_first_line(reason, 400);
	size_t len;

	bk_buf_clear(b);
	put_cell(b, name, width);
	bk_buf_printf(b, "  %-8s %-9s %s", result, duration, first ? first : "");
	/* No trailing blanks on rows without a reason. */
	for (len = b->len; len > 0 && b->ptr[len - 1] == ' '; len--)
		b->ptr[len - 1] = '\0';
	b->len = len;
	if (b->ptr)
		emit(b->ptr, payload);
	free(first);
}

static void emit_summary(bk_buf *b, const bk_test_report *r, double total,
			 void (*emit)(const char *, void *), void *payload)
{
	bk_buf_clear(b);
	bk_buf_printf(b, "%zu tests: %zu passed, %zu failed, %zu errors, %zu skipped (%.2fs)",
		      r->count, bk_test_report_count(r, BK_TEST_PASSED),
		      bk_test_report_count(r, BK_TEST_FAILED), bk_test_report_count(r, BK_TEST_ERROR),
		      bk_test_report_count(r, BK_TEST_SKIPPED), total);
	if (b->ptr)
		emit(b->ptr, payload);
}

void bk_test_report_table(const bk_test_report *r,
			  void (*emit)(const char *line, void *payload), void *payload)
{
	bk_buf b = BK_BUF_INIT;
	size_t width = name_width(r);
	const char *suite = NULL;
	char dur[32];
	double total = 0;

	emit_row(&b, width, "CHECK", "RESULT", "DURATION", "REASON", emit, payload);
	for (size_t i = 0; i < r->count; i++) {
		const bk_test_case *c = &r->cases[i];
		if (!suite || strcmp(suite, c->suite) != 0) {
			suite = c->suite;
			bk_buf_clear(&b);
			if (bk_buf_printf(&b, "-- %s", suite) == 0)
				emit(b.ptr, payload);
		}
		snprintf(dur, sizeof(dur), "%.2fs", c->seconds);
		emit_row(&b, width, c->name, status_word(c->status), dur,
			 c->status == BK_TEST_PASSED ? "" : c->message, emit, payload);
		total += c->seconds;
	}
	emit_summary(&b, r, total, emit, payload);
	bk_buf_free(&b);
}
