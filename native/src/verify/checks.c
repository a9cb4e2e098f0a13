/*
 * checks.c - the table of native check types and what is generic about a
 * check: its fields by the type's table, its subject, building its command
 * and turning a type's verdict into a message that names the subject.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

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

void *bk_check_field_at(bk_check *c, const bk_field *f)
{
	return (char *)c + f->offset;
}

const void *bk_check_field_get(const bk_check *c, const bk_field *f)
{
	return (const char *)c + f->offset;
}

static void field_unset(bk_check *c, const bk_field *f)
{
	void *at = bk_check_field_at(c, f);

	switch (f->kind) {
	case BK_F_BOOL:
		*(int *)at = -1;
		break;
	case BK_F_INT: case BK_F_MODE: case BK_F_PORT:
		*(long *)at = -1;
		break;
	default:
		break;   /* pointers, bk_strv and seconds are unset as zero */
	}
}

void bk_check_init(bk_check *c, const bk_check_type *t)
{
	memset(c, 0, sizeof(*c));
	c->type = t;
	if (!t)
		return;
	c->kind = t->kind;
	for (const bk_field *f = t->fields; f->key; f++)
		field_unset(c, f);
}

static void field_free(bk_check *c, const bk_field *f)
{
	void *at = bk_check_field_at(c, f);

	switch (f->kind) {
	case BK_F_STRING: case BK_F_TEXT: case BK_F_SCALAR: case BK_F_REGEX:
	case BK_F_SHA256: case BK_F_PROTOCOL: case BK_F_FILETYPE:
		free(*(char **)at);
		*(char **)at = NULL;
		break;
	case BK_F_STRINGS:
		bk_strv_free(at);
		break;
	default:
		break;
	}
}

void bk_check_free(bk_check *c)
{
	if (!c)
		return;
	for (const bk_field *f = c->type ? c->type->fields : NULL; f && f->key; f++)
		field_free(c, f);
	free(c->path);
	free(c->name);
	free(c->subject);
	c->path = c->name = c->subject = NULL;
}

char *bk_check_subject(const bk_check *check)
{
	const bk_check_type *t = check->type;

	if (!t || !check->subject)
		return NULL;
	/* A command is words itself: quoted, it reads apart from what follows. */
	return bk_sprintf(t->subject == BK_SUBJ_COMMAND ? "%s \"%s\"" : "%s %s", t->type,
			  check->subject);
}

char *bk_check_command(const bk_check *check)
{
	bk_buf cmd = BK_BUF_INIT;

	if (!check->type || !check->subject)
		return NULL;
	if (check->type->command(&cmd, check) < 0) {
		bk_buf_free(&cmd);
		return NULL;
	}
	return bk_buf_detach(&cmd);
}

int bk_check_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	const bk_check_type *t = check->type;
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

double bk_check_timeout(const bk_check *check)
{
	if (check->timeout_s > 0)
		return check->timeout_s;
	return check->type ? check->type->default_timeout_s : 60;
}
