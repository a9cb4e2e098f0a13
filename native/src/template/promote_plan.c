/* promote_plan.c - the promotion's settings from the rendered template,
 * and their checks (promote_plan.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "template.h"

/* A template number may be a JSON number or, from a variable, a string. */
static bool json_long(long *out, const cJSON *v)
{
	const char *s = cJSON_GetStringValue(v);
	char *end;

	if (cJSON_IsNumber(v)) {
		*out = (long)v->valuedouble;
		return true;
	}
	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* The non-empty strings of a JSON array, each once. */
static int strings(bk_strv *v, const cJSON *arr)
{
	const cJSON *it;
	int rc = 0;

	cJSON_ArrayForEach(it, arr) {
		bool seen = false;
		if (rc || !cJSON_IsString(it) || !*it->valuestring)
			continue;
		for (size_t i = 0; i < v->count && !seen; i++)
			seen = !strcmp(v->items[i], it->valuestring);
		if (!seen)
			rc = bk_strv_push(v, it->valuestring);
	}
	return rc;
}

static const char *text(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s && *s ? s : NULL;
}

static int kms_keys(bk_promote_plan *p, const cJSON *keys)
{
	const cJSON *it;
	int rc = 0;

	if (!keys || cJSON_IsNull(keys))   /* null: unset, as in Packer */
		return 0;
	if (!cJSON_IsObject(keys))
		return (p->kms_bad = bk_strdup("")) ? 0 : bk_oom();
	cJSON_ArrayForEach(it, keys) {
		if (rc == 0 && cJSON_IsString(it))
			rc = bk_kv_set(&p->region_kms_key_ids, it->string, it->valuestring);
		else if (rc == 0 && !p->kms_bad && !(p->kms_bad = bk_strdup(it->string)))
			rc = bk_oom();
	}
	return rc;
}

static int from_builder(bk_promote_plan *p, const cJSON *b)
{
	int rc = strings(&p->ami_org_arns, cJSON_GetObjectItemCaseSensitive(b, "ami_org_arns"));

	if (rc == 0)
		rc = strings(&p->ami_ou_arns, cJSON_GetObjectItemCaseSensitive(b, "ami_ou_arns"));
	if (rc == 0 && text(b, "deprecate_at") && !(p->deprecate_at = bk_strdup(text(b, "deprecate_at"))))
		rc = bk_oom();
	if (rc == 0)
		rc = kms_keys(p, cJSON_GetObjectItemCaseSensitive(b, "region_kms_key_ids"));
	return rc;
}

static int from_promote(bk_promote_plan *p, const cJSON *o)
{
	const cJSON *it;
	int rc = strings(&p->regions, cJSON_GetObjectItemCaseSensitive(o, "regions"));

	p->present = true;
	if (rc == 0)
		rc = strings(&p->share_with, cJSON_GetObjectItemCaseSensitive(o, "share_with"));
	if (rc == 0)
		rc = strings(&p->share_with_org_arns,
			     cJSON_GetObjectItemCaseSensitive(o, "share_with_org_arns"));
	if (rc == 0)
		rc = strings(&p->share_with_ou_arns,
			     cJSON_GetObjectItemCaseSensitive(o, "share_with_ou_arns"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "tags"))
		if (rc == 0 && cJSON_IsString(it))
			rc = bk_kv_set(&p->tags, it->string, it->valuestring);
	if (rc == 0 && text(o, "ssm_parameter") &&
	    !(p->ssm_parameter = bk_strdup(text(o, "ssm_parameter"))))
		rc = bk_oom();
	if (rc == 0 && text(o, "family") && !(p->family = bk_strdup(text(o, "family"))))
		rc = bk_oom();
	if (!json_long(&p->deprecate_after_days,
		       cJSON_GetObjectItemCaseSensitive(o, "deprecate_after_days")))
		p->deprecate_after_days = -1;
	if (!json_long(&p->keep_last, cJSON_GetObjectItemCaseSensitive(o, "keep_last")) ||
	    p->keep_last < 0)
		p->keep_last = 0;
	return rc;
}

int bk_promote_plan_build(bk_promote_plan *out, const cJSON *promote, const cJSON *builder)
{
	int rc;

	bk_promote_plan_free(out);
	out->deprecate_after_days = -1;
	rc = from_builder(out, builder);
	if (rc == 0 && promote)
		rc = from_promote(out, promote);
	if (rc < 0)
		bk_promote_plan_free(out);
	return rc < 0 ? bk_oom() : 0;
}

void bk_promote_plan_free(bk_promote_plan *p)
{
	bk_strv_free(&p->regions);
	bk_strv_free(&p->share_with);
	bk_strv_free(&p->share_with_org_arns);
	bk_strv_free(&p->share_with_ou_arns);
	free(p->ssm_parameter);
	bk_kv_free(&p->tags);
	free(p->family);
	bk_strv_free(&p->ami_org_arns);
	bk_strv_free(&p->ami_ou_arns);
	bk_kv_free(&p->region_kms_key_ids);
	free(p->deprecate_at);
	free(p->kms_bad);
	memset(p, 0, sizeof(*p));
	p->deprecate_after_days = -1;
}

/* ---- what the promotion code asks ---------------------------------------- */

bool bk_promote_wanted(const bk_build_config *c)
{
	const bk_promote_plan *p = &c->promote;

	return p->present || c->ami_regions.count || c->ami_users.count || c->ami_groups.count ||
	       c->snapshot_users.count || c->snapshot_groups.count || p->ami_org_arns.count ||
	       p->ami_ou_arns.count || p->deprecate_at;
}

char *bk_promote_family(const bk_build_config *c)
{
	const char *path = c->template_path ? c->template_path : "bakeami";
	const char *base = strrchr(path, '/');
	size_t n;

	if (c->promote.family)
		return bk_strdup(c->promote.family);
	base = base ? base + 1 : path;
	n = strlen(base);
	if (bk_str_ends(base, ".json"))
		n -= 5;
	return bk_strndup(base, n);
}

/* ---- checks at VALIDATE -------------------------------------------------- */

static int check_kms_keys(const bk_promote_plan *p, const char *file)
{
	if (!p->kms_bad)
		return 0;
	if (!*p->kms_bad)
		return bk_err(BAKEAMI_EINVALID, "%s: builders[0].region_kms_key_ids: expected an "
			      "object of region: KMS key strings", file);
	return bk_err(BAKEAMI_EINVALID, "%s: builders[0].region_kms_key_ids.%s: expected a "
		      "string (\"\" for the region's default key)", file, p->kms_bad);
}

/* Packer's format: "2006-01-02T15:04:05Z". */
static int check_deprecate_at(const bk_promote_plan *p, const char *file)
{
	struct tm tm = {0};
	const char *end;

	if (!p->deprecate_at)
		return 0;
	end = strptime(p->deprecate_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return bk_err(BAKEAMI_EINVALID, "%s: builders[0].deprecate_at: \"%.40s\" is not "
			      "a UTC time like 2006-01-02T15:04:05Z", file, p->deprecate_at);
	return 0;
}

static bool copies_elsewhere(const bk_strv *regions, const char *build_region)
{
	for (size_t i = 0; i < regions->count; i++)
		if (!build_region || strcmp(regions->items[i], build_region))
			return true;
	return false;
}

/* Packer 1.6.6 copies the image to ami_regions and then deletes it in the
 * build region, even when no copy was made: it reports an image that no
 * longer exists. Here a bake that would keep no image does not start. */
int bk_skip_save_check(const bk_build_config *c, const char *file, const char *build_region,
		       bool reuse)
{
	if (!c->skip_save_build_region || c->skip_create_ami)
		return 0;
	if (reuse)
		return bk_err(BAKEAMI_EINVALID, "%s: builders[0].skip_save_build_region: reuse "
			      "looks for a tested image in the build region, where "
			      "skip_save_build_region keeps none; turn one of them off", file);
	if (copies_elsewhere(&c->ami_regions, build_region) ||
	    copies_elsewhere(&c->promote.regions, build_region))
		return 0;
	return bk_err(BAKEAMI_EINVALID, "%s: builders[0].skip_save_build_region: the image "
		      "would be kept nowhere: ami_regions (or promote.regions) names no region "
		      "besides the build region%s%s", file, build_region ? " " : "",
		      build_region ? build_region : "");
}

int bk_promote_check(const bk_build_config *c, const char *file)
{
	const bk_promote_plan *p = &c->promote;
	int rc = bk_skip_save_check(c, file, c->region && *c->region ? c->region : NULL,
				    c->reuse.enabled);

	if (rc == 0)
		rc = check_kms_keys(p, file);
	if (rc == 0)
		rc = check_deprecate_at(p, file);
	if (rc == 0 && p->deprecate_after_days > BK_MAX_DEPRECATE_DAYS)
		rc = bk_err(BAKEAMI_EINVALID, "%s: promote.deprecate_after_days: at most %d "
			    "(EC2 deprecates at most ten years ahead), got %ld", file,
			    BK_MAX_DEPRECATE_DAYS, p->deprecate_after_days);
	return rc;
}
