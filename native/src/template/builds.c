/*
 * builds.c - the template's builders as builds, as Packer 1.6.6 reads
 * them: each build's name is its "name", else its type, rendered with the
 * user variables; names are unique; -only/-except pick builds by exact
 * name (Packer's JSON mode has no globs: core.go BuildNames compares
 * strings); the selected builds run in the order of their names. A plan is
 * made for one build at a time (bk_template_source.build).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

static const char *const runnable[] = {"amazon-ebs", "amazon-instance"};
static const char *const later[] = {"amazon-chroot", "amazon-ebssurrogate", "amazon-ebsvolume"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool bk_build_selected(const char *name, const char *const *only, size_t only_count,
		       const char *const *except, size_t except_count)
{
	if (only_count && !in_list(name, only, only_count))
		return false;
	return !in_list(name, except, except_count);
}

bool bk_builder_type_runnable(const char *type)
{
	return in_list(type, runnable, BK_ARRAY_SIZE(runnable));
}

static void info_free(bk_build_info *b)
{
	free(b->name);
	free(b->raw_name);
	free(b->type);
}

void bk_build_list_free(bk_build_list *l)
{
	for (size_t i = 0; l && i < l->count; i++)
		info_free(&l->items[i]);
	if (l) {
		free(l->items);
		l->items = NULL;
		l->count = 0;
	}
}

/* ---- Packer's parse-time checks of builders[] (template/parse.go) ---- */

static int check_one(const char *file, const cJSON *b, size_t i)
{
	char path[48];
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");

	snprintf(path, sizeof(path), "builders[%zu]", i);
	if (!cJSON_IsObject(b))
		return bk_tpl_err(file, path, "expected an object, got %s", bk_tpl_json_type(b));
	if (!type || (cJSON_IsString(type) && !*type->valuestring))
		return bk_tpl_err(file, path, "missing 'type'");
	if (!cJSON_IsString(type))
		return bk_tpl_err(file, path, "type: expected a string, got %s",
				  bk_tpl_json_type(type));
	if (name && !cJSON_IsString(name) && !cJSON_IsNull(name))   /* null: unset, as in Packer */
		return bk_tpl_err(file, path, "name: expected a string, got %s",
				  bk_tpl_json_type(name));
	return 0;
}

const char *bk_tpl_raw_build_name(const cJSON *b)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));

	return name && *name ? name
		: cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type"));
}

/* Each builder well formed, and no two of the same name (as written). */
static int check_list(const char *file, const cJSON *list)
{
	size_t i = 0;
	int rc = 0;

	if (!list)
		return bk_tpl_err(file, "builders", "required: at least one builder must be defined "
				  "(one amazon-ebs or amazon-instance builder is required)");
	if (!cJSON_IsArray(list))
		return bk_tpl_err(file, "builders", "expected an array, got %s",
				  bk_tpl_json_type(list));
	if (!list->child)
		return bk_tpl_err(file, "builders", "empty: one amazon-ebs or amazon-instance "
				  "builder is required");
	for (const cJSON *b = list->child; b && rc == 0; b = b->next, i++)
		rc = check_one(file, b, i);
	i = 0;
	for (const cJSON *b = list->child; b && rc == 0; b = b->next, i++) {
		size_t j = 0;
		for (const cJSON *o = list->child; o != b; o = o->next, j++)
			if (strcmp(bk_tpl_raw_build_name(o), bk_tpl_raw_build_name(b)) == 0) {
				char path[48];
				snprintf(path, sizeof(path), "builders[%zu]", i);
				return bk_tpl_err(file, path, "builder with name '%s' already exists "
						  "(builders[%zu]); give one of them another \"name\"",
						  bk_tpl_raw_build_name(b), j);
			}
	}
	return rc;
}

int bk_tpl_builders_check(const char *file, const cJSON *root)
{
	return check_list(file, cJSON_GetObjectItemCaseSensitive(root, "builders"));
}

/* ---- names, rendered --------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const bk_build_info *)a)->name, ((const bk_build_info *)b)->name);
}

/* A name renders with the user variables only, as Packer's
 * "Error interpolating builder" step (no build variables, no env). */
static int render_name(char **out, const bk_template *tpl, const char *raw, size_t i)
{
	char path[48];
	bk_interp in;

	snprintf(path, sizeof(path), "builders[%zu].name", i);
	bk_interp_init(&in, tpl, NULL, NULL);
	in.build_name = raw;
	return bk_interp_render(out, &in, raw, path);
}

