/*
 * stage_cleanup.c - CLEANUP: delete, in reverse order of creation, all
 * the bake made that is not the finished image. Not cancellable: it has
 * its own deadline. With --on-error abort it keeps everything and says
 * how to remove it later.
 */
#include <stdlib.h>

#include "bake.h"

#define BK_CLEANUP_DEADLINE_S (15 * 60)

static void keep_for_debugging(bakeami_bake *b)
{
	if (b->instance.id)
		bk_strv_push(&b->left, b->instance.id);
	if (b->test_instance.id)
		bk_strv_push(&b->left, b->test_instance.id);
	if (b->sg_id)
		bk_strv_push(&b->left, b->sg_id);
	if (b->key_name)
		bk_strv_push(&b->left, b->key_name);
	if (b->image_id && !b->image_keep)
		bk_strv_push(&b->left, b->image_id);
	if (b->unencrypted_id)
		bk_strv_push(&b->left, b->unencrypted_id);
	bk_warn(b, "--on-error abort: left %zu resources for debugging; remove them with: "
		"bakeami cleanup --journal %s", b->left.count, bk_journal_path(b->journal));
}

static void reap_all(bakeami_bake *b, bk_reaper *r)
{
	if (b->test_instance.id)
		bk_reap_instance(r, b->test_instance.id);
	if (b->image_id && !b->image_keep)
		bk_reap_image(r, b->image_id, b->image_snapshots.count ? &b->image_snapshots : NULL);
	if (b->unencrypted_id)
		bk_reap_image(r, b->unencrypted_id, b->unencrypted_snapshots.count
			      ? &b->unencrypted_snapshots : NULL);
	/* Our group outlives the instance in EC2's eyes (DependencyViolation
	 * until it is gone), so its delete retries double as the wait. */
	if (b->instance.id && b->sg_id)
		bk_reap_instance_nowait(r, b->instance.id);
	else if (b->instance.id)
		bk_reap_instance(r, b->instance.id);
	if (b->sg_id)
		bk_reap_security_group(r, b->sg_id);
	if (b->key_name)
		bk_reap_key_pair(r, b->key_name);
}

static const char *status_word(int rc)
{
	switch (rc) {
	case 0: return "succeeded";
	case BAKEAMI_ECANCELLED: return "cancelled";
	case BAKEAMI_ETESTFAIL: return "tests-failed";
	default: return "failed";
	}
}

void bk_stage_cleanup(bakeami_bake *b)
{
	bk_reaper r = bk_bake_reaper(b, BK_CLEANUP_DEADLINE_S);

	/* Close SSH first: the instance is about to go away under it. */
	bk_ssh_free(b->ssh);
	b->ssh = NULL;
	if (!b->aws)
		return;   /* failed before anything could be created */
	/* A cancel means "stop and tidy up", even with --on-error abort. */
	if (b->rc != 0 && b->rc != BAKEAMI_ECANCELLED && b->opts.on_error_abort)
		keep_for_debugging(b);
	else
		reap_all(b, &r);
	if (b->cleanup_failed.count)
		bk_warn(b, "%zu resources could not be deleted; retry with: bakeami cleanup --journal %s",
			b->cleanup_failed.count, bk_journal_path(b->journal));
	if (b->journal)
		bk_journal_done(b->journal, status_word(b->rc));
}
