/*
 * template.c - bk_template_load: parse, check the top level, resolve the
 * variables, build the config with empty build variables (so every error
 * shows before any AWS call), and collect the secrets to mask.
 */
#include <stdio.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "template_int.h"

static const char *const top_keys[] = {
	"min_packer_version", "description", "variables", "sensitive-variables",
	"builders", "provisioners", "post-processors", "error-cleanup-provisioner",
	"comments", "push", "tests", "promote", "reuse", NULL};

int bk_tpl_check_top(bk_template *tpl)
{
	const cJSON *root = tpl->root;

	if (!cJSON_IsObject(root))
		return bk_err(BAKEAMI_EINVALID, "%s: a template is a JSON object, got %s",
			      tpl->path, bk_tpl_json_type(root));
	for (const cJSON *it = root->child; it; it = it->next) {
		const char *const *k = top_keys;
		while (*k && strcmp(*k, it->string) != 0)
			k++;
		if (!*k && it->string[0] != '_')   /* "_x": Packer's comment keys */
			return bk_tpl_err(tpl->path, it->string, "unknown top-level key (known: "
					  "variables, sensitive-variables, builders, provisioners, "
					  "post-processors, tests, promote, reuse, description, "
					  "min_packer_version)");
	}
	for (size_t i = 0; i < 2; i++) {
		const char *key = i ? "min_packer_version" : "description";
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
		if (v && !cJSON_IsString(v))
			return bk_tpl_err(tpl->path, key, "expected a string, got %s",
					  bk_tpl_json_type(v));
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "push"))
		bk_tpl_warn(&tpl->warnings, "%s: push is ignored by bakeami", tpl->path);
	return 0;
}

/* The absolute directory of the template, for template_dir and paths. */
static int locate(bk_template *tpl, const char *path)
{
	char cwd[PATH_MAX], *copy = bk_strdup(path), *dir;

	if (!copy || !getcwd(cwd, sizeof(cwd))) {
		free(copy);
		return bk_err(BAKEAMI_EIO, "cannot read the working directory");
	}
	dir = dirname(copy);
	tpl->pwd = bk_strdup(cwd);
	if (dir[0] == '/')
		tpl->dir = bk_strdup(dir);
	else if (strcmp(dir, ".") == 0)
		tpl->dir = bk_strdup(cwd);
	else
		tpl->dir = bk_sprintf("%s/%s", cwd, dir);
	free(copy);
	return tpl->pwd && tpl->dir ? 0 : bk_oom();
}

static int add_secret(bk_template *tpl, const char *s)
{
	if (!s || !*s)
		return 0;
	for (size_t i = 0; i < tpl->secrets.count; i++)
		if (strcmp(tpl->secrets.items[i], s) == 0)
			return 0;
	return bk_strv_push(&tpl->secrets, s);
}

static int collect_secrets(bk_template *tpl)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < tpl->sensitive.count; i++)
		rc = add_secret(tpl, bk_kv_get(&tpl->vars, tpl->sensitive.items[i]));
	if (rc == 0)
		rc = add_secret(tpl, tpl->cfg->secret_key);
	if (rc == 0)
		rc = add_secret(tpl, tpl->cfg->token);
	return rc;
}

/* Every occurrence of v in *msg replaced by <sensitive>. */
static void mask_one(char **msg, const char *v)
{
	char *hit, *tmp;

	while (*msg && v && *v && (hit = strstr(*msg, v))) {
		*hit = '\0';
		tmp = bk_sprintf("%s<sensitive>%s", *msg, hit + strlen(v));
		free(*msg);
		*msg = tmp;
	}
}

char *bk_tpl_mask(const bk_template *tpl, const char *text)
{
	char *msg = bk_strdup(text);

	for (size_t i = 0; msg && i < tpl->sensitive.count; i++)
		mask_one(&msg, bk_kv_get(&tpl->vars, tpl->sensitive.items[i]));
	for (size_t i = 0; msg && i < tpl->secrets.count; i++)
		mask_one(&msg, tpl->secrets.items[i]);
	return msg;
}

/* Messages may quote a rendered value; the caller has no handle to mask
 * them with when loading fails, so sensitive values are masked here. */
int bk_template_mask_error(const bk_template *tpl, int rc)
{
	char *msg = bk_tpl_mask(tpl, bk_err_msg());

	if (msg)
		bk_err(rc, "%s", msg);
	free(msg);
	return rc;
}

