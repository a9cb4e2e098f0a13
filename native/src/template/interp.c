/*
 * interp.c - the {{ }} engine: the subset of Go's text/template that Packer
 * JSON templates use. An action is a pipeline `cmd | cmd ...`; a command is
 * a function with arguments (the piped value goes last, as in Go), a string
 * ("..." or `...`), an integer, a build field (.SourceAMI) or a
 * parenthesised pipeline. Also {{- -}} trimming and comment actions.
 * Functions live in funcs.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

#define MAX_ARGS 8

int bk_tpl_err(const char *file, const char *path, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (path && *path)
		return bk_err(BAKEAMI_EINVALID, "%s: %s: %s", file, path, what);
	return bk_err(BAKEAMI_EINVALID, "%s: %s", file, what);
}

int bk_tpl_iperr(const bk_iparser *ps, const char *fmt, ...)
{
	char what[512];
	int alen = (int)(ps->act_end - ps->act);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* The action as written helps find it in a long string. */
	return bk_tpl_err(ps->in->file, ps->path, "%s in \"{{%.*s%s}}\"", what,
			  alen > 60 ? 60 : alen, ps->act, alen > 60 ? "..." : "");
}

void bk_tpl_warn(bk_strv *warnings, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	bk_buf b = BK_BUF_INIT;

	if (!warnings)
		return;
	va_start(ap, fmt);
	bk_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	msg = bk_buf_detach(&b);
	for (size_t i = 0; msg && i < warnings->count; i++)
		if (strcmp(warnings->items[i], msg) == 0) {
			free(msg);
			return;
		}
	if (msg)
		bk_strv_push(warnings, msg);
	free(msg);
}

static void ival_free(bk_ival *v)
{
	free(v->s);
	v->s = NULL;
}

static void skip_ws(bk_iparser *ps)
{
	while (ps->p < ps->end && isspace((unsigned char)*ps->p))
		ps->p++;
}

/* End of a command: the action's end, a pipe or a closing parenthesis. */
static bool at_command_end(bk_iparser *ps)
{
	skip_ws(ps);
	return ps->p >= ps->end || *ps->p == '|' || *ps->p == ')';
}

static bool ident_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || (!first && isdigit((unsigned char)c));
}

static int parse_pipeline(bk_iparser *ps, bk_ival *out);

/* Go's escapes in "..." strings (the common ones). */
static int unescape(bk_iparser *ps, bk_buf *b)
{
	char c = *ps->p++;
	const char *map = "n\nt\tr\r\\\\\"\"''a\ab\bf\fv\v";

	for (const char *m = map; *m; m += 2)
		if (*m == c)
			return bk_buf_putc(b, m[1]);
	if (c == 'x' && ps->end - ps->p >= 2 && isxdigit((unsigned char)ps->p[0]) &&
	    isxdigit((unsigned char)ps->p[1])) {
		char hex[3] = {ps->p[0], ps->p[1], 0};
		ps->p += 2;
		return bk_buf_putc(b, (char)strtol(hex, NULL, 16));
	}
	return bk_tpl_iperr(ps, "unknown escape \\%c in a string", c);
}

static int parse_string(bk_iparser *ps, bk_ival *out)
{
	char q = *ps->p++;
	bk_buf b = BK_BUF_INIT;
	int rc = 0;

	while (rc == 0 && ps->p < ps->end && *ps->p != q) {
		if (q == '"' && *ps->p == '\\' && ps->p + 1 < ps->end) {
			ps->p++;
			rc = unescape(ps, &b);
		} else {
			rc = bk_buf_putc(&b, *ps->p++);
		}
	}
	if (rc == 0 && ps->p >= ps->end)
		rc = bk_tpl_iperr(ps, "unterminated string");
	if (rc != 0) {
		bk_buf_free(&b);
		return rc;
	}
	ps->p++;
	out->s = bk_buf_detach(&b);
	return out->s ? 0 : bk_oom();
}

static int parse_number(bk_iparser *ps, bk_ival *out)
{
	char *e;
	long long n = strtoll(ps->p, &e, 10);

	if (e == ps->p || e > ps->end || (e < ps->end && (*e == '.' || isalpha((unsigned char)*e))))
		return bk_tpl_iperr(ps, "only integer numbers are allowed");
	ps->p = e;
	out->num = true;
	out->n = n;
	return 0;
}

