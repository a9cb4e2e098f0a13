/* promote_copy.c - step 1 of a promotion: the copies, one thread and one
 * client per region, each journalled before CopyImage, waited for and
 * tagged (CopyImage copies no tags); a copy an earlier run made of the
 * same image is reused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"

static int copy_available(bakeami_bake *b, void *arg)
{
	region_ctx *r = arg;
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, NULL, 0, &filters, false};
	bk_ec2_images imgs = {0};
	int rc;

	(void)b;
	if (atomic_load(&r->p->failed)) {
		r->stopped = true;
		return bk_err(BAKEAMI_ECANCELLED, "stopped waiting: another copy failed");
	}
	/* A filter, not ImageId: a brand-new id may be unknown for a moment,
	 * which ImageId answers with an error and a filter with no image. */
	rc = bk_kv_add(&filters, "image-id", r->image_id);
	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, r->aws, r->region, &q);
	if (rc == 0 && imgs.count && imgs.items[0].state) {
		const char *state = imgs.items[0].state;
		if (!strcmp(state, "available")) {
			bk_strv_free(&r->snapshots);
			rc = bk_strv_add_all(&r->snapshots, &imgs.items[0].snapshot_ids);
			rc = rc ? rc : 1;
		} else if (strcmp(state, "pending")) {
			rc = bk_err(BAKEAMI_EAWS, "the copy %s in %s is %s", r->image_id, r->region, state);
		}
	}
	bk_ec2_images_free(&imgs);
	bk_kv_free(&filters);
	return rc;
}

/* Encrypted with the region's key from region_kms_key_ids ("" = default). */
static void copy_request(promo *p, region_ctx *r, bk_ec2_copy_request *req, char token[64])
{
	const char *key = bk_kv_get(&p->plan->region_kms_key_ids, r->region);
	char purpose[48];

	snprintf(purpose, sizeof(purpose), "copy-%s", r->region);
	bk_client_token(token, p->b, purpose);
	req->source_image_id = p->regions[0].image_id;
	req->source_region = p->regions[0].region;
	req->name = p->in->name;
	req->description = p->in->description;
	req->encrypted = key != NULL;
	req->kms_key_id = key;
	req->client_token = token;
}

static char *copy_of(const promo *p)
{
	return bk_sprintf("%s:%s", p->regions[0].region, p->regions[0].image_id);
}

/* CopyImage copies no tags: provenance goes on the copy and its snapshots. */
static int tag_copy(promo *p, region_ctx *r)
{
	const char *ids[1] = {r->image_id};
	char *of = copy_of(p);
	bk_kv tags = BK_KV_INIT;
	int rc = of ? 0 : bk_oom();

	for (size_t i = 0; rc == 0 && p->in->copy_tags && i < p->in->copy_tags->count; i++)
		rc = bk_kv_set(&tags, p->in->copy_tags->keys[i], p->in->copy_tags->vals[i]);
	if (rc == 0)
		rc = bk_kv_set(&tags, BK_COPY_OF_TAG, of);
	if (rc == 0)
		rc = bk_ec2_create_tags(r->aws, r->region, ids, 1, &tags);
	bk_kv_free(&tags);
	free(of);
	if (rc == 0 && r->snapshots.count)
		rc = bk_ec2_create_tags(r->aws, r->region, (const char *const *)r->snapshots.items,
					r->snapshots.count, p->in->copy_snapshot_tags);
	return rc;
}

/* A copy of our image made by an earlier run: reused, not copied again. */
static int adopt(promo *p, region_ctx *r, const bk_ec2_image *img)
{
	int rc = 0;

	if (!(r->image_id = bk_strdup(img->id)))
		return bk_oom();
	r->had_before = true;
	for (size_t i = 0; rc == 0 && i < img->tags.count; i++)
		rc = bk_kv_set(&r->tags_before, img->tags.keys[i], img->tags.vals[i]);
	bk_step(p->b, "%s in %s is already a copy of %s: reusing it", img->id, r->region,
		p->regions[0].image_id);
	return rc;
}

/* Packer's force_deregister holds in every region the image goes to: a
 * same-named image of ours there goes first (with force_delete_snapshot,
 * its snapshots too), else EC2 refuses the copy's name. */
static int force_deregister(promo *p, region_ctx *r, const bk_ec2_image *old)
{
	bk_step(p->b, "force_deregister: deregistering %s (%s) in %s", old->id, old->name,
		r->region);
	return bk_ec2_deregister_image_and_snapshots(r->aws, r->region, old,
						     p->b->cfg->force_delete_snapshot);
}

