/* stage_test.c - TEST and TEST_IMAGE: the image's tests (issue 3). A
 * template that asks for tests is refused at VALIDATE until they exist. */
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
