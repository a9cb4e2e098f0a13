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
	"VALIDATE", "RESOLVE_SOURCE", "REUSE", "CREATE_KEYPAIR", "CREATE_SECURITY_GROUP",
	"CREATE_INSTANCE_PROFILE", "LAUNCH", "WAIT_RUNNING", "WAIT_SSH", "PROVISION", "TEST",
	"BUNDLE_VOLUME", "UPLOAD_BUNDLE", "REGISTER_IMAGE", "CREATE_IMAGE", "WAIT_IMAGE",
	"TEST_IMAGE", "PROMOTE", "CLEANUP", "DONE",
};
static const char *const stage_words[] = {
	"validate", "source", "reuse", "key-pair", "security-group", "instance-profile", "launch",
	"launch",
	"ssh", "provision", "test", "bundle", "bundle", "image", "image", "image", "test-image",
	"promote",
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


/* The lists: each run goes through its own, in order; any failure or a
 * cancel jumps to CLEANUP. */
static const bk_state bake_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_CREATE_KEYPAIR, BK_CREATE_SECURITY_GROUP,
	BK_CREATE_INSTANCE_PROFILE, BK_LAUNCH, BK_WAIT_RUNNING, BK_WAIT_SSH, BK_PROVISION, BK_TEST, BK_CREATE_IMAGE,
	BK_WAIT_IMAGE, BK_TEST_IMAGE, BK_PROMOTE, BK_CLEANUP, BK_DONE,
};
/* amazon-instance (Packer's instance builder): bundled on the instance,
 * uploaded to S3, registered; then the same waits, tests and promotion. */
static const bk_state instance_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_CREATE_KEYPAIR, BK_CREATE_SECURITY_GROUP,
	BK_CREATE_INSTANCE_PROFILE, BK_LAUNCH, BK_WAIT_RUNNING, BK_WAIT_SSH, BK_PROVISION, BK_TEST, BK_BUNDLE_VOLUME, BK_UPLOAD_BUNDLE,
	BK_REGISTER_IMAGE, BK_WAIT_IMAGE, BK_TEST_IMAGE, BK_PROMOTE, BK_CLEANUP, BK_DONE,
};
/* communicator "none": launched, left to its user data, imaged; nothing
 * reaches it (no key pair, a group admitting nothing, only shell-local). */
static const bk_state unattended_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_CREATE_SECURITY_GROUP,
	BK_CREATE_INSTANCE_PROFILE, BK_LAUNCH, BK_WAIT_RUNNING, BK_PROVISION, BK_CREATE_IMAGE, BK_WAIT_IMAGE, BK_PROMOTE, BK_CLEANUP,
	BK_DONE,
};
static const bk_state promotion_states[] = {BK_VALIDATE, BK_PROMOTE, BK_CLEANUP, BK_DONE};
/* A tested image of the same inputs: straight to its promotion. */
static const bk_state reuse_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_PROMOTE, BK_CLEANUP, BK_DONE,
};
/* Only the tests changed: a fresh instance of the image is tested, nothing baked. */
static const bk_state retest_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_CREATE_KEYPAIR, BK_CREATE_SECURITY_GROUP,
	BK_CREATE_INSTANCE_PROFILE, BK_TEST_IMAGE, BK_PROMOTE, BK_CLEANUP, BK_DONE,
};
static const bk_state inputs_states[] = {
	BK_VALIDATE, BK_RESOLVE_SOURCE, BK_REUSE, BK_CLEANUP, BK_DONE,
};

static const bk_state *states_of(bk_run_kind kind)
{
	switch (kind) {
	case BK_RUN_PROMOTION: return promotion_states;
	case BK_RUN_REUSE: return reuse_states;
	case BK_RUN_RETEST: return retest_states;
	case BK_RUN_INPUTS: return inputs_states;
	default: return bake_states;
	}
}

