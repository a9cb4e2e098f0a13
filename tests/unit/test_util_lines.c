/*
 * test_util_lines.c - the one line splitter (util/lines.c): lines split
 * across chunks, CRLF, over-long lines cut into BK_LINE_MAX_BYTES pieces
 * (none dropped), the unfinished last line, NUL bytes, the stream number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

/* Every line the splitter passes on, in order. */
typedef struct {
	bk_buf text[64];
	int stream[64];
	size_t count;
} seen;

static void on_line(int stream, const char *line, size_t len, void *payload)
{
	seen *s = payload;

	assert_true(s->count < BK_ARRAY_SIZE(s->text));
	s->text[s->count] = (bk_buf)BK_BUF_INIT;
	assert_int_equal(bk_buf_put(&s->text[s->count], line, len), 0);
	s->stream[s->count++] = stream;
}

static void seen_free(seen *s)
{
	for (size_t i = 0; i < s->count; i++)
		bk_buf_free(&s->text[i]);
}

static void assert_line(const seen *s, size_t i, const char *want)
{
	assert_true(i < s->count);
	assert_int_equal(s->text[i].len, strlen(want));
	assert_memory_equal(s->text[i].len ? s->text[i].ptr : "", want, strlen(want));
}

static void feed(bk_lines *l, const char *s)
{
	assert_int_equal(bk_lines_feed(l, s, strlen(s)), 0);
}

static void test_lines__split_across_chunks(void **state)
{
	seen s = {0};
	bk_lines l = BK_LINES_INIT(2, on_line, &s);

	(void)state;
	feed(&l, "hel");
	assert_int_equal(s.count, 0);
	feed(&l, "lo\nwor");
	assert_int_equal(s.count, 1);
	feed(&l, "ld\n\nlast");
	assert_int_equal(s.count, 3);
	bk_lines_finish(&l);
	assert_int_equal(s.count, 4);
	assert_line(&s, 0, "hello");
	assert_line(&s, 1, "world");
	assert_line(&s, 2, "");
	assert_line(&s, 3, "last");
	for (size_t i = 0; i < s.count; i++)
		assert_int_equal(s.stream[i], 2);
	seen_free(&s);
}

static void test_lines__crlf(void **state)
{
	seen s = {0};
	bk_lines l = BK_LINES_INIT(1, on_line, &s);

	(void)state;
	feed(&l, "a\r\nb\r");            /* "\r\n" split across chunks */
	feed(&l, "\nc\rd\n");            /* a lone '\r' inside a line is text */
	feed(&l, "tail\r");
	bk_lines_finish(&l);
	assert_int_equal(s.count, 4);
	assert_line(&s, 0, "a");
	assert_line(&s, 1, "b");
	assert_line(&s, 2, "c\rd");
	assert_line(&s, 3, "tail");
	seen_free(&s);
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* 2.5 pieces' worth in one line: pieces of exactly the maximum, then the
 * rest as the line's end; nothing dropped, the next line intact. */
static void test_lines__over_long_line_is_split_not_dropped(void **state)
{
	size_t n = BK_LINE_MAX_BYTES * 2 + BK_LINE_MAX_BYTES / 2;
	char *big = repeat('x', n);
	seen s = {0};
	bk_lines l = BK_LINES_INIT(1, on_line, &s);

	(void)state;
	for (size_t off = 0; off < n; off += 1000)    /* in chunks, as a pipe delivers */
		assert_int_equal(bk_lines_feed(&l, big + off, n - off < 1000 ? n - off : 1000), 0);
	assert_int_equal(s.count, 2);
	feed(&l, "\nnext\n");
	bk_lines_finish(&l);
	assert_int_equal(s.count, 4);
	assert_int_equal(s.text[0].len, BK_LINE_MAX_BYTES);
	assert_int_equal(s.text[1].len, BK_LINE_MAX_BYTES);
	assert_int_equal(s.text[2].len, BK_LINE_MAX_BYTES / 2);
	assert_int_equal(s.text[0].len + s.text[1].len + s.text[2].len, n);
	assert_memory_equal(s.text[2].ptr, big, s.text[2].len);
	assert_line(&s, 3, "next");
	free(big);
	seen_free(&s);
}

/* A line of exactly the maximum, with "\r\n", is one line: no empty
 * piece, no '\r' left over. */
static void test_lines__line_of_exactly_the_maximum(void **state)
{
	char *max = repeat('y', BK_LINE_MAX_BYTES);
	seen s = {0};
	bk_lines l = BK_LINES_INIT(1, on_line, &s);

	(void)state;
	feed(&l, max);
	feed(&l, "\r");
	assert_int_equal(s.count, 0);
	feed(&l, "\nz\n");
	bk_lines_finish(&l);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.text[0].len, BK_LINE_MAX_BYTES);
	assert_memory_equal(s.text[0].ptr, max, BK_LINE_MAX_BYTES);
	assert_line(&s, 1, "z");
	free(max);
	seen_free(&s);
}

static void test_lines__final_partial_line_and_nothing_more(void **state)
{
	seen s = {0};
	bk_lines l = BK_LINES_INIT(1, on_line, &s);
	bk_lines quiet = BK_LINES_INIT(1, on_line, &s);

	(void)state;
	feed(&l, "done\n");
	bk_lines_finish(&l);
	assert_int_equal(s.count, 1);                 /* no empty line after a final '\n' */
	bk_lines_finish(&quiet);                      /* nothing fed: nothing passed on */
	assert_int_equal(s.count, 1);
	assert_null(l.part.ptr);                      /* finish frees */
	seen_free(&s);
}

static void test_lines__nul_bytes_are_kept(void **state)
{
	static const char data[] = {'a', '\0', 'b', '\n', '\0', '\n', 'c', '\0'};
	seen s = {0};
	bk_lines l = BK_LINES_INIT(1, on_line, &s);

	(void)state;
	assert_int_equal(bk_lines_feed(&l, data, sizeof(data)), 0);
	bk_lines_finish(&l);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.text[0].len, 3);
	assert_memory_equal(s.text[0].ptr, "a\0b", 3);
	assert_int_equal(s.text[1].len, 1);
	assert_int_equal(s.text[1].ptr[0], '\0');
	assert_int_equal(s.text[2].len, 2);
	assert_memory_equal(s.text[2].ptr, "c\0", 2);
	seen_free(&s);
}

static void test_lines__no_callback_drops_quietly(void **state)
{
	bk_lines l = BK_LINES_INIT(1, NULL, NULL);

	(void)state;
	feed(&l, "x\ny");
	bk_lines_finish(&l);
	assert_null(l.part.ptr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines__split_across_chunks),
		cmocka_unit_test(test_lines__crlf),
		cmocka_unit_test(test_lines__over_long_line_is_split_not_dropped),
		cmocka_unit_test(test_lines__line_of_exactly_the_maximum),
		cmocka_unit_test(test_lines__final_partial_line_and_nothing_more),
		cmocka_unit_test(test_lines__nul_bytes_are_kept),
		cmocka_unit_test(test_lines__no_callback_drops_quietly),
	};
	return cmocka_run_group_tests_name("util_lines", tests, NULL, NULL);
}
