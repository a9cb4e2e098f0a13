/*
 * json.c - reading template JSON: a pre-pass that checks UTF-8 and depth
 * and drops trailing commas (the seed template has them), cJSON for the
 * rest, and messages that give line:col or the JSON path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

/* 1-based line and column (in characters) of byte offset off. */
static void line_col(const char *buf, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

static size_t utf8_len(const unsigned char *s, size_t n);

/* "<name>:<line>:<col>: <what>", then the line and a caret under the
 * fault (tabs kept, so the caret lines up in a terminal); bytes that are
 * not printable UTF-8 are shown as '?'. */
static int pos_err(const char *name, const char *buf, size_t off, const char *what)
{
	size_t start = off, end = off;
	bk_buf shown = BK_BUF_INIT, caret = BK_BUF_INIT;
	int line, col, rc;

	line_col(buf, off, &line, &col);
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	while (buf[end] && buf[end] != '\n' && buf[end] != '\r' && end - start < 200)
		end++;
	for (size_t i = start; i < end;) {
		size_t n = utf8_len((const unsigned char *)buf + i, end - i);
		bool ok = n > 0 && ((unsigned char)buf[i] >= 0x20 || buf[i] == '\t');
		bk_buf_put(&shown, ok ? buf + i : "?", ok ? n : 1);
		if (i < off)
			bk_buf_putc(&caret, buf[i] == '\t' ? '\t' : ' ');
		i += n ? n : 1;
	}
	rc = bk_err(BAKEAMI_EINVALID, "%s:%d:%d: %s\n  %5d | %s\n        | %s^", name, line, col,
		    what, line, shown.ptr ? shown.ptr : "", caret.ptr ? caret.ptr : "");
	bk_buf_free(&shown);
	bk_buf_free(&caret);
	return rc;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. Rejects
 * overlong forms, surrogates and code points past U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return len;
}

typedef struct {
	char *buf;
	size_t len;
	const char *name;
	int depth;
	bool in_str, esc;
	size_t str_start;    /* the open string's quote */
	char last;           /* the last byte outside strings and blanks */
	size_t commas, first_comma;
} prepass;

/* A ',' after a value and before (blanks and) '}' or ']' becomes a blank,
 * so offsets, and the line:col of later errors, stay those of the file.
 * "{,}" and "[1,,]" stay errors. */
static void drop_trailing_comma(prepass *p, size_t i)
{
	size_t j = i + 1;

	if (p->last == '{' || p->last == '[' || p->last == ',')
		return;
	while (j < p->len && strchr(" \t\r\n", p->buf[j]))
		j++;
	if (j < p->len && (p->buf[j] == '}' || p->buf[j] == ']')) {
		if (p->commas++ == 0)
			p->first_comma = i;
		p->buf[i] = ' ';
	}
}

static int prepass_byte(prepass *p, size_t i)
{
	char ch = p->buf[i];

	if (p->in_str && ch == '\n')
		return pos_err(p->name, p->buf, p->str_start, "unterminated string: it starts "
			       "here and its line ends before the closing quote");
	if (p->in_str && (unsigned char)ch < 0x20)
		return pos_err(p->name, p->buf, i, "a raw control character in a string (JSON "
			       "needs an escape such as \\t)");
	if (p->in_str) {
		/* C strings end at a NUL: "t3.mi\u0000cro" would become "t3.mi". */
		if (p->esc && ch == 'u' && p->len - i > 4 && memcmp(p->buf + i + 1, "0000", 4) == 0)
			return pos_err(p->name, p->buf, i - 1, "\\u0000 (a NUL character) "
				       "in a string: no setting can hold it");
		if (p->esc)
			p->esc = false;
		else if (ch == '\\')
			p->esc = true;
		else if (ch == '"') {
			p->in_str = false;
			p->last = '"';
		}
		return 0;
	}
	if (ch == '"') {
		p->in_str = true;
		p->str_start = i;
	} else if (ch == '{' || ch == '[') {
		if (++p->depth > BK_JSON_MAX_DEPTH)
			return pos_err(p->name, p->buf, i,
				       "objects and arrays nested deeper than 64 levels");
	} else if (ch == '}' || ch == ']') {
		p->depth--;
	} else if (ch == ',') {
		drop_trailing_comma(p, i);
	}
	if (!strchr(" \t\r\n", ch))
		p->last = ch;
	return 0;
}

static int run_prepass(prepass *p, bk_strv *warnings)
{
	char what[96];

	for (size_t i = 0; i < p->len;) {
		size_t n = utf8_len((const unsigned char *)p->buf + i, p->len - i);
		if (n == 0 || p->buf[i] == '\0') {
			snprintf(what, sizeof(what), "%s at byte offset %zu",
				 n ? "NUL byte" : "invalid UTF-8", i);
			return pos_err(p->name, p->buf, i, what);
		}
		if (n == 1 && prepass_byte(p, i) < 0)
			return BAKEAMI_EINVALID;
		i += n;
	}
	if (p->in_str)
		return pos_err(p->name, p->buf, p->str_start, "unterminated string: it starts "
			       "here and the file ends before the closing quote");
	if (p->commas) {
		int line, col;
		line_col(p->buf, p->first_comma, &line, &col);
		bk_tpl_warn(warnings, "%s:%d:%d: %zu trailing comma(s) ignored (strict JSON "
			"does not allow them, and Packer 1.6.6 refuses them)", p->name, line, col, p->commas);
	}
	return 0;
}

/* Show what cJSON stopped at, printable ASCII only. */
static int syntax_err(const char *name, const char *buf, size_t len, size_t off)
{
	char what[80], near[16];
	size_t n = 0;

	if (off >= len)
		return pos_err(name, buf, len, "unexpected end of input "
			       "(an unclosed string, object or array?)");
	while (n < 10 && off + n < len && buf[off + n] >= 0x20 && buf[off + n] < 0x7F) {
		near[n] = buf[off + n];
		n++;
	}
	near[n] = '\0';
	snprintf(what, sizeof(what), "JSON syntax error near '%s'", near);
	return pos_err(name, buf, off, what);
}

static int parse_err(const char *name, const char *buf, size_t len, const char *end)
{
	const char *end2 = NULL;
	cJSON *lenient = cJSON_ParseWithLengthOpts(buf, len, &end2, 0);

	/* It parses when we do not insist on the end: text after the value. */
	if (lenient) {
		size_t off = (size_t)(end2 - buf);
		cJSON_Delete(lenient);
		while (off < len && strchr(" \t\r\n", buf[off]))
			off++;
		return pos_err(name, buf, off, "unexpected text after the JSON value");
	}
	return syntax_err(name, buf, len, end ? (size_t)(end - buf) : 0);
}

/* cJSON keeps both copies of a repeated key; Packer would silently take
 * one. Either way it is a mistake worth naming. */
static int check_dupes(const char *name, const cJSON *node, const char *path)
{
	size_t idx = 0;
	int rc = 0;

	for (const cJSON *it = node->child; it && rc == 0; it = it->next, idx++) {
		char *sub = cJSON_IsObject(node) ? bk_tpl_jpath_key(path, it->string)
						 : bk_tpl_jpath_index(path, idx);
		if (!sub)
			return bk_oom();
		for (const cJSON *o = it->next; cJSON_IsObject(node) && o; o = o->next)
			if (strcmp(o->string, it->string) == 0) {
				rc = bk_tpl_err(name, sub, "duplicate key");
				break;
			}
		if (rc == 0)
			rc = check_dupes(name, it, sub);
		free(sub);
	}
	return rc;
}

int bk_tpl_json_parse(cJSON **out, const char *text, size_t len, const char *name,
		  bk_strv *warnings)
{
	prepass p = {0};
	const char *end = NULL;
	int rc;

	*out = NULL;
	/* Not strndup: a NUL inside the text must reach the pre-pass. */
	if (!(p.buf = malloc(len + 1)))
		return bk_oom();
	memcpy(p.buf, text, len);
	p.buf[len] = '\0';
	p.len = len;
	p.name = name;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		memset(p.buf, ' ', 3);   /* a BOM: some editors on Windows add it */
	rc = len ? run_prepass(&p, warnings) : 0;
	if (rc == 0) {
		/* The length counts the NUL, as cJSON_ParseWithOpts does: its
		 * end check looks at the byte after the last whitespace. */
		*out = cJSON_ParseWithLengthOpts(p.buf, len + 1, &end, 1);
		if (!*out)
			rc = parse_err(name, p.buf, len, end);
	}
	if (rc == 0 && (rc = check_dupes(name, *out, "")) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	free(p.buf);
	return rc;
}

int bk_tpl_json_load_file(cJSON **out, const char *path, bk_strv *warnings)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = bk_file_read_regular(&text, &len, path, BK_TPL_MAX_FILE)) < 0)
		return rc == BAKEAMI_ENOMEM ? rc : BAKEAMI_EINVALID;  /* message kept */
	rc = bk_tpl_json_parse(out, text, len, path, warnings);
	free(text);
	return rc;
}

