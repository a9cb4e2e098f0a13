/*
 * validate.c - bk_verify_parse: the `tests` object checked up front,
 * with the JSON path of every mistake, so a bad check never costs an
 * instance launch, and read into the plan's bk_test_plan: each check
 * into a bk_check by its type's field table. The only reader of the
 * tests JSON; makes no network call.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "verify_int.h"

typedef struct {
	const char *file;     /* "web.json" */
	char path[128];       /* "tests.checks[2]" */
} vctx;

static int invalid(const vctx *v, const char *key, const char *fmt, ...) BK_PRINTF(3, 4);

/* "<file>: <path>[.key]: <message>" */
static int invalid(const vctx *v, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err(BAKEAMI_EINVALID, "%s%s%s%s%s: %s", v->file ? v->file : "",
		      v->file ? ": " : "", v->path, key ? "." : "", key ? key : "", msg);
}

/* ---- values ------------------------------------------------------------ */

static bool is_int(const cJSON *it)
{
	return cJSON_IsNumber(it) && it->valuedouble == (double)(long)it->valuedouble;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int check_regex(const vctx *v, const char *key, const cJSON *it)
{
	regex_t re;
	char msg[200];
	int rc;

	if (!cJSON_IsString(it))
		return invalid(v, key, "expected a regular expression (a string)");
	if ((rc = regcomp(&re, it->valuestring, REG_EXTENDED | REG_NEWLINE | REG_NOSUB)) != 0) {
		regerror(rc, &re, msg, sizeof(msg));
		regfree(&re);
		return invalid(v, key, "bad regular expression \"%s\": %s", it->valuestring, msg);
	}
	regfree(&re);
	return 0;
}

static bool is_sha256(const char *s)
{
	size_t n = 0;

	while (s[n] && isxdigit((unsigned char)s[n]))
		n++;
	return n == 64 && s[n] == '\0';
}

static int check_strings(const vctx *v, const char *key, const cJSON *it)
{
	const cJSON *el;
	size_t i = 0;

	if (cJSON_IsString(it) && *it->valuestring)
		return 0;
	if (!cJSON_IsArray(it))
		return invalid(v, key, "expected an array of strings");
	cJSON_ArrayForEach(el, it) {
		char at[64];
		snprintf(at, sizeof(at), "%s[%zu]", key, i++);
		if (!cJSON_IsString(el) || !*el->valuestring)
			return invalid(v, at, "expected a non-empty string");
	}
	return 0;
}

static int check_int(const vctx *v, const char *key, const cJSON *it)
{
	if (!is_int(it) || it->valuedouble < 0)
		return invalid(v, key, "expected a non-negative integer");
	if (strcmp(key, "status") == 0 && (it->valuedouble < 100 || it->valuedouble > 599))
		return invalid(v, key, "expected an HTTP status (100-599)");
	return 0;
}

static bool one_of(const cJSON *it, const char *const *choices)
{
	for (; cJSON_IsString(it) && *choices; choices++)
		if (strcmp(it->valuestring, *choices) == 0)
			return true;
	return false;
}

static int check_field(const vctx *v, const bk_field *f, const cJSON *it)
{
	static const char *const protocols[] = {"tcp", "udp", NULL};
	static const char *const types[] = {"file", "directory", "symlink", NULL};

	switch (f->kind) {
	case BK_F_BOOL:
		return cJSON_IsBool(it) ? 0 : invalid(v, f->key, "expected true or false");
	case BK_F_INT:
		return check_int(v, f->key, it);
	case BK_F_STRING:
		return cJSON_IsString(it) && *it->valuestring ? 0
			: invalid(v, f->key, "expected a non-empty string");
	case BK_F_TEXT:
		return cJSON_IsString(it) ? 0 : invalid(v, f->key, "expected a string");
	case BK_F_SCALAR:
		return cJSON_IsString(it) || cJSON_IsNumber(it) ? 0
			: invalid(v, f->key, "expected a string or a number");
	case BK_F_STRINGS:
		return check_strings(v, f->key, it);
	case BK_F_MODE:
		return cJSON_IsString(it) && bk_mode_parse(it->valuestring) >= 0 ? 0
			: invalid(v, f->key, "expected a string like \"0644\"");
	case BK_F_REGEX:
		return check_regex(v, f->key, it);
	case BK_F_SHA256:
		return cJSON_IsString(it) && is_sha256(it->valuestring) ? 0
			: invalid(v, f->key, "expected 64 hexadecimal digits");
	case BK_F_PORT:
		return is_int(it) && it->valuedouble >= 1 && it->valuedouble <= 65535 ? 0
			: invalid(v, f->key, "expected a port number (1-65535)");
	case BK_F_PROTOCOL:
		return one_of(it, protocols) ? 0 : invalid(v, f->key, "expected \"tcp\" or \"udp\"");
	case BK_F_FILETYPE:
		return one_of(it, types) ? 0
			: invalid(v, f->key, "expected \"file\", \"directory\" or \"symlink\"");
	case BK_F_SECONDS:
		return cJSON_IsNumber(it) && it->valuedouble > 0 ? 0
			: invalid(v, f->key, "expected a number of seconds");
	}
	return invalid(v, f->key, "unsupported field");
}

/* ---- subjects ---------------------------------------------------------- */

static int check_port_subject(const vctx *v, const char *key, const cJSON *it)
{
	char *end = NULL;
	long n = -1;

	if (is_int(it))
		n = (long)it->valuedouble;
	else if (cJSON_IsString(it) && *it->valuestring)
		n = strtol(it->valuestring, &end, 10);
	if ((end && *end) || n < 1 || n > 65535)
		return invalid(v, key, "expected a port number (1-65535)");
	return 0;
}

/* Names (packages, services, users...) never hold spaces, slashes or a
 * leading '-' (which a tool would read as an option). */
static bool is_name(const char *s)
{
	if (!*s || *s == '-')
		return false;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || *s == '/' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

static int check_subject(const vctx *v, const bk_check_type *t, const cJSON *it)
{
	const char *s = cJSON_IsString(it) ? it->valuestring : NULL;

	if (t->subject == BK_SUBJ_PORT)
		return check_port_subject(v, t->type, it);
	if (!s || !*s)
		return invalid(v, t->type, "expected a non-empty string");
	switch (t->subject) {
	case BK_SUBJ_NAME:
		return is_name(s) ? 0 : invalid(v, t->type, "expected a name (no spaces or '/', no leading '-')");
	case BK_SUBJ_PATH:
		return *s == '/' && !strchr(s, '\n') ? 0 : invalid(v, t->type, "expected an absolute path");
	case BK_SUBJ_PARAM:
		return is_name(s) && !strstr(s, "..") ? 0
			: invalid(v, t->type, "expected a kernel parameter like \"net.ipv4.ip_forward\"");
	case BK_SUBJ_URL:
		return (bk_str_starts(s, "http://") || bk_str_starts(s, "https://")) &&
		       !has_ctl(s) && !strchr(s, ' ') ? 0
			: invalid(v, t->type, "expected an http:// or https:// URL");
	default:
		return 0;
	}
}

/* ---- one check -------------------------------------------------------- */

/* Keys every type takes. The name is read by name_of: given, or made. */
static const bk_field NAME_FIELD = BK_FIELD("name", BK_F_STRING, false, name);
static const bk_field TIMEOUT_FIELD = BK_FIELD("timeout", BK_F_SECONDS, false, timeout_s);

static const bk_field *field_of(const bk_check_type *t, const char *key)
{
	if (strcmp(key, "name") == 0)
		return &NAME_FIELD;
	if (strcmp(key, "timeout") == 0)
		return &TIMEOUT_FIELD;
	return bk_check_field(t, key);
}

static char *field_list(const bk_check_type *t)
{
	bk_buf b = BK_BUF_INIT;

	for (const bk_field *f = t->fields; f->key; f++)
		bk_buf_printf(&b, "%s, ", f->key);
	bk_buf_puts(&b, "name or timeout");
	return bk_buf_detach(&b);
}

static int unknown_key(const vctx *v, const bk_check_type *t, const char *key)
{
	char *list = field_list(t);
	int rc = invalid(v, key, "unknown key for a %s check (expected %s)", t->type,
			 list ? list : "?");
	free(list);
	return rc;
}

/* Every other type-named key of the check is one of t's fields. */
static bool type_fits(const bk_check_type *t, const cJSON *check)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, check)
		if (strcmp(it->string, t->type) != 0 && bk_check_type_find(it->string) &&
		    !bk_check_field(t, it->string))
			return false;
	return true;
}

