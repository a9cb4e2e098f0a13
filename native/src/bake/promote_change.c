/* promote_change.c - steps 2-5 of a promotion, in every region: sharing,
 * deprecation, the SSM pointer, the promotion tags. Each change is
 * journalled as intended, with what undoes it, before its call (undo.h):
 * only what the image did not have yet, so a rollback never takes away a
 * share, tag or pointer made before this run. */
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"
#include "undo.h"

static bool has(const bk_strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->items[i], s))
			return true;
	return false;
}

/* to += what of from is not in have. */
static int add_missing(bk_strv *to, const bk_strv *from, const bk_strv *have)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < from->count; i++)
		if (!has(have, from->items[i]))
			rc = bk_strv_push(to, from->items[i]);
	return rc;
}

static int copy_perms(bk_ec2_perms *dst, const bk_ec2_perms *src, const bk_ec2_perms *skip)
{
	int rc = add_missing(&dst->users, &src->users, &skip->users);

	if (rc == 0)
		rc = add_missing(&dst->groups, &src->groups, &skip->groups);
	if (rc == 0)
		rc = add_missing(&dst->org_arns, &src->org_arns, &skip->org_arns);
	if (rc == 0)
		rc = add_missing(&dst->ou_arns, &src->ou_arns, &skip->ou_arns);
	return rc;
}

static char *perms_text(const bk_ec2_perms *perm)
{
	const bk_strv *lists[] = {&perm->users, &perm->groups, &perm->org_arns, &perm->ou_arns};
	bk_buf out = BK_BUF_INIT;

	for (size_t k = 0; k < BK_ARRAY_SIZE(lists); k++)
		for (size_t i = 0; i < lists[k]->count; i++)
			bk_buf_printf(&out, "%s%s", out.len ? ", " : "", lists[k]->items[i]);
	return bk_buf_detach(&out);
}

/* ---- step 2: sharing -------------------------------------------------------- */

static int launch_share(promo *p, region_ctx *r)
{
	bk_ec2_perms have = {0}, added = {0};
	bk_kv undo = BK_KV_INIT;
	size_t n;
	char *who;
	int rc = 0;

	if (r->had_before)
		rc = bk_ec2_describe_launch_permission(&have, r->aws, r->region, r->image_id);
	if (rc == 0)
		rc = copy_perms(&added, &p->share, &have);
	if (rc == 0 && !bk_ec2_perms_empty(&added) && (rc = bk_undo_perms(&undo, &added)) == 0 &&
	    (rc = bk_promo_intend(p, r, &n, "launch-permission", r->image_id, NULL, &undo)) == 0 &&
	    (rc = bk_ec2_launch_permission(r->aws, r->region, r->image_id, true, &added)) == 0 &&
	    (rc = bk_promo_made(p, n)) == 0 && (who = perms_text(&added))) {
		bk_step(p->b, "shared %s in %s with %s", r->image_id, r->region, who);
		free(who);
	}
	bk_kv_free(&undo);
	bk_ec2_perms_free(&have);
	bk_ec2_perms_free(&added);
	return rc;
}

static int share_snapshot(promo *p, region_ctx *r, const char *snap, const bk_strv *users,
			  const bk_strv *groups)
{
	bk_kv undo = BK_KV_INIT;
	size_t n;
	int rc = bk_undo_list(&undo, "users", users);

	if (rc == 0)
		rc = bk_undo_list(&undo, "groups", groups);
	if (rc == 0)
		rc = bk_promo_intend(p, r, &n, "volume-permission", snap, r->image_id, &undo);
	if (rc == 0)
		rc = bk_ec2_volume_permission(r->aws, r->region, snap, true, users, groups);
	if (rc == 0)
		rc = bk_promo_made(p, n);
	bk_kv_free(&undo);
	return rc;
}

/* What the snapshots lack; bakeami shares an image's snapshots together,
 * so the first one stands for all. */
