/*
 * stage_later.c - TEST, TEST_IMAGE and PROMOTE. Templates that ask for
 * tests or promotion are refused at VALIDATE until those stages exist
 * (issues 3 and 4), so here the image has passed everything asked of it.
 */
#include "bake.h"

int bk_stage_test(bakeami_bake *b)
{
	(void)b;
	return 0;
}

int bk_stage_test_image(bakeami_bake *b)
{
	(void)b;
	return 0;
}

int bk_stage_promote(bakeami_bake *b)
{
	int rc;

	if (!b->image_id)
		return 0;
	if ((rc = bk_journal_kept(b->journal, "image", b->image_id)) < 0)
		return rc;
	b->image_keep = 1;
	return 0;
}