static int parse_field(bk_iparser *ps, bk_ival *out)
{
	const char *s = ps->p;
	char *name;
	int rc;

	while (ps->p < ps->end && (ident_char(*ps->p, false) || *ps->p == '.'))
		ps->p++;
	if (!(name = bk_strndup(s + 1, (size_t)(ps->p - s - 1))))
		return bk_oom();
	rc = bk_tpl_build_field(&out->s, ps, name);
	free(name);
	return rc;
}

/* Go's control words and builtins: in a command another renderer
 * finishes ({{if .Sudo}}...{{end}}), they are its to evaluate. */
static bool go_builtin(const char *name)
{
	static const char *const words[] = {"if", "else", "end", "eq", "ne", "not", "and",
					    "or", "true", "false"};

	for (size_t i = 0; i < BK_ARRAY_SIZE(words); i++)
		if (strcmp(name, words[i]) == 0)
			return true;
	return false;
}

static int call(bk_iparser *ps, const char *name, bk_ival *args, size_t n, bk_ival *out)
{
	const bk_ifunc *f = bk_tpl_ifunc_find(name);
	size_t total;

	if (!f && ps->in->keep_unknown && go_builtin(name))
		return BK_KEEP;
	if (!f)
		return bk_tpl_iperr(ps, "function \"%s\" not defined", name);
	total = strlen(f->sig);
	if (n < (size_t)f->min_args || n > total)
		return bk_tpl_iperr(ps, "wrong number of args for %s: want %s%zu got %zu", name,
				(size_t)f->min_args < total ? "at most " : "", total, n);
	for (size_t i = 0; i < n; i++) {
		bool want_num = f->sig[i] == 'i';
		if (args[i].num != want_num)
			return bk_tpl_iperr(ps, "%s: argument %zu must be %s", name, i + 1,
					want_num ? "an integer" : "a string");
	}
	return f->fn(&out->s, ps, args, n);
}

static int read_ident(bk_iparser *ps, char **name)
{
	const char *s = ps->p;

	while (ps->p < ps->end && ident_char(*ps->p, ps->p == s))
		ps->p++;
	*name = bk_strndup(s, (size_t)(ps->p - s));
	return *name ? 0 : bk_oom();
}

static int parse_operand(bk_iparser *ps, bk_ival *out)
{
	char c, *name;
	int rc;

	skip_ws(ps);
	c = ps->p < ps->end ? *ps->p : '\0';
	if (c == '"' || c == '`')
		return parse_string(ps, out);
	if (c == '-' || isdigit((unsigned char)c))
		return parse_number(ps, out);
	if (c == '.')
		return parse_field(ps, out);
	if (c == '(') {
		ps->p++;
		if ((rc = parse_pipeline(ps, out)) != 0)
			return rc;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ')') {
			ps->p++;
			return 0;
		}
		ival_free(out);
		return bk_tpl_iperr(ps, "missing )");
	}
	if (!c)
		return bk_tpl_iperr(ps, "missing value");
	if (!ident_char(c, true))
		return bk_tpl_iperr(ps, "unexpected '%c'", c);
	/* A bare name as an argument is a call without arguments, as in Go. */
	if ((rc = read_ident(ps, &name)) != 0)
		return rc;
	rc = call(ps, name, NULL, 0, out);
	free(name);
	return rc;
}

static void free_args(bk_ival *args, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ival_free(&args[i]);
}

/* name arg arg ... [piped]; takes ownership of *piped. */
static int parse_call(bk_iparser *ps, bk_ival *piped, bk_ival *out)
{
	bk_ival args[MAX_ARGS + 1] = {{0}};
	size_t n = 0;
	char *name;
	int rc = read_ident(ps, &name);

	while (rc == 0 && !at_command_end(ps)) {
		if (n == MAX_ARGS)
			rc = bk_tpl_iperr(ps, "too many arguments");
		else
			rc = parse_operand(ps, &args[n++]);
	}
	if (piped) {
		args[n++] = *piped;
		*piped = (bk_ival){0};
	}
	if (rc == 0)
		rc = call(ps, name, args, n, out);
	free_args(args, n);
	free(name);
	return rc;
}

