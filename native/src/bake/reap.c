/* reap.c - idempotent deletion of bake resources (see reap.h). */
#include <stdlib.h>
#include <string.h>

#include "reap.h"

static int reaped(bk_reaper *r, const char *type, const char *id, int rc)
{
	char *item = bk_sprintf("%s %s", type, id);

	if (rc == 0) {
		if (r->journal)
			bk_journal_deleted(r->journal, type, id);
		bk_logf(&r->log, BK_LOG_INFO, "deleted %s", item ? item : id);
		if (item)
			bk_strv_push(r->cleaned, item);
	} else {
		char *why = bk_sprintf("%s: %s", item ? item : id, bk_err_msg());
		bk_logf(&r->log, BK_LOG_ERROR, "could not delete %s", why ? why : id);
		if (why)
			bk_strv_push(r->failed, why);
		free(why);
	}
	free(item);
	return rc;
}

static int wait_terminated(bk_reaper *r, const char *id)
{
	long interval = 250;

	for (;;) {
		bk_ec2_instance inst = {0};
		int rc = bk_ec2_describe_instance(&inst, r->aws, id);
		int gone = rc == BAKEAMI_ENOTFOUND || (rc == 0 && !strcmp(inst.state, "terminated"));
		bk_ec2_instance_free(&inst);
		if (gone)
			return 0;
		if (rc < 0 && rc != BAKEAMI_EAWS)
			return rc;
		if (bk_now() + interval / 1000.0 > r->deadline)
			return bk_err(BAKEAMI_ETIMEOUT, "instance %s not terminated before the cleanup deadline", id);
		bk_sleep_ms(NULL, interval);
		interval = interval < 8000 ? interval * 2 : 15000;
	}
}

int bk_reap_instance(bk_reaper *r, const char *id)
{
	int rc = bk_ec2_terminate_instance(r->aws, id);

	if (rc == 0)
		rc = wait_terminated(r, id);
	return reaped(r, "instance", id, rc);
}

int bk_reap_instance_nowait(bk_reaper *r, const char *id)
{
	return reaped(r, "instance", id, bk_ec2_terminate_instance(r->aws, id));
}

int bk_reap_security_group(bk_reaper *r, const char *id)
{
	return reaped(r, "security-group", id,
		      bk_ec2_delete_security_group(r->aws, id, r->deadline));
}

int bk_reap_key_pair(bk_reaper *r, const char *name)
{
	return reaped(r, "key-pair", name, bk_ec2_delete_key_pair(r->aws, name));
}

static int image_snapshots(bk_strv *out, bk_reaper *r, const char *region, const char *id)
{
	const char *ids[1] = {id};
	bk_ec2_image_query q = {ids, 1, NULL, 0, NULL};
	bk_ec2_images imgs = {0};
	int rc = bk_ec2_describe_images(&imgs, r->aws, region, &q);

	if (rc == BAKEAMI_ENOTFOUND)
		return 0;
	for (size_t i = 0; rc == 0 && imgs.count && i < imgs.items[0].snapshot_ids.count; i++)
		rc = bk_strv_push(out, imgs.items[0].snapshot_ids.items[i]);
	bk_ec2_images_free(&imgs);
	return rc;
}

/* Deregister first: EC2 refuses to delete a snapshot an image still uses.
 * name is what the journal calls the image: its id, or "region:id" for a
 * copy in another region. */
static int reap_image_in(bk_reaper *r, const char *region, const char *id, const char *name,
			 const bk_strv *snapshots)
{
	bk_strv found = BK_STRV_INIT;
	int rc = 0;

	if (!snapshots && (rc = image_snapshots(&found, r, region, id)) < 0) {
		bk_strv_free(&found);
		return reaped(r, "image", name, rc);
	}
	if (!snapshots)
		snapshots = &found;
	rc = reaped(r, "image", name, bk_ec2_deregister_image(r->aws, region, id));
	for (size_t i = 0; rc == 0 && i < snapshots->count; i++)
		reaped(r, "snapshot", snapshots->items[i],
		       bk_ec2_delete_snapshot(r->aws, region, snapshots->items[i]));
	bk_strv_free(&found);
	return rc;
}

int bk_reap_image(bk_reaper *r, const char *id, const bk_strv *snapshots)
{
	return reap_image_in(r, NULL, id, id, snapshots);
}

/* A copy made by a promotion is journalled as "us-west-2:ami-..." (the
 * journal records one region); its calls are signed for that region. */
static int reap_region_image(bk_reaper *r, const char *name)
{
	const char *colon = strchr(name, ':');
	char *region = bk_strndup(name, (size_t)(colon - name));
	int rc;

	if (!region)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	rc = reap_image_in(r, region, colon + 1, name, NULL);
	free(region);
	return rc;
}

int bk_reap(bk_reaper *r, const char *type, const char *id)
{
	if (!strcmp(type, "instance"))
		return bk_reap_instance(r, id);
	if (!strcmp(type, "security-group"))
		return bk_reap_security_group(r, id);
	if (!strcmp(type, "key-pair"))
		return bk_reap_key_pair(r, id);
	if (!strcmp(type, "image"))
		return strchr(id, ':') ? reap_region_image(r, id) : bk_reap_image(r, id, NULL);
	return bk_err(BAKEAMI_EINVALID, "unknown resource type %s", type);
}
