/*
 * machine.c - the bake's state machine: one enum, one switch, one
 * set_state(). Any failure or a cancel jumps to CLEANUP, which is not
 * cancellable and always runs.
 */
#include <stdlib.h>
#include <string.h>

#include "../verify/verify.h"
#include "bake.h"

static const char *const state_names[] = {
	"VALIDATE", "RESOLVE_SOURCE", "CREATE_KEYPAIR", "CREATE_SECURITY_GROUP",
	"LAUNCH", "WAIT_RUNNING", "WAIT_SSH", "PROVISION", "TEST",
	"CREATE_IMAGE", "WAIT_IMAGE", "TEST_IMAGE", "PROMOTE", "CLEANUP", "DONE",
};
static const char *const stage_words[] = {
	"validate", "source", "key-pair", "security-group", "launch", "launch",
	"ssh", "provision", "test", "image", "image", "test-image", "promote",
	"cleanup", "done",
};
_Static_assert(BK_ARRAY_SIZE(state_names) == BK_STATE_LAST, "state_names out of step");
_Static_assert(BK_ARRAY_SIZE(stage_words) == BK_STATE_LAST, "stage_words out of step");

const char *bk_state_name(bk_state s)
{
	return s < BK_STATE_LAST ? state_names[s] : "?";
}

const char *bk_state_stage(bk_state s)
{
	return s < BK_STATE_LAST ? stage_words[s] : "?";
}

/* Always use this to change state: it times stages, logs the transition
 * and makes CLEANUP immune to cancellation. */
void bk_set_state(bakeami_bake *b, bk_state next, int line)
{
	double now = bk_now();
	bk_state old;

	pthread_mutex_lock(&b->mu);
	old = b->state;
	if (old == next) {
		pthread_mutex_unlock(&b->mu);
		return;
	}
	b->stage_secs[old] += now - b->state_t0;
	b->state_t0 = now;
	b->state = next;
	if (next == BK_CLEANUP)
		atomic_store(&b->work_cancel.flag, 0);
	pthread_mutex_unlock(&b->mu);
	bk_emit(b, BAKEAMI_EVENT_STATE, 0, "[%s] -> [%s] (line %d)",
		bk_state_name(old), bk_state_name(next), line);
}

int bk_bake_fail(bakeami_bake *b, int rc)
{
	if (b->rc == 0) {
		b->rc = rc;
		b->failed_state = b->state;
		free(b->error);
		b->error = bk_mask(b, bk_err_msg());
	}
	return rc;
}


/* Each case is one stage; the next state on success follows. */
static bk_state step(bakeami_bake *b, int *rc)
{
	switch (b->state) {
	case BK_VALIDATE: *rc = bk_stage_validate(b); return BK_RESOLVE_SOURCE;
	case BK_RESOLVE_SOURCE: *rc = bk_stage_resolve_source(b); return BK_CREATE_KEYPAIR;
	case BK_CREATE_KEYPAIR: *rc = bk_stage_create_keypair(b); return BK_CREATE_SECURITY_GROUP;
	case BK_CREATE_SECURITY_GROUP: *rc = bk_stage_create_security_group(b); return BK_LAUNCH;
	case BK_LAUNCH: *rc = bk_stage_launch(b); return BK_WAIT_RUNNING;
	case BK_WAIT_RUNNING: *rc = bk_stage_wait_running(b); return BK_WAIT_SSH;
	case BK_WAIT_SSH: *rc = bk_stage_wait_ssh(b); return BK_PROVISION;
	case BK_PROVISION: *rc = bk_stage_provision(b); return BK_TEST;
	case BK_TEST: *rc = bk_stage_test(b); return BK_CREATE_IMAGE;
	case BK_CREATE_IMAGE: *rc = bk_stage_create_image(b); return BK_WAIT_IMAGE;
	case BK_WAIT_IMAGE: *rc = bk_stage_wait_image(b); return BK_TEST_IMAGE;
	case BK_TEST_IMAGE: *rc = bk_stage_test_image(b); return BK_PROMOTE;
	case BK_PROMOTE: *rc = bk_stage_promote(b); return BK_CLEANUP;
	case BK_CLEANUP: bk_stage_cleanup(b); *rc = 0; return BK_DONE;
	case BK_DONE:
	case BK_STATE_LAST: break;
	}
	*rc = bk_err(BAKEAMI_ERROR, "internal error: bad state %d", (int)b->state);
	return BK_CLEANUP;
}

static int run_machine(bakeami_bake *b)
{
	while (b->state != BK_DONE) {
		int rc = 0;
		bk_state next = step(b, &rc);

		if (rc == 0 && b->state != BK_CLEANUP && bk_cancelled(&b->work_cancel))
			rc = bk_err(BAKEAMI_ECANCELLED, "cancelled");
		if (rc < 0) {
			if (bk_cancelled(&b->work_cancel) || b->cancel_requested)
				rc = bk_err(BAKEAMI_ECANCELLED, "cancelled during %s",
					    bk_state_stage(b->state));
			bk_bake_fail(b, rc);
			bk_emit(b, BAKEAMI_EVENT_ERROR, 0, "%s", b->error);
			next = BK_CLEANUP;
		}
		set_state(b, next);
	}
	return b->rc;
}

/* Outputs are written after cleanup, so they report what was cleaned; a
 * manifest, as Packer's, only for a run that succeeded with an image. */
void bk_bake_finish(bakeami_bake *b)
{
	int rc = 0;

	if (b->opts.manifest_path && b->rc == 0 && b->amis.count)
		rc = bk_manifest_write(b, b->opts.manifest_path);
	if (rc < 0)
		bk_bake_fail(b, rc);
	if (b->opts.junit_path && b->tests_report &&
	    (rc = bk_junit_write(b->tests_report, b->opts.junit_path)) < 0)
		bk_bake_fail(b, rc);
	bk_result_build(b);
	if (b->opts.result_path && b->result_json &&
	    (rc = bk_file_write(b->opts.result_path, b->result_json,
				strlen(b->result_json), 0644)) < 0)
		bk_bake_fail(b, rc);
}

int bakeami_bake_run(bakeami_bake *bake)
{
	int rc;

	if (!bake)
		return bk_err(BAKEAMI_EINVALID, "bakeami_bake_run: bake is NULL");
	if (bake->state != BK_VALIDATE || bake->t0 != 0)
		return bk_err(BAKEAMI_EINVALID, "bakeami_bake_run: a bake runs once");
	bake->t0 = bake->state_t0 = bk_now();
	bake->wall0 = bk_wall();
	rc = run_machine(bake);
	bk_bake_finish(bake);
	rc = bake->rc;
	if (rc < 0)
		bk_err(rc, "%s", bake->error ? bake->error : bakeami_strerror(rc));
	return rc;
}

void bakeami_bake_cancel(bakeami_bake *bake)
{
	if (!bake)
		return;
	pthread_mutex_lock(&bake->mu);
	bake->cancel_requested = 1;
	if (bake->state != BK_CLEANUP && bake->state != BK_DONE)
		bk_cancel_set(&bake->work_cancel);
	pthread_mutex_unlock(&bake->mu);
}
