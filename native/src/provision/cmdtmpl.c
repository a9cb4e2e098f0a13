/*
 * cmdtmpl.c - the Go text/template subset Packer's commands use (see
 * cmdtmpl.h). The template is cut into text and action tokens (trimming
 * applied there), then walked once: every branch is parsed and its fields
 * checked, only the branches taken are written.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "cmdtmpl.h"

#define MAX_ARGS 8

typedef struct {
	bool action;
	const char *s;
	size_t len;
} tok;

typedef struct {
	const bk_cmd_field *fields;
	size_t n;
	const char *what;
	tok *toks;
	size_t count, i;
	bk_buf *out;
} rd;

/* A value: a string (owned) or a bool. */
typedef struct {
	char *s;
	bool is_bool, b;
} val;

/* What ends a list of tokens. */
enum { END_EOF, END_ELSE, END_ELSE_IF, END_END };

/* The rest of one action being parsed. */
typedef struct {
	const rd *r;
	const tok *t;
	const char *p, *end;
} expr;

static const char *what_of(const rd *r)
{
	return r->what && *r->what ? r->what : "command";
}

static int act_err(const rd *r, const tok *t, const char *fmt, ...) BK_PRINTF(3, 4);
static int act_err(const rd *r, const tok *t, const char *fmt, ...)
{
	char msg[256];
	int len = (int)(t->len > 60 ? 60 : t->len);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err(BAKEAMI_EINVALID, "%s: %s in \"{{%.*s%s}}\"", what_of(r), msg, len, t->s,
		      t->len > 60 ? "..." : "");
}

/* ---- tokens ---------------------------------------------------------- */

static int push_tok(rd *r, bool action, const char *s, size_t len)
{
	tok *t = realloc(r->toks, (r->count + 1) * sizeof(*t));

	if (!t)
		return bk_oom();
	r->toks = t;
	t[r->count++] = (tok){action, s, len};
	return 0;
}

static void trim_last_text(rd *r)
{
	tok *t = r->count ? &r->toks[r->count - 1] : NULL;

	while (t && !t->action && t->len && isspace((unsigned char)t->s[t->len - 1]))
		t->len--;
}

static int tokenize(rd *r, const char *tmpl)
{
	const char *p = tmpl, *open;
	int rc = 0;

	while (rc == 0 && (open = strstr(p, "{{"))) {
		const char *a = open + 2, *close, *end;
		if ((rc = push_tok(r, false, p, (size_t)(open - p))) < 0)
			return rc;
		if (a[0] == '-' && isspace((unsigned char)a[1])) {
			trim_last_text(r);
			a += 2;
		}
		if (!(close = bk_action_close(a)))
			return bk_err(BAKEAMI_EINVALID, "%s: unterminated {{ at character %zu: no "
				      "matching }}", what_of(r), (size_t)(open - tmpl) + 1);
		end = close;
		if (end - a >= 2 && end[-1] == '-' && isspace((unsigned char)end[-2]))
			end -= 2;
		rc = push_tok(r, true, a, (size_t)(end - a));
		p = close + 2;
		if (end < close)
			while (isspace((unsigned char)*p))
				p++;
	}
	return rc ? rc : push_tok(r, false, p, strlen(p));
}

/* ---- values ---------------------------------------------------------- */

static bool truth(const val *v)
{
	return v->is_bool ? v->b : (v->s && *v->s);
}

static void val_free(val *v)
{
	free(v->s);
	v->s = NULL;
}

static int str_val(val *v, const char *s, size_t len)
{
	*v = (val){bk_strndup(s ? s : "", s ? len : 0), false, false};
	return v->s ? 0 : bk_oom();
}

static void skip_ws(expr *e)
{
	while (e->p < e->end && isspace((unsigned char)*e->p))
		e->p++;
}

static bool ident_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || (!first && isdigit((unsigned char)c));
}

static size_t ident_len(const expr *e)
{
	size_t n = 0;

	while (e->p + n < e->end && ident_char(e->p[n], n == 0))
		n++;
	return n;
}

