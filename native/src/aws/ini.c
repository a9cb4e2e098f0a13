/*
 * ini.c - reading ~/.aws/credentials and ~/.aws/config the way the AWS
 * CLI does: "[section]" headers (with any inner spacing), "key = value",
 * '#'/';' comments on their own line, indented lines belonging to a
 * nested block (e.g. "s3 =\n  max_concurrent_requests = 4") and ignored.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

typedef struct {
	const char *p;
	size_t n;
} span;

static span trim(span s)
{
	while (s.n && isspace((unsigned char)s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && isspace((unsigned char)s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Equal once runs of blanks count as one: "[profile  dev]" is "profile dev". */
static bool same_name(span s, const char *name)
{
	size_t i = 0;

	while (s.n) {
		if (isspace((unsigned char)*s.p)) {
			while (s.n && isspace((unsigned char)*s.p)) {
				s.p++;
				s.n--;
			}
			if (name[i++] != ' ')
				return false;
			continue;
		}
		if (name[i++] != *s.p)
			return false;
		s.p++;
		s.n--;
	}
	return name[i] == '\0';
}

/* The next line of text, without its end-of-line; advances *text. */
static span next_line(const char **text)
{
	span line = {*text, strcspn(*text, "\n")};

	*text += line.n + (line.p[line.n] == '\n');
	return line;
}

/* Whether `line` is a section header; if so, is it `section`? */
static bool header(span line, const char *section, bool *match)
{
	span t = trim(line);

	if (!t.n || t.p[0] != '[')
		return false;
	const char *close = memchr(t.p, ']', t.n);
	span name = {t.p + 1, close ? (size_t)(close - t.p - 1) : t.n - 1};
	*match = same_name(trim(name), section);
	return true;
}

/* Value of `line` if it is "key = value" for `key`, else NULL. */
static char *value_of(span line, const char *key)
{
	const char *eq = memchr(line.p, '=', line.n);

	if (!eq)
		return NULL;
	span k = trim((span){line.p, (size_t)(eq - line.p)});
	span v = trim((span){eq + 1, line.n - (size_t)(eq - line.p) - 1});
	if (k.n != strlen(key) || strncmp(k.p, key, k.n) != 0)
		return NULL;
	char *out = bk_strndup(v.p, v.n);
	if (!out)
		bk_oom();
	return out;
}

char *bk_ini_get(const char *ini, const char *section, const char *key)
{
	bool in_section = false, match;
	char *found = NULL;

	while (ini && *ini) {
		span line = next_line(&ini);
		span t = trim(line);

		if (!t.n || t.p[0] == '#' || t.p[0] == ';')
			continue;
		if (header(line, section, &match)) {
			in_section = match;
			continue;
		}
		/* Indented lines belong to a nested block, not to the section. */
		if (!in_section || isspace((unsigned char)line.p[0]))
			continue;
		char *v = value_of(t, key);
		if (v) {
			/* A repeated key: the later one wins, as in configparser. */
			free(found);
			found = v;
		}
	}
	return found;
}

bool bk_ini__has_section(const char *ini, const char *section)
{
	bool match = false;

	while (ini && *ini) {
		span line = next_line(&ini);
		if (header(line, section, &match) && match)
			return true;
	}
	return false;
}