/* A type name can also be another type's field ({"file": "/x", "group":
 * "root"}): the type is the key whose check accepts all the others. */
static const bk_check_type *type_of(const cJSON *check)
{
	const cJSON *it;
	const bk_check_type *t;

	cJSON_ArrayForEach(it, check)
		if ((t = bk_check_type_find(it->string)) && type_fits(t, check))
			return t;
	return NULL;
}

/* A key some check type knows: not the one that misnames the type. */
static bool known_field(const char *key)
{
	size_t n;
	const bk_check_type *const *types = bk_check_types(&n);

	for (size_t i = 0; i < n; i++)
		if (field_of(types[i], key))
			return true;
	return false;
}

/* Exactly one key names the type (others may be its fields, like a file
 * check's "group"). */
static int find_type(const vctx *v, const cJSON *c, const bk_check_type **out)
{
	const cJSON *it, *stray = NULL;
	const bk_check_type *t, *first = NULL;
	char *list;
	int rc;

	if ((*out = type_of(c)))
		return 0;
	cJSON_ArrayForEach(it, c) {
		if ((t = bk_check_type_find(it->string)) && first)
			return invalid(v, NULL, "a check has one type, found %s and %s",
				       first->type, t->type);
		if (t)
			first = t;
		else if (!stray && !known_field(it->string))
			stray = it;
	}
	list = bk_check_type_list();
	if (stray)
		rc = invalid(v, NULL, "unknown check type \"%s\" (expected one of %s)", stray->string,
			     list ? list : "?");
	else
		rc = invalid(v, NULL, "no check type (expected one of %s)", list ? list : "?");
	free(list);
	return rc;
}

