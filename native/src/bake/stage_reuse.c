/*
 * stage_reuse.c - REUSE (issue 14): the inputs digest of the bound plan;
 * with reuse on, an available, tested image of ours carrying the same
 * digest turns the bake into a reuse hit (straight to PROMOTE), one whose
 * content digest matches but whose tests changed into a re-test; a miss
 * says what changed since the family's last image. Then, for a bake, the
 * ami_name pre-check (an image name must be unused).
 *
 * Only images owned by the account count, and of those only ones with
 * bakeami's provenance (bakeami:run-id, CreatedBy, SourceAMI of this very
 * source): a digest tag anyone can write is not enough.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../verify/verify.h"
#include "bake.h"

#define EC2_MAX_TAGS 50

bool bk_reuse_wanted(const bakeami_bake *b)
{
	if (b->opts.reuse)
		return b->opts.reuse > 0;
	return b->cfg && b->cfg->reuse.enabled;
}

int bk_inputs_image_tags(bk_kv *tags, const bakeami_bake *b, size_t later)
{
	char *family;
	size_t used = tags->count + later;
	int rc;

	if (!b->have_inputs)
		return 0;
	if (!(family = bk_promote_family(b->cfg)))
		return bk_oom();
	rc = bk_inputs_tags(tags, &b->inputs, family, used < EC2_MAX_TAGS ? EC2_MAX_TAGS - used : 0);
	free(family);
	return rc;
}

static double iso_epoch(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	return (double)timegm(&tm);
}

/* Why img may not stand in for a bake of ours; NULL when it may. */
static const char *refusal(const bakeami_bake *b, const bk_ec2_image *img)
{
	const char *created_by = bk_kv_get(&img->tags, "CreatedBy");
	const char *source = bk_kv_get(&img->tags, "SourceAMI");
	double made = iso_epoch(img->creation_date), dep = iso_epoch(img->deprecation_time);
	double max_age = b->cfg->reuse.max_age_s;

	if (!img->state || strcmp(img->state, "available") != 0)
		return "not available";
	if (!bk_kv_get(&img->tags, "bakeami:run-id") || !created_by ||
	    strcmp(created_by, "bakeami") != 0)
		return "without bakeami's provenance tags";
	if (!source || strcmp(source, b->source->id) != 0)
		return "baked from another source AMI";
	if (img->deprecation_time && dep <= bk_wall())
		return "deprecated";
	if (bk_kv_get(&img->tags, "TestStatus") && strcmp(bk_kv_get(&img->tags, "TestStatus"),
							   "passed") != 0)
		return "its tests did not pass";
	if (max_age > 0 && (made < 0 || bk_wall() - made > max_age))
		return "older than reuse.max_age";
	return NULL;
}

/* A hit also needs a verdict when the template has tests (refusal() has
 * turned away any TestStatus but passed). */
static bool tested(const bakeami_bake *b, const bk_ec2_image *img)
{
	return bk_kv_get(&img->tags, "TestStatus") || !b->cfg->tests;
}

static int lookup(bakeami_bake *b, bk_ec2_images *out, const char *tag, const char *value)
{
	const char *self[1] = {"self"};
	bk_kv filters = BK_KV_INIT;
	bk_ec2_image_query q = {NULL, 0, self, 1, &filters, false};
	char *name = bk_sprintf("tag:%s", tag);
	int rc = name ? bk_kv_add(&filters, name, value) : bk_oom();

	if (rc == 0)
		rc = bk_ec2_describe_images(out, b->aws, NULL, &q);
	bk_kv_free(&filters);
	free(name);
	return rc;
}

/* Newest first: the first usable image of the same digest is a hit; else
 * the first of the same image digest is re-tested. */
static bk_ec2_image *choose(bakeami_bake *b, bool *retest)
{
	bk_ec2_image *again = NULL;

	for (size_t i = 0; i < b->reuse_found.count; i++) {
		bk_ec2_image *img = &b->reuse_found.items[i];
		const char *why = refusal(b, img);
		const char *digest = bk_kv_get(&img->tags, BK_TAG_INPUTS);

		if (why) {
			bk_emit(b, BAKEAMI_EVENT_DEBUG, 0, "not reusing %s: %s", img->id, why);
			continue;
		}
		if (digest && strcmp(digest, b->inputs.digest) == 0 && tested(b, img)) {
			*retest = false;
			return img;
		}
		if (!again)
			again = img;
	}
	*retest = again != NULL;
	return again;
}

/* The family's newest image of ours: what a miss is compared with. */
static int explain_miss(bakeami_bake *b, char **out)
{
	bk_ec2_images fam = {0};
	char *family = bk_promote_family(b->cfg), *diff = NULL;
	const bk_ec2_image *old = NULL;
	int rc = family ? lookup(b, &fam, BK_TAG_INPUTS_FAMILY, family) : bk_oom();

	for (size_t i = 0; rc == 0 && !old && i < fam.count; i++)
		if (bk_kv_get(&fam.items[i].tags, "bakeami:run-id"))
			old = &fam.items[i];
	if (rc == 0 && !old)
		*out = bk_sprintf("no earlier image of family %s", family);
	else if (rc == 0 && (diff = bk_inputs_explain(&b->inputs, &old->tags, b->source->id)))
		*out = bk_sprintf("since %s (run %s): %s", old->id,
				  bk_kv_get(&old->tags, "bakeami:run-id"), diff);
	if (rc == 0 && !*out)
		rc = bk_oom();
	free(diff);
	free(family);
	bk_ec2_images_free(&fam);
	return rc;
}

