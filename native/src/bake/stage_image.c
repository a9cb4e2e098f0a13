/* stage_image.c - CREATE_IMAGE and WAIT_IMAGE. The image is journalled
 * before anything waits on it, so a kill never leaks a pending AMI.
 * encrypt_boot (Packer's way): the image is made under a temporary name,
 * copied encrypted under the real one, and the unencrypted one removed. */
#include <stdlib.h>
#include <string.h>

#include "../verify/verify.h"
#include "bake.h"

/* The image's tags: user tags, provenance, before_image test results, and
 * the inputs digest (reuse on or off, so turning it on later finds this). */
int bk_final_image_tags(bk_kv *tags, const bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bool after = bk_verify_wants(c->tests, "after_image");
	int rc = bk_image_tags(tags, b, &c->tags);

	if (rc == 0 && !after)
		rc = bk_test_tags(tags, b);
	if (rc == 0)
		rc = bk_inputs_image_tags(tags, b, after ? 2 : 0);   /* TestStatus, TestsPassed */
	return rc;
}

int bk_stage_create_image(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bk_ec2_image_request req = {0};
	bk_kv tags = BK_KV_INIT;
	char token[64], *tmp_name = NULL;
	int rc;

	if (c->skip_create_ami) {
		bk_step(b, "skip_create_ami: no image is created");
		return 0;
	}
	if (c->encrypt_boot == 1 && !(tmp_name = bk_sprintf("bakeami-unencrypted-%s", b->run_id)))
		return bk_oom();
	bk_client_token(token, b, "image");
	req.instance_id = b->instance.id;
	req.name = tmp_name ? tmp_name : c->ami_name;
	req.description = c->ami_description;
	req.bdms = c->ami_bdms;
	req.bdms_count = c->ami_bdms_count;
	req.client_token = token;
	if ((rc = bk_final_image_tags(&tags, b)) < 0)
		goto done;
	req.image_tags = &tags;
	if ((rc = bk_journal_intent(b->journal, "image", req.name)) < 0 ||
	    (rc = bk_ec2_create_image(&b->image_id, b->aws, &req)) < 0 ||
	    (rc = bk_journal_created(b->journal, "image", b->image_id)) < 0)
		goto done;
	bk_step(b, "creating image %s (%s) from %s", b->image_id, req.name, b->instance.id);
done:
	bk_kv_free(&tags);
	free(tmp_name);
	return rc;
}

static int image_available(bakeami_bake *b, void *arg)
{
	const char *ids[1] = {b->image_id};
	bk_ec2_image_query q = {ids, 1, NULL, 0, NULL, false};
	bk_ec2_images imgs = {0};
	int rc;

	(void)arg;
	if ((rc = bk_ec2_describe_images(&imgs, b->aws, NULL, &q)) < 0)
		return rc == BAKEAMI_ENOTFOUND ? 0 : rc;
	if (imgs.count == 0) {
		rc = 0;
	} else if (!strcmp(imgs.items[0].state, "available")) {
		bk_strv_free(&b->image_snapshots);
		b->image_snapshots = imgs.items[0].snapshot_ids;
		memset(&imgs.items[0].snapshot_ids, 0, sizeof(bk_strv));
		rc = 1;
	} else if (!strcmp(imgs.items[0].state, "pending")) {
		rc = 0;
	} else {
		rc = bk_err(BAKEAMI_EAWS, "image %s is %s", b->image_id, imgs.items[0].state);
	}
	bk_ec2_images_free(&imgs);
	return rc;
}

/* One CreateTags once the snapshots are known: CreateImage's snapshot
 * TagSpecification is not supported everywhere (moto answers 500). */
