/* test_bake_machine.c - the state machine driven with fake stages (the
 * handle's stage table) and a fake resource kind (its kinds table): every
 * transition, a failure and a cancel injected at every state, CLEANUP once
 * and in reverse order of creation, a promotion's own list. No AWS call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bake/bake.h"

#define MAX 64

/* What the fakes saw: one run at a time. */
static struct {
	bk_state visited[MAX];
	size_t nvisited;
	int cleanups;
	bk_state fail_at, cancel_at;
	bool cancel_in_cleanup;
	char made[MAX][32], undone[MAX][32];
	size_t nmade, nundone;
	char transitions[MAX][64];
	size_t ntransitions;
} T;

static char journal_path[128];

static int fake_undo(bk_reaper *r, const bk_entry *e)
{
	if (T.cancel_in_cleanup && T.nundone == 0)
		bakeami_bake_cancel(r->log.payload);   /* the bake's logger carries the bake */
	snprintf(T.undone[T.nundone++], 32, "%s", e->id);
	return 0;
}

static char *fake_describe(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return bk_sprintf("fake %s", e->id);
}

static const bk_kind fake_kinds[] = {{"fake", false, false, fake_undo, fake_describe, NULL}};

/* VALIDATE makes what CLEANUP needs (a client, which calls no one here, and
 * the journal); every later stage creates one resource named after it. */
static int fake_stage(bakeami_bake *b)
{
	bk_state s = b->state;
	int rc = 0;

	T.visited[T.nvisited++] = s;
	if (s == BK_VALIDATE) {
		bk_aws_config ac = {.access_key_id = "AKIDFAKEFAKEFAKE", .secret_access_key = "fake-secret",
				    .region = "us-east-1"};
		assert_int_equal(bk_aws_new(&b->aws, &ac), 0);
		rc = bk_journal_open(&b->journal, journal_path, b->run_id, "us-east-1");
	} else {
		bk_entry_spec spec = {.kind = "fake", .name = bk_state_name(s)};
		size_t n;
		assert_int_equal(bk_journal_add(b->journal, &n, &spec, BK_INTENDED), 0);
		assert_int_equal(bk_journal_set(b->journal, n, BK_CREATED, bk_state_name(s)), 0);
		snprintf(T.made[T.nmade++], 32, "%s", bk_state_name(s));
	}
	if (s == T.cancel_at)
		bakeami_bake_cancel(b);
	if (rc == 0 && s == T.fail_at)
		rc = bk_err(BAKEAMI_EAWS, "injected failure at %s", bk_state_name(s));
	return rc;
}

static int fake_cleanup(bakeami_bake *b)
{
	T.visited[T.nvisited++] = b->state;
	T.cleanups++;
	return bk_stage_cleanup(b);
}

static void record_event(const bakeami_event *ev, void *payload)
{
	(void)payload;
	if (ev->kind == BAKEAMI_EVENT_STATE && T.ntransitions < MAX)
		snprintf(T.transitions[T.ntransitions++], 64, "%s", ev->text);
}

static bakeami_bake *fake_run(bool promotion)
{
	bakeami_options o = BAKEAMI_OPTIONS_INIT;
	bakeami_bake *b = NULL;

	memset(&T, 0, sizeof(T));
	T.fail_at = T.cancel_at = BK_STATE_LAST;
	snprintf(journal_path, sizeof(journal_path), "/tmp/bakeami-machine-%d/j.jsonl", (int)getpid());
	unlink(journal_path);
	o.template_path = "never-read.json";
	o.journal_path = journal_path;
	o.log_cb = record_event;
	if (promotion)
		assert_int_equal(bakeami_promote_new(&b, &o, "ami-0123456789abcdef0"), 0);
	else
		assert_int_equal(bakeami_bake_new(&b, &o), 0);
	for (int s = 0; s < BK_STATE_LAST; s++)
		b->stage[s] = fake_stage;
	b->stage[BK_CLEANUP] = fake_cleanup;
	b->kinds = fake_kinds;
	b->kinds_count = BK_ARRAY_SIZE(fake_kinds);
	return b;
}

static int run(bakeami_bake *b)
{
	return b->kind == BK_RUN_BAKE ? bakeami_bake_run(b) : bakeami_promote_run(b);
}

/* The run's list up to and including `last`, then CLEANUP. */
static size_t expected(bk_state *out, const bakeami_bake *b, bk_state last)
{
	size_t n = 0;

	for (size_t i = 0; b->states[i] != BK_CLEANUP; i++) {
		out[n++] = b->states[i];
		if (b->states[i] == last)
			break;
	}
	out[n++] = BK_CLEANUP;
	return n;
}

