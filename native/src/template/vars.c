/*
 * vars.c - user variables: defaults under "variables" (null = required),
 * then each -var-file, then each -var; the later wins. Values are rendered
 * once, where {{env}} is allowed and {{user}} may name another variable
 * (resolved on demand, with cycles reported).
 */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "template_int.h"

enum { RAW, RENDERING, DONE };

typedef struct {
	char *name;
	char *raw;          /* NULL: required and not set */
	char *file, *path;  /* where the value came from, for messages */
	char *value;
	int state;
} var;

typedef struct {
	bk_template *tpl;
	var *v;
	size_t n, cap;
} varset;

static void varset_free(varset *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].raw);
		free(vs->v[i].file);
		free(vs->v[i].path);
		free(vs->v[i].value);
	}
	free(vs->v);
}

static var *find(varset *vs, const char *name)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	return NULL;
}

/* Declare or override: raw NULL declares a required variable. */
static int set(varset *vs, const char *name, const char *raw, const char *file,
	       const char *path)
{
	var *v = find(vs, name);

	if (!v) {
		if (vs->n == vs->cap) {
			size_t cap = vs->cap ? vs->cap * 2 : 16;
			var *p = realloc(vs->v, cap * sizeof(*p));
			if (!p)
				return bk_oom();
			vs->v = p;
			vs->cap = cap;
		}
		v = &vs->v[vs->n++];
		memset(v, 0, sizeof(*v));
		if (!(v->name = bk_strdup(name)))
			return bk_oom();
	}
	free(v->raw);
	free(v->file);
	free(v->path);
	v->raw = bk_strdup(raw);
	v->file = bk_strdup(file);
	v->path = bk_strdup(path);
	if ((raw && !v->raw) || !v->file || !v->path)
		return bk_oom();
	return 0;
}

/* Packer 1.6.6 decodes defaults strictly (unlike options): a number or a
 * boolean is refused, so it is here, saying how to write it. */
static int declare(varset *vs, const cJSON *it, const char *file)
{
	char *path = bk_tpl_jpath_key("variables", it->string), *text = NULL;
	int rc;

	if (!path)
		return bk_oom();
	if (cJSON_IsNumber(it) || cJSON_IsBool(it))
		rc = (text = cJSON_PrintUnformatted(it)) ? bk_tpl_err(file, path, "expected a "
			"string (or null for a required variable), got %s: Packer 1.6.6 refuses it "
			"too; write it as the string \"%s\"", bk_tpl_json_type(it), text) : bk_oom();
	else if (!cJSON_IsString(it) && !cJSON_IsNull(it))
		rc = bk_tpl_err(file, path, "expected a string (or null for a required "
				"variable), got %s", bk_tpl_json_type(it));
	else
		rc = set(vs, it->string, cJSON_GetStringValue(it), file, path);
	if (text)
		cJSON_free(text);
	free(path);
	return rc;
}

static int load_defaults(varset *vs, const cJSON *root)
{
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(root, "variables");
	const char *file = vs->tpl->path;
	int rc = 0;

	if (!vars)
		return 0;
	if (!cJSON_IsObject(vars))
		return bk_tpl_err(file, "variables", "expected an object, got %s",
				  bk_tpl_json_type(vars));
	for (const cJSON *it = vars->child; it && rc == 0; it = it->next)
		rc = declare(vs, it, file);
	return rc;
}

static int load_sensitive(varset *vs, const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "sensitive-variables");
	const char *file = vs->tpl->path;
	size_t i = 0;
	int rc = 0;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return bk_tpl_err(file, "sensitive-variables", "expected an array of "
				  "variable names, got %s", bk_tpl_json_type(list));
	for (const cJSON *it = list->child; it && rc == 0; it = it->next, i++) {
		char path[64];
		snprintf(path, sizeof(path), "sensitive-variables[%zu]", i);
		if (!cJSON_IsString(it))
			rc = bk_tpl_err(file, path, "expected a string, got %s", bk_tpl_json_type(it));
		else if (!find(vs, it->valuestring))
			rc = bk_tpl_err(file, path, "'%s' is not declared under \"variables\"",
					it->valuestring);
		else
			rc = bk_strv_push(&vs->tpl->sensitive, it->valuestring);
	}
	return rc;
}