/* ---- reading a checked check ------------------------------------------ */

#define NAME_VALUE_MAX 40   /* longer values are cut in generated names */

/* A value for a generated name: one line, at most NAME_VALUE_MAX bytes. */
static int put_short(bk_buf *b, const char *s)
{
	size_t n = 0;
	int rc = 0;

	for (; s[n] && n < NAME_VALUE_MAX && rc == 0; n++)
		rc = bk_buf_putc(b, s[n] == '\n' || s[n] == '\r' || s[n] == '\t' ? ' ' : s[n]);
	return rc ? rc : s[n] ? bk_buf_puts(b, "...") : 0;
}

static int put_value(bk_buf *b, const cJSON *it)
{
	const cJSON *el;
	char *text;
	int rc = 0;

	if (cJSON_IsArray(it)) {
		cJSON_ArrayForEach(el, it) {
			rc = rc ? rc : el != it->child ? bk_buf_putc(b, ',') : 0;
			rc = rc ? rc : cJSON_IsString(el) ? put_short(b, el->valuestring) : 0;
		}
		return rc;
	}
	if (!(text = bk_json_text(it)))
		return 0;
	rc = put_short(b, text);
	free(text);
	return rc;
}

static int put_expectation(bk_buf *b, const bk_field *f, const cJSON *it, bool first)
{
	int rc = bk_buf_puts(b, first ? " " : ", ");

	if (rc == 0 && cJSON_IsBool(it))
		return bk_buf_printf(b, "%s%s", cJSON_IsTrue(it) ? "" : "not ", f->key);
	rc = rc ? rc : bk_buf_printf(b, "%s ", f->key);
	return rc ? rc : put_value(b, it);
}

/* The check's name, or one made from its expectations as written:
 * "package nginx installed", "file /etc/x mode 0644, contains a b". */
