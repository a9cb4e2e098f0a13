/*
 * plan.c - the validation pass. bk_template_load turns a template into
 * its typed plan, checking every field and section; this pass then asks
 * each layer whether it can run what the plan names, and checks settings
 * that only fail together. What passes is what a bake can run: `bakeami
 * validate` and the bake's VALIDATE both come here. No network call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/aws.h"
#include "../provision/provision.h"
#include "template_int.h"

void bk_tpl_runnable_list(char *out, size_t n)
{
	bk_prov_type type;
	const char *name;
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; (name = bk_tpl_prov_kind(i, &type)) && used < n; i++)
		if (bk_provision_supported(type))
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? ", " : "", name);
}

/* The provision layer's answer for one provisioner left after only/except. */
static int check_supported(const bk_template *tpl, const bk_provisioner *p)
{
	char list[128];

	if (bk_provision_supported(p->type))
		return 0;
	bk_tpl_runnable_list(list, sizeof(list));
	return bk_err(BAKEAMI_EINVALID, "%s: %s.type: \"%s\" provisioners are not "
		      "supported by this build of bakeami yet (it runs %s)", tpl->path,
		      p->path, p->type_name, list);
}

/* communicator "none" reaches no instance: shell-local only. */
static int check_local_only(const bk_template *tpl, const bk_provisioner *p)
{
	if (!tpl->cfg->communicator_none || p->type == BK_PROV_SHELL_LOCAL)
		return 0;
	return bk_tpl_err(tpl->path, p->path, "%s runs on the instance, which communicator "
			  "\"none\" never reaches (shell-local runs here)", p->type_name);
}

/* `check` for every provisioner, the error-cleanup-provisioner included. */
static int each_provisioner(const bk_template *tpl,
			    int (*check)(const bk_template *, const bk_provisioner *))
{
	const bk_build_config *c = tpl->cfg;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < c->provisioners_count; i++)
		rc = check(tpl, &c->provisioners[i]);
	return rc == 0 && c->error_cleanup ? check(tpl, c->error_cleanup) : rc;
}

/* communicator "none": nothing may need to reach the instance. */
static int check_unattended(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	int rc;

	if (!c->communicator_none)
		return 0;
	if (bk_build_is_instance(c))
		return bk_tpl_err(tpl->path, "builders[0].communicator", "amazon-instance bundles "
				  "the volume over SSH: \"none\" cannot bake it (use amazon-ebs)");
	if ((rc = each_provisioner(tpl, check_local_only)) != 0)
		return rc;
	if (c->tests)
		return bk_tpl_err(tpl->path, "tests", "the tests run on the instance over SSH, "
				  "which communicator \"none\" never reaches");
	return 0;
}

/* Settings each valid alone that no bake can carry out together. */
static int check_combinations(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	int rc = check_unattended(tpl);

	if (rc != 0)
		return rc;

	/* Packer's rule: AWS refuses to share what the default key encrypts. */
	if (c->encrypt_boot == 1 && !c->kms_key_id &&
	    (c->ami_users.count || c->promote.share_with.count))
		return bk_tpl_err(tpl->path, "builders[0].kms_key_id", "an image encrypted with "
				  "the default aws/ebs key cannot be shared; set kms_key_id to a "
				  "customer managed key");
	return 0;
}

static int check_region(const char *file, const char *path, const char *region)
{
	char where[256];

	snprintf(where, sizeof(where), "%s: %s", file, path);
	return bk_aws_region_check(region, where);
}

static int check_region_list(const char *file, const char *path, const bk_strv *v)
{
	char item[96];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < v->count; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		rc = check_region(file, item, v->items[i]);
	}
	return rc;
}

/* A region becomes part of a host name: the AWS layer says which are regions
 * (a "x@host/#" one would send the signed request elsewhere). */
static int check_regions(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	int rc = 0;

	if (c->region && *c->region)
		rc = check_region(tpl->path, "builders[0].region", c->region);
	if (rc == 0)
		rc = check_region_list(tpl->path, "builders[0].ami_regions", &c->ami_regions);
	if (rc == 0)
		rc = check_region_list(tpl->path, "promote.regions", &c->promote.regions);
	return rc;
}

/* ---- EC2's limits, offline: what would otherwise fail after the instance runs ---- */

#define EC2_MAX_TAGS 50
#define EC2_MAX_TAG_KEY 128
#define EC2_MAX_TAG_VALUE 256
#define EC2_MAX_DESCRIPTION 255

/* What bake/common.c adds to every resource: bakeami:run-id and CreatedBy,
 * BUILD_URL, BUILD_NUMBER, GIT_COMMIT when set, then per kind (images:
 * SourceAMI, SourceAMIName, BuildRegion and the inputs digest's tags, at
 * least one of its part tags; temporary resources: bakeami:expires). */