/* Deregister a same-named image of ours when force_deregister says so. */
static int force_deregister(bakeami_bake *b, const bk_ec2_image *old)
{
	bk_step(b, "force_deregister: deregistering %s (%s)", old->id, old->name);
	return bk_ec2_deregister_image_and_snapshots(b->aws, NULL, old,
						     b->cfg->force_delete_snapshot);
}

static int name_precheck(bakeami_bake *b)
{
	bk_ec2_images found = {0};
	int rc;

	if (b->cfg->skip_create_ami)
		return 0;
	rc = bk_ec2_describe_images_named(&found, b->aws, NULL, b->cfg->ami_name);
	for (size_t i = 0; rc == 0 && i < found.count; i++)
		rc = b->cfg->force_deregister ? force_deregister(b, &found.items[i])
			: bk_err(BAKEAMI_EINVALID,
				 "an image named '%s' already exists (%s); change ami_name or set force_deregister",
				 b->cfg->ami_name, found.items[i].id);
	bk_ec2_images_free(&found);
	return rc;
}

static int compute(bakeami_bake *b)
{
	int rc;

	if (b->have_inputs)
		return 0;
	if ((rc = bk_inputs_compute(&b->inputs, b->cfg, b->source->id)) < 0)
		return rc;
	b->have_inputs = true;
	return 0;
}

static int hit(bakeami_bake *b, bool retest)
{
	const bk_ec2_image *img = b->reused;
	const char *run = bk_kv_get(&img->tags, "bakeami:run-id");

	if (retest) {
		bk_step(b, "%s (run %s) has this image's inputs, only the tests changed: "
			"re-testing it, no bake", img->id, run);
		if (!(b->image_id = bk_strdup(img->id)))
			return bk_oom();
	} else {
		bk_step(b, "reusing %s (run %s, %s), a tested image of these inputs (%.12s): "
			"no bake", img->id, run, img->creation_date ? img->creation_date : "?",
			b->inputs.digest);
	}
	bk_run_switch(b, retest ? BK_RUN_RETEST : BK_RUN_REUSE);
	return 0;
}

/* The images of the same inputs that were turned away, and why. */
static int refused_list(bakeami_bake *b, bk_buf *out)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->reuse_found.count; i++) {
		const bk_ec2_image *img = &b->reuse_found.items[i];
		const char *why = refusal(b, img);
		if (why)
			rc = bk_buf_printf(out, "; %s not reused: %s", img->id, why);
	}
	return rc;
}

static int miss(bakeami_bake *b)
{
	bk_buf refused = BK_BUF_INIT;
	char *why = NULL;
	int rc = explain_miss(b, &why);

	if (rc == 0)
		rc = refused_list(b, &refused);
	if (rc == 0)
		bk_step(b, "no tested image of these inputs (%.12s): baking; %s%s",
			b->inputs.digest, why, refused.len ? refused.ptr : "");
	bk_buf_free(&refused);
	free(why);
	return rc;
}

int bk_stage_reuse(bakeami_bake *b)
{
	bool retest = false;
	int rc = compute(b);

	if (rc < 0 || !bk_reuse_wanted(b))
		return rc < 0 ? rc : name_precheck(b);
	if (b->inputs.incomplete) {
		bk_warn(b, "reuse is off for this template: %s", b->inputs.incomplete);
		return name_precheck(b);
	}
	if ((rc = lookup(b, &b->reuse_found, BK_TAG_IMAGE_INPUTS, b->inputs.image_digest)) < 0)
		return rc;
	if ((b->reused = choose(b, &retest)))
		return hit(b, retest);
	if ((rc = miss(b)) < 0)
		return rc;
	return name_precheck(b);
}

/* ---- `bakeami inputs` ---------------------------------------------------- */

static int report(bakeami_bake *b, const char *since)
{
	bk_buf r = BK_BUF_INIT;
	int rc = bk_buf_printf(&r, "inputs %s\nimage inputs %s\n", b->inputs.digest,
			       b->inputs.image_digest);

	for (size_t i = 0; rc == 0 && i < b->inputs.count; i++)
		rc = bk_buf_printf(&r, "  %.*s  %s%s%s\n", BK_INPUTS_SHORT, b->inputs.parts[i].hex,
				   b->inputs.parts[i].label, strcmp(b->inputs.parts[i].key, "s")
				   ? "" : " ", strcmp(b->inputs.parts[i].key, "s") ? "" : b->source->id);
	if (rc == 0 && b->inputs.incomplete)
		rc = bk_buf_printf(&r, "incomplete: %s\n", b->inputs.incomplete);
	if (rc == 0)
		rc = bk_buf_printf(&r, "%s\n", since);
	if (rc < 0) {
		bk_buf_free(&r);
		return rc;
	}
	b->inputs_report = bk_buf_detach(&r);
	return 0;
}

int bk_stage_inputs(bakeami_bake *b)
{
	char *since = NULL;
	int rc = compute(b);

	if (rc == 0)
		rc = explain_miss(b, &since);
	if (rc == 0)
		rc = report(b, since);
	free(since);
	return rc;
}

/* ---- a hit's PROMOTE ------------------------------------------------------ */

int bk_stage_promote_reused(bakeami_bake *b)
{
	const bk_ec2_image *img = b->reused;

	if (bk_promote_wanted(b->cfg))
		return bk_promote_image(b, img);
	/* The summary names the image by its real name, not this run's rendering. */
	free(b->cfg->ami_name);
	if (!(b->cfg->ami_name = bk_strdup(img->name ? img->name : img->id)))
		return bk_oom();
	return bk_kv_set(&b->amis, bk_aws_region(b->aws), img->id);
}
