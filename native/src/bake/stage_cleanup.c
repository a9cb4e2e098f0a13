/*
 * stage_cleanup.c - CLEANUP: undo, in reverse order, everything in the
 * ledger that is not kept (the finished image is). Not cancellable: it has
 * its own deadline. With on_error_abort it keeps everything and says how
 * to remove it later.
 */
#include <stdlib.h>

#include "bake.h"

#define BK_CLEANUP_DEADLINE_S (15 * 60)

static void keep_for_debugging(bakeami_bake *b)
{
	bk_ledger_live_ids(&b->left, bk_journal_ledger(b->journal), 0);
	bk_warn(b, "on_error_abort: left %zu resources for debugging; remove them with: "
		"bakeami cleanup --journal %s", b->left.count, bk_journal_path(b->journal));
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

int bk_stage_cleanup(bakeami_bake *b)
{
	bk_reaper r = bk_bake_reaper(b, BK_CLEANUP_DEADLINE_S);

	/* What is deleted needs no lease; close SSH: the instance is going. */
	bk_lease_stop(&b->lease);
	bk_ssh_free(b->ssh);
	b->ssh = NULL;
	bk_tunnels_close(b);
	if (!b->aws || !b->journal)
		return 0;   /* failed before anything could be created */
	/* A cancel means "stop and tidy up", even with on_error_abort. */
	if (b->rc != 0 && b->rc != BAKEAMI_ECANCELLED && b->opts.on_error_abort)
		keep_for_debugging(b);
	else
		bk_unwind(&r, 0);
	if (b->cleanup_failed.count)
		bk_warn(b, "%zu resources could not be deleted; retry with: bakeami cleanup --journal %s",
			b->cleanup_failed.count, bk_journal_path(b->journal));
	bk_journal_done(b->journal, status_word(b->rc));
	return 0;
}