static int add_info(bk_build_list *l, const bk_template *tpl, const cJSON *b, size_t i)
{
	bk_build_info *items = realloc(l->items, (l->count + 1) * sizeof(*items));
	bk_build_info *it;
	int rc;

	if (!items)
		return bk_oom();
	l->items = items;
	it = memset(&items[l->count], 0, sizeof(*it));
	it->index = i;
	it->raw_name = bk_strdup(bk_tpl_raw_build_name(b));
	it->type = bk_strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type")));
	if (!it->raw_name || !it->type) {
		info_free(it);
		return bk_oom();
	}
	if ((rc = render_name(&it->name, tpl, it->raw_name, i)) != 0) {
		info_free(it);
		return rc;
	}
	it->runnable = bk_builder_type_runnable(it->type);
	l->count++;
	return 0;
}

/* Rendered names must stay unique: -only could not tell two apart. */
static int check_rendered(const char *file, const bk_build_list *l)
{
	for (size_t i = 1; i < l->count; i++)
		if (strcmp(l->items[i - 1].name, l->items[i].name) == 0)
			return bk_err(BAKEAMI_EINVALID, "%s: builders[%zu] and builders[%zu]: both "
				      "builds are named \"%s\"", file, l->items[i - 1].index,
				      l->items[i].index, l->items[i].name);
	return 0;
}

int bk_tpl_builds_read(bk_build_list *out, const bk_template *tpl)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(tpl->root, "builders");
	size_t i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_list(tpl->path, list)) != 0)
		return rc;
	for (const cJSON *b = list->child; b && rc == 0; b = b->next, i++)
		rc = add_info(out, tpl, b, i);
	if (rc == 0) {
		qsort(out->items, out->count, sizeof(*out->items), cmp_name);
		rc = check_rendered(tpl->path, out);
	}
	if (rc != 0)
		bk_build_list_free(out);
	return rc;
}

/* ---- selection ------------------------------------------------------- */

static void names(char *out, size_t n, const bk_build_list *l)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->count && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "",
					 l->items[i].name);
}

/* A selected build must be one we can bake; a left-out one may be anything. */
static int check_type(const char *file, const bk_build_info *b, const bk_build_list *l)
{
	char path[48], others[256] = "";
	size_t used = 0;

	if (b->runnable)
		return 0;
	snprintf(path, sizeof(path), "builders[%zu].type", b->index);
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].runnable && used < sizeof(others))
			used += (size_t)snprintf(others + used, sizeof(others) - used, "%s%s",
						 used ? "," : "", l->items[i].name);
	if (in_list(b->type, later, BK_ARRAY_SIZE(later)))
		return bk_tpl_err(file, path, "\"%s\" (build '%s') is not supported yet (use "
				  "amazon-ebs); leave it out with -except=%s%s%s", b->type, b->name,
				  b->name, *others ? " or pick builds with -only=" : "", others);
	return bk_tpl_err(file, path, "unknown builder type \"%s\" (build '%s'): bakeami runs "
			  "amazon-ebs and amazon-instance; leave it out with -except=%s%s%s",
			  b->type, b->name, b->name, *others ? " or pick builds with -only=" : "",
			  others);
}

int bk_tpl_builds_select(bk_build_list *out, const bk_template *tpl, const bk_template_source *src)
{
	bk_build_list all;
	size_t kept = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = bk_tpl_builds_read(&all, tpl)) != 0)
		return rc;
	for (size_t i = 0; i < all.count; i++) {
		bk_build_info *b = &all.items[i];
		if (!bk_build_selected(b->name, src->only, src->only_count, src->except,
				       src->except_count)) {
			info_free(b);
			continue;
		}
		if (rc == 0)
			rc = check_type(tpl->path, b, &all);
		all.items[kept++] = *b;
	}
	all.count = kept;
	if (rc != 0) {
		bk_build_list_free(&all);
		return rc;
	}
	*out = all;
	return 0;
}

/* The builder this plan is for: src->build, else the one selected build. */
int bk_tpl_builds_pick(bk_template *tpl, const bk_template_source *src)
{
	const bk_build_list *l = &tpl->builds;
	char list[512];

	names(list, sizeof(list), l);
	for (size_t i = 0; src->build && i < l->count; i++)
		if (strcmp(l->items[i].name, src->build) == 0)
			return bk_tpl_use_builder(tpl, l->items[i].index);
	if (src->build)
		return bk_err(BAKEAMI_EINVALID, "%s: no build named '%s' is selected (selected: "
			      "%s)", tpl->path, src->build, l->count ? list : "none");
	if (l->count == 0)
		return bk_err(BAKEAMI_EINVALID, "%s: -only/-except leave no build to run",
			      tpl->path);
	if (l->count > 1)
		return bk_err(BAKEAMI_EINVALID, "%s: %zu builds (%s): name the one to bake "
			      "(options.build), or bake them all (bakeami_builds_new)", tpl->path,
			      l->count, list);
	return bk_tpl_use_builder(tpl, l->items[0].index);
}