static char *name_of(const cJSON *check, const bk_check_type *t)
{
	const char *given = bk_json_str(check, "name");
	bk_buf b = BK_BUF_INIT;
	bool first = true;
	int rc;

	if (given && *given)
		return bk_strdup(given);
	rc = bk_buf_printf(&b, t->subject == BK_SUBJ_COMMAND ? "%s \"" : "%s ", t->type);
	rc = rc ? rc : put_value(&b, cJSON_GetObjectItemCaseSensitive(check, t->type));
	rc = rc || t->subject != BK_SUBJ_COMMAND ? rc : bk_buf_putc(&b, '"');
	for (const bk_field *f = t->fields; rc == 0 && f->key; f++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(check, f->key);
		if (!it || !f->expectation)
			continue;
		rc = put_expectation(&b, f, it, first);
		first = false;
	}
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

static int read_strings(bk_strv *out, const cJSON *it)
{
	const cJSON *el;
	int rc = 0;

	if (cJSON_IsString(it))
		return bk_strv_push(out, it->valuestring);
	cJSON_ArrayForEach(el, it)
		rc = rc ? rc : bk_strv_push(out, el->valuestring);
	return rc;
}

static int read_text(char **out, const char *s)
{
	return (*out = bk_strdup(s)) ? 0 : bk_oom();
}

/* Store the checked value it in c, as the C type f's kind names. */
static int read_field(bk_check *c, const bk_field *f, const cJSON *it)
{
	void *at = bk_check_field_at(c, f);
	char *text;

	switch (f->kind) {
	case BK_F_BOOL:
		*(int *)at = cJSON_IsTrue(it) ? 1 : 0;
		return 0;
	case BK_F_INT: case BK_F_PORT:
		*(long *)at = (long)it->valuedouble;
		return 0;
	case BK_F_MODE:
		*(long *)at = bk_mode_parse(it->valuestring);
		return 0;
	case BK_F_SECONDS:
		*(double *)at = it->valuedouble;
		return 0;
	case BK_F_STRINGS:
		return read_strings(at, it);
	case BK_F_SCALAR:
		text = bk_json_text(it);
		*(char **)at = text;
		return text ? 0 : bk_oom();
	default:
		return read_text(at, it->valuestring);
	}
}

/* Reads what check_one has checked: the first of a repeated key counts. */
static int read_check(bk_check *c, const cJSON *json, const bk_check_type *t, const char *path)
{
	const cJSON *it;
	int rc = 0;

	bk_check_init(c, t);
	c->path = bk_strdup(path);
	c->name = name_of(json, t);
	c->subject = bk_json_text(cJSON_GetObjectItemCaseSensitive(json, t->type));
	if (!c->path || !c->name || !c->subject)
		return bk_oom();
	if (t->subject == BK_SUBJ_PORT)   /* checked: digits only, 1..65535 */
		c->u.port.number = strtol(c->subject, NULL, 10);
	if ((it = cJSON_GetObjectItemCaseSensitive(json, TIMEOUT_FIELD.key)))
		read_field(c, &TIMEOUT_FIELD, it);
	for (const bk_field *f = t->fields; rc == 0 && f->key; f++)
		if ((it = cJSON_GetObjectItemCaseSensitive(json, f->key)))
			rc = read_field(c, f, it);
	return rc;
}

/* ---- checking a check ---------------------------------------------------- */

static int check_one(const vctx *v, const cJSON *c, bk_check *out)
{
	const bk_check_type *t;
	const bk_field *f;
	const cJSON *it;
	int rc, expectations = 0;

	if (!cJSON_IsObject(c))
		return invalid(v, NULL, "expected an object like {\"package\": \"nginx\", \"installed\": true}");
	if ((rc = find_type(v, c, &t)) < 0)
		return rc;
	cJSON_ArrayForEach(it, c) {
		if (strcmp(it->string, t->type) == 0) {
			rc = check_subject(v, t, it);
		} else if (!(f = field_of(t, it->string))) {
			rc = unknown_key(v, t, it->string);
		} else {
			rc = check_field(v, f, it);
			expectations += f->expectation;
		}
		if (rc < 0)
			return rc;
	}
	if (expectations == 0)
		return invalid(v, NULL, "check has no expectation (%s)", t->hint);
	return read_check(out, c, t, v->path);
}

static int check_list(vctx *v, const cJSON *checks, bk_test_plan *plan)
{
	const cJSON *c;
	int rc;

	if (!cJSON_IsArray(checks)) {
		snprintf(v->path, sizeof(v->path), "tests");
		return invalid(v, "checks", "expected an array of checks");
	}
	if (cJSON_GetArraySize(checks) > 0 &&
	    !(plan->checks = calloc((size_t)cJSON_GetArraySize(checks), sizeof(*plan->checks))))
		return bk_oom();
	cJSON_ArrayForEach(c, checks) {
		/* Counted first: the plan frees a check that failed half read. */
		bk_check *out = &plan->checks[plan->checks_count];
		snprintf(v->path, sizeof(v->path), "tests.checks[%zu]", plan->checks_count++);
		if ((rc = check_one(v, c, out)) < 0)
			return rc;
	}
	return 0;
}

/* ---- serverspec ------------------------------------------------------- */

/* The suite's directory: dir (default "serverspec") under template_dir. */
static char *serverspec_dir(const cJSON *serverspec, const char *template_dir)
{
	const char *dir = bk_json_str(serverspec, "dir");

	if (!dir || !*dir)
		dir = "serverspec";
	if (dir[0] == '/')
		return bk_strdup(dir);
	return bk_sprintf("%s/%s", template_dir && *template_dir ? template_dir : ".", dir);
}

static int check_command(const vctx *v, const cJSON *cmd, const char *dir)
{
	const cJSON *el;
	const char *argv0;
	char *found;

	if (!cmd)
		argv0 = "rspec";
	else if (cJSON_IsString(cmd) && *cmd->valuestring)
		argv0 = cmd->valuestring;
	else if (cJSON_IsArray(cmd) && cJSON_GetArraySize(cmd) > 0) {
		cJSON_ArrayForEach(el, cmd)
			if (!cJSON_IsString(el) || !*el->valuestring)
				return invalid(v, "command", "expected a program or an array of strings");
		argv0 = cmd->child->valuestring;
	} else
		return invalid(v, "command", "expected a program or an array of strings");
	if (!(found = bk_which(argv0, dir)) && cJSON_IsString(cmd) && strchr(argv0, ' '))
		return invalid(v, "command", "\"%s\" not found on PATH (a string names one "
			       "program; give an array for several words: [\"bundle\", \"exec\", "
			       "\"rspec\"])", argv0);
	if (!found)
		return invalid(v, "command", "\"%s\" not found on PATH (install ruby-serverspec, "
			       "or set tests.serverspec.command)", argv0);
	free(found);
	return 0;
}

static int check_serverspec_keys(const vctx *v, const cJSON *ss)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, ss) {
		const char *k = it->string;
		if (strcmp(k, "dir") == 0 || strcmp(k, "pattern") == 0) {
			if (!cJSON_IsString(it) || !*it->valuestring)
				return invalid(v, k, "expected a non-empty string");
		} else if (strcmp(k, "timeout") == 0) {
			if (!cJSON_IsNumber(it) || it->valuedouble <= 0)
				return invalid(v, k, "expected a number of seconds");
		} else if (strcmp(k, "command") != 0) {
			return invalid(v, k, "unknown key (expected dir, pattern, command or timeout)");
		}
	}
	return 0;
}

