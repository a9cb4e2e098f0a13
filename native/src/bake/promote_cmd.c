/*
 * promote_cmd.c - `bakeami promote`: the promotion alone, for an image a
 * bake made earlier (a later "promote to production" job). A handle of
 * kind promotion: its list of states, VALIDATE -> PROMOTE -> CLEANUP ->
 * DONE, runs in the bake's machine, so its console, journal, result and
 * exit codes are a bake's.
 */
#include <stdlib.h>
#include <string.h>

#include "promote.h"

/* Tags that say where an image came from: its snapshot copies get them. */
static const char *const provenance_keys[] = {
	"bakeami:run-id", "SourceAMI", "SourceAMIName", "BuildRegion", "CreatedBy",
	"BUILD_URL", "BUILD_NUMBER", "GIT_COMMIT",
};

int bakeami_promote_new(bakeami_bake **out, const bakeami_options *opts, const char *ami_id)
{
	bakeami_bake *b;
	int rc;

	if (!out)
		return bk_err(BAKEAMI_EINVALID, "bakeami_promote_new: out is NULL");
	*out = NULL;
	if (!ami_id || !bk_str_starts(ami_id, "ami-") || !ami_id[4])
		return bk_err(BAKEAMI_EINVALID, "promote: expected an AMI id (ami-...), got '%s'",
			      ami_id ? ami_id : "");
	if ((rc = bakeami_bake_new(&b, opts)) < 0)
		return rc;
	if ((rc = bk_strv_push(&b->owned, ami_id)) < 0) {
		bakeami_bake_free(b);
		return rc;
	}
	b->promote_ami = b->owned.items[b->owned.count - 1];
	bk_run_init(b, BK_RUN_PROMOTION);
	*out = b;
	return 0;
}

/* Bad input fails before anything exists, not even a journal: the
 * template is loaded (once) and checked before VALIDATE's client and journal. */
int bk_stage_promote_validate(bakeami_bake *b)
{
	bk_logger log = bk_bake_logger(b);
	int rc = bk_bake_validate(&b->tpl, &b->opts, &log);

	if (rc == 0 && !bk_promote_wanted(bk_template_config(b->tpl)))
		rc = bk_err(BAKEAMI_EINVALID, "%s: promote: the template has no promote block, "
			    "ami_regions, sharing or deprecate_at: nothing to promote",
			    b->opts.template_path);
	return rc < 0 ? rc : bk_stage_validate(b);
}

/* Ours and available, in the client's region. A filter rather than
 * ImageId: with ImageId EC2 also answers for images of other accounts. */
static int find_image(bakeami_bake *b, bk_ec2_images *out)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters, false};
	const char *region = bk_aws_region(b->aws);
	int rc = bk_kv_add(&filters, "image-id", b->promote_ami);

	if (rc == 0)
		rc = bk_ec2_describe_images(out, b->aws, NULL, &q);
	bk_kv_free(&filters);
	if (rc == 0 && out->count == 0)
		return bk_err(BAKEAMI_EINVALID, "promote: image %s not found in %s among the "
			      "account's images", b->promote_ami, region);
	if (rc == 0 && (!out->items[0].state || strcmp(out->items[0].state, "available")))
		return bk_err(BAKEAMI_EINVALID, "promote: image %s is %s, not available",
			      b->promote_ami, out->items[0].state ? out->items[0].state : "?");
	return rc;
}

/* The template's {{.SourceAMI}} & co. come from the image's own tags. */
static int bind_from_tags(bakeami_bake *b, const bk_ec2_image *img)
{
	bk_kv no_tags = BK_KV_INIT;
	bk_build_vars bv = {0};

	bv.source_ami = bk_kv_get(&img->tags, "SourceAMI");
	bv.source_ami_name = bk_kv_get(&img->tags, "SourceAMIName");
	bv.source_ami_tags = &no_tags;
	bv.build_region = bk_aws_region(b->aws);
	bv.run_id = b->run_id;
	return bk_template_bind(&b->cfg, b->tpl, &bv);
}