static int snapshot_share(promo *p, region_ctx *r)
{
	bk_strv have_u = BK_STRV_INIT, have_g = BK_STRV_INIT;
	bk_strv users = BK_STRV_INIT, groups = BK_STRV_INIT;
	int rc = 0;

	if (!p->snap_users.count && !p->snap_groups.count)
		return 0;
	if (r->had_before && r->snapshots.count)
		rc = bk_ec2_describe_volume_permission(&have_u, &have_g, r->aws, r->region,
						       r->snapshots.items[0]);
	if (rc == 0)
		rc = add_missing(&users, &p->snap_users, &have_u);
	if (rc == 0)
		rc = add_missing(&groups, &p->snap_groups, &have_g);
	for (size_t i = 0; rc == 0 && (users.count || groups.count) && i < r->snapshots.count; i++)
		rc = share_snapshot(p, r, r->snapshots.items[i], &users, &groups);
	bk_strv_free(&have_u);
	bk_strv_free(&have_g);
	bk_strv_free(&users);
	bk_strv_free(&groups);
	return rc;
}

int bk_promo_shares(promo *p)
{
	int rc = 0;

	if (bk_ec2_perms_empty(&p->share) && !p->snap_users.count && !p->snap_groups.count)
		return 0;
	for (size_t i = p->first; rc == 0 && i < p->n; i++)
		if ((rc = launch_share(p, &p->regions[i])) == 0)
			rc = snapshot_share(p, &p->regions[i]);
	return rc;
}

/* ---- step 3: deprecation -------------------------------------------------------- */

static int deprecate(promo *p, region_ctx *r)
{
	bk_kv undo = BK_KV_INIT;
	char *before = NULL;
	size_t n;
	int rc = 0;

	if (r->had_before)
		rc = bk_ec2_image_deprecation_time(&before, r->aws, r->region, r->image_id);
	if (rc == 0 && before)
		rc = bk_kv_set(&undo, "before", before);
	if (rc == 0)
		rc = bk_promo_intend(p, r, &n, "deprecation", r->image_id, NULL, &undo);
	if (rc == 0)
		rc = bk_ec2_image_deprecation(r->aws, r->region, r->image_id, p->deprecate_at);
	if (rc == 0)
		rc = bk_promo_made(p, n);
	if (rc == 0)
		bk_step(p->b, "%s in %s deprecates at %s", r->image_id, r->region, p->deprecate_at);
	bk_kv_free(&undo);
	free(before);
	return rc;
}

int bk_promo_deprecation(promo *p)
{
	int rc = 0;

	for (size_t i = p->first; rc == 0 && p->deprecate_at[0] && i < p->n; i++)
		rc = deprecate(p, &p->regions[i]);
	return rc;
}

/* ---- step 4: the SSM pointer ------------------------------------------------------ */

static int pointer_undo(bk_kv *undo, const bk_ssm_parameter *before)
{
	int rc = 0;

	if (!before->value)
		return 0;   /* none: the undo deletes it */
	rc = bk_kv_set(undo, "value", before->value);
	if (rc == 0 && before->type)
		rc = bk_kv_set(undo, "type", before->type);
	if (rc == 0 && before->data_type)
		rc = bk_kv_set(undo, "data_type", before->data_type);
	return rc;
}

/* A pointer already at the image (a reused image's promotion, a retried
 * one) is left as it is: no new version, nothing to undo. */
static bool points_at(const bk_ssm_parameter *before, const char *image_id)
{
	return before->value && !strcmp(before->value, image_id) && before->type &&
	       !strcmp(before->type, "String");
}

