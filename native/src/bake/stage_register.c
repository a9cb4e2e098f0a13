/*
 * stage_register.c - REGISTER_IMAGE (amazon-instance): RegisterImage with
 * ImageLocation <bucket>/<prefix>.manifest.xml, as Packer's
 * StepRegisterAMI, journalled like CreateImage's image and tagged as
 * amazon-ebs images are. WAIT_IMAGE then waits for it.
 */
#include <stdlib.h>
#include <string.h>

#include "bake.h"

static int tag_image(bakeami_bake *b, const bk_kv *tags)
{
	const char *ids[1] = {b->image_id};

	/* Also given as RegisterImage's TagSpecification; CreateTags makes sure
	 * (moto's RegisterImage ignores it). */
	return bk_ec2_create_tags(b->aws, NULL, ids, 1, tags);
}

int bk_stage_register_image(bakeami_bake *b)
{
	const bk_build_config *c = b->cfg;
	bk_ec2_register_request req = {0};
	bk_kv tags = BK_KV_INIT;
	char *location;
	int rc;

	if (c->skip_create_ami) {
		bk_step(b, "skip_create_ami: no image is registered");
		return 0;
	}
	if (!(location = bk_sprintf("%s/%s.manifest.xml", c->s3_bucket, c->bundle_prefix)))
		return bk_oom();
	req.name = c->ami_name;
	req.description = c->ami_description;
	req.image_location = location;
	req.architecture = b->instance.architecture;
	req.virtualization_type = c->ami_virtualization_type;
	req.ena_support = c->ena_support;
	req.sriov_support = c->sriov_support;
	req.bdms = c->ami_bdms;
	req.bdms_count = c->ami_bdms_count;
	req.run_id = b->run_id;
	if ((rc = bk_final_image_tags(&tags, b)) < 0)
		goto done;
	req.image_tags = &tags;
	if ((rc = bk_journal_intent(b->journal, "image", c->ami_name)) < 0 ||
	    (rc = bk_ec2_register_image(&b->image_id, b->aws, &req)) < 0 ||
	    (rc = bk_journal_created(b->journal, "image", b->image_id)) < 0)
		goto done;
	bk_step(b, "registered image %s (%s) from s3://%s", b->image_id, c->ami_name, location);
	rc = tag_image(b, &tags);
done:
	bk_kv_free(&tags);
	free(location);
	return rc;
}
