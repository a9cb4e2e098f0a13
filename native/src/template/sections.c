/*
 * sections.c - the extensions (tests, promote, reuse) and post-processors.
 * tests are parsed by the verify module into its bk_test_plan, promote
 * checked for shape and kept as rendered JSON. Post-processors are read as
 * Packer 1.6.6 reads them: a name or an object, a nested array a sequence;
 * a type Packer does not have is an error, as in Packer. "manifest" and
 * "shell-local" go into cfg->post_processors, which the bake runs once the
 * image exists; the other Packer types are noted and skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../verify/verify.h"
#include "template_int.h"

int bk_tpl_tests_build(bk_cfg_ctx *c, const cJSON *tests)
{
	cJSON *t = NULL;
	int rc;

	if (!tests)
		return 0;
	if ((rc = bk_interp_render_json(&t, c->in, tests, "tests")) != 0)
		return rc;
	/* One parser for tests: the verify module's, which knows every check. */
	rc = bk_verify_parse(&c->cfg->tests, t, c->file, c->cfg->template_dir);
	c->cfg->tests_json = t;   /* kept for the inputs digest; freed with the config */
	return rc;
}

/* "reuse": true, false, or {"max_age": "168h"} (a Go duration, positive). */
static int read_reuse(bk_cfg_ctx *c, const cJSON *reuse)
{
	static const char *const keys[] = {"max_age", NULL};
	bk_reuse_plan *r = &c->cfg->reuse;
	const cJSON *age;
	int rc;

	if (cJSON_IsNull(reuse))
		return 0;
	if (cJSON_IsBool(reuse)) {
		r->enabled = cJSON_IsTrue(reuse);
		return 0;
	}
	if (!cJSON_IsObject(reuse))
		return bk_tpl_err(c->file, "reuse", "expected true, false or an object like "
				  "{\"max_age\": \"168h\"}, got %s", bk_tpl_json_type(reuse));
	if ((rc = bk_tpl_only_keys(c, reuse, "reuse", keys, NULL)) != 0)
		return rc;
	r->enabled = 1;
	if (!(age = cJSON_GetObjectItemCaseSensitive(reuse, "max_age")))
		return 0;
	if ((rc = bk_tpl_get_dur(&r->max_age_s, c, age, "reuse.max_age")) != 0)
		return rc;
	if (r->max_age_s <= 0)
		return bk_tpl_err(c->file, "reuse.max_age", "must be a positive duration like "
				  "\"168h\"");
	return 0;
}

int bk_tpl_reuse_build(bk_cfg_ctx *c, const cJSON *reuse)
{
	cJSON *r = NULL;
	int rc;

	if (!reuse)
		return 0;
	if ((rc = bk_interp_render_json(&r, c->in, reuse, "reuse")) == 0)
		rc = read_reuse(c, r);
	cJSON_Delete(r);
	return rc;
}

static bool account_id(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n == 12 && !s[n];
}

static int check_share(const bk_cfg_ctx *c, const cJSON *p)
{
	bk_strv ids = BK_STRV_INIT;
	char path[48];
	int rc = bk_tpl_get_opt(&ids, c, p, "share_with", "promote", 'v');

	for (size_t i = 0; rc == 0 && i < ids.count; i++)
		if (!account_id(ids.items[i])) {
			snprintf(path, sizeof(path), "promote.share_with[%zu]", i);
			rc = bk_tpl_err(c->file, path, "\"%.40s\" is not a 12-digit AWS account "
					"id", ids.items[i]);
		}
	bk_strv_free(&ids);
	return rc;
}