static bool word_is(const expr *e, size_t n, const char *w)
{
	return strlen(w) == n && strncmp(e->p, w, n) == 0;
}

static int unknown_field(const rd *r, const char *name, size_t len)
{
	bk_buf known = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < r->n; i++)
		rc = bk_buf_printf(&known, "%s.%s", i ? " " : "", r->fields[i].name);
	rc = rc ? rc : bk_err(BAKEAMI_EINVALID, "%s: unknown field .%.*s; known: %s", what_of(r),
			      (int)len, name, known.ptr ? known.ptr : "(none)");
	bk_buf_free(&known);
	return rc;
}

static int field_val(expr *e, val *v)
{
	const char *name = ++e->p;
	size_t len = ident_len(e);

	e->p += len;
	if (len == 0)
		return act_err(e->r, e->t, "a field name must follow the dot");
	if (e->p < e->end && *e->p == '.')
		return act_err(e->r, e->t, "no field has fields of its own");
	for (size_t i = 0; i < e->r->n; i++) {
		const bk_cmd_field *f = &e->r->fields[i];
		if (strlen(f->name) != len || strncmp(f->name, name, len) != 0)
			continue;
		if (!f->is_bool)
			return str_val(v, f->value, f->value ? strlen(f->value) : 0);
		*v = (val){NULL, true, f->value && strcmp(f->value, "true") == 0};
		return 0;
	}
	return unknown_field(e->r, name, len);
}