static int check_serverspec(vctx *v, const cJSON *ss, const char *template_dir)
{
	struct stat st;
	char *dir;
	int rc;

	snprintf(v->path, sizeof(v->path), "tests.serverspec");
	if (!cJSON_IsObject(ss))
		return invalid(v, NULL, "expected an object like {\"dir\": \"serverspec\"}");
	if ((rc = check_serverspec_keys(v, ss)) < 0)
		return rc;
	if (!(dir = serverspec_dir(ss, template_dir)))
		return bk_oom();
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = invalid(v, "dir", "%s: no such directory", dir);
	else
		rc = check_command(v, cJSON_GetObjectItemCaseSensitive(ss, "command"), dir);
	free(dir);
	return rc;
}

/* ---- the tests object ------------------------------------------------- */

static int check_top(vctx *v, const cJSON *tests)
{
	const cJSON *it;

	if (!cJSON_IsObject(tests))
		return invalid(v, NULL, "expected an object with checks or serverspec");
	cJSON_ArrayForEach(it, tests) {
		const char *k = it->string;
		if (strcmp(k, "when") == 0) {
			if (!cJSON_IsString(it) || (strcmp(it->valuestring, "before_image") != 0 &&
						    strcmp(it->valuestring, "after_image") != 0 &&
						    strcmp(it->valuestring, "both") != 0))
				return invalid(v, k, "expected \"before_image\", \"after_image\" or \"both\"");
		} else if (strcmp(k, "checks") != 0 && strcmp(k, "serverspec") != 0) {
			return invalid(v, k, "unknown key (expected when, checks or serverspec)");
		}
	}
	return 0;
}

