/* stage_source.c - RESOLVE_SOURCE: the source AMI and the bound config.
 * The ami_name pre-check follows at REUSE (stage_reuse.c), which needs no
 * free name when it reuses an image. */
#include <stdlib.h>
#include <string.h>

#include "bake.h"

static int describe_source(bakeami_bake *b, const bk_build_config *c)
{
	bk_ec2_image_query q = {0};
	const char *ids[1] = {c->source_ami};

	if (c->source_ami && *c->source_ami) {
		q.image_ids = ids;
		q.image_ids_count = 1;
	} else {
		q.owners = (const char *const *)c->source_ami_owners.items;
		q.owners_count = c->source_ami_owners.count;
		q.filters = &c->source_ami_filters;
		q.shared = true;   /* the same lookup by many bakes at once: one call */
	}
	return bk_ec2_describe_images(&b->sources, b->aws, NULL, &q);
}

static int pick_source(bakeami_bake *b, const bk_build_config *c)
{
	if (b->sources.count == 0)
		return bk_err(BAKEAMI_ENOTFOUND, "source AMI %s not found%s",
			      c->source_ami ? c->source_ami : "(source_ami_filter)",
			      c->source_ami ? "" : ": no image matches the filter and owners");
	if (b->sources.count > 1 && !c->source_ami_most_recent)
		return bk_err(BAKEAMI_EINVALID,
			      "source_ami_filter matched %zu images; set most_recent to take the newest",
			      b->sources.count);
	b->source = &b->sources.items[0];
	if (b->source->state && strcmp(b->source->state, "available") != 0)
		return bk_err(BAKEAMI_EINVALID, "source AMI %s is %s, not available",
			      b->source->id, b->source->state);
	return 0;
}

static int bind_config(bakeami_bake *b)
{
	bk_build_vars bv = {0};
	int rc;

	bv.source_ami = b->source->id;
	bv.source_ami_name = b->source->name;
	bv.source_ami_creation_date = b->source->creation_date;
	bv.source_ami_owner = b->source->owner_id;
	bv.source_ami_tags = &b->source->tags;
	bv.build_region = bk_aws_region(b->aws);
	bv.run_id = b->run_id;
	if ((rc = bk_template_bind(&b->cfg, b->tpl, &bv)) < 0)
		return rc;
	const bk_strv *sec = bk_template_secrets(b->tpl);
	for (size_t i = 0; i < sec->count; i++)
		if ((rc = bk_add_secret(b, sec->items[i])) < 0)
			return rc;
	return 0;
}

int bk_stage_resolve_source(bakeami_bake *b)
{
	const bk_build_config *c0 = bk_template_config(b->tpl);
	int rc;

	if ((rc = describe_source(b, c0)) < 0 || (rc = pick_source(b, c0)) < 0)
		return rc;
	bk_step(b, "source %s (%s)", b->source->id, b->source->name ? b->source->name : "unnamed");
	return bind_config(b);
}