static int check_numbers(const bk_cfg_ctx *c, const cJSON *p)
{
	const cJSON *keep = cJSON_GetObjectItemCaseSensitive(p, "keep_last");
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(p, "deprecate_after_days");
	long long n = 0;
	int rc = 0;

	if (keep && (rc = bk_tpl_get_int(&n, c, keep, "promote.keep_last")) == 0 && n < 1)
		rc = bk_tpl_err(c->file, "promote.keep_last", "must be a positive integer "
				"(got %lld)", n);
	if (rc == 0 && days && (rc = bk_tpl_get_int(&n, c, days, "promote.deprecate_after_days")) == 0
	    && n < 0)
		rc = bk_tpl_err(c->file, "promote.deprecate_after_days", "must not be negative "
				"(got %lld)", n);
	return rc;
}

static int check_promote_types(const bk_cfg_ctx *c, const cJSON *p)
{
	bk_strv v = BK_STRV_INIT;
	bk_kv k = BK_KV_INIT;
	char *s = NULL;
	int rc = bk_tpl_get_opt(&v, c, p, "regions", "promote", 'v');

	bk_strv_free(&v);
	if (rc == 0)
		rc = bk_tpl_get_opt(&v, c, p, "share_with_org_arns", "promote", 'v');
	bk_strv_free(&v);
	if (rc == 0)
		rc = bk_tpl_get_opt(&v, c, p, "share_with_ou_arns", "promote", 'v');
	if (rc == 0)
		rc = bk_tpl_get_opt(&s, c, p, "ssm_parameter", "promote", 's');
	free(s);
	s = NULL;
	if (rc == 0)
		rc = bk_tpl_get_opt(&s, c, p, "family", "promote", 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&k, c, p, "tags", "promote", 'k');
	bk_strv_free(&v);
	bk_kv_free(&k);
	free(s);
	return rc;
}

/* Rendered and checked here, then typed: the promotion reads the plan. */
int bk_tpl_promote_build(bk_cfg_ctx *c, const cJSON *promote)
{
	static const char *const keys[] = {"regions", "share_with", "share_with_org_arns",
		"share_with_ou_arns", "ssm_parameter", "tags", "deprecate_after_days", "keep_last",
		"family", NULL};
	cJSON *p = NULL;
	int rc = 0;

	if (promote && (rc = bk_interp_render_json(&p, c->in, promote, "promote")) != 0)
		return rc;
	if (p)
		rc = bk_tpl_only_keys(c, p, "promote", keys, NULL);
	if (rc == 0 && p)
		rc = check_promote_types(c, p);
	if (rc == 0 && p)
		rc = check_share(c, p);
	if (rc == 0 && p)
		rc = check_numbers(c, p);
	if (rc == 0)
		rc = bk_promote_plan_build(&c->cfg->promote, p, c->cfg->builder);
	cJSON_Delete(p);
	return rc;
}

static int read_manifest(const bk_cfg_ctx *c, const cJSON *m, const char *path,
			 bk_manifest_cfg *mf)
{
	static const char *const keys[] = {"type", "name", "output", "strip_path",
		"strip_time", "custom_data", "keep_input_artifact", "only", "except", NULL};
	int rc = bk_tpl_only_keys(c, m, path, keys, "a manifest post-processor");

	if (rc == 0)
		rc = bk_tpl_get_opt(&mf->output, c, m, "output", path, 's');
	if (rc == 0)
		rc = bk_tpl_get_opt(&mf->strip_path, c, m, "strip_path", path, 'b');
	if (rc == 0)
		rc = bk_tpl_get_opt(&mf->strip_time, c, m, "strip_time", path, 'b');
	if (rc == 0)
		rc = bk_tpl_get_opt(&mf->custom_data, c, m, "custom_data", path, 'k');
	if (rc == 0 && mf->output && !*mf->output) {   /* "" is Packer's default too */
		free(mf->output);
		mf->output = NULL;
	}
	return rc;
}

static void pp_free(bk_post_processor *pp)
{
	free(pp->path);
	free(pp->manifest.output);
	bk_kv_free(&pp->manifest.custom_data);
	bk_tpl_provisioner_free(&pp->local);
}

