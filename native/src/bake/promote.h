/*
 * promote.h - the promotion engine (issue 4): what happens to a tested
 * image. Shared by the bake's PROMOTE stage and `bakeami promote`.
 *
 * Steps, each in every region (the build region first):
 *   1. copies: CopyImage to ami_regions + promote.regions, one thread and one
 *      client per region, waited for, tagged (CopyImage copies no tags); a
 *      copy an earlier run made of the same image is reused;
 *   2. sharing: launch permissions (users, groups, organizations, OUs) and
 *      create-volume permissions of the snapshots;
 *   3. deprecation: promote.deprecate_after_days or the builder's deprecate_at;
 *   4. pointer: promote.ssm_parameter set to the region's image;
 *   5. promotion tags: promote.tags plus bakeami:family, last, so a channel
 *      tag never shows on an image whose promotion could still fail.
 * Each copy and each change is in the ledger (journal.h) before its call,
 * with what undoes it. If any step fails, the ledger is undone back to
 * where the promotion began; images that existed before keep what they
 * had. A SIGKILL leaves the same ledger to `bakeami cleanup --journal`.
 * Only after success, with keep_last, older images of the family are
 * retired. The settings come typed from the template (promote_plan.h).
 */
#ifndef BK_PROMOTE_H
#define BK_PROMOTE_H

#include "bake.h"

typedef struct {
	const char *image_id;          /* the tested image, in the bake's region */
	const char *name;              /* its name: each copy gets the same */
	const char *description;       /* NULL: none */
	const bk_strv *snapshots;      /* its snapshots */
	const bk_kv *copy_tags;        /* for every copy: provenance, user tags */
	const bk_kv *copy_snapshot_tags;
	bool existing;                 /* `bakeami promote`: it may be promoted already, */
	const bk_kv *current_tags;     /* with these tags: a rollback keeps what it had */
} bk_promo_input;

/* Run the steps for in->image_id. 0 when promoted: b->amis holds every
 * region's image. On failure everything this run changed is undone (listed
 * in b->rolled_back) and the error returned; the image itself stays. */
int bk_promote(bakeami_bake *b, const bk_promo_input *in);

#endif
