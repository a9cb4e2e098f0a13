/*
 * promote.c - the promotion engine (see promote.h): the plan per region,
 * the steps, and on failure the rollback, which is the ledger read back
 * from where the promotion began; on success everything it made is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"

#define ROLLBACK_DEADLINE_S (15 * 60)

int bk_strv_add_unique(bk_strv *v, const char *s)
{
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->items[i], s))
			return 0;
	return bk_strv_push(v, s);
}

int bk_strv_add_all(bk_strv *v, const bk_strv *src)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < src->count; i++)
		rc = bk_strv_add_unique(v, src->items[i]);
	return rc;
}

int bk_promo_intend(promo *p, region_ctx *r, size_t *n, const char *kind, const char *id,
		    const char *parent, const bk_kv *undo)
{
	bk_entry_spec s = {kind, id, kind && !strcmp(kind, "image") ? p->in->name : NULL,
			   r->region, parent, undo};

	return bk_journal_add(p->b->journal, n, &s, BK_INTENDED);
}

int bk_promo_made(promo *p, size_t n)
{
	return bk_journal_set(p->b->journal, n, BK_CREATED, NULL);
}

/* ==== the plan ========================================================== */

static int add_region(promo *p, const char *region, bool is_copy)
{
	region_ctx *r;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->regions[i].region, region))
			return 0;
	if (!(r = realloc(p->regions, (p->n + 1) * sizeof(*r))))
		return bk_oom();
	p->regions = r;
	r = &p->regions[p->n];
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->is_copy = is_copy;
	r->region = bk_strdup(region);
	p->n++;
	return r->region ? 0 : bk_oom();
}

/* The build region first, then Packer's ami_regions and promote.regions. */
static int plan_regions(promo *p, const bk_build_config *c)
{
	int rc = add_region(p, bk_aws_region(p->b->aws), false);

	if (rc == 0 && !(p->regions[0].image_id = bk_strdup(p->in->image_id)))
		rc = bk_oom();
	if (rc == 0 && p->in->snapshots)
		rc = bk_strv_add_all(&p->regions[0].snapshots, p->in->snapshots);
	if (rc == 0 && p->in->existing) {
		p->regions[0].had_before = true;
		for (size_t i = 0; rc == 0 && p->in->current_tags && i < p->in->current_tags->count; i++)
			rc = bk_kv_set(&p->regions[0].tags_before, p->in->current_tags->keys[i],
				       p->in->current_tags->vals[i]);
	}
	for (size_t i = 0; rc == 0 && i < c->ami_regions.count; i++)
		rc = add_region(p, c->ami_regions.items[i], true);
	for (size_t i = 0; rc == 0 && i < p->plan->regions.count; i++)
		rc = add_region(p, p->plan->regions.items[i], true);
	return rc;
}

static int plan_shares(promo *p, const bk_build_config *c)
{
	const bk_promote_plan *pl = p->plan;
	int rc = bk_strv_add_all(&p->share.users, &c->ami_users);

	if (rc == 0)
		rc = bk_strv_add_all(&p->share.users, &pl->share_with);
	if (rc == 0)
		rc = bk_strv_add_all(&p->share.groups, &c->ami_groups);
	if (rc == 0)
		rc = bk_strv_add_all(&p->share.org_arns, &pl->ami_org_arns);
	if (rc == 0)
		rc = bk_strv_add_all(&p->share.org_arns, &pl->share_with_org_arns);
	if (rc == 0)
		rc = bk_strv_add_all(&p->share.ou_arns, &pl->ami_ou_arns);
	if (rc == 0)
		rc = bk_strv_add_all(&p->share.ou_arns, &pl->share_with_ou_arns);
	if (rc == 0)
		rc = bk_strv_add_all(&p->snap_users, &c->snapshot_users);
	if (rc == 0)
		rc = bk_strv_add_all(&p->snap_groups, &c->snapshot_groups);
	return rc;
}

/* promote.tags and the family tag; only with a promote block. */
static int plan_tags(promo *p, const bk_build_config *c)
{
	int rc = 0;

	if (!p->plan->present)
		return 0;
	for (size_t i = 0; rc == 0 && i < p->plan->tags.count; i++)
		rc = bk_kv_set(&p->final_tags, p->plan->tags.keys[i], p->plan->tags.vals[i]);
	if (rc == 0 && !(p->family = bk_promote_family(c)))
		rc = bk_oom();
	if (rc == 0)
		rc = bk_kv_set(&p->final_tags, BK_FAMILY_TAG, p->family);
	return rc;
}

static void plan_deprecation(promo *p)
{
	if (p->plan->deprecate_after_days >= 0)
		bk_iso8601(p->deprecate_at, bk_wall() + (double)p->plan->deprecate_after_days * 86400);
	else if (p->plan->deprecate_at)
		snprintf(p->deprecate_at, sizeof(p->deprecate_at), "%s", p->plan->deprecate_at);
}

static int plan(promo *p)
{
	const bk_build_config *c = p->b->cfg;
	int rc = plan_regions(p, c);

	if (rc == 0)
		rc = plan_shares(p, c);
	if (rc == 0)
		rc = plan_tags(p, c);
	plan_deprecation(p);
	return rc;
}

