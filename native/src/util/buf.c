/* buf.c - growable buffers, string vectors and key/value lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int buf_grow(bk_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 64;
	char *p;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (!(p = realloc(b->ptr, cap)))
		return bk_oom();
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int bk_buf_put(bk_buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n) < 0)
		return bk_oom();
	if (n)
		memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

int bk_buf_puts(bk_buf *b, const char *s)
{
	return bk_buf_put(b, s, strlen(s));
}

int bk_buf_putc(bk_buf *b, char c)
{
	return bk_buf_put(b, &c, 1);
}

int bk_buf_vprintf(bk_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return bk_oom();
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int bk_buf_printf(bk_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = bk_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *bk_buf_detach(bk_buf *b)
{
	char *p = b->ptr ? b->ptr : bk_strdup("");

	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void bk_buf_clear(bk_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void bk_buf_free(bk_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

int bk_strv_push(bk_strv *v, const char *s)
{
	char *copy;

	if (v->count + 2 > v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		char **p = realloc(v->items, cap * sizeof(*p));
		if (!p)
			return bk_oom();
		v->items = p;
		v->cap = cap;
	}
	if (!(copy = bk_strdup(s)))
		return bk_oom();
	v->items[v->count++] = copy;
	v->items[v->count] = NULL;
	return 0;
}

void bk_strv_free(bk_strv *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->count = v->cap = 0;
}

int bk_kv_add(bk_kv *kv, const char *k, const char *v)
{
	char *kc, *vc;

	if (kv->count == kv->cap) {
		size_t cap = kv->cap ? kv->cap * 2 : 8;
		char **pk = realloc(kv->keys, cap * sizeof(*pk));
		if (!pk)
			return bk_oom();
		kv->keys = pk;
		char **pv = realloc(kv->vals, cap * sizeof(*pv));
		if (!pv)
			return bk_oom();
		kv->vals = pv;
		kv->cap = cap;
	}
	kc = bk_strdup(k);
	vc = bk_strdup(v ? v : "");
	if (!kc || !vc) {
		free(kc);
		free(vc);
		return bk_oom();
	}
	kv->keys[kv->count] = kc;
	kv->vals[kv->count++] = vc;
	return 0;
}

int bk_kv_set(bk_kv *kv, const char *k, const char *v)
{
	for (size_t i = 0; i < kv->count; i++) {
		if (strcmp(kv->keys[i], k) == 0) {
			char *vc = bk_strdup(v ? v : "");
			if (!vc)
				return bk_oom();
			free(kv->vals[i]);
			kv->vals[i] = vc;
			return 0;
		}
	}
	return bk_kv_add(kv, k, v);
}

const char *bk_kv_get(const bk_kv *kv, const char *k)
{
	for (size_t i = 0; i < kv->count; i++)
		if (strcmp(kv->keys[i], k) == 0)
			return kv->vals[i];
	return NULL;
}

void bk_kv_free(bk_kv *kv)
{
	for (size_t i = 0; i < kv->count; i++) {
		free(kv->keys[i]);
		free(kv->vals[i]);
	}
	free(kv->keys);
	free(kv->vals);
	memset(kv, 0, sizeof(*kv));
}

int bk_sh_quote(bk_buf *b, const char *s)
{
	int rc = bk_buf_putc(b, '\'');

	for (; rc == 0 && *s; s++)
		rc = *s == '\'' ? bk_buf_puts(b, "'\\''") : bk_buf_putc(b, *s);
	return rc ? rc : bk_buf_putc(b, '\'');
}