static size_t own_tags(bool image, const bk_kv *user)
{
	static const char *const env_names[] = {"BUILD_URL", "BUILD_NUMBER", "GIT_COMMIT"};
	static const char *const image_keys[] = {"bakeami:run-id", "CreatedBy", "SourceAMI",
						 "SourceAMIName", "BuildRegion", "bakeami:inputs",
						 "bakeami:image-inputs", "bakeami:inputs-family",
						 "bakeami:inputs-parts"};
	static const char *const temp_keys[] = {"bakeami:run-id", "CreatedBy", "bakeami:expires"};
	const char *const *keys = image ? image_keys : temp_keys;
	size_t nkeys = image ? BK_ARRAY_SIZE(image_keys) : BK_ARRAY_SIZE(temp_keys), n = 0;

	for (size_t i = 0; i < nkeys; i++)
		n += !bk_kv_get(user, keys[i]);
	for (size_t i = 0; i < BK_ARRAY_SIZE(env_names); i++) {
		const char *v = getenv(env_names[i]);
		n += v && *v && !bk_kv_get(user, env_names[i]);
	}
	return n;
}

static int check_tag_entries(const char *file, const char *path, const bk_kv *tags)
{
	for (size_t i = 0; i < tags->count; i++) {
		const char *k = tags->keys[i], *v = tags->vals[i];
		if (!*k || strlen(k) > EC2_MAX_TAG_KEY)
			return bk_err(BAKEAMI_EINVALID, "%s: %s: tag key \"%.40s\" must be 1 to %d "
				      "characters long (it is %zu)", file, path, k, EC2_MAX_TAG_KEY,
				      strlen(k));
		if (strncasecmp(k, "aws:", 4) == 0)
			return bk_err(BAKEAMI_EINVALID, "%s: %s.%s: the aws: prefix is reserved for "
				      "AWS's own tags", file, path, k);
		if (strlen(v) > EC2_MAX_TAG_VALUE)
			return bk_err(BAKEAMI_EINVALID, "%s: %s.%s: a tag value is at most %d "
				      "characters (it is %zu)", file, path, k, EC2_MAX_TAG_VALUE,
				      strlen(v));
	}
	return 0;
}

static int check_tag_map(const char *file, const char *path, const bk_kv *tags, bool image)
{
	size_t own = own_tags(image, tags);
	int rc = check_tag_entries(file, path, tags);

	if (rc == 0 && tags->count + own > EC2_MAX_TAGS)
		return bk_err(BAKEAMI_EINVALID, "%s: %s: %zu tags and bakeami's %zu make %zu, more "
			      "than the %d EC2 allows on a resource", file, path, tags->count, own,
			      tags->count + own, EC2_MAX_TAGS);
	return rc;
}

static int check_ec2_limits(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	const char *f = tpl->path;
	size_t dlen = c->ami_description ? strlen(c->ami_description) : 0;
	int rc;

	if (dlen > EC2_MAX_DESCRIPTION)
		return bk_tpl_err(f, "builders[0].ami_description", "at most %d characters "
				  "(it is %zu)", EC2_MAX_DESCRIPTION, dlen);
	rc = check_tag_map(f, "builders[0].tags", &c->tags, true);
	if (rc == 0)
		rc = check_tag_map(f, "builders[0].snapshot_tags", &c->snapshot_tags, true);
	if (rc == 0)
		rc = check_tag_map(f, "builders[0].run_tags", &c->run_tags, false);
	if (rc == 0)
		rc = check_tag_map(f, "builders[0].run_volume_tags", &c->run_volume_tags, false);
	if (rc == 0)
		rc = check_tag_entries(f, "promote.tags", &c->promote.tags);
	return rc;
}

static int copy_warnings(bk_strv *out, const bk_template *tpl)
{
	int rc = 0;

	for (size_t i = 0; out && rc == 0 && i < tpl->warnings.count; i++)
		rc = bk_strv_push(out, tpl->warnings.items[i]);
	return rc;
}

int bk_template_validate(bk_template **out, bk_strv *warnings, const bk_template_source *src)
{
	bk_template *tpl = calloc(1, sizeof(*tpl));
	int rc, wrc;

	*out = NULL;
	if (!tpl)
		return bk_oom();
	rc = bk_tpl_load(tpl, src);
	if (rc == 0)
		rc = each_provisioner(tpl, check_supported);
	if (rc == 0)
		rc = check_regions(tpl);
	if (rc == 0)
		rc = check_ec2_limits(tpl);
	if (rc == 0)
		rc = check_combinations(tpl);
	if (rc == 0)
		rc = bk_promote_check(tpl->cfg, tpl->path);
	if (rc != 0)
		bk_template_mask_error(tpl, rc);
	/* Notes made before a failure are shown with it, as a bake shows them. */
	if ((wrc = copy_warnings(warnings, tpl)) != 0 && rc == 0)
		rc = wrc;
	if (rc != 0) {
		bk_template_free(tpl);
		return rc;
	}
	*out = tpl;
	return 0;
}
