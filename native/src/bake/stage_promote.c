/*
 * stage_promote.c - PROMOTE: reached only once every test passed (it
 * follows TEST_IMAGE) and only for a created image. The tested image is
 * kept first, whatever the promotion does: a failed promotion is undone
 * but never costs the image, which `bakeami promote` can promote later.
 */
#include <stdlib.h>

#include "promote.h"

static int keep_image(bakeami_bake *b)
{
	int rc = bk_journal_kept(b->journal, "image", b->image_id);

	/* amazon-instance: the image is its bundle in S3; they stay together. */
	if (rc == 0 && b->bundle_id)
		rc = bk_journal_kept(b->journal, "s3-bundle", b->bundle_id);
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

int bk_stage_promote(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bk_kv tags = BK_KV_INIT, snap_tags = BK_KV_INIT;
	bk_promo_input in = {0};
	int rc;

	if (!b->image_id)
		return 0;
	if ((rc = keep_image(b)) < 0 || !bk_promote_wanted(c))
		return rc;
	/* The same provenance the image and its snapshots got (stage_image.c). */
	if ((rc = bk_image_tags(&tags, b, &c->tags)) == 0)
		rc = bk_image_tags(&snap_tags, b, &c->snapshot_tags);
	in.image_id = b->image_id;
	in.name = c->ami_name;
	in.description = c->ami_description;
	in.snapshots = &b->image_snapshots;
	in.copy_tags = &tags;
	in.copy_snapshot_tags = &snap_tags;
	if (rc == 0 && (rc = bk_promote(b, &in)) < 0)
		say_how_to_retry(b);
	bk_kv_free(&tags);
	bk_kv_free(&snap_tags);
	return rc;
}
