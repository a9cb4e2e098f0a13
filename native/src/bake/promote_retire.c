/* promote_retire.c - keep_last: after a promotion succeeded, older images
 * of its family are retired in every region. Housekeeping: a failure is
 * a warning, never a rollback of a good promotion. */
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"

static void retire_image(promo *p, region_ctx *r, const bk_ec2_image *img, const bk_kv *in_use)
{
	const char *user = bk_kv_get(in_use, img->id);
	int rc;

	if (user) {
		bk_step(p->b, "keep_last: keeping %s (%s) in %s: instance %s uses it", img->id,
			img->name ? img->name : "", r->region, user);
		return;
	}
	rc = bk_gone_is_done(bk_ec2_deregister_image(r->aws, r->region, img->id));
	for (size_t i = 0; rc == 0 && i < img->snapshot_ids.count; i++)
		rc = bk_gone_is_done(bk_ec2_delete_snapshot(r->aws, r->region,
							    img->snapshot_ids.items[i]));
	if (rc == 0)
		bk_step(p->b, "keep_last: retired %s (%s) in %s and %zu snapshot%s", img->id,
			img->name ? img->name : "", r->region, img->snapshot_ids.count,
			img->snapshot_ids.count == 1 ? "" : "s");
	else
		bk_warn(p->b, "keep_last: could not retire %s in %s: %s", img->id, r->region,
			bk_err_msg());
}

/* The family's images are newest first; the new one always stays and counts. */
static int retire_candidates(bk_strv *out, promo *p, region_ctx *r, const bk_ec2_images *imgs)
{
	long kept = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < imgs->count; i++) {
		bool ours = !strcmp(imgs->items[i].id, r->image_id);
		if (ours || kept < p->plan->keep_last)
			kept++;
		else
			rc = bk_strv_push(out, imgs->items[i].id);
	}
	return rc;
}

static int retire_region(promo *p, region_ctx *r)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT, in_use = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters, false};
	bk_ec2_images imgs = {0};
	bk_strv old = BK_STRV_INIT;
	int rc = bk_kv_add(&filters, "tag:" BK_FAMILY_TAG, p->family);

	if (rc == 0)
		rc = bk_ec2_describe_images(&imgs, r->aws, r->region, &q);
	if (rc == 0)
		rc = retire_candidates(&old, p, r, &imgs);
	/* Never an image an instance still runs from (or could restart from). */
	if (rc == 0 && old.count)
		rc = bk_ec2_images_in_use(&in_use, r->aws, r->region,
					  (const char *const *)old.items, old.count);
	for (size_t i = 0; rc == 0 && i < imgs.count; i++)
		for (size_t j = 0; j < old.count; j++)
			if (!strcmp(old.items[j], imgs.items[i].id))
				retire_image(p, r, &imgs.items[i], &in_use);
	bk_strv_free(&old);
	bk_kv_free(&in_use);
	bk_kv_free(&filters);
	bk_ec2_images_free(&imgs);
	return rc;
}

void bk_promo_retire(promo *p)
{
	for (size_t i = p->first; p->plan->keep_last > 0 && p->family && i < p->n; i++)
		if (retire_region(p, &p->regions[i]) < 0)
			bk_warn(p->b, "keep_last: could not retire old %s images in %s: %s", p->family,
				p->regions[i].region, bk_err_msg());
}