static int parse_command(bk_iparser *ps, bk_ival *piped, bk_ival *out)
{
	int rc;

	if (at_command_end(ps)) {
		rc = bk_tpl_iperr(ps, "missing value for command");
	} else if (ident_char(*ps->p, true)) {
		return parse_call(ps, piped, out);
	} else if ((rc = parse_operand(ps, out)) == 0 && (!at_command_end(ps) || piped)) {
		ival_free(out);
		rc = bk_tpl_iperr(ps, "only a function can take arguments or a piped value");
	}
	if (piped)
		ival_free(piped);
	return rc;
}

static int parse_pipeline(bk_iparser *ps, bk_ival *out)
{
	bk_ival cur = {0};
	int rc = parse_command(ps, NULL, &cur);

	while (rc == 0) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '|')
			break;
		ps->p++;
		bk_ival next = {0};
		rc = parse_command(ps, &cur, &next);   /* frees cur */
		cur = next;
	}
	if (rc != 0)
		ival_free(&cur);
	else
		*out = cur;
	return rc;
}

static int put_value(bk_buf *b, const bk_ival *v)
{
	if (v->num)
		return bk_buf_printf(b, "%lld", v->n);
	return bk_buf_puts(b, v->s ? v->s : "");
}

/* One {{ }} action: a..end is its text without the braces and trim marks,
 * raw..raw_end the action as written (copied as is for BK_KEEP). */
static int eval_action(bk_buf *b, const bk_interp *in, const char *path,
		       const char *a, const char *end, const char *raw, const char *raw_end)
{
	bk_iparser ps = {in, path, a, end, a, end};
	bk_ival v = {0};
	int rc;

	skip_ws(&ps);
	if (end - ps.p >= 4 && strncmp(ps.p, "/*", 2) == 0 && strncmp(end - 2, "*/", 2) == 0)
		return 0;   /* a comment */
	rc = parse_pipeline(&ps, &v);
	if (rc == BK_KEEP)
		return bk_buf_put(b, raw, (size_t)(raw_end - raw));
	if (rc == 0) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			rc = bk_tpl_iperr(&ps, "unexpected '%c'", *ps.p);
		else
			rc = put_value(b, &v);
	}
	ival_free(&v);
	return rc;
}

static void trim_right(bk_buf *b)
{
	while (b->len && isspace((unsigned char)b->ptr[b->len - 1]))
		b->ptr[--b->len] = '\0';
}

static int render_action(bk_buf *b, const bk_interp *in, const char *path,
			 const char *text, const char **p)
{
	const char *open = strstr(*p, "{{"), *a = open + 2, *close, *end;
	int rc = bk_buf_put(b, *p, (size_t)(open - *p));

	if (rc != 0)
		return rc;
	if (a[0] == '-' && isspace((unsigned char)a[1])) {
		trim_right(b);
		a++;
	}
	if (!(close = bk_action_close(a)))
		return bk_tpl_err(in->file, path, "unterminated {{ at character %zu: no "
				  "matching }}", (size_t)(open - text) + 1);
	end = close;
	if (end - a >= 2 && end[-1] == '-' && isspace((unsigned char)end[-2]))
		end--;
	rc = eval_action(b, in, path, a, end, open, close + 2);
	*p = close + 2;
	if (end < close)   /* " -}}": trim what follows */
		while (isspace((unsigned char)**p))
			(*p)++;
	return rc;
}

static int too_long(const bk_interp *in, const char *path)
{
	return bk_tpl_err(in->file, path, "the interpolated value is longer than %u bytes",
			  BK_TPL_MAX_RENDER);
}

int bk_interp_render(char **out, const bk_interp *in, const char *text, const char *path)
{
	bk_buf b = BK_BUF_INIT;
	const char *p = text;
	int rc = 0;

	*out = NULL;
	while (rc == 0 && strstr(p, "{{")) {
		rc = render_action(&b, in, path, text, &p);
		if (rc == 0 && b.len > BK_TPL_MAX_RENDER)
			rc = too_long(in, path);
	}
	if (rc == 0)
		rc = bk_buf_puts(&b, p);
	if (rc == 0 && b.len > BK_TPL_MAX_RENDER)
		rc = too_long(in, path);
	if (rc != 0) {
		bk_buf_free(&b);
		return rc;
	}
	*out = bk_buf_detach(&b);
	return *out ? 0 : bk_oom();
}