/* Up to the builds: parsed, variables resolved, builds selected. */
static int load_builds(bk_template *tpl, const bk_template_source *src)
{
	int rc;

	if (!src || !src->path || !*src->path)
		return bk_err(BAKEAMI_EINVALID, "no template path given");
	tpl->start = bk_wall();
	bk_uuid4(tpl->run_id);
	tpl->force = src->force;
	for (size_t i = 0; i < src->except_count; i++)
		if (src->except[i] && bk_strv_push(&tpl->except, src->except[i]) < 0)
			return bk_oom();
	tpl->secret = src->secret;
	tpl->secret_payload = src->secret_payload;
	if (!(tpl->path = bk_strdup(src->path)))
		return bk_oom();
	if ((rc = locate(tpl, src->path)) != 0)
		return rc;
	if ((rc = bk_tpl_json_load_file(&tpl->root, src->path, &tpl->warnings)) != 0)
		return rc;
	if ((rc = bk_tpl_check_top(tpl)) != 0)
		return rc;
	if ((rc = bk_tpl_builders_check(tpl->path, tpl->root)) != 0)
		return rc;
	if ((rc = bk_tpl_vars_resolve(tpl, src)) != 0)
		return rc;
	if ((rc = bk_tpl_builds_select(&tpl->builds, tpl, src)) != 0)
		return rc;
	return bk_tpl_builds_refs_check(tpl);
}

int bk_tpl_load(bk_template *tpl, const bk_template_source *src)
{
	int rc;

	if ((rc = load_builds(tpl, src)) != 0)
		return rc;
	if ((rc = bk_tpl_builds_pick(tpl, src)) != 0)
		return rc;
	if ((rc = bk_tpl_config_build(&tpl->cfg, tpl, NULL, &tpl->warnings)) != 0)
		return rc;
	return collect_secrets(tpl);
}

static int copy_list(bk_build_list *out, const bk_build_list *in)
{
	memset(out, 0, sizeof(*out));
	if (!in->count)
		return 0;
	if (!(out->items = calloc(in->count, sizeof(*out->items))))
		return bk_oom();
	for (size_t i = 0; i < in->count; i++) {
		bk_build_info *o = &out->items[i];
		*o = in->items[i];
		o->name = bk_strdup(o->name);
		o->raw_name = bk_strdup(o->raw_name);
		o->type = bk_strdup(o->type);
		out->count++;
		if (!o->name || !o->raw_name || !o->type) {
			bk_build_list_free(out);
			return bk_oom();
		}
	}
	return 0;
}

int bk_template_builds(bk_build_list *out, const bk_template *tpl,
		       const bk_template_source *src)
{
	(void)src;
	return copy_list(out, &tpl->builds);
}

int bk_template_select(bk_build_list *out, const bk_template_source *src)
{
	bk_template *tpl = calloc(1, sizeof(*tpl));
	int rc;

	memset(out, 0, sizeof(*out));
	if (!tpl)
		return bk_oom();
	if ((rc = load_builds(tpl, src)) == 0)
		rc = copy_list(out, &tpl->builds);
	else
		bk_template_mask_error(tpl, rc);
	bk_template_free(tpl);
	return rc;
}

int bk_template_load(bk_template **out, const bk_template_source *src)
{
	bk_template *tpl = calloc(1, sizeof(*tpl));
	int rc;

	*out = NULL;
	if (!tpl)
		return bk_oom();
	if ((rc = bk_tpl_load(tpl, src)) != 0) {
		bk_template_mask_error(tpl, rc);
		bk_template_free(tpl);
		return rc;
	}
	*out = tpl;
	return 0;
}

void bk_template_free(bk_template *tpl)
{
	if (!tpl)
		return;
	free(tpl->path);
	free(tpl->dir);
	free(tpl->pwd);
	cJSON_Delete(tpl->root);
	bk_kv_free(&tpl->vars);
	bk_strv_free(&tpl->sensitive);
	bk_strv_free(&tpl->secrets);
	bk_strv_free(&tpl->warnings);
	bk_strv_free(&tpl->except);
	bk_build_config_free(tpl->cfg);
	bk_build_list_free(&tpl->builds);
	free(tpl);
}

const bk_strv *bk_template_secrets(const bk_template *tpl)
{
	return &tpl->secrets;
}

const bk_strv *bk_template_warnings(const bk_template *tpl)
{
	return &tpl->warnings;
}

const bk_build_config *bk_template_config(const bk_template *tpl)
{
	return tpl->cfg;
}

double bk_template_start_time(const bk_template *tpl)
{
	return tpl->start;
}

const char *bk_template_run_id(const bk_template *tpl)
{
	return tpl->run_id;
}

const char *bk_template_var(const bk_template *tpl, const char *name)
{
	return bk_kv_get(&tpl->vars, name);
}
