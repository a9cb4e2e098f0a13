/*
 * stage_test.c - TEST and TEST_IMAGE: the machine is tested before it
 * becomes an image (tests.when before_image, the default), and/or on a
 * fresh instance launched from the new image (after_image). A failure is
 * BAKEAMI_ETESTFAIL: the bake exits 3 and CLEANUP removes the image.
 */
#include <stdlib.h>
#include <string.h>

#include "../verify/verify.h"
#include "bake.h"

static bk_test_report *report(bakeami_bake *b)
{
	if (!b->tests_report)
		b->tests_report = calloc(1, sizeof(bk_test_report));
	return b->tests_report;
}

static void table_line(const char *line, void *payload)
{
	bk_emit(payload, BAKEAMI_EVENT_STEP, 0, "%s", line);
}

static int run_tests(bakeami_bake *b, bk_ssh *ssh, const char *host, const char *phase)
{
	bk_verify_ctx ctx = {0};
	bk_test_report *r = report(b);
	size_t before = r ? r->count : 0;
	int rc;

	if (!r)
		return bk_oom();
	ctx.ssh = ssh;
	ctx.tests = b->cfg->tests;
	ctx.template_dir = b->cfg->template_dir;
	ctx.phase = phase;
	ctx.host = host;
	ctx.port = b->cfg->ssh_port;
	ctx.tunnel_port = bk_tunnel_port(b, host);
	ctx.agent_auth = b->cfg->ssh_agent_auth;
	ctx.user = b->cfg->ssh_username;
	ctx.private_key_pem = b->key ? bk_ssh_key_private_pem(b->key) : NULL;
	ctx.cancel = &b->work_cancel;
	ctx.log = bk_bake_logger(b);
	ctx.output = bk_output_line;
	ctx.output_payload = b;
	bk_step(b, "testing (%s)", phase);
	rc = bk_verify_run(r, &ctx);
	bk_test_report_table(r, table_line, b);
	if (rc == 0)
		bk_step(b, "%zu tests passed (%s)", r->count - before, phase);
	return rc;
}

int bk_stage_test(bakeami_bake *b)
{
	if (!bk_verify_wants(b->cfg->tests, "before_image"))
		return 0;
	return run_tests(b, b->ssh, b->ssh_host, "before_image");
}

/* The test instance goes as soon as the tests are done, pass or fail. */
static void drop_test_instance(bakeami_bake *b, bk_ssh **ssh)
{
	bk_reaper r = bk_bake_reaper(b, 600);

	bk_ssh_free(*ssh);
	*ssh = NULL;
	for (size_t i = 0; i < b->test_instance.volume_ids.count; i++)
		bk_lease_release(b, b->test_instance.volume_ids.items[i]);
	if (b->test_instance.id)
		bk_lease_release(b, b->test_instance.id);
	if (b->test_instance.id && bk_reap(&r, "instance", b->test_instance.id) == 0) {
		bk_ec2_instance_free(&b->test_instance);
		memset(&b->test_instance, 0, sizeof(b->test_instance));
	}
}

int bk_test_tags(bk_kv *out, const bakeami_bake *b)
{
	const bk_test_report *r = b->tests_report;
	char n[32];
	int rc;

	if (!r)
		return 0;
	snprintf(n, sizeof(n), "%zu", bk_test_report_count(r, BK_TEST_PASSED));
	if ((rc = bk_kv_set(out, "TestStatus", "passed")) < 0)
		return rc;
	return bk_kv_set(out, "TestsPassed", n);
}

/* Tags a re-test replaces on the reused image. */
static bool retest_replaces(const char *key)
{
	return bk_str_starts(key, "bakeami:inputs") || bk_str_starts(key, "bakeami:image-inputs")
		|| !strcmp(key, "TestStatus") || !strcmp(key, "TestsPassed")
		|| !strcmp(key, "bakeami:retested-by");
}

/* A passed re-test (issue 14): the reused image now answers for these
 * tests: its digest tags become this run's, with the verdict and the run
 * that gave it. The copy in memory follows, for the promotion's copies. */
static int retest_tags(bk_kv *tags, bakeami_bake *b)
{
	size_t kept = 0;
	int rc = bk_kv_set(tags, "bakeami:retested-by", b->run_id);

	for (size_t i = 0; i < b->reused->tags.count; i++)
		kept += !retest_replaces(b->reused->tags.keys[i]);
	if (rc == 0)
		rc = bk_inputs_image_tags(tags, b, kept);
	for (size_t i = 0; rc == 0 && i < tags->count; i++)
		rc = bk_kv_set(&b->reused->tags, tags->keys[i], tags->vals[i]);
	return rc;
}

/* After-image tests pass after CreateImage, so their status is a tag of
 * its own; before-image results went on with CreateImage's tags. */
static int tag_test_status(bakeami_bake *b)
{
	const char *ids[1] = {b->image_id};
	bk_kv tags = BK_KV_INIT;
	int rc = bk_test_tags(&tags, b);

	if (rc == 0 && b->kind == BK_RUN_RETEST)
		rc = retest_tags(&tags, b);
	if (rc == 0)
		rc = bk_ec2_create_tags(b->aws, NULL, ids, 1, &tags);
	bk_kv_free(&tags);
	return rc;
}

/* The phase a test instance runs: after_image, or for a re-test of a
 * reused image whichever the tests ask for (it is the same machine). */
static const char *image_phase(const bakeami_bake *b)
{
	if (bk_verify_wants(b->cfg->tests, "after_image"))
		return "after_image";
	if (b->kind == BK_RUN_RETEST && bk_verify_wants(b->cfg->tests, "before_image"))
		return "before_image";
	return NULL;
}

int bk_stage_test_image(bakeami_bake *b)
{
	const char *phase = image_phase(b);
	bk_ssh *ssh = NULL;
	char *host = NULL;
	int rc;

	if (b->image_id && !phase && b->kind == BK_RUN_RETEST)
		return tag_test_status(b);   /* the tests were removed: nothing to run */
	if (!b->image_id || !phase)
		return 0;
	rc = bk_launch(b, &b->test_instance, b->image_id, "test", "bakeami image test");
	if (rc == 0)
		rc = bk_wait_running(b, &b->test_instance, &host);
	if (rc == 0)
		rc = bk_connect(b, &ssh, host);
	if (rc == 0)
		rc = run_tests(b, ssh, host, phase);
	drop_test_instance(b, &ssh);
	free(host);
	return rc < 0 ? rc : tag_test_status(b);
}

/* Replace *s by its masked copy; NULL stays NULL. */
static int mask_field(const bakeami_bake *b, char **s)
{
	char *masked;

	if (!*s)
		return 0;
	if (!(masked = bk_mask(b, *s)))
		return bk_oom();
	free(*s);
	*s = masked;
	return 0;
}

/* A check's name, message or output may carry a sensitive value (a
 * command's output, a file's content): the JUnit file gets them masked,
 * as every other output does. */
int bk_test_report_mask(bakeami_bake *b)
{
	bk_test_report *r = b->tests_report;
	int rc = 0;

	for (size_t i = 0; r && rc == 0 && i < r->count; i++) {
		bk_test_case *c = &r->cases[i];
		rc = mask_field(b, &c->name);
		rc = rc ? rc : mask_field(b, &c->classname);
		rc = rc ? rc : mask_field(b, &c->message);
		rc = rc ? rc : mask_field(b, &c->output);
	}
	return rc;
}

void bk_test_report_release(bakeami_bake *b)
{
	bk_test_report_free(b->tests_report);
	free(b->tests_report);
	b->tests_report = NULL;
}