/* Values other renderers finish later with their own fields ({{.Vars}},
 * {{.Path}}, {{.BucketName}}): we render what we know and keep the rest. */
static bool keep_key(const char *k)
{
	static const char *const keys[] = {"execute_command", "bundle_vol_command",
					   "bundle_upload_command", "staging_directory",
					   "extra_arguments", "inventory_file_template"};

	for (size_t i = 0; k && i < BK_ARRAY_SIZE(keys); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

static int render_string(const bk_interp *in, cJSON *node, const char *path, bool keep)
{
	bk_interp k = *in;
	char *s;
	int rc;

	if (!strstr(node->valuestring, "{{"))
		return 0;
	k.keep_unknown = in->keep_unknown || keep;
	if ((rc = bk_interp_render(&s, &k, node->valuestring, path)) != 0)
		return rc;
	rc = bk_tpl_json_set_string(node, s);
	free(s);
	return rc;
}

static int render_key(const bk_interp *in, cJSON *node, const char *path)
{
	char *s, *copy;
	int rc;

	if (!strstr(node->string, "{{") || (node->type & cJSON_StringIsConst))
		return 0;
	if ((rc = bk_interp_render(&s, in, node->string, path)) != 0)
		return rc;
	if (!(copy = cJSON_malloc(strlen(s) + 1))) {
		free(s);
		return bk_oom();
	}
	strcpy(copy, s);
	free(s);
	cJSON_free(node->string);
	node->string = copy;
	return 0;
}

static int render_node(const bk_interp *in, cJSON *node, const char *path, bool keep)
{
	size_t i = 0;
	int rc = 0;

	if (cJSON_IsString(node))
		return render_string(in, node, path, keep);
	for (cJSON *it = node->child; it && rc == 0; it = it->next, i++) {
		bool obj = cJSON_IsObject(node);
		char *sub = obj ? bk_tpl_jpath_key(path, it->string) : bk_tpl_jpath_index(path, i);
		if (!sub)
			return bk_oom();
		if (obj)
			rc = render_key(in, it, sub);
		if (rc == 0)
			rc = render_node(in, it, sub, keep || (obj && keep_key(it->string)));
		free(sub);
	}
	return rc;
}

int bk_interp_render_json(cJSON **out, const bk_interp *in, const cJSON *src, const char *path)
{
	cJSON *copy = cJSON_Duplicate(src, 1);
	int rc;

	*out = NULL;
	if (!copy)
		return bk_oom();
	if ((rc = render_node(in, copy, path, false)) != 0) {
		cJSON_Delete(copy);
		return rc;
	}
	*out = copy;
	return 0;
}

static int tpl_user(const char **out, const char *name, void *payload)
{
	const bk_template *tpl = payload;

	*out = bk_kv_get(&tpl->vars, name);
	return *out ? 0 : BAKEAMI_ENOTFOUND;
}

void bk_interp_init(bk_interp *in, const bk_template *tpl, const bk_build_vars *bv,
		    bk_strv *warnings)
{
	const cJSON *b = tpl->builder ? tpl->builder
		: cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tpl->root, "builders"), 0);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type"));
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));

	memset(in, 0, sizeof(*in));
	in->file = tpl->path;
	in->bv = bv;
	in->user = tpl_user;
	in->user_payload = (void *)tpl;
	in->build_type = type ? type : "";
	in->build_name = tpl->builder && tpl->build_name ? tpl->build_name
			 : name ? name : in->build_type;
	in->template_dir = tpl->dir;
	in->pwd = tpl->pwd;
	in->run_id = bv && bv->run_id ? bv->run_id : tpl->run_id;
	in->start = tpl->start;
	in->warnings = warnings;
}

int bk_template_render(char **out, const bk_template *tpl, const bk_build_vars *bv,
		       const char *text, const char *json_path)
{
	bk_interp in;

	bk_interp_init(&in, tpl, bv, NULL);
	return bk_interp_render(out, &in, text, json_path ? json_path : "");
}