static int push_pp(bk_cfg_ctx *c, bk_post_processor *pp)
{
	bk_build_config *cfg = c->cfg;
	bk_post_processor *arr = realloc(cfg->post_processors,
					 (cfg->post_processors_count + 1) * sizeof(*arr));

	if (!arr) {
		pp_free(pp);
		return bk_oom();
	}
	cfg->post_processors = arr;
	arr[cfg->post_processors_count++] = *pp;
	return 0;
}

/* "manifest", or an object: rendered, read, kept to run after the image. */
static int manifest(bk_cfg_ctx *c, const cJSON *src, const char *path)
{
	bk_post_processor pp = {.is_manifest = true};
	cJSON *m = NULL;
	int rc = (pp.path = bk_strdup(path)) ? 0 : bk_oom();

	if (rc == 0 && !cJSON_IsString(src) &&
	    (rc = bk_interp_render_json(&m, c->in, src, path)) == 0)
		rc = read_manifest(c, m, path, &pp.manifest);
	cJSON_Delete(m);
	if (rc != 0) {
		pp_free(&pp);
		return rc;
	}
	return push_pp(c, &pp);
}

/* Packer 1.6.6's built-in post-processors (command/plugin.go). Debian's
 * packer 1.6.6 build leaves out ucloud-import, yandex-export and
 * yandex-import. */
static const char *const packer_pps[] = {"alicloud-import", "amazon-import", "artifice",
	"checksum", "compress", "digitalocean-import", "docker-import", "docker-push",
	"docker-save", "docker-tag", "exoscale-import", "googlecompute-export",
	"googlecompute-import", "manifest", "shell-local", "ucloud-import", "vagrant",
	"vagrant-cloud", "vsphere", "vsphere-template", "yandex-export", "yandex-import"};

/* Packer's shell-local post-processor: the provisioner's reader, run on
 * the agent once the image exists (bake/post_process.c). */
static int shell_local(bk_cfg_ctx *c, const cJSON *src, const char *path)
{
	bk_post_processor pp = {.is_manifest = false};
	cJSON *m = NULL;
	int rc = (pp.path = bk_strdup(path)) ? 0 : bk_oom();

	if (rc == 0 && !cJSON_IsObject(src))
		rc = bk_tpl_err(c->file, path, "a shell-local post-processor needs command, "
				"inline, script or scripts: give it as an object");
	if (rc == 0 && (rc = bk_interp_render_json(&m, c->in, src, path)) == 0)
		rc = bk_tpl_local_pp_build(c, m, path, &pp.local);
	cJSON_Delete(m);
	if (rc != 0) {
		pp_free(&pp);
		return rc;
	}
	return push_pp(c, &pp);
}

static int pp_type(const bk_cfg_ctx *c, const char *type, const char *path)
{
	const char *near;
	char *tpath;
	int rc;

	for (size_t i = 0; i < BK_ARRAY_SIZE(packer_pps); i++)
		if (strcmp(packer_pps[i], type) == 0)
			return 0;
	near = bk_tpl_nearest_key(type, packer_pps, sizeof(*packer_pps), BK_ARRAY_SIZE(packer_pps));
	if (!(tpath = bk_sprintf("%s.type", path)))
		return bk_oom();
	rc = bk_tpl_err(c->file, tpath, "unknown post-processor type \"%s\": Packer 1.6.6 has "
			"none of that name either%s%s%s", type, near ? " (did you mean \"" : "",
			near ? near : "", near ? "\"?)" : "");
	free(tpath);
	return rc;
}

/* A post-processor's own only/except skips just it. As Packer 1.6.6's
 * core.go, they name the build as written (its raw "name", else its
 * type), not as rendered. */
static bool pp_skipped(const bk_cfg_ctx *c, const cJSON *pp)
{
	const cJSON *only = cJSON_GetObjectItemCaseSensitive(pp, "only");
	const cJSON *except = cJSON_GetObjectItemCaseSensitive(pp, "except");
	const char *name = bk_tpl_raw_build_name(c->tpl->builder);

	return (cJSON_IsArray(only) && !bk_tpl_json_listed(only, name)) ||
	       bk_tpl_json_listed(except, name);
}