static int load_var_file(varset *vs, const char *file)
{
	cJSON *obj = NULL;
	int rc;

	/* Say which option named the file: "x.json: No such file" alone is vague. */
	if (access(file, R_OK) != 0)
		return bk_err(BAKEAMI_EINVALID, "-var-file %s: %s", file, strerror(errno));
	rc = bk_tpl_json_load_file(&obj, file, &vs->tpl->warnings);

	if (rc == 0 && !cJSON_IsObject(obj))
		rc = bk_err(BAKEAMI_EINVALID, "%s: a var file must be a JSON object of "
			    "name: \"value\" pairs, got %s", file, bk_tpl_json_type(obj));
	for (const cJSON *it = obj ? obj->child : NULL; rc == 0 && it; it = it->next) {
		/* Go's json into map[string]string: null is "". */
		if (cJSON_IsNull(it))
			rc = set(vs, it->string, "", file, it->string);
		else if (!cJSON_IsString(it))
			rc = bk_tpl_err(file, it->string, "expected a string, got %s",
					bk_tpl_json_type(it));
		else
			rc = set(vs, it->string, it->valuestring, file, it->string);
	}
	cJSON_Delete(obj);
	return rc;
}

static int load_cli_var(varset *vs, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *name, *file;
	int rc;

	if (!eq || eq == arg)
		return bk_err(BAKEAMI_EINVALID, "-var %s: expected NAME=VALUE", arg);
	name = bk_strndup(arg, (size_t)(eq - arg));
	file = name ? bk_sprintf("-var %s", name) : NULL;
	rc = file ? set(vs, name, eq + 1, file, "") : bk_oom();
	free(name);
	free(file);
	return rc;
}

static int check_required(varset *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		if (!vs->v[i].raw)
			return bk_tpl_err(vs->v[i].file, vs->v[i].path, "variable '%s' is "
					  "required: set it with -var %s=... or a var file",
					  vs->v[i].name, vs->v[i].name);
	return 0;
}

static int resolve(varset *vs, var *v);

/* {{user `x`}} inside a variable: render x first. */
static int var_user(const char **out, const char *name, void *payload)
{
	varset *vs = payload;
	var *v = find(vs, name);
	int rc;

	if (!v)
		return BAKEAMI_ENOTFOUND;
	if ((rc = resolve(vs, v)) != 0)
		return rc;
	*out = v->value;
	return 0;
}

static int resolve(varset *vs, var *v)
{
	bk_interp in;
	int rc;

	if (v->state == DONE)
		return 0;
	if (v->state == RENDERING)
		return bk_tpl_err(v->file, v->path, "variable '%s' refers to itself "
				  "through {{user}}", v->name);
	v->state = RENDERING;
	bk_interp_init(&in, vs->tpl, NULL, &vs->tpl->warnings);
	in.file = v->file;
	in.user = var_user;
	in.user_payload = vs;
	in.allow_env = true;
	in.secret = vs->tpl->secret;
	in.secret_payload = vs->tpl->secret_payload;
	in.secrets = &vs->tpl->secrets;
	rc = bk_interp_render(&v->value, &in, v->raw, v->path);
	v->state = DONE;
	return rc;
}

static int resolve_all(varset *vs)
{
	int rc = 0;

	for (size_t i = 0; i < vs->n && rc == 0; i++)
		rc = resolve(vs, &vs->v[i]);
	for (size_t i = 0; i < vs->n && rc == 0; i++)
		rc = bk_kv_set(&vs->tpl->vars, vs->v[i].name, vs->v[i].value);
	return rc;
}

int bk_tpl_vars_resolve(bk_template *tpl, const bk_template_source *src)
{
	varset vs = {tpl, NULL, 0, 0};
	int rc = load_defaults(&vs, tpl->root);

	if (rc == 0)
		rc = load_sensitive(&vs, tpl->root);
	for (size_t i = 0; rc == 0 && i < src->var_files_count; i++)
		rc = load_var_file(&vs, src->var_files[i]);
	for (size_t i = 0; rc == 0 && i < src->vars_count; i++)
		rc = load_cli_var(&vs, src->vars[i]);
	if (rc == 0)
		rc = check_required(&vs);
	if (rc == 0)
		rc = resolve_all(&vs);
	varset_free(&vs);
	return rc;
}