/* CLEANUP ran once and undid everything, newest first. */
static void assert_reaped_in_reverse(void)
{
	assert_int_equal(T.cleanups, 1);
	assert_int_equal(T.nundone, T.nmade);
	for (size_t i = 0; i < T.nmade; i++)
		assert_string_equal(T.undone[i], T.made[T.nmade - 1 - i]);
}

static void assert_visited(const bk_state *want, size_t n)
{
	assert_int_equal(T.nvisited, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(bk_state_name(T.visited[i]), bk_state_name(want[i]));
}

static void test_machine__every_transition_in_order(void **state)
{
	bakeami_bake *b = fake_run(false);
	bk_state want[MAX];
	size_t n = expected(want, b, BK_STATE_LAST);
	char line[64];

	(void)state;
	/* every state but DONE, which has no stage, and amazon-instance's three */
	assert_int_equal(n, BK_STATE_LAST - 4);
	assert_int_equal(run(b), 0);
	assert_int_equal(b->state, BK_DONE);
	assert_visited(want, n);
	assert_reaped_in_reverse();
	/* one transition event per change, each naming the old and the new state */
	assert_int_equal(T.ntransitions, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "[%s] -> [%s]", bk_state_name(want[i]),
			 bk_state_name(i + 1 < n ? want[i + 1] : BK_DONE));
		assert_true(bk_str_starts(T.transitions[i], line));
	}
	assert_int_equal(run(b), BAKEAMI_EINVALID);   /* a run runs once */
	bakeami_bake_free(b);
}

/* REUSE's fake: a hit or a re-test switches the run's list there (issue 14). */
static bk_run_kind switch_to;

static int fake_reuse(bakeami_bake *b)
{
	int rc = fake_stage(b);

	bk_run_switch(b, switch_to);
	b->stage[BK_PROMOTE] = fake_stage;   /* the switch set the real one */
	return rc;
}

static void test_machine__reuse_switches_the_list_at_reuse(void **state)
{
	static const bk_state hit[] = {BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_PROMOTE,
				       BK_CLEANUP};
	/* a failed re-test skips PROMOTE and still cleans up */
	static const bk_state retest[] = {BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE,
					  BK_CREATE_KEYPAIR, BK_CREATE_SECURITY_GROUP, BK_CREATE_INSTANCE_PROFILE,
					  BK_TEST_IMAGE, BK_CLEANUP};
	bakeami_bake *b;

	(void)state;
	switch_to = BK_RUN_REUSE;
	b = fake_run(false);
	b->stage[BK_REUSE] = fake_reuse;
	assert_int_equal(run(b), 0);
	assert_visited(hit, BK_ARRAY_SIZE(hit));
	assert_reaped_in_reverse();
	bakeami_bake_free(b);

	switch_to = BK_RUN_RETEST;
	b = fake_run(false);
	b->stage[BK_REUSE] = fake_reuse;
	T.fail_at = BK_TEST_IMAGE;
	assert_int_equal(run(b), BAKEAMI_EAWS);
	assert_visited(retest, BK_ARRAY_SIZE(retest));
	assert_reaped_in_reverse();
	bakeami_bake_free(b);
}

/* A fresh bake of either list: amazon-ebs's, or amazon-instance's. */
static bakeami_bake *fake_bake(bool instance)
{
	bakeami_bake *b = fake_run(false);
	bk_build_config cfg = {0};

	cfg.builder_type = (char *)"amazon-instance";
	if (instance)
		bk_run_use_builder_list(b, &cfg);
	return b;
}

static void test_machine__failure_at_every_state_jumps_to_cleanup(void **state)
{
	(void)state;
	for (int inst = 0; inst < 2; inst++) {
		bakeami_bake *probe = fake_bake(inst);
		bk_state list[MAX];
		size_t count = 0;

		for (size_t i = 0; probe->states[i] != BK_CLEANUP; i++)
			list[count++] = probe->states[i];
		bakeami_bake_free(probe);
		for (size_t i = 0; i < count; i++) {
			bk_state s = list[i];
			bakeami_bake *b = fake_bake(inst);
			bk_state want[MAX];
			size_t n = expected(want, b, s);

			T.fail_at = s;
			assert_int_equal(run(b), BAKEAMI_EAWS);
			assert_int_equal(b->failed_state, s);
			assert_non_null(strstr(b->error, bk_state_name(s)));
			assert_visited(want, n);
			assert_reaped_in_reverse();
			bakeami_bake_free(b);
		}
	}
}