/* A post-processor's name for -except: its "name", else its type (a
 * string entry is its type), as Packer's parse.go defaults it. */
static const char *pp_name(const cJSON *pp)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pp, "name"));

	if (name && *name)
		return name;
	return cJSON_IsString(pp) ? pp->valuestring
		: cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pp, "type"));
}

/* Packer's -except also names post-processors: one so named is left out
 * with the rest of its sequence (core.go breaks out of the chain), unless
 * its own only/except already skipped it. */
static bool pp_excepted(const bk_cfg_ctx *c, const cJSON *pp, const char *path)
{
	const char *name = pp_name(pp);
	const bk_strv *except = &c->tpl->except;

	if (!name || pp_skipped(c, pp))
		return false;
	for (size_t i = 0; i < except->count; i++)
		if (*except->items[i] && strcmp(except->items[i], name) == 0) {
			bk_tpl_warn(c->warnings, "%s: %s: post-processor '%s' left out by -except, "
				    "with the rest of its sequence", c->file, path, name);
			return true;
		}
	return false;
}

/* One entry: "name", {"type": ...}; a nested array is a sequence. */
static int one_pp(bk_cfg_ctx *c, const cJSON *pp, const char *path, bool nested)
{
	const char *type = cJSON_IsString(pp) ? pp->valuestring
			   : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pp, "type"));
	size_t i = 0;
	int rc = 0;

	if (cJSON_IsArray(pp) && !nested) {
		for (const cJSON *it = pp->child; it && rc == 0; it = it->next, i++) {
			char *sub = bk_tpl_jpath_index(path, i);
			if (sub && pp_excepted(c, it, sub)) {
				free(sub);
				break;
			}
			rc = sub ? one_pp(c, it, sub, true) : bk_oom();
			free(sub);
		}
		return rc;
	}
	if (!type)
		return bk_tpl_err(c->file, path, "expected a post-processor name or an object "
				  "with a string \"type\"");
	if ((rc = pp_type(c, type, path)) != 0)
		return rc;
	if (pp_skipped(c, pp)) {
		bk_tpl_warn(c->warnings, "%s: %s: skipped for build \"%s\" (only/except)", c->file,
			path, c->cfg->build_name);
		return 0;
	}
	if (!nested && pp_excepted(c, pp, path))
		return 0;
	if (strcmp(type, "manifest") == 0)
		return manifest(c, pp, path);
	if (strcmp(type, "shell-local") == 0)
		return shell_local(c, pp, path);
	bk_tpl_warn(c->warnings, "%s: %s: post-processor \"%s\" is ignored by bakeami", c->file,
		path, type);
	return 0;
}

void bk_tpl_post_processors_free(bk_build_config *cfg)
{
	for (size_t i = 0; i < cfg->post_processors_count; i++)
		pp_free(&cfg->post_processors[i]);
	free(cfg->post_processors);
	cfg->post_processors = NULL;
	cfg->post_processors_count = 0;
}

const bk_manifest_cfg *bk_build_manifest(const bk_build_config *c)
{
	for (size_t i = 0; c && i < c->post_processors_count; i++)
		if (c->post_processors[i].is_manifest)
			return &c->post_processors[i].manifest;
	return NULL;
}

int bk_tpl_post_processors_build(bk_cfg_ctx *c, const cJSON *pps)
{
	size_t i = 0;
	int rc = 0;

	if (!pps)
		return 0;
	if (!cJSON_IsArray(pps))
		return bk_tpl_err(c->file, "post-processors", "expected an array, got %s",
				  bk_tpl_json_type(pps));
	for (const cJSON *it = pps->child; it && rc == 0; it = it->next, i++) {
		char *sub = bk_tpl_jpath_index("post-processors", i);
		rc = sub ? one_pp(c, it, sub, false) : bk_oom();
		free(sub);
	}
	return rc;
}
