/*
 * promote_cmd.c - `bakeami promote`: the promotion alone, for an image a
 * bake made earlier (a later "promote to production" job). It runs
 * VALIDATE -> PROMOTE -> CLEANUP -> DONE through the bake's set_state(), so
 * its console, journal, result and exit codes are a bake's.
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
	/* Marked as started so that bakeami_bake_run refuses it: it would bake
	 * the template rather than promote the image. */
	b->t0 = bk_now();
	*out = b;
	return 0;
}

/* Bad input fails before anything exists, not even a journal. */
static int check_template(bakeami_bake *b)
{
	bk_template *tpl = NULL;
	int rc = bk_bake_load_template(&tpl, &b->opts);

	if (rc == 0 && !bk_promote_wanted(bk_template_config(tpl)))
		rc = bk_err(BAKEAMI_EINVALID, "%s: promote: the template has no promote block, "
			    "ami_regions, sharing or deprecate_at: nothing to promote",
			    b->opts.template_path);
	bk_template_free(tpl);
	return rc;
}

/* Ours and available, in the client's region. A filter rather than
 * ImageId: with ImageId EC2 also answers for images of other accounts. */
static int find_image(bakeami_bake *b, bk_ec2_images *out)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters};
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
static int bind_config(bakeami_bake *b, const bk_ec2_image *img)
{
	bk_kv no_tags = BK_KV_INIT;
	bk_build_vars bv = {0};
	int rc;

	bv.source_ami = bk_kv_get(&img->tags, "SourceAMI");
	bv.source_ami_name = bk_kv_get(&img->tags, "SourceAMIName");
	bv.source_ami_tags = &no_tags;
	bv.build_region = bk_aws_region(b->aws);
	bv.run_id = b->run_id;
	if ((rc = bk_template_bind(&b->cfg, b->tpl, &bv)) < 0)
		return rc;
	/* The summary names the image: its real name, not a new rendering. */
	free(b->cfg->ami_name);
	b->cfg->ami_name = bk_strdup(img->name ? img->name : img->id);
	return b->cfg->ami_name ? 0 : bk_err(BAKEAMI_ENOMEM, "out of memory");
}

/* Promotion tags come last and only from the promotion itself. */
static bool promotion_tag(const bk_build_config *c, const char *key)
{
	const cJSON *tags = c->promote ? cJSON_GetObjectItemCaseSensitive(c->promote, "tags") : NULL;

	return !strcmp(key, "bakeami:family") || cJSON_HasObjectItem(tags, key);
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

static int promote_image(bakeami_bake *b, const bk_ec2_image *img)
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
	bk_kv_free(&tags);
	bk_kv_free(&snap_tags);
	return rc;
}

static int stage_promote_existing(bakeami_bake *b)
{
	bk_ec2_images imgs = {0};
	int rc = find_image(b, &imgs);

	if (rc == 0)
		rc = promote_image(b, &imgs.items[0]);
	bk_ec2_images_free(&imgs);
	return rc;
}

static void record_failure(bakeami_bake *b, int rc)
{
	if (bk_cancelled(&b->work_cancel) || b->cancel_requested)
		rc = bk_err(BAKEAMI_ECANCELLED, "cancelled during %s", bk_state_stage(b->state));
	bk_bake_fail(b, rc);
	bk_emit(b, BAKEAMI_EVENT_ERROR, 0, "%s", b->error);
}

int bakeami_promote_run(bakeami_bake *b)
{
	int rc;

	if (!b || !b->promote_ami)
		return bk_err(BAKEAMI_EINVALID, "bakeami_promote_run: not a promotion (make it "
			      "with bakeami_promote_new)");
	if (b->wall0 != 0)
		return bk_err(BAKEAMI_EINVALID, "bakeami_promote_run: a promotion runs once");
	b->t0 = b->state_t0 = bk_now();
	b->wall0 = bk_wall();
	rc = check_template(b);
	if (rc == 0)
		rc = bk_stage_validate(b);
	if (rc == 0) {
		set_state(b, BK_PROMOTE);
		rc = stage_promote_existing(b);
	}
	if (rc == 0 && bk_cancelled(&b->work_cancel))
		rc = BAKEAMI_ECANCELLED;
	if (rc < 0)
		record_failure(b, rc);
	set_state(b, BK_CLEANUP);
	bk_stage_cleanup(b);
	set_state(b, BK_DONE);
	bk_bake_finish(b);
	if (b->rc < 0)
		bk_err(b->rc, "%s", b->error ? b->error : bakeami_strerror(b->rc));
	return b->rc;
}
