/*
 * test_util_poll.c - the one adaptive poller (util/poll.c) on a fake
 * clock: the backoff sequence and its ceiling, a fixed interval, the
 * deadline clamping the last wait and ending the waits, cancel before and
 * during a wait. No real sleeping, so nothing depends on timing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/util.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

typedef struct {
	double now;
	double slept[32];
	size_t sleeps;
	size_t cancel_on;          /* cancel during this sleep (1-based); 0: never */
	bk_cancel *cancel;
} fake_clock;

static double fake_now(void *payload)
{
	return ((fake_clock *)payload)->now;
}

static int fake_sleep(const bk_cancel *c, double s, void *payload)
{
	fake_clock *f = payload;

	assert_true(f->sleeps < BK_ARRAY_SIZE(f->slept));
	f->slept[f->sleeps++] = s;
	if (f->cancel_on == f->sleeps) {
		bk_cancel_set(f->cancel);
		f->now += s / 2;              /* woken early, as bk_sleep_ms is */
		return bk_cancelled(c) ? BAKEAMI_ECANCELLED : 0;
	}
	f->now += s;
	return 0;
}

static void start(bk_poller *p, const bk_clock *clock, double deadline, double first,
		  double max, double factor, const bk_cancel *cancel)
{
	bk_poll_opts o = {deadline, first, max, factor, cancel, clock, 0};

	bk_poller_start(p, &o);
}

static void test_poll__backoff_sequence_and_ceiling(void **state)
{
	fake_clock f = {100.0, {0}, 0, 0, NULL};
	bk_clock clock = {fake_now, fake_sleep, &f};
	static const double want[] = {0.25, 0.5, 1, 2, 4, 8, 15, 15};
	bk_poller p;

	(void)state;
	start(&p, &clock, 0, 0.25, 15, 2, NULL);
	for (size_t i = 0; i < BK_ARRAY_SIZE(want); i++) {
		assert_near(bk_poller_next(&p), want[i]);
		assert_int_equal(bk_poller_wait(&p), 0);
	}
	assert_int_equal(f.sleeps, BK_ARRAY_SIZE(want));
	for (size_t i = 0; i < BK_ARRAY_SIZE(want); i++)
		assert_near(f.slept[i], want[i]);
	assert_int_equal(p.waits, (int)BK_ARRAY_SIZE(want));
	assert_near(f.now, 100.0 + 45.75);
}

/* 1 s while less than 5 s have passed since the start, then doubling. */
static void test_poll__steady_phase_then_backoff(void **state)
{
	fake_clock f = {10.0, {0}, 0, 0, NULL};
	bk_clock clock = {fake_now, fake_sleep, &f};
	static const double want[] = {1, 1, 1, 1, 1, 2, 4, 8, 8};
	bk_poll_opts o = {0, 1, 8, 2, NULL, &clock, 5};
	bk_poller p;

	(void)state;
	bk_poller_start(&p, &o);
	for (size_t i = 0; i < BK_ARRAY_SIZE(want); i++) {
		assert_near(bk_poller_next(&p), want[i]);
		assert_int_equal(bk_poller_wait(&p), 0);
	}
	assert_near(f.now, 10.0 + 27);
}

static void test_poll__fixed_interval(void **state)
{
	fake_clock f = {0, {0}, 0, 0, NULL};
	bk_clock clock = {fake_now, fake_sleep, &f};
	bk_poller p;

	(void)state;
	start(&p, &clock, 0, 3, 5, 1, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bk_poller_wait(&p), 0);
	assert_int_equal(f.sleeps, 4);
	for (size_t i = 0; i < f.sleeps; i++)
		assert_near(f.slept[i], 3);
}

/* Deadline 10 s away, waits 2, 3, 4.5: the fourth would be 6.75 but only
 * 0.5 is left, so it sleeps 0.5; then the deadline ends it without a
 * sleep and without an error message. */
static void test_poll__deadline_clamps_then_ends(void **state)
{
	fake_clock f = {50.0, {0}, 0, 0, NULL};
	bk_clock clock = {fake_now, fake_sleep, &f};
	static const double want[] = {2, 3, 4.5, 0.5};
	bk_poller p;

	(void)state;
	bk_err(BAKEAMI_EAWS, "DependencyViolation");
	start(&p, &clock, 60.0, 2, 15, 1.5, NULL);
	for (size_t i = 0; i < BK_ARRAY_SIZE(want); i++)
		assert_int_equal(bk_poller_wait(&p), 0);
	assert_near(bk_poller_now(&p), 60.0);
	assert_near(bk_poller_next(&p), 0);
	assert_int_equal(bk_poller_wait(&p), 1);
	assert_int_equal(bk_poller_wait(&p), 1);
	assert_int_equal(f.sleeps, BK_ARRAY_SIZE(want));
	for (size_t i = 0; i < BK_ARRAY_SIZE(want); i++)
		assert_near(f.slept[i], want[i]);
	assert_string_equal(bk_err_msg(), "DependencyViolation");   /* left for the caller */
}

static void test_poll__cancel_before_and_during(void **state)
{
	fake_clock f = {0, {0}, 0, 0, NULL};
	bk_clock clock = {fake_now, fake_sleep, &f};
	bk_cancel before = {0}, during = {0};
	bk_poller p;

	(void)state;
	bk_cancel_set(&before);
	start(&p, &clock, 100, 1, 8, 2, &before);
	assert_int_equal(bk_poller_wait(&p), BAKEAMI_ECANCELLED);
	assert_int_equal(f.sleeps, 0);                 /* no sleep once cancelled */

	f.cancel_on = 3;
	f.cancel = &during;
	start(&p, &clock, 100, 1, 8, 2, &during);
	assert_int_equal(bk_poller_wait(&p), 0);
	assert_int_equal(bk_poller_wait(&p), 0);
	assert_int_equal(bk_poller_wait(&p), BAKEAMI_ECANCELLED);
	assert_int_equal(f.sleeps, 3);
	assert_int_equal(bk_poller_wait(&p), BAKEAMI_ECANCELLED);
	assert_int_equal(f.sleeps, 3);
	assert_non_null(bk_err_msg());
}

/* The real clock: a cancelled poller returns at once, a short wait
 * sleeps, and a past deadline ends it. */
static void test_poll__real_clock(void **state)
{
	bk_cancel c = {0};
	bk_poll_opts o = {bk_now() + 60, 0.01, 1, 2, &c, NULL, 0};
	bk_poll_opts past = {bk_now() - 1, 0.01, 1, 2, NULL, NULL, 0};
	bk_poller p;

	(void)state;
	bk_poller_start(&p, &o);
	assert_int_equal(bk_poller_wait(&p), 0);
	bk_cancel_set(&c);
	assert_int_equal(bk_poller_wait(&p), BAKEAMI_ECANCELLED);
	bk_poller_start(&p, &past);
	assert_int_equal(bk_poller_wait(&p), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll__backoff_sequence_and_ceiling),
		cmocka_unit_test(test_poll__steady_phase_then_backoff),
		cmocka_unit_test(test_poll__fixed_interval),
		cmocka_unit_test(test_poll__deadline_clamps_then_ends),
		cmocka_unit_test(test_poll__cancel_before_and_during),
		cmocka_unit_test(test_poll__real_clock),
	};
	return cmocka_run_group_tests_name("util_poll", tests, NULL, NULL);
}