/* "..." with Go's common escapes, or `...` as written. */
static int string_val(expr *e, val *v)
{
	char q = *e->p++;
	bk_buf b = BK_BUF_INIT;
	int rc = 0;

	for (; rc == 0 && e->p < e->end && *e->p != q; e->p++) {
		char c = *e->p;
		if (q == '"' && c == '\\' && e->p + 1 < e->end) {
			c = *++e->p;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		rc = bk_buf_putc(&b, c);
	}
	if (rc == 0 && e->p >= e->end)
		rc = act_err(e->r, e->t, "unterminated string");
	if (rc < 0) {
		bk_buf_free(&b);
		return rc;
	}
	e->p++;
	rc = str_val(v, b.ptr, b.len);
	bk_buf_free(&b);
	return rc;
}

static int parse_cmd(expr *e, val *v);

static int operand(expr *e, val *v)
{
	size_t n;
	int rc;

	skip_ws(e);
	if (e->p >= e->end)
		return act_err(e->r, e->t, "missing value");
	if (*e->p == '.')
		return field_val(e, v);
	if (*e->p == '"' || *e->p == '`')
		return string_val(e, v);
	if (*e->p == '(') {
		e->p++;
		if ((rc = parse_cmd(e, v)) < 0)
			return rc;
		skip_ws(e);
		if (e->p < e->end && *e->p == ')') {
			e->p++;
			return 0;
		}
		val_free(v);
		return act_err(e->r, e->t, "missing )");
	}
	n = ident_len(e);
	if (word_is(e, n, "true") || word_is(e, n, "false")) {
		*v = (val){NULL, true, *e->p == 't'};
		e->p += n;
		return 0;
	}
	if (n)
		return act_err(e->r, e->t, "a function as an argument needs parentheses: (%.*s ...)",
			       (int)n, e->p);
	return act_err(e->r, e->t, "unexpected '%c'", *e->p);
}

static bool at_end(expr *e)
{
	skip_ws(e);
	return e->p >= e->end || *e->p == ')';
}

static int compare(const expr *e, const val *a, const val *b, bool *same)
{
	if (a->is_bool != b->is_bool)
		return act_err(e->r, e->t, "incompatible types for comparison");
	*same = a->is_bool ? a->b == b->b : strcmp(a->s, b->s) == 0;
	return 0;
}

/* eq A B...: A equals any of the others; ne A B: A differs from B. */
static int fn_eq(const expr *e, bool ne, val *args, size_t n, val *v)
{
	bool hit = false, same;
	int rc = 0;

	if (n < 2 || (ne && n != 2))
		return act_err(e->r, e->t, "%s needs %s arguments", ne ? "ne" : "eq",
			       ne ? "two" : "at least two");
	for (size_t i = 1; rc == 0 && i < n && !hit; i++)
		if ((rc = compare(e, &args[0], &args[i], &same)) == 0)
			hit = same;
	*v = (val){NULL, true, ne ? !hit : hit};
	return rc;
}

/* and/or give back the argument that decided, as Go's do. */
static int fn_andor(bool is_and, val *args, size_t n, val *v)
{
	size_t k = n - 1;

	for (size_t i = 0; i < n - 1; i++)
		if (truth(&args[i]) != is_and) {
			k = i;
			break;
		}
	*v = args[k];
	args[k] = (val){0};
	return 0;
}

static int call(expr *e, const char *name, size_t len, val *args, size_t n, val *v)
{
	if (len == 2 && (!strncmp(name, "eq", 2) || !strncmp(name, "ne", 2)))
		return fn_eq(e, name[0] == 'n', args, n, v);
	if (len == 3 && !strncmp(name, "not", 3)) {
		if (n != 1)
			return act_err(e->r, e->t, "not needs one argument");
		*v = (val){NULL, true, !truth(&args[0])};
		return 0;
	}
	if ((len == 3 && !strncmp(name, "and", 3)) || (len == 2 && !strncmp(name, "or", 2))) {
		if (n == 0)
			return act_err(e->r, e->t, "%.*s needs arguments", (int)len, name);
		return fn_andor(name[0] == 'a', args, n, v);
	}
	return act_err(e->r, e->t, "function \"%.*s\" not defined here (eq, ne, not, and, or "
		       "are)", (int)len, name);
}

/* A function call with its arguments, or one operand. */
static int parse_cmd(expr *e, val *v)
{
	val args[MAX_ARGS] = {{0}};
	const char *name;
	size_t len, n = 0;
	int rc = 0;

	skip_ws(e);
	len = e->p < e->end ? ident_len(e) : 0;
	if (len == 0 || word_is(e, len, "true") || word_is(e, len, "false"))
		return operand(e, v);
	name = e->p;
	e->p += len;
	while (rc == 0 && !at_end(e))
		rc = n == MAX_ARGS ? act_err(e->r, e->t, "too many arguments")
				   : operand(e, &args[n++]);
	if (rc == 0)
		rc = call(e, name, len, args, n, v);
	for (size_t i = 0; i < n; i++)
		val_free(&args[i]);
	return rc;
}

/* A whole pipeline: one command and nothing after it. */
static int eval_expr(const rd *r, const tok *t, const char *p, val *v)
{
	expr e = {r, t, p, t->s + t->len};
	int rc = parse_cmd(&e, v);

	skip_ws(&e);
	if (rc == 0 && e.p < e.end) {
		val_free(v);
		rc = act_err(r, t, *e.p == '|' ? "pipelines are not supported" : "unexpected '%c'",
			     *e.p);
	}
	return rc;
}

/* ---- the walk -------------------------------------------------------- */

static bool keyword(const tok *t, const char *kw, const char **rest)
{
	const char *s = t->s, *end = t->s + t->len;
	size_t n = strlen(kw);

	while (s < end && isspace((unsigned char)*s))
		s++;
	if ((size_t)(end - s) < n || strncmp(s, kw, n) != 0)
		return false;
	if (s + n < end && !isspace((unsigned char)s[n]))
		return false;
	*rest = s + n;
	return true;
}

static bool blank_after(const tok *t, const char *rest)
{
	for (; rest < t->s + t->len; rest++)
		if (!isspace((unsigned char)*rest))
			return false;
	return true;
}

static int cond(const rd *r, const tok *t, const char *rest, bool *out)
{
	val v = {0};
	int rc;

	if (blank_after(t, rest))
		return act_err(r, t, "missing condition");
	if ((rc = eval_expr(r, t, rest, &v)) == 0)
		*out = truth(&v);
	val_free(&v);
	return rc;
}

static int walk(rd *r, bool emit, int *ended);

static int print_action(rd *r, const tok *t, bool emit)
{
	val v = {0};
	int rc = eval_expr(r, t, t->s, &v);

	if (rc == 0 && emit)
		rc = v.is_bool ? bk_buf_puts(r->out, v.b ? "true" : "false")
			       : bk_buf_puts(r->out, v.s);
	val_free(&v);
	return rc;
}

/* {{if}} ... {{end}}, the {{if}} token already consumed. */
static int walk_if(rd *r, const tok *t, const char *rest, bool emit)
{
	bool c = false, taken;
	int ended, rc = cond(r, t, rest, &c);

	taken = c;
	rc = rc ? rc : walk(r, emit && c, &ended);
	while (rc == 0 && ended == END_ELSE_IF) {
		const tok *et = &r->toks[r->i - 1];
		keyword(et, "else", &rest);
		keyword(&(tok){true, rest, (size_t)(et->s + et->len - rest)}, "if", &rest);
		rc = cond(r, et, rest, &c);
		rc = rc ? rc : walk(r, emit && !taken && c, &ended);
		taken = taken || c;
	}
	if (rc == 0 && ended == END_ELSE)
		rc = walk(r, emit && !taken, &ended);
	if (rc == 0 && ended != END_END)
		rc = act_err(r, t, ended == END_EOF ? "missing {{end}}" : "{{else}} after {{else}}");
	return rc;
}

static int unexpected_end(const rd *r, const tok *t, int ended)
{
	return act_err(r, t, "%s without {{if}}", ended == END_END ? "{{end}}" : "{{else}}");
}

static int action(rd *r, const tok *t, bool emit, int *ended)
{
	const char *rest, *s = t->s;

	while (s < t->s + t->len && isspace((unsigned char)*s))
		s++;
	if (t->s + t->len - s >= 4 && !strncmp(s, "/*", 2) && !strncmp(t->s + t->len - 2, "*/", 2))
		return 0;
	if (keyword(t, "if", &rest))
		return walk_if(r, t, rest, emit);
	if (keyword(t, "end", &rest) && blank_after(t, rest)) {
		*ended = END_END;
		return 0;
	}
	if (keyword(t, "else", &rest)) {
		const char *r2;
		tok tail = {true, rest, (size_t)(t->s + t->len - rest)};
		*ended = blank_after(t, rest) ? END_ELSE
			 : keyword(&tail, "if", &r2) ? END_ELSE_IF : -1;
		return *ended >= 0 ? 0 : act_err(r, t, "unexpected words after else");
	}
	static const char *const unsupported[] = {"range", "with", "define", "template", "block"};
	for (size_t i = 0; i < BK_ARRAY_SIZE(unsupported); i++)
		if (keyword(t, unsupported[i], &rest))
			return act_err(r, t, "{{%s}} is not supported in commands", unsupported[i]);
	return print_action(r, t, emit);
}

/* Tokens up to an {{else}}, {{end}} or the end; *ended says which. */
static int walk(rd *r, bool emit, int *ended)
{
	int rc = 0;

	*ended = END_EOF;
	while (rc == 0 && r->i < r->count && *ended == END_EOF) {
		const tok *t = &r->toks[r->i++];
		if (!t->action)
			rc = emit ? bk_buf_put(r->out, t->s, t->len) : 0;
		else
			rc = action(r, t, emit, ended);
	}
	return rc;
}

int bk_cmd_render(char **out, const char *tmpl, const bk_cmd_field *fields, size_t n,
		  const char *what)
{
	bk_buf b = BK_BUF_INIT;
	rd r = {fields, n, what, NULL, 0, 0, &b};
	int ended = END_EOF, rc;

	*out = NULL;
	rc = tokenize(&r, tmpl ? tmpl : "");
	rc = rc ? rc : walk(&r, true, &ended);
	if (rc == 0 && ended != END_EOF)
		rc = unexpected_end(&r, &r.toks[r.i - 1], ended);
	rc = rc ? rc : bk_buf_puts(&b, "");
	free(r.toks);
	if (rc < 0) {
		bk_buf_free(&b);
		return rc;
	}
	*out = bk_buf_detach(&b);
	return 0;
}