static int point_region(promo *p, region_ctx *r)
{
	const char *name = p->plan->ssm_parameter;
	bk_ssm_parameter before = {0};
	bk_kv undo = BK_KV_INIT;
	size_t n;
	int rc = bk_ssm_get_parameter(&before, r->aws, r->region, name);

	if (rc == 0 && before.type && !strcmp(before.type, "SecureString"))
		rc = bk_err(BAKEAMI_EINVALID, "promote.ssm_parameter: %s in %s is a SecureString; "
			    "bakeami writes String parameters of data type aws:ec2:image", name,
			    r->region);
	if (rc == 0 && points_at(&before, r->image_id)) {
		bk_step(p->b, "SSM %s in %s already points at %s", name, r->region, r->image_id);
		bk_ssm_parameter_free(&before);
		return 0;
	}
	if (rc == 0)
		rc = pointer_undo(&undo, &before);
	if (rc == 0)
		rc = bk_promo_intend(p, r, &n, "ssm-parameter", name, r->image_id, &undo);
	if (rc == 0)
		rc = bk_ssm_put_parameter(r->aws, r->region, name, r->image_id, "String",
					  "aws:ec2:image");
	if (rc == 0)
		rc = bk_promo_made(p, n);
	if (rc == 0)
		bk_step(p->b, "SSM %s in %s: %s -> %s", name, r->region,
			before.value ? before.value : "(new)", r->image_id);
	bk_kv_free(&undo);
	bk_ssm_parameter_free(&before);
	return rc;
}

int bk_promo_pointer(promo *p)
{
	int rc = 0;

	for (size_t i = p->first; rc == 0 && p->plan->ssm_parameter && i < p->n; i++)
		rc = point_region(p, &p->regions[i]);
	return rc;
}

/* ---- step 5: promotion tags, last: a channel tag never shows on an image
 * whose promotion could still fail ---------------------------------------------------- */

static char *tags_text(const bk_kv *tags)
{
	bk_buf out = BK_BUF_INIT;

	for (size_t i = 0; i < tags->count; i++)
		bk_buf_printf(&out, "%s%s=%s", i ? ", " : "", tags->keys[i], tags->vals[i]);
	return bk_buf_detach(&out);
}

/* The promotion tags the image lacks (undo tag:<k>), and what they
 * replace (undo was:<k>). */
static int tags_to_add(bk_kv *added, bk_kv *undo, promo *p, region_ctx *r)
{
	const bk_kv *now = r->had_before ? &r->tags_before : NULL;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->final_tags.count; i++) {
		const char *k = p->final_tags.keys[i], *v = p->final_tags.vals[i];
		const char *old = now ? bk_kv_get(now, k) : NULL;
		char *tk = bk_sprintf("tag:%s", k), *wk = bk_sprintf("was:%s", k);
		if (!tk || !wk)
			rc = bk_oom();
		else if (!old || strcmp(old, v))
			rc = bk_kv_set(added, k, v);
		if (rc == 0 && (!old || strcmp(old, v)))
			rc = bk_kv_set(undo, tk, v);
		if (rc == 0 && old && strcmp(old, v))
			rc = bk_kv_set(undo, wk, old);
		free(tk);
		free(wk);
	}
	return rc;
}

static int tag_region(promo *p, region_ctx *r)
{
	const char *ids[1] = {r->image_id};
	bk_kv added = BK_KV_INIT, undo = BK_KV_INIT;
	size_t n;
	char *text;
	int rc = tags_to_add(&added, &undo, p, r);

	if (rc == 0 && added.count && (rc = bk_promo_intend(p, r, &n, "tags", r->image_id, NULL,
							    &undo)) == 0 &&
	    (rc = bk_ec2_create_tags(r->aws, r->region, ids, 1, &added)) == 0 &&
	    (rc = bk_promo_made(p, n)) == 0 && (text = tags_text(&added))) {
		bk_step(p->b, "tagged %s in %s: %s", r->image_id, r->region, text);
		free(text);
	}
	bk_kv_free(&added);
	bk_kv_free(&undo);
	return rc;
}

int bk_promo_tags(promo *p)
{
	int rc = 0;

	for (size_t i = p->first; rc == 0 && p->final_tags.count && i < p->n; i++)
		rc = tag_region(p, &p->regions[i]);
	return rc;
}
