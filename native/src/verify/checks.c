/*
 * checks.c - the table of native check types and what is generic about a
 * check: finding its type, its subject and name, building its command and
 * turning a type's verdict into a message that names the subject.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

#define NAME_VALUE_MAX 40   /* longer values are cut in generated names */

static const bk_check_type *const TYPES[] = {
	&bk_check_package, &bk_check_service, &bk_check_port, &bk_check_file,
	&bk_check_command_type, &bk_check_user, &bk_check_group, &bk_check_process,
	&bk_check_kernel_param, &bk_check_http,
};

const bk_check_type *const *bk_check_types(size_t *count)
{
	*count = BK_ARRAY_SIZE(TYPES);
	return TYPES;
}

const bk_check_type *bk_check_type_find(const char *type)
{
	for (size_t i = 0; type && i < BK_ARRAY_SIZE(TYPES); i++)
		if (strcmp(TYPES[i]->type, type) == 0)
			return TYPES[i];
	return NULL;
}

const bk_field *bk_check_field(const bk_check_type *t, const char *key)
{
	for (const bk_field *f = t->fields; key && f->key; f++)
		if (strcmp(f->key, key) == 0)
			return f;
	return NULL;
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
const bk_check_type *bk_check_type_of(const cJSON *check)
{
	const cJSON *it;
	const bk_check_type *t;

	cJSON_ArrayForEach(it, check)
		if ((t = bk_check_type_find(it->string)) && type_fits(t, check))
			return t;
	return NULL;
}

char *bk_check_type_list(void)
{
	bk_buf b = BK_BUF_INIT;

	for (size_t i = 0; i < BK_ARRAY_SIZE(TYPES); i++)
		if (bk_buf_printf(&b, "%s%s", i ? ", " : "", TYPES[i]->type) < 0) {
			bk_buf_free(&b);
			return NULL;
		}
	return bk_buf_detach(&b);
}

char *bk_check_subject(const cJSON *check)
{
	const bk_check_type *t = bk_check_type_of(check);
	char *v, *s;

	if (!t || !(v = bk_json_text(cJSON_GetObjectItemCaseSensitive(check, t->type))))
		return NULL;
	/* A command is words itself: quoted, it reads apart from what follows. */
	s = bk_sprintf(t->subject == BK_SUBJ_COMMAND ? "%s \"%s\"" : "%s %s", t->type, v);
	free(v);
	return s;
}

char *bk_check_command(const cJSON *check)
{
	const bk_check_type *t = bk_check_type_of(check);
	bk_buf cmd = BK_BUF_INIT;
	char *subject;
	int rc;

	if (!t || !(subject = bk_json_text(cJSON_GetObjectItemCaseSensitive(check, t->type))))
		return NULL;
	rc = t->command(&cmd, check, subject);
	free(subject);
	if (rc < 0) {
		bk_buf_free(&cmd);
		return NULL;
	}
	return bk_buf_detach(&cmd);
}

int bk_check_judge(bk_verdict *v, const cJSON *check, const bk_check_output *o)
{
	const bk_check_type *t = bk_check_type_of(check);
	bk_verdict raw = BK_VERDICT_INIT;
	char *subject;
	int rc;

	if (!t)
		return bk_err(BAKEAMI_EINVALID, "not a known check");
	if ((rc = t->judge(&raw, check, o)) < 0) {
		bk_verdict_free(&raw);
		return rc;
	}
	v->status = raw.status;
	if (raw.status == BK_TEST_PASSED) {
		bk_verdict_free(&raw);
		return 0;
	}
	/* "service nginx: expected running, found inactive" */
	subject = bk_check_subject(check);
	rc = bk_buf_printf(&v->why, "%s: %s", subject ? subject : t->type,
			   raw.why.ptr ? raw.why.ptr : "failed");
	free(subject);
	bk_verdict_free(&raw);
	return rc;
}

/* ---- names ------------------------------------------------------------ */

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

char *bk_check_name(const cJSON *check)
{
	const bk_check_type *t = bk_check_type_of(check);
	const char *given = bk_json_str(check, "name");
	bk_buf b = BK_BUF_INIT;
	bool first = true;
	int rc;

	if (given && *given)
		return bk_strdup(given);
	if (!t)
		return bk_strdup("check");
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

double bk_check_timeout(const cJSON *check)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(check, "timeout");
	const bk_check_type *t = bk_check_type_of(check);

	if (cJSON_IsNumber(it) && it->valuedouble > 0)
		return it->valuedouble;
	return t ? t->default_timeout_s : 60;
}