void bk_run_init(bakeami_bake *b, bk_run_kind kind)
{
	static const bk_stage_fn bake_stages[BK_STATE_LAST] = {
		[BK_VALIDATE] = bk_stage_validate,
		[BK_RESOLVE_SOURCE] = bk_stage_resolve_source,
		[BK_REUSE] = bk_stage_reuse,
		[BK_CREATE_KEYPAIR] = bk_stage_create_keypair,
		[BK_CREATE_SECURITY_GROUP] = bk_stage_create_security_group,
		[BK_CREATE_INSTANCE_PROFILE] = bk_stage_create_instance_profile,
		[BK_LAUNCH] = bk_stage_launch,
		[BK_WAIT_RUNNING] = bk_stage_wait_running,
		[BK_WAIT_SSH] = bk_stage_wait_ssh,
		[BK_PROVISION] = bk_stage_provision,
		[BK_TEST] = bk_stage_test,
		[BK_BUNDLE_VOLUME] = bk_stage_bundle_volume,
		[BK_UPLOAD_BUNDLE] = bk_stage_upload_bundle,
		[BK_REGISTER_IMAGE] = bk_stage_register_image,
		[BK_CREATE_IMAGE] = bk_stage_create_image,
		[BK_WAIT_IMAGE] = bk_stage_wait_image,
		[BK_TEST_IMAGE] = bk_stage_test_image,
		[BK_PROMOTE] = bk_stage_promote,
		[BK_CLEANUP] = bk_stage_cleanup,
	};

	memcpy(b->stage, bake_stages, sizeof(b->stage));
	bk_run_switch(b, kind);
	b->state = b->states[0];
}

void bk_run_switch(bakeami_bake *b, bk_run_kind kind)
{
	b->kind = kind;
	b->states = states_of(kind);
	if (kind == BK_RUN_PROMOTION) {
		b->stage[BK_VALIDATE] = bk_stage_promote_validate;
		b->stage[BK_PROMOTE] = bk_stage_promote_existing;
	} else if (kind == BK_RUN_REUSE || kind == BK_RUN_RETEST) {
		b->stage[BK_PROMOTE] = bk_stage_promote_reused;
	} else if (kind == BK_RUN_INPUTS) {
		b->stage[BK_REUSE] = bk_stage_inputs;
	}
}

void bk_run_use_builder_list(bakeami_bake *b, const bk_build_config *cfg)
{
	if (b->kind != BK_RUN_BAKE)
		return;
	if (bk_build_is_instance(cfg))
		b->states = instance_states;
	else if (cfg->communicator_none)
		b->states = unattended_states;
}

/* The state after b->state in the run's list. */
static bk_state next_state(const bakeami_bake *b)
{
	for (size_t i = 0; b->states[i] != BK_DONE; i++)
		if (b->states[i] == b->state)
			return b->states[i + 1];
	return BK_DONE;
}

/* One state's stage; the next state on success follows. */
static bk_state step(bakeami_bake *b, int *rc)
{
	bk_stage_fn fn = b->state < BK_STATE_LAST ? b->stage[b->state] : NULL;

	if (!fn) {
		*rc = bk_err(BAKEAMI_ERROR, "internal error: no stage for state %d", (int)b->state);
		return BK_CLEANUP;
	}
	*rc = fn(b);
	if (b->state == BK_CLEANUP)
		*rc = 0;   /* CLEANUP lists its failures; it never fails the run again */
	return next_state(b);
}

static int run_machine(bakeami_bake *b)
{
	while (b->state != BK_DONE) {
		int rc = 0;
		bk_state next = step(b, &rc);

		if (rc == 0 && b->state != BK_CLEANUP && bk_cancelled(&b->work_cancel))
			rc = bk_err(BAKEAMI_ECANCELLED, "cancelled");
		if (rc < 0) {
			if (bk_cancelled(&b->work_cancel) || atomic_load(&b->cancel_requested))
				rc = bk_err(BAKEAMI_ECANCELLED, "cancelled during %s",
					    bk_state_stage(b->state));
			bk_bake_fail(b, rc);
			bk_emit(b, BAKEAMI_EVENT_ERROR, 0, "%s", b->error);
			next = b->state == BK_CLEANUP ? BK_DONE : BK_CLEANUP;
			if (next == BK_CLEANUP)
				bk_provision_error_cleanup(b);
		}
		set_state(b, next);
	}
	return b->rc;
}