bool bk_tpl_json_listed(const cJSON *list, const char *s)
{
	for (const cJSON *it = cJSON_IsArray(list) ? list->child : NULL; it; it = it->next)
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return true;
	return false;
}

const char *bk_tpl_json_type(const cJSON *item)
{
	if (!item)
		return "nothing";
	switch (item->type & 0xFF) {
	case cJSON_False:
	case cJSON_True: return "boolean";
	case cJSON_NULL: return "null";
	case cJSON_Number: return "number";
	case cJSON_String: return "string";
	case cJSON_Array: return "array";
	case cJSON_Object: return "object";
	default: return "invalid";
	}
}

static bool plain_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_-:", *k))
			return false;
	return true;
}

char *bk_tpl_jpath_key(const char *parent, const char *key)
{
	if (plain_key(key))
		return bk_sprintf("%s%s%s", parent, *parent ? "." : "", key);
	return bk_sprintf("%s[\"%s\"]", parent, key);
}

char *bk_tpl_jpath_index(const char *parent, size_t i)
{
	return bk_sprintf("%s[%zu]", parent, i);
}

int bk_tpl_json_set_string(cJSON *item, const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = cJSON_malloc(n);

	if (!copy)
		return bk_oom();
	memcpy(copy, s, n);
	cJSON_free(item->valuestring);
	item->valuestring = copy;
	return 0;
}