/* A reuse hit has bound its config already. The summary names the image:
 * its real name, not a new rendering. */
static int bind_config(bakeami_bake *b, const bk_ec2_image *img)
{
	int rc;

	if (!b->cfg && (rc = bind_from_tags(b, img)) < 0)
		return rc;
	free(b->cfg->ami_name);
	b->cfg->ami_name = bk_strdup(img->name ? img->name : img->id);
	return b->cfg->ami_name ? 0 : bk_oom();
}

/* Promotion tags come last and only from the promotion itself. */
static bool promotion_tag(const bk_build_config *c, const char *key)
{
	return !strcmp(key, "bakeami:family") || bk_kv_get(&c->promote.tags, key);
}

/* Copies get the image's tags (AWS's own aws: tags cannot be set). */
static int copy_tags(bk_kv *out, const bk_build_config *c, const bk_kv *tags)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < tags->count; i++)
		if (!bk_str_starts(tags->keys[i], "aws:") && !promotion_tag(c, tags->keys[i]))
			rc = bk_kv_set(out, tags->keys[i], tags->vals[i]);
	return rc;
}

static int snapshot_tags(bk_kv *out, const bk_build_config *c, const bk_kv *tags)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < c->snapshot_tags.count; i++)
		rc = bk_kv_set(out, c->snapshot_tags.keys[i], c->snapshot_tags.vals[i]);
	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(provenance_keys); i++) {
		const char *v = bk_kv_get(tags, provenance_keys[i]);
		if (v)
			rc = bk_kv_set(out, provenance_keys[i], v);
	}
	return rc;
}

int bk_promote_image(bakeami_bake *b, const bk_ec2_image *img)
{
	bk_kv tags = BK_KV_INIT, snap_tags = BK_KV_INIT;
	bk_promo_input in = {0};
	int rc;

	bk_step(b, "image %s (%s) in %s", img->id, img->name ? img->name : "unnamed",
		bk_aws_region(b->aws));
	rc = bind_config(b, img);
	if (rc == 0)
		rc = copy_tags(&tags, b->cfg, &img->tags);
	if (rc == 0)
		rc = snapshot_tags(&snap_tags, b->cfg, &img->tags);
	if (rc == 0)
		rc = bk_kv_set(&b->amis, bk_aws_region(b->aws), img->id);
	in.image_id = img->id;
	in.name = b->cfg->ami_name;
	in.description = b->cfg->ami_description;
	in.snapshots = &img->snapshot_ids;
	in.copy_tags = &tags;
	in.copy_snapshot_tags = &snap_tags;
	in.existing = true;
	in.current_tags = &img->tags;
	if (rc == 0 && (rc = bk_promote(b, &in)) < 0)
		bk_warn(b, "retry the promotion with: bakeami promote --ami %s %s", img->id,
			b->opts.template_path);
	else if (rc == 0 && b->cfg->skip_save_build_region)
		bk_step(b, "skip_save_build_region: %s stays in %s, unshared and untagged: "
			"bakeami promote never deletes the image it promotes", img->id,
			bk_aws_region(b->aws));
	bk_kv_free(&tags);
	bk_kv_free(&snap_tags);
	return rc;
}

int bk_stage_promote_existing(bakeami_bake *b)
{
	bk_ec2_images imgs = {0};
	int rc = find_image(b, &imgs);

	if (rc == 0)
		rc = bk_promote_image(b, &imgs.items[0]);
	bk_ec2_images_free(&imgs);
	return rc;
}

int bakeami_promote_run(bakeami_bake *b)
{
	if (!b || b->kind != BK_RUN_PROMOTION)
		return bk_err(BAKEAMI_EINVALID, "bakeami_promote_run: not a promotion (make it "
			      "with bakeami_promote_new)");
	return bk_run(b);
}
