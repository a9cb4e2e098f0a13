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

/* The provision layer's answer for each provisioner left after only/except. */
static int check_provisioners(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;
	char list[128];

	for (size_t i = 0; i < c->provisioners_count; i++) {
		const bk_provisioner *p = &c->provisioners[i];
		if (bk_provision_supported(p->type))
			continue;
		bk_tpl_runnable_list(list, sizeof(list));
		return bk_err(BAKEAMI_EINVALID, "%s: %s.type: \"%s\" provisioners are not "
			      "supported by this build of bakeami yet (it runs %s)", tpl->path,
			      p->path, p->type_name, list);
	}
	return 0;
}

/* Settings each valid alone that no bake can carry out together. */
static int check_combinations(const bk_template *tpl)
{
	const bk_build_config *c = tpl->cfg;

	/* Packer's rule: AWS refuses to share what the default key encrypts. */
	if (c->encrypt_boot == 1 && !c->kms_key_id &&
	    (c->ami_users.count || c->promote.share_with.count))
		return bk_tpl_err(tpl->path, "builders[0].kms_key_id", "an image encrypted with "
				  "the default aws/ebs key cannot be shared; set kms_key_id to a "
				  "customer managed key");
	if (c->subnet_id && !c->vpc_id && !c->security_group_ids.count)
		return bk_tpl_err(tpl->path, "builders[0].vpc_id", "required with subnet_id when "
				  "bakeami creates the temporary security group");
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
		rc = check_provisioners(tpl);
	if (rc == 0)
		rc = check_regions(tpl);
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