static void test_machine__cancel_at_every_state_cleans_up_once_in_reverse(void **state)
{
	(void)state;
	for (int inst = 0; inst < 2; inst++) {
		bakeami_bake *probe = fake_bake(inst);
		bk_state list[MAX];
		size_t count = 0;

		for (size_t i = 0; probe->states[i] != BK_CLEANUP; i++)
			list[count++] = probe->states[i];
		bakeami_bake_free(probe);
		for (size_t i = 0; i < count; i++) {
			bakeami_bake *b = fake_bake(inst);
			bk_state want[MAX];
			size_t n = expected(want, b, list[i]);

			T.cancel_at = list[i];
			assert_int_equal(run(b), BAKEAMI_ECANCELLED);
			assert_int_equal(b->state, BK_DONE);
			assert_visited(want, n);   /* nothing after the cancelled state ran */
			assert_reaped_in_reverse();
			bakeami_bake_free(b);
		}
	}
}

/* amazon-instance bundles, uploads and registers where amazon-ebs creates
 * the image; every state of either list has a stage of its own. */
static void test_machine__instance_list(void **state)
{
	static const bk_state want[] = {BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE,
		BK_CREATE_KEYPAIR, BK_CREATE_SECURITY_GROUP, BK_CREATE_INSTANCE_PROFILE, BK_LAUNCH, BK_WAIT_RUNNING, BK_WAIT_SSH, BK_PROVISION,
		BK_TEST, BK_BUNDLE_VOLUME, BK_UPLOAD_BUNDLE, BK_REGISTER_IMAGE, BK_WAIT_IMAGE,
		BK_TEST_IMAGE, BK_PROMOTE, BK_CLEANUP};
	bakeami_bake *b = fake_bake(true);

	(void)state;
	assert_int_equal(run(b), 0);
	assert_visited(want, BK_ARRAY_SIZE(want));
	assert_reaped_in_reverse();
	bakeami_bake_free(b);
}

/* CLEANUP is not cancellable: a cancel while it runs stops nothing. */
static void test_machine__cancel_during_cleanup_stops_nothing(void **state)
{
	bakeami_bake *b = fake_run(false);

	(void)state;
	T.cancel_in_cleanup = true;
	assert_int_equal(run(b), 0);
	assert_reaped_in_reverse();
	bakeami_bake_free(b);
}

/* on_error_abort keeps and lists, newest first; a cancel still tidies up. */
static void test_machine__on_error_abort_keeps_and_lists(void **state)
{
	bakeami_bake *b = fake_run(false);

	(void)state;
	b->opts.on_error_abort = 1;
	T.fail_at = BK_PROVISION;
	assert_int_equal(run(b), BAKEAMI_EAWS);
	assert_int_equal(T.cleanups, 1);
	assert_int_equal(T.nundone, 0);
	assert_int_equal(b->left.count, T.nmade);
	for (size_t i = 0; i < T.nmade; i++)
		assert_string_equal(b->left.items[i], T.made[T.nmade - 1 - i]);
	bakeami_bake_free(b);

	b = fake_run(false);
	b->opts.on_error_abort = 1;
	T.cancel_at = BK_PROVISION;
	assert_int_equal(run(b), BAKEAMI_ECANCELLED);
	assert_reaped_in_reverse();
	bakeami_bake_free(b);
}

static void test_machine__a_promotion_has_its_own_list(void **state)
{
	static const bk_state want[] = {BK_VALIDATE, BK_PROMOTE, BK_CLEANUP};
	bakeami_bake *b = fake_run(true);

	(void)state;
	assert_int_equal(b->kind, BK_RUN_PROMOTION);
	assert_int_equal(bakeami_bake_run(b), BAKEAMI_EINVALID);   /* not a bake */
	assert_int_equal(b->t0, 0);                               /* and nothing faked */
	assert_int_equal(bakeami_promote_run(b), 0);
	assert_visited(want, BK_ARRAY_SIZE(want));
	assert_reaped_in_reverse();
	bakeami_bake_free(b);

	b = fake_run(true);
	T.fail_at = BK_PROMOTE;
	assert_int_equal(bakeami_promote_run(b), BAKEAMI_EAWS);
	assert_visited(want, BK_ARRAY_SIZE(want));
	bakeami_bake_free(b);

	b = fake_run(false);
	assert_int_equal(bakeami_promote_run(b), BAKEAMI_EINVALID);   /* not a promotion */
	bakeami_bake_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine__every_transition_in_order),
		cmocka_unit_test(test_machine__reuse_switches_the_list_at_reuse),
		cmocka_unit_test(test_machine__instance_list),
		cmocka_unit_test(test_machine__failure_at_every_state_jumps_to_cleanup),
		cmocka_unit_test(test_machine__cancel_at_every_state_cleans_up_once_in_reverse),
		cmocka_unit_test(test_machine__cancel_during_cleanup_stops_nothing),
		cmocka_unit_test(test_machine__on_error_abort_keeps_and_lists),
		cmocka_unit_test(test_machine__a_promotion_has_its_own_list),
	};
	return cmocka_run_group_tests_name("bake machine", tests, NULL, NULL);
}