static int tag_snapshots(bakeami_bake *b)
{
	bk_kv tags = BK_KV_INIT;
	int rc;

	if (!b->image_snapshots.count)
		return 0;
	if ((rc = bk_image_tags(&tags, b, &b->cfg->snapshot_tags)) == 0)
		rc = bk_ec2_create_tags(b->aws, NULL, (const char *const *)b->image_snapshots.items,
					b->image_snapshots.count, &tags);
	bk_kv_free(&tags);
	return rc;
}

/* The snapshots go in the ledger as the image's: they go with it. */
static int journal_snapshots(bakeami_bake *b)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->image_snapshots.count; i++) {
		bk_entry_spec s = {"snapshot", b->image_snapshots.items[i], NULL, NULL, b->image_id,
				   NULL};
		rc = bk_journal_add(b->journal, NULL, &s, BK_CREATED);
	}
	return rc;
}

static int wait_available(bakeami_bake *b)
{
	int rc = bk_poll(b, b->cfg->image_timeout_s, "the image to become available",
			 image_available, NULL, &b->work_cancel);

	return rc < 0 ? rc : journal_snapshots(b);
}

/* CopyImage keeps no tags: the encrypted copy gets the image's own. */
static int tag_image(bakeami_bake *b)
{
	const char *ids[1] = {b->image_id};
	bk_kv tags = BK_KV_INIT;
	int rc = bk_final_image_tags(&tags, b);

	if (rc == 0)
		rc = bk_ec2_create_tags(b->aws, NULL, ids, 1, &tags);
	bk_kv_free(&tags);
	return rc;
}

/* From here the unencrypted image is b->unencrypted_id until it is gone,
 * so CLEANUP removes whichever of the two exists after a failure. */
static int copy_encrypted(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bk_ec2_copy_request req = {0};
	char token[64];
	int rc;

	bk_client_token(token, b, "encrypt");
	req.source_image_id = b->image_id;
	req.source_region = bk_aws_region(b->aws);
	req.name = c->ami_name;
	req.description = c->ami_description;
	req.encrypted = 1;
	req.kms_key_id = c->kms_key_id;
	req.client_token = token;
	b->unencrypted_id = b->image_id;
	b->unencrypted_snapshots = b->image_snapshots;
	b->image_id = NULL;
	memset(&b->image_snapshots, 0, sizeof(b->image_snapshots));
	if ((rc = bk_journal_intent(b->journal, "image", c->ami_name)) < 0 ||
	    (rc = bk_ec2_copy_image(&b->image_id, b->aws, NULL, &req)) < 0 ||
	    (rc = bk_journal_created(b->journal, "image", b->image_id)) < 0)
		return rc;
	bk_step(b, "encrypting: copying %s to %s (%s, key %s)", b->unencrypted_id, b->image_id,
		c->ami_name, c->kms_key_id ? c->kms_key_id : "the region's default");
	return 0;
}

static int drop_unencrypted(bakeami_bake *b)
{
	bk_reaper r = bk_bake_reaper(b, 600);
	int rc = bk_reap(&r, "image", b->unencrypted_id);

	if (rc == 0) {
		free(b->unencrypted_id);
		b->unencrypted_id = NULL;
		bk_strv_free(&b->unencrypted_snapshots);
	}
	return rc;
}

static int encrypt_image(bakeami_bake *b)
{
	int rc = copy_encrypted(b);

	if (rc == 0)
		rc = wait_available(b);
	if (rc == 0)
		rc = tag_image(b);
	if (rc == 0)
		rc = drop_unencrypted(b);
	return rc;
}

int bk_stage_wait_image(bakeami_bake *b)
{
	int rc;

	if (!b->image_id)
		return 0;
	rc = wait_available(b);
	if (rc == 0 && b->cfg->encrypt_boot == 1)
		rc = encrypt_image(b);
	if (rc == 0)
		rc = tag_snapshots(b);
	if (rc == 0)
		bk_step(b, "%s available (%zu snapshot%s tagged)", b->image_id,
			b->image_snapshots.count, b->image_snapshots.count == 1 ? "" : "s");
	return rc;
}