int bk_tpl_use_builder(bk_template *tpl, size_t index)
{
	tpl->builder = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tpl->root, "builders"),
					  (int)index);
	snprintf(tpl->builder_path, sizeof(tpl->builder_path), "builders[%zu]", index);
	tpl->build_name = NULL;
	for (size_t i = 0; i < tpl->builds.count; i++)
		if (tpl->builds.items[i].index == index)
			tpl->build_name = tpl->builds.items[i].name;
	return tpl->builder ? 0 : bk_err(BAKEAMI_ERROR, "internal error: no builders[%zu]", index);
}

/* ---- provisioners' only/except and override name builders (raw names) ---- */

static int names_exist(const char *file, const cJSON *list, const cJSON *root,
		       const char *path, const char *key)
{
	const cJSON *builders = cJSON_GetObjectItemCaseSensitive(root, "builders");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(list, key);
	const cJSON *it;

	if (!cJSON_IsArray(v))
		return 0;   /* the provisioner's reader names a wrong type */
	cJSON_ArrayForEach(it, v) {
		const cJSON *b;
		if (!cJSON_IsString(it))
			continue;
		for (b = builders->child; b; b = b->next)
			if (strcmp(bk_tpl_raw_build_name(b), it->valuestring) == 0)
				break;
		if (!b)
			return bk_err(BAKEAMI_EINVALID, "%s: %s.%s: '%s' specified builder '%s' "
				      "not found", file, path, key, key, it->valuestring);
	}
	return 0;
}

static int overrides_exist(const char *file, const cJSON *p, const cJSON *root,
			   const char *path)
{
	const cJSON *builders = cJSON_GetObjectItemCaseSensitive(root, "builders");
	const cJSON *ov = cJSON_GetObjectItemCaseSensitive(p, "override");
	const cJSON *it;

	if (!cJSON_IsObject(ov))
		return 0;
	cJSON_ArrayForEach(it, ov) {
		const cJSON *b;
		for (b = builders->child; b; b = b->next)
			if (strcmp(bk_tpl_raw_build_name(b), it->string) == 0)
				break;
		if (!b)
			return bk_err(BAKEAMI_EINVALID, "%s: %s.override: override '%s' doesn't "
				      "exist (no builder has that name)", file, path, it->string);
	}
	return 0;
}

/* Packer's OnlyExcept.Validate, for a provisioner or a post-processor. */
static int only_except_check(const bk_template *tpl, const cJSON *p, const char *path)
{
	int rc = 0;

	if (cJSON_GetObjectItemCaseSensitive(p, "only") &&
	    cJSON_GetObjectItemCaseSensitive(p, "except"))
		rc = bk_tpl_err(tpl->path, path, "only one of 'only' or 'except' may be "
				"specified");
	if (rc == 0)
		rc = names_exist(tpl->path, p, tpl->root, path, "only");
	if (rc == 0)
		rc = names_exist(tpl->path, p, tpl->root, path, "except");
	return rc;
}

/* Each post-processor object, also inside a sequence. */
static int pp_refs_check(const bk_template *tpl, const cJSON *pp, const char *path,
			 bool nested)
{
	size_t j = 0;
	int rc = 0;

	if (cJSON_IsObject(pp))
		return only_except_check(tpl, pp, path);
	for (const cJSON *it = cJSON_IsArray(pp) && !nested ? pp->child : NULL; it && rc == 0;
	     it = it->next, j++) {
		char sub[64];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, j);
		rc = pp_refs_check(tpl, it, sub, true);
	}
	return rc;
}

int bk_tpl_builds_refs_check(const bk_template *tpl)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(tpl->root, "provisioners");
	const cJSON *pps = cJSON_GetObjectItemCaseSensitive(tpl->root, "post-processors");
	const cJSON *p;
	size_t i = 0;
	int rc = 0;

	for (p = cJSON_IsArray(list) ? list->child : NULL; p && rc == 0; p = p->next, i++) {
		char path[48];
		snprintf(path, sizeof(path), "provisioners[%zu]", i);
		if (!cJSON_IsObject(p))
			continue;
		rc = only_except_check(tpl, p, path);
		if (rc == 0)
			rc = overrides_exist(tpl->path, p, tpl->root, path);
	}
	i = 0;
	for (p = cJSON_IsArray(pps) ? pps->child : NULL; p && rc == 0; p = p->next, i++) {
		char path[48];
		snprintf(path, sizeof(path), "post-processors[%zu]", i);
		rc = pp_refs_check(tpl, p, path, false);
	}
	return rc;
}
