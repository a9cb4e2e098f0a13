/*
 * inspect.c - what Packer's `validate -syntax-only` and `inspect` look
 * at: the template as parsed (JSON, top level, the shape of builders,
 * provisioners and post-processors), before any variable is resolved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

static int parse_only(bk_template *tpl, const bk_template_source *src)
{
	const cJSON *builders;
	int rc;

	if (!src || !src->path || !*src->path)
		return bk_err(BAKEAMI_EINVALID, "no template path given");
	if (!(tpl->path = bk_strdup(src->path)))
		return bk_oom();
	if ((rc = bk_tpl_json_load_file(&tpl->root, src->path, NULL)) != 0)
		return rc;
	if ((rc = bk_tpl_check_top(tpl)) != 0)
		return rc;
	builders = cJSON_GetObjectItemCaseSensitive(tpl->root, "builders");
	/* No builder at all is a validation error, not a syntax one (Packer). */
	if (!builders || (cJSON_IsArray(builders) && !builders->child))
		return 0;
	return bk_tpl_builders_check(tpl->path, tpl->root);
}

/* Packer's parse.go: every provisioner and post-processor names its type. */
static int check_typed(const char *file, const cJSON *list, const char *key, bool chains)
{
	size_t i = 0;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return bk_tpl_err(file, key, "expected an array, got %s", bk_tpl_json_type(list));
	for (const cJSON *it = list->child; it; it = it->next, i++) {
		char path[64];
		int rc;
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (chains && cJSON_IsArray(it)) {
			if ((rc = check_typed(file, it, path, false)) != 0)
				return rc;
			continue;
		}
		if (chains && cJSON_IsString(it))
			continue;
		if (!cJSON_IsObject(it))
			return bk_tpl_err(file, path, "expected an object, got %s",
					  bk_tpl_json_type(it));
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "type")))
			return bk_tpl_err(file, path, "type: required (a string)");
	}
	return 0;
}

int bk_template_check_syntax(const bk_template_source *src)
{
	bk_template *tpl = calloc(1, sizeof(*tpl));
	int rc;

	if (!tpl)
		return bk_oom();
	rc = parse_only(tpl, src);
	if (rc == 0)
		rc = check_typed(tpl->path, cJSON_GetObjectItemCaseSensitive(tpl->root,
				 "provisioners"), "provisioners", false);
	if (rc == 0)
		rc = check_typed(tpl->path, cJSON_GetObjectItemCaseSensitive(tpl->root,
				 "post-processors"), "post-processors", true);
	bk_template_free(tpl);
	return rc;
}

/* ---- inspect ----------------------------------------------------------- */

/* Packer shows "<sensitive>" for any default equal to a sensitive
 * variable's default (core.go InspectConfig compares the defaults). */
static bool masked(const cJSON *vars, const cJSON *sensitive, const cJSON *def)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, sensitive) {
		const cJSON *sd = cJSON_IsString(s)
			? cJSON_GetObjectItemCaseSensitive(vars, s->valuestring) : NULL;
		const char *a = cJSON_IsString(sd) ? sd->valuestring : "";
		const char *b = cJSON_IsString(def) ? def->valuestring : "";
		if (cJSON_IsString(s) && cJSON_GetObjectItemCaseSensitive(vars, s->valuestring) &&
		    strcmp(a, b) == 0)
			return true;
	}
	return false;
}

static cJSON *variable(const cJSON *vars, const cJSON *sensitive, const cJSON *v)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	bool required = cJSON_IsNull(v);

	if (!o)
		return NULL;
	if (!required && !cJSON_IsString(v))
		text = cJSON_PrintUnformatted(v);
	if (!cJSON_AddStringToObject(o, "name", v->string) ||
	    !(required ? cJSON_AddNullToObject(o, "default")
	      : cJSON_AddStringToObject(o, "default", text ? text : v->valuestring)) ||
	    !cJSON_AddBoolToObject(o, "required", required) ||
	    !cJSON_AddBoolToObject(o, "sensitive", masked(vars, sensitive, v))) {
		cJSON_Delete(o);
		o = NULL;
	}
	free(text);
	return o;
}

static int add_variables(cJSON *doc, const cJSON *root)
{
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(root, "variables");
	const cJSON *sensitive = cJSON_GetObjectItemCaseSensitive(root, "sensitive-variables");
	cJSON *arr = cJSON_AddArrayToObject(doc, "variables");
	const cJSON *v;

	if (!arr)
		return bk_oom();
	const cJSON *each = cJSON_IsObject(vars) ? vars : NULL;

	cJSON_ArrayForEach(v, each) {
		cJSON *o = variable(vars, sensitive, v);
		if (!o || !cJSON_AddItemToArray(arr, o))
			return bk_oom();
	}
	return 0;
}

static int add_builders(cJSON *doc, const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "builders");
	cJSON *arr = cJSON_AddArrayToObject(doc, "builders");
	const cJSON *b;

	if (!arr)
		return bk_oom();
	cJSON_ArrayForEach(b, list) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type"));
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "name", name && *name ? name : type) ||
		    !cJSON_AddStringToObject(o, "type", type))
			return bk_oom();
	}
	return 0;
}

static int add_provisioners(cJSON *doc, const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "provisioners");
	cJSON *arr = cJSON_AddArrayToObject(doc, "provisioners");
	const cJSON *p;

	if (!arr)
		return bk_oom();
	const cJSON *each = cJSON_IsArray(list) ? list : NULL;

	cJSON_ArrayForEach(p, each) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "type"));
		if (type && !cJSON_AddItemToArray(arr, cJSON_CreateString(type)))
			return bk_oom();
	}
	return 0;
}

int bk_template_inspect(char **out, const bk_template_source *src)
{
	bk_template *tpl = calloc(1, sizeof(*tpl));
	cJSON *doc = NULL;
	const char *desc;
	int rc;

	*out = NULL;
	if (!tpl)
		return bk_oom();
	if ((rc = parse_only(tpl, src)) == 0 && !(doc = cJSON_CreateObject()))
		rc = bk_oom();
	desc = rc == 0 ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tpl->root,
									     "description")) : NULL;
	if (rc == 0 && !cJSON_AddStringToObject(doc, "description", desc ? desc : ""))
		rc = bk_oom();
	if (rc == 0)
		rc = add_variables(doc, tpl->root);
	if (rc == 0)
		rc = add_builders(doc, tpl->root);
	if (rc == 0)
		rc = add_provisioners(doc, tpl->root);
	if (rc == 0 && !(*out = cJSON_PrintUnformatted(doc)))
		rc = bk_oom();
	cJSON_Delete(doc);
	bk_template_free(tpl);
	return rc;
}