static int check_all(bk_test_plan *plan, const cJSON *tests, const char *file,
		     const char *template_dir)
{
	vctx v = {file, "tests"};
	const cJSON *checks = cJSON_GetObjectItemCaseSensitive(tests, "checks");
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(tests, "serverspec");
	int rc;

	if ((rc = check_top(&v, tests)) < 0)
		return rc;
	if (checks && (rc = check_list(&v, checks, plan)) < 0)
		return rc;
	if ((!checks || cJSON_GetArraySize(checks) == 0) && !ss) {
		snprintf(v.path, sizeof(v.path), "tests");
		return invalid(&v, NULL, "nothing to test (give checks or serverspec)");
	}
	return ss ? check_serverspec(&v, ss, template_dir) : 0;
}

/* ---- the plan --------------------------------------------------------- */

static unsigned phases_of(const char *when)
{
	if (when && strcmp(when, "both") == 0)
		return BK_TESTS_BEFORE_IMAGE | BK_TESTS_AFTER_IMAGE;
	if (when && strcmp(when, "after_image") == 0)
		return BK_TESTS_AFTER_IMAGE;
	return BK_TESTS_BEFORE_IMAGE;
}

static int read_serverspec(bk_serverspec_cfg *out, const cJSON *ss, const char *template_dir)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(ss, "command"), *el;
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(ss, "timeout");
	const char *pattern = bk_json_str(ss, "pattern");
	int rc = 0;

	/* Unset stays unset: the runner (serverspec.c) owns the defaults. */
	out->dir = serverspec_dir(ss, template_dir);
	out->pattern = pattern ? bk_strdup(pattern) : NULL;
	out->timeout_s = cJSON_IsNumber(to) ? to->valuedouble : 0;
	if (cJSON_IsArray(cmd))
		cJSON_ArrayForEach(el, cmd)
			rc = rc ? rc : bk_strv_push(&out->command, el->valuestring);
	else if (cJSON_IsString(cmd))
		rc = bk_strv_push(&out->command, cmd->valuestring);
	if (rc == 0 && (!out->dir || (pattern && !out->pattern)))
		rc = bk_oom();
	return rc;
}

/* The rest of the plan, once check_all has read the checks. */
static int read_plan(bk_test_plan *t, const cJSON *tests, const char *template_dir)
{
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(tests, "serverspec");

	t->phases = phases_of(bk_json_str(tests, "when"));
	t->has_serverspec = ss != NULL;
	return ss ? read_serverspec(&t->serverspec, ss, template_dir) : 0;
}

int bk_verify_parse(bk_test_plan **out, const cJSON *tests, const char *file,
		    const char *template_dir)
{
	bk_test_plan *t;
	int rc;

	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return bk_oom();
	if ((rc = check_all(t, tests, file, template_dir)) < 0 ||
	    (rc = read_plan(t, tests, template_dir)) < 0) {
		bk_test_plan_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int bk_verify_validate(const cJSON *tests, const char *file, const char *template_dir)
{
	bk_test_plan *t = NULL;
	int rc = bk_verify_parse(&t, tests, file, template_dir);

	bk_test_plan_free(t);
	return rc;
}

void bk_test_plan_free(bk_test_plan *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->checks_count; i++)
		bk_check_free(&t->checks[i]);
	free(t->checks);
	free(t->serverspec.dir);
	free(t->serverspec.pattern);
	bk_strv_free(&t->serverspec.command);
	free(t);
}