/* The region's images of the copy's name (unique per region in EC2). */
static int same_name(promo *p, region_ctx *r)
{
	bk_ec2_images imgs = {0};
	char *of = copy_of(p);
	int rc = of ? bk_ec2_describe_images_named(&imgs, r->aws, r->region, p->in->name)
		    : bk_oom();

	for (size_t i = 0; rc == 0 && i < imgs.count; i++) {
		const bk_ec2_image *img = &imgs.items[i];
		const char *tag = bk_kv_get(&img->tags, BK_COPY_OF_TAG);
		if (!r->image_id && tag && !strcmp(tag, of))
			rc = adopt(p, r, img);
		else if (p->b->cfg->force_deregister)
			rc = force_deregister(p, r, img);
	}
	bk_ec2_images_free(&imgs);
	free(of);
	return rc;
}

/* Wait for the copy, learning its snapshots. */
static int wait_copy(promo *p, region_ctx *r)
{
	char what[128];

	snprintf(what, sizeof(what), "the copy %s in %s to become available", r->image_id,
		 r->region);
	return bk_poll(p->b, p->b->cfg->image_timeout_s, what, copy_available, r,
		       &p->b->work_cancel);
}

/* The copy's snapshots in the ledger: they go with it, after it. */
static int journal_snapshots(promo *p, region_ctx *r)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < r->snapshots.count; i++) {
		bk_entry_spec s = {"snapshot", r->snapshots.items[i], NULL, r->region, r->image_id,
				   NULL};
		rc = bk_journal_add(p->b->journal, NULL, &s, BK_CREATED);
	}
	return rc;
}

static int make_copy(promo *p, region_ctx *r, const bk_ec2_copy_request *req)
{
	size_t n;
	int rc = bk_promo_intend(p, r, &n, "image", NULL, req->source_image_id, NULL);

	if (rc < 0)
		return rc;
	/* Not cancellable: a copy asked for is a copy to undo, so its id must
	 * come back (a cancel mid-call would leave it unknown). Its retries are
	 * safe: the ClientToken makes them one copy. */
	bk_aws_set_cancel(r->aws, NULL);
	rc = bk_ec2_copy_image(&r->image_id, r->aws, r->region, req);
	bk_aws_set_cancel(r->aws, &p->b->work_cancel);
	if (rc < 0)
		return bk_err_wrap(rc, "copying %s to %s", req->source_image_id, r->region);
	return bk_journal_set(p->b->journal, n, BK_CREATED, r->image_id);
}

static int copy_one(region_ctx *r)
{
	promo *p = r->p;
	bk_ec2_copy_request req = {0};
	char token[64];
	int rc;

	copy_request(p, r, &req, token);
	if ((rc = same_name(p, r)) < 0)
		return bk_err_wrap(rc, "images named like the copy in %s", r->region);
	if (r->had_before)
		return wait_copy(p, r);
	if ((rc = make_copy(p, r, &req)) < 0)
		return rc;
	bk_step(p->b, "copying %s to %s as %s%s", req.source_image_id, r->region, r->image_id,
		req.encrypted ? " (encrypted)" : "");
	rc = wait_copy(p, r);
	if (rc == 0)
		rc = journal_snapshots(p, r);
	if (rc == 0)
		rc = tag_copy(p, r);
	if (rc == 0)
		bk_step(p->b, "%s available in %s (%zu snapshot%s tagged)", r->image_id, r->region,
			r->snapshots.count, r->snapshots.count == 1 ? "" : "s");
	return rc;
}

static void *copy_thread(void *arg)
{
	region_ctx *r = arg;

	r->rc = copy_one(r);
	if (r->rc < 0) {
		r->error = bk_strdup(bk_err_msg());
		atomic_store(&r->p->failed, 1);
	}
	return NULL;
}

/* The failure to report: a copy that failed, not one that stopped because of it. */
static int copy_failure(promo *p)
{
	const region_ctx *first = NULL;

	for (size_t i = 1; i < p->n; i++) {
		const region_ctx *r = &p->regions[i];
		if (r->rc < 0 && (!first || (first->stopped && !r->stopped)))
			first = r;
	}
	if (!first)
		return 0;
	return bk_err(first->rc, "%s", first->error ? first->error : bakeami_strerror(first->rc));
}

/* All copies at once: each waits in its own region, so the slowest sets
 * the pace, not the sum. */
int bk_promo_copies(promo *p)
{
	int rc = 0;

	for (size_t i = 1; i < p->n; i++) {
		region_ctx *r = &p->regions[i];
		if (pthread_create(&r->thread, NULL, copy_thread, r) != 0) {
			rc = bk_err(BAKEAMI_ERROR, "cannot start the copy to %s", r->region);
			atomic_store(&p->failed, 1);
			break;
		}
		r->started = true;
	}
	for (size_t i = 1; i < p->n; i++) {
		if (p->regions[i].started)
			pthread_join(p->regions[i].thread, NULL);
		p->regions[i].started = false;
	}
	return rc < 0 ? rc : copy_failure(p);
}
