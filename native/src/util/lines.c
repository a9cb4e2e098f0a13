/*
 * lines.c - cut a byte stream into lines for live output (see util.h for
 * the policy). Bytes are copied once into the unfinished-line buffer;
 * what has been passed on is dropped from its front.
 */
#include <string.h>

#include "util.h"

static void emit(bk_lines *l, const char *s, size_t n)
{
	if (l->cb)
		l->cb(l->stream, s, n, l->payload);
}

/* A complete line: its "\r\n" counts as the line end. */
static void emit_line(bk_lines *l, const char *s, size_t n)
{
	emit(l, s, n > 0 && s[n - 1] == '\r' ? n - 1 : n);
}

/* Bytes of s[0..n) that belong to the line's text: a final '\r' may be
 * the start of "\r\n" and is not yet text. */
static size_t text_len(const char *s, size_t n)
{
	return n > 0 && s[n - 1] == '\r' ? n - 1 : n;
}

int bk_lines_feed(bk_lines *l, const void *data, size_t n)
{
	bk_buf *b = &l->part;
	size_t start = 0;

	if (n == 0)
		return 0;
	if (bk_buf_put(b, data, n) < 0)
		return bk_oom();
	for (;;) {
		char *s = b->ptr + start, *nl = memchr(s, '\n', b->len - start);
		size_t len = nl ? (size_t)(nl - s) : b->len - start;
		if (text_len(s, len) > BK_LINE_MAX_BYTES) {
			emit(l, s, BK_LINE_MAX_BYTES);
			start += BK_LINE_MAX_BYTES;
			continue;
		}
		if (!nl)
			break;
		emit_line(l, s, len);
		start += len + 1;
	}
	memmove(b->ptr, b->ptr + start, b->len - start);
	b->len -= start;
	b->ptr[b->len] = '\0';
	return 0;
}

void bk_lines_finish(bk_lines *l)
{
	if (l->part.len > 0)
		emit_line(l, l->part.ptr, l->part.len);
	bk_buf_free(&l->part);
}