/* ==== the copy regions' clients ========================================= */

/* The bake's credentials and settings, signed for another region; its
 * events go through the bake's (serialized) logger. */
static int region_client(promo *p, region_ctx *r)
{
	const bk_aws_creds *cr;
	bk_aws_config ac = bk_bake_aws_config(p->b, p->b->cfg);
	int rc;

	ac.region = r->region;
	if ((rc = bk_aws_new(&r->aws, &ac)) < 0)
		return bk_err_wrap(rc, "AWS client for %s", r->region);
	/* An assumed role's session differs per client: mask it too. */
	cr = bk_aws_credentials(r->aws);
	if ((rc = bk_add_secret(p->b, cr->secret_access_key)) == 0)
		rc = bk_add_secret(p->b, cr->session_token);
	return rc;
}

static int open_clients(promo *p)
{
	int rc = 0;

	p->regions[0].aws = p->b->aws;
	for (size_t i = 1; rc == 0 && i < p->n; i++)
		rc = region_client(p, &p->regions[i]);
	return rc;
}

/* ==== the engine ======================================================== */

static int run_steps(promo *p)
{
	int (*const steps[])(promo *) = {bk_promo_copies, bk_promo_shares, bk_promo_deprecation,
					 bk_promo_pointer, bk_promo_tags};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < BK_ARRAY_SIZE(steps); i++) {
		if (bk_cancelled(&p->b->work_cancel))
			return bk_err(BAKEAMI_ECANCELLED, "cancelled");
		rc = steps[i](p);
	}
	return rc;
}

/* Everything the promotion made stays: the copies, their snapshots, the
 * changes. */
static int commit(promo *p)
{
	const bk_ledger *l = bk_journal_ledger(p->b->journal);
	int rc = 0;

	for (size_t i = p->mark; rc == 0 && i < l->count; i++)
		if (bk_entry_live(&l->items[i]))
			rc = bk_journal_set(p->b->journal, i, BK_KEPT, NULL);
	for (size_t i = 1; rc == 0 && i < p->n; i++)
		rc = bk_kv_set(&p->b->amis, p->regions[i].region, p->regions[i].image_id);
	return rc;
}

/* The ledger in reverse from the promotion's start: pointers go before
 * images, so nothing points at a copy while it goes; no cancel applies,
 * only the deadline of each call. */
static void rollback(promo *p)
{
	bakeami_bake *b = p->b;
	bk_reaper r = bk_bake_reaper(b, ROLLBACK_DEADLINE_S);

	r.rolled_back = &b->rolled_back;
	bk_aws_set_cancel(b->aws, NULL);
	bk_unwind(&r, p->mark);
	bk_aws_set_cancel(b->aws, &b->work_cancel);
}

/* The message is kept before the rollback, whose calls set their own. */
static int fail(promo *p, int rc)
{
	char *why = bk_strdup(bk_err_msg());

	bk_warn(p->b, "promotion failed, rolling back: %s", why ? why : bakeami_strerror(rc));
	rollback(p);
	rc = bk_err(rc, "promotion failed: %s (rolled back: %zu change%s)",
		    why ? why : bakeami_strerror(rc), p->b->rolled_back.count,
		    p->b->rolled_back.count == 1 ? "" : "s");
	free(why);
	return rc;
}

static void report(promo *p)
{
	bk_buf where = BK_BUF_INIT;

	for (size_t i = p->first; i < p->n; i++)
		bk_buf_printf(&where, "%s%s %s", i > p->first ? ", " : "", p->regions[i].region,
			      p->regions[i].image_id);
	bk_step(p->b, "promoted %s: %s", p->in->image_id, where.ptr ? where.ptr : "");
	bk_buf_free(&where);
}

static void promo_free(promo *p)
{
	for (size_t i = 0; i < p->n; i++) {
		region_ctx *r = &p->regions[i];
		if (i > 0)
			bk_aws_free(r->aws);
		free(r->region);
		free(r->image_id);
		free(r->error);
		bk_strv_free(&r->snapshots);
		bk_kv_free(&r->tags_before);
	}
	free(p->regions);
	bk_ec2_perms_free(&p->share);
	bk_strv_free(&p->snap_users);
	bk_strv_free(&p->snap_groups);
	bk_kv_free(&p->final_tags);
	free(p->family);
}

int bk_promote(bakeami_bake *b, const bk_promo_input *in)
{
	promo p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.b = b;
	p.in = in;
	p.plan = &b->cfg->promote;
	p.mark = bk_journal_ledger(b->journal)->count;
	p.first = b->cfg->skip_save_build_region ? 1 : 0;
	atomic_init(&p.failed, 0);
	rc = plan(&p);
	if (rc == 0)
		rc = open_clients(&p);
	if (rc == 0)
		rc = run_steps(&p);
	if (rc == 0)
		rc = commit(&p);
	if (rc < 0) {
		rc = fail(&p, rc);
	} else {
		report(&p);
		bk_promo_retire(&p);
	}
	promo_free(&p);
	return rc;
}
