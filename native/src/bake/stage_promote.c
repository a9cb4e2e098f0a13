/*
 * stage_promote.c - PROMOTE: reached only once every test passed (it
 * follows TEST_IMAGE) and only for a created image. The tested image is
 * kept first, whatever the promotion does: a failed promotion is undone
 * but never costs the image, which `bakeami promote` can promote later.
 * With skip_save_build_region the image is kept only if the promotion
 * fails: once its copies exist it is left to CLEANUP, as Packer deletes
 * its intermediary image (an S3 bundle stays, as Packer leaves S3 alone).
 */
#include <stdlib.h>

#include "promote.h"

static int keep_bundle(bakeami_bake *b)
{
	return b->bundle_id ? bk_journal_kept(b->journal, "s3-bundle", b->bundle_id) : 0;
}

static int keep_image(bakeami_bake *b)
{
	int rc = bk_journal_kept(b->journal, "image", b->image_id);

	/* amazon-instance: the image is its bundle in S3; they stay together. */
	if (rc == 0)
		rc = keep_bundle(b);
	if (rc < 0)
		return rc;
	return bk_kv_set(&b->amis, bk_aws_region(b->aws), b->image_id);
}

static void say_how_to_retry(bakeami_bake *b)
{
	bk_warn(b, "the tested image %s is kept, without the promotion tags; retry the "
		"promotion with: bakeami promote --ami %s %s%s", b->image_id, b->image_id,
		b->opts.template_path, b->opts.vars_count || b->opts.var_files_count
		? " (with this bake's -var and -var-file arguments)" : "");
}

/* After the promotion, successful or not. */
static int settle_image(bakeami_bake *b, int rc)
{
	if (rc < 0) {
		if (b->cfg->skip_save_build_region && keep_image(b) < 0)
			return rc;
		say_how_to_retry(b);
		return rc;
	}
	if (!b->cfg->skip_save_build_region)
		return 0;
	bk_step(b, "skip_save_build_region: %s, the copies' source, is deregistered at cleanup",
		b->image_id);
	return keep_bundle(b);
}

int bk_stage_promote(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bk_kv tags = BK_KV_INIT, snap_tags = BK_KV_INIT;
	bk_promo_input in = {0};
	int rc = 0;

	if (!b->image_id)
		return 0;
	if (!c->skip_save_build_region && (rc = keep_image(b)) < 0)
		return rc;
	if (!bk_promote_wanted(c))
		return 0;
	/* The same provenance the image and its snapshots got (stage_image.c). */
	if ((rc = bk_image_tags(&tags, b, &c->tags)) == 0)
		rc = bk_image_tags(&snap_tags, b, &c->snapshot_tags);
	in.image_id = b->image_id;
	in.name = c->ami_name;
	in.description = c->ami_description;
	in.snapshots = &b->image_snapshots;
	in.copy_tags = &tags;
	in.copy_snapshot_tags = &snap_tags;
	if (rc == 0)
		rc = settle_image(b, bk_promote(b, &in));
	bk_kv_free(&tags);
	bk_kv_free(&snap_tags);
	return rc;
}
