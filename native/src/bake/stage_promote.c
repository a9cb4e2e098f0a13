/* stage_promote.c - PROMOTE: runs only once every test passed. Templates
 * asking for promotion are refused at VALIDATE until it exists (issue 4);
 * here the tested image is marked as kept. */
#include "bake.h"

int bk_stage_promote(bakeami_bake *b)
{
	int rc;

	if (!b->image_id)
		return 0;
	if ((rc = bk_journal_kept(b->journal, "image", b->image_id)) < 0)
		return rc;
	b->image_keep = 1;
	return bk_kv_set(&b->amis, bk_aws_region(b->aws), b->image_id);
}
