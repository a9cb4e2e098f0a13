/*
 * test_util_error.c - the thread-local last error: an allocation failure
 * reported with bk_oom() replaces a stale message instead of leaving it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "util/util.h"

static void test_error__oom_replaces_a_stale_message(void **state)
{
	(void)state;
	bk_err(BAKEAMI_EAWS, "DescribeImages: throttled");
	assert_int_equal(bk_oom(), BAKEAMI_ENOMEM);
	assert_string_equal(bk_err_msg(), "out of memory");
	assert_string_equal(bakeami_error_last(), "out of memory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error__oom_replaces_a_stale_message),
	};
	return cmocka_run_group_tests_name("util_error", tests, NULL, NULL);
}