/* --manifest F, unless a manifest post-processor wrote that file already. */
static bool manifest_written(const bakeami_bake *b)
{
	for (size_t i = 0; b->kind != BK_RUN_PROMOTION && i < b->cfg->post_processors_count; i++) {
		const bk_post_processor *pp = &b->cfg->post_processors[i];
		if (pp->is_manifest && strcmp(pp->manifest.output ? pp->manifest.output
					      : BK_MANIFEST_DEFAULT, b->opts.manifest_path) == 0)
			return true;
	}
	return false;
}

/* Outputs are written after cleanup, so they report what was cleaned; the
 * post-processors and a manifest, as Packer's, only for a run that
 * succeeded with an image (a promotion of an earlier image runs none). */
void bk_bake_finish(bakeami_bake *b)
{
	bool image = b->rc == 0 && b->amis.count && b->cfg;
	int rc = 0;

	if (image && b->kind != BK_RUN_PROMOTION && (rc = bk_post_process(b)) < 0) {
		bk_bake_fail(b, rc);
		bk_emit(b, BAKEAMI_EVENT_ERROR, 0, "%s (the image stays)", b->error);
	}
	if (b->opts.manifest_path && image && b->rc == 0 && !manifest_written(b)) {
		if (b->manifest_mu)   /* builds of one run append to one manifest */
			pthread_mutex_lock(b->manifest_mu);
		rc = bk_manifest_write(b, b->opts.manifest_path, bk_build_manifest(b->cfg));
		if (b->manifest_mu)
			pthread_mutex_unlock(b->manifest_mu);
		if (rc < 0)
			bk_bake_fail(b, rc);
	}
	if (b->opts.junit_path && b->tests_report &&
	    ((rc = bk_test_report_mask(b)) < 0 ||
	     (rc = bk_junit_write(b->tests_report, b->opts.junit_path)) < 0))
		bk_bake_fail(b, rc);
	bk_result_build(b);
	if (b->opts.result_path && b->result_json &&
	    (rc = bk_file_write(b->opts.result_path, b->result_json,
				strlen(b->result_json), 0644)) < 0)
		bk_bake_fail(b, rc);
}

/* Once per handle: t0 is set here and only here. */
int bk_run(bakeami_bake *b)
{
	if (b->t0 != 0)
		return bk_err(BAKEAMI_EINVALID, "%s: a %s runs once", b->kind == BK_RUN_PROMOTION
			      ? "bakeami_promote_run" : "bakeami_bake_run",
			      b->kind == BK_RUN_PROMOTION ? "promotion" : "bake");
	b->t0 = b->state_t0 = bk_now();
	b->wall0 = bk_wall();
	run_machine(b);
	bk_bake_finish(b);
	if (b->rc < 0)
		bk_err(b->rc, "%s", b->error ? b->error : bakeami_strerror(b->rc));
	return b->rc;
}

int bakeami_bake_run(bakeami_bake *bake)
{
	if (!bake)
		return bk_err(BAKEAMI_EINVALID, "bakeami_bake_run: bake is NULL");
	if (bake->kind != BK_RUN_BAKE)
		return bk_err(BAKEAMI_EINVALID, "bakeami_bake_run: a promotion runs with "
			      "bakeami_promote_run");
	return bk_run(bake);
}

/* A cancel during CLEANUP changes nothing: what the run made is being
 * removed anyway, and its outcome (an image made, or the failure) stands. */
void bakeami_bake_cancel(bakeami_bake *bake)
{
	bool in_cleanup;

	if (!bake)
		return;
	pthread_mutex_lock(&bake->mu);
	in_cleanup = bake->state == BK_CLEANUP && !atomic_load(&bake->cancel_requested);
	atomic_store(&bake->cancel_requested, 1);
	if (bake->state != BK_CLEANUP && bake->state != BK_DONE)
		bk_cancel_set(&bake->work_cancel);
	pthread_mutex_unlock(&bake->mu);
	if (in_cleanup)
		bk_warn(bake, "cancel during cleanup: cleanup is not cancellable, it finishes "
			"(within its own deadline); the run's outcome stands");
}
